//! 交付: personalising an initialised card for a resident and registering it.

use super::change_event;
use crate::audit::AuditRecord;
use crate::network::Event;
use crate::registry::{CardState, NewCard};
use crate::Result;
use crate::{CounterError, Operation, Session, Tx};
use juki_host::authority::CounterCredential;
use juki_host::card::{lifecycle_text, IssuedKeys, JukiCard, Lifecycle, Personalisation};
use juki_host::date::{self, Date};
use juki_host::pin::PinId;
use juki_host::pin::PinSource;
use juki_host::resident::{CardInfo, ChangeInfo, FourInfo, Sex};
use juki_host::resident_code::ResidentCode;
use juki_host::transport::Transport;
use juki_host::Error;

/// Below this age (at issue) a card is issued through a legal representative (法定代理人).
pub const REPRESENTATIVE_BELOW_AGE: u32 = 15;

/// What [`Session::issue`] needs besides the PINs (asked through the [`PinSource`]).
#[derive(Debug, Clone)]
pub struct IssueRequest {
    /// 氏名.
    pub name: String,
    /// 住所.
    pub address: String,
    /// 生年月日.
    pub birth: Date,
    /// 性別.
    pub sex: Sex,
    /// 顔写真付き.
    pub photo: bool,
    /// The card serial the clerk expects (default: the one the card proves; set at manufacture).
    pub serial: Option<String>,
    /// Legal representative (法定代理人): required under [`REPRESENTATIVE_BELOW_AGE`].
    pub representative: Option<String>,
    /// End of the period of stay (在留期間の満了日) of a foreign resident: the card expires then
    /// if that is earlier than ten years.
    pub stay_until: Option<Date>,
    /// A registered resident's 住民票コード (a new card after a change of code, a loss, or
    /// termination); default: a new resident with a new random code.
    pub resident_code: Option<ResidentCode>,
}

/// What is about to be issued (shown to the clerk before the resident enters the PINs).
#[derive(Debug, Clone)]
pub struct IssuePreview {
    /// The 住民票コード to write (generated, or the registered resident's).
    pub code: ResidentCode,
    /// Whether the code is new (a new resident).
    pub new_resident: bool,
    /// The 4 info.
    pub info: FourInfo,
    /// The card information (serial, municipality, dates, photo).
    pub card: CardInfo,
    /// The legal representative, if any.
    pub representative: Option<String>,
}

/// A card issued.
#[derive(Debug, Clone)]
pub struct Issued {
    /// What was written.
    pub preview: IssuePreview,
    /// The public keys generated on the card.
    pub keys: IssuedKeys,
    /// The audit record.
    pub record: AuditRecord,
}

