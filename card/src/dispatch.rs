//! Dispatch: removes secure messaging from a protected command ([`crate::sm`]), parses the
//! complete command, runs the gate, then the command's handler; protects the response of a
//! protected command.
//!
//! [`Applet`] holds everything but the framing: the platform (NVM, RNG), the NVM directory,
//! the persistent core state (a RAM copy of the core record, replaced only after a successful
//! commit) and the volatile state.

use rand_core::{CryptoRng, RngCore};
use zeroize::Zeroizing;

use crate::apdu::CommandApdu;
use crate::command::{Command, KeyPairMode, SessionChange};
use crate::files::{self, Access, App, EfId, EfKind, KeyId, PinId, Write, KEY_COUNT, PIN_COUNT};
use crate::framing::{Handler, Scratch, MAX_RESPONSE_DATA};
use crate::lifecycle::{Lifecycle, Transition};
use crate::state::{CoreState, CORE_CAPACITY};
use crate::status::{Error, Status, SW_OK};
use crate::storage::{Storage, CORE_RECORD};
use crate::volatile::Volatile;
use crate::{cvc, gate, issuer, keys, pin, sm, tlv, Nvm, Response, MAX_COMMAND_DATA};

/// The card minus its framing.
#[derive(Clone)]
pub struct Applet<N: Nvm, R: RngCore + CryptoRng> {
    pub(crate) nvm: N,
    pub(crate) rng: R,
    storage: Storage,
    core: CoreState,
    /// The core record exists but cannot be decoded: every command answers `6581`.
    fault: bool,
    volatile: Volatile,
    /// The precomputed multiples of the generator for key generation and signing: the constant
    /// table in flash unless the platform chose the generic multiplication (configuration, not
    /// state: kept across resets).
    pub(crate) basepoint: Option<&'static crate::basepoint::BasepointTable>,
}

fn push(out: &mut Response, bytes: &[u8]) -> Result<(), Error> {
    out.extend_from_slice(bytes).map_err(|_| Error::WrongLength)
}

impl<N: Nvm, R: RngCore + CryptoRng> Applet<N, R> {
    /// Mounts the NVM and loads the core record.
    #[inline(always)]
    pub fn power_on(nvm: N, rng: R) -> Self {
        let storage = Storage::mount(&nvm);
        let mut fault = false;
        let mut core = CoreState::default();
        if storage.exists(CORE_RECORD) {
            let mut buf = Zeroizing::new([0u8; CORE_CAPACITY]);
            let len = storage.len(CORE_RECORD).min(CORE_CAPACITY);
            let loaded = buf
                .get_mut(..len)
                .ok_or(Error::MemoryFailure)
                .and_then(|b| storage.read(&nvm, CORE_RECORD, 0, b).map(|()| &*b))
                .ok()
                .and_then(|b| CoreState::decode(b).ok());
            match loaded {
                Some(state) => core = state,
                None => fault = true,
            }
        }
        let mut applet = Applet {
            nvm,
            rng,
            storage,
            core,
            fault,
            volatile: Volatile::new(),
            basepoint: Some(&crate::basepoint::GENERATOR_TABLE),
        };
        if applet.core.erasure_pending {
            // A power cut interrupted TERMINATE CARD USAGE after its core commit: finish the
            // erasure now. Should this fail too, every command tries again first.
            let _ = applet.finish_termination();
        }
        applet
    }

    /// Clears the volatile state.
    pub fn reset(&mut self) {
        self.volatile = Volatile::new();
    }

    /// Makes `new` the persistent core state (atomically), then the RAM copy.
    fn commit(&mut self, new: CoreState) -> Result<(), Error> {
        // The encoding holds the PINs and private keys: wiped from the stack once written.
        let bytes = Zeroizing::new(new.encode());
        self.storage.write(&mut self.nvm, CORE_RECORD, 0, &*bytes)?;
        self.core = new;
        Ok(())
    }

