//! PC/SC transport (the `pcsc` crate over pcsc-lite or WinSCard): list readers, choose one by
//! name, tell "no reader" from "no card", connect, run exclusive transactions, reconnect.

use std::ffi::CString;

use pcsc::{Card, Context, Disposition, Protocols, Scope, ShareMode};

use crate::error::{Error, Result};
use crate::transport::{atr_announces_extended_length, Transport, Watched};

/// Receive buffer: the largest extended response (65536 data bytes + SW).
const MAX_RESPONSE: usize = pcsc::MAX_BUFFER_SIZE_EXTENDED;

/// One reader and whether a card is in it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReaderInfo {
    /// The reader's PC/SC name.
    pub name: String,
    /// Whether a card is present.
    pub card_present: bool,
    /// The card's ATR, when present.
    pub atr: Option<Vec<u8>>,
    /// How many times a card was inserted into or removed from this reader (pcsc-lite's count,
    /// 16 bits): a changed count means another card may be there, even if one is present
    /// both times.
    pub events: u32,
}

fn reader_info(s: &pcsc::ReaderState) -> ReaderInfo {
    let present = s.event_state().contains(pcsc::State::PRESENT);
    ReaderInfo {
        name: s.name().to_string_lossy().into_owned(),
        card_present: present,
        atr: present.then(|| s.atr().to_vec()),
        events: s.event_count(),
    }
}

/// A PC/SC context kept open to look at readers without connecting to their cards (one pcscd
/// round trip per look, none to set up a context each time).
pub struct ReaderWatch {
    ctx: Context,
}

impl ReaderWatch {
    /// Establishes the context.
    pub fn new() -> Result<ReaderWatch> {
        Ok(ReaderWatch { ctx: establish()? })
    }

    /// Every reader and its card.
    pub fn readers(&self) -> Result<Vec<ReaderInfo>> {
        list_readers_in(&self.ctx)
    }

    /// Reader `name` and its card; `None` if there is no such reader (any more).
    pub fn reader(&self, name: &str) -> Result<Option<ReaderInfo>> {
        let cname = CString::new(name)
            .map_err(|_| Error::InvalidInput("reader name contains NUL".into()))?;
        let mut states = [pcsc::ReaderState::new(cname, pcsc::State::UNAWARE)];
        match self
            .ctx
            .get_status_change(std::time::Duration::from_millis(0), &mut states)
        {
            Ok(()) if states[0].event_state().contains(pcsc::State::UNKNOWN) => Ok(None),
            Ok(()) => Ok(Some(reader_info(&states[0]))),
            Err(pcsc::Error::UnknownReader) => Ok(None),
            Err(e) => Err(Error::Pcsc(e)),
        }
    }
}

fn establish() -> Result<Context> {
    match Context::establish(Scope::User) {
        Ok(ctx) => Ok(ctx),
        Err(pcsc::Error::NoService) | Err(pcsc::Error::ServiceStopped) => Err(Error::NoReader),
        Err(e) => Err(Error::Pcsc(e)),
    }
}

fn reader_names(ctx: &Context) -> Result<Vec<CString>> {
    match ctx.list_readers_owned() {
        Ok(names) => Ok(names),
        Err(pcsc::Error::NoReadersAvailable) => Ok(Vec::new()),
        Err(pcsc::Error::NoService) | Err(pcsc::Error::ServiceStopped) => Err(Error::NoReader),
        Err(e) => Err(Error::Pcsc(e)),
    }
}

/// Lists the PC/SC readers and whether each holds a card.
pub fn list_readers() -> Result<Vec<ReaderInfo>> {
    list_readers_in(&establish()?)
}

fn list_readers_in(ctx: &Context) -> Result<Vec<ReaderInfo>> {
    let names = reader_names(ctx)?;
    if names.is_empty() {
        return Ok(Vec::new());
    }
    let mut states: Vec<pcsc::ReaderState> = names
        .iter()
        .map(|n| pcsc::ReaderState::new(n.clone(), pcsc::State::UNAWARE))
        .collect();
    ctx.get_status_change(std::time::Duration::from_millis(0), &mut states)?;
    Ok(states.iter().map(reader_info).collect())
}

/// A card in a PC/SC reader.
pub struct PcscTransport {
    card: Card,
    reader: String,
    extended: bool,
}

impl std::fmt::Debug for PcscTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PcscTransport")
            .field("reader", &self.reader)
            .field("extended", &self.extended)
            .finish()
    }
}

