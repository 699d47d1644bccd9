//! Certificate and CRL times. Validity periods follow the calendar of Japan: a certificate
//! issued on a day is valid from 00:00:00 JST of that day to 23:59:59 JST of its last day.
//! "Now" is the system clock, or noon JST of `JUKI_TODAY` when it is set (training, tests), so
//! that every date decision on the host agrees with [`juki_host::date::today`].

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use x509_cert::der::asn1::{GeneralizedTime, UtcTime};
use x509_cert::der::DateTime;
use x509_cert::time::Time;

use super::JpkiError;
use crate::Result;
use juki_host::date::{self, Date};
use juki_host::Error;

/// Seconds in a day.
pub const DAY: i64 = 86_400;
/// Japan Standard Time's offset from UTC.
pub const JST_OFFSET: i64 = 9 * 3600;

/// Unix time of 00:00:00 JST on `day`.
pub fn start_of_day(day: Date) -> i64 {
    date::days_since_epoch(day) * DAY - JST_OFFSET
}

/// Unix time of 23:59:59 JST on `day`.
pub fn end_of_day(day: Date) -> i64 {
    start_of_day(day) + DAY - 1
}

/// The JST calendar day of unix time `secs`.
pub fn day_of(secs: i64) -> Option<Date> {
    date::from_days_since_epoch((secs + JST_OFFSET).div_euclid(DAY))
}

/// Now, as unix time: noon JST of `JUKI_TODAY` when it is set, else the system clock.
pub fn now() -> Result<i64> {
    if std::env::var(date::TODAY_ENV).is_ok_and(|v| !v.trim().is_empty()) {
        return Ok(start_of_day(date::today()?) + 12 * 3600);
    }
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|_| Error::InvalidInput("the system clock is before 1970".into()))?
        .as_secs();
    i64::try_from(secs)
        .map_err(|_| Error::InvalidInput("the system clock is out of range".into()).into())
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

/// `YYYY-MM-DD HH:MM:SS JST` for display.
pub fn display(secs: i64) -> String {
    let local = secs + JST_OFFSET;
    let day = date::from_days_since_epoch(local.div_euclid(DAY));
    let s = local.rem_euclid(DAY);
    match day {
        Some(d) => format!(
            "{} {:02}:{:02}:{:02} JST",
            date::display(d),
            s / 3600,
            s / 60 % 60,
            s % 60
        ),
        None => format!("@{secs}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_in_japan() {
        let day = Date::from_ymd(2026, 12, 1).unwrap();
        // 2026-12-01 00:00 JST = 2026-11-30 15:00 UTC.
        assert_eq!(start_of_day(day), 1_796_050_800);
        assert_eq!(day_of(start_of_day(day)), Some(day));
        assert_eq!(day_of(end_of_day(day)), Some(day));
        assert_ne!(day_of(end_of_day(day) + 1), Some(day));
        assert_eq!(display(start_of_day(day)), "2026-12-01 00:00:00 JST");
    }

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
