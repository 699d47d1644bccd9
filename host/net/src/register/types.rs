//! The register's types: updates and their events, residents, provisions, queries, errors.

use std::fmt;
use std::time::SystemTime;

use sha2::{Digest, Sha256};

use super::{Date, FourInfo, MunicipalityCode, ResidentCode, Sex};
use crate::db::DbError;

/// Most residents a 4-info search returns; more matches are refused as too broad.
pub const MAX_SEARCH_RESULTS: usize = 100;

/// Everything the register can refuse or fail with.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    /// The database failed (see [`DbError::is_transient`]).
    #[error(transparent)]
    Database(#[from] DbError),
    /// The update or query is malformed.
    #[error("invalid request: {0}")]
    Invalid(String),
    /// A delivery number beyond the next one.
    #[error("municipality {municipality} sent update number {got}, but the next one expected is {expected}: an update is missing")]
    SequenceGap {
        /// The municipality.
        municipality: MunicipalityCode,
        /// The next number the register expects.
        expected: u64,
        /// The number received.
        got: u64,
    },
    /// A number already applied, sent again with different content.
    #[error("municipality {municipality} already used update number {seq} for a different update")]
    SequenceReused {
        /// The municipality.
        municipality: MunicipalityCode,
        /// The number.
        seq: u64,
    },
    /// No resident has this code.
    #[error("no resident has the code {0}")]
    UnknownResident(ResidentCode),
    /// A new registration with a code that is already in use.
    #[error("the resident code {0} is already in use")]
    CodeInUse(ResidentCode),
    /// A municipality changing a resident that another municipality holds.
    #[error("resident {resident} is registered at {holder}, not at {municipality}: only a 転入 (move-in) may take a resident from another municipality")]
    NotYours {
        /// The resident.
        resident: ResidentCode,
        /// The municipality that holds the resident.
        holder: MunicipalityCode,
        /// The municipality that sent the update.
        municipality: MunicipalityCode,
    },
    /// A 転入 of a resident whose 転出 has not reached the register.
    #[error("move-in (転入) of resident {resident} refused: {holder} has not reported a move-out (転出); send it again once it has")]
    NoPendingMoveOut {
        /// The resident.
        resident: ResidentCode,
        /// The municipality that holds the resident.
        holder: MunicipalityCode,
    },
    /// A 転入 at the municipality that already holds the resident.
    #[error("resident {resident} is already registered at {municipality}")]
    AlreadyHere {
        /// The resident.
        resident: ResidentCode,
        /// The municipality.
        municipality: MunicipalityCode,
    },
    /// A change to a resident whose record was removed (消除).
    #[error("the record of resident {0} was removed (消除): only a 転入 can register them again")]
    Removed(ResidentCode),
    /// A change to a code that was replaced (住民票コードの変更).
    #[error("the resident code {code} was replaced by {by}")]
    CodeReplaced {
        /// The old code.
        code: ResidentCode,
        /// The code that replaced it.
        by: ResidentCode,
    },
    /// A 4-info search that matches too many residents.
    #[error("the search matches more than {MAX_SEARCH_RESULTS} residents: give the sex and the address too")]
    TooManyMatches,
    /// The database holds a value the register cannot read.
    #[error("the register holds an unreadable value: {0}")]
    Corrupt(String),
}

impl RegisterError {
    /// Whether sending the same request again later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            RegisterError::Database(e) => e.is_transient(),
            RegisterError::NoPendingMoveOut { .. } => true,
            _ => false,
        }
    }
}

impl From<tokio_postgres::Error> for RegisterError {
    fn from(e: tokio_postgres::Error) -> Self {
        RegisterError::Database(DbError::Postgres(e))
    }
}

/// Result of the register's operations.
pub type Result<T> = std::result::Result<T, RegisterError>;

/// The kind of a change (異動の種類).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// 新規 (birth, first registration).
    New,
    /// 記載事項変更 (a change of name, birth date or sex, or a correction).
    Amend,
    /// 転居 (a move within the municipality).
    MoveWithin,
    /// 転出 (a move out, pending until the 転入).
    MoveOut,
    /// 転入 (a move in).
    MoveIn,
    /// 住民票コードの変更.
    CodeChange,
    /// 消除 (death, leaving the country, …).
    Remove,
}

impl Kind {
    const ALL: [Kind; 7] = [
        Kind::New,
        Kind::Amend,
        Kind::MoveWithin,
        Kind::MoveOut,
        Kind::MoveIn,
        Kind::CodeChange,
        Kind::Remove,
    ];

