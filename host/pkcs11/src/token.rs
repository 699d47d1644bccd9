//! The module's state and every operation, in safe Rust: slots, tokens, sessions, objects,
//! login and signing. [`crate::ffi`] converts the C arguments and calls these.
//!
//! Every operation returns `Err(CK_RV)` with the PKCS#11 return value on failure. The state
//! lives behind one mutex ([`with`]); card I/O happens while it is held, so calls from several
//! threads are serialised (one card, one reader: nothing would run in parallel anyway).

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use cryptoki_sys::*;
use juki_card::files::CERT_CAPACITY;
use juki_host::card::{JukiCard, KeyId, PinStatus};
use juki_host::jpki_files::CertKind;
use juki_host::pcsc_transport::{PcscTransport, ReaderInfo, ReaderWatch};
use juki_host::pin::{App, Pin, PinId, PinRules};
use juki_host::Error;
use sha2::{Digest, Sha256, Sha384, Sha512};
use zeroize::Zeroizing;

/// A PKCS#11 result: the value, or the `CKR_*` to return.
pub type Rv<T> = Result<T, CK_RV>;

/// DER of the named curve prime256v1 (secp256r1), CKA_EC_PARAMS of both keys.
pub const P256_PARAMS: &[u8] = &[0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];

/// The mechanisms every token offers.
pub const MECHANISMS: [CK_MECHANISM_TYPE; 4] = [
    CKM_ECDSA,
    CKM_ECDSA_SHA256,
    CKM_ECDSA_SHA384,
    CKM_ECDSA_SHA512,
];

/// Length of every signature: `r‖s` of P-256.
pub const SIGNATURE_LEN: usize = 64;

/// Object handles: fixed per token, so they stay valid across searches.
const H_CERT: CK_OBJECT_HANDLE = 1;
const H_CA_CERT: CK_OBJECT_HANDLE = 2;
const H_PUBLIC: CK_OBJECT_HANDLE = 3;
const H_PRIVATE: CK_OBJECT_HANDLE = 4;

/// One object: its handle and its attributes, encoded as PKCS#11 hands them out.
#[derive(Debug, Clone)]
pub struct Object {
    handle: CK_OBJECT_HANDLE,
    attrs: Vec<(CK_ATTRIBUTE_TYPE, Vec<u8>)>,
}

impl Object {
    /// The value of attribute `t`, if the object has it.
    pub fn attr(&self, t: CK_ATTRIBUTE_TYPE) -> Option<&[u8]> {
        self.attrs
            .iter()
            .find(|(k, _)| *k == t)
            .map(|(_, v)| v.as_slice())
    }
}

fn ulong(v: CK_ULONG) -> Vec<u8> {
    v.to_ne_bytes().to_vec()
}

fn bool_attr(b: bool) -> Vec<u8> {
    vec![if b { CK_TRUE } else { CK_FALSE }]
}

/// A running signature.
#[derive(Debug)]
struct SignOp {
    mechanism: CK_MECHANISM_TYPE,
    data: Vec<u8>,
}

#[derive(Debug)]
struct Session {
    slot: CK_SLOT_ID,
    objects: Option<Vec<Object>>,
    found: Option<Vec<CK_OBJECT_HANDLE>>,
    sign: Option<SignOp>,
    rw: bool,
    /// The token's public key (uncompressed point) when the session was opened: which card
    /// the session belongs to. Another card in the reader ends the session.
    card_key: Option<Vec<u8>>,
    /// The reader's count of card insertions and removals when the session was opened: once
    /// it moves, the card the session was opened on has been taken out (PKCS#11: removing a
    /// token closes its sessions), even if it is back or another one answers with its key.
    card_events: u32,
}

/// The module's state between C_Initialize and C_Finalize.
#[derive(Default)]
struct Module {
    /// Reader names in the order first seen: slot `2i` is reader `i`'s authentication token,
    /// `2i + 1` its signing token.
    readers: Vec<String>,
    sessions: HashMap<CK_SESSION_HANDLE, Session>,
    next_session: CK_SESSION_HANDLE,
    /// The PIN of each logged-in token, kept to VERIFY it again before each signature (another
    /// program may select an application between our transactions, which clears the card's
    /// security status). Never logged; zeroed when dropped.
    logins: HashMap<CK_SLOT_ID, Zeroizing<Vec<u8>>>,
    /// One PC/SC connection per reader, kept between calls (shared mode, a transaction per
    /// call): no pcscd round trips to list readers and connect on every call. Dropped when
    /// PC/SC says the card went away or was reset; which card is there is still checked in
    /// every transaction that needs it ([`Module::session_card`]).
    conns: HashMap<String, JukiCard<PcscTransport>>,
    /// A PC/SC context to look at the readers (presence, insertion and removal count).
    watch: Option<ReaderWatch>,
    /// Card presence and event count per reader as C_WaitForSlotEvent last saw them, and the
    /// slots with an event not yet reported.
    presence: HashMap<String, (bool, u32)>,
    events: VecDeque<CK_SLOT_ID>,
}

