//! The resident's side of 開示請求 (`api::disclosure`): one TLS 1.3 connection to the national
//! server's public listener (its certificate checked against the network CA), a challenge, the
//! card's answer over that challenge and this connection's channel binding, and the disclosure —
//! every provision checked against the log before it is shown: the head signed by the log key,
//! each record the resident's own, each included in the head's tree, the resident's chain
//! without a gap — and the head the same tree, grown, as every head this client ([`Seen`]) or a
//! witness saw before (a fork, a rollback, a provision shown before and now gone are caught).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use juki_log::{ProvisionRecord, Receipt, SignedTreeHead};
use p256::ecdsa::VerifyingKey;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::api::disclosure::{ChallengeJson, DisclosureJson, DisclosureRequest};
use crate::api::ErrorJson;
use crate::register::Resident;
use crate::server::ChannelBinding;

mod seen;
mod verify;

pub use seen::{Seen, SeenError, SEEN_VERSION};
pub use verify::verify;

/// What the card signs: a context, the server's nonce and the connection's channel binding.
pub fn challenge(nonce: &[u8; 32], binding: &ChannelBinding) -> Vec<u8> {
    let mut c = b"juki-disclosure/v1\0".to_vec();
    c.extend_from_slice(nonce);
    c.extend_from_slice(&binding.0);
    c
}

/// Why a disclosure failed.
#[derive(Debug, thiserror::Error)]
pub enum DisclosureError {
    /// No connection, or the server's certificate was not the network's.
    #[error("the national server is not reachable: {0}")]
    Unreachable(String),
    /// The server refused (the card's answer, a revoked certificate, …).
    #[error("the national server refused ({status}): {message}")]
    Refused {
        /// HTTP status.
        status: u16,
        /// The server's explanation.
        message: String,
    },
    /// The card could not answer (PIN, card) — the caller's error, as text.
    #[error("{0}")]
    Card(String),
    /// The answer does not prove what it says: a bad head, a record that is not the
    /// resident's, a proof that fails. Nothing of it should be believed.
    #[error("the disclosure does not verify against the provision log: {0}")]
    Proof(String),
    /// The answer verifies on its own but not against what was seen before — a head of
    /// another tree (a fork), a smaller log (a rollback), a provision shown before now
    /// missing: the log was rewritten.
    #[error("the provision log is not the one seen before: {0}")]
    Log(String),
    /// The answer could not be read.
    #[error("the national server's answer is not understood: {0}")]
    BadAnswer(String),
}

/// A provision disclosed and verified.
#[derive(Debug, Clone)]
pub struct DisclosedProvision {
    /// Who got what, when, why.
    pub record: ProvisionRecord,
    /// What proves it is in the log (verified).
    pub receipt: Receipt,
}

/// A verified disclosure.
#[derive(Debug, Clone)]
pub struct Disclosure {
    /// The resident's 本人確認情報 as the register holds it.
    pub resident: Resident,
    /// The head every provision was proven against.
    pub head: Option<SignedTreeHead>,
    /// Every logged provision, oldest first.
    pub provisions: Vec<DisclosedProvision>,
    /// Provisions recorded but not yet logged (ask again in a moment to see them proven).
    pub pending: u64,
}

const TIMEOUT: Duration = Duration::from_secs(30);

/// Asks the server at `address` (host:port, as its certificate names it; its certificate from
/// the network CA in `ca`) for the disclosure; `sign` is the card: it gets the challenge bytes
/// and answers the `juki_jpki::auth::Answer` PEM. Every provision is checked with `log_key`,
/// and the answer against what was `seen` before ([`verify`]).
pub fn request(
    address: &str,
    ca: &Path,
    log_key: &VerifyingKey,
    seen: &Seen,
    sign: impl FnOnce(&[u8]) -> Result<String, String>,
) -> Result<Disclosure, DisclosureError> {
    let config = crate::tls::resident_client_config(ca)
        .map_err(|e| DisclosureError::Unreachable(e.to_string()))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| DisclosureError::Unreachable(e.to_string()))?;
    let answer = runtime.block_on(async {
        tokio::time::timeout(TIMEOUT, exchange(address, config, seen.sizes(), sign))
            .await
            .map_err(|_| DisclosureError::Unreachable(format!("no answer within {TIMEOUT:?}")))?
    })?;
    verify(answer, log_key, seen)
}

