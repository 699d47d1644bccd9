//! The typed card API: what the citizen's PC and the municipal counter do with a card, one
//! method each, over any [`Transport`]. Every command is docs/apdu.md; status words come back as
//! [`Error`]s.
//!
//! A sequence that verifies a PIN (or authenticates the counter) and then uses it runs inside one
//! exclusive transaction ([`Transport::exclusive`]), so no other application can slip a command
//! (or a reset) between the VERIFY and the commands it unlocks.

use juki_card::sm::{self, SecureChannel};
use juki_card::tlv;
use p256::ecdsa::{Signature, VerifyingKey};

use juki_card::command::{Command, KeyPairMode, SessionChange};
use juki_card::files::EfId;
use juki_card::status::Status;

use crate::authority::{sec1_uncompressed, CounterCredential};
use crate::error::{AuthFailure, Error, Result};
use crate::framing;
use crate::pin::Pin;
use crate::pin::{App, PinId, PinRules};
use crate::resident::{capacity, CardInfo, ChangeInfo, FourInfo, ResidentRecord};
use crate::resident_code::ResidentCode;
use crate::transport::Transport;

/// The token label written to JPKI EF 0006.
pub const TOKEN_LABEL: &[u8] = b"JPKIAPICCTOKEN";

/// Where the card is in its life (docs/apdu.md, "Lifecycle"): the card core's own enum.
pub use juki_card::lifecycle::{Lifecycle, Transition};

/// A lifecycle state as the host shows it, e.g. `issued (交付済み)`.
pub fn lifecycle_text(state: Lifecycle) -> &'static str {
    match state {
        Lifecycle::Blank => "blank (未初期化)",
        Lifecycle::Initialised => "initialised, not issued (初期化済み・未交付)",
        Lifecycle::Issued => "issued (交付済み)",
        Lifecycle::Suspended => "suspended (一時停止中)",
        Lifecycle::Terminated => "terminated (返納・廃止済み)",
    }
}

/// What VERIFY without data tells about a PIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinStatus {
    /// Verified in this session.
    Verified,
    /// Not verified; this many tries left.
    TriesLeft(u8),
    /// Locked (too many wrong tries); reset at the counter.
    Blocked,
}

impl std::fmt::Display for PinStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PinStatus::Verified => f.write_str("verified in this session"),
            PinStatus::TriesLeft(n) => write!(
                f,
                "{n} {} left (残り{n}回)",
                if *n == 1 { "try" } else { "tries" }
            ),
            PinStatus::Blocked => f.write_str("LOCKED (ロック中): reset at the municipal counter"),
        }
    }
}

/// One of the card's private keys (JPKI AP): the card core's identifier.
pub use juki_card::files::KeyId;

/// Everything the counter writes when it issues a card.
#[derive(Debug, Clone)]
pub struct Personalisation {
    /// 住民票コード (generated, never chosen).
    pub code: ResidentCode,
    /// 4 info.
    pub info: FourInfo,
    /// Change information (may be empty).
    pub changes: ChangeInfo,
    /// Card information.
    pub card: CardInfo,
    /// Initial 住基 PIN.
    pub juki_pin: Pin,
    /// Initial auth PIN.
    pub auth_pin: Pin,
    /// Initial sign password.
    pub sign_pin: Pin,
}

/// The public keys of the key pairs generated on the card at issue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IssuedKeys {
    /// Authentication key.
    pub auth: VerifyingKey,
    /// Signing key.
    pub sign: VerifyingKey,
}

/// The four JPKI certificate files (DER) written at the counter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JpkiFiles {
    /// Signing certificate (EF 0001).
    pub sign: Vec<u8>,
    /// Signing CA certificate (EF 0002).
    pub sign_ca: Vec<u8>,
    /// Authentication certificate (EF 000A).
    pub auth: Vec<u8>,
    /// Authentication CA certificate (EF 000B).
    pub auth_ca: Vec<u8>,
}

/// What a card proved about itself in the mutual authentication
/// ([`JukiCard::counter_authenticate`]): nothing here came from a plain read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardIdentity {
    /// The serial its certificate binds to the key that signed the answer.
    pub serial: String,
    /// Its lifecycle state, under its signature.
    pub lifecycle: Lifecycle,
    /// The card's own public key (SEC1 uncompressed), as its root-certified certificate binds
    /// it to the serial: the key that signed the answer.
    pub public_key: Vec<u8>,
}

/// The counter's session with a card: the secure-messaging keys and the card they were agreed
/// with.
#[derive(Debug)]
struct CounterSession {
    sm: SecureChannel,
    card: CardIdentity,
}

/// A resident registry card behind a transport.
#[derive(Debug)]
pub struct JukiCard<T: Transport> {
    t: T,
    /// The counter's session, from [`JukiCard::counter_authenticate`] to the next SELECT by AID
    /// (or an error of the protection). While it is up, every command but those that set a
    /// session up or end it goes protected, and every answer comes authenticated.
    session: Option<CounterSession>,
}

