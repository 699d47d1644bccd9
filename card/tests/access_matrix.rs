//! The access matrix: every command × every lifecycle state × every security status → the status
//! word, generated exhaustively on the card core and checked two ways:
//!
//! 1. against the table in docs/security.md (the reviewed expectation: any change of behaviour
//!    shows as a difference; `JUKI_BLESS=1 cargo test -p juki-card --test access_matrix` writes
//!    the table anew after a deliberate change, for review in the diff);
//! 2. against rules that hold whatever the table says: the holder's commands refused on a
//!    suspended or terminated card, the counter's commands only with the counter's session and
//!    under secure messaging, PIN-protected files and keys only after their own PIN, a wrong
//!    counter key, an expired or foreign certificate or a replayed answer never accepted, a PIN
//!    verified in the other application worth nothing, and never `6F00`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::collections::BTreeMap;

use common::*;
use juki_card::cvc::Role;
use juki_card::files::{JPKI_AID, JUKI_AID};

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum State {
    Blank,
    Initialised,
    Issued,
    Suspended,
    Terminated,
}

const STATES: [State; 5] = [
    State::Blank,
    State::Initialised,
    State::Issued,
    State::Suspended,
    State::Terminated,
];

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Status {
    None,
    JukiPin,
    AuthPin,
    SignPin,
    Counter,
    CounterPlain,
}

const STATUSES: [Status; 6] = [
    Status::None,
    Status::JukiPin,
    Status::AuthPin,
    Status::SignPin,
    Status::Counter,
    Status::CounterPlain,
];

