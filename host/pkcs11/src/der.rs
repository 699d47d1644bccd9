//! The certificate attributes consumers search by (`CKA_SUBJECT`, `CKA_ISSUER`,
//! `CKA_SERIAL_NUMBER`): the fields of the TBSCertificate, DER-encoded as in the certificate,
//! read with RustCrypto's `x509-cert`.

use x509_cert::der::{Decode, Encode};
use x509_cert::Certificate;

/// A certificate's names and serial number, each DER-encoded as in the certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFields {
    /// The issuer's `Name`.
    pub issuer: Vec<u8>,
    /// The serial number's `INTEGER`.
    pub serial: Vec<u8>,
    /// The subject's `Name`.
    pub subject: Vec<u8>,
}

/// The fields of the certificate `der`, or `None` if it is not one.
pub fn cert_fields(der: &[u8]) -> Option<CertFields> {
    let tbs = Certificate::from_der(der).ok()?.tbs_certificate;
    Some(CertFields {
        issuer: tbs.issuer.to_der().ok()?,
        serial: tbs.serial_number.to_der().ok()?,
        subject: tbs.subject.to_der().ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fields_of_a_ca_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let ca = juki_jpki::ca::JpkiCa::init(&dir.path().join("ca"), 1_796_050_800).unwrap();
        let der = ca
            .ca_certificate(juki_jpki::CertKind::Sign)
            .to_der()
            .unwrap();
        let f = cert_fields(&der).unwrap();
        // Self-signed: the same Name twice, DER SEQUENCEs found inside the certificate.
        assert_eq!(f.subject, f.issuer);
        assert_eq!(f.subject[0], 0x30);
        assert!(der.windows(f.subject.len()).any(|w| w == f.subject));
        assert_eq!(f.serial[0], 0x02);
        assert!(der.windows(f.serial.len()).any(|w| w == f.serial));
    }

    #[test]
    fn not_a_certificate_has_no_fields() {
        assert_eq!(cert_fields(&[]), None);
        assert_eq!(cert_fields(&[0x30, 0x00]), None);
        assert_eq!(cert_fields(&[0x30, 0x82, 0xFF]), None);
    }
}