/// The card certificates this process has verified against a root (SHA-256 of root ‖
/// certificate): a counter authenticates the same card two or three times an operation, and the
/// root's signature on its certificate need not be checked again. Role, expiry and the card's
/// signature over each exchange always are.
fn verified_card_certificates() -> &'static std::sync::Mutex<std::collections::HashSet<[u8; 32]>> {
    static VERIFIED: std::sync::OnceLock<std::sync::Mutex<std::collections::HashSet<[u8; 32]>>> =
        std::sync::OnceLock::new();
    VERIFIED.get_or_init(Default::default)
}

/// At most this many verified card certificates are remembered.
const VERIFIED_CERTIFICATES: usize = 1024;

/// [`juki_card::cvc::SignatureCheck`] with `ring` ([`verify_p256`]).
fn ring_check(key: &[u8], parts: &[&[u8]], signature: &[u8]) -> bool {
    verify_p256(key, &parts.concat(), signature)
}

/// Whether `signature` (`r‖s`, 64 bytes) is an ECDSA P-256 / SHA-256 signature of `message`
/// by the SEC1 public key `key`. With `ring`: the host checks the card's signatures on its hot
/// paths (two at every counter authentication, one on every document signed), and ring's P-256
/// is several times faster than the p256 crate's (docs/performance.md). The card core keeps
/// the p256 crate (no_std, no alloc).
pub fn verify_p256(key: &[u8], message: &[u8], signature: &[u8]) -> bool {
    use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, key)
        .verify(message, signature)
        .is_ok()
}

/// [`juki_card::cvc::verify_card_answer`], the root's signature on the card's certificate
/// checked once per process ([`verified_card_certificates`]), the signatures by [`ring_check`].
fn verify_card_answer<'a>(
    answer: &'a [u8],
    root: &VerifyingKey,
    today: crate::date::Date,
    challenge: &[u8],
    counter_data: &[u8],
) -> std::result::Result<juki_card::cvc::CardAnswer<'a>, juki_card::cvc::CvcError> {
    use sha2::{Digest, Sha256};
    let parts = juki_card::cvc::parse_card_answer(answer)?;
    let id: [u8; 32] = Sha256::new()
        .chain_update(sec1_uncompressed(root))
        .chain_update(parts.cert_bytes)
        .finalize()
        .into();
    let cache = verified_card_certificates();
    let known = cache.lock().map(|set| set.contains(&id)).unwrap_or(false);
    let root = sec1_uncompressed(root);
    let verified = parts.verify_with(
        (!known).then_some(root.as_slice()),
        today,
        challenge,
        counter_data,
        &ring_check,
    )?;
    if !known {
        if let Ok(mut set) = cache.lock() {
            if set.len() >= VERIFIED_CERTIFICATES {
                set.clear();
            }
            set.insert(id);
        }
    }
    Ok(verified)
}

impl<T: Transport> JukiCard<T> {
    /// Wraps a transport.
    pub fn new(t: T) -> JukiCard<T> {
        JukiCard { t, session: None }
    }

    /// The transport.
    pub fn transport(&mut self) -> &mut T {
        &mut self.t
    }

    /// The card the counter's session was agreed with, while it is up.
    pub fn authenticated(&self) -> Option<&CardIdentity> {
        self.session.as_ref().map(|s| &s.card)
    }

    /// Gives the transport back.
    pub fn into_inner(self) -> T {
        self.t
    }

    /// Runs `f` inside one exclusive transaction on the card.
    pub fn exclusive<R, E: From<Error>>(
        &mut self,
        f: impl FnOnce(&mut JukiCard<&mut dyn Transport>) -> std::result::Result<R, E>,
    ) -> std::result::Result<R, E> {
        let mut f = Some(f);
        let mut out = None;
        let ended = self.t.exclusive(&mut |t: &mut dyn Transport| {
            let f = f
                .take()
                .ok_or_else(|| Error::Protocol("transaction body ran twice".into()))?;
            let mut card = JukiCard::new(t);
            let failed = {
                let result = f(&mut card);
                let failed = result.is_err();
                out = Some(result);
                failed
            };
            if failed {
                // The body's own error (of the caller's type) is returned below; the transport
                // only needs to know that the work failed.
                return Err(Error::Protocol("the transaction's work failed".into()));
            }
            Ok(())
        });
        match out {
            Some(Err(e)) => Err(e),
            Some(Ok(r)) => ended.map(|()| r).map_err(E::from),
            None => Err(E::from(ended.err().unwrap_or_else(|| {
                Error::Protocol("transaction body did not run".into())
            }))),
        }
    }

    fn send(&mut self, cmd: Command<'_>) -> Result<Vec<u8>> {
        self.sw(cmd)?.ok()
    }

    /// The framing's form of a typed command: its header, data and Ne (extended where the
    /// reader takes it).
    fn framed(&self, cmd: &Command<'_>) -> framing::Command {
        let [cla, ins, p1, p2] = cmd.header();
        let ne = cmd.expect().ne(self.t.supports_extended_length());
        framing::Command {
            cla,
            ins,
            p1,
            p2,
            data: cmd.data().to_vec(),
            le: (ne > 0).then_some(ne),
        }
    }

