//! 広域交付: the 住民票の写し that any municipality's counter issues from the 本人確認情報 the
//! network provides, certified with the issuing municipality's 電子公印 ([`crate::pki::seal`])
//! so that anyone can check it with `juki verify` (or `openssl cms -verify`).
//!
//! The document is UTF-8 text in one canonical form ([`ResidentCopy::to_text`]): a reader sees
//! what was certified, and a verifier parses it back and refuses any other form
//! ([`ResidentCopy::parse`] renders what it read and compares the bytes). It travels inside a
//! CMS SignedData (RFC 5652, attached, the profile of `juki_jpki::cms`) signed by the seal key;
//! the signing time is the time of issue written in the document.
//!
//! As the municipal pages say of the 広域交付住民票, 本籍 and 筆頭者 are not shown: the network
//! holds only the 本人確認情報.

use std::fmt::Write as _;

use juki_host::clock;
use juki_host::date;
use juki_jpki::cms::{self, SignOptions};
use juki_jpki::validate::{self, Checked};
use juki_jpki::JpkiError;
use x509_cert::crl::CertificateList;
use x509_cert::Certificate;

use crate::pki::seal::{Seal, SealCertificate};
use crate::pki::PkiError;
use crate::register::{Date, FourInfo, MunicipalityCode, Resident, ResidentCode, Sex, Status};

/// The form's name and version, the document's second line.
pub const FORMAT: &str = "juki-copy/1";
/// The title, the document's first line.
pub const TITLE: &str = "住民票の写し（広域交付）";
const NOT_SHOWN: &str = "省略（広域交付）";
const CERTIFICATION: &str =
    "上記は、住民基本台帳ネットワークシステムにより提供を受けた本人確認情報に\
                             基づく住民票の写しであることを証明する。";
/// The name of the seal certificate's kind in messages.
const SEAL_KIND: &str = "電子公印の証明書 (seal certificate)";

/// Why a sealed copy was not made or not accepted.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// The CMS signature itself or the seal certificate's chain, validity or revocation.
    #[error(transparent)]
    Signature(#[from] JpkiError),
    /// The signer's certificate is not a municipality's seal, or the seal cannot be used.
    #[error(transparent)]
    Seal(#[from] PkiError),
    /// The signed document is not a 住民票の写し of this form.
    #[error("the signed document is not a 住民票の写し ({FORMAT}): {0}")]
    Document(String),
    /// The document and its seal disagree (another municipality's seal, another time).
    #[error("the document and its seal disagree: {0}")]
    Mismatch(String),
    /// The resident's record cannot be certified (removed, code replaced).
    #[error("no 住民票の写し can be issued: {0}")]
    NotIssuable(String),
}

/// A 住民票の写し issued by 広域交付.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResidentCopy {
    /// 交付番号: the number of the provision the national server recorded for it.
    pub number: i64,
    /// 交付日時, unix time (whole seconds).
    pub issued_at: i64,
    /// The issuing municipality.
    pub issuer: MunicipalityCode,
    /// Its name (e.g. `大阪市北区`); the document is certified by its head (`大阪市北区長`).
    pub issuer_name: String,
    /// The 本人確認情報: registered (or with a 転出 pending), never removed or replaced.
    pub resident: Resident,
}

fn sex_text(sex: Sex) -> &'static str {
    match sex {
        Sex::Male => "男",
        Sex::Female => "女",
        Sex::NotApplicable => "適用不能",
    }
}

fn status_text(status: &Status) -> Result<String, CopyError> {
    match status {
        Status::Registered => Ok("記載".into()),
        Status::MovingOut { to } => Ok(format!("転出予定（転出先 {to}）")),
        Status::Removed => Err(CopyError::NotIssuable(
            "the record was removed (消除)".into(),
        )),
        Status::CodeReplaced { .. } => Err(CopyError::NotIssuable(
            "this 住民票コード was replaced by a new one: the card presented is no longer valid"
                .into(),
        )),
    }
}

impl ResidentCopy {
    /// A copy of `resident` as the network provided it under provision `number`; refused for a
    /// removed record or a replaced code.
    pub fn new(
        resident: Resident,
        number: i64,
        issued_at: i64,
        issuer: MunicipalityCode,
        issuer_name: &str,
    ) -> Result<ResidentCopy, CopyError> {
        status_text(&resident.status)?;
        let copy = ResidentCopy {
            number,
            issued_at,
            issuer,
            issuer_name: issuer_name.to_string(),
            resident,
        };
        // A value that cannot be read back (a line break in a name) is not certified.
        ResidentCopy::parse(&copy.to_text()?)?;
        Ok(copy)
    }

    /// 交付番号 as printed: the issuer's code and the provision's number.
    pub fn number_text(&self) -> String {
        format!("{}-{}", self.issuer, self.number)
    }

