//! Mutual authentication of the counter and the card: GET CHALLENGE and EXTERNAL AUTHENTICATE
//! with the counter's card-verifiable certificate, answered with the card's own certificate and
//! signature ([`crate::cvc`]), and the key agreement of the secure-messaging session that
//! follows ([`crate::sm`]).

use p256::ecdsa::VerifyingKey;
use p256::{NonZeroScalar, PublicKey};
use rand_core::{CryptoRng, RngCore};
use zeroize::Zeroizing;

use crate::basepoint::BasepointTable;
use crate::sm::{self, SecureChannel};

use crate::cvc::{self, Date, CHALLENGE_LEN};
use crate::state::CoreState;
use crate::status::Error;
use crate::volatile::Volatile;
use crate::{keys, Response};

/// GET CHALLENGE: a fresh challenge, remembered for the next EXTERNAL AUTHENTICATE only.
pub fn get_challenge<R: RngCore + CryptoRng>(
    rng: &mut R,
    volatile: &mut Volatile,
) -> [u8; CHALLENGE_LEN] {
    let mut challenge = [0u8; CHALLENGE_LEN];
    rng.fill_bytes(&mut challenge);
    volatile.challenge = Some(challenge);
    challenge
}

/// The card's last-known date: the latest effective date of an accepted certificate, or
/// 1900-01-01 before any (`None` only if the stored value is corrupt and that fallback failed,
/// which it cannot).
pub fn last_known_date(core: &CoreState) -> Option<Date> {
    let v = core.last_date;
    Date::from_ymd(v / 10_000, v / 100 % 100, v % 100).or_else(|| Date::from_ymd(1900, 1, 1))
}

/// A mutual authentication that succeeded.
pub struct Authenticated {
    /// The counter certificate's effective date, `YYYYMMDD`, when it may advance the card's
    /// last-known date (a date-accurate certificate, [`crate::cvc`]); `None` otherwise.
    pub advance_to: Option<u32>,
    /// The secure-messaging session agreed.
    pub session: SecureChannel,
}

/// EXTERNAL AUTHENTICATE, the card's half of the mutual authentication. `out` holds the card's
/// certificate (住基 EF 0005) on entry and the card's whole answer on success.
///
/// Uses up the waiting challenge (`6985` if none); a card without a key or certificate of its
/// own answers `6985`. Whatever the outcome, any earlier counter session is over
/// ([`crate::command::Command::counter_session_after`], applied by [`crate::dispatch`]). Then checks the counter's
/// certificate against the root key, its expiry against the last-known date, and the counter's
/// signature of the challenge and its ephemeral key (`6982` for any failure, a bad ephemeral key
/// included). The answer: the card's certificate, its ephemeral key, its life cycle status byte
/// `lcs`, and the card key's signature over [`cvc::card_auth_digest`]; ECDH and that digest give
/// the session keys.
#[allow(clippy::too_many_arguments)]
pub fn external_authenticate<R: RngCore + CryptoRng>(
    core: &CoreState,
    volatile: &mut Volatile,
    rng: &mut R,
    data: &[u8],
    lcs: u8,
    basepoint: Option<&'static BasepointTable>,
    out: &mut Response,
) -> Result<Authenticated, Error> {
    let challenge = volatile
        .challenge
        .take()
        .ok_or(Error::ConditionsNotSatisfied)?;
    let card_key = core.card_key.ok_or(Error::ConditionsNotSatisfied)?;
    if out.is_empty() {
        return Err(Error::ConditionsNotSatisfied);
    }
    let root_bytes = core.root_key.ok_or(Error::ConditionsNotSatisfied)?;
    let root = VerifyingKey::from_sec1_bytes(&root_bytes)
        .map_err(|_| Error::SecurityStatusNotSatisfied)?;
    let today = last_known_date(core).ok_or(Error::SecurityStatusNotSatisfied)?;
    let auth = cvc::verify_auth(data, &root, today, &challenge)
        .map_err(|_| Error::SecurityStatusNotSatisfied)?;
    let counter_key = <[u8; sm::POINT_LEN]>::try_from(auth.ephemeral)
        .map_err(|_| Error::SecurityStatusNotSatisfied)?;
    let counter_point =
        PublicKey::from_sec1_bytes(&counter_key).map_err(|_| Error::SecurityStatusNotSatisfied)?;
    // The ephemeral key through `keys` (the generator table when the platform has one); its
    // scalar is wiped when dropped.
    let eph_scalar = Zeroizing::new(keys::generate(rng));
    let card_eph = keys::public_key(&eph_scalar, basepoint)?;
    let secret = Option::<NonZeroScalar>::from(NonZeroScalar::from_repr((*eph_scalar).into()))
        .map(Zeroizing::new)
        .ok_or(Error::SecurityStatusNotSatisfied)?;
    cvc::encode_point(out, &card_eph).map_err(|_| Error::WrongLength)?;
    cvc::encode_lcs(out, lcs).map_err(|_| Error::WrongLength)?;
    let digest = cvc::card_auth_digest(&challenge, data, out);
    let signature = keys::sign(&card_key, &digest, rng, basepoint)?;
    cvc::encode_signature(out, &signature).map_err(|_| Error::WrongLength)?;
    let shared = p256::ecdh::diffie_hellman(&*secret, counter_point.as_affine());
    let session = SecureChannel::derive(
        shared.raw_secret_bytes(),
        &challenge,
        &counter_key,
        &card_eph,
        &digest,
    );
    Ok(Authenticated {
        advance_to: auth
            .cert
            .date_accurate
            .then_some(auth.cert.effective.value()),
        session,
    })
}
