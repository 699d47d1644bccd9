//! The national server's HTTP/JSON API (version 1), served over mutual TLS by
//! [`crate::server::serve`]; docs/network-api.yaml is its OpenAPI description.
//!
//! | route | role | what |
//! |---|---|---|
//! | `POST /v1/updates` | municipality | a batch of numbered updates, applied in order ([`Register::apply`]), stopping at the first refusal |
//! | `GET /v1/municipalities/self/status` | municipality | the last delivery number applied (to resynchronise a counter) |
//! | `GET /v1/municipalities/self/departures?after=N` | municipality | 転入転出の特例: its residents whose 転入 elsewhere completed their 転出, after the id `N`, at most [`MAX_DEPARTURES`] |
//! | `GET /v1/residents/{code}/copy` | municipality | 広域交付: a resident's current 本人確認情報 for a 住民票の写し, recorded as a provision to the municipality |
//! | `GET /v1/residents/{code}?purpose=P` | agency | 本人確認情報の提供 by 住民票コード, for a purpose of the agency's certificate |
//! | `POST /v1/residents/search` | agency | 本人確認情報の提供 by the 4 info |
//!
//! plus `GET /v1/whoami` and `GET /v1/admin/ping` of [`crate::server::router`].
//!
//! **Who.** The municipality of an update, the agency of a provision: always the authenticated
//! peer ([`PeerIdentity`]), never a field of the request. A peer of another role gets `403`
//! before its request's body is read ([`crate::server::restrict`]).
//!
//! **Wire types.** The register's types (`juki_host`'s) have no serde: the JSON types here are
//! plain strings and numbers, decoded strictly (unknown fields refused, codes with their check
//! digits, real dates `YYYY-MM-DD`, sexes `male`/`female`/`not_applicable`, the 4 info checked
//! as a counter checks them) and converted explicitly ([`decode_updates`] is also what the fuzz
//! target `net_requests` feeds). Every refusal is a JSON `{"error": code, "message": text}`
//! ([`ApiError`]): 400 malformed, 403 role or purpose, 404 unknown, 413 too large, 503 the
//! database is unavailable.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, MatchedPath, Path, RawQuery, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};

use crate::pki::RoleKind;
use crate::register::{
    Confirmation, Date, Departure, Event, FourInfo, MunicipalityCode, Register, RegisterError,
    Requester, Resident, ResidentCode, Search, Sex, Status, Update,
};
use crate::server::{self, ApiError};
use crate::tls::PeerIdentity;

/// Largest request body, in bytes (larger: 413).
pub const MAX_BODY: usize = 1024 * 1024;
/// Most updates in one `POST /v1/updates` (more: 413).
pub const MAX_BATCH: usize = 1000;
/// Most departures in one answer of `GET /v1/municipalities/self/departures`.
pub const MAX_DEPARTURES: usize = 500;
/// The purpose recorded for a 広域交付 (`GET /v1/residents/{code}/copy`).
pub const COPY_PURPOSE: &str = "住民票の写しの広域交付";

pub mod disclosure;
pub mod log;

// ---- wire types ---------------------------------------------------------------------------------

/// `POST /v1/updates`: the body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdatesRequest {
    /// The updates, lowest number first.
    pub updates: Vec<UpdateJson>,
}

/// One numbered update, as sent (the municipality is the peer's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateJson {
    /// The delivery number (1, 2, 3, … per municipality).
    pub seq: u64,
    /// The date of the change, `YYYY-MM-DD`.
    pub date: String,
    /// The change.
    pub event: EventJson,
}

/// The change of an update, tagged by `kind`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum EventJson {
    /// 新規.
    New {
        /// 住民票コード (11 digits).
        code: String,
        /// The 4 info.
        info: FourInfoJson,
    },
    /// 記載事項変更.
    Amend {
        /// 住民票コード.
        code: String,
        /// The 4 info after the change.
        info: FourInfoJson,
    },
    /// 転居.
    MoveWithin {
        /// 住民票コード.
        code: String,
        /// The new address.
        address: String,
    },
    /// 転出.
    MoveOut {
        /// 住民票コード.
        code: String,
        /// The destination's 地方公共団体コード (6 digits).
        to: String,
    },
    /// 転入.
    MoveIn {
        /// 住民票コード.
        code: String,
        /// The 4 info at the new municipality.
        info: FourInfoJson,
    },
    /// 住民票コードの変更.
    CodeChange {
        /// The code given up.
        old: String,
        /// The new code.
        new: String,
    },
    /// 消除.
    Remove {
        /// 住民票コード.
        code: String,
    },
}

