//! What the `juki` command prints: standard output through [`line`] (the `out!` macro) and
//! standard error through [`note`] (`note!`), never `println!`.
//!
//! A closed pipe (`juki verify … | head`) ends the output quietly: the first `BrokenPipe` stops
//! all later output, the command itself runs to its end (a counter operation is never cut between
//! the card and its records), and the exit code is the command's own. Any other write error is
//! kept and reported when the command is done ([`finish`]).

use std::fmt;
use std::io::{self, Write};
use std::sync::Mutex;

use juki_host::date;
use juki_host::resident::{CardInfo, FourInfo};

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

/// `println!` for the CLI: a line on standard output through [`line`].
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::output::line(format_args!($($arg)*))
    };
}

/// `eprintln!` for the CLI: a line on standard error through [`note`].
#[macro_export]
macro_rules! note {
    ($($arg:tt)*) => {
        $crate::output::note(format_args!($($arg)*))
    };
}

/// Prints the card information (readable without a PIN).
pub fn print_card_info(info: &CardInfo) {
    out!("カード番号 (card serial):      {}", info.serial);
    out!("交付地 (issued by):            {}", info.municipality);
    out!(
        "交付年月日 (issue date):       {}",
        date::display(info.issued)
    );
    out!(
        "有効期限 (valid until):        {}",
        date::display(info.expires)
    );
    out!(
        "顔写真 (photo):                {}",
        if info.photo {
            "あり (with photo)"
        } else {
            "なし (without photo)"
        }
    );
}

/// Prints the 4 info.
pub fn print_four_info(info: &FourInfo) {
    out!("氏名 (name):                   {}", info.name);
    out!("住所 (address):                {}", info.address);
    out!(
        "生年月日 (date of birth):      {}",
        date::display(info.birth)
    );
    out!("性別 (sex):                    {}", info.sex);
}
