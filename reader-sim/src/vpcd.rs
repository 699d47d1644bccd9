//! The vsmartcard vpcd protocol, card side.
//!
//! pcscd's vpcd driver listens on TCP (port 35963 for the reader "Virtual PCD 00 00", 35964 for
//! "Virtual PCD 00 01"); the virtual card connects to it as a client. Every message in either
//! direction is a frame: a 2-byte big-endian length, then that many bytes. From vpcd:
//!
//! | body | meaning | card answers |
//! |---|---|---|
//! | `00` | power off | nothing |
//! | `01` | power on | nothing |
//! | `02` | reset | nothing |
//! | `04` | get ATR (also vpcd's card presence check) | one frame: the ATR |
//! | 2 bytes or more | a command APDU | one frame: the response APDU |
//!
//! vpcd sends no control byte but these four and never an empty frame of its own, so an empty
//! frame or another single byte can only be a host's APDU too short to be one: the card answers
//! `6700` (wrong length) rather than leave the host waiting for ever. A host's one-byte APDU
//! `00`, `01`, `02` or `04` cannot be told from a control message: that is a limit of the vpcd
//! protocol (the in-process tests cover those APDUs).
//!
//! The socket needs care: vpcd may write a frame's length and body separately, and with ordinary
//! delayed ACKs every APDU then stalls ~40 ms. [`configure_socket`] sets `TCP_NODELAY`, and
//! [`serve`] re-arms `TCP_QUICKACK` before every read (Linux clears it on its own).

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::atr::ATR;
use crate::image::ImageError;
use crate::sim::SimCard;

/// What a frame too short to be an APDU gets: the card's wrong length (`6700`).
fn sw_wrong_length() -> [u8; 2] {
    juki_card::status::Error::WrongLength.sw().to_be_bytes()
}

/// vpcd's port for the reader "Virtual PCD 00 00".
pub const DEFAULT_PORT: u16 = 35963;
/// Control byte: power off.
pub const CTRL_OFF: u8 = 0x00;
/// Control byte: power on.
pub const CTRL_ON: u8 = 0x01;
/// Control byte: reset.
pub const CTRL_RESET: u8 = 0x02;
/// Control byte: get ATR.
pub const CTRL_ATR: u8 = 0x04;
/// Largest frame body (the length field is 16 bits).
pub const MAX_FRAME: usize = 0xFFFF;

/// A message from vpcd.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message<'a> {
    /// Power off.
    PowerOff,
    /// Power on.
    PowerOn,
    /// Warm reset.
    Reset,
    /// Send the ATR.
    GetAtr,
    /// A 1-byte control this implementation does not know.
    UnknownControl(u8),
    /// An empty frame.
    Empty,
    /// A command APDU.
    Apdu(&'a [u8]),
}

impl<'a> Message<'a> {
    /// Classifies a frame body.
    pub fn parse(body: &'a [u8]) -> Self {
        match body {
            [] => Message::Empty,
            [CTRL_OFF] => Message::PowerOff,
            [CTRL_ON] => Message::PowerOn,
            [CTRL_RESET] => Message::Reset,
            [CTRL_ATR] => Message::GetAtr,
            [other] => Message::UnknownControl(*other),
            apdu => Message::Apdu(apdu),
        }
    }
}

/// Reads one frame into `body`. Returns `Ok(false)` when the peer closed the connection cleanly
/// before a new frame; a connection closed inside a frame is an `UnexpectedEof` error.
pub fn read_frame<R: Read>(reader: &mut R, body: &mut Vec<u8>) -> io::Result<bool> {
    read_frame_with(reader, body, |_| Ok(()))
}

/// [`read_frame`] from vpcd's socket, re-arming `TCP_QUICKACK` before each read as [`serve`]
/// does (Linux turns it off again after a while: without it a delayed ACK costs tens of
/// milliseconds a round trip).
pub fn read_socket_frame(stream: &mut TcpStream, body: &mut Vec<u8>) -> io::Result<bool> {
    read_frame_with(stream, body, quickack)
}

