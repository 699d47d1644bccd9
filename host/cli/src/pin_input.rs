//! Reading PINs and passwords from the person at the keyboard — never from the command line,
//! never logged — and their yes/no confirmations ([`confirm`]).
//!
//! - Standard input is a terminal: the prompt goes to the terminal and the PIN is read from
//!   `/dev/tty` without echo (`rpassword`). A new PIN is asked twice and must match.
//! - Standard input is not a terminal (scripts, tests, the counter's batch tools): one PIN per
//!   line from standard input, in the order asked; a new PIN is read once. Prompts still go to
//!   standard error so a transcript shows what was asked.
//!
//! Every PIN lives in a [`Pin`], zeroized when dropped, and is never printed (`Debug` shows
//! `Pin(***)`). (The standard library's stdin buffer may still hold the line; that memory is the
//! process's own and is not logged.)

use std::io::{BufRead, IsTerminal};

use zeroize::{Zeroize, Zeroizing};

pub use juki_host::pin::Pin;
use juki_host::pin::{PinId, PinRules, PinSource};
use juki_host::{Error, Result};

use crate::output::pin_name;
use crate::t;

enum Source {
    Terminal,
    Lines(Box<dyn BufRead>),
}

/// Asks for PINs, one after the other.
pub struct PinPrompter {
    source: Source,
    /// Print the prompts of line input to standard error (not for a scripted demo).
    show_prompts: bool,
}

impl PinPrompter {
    /// From the terminal when standard input is one, else line by line from standard input.
    pub fn from_stdin() -> PinPrompter {
        if std::io::stdin().is_terminal() {
            PinPrompter {
                source: Source::Terminal,
                show_prompts: true,
            }
        } else {
            PinPrompter::from_lines(Box::new(std::io::BufReader::new(std::io::stdin())))
        }
    }

    /// One PIN per line from `reader` (tests, scripts).
    pub fn from_lines(reader: Box<dyn BufRead>) -> PinPrompter {
        PinPrompter {
            source: Source::Lines(reader),
            show_prompts: true,
        }
    }

    /// Secrets typed by a script (`juki demo`'s resident): one per line, prompts not shown.
    pub fn scripted(lines: &str) -> PinPrompter {
        PinPrompter {
            source: Source::Lines(Box::new(std::io::Cursor::new(lines.to_string()))),
            show_prompts: false,
        }
    }

    /// Whether PINs come from a person at a terminal (then the CLI may also ask to confirm).
    pub fn is_terminal(&self) -> bool {
        matches!(self.source, Source::Terminal)
    }

    fn read(&mut self, prompt: &str) -> Result<Pin> {
        match &mut self.source {
            Source::Terminal => {
                let line = Zeroizing::new(
                    rpassword::prompt_password(prompt)
                        .map_err(|e| Error::io(t!("prompt-reading-terminal"), e))?,
                );
                Ok(Pin::new(
                    line.trim_end_matches(['\r', '\n']).as_bytes().to_vec(),
                ))
            }
            Source::Lines(reader) => {
                if self.show_prompts {
                    crate::output::prompt(prompt);
                }
                let mut line = Zeroizing::new(String::new());
                let n = reader
                    .read_line(&mut line)
                    .map_err(|e| Error::io(t!("prompt-reading-stdin"), e))?;
                if self.show_prompts {
                    crate::output::note("");
                }
                if n == 0 {
                    return Err(Error::InvalidInput(t!("prompt-stdin-ended")));
                }
                let pin = Pin::new(line.trim_end_matches(['\r', '\n']).as_bytes().to_vec());
                line.zeroize();
                Ok(pin)
            }
        }
    }

    /// Asks for a secret that is not a card PIN (an operator's password), with `prompt`.
    pub fn ask_secret(&mut self, prompt: &str) -> Result<Pin> {
        let secret = self.read(prompt)?;
        if secret.as_bytes().is_empty() {
            return Err(Error::InvalidInput(t!("prompt-nothing-entered")));
        }
        Ok(secret)
    }

    /// Asks for a new secret that is not a card PIN (an operator's password): at a terminal
    /// twice, and the two entries must match; from standard input once.
    pub fn ask_new_secret(&mut self, prompt: &str) -> Result<Pin> {
        let secret = self.ask_secret(prompt)?;
        if self.is_terminal() {
            let again = self.read(&t!(
                "prompt-again",
                prompt = prompt.trim_end().trim_end_matches([':', '：'])
            ))?;
            if again != secret {
                return Err(Error::InvalidInput(t!("prompt-entries-differ")));
            }
        }
        Ok(secret)
    }

