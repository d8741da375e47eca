//! Reading the catalogue's CSV files: an edition's code table and the successor mapping from the
//! previous edition, each with every problem at once.

use std::collections::{HashMap, HashSet};

use super::*;

/// A CSV text as the readers take it: without the byte-order mark spreadsheet exports start with
/// (it would hide the first column name), and with CRLF line ends (Windows files, browser forms)
/// as LF, so that the line numbers of problems are the lines a person sees.
fn plain_text(text: &str) -> String {
    text.strip_prefix('\u{feff}').unwrap_or(text).replace("\r\n", "\n")
}

/// One problem found while reading a catalogue file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowProblem {
    /// 1-based line number in the file where the record starts; the header is line 1.
    pub row: usize,
    /// Column name, when the problem belongs to one column.
    pub column: Option<String>,
    pub problem: Invalid,
}

pub(super) const COLUMNS: [&str; 6] = [
    "code",
    "category",
    "category_name",
    "industry_source",
    "description",
    "hazard",
];

/// Parses a catalogue CSV in the format of `data/hw-catalogue-2021.csv`. Reports EVERY
/// problem (bad code, category mismatch with code digits, unknown category, empty field,
/// bad hazard, duplicate code, inconsistent category name, missing header column), not
/// just the first. Columns are found by header name; extra columns (e.g.
/// `hazard_official`) are ignored.
pub fn parse_catalogue_csv(text: &str) -> Result<Vec<CatalogueEntry>, Vec<RowProblem>> {
    let report = read_catalogue_csv(text);
    if report.problems.is_empty() {
        Ok(report.entries)
    } else {
        Err(report.problems)
    }
}

/// What reading a catalogue file found: the rows that read well, every problem, and how many
/// data records the file has (good or not), which is what an admin's declared count is held to.
#[derive(Debug, Clone, Default)]
pub struct CatalogueReport {
    pub entries: Vec<CatalogueEntry>,
    pub problems: Vec<RowProblem>,
    pub records: usize,
    /// Every well-formed code the file lists, its row good or not.
    pub codes: HashSet<String>,
}

/// [`parse_catalogue_csv`], keeping the good rows and the number of records beside the problems.
pub fn read_catalogue_csv(text: &str) -> CatalogueReport {
    let text = &plain_text(text);
    let mut records = 0usize;
    let mut codes = HashSet::new();
    let mut problems = Vec::new();
    let mut report = |row: usize, column: Option<&str>, problem: Invalid| {
        problems.push(RowProblem {
            row,
            column: column.map(str::to_owned),
            problem,
        });
    };

    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(text.as_bytes());
    let header = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            report(1, None, Invalid::new("catalogue.csv", e.to_string()));
            return CatalogueReport {
                problems,
                ..CatalogueReport::default()
            };
        }
    };
    let mut index: HashMap<&str, usize> = HashMap::new();
    for column in COLUMNS {
        match header.iter().position(|h| h == column) {
            Some(i) => {
                index.insert(column, i);
            }
            None => report(
                1,
                Some(column),
                Invalid::new(
                    "catalogue.missing_column",
                    format!("the header has no column {column:?}"),
                ),
            ),
        }
    }

    let mut entries = Vec::new();
    let mut first_line_of: HashMap<String, usize> = HashMap::new();
    let mut category_names: HashMap<WasteCategory, (String, usize)> = HashMap::new();
    for record in reader.records() {
        records += 1;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                report(
                    usize::try_from(line).unwrap_or(usize::MAX),
                    None,
                    Invalid::new("catalogue.csv", e.to_string()),
                );
                continue;
            }
        };
        let line = record
            .position()
            .and_then(|p| usize::try_from(p.line()).ok())
            .unwrap_or(0);
        if record.len() != header.len() {
            report(
                line,
                None,
                Invalid::new(
                    "catalogue.field_count",
                    format!("the row has {} fields, the header has {}", record.len(), header.len()),
                ),
            );
        }
        // A column that is missing from the header was already reported once.
        let mut field = |column: &'static str| -> Option<String> {
            let i = *index.get(column)?;
            let value = record.get(i).unwrap_or("").trim();
            if value.is_empty() {
                report(
                    line,
                    Some(column),
                    Invalid::new("catalogue.empty_field", format!("{column} is empty")),
                );
                return None;
            }
            Some(value.to_owned())
        };
        let code_text = field("code");
        let category_text = field("category");
        let category_name = field("category_name");
        let industry_source = field("industry_source");
        let description = field("description");
        let hazard_text = field("hazard");

        let code = code_text.and_then(|s| match WasteCode::parse(&s) {
            Ok(c) => Some(c),
            Err(e) => {
                report(line, Some("code"), e);
                None
            }
        });
        let category = category_text.and_then(|s| match WasteCategory::parse(&s) {
            Ok(c) => Some(c),
            Err(e) => {
                report(line, Some("category"), e);
                None
            }
        });
        let hazards = hazard_text.and_then(|s| match Hazard::parse_list(&s) {
            Ok(h) => Some(h),
            Err(e) => {
                report(line, Some("hazard"), e);
                None
            }
        });
        if let (Some(code), Some(category)) = (&code, category)
            && code.category() != category
        {
            report(
                line,
                Some("category"),
                Invalid::new(
                    "catalogue.category_mismatch",
                    format!("code {code} belongs to {} but the row says {category}", code.category()),
                ),
            );
        }
        if let Some(code) = &code {
            codes.insert(code.as_str().to_owned());
            if let Some(first) = first_line_of.get(code.as_str()) {
                report(
                    line,
                    Some("code"),
                    Invalid::new(
                        "catalogue.duplicate_code",
                        format!("code {code} already appears on line {first}"),
                    ),
                );
            } else {
                first_line_of.insert(code.as_str().to_owned(), line);
            }
        }
        // A category has the name of the category list (data/hw-categories.csv), and one name
        // throughout the table.
        if let (Some(category), Some(name)) = (category, &category_name) {
            match (self::category_name(category), category_names.get(&category)) {
                (Some(listed), _) if listed != name => report(
                    line,
                    Some("category_name"),
                    Invalid::new(
                        "catalogue.category_name_mismatch",
                        format!("{category} is named {listed:?} in the category list, here {name:?}"),
                    ),
                ),
                (_, Some((known, first))) if known != name => report(
                    line,
                    Some("category_name"),
                    Invalid::new(
                        "catalogue.category_name_mismatch",
                        format!("{category} is named {known:?} on line {first}, here {name:?}"),
                    ),
                ),
                (_, Some(_)) => {}
                (_, None) => {
                    category_names.insert(category, (name.clone(), line));
                }
            }
        }
        if let (
            Some(code),
            Some(category),
            Some(category_name),
            Some(industry_source),
            Some(description),
            Some(hazards),
        ) = (code, category, category_name, industry_source, description, hazards)
        {
            entries.push(CatalogueEntry {
                code,
                category,
                category_name,
                industry_source,
                description,
                hazards,
            });
        }
    }
    if problems.is_empty() && entries.is_empty() {
        problems.push(RowProblem {
            row: 1,
            column: None,
            problem: Invalid::new("catalogue.empty", "the catalogue has no rows"),
        });
    }
    CatalogueReport {
        entries,
        problems,
        records,
        codes,
    }
}

