//! The national register's operations: a municipality's numbered updates ([`Register::apply`]),
//! 本人確認情報の提供 ([`Register::confirm`], [`Register::search`]) and what a resident may see
//! ([`Register::history`], [`Register::provisions_of`]).
//!
//! **Delivery.** Each municipality numbers its updates 1, 2, 3, … A number already applied is
//! answered with the outcome recorded the first time (nothing is applied twice); the same number
//! with other content is refused ([`RegisterError::SequenceReused`]); a number past the next one
//! is refused ([`RegisterError::SequenceGap`]). A refused update does not use its number: the
//! municipality sends it again (a 転入 that arrived before the 転出 it completes succeeds once
//! the 転出 is in) or an operator resolves it.
//!
//! **Ownership.** A municipality changes only the residents it holds; a 転入 is the one update
//! that takes a resident from another municipality, and only one whose 転出 is pending (or who
//! was removed, e.g. after leaving the country): the pending 転出 is then completed.
//!
//! **Isolation.** Every update is one READ COMMITTED transaction that locks, in this order, its
//! municipality's delivery row (`FOR NO KEY UPDATE`, so that foreign-key checks against it, such
//! as a 転入's departure row naming the municipality left, do not wait) and then the resident's
//! row (`SELECT … FOR UPDATE`); a new code is claimed with `INSERT … ON CONFLICT DO NOTHING`.
//! Two municipalities racing on one resident queue on the row lock, and the second one decides
//! on the row as the first one left it, so both cannot win. No transaction locks two
//! municipality rows, and the only one that touches two residents (a code change) locks one and
//! creates the other, so the lock order has no cycle.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use deadpool_postgres::{GenericClient, Transaction};
use sha2::{Digest, Sha256};
use tokio_postgres::types::ToSql;
use tokio_postgres::{IsolationLevel, Row};

pub use juki_host::date::Date;
pub use juki_host::resident::{FourInfo, MunicipalityCode, Sex};
pub use juki_host::resident_code::ResidentCode;

use crate::db::{Db, DbError};

/// Most residents a 4-info search returns; more matches are refused as too broad.
pub const MAX_SEARCH_RESULTS: usize = 100;

/// How often [`Register::apply`] tries again after a lost connection or a serialization
/// conflict (the update is idempotent, so trying again is safe).
const APPLY_ATTEMPTS: u32 = 4;

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
    fn as_str(self) -> &'static str {
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

// ---- conversions --------------------------------------------------------------------------------

fn date_text(date: Date) -> String {
    String::from_utf8_lossy(&date.to_ascii()).into_owned()
}

fn corrupt(what: &str, value: &str) -> RegisterError {
    RegisterError::Corrupt(format!("{what} \"{value}\""))
}

fn parse_code(text: &str) -> Result<ResidentCode> {
    ResidentCode::parse(text.trim()).map_err(|_| corrupt("resident code", text))
}

fn parse_municipality(text: &str) -> Result<MunicipalityCode> {
    MunicipalityCode::parse(text.trim()).map_err(|_| corrupt("municipality code", text))
}

fn parse_date(text: &str) -> Result<Date> {
    Date::from_ascii(text.as_bytes()).ok_or_else(|| corrupt("date", text))
}

fn parse_sex(text: &str) -> Result<Sex> {
    match text.as_bytes() {
        [c] => Sex::from_code(*c),
        _ => None,
    }
    .ok_or_else(|| corrupt("sex", text))
}

fn to_u64(value: i64) -> Result<u64> {
    u64::try_from(value).map_err(|_| corrupt("number", &value.to_string()))
}

fn to_i64(value: u64, what: &str) -> Result<i64> {
    i64::try_from(value).map_err(|_| RegisterError::Invalid(format!("{what} {value} is too large")))
}