    /// The name stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::New => "new",
            Kind::Amend => "amend",
            Kind::MoveWithin => "move_within",
            Kind::MoveOut => "move_out",
            Kind::MoveIn => "move_in",
            Kind::CodeChange => "code_change",
            Kind::Remove => "remove",
        }
    }

    /// From the stored name.
    pub fn from_db(name: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// The Japanese term.
    pub fn japanese(self) -> &'static str {
        match self {
            Kind::New => "新規",
            Kind::Amend => "記載事項変更",
            Kind::MoveWithin => "転居",
            Kind::MoveOut => "転出",
            Kind::MoveIn => "転入",
            Kind::CodeChange => "住民票コードの変更",
            Kind::Remove => "消除",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.japanese(), self.as_str())
    }
}

/// What an update changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// 新規: a resident registered for the first time.
    New {
        /// The new code.
        code: ResidentCode,
        /// The 4 info.
        info: FourInfo,
    },
    /// 記載事項変更: the 4 info as they now are.
    Amend {
        /// The resident.
        code: ResidentCode,
        /// The 4 info after the change.
        info: FourInfo,
    },
    /// 転居: a new address in the same municipality (also cancels a pending 転出).
    MoveWithin {
        /// The resident.
        code: ResidentCode,
        /// The new address.
        address: String,
    },
    /// 転出: the resident is leaving for `to`; completed by the 転入 there.
    MoveOut {
        /// The resident.
        code: ResidentCode,
        /// The destination named in the 転出届.
        to: MunicipalityCode,
    },
    /// 転入: the resident now lives here (a new address, and the 4 info as recorded here).
    MoveIn {
        /// The resident.
        code: ResidentCode,
        /// The 4 info at the new municipality.
        info: FourInfo,
    },
    /// 住民票コードの変更: `new` replaces `old`, which stops.
    CodeChange {
        /// The code given up.
        old: ResidentCode,
        /// The new code.
        new: ResidentCode,
    },
    /// 消除.
    Remove {
        /// The resident.
        code: ResidentCode,
    },
}

impl Event {
    /// The kind of change.
    pub fn kind(&self) -> Kind {
        match self {
            Event::New { .. } => Kind::New,
            Event::Amend { .. } => Kind::Amend,
            Event::MoveWithin { .. } => Kind::MoveWithin,
            Event::MoveOut { .. } => Kind::MoveOut,
            Event::MoveIn { .. } => Kind::MoveIn,
            Event::CodeChange { .. } => Kind::CodeChange,
            Event::Remove { .. } => Kind::Remove,
        }
    }

    /// The resident the update is about (the old code of a code change).
    pub fn code(&self) -> &ResidentCode {
        match self {
            Event::New { code, .. }
            | Event::Amend { code, .. }
            | Event::MoveWithin { code, .. }
            | Event::MoveOut { code, .. }
            | Event::MoveIn { code, .. }
            | Event::Remove { code } => code,
            Event::CodeChange { old, .. } => old,
        }
    }
}

/// One numbered update from a municipality.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Update {
    /// The municipality that sends it (the authenticated peer, not a claim of the request).
    pub municipality: MunicipalityCode,
    /// Its delivery number: 1, 2, 3, … per municipality.
    pub seq: u64,
    /// The date of the change (異動日).
    pub date: Date,
    /// The change.
    pub event: Event,
}

impl Update {
    /// SHA-256 over an unambiguous encoding of every field: the same number with the same
    /// digest is the same update.
    pub fn digest(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        let mut put = |field: &[u8]| {
            h.update((field.len() as u64).to_be_bytes());
            h.update(field);
        };
        put(self.municipality.as_str().as_bytes());
        put(&self.seq.to_be_bytes());
        put(&self.date.to_ascii());
        put(self.event.kind().as_str().as_bytes());
        let info = |i: &FourInfo, put: &mut dyn FnMut(&[u8])| {
            put(i.name.as_bytes());
            put(i.address.as_bytes());
            put(&i.birth.to_ascii());
            put(&[i.sex.code()]);
        };
        match &self.event {
            Event::New { code, info: i } | Event::Amend { code, info: i } => {
                put(code.as_bytes());
                info(i, &mut put);
            }
            Event::MoveIn { code, info: i } => {
                put(code.as_bytes());
                info(i, &mut put);
            }
            Event::MoveWithin { code, address } => {
                put(code.as_bytes());
                put(address.as_bytes());
            }
            Event::MoveOut { code, to } => {
                put(code.as_bytes());
                put(to.as_str().as_bytes());
            }
            Event::CodeChange { old, new } => {
                put(old.as_bytes());
                put(new.as_bytes());
            }
            Event::Remove { code } => put(code.as_bytes()),
        }
        h.finalize().into()
    }
}

