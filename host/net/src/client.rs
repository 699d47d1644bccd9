//! The network's client ([`NetClient`]): a municipality's counter, an agency or the CLI talking to
//! the national server over mutual TLS ([`crate::tls::client_config`]), blocking.
//!
//! It owns a tokio current-thread runtime and keeps one HTTP/1.1 keep-alive connection, made on
//! first use and again after it is lost. A request that may have reached the server is never
//! sent again by the client; one that was not written because the kept connection turned out
//! closed (the server closes idle connections) goes once more on a new connection.
//! Connecting times out after [`CONNECT_TIMEOUT`], a whole request after [`REQUEST_TIMEOUT`].
//!
//! [`NetClient`] implements [`Delivery`]: the server unreachable, the TLS handshake refused, a
//! timeout or a 5xx answer are [`Unreachable`] (nothing is known to be applied: the counter keeps
//! its queue and tries again); a 4xx answer is a refusal of the batch, reported as the first
//! update refused (not transient: a person must look at it).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use rustls::ClientConfig;
use serde::de::DeserializeOwned;
use tokio::net::TcpStream;
use tokio::runtime::Runtime;
use tokio_rustls::TlsConnector;

use crate::api::{
    self, DeparturesResponse, ErrorJson, ResidentJson, SearchRequest, SearchResponse,
    StatusResponse, UpdatesResponse,
};
use crate::delivery::{Delivered, Delivery, Departure, DepartureSource, Unreachable};
use crate::register::{Confirmation, ResidentCode, Search, Update};
use crate::tls::{self, NodeCredentials, TlsError};

/// Longest the client waits for the TCP connection and the TLS handshake.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Longest one request may take, answer included.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What a call of the client can end with.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The client could not be set up (the node's files, its TLS configuration, the address).
    #[error("the network client cannot be set up: {0}")]
    Setup(String),
    /// No answer: the server is unreachable, refused the handshake, timed out, or answered
    /// with a server error (5xx).
    #[error("the national server is not reachable: {0}")]
    Unreachable(String),
    /// The server refused the request (4xx).
    #[error("the national server refused the request ({status}): {error}: {message}")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The error's code (`forbidden`, `not_found`, `bad_request`, …).
        error: String,
        /// The server's explanation.
        message: String,
    },
    /// The server's answer could not be read.
    #[error("the national server's answer is not understood: {0}")]
    BadAnswer(String),
}

impl ClientError {
    /// The HTTP status of a refusal.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Refused { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl From<TlsError> for ClientError {
    fn from(e: TlsError) -> Self {
        ClientError::Setup(e.to_string())
    }
}

/// A node's blocking client of the national server.
pub struct NetClient {
    runtime: Runtime,
    connector: TlsConnector,
    /// `host:port` dialled.
    address: String,
    server_name: ServerName<'static>,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl std::fmt::Debug for NetClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetClient")
            .field("address", &self.address)
            .field("connected", &self.sender.is_some())
            .finish_non_exhaustive()
    }
}

impl NetClient {
    /// A client of the server at `address` (`host:port`; the server's certificate must name
    /// `host`) with the node's credentials.
    pub fn new(node: &NodeCredentials, address: &str) -> Result<NetClient, ClientError> {
        NetClient::with_config(tls::client_config(node)?, address)
    }

    /// A client with the node directory `dir` ([`NodeCredentials::load`]).
    pub fn from_dir(dir: &Path, address: &str) -> Result<NetClient, ClientError> {
        NetClient::new(&NodeCredentials::load(dir)?, address)
    }

    /// A client with a prepared rustls configuration.
    pub fn with_config(config: Arc<ClientConfig>, address: &str) -> Result<NetClient, ClientError> {
        let host = match address.rsplit_once(':') {
            Some((host, port)) if port.parse::<u16>().is_ok() => host,
            _ => {
                return Err(ClientError::Setup(format!(
                    "\"{address}\" is not host:port"
                )))
            }
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let server_name = ServerName::try_from(host.to_string())
            .map_err(|e| ClientError::Setup(format!("\"{host}\": {e}")))?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| ClientError::Setup(format!("tokio runtime: {e}")))?;
        Ok(NetClient {
            runtime,
            connector: TlsConnector::from(config),
            address: address.to_string(),
            server_name,
            sender: None,
        })
    }

