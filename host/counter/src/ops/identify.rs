//! 本人確認: identifying a resident with the card and the 住基 PIN.

use crate::audit::AuditRecord;
use crate::registry::CardRecord;
use crate::Result;
use crate::{Operation, Session, Tx};
use juki_host::authority::CounterCredential;
use juki_host::card::{JukiCard, Lifecycle};
use juki_host::pin::PinId;
use juki_host::pin::PinSource;
use juki_host::resident::{CardInfo, ResidentRecord};
use juki_host::transport::Transport;

/// A resident identified with the card (本人確認).
#[derive(Debug, Clone)]
pub struct Identified {
    /// The card information.
    pub card: CardInfo,
    /// What the 住基 PIN opened.
    pub resident: ResidentRecord,
    /// The card in this counter's registry, if it is there.
    pub registry: Option<CardRecord>,
    /// The audit record.
    pub record: AuditRecord,
}

impl Session {
    /// 本人確認: the card proves itself to the counter (mutual authentication with `cred`), the
    /// resident enters the 住基 PIN; answers the 4 info, the code and the card information, all
    /// read under the counter's session (a reader cannot rewrite them).
    pub fn identify<T: Transport>(
        &mut self,
        card: &mut JukiCard<T>,
        cred: &CounterCredential,
        pins: &mut dyn PinSource,
    ) -> Result<Identified> {
        let op = Operation::Identify;
        self.authorize(op)?;
        self.pre(op, None, self.check_credential(cred))?;
        let ins = self.inspect(card, cred, op, &[Lifecycle::Issued], false)?;
        let serial = ins.info.serial.clone();
        let pin = self.pre(op, Some(&serial), pins.pin(PinId::Juki))?;
        let no_change = |_: &Tx<'_>| Ok(String::new());
        let (resident, record) = self.journaled(
            op,
            &serial,
            "本人確認 with the 住基 PIN",
            &no_change,
            || card.read_resident_at_counter(cred, &serial, &pin),
        )?;
        Ok(Identified {
            card: ins.info,
            resident,
            registry: ins.record,
            record,
        })
    }
}
