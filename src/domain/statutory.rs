//! The holidays the law itself fixes, for a year whose State Council notice (放假安排) is not out
//! yet: 《全国年节及纪念日放假办法》 as revised in 2024 (in force 2025-01-01), 第二条:
//!
//! - 元旦 1 January (1 day);
//! - 春节 除夕 to 正月初三 (4 days);
//! - 清明节 the day of the 清明 solar term (1 day);
//! - 劳动节 1–2 May (2 days);
//! - 端午节 五月初五 (1 day);
//! - 中秋节 八月十五 (1 day);
//! - 国庆节 1–3 October (3 days).
//!
//! The lunar and solar-term dates come from the Chinese lunisolar calendar of `tyme4rs`, not from
//! astronomy written here; a test holds them against an independent table for 2010–2050.
//!
//! 补假: when a statutory day falls on a Saturday or Sunday, a weekday off is owed, and only the
//! notice says which. The model here takes the first weekday after that festival's block that is
//! not already off — what the notices have done for single days (元旦 2022 → 3 January, 2023 → 2
//! January). The notice's make-up working days (调休, weekends made working days to bridge a
//! block) are not law and are not guessed: a provisional year has none. Deadlines computed on
//! such a year are marked provisional, and nothing irreversible happens on them; the notice,
//! once imported, replaces all of this.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, LazyLock, RwLock};

use chrono::{Datelike, Duration, NaiveDate, Weekday};
use tyme4rs::tyme::lunar::LunarDay;
use tyme4rs::tyme::solar::{SolarDay, SolarTerm};

/// One day off the law fixes (or the 补假 the model owes for one on a weekend).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatutoryDay {
    pub date: NaiveDate,
    pub name_zh: &'static str,
    pub name_en: &'static str,
    /// A weekday off owed for a statutory day on a weekend (modelled, see the module text).
    pub in_lieu: bool,
}

fn solar(d: &SolarDay) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(
        i32::try_from(d.get_year()).ok()?,
        u32::try_from(d.get_month()).ok()?,
        u32::try_from(d.get_day()).ok()?,
    )
}

fn lunar(year: i32, month: isize, day: usize) -> Option<NaiveDate> {
    let d = LunarDay::new(year as isize, month, day).ok()?;
    solar(&d.get_solar_day())
}

/// The Gregorian dates of the lunar and solar-term festivals of `year`:
/// (除夕, 春节, 清明, 端午, 中秋). `None` outside the crate's range.
pub fn festival_dates(year: i32) -> Option<(NaiveDate, NaiveDate, NaiveDate, NaiveDate, NaiveDate)> {
    let chunjie = lunar(year, 1, 1)?;
    let chuxi = chunjie.pred_opt()?;
    let qingming = solar(&SolarTerm::new(year as isize, "清明").ok()?.get_solar_day())?;
    Some((chuxi, chunjie, qingming, lunar(year, 5, 5)?, lunar(year, 8, 15)?))
}

fn is_weekend(d: NaiveDate) -> bool {
    matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
}

/// Every day off the law fixes for `year`, with the 补假 the model owes, in date order. Empty
/// when the lunar calendar cannot say (outside the crate's range).
pub fn statutory_days(year: i32) -> Vec<StatutoryDay> {
    let Some((chuxi, _chunjie, qingming, duanwu, zhongqiu)) = festival_dates(year) else {
        return Vec::new();
    };
    let ymd = |m, d| NaiveDate::from_ymd_opt(year, m, d);
    // (name, English name, the festival's days); 除夕 may fall in the year before 春节's year
    // only in theory (it never does: 春节 is 21 January at the earliest).
    let blocks: Vec<(&'static str, &'static str, Vec<NaiveDate>)> = vec![
        ("元旦", "New Year's Day", ymd(1, 1).into_iter().collect()),
        (
            "春节",
            "Spring Festival",
            (0..4)
                .map(|i| chuxi + Duration::days(i))
                .filter(|d| d.year() == year)
                .collect(),
        ),
        ("清明节", "Qingming Festival", vec![qingming]),
        (
            "劳动节",
            "Labour Day",
            [ymd(5, 1), ymd(5, 2)].into_iter().flatten().collect(),
        ),
        ("端午节", "Dragon Boat Festival", vec![duanwu]),
        ("中秋节", "Mid-Autumn Festival", vec![zhongqiu]),
        (
            "国庆节",
            "National Day",
            [ymd(10, 1), ymd(10, 2), ymd(10, 3)].into_iter().flatten().collect(),
        ),
    ];
    // Every statutory day, so that no 补假 lands on another festival's day.
    let mut off: BTreeSet<NaiveDate> = blocks.iter().flat_map(|(_, _, days)| days.iter().copied()).collect();
    let mut taken: BTreeSet<NaiveDate> = BTreeSet::new();
    let mut out: Vec<StatutoryDay> = Vec::new();
    for (name_zh, name_en, days) in &blocks {
        // A weekday is owed for each day on a weekend, and for each day another festival
        // already takes (中秋 on 3 October 2028).
        let mut owed = 0;
        for d in days {
            if !taken.insert(*d) {
                owed += 1;
                continue;
            }
            if is_weekend(*d) {
                owed += 1;
            }
            out.push(StatutoryDay {
                date: *d,
                name_zh,
                name_en,
                in_lieu: false,
            });
        }
        let Some(last) = days.iter().max().copied() else {
            continue;
        };
        let mut candidate = last;
        for _ in 0..owed {
            loop {
                candidate += Duration::days(1);
                if !is_weekend(candidate) && !off.contains(&candidate) {
                    break;
                }
            }
            if candidate.year() != year {
                // Owed into the next year: the notice of that year decides; not guessed.
                break;
            }
            off.insert(candidate);
            taken.insert(candidate);
            out.push(StatutoryDay {
                date: candidate,
                name_zh,
                name_en,
                in_lieu: true,
            });
        }
    }
    out.sort_by_key(|d| d.date);
    out
}

