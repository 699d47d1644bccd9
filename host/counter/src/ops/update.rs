//! 記載事項変更・継続利用: a new address and/or name on the card, and its change information.

use super::change_event;
use crate::audit::AuditRecord;
use crate::network::Event;
use crate::registry::{CardState, Change, NewCard};
use crate::Result;
use crate::{Operation, Session, Tx};
use juki_host::authority::CounterCredential;
use juki_host::card::{JukiCard, Lifecycle};
use juki_host::date::{self, Date};
use juki_host::pin::PinSource;
use juki_host::resident::{self, CardInfo, ChangeInfo, FourInfo};
use juki_host::transport::Transport;
use juki_host::Error;
use juki_jpki::ca::RevocationReason;

/// What [`Session::update`] writes.
#[derive(Debug, Clone)]
pub struct UpdateRequest {
    /// The new address (転入, 転居).
    pub address: Option<String>,
    /// The new name (氏名変更).
    pub name: Option<String>,
    /// The reason (転入, 転居, 婚姻, …).
    pub reason: String,
    /// The date of the change (default: today).
    pub date: Option<Date>,
}

/// A card updated.
#[derive(Debug, Clone)]
pub struct Updated {
    /// The card information.
    pub card: CardInfo,
    /// The 4 info now on the card.
    pub info: FourInfo,
    /// The change information now on the card.
    pub changes: ChangeInfo,
    /// The card was issued elsewhere and was registered here from its data.
    pub registered_here: bool,
    /// The audit record.
    pub record: AuditRecord,
    /// The JPKI certificates, revoked automatically (or pending, without a CA).
    pub jpki: super::JpkiRevocation,
}

impl Session {
    /// 記載事項変更 / 継続利用: writes a new address and/or name and the change information to
    /// the card (the resident enters the 住基 PIN so that the rest of the 4 info can be kept),
    /// records the change and that the JPKI certificates must be revoked. A card unknown to this
    /// registry (issued by another municipality) is registered from its data first, in the same
    /// record.
    pub fn update<T: Transport>(
        &mut self,
        card: &mut JukiCard<T>,
        cred: &CounterCredential,
        req: &UpdateRequest,
        pins: &mut dyn PinSource,
    ) -> Result<Updated> {
        let op = Operation::Update;
        self.authorize(op)?;
        self.pre(op, None, self.check_credential(cred))?;
        let checked = (|| -> Result<Date> {
            if req.address.is_none() && req.name.is_none() {
                return Err(Error::InvalidInput(
                    "nothing to change: give --address and/or --name".into(),
                )
                .into());
            }
            if req.reason.trim().is_empty() {
                return Err(Error::InvalidInput(
                    "give the reason of the change (--reason 転入, 転居, 婚姻, …)".into(),
                )
                .into());
            }
            let when = req.date.unwrap_or(self.today);
            if when > self.today {
                return Err(Error::InvalidInput(format!(
                    "the change date {} is after today",
                    date::display(when)
                ))
                .into());
            }
            Ok(when)
        })();
        let when = self.pre(op, None, checked)?;
        let ins = self.inspect(card, cred, op, &[Lifecycle::Issued], false)?;
        let serial = ins.info.serial.clone();
        let current = self.read_resident_with_pin(card, cred, op, &serial, pins)?;
        let built = (|| -> Result<(FourInfo, ChangeInfo)> {
            let info = FourInfo::new(
                req.name.as_deref().unwrap_or(&current.info.name),
                req.address.as_deref().unwrap_or(&current.info.address),
                current.info.birth,
                current.info.sex,
            )?;
            let mut changes = current.changes.clone();
            let change = resident::Change {
                date: when,
                reason: req.reason.trim().to_string(),
            };
            if req.address.is_some() {
                changes.address = Some(change.clone());
            }
            if req.name.is_some() {
                changes.name = Some(change);
            }
            changes.encode()?;
            info.encode()?;
            Ok((info, changes))
        })();
        let (info, changes) = self.pre(op, Some(&serial), built)?;

        let registered_here = ins.record.is_none();
        let municipality = self.municipality.clone();
        let card_info = ins.info.clone();
        let reason = req.reason.trim().to_string();
        let new_name = req.name.clone();
        let has_address = req.address.is_some();
        let change = |tx: &Tx<'_>| -> Result<String> {
            let mut extra = Vec::new();
            if registered_here {
                tx.registry().register_card(
                    &NewCard {
                        serial: &card_info.serial,
                        resident_code: &current.code,
                        resident_name: &current.info.name,
                        issuing_municipality: &card_info.municipality,
                        issued: card_info.issued,
                        expires: card_info.expires,
                        legal_representative: None,
                    },
                    CardState::Issued,
                )?;
                extra.push(format!(
                    "card issued by {} on {} registered here from its card data",
                    card_info.municipality,
                    date::display(card_info.issued)
                ));
            }
            if has_address {
                tx.registry().record_update(
                    &card_info.serial,
                    Change::Address,
                    when,
                    &reason,
                    &municipality,
                )?;
            }
            if let Some(name) = &new_name {
                tx.registry().record_update(
                    &card_info.serial,
                    Change::Name { new_name: name },
                    when,
                    &reason,
                    &municipality,
                )?;
            }
            // What the registry vouches for from now on (the JPKI certificates carry it).
            let holder = tx
                .registry()
                .card(&card_info.serial)?
                .map(|r| r.resident_code)
                .ok_or_else(|| crate::CounterError::UnknownCard(card_info.serial.clone()))?;
            let before = tx.registry().four_info(&holder)?;
            // A resident whose 転出 was recorded here and who is served here again came back.
            let returning = tx.registry().moved_out(&holder)?.is_some();
            if returning {
                tx.registry().clear_move_out(&holder)?;
            }
            tx.registry().set_four_info(&holder, &info)?;
            extra.push("JPKI certificates to be revoked (自動失効)".into());
            // 住基ネット: a card first served here (issued elsewhere) is a resident moving in
            // (転入, 継続利用), as is one whose 転出 was recorded here; otherwise a 転居 or a
            // 記載事項変更 of our own resident.
            let event = match registered_here || returning {
                true => Some(Event::MoveIn {
                    code: holder.clone(),
                    info: info.clone(),
                }),
                false => change_event(&holder, before.as_ref(), &info),
            };
            if let Some(event) = event {
                let kind = event.kind();
                let seq = tx.outbox().enqueue(&municipality, when, event)?;
                extra.push(format!(
                    "住基ネット update {seq} ({}) queued",
                    kind.as_str()
                ));
            }
            Ok(extra.join("; "))
        };
        let what = match (has_address, new_name.is_some()) {
            (true, true) => "address and name",
            (true, false) => "address",
            _ => "name",
        };
        let detail = format!("{what} change ({reason}) dated {}", date::display(when));
        let ((), record) = self.journaled(op, &serial, &detail, &change, || {
            card.update_resident(cred, &serial, &current.info, &info, &changes)
        })?;
        let jpki = self.revoke_jpki(&serial, RevocationReason::FourInfoChanged);
        Ok(Updated {
            card: ins.info,
            info,
            changes,
            registered_here,
            record,
            jpki,
        })
    }
}
