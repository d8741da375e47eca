//! Chinese working days: Monday–Friday, minus statutory holidays, plus the weekend days made
//! working days (调休) by the State Council's yearly notice. Dates are in Asia/Shanghai.
//!
//! For a year without a notice the holidays the law itself fixes are used (`domain::statutory`:
//! 元旦, 春节, 清明, 劳动节, 端午, 中秋, 国庆 from the lunisolar calendar, with modelled 补假), and
//! every answer that depends on it is flagged provisional, so deadlines can be shown as "to be
//! confirmed" and nothing irreversible happens on them until the notice is imported.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::LazyLock;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::Asia::Shanghai;
use serde::{Deserialize, Serialize};

use super::Invalid;

const HOLIDAYS_CSV: &str = include_str!("../../data/cn-holidays.csv");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DayKind {
    /// No work, including weekend days inside a holiday block.
    Holiday,
    /// A Saturday or Sunday made a working day (调休).
    Workday,
}

/// One listed day of a notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarDay {
    pub date: NaiveDate,
    pub kind: DayKind,
    pub name_zh: String,
    pub name_en: String,
}

/// One year's official notice: every listed holiday and make-up working day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YearCalendar {
    year: i32,
    /// Sorted by date, no duplicates.
    days: Vec<CalendarDay>,
}

fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

impl YearCalendar {
    /// Validates and builds; reports EVERY problem with the index of the day in `days`:
    /// date outside `year`; duplicate date; `workday` on a Monday–Friday; empty `name_zh`.
    #[allow(clippy::type_complexity)]
    pub fn new(year: i32, mut days: Vec<CalendarDay>) -> Result<Self, Vec<(usize, &'static str, Invalid)>> {
        let mut problems = Vec::new();
        let mut first_index: HashMap<NaiveDate, usize> = HashMap::new();
        for (i, day) in days.iter().enumerate() {
            if day.date.year() != year {
                problems.push((
                    i,
                    "date",
                    Invalid::new("calendar.wrong_year", format!("{} is not in {year}", day.date)),
                ));
            }
            if let Some(first) = first_index.get(&day.date) {
                problems.push((
                    i,
                    "date",
                    Invalid::new(
                        "calendar.duplicate_date",
                        format!("{} is already listed (entry {first})", day.date),
                    ),
                ));
            } else {
                first_index.insert(day.date, i);
            }
            if day.kind == DayKind::Workday && !is_weekend(day.date) {
                problems.push((
                    i,
                    "kind",
                    Invalid::new(
                        "calendar.workday_not_weekend",
                        format!(
                            "{} is a {}; only a Saturday or Sunday can be made a working day",
                            day.date,
                            day.date.weekday()
                        ),
                    ),
                ));
            }
            if day.name_zh.trim().is_empty() {
                problems.push((
                    i,
                    "name_zh",
                    Invalid::new("calendar.name_empty", "the Chinese name is empty"),
                ));
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        days.sort_by_key(|d| d.date);
        Ok(YearCalendar { year, days })
    }

    pub fn year(&self) -> i32 {
        self.year
    }

    pub fn days(&self) -> &[CalendarDay] {
        &self.days
    }
}

static EMBEDDED_YEARS: LazyLock<Vec<YearCalendar>> = LazyLock::new(|| match parse_embedded(HOLIDAYS_CSV) {
    Ok(years) => years,
    // Embedded at compile time and checked by the tests: a build defect.
    Err(e) => panic!("embedded data/cn-holidays.csv is invalid: {e}"),
});

fn parse_embedded(text: &str) -> Result<Vec<YearCalendar>, String> {
    let mut by_year: BTreeMap<i32, Vec<CalendarDay>> = BTreeMap::new();
    for row in csv::Reader::from_reader(text.as_bytes()).deserialize::<CalendarDay>() {
        let day = row.map_err(|e| e.to_string())?;
        by_year.entry(day.date.year()).or_default().push(day);
    }
    by_year
        .into_iter()
        .map(|(year, days)| YearCalendar::new(year, days).map_err(|p| format!("{year}: {p:?}")))
        .collect()
}

/// The embedded 2010–2026 data, grouped per year (parsed once).
pub fn embedded_years() -> &'static [YearCalendar] {
    &EMBEDDED_YEARS
}

static EMBEDDED_CALENDAR: LazyLock<WorkingDayCalendar> =
    LazyLock::new(|| WorkingDayCalendar::new(embedded_years().iter().cloned()));

/// A calendar of all embedded years (built once); convenience for callers without their own.
pub fn embedded_calendar() -> &'static WorkingDayCalendar {
    &EMBEDDED_CALENDAR
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct YearRules {
    holidays: BTreeSet<NaiveDate>,
    workdays: BTreeSet<NaiveDate>,
}

/// Working-day arithmetic over the years whose notices it was given.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WorkingDayCalendar {
    years: BTreeMap<i32, YearRules>,
}

