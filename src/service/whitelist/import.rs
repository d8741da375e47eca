//! Import of a year's agreed whitelist (the December letter) from a CSV or XLSX file: reading the
//! file, checking every row, and storing the rows as proposed entries (the use case of the API's
//! import and the web UI's upload form).
//!
//! The file is read whole, every row is checked like a single proposal (`whitelist::check_proposal`)
//! plus what only a file can get wrong (missing or unknown columns, unreadable cells, the same entry
//! twice), and every problem is reported with its row and column. Nothing is written unless every
//! row is valid; then all rows become proposed entries in one transaction.

mod rows;
mod sheet;
mod store;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::permission::require_role;
use crate::auth::principal::{Principal, Role};
use crate::service::error::{Error, FieldProblem, Location};
use crate::state::AppState;

pub use rows::ImportProblem;
use rows::*;
pub use sheet::Format;
use sheet::*;
use store::*;

/// The largest file accepted.
pub const MAX_BYTES: usize = 10 * 1024 * 1024;
/// The most data rows one file may hold (a year's list has hundreds).
pub const MAX_ROWS: usize = 5_000;
/// Cells visited in a worksheet before it is refused (bounds the work a crafted file can cause).
const MAX_CELLS: usize = MAX_ROWS * 64;

pub const CSV_TYPE: &str = "text/csv";
pub const XLSX_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// What an import did (or, on a dry run, would do).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ImportSummary {
    pub dry_run: bool,
    /// Data rows in the file (blank rows not counted).
    pub rows: usize,
    /// True when every row is valid (always, in a 200 or 201 answer).
    pub valid: bool,
    /// Ids of the entries created, in file order; empty on a dry run.
    pub created: Vec<String>,
    /// Empty in a 200 or 201 answer: problems are answered as a 422 problem document.
    pub problems: Vec<ImportProblem>,
}

/// Why a file was not imported.
#[derive(Debug)]
pub enum ImportError {
    /// The file cannot be read as CSV (UTF-8) or XLSX at all.
    Unreadable(String),
    /// The file is larger than [`MAX_BYTES`].
    TooLarge,
    /// Refused: not the caller's to import, or rows with problems (every one, with pointers
    /// `/rows/{row}/{column}`), or the database is away.
    Refused(Error),
}

impl From<Error> for ImportError {
    fn from(e: Error) -> Self {
        ImportError::Refused(e)
    }
}

impl From<crate::db::DbError> for ImportError {
    fn from(e: crate::db::DbError) -> Self {
        ImportError::Refused(e.into())
    }
}

fn validation(problems: &[ImportProblem]) -> ImportError {
    ImportError::Refused(Error::Invalid(
        problems.iter().map(ImportProblem::to_field_problem).collect(),
    ))
}

/// Reads, checks and (unless a dry run) stores a whitelist file (regulators only). Nothing is
/// written when any row has a problem.
pub async fn import_file(
    state: &AppState,
    who: &Principal,
    format: Format,
    bytes: Vec<u8>,
    dry_run: bool,
) -> Result<ImportSummary, ImportError> {
    require_role(who, &[Role::Regulator]).map_err(Error::from)?;
    if bytes.len() > MAX_BYTES {
        return Err(ImportError::TooLarge);
    }
    let sheet = tokio::task::spawn_blocking(move || read_file(format, bytes))
        .await
        .map_err(Error::internal)?
        .map_err(|e| match e {
            ReadError::Malformed(detail) => ImportError::Unreadable(detail),
            ReadError::TooManyRows => ImportError::Refused(Error::Invalid(vec![FieldProblem::new(
                Location::Body,
                "/rows",
                "import.too_many_rows",
                format!("a file holds at most {MAX_ROWS} entries"),
            )])),
        })?;
    let (rows, problems) = parse_rows(sheet).map_err(|p| validation(&p))?;
    let count = rows.len();
    let principal = who.clone();
    let outcome = state
        .db
        .run(move |conn| check_and_store(conn, &principal, rows, problems, dry_run))
        .await?;
    match outcome {
        Outcome::Problems(problems) => {
            tracing::info!(by = %who.name, rows = count, problems = problems.len(), dry_run, "whitelist import refused");
            Err(validation(&problems))
        }
        Outcome::Valid(rows) => Ok(ImportSummary {
            dry_run: true,
            rows,
            valid: true,
            created: Vec::new(),
            problems: Vec::new(),
        }),
        Outcome::Created(ids) => {
            tracing::info!(by = %who.name, rows = count, "whitelist entries imported");
            Ok(ImportSummary {
                dry_run: false,
                rows: count,
                valid: true,
                created: ids,
                problems: Vec::new(),
            })
        }
    }
}

