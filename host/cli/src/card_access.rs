//! Opening the card chosen with `--reader`, and the host's checks before a holder's operation.

use std::path::Path;

use juki_host::card::Lifecycle;
use juki_host::date;
use juki_host::pcsc_transport::PcscTransport;
use juki_host::sim_transport::SimTransport;
use juki_host::transport::Transport;
use juki_host::{Error, JukiCard};

use crate::failure::Result;
use crate::{note, t};

/// The card, behind whichever reader was chosen.
pub type Card = JukiCard<Box<dyn Transport>>;

/// Connects to the card chosen by `--reader`. A `sim:PATH` image is created blank only when
/// `create_sim` (for `card init`).
pub fn open_card(reader: Option<&str>, create_sim: bool) -> Result<Card> {
    let transport: Box<dyn Transport> = match reader.and_then(juki_host::card::sim_path) {
        Some(path) => {
            let path = Path::new(path);
            if create_sim {
                let (t, created) = SimTransport::open_or_create(path)?;
                if created {
                    note!(
                        "{}",
                        t!("card-image-created", path = path.display().to_string())
                    );
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

/// Refuses a holder's operation, before any PIN is asked, on a suspended or terminated card (its
/// life cycle status byte) and on an expired card (the card has no clock: the host checks the
/// expiry date in its card information). A card whose information cannot be read is left to
/// answer for itself (not issued).
pub fn refuse_unusable(card: &mut Card) -> Result<()> {
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