fn micros_to_time(micros: i64) -> SystemTime {
    if micros >= 0 {
        UNIX_EPOCH + Duration::from_micros(micros.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_micros(micros.unsigned_abs())
    }
}

/// The resident columns, dates as `YYYYMMDD`.
macro_rules! select_resident {
    ($rest:literal) => {
        concat!(
            "SELECT code, name, to_char(birth, 'YYYYMMDD') AS birth, sex, address, \
             municipality, status, moving_to, replaced_by, version, \
             to_char(changed_on, 'YYYYMMDD') AS changed_on FROM resident ",
            $rest
        )
    };
}

/// A resident by code, locked.
const LOCK_RESIDENT: &str = select_resident!("WHERE code = $1 FOR UPDATE");
/// A resident by code.
const RESIDENT_BY_CODE: &str = select_resident!("WHERE code = $1");
/// The 4-info search.
const SEARCH: &str = select_resident!(
    "WHERE name = $1 AND birth = $2::text::date AND ($3::text IS NULL OR sex = $3::text) \
     AND ($4::text IS NULL OR address = $4::text) AND status <> 'code_replaced' \
     ORDER BY code LIMIT $5"
);
/// A municipality's residents.
const RESIDENTS_OF: &str = select_resident!(
    "WHERE municipality = $1 AND status IN ('registered', 'moving_out') ORDER BY code"
);
/// A resident's history.
const HISTORY: &str = "SELECT version, kind, to_char(effective_on, 'YYYYMMDD') AS effective_on, \
     municipality, seq, old_name, to_char(old_birth, 'YYYYMMDD') AS old_birth, old_sex, \
     old_address, new_name, to_char(new_birth, 'YYYYMMDD') AS new_birth, new_sex, new_address, \
     other_municipality, other_code FROM resident_history WHERE resident = $1 ORDER BY version";
/// A completed 転出, for the municipality left.
const INSERT_DEPARTURE: &str = "INSERT INTO departure (from_municipality, to_municipality, \
     resident, version, effective_on) VALUES ($1, $2, $3, $4, $5::text::date)";
/// A municipality's completed 転出 after a cursor.
const DEPARTURES: &str = "SELECT id, to_municipality, resident, version, \
     to_char(effective_on, 'YYYYMMDD') AS effective_on FROM departure \
     WHERE from_municipality = $1 AND id > $2 ORDER BY id LIMIT $3";
/// A resident's provisions.
const PROVISIONS: &str = "SELECT id, resident, \
     (extract(epoch FROM provided_at) * 1000000)::bigint AS at, agency, requester, purpose, \
     query, fields FROM provision WHERE resident = $1 ORDER BY provided_at, id";

fn resident_from_row(row: &Row) -> Result<Resident> {
    let status: String = row.try_get("status")?;
    let moving_to: Option<String> = row.try_get("moving_to")?;
    let replaced_by: Option<String> = row.try_get("replaced_by")?;
    let status = match (status.as_str(), moving_to, replaced_by) {
        ("registered", None, None) => Status::Registered,
        ("moving_out", Some(to), None) => Status::MovingOut {
            to: parse_municipality(&to)?,
        },
        ("removed", None, None) => Status::Removed,
        ("code_replaced", None, Some(by)) => Status::CodeReplaced {
            by: parse_code(&by)?,
        },
        (other, _, _) => return Err(corrupt("status", other)),
    };
    Ok(Resident {
        code: parse_code(row.try_get("code")?)?,
        info: FourInfo {
            name: row.try_get("name")?,
            address: row.try_get("address")?,
            birth: parse_date(row.try_get("birth")?)?,
            sex: parse_sex(row.try_get("sex")?)?,
        },
        municipality: parse_municipality(row.try_get("municipality")?)?,
        status,
        version: to_u64(row.try_get("version")?)?,
        changed_on: parse_date(row.try_get("changed_on")?)?,
    })
}

/// Checks the 4 info of an update as the counter would: present, single-line, trimmed.
fn checked(info: &FourInfo) -> Result<FourInfo> {
    FourInfo::new(&info.name, &info.address, info.birth, info.sex)
        .map_err(|e| RegisterError::Invalid(e.to_string()))
}

fn checked_text(what: &str, value: &str) -> Result<String> {
    let value = value.trim();
    if value.is_empty() {
        return Err(RegisterError::Invalid(format!("the {what} is empty")));
    }
    if value.chars().any(char::is_control) {
        return Err(RegisterError::Invalid(format!(
            "the {what} contains control characters"
        )));
    }
    Ok(value.to_string())
}

/// One history row to insert.
struct Change<'a> {
    resident: &'a ResidentCode,
    version: u64,
    kind: Kind,
    old: Option<&'a FourInfo>,
    new: &'a FourInfo,
    other_municipality: Option<&'a MunicipalityCode>,
    other_code: Option<&'a ResidentCode>,
}

// ---- statements ---------------------------------------------------------------------------------
// Every statement is prepared once per connection (deadpool's statement cache): one round trip
// per statement instead of two.

