//! Target `vpcd_frames`: the vpcd frame reader (`juki_reader_sim::vpcd::read_frame`) over a
//! stream that arrives in pieces, `Message::parse`, and what the simulator does with each frame
//! (power off/on, reset, ATR, a too-short frame answered `6700`, an APDU to the card), answered
//! with `write_frame`. `juki_reader_sim::vpcd::serve` itself needs a `TcpStream` and a card
//! image file; this follows it frame by frame on the in-memory card of [`crate::sim`].
//!
//! Input: byte 0 = how the stream arrives: bits 0–5 + 1 = bytes per read (1 to 64), bit 6 =
//! every other read is first interrupted (`ErrorKind::Interrupted`), bit 7 = blank card (else
//! the issued sample card). The rest is the stream from vpcd: frames of a 2-byte big-endian
//! length and a body.

use std::io::{self, Read};

use juki_reader_sim::vpcd::{read_frame, write_frame, Message, MAX_FRAME};
use juki_reader_sim::ATR;

use crate::sim::Session;

/// A reader that hands out the stream in pieces, optionally interrupted.
pub struct Trickle<'a> {
    data: &'a [u8],
    chunk: usize,
    interrupt: bool,
    reads: usize,
}

impl<'a> Trickle<'a> {
    /// `data`, at most `chunk` bytes per read, every other read interrupted if `interrupt`.
    pub fn new(data: &'a [u8], chunk: usize, interrupt: bool) -> Self {
        Trickle {
            data,
            chunk: chunk.max(1),
            interrupt,
            reads: 0,
        }
    }

    /// Bytes not read yet.
    pub fn remaining(&self) -> usize {
        self.data.len()
    }
}

impl Read for Trickle<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reads += 1;
        if self.interrupt && self.reads % 2 == 1 {
            return Err(io::ErrorKind::Interrupted.into());
        }
        let n = self.chunk.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// What the simulator answers a frame that is no APDU: the card's wrong length (`6700`).
fn sw_wrong_length() -> [u8; 2] {
    juki_card::status::Error::WrongLength.sw().to_be_bytes()
}

/// At most this many frames of one input are handled.
pub const MAX_FRAMES: usize = 512;

/// Target `vpcd_frames` (see the module documentation). Invariants: no panic; `read_frame`
/// fails only with `UnexpectedEof`, ends cleanly only at a frame boundary, and reads every
/// frame whole; `Message::parse` tells APDUs (2 bytes or more), control bytes and empty frames
/// apart; every APDU and every too-short frame gets exactly one response frame, and an unknown
/// control byte or an empty frame gets `6700`; the responses read back with `read_frame` are
/// the ones written; every card response meets the invariants of [`Session`].
pub fn vpcd_frames(data: &[u8]) {
    let Some((&mode, stream)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(mode & 0x3F) + 1;
    let mut reader = Trickle::new(stream, chunk, mode & 0x40 != 0);
    let start = if mode & 0x80 != 0 {
        crate::seq::Start::Blank
    } else {
        crate::seq::Start::Issued
    };
    let mut session = Session::new(start, data);
    let mut powered = true;
    let mut body = Vec::new();
    let mut consumed = 0usize;
    let mut out = Vec::new();
    let mut expected: Vec<Vec<u8>> = Vec::new();
    for _ in 0..MAX_FRAMES {
        match read_frame(&mut reader, &mut body) {
            Ok(false) => {
                assert_eq!(reader.remaining(), 0, "clean end of stream before its end");
                assert_eq!(consumed, stream.len(), "clean end of stream inside a frame");
                break;
            }
            Err(e) => {
                assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof, "read_frame: {e}");
                assert_eq!(
                    reader.remaining(),
                    0,
                    "read_frame failed before the end: {e}"
                );
                assert!(consumed < stream.len(), "EOF error at a frame boundary");
                break;
            }
            Ok(true) => {}
        }
        assert!(body.len() <= MAX_FRAME);
        let header = stream
            .get(consumed..consumed + 2)
            .expect("a frame read has a length");
        assert_eq!(
            usize::from(u16::from_be_bytes([header[0], header[1]])),
            body.len(),
            "frame body of the wrong length"
        );
        assert_eq!(
            &stream[consumed + 2..consumed + 2 + body.len()],
            body.as_slice(),
            "frame body differs from the stream"
        );
        consumed += 2 + body.len();

        let response: Option<Vec<u8>> = match Message::parse(&body) {
            Message::PowerOff => {
                assert_eq!(body, [0x00]);
                session.power_cycle();
                powered = false;
                None
            }
            Message::PowerOn => {
                assert_eq!(body, [0x01]);
                if powered {
                    session.power_cycle();
                }
                powered = true;
                None
            }
            Message::Reset => {
                assert_eq!(body, [0x02]);
                if powered {
                    session.reset();
                }
                powered = true;
                None
            }
            Message::GetAtr => {
                assert_eq!(body, [0x04]);
                Some(ATR.to_vec())
            }
            Message::UnknownControl(b) => {
                assert_eq!(body, [b]);
                assert!(!matches!(b, 0x00 | 0x01 | 0x02 | 0x04));
                Some(sw_wrong_length().to_vec())
            }
            Message::Empty => {
                assert!(body.is_empty());
                Some(sw_wrong_length().to_vec())
            }
            Message::Apdu(apdu) => {
                assert!(apdu.len() >= 2 && apdu == body.as_slice());
                // SimCard::try_transmit powers an unpowered card on (its volatile state went at
                // the power-off).
                powered = true;
                Some(session.transmit(apdu))
            }
        };
        if let Some(r) = response {
            write_frame(&mut out, &r).expect("a response frame is written");
            expected.push(r);
        }
    }
    // What the card side wrote reads back, frame by frame.
    let mut back = out.as_slice();
    let mut frame = Vec::new();
    for want in &expected {
        assert!(read_frame(&mut back, &mut frame).expect("response frame reads back"));
        assert_eq!(&frame, want, "response frame read back differs");
    }
    assert!(!read_frame(&mut back, &mut frame).expect("clean end of the responses"));
}
