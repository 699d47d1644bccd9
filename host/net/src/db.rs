//! PostgreSQL: the connection pool (deadpool-postgres over tokio-postgres) and the schema's
//! migrations (refinery, embedded from `host/net/migrations/`, `V<n>__<name>.sql`).
//!
//! Why not sqlx: its `sqlx` crate names the SQLite driver as an optional dependency whose
//! `libsqlite3-sys` (`links = "sqlite3"`) cannot be resolved next to rusqlite's, which the
//! counter uses, and Cargo refuses two crates linking one native library even when one is never
//! built. tokio-postgres is the driver underneath most of the Rust PostgreSQL stack, deadpool is
//! its usual pool, refinery its usual migration runner; every query is a runtime query, so
//! building needs no database.

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

mod embedded {
    refinery::embed_migrations!("migrations");
}

/// Key of the advisory lock held while migrating (two servers starting at once migrate one
/// after the other).
const MIGRATION_LOCK: i64 = 0x6a75_6b69_6e65_7401;

/// How long an operation waits for a connection, or for a new one to be made.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What went wrong with the database itself.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The connection URL could not be read.
    #[error("the PostgreSQL URL is not valid: {0}")]
    Url(#[source] tokio_postgres::Error),
    /// The pool could not be built.
    #[error("the PostgreSQL connection pool could not be built: {0}")]
    Build(String),
    /// No connection could be had (server down, refused, timed out).
    #[error("no connection to PostgreSQL: {0}")]
    Unavailable(String),
    /// A statement failed.
    #[error("PostgreSQL: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// A migration failed.
    #[error("the schema migration failed: {0}")]
    Migration(String),
}

impl DbError {
    /// Whether trying again later may succeed: the connection was lost or could not be made, or
    /// PostgreSQL chose this transaction as the loser of a serialization conflict or deadlock.
    pub fn is_transient(&self) -> bool {
        match self {
            DbError::Unavailable(_) => true,
            DbError::Postgres(e) => {
                if e.is_closed() {
                    return true;
                }
                if let Some(code) = e.code() {
                    let c = code.code();
                    // 40001 serialization_failure, 40P01 deadlock_detected, class 08
                    // connection exceptions, 57P01..57P03 admin/crash shutdown, cannot connect
                    // now.
                    return c == "40001"
                        || c == "40P01"
                        || c.starts_with("08")
                        || c.starts_with("57P");
                }
                // No SQLSTATE: an I/O error on the socket (refused, reset) is transient; a
                // conversion error or a protocol error is not.
                let mut source = std::error::Error::source(e);
                while let Some(s) = source {
                    if s.is::<std::io::Error>() {
                        return true;
                    }
                    source = s.source();
                }
                false
            }
            _ => false,
        }
    }
}

impl From<deadpool_postgres::PoolError> for DbError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        match e {
            deadpool_postgres::PoolError::Backend(e) => DbError::Postgres(e),
            other => DbError::Unavailable(other.to_string()),
        }
    }
}

/// The national register's database: a pool of connections.
#[derive(Clone, Debug)]
pub struct Db {
    pool: Pool,
}

impl Db {
    /// A pool of at most `max_connections` connections to `url` (`postgres://…` or libpq's
    /// `key=value` form). Connections are made on demand; one the server closed (a PostgreSQL
    /// restart) is dropped when it is next taken (`RecyclingMethod::Fast`: the closed socket is
    /// seen without a round trip — checking each connection with a query cost a round trip on
    /// every request, measured on 開示請求), and the pool connects anew. A connection that died
    /// silently fails its next query with a transient error, which every caller retries.
    pub fn connect(url: &str, max_connections: usize) -> Result<Db, DbError> {
        let mut config: tokio_postgres::Config = url.parse().map_err(DbError::Url)?;
        config.connect_timeout(CONNECT_TIMEOUT);
        config.application_name("juki-net");
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(max_connections.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(CONNECT_TIMEOUT))
            .create_timeout(Some(CONNECT_TIMEOUT))
            .recycle_timeout(Some(CONNECT_TIMEOUT))
            .build()
            .map_err(|e| DbError::Build(e.to_string()))?;
        Ok(Db { pool })
    }

    /// Brings the schema to the newest version; returns the versions applied now (none when it
    /// was current). Safe to run from several processes at once.
    pub async fn migrate(&self) -> Result<Vec<i32>, DbError> {
        let mut client = self.client().await?;
        client
            .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        let client_ref: &mut tokio_postgres::Client = &mut client;
        let report = embedded::migrations::runner().run_async(client_ref).await;
        client
            .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
            .await?;
        let report = report.map_err(|e| DbError::Migration(e.to_string()))?;
        Ok(report
            .applied_migrations()
            .iter()
            .map(|m| m.version())
            .collect())
    }

    /// A connection from the pool.
    pub async fn client(&self) -> Result<Object, DbError> {
        Ok(self.pool.get().await?)
    }

    /// The pool itself.
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The newest schema version this build knows.
    pub fn schema_version() -> i32 {
        embedded::migrations::runner()
            .get_migrations()
            .iter()
            .map(|m| m.version())
            .max()
            .unwrap_or(0)
    }
}
