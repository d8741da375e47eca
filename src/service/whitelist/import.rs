//! Import of a year's agreed whitelist (the December letter) from a CSV or XLSX file: reading the
//! file, checking every row, and storing the rows as proposed entries (the use case of the API's
//! import and the web UI's upload form).
//!
//! The file is read whole, every row is checked like a single proposal (`whitelist::check_proposal`)
//! plus what only a file can get wrong (missing or unknown columns, unreadable cells, the same entry
//! twice), and every problem is reported with its row and column. Nothing is written unless every
//! row is valid; then all rows become proposed entries in one transaction.

use std::collections::{HashMap, HashSet};
use std::io::Cursor;

use calamine::{DataRef, Reader, Xlsx};
use chrono::{NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::auth::permission::require_role;
use crate::auth::principal::{Principal, Role};
use crate::db::registry::OperatorRow;
use crate::db::whitelist::{EntryFilter, EntryRow};
use crate::db::{self, DbConnection, DbResult};
use crate::domain::Invalid;
use crate::domain::calendar::shanghai_date;
use crate::domain::ids::{ProvinceCode, Uscc};
use crate::domain::province::provinces;
use crate::domain::quantity::Quantity;
use crate::domain::whitelist::EntryScope;
use crate::service::error::{Error, FieldProblem, Location};
use crate::service::whitelist::proposals::{EntryProposal, check_proposal};
use crate::state::AppState;

/// The largest file accepted.
pub const MAX_BYTES: usize = 10 * 1024 * 1024;
/// The most data rows one file may hold (a year's list has hundreds).
pub const MAX_ROWS: usize = 5_000;
/// Cells visited in a worksheet before it is refused (bounds the work a crafted file can cause).
const MAX_CELLS: usize = MAX_ROWS * 64;

pub const CSV_TYPE: &str = "text/csv";
pub const XLSX_TYPE: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

// ---------------------------------------------------------------------------------------------
// Columns

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Column {
    Year,
    OperatorUscc,
    SourceProvince,
    Scope,
    QuotaKg,
    Facility,
    Note,
}

impl Column {
    const ALL: [Column; 7] = [
        Column::Year,
        Column::OperatorUscc,
        Column::SourceProvince,
        Column::Scope,
        Column::QuotaKg,
        Column::Facility,
        Column::Note,
    ];

    fn name(self) -> &'static str {
        match self {
            Column::Year => "year",
            Column::OperatorUscc => "operator_uscc",
            Column::SourceProvince => "source_province",
            Column::Scope => "scope",
            Column::QuotaKg => "quota_kg",
            Column::Facility => "facility",
            Column::Note => "note",
        }
    }

    fn required(self) -> bool {
        !matches!(self, Column::Facility | Column::Note)
    }

    /// Accepted header texts besides the English name, in `normalize_header` form.
    fn aliases(self) -> &'static [&'static str] {
        match self {
            Column::Year => &["年度", "年份"],
            Column::OperatorUscc => &[
                "统一社会信用代码",
                "接受单位统一社会信用代码",
                "经营单位统一社会信用代码",
                "接受人统一社会信用代码",
            ],
            Column::SourceProvince => &["移出省份", "移出省", "移出地", "移出地省份"],
            Column::Scope => &[
                "废物代码",
                "危险废物代码",
                "废物类别",
                "废物代码或类别",
                "废物类别或代码",
                "废物类别/代码",
                "废物代码/类别",
            ],
            Column::QuotaKg => &["数量(千克)", "数量(kg)", "年度数量(千克)", "配额(千克)", "配额(kg)"],
            Column::Facility => &["设施", "利用处置设施", "处置设施"],
            Column::Note => &["备注"],
        }
    }

    fn from_header(text: &str) -> Option<Column> {
        let h = normalize_header(text);
        Column::ALL
            .into_iter()
            .find(|c| c.name() == h || c.aliases().contains(&h.as_str()))
    }

    /// The field names of `check_proposal` mapped to the file's columns.
    fn of_field(field: &str) -> &'static str {
        match field {
            "year" => Column::Year.name(),
            "operator_id" => Column::OperatorUscc.name(),
            "source_province" => Column::SourceProvince.name(),
            "scope" => Column::Scope.name(),
            "quota_kg" => Column::QuotaKg.name(),
            "facility" => Column::Facility.name(),
            "note" => Column::Note.name(),
            _ => "row",
        }
    }
}

