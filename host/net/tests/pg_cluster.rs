//! The throwaway cluster itself: started in a temporary directory on its own port, run as the
//! `postgres` system user when the caller is root and as the caller otherwise, reachable by TCP
//! and by its unix socket, stopped and removed on drop.

use std::net::TcpStream;
use std::os::unix::fs::MetadataExt;
use std::process::Command;

use juki_net::db::Db;
use juki_net::pg_cluster::{PgCluster, RunAs, SERVICE_USER};

/// Set in the child test that runs as the `postgres` user.
const CHILD_ENV: &str = "JUKI_PG_CLUSTER_CHILD";

fn euid() -> u32 {
    // SAFETY: no preconditions.
    unsafe { libc::geteuid() }
}

async fn port_of(url: &str) -> String {
    let db = Db::connect(url, 1).unwrap();
    let client = db.client().await.unwrap();
    client
        .query_one("SELECT current_setting('port') || ' ' || current_user", &[])
        .await
        .unwrap()
        .get(0)
}

async fn start_use_and_drop() {
    let cluster = PgCluster::start().unwrap();
    let dir = cluster.socket_dir().to_path_buf();
    let port = cluster.port();
    let owner = std::fs::metadata(cluster.data_dir()).unwrap().uid();
    match cluster.run_as() {
        RunAs::Caller => {
            assert_ne!(euid(), 0);
            assert_eq!(owner, euid());
        }
        RunAs::ServiceUser { name, uid, .. } => {
            assert_eq!(euid(), 0);
            assert_eq!(name, SERVICE_USER);
            assert_eq!(
                owner, *uid,
                "the data directory belongs to the service user"
            );
        }
    }
    assert!(cluster.is_running());
    let url = cluster.create_database("first").unwrap();
    assert_eq!(url, format!("postgres://postgres@127.0.0.1:{port}/first"));
    assert_eq!(port_of(&url).await, format!("{port} postgres"));
    assert_eq!(
        port_of(&cluster.socket_url("first")).await,
        format!("{port} postgres")
    );
    assert!(cluster.create_database("first").is_err(), "exists already");
    assert!(cluster.create_database("x; DROP").is_err());
    let fresh = cluster.fresh_database().unwrap();
    assert!(fresh.ends_with("/juki_1"), "{fresh}");
    drop(cluster);
    assert!(!dir.exists(), "the directory is removed");
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the server is stopped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_as_this_user() {
    start_use_and_drop().await;
}

/// Root's path is the test above (on CI and here, which run as root); the caller's own path is
/// tested by running this test binary again as the `postgres` user.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_as_an_ordinary_user() {
    if std::env::var_os(CHILD_ENV).is_some() {
        assert_eq!(RunAs::detect().unwrap(), RunAs::Caller);
        start_use_and_drop().await;
        return;
    }
    if euid() != 0 {
        // Already the ordinary user's path.
        assert_eq!(RunAs::detect().unwrap(), RunAs::Caller);
        start_use_and_drop().await;
        return;
    }
    let exe = std::env::current_exe().unwrap();
    let out = Command::new("runuser")
        // The caller's TMPDIR may be private to root.
        .args([
            "-u",
            SERVICE_USER,
            "--",
            "env",
            &format!("{CHILD_ENV}=1"),
            "TMPDIR=/tmp",
        ])
        .arg(&exe)
        .args(["--exact", "a_cluster_as_an_ordinary_user", "--nocapture"])
        .current_dir("/")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() && stderr.contains("Permission denied") && !stdout.contains("running")
    {
        // The test binary is not readable by that user (a private target directory).
        println!(
            "SKIPPED: {} cannot run {}: {stderr}",
            SERVICE_USER,
            exe.display()
        );
        return;
    }
    assert!(
        out.status.success(),
        "as {SERVICE_USER}:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("1 passed"), "{stdout}");
}

#[test]
fn root_runs_the_server_commands_through_runuser() {
    let run_as = RunAs::ServiceUser {
        name: "postgres".into(),
        uid: 101,
        gid: 104,
    };
    let c = run_as.command(std::path::Path::new("/usr/lib/postgresql/15/bin/initdb"));
    assert_eq!(c.get_program(), "runuser");
    let args: Vec<_> = c
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        args,
        ["-u", "postgres", "--", "/usr/lib/postgresql/15/bin/initdb"]
    );
    let c = RunAs::Caller.command(std::path::Path::new("/bin/true"));
    assert_eq!(c.get_program(), "/bin/true");
    assert!(RunAs::service_user("no-such-user-juki").is_err());
}
