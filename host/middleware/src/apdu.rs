//! Command APDUs and the exchange with the card, in one adapter for every transport:
//! short and extended encodings, command chaining (CLA bit `10`, 255-byte links) for long data,
//! `61xx` → GET RESPONSE, `6Cxx` → the same command again with the right Le, and READ BINARY of
//! a whole file (one extended APDU when the reader takes it, short reads by offset otherwise).

use crate::error::{Error, Result};
use crate::transport::Transport;

/// Largest data field of one short APDU (and of one link of a chain).
pub const SHORT_MAX_DATA: usize = 255;
/// Largest Le of a short APDU (`00` = 256).
pub const SHORT_MAX_LE: usize = 256;
/// Largest Le of an extended APDU (`00 00` = 65536).
pub const EXTENDED_MAX_LE: usize = 65536;
/// Upper bound of GET RESPONSE rounds for one command (a card answering `61xx` forever is
/// broken; 256 rounds of 256 bytes is 64 KiB).
const MAX_GET_RESPONSE_ROUNDS: usize = 256;

/// A command APDU before encoding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    /// Class byte (chaining bit clear; the adapter sets it).
    pub cla: u8,
    /// Instruction.
    pub ins: u8,
    /// Parameter 1.
    pub p1: u8,
    /// Parameter 2.
    pub p2: u8,
    /// Command data (may be longer than one short APDU: it is chained or sent extended).
    pub data: Vec<u8>,
    /// Expected response length: `None` for no response data, `Some(n)` for up to `n` bytes
    /// (`Some(256)` is short `00`; more needs extended length or GET RESPONSE).
    pub le: Option<usize>,
}

impl Command {
    /// A command without data and without Le.
    pub fn new(cla: u8, ins: u8, p1: u8, p2: u8) -> Command {
        Command {
            cla,
            ins,
            p1,
            p2,
            data: Vec::new(),
            le: None,
        }
    }

    /// Sets the command data.
    pub fn with_data(mut self, data: impl Into<Vec<u8>>) -> Command {
        self.data = data.into();
        self
    }

    /// Sets Le (expected response length, 1..=65536).
    pub fn with_le(mut self, le: usize) -> Command {
        self.le = Some(le);
        self
    }

    /// Whether this command needs the extended encoding to go in one APDU.
    pub fn needs_extended(&self) -> bool {
        self.data.len() > SHORT_MAX_DATA || self.le.is_some_and(|le| le > SHORT_MAX_LE)
    }

    /// Short encoding of a command with at most 255 data bytes and Le ≤ 256.
    fn encode_short(cla: u8, ins: u8, p1: u8, p2: u8, data: &[u8], le: Option<usize>) -> Vec<u8> {
        let mut apdu = vec![cla, ins, p1, p2];
        if !data.is_empty() {
            apdu.push(data.len() as u8);
            apdu.extend_from_slice(data);
        }
        if let Some(le) = le {
            // 256 encodes as 00.
            apdu.push((le.min(SHORT_MAX_LE) % 256) as u8);
        }
        apdu
    }

    /// The extended encoding (ISO/IEC 7816-4 §5.1): `00 Lc1 Lc2 data [Le1 Le2]`, or
    /// `00 Le1 Le2` without data. Data up to 65535 bytes.
    pub fn encode_extended(&self) -> Result<Vec<u8>> {
        if self.data.len() > 65535 {
            return Err(Error::InvalidInput(format!(
                "command data too long: {} bytes",
                self.data.len()
            )));
        }
        let mut apdu = vec![self.cla, self.ins, self.p1, self.p2];
        let le_bytes = |le: usize| {
            let le = if le >= EXTENDED_MAX_LE { 0 } else { le };
            [(le >> 8) as u8, le as u8]
        };
        if self.data.is_empty() {
            if let Some(le) = self.le {
                apdu.push(0);
                apdu.extend_from_slice(&le_bytes(le));
            }
        } else {
            apdu.push(0);
            apdu.push((self.data.len() >> 8) as u8);
            apdu.push(self.data.len() as u8);
            apdu.extend_from_slice(&self.data);
            if let Some(le) = self.le {
                apdu.extend_from_slice(&le_bytes(le));
            }
        }
        Ok(apdu)
    }

