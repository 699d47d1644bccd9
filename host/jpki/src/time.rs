//! Certificate and CRL times. Validity periods follow the calendar of Japan: a certificate
//! issued on a day is valid from 00:00:00 JST of that day to 23:59:59 JST of its last day.
//! "Now" and the JST day arithmetic are the host's one clock, [`juki_host::clock`] (re-exported
//! here): `JUKI_TODAY` fixes the date, the time of day moves.

use std::time::Duration;

use x509_cert::der::asn1::{GeneralizedTime, UtcTime};
use x509_cert::der::DateTime;
use x509_cert::time::Time;

use super::JpkiError;
use crate::Result;
use juki_host::Error;

pub use juki_host::clock::{day_of, display, end_of_day, start_of_day, DAY, JST_OFFSET};

/// Now, as unix time ([`juki_host::clock::now`]).
pub fn now() -> Result<i64> {
    Ok(juki_host::clock::now()?.unix())
}

/// An X.509 time for unix time `secs`: UTCTime up to 2049, GeneralizedTime from 2050 (RFC 5280
/// §4.1.2.5).
pub fn to_x509(secs: i64) -> Result<Time> {
    let unix = u64::try_from(secs)
        .map(Duration::from_secs)
        .map_err(|_| Error::InvalidInput("a time before 1970".into()))?;
    let bad = |e: x509_cert::der::Error| JpkiError::malformed("time", e);
    let dt = DateTime::from_unix_duration(unix).map_err(bad)?;
    Ok(if dt.year() < 2050 {
        Time::UtcTime(UtcTime::from_date_time(dt).map_err(bad)?)
    } else {
        Time::GeneralTime(GeneralizedTime::from_date_time(dt))
    })
}

/// Unix time of an X.509 time.
pub fn from_x509(time: &Time) -> i64 {
    i64::try_from(time.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn x509_times() {
        let t = to_x509(1_796_050_800).unwrap();
        assert!(matches!(t, Time::UtcTime(_)));
        assert_eq!(from_x509(&t), 1_796_050_800);
        // 2050-01-01T00:00:00Z
        let t = to_x509(2_524_608_000).unwrap();
        assert!(matches!(t, Time::GeneralTime(_)));
        assert_eq!(from_x509(&t), 2_524_608_000);
        assert!(to_x509(-1).is_err());
    }
}
