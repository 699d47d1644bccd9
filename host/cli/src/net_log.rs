//! 住基ネット's provision log from outside the server (`juki net log …`): the signed head as
//! the server shows it now, and an auditor's check of the whole log (docs/log.md, "The
//! auditor's command").

use std::path::{Path, PathBuf};

use juki_net::client::NetClient;
use juki_net::monitor::{Monitor, MonitorError};
use juki_net::provision_log::{load_public_key, LOG_PUB_FILE};

use crate::failure::{Failure, Result};
use crate::output::field;
use crate::{out, t};

/// `juki net log head`: the current signed head's text (nothing else on standard output, so
/// that it can be saved and compared).
pub fn head(node: &Path, server: &str) -> Result<()> {
    let mut client = NetClient::from_dir(node, server)?;
    match client.log_head()? {
        Some(head) => {
            out!("{}", head.to_text());
            Ok(())
        }
        None => Err(Failure::Cli(t!("net-log-empty"))),
    }
}

/// `juki net log audit`: a monitor from the empty tree over the whole log (every entry checked
/// against the signed root); with `shown`, a head someone else was shown is checked against
/// the one accepted (a fork shown to another party shows here).
pub fn audit(
    node: &Path,
    server: &str,
    key: Option<PathBuf>,
    shown: Option<PathBuf>,
) -> Result<()> {
    let key_file = key.unwrap_or_else(|| node.join(LOG_PUB_FILE));
    let key = load_public_key(&key_file)
        .map_err(|e| juki_host::Error::io(format!("reading {}", key_file.display()), e))?;
    let shown = shown
        .map(|file| {
            let text = std::fs::read_to_string(&file)
                .map_err(|e| juki_host::Error::io(format!("reading {}", file.display()), e))?;
            juki_log::SignedTreeHead::from_text(text.trim()).map_err(|e| {
                Failure::Cli(t!(
                    "net-log-bad-head-file",
                    file = file.display().to_string(),
                    detail = e.to_string()
                ))
            })
        })
        .transpose()?;
    let mut client = NetClient::from_dir(node, server)?;
    let mut monitor = Monitor::new(key);
    let checked = monitor.check(&mut client)?;
    let Some(head) = monitor.head().cloned() else {
        out!("{}", t!("net-log-empty"));
        return match shown {
            // A head was signed for a log that is now empty: the log shrank.
            Some(s) => Err(MonitorError::Log(juki_log::LogError::OlderSize {
                seen: s.head.size,
                got: 0,
            })
            .into()),
            None => Ok(()),
        };
    };
    out!(
        "{}",
        t!(
            "net-log-audited",
            size = checked.size,
            entries = checked.entries
        )
    );
    field(&t!("label-log-root"), hex::encode(head.head.root));
    field(&t!("label-log-head"), head.to_text());
    if let Some(shown) = shown {
        // A head larger than the log now: the log shrank since it was signed (the server
        // could not prove anything up to it).
        if shown.head.size > head.head.size {
            return Err(MonitorError::Log(juki_log::LogError::OlderSize {
                seen: shown.head.size,
                got: head.head.size,
            })
            .into());
        }
        let proof = if shown.head.size > 0 && shown.head.size < head.head.size {
            Some(client.log_consistency(shown.head.size, head.head.size)?)
        } else {
            None
        };
        juki_log::audit(&key, &shown, &head, proof.as_ref()).map_err(MonitorError::Log)?;
        out!(
            "{}",
            t!(
                "net-log-head-consistent",
                shown = shown.head.size,
                size = head.head.size
            )
        );
    }
    Ok(())
}
