//! 広域交付: a 住民票の写し at any municipality's counter, for a resident registered anywhere.
//! The resident proves who they are with the card and the 住基 PIN; the 住民票コード read under
//! the counter's session (mutual authentication) is the one asked of the national server, which
//! records the provision; the copy is sealed with this municipality's 電子公印.

use crate::audit::{AuditEntry, AuditRecord};
use crate::error::CounterError;
use crate::Result;
use crate::{Operation, Outcome, Session};
use juki_host::authority::CounterCredential;
use juki_host::card::{JukiCard, Lifecycle};
use juki_host::pin::PinSource;
use juki_host::resident::CardInfo;
use juki_host::resident_code::ResidentCode;
use juki_host::transport::Transport;
use juki_net::client::ClientError;
use juki_net::copy::ResidentCopy;
use juki_net::pki::seal::Seal;
use juki_net::register::Confirmation;

/// A 住民票の写し issued.
#[derive(Debug, Clone)]
pub struct IssuedCopy {
    /// The card presented.
    pub card: CardInfo,
    /// The document.
    pub copy: ResidentCopy,
    /// The document sealed: a CMS SignedData (DER) with the document inside.
    pub p7s: Vec<u8>,
    /// Whether the 4 info on the card are those of the network (if not, the card was not
    /// rewritten at the last change: the resident's municipality should update it).
    pub card_agrees: bool,
    /// The audit record.
    pub record: AuditRecord,
}

impl Session {
    /// 広域交付 at `now` (unix time): the card proves itself (mutual authentication with
    /// `cred`), the resident enters the 住基 PIN, `fetch` asks the national server for the
    /// current 本人確認情報 of the code the card holds, and the copy is sealed with `seal`, this
    /// municipality's. Every refusal and failure is audited; the record of a copy names its
    /// number, never the resident's data.
    pub fn wide_area_copy<T: Transport>(
        &mut self,
        card: &mut JukiCard<T>,
        cred: &CounterCredential,
        pins: &mut dyn PinSource,
        seal: &Seal,
        now: i64,
        fetch: impl FnOnce(&ResidentCode) -> std::result::Result<Confirmation, ClientError>,
    ) -> Result<IssuedCopy> {
        let op = Operation::WideAreaCopy;
        self.authorize(op)?;
        self.pre(op, None, self.check_credential(cred))?;
        let name = seal.certificate().name.clone();
        if seal.certificate().municipality != *self.municipality() {
            return Err(self.refuse(
                op,
                None,
                juki_host::Error::InvalidInput(format!(
                    "the seal is {name}'s ({}), not this counter's ({})",
                    seal.certificate().municipality,
                    self.municipality()
                )),
            ));
        }
        let ins = self.inspect(card, cred, op, &[Lifecycle::Issued], false)?;
        let serial = ins.info.serial.clone();
        let on_card = self.read_resident_with_pin(card, cred, op, &serial, pins)?;
        let answer = self.pre(op, Some(&serial), fetch(&on_card.code))?;
        if answer.resident.code != on_card.code {
            return Err(self.refuse(
                op,
                Some(&serial),
                CounterError::Network(ClientError::BadAnswer(format!(
                    "it answered for {}, not for the card's code",
                    answer.resident.code
                ))),
            ));
        }
        let card_agrees = answer.resident.info == on_card.info;
        let municipality = self.municipality().clone();
        let copy = self.pre(
            op,
            Some(&serial),
            ResidentCopy::new(answer.resident, answer.provision, now, municipality, &name),
        )?;
        let p7s = self.pre(op, Some(&serial), copy.seal(seal))?;
        let detail = format!(
            "住民票の写し 交付番号 {} (provision {} at the national server)",
            copy.number_text(),
            copy.number
        );
        let record = self.db().audit().append(&AuditEntry {
            actor: self.actor(),
            card_serial: Some(&serial),
            operation: op,
            outcome: Outcome::Ok,
            detail: &detail,
        })?;
        Ok(IssuedCopy {
            card: ins.info,
            copy,
            p7s,
            card_agrees,
            record,
        })
    }
}