/// A due date; `provisional` is true when any day counted lies in a year without data
/// (plain Monday–Friday rule used).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Due {
    pub date: NaiveDate,
    pub provisional: bool,
}

impl WorkingDayCalendar {
    /// Later years replace earlier ones of the same year (e.g. an amended notice).
    pub fn new(years: impl IntoIterator<Item = YearCalendar>) -> Self {
        let mut map = BTreeMap::new();
        for year in years {
            let mut rules = YearRules::default();
            for day in &year.days {
                match day.kind {
                    DayKind::Holiday => rules.holidays.insert(day.date),
                    DayKind::Workday => rules.workdays.insert(day.date),
                };
            }
            map.insert(year.year, rules);
        }
        WorkingDayCalendar { years: map }
    }

    pub fn has_year(&self, year: i32) -> bool {
        self.years.contains_key(&year)
    }

    /// Known years, ascending.
    pub fn years(&self) -> Vec<i32> {
        self.years.keys().copied().collect()
    }

    /// (is it a working day, is that answer provisional)
    pub fn is_working_day(&self, date: NaiveDate) -> (bool, bool) {
        match self.years.get(&date.year()) {
            Some(rules) if rules.workdays.contains(&date) => (true, false),
            Some(rules) if rules.holidays.contains(&date) => (false, false),
            Some(_) => (!is_weekend(date), false),
            // No notice yet: the days the law fixes (domain::statutory), provisionally.
            None => (
                !is_weekend(date) && !super::statutory::statutory_off(date.year()).contains(&date),
                true,
            ),
        }
    }

    /// The n-th working day after `from` (the start day excluded). `n = 0` returns `from`
    /// itself, not provisional. Any day examined in a year without data makes it provisional.
    pub fn add_working_days(&self, from: NaiveDate, n: u32) -> Due {
        let mut date = from;
        let mut provisional = false;
        let mut counted = 0;
        while counted < n {
            let Some(next) = date.succ_opt() else {
                // Past the last representable date: nothing sensible to count; flag it.
                return Due {
                    date,
                    provisional: true,
                };
            };
            date = next;
            let (working, guessed) = self.is_working_day(date);
            provisional |= guessed;
            if working {
                counted += 1;
            }
        }
        Due { date, provisional }
    }

    /// Working days strictly after `from` up to and including `to` (0 if `to <= from`),
    /// with the provisional flag. Used for "working days left".
    pub fn working_days_between(&self, from: NaiveDate, to: NaiveDate) -> (u32, bool) {
        let mut count = 0;
        let mut provisional = false;
        for date in from.iter_days().skip(1).take_while(|d| *d <= to) {
            let (working, guessed) = self.is_working_day(date);
            provisional |= guessed;
            if working {
                count += 1;
            }
        }
        (count, provisional)
    }
}

/// The instant a deadline falls due: `date` at `office_close` (e.g. 17:30; 23:59:59 for
/// "end of its day") in Asia/Shanghai, as UTC.
pub fn deadline_instant(date: NaiveDate, office_close: NaiveTime) -> DateTime<Utc> {
    let local = date.and_time(office_close);
    // Shanghai has had no DST since 1991; for the odd gap before that, fall back to UTC+8.
    Shanghai
        .from_local_datetime(&local)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(|| Utc.from_utc_datetime(&(local - Duration::hours(8))))
}