/// One TLS 1.3 connection to the residents' listener, with its channel binding.
struct Connection {
    sender: hyper::client::conn::http1::SendRequest<Full<bytes::Bytes>>,
    binding: ChannelBinding,
    host: String,
}

impl Connection {
    async fn open(
        address: &str,
        config: Arc<rustls::ClientConfig>,
    ) -> Result<Connection, DisclosureError> {
        let unreachable =
            |e: &dyn std::fmt::Display| DisclosureError::Unreachable(format!("{address}: {e}"));
        let host = address
            .rsplit_once(':')
            .map_or(address, |(h, _)| h)
            .to_string();
        let name = ServerName::try_from(host.clone()).map_err(|e| unreachable(&e))?;
        let tcp = TcpStream::connect(address)
            .await
            .map_err(|e| unreachable(&e))?;
        let _ = tcp.set_nodelay(true);
        let tls = TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|e| unreachable(&format!("TLS: {e}")))?;
        let binding = ChannelBinding::of(tls.get_ref().1)
            .ok_or_else(|| unreachable(&"no channel binding (not TLS 1.3?)"))?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| unreachable(&e))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(Connection {
            sender,
            binding,
            host,
        })
    }

    /// `POST path` with a JSON body: the answer's body, or the server's refusal.
    async fn post(&mut self, path: &str, body: Vec<u8>) -> Result<bytes::Bytes, DisclosureError> {
        let request = Request::builder()
            .method(Method::POST)
            .uri(path)
            .header("host", self.host.as_str())
            .header("content-type", "application/json")
            .body(Full::new(bytes::Bytes::from(body)))
            .map_err(|e| DisclosureError::BadAnswer(e.to_string()))?;
        let response = self
            .sender
            .send_request(request)
            .await
            .map_err(|e| DisclosureError::Unreachable(e.to_string()))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| DisclosureError::Unreachable(e.to_string()))?
            .to_bytes();
        if status.is_success() {
            Ok(body)
        } else {
            let message = serde_json::from_slice::<ErrorJson>(&body)
                .map(|e| e.message)
                .unwrap_or_else(|_| String::from_utf8_lossy(&body).into_owned());
            Err(DisclosureError::Refused {
                status: status.as_u16(),
                message,
            })
        }
    }
}

async fn exchange(
    address: &str,
    config: Arc<rustls::ClientConfig>,
    since: Vec<u64>,
    sign: impl FnOnce(&[u8]) -> Result<String, String>,
) -> Result<DisclosureJson, DisclosureError> {
    let mut connection = Connection::open(address, config).await?;
    let body = connection
        .post("/v1/disclosure/challenge", Vec::new())
        .await?;
    let challenged: ChallengeJson =
        serde_json::from_slice(&body).map_err(|e| DisclosureError::BadAnswer(e.to_string()))?;
    let nonce: [u8; 32] = base64::engine::general_purpose::STANDARD
        .decode(&challenged.nonce)
        .ok()
        .and_then(|n| n.try_into().ok())
        .ok_or_else(|| DisclosureError::BadAnswer("the nonce is not 32 bytes".into()))?;
    let answer = sign(&challenge(&nonce, &connection.binding)).map_err(DisclosureError::Card)?;
    let request = serde_json::to_vec(&DisclosureRequest {
        nonce: challenged.nonce,
        answer,
        since,
    })
    .map_err(|e| DisclosureError::BadAnswer(e.to_string()))?;
    let body = connection.post("/v1/disclosure", request).await?;
    serde_json::from_slice(&body).map_err(|e| DisclosureError::BadAnswer(e.to_string()))
}

/// The transport floor of a disclosure, for the benchmark: one TLS connection to the
/// residents' listener and `requests` of its cheapest request (a challenge) on it.
pub fn round_trips(address: &str, ca: &Path, requests: usize) -> Result<(), DisclosureError> {
    let config = crate::tls::resident_client_config(ca)
        .map_err(|e| DisclosureError::Unreachable(e.to_string()))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| DisclosureError::Unreachable(e.to_string()))?;
    runtime.block_on(async {
        let mut connection = Connection::open(address, config).await?;
        for _ in 0..requests {
            connection
                .post("/v1/disclosure/challenge", Vec::new())
                .await?;
        }
        Ok(())
    })
}
