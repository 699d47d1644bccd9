//! The host's one clock: the current instant and today's date in Japan (JST, UTC+9), for every
//! date and time decision on the host — card and credential validity, certificate and CRL
//! times, the counter's records (audit trail, journal, lockouts).
//!
//! `JUKI_TODAY=YYYY-MM-DD` ([`TODAY_ENV`], training and tests) fixes the *date*: the clock reads
//! that day, with the time of day still moving with the system clock (in JST). A fixed date and
//! a moving time keep what needs a moving clock working under `JUKI_TODAY` — a 15-minute
//! operator lockout still ends, audit records of one day keep their order — while every date
//! decision (card expiry, certificate validity from 00:00:00 to 23:59:59 JST) is taken on the
//! day asked for. The time of day wraps at midnight onto the same date: a session running
//! across midnight under `JUKI_TODAY` sees its clock go back by a day (training only; never
//! set `JUKI_TODAY` at a real counter).
//!
//! [`SystemClock`] is the clock of a running program, [`ManualClock`] the clock of tests (a
//! lockout tested without sleeping). [`now`] and [`today`] read the system clock as the
//! environment sets it.

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::date::{self, Date};
use crate::error::{Error, Result};

/// Seconds in a day.
pub const DAY: i64 = 86_400;
/// Japan Standard Time's offset from UTC, in seconds.
pub const JST_OFFSET: i64 = 9 * 3600;

/// The environment variable that sets "today" for training and tests: `JUKI_TODAY=YYYY-MM-DD`
/// (or `YYYYMMDD`). Never set it at a real counter: card and credential validity are decided
/// against it.
pub const TODAY_ENV: &str = "JUKI_TODAY";

/// A point in time, whole seconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The instant `secs` seconds after the Unix epoch.
    pub fn from_unix(secs: i64) -> Timestamp {
        Timestamp(secs)
    }

    /// Seconds since the Unix epoch.
    pub fn unix(self) -> i64 {
        self.0
    }

    /// `secs` seconds later.
    pub fn plus_secs(self, secs: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(secs))
    }

    /// The JST calendar day of this instant (`None` outside 1900–9999).
    pub fn day_jst(self) -> Option<Date> {
        day_of(self.0)
    }

    /// UTC RFC 3339, `YYYY-MM-DDTHH:MM:SSZ` (always this fixed form, so text order is time
    /// order for years 1900–9999).
    pub fn rfc3339(self) -> String {
        format_at(self.0, 0, "%Y-%m-%dT%H:%M:%SZ")
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

/// The civil date and time `secs` at `offset` seconds from UTC (`None` outside 1900–9999, not
/// a clock juki can run under).
fn civil_at(secs: i64, offset: i64) -> Option<jiff::civil::DateTime> {
    let since_epoch = jiff::SignedDuration::from_secs(secs.checked_add(offset)?);
    jiff::civil::date(1970, 1, 1)
        .at(0, 0, 0, 0)
        .checked_add(since_epoch)
        .ok()
        .filter(|dt| date::from_civil(dt.date()).is_some())
}

/// `secs` at `offset` seconds from UTC, formatted (`strftime`); `@secs` outside 1900–9999 (the
/// raw value stays visible).
fn format_at(secs: i64, offset: i64, format: &str) -> String {
    civil_at(secs, offset).map_or_else(|| format!("@{secs}"), |dt| dt.strftime(format).to_string())
}

/// Unix time of 00:00:00 JST on `day`.
pub fn start_of_day(day: Date) -> i64 {
    date::days_since_epoch(day) * DAY - JST_OFFSET
}

/// Unix time of 23:59:59 JST on `day`.
pub fn end_of_day(day: Date) -> i64 {
    start_of_day(day) + DAY - 1
}

/// The JST calendar day of unix time `secs` (`None` outside 1900–9999).
pub fn day_of(secs: i64) -> Option<Date> {
    date::from_civil(civil_at(secs, JST_OFFSET)?.date())
}

/// `YYYY-MM-DD HH:MM:SS JST` for display.
pub fn display(secs: i64) -> String {
    format_at(secs, JST_OFFSET, "%Y-%m-%d %H:%M:%S JST")
}

/// Where the host gets the time from.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> Timestamp;

    /// Today in Japan: the JST day of [`Clock::now`].
    fn today(&self) -> Result<Date> {
        self.now()
            .day_jst()
            .ok_or_else(|| Error::InvalidInput("the clock is out of range (1900–9999)".into()))
    }
}

/// The system clock, optionally on a fixed date (`JUKI_TODAY`, see the [module](self)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SystemClock {
    date: Option<Date>,
}

impl SystemClock {
    /// The system clock as it is, whatever `JUKI_TODAY` says.
    pub fn real() -> SystemClock {
        SystemClock { date: None }
    }

    /// The system clock on `date`: the time of day moves, the date stays.
    pub fn on(date: Date) -> SystemClock {
        SystemClock { date: Some(date) }
    }

