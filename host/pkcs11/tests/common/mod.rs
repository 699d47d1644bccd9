//! The harness of these tests: pcscd with vsmartcard's vpcd and the card image served into
//! "Virtual PCD 00 00" (as host/cli/tests/common/pcsc.rs, without the `juki` binary), an issued
//! card with JPKI certificates (host/cli/tests/common/world.rs), and the built module.
#![allow(dead_code)]

use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
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