static STATE: Mutex<Option<Module>> = Mutex::new(None);

fn with<R>(f: impl FnOnce(&mut Module) -> Rv<R>) -> Rv<R> {
    let mut guard = STATE.lock().unwrap_or_else(PoisonError::into_inner);
    match guard.as_mut() {
        Some(m) => f(m),
        None => Err(CKR_CRYPTOKI_NOT_INITIALIZED),
    }
}

/// C_Initialize.
pub fn initialize() -> Rv<()> {
    let mut guard = STATE.lock().unwrap_or_else(PoisonError::into_inner);
    if guard.is_some() {
        return Err(CKR_CRYPTOKI_ALREADY_INITIALIZED);
    }
    let mut module = Module {
        next_session: 1,
        ..Module::default()
    };
    // C_WaitForSlotEvent reports what changes from now on.
    module.slot_events();
    module.events.clear();
    *guard = Some(module);
    Ok(())
}

/// C_Finalize.
pub fn finalize() -> Rv<()> {
    let mut guard = STATE.lock().unwrap_or_else(PoisonError::into_inner);
    match guard.take() {
        Some(_) => Ok(()),
        None => Err(CKR_CRYPTOKI_NOT_INITIALIZED),
    }
}

/// Whether the module is initialised (C_GetInfo needs nothing else).
pub fn initialized() -> Rv<()> {
    with(|_| Ok(()))
}

/// Which token of a reader a slot is.
fn kind_of(slot: CK_SLOT_ID) -> CertKind {
    if slot.is_multiple_of(2) {
        CertKind::Auth
    } else {
        CertKind::Sign
    }
}

fn pin_of(kind: CertKind) -> PinId {
    match kind {
        CertKind::Auth => PinId::Auth,
        CertKind::Sign => PinId::Sign,
    }
}

/// Maps a middleware error to its PKCS#11 value.
fn ckr(e: &Error) -> CK_RV {
    match e {
        Error::WrongPin { .. } => CKR_PIN_INCORRECT,
        Error::PinBlocked => CKR_PIN_LOCKED,
        e if e.is_connection_lost() => CKR_DEVICE_REMOVED,
        _ => CKR_DEVICE_ERROR,
    }
}

impl Module {
    /// Reader `name`'s number, given the next one when first seen.
    fn reader_index(&mut self, name: &str) -> usize {
        match self.readers.iter().position(|n| n == name) {
            Some(i) => i,
            None => {
                self.readers.push(name.to_owned());
                self.readers.len() - 1
            }
        }
    }

    fn reader(&self, slot: CK_SLOT_ID) -> Rv<&str> {
        usize::try_from(slot / 2)
            .ok()
            .and_then(|i| self.readers.get(i))
            .map(String::as_str)
            .ok_or(CKR_SLOT_ID_INVALID)
    }

    /// Runs `f` on the kept PC/SC context, once more on a new one if it failed (pcscd
    /// restarted); PC/SC unavailable: `CKR_DEVICE_ERROR`.
    fn watch<R>(&mut self, f: impl Fn(&ReaderWatch) -> Result<R, Error>) -> Rv<R> {
        for _ in 0..2 {
            let watch = match self.watch.take() {
                Some(w) => w,
                None => ReaderWatch::new().map_err(|_| CKR_DEVICE_ERROR)?,
            };
            if let Ok(r) = f(&watch) {
                self.watch = Some(watch);
                return Ok(r);
            }
        }
        Err(CKR_DEVICE_ERROR)
    }

    /// Every reader now (none when PC/SC has none or is down).
    fn readers_now(&mut self) -> Vec<ReaderInfo> {
        self.watch(ReaderWatch::readers).unwrap_or_default()
    }

    /// The slot's reader now: `None` if it is gone.
    fn reader_now(&mut self, slot: CK_SLOT_ID) -> Rv<Option<ReaderInfo>> {
        let name = self.reader(slot)?.to_owned();
        self.watch(|w| w.reader(&name))
    }

    /// Ends every session of `slot` and its login: its token was taken out.
    fn token_removed(&mut self, slot: CK_SLOT_ID) -> CK_RV {
        self.sessions.retain(|_, s| s.slot != slot);
        self.logins.remove(&slot);
        CKR_DEVICE_REMOVED
    }

    /// Whether session `h`'s card has stayed in its reader since the session was opened (the
    /// reader's insertion and removal count): if not, `CKR_DEVICE_REMOVED` and the slot's
    /// sessions end. No card I/O: cheap enough before every answer from the session's cache.
    fn check_card(&mut self, h: CK_SESSION_HANDLE) -> Rv<()> {
        let s = self.session(h)?;
        let (slot, events) = (s.slot, s.card_events);
        match self.reader_now(slot)? {
            Some(r) if r.card_present && r.events == events => Ok(()),
            _ => Err(self.token_removed(slot)),
        }
    }