    fn current_ef(&self) -> Result<&'static files::Ef, Error> {
        self.volatile
            .ef
            .and_then(files::ef)
            .ok_or(Error::NoCurrentEf)
    }

    fn current_pin(&self) -> Result<PinId, Error> {
        match self.current_ef()?.kind {
            EfKind::Pin(id) => Ok(id),
            _ => Err(Error::NoCurrentEf),
        }
    }

    fn current_key(&self) -> Result<KeyId, Error> {
        match self.current_ef()?.kind {
            EfKind::Key(id) => Ok(id),
            _ => Err(Error::NoCurrentEf),
        }
    }

    fn pin_record(&self, id: PinId) -> Result<pin::PinRecord, Error> {
        self.core
            .pins
            .get(id as usize)
            .copied()
            .ok_or(Error::MemoryFailure)
    }

    /// Runs a command the gate let through; `Ok` carries the status word: `9000`, or the
    /// warning of SELECT by AID on a suspended or terminated card.
    fn run(&mut self, command: Command<'_>, out: &mut Response) -> Result<u16, Error> {
        match command {
            Command::SelectApp { aid, fci } => return self.select_app(aid, fci, out),
            Command::SelectFile { fid } => self.select_file(fid),
            Command::ReadBinary { offset, ne, .. } => self.read_binary(offset, ne, out),
            Command::UpdateBinary { offset, data, .. } => self.update_binary(offset, data),
            Command::Verify { pin, .. } => self.verify(pin),
            Command::ChangeReferenceData { new_pin, .. } => self.change_pin(new_pin),
            Command::ResetRetryCounter { new_pin, .. } => self.reset_retry_counter(new_pin),
            Command::GenerateKeyPair { mode, .. } => self.generate_key_pair(mode, out),
            Command::ComputeSignature { data } => {
                self.compute_signature(crate::digest_info::hash_to_sign(data)?, out)
            }
            Command::GetChallenge => {
                let challenge = issuer::get_challenge(&mut self.rng, &mut self.volatile);
                push(out, &challenge)
            }
            Command::ExternalAuthenticate { data } => self.external_authenticate(data, out),
            Command::Initialise {
                root_key,
                answer_key,
            } => {
                self.initialise(root_key)?;
                if answer_key {
                    self.answer_card_key(out)?;
                }
                Ok(())
            }
            Command::InstallCertificate { cert } => self.install_certificate(cert),
            Command::Activate => self.activate(),
            Command::Deactivate => self.deactivate(),
            Command::Terminate => self.terminate(),
        }
        .map(|()| SW_OK)
    }

    /// SELECT by AID. The FCI is `6F { 84 AID, 8A LCS }`. On a suspended card the answer is the
    /// warning `6283`, on a terminated one `6285`: the application is selected all the same.
    fn select_app(&mut self, aid: &[u8], fci: bool, out: &mut Response) -> Result<u16, Error> {
        let app = App::from_aid(aid).ok_or(Error::NotFound)?;
        self.volatile.select_app(app);
        let state = self.core.lifecycle;
        if fci {
            let aid = app.aid();
            let len = u8::try_from(aid.len()).map_err(|_| Error::WrongLength)?;
            push(out, &[0x6F, len + 5, 0x84, len])?;
            push(out, aid)?;
            push(out, &[0x8A, 0x01, state.lcs_byte()])?;
        }
        Ok(state.select_status().sw())
    }

    fn select_file(&mut self, fid: u16) -> Result<(), Error> {
        let app = self.volatile.app.ok_or(Error::NotFound)?;
        let index = files::find(app, fid).ok_or(Error::NotFound)?;
        self.volatile.ef = Some(index);
        Ok(())
    }

    fn read_binary(&mut self, offset: u16, ne: usize, out: &mut Response) -> Result<(), Error> {
        let (record, read) = match self.current_ef()?.kind {
            EfKind::Binary { record, read, .. } => (record, read),
            EfKind::Pin(_) | EfKind::Key(_) => return Err(Error::SecurityStatusNotSatisfied),
        };
        if let Access::Pin(id) = read {
            if !self.volatile.is_verified(id) {
                return Err(Error::SecurityStatusNotSatisfied);
            }
        }
        let len = self.storage.len(record);
        let offset = usize::from(offset);
        let available = len.checked_sub(offset).ok_or(Error::OffsetOutside)?;
        let n = available.min(ne).min(MAX_RESPONSE_DATA);
        out.resize(n, 0).map_err(|_| Error::WrongLength)?;
        self.storage.read(&self.nvm, record, offset, out)
    }

    fn update_binary(&mut self, offset: u16, data: &[u8]) -> Result<(), Error> {
        let (record, capacity) = match self.current_ef()?.kind {
            EfKind::Binary {
                record,
                capacity,
                write: Write::Counter,
                ..
            } => (record, usize::from(capacity)),
            // The card's certificate is the card's own, installed once.
            EfKind::Binary {
                write: Write::Initialisation,
                ..
            } => return Err(Error::SecurityStatusNotSatisfied),
            EfKind::Pin(_) | EfKind::Key(_) => return Err(Error::IncompatibleFile),
        };
        let offset = usize::from(offset);
        if offset > self.storage.len(record) {
            return Err(Error::OffsetOutside);
        }
        if offset.saturating_add(data.len()) > capacity {
            return Err(Error::NotEnoughSpace);
        }
        self.storage.write(&mut self.nvm, record, offset, data)
    }

    fn verify(&mut self, attempt: Option<&[u8]>) -> Result<(), Error> {
        let id = self.current_pin()?;
        let record = self.pin_record(id)?;
        if !record.is_set() {
            return Err(Error::ConditionsNotSatisfied);
        }
        if record.tries == 0 {
            return Err(Error::PinBlocked);
        }
        let Some(attempt) = attempt else {
            return if self.volatile.is_verified(id) {
                Ok(())
            } else {
                Err(Error::WrongPin {
                    tries_left: record.tries,
                })
            };
        };
        // 1. Use up a try, durably, before looking at the PIN.
        let tries_left = record.tries - 1;
        let mut new = self.core.clone();
        if let Some(p) = new.pins.get_mut(id as usize) {
            p.tries = tries_left;
        }
        self.commit(new)?;
        // 2. Compare in constant time. A PIN of the wrong length or characters simply differs.
        if !record.matches(attempt) {
            self.volatile.set_verified(id, false);
            return Err(Error::WrongPin { tries_left });
        }
        // 3. Right PIN: give the try back.
        let mut new = self.core.clone();
        if let Some(p) = new.pins.get_mut(id as usize) {
            p.tries = pin::max_tries(id);
        }
        self.commit(new)?;
        self.volatile.set_verified(id, true);
        Ok(())
    }

    /// The holder's birth `MMDD` from 住基 0002 (`FF20 { … DF23 YYYYMMDD … }`), read from NVM a
    /// few bytes at a time. `None` when the file is absent or not as expected.
    fn birth_mmdd(&self) -> Option<[u8; 4]> {
        let record = EfId::FourInfo.record()?;
        let len = self.storage.len(record);
        let read_header = |pos: usize| -> Option<(u16, usize, usize)> {
            let mut buf = [0u8; 5];
            let n = len.checked_sub(pos)?.min(buf.len());
            let head = buf.get_mut(..n)?;
            self.storage.read(&self.nvm, record, pos, head).ok()?;
            tlv::header(head).ok()
        };
        let (tag, outer_len, outer_head) = read_header(0)?;
        if tag != 0xFF20 {
            return None;
        }
        let end = outer_head.checked_add(outer_len)?.min(len);
        let mut pos = outer_head;
        while pos < end {
            let (tag, value_len, head) = read_header(pos)?;
            let value = pos.checked_add(head)?;
            if tag == 0xDF23 {
                if value_len != 8 {
                    return None;
                }
                let mut mmdd = [0u8; 4];
                self.storage
                    .read(&self.nvm, record, value + 4, &mut mmdd)
                    .ok()?;
                return Some(mmdd);
            }
            pos = value.checked_add(value_len)?;
        }
        None
    }

    /// Format and weak-PIN rules for a new PIN (`6A80`).
    fn check_new_pin(&self, id: PinId, new_pin: &[u8]) -> Result<(), Error> {
        if !pin::format_ok(id, new_pin) {
            return Err(Error::WrongData);
        }
        let four_digits = matches!(id, PinId::Juki | PinId::Auth);
        if four_digits && pin::is_weak(new_pin, self.birth_mmdd()) {
            return Err(Error::WrongData);
        }
        Ok(())
    }

    fn set_pin(&mut self, id: PinId, new_pin: &[u8]) -> Result<(), Error> {
        let record = pin::PinRecord::new(id, new_pin).ok_or(Error::WrongData)?;
        let mut new = self.core.clone();
        if let Some(p) = new.pins.get_mut(id as usize) {
            *p = record;
        }
        self.commit(new)
    }

    fn change_pin(&mut self, new_pin: &[u8]) -> Result<(), Error> {
        let id = self.current_pin()?;
        if !self.volatile.is_verified(id) {
            return Err(Error::SecurityStatusNotSatisfied);
        }
        self.check_new_pin(id, new_pin)?;
        self.set_pin(id, new_pin)
    }

    fn reset_retry_counter(&mut self, new_pin: &[u8]) -> Result<(), Error> {
        let id = self.current_pin()?;
        self.check_new_pin(id, new_pin)?;
        self.volatile.set_verified(id, false);
        self.set_pin(id, new_pin)
    }

    fn generate_key_pair(&mut self, mode: KeyPairMode, out: &mut Response) -> Result<(), Error> {
        let id = self.current_key()?;
        let scalar = match mode {
            KeyPairMode::Generate => {
                if !self.volatile.counter_authenticated {
                    return Err(Error::SecurityStatusNotSatisfied);
                }
                let scalar = keys::generate(&mut self.rng);
                let mut new = self.core.clone();
                if let Some(k) = new.keys.get_mut(id as usize) {
                    *k = Some(scalar);
                }
                self.commit(new)?;
                scalar
            }
            KeyPairMode::ReadPublic => self
                .core
                .keys
                .get(id as usize)
                .copied()
                .flatten()
                .ok_or(Error::ConditionsNotSatisfied)?,
        };
        let public = keys::public_key(&scalar, self.basepoint)?;
        push(out, &[0x7F, 0x49, 0x43, 0x86, 0x41])?;
        push(out, &public)
    }

    fn compute_signature(&mut self, hash: &[u8], out: &mut Response) -> Result<(), Error> {
        let id = self.current_key()?;
        if !self.volatile.is_verified(id.pin()) {
            return Err(Error::SecurityStatusNotSatisfied);
        }
        let scalar = self
            .core
            .keys
            .get(id as usize)
            .copied()
            .flatten()
            .ok_or(Error::ConditionsNotSatisfied)?;
        let signature = keys::sign(&scalar, hash, &mut self.rng, self.basepoint)?;
        push(out, &signature)
    }

    /// The NVM record of the card's certificate (住基 EF 0005).
    fn card_cert_record() -> Result<u8, Error> {
        EfId::CardCert.record().ok_or(Error::MemoryFailure)
    }

    /// EXTERNAL AUTHENTICATE: the mutual authentication ([`issuer::external_authenticate`]).
    /// The counter is authenticated and the secure-messaging session agreed; the answer is the
    /// card's certificate, ephemeral key, life cycle status and signature.
    fn external_authenticate(&mut self, data: &[u8], out: &mut Response) -> Result<(), Error> {
        // The certificate goes straight from the NVM into the answer.
        let record = Self::card_cert_record()?;
        out.resize(self.storage.len(record), 0)
            .map_err(|_| Error::WrongLength)?;
        let auth = self.storage.read(&self.nvm, record, 0, out).and_then(|()| {
            issuer::external_authenticate(
                &self.core,
                &mut self.volatile,
                &mut self.rng,
                data,
                self.core.lifecycle.lcs_byte(),
                self.basepoint,
                out,
            )
        });
        let auth = match auth {
            Ok(auth) => auth,
            Err(e) => {
                out.clear();
                return Err(e);
            }
        };
        if let Some(date) = auth.advance_to.filter(|&d| d > self.core.last_date) {
            let mut new = self.core.clone();
            new.last_date = date;
            if let Err(e) = self.commit(new) {
                out.clear();
                return Err(e);
            }
        }
        self.volatile.counter_authenticated = true;
        self.volatile.sm = Some(auth.session);
        Ok(())
    }

    /// PUT DATA `C1`: the national root key; the card generates its own authentication key in
    /// the same commit (its public key is the answer when Le asks for it). Again with the same
    /// root before the certificate is installed: nothing changes, and the same key is answered
    /// (the manufacturer's retry after a lost answer or a power cut); otherwise `6985`.
    fn initialise(&mut self, root_key: &[u8]) -> Result<(), Error> {
        let key = <[u8; 65]>::try_from(root_key).map_err(|_| Error::WrongData)?;
        if !keys::valid_public_key(&key) {
            return Err(Error::WrongData);
        }
        if self.core.lifecycle == Lifecycle::Initialised {
            let certified = self.storage.len(Self::card_cert_record()?) > 0;
            if certified || self.core.root_key != Some(key) {
                return Err(Error::ConditionsNotSatisfied);
            }
            return Ok(());
        }
        let card_key = keys::generate(&mut self.rng);
        let new = CoreState {
            lifecycle: self.next_lifecycle(Transition::Initialise)?,
            root_key: Some(key),
            card_key: Some(card_key),
            ..self.core.clone()
        };
        self.commit(new)
    }

    /// The card's public key as PUT DATA `C1` answers it.
    fn answer_card_key(&self, out: &mut Response) -> Result<(), Error> {
        let scalar = self.core.card_key.ok_or(Error::ConditionsNotSatisfied)?;
        let public = keys::public_key(&scalar, self.basepoint)?;
        cvc::encode_point(out, &public).map_err(|_| Error::WrongLength)
    }

    /// PUT DATA `C2`: the card's certificate, once. Taken only if it is a card certificate the
    /// root signed, for the card's own public key (`6A80` otherwise): nobody can install a
    /// certificate for a key the card does not hold. `6985` if the card has no key or already
    /// has its certificate.
    fn install_certificate(&mut self, cert: &[u8]) -> Result<(), Error> {
        let record = Self::card_cert_record()?;
        let scalar = self.core.card_key.ok_or(Error::ConditionsNotSatisfied)?;
        if self.storage.len(record) > 0 {
            return Err(Error::ConditionsNotSatisfied);
        }
        let root = self
            .core
            .root_key
            .ok_or(Error::ConditionsNotSatisfied)
            .and_then(|r| {
                p256::ecdsa::VerifyingKey::from_sec1_bytes(&r).map_err(|_| Error::MemoryFailure)
            })?;
        let today = issuer::last_known_date(&self.core).ok_or(Error::MemoryFailure)?;
        let parsed = cvc::parse(cert).map_err(|_| Error::WrongData)?;
        parsed
            .verify(cvc::Role::Card, &root, today)
            .map_err(|_| Error::WrongData)?;
        if parsed.public_key != keys::public_key(&scalar, self.basepoint)? {
            return Err(Error::WrongData);
        }
        self.storage.write(&mut self.nvm, record, 0, cert)
    }

    /// ACTIVATE FILE: issue an initialised card (after a complete personalisation), or resume a
    /// suspended one.
    fn activate(&mut self) -> Result<(), Error> {
        match Command::Activate.transition(self.core.lifecycle) {
            Some(Transition::Resume) => return self.change_lifecycle(Transition::Resume),
            Some(Transition::Issue) => {}
            _ => return Err(Error::ConditionsNotSatisfied),
        }
        let pins_set = self.core.pins.iter().all(pin::PinRecord::is_set);
        let keys_set = self.core.keys.iter().all(Option::is_some);
        let files_written = [EfId::ResidentCode, EfId::FourInfo, EfId::CardInfo]
            .iter()
            .all(|id| id.record().is_some_and(|r| self.storage.len(r) > 0));
        if !(pins_set && keys_set && files_written) {
            return Err(Error::ConditionsNotSatisfied);
        }
        self.change_lifecycle(Transition::Issue)
    }

    /// The state `transition` leads to from the current one (`6985` if it may not start here).
    fn next_lifecycle(&self, transition: Transition) -> Result<Lifecycle, Error> {
        self.core
            .lifecycle
            .next(transition)
            .ok_or(Error::ConditionsNotSatisfied)
    }

    /// Commits the state `transition` leads to.
    fn change_lifecycle(&mut self, transition: Transition) -> Result<(), Error> {
        let new = CoreState {
            lifecycle: self.next_lifecycle(transition)?,
            ..self.core.clone()
        };
        self.commit(new)
    }

    /// DEACTIVATE FILE: suspend an issued card. The holder's PINs verified in this session are
    /// forgotten; the counter stays authenticated (it may terminate or resume next).
    fn deactivate(&mut self) -> Result<(), Error> {
        self.change_lifecycle(Transition::Suspend)?;
        for id in PinId::ALL {
            self.volatile.set_verified(id, false);
        }
        Ok(())
    }

    /// TERMINATE CARD USAGE: one core commit makes the card terminated and erases the PINs and
    /// private keys; then the personal data EFs are erased ([`Self::finish_termination`]). A
    /// power cut in between leaves a terminated card with the erasure pending, which the card
    /// finishes at the next power-on.
    fn terminate(&mut self) -> Result<(), Error> {
        let new = CoreState {
            lifecycle: self.next_lifecycle(Transition::Terminate)?,
            erasure_pending: true,
            pins: [pin::PinRecord::default(); PIN_COUNT],
            keys: [None; KEY_COUNT],
            // The card's own key stays: it still proves to a counter that it is terminated.
            ..self.core.clone()
        };
        self.commit(new)?;
        self.volatile.clear_security();
        self.finish_termination()
    }

    /// Erases the personal data EFs ([`files::ERASED_AT_TERMINATION`]), then commits the core
    /// record without the pending mark. Idempotent. The final commit also overwrites the other
    /// slot of the core record, the one that still held the PINs and keys before termination
    /// (every core record version 1 is written whole).
    fn finish_termination(&mut self) -> Result<(), Error> {
        for id in files::ERASED_AT_TERMINATION {
            let record = id.record().ok_or(Error::MemoryFailure)?;
            self.storage.wipe(&mut self.nvm, record)?;
        }
        let new = CoreState {
            erasure_pending: false,
            ..self.core.clone()
        };
        self.commit(new)
    }

    /// Tries left of each PIN (for tests and diagnostics; never the PINs themselves).
    pub fn pin_tries(&self) -> [u8; PIN_COUNT] {
        let mut tries = [0u8; PIN_COUNT];
        for (t, p) in tries.iter_mut().zip(self.core.pins.iter()) {
            *t = p.tries;
        }
        tries
    }

    /// The lifecycle state.
    pub fn lifecycle(&self) -> Lifecycle {
        self.core.lifecycle
    }
}

