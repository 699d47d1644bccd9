//! The two applications, their elementary files, capacities and access conditions.
//!
//! AIDs and file IDs are those of the deployed cards (docs/apdu.md, "Applications and files").
//! Binary EFs are stored one NVM record each ([`crate::storage`]); PIN and key EFs live in the
//! core record ([`crate::state`]).

/// 住基AP.
pub const JUKI_AID: [u8; 10] = [0xD3, 0x92, 0x10, 0x00, 0x31, 0x00, 0x01, 0x01, 0x04, 0x01];
/// JPKI AP.
pub const JPKI_AID: [u8; 10] = [0xD3, 0x92, 0xF0, 0x00, 0x26, 0x01, 0x00, 0x00, 0x00, 0x01];

/// An application of the card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum App {
    /// 住基AP: resident data.
    Juki,
    /// JPKI AP: keys and certificates.
    Jpki,
}

impl App {
    /// The application with this AID (exact match).
    pub fn from_aid(aid: &[u8]) -> Option<App> {
        if aid == JUKI_AID {
            Some(App::Juki)
        } else if aid == JPKI_AID {
            Some(App::Jpki)
        } else {
            None
        }
    }

    /// Its AID.
    pub fn aid(self) -> &'static [u8; 10] {
        match self {
            App::Juki => &JUKI_AID,
            App::Jpki => &JPKI_AID,
        }
    }
}

/// Every elementary file of the card by name: its application and file ID
/// ([`EfId::app`], [`EfId::fid`]); what it holds is in [`EFS`].
///
/// Every EF's short identifier is its file ID (all are 1–30, [`EfId::sfi`]): READ/UPDATE
/// BINARY name one by `80|SFI` in P1, VERIFY and the other PIN and key commands by `80|SFI` in
/// P2 ([`EfId::reference`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EfId {
    /// 住基 001C: the 住基 PIN.
    JukiPin,
    /// 住基 0001: 住民票コード (resident code).
    ResidentCode,
    /// 住基 0002: 4 info (name, address, birth date, sex).
    FourInfo,
    /// 住基 0003: change information.
    Changes,
    /// 住基 0004: card information (readable in every state but blank).
    CardInfo,
    /// 住基 0005: the card's certificate (its serial and authentication key, signed by the
    /// root).
    CardCert,
    /// JPKI 0006: token information (the token label).
    TokenInfo,
    /// JPKI 0008: which certificates are present.
    CertsPresent,
    /// JPKI 000A: authentication certificate.
    AuthCert,
    /// JPKI 000B: authentication CA certificate.
    AuthCaCert,
    /// JPKI 0001: signing certificate (after the sign password).
    SignCert,
    /// JPKI 0002: signing CA certificate.
    SignCaCert,
    /// JPKI 0017: the authentication key.
    AuthKey,
    /// JPKI 0018: the authentication PIN.
    AuthPin,
    /// JPKI 001A: the signing key.
    SignKey,
    /// JPKI 001B: the signing password.
    SignPin,
}

impl EfId {
    /// Every EF, in [`EFS`] order.
    pub const ALL: [EfId; 16] = [
        EfId::JukiPin,
        EfId::ResidentCode,
        EfId::FourInfo,
        EfId::Changes,
        EfId::CardInfo,
        EfId::CardCert,
        EfId::TokenInfo,
        EfId::CertsPresent,
        EfId::AuthCert,
        EfId::AuthCaCert,
        EfId::SignCert,
        EfId::SignCaCert,
        EfId::AuthKey,
        EfId::AuthPin,
        EfId::SignKey,
        EfId::SignPin,
    ];

    /// The application it belongs to.
    pub const fn app(self) -> App {
        match self {
            EfId::JukiPin
            | EfId::ResidentCode
            | EfId::FourInfo
            | EfId::Changes
            | EfId::CardInfo
            | EfId::CardCert => App::Juki,
            EfId::TokenInfo
            | EfId::CertsPresent
            | EfId::AuthCert
            | EfId::AuthCaCert
            | EfId::SignCert
            | EfId::SignCaCert
            | EfId::AuthKey
            | EfId::AuthPin
            | EfId::SignKey
            | EfId::SignPin => App::Jpki,
        }
    }

