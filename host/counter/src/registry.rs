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

use juki_card::lifecycle::{Lifecycle, Transition as CardTransition};

use super::clock::Clock;
use super::error::{CounterError, Result};
use super::sql::{date_text, parse_code, parse_date, savepoint};
use juki_host::date::Date;
use juki_host::resident::MunicipalityCode;
use juki_host::resident_code::ResidentCode;

/// Longest card serial (as on the card, [`juki_host::resident::CardInfo`]).
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
    /// The card's lifecycle state this registry state stands for.
    pub fn lifecycle(self) -> Lifecycle {
        match self {
            CardState::Initialised => Lifecycle::Initialised,
            CardState::Issued => Lifecycle::Issued,
            CardState::Suspended => Lifecycle::Suspended,
            CardState::Terminated => Lifecycle::Terminated,
        }
    }

    /// The registry state of a card in `state` (none for a blank card: never registered).
    pub fn from_lifecycle(state: Lifecycle) -> Option<CardState> {
        match state {
            Lifecycle::Blank => None,
            Lifecycle::Initialised => Some(CardState::Initialised),
            Lifecycle::Issued => Some(CardState::Issued),
            Lifecycle::Suspended => Some(CardState::Suspended),
            Lifecycle::Terminated => Some(CardState::Terminated),
        }
    }

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
    /// The card's own transition (its table, `juki_card::lifecycle::TRANSITIONS`, is the one
    /// definition of what may follow what, on the card, in its registry and at the counter).
    pub fn card(self) -> CardTransition {
        match self {
            Transition::Issue => CardTransition::Issue,
            Transition::Suspend => CardTransition::Suspend,
            Transition::Resume => CardTransition::Resume,
            Transition::Terminate(_) => CardTransition::Terminate,
        }
    }

    /// The state it leads to from `from`, if it may start there.
    pub fn next(self, from: CardState) -> Option<CardState> {
        from.lifecycle()
            .next(self.card())
            .and_then(CardState::from_lifecycle)
    }

    /// Whether it may start from `from`.
    pub fn allowed_from(self, from: CardState) -> bool {
        self.next(from).is_some()
    }

    /// The state it leads to (from any state it may start from).
    pub fn target(self) -> CardState {
        // Every transition of the table ends in one state whatever it starts from.
        self.card()
            .from_states()
            .find_map(|from| from.next(self.card()))
            .and_then(CardState::from_lifecycle)
            .unwrap_or(CardState::Terminated)
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

    /// Records that the card's JPKI certificates must be revoked (no CA was reachable when the
    /// counter changed the card).
    pub fn mark_jpki_revocation(&self, serial: &str) -> Result<()> {
        let n = self.conn.execute(
            "UPDATE cards SET jpki_revocation_needed = 1 WHERE serial = ?1",
            [serial],
        )?;
        if n == 0 {
            return Err(CounterError::UnknownCard(serial.to_string()));
        }
        Ok(())
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

    /// Records the 転出 of the resident whose current code is `code` to `to`, on `on`. Refused
    /// for an unknown resident or one whose 転出 is already recorded.
    pub fn record_move_out(
        &self,
        code: &ResidentCode,
        to: &MunicipalityCode,
        on: Date,
    ) -> Result<()> {
        savepoint(self.conn, || {
            if self.resident(code)?.is_none() {
                return Err(CounterError::UnknownResident(code.to_string()));
            }
            if let Some(already) = self.moved_out(code)? {
                return Err(CounterError::InvalidInput(format!(
                    "the move-out (転出) of resident {code} to {} was already recorded",
                    already.0
                )));
            }
            self.conn.execute(
                "UPDATE residents SET moved_out_to = ?2, moved_out_on = ?3 WHERE code = ?1",
                params![code.as_str(), to.as_str(), date_text(on)],
            )?;
            Ok(())
        })
    }

    /// Clears a recorded 転出: the resident lives here again (a 転入 back).
    pub fn clear_move_out(&self, code: &ResidentCode) -> Result<()> {
        self.conn.execute(
            "UPDATE residents SET moved_out_to = NULL, moved_out_on = NULL, \
             moved_out_completed_on = NULL WHERE code = ?1",
            [code.as_str()],
        )?;
        Ok(())
    }

    /// Records that the 転出 of the resident whose current code is `code` was completed by the
    /// 転入 at `to` on `on` (転入転出の特例, as 住基ネット tells it): the 転入 decides where the
    /// resident lives, so `to` replaces the destination the 転出届 named. Returns false,
    /// changing nothing, for a resident this counter does not hold.
    pub fn complete_move_out(
        &self,
        code: &ResidentCode,
        to: &MunicipalityCode,
        on: Date,
    ) -> Result<bool> {
        let changed = self.conn.execute(
            "UPDATE residents SET moved_out_to = ?2, moved_out_on = coalesce(moved_out_on, ?3), \
             moved_out_completed_on = ?3 WHERE code = ?1",
            params![code.as_str(), to.as_str(), date_text(on)],
        )?;
        Ok(changed == 1)
    }

    /// When the 転出 of the resident whose current code is `code` was completed, if it was.
    pub fn move_out_completed(&self, code: &ResidentCode) -> Result<Option<Date>> {
        let on: Option<Option<String>> = self
            .conn
            .query_row(
                "SELECT moved_out_completed_on FROM residents WHERE code = ?1",
                [code.as_str()],
                |r| r.get(0),
            )
            .optional()?;
        on.flatten().map(|d| parse_date(&d)).transpose()
    }

    /// Where and when the resident whose current code is `code` moved out (転出), if recorded.
    pub fn moved_out(&self, code: &ResidentCode) -> Result<Option<(MunicipalityCode, Date)>> {
        let raw: Option<(Option<String>, Option<String>)> = self
            .conn
            .query_row(
                "SELECT moved_out_to, moved_out_on FROM residents WHERE code = ?1",
                [code.as_str()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        match raw {
            Some((Some(to), Some(on))) => Ok(Some((
                MunicipalityCode::parse(&to)
                    .map_err(|_| CounterError::Corrupt("move-out municipality".into()))?,
                parse_date(&on)?,
            ))),
            _ => Ok(None),
        }
    }

    /// Records the 4 info of the resident whose current code is `code` (at issue and at every
    /// 記載事項変更): what the registry vouches for.
    pub fn set_four_info(
        &self,
        code: &ResidentCode,
        info: &juki_host::resident::FourInfo,
    ) -> Result<()> {
        let encoded = info
            .encode()
            .map_err(|e| CounterError::InvalidInput(e.to_string()))?;
        let changed = self.conn.execute(
            "UPDATE residents SET four_info = ?2 WHERE code = ?1",
            params![code.as_str(), encoded],
        )?;
        if changed == 0 {
            return Err(CounterError::UnknownResident(code.to_string()));
        }
        Ok(())
    }

    /// The 4 info the registry holds for the resident whose current code is `code` (`None`:
    /// none recorded, e.g. registered by an older juki).
    pub fn four_info(&self, code: &ResidentCode) -> Result<Option<juki_host::resident::FourInfo>> {
        let raw: Option<Option<Vec<u8>>> = self
            .conn
            .query_row(
                "SELECT four_info FROM residents WHERE code = ?1",
                [code.as_str()],
                |r| r.get(0),
            )
            .optional()?;
        match raw {
            None => Err(CounterError::UnknownResident(code.to_string())),
            Some(None) => Ok(None),
            Some(Some(bytes)) => juki_host::resident::FourInfo::decode(&bytes)
                .map(Some)
                .map_err(|e| CounterError::InvalidInput(format!("the registry's 4 info: {e}"))),
        }
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
mod tests;
