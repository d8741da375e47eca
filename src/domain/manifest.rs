//! The manifest's pure rules (部令第23号 第15–20条): when a trip may leave, the receipt clock
//! from arrival, the discrepancies the operator finds at receipt with its decision on each, and
//! the paper fallback's back-fill deadline.

use chrono::NaiveDate;

use super::Invalid;

/// Working days the operator has to confirm receipt, counted from arrival (第18条).
pub const RECEIPT_WORKING_DAYS: u32 = 5;

/// Working days to back-fill a trip made on a paper manifest, counted from the end of the
/// transfer (第20条).
pub const BACKFILL_WORKING_DAYS: u32 = 10;

/// What the operator found different from the manifest (第18条 names these five).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DiscrepancyKind {
    /// 名称
    Name,
    /// 数量
    Quantity,
    /// 特性
    Characteristics,
    /// 形态
    Form,
    /// 包装方式
    Packaging,
}

impl DiscrepancyKind {
    pub const ALL: [DiscrepancyKind; 5] = [
        DiscrepancyKind::Name,
        DiscrepancyKind::Quantity,
        DiscrepancyKind::Characteristics,
        DiscrepancyKind::Form,
        DiscrepancyKind::Packaging,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DiscrepancyKind::Name => "name",
            DiscrepancyKind::Quantity => "quantity",
            DiscrepancyKind::Characteristics => "characteristics",
            DiscrepancyKind::Form => "form",
            DiscrepancyKind::Packaging => "packaging",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        DiscrepancyKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                Invalid::new(
                    "manifest.discrepancy_kind",
                    "a discrepancy is of name, quantity, characteristics, form or packaging",
                )
            })
    }
}

/// The operator's decision on what it found: take the waste as found, or refuse it (the line
/// goes back, nothing of it is accepted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DiscrepancyDecision {
    Accept,
    Refuse,
}

impl DiscrepancyDecision {
    pub fn as_str(self) -> &'static str {
        match self {
            DiscrepancyDecision::Accept => "accept",
            DiscrepancyDecision::Refuse => "refuse",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        match s {
            "accept" => Ok(DiscrepancyDecision::Accept),
            "refuse" => Ok(DiscrepancyDecision::Refuse),
            _ => Err(Invalid::new(
                "manifest.discrepancy_decision",
                "the decision on a discrepancy is accept or refuse",
            )),
        }
    }
}

/// One discrepancy of a manifest line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Discrepancy {
    pub line: i32,
    pub kind: DiscrepancyKind,
    pub description: String,
    pub decision: DiscrepancyDecision,
}

/// A line of a manifest as the receipt meets it.
#[derive(Debug, Clone, Copy)]
pub struct ShippedLine {
    pub line: i32,
    pub shipped_g: i64,
}

/// A line is discrepant in quantity when accepted and shipped differ by more than `percent` of
/// shipped.
pub fn is_discrepant(shipped_g: i64, accepted_g: i64, percent: f64) -> bool {
    let diff = (accepted_g - shipped_g).abs() as f64;
    diff > shipped_g as f64 * percent / 100.0
}