/// A date as clients write it: `YYYY-MM-DD`, years 2000 to 2100.
pub fn parse_date(s: &str) -> Result<NaiveDate, Invalid> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .filter(|d| (2000..=2100).contains(&d.year()) && s.len() == 10)
        .ok_or_else(|| Invalid::new("date.format", "must be a date YYYY-MM-DD between 2000 and 2100"))
}

/// [`parse_date`] as a regular expression for the published contract, beside `format: date`
/// (which rules out 2026-02-30). A test holds the two together.
pub const DATE_PATTERN: &str = "^(20[0-9]{2}|2100)-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$";

/// An instant as clients write it: RFC 3339 (`format: date-time`).
pub fn parse_instant(s: &str) -> Result<DateTime<Utc>, Invalid> {
    DateTime::parse_from_rfc3339(s)
        .map(|d| d.with_timezone(&Utc))
        .map_err(|_| Invalid::new("query.instant", "must be an RFC 3339 instant"))
}

/// A bound of a search: an instant (RFC 3339) or a day (YYYY-MM-DD, from 00:00 Asia/Shanghai).
pub fn parse_bound(s: &str) -> Result<DateTime<Utc>, Invalid> {
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Ok(d.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .and_then(|t| t.and_local_timezone(Shanghai).single())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| Invalid::new("query.instant", "an RFC 3339 instant or a date YYYY-MM-DD"))
}