async fn exec<C: GenericClient>(c: &C, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64> {
    let statement = c.prepare_cached(sql).await?;
    Ok(c.execute(&statement, params).await?)
}

async fn one<C: GenericClient>(c: &C, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<Row> {
    let statement = c.prepare_cached(sql).await?;
    Ok(c.query_one(&statement, params).await?)
}

async fn opt<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Option<Row>> {
    let statement = c.prepare_cached(sql).await?;
    Ok(c.query_opt(&statement, params).await?)
}

async fn all<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>> {
    let statement = c.prepare_cached(sql).await?;
    Ok(c.query(&statement, params).await?)
}

// ---- the register -------------------------------------------------------------------------------

/// The national register, on a [`Db`].
#[derive(Debug, Clone)]
pub struct Register {
    db: Db,
}

impl Register {
    /// The register on `db` (migrated: see [`Db::migrate`]).
    pub fn new(db: Db) -> Register {
        Register { db }
    }

    /// The database underneath.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Applies a municipality's numbered update, exactly once in effect: see the module
    /// documentation. A lost connection or a serialization conflict is retried here (the update
    /// is idempotent, so a retry after a commit whose answer was lost returns the recorded
    /// outcome).
    pub async fn apply(&self, update: &Update) -> Result<Applied> {
        let update = Update {
            event: match &update.event {
                Event::New { code, info } => Event::New {
                    code: code.clone(),
                    info: checked(info)?,
                },
                Event::Amend { code, info } => Event::Amend {
                    code: code.clone(),
                    info: checked(info)?,
                },
                Event::MoveIn { code, info } => Event::MoveIn {
                    code: code.clone(),
                    info: checked(info)?,
                },
                Event::MoveWithin { code, address } => Event::MoveWithin {
                    code: code.clone(),
                    address: checked_text("address (住所)", address)?,
                },
                Event::CodeChange { old, new } if old == new => {
                    return Err(RegisterError::Invalid(
                        "a code change needs a code different from the old one".into(),
                    ))
                }
                other => other.clone(),
            },
            ..update.clone()
        };
        if update.seq == 0 {
            return Err(RegisterError::Invalid("delivery numbers start at 1".into()));
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.apply_once(&update).await {
                Err(e)
                    if attempt < APPLY_ATTEMPTS
                        && matches!(&e, RegisterError::Database(d) if d.is_transient()) =>
                {
                    tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
                }
                result => return result,
            }
        }
    }

    async fn apply_once(&self, update: &Update) -> Result<Applied> {
        let mut client = self.db.client().await?;
        let owned = client
            .build_transaction()
            .isolation_level(IsolationLevel::ReadCommitted)
            .start()
            .await?;
        let tx = &owned;
        let muni = update.municipality.as_str();
        let seq = to_i64(update.seq, "delivery number")?;
        // The municipality's delivery row, locked: its deliveries are applied one at a time.
        // NO KEY UPDATE, not UPDATE: the foreign keys that name this row (a 転入's departure
        // row names the municipality left) take KEY SHARE locks, which UPDATE would block; a
        // 転入 racing the left municipality's own update of the resident then deadlocked until
        // PostgreSQL aborted one (deadlock_timeout, 1 s).
        const LOCK_MUNICIPALITY: &str =
            "SELECT last_seq FROM municipality WHERE code = $1 FOR NO KEY UPDATE";
        let row = match opt(tx, LOCK_MUNICIPALITY, &[&muni]).await? {
            Some(row) => row,
            None => {
                // Its first delivery.
                exec(
                    tx,
                    "INSERT INTO municipality (code) VALUES ($1) ON CONFLICT (code) DO NOTHING",
                    &[&muni],
                )
                .await?;
                one(tx, LOCK_MUNICIPALITY, &[&muni]).await?
            }
        };
        let last: i64 = row.try_get(0)?;
        let digest = update.digest();
        if seq <= last {
            let row = opt(
                tx,
                "SELECT digest, kind, resident, version FROM delivery \
                     WHERE municipality = $1 AND seq = $2",
                &[&muni, &seq],
            )
            .await?
            .ok_or_else(|| {
                RegisterError::Corrupt(format!("delivery {muni}/{seq} applied but not recorded"))
            })?;
            let recorded: Vec<u8> = row.try_get("digest")?;
            if recorded != digest {
                return Err(RegisterError::SequenceReused {
                    municipality: update.municipality.clone(),
                    seq: update.seq,
                });
            }
            let kind: String = row.try_get("kind")?;
            return Ok(Applied {
                municipality: update.municipality.clone(),
                seq: update.seq,
                kind: Kind::from_db(&kind).ok_or_else(|| corrupt("kind", &kind))?,
                resident: parse_code(row.try_get("resident")?)?,
                version: to_u64(row.try_get("version")?)?,
            });
        }
        if seq != last + 1 {
            return Err(RegisterError::SequenceGap {
                municipality: update.municipality.clone(),
                expected: to_u64(last + 1)?,
                got: update.seq,
            });
        }
        let (resident, version) = Self::change(tx, update).await?;
        let kind = update.event.kind();
        exec(
            tx,
            "INSERT INTO delivery (municipality, seq, digest, kind, resident, version) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &muni,
                &seq,
                &digest.as_slice(),
                &kind.as_str(),
                &resident.as_str(),
                &to_i64(version, "version")?,
            ],
        )
        .await?;
        exec(
            tx,
            "UPDATE municipality SET last_seq = $2, updated_at = now() WHERE code = $1",
            &[&muni, &seq],
        )
        .await?;
        owned.commit().await?;
        Ok(Applied {
            municipality: update.municipality.clone(),
            seq: update.seq,
            kind,
            resident,
            version,
        })
    }

    /// The resident row, locked for the rest of the transaction.
    async fn lock(tx: &Transaction<'_>, code: &ResidentCode) -> Result<Option<Resident>> {
        let row = opt(tx, LOCK_RESIDENT, &[&code.as_str()]).await?;
        row.as_ref().map(resident_from_row).transpose()
    }

    /// The resident, locked, held by the update's municipality, and still in use.
    async fn lock_own(
        tx: &Transaction<'_>,
        update: &Update,
        code: &ResidentCode,
    ) -> Result<Resident> {
        let r = Self::lock(tx, code)
            .await?
            .ok_or_else(|| RegisterError::UnknownResident(code.clone()))?;
        match &r.status {
            Status::CodeReplaced { by } => {
                return Err(RegisterError::CodeReplaced {
                    code: code.clone(),
                    by: by.clone(),
                })
            }
            Status::Removed => return Err(RegisterError::Removed(code.clone())),
            Status::Registered | Status::MovingOut { .. } => {}
        }
        if r.municipality != update.municipality {
            return Err(RegisterError::NotYours {
                resident: code.clone(),
                holder: r.municipality,
                municipality: update.municipality.clone(),
            });
        }
        Ok(r)
    }

    async fn history_row(tx: &Transaction<'_>, update: &Update, c: Change<'_>) -> Result<()> {
        let old = c.old;
        exec(
            tx,
            "INSERT INTO resident_history (resident, version, kind, effective_on, municipality, \
             seq, old_name, old_birth, old_sex, old_address, new_name, new_birth, new_sex, \
             new_address, other_municipality, other_code) VALUES ($1, $2, $3, $4::text::date, \
             $5, $6, $7, $8::text::date, $9::text, $10, $11, $12::text::date, $13::text, $14, \
             $15, $16)",
            &[
                &c.resident.as_str(),
                &to_i64(c.version, "version")?,
                &c.kind.as_str(),
                &date_text(update.date),
                &update.municipality.as_str(),
                &to_i64(update.seq, "delivery number")?,
                &old.map(|o| o.name.as_str()),
                &old.map(|o| date_text(o.birth)),
                &old.map(|o| (o.sex.code() as char).to_string()),
                &old.map(|o| o.address.as_str()),
                &c.new.name,
                &date_text(c.new.birth),
                &(c.new.sex.code() as char).to_string(),
                &c.new.address,
                &c.other_municipality.map(|m| m.as_str()),
                &c.other_code.map(|m| m.as_str()),
            ],
        )
        .await?;
        Ok(())
    }

    /// Writes the resident's new state (every column but the code).
    async fn write(
        tx: &Transaction<'_>,
        update: &Update,
        code: &ResidentCode,
        info: &FourInfo,
        municipality: &MunicipalityCode,
        status: &Status,
        version: u64,
    ) -> Result<()> {
        let (status, moving_to, replaced_by) = match status {
            Status::Registered => ("registered", None, None),
            Status::MovingOut { to } => ("moving_out", Some(to.as_str()), None),
            Status::Removed => ("removed", None, None),
            Status::CodeReplaced { by } => ("code_replaced", None, Some(by.as_str())),
        };
        exec(
            tx,
            "UPDATE resident SET name = $2, birth = $3::text::date, sex = $4::text, \
             address = $5, municipality = $6, status = $7, moving_to = $8, replaced_by = $9, \
             version = $10, changed_on = $11::text::date, updated_at = now() WHERE code = $1",
            &[
                &code.as_str(),
                &info.name,
                &date_text(info.birth),
                &(info.sex.code() as char).to_string(),
                &info.address,
                &municipality.as_str(),
                &status,
                &moving_to,
                &replaced_by,
                &to_i64(version, "version")?,
                &date_text(update.date),
            ],
        )
        .await?;
        Ok(())
    }

    /// Inserts a new code; `false` when the code is in use.
    async fn insert(
        tx: &Transaction<'_>,
        update: &Update,
        code: &ResidentCode,
        info: &FourInfo,
        status: &Status,
    ) -> Result<bool> {
        let moving_to = match status {
            Status::MovingOut { to } => Some(to.as_str()),
            _ => None,
        };
        let status = match status {
            Status::Registered => "registered",
            Status::MovingOut { .. } => "moving_out",
            _ => return Err(RegisterError::Invalid("a new code must be in use".into())),
        };
        let n = exec(
            tx,
            "INSERT INTO resident (code, name, birth, sex, address, municipality, status, \
                 moving_to, version, changed_on) VALUES ($1, $2, $3::text::date, $4::text, $5, \
                 $6, $7, $8, 1, $9::text::date) ON CONFLICT (code) DO NOTHING",
            &[
                &code.as_str(),
                &info.name,
                &date_text(info.birth),
                &(info.sex.code() as char).to_string(),
                &info.address,
                &update.municipality.as_str(),
                &status,
                &moving_to,
                &date_text(update.date),
            ],
        )
        .await?;
        Ok(n == 1)
    }

    /// A code the register has never seen, registered by `update`'s municipality: its row and
    /// its first history entry (version 1).
    async fn first_registration(
        tx: &Transaction<'_>,
        update: &Update,
        code: &ResidentCode,
        info: &FourInfo,
    ) -> Result<(ResidentCode, u64)> {
        if !Self::insert(tx, update, code, info, &Status::Registered).await? {
            return Err(RegisterError::CodeInUse(code.clone()));
        }
        let change = Change {
            resident: code,
            version: 1,
            kind: update.event.kind(),
            old: None,
            new: info,
            other_municipality: None,
            other_code: None,
        };
        Self::history_row(tx, update, change).await?;
        Ok((code.clone(), 1))
    }

    /// The change itself, in the update's transaction: the resident's new row and history.
    async fn change(tx: &Transaction<'_>, update: &Update) -> Result<(ResidentCode, u64)> {
        let kind = update.event.kind();
        let muni = &update.municipality;
        match &update.event {
            Event::New { code, info } => Self::first_registration(tx, update, code, info).await,
            Event::Amend { code, info } => {
                let r = Self::lock_own(tx, update, code).await?;
                let v = r.version + 1;
                Self::write(tx, update, code, info, muni, &r.status, v).await?;
                let change = Change {
                    resident: code,
                    version: v,
                    kind,
                    old: Some(&r.info),
                    new: info,
                    other_municipality: None,
                    other_code: None,
                };
                Self::history_row(tx, update, change).await?;
                Ok((code.clone(), v))
            }
            Event::MoveWithin { code, address } => {
                let r = Self::lock_own(tx, update, code).await?;
                let v = r.version + 1;
                let info = FourInfo {
                    address: address.clone(),
                    ..r.info.clone()
                };
                Self::write(tx, update, code, &info, muni, &Status::Registered, v).await?;
                let change = Change {
                    resident: code,
                    version: v,
                    kind,
                    old: Some(&r.info),
                    new: &info,
                    other_municipality: None,
                    other_code: None,
                };
                Self::history_row(tx, update, change).await?;
                Ok((code.clone(), v))
            }
            Event::MoveOut { code, to } => {
                if to == muni {
                    return Err(RegisterError::Invalid(format!(
                        "a move-out (転出) from {muni} to {to} itself"
                    )));
                }
                let r = Self::lock_own(tx, update, code).await?;
                let v = r.version + 1;
                let status = Status::MovingOut { to: to.clone() };
                Self::write(tx, update, code, &r.info, muni, &status, v).await?;
                let change = Change {
                    resident: code,
                    version: v,
                    kind,
                    old: Some(&r.info),
                    new: &r.info,
                    other_municipality: Some(to),
                    other_code: None,
                };
                Self::history_row(tx, update, change).await?;
                Ok((code.clone(), v))
            }
            Event::MoveIn { code, info } => {
                let Some(r) = Self::lock(tx, code).await? else {
                    // Not known to the register yet: registered here from now on.
                    return Self::first_registration(tx, update, code, info).await;
                };
                match &r.status {
                    Status::CodeReplaced { by } => {
                        return Err(RegisterError::CodeReplaced {
                            code: code.clone(),
                            by: by.clone(),
                        })
                    }
                    _ if r.municipality == *muni && r.status != Status::Removed => {
                        return Err(RegisterError::AlreadyHere {
                            resident: code.clone(),
                            municipality: muni.clone(),
                        })
                    }
                    Status::Registered => {
                        return Err(RegisterError::NoPendingMoveOut {
                            resident: code.clone(),
                            holder: r.municipality.clone(),
                        })
                    }
                    // The pending 転出 is completed by this 転入, wherever it named.
                    Status::MovingOut { .. } | Status::Removed => {}
                }
                let v = r.version + 1;
                Self::write(tx, update, code, info, muni, &Status::Registered, v).await?;
                let change = Change {
                    resident: code,
                    version: v,
                    kind,
                    old: Some(&r.info),
                    new: info,
                    other_municipality: Some(&r.municipality),
                    other_code: None,
                };
                Self::history_row(tx, update, change).await?;
                if r.status != Status::Removed {
                    // The municipality left learns that its 転出 is completed (departures()).
                    exec(
                        tx,
                        INSERT_DEPARTURE,
                        &[
                            &r.municipality.as_str(),
                            &muni.as_str(),
                            &code.as_str(),
                            &(v as i64),
                            &date_text(update.date),
                        ],
                    )
                    .await?;
                }
                Ok((code.clone(), v))
            }
            Event::CodeChange { old, new } => {
                let r = Self::lock_own(tx, update, old).await?;
                if !Self::insert(tx, update, new, &r.info, &r.status).await? {
                    return Err(RegisterError::CodeInUse(new.clone()));
                }
                let change = Change {
                    resident: new,
                    version: 1,
                    kind,
                    old: None,
                    new: &r.info,
                    other_municipality: None,
                    other_code: Some(old),
                };
                Self::history_row(tx, update, change).await?;
                let v = r.version + 1;
                let replaced = Status::CodeReplaced { by: new.clone() };
                Self::write(tx, update, old, &r.info, muni, &replaced, v).await?;
                let change = Change {
                    resident: old,
                    version: v,
                    kind,
                    old: Some(&r.info),
                    new: &r.info,
                    other_municipality: None,
                    other_code: Some(new),
                };
                Self::history_row(tx, update, change).await?;
                Ok((new.clone(), 1))
            }
            Event::Remove { code } => {
                let r = Self::lock_own(tx, update, code).await?;
                let v = r.version + 1;
                Self::write(tx, update, code, &r.info, muni, &Status::Removed, v).await?;
                let change = Change {
                    resident: code,
                    version: v,
                    kind,
                    old: Some(&r.info),
                    new: &r.info,
                    other_municipality: None,
                    other_code: None,
                };
                Self::history_row(tx, update, change).await?;
                Ok((code.clone(), v))
            }
        }
    }

    fn check_request(purpose: &str, requester: &Requester) -> Result<()> {
        checked_text("purpose", purpose)?;
        checked_text("agency", &requester.agency)?;
        checked_text("requesting identity", &requester.identity)?;
        Ok(())
    }

    /// Records provisions of `residents` in `tx`; returns their numbers in the same order.
    async fn record(
        tx: &Transaction<'_>,
        residents: &[&ResidentCode],
        purpose: &str,
        requester: &Requester,
        query: QueryKind,
    ) -> Result<Vec<i64>> {
        let codes: Vec<&str> = residents.iter().map(|c| c.as_str()).collect();
        let fields: Vec<&str> = PROVIDED_FIELDS.to_vec();
        let rows = all(
            tx,
            "INSERT INTO provision (resident, agency, requester, purpose, query, fields) \
                 SELECT c, $2, $3, $4, $5, $6 FROM unnest($1::text[]) WITH ORDINALITY AS u(c, n) \
                 ORDER BY n RETURNING id",
            &[
                &codes,
                &requester.agency.trim(),
                &requester.identity.trim(),
                &purpose.trim(),
                &query.as_str(),
                &fields,
            ],
        )
        .await?;
        let ids = rows
            .iter()
            .map(|r| r.try_get::<_, i64>(0))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(ids)
    }

    /// 本人確認情報の提供 by 住民票コード: the resident's current 本人確認情報 (whatever its
    /// status: a removed resident or a replaced code is an answer too), with the provision
    /// recorded in the same transaction. An unknown code records nothing.
    pub async fn confirm(
        &self,
        code: &ResidentCode,
        purpose: &str,
        requester: &Requester,
    ) -> Result<Confirmation> {
        Self::check_request(purpose, requester)?;
        let mut client = self.db.client().await?;
        let owned = client
            .build_transaction()
            .isolation_level(IsolationLevel::ReadCommitted)
            .start()
            .await?;
        let tx = &owned;
        let row = opt(tx, RESIDENT_BY_CODE, &[&code.as_str()])
            .await?
            .ok_or_else(|| RegisterError::UnknownResident(code.clone()))?;
        let resident = resident_from_row(&row)?;
        let ids = Self::record(tx, &[&resident.code], purpose, requester, QueryKind::Code).await?;
        owned.commit().await?;
        let provision = ids
            .first()
            .copied()
            .ok_or_else(|| RegisterError::Corrupt("no provision recorded".into()))?;
        Ok(Confirmation {
            resident,
            provision,
        })
    }

    /// 本人確認情報の提供 by the 4 info: every resident (in use or removed, not a replaced code)
    /// whose name and birth date match, and sex and address where given; one provision recorded
    /// for each resident returned, in the same transaction. No match records nothing.
    pub async fn search(
        &self,
        query: &Search,
        purpose: &str,
        requester: &Requester,
    ) -> Result<Vec<Confirmation>> {
        Self::check_request(purpose, requester)?;
        let name = checked_text("name (氏名)", &query.name)?;
        let address = query
            .address
            .as_deref()
            .map(|a| checked_text("address (住所)", a))
            .transpose()?;
        let sex = query.sex.map(|s| (s.code() as char).to_string());
        let limit = (MAX_SEARCH_RESULTS + 1) as i64;
        let mut client = self.db.client().await?;
        let owned = client
            .build_transaction()
            .isolation_level(IsolationLevel::ReadCommitted)
            .start()
            .await?;
        let tx = &owned;
        let rows = all(
            tx,
            SEARCH,
            &[&name, &date_text(query.birth), &sex, &address, &limit],
        )
        .await?;
        if rows.len() > MAX_SEARCH_RESULTS {
            return Err(RegisterError::TooManyMatches);
        }
        let residents = rows
            .iter()
            .map(resident_from_row)
            .collect::<Result<Vec<_>>>()?;
        if residents.is_empty() {
            return Ok(Vec::new());
        }
        let codes: Vec<&ResidentCode> = residents.iter().map(|r| &r.code).collect();
        let ids = Self::record(tx, &codes, purpose, requester, QueryKind::FourInfo).await?;
        owned.commit().await?;
        Ok(residents
            .into_iter()
            .zip(ids)
            .map(|(resident, provision)| Confirmation {
                resident,
                provision,
            })
            .collect())
    }

    /// The resident's current state, without recording a provision (for the municipalities'
    /// and the administrator's own checks, not for agencies).
    pub async fn resident(&self, code: &ResidentCode) -> Result<Option<Resident>> {
        let client = self.db.client().await?;
        let client = &client;
        let row = opt(client, RESIDENT_BY_CODE, &[&code.as_str()]).await?;
        row.as_ref().map(resident_from_row).transpose()
    }

    /// The residents a municipality holds (in use: registered or moving out), in code order.
    pub async fn residents_of(&self, municipality: &MunicipalityCode) -> Result<Vec<Resident>> {
        let client = self.db.client().await?;
        let client = &client;
        let rows = all(client, RESIDENTS_OF, &[&municipality.as_str()]).await?;
        rows.iter().map(resident_from_row).collect()
    }

    /// The last delivery number applied for a municipality (0 before its first).
    pub async fn last_seq(&self, municipality: &MunicipalityCode) -> Result<u64> {
        let client = self.db.client().await?;
        let client = &client;
        let row = opt(
            client,
            "SELECT last_seq FROM municipality WHERE code = $1",
            &[&municipality.as_str()],
        )
        .await?;
        match row {
            Some(row) => to_u64(row.try_get(0)?),
            None => Ok(0),
        }
    }

    /// Every change of a resident, oldest first. An unknown code is an error.
    pub async fn history(&self, code: &ResidentCode) -> Result<Vec<HistoryEntry>> {
        let client = self.db.client().await?;
        let client = &client;
        let rows = all(client, HISTORY, &[&code.as_str()]).await?;
        if rows.is_empty() {
            return Err(RegisterError::UnknownResident(code.clone()));
        }
        rows.iter()
            .map(|row| {
                let kind: String = row.try_get("kind")?;
                let old_name: Option<String> = row.try_get("old_name")?;
                let old = match old_name {
                    None => None,
                    Some(name) => Some(FourInfo {
                        name,
                        address: row.try_get("old_address")?,
                        birth: parse_date(row.try_get("old_birth")?)?,
                        sex: parse_sex(row.try_get("old_sex")?)?,
                    }),
                };
                let other_m: Option<&str> = row.try_get("other_municipality")?;
                let other_c: Option<&str> = row.try_get("other_code")?;
                Ok(HistoryEntry {
                    version: to_u64(row.try_get("version")?)?,
                    kind: Kind::from_db(&kind).ok_or_else(|| corrupt("kind", &kind))?,
                    date: parse_date(row.try_get("effective_on")?)?,
                    municipality: parse_municipality(row.try_get("municipality")?)?,
                    seq: to_u64(row.try_get("seq")?)?,
                    old,
                    new: FourInfo {
                        name: row.try_get("new_name")?,
                        address: row.try_get("new_address")?,
                        birth: parse_date(row.try_get("new_birth")?)?,
                        sex: parse_sex(row.try_get("new_sex")?)?,
                    },
                    other_municipality: other_m.map(parse_municipality).transpose()?,
                    other_code: other_c.map(parse_code).transpose()?,
                })
            })
            .collect()
    }

    /// 転入転出の特例: the residents who left `municipality` and whose 転入 elsewhere completed
    /// their 転出, after `after` (the last [`Departure::id`] seen; 0 at first), at most `limit`,
    /// in order. The municipality records each as completed and reads on from the last id.
    pub async fn departures(
        &self,
        municipality: &MunicipalityCode,
        after: i64,
        limit: i64,
    ) -> Result<Vec<Departure>> {
        let client = self.db.client().await?;
        let client = &client;
        let rows = all(
            client,
            DEPARTURES,
            &[&municipality.as_str(), &after, &limit],
        )
        .await?;
        rows.iter()
            .map(|row| {
                let version: i64 = row.try_get("version")?;
                Ok(Departure {
                    id: row.try_get("id")?,
                    resident: parse_code(row.try_get("resident")?)?,
                    to: parse_municipality(row.try_get("to_municipality")?)?,
                    version: u64::try_from(version).map_err(|_| corrupt("version", "negative"))?,
                    date: parse_date(row.try_get("effective_on")?)?,
                })
            })
            .collect()
    }

    /// Every provision of a resident's 本人確認情報, oldest first.
    pub async fn provisions_of(&self, code: &ResidentCode) -> Result<Vec<Provision>> {
        let client = self.db.client().await?;
        let client = &client;
        let rows = all(client, PROVISIONS, &[&code.as_str()]).await?;
        rows.iter()
            .map(|row| {
                let query: String = row.try_get("query")?;
                Ok(Provision {
                    id: row.try_get("id")?,
                    resident: parse_code(row.try_get("resident")?)?,
                    at: micros_to_time(row.try_get("at")?),
                    agency: row.try_get("agency")?,
                    requester: row.try_get("requester")?,
                    purpose: row.try_get("purpose")?,
                    query: match query.as_str() {
                        "code" => QueryKind::Code,
                        "four_info" => QueryKind::FourInfo,
                        other => return Err(corrupt("query kind", other)),
                    },
                    fields: row.try_get("fields")?,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pg_cluster::PgCluster;

    /// EXPLAIN of a prepared statement with these arguments (SQL literals).
    async fn plan(client: &tokio_postgres::Client, sql: &str, args: &str) -> String {
        client.batch_execute("DEALLOCATE ALL").await.unwrap();
        client
            .batch_execute(&format!("PREPARE q AS {sql}"))
            .await
            .unwrap();
        let rows = client
            .simple_query(&format!("EXPLAIN EXECUTE q({args})"))
            .await
            .unwrap();
        rows.iter()
            .filter_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(String::from),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_queries_use_their_indexes() {
        let cluster = PgCluster::start().unwrap();
        let db = Db::connect(&cluster.fresh_database().unwrap(), 2).unwrap();
        db.migrate().await.unwrap();
        let client = db.client().await.unwrap();
        // 20,000 residents in 20 municipalities, 3 history rows and 2 provisions each.
        client
            .batch_execute(
                "INSERT INTO municipality (code) SELECT lpad(m::text, 6, '0') \
                 FROM generate_series(1, 20) m;
                 INSERT INTO resident (code, name, birth, sex, address, municipality, status, \
                 version, changed_on) SELECT lpad(i::text, 11, '0'), 'name ' || (i % 5000), \
                 date '1950-01-01' + (i % 20000), '1', 'address ' || i, \
                 lpad((i % 20 + 1)::text, 6, '0'), 'registered', 3, date '2026-01-01' \
                 FROM generate_series(1, 20000) i;
                 INSERT INTO resident_history (resident, version, kind, effective_on, \
                 municipality, seq, new_name, new_birth, new_sex, new_address) \
                 SELECT code, v, 'amend', date '2026-01-01', municipality, v, name, birth, sex, \
                 address FROM resident, generate_series(1, 3) v;
                 INSERT INTO provision (resident, agency, requester, purpose, query, fields) \
                 SELECT code, 'agency', 'requester', 'purpose', 'code', '{code}' \
                 FROM resident, generate_series(1, 2);
                 ANALYZE;",
            )
            .await
            .unwrap();
        let cases = [
            (RESIDENT_BY_CODE, "'00000012345'", "resident_pkey"),
            (LOCK_RESIDENT, "'00000012345'", "resident_pkey"),
            (
                SEARCH,
                "'name 42', '19500112', NULL, NULL, 101",
                "resident_name_birth",
            ),
            (
                SEARCH,
                "'name 42', '19500112', '1', 'address 42', 101",
                "resident_name_birth",
            ),
            (RESIDENTS_OF, "'000007'", "resident_municipality"),
            (HISTORY, "'00000012345'", "resident_history_pkey"),
            (PROVISIONS, "'00000012345'", "provision_resident_time"),
        ];
        for (sql, args, index) in cases {
            let plan = plan(&client, sql, args).await;
            assert!(
                plan.contains(index),
                "expected {index} in the plan of\n{sql}\n{plan}"
            );
            assert!(!plan.contains("Seq Scan"), "{sql}\n{plan}");
        }
    }
}
