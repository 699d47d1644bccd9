//! The records the log commits to, and their canonical encodings (version 1).
//!
//! Every encoding starts with a version byte and a kind byte, integers are big-endian of fixed
//! width, texts are UTF-8 with a 2-byte length, and the decoder refuses anything but the one
//! form the encoder writes, so that a record has exactly one commitment.

use crate::codec::{Reader, Writer};
use crate::error::{invalid, malformed, LogError, Result};

/// The version of the record encodings.
pub const RECORD_VERSION: u8 = 1;

/// What a leaf commits to (the second byte of a record and of a leaf).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum LeafKind {
    /// A provision of 本人確認情報 ([`ProvisionRecord`]).
    Provision = 1,
    /// A municipal counter's audit-trail head ([`AuditAnchor`]).
    AuditAnchor = 2,
}

impl LeafKind {
    pub(crate) fn from_byte(b: u8, what: &'static str) -> Result<Self> {
        match b {
            1 => Ok(LeafKind::Provision),
            2 => Ok(LeafKind::AuditAnchor),
            other => Err(malformed(what, format!("unknown leaf kind {other}"))),
        }
    }
}

/// How the agency asked (as `provision.query` in the national register).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum QueryKind {
    /// By 住民票コード.
    Code = 1,
    /// By the 4 info (name, birth date, sex, address).
    FourInfo = 2,
}

/// The items provided, one bit each in the order of the register's `PROVIDED_FIELDS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FieldSet(u8);

impl FieldSet {
    /// The names, bit 0 first (the register's `provision.fields` values).
    pub const NAMES: [&'static str; 7] = [
        "code",
        "name",
        "birth",
        "sex",
        "address",
        "municipality",
        "status",
    ];
    /// Every item a confirmation provides.
    pub const ALL: FieldSet = FieldSet(0x7f);

    /// The set from its bits; bits beyond the seven items are refused.
    pub fn from_bits(bits: u8) -> Result<Self> {
        if bits & !Self::ALL.0 != 0 {
            return Err(invalid("fields", format!("unknown bits {bits:#04x}")));
        }
        Ok(FieldSet(bits))
    }

    /// The set from the register's names (order and repetition do not matter).
    pub fn from_names<S: AsRef<str>>(names: &[S]) -> Result<Self> {
        let mut bits = 0u8;
        for name in names {
            let name = name.as_ref();
            let i = Self::NAMES
                .iter()
                .position(|n| *n == name)
                .ok_or_else(|| invalid("fields", format!("unknown item {name:?}")))?;
            bits |= 1 << i;
        }
        Ok(FieldSet(bits))
    }

    /// The bits.
    pub fn bits(self) -> u8 {
        self.0
    }

    /// The names of the items in the set, bit 0 first.
    pub fn names(self) -> Vec<&'static str> {
        (0..Self::NAMES.len())
            .filter(|i| self.0 & (1 << i) != 0)
            .map(|i| Self::NAMES[i])
            .collect()
    }
}

/// One provision of a resident's 本人確認情報: who got what, when, why and at whose request.
/// It stays in PostgreSQL; the log holds only its salted commitment.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProvisionRecord {
    /// The provision's number in the register.
    pub id: u64,
    /// The resident's 住民票コード (11 digits).
    pub resident: String,
    /// When, in seconds since the Unix epoch.
    pub at: i64,
    /// The recipient: the agency (e.g. 日本年金機構).
    pub agency: String,
    /// Who asked: the operator or system's identity (certificate subject and serial).
    pub requester: String,
    /// The legal purpose.
    pub purpose: String,
    /// How the agency asked.
    pub query: QueryKind,
    /// The items provided.
    pub fields: FieldSet,
    /// The leaf of this resident's previous provision in the log (`None`: their first). The
    /// resident's provisions form a chain the log commits to, so that a provision withheld
    /// from a disclosure, or deleted, leaves a gap the resident's own client sees.
    pub previous: Option<u64>,
}

/// A municipal counter's audit-trail head, anchored in the same log so that the counter cannot
/// later rewrite its trail unnoticed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AuditAnchor {
    /// The municipality (全国地方公共団体コード, 6 digits).
    pub municipality: String,
    /// The hash at the head of its audit chain.
    pub head: [u8; 32],
    /// The number of records in the chain up to that head.
    pub count: u64,
    /// When, in seconds since the Unix epoch.
    pub at: i64,
}

/// A record of either kind.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Record {
    /// A provision.
    Provision(ProvisionRecord),
    /// A counter's audit anchor.
    AuditAnchor(AuditAnchor),
}