/// For the fuzz target (see `api::fuzzing`): reads and checks a file as the import does before it
/// touches the database.
pub fn read_and_parse(data: &[u8], xlsx: bool) {
    let format = if xlsx { Format::Xlsx } else { Format::Csv };
    if let Ok(sheet) = read_file(format, data.to_vec()) {
        let _ = parse_rows(sheet);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::ProvinceCode;
    use crate::domain::whitelist::EntryScope;

    #[test]
    fn column_letters_follow_spreadsheets() {
        assert_eq!(column_letters(0), "A");
        assert_eq!(column_letters(25), "Z");
        assert_eq!(column_letters(26), "AA");
        assert_eq!(column_letters(27), "AB");
        assert_eq!(column_letters(701), "ZZ");
        assert_eq!(column_letters(702), "AAA");
    }

    #[test]
    fn headers_accept_english_and_chinese() {
        assert_eq!(Column::from_header(" Quota_KG "), Some(Column::QuotaKg));
        assert_eq!(Column::from_header("数量（千克）"), Some(Column::QuotaKg));
        assert_eq!(Column::from_header("\u{feff}year"), Some(Column::Year));
        assert_eq!(Column::from_header("备注"), Some(Column::Note));
        assert_eq!(Column::from_header("quota"), None);
    }

    #[test]
    fn provinces_by_code_or_name() {
        assert_eq!(parse_province("500000"), Ok(ProvinceCode::CHONGQING));
        assert_eq!(parse_province("四川省"), Ok(ProvinceCode::SICHUAN));
        assert_eq!(parse_province("四川"), Ok(ProvinceCode::SICHUAN));
        assert!(parse_province("四").is_err());
        assert!(parse_province("500001").is_err());
    }

    #[test]
    fn csv_rows_are_numbered_as_a_spreadsheet_shows_them() {
        let text = "\u{feff}year,note\n2026,\"two\nlines\"\n\n2027,x\n,\n2028,y\n";
        let rows = read_csv(text.as_bytes()).unwrap();
        let numbers: Vec<u32> = rows.iter().map(|r| r.row).collect();
        // header 1, data 2 (two lines inside quotes), blank 3, data 4, empty cells 5, data 6.
        assert_eq!(numbers, vec![1, 2, 4, 6]);
        assert_eq!(rows[0].cells[0].1.as_deref(), Ok("year"));
        let crlf = read_csv(text.replace('\n', "\r\n").as_bytes()).unwrap();
        assert_eq!(crlf.iter().map(|r| r.row).collect::<Vec<_>>(), vec![1, 2, 4, 6]);
        let trailing = read_csv(b"year\n\n\n2026\n\n").unwrap();
        assert_eq!(trailing.iter().map(|r| r.row).collect::<Vec<_>>(), vec![1, 4]);
    }

    #[test]
    fn csv_must_be_utf8() {
        let bytes = b"year\n\xb0\xd7\n";
        assert!(matches!(read_csv(bytes), Err(ReadError::Malformed(m)) if m.contains("line 2")));
    }

    #[test]
    fn missing_and_unknown_columns_are_reported_on_the_header_row() {
        let rows = read_csv(b"year,operator_uscc,scope,quota,note\n2026,x,HW08,1,\n").unwrap();
        let problems = parse_rows(rows).unwrap_err();
        let got: Vec<(u32, &str, &str)> = problems
            .iter()
            .map(|p| (p.row, p.column.as_str(), p.code.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (1, "quota", "import.unknown_column"),
                (1, "source_province", "import.missing_column"),
                (1, "quota_kg", "import.missing_column"),
            ]
        );
    }

    #[test]
    fn cell_problems_carry_row_and_column() {
        let csv = "year,operator_uscc,source_province,scope,quota_kg\n\
                   2026,,500000,HW08,12.3456\n\
                   20x6,91500000MA0000001X,重庆,hw08,1,extra\n";
        let (parsed, problems) = parse_rows(read_csv(csv.as_bytes()).unwrap()).unwrap();
        assert_eq!(parsed.len(), 2);
        assert_eq!(parsed[1].scope, EntryScope::parse("HW08").ok());
        assert_eq!(parsed[1].source, Some(ProvinceCode::CHONGQING));
        let got: Vec<(u32, &str, &str)> = problems
            .iter()
            .map(|p| (p.row, p.column.as_str(), p.code.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                (2, "operator_uscc", "import.required"),
                (2, "quota_kg", "quantity.precision"),
                (3, "F", "import.unnamed_column"),
                (3, "year", "entry.year"),
                (3, "operator_uscc", "uscc.check"),
            ]
        );
    }
}
