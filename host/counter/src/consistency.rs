//! Do the counter's registry and the national register agree? The checker the network's fault
//! tests end with (a server killed mid-delivery, PostgreSQL restarted, a batch sent twice, two
//! municipalities racing): after the counters have synced, every resident a municipality holds
//! has the same 本人確認情報 in both places, and nobody is held on one side only.
//!
//! [`snapshot`] reads what a counter holds; [`compare`] sets it against the national
//! register's residents of that municipality (`juki_net::register::Register::residents_of`:
//! registered or moving out). A counter with updates still queued is not comparable yet
//! ([`Snapshot::waiting`]): the difference would be those updates.

use juki_host::resident::{FourInfo, MunicipalityCode};
use juki_host::resident_code::ResidentCode;
use juki_net::register::{Resident as NationalResident, Status};

use super::error::Result;
use super::registry::TerminateReason;
use super::CounterDb;

/// One resident as the counter holds them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// 住民票コード.
    pub code: ResidentCode,
    /// The 4 info in the counter's registry.
    pub info: FourInfo,
    /// A 転出 recorded here: where to.
    pub moving_out_to: Option<MunicipalityCode>,
}

/// What a counter holds, and how many updates it has not delivered yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    /// The counter's municipality.
    pub municipality: MunicipalityCode,
    /// Its residents (not removed), by code.
    pub residents: Vec<Held>,
    /// Updates queued for the network.
    pub waiting: u64,
}

/// One disagreement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// The counter holds the resident; the network does not place them here.
    OnlyAtCounter(ResidentCode),
    /// The network places the resident here; the counter does not hold them.
    OnlyInNetwork(ResidentCode),
    /// Both hold the resident, with other 4 info.
    FourInfoDiffers(ResidentCode),
    /// A 転出 on one side only (or to another destination).
    MoveOutDiffers(ResidentCode),
}

/// What `db` holds: every resident of the registry but those removed (a card terminated for
/// death: 消除) and those whose 転出 a 転入 elsewhere completed, with their 4 info and any 転出 recorded, and the queue's length. Residents
/// without 4 info in the registry (registered before it kept them) are left out.
pub fn snapshot(db: &CounterDb) -> Result<Snapshot> {
    let municipality = super::session::municipality(db)?.ok_or_else(|| {
        super::error::CounterError::InvalidInput("the counter has no municipality yet".into())
    })?;
    let registry = db.registry();
    let mut residents = Vec::new();
    for r in registry.residents()? {
        let removed = registry
            .cards_of_resident(&r.code)?
            .iter()
            .any(|c| c.terminate_reason == Some(TerminateReason::Death));
        let Some(info) = registry.four_info(&r.code)? else {
            continue;
        };
        // A 転出 completed by the 転入 elsewhere: no longer held here.
        let gone = registry.move_out_completed(&r.code)?.is_some();
        if !removed && !gone {
            let moving_out_to = registry.moved_out(&r.code)?.map(|(to, _)| to);
            residents.push(Held {
                code: r.code,
                info,
                moving_out_to,
            });
        }
    }
    let waiting = super::network::status(db)?.waiting;
    Ok(Snapshot {
        municipality,
        residents,
        waiting,
    })
}

/// The disagreements between a counter's `held` residents and the network's `national`
/// residents of the same municipality. A resident the counter has seen leave (a 転出 recorded)
/// agrees with the network either still holding them as moving out to the same place or no
/// longer placing them here (the 転入 elsewhere completed it).
pub fn compare(held: &[Held], national: &[NationalResident]) -> Vec<Mismatch> {
    let mut out = Vec::new();
    for h in held {
        let n = national.iter().find(|n| n.code == h.code);
        match (n, &h.moving_out_to) {
            (None, None) => out.push(Mismatch::OnlyAtCounter(h.code.clone())),
            (None, Some(_)) => {}
            (Some(n), to) => {
                if n.info != h.info {
                    out.push(Mismatch::FourInfoDiffers(h.code.clone()));
                }
                let national_to = match &n.status {
                    Status::MovingOut { to } => Some(to),
                    _ => None,
                };
                if national_to != to.as_ref() {
                    out.push(Mismatch::MoveOutDiffers(h.code.clone()));
                }
            }
        }
    }
    for n in national {
        if !held.iter().any(|h| h.code == n.code) {
            out.push(Mismatch::OnlyInNetwork(n.code.clone()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use juki_host::date::Date;
    use juki_host::resident::Sex;

    fn code(n: u8) -> ResidentCode {
        let ten = [n % 10; 10];
        let digit = juki_host::resident_code::check_digit(&ten);
        let text: String = ten
            .iter()
            .chain([digit].iter())
            .map(|d| char::from(b'0' + d))
            .collect();
        ResidentCode::parse(&text).unwrap()
    }

    fn muni(text: &str) -> MunicipalityCode {
        MunicipalityCode::parse(text).unwrap()
    }

    fn info(address: &str) -> FourInfo {
        FourInfo::new(
            "住基 一郎",
            address,
            Date::from_ymd(1980, 1, 2).unwrap(),
            Sex::Male,
        )
        .unwrap()
    }

    fn national(c: ResidentCode, address: &str, status: Status) -> NationalResident {
        NationalResident {
            code: c,
            info: info(address),
            municipality: muni("131016"),
            status,
            version: 1,
            changed_on: Date::from_ymd(2026, 4, 1).unwrap(),
        }
    }

    fn held(c: ResidentCode, address: &str, to: Option<&str>) -> Held {
        Held {
            code: c,
            info: info(address),
            moving_out_to: to.map(muni),
        }
    }

    #[test]
    fn agreement_and_each_kind_of_mismatch() {
        let a = "東京都千代田区千代田1-1";
        // The same on both sides: nothing to say.
        assert!(compare(
            &[held(code(1), a, None)],
            &[national(code(1), a, Status::Registered)]
        )
        .is_empty());
        // A 転出 recorded here: the network still holding them as moving out there, or no
        // longer placing them here, both agree.
        let kita = "271276";
        let moving = Status::MovingOut { to: muni(kita) };
        assert!(compare(
            &[held(code(2), a, Some(kita))],
            &[national(code(2), a, moving)]
        )
        .is_empty());
        assert!(compare(&[held(code(2), a, Some(kita))], &[]).is_empty());
        // Each disagreement, named.
        assert_eq!(
            compare(&[held(code(3), a, None)], &[]),
            [Mismatch::OnlyAtCounter(code(3))]
        );
        assert_eq!(
            compare(&[], &[national(code(4), a, Status::Registered)]),
            [Mismatch::OnlyInNetwork(code(4))]
        );
        assert_eq!(
            compare(
                &[held(code(5), a, None)],
                &[national(code(5), "大阪府大阪市北区1-1", Status::Registered)]
            ),
            [Mismatch::FourInfoDiffers(code(5))]
        );
        assert_eq!(
            compare(
                &[held(code(6), a, Some(kita))],
                &[national(code(6), a, Status::Registered)]
            ),
            [Mismatch::MoveOutDiffers(code(6))]
        );
        assert_eq!(
            compare(
                &[held(code(7), a, None)],
                &[national(code(7), a, Status::MovingOut { to: muni(kita) })]
            ),
            [Mismatch::MoveOutDiffers(code(7))]
        );
    }
}