impl PcscTransport {
    /// Connects to the card in the reader named `name` (exact name; if none matches exactly,
    /// the only reader whose name contains `name`), or, without a name, in the first reader
    /// holding a card.
    pub fn connect(name: Option<&str>) -> Result<PcscTransport> {
        let ctx = establish()?;
        let readers = list_readers_in(&ctx)?;
        if readers.is_empty() {
            return Err(Error::NoReader);
        }
        let available = readers
            .iter()
            .map(|r| {
                format!(
                    "\"{}\"{}",
                    r.name,
                    if r.card_present { " (card)" } else { "" }
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let chosen = match name {
            Some(name) => {
                let exact = readers.iter().find(|r| r.name == name);
                let partial: Vec<&ReaderInfo> =
                    readers.iter().filter(|r| r.name.contains(name)).collect();
                let reader = match (exact, partial.as_slice()) {
                    (Some(r), _) => r,
                    (None, [only]) => only,
                    _ => {
                        return Err(Error::ReaderNotFound {
                            name: name.to_string(),
                            available,
                        })
                    }
                };
                if !reader.card_present {
                    return Err(Error::NoCard {
                        reader: reader.name.clone(),
                    });
                }
                reader
            }
            None => readers
                .iter()
                .find(|r| r.card_present)
                .ok_or(Error::NoCardInAnyReader { available })?,
        };
        let cname = CString::new(chosen.name.clone())
            .map_err(|_| Error::InvalidInput("reader name contains NUL".into()))?;
        let card = match ctx.connect(&cname, ShareMode::Shared, Protocols::ANY) {
            Ok(card) => card,
            Err(pcsc::Error::NoSmartcard) | Err(pcsc::Error::RemovedCard) => {
                return Err(Error::NoCard {
                    reader: chosen.name.clone(),
                })
            }
            Err(e) => return Err(Error::Pcsc(e)),
        };
        let atr = card
            .get_attribute_owned(pcsc::Attribute::AtrString)
            .ok()
            .or_else(|| chosen.atr.clone())
            .unwrap_or_default();
        Ok(PcscTransport {
            card,
            reader: chosen.name.clone(),
            extended: atr_announces_extended_length(&atr),
        })
    }

    /// Overrides the extended-length capability found in the ATR.
    pub fn with_extended_length(mut self, extended: bool) -> PcscTransport {
        self.extended = extended;
        self
    }

    /// Reconnects to the card; `reset` asks for a warm reset (volatile state cleared).
    pub fn reconnect(&mut self, reset: bool) -> Result<()> {
        let disposition = if reset {
            Disposition::ResetCard
        } else {
            Disposition::LeaveCard
        };
        self.card
            .reconnect(ShareMode::Shared, Protocols::ANY, disposition)
            .map_err(Error::Pcsc)
    }

    /// The reader's name.
    pub fn reader(&self) -> &str {
        &self.reader
    }
}

fn transmit_on(card: &Card, reader: &str, apdu: &[u8]) -> Result<Vec<u8>> {
    let mut buf = vec![0u8; MAX_RESPONSE];
    card.transmit(apdu, &mut buf)
        .map(<[u8]>::to_vec)
        .map_err(|e| lost(reader, e))
}

/// A PC/SC error on a connected card: the card or the reader going away mid-operation gets its
/// own clear error (a card swapped for another one is a removal: the connection is to the
/// card that left).
fn lost(reader: &str, e: pcsc::Error) -> Error {
    match e {
        pcsc::Error::RemovedCard | pcsc::Error::NoSmartcard => Error::CardRemoved {
            reader: reader.to_string(),
        },
        pcsc::Error::NoService
        | pcsc::Error::ServiceStopped
        | pcsc::Error::ReaderUnavailable
        | pcsc::Error::UnknownReader
        | pcsc::Error::CommError => Error::ReaderLost {
            reader: reader.to_string(),
        },
        pcsc::Error::ResetCard | pcsc::Error::NotTransacted => Error::CardReset {
            reader: reader.to_string(),
        },
        e => Error::Pcsc(e),
    }
}

/// The transport inside a transaction: the same card, borrowed by the transaction.
struct InTransaction<'a> {
    card: &'a Card,
    reader: &'a str,
    extended: bool,
}

impl Transport for InTransaction<'_> {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>> {
        transmit_on(self.card, self.reader, apdu)
    }
    fn supports_extended_length(&self) -> bool {
        self.extended
    }
    fn exclusive(&mut self, f: &mut dyn FnMut(&mut dyn Transport) -> Result<()>) -> Result<()> {
        f(self)
    }
    fn name(&self) -> String {
        self.reader.to_string()
    }
}

impl Transport for PcscTransport {
    fn transmit(&mut self, apdu: &[u8]) -> Result<Vec<u8>> {
        transmit_on(&self.card, &self.reader, apdu)
    }

    fn supports_extended_length(&self) -> bool {
        self.extended
    }

    fn exclusive(&mut self, f: &mut dyn FnMut(&mut dyn Transport) -> Result<()>) -> Result<()> {
        let reader = self.reader.clone();
        let extended = self.extended;
        // Someone reset the card since we connected: pcscd refuses the transaction with
        // "card reset"; reconnect (our own security status is gone anyway; the commands in `f`
        // start from scratch) and begin again. No status query first: one round trip to pcscd
        // less for every operation.
        let first = self.card.transaction();
        let tx = if matches!(first, Err(pcsc::Error::ResetCard)) {
            drop(first);
            self.reconnect(false)?;
            self.card.transaction()
        } else {
            first
        }
        .map_err(|e| lost(&reader, e))?;
        let (result, raised) = {
            let mut inner = InTransaction {
                card: &tx,
                reader: &reader,
                extended,
            };
            let mut watched = Watched::new(&mut inner);
            let result = f(&mut watched);
            (result, watched.raised())
        };
        // End the transaction. After a VERIFY or EXTERNAL AUTHENTICATE, pcscd resets the card
        // as it ends it — before any other client can begin one — so the verified PIN or the
        // counter's session is gone for everybody; otherwise the card is left as it is. An
        // error ending it matters only if the work itself succeeded. A transaction that is
        // already gone (pcscd reset the card after the last command, as it does right after a
        // card is inserted) changes nothing about answers already received: a reset in the
        // middle would have failed them; and the security status is gone with that reset.
        let disposition = if raised {
            Disposition::ResetCard
        } else {
            Disposition::LeaveCard
        };
        let ended = match tx.end(disposition) {
            Ok(()) | Err((_, pcsc::Error::NotTransacted)) => Ok(()),
            Err((_, e)) => Err(lost(&reader, e)),
        };
        // pcscd tells every handle of the reader, ours too, that the card was reset; ours
        // knows: acknowledge it (a reconnect that leaves the card as it is) so that our next
        // command does not fail with "card reset".
        let acknowledged = if raised && ended.is_ok() {
            self.reconnect(false)
        } else {
            Ok(())
        };
        result.and(ended).and(acknowledged)
    }

    fn name(&self) -> String {
        self.reader.clone()
    }
}
