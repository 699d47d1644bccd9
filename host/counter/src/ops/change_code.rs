//! 住民票コードの変更: a new resident code; the card carrying the old one is terminated.

use super::NEW_CODE;
use crate::audit::AuditRecord;
use crate::network::Event;
use crate::registry::{TerminateReason, Transition};
use crate::Result;
use crate::{Operation, Session, Tx};
use juki_host::authority::CounterCredential;
use juki_host::card::{JukiCard, Lifecycle};
use juki_host::resident::CardInfo;
use juki_host::resident_code::ResidentCode;
use juki_host::transport::Transport;
use juki_host::Error;
use juki_jpki::ca::RevocationReason;

/// A resident code changed.
#[derive(Debug, Clone)]
pub struct CodeChanged {
    /// The old card (now terminated).
    pub card: CardInfo,
    /// The old code.
    pub old_code: ResidentCode,
    /// The new code.
    pub new_code: ResidentCode,
    /// The audit record.
    pub record: AuditRecord,
    /// The old card's JPKI certificates (revoked, or pending).
    pub jpki: super::JpkiRevocation,
}

impl Session {
    /// 住民票コードの変更: a new random code for the card's holder; the card (carrying the old
    /// code) is terminated with reason `code-changed`, and the registry shows that the resident
    /// needs a new card.
    pub fn change_code<T: Transport>(
        &mut self,
        card: &mut JukiCard<T>,
        cred: &CounterCredential,
    ) -> Result<CodeChanged> {
        let op = Operation::ChangeCode;
        self.authorize(op)?;
        self.pre(op, None, self.check_credential(cred))?;
        let allowed = [Lifecycle::Issued, Lifecycle::Suspended];
        let ins = self.inspect(card, cred, op, &allowed, false)?;
        let serial = ins.info.serial.clone();
        let found = ins.record.clone().ok_or_else(|| {
            Error::InvalidInput(format!(
                "card {serial} (issued by {}) is not in this counter's registry: a resident who \
                 moved in is registered by juki counter update (転入) first",
                ins.info.municipality
            ))
        });
        let record = self.pre(op, Some(&serial), found)?;
        let old_code = record.resident_code.clone();
        let new_code = loop {
            let code = ResidentCode::generate();
            if self.db.registry().current_code(&code)?.is_none() {
                break code;
            }
        };
        let municipality = self.municipality.clone();
        let today = self.today;
        let change = |tx: &Tx<'_>| -> Result<String> {
            tx.registry()
                .change_resident_code(&old_code, &new_code, "住民票コードの変更")?;
            tx.registry().change_state(
                &serial,
                Transition::Terminate(TerminateReason::CodeChanged),
                "住民票コードの変更: the card carries the old code",
            )?;
            let seq = tx.outbox().enqueue(
                &municipality,
                today,
                Event::CodeChange {
                    old: old_code.clone(),
                    new: new_code.clone(),
                },
            )?;
            Ok(format!(
                "card terminated (code-changed); a new card is needed; 住基ネット update {seq} \
                 (code_change) queued"
            ))
        };
        // The new code goes into the journal, so that a clerk can finish the change if the
        // process dies after the card was terminated ([`Session::resolve`]).
        let detail = format!("住民票コードの変更 at the resident's request; {NEW_CODE}{new_code}");
        let ((), record) = self.journaled(op, &serial, &detail, &change, || {
            card.terminate(cred, &serial)
        })?;
        let jpki = self.revoke_jpki(&serial, RevocationReason::CodeChanged);
        Ok(CodeChanged {
            card: ins.info,
            old_code,
            new_code,
            record,
            jpki,
        })
    }
}