    /// Runs `f` in one card transaction on the connection kept to the slot's reader (made if
    /// there is none); once more on a new connection if that one was lost (the card pulled,
    /// reinserted, reset by another program). A card that is gone: `CKR_TOKEN_NOT_PRESENT`.
    fn on_card<R>(
        &mut self,
        slot: CK_SLOT_ID,
        mut f: impl FnMut(&mut JukiCard<&mut dyn juki_host::transport::Transport>) -> Result<R, Error>,
    ) -> Rv<Result<R, Error>> {
        let name = self.reader(slot)?.to_owned();
        let mut last = None;
        for _ in 0..2 {
            let card = match self.conns.entry(name.clone()) {
                std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::hash_map::Entry::Vacant(e) => e.insert(
                    PcscTransport::connect(Some(&name))
                        .map(JukiCard::new)
                        .map_err(|_| CKR_TOKEN_NOT_PRESENT)?,
                ),
            };
            match card.exclusive(&mut f) {
                Err(e) if e.is_connection_lost() => {
                    self.conns.remove(&name);
                    last = Some(e);
                }
                other => return Ok(other),
            }
        }
        Ok(Err(last.unwrap_or(Error::NoCard { reader: name })))
    }

    /// [`Self::on_card`] for session `h`, `f` running in the JPKI AP: first checks that the card
    /// has not left the reader since the session was opened ([`Self::check_card`]) and, in the
    /// same transaction as `f`, that it still has the session's key (another card never gets
    /// the PIN). A card gone or swapped ends every session of the slot and its login:
    /// `CKR_DEVICE_REMOVED`, then `CKR_SESSION_HANDLE_INVALID`.
    fn session_card<R>(
        &mut self,
        h: CK_SESSION_HANDLE,
        mut f: impl FnMut(&mut JukiCard<&mut dyn juki_host::transport::Transport>) -> Result<R, Error>,
    ) -> Rv<Result<R, Error>> {
        self.check_card(h)?;
        let s = self.session(h)?;
        let (slot, expected) = (s.slot, s.card_key.clone());
        let key = kind_of(slot).key();
        let result = self.on_card(slot, |c| {
            // Either way the JPKI AP is selected for `f`.
            if let Some(expected) = &expected {
                let now = c.public_key(key)?.to_encoded_point(false);
                if now.as_bytes() != expected.as_slice() {
                    return Ok(None);
                }
            } else {
                c.select_app(App::Jpki)?;
            }
            f(c).map(Some)
        });
        match result {
            Ok(Ok(Some(r))) => Ok(Ok(r)),
            Ok(Err(e)) if !e.is_connection_lost() => Ok(Err(e)),
            Err(rv) if rv != CKR_TOKEN_NOT_PRESENT => Err(rv),
            _ => Err(self.token_removed(slot)),
        }
    }

    fn session(&mut self, h: CK_SESSION_HANDLE) -> Rv<&mut Session> {
        self.sessions.get_mut(&h).ok_or(CKR_SESSION_HANDLE_INVALID)
    }

