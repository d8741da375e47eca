//! Rows of cells into proposals: the header, each cell parsed, every problem with its row and
//! column.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::Invalid;
use crate::domain::ids::{ProvinceCode, Uscc};
use crate::domain::province::provinces;
use crate::domain::quantity::Quantity;
use crate::domain::whitelist::EntryScope;
use crate::service::error::{FieldProblem, Location};

use super::*;

/// One problem of the file: its row as a spreadsheet shows it, the column (its name in this
/// API, or its letter when the column has no header), a stable code and a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ImportProblem {
    pub row: u32,
    pub column: String,
    pub code: String,
    pub message: String,
}

impl ImportProblem {
    pub(super) fn new(row: u32, column: &str, invalid: &Invalid) -> Self {
        ImportProblem {
            row,
            column: column.to_string(),
            code: invalid.code.to_string(),
            message: invalid.message.clone(),
        }
    }

    pub(super) fn to_field_problem(&self) -> FieldProblem {
        let escape = |s: &str| s.replace('~', "~0").replace('/', "~1");
        FieldProblem::new(
            Location::Body,
            format!("/rows/{}/{}", self.row, escape(&self.column)),
            self.code.clone(),
            self.message.clone(),
        )
    }
}

/// A data row with every cell parsed that could be.
#[derive(Debug)]
pub(super) struct ParsedRow {
    pub(super) row: u32,
    pub(super) year: Option<i32>,
    pub(super) uscc: Option<Uscc>,
    pub(super) source: Option<ProvinceCode>,
    pub(super) scope: Option<EntryScope>,
    pub(super) quota: Option<Quantity>,
    pub(super) facility: Option<String>,
    pub(super) note: Option<String>,
}

/// Maps header cells to columns; every problem of the header row.
pub(super) fn read_header(header: &SheetRow) -> (HashMap<u32, Column>, Vec<ImportProblem>) {
    let mut map = HashMap::new();
    let mut problems = Vec::new();
    let expected: Vec<&str> = Column::ALL.iter().map(|c| c.name()).collect();
    for (index, value) in &header.cells {
        let letter = column_letters(*index);
        let text = match value {
            Ok(t) => t,
            Err(invalid) => {
                problems.push(ImportProblem::new(header.row, &letter, invalid));
                continue;
            }
        };
        match Column::from_header(text) {
            Some(col) if map.values().any(|c| *c == col) => problems.push(ImportProblem::new(
                header.row,
                col.name(),
                &Invalid::new(
                    "import.repeated_column",
                    format!("column {letter} repeats the column {}", col.name()),
                ),
            )),
            Some(col) => {
                map.insert(*index, col);
            }
            None => problems.push(ImportProblem::new(
                header.row,
                text,
                &Invalid::new(
                    "import.unknown_column",
                    format!(
                        "unknown column {letter} {text:?}; the columns are: {}",
                        expected.join(", ")
                    ),
                ),
            )),
        }
    }
    for col in Column::ALL.into_iter().filter(|c| c.required()) {
        if !map.values().any(|c| *c == col) {
            problems.push(ImportProblem::new(
                header.row,
                col.name(),
                &Invalid::new(
                    "import.missing_column",
                    format!("the header row has no column {}", col.name()),
                ),
            ));
        }
    }
    (map, problems)
}

pub(super) fn parse_year(s: &str) -> Result<i32, Invalid> {
    s.parse::<i32>()
        .ok()
        .filter(|y| (2000..=2100).contains(y))
        .ok_or_else(|| Invalid::new("entry.year", "year must be an integer such as 2026"))
}

/// A province code (500000) or its name (重庆市, 重庆, Chongqing).
pub(super) fn parse_province(s: &str) -> Result<ProvinceCode, Invalid> {
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return ProvinceCode::parse(s);
    }
    let lower = s.to_lowercase();
    provinces()
        .iter()
        .find(|p| {
            p.name_zh == s || p.name_en.to_lowercase() == lower || (s.chars().count() >= 2 && p.name_zh.starts_with(s))
        })
        .map(|p| p.code)
        .ok_or_else(|| {
            Invalid::new(
                "province.unknown",
                format!("{s:?} is neither a province code such as 500000 nor a province name such as 重庆市"),
            )
        })
}

