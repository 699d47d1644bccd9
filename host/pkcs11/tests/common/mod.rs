//! The harness of these tests: pcscd with vsmartcard's vpcd and the card image served into
//! "Virtual PCD 00 00" (as host/cli/tests/common/pcsc.rs, without the `juki` binary), an issued
//! card with JPKI certificates (host/cli/tests/common/world.rs), and the built module.
#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use juki_host::pcsc_transport::list_readers;
use juki_reader_sim::server::{pcsc_required, FIRST_READER_NAME};
use juki_reader_sim::VpcdServer;

#[allow(dead_code)]
#[path = "../../../cli/tests/common/world.rs"]
pub mod world;

const PORT: u16 = 35963;

static VPCD: Mutex<()> = Mutex::new(());

/// A consumer this test needs is not installed (`what`: which, and its Debian package). Under
/// `JUKI_PCSC=1` (scripts/test.sh, which installs them all) the test fails; otherwise that part
/// is skipped with a notice.
#[track_caller]
pub fn skip_without(what: &str) {
    assert!(!pcsc_required(), "JUKI_PCSC=1 but {what}");
    eprintln!("SKIPPED: {what}");
}

/// Whether `program` can be run (it is on the PATH or a path that exists and executes).
pub fn installed(program: impl AsRef<std::ffi::OsStr>) -> bool {
    Command::new(program)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok()
}

/// A new NSS database in `dir/nssdb` with an empty password and this module added with
/// `modutil -add juki` (package libnss3-tools): its `sql:` path, or `None` (skipped, see
/// [`skip_without`]) without NSS's tools.
pub fn nss_db(dir: &Path) -> Option<String> {
    if !installed("certutil") || !installed("modutil") {
        skip_without("no certutil/modutil (package libnss3-tools)");
        return None;
    }
    let db = dir.join("nssdb");
    std::fs::create_dir(&db).unwrap();
    let db = format!("sql:{}", db.to_str().unwrap());
    let (ok, text) = run(Command::new("certutil").args(["-N", "-d", &db, "--empty-password"]));
    assert!(ok, "certutil -N: {text}");
    let (ok, text) = run(Command::new("modutil")
        .args(["-dbdir", &db, "-add", "juki", "-libfile"])
        .arg(module())
        .arg("-force"));
    assert!(ok && text.contains("added"), "modutil -add: {text}");
    Some(db)
}

/// The vpcd port for this test, or `None` (skipped) without PC/SC.
pub fn lock_or_skip() -> Option<MutexGuard<'static, ()>> {
    let guard = VPCD.lock().unwrap_or_else(PoisonError::into_inner);
    match list_readers() {
        Ok(r) if r.iter().any(|r| r.name == FIRST_READER_NAME) => Some(guard),
        other => {
            assert!(
                !pcsc_required(),
                "JUKI_PCSC=1 but no vpcd reader: {other:?}"
            );
            eprintln!("SKIPPED: no pcscd with the vpcd reader");
            None
        }
    }
}

pub fn card_present() -> bool {
    list_readers()
        .unwrap_or_default()
        .iter()
        .any(|r| r.name == FIRST_READER_NAME && r.card_present)
}

pub fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The card image in the virtual reader while this lives.
pub struct Served(Option<VpcdServer>);

impl Served {
    pub fn start(image: &Path) -> Served {
        wait_until("the reader is empty", || !card_present());
        let server = VpcdServer::spawn(image, SocketAddr::from((Ipv4Addr::LOCALHOST, PORT)))
            .expect("start the reader simulator");
        assert!(server.wait_connected(1, Duration::from_secs(15)));
        wait_until("pcscd sees the card", card_present);
        Served(Some(server))
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(server) = self.0.take() {
            let _ = server.stop();
            if !std::thread::panicking() {
                wait_until("pcscd sees the card removed", || !card_present());
            }
        }
    }
}

/// libjuki_pkcs11.so as cargo built it with this test: next to the test binary
/// (target/debug/deps; `cargo test` copies it up to target/debug only on some builds).
pub fn module() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let deps = exe.parent().unwrap();
    [deps, deps.parent().unwrap()]
        .iter()
        .map(|d| d.join("libjuki_pkcs11.so"))
        .find(|so| so.exists())
        .expect("libjuki_pkcs11.so built next to the test binary")
}

impl Served {
    /// The APDUs the served card answered and the time it spent on them, so far.
    pub fn card_stats(&self) -> juki_reader_sim::server::CardStats {
        self.0
            .as_ref()
            .map(VpcdServer::card_stats)
            .unwrap_or_default()
    }

    /// Takes the card out, and waits until pcscd sees it removed.
    pub fn stop(&mut self) {
        if let Some(server) = self.0.take() {
            server.stop().expect("stop the reader simulator");
            wait_until("pcscd sees the card removed", || !card_present());
        }
    }
}

/// Runs `command` to its end: success and its combined output (stdout, then stderr).
#[track_caller]
pub fn run(command: &mut Command) -> (bool, String) {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{command:?} could not run: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// Runs this workspace's `juki ARGS` (package juki-cli) with English messages and no standard
/// input. Cargo builds a package's binaries only for that package's own tests, so the binary is
/// built here (`cargo build -p juki-cli --bin juki`, nothing to do when it is current) into the
/// target directory and profile of this test.
pub fn juki(args: &[&str]) -> Output {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let mut build = Command::new(env!("CARGO"));
    build.args(["build", "--quiet", "-p", "juki-cli", "--bin", "juki"]);
    if profile_dir.file_name().is_some_and(|n| n == "release") {
        build.arg("--release");
    }
    // Without the variables cargo set for this test (CARGO_MANIFEST_DIR, CARGO_PKG_NAME, …):
    // build scripts watch some of them, and a changed value would rebuild half the workspace
    // now and again for the next `cargo test`.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if [
            "CARGO_MANIFEST_",
            "CARGO_PKG_",
            "CARGO_CRATE_",
            "CARGO_BIN_",
        ]
        .iter()
        .any(|p| key.starts_with(p))
            || ["CARGO_PRIMARY_PACKAGE", "CARGO_TARGET_TMPDIR", "OUT_DIR"].contains(&&*key)
        {
            build.env_remove(&*key);
        }
    }
    let (ok, text) = run(&mut build);
    assert!(ok, "cargo build -p juki-cli: {text}");
    let bin = profile_dir.join("juki");
    assert!(bin.exists(), "{} not built", bin.display());
    Command::new(bin)
        .args(args)
        .env("LANG", "C")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run juki")
}