    /// Reads the token's objects from the card (the private ones only when logged in).
    fn load_objects(&mut self, h: CK_SESSION_HANDLE) -> Rv<Vec<Object>> {
        let slot = self.session(h)?.slot;
        let kind = kind_of(slot);
        let pin = self.logins.get(&slot).map(|p| Pin::new(p.to_vec()));
        let (public, certs) = self
            .session_card(h, |c| {
                let present = c.jpki_present()?;
                if present & kind.present_bits() != kind.present_bits() {
                    return Ok((None, None));
                }
                let public = c.public_key(kind.key())?;
                let readable = match (kind, &pin) {
                    (CertKind::Auth, _) => true,
                    (CertKind::Sign, Some(pin)) => {
                        c.verify_selected(PinId::Sign, pin)?;
                        true
                    }
                    (CertKind::Sign, None) => false,
                };
                let certs = if readable {
                    let cap = usize::from(CERT_CAPACITY);
                    Some((
                        c.read_file(kind.cert_ef(), cap)?,
                        c.read_file(kind.ca_ef(), cap)?,
                    ))
                } else {
                    None
                };
                Ok((Some(public), certs))
            })?
            .map_err(|e| ckr(&e))?;
        let Some(public) = public else {
            return Ok(Vec::new());
        };
        let point = public.to_encoded_point(false);
        let mut ec_point = vec![0x04, point.as_bytes().len() as u8];
        ec_point.extend_from_slice(point.as_bytes());
        let id = match kind {
            CertKind::Auth => vec![0x01],
            CertKind::Sign => vec![0x02],
        };
        let what = match kind {
            CertKind::Auth => "利用者証明用",
            CertKind::Sign => "署名用",
        };
        let mut objects = Vec::new();
        // The keys carry their certificate's subject where it is readable (NSS and libp11
        // match keys and certificates by it as well as by CKA_ID).
        let subject = certs
            .as_ref()
            .and_then(|(cert, _)| crate::der::cert_fields(cert))
            .map(|f| f.subject);
        let key_attrs = |class: CK_OBJECT_CLASS, private: bool, label: String| {
            let mut attrs = vec![
                (CKA_CLASS, ulong(class)),
                (CKA_TOKEN, bool_attr(true)),
                (CKA_PRIVATE, bool_attr(private)),
                (CKA_MODIFIABLE, bool_attr(false)),
                (CKA_LABEL, label.into_bytes()),
                (CKA_ID, id.clone()),
                (CKA_KEY_TYPE, ulong(CKK_EC)),
                (CKA_EC_PARAMS, P256_PARAMS.to_vec()),
                (CKA_LOCAL, bool_attr(true)),
                (CKA_DERIVE, bool_attr(false)),
            ];
            if let Some(subject) = &subject {
                attrs.push((CKA_SUBJECT, subject.clone()));
            }
            attrs
        };
        if let Some((cert, ca)) = certs {
            let cert_attrs = |der: Vec<u8>, label: String, id: Vec<u8>, private: bool| {
                let mut names = Vec::new();
                if let Some(f) = crate::der::cert_fields(&der) {
                    names = vec![
                        (CKA_SUBJECT, f.subject),
                        (CKA_ISSUER, f.issuer),
                        (CKA_SERIAL_NUMBER, f.serial),
                    ];
                }
                let mut attrs = vec![
                    (CKA_CLASS, ulong(CKO_CERTIFICATE)),
                    (CKA_TOKEN, bool_attr(true)),
                    (CKA_PRIVATE, bool_attr(private)),
                    (CKA_MODIFIABLE, bool_attr(false)),
                    (CKA_LABEL, label.into_bytes()),
                    (CKA_ID, id),
                    (CKA_CERTIFICATE_TYPE, ulong(CKC_X_509)),
                    (CKA_TRUSTED, bool_attr(false)),
                    (CKA_VALUE, der),
                ];
                attrs.extend(names);
                attrs
            };
            let private = kind == CertKind::Sign;
            objects.push(Object {
                handle: H_CERT,
                attrs: cert_attrs(cert, format!("{what}電子証明書"), id.clone(), private),
            });
            objects.push(Object {
                handle: H_CA_CERT,
                attrs: cert_attrs(
                    ca,
                    format!("{what}認証局証明書"),
                    vec![id[0] | 0x10],
                    private,
                ),
            });
        }
        let mut attrs = key_attrs(CKO_PUBLIC_KEY, false, format!("{what}公開鍵"));
        attrs.extend([
            (CKA_EC_POINT, ec_point),
            (CKA_VERIFY, bool_attr(true)),
            (CKA_ENCRYPT, bool_attr(false)),
        ]);
        objects.push(Object {
            handle: H_PUBLIC,
            attrs,
        });
        if pin.is_some() {
            let mut attrs = key_attrs(CKO_PRIVATE_KEY, true, format!("{what}秘密鍵"));
            attrs.extend([
                (CKA_SIGN, bool_attr(true)),
                (CKA_SIGN_RECOVER, bool_attr(false)),
                (CKA_DECRYPT, bool_attr(false)),
                (CKA_UNWRAP, bool_attr(false)),
                (CKA_SENSITIVE, bool_attr(true)),
                (CKA_ALWAYS_SENSITIVE, bool_attr(true)),
                (CKA_EXTRACTABLE, bool_attr(false)),
                (CKA_NEVER_EXTRACTABLE, bool_attr(true)),
                (CKA_ALWAYS_AUTHENTICATE, bool_attr(false)),
            ]);
            objects.push(Object {
                handle: H_PRIVATE,
                attrs,
            });
        }
        Ok(objects)
    }

    fn objects(&mut self, h: CK_SESSION_HANDLE) -> Rv<&[Object]> {
        if self.session(h)?.objects.is_none() {
            let objects = self.load_objects(h)?;
            self.session(h)?.objects = Some(objects);
        }
        Ok(self.session(h)?.objects.as_deref().unwrap_or_default())
    }
}

/// C_GetSlotList: a slot pair per PC/SC reader (authentication, signing); with `present_only`
/// those whose reader holds a card.
pub fn slot_list(present_only: bool) -> Rv<Vec<CK_SLOT_ID>> {
    with(|m| {
        let readers = m.readers_now();
        let mut slots = Vec::new();
        for r in readers {
            let i = m.reader_index(&r.name);
            if !present_only || r.card_present {
                slots.extend([2 * i as CK_SLOT_ID, 2 * i as CK_SLOT_ID + 1]);
            }
        }
        Ok(slots)
    })
}

/// What C_GetSlotInfo reports.
pub struct SlotInfo {
    /// The slot description (reader name and token).
    pub description: String,
    /// CKF_* flags.
    pub flags: CK_FLAGS,
}

/// C_GetSlotInfo.
pub fn slot_info(slot: CK_SLOT_ID) -> Rv<SlotInfo> {
    with(|m| {
        let name = m.reader(slot)?.to_owned();
        let mut flags = CKF_REMOVABLE_DEVICE | CKF_HW_SLOT;
        if m.reader_now(slot)?.is_some_and(|r| r.card_present) {
            flags |= CKF_TOKEN_PRESENT;
        }
        let which = match kind_of(slot) {
            CertKind::Auth => "JPKI auth",
            CertKind::Sign => "JPKI sign",
        };
        Ok(SlotInfo {
            description: format!("{name} ({which})"),
            flags,
        })
    })
}

