//! The card served to vpcd from a background thread, for the binary and for integration tests.

use std::io;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::image::ImageError;
use crate::sim::SimCard;
use crate::vpcd::{self, Event};

/// Environment variable set to `1` by `scripts/test.sh` when it made sure pcscd with vpcd runs:
/// tests that need the PC/SC stack must then fail, not skip, when it is missing.
pub const PCSC_ENV: &str = "JUKI_PCSC";

/// True when the PC/SC stack (pcscd with vpcd) is promised by the environment ([`PCSC_ENV`]).
pub fn pcsc_required() -> bool {
    std::env::var(PCSC_ENV).is_ok_and(|v| v == "1")
}

/// vpcd's port for the reader "Virtual PCD 00 01" (the second virtual reader).
pub const SECOND_READER_PORT: u16 = 35964;
/// PC/SC name of the reader behind vpcd port 35963.
pub const FIRST_READER_NAME: &str = "Virtual PCD 00 00";
/// PC/SC name of the reader behind vpcd port 35964.
pub const SECOND_READER_NAME: &str = "Virtual PCD 00 01";

/// How long to wait between attempts to reach vpcd.
const RETRY: Duration = Duration::from_millis(100);

/// A connection-level event, for logging. Never carries APDU data.
#[derive(Debug)]
pub enum ServerEvent<'a> {
    /// Connected to vpcd: the card is in the reader.
    Connected(SocketAddr),
    /// vpcd is not reachable (yet); retrying. Reported once per outage.
    Unreachable(&'a io::Error),
    /// The connection ended (vpcd closed it, or an error): the card left the reader.
    Disconnected(Option<&'a io::Error>),
    /// Something happened on the connection.
    Card(Event<'a>),
}

/// Why the server could not start or ended badly.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The card image could not be opened.
    #[error(transparent)]
    Image(#[from] ImageError),
    /// The server thread could not be started.
    #[error("cannot start the reader simulator thread: {0}")]
    Spawn(io::Error),
    /// The server thread panicked.
    #[error("the reader simulator thread panicked")]
    Panicked,
}

struct Shared {
    stop: AtomicBool,
    connections: AtomicU64,
    /// APDUs answered so far, and the card's time on them in nanoseconds ([`CardStats`]).
    apdus: AtomicU64,
    busy_nanos: AtomicU64,
    /// A clone of the live connection, so `stop` can shut it down and unblock the reader.
    stream: Mutex<Option<TcpStream>>,
}

/// APDUs answered by a served card and its time on them ([`VpcdServer::card_stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CardStats {
    /// Command APDUs answered.
    pub apdus: u64,
    /// The card's time on them: card core and image saves, no transport.
    pub busy: Duration,
}

impl std::ops::Sub for CardStats {
    type Output = CardStats;
    /// What happened between two readings.
    fn sub(self, earlier: CardStats) -> CardStats {
        CardStats {
            apdus: self.apdus.saturating_sub(earlier.apdus),
            busy: self.busy.saturating_sub(earlier.busy),
        }
    }
}

/// A simulated card connected to vpcd by a background thread.
///
/// The thread connects to vpcd at `addr` (retrying while it is not reachable), serves the card
/// until the connection ends, powers the card off (the card left the reader) and reconnects:
/// a restarted pcscd finds the card again. [`VpcdServer::stop`] closes the connection, so pcscd
/// sees the card removed, and gives the card back.
///
/// Dropping the server without [`VpcdServer::stop`] (e.g. a test that panicked) stops it too,
/// so the card does not linger in the reader.
pub struct VpcdServer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<SimCard>>,
}

impl VpcdServer {
    /// Opens the card image at `image` and serves it to vpcd at `addr`. Events are dropped.
    pub fn spawn(image: impl Into<PathBuf>, addr: SocketAddr) -> Result<Self, ServerError> {
        let card = SimCard::open(image)?;
        Self::spawn_card(card, addr, |_| {})
    }

