//! Command APDU parsing (ISO/IEC 7816-4 §5.1): all four cases, short and extended.
//!
//! The `iso7816` crate (trussed-dev, 0.2.2) was evaluated: its `CommandView` parses short and
//! extended APDUs correctly without `alloc`. It is not used because 0.2 needs Rust 1.87 (the
//! workspace's MSRV is 1.85), pulls `heapless` 0.9 beside the workspace's 0.8, and folds class
//! errors into its length error, while the card must answer `6E00`/`6881` for the class and
//! `6700` for lengths. The parser below is the same ISO decoding table in ~60 lines.

use crate::status::Error;

/// A parsed command APDU, borrowing its data field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandApdu<'a> {
    /// Class byte.
    pub cla: u8,
    /// Instruction byte.
    pub ins: u8,
    /// Parameter 1.
    pub p1: u8,
    /// Parameter 2.
    pub p2: u8,
    /// Command data field (Nc = `data.len()` bytes, empty when there is no Lc).
    pub data: &'a [u8],
    /// Ne: the maximum number of response bytes expected; 0 when there is no Le.
    pub ne: usize,
    /// True when the length fields were extended.
    pub extended: bool,
}

impl<'a> CommandApdu<'a> {
    /// Parses `raw` (header plus body). Any inconsistency of the length fields is `6700`.
    pub fn parse(raw: &'a [u8]) -> Result<Self, Error> {
        let (header, body) = split(raw, 4)?;
        let [cla, ins, p1, p2] = <[u8; 4]>::try_from(header).map_err(|_| Error::WrongLength)?;
        let (data, ne, extended) = parse_body(body)?;
        Ok(CommandApdu {
            cla,
            ins,
            p1,
            p2,
            data,
            ne,
            extended,
        })
    }

    /// P1-P2 as one number.
    pub fn p1p2(&self) -> u16 {
        u16::from_be_bytes([self.p1, self.p2])
    }
}

fn split(data: &[u8], at: usize) -> Result<(&[u8], &[u8]), Error> {
    if data.len() < at {
        return Err(Error::WrongLength);
    }
    Ok(data.split_at(at))
}

fn short_le(byte: u8) -> usize {
    if byte == 0 {
        256
    } else {
        usize::from(byte)
    }
}

fn extended_le(high: u8, low: u8) -> usize {
    match u16::from_be_bytes([high, low]) {
        0 => 65_536,
        n => usize::from(n),
    }
}

/// Decodes the body: (data, Ne, extended).
fn parse_body(body: &[u8]) -> Result<(&[u8], usize, bool), Error> {
    let Some((&b1, rest)) = body.split_first() else {
        // Case 1: no body.
        return Ok((&[], 0, false));
    };
    if rest.is_empty() {
        // Case 2S: Le only.
        return Ok((&[], short_le(b1), false));
    }
    if b1 != 0 {
        // Case 3S / 4S: short Lc 1..=255, then the data, then maybe one Le byte.
        let lc = usize::from(b1);
        let (data, tail) = split(rest, lc)?;
        return match tail {
            [] => Ok((data, 0, false)),
            [le] => Ok((data, short_le(*le), false)),
            _ => Err(Error::WrongLength),
        };
    }
    // Extended: 00 then two bytes.
    match rest {
        [high, low] => Ok((&[], extended_le(*high, *low), true)), // case 2E
        [high, low, tail @ ..] => {
            let lc = usize::from(u16::from_be_bytes([*high, *low]));
            if lc == 0 {
                return Err(Error::WrongLength);
            }
            let (data, tail) = split(tail, lc)?;
            match tail {
                [] => Ok((data, 0, true)),                       // case 3E
                [h, l] => Ok((data, extended_le(*h, *l), true)), // case 4E
                _ => Err(Error::WrongLength),
            }
        }
        _ => Err(Error::WrongLength),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn parse(raw: &[u8]) -> Result<(usize, usize, bool), Error> {
        CommandApdu::parse(raw).map(|c| (c.data.len(), c.ne, c.extended))
    }

    #[test]
    fn malformed_lengths_are_6700() {
        assert_eq!(parse(&[]), Err(Error::WrongLength));
        assert_eq!(parse(&[0, 0xB0, 0]), Err(Error::WrongLength));
        // Short Lc says 3, 2 bytes follow.
        assert_eq!(parse(&[0, 0x20, 0, 0x80, 3, 1, 2]), Err(Error::WrongLength));
        // Short Lc says 1, 3 bytes follow (data + 2 extra).
        assert_eq!(
            parse(&[0, 0x20, 0, 0x80, 1, 1, 2, 3]),
            Err(Error::WrongLength)
        );
        // 00 then one byte: neither short nor extended.
        assert_eq!(parse(&[0, 0xB0, 0, 0, 0, 5]), Err(Error::WrongLength));
        // Extended Lc 0 with data.
        assert_eq!(parse(&[0, 0xD6, 0, 0, 0, 0, 0, 1]), Err(Error::WrongLength));
        // Extended Lc 3, 2 bytes follow.
        assert_eq!(
            parse(&[0, 0xD6, 0, 0, 0, 0, 3, 1, 2]),
            Err(Error::WrongLength)
        );
        // Extended Lc 1, data, then a one-byte Le (short Le mixed with extended Lc).
        assert_eq!(
            parse(&[0, 0xD6, 0, 0, 0, 0, 1, 1, 2]),
            Err(Error::WrongLength)
        );
        // Extended Lc 1, data, then three bytes.
        assert_eq!(
            parse(&[0, 0xD6, 0, 0, 0, 0, 1, 1, 0, 0, 0]),
            Err(Error::WrongLength)
        );
    }

    #[test]
    fn all_cases() {
        assert_eq!(parse(&[0, 0x44, 0, 0]), Ok((0, 0, false)));
        assert_eq!(parse(&[0, 0xB0, 0, 0, 0]), Ok((0, 256, false)));
        assert_eq!(parse(&[0, 0xB0, 0, 0, 0x10]), Ok((0, 16, false)));
        assert_eq!(parse(&[0, 0x20, 0, 0x80, 2, 1, 2]), Ok((2, 0, false)));
        assert_eq!(parse(&[0, 0x20, 0, 0x80, 2, 1, 2, 0]), Ok((2, 256, false)));
        assert_eq!(parse(&[0, 0xB0, 0, 0, 0, 0, 0]), Ok((0, 65_536, true)));
        assert_eq!(parse(&[0, 0xB0, 0, 0, 0, 0x08, 0]), Ok((0, 2048, true)));
        let mut long = [0u8; 4 + 3 + 300 + 2];
        long[1] = 0xD6;
        long[5] = 0x01;
        long[6] = 0x2C;
        assert_eq!(parse(&long[..4 + 3 + 300]), Ok((300, 0, true)));
        assert_eq!(parse(&long), Ok((300, 65_536, true)));
        let apdu = CommandApdu::parse(&[0x80, 0x2A, 0x01, 0x80, 1, 9, 0x40]).unwrap();
        assert_eq!(
            (apdu.cla, apdu.ins, apdu.p1p2(), apdu.data),
            (0x80, 0x2A, 0x0180, &[9u8][..])
        );
        assert_eq!(apdu.ne, 0x40);
    }
}