    /// The document, in its one canonical form.
    pub fn to_text(&self) -> Result<String, CopyError> {
        let r = &self.resident;
        let mut t = String::new();
        let mut line = |label: &str, value: &str| {
            let _ = writeln!(t, "{label}: {value}");
        };
        line("様式", FORMAT);
        line("交付番号", &self.number_text());
        line("交付日時", &clock::display(self.issued_at));
        line("住民票コード", r.code.as_str());
        line("氏名", &r.info.name);
        line("生年月日", &date::display(r.info.birth));
        line("性別", sex_text(r.info.sex));
        line("住所", &r.info.address);
        line("住所地の市区町村", r.municipality.as_str());
        line("状態", &status_text(&r.status)?);
        line("最終の異動日", &date::display(r.changed_on));
        line("記載の版", &r.version.to_string());
        line("本籍・筆頭者", NOT_SHOWN);
        Ok(format!(
            "{TITLE}\n{t}\n{CERTIFICATION}\n{}長（{}）\n",
            self.issuer_name, self.issuer
        ))
    }

    /// Reads a document back; anything but the canonical form of what it says is refused.
    pub fn parse(text: &str) -> Result<ResidentCopy, CopyError> {
        let bad = |what: &str| CopyError::Document(what.to_string());
        let mut lines = text.lines();
        if lines.next() != Some(TITLE) {
            return Err(bad("the title is not 住民票の写し（広域交付）"));
        }
        let mut field = |label: &str| -> Result<String, CopyError> {
            let line = lines.next().unwrap_or_default();
            line.strip_prefix(label)
                .and_then(|rest| rest.strip_prefix(": "))
                .map(str::to_string)
                .ok_or_else(|| CopyError::Document(format!("expected the line {label}: …")))
        };
        if field("様式")? != FORMAT {
            return Err(bad("another form or version"));
        }
        let number_text = field("交付番号")?;
        let issued_text = field("交付日時")?;
        let code = ResidentCode::parse(&field("住民票コード")?)
            .map_err(|e| CopyError::Document(format!("住民票コード: {e}")))?;
        let name = field("氏名")?;
        let birth = parse_date("生年月日", &field("生年月日")?)?;
        let sex = match field("性別")?.as_str() {
            "男" => Sex::Male,
            "女" => Sex::Female,
            "適用不能" => Sex::NotApplicable,
            other => return Err(CopyError::Document(format!("性別: \"{other}\""))),
        };
        let address = field("住所")?;
        let municipality = parse_municipality("住所地の市区町村", &field("住所地の市区町村")?)?;
        let status_line = field("状態")?;
        let status = if status_line == "記載" {
            Status::Registered
        } else {
            let to = status_line
                .strip_prefix("転出予定（転出先 ")
                .and_then(|r| r.strip_suffix('）'))
                .ok_or_else(|| CopyError::Document(format!("状態: \"{status_line}\"")))?;
            Status::MovingOut {
                to: parse_municipality("転出先", to)?,
            }
        };
        let changed_on = parse_date("最終の異動日", &field("最終の異動日")?)?;
        let version = field("記載の版")?
            .parse::<u64>()
            .map_err(|e| CopyError::Document(format!("記載の版: {e}")))?;
        field("本籍・筆頭者")?;
        // The issuer is the last line: "<name>長（<code>）".
        let last = text
            .trim_end_matches('\n')
            .lines()
            .last()
            .unwrap_or_default();
        let (issuer_name, issuer) = last
            .strip_suffix('）')
            .and_then(|l| l.rsplit_once("長（"))
            .ok_or_else(|| bad("the last line does not name the issuing municipality's head"))?;
        let issuer = parse_municipality("交付者", issuer)?;
        let number = number_text
            .strip_prefix(&format!("{issuer}-"))
            .and_then(|n| n.parse::<i64>().ok())
            .ok_or_else(|| bad("交付番号 is not <issuer code>-<number>"))?;
        let issued_at = parse_time(&issued_text)?;
        let copy = ResidentCopy {
            number,
            issued_at,
            issuer,
            issuer_name: issuer_name.to_string(),
            resident: Resident {
                code,
                // The rules of the card and the registers (present, one line, fits the file).
                info: FourInfo::new(&name, &address, birth, sex)
                    .map_err(|e| CopyError::Document(e.to_string()))?,
                municipality,
                status,
                version,
                changed_on,
            },
        };
        if copy.to_text()? != text {
            return Err(bad(
                "not in the canonical form (extra, missing or changed text)",
            ));
        }
        Ok(copy)
    }

