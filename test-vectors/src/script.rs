//! The transcript language: parsing of byte expressions and the line-by-line runner.
//!
//! See `test-vectors/README.md` for the format.

use std::collections::HashMap;

use juki_card::apdu::CommandApdu;
use juki_card::cvc::Role;
use juki_card::sm::{self, SecureChannel};
use p256::ecdsa::signature::hazmat::PrehashVerifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use rand_core::OsRng;

use crate::{keys, Exchange, ReplayError, ReplayStats, Transcript};

/// A byte expression that does not parse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError(pub String);

/// Parses a byte expression: hex digits, `"UTF-8 text"`, `${VAR}` and `TAG { … }` (a BER-TLV
/// data object whose length is computed).
pub fn parse_bytes(text: &str, vars: &HashMap<String, Vec<u8>>) -> Result<Vec<u8>, ParseError> {
    let tokens = tokenize(text)?;
    let mut pos = 0;
    let out = parse_seq(&tokens, &mut pos, vars)?;
    if pos != tokens.len() {
        return Err(ParseError("unbalanced '}'".into()));
    }
    Ok(out)
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Hex(Vec<u8>),
    Text(String),
    Var(String),
    Open,
    Close,
}

fn tokenize(text: &str) -> Result<Vec<Token>, ParseError> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    let mut hex = String::new();
    let flush = |hex: &mut String, tokens: &mut Vec<Token>| -> Result<(), ParseError> {
        if !hex.is_empty() {
            let bytes = hex::decode(&*hex).map_err(|e| ParseError(format!("hex '{hex}': {e}")))?;
            tokens.push(Token::Hex(bytes));
            hex.clear();
        }
        Ok(())
    };
    while let Some(c) = chars.next() {
        match c {
            c if c.is_ascii_hexdigit() => hex.push(c),
            c if c.is_whitespace() => flush(&mut hex, &mut tokens)?,
            '{' => {
                flush(&mut hex, &mut tokens)?;
                tokens.push(Token::Open);
            }
            '}' => {
                flush(&mut hex, &mut tokens)?;
                tokens.push(Token::Close);
            }
            '"' => {
                flush(&mut hex, &mut tokens)?;
                let mut s = String::new();
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some(c) => s.push(c),
                        None => return Err(ParseError("unterminated string".into())),
                    }
                }
                tokens.push(Token::Text(s));
            }
            '$' => {
                flush(&mut hex, &mut tokens)?;
                if chars.next() != Some('{') {
                    return Err(ParseError("expected '${'".into()));
                }
                let mut name = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some(c) => name.push(c),
                        None => return Err(ParseError("unterminated ${".into())),
                    }
                }
                tokens.push(Token::Var(name));
            }
            other => return Err(ParseError(format!("unexpected character '{other}'"))),
        }
    }
    flush(&mut hex, &mut tokens)?;
    Ok(tokens)
}

fn parse_seq(
    tokens: &[Token],
    pos: &mut usize,
    vars: &HashMap<String, Vec<u8>>,
) -> Result<Vec<u8>, ParseError> {
    let mut out = Vec::new();
    while let Some(token) = tokens.get(*pos) {
        match token {
            Token::Close => return Ok(out),
            Token::Open => return Err(ParseError("'{' must follow a tag".into())),
            Token::Hex(bytes) if tokens.get(*pos + 1) == Some(&Token::Open) => {
                *pos += 2;
                let value = parse_seq(tokens, pos, vars)?;
                if tokens.get(*pos) != Some(&Token::Close) {
                    return Err(ParseError("missing '}'".into()));
                }
                *pos += 1;
                out.extend_from_slice(bytes);
                out.extend_from_slice(&length_octets(value.len())?);
                out.extend_from_slice(&value);
            }
            Token::Hex(bytes) => {
                out.extend_from_slice(bytes);
                *pos += 1;
            }
            Token::Text(s) => {
                out.extend_from_slice(s.as_bytes());
                *pos += 1;
            }
            Token::Var(name) => {
                let value = vars
                    .get(name)
                    .ok_or_else(|| ParseError(format!("unknown variable {name}")))?;
                out.extend_from_slice(value);
                *pos += 1;
            }
        }
    }
    Ok(out)
}

