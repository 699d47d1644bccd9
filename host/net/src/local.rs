//! A whole 住基ネット on one machine, for the demo, the benchmarks and the end-to-end tests of
//! the programs around it: the network CA, a throwaway PostgreSQL ([`PgCluster`]) with the
//! register migrated, and the national server serving the API over mutual TLS on a loopback
//! port, on a runtime of its own (its callers are blocking, like the counter). Stopped and
//! removed when dropped.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use crate::api;
use crate::db::Db;
use crate::pg_cluster::PgCluster;
use crate::pki::{self, NetworkCa, Role};
use crate::provision_log::{self, ProvisionLog};
use crate::register::Register;
use crate::server::{self, ServerTls};
use crate::tls::{self, NodeCredentials};

/// What failed while setting the network up.
#[derive(Debug, thiserror::Error)]
#[error("the local 住基ネット cannot be set up: {0}")]
pub struct LocalError(String);

fn err(what: &str) -> impl Fn(&dyn std::fmt::Display) -> LocalError + '_ {
    move |e| LocalError(format!("{what}: {e}"))
}

type Running = (
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<()>>,
);

/// The network: CA, register, server.
pub struct LocalNetwork {
    dir: PathBuf,
    ca: NetworkCa,
    rt: tokio::runtime::Runtime,
    register: Register,
    log: ProvisionLog,
    tls: ServerTls,
    addr: SocketAddr,
    url: String,
    running: Option<Running>,
    public: Option<Running>,
    // Dropped last: the server and the pool go before the cluster stops. None on a cluster of
    // the caller's ([`LocalNetwork::on_cluster`]).
    cluster: Option<PgCluster>,
}

/// Node certificates issued here are valid this many days.
const NODE_DAYS: u32 = 30;

impl LocalNetwork {
    /// Makes the CA in `dir/ca` and the server's node in `dir/server`, starts PostgreSQL with a
    /// migrated register, and the server on a free loopback port.
    pub fn start(dir: &Path) -> Result<LocalNetwork, LocalError> {
        let mut net = LocalNetwork::without_server(dir)?;
        net.start_server()?;
        Ok(net)
    }

    /// [`Self::start`] but for the in-process server: the CA, the server's node, PostgreSQL and
    /// the register, and a free loopback port ([`Self::address`]) for a server process
    /// (`juki net serve` with [`Self::server_dir`], [`Self::crl_file`] and
    /// [`Self::database_url`]) or for [`Self::start_server`].
    pub fn without_server(dir: &Path) -> Result<LocalNetwork, LocalError> {
        LocalNetwork::set_up(dir, || {
            let cluster = PgCluster::start().map_err(|e| err("PostgreSQL")(&e))?;
            let url = cluster
                .fresh_database()
                .map_err(|e| err("PostgreSQL")(&e))?;
            Ok((url, Some(cluster)))
        })
    }

    /// [`Self::without_server`] on a new database of `cluster`, which the caller runs (e.g. one
    /// cluster shared by the tests of a test binary) and which must outlive the network.
    /// [`Self::restart_database`] is then the caller's business and refused here.
    pub fn on_cluster(dir: &Path, cluster: &PgCluster) -> Result<LocalNetwork, LocalError> {
        LocalNetwork::set_up(dir, || {
            let url = cluster
                .fresh_database()
                .map_err(|e| err("PostgreSQL")(&e))?;
            Ok((url, None))
        })
    }