    /// One command: under the counter's session protected unless the card's rule says it
    /// never is ([`Command::protected_in_session`]), anything else as it is; the session then
    /// lives or ends as the card's own rule says ([`Command::counter_session_after`]).
    fn sw(&mut self, cmd: Command<'_>) -> Result<framing::Response> {
        let framed = self.framed(&cmd);
        let resp = match self.session.take() {
            Some(session) if cmd.protected_in_session() => self.protected(session, &framed)?,
            other => {
                self.session = other;
                framing::exchange(&mut self.t, &framed)?
            }
        };
        if cmd.counter_session_after(Status::from_sw(resp.sw)) == SessionChange::Ended {
            self.session = None;
        }
        Ok(resp)
    }

    /// Sends `cmd` protected with the session (ISO/IEC 7816-4 secure messaging, [`sm`]) and
    /// checks and decrypts the card's protected answer. Only that answer says what the card
    /// did: a plain status word (the card refusing the protection itself, or a reader answering
    /// in its place) or an answer that does not verify is [`Error::OutcomeUnknown`] and ends the
    /// session.
    fn protected(
        &mut self,
        mut session: CounterSession,
        cmd: &framing::Command,
    ) -> Result<framing::Response> {
        let mut wrapped: heapless::Vec<u8, { sm::MAX_WRAPPED }> = heapless::Vec::new();
        let cla = session
            .sm
            .wrap_command(
                [cmd.cla, cmd.ins, cmd.p1, cmd.p2],
                &cmd.data,
                cmd.le.unwrap_or(0),
                &mut wrapped,
            )
            .map_err(|e| Error::Protocol(format!("secure messaging: {e:?}")))?;
        let le = juki_card::command::Expect::All.ne(self.t.supports_extended_length());
        let outer = framing::Command::new(cla, cmd.ins, cmd.p1, cmd.p2)
            .with_data(wrapped.to_vec())
            .with_le(le);
        let resp = framing::exchange(&mut self.t, &outer)?;
        if resp.data.is_empty() {
            return Err(Error::OutcomeUnknown(format!(
                "{:04X} without protection",
                resp.sw
            )));
        }
        let mut plain: heapless::Vec<u8, { juki_card::MAX_RESPONSE }> = heapless::Vec::new();
        let sw = session
            .sm
            .unwrap_response(&resp.data, &mut plain)
            .map_err(|e| Error::OutcomeUnknown(format!("an answer that does not verify: {e:?}")))?;
        // The status word inside is the authenticated one; the one outside is the reader's.
        // Whether the command ended the session is decided by the caller, on that one.
        self.session = Some(session);
        Ok(framing::Response {
            data: plain.to_vec(),
            sw,
        })
    }

    /// SELECT an application by AID (`00 A4 04 0C`). Clears the card's security status.
    ///
    /// The application of a suspended or terminated card is selected too (the card answers the
    /// warning `6283` or `6285`): the counter still works on a suspended card, and anyone can
    /// read the card information of a terminated one. The holder's commands that follow fail
    /// with [`Error::CardSuspended`] or [`Error::CardTerminated`].
    pub fn select_app(&mut self, app: App) -> Result<()> {
        let resp = self.sw(Command::SelectApp {
            aid: app.aid(),
            fci: false,
        })?;
        if Status::from_sw(resp.sw).application_selected() {
            Ok(())
        } else {
            Err(Error::from_sw(resp.sw).unwrap_or(Error::UnexpectedStatus(resp.sw)))
        }
    }

    /// SELECT an EF of the current application (`00 A4 02 0C 02 FID`).
    pub fn select_file(&mut self, ef: EfId) -> Result<()> {
        self.send(Command::SelectFile { fid: ef.fid() })?;
        Ok(())
    }

    /// Reads the whole current EF (at most `max` bytes).
    pub fn read_current(&mut self, max: usize) -> Result<Vec<u8>> {
        self.read_whole(None, max)
    }

    /// Reads EF `fid` of the current application whole: READ BINARY naming it by its short
    /// identifier, so one APDU where the reader takes extended length (short reads by offset
    /// otherwise; one protected APDU under the counter's session). The EF is current
    /// afterwards, as after SELECT.
    pub fn read_file(&mut self, ef: EfId, max: usize) -> Result<Vec<u8>> {
        self.read_whole(Some(ef.sfi()), max)
    }

