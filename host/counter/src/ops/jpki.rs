//! 電子証明書の発行・失効 at the counter: the JPKI certificates of a card, issued for keys
//! generated on the card, and revoked when the counter changes what they vouch for.
//!
//! The counter reaches the JPKI certification authority through [`Session::with_ca`]. Revocation
//! is automatic after 記載事項変更 (name or address), 住民票コードの変更, 一時停止 and 返納・廃止:
//! every valid certificate of the card is revoked at the CA and the revocation is audited
//! (`jpki-revoke`). A counter without a CA cannot revoke: the registry then flags the card
//! (`jpki_revocation_needed`) until `juki counter jpki-revoke` is run with the CA.

use std::cell::RefCell;

use crate::audit::{AuditEntry, AuditRecord};
use crate::Result;
use crate::{Operation, Outcome, Session, Tx};
use juki_host::authority::CounterCredential;
use juki_host::card::{IssuedKeys, JpkiFiles, JukiCard, Lifecycle};
use juki_host::date;
use juki_host::pin::PinSource;
use juki_host::resident::CardInfo;
use juki_host::transport::Transport;
use juki_host::Error;
use juki_jpki::ca::{CertRecord, CertRequest, JpkiCa, RevocationReason};
use juki_jpki::time as jtime;
use juki_jpki::CertKind;
use x509_cert::der::Encode;

/// Certificates issued at the counter.
#[derive(Debug, Clone)]
pub struct JpkiIssued {
    /// The card information.
    pub card: CardInfo,
    /// The signing certificate's record.
    pub sign: CertRecord,
    /// The authentication certificate's record.
    pub auth: CertRecord,
    /// The card's earlier certificates, revoked as superseded.
    pub superseded: Vec<CertRecord>,
    /// The new public keys.
    pub keys: IssuedKeys,
    /// The audit record.
    pub record: AuditRecord,
}

/// What became of a card's certificates after an operation that must revoke them.
#[derive(Debug, Clone)]
pub enum JpkiRevocation {
    /// Revoked at the CA now (empty: the card had no valid certificate there).
    Revoked(Vec<CertRecord>),
    /// Not revoked (no CA, or the CA failed): the registry flags the card; why.
    Pending(String),
}

impl JpkiRevocation {
    /// One line for the clerk.
    pub fn describe(&self) -> String {
        match self {
            JpkiRevocation::Revoked(list) if list.is_empty() => {
                "JPKI: no valid certificate to revoke (失効対象の電子証明書なし)".into()
            }
            JpkiRevocation::Revoked(list) => format!(
                "JPKI: revoked (電子証明書を失効しました): {}",
                list.iter()
                    .map(|r| format!("{} {}", r.kind.as_str(), r.serial))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            JpkiRevocation::Pending(why) => format!(
                "JPKI certificates NOT revoked yet (電子証明書の失効が未了): {why}; run juki counter \
                 jpki-revoke with the CA"
            ),
        }
    }
}

fn revoked_list(list: &[CertRecord]) -> String {
    if list.is_empty() {
        return "none valid".into();
    }
    list.iter()
        .map(|r| format!("{} {}", r.kind.as_str(), r.serial))
        .collect::<Vec<_>>()
        .join(", ")
}

impl Session {
    /// Connects the counter to the JPKI certification authority: certificates can be issued,
    /// and are revoked automatically when the counter changes the card.
    pub fn with_ca(mut self, ca: JpkiCa) -> Session {
        self.ca = Some(ca);
        self
    }

    /// The JPKI CA this counter reaches, if any.
    pub fn ca(&self) -> Option<&JpkiCa> {
        self.ca.as_ref()
    }

    /// The time of the session's JPKI records: now by the database's clock (the one the audit
    /// records are stamped with), on the session's today (noon JST of that day when the session
    /// was opened for another day than the clock's).
    fn jpki_now(&self) -> i64 {
        let now = self.db.clock().now().unix();
        if jtime::day_of(now) == Some(self.today) {
            now
        } else {
            jtime::start_of_day(self.today) + 12 * 3600
        }
    }

    /// Revokes the card's certificates at the CA after `op` changed the card, audits it, and
    /// keeps the registry's flag in line. Never fails: the card step is done, so a CA problem
    /// only leaves the revocation pending (flagged, and said to the clerk).
    pub(crate) fn revoke_jpki(&mut self, serial: &str, reason: RevocationReason) -> JpkiRevocation {
        let registered = matches!(self.db.registry().card(serial), Ok(Some(_)));
        let outcome = match &self.ca {
            None => Err("no JPKI certification authority connected (--ca DIR)".to_string()),
            Some(ca) => ca
                .revoke_card(serial, reason, self.jpki_now())
                .map_err(|e| e.to_string()),
        };
        let (audit_outcome, detail) = match &outcome {
            Ok(list) => (
                Outcome::Ok,
                format!(
                    "reason {} ({}); revoked: {}",
                    reason.as_str(),
                    reason.japanese(),
                    revoked_list(list)
                ),
            ),
            Err(why) => (
                Outcome::Failed(why.clone()),
                format!("reason {}; revocation pending", reason.as_str()),
            ),
        };
        if self.ca.is_some() {
            let _ = self.db.audit().append(&AuditEntry {
                actor: self.actor(),
                card_serial: Some(serial),
                operation: Operation::JpkiRevoke,
                outcome: audit_outcome,
                detail: &detail,
            });
        }
        if registered {
            let _ = match outcome {
                Ok(_) => self.db.registry().clear_jpki_revocation(serial),
                Err(_) => self.db.registry().mark_jpki_revocation(serial),
            };
        }
        match outcome {
            Ok(list) => JpkiRevocation::Revoked(list),
            Err(why) => JpkiRevocation::Pending(why),
        }
    }