    /// The CA, the server's node, the database `database` makes (its URL, and the cluster if it
    /// is the network's own), the register migrated on it, a free loopback port.
    fn set_up(
        dir: &Path,
        database: impl FnOnce() -> Result<(String, Option<PgCluster>), LocalError>,
    ) -> Result<LocalNetwork, LocalError> {
        let now = pki::now();
        let ca = NetworkCa::init(&dir.join("ca"), now).map_err(|e| err("network CA")(&e))?;
        let server_role = Role::Server {
            name: "national-center".into(),
            dns_names: vec!["localhost".into()],
            ip_addresses: vec![std::net::IpAddr::from([127, 0, 0, 1])],
        };
        let server_dir = dir.join("server");
        ca.issue_node(&server_role, NODE_DAYS, now, &server_dir)
            .map_err(|e| err("server node")(&e))?;
        let node = NodeCredentials::load(&server_dir).map_err(|e| err("server node")(&e))?;
        let (log_key, _) =
            provision_log::load_or_create_key(&server_dir).map_err(|e| err("log key")(&e))?;
        let crl = ca
            .crl(now)
            .map_err(|e| err("CRL")(&e))
            .and_then(|c| tls::crl_der(&c).map_err(|e| err("CRL")(&e)))?;
        let config = tls::server_config(&node, vec![crl]).map_err(|e| err("TLS")(&e))?;
        let (url, cluster) = database()?;
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(|e| err("runtime")(&e))?;
        let db = Db::connect(&url, 8).map_err(|e| err("database")(&e))?;
        rt.block_on(db.migrate())
            .map_err(|e| err("migrations")(&e))?;
        let addr = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| err("port")(&e))?;
        Ok(LocalNetwork {
            dir: dir.to_path_buf(),
            ca,
            rt,
            register: Register::new(db.clone()),
            log: ProvisionLog::new(db, log_key),
            tls: ServerTls::new(config),
            addr,
            url,
            running: None,
            public: None,
            cluster,
        })
    }

    /// The server's node directory (`dir/server`).
    pub fn server_dir(&self) -> PathBuf {
        self.dir.join("server")
    }

    /// The register's database (`postgres://…` on the throwaway cluster).
    pub fn database_url(&self) -> &str {
        &self.url
    }

    /// Writes the CA's current CRL (PEM) to `dir/network.crl` and returns its path.
    pub fn crl_file(&self) -> Result<PathBuf, LocalError> {
        let pem = self
            .ca
            .crl(pki::now())
            .and_then(|crl| pki::crl_pem(&crl))
            .map_err(|e| err("CRL")(&e))?;
        let path = self.dir.join("network.crl");
        std::fs::write(&path, pem).map_err(|e| err("CRL")(&e))?;
        Ok(path)
    }

    /// The server's address (`127.0.0.1:PORT`), as clients dial it.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// The network's CA (to issue seals, revoke, publish CRLs, as its administrator).
    pub fn ca(&self) -> &NetworkCa {
        &self.ca
    }

    /// The register behind the server (to look, as the national center's administrator).
    pub fn register(&self) -> &Register {
        &self.register
    }

    /// The provision log behind the server.
    pub fn log(&self) -> &ProvisionLog {
        &self.log
    }

    /// Logs what waits now, without waiting for the appender's tick; the new head if any.
    pub fn append_log(&self) -> Result<Option<juki_log::SignedTreeHead>, LocalError> {
        self.rt
            .block_on(self.log.append_pending())
            .map_err(|e| err("provision log")(&e))
    }

    /// Runs `statement` directly in the register's database, around the server: what an
    /// administrator — or an attacker — with database access can do (the tests' tampering).
    pub fn sql(&self, statement: &str) -> Result<(), LocalError> {
        self.rt.block_on(async {
            let client = self
                .register
                .db()
                .client()
                .await
                .map_err(|e| err("database")(&e))?;
            client
                .batch_execute(statement)
                .await
                .map_err(|e| err("SQL")(&e))
        })
    }

    /// Runs `f` on the network's runtime.
    pub fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.rt.block_on(f)
    }

    /// The node directory `dir/name` for `role`, issued on first use, with the log's public
    /// key (`log.pub`) beside `ca.pem`, as the administrator hands both out.
    pub fn node(&self, name: &str, role: &Role) -> Result<PathBuf, LocalError> {
        let dir = self.dir.join(name);
        if !dir.exists() {
            self.ca
                .issue_node(role, NODE_DAYS, pki::now(), &dir)
                .map_err(|e| err("node")(&e))?;
            std::fs::copy(
                self.server_dir().join(provision_log::LOG_PUB_FILE),
                dir.join(provision_log::LOG_PUB_FILE),
            )
            .map_err(|e| err("log.pub")(&e))?;
        }
        Ok(dir)
    }

    /// Starts the server again on the same port (after [`Self::stop_server`]).
    pub fn start_server(&mut self) -> Result<(), LocalError> {
        if self.running.is_some() {
            return Ok(());
        }
        let listener = self
            .rt
            .block_on(tokio::net::TcpListener::bind(self.addr))
            .map_err(|e| err("listen")(&e))?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (tls, log) = (self.tls.clone(), self.log.clone());
        let router = api::router_with_log(self.register.clone(), log.clone());
        let task = self.rt.spawn(async move {
            // The appender runs as long as the server (a tenth of a second here: tests wait
            // for it).
            let (stop_appender, appender_stopped) = tokio::sync::oneshot::channel::<()>();
            let appender = tokio::spawn(provision_log::run_appender(
                log,
                std::time::Duration::from_millis(100),
                async move {
                    let _ = appender_stopped.await;
                },
                |_| {},
            ));
            let served = server::serve(listener, tls, router, async move {
                let _ = stopped.await;
            })
            .await;
            let _ = stop_appender.send(());
            let _ = appender.await;
            served
        });
        self.running = Some((stop, task));
        Ok(())
    }

    /// Opens the residents' listener (開示請求, `api::disclosure`) on a free loopback port,
    /// answering with the JPKI CA's records in `jpki_ca`; its address (`localhost:PORT`: the
    /// server certificate names `localhost`).
    pub fn serve_residents(&mut self, jpki_ca: &Path) -> Result<String, LocalError> {
        let ca = juki_jpki::ca::CaDirectory::open(jpki_ca).map_err(|e| err("JPKI CA")(&e))?;
        let node = NodeCredentials::load(&self.server_dir()).map_err(|e| err("server node")(&e))?;
        let config = tls::public_server_config(&node).map_err(|e| err("TLS")(&e))?;
        let listener = self
            .rt
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .map_err(|e| err("listen")(&e))?;
        let port = listener.local_addr().map_err(|e| err("listen")(&e))?.port();
        let router = api::disclosure::routes(api::disclosure::DisclosureState::new(
            self.register.clone(),
            self.log.clone(),
            ca,
        ));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = self.rt.spawn(server::serve_public(
            listener,
            ServerTls::new(config),
            router,
            async move {
                let _ = stopped.await;
            },
        ));
        self.public = Some((stop, task));
        Ok(format!("localhost:{port}"))
    }

    /// Restarts PostgreSQL under the running server (every connection of the pool is cut).
    pub fn restart_database(&self) -> Result<(), LocalError> {
        match &self.cluster {
            Some(cluster) => cluster.restart().map_err(|e| err("PostgreSQL restart")(&e)),
            None => Err(LocalError(
                "PostgreSQL restart: the cluster is not the network's own".into(),
            )),
        }
    }

    /// Stops the server (the network is down for its clients; the register stays).
    pub fn stop_server(&mut self) {
        if let Some((stop, task)) = self.public.take() {
            let _ = stop.send(());
            let _ = self.rt.block_on(task);
        }
        if let Some((stop, task)) = self.running.take() {
            let _ = stop.send(());
            let _ = self.rt.block_on(task);
        }
    }
}

impl Drop for LocalNetwork {
    fn drop(&mut self) {
        self.stop_server();
    }
}
