//! A municipal counter driven through the `juki` binary on the card in the virtual reader
//! (pcscd + vpcd): its data directory and credential, its first operator, a blank card.

use std::path::{Path, PathBuf};
use std::process::Output;

use juki_counter::CounterDb;

use super::pcsc::{juki_card_command, Served};
use super::{ok, path_str as s, run};

pub const ISSUE_DAY: &str = "2026-04-01";

/// One counter's world: its data directory and credential.
pub struct Counter {
    pub dir: PathBuf,
    pub cred: PathBuf,
}

/// `JUKI_TODAY=today juki --reader "Virtual PCD 00 00" ARGS` with `stdin`.
pub fn juki_on(today: &str, args: &[&str], stdin: &str) -> Output {
    let mut cmd = juki_card_command(args);
    cmd.env("JUKI_TODAY", today).env_remove("JUKI_COUNTER_DIR");
    run(&mut cmd, stdin)
}

impl Counter {
    /// `juki counter --counter-dir DIR SUB … [--credential C] --operator OP …`.
    pub fn run(&self, today: &str, sub: &str, extra: &[&str], stdin: &str) -> Output {
        let mut args = vec!["counter", "--counter-dir", s(&self.dir), sub];
        if !matches!(sub, "audit" | "pending" | "operator") {
            args.extend(["--credential", s(&self.cred)]);
        }
        args.extend_from_slice(extra);
        juki_on(today, &args, stdin)
    }

    pub fn op(&self, sub: &str, extra: &[&str], stdin: &str) -> Output {
        let mut extra = extra.to_vec();
        extra.extend(["--operator", "tanaka"]);
        self.run(ISSUE_DAY, sub, &extra, stdin)
    }

    pub fn db(&self) -> CounterDb {
        CounterDb::open(&self.dir).unwrap()
    }
}

pub fn certify(root: &Path, code: &str, name: &str, out: &Path) {
    ok(juki_on(
        ISSUE_DAY,
        &[
            "authority",
            "certify",
            "--root",
            s(root),
            "--municipality",
            code,
            "--name",
            name,
            "--out",
            s(out),
        ],
        "",
    ));
}

/// `juki authority init --dir DIR`: the national root of counter credentials; `dir`.
pub fn authority(dir: &Path) -> PathBuf {
    ok(juki_on(
        ISSUE_DAY,
        &["authority", "init", "--dir", s(dir)],
        "",
    ));
    dir.to_path_buf()
}

/// A counter with its first operator, tanaka (password `tanaka-pw1`).
pub fn counter(dir: &Path, root: &Path, code: &str, name: &str) -> Counter {
    let c = Counter {
        dir: dir.join(format!("data-{code}")),
        cred: dir.join(format!("cred-{code}")),
    };
    certify(root, code, name, &c.cred);
    let out = c.run(
        ISSUE_DAY,
        "operator",
        &["add", "--name", "tanaka", "--credential", s(&c.cred)],
        "tanaka-pw1\n",
    );
    assert!(ok(out).contains("first operator"));
    c
}

/// A blank card in the reader, manufactured as card `serial`.
pub fn blank_card(image: &Path, root: &Path, serial: &str) -> Served {
    juki_reader_sim::SimCard::create(image).unwrap();
    let served = Served::start(image);
    ok(juki_on(
        ISSUE_DAY,
        &["card", "init", "--root", s(root), "--serial", serial],
        "",
    ));
    served
}

pub const PINS: &str = "2580\n1357\nJUKI2026\n";
