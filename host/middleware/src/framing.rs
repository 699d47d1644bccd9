//! Framing: how one command travels over any transport — short or extended encoding (the
//! card's own encoder, [`juki_card::apdu::CommandApdu::encode`]), command chaining (CLA bit
//! `10`, 255-byte links) for long data, `61xx` → GET RESPONSE, `6Cxx` → the same command again
//! with the right Le. What the commands are is the card's vocabulary
//! ([`juki_card::command::Command`], built by [`crate::card`]).

use crate::error::{Error, Result};
use crate::transport::Transport;

use juki_card::apdu::CommandApdu;
use juki_card::command::{Ins, MAX_EXTENDED_NE, MAX_SHORT_DATA, MAX_SHORT_NE};
use juki_card::status::Status;

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
        self.data.len() > MAX_SHORT_DATA || self.le.is_some_and(|le| le > MAX_SHORT_NE)
    }

    /// One APDU of this header, `data` and Ne, in the card's own encoding
    /// ([`CommandApdu::encode`], the inverse of the card's parser).
    fn encode_one(&self, cla: u8, data: &[u8], ne: usize, extended: bool) -> Result<Vec<u8>> {
        let apdu = CommandApdu {
            cla,
            ins: self.ins,
            p1: self.p1,
            p2: self.p2,
            data,
            ne,
            extended,
        };
        let mut out = vec![0; apdu.encoded_len()];
        apdu.encode(&mut out).map_err(|_| {
            Error::InvalidInput(format!("command data too long: {} bytes", data.len()))
        })?;
        Ok(out)
    }

    /// The extended encoding (ISO/IEC 7816-4 §5.1): `00 Lc1 Lc2 data [Le1 Le2]`, or
    /// `00 Le1 Le2` without data. Data up to 65535 bytes.
    pub fn encode_extended(&self) -> Result<Vec<u8>> {
        let ne = self.le.map_or(0, |le| le.min(MAX_EXTENDED_NE));
        self.encode_one(self.cla, &self.data, ne, true)
    }

    /// The short encoding as a chain: links of at most 255 data bytes, CLA bit `10` set on all
    /// but the last, Le (at most 256) only on the last. A command with ≤ 255 data bytes is a
    /// single link.
    pub fn encode_chain(&self) -> Result<Vec<Vec<u8>>> {
        let ne = self.le.map_or(0, |le| le.min(MAX_SHORT_NE));
        if self.data.len() <= MAX_SHORT_DATA {
            return Ok(vec![self.encode_one(self.cla, &self.data, ne, false)?]);
        }
        let links: Vec<&[u8]> = self.data.chunks(MAX_SHORT_DATA).collect();
        let count = links.len();
        links
            .into_iter()
            .enumerate()
            .map(|(i, chunk)| {
                let last = i + 1 == count;
                let cla = if last { self.cla } else { self.cla | 0x10 };
                self.encode_one(cla, chunk, if last { ne } else { 0 }, false)
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
        let mut links = cmd.encode_chain()?;
        let last = links.pop().unwrap_or_default();
        for link in links {
            let resp = Response::from_raw(t.transmit(&link)?)?;
            if Status::from_sw(resp.sw) != Status::Ok {
                // The chain is broken; report the card's reason.
                return Ok(resp);
            }
        }
        last
    };
    let mut resp = Response::from_raw(t.transmit(&last_link)?)?;
    if let Status::WrongLe(right) = Status::from_sw(resp.sw) {
        // Wrong Le: the card tells the right one (`00` = 256); send the last link again with it.
        if let Some(le_byte) = last_link.last_mut() {
            if !extended && cmd.le.is_some() {
                *le_byte = right;
                resp = Response::from_raw(t.transmit(&last_link)?)?;
            }
        }
    }
    let mut data = std::mem::take(&mut resp.data);
    let mut sw = resp.sw;
    let mut rounds = 0;
    while let Status::MoreData(waiting) = Status::from_sw(sw) {
        rounds += 1;
        if rounds > MAX_GET_RESPONSE_ROUNDS {
            return Err(Error::Protocol("endless 61xx chain".into()));
        }
        let le = if waiting == 0 {
            MAX_SHORT_NE
        } else {
            usize::from(waiting)
        };
        let get =
            Command::new(Ins::GetResponse.cla(), Ins::GetResponse.byte(), 0x00, 0x00).with_le(le);
        let part = Response::from_raw(t.transmit(&get.encode_chain()?.concat())?)?;
        data.extend_from_slice(&part.data);
        sw = part.sw;
    }
    Ok(Response { data, sw })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::JukiCard;
    use juki_card::files::EfId;

    /// The data of a `9000` answer (else the error).
    fn transceive<T: Transport + ?Sized>(t: &mut T, cmd: &Command) -> Result<Vec<u8>> {
        exchange(t, cmd)?.ok()
    }
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
            c.encode_chain().unwrap(),
            vec![hex::decode("00a4020c020004").unwrap()]
        );
        let c = Command::new(0, 0xB0, 0, 0).with_le(256);
        assert_eq!(
            c.encode_chain().unwrap(),
            vec![hex::decode("00b0000000").unwrap()]
        );
        let c = Command::new(0, 0x20, 0, 0x80);
        assert_eq!(
            c.encode_chain().unwrap(),
            vec![hex::decode("00200080").unwrap()]
        );
        let c = Command::new(0, 0x84, 0, 0).with_le(16);
        assert_eq!(
            c.encode_chain().unwrap(),
            vec![hex::decode("0084000010").unwrap()]
        );
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
        let links = c.encode_chain().unwrap();
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
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            Command::new(0, 0xD6, 0, 0)
                .with_data(vec![0; 256])
                .encode_chain()
                .unwrap()
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
        exchange(&mut t, &c).unwrap();
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
        let data = JukiCard::new(&mut t).read_current(2048).unwrap();
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
            JukiCard::new(&mut t)
                .read_file(EfId::AuthCert, 2048)
                .unwrap()
                .len(),
            261
        );
        t.done();
        // Extended: one APDU for the whole certificate.
        let mut t = Scripted::new(
            true,
            &[("00b08a00000000", &format!("{}9000", "11".repeat(1200)))],
        );
        assert_eq!(
            JukiCard::new(&mut t)
                .read_file(EfId::AuthCert, 2048)
                .unwrap()
                .len(),
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
        assert_eq!(JukiCard::new(&mut t).read_current(2048).unwrap().len(), 256);
        t.done();
    }

    #[test]
    fn read_binary_in_one_extended_apdu() {
        let mut t = Scripted::new(
            true,
            &[("00b00000000000", &format!("{}9000", "11".repeat(700)))],
        );
        assert_eq!(JukiCard::new(&mut t).read_current(2048).unwrap().len(), 700);
        t.done();
        let mut t = Scripted::new(
            true,
            &[("00b00000000000", &format!("{}9000", "11".repeat(700)))],
        );
        assert!(matches!(
            JukiCard::new(&mut t).read_current(100),
            Err(Error::Protocol(_))
        ));
    }

    #[test]
    fn read_binary_refused() {
        let mut t = Scripted::new(false, &[("00b0000000", "6982")]);
        assert!(matches!(
            JukiCard::new(&mut t).read_current(2048),
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
