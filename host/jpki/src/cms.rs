//! Signed e-applications: CMS SignedData (RFC 5652) with the card's signing key, and its
//! verification by the receiving agency.
//!
//! Profile (what `openssl cms -verify` reads): one SignerInfo (version 1, issuerAndSerialNumber),
//! digest SHA-256, signature ecdsa-with-SHA256, signed attributes content-type (`id-data`),
//! message-digest and signing-time; the certificate set holds the signer's certificate and its
//! CA certificate. Detached by default (the document travels beside the `.p7s`), attached on
//! request. The document's hash and the hash of the signed attributes are computed on the host;
//! only the last 32 bytes go to the card.

use cms::cert::{CertificateChoices, IssuerAndSerialNumber};
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{
    CertificateSet, EncapsulatedContentInfo, SignedData, SignerIdentifier, SignerInfo, SignerInfos,
};
use const_oid::db::rfc5911::{
    ID_CONTENT_TYPE, ID_DATA, ID_MESSAGE_DIGEST, ID_SIGNED_DATA, ID_SIGNING_TIME,
};
use const_oid::db::rfc5912::{ECDSA_WITH_SHA_256, ID_SHA_256};
use const_oid::ObjectIdentifier;
use p256::ecdsa::{DerSignature, Signature};
use sha2::{Digest, Sha256};
use x509_cert::attr::{Attribute, Attributes};
use x509_cert::crl::CertificateList;
use x509_cert::der::asn1::{OctetString, SetOfVec};
use x509_cert::der::{Any, Decode, Encode};
use x509_cert::spki::AlgorithmIdentifierOwned;
use x509_cert::time::Time;
use x509_cert::Certificate;

use super::validate::{self, Checked};
use super::{profile, time as jtime, CertKind, JpkiError};
use crate::Result;
use juki_host::resident::FourInfo;
use juki_host::Error;

fn enc(e: x509_cert::der::Error) -> JpkiError {
    JpkiError::malformed("CMS structure being built", e)
}

fn bad(e: impl std::fmt::Display) -> JpkiError {
    JpkiError::malformed("CMS signature (.p7s)", e)
}

fn alg(oid: ObjectIdentifier) -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned {
        oid,
        parameters: None,
    }
}

fn attribute(oid: ObjectIdentifier, value: Any) -> Result<Attribute> {
    Ok(Attribute {
        oid,
        values: SetOfVec::try_from(vec![value]).map_err(enc)?,
    })
}

/// The signed attributes: content type `id-data`, the document's SHA-256, the signing time.
pub fn signed_attributes(digest: &[u8; 32], signing_time: i64) -> Result<Attributes> {
    let attrs = vec![
        attribute(ID_CONTENT_TYPE, Any::encode_from(&ID_DATA).map_err(enc)?)?,
        attribute(
            ID_MESSAGE_DIGEST,
            Any::encode_from(&OctetString::new(digest.to_vec()).map_err(enc)?).map_err(enc)?,
        )?,
        attribute(
            ID_SIGNING_TIME,
            Any::encode_from(&jtime::to_x509(signing_time)?).map_err(enc)?,
        )?,
    ];
    SetOfVec::try_from(attrs).map_err(enc)
}

/// How to sign.
#[derive(Debug, Clone, Copy)]
pub struct SignOptions {
    /// Put the document inside the SignedData (else detached).
    pub attached: bool,
    /// The signing time, unix time.
    pub signing_time: i64,
}

