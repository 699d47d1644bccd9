//! Minimal BER-TLV (ISO/IEC 7816-4 §5.2 / ISO/IEC 8825-1) for the card's own data objects.
//!
//! Tags of one or two bytes (`0x86`, `0x7F21`, `0xDF21`…) are handled as a `u16`; lengths in the
//! short form or the long forms `81 xx` and `82 xx xx`. Everything borrows from the input: no
//! allocation, no copies. The host uses the same code to build what the card parses.

use heapless::Vec;

/// Malformed TLV data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlvError {
    /// The data ends inside a tag, a length or a value.
    Truncated,
    /// A length form this reader does not accept (indefinite, or more than two bytes).
    BadLength,
    /// A tag of more than two bytes, or not the tag that was expected.
    BadTag,
}

/// One data object: its tag and its value, borrowed from the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// The tag, one or two bytes (`0x86`, `0x7F21`).
    pub tag: u16,
    /// The value field.
    pub value: &'a [u8],
}

/// Reads the data objects of a byte string one after the other.
#[derive(Debug, Clone)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Reader { rest: data }
    }

    /// True when every data object has been read.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// Reads the next data object.
    pub fn read(&mut self) -> Result<Tlv<'a>, TlvError> {
        let (tag, rest) = read_tag(self.rest)?;
        let (len, rest) = read_len(rest)?;
        if rest.len() < len {
            return Err(TlvError::Truncated);
        }
        let (value, rest) = rest.split_at(len);
        self.rest = rest;
        Ok(Tlv { tag, value })
    }

    /// Reads the next data object and checks that it has tag `tag`; returns its value.
    pub fn expect(&mut self, tag: u16) -> Result<&'a [u8], TlvError> {
        let tlv = self.read()?;
        if tlv.tag == tag {
            Ok(tlv.value)
        } else {
            Err(TlvError::BadTag)
        }
    }

    /// The bytes not read yet.
    pub fn remaining(&self) -> &'a [u8] {
        self.rest
    }
}

impl<'a> Iterator for Reader<'a> {
    type Item = Result<Tlv<'a>, TlvError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let item = self.read();
        if item.is_err() {
            // Stop after the first error rather than looping on it.
            self.rest = &[];
        }
        Some(item)
    }
}

/// The value of the first top-level data object with tag `tag` in `data`, if any.
pub fn find(data: &[u8], tag: u16) -> Result<Option<&[u8]>, TlvError> {
    for item in Reader::new(data) {
        let tlv = item?;
        if tlv.tag == tag {
            return Ok(Some(tlv.value));
        }
    }
    Ok(None)
}

/// The value of `data`, which must be exactly one data object with tag `tag`.
pub fn single(data: &[u8], tag: u16) -> Result<&[u8], TlvError> {
    let mut reader = Reader::new(data);
    let value = reader.expect(tag)?;
    if reader.is_empty() {
        Ok(value)
    } else {
        Err(TlvError::BadLength)
    }
}

/// The tag and length octets of a data object with tag `tag` and a value of `len` bytes.
pub fn encode_header(tag: u16, len: usize) -> Result<Vec<u8, 6>, TlvError> {
    let mut out = Vec::new();
    let [high, low] = tag.to_be_bytes();
    if high != 0 {
        push(&mut out, high)?;
    }
    push(&mut out, low)?;
    let len16 = u16::try_from(len).map_err(|_| TlvError::BadLength)?;
    let [len_high, len_low] = len16.to_be_bytes();
    if len < 0x80 {
        push(&mut out, len_low)?;
    } else if len < 0x100 {
        push(&mut out, 0x81)?;
        push(&mut out, len_low)?;
    } else {
        push(&mut out, 0x82)?;
        push(&mut out, len_high)?;
        push(&mut out, len_low)?;
    }
    Ok(out)
}

/// Appends the data object `tag`/`value` to `out`.
pub fn encode_into<const N: usize>(
    out: &mut Vec<u8, N>,
    tag: u16,
    value: &[u8],
) -> Result<(), TlvError> {
    let header = encode_header(tag, value.len())?;
    out.extend_from_slice(&header)
        .map_err(|_| TlvError::BadLength)?;
    out.extend_from_slice(value)
        .map_err(|_| TlvError::BadLength)
}

/// Decodes only the tag and length octets at the start of `data`: `(tag, value length, header
/// length)`. For walking data objects whose values are not in memory (the card reads its files
/// from NVM a few bytes at a time).
pub fn header(data: &[u8]) -> Result<(u16, usize, usize), TlvError> {
    let (tag, rest) = read_tag(data)?;
    let (len, rest) = read_len(rest)?;
    Ok((tag, len, data.len() - rest.len()))
}

fn push(out: &mut Vec<u8, 6>, byte: u8) -> Result<(), TlvError> {
    out.push(byte).map_err(|_| TlvError::BadLength)
}

