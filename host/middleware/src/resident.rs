//! The resident data on the card (住基AP) and its BER-TLV encodings (docs/apdu.md, "Data
//! formats"): the 4 info (基本4情報: name, address, birth date, sex), the change information
//! (付随情報) and the card information. TLV itself comes from [`juki_card::tlv`], the same code the
//! card uses.

use juki_card::files::EfId;
use std::fmt;

use juki_card::tlv;

use crate::date::{self, Date};
use crate::error::{Error, Result};
use crate::resident_code::ResidentCode;

const TAG_INFO: u16 = 0xFF20;
const TAG_NAME: u16 = 0xDF21;
const TAG_ADDRESS: u16 = 0xDF22;
const TAG_BIRTH: u16 = 0xDF23;
const TAG_SEX: u16 = 0xDF24;
const TAG_CHANGES: u16 = 0xFF30;
const TAG_CARD: u16 = 0xFF40;
const TAG_SERIAL: u16 = 0xDF41;
const TAG_MUNICIPALITY: u16 = 0xDF42;
const TAG_ISSUED: u16 = 0xDF43;
const TAG_EXPIRES: u16 = 0xDF44;
const TAG_PHOTO: u16 = 0xDF45;

/// The capacity of a binary EF, from the card's own file table.
pub fn capacity(ef: EfId) -> usize {
    ef.capacity().unwrap_or(0)
}
/// Longest card serial.
pub const MAX_SERIAL: usize = 16;
/// Validity of a card: ten years from issue (住基カードの有効期限は発行日から10年).
pub const VALIDITY_YEARS: u32 = 10;

/// Appends one data object to `out`.
pub(crate) fn put(out: &mut Vec<u8>, tag: u16, value: &[u8]) -> Result<()> {
    let header = tlv::encode_header(tag, value.len())
        .map_err(|_| Error::InvalidInput(format!("value of tag {tag:04X} too long")))?;
    out.extend_from_slice(&header);
    out.extend_from_slice(value);
    Ok(())
}

fn malformed(what: &str) -> Error {
    Error::Protocol(format!("{what} on the card is malformed"))
}

/// Text read from the card: UTF-8 without control characters (a card must not be able to
/// clear the clerk's screen, overwrite a line or add a fake one when juki prints its data).
fn utf8(bytes: &[u8], what: &str) -> Result<String> {
    let text = String::from_utf8(bytes.to_vec()).map_err(|_| malformed(what))?;
    if text.chars().any(char::is_control) {
        return Err(Error::Protocol(format!(
            "{what} on the card holds control characters"
        )));
    }
    Ok(text)
}

/// Sex as recorded in the resident register: 1 male, 2 female, 9 not applicable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sex {
    /// `1` 男.
    Male,
    /// `2` 女.
    Female,
    /// `9` not applicable (適用不能).
    NotApplicable,
}

impl Sex {
    /// The code stored on the card.
    pub fn code(self) -> u8 {
        match self {
            Sex::Male => b'1',
            Sex::Female => b'2',
            Sex::NotApplicable => b'9',
        }
    }

    /// From the stored code.
    pub fn from_code(code: u8) -> Option<Sex> {
        match code {
            b'1' => Some(Sex::Male),
            b'2' => Some(Sex::Female),
            b'9' => Some(Sex::NotApplicable),
            _ => None,
        }
    }

    /// From what a clerk types: `1`/`2`/`9`, `male`/`female`, `男`/`女`.
    pub fn parse(text: &str) -> Result<Sex> {
        match text.trim() {
            "1" | "male" | "m" | "男" => Ok(Sex::Male),
            "2" | "female" | "f" | "女" => Ok(Sex::Female),
            "9" | "none" | "not-applicable" => Ok(Sex::NotApplicable),
            other => Err(Error::InvalidInput(format!(
                "sex must be 1 (male, 男), 2 (female, 女) or 9 (not applicable), not \"{other}\""
            ))),
        }
    }
}

impl fmt::Display for Sex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Sex::Male => "男 (male)",
            Sex::Female => "女 (female)",
            Sex::NotApplicable => "- (not applicable)",
        })
    }
}

