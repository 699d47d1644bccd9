//! The framing adapter: command chaining, `61xx` + GET RESPONSE, extended lengths.
//!
//! Applications see one complete command ([`CommandApdu`] with the chain joined and the class's
//! chaining bit cleared) and write their whole response; this adapter cuts it to `Le` and keeps
//! the rest for GET RESPONSE. See docs/apdu.md, "Card and transport".

use heapless::Vec;
use zeroize::Zeroize;

use crate::apdu::CommandApdu;
use crate::command::Ins;
use crate::status::{Error, Status, SW_OK};
use crate::{Response, MAX_FRAMED_DATA, MAX_RESPONSE};

/// Largest response data of one command.
pub const MAX_RESPONSE_DATA: usize = MAX_RESPONSE - 2;

const CLA_CHAIN: u8 = 0x10;

/// Working memory a handler may use while one command runs: the transport's buffer for a
/// response waiting for GET RESPONSE, which is free then (a new command drops what waited). Empty
/// on entry; wiped when the command ends, so nothing of it stays in RAM or reaches GET RESPONSE.
/// (Under secure messaging it holds the decrypted command: a new PIN, a new address.)
pub type Scratch = Vec<u8, MAX_RESPONSE_DATA>;

/// What runs the complete commands.
pub trait Handler {
    /// Runs one complete command, appending its response data (at most
    /// [`MAX_RESPONSE_DATA`] bytes) to `out`, which is empty on entry. `Ok` carries the status
    /// word of the completed command: `9000`, or a warning (`62xx`) that comes with the data.
    fn handle(
        &mut self,
        apdu: &CommandApdu<'_>,
        out: &mut Response,
        scratch: &mut Scratch,
    ) -> Result<u16, Error>;
}

/// Header of the chain being received: CLA (chaining bit clear), INS, P1, P2.
type ChainHeader = [u8; 4];

/// Framing state: the chain being received and the response data waiting.
#[derive(Debug, Default, Clone)]
pub struct Framing {
    chain: Option<ChainHeader>,
    chain_data: Vec<u8, MAX_FRAMED_DATA>,
    pending: Vec<u8, MAX_RESPONSE_DATA>,
    pending_pos: usize,
    /// The status word that comes with the last part of what is waiting.
    pending_sw: u16,
}

impl Framing {
    /// Nothing received, nothing waiting.
    #[inline(always)]
    pub fn new() -> Self {
        Framing::default()
    }

    /// Drops the chain and the waiting response (reset, power-off).
    pub fn reset(&mut self) {
        self.drop_chain();
        self.drop_pending();
    }

    fn drop_chain(&mut self) {
        self.chain = None;
        self.chain_data.clear();
    }

    /// After a command: what the handler left in the scratch buffer is overwritten.
    fn wipe_scratch(&mut self) {
        self.pending.as_mut_slice().zeroize();
        self.drop_pending();
    }

    fn drop_pending(&mut self) {
        self.pending.clear();
        self.pending_pos = 0;
        self.pending_sw = SW_OK;
    }

    /// Processes one APDU from the reader; writes data ‖ SW1 SW2 into `response`.
    pub fn process<H: Handler>(&mut self, raw: &[u8], response: &mut Response, handler: &mut H) {
        response.clear();
        let sw = match self.step(raw, response, handler) {
            Ok(sw) => sw,
            Err(e) => {
                response.clear();
                e.sw()
            }
        };
        // The data is at most MAX_RESPONSE_DATA bytes, so the status word always fits.
        let _ = response.extend_from_slice(&sw.to_be_bytes());
    }

    fn step<H: Handler>(
        &mut self,
        raw: &[u8],
        response: &mut Response,
        handler: &mut H,
    ) -> Result<u16, Error> {
        let apdu = match CommandApdu::parse(raw) {
            Ok(apdu) => apdu,
            Err(e) => {
                self.reset();
                return Err(e);
            }
        };
        let chained = apdu.cla & CLA_CHAIN != 0;
        let cla = apdu.cla & !CLA_CHAIN;
        if let Err(e) = check_class(apdu.cla) {
            self.reset();
            return Err(e);
        }
        let header = [cla, apdu.ins, apdu.p1, apdu.p2];

        if let Some(expected) = self.chain {
            if expected != header {
                self.reset();
                return Err(Error::LastCommandOfChainExpected);
            }
        } else if apdu.ins == Ins::GetResponse.byte() && cla == 0x00 && !chained {
            return self.get_response(&apdu, response);
        }
        self.drop_pending();

        if chained {
            if self.chain.is_none() {
                self.chain = Some(header);
            }
            if self.chain_data.extend_from_slice(apdu.data).is_err() {
                self.drop_chain();
                return Err(Error::WrongLength);
            }
            return Ok(SW_OK);
        }

        let result = if self.chain.is_some() {
            if self.chain_data.extend_from_slice(apdu.data).is_err() {
                self.drop_chain();
                return Err(Error::WrongLength);
            }
            let joined = CommandApdu {
                cla,
                data: &self.chain_data,
                ..apdu
            };
            handler.handle(&joined, response, &mut self.pending)
        } else if apdu.data.len() > MAX_FRAMED_DATA {
            Err(Error::WrongLength)
        } else {
            handler.handle(&CommandApdu { cla, ..apdu }, response, &mut self.pending)
        };
        self.wipe_scratch();
        self.drop_chain();
        let sw = result?;
        self.cut(response, apdu.ne, sw)
    }

