//! Reading a whitelist file (CSV or XLSX) into rows of cells, and the columns it may have.

use std::io::Cursor;

use calamine::{DataRef, Reader, Xlsx};

use crate::domain::Invalid;

use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Column {
    Year,
    OperatorUscc,
    SourceProvince,
    Scope,
    QuotaKg,
    Facility,
    Note,
}

impl Column {
    pub(super) const ALL: [Column; 7] = [
        Column::Year,
        Column::OperatorUscc,
        Column::SourceProvince,
        Column::Scope,
        Column::QuotaKg,
        Column::Facility,
        Column::Note,
    ];

    pub(super) fn name(self) -> &'static str {
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

    pub(super) fn required(self) -> bool {
        !matches!(self, Column::Facility | Column::Note)
    }

    /// Accepted header texts besides the English name, in `normalize_header` form.
    pub(super) fn aliases(self) -> &'static [&'static str] {
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

    pub(super) fn from_header(text: &str) -> Option<Column> {
        let h = normalize_header(text);
        Column::ALL
            .into_iter()
            .find(|c| c.name() == h || c.aliases().contains(&h.as_str()))
    }

    /// The field names of `check_proposal` mapped to the file's columns.
    pub(super) fn of_field(field: &str) -> &'static str {
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
pub(super) fn normalize_header(text: &str) -> String {
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
pub(super) fn column_letters(mut index: u32) -> String {
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
pub(super) type CellValue = Result<String, Invalid>;

/// A row as a spreadsheet user numbers it (1-based) with its non-empty cells by 0-based column.
#[derive(Debug)]
pub(super) struct SheetRow {
    pub(super) row: u32,
    pub(super) cells: Vec<(u32, CellValue)>,
}

#[derive(Debug)]
pub(super) enum ReadError {
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

pub(super) fn read_file(format: Format, bytes: Vec<u8>) -> Result<Vec<SheetRow>, ReadError> {
    match format {
        Format::Csv => read_csv(&bytes),
        Format::Xlsx => read_xlsx(bytes),
    }
}

pub(super) fn read_csv(bytes: &[u8]) -> Result<Vec<SheetRow>, ReadError> {
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