/// The 4 info (基本4情報).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FourInfoJson {
    /// 氏名.
    pub name: String,
    /// 住所.
    pub address: String,
    /// 生年月日, `YYYY-MM-DD`.
    pub birth: String,
    /// 性別: `male`, `female` or `not_applicable`.
    pub sex: String,
}

/// What the server did with one update.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateResult {
    /// The update's number.
    pub seq: u64,
    /// Whether it is applied (now or by an earlier delivery of the same number).
    pub applied: bool,
    /// Refused: why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Refused: whether the same update may succeed later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transient: Option<bool>,
}

/// `POST /v1/updates`: the answer, one result per update looked at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdatesResponse {
    /// In order: applied ones, possibly ended by one refused.
    pub results: Vec<UpdateResult>,
}

/// `POST /v1/residents/search`: the body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    /// 氏名, exactly.
    pub name: String,
    /// 生年月日, `YYYY-MM-DD`.
    pub birth: String,
    /// 性別, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sex: Option<String>,
    /// 住所, if known, exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    /// The legal purpose: one of the agency's certificate.
    pub purpose: String,
}

/// A resident's current 本人確認情報 as provided, with the number of the recorded provision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResidentJson {
    /// 住民票コード.
    pub code: String,
    /// 氏名.
    pub name: String,
    /// 生年月日, `YYYY-MM-DD`.
    pub birth: String,
    /// 性別: `male`, `female`, `not_applicable`.
    pub sex: String,
    /// 住所.
    pub address: String,
    /// The municipality that holds the resident.
    pub municipality: String,
    /// `registered`, `moving_out`, `removed` or `code_replaced`.
    pub status: String,
    /// `moving_out`: the destination.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moving_to: Option<String>,
    /// `code_replaced`: the new code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaced_by: Option<String>,
    /// The date of the last change, `YYYY-MM-DD`.
    pub changed_on: String,
    /// The number of the provision recorded for this answer.
    pub provision: i64,
}

/// `POST /v1/residents/search`: the answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchResponse {
    /// Every resident found (at most 100), one provision recorded for each.
    pub results: Vec<ResidentJson>,
}

/// `GET /v1/municipalities/self/status`: the answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusResponse {
    /// The calling municipality.
    pub municipality: String,
    /// The last delivery number applied (0 before the first).
    pub last_seq: u64,
}

/// One completed 転出 (転入転出の特例).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepartureJson {
    /// The cursor: ask for those after it next.
    pub id: i64,
    /// 住民票コード of the resident who left.
    pub resident: String,
    /// The municipality they moved in to.
    pub to: String,
    /// The resident's version after the 転入.
    pub version: u64,
    /// The date of the 転入, `YYYY-MM-DD`.
    pub date: String,
}

/// `GET /v1/municipalities/self/departures`: the answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeparturesResponse {
    /// In order of `id`; empty: none yet.
    pub departures: Vec<DepartureJson>,
}

impl DepartureJson {
    /// The wire form of a departure.
    pub fn from_departure(d: &Departure) -> DepartureJson {
        DepartureJson {
            id: d.id,
            resident: d.resident.as_str().to_string(),
            to: d.to.as_str().to_string(),
            version: d.version,
            date: date_text(d.date),
        }
    }

    /// Back to the register's departure, validated (the client's side).
    pub fn to_departure(&self) -> Wire<Departure> {
        Ok(Departure {
            id: self.id,
            resident: parse_code("resident", &self.resident)?,
            to: parse_municipality("to", &self.to)?,
            version: self.version,
            date: parse_date("date", &self.date)?,
        })
    }
}

/// The body of every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorJson {
    /// A stable code: `bad_request`, `forbidden`, `not_found`, `too_large`, …
    pub error: String,
    /// What is wrong, in English.
    #[serde(default)]
    pub message: String,
}

// ---- conversions --------------------------------------------------------------------------------

/// A request that does not decode or validate: its message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct WireError(pub String);

type Wire<T> = Result<T, WireError>;

