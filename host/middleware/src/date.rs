//! Calendar dates on the host: today in Japan (JST, UTC+9) and adding years, on top of the card's
//! [`Date`] (`YYYYMMDD`, validated as a real date).

pub use juki_card::cvc::Date;

use crate::error::{Error, Result};

/// Today's date in Japan Standard Time (UTC+9), from the system clock.
pub fn today_jst() -> Result<Date> {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|_| Error::InvalidInput("the system clock is before 1970".into()))?
        .as_secs();
    let days = (secs + 9 * 3600) / 86_400;
    from_days_since_epoch(days as i64)
        .ok_or_else(|| Error::InvalidInput("the system clock is out of range".into()))
}

/// The environment variable that sets "today" for training and tests: `JUKI_TODAY=YYYY-MM-DD`
/// (or `YYYYMMDD`). Never set it at a real counter: card and credential validity are decided
/// against it.
pub const TODAY_ENV: &str = "JUKI_TODAY";

/// Today for every validity decision (card expiry, credential validity, issue date): the date in
/// `JUKI_TODAY` when it is set (training, tests), else [`today_jst`].
pub fn today() -> Result<Date> {
    match std::env::var(TODAY_ENV) {
        Ok(text) if !text.trim().is_empty() => parse_user_date(text.trim()).map_err(|_| {
            Error::InvalidInput(format!(
                "{TODAY_ENV}=\"{text}\" is not a date; write it as YYYY-MM-DD (or unset it)"
            ))
        }),
        _ => today_jst(),
    }
}

/// Whole years from `birth` to `on` (age on that day; a 29 February birthday counts on
/// 28 February in a common year).
pub fn age_on(birth: Date, on: Date) -> u32 {
    let (by, _, _) = birth.ymd();
    let (oy, _, _) = on.ymd();
    let mut years = oy.saturating_sub(by);
    while years > 0 && add_years(birth, years).is_none_or(|d| d > on) {
        years -= 1;
    }
    years
}

/// The civil date `days` days after 1970-01-01 (H. Hinnant's `civil_from_days`).
pub fn from_days_since_epoch(days: i64) -> Option<Date> {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    Date::from_ymd(
        u32::try_from(year).ok()?,
        u32::try_from(month).ok()?,
        u32::try_from(day).ok()?,
    )
}

/// Days from 1970-01-01 to `date` (H. Hinnant's `days_from_civil`, the inverse of
/// [`from_days_since_epoch`]).
pub fn days_since_epoch(date: Date) -> i64 {
    let (y, m, d) = date.ymd();
    let (y, m, d) = (i64::from(y) - i64::from(m <= 2), i64::from(m), i64::from(d));
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The same day `years` years later; 29 February becomes 28 February in a common year.
pub fn add_years(date: Date, years: u32) -> Option<Date> {
    let (y, m, d) = date.ymd();
    Date::from_ymd(y + years, m, d).or_else(|| Date::from_ymd(y + years, m, d - 1))
}

/// The day before `date` (for "valid until the day before the anniversary").
pub fn day_before(date: Date) -> Option<Date> {
    let (y, m, d) = date.ymd();
    if d > 1 {
        return Date::from_ymd(y, m, d - 1);
    }
    if m > 1 {
        return (28..=31).rev().find_map(|d| Date::from_ymd(y, m - 1, d));
    }
    Date::from_ymd(y - 1, 12, 31)
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
        assert_eq!(from_days_since_epoch(0), Date::from_ymd(1970, 1, 1));
        assert_eq!(from_days_since_epoch(19_782), Date::from_ymd(2024, 2, 29));
        assert!(today_jst().is_ok());
        for days in [0, 1, 59, 60, 365, 10_957, 19_782, 24_000, -25_567] {
            let date = from_days_since_epoch(days).unwrap();
            assert_eq!(days_since_epoch(date), days, "{}", display(date));
        }
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