/// Today's date in Asia/Shanghai for a UTC instant.
pub fn shanghai_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&Shanghai).date_naive()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    fn cal() -> &'static WorkingDayCalendar {
        embedded_calendar()
    }

    fn day(date: NaiveDate, kind: DayKind, name_zh: &str) -> CalendarDay {
        CalendarDay {
            date,
            kind,
            name_zh: name_zh.into(),
            name_en: "x".into(),
        }
    }

    #[test]
    fn embedded_years_2010_to_2026() {
        let years: Vec<i32> = embedded_years().iter().map(YearCalendar::year).collect();
        assert_eq!(years, (2010..=2026).collect::<Vec<_>>());
        assert_eq!(cal().years(), years);
        assert!(cal().has_year(2026));
        assert!(!cal().has_year(2027));
        let rows: usize = embedded_years().iter().map(|y| y.days().len()).sum();
        assert_eq!(rows, 583);
        for y in embedded_years() {
            assert!(y.days().windows(2).all(|w| w[0].date < w[1].date));
        }
    }

    #[test]
    fn known_vectors() {
        let due = cal().add_working_days(ymd(2025, 9, 26), 5);
        assert_eq!(
            due,
            Due {
                date: ymd(2025, 10, 10),
                provisional: false
            }
        );
        let due = cal().add_working_days(ymd(2025, 1, 24), 5);
        assert_eq!(
            due,
            Due {
                date: ymd(2025, 2, 7),
                provisional: false
            }
        );
        let due = cal().add_working_days(ymd(2026, 2, 13), 10);
        assert_eq!(
            due,
            Due {
                date: ymd(2026, 3, 5),
                provisional: false
            }
        );
    }

    #[test]
    fn zero_days_is_the_start_day() {
        let due = cal().add_working_days(ymd(2025, 10, 1), 0);
        assert_eq!(
            due,
            Due {
                date: ymd(2025, 10, 1),
                provisional: false
            }
        );
        let due = cal().add_working_days(ymd(2030, 1, 1), 0);
        assert_eq!(
            due,
            Due {
                date: ymd(2030, 1, 1),
                provisional: false
            }
        );
    }

    #[test]
    fn make_up_workdays_2024_to_2026() {
        let expected = [
            ymd(2024, 2, 4),
            ymd(2024, 2, 18),
            ymd(2024, 4, 7),
            ymd(2024, 4, 28),
            ymd(2024, 5, 11),
            ymd(2024, 9, 14),
            ymd(2024, 9, 29),
            ymd(2024, 10, 12),
            ymd(2025, 1, 26),
            ymd(2025, 2, 8),
            ymd(2025, 4, 27),
            ymd(2025, 9, 28),
            ymd(2025, 10, 11),
            ymd(2026, 1, 4),
            ymd(2026, 2, 14),
            ymd(2026, 2, 28),
            ymd(2026, 5, 9),
            ymd(2026, 9, 20),
            ymd(2026, 10, 10),
        ];
        let in_data: Vec<NaiveDate> = embedded_years()
            .iter()
            .filter(|y| (2024..=2026).contains(&y.year()))
            .flat_map(|y| y.days())
            .filter(|d| d.kind == DayKind::Workday)
            .map(|d| d.date)
            .collect();
        assert_eq!(in_data, expected);
        for date in expected {
            assert!(is_weekend(date), "{date}");
            assert_eq!(cal().is_working_day(date), (true, false), "{date}");
        }
    }

    #[test]
    fn every_listed_day_is_honoured() {
        for y in embedded_years() {
            for d in y.days() {
                let expected = d.kind == DayKind::Workday;
                assert_eq!(cal().is_working_day(d.date), (expected, false), "{}", d.date);
            }
        }
    }

    #[test]
    fn national_day_2025_is_off() {
        for d in 1..=7 {
            assert_eq!(cal().is_working_day(ymd(2025, 10, d)), (false, false), "10-{d}");
        }
        // An ordinary weekend and weekday.
        assert_eq!(cal().is_working_day(ymd(2025, 10, 18)), (false, false));
        assert_eq!(cal().is_working_day(ymd(2025, 10, 20)), (true, false));
    }

    #[test]
    fn year_without_data_uses_plain_rule_provisionally() {
        let due = cal().add_working_days(ymd(2027, 3, 1), 5);
        assert_eq!(
            due,
            Due {
                date: ymd(2027, 3, 8),
                provisional: true
            }
        );
        assert_eq!(cal().is_working_day(ymd(2027, 3, 6)), (false, true));
        assert_eq!(cal().is_working_day(ymd(2027, 3, 5)), (true, true));
    }

    #[test]
    fn crossing_into_unknown_year_is_provisional() {
        let due = cal().add_working_days(ymd(2026, 12, 30), 5);
        assert!(due.provisional);
        // 2027-01-01 (元旦) is off by law, notice or not.
        assert_eq!(due.date, ymd(2027, 1, 7));
        // Counting that stays inside 2026 is firm.
        let due = cal().add_working_days(ymd(2026, 12, 1), 5);
        assert_eq!(
            due,
            Due {
                date: ymd(2026, 12, 8),
                provisional: false
            }
        );
    }

    #[test]
    fn counts_working_days_between() {
        assert_eq!(
            cal().working_days_between(ymd(2025, 9, 26), ymd(2025, 10, 10)),
            (5, false)
        );
        assert_eq!(
            cal().working_days_between(ymd(2026, 2, 13), ymd(2026, 3, 5)),
            (10, false)
        );
        assert_eq!(
            cal().working_days_between(ymd(2025, 10, 10), ymd(2025, 10, 10)),
            (0, false)
        );
        assert_eq!(
            cal().working_days_between(ymd(2025, 10, 10), ymd(2025, 9, 1)),
            (0, false)
        );
        assert_eq!(cal().working_days_between(ymd(2027, 3, 1), ymd(2027, 3, 8)), (5, true));
        assert_eq!(
            cal().working_days_between(ymd(2026, 12, 30), ymd(2027, 1, 6)),
            (4, true)
        );
    }

    #[test]
    fn empty_calendar_is_all_provisional() {
        let empty = WorkingDayCalendar::default();
        assert!(empty.years().is_empty());
        let due = empty.add_working_days(ymd(2025, 9, 26), 5);
        // The law's days only: 国庆 1–3 October and 中秋 (6 October 2025); no 调休.
        assert_eq!(
            due,
            Due {
                date: ymd(2025, 10, 9),
                provisional: true
            }
        );
    }

    #[test]
    fn later_year_replaces_earlier() {
        let first = YearCalendar::new(2030, vec![day(ymd(2030, 1, 1), DayKind::Holiday, "元旦")]).unwrap();
        let second = YearCalendar::new(2030, vec![]).unwrap();
        let c = WorkingDayCalendar::new([first.clone()]);
        assert_eq!(c.is_working_day(ymd(2030, 1, 1)), (false, false));
        let c = WorkingDayCalendar::new([first, second]);
        assert_eq!(c.is_working_day(ymd(2030, 1, 1)), (true, false));
        assert_eq!(c.years(), vec![2030]);
    }

    #[test]
    fn year_calendar_sorts_days() {
        let y = YearCalendar::new(
            2030,
            vec![
                day(ymd(2030, 10, 1), DayKind::Holiday, "国庆节"),
                day(ymd(2030, 1, 1), DayKind::Holiday, "元旦"),
            ],
        )
        .unwrap();
        assert_eq!(y.year(), 2030);
        assert_eq!(y.days()[0].date, ymd(2030, 1, 1));
    }

    #[test]
    fn year_calendar_reports_every_problem() {
        let days = vec![
            day(ymd(2030, 1, 1), DayKind::Holiday, "元旦"),
            day(ymd(2029, 12, 31), DayKind::Holiday, "元旦"),
            day(ymd(2030, 1, 1), DayKind::Holiday, "元旦"),
            // 2030-01-07 is a Monday.
            day(ymd(2030, 1, 7), DayKind::Workday, "春节"),
            day(ymd(2030, 1, 5), DayKind::Workday, " "),
            // Several problems on one entry are all reported.
            day(ymd(2031, 1, 6), DayKind::Workday, ""),
        ];
        let problems = YearCalendar::new(2030, days).unwrap_err();
        let found: Vec<(usize, &str, &str)> = problems.iter().map(|(i, f, e)| (*i, *f, e.code)).collect();
        assert_eq!(
            found,
            vec![
                (1, "date", "calendar.wrong_year"),
                (2, "date", "calendar.duplicate_date"),
                (3, "kind", "calendar.workday_not_weekend"),
                (4, "name_zh", "calendar.name_empty"),
                (5, "date", "calendar.wrong_year"),
                (5, "kind", "calendar.workday_not_weekend"),
                (5, "name_zh", "calendar.name_empty"),
            ]
        );
    }

    #[test]
    fn deadline_is_office_close_in_shanghai() {
        let close = NaiveTime::from_hms_opt(17, 30, 0).unwrap();
        let at = deadline_instant(ymd(2025, 10, 10), close);
        assert_eq!(at.to_rfc3339(), "2025-10-10T09:30:00+00:00");
        let end = NaiveTime::from_hms_opt(23, 59, 59).unwrap();
        assert_eq!(
            deadline_instant(ymd(2025, 10, 10), end).to_rfc3339(),
            "2025-10-10T15:59:59+00:00"
        );
    }

    #[test]
    fn shanghai_date_is_utc_plus_8() {
        let at = |s: &str| DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc);
        assert_eq!(shanghai_date(at("2025-10-09T15:59:59Z")), ymd(2025, 10, 9));
        assert_eq!(shanghai_date(at("2025-10-09T16:00:00Z")), ymd(2025, 10, 10));
    }

    #[test]
    fn serde_day_kind_lowercase() {
        assert_eq!(serde_json::to_string(&DayKind::Workday).unwrap(), "\"workday\"");
        let d: CalendarDay = serde_json::from_str(
            r#"{"date":"2025-10-11","kind":"workday","name_zh":"国庆节","name_en":"National Day"}"#,
        )
        .unwrap();
        assert_eq!(d.kind, DayKind::Workday);
        assert!(serde_json::from_str::<DayKind>("\"Holiday\"").is_err());
    }
}