impl<N: Nvm, R: RngCore + CryptoRng> Applet<N, R> {
    /// A complete plain command; `protected` when it arrived under secure messaging.
    fn handle_command(
        &mut self,
        apdu: &CommandApdu<'_>,
        out: &mut Response,
        protected: bool,
    ) -> Result<u16, Error> {
        if apdu.data.len() > MAX_COMMAND_DATA {
            return Err(Error::WrongLength);
        }
        let command = Command::parse(apdu)?;
        if self.fault {
            return Err(Error::MemoryFailure);
        }
        if self.core.erasure_pending {
            self.finish_termination()?;
        }
        // A short EF identifier selects its EF first (`6A82` if the application has none);
        // the gate and the handler then see it as the current EF.
        if let Some(sfi) = command.short_ef() {
            self.select_file(u16::from(sfi))?;
        }
        let current_ef = self.volatile.ef.and_then(files::ef);
        gate::check(
            self.core.lifecycle,
            self.volatile.counter_authenticated,
            current_ef,
            &command,
        )?;
        gate::check_protection(&command, protected)?;
        let result = self.run(command, out);
        // The one rule of what a command does to the counter's session (the host follows it
        // too): SELECT by AID, EXTERNAL AUTHENTICATE and TERMINATE CARD USAGE end it.
        let status = match result {
            Ok(sw) => Status::from_sw(sw),
            Err(e) => Status::Error(e),
        };
        if command.counter_session_after(status) == SessionChange::Ended {
            self.volatile.end_counter_session();
        }
        result
    }

