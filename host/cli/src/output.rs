//! What the `juki` command prints: standard output through [`line()`] (the `out!` macro) and
//! standard error through [`note()`] (`note!`), never `println!`.
//!
//! A closed pipe (`juki verify … | head`) ends the output quietly: the first `BrokenPipe` stops
//! all later output, the command itself runs to its end (a counter operation is never cut between
//! the card and its records), and the exit code is the command's own. Any other write error is
//! kept and reported when the command is done ([`finish`]).

use std::fmt;
use std::io::{self, Write};
use std::sync::Mutex;

use juki_host::card::{Lifecycle, PinStatus};
use juki_host::date;
use juki_host::pin::PinId;
use juki_host::resident::{CardInfo, ChangeInfo, FourInfo, Sex};
use juki_jpki::CertKind;

use crate::t;

/// What became of standard output: `None` while it works.
static STDOUT_FAULT: Mutex<Option<Fault>> = Mutex::new(None);

#[derive(Debug)]
enum Fault {
    /// The reader went away (a closed pipe): quietly stop writing.
    Closed,
    /// Any other write error, reported at the end.
    Failed(io::Error),
}

/// Writes one line to standard output.
pub fn line(text: impl fmt::Display) {
    let mut fault = STDOUT_FAULT.lock().unwrap_or_else(|e| e.into_inner());
    if fault.is_some() {
        return;
    }
    let mut out = io::stdout().lock();
    if let Err(e) = writeln!(out, "{text}").and_then(|()| out.flush()) {
        *fault = Some(if e.kind() == io::ErrorKind::BrokenPipe {
            Fault::Closed
        } else {
            Fault::Failed(e)
        });
    }
}

/// Writes one line to standard error (a closed standard error is ignored).
pub fn note(text: impl fmt::Display) {
    let _ = writeln!(io::stderr().lock(), "{text}");
}

/// Writes `text` to standard error without a new line (a prompt).
pub fn prompt(text: impl fmt::Display) {
    let mut err = io::stderr().lock();
    let _ = write!(err, "{text}");
    let _ = err.flush();
}

/// After the command: the error that kept its output from being written, unless the reader
/// simply closed the pipe.
pub fn finish() -> Option<io::Error> {
    match STDOUT_FAULT
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
    {
        Some(Fault::Failed(e)) => Some(e),
        _ => None,
    }
}

/// `println!` for the CLI: a line on standard output through [`line()`].
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::output::line(format_args!($($arg)*))
    };
}

/// `eprintln!` for the CLI: a line on standard error through [`note()`].
#[macro_export]
macro_rules! note {
    ($($arg:tt)*) => {
        $crate::output::note(format_args!($($arg)*))
    };
}

/// Prints `label: value`, the values of a block aligned (labels measured in terminal columns:
/// a Japanese character takes two).
pub fn field(label: &str, value: impl fmt::Display) {
    line(format_args!("{}{value}", padded(label)));
}

/// `label:` padded to the column where values start.
pub fn padded(label: &str) -> String {
    const COLUMN: usize = 20;
    let width = columns(label) + 1;
    format!(
        "{label}:{}",
        " ".repeat(COLUMN.saturating_sub(width).max(1))
    )
}

/// The terminal columns `text` takes: two for East Asian wide characters, one for the rest.
pub fn columns(text: &str) -> usize {
    text.chars()
        .map(|c| match u32::from(c) {
            0x1100..=0x115F
            | 0x2E80..=0x303E
            | 0x3041..=0x33FF
            | 0x3400..=0x4DBF
            | 0x4E00..=0x9FFF
            | 0xA000..=0xA4CF
            | 0xAC00..=0xD7A3
            | 0xF900..=0xFAFF
            | 0xFE30..=0xFE4F
            | 0xFF00..=0xFF60
            | 0xFFE0..=0xFFE6 => 2,
            _ => 1,
        })
        .sum()
}

/// A card's life cycle state, in words.
pub fn lifecycle(state: Lifecycle) -> String {
    match state {
        Lifecycle::Blank => t!("lifecycle-blank"),
        Lifecycle::Initialised => t!("lifecycle-initialised"),
        Lifecycle::Issued => t!("lifecycle-issued"),
        Lifecycle::Suspended => t!("lifecycle-suspended"),
        Lifecycle::Terminated => t!("lifecycle-terminated"),
    }
}

/// A PIN's name.
pub fn pin_name(kind: PinId) -> String {
    match kind {
        PinId::Juki => t!("pin-juki"),
        PinId::Auth => t!("pin-auth"),
        PinId::Sign => t!("pin-sign"),
    }
}

/// What VERIFY without data told about a PIN.
pub fn pin_state(status: PinStatus) -> String {
    match status {
        PinStatus::Verified => t!("pin-status-verified"),
        PinStatus::TriesLeft(n) => t!("pin-status-tries", tries = n),
        PinStatus::Blocked => t!("pin-status-blocked"),
    }
}

/// A JPKI certificate's name.
pub fn cert_name(kind: CertKind) -> String {
    match kind {
        CertKind::Sign => t!("cert-sign"),
        CertKind::Auth => t!("cert-auth"),
    }
}

/// The holder's sex as recorded.
pub fn sex(sex: Sex) -> String {
    match sex {
        Sex::Male => t!("sex-male"),
        Sex::Female => t!("sex-female"),
        Sex::NotApplicable => t!("sex-not-applicable"),
    }
}

/// Prints the card information (readable without a PIN).
pub fn print_card_info(info: &CardInfo) {
    field(&t!("label-card-serial"), &info.serial);
    field(&t!("label-issued-by"), &info.municipality);
    field(&t!("label-issue-date"), date::display(info.issued));
    field(&t!("label-valid-until"), date::display(info.expires));
    field(
        &t!("label-photo"),
        if info.photo {
            t!("photo-with")
        } else {
            t!("photo-without")
        },
    );
}

/// Prints the change information (変更情報) recorded on the card.
pub fn print_changes(changes: &ChangeInfo) {
    for (label, change) in [
        (t!("label-name-changed"), &changes.name),
        (t!("label-address-changed"), &changes.address),
        (t!("label-birth-changed"), &changes.birth),
        (t!("label-sex-changed"), &changes.sex),
    ] {
        if let Some(c) = change {
            field(
                &label,
                format_args!("{} {}", date::display(c.date), c.reason),
            );
        }
    }
}

/// Prints the 4 info.
pub fn print_four_info(info: &FourInfo) {
    field(&t!("label-name"), &info.name);
    field(&t!("label-address"), &info.address);
    field(&t!("label-birth"), date::display(info.birth));
    field(&t!("label-sex"), sex(info.sex));
}
