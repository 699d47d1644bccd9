//! Calendar dates on the host: adding years, the day before, ages ([`jiff`] does the arithmetic)
//! on top of the card's [`Date`] (`YYYYMMDD`, validated as a real date). Today comes from the
//! [`clock`](crate::clock) ([`today`] and [`TODAY_ENV`] are re-exported here).

pub use juki_card::cvc::Date;

use crate::error::{Error, Result};

pub use crate::clock::{today, today_jst, TODAY_ENV};

/// The card's date as a [`jiff`] civil date (every card date, 1900–9999, is one).
pub(crate) fn civil(date: Date) -> jiff::civil::Date {
    let (y, m, d) = date.ymd();
    // In range by construction of `Date` (years 1900–9999, real month and day).
    jiff::civil::Date::new(y as i16, m as i8, d as i8).unwrap_or(jiff::civil::Date::MAX)
}

/// A [`jiff`] civil date as the card's date (`None` outside 1900–9999).
pub(crate) fn from_civil(date: jiff::civil::Date) -> Option<Date> {
    Date::from_ymd(
        u32::try_from(date.year()).ok()?,
        u32::try_from(date.month()).ok()?,
        u32::try_from(date.day()).ok()?,
    )
}

const EPOCH: jiff::civil::Date = jiff::civil::date(1970, 1, 1);

/// The civil date `days` days after 1970-01-01 (`None` outside 1900–9999).
pub fn from_days_since_epoch(days: i64) -> Option<Date> {
    let span = jiff::Span::new().try_days(days).ok()?;
    from_civil(EPOCH.checked_add(span).ok()?)
}

/// Days from 1970-01-01 to `date` (the inverse of [`from_days_since_epoch`]).
pub fn days_since_epoch(date: Date) -> i64 {
    // Every card date is within jiff's range: the difference is always defined.
    EPOCH
        .until((jiff::Unit::Day, civil(date)))
        .map_or(0, |span| i64::from(span.get_days()))
}

/// Whole years from `birth` to `on` (age on that day; a 29 February birthday counts on
/// 28 February in a common year); 0 when `on` is before `birth`.
pub fn age_on(birth: Date, on: Date) -> u32 {
    // The birthday of the year of `on`, by `add_years` (so 29 February falls on 28 February).
    let years = on.ymd().0.saturating_sub(birth.ymd().0);
    if years > 0 && add_years(birth, years).is_none_or(|birthday| birthday > on) {
        years - 1
    } else {
        years
    }
}

/// The same day `years` years later; 29 February becomes 28 February in a common year.
pub fn add_years(date: Date, years: u32) -> Option<Date> {
    let span = jiff::Span::new().try_years(i64::from(years)).ok()?;
    from_civil(civil(date).checked_add(span).ok()?)
}

/// The day before `date` (for "valid until the day before the anniversary").
pub fn day_before(date: Date) -> Option<Date> {
    from_civil(civil(date).yesterday().ok()?)
}

/// Parses `YYYYMMDD` or `YYYY-MM-DD` typed by a person.
pub fn parse_user_date(text: &str) -> Result<Date> {
    let digits: String = text.chars().filter(|c| *c != '-').collect();
    Date::from_ascii(digits.as_bytes()).ok_or_else(|| {
        Error::InvalidInput(format!(
            "\"{text}\" is not a real date; write it as YYYYMMDD or YYYY-MM-DD (e.g. 19850415)"
        ))
    })
}

/// `YYYY-MM-DD` for display.
pub fn display(date: Date) -> String {
    let (y, m, d) = date.ymd();
    format!("{y:04}-{m:02}-{d:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        for (y, m, d) in [(1900, 1, 1), (2024, 2, 29), (9999, 12, 31)] {
            let date = Date::from_ymd(y, m, d).unwrap();
            assert_eq!(from_civil(civil(date)), Some(date));
        }
        assert_eq!(from_civil(jiff::civil::date(1899, 12, 31)), None);
        assert_eq!(from_days_since_epoch(0), Date::from_ymd(1970, 1, 1));
        assert_eq!(from_days_since_epoch(19_782), Date::from_ymd(2024, 2, 29));
        for days in [
            0, 1, 59, 60, 365, 10_957, 19_782, 24_000, -25_567, 2_932_896,
        ] {
            let date = from_days_since_epoch(days).unwrap();
            assert_eq!(days_since_epoch(date), days, "{}", display(date));
        }
        assert_eq!(from_days_since_epoch(2_932_897), None);
        assert_eq!(from_days_since_epoch(-25_568), None);
        assert!(today_jst().is_ok());
    }

    #[test]
    fn years_and_days() {
        let leap = Date::from_ymd(2024, 2, 29).unwrap();
        assert_eq!(add_years(leap, 10), Date::from_ymd(2034, 2, 28));
        assert_eq!(add_years(leap, 4), Date::from_ymd(2028, 2, 29));
        assert_eq!(
            day_before(Date::from_ymd(2026, 3, 1).unwrap()),
            Date::from_ymd(2026, 2, 28)
        );
        assert_eq!(
            day_before(Date::from_ymd(2026, 1, 1).unwrap()),
            Date::from_ymd(2025, 12, 31)
        );
        assert_eq!(day_before(Date::from_ymd(1900, 1, 1).unwrap()), None);
        assert_eq!(add_years(Date::from_ymd(9999, 1, 1).unwrap(), 1), None);
    }

    #[test]
    fn ages() {
        let b = Date::from_ymd(2012, 4, 15).unwrap();
        assert_eq!(age_on(b, Date::from_ymd(2027, 4, 14).unwrap()), 14);
        assert_eq!(age_on(b, Date::from_ymd(2027, 4, 15).unwrap()), 15);
        assert_eq!(age_on(b, Date::from_ymd(2012, 4, 15).unwrap()), 0);
        assert_eq!(age_on(b, Date::from_ymd(2000, 1, 1).unwrap()), 0);
        let leap = Date::from_ymd(2008, 2, 29).unwrap();
        assert_eq!(age_on(leap, Date::from_ymd(2023, 2, 28).unwrap()), 15);
    }

    #[test]
    fn user_dates() {
        assert_eq!(parse_user_date("1985-04-15").unwrap().value(), 19_850_415);
        assert_eq!(parse_user_date("19850415").unwrap().value(), 19_850_415);
        assert!(parse_user_date("19850230").is_err());
        assert!(parse_user_date("1985041").is_err());
        assert!(parse_user_date("yesterday").is_err());
        assert_eq!(display(Date::from_ymd(2026, 4, 1).unwrap()), "2026-04-01");
    }
}
