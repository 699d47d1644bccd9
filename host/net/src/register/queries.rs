//! What the register answers: 本人確認情報の提供 (confirm, search) with its provisions recorded,
//! and the reads that record nothing (a resident, a municipality's residents, its last delivery
//! number, its departures, a resident's history and provisions).

use deadpool_postgres::Transaction;
use tokio_postgres::IsolationLevel;

use super::rows::{
    all, checked_text, corrupt, date_text, micros_to_time, opt, parse_code, parse_date,
    parse_municipality, parse_sex, resident_from_row, to_u64, DEPARTURES, HISTORY, PROVISIONS,
    RESIDENTS_OF, RESIDENT_BY_CODE, SEARCH,
};
use super::types::{
    Confirmation, Departure, HistoryEntry, Kind, Provision, QueryKind, RegisterError, Requester,
    Resident, Result, Search, MAX_SEARCH_RESULTS, PROVIDED_FIELDS,
};
use super::{FourInfo, MunicipalityCode, Register, ResidentCode};

impl Register {
    fn check_request(purpose: &str, requester: &Requester) -> Result<()> {
        checked_text("purpose", purpose)?;
        checked_text("agency", &requester.agency)?;
        checked_text("requesting identity", &requester.identity)?;
        Ok(())
    }

    /// Records provisions of `residents` in `tx`; returns their numbers in the same order.
    async fn record(
        tx: &Transaction<'_>,
        residents: &[&ResidentCode],
        purpose: &str,
        requester: &Requester,
        query: QueryKind,
    ) -> Result<Vec<i64>> {
        let codes: Vec<&str> = residents.iter().map(|c| c.as_str()).collect();
        let fields: Vec<&str> = PROVIDED_FIELDS.to_vec();
        let rows = all(
            tx,
            "INSERT INTO provision (resident, agency, requester, purpose, query, fields) \
                 SELECT c, $2, $3, $4, $5, $6 FROM unnest($1::text[]) WITH ORDINALITY AS u(c, n) \
                 ORDER BY n RETURNING id",
            &[
                &codes,
                &requester.agency.trim(),
                &requester.identity.trim(),
                &purpose.trim(),
                &query.as_str(),
                &fields,
            ],
        )
        .await?;
        let ids = rows
            .iter()
            .map(|r| r.try_get::<_, i64>(0))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(ids)
    }

    /// 本人確認情報の提供 by 住民票コード: the resident's current 本人確認情報 (whatever its
    /// status: a removed resident or a replaced code is an answer too), with the provision
    /// recorded in the same transaction. An unknown code records nothing.
    pub async fn confirm(
        &self,
        code: &ResidentCode,
        purpose: &str,
        requester: &Requester,
    ) -> Result<Confirmation> {
        Self::check_request(purpose, requester)?;
        let mut client = self.db.client().await?;
        let owned = client
            .build_transaction()
            .isolation_level(IsolationLevel::ReadCommitted)
            .start()
            .await?;
        let tx = &owned;
        let row = opt(tx, RESIDENT_BY_CODE, &[&code.as_str()])
            .await?
            .ok_or_else(|| RegisterError::UnknownResident(code.clone()))?;
        let resident = resident_from_row(&row)?;
        let ids = Self::record(tx, &[&resident.code], purpose, requester, QueryKind::Code).await?;
        owned.commit().await?;
        let provision = ids
            .first()
            .copied()
            .ok_or_else(|| RegisterError::Corrupt("no provision recorded".into()))?;
        Ok(Confirmation {
            resident,
            provision,
        })
    }

    /// 本人確認情報の提供 by the 4 info: every resident (in use or removed, not a replaced code)
    /// whose name and birth date match, and sex and address where given; one provision recorded
    /// for each resident returned, in the same transaction. No match records nothing.
    pub async fn search(
        &self,
        query: &Search,
        purpose: &str,
        requester: &Requester,
    ) -> Result<Vec<Confirmation>> {
        Self::check_request(purpose, requester)?;
        let name = checked_text("name (氏名)", &query.name)?;
        let address = query
            .address
            .as_deref()
            .map(|a| checked_text("address (住所)", a))
            .transpose()?;
        let sex = query.sex.map(|s| (s.code() as char).to_string());
        let limit = (MAX_SEARCH_RESULTS + 1) as i64;
        let mut client = self.db.client().await?;
        let owned = client
            .build_transaction()
            .isolation_level(IsolationLevel::ReadCommitted)
            .start()
            .await?;
        let tx = &owned;
        let rows = all(
            tx,
            SEARCH,
            &[&name, &date_text(query.birth), &sex, &address, &limit],
        )
        .await?;
        if rows.len() > MAX_SEARCH_RESULTS {
            return Err(RegisterError::TooManyMatches);
        }
        let residents = rows
            .iter()
            .map(resident_from_row)
            .collect::<Result<Vec<_>>>()?;
        if residents.is_empty() {
            return Ok(Vec::new());
        }
        let codes: Vec<&ResidentCode> = residents.iter().map(|r| &r.code).collect();
        let ids = Self::record(tx, &codes, purpose, requester, QueryKind::FourInfo).await?;
        owned.commit().await?;
        Ok(residents
            .into_iter()
            .zip(ids)
            .map(|(resident, provision)| Confirmation {
                resident,
                provision,
            })
            .collect())
    }

