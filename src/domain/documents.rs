//! The documents of a case as 部令第23号 and 行政许可法 shape them: the numbers of the source
//! province's decisions (approval, 不予许可, 不予受理), the applicant's remedies stated on a
//! refusal, the consultation letter (商请函) and reply (复函) as the departments number them, and
//! the departments an approval is copied to (抄送).

use chrono::{Months, NaiveDate};
use serde::{Deserialize, Serialize};

use super::Invalid;

/// A numbered series of the source province's decision documents. Each runs without gaps per
/// source province and year.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Series {
    /// 准予转移 (第26条): 渝危转〔2026〕0001号.
    Approval,
    /// 不予许可 (第26条, 行政许可法 第38条): 渝危转不许〔2026〕0001号.
    NotPermitted,
    /// 不予受理 (行政许可法 第32条): 渝危转不受〔2026〕0001号.
    NotAccepted,
}

impl Series {
    pub fn as_str(self) -> &'static str {
        match self {
            Series::Approval => "approval",
            Series::NotPermitted => "not_permitted",
            Series::NotAccepted => "not_accepted",
        }
    }

    fn infix(self) -> &'static str {
        match self {
            Series::Approval => "危转",
            Series::NotPermitted => "危转不许",
            Series::NotAccepted => "危转不受",
        }
    }

    /// The document number: the province's one-character abbreviation, the series, the year in
    /// 〔〕 and a four-digit sequence.
    pub fn number(self, province_short: &str, year: i32, seq: i32) -> String {
        format!("{province_short}{}〔{year}〕{seq:04}号", self.infix())
    }
}

/// 行政复议法 第20条: an application for administrative review within 60 days of knowing of the
/// decision.
pub const REVIEW_DAYS: u64 = 60;
/// 行政诉讼法 第46条: a suit within 6 months of knowing of the decision.
pub const SUIT_MONTHS: u32 = 6;

/// The remedies a refusal states, with the last day of each counted from the day the decision
/// is served (on this system: the day it is issued; the day itself is not counted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Remedies {
    /// 行政复议: within [`REVIEW_DAYS`] days.
    pub review_days: u64,
    pub review_until: NaiveDate,
    /// 行政诉讼: within [`SUIT_MONTHS`] months.
    pub suit_months: u32,
    pub suit_until: NaiveDate,
}

pub fn remedies(served_on: NaiveDate) -> Remedies {
    Remedies {
        review_days: REVIEW_DAYS,
        review_until: served_on
            .checked_add_days(chrono::Days::new(REVIEW_DAYS))
            .unwrap_or(served_on),
        suit_months: SUIT_MONTHS,
        suit_until: served_on
            .checked_add_months(Months::new(SUIT_MONTHS))
            .unwrap_or(served_on),
    }
}

/// Which letter a decision carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LetterKind {
    /// 商请函: the source province asks the receiving province's opinion (第24条).
    Consultation,
    /// 复函: the receiving province's opinion (第25条).
    Reply,
}

impl LetterKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LetterKind::Consultation => "consultation",
            LetterKind::Reply => "reply",
        }
    }
}

/// The longest letter number (湘环固函〔2022〕73号 is 13 characters).
pub const LETTER_NUMBER_MAX: usize = 64;

/// A letter as a department numbered and dated it in its own document register. The system does
/// not number these: the register is the department's, shared with letters outside this system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Letter {
    pub number: String,
    pub date: NaiveDate,
}

impl Letter {
    /// Parses a letter as a party wrote it, with every problem as (field, problem).
    pub fn parse(number: &str, date: &str) -> Result<Letter, Vec<(&'static str, Invalid)>> {
        let mut problems = Vec::new();
        let number = match super::error::text(number, LETTER_NUMBER_MAX) {
            Ok(n) => Some(n),
            Err(_) => {
                problems.push((
                    "number",
                    Invalid::new(
                        "letter.number",
                        format!("the letter number is 1 to {LETTER_NUMBER_MAX} characters, e.g. 湘环固函〔2022〕73号"),
                    ),
                ));
                None
            }
        };
        let date = match NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) => {
                problems.push(("date", Invalid::new("letter.date", "the letter's date is YYYY-MM-DD")));
                None
            }
        };
        match (number, date) {
            (Some(number), Some(date)) if problems.is_empty() => Ok(Letter { number, date }),
            _ => Err(problems),
        }
    }

    /// A letter cannot be dated after the day it is recorded, nor before the step it answers
    /// started (a consultation letter before acceptance, a reply before the letter).
    pub fn check_date(&self, not_before: NaiveDate, today: NaiveDate) -> Result<(), Invalid> {
        if self.date > today {
            return Err(Invalid::new("letter.date_future", "the letter's date is after today"));
        }
        if self.date < not_before {
            return Err(Invalid::new(
                "letter.date_too_early",
                format!("the letter's date is before {not_before}, when the step it belongs to started"),
            ));
        }
        Ok(())
    }
}

