//! `juki disclosure` (開示請求): the resident's own 本人確認情報 and every provision of it, from
//! the national server, with the card's authentication key (the auth PIN) and no operator —
//! at home, or at a counter's reader for a resident who asks in person. Every provision shown
//! has been checked against the signed provision log.

use std::path::Path;

use juki_host::pin::PinId;
use juki_jpki::{citizen, CertKind, JpkiError};
use juki_net::citizen::{self as resident_client, DisclosureError};

use crate::card_access::{refuse_unusable, Card};
use crate::failure::Result;
use crate::output::{field, print_four_info};
use crate::pin_input::PinPrompter;
use crate::{out, t};

/// `juki disclosure --server ADDR --ca-cert PEM --log-key PEM`.
pub fn disclosure(card: &mut Card, server: &str, ca: &Path, log_key: &Path) -> Result<()> {
    refuse_unusable(card)?;
    citizen::require_present(card, CertKind::Auth)?;
    let key = juki_net::provision_log::load_public_key(log_key)
        .map_err(|e| juki_host::Error::io(format!("reading {}", log_key.display()), e))?;
    // The PIN is asked before connecting: the server's challenge waits two minutes at most.
    let pin = PinPrompter::from_stdin().ask(PinId::Auth)?;
    let mut card_failure: Option<JpkiError> = None;
    let answer = resident_client::request(server, ca, &key, |challenge| {
        citizen::answer_challenge(card, &pin, challenge)
            .and_then(|a| a.to_pem())
            .map_err(|e| {
                let text = e.to_string();
                card_failure = Some(e);
                text
            })
    });
    drop(pin);
    let d = match answer {
        Ok(d) => d,
        // The card's own refusal (wrong PIN, locked) keeps its exit code and message.
        Err(DisclosureError::Card(_)) if card_failure.is_some() => {
            return Err(card_failure.map_or_else(
                || juki_host::Error::Protocol("the card failed".into()).into(),
                Into::into,
            ))
        }
        Err(e) => return Err(e.into()),
    };
    out!("{}", t!("disclosure-title"));
    field(&t!("label-resident-code"), d.resident.code.as_str());
    print_four_info(&d.resident.info);
    field(&t!("label-municipality"), d.resident.municipality.as_str());
    if let Some(head) = &d.head {
        field(
            &t!("label-disclosure-log"),
            t!(
                "disclosure-log",
                size = head.head.size,
                root = hex::encode(&head.head.root[..8])
            ),
        );
    }
    out!(
        "{}",
        t!("disclosure-provisions", count = d.provisions.len())
    );
    for p in &d.provisions {
        let r = &p.record;
        out!(
            "{}",
            t!(
                "disclosure-provision",
                time = juki_jpki::time::display(r.at),
                agency = r.agency.as_str(),
                purpose = r.purpose.as_str(),
                fields = r.fields.names().join(", "),
                leaf = p.receipt.proof.index
            )
        );
    }
    if d.pending > 0 {
        out!("{}", t!("disclosure-pending", count = d.pending));
    }
    out!("{}", t!("disclosure-verified"));
    Ok(())
}
