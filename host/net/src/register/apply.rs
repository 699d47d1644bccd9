//! Applying a municipality's numbered update: its delivery number, its digest, the locks, and
//! each event's rule.

use std::time::Duration;

use deadpool_postgres::Transaction;
use tokio_postgres::IsolationLevel;

use super::rows::{
    checked_text, corrupt, date_text, exec, one, opt, parse_code, resident_from_row, to_i64,
    to_u64, INSERT_DEPARTURE, LOCK_RESIDENT,
};
use super::types::{Applied, Event, Kind, RegisterError, Resident, Result, Status, Update};
use super::{FourInfo, MunicipalityCode, Register, ResidentCode};

/// How often [`Register::apply`] tries again after a lost connection or a serialization
/// conflict (the update is idempotent, so trying again is safe).
const APPLY_ATTEMPTS: u32 = 4;

/// Checks the 4 info of an update as the counter would: present, single-line, trimmed.
fn checked(info: &FourInfo) -> Result<FourInfo> {
    FourInfo::new(&info.name, &info.address, info.birth, info.sex)
        .map_err(|e| RegisterError::Invalid(e.to_string()))
}

/// One history row to insert.
struct Change<'a> {
    resident: &'a ResidentCode,
    version: u64,
    kind: Kind,
    old: Option<&'a FourInfo>,
    new: &'a FourInfo,
    other_municipality: Option<&'a MunicipalityCode>,
    other_code: Option<&'a ResidentCode>,
}

impl Register {
    /// Applies a municipality's numbered update, exactly once in effect: see the module
    /// documentation. A lost connection or a serialization conflict is retried here (the update
    /// is idempotent, so a retry after a commit whose answer was lost returns the recorded
    /// outcome).
    pub async fn apply(&self, update: &Update) -> Result<Applied> {
        let update = Update {
            event: match &update.event {
                Event::New { code, info } => Event::New {
                    code: code.clone(),
                    info: checked(info)?,
                },
                Event::Amend { code, info } => Event::Amend {
                    code: code.clone(),
                    info: checked(info)?,
                },
                Event::MoveIn { code, info } => Event::MoveIn {
                    code: code.clone(),
                    info: checked(info)?,
                },
                Event::MoveWithin { code, address } => Event::MoveWithin {
                    code: code.clone(),
                    address: checked_text("address (住所)", address)?,
                },
                Event::CodeChange { old, new } if old == new => {
                    return Err(RegisterError::Invalid(
                        "a code change needs a code different from the old one".into(),
                    ))
                }
                other => other.clone(),
            },
            ..update.clone()
        };
        if update.seq == 0 {
            return Err(RegisterError::Invalid("delivery numbers start at 1".into()));
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.apply_once(&update).await {
                Err(e)
                    if attempt < APPLY_ATTEMPTS
                        && matches!(&e, RegisterError::Database(d) if d.is_transient()) =>
                {
                    tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
                }
                result => return result,
            }
        }
    }