/// The 4 info (基本4情報), 住基 EF 0002.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FourInfo {
    /// 氏名.
    pub name: String,
    /// 住所.
    pub address: String,
    /// 生年月日.
    pub birth: Date,
    /// 性別.
    pub sex: Sex,
}

impl FourInfo {
    /// Checks a new record: name and address present, single-line, and it fits the file.
    pub fn new(name: &str, address: &str, birth: Date, sex: Sex) -> Result<FourInfo> {
        for (what, value) in [("name (氏名)", name), ("address (住所)", address)] {
            if value.trim().is_empty() {
                return Err(Error::InvalidInput(format!("the {what} is empty")));
            }
            if value.chars().any(char::is_control) {
                return Err(Error::InvalidInput(format!(
                    "the {what} contains control characters"
                )));
            }
        }
        let info = FourInfo {
            name: name.trim().to_string(),
            address: address.trim().to_string(),
            birth,
            sex,
        };
        let capacity = capacity(EfId::FourInfo);
        if info.encode()?.len() > capacity {
            return Err(Error::InvalidInput(format!(
                "name and address are too long for the card ({capacity} bytes)"
            )));
        }
        Ok(info)
    }

    /// Birth `MMDD` as ASCII (for the weak-PIN rule).
    pub fn birth_mmdd(&self) -> [u8; 4] {
        let ascii = self.birth.to_ascii();
        [ascii[4], ascii[5], ascii[6], ascii[7]]
    }

    /// `FF20 { DF21 name, DF22 address, DF23 birth, DF24 sex }`.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let mut inner = Vec::new();
        put(&mut inner, TAG_NAME, self.name.as_bytes())?;
        put(&mut inner, TAG_ADDRESS, self.address.as_bytes())?;
        put(&mut inner, TAG_BIRTH, &self.birth.to_ascii())?;
        put(&mut inner, TAG_SEX, &[self.sex.code()])?;
        let mut out = Vec::new();
        put(&mut out, TAG_INFO, &inner)?;
        Ok(out)
    }

    /// Parses 住基 EF 0002: all four objects, in order, nothing else.
    pub fn decode(data: &[u8]) -> Result<FourInfo> {
        let what = "4 info (基本4情報)";
        let inner = tlv::single(data, TAG_INFO).map_err(|_| malformed(what))?;
        let mut r = tlv::Reader::new(inner);
        let name = r.expect(TAG_NAME).map_err(|_| malformed(what))?;
        let address = r.expect(TAG_ADDRESS).map_err(|_| malformed(what))?;
        let birth = r.expect(TAG_BIRTH).map_err(|_| malformed(what))?;
        let sex = r.expect(TAG_SEX).map_err(|_| malformed(what))?;
        if !r.is_empty() {
            return Err(malformed(what));
        }
        let sex = match sex {
            [code] => Sex::from_code(*code),
            _ => None,
        }
        .ok_or_else(|| malformed(what))?;
        Ok(FourInfo {
            name: utf8(name, what)?,
            address: utf8(address, what)?,
            birth: Date::from_ascii(birth).ok_or_else(|| malformed(what))?,
            sex,
        })
    }
}

/// The last change of one item: date and reason (e.g. 転居, 転入, 婚姻).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Date of the change.
    pub date: Date,
    /// Reason, free text.
    pub reason: String,
}

/// The change information (付随情報), 住基 EF 0003: each item optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeInfo {
    /// Last change of the name.
    pub name: Option<Change>,
    /// Last change of the address.
    pub address: Option<Change>,
    /// Last change of the birth date.
    pub birth: Option<Change>,
    /// Last change of the sex.
    pub sex: Option<Change>,
}

impl ChangeInfo {
    fn items(&self) -> [(u16, &Option<Change>); 4] {
        [
            (0xDF31, &self.name),
            (0xDF32, &self.address),
            (0xDF33, &self.birth),
            (0xDF34, &self.sex),
        ]
    }

    /// Whether no change is recorded.
    pub fn is_empty(&self) -> bool {
        self.items().iter().all(|(_, c)| c.is_none())
    }

