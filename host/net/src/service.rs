//! The national server as a process runs it: the node's credentials and the CRL loaded, the
//! register's database migrated, the API ([`crate::api::router`], with its request log) served
//! over mutual TLS until a shutdown. The administrator's `juki net serve` calls
//! [`run_until_signal`]; the CLI owns the arguments (juki-net has no binary of its own).
//!
//! The library does not print: what happens — including each request's log line and the
//! appender's failures — is handed to the caller as [`ServeEvent`]s, on the task that called
//! [`run`] (the CLI writes them on standard error).

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::api;
use crate::db::{Db, DbError};
use crate::provision_log::{self, ProvisionLog};
use crate::register::Register;
use crate::server::{self, ServerTls};
use crate::tls::{self, TlsError};

/// The address `serve` listens on unless told otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8443";
/// Most connections to PostgreSQL unless told otherwise.
pub const DEFAULT_POOL: usize = 16;

/// What the server needs to start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeOptions {
    /// The server's node directory (node.key, node.pem of role `server`, ca.pem).
    pub node: PathBuf,
    /// The network CA's current CRL, PEM or DER.
    pub crl: PathBuf,
    /// The PostgreSQL database: a `postgres://…` URL or libpq's `key=value` form.
    pub db: String,
    /// The address to listen on.
    pub listen: String,
    /// Most connections to PostgreSQL.
    pub pool: usize,
    /// The residents' listener (開示請求), if any.
    pub residents: Option<ResidentsOptions>,
}

/// The residents' listener: TLS without client certificates, answering `api::disclosure`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResidentsOptions {
    /// The address to listen on.
    pub listen: String,
    /// The JPKI CA's directory (read-only: its certificates and its records of subscribers).
    pub jpki_ca: PathBuf,
}

/// What the server reports while it starts, runs and stops.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServeEvent {
    /// The database schema is current: its version, and how many migrations were applied now.
    Migrated {
        /// The schema version.
        schema_version: i32,
        /// Migrations applied by this start.
        applied: usize,
    },
    /// The server accepts connections.
    Listening {
        /// The server's identity, from its certificate.
        identity: String,
        /// The address bound (the real port when `listen` asked for port 0).
        address: SocketAddr,
    },
    /// A shutdown was asked: no new connections; open ones get
    /// [`crate::server::SHUTDOWN_GRACE`] to finish.
    ShuttingDown,
    /// The server stopped.
    Stopped,
    /// The residents' listener accepts connections.
    ListeningForResidents {
        /// The address bound.
        address: SocketAddr,
    },
    /// A new log key was made (first start): its public half, to give every monitor.
    LogKeyCreated {
        /// The `log.pub` written.
        public: PathBuf,
    },
    /// A request was answered (either listener).
    Request(api::RequestLine),
    /// The provision log's appender failed; the records stay unlogged and the next tick tries
    /// again.
    LogAppendFailed(String),
}