/// Checks a receipt against the manifest's lines and gives the discrepancies to record: every
/// problem at once as (JSON pointer, problem), or the list. The rules:
/// - each line is confirmed exactly once, and only the manifest's lines;
/// - a discrepancy names a line of the manifest;
/// - more accepted than shipped needs a `quantity` discrepancy on that line saying why;
/// - a difference beyond `percent` needs a `quantity` discrepancy on that line, or the receipt's
///   note (then recorded as that line's quantity discrepancy, accepted);
/// - a line with a refused discrepancy accepts nothing (the refusal says why).
pub fn check_receipt(
    lines: &[ShippedLine],
    accepted: &[(i32, i64)],
    discrepancies: &[Discrepancy],
    note: Option<&str>,
    percent: f64,
) -> Result<Vec<Discrepancy>, Vec<(String, Invalid)>> {
    let mut problems = Vec::new();
    for (i, (line, _)) in accepted.iter().enumerate() {
        if !lines.iter().any(|l| l.line == *line) {
            problems.push((
                format!("/items/{i}/line"),
                Invalid::new("manifest.unknown_line", format!("the manifest has no line {line}")),
            ));
        }
    }
    for l in lines {
        let count = accepted.iter().filter(|(line, _)| *line == l.line).count();
        if count != 1 {
            problems.push((
                "/items".to_string(),
                Invalid::new(
                    "manifest.receipt_lines",
                    format!("line {} must be confirmed exactly once (found {count})", l.line),
                ),
            ));
        }
    }
    for (i, d) in discrepancies.iter().enumerate() {
        if !lines.iter().any(|l| l.line == d.line) {
            problems.push((
                format!("/discrepancies/{i}/line"),
                Invalid::new("manifest.unknown_line", format!("the manifest has no line {}", d.line)),
            ));
        }
    }
    let mut out: Vec<Discrepancy> = discrepancies.to_vec();
    let mut note_needed = false;
    for l in lines {
        let Some((i, (_, grams))) = accepted.iter().enumerate().find(|(_, (line, _))| *line == l.line) else {
            continue;
        };
        let on_line = |kind: Option<DiscrepancyKind>| {
            discrepancies
                .iter()
                .filter(|d| d.line == l.line && kind.is_none_or(|k| d.kind == k))
                .collect::<Vec<_>>()
        };
        let quantity = on_line(Some(DiscrepancyKind::Quantity));
        let refused = on_line(None).iter().any(|d| d.decision == DiscrepancyDecision::Refuse);
        if refused {
            // The refusal says why nothing of the line is accepted.
            if *grams > 0 {
                problems.push((
                    format!("/items/{i}/accepted_kg"),
                    Invalid::new(
                        "manifest.refused_line_accepted",
                        format!(
                            "line {} has a refused discrepancy: nothing of it is accepted (0)",
                            l.line
                        ),
                    ),
                ));
            }
        } else if *grams > l.shipped_g && quantity.is_empty() {
            problems.push((
                format!("/items/{i}/accepted_kg"),
                Invalid::new(
                    "manifest.accepted_over_shipped",
                    format!(
                        "more accepted than shipped on line {}: record a quantity discrepancy saying why",
                        l.line
                    ),
                ),
            ));
        } else if is_discrepant(l.shipped_g, *grams, percent) && quantity.is_empty() {
            match note {
                Some(n) => out.push(Discrepancy {
                    line: l.line,
                    kind: DiscrepancyKind::Quantity,
                    description: n.to_string(),
                    decision: DiscrepancyDecision::Accept,
                }),
                None => note_needed = true,
            }
        }
    }
    if note_needed {
        problems.push((
            "/note".to_string(),
            Invalid::new(
                "manifest.discrepancy_note_required",
                format!(
                    "an accepted quantity differs from the shipped one by more than {percent}%: record a quantity discrepancy or say why in a note"
                ),
            ),
        ));
    }
    if problems.is_empty() { Ok(out) } else { Err(problems) }
}

/// Why a trip may not leave on `departure`: before the day of the approval, or after its
/// validity (第15条: the manifest runs under an approval in force).
pub fn departure_problem(
    departure: NaiveDate,
    approved_on: Option<NaiveDate>,
    valid_until: NaiveDate,
) -> Option<Invalid> {
    if let Some(approved) = approved_on
        && departure < approved
    {
        return Some(Invalid::new(
            "manifest.departure_before_approval",
            format!("departure ({departure}) is before the approval ({approved})"),
        ));
    }
    (departure > valid_until).then(|| {
        Invalid::new(
            "manifest.departure_after_validity",
            format!("departure ({departure}) is after the approval's validity ({valid_until})"),
        )
    })
}