/// [`read_frame`] calling `before_read` before each read from the socket (to re-arm
/// `TCP_QUICKACK`).
fn read_frame_with<R: Read>(
    reader: &mut R,
    body: &mut Vec<u8>,
    mut before_read: impl FnMut(&R) -> io::Result<()>,
) -> io::Result<bool> {
    let mut len = [0u8; 2];
    let mut got = 0;
    while got < len.len() {
        before_read(reader)?;
        let n = match reader.read(&mut len[got..]) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            if got == 0 {
                return Ok(false);
            }
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        got += n;
    }
    let len = usize::from(u16::from_be_bytes(len));
    body.clear();
    body.resize(len, 0);
    let mut got = 0;
    while got < len {
        before_read(reader)?;
        let n = match reader.read(&mut body[got..]) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        got += n;
    }
    Ok(true)
}

/// Writes one frame (length and body in a single write). A body over [`MAX_FRAME`] bytes is
/// refused with `InvalidInput`.
pub fn write_frame<W: Write>(writer: &mut W, body: &[u8]) -> io::Result<()> {
    let len = u16::try_from(body.len()).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("vpcd frame of {} bytes is too long", body.len()),
        )
    })?;
    let mut frame = Vec::with_capacity(2 + body.len());
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(body);
    writer.write_all(&frame)?;
    writer.flush()
}