/// Makes the DER of a CMS ContentInfo/SignedData over `content`. `signer_cert` and `ca_cert`
/// (DER, as read from the card) go into the certificate set; `sign_hash` signs the SHA-256 of
/// the signed attributes with the card's signing key. The card's answer is checked against the
/// certificate's public key before anything is returned.
pub fn sign(
    content: &[u8],
    signer_cert: &[u8],
    ca_cert: &[u8],
    options: SignOptions,
    sign_hash: impl FnOnce(&[u8; 32]) -> Result<Signature>,
) -> Result<Vec<u8>> {
    let cert = validate::load_certificate(signer_cert)?;
    let ca = validate::load_certificate(ca_cert)?;
    let digest: [u8; 32] = Sha256::digest(content).into();
    let attrs = signed_attributes(&digest, options.signing_time)?;
    let attrs_der = attrs.to_der().map_err(enc)?;
    let to_sign: [u8; 32] = Sha256::digest(&attrs_der).into();
    let signature = sign_hash(&to_sign)?;
    let public = validate::public_key(&cert)?;
    let public = public.to_encoded_point(false);
    if !juki_host::card::verify_p256(public.as_bytes(), &attrs_der, &signature.to_bytes()) {
        return Err(Error::Crypto(
            "the card's signature does not verify with its signing certificate (the \
             certificate on the card is not the one of its key)"
                .into(),
        )
        .into());
    }
    let signer_info = SignerInfo {
        version: CmsVersion::V1,
        sid: SignerIdentifier::IssuerAndSerialNumber(IssuerAndSerialNumber {
            issuer: cert.tbs_certificate.issuer.clone(),
            serial_number: cert.tbs_certificate.serial_number.clone(),
        }),
        digest_alg: alg(ID_SHA_256),
        signed_attrs: Some(attrs),
        signature_algorithm: alg(ECDSA_WITH_SHA_256),
        signature: OctetString::new(signature.to_der().as_bytes().to_vec()).map_err(enc)?,
        unsigned_attrs: None,
    };
    let econtent = if options.attached {
        Some(Any::encode_from(&OctetString::new(content.to_vec()).map_err(enc)?).map_err(enc)?)
    } else {
        None
    };
    let signed = SignedData {
        version: CmsVersion::V1,
        digest_algorithms: SetOfVec::try_from(vec![alg(ID_SHA_256)]).map_err(enc)?,
        encap_content_info: EncapsulatedContentInfo {
            econtent_type: ID_DATA,
            econtent,
        },
        certificates: Some(
            CertificateSet::try_from(vec![
                CertificateChoices::Certificate(cert),
                CertificateChoices::Certificate(ca),
            ])
            .map_err(enc)?,
        ),
        crls: None,
        signer_infos: SignerInfos::try_from(vec![signer_info]).map_err(enc)?,
    };
    ContentInfo {
        content_type: ID_SIGNED_DATA,
        content: Any::encode_from(&signed).map_err(enc)?,
    }
    .to_der()
    .map_err(enc)
}

/// A signature that the agency accepted.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The signer's certificate.
    pub signer: Certificate,
    /// The 4 info in it.
    pub four_info: FourInfo,
    /// The signing time claimed in the signed attributes (not a time-stamp), unix time.
    pub signing_time: Option<i64>,
    /// The certificate check.
    pub certificate: Checked,
    /// The document signed.
    pub content: Vec<u8>,
    /// Whether the document was inside the `.p7s`.
    pub attached: bool,
}

/// Parses a `.p7s` (DER, or PEM `CMS`/`PKCS7`) into its SignedData.
pub fn parse(p7s: &[u8]) -> std::result::Result<SignedData, JpkiError> {
    let info = if validate::looks_pem(p7s) {
        let (label, der) = x509_cert::der::pem::decode_vec(p7s).map_err(bad)?;
        if !matches!(label, "CMS" | "PKCS7") {
            return Err(bad(format!("PEM block {label}, not CMS")));
        }
        ContentInfo::from_der(&der)
    } else {
        ContentInfo::from_der(p7s)
    }
    .map_err(bad)?;
    if info.content_type != ID_SIGNED_DATA {
        return Err(bad(format!(
            "content type {} is not signedData",
            info.content_type
        )));
    }
    info.content.decode_as::<SignedData>().map_err(bad)
}

fn single_value(attrs: &Attributes, oid: ObjectIdentifier) -> Option<&Any> {
    let attr = attrs.iter().find(|a| a.oid == oid)?;
    match attr.values.as_slice() {
        [value] => Some(value),
        _ => None,
    }
}

/// A CMS signature whose structure, document digest and signature value verified; the signer's
/// certificate is not checked yet: that depends on who is expected to sign ([`verify`] for a
/// citizen's e-application; juki-net for a municipality's sealed 住民票の写し).
#[derive(Debug, Clone)]
pub struct SignedContent {
    /// The signer's certificate, as found in the signature.
    pub signer: Certificate,
    /// The signing time claimed in the signed attributes (not a time-stamp), unix time.
    pub signing_time: Option<i64>,
    /// The document signed.
    pub content: Vec<u8>,
    /// Whether the document was inside the `.p7s`.
    pub attached: bool,
}

/// The signer's certificate of a `.p7s`, without checking anything else (to decide which
/// profile to verify it against).
pub fn signer_certificate(p7s: &[u8]) -> std::result::Result<Certificate, JpkiError> {
    let signed = parse(p7s)?;
    let [signer_info] = signed.signer_infos.0.as_slice() else {
        return Err(bad("exactly one signer expected"));
    };
    find_signer(&signed, signer_info)
}

fn find_signer(
    signed: &SignedData,
    signer_info: &SignerInfo,
) -> std::result::Result<Certificate, JpkiError> {
    let SignerIdentifier::IssuerAndSerialNumber(sid) = &signer_info.sid else {
        return Err(bad(
            "signer identified by key identifier, not issuer and serial",
        ));
    };
    let certs = signed
        .certificates
        .as_ref()
        .ok_or_else(|| bad("no certificates in the signature"))?;
    certs
        .0
        .iter()
        .find_map(|c| match c {
            CertificateChoices::Certificate(cert)
                if cert.tbs_certificate.issuer == sid.issuer
                    && cert.tbs_certificate.serial_number == sid.serial_number =>
            {
                Some(cert.clone())
            }
            _ => None,
        })
        .ok_or_else(|| bad("the signer's certificate is not in the signature"))
}