/// Lower case, no spaces, full-width brackets as ASCII: `Quota_KG`, `数量（千克）` match.
fn normalize_header(text: &str) -> String {
    text.trim_start_matches('\u{feff}')
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| match c {
            '（' => '(',
            '）' => ')',
            '／' => '/',
            c => c.to_ascii_lowercase(),
        })
        .collect()
}

/// Spreadsheet column letters of a 0-based index: 0 → A, 26 → AA.
fn column_letters(mut index: u32) -> String {
    let mut out = Vec::new();
    loop {
        out.push(char::from(b'A' + (index % 26) as u8));
        if index < 26 {
            break;
        }
        index = index / 26 - 1;
    }
    out.iter().rev().collect()
}

// ---------------------------------------------------------------------------------------------
// Reading the file into rows of cells

/// A cell's text (trimmed), or why it cannot be read.
type CellValue = Result<String, Invalid>;

/// A row as a spreadsheet user numbers it (1-based) with its non-empty cells by 0-based column.
#[derive(Debug)]
struct SheetRow {
    row: u32,
    cells: Vec<(u32, CellValue)>,
}

#[derive(Debug)]
enum ReadError {
    /// The file cannot be read at all (400).
    Malformed(String),
    TooManyRows,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
}

/// Collects non-empty rows, refusing more than one header plus `MAX_ROWS`.
#[derive(Default)]
struct RowSink {
    rows: Vec<SheetRow>,
}

impl RowSink {
    fn push(&mut self, row: u32, cells: Vec<(u32, CellValue)>) -> Result<(), ReadError> {
        let cells: Vec<(u32, CellValue)> = cells
            .into_iter()
            .filter(|(_, v)| !matches!(v, Ok(s) if s.is_empty()))
            .collect();
        if cells.is_empty() {
            return Ok(());
        }
        if self.rows.len() > MAX_ROWS {
            return Err(ReadError::TooManyRows);
        }
        self.rows.push(SheetRow { row, cells });
        Ok(())
    }
}

fn read_file(format: Format, bytes: Vec<u8>) -> Result<Vec<SheetRow>, ReadError> {
    match format {
        Format::Csv => read_csv(&bytes),
        Format::Xlsx => read_xlsx(bytes),
    }
}

fn read_csv(bytes: &[u8]) -> Result<Vec<SheetRow>, ReadError> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()].iter().filter(|&&b| b == b'\n').count() + 1;
        ReadError::Malformed(format!(
            "the CSV file is not UTF-8 (line {line}); save it as \"CSV UTF-8\" or send the XLSX file"
        ))
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut sink = RowSink::default();
    // Line breaks inside quoted cells do not start a new spreadsheet row.
    let mut inner_breaks: u64 = 0;
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map(|p| p.line()).unwrap_or(0);
            ReadError::Malformed(format!("the CSV file cannot be read near line {line}"))
        })?;
        // The reader's position of a record after blank lines is the first blank line.
        let (mut line, start) = record.position().map(|p| (p.line(), p.byte())).unwrap_or((1, 0));
        let rest = usize::try_from(start)
            .ok()
            .and_then(|s| text.as_bytes().get(s..))
            .unwrap_or_default();
        for b in rest.iter().take_while(|b| matches!(b, b'\n' | b'\r')) {
            line += u64::from(*b == b'\n');
        }
        let row = u32::try_from(line.saturating_sub(inner_breaks)).unwrap_or(u32::MAX);
        inner_breaks += record.iter().map(|f| f.matches('\n').count() as u64).sum::<u64>();
        let cells = record
            .iter()
            .enumerate()
            .map(|(i, f)| (u32::try_from(i).unwrap_or(u32::MAX), Ok(f.trim().to_string())))
            .collect();
        sink.push(row, cells)?;
    }
    Ok(sink.rows)
}

fn xlsx_cell(value: &DataRef<'_>) -> CellValue {
    match value {
        DataRef::Empty => Ok(String::new()),
        DataRef::String(s) => Ok(s.trim().to_string()),
        DataRef::SharedString(s) => Ok(s.trim().to_string()),
        DataRef::Int(i) => Ok(i.to_string()),
        // Integers above 2^53 lose digits as spreadsheet numbers (a long code typed as a number).
        DataRef::Float(f) if f.abs() >= 1e15 => Err(Invalid::new(
            "cell.number_precision",
            "the number is too long for a spreadsheet number; format the cell as text",
        )),
        // Shortest round-trip form: 2026.0 → "2026", 12.5 → "12.5".
        DataRef::Float(f) => Ok(format!("{f}")),
        DataRef::DateTimeIso(s) | DataRef::DurationIso(s) => Ok(s.trim().to_string()),
        DataRef::Bool(_) => Err(Invalid::new("cell.type", "a TRUE/FALSE cell is not expected here")),
        DataRef::DateTime(_) => Err(Invalid::new(
            "cell.type",
            "a date cell is not expected here; format the cell as text or a plain number",
        )),
        DataRef::Error(e) => Err(Invalid::new(
            "cell.error",
            format!("the cell holds the spreadsheet error {e}"),
        )),
    }
}

