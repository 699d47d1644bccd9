//! What each `juki` command does, on top of the library.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use crate::pin_input::PinPrompter;
use juki_host::authority::{self, RootAuthority};
use juki_host::card::{lifecycle_text, Lifecycle};
use juki_host::date;
use juki_host::pcsc_transport::{self, PcscTransport};
use juki_host::pin::PinId;
use juki_host::pin::PinRules;
use juki_host::resident::{CardInfo, FourInfo, MunicipalityCode};
use juki_host::sim_transport::SimTransport;
use juki_host::transport::Transport;
use juki_host::{Error, JukiCard};

use crate::failure::Result;

use crate::cli::{AuthorityCommand, CardCommand, Cli, Command, PinCommand};

pub(crate) type Card = JukiCard<Box<dyn Transport>>;

/// Connects to the card chosen by `--reader`. A `sim:PATH` image is created blank only when
/// `create_sim` (for `card init`).
pub(crate) fn open_card(reader: Option<&str>, create_sim: bool) -> Result<Card> {
    let transport: Box<dyn Transport> = match reader.and_then(juki_host::card::sim_path) {
        Some(path) => {
            let path = Path::new(path);
            if create_sim {
                let (t, created) = SimTransport::open_or_create(path)?;
                if created {
                    eprintln!("(created a new blank card image {})", path.display());
                }
                Box::new(t)
            } else {
                Box::new(SimTransport::open(path)?)
            }
        }
        None => Box::new(PcscTransport::connect(reader)?),
    };
    Ok(JukiCard::new(transport))
}

pub(crate) fn write_file(path: &Path, data: &[u8]) -> Result<()> {
    std::fs::write(path, data)
        .map_err(|e| Error::io(format!("writing {}", path.display()), e).into())
}

pub(crate) fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io(format!("reading {}", path.display()), e).into())
}

pub(crate) fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_os_string();
    s.push(suffix);
    PathBuf::from(s)
}

/// Runs one command.
pub fn run(cli: Cli) -> Result<()> {
    let reader = cli.reader.as_deref();
    match cli.command {
        Command::Readers => readers(),
        Command::Status => status(&mut open_card(reader, false)?),
        Command::Info => info(&mut open_card(reader, false)?),
        Command::Pin { command } => match command {
            PinCommand::Status => pin_status(&mut open_card(reader, false)?),
            PinCommand::Change { pin } => pin_change(&mut open_card(reader, false)?, pin.into()),
        },
        Command::Sign {
            file,
            out,
            attached,
        } => crate::jpki_cmd::sign(&mut open_card(reader, false)?, &file, out, attached),
        Command::Verify { paths, trust, out } => crate::jpki_cmd::verify(&paths, &trust, out),
        Command::Auth { challenge, out } => {
            crate::jpki_cmd::auth(&mut open_card(reader, false)?, &challenge, out)
        }
        Command::VerifyAuth {
            challenge,
            answer,
            trust,
        } => crate::jpki_cmd::verify_auth(&challenge, &answer, &trust),
        Command::Jpki { command } => crate::jpki_cmd::run(reader, command),
        Command::Card {
            command: CardCommand::Init { root, serial },
        } => card_init(&mut open_card(reader, true)?, &root, serial),
        Command::Counter {
            counter_dir,
            ca,
            card,
            command,
        } => crate::counter_cmd::run(reader, counter_dir, ca, card.as_deref(), *command),
        Command::Authority { command } => match command {
            AuthorityCommand::Init { dir } => authority_init(&dir),
            AuthorityCommand::Certify {
                root,
                municipality,
                name,
                valid_years,
                out,
            } => authority_certify(&root, &municipality, &name, valid_years, &out),
        },
        Command::Demo => {
            let stdout = std::io::stdout();
            let mut lock = stdout.lock();
            crate::demo::run(&mut lock)
        }
    }
}

fn readers() -> Result<()> {
    let readers = pcsc_transport::list_readers()?;
    if readers.is_empty() {
        return Err(Error::NoReader.into());
    }
    for r in readers {
        match r.atr {
            Some(atr) => println!("{}\tcard present (ATR {})", r.name, hex::encode_upper(atr)),
            None => println!("{}\tno card", r.name),
        }
    }
    Ok(())
}

pub(crate) fn print_card_info(info: &CardInfo) {
    println!("カード番号 (card serial):      {}", info.serial);
    println!("交付地 (issued by):            {}", info.municipality);
    println!(
        "交付年月日 (issue date):       {}",
        date::display(info.issued)
    );
    println!(
        "有効期限 (valid until):        {}",
        date::display(info.expires)
    );
    println!(
        "顔写真 (photo):                {}",
        if info.photo {
            "あり (with photo)"
        } else {
            "なし (without photo)"
        }
    );
}

fn status(card: &mut Card) -> Result<()> {
    println!("reader:                        {}", card.transport().name());
    let state = card.lifecycle()?;
    println!("カードの状態 (card state):     {}", lifecycle_text(state));
    if matches!(state, Lifecycle::Blank | Lifecycle::Initialised) {
        return Ok(());
    }
    let info = card.card_info()?;
    print_card_info(&info);
    if date::today()? > info.expires {
        println!("有効期限切れ (EXPIRED):        this card can no longer be used");
    }
    if state != Lifecycle::Issued {
        return Ok(());
    }
    for kind in PinId::ALL {
        println!("{}: {}", kind.label(), card.pin_status(kind)?);
    }
    Ok(())
}