    /// Reads the whole EF (`sfi`, or the current one): under the counter's session one
    /// protected READ BINARY of `max` bytes; otherwise one READ BINARY with extended Le
    /// (65536) when the reader takes extended length, short READ BINARYs by offset until a
    /// short read otherwise. The first names the EF by its short identifier, which makes it
    /// current for the reads by offset that may follow. A card answering more than `max` is
    /// malformed.
    fn read_whole(&mut self, sfi: Option<u8>, max: usize) -> Result<Vec<u8>> {
        let read = |offset: u16, ne: usize| Command::ReadBinary {
            sfi: if offset == 0 { sfi } else { None },
            offset,
            ne,
        };
        if self.session.is_some() {
            return self.send(read(0, max));
        }
        let too_long = |len: usize| {
            Error::Protocol(format!(
                "file of {len} bytes or more, at most {max} expected"
            ))
        };
        if self.t.supports_extended_length() {
            let data = self.send(read(0, juki_card::command::MAX_EXTENDED_NE))?;
            return if data.len() > max {
                Err(too_long(data.len()))
            } else {
                Ok(data)
            };
        }
        let mut out = Vec::new();
        loop {
            let offset = u16::try_from(out.len())
                .ok()
                .filter(|o| *o <= 0x7FFF)
                .ok_or_else(|| Error::Protocol("file longer than READ BINARY offsets".into()))?;
            let resp = self.sw(read(offset, juki_card::command::MAX_SHORT_NE))?;
            if offset > 0
                && Status::from_sw(resp.sw)
                    == Status::Error(juki_card::status::Error::OffsetOutside)
            {
                // The file ended exactly at a 256-byte boundary.
                break;
            }
            let part = resp.ok()?;
            out.extend_from_slice(&part);
            if out.len() > max {
                return Err(too_long(out.len()));
            }
            if part.len() < juki_card::command::MAX_SHORT_NE {
                break;
            }
        }
        Ok(out)
    }

    /// Replaces the content of EF `fid` of the current application (counter only): one UPDATE
    /// BINARY at offset 0 naming the EF by its short identifier, chained or extended as needed,
    /// so the card replaces it atomically in one command.
    pub fn write_file(&mut self, ef: EfId, data: &[u8]) -> Result<()> {
        self.send(Command::UpdateBinary {
            sfi: Some(ef.sfi()),
            offset: 0,
            data,
        })?;
        Ok(())
    }

    /// Where the card is in its life: the life cycle status byte (`8A`) of the 住基AP's FCI
    /// (SELECT by AID with P2 `00`, which answers `6F { 84 AID, 8A LCS }`). Like every SELECT
    /// by AID, it clears the card's security status.
    pub fn lifecycle(&mut self) -> Result<Lifecycle> {
        let resp = self.sw(Command::SelectApp {
            aid: App::Juki.aid(),
            fci: true,
        })?;
        if !Status::from_sw(resp.sw).application_selected() {
            return Err(Error::from_sw(resp.sw).unwrap_or(Error::UnexpectedStatus(resp.sw)));
        }
        let fci = tlv::single(&resp.data, 0x6F)
            .map_err(|_| Error::Protocol("SELECT answered no 6F FCI".into()))?;
        let lcs = match tlv::find(fci, 0x8A) {
            Ok(Some([lcs])) => *lcs,
            _ => {
                return Err(Error::Protocol(
                    "the FCI has no one-byte life cycle status (8A)".into(),
                ))
            }
        };
        let state = Lifecycle::from_lcs_byte(lcs).ok_or_else(|| {
            Error::Protocol(format!("unknown life cycle status {lcs:02X} in the FCI"))
        })?;
        // The warning status word and the status byte must tell the same story.
        if resp.sw != state.select_status().sw() {
            return Err(Error::Protocol(format!(
                "SELECT answered {:04X} with life cycle status {lcs:02X}",
                resp.sw
            )));
        }
        Ok(state)
    }

    /// The card information (住基 EF 0004), readable without PIN.
    pub fn card_info(&mut self) -> Result<CardInfo> {
        self.select_app(App::Juki)?;
        self.read_card_info()
    }

    /// The card information of the 住基AP already selected (protected under the counter's
    /// session).
    fn read_card_info(&mut self) -> Result<CardInfo> {
        let data = self.read_file(EfId::CardInfo, capacity(EfId::CardInfo))?;
        CardInfo::decode(&data)
    }

    /// Tries left of a PIN, without using one (VERIFY without data).
    pub fn pin_status(&mut self, kind: PinId) -> Result<PinStatus> {
        self.select_app(kind.app())?;
        let resp = self.sw(Command::Verify {
            sfi: Some(kind.ef().sfi()),
            pin: None,
        })?;
        use juki_card::status::Error as CardError;
        match Status::from_sw(resp.sw) {
            Status::Ok => Ok(PinStatus::Verified),
            Status::Error(CardError::PinBlocked) => Ok(PinStatus::Blocked),
            Status::Error(CardError::WrongPin { tries_left }) => {
                Ok(PinStatus::TriesLeft(tries_left))
            }
            _ => Err(Error::from_sw(resp.sw).unwrap_or(Error::UnexpectedStatus(resp.sw))),
        }
    }

    /// Selects the PIN's application and verifies the PIN (VERIFY naming the PIN EF by its
    /// short identifier in P2: no SELECT of the EF). The security status holds until the next
    /// SELECT of an application, reset or power-off.
    pub fn verify_pin(&mut self, kind: PinId, pin: &Pin) -> Result<()> {
        self.select_app(kind.app())?;
        self.verify_selected(kind, pin)
    }

    /// VERIFY PIN `kind` in the application already selected (its own).
    pub fn verify_selected(&mut self, kind: PinId, pin: &Pin) -> Result<()> {
        self.send(Command::Verify {
            sfi: Some(kind.ef().sfi()),
            pin: Some(pin.as_bytes()),
        })?;
        Ok(())
    }

