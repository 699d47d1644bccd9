//! The provision log's endpoints (docs/log.md, docs/network-api.yaml):
//!
//! | endpoint | who | what |
//! |---|---|---|
//! | `GET /v1/log/head` | any node | the latest signed tree head (404 while the log is empty) |
//! | `GET /v1/log/heads/{size}` | any node | the head signed for that size |
//! | `GET /v1/log/consistency?from=M&to=N` | any node | the consistency proof between two sizes |
//! | `GET /v1/log/inclusion?index=I&size=N` | any node | the inclusion proof of a leaf |
//! | `GET /v1/log/entries?from=M&to=N` | any node | the leaves `[M, N)` recomputed from their records (at most 10,000) |
//! | `POST /v1/log/anchors` | municipality | anchor this counter's audit-chain head |
//! | `GET /v1/log/anchors` | municipality | its own anchors; an administrator adds `?municipality=CODE` |
//!
//! Heads, proofs and leaves reveal no personal data (salted commitments), so every node may
//! read them: the more monitors, the sooner a rewritten log is caught.

use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{body, error, municipality_of, ApiError};
use crate::pki::{Role, RoleKind};
use crate::provision_log::{LogStoreError, ProvisionLog, MAX_ENTRIES};
use crate::server;
use crate::tls::PeerIdentity;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A signed tree head, as answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeadJson {
    /// Number of leaves.
    pub size: u64,
    /// Root hash, hex.
    pub root: String,
    /// When signed, milliseconds since the epoch.
    pub timestamp: u64,
    /// The whole signed head (`juki_log::SignedTreeHead::to_text`): what a client checks.
    pub sth: String,
}

/// A proof, as answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProofJson {
    /// The proof's text encoding (`to_text`).
    pub proof: String,
}

/// One entry: a leaf's index and its 34-byte input, base64.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntryJson {
    /// The leaf's index.
    pub index: u64,
    /// The leaf input (version, kind, commitment), base64.
    pub leaf: String,
}

/// `GET /v1/log/entries`: the answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EntriesJson {
    /// The entries found, in index order (a missing index is a leaf without its record).
    pub entries: Vec<EntryJson>,
}

/// `POST /v1/log/anchors`: the body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnchorRequest {
    /// The audit chain's head hash, hex (64 digits).
    pub head: String,
    /// The number of records up to and including that head.
    pub records: u64,
}

/// `POST /v1/log/anchors`: the answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnchorCreated {
    /// The anchor's number.
    pub id: i64,
}

/// One anchor, as answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnchorJson {
    /// The anchor's number.
    pub id: i64,
    /// The municipality.
    pub municipality: String,
    /// The head hash, hex.
    pub head: String,
    /// Records up to the head.
    pub records: u64,
    /// When anchored, seconds since the epoch.
    pub at: i64,
    /// Its leaf, once logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leaf_index: Option<u64>,
    /// Its salt (not secret for an anchor: no personal data), hex, once logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<String>,
}

/// `GET /v1/log/anchors`: the answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnchorsJson {
    /// Oldest first.
    pub anchors: Vec<AnchorJson>,
}

fn log_error(e: LogStoreError) -> ApiError {
    match e {
        LogStoreError::NotFound(m) => error(StatusCode::NOT_FOUND, "not_found", m),
        LogStoreError::Log(juki_log::LogError::OutOfRange(m)) => {
            error(StatusCode::BAD_REQUEST, "bad_request", m)
        }
        LogStoreError::Log(other) => {
            error(StatusCode::BAD_REQUEST, "bad_request", other.to_string())
        }
        other => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            format!("the provision log is not available: {other}"),
        ),
    }
}

pub(super) fn head_json(sth: &juki_log::SignedTreeHead) -> HeadJson {
    HeadJson {
        size: sth.head.size,
        root: hex::encode(sth.head.root),
        timestamp: sth.head.timestamp,
        sth: sth.to_text(),
    }
}

/// The two numbers `a` and `b` of a query string, and nothing else.
fn two_numbers(query: Option<&str>, a: &str, b: &str) -> Result<(u64, u64), ApiError> {
    let (mut x, mut y) = (None, None);
    for (key, value) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        let slot = if key == a {
            &mut x
        } else if key == b {
            &mut y
        } else {
            return Err(super::bad_request(format!(
                "unknown query parameter \"{key}\""
            )));
        };
        if slot.is_some() {
            return Err(super::bad_request(format!("{key} given twice")));
        }
        *slot = Some(
            value
                .parse::<u64>()
                .map_err(|_| super::bad_request(format!("{key}: \"{value}\" is not a number")))?,
        );
    }
    match (x, y) {
        (Some(x), Some(y)) => Ok((x, y)),
        _ => Err(super::bad_request(format!("?{a}=…&{b}=… are required"))),
    }
}

async fn head(State(log): State<ProvisionLog>) -> Result<Json<HeadJson>, ApiError> {
    match log.latest_head().await.map_err(log_error)? {
        Some(sth) => Ok(Json(head_json(&sth))),
        None => Err(error(
            StatusCode::NOT_FOUND,
            "not_found",
            "the log is empty: no head signed yet",
        )),
    }
}