impl Session {
    /// 交付: personalises an initialised card and registers it. The resident enters the 住基
    /// PIN, the auth PIN and the sign password through `pins` (after `confirm` accepted the
    /// preview).
    pub fn issue<T: Transport>(
        &mut self,
        card: &mut JukiCard<T>,
        cred: &CounterCredential,
        req: &IssueRequest,
        pins: &mut dyn PinSource,
        confirm: &mut dyn FnMut(&IssuePreview) -> Result<bool>,
    ) -> Result<Issued> {
        let op = Operation::Issue;
        self.authorize(op)?;
        self.pre(op, None, self.check_credential(cred))?;
        let mut serial_proved = None;
        let plain = self.pre(op, req.serial.as_deref(), card.lifecycle())?;
        // A blank card has no key to prove itself with; any other proves its serial and state.
        let state = match plain {
            Lifecycle::Blank => plain,
            _ => {
                let (identity, _) =
                    self.pre(op, req.serial.as_deref(), card.inspect_at_counter(cred))?;
                let asked = req.serial.as_deref().or(self.serving.as_deref());
                if let Some(asked) = asked.filter(|s| *s != identity.serial) {
                    let e = Error::CardChanged {
                        expected: asked.to_string(),
                        found: identity.serial,
                    };
                    return Err(self.refuse(op, Some(asked), e));
                }
                serial_proved = Some(identity.serial);
                identity.lifecycle
            }
        };
        if state != Lifecycle::Initialised {
            let e = match state {
                Lifecycle::Terminated => Error::CardTerminated.into(),
                _ => CounterError::WrongCardState {
                    state: lifecycle_text(state).into(),
                    operation: op.as_str(),
                    hint: "only an initialised card can be issued",
                },
            };
            return Err(self.refuse(op, req.serial.as_deref(), e));
        }
        let proved = serial_proved.unwrap_or_default();
        let preview = self.pre(op, Some(&proved), self.issue_preview(req, &proved))?;
        let serial = preview.card.serial.clone();
        if !self.pre(op, Some(&serial), confirm(&preview))? {
            return Err(self.refuse(
                op,
                Some(&serial),
                Error::InvalidInput("cancelled; nothing was written".into()),
            ));
        }
        let birth = preview.info.birth_mmdd();
        let asked = (|| -> Result<_> {
            let juki = pins.new_pin(PinId::Juki, Some(&birth))?;
            let auth = pins.new_pin(PinId::Auth, Some(&birth))?;
            let sign = pins.new_pin(PinId::Sign, None)?;
            Ok((juki, auth, sign))
        })();
        let (juki_pin, auth_pin, sign_pin) = self.pre(op, Some(&serial), asked)?;
        let p = Personalisation {
            code: preview.code.clone(),
            info: preview.info.clone(),
            changes: ChangeInfo::default(),
            card: preview.card.clone(),
            juki_pin,
            auth_pin,
            sign_pin,
        };
        let mut detail = format!(
            "{} resident; valid until {}",
            if preview.new_resident {
                "new"
            } else {
                "registered"
            },
            date::display(preview.card.expires)
        );
        if let Some(rep) = &preview.representative {
            detail.push_str(&format!("; legal representative (法定代理人): {rep}"));
        }
        let municipality = self.municipality.clone();
        let today = self.today;
        let change = |tx: &Tx<'_>| -> Result<String> {
            // What the registry vouched for before (a registered resident's 4 info).
            let before = match preview.new_resident {
                true => None,
                false => tx.registry().four_info(&preview.code)?,
            };
            tx.registry().register_card(
                &NewCard {
                    serial: &serial,
                    resident_code: &preview.code,
                    resident_name: &preview.info.name,
                    issuing_municipality: &municipality,
                    issued: preview.card.issued,
                    expires: preview.card.expires,
                    legal_representative: preview.representative.as_deref(),
                },
                CardState::Issued,
            )?;
            tx.registry().set_four_info(&preview.code, &preview.info)?;
            // 住基ネット: a new resident is 新規; a new card for a registered resident changes
            // nothing the network holds, unless the 4 info given now differ from the registry's.
            let event = match preview.new_resident {
                true => Some(Event::New {
                    code: preview.code.clone(),
                    info: preview.info.clone(),
                }),
                false => change_event(&preview.code, before.as_ref(), &preview.info),
            };
            match event {
                Some(event) => {
                    let kind = event.kind();
                    let seq = tx.outbox().enqueue(&municipality, today, event)?;
                    Ok(format!(
                        "住基ネット update {seq} ({}) queued",
                        kind.as_str()
                    ))
                }
                None => Ok(String::new()),
            }
        };
        let (keys, record) =
            self.journaled(op, &serial, &detail, &change, || card.personalise(cred, &p))?;
        Ok(Issued {
            preview,
            keys,
            record,
        })
    }

    /// Checks an issue request for the card `serial` (its certified serial) against the rules
    /// and the registry and says what would be written.
    fn issue_preview(&self, req: &IssueRequest, serial: &str) -> Result<IssuePreview> {
        let info = FourInfo::new(&req.name, &req.address, req.birth, req.sex)?;
        if req.birth > self.today {
            return Err(Error::InvalidInput(format!(
                "the date of birth {} is after today ({})",
                date::display(req.birth),
                date::display(self.today)
            ))
            .into());
        }
        let representative = match req.representative.as_deref().map(str::trim) {
            Some("") => {
                return Err(
                    Error::InvalidInput("the legal representative's name is empty".into()).into(),
                )
            }
            other => other.map(str::to_string),
        };
        let age = date::age_on(req.birth, self.today);
        if age < REPRESENTATIVE_BELOW_AGE && representative.is_none() {
            return Err(Error::InvalidInput(format!(
                "the resident is {age}, under {REPRESENTATIVE_BELOW_AGE} (15歳未満): the card is \
                 applied for and received through a legal representative (法定代理人); give \
                 --representative NAME"
            ))
            .into());
        }
        let registry = self.db.registry();
        if registry.card(serial)?.is_some() {
            return Err(CounterError::DuplicateCard(serial.to_string()));
        }
        let mut card = CardInfo::new(serial, self.municipality.clone(), self.today, req.photo)?;
        if let Some(stay) = req.stay_until {
            if stay <= self.today {
                return Err(Error::InvalidInput(format!(
                    "the period of stay ends on {}, not after today ({}): no card can be issued",
                    date::display(stay),
                    date::display(self.today)
                ))
                .into());
            }
            card.expires = card.expires.min(stay);
        }
        let (code, new_resident) = match &req.resident_code {
            Some(code) => {
                let resident = registry
                    .resident(code)?
                    .ok_or_else(|| CounterError::UnknownResident(code.to_string()))?;
                if resident.name != info.name {
                    return Err(CounterError::NameMismatch {
                        code: code.to_string(),
                    });
                }
                (code.clone(), false)
            }
            None => loop {
                let code = ResidentCode::generate();
                if registry.current_code(&code)?.is_none() {
                    break (code, true);
                }
            },
        };
        Ok(IssuePreview {
            code,
            new_resident,
            info,
            card,
            representative,
        })
    }
}
