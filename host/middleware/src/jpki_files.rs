//! The JPKI AP's certificates as the card holds them: which key each certifies, which EF holds it
//! and its CA certificate, and their bits in EF 0008.

use juki_card::files::{EfId, KeyId};

/// The two certificates of a card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CertKind {
    /// 署名用電子証明書: e-applications; carries the 4 info; read after the sign password.
    Sign,
    /// 利用者証明用電子証明書: login; no personal data beyond a serial; free to read.
    Auth,
}

impl CertKind {
    /// Both kinds.
    pub const ALL: [CertKind; 2] = [CertKind::Sign, CertKind::Auth];

    /// `sign` or `auth`, as stored and typed.
    pub fn as_str(self) -> &'static str {
        match self {
            CertKind::Sign => "sign",
            CertKind::Auth => "auth",
        }
    }

    /// The kind stored as `text`.
    pub fn parse(text: &str) -> Option<CertKind> {
        CertKind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    /// Its name on municipal pages.
    pub fn japanese(self) -> &'static str {
        match self {
            CertKind::Sign => "署名用電子証明書",
            CertKind::Auth => "利用者証明用電子証明書",
        }
    }

    /// The card key it certifies.
    pub fn key(self) -> KeyId {
        match self {
            CertKind::Sign => KeyId::Sign,
            CertKind::Auth => KeyId::Auth,
        }
    }

    /// The JPKI AP EF holding the certificate.
    pub fn cert_ef(self) -> EfId {
        match self {
            CertKind::Sign => EfId::SignCert,
            CertKind::Auth => EfId::AuthCert,
        }
    }

    /// The JPKI AP EF holding its CA certificate.
    pub fn ca_ef(self) -> EfId {
        match self {
            CertKind::Sign => EfId::SignCaCert,
            CertKind::Auth => EfId::AuthCaCert,
        }
    }

    /// Its bits (certificate and CA certificate) in JPKI EF 0008 (docs/apdu.md).
    pub fn present_bits(self) -> u8 {
        match self {
            CertKind::Auth => 0b0011,
            CertKind::Sign => 0b1100,
        }
    }
}

impl std::fmt::Display for CertKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.japanese(), self.as_str())
    }
}

/// JPKI EF 0008 when both certificates and both CA certificates are on the card.
pub const ALL_PRESENT: u8 = 0b1111;
