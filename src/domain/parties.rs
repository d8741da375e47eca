//! Who may be the transferring party (移出人). 部令第23号 lets a licensed collector (收集单位)
//! transfer the waste it collected from many producers as well as a producer its own: a
//! collector files like a producer, and in addition must hold a 危险废物经营许可证 with the
//! collection (收集) mode, in force on the day it files.

use chrono::NaiveDate;

use super::Invalid;
use super::whitelist::{Licence, LicenceMode};

/// The kind of transferring party a registered enterprise is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PartyKind {
    /// 产生单位: transfers the waste it produced.
    #[default]
    Producer,
    /// 收集单位: transfers the waste it collected, under its collection licence.
    Collector,
}

impl PartyKind {
    pub const ALL: [PartyKind; 2] = [PartyKind::Producer, PartyKind::Collector];

    pub fn as_str(self) -> &'static str {
        match self {
            PartyKind::Producer => "producer",
            PartyKind::Collector => "collector",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        PartyKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| Invalid::new("enterprise.kind", "kind must be producer or collector"))
    }
}

/// Why a collector may not file on `on` with the licence current that day (`None`: it holds
/// none): no licence, a licence not in force (expired, not yet valid, suspended or revoked), or
/// one without the collection mode. `None` when it may.
pub fn collector_licence_problem(licence: Option<&Licence>, on: NaiveDate) -> Option<Invalid> {
    let code = "application.collector_licence";
    match licence {
        None => Some(Invalid::new(
            code,
            format!(
                "a collector (收集单位) files only under a 危险废物经营许可证 for collection (收集); it holds none valid on {on}"
            ),
        )),
        Some(l) if !l.in_force_on(on) => Some(Invalid::new(
            code,
            format!(
                "the collector's 危险废物经营许可证 is not in force on {on} (valid {} to {}, {})",
                l.valid_from,
                l.valid_until,
                l.status.as_str()
            ),
        )),
        Some(l) if !l.modes.contains(&LicenceMode::Collect) => Some(Invalid::new(
            code,
            "the collector's 危险废物经营许可证 does not include collection (收集)",
        )),
        Some(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::whitelist::LicenceStatus;

    fn licence(modes: Vec<LicenceMode>, until: &str, status: LicenceStatus) -> Licence {
        Licence {
            modes: modes.into_iter().collect(),
            categories: Default::default(),
            codes: Default::default(),
            annual_capacity: crate::domain::quantity::Quantity::parse_kg("1000").unwrap(),
            category_capacities: Default::default(),
            valid_from: NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
            valid_until: until.parse().unwrap(),
            status,
        }
    }

    #[test]
    fn kinds_round_trip() {
        for k in PartyKind::ALL {
            assert_eq!(PartyKind::parse(k.as_str()), Ok(k));
        }
        assert!(PartyKind::parse("carrier").is_err());
    }

    #[test]
    fn a_collector_needs_a_collection_licence_in_force_that_day() {
        let day = NaiveDate::from_ymd_opt(2026, 6, 1).unwrap();
        let ok = licence(
            vec![LicenceMode::Collect, LicenceMode::Store],
            "2028-12-31",
            LicenceStatus::Valid,
        );
        assert_eq!(collector_licence_problem(Some(&ok), day), None);
        for bad in [
            None,
            Some(licence(vec![LicenceMode::Collect], "2026-05-31", LicenceStatus::Valid)),
            Some(licence(
                vec![LicenceMode::Collect],
                "2028-12-31",
                LicenceStatus::Suspended,
            )),
            Some(licence(
                vec![LicenceMode::Store, LicenceMode::Dispose],
                "2028-12-31",
                LicenceStatus::Valid,
            )),
        ] {
            let why = collector_licence_problem(bad.as_ref(), day).unwrap();
            assert_eq!(why.code, "application.collector_licence");
        }
    }
}