    /// The address dialled.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Sends one request; the status and the body. A kept connection found closed is replaced
    /// first; a request not written because it turned out closed goes once on a new one. A
    /// request that may have reached the server is not sent again: see
    /// [`NetClient::call_idempotent`].
    pub fn call(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<(StatusCode, Bytes), ClientError> {
        self.call_with(method, path, body, false)
    }

    /// [`NetClient::call`] for a request that may be applied twice with the same effect (a
    /// batch of updates, a status): if a kept connection fails after the request was written
    /// (the server closed it at that moment), it is sent once more on a new connection.
    pub fn call_idempotent(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<(StatusCode, Bytes), ClientError> {
        self.call_with(method, path, body, true)
    }

    fn call_with(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        idempotent: bool,
    ) -> Result<(StatusCode, Bytes), ClientError> {
        let NetClient {
            runtime,
            connector,
            address,
            server_name,
            sender,
        } = self;
        let body = body.map(Bytes::from);
        let request = || {
            let mut request = hyper::Request::builder()
                .method(method.clone())
                .uri(path)
                .header(hyper::header::HOST, address.as_str());
            if body.is_some() {
                request = request.header(hyper::header::CONTENT_TYPE, "application/json");
            }
            request
                .body(Full::new(body.clone().unwrap_or_default()))
                .map_err(|e| ClientError::Setup(format!("request: {e}")))
        };
        let lost = |e: &dyn std::fmt::Display| ClientError::Unreachable(format!("{address}: {e}"));
        let result = runtime.block_on(async {
            tokio::time::timeout(REQUEST_TIMEOUT, async {
                // Let the kept connection's driver run first: a close by the server while the
                // client was idle is noticed here rather than by the request.
                tokio::task::yield_now().await;
                let reused = match sender.as_mut() {
                    Some(s) if !s.is_closed() => s.ready().await.is_ok(),
                    _ => false,
                };
                if !reused {
                    *sender = None;
                    *sender = Some(connect(connector, address, server_name).await?);
                }
                let s = sender.as_mut().ok_or_else(|| lost(&"no connection"))?;
                let response = match s.try_send_request(request()?).await {
                    Ok(response) => response,
                    Err(mut e) => {
                        let unsent = e.take_message();
                        if !reused || (unsent.is_none() && !idempotent) {
                            return Err(lost(&e.into_error()));
                        }
                        // The kept connection was closed by the server in the meantime: once
                        // more on a new connection (the request was not written, or it is
                        // idempotent).
                        *sender = None;
                        let s = sender.insert(connect(connector, address, server_name).await?);
                        let request = match unsent {
                            Some(request) => request,
                            None => request()?,
                        };
                        s.send_request(request).await.map_err(|e| lost(&e))?
                    }
                };
                let status = response.status();
                let body = response
                    .into_body()
                    .collect()
                    .await
                    .map_err(|e| lost(&e))?
                    .to_bytes();
                Ok((status, body))
            })
            .await
            .map_err(|_| lost(&format!("no answer within {REQUEST_TIMEOUT:?}")))?
        });
        if result.is_err() {
            // Whatever state the connection is in, the next call starts a new one.
            self.sender = None;
        }
        result
    }

    /// A JSON call: a 2xx answer decoded as `T`; 4xx a refusal, 5xx unreachable.
    fn json<T: DeserializeOwned>(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        idempotent: bool,
    ) -> Result<T, ClientError> {
        let (status, body) = self.call_with(method, path, body, idempotent)?;
        if status.is_success() {
            return serde_json::from_slice(&body)
                .map_err(|e| ClientError::BadAnswer(format!("{path}: {e}")));
        }
        let error: ErrorJson = serde_json::from_slice(&body).unwrap_or_else(|_| ErrorJson {
            error: status.as_str().into(),
            message: String::from_utf8_lossy(&body).into_owned(),
        });
        if status.is_server_error() {
            Err(ClientError::Unreachable(format!(
                "{status}: {}: {}",
                error.error, error.message
            )))
        } else {
            Err(ClientError::Refused {
                status: status.as_u16(),
                error: error.error,
                message: error.message,
            })
        }
    }

    /// `POST /v1/updates`: the server's result for each update it looked at.
    pub fn send_updates(&mut self, batch: &[Update]) -> Result<Vec<Delivered>, ClientError> {
        let answer: UpdatesResponse = self.json(
            Method::POST,
            "/v1/updates",
            Some(api::encode_updates(batch)),
            true,
        )?;
        answer
            .results
            .into_iter()
            .map(|r| match (r.applied, r.reason, r.transient) {
                (true, _, _) => Ok(Delivered::Applied { seq: r.seq }),
                (false, Some(reason), transient) => Ok(Delivered::Refused {
                    seq: r.seq,
                    reason,
                    transient: transient.unwrap_or(false),
                }),
                (false, None, _) => Err(ClientError::BadAnswer(format!(
                    "update {} refused without a reason",
                    r.seq
                ))),
            })
            .collect()
    }

    /// `GET /v1/residents/{code}?purpose=…` (an agency): the resident's current 本人確認情報;
    /// the provision is recorded by the server. An unknown code: [`ClientError::Refused`] 404.
    pub fn confirm(
        &mut self,
        code: &ResidentCode,
        purpose: &str,
    ) -> Result<Confirmation, ClientError> {
        let query: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("purpose", purpose)
            .finish();
        let answer: ResidentJson = self.json(
            Method::GET,
            &format!("/v1/residents/{}?{query}", code.as_str()),
            None,
            false,
        )?;
        answer
            .to_confirmation()
            .map_err(|e| ClientError::BadAnswer(e.to_string()))
    }

    /// `POST /v1/residents/search` (an agency): every resident matching the 4 info given.
    pub fn search(
        &mut self,
        query: &Search,
        purpose: &str,
    ) -> Result<Vec<Confirmation>, ClientError> {
        let request = SearchRequest {
            name: query.name.clone(),
            birth: api::date_text(query.birth),
            sex: query.sex.map(|s| api::sex_text(s).to_string()),
            address: query.address.clone(),
            purpose: purpose.to_string(),
        };
        let body = serde_json::to_vec(&request).map_err(|e| ClientError::Setup(e.to_string()))?;
        let answer: SearchResponse =
            self.json(Method::POST, "/v1/residents/search", Some(body), false)?;
        answer
            .results
            .iter()
            .map(|r| {
                r.to_confirmation()
                    .map_err(|e| ClientError::BadAnswer(e.to_string()))
            })
            .collect()
    }

    /// `GET /v1/residents/{code}/copy` (a municipality, 広域交付): the resident's current
    /// 本人確認情報 for a 住民票の写し; the server records the provision.
    pub fn copy(&mut self, code: &ResidentCode) -> Result<Confirmation, ClientError> {
        let answer: ResidentJson = self.json(
            Method::GET,
            &format!("/v1/residents/{}/copy", code.as_str()),
            None,
            false,
        )?;
        answer
            .to_confirmation()
            .map_err(|e| ClientError::BadAnswer(e.to_string()))
    }

    /// `GET /v1/municipalities/self/status` (a municipality): the last delivery number the
    /// server applied for it.
    pub fn status(&mut self) -> Result<StatusResponse, ClientError> {
        self.json(Method::GET, "/v1/municipalities/self/status", None, true)
    }
}

impl NetClient {
    /// `GET /v1/municipalities/self/departures?after=N` (a municipality, 転入転出の特例): its
    /// residents whose 転入 elsewhere completed their 転出, after the id `after`, in order.
    pub fn departures_after(&mut self, after: i64) -> Result<Vec<Departure>, ClientError> {
        let answer: DeparturesResponse = self.json(
            Method::GET,
            &format!("/v1/municipalities/self/departures?after={after}"),
            None,
            true,
        )?;
        answer
            .departures
            .iter()
            .map(|d| {
                d.to_departure()
                    .map_err(|e| ClientError::BadAnswer(e.to_string()))
            })
            .collect()
    }
}

impl DepartureSource for NetClient {
    fn departures(&mut self, after: i64) -> Result<Vec<Departure>, Unreachable> {
        self.departures_after(after)
            .map_err(|e| Unreachable(e.to_string()))
    }
}

impl Delivery for NetClient {
    fn deliver(&mut self, batch: &[Update]) -> Result<Vec<Delivered>, Unreachable> {
        match self.send_updates(batch) {
            Ok(results) => Ok(results),
            Err(ClientError::Refused {
                status,
                error,
                message,
            }) => {
                // The server understood the request and refused the batch as a whole (e.g. an
                // update it cannot decode): the first update waits for a person.
                let seq = batch
                    .first()
                    .map(|u| u.seq)
                    .ok_or_else(|| Unreachable(format!("an empty batch was refused ({status})")))?;
                Ok(vec![Delivered::Refused {
                    seq,
                    reason: format!("the server refused the batch ({status} {error}): {message}"),
                    transient: false,
                }])
            }
            Err(e) => Err(Unreachable(e.to_string())),
        }
    }
}

/// A new TLS connection to `address` with its HTTP/1.1 driver spawned on the current runtime.
async fn connect(
    connector: &TlsConnector,
    address: &str,
    server_name: &ServerName<'static>,
) -> Result<SendRequest<Full<Bytes>>, ClientError> {
    let unreachable =
        |e: &dyn std::fmt::Display| ClientError::Unreachable(format!("{address}: {e}"));
    let connecting = async {
        let tcp = TcpStream::connect(address)
            .await
            .map_err(|e| unreachable(&e))?;
        let _ = tcp.set_nodelay(true);
        let tls = connector
            .connect(server_name.clone(), tcp)
            .await
            .map_err(|e| unreachable(&format!("TLS: {e}")))?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(|e| unreachable(&e))?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        Ok(sender)
    };
    tokio::time::timeout(CONNECT_TIMEOUT, connecting)
        .await
        .map_err(|_| unreachable(&format!("no connection within {CONNECT_TIMEOUT:?}")))?
}

/// The provision log (docs/log.md): heads, proofs, entries and anchors. Every answer is parsed
/// here; what it proves is checked by the caller (`juki_log::Witness`, `Receipt`).
impl NetClient {
    fn sth(head: &crate::api::log::HeadJson) -> Result<juki_log::SignedTreeHead, ClientError> {
        juki_log::SignedTreeHead::from_text(&head.sth)
            .map_err(|e| ClientError::BadAnswer(format!("a signed tree head: {e}")))
    }

    /// `GET /v1/log/head`: the latest signed head; `None` while the log is empty.
    pub fn log_head(&mut self) -> Result<Option<juki_log::SignedTreeHead>, ClientError> {
        match self.json::<crate::api::log::HeadJson>(Method::GET, "/v1/log/head", None, true) {
            Ok(head) => Ok(Some(Self::sth(&head)?)),
            Err(ClientError::Refused { status: 404, .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// `GET /v1/log/heads/{size}`: the head signed for `size`.
    pub fn log_head_at(&mut self, size: u64) -> Result<juki_log::SignedTreeHead, ClientError> {
        let head: crate::api::log::HeadJson =
            self.json(Method::GET, &format!("/v1/log/heads/{size}"), None, true)?;
        Self::sth(&head)
    }

    /// `GET /v1/log/consistency?from=M&to=N`.
    pub fn log_consistency(
        &mut self,
        from: u64,
        to: u64,
    ) -> Result<juki_log::ConsistencyProof, ClientError> {
        let answer: crate::api::log::ProofJson = self.json(
            Method::GET,
            &format!("/v1/log/consistency?from={from}&to={to}"),
            None,
            true,
        )?;
        juki_log::ConsistencyProof::from_text(&answer.proof)
            .map_err(|e| ClientError::BadAnswer(format!("a consistency proof: {e}")))
    }

    /// `GET /v1/log/inclusion?index=I&size=N`.
    pub fn log_inclusion(
        &mut self,
        index: u64,
        size: u64,
    ) -> Result<juki_log::InclusionProof, ClientError> {
        let answer: crate::api::log::ProofJson = self.json(
            Method::GET,
            &format!("/v1/log/inclusion?index={index}&size={size}"),
            None,
            true,
        )?;
        juki_log::InclusionProof::from_text(&answer.proof)
            .map_err(|e| ClientError::BadAnswer(format!("an inclusion proof: {e}")))
    }

    /// `GET /v1/log/entries?from=M&to=N`: the leaves the server recomputes from its records.
    pub fn log_entries(
        &mut self,
        from: u64,
        to: u64,
    ) -> Result<Vec<(u64, juki_log::Leaf)>, ClientError> {
        use base64::Engine as _;
        let answer: crate::api::log::EntriesJson = self.json(
            Method::GET,
            &format!("/v1/log/entries?from={from}&to={to}"),
            None,
            true,
        )?;
        answer
            .entries
            .iter()
            .map(|e| {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(&e.leaf)
                    .map_err(|err| ClientError::BadAnswer(format!("entry {}: {err}", e.index)))?;
                let leaf = juki_log::Leaf::decode(&bytes)
                    .map_err(|err| ClientError::BadAnswer(format!("entry {}: {err}", e.index)))?;
                Ok((e.index, leaf))
            })
            .collect()
    }

    /// `POST /v1/log/anchors` (a municipality): anchors its audit chain's head; the anchor's
    /// number. Not retried on a lost answer (a second anchor of the same head is harmless but
    /// not idempotent).
    pub fn anchor(&mut self, head: &[u8; 32], records: u64) -> Result<i64, ClientError> {
        let body = serde_json::to_vec(&crate::api::log::AnchorRequest {
            head: hex::encode(head),
            records,
        })
        .map_err(|e| ClientError::Setup(e.to_string()))?;
        let answer: crate::api::log::AnchorCreated =
            self.json(Method::POST, "/v1/log/anchors", Some(body), false)?;
        Ok(answer.id)
    }

    /// `GET /v1/log/anchors[?municipality=CODE]`: a municipality's anchors (its own; an
    /// administrator names one).
    pub fn anchors(
        &mut self,
        municipality: Option<&crate::register::MunicipalityCode>,
    ) -> Result<Vec<crate::api::log::AnchorJson>, ClientError> {
        let path = match municipality {
            Some(m) => format!("/v1/log/anchors?municipality={m}"),
            None => "/v1/log/anchors".to_string(),
        };
        let answer: crate::api::log::AnchorsJson = self.json(Method::GET, &path, None, true)?;
        Ok(answer.anchors)
    }
}