/// What C_GetTokenInfo reports.
pub struct TokenInfo {
    /// The token label (UTF-8).
    pub label: String,
    /// The token's serial number field.
    pub serial: String,
    /// CKF_* flags.
    pub flags: CK_FLAGS,
    /// Sessions open on this token.
    pub sessions: CK_ULONG,
    /// Of those, read-write ones.
    pub rw_sessions: CK_ULONG,
    /// PIN length range.
    pub pin_len: (CK_ULONG, CK_ULONG),
}

/// C_GetTokenInfo: the label, the flags and the PIN's tries as the card tells them.
pub fn token_info(slot: CK_SLOT_ID) -> Rv<TokenInfo> {
    with(|m| {
        let kind = kind_of(slot);
        let pin = pin_of(kind);
        let (card_serial, status) = m
            .on_card(slot, |c| {
                c.jpki_present()?;
                // The card's serial (住基 EF 0004, free to read) tells two cards apart in one
                // reader; a card without it (not issued) keeps the reader's number.
                let serial = c.card_info().ok().map(|i| i.serial);
                Ok((serial, c.pin_status(pin)?))
            })?
            .map_err(|e| match e {
                e if e.is_connection_lost() => CKR_DEVICE_REMOVED,
                // No JPKI AP, or not answering as one: not a juki card.
                _ => CKR_TOKEN_NOT_RECOGNIZED,
            })?;
        let mut flags = CKF_LOGIN_REQUIRED
            | CKF_USER_PIN_INITIALIZED
            | CKF_WRITE_PROTECTED
            | CKF_TOKEN_INITIALIZED;
        match status {
            PinStatus::Blocked => flags |= CKF_USER_PIN_LOCKED,
            PinStatus::TriesLeft(1) => flags |= CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_FINAL_TRY,
            PinStatus::TriesLeft(n) if n < pin.max_tries() => flags |= CKF_USER_PIN_COUNT_LOW,
            _ => {}
        }
        let (label, suffix, pin_len) = match kind {
            CertKind::Auth => ("JPKI 利用者証明用 (auth)", "A", (4, 4)),
            CertKind::Sign => ("JPKI 署名用 (sign)", "S", (6, 16)),
        };
        let on_token = || m.sessions.values().filter(|s| s.slot == slot);
        let sessions = on_token().count() as CK_ULONG;
        let rw_sessions = on_token().filter(|s| s.rw).count() as CK_ULONG;
        Ok(TokenInfo {
            label: label.into(),
            serial: token_serial(card_serial.as_deref(), suffix, slot / 2),
            flags,
            sessions,
            rw_sessions,
            pin_len,
        })
    })
}

/// The token's serial number (16 characters at most): the card's serial and `-A` or `-S`, so
/// that each of a card's two tokens has its own and another card in the reader is another
/// token; the reader's number where the card has no serial.
fn token_serial(card: Option<&str>, suffix: &str, reader: CK_SLOT_ID) -> String {
    match card {
        Some(serial) if !serial.is_empty() && serial.len() <= 14 => format!("{serial}-{suffix}"),
        Some(serial) if !serial.is_empty() => serial.to_owned(),
        _ => format!("JPKI-{suffix}-{reader}"),
    }
}

/// How often a blocking C_WaitForSlotEvent looks at the readers.
const EVENT_POLL: Duration = Duration::from_millis(100);

impl Module {
    /// Compares the readers with what was last seen and queues both slots of every reader
    /// that appeared or whose card came or went (also a card swapped between two looks: the
    /// reader's insertion and removal count moved).
    fn slot_events(&mut self) {
        for r in self.readers_now() {
            let i = self.reader_index(&r.name);
            let now = (r.card_present, r.events);
            if self.presence.insert(r.name.clone(), now) != Some(now) {
                for slot in [2 * i as CK_SLOT_ID, 2 * i as CK_SLOT_ID + 1] {
                    if !self.events.contains(&slot) {
                        self.events.push_back(slot);
                    }
                }
            }
        }
    }
}

/// C_WaitForSlotEvent: the next slot whose token came or went (since C_Initialize or the
/// last call); with `block`, waits for one (looking every [`EVENT_POLL`], the module's lock
/// released in between) until there is one or C_Finalize ends the wait.
pub fn wait_for_slot_event(block: bool) -> Rv<CK_SLOT_ID> {
    loop {
        let next = with(|m| {
            if m.events.is_empty() {
                m.slot_events();
            }
            Ok(m.events.pop_front())
        })?;
        match next {
            Some(slot) => return Ok(slot),
            None if !block => return Err(CKR_NO_EVENT),
            None => std::thread::sleep(EVENT_POLL),
        }
    }
}

/// C_GetMechanismList / C_GetMechanismInfo: the slot must exist.
pub fn check_slot(slot: CK_SLOT_ID) -> Rv<()> {
    with(|m| m.reader(slot).map(|_| ()))
}

