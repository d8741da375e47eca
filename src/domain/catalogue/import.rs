//! An edition as an admin brings it (what they declare, its code table and its successor
//! mapping), checked with every problem at once.

use std::collections::HashSet;

use chrono::{Datelike, NaiveDate};

use super::*;

/// The part of an edition import a problem is about (in the order problems are listed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EditionPart {
    Edition,
    InForceFrom,
    CodeCount,
    Codes,
    Successors,
}

/// One problem of an edition import: the part, the line and column of a file when it is about
/// one, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EditionProblem {
    pub part: EditionPart,
    pub row: Option<usize>,
    pub column: Option<String>,
    pub problem: Invalid,
}

impl EditionProblem {
    fn of(part: EditionPart, problem: Invalid) -> Self {
        EditionProblem {
            part,
            row: None,
            column: None,
            problem,
        }
    }

    fn at_row(part: EditionPart, p: RowProblem) -> Self {
        EditionProblem {
            part,
            row: Some(p.row),
            column: p.column,
            problem: p.problem,
        }
    }
}

/// An edition as an admin brings it: what they declare, and the two files.
#[derive(Debug, Clone)]
pub struct EditionImport<'a> {
    pub edition: i32,
    pub in_force_from: NaiveDate,
    /// How many codes the admin says the table has.
    pub declared_count: usize,
    pub codes_csv: &'a str,
    pub successors_csv: Option<&'a str>,
}

/// The previous loaded edition (the latest loaded edition older than the one imported) and its
/// codes: what the successor mapping maps from.
#[derive(Debug, Clone)]
pub struct PreviousEdition {
    pub edition: i32,
    pub codes: HashSet<String>,
}

/// Checks an edition import and reads it. Every problem at once: each row of the code table
/// (code format, category from the last two digits, categories that exist, names of the category
/// list, duplicates, empty fields, hazards), the count the admin declared against the rows, the
/// law's facts for a known edition (its count and in-force date), the in-force date in the
/// edition's year, and each line of the mapping (codes well-formed, the old code in the previous
/// edition, the new code in this table, no line twice).
pub fn check_edition_import(
    import: &EditionImport<'_>,
    previous: Option<&PreviousEdition>,
) -> Result<(Vec<CatalogueEntry>, Vec<Successor>), Vec<EditionProblem>> {
    use EditionPart as P;
    let mut problems = Vec::new();
    if import.in_force_from.year() != import.edition {
        problems.push(EditionProblem::of(
            P::InForceFrom,
            Invalid::new(
                "catalogue.in_force_year",
                format!(
                    "an edition comes into force in its own year: {} is not in {}",
                    import.in_force_from, import.edition
                ),
            ),
        ));
    }
    if let Some(known) = known_edition(import.edition) {
        if import.in_force_from != known.in_force_from {
            problems.push(EditionProblem::of(
                P::InForceFrom,
                Invalid::new(
                    "catalogue.known_in_force",
                    format!(
                        "the {} edition ({}) is in force from {}, not {}",
                        known.edition, known.source, known.in_force_from, import.in_force_from
                    ),
                ),
            ));
        }
        if import.declared_count != known.code_count {
            problems.push(EditionProblem::of(
                P::CodeCount,
                Invalid::new(
                    "catalogue.known_count",
                    format!(
                        "the {} edition ({}) lists {} codes, not {}: load the official table as published",
                        known.edition, known.source, known.code_count, import.declared_count
                    ),
                ),
            ));
        }
    }
    let report = read_catalogue_csv(import.codes_csv);
    if report.records != import.declared_count {
        problems.push(EditionProblem::of(
            P::CodeCount,
            Invalid::new(
                "catalogue.count_mismatch",
                format!(
                    "the table has {} rows, but {} codes were declared",
                    report.records, import.declared_count
                ),
            ),
        ));
    }
    problems.extend(report.problems.into_iter().map(|p| EditionProblem::at_row(P::Codes, p)));
    let mut successors = Vec::new();
    if let Some(text) = import.successors_csv {
        let (list, found) = read_successors_csv(text);
        problems.extend(found.into_iter().map(|p| EditionProblem::at_row(P::Successors, p)));
        match previous {
            _ if list.is_empty() => {}
            None => problems.push(EditionProblem::of(
                P::Successors,
                Invalid::new(
                    "successors.no_previous_edition",
                    format!(
                        "no edition older than {} is loaded: there is nothing to map from",
                        import.edition
                    ),
                ),
            )),
            Some(prev) => {
                for s in &list {
                    let mut at = |column: &str, problem: Invalid| {
                        problems.push(EditionProblem {
                            part: P::Successors,
                            row: Some(s.row),
                            column: Some(column.to_owned()),
                            problem,
                        })
                    };
                    if !prev.codes.contains(s.old_code.as_str()) {
                        at(
                            "old_code",
                            Invalid::new(
                                "successors.old_code_unknown",
                                format!("{} is not in the {} edition", s.old_code, prev.edition),
                            ),
                        );
                    }
                    if !report.codes.contains(s.new_code.as_str()) {
                        at(
                            "new_code",
                            Invalid::new(
                                "successors.new_code_unknown",
                                format!("{} is not in the table of the {} edition", s.new_code, import.edition),
                            ),
                        );
                    }
                }
                successors = list;
            }
        }
    }
    // By part, then by line (stable: a line's problems keep their column order).
    problems.sort_by_key(|p| (p.part, p.row));
    if problems.is_empty() {
        Ok((report.entries, successors))
    } else {
        Err(problems)
    }
}
