//! The certificate profile: names and extensions of the CA, signing and authentication
//! certificates (docs/jpki.md, "Certificate profile").
//!
//! As on the real signing certificate, the 4 info travel in `subjectAltName` as `otherName`
//! entries under the JPKI arc `1.2.392.200149.8.5.5`, each an UTF8String: 氏名 `.1`, 性別 `.3`,
//! 生年月日 `.4` (`EYYYYMMDD`: an era digit, then the Gregorian date), 住所 `.5`. The
//! authentication certificate carries no personal data: its subject is `C=JP, CN=<card serial>`.

use std::str::FromStr;

use const_oid::ObjectIdentifier;
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::der::asn1::Utf8StringRef;
use x509_cert::der::Any;
use x509_cert::ext::pkix::name::{GeneralName, OtherName};
use x509_cert::ext::pkix::{KeyUsage, KeyUsages, SubjectAltName};
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::Certificate;

use super::{CertKind, JpkiError};
use juki_host::date::Date;
use juki_host::resident::{FourInfo, Sex};

/// `jpki-pd-commonName`: 氏名.
pub const OID_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.392.200149.8.5.5.1");
/// `jpki-pd-gender`: 性別.
pub const OID_SEX: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.392.200149.8.5.5.3");
/// `jpki-pd-dateOfBirth`: 生年月日.
pub const OID_BIRTH: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.392.200149.8.5.5.4");
/// `jpki-pd-address`: 住所.
pub const OID_ADDRESS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.392.200149.8.5.5.5");

const OID_COUNTRY: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.6");
const OID_ORG: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.10");
const OID_ORG_UNIT: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.11");
const OID_LOCALITY: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.7");
const OID_COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");

/// Years a certificate is valid (shortened to the card's expiry).
pub const CERT_VALID_YEARS: u32 = 3;
/// Years a CA certificate is valid: longer than a card (10 years) plus a certificate.
pub const CA_VALID_YEARS: u32 = 14;

fn bad(e: impl std::fmt::Display) -> JpkiError {
    JpkiError::malformed("certificate field", e)
}

/// One RDN of one attribute; country as PrintableString, the rest UTF8String.
fn rdn(oid: ObjectIdentifier, value: &str) -> Result<RelativeDistinguishedName, JpkiError> {
    let value = if oid == OID_COUNTRY {
        Any::encode_from(&x509_cert::der::asn1::PrintableStringRef::new(value).map_err(bad)?)
    } else {
        Any::encode_from(&Utf8StringRef::new(value).map_err(bad)?)
    }
    .map_err(bad)?;
    RelativeDistinguishedName::try_from(vec![AttributeTypeAndValue { oid, value }]).map_err(bad)
}

fn name(parts: &[(ObjectIdentifier, &str)]) -> Result<Name, JpkiError> {
    Ok(RdnSequence(
        parts
            .iter()
            .map(|(oid, value)| rdn(*oid, value))
            .collect::<Result<_, _>>()?,
    ))
}

/// The CA's name: `C=JP, O=JPKI, OU=juki, CN=JPKI for digital signature` (or `… for user
/// authentication`), most significant first.
pub fn ca_name(kind: CertKind) -> Result<Name, JpkiError> {
    name(&[
        (OID_COUNTRY, "JP"),
        (OID_ORG, "JPKI"),
        (OID_ORG_UNIT, "juki"),
        (OID_COMMON_NAME, ca_common_name(kind)),
    ])
}

/// The CA's common name.
pub fn ca_common_name(kind: CertKind) -> &'static str {
    match kind {
        CertKind::Sign => "JPKI for digital signature",
        CertKind::Auth => "JPKI for user authentication",
    }
}

/// The subject of a card's certificate: `C=JP, L=<issuing municipality>, CN=<card serial>` for
/// the signing certificate, `C=JP, CN=<card serial>` for the authentication certificate.
pub fn subject(kind: CertKind, card_serial: &str, municipality: &str) -> Result<Name, JpkiError> {
    match kind {
        CertKind::Sign => name(&[
            (OID_COUNTRY, "JP"),
            (OID_LOCALITY, municipality),
            (OID_COMMON_NAME, card_serial),
        ]),
        CertKind::Auth => name(&[(OID_COUNTRY, "JP"), (OID_COMMON_NAME, card_serial)]),
    }
}

/// The key usage of a card's certificate: digitalSignature and nonRepudiation
/// (contentCommitment) for signing, digitalSignature alone for authentication.
pub fn key_usage(kind: CertKind) -> KeyUsage {
    match kind {
        CertKind::Sign => KeyUsage(KeyUsages::DigitalSignature | KeyUsages::NonRepudiation),
        CertKind::Auth => KeyUsage(KeyUsages::DigitalSignature.into()),
    }
}

/// The era digit of the JPKI date of birth: 1 明治, 2 大正, 3 昭和, 4 平成, 5 令和.
fn era_digit(birth: Date) -> u8 {
    // First day of each era after 明治: 大正, 昭和, 平成, 令和.
    const ERAS: [u32; 4] = [19_120_730, 19_261_225, 19_890_108, 20_190_501];
    let later = ERAS.iter().filter(|start| birth.value() >= **start).count();
    b'1' + u8::try_from(later).unwrap_or(4)
}

