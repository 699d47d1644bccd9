//! The card's life cycle at the counter: 一時停止 (suspend), 一時停止の解除 (resume) and
//! 返納・廃止 (terminate).

use super::{Done, NOT_REGISTERED};
use crate::network::Event;
use crate::registry::{TerminateReason, Transition};
use crate::Result;
use crate::{CounterError, Operation, Session, Tx};
use juki_host::authority::CounterCredential;
use juki_host::card::{JukiCard, Lifecycle};
use juki_host::date::Date;
use juki_host::resident::{CardInfo, MunicipalityCode};
use juki_host::resident_code::ResidentCode;
use juki_host::transport::Transport;
use juki_host::Error;
use juki_jpki::ca::RevocationReason;

/// 住基ネット: a termination for the holder's death is the 消除 of the resident's record
/// ([`Event::Remove`], queued in the transaction `tx`); the other terminations (返納, 有効期限切れ)
/// and suspensions end or stop a card, not a registration, and change no 本人確認情報.
/// Returns the text for the audit record.
pub(crate) fn removal(
    tx: &Tx<'_>,
    municipality: &MunicipalityCode,
    date: Date,
    transition: Transition,
    holder: &ResidentCode,
) -> Result<String> {
    if transition != Transition::Terminate(TerminateReason::Death) {
        return Ok(String::new());
    }
    let seq = tx.outbox().enqueue(
        municipality,
        date,
        Event::Remove {
            code: holder.clone(),
        },
    )?;
    Ok(format!("住基ネット update {seq} (remove) queued"))
}

impl Session {
    /// One of the lifecycle operations: suspend, resume, terminate.
    fn lifecycle_op<T: Transport>(
        &mut self,
        card: &mut JukiCard<T>,
        cred: &CounterCredential,
        op: Operation,
        transition: Transition,
        reason: &str,
    ) -> Result<Done> {
        self.authorize(op)?;
        self.pre(op, None, self.check_credential(cred))?;
        // The card's table says where the transition may start; the counter terminates only
        // cards it issued (an initialised card never reached a resident: it goes back to the
        // manufacturer), and only termination works on an expired card.
        let allowed: Vec<Lifecycle> = transition
            .card()
            .from_states()
            .filter(|s| {
                !matches!(transition, Transition::Terminate(_)) || *s != Lifecycle::Initialised
            })
            .collect();
        let allow_expired = matches!(transition, Transition::Terminate(_));
        let ins = self.inspect(card, cred, op, &allowed, allow_expired)?;
        let serial = ins.info.serial.clone();
        let known = ins.record.clone();
        let municipality = self.municipality.clone();
        let today = self.today;
        let change = |tx: &Tx<'_>| -> Result<String> {
            match &known {
                Some(record) => {
                    tx.registry().change_state(&serial, transition, reason)?;
                    removal(tx, &municipality, today, transition, &record.resident_code)
                }
                None => Ok(NOT_REGISTERED.into()),
            }
        };
        let ((), record) = self.journaled(op, &serial, reason, &change, || match transition {
            Transition::Suspend => card.suspend(cred, &serial),
            Transition::Resume => card.resume(cred, &serial),
            _ => card.terminate(cred, &serial),
        })?;
        let jpki = match transition {
            Transition::Suspend => Some(self.revoke_jpki(&serial, RevocationReason::Suspended)),
            Transition::Terminate(_) => {
                Some(self.revoke_jpki(&serial, RevocationReason::Terminated))
            }
            Transition::Resume | Transition::Issue => None,
        };
        Ok(Done {
            registry: self.db.registry().card(&serial)?,
            card: ins.info,
            record,
            jpki,
        })
    }

    /// 一時停止 (e.g. reported lost or stolen).
    pub fn suspend<T: Transport>(
        &mut self,
        card: &mut JukiCard<T>,
        cred: &CounterCredential,
        reason: Option<&str>,
    ) -> Result<Done> {
        let reason = reason.map(str::trim).filter(|r| !r.is_empty());
        self.lifecycle_op(
            card,
            cred,
            Operation::Suspend,
            Transition::Suspend,
            reason.unwrap_or("一時停止"),
        )
    }

    /// 一時停止の解除.
    pub fn resume<T: Transport>(
        &mut self,
        card: &mut JukiCard<T>,
        cred: &CounterCredential,
    ) -> Result<Done> {
        self.lifecycle_op(
            card,
            cred,
            Operation::Resume,
            Transition::Resume,
            "一時停止の解除",
        )
    }

    /// 返納・廃止 recorded without the card, for a card that cannot take part: one that has no
    /// key of its own to prove itself with (initialised before the mutual authentication), or
    /// that cannot be presented. The card itself is not changed; the registry records it
    /// terminated, its JPKI certificates are revoked, and the audit record says the card was
    /// not touched. The resident can then be issued a new card (`--resident-code`).
    pub fn terminate_without_card(
        &mut self,
        serial: &str,
        reason: TerminateReason,
    ) -> Result<Done> {
        let op = Operation::Terminate;
        self.authorize(op)?;
        if reason == TerminateReason::CodeChanged {
            return Err(Error::InvalidInput(
                "a card is terminated for a change of resident code by juki counter change-code"
                    .into(),
            )
            .into());
        }
        let record = self.db.registry().card(serial)?;
        let record = self.pre(
            op,
            Some(serial),
            record.ok_or_else(|| crate::CounterError::UnknownCard(serial.to_string())),
        )?;
        let card = CardInfo {
            serial: record.serial.clone(),
            municipality: self.pre(
                op,
                Some(serial),
                juki_host::resident::MunicipalityCode::parse(&record.issuing_municipality),
            )?,
            issued: record.issued,
            expires: record.expires,
            photo: false,
        };
        let detail = format!(
            "{} ({}); without the card: the card itself was not changed",
            reason.as_str(),
            reason.japanese()
        );
        let municipality = self.municipality.clone();
        let today = self.today;
        let holder = record.resident_code.clone();
        let change = |tx: &Tx<'_>| -> Result<String> {
            let transition = Transition::Terminate(reason);
            tx.registry().change_state(serial, transition, &detail)?;
            removal(tx, &municipality, today, transition, &holder)
        };
        let ((), audit) =
            self.journaled(op, serial, &detail, &change, || Ok::<(), CounterError>(()))?;
        let jpki = Some(self.revoke_jpki(serial, RevocationReason::Terminated));
        Ok(Done {
            registry: self.db.registry().card(serial)?,
            card,
            record: audit,
            jpki,
        })
    }

    /// 返納・廃止 (returned, death, expired): irreversible. Possible on an expired card.
    pub fn terminate<T: Transport>(
        &mut self,
        card: &mut JukiCard<T>,
        cred: &CounterCredential,
        reason: TerminateReason,
    ) -> Result<Done> {
        if reason == TerminateReason::CodeChanged {
            return Err(Error::InvalidInput(
                "a card is terminated for a change of resident code by juki counter change-code"
                    .into(),
            )
            .into());
        }
        let text = format!("{} ({})", reason.as_str(), reason.japanese());
        self.lifecycle_op(
            card,
            cred,
            Operation::Terminate,
            Transition::Terminate(reason),
            &text,
        )
    }
}
