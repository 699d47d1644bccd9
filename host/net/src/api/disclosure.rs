//! 開示請求 with the card: a resident, with no node certificate, asks the national server on its
//! public listener (TLS, server authentication only) for their own 本人確認情報 and every
//! provision of it, each with what proves it is in the log.
//!
//! | endpoint | what |
//! |---|---|
//! | `POST /v1/disclosure/challenge` | a fresh nonce, single use, valid [`NONCE_TTL`] |
//! | `POST /v1/disclosure` | `{nonce, answer, since}`: the card's JPKI authentication answer over [`crate::citizen::challenge`]`(nonce, channel binding)` → the disclosure, with a consistency proof from each size in `since` (heads the client saw) to its head |
//!
//! The server believes only what the card signed: the answer must verify with the
//! authentication certificate it carries, that certificate be the very one the JPKI CA's records
//! say it issued (byte for byte: the CA's record of issuance stands for its signature), within
//! its validity, not revoked in those records *now*, and the answer be over this very
//! connection's channel binding (RFC 9266) and a nonce this server gave and nobody used — a
//! relayed or replayed answer is refused. The certificate carries no personal data; the CA's record of it names the
//! subscriber's 住民票コード, and only that resident's record and provisions are answered.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Extension, Json, Router};
use base64::Engine as _;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::log::HeadJson;
use super::{body, error, ApiError, ResidentJson};
use crate::citizen::challenge;
use crate::provision_log::ProvisionLog;
use crate::register::{Confirmation, Register, ResidentCode};
use crate::server::ChannelBinding;
use juki_jpki::ca::CaDirectory;
use juki_jpki::{auth, CertKind};

/// How long a nonce may wait for its answer.
pub const NONCE_TTL: Duration = Duration::from_secs(120);
/// Most nonces outstanding at once (more: 503 until some expire).
pub const MAX_NONCES: usize = 10_000;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// `POST /v1/disclosure/challenge`: the answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChallengeJson {
    /// 32 random bytes, base64.
    pub nonce: String,
    /// Seconds it stays valid.
    pub expires_in: u64,
}

/// `POST /v1/disclosure`: the body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisclosureRequest {
    /// The nonce given, base64.
    pub nonce: String,
    /// The card's answer (`juki_jpki::auth::Answer::to_pem`).
    pub answer: String,
    /// Sizes of heads the client has seen (its last disclosure's, a witness's): the answer
    /// proves the current head consistent with each. At most [`MAX_SINCE`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub since: Vec<u64>,
}

/// Most sizes a disclosure request may ask consistency from.
pub const MAX_SINCE: usize = 8;

/// The consistency proof from a size the client has seen to the answer's head.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SinceJson {
    /// The older size.
    pub size: u64,
    /// `ConsistencyProof::to_text`.
    pub proof: String,
}

/// One provision as disclosed: the record, its salt, its leaf and its inclusion proof.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProvisionJson {
    /// The leaf's index.
    pub index: u64,
    /// The canonical record (`juki_log::Record::encode`), base64.
    pub record: String,
    /// Its salt, hex.
    pub salt: String,
    /// The inclusion proof for `head` (`InclusionProof::to_text`).
    pub proof: String,
}

/// `POST /v1/disclosure`: the answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DisclosureJson {
    /// The resident's 本人確認情報 (`provision` is 0: a resident's own request is not a
    /// provision).
    pub resident: ResidentJson,
    /// The signed head every proof is for (absent while the log is empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub head: Option<HeadJson>,
    /// Every logged provision, oldest first.
    pub provisions: Vec<ProvisionJson>,
    /// Provisions recorded but not yet in the log (the appender runs every half second).
    pub pending: u64,
    /// One proof per size asked in `since` that is above 0 and below the head's size.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consistency: Vec<SinceJson>,
}

/// What the disclosure endpoints need.
#[derive(Clone)]
pub struct DisclosureState {
    register: Register,
    log: ProvisionLog,
    ca: CaDirectory,
    nonces: Arc<Mutex<HashMap<[u8; 32], Instant>>>,
}

impl DisclosureState {
    /// The state over the register, the log and the JPKI CA's records.
    pub fn new(register: Register, log: ProvisionLog, ca: CaDirectory) -> DisclosureState {
        DisclosureState {
            register,
            log,
            ca,
            nonces: Arc::new(Mutex::new(HashMap::new())),
        }
    }
}

fn unauthenticated(message: impl Into<String>) -> ApiError {
    error(StatusCode::UNAUTHORIZED, "unauthenticated", message)
}

fn unavailable(e: impl std::fmt::Display) -> ApiError {
    error(
        StatusCode::SERVICE_UNAVAILABLE,
        "unavailable",
        format!("the disclosure is not available: {e}"),
    )
}

async fn new_challenge(
    State(state): State<DisclosureState>,
) -> Result<Json<ChallengeJson>, ApiError> {
    let mut nonce = [0u8; 32];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut nonce);
    let mut nonces = state.nonces.lock().map_err(|_| unavailable("poisoned"))?;
    let now = Instant::now();
    nonces.retain(|_, expires| *expires > now);
    if nonces.len() >= MAX_NONCES {
        return Err(unavailable(
            "too many challenges outstanding; try again shortly",
        ));
    }
    nonces.insert(nonce, now + NONCE_TTL);
    Ok(Json(ChallengeJson {
        nonce: B64.encode(nonce),
        expires_in: NONCE_TTL.as_secs(),
    }))
}

