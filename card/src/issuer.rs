//! Counter (issuer) authentication: GET CHALLENGE and EXTERNAL AUTHENTICATE with the counter's
//! card-verifiable certificate ([`crate::cvc`]).

use p256::ecdsa::VerifyingKey;
use rand_core::{CryptoRng, RngCore};

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

/// EXTERNAL AUTHENTICATE: uses up the waiting challenge (`6985` if none), then checks the
/// certificate against the root key, its expiry against the last-known date, and the counter's
/// signature of the challenge (`6982` for any failure). Returns the certificate's effective
/// date as `YYYYMMDD` on success.
pub fn external_authenticate(
    core: &CoreState,
    volatile: &mut Volatile,
    data: &[u8],
) -> Result<u32, Error> {
    let challenge = volatile
        .challenge
        .take()
        .ok_or(Error::ConditionsNotSatisfied)?;
    volatile.counter = false;
    let root_bytes = core.root_key.ok_or(Error::ConditionsNotSatisfied)?;
    let root = VerifyingKey::from_sec1_bytes(&root_bytes)
        .map_err(|_| Error::SecurityStatusNotSatisfied)?;
    let today = last_known_date(core).ok_or(Error::SecurityStatusNotSatisfied)?;
    let cert = cvc::verify_auth(data, &root, today, &challenge)
        .map_err(|_| Error::SecurityStatusNotSatisfied)?;
    Ok(cert.effective.value())
}
