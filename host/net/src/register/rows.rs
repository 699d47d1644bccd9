//! The SQL text of the register's queries, its prepared statements, and the conversions between
//! rows (or text) and the register's types.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use deadpool_postgres::GenericClient;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::types::{RegisterError, Resident, Result, Status};
use super::{Date, FourInfo, MunicipalityCode, ResidentCode, Sex};

// ---- conversions --------------------------------------------------------------------------------

pub(super) fn date_text(date: Date) -> String {
    String::from_utf8_lossy(&date.to_ascii()).into_owned()
}

pub(super) fn corrupt(what: &str, value: &str) -> RegisterError {
    RegisterError::Corrupt(format!("{what} \"{value}\""))
}

pub(super) fn parse_code(text: &str) -> Result<ResidentCode> {
    ResidentCode::parse(text.trim()).map_err(|_| corrupt("resident code", text))
}

pub(super) fn parse_municipality(text: &str) -> Result<MunicipalityCode> {
    MunicipalityCode::parse(text.trim()).map_err(|_| corrupt("municipality code", text))
}

pub(super) fn parse_date(text: &str) -> Result<Date> {
    Date::from_ascii(text.as_bytes()).ok_or_else(|| corrupt("date", text))
}

pub(super) fn parse_sex(text: &str) -> Result<Sex> {
    match text.as_bytes() {
        [c] => Sex::from_code(*c),
        _ => None,
    }
    .ok_or_else(|| corrupt("sex", text))
}

pub(super) fn to_u64(value: i64) -> Result<u64> {
    u64::try_from(value).map_err(|_| corrupt("number", &value.to_string()))
}

pub(super) fn to_i64(value: u64, what: &str) -> Result<i64> {
    i64::try_from(value).map_err(|_| RegisterError::Invalid(format!("{what} {value} is too large")))
}