    /// Changes a PIN: VERIFY the current one, then CHANGE REFERENCE DATA, in one transaction.
    /// The new PIN is checked on the host first (the card checks it again, including the
    /// holder's birthday).
    pub fn change_pin(&mut self, kind: PinId, current: &Pin, new: &Pin) -> Result<()> {
        kind.check_new(new.as_bytes(), None)?;
        self.exclusive(|card| {
            card.verify_pin(kind, current)?;
            card.send(Command::ChangeReferenceData {
                sfi: Some(kind.ef().sfi()),
                new_pin: new.as_bytes(),
            })?;
            Ok(())
        })
    }

    /// Reads the resident data with the 住基 PIN: 住民票コード, 4 info and change information.
    pub fn read_resident(&mut self, pin: &Pin) -> Result<ResidentRecord> {
        self.exclusive(|card| {
            card.verify_pin(PinId::Juki, pin)?;
            card.read_resident_files()
        })
    }

    /// The resident data read at the counter: in one transaction, the mutual authentication
    /// in the 住基AP (the card must prove to be card `serial`), then the 住基 PIN and the three
    /// files, all protected — what the counter decides on, a reader cannot rewrite.
    pub fn read_resident_at_counter(
        &mut self,
        cred: &CounterCredential,
        serial: &str,
        pin: &Pin,
    ) -> Result<ResidentRecord> {
        self.exclusive(|card| {
            card.counter_session(cred, App::Juki, Some(serial))?;
            card.verify_selected(PinId::Juki, pin)?;
            card.read_resident_files()
        })
    }

    /// The 住基AP's three resident files, the PIN verified.
    fn read_resident_files(&mut self) -> Result<ResidentRecord> {
        let code = self.read_file(EfId::ResidentCode, 11)?;
        let info = self.read_file(EfId::FourInfo, capacity(EfId::FourInfo))?;
        let changes = self.read_file(EfId::Changes, capacity(EfId::Changes))?;
        Ok(ResidentRecord {
            code: ResidentCode::from_bytes(&code)
                .map_err(|e| Error::Protocol(format!("resident code on the card: {e}")))?,
            info: FourInfo::decode(&info)?,
            changes: ChangeInfo::decode(&changes)?,
        })
    }

    /// The public key of a key pair on the card (GENERATE ASYMMETRIC KEY PAIR, P1 `81`: read
    /// only, free).
    pub fn public_key(&mut self, key: KeyId) -> Result<VerifyingKey> {
        self.select_app(App::Jpki)?;
        let data = self.send(Command::GenerateKeyPair {
            sfi: Some(key.ef().sfi()),
            mode: KeyPairMode::ReadPublic,
        })?;
        parse_public_key(&data)
    }

    /// Signs a SHA-256 hash with the signing key, after the sign password, in one transaction.
    /// Returns the card's `r‖s` signature.
    pub fn sign_hash(&mut self, hash: &[u8; 32], password: &Pin) -> Result<Signature> {
        self.exclusive(|card| {
            card.verify_pin(PinId::Sign, password)?;
            card.compute_signature(KeyId::Sign, hash)
        })
    }

    /// Signs with the key whose PIN is already verified in this session (the current
    /// application must be JPKI).
    pub fn compute_signature(&mut self, key: KeyId, hash: &[u8; 32]) -> Result<Signature> {
        self.select_file(key.ef())?;
        let data = self.send(Command::ComputeSignature { data: hash })?;
        Signature::from_slice(&data)
            .map_err(|_| Error::Protocol(format!("signature of {} bytes, 64 expected", data.len())))
    }

