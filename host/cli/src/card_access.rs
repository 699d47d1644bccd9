//! Opening the card chosen with `--reader`, and the host's checks before a holder's operation.

use std::path::Path;

use juki_counter::session::OperatorCard;
use juki_host::card::Lifecycle;
use juki_host::date;
use juki_host::pcsc_transport::{PcscTransport, ReaderWatch};
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

/// The operator's own card (操作者カード), connected in the operator reader for the whole
/// command. It is still there while pcsc-lite shows a card in that reader and the reader's
/// count of insertions and removals has not moved since it was connected (a card pulled out
/// and put back, or swapped, moves it).
pub struct HeldCard {
    card: Card,
    reader: String,
    watch: Option<(ReaderWatch, u32)>,
}

impl std::fmt::Debug for HeldCard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeldCard")
            .field("reader", &self.reader)
            .finish_non_exhaustive()
    }
}

impl HeldCard {
    /// Connects to the card in `reader` (a PC/SC reader name, or `sim:PATH`).
    pub fn open(reader: &str) -> juki_host::Result<HeldCard> {
        if let Some(path) = juki_host::card::sim_path(reader) {
            let t: Box<dyn Transport> = Box::new(SimTransport::open(Path::new(path))?);
            return Ok(HeldCard {
                card: JukiCard::new(t),
                reader: reader.to_string(),
                watch: None,
            });
        }
        let watch = ReaderWatch::new()?;
        let transport = PcscTransport::connect(Some(reader))?;
        let name = transport.reader().to_string();
        let events = watch
            .reader(&name)?
            .filter(|r| r.card_present)
            .ok_or_else(|| Error::NoCard {
                reader: name.clone(),
            })?
            .events;
        let t: Box<dyn Transport> = Box::new(transport);
        Ok(HeldCard {
            card: JukiCard::new(t),
            reader: name,
            watch: Some((watch, events)),
        })
    }
}

impl OperatorCard for HeldCard {
    fn reader(&self) -> String {
        self.reader.clone()
    }

    fn card(&mut self) -> &mut Card {
        &mut self.card
    }

    fn still_present(&self) -> bool {
        match &self.watch {
            Some((watch, events)) => watch
                .reader(&self.reader)
                .ok()
                .flatten()
                .is_some_and(|r| r.card_present && r.events == *events),
            // A card image: there while its file is.
            None => juki_host::card::sim_path(&self.reader).is_some_and(|p| Path::new(p).exists()),
        }
    }
}