fn digits(field: &'static str, s: &str, len: usize) -> Result<()> {
    if s.len() == len && s.bytes().all(|b| b.is_ascii_digit()) {
        Ok(())
    } else {
        Err(invalid(field, format!("{s:?} is not {len} digits")))
    }
}

fn text(w: &mut Writer, field: &'static str, s: &str) -> Result<()> {
    if s.is_empty() {
        return Err(invalid(field, "empty"));
    }
    let len = u16::try_from(s.len()).map_err(|_| invalid(field, "longer than 65535 bytes"))?;
    w.u16(len);
    w.bytes(s.as_bytes());
    Ok(())
}

impl ProvisionRecord {
    /// The canonical encoding; refuses a record whose fields are not valid.
    pub fn encode(&self) -> Result<Vec<u8>> {
        digits("resident", &self.resident, 11)?;
        if self.fields.bits() == 0 {
            return Err(invalid("fields", "no item provided"));
        }
        let mut w = Writer::new();
        w.u8(RECORD_VERSION);
        w.u8(LeafKind::Provision as u8);
        w.u64(self.id);
        w.bytes(self.resident.as_bytes());
        w.i64(self.at);
        w.u8(self.query as u8);
        w.u8(self.fields.bits());
        text(&mut w, "agency", &self.agency)?;
        text(&mut w, "requester", &self.requester)?;
        text(&mut w, "purpose", &self.purpose)?;
        match self.previous {
            None => w.u8(0),
            Some(leaf) => {
                w.u8(1);
                w.u64(leaf);
            }
        }
        Ok(w.0)
    }

    fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
        const WHAT: &str = "provision record";
        let id = r.u64()?;
        let resident = String::from_utf8(r.take(11)?.to_vec())
            .map_err(|_| malformed(WHAT, "resident code is not ASCII"))?;
        let at = r.i64()?;
        let query = match r.u8()? {
            1 => QueryKind::Code,
            2 => QueryKind::FourInfo,
            other => return Err(malformed(WHAT, format!("unknown query kind {other}"))),
        };
        let fields = FieldSet::from_bits(r.u8()?)?;
        let record = ProvisionRecord {
            id,
            resident,
            at,
            query,
            fields,
            agency: r.text()?,
            requester: r.text()?,
            purpose: r.text()?,
            previous: match r.u8()? {
                0 => None,
                1 => Some(r.u64()?),
                other => return Err(malformed(WHAT, format!("previous-leaf flag {other}"))),
            },
        };
        Ok(record)
    }
}

impl AuditAnchor {
    /// The canonical encoding; refuses an anchor whose fields are not valid.
    pub fn encode(&self) -> Result<Vec<u8>> {
        digits("municipality", &self.municipality, 6)?;
        let mut w = Writer::new();
        w.u8(RECORD_VERSION);
        w.u8(LeafKind::AuditAnchor as u8);
        w.bytes(self.municipality.as_bytes());
        w.bytes(&self.head);
        w.u64(self.count);
        w.i64(self.at);
        Ok(w.0)
    }

    fn decode_body(r: &mut Reader<'_>) -> Result<Self> {
        let municipality = String::from_utf8(r.take(6)?.to_vec())
            .map_err(|_| malformed("audit anchor", "municipality code is not ASCII"))?;
        Ok(AuditAnchor {
            municipality,
            head: r.array()?,
            count: r.u64()?,
            at: r.i64()?,
        })
    }
}

impl Record {
    /// The record's kind.
    pub fn kind(&self) -> LeafKind {
        match self {
            Record::Provision(_) => LeafKind::Provision,
            Record::AuditAnchor(_) => LeafKind::AuditAnchor,
        }
    }

    /// The canonical encoding.
    pub fn encode(&self) -> Result<Vec<u8>> {
        match self {
            Record::Provision(p) => p.encode(),
            Record::AuditAnchor(a) => a.encode(),
        }
    }

    /// Decodes a canonical encoding, refusing any other form (re-encoding must give the same
    /// bytes, so one record has one commitment).
    pub fn decode(bytes: &[u8]) -> Result<Self> {
        const WHAT: &str = "record";
        let mut r = Reader::new(WHAT, bytes);
        let version = r.u8()?;
        if version != RECORD_VERSION {
            return Err(malformed(WHAT, format!("unknown version {version}")));
        }
        let record = match LeafKind::from_byte(r.u8()?, WHAT)? {
            LeafKind::Provision => Record::Provision(ProvisionRecord::decode_body(&mut r)?),
            LeafKind::AuditAnchor => Record::AuditAnchor(AuditAnchor::decode_body(&mut r)?),
        };
        r.finish()?;
        // Validation lives in the encoder; running it refuses e.g. a non-digit code.
        if record.encode()? != bytes {
            return Err(malformed(WHAT, "not in canonical form"));
        }
        Ok(record)
    }
}