fn bad(message: impl Into<String>) -> WireError {
    WireError(message.into())
}

/// A 住民票コード of the wire (11 digits, check digit verified).
pub fn parse_code(field: &str, text: &str) -> Wire<ResidentCode> {
    ResidentCode::parse(text)
        .map_err(|e| bad(format!("{field}: \"{text}\" is not a resident code: {e}")))
}

/// A 地方公共団体コード of the wire (6 digits, check digit verified).
pub fn parse_municipality(field: &str, text: &str) -> Wire<MunicipalityCode> {
    MunicipalityCode::parse(text).map_err(|e| {
        bad(format!(
            "{field}: \"{text}\" is not a municipality code: {e}"
        ))
    })
}

/// A date of the wire: `YYYY-MM-DD`, a real date.
pub fn parse_date(field: &str, text: &str) -> Wire<Date> {
    let b = text.as_bytes();
    let refused = || bad(format!("{field}: \"{text}\" is not a date YYYY-MM-DD"));
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(refused());
    }
    let ascii = [b[0], b[1], b[2], b[3], b[5], b[6], b[8], b[9]];
    Date::from_ascii(&ascii).ok_or_else(refused)
}

/// A date as the wire writes it.
pub fn date_text(date: Date) -> String {
    let (y, m, d) = date.ymd();
    format!("{y:04}-{m:02}-{d:02}")
}

/// A sex of the wire.
pub fn parse_sex(field: &str, text: &str) -> Wire<Sex> {
    match text {
        "male" => Ok(Sex::Male),
        "female" => Ok(Sex::Female),
        "not_applicable" => Ok(Sex::NotApplicable),
        _ => Err(bad(format!(
            "{field}: \"{text}\" is not one of male, female, not_applicable"
        ))),
    }
}

/// A sex as the wire writes it.
pub fn sex_text(sex: Sex) -> &'static str {
    match sex {
        Sex::Male => "male",
        Sex::Female => "female",
        Sex::NotApplicable => "not_applicable",
    }
}

impl FourInfoJson {
    /// Decodes and checks the 4 info as a counter does.
    pub fn to_info(&self, field: &str) -> Wire<FourInfo> {
        let birth = parse_date(&format!("{field}.birth"), &self.birth)?;
        let sex = parse_sex(&format!("{field}.sex"), &self.sex)?;
        FourInfo::new(&self.name, &self.address, birth, sex)
            .map_err(|e| bad(format!("{field}: {e}")))
    }

    /// The wire form of `info`.
    pub fn from_info(info: &FourInfo) -> FourInfoJson {
        FourInfoJson {
            name: info.name.clone(),
            address: info.address.clone(),
            birth: date_text(info.birth),
            sex: sex_text(info.sex).into(),
        }
    }
}

impl UpdateJson {
    /// The register's update of `municipality` (the authenticated peer), validated.
    pub fn to_update(&self, municipality: &MunicipalityCode) -> Wire<Update> {
        let seq = self.seq;
        if seq == 0 {
            return Err(bad("seq: delivery numbers start at 1"));
        }
        let date = parse_date("date", &self.date)?;
        let event = match &self.event {
            EventJson::New { code, info } => Event::New {
                code: parse_code("code", code)?,
                info: info.to_info("info")?,
            },
            EventJson::Amend { code, info } => Event::Amend {
                code: parse_code("code", code)?,
                info: info.to_info("info")?,
            },
            EventJson::MoveIn { code, info } => Event::MoveIn {
                code: parse_code("code", code)?,
                info: info.to_info("info")?,
            },
            EventJson::MoveWithin { code, address } => {
                let address = address.trim();
                if address.is_empty() || address.chars().any(char::is_control) {
                    return Err(bad("address: empty or with control characters"));
                }
                Event::MoveWithin {
                    code: parse_code("code", code)?,
                    address: address.to_string(),
                }
            }
            EventJson::MoveOut { code, to } => Event::MoveOut {
                code: parse_code("code", code)?,
                to: parse_municipality("to", to)?,
            },
            EventJson::CodeChange { old, new } => {
                let old = parse_code("old", old)?;
                let new = parse_code("new", new)?;
                if old == new {
                    return Err(bad(
                        "a code change needs a new code different from the old one",
                    ));
                }
                Event::CodeChange { old, new }
            }
            EventJson::Remove { code } => Event::Remove {
                code: parse_code("code", code)?,
            },
        };
        Ok(Update {
            municipality: municipality.clone(),
            seq,
            date,
            event,
        })
    }