/// A department an approval is copied to (抄送).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CopyRecipient {
    /// The source province's transport department (road transport of dangerous goods).
    SourceTransport,
    /// The receiving province's transport department.
    ReceivingTransport,
    /// The receiving province's ecology-environment department.
    ReceivingEnvironment,
}

impl CopyRecipient {
    pub const ALL: [CopyRecipient; 3] = [
        CopyRecipient::SourceTransport,
        CopyRecipient::ReceivingTransport,
        CopyRecipient::ReceivingEnvironment,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CopyRecipient::SourceTransport => "source_transport",
            CopyRecipient::ReceivingTransport => "receiving_transport",
            CopyRecipient::ReceivingEnvironment => "receiving_environment",
        }
    }

    /// Whether the department is of the receiving province (else of the source province).
    pub fn receiving(self) -> bool {
        !matches!(self, CopyRecipient::SourceTransport)
    }

    /// The department as the approval names it, from the province's name: the generic title of
    /// the competent department, not a guess at each province's current agency name.
    pub fn department(self, province_name: &str) -> String {
        match self {
            CopyRecipient::SourceTransport | CopyRecipient::ReceivingTransport => {
                format!("{province_name}交通运输主管部门")
            }
            CopyRecipient::ReceivingEnvironment => format!("{province_name}生态环境主管部门"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn each_series_has_its_own_number_form() {
        assert_eq!(Series::Approval.number("渝", 2026, 1), "渝危转〔2026〕0001号");
        assert_eq!(Series::NotPermitted.number("渝", 2026, 12), "渝危转不许〔2026〕0012号");
        assert_eq!(Series::NotAccepted.number("川", 2027, 3), "川危转不受〔2027〕0003号");
    }

    #[test]
    fn remedies_count_sixty_days_and_six_months() {
        let r = remedies(d("2026-12-03"));
        assert_eq!((r.review_days, r.review_until), (60, d("2027-02-01")));
        assert_eq!((r.suit_months, r.suit_until), (6, d("2027-06-03")));
        // The end of a shorter month is the last day.
        assert_eq!(remedies(d("2026-08-31")).suit_until, d("2027-02-28"));
    }

    #[test]
    fn letters_are_numbered_by_their_department_and_dated_sensibly() {
        let l = Letter::parse(" 湘环固函〔2022〕73号 ", "2026-12-01").unwrap();
        assert_eq!(l.number, "湘环固函〔2022〕73号");
        let e = Letter::parse("", "1 Dec").unwrap_err();
        assert_eq!(e.iter().map(|(f, _)| *f).collect::<Vec<_>>(), vec!["number", "date"]);
        assert!(Letter::parse(&"号".repeat(LETTER_NUMBER_MAX + 1), "2026-12-01").is_err());
        assert_eq!(
            l.check_date(d("2026-11-20"), d("2026-11-30")).unwrap_err().code,
            "letter.date_future"
        );
        assert_eq!(
            l.check_date(d("2026-12-02"), d("2026-12-03")).unwrap_err().code,
            "letter.date_too_early"
        );
        assert!(l.check_date(d("2026-12-01"), d("2026-12-01")).is_ok());
    }

    #[test]
    fn an_approval_is_copied_to_three_departments() {
        let names: Vec<String> = CopyRecipient::ALL
            .iter()
            .map(|r| r.department(if r.receiving() { "四川省" } else { "重庆市" }))
            .collect();
        assert_eq!(
            names,
            vec![
                "重庆市交通运输主管部门",
                "四川省交通运输主管部门",
                "四川省生态环境主管部门"
            ]
        );
    }
}
