//! The transport's floor: an echo card in the second virtual reader, answering every APDU at
//! once. Shared by the benchmarks of juki-cli (e2e) and juki-pkcs11 (C_Sign).

use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use juki_host::pcsc_transport::{list_readers, PcscTransport};
use juki_host::transport::Transport;
use juki_reader_sim::server::{SECOND_READER_NAME, SECOND_READER_PORT};
use juki_reader_sim::vpcd::{self, Message};

/// An echo card in "Virtual PCD 00 01": answers every APDU with its own bytes and `9000` at
/// once. Its round trip is the transport's floor.
pub struct Echo {
    stop: Arc<AtomicBool>,
    /// The live connection, shut down by `drop` to end the thread's blocking read.
    stream: Arc<Mutex<Option<TcpStream>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Echo {
    /// Serves the echo card into the second reader until dropped.
    pub fn start() -> Echo {
        let stop = Arc::new(AtomicBool::new(false));
        let stream = Arc::new(Mutex::new(None));
        let (flag, slot) = (Arc::clone(&stop), Arc::clone(&stream));
        let thread = std::thread::spawn(move || {
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, SECOND_READER_PORT));
            while !flag.load(Ordering::SeqCst) {
                let Ok(mut conn) = TcpStream::connect(addr) else {
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                };
                vpcd::configure_socket(&conn).unwrap();
                *slot.lock().unwrap() = conn.try_clone().ok();
                let mut body = Vec::new();
                while let Ok(true) = vpcd::read_socket_frame(&mut conn, &mut body) {
                    let answer = match Message::parse(&body) {
                        Message::GetAtr => juki_reader_sim::ATR.to_vec(),
                        Message::Apdu(apdu) => [apdu, &[0x90, 0x00]].concat(),
                        Message::PowerOn | Message::PowerOff | Message::Reset => continue,
                        _ => vec![0x67, 0x00],
                    };
                    if vpcd::write_frame(&mut conn, &answer).is_err() {
                        break;
                    }
                }
            }
        });
        Echo {
            stop,
            stream,
            thread: Some(thread),
        }
    }
}

impl Drop for Echo {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(conn) = self.stream.lock().unwrap().as_ref() {
            let _ = conn.shutdown(std::net::Shutdown::Both);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The trivial echo APDU.
pub const ECHO: [u8; 4] = [0x00, 0x00, 0x00, 0x00];

/// The echo card in its reader, and a connection to it.
pub fn echo_card() -> (Echo, PcscTransport) {
    let echo = Echo::start();
    let deadline = Instant::now() + Duration::from_secs(15);
    while !list_readers()
        .unwrap_or_default()
        .iter()
        .any(|r| r.name == SECOND_READER_NAME && r.card_present)
    {
        assert!(
            Instant::now() < deadline,
            "pcscd does not see the echo card"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut t = PcscTransport::connect(Some(SECOND_READER_NAME)).unwrap();
    assert_eq!(t.transmit(&ECHO).unwrap(), [0, 0, 0, 0, 0x90, 0x00]);
    (echo, t)
}