    /// The wire form of `update` (its municipality is not sent: the server takes the peer's).
    pub fn from_update(update: &Update) -> UpdateJson {
        let code = |c: &ResidentCode| c.as_str().to_string();
        let event = match &update.event {
            Event::New { code: c, info } => EventJson::New {
                code: code(c),
                info: FourInfoJson::from_info(info),
            },
            Event::Amend { code: c, info } => EventJson::Amend {
                code: code(c),
                info: FourInfoJson::from_info(info),
            },
            Event::MoveIn { code: c, info } => EventJson::MoveIn {
                code: code(c),
                info: FourInfoJson::from_info(info),
            },
            Event::MoveWithin { code: c, address } => EventJson::MoveWithin {
                code: code(c),
                address: address.clone(),
            },
            Event::MoveOut { code: c, to } => EventJson::MoveOut {
                code: code(c),
                to: to.as_str().to_string(),
            },
            Event::CodeChange { old, new } => EventJson::CodeChange {
                old: code(old),
                new: code(new),
            },
            Event::Remove { code: c } => EventJson::Remove { code: code(c) },
        };
        UpdateJson {
            seq: update.seq,
            date: date_text(update.date),
            event,
        }
    }
}

/// Why a batch of updates is not taken at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BatchError {
    /// Malformed JSON, an unknown field, an invalid code, date or 4 info (400).
    #[error("{0}")]
    Invalid(WireError),
    /// More than [`MAX_BATCH`] updates (413).
    #[error("a batch holds at most {MAX_BATCH} updates, this one {0}")]
    TooMany(usize),
}

/// Decodes the body of `POST /v1/updates` for `municipality` (the authenticated peer): the JSON,
/// then every update validated. The whole batch is refused if one update is invalid.
pub fn decode_updates(
    body: &[u8],
    municipality: &MunicipalityCode,
) -> Result<Vec<Update>, BatchError> {
    let request: UpdatesRequest = serde_json::from_slice(body).map_err(|e| {
        BatchError::Invalid(bad(format!("the body is not a valid updates request: {e}")))
    })?;
    if request.updates.len() > MAX_BATCH {
        return Err(BatchError::TooMany(request.updates.len()));
    }
    request
        .updates
        .iter()
        .enumerate()
        .map(|(i, u)| {
            u.to_update(municipality)
                .map_err(|e| BatchError::Invalid(bad(format!("updates[{i}]: {e}"))))
        })
        .collect()
}

/// The body of `POST /v1/updates` for `batch`.
pub fn encode_updates(batch: &[Update]) -> Vec<u8> {
    let request = UpdatesRequest {
        updates: batch.iter().map(UpdateJson::from_update).collect(),
    };
    // Strings and integers only: serialising cannot fail.
    serde_json::to_vec(&request).unwrap_or_default()
}

/// Decodes the body of `POST /v1/residents/search`: the query and the purpose.
pub fn decode_search(body: &[u8]) -> Wire<(Search, String)> {
    let request: SearchRequest = serde_json::from_slice(body)
        .map_err(|e| bad(format!("the body is not a valid search request: {e}")))?;
    let sex = request
        .sex
        .as_deref()
        .map(|s| parse_sex("sex", s))
        .transpose()?;
    let search = Search {
        name: request.name,
        birth: parse_date("birth", &request.birth)?,
        sex,
        address: request.address,
    };
    Ok((search, request.purpose))
}

impl ResidentJson {
    /// The wire form of a confirmation.
    pub fn from_confirmation(c: &Confirmation) -> ResidentJson {
        let r = &c.resident;
        let (status, moving_to, replaced_by) = match &r.status {
            Status::Registered => ("registered", None, None),
            Status::MovingOut { to } => ("moving_out", Some(to.as_str().to_string()), None),
            Status::Removed => ("removed", None, None),
            Status::CodeReplaced { by } => ("code_replaced", None, Some(by.as_str().to_string())),
        };
        ResidentJson {
            code: r.code.as_str().to_string(),
            name: r.info.name.clone(),
            birth: date_text(r.info.birth),
            sex: sex_text(r.info.sex).into(),
            address: r.info.address.clone(),
            municipality: r.municipality.as_str().to_string(),
            status: status.into(),
            moving_to,
            replaced_by,
            changed_on: date_text(r.changed_on),
            provision: c.provision,
        }
    }