/// What an applied update did; the same for every delivery of one number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The municipality.
    pub municipality: MunicipalityCode,
    /// The delivery number.
    pub seq: u64,
    /// The kind of change.
    pub kind: Kind,
    /// The resident changed (the new code of a code change).
    pub resident: ResidentCode,
    /// The resident's version after the change (its history's last entry).
    pub version: u64,
}

/// A resident's state in the register.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Registered at their municipality.
    Registered,
    /// A 転出 is pending: still registered, leaving for `to`.
    MovingOut {
        /// The destination named in the 転出届.
        to: MunicipalityCode,
    },
    /// 消除: the record was removed.
    Removed,
    /// The code was replaced by `by` and is no longer used.
    CodeReplaced {
        /// The new code.
        by: ResidentCode,
    },
}

/// A resident's current 本人確認情報.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resident {
    /// 住民票コード.
    pub code: ResidentCode,
    /// The 4 info.
    pub info: FourInfo,
    /// The municipality that holds the resident.
    pub municipality: MunicipalityCode,
    /// Registered, moving out, removed or replaced.
    pub status: Status,
    /// Number of changes recorded.
    pub version: u64,
    /// Date of the last change (異動日).
    pub changed_on: Date,
}

/// A 転出 completed by a 転入 elsewhere, as the municipality left learns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Departure {
    /// The cursor: read on after it.
    pub id: i64,
    /// The resident who left.
    pub resident: ResidentCode,
    /// Where they moved in.
    pub to: MunicipalityCode,
    /// The resident's version after the 転入.
    pub version: u64,
    /// The date of the 転入 (異動日).
    pub date: Date,
}

/// One change in a resident's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// The resident's version after this change (1, 2, 3, …).
    pub version: u64,
    /// The kind of change.
    pub kind: Kind,
    /// The date of the change.
    pub date: Date,
    /// The municipality whose update made it.
    pub municipality: MunicipalityCode,
    /// That update's delivery number.
    pub seq: u64,
    /// The 4 info before (none for a new code).
    pub old: Option<FourInfo>,
    /// The 4 info after.
    pub new: FourInfo,
    /// 転出: the destination; 転入: the municipality left.
    pub other_municipality: Option<MunicipalityCode>,
    /// 住民票コードの変更: the other code.
    pub other_code: Option<ResidentCode>,
}

/// Who asks for 本人確認情報: from the node certificate of the agency's connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requester {
    /// The agency (e.g. 日本年金機構).
    pub agency: String,
    /// The requesting identity (the certificate's subject and serial number).
    pub identity: String,
}

/// How an agency asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QueryKind {
    /// By 住民票コード.
    Code,
    /// By the 4 info.
    FourInfo,
}

impl QueryKind {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            QueryKind::Code => "code",
            QueryKind::FourInfo => "four_info",
        }
    }
}

/// The items a confirmation provides, as recorded with each provision.
pub const PROVIDED_FIELDS: [&str; 7] = [
    "code",
    "name",
    "birth",
    "sex",
    "address",
    "municipality",
    "status",
];

/// One recorded provision of a resident's 本人確認情報.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provision {
    /// Its number.
    pub id: i64,
    /// The resident.
    pub resident: ResidentCode,
    /// When.
    pub at: SystemTime,
    /// To which agency.
    pub agency: String,
    /// The requesting identity.
    pub requester: String,
    /// Why (the legal purpose).
    pub purpose: String,
    /// How the agency asked.
    pub query: QueryKind,
    /// The items provided.
    pub fields: Vec<String>,
}

/// A confirmation: the resident's current 本人確認情報 and the provision that records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmation {
    /// The 本人確認情報.
    pub resident: Resident,
    /// The number of the recorded provision.
    pub provision: i64,
}

/// A 4-info search: name and birth date, and optionally sex and address; all compared exactly
/// (after trimming).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search {
    /// 氏名.
    pub name: String,
    /// 生年月日.
    pub birth: Date,
    /// 性別, if known.
    pub sex: Option<Sex>,
    /// 住所, if known.
    pub address: Option<String>,
}

impl From<&FourInfo> for Search {
    fn from(info: &FourInfo) -> Search {
        Search {
            name: info.name.clone(),
            birth: info.birth,
            sex: Some(info.sex),
            address: Some(info.address.clone()),
        }
    }
}