/// C_OpenSession: serial sessions; read-write ones are accepted (docs/pkcs11.md says why),
/// though nothing in them can write.
pub fn open_session(slot: CK_SLOT_ID, flags: CK_FLAGS) -> Rv<CK_SESSION_HANDLE> {
    with(|m| {
        if flags & CKF_SERIAL_SESSION == 0 {
            return Err(CKR_SESSION_PARALLEL_NOT_SUPPORTED);
        }
        let card_events = match m.reader_now(slot)? {
            Some(r) if r.card_present => r.events,
            _ => return Err(CKR_TOKEN_NOT_PRESENT),
        };
        let key = kind_of(slot).key();
        let card_key = match m.on_card(slot, |c| c.public_key(key))? {
            Ok(k) => Some(k.to_encoded_point(false).as_bytes().to_vec()),
            Err(e) if e.is_connection_lost() => return Err(CKR_DEVICE_REMOVED),
            // No key pair yet (a card not issued): nothing to sign with, nothing to tell apart.
            Err(_) => None,
        };
        let h = m.next_session;
        m.next_session += 1;
        m.sessions.insert(
            h,
            Session {
                slot,
                objects: None,
                found: None,
                sign: None,
                rw: flags & CKF_RW_SESSION != 0,
                card_key,
                card_events,
            },
        );
        Ok(h)
    })
}

/// C_CloseSession; the token logs out with its last session.
pub fn close_session(h: CK_SESSION_HANDLE) -> Rv<()> {
    with(|m| {
        let s = m.sessions.remove(&h).ok_or(CKR_SESSION_HANDLE_INVALID)?;
        if !m.sessions.values().any(|o| o.slot == s.slot) {
            m.logins.remove(&s.slot);
        }
        Ok(())
    })
}

/// C_CloseAllSessions.
pub fn close_all_sessions(slot: CK_SLOT_ID) -> Rv<()> {
    with(|m| {
        m.reader(slot)?;
        m.sessions.retain(|_, s| s.slot != slot);
        m.logins.remove(&slot);
        Ok(())
    })
}

/// C_GetSessionInfo: (slot, read-write, state).
pub fn session_info(h: CK_SESSION_HANDLE) -> Rv<(CK_SLOT_ID, bool, CK_STATE)> {
    with(|m| {
        m.check_card(h)?;
        let (slot, rw) = (m.session(h)?.slot, m.session(h)?.rw);
        let state = match (m.logins.contains_key(&slot), rw) {
            (true, false) => CKS_RO_USER_FUNCTIONS,
            (true, true) => CKS_RW_USER_FUNCTIONS,
            (false, false) => CKS_RO_PUBLIC_SESSION,
            (false, true) => CKS_RW_PUBLIC_SESSION,
        };
        Ok((slot, rw, state))
    })
}

/// C_Login as the user: VERIFY of the token's PIN on the card.
pub fn login(h: CK_SESSION_HANDLE, user: CK_USER_TYPE, pin: &[u8]) -> Rv<()> {
    with(|m| {
        let slot = m.session(h)?.slot;
        if user != CKU_USER {
            // No security officer: the counter resets PINs, not the citizen's PC.
            return Err(CKR_USER_TYPE_INVALID);
        }
        if m.logins.contains_key(&slot) {
            return Err(CKR_USER_ALREADY_LOGGED_IN);
        }
        let kind = pin_of(kind_of(slot));
        let ok_len = match kind {
            PinId::Sign => (6..=16).contains(&pin.len()),
            _ => pin.len() == 4,
        };
        if !ok_len {
            return Err(CKR_PIN_LEN_RANGE);
        }
        let secret = Pin::new(pin.to_vec());
        m.session_card(h, |c| c.verify_selected(kind, &secret))?
            .map_err(|e| ckr(&e))?;
        m.logins.insert(slot, Zeroizing::new(pin.to_vec()));
        for s in m.sessions.values_mut().filter(|s| s.slot == slot) {
            s.objects = None;
        }
        Ok(())
    })
}

/// C_Logout.
pub fn logout(h: CK_SESSION_HANDLE) -> Rv<()> {
    with(|m| {
        let slot = m.session(h)?.slot;
        m.logins.remove(&slot).ok_or(CKR_USER_NOT_LOGGED_IN)?;
        for s in m.sessions.values_mut().filter(|s| s.slot == slot) {
            s.objects = None;
            s.sign = None;
        }
        Ok(())
    })
}

/// C_FindObjectsInit: the objects matching every attribute of `template`.
pub fn find_init(h: CK_SESSION_HANDLE, template: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)]) -> Rv<()> {
    with(|m| {
        if m.session(h)?.found.is_some() {
            return Err(CKR_OPERATION_ACTIVE);
        }
        // A fresh read: the card may have changed, and so may the login state.
        m.session(h)?.objects = None;
        let found = m
            .objects(h)?
            .iter()
            .filter(|o| template.iter().all(|(t, v)| o.attr(*t) == Some(v)))
            .map(|o| o.handle)
            .collect();
        m.session(h)?.found = Some(found);
        Ok(())
    })
}