fn length_octets(len: usize) -> Result<Vec<u8>, ParseError> {
    Ok(match len {
        0..=0x7F => vec![len as u8],
        0x80..=0xFF => vec![0x81, len as u8],
        0x100..=0xFFFF => vec![0x82, (len >> 8) as u8, len as u8],
        _ => return Err(ParseError("TLV value too long".into())),
    })
}

/// Builds a command APDU from `H H H H [data] [Le XX|Le XXXX]`, computing Lc; short form when
/// it fits, extended otherwise (or when `Le` is given as two bytes).
pub fn build_command(
    header: &[u8],
    data: Option<Vec<u8>>,
    le: Option<Vec<u8>>,
) -> Result<Vec<u8>, ParseError> {
    if header.len() != 4 {
        return Err(ParseError("a command needs 4 header bytes".into()));
    }
    let data = data.unwrap_or_default();
    let extended = data.len() > 255 || le.as_ref().is_some_and(|l| l.len() == 2);
    let mut apdu = header.to_vec();
    if !data.is_empty() {
        if extended {
            apdu.push(0);
            apdu.extend_from_slice(&(data.len() as u16).to_be_bytes());
        } else {
            apdu.push(data.len() as u8);
        }
        apdu.extend_from_slice(&data);
    }
    if let Some(le) = le {
        match (extended, data.is_empty(), le.len()) {
            (false, _, 1) => apdu.extend_from_slice(&le),
            (true, true, 2) => {
                apdu.push(0);
                apdu.extend_from_slice(&le);
            }
            (true, false, 2) => apdu.extend_from_slice(&le),
            _ => {
                return Err(ParseError(
                    "Le must be 1 byte (short) or 2 (extended)".into(),
                ))
            }
        }
    }
    Ok(apdu)
}

pub(crate) struct Runner<'a> {
    card: &'a mut dyn Exchange,
    vars: HashMap<String, Vec<u8>>,
    last: Vec<u8>,
    last_auth: Option<Vec<u8>>,
    /// The counter's secure-messaging session, after `@counter-auth`.
    sm: Option<SecureChannel>,
    /// The APDUs (links) of the last protected command, for `@replay-protected`.
    last_protected: Vec<Vec<u8>>,
    stats: ReplayStats,
    depth: usize,
}

type Fail = (usize, String);

impl<'a> Runner<'a> {
    pub(crate) fn new(card: &'a mut dyn Exchange) -> Self {
        let mut vars = HashMap::new();
        vars.insert("ROOT_PUB".into(), keys::public_point(&keys::root()));
        vars.insert("JUKI_AID".into(), juki_aid());
        vars.insert("JPKI_AID".into(), jpki_aid());
        Runner {
            card,
            vars,
            last: Vec::new(),
            last_auth: None,
            sm: None,
            last_protected: Vec::new(),
            stats: ReplayStats::default(),
            depth: 0,
        }
    }

    pub(crate) fn stats(&self) -> ReplayStats {
        self.stats
    }

    pub(crate) fn run(&mut self, transcript: &Transcript) -> Result<(), ReplayError> {
        for (index, raw) in transcript.text.lines().enumerate() {
            let line = strip_comment(raw).trim();
            if line.is_empty() {
                continue;
            }
            self.line(line)
                .map_err(|(inner_line, message)| ReplayError {
                    transcript: transcript.name.to_string(),
                    line: if inner_line == 0 {
                        index + 1
                    } else {
                        inner_line
                    },
                    message,
                })?;
        }
        Ok(())
    }

    fn line(&mut self, line: &str) -> Result<(), Fail> {
        let err = |m: String| (0, m);
        if let Some(rest) = line.strip_prefix('>') {
            let (plain, rest) = match rest.strip_prefix("plain") {
                Some(rest) => (true, rest),
                None => (false, rest),
            };
            let apdu = self.command(rest.trim()).map_err(|e| err(e.0))?;
            self.last = self.send(&apdu, plain).map_err(err)?;
            Ok(())
        } else if let Some(rest) = line.strip_prefix('<') {
            self.stats.checks += 1;
            self.expect(rest.trim()).map_err(err)
        } else if let Some(rest) = line.strip_prefix('@') {
            self.directive(rest.trim())
        } else {
            Err(err(format!("not a transcript line: {line}")))
        }
    }

