//! The consistency checker as the network tests use it: a counter, everything delivered,
//! against the national register's residents of its municipality.

use std::path::{Path, PathBuf};

use juki_counter::consistency::{compare, snapshot};
use juki_counter::CounterDb;
use juki_host::resident_code::{check_digit, ResidentCode};
use juki_net::local::LocalNetwork;
use juki_net::pki::Role;

/// The purpose 日本年金機構's certificate names in these tests.
pub const PURPOSE: &str = "年金・恩給の現況確認";

/// The valid 住民票コード numbered `n` (its check digit computed).
pub fn code(n: u64) -> ResidentCode {
    let ten = format!("{n:010}");
    let mut d = [0u8; 10];
    for (x, c) in d.iter_mut().zip(ten.bytes()) {
        *x = c - b'0';
    }
    ResidentCode::parse(&format!("{ten}{}", check_digit(&d))).unwrap()
}

/// 日本年金機構's node directory on `net` (issued on first use), for [`PURPOSE`].
pub fn pension(net: &LocalNetwork) -> PathBuf {
    net.node(
        "pension",
        &Role::Agency {
            name: "日本年金機構".into(),
            purposes: vec![PURPOSE.into()],
        },
    )
    .unwrap()
}

/// Asserts that the counter whose data is in `data` agrees with the national register.
pub fn agrees(net: &LocalNetwork, data: &Path) {
    let held = snapshot(&CounterDb::open(data).unwrap()).unwrap();
    assert_eq!(held.waiting, 0, "everything delivered before comparing");
    let national = net
        .block_on(net.register().residents_of(&held.municipality))
        .unwrap();
    let mismatches = compare(&held.residents, &national);
    assert!(
        mismatches.is_empty(),
        "{}: {mismatches:?}",
        held.municipality
    );
}
