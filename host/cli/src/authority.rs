//! The national authority's commands: `juki authority …` (the national root and the
//! municipalities' counter credentials, as files) and `juki card init` (manufacture: a blank card
//! gets the root public key and a key of its own certified by the root).

use std::path::Path;

use juki_host::authority::{self, RootAuthority};
use juki_host::card::{lifecycle_text, Lifecycle};
use juki_host::date;
use juki_host::resident::MunicipalityCode;
use juki_host::Error;

use crate::card_access::Card;
use crate::failure::Result;
use crate::out;

/// `juki card init`.
pub fn card_init(card: &mut Card, root_dir: &Path, serial: Option<String>) -> Result<()> {
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
    out!(
        "card {serial} initialised (初期化しました): {}; its own key is certified by the root",
        lifecycle_text(card.lifecycle()?)
    );
    Ok(())
}

/// `juki authority init`.
pub fn init(dir: &Path) -> Result<()> {
    let root = RootAuthority::generate();
    let (key, public) = root.save(dir)?;
    out!(
        "national root key:  {} (keep it offline; mode 0600)",
        key.display()
    );
    out!(
        "root public key:    {} (written into every card by `juki card init --root DIR`)",
        public.display()
    );
    Ok(())
}

/// `juki authority certify`.
pub fn certify(
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
    out!(
        "counter credential for {} {}, valid {} to {}",
        cred.municipality,
        cred.name,
        date::display(cred.effective),
        date::display(cred.expiry)
    );
    out!("counter key:         {} (mode 0600)", key.display());
    out!("counter certificate: {}", cert.display());
    Ok(())
}
