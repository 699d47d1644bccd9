//! Every layer creates its keys and records owner-only (0600 files in 0700 directories), through
//! the middleware's one private-directory helper.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use juki_counter::CounterDb;
use juki_host::authority::{RootAuthority, ROOT_KEY};
use juki_host::date::Date;
use juki_host::resident::MunicipalityCode;
use juki_jpki::ca::JpkiCa;

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn key_and_record_directories_are_owner_only() {
    let base = tempfile::tempdir().unwrap();
    let root = RootAuthority::generate();
    // Parents created on the way are private too.
    let root_dir = base.path().join("authority/root");
    let (key, public) = root.save(&root_dir).unwrap();
    assert_eq!(mode(&root_dir), 0o700, "root directory");
    assert_eq!(mode(&base.path().join("authority")), 0o700, "its parent");
    assert_eq!(mode(&key), 0o600);
    assert_eq!(key, root_dir.join(ROOT_KEY));
    assert_eq!(mode(&public), 0o644, "the public key stays readable");

    let cred = root
        .issue_counter_credential(
            &MunicipalityCode::parse("131016").unwrap(),
            "千代田区",
            Date::from_ymd(2026, 4, 1).unwrap(),
            5,
        )
        .unwrap();
    let cred_dir = base.path().join("chiyoda");
    let (ckey, _) = cred.save(&cred_dir).unwrap();
    assert_eq!(mode(&cred_dir), 0o700, "counter credential directory");
    assert_eq!(mode(&ckey), 0o600);

    let ca_dir = base.path().join("ca");
    JpkiCa::init(&ca_dir, 1_796_050_800).unwrap();
    assert_eq!(mode(&ca_dir), 0o700, "CA directory");
    for file in ["sign-ca.key", "auth-ca.key", "ca.db"] {
        assert_eq!(mode(&ca_dir.join(file)), 0o600, "{file}");
    }

    let data = base.path().join("counter-data");
    let db = CounterDb::open(&data).unwrap();
    assert_eq!(mode(&data), 0o700, "counter data directory");
    assert_eq!(mode(db.path()), 0o600);
}

#[test]
fn an_existing_directory_open_to_others_is_tightened() {
    let base = tempfile::tempdir().unwrap();
    for (name, open) in [
        ("root", 0o755),
        ("cred", 0o777),
        ("ca", 0o750),
        ("data", 0o711),
    ] {
        let dir = base.path().join(name);
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(open)).unwrap();
        assert_eq!(mode(&dir), open);
    }
    let root = RootAuthority::generate();
    root.save(&base.path().join("root")).unwrap();
    root.issue_counter_credential(
        &MunicipalityCode::parse("131016").unwrap(),
        "千代田区",
        Date::from_ymd(2026, 4, 1).unwrap(),
        5,
    )
    .unwrap()
    .save(&base.path().join("cred"))
    .unwrap();
    JpkiCa::init(&base.path().join("ca"), 1_796_050_800).unwrap();
    CounterDb::open(&base.path().join("data")).unwrap();
    for name in ["root", "cred", "ca", "data"] {
        assert_eq!(mode(&base.path().join(name)), 0o700, "{name}");
    }
    // Already private: left as it is.
    let tight = base.path().join("tight");
    fs::create_dir(&tight).unwrap();
    fs::set_permissions(&tight, fs::Permissions::from_mode(0o500)).unwrap();
    juki_host::private_dir::create(&tight).unwrap();
    assert_eq!(mode(&tight), 0o500);
    fs::set_permissions(&tight, fs::Permissions::from_mode(0o700)).unwrap();
    // A file where the directory should be is an error, and stays a file.
    let file = base.path().join("file");
    fs::write(&file, b"x").unwrap();
    assert!(juki_host::private_dir::create(&file).is_err());
    assert!(file.is_file());
}