    /// `FF30 { [DF31 date‖reason] [DF32 …] [DF33 …] [DF34 …] }`.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let mut inner = Vec::new();
        for (tag, change) in self.items() {
            if let Some(c) = change {
                let mut value = c.date.to_ascii().to_vec();
                value.extend_from_slice(c.reason.as_bytes());
                put(&mut inner, tag, &value)?;
            }
        }
        let mut out = Vec::new();
        put(&mut out, TAG_CHANGES, &inner)?;
        if out.len() > capacity(EfId::Changes) {
            return Err(Error::InvalidInput(
                "change reasons are too long for the card".into(),
            ));
        }
        Ok(out)
    }

    /// Parses 住基 EF 0003; an empty file means no change recorded.
    pub fn decode(data: &[u8]) -> Result<ChangeInfo> {
        let what = "change information (付随情報)";
        if data.is_empty() {
            return Ok(ChangeInfo::default());
        }
        let inner = tlv::single(data, TAG_CHANGES).map_err(|_| malformed(what))?;
        let mut out = ChangeInfo::default();
        for item in tlv::Reader::new(inner) {
            let item = item.map_err(|_| malformed(what))?;
            let slot = match item.tag {
                0xDF31 => &mut out.name,
                0xDF32 => &mut out.address,
                0xDF33 => &mut out.birth,
                0xDF34 => &mut out.sex,
                _ => return Err(malformed(what)),
            };
            let (date, reason) = item
                .value
                .split_at_checked(8)
                .ok_or_else(|| malformed(what))?;
            *slot = Some(Change {
                date: Date::from_ascii(date).ok_or_else(|| malformed(what))?,
                reason: utf8(reason, what)?,
            });
        }
        Ok(out)
    }
}

/// A 6-digit 地方公共団体コード with a valid check digit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MunicipalityCode(String);

impl MunicipalityCode {
    /// Validates six ASCII digits whose last one is the JIS X 0402 check digit (see
    /// [`municipality_check_digit`]).
    pub fn parse(text: &str) -> Result<MunicipalityCode> {
        let b = text.as_bytes();
        if b.len() != 6 || !b.iter().all(u8::is_ascii_digit) {
            return Err(Error::InvalidInput(format!(
                "\"{text}\" is not a 6-digit local government code (地方公共団体コード, e.g. 131016)"
            )));
        }
        let mut five = [0u8; 5];
        for (d, c) in five.iter_mut().zip(b) {
            *d = c - b'0';
        }
        if municipality_check_digit(&five) != b[5] - b'0' {
            return Err(Error::InvalidInput(format!(
                "the check digit of the local government code {text} is wrong (検査数字が一致しません)"
            )));
        }
        Ok(MunicipalityCode(text.to_string()))
    }

    /// The six digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MunicipalityCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The check digit (検査数字) of a 全国地方公共団体コード (JIS X 0402), from its first five digits.
///
/// Multiply the five digits by 6, 5, 4, 3, 2 (left to right), sum, take the remainder modulo 11,
/// subtract it from 11 and keep the last decimal digit: `(11 − (Σ dᵢ·wᵢ mod 11)) mod 10` (so a
/// remainder of 0 gives 1, and 1 gives 0). Sources consulted: the description of the 6-digit
/// code's check digit at citycode.fmd4.com ("chigai") and wiki.hgotoh.jp ("地方公共団体コードの
/// チェックデジット検証"), which agree; e.g. 13101 (千代田区) → 131016, 01100 (札幌市) → 011002.
pub fn municipality_check_digit(five: &[u8; 5]) -> u8 {
    const WEIGHTS: [u32; 5] = [6, 5, 4, 3, 2];
    let sum: u32 = five
        .iter()
        .zip(WEIGHTS)
        .map(|(&d, w)| u32::from(d) * w)
        .sum();
    ((11 - sum % 11) % 10) as u8
}

/// The card information, 住基 EF 0004 (readable without PIN).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardInfo {
    /// Card serial number (ASCII, at most 16).
    pub serial: String,
    /// Issuing municipality (交付地).
    pub municipality: MunicipalityCode,
    /// Issue date (交付年月日).
    pub issued: Date,
    /// Expiry date (有効期限): issue + 10 years.
    pub expires: Date,
    /// 顔写真付き.
    pub photo: bool,
}

