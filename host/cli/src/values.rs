//! The command line's typed values: clap value parsers built on the libraries' own parsers, so
//! that a bad birth date, sex, 住民票コード, 地方公共団体コード or date is refused by clap, with a
//! message in the user's language, before anything runs.

use juki_counter::audit::AuditHead;
use juki_host::date::{self, Date};
use juki_host::resident::{MunicipalityCode, Sex};
use juki_host::resident_code::{CodeError, ResidentCode};

use crate::t;

/// A date, `YYYYMMDD` or `YYYY-MM-DD` (a real date).
pub fn date(text: &str) -> Result<Date, String> {
    date::parse_user_date(text).map_err(|_| t!("arg-date", value = text))
}

/// 性別: `1` (male, 男), `2` (female, 女) or `9` (not applicable).
pub fn sex(text: &str) -> Result<Sex, String> {
    Sex::parse(text).map_err(|_| t!("arg-sex", value = text))
}

/// A 住民票コード: 11 digits, the last one the check digit.
pub fn resident_code(text: &str) -> Result<ResidentCode, String> {
    ResidentCode::parse(text).map_err(|e| match e {
        CodeError::Length => t!("arg-resident-code-length"),
        CodeError::NotDigits => t!("arg-resident-code-digits"),
        CodeError::CheckDigit => t!("arg-resident-code-check-digit"),
    })
}

/// A 地方公共団体コード: 6 digits with its check digit.
pub fn municipality(text: &str) -> Result<MunicipalityCode, String> {
    MunicipalityCode::parse(text).map_err(|_| t!("arg-municipality", value = text))
}

/// A head of the audit trail noted earlier, `SEQ:HASH`.
pub fn audit_head(text: &str) -> Result<AuditHead, String> {
    AuditHead::parse(text).map_err(|_| t!("arg-audit-head", value = text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::{set_lang, Lang};

    #[test]
    fn the_libraries_parse_and_the_messages_are_the_users() {
        set_lang(Lang::En);
        assert_eq!(
            date("1985-04-15").unwrap(),
            Date::from_ymd(1985, 4, 15).unwrap()
        );
        assert_eq!(date("19850415").unwrap(), date("1985-04-15").unwrap());
        assert!(date("1985-02-30").unwrap_err().contains("1985-02-30"));
        assert_eq!(sex("2").unwrap(), Sex::Female);
        assert!(sex("3").is_err());
        assert!(resident_code("12345678901").is_err());
        assert!(resident_code("1234").unwrap_err().contains("11 digits"));
        assert_eq!(municipality("131016").unwrap().as_str(), "131016");
        assert!(municipality("131017").unwrap_err().contains("131017"));
    }
}