    /// Mutual authentication in the current application, and the secure-messaging session for
    /// everything that follows (docs/apdu.md, "Mutual authentication"): GET CHALLENGE; an
    /// ephemeral P-256 key; EXTERNAL AUTHENTICATE with the counter's certificate, that key and
    /// the counter key's signature over the challenge and it. The card checks the counter
    /// against its national root and answers its own certificate, ephemeral key and life cycle
    /// status, signed by its own key over the whole exchange; the counter checks that answer
    /// against the root in `cred` before it trusts anything. ECDH and the signed digest give
    /// the session keys. Valid until the next SELECT of an application, reset or power-off.
    ///
    /// A relayed, replayed or substituted answer fails here ([`Error::CardNotAuthenticated`]);
    /// a card without a key of its own answers `6985` ([`Error::CardWithoutKey`]).
    pub fn counter_authenticate(&mut self, cred: &CounterCredential) -> Result<CardIdentity> {
        self.session = None;
        let challenge = self.send(Command::GetChallenge)?;
        if challenge.len() != juki_card::cvc::CHALLENGE_LEN {
            return Err(Error::Protocol(format!(
                "challenge of {} bytes, 16 expected",
                challenge.len()
            )));
        }
        // The ephemeral key agreement with ring (see `ring_check`): its private key never
        // leaves ring and is gone after the agreement.
        let ephemeral = ring::agreement::EphemeralPrivateKey::generate(
            &ring::agreement::ECDH_P256,
            &ring::rand::SystemRandom::new(),
        )
        .map_err(|_| Error::Crypto("ephemeral key".into()))?;
        let counter_key: [u8; sm::POINT_LEN] = ephemeral
            .compute_public_key()
            .ok()
            .and_then(|k| k.as_ref().try_into().ok())
            .ok_or_else(|| Error::Crypto("ephemeral key".into()))?;
        let data = cred.authenticate(&challenge, &counter_key)?;
        let answer = match self.send(Command::ExternalAuthenticate { data: &data }) {
            // The card checked the certificate against its national root and its last-known
            // date, and the challenge signature: say so, not just "security status".
            Err(Error::SecurityStatusNotSatisfied) => return Err(Error::CounterNotAccepted),
            // It had a challenge waiting: no key or certificate of its own.
            Err(Error::ConditionsNotSatisfied) => return Err(Error::CardWithoutKey),
            other => other?,
        };
        let today = crate::date::today()?;
        let card = verify_card_answer(&answer, cred.root(), today, &challenge, &data)
            .map_err(|e| Error::CardNotAuthenticated(e.into()))?;
        let lifecycle = Lifecycle::from_lcs_byte(card.lcs).ok_or(Error::CardNotAuthenticated(
            AuthFailure::UnknownLifecycle(card.lcs),
        ))?;
        // `verify_card_answer` checked the serial's characters (A–Z 0–9 -).
        let serial = String::from_utf8_lossy(card.cert.holder).into_owned();
        let not_a_point = || Error::CardNotAuthenticated(AuthFailure::NotAPoint);
        let card_key =
            <[u8; sm::POINT_LEN]>::try_from(card.ephemeral).map_err(|_| not_a_point())?;
        let sm = ring::agreement::agree_ephemeral(
            ephemeral,
            &ring::agreement::UnparsedPublicKey::new(&ring::agreement::ECDH_P256, card_key),
            |z| SecureChannel::derive(z, &challenge, &counter_key, &card_key, &card.digest),
        )
        .map_err(|_| not_a_point())?;
        let identity = CardIdentity {
            serial,
            lifecycle,
            public_key: card.cert.public_key.to_vec(),
        };
        self.session = Some(CounterSession {
            sm,
            card: identity.clone(),
        });
        Ok(identity)
    }

    /// SELECT `app` and the mutual authentication; when `serial` is given, the card must prove
    /// to be that card ([`Error::CardChanged`] otherwise, and the session is closed).
    pub fn counter_session(
        &mut self,
        cred: &CounterCredential,
        app: App,
        serial: Option<&str>,
    ) -> Result<CardIdentity> {
        self.select_app(app)?;
        let identity = self.counter_authenticate(cred)?;
        match serial {
            Some(expected) if expected != identity.serial => {
                self.session = None;
                Err(Error::CardChanged {
                    expected: expected.to_string(),
                    found: identity.serial,
                })
            }
            _ => Ok(identity),
        }
    }

    /// What the counter inspects before an operation, in one transaction: the mutual
    /// authentication in the 住基AP, and the card information read protected (none before
    /// issue). The card information must name the card the certificate names.
    pub fn inspect_at_counter(
        &mut self,
        cred: &CounterCredential,
    ) -> Result<(CardIdentity, Option<CardInfo>)> {
        self.exclusive(|card| {
            let identity = card.counter_session(cred, App::Juki, None)?;
            let info = match identity.lifecycle {
                Lifecycle::Blank | Lifecycle::Initialised => None,
                _ => {
                    let info = card.read_card_info()?;
                    if info.serial != identity.serial {
                        return Err(Error::CardNotAuthenticated(AuthFailure::OtherCard {
                            info: info.serial,
                            certificate: identity.serial,
                        }));
                    }
                    Some(info)
                }
            };
            Ok((identity, info))
        })
    }

    /// Writes a new 4 info (住基 EF 0002) and change information (EF 0003) at the counter
    /// (記載事項変更 / 継続利用 after a move or a change of name), in one transaction with the
    /// mutual authentication of card `serial`. Works on an issued or suspended card. The two
    /// files take two APDUs: if the change information cannot be written, the `previous` 4 info
    /// is written back so that the card is as before (the card's refusal is returned); if even
    /// that fails, the error says to run the update again.
    pub fn update_resident(
        &mut self,
        cred: &CounterCredential,
        serial: &str,
        previous: &FourInfo,
        info: &FourInfo,
        changes: &ChangeInfo,
    ) -> Result<()> {
        let old = previous.encode()?;
        let info = info.encode()?;
        let changes = changes.encode()?;
        self.exclusive(|card| {
            card.counter_session(cred, App::Juki, Some(serial))?;
            card.write_file(EfId::FourInfo, &info)?;
            if let Err(e) = card.write_file(EfId::Changes, &changes) {
                if e.is_connection_lost() || matches!(e, Error::OutcomeUnknown(_)) {
                    // The card is gone, or its answer unknown: nothing can be put back, and
                    // whether the second write happened is unknown (the counter keeps the
                    // operation pending).
                    return Err(e);
                }
                // Two files, two APDUs: put the old 4 info back so that the card is as before
                // (in a new counter session if the failure ended this one).
                let restored = if card.session.is_none() {
                    card.counter_session(cred, App::Juki, Some(serial))
                        .and_then(|_| card.write_file(EfId::FourInfo, &old))
                } else {
                    card.write_file(EfId::FourInfo, &old)
                };
                return match restored {
                    Ok(()) => Err(e),
                    Err(_) => Err(Error::Protocol(format!(
                        "the new 4 info was written but not the change information ({e}), and \
                         the old 4 info could not be put back: run the update again"
                    ))),
                };
            }
            Ok(())
        })
    }