    fn command(&self, text: &str) -> Result<Vec<u8>, ParseError> {
        let Some(open) = text.find('[') else {
            return parse_bytes(text, &self.vars);
        };
        let close = text
            .rfind(']')
            .ok_or_else(|| ParseError("missing ']'".into()))?;
        let header = parse_bytes(&text[..open], &self.vars)?;
        let data = parse_bytes(&text[open + 1..close], &self.vars)?;
        let tail = text[close + 1..].trim();
        let le = match tail.strip_prefix("Le") {
            Some(le) => Some(parse_bytes(le, &self.vars)?),
            None if tail.is_empty() => None,
            None => return Err(ParseError(format!("unexpected '{tail}'"))),
        };
        build_command(&header, Some(data), le)
    }

    fn command_no_data(&self, text: &str) -> Result<Vec<u8>, ParseError> {
        parse_bytes(text, &self.vars)
    }

    fn expect(&self, text: &str) -> Result<(), String> {
        let (data_part, sw_part) = match text.rsplit_once(char::is_whitespace) {
            Some((d, s)) => (d.trim(), s.trim()),
            None => ("", text),
        };
        let want_sw = hex::decode(sw_part).map_err(|e| format!("status word '{sw_part}': {e}"))?;
        if want_sw.len() != 2 {
            return Err(format!("status word '{sw_part}' is not 2 bytes"));
        }
        let (data, sw) = split_response(&self.last)?;
        if sw != want_sw.as_slice() {
            return Err(format!(
                "expected SW {}, card answered {} (data {})",
                hex::encode_upper(&want_sw),
                hex::encode_upper(sw),
                hex::encode_upper(data)
            ));
        }
        if data_part == "*" {
            return Ok(());
        }
        if let Some(n) = data_part.strip_prefix('#') {
            let n: usize = n.parse().map_err(|_| format!("bad length '{n}'"))?;
            return if data.len() == n {
                Ok(())
            } else {
                Err(format!("expected {n} bytes of data, got {}", data.len()))
            };
        }
        let data_part = data_part
            .strip_prefix('[')
            .and_then(|d| d.strip_suffix(']'))
            .unwrap_or(data_part);
        let want = parse_bytes(data_part, &self.vars).map_err(|e| e.0)?;
        if data == want.as_slice() {
            Ok(())
        } else {
            Err(format!(
                "expected data {}, got {}",
                hex::encode_upper(&want),
                hex::encode_upper(data)
            ))
        }
    }

