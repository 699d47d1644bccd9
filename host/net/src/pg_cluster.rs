//! A throwaway PostgreSQL cluster for the tests, the demo and the benchmark: Debian's own server
//! binaries (`postgresql-15`), a cluster made by `initdb` in a temporary directory, listening on
//! a unix socket in that directory and on 127.0.0.1 at a free port, with trust authentication;
//! stopped (`pg_ctl stop -m fast`) and removed when the [`PgCluster`] is dropped.
//!
//! It is compiled in always, not behind a feature: the demo and the benchmark start one outside
//! any test, and it needs nothing but the standard library and `tempfile`.
//!
//! `initdb` refuses to run as root. When the effective uid is 0 (CI, this project's machines)
//! every server command runs as the `postgres` system user (`runuser -u postgres --`) and the
//! directory is handed to that user; otherwise the commands run as the caller.

use std::fmt;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

/// Environment variable naming the directory of `initdb`, `pg_ctl` and `postgres` (overrides the
/// search of `/usr/lib/postgresql/*/bin`).
pub const PG_BIN_ENV: &str = "JUKI_PG_BIN";

/// The system user that runs the server when the caller is root.
pub const SERVICE_USER: &str = "postgres";

/// The superuser role of the throwaway cluster (trust authentication, no password).
pub const SUPERUSER: &str = "postgres";

/// Why the cluster could not be started or used.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The PostgreSQL server binaries were not found.
    #[error(
        "PostgreSQL's server binaries (initdb, pg_ctl) were not found in /usr/lib/postgresql/*/bin \
         or ${PG_BIN_ENV}: install Debian's postgresql package"
    )]
    NoBinaries,
    /// Running as root, but the `postgres` system user does not exist.
    #[error("running as root, initdb needs the system user \"{SERVICE_USER}\", which does not exist: install Debian's postgresql package")]
    NoServiceUser,
    /// A command could not be started or failed.
    #[error("{command} failed: {detail}")]
    Command {
        /// The command line.
        command: String,
        /// Its exit status and the end of its output.
        detail: String,
    },
    /// A file system operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: std::io::Error,
    },
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> ClusterError {
    let what = what.into();
    move |source| ClusterError::Io { what, source }
}

/// Who runs the server commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunAs {
    /// The calling user (not root).
    Caller,
    /// Root: the commands run as this system user through `runuser -u USER --`.
    ServiceUser {
        /// The user's name.
        name: String,
        /// Its uid.
        uid: u32,
        /// Its primary gid.
        gid: u32,
    },
}

impl RunAs {
    /// The caller when it is not root; otherwise [`SERVICE_USER`].
    pub fn detect() -> Result<RunAs, ClusterError> {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let euid = unsafe { libc::geteuid() };
        if euid != 0 {
            return Ok(RunAs::Caller);
        }
        RunAs::service_user(SERVICE_USER)
    }

    /// The system user `name`, looked up with `id`.
    pub fn service_user(name: &str) -> Result<RunAs, ClusterError> {
        let id = |flag: &str| -> Option<u32> {
            let out = Command::new("id").args([flag, name]).output().ok()?;
            if !out.status.success() {
                return None;
            }
            String::from_utf8(out.stdout).ok()?.trim().parse().ok()
        };
        match (id("-u"), id("-g")) {
            (Some(uid), Some(gid)) => Ok(RunAs::ServiceUser {
                name: name.to_string(),
                uid,
                gid,
            }),
            _ => Err(ClusterError::NoServiceUser),
        }
    }

    /// `program args…` as this user: directly, or behind `runuser -u USER --`.
    pub fn command(&self, program: &Path) -> Command {
        match self {
            RunAs::Caller => Command::new(program),
            RunAs::ServiceUser { name, .. } => {
                let mut c = Command::new("runuser");
                c.args(["-u", name, "--"]).arg(program);
                c
            }
        }
    }

    /// Gives `path` to this user (only when it is a service user).
    fn own(&self, path: &Path) -> Result<(), ClusterError> {
        if let RunAs::ServiceUser { uid, gid, .. } = self {
            std::os::unix::fs::chown(path, Some(*uid), Some(*gid))
                .map_err(io(format!("chown {} to {SERVICE_USER}", path.display())))?;
        }
        Ok(())
    }
}