impl From<ProvisionRecord> for Record {
    fn from(p: ProvisionRecord) -> Self {
        Record::Provision(p)
    }
}

impl From<AuditAnchor> for Record {
    fn from(a: AuditAnchor) -> Self {
        Record::AuditAnchor(a)
    }
}

impl TryFrom<&[u8]> for Record {
    type Error = LogError;
    fn try_from(bytes: &[u8]) -> Result<Self> {
        Record::decode(bytes)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn provision(id: u64) -> ProvisionRecord {
        ProvisionRecord {
            id,
            resident: "12345678901".into(),
            at: 1_767_225_600 + id as i64,
            agency: "日本年金機構".into(),
            requester: "CN=nenkin-01, serial 0a1b".into(),
            purpose: "年金給付".into(),
            query: QueryKind::Code,
            fields: FieldSet::ALL,
            previous: id.checked_sub(1),
        }
    }

    pub(crate) fn anchor() -> AuditAnchor {
        AuditAnchor {
            municipality: "131016".into(),
            head: [7; 32],
            count: 42,
            at: 1_767_225_600,
        }
    }

    #[test]
    fn records_round_trip() {
        for record in [
            Record::from(provision(9)),
            Record::from(provision(0)),
            Record::from(anchor()),
        ] {
            let bytes = record.encode().unwrap();
            assert_eq!(bytes[0], RECORD_VERSION);
            assert_eq!(bytes[1], record.kind() as u8);
            assert_eq!(Record::decode(&bytes).unwrap(), record);
        }
    }

    #[test]
    fn every_truncation_and_extension_is_refused() {
        for record in [Record::from(provision(9)), Record::from(anchor())] {
            let bytes = record.encode().unwrap();
            for len in 0..bytes.len() {
                assert!(Record::decode(&bytes[..len]).is_err(), "prefix of {len}");
            }
            let mut longer = bytes.clone();
            longer.push(0);
            assert!(Record::decode(&longer).is_err());
        }
    }

    #[test]
    fn invalid_fields_are_refused() {
        let mut p = provision(1);
        p.resident = "1234567890".into();
        assert!(p.encode().is_err());
        p.resident = "1234567890a".into();
        assert!(p.encode().is_err());
        let mut p = provision(1);
        p.purpose.clear();
        assert!(p.encode().is_err());
        let mut p = provision(1);
        p.fields = FieldSet::default();
        assert!(p.encode().is_err());
        let mut a = anchor();
        a.municipality = "13101".into();
        assert!(a.encode().is_err());
        assert!(FieldSet::from_bits(0x80).is_err());
        assert!(FieldSet::from_names(&["name", "photo"]).is_err());
    }

    #[test]
    fn tampered_encodings_are_refused() {
        let bytes = Record::from(provision(1)).encode().unwrap();
        // Resident code with a letter (byte 10 is inside the code).
        let mut bad = bytes.clone();
        bad[10] = b'x';
        assert!(Record::decode(&bad).is_err());
        let mut bad = bytes.clone();
        bad[0] = 2;
        assert!(Record::decode(&bad).is_err());
        let mut bad = bytes.clone();
        bad[1] = 9;
        assert!(Record::decode(&bad).is_err());
        // The previous-leaf flag is 0 or 1: any other byte is another form.
        let first = Record::from(provision(0)).encode().unwrap();
        assert_eq!(first.last(), Some(&0));
        let mut bad = first;
        *bad.last_mut().unwrap() = 2;
        assert!(Record::decode(&bad).is_err());
        // A chained record differs from the same record unchained: one commitment each.
        let mut unchained = provision(1);
        unchained.previous = None;
        assert_ne!(Record::from(unchained).encode().unwrap(), bytes);
    }

    #[test]
    fn field_names_map_to_bits() {
        let set = FieldSet::from_names(&["status", "code", "code"]).unwrap();
        assert_eq!(set.bits(), 0b100_0001);
        assert_eq!(set.names(), vec!["code", "status"]);
        assert_eq!(
            FieldSet::from_names(&FieldSet::NAMES).unwrap(),
            FieldSet::ALL
        );
    }
}