    /// Its file ID (docs/apdu.md, "Applications and files").
    pub const fn fid(self) -> u16 {
        match self {
            EfId::JukiPin => 0x001C,
            EfId::ResidentCode => 0x0001,
            EfId::FourInfo => 0x0002,
            EfId::Changes => 0x0003,
            EfId::CardInfo => 0x0004,
            EfId::CardCert => 0x0005,
            EfId::TokenInfo => 0x0006,
            EfId::CertsPresent => 0x0008,
            EfId::AuthCert => 0x000A,
            EfId::AuthCaCert => 0x000B,
            EfId::SignCert => 0x0001,
            EfId::SignCaCert => 0x0002,
            EfId::AuthKey => 0x0017,
            EfId::AuthPin => 0x0018,
            EfId::SignKey => 0x001A,
            EfId::SignPin => 0x001B,
        }
    }

    /// Its short EF identifier: the file ID ([`fid_of_sfi`] inverted; every file ID of the card
    /// is 1–30).
    pub const fn sfi(self) -> u8 {
        self.fid() as u8
    }

    /// `80|SFI`: the byte naming it in P1 of READ/UPDATE BINARY or P2 of VERIFY, CHANGE
    /// REFERENCE DATA, RESET RETRY COUNTER and GENERATE ASYMMETRIC KEY PAIR.
    pub const fn reference(self) -> u8 {
        crate::command::by_short_ef(self.sfi())
    }

    /// The EF `fid` of `app`.
    pub fn from_fid(app: App, fid: u16) -> Option<EfId> {
        EfId::ALL
            .into_iter()
            .find(|id| id.app() == app && id.fid() == fid)
    }

    /// The EF of `app` a reference byte `80|SFI` names ([`EfId::reference`] inverted).
    pub fn from_reference(app: App, reference: u8) -> Option<EfId> {
        if reference & 0xE0 != 0x80 {
            return None;
        }
        EfId::from_fid(app, fid_of_sfi(reference & 0x1F))
    }

    /// Its entry in [`EFS`].
    pub fn ef(self) -> Option<&'static Ef> {
        EFS.iter().find(|ef| ef.id == self)
    }

    /// Capacity in bytes of a binary EF; `None` for a PIN or key.
    pub fn capacity(self) -> Option<usize> {
        match self.ef()?.kind {
            EfKind::Binary { capacity, .. } => Some(usize::from(capacity)),
            EfKind::Pin(_) | EfKind::Key(_) => None,
        }
    }

    /// The NVM record of a binary EF; `None` for a PIN or key.
    pub fn record(self) -> Option<u8> {
        match self.ef()?.kind {
            EfKind::Binary { record, .. } => Some(record),
            EfKind::Pin(_) | EfKind::Key(_) => None,
        }
    }
}

/// The file ID of the EF with short identifier `sfi` (ISO/IEC 7816-4 §7.2.2: on this card,
/// the same number).
pub const fn fid_of_sfi(sfi: u8) -> u16 {
    sfi as u16
}

/// One of the card's three PINs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PinId {
    /// 住基 PIN (住基AP 001C): 4 digits, 3 tries.
    Juki = 0,
    /// JPKI authentication PIN (0018): 4 digits, 3 tries.
    Auth = 1,
    /// JPKI signing password (001B): 6–16 of `A–Z 0–9`, a letter and a digit, 5 tries.
    Sign = 2,
}

/// Number of PINs.
pub const PIN_COUNT: usize = 3;

impl PinId {
    /// All three, in the order the counter sets them.
    pub const ALL: [PinId; PIN_COUNT] = [PinId::Juki, PinId::Auth, PinId::Sign];

    /// Its EF: application, file ID, and the P2 naming it in VERIFY, CHANGE REFERENCE DATA and
    /// RESET RETRY COUNTER ([`EfId::reference`]).
    pub const fn ef(self) -> EfId {
        match self {
            PinId::Juki => EfId::JukiPin,
            PinId::Auth => EfId::AuthPin,
            PinId::Sign => EfId::SignPin,
        }
    }

    /// The application holding it.
    pub const fn app(self) -> App {
        self.ef().app()
    }

    /// The PIN held by EF `ef` (with [`EfId::from_reference`]: the PIN a P2 names).
    pub fn from_ef(ef: EfId) -> Option<PinId> {
        PinId::ALL.into_iter().find(|id| id.ef() == ef)
    }
}

/// One of the card's two private keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyId {
    /// JPKI authentication key (0017), used after the auth PIN.
    Auth = 0,
    /// JPKI signing key (001A), used after the sign password.
    Sign = 1,
}

/// Number of private keys.
pub const KEY_COUNT: usize = 2;

impl KeyId {
    /// Both keys.
    pub const ALL: [KeyId; KEY_COUNT] = [KeyId::Auth, KeyId::Sign];

    /// The PIN that must be verified to use the key.
    pub const fn pin(self) -> PinId {
        match self {
            KeyId::Auth => PinId::Auth,
            KeyId::Sign => PinId::Sign,
        }
    }