    /// Back to the register's confirmation, validated (the client's side).
    pub fn to_confirmation(&self) -> Wire<Confirmation> {
        let status = match (self.status.as_str(), &self.moving_to, &self.replaced_by) {
            ("registered", None, None) => Status::Registered,
            ("moving_out", Some(to), None) => Status::MovingOut {
                to: parse_municipality("moving_to", to)?,
            },
            ("removed", None, None) => Status::Removed,
            ("code_replaced", None, Some(by)) => Status::CodeReplaced {
                by: parse_code("replaced_by", by)?,
            },
            (other, _, _) => return Err(bad(format!("status: \"{other}\" is not a status"))),
        };
        let info = FourInfoJson {
            name: self.name.clone(),
            address: self.address.clone(),
            birth: self.birth.clone(),
            sex: self.sex.clone(),
        }
        .to_info("resident")?;
        Ok(Confirmation {
            resident: Resident {
                code: parse_code("code", &self.code)?,
                info,
                municipality: parse_municipality("municipality", &self.municipality)?,
                status,
                version: 0,
                changed_on: parse_date("changed_on", &self.changed_on)?,
            },
            provision: self.provision,
        })
    }
}

// ---- the handlers -------------------------------------------------------------------------------

fn error(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError {
        status,
        code,
        message: message.into(),
    }
}

fn bad_request(e: impl std::fmt::Display) -> ApiError {
    error(StatusCode::BAD_REQUEST, "bad_request", e.to_string())
}

/// The body as bytes; too large (by its Content-Length or as it is read): 413.
fn body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        let status = rejection.status();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            error(
                status,
                "too_large",
                format!("a request body holds at most {MAX_BODY} bytes"),
            )
        } else {
            error(status, "bad_request", rejection.body_text())
        }
    })
}

/// A register failure that is not a refusal of the request: the database.
fn unavailable(e: &RegisterError) -> ApiError {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        format!("the register is not available: {e}"),
    )
}

/// The register's answer to a read as an HTTP error.
fn read_error(e: RegisterError) -> ApiError {
    match e {
        RegisterError::UnknownResident(code) => error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no resident has the code {code}"),
        ),
        RegisterError::Invalid(_) | RegisterError::TooManyMatches => bad_request(e),
        RegisterError::Database(_) | RegisterError::Corrupt(_) => unavailable(&e),
        other => error(StatusCode::CONFLICT, "refused", other.to_string()),
    }
}

fn municipality_of(peer: &PeerIdentity) -> Result<MunicipalityCode, ApiError> {
    match &peer.role {
        crate::pki::Role::Municipality(code) => Ok(code.clone()),
        _ => Err(error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "only a municipality may use this endpoint",
        )),
    }
}

fn requester(peer: &PeerIdentity) -> Requester {
    Requester {
        agency: peer.identity().to_string(),
        identity: format!(
            "{} {} (certificate {})",
            peer.kind().as_str(),
            peer.identity(),
            peer.serial
        ),
    }
}

/// The agency's purpose, checked against its certificate (403 before the register is asked).
fn allowed_purpose(peer: &PeerIdentity, purpose: &str) -> Result<(), ApiError> {
    if purpose.trim().is_empty() {
        return Err(bad_request("a purpose is required"));
    }
    if !peer.may_ask_for(purpose) {
        return Err(error(
            StatusCode::FORBIDDEN,
            "purpose_not_allowed",
            format!(
                "the certificate of {} does not allow the purpose \"{purpose}\" (allowed: {})",
                peer.identity(),
                peer.purposes().join(", ")
            ),
        ));
    }
    Ok(())
}