    /// Initialises a blank card at manufacture, in one transaction: PUT DATA `C1` with the
    /// national root public key, to which the card answers the public key it generated;
    /// `certify` (the root) certifies that key for the card's serial; PUT DATA `C2` installs the
    /// certificate, which the card takes only for its own key.
    pub fn initialise(
        &mut self,
        root: &VerifyingKey,
        certify: impl FnOnce(&VerifyingKey) -> Result<Vec<u8>>,
    ) -> Result<VerifyingKey> {
        self.exclusive(|card| {
            card.select_app(App::Juki)?;
            let root_key = sec1_uncompressed(root);
            let answer = card.send(Command::Initialise {
                root_key: &root_key,
                answer_key: true,
            })?;
            let key = parse_public_key(&answer)?;
            let cert = certify(&key)?;
            card.send(Command::InstallCertificate { cert: &cert })?;
            Ok(key)
        })
    }

    /// RESET RETRY COUNTER of PIN `kind` of the current application (counter authenticated),
    /// naming its EF in P2.
    fn reset_retry_counter(&mut self, kind: PinId, new: &Pin) -> Result<()> {
        self.send(Command::ResetRetryCounter {
            sfi: Some(kind.ef().sfi()),
            new_pin: new.as_bytes(),
        })?;
        Ok(())
    }

    /// GENERATE ASYMMETRIC KEY PAIR (P1 `80`) of a key of the current JPKI application, naming
    /// its EF in P2.
    fn generate_key(&mut self, key: KeyId) -> Result<VerifyingKey> {
        let data = self.send(Command::GenerateKeyPair {
            sfi: Some(key.ef().sfi()),
            mode: KeyPairMode::Generate,
        })?;
        parse_public_key(&data)
    }

    /// Issues an initialised card (personalisation at the counter), in one transaction with the
    /// mutual authentication of the card `p.card.serial` names: 住基AP files and 住基 PIN, then the JPKI token files, auth PIN, sign password and both key
    /// pairs generated on the card, then ACTIVATE FILE. Returns the new public keys.
    pub fn personalise(
        &mut self,
        cred: &CounterCredential,
        p: &Personalisation,
    ) -> Result<IssuedKeys> {
        let birth = p.info.birth_mmdd();
        PinId::Juki.check_new(p.juki_pin.as_bytes(), Some(&birth))?;
        PinId::Auth.check_new(p.auth_pin.as_bytes(), Some(&birth))?;
        PinId::Sign.check_new(p.sign_pin.as_bytes(), None)?;
        let info = p.info.encode()?;
        let changes = p.changes.encode()?;
        let card_info = p.card.encode()?;
        let serial = p.card.serial.as_str();
        self.exclusive(|card| {
            card.counter_session(cred, App::Juki, Some(serial))?;
            card.write_file(EfId::ResidentCode, p.code.as_bytes())?;
            // 0002 first: the card checks new 4-digit PINs against the birthday in it.
            card.write_file(EfId::FourInfo, &info)?;
            card.write_file(EfId::Changes, &changes)?;
            card.write_file(EfId::CardInfo, &card_info)?;
            card.reset_retry_counter(PinId::Juki, &p.juki_pin)?;

            card.counter_session(cred, App::Jpki, Some(serial))?;
            card.write_file(EfId::TokenInfo, TOKEN_LABEL)?;
            card.write_file(EfId::CertsPresent, &[0x00])?;
            card.reset_retry_counter(PinId::Auth, &p.auth_pin)?;
            card.reset_retry_counter(PinId::Sign, &p.sign_pin)?;
            let auth = card.generate_key(KeyId::Auth)?;
            let sign = card.generate_key(KeyId::Sign)?;
            card.send(Command::Activate)?;
            Ok(IssuedKeys { auth, sign })
        })
    }

    /// Issues the JPKI certificates at the counter, in one transaction with the mutual
    /// authentication of card `serial` in the JPKI AP (the public keys come from its protected
    /// answers): marks EF 0008 empty, generates both key pairs on the card
    /// (replacing any old ones), hands the public keys to `certify` (the CA), writes the four
    /// certificates it returns to their EFs and finally EF 0008 = `0F`. A card whose issue stops
    /// half-way says it holds no certificate.
    pub fn issue_jpki<E: From<Error>>(
        &mut self,
        cred: &CounterCredential,
        serial: &str,
        certify: impl FnOnce(&IssuedKeys) -> std::result::Result<JpkiFiles, E>,
    ) -> std::result::Result<(IssuedKeys, JpkiFiles), E> {
        use crate::jpki_files::CertKind;
        self.exclusive(|card| {
            card.counter_session(cred, App::Jpki, Some(serial))?;
            card.write_file(EfId::CertsPresent, &[0x00])?;
            let auth = card.generate_key(KeyId::Auth)?;
            let sign = card.generate_key(KeyId::Sign)?;
            let keys = IssuedKeys { auth, sign };
            let files = certify(&keys)?;
            for (ef, der) in [
                (CertKind::Auth.cert_ef(), &files.auth),
                (CertKind::Auth.ca_ef(), &files.auth_ca),
                (CertKind::Sign.cert_ef(), &files.sign),
                (CertKind::Sign.ca_ef(), &files.sign_ca),
            ] {
                card.write_file(ef, der)?;
            }
            card.write_file(EfId::CertsPresent, &[crate::jpki_files::ALL_PRESENT])?;
            Ok((keys, files))
        })
    }