    async fn apply_once(&self, update: &Update) -> Result<Applied> {
        let mut client = self.db.client().await?;
        let owned = client
            .build_transaction()
            .isolation_level(IsolationLevel::ReadCommitted)
            .start()
            .await?;
        let tx = &owned;
        let muni = update.municipality.as_str();
        let seq = to_i64(update.seq, "delivery number")?;
        // The municipality's delivery row, locked: its deliveries are applied one at a time.
        // NO KEY UPDATE, not UPDATE: the foreign keys that name this row (a 転入's departure
        // row names the municipality left) take KEY SHARE locks, which UPDATE would block; a
        // 転入 racing the left municipality's own update of the resident then deadlocked until
        // PostgreSQL aborted one (deadlock_timeout, 1 s).
        const LOCK_MUNICIPALITY: &str =
            "SELECT last_seq FROM municipality WHERE code = $1 FOR NO KEY UPDATE";
        let row = match opt(tx, LOCK_MUNICIPALITY, &[&muni]).await? {
            Some(row) => row,
            None => {
                // Its first delivery.
                exec(
                    tx,
                    "INSERT INTO municipality (code) VALUES ($1) ON CONFLICT (code) DO NOTHING",
                    &[&muni],
                )
                .await?;
                one(tx, LOCK_MUNICIPALITY, &[&muni]).await?
            }
        };
        let last: i64 = row.try_get(0)?;
        let digest = update.digest();
        if seq <= last {
            let row = opt(
                tx,
                "SELECT digest, kind, resident, version FROM delivery \
                     WHERE municipality = $1 AND seq = $2",
                &[&muni, &seq],
            )
            .await?
            .ok_or_else(|| {
                RegisterError::Corrupt(format!("delivery {muni}/{seq} applied but not recorded"))
            })?;
            let recorded: Vec<u8> = row.try_get("digest")?;
            if recorded != digest {
                return Err(RegisterError::SequenceReused {
                    municipality: update.municipality.clone(),
                    seq: update.seq,
                });
            }
            let kind: String = row.try_get("kind")?;
            return Ok(Applied {
                municipality: update.municipality.clone(),
                seq: update.seq,
                kind: Kind::from_db(&kind).ok_or_else(|| corrupt("kind", &kind))?,
                resident: parse_code(row.try_get("resident")?)?,
                version: to_u64(row.try_get("version")?)?,
            });
        }
        if seq != last + 1 {
            return Err(RegisterError::SequenceGap {
                municipality: update.municipality.clone(),
                expected: to_u64(last + 1)?,
                got: update.seq,
            });
        }
        let (resident, version) = Self::change(tx, update).await?;
        let kind = update.event.kind();
        exec(
            tx,
            "INSERT INTO delivery (municipality, seq, digest, kind, resident, version) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &muni,
                &seq,
                &digest.as_slice(),
                &kind.as_str(),
                &resident.as_str(),
                &to_i64(version, "version")?,
            ],
        )
        .await?;
        exec(
            tx,
            "UPDATE municipality SET last_seq = $2, updated_at = now() WHERE code = $1",
            &[&muni, &seq],
        )
        .await?;
        owned.commit().await?;
        Ok(Applied {
            municipality: update.municipality.clone(),
            seq: update.seq,
            kind,
            resident,
            version,
        })
    }

    /// The resident row, locked for the rest of the transaction.
    async fn lock(tx: &Transaction<'_>, code: &ResidentCode) -> Result<Option<Resident>> {
        let row = opt(tx, LOCK_RESIDENT, &[&code.as_str()]).await?;
        row.as_ref().map(resident_from_row).transpose()
    }

    /// The resident, locked, held by the update's municipality, and still in use.
    async fn lock_own(
        tx: &Transaction<'_>,
        update: &Update,
        code: &ResidentCode,
    ) -> Result<Resident> {
        let r = Self::lock(tx, code)
            .await?
            .ok_or_else(|| RegisterError::UnknownResident(code.clone()))?;
        match &r.status {
            Status::CodeReplaced { by } => {
                return Err(RegisterError::CodeReplaced {
                    code: code.clone(),
                    by: by.clone(),
                })
            }
            Status::Removed => return Err(RegisterError::Removed(code.clone())),
            Status::Registered | Status::MovingOut { .. } => {}
        }
        if r.municipality != update.municipality {
            return Err(RegisterError::NotYours {
                resident: code.clone(),
                holder: r.municipality,
                municipality: update.municipality.clone(),
            });
        }
        Ok(r)
    }

    async fn history_row(tx: &Transaction<'_>, update: &Update, c: Change<'_>) -> Result<()> {
        let old = c.old;
        exec(
            tx,
            "INSERT INTO resident_history (resident, version, kind, effective_on, municipality, \
             seq, old_name, old_birth, old_sex, old_address, new_name, new_birth, new_sex, \
             new_address, other_municipality, other_code) VALUES ($1, $2, $3, $4::text::date, \
             $5, $6, $7, $8::text::date, $9::text, $10, $11, $12::text::date, $13::text, $14, \
             $15, $16)",
            &[
                &c.resident.as_str(),
                &to_i64(c.version, "version")?,
                &c.kind.as_str(),
                &date_text(update.date),
                &update.municipality.as_str(),
                &to_i64(update.seq, "delivery number")?,
                &old.map(|o| o.name.as_str()),
                &old.map(|o| date_text(o.birth)),
                &old.map(|o| (o.sex.code() as char).to_string()),
                &old.map(|o| o.address.as_str()),
                &c.new.name,
                &date_text(c.new.birth),
                &(c.new.sex.code() as char).to_string(),
                &c.new.address,
                &c.other_municipality.map(|m| m.as_str()),
                &c.other_code.map(|m| m.as_str()),
            ],
        )
        .await?;
        Ok(())
    }

    /// Writes the resident's new state (every column but the code).
    async fn write(
        tx: &Transaction<'_>,
        update: &Update,
        code: &ResidentCode,
        info: &FourInfo,
        municipality: &MunicipalityCode,
        status: &Status,
        version: u64,
    ) -> Result<()> {
        let (status, moving_to, replaced_by) = match status {
            Status::Registered => ("registered", None, None),
            Status::MovingOut { to } => ("moving_out", Some(to.as_str()), None),
            Status::Removed => ("removed", None, None),
            Status::CodeReplaced { by } => ("code_replaced", None, Some(by.as_str())),
        };
        exec(
            tx,
            "UPDATE resident SET name = $2, birth = $3::text::date, sex = $4::text, \
             address = $5, municipality = $6, status = $7, moving_to = $8, replaced_by = $9, \
             version = $10, changed_on = $11::text::date, updated_at = now() WHERE code = $1",
            &[
                &code.as_str(),
                &info.name,
                &date_text(info.birth),
                &(info.sex.code() as char).to_string(),
                &info.address,
                &municipality.as_str(),
                &status,
                &moving_to,
                &replaced_by,
                &to_i64(version, "version")?,
                &date_text(update.date),
            ],
        )
        .await?;
        Ok(())
    }

    /// Inserts a new code; `false` when the code is in use.
    async fn insert(
        tx: &Transaction<'_>,
        update: &Update,
        code: &ResidentCode,
        info: &FourInfo,
        status: &Status,
    ) -> Result<bool> {
        let moving_to = match status {
            Status::MovingOut { to } => Some(to.as_str()),
            _ => None,
        };
        let status = match status {
            Status::Registered => "registered",
            Status::MovingOut { .. } => "moving_out",
            _ => return Err(RegisterError::Invalid("a new code must be in use".into())),
        };
        let n = exec(
            tx,
            "INSERT INTO resident (code, name, birth, sex, address, municipality, status, \
                 moving_to, version, changed_on) VALUES ($1, $2, $3::text::date, $4::text, $5, \
                 $6, $7, $8, 1, $9::text::date) ON CONFLICT (code) DO NOTHING",
            &[
                &code.as_str(),
                &info.name,
                &date_text(info.birth),
                &(info.sex.code() as char).to_string(),
                &info.address,
                &update.municipality.as_str(),
                &status,
                &moving_to,
                &date_text(update.date),
            ],
        )
        .await?;
        Ok(n == 1)
    }

    /// A code the register has never seen, registered by `update`'s municipality: its row and
    /// its first history entry (version 1).
    async fn first_registration(
        tx: &Transaction<'_>,
        update: &Update,
        code: &ResidentCode,
        info: &FourInfo,
    ) -> Result<(ResidentCode, u64)> {
        if !Self::insert(tx, update, code, info, &Status::Registered).await? {
            return Err(RegisterError::CodeInUse(code.clone()));
        }
        let change = Change {
            resident: code,
            version: 1,
            kind: update.event.kind(),
            old: None,
            new: info,
            other_municipality: None,
            other_code: None,
        };
        Self::history_row(tx, update, change).await?;
        Ok((code.clone(), 1))
    }

    /// The change itself, in the update's transaction: the resident's new row and history.
    async fn change(tx: &Transaction<'_>, update: &Update) -> Result<(ResidentCode, u64)> {
        let kind = update.event.kind();
        let muni = &update.municipality;
        match &update.event {
            Event::New { code, info } => Self::first_registration(tx, update, code, info).await,
            Event::Amend { code, info } => {
                let r = Self::lock_own(tx, update, code).await?;
                let v = r.version + 1;
                Self::write(tx, update, code, info, muni, &r.status, v).await?;
                let change = Change {
                    resident: code,
                    version: v,
                    kind,
                    old: Some(&r.info),
                    new: info,
                    other_municipality: None,
                    other_code: None,
                };
                Self::history_row(tx, update, change).await?;
                Ok((code.clone(), v))
            }
            Event::MoveWithin { code, address } => {
                let r = Self::lock_own(tx, update, code).await?;
                let v = r.version + 1;
                let info = FourInfo {
                    address: address.clone(),
                    ..r.info.clone()
                };
                Self::write(tx, update, code, &info, muni, &Status::Registered, v).await?;
                let change = Change {
                    resident: code,
                    version: v,
                    kind,
                    old: Some(&r.info),
                    new: &info,
                    other_municipality: None,
                    other_code: None,
                };
                Self::history_row(tx, update, change).await?;
                Ok((code.clone(), v))
            }
            Event::MoveOut { code, to } => {
                if to == muni {
                    return Err(RegisterError::Invalid(format!(
                        "a move-out (転出) from {muni} to {to} itself"
                    )));
                }
                let r = Self::lock_own(tx, update, code).await?;
                let v = r.version + 1;
                let status = Status::MovingOut { to: to.clone() };
                Self::write(tx, update, code, &r.info, muni, &status, v).await?;
                let change = Change {
                    resident: code,
                    version: v,
                    kind,
                    old: Some(&r.info),
                    new: &r.info,
                    other_municipality: Some(to),
                    other_code: None,
                };
                Self::history_row(tx, update, change).await?;
                Ok((code.clone(), v))
            }
            Event::MoveIn { code, info } => {
                let Some(r) = Self::lock(tx, code).await? else {
                    // Not known to the register yet: registered here from now on.
                    return Self::first_registration(tx, update, code, info).await;
                };
                match &r.status {
                    Status::CodeReplaced { by } => {
                        return Err(RegisterError::CodeReplaced {
                            code: code.clone(),
                            by: by.clone(),
                        })
                    }
                    _ if r.municipality == *muni && r.status != Status::Removed => {
                        return Err(RegisterError::AlreadyHere {
                            resident: code.clone(),
                            municipality: muni.clone(),
                        })
                    }
                    Status::Registered => {
                        return Err(RegisterError::NoPendingMoveOut {
                            resident: code.clone(),
                            holder: r.municipality.clone(),
                        })
                    }
                    // The pending 転出 is completed by this 転入, wherever it named.
                    Status::MovingOut { .. } | Status::Removed => {}
                }
                let v = r.version + 1;
                Self::write(tx, update, code, info, muni, &Status::Registered, v).await?;
                let change = Change {
                    resident: code,
                    version: v,
                    kind,
                    old: Some(&r.info),
                    new: info,
                    other_municipality: Some(&r.municipality),
                    other_code: None,
                };
                Self::history_row(tx, update, change).await?;
                if r.status != Status::Removed {
                    // The municipality left learns that its 転出 is completed (departures()).
                    exec(
                        tx,
                        INSERT_DEPARTURE,
                        &[
                            &r.municipality.as_str(),
                            &muni.as_str(),
                            &code.as_str(),
                            &(v as i64),
                            &date_text(update.date),
                        ],
                    )
                    .await?;
                }
                Ok((code.clone(), v))
            }
            Event::CodeChange { old, new } => {
                let r = Self::lock_own(tx, update, old).await?;
                if !Self::insert(tx, update, new, &r.info, &r.status).await? {
                    return Err(RegisterError::CodeInUse(new.clone()));
                }
                let change = Change {
                    resident: new,
                    version: 1,
                    kind,
                    old: None,
                    new: &r.info,
                    other_municipality: None,
                    other_code: Some(old),
                };
                Self::history_row(tx, update, change).await?;
                let v = r.version + 1;
                let replaced = Status::CodeReplaced { by: new.clone() };
                Self::write(tx, update, old, &r.info, muni, &replaced, v).await?;
                let change = Change {
                    resident: old,
                    version: v,
                    kind,
                    old: Some(&r.info),
                    new: &r.info,
                    other_municipality: None,
                    other_code: Some(new),
                };
                Self::history_row(tx, update, change).await?;
                Ok((new.clone(), 1))
            }
            Event::Remove { code } => {
                let r = Self::lock_own(tx, update, code).await?;
                let v = r.version + 1;
                Self::write(tx, update, code, &r.info, muni, &Status::Removed, v).await?;
                let change = Change {
                    resident: code,
                    version: v,
                    kind,
                    old: Some(&r.info),
                    new: &r.info,
                    other_municipality: None,
                    other_code: None,
                };
                Self::history_row(tx, update, change).await?;
                Ok((code.clone(), v))
            }
        }
    }
}
