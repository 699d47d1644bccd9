//! An issued card with its counter and JPKI CA, built in-process with the host library (no
//! `juki` process, no reader): the world of the in-process tests and of the benchmarks.

use std::path::PathBuf;

use juki_cli::pin_input::{Pin, PinPrompter};
use juki_counter::session::add_first_operator;
use juki_counter::{CounterDb, IssueRequest, Session};
use juki_host::authority::{CounterCredential, RootAuthority};
use juki_host::card::JukiCard;
use juki_host::date::Date;
use juki_host::resident::{MunicipalityCode, Sex};
use juki_host::sim_transport::SimTransport;
use juki_jpki::ca::JpkiCa;
use juki_jpki::time as jtime;

pub fn lines(text: &str) -> PinPrompter {
    PinPrompter::scripted(text)
}

pub fn today() -> Date {
    Date::from_ymd(2026, 4, 1).unwrap()
}

pub struct World {
    pub _dir: tempfile::TempDir,
    pub root: RootAuthority,
    pub cred: CounterCredential,
    pub data: PathBuf,
    pub image: PathBuf,
    pub ca_dir: PathBuf,
}

impl World {
    pub fn session(&self) -> Session {
        let m = MunicipalityCode::parse("131016").unwrap();
        let db = CounterDb::open(&self.data).unwrap();
        Session::login(db, &m, "tanaka", &Pin::from("tanaka-pw1"), today())
            .unwrap()
            .with_ca(JpkiCa::open(&self.ca_dir).unwrap())
    }

    pub fn card(&self) -> JukiCard<SimTransport> {
        JukiCard::new(SimTransport::open(&self.image).unwrap())
    }

    pub fn ca(&self) -> JpkiCa {
        JpkiCa::open(&self.ca_dir).unwrap()
    }

    /// Another municipality's counter: its own data directory, first operator yamada
    /// (`yamada-pw1`), and its credential from the same root.
    pub fn other_counter(
        &self,
        code: &MunicipalityCode,
        name: &str,
    ) -> (PathBuf, CounterCredential) {
        let cred = self
            .root
            .issue_counter_credential(code, name, today(), 5)
            .unwrap();
        let data = self._dir.path().join(code.as_str());
        let db = CounterDb::open(&data).unwrap();
        add_first_operator(&db, code, "yamada", &Pin::from("yamada-pw1")).unwrap();
        (data, cred)
    }
}

/// An issued card (serial JK-0009; PINs 2580, 1357, JUKI2026), its counter (operator tanaka,
/// password tanaka-pw1), and a CA that has not yet certified it.
pub fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let root = RootAuthority::generate();
    let chiyoda = MunicipalityCode::parse("131016").unwrap();
    let cred = root
        .issue_counter_credential(&chiyoda, "千代田区", today(), 5)
        .unwrap();
    let data = dir.path().join("data");
    let db = CounterDb::open(&data).unwrap();
    add_first_operator(&db, &chiyoda, "tanaka", &Pin::from("tanaka-pw1")).unwrap();
    drop(db);
    let ca_dir = dir.path().join("ca");
    JpkiCa::init(&ca_dir, jtime::start_of_day(today())).unwrap();
    let image = dir.path().join("card.img");
    let w = World {
        root,
        cred,
        data,
        image,
        ca_dir,
        _dir: dir,
    };
    let image = w.image.clone();
    let issued = w.issue_card(&image, "JK-0009", "住基 一郎", "東京都千代田区千代田1-1");
    assert_eq!(
        issued.preview.card.expires,
        Date::from_ymd(2036, 4, 1).unwrap(),
        "a card is valid 10 years"
    );
    w
}

impl World {
    /// Manufactures a blank card image `image` as card `serial` and issues it at this world's
    /// counter to a new resident (born 1980-01-02, male; PINs 2580, 1357, JUKI2026).
    pub fn issue_card(
        &self,
        image: &std::path::Path,
        serial: &str,
        name: &str,
        address: &str,
    ) -> juki_counter::ops::Issued {
        let mut card = JukiCard::new(SimTransport::create(image).unwrap());
        self.root.manufacture(&mut card, serial, today()).unwrap();
        let req = IssueRequest {
            name: name.into(),
            address: address.into(),
            birth: Date::from_ymd(1980, 1, 2).unwrap(),
            sex: Sex::Male,
            photo: false,
            serial: Some(serial.into()),
            representative: None,
            stay_until: None,
            resident_code: None,
        };
        self.session()
            .issue(
                &mut card,
                &self.cred,
                &req,
                &mut lines("2580\n1357\nJUKI2026\n"),
                &mut |_| Ok(true),
            )
            .unwrap()
    }
}