/// Why the server could not start or run.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The node's files, the CRL or the TLS configuration.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// The database: its URL, connecting, migrating.
    #[error(transparent)]
    Database(#[from] DbError),
    /// The address cannot be listened on.
    #[error("listen on {address}: {source}")]
    Listen {
        /// The address asked for.
        address: String,
        /// Why.
        source: std::io::Error,
    },
    /// The JPKI CA's records could not be opened for the residents' listener.
    #[error("the JPKI CA for disclosures: {0}")]
    Jpki(#[from] juki_jpki::JpkiError),
    /// The runtime, the signal handlers or the accept loop.
    #[error("{what}: {source}")]
    Io {
        /// What failed.
        what: &'static str,
        /// Why.
        source: std::io::Error,
    },
}

fn io(what: &'static str) -> impl FnOnce(std::io::Error) -> ServeError {
    move |source| ServeError::Io { what, source }
}

/// Starts the server as `options` say and serves until `shutdown` completes; `events` hears
/// what happens. Runs on the caller's tokio runtime.
pub async fn run(
    options: &ServeOptions,
    shutdown: impl Future<Output = ()> + Send,
    events: &(dyn Fn(ServeEvent) + Sync),
) -> Result<(), ServeError> {
    let credentials = tls::NodeCredentials::load(&options.node)?;
    let config = tls::server_config(&credentials, vec![tls::load_crl(&options.crl)?])?;
    let db = Db::connect(&options.db, options.pool)?;
    let applied = db.migrate().await?;
    events(ServeEvent::Migrated {
        schema_version: Db::schema_version(),
        applied: applied.len(),
    });
    let listener = tokio::net::TcpListener::bind(&options.listen)
        .await
        .map_err(|source| ServeError::Listen {
            address: options.listen.clone(),
            source,
        })?;
    let (key, created) =
        provision_log::load_or_create_key(&options.node).map_err(|source| ServeError::Io {
            what: "the log key (log.key)",
            source,
        })?;
    if created {
        events(ServeEvent::LogKeyCreated {
            public: options.node.join(provision_log::LOG_PUB_FILE),
        });
    }
    let log = ProvisionLog::new(db.clone(), key);
    // What the routers and the appender report comes back here, to be handed to `events` on
    // this task (they outlive no borrow, and a slow `events` never holds up an answer).
    let (report, mut reports) = tokio::sync::mpsc::unbounded_channel::<ServeEvent>();
    let (lines, mut request_lines) = tokio::sync::mpsc::unbounded_channel::<api::RequestLine>();
    let logged = |router: axum::Router| {
        router.layer(axum::middleware::from_fn_with_state(
            lines.clone(),
            api::log_request,
        ))
    };
    let router = logged(api::router_with_log(Register::new(db.clone()), log.clone()));
    events(ServeEvent::Listening {
        identity: credentials.node.role.identity().to_string(),
        address: listener.local_addr().map_err(io("local address"))?,
    });
    let shutdown = async {
        shutdown.await;
        events(ServeEvent::ShuttingDown);
    };
    let (stop_appender, appender_stopped) = tokio::sync::oneshot::channel::<()>();
    let appender_report = report.clone();
    let appender = tokio::spawn(provision_log::run_appender(
        log.clone(),
        provision_log::APPEND_EVERY,
        async move {
            let _ = appender_stopped.await;
        },
        move |e| {
            let _ = appender_report.send(ServeEvent::LogAppendFailed(e.to_string()));
        },
    ));
    let residents = match &options.residents {
        None => None,
        Some(r) => {
            let state = api::disclosure::DisclosureState::new(
                Register::new(db.clone()),
                log.clone(),
                juki_jpki::ca::CaDirectory::open(&r.jpki_ca)?,
            );
            let listener = tokio::net::TcpListener::bind(&r.listen)
                .await
                .map_err(|source| ServeError::Listen {
                    address: r.listen.clone(),
                    source,
                })?;
            events(ServeEvent::ListeningForResidents {
                address: listener.local_addr().map_err(io("local address"))?,
            });
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let task = tokio::spawn(server::serve_public(
                listener,
                ServerTls::new(tls::public_server_config(&credentials)?),
                logged(api::disclosure::routes(state)),
                async move {
                    let _ = stopped.await;
                },
            ));
            Some((stop, task))
        }
    };
    let work = async {
        let served = server::serve(listener, ServerTls::new(config), router, shutdown).await;
        if let Some((stop, task)) = residents {
            let _ = stop.send(());
            let _ = task.await;
        }
        let _ = stop_appender.send(());
        let _ = appender.await;
        served
    };
    tokio::pin!(work);
    let served = loop {
        tokio::select! {
            served = &mut work => break served,
            Some(event) = reports.recv() => events(event),
            Some(line) = request_lines.recv() => events(ServeEvent::Request(line)),
        }
    };
    while let Ok(event) = reports.try_recv() {
        events(event);
    }
    while let Ok(line) = request_lines.try_recv() {
        events(ServeEvent::Request(line));
    }
    served.map_err(io("serve"))?;
    events(ServeEvent::Stopped);
    Ok(())
}

/// [`run`] on a runtime of its own until SIGINT or SIGTERM: what a server process does. The
/// signal handlers are installed first, so a server that could not be stopped gracefully does
/// not start.
pub fn run_until_signal(
    options: &ServeOptions,
    events: &(dyn Fn(ServeEvent) + Sync),
) -> Result<(), ServeError> {
    use tokio::signal::unix::{signal, SignalKind};
    let runtime = tokio::runtime::Runtime::new().map_err(io("tokio runtime"))?;
    runtime.block_on(async {
        let mut term = signal(SignalKind::terminate()).map_err(io("signal handler"))?;
        let mut int = signal(SignalKind::interrupt()).map_err(io("signal handler"))?;
        let signalled = async move {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        };
        run(options, signalled, events).await
    })
}
