//! The PC/SC harness: pcscd with vsmartcard's vpcd, a card image served by
//! `juki_reader_sim::VpcdServer` into "Virtual PCD 00 00".
//!
//! With `JUKI_PCSC=1` (scripts/test.sh) a missing pcscd or reader FAILS the tests; without it
//! they are skipped with a notice. The tests share the vpcd port, so each begins with
//! [`lock_or_skip`]: one mutex per test binary (each binary is its own process; cargo test runs
//! the binaries one after another).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{Command, Output};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use juki_host::pcsc_transport::list_readers;
use juki_reader_sim::server::{
    pcsc_required, CardStats, FIRST_READER_NAME, SECOND_READER_NAME, SECOND_READER_PORT,
};
use juki_reader_sim::VpcdServer;

/// vpcd's port for "Virtual PCD 00 00".
pub const PORT: u16 = 35963;
pub const TIMEOUT: Duration = Duration::from_secs(15);

static VPCD_PORT: Mutex<()> = Mutex::new(());

/// The vpcd port, one test at a time.
pub fn lock() -> MutexGuard<'static, ()> {
    VPCD_PORT.lock().unwrap_or_else(PoisonError::into_inner)
}

/// [`lock`] if PC/SC with the vpcd reader is there, `None` (skip the test) if not; panics if it
/// is promised (JUKI_PCSC=1) but missing.
pub fn lock_or_skip() -> Option<MutexGuard<'static, ()>> {
    let guard = lock();
    pcsc_or_skip().then_some(guard)
}

/// Whether PC/SC with the vpcd reader is there; panics if it is promised (JUKI_PCSC=1) but
/// missing.
pub fn pcsc_or_skip() -> bool {
    match list_readers() {
        Ok(readers) if readers.iter().any(|r| r.name == FIRST_READER_NAME) => true,
        other => {
            let why = match other {
                Ok(readers) => format!(
                    "pcscd has no reader {FIRST_READER_NAME:?} (readers: {:?})",
                    readers.iter().map(|r| &r.name).collect::<Vec<_>>()
                ),
                Err(e) => format!("no PC/SC: {e}"),
            };
            assert!(!pcsc_required(), "JUKI_PCSC=1 but {why}");
            eprintln!("SKIPPED: {why}; scripts/test.sh runs these tests with pcscd + vpcd");
            false
        }
    }
}

pub fn card_present(reader: &str) -> bool {
    list_readers()
        .unwrap_or_default()
        .iter()
        .any(|r| r.name == reader && r.card_present)
}

pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + TIMEOUT;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The PC/SC name and vpcd port of vpcd's slot `slot` (0: "Virtual PCD 00 00", 1: "Virtual
/// PCD 00 01").
pub fn slot(slot: u8) -> (&'static str, u16) {
    match slot {
        0 => (FIRST_READER_NAME, PORT),
        1 => (SECOND_READER_NAME, SECOND_READER_PORT),
        other => panic!("vpcd has two slots, not {other}"),
    }
}

/// A card image served in one of vpcd's readers while this lives.
pub struct Served {
    server: Option<VpcdServer>,
    reader: &'static str,
}

impl Served {
    /// The card `image` in "Virtual PCD 00 00".
    pub fn start(image: &Path) -> Served {
        Served::start_on(image, 0)
    }

    /// The card `image` in vpcd's slot `n` ([`slot`]).
    pub fn start_on(image: &Path, n: u8) -> Served {
        let (reader, port) = slot(n);
        wait_until("the reader is empty before the card goes in", || {
            !card_present(reader)
        });
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let server = VpcdServer::spawn(image, addr).expect("start the reader simulator");
        assert!(
            server.wait_connected(1, TIMEOUT),
            "the simulator never reached vpcd on port {port}"
        );
        wait_until("pcscd sees the card", || card_present(reader));
        Served {
            server: Some(server),
            reader,
        }
    }

    /// The APDUs the served card answered so far and its time on them (the benchmarks).
    pub fn card_stats(&self) -> CardStats {
        self.server
            .as_ref()
            .map(VpcdServer::card_stats)
            .unwrap_or_default()
    }

    /// Takes the card out, and waits until pcscd sees it removed.
    pub fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop().expect("stop the reader simulator");
            wait_until("pcscd sees the card removed", || !card_present(self.reader));
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(server) = self.server.take() {
            let _ = server.stop();
            // No second panic while a failed test unwinds.
            if !std::thread::panicking() {
                wait_until("pcscd sees the card removed", || !card_present(self.reader));
            }
        }
    }
}

/// `juki --reader "Virtual PCD 00 00" ARGS`, to run with [`super::run`].
pub fn juki_card_command(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_juki"));
    cmd.arg("--reader").arg(FIRST_READER_NAME).args(args);
    cmd.env("LANG", "C")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES");
    cmd
}

/// `juki --reader "Virtual PCD 00 00" ARGS` with `stdin`.
pub fn juki_card(args: &[&str], stdin: &str) -> Output {
    super::run(&mut juki_card_command(args), stdin)
}