pub(super) fn parse_text(s: &str, max: usize) -> Result<String, Invalid> {
    if s.chars().count() > max || s.chars().any(char::is_control) {
        return Err(Invalid::new(
            "import.text",
            format!("must be at most {max} characters without control characters"),
        ));
    }
    Ok(s.to_string())
}

/// The cells of one data row by column, reading each with every problem recorded.
struct RowReader<'a> {
    row: u32,
    raw: HashMap<Column, &'a str>,
    unreadable: HashSet<Column>,
    problems: &'a mut Vec<ImportProblem>,
}

impl RowReader<'_> {
    fn cell<T>(&mut self, col: Column, parse: impl FnOnce(&str) -> Result<T, Invalid>) -> Option<T> {
        let Some(text) = self.raw.get(&col) else {
            if col.required() && !self.unreadable.contains(&col) {
                self.problems.push(ImportProblem::new(
                    self.row,
                    col.name(),
                    &Invalid::new("import.required", "this cell is required"),
                ));
            }
            return None;
        };
        parse(text)
            .map_err(|invalid| self.problems.push(ImportProblem::new(self.row, col.name(), &invalid)))
            .ok()
    }
}

pub(super) fn parse_row(
    row: &SheetRow,
    columns: &HashMap<u32, Column>,
    problems: &mut Vec<ImportProblem>,
) -> ParsedRow {
    let mut raw = HashMap::new();
    let mut unreadable = HashSet::new();
    for (index, value) in &row.cells {
        let Some(col) = columns.get(index) else {
            problems.push(ImportProblem::new(
                row.row,
                &column_letters(*index),
                &Invalid::new("import.unnamed_column", "a value in a column without a header"),
            ));
            continue;
        };
        match value {
            Ok(text) => {
                raw.insert(*col, text.as_str());
            }
            Err(invalid) => {
                unreadable.insert(*col);
                problems.push(ImportProblem::new(row.row, col.name(), invalid));
            }
        }
    }
    let mut r = RowReader {
        row: row.row,
        raw,
        unreadable,
        problems,
    };
    ParsedRow {
        row: row.row,
        year: r.cell(Column::Year, parse_year),
        uscc: r.cell(Column::OperatorUscc, Uscc::parse),
        source: r.cell(Column::SourceProvince, parse_province),
        scope: r.cell(Column::Scope, |s| EntryScope::parse(&s.to_ascii_uppercase())),
        quota: r.cell(Column::QuotaKg, Quantity::parse_kg),
        facility: r.cell(Column::Facility, |s| parse_text(s, 200)),
        note: r.cell(Column::Note, |s| parse_text(s, 1000)),
    }
}

/// The rows of the file parsed, or the problems that stop it before any database check.
pub(super) fn parse_rows(rows: Vec<SheetRow>) -> Result<(Vec<ParsedRow>, Vec<ImportProblem>), Vec<ImportProblem>> {
    let mut rows = rows.into_iter();
    let Some(header) = rows.next() else {
        return Err(vec![ImportProblem::new(
            1,
            "row",
            &Invalid::new("import.empty", "the file is empty; the first row must name the columns"),
        )]);
    };
    let (columns, header_problems) = read_header(&header);
    if !header_problems.is_empty() {
        return Err(header_problems);
    }
    let mut problems = Vec::new();
    let parsed: Vec<ParsedRow> = rows.map(|r| parse_row(&r, &columns, &mut problems)).collect();
    if parsed.is_empty() {
        return Err(vec![ImportProblem::new(
            header.row + 1,
            "row",
            &Invalid::new("import.no_rows", "the file has a header row but no entries"),
        )]);
    }
    Ok((parsed, problems))
}