    /// Asks for the current PIN `kind`.
    pub fn ask(&mut self, kind: PinId) -> Result<Pin> {
        let pin = self.read(&t!("prompt-pin", pin = pin_name(kind)))?;
        if pin.as_bytes().is_empty() {
            return Err(Error::InvalidInput(t!("prompt-no-pin")));
        }
        Ok(pin)
    }

    /// Asks for a new PIN `kind` and checks it against the rules (weak PINs refused, birth
    /// `MMDD` when known). At a terminal: asked twice, and asked again (three rounds at most)
    /// when it breaks a rule or the two entries differ. From standard input: read once.
    pub fn ask_new(&mut self, kind: PinId, birth_mmdd: Option<&[u8; 4]>) -> Result<Pin> {
        let rounds = if self.is_terminal() { 3 } else { 1 };
        let mut last_error = None;
        for _ in 0..rounds {
            let pin = self.read(&t!("prompt-new-pin", pin = pin_name(kind)))?;
            if kind.check_new(pin.as_bytes(), birth_mmdd).is_err() {
                let e = Error::InvalidInput(broken_rule(kind, pin.as_bytes(), birth_mmdd));
                if self.is_terminal() {
                    crate::note!("{e}");
                }
                last_error = Some(e);
                continue;
            }
            if self.is_terminal() {
                let again = self.read(&t!("prompt-new-pin-again", pin = pin_name(kind)))?;
                if again != pin {
                    crate::note!("{}", t!("prompt-new-pin-differs"));
                    last_error = Some(Error::InvalidInput(t!("prompt-new-pin-differs")));
                    continue;
                }
            }
            return Ok(pin);
        }
        Err(last_error.unwrap_or_else(|| Error::InvalidInput(t!("prompt-no-pin"))))
    }
}

/// Which rule a new PIN breaks, in the user's language (the middleware's [`PinId::check_new`]
/// decides; its English text is for logs).
fn broken_rule(kind: PinId, pin: &[u8], birth_mmdd: Option<&[u8; 4]>) -> String {
    match kind {
        PinId::Sign => t!("pin-rule-sign"),
        PinId::Juki | PinId::Auth
            if pin.len() == 4
                && pin.iter().all(u8::is_ascii_digit)
                && juki_host::pin::is_weak_four_digit(pin, birth_mmdd) =>
        {
            t!("pin-rule-weak")
        }
        PinId::Juki | PinId::Auth => t!("pin-rule-four-digits"),
    }
}

impl PinSource for PinPrompter {
    fn pin(&mut self, kind: PinId) -> Result<Pin> {
        self.ask(kind)
    }

    fn new_pin(&mut self, kind: PinId, birth_mmdd: Option<&[u8; 4]>) -> Result<Pin> {
        self.ask_new(kind, birth_mmdd)
    }
}

/// Asks a yes/no `question` on the terminal (`/dev/tty`, whatever standard input is).
pub fn confirm(question: &str) -> Result<bool> {
    crate::output::prompt(format_args!("{question} {} ", t!("prompt-yes-no")));
    let tty =
        std::fs::File::open("/dev/tty").map_err(|e| Error::io(t!("prompt-opening-terminal"), e))?;
    let mut line = String::new();
    std::io::BufReader::new(tty)
        .read_line(&mut line)
        .map_err(|e| Error::io(t!("prompt-reading-answer"), e))?;
    Ok(matches!(line.trim(), "y" | "Y" | "yes" | "はい"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &'static str) -> PinPrompter {
        PinPrompter::from_lines(Box::new(std::io::Cursor::new(text.as_bytes())))
    }

    #[test]
    fn one_pin_per_line_in_order() {
        let mut p = lines("2580\r\nJUKI2026\n");
        assert!(!p.is_terminal());
        assert_eq!(p.ask(PinId::Juki).unwrap().as_bytes(), b"2580");
        assert_eq!(p.ask(PinId::Sign).unwrap().as_bytes(), b"JUKI2026");
        assert!(matches!(p.ask(PinId::Juki), Err(Error::InvalidInput(_))));
    }

    #[test]
    fn new_pins_are_checked() {
        let mut p = lines("1234\n2580\nabc\n");
        assert!(p.ask_new(PinId::Juki, None).is_err());
        assert_eq!(p.ask_new(PinId::Juki, None).unwrap().as_bytes(), b"2580");
        assert!(p.ask_new(PinId::Sign, None).is_err());
        let mut p = lines("0415\n");
        assert!(p.ask_new(PinId::Auth, Some(b"0415")).is_err());
    }

    #[test]
    fn empty_pin_is_refused() {
        let mut p = lines("\n");
        assert!(p.ask(PinId::Juki).is_err());
    }

    #[test]
    fn debug_never_shows_the_pin() {
        let pin = Pin::from("2580");
        assert_eq!(format!("{pin:?}"), "Pin(***)");
    }
}