    /// 失効申請, or a revocation that was left pending: revokes every valid certificate of the
    /// card `serial` at the CA (the card itself need not be present: a lost card).
    pub fn jpki_revoke(
        &mut self,
        serial: &str,
        reason: RevocationReason,
    ) -> Result<Vec<CertRecord>> {
        self.authorize(crate::Operation::JpkiRevoke)?;
        if self.ca.is_none() {
            return Err(Error::InvalidInput(
                "no JPKI certification authority connected: give --ca DIR (or JUKI_CA_DIR)".into(),
            )
            .into());
        }
        match self.revoke_jpki(serial, reason) {
            JpkiRevocation::Revoked(list) => Ok(list),
            JpkiRevocation::Pending(why) => Err(juki_jpki::JpkiError::Ca(why).into()),
        }
    }

    /// The card's resident data against this counter's registry, before certifying it: the card
    /// must be registered here, to the resident whose code it carries, and the registry's 4 info
    /// must be the card's. Returns the registry's 4 info, which the certificate carries.
    fn registry_agrees(
        &self,
        record: Option<&crate::registry::CardRecord>,
        serial: &str,
        resident: &juki_host::resident::ResidentRecord,
    ) -> Result<juki_host::resident::FourInfo> {
        let record = record.ok_or_else(|| {
            Error::InvalidInput(format!(
                "card {serial} is not in this counter's registry: certificates carry the \
                 registry's 4 info, so a resident who moved in is registered by juki counter \
                 update (転入) first"
            ))
        })?;
        let registered = self
            .db
            .registry()
            .resident(&record.resident_code)?
            .ok_or_else(|| {
                Error::InvalidInput(format!(
                    "no resident {} in the registry",
                    record.resident_code
                ))
            })?;
        let info = self
            .db
            .registry()
            .four_info(&record.resident_code)?
            .ok_or_else(|| {
                Error::InvalidInput(format!(
                    "住民基本台帳に4情報の記録がありません: the registry holds no 4 info for the \
                     holder of card {serial} (registered by an older juki); record it with \
                     juki counter update first — no certificate was issued"
                ))
            })?;
        if record.code_on_card != resident.code
            || registered.name != resident.info.name
            || info != resident.info
        {
            return Err(Error::InvalidInput(format!(
                "住民基本台帳の記載とカードの記録が一致しません: card {serial} carries {} / {} / \
                 {}, the registry {} / {} / {}; no certificate was issued — update the card \
                 first (juki counter update)",
                resident.code,
                resident.info.name,
                resident.info.address,
                record.code_on_card,
                info.name,
                info.address
            ))
            .into());
        }
        Ok(info)
    }