/// Sets `TCP_NODELAY` and `TCP_QUICKACK` on a fresh connection to vpcd.
pub fn configure_socket(stream: &TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    quickack(stream)
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn quickack(stream: &TcpStream) -> io::Result<()> {
    socket2::SockRef::from(stream).set_tcp_quickack(true)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn quickack(_stream: &TcpStream) -> io::Result<()> {
    Ok(())
}

/// What happened on the connection, for the caller to log. Never carries APDU data.
#[derive(Debug)]
pub enum Event<'a> {
    /// vpcd powered the card off.
    PowerOff,
    /// vpcd powered the card on.
    PowerOn,
    /// vpcd reset the card.
    Reset,
    /// An APDU was processed: its header (CLA INS P1 P2, or less if shorter), its length, and
    /// the status word answered. Reported before the response is sent.
    Apdu {
        /// CLA INS P1 P2 (fewer bytes if the APDU is shorter).
        header: &'a [u8],
        /// Length of the whole command APDU.
        len: usize,
        /// SW1 SW2 of the response.
        sw: [u8; 2],
        /// How long the card took: the card core and the save of its image, from the APDU
        /// received to the response ready (the transport's share of a round trip is the rest).
        took: std::time::Duration,
    },
    /// A frame too short to be an APDU (an unknown single byte, an empty frame): answered 6700.
    Ignored(&'static str),
    /// Saving the card image failed; the card answered `6581`.
    SaveFailed(&'a ImageError),
}

/// Serves `card` on a vpcd connection until vpcd closes it (`Ok`), `stop` is set (checked
/// between frames), or the connection fails. `on_event` sees each event.
pub fn serve(
    stream: &mut TcpStream,
    card: &mut SimCard,
    stop: &AtomicBool,
    mut on_event: impl FnMut(Event<'_>),
) -> io::Result<()> {
    let mut body = Vec::with_capacity(4096);
    loop {
        if stop.load(Ordering::SeqCst) {
            return Ok(());
        }
        if !read_socket_frame(stream, &mut body)? {
            return Ok(());
        }
        let mut report = |result: Result<(), ImageError>, event: Event<'_>| match result {
            Ok(()) => on_event(event),
            Err(e) => on_event(Event::SaveFailed(&e)),
        };
        match Message::parse(&body) {
            Message::PowerOff => report(card.power_off(), Event::PowerOff),
            Message::PowerOn => report(card.power_on(), Event::PowerOn),
            Message::Reset => report(card.reset(), Event::Reset),
            Message::GetAtr => write_frame(stream, &ATR)?,
            Message::UnknownControl(_) => {
                write_frame(stream, &sw_wrong_length())?;
                on_event(Event::Ignored("unknown control byte: answered 6700"));
            }
            Message::Empty => {
                write_frame(stream, &sw_wrong_length())?;
                on_event(Event::Ignored("empty frame: answered 6700"));
            }
            Message::Apdu(apdu) => {
                let started = std::time::Instant::now();
                let result = card.try_transmit(apdu);
                let took = started.elapsed();
                let response = match result {
                    Ok(response) => response,
                    Err(e) => {
                        on_event(Event::SaveFailed(&e));
                        crate::sim::sw_memory_failure().to_vec()
                    }
                };
                let sw = match response.as_slice() {
                    [.., sw1, sw2] => [*sw1, *sw2],
                    _ => [0, 0],
                };
                // Reported before the response goes out: whoever counts the APDUs and the
                // card's time (the benchmarks, reading them as soon as the host has its
                // answer) never misses the last one.
                on_event(Event::Apdu {
                    header: apdu.get(..4).unwrap_or(apdu),
                    len: apdu.len(),
                    sw,
                    took,
                });
                write_frame(stream, &response)?;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out at most `chunk` bytes per read.
    struct Trickle<'a> {
        data: &'a [u8],
        chunk: usize,
        reads: usize,
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.reads += 1;
            let n = self.chunk.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }

    fn frame(body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        write_frame(&mut out, body).unwrap();
        out
    }

    #[test]
    fn writes_length_then_body() {
        assert_eq!(frame(&[0x90, 0x00]), [0x00, 0x02, 0x90, 0x00]);
        assert_eq!(frame(&[]), [0x00, 0x00]);
        let long = vec![0xAB; 0x1234];
        let f = frame(&long);
        assert_eq!(f[..2], [0x12, 0x34]);
        assert_eq!(f.len(), 0x1236);
    }

    #[test]
    fn reads_frames_back_to_back() {
        let mut stream = frame(&[CTRL_ON]);
        stream.extend(frame(&[0x00, 0xA4, 0x04, 0x0C]));
        stream.extend(frame(&[CTRL_ATR]));
        let mut r = stream.as_slice();
        let mut body = Vec::new();
        assert!(read_frame(&mut r, &mut body).unwrap());
        assert_eq!(Message::parse(&body), Message::PowerOn);
        assert!(read_frame(&mut r, &mut body).unwrap());
        assert_eq!(
            Message::parse(&body),
            Message::Apdu(&[0x00, 0xA4, 0x04, 0x0C])
        );
        assert!(read_frame(&mut r, &mut body).unwrap());
        assert_eq!(Message::parse(&body), Message::GetAtr);
        assert!(!read_frame(&mut r, &mut body).unwrap(), "clean EOF");
    }

    #[test]
    fn reassembles_split_reads() {
        let apdu: Vec<u8> = (0..=255u8).cycle().take(3000).collect();
        let mut data = frame(&apdu);
        data.extend(frame(&[CTRL_RESET]));
        for chunk in [1, 2, 3, 7, 1000] {
            let mut r = Trickle {
                data: &data,
                chunk,
                reads: 0,
            };
            let mut body = Vec::new();
            assert!(read_frame(&mut r, &mut body).unwrap());
            assert_eq!(body, apdu, "chunk {chunk}");
            assert!(read_frame(&mut r, &mut body).unwrap());
            assert_eq!(Message::parse(&body), Message::Reset);
            assert!(!read_frame(&mut r, &mut body).unwrap());
            if chunk == 1 {
                assert!(r.reads > 3000);
            }
        }
    }

    #[test]
    fn zero_length_frame_is_an_empty_message() {
        let mut data = frame(&[]);
        data.extend(frame(&[CTRL_OFF]));
        let mut r = data.as_slice();
        let mut body = vec![1, 2, 3];
        assert!(read_frame(&mut r, &mut body).unwrap());
        assert!(body.is_empty());
        assert_eq!(Message::parse(&body), Message::Empty);
        assert!(read_frame(&mut r, &mut body).unwrap());
        assert_eq!(Message::parse(&body), Message::PowerOff);
    }

    #[test]
    fn largest_frame_reads_and_oversize_write_is_refused() {
        let body = vec![0x5A; MAX_FRAME];
        let data = frame(&body);
        assert_eq!(data[..2], [0xFF, 0xFF]);
        let mut r = data.as_slice();
        let mut back = Vec::new();
        assert!(read_frame(&mut r, &mut back).unwrap());
        assert_eq!(back.len(), MAX_FRAME);

        let mut out = Vec::new();
        let err = write_frame(&mut out, &vec![0; MAX_FRAME + 1]).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
        assert!(out.is_empty(), "nothing written for a refused frame");
    }

    #[test]
    fn eof_inside_a_frame_is_an_error() {
        let data = frame(&[0x00, 0xB0, 0x00, 0x00, 0x10]);
        for cut in [1, 2, 3, data.len() - 1] {
            let mut r = &data[..cut];
            let mut body = Vec::new();
            let err = read_frame(&mut r, &mut body).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof, "cut at {cut}");
        }
    }

    #[test]
    fn classifies_messages() {
        assert_eq!(Message::parse(&[0x00]), Message::PowerOff);
        assert_eq!(Message::parse(&[0x01]), Message::PowerOn);
        assert_eq!(Message::parse(&[0x02]), Message::Reset);
        assert_eq!(Message::parse(&[0x04]), Message::GetAtr);
        assert_eq!(Message::parse(&[0x03]), Message::UnknownControl(3));
        assert_eq!(Message::parse(&[0x00, 0x00]), Message::Apdu(&[0, 0]));
    }

    /// The whole protocol over a real TCP connection, with this test playing vpcd.
    #[test]
    fn serves_a_card_over_tcp() {
        use std::net::TcpListener;
        let dir = tempfile::tempdir().unwrap();
        let mut card = SimCard::create(dir.path().join("card.img")).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = AtomicBool::new(false);
        std::thread::scope(|scope| {
            let server = scope.spawn(|| {
                let mut stream = TcpStream::connect(addr).unwrap();
                configure_socket(&stream).unwrap();
                let mut events = Vec::new();
                serve(&mut stream, &mut card, &stop, |e| {
                    events.push(format!("{e:?}"));
                })
                .unwrap();
                events
            });
            let (mut vpcd, _) = listener.accept().unwrap();
            let mut body = Vec::new();
            // Length and body written separately, like vpcd.
            for msg in [&[CTRL_ON][..], &[CTRL_RESET][..], &[0x03][..], &[][..]] {
                vpcd.write_all(&(msg.len() as u16).to_be_bytes()).unwrap();
                vpcd.write_all(msg).unwrap();
            }
            // The unknown single byte and the empty frame are answered 6700.
            for _ in 0..2 {
                assert!(read_frame(&mut vpcd, &mut body).unwrap());
                assert_eq!(body, sw_wrong_length());
            }
            write_frame(&mut vpcd, &[CTRL_ATR]).unwrap();
            assert!(read_frame(&mut vpcd, &mut body).unwrap());
            assert_eq!(body, ATR);
            let select = [
                0x00, 0xA4, 0x04, 0x0C, 0x0A, 0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04,
                0x01,
            ];
            write_frame(&mut vpcd, &select).unwrap();
            assert!(read_frame(&mut vpcd, &mut body).unwrap());
            assert!(body.len() >= 2);
            write_frame(&mut vpcd, &[CTRL_OFF]).unwrap();
            drop(vpcd);
            let events = server.join().unwrap();
            let text = events.join("\n");
            assert!(text.contains("PowerOn"), "{text}");
            assert!(text.contains("Reset"), "{text}");
            assert!(text.contains("unknown control"), "{text}");
            assert!(text.contains("empty frame"), "{text}");
            assert!(
                text.contains("Apdu { header: [0, 164, 4, 12], len: 15"),
                "{text}"
            );
            assert!(text.contains("PowerOff"), "{text}");
            assert!(!text.contains("211"), "APDU data (the AID) leaked: {text}");
        });
    }
}
