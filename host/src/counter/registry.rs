//! The card registry: residents keyed by 住民票コード, their cards, and each card's state history.
//!
//! Stored per resident: the 住民票コード, the name, and whether (and why) a new card is needed.
//! Stored per card: serial, the holder's current code and the code written on the card, issuing
//! municipality, issue and expiry dates, state (and termination reason), the legal
//! representative's name for a resident issued a card under 15, and whether the JPKI
//! certificates on it must be revoked after an address or name change. Never stored: PINs,
//! keys, addresses, birth dates.
//!
//! Rules kept here: one card per resident that is not terminated; state changes only along
//! initialised → issued ⇄ suspended, and any of them → terminated (irreversible); a
//! 住民票コード is never reused, and a code change keeps the old code in the history.

use std::fmt;

use rusqlite::{params, Connection, OptionalExtension, Row};

use super::clock::Clock;
use super::error::{CounterError, Result};
use super::sql::{date_text, parse_code, parse_date, savepoint};
use crate::date::Date;
use crate::resident::MunicipalityCode;
use crate::resident_code::ResidentCode;

/// Longest card serial (as on the card, [`crate::resident::CardInfo`]).
pub const MAX_SERIAL: usize = 16;

/// A card's state in the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CardState {
    /// Personalised, not yet handed to the resident.
    Initialised,
    /// In use.
    Issued,
    /// 一時停止 (lost or stolen): only the counter can resume it.
    Suspended,
    /// 廃止: irreversible.
    Terminated,
}

impl CardState {
    /// As stored: `initialised`, `issued`, `suspended`, `terminated`.
    pub fn as_str(self) -> &'static str {
        match self {
            CardState::Initialised => "initialised",
            CardState::Issued => "issued",
            CardState::Suspended => "suspended",
            CardState::Terminated => "terminated",
        }
    }

    /// The state stored as `text`.
    pub fn parse(text: &str) -> Option<CardState> {
        [
            CardState::Initialised,
            CardState::Issued,
            CardState::Suspended,
            CardState::Terminated,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

impl fmt::Display for CardState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a card was terminated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TerminateReason {
    /// 返納: handed back.
    Returned,
    /// 死亡: the holder died.
    Death,
    /// 有効期限切れ: expired.
    Expired,
    /// 住民票コードの変更: the code on the card is no longer the holder's.
    CodeChanged,
}

impl TerminateReason {
    /// As stored: `returned`, `death`, `expired`, `code-changed`.
    pub fn as_str(self) -> &'static str {
        match self {
            TerminateReason::Returned => "returned",
            TerminateReason::Death => "death",
            TerminateReason::Expired => "expired",
            TerminateReason::CodeChanged => "code-changed",
        }
    }

    /// The reason stored as `text`.
    pub fn parse(text: &str) -> Option<TerminateReason> {
        [
            TerminateReason::Returned,
            TerminateReason::Death,
            TerminateReason::Expired,
            TerminateReason::CodeChanged,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }

    /// The Japanese term (返納, 死亡, 有効期限切れ, 住民票コード変更).
    pub fn japanese(self) -> &'static str {
        match self {
            TerminateReason::Returned => "返納",
            TerminateReason::Death => "死亡",
            TerminateReason::Expired => "有効期限切れ",
            TerminateReason::CodeChanged => "住民票コード変更",
        }
    }
}

impl fmt::Display for TerminateReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A state change asked of the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// initialised → issued (handed to the resident).
    Issue,
    /// issued → suspended (一時停止).
    Suspend,
    /// suspended → issued (一時停止の解除).
    Resume,
    /// any but terminated → terminated.
    Terminate(TerminateReason),
}

impl Transition {
    /// The state it leads to.
    pub fn target(self) -> CardState {
        match self {
            Transition::Issue | Transition::Resume => CardState::Issued,
            Transition::Suspend => CardState::Suspended,
            Transition::Terminate(_) => CardState::Terminated,
        }
    }

    /// Whether it may start from `from`.
    pub fn allowed_from(self, from: CardState) -> bool {
        matches!(
            (self, from),
            (Transition::Issue, CardState::Initialised)
                | (Transition::Suspend, CardState::Issued)
                | (Transition::Resume, CardState::Suspended)
                | (
                    Transition::Terminate(_),
                    CardState::Initialised | CardState::Issued | CardState::Suspended
                )
        )
    }
}

/// A card to register.
#[derive(Debug, Clone)]
pub struct NewCard<'a> {
    /// Card serial (1–16 of A–Z, 0–9, `-`).
    pub serial: &'a str,
    /// The holder's 住民票コード, as written on the card.
    pub resident_code: &'a ResidentCode,
    /// The holder's name (registers the resident on first sight; must match afterwards).
    pub resident_name: &'a str,
    /// Issuing municipality (another municipality's card can be registered when its holder
    /// moves in and is served here).
    pub issuing_municipality: &'a MunicipalityCode,
    /// Issue date.
    pub issued: Date,
    /// Expiry date (after the issue date).
    pub expires: Date,
    /// Legal representative's name, for a resident issued a card under 15.
    pub legal_representative: Option<&'a str>,
}

