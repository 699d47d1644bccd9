//! `juki net serve` as a process of its own, as the national center runs it: started on a
//! network's database and address, killed or stopped, its log (standard error) collected.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use juki_net::local::LocalNetwork;

use super::path_str;

/// Within this, the server must have started, and its log must have ended after a stop.
const DEADLINE: Duration = Duration::from_secs(30);

/// `juki net serve` on the network's database and address, as a process of its own; returns
/// once it listens. Its standard error (the server's log) is collected in the background.
pub struct ServerProcess {
    child: Child,
    log: mpsc::Receiver<String>,
}

impl ServerProcess {
    pub fn start(net: &LocalNetwork, crl: &Path) -> ServerProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_juki"))
            .args(["net", "serve", "--node", path_str(&net.server_dir())])
            .args(["--crl", path_str(crl), "--listen", &net.address()])
            .args(["--db", net.database_url(), "--pool", "4"])
            .env("LANG", "C")
            .env_remove("LC_ALL")
            .env_remove("LC_MESSAGES")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run juki net serve");
        let (tx, log) = mpsc::channel();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut seen = Vec::new();
        loop {
            match log.recv_timeout(DEADLINE) {
                Ok(line) if line.contains("serving on https://") => break,
                Ok(line) => seen.push(line),
                Err(e) => panic!("juki net serve did not start ({e}): {seen:?}"),
            }
        }
        ServerProcess { child, log }
    }

    /// SIGKILL: no shutdown, no answer to what is in flight.
    pub fn kill(mut self) {
        self.child.kill().unwrap();
        let status = self.child.wait().unwrap();
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(libc::SIGKILL)
        );
    }

    /// SIGTERM: a graceful stop, and the log's last lines.
    pub fn stop(mut self) -> Vec<String> {
        // SAFETY: a signal to the child this test started (and has not waited for yet).
        assert_eq!(
            unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) },
            0
        );
        let status = self.child.wait().unwrap();
        assert!(status.success(), "{status}");
        // The rest of the log, up to the end of the pipe.
        let mut rest = Vec::new();
        while let Ok(line) = self.log.recv_timeout(DEADLINE) {
            rest.push(line);
        }
        rest
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // A test that failed half-way leaves no server behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