    /// The short encoding as a chain: links of at most 255 data bytes, CLA bit `10` set on all
    /// but the last, Le only on the last. A command with ≤ 255 data bytes is a single link.
    pub fn encode_chain(&self) -> Vec<Vec<u8>> {
        if self.data.len() <= SHORT_MAX_DATA {
            return vec![Self::encode_short(
                self.cla, self.ins, self.p1, self.p2, &self.data, self.le,
            )];
        }
        let links: Vec<&[u8]> = self.data.chunks(SHORT_MAX_DATA).collect();
        let count = links.len();
        links
            .into_iter()
            .enumerate()
            .map(|(i, chunk)| {
                let last = i + 1 == count;
                let cla = if last { self.cla } else { self.cla | 0x10 };
                let le = if last { self.le } else { None };
                Self::encode_short(cla, self.ins, self.p1, self.p2, chunk, le)
            })
            .collect()
    }
}

/// A response APDU: data and status word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Response data (all parts joined).
    pub data: Vec<u8>,
    /// Final status word.
    pub sw: u16,
}

impl Response {
    /// Splits raw response bytes into data and SW.
    pub fn from_raw(mut raw: Vec<u8>) -> Result<Response> {
        if raw.len() < 2 {
            return Err(Error::Protocol(format!(
                "response of {} bytes has no status word",
                raw.len()
            )));
        }
        let sw2 = raw.pop().unwrap_or(0);
        let sw1 = raw.pop().unwrap_or(0);
        Ok(Response {
            data: raw,
            sw: u16::from_be_bytes([sw1, sw2]),
        })
    }

    /// The data if the SW is `9000`, else the error it means.
    pub fn ok(self) -> Result<Vec<u8>> {
        Error::check_sw(self.sw)?;
        Ok(self.data)
    }
}

/// Sends a command and returns the complete response: chains or sends extended as the
/// transport allows, follows `61xx` with GET RESPONSE and resends once on `6Cxx`.
pub fn exchange<T: Transport + ?Sized>(t: &mut T, cmd: &Command) -> Result<Response> {
    let extended = t.supports_extended_length() && cmd.needs_extended();
    let mut last_link = if extended {
        cmd.encode_extended()?
    } else {
        let mut links = cmd.encode_chain();
        let last = links.pop().unwrap_or_default();
        for link in links {
            let resp = Response::from_raw(t.transmit(&link)?)?;
            if resp.sw != 0x9000 {
                // The chain is broken; report the card's reason.
                return Ok(resp);
            }
        }
        last
    };
    let mut resp = Response::from_raw(t.transmit(&last_link)?)?;
    if resp.sw >> 8 == 0x6C {
        // Wrong Le: the card tells the right one; send the last link again with it.
        let right = usize::from((resp.sw & 0xFF) as u8);
        let right = if right == 0 { SHORT_MAX_LE } else { right };
        if let Some(le_byte) = last_link.last_mut() {
            if !extended && cmd.le.is_some() {
                *le_byte = (right % 256) as u8;
                resp = Response::from_raw(t.transmit(&last_link)?)?;
            }
        }
    }
    let mut data = std::mem::take(&mut resp.data);
    let mut sw = resp.sw;
    let mut rounds = 0;
    while sw >> 8 == 0x61 {
        rounds += 1;
        if rounds > MAX_GET_RESPONSE_ROUNDS {
            return Err(Error::Protocol("endless 61xx chain".into()));
        }
        let waiting = usize::from((sw & 0xFF) as u8);
        let le = if waiting == 0 { SHORT_MAX_LE } else { waiting };
        let get = Command::new(0x00, 0xC0, 0x00, 0x00).with_le(le);
        let part = Response::from_raw(t.transmit(&get.encode_chain().concat())?)?;
        data.extend_from_slice(&part.data);
        sw = part.sw;
    }
    Ok(Response { data, sw })
}