/// One line of a successor mapping: the code of the previous edition and one code of the new
/// edition that takes its place. A split is several lines with one old code, a merge several
/// lines with one new code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Successor {
    /// 1-based line in the file (the header is line 1).
    pub row: usize,
    pub old_code: WasteCode,
    pub new_code: WasteCode,
}

/// Reads a successor mapping (`old_code,new_code`, a header line first), with every problem:
/// a missing column, a malformed code in either column, a line given twice.
pub fn parse_successors_csv(text: &str) -> Result<Vec<Successor>, Vec<RowProblem>> {
    let (lines, problems) = read_successors_csv(text);
    if problems.is_empty() { Ok(lines) } else { Err(problems) }
}

/// [`parse_successors_csv`], keeping the lines that read well beside the problems.
pub fn read_successors_csv(text: &str) -> (Vec<Successor>, Vec<RowProblem>) {
    let text = &plain_text(text);
    let mut problems = Vec::new();
    let mut report = |row: usize, column: Option<&str>, problem: Invalid| {
        problems.push(RowProblem {
            row,
            column: column.map(str::to_owned),
            problem,
        });
    };
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let header = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            report(1, None, Invalid::new("successors.csv", e.to_string()));
            return (Vec::new(), problems);
        }
    };
    let old_at = header.iter().position(|h| h == "old_code");
    let new_at = header.iter().position(|h| h == "new_code");
    for (column, at) in [("old_code", old_at), ("new_code", new_at)] {
        if at.is_none() {
            report(
                1,
                Some(column),
                Invalid::new(
                    "successors.missing_column",
                    format!("the header has no column {column:?} (expected old_code,new_code)"),
                ),
            );
        }
    }
    let (Some(old_at), Some(new_at)) = (old_at, new_at) else {
        return (Vec::new(), problems);
    };
    let mut out: Vec<Successor> = Vec::new();
    let mut first_line_of: HashMap<(String, String), usize> = HashMap::new();
    for record in reader.records() {
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                report(
                    usize::try_from(line).unwrap_or(usize::MAX),
                    None,
                    Invalid::new("successors.csv", e.to_string()),
                );
                continue;
            }
        };
        let line = record
            .position()
            .and_then(|p| usize::try_from(p.line()).ok())
            .unwrap_or(0);
        if record.iter().all(str::is_empty) {
            continue;
        }
        let mut code = |column: &str, at: usize| match WasteCode::parse(record.get(at).unwrap_or("")) {
            Ok(c) => Some(c),
            Err(e) => {
                report(line, Some(column), e);
                None
            }
        };
        let (Some(old_code), Some(new_code)) = (code("old_code", old_at), code("new_code", new_at)) else {
            continue;
        };
        let key = (old_code.as_str().to_owned(), new_code.as_str().to_owned());
        if let Some(first) = first_line_of.get(&key) {
            report(
                line,
                None,
                Invalid::new(
                    "successors.duplicate",
                    format!("{old_code} → {new_code} already appears on line {first}"),
                ),
            );
            continue;
        }
        first_line_of.insert(key, line);
        out.push(Successor {
            row: line,
            old_code,
            new_code,
        });
    }
    (out, problems)
}
