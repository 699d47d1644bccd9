//! 利用者証明 for a service: OpenSSH's `ssh -I libjuki_pkcs11.so` logs in to an sshd started
//! here on 127.0.0.1 with the card's authentication key (from `ssh-keygen -D`) as the only
//! authorized key; the auth PIN comes through `SSH_ASKPASS`. Through pcscd + vpcd + the
//! simulated card, like the other tests.
//!
//! sshd is `JUKI_SSHD` or `/usr/sbin/sshd`. scripts/test.sh does not install openssh-server (its
//! service would stay on the machine): it unpacks the package under target/ and sets
//! `JUKI_SSHD`. Without sshd the test is skipped with a notice, or fails under `JUKI_PCSC=1`.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod common;

use common::world::{lines, world};
use common::{lock_or_skip, module, run, skip_without, Served};

/// sshd (`JUKI_SSHD`, else package openssh-server's), or `None` where it cannot run here.
fn sshd_ready() -> Option<PathBuf> {
    let sshd = std::env::var_os("JUKI_SSHD").map_or_else(|| "/usr/sbin/sshd".into(), PathBuf::from);
    if !sshd.exists() {
        skip_without(&format!(
            "no {} (package openssh-server, or JUKI_SSHD as scripts/test.sh sets it)",
            sshd.display()
        ));
        return None;
    }
    // Run as root, sshd separates privileges: it needs its user `sshd` (made by the package's
    // postinst, or by scripts/test.sh) and the directory /run/sshd (systemd makes it for the
    // service; a test has to). Run as another user it needs neither and lets in only that user.
    let root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    if root {
        let (known, _) = run(Command::new("getent").args(["passwd", "sshd"]));
        if !known {
            skip_without(
                "no user sshd, sshd's privilege separation user (scripts/test.sh makes it)",
            );
            return None;
        }
        std::fs::create_dir_all("/run/sshd").expect("create /run/sshd");
    }
    Some(sshd)
}

/// A free TCP port on 127.0.0.1.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Sshd(Child);

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn ssh_login_with_the_authentication_key() {
    let Some(_guard) = lock_or_skip() else {
        return;
    };
    let Some(sshd) = sshd_ready() else {
        return;
    };
    let w = world();
    w.session()
        .jpki_issue(&mut w.card(), &w.cred, &mut lines("2580\n"))
        .unwrap();
    let _served = Served::start(&w.image);
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| dir.path().join(name);
    let s = |p: &Path| p.to_str().unwrap().to_owned();

    // The authentication key as ssh-keygen -D lists it: the first key (slot order puts the
    // authentication token first); the signing key is not authorised.
    let out = Command::new("ssh-keygen")
        .arg("-D")
        .arg(module())
        .output()
        .unwrap();
    assert!(out.status.success());
    let keys = String::from_utf8_lossy(&out.stdout).into_owned();
    let auth_key = keys.lines().next().expect("a key").to_owned();
    assert!(auth_key.starts_with("ecdsa-sha2-nistp256 "), "{keys}");
    std::fs::write(d("authorized_keys"), format!("{auth_key}\n")).unwrap();

    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(d("hostkey"))
        .status()
        .unwrap();
    assert!(status.success());
    let port = free_port();
    let config = format!(
        "Port {port}\nListenAddress 127.0.0.1\nHostKey {}\nAuthorizedKeysFile {}\n\
         PasswordAuthentication no\nKbdInteractiveAuthentication no\nPubkeyAuthentication yes\n\
         UsePAM no\nStrictModes no\nPermitRootLogin prohibit-password\nPidFile {}\n",
        s(&d("hostkey")),
        s(&d("authorized_keys")),
        s(&d("sshd.pid")),
    );
    std::fs::write(d("sshd_config"), config).unwrap();
    // sshd's log (-e: to stderr) goes to a file, shown when something fails.
    let log = d("sshd.log");
    let sshd_log = || std::fs::read_to_string(&log).unwrap_or_default();
    let _sshd = Sshd(
        Command::new(&sshd)
            .args(["-D", "-e", "-f"])
            .arg(d("sshd_config"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "{} did not start:\n{}",
            sshd.display(),
            sshd_log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // The auth PIN through SSH_ASKPASS (no terminal).
    let askpass = d("askpass.sh");
    std::fs::write(&askpass, "#!/bin/sh\necho 1357\n").unwrap();
    let mut perms = std::fs::metadata(&askpass).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o700);
    std::fs::set_permissions(&askpass, perms).unwrap();
    let user = std::env::var("USER")
        .ok()
        .or_else(|| std::env::var("LOGNAME").ok())
        .unwrap_or_else(|| "root".into());
    let ssh = |extra: &[&str]| {
        Command::new("ssh")
            .arg("-I")
            .arg(module())
            .args(["-p", &port.to_string()])
            .args([
                "-o",
                "StrictHostKeyChecking=no",
                "-o",
                "UserKnownHostsFile=/dev/null",
            ])
            .args(["-o", "BatchMode=no", "-o", "PasswordAuthentication=no"])
            .args(["-o", "IdentityAgent=none"])
            .args(["-F", "/dev/null"])
            .args(extra)
            .arg(format!("{user}@127.0.0.1"))
            .arg("echo logged-in-with-juki")
            .env("SSH_ASKPASS", &askpass)
            .env("SSH_ASKPASS_REQUIRE", "force")
            .env("DISPLAY", ":0")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let out = ssh(&["-v"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.contains("logged-in-with-juki"),
        "ssh -I failed:\n{text}\nsshd:\n{}",
        sshd_log()
    );
    // sshd accepted the card's authentication key, by its fingerprint.
    let (ok, listed) = run(Command::new("ssh-keygen")
        .arg("-lf")
        .arg(d("authorized_keys")));
    assert!(ok, "{listed}");
    let fingerprint = listed.split_whitespace().nth(1).expect("a fingerprint");
    let accepted = format!("Accepted publickey for {user} from 127.0.0.1");
    assert!(
        sshd_log()
            .lines()
            .any(|l| l.contains(&accepted) && l.ends_with(&format!("ECDSA {fingerprint}"))),
        "{accepted} … ECDSA {fingerprint} not in sshd's log:\n{}",
        sshd_log()
    );
}