    fn directive(&mut self, text: &str) -> Result<(), Fail> {
        let err = |m: String| (0, m);
        let mut words = text.split_whitespace();
        let name = words.next().unwrap_or("");
        let args: Vec<&str> = words.collect();
        match name {
            "include" => {
                let target = args.first().ok_or_else(|| err("include what?".into()))?;
                let t = crate::transcript(target)
                    .ok_or_else(|| err(format!("no transcript '{target}'")))?;
                if self.depth > 4 {
                    return Err(err("includes nested too deep".into()));
                }
                self.depth += 1;
                let result = self.run(t);
                self.depth -= 1;
                result.map_err(|e| err(format!("in included {e}")))
            }
            // A marker for `runnable_over_pcsc`; nothing to do when replaying.
            "in-process-only" => Ok(()),
            "reset" => {
                self.card.reset();
                self.sm = None;
                Ok(())
            }
            "let" => {
                let rest = text.trim_start_matches("let").trim();
                let (var, expr) = rest
                    .split_once('=')
                    .ok_or_else(|| err("@let NAME = bytes".into()))?;
                let value = parse_bytes(expr.trim(), &self.vars).map_err(|e| err(e.0))?;
                self.vars.insert(var.trim().to_string(), value);
                Ok(())
            }
            "save-pubkey" => {
                let var = args.first().ok_or_else(|| err("save-pubkey NAME".into()))?;
                let (data, _) = split_response(&self.last).map_err(err)?;
                let point = data
                    .strip_prefix(&[0x7F, 0x49, 0x43, 0x86, 0x41][..])
                    .filter(|p| p.len() == 65)
                    .ok_or_else(|| err("last response is not 7F49 43 86 41 point".into()))?;
                VerifyingKey::from_sec1_bytes(point)
                    .map_err(|_| err("last response is not a P-256 point".into()))?;
                self.vars.insert((*var).to_string(), point.to_vec());
                Ok(())
            }
            "check-signature" => {
                let var = args
                    .first()
                    .ok_or_else(|| err("check-signature KEY HASH".into()))?;
                let hash_text = args.get(1..).unwrap_or_default().join(" ");
                let hash = parse_bytes(&hash_text, &self.vars).map_err(|e| err(e.0))?;
                let point = self
                    .vars
                    .get(*var)
                    .ok_or_else(|| err(format!("no key {var}")))?;
                let key = VerifyingKey::from_sec1_bytes(point)
                    .map_err(|_| err(format!("{var} is not a key")))?;
                let (data, _) = split_response(&self.last).map_err(err)?;
                let sig = Signature::from_slice(data)
                    .map_err(|_| err(format!("{} bytes are not an r‖s signature", data.len())))?;
                key.verify_prehash(&hash, &sig)
                    .map_err(|_| err(format!("signature does not verify with {var}")))?;
                self.stats.checks += 1;
                Ok(())
            }
            "counter-auth" => self.counter_auth(&args).map_err(err),
            "certify-card" => self.certify_card(&args).map_err(err),
            "replay-protected" => {
                // A reader sending the last protected command again, byte for byte.
                if self.last_protected.is_empty() {
                    return Err(err("no protected command to replay".into()));
                }
                for apdu in self.last_protected.clone() {
                    self.last = self.card.transmit(&apdu);
                    self.stats.apdus += 1;
                }
                let want = args.first().copied().unwrap_or("6988");
                self.stats.checks += 1;
                self.expect(want).map_err(err)?;
                if self.last == [0x69, 0x88] {
                    self.sm = None;
                }
                Ok(())
            }
            other => Err(err(format!("unknown directive @{other}"))),
        }
    }