/// The statutory days off of `year` as a set, computed once per year.
pub fn statutory_off(year: i32) -> Arc<BTreeSet<NaiveDate>> {
    static CACHE: LazyLock<RwLock<HashMap<i32, Arc<BTreeSet<NaiveDate>>>>> = LazyLock::new(Default::default);
    if let Some(found) = CACHE.read().ok().and_then(|c| c.get(&year).cloned()) {
        return found;
    }
    let set: Arc<BTreeSet<NaiveDate>> = Arc::new(statutory_days(year).into_iter().map(|d| d.date).collect());
    if let Ok(mut c) = CACHE.write() {
        c.insert(year, set.clone());
    }
    set
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn thirteen_statutory_days_a_year() {
        for year in 2025..=2050 {
            let days = statutory_days(year);
            // Thirteen statutory days; where two festivals share a date, a weekday is owed
            // instead, so at least thirteen days off in all (unless owed into the next year).
            let statutory = days.iter().filter(|d| !d.in_lieu).count();
            assert!((12..=13).contains(&statutory), "{year}");
            assert!(days.len() >= 13 || days.iter().any(|d| d.date.month() == 12), "{year}");
            // No date twice, every date in the year, every 补假 a weekday.
            let set: BTreeSet<_> = days.iter().map(|d| d.date).collect();
            assert_eq!(set.len(), days.len(), "{year}");
            assert!(days.iter().all(|d| d.date.year() == year));
            assert!(days.iter().filter(|d| d.in_lieu).all(|d| !is_weekend(d.date)));
        }
    }

    /// The lunar and solar-term dates against an independent table (lunar-python, cross-checked
    /// with lunardate; `tests/data/cn-lunar-festivals.csv`), every year 2010–2050.
    #[test]
    fn festival_dates_agree_with_an_independent_table() {
        let table = include_str!("../../tests/data/cn-lunar-festivals.csv");
        let mut years = 0;
        for line in table.lines().skip(1) {
            let cells: Vec<&str> = line.split(',').collect();
            let year: i32 = cells[0].parse().unwrap();
            let date = |i: usize| NaiveDate::parse_from_str(cells[i], "%Y-%m-%d").unwrap();
            let expected = (date(1), date(2), date(3), date(4), date(5));
            assert_eq!(festival_dates(year), Some(expected), "{year}");
            years += 1;
        }
        assert_eq!(years, 41);
    }

    /// Every day the law fixes lies in the holidays of the State Council's notices, 2010–2026
    /// (`data/cn-holidays.csv`): the days common to every version of the law before 2025
    /// (元旦, 正月初一–初二, 清明, 1 May, 端午, 中秋, 1–3 October), and all thirteen since.
    #[test]
    fn the_law_s_days_are_holidays_in_every_notice() {
        let notices = crate::domain::calendar::embedded_calendar();
        for year in 2010..=2026 {
            let (chuxi, chunjie, qingming, duanwu, zhongqiu) = festival_dates(year).unwrap();
            let mut law = vec![
                ymd(year, 1, 1),
                chunjie,
                chunjie + Duration::days(1),
                qingming,
                ymd(year, 5, 1),
                duanwu,
                zhongqiu,
                ymd(year, 10, 1),
                ymd(year, 10, 2),
                ymd(year, 10, 3),
            ];
            if year >= 2025 {
                law.extend([chuxi, chunjie + Duration::days(2), ymd(year, 5, 2)]);
                let statutory: BTreeSet<_> = statutory_days(year)
                    .iter()
                    .filter(|d| !d.in_lieu)
                    .map(|d| d.date)
                    .collect();
                assert_eq!(statutory, law.iter().copied().collect::<BTreeSet<_>>(), "{year}");
            }
            for d in law {
                assert_eq!(notices.is_working_day(d), (false, false), "{d} in the notice of {year}");
            }
        }
    }

    #[test]
    fn days_in_lieu_follow_the_block() {
        // 2022-01-01 was a Saturday: the notice gave Monday 3 January.
        let days = statutory_days(2022);
        assert!(
            days.iter()
                .any(|d| d.date == ymd(2022, 1, 3) && d.in_lieu && d.name_zh == "元旦")
        );
        // 2027-05-01 and 05-02 are a Saturday and a Sunday: two weekdays owed, Monday and Tuesday.
        let days = statutory_days(2027);
        let lieu: Vec<_> = days
            .iter()
            .filter(|d| d.in_lieu && d.name_zh == "劳动节")
            .map(|d| d.date)
            .collect();
        assert_eq!(lieu, vec![ymd(2027, 5, 3), ymd(2027, 5, 4)]);
        // 2028: 中秋 is 3 October, inside 国庆, and 1 October a Sunday: two weekdays owed.
        let days = statutory_days(2028);
        let lieu: Vec<_> = days
            .iter()
            .filter(|d| d.in_lieu && d.date.month() == 10)
            .map(|d| d.date)
            .collect();
        assert_eq!(lieu, vec![ymd(2028, 10, 4), ymd(2028, 10, 5)]);
    }
}