/// C_FindObjects: up to `max` more handles.
pub fn find(h: CK_SESSION_HANDLE, max: usize) -> Rv<Vec<CK_OBJECT_HANDLE>> {
    with(|m| {
        let found = m
            .session(h)?
            .found
            .as_mut()
            .ok_or(CKR_OPERATION_NOT_INITIALIZED)?;
        let n = max.min(found.len());
        Ok(found.drain(..n).collect())
    })
}

/// C_FindObjectsFinal.
pub fn find_final(h: CK_SESSION_HANDLE) -> Rv<()> {
    with(|m| {
        m.session(h)?
            .found
            .take()
            .map(|_| ())
            .ok_or(CKR_OPERATION_NOT_INITIALIZED)
    })
}

/// C_GetAttributeValue: each requested attribute's value, `None` where the object has none.
pub fn attributes(
    h: CK_SESSION_HANDLE,
    object: CK_OBJECT_HANDLE,
    types: &[CK_ATTRIBUTE_TYPE],
) -> Rv<Vec<Attr>> {
    with(|m| {
        // The objects may be the session's cache: the card must still be the session's.
        m.check_card(h)?;
        let o = m
            .objects(h)?
            .iter()
            .find(|o| o.handle == object)
            .ok_or(CKR_OBJECT_HANDLE_INVALID)?;
        Ok(types
            .iter()
            .map(|t| match o.attr(*t) {
                Some(v) => Attr::Value(v.to_vec()),
                // The private key's value exists, on the card, and never leaves it.
                None if object == H_PRIVATE && *t == CKA_VALUE => Attr::Sensitive,
                None => Attr::Invalid,
            })
            .collect())
    })
}

/// One attribute as C_GetAttributeValue answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attr {
    /// The value.
    Value(Vec<u8>),
    /// The object has it but will not reveal it (`CKR_ATTRIBUTE_SENSITIVE`).
    Sensitive,
    /// The object has no such attribute (`CKR_ATTRIBUTE_TYPE_INVALID`).
    Invalid,
}

/// C_SignInit: `key` must be this token's private key (so the user is logged in).
pub fn sign_init(
    h: CK_SESSION_HANDLE,
    mechanism: CK_MECHANISM_TYPE,
    key: CK_OBJECT_HANDLE,
) -> Rv<()> {
    with(|m| {
        if m.session(h)?.sign.is_some() {
            return Err(CKR_OPERATION_ACTIVE);
        }
        if !MECHANISMS.contains(&mechanism) {
            return Err(CKR_MECHANISM_INVALID);
        }
        let slot = m.session(h)?.slot;
        if key == H_PUBLIC {
            // A key, but one that only verifies (CKA_SIGN is false on public keys).
            return Err(CKR_KEY_FUNCTION_NOT_PERMITTED);
        }
        if key != H_PRIVATE {
            return Err(CKR_KEY_HANDLE_INVALID);
        }
        if !m.logins.contains_key(&slot) {
            return Err(CKR_USER_NOT_LOGGED_IN);
        }
        if !m.objects(h)?.iter().any(|o| o.handle == key) {
            return Err(CKR_KEY_HANDLE_INVALID);
        }
        m.session(h)?.sign = Some(SignOp {
            mechanism,
            data: Vec::new(),
        });
        Ok(())
    })
}

/// Whether a signature operation is active (C_Sign's length query keeps it).
pub fn sign_active(h: CK_SESSION_HANDLE) -> Rv<()> {
    with(|m| {
        m.session(h)?
            .sign
            .as_ref()
            .map(|_| ())
            .ok_or(CKR_OPERATION_NOT_INITIALIZED)
    })
}

/// C_SignUpdate: more data for a multi-part signature.
pub fn sign_update(h: CK_SESSION_HANDLE, data: &[u8]) -> Rv<()> {
    with(|m| {
        let s = m.session(h)?;
        let op = s.sign.as_mut().ok_or(CKR_OPERATION_NOT_INITIALIZED)?;
        if op.mechanism == CKM_ECDSA {
            // CKM_ECDSA is single-part only.
            s.sign = None;
            return Err(CKR_FUNCTION_NOT_SUPPORTED);
        }
        op.data.extend_from_slice(data);
        Ok(())
    })
}

/// C_SessionCancel: ends the session's signature if `sign` asks for it (the one operation a
/// session of this module can have running; a search is ended by C_FindObjectsFinal).
pub fn cancel(h: CK_SESSION_HANDLE, sign: bool) -> Rv<()> {
    with(|m| {
        let s = m.session(h)?;
        if sign {
            s.sign = None;
        }
        Ok(())
    })
}