/// The date of birth as the profile writes it: `EYYYYMMDD`.
pub fn birth_text(birth: Date) -> String {
    let mut text = String::with_capacity(9);
    text.push(char::from(era_digit(birth)));
    text.push_str(&String::from_utf8_lossy(&birth.to_ascii()));
    text
}

/// Reads `EYYYYMMDD` back (the era digit must agree with the date).
pub fn parse_birth(text: &str) -> Option<Date> {
    let bytes = text.as_bytes();
    let (&era, rest) = bytes.split_first()?;
    let date = Date::from_ascii(rest)?;
    (era == era_digit(date)).then_some(date)
}

fn other_name(oid: ObjectIdentifier, value: &str) -> Result<GeneralName, JpkiError> {
    Ok(GeneralName::OtherName(OtherName {
        type_id: oid,
        value: Any::encode_from(&Utf8StringRef::new(value).map_err(bad)?).map_err(bad)?,
    }))
}

/// The signing certificate's `subjectAltName`: the 4 info.
pub fn four_info_alt_name(info: &FourInfo) -> Result<SubjectAltName, JpkiError> {
    let sex = char::from(info.sex.code()).to_string();
    Ok(SubjectAltName(vec![
        other_name(OID_NAME, &info.name)?,
        other_name(OID_BIRTH, &birth_text(info.birth))?,
        other_name(OID_SEX, &sex)?,
        other_name(OID_ADDRESS, &info.address)?,
    ]))
}

/// The 4 info of a signing certificate (`None` when it carries none, as an authentication
/// certificate).
pub fn four_info_of(cert: &Certificate) -> Result<Option<FourInfo>, JpkiError> {
    let Some((_, san)) = cert
        .tbs_certificate
        .get::<SubjectAltName>()
        .map_err(|e| JpkiError::malformed("subjectAltName", e))?
    else {
        return Ok(None);
    };
    let mut found: [Option<String>; 4] = Default::default();
    for general in &san.0 {
        let GeneralName::OtherName(other) = general else {
            continue;
        };
        let slot = [OID_NAME, OID_BIRTH, OID_SEX, OID_ADDRESS]
            .iter()
            .position(|oid| *oid == other.type_id);
        if let Some(i) = slot {
            let text = Utf8StringRef::try_from(&other.value)
                .map_err(|e| JpkiError::malformed("4 info in subjectAltName", e))?;
            if let Some(slot) = found.get_mut(i) {
                *slot = Some(text.as_str().to_string());
            }
        }
    }
    let [Some(name), Some(birth), Some(sex), Some(address)] = found else {
        return if found.iter().all(Option::is_none) {
            Ok(None)
        } else {
            Err(JpkiError::malformed(
                "4 info in subjectAltName",
                "not all four of 氏名, 生年月日, 性別, 住所 are present",
            ))
        };
    };
    let birth = parse_birth(&birth)
        .ok_or_else(|| JpkiError::malformed("date of birth in the certificate", &birth))?;
    let sex = match sex.as_bytes() {
        [code] => Sex::from_code(*code),
        _ => None,
    }
    .ok_or_else(|| JpkiError::malformed("sex in the certificate", &sex))?;
    Ok(Some(FourInfo {
        name,
        address,
        birth,
        sex,
    }))
}

/// A name for display (RFC 4514, UTF-8 values shown as text).
pub fn display_name(name: &Name) -> String {
    name.to_string()
}

/// A name typed by a person, RFC 4514 (`CN=…,O=…,C=JP`).
pub fn parse_name(text: &str) -> Result<Name, JpkiError> {
    Name::from_str(text).map_err(|e| JpkiError::malformed("name", e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn birth_dates_with_era() {
        let d = |y, m, day| Date::from_ymd(y, m, day).unwrap();
        assert_eq!(birth_text(d(1985, 4, 15)), "319850415");
        assert_eq!(birth_text(d(1989, 1, 7)), "319890107");
        assert_eq!(birth_text(d(1989, 1, 8)), "419890108");
        assert_eq!(birth_text(d(2019, 4, 30)), "420190430");
        assert_eq!(birth_text(d(2019, 5, 1)), "520190501");
        assert_eq!(birth_text(d(1920, 1, 1)), "219200101");
        assert_eq!(parse_birth("319850415"), Some(d(1985, 4, 15)));
        assert_eq!(parse_birth("419850415"), None, "era digit disagrees");
        assert_eq!(parse_birth("19850415"), None);
        assert_eq!(parse_birth(""), None);
    }

    #[test]
    fn names() {
        let n = subject(CertKind::Sign, "JK1234567890", "千代田区").unwrap();
        assert_eq!(display_name(&n), "CN=JK1234567890,L=千代田区,C=JP");
        let n = subject(CertKind::Auth, "JK1234567890", "千代田区").unwrap();
        assert_eq!(display_name(&n), "CN=JK1234567890,C=JP");
        let ca = ca_name(CertKind::Sign).unwrap();
        assert_eq!(parse_name(&display_name(&ca)).unwrap(), ca);
    }
}