    /// A protected command: unwrapped with the counter's session (none, or a wrong MAC or data
    /// object: `6988`, and the session ends), run, and its response protected with the status
    /// word inside and outside. The session stays unless the command ended the counter's
    /// authentication (TERMINATE CARD USAGE).
    // Not inlined into `handle`: its frame (the session, the MAC computation) would otherwise
    // sit on the stack of every plain command too (docs/performance.md, "Memory").
    #[inline(never)]
    fn handle_protected(
        &mut self,
        apdu: &CommandApdu<'_>,
        out: &mut Response,
        plain: &mut Scratch,
    ) -> Result<u16, Error> {
        let Some(mut session) = self.volatile.sm.take() else {
            self.volatile.end_counter_session();
            return Err(Error::SmObjectsIncorrect);
        };
        // The decrypted command goes into the framing's scratch buffer (wiped after the
        // command), not onto the stack.
        let Ok(inner) = session.unwrap_command(apdu, plain) else {
            self.volatile.end_counter_session();
            return Err(Error::SmObjectsIncorrect);
        };
        // The inner command answers into `out`, which is then protected in place.
        out.clear();
        let sw = if gate::never_protected(&inner) {
            Error::ConditionsNotSatisfied.sw()
        } else {
            match self.handle_command(&inner, out, true) {
                Ok(sw) => sw,
                Err(e) => {
                    out.clear();
                    e.sw()
                }
            }
        };
        let wrapped = session.wrap_response(out, sw);
        if self.volatile.counter_authenticated {
            self.volatile.sm = Some(session);
        }
        wrapped.map_err(|_| Error::WrongLength)?;
        Ok(sw)
    }
}

impl<N: Nvm, R: RngCore + CryptoRng> Handler for Applet<N, R> {
    fn handle(
        &mut self,
        apdu: &CommandApdu<'_>,
        out: &mut Response,
        scratch: &mut Scratch,
    ) -> Result<u16, Error> {
        if apdu.cla & sm::CLA_SM == sm::CLA_SM {
            self.handle_protected(apdu, out, scratch)
        } else {
            self.handle_command(apdu, out, false)
        }
    }
}
