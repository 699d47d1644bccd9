//! パスワード再設定: a new PIN with full tries, at the counter.

use super::{Done, NOT_REGISTERED};
use crate::Result;
use crate::{Operation, Session, Tx};
use juki_host::authority::CounterCredential;
use juki_host::card::{JukiCard, Lifecycle};
use juki_host::pin::PinSource;
use juki_host::pin::{PinId, PinRules};
use juki_host::transport::Transport;

impl Session {
    /// パスワード再設定: a new PIN with full tries, locked or not (issued or suspended card).
    pub fn reset_pin<T: Transport>(
        &mut self,
        card: &mut JukiCard<T>,
        cred: &CounterCredential,
        kind: PinId,
        pins: &mut dyn PinSource,
    ) -> Result<Done> {
        let op = Operation::ResetPin;
        self.authorize(op)?;
        self.pre(op, None, self.check_credential(cred))?;
        let allowed = [Lifecycle::Issued, Lifecycle::Suspended];
        let ins = self.inspect(card, cred, op, &allowed, false)?;
        let serial = ins.info.serial.clone();
        let new = self.pre(op, Some(&serial), pins.new_pin(kind, None))?;
        let known = ins.record.is_some();
        let note = |_: &Tx<'_>| Ok(if known { "" } else { NOT_REGISTERED }.to_string());
        let detail = format!("{} reset with full tries", kind.cli_name());
        let ((), record) = self.journaled(op, &serial, &detail, &note, || {
            card.reset_pin(cred, &serial, kind, &new)
        })?;
        Ok(Done {
            registry: self.db.registry().card(&serial)?,
            card: ins.info,
            record,
            jpki: None,
        })
    }
}