    /// Keeps what exceeds `ne` for GET RESPONSE; the command's status word `sw` (`9000` or a
    /// warning) comes with the last part.
    fn cut(&mut self, response: &mut Response, ne: usize, sw: u16) -> Result<u16, Error> {
        if response.len() <= ne {
            return Ok(sw);
        }
        let rest = response.get(ne..).ok_or(Error::WrongLength)?;
        self.pending.clear();
        self.pending
            .extend_from_slice(rest)
            .map_err(|_| Error::WrongLength)?;
        self.pending_pos = 0;
        self.pending_sw = sw;
        response.truncate(ne);
        Ok(Status::more_data(self.pending.len()).sw())
    }

    fn get_response(
        &mut self,
        apdu: &CommandApdu<'_>,
        response: &mut Response,
    ) -> Result<u16, Error> {
        if apdu.p1p2() != 0 {
            return Err(Error::WrongP1P2);
        }
        if !apdu.data.is_empty() || apdu.ne == 0 {
            return Err(Error::WrongLength);
        }
        let waiting = self
            .pending
            .get(self.pending_pos..)
            .filter(|w| !w.is_empty())
            .ok_or(Error::ConditionsNotSatisfied)?;
        let n = apdu.ne.min(waiting.len());
        let part = waiting.get(..n).ok_or(Error::WrongLength)?;
        response
            .extend_from_slice(part)
            .map_err(|_| Error::WrongLength)?;
        self.pending_pos += n;
        let left = self.pending.len().saturating_sub(self.pending_pos);
        if left == 0 {
            let sw = self.pending_sw;
            self.drop_pending();
            Ok(sw)
        } else {
            Ok(Status::more_data(left).sw())
        }
    }
}