    /// Sends a command: as written when no secure-messaging session is up, when `plain`, or for
    /// the commands that are never protected (SELECT by AID, which also ends the session, GET
    /// RESPONSE, GET CHALLENGE, EXTERNAL AUTHENTICATE); else protected with the session
    /// ([`sm`]) — sent as one APDU, or as a chain of 255-byte links when longer, with GET
    /// RESPONSE as needed — and the card's protected answer checked and decrypted. Returns the
    /// plain answer (data ‖ SW) that the transcript's `<` line checks.
    fn send(&mut self, apdu: &[u8], plain: bool) -> Result<Vec<u8>, String> {
        let header = apdu.get(..4).unwrap_or(&[]);
        let (ins, p1) = (header.get(1).copied(), header.get(2).copied());
        if (ins, p1) == (Some(0xA4), Some(0x04)) {
            self.sm = None;
        }
        let unprotected = matches!(ins, Some(0xA4) if p1 == Some(0x04))
            || matches!(ins, Some(0xC0 | 0x84 | 0x82));
        if plain || unprotected || self.sm.is_none() {
            self.stats.apdus += 1;
            return Ok(self.card.transmit(apdu));
        }
        let Ok(command) = CommandApdu::parse(apdu) else {
            // A malformed command: the card answers it as written.
            self.stats.apdus += 1;
            return Ok(self.card.transmit(apdu));
        };
        if command.cla & 0x10 != 0 {
            return Err(
                "a chain link under secure messaging: write the whole command; the \
                        replay chains protected commands itself"
                    .into(),
            );
        }
        let mut wrapped: heapless::Vec<u8, { sm::MAX_WRAPPED }> = heapless::Vec::new();
        let session = self.sm.as_mut().ok_or("no session")?;
        let cla = session
            .wrap_command(
                [command.cla, command.ins, command.p1, command.p2],
                command.data,
                command.ne,
                &mut wrapped,
            )
            .map_err(|e| format!("secure messaging: {e:?}"))?;
        let mut response = Vec::new();
        self.last_protected.clear();
        let links: Vec<&[u8]> = wrapped.chunks(255).collect();
        for (i, link) in links.iter().enumerate() {
            let last = i + 1 == links.len();
            let mut outer = vec![if last { cla } else { cla | 0x10 }, command.ins];
            outer.extend_from_slice(&[command.p1, command.p2, link.len() as u8]);
            outer.extend_from_slice(link);
            if last {
                outer.push(0x00);
            }
            self.stats.apdus += 1;
            response = self.card.transmit(&outer);
            self.last_protected.push(outer);
            if !last && response != [0x90, 0x00] {
                return Ok(response);
            }
        }
        let mut data = Vec::new();
        loop {
            let (part, sw) = split_response(&response)?;
            data.extend_from_slice(part);
            if sw.first() != Some(&0x61) {
                break;
            }
            self.stats.apdus += 1;
            response = self.card.transmit(&[0x00, 0xC0, 0x00, 0x00, sw[1]]);
        }
        let (_, outer_sw) = split_response(&response)?;
        if data.is_empty() && outer_sw == [0x69, 0x88] {
            // The card refused the protection itself and ended the session.
            self.sm = None;
            return Ok(vec![0x69, 0x88]);
        }
        let mut plain_data: heapless::Vec<u8, { juki_card::MAX_RESPONSE }> = heapless::Vec::new();
        let session = self.sm.as_mut().ok_or("no session")?;
        let sw = session
            .unwrap_response(&data, &mut plain_data)
            .map_err(|e| format!("the card's protected answer does not verify: {e:?}"))?;
        if sw.to_be_bytes() != outer_sw {
            return Err(format!(
                "protected answer with status word {sw:04X} inside and {} outside",
                hex::encode_upper(outer_sw)
            ));
        }
        if command.ins == 0xFE && sw == 0x9000 {
            // TERMINATE CARD USAGE forgets the security status: the session is over.
            self.sm = None;
        }
        let mut out = plain_data.to_vec();
        out.extend_from_slice(&sw.to_be_bytes());
        Ok(out)
    }

    /// `@certify-card [valid|other-key|foreign|counter-role] [SW]`: the manufacturer's step
    /// after PUT DATA `C1`: certifies the public key the card answered (the last response, kept
    /// as `${CARD_PUB}`) as card `JK0000000001` with the test root, and sends PUT DATA `C2`.
    /// The variants are the certificates the card must refuse: another key's, another root's,
    /// a counter's.
    fn certify_card(&mut self, args: &[&str]) -> Result<(), String> {
        let variant = args.first().copied().unwrap_or("valid");
        let want_sw = args.get(1).copied().unwrap_or("9000");
        if let Ok((data, _)) = split_response(&self.last) {
            if let Some(point) = data
                .strip_prefix(&[0x7F, 0x49, 0x43, 0x86, 0x41][..])
                .filter(|p| p.len() == 65)
            {
                self.vars.insert("CARD_PUB".into(), point.to_vec());
            }
        }
        let card_pub = self
            .vars
            .get("CARD_PUB")
            .cloned()
            .ok_or("no card public key: PUT DATA C1 with Le first")?;
        let serial = "JK0000000001";
        let (root, role, key, holder) = match variant {
            "valid" => (keys::root(), Role::Card, card_pub, serial),
            "other-key" => (
                keys::root(),
                Role::Card,
                keys::public_point(&keys::wrong_counter()),
                serial,
            ),
            "foreign" => (keys::foreign_root(), Role::Card, card_pub, serial),
            "counter-role" => (keys::root(), Role::Counter, card_pub, "131016"),
            other => return Err(format!("unknown certify-card variant '{other}'")),
        };
        let cert = keys::certificate_for(
            &root,
            role,
            &key,
            holder,
            keys::CARD_NAME,
            keys::CARD_VALIDITY,
            true,
        );
        let apdu = build_command(&[0x00, 0xDA, 0x00, 0xC2], Some(cert), None).map_err(|e| e.0)?;
        self.last = self.card.transmit(&apdu);
        self.stats.apdus += 1;
        self.stats.checks += 1;
        self.expect(want_sw)
    }

