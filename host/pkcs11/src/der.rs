//! Just enough DER to give certificates the attributes consumers search by (`CKA_SUBJECT`,
//! `CKA_ISSUER`, `CKA_SERIAL_NUMBER`): the fields of a TBSCertificate, as the bytes they are.

/// A TLV: its tag, the whole TLV, its contents and what follows it.
type Tlv<'a> = (u8, &'a [u8], &'a [u8], &'a [u8]);

/// The TLV at the start of `data`.
fn tlv(data: &[u8]) -> Option<Tlv<'_>> {
    let (&tag, rest) = data.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let n = usize::from(first & 0x7F);
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |a, b| (a << 8) | usize::from(*b));
        (len, &rest[n..])
    };
    if rest.len() < len {
        return None;
    }
    let header = data.len() - rest.len();
    Some((tag, &data[..header + len], &rest[..len], &rest[len..]))
}

/// A certificate's names and serial number, each DER-encoded as in the certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertFields {
    /// The issuer Name.
    pub issuer: Vec<u8>,
    /// The serial number INTEGER.
    pub serial: Vec<u8>,
    /// The subject Name.
    pub subject: Vec<u8>,
}

/// The fields of certificate `der`, `None` if it is not shaped like one.
pub fn cert_fields(der: &[u8]) -> Option<CertFields> {
    let (0x30, _, cert, _) = tlv(der)? else {
        return None;
    };
    let (0x30, _, tbs, _) = tlv(cert)? else {
        return None;
    };
    let mut rest = tbs;
    if let (0xA0, _, _, after) = tlv(rest)? {
        rest = after;
    }
    let (0x02, serial, _, rest) = tlv(rest)? else {
        return None;
    };
    let (_, _, _, rest) = tlv(rest)?; // signature algorithm
    let (0x30, issuer, _, rest) = tlv(rest)? else {
        return None;
    };
    let (_, _, _, rest) = tlv(rest)?; // validity
    let (0x30, subject, _, _) = tlv(rest)? else {
        return None;
    };
    Some(CertFields {
        issuer: issuer.to_vec(),
        serial: serial.to_vec(),
        subject: subject.to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_of_a_certificate_shape() {
        // SEQ { SEQ { [0]{INT 2}, INT 5, SEQ{}, SEQ{issuer}, SEQ{}, SEQ{subject}, ... }, ... }
        let tbs: &[u8] = &[
            0xA0, 0x03, 0x02, 0x01, 0x02, // version
            0x02, 0x01, 0x05, // serial
            0x30, 0x00, // algorithm
            0x30, 0x02, 0x31, 0x00, // issuer
            0x30, 0x00, // validity
            0x30, 0x03, 0x31, 0x01, 0x00, // subject
            0x30, 0x00, // key
        ];
        let mut cert = vec![0x30, tbs.len() as u8];
        cert.extend_from_slice(tbs);
        let mut der = vec![0x30, 0x81, cert.len() as u8 + 2];
        der.extend_from_slice(&cert);
        der.extend_from_slice(&[0x30, 0x00]);
        let f = cert_fields(&der).unwrap();
        assert_eq!(f.serial, [0x02, 0x01, 0x05]);
        assert_eq!(f.issuer, [0x30, 0x02, 0x31, 0x00]);
        assert_eq!(f.subject, [0x30, 0x03, 0x31, 0x01, 0x00]);
        assert_eq!(cert_fields(&der[..10]), None);
        assert_eq!(cert_fields(&[0x04, 0x00]), None);
    }
}
