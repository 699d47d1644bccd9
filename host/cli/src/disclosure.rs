//! `juki disclosure` (開示請求): the resident's own 本人確認情報 and every provision of it, from
//! the national server, with the card's authentication key (the auth PIN) and no operator —
//! at home, or at a counter's reader for a resident who asks in person. Every provision shown
//! has been checked against the signed provision log.

use std::path::{Path, PathBuf};

use juki_host::pin::PinId;
use juki_jpki::{citizen, CertKind, JpkiError};
use juki_log::SignedTreeHead;
use juki_net::citizen::{self as resident_client, DisclosureError, Seen};
use p256::ecdsa::VerifyingKey;

use crate::card_access::{refuse_unusable, Card};
use crate::failure::{Failure, Result};
use crate::output::{field, print_four_info};
use crate::pin_input::PinPrompter;
use crate::{out, t};

/// Whom and what a disclosure trusts.
pub struct Trust<'a> {
    /// The national server's residents' address.
    pub server: &'a str,
    /// The network CA certificate.
    pub ca: &'a Path,
    /// The provision log's public key.
    pub log_key: &'a Path,
    /// Where what this computer saw is kept (`None`: the default place).
    pub state: Option<PathBuf>,
    /// Heads others saw.
    pub witness_heads: &'a [PathBuf],
}

/// `$XDG_STATE_HOME/juki/disclosure.json`, else `~/.local/state/juki/disclosure.json`.
fn default_state() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".local/state"))
        })?;
    Some(base.join("juki/disclosure.json"))
}

/// A witness's head: signed with the log key, or refused before anything is sent.
fn witness(file: &Path, key: &VerifyingKey) -> Result<SignedTreeHead> {
    let refused = |detail: String| {
        Failure::Cli(t!(
            "err-disclosure-witness",
            file = file.display().to_string(),
            detail = detail
        ))
    };
    let text = std::fs::read_to_string(file)
        .map_err(|e| juki_host::Error::io(format!("reading {}", file.display()), e))?;
    let head = SignedTreeHead::from_text(text.trim()).map_err(|e| refused(e.to_string()))?;
    head.verify(key).map_err(|e| refused(e.to_string()))?;
    Ok(head)
}

/// `juki disclosure --server ADDR --ca-cert PEM --log-key PEM [--state FILE]
/// [--witness-head FILE]…`.
pub fn disclosure(card: &mut Card, trust: &Trust<'_>) -> Result<()> {
    let Trust {
        server,
        ca,
        log_key,
        ..
    } = *trust;
    refuse_unusable(card)?;
    citizen::require_present(card, CertKind::Auth)?;
    let key = juki_net::provision_log::load_public_key(log_key)
        .map_err(|e| juki_host::Error::io(format!("reading {}", log_key.display()), e))?;
    let state = trust
        .state
        .clone()
        .or_else(default_state)
        .ok_or_else(|| Failure::Cli(t!("err-disclosure-no-state")))?;
    let state_failure = |e: juki_net::citizen::SeenError| {
        Failure::Cli(t!(
            "err-disclosure-state",
            file = state.display().to_string(),
            detail = e.to_string()
        ))
    };
    let mut seen = Seen::load(&state).map_err(state_failure)?;
    for file in trust.witness_heads {
        seen.witness(witness(file, &key)?);
    }
    let checked_sizes = seen.sizes();
    // The PIN is asked before connecting: the server's challenge waits two minutes at most.
    let pin = PinPrompter::from_stdin().ask(PinId::Auth)?;
    let mut card_failure: Option<JpkiError> = None;
    let answer = resident_client::request(server, ca, &key, &seen, |challenge| {
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
    let checked: Vec<String> = checked_sizes
        .iter()
        .filter(|s| **s > 0)
        .map(u64::to_string)
        .collect();
    if !checked.is_empty() {
        out!(
            "{}",
            t!("disclosure-consistent", sizes = checked.join(", "))
        );
    }
    seen.remember(&d);
    seen.save(&state).map_err(state_failure)?;
    Ok(())
}