    /// JPKI EF 0008: which certificates the card holds (bits of [`crate::jpki_files::CertKind`]);
    /// free to read on an issued card.
    pub fn jpki_present(&mut self) -> Result<u8> {
        self.select_app(App::Jpki)?;
        let data = self.read_file(EfId::CertsPresent, 1)?;
        Ok(data.first().copied().unwrap_or(0))
    }

    /// One lifecycle transition of the counter on card `serial`, after the mutual
    /// authentication in the 住基AP, in one transaction: the card's own command for it, if the
    /// state the card signed allows it ([`Lifecycle::allows`], the card's table). The
    /// lifecycle is the card's, not the application's: one command changes it for both
    /// applications.
    fn counter_transition(
        &mut self,
        cred: &CounterCredential,
        serial: &str,
        transition: Transition,
    ) -> Result<()> {
        let command = transition.command().ok_or_else(|| {
            Error::InvalidInput(format!("{transition:?} is not a counter command"))
        })?;
        self.exclusive(|card| {
            let identity = card.counter_session(cred, App::Juki, Some(serial))?;
            match identity.lifecycle {
                state if state.allows(transition) => {}
                Lifecycle::Terminated => return Err(Error::CardTerminated),
                Lifecycle::Suspended => return Err(Error::CardSuspended),
                state => {
                    return Err(Error::InvalidInput(format!(
                        "this card is {}; the operation applies to a card that is {}",
                        lifecycle_text(state),
                        transition
                            .from_states()
                            .map(lifecycle_text)
                            .collect::<Vec<_>>()
                            .join(" or ")
                    )))
                }
            }
            card.send(command)?;
            Ok(())
        })
    }

    /// Suspends issued card `serial` (一時停止, e.g. reported lost or stolen): DEACTIVATE FILE.
    /// The holder's operations are then refused ([`Error::CardSuspended`]) until
    /// [`Self::resume`]; the counter can still reset PINs, update the resident data and
    /// terminate the card.
    pub fn suspend(&mut self, cred: &CounterCredential, serial: &str) -> Result<()> {
        self.counter_transition(cred, serial, Transition::Suspend)
    }

    /// Lifts the suspension of suspended card `serial` (一時停止の解除): ACTIVATE FILE. Refuses a
    /// card that is not suspended (ACTIVATE FILE would issue an initialised card: resuming never
    /// does).
    pub fn resume(&mut self, cred: &CounterCredential, serial: &str) -> Result<()> {
        self.counter_transition(cred, serial, Transition::Resume)
    }

    /// Terminates card `serial` (返納・廃止), irreversibly: TERMINATE CARD USAGE. The card
    /// erases its private keys, PINs and the personal data; only the card information stays
    /// readable ([`Error::CardTerminated`] for everything else). Works on an initialised,
    /// issued or suspended card.
    pub fn terminate(&mut self, cred: &CounterCredential, serial: &str) -> Result<()> {
        self.counter_transition(cred, serial, Transition::Terminate)
    }

    /// Resets a PIN of card `serial` at the counter (パスワード再設定): mutual authentication,
    /// then RESET RETRY COUNTER with the new PIN and full tries, locked or not. The 4-digit PINs
    /// are checked against the holder's birthday on the card.
    pub fn reset_pin(
        &mut self,
        cred: &CounterCredential,
        serial: &str,
        kind: PinId,
        new: &Pin,
    ) -> Result<()> {
        kind.check_new(new.as_bytes(), None)?;
        self.exclusive(|card| {
            card.counter_session(cred, kind.app(), Some(serial))?;
            card.reset_retry_counter(kind, new)
        })
    }
}

/// Parses `7F49 { 86 04‖X‖Y }` into a P-256 public key.
pub fn parse_public_key(data: &[u8]) -> Result<VerifyingKey> {
    let inner = tlv::single(data, 0x7F49)
        .map_err(|_| Error::Protocol("public key is not a 7F49 object".into()))?;
    let point = tlv::single(inner, 0x86)
        .map_err(|_| Error::Protocol("public key has no 86 point".into()))?;
    VerifyingKey::from_sec1_bytes(point)
        .map_err(|_| Error::Protocol("public key is not a P-256 point".into()))
}

/// The `--reader` value for the sim transport, if it is one.
pub fn sim_path(reader: &str) -> Option<&str> {
    reader.strip_prefix("sim:")
}