    /// Serves `card` to vpcd at `addr`, calling `on_event` (in the server thread) for each
    /// event.
    pub fn spawn_card(
        card: SimCard,
        addr: SocketAddr,
        on_event: impl FnMut(ServerEvent<'_>) + Send + 'static,
    ) -> Result<Self, ServerError> {
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            connections: AtomicU64::new(0),
            apdus: AtomicU64::new(0),
            busy_nanos: AtomicU64::new(0),
            stream: Mutex::new(None),
        });
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("juki-vpcd".into())
            .spawn(move || run(card, addr, &thread_shared, on_event))
            .map_err(ServerError::Spawn)?;
        Ok(VpcdServer {
            shared,
            thread: Some(thread),
        })
    }

    /// The APDUs the card answered so far and the time it spent on them: what the card itself
    /// costs an operation, apart from the transport (the performance benchmarks).
    pub fn card_stats(&self) -> CardStats {
        CardStats {
            apdus: self.shared.apdus.load(Ordering::SeqCst),
            busy: Duration::from_nanos(self.shared.busy_nanos.load(Ordering::SeqCst)),
        }
    }

    /// How many times the card connected to vpcd so far.
    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::SeqCst)
    }

    /// Waits until the card is connected to vpcd (at least `n` connections so far), at most
    /// `timeout`. Returns whether it is.
    pub fn wait_connected(&self, n: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while self.connections() < n {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        true
    }

    /// Stops the server: closes the connection (pcscd sees the card removed), waits for the
    /// thread and gives back the card, powered off. Its image holds every change answered.
    pub fn stop(mut self) -> Result<SimCard, ServerError> {
        self.halt().ok_or(ServerError::Panicked)
    }

    fn halt(&mut self) -> Option<SimCard> {
        self.shared.stop.store(true, Ordering::SeqCst);
        shutdown(&self.shared);
        self.thread.take()?.join().ok()
    }
}

impl Drop for VpcdServer {
    fn drop(&mut self) {
        self.halt();
    }
}