/// Refuses a holder's operation, before any PIN is asked, on a suspended or terminated card (its
/// life cycle status byte) and on an expired card (the card has no clock: the host checks the
/// expiry date in its card information). A card whose information cannot be read is left to
/// answer for itself (not issued).
pub(crate) fn refuse_unusable(card: &mut Card) -> Result<()> {
    match card.lifecycle()? {
        Lifecycle::Suspended => return Err(Error::CardSuspended.into()),
        Lifecycle::Terminated => return Err(Error::CardTerminated.into()),
        _ => {}
    }
    if let Ok(info) = card.card_info() {
        if date::today()? > info.expires {
            return Err(Error::CardExpired {
                expires: date::display(info.expires),
                what: "it can no longer be used; return it at the municipal counter (返納) and \
                       apply for a new card",
            }
            .into());
        }
    }
    Ok(())
}

fn info(card: &mut Card) -> Result<()> {
    refuse_unusable(card)?;
    let mut pins = PinPrompter::from_stdin();
    let pin = pins.ask(PinId::Juki)?;
    let record = card.read_resident(&pin)?;
    drop(pin);
    println!("住民票コード (resident code):  {}", record.code);
    print_four_info(&record.info);
    let changes = &record.changes;
    if changes.is_empty() {
        println!("変更情報 (changes):            なし (none)");
    } else {
        for (label, change) in [
            ("氏名の変更 (name changed)", &changes.name),
            ("住所の変更 (address changed)", &changes.address),
            ("生年月日の変更 (birth changed)", &changes.birth),
            ("性別の変更 (sex changed)", &changes.sex),
        ] {
            if let Some(c) = change {
                println!("{label}: {} {}", date::display(c.date), c.reason);
            }
        }
    }
    Ok(())
}

/// Prints the 4 info.
pub(crate) fn print_four_info(info: &FourInfo) {
    println!("氏名 (name):                   {}", info.name);
    println!("住所 (address):                {}", info.address);
    println!(
        "生年月日 (date of birth):      {}",
        date::display(info.birth)
    );
    println!("性別 (sex):                    {}", info.sex);
}

fn pin_status(card: &mut Card) -> Result<()> {
    for kind in PinId::ALL {
        println!("{}: {}", kind.label(), card.pin_status(kind)?);
    }
    Ok(())
}

fn pin_change(card: &mut Card, kind: PinId) -> Result<()> {
    refuse_unusable(card)?;
    let mut pins = PinPrompter::from_stdin();
    let current = pins.ask(kind)?;
    let new = pins.ask_new(kind, None)?;
    card.change_pin(kind, &current, &new)?;
    println!("{}: changed (変更しました)", kind.label());
    Ok(())
}

fn card_init(card: &mut Card, root_dir: &Path, serial: Option<String>) -> Result<()> {
    let root = RootAuthority::load(root_dir)?;
    let serial = serial.unwrap_or_else(authority::new_card_serial);
    match card.lifecycle()? {
        Lifecycle::Blank => {}
        state => {
            return Err(Error::InvalidInput(format!(
                "this card is already {}; only a blank card can be initialised",
                lifecycle_text(state)
            ))
            .into())
        }
    }
    root.manufacture(card, &serial, date::today()?)?;
    println!(
        "card {serial} initialised (初期化しました): {}; its own key is certified by the root",
        lifecycle_text(card.lifecycle()?)
    );
    Ok(())
}

pub(crate) fn confirm(question: &str) -> juki_host::Result<bool> {
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let tty = std::fs::File::open("/dev/tty").map_err(|e| Error::io("opening the terminal", e))?;
    let mut line = String::new();
    std::io::BufReader::new(tty)
        .read_line(&mut line)
        .map_err(|e| Error::io("reading the answer", e))?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes" | "はい"))
}

fn authority_init(dir: &Path) -> Result<()> {
    let root = RootAuthority::generate();
    let (key, public) = root.save(dir)?;
    println!(
        "national root key:  {} (keep it offline; mode 0600)",
        key.display()
    );
    println!(
        "root public key:    {} (written into every card by `juki card init --root DIR`)",
        public.display()
    );
    Ok(())
}

fn authority_certify(
    root_dir: &Path,
    municipality: &str,
    name: &str,
    years: u32,
    out: &Path,
) -> Result<()> {
    if !(1..=20).contains(&years) {
        return Err(Error::InvalidInput("--valid-years must be 1 to 20".into()).into());
    }
    let code = MunicipalityCode::parse(municipality)?;
    let root = RootAuthority::load(root_dir)?;
    let cred = root.issue_counter_credential(&code, name, date::today()?, years)?;
    let (key, cert) = cred.save(out)?;
    println!(
        "counter credential for {} {}, valid {} to {}",
        cred.municipality,
        cred.name,
        date::display(cred.effective),
        date::display(cred.expiry)
    );
    println!("counter key:         {} (mode 0600)", key.display());
    println!("counter certificate: {}", cert.display());
    Ok(())
}
