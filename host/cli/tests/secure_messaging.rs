//! Secure messaging between the counter and the card, seen from the reader: a transport that
//! records every APDU and answer shows that what the counter writes (the resident code, the 4
//! info, the initial PINs, a new address) never crosses the reader in clear, and that a reader
//! replaying, reordering or altering a protected counter command is refused by the card.

use std::path::Path;

use juki_cli::pin_input::Pin;
use juki_host::authority::RootAuthority;
use juki_host::card::{JukiCard, Personalisation};
use juki_host::date::Date;
use juki_host::pin::App;
use juki_host::resident::{CardInfo, Change, ChangeInfo, FourInfo, MunicipalityCode, Sex};
use juki_host::resident_code::ResidentCode;
use juki_host::sim_transport::SimTransport;
use juki_host::transport::Transport;
use juki_host::Result;

/// Records every APDU and answer; can replay, drop or alter the counter's protected commands.
struct Reader {
    inner: SimTransport,
    log: Vec<(Vec<u8>, Vec<u8>)>,
    /// Alter the `n`-th protected command (flip one byte of its MAC) before it reaches the card.
    tamper: Option<usize>,
    protected_seen: usize,
}

impl Reader {
    fn new(inner: SimTransport) -> Reader {
        Reader {
            inner,
            log: Vec::new(),
            tamper: None,
            protected_seen: 0,
        }
    }

    /// True when `needle` appears in any command or answer that crossed the reader.
    fn saw(&self, needle: &[u8]) -> bool {
        self.log.iter().any(|(c, r)| {
            c.windows(needle.len()).any(|w| w == needle)
                || r.windows(needle.len()).any(|w| w == needle)
        })
    }

    /// The last protected command (CLA bits 0C) that crossed the reader.
    fn last_protected(&self) -> Option<Vec<u8>> {
        self.log
            .iter()
            .rev()
            .map(|(c, _)| c)
            .find(|c| c.first().is_some_and(|cla| cla & 0x0C == 0x0C))
            .cloned()
    }
}

impl Transport for Reader {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>> {
        let mut apdu = apdu.to_vec();
        if apdu.first().is_some_and(|cla| cla & 0x0C == 0x0C) {
            self.protected_seen += 1;
            if self.tamper == Some(self.protected_seen) {
                let n = apdu.len();
                apdu[n - 4] ^= 0x01; // inside the MAC (before the extended Le)
            }
        }
        let answer = self.inner.transmit(&apdu)?;
        self.log.push((apdu, answer.clone()));
        Ok(answer)
    }
    fn supports_extended_length(&self) -> bool {
        self.inner.supports_extended_length()
    }
    fn exclusive(&mut self, f: &mut dyn FnMut(&mut dyn Transport) -> Result<()>) -> Result<()> {
        f(self)
    }
    fn name(&self) -> String {
        "recording reader".into()
    }
}

struct World {
    root: RootAuthority,
    cred: juki_host::authority::CounterCredential,
    p: Personalisation,
}

fn world() -> World {
    let root = RootAuthority::generate();
    let today = Date::from_ymd(2026, 4, 1).unwrap();
    let m = MunicipalityCode::parse("131016").unwrap();
    let cred = root
        .issue_counter_credential(&m, "千代田区", today, 5)
        .unwrap();
    let p = Personalisation {
        code: ResidentCode::parse("12345678903").unwrap(),
        info: FourInfo::new(
            "秘密 花子",
            "東京都千代田区永田町二丁目3番1号",
            Date::from_ymd(1985, 4, 15).unwrap(),
            Sex::Female,
        )
        .unwrap(),
        changes: ChangeInfo::default(),
        card: CardInfo::new("JK-SM-0001", m, today, false).unwrap(),
        juki_pin: Pin::from("2580"),
        auth_pin: Pin::from("1357"),
        sign_pin: Pin::from("SECRET42"),
    };
    World { root, cred, p }
}