impl Status {
    fn header(self) -> &'static str {
        match self {
            Status::None => "none",
            Status::JukiPin => "住基 PIN",
            Status::AuthPin => "auth PIN",
            Status::SignPin => "sign PW",
            Status::Counter => "counter (SM)",
            Status::CounterPlain => "counter, sent plain",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum AppSel {
    Juki,
    Jpki,
}

/// One row: a command in its application, with the EF it needs.
struct Row {
    label: &'static str,
    app: AppSel,
    kind: Kind,
    run: fn(&mut TestCard, &Counter, bool) -> u16,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    /// SELECT: always possible.
    Select,
    /// A holder's command or file.
    Holder,
    /// Free to read.
    Free,
    /// The counter's command (needs its session, under secure messaging).
    CounterCmd,
    /// Counter authentication itself.
    Auth,
    /// Counter authentication that must fail whatever the state.
    BadAuth,
    /// Transport.
    Transport,
}

/// Sends `apdu` protected when a session is up (unless `plain`), as the counter does.
fn send(card: &mut TestCard, apdu: &[u8], plain: bool) -> u16 {
    if plain {
        raw(card, apdu).1
    } else {
        sw(card, apdu)
    }
}

/// SELECT EF then the command.
fn on_ef(card: &mut TestCard, fid: u16, apdu: &[u8], plain: bool) -> u16 {
    let s = sw(
        card,
        &apdu_of(0x00, 0xA4, 0x02, 0x0C, &fid.to_be_bytes(), None),
    );
    if s != 0x9000 {
        return s;
    }
    send(card, apdu, plain)
}

fn apdu_of(cla: u8, ins: u8, p1: u8, p2: u8, data: &[u8], le: Option<usize>) -> Vec<u8> {
    apdu(cla, ins, p1, p2, data, le)
}

/// GET CHALLENGE then EXTERNAL AUTHENTICATE with `answer(challenge)`.
fn ext_auth(card: &mut TestCard, answer: impl Fn(&[u8]) -> Vec<u8>) -> u16 {
    let (challenge, s) = tx(card, &[0, 0x84, 0, 0, 0x10]);
    if s != 0x9000 {
        return s;
    }
    sw(
        card,
        &apdu_of(0, 0x82, 0, 0, &answer(&challenge), Some(65536)),
    )
}

const HASH: [u8; 32] = [0xA5; 32];

fn rows() -> Vec<Row> {
    use AppSel::*;
    use Kind::*;
    vec![
        Row {
            label: "SELECT 住基AP",
            app: Juki,
            kind: Select,
            run: |c, _, _| sw(c, &apdu_of(0, 0xA4, 4, 0x0C, &JUKI_AID, None)),
        },
        Row {
            label: "SELECT EF 0002",
            app: Juki,
            kind: Select,
            run: |c, _, _| sw(c, &apdu_of(0, 0xA4, 2, 0x0C, &[0, 2], None)),
        },
        Row {
            label: "READ BINARY 0004 (card information)",
            app: Juki,
            kind: Free,
            run: |c, _, p| on_ef(c, 0x0004, &[0, 0xB0, 0, 0, 0], p),
        },
        Row {
            label: "READ BINARY 0002 (4 info)",
            app: Juki,
            kind: Holder,
            run: |c, _, p| on_ef(c, 0x0002, &[0, 0xB0, 0, 0, 0], p),
        },
        Row {
            label: "READ BINARY 0001 (住民票コード)",
            app: Juki,
            kind: Holder,
            run: |c, _, p| on_ef(c, 0x0001, &[0, 0xB0, 0, 0, 0], p),
        },
        Row {
            label: "READ BINARY 001C (a PIN EF)",
            app: Juki,
            kind: Holder,
            run: |c, _, p| on_ef(c, 0x001C, &[0, 0xB0, 0, 0, 0], p),
        },
        Row {
            label: "VERIFY 住基 PIN, right",
            app: Juki,
            kind: Holder,
            run: |c, _, p| on_ef(c, 0x001C, &apdu_of(0, 0x20, 0, 0x80, JUKI_PIN, None), p),
        },
        Row {
            label: "VERIFY 住基 PIN, wrong",
            app: Juki,
            kind: Holder,
            run: |c, _, p| on_ef(c, 0x001C, &apdu_of(0, 0x20, 0, 0x80, b"9630", None), p),
        },
        Row {
            label: "VERIFY 住基 PIN, no data (status)",
            app: Juki,
            kind: Holder,
            run: |c, _, p| on_ef(c, 0x001C, &[0, 0x20, 0, 0x80], p),
        },
        Row {
            label: "CHANGE REFERENCE DATA 住基 PIN",
            app: Juki,
            kind: Holder,
            run: |c, _, p| on_ef(c, 0x001C, &apdu_of(0, 0x24, 1, 0x80, b"3691", None), p),
        },
        Row {
            label: "UPDATE BINARY 0002",
            app: Juki,
            kind: CounterCmd,
            run: |c, _, p| on_ef(c, 0x0002, &apdu_of(0, 0xD6, 0, 0, &four_info(), None), p),
        },
        Row {
            label: "RESET RETRY COUNTER 住基 PIN",
            app: Juki,
            kind: CounterCmd,
            run: |c, _, p| on_ef(c, 0x001C, &apdu_of(0, 0x2C, 2, 0x80, b"4826", None), p),
        },
        Row {
            label: "GET CHALLENGE",
            app: Juki,
            kind: Auth,
            run: |c, _, _| sw(c, &[0, 0x84, 0, 0, 0x10]),
        },
        Row {
            label: "EXTERNAL AUTHENTICATE, valid",
            app: Juki,
            kind: Auth,
            run: |c, k, _| ext_auth(c, |ch| k.answer(ch)),
        },
        Row {
            label: "EXTERNAL AUTHENTICATE, no challenge",
            app: Juki,
            kind: BadAuth,
            run: |c, k, _| sw(c, &apdu_of(0, 0x82, 0, 0, &k.answer(&[0; 16]), Some(65536))),
        },
        Row {
            label: "EXTERNAL AUTHENTICATE, foreign root",
            app: Juki,
            kind: BadAuth,
            run: |c, k, _| {
                let foreign = p256::ecdsa::SigningKey::from_slice(&[0x33; 32]).unwrap();
                let forged = Counter {
                    cert: certificate(&foreign, &k.key, b"20260401", b"20310331"),
                    root: foreign,
                    key: k.key.clone(),
                };
                ext_auth(c, |ch| forged.answer(ch))
            },
        },
        Row {
            label: "EXTERNAL AUTHENTICATE, expired certificate",
            app: Juki,
            kind: BadAuth,
            run: |c, k, _| {
                // Accepted once with a newer certificate, the card's last-known date is later than
                // this one's expiry.
                let newer = Counter {
                    cert: certificate(&k.root, &k.key, b"20300101", b"20350101"),
                    root: k.root.clone(),
                    key: k.key.clone(),
                };
                let s = ext_auth(c, |ch| newer.answer(ch));
                if s != 0x9000 {
                    return s;
                }
                let expired = Counter {
                    cert: certificate(&k.root, &k.key, b"20200101", b"20291231"),
                    root: k.root.clone(),
                    key: k.key.clone(),
                };
                ext_auth(c, |ch| expired.answer(ch))
            },
        },
        Row {
            label: "EXTERNAL AUTHENTICATE, wrong counter key",
            app: Juki,
            kind: BadAuth,
            run: |c, k, _| {
                let wrong = Counter {
                    cert: k.cert.clone(),
                    root: k.root.clone(),
                    key: k.root.clone(),
                };
                ext_auth(c, |ch| wrong.answer(ch))
            },
        },
        Row {
            label: "EXTERNAL AUTHENTICATE, replayed answer",
            app: Juki,
            kind: BadAuth,
            run: |c, k, _| {
                let (old, s) = tx(c, &[0, 0x84, 0, 0, 0x10]);
                if s != 0x9000 {
                    return s;
                }
                let answer = k.answer(&old);
                let s = sw(c, &apdu_of(0, 0x82, 0, 0, &answer, Some(65536)));
                if s != 0x9000 {
                    return s;
                }
                let (_, s) = tx(c, &[0, 0x84, 0, 0, 0x10]);
                if s != 0x9000 {
                    return s;
                }
                sw(c, &apdu_of(0, 0x82, 0, 0, &answer, Some(65536)))
            },
        },
        Row {
            label: "PUT DATA (initialise)",
            app: Juki,
            kind: CounterCmd,
            run: |c, k, _| sw(c, &apdu_of(0, 0xDA, 0, 0xC1, &sec1(&k.root), Some(256))),
        },
        Row {
            label: "PUT DATA (card certificate)",
            app: Juki,
            kind: CounterCmd,
            run: |c, k, _| {
                // Whatever key the card holds, a second certificate is refused (6985), and a
                // blank card has none to certify.
                let cert = certificate_of(
                    &k.root,
                    Role::Card,
                    &sec1(&k.key),
                    CARD_SERIAL,
                    (b"20260401", b"20460331"),
                    true,
                );
                sw(c, &apdu_of(0, 0xDA, 0, 0xC2, &cert, None))
            },
        },
        Row {
            label: "ACTIVATE FILE",
            app: Juki,
            kind: CounterCmd,
            run: |c, _, p| send(c, &[0, 0x44, 0, 0], p),
        },
        Row {
            label: "DEACTIVATE FILE",
            app: Juki,
            kind: CounterCmd,
            run: |c, _, p| send(c, &[0, 0x04, 0, 0], p),
        },
        Row {
            label: "TERMINATE CARD USAGE",
            app: Juki,
            kind: CounterCmd,
            run: |c, _, p| send(c, &[0, 0xFE, 0, 0], p),
        },
        Row {
            label: "GET RESPONSE, nothing waiting",
            app: Juki,
            kind: Transport,
            run: |c, _, _| raw(c, &[0, 0xC0, 0, 0, 0]).1,
        },
        Row {
            label: "SELECT JPKI AP",
            app: Jpki,
            kind: Select,
            run: |c, _, _| sw(c, &apdu_of(0, 0xA4, 4, 0x0C, &JPKI_AID, None)),
        },
        Row {
            label: "READ BINARY 000A (auth certificate)",
            app: Jpki,
            kind: Free,
            run: |c, _, p| on_ef(c, 0x000A, &[0, 0xB0, 0, 0, 0], p),
        },
        Row {
            label: "READ BINARY 0001 (signing certificate)",
            app: Jpki,
            kind: Holder,
            run: |c, _, p| on_ef(c, 0x0001, &[0, 0xB0, 0, 0, 0], p),
        },
        Row {
            label: "VERIFY auth PIN, right",
            app: Jpki,
            kind: Holder,
            run: |c, _, p| on_ef(c, 0x0018, &apdu_of(0, 0x20, 0, 0x80, AUTH_PIN, None), p),
        },
        Row {
            label: "VERIFY sign password, right",
            app: Jpki,
            kind: Holder,
            run: |c, _, p| on_ef(c, 0x001B, &apdu_of(0, 0x20, 0, 0x80, SIGN_PIN, None), p),
        },
        Row {
            label: "GENERATE … P1 81 (read public key)",
            app: Jpki,
            kind: Holder,
            run: |c, _, p| on_ef(c, 0x001A, &[0, 0x46, 0x81, 0, 0], p),
        },
        Row {
            label: "GENERATE … P1 80 (new key)",
            app: Jpki,
            kind: CounterCmd,
            run: |c, _, p| on_ef(c, 0x001A, &[0, 0x46, 0x80, 0, 0], p),
        },
        Row {
            label: "COMPUTE DIGITAL SIGNATURE, signing key",
            app: Jpki,
            kind: Holder,
            run: |c, _, p| {
                on_ef(
                    c,
                    0x001A,
                    &apdu_of(0x80, 0x2A, 0, 0x80, &HASH, Some(256)),
                    p,
                )
            },
        },
        Row {
            label: "COMPUTE DIGITAL SIGNATURE, signing key, SHA-384 DigestInfo",
            app: Jpki,
            kind: Holder,
            run: |c, _, p| {
                on_ef(
                    c,
                    0x001A,
                    &apdu_of(0x80, 0x2A, 0, 0x80, &digest_info_384(), Some(256)),
                    p,
                )
            },
        },
        Row {
            label: "COMPUTE DIGITAL SIGNATURE, auth key",
            app: Jpki,
            kind: Holder,
            run: |c, _, p| {
                on_ef(
                    c,
                    0x0017,
                    &apdu_of(0x80, 0x2A, 0, 0x80, &HASH, Some(256)),
                    p,
                )
            },
        },
    ]
}

/// A DigestInfo of SHA-384 (as a PKCS#11 client sends it): the same access as a raw hash.
fn digest_info_384() -> Vec<u8> {
    let (_, prefix, len) = juki_card::digest_info::DIGEST_INFOS[1];
    [&prefix[..], &vec![0x38; len][..]].concat()
}

/// The card in each state, reset (nothing volatile).
fn base(state: State, counter: &Counter) -> TestCard {
    let mut card = new_card();
    match state {
        State::Blank => {}
        State::Initialised => prepare(&mut card, counter),
        State::Issued => personalise(&mut card, counter),
        State::Suspended | State::Terminated => {
            personalise(&mut card, counter);
            reset(&mut card);
            select_juki(&mut card);
            assert_eq!(counter.authenticate(&mut card), 0x9000);
            let ins = if state == State::Suspended {
                0x04
            } else {
                0xFE
            };
            assert_eq!(sw(&mut card, &[0, ins, 0, 0]), 0x9000);
        }
    }
    reset(&mut card);
    card
}

/// The card with the command's application selected and `status` set up; `None` when the
/// state does not allow it (the cell shows `—`).
fn with_status(
    base: &TestCard,
    app: AppSel,
    status: Status,
    counter: &Counter,
) -> Option<TestCard> {
    let mut card = base.clone();
    let select = |card: &mut TestCard, app: AppSel| {
        let aid: &[u8] = if app == AppSel::Juki {
            &JUKI_AID
        } else {
            &JPKI_AID
        };
        sw(card, &apdu_of(0, 0xA4, 4, 0x0C, aid, None))
    };
    let pin = |card: &mut TestCard, pin_app: AppSel, fid: u16, value: &[u8]| -> bool {
        select(card, pin_app);
        on_ef(card, fid, &apdu_of(0, 0x20, 0, 0x80, value, None), false) == 0x9000
    };
    let ok = match status {
        Status::None => true,
        Status::JukiPin => pin(&mut card, AppSel::Juki, 0x001C, JUKI_PIN),
        Status::AuthPin => pin(&mut card, AppSel::Jpki, 0x0018, AUTH_PIN),
        Status::SignPin => pin(&mut card, AppSel::Jpki, 0x001B, SIGN_PIN),
        Status::Counter | Status::CounterPlain => {
            select(&mut card, app);
            ext_auth(&mut card, |ch| counter.answer(ch)) == 0x9000
        }
    };
    if !ok {
        return None;
    }
    // A PIN verified in the other application: selecting this one clears it.
    let verified_in = match status {
        Status::JukiPin => Some(AppSel::Juki),
        Status::AuthPin | Status::SignPin => Some(AppSel::Jpki),
        _ => None,
    };
    match verified_in {
        Some(a) if a == app => {}
        _ if matches!(status, Status::Counter | Status::CounterPlain) => {}
        _ => {
            select(&mut card, app);
        }
    }
    Some(card)
}

type Matrix = BTreeMap<(State, usize, Status), Option<u16>>;

fn generate() -> (Vec<Row>, Matrix) {
    let counter = Counter::new();
    let rows = rows();
    let mut m = Matrix::new();
    for state in STATES {
        let card = base(state, &counter);
        for status in STATUSES {
            let starts: BTreeMap<AppSel, Option<TestCard>> = [AppSel::Juki, AppSel::Jpki]
                .into_iter()
                .map(|app| (app, with_status(&card, app, status, &counter)))
                .collect();
            for (i, row) in rows.iter().enumerate() {
                let cell = starts[&row.app].as_ref().map(|start| {
                    let mut c = start.clone();
                    (row.run)(&mut c, &counter, status == Status::CounterPlain)
                });
                m.insert((state, i, status), cell);
            }
        }
    }
    (rows, m)
}

fn state_title(state: State) -> &'static str {
    match state {
        State::Blank => "blank (未初期化)",
        State::Initialised => "initialised (personalised, not activated)",
        State::Issued => "issued (交付済み)",
        State::Suspended => "suspended (一時停止)",
        State::Terminated => "terminated (返納・廃止)",
    }
}

fn markdown(rows: &[Row], m: &Matrix) -> String {
    let mut out = String::new();
    for state in STATES {
        out.push_str(&format!("\n#### {}\n\n| command |", state_title(state)));
        for s in STATUSES {
            out.push_str(&format!(" {} |", s.header()));
        }
        out.push_str("\n|---|");
        for _ in STATUSES {
            out.push_str("---|");
        }
        out.push('\n');
        for (i, row) in rows.iter().enumerate() {
            out.push_str(&format!("| {} |", row.label));
            for s in STATUSES {
                match m[&(state, i, s)] {
                    Some(sw) => out.push_str(&format!(" {sw:04X} |")),
                    None => out.push_str(" — |"),
                }
            }
            out.push('\n');
        }
    }
    out
}

const BEGIN: &str = "<!-- access-matrix:begin (generated by card/tests/access_matrix.rs) -->";
const END: &str = "<!-- access-matrix:end -->";

#[test]
fn access_matrix() {
    let (rows, m) = generate();
    let cells = m.values().filter(|c| c.is_some()).count();

    // ---- the rules ----
    let at = |state, label: &str, status| -> Option<u16> {
        let i = rows.iter().position(|r| r.label == label).unwrap();
        m[&(state, i, status)]
    };
    for ((state, i, status), cell) in &m {
        let Some(sw) = *cell else { continue };
        let row = &rows[*i];
        let what = format!("{} / {state:?} / {status:?}: {sw:04X}", row.label);
        assert_ne!(sw, 0x6F00, "{what}");
        assert_ne!(sw, 0x6581, "{what}");
        match row.kind {
            Kind::CounterCmd if !row.label.starts_with("PUT DATA") => {
                if sw == 0x9000 {
                    assert_eq!(
                        *status,
                        Status::Counter,
                        "a counter command without its session: {what}"
                    );
                }
                if *status == Status::CounterPlain
                    && matches!(state, State::Initialised | State::Issued)
                {
                    assert!(
                        matches!(sw, 0x6987 | 0x6985),
                        "a plain counter command must be refused: {what}"
                    );
                }
            }
            Kind::BadAuth => assert_ne!(sw, 0x9000, "a bad authentication accepted: {what}"),
            Kind::Holder if *state == State::Suspended => {
                assert_eq!(sw, 0x6283, "the holder on a suspended card: {what}")
            }
            _ => {}
        }
        if *state == State::Terminated && !matches!(row.kind, Kind::Select | Kind::Transport) {
            // Readable: the card information; and the card still proves itself (the mutual
            // authentication, to show it is terminated), though no counter command runs.
            let card_info = row.label.starts_with("READ BINARY 0004");
            let proves_itself = matches!(sw, 0x9000 | 0x6982 | 0x6985)
                && (row.label.starts_with("GET CHALLENGE")
                    || row.label.starts_with("EXTERNAL AUTHENTICATE"));
            assert!(
                card_info || proves_itself || sw == 0x6285,
                "a terminated card: {what}"
            );
        }
    }
    // PIN-protected files and keys: only with their own PIN, only on an issued card.
    for (label, status) in [
        ("READ BINARY 0002 (4 info)", Status::JukiPin),
        ("READ BINARY 0001 (住民票コード)", Status::JukiPin),
        ("READ BINARY 0001 (signing certificate)", Status::SignPin),
        ("COMPUTE DIGITAL SIGNATURE, signing key", Status::SignPin),
        (
            "COMPUTE DIGITAL SIGNATURE, signing key, SHA-384 DigestInfo",
            Status::SignPin,
        ),
        ("COMPUTE DIGITAL SIGNATURE, auth key", Status::AuthPin),
    ] {
        for state in STATES {
            for s in STATUSES {
                let sw = at(state, label, s);
                let allowed = state == State::Issued && s == status;
                assert_eq!(
                    sw == Some(0x9000),
                    allowed,
                    "{label} / {state:?} / {s:?}: {sw:04X?}"
                );
            }
        }
    }
    // A PIN verified in the other application opens nothing here.
    assert_eq!(
        at(State::Issued, "READ BINARY 0002 (4 info)", Status::SignPin),
        Some(0x6982)
    );
    assert_eq!(
        at(
            State::Issued,
            "READ BINARY 0001 (signing certificate)",
            Status::JukiPin
        ),
        Some(0x6982)
    );
    assert_eq!(
        at(
            State::Issued,
            "COMPUTE DIGITAL SIGNATURE, signing key",
            Status::JukiPin
        ),
        Some(0x6982)
    );
    // The counter under secure messaging works on an issued card; plain it is 6987.
    assert_eq!(
        at(State::Issued, "UPDATE BINARY 0002", Status::Counter),
        Some(0x9000)
    );
    assert_eq!(
        at(State::Issued, "UPDATE BINARY 0002", Status::CounterPlain),
        Some(0x6987)
    );
    assert_eq!(
        at(
            State::Suspended,
            "RESET RETRY COUNTER 住基 PIN",
            Status::Counter
        ),
        Some(0x9000)
    );
    assert_eq!(
        at(
            State::Suspended,
            "RESET RETRY COUNTER 住基 PIN",
            Status::CounterPlain
        ),
        Some(0x6987)
    );

    // ---- the reviewed table ----
    let table = markdown(&rows, &m);
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/security.md");
    let doc = std::fs::read_to_string(path).expect("docs/security.md");
    let (Some(b), Some(e)) = (doc.find(BEGIN), doc.find(END)) else {
        panic!("docs/security.md has no {BEGIN} … {END} markers");
    };
    let current = &doc[b + BEGIN.len()..e];
    let wanted = format!("\n{table}\n");
    if current != wanted {
        if std::env::var("JUKI_BLESS").is_ok_and(|v| v == "1") {
            let new = format!("{}{BEGIN}{wanted}{}", &doc[..b], &doc[e..]);
            std::fs::write(path, new).unwrap();
        } else {
            let diff: Vec<String> = current
                .lines()
                .zip(wanted.lines())
                .filter(|(a, b)| a != b)
                .take(10)
                .map(|(a, b)| format!("doc:  {a}\ncard: {b}"))
                .collect();
            panic!(
                "the card no longer behaves as the access matrix in docs/security.md says \
                 ({cells} cells); differences:\n{}\nIf the change is intended: \
                 JUKI_BLESS=1 cargo test -p juki-card --test access_matrix, and review the diff",
                diff.join("\n")
            );
        }
    }
    println!("access matrix: {cells} cells checked ({} rows × {} states × {} statuses, — where the status cannot be reached)", rows.len(), STATES.len(), STATUSES.len());
}