impl CardInfo {
    /// Card information for a card issued on `issued`, valid [`VALIDITY_YEARS`] years.
    pub fn new(
        serial: &str,
        municipality: MunicipalityCode,
        issued: Date,
        photo: bool,
    ) -> Result<CardInfo> {
        if serial.is_empty()
            || serial.len() > MAX_SERIAL
            || !serial
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-')
        {
            return Err(Error::InvalidInput(format!(
                "the card serial must be 1 to {MAX_SERIAL} characters of A-Z, 0-9 or '-'"
            )));
        }
        let expires = date::add_years(issued, VALIDITY_YEARS)
            .ok_or_else(|| Error::InvalidInput("issue date out of range".into()))?;
        Ok(CardInfo {
            serial: serial.to_string(),
            municipality,
            issued,
            expires,
            photo,
        })
    }

    /// `FF40 { DF41 serial, DF42 municipality, DF43 issued, DF44 expires, DF45 photo }`.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let mut inner = Vec::new();
        put(&mut inner, TAG_SERIAL, self.serial.as_bytes())?;
        put(
            &mut inner,
            TAG_MUNICIPALITY,
            self.municipality.as_str().as_bytes(),
        )?;
        put(&mut inner, TAG_ISSUED, &self.issued.to_ascii())?;
        put(&mut inner, TAG_EXPIRES, &self.expires.to_ascii())?;
        put(&mut inner, TAG_PHOTO, if self.photo { b"1" } else { b"0" })?;
        let mut out = Vec::new();
        put(&mut out, TAG_CARD, &inner)?;
        Ok(out)
    }

    /// Parses 住基 EF 0004.
    pub fn decode(data: &[u8]) -> Result<CardInfo> {
        let what = "card information";
        let m = |_| malformed(what);
        let inner = tlv::single(data, TAG_CARD).map_err(m)?;
        let mut r = tlv::Reader::new(inner);
        let serial = r.expect(TAG_SERIAL).map_err(m)?;
        let municipality = r.expect(TAG_MUNICIPALITY).map_err(m)?;
        let issued = r.expect(TAG_ISSUED).map_err(m)?;
        let expires = r.expect(TAG_EXPIRES).map_err(m)?;
        let photo = r.expect(TAG_PHOTO).map_err(m)?;
        let serial_ok = serial
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'-');
        if !r.is_empty() || serial.len() > MAX_SERIAL || serial.is_empty() || !serial_ok {
            return Err(malformed(what));
        }
        let municipality =
            MunicipalityCode::parse(&utf8(municipality, what)?).map_err(|_| malformed(what))?;
        Ok(CardInfo {
            serial: utf8(serial, what)?,
            municipality,
            issued: Date::from_ascii(issued).ok_or_else(|| malformed(what))?,
            expires: Date::from_ascii(expires).ok_or_else(|| malformed(what))?,
            photo: match photo {
                b"0" => false,
                b"1" => true,
                _ => return Err(malformed(what)),
            },
        })
    }
}