/// A resident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resident {
    /// Current 住民票コード.
    pub code: ResidentCode,
    /// Name.
    pub name: String,
    /// Why a new card is needed, when one is (e.g. after a code change).
    pub needs_new_card: Option<String>,
    /// When first registered (UTC RFC 3339).
    pub registered_at: String,
}

/// A registered card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardRecord {
    /// Serial.
    pub serial: String,
    /// The holder's current 住民票コード.
    pub resident_code: ResidentCode,
    /// The 住民票コード written on the card (differs after a code change).
    pub code_on_card: ResidentCode,
    /// Issuing municipality code.
    pub issuing_municipality: String,
    /// Issue date.
    pub issued: Date,
    /// Expiry date.
    pub expires: Date,
    /// State.
    pub state: CardState,
    /// Why it was terminated.
    pub terminate_reason: Option<TerminateReason>,
    /// Legal representative's name (resident under 15 at issue).
    pub legal_representative: Option<String>,
    /// The JPKI certificates on the card must be revoked (after an address or name change).
    pub jpki_revocation_needed: bool,
    /// When registered (UTC RFC 3339).
    pub registered_at: String,
    /// When the state last changed (UTC RFC 3339).
    pub state_changed_at: String,
}

impl CardRecord {
    /// Whether the card is expired on `today` (valid through its expiry date).
    pub fn is_expired(&self, today: Date) -> bool {
        today > self.expires
    }

    /// Whether the code on the card is no longer the holder's (after a code change).
    pub fn code_superseded(&self) -> bool {
        self.code_on_card != self.resident_code
    }
}

/// One entry of a card's state history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateChange {
    /// Previous state (`None` when the card was registered).
    pub from: Option<CardState>,
    /// New state.
    pub to: CardState,
    /// Why.
    pub reason: String,
    /// When (UTC RFC 3339).
    pub at: String,
}

/// One 住民票コード change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeChange {
    /// The code before.
    pub old_code: ResidentCode,
    /// The code after.
    pub new_code: ResidentCode,
    /// Why.
    pub reason: String,
    /// When (UTC RFC 3339).
    pub at: String,
}

/// What a 記載事項変更 changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change<'a> {
    /// The address (転入, 転居); the address itself is not kept here.
    Address,
    /// The name, to this new name.
    Name {
        /// The new name.
        new_name: &'a str,
    },
}

/// The kind of a recorded change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// Address.
    Address,
    /// Name.
    Name,
}

impl ChangeKind {
    fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Address => "address",
            ChangeKind::Name => "name",
        }
    }
}

/// A recorded address or name change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateRecord {
    /// Address or name.
    pub kind: ChangeKind,
    /// The date of the change (e.g. the move).
    pub change_date: Date,
    /// Why (転入, 転居, 婚姻, …).
    pub reason: String,
    /// The municipality whose counter wrote it on the card.
    pub municipality: String,
    /// When recorded (UTC RFC 3339).
    pub recorded_at: String,
}

/// The registry, on a connection (see [`super::CounterDb::registry`]).
pub struct Registry<'c> {
    conn: &'c Connection,
    clock: &'c dyn Clock,
}

const CARD_COLUMNS: &str = "serial, resident_code, code_on_card, issuing_municipality, issued, \
    expires, state, terminate_reason, legal_representative, jpki_revocation_needed, \
    registered_at, state_changed_at";

/// A card row as stored.
struct RawCard {
    serial: String,
    resident_code: String,
    code_on_card: String,
    issuing_municipality: String,
    issued: String,
    expires: String,
    state: String,
    terminate_reason: Option<String>,
    legal_representative: Option<String>,
    jpki_revocation_needed: bool,
    registered_at: String,
    state_changed_at: String,
}

impl RawCard {
    fn from_row(r: &Row<'_>) -> rusqlite::Result<RawCard> {
        Ok(RawCard {
            serial: r.get(0)?,
            resident_code: r.get(1)?,
            code_on_card: r.get(2)?,
            issuing_municipality: r.get(3)?,
            issued: r.get(4)?,
            expires: r.get(5)?,
            state: r.get(6)?,
            terminate_reason: r.get(7)?,
            legal_representative: r.get(8)?,
            jpki_revocation_needed: r.get(9)?,
            registered_at: r.get(10)?,
            state_changed_at: r.get(11)?,
        })
    }

    fn into_record(self) -> Result<CardRecord> {
        let state = parse_state(&self.state)?;
        let terminate_reason = match self.terminate_reason {
            None => None,
            Some(t) => Some(
                TerminateReason::parse(&t)
                    .ok_or_else(|| CounterError::Corrupt(format!("termination reason \"{t}\"")))?,
            ),
        };
        Ok(CardRecord {
            resident_code: parse_code(&self.resident_code)?,
            code_on_card: parse_code(&self.code_on_card)?,
            issued: parse_date(&self.issued)?,
            expires: parse_date(&self.expires)?,
            serial: self.serial,
            issuing_municipality: self.issuing_municipality,
            state,
            terminate_reason,
            legal_representative: self.legal_representative,
            jpki_revocation_needed: self.jpki_revocation_needed,
            registered_at: self.registered_at,
            state_changed_at: self.state_changed_at,
        })
    }
}