/// `POST /v1/updates`.
async fn post_updates(
    State(register): State<Register>,
    peer: PeerIdentity,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<UpdatesResponse>, ApiError> {
    let municipality = municipality_of(&peer)?;
    let raw = body(raw)?;
    let updates = decode_updates(&raw, &municipality).map_err(|e| match e {
        BatchError::Invalid(e) => bad_request(e),
        e @ BatchError::TooMany(_) => {
            error(StatusCode::PAYLOAD_TOO_LARGE, "too_large", e.to_string())
        }
    })?;
    let mut results = Vec::with_capacity(updates.len());
    for update in &updates {
        match register.apply(update).await {
            Ok(_) => results.push(UpdateResult {
                seq: update.seq,
                applied: true,
                reason: None,
                transient: None,
            }),
            // The database, not the update: nothing of the batch is refused; the municipality
            // sends it again (what was applied is answered the same way then).
            Err(e @ (RegisterError::Database(_) | RegisterError::Corrupt(_))) => {
                return Err(unavailable(&e))
            }
            Err(e) => {
                results.push(UpdateResult {
                    seq: update.seq,
                    applied: false,
                    reason: Some(e.to_string()),
                    transient: Some(e.is_transient()),
                });
                break;
            }
        }
    }
    Ok(Json(UpdatesResponse { results }))
}

/// `GET /v1/municipalities/self/status`.
async fn self_status(
    State(register): State<Register>,
    peer: PeerIdentity,
) -> Result<Json<StatusResponse>, ApiError> {
    let municipality = municipality_of(&peer)?;
    let last_seq = register
        .last_seq(&municipality)
        .await
        .map_err(|e| unavailable(&e))?;
    Ok(Json(StatusResponse {
        municipality: municipality.as_str().to_string(),
        last_seq,
    }))
}

/// The `after` of a departures query string (0 when absent), the only parameter allowed.
fn after_of(query: Option<&str>) -> Result<i64, ApiError> {
    let mut after = None;
    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "after" if after.is_none() => {
                after = Some(
                    value
                        .parse::<i64>()
                        .ok()
                        .filter(|n| *n >= 0)
                        .ok_or_else(|| bad_request(format!("after: \"{value}\" is not an id")))?,
                )
            }
            "after" => return Err(bad_request("after given twice")),
            other => return Err(bad_request(format!("unknown query parameter \"{other}\""))),
        }
    }
    Ok(after.unwrap_or(0))
}

/// `GET /v1/municipalities/self/departures?after=N`.
async fn departures(
    State(register): State<Register>,
    peer: PeerIdentity,
    RawQuery(query): RawQuery,
) -> Result<Json<DeparturesResponse>, ApiError> {
    let municipality = municipality_of(&peer)?;
    let after = after_of(query.as_deref())?;
    let found = register
        .departures(&municipality, after, MAX_DEPARTURES as i64)
        .await
        .map_err(|e| unavailable(&e))?;
    Ok(Json(DeparturesResponse {
        departures: found.iter().map(DepartureJson::from_departure).collect(),
    }))
}

/// `GET /v1/residents/{code}/copy`.
async fn copy(
    State(register): State<Register>,
    peer: PeerIdentity,
    Path(code): Path<String>,
) -> Result<Json<ResidentJson>, ApiError> {
    municipality_of(&peer)?;
    let code = parse_code("code", &code).map_err(bad_request)?;
    let confirmation = register
        .confirm(&code, COPY_PURPOSE, &requester(&peer))
        .await
        .map_err(read_error)?;
    Ok(Json(ResidentJson::from_confirmation(&confirmation)))
}

/// The `purpose` of a query string, the only parameter allowed.
fn purpose_of(query: Option<&str>) -> Result<String, ApiError> {
    let mut purpose = None;
    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "purpose" if purpose.is_none() => purpose = Some(value.into_owned()),
            "purpose" => return Err(bad_request("purpose given twice")),
            other => return Err(bad_request(format!("unknown query parameter \"{other}\""))),
        }
    }
    purpose.ok_or_else(|| bad_request("a purpose is required: ?purpose=…"))
}