/// The directory of PostgreSQL's server binaries: `$JUKI_PG_BIN`, else the highest version under
/// `/usr/lib/postgresql/*/bin` (Debian's layout), else `pg_config --bindir`.
pub fn find_bin_dir() -> Result<PathBuf, ClusterError> {
    if let Some(dir) = std::env::var_os(PG_BIN_ENV) {
        let dir = PathBuf::from(dir);
        return if dir.join("initdb").is_file() {
            Ok(dir)
        } else {
            Err(ClusterError::NoBinaries)
        };
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    let out = Command::new("pg_config").arg("--bindir").output();
    if let Ok(out) = out {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && dir.join("initdb").is_file() {
            return Ok(dir);
        }
    }
    Err(ClusterError::NoBinaries)
}

fn run(mut command: Command) -> Result<Output, ClusterError> {
    let line = format!("{command:?}");
    let out = command.output().map_err(|e| ClusterError::Command {
        command: line.clone(),
        detail: e.to_string(),
    })?;
    if out.status.success() {
        return Ok(out);
    }
    let text = |b: &[u8]| {
        let s = String::from_utf8_lossy(b);
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    };
    Err(ClusterError::Command {
        command: line,
        detail: format!(
            "{}\n{}\n{}",
            out.status,
            text(&out.stdout),
            text(&out.stderr)
        ),
    })
}

/// A free TCP port on 127.0.0.1 (the kernel's choice; free when this returns).
fn free_port() -> Result<u16, ClusterError> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(io("bind 127.0.0.1:0"))?;
    Ok(listener.local_addr().map_err(io("local address"))?.port())
}

/// Server settings of a throwaway cluster: no durability (`fsync=off`): a crash of the machine
/// may lose it, which for a test's cluster does not matter; a clean stop or restart loses nothing.
pub const THROWAWAY_SETTINGS: &[(&str, &str)] = &[
    ("fsync", "off"),
    ("synchronous_commit", "off"),
    ("full_page_writes", "off"),
];

/// Settings with durability as in production (`fsync=on`, the defaults): for measurements.
pub const DURABLE_SETTINGS: &[(&str, &str)] = &[];

/// `pg_ctl -D DIR/data -l DIR/server.log -o "-p PORT" ARGS…` as `run_as`.
fn pg_ctl(
    run_as: &RunAs,
    bin: &Path,
    dir: &Path,
    port: u16,
    args: &[&str],
) -> Result<(), ClusterError> {
    let mut c = run_as.command(&bin.join("pg_ctl"));
    c.arg("-D")
        .arg(dir.join("data"))
        .arg("-l")
        .arg(dir.join("server.log"))
        .args(["-o", &format!("-p {port}")])
        .args(args);
    run(c).map(|_| ())
}

/// A running throwaway PostgreSQL cluster; stopped and deleted on drop.
pub struct PgCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    run_as: RunAs,
    port: u16,
    databases: AtomicU32,
}

impl fmt::Debug for PgCluster {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgCluster")
            .field("dir", &self.dir.path())
            .field("port", &self.port)
            .field("run_as", &self.run_as)
            .finish()
    }
}

impl PgCluster {
    /// A new cluster with [`THROWAWAY_SETTINGS`], run as [`RunAs::detect`].
    pub fn start() -> Result<PgCluster, ClusterError> {
        PgCluster::start_with(RunAs::detect()?, THROWAWAY_SETTINGS)
    }