fn read_tag(data: &[u8]) -> Result<(u16, &[u8]), TlvError> {
    let (&first, rest) = data.split_first().ok_or(TlvError::Truncated)?;
    if first & 0x1F != 0x1F {
        return Ok((u16::from(first), rest));
    }
    let (&second, rest) = rest.split_first().ok_or(TlvError::Truncated)?;
    if second & 0x80 != 0 {
        return Err(TlvError::BadTag);
    }
    Ok((u16::from_be_bytes([first, second]), rest))
}

fn read_len(data: &[u8]) -> Result<(usize, &[u8]), TlvError> {
    let (&first, rest) = data.split_first().ok_or(TlvError::Truncated)?;
    match first {
        0..=0x7F => Ok((usize::from(first), rest)),
        0x81 => {
            let (&len, rest) = rest.split_first().ok_or(TlvError::Truncated)?;
            Ok((usize::from(len), rest))
        }
        0x82 => {
            let (&high, rest) = rest.split_first().ok_or(TlvError::Truncated)?;
            let (&low, rest) = rest.split_first().ok_or(TlvError::Truncated)?;
            Ok((usize::from(u16::from_be_bytes([high, low])), rest))
        }
        _ => Err(TlvError::BadLength),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn reads_one_and_two_byte_tags_and_all_length_forms() {
        let mut long = [0u8; 300];
        long[0] = 0x5F;
        long[1] = 0x37;
        long[2] = 0x82;
        long[3] = 0x01;
        long[4] = 0x00;
        let data = [0x86, 0x02, 0xAA, 0xBB, 0x7F, 0x21, 0x81, 0x01, 0xCC];
        let mut reader = Reader::new(&data);
        assert_eq!(
            reader.read().unwrap(),
            Tlv {
                tag: 0x86,
                value: &[0xAA, 0xBB]
            }
        );
        assert_eq!(reader.expect(0x7F21).unwrap(), &[0xCC]);
        assert!(reader.is_empty());
        let mut reader = Reader::new(&long[..261]);
        let tlv = reader.read().unwrap();
        assert_eq!(tlv.tag, 0x5F37);
        assert_eq!(tlv.value.len(), 256);
    }

    #[test]
    fn refuses_truncated_and_odd_forms() {
        assert_eq!(Reader::new(&[0x86]).read(), Err(TlvError::Truncated));
        assert_eq!(
            Reader::new(&[0x86, 0x03, 1, 2]).read(),
            Err(TlvError::Truncated)
        );
        assert_eq!(Reader::new(&[0x86, 0x80]).read(), Err(TlvError::BadLength));
        assert_eq!(
            Reader::new(&[0x86, 0x83, 0, 0, 1]).read(),
            Err(TlvError::BadLength)
        );
        assert_eq!(
            Reader::new(&[0x5F, 0x81, 0x01, 0]).read(),
            Err(TlvError::BadTag)
        );
        assert_eq!(Reader::new(&[0x5F]).read(), Err(TlvError::Truncated));
        assert_eq!(
            Reader::new(&[0x86, 0x00]).expect(0x87),
            Err(TlvError::BadTag)
        );
        assert_eq!(single(&[0x86, 0x00, 0x00], 0x86), Err(TlvError::BadLength));
    }

    #[test]
    fn iterator_stops_after_an_error() {
        let items: [Option<Result<Tlv, TlvError>>; 2] = {
            let mut r = Reader::new(&[0x86, 0x05, 0x00]);
            [r.next(), r.next()]
        };
        assert_eq!(items[0], Some(Err(TlvError::Truncated)));
        assert_eq!(items[1], None);
    }

    #[test]
    fn find_returns_first_top_level_match() {
        let data = [0xDF, 0x21, 0x01, b'a', 0xDF, 0x23, 0x02, b'0', b'4'];
        assert_eq!(find(&data, 0xDF23).unwrap(), Some(&b"04"[..]));
        assert_eq!(find(&data, 0xDF24).unwrap(), None);
        assert_eq!(find(&[0xDF, 0x21, 0x09], 0xDF21), Err(TlvError::Truncated));
    }

    #[test]
    fn encodes_what_it_reads() {
        for len in [0usize, 1, 0x7F, 0x80, 0xFF, 0x100, 1500] {
            for tag in [0x86u16, 0x7F49, 0xDF22] {
                let value = [0x5Au8; 1500];
                let mut out: Vec<u8, 1600> = Vec::new();
                encode_into(&mut out, tag, &value[..len]).unwrap();
                let tlv = single(&out, tag).unwrap();
                assert_eq!(tlv, &value[..len]);
            }
        }
        assert_eq!(&encode_header(0x86, 0x80).unwrap()[..], &[0x86, 0x81, 0x80]);
        assert_eq!(
            &encode_header(0xFF20, 0x1234).unwrap()[..],
            &[0xFF, 0x20, 0x82, 0x12, 0x34]
        );
        assert_eq!(encode_header(0x86, 0x10000), Err(TlvError::BadLength));
    }
}