/// Why a paper trip's times do not hold: it ended before it left, or ends in the future.
pub fn paper_trip_problem(departure: NaiveDate, completed: NaiveDate, today: NaiveDate) -> Option<Invalid> {
    if completed < departure {
        Some(Invalid::new(
            "manifest.paper_completed_before_departure",
            "the paper trip cannot end before it left",
        ))
    } else if completed > today {
        Some(Invalid::new(
            "manifest.paper_not_completed",
            "only a completed paper trip is back-filled: its end is in the future",
        ))
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(line: i32, kind: DiscrepancyKind, decision: DiscrepancyDecision) -> Discrepancy {
        Discrepancy {
            line,
            kind,
            description: "桶身破损".into(),
            decision,
        }
    }

    fn codes(r: Result<Vec<Discrepancy>, Vec<(String, Invalid)>>) -> Vec<&'static str> {
        r.err().unwrap_or_default().into_iter().map(|(_, i)| i.code).collect()
    }

    const LINES: [ShippedLine; 2] = [
        ShippedLine {
            line: 0,
            shipped_g: 25_000,
        },
        ShippedLine {
            line: 1,
            shipped_g: 10_000,
        },
    ];

    #[test]
    fn accepted_above_shipped_needs_a_quantity_discrepancy() {
        use DiscrepancyDecision::*;
        use DiscrepancyKind::*;
        let acc = [(0, 26_000), (1, 10_000)];
        assert_eq!(
            codes(check_receipt(&LINES, &acc, &[], Some("多了"), 5.0)),
            vec!["manifest.accepted_over_shipped"]
        );
        // A packaging discrepancy does not say why there is more.
        assert_eq!(
            codes(check_receipt(&LINES, &acc, &[d(0, Packaging, Accept)], None, 5.0)),
            vec!["manifest.accepted_over_shipped"]
        );
        let ok = check_receipt(&LINES, &acc, &[d(0, Quantity, Accept)], None, 5.0).unwrap();
        assert_eq!(ok.len(), 1);
    }

    #[test]
    fn significant_difference_needs_a_discrepancy_or_a_note() {
        use DiscrepancyDecision::*;
        use DiscrepancyKind::*;
        let acc = [(0, 20_000), (1, 10_000)];
        assert_eq!(
            codes(check_receipt(&LINES, &acc, &[], None, 5.0)),
            vec!["manifest.discrepancy_note_required"]
        );
        // The note becomes the line's quantity discrepancy, accepted.
        let with_note = check_receipt(&LINES, &acc, &[], Some("桶内残留"), 5.0).unwrap();
        assert_eq!(
            with_note,
            vec![Discrepancy {
                line: 0,
                kind: Quantity,
                description: "桶内残留".into(),
                decision: Accept
            }]
        );
        assert!(check_receipt(&LINES, &acc, &[d(0, Quantity, Accept)], None, 5.0).is_ok());
        // Within the share: nothing needed.
        assert_eq!(
            check_receipt(&LINES, &[(0, 24_000), (1, 10_000)], &[], None, 5.0).unwrap(),
            vec![]
        );
    }

    #[test]
    fn every_kind_and_the_refusal_rule() {
        use DiscrepancyDecision::*;
        let all: Vec<_> = DiscrepancyKind::ALL.iter().map(|k| d(1, *k, Accept)).collect();
        assert_eq!(
            check_receipt(&LINES, &[(0, 25_000), (1, 10_000)], &all, None, 5.0)
                .unwrap()
                .len(),
            5
        );
        assert_eq!(DiscrepancyKind::parse("form").unwrap(), DiscrepancyKind::Form);
        assert!(DiscrepancyKind::parse("colour").is_err());
        // A refused line accepts nothing.
        let refused = [d(1, DiscrepancyKind::Form, Refuse)];
        assert_eq!(
            codes(check_receipt(&LINES, &[(0, 25_000), (1, 10_000)], &refused, None, 5.0)),
            vec!["manifest.refused_line_accepted"]
        );
        assert!(check_receipt(&LINES, &[(0, 25_000), (1, 0)], &refused, None, 5.0).is_ok());
        // A discrepancy on a line the manifest does not have; a line confirmed twice.
        assert_eq!(
            codes(check_receipt(
                &LINES,
                &[(0, 25_000), (0, 25_000), (1, 10_000)],
                &[d(7, DiscrepancyKind::Name, Accept)],
                None,
                5.0
            )),
            vec!["manifest.receipt_lines", "manifest.unknown_line"]
        );
    }

    #[test]
    fn departure_inside_the_approval() {
        let day = |m, d| NaiveDate::from_ymd_opt(2026, m, d).unwrap();
        let until = day(12, 31);
        assert_eq!(
            departure_problem(day(3, 1), Some(day(3, 2)), until).map(|i| i.code),
            Some("manifest.departure_before_approval")
        );
        assert_eq!(departure_problem(day(3, 2), Some(day(3, 2)), until), None);
        assert_eq!(departure_problem(until, Some(day(3, 2)), until), None);
        assert_eq!(
            departure_problem(day(12, 31).succ_opt().unwrap_or(until), Some(day(3, 2)), until).map(|i| i.code),
            Some("manifest.departure_after_validity")
        );
    }

    #[test]
    fn paper_trip_times() {
        let day = |m, d| NaiveDate::from_ymd_opt(2026, m, d).unwrap();
        assert!(paper_trip_problem(day(3, 1), day(3, 2), day(3, 5)).is_none());
        assert_eq!(
            paper_trip_problem(day(3, 2), day(3, 1), day(3, 5)).map(|i| i.code),
            Some("manifest.paper_completed_before_departure")
        );
        assert_eq!(
            paper_trip_problem(day(3, 1), day(3, 6), day(3, 5)).map(|i| i.code),
            Some("manifest.paper_not_completed")
        );
    }
}
