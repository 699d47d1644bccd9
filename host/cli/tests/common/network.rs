//! The consistency checker as the network tests use it: a counter, everything delivered,
//! against the national register's residents of its municipality.

use std::path::Path;

use juki_counter::consistency::{compare, snapshot};
use juki_counter::CounterDb;
use juki_net::local::LocalNetwork;

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
