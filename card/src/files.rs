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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// One of the card's three PINs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// One of the card's two private keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyId {
    /// JPKI authentication key (0017), used after the auth PIN.
    Auth = 0,
    /// JPKI signing key (001A), used after the sign password.
    Sign = 1,
}

/// Number of private keys.
pub const KEY_COUNT: usize = 2;

impl KeyId {
    /// The PIN that must be verified to use the key.
    pub fn pin(self) -> PinId {
        match self {
            KeyId::Auth => PinId::Auth,
            KeyId::Sign => PinId::Sign,
        }
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
    /// The application it belongs to.
    pub app: App,
    /// Its file ID.
    pub fid: u16,
    /// What it holds.
    pub kind: EfKind,
}

const fn bin(app: App, fid: u16, record: u8, capacity: u16, read: Access) -> Ef {
    Ef {
        app,
        fid,
        kind: EfKind::Binary {
            record,
            capacity,
            read,
            write: Write::Counter,
        },
    }
}

/// Capacity of a certificate EF.
pub const CERT_CAPACITY: u16 = 2048;

/// Capacity of the card certificate EF (住基 0005).
pub const CARD_CERT_CAPACITY: u16 = 512;

/// Every EF of the card. A binary EF's record number is its NVM record (the core record is 0).
pub const EFS: [Ef; 16] = [
    Ef {
        app: App::Juki,
        fid: 0x001C,
        kind: EfKind::Pin(PinId::Juki),
    },
    bin(App::Juki, 0x0001, 1, 11, Access::Pin(PinId::Juki)),
    bin(App::Juki, 0x0002, 2, 1024, Access::Pin(PinId::Juki)),
    bin(App::Juki, 0x0003, 3, 512, Access::Pin(PinId::Juki)),
    bin(App::Juki, 0x0004, 4, 128, Access::Free),
    // Appended as record 11: the records before it keep their place in the NVM of older cards.
    Ef {
        app: App::Juki,
        fid: JUKI_CARD_CERT,
        kind: EfKind::Binary {
            record: 11,
            capacity: CARD_CERT_CAPACITY,
            read: Access::Free,
            write: Write::Initialisation,
        },
    },
    bin(App::Jpki, 0x0006, 5, 32, Access::Free),
    bin(App::Jpki, 0x0008, 6, 1, Access::Free),
    bin(App::Jpki, 0x000A, 7, CERT_CAPACITY, Access::Free),
    bin(App::Jpki, 0x000B, 8, CERT_CAPACITY, Access::Free),
    bin(
        App::Jpki,
        0x0001,
        9,
        CERT_CAPACITY,
        Access::Pin(PinId::Sign),
    ),
    bin(App::Jpki, 0x0002, 10, CERT_CAPACITY, Access::Free),
    Ef {
        app: App::Jpki,
        fid: 0x0017,
        kind: EfKind::Key(KeyId::Auth),
    },
    Ef {
        app: App::Jpki,
        fid: 0x0018,
        kind: EfKind::Pin(PinId::Auth),
    },
    Ef {
        app: App::Jpki,
        fid: 0x001A,
        kind: EfKind::Key(KeyId::Sign),
    },
    Ef {
        app: App::Jpki,
        fid: 0x001B,
        kind: EfKind::Pin(PinId::Sign),
    },
];

/// Number of binary EFs (NVM records 1..=BINARY_EF_COUNT).
pub const BINARY_EF_COUNT: usize = 11;

/// Index into [`EFS`] of the EF `fid` of `app`.
pub fn find(app: App, fid: u16) -> Option<u8> {
    let index = EFS.iter().position(|ef| ef.app == app && ef.fid == fid)?;
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

/// 住基 0001 (resident code).
pub const JUKI_RESIDENT_CODE: u16 = 0x0001;
/// 住基 0002 (4 info).
pub const JUKI_FOUR_INFO: u16 = 0x0002;
/// 住基 0004 (card information).
pub const JUKI_CARD_INFO: u16 = 0x0004;
/// 住基 0005 (the card's certificate: its serial and authentication key, signed by the root).
pub const JUKI_CARD_CERT: u16 = 0x0005;

/// The binary EFs TERMINATE CARD USAGE erases: the resident data (住基 0001–0003) and the JPKI
/// certificates with their index (0008, 000A, 000B, 0001, 0002). The card information (住基
/// 0004) and the token label (JPKI 0006) stay.
pub const ERASED_AT_TERMINATION: [(App, u16); 8] = [
    (App::Juki, 0x0001),
    (App::Juki, 0x0002),
    (App::Juki, 0x0003),
    (App::Jpki, 0x0008),
    (App::Jpki, 0x000A),
    (App::Jpki, 0x000B),
    (App::Jpki, 0x0001),
    (App::Jpki, 0x0002),
];

#[cfg(test)]
#[allow(clippy::unwrap_used)]
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
        for (app, fid) in ERASED_AT_TERMINATION {
            assert!(record_of(app, fid).is_some(), "{app:?} {fid:04X}");
        }
        assert!(!ERASED_AT_TERMINATION.contains(&(App::Juki, JUKI_CARD_INFO)));
    }
}