async fn head_at(
    State(log): State<ProvisionLog>,
    Path(size): Path<String>,
) -> Result<Json<HeadJson>, ApiError> {
    let size = size
        .parse::<u64>()
        .map_err(|_| super::bad_request(format!("size: \"{size}\" is not a number")))?;
    match log.head_at(size).await.map_err(log_error)? {
        Some(sth) => Ok(Json(head_json(&sth))),
        None => Err(error(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no head was signed for size {size}"),
        )),
    }
}

async fn consistency(
    State(log): State<ProvisionLog>,
    RawQuery(query): RawQuery,
) -> Result<Json<ProofJson>, ApiError> {
    let (from, to) = two_numbers(query.as_deref(), "from", "to")?;
    let proof = log.consistency(from, to).await.map_err(log_error)?;
    Ok(Json(ProofJson {
        proof: proof.to_text().map_err(|e| log_error(e.into()))?,
    }))
}

async fn inclusion(
    State(log): State<ProvisionLog>,
    RawQuery(query): RawQuery,
) -> Result<Json<ProofJson>, ApiError> {
    let (index, size) = two_numbers(query.as_deref(), "index", "size")?;
    let proof = log.inclusion(index, size).await.map_err(log_error)?;
    Ok(Json(ProofJson {
        proof: proof.to_text().map_err(|e| log_error(e.into()))?,
    }))
}

async fn entries(
    State(log): State<ProvisionLog>,
    RawQuery(query): RawQuery,
) -> Result<Json<EntriesJson>, ApiError> {
    let (from, to) = two_numbers(query.as_deref(), "from", "to")?;
    if to < from || to - from > MAX_ENTRIES {
        return Err(super::bad_request(format!(
            "from ≤ to, at most {MAX_ENTRIES} entries at a time"
        )));
    }
    let found = log.entries(from, to).await.map_err(log_error)?;
    Ok(Json(EntriesJson {
        entries: found
            .iter()
            .map(|e| EntryJson {
                index: e.index,
                leaf: B64.encode(e.leaf.encode()),
            })
            .collect(),
    }))
}

async fn post_anchor(
    State(log): State<ProvisionLog>,
    peer: PeerIdentity,
    raw: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<AnchorCreated>), ApiError> {
    let municipality = municipality_of(&peer)?;
    let raw = body(raw)?;
    let req: AnchorRequest =
        serde_json::from_slice(&raw).map_err(|e| super::bad_request(format!("the anchor: {e}")))?;
    let head: [u8; 32] = hex::decode(&req.head)
        .ok()
        .and_then(|h| h.try_into().ok())
        .ok_or_else(|| super::bad_request("head: 64 hex digits expected"))?;
    if req.records == 0 || i64::try_from(req.records).is_err() {
        return Err(super::bad_request("records: a positive count expected"));
    }
    let id = log
        .anchor(municipality.as_str(), &head, req.records)
        .await
        .map_err(log_error)?;
    Ok((StatusCode::CREATED, Json(AnchorCreated { id })))
}

async fn get_anchors(
    State(log): State<ProvisionLog>,
    peer: PeerIdentity,
    RawQuery(query): RawQuery,
) -> Result<Json<AnchorsJson>, ApiError> {
    let mut asked = None;
    for (key, value) in form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes()) {
        match key.as_ref() {
            "municipality" if asked.is_none() => {
                asked = Some(
                    super::parse_municipality("municipality", &value)
                        .map_err(super::bad_request)?,
                )
            }
            other => {
                return Err(super::bad_request(format!(
                    "unknown or repeated query parameter \"{other}\""
                )))
            }
        }
    }
    // A municipality reads its own; an administrator (the auditor) any municipality's.
    let municipality = match (&peer.role, asked) {
        (Role::Municipality(own), None) => own.clone(),
        (Role::Municipality(own), Some(m)) if m == *own => m,
        (Role::Administrator { .. }, Some(m)) => m,
        _ => {
            return Err(error(
                StatusCode::FORBIDDEN,
                "forbidden",
                "a municipality reads its own anchors; an administrator names the municipality",
            ))
        }
    };
    let rows = log
        .anchors_of(municipality.as_str())
        .await
        .map_err(log_error)?;
    Ok(Json(AnchorsJson {
        anchors: rows
            .into_iter()
            .map(|r| AnchorJson {
                id: r.id,
                municipality: r.anchor.municipality,
                head: hex::encode(r.anchor.head),
                records: r.anchor.count,
                at: r.anchor.at,
                leaf_index: r.logged.as_ref().map(|(_, i)| *i),
                salt: r.logged.as_ref().map(|(s, _)| hex::encode(s.0)),
            })
            .collect(),
    }))
}

/// The log's endpoints on `log` (no fallback: merged into [`super::router_with_log`]).
pub fn routes(log: ProvisionLog) -> Router {
    let read = Router::new()
        .route("/v1/log/head", get(head))
        .route("/v1/log/heads/{size}", get(head_at))
        .route("/v1/log/consistency", get(consistency))
        .route("/v1/log/inclusion", get(inclusion))
        .route("/v1/log/entries", get(entries))
        .route("/v1/log/anchors", get(get_anchors));
    let write = server::restrict(
        Router::new().route("/v1/log/anchors", axum::routing::post(post_anchor)),
        RoleKind::Municipality,
    );
    read.merge(write).with_state(log)
}