    /// The resident's current state, without recording a provision (for the municipalities'
    /// and the administrator's own checks, not for agencies).
    pub async fn resident(&self, code: &ResidentCode) -> Result<Option<Resident>> {
        let client = self.db.client().await?;
        let client = &client;
        let row = opt(client, RESIDENT_BY_CODE, &[&code.as_str()]).await?;
        row.as_ref().map(resident_from_row).transpose()
    }

    /// The residents a municipality holds (in use: registered or moving out), in code order.
    pub async fn residents_of(&self, municipality: &MunicipalityCode) -> Result<Vec<Resident>> {
        let client = self.db.client().await?;
        let client = &client;
        let rows = all(client, RESIDENTS_OF, &[&municipality.as_str()]).await?;
        rows.iter().map(resident_from_row).collect()
    }

    /// The last delivery number applied for a municipality (0 before its first).
    pub async fn last_seq(&self, municipality: &MunicipalityCode) -> Result<u64> {
        let client = self.db.client().await?;
        let client = &client;
        let row = opt(
            client,
            "SELECT last_seq FROM municipality WHERE code = $1",
            &[&municipality.as_str()],
        )
        .await?;
        match row {
            Some(row) => to_u64(row.try_get(0)?),
            None => Ok(0),
        }
    }

    /// Every change of a resident, oldest first. An unknown code is an error.
    pub async fn history(&self, code: &ResidentCode) -> Result<Vec<HistoryEntry>> {
        let client = self.db.client().await?;
        let client = &client;
        let rows = all(client, HISTORY, &[&code.as_str()]).await?;
        if rows.is_empty() {
            return Err(RegisterError::UnknownResident(code.clone()));
        }
        rows.iter()
            .map(|row| {
                let kind: String = row.try_get("kind")?;
                let old_name: Option<String> = row.try_get("old_name")?;
                let old = match old_name {
                    None => None,
                    Some(name) => Some(FourInfo {
                        name,
                        address: row.try_get("old_address")?,
                        birth: parse_date(row.try_get("old_birth")?)?,
                        sex: parse_sex(row.try_get("old_sex")?)?,
                    }),
                };
                let other_m: Option<&str> = row.try_get("other_municipality")?;
                let other_c: Option<&str> = row.try_get("other_code")?;
                Ok(HistoryEntry {
                    version: to_u64(row.try_get("version")?)?,
                    kind: Kind::from_db(&kind).ok_or_else(|| corrupt("kind", &kind))?,
                    date: parse_date(row.try_get("effective_on")?)?,
                    municipality: parse_municipality(row.try_get("municipality")?)?,
                    seq: to_u64(row.try_get("seq")?)?,
                    old,
                    new: FourInfo {
                        name: row.try_get("new_name")?,
                        address: row.try_get("new_address")?,
                        birth: parse_date(row.try_get("new_birth")?)?,
                        sex: parse_sex(row.try_get("new_sex")?)?,
                    },
                    other_municipality: other_m.map(parse_municipality).transpose()?,
                    other_code: other_c.map(parse_code).transpose()?,
                })
            })
            .collect()
    }

    /// 転入転出の特例: the residents who left `municipality` and whose 転入 elsewhere completed
    /// their 転出, after `after` (the last [`Departure::id`] seen; 0 at first), at most `limit`,
    /// in order. The municipality records each as completed and reads on from the last id.
    pub async fn departures(
        &self,
        municipality: &MunicipalityCode,
        after: i64,
        limit: i64,
    ) -> Result<Vec<Departure>> {
        let client = self.db.client().await?;
        let client = &client;
        let rows = all(
            client,
            DEPARTURES,
            &[&municipality.as_str(), &after, &limit],
        )
        .await?;
        rows.iter()
            .map(|row| {
                let version: i64 = row.try_get("version")?;
                Ok(Departure {
                    id: row.try_get("id")?,
                    resident: parse_code(row.try_get("resident")?)?,
                    to: parse_municipality(row.try_get("to_municipality")?)?,
                    version: u64::try_from(version).map_err(|_| corrupt("version", "negative"))?,
                    date: parse_date(row.try_get("effective_on")?)?,
                })
            })
            .collect()
    }

    /// Every provision of a resident's 本人確認情報, oldest first.
    pub async fn provisions_of(&self, code: &ResidentCode) -> Result<Vec<Provision>> {
        let client = self.db.client().await?;
        let client = &client;
        let rows = all(client, PROVISIONS, &[&code.as_str()]).await?;
        rows.iter()
            .map(|row| {
                let query: String = row.try_get("query")?;
                Ok(Provision {
                    id: row.try_get("id")?,
                    resident: parse_code(row.try_get("resident")?)?,
                    at: micros_to_time(row.try_get("at")?),
                    agency: row.try_get("agency")?,
                    requester: row.try_get("requester")?,
                    purpose: row.try_get("purpose")?,
                    query: match query.as_str() {
                        "code" => QueryKind::Code,
                        "four_info" => QueryKind::FourInfo,
                        other => return Err(corrupt("query kind", other)),
                    },
                    fields: row.try_get("fields")?,
                })
            })
            .collect()
    }
}