    /// Its EF: file ID (SELECT before COMPUTE DIGITAL SIGNATURE) and the P2 naming it in
    /// GENERATE ASYMMETRIC KEY PAIR ([`EfId::reference`]).
    pub const fn ef(self) -> EfId {
        match self {
            KeyId::Auth => EfId::AuthKey,
            KeyId::Sign => EfId::SignKey,
        }
    }

    /// The key held by EF `ef` (with [`EfId::from_reference`]: the key a P2 names).
    pub fn from_ef(ef: EfId) -> Option<KeyId> {
        KeyId::ALL.into_iter().find(|id| id.ef() == ef)
    }
}

/// Read condition of a binary EF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone may read.
    Free,
    /// After this PIN was verified in this session.
    Pin(PinId),
}

/// Who writes a binary EF.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// The counter, with UPDATE BINARY under its secure-messaging session.
    Counter,
    /// The card itself, once, at initialisation (PUT DATA of the card certificate): UPDATE
    /// BINARY is refused (`6982`).
    Initialisation,
}

/// What an elementary file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EfKind {
    /// Transparent file: NVM record `record`, at most `capacity` bytes; written by the counter.
    Binary {
        /// Its NVM record number (1..).
        record: u8,
        /// Capacity in bytes.
        capacity: u16,
        /// Read condition.
        read: Access,
        /// Who writes it.
        write: Write,
    },
    /// A PIN (never readable).
    Pin(PinId),
    /// A private key (never readable).
    Key(KeyId),
}

/// An elementary file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ef {
    /// Which one: its application and file ID.
    pub id: EfId,
    /// What it holds.
    pub kind: EfKind,
}

impl Ef {
    /// The application it belongs to.
    pub const fn app(&self) -> App {
        self.id.app()
    }

    /// Its file ID.
    pub const fn fid(&self) -> u16 {
        self.id.fid()
    }
}

const fn bin(id: EfId, record: u8, capacity: u16, read: Access) -> Ef {
    Ef {
        id,
        kind: EfKind::Binary {
            record,
            capacity,
            read,
            write: Write::Counter,
        },
    }
}

const fn pin(id: PinId) -> Ef {
    Ef {
        id: id.ef(),
        kind: EfKind::Pin(id),
    }
}

const fn key(id: KeyId) -> Ef {
    Ef {
        id: id.ef(),
        kind: EfKind::Key(id),
    }
}

/// Capacity of a certificate EF.
pub const CERT_CAPACITY: u16 = 2048;

/// Capacity of the card certificate EF (住基 0005).
pub const CARD_CERT_CAPACITY: u16 = 512;

/// Every EF of the card, in [`EfId::ALL`] order. A binary EF's record number is its NVM record
/// (the core record is 0).
pub const EFS: [Ef; 16] = [
    pin(PinId::Juki),
    bin(EfId::ResidentCode, 1, 11, Access::Pin(PinId::Juki)),
    bin(EfId::FourInfo, 2, 1024, Access::Pin(PinId::Juki)),
    bin(EfId::Changes, 3, 512, Access::Pin(PinId::Juki)),
    bin(EfId::CardInfo, 4, 128, Access::Free),
    // Appended as record 11: the records before it keep their place in the NVM of older cards.
    Ef {
        id: EfId::CardCert,
        kind: EfKind::Binary {
            record: 11,
            capacity: CARD_CERT_CAPACITY,
            read: Access::Free,
            write: Write::Initialisation,
        },
    },
    bin(EfId::TokenInfo, 5, 32, Access::Free),
    bin(EfId::CertsPresent, 6, 1, Access::Free),
    bin(EfId::AuthCert, 7, CERT_CAPACITY, Access::Free),
    bin(EfId::AuthCaCert, 8, CERT_CAPACITY, Access::Free),
    bin(EfId::SignCert, 9, CERT_CAPACITY, Access::Pin(PinId::Sign)),
    bin(EfId::SignCaCert, 10, CERT_CAPACITY, Access::Free),
    key(KeyId::Auth),
    pin(PinId::Auth),
    key(KeyId::Sign),
    pin(PinId::Sign),
];

/// Number of binary EFs (NVM records 1..=BINARY_EF_COUNT).
pub const BINARY_EF_COUNT: usize = 11;

/// Index into [`EFS`] of the EF `fid` of `app`.
pub fn find(app: App, fid: u16) -> Option<u8> {
    let index = EFS
        .iter()
        .position(|ef| ef.app() == app && ef.fid() == fid)?;
    u8::try_from(index).ok()
}