fn read_xlsx(bytes: Vec<u8>) -> Result<Vec<SheetRow>, ReadError> {
    let unreadable = |_| ReadError::Malformed("the XLSX file cannot be read (is it a valid .xlsx workbook?)".into());
    let mut workbook: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).map_err(unreadable)?;
    let first = workbook
        .sheet_names()
        .first()
        .cloned()
        .ok_or_else(|| ReadError::Malformed("the XLSX file has no worksheet".into()))?;
    let mut reader = workbook.worksheet_cells_reader(&first).map_err(unreadable)?;
    let mut sink = RowSink::default();
    let mut current: Option<(u32, Vec<(u32, CellValue)>)> = None;
    let mut visited = 0usize;
    while let Some(cell) = reader.next_cell().map_err(unreadable)? {
        visited += 1;
        if visited > MAX_CELLS {
            return Err(ReadError::TooManyRows);
        }
        let (r, c) = cell.get_position();
        let value = xlsx_cell(cell.get_value());
        match &mut current {
            Some((row, cells)) if *row == r => cells.push((c, value)),
            _ => {
                if let Some((row, cells)) = current.take() {
                    sink.push(row.saturating_add(1), cells)?;
                }
                current = Some((r, vec![(c, value)]));
            }
        }
    }
    if let Some((row, cells)) = current {
        sink.push(row.saturating_add(1), cells)?;
    }
    Ok(sink.rows)
}