fn blank(path: &Path, w: &World) -> JukiCard<Reader> {
    let mut card = JukiCard::new(Reader::new(SimTransport::create(path).unwrap()));
    w.root
        .manufacture(&mut card, "JK-SM-0001", Date::from_ymd(2026, 4, 1).unwrap())
        .unwrap();
    card
}

#[test]
fn what_the_counter_writes_never_crosses_the_reader_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    let w = world();
    let mut card = blank(&dir.path().join("card.img"), &w);
    card.personalise(&w.cred, &w.p).unwrap();
    let reader = card.transport();
    assert!(
        reader.protected_seen >= 12,
        "{} protected",
        reader.protected_seen
    );
    for (what, secret) in [
        ("the resident code", w.p.code.as_bytes().to_vec()),
        ("the name", w.p.info.name.as_bytes().to_vec()),
        ("the address", w.p.info.address.as_bytes().to_vec()),
        ("the date of birth", b"19850415".to_vec()),
        ("the 住基 PIN", b"2580".to_vec()),
        ("the sign password", b"SECRET42".to_vec()),
    ] {
        assert!(!reader.saw(&secret), "{what} crossed the reader in clear");
    }
    // The data really is on the card: the holder reads it back with the PIN.
    let record = card.read_resident(&Pin::from("2580")).unwrap();
    assert_eq!(record.info, w.p.info);

    // A new address written at the counter (転居) is protected too.
    let mut moved = w.p.info.clone();
    moved.address = "東京都千代田区霞が関一丁目1番1号 新住所".into();
    let changes = ChangeInfo {
        address: Some(Change {
            date: Date::from_ymd(2026, 12, 1).unwrap(),
            reason: "転居".into(),
        }),
        ..ChangeInfo::default()
    };
    card.transport().log.clear();
    card.update_resident(&w.cred, "JK-SM-0001", &w.p.info, &moved, &changes)
        .unwrap();
    assert!(!card.transport().saw("新住所".as_bytes()));
    assert_eq!(
        card.read_resident(&Pin::from("2580")).unwrap().info.address,
        moved.address
    );
}

#[test]
fn replayed_or_altered_counter_commands_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let w = world();
    let mut card = blank(&dir.path().join("card.img"), &w);
    card.personalise(&w.cred, &w.p).unwrap();

    // A reader that alters a protected command: the card refuses it (6988, in clear: the
    // session is gone) and ends the session. A plain answer proves nothing to the host, so it
    // reports the outcome as unknown; the card wrote nothing.
    let mut moved = w.p.info.clone();
    moved.address = "改ざんされた住所".into();
    let changes = ChangeInfo::default();
    card.transport().tamper = Some(card.transport().protected_seen + 1);
    let err = card
        .update_resident(&w.cred, "JK-SM-0001", &w.p.info, &moved, &changes)
        .unwrap_err();
    assert!(
        matches!(&err, juki_host::Error::OutcomeUnknown(m) if m.contains("6988")),
        "{err}"
    );
    card.transport().tamper = None;
    assert_eq!(
        card.read_resident(&Pin::from("2580")).unwrap().info,
        w.p.info,
        "nothing was written"
    );

    // A reader that replays a protected command it saw: refused (the counter moved on).
    card.update_resident(&w.cred, "JK-SM-0001", &w.p.info, &moved, &changes)
        .unwrap();
    let replay = card.transport().last_protected().unwrap();
    let answer = card.transport().inner.transmit(&replay).unwrap();
    assert_eq!(answer, vec![0x69, 0x88], "a replayed protected command");
    // Replayed in a new session, too (after a new counter authentication).
    card.exclusive(|c| {
        c.select_app(App::Juki)?;
        c.counter_authenticate(&w.cred)
    })
    .unwrap();
    let answer = card.transport().inner.transmit(&replay).unwrap();
    assert_eq!(answer, vec![0x69, 0x88], "replayed into another session");
    // And without any session a protected command is refused as well.
    card.select_app(App::Juki).unwrap();
    let answer = card.transport().inner.transmit(&replay).unwrap();
    assert_eq!(answer, vec![0x69, 0x88]);
}