/// The EF at `index` in [`EFS`].
pub fn ef(index: u8) -> Option<&'static Ef> {
    EFS.get(usize::from(index))
}

/// The NVM record of the binary EF `fid` of `app`.
pub fn record_of(app: App, fid: u16) -> Option<u8> {
    match find(app, fid).and_then(ef)?.kind {
        EfKind::Binary { record, .. } => Some(record),
        _ => None,
    }
}

/// Capacity of NVM record `record` if it is a binary EF's.
pub fn binary_capacity(record: u8) -> Option<usize> {
    EFS.iter().find_map(|ef| match ef.kind {
        EfKind::Binary {
            record: r,
            capacity,
            ..
        } if r == record => Some(usize::from(capacity)),
        _ => None,
    })
}

/// The binary EFs TERMINATE CARD USAGE erases: the resident data (住基 0001–0003) and the JPKI
/// certificates with their index (0008, 000A, 000B, 0001, 0002). The card information (住基
/// 0004) and the token label (JPKI 0006) stay.
pub const ERASED_AT_TERMINATION: [EfId; 8] = [
    EfId::ResidentCode,
    EfId::FourInfo,
    EfId::Changes,
    EfId::CertsPresent,
    EfId::AuthCert,
    EfId::AuthCaCert,
    EfId::SignCert,
    EfId::SignCaCert,
];

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        for record in 1..=BINARY_EF_COUNT as u8 {
            assert!(binary_capacity(record).is_some(), "record {record}");
        }
        assert!(binary_capacity(0).is_none());
        assert!(binary_capacity(BINARY_EF_COUNT as u8 + 1).is_none());
        assert_eq!(record_of(App::Juki, 0x0002), Some(2));
        assert_eq!(record_of(App::Jpki, 0x0001), Some(9));
        assert_eq!(record_of(App::Jpki, 0x0017), None);
        assert_eq!(find(App::Juki, 0x0017), None);
        assert_eq!(App::from_aid(&JPKI_AID), Some(App::Jpki));
        assert_eq!(App::from_aid(&JPKI_AID[..9]), None);
        for id in ERASED_AT_TERMINATION {
            assert!(id.record().is_some(), "{id:?}");
        }
        assert!(!ERASED_AT_TERMINATION.contains(&EfId::CardInfo));
    }

    #[test]
    fn identifiers_round_trip() {
        for (index, id) in EfId::ALL.into_iter().enumerate() {
            let ef = &EFS[index];
            assert_eq!(ef.id, id, "EFS in EfId::ALL order");
            assert_eq!(id.ef(), Some(ef));
            assert_eq!(EfId::from_fid(id.app(), id.fid()), Some(id));
            assert!((1..=crate::command::MAX_SFI).contains(&id.sfi()), "{id:?}");
            assert_eq!(fid_of_sfi(id.sfi()), id.fid());
            assert_eq!(EfId::from_reference(id.app(), id.reference()), Some(id));
            assert_eq!(find(id.app(), id.fid()), u8::try_from(index).ok());
            match ef.kind {
                EfKind::Pin(pin) => assert_eq!(PinId::from_ef(id), Some(pin)),
                EfKind::Key(key) => assert_eq!(KeyId::from_ef(id), Some(key)),
                EfKind::Binary { capacity, .. } => {
                    assert_eq!(id.capacity(), Some(usize::from(capacity)));
                    assert_eq!(PinId::from_ef(id), None);
                    assert_eq!(KeyId::from_ef(id), None);
                }
            }
        }
        for pin in PinId::ALL {
            assert_eq!(pin.ef().ef().map(|ef| ef.kind), Some(EfKind::Pin(pin)));
            assert_eq!(pin.app(), pin.ef().app());
        }
        for key in KeyId::ALL {
            assert_eq!(key.ef().ef().map(|ef| ef.kind), Some(EfKind::Key(key)));
        }
        assert_eq!(PinId::Juki.ef().reference(), 0x9C);
        assert_eq!(PinId::Sign.ef().fid(), 0x001B);
        assert_eq!(KeyId::Auth.ef().reference(), 0x97);
        let pin_of = |app, p2| EfId::from_reference(app, p2).and_then(PinId::from_ef);
        assert_eq!(pin_of(App::Jpki, 0x9B), Some(PinId::Sign));
        assert_eq!(pin_of(App::Juki, 0x9B), None);
        assert_eq!(pin_of(App::Jpki, 0x1B), None);
        assert_eq!(EfId::CardInfo.capacity(), Some(128));
        assert_eq!(EfId::AuthKey.capacity(), None);
    }
}