/// `GET /v1/residents/{code}?purpose=P`.
async fn confirm(
    State(register): State<Register>,
    peer: PeerIdentity,
    Path(code): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Json<ResidentJson>, ApiError> {
    let purpose = purpose_of(query.as_deref())?;
    allowed_purpose(&peer, &purpose)?;
    let code = parse_code("code", &code).map_err(bad_request)?;
    let confirmation = register
        .confirm(&code, &purpose, &requester(&peer))
        .await
        .map_err(read_error)?;
    Ok(Json(ResidentJson::from_confirmation(&confirmation)))
}

/// `POST /v1/residents/search`.
async fn search(
    State(register): State<Register>,
    peer: PeerIdentity,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<SearchResponse>, ApiError> {
    let raw = body(raw)?;
    let (query, purpose) = decode_search(&raw).map_err(bad_request)?;
    allowed_purpose(&peer, &purpose)?;
    let found = register
        .search(&query, &purpose, &requester(&peer))
        .await
        .map_err(read_error)?;
    Ok(Json(SearchResponse {
        results: found.iter().map(ResidentJson::from_confirmation).collect(),
    }))
}

async fn not_found() -> ApiError {
    error(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
}

/// Every endpoint of the national server on `register`: those of this module and
/// [`server::router`]'s, a body limit of [`MAX_BODY`], JSON 404 for an unknown path.
pub fn router(register: Register) -> Router {
    let municipality = Router::new()
        .route("/v1/updates", post(post_updates))
        .route("/v1/municipalities/self/status", get(self_status))
        .route("/v1/municipalities/self/departures", get(departures))
        .route("/v1/residents/{code}/copy", get(copy));
    let agency = Router::new()
        .route("/v1/residents/{code}", get(confirm))
        .route("/v1/residents/search", post(search));
    let api = server::restrict(municipality, RoleKind::Municipality)
        .merge(server::restrict(agency, RoleKind::Agency))
        .with_state(register);
    server::router()
        .merge(api)
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY))
}

/// [`router`] and the provision log's endpoints ([`log::routes`]): the national server.
pub fn router_with_log(
    register: Register,
    provision_log: crate::provision_log::ProvisionLog,
) -> Router {
    Router::new()
        .merge(log::routes(provision_log))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .merge(router(register))
}

/// One request as the server's log records it — the peer's role and identity, the method, the
/// route's pattern (never the path itself, which may hold a 住民票コード; never the query or the
/// body), the status and the time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestLine {
    /// `role identity` of the peer's certificate, or `-` (the residents' listener).
    pub peer: String,
    /// The HTTP method.
    pub method: String,
    /// The matched route's pattern, or `(no route)`.
    pub route: String,
    /// The response's status.
    pub status: u16,
    /// How long it took.
    pub millis: u128,
}

impl std::fmt::Display for RequestLine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {} {} {} ms",
            self.peer, self.method, self.route, self.status, self.millis
        )
    }
}

