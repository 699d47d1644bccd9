//! The national authority's commands: `juki authority …` (the national root and the
//! municipalities' counter credentials, as files) and `juki card init` (manufacture: a blank card
//! gets the root public key and a key of its own certified by the root).

use std::path::Path;

use juki_host::authority::{self, RootAuthority};
use juki_host::card::Lifecycle;
use juki_host::date;
use juki_host::resident::MunicipalityCode;

use crate::card_access::Card;
use crate::failure::{Failure, Result};
use crate::output::{field, lifecycle};
use crate::{out, t};

/// `juki card init`.
pub fn card_init(card: &mut Card, root_dir: &Path, serial: Option<String>) -> Result<()> {
    let root = RootAuthority::load(root_dir)?;
    let serial = serial.unwrap_or_else(authority::new_card_serial);
    match card.lifecycle()? {
        Lifecycle::Blank => {}
        state => {
            return Err(Failure::Cli(t!(
                "authority-card-not-blank",
                state = lifecycle(state)
            )))
        }
    }
    root.manufacture(card, &serial, date::today()?)?;
    out!(
        "{}",
        t!(
            "authority-card-initialised",
            serial = serial.as_str(),
            state = lifecycle(card.lifecycle()?)
        )
    );
    Ok(())
}

/// `juki authority init`.
pub fn init(dir: &Path) -> Result<()> {
    let root = RootAuthority::generate();
    let (key, public) = root.save(dir)?;
    field(
        &t!("label-root-key"),
        t!("authority-root-key", path = key.display().to_string()),
    );
    field(
        &t!("label-root-public-key"),
        t!(
            "authority-root-public-key",
            path = public.display().to_string()
        ),
    );
    Ok(())
}

/// `juki authority certify`.
pub fn certify(
    root_dir: &Path,
    municipality: &MunicipalityCode,
    name: &str,
    years: u32,
    out: &Path,
) -> Result<()> {
    let root = RootAuthority::load(root_dir)?;
    let cred = root.issue_counter_credential(municipality, name, date::today()?, years)?;
    let (key, cert) = cred.save(out)?;
    out!(
        "{}",
        t!(
            "authority-credential",
            municipality = cred.municipality.to_string(),
            name = cred.name.as_str(),
            from = date::display(cred.effective),
            until = date::display(cred.expiry)
        )
    );
    field(
        &t!("label-counter-key"),
        t!("authority-counter-key", path = key.display().to_string()),
    );
    field(&t!("label-counter-certificate"), cert.display());
    Ok(())
}