/// The signature's own check, in this order: the structure (one signer, SHA-256,
/// ecdsa-with-SHA256, content type `id-data`); the document (the message digest:
/// [`JpkiError::Tampered`]); the signature value with the key of the certificate it names
/// ([`JpkiError::BadSignature`]). `detached` is the document for a detached signature; for an
/// attached one it must be `None` or equal to the document inside.
pub fn verify_signature(
    p7s: &[u8],
    detached: Option<&[u8]>,
) -> std::result::Result<SignedContent, JpkiError> {
    let signed = parse(p7s)?;
    if signed.encap_content_info.econtent_type != ID_DATA {
        return Err(bad("the signed content is not id-data"));
    }
    let attached = signed.encap_content_info.econtent.is_some();
    let content = match (&signed.encap_content_info.econtent, detached) {
        (Some(inner), outside) => {
            let inner = inner.decode_as::<OctetString>().map_err(bad)?;
            if outside.is_some_and(|o| o != inner.as_bytes()) {
                return Err(JpkiError::Tampered);
            }
            inner.as_bytes().to_vec()
        }
        (None, Some(outside)) => outside.to_vec(),
        (None, None) => {
            return Err(bad(
                "the signature is detached: give the signed document too",
            ))
        }
    };
    let [signer_info] = signed.signer_infos.0.as_slice() else {
        return Err(bad("exactly one signer expected"));
    };
    if signer_info.digest_alg.oid != ID_SHA_256 {
        return Err(bad("digest algorithm is not SHA-256"));
    }
    let signer = find_signer(&signed, signer_info)?;
    let attrs = signer_info
        .signed_attrs
        .as_ref()
        .ok_or_else(|| bad("no signed attributes"))?;
    let content_type = single_value(attrs, ID_CONTENT_TYPE)
        .and_then(|v| v.decode_as::<ObjectIdentifier>().ok())
        .ok_or_else(|| bad("no content-type attribute"))?;
    if content_type != ID_DATA {
        return Err(bad("content-type attribute is not id-data"));
    }
    let digest = single_value(attrs, ID_MESSAGE_DIGEST)
        .and_then(|v| v.decode_as::<OctetString>().ok())
        .ok_or_else(|| bad("no message-digest attribute"))?;
    let signing_time = single_value(attrs, ID_SIGNING_TIME)
        .map(|v| v.to_der().and_then(|der| Time::from_der(&der)).map_err(bad))
        .transpose()?
        .map(|t| jtime::from_x509(&t));
    let actual: [u8; 32] = Sha256::digest(&content).into();
    if digest.as_bytes() != actual {
        return Err(JpkiError::Tampered);
    }
    let attrs_der = attrs.to_der().map_err(bad)?;
    let public = validate::public_key(&signer)?;
    let sig_ok = signer_info.signature_algorithm.oid == ECDSA_WITH_SHA_256
        && DerSignature::try_from(signer_info.signature.as_bytes())
            .is_ok_and(|sig| validate::ecdsa_p256_sha256(&public, &attrs_der, sig.as_bytes()));
    if !sig_ok {
        return Err(JpkiError::BadSignature);
    }
    Ok(SignedContent {
        signer,
        signing_time,
        content,
        attached,
    })
}

/// The agency's check of a signed e-application: the signature itself
/// ([`verify_signature`]); the signer's certificate against the trusted signing CA `ca`, its
/// validity and the CRL at `at` ([`validate::check_certificate`]); the signing time within the
/// certificate's validity; the 4 info in the certificate.
pub fn verify(
    p7s: &[u8],
    detached: Option<&[u8]>,
    ca: &Certificate,
    crls: Option<&[CertificateList]>,
    at: i64,
) -> std::result::Result<Verified, JpkiError> {
    let SignedContent {
        signer,
        signing_time,
        content,
        attached,
    } = verify_signature(p7s, detached)?;
    let certificate = validate::check_certificate(&signer, CertKind::Sign, ca, crls, at)?;
    if let Some(t) = signing_time {
        if t < certificate.not_before || t > certificate.not_after {
            return Err(JpkiError::SigningTimeOutside(jtime::display(t)));
        }
    }
    let four_info = profile::four_info_of(&signer)?
        .ok_or_else(|| JpkiError::WrongKind("the signer's certificate carries no 4 info".into()))?;
    Ok(Verified {
        signer,
        four_info,
        signing_time,
        certificate,
        content,
        attached,
    })
}
