//! The January report (年度报告): each January the provinces report what their listed operators
//! actually received in the year before, per operator × waste category × source province, with
//! the quantity the whitelist listed for them beside it.
//!
//! Two rules live here. **Received counts by the day of receipt** (Asia/Shanghai), not by the
//! year of the entry or of the approval: a load approved in December and received in January
//! belongs to January's year. **An entry that serves several source provinces from one shared
//! quota** is not split between them (the agreement gives no split, and any split would invent
//! one): its whole quota stands beside each source it serves, in a column of its own
//! (`shared_listed_g`), while `listed_g` holds only the quotas of entries listed for that one
//! source. Summing `listed_g` over sources therefore never counts a quota twice.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Asia::Shanghai;

/// The instants bounding a report year: from 1 January 00:00 to the next 1 January 00:00,
/// Asia/Shanghai, as UTC (`[from, to)`).
pub fn year_window(year: i32) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
    let start = |y: i32| {
        NaiveDate::from_ymd_opt(y, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .and_then(|t| Shanghai.from_local_datetime(&t).single())
            .map(|t| t.with_timezone(&Utc))
    };
    Some((start(year)?, start(year + 1)?))
}

/// What one operator received from one source province in one category, over the year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub operator_id: String,
    pub receiving_province: String,
    pub source_province: String,
    /// HWxx.
    pub category: String,
    /// Accepted at receipt.
    pub received_g: i64,
    /// Manifests received with a line of this category.
    pub manifests: i64,
}

/// One whitelist entry of the year, as the report sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub operator_id: String,
    pub receiving_province: String,
    /// Every source province the entry serves: one, or several sharing one quota.
    pub sources: Vec<String>,
    /// HWxx (of the code, when the entry lists a single code).
    pub category: String,
    /// The entry's quota as it stands (after any amendment by letter).
    pub quota_g: i64,
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub operator_id: String,
    pub receiving_province: String,
    pub source_province: String,
    pub category: String,
    /// Quotas of the entries listed for this source alone.
    pub listed_g: i64,
    /// Whole quotas of the entries this source shares with other sources.
    pub shared_listed_g: i64,
    pub received_g: i64,
    pub manifests: i64,
}

/// The report's lines, sorted by operator, category and source: one per operator × category ×
/// source province that either received something or was listed. `province` (a province-bound
/// reader's) keeps the lines where it is the source or the receiving province.
pub fn lines(received: Vec<Received>, listed: Vec<Listed>, province: Option<&str>) -> Vec<Line> {
    type Key = (String, String, String);
    let mut out: BTreeMap<Key, Line> = BTreeMap::new();
    let blank = |op: &str, recv: &str, src: &str, cat: &str| Line {
        operator_id: op.to_string(),
        receiving_province: recv.to_string(),
        source_province: src.to_string(),
        category: cat.to_string(),
        listed_g: 0,
        shared_listed_g: 0,
        received_g: 0,
        manifests: 0,
    };
    for r in received {
        let key = (r.operator_id.clone(), r.category.clone(), r.source_province.clone());
        let line = out
            .entry(key)
            .or_insert_with(|| blank(&r.operator_id, &r.receiving_province, &r.source_province, &r.category));
        line.received_g += r.received_g;
        line.manifests += r.manifests;
    }
    for e in listed {
        let shared = e.sources.len() > 1;
        for src in &e.sources {
            let key = (e.operator_id.clone(), e.category.clone(), src.clone());
            let line = out
                .entry(key)
                .or_insert_with(|| blank(&e.operator_id, &e.receiving_province, src, &e.category));
            if shared {
                line.shared_listed_g += e.quota_g;
            } else {
                line.listed_g += e.quota_g;
            }
        }
    }
    out.into_values()
        .filter(|l| province.is_none_or(|p| l.source_province == p || l.receiving_province == p))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn received(op: &str, src: &str, cat: &str, g: i64, n: i64) -> Received {
        Received {
            operator_id: op.into(),
            receiving_province: "510000".into(),
            source_province: src.into(),
            category: cat.into(),
            received_g: g,
            manifests: n,
        }
    }

    fn listed(op: &str, sources: &[&str], cat: &str, g: i64) -> Listed {
        Listed {
            operator_id: op.into(),
            receiving_province: "510000".into(),
            sources: sources.iter().map(|s| s.to_string()).collect(),
            category: cat.into(),
            quota_g: g,
        }
    }

    #[test]
    fn the_year_is_shanghais() {
        let (from, to) = year_window(2026).unwrap();
        assert_eq!(from.to_rfc3339(), "2025-12-31T16:00:00+00:00");
        assert_eq!(to.to_rfc3339(), "2026-12-31T16:00:00+00:00");
    }

    #[test]
    fn received_and_listed_meet_per_operator_category_and_source() {
        let l = lines(
            vec![
                received("op1", "500000", "HW08", 20_000, 1),
                received("op1", "500000", "HW49", 5_000, 2),
            ],
            vec![
                // Two entries of one category (a code and the category) add up.
                listed("op1", &["500000"], "HW08", 100_000),
                listed("op1", &["500000"], "HW08", 50_000),
                // Listed, nothing received.
                listed("op1", &["520000"], "HW08", 7_000),
            ],
            None,
        );
        assert_eq!(l.len(), 3);
        assert_eq!(
            (
                l[0].source_province.as_str(),
                l[0].category.as_str(),
                l[0].listed_g,
                l[0].received_g,
                l[0].manifests
            ),
            ("500000", "HW08", 150_000, 20_000, 1)
        );
        assert_eq!(
            (l[1].source_province.as_str(), l[1].listed_g, l[1].received_g),
            ("520000", 7_000, 0)
        );
        // Received outside the list (the standard route): listed 0.
        assert_eq!(
            (l[2].category.as_str(), l[2].listed_g, l[2].received_g, l[2].manifests),
            ("HW49", 0, 5_000, 2)
        );
    }

    #[test]
    fn a_shared_quota_stands_whole_beside_each_source_and_is_never_summed_as_listed() {
        let l = lines(
            vec![],
            vec![
                listed("op1", &["500000", "520000", "530000"], "HW08", 90_000),
                listed("op1", &["500000"], "HW08", 10_000),
            ],
            None,
        );
        assert_eq!(l.len(), 3);
        assert!(l.iter().all(|x| x.shared_listed_g == 90_000));
        assert_eq!(l.iter().map(|x| x.listed_g).sum::<i64>(), 10_000);
    }

    #[test]
    fn a_province_sees_the_lines_it_is_part_of() {
        let l = lines(
            vec![
                received("op1", "500000", "HW08", 1, 1),
                received("op1", "520000", "HW08", 1, 1),
            ],
            vec![],
            Some("520000"),
        );
        assert_eq!(l.len(), 1);
        assert_eq!(l[0].source_province, "520000");
        // The receiving province sees both.
        let l = lines(
            vec![
                received("op1", "500000", "HW08", 1, 1),
                received("op1", "520000", "HW08", 1, 1),
            ],
            vec![],
            Some("510000"),
        );
        assert_eq!(l.len(), 2);
    }
}