    /// `@counter-auth [valid|foreign|expired|wrong-key|replay|no-challenge|pre-issued] [SW]`:
    /// the counter's half of the mutual authentication; on `9000` the card's answer is checked
    /// as the counter checks it (certificate of the test root, signature over the transcript)
    /// before the session keys are derived.
    fn counter_auth(&mut self, args: &[&str]) -> Result<(), String> {
        let variant = args.first().copied().unwrap_or("valid");
        let want_sw = args.get(1).copied().unwrap_or("9000");
        let mut challenge = Vec::new();
        if variant != "no-challenge" {
            let get_challenge = self.command_no_data("00 84 00 00 10").map_err(|e| e.0)?;
            self.last = self.card.transmit(&get_challenge);
            self.stats.apdus += 1;
            let (data, sw) = split_response(&self.last)?;
            if sw != [0x90, 0x00] || data.len() != juki_card::cvc::CHALLENGE_LEN {
                return Err(format!(
                    "GET CHALLENGE answered {} {}",
                    hex::encode_upper(data),
                    hex::encode_upper(sw)
                ));
            }
            challenge = data.to_vec();
        }
        self.sm = None;
        let ephemeral = p256::NonZeroScalar::random(&mut OsRng);
        let point = p256::PublicKey::from_secret_scalar(&ephemeral).to_encoded_point(false);
        let eph = point.as_bytes();
        let with = |cert: Vec<u8>, key: &p256::ecdsa::SigningKey| {
            keys::auth_data(&cert, key, &challenge, eph)
        };
        let data = match variant {
            "valid" | "no-challenge" => with(keys::counter_certificate(), &keys::counter()),
            "foreign" => with(keys::foreign_certificate(), &keys::counter()),
            "expired" => with(keys::expired_certificate(), &keys::counter()),
            "pre-issued" => with(keys::pre_issued_certificate(), &keys::counter()),
            "wrong-key" => with(keys::counter_certificate(), &keys::wrong_counter()),
            "replay" => self
                .last_auth
                .clone()
                .ok_or("no earlier counter authentication to replay")?,
            other => return Err(format!("unknown counter-auth variant '{other}'")),
        };
        self.last_auth = Some(data.clone());
        let apdu = build_command(
            &[0x00, 0x82, 0x00, 0x00],
            Some(data.clone()),
            Some(vec![0, 0]),
        )
        .map_err(|e| e.0)?;
        let response = self.card.transmit(&apdu);
        self.stats.apdus += 1;
        self.stats.checks += 1;
        let (answer, sw) = split_response(&response)?;
        if sw == [0x90, 0x00] {
            // The card's answer, checked as the counter checks it; then ECDH and the session
            // keys, as the counter derives them.
            let today = juki_card::cvc::Date::from_ymd(2027, 1, 1).ok_or("date")?;
            let root = *keys::root().verifying_key();
            let card = juki_card::cvc::verify_card_answer(answer, &root, today, &challenge, &data)
                .map_err(|e| {
                    format!(
                        "the card's answer to EXTERNAL AUTHENTICATE does not verify ({e:?}): {}",
                        hex::encode_upper(answer)
                    )
                })?;
            let counter_key = <[u8; sm::POINT_LEN]>::try_from(eph)
                .map_err(|_| "ephemeral key length".to_string())?;
            let session = SecureChannel::agree(&ephemeral, &challenge, &counter_key, &card)
                .map_err(|e| format!("the card's ephemeral key: {e:?}"))?;
            self.sm = Some(session);
        }
        self.last = sw.to_vec();
        self.expect(want_sw)
    }
}

fn split_response(response: &[u8]) -> Result<(&[u8], &[u8]), String> {
    if response.len() < 2 {
        return Err(format!(
            "response of {} bytes has no status word",
            response.len()
        ));
    }
    Ok(response.split_at(response.len() - 2))
}

/// A transcript line without its comment (`#` outside a string and not a `#N` length).
pub fn strip_comment(line: &str) -> &str {
    // A '#' starts a comment unless it is inside a string or is a '#N' length expectation.
    let mut in_string = false;
    for (i, c) in line.char_indices() {
        match c {
            '"' => in_string = !in_string,
            '#' if !in_string => {
                let next = line[i + 1..].chars().next();
                if !next.is_some_and(|n| n.is_ascii_digit()) {
                    return &line[..i];
                }
            }
            _ => {}
        }
    }
    line
}