/// Takes the nonce out (used once, whatever follows); refused if unknown or expired.
fn take_nonce(state: &DisclosureState, nonce: &str) -> Result<[u8; 32], ApiError> {
    let nonce: [u8; 32] = B64
        .decode(nonce)
        .ok()
        .and_then(|n| n.try_into().ok())
        .ok_or_else(|| super::bad_request("nonce: 32 bytes of base64 expected"))?;
    let expires = state
        .nonces
        .lock()
        .map_err(|_| unavailable("poisoned"))?
        .remove(&nonce);
    match expires {
        Some(at) if at > Instant::now() => Ok(nonce),
        _ => Err(unauthenticated(
            "the nonce is unknown, used already or expired: ask for a new challenge",
        )),
    }
}

async fn disclose(
    State(state): State<DisclosureState>,
    Extension(binding): Extension<ChannelBinding>,
    raw: Result<Bytes, BytesRejection>,
) -> Result<Json<DisclosureJson>, ApiError> {
    let raw = body(raw)?;
    let req: DisclosureRequest = serde_json::from_slice(&raw)
        .map_err(|e| super::bad_request(format!("the request: {e}")))?;
    if req.since.len() > MAX_SINCE {
        return Err(super::bad_request(format!(
            "since: at most {MAX_SINCE} sizes"
        )));
    }
    let nonce = take_nonce(&state, &req.nonce)?;
    let answer = auth::Answer::from_pem(req.answer.as_bytes())
        .map_err(|e| super::bad_request(format!("the answer: {e}")))?;
    let at = juki_jpki::time::now().map_err(unavailable)?;
    // The resident the certificate *claims*, from the CA's record of its serial: the register
    // and the log are read for that resident on another worker while the certificate is
    // compared with the record and the card's answer verified here (the longest step), and
    // nothing read is answered unless both hold. One indexed read on a kept connection (tens
    // of µs): done in place on this worker (`block_in_place`).
    let serial = juki_jpki::validate::serial(&answer.certificate);
    let looked_up = tokio::task::block_in_place(|| state.ca.certificate(&serial));
    let claimed = match &looked_up {
        Ok(Some(r)) if r.kind == CertKind::Auth => r
            .resident
            .as_deref()
            .and_then(|c| ResidentCode::parse(c).ok()),
        _ => None,
    };
    let reads = claimed.map(|code| {
        let (register, log, since) = (state.register.clone(), state.log.clone(), req.since);
        tokio::spawn(async move {
            // The register and the log on two connections at once.
            tokio::join!(
                register.resident(&code),
                log.disclosure(code.as_str(), &since)
            )
        })
    });
    let abort = || {
        if let Some(r) = &reads {
            r.abort();
        }
    };
    let refused = |e: ApiError| {
        abort();
        e
    };
    // Issued: the CA's own record holds this very certificate (what its signature on it
    // would say, and more — `auth::verify_recorded`).
    let record = looked_up
        .map_err(|e| refused(unavailable(e)))?
        .ok_or_else(|| refused(unauthenticated("the CA has no record of this certificate")))?;
    let der =
        x509_cert::der::Encode::to_der(&answer.certificate).map_err(|e| refused(unavailable(e)))?;
    if record.kind != CertKind::Auth || record.der != der {
        return Err(refused(unauthenticated(
            "not the authentication certificate the CA recorded",
        )));
    }
    if let Err(e) = auth::verify_recorded(
        &answer,
        &challenge(&nonce, &binding),
        state.ca.ca_certificate(CertKind::Auth),
        at,
    ) {
        return Err(refused(unauthenticated(format!(
            "the card's answer is not accepted: {e}"
        ))));
    }
    // Revocation from the CA's records as they are now (a card suspended a minute ago).
    if let Some((_, reason)) = record.revoked {
        return Err(refused(unauthenticated(format!(
            "the authentication certificate is revoked ({})",
            reason.japanese()
        ))));
    }
    let Some(reads) = reads else {
        return Err(error(
            StatusCode::FORBIDDEN,
            "forbidden",
            "this certificate was issued before its subscriber was recorded: have it \
             issued again at the counter",
        ));
    };
    // Authenticated: what was read for the claimed resident is theirs.
    let (resident, disclosed) = reads.await.map_err(unavailable)?;
    let resident = resident
        .map_err(unavailable)?
        .ok_or_else(|| error(StatusCode::NOT_FOUND, "not_found", "no such resident"))?;
    let disclosed = disclosed.map_err(unavailable)?;
    let mut provisions = Vec::new();
    for (l, proof) in &disclosed.provisions {
        provisions.push(ProvisionJson {
            index: l.index,
            record: B64.encode(l.opening.record.encode().map_err(unavailable)?),
            salt: hex::encode(l.opening.salt.0),
            proof: proof.to_text().map_err(unavailable)?,
        });
    }
    let consistency = disclosed
        .consistency
        .iter()
        .map(|(size, proof)| {
            Ok(SinceJson {
                size: *size,
                proof: proof.to_text().map_err(unavailable)?,
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(Json(DisclosureJson {
        resident: ResidentJson::from_confirmation(&Confirmation {
            resident,
            provision: 0,
        }),
        head: disclosed.head.as_ref().map(super::log::head_json),
        pending: disclosed.pending,
        provisions,
        consistency,
    }))
}

/// The public listener's endpoints.
pub fn routes(state: DisclosureState) -> Router {
    Router::new()
        .route("/v1/disclosure/challenge", post(new_challenge))
        .route("/v1/disclosure", post(disclose))
        .with_state(state)
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
}
