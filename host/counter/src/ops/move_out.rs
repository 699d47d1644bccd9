//! 転出: a resident of this municipality moving to another one. No card step: under the
//! 転入転出の特例 the resident keeps the card and is served with it at the destination's counter
//! (継続利用), whose 転入 completes this 転出 in 住基ネット.

use crate::audit::{AuditEntry, AuditRecord};
use crate::network::Event;
use crate::Result;
use crate::{CounterError, Operation, Outcome, Session};
use juki_host::date::{self, Date};
use juki_host::resident::MunicipalityCode;
use juki_host::resident_code::ResidentCode;
use juki_host::Error;

/// A 転出 recorded.
#[derive(Debug, Clone)]
pub struct MovedOut {
    /// The resident.
    pub code: ResidentCode,
    /// The destination named in the 転出届.
    pub to: MunicipalityCode,
    /// The date of the move.
    pub date: Date,
    /// The number of the 住基ネット update queued.
    pub seq: u64,
    /// The audit record.
    pub record: AuditRecord,
}

impl Session {
    /// 転出: records that the resident `code` (registered here) moves to `to` on `date`
    /// (default: today), and queues the 転出 for 住基ネット, in one transaction with the audit
    /// record. A refusal is audited and changes nothing.
    pub fn move_out(
        &mut self,
        code: &ResidentCode,
        to: &MunicipalityCode,
        date: Option<Date>,
    ) -> Result<MovedOut> {
        let op = Operation::MoveOut;
        self.authorize(op)?;
        let when = date.unwrap_or(self.today);
        let checked = (|| -> Result<()> {
            if to == &self.municipality {
                return Err(Error::InvalidInput(format!(
                    "a move-out (転出) goes to another municipality, not {to} itself: a move \
                     within it is a 転居 (juki counter update --reason 転居)"
                ))
                .into());
            }
            if when > self.today {
                return Err(Error::InvalidInput(format!(
                    "the change date {} is after today",
                    date::display(when)
                ))
                .into());
            }
            if self.db.registry().resident(code)?.is_none() {
                return Err(CounterError::UnknownResident(code.to_string()));
            }
            Ok(())
        })();
        self.pre(op, None, checked)?;
        let municipality = self.municipality.clone();
        let operator = self.operator.clone();
        let done = self.db.transaction(|tx| -> Result<(u64, AuditRecord)> {
            tx.registry().record_move_out(code, to, when)?;
            let seq = tx.outbox().enqueue(
                &municipality,
                when,
                Event::MoveOut {
                    code: code.clone(),
                    to: to.clone(),
                },
            )?;
            let record = tx.audit().append(&AuditEntry {
                actor: crate::Actor {
                    municipality: &municipality,
                    operator: &operator,
                },
                card_serial: None,
                operation: op,
                outcome: Outcome::Ok,
                detail: &format!(
                    "転出 to {to} dated {}; 住基ネット update {seq} (move_out) queued",
                    date::display(when)
                ),
            })?;
            Ok((seq, record))
        });
        let (seq, record) = self.pre(op, None, done)?;
        Ok(MovedOut {
            code: code.clone(),
            to: to.clone(),
            date: when,
            seq,
            record,
        })
    }
}