/// Middleware (`axum::middleware::from_fn_with_state(sender, api::log_request)`): each
/// request's [`RequestLine`] to `lines` (the library does not print: the process that runs the
/// server does, `juki net serve`).
pub async fn log_request(
    State(lines): State<tokio::sync::mpsc::UnboundedSender<RequestLine>>,
    request: Request,
    next: Next,
) -> Response {
    let start = Instant::now();
    let peer = request
        .extensions()
        .get::<PeerIdentity>()
        .map(|p| format!("{} {}", p.kind().as_str(), p.identity()))
        .unwrap_or_else(|| "-".into());
    let method = request.method().to_string();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "(no route)".into());
    let response = next.run(request).await;
    // A closed receiver (the server stopping) loses a log line, never the answer.
    let _ = lines.send(RequestLine {
        peer,
        method,
        route,
        status: response.status().as_u16(),
        millis: start.elapsed().as_millis(),
    });
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chiyoda() -> MunicipalityCode {
        MunicipalityCode::parse("131016").unwrap()
    }

    const CODE: &str = "12345678901";

    fn valid_code() -> String {
        // The first ten digits of CODE with their check digit.
        let mut d = [0u8; 10];
        for (x, c) in d.iter_mut().zip(CODE.bytes()) {
            *x = c - b'0';
        }
        format!(
            "{}{}",
            &CODE[..10],
            juki_host::resident_code::check_digit(&d)
        )
    }

    #[test]
    fn every_kind_round_trips() {
        let code = valid_code();
        let info = serde_json::json!({"name": "住基 花子", "address": "東京都千代田区千代田1-1", "birth": "1980-04-01", "sex": "female"});
        let events = [
            serde_json::json!({"kind": "new", "code": code, "info": info}),
            serde_json::json!({"kind": "amend", "code": code, "info": info}),
            serde_json::json!({"kind": "move_within", "code": code, "address": "東京都千代田区永田町1-7-1"}),
            serde_json::json!({"kind": "move_out", "code": code, "to": "271276"}),
            serde_json::json!({"kind": "move_in", "code": code, "info": info}),
            serde_json::json!({"kind": "remove", "code": code}),
        ];
        let updates: Vec<_> = events
            .iter()
            .enumerate()
            .map(|(i, e)| serde_json::json!({"seq": i + 1, "date": "2026-12-01", "event": e}))
            .collect();
        let body = serde_json::to_vec(&serde_json::json!({ "updates": updates })).unwrap();
        let decoded = decode_updates(&body, &chiyoda()).unwrap();
        assert_eq!(decoded.len(), 6);
        assert!(decoded.iter().all(|u| u.municipality == chiyoda()));
        let again = decode_updates(&encode_updates(&decoded), &chiyoda()).unwrap();
        assert_eq!(again, decoded);
    }

    #[test]
    fn malformed_requests_are_refused() {
        let code = valid_code();
        let m = chiyoda();
        let refused = |body: serde_json::Value| {
            decode_updates(&serde_json::to_vec(&body).unwrap(), &m).unwrap_err()
        };
        let one = |event: serde_json::Value, date: &str| serde_json::json!({"updates": [{"seq": 1, "date": date, "event": event}]});
        // An unknown field at each level, and the municipality as a field.
        refused(serde_json::json!({"updates": [], "municipality": "131016"}));
        refused(
            serde_json::json!({"updates": [{"seq": 1, "date": "2026-12-01", "municipality": "131016", "event": {"kind": "remove", "code": code}}]}),
        );
        refused(one(
            serde_json::json!({"kind": "remove", "code": code, "extra": 1}),
            "2026-12-01",
        ));
        // Bad codes, dates, kinds, sexes.
        refused(one(
            serde_json::json!({"kind": "remove", "code": "12345678900"}),
            "2026-12-01",
        ));
        refused(one(
            serde_json::json!({"kind": "remove", "code": code}),
            "2026-02-30",
        ));
        refused(one(
            serde_json::json!({"kind": "remove", "code": code}),
            "20261201",
        ));
        refused(one(
            serde_json::json!({"kind": "vanish", "code": code}),
            "2026-12-01",
        ));
        refused(one(
            serde_json::json!({"kind": "move_out", "code": code, "to": "131017"}),
            "2026-12-01",
        ));
        refused(one(
            serde_json::json!({"kind": "new", "code": code, "info": {"name": "a", "address": "b", "birth": "1980-04-01", "sex": "x"}}),
            "2026-12-01",
        ));
        refused(one(
            serde_json::json!({"kind": "new", "code": code, "info": {"name": " ", "address": "b", "birth": "1980-04-01", "sex": "male"}}),
            "2026-12-01",
        ));
        refused(one(
            serde_json::json!({"kind": "code_change", "old": code, "new": code}),
            "2026-12-01",
        ));
        refused(
            serde_json::json!({"updates": [{"seq": 0, "date": "2026-12-01", "event": {"kind": "remove", "code": code}}]}),
        );
        assert!(decode_updates(b"{", &m).is_err());
        assert!(decode_updates(b"", &m).is_err());
        // Too many.
        let many: Vec<_> = (1..=MAX_BATCH as u64 + 1)
            .map(|seq| serde_json::json!({"seq": seq, "date": "2026-12-01", "event": {"kind": "remove", "code": code}}))
            .collect();
        assert_eq!(
            refused(serde_json::json!({ "updates": many })),
            BatchError::TooMany(MAX_BATCH + 1)
        );
    }

    #[test]
    fn query_strings_and_searches() {
        assert_eq!(
            purpose_of(Some("purpose=%E5%B9%B4%E9%87%91")).unwrap(),
            "年金"
        );
        assert!(purpose_of(None).is_err());
        assert!(purpose_of(Some("purpose=a&purpose=b")).is_err());
        assert!(purpose_of(Some("purpose=a&x=1")).is_err());
        let (search, purpose) = decode_search(
            r#"{"name":"住基 花子","birth":"1980-04-01","sex":"female","purpose":"p"}"#.as_bytes(),
        )
        .unwrap();
        assert_eq!(purpose, "p");
        assert_eq!(search.sex, Some(Sex::Female));
        assert!(
            decode_search(br#"{"name":"a","birth":"1980-04-01","purpose":"p","agency":"x"}"#)
                .is_err()
        );
    }
}