/// 住基AP AID.
pub(crate) fn juki_aid() -> Vec<u8> {
    vec![0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x01]
}

/// JPKI AP AID.
pub(crate) fn jpki_aid() -> Vec<u8> {
    vec![0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> HashMap<String, Vec<u8>> {
        let mut v = HashMap::new();
        v.insert("X".to_string(), vec![0xAB, 0xCD]);
        v
    }

    #[test]
    fn parses_hex_text_vars_and_tlv() {
        let v = vars();
        assert_eq!(
            parse_bytes("00 A4 040C", &v).unwrap(),
            vec![0, 0xA4, 4, 0x0C]
        );
        assert_eq!(parse_bytes("\"1 2\"", &v).unwrap(), b"1 2".to_vec());
        assert_eq!(parse_bytes("${X} 01", &v).unwrap(), vec![0xAB, 0xCD, 1]);
        assert_eq!(
            parse_bytes("FF20 { DF21 { \"ab\" } 86 { ${X} } }", &v).unwrap(),
            vec![0xFF, 0x20, 0x09, 0xDF, 0x21, 0x02, b'a', b'b', 0x86, 0x02, 0xAB, 0xCD]
        );
        let long = format!("86 {{ \"{}\" }}", "x".repeat(200));
        assert_eq!(&parse_bytes(&long, &v).unwrap()[..3], &[0x86, 0x81, 200]);
    }

    #[test]
    fn refuses_bad_expressions() {
        let v = vars();
        assert!(parse_bytes("0", &v).is_err());
        assert!(parse_bytes("86 { 01", &v).is_err());
        assert!(parse_bytes("01 }", &v).is_err());
        assert!(parse_bytes("${Y}", &v).is_err());
        assert!(parse_bytes("\"open", &v).is_err());
        assert!(parse_bytes("zz", &v).is_err());
    }

    #[test]
    fn builds_short_and_extended_commands() {
        let short = build_command(&[0, 0xD6, 0, 0], Some(vec![1, 2]), None).unwrap();
        assert_eq!(short, vec![0, 0xD6, 0, 0, 2, 1, 2]);
        let ext = build_command(&[0, 0xD6, 0, 0], Some(vec![7; 300]), None).unwrap();
        assert_eq!(&ext[4..7], &[0, 0x01, 0x2C]);
        assert_eq!(ext.len(), 7 + 300);
        let read = build_command(&[0, 0xB0, 0, 0], None, Some(vec![0, 0])).unwrap();
        assert_eq!(read, vec![0, 0xB0, 0, 0, 0, 0, 0]);
        let case4 = build_command(&[0, 0xA4, 4, 0], Some(vec![1]), Some(vec![0])).unwrap();
        assert_eq!(case4, vec![0, 0xA4, 4, 0, 1, 1, 0]);
    }

    #[test]
    fn comments_are_stripped_but_lengths_kept() {
        assert_eq!(strip_comment("< #64 9000 # sig"), "< #64 9000 ");
        assert_eq!(strip_comment("> \"a#b\" # c"), "> \"a#b\" ");
    }

    struct Echo(Vec<Vec<u8>>);
    impl Exchange for Echo {
        fn transmit(&mut self, apdu: &[u8]) -> Vec<u8> {
            self.0.push(apdu.to_vec());
            vec![0x90, 0x00]
        }
        fn reset(&mut self) {}
    }

    #[test]
    fn replay_reports_the_failing_line() {
        let t = Transcript {
            name: "t",
            text: "> 00 A4 04 0C [${JUKI_AID}]\n< 9000\n\n> 00B00000 00\n< 6982\n",
        };
        let mut card = Echo(Vec::new());
        let err = t.replay(&mut card).unwrap_err();
        assert_eq!(err.line, 5);
        assert!(err.message.contains("expected SW 6982"), "{}", err.message);
        assert_eq!(card.0[0][4], 10);
    }
}