/// Accepts the interindustry class `0X` and the proprietary class `8X`, with or without the
/// chaining bit, plain or with secure messaging (header authenticated, bits `0C`: the
/// application unwraps it, [`crate::sm`]), basic channel only.
fn check_class(cla: u8) -> Result<(), Error> {
    let base = cla & !CLA_CHAIN;
    match base {
        0x00 | 0x80 | 0x0C | 0x8C => Ok(()),
        0x01..=0x03 | 0x81..=0x83 => Err(Error::LogicalChannelNotSupported),
        _ => Err(Error::ClaNotSupported),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    /// Echoes the data `p1` times (INS 01), or answers `p1p2` bytes of a counter (INS 02), or
    /// the same with the warning `6283` (INS 03).
    struct Echo {
        calls: usize,
    }

    impl Handler for Echo {
        fn handle(
            &mut self,
            apdu: &CommandApdu<'_>,
            out: &mut Response,
            scratch: &mut Scratch,
        ) -> Result<u16, Error> {
            self.calls += 1;
            assert!(scratch.is_empty(), "the scratch buffer is empty on entry");
            // Leave something behind: the transport must wipe it.
            let _ = scratch.extend_from_slice(b"secret");
            match apdu.ins {
                0x01 => {
                    for _ in 0..apdu.p1 {
                        out.extend_from_slice(apdu.data)
                            .map_err(|_| Error::WrongLength)?;
                    }
                    Ok(SW_OK)
                }
                0x02 | 0x03 => {
                    for i in 0..apdu.p1p2() {
                        out.push(i as u8).map_err(|_| Error::WrongLength)?;
                    }
                    Ok(if apdu.ins == 0x03 { 0x6283 } else { SW_OK })
                }
                _ => Err(Error::InsNotSupported),
            }
        }
    }

    fn run(t: &mut Framing, h: &mut Echo, raw: &[u8]) -> (std::vec::Vec<u8>, u16) {
        let mut r = Response::new();
        t.process(raw, &mut r, h);
        let n = r.len();
        (
            r[..n - 2].to_vec(),
            u16::from_be_bytes([r[n - 2], r[n - 1]]),
        )
    }

    #[test]
    fn class_checks() {
        let (mut t, mut h) = (Framing::new(), Echo { calls: 0 });
        assert_eq!(run(&mut t, &mut h, &[0xFF, 0x01, 1, 0]).1, 0x6E00);
        assert_eq!(run(&mut t, &mut h, &[0x40, 0x01, 1, 0]).1, 0x6E00);
        assert_eq!(run(&mut t, &mut h, &[0x04, 0x01, 1, 0]).1, 0x6E00);
        assert_eq!(run(&mut t, &mut h, &[0x08, 0x01, 1, 0]).1, 0x6E00);
        assert_eq!(run(&mut t, &mut h, &[0x01, 0x01, 1, 0]).1, 0x6881);
        assert_eq!(run(&mut t, &mut h, &[0x00, 0x01, 1, 0]).1, 0x9000);
        assert_eq!(run(&mut t, &mut h, &[0x80, 0x01, 1, 0]).1, 0x9000);
        assert_eq!(run(&mut t, &mut h, &[0x00, 0x01, 1]).1, 0x6700);
        assert_eq!(h.calls, 2);
    }

    #[test]
    fn the_scratch_buffer_is_wiped_and_never_answered() {
        let (mut t, mut h) = (Framing::new(), Echo { calls: 0 });
        // The handler leaves "secret" in the scratch buffer (the GET RESPONSE buffer): after
        // the command nothing waits, so GET RESPONSE has nothing to give.
        assert_eq!(
            run(&mut t, &mut h, &[0x00, 0x01, 1, 0, 2, b'a', b'b', 0]),
            (std::vec![b'a', b'b'], 0x9000)
        );
        assert!(t.pending.iter().all(|&b| b == 0) && t.pending.is_empty());
        assert_eq!(run(&mut t, &mut h, &[0x00, 0xC0, 0, 0, 0]).1, 0x6985);
        // And a response that does wait is the handler's answer, not the scratch.
        assert_eq!(
            run(&mut t, &mut h, &[0x00, 0x02, 0, 10, 4]),
            (std::vec![0, 1, 2, 3], 0x6106)
        );
        assert_eq!(
            run(&mut t, &mut h, &[0x00, 0xC0, 0, 0, 0]),
            (std::vec![4, 5, 6, 7, 8, 9], 0x9000)
        );
    }

    #[test]
    fn chaining_joins_and_runs_once() {
        let (mut t, mut h) = (Framing::new(), Echo { calls: 0 });
        assert_eq!(
            run(&mut t, &mut h, &[0x10, 0x01, 1, 0, 2, b'a', b'b']),
            (std::vec![], 0x9000)
        );
        assert_eq!(
            run(&mut t, &mut h, &[0x10, 0x01, 1, 0, 1, b'c']),
            (std::vec![], 0x9000)
        );
        assert_eq!(h.calls, 0);
        assert_eq!(
            run(&mut t, &mut h, &[0x00, 0x01, 1, 0, 1, b'd', 0]),
            (b"abcd".to_vec(), 0x9000)
        );
        assert_eq!(h.calls, 1);
        // The chain is gone: the next command stands alone.
        assert_eq!(
            run(&mut t, &mut h, &[0x00, 0x01, 1, 0, 1, b'e', 0]),
            (b"e".to_vec(), 0x9000)
        );
    }

    #[test]
    fn chain_with_other_header_is_6883_and_dropped() {
        let (mut t, mut h) = (Framing::new(), Echo { calls: 0 });
        run(&mut t, &mut h, &[0x10, 0x01, 1, 0, 1, b'a']);
        assert_eq!(run(&mut t, &mut h, &[0x00, 0x01, 2, 0, 1, b'b']).1, 0x6883);
        assert_eq!(
            run(&mut t, &mut h, &[0x00, 0x01, 1, 0, 1, b'c', 0]),
            (b"c".to_vec(), 0x9000)
        );
        // GET RESPONSE in the middle of a chain, too.
        run(&mut t, &mut h, &[0x10, 0x01, 1, 0, 1, b'a']);
        assert_eq!(run(&mut t, &mut h, &[0x00, 0xC0, 0, 0, 0]).1, 0x6883);
        assert_eq!(h.calls, 1);
    }

    #[test]
    fn chain_too_long_is_6700() {
        let (mut t, mut h) = (Framing::new(), Echo { calls: 0 });
        let mut link = [0u8; 5 + 255];
        link[0] = 0x10;
        link[1] = 0x01;
        link[2] = 1;
        link[4] = 255;
        for _ in 0..(MAX_FRAMED_DATA / 255) {
            assert_eq!(run(&mut t, &mut h, &link).1, 0x9000);
        }
        assert_eq!(run(&mut t, &mut h, &link).1, 0x6700);
        assert_eq!(h.calls, 0);
        // A single extended APDU over the limit as well.
        let [hi, lo] = ((MAX_FRAMED_DATA + 1) as u16).to_be_bytes();
        let mut big = std::vec![0u8, 0x01, 1, 0, 0, hi, lo];
        big.resize(7 + MAX_FRAMED_DATA + 1, 0);
        assert_eq!(run(&mut t, &mut h, &big).1, 0x6700);
        big.truncate(7 + 2048);
        big[5] = 0x08;
        big[6] = 0;
        // Accepted; 2048 bytes echoed with no Le: all of it waits.
        assert_eq!(run(&mut t, &mut h, &big).1, 0x6100);
    }

    #[test]
    fn long_response_through_get_response() {
        let (mut t, mut h) = (Framing::new(), Echo { calls: 0 });
        // 600 bytes, short Le 00 = 256.
        let (first, sw) = run(&mut t, &mut h, &[0x00, 0x02, 0x02, 0x58, 0x00]);
        assert_eq!((first.len(), sw), (256, 0x6100));
        let (second, sw) = run(&mut t, &mut h, &[0x00, 0xC0, 0, 0, 0x00]);
        assert_eq!((second.len(), sw), (256, 0x6158));
        let (third, sw) = run(&mut t, &mut h, &[0x00, 0xC0, 0, 0, 0x58]);
        assert_eq!((third.len(), sw), (0x58, 0x9000));
        let all: std::vec::Vec<u8> = [first, second, third].concat();
        assert!(all.iter().enumerate().all(|(i, b)| *b == i as u8));
        assert_eq!(run(&mut t, &mut h, &[0x00, 0xC0, 0, 0, 0x10]).1, 0x6985);
        // No Le: everything waits.
        assert_eq!(
            run(&mut t, &mut h, &[0x00, 0x02, 0x00, 0x40]),
            (std::vec![], 0x6140)
        );
        assert_eq!(run(&mut t, &mut h, &[0x00, 0xC0, 0, 1, 0x10]).1, 0x6A86);
        assert_eq!(run(&mut t, &mut h, &[0x00, 0xC0, 0, 0]).1, 0x6700);
        assert_eq!(run(&mut t, &mut h, &[0x00, 0xC0, 0, 0, 0x30]).1, 0x6110);
        // Another command drops what waits.
        run(&mut t, &mut h, &[0x00, 0x01, 0, 0]);
        assert_eq!(run(&mut t, &mut h, &[0x00, 0xC0, 0, 0, 0x10]).1, 0x6985);
        // Extended Le: all at once.
        let (all, sw) = run(&mut t, &mut h, &[0x00, 0x02, 0x07, 0xD0, 0, 0, 0]);
        assert_eq!((all.len(), sw), (2000, 0x9000));
    }

    #[test]
    fn a_warning_comes_with_the_last_part() {
        let (mut t, mut h) = (Framing::new(), Echo { calls: 0 });
        assert_eq!(
            run(&mut t, &mut h, &[0x00, 0x03, 0x00, 0x03, 0x00]),
            (std::vec![0, 1, 2], 0x6283)
        );
        let (first, sw) = run(&mut t, &mut h, &[0x00, 0x03, 0x00, 0x30, 0x10]);
        assert_eq!((first.len(), sw), (0x10, 0x6120));
        let (second, sw) = run(&mut t, &mut h, &[0x00, 0xC0, 0, 0, 0x10]);
        assert_eq!((second.len(), sw), (0x10, 0x6110));
        let (third, sw) = run(&mut t, &mut h, &[0x00, 0xC0, 0, 0, 0x10]);
        assert_eq!((third.len(), sw), (0x10, 0x6283));
        // The next long answer without a warning ends in 9000 again.
        run(&mut t, &mut h, &[0x00, 0x03, 0x00, 0x30, 0x10]);
        run(&mut t, &mut h, &[0x00, 0x02, 0x00, 0x20, 0x10]);
        assert_eq!(run(&mut t, &mut h, &[0x00, 0xC0, 0, 0, 0x10]).1, 0x9000);
    }

    #[test]
    fn reset_drops_chain_and_pending() {
        let (mut t, mut h) = (Framing::new(), Echo { calls: 0 });
        run(&mut t, &mut h, &[0x00, 0x02, 0x00, 0x40]);
        run(&mut t, &mut h, &[0x10, 0x01, 1, 0, 1, b'a']);
        t.reset();
        assert_eq!(
            run(&mut t, &mut h, &[0x00, 0x01, 1, 0, 1, b'b', 0]),
            (b"b".to_vec(), 0x9000)
        );
        assert_eq!(run(&mut t, &mut h, &[0x00, 0xC0, 0, 0, 0x10]).1, 0x6985);
    }
}
