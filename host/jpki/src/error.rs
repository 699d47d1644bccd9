//! Why a signature, a certificate or an authentication answer is rejected: the verdicts of the
//! receiving agency, written for the clerk who reads them.

/// A JPKI check failed.
#[derive(Debug, thiserror::Error)]
pub enum JpkiError {
    /// The card, the reader, a file or the user's input (the middleware's error).
    #[error(transparent)]
    Host(#[from] juki_host::Error),
    /// The document's SHA-256 is not the one signed.
    #[error(
        "REJECTED: the document does not match the signature (署名対象のデータが改ざんされています): \
         it was changed after it was signed, or the signature belongs to another document"
    )]
    Tampered,
    /// The signature value does not verify with the signer's certificate.
    #[error(
        "REJECTED: the signature value is not valid for the signer's certificate (署名値が不正です)"
    )]
    BadSignature,
    /// The certificate does not chain to the CA given as trusted.
    #[error(
        "REJECTED: the certificate was not issued by the trusted JPKI certification authority \
         (信頼する認証局が発行した電子証明書ではありません): {0}"
    )]
    WrongCa(String),
    /// Listed in the CA's CRL.
    #[error(
        "REJECTED: the {kind} (serial {serial}) was revoked on {date} (電子証明書は失効しています): \
         {reason}"
    )]
    Revoked {
        /// Which certificate.
        kind: &'static str,
        /// Its serial number (hex).
        serial: String,
        /// Revocation date.
        date: String,
        /// Reason (RFC 5280 reason code, with juki's meaning).
        reason: String,
    },
    /// After notAfter.
    #[error(
        "REJECTED: the {kind} (serial {serial}) expired on {date} \
         (電子証明書の有効期間が満了しています)"
    )]
    Expired {
        /// Which certificate.
        kind: &'static str,
        /// Its serial number (hex).
        serial: String,
        /// notAfter.
        date: String,
    },
    /// Before notBefore.
    #[error(
        "REJECTED: the {kind} (serial {serial}) is valid only from {date} \
         (電子証明書の有効期間の開始前です)"
    )]
    NotYetValid {
        /// Which certificate.
        kind: &'static str,
        /// Its serial number (hex).
        serial: String,
        /// notBefore.
        date: String,
    },
    /// The CRL is not one of the trusted CA, or its signature is wrong.
    #[error("the CRL is not valid (失効リストが不正です): {0}")]
    BadCrl(String),
    /// The CRL's nextUpdate has passed (or its thisUpdate is in the future).
    #[error(
        "the CRL is not current (失効リストの有効期間外です): {0}; get the CA's current CRL \
         (juki jpki crl)"
    )]
    CrlNotCurrent(String),
    /// No CRL of the certificate's issuer was given.
    #[error(
        "revocation cannot be checked: no CRL of {0} was given (失効リストがありません); give --crl \
         FILE, or --no-revocation-check to skip it knowingly"
    )]
    NoCrl(String),
    /// A certificate of the wrong use (an authentication certificate for a signature, …).
    #[error("REJECTED: wrong kind of certificate (電子証明書の種類が違います): {0}")]
    WrongKind(String),
    /// The signing time claimed in the signature lies outside the certificate's validity.
    #[error(
        "REJECTED: the signing time {0} is outside the certificate's validity \
         (署名日時が電子証明書の有効期間外です)"
    )]
    SigningTimeOutside(String),
    /// The answer was made for another challenge.
    #[error(
        "REJECTED: the answer was not made for this challenge (チャレンジが一致しません): a \
         replayed or foreign answer"
    )]
    ChallengeMismatch,
    /// The card holds no JPKI certificate (never issued, or erased).
    #[error(
        "the card holds no JPKI certificates (電子証明書が格納されていません): they are issued at \
         the municipal counter (juki counter jpki-issue)"
    )]
    NoCertificate,
    /// A structure that does not parse.
    #[error("malformed {what}: {detail}")]
    Malformed {
        /// What was read.
        what: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// The citizen's own certificate on the card is past its validity: nothing was signed with
    /// it (a certificate lasts until the card expires at the latest, so an expired card says
    /// this too).
    #[error(
        "the {kind} on this card expired on {date} (電子証明書の有効期間が満了しています): nothing \
         was signed; renew it at the municipal counter"
    )]
    OwnCertificateExpired {
        /// Which certificate.
        kind: &'static str,
        /// notAfter (JST).
        date: String,
    },
    /// The certification authority's own records or keys.
    #[error("certification authority: {0}")]
    Ca(String),
}

impl JpkiError {
    /// The middleware's error underneath (the card's answer, the reader, a file), if that is
    /// what failed.
    pub fn host(&self) -> Option<&juki_host::Error> {
        match self {
            JpkiError::Host(e) => Some(e),
            _ => None,
        }
    }

    /// A [`JpkiError::Malformed`] from any displayable error.
    pub fn malformed(what: &'static str, detail: impl std::fmt::Display) -> JpkiError {
        JpkiError::Malformed {
            what,
            detail: detail.to_string(),
        }
    }

    /// True for a verdict against the signature, certificate or answer (exit code 9), as
    /// opposed to missing or unreadable input.
    pub fn is_rejection(&self) -> bool {
        matches!(
            self,
            JpkiError::Tampered
                | JpkiError::BadSignature
                | JpkiError::WrongCa(_)
                | JpkiError::Revoked { .. }
                | JpkiError::Expired { .. }
                | JpkiError::NotYetValid { .. }
                | JpkiError::BadCrl(_)
                | JpkiError::CrlNotCurrent(_)
                | JpkiError::WrongKind(_)
                | JpkiError::SigningTimeOutside(_)
                | JpkiError::ChallengeMismatch
        )
    }
}

impl From<rusqlite::Error> for JpkiError {
    fn from(e: rusqlite::Error) -> JpkiError {
        JpkiError::Ca(format!("database: {e}"))
    }
}
