//! The input format of `card_sequence`: a start byte, then a sequence of operations.
//!
//! ```text
//! byte 0        start state, modulo 8 ([`Start`]): 0 the issued sample card, 1 a blank card,
//!               2 initialised (certified, not issued), 3 suspended, 4 the 住基 PIN blocked,
//!               5 and 6 the issued card with the harness's counter session up in the 住基AP
//!               and in the JPKI AP, 7 terminated — snapshots made once, so that no input
//!               pays for the issue or a counter authentication it does not fuzz
//! then, repeated:
//!   10..FF      a command APDU of (op − 0x10) bytes (0 to 239), the bytes follow
//!   00 LL LL    a command APDU of LLLL bytes (big-endian), the bytes follow
//!   01          warm reset
//!   02          counter authentication by the harness with the test credentials
//!               (GET CHALLENGE, then EXTERNAL AUTHENTICATE signed by the test counter key)
//!   03          power cycle (power off, power on: same NVM)
//!   04 NN KK    power cut: the NVM write NN (mod 64) from now is torn, keeping KK mod 3
//!               (0 nothing, 1 half, 2 all but one byte) of it; the power is gone from then on,
//!               and the harness powers the card on again after that APDU
//!   05 LL       a command APDU of LL bytes sent under the harness's secure-messaging session
//!               (the one its last counter authentication set up), as the transcripts' `>`
//!               lines are: wrapped, chained in 255-byte links when long, GET RESPONSE, the
//!               protected answer checked and decrypted. Sent as it is when there is no session,
//!               and for SELECT by AID, GET RESPONSE, GET CHALLENGE and EXTERNAL AUTHENTICATE
//!   06 LL LL    the same with a 2-byte length
//!   07          the manufacturer's certification of the card's key by the harness (PUT DATA
//!               `C1` again for the key, the test root's certificate, PUT DATA `C2`)
//!   08..0F      nothing (room for later operations)
//! ```
//!
//! An APDU whose length runs past the end of the input takes what is left.

/// Start on the issued sample card (the `issue` transcript replayed on a blank card).
pub const START_ISSUED: u8 = 0;
/// Start on a blank card.
pub const START_BLANK: u8 = 1;

/// Where an input starts: its first byte modulo 8.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Start {
    /// The issued sample card.
    Issued = 0,
    /// A blank card.
    Blank = 1,
    /// Initialised and certified, not issued.
    Initialised = 2,
    /// The issued card, suspended.
    Suspended = 3,
    /// The issued card with its 住基 PIN blocked.
    PinBlocked = 4,
    /// The issued card, 住基AP selected, the harness's counter session up.
    JukiSession = 5,
    /// The issued card, JPKI AP selected, the harness's counter session up.
    JpkiSession = 6,
    /// The issued card, terminated.
    Terminated = 7,
}

impl Start {
    /// Every start, in the order of their bytes.
    pub const ALL: [Start; 8] = [
        Start::Issued,
        Start::Blank,
        Start::Initialised,
        Start::Suspended,
        Start::PinBlocked,
        Start::JukiSession,
        Start::JpkiSession,
        Start::Terminated,
    ];

    /// The start an input's first byte names.
    pub fn of(byte: u8) -> Start {
        Start::ALL[usize::from(byte % 8)]
    }
}

/// At most this many operations of one input are run.
pub const MAX_OPS: usize = 512;
/// At most this many of the harness's counter authentications, certifications and power
/// cycles of one input are run (the rest are nothing): one byte each, they would otherwise let
/// a short input run hundreds of P-256 operations and slow every execution down, while a few
/// in a row reach every state they can.
pub const MAX_HEAVY_OPS: usize = 8;

/// One operation, borrowing its APDU from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op<'a> {
    /// Send this command APDU.
    Apdu(&'a [u8]),
    /// Send this command APDU under the harness's secure-messaging session.
    Protected(&'a [u8]),
    /// Warm reset.
    Reset,
    /// Counter authentication by the harness.
    CounterAuth,
    /// The card's key certified by the harness's root and installed (manufacture).
    CertifyCard,
    /// Power off and on.
    PowerCycle,
    /// Tear the `after`-th NVM write from now (mod 64), keeping `keep` (mod 3) of it.
    Tear {
        /// Writes let through before the torn one.
        after: u8,
        /// How much of the torn write is kept.
        keep: u8,
    },
    /// Nothing.
    Nop,
}

fn take<'a>(rest: &mut &'a [u8], n: usize) -> &'a [u8] {
    let (head, tail) = rest.split_at(n.min(rest.len()));
    *rest = tail;
    head
}

fn byte(rest: &mut &[u8]) -> u8 {
    take(rest, 1).first().copied().unwrap_or(0)
}