/// Serves `card` to vpcd at `addr` in the calling thread, forever (reconnecting whenever the
/// connection ends). This is the binary's main loop.
pub fn run_forever(card: SimCard, addr: SocketAddr, on_event: impl FnMut(ServerEvent<'_>)) {
    let shared = Shared {
        stop: AtomicBool::new(false),
        connections: AtomicU64::new(0),
        apdus: AtomicU64::new(0),
        busy_nanos: AtomicU64::new(0),
        stream: Mutex::new(None),
    };
    run(card, addr, &shared, on_event);
}

fn shutdown(shared: &Shared) {
    let guard = shared.stream.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(stream) = guard.as_ref() {
        let _ = stream.shutdown(Shutdown::Both);
    }
}

fn run(
    mut card: SimCard,
    addr: SocketAddr,
    shared: &Shared,
    mut on_event: impl FnMut(ServerEvent<'_>),
) -> SimCard {
    let mut reported_outage = false;
    while !shared.stop.load(Ordering::SeqCst) {
        let mut stream = match TcpStream::connect_timeout(&addr, Duration::from_secs(2))
            .and_then(|s| vpcd::configure_socket(&s).map(|()| s))
        {
            Ok(stream) => stream,
            Err(e) => {
                if !reported_outage {
                    on_event(ServerEvent::Unreachable(&e));
                    reported_outage = true;
                }
                sleep_unless_stopped(shared, RETRY);
                continue;
            }
        };
        reported_outage = false;
        {
            let mut slot = shared.stream.lock().unwrap_or_else(PoisonError::into_inner);
            *slot = stream.try_clone().ok();
        }
        // `stop` may have run between the check above and registering the stream.
        if shared.stop.load(Ordering::SeqCst) {
            *shared.stream.lock().unwrap_or_else(PoisonError::into_inner) = None;
            break;
        }
        shared.connections.fetch_add(1, Ordering::SeqCst);
        on_event(ServerEvent::Connected(addr));
        let result = vpcd::serve(&mut stream, &mut card, &shared.stop, |e| {
            if let Event::Apdu { took, .. } = &e {
                shared.apdus.fetch_add(1, Ordering::SeqCst);
                let nanos = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
                shared.busy_nanos.fetch_add(nanos, Ordering::SeqCst);
            }
            on_event(ServerEvent::Card(e));
        });
        let _ = stream.shutdown(Shutdown::Both);
        *shared.stream.lock().unwrap_or_else(PoisonError::into_inner) = None;
        // Out of the reader: no power.
        if let Err(e) = card.power_off() {
            on_event(ServerEvent::Card(Event::SaveFailed(&e)));
        }
        match &result {
            Err(e) if !shared.stop.load(Ordering::SeqCst) => {
                on_event(ServerEvent::Disconnected(Some(e)));
            }
            _ => on_event(ServerEvent::Disconnected(None)),
        }
        if !shared.stop.load(Ordering::SeqCst) {
            sleep_unless_stopped(shared, RETRY);
        }
    }
    card
}

fn sleep_unless_stopped(shared: &Shared, total: Duration) {
    let deadline = Instant::now() + total;
    while !shared.stop.load(Ordering::SeqCst) {
        let now = Instant::now();
        if now >= deadline {
            return;
        }
        std::thread::sleep((deadline - now).min(Duration::from_millis(20)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vpcd::{read_frame, write_frame, CTRL_ATR, CTRL_ON};
    use crate::ATR;
    use std::net::TcpListener;

    fn card(dir: &tempfile::TempDir) -> SimCard {
        SimCard::create(dir.path().join("card.img")).unwrap()
    }

    /// This test plays vpcd: asks for the ATR like vpcd's presence check does.
    fn get_atr(vpcd: &mut TcpStream) -> Vec<u8> {
        write_frame(vpcd, &[CTRL_ATR]).unwrap();
        let mut body = Vec::new();
        assert!(read_frame(vpcd, &mut body).unwrap());
        body
    }

    #[test]
    fn reconnects_after_vpcd_drops_the_connection() {
        let dir = tempfile::tempdir().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = VpcdServer::spawn_card(card(&dir), addr, |_| {}).unwrap();

        let (mut vpcd, _) = listener.accept().unwrap();
        assert!(server.wait_connected(1, Duration::from_secs(5)));
        write_frame(&mut vpcd, &[CTRL_ON]).unwrap();
        assert_eq!(get_atr(&mut vpcd), ATR);
        drop(vpcd); // pcscd went away

        let (mut vpcd, _) = listener.accept().unwrap();
        assert!(server.wait_connected(2, Duration::from_secs(5)));
        assert_eq!(get_atr(&mut vpcd), ATR);

        // stop() closes the connection: vpcd reads EOF, i.e. the card was removed.
        let card = server.stop().unwrap();
        let mut body = Vec::new();
        assert!(!read_frame(&mut vpcd, &mut body).unwrap());
        assert!(!card.is_powered(), "a card out of the reader has no power");
    }

    #[test]
    fn counts_the_apdus_and_the_cards_time_on_them() {
        let dir = tempfile::tempdir().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = VpcdServer::spawn_card(card(&dir), addr, |_| {}).unwrap();
        let (mut vpcd, _) = listener.accept().unwrap();
        write_frame(&mut vpcd, &[CTRL_ON]).unwrap();
        assert_eq!(get_atr(&mut vpcd), ATR, "control frames are not APDUs");
        assert_eq!(server.card_stats(), CardStats::default());
        let before = server.card_stats();
        let mut busy = Duration::ZERO;
        for n in 1..=3 {
            // SELECT of the 住基AP (a blank card knows its applications).
            write_frame(&mut vpcd, &[0x00, 0xA4, 0x04, 0x0C, 0x01, 0xD3]).unwrap();
            let mut body = Vec::new();
            assert!(read_frame(&mut vpcd, &mut body).unwrap());
            // Counted before the answer went out: read as soon as it is here, with no wait,
            // the count already has this APDU and the card's time on it.
            let used = server.card_stats() - before;
            assert_eq!(
                used.apdus, n,
                "APDU {n} counted by the time its answer arrives"
            );
            assert!(used.busy > busy, "APDU {n}: its time counted");
            busy = used.busy;
        }
        assert!(busy < Duration::from_secs(5));
        server.stop().unwrap();
    }

    #[test]
    fn waits_for_vpcd_and_stops_while_waiting() {
        let dir = tempfile::tempdir().unwrap();
        // A port with nobody listening (yet).
        let addr = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let server = VpcdServer::spawn_card(card(&dir), addr, move |e| {
            let _ = tx.send(format!("{e:?}"));
        })
        .unwrap();
        let first = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert!(first.starts_with("Unreachable"), "{first}");
        assert!(!server.wait_connected(1, Duration::from_millis(300)));
        // Reported once per outage, not on every retry.
        assert!(rx.try_recv().is_err());

        let started = Instant::now();
        server.stop().unwrap();
        assert!(started.elapsed() < Duration::from_secs(2));
    }
}