/// The 32 bytes the card signs for `mechanism` over `data`: for CKM_ECDSA_SHA256/384/512 the
/// hash of the data, and for CKM_ECDSA the hash given, each cut to its leftmost 256 bits if
/// longer (ECDSA's rule, what the card does with a SHA-384/512 DigestInfo), left-padded with
/// zeros if shorter (the same integer).
pub fn to_be_signed(mechanism: CK_MECHANISM_TYPE, data: &[u8]) -> Rv<[u8; 32]> {
    let digest;
    let hash: &[u8] = match mechanism {
        CKM_ECDSA_SHA256 => {
            digest = Sha256::digest(data).to_vec();
            &digest
        }
        CKM_ECDSA_SHA384 => {
            digest = Sha384::digest(data).to_vec();
            &digest
        }
        CKM_ECDSA_SHA512 => {
            digest = Sha512::digest(data).to_vec();
            &digest
        }
        _ if data.is_empty() || data.len() > 64 => return Err(CKR_DATA_LEN_RANGE),
        _ => data,
    };
    let mut out = [0u8; 32];
    match hash.len() {
        n if n >= 32 => out.copy_from_slice(&hash[..32]),
        n => out[32 - n..].copy_from_slice(hash),
    }
    Ok(out)
}

/// C_Sign (`data`: all of it) or C_SignFinal (`data` empty): VERIFY of the PIN given at login
/// and COMPUTE DIGITAL SIGNATURE in one card transaction. Ends the operation.
pub fn sign(h: CK_SESSION_HANDLE, data: &[u8], final_part: bool) -> Rv<Vec<u8>> {
    with(|m| {
        let slot = m.session(h)?.slot;
        let op = m
            .session(h)?
            .sign
            .take()
            .ok_or(CKR_OPERATION_NOT_INITIALIZED)?;
        let input = if final_part { &op.data[..] } else { data };
        let hash = to_be_signed(op.mechanism, input)?;
        let pin = Pin::new(m.logins.get(&slot).ok_or(CKR_USER_NOT_LOGGED_IN)?.to_vec());
        let kind = kind_of(slot);
        let key: KeyId = kind.key();
        let sig = m
            .session_card(h, |c| {
                c.verify_selected(pin_of(kind), &pin)?;
                c.compute_signature(key, &hash)
            })?
            .map_err(|e| ckr(&e))?;
        Ok(sig.to_bytes().to_vec())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ecdsa_input_rules() {
        let h = to_be_signed(CKM_ECDSA, &[7u8; 48]).unwrap();
        assert_eq!(h, [7u8; 32]);
        let h = to_be_signed(CKM_ECDSA, &[1, 2]).unwrap();
        assert_eq!(&h[30..], &[1, 2]);
        assert!(h[..30].iter().all(|b| *b == 0));
        assert_eq!(to_be_signed(CKM_ECDSA, &[]), Err(CKR_DATA_LEN_RANGE));
        assert_eq!(to_be_signed(CKM_ECDSA, &[0; 65]), Err(CKR_DATA_LEN_RANGE));
        let h = to_be_signed(CKM_ECDSA_SHA256, b"abc").unwrap();
        assert_eq!(h[..4], [0xba, 0x78, 0x16, 0xbf]);
        // The leftmost 256 bits of SHA-384("abc") and SHA-512("abc") (FIPS 180-2 examples).
        let h = to_be_signed(CKM_ECDSA_SHA384, b"abc").unwrap();
        assert_eq!(h[..4], [0xcb, 0x00, 0x75, 0x3f]);
        assert_eq!(h[28..], [0x43, 0xff, 0x5b, 0xed]);
        let h = to_be_signed(CKM_ECDSA_SHA512, b"abc").unwrap();
        assert_eq!(h[..4], [0xdd, 0xaf, 0x35, 0xa1]);
        // Empty data is fine to hash; only CKM_ECDSA needs a hash to sign.
        assert!(to_be_signed(CKM_ECDSA_SHA512, b"").is_ok());
    }

    #[test]
    fn token_serials() {
        assert_eq!(token_serial(Some("JK0123456789"), "A", 0), "JK0123456789-A");
        assert_eq!(token_serial(Some("JK0123456789"), "S", 3), "JK0123456789-S");
        assert_eq!(token_serial(None, "S", 3), "JPKI-S-3");
        assert_eq!(token_serial(Some(""), "A", 1), "JPKI-A-1");
        let long = "ABCDEFGHIJKLMNOP";
        assert_eq!(token_serial(Some(long), "A", 0), long);
    }

    #[test]
    fn not_initialised_then_twice() {
        // One test touches the global state, so nothing races it.
        assert_eq!(slot_list(false), Err(CKR_CRYPTOKI_NOT_INITIALIZED));
        assert_eq!(initialize(), Ok(()));
        assert_eq!(initialize(), Err(CKR_CRYPTOKI_ALREADY_INITIALIZED));
        assert_eq!(
            open_session(9999, CKF_SERIAL_SESSION),
            Err(CKR_SLOT_ID_INVALID)
        );
        assert_eq!(close_session(42), Err(CKR_SESSION_HANDLE_INVALID));
        assert_eq!(finalize(), Ok(()));
        assert_eq!(finalize(), Err(CKR_CRYPTOKI_NOT_INITIALIZED));
    }
}