    /// A new cluster run as `run_as`, with extra server settings (`-c name=value`).
    pub fn start_with(run_as: RunAs, settings: &[(&str, &str)]) -> Result<PgCluster, ClusterError> {
        let bin = find_bin_dir()?;
        // The service user must reach the directory: under /tmp, whatever the caller's TMPDIR
        // (which may be private to root, e.g. under /root).
        let base = match run_as {
            RunAs::Caller => std::env::temp_dir(),
            RunAs::ServiceUser { .. } => PathBuf::from("/tmp"),
        };
        let dir = tempfile::Builder::new()
            .prefix("juki-pg.")
            .tempdir_in(&base)
            .map_err(io(format!(
                "create the cluster's temporary directory in {}",
                base.display()
            )))?;
        run_as.own(dir.path())?;
        let data = dir.path().join("data");
        let mut initdb = run_as.command(&bin.join("initdb"));
        initdb
            .arg("-D")
            .arg(&data)
            .args(["-A", "trust", "-U", SUPERUSER, "-E", "UTF8", "--locale=C"])
            .arg("--no-sync")
            .arg("--no-instructions");
        run(initdb)?;
        let mut conf = String::from("\n# juki's throwaway cluster (pg_cluster.rs)\n");
        conf += "listen_addresses = '127.0.0.1'\n";
        conf += &format!("unix_socket_directories = '{}'\n", dir.path().display());
        for (name, value) in settings {
            conf += &format!("{name} = '{value}'\n");
        }
        let conf_path = data.join("postgresql.auto.conf");
        let mut existing = std::fs::read_to_string(&conf_path).unwrap_or_default();
        existing += &conf;
        std::fs::write(&conf_path, existing).map_err(io("write postgresql.auto.conf"))?;
        run_as.own(&conf_path)?;
        // The port is free when chosen, but another process may take it before the server
        // binds it: then start again on another one.
        let mut last = None;
        for _ in 0..5 {
            let port = free_port()?;
            match pg_ctl(
                &run_as,
                &bin,
                dir.path(),
                port,
                &["start", "-w", "-t", "60"],
            ) {
                Ok(()) => {
                    return Ok(PgCluster {
                        dir,
                        bin,
                        run_as,
                        port,
                        databases: AtomicU32::new(0),
                    })
                }
                Err(ClusterError::Command { command, detail }) => {
                    // The server's own reason is in its log.
                    let log =
                        std::fs::read_to_string(dir.path().join("server.log")).unwrap_or_default();
                    let lines: Vec<&str> = log.lines().collect();
                    let tail = lines[lines.len().saturating_sub(10)..].join("\n");
                    last = Some(ClusterError::Command {
                        command,
                        detail: format!("{detail}\nserver.log:\n{tail}"),
                    });
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or(ClusterError::NoBinaries))
    }

    fn pg_ctl(&self, args: &[&str]) -> Result<(), ClusterError> {
        pg_ctl(&self.run_as, &self.bin, self.dir.path(), self.port, args)
    }

    /// The cluster's data directory.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The server's log file.
    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    /// The directory of the server's unix socket.
    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Who runs the server.
    pub fn run_as(&self) -> &RunAs {
        &self.run_as
    }

    /// `postgres://postgres@127.0.0.1:PORT/DATABASE` (TCP, trust authentication).
    pub fn url(&self, database: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{database}", self.port)
    }

    /// The same database through the unix socket (libpq's key=value form, which
    /// tokio-postgres also reads).
    pub fn socket_url(&self, database: &str) -> String {
        format!(
            "host={} port={} user={SUPERUSER} dbname={database}",
            self.socket_dir().display(),
            self.port
        )
    }

    /// Creates the database `name` (letters, digits and `_` only) and returns its URL.
    pub fn create_database(&self, name: &str) -> Result<String, ClusterError> {
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(ClusterError::Command {
                command: "createdb".into(),
                detail: format!("\"{name}\" is not a plain database name"),
            });
        }
        let mut c = Command::new(self.bin.join("createdb"));
        c.arg("-h").arg(self.socket_dir()).args([
            "-p",
            &self.port.to_string(),
            "-U",
            SUPERUSER,
            name,
        ]);
        run(c)?;
        Ok(self.url(name))
    }

    /// Creates a database with a fresh name (`juki_1`, `juki_2`, …) and returns its URL.
    pub fn fresh_database(&self) -> Result<String, ClusterError> {
        let n = self.databases.fetch_add(1, Ordering::Relaxed) + 1;
        self.create_database(&format!("juki_{n}"))
    }

    /// `pg_ctl restart -m fast`: every connection is cut, the server comes back on the same
    /// port with the same data.
    pub fn restart(&self) -> Result<(), ClusterError> {
        self.pg_ctl(&["restart", "-m", "fast", "-w", "-t", "60"])
    }

    /// `pg_ctl stop -m fast`.
    pub fn stop(&self) -> Result<(), ClusterError> {
        self.pg_ctl(&["stop", "-m", "fast", "-w", "-t", "60"])
    }

    /// Starts a stopped cluster again.
    pub fn start_again(&self) -> Result<(), ClusterError> {
        self.pg_ctl(&["start", "-w", "-t", "60"])
    }

    /// Whether the server answers (`pg_ctl status`).
    pub fn is_running(&self) -> bool {
        let mut c = self.run_as.command(&self.bin.join("pg_ctl"));
        c.arg("-D").arg(self.data_dir()).arg("status");
        c.output().map(|o| o.status.success()).unwrap_or(false)
    }
}

impl Drop for PgCluster {
    /// Best effort: a library does not print, and a drop cannot fail. Call [`PgCluster::stop`]
    /// to hear why a stop failed.
    fn drop(&mut self) {
        if self.is_running() {
            let _ = self.stop();
        }
        // The TempDir removes the directory (root can remove the service user's files).
    }
}