    /// The system clock as the environment sets it: on the date of `JUKI_TODAY` when it is set
    /// and not empty, else [`SystemClock::real`]. Errors: `JUKI_TODAY` is not a date.
    pub fn from_env() -> Result<SystemClock> {
        match std::env::var(TODAY_ENV) {
            Ok(text) if !text.trim().is_empty() => date::parse_user_date(text.trim())
                .map(SystemClock::on)
                .map_err(|_| {
                    Error::InvalidInput(format!(
                        "{TODAY_ENV}=\"{text}\" is not a date; write it as YYYY-MM-DD (or unset it)"
                    ))
                }),
            _ => Ok(SystemClock::real()),
        }
    }

    /// The fixed date, if any.
    pub fn fixed_date(&self) -> Option<Date> {
        self.date
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let real = match SystemTime::now().duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
        };
        Timestamp(match self.date {
            None => real,
            Some(day) => start_of_day(day) + real.saturating_add(JST_OFFSET).rem_euclid(DAY),
        })
    }
}

/// A clock that only moves when told to (tests, demos).
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: Timestamp) -> ManualClock {
        ManualClock(AtomicI64::new(start.0))
    }

    /// Moves the clock to `to`.
    pub fn set(&self, to: Timestamp) {
        self.0.store(to.0, Ordering::SeqCst);
    }

    /// Moves the clock `secs` seconds forward.
    pub fn advance(&self, secs: i64) {
        self.0.fetch_add(secs, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp(self.0.load(Ordering::SeqCst))
    }
}

/// Now, from the system clock as the environment sets it ([`SystemClock::from_env`]).
pub fn now() -> Result<Timestamp> {
    Ok(SystemClock::from_env()?.now())
}

/// Today for every validity decision (card expiry, credential validity, issue date): the date
/// in `JUKI_TODAY` when it is set (training, tests), else [`today_jst`].
pub fn today() -> Result<Date> {
    SystemClock::from_env()?.today()
}

/// Today's date in Japan from the system clock itself, whatever `JUKI_TODAY` says.
pub fn today_jst() -> Result<Date> {
    SystemClock::real().today()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_utc() {
        assert_eq!(Timestamp::from_unix(0).rfc3339(), "1970-01-01T00:00:00Z");
        assert_eq!(
            Timestamp::from_unix(1_775_001_600).rfc3339(),
            "2026-04-01T00:00:00Z"
        );
        assert_eq!(
            Timestamp::from_unix(1_775_001_600 + 86_399).rfc3339(),
            "2026-04-01T23:59:59Z"
        );
        assert_eq!(
            Timestamp::from_unix(951_782_400).rfc3339(),
            "2000-02-29T00:00:00Z"
        );
        assert_eq!(
            Timestamp::from_unix(-2_300_000_000).rfc3339(),
            "@-2300000000"
        );
    }

    #[test]
    fn days_in_japan() {
        let day = Date::from_ymd(2026, 12, 1).unwrap();
        // 2026-12-01 00:00 JST = 2026-11-30 15:00 UTC.
        assert_eq!(start_of_day(day), 1_796_050_800);
        assert_eq!(day_of(start_of_day(day)), Some(day));
        assert_eq!(day_of(end_of_day(day)), Some(day));
        assert_ne!(day_of(end_of_day(day) + 1), Some(day));
        assert_eq!(day_of(start_of_day(day) - 1), Date::from_ymd(2026, 11, 30));
        assert_eq!(display(start_of_day(day)), "2026-12-01 00:00:00 JST");
        assert_eq!(display(end_of_day(day)), "2026-12-01 23:59:59 JST");
        let first = Date::from_ymd(1900, 1, 1).unwrap();
        assert_eq!(day_of(start_of_day(first)), Some(first));
        assert_eq!(day_of(start_of_day(first) - 1), None);
        let last = Date::from_ymd(9999, 12, 31).unwrap();
        assert_eq!(day_of(end_of_day(last)), Some(last));
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let c = ManualClock::new(Timestamp::from_unix(100));
        assert_eq!(c.now().unix(), 100);
        c.advance(900);
        assert_eq!(c.now().unix(), 1000);
        c.set(Timestamp::from_unix(5));
        assert_eq!(c.now().unix(), 5);
        assert_eq!(c.today().unwrap(), Date::from_ymd(1970, 1, 1).unwrap());
    }

    #[test]
    fn a_fixed_date_keeps_the_time_of_day_moving() {
        let real = SystemClock::real();
        assert!(real.now().unix() > 1_700_000_000);
        assert_eq!(real.today().unwrap(), today_jst().unwrap());
        let day = Date::from_ymd(2031, 2, 28).unwrap();
        let fixed = SystemClock::on(day);
        let (a, r) = (fixed.now(), real.now());
        assert_eq!(fixed.today().unwrap(), day);
        assert!((start_of_day(day)..=end_of_day(day)).contains(&a.unix()));
        // The same time of day as the real clock.
        let tod = |t: i64| (t + JST_OFFSET).rem_euclid(DAY);
        assert!((tod(r.unix()) - tod(a.unix())).abs() <= 1 || tod(r.unix()) < 2);
    }
}