fn parse_state(text: &str) -> Result<CardState> {
    CardState::parse(text).ok_or_else(|| CounterError::Corrupt(format!("card state \"{text}\"")))
}

fn check_serial(serial: &str) -> Result<()> {
    if serial.is_empty()
        || serial.len() > MAX_SERIAL
        || !serial
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(CounterError::InvalidInput(format!(
            "\"{serial}\" is not a card serial: 1 to {MAX_SERIAL} characters of A-Z, 0-9 or '-'"
        )));
    }
    Ok(())
}

fn check_text(what: &str, text: &str) -> Result<()> {
    if text.trim().is_empty() || text.chars().any(char::is_control) {
        return Err(CounterError::InvalidInput(format!(
            "the {what} must not be empty or contain control characters"
        )));
    }
    Ok(())
}

impl<'c> Registry<'c> {
    pub(crate) fn new(conn: &'c Connection, clock: &'c dyn Clock) -> Registry<'c> {
        Registry { conn, clock }
    }

    fn now(&self) -> String {
        self.clock.now().rfc3339()
    }

    /// Registers a card in state `initial` (initialised or issued), and its holder if new.
    ///
    /// Refused when the serial is known, the holder still holds a card that is not terminated,
    /// the code is an old (changed) code, or the name differs from the registered one.
    /// Registering an issued card clears the holder's "needs a new card".
    pub fn register_card(&self, card: &NewCard<'_>, initial: CardState) -> Result<CardRecord> {
        check_serial(card.serial)?;
        check_text("resident's name", card.resident_name)?;
        if let Some(rep) = card.legal_representative {
            check_text("legal representative's name", rep)?;
        }
        if card.expires <= card.issued {
            return Err(CounterError::InvalidInput(format!(
                "the expiry date {} is not after the issue date {}",
                date_text(card.expires),
                date_text(card.issued)
            )));
        }
        if !matches!(initial, CardState::Initialised | CardState::Issued) {
            return Err(CounterError::InvalidInput(format!(
                "a card is registered as initialised or issued, not {initial}"
            )));
        }
        let code = card.resident_code.as_str();
        savepoint(self.conn, || {
            if self.card(card.serial)?.is_some() {
                return Err(CounterError::DuplicateCard(card.serial.to_string()));
            }
            if self.code_was_changed(code)? {
                return Err(CounterError::CodeInUse(code.to_string()));
            }
            let now = self.now();
            match self.resident(card.resident_code)? {
                None => {
                    self.conn.execute(
                        "INSERT INTO residents (code, name, registered_at) VALUES (?1, ?2, ?3)",
                        params![code, card.resident_name, now],
                    )?;
                }
                Some(r) if r.name != card.resident_name => {
                    return Err(CounterError::NameMismatch {
                        code: code.to_string(),
                    });
                }
                Some(_) => {}
            }
            if let Some(held) = self
                .cards_of_resident(card.resident_code)?
                .into_iter()
                .find(|c| c.state != CardState::Terminated)
            {
                return Err(CounterError::CardAlreadyHeld {
                    code: code.to_string(),
                    serial: held.serial,
                    state: held.state.as_str(),
                });
            }
            self.conn.execute(
                &format!(
                    "INSERT INTO cards ({CARD_COLUMNS}) \
                     VALUES (?1, ?2, ?2, ?3, ?4, ?5, ?6, NULL, ?7, 0, ?8, ?8)"
                ),
                params![
                    card.serial,
                    code,
                    card.issuing_municipality.as_str(),
                    date_text(card.issued),
                    date_text(card.expires),
                    initial.as_str(),
                    card.legal_representative,
                    now,
                ],
            )?;
            self.add_history(card.serial, None, initial, "registered", &now)?;
            if initial == CardState::Issued {
                self.clear_needs_new_card(code)?;
            }
            self.card(card.serial)?
                .ok_or_else(|| CounterError::UnknownCard(card.serial.to_string()))
        })
    }

    fn add_history(
        &self,
        serial: &str,
        from: Option<CardState>,
        to: CardState,
        reason: &str,
        at: &str,
    ) -> Result<()> {
        self.conn.execute(
            "INSERT INTO card_state_history (serial, from_state, to_state, reason, at) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![serial, from.map(CardState::as_str), to.as_str(), reason, at],
        )?;
        Ok(())
    }

    fn clear_needs_new_card(&self, code: &str) -> Result<()> {
        self.conn.execute(
            "UPDATE residents SET needs_new_card = 0, needs_new_card_reason = NULL \
             WHERE code = ?1",
            [code],
        )?;
        Ok(())
    }

    fn code_was_changed(&self, code: &str) -> Result<bool> {
        Ok(self
            .conn
            .query_row(
                "SELECT 1 FROM resident_code_changes WHERE old_code = ?1",
                [code],
                |_| Ok(()),
            )
            .optional()?
            .is_some())
    }

    /// Changes a card's state, with a reason kept in its history; returns the card as it is
    /// now. Issuing an initialised card clears its holder's "needs a new card".
    pub fn change_state(
        &self,
        serial: &str,
        transition: Transition,
        reason: &str,
    ) -> Result<CardRecord> {
        check_text("reason", reason)?;
        savepoint(self.conn, || {
            let card = self
                .card(serial)?
                .ok_or_else(|| CounterError::UnknownCard(serial.to_string()))?;
            let to = transition.target();
            if !transition.allowed_from(card.state) {
                return Err(CounterError::Transition {
                    serial: serial.to_string(),
                    from: card.state.as_str(),
                    to: to.as_str(),
                });
            }
            let now = self.now();
            let terminate_reason = match transition {
                Transition::Terminate(r) => Some(r.as_str()),
                _ => None,
            };
            self.conn.execute(
                "UPDATE cards SET state = ?2, terminate_reason = ?3, state_changed_at = ?4 \
                 WHERE serial = ?1",
                params![serial, to.as_str(), terminate_reason, now],
            )?;
            self.add_history(serial, Some(card.state), to, reason, &now)?;
            if transition == Transition::Issue {
                self.clear_needs_new_card(card.resident_code.as_str())?;
            }
            self.card(serial)?
                .ok_or_else(|| CounterError::UnknownCard(serial.to_string()))
        })
    }

    /// Records an address or name change written to an issued card (記載事項変更 /
    /// 継続利用): the card's JPKI certificates must now be revoked; a name change also renames
    /// the resident. `by` is the municipality whose counter wrote the change.
    pub fn record_update(
        &self,
        serial: &str,
        change: Change<'_>,
        change_date: Date,
        reason: &str,
        by: &MunicipalityCode,
    ) -> Result<CardRecord> {
        check_text("reason", reason)?;
        if let Change::Name { new_name } = change {
            check_text("new name", new_name)?;
        }
        savepoint(self.conn, || {
            let card = self
                .card(serial)?
                .ok_or_else(|| CounterError::UnknownCard(serial.to_string()))?;
            if card.state != CardState::Issued {
                return Err(CounterError::WrongState {
                    serial: serial.to_string(),
                    state: card.state.as_str(),
                    operation: "an address or name change",
                });
            }
            let now = self.now();
            let kind = match change {
                Change::Address => ChangeKind::Address,
                Change::Name { new_name } => {
                    self.conn.execute(
                        "UPDATE residents SET name = ?2 WHERE code = ?1",
                        params![card.resident_code.as_str(), new_name],
                    )?;
                    ChangeKind::Name
                }
            };
            self.conn.execute(
                "INSERT INTO card_updates \
                 (serial, kind, change_date, reason, municipality, recorded_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    serial,
                    kind.as_str(),
                    date_text(change_date),
                    reason,
                    by.as_str(),
                    now
                ],
            )?;
            self.conn.execute(
                "UPDATE cards SET jpki_revocation_needed = 1 WHERE serial = ?1",
                [serial],
            )?;
            self.card(serial)?
                .ok_or_else(|| CounterError::UnknownCard(serial.to_string()))
        })
    }

    /// Records that the card's JPKI certificates were revoked (by the JPKI side).
    pub fn clear_jpki_revocation(&self, serial: &str) -> Result<()> {
        let n = self.conn.execute(
            "UPDATE cards SET jpki_revocation_needed = 0 WHERE serial = ?1",
            [serial],
        )?;
        if n == 0 {
            return Err(CounterError::UnknownCard(serial.to_string()));
        }
        Ok(())
    }

    /// Gives a resident a new 住民票コード (住民票コードの変更). The old code is kept in the
    /// history and never used again; the resident is marked as needing a new card, since cards
    /// carrying the old code no longer work. The cards stay linked to the resident (their
    /// [`CardRecord::code_superseded`] becomes true); terminating them is the caller's step.
    pub fn change_resident_code(
        &self,
        old: &ResidentCode,
        new: &ResidentCode,
        reason: &str,
    ) -> Result<Resident> {
        check_text("reason", reason)?;
        savepoint(self.conn, || {
            if self.resident(old)?.is_none() {
                return Err(CounterError::UnknownResident(old.to_string()));
            }
            let new_used = self.resident(new)?.is_some()
                || self.code_was_changed(new.as_str())?
                || self
                    .conn
                    .query_row(
                        "SELECT 1 FROM resident_code_changes WHERE new_code = ?1",
                        [new.as_str()],
                        |_| Ok(()),
                    )
                    .optional()?
                    .is_some();
            if new_used {
                return Err(CounterError::CodeInUse(new.to_string()));
            }
            let now = self.now();
            let needs = format!(
                "resident code changed on {now}: cards carrying the old code no longer work"
            );
            // ON UPDATE CASCADE moves the holder's cards and earlier history to the new code.
            self.conn.execute(
                "UPDATE residents SET code = ?2, needs_new_card = 1, needs_new_card_reason = ?3 \
                 WHERE code = ?1",
                params![old.as_str(), new.as_str(), needs],
            )?;
            self.conn.execute(
                "INSERT INTO resident_code_changes \
                 (resident_code, old_code, new_code, reason, changed_at) \
                 VALUES (?1, ?2, ?1, ?3, ?4)",
                params![new.as_str(), old.as_str(), reason, now],
            )?;
            self.resident(new)?
                .ok_or_else(|| CounterError::UnknownResident(new.to_string()))
        })
    }

    /// The resident whose current code is `code`.
    pub fn resident(&self, code: &ResidentCode) -> Result<Option<Resident>> {
        let raw = self
            .conn
            .query_row(
                "SELECT code, name, needs_new_card_reason, registered_at FROM residents \
                 WHERE code = ?1",
                [code.as_str()],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, Option<String>>(2)?,
                        r.get::<_, String>(3)?,
                    ))
                },
            )
            .optional()?;
        raw.map(|(code, name, needs_new_card, registered_at)| {
            Ok(Resident {
                code: parse_code(&code)?,
                name,
                needs_new_card,
                registered_at,
            })
        })
        .transpose()
    }

    /// The current code of the resident who once had (or has) `code`, following code changes.
    pub fn current_code(&self, code: &ResidentCode) -> Result<Option<ResidentCode>> {
        if self.resident(code)?.is_some() {
            return Ok(Some(code.clone()));
        }
        let current: Option<String> = self
            .conn
            .query_row(
                "SELECT resident_code FROM resident_code_changes WHERE old_code = ?1",
                [code.as_str()],
                |r| r.get(0),
            )
            .optional()?;
        current.map(|c| parse_code(&c)).transpose()
    }

    /// Every resident, by code.
    pub fn residents(&self) -> Result<Vec<Resident>> {
        let mut stmt = self
            .conn
            .prepare("SELECT code FROM residents ORDER BY code")?;
        let codes = stmt
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut out = Vec::with_capacity(codes.len());
        for c in codes {
            let code = parse_code(&c)?;
            if let Some(r) = self.resident(&code)? {
                out.push(r);
            }
        }
        Ok(out)
    }

    /// The residents who need a new card.
    pub fn residents_needing_new_card(&self) -> Result<Vec<Resident>> {
        Ok(self
            .residents()?
            .into_iter()
            .filter(|r| r.needs_new_card.is_some())
            .collect())
    }

    /// The card with this serial.
    pub fn card(&self, serial: &str) -> Result<Option<CardRecord>> {
        Ok(self
            .cards_where("WHERE serial = ?1", [serial])?
            .into_iter()
            .next())
    }

    /// The cards of the resident whose current code is `code`, oldest first.
    pub fn cards_of_resident(&self, code: &ResidentCode) -> Result<Vec<CardRecord>> {
        self.cards_where("WHERE resident_code = ?1 ORDER BY rowid", [code.as_str()])
    }

    /// All cards, or those in `state`, by serial.
    pub fn cards(&self, state: Option<CardState>) -> Result<Vec<CardRecord>> {
        match state {
            None => self.cards_where("ORDER BY serial", []),
            Some(s) => self.cards_where("WHERE state = ?1 ORDER BY serial", [s.as_str()]),
        }
    }

    fn cards_where(&self, clause: &str, p: impl rusqlite::Params) -> Result<Vec<CardRecord>> {
        let mut stmt = self
            .conn
            .prepare(&format!("SELECT {CARD_COLUMNS} FROM cards {clause}"))?;
        let raws = stmt
            .query_map(p, RawCard::from_row)?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        raws.into_iter().map(RawCard::into_record).collect()
    }

    /// A card's state history, oldest first.
    pub fn state_history(&self, serial: &str) -> Result<Vec<StateChange>> {
        let mut stmt = self.conn.prepare(
            "SELECT from_state, to_state, reason, at FROM card_state_history \
             WHERE serial = ?1 ORDER BY id",
        )?;
        let raws = stmt
            .query_map([serial], |r| {
                Ok((
                    r.get::<_, Option<String>>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        raws.into_iter()
            .map(|(from, to, reason, at)| {
                Ok(StateChange {
                    from: from.as_deref().map(parse_state).transpose()?,
                    to: parse_state(&to)?,
                    reason,
                    at,
                })
            })
            .collect()
    }

    /// The code changes of the resident whose current code is `code`, oldest first.
    pub fn code_history(&self, code: &ResidentCode) -> Result<Vec<CodeChange>> {
        let mut stmt = self.conn.prepare(
            "SELECT old_code, new_code, reason, changed_at FROM resident_code_changes \
             WHERE resident_code = ?1 ORDER BY id",
        )?;
        let raws = stmt
            .query_map([code.as_str()], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        raws.into_iter()
            .map(|(old, new, reason, at)| {
                Ok(CodeChange {
                    old_code: parse_code(&old)?,
                    new_code: parse_code(&new)?,
                    reason,
                    at,
                })
            })
            .collect()
    }

    /// A card's recorded address and name changes, oldest first.
    pub fn updates(&self, serial: &str) -> Result<Vec<UpdateRecord>> {
        let mut stmt = self.conn.prepare(
            "SELECT kind, change_date, reason, municipality, recorded_at FROM card_updates \
             WHERE serial = ?1 ORDER BY id",
        )?;
        let raws = stmt
            .query_map([serial], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, String>(4)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        raws.into_iter()
            .map(|(kind, date, reason, municipality, recorded_at)| {
                let kind = match kind.as_str() {
                    "address" => ChangeKind::Address,
                    "name" => ChangeKind::Name,
                    other => return Err(CounterError::Corrupt(format!("change kind \"{other}\""))),
                };
                Ok(UpdateRecord {
                    kind,
                    change_date: parse_date(&date)?,
                    reason,
                    municipality,
                    recorded_at,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::testutil::{code, date, Fixture};
    use super::*;

    const HANAKO: &str = "12345678903";

    fn new_card<'a>(
        f: &'a Fixture,
        serial: &'a str,
        resident: &'a ResidentCode,
        name: &'a str,
    ) -> NewCard<'a> {
        NewCard {
            serial,
            resident_code: resident,
            resident_name: name,
            issuing_municipality: &f.chiyoda,
            issued: date(2026, 4, 1),
            expires: date(2036, 3, 31),
            legal_representative: None,
        }
    }

    #[test]
    fn registers_and_looks_up_cards_and_residents() {
        let f = Fixture::new();
        let hanako = code(HANAKO);
        let reg = f.db.registry();
        let card = reg
            .register_card(
                &new_card(&f, "JK-0001", &hanako, "住基 花子"),
                CardState::Issued,
            )
            .unwrap();
        assert_eq!(card.serial, "JK-0001");
        assert_eq!(card.state, CardState::Issued);
        assert_eq!(card.resident_code, hanako);
        assert_eq!(card.code_on_card, hanako);
        assert_eq!(card.issuing_municipality, "131016");
        assert_eq!(card.issued, date(2026, 4, 1));
        assert_eq!(card.expires, date(2036, 3, 31));
        assert_eq!(card.terminate_reason, None);
        assert!(!card.jpki_revocation_needed);
        assert!(!card.code_superseded());
        assert!(!card.is_expired(date(2036, 3, 31)));
        assert!(card.is_expired(date(2036, 4, 1)));
        assert_eq!(card.registered_at, "2026-04-01T00:00:00Z");

        assert_eq!(reg.card("JK-0001").unwrap(), Some(card.clone()));
        assert_eq!(reg.card("JK-9999").unwrap(), None);
        assert_eq!(
            reg.cards_of_resident(&hanako).unwrap(),
            std::slice::from_ref(&card)
        );
        let r = reg.resident(&hanako).unwrap().unwrap();
        assert_eq!(r.name, "住基 花子");
        assert_eq!(r.needs_new_card, None);

        // A child's card, issued through a legal representative.
        let taro = code("00000000060");
        let mut child = new_card(&f, "JK-0002", &taro, "住基 太郎");
        child.legal_representative = Some("住基 花子");
        let c = reg.register_card(&child, CardState::Initialised).unwrap();
        assert_eq!(c.legal_representative.as_deref(), Some("住基 花子"));
        assert_eq!(c.state, CardState::Initialised);

        assert_eq!(reg.cards(None).unwrap().len(), 2);
        assert_eq!(reg.cards(Some(CardState::Issued)).unwrap(), [card]);
        assert_eq!(reg.residents().unwrap().len(), 2);
        assert_eq!(
            reg.state_history("JK-0002").unwrap(),
            [StateChange {
                from: None,
                to: CardState::Initialised,
                reason: "registered".into(),
                at: "2026-04-01T00:00:00Z".into(),
            }]
        );

        // Persisted.
        let f = f.reopen();
        assert_eq!(f.db.registry().cards(None).unwrap().len(), 2);
    }

    #[test]
    fn refuses_bad_registrations() {
        let f = Fixture::new();
        let hanako = code(HANAKO);
        let reg = f.db.registry();
        let ok = new_card(&f, "JK-0001", &hanako, "住基 花子");
        let bad = [
            NewCard {
                serial: "jk-0001",
                ..ok.clone()
            },
            NewCard {
                serial: "",
                ..ok.clone()
            },
            NewCard {
                serial: "JK-00000000000001",
                ..ok.clone()
            },
            NewCard {
                resident_name: " ",
                ..ok.clone()
            },
            NewCard {
                expires: date(2026, 4, 1),
                ..ok.clone()
            },
            NewCard {
                legal_representative: Some(""),
                ..ok.clone()
            },
        ];
        for card in &bad {
            assert!(
                matches!(
                    reg.register_card(card, CardState::Issued),
                    Err(CounterError::InvalidInput(_))
                ),
                "{card:?}"
            );
        }
        assert!(matches!(
            reg.register_card(&ok, CardState::Suspended),
            Err(CounterError::InvalidInput(_))
        ));
        assert!(reg.cards(None).unwrap().is_empty());
        assert!(reg.residents().unwrap().is_empty());

        reg.register_card(&ok, CardState::Issued).unwrap();
        assert!(matches!(
            reg.register_card(&ok, CardState::Issued),
            Err(CounterError::DuplicateCard(s)) if s == "JK-0001"
        ));
        // One card per resident that is not terminated.
        match reg.register_card(
            &new_card(&f, "JK-0002", &hanako, "住基 花子"),
            CardState::Issued,
        ) {
            Err(CounterError::CardAlreadyHeld { serial, state, .. }) => {
                assert_eq!(serial, "JK-0001");
                assert_eq!(state, "issued");
            }
            other => panic!("{other:?}"),
        }
        // The name must match the registered resident.
        reg.change_state(
            "JK-0001",
            Transition::Terminate(TerminateReason::Returned),
            "返納",
        )
        .unwrap();
        assert!(matches!(
            reg.register_card(&new_card(&f, "JK-0002", &hanako, "別人"), CardState::Issued),
            Err(CounterError::NameMismatch { .. })
        ));
        // After termination, a new card (再交付) is accepted.
        reg.register_card(
            &new_card(&f, "JK-0002", &hanako, "住基 花子"),
            CardState::Issued,
        )
        .unwrap();
    }

    #[test]
    fn state_changes_follow_the_lifecycle_and_keep_history() {
        let f = Fixture::new();
        let hanako = code(HANAKO);
        let reg = f.db.registry();
        reg.register_card(
            &new_card(&f, "JK-0001", &hanako, "住基 花子"),
            CardState::Initialised,
        )
        .unwrap();
        // Not issued yet: cannot be suspended.
        assert!(matches!(
            reg.change_state("JK-0001", Transition::Suspend, "lost"),
            Err(CounterError::Transition {
                from: "initialised",
                to: "suspended",
                ..
            })
        ));
        f.clock.advance(60);
        reg.change_state("JK-0001", Transition::Issue, "交付")
            .unwrap();
        f.clock.advance(60);
        let c = reg
            .change_state("JK-0001", Transition::Suspend, "紛失届")
            .unwrap();
        assert_eq!(c.state, CardState::Suspended);
        assert_eq!(c.state_changed_at, "2026-04-01T00:02:00Z");
        assert!(matches!(
            reg.change_state("JK-0001", Transition::Suspend, "again"),
            Err(CounterError::Transition { .. })
        ));
        // A suspended card cannot be updated.
        assert!(matches!(
            reg.record_update(
                "JK-0001",
                Change::Address,
                date(2026, 5, 1),
                "転居",
                &f.chiyoda
            ),
            Err(CounterError::WrongState {
                state: "suspended",
                ..
            })
        ));
        f.clock.advance(60);
        reg.change_state("JK-0001", Transition::Resume, "発見")
            .unwrap();
        assert!(matches!(
            reg.change_state("JK-0001", Transition::Resume, "again"),
            Err(CounterError::Transition { .. })
        ));
        f.clock.advance(60);
        let t = reg
            .change_state(
                "JK-0001",
                Transition::Terminate(TerminateReason::Death),
                "死亡届",
            )
            .unwrap();
        assert_eq!(t.state, CardState::Terminated);
        assert_eq!(t.terminate_reason, Some(TerminateReason::Death));
        // Irreversible.
        for tr in [
            Transition::Issue,
            Transition::Suspend,
            Transition::Resume,
            Transition::Terminate(TerminateReason::Returned),
        ] {
            assert!(matches!(
                reg.change_state("JK-0001", tr, "x"),
                Err(CounterError::Transition {
                    from: "terminated",
                    ..
                })
            ));
        }
        assert!(matches!(
            reg.change_state("JK-9999", Transition::Suspend, "x"),
            Err(CounterError::UnknownCard(_))
        ));
        assert!(matches!(
            reg.change_state("JK-0001", Transition::Suspend, ""),
            Err(CounterError::InvalidInput(_))
        ));

        let h = reg.state_history("JK-0001").unwrap();
        let steps: Vec<_> = h
            .iter()
            .map(|s| (s.from, s.to, s.reason.as_str()))
            .collect();
        assert_eq!(
            steps,
            [
                (None, CardState::Initialised, "registered"),
                (Some(CardState::Initialised), CardState::Issued, "交付"),
                (Some(CardState::Issued), CardState::Suspended, "紛失届"),
                (Some(CardState::Suspended), CardState::Issued, "発見"),
                (Some(CardState::Issued), CardState::Terminated, "死亡届"),
            ]
        );
        assert_eq!(h[4].at, "2026-04-01T00:04:00Z");
    }

    #[test]
    fn updates_mark_jpki_revocation_and_rename() {
        let f = Fixture::new();
        let hanako = code(HANAKO);
        let reg = f.db.registry();
        reg.register_card(
            &new_card(&f, "JK-0001", &hanako, "住基 花子"),
            CardState::Issued,
        )
        .unwrap();
        // Served by another municipality's counter after a move (転入).
        let sapporo = MunicipalityCode::parse("011002").unwrap();
        let c = reg
            .record_update(
                "JK-0001",
                Change::Address,
                date(2026, 5, 1),
                "転入",
                &sapporo,
            )
            .unwrap();
        assert!(c.jpki_revocation_needed);
        let c = reg
            .record_update(
                "JK-0001",
                Change::Name {
                    new_name: "札幌 花子",
                },
                date(2026, 6, 1),
                "婚姻",
                &sapporo,
            )
            .unwrap();
        assert!(c.jpki_revocation_needed);
        assert_eq!(reg.resident(&hanako).unwrap().unwrap().name, "札幌 花子");
        let u = reg.updates("JK-0001").unwrap();
        assert_eq!(u.len(), 2);
        assert_eq!(u[0].kind, ChangeKind::Address);
        assert_eq!(u[0].change_date, date(2026, 5, 1));
        assert_eq!(u[0].municipality, "011002");
        assert_eq!(u[1].kind, ChangeKind::Name);
        assert_eq!(u[1].reason, "婚姻");
        reg.clear_jpki_revocation("JK-0001").unwrap();
        assert!(!reg.card("JK-0001").unwrap().unwrap().jpki_revocation_needed);
        assert!(matches!(
            reg.clear_jpki_revocation("JK-9999"),
            Err(CounterError::UnknownCard(_))
        ));
        assert!(matches!(
            reg.record_update(
                "JK-9999",
                Change::Address,
                date(2026, 5, 1),
                "転入",
                &sapporo
            ),
            Err(CounterError::UnknownCard(_))
        ));
    }

    #[test]
    fn a_code_change_keeps_history_and_asks_for_a_new_card() {
        let f = Fixture::new();
        let old = code(HANAKO);
        let new = code("99999999995");
        let reg = f.db.registry();
        reg.register_card(
            &new_card(&f, "JK-0001", &old, "住基 花子"),
            CardState::Issued,
        )
        .unwrap();
        f.clock.advance(3600);
        let r = reg.change_resident_code(&old, &new, "本人の請求").unwrap();
        assert_eq!(r.code, new);
        let why = r.needs_new_card.unwrap();
        assert!(why.contains("old code no longer work"), "{why}");
        assert_eq!(reg.resident(&old).unwrap(), None);
        assert_eq!(reg.current_code(&old).unwrap(), Some(new.clone()));
        assert_eq!(reg.current_code(&new).unwrap(), Some(new.clone()));
        assert_eq!(reg.current_code(&code("00000000000")).unwrap(), None);
        assert_eq!(reg.residents_needing_new_card().unwrap().len(), 1);

        // The card follows its holder; the code on it is superseded.
        let card = reg.card("JK-0001").unwrap().unwrap();
        assert_eq!(card.resident_code, new);
        assert_eq!(card.code_on_card, old);
        assert!(card.code_superseded());
        assert_eq!(reg.cards_of_resident(&new).unwrap().len(), 1);

        let h = reg.code_history(&new).unwrap();
        assert_eq!(h.len(), 1);
        assert_eq!(h[0].old_code, old);
        assert_eq!(h[0].new_code, new);
        assert_eq!(h[0].reason, "本人の請求");
        assert_eq!(h[0].at, "2026-04-01T01:00:00Z");

        // Codes are never reused: neither the old one nor one in use.
        assert!(matches!(
            reg.register_card(&new_card(&f, "JK-0009", &old, "誰か"), CardState::Issued),
            Err(CounterError::CodeInUse(_))
        ));
        let third = code("00000000060");
        reg.register_card(
            &new_card(&f, "JK-0003", &third, "住基 次郎"),
            CardState::Issued,
        )
        .unwrap();
        assert!(matches!(
            reg.change_resident_code(&third, &old, "x"),
            Err(CounterError::CodeInUse(_))
        ));
        assert!(matches!(
            reg.change_resident_code(&third, &new, "x"),
            Err(CounterError::CodeInUse(_))
        ));
        assert!(matches!(
            reg.change_resident_code(&old, &code("00000000000"), "x"),
            Err(CounterError::UnknownResident(_))
        ));

        // A second change keeps both entries.
        let newest = code("00000000000");
        reg.change_resident_code(&new, &newest, "再変更").unwrap();
        let h = reg.code_history(&newest).unwrap();
        assert_eq!(
            h.iter()
                .map(|c| (
                    c.old_code.as_str().to_string(),
                    c.new_code.as_str().to_string()
                ))
                .collect::<Vec<_>>(),
            [
                (HANAKO.to_string(), "99999999995".to_string()),
                ("99999999995".to_string(), "00000000000".to_string())
            ]
        );
        assert_eq!(reg.current_code(&old).unwrap(), Some(newest.clone()));

        // The old card is terminated and a new one issued: the flag clears.
        reg.change_state(
            "JK-0001",
            Transition::Terminate(TerminateReason::CodeChanged),
            "住民票コード変更",
        )
        .unwrap();
        reg.register_card(
            &new_card(&f, "JK-0004", &newest, "住基 花子"),
            CardState::Issued,
        )
        .unwrap();
        assert_eq!(reg.resident(&newest).unwrap().unwrap().needs_new_card, None);

        // Survives reopening.
        let f = f.reopen();
        assert_eq!(f.db.registry().code_history(&newest).unwrap().len(), 2);
    }

    #[test]
    fn foreign_keys_are_enforced() {
        let f = Fixture::new();
        let err =
            f.db.registry()
                .conn
                .execute(
                    "INSERT INTO card_state_history (serial, to_state, reason, at) \
                 VALUES ('NOPE', 'issued', 'x', 'y')",
                    [],
                )
                .unwrap_err();
        assert!(err.to_string().contains("FOREIGN KEY"), "{err}");
    }
}