    /// 電子証明書の発行: on an issued card, the resident enters the 住基 PIN (the signing
    /// certificate carries the 4 info read from the card); both key pairs are generated anew on
    /// the card, the CA certifies the public keys read back (signing certificate with the 4
    /// info, authentication certificate without personal data), and the certificates and CA
    /// certificates are written to the JPKI AP. The card's earlier certificates are revoked as
    /// superseded. Certificates the card could not take are revoked at once.
    pub fn jpki_issue<T: Transport>(
        &mut self,
        card: &mut JukiCard<T>,
        cred: &CounterCredential,
        pins: &mut dyn PinSource,
    ) -> Result<JpkiIssued> {
        let op = Operation::JpkiIssue;
        self.authorize(op)?;
        self.pre(op, None, self.check_credential(cred))?;
        if self.ca.is_none() {
            return Err(self.refuse(
                op,
                None,
                Error::InvalidInput(
                    "no JPKI certification authority connected: give --ca DIR (or JUKI_CA_DIR)"
                        .into(),
                ),
            ));
        }
        let ins = self.inspect(card, cred, op, &[Lifecycle::Issued], false)?;
        let serial = ins.info.serial.clone();
        let resident = self.read_resident_with_pin(card, cred, op, &serial, pins)?;
        // The signing certificate vouches for the 4 info: the card's (read under the
        // counter's session) must be the registry's.
        let agreed = self.registry_agrees(ins.record.as_ref(), &serial, &resident);
        let registered_info = self.pre(op, Some(&serial), agreed)?;
        let now = self.jpki_now();
        let municipality = cred.name.clone();
        let issued: RefCell<Vec<CertRecord>> = RefCell::new(Vec::new());
        let known = ins.record.is_some();
        let change = |tx: &Tx<'_>| -> Result<String> {
            if known {
                tx.registry().clear_jpki_revocation(&serial)?;
            }
            Ok(issued
                .borrow()
                .iter()
                .map(|r| {
                    format!(
                        "{} certificate {} valid until {}",
                        r.kind.as_str(),
                        r.serial,
                        jtime::display(r.not_after)
                    )
                })
                .collect::<Vec<_>>()
                .join("; "))
        };
        let detail = format!(
            "電子証明書の発行 (signing and authentication) for {}; card valid until {}",
            resident.info.name,
            date::display(ins.info.expires)
        );
        let ca = self
            .ca
            .as_ref()
            .ok_or_else(|| Error::Protocol("CA gone".into()))?;
        let earlier: Vec<String> = ca
            .certificates_of(&serial)
            .map_err(|e| self.refuse(op, Some(&serial), e))?
            .into_iter()
            .filter(|r| r.revoked.is_none())
            .map(|r| r.serial)
            .collect();
        // The CA is moved out of the session while the card step runs (journaled needs the
        // session mutably) and put back whatever happens.
        let ca_held = self.ca.take();
        let step = || -> Result<IssuedKeys> {
            let ca = ca_held
                .as_ref()
                .ok_or_else(|| Error::Protocol("no CA".into()))?;
            let target = IssueTarget {
                serial: &serial,
                resident: resident.code.as_str(),
                info: &registered_info,
                municipality: &municipality,
                card_expires: ins.info.expires,
                now,
            };
            issue_on_card(card, cred, ca, &target, &issued)
        };
        let outcome = self.journaled(op, &serial, &detail, &change, step);
        self.ca = ca_held;
        // Once the CA issued anything the card had generated new keys: the earlier
        // certificates vouch for keys that are gone, so they are revoked even if the card
        // step failed later.
        let mut superseded = Vec::new();
        if outcome.is_ok() || !issued.borrow().is_empty() {
            if let Some(ca) = &self.ca {
                for s in earlier {
                    if matches!(ca.revoke(&s, RevocationReason::Reissued, now), Ok(true)) {
                        superseded.extend(ca.certificate(&s).ok().flatten());
                    }
                }
            }
        }
        let (keys, record) = outcome?;
        let mut issued = issued.into_inner().into_iter();
        let (Some(sign), Some(auth)) = (issued.next(), issued.next()) else {
            return Err(Error::Protocol("the CA did not return both certificates".into()).into());
        };
        Ok(JpkiIssued {
            card: ins.info,
            sign,
            auth,
            superseded,
            keys,
            record,
        })
    }
}

/// What [`issue_on_card`] certifies.
struct IssueTarget<'a> {
    serial: &'a str,
    resident: &'a str,
    info: &'a juki_host::resident::FourInfo,
    municipality: &'a str,
    card_expires: juki_host::date::Date,
    now: i64,
}

/// The card step of [`Session::jpki_issue`]: keys generated on the card, certified by `ca`,
/// certificates written. Certificates issued but not written are revoked before returning the
/// error.
fn issue_on_card<T: Transport>(
    card: &mut JukiCard<T>,
    cred: &CounterCredential,
    ca: &JpkiCa,
    target: &IssueTarget<'_>,
    issued: &RefCell<Vec<CertRecord>>,
) -> Result<IssuedKeys> {
    let result = card.exclusive(|c| {
        // (issue_jpki runs its own transaction; this one spans the certification too.)
        c.issue_jpki(cred, target.serial, |keys| {
            let certify = |kind: CertKind, key| -> Result<(Vec<u8>, Vec<u8>)> {
                let (record, cert) = ca.issue(
                    &CertRequest {
                        kind,
                        card_serial: target.serial,
                        resident: Some(target.resident),
                        public_key: key,
                        four_info: target.info,
                        municipality: target.municipality,
                        card_expires: target.card_expires,
                    },
                    target.now,
                )?;
                issued.borrow_mut().push(record);
                let der = |c: &x509_cert::Certificate| {
                    c.to_der()
                        .map_err(|e| juki_jpki::JpkiError::malformed("certificate", e))
                };
                Ok((der(&cert)?, der(ca.ca_certificate(kind))?))
            };
            let (sign, sign_ca) = certify(CertKind::Sign, &keys.sign)?;
            let (auth, auth_ca) = certify(CertKind::Auth, &keys.auth)?;
            Ok(JpkiFiles {
                sign,
                sign_ca,
                auth,
                auth_ca,
            })
        })
    });
    match result {
        Ok((keys, _)) => Ok(keys),
        Err(e) => {
            for r in issued.borrow().iter() {
                let _ = ca.revoke(&r.serial, RevocationReason::Reissued, target.now);
            }
            Err(e)
        }
    }
}
