//! The HTTPS server over mutual TLS: an accept loop that completes the TLS 1.3 handshake
//! ([`crate::tls::server_config`]), reads the verified client's [`PeerIdentity`] from its
//! certificate, and serves an axum [`Router`] (HTTP/1.1 or HTTP/2) with that identity in every
//! request's extensions — a handler takes it as an extractor (`peer: PeerIdentity`).
//!
//! A connection whose handshake fails (no certificate, another CA's, revoked, expired, TLS 1.2,
//! no handshake within [`HANDSHAKE_TIMEOUT`]) or whose certificate is not a node certificate of
//! the profile is closed before any HTTP is read. A route that needs a role is wrapped with
//! [`restrict`]: a peer of another role gets `403` with a JSON error before the handler runs or
//! the request body is read.
//!
//! Endpoints of this module ([`router`]): `GET /v1/whoami` (any role: the caller's identity as
//! JSON) and `GET /v1/admin/ping` (administrators only).

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tower::Service;

use crate::pki::RoleKind;
use crate::tls::{PeerIdentity, RoleRefused};

/// Longest a client may take to complete the TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest an HTTP/1.1 client may take to send a request's headers.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// Most concurrent HTTP/2 streams on one connection.
pub const MAX_STREAMS: u32 = 64;
/// Longest the server waits for open connections to finish after shutdown is asked.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The server's TLS configuration, replaceable while it runs (a new CRL after a revocation:
/// connections accepted afterwards are checked against it).
#[derive(Debug, Clone)]
pub struct ServerTls(Arc<RwLock<Arc<ServerConfig>>>);

impl ServerTls {
    /// Starts with `config`.
    pub fn new(config: Arc<ServerConfig>) -> ServerTls {
        ServerTls(Arc::new(RwLock::new(config)))
    }

    /// Replaces the configuration for the connections accepted from now on.
    pub fn replace(&self, config: Arc<ServerConfig>) {
        match self.0.write() {
            Ok(mut current) => *current = config,
            Err(poisoned) => *poisoned.into_inner() = config,
        }
    }

    /// The configuration in force.
    pub fn current(&self) -> Arc<ServerConfig> {
        match self.0.read() {
            Ok(current) => current.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

/// An error answer: its status and `{"error": code, "message": text}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// A stable machine-readable code (`forbidden`, `unauthenticated`, …).
    pub code: &'static str,
    /// What is wrong, for a person.
    pub message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(serde_json::json!({ "error": self.code, "message": self.message })),
        )
            .into_response()
    }
}

impl From<RoleRefused> for ApiError {
    fn from(e: RoleRefused) -> ApiError {
        ApiError {
            status: StatusCode::FORBIDDEN,
            code: "forbidden",
            message: e.to_string(),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PeerIdentity {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<PeerIdentity>()
            .cloned()
            .ok_or_else(|| ApiError {
                status: StatusCode::UNAUTHORIZED,
                code: "unauthenticated",
                message: "no verified client certificate on this connection".into(),
            })
    }
}

/// Middleware of [`restrict`]: lets the request through only if its peer has the role.
async fn require_role(State(role): State<RoleKind>, request: Request, next: Next) -> Response {
    let allowed = request
        .extensions()
        .get::<PeerIdentity>()
        .map(|peer| peer.require(&[role]));
    match allowed {
        Some(Ok(())) => next.run(request).await,
        Some(Err(refused)) => ApiError::from(refused).into_response(),
        None => ApiError {
            status: StatusCode::UNAUTHORIZED,
            code: "unauthenticated",
            message: "no verified client certificate on this connection".into(),
        }
        .into_response(),
    }
}

/// `routes` for peers of `role` only: any other gets `403` (JSON) before the handler runs.
pub fn restrict<S: Clone + Send + Sync + 'static>(routes: Router<S>, role: RoleKind) -> Router<S> {
    routes.route_layer(middleware::from_fn_with_state(role, require_role))
}

/// `GET /v1/whoami`: the caller's identity as its certificate gives it.
async fn whoami(peer: PeerIdentity) -> Json<PeerIdentity> {
    Json(peer)
}

/// `GET /v1/admin/ping`.
async fn admin_ping(peer: PeerIdentity) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "pong": true, "administrator": peer.identity() }))
}