/// Sends a command and returns its data if it answered `9000`, else the error its SW means.
pub fn transceive<T: Transport + ?Sized>(t: &mut T, cmd: &Command) -> Result<Vec<u8>> {
    exchange(t, cmd)?.ok()
}

/// Reads the whole current EF: one READ BINARY with extended Le `00 00 00` (65536) when the
/// transport takes extended length, otherwise short READ BINARYs by offset until a short read.
/// `max` bounds the size accepted (a card answering more is malformed).
pub fn read_binary_all<T: Transport + ?Sized>(
    t: &mut T,
    sfi: Option<u8>,
    max: usize,
) -> Result<Vec<u8>> {
    // The first READ BINARY names the EF by its short identifier (P1 `80|SFI`, offset in P2),
    // which makes it current for the reads by offset that may follow.
    let first_p1 = sfi.map_or(0x00, |sfi| 0x80 | sfi);
    if t.supports_extended_length() {
        let cmd = Command::new(0x00, 0xB0, first_p1, 0x00).with_le(EXTENDED_MAX_LE);
        let data = transceive(t, &cmd)?;
        if data.len() > max {
            return Err(Error::Protocol(format!(
                "file of {} bytes, at most {max} expected",
                data.len()
            )));
        }
        return Ok(data);
    }
    let mut out = Vec::new();
    loop {
        if out.len() > 0x7FFF {
            return Err(Error::Protocol(
                "file longer than READ BINARY offsets".into(),
            ));
        }
        let offset = out.len() as u16;
        let [p1, p2] = offset.to_be_bytes();
        let p1 = if offset == 0 { first_p1 } else { p1 };
        let cmd = Command::new(0x00, 0xB0, p1, p2).with_le(SHORT_MAX_LE);
        let resp = exchange(t, &cmd)?;
        if resp.sw == 0x6B00 && offset > 0 {
            // The file ended exactly at a 256-byte boundary.
            break;
        }
        let part = resp.ok()?;
        let got = part.len();
        out.extend_from_slice(&part);
        if out.len() > max {
            return Err(Error::Protocol(format!(
                "file longer than the {max} bytes expected"
            )));
        }
        if got < SHORT_MAX_LE {
            break;
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// A transport that checks each APDU sent against a script and answers from it.
    struct Scripted {
        script: VecDeque<(Vec<u8>, Vec<u8>)>,
        extended: bool,
    }

    impl Scripted {
        fn new(extended: bool, script: &[(&str, &str)]) -> Scripted {
            Scripted {
                script: script
                    .iter()
                    .map(|(c, r)| (hex::decode(c).unwrap(), hex::decode(r).unwrap()))
                    .collect(),
                extended,
            }
        }
        fn done(&self) {
            assert!(self.script.is_empty(), "left over: {:?}", self.script);
        }
    }

    impl Transport for Scripted {
        fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>> {
            let (expected, answer) = self.script.pop_front().expect("unexpected APDU");
            assert_eq!(hex::encode(apdu), hex::encode(&expected));
            Ok(answer)
        }
        fn supports_extended_length(&self) -> bool {
            self.extended
        }
        fn exclusive(&mut self, f: &mut dyn FnMut(&mut dyn Transport) -> Result<()>) -> Result<()> {
            f(self)
        }
        fn name(&self) -> String {
            "scripted".into()
        }
    }

    #[test]
    fn short_encodings() {
        let c = Command::new(0, 0xA4, 2, 0x0C).with_data([0x00, 0x04]);
        assert_eq!(
            c.encode_chain(),
            vec![hex::decode("00a4020c020004").unwrap()]
        );
        let c = Command::new(0, 0xB0, 0, 0).with_le(256);
        assert_eq!(c.encode_chain(), vec![hex::decode("00b0000000").unwrap()]);
        let c = Command::new(0, 0x20, 0, 0x80);
        assert_eq!(c.encode_chain(), vec![hex::decode("00200080").unwrap()]);
        let c = Command::new(0, 0x84, 0, 0).with_le(16);
        assert_eq!(c.encode_chain(), vec![hex::decode("0084000010").unwrap()]);
    }

    #[test]
    fn extended_encodings() {
        let c = Command::new(0, 0xB0, 0, 0).with_le(65536);
        assert_eq!(
            c.encode_extended().unwrap(),
            hex::decode("00b00000000000").unwrap()
        );
        let c = Command::new(0, 0xD6, 0, 0).with_data(vec![0xAA; 300]);
        let e = c.encode_extended().unwrap();
        assert_eq!(&e[..7], &[0, 0xD6, 0, 0, 0, 0x01, 0x2C]);
        assert_eq!(e.len(), 7 + 300);
        let c = Command::new(0x80, 0x2A, 0, 0x80)
            .with_data(vec![1; 32])
            .with_le(65536);
        let e = c.encode_extended().unwrap();
        assert_eq!(&e[e.len() - 2..], &[0, 0]);
        assert_eq!(&e[4..7], &[0, 0, 32]);
    }

    #[test]
    fn long_data_is_chained_in_255_byte_links() {
        let data: Vec<u8> = (0..600u32).map(|i| i as u8).collect();
        let c = Command::new(0, 0xD6, 0, 0).with_data(data.clone());
        let links = c.encode_chain();
        assert_eq!(links.len(), 3);
        assert_eq!(&links[0][..5], &[0x10, 0xD6, 0, 0, 255]);
        assert_eq!(&links[1][..5], &[0x10, 0xD6, 0, 0, 255]);
        assert_eq!(&links[2][..5], &[0x00, 0xD6, 0, 0, 90]);
        let joined: Vec<u8> = links.iter().flat_map(|l| l[5..].to_vec()).collect();
        assert_eq!(joined, data);
        // Exactly 255 bytes is one short APDU, 256 is a chain of two.
        assert_eq!(
            Command::new(0, 0xD6, 0, 0)
                .with_data(vec![0; 255])
                .encode_chain()
                .len(),
            1
        );
        assert_eq!(
            Command::new(0, 0xD6, 0, 0)
                .with_data(vec![0; 256])
                .encode_chain()
                .len(),
            2
        );
    }

    #[test]
    fn chain_sent_link_by_link_without_extended() {
        let data = vec![0x55u8; 300];
        let first = format!("10d60000ff{}", "55".repeat(255));
        let last = format!("00d600002d{}", "55".repeat(45));
        let mut t = Scripted::new(false, &[(&first, "9000"), (&last, "9000")]);
        let c = Command::new(0, 0xD6, 0, 0).with_data(data);
        assert_eq!(transceive(&mut t, &c).unwrap(), Vec::<u8>::new());
        t.done();
    }

    #[test]
    fn broken_chain_reports_the_cards_reason() {
        let first = format!("10d60000ff{}", "55".repeat(255));
        let mut t = Scripted::new(false, &[(&first, "6982")]);
        let c = Command::new(0, 0xD6, 0, 0).with_data(vec![0x55; 300]);
        assert!(matches!(
            transceive(&mut t, &c),
            Err(Error::SecurityStatusNotSatisfied)
        ));
        t.done();
    }

    #[test]
    fn extended_when_the_transport_takes_it() {
        let cmd = format!("00d600000001 2c{}", "55".repeat(300)).replace(' ', "");
        let mut t = Scripted::new(true, &[(&cmd, "9000")]);
        let c = Command::new(0, 0xD6, 0, 0).with_data(vec![0x55; 300]);
        transceive(&mut t, &c).unwrap();
        t.done();
    }

    #[test]
    fn get_response_loop_joins_the_parts() {
        let mut t = Scripted::new(
            false,
            &[
                ("00b0000000", &format!("{}6100", "01".repeat(256))),
                ("00c0000000", &format!("{}6110", "02".repeat(256))),
                ("00c0000010", &format!("{}9000", "03".repeat(16))),
            ],
        );
        let c = Command::new(0, 0xB0, 0, 0).with_le(256);
        let data = transceive(&mut t, &c).unwrap();
        assert_eq!(data.len(), 256 + 256 + 16);
        assert_eq!(data[0], 1);
        assert_eq!(data[300], 2);
        assert_eq!(data[527], 3);
        t.done();
    }

    #[test]
    fn get_response_error_is_reported() {
        let mut t = Scripted::new(false, &[("0084000010", "6105"), ("00c0000005", "6985")]);
        let c = Command::new(0, 0x84, 0, 0).with_le(16);
        assert!(matches!(
            transceive(&mut t, &c),
            Err(Error::ConditionsNotSatisfied)
        ));
        t.done();
    }

    #[test]
    fn wrong_le_is_corrected_once() {
        let mut t = Scripted::new(
            false,
            &[
                ("0084000008", "6c10"),
                ("0084000010", &format!("{}9000", "ab".repeat(16))),
            ],
        );
        let c = Command::new(0, 0x84, 0, 0).with_le(8);
        assert_eq!(transceive(&mut t, &c).unwrap(), vec![0xAB; 16]);
        t.done();
    }

    #[test]
    fn read_binary_by_offset_in_short_reads() {
        let mut t = Scripted::new(
            false,
            &[
                ("00b0000000", &format!("{}9000", "11".repeat(256))),
                ("00b0010000", &format!("{}9000", "22".repeat(256))),
                ("00b0020000", &format!("{}9000", "33".repeat(10))),
            ],
        );
        let data = read_binary_all(&mut t, None, 2048).unwrap();
        assert_eq!(data.len(), 522);
        assert_eq!(data[521], 0x33);
        t.done();
    }

    #[test]
    fn read_binary_by_short_identifier_then_by_offset() {
        // Short reads: the first names EF 000A by its short identifier, the next go on by offset
        // in the EF it made current.
        let mut t = Scripted::new(
            false,
            &[
                ("00b08a0000", &format!("{}9000", "11".repeat(256))),
                ("00b0010000", &format!("{}9000", "22".repeat(5))),
            ],
        );
        assert_eq!(
            read_binary_all(&mut t, Some(0x0A), 2048).unwrap().len(),
            261
        );
        t.done();
        // Extended: one APDU for the whole certificate.
        let mut t = Scripted::new(
            true,
            &[("00b08a00000000", &format!("{}9000", "11".repeat(1200)))],
        );
        assert_eq!(
            read_binary_all(&mut t, Some(0x0A), 2048).unwrap().len(),
            1200
        );
        t.done();
    }

    #[test]
    fn read_binary_ending_on_a_boundary() {
        let mut t = Scripted::new(
            false,
            &[
                ("00b0000000", &format!("{}9000", "11".repeat(256))),
                ("00b0010000", "6b00"),
            ],
        );
        assert_eq!(read_binary_all(&mut t, None, 2048).unwrap().len(), 256);
        t.done();
    }

    #[test]
    fn read_binary_in_one_extended_apdu() {
        let mut t = Scripted::new(
            true,
            &[("00b00000000000", &format!("{}9000", "11".repeat(700)))],
        );
        assert_eq!(read_binary_all(&mut t, None, 2048).unwrap().len(), 700);
        t.done();
        let mut t = Scripted::new(
            true,
            &[("00b00000000000", &format!("{}9000", "11".repeat(700)))],
        );
        assert!(matches!(
            read_binary_all(&mut t, None, 100),
            Err(Error::Protocol(_))
        ));
    }

    #[test]
    fn read_binary_refused() {
        let mut t = Scripted::new(false, &[("00b0000000", "6982")]);
        assert!(matches!(
            read_binary_all(&mut t, None, 2048),
            Err(Error::SecurityStatusNotSatisfied)
        ));
    }

    #[test]
    fn response_without_sw_is_malformed() {
        assert!(matches!(
            Response::from_raw(vec![0x90]),
            Err(Error::Protocol(_))
        ));
    }
}