pub(super) fn micros_to_time(micros: i64) -> SystemTime {
    if micros >= 0 {
        UNIX_EPOCH + Duration::from_micros(micros.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_micros(micros.unsigned_abs())
    }
}

/// The resident columns, dates as `YYYYMMDD`.
macro_rules! select_resident {
    ($rest:literal) => {
        concat!(
            "SELECT code, name, to_char(birth, 'YYYYMMDD') AS birth, sex, address, \
             municipality, status, moving_to, replaced_by, version, \
             to_char(changed_on, 'YYYYMMDD') AS changed_on FROM resident ",
            $rest
        )
    };
}

/// A resident by code, locked.
pub(super) const LOCK_RESIDENT: &str = select_resident!("WHERE code = $1 FOR UPDATE");
/// A resident by code.
pub(super) const RESIDENT_BY_CODE: &str = select_resident!("WHERE code = $1");
/// The 4-info search.
pub(super) const SEARCH: &str = select_resident!(
    "WHERE name = $1 AND birth = $2::text::date AND ($3::text IS NULL OR sex = $3::text) \
     AND ($4::text IS NULL OR address = $4::text) AND status <> 'code_replaced' \
     ORDER BY code LIMIT $5"
);
/// A municipality's residents.
pub(super) const RESIDENTS_OF: &str = select_resident!(
    "WHERE municipality = $1 AND status IN ('registered', 'moving_out') ORDER BY code"
);
/// A resident's history.
pub(super) const HISTORY: &str =
    "SELECT version, kind, to_char(effective_on, 'YYYYMMDD') AS effective_on, \
     municipality, seq, old_name, to_char(old_birth, 'YYYYMMDD') AS old_birth, old_sex, \
     old_address, new_name, to_char(new_birth, 'YYYYMMDD') AS new_birth, new_sex, new_address, \
     other_municipality, other_code FROM resident_history WHERE resident = $1 ORDER BY version";
/// A completed 転出, for the municipality left.
pub(super) const INSERT_DEPARTURE: &str =
    "INSERT INTO departure (from_municipality, to_municipality, \
     resident, version, effective_on) VALUES ($1, $2, $3, $4, $5::text::date)";
/// A municipality's completed 転出 after a cursor.
pub(super) const DEPARTURES: &str = "SELECT id, to_municipality, resident, version, \
     to_char(effective_on, 'YYYYMMDD') AS effective_on FROM departure \
     WHERE from_municipality = $1 AND id > $2 ORDER BY id LIMIT $3";
/// A resident's provisions.
pub(super) const PROVISIONS: &str = "SELECT id, resident, \
     (extract(epoch FROM provided_at) * 1000000)::bigint AS at, agency, requester, purpose, \
     query, fields FROM provision WHERE resident = $1 ORDER BY provided_at, id";

pub(super) fn resident_from_row(row: &Row) -> Result<Resident> {
    let status: String = row.try_get("status")?;
    let moving_to: Option<String> = row.try_get("moving_to")?;
    let replaced_by: Option<String> = row.try_get("replaced_by")?;
    let status = match (status.as_str(), moving_to, replaced_by) {
        ("registered", None, None) => Status::Registered,
        ("moving_out", Some(to), None) => Status::MovingOut {
            to: parse_municipality(&to)?,
        },
        ("removed", None, None) => Status::Removed,
        ("code_replaced", None, Some(by)) => Status::CodeReplaced {
            by: parse_code(&by)?,
        },
        (other, _, _) => return Err(corrupt("status", other)),
    };
    Ok(Resident {
        code: parse_code(row.try_get("code")?)?,
        info: FourInfo {
            name: row.try_get("name")?,
            address: row.try_get("address")?,
            birth: parse_date(row.try_get("birth")?)?,
            sex: parse_sex(row.try_get("sex")?)?,
        },
        municipality: parse_municipality(row.try_get("municipality")?)?,
        status,
        version: to_u64(row.try_get("version")?)?,
        changed_on: parse_date(row.try_get("changed_on")?)?,
    })
}

pub(super) fn checked_text(what: &str, value: &str) -> Result<String> {
    let value = value.trim();
    if value.is_empty() {
        return Err(RegisterError::Invalid(format!("the {what} is empty")));
    }
    if value.chars().any(char::is_control) {
        return Err(RegisterError::Invalid(format!(
            "the {what} contains control characters"
        )));
    }
    Ok(value.to_string())
}

// ---- statements ---------------------------------------------------------------------------------
// Every statement is prepared once per connection (deadpool's statement cache): one round trip
// per statement instead of two.

pub(super) async fn exec<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<u64> {
    let statement = c.prepare_cached(sql).await?;
    Ok(c.execute(&statement, params).await?)
}

pub(super) async fn one<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Row> {
    let statement = c.prepare_cached(sql).await?;
    Ok(c.query_one(&statement, params).await?)
}

pub(super) async fn opt<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Option<Row>> {
    let statement = c.prepare_cached(sql).await?;
    Ok(c.query_opt(&statement, params).await?)
}

pub(super) async fn all<C: GenericClient>(
    c: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>> {
    let statement = c.prepare_cached(sql).await?;
    Ok(c.query(&statement, params).await?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Db;
    use crate::pg_cluster::PgCluster;

    /// EXPLAIN of a prepared statement with these arguments (SQL literals).
    async fn plan(client: &tokio_postgres::Client, sql: &str, args: &str) -> String {
        client.batch_execute("DEALLOCATE ALL").await.unwrap();
        client
            .batch_execute(&format!("PREPARE q AS {sql}"))
            .await
            .unwrap();
        let rows = client
            .simple_query(&format!("EXPLAIN EXECUTE q({args})"))
            .await
            .unwrap();
        rows.iter()
            .filter_map(|m| match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => r.get(0).map(String::from),
                _ => None,
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_queries_use_their_indexes() {
        let cluster = PgCluster::start().unwrap();
        let db = Db::connect(&cluster.fresh_database().unwrap(), 2).unwrap();
        db.migrate().await.unwrap();
        let client = db.client().await.unwrap();
        // 20,000 residents in 20 municipalities, 3 history rows and 2 provisions each.
        client
            .batch_execute(
                "INSERT INTO municipality (code) SELECT lpad(m::text, 6, '0') \
                 FROM generate_series(1, 20) m;
                 INSERT INTO resident (code, name, birth, sex, address, municipality, status, \
                 version, changed_on) SELECT lpad(i::text, 11, '0'), 'name ' || (i % 5000), \
                 date '1950-01-01' + (i % 20000), '1', 'address ' || i, \
                 lpad((i % 20 + 1)::text, 6, '0'), 'registered', 3, date '2026-01-01' \
                 FROM generate_series(1, 20000) i;
                 INSERT INTO resident_history (resident, version, kind, effective_on, \
                 municipality, seq, new_name, new_birth, new_sex, new_address) \
                 SELECT code, v, 'amend', date '2026-01-01', municipality, v, name, birth, sex, \
                 address FROM resident, generate_series(1, 3) v;
                 INSERT INTO provision (resident, agency, requester, purpose, query, fields) \
                 SELECT code, 'agency', 'requester', 'purpose', 'code', '{code}' \
                 FROM resident, generate_series(1, 2);
                 ANALYZE;",
            )
            .await
            .unwrap();
        let cases = [
            (RESIDENT_BY_CODE, "'00000012345'", "resident_pkey"),
            (LOCK_RESIDENT, "'00000012345'", "resident_pkey"),
            (
                SEARCH,
                "'name 42', '19500112', NULL, NULL, 101",
                "resident_name_birth",
            ),
            (
                SEARCH,
                "'name 42', '19500112', '1', 'address 42', 101",
                "resident_name_birth",
            ),
            (RESIDENTS_OF, "'000007'", "resident_municipality"),
            (HISTORY, "'00000012345'", "resident_history_pkey"),
            (PROVISIONS, "'00000012345'", "provision_resident_time"),
        ];
        for (sql, args, index) in cases {
            let plan = plan(&client, sql, args).await;
            assert!(
                plan.contains(index),
                "expected {index} in the plan of\n{sql}\n{plan}"
            );
            assert!(!plan.contains("Seq Scan"), "{sql}\n{plan}");
        }
    }
}
