//! Counter (issuer) authentication: GET CHALLENGE and EXTERNAL AUTHENTICATE with the counter's
//! card-verifiable certificate ([`crate::cvc`]), and the key agreement of the secure-messaging
//! session that follows ([`crate::sm`]).

use p256::ecdh::EphemeralSecret;
use p256::ecdsa::VerifyingKey;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use p256::PublicKey;
use rand_core::{CryptoRng, RngCore};

use crate::sm::{self, Session};

use crate::cvc::{self, Date, CHALLENGE_LEN};
use crate::state::CoreState;
use crate::status::Error;
use crate::volatile::Volatile;

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

/// A counter authentication that succeeded.
pub struct Authenticated {
    /// The certificate's effective date, `YYYYMMDD`.
    pub effective: u32,
    /// The secure-messaging session agreed.
    pub session: Session,
    /// The card's ephemeral public key, SEC1 uncompressed (the answer to the counter).
    pub card_key: [u8; sm::POINT_LEN],
}

/// EXTERNAL AUTHENTICATE: uses up the waiting challenge (`6985` if none) and ends any earlier
/// counter session, then checks the certificate against the root key, its expiry against the
/// last-known date, and the counter's signature of the challenge and its ephemeral key
/// (`6982` for any failure, a bad ephemeral key included). Then the card's own ephemeral key
/// and ECDH give the session keys.
pub fn external_authenticate<R: RngCore + CryptoRng>(
    core: &CoreState,
    volatile: &mut Volatile,
    rng: &mut R,
    data: &[u8],
) -> Result<Authenticated, Error> {
    let challenge = volatile
        .challenge
        .take()
        .ok_or(Error::ConditionsNotSatisfied)?;
    volatile.end_counter_session();
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
    let secret = EphemeralSecret::random(rng);
    let card_point = secret.public_key().to_encoded_point(false);
    let card_key = <[u8; sm::POINT_LEN]>::try_from(card_point.as_bytes())
        .map_err(|_| Error::SecurityStatusNotSatisfied)?;
    let shared = secret.diffie_hellman(&counter_point);
    let session = Session::derive(
        shared.raw_secret_bytes(),
        &challenge,
        &counter_key,
        &card_key,
    );
    Ok(Authenticated {
        effective: auth.cert.effective.value(),
        session,
        card_key,
    })
}