    /// Certifies the copy with `seal`: the DER of a CMS SignedData with the document inside,
    /// signed at the time of issue. The seal must be the issuer's.
    pub fn seal(&self, seal: &Seal) -> Result<Vec<u8>, CopyError> {
        let cert = seal.certificate();
        if cert.municipality != self.issuer || cert.name != self.issuer_name {
            return Err(CopyError::Mismatch(format!(
                "the seal is {} ({}), the copy is issued by {} ({})",
                cert.name, cert.municipality, self.issuer_name, self.issuer
            )));
        }
        let text = self.to_text()?;
        Ok(cms::sign(
            text.as_bytes(),
            seal.certificate_der(),
            seal.ca_der(),
            SignOptions {
                attached: true,
                signing_time: self.issued_at,
            },
            |hash| {
                seal.sign_prehash(hash)
                    .map_err(|e| juki_host::Error::Crypto(e.to_string()).into())
            },
        )?)
    }
}

fn parse_date(what: &str, text: &str) -> Result<Date, CopyError> {
    date::parse_user_date(text).map_err(|e| CopyError::Document(format!("{what}: {e}")))
}

fn parse_municipality(what: &str, text: &str) -> Result<MunicipalityCode, CopyError> {
    MunicipalityCode::parse(text).map_err(|e| CopyError::Document(format!("{what}: {e}")))
}

/// `YYYY-MM-DD HH:MM:SS JST` ([`clock::display`]) as unix time.
fn parse_time(text: &str) -> Result<i64, CopyError> {
    let bad = || CopyError::Document(format!("交付日時: \"{text}\""));
    let (day, rest) = text.split_once(' ').ok_or_else(bad)?;
    let hms = rest.strip_suffix(" JST").ok_or_else(bad)?;
    let parts: Vec<i64> = hms
        .split(':')
        .map(|p| p.parse::<i64>().map_err(|_| bad()))
        .collect::<Result<_, _>>()?;
    let [h, m, s] = parts.as_slice() else {
        return Err(bad());
    };
    if !(0..24).contains(h) || !(0..60).contains(m) || !(0..60).contains(s) {
        return Err(bad());
    }
    Ok(clock::start_of_day(parse_date("交付日時", day)?) + h * 3600 + m * 60 + s)
}

/// A 住民票の写し that passed [`verify`].
#[derive(Debug, Clone)]
pub struct VerifiedCopy {
    /// The document, as certified.
    pub copy: ResidentCopy,
    /// Its text.
    pub text: String,
    /// The seal that certified it.
    pub seal: SealCertificate,
    /// The seal certificate's check (issuer, validity, revocation).
    pub certificate: Checked,
}

/// Whether the `.p7s` is signed with a municipality's seal (else it is someone else's, e.g. a
/// citizen's JPKI signature): decides which check applies, decides nothing else.
pub fn is_sealed(p7s: &[u8]) -> bool {
    cms::signer_certificate(p7s).is_ok_and(|c| SealCertificate::from_certificate(&c).is_ok())
}

/// The check of a sealed 住民票の写し at `at`: the CMS signature (structure, digest, signature
/// value); the signer's certificate a seal of the network CA `ca`, within validity and — unless
/// `crls` is `None` — not revoked on its current CRL; the document a 住民票の写し in canonical
/// form issued by the seal's municipality at the signing time, within the seal's validity.
pub fn verify(
    p7s: &[u8],
    ca: &Certificate,
    crls: Option<&[CertificateList]>,
    at: i64,
) -> Result<VerifiedCopy, CopyError> {
    let signed = cms::verify_signature(p7s, None)?;
    let seal = SealCertificate::from_certificate(&signed.signer)?;
    let certificate = validate::check_chain(&signed.signer, SEAL_KIND, ca, crls, at)?;
    let text = String::from_utf8(signed.content)
        .map_err(|_| CopyError::Document("not UTF-8 text".into()))?;
    let copy = ResidentCopy::parse(&text)?;
    if copy.issuer != seal.municipality || copy.issuer_name != seal.name {
        return Err(CopyError::Mismatch(format!(
            "issued in the name of {} ({}), sealed by {} ({})",
            copy.issuer_name, copy.issuer, seal.name, seal.municipality
        )));
    }
    let signed_at = signed
        .signing_time
        .ok_or_else(|| CopyError::Mismatch("the seal's signature carries no time".into()))?;
    if signed_at != copy.issued_at {
        return Err(CopyError::Mismatch(format!(
            "issued {}, sealed {}",
            clock::display(copy.issued_at),
            clock::display(signed_at)
        )));
    }
    if signed_at < certificate.not_before || signed_at > certificate.not_after {
        return Err(JpkiError::SigningTimeOutside(clock::display(signed_at)).into());
    }
    Ok(VerifiedCopy {
        copy,
        text,
        seal,
        certificate,
    })
}

#[cfg(test)]
mod tests;