/// Everything the 住基 PIN opens: 住民票コード, 4 info and change information.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResidentRecord {
    /// 住民票コード.
    pub code: ResidentCode,
    /// 基本4情報.
    pub info: FourInfo,
    /// 付随情報.
    pub changes: ChangeInfo,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> FourInfo {
        FourInfo::new(
            "住基 花子",
            "東京都千代田区千代田1-1",
            Date::from_ymd(1985, 4, 15).unwrap(),
            Sex::Female,
        )
        .unwrap()
    }

    #[test]
    fn four_info_round_trip_and_exact_bytes() {
        let info = FourInfo::new("A", "B", Date::from_ymd(2000, 1, 2).unwrap(), Sex::Male).unwrap();
        let bytes = info.encode().unwrap();
        let expected = hex::decode(concat!(
            "ff2017",
            "df210141",
            "df220142",
            "df23083230303030313032",
            "df240131"
        ))
        .unwrap();
        assert_eq!(bytes, expected);
        assert_eq!(FourInfo::decode(&bytes).unwrap(), info);
        let info = sample();
        assert_eq!(FourInfo::decode(&info.encode().unwrap()).unwrap(), info);
        assert_eq!(&info.birth_mmdd(), b"0415");
    }

    #[test]
    fn text_from_the_card_with_control_characters_is_refused() {
        // Found by fuzzing (fuzz/regressions/host_card): a card must not drive the terminal.
        let mut evil = FourInfo::new("A", "B", Date::from_ymd(2000, 1, 2).unwrap(), Sex::Male)
            .unwrap()
            .encode()
            .unwrap();
        let at = evil.iter().position(|b| *b == b'A').unwrap();
        evil[at] = 0x1B; // ESC
        let e = FourInfo::decode(&evil).unwrap_err();
        assert!(e.to_string().contains("control characters"), "{e}");
        let card = CardInfo::new(
            "JK-0001",
            MunicipalityCode::parse("131016").unwrap(),
            Date::from_ymd(2026, 4, 1).unwrap(),
            false,
        )
        .unwrap();
        let mut bytes = card.encode().unwrap();
        let at = bytes.windows(7).position(|w| w == b"JK-0001").unwrap();
        bytes[at + 2] = b'\r';
        assert!(CardInfo::decode(&bytes).is_err());
        let changes = ChangeInfo {
            address: Some(Change {
                date: Date::from_ymd(2026, 4, 1).unwrap(),
                reason: "move".into(),
            }),
            ..ChangeInfo::default()
        };
        let mut bytes = changes.encode().unwrap();
        let n = bytes.len();
        bytes[n - 1] = 0x07; // BEL in the reason
        let e = ChangeInfo::decode(&bytes).unwrap_err();
        assert!(e.to_string().contains("control characters"), "{e}");
    }

    #[test]
    fn long_four_info_uses_long_lengths() {
        let address = "東京都千代田区千代田一丁目一番一号".repeat(8);
        let info = FourInfo::new(
            "住基 花子",
            &address,
            Date::from_ymd(1985, 4, 15).unwrap(),
            Sex::Female,
        )
        .unwrap();
        let bytes = info.encode().unwrap();
        assert!(bytes.len() > 256);
        assert_eq!(&bytes[..3], &[0xFF, 0x20, 0x82]);
        assert_eq!(FourInfo::decode(&bytes).unwrap(), info);
        let too_long = "あ".repeat(400);
        assert!(FourInfo::new(
            "x",
            &too_long,
            Date::from_ymd(1985, 4, 15).unwrap(),
            Sex::Female
        )
        .is_err());
    }

    #[test]
    fn malformed_four_info_is_refused() {
        let good = sample().encode().unwrap();
        assert!(FourInfo::decode(&good[..good.len() - 1]).is_err());
        assert!(FourInfo::decode(&[]).is_err());
        // Sex 3 is not a code.
        let mut bad = good.clone();
        *bad.last_mut().unwrap() = b'3';
        assert!(FourInfo::decode(&bad).is_err());
        // Birth date 19850230 is not a real date.
        let raw = hex::decode("ff2017df210141df220142df23083139383530323330df240131").unwrap();
        assert!(FourInfo::decode(&raw).is_err());
        // Objects out of order.
        let raw = hex::decode("ff2017df220142df210141df23083139383530343135df240131").unwrap();
        assert!(FourInfo::decode(&raw).is_err());
        assert!(FourInfo::new(" ", "x", Date::from_ymd(1985, 4, 15).unwrap(), Sex::Male).is_err());
        assert!(
            FourInfo::new("a\nb", "x", Date::from_ymd(1985, 4, 15).unwrap(), Sex::Male).is_err()
        );
    }

    #[test]
    fn sex_codes() {
        assert_eq!(Sex::parse("1").unwrap(), Sex::Male);
        assert_eq!(Sex::parse("女").unwrap(), Sex::Female);
        assert_eq!(Sex::parse("9").unwrap(), Sex::NotApplicable);
        assert!(Sex::parse("0").is_err());
        assert!(Sex::parse("3").is_err());
        assert_eq!(Sex::from_code(b'2'), Some(Sex::Female));
        assert_eq!(Sex::from_code(b'0'), None);
    }

    #[test]
    fn change_info_round_trip() {
        assert_eq!(ChangeInfo::decode(&[]).unwrap(), ChangeInfo::default());
        let empty = ChangeInfo::default().encode().unwrap();
        assert_eq!(empty, vec![0xFF, 0x30, 0x00]);
        assert!(ChangeInfo::decode(&empty).unwrap().is_empty());
        let c = ChangeInfo {
            address: Some(Change {
                date: Date::from_ymd(2024, 4, 1).unwrap(),
                reason: "転居".into(),
            }),
            name: Some(Change {
                date: Date::from_ymd(2020, 6, 1).unwrap(),
                reason: "婚姻".into(),
            }),
            ..ChangeInfo::default()
        };
        let bytes = c.encode().unwrap();
        assert_eq!(&bytes[3..6], &[0xDF, 0x31, 8 + 6]);
        assert_eq!(ChangeInfo::decode(&bytes).unwrap(), c);
        assert!(ChangeInfo::decode(&hex::decode("ff3005df3103323032").unwrap()).is_err());
        assert!(ChangeInfo::decode(&hex::decode("ff3003df3500").unwrap()).is_err());
    }

    #[test]
    fn municipality_codes() {
        // Worked by hand: 1·6 + 3·5 + 1·4 + 0·3 + 1·2 = 27; 27 mod 11 = 5; 11 − 5 = 6.
        assert_eq!(municipality_check_digit(&[1, 3, 1, 0, 1]), 6);
        // 0·6 + 1·5 + 1·4 + 0·3 + 0·2 = 9; 11 − 9 = 2 (札幌市 011002).
        assert_eq!(municipality_check_digit(&[0, 1, 1, 0, 0]), 2);
        // 2·6 + 7·5 + 1·4 + 0·3 + 0·2 = 51; 51 mod 11 = 7; 11 − 7 = 4 (大阪市 271004).
        assert_eq!(municipality_check_digit(&[2, 7, 1, 0, 0]), 4);
        // Remainder 0 → 11 → 1: 0·6+0·5+0·4+0·3+0·2 = 0.
        assert_eq!(municipality_check_digit(&[0, 0, 0, 0, 0]), 1);
        // Remainder 1 → 10 → 0: 4·3 = 12; 12 mod 11 = 1.
        assert_eq!(municipality_check_digit(&[0, 0, 0, 4, 0]), 0);
        assert!(MunicipalityCode::parse("131016").is_ok());
        assert!(MunicipalityCode::parse("011002").is_ok());
        assert!(MunicipalityCode::parse("271004").is_ok());
        assert!(MunicipalityCode::parse("131017").is_err());
        assert!(MunicipalityCode::parse("13101").is_err());
        assert!(MunicipalityCode::parse("13101a").is_err());
    }

    #[test]
    fn card_info_round_trip() {
        let info = CardInfo::new(
            "JK0000000001",
            MunicipalityCode::parse("131016").unwrap(),
            Date::from_ymd(2026, 4, 1).unwrap(),
            true,
        )
        .unwrap();
        assert_eq!(info.expires, Date::from_ymd(2036, 4, 1).unwrap());
        let bytes = info.encode().unwrap();
        assert!(bytes.len() <= capacity(EfId::CardInfo));
        assert_eq!(CardInfo::decode(&bytes).unwrap(), info);
        assert!(CardInfo::new("", info.municipality.clone(), info.issued, false).is_err());
        assert!(CardInfo::new(
            "X".repeat(17).as_str(),
            info.municipality.clone(),
            info.issued,
            false
        )
        .is_err());
        let mut bad = bytes.clone();
        *bad.last_mut().unwrap() = b'2';
        assert!(CardInfo::decode(&bad).is_err());
    }
}
