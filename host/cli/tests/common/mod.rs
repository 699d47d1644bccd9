//! Helpers shared by the tests that run the `juki` binary; [`pcsc`]: the PC/SC harness.
#![allow(dead_code)]

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

pub mod counter;
pub mod network;
pub mod pcsc;
pub mod server_process;
pub mod world;

/// Runs `juki ARGS` with `stdin` (one PIN per line) and returns its output.
pub fn juki(args: &[&str], stdin: &str) -> Output {
    run(Command::new(env!("CARGO_BIN_EXE_juki")).args(args), stdin)
}

/// Runs `cmd` with `stdin` (PINs and passwords, one a line) and returns its output. Its messages
/// are in English (`LANG=C`) unless the caller chose a locale.
pub fn run(cmd: &mut Command, stdin: &str) -> Output {
    if !cmd.get_envs().any(|(k, _)| k == "LANG") {
        cmd.env("LANG", "C");
    }
    for var in ["LC_ALL", "LC_MESSAGES"] {
        if !cmd.get_envs().any(|(k, _)| k == var) {
            cmd.env_remove(var);
        }
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run juki");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write PINs");
    child.wait_with_output().expect("juki output")
}

pub fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[track_caller]
pub fn ok(out: Output) -> String {
    let (stdout, stderr) = text(&out);
    assert!(
        out.status.success(),
        "juki failed ({:?})\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    stdout
}

#[track_caller]
pub fn fails(out: Output, code: i32, message: &str) -> String {
    let (stdout, stderr) = text(&out);
    assert_eq!(
        out.status.code(),
        Some(code),
        "expected exit {code}\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stderr.contains(message),
        "expected {message:?} in stderr:\n{stderr}"
    );
    stderr
}

/// The national root in `dir/root` (`juki authority init`) and the counter credential of
/// 千代田区 (131016) certified by it in `dir/cred`, each run through `juki`.
pub fn root_and_chiyoda(dir: &Path, juki: impl Fn(&[&str], &str) -> Output) {
    root_and_counter(dir, "131016", "千代田区", juki);
}

/// [`root_and_chiyoda`] for the counter of municipality `code`, `name`.
pub fn root_and_counter(
    dir: &Path,
    code: &str,
    name: &str,
    juki: impl Fn(&[&str], &str) -> Output,
) {
    let root = dir.join("root");
    ok(juki(&["authority", "init", "--dir", path_str(&root)], ""));
    ok(juki(
        &[
            "authority",
            "certify",
            "--root",
            path_str(&root),
            "--municipality",
            code,
            "--name",
            name,
            "--out",
            path_str(&dir.join("cred")),
        ],
        "",
    ));
}

/// For fault-injecting transports: follows SELECT FILE in `selected` and returns the EF an UPDATE
/// BINARY writes (the one P1 names by its short identifier, or the selected one); `None` for any
/// other command. Works on protected commands too (the header stays in clear).
pub fn update_target(apdu: &[u8], selected: &mut u16) -> Option<u16> {
    if let [_, 0xA4, 0x02, _, 0x02, hi, lo] = apdu {
        *selected = u16::from_be_bytes([*hi, *lo]);
    }
    match apdu {
        [_, 0xD6, p1, ..] if p1 & 0x80 != 0 => Some(u16::from(p1 & 0x1F)),
        [_, 0xD6, ..] => Some(*selected),
        _ => None,
    }
}

/// A hostile (or faulty) reader in front of a simulated card: `f` gets each command and the
/// card and returns what the host sees — the card's answer, rewritten, or an answer in the
/// card's place.
pub struct Intercept<F> {
    card: juki_host::sim_transport::SimTransport,
    f: F,
}

impl<F> juki_host::transport::Transport for Intercept<F>
where
    F: FnMut(&[u8], &mut juki_host::sim_transport::SimTransport) -> juki_host::Result<Vec<u8>>,
{
    fn transmit(&mut self, apdu: &[u8]) -> juki_host::Result<Vec<u8>> {
        (self.f)(apdu, &mut self.card)
    }
    fn supports_extended_length(&self) -> bool {
        self.card.supports_extended_length()
    }
    fn exclusive(
        &mut self,
        body: &mut dyn FnMut(&mut dyn juki_host::transport::Transport) -> juki_host::Result<()>,
    ) -> juki_host::Result<()> {
        body(self)
    }
    fn name(&self) -> String {
        "an intercepting reader".into()
    }
}

/// The card image `image` behind an [`Intercept`] reader.
pub fn intercept<F>(image: &Path, f: F) -> juki_host::card::JukiCard<Intercept<F>>
where
    F: FnMut(&[u8], &mut juki_host::sim_transport::SimTransport) -> juki_host::Result<Vec<u8>>,
{
    let card = juki_host::sim_transport::SimTransport::open(image).expect("card image");
    juki_host::card::JukiCard::new(Intercept { card, f })
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temp path")
}