/// The endpoints of this module: `GET /v1/whoami` (any role) and `GET /v1/admin/ping`
/// (administrators). Other routers merge into it.
pub fn router() -> Router {
    Router::new()
        .route("/v1/whoami", get(whoami))
        .merge(restrict(
            Router::new().route("/v1/admin/ping", get(admin_ping)),
            RoleKind::Administrator,
        ))
}

/// Serves `router` on `listener` over mutual TLS until `shutdown` completes, then stops
/// accepting and gives open connections [`SHUTDOWN_GRACE`] to finish. Failed handshakes and
/// connections are dropped (they concern one client, not the server), and so are errors of
/// `accept` (out of file descriptors: the loop waits 50 ms and goes on).
pub async fn serve(
    listener: TcpListener,
    tls: ServerTls,
    router: Router,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    serve_with(listener, tls, router, shutdown, Clients::Nodes).await
}

/// As [`serve`] for residents, who hold no node certificate (`tls` asks for none): requests
/// carry no [`PeerIdentity`], only the connection's [`ChannelBinding`]; what they may do is
/// decided by the card's authentication inside the request (`api::citizen`).
pub async fn serve_public(
    listener: TcpListener,
    tls: ServerTls,
    router: Router,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    serve_with(listener, tls, router, shutdown, Clients::Residents).await
}

/// Who connects to a listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Clients {
    /// Nodes of the network, each with its certificate (mutual TLS).
    Nodes,
    /// Residents: no client certificate.
    Residents,
}

/// RFC 9266's `tls-exporter` channel binding of a TLS 1.3 connection: 32 bytes exported with
/// the label `EXPORTER-Channel-Binding` and no context. Both ends compute it; a signature over
/// it cannot be replayed on another connection (a relay of the card's answer is refused).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChannelBinding(pub [u8; 32]);

/// The label of [`ChannelBinding`] (RFC 9266 §2).
pub const CHANNEL_BINDING_LABEL: &[u8] = b"EXPORTER-Channel-Binding";

impl ChannelBinding {
    /// The binding of a connection (server or client side).
    pub fn of<D>(connection: &rustls::ConnectionCommon<D>) -> Option<ChannelBinding> {
        let mut out = [0u8; 32];
        connection
            .export_keying_material(&mut out, CHANNEL_BINDING_LABEL, None)
            .ok()?;
        Some(ChannelBinding(out))
    }
}

async fn serve_with(
    listener: TcpListener,
    tls: ServerTls,
    router: Router,
    shutdown: impl Future<Output = ()> + Send,
    clients: Clients,
) -> io::Result<()> {
    let graceful = GracefulShutdown::new();
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(MAX_STREAMS);
    tokio::pin!(shutdown);
    loop {
        let (tcp, _addr) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(_) => {
                    // Out of file descriptors, or a connection reset before it was accepted:
                    // both pass; wait a little and go on (as hyper's and axum's servers do).
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // Small answers go out at once (with Nagle's algorithm on, a client's delayed ACK can
        // hold the server's last segment for 40 ms).
        let _ = tcp.set_nodelay(true);
        let acceptor = TlsAcceptor::from(tls.current());
        let router = router.clone();
        let builder = builder.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let Ok(Ok(stream)) =
                tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await
            else {
                return;
            };
            let peer = match clients {
                Clients::Nodes => {
                    match PeerIdentity::from_peer_certificates(
                        stream.get_ref().1.peer_certificates(),
                    ) {
                        Ok(peer) => Some(peer),
                        Err(_) => return,
                    }
                }
                Clients::Residents => None,
            };
            let Some(binding) = ChannelBinding::of(stream.get_ref().1) else {
                return;
            };
            let service =
                hyper::service::service_fn(move |mut request: Request<hyper::body::Incoming>| {
                    if let Some(peer) = &peer {
                        request.extensions_mut().insert(peer.clone());
                    }
                    request.extensions_mut().insert(binding);
                    let mut router = router.clone();
                    async move {
                        Ok::<_, Infallible>(
                            router.call(request).await.unwrap_or_else(|e| match e {}),
                        )
                    }
                });
            let connection = builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
            let _ = watcher.watch(connection.into_owned()).await;
        });
    }
    drop(listener);
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await;
    Ok(())
}