// ---------------------------------------------------------------------------------------------
// Rows into proposals

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
    fn new(row: u32, column: &str, invalid: &Invalid) -> Self {
        ImportProblem {
            row,
            column: column.to_string(),
            code: invalid.code.to_string(),
            message: invalid.message.clone(),
        }
    }

    fn to_field_problem(&self) -> FieldProblem {
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
struct ParsedRow {
    row: u32,
    year: Option<i32>,
    uscc: Option<Uscc>,
    source: Option<ProvinceCode>,
    scope: Option<EntryScope>,
    quota: Option<Quantity>,
    facility: Option<String>,
    note: Option<String>,
}

/// Maps header cells to columns; every problem of the header row.
fn read_header(header: &SheetRow) -> (HashMap<u32, Column>, Vec<ImportProblem>) {
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

fn parse_year(s: &str) -> Result<i32, Invalid> {
    s.parse::<i32>()
        .ok()
        .filter(|y| (2000..=2100).contains(y))
        .ok_or_else(|| Invalid::new("entry.year", "year must be an integer such as 2026"))
}

/// A province code (500000) or its name (重庆市, 重庆, Chongqing).
fn parse_province(s: &str) -> Result<ProvinceCode, Invalid> {
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

fn parse_text(s: &str, max: usize) -> Result<String, Invalid> {
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

fn parse_row(row: &SheetRow, columns: &HashMap<u32, Column>, problems: &mut Vec<ImportProblem>) -> ParsedRow {
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
fn parse_rows(rows: Vec<SheetRow>) -> Result<(Vec<ParsedRow>, Vec<ImportProblem>), Vec<ImportProblem>> {
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

// ---------------------------------------------------------------------------------------------
// Database checks and the write

/// Entries already stored for (year, operator, source): their scopes.
type ExistingKey = (i32, String, String);

struct Checker<'a> {
    who: &'a Principal,
    today: NaiveDate,
    operators: HashMap<String, Option<OperatorRow>>,
    existing: HashMap<ExistingKey, HashSet<String>>,
    /// (year, operator, source, scope) → the first row that has it.
    seen: HashMap<(i32, String, String, String), u32>,
}

impl Checker<'_> {
    fn operator(&mut self, conn: &mut DbConnection, uscc: &Uscc) -> DbResult<Option<OperatorRow>> {
        if let Some(found) = self.operators.get(uscc.as_str()) {
            return Ok(found.clone());
        }
        let found = db::registry::operator_by_uscc(conn, uscc.as_str())?;
        self.operators.insert(uscc.as_str().to_string(), found.clone());
        Ok(found)
    }

    fn stored_scopes(&mut self, conn: &mut DbConnection, key: &ExistingKey) -> DbResult<&HashSet<String>> {
        if !self.existing.contains_key(key) {
            let filter = EntryFilter {
                year: Some(key.0),
                operator_id: Some(key.1.clone()),
                source_province: Some(key.2.clone()),
                ..Default::default()
            };
            // One operator has at most ~520 scopes (codes and categories) per source and year.
            let scopes = db::whitelist::list_entries(conn, &filter, None, 1000)?
                .into_iter()
                .map(|e| e.scope)
                .collect();
            self.existing.insert(key.clone(), scopes);
        }
        Ok(&self.existing[key])
    }

    /// Checks one row; pushes its problems and returns the entry to insert when it has none.
    fn check(
        &mut self,
        conn: &mut DbConnection,
        r: ParsedRow,
        problems: &mut Vec<ImportProblem>,
    ) -> DbResult<Option<EntryRow>> {
        let before = problems.len();
        let operator = match &r.uscc {
            Some(uscc) => {
                let found = self.operator(conn, uscc)?;
                if found.is_none() {
                    problems.push(ImportProblem::new(
                        r.row,
                        Column::OperatorUscc.name(),
                        &Invalid::new(
                            "entry.unknown_operator",
                            format!("no operator with the unified social credit code {uscc} is registered"),
                        ),
                    ));
                }
                found
            }
            None => None,
        };
        let (Some(year), Some(operator), Some(source), Some(scope), Some(quota)) =
            (r.year, operator, r.source, r.scope, r.quota)
        else {
            return Ok(None);
        };
        let proposal = EntryProposal {
            year,
            operator_id: operator.id.clone(),
            source_province: source,
            scope,
            quota,
            facility: r.facility,
            note: r.note,
        };
        let entry = match check_proposal(conn, self.who, &proposal, self.today)? {
            Ok(entry) => Some(entry),
            Err(found) => {
                problems.extend(
                    found
                        .iter()
                        .map(|(f, i)| ImportProblem::new(r.row, Column::of_field(f), i)),
                );
                None
            }
        };
        let scope_key = proposal.scope.key();
        let key = (year, operator.id, source.as_str(), scope_key.clone());
        match self.seen.get(&key) {
            Some(first) => problems.push(ImportProblem::new(
                r.row,
                Column::Scope.name(),
                &Invalid::new(
                    "import.duplicate_row",
                    format!("row {first} already has this operator, source province, scope and year"),
                ),
            )),
            None => {
                self.seen.insert(key.clone(), r.row);
            }
        }
        let (year, operator_id, source, _) = key;
        if self
            .stored_scopes(conn, &(year, operator_id, source))?
            .contains(&scope_key)
        {
            problems.push(ImportProblem::new(
                r.row,
                Column::Scope.name(),
                &Invalid::new(
                    "entry.duplicate",
                    "an entry for this operator, source province, code or category and year already exists",
                ),
            ));
        }
        Ok(entry.filter(|_| problems.len() == before))
    }
}

enum Outcome {
    Problems(Vec<ImportProblem>),
    Valid(usize),
    Created(Vec<String>),
}

fn check_and_store(
    conn: &mut DbConnection,
    who: &Principal,
    rows: Vec<ParsedRow>,
    mut problems: Vec<ImportProblem>,
    dry_run: bool,
) -> DbResult<Outcome> {
    let mut checker = Checker {
        who,
        today: shanghai_date(Utc::now()),
        operators: HashMap::new(),
        existing: HashMap::new(),
        seen: HashMap::new(),
    };
    let count = rows.len();
    let mut entries = Vec::with_capacity(count);
    let mut row_numbers = Vec::with_capacity(count);
    for r in rows {
        let row = r.row;
        if let Some(entry) = checker.check(conn, r, &mut problems)? {
            entries.push(entry);
            row_numbers.push(row);
        }
    }
    if !problems.is_empty() {
        problems.sort_by_key(|p| p.row);
        return Ok(Outcome::Problems(problems));
    }
    if dry_run {
        return Ok(Outcome::Valid(count));
    }
    match db::whitelist::insert_entries(conn, &entries)? {
        Ok(()) => Ok(Outcome::Created(entries.into_iter().map(|e| e.id).collect())),
        // Someone stored the same entry between the check and the write: nothing was written.
        Err(index) => Ok(Outcome::Problems(vec![ImportProblem::new(
            row_numbers.get(index).copied().unwrap_or(0),
            Column::Scope.name(),
            &Invalid::new(
                "entry.duplicate",
                "an entry for this operator, source province, code or category and year already exists",
            ),
        )])),
    }
}

// ---------------------------------------------------------------------------------------------
// The handler

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