/// The next operation of `rest`, if any.
pub fn next_op<'a>(rest: &mut &'a [u8]) -> Option<Op<'a>> {
    let (&op, tail) = rest.split_first()?;
    *rest = tail;
    Some(match op {
        0x00 => {
            let len = usize::from(u16::from_be_bytes([byte(rest), byte(rest)]));
            Op::Apdu(take(rest, len))
        }
        0x01 => Op::Reset,
        0x02 => Op::CounterAuth,
        0x03 => Op::PowerCycle,
        0x04 => Op::Tear {
            after: byte(rest),
            keep: byte(rest),
        },
        0x05 => {
            let len = usize::from(byte(rest));
            Op::Protected(take(rest, len))
        }
        0x06 => {
            let len = usize::from(u16::from_be_bytes([byte(rest), byte(rest)]));
            Op::Protected(take(rest, len))
        }
        0x07 => Op::CertifyCard,
        0x08..=0x0F => Op::Nop,
        n => Op::Apdu(take(rest, usize::from(n - 0x10))),
    })
}

/// The operations of `data` after the start byte.
pub fn ops(data: &[u8]) -> impl Iterator<Item = Op<'_>> {
    let mut rest = data.get(1..).unwrap_or_default();
    std::iter::from_fn(move || next_op(&mut rest)).take(MAX_OPS)
}

/// An operation to encode (seeds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnedOp {
    /// Send this command APDU.
    Apdu(Vec<u8>),
    /// Send this command APDU under the harness's secure-messaging session.
    Protected(Vec<u8>),
    /// Warm reset.
    Reset,
    /// Counter authentication by the harness.
    CounterAuth,
    /// The card's key certified and installed by the harness.
    CertifyCard,
    /// Power off and on.
    PowerCycle,
    /// Power cut at the `after`-th write, keeping `keep` of it.
    Tear {
        /// Writes let through before the torn one.
        after: u8,
        /// 0 nothing, 1 half, 2 all but one byte.
        keep: u8,
    },
}

/// Encodes a `card_sequence` input.
pub fn encode(start: u8, ops: &[OwnedOp]) -> Vec<u8> {
    let mut out = vec![start];
    for op in ops {
        match op {
            OwnedOp::Apdu(apdu) if apdu.len() <= 0xEF => {
                out.push(0x10 + apdu.len() as u8);
                out.extend_from_slice(apdu);
            }
            OwnedOp::Apdu(apdu) => {
                out.push(0x00);
                let len = u16::try_from(apdu.len()).unwrap_or(u16::MAX);
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(&apdu[..usize::from(len)]);
            }
            OwnedOp::Protected(apdu) if apdu.len() <= 0xFF => {
                out.extend_from_slice(&[0x05, apdu.len() as u8]);
                out.extend_from_slice(apdu);
            }
            OwnedOp::Protected(apdu) => {
                out.push(0x06);
                let len = u16::try_from(apdu.len()).unwrap_or(u16::MAX);
                out.extend_from_slice(&len.to_be_bytes());
                out.extend_from_slice(&apdu[..usize::from(len)]);
            }
            OwnedOp::Reset => out.push(0x01),
            OwnedOp::CounterAuth => out.push(0x02),
            OwnedOp::CertifyCard => out.push(0x07),
            OwnedOp::PowerCycle => out.push(0x03),
            OwnedOp::Tear { after, keep } => out.extend_from_slice(&[0x04, *after, *keep]),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let long = vec![0xAB; 300];
        let ops_in = [
            OwnedOp::Apdu(vec![0, 0xA4, 4, 0x0C]),
            OwnedOp::Reset,
            OwnedOp::Apdu(long.clone()),
            OwnedOp::CounterAuth,
            OwnedOp::CertifyCard,
            OwnedOp::Protected(vec![0, 0xD6, 0, 0, 1, 9]),
            OwnedOp::Protected(long.clone()),
            OwnedOp::Tear { after: 3, keep: 1 },
            OwnedOp::PowerCycle,
            OwnedOp::Apdu(Vec::new()),
        ];
        let data = encode(START_BLANK, &ops_in);
        assert_eq!(data[0], START_BLANK);
        let got: Vec<Op<'_>> = ops(&data).collect();
        assert_eq!(
            got,
            vec![
                Op::Apdu(&[0, 0xA4, 4, 0x0C]),
                Op::Reset,
                Op::Apdu(&long),
                Op::CounterAuth,
                Op::CertifyCard,
                Op::Protected(&[0, 0xD6, 0, 0, 1, 9]),
                Op::Protected(&long),
                Op::Tear { after: 3, keep: 1 },
                Op::PowerCycle,
                Op::Apdu(&[]),
            ]
        );
    }

    #[test]
    fn truncated_input_takes_what_is_left() {
        let got: Vec<Op<'_>> = ops(&[0, 0x15, 1, 2]).collect();
        assert_eq!(got, vec![Op::Apdu(&[1, 2])]);
        let got: Vec<Op<'_>> = ops(&[0, 0x00, 0x01]).collect();
        assert_eq!(got, vec![Op::Apdu(&[])]);
    }
}
