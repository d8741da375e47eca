//! 国家危险废物名录 (National Catalogue of Hazardous Wastes), versioned by edition.
//!
//! Only the 2021 edition's table (部令第15号) is embedded; the 2025 edition (部令第36号, in force
//! 2025-01-01) is not available as data and is loaded by an admin at run time. What the law
//! published about each edition (its order, its in-force date, how many codes its table has) is a
//! legal fact kept here in [`KNOWN_EDITIONS`], so the service knows which edition *should* be in
//! force on a day even when its table is not loaded, and says so.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::Invalid;

const CATALOGUE_2021_CSV: &str = include_str!("../../data/hw-catalogue-2021.csv");
const CATEGORIES_CSV: &str = include_str!("../../data/hw-categories.csv");

/// Waste category HW01–HW40, HW45–HW50 (HW41–44 do not exist).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WasteCategory(u8);

impl WasteCategory {
    const fn exists(n: u8) -> bool {
        matches!(n, 1..=40 | 45..=50)
    }

    /// `"HW08"`: upper-case `HW` and exactly two digits.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let digits = s
            .strip_prefix("HW")
            .filter(|d| d.len() == 2 && d.bytes().all(|b| b.is_ascii_digit()));
        match digits.and_then(|d| d.parse::<u8>().ok()) {
            Some(n) => Self::from_number(n),
            None => Err(Invalid::new(
                "category.format",
                format!("waste category {s:?} must look like HW08"),
            )),
        }
    }

    pub fn from_number(n: u8) -> Result<Self, Invalid> {
        if Self::exists(n) {
            Ok(WasteCategory(n))
        } else {
            Err(Invalid::new(
                "category.unknown",
                format!("HW{n:02} is not a waste category (HW01–HW40 and HW45–HW50 exist)"),
            ))
        }
    }

    pub fn number(self) -> u8 {
        self.0
    }

    /// `"HW08"`.
    pub fn as_str(&self) -> String {
        format!("HW{:02}", self.0)
    }

    /// The 46 categories in order.
    pub fn all() -> impl Iterator<Item = WasteCategory> {
        (1..=50u8).filter(|&n| Self::exists(n)).map(WasteCategory)
    }
}

/// 8-digit waste code `NNN-NNN-NN`; the last two digits are its category. Membership of an
/// edition is checked against a [`CatalogueEdition`], not here.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WasteCode(String);

impl WasteCode {
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let b = s.as_bytes();
        let shape_ok = b.len() == 10
            && b.iter().enumerate().all(|(i, c)| match i {
                3 | 7 => *c == b'-',
                _ => c.is_ascii_digit(),
            });
        if !shape_ok {
            return Err(Invalid::new(
                "waste_code.format",
                format!("waste code {s:?} must look like 900-041-49"),
            ));
        }
        let n = (b[8] - b'0') * 10 + (b[9] - b'0');
        if !WasteCategory::exists(n) {
            return Err(Invalid::new(
                "waste_code.unknown_category",
                format!("waste code {s} ends in {n:02}, which is not a waste category"),
            ));
        }
        Ok(WasteCode(s.to_owned()))
    }

    pub fn category(&self) -> WasteCategory {
        // Validated in `parse`: the last two characters are digits of an existing category.
        let n = self.0.get(8..).and_then(|d| d.parse().ok()).unwrap_or(0);
        WasteCategory(n)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WasteCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HW{:02}", self.0)
    }
}

impl FromStr for WasteCategory {
    type Err = Invalid;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

serde_via_string!(WasteCategory);

impl fmt::Display for WasteCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for WasteCode {
    type Err = Invalid;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

serde_via_string!(WasteCode);

/// 危险特性: toxicity, corrosivity, ignitability, reactivity, infectivity. Declaration
/// order is the catalogue's canonical order T/C/I/R/In; serialized as `as_str()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Hazard {
    T,
    C,
    I,
    R,
    In,
}

impl Hazard {
    pub fn as_str(self) -> &'static str {
        match self {
            Hazard::T => "T",
            Hazard::C => "C",
            Hazard::I => "I",
            Hazard::R => "R",
            Hazard::In => "In",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        match s {
            "T" => Ok(Hazard::T),
            "C" => Ok(Hazard::C),
            "I" => Ok(Hazard::I),
            "R" => Ok(Hazard::R),
            "In" => Ok(Hazard::In),
            _ => Err(Invalid::new(
                "hazard.unknown",
                format!("{s:?} is not a hazard characteristic (T, C, I, R or In)"),
            )),
        }
    }

    /// Parses a `/`-joined list such as `"T/C/I"`; no repeats; result in canonical order.
    pub fn parse_list(s: &str) -> Result<Vec<Hazard>, Invalid> {
        let mut out = Vec::new();
        for part in s.split('/') {
            let h = Hazard::parse(part)?;
            if out.contains(&h) {
                return Err(Invalid::new(
                    "hazard.duplicate",
                    format!("hazard {h} is listed twice in {s:?}"),
                ));
            }
            out.push(h);
        }
        out.sort();
        Ok(out)
    }
}

impl fmt::Display for Hazard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Hazard {
    type Err = Invalid;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// One row of the catalogue's code table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueEntry {
    pub code: WasteCode,
    pub category: WasteCategory,
    /// 废物类别, e.g. 废矿物油与含矿物油废物.
    pub category_name: String,
    /// 行业来源, verbatim.
    pub industry_source: String,
    /// 危险废物 description, verbatim.
    pub description: String,
    /// Canonical order T/C/I/R/In, never empty.
    pub hazards: Vec<Hazard>,
}

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

const COLUMNS: [&str; 6] = [
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

/// One edition of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogueEdition {
    /// Year of the edition, e.g. 2021.
    pub edition: i32,
    pub in_force_from: NaiveDate,
    pub entries: Vec<CatalogueEntry>,
}

impl CatalogueEdition {
    pub fn contains(&self, code: &WasteCode) -> bool {
        self.entry(code).is_some()
    }

    pub fn entry(&self, code: &WasteCode) -> Option<&CatalogueEntry> {
        self.entries.iter().find(|e| &e.code == code)
    }

    pub fn count_by_category(&self) -> BTreeMap<WasteCategory, usize> {
        let mut counts = BTreeMap::new();
        for e in &self.entries {
            *counts.entry(e.category).or_insert(0) += 1;
        }
        counts
    }
}

const IN_FORCE_2021: NaiveDate = match NaiveDate::from_ymd_opt(2021, 1, 1) {
    Some(d) => d,
    None => panic!("invalid constant date"),
};

static EDITION_2021: LazyLock<CatalogueEdition> = LazyLock::new(|| {
    match parse_catalogue_csv(CATALOGUE_2021_CSV) {
        Ok(entries) => CatalogueEdition {
            edition: 2021,
            in_force_from: IN_FORCE_2021,
            entries,
        },
        // Embedded at compile time and checked by the tests: a build defect.
        Err(problems) => panic!("embedded hw-catalogue-2021.csv is invalid: {problems:?}"),
    }
});

/// The embedded 2021 edition (部令第15号, in force 2021-01-01), parsed once.
pub fn edition_2021() -> &'static CatalogueEdition {
    &EDITION_2021
}

/// A row of `hw-categories.csv`.
struct CategoryRow {
    name: String,
    code_count_2021: usize,
}

static CATEGORIES: LazyLock<BTreeMap<WasteCategory, CategoryRow>> =
    LazyLock::new(|| match parse_categories(CATEGORIES_CSV) {
        Ok(map) => map,
        Err(e) => panic!("embedded hw-categories.csv is invalid: {e}"),
    });

fn parse_categories(text: &str) -> Result<BTreeMap<WasteCategory, CategoryRow>, Invalid> {
    let bad = |what: String| Invalid::new("category.data", format!("hw-categories.csv: {what}"));
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().map_err(|e| bad(e.to_string()))?.clone();
    if header.iter().collect::<Vec<_>>() != ["category", "category_name", "code_count_2021"] {
        return Err(bad(format!("unexpected header {header:?}")));
    }
    let mut map = BTreeMap::new();
    for record in reader.records() {
        let record = record.map_err(|e| bad(e.to_string()))?;
        let category = WasteCategory::parse(record.get(0).unwrap_or(""))?;
        let name = record.get(1).unwrap_or("").to_owned();
        let code_count_2021 = record
            .get(2)
            .unwrap_or("")
            .parse()
            .map_err(|_| bad(format!("bad count for {category}")))?;
        if name.is_empty() {
            return Err(bad(format!("{category} has no name")));
        }
        let row = CategoryRow { name, code_count_2021 };
        if map.insert(category, row).is_some() {
            return Err(bad(format!("{category} listed twice")));
        }
    }
    Ok(map)
}

/// Category names from `data/hw-categories.csv`.
pub fn category_name(c: WasteCategory) -> Option<&'static str> {
    CATEGORIES.get(&c).map(|row| row.name.as_str())
}

/// Number of codes of category `c` in the 2021 edition, as listed in `data/hw-categories.csv`.
pub fn category_code_count_2021(c: WasteCategory) -> Option<usize> {
    CATEGORIES.get(&c).map(|row| row.code_count_2021)
}

/// Of several editions `(edition, in_force_from)`, the one in force on `date`: the latest
/// `in_force_from <= date` (ties: the higher edition). `None` if none is in force yet.
pub fn edition_in_force(editions: &[(i32, NaiveDate)], date: NaiveDate) -> Option<i32> {
    editions
        .iter()
        .filter(|(_, from)| *from <= date)
        .max_by_key(|(edition, from)| (*from, *edition))
        .map(|(edition, _)| *edition)
}

const fn ymd_const(y: i32, m: u32, d: u32) -> NaiveDate {
    match NaiveDate::from_ymd_opt(y, m, d) {
        Some(d) => d,
        None => panic!("invalid constant date"),
    }
}

/// An edition of the catalogue as the law published it. A legal fact (the order, the day it came
/// into force, the size of its table), not its code table: the tables are data that admins load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownEdition {
    pub edition: i32,
    pub in_force_from: NaiveDate,
    /// The order that published it.
    pub source: &'static str,
    /// How many codes its table (附表) lists.
    pub code_count: usize,
}

/// The editions of 国家危险废物名录 the service knows the law published, oldest first. A new
/// edition is added here when it is published (its table still comes in through the import).
pub const KNOWN_EDITIONS: [KnownEdition; 2] = [
    KnownEdition {
        edition: 2021,
        in_force_from: ymd_const(2021, 1, 1),
        source: "部令第15号",
        code_count: 467,
    },
    KnownEdition {
        edition: 2025,
        in_force_from: ymd_const(2025, 1, 1),
        source: "部令第36号",
        code_count: 470,
    },
];

/// What the law says about `edition`, if it is one the service knows.
pub fn known_edition(edition: i32) -> Option<&'static KnownEdition> {
    KNOWN_EDITIONS.iter().find(|k| k.edition == edition)
}

/// The edition the law has in force on `date`: the latest known edition in force on or before it.
pub fn edition_required_on(date: NaiveDate) -> Option<&'static KnownEdition> {
    KNOWN_EDITIONS
        .iter()
        .filter(|k| k.in_force_from <= date)
        .max_by_key(|k| (k.in_force_from, k.edition))
}

/// The edition in force on `date` when the edition the service would use (`used`, the latest
/// loaded edition in force then) is older than it: its table is not loaded, and `used` is a
/// repealed edition. `None` when `used` is the edition in force or a newer one.
pub fn edition_missing(used: i32, date: NaiveDate) -> Option<&'static KnownEdition> {
    edition_required_on(date).filter(|k| k.edition > used)
}

/// The day 2025 第6条 applies from: the 2025 edition's entry into force.
const TESTED_HAZARDOUS_FROM: NaiveDate = ymd_const(2025, 1, 1);

/// 2025 第6条: waste identified as hazardous by testing (危险特性鉴别) under no listed code takes
/// the code `900-000-NN`, NN its category. Such a code is accepted on or after 2025-01-01 whether
/// or not the loaded table lists it; before that day it is an ordinary code (and no edition lists it).
pub fn identified_by_testing(code: &WasteCode, date: NaiveDate) -> bool {
    date >= TESTED_HAZARDOUS_FROM && code.as_str().starts_with("900-000-")
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

/// The categories that exist (HW01–HW40, HW45–HW50) as a regular expression, for the published
/// contract; a test holds it to [`WasteCategory::parse`].
pub const WASTE_CATEGORY_PATTERN: &str = "^HW(0[1-9]|[1-3][0-9]|40|4[5-9]|50)$";

/// The shape of a waste code whose last two digits are a category, as [`WasteCode::parse`] reads
/// it (membership in an edition of the catalogue is checked separately, where it matters).
pub const WASTE_CODE_PATTERN: &str = "^[0-9]{3}-[0-9]{3}-(0[1-9]|[1-3][0-9]|40|4[5-9]|50)$";

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn category_parse_and_format() {
        let c = WasteCategory::parse("HW08").unwrap();
        assert_eq!(c.number(), 8);
        assert_eq!(c.as_str(), "HW08");
        assert_eq!(c.to_string(), "HW08");
        assert_eq!(WasteCategory::from_number(50).unwrap().as_str(), "HW50");
        assert_eq!(WasteCategory::all().count(), 46);
        assert_eq!(WasteCategory::all().next().unwrap().as_str(), "HW01");
        assert_eq!(WasteCategory::all().last().unwrap().as_str(), "HW50");
    }

    #[test]
    fn category_rejections() {
        for s in ["", "HW8", "HW008", "hw08", "08", "HW 8", "HWx8", "HW+8", "ＨＷ08"] {
            assert_eq!(WasteCategory::parse(s).unwrap_err().code, "category.format", "{s:?}");
        }
        for s in ["HW00", "HW41", "HW42", "HW43", "HW44", "HW51", "HW99"] {
            assert_eq!(WasteCategory::parse(s).unwrap_err().code, "category.unknown", "{s:?}");
        }
        assert_eq!(WasteCategory::from_number(0).unwrap_err().code, "category.unknown");
        assert_eq!(WasteCategory::from_number(41).unwrap_err().code, "category.unknown");
        assert_eq!(WasteCategory::from_number(255).unwrap_err().code, "category.unknown");
    }

    #[test]
    fn waste_code_parse() {
        let c = WasteCode::parse("900-041-49").unwrap();
        assert_eq!(c.as_str(), "900-041-49");
        assert_eq!(c.category().as_str(), "HW49");
        assert_eq!(c.to_string(), "900-041-49");
        assert_eq!(WasteCode::parse("841-001-01").unwrap().category().number(), 1);
    }

    #[test]
    fn waste_code_rejections() {
        for s in [
            "",
            "90004149",
            "900-041-4",
            "900-041-490",
            "900_041_49",
            " 900-041-49",
            "9OO-041-49",
            "900-041-4９",
            "900--41-49",
        ] {
            assert_eq!(WasteCode::parse(s).unwrap_err().code, "waste_code.format", "{s:?}");
        }
        for s in ["900-041-00", "900-041-41", "900-041-44", "900-041-51"] {
            assert_eq!(
                WasteCode::parse(s).unwrap_err().code,
                "waste_code.unknown_category",
                "{s:?}"
            );
        }
    }

    #[test]
    fn serde_as_strings() {
        let c = WasteCode::parse("900-041-49").unwrap();
        assert_eq!(serde_json::to_string(&c).unwrap(), "\"900-041-49\"");
        assert_eq!(serde_json::from_str::<WasteCode>("\"900-041-49\"").unwrap(), c);
        assert!(serde_json::from_str::<WasteCode>("\"900-041-41\"").is_err());
        let k = WasteCategory::parse("HW08").unwrap();
        assert_eq!(serde_json::to_string(&k).unwrap(), "\"HW08\"");
        assert_eq!(serde_json::from_str::<WasteCategory>("\"HW08\"").unwrap(), k);
        assert!(serde_json::from_str::<WasteCategory>("8").is_err());
        assert_eq!(serde_json::to_string(&Hazard::In).unwrap(), "\"In\"");
        assert_eq!(serde_json::from_str::<Hazard>("\"T\"").unwrap(), Hazard::T);
    }

    #[test]
    fn hazard_parse() {
        for h in [Hazard::T, Hazard::C, Hazard::I, Hazard::R, Hazard::In] {
            assert_eq!(Hazard::parse(h.as_str()).unwrap(), h);
        }
        for s in ["", "t", "IN", "X", "T/C"] {
            assert_eq!(Hazard::parse(s).unwrap_err().code, "hazard.unknown", "{s:?}");
        }
        assert_eq!(Hazard::parse_list("In/T").unwrap(), vec![Hazard::T, Hazard::In]);
        assert_eq!(Hazard::parse_list("T//C").unwrap_err().code, "hazard.unknown");
        assert_eq!(Hazard::parse_list("T/T").unwrap_err().code, "hazard.duplicate");
        assert_eq!(Hazard::parse_list("T，C").unwrap_err().code, "hazard.unknown");
    }

    #[test]
    fn edition_2021_has_467_codes_in_46_categories() {
        let ed = edition_2021();
        assert_eq!(ed.edition, 2021);
        assert_eq!(ed.in_force_from, ymd(2021, 1, 1));
        assert_eq!(ed.entries.len(), 467);
        let counts = ed.count_by_category();
        assert_eq!(counts.len(), 46);
        assert_eq!(
            counts.keys().copied().collect::<Vec<_>>(),
            WasteCategory::all().collect::<Vec<_>>()
        );
        for (cat, expected) in [
            ("HW01", 5),
            ("HW02", 20),
            ("HW08", 32),
            ("HW11", 85),
            ("HW48", 33),
            ("HW49", 11),
            ("HW50", 44),
        ] {
            assert_eq!(counts[&WasteCategory::parse(cat).unwrap()], expected, "{cat}");
        }
        // Per-category counts equal the code_count_2021 column, and the names agree.
        assert_eq!(CATEGORIES.len(), 46);
        for (cat, row) in CATEGORIES.iter() {
            assert_eq!(counts[cat], row.code_count_2021, "{cat}");
            assert_eq!(category_code_count_2021(*cat), Some(counts[cat]));
        }
        for e in &ed.entries {
            assert_eq!(Some(e.category_name.as_str()), category_name(e.category));
            assert_eq!(e.code.category(), e.category);
            assert!(!e.hazards.is_empty());
        }
    }

    #[test]
    fn edition_2021_lookups() {
        let ed = edition_2021();
        let c = WasteCode::parse("900-042-49").unwrap();
        assert!(ed.contains(&c));
        let entry = ed.entry(&c).unwrap();
        assert_eq!(
            entry.hazards,
            vec![Hazard::T, Hazard::C, Hazard::I, Hazard::R, Hazard::In]
        );
        assert_eq!(entry.category_name, "其他废物");
        let oil = ed.entry(&WasteCode::parse("900-249-08").unwrap()).unwrap();
        assert_eq!(oil.hazards, vec![Hazard::T, Hazard::I]);
        assert_eq!(oil.category_name, "废矿物油与含矿物油废物");
        // Well-formed but absent from the 2021 table.
        assert!(!ed.contains(&WasteCode::parse("900-999-08").unwrap()));
        // A quoted description with ASCII commas survives.
        assert!(ed.entries.iter().any(|e| e.description.contains("1,1,1-三氯乙烷")));
    }

    #[test]
    fn category_names() {
        assert_eq!(
            category_name(WasteCategory::parse("HW08").unwrap()),
            Some("废矿物油与含矿物油废物")
        );
        assert_eq!(category_name(WasteCategory::parse("HW50").unwrap()), Some("废催化剂"));
        for c in WasteCategory::all() {
            assert!(category_name(c).is_some(), "{c}");
        }
    }

    const HEADER: &str = "code,category,category_name,industry_source,description,hazard,hazard_official\n";

    #[test]
    fn parses_a_small_valid_file() {
        let text = format!(
            "{HEADER}900-041-49,HW49,其他废物,非特定行业,\"含有或沾染毒性,感染性危险废物的废弃的包装物\",T/In,T/In\n"
        );
        let entries = parse_catalogue_csv(&text).unwrap();
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].description, "含有或沾染毒性,感染性危险废物的废弃的包装物");
        assert_eq!(entries[0].hazards, vec![Hazard::T, Hazard::In]);
    }

    #[test]
    fn reports_every_problem_at_once() {
        let text = format!(
            "{HEADER}\
             900-041-49,HW49,其他废物,非特定行业,包装物,T/In,T/In\n\
             900-41-49,HW49,其他废物,非特定行业,坏代码,T,T\n\
             900-042-49,HW08,其他废物,非特定行业,类别不符,T,T\n\
             900-043-08,HW41,废矿物油与含矿物油废物,非特定行业,未知类别,T,T\n\
             900-044-49,HW49,其他废物,,,T,T\n\
             900-045-49,HW49,其他废物,非特定行业,坏特性,T/X,T\n\
             900-041-49,HW49,其他废物,非特定行业,重复,T,T\n\
             900-046-49,HW49,别的名字,非特定行业,名称不一,T,T\n\
             900-047-49,HW49,其他废物\n\
             \"900-048-49\",HW49,其他废物,非特定行业,\"跨\n行\",T,T\n\
             900-049-49,HW49,其他废物,非特定行业,跨行之后,,T\n"
        );
        let problems = parse_catalogue_csv(&text).unwrap_err();
        let found: Vec<(usize, Option<&str>, &str)> = problems
            .iter()
            .map(|p| (p.row, p.column.as_deref(), p.problem.code))
            .collect();
        let expected = vec![
            (3, Some("code"), "waste_code.format"),
            (4, Some("category"), "catalogue.category_mismatch"),
            // 其他废物 is HW49's name in the category list, not HW08's.
            (4, Some("category_name"), "catalogue.category_name_mismatch"),
            (5, Some("category"), "category.unknown"),
            (6, Some("industry_source"), "catalogue.empty_field"),
            (6, Some("description"), "catalogue.empty_field"),
            (7, Some("hazard"), "hazard.unknown"),
            (8, Some("code"), "catalogue.duplicate_code"),
            (9, Some("category_name"), "catalogue.category_name_mismatch"),
            (10, None, "catalogue.field_count"),
            (10, Some("industry_source"), "catalogue.empty_field"),
            (10, Some("description"), "catalogue.empty_field"),
            (10, Some("hazard"), "catalogue.empty_field"),
            // The quoted line break makes the next record start on line 13.
            (13, Some("hazard"), "catalogue.empty_field"),
        ];
        assert_eq!(found, expected);
        assert!(problems[7].problem.message.contains("line 2"), "{:?}", problems[7]);
    }

    #[test]
    fn lines_are_counted_as_seen_with_crlf_line_ends() {
        let text = format!("{HEADER}900-041-49,HW49,其他废物,非特定行业,包装物,T/In,T/In\n900-41-49,HW49,其他废物,非特定行业,坏代码,T,T\n")
            .replace('\n', "\r\n");
        assert_eq!(parse_catalogue_csv(&text).unwrap_err()[0].row, 3);
        let problems =
            parse_successors_csv("old_code,new_code\r\n900-041-49,900-901-49\r\n900-41-49,900-901-49\r\n").unwrap_err();
        assert_eq!(problems[0].row, 3);
    }

    #[test]
    fn accepts_a_byte_order_mark() {
        let text = format!("\u{feff}{HEADER}900-041-49,HW49,其他废物,非特定行业,包装物,T/In,T/In\n");
        assert_eq!(parse_catalogue_csv(&text).unwrap().len(), 1);
    }

    #[test]
    fn reports_missing_header_columns() {
        let text = "code,category,category_name,description\n900-041-49,HW49,其他废物,包装物\n";
        let problems = parse_catalogue_csv(text).unwrap_err();
        let found: Vec<(usize, Option<&str>, &str)> = problems
            .iter()
            .map(|p| (p.row, p.column.as_deref(), p.problem.code))
            .collect();
        assert_eq!(
            found,
            vec![
                (1, Some("industry_source"), "catalogue.missing_column"),
                (1, Some("hazard"), "catalogue.missing_column"),
            ]
        );
        assert_eq!(parse_catalogue_csv("").unwrap_err().len(), COLUMNS.len());
        assert_eq!(
            parse_catalogue_csv(HEADER).unwrap_err()[0].problem.code,
            "catalogue.empty"
        );
    }

    #[test]
    fn picks_edition_in_force() {
        let eds = [
            (2021, ymd(2021, 1, 1)),
            (2025, ymd(2025, 1, 1)),
            (2016, ymd(2016, 8, 1)),
        ];
        assert_eq!(edition_in_force(&eds, ymd(2020, 12, 31)), Some(2016));
        assert_eq!(edition_in_force(&eds, ymd(2021, 1, 1)), Some(2021));
        assert_eq!(edition_in_force(&eds, ymd(2024, 12, 31)), Some(2021));
        assert_eq!(edition_in_force(&eds, ymd(2025, 1, 1)), Some(2025));
        assert_eq!(edition_in_force(&eds, ymd(2030, 6, 1)), Some(2025));
        assert_eq!(edition_in_force(&eds, ymd(2016, 7, 31)), None);
        assert_eq!(edition_in_force(&[], ymd(2025, 1, 1)), None);
    }
    #[test]
    fn the_law_fixes_which_edition_is_in_force() {
        assert_eq!(KNOWN_EDITIONS.len(), 2);
        assert_eq!(
            known_edition(2025).map(|k| (k.code_count, k.source)),
            Some((470, "部令第36号"))
        );
        assert_eq!(known_edition(2021).map(|k| k.code_count), Some(467));
        assert_eq!(
            known_edition(2021).map(|k| k.code_count),
            Some(edition_2021().entries.len())
        );
        assert!(known_edition(2031).is_none());
        assert_eq!(edition_required_on(ymd(2020, 12, 31)), None);
        assert_eq!(edition_required_on(ymd(2021, 1, 1)).map(|k| k.edition), Some(2021));
        assert_eq!(edition_required_on(ymd(2024, 12, 31)).map(|k| k.edition), Some(2021));
        assert_eq!(edition_required_on(ymd(2025, 1, 1)).map(|k| k.edition), Some(2025));
        assert_eq!(edition_required_on(ymd(2026, 12, 2)).map(|k| k.edition), Some(2025));
        // Using 2021 in 2026 is using a repealed edition; in 2024 it is right.
        assert_eq!(edition_missing(2021, ymd(2026, 12, 2)).map(|k| k.edition), Some(2025));
        assert_eq!(edition_missing(2021, ymd(2024, 12, 31)), None);
        assert_eq!(edition_missing(2025, ymd(2026, 12, 2)), None);
        // A loaded edition newer than any the service knows is not a missing one.
        assert_eq!(edition_missing(2031, ymd(2031, 6, 1)), None);
    }

    #[test]
    fn codes_900_000_are_accepted_from_2025() {
        let tested = WasteCode::parse("900-000-49").unwrap();
        assert!(identified_by_testing(&tested, ymd(2025, 1, 1)));
        assert!(identified_by_testing(
            &WasteCode::parse("900-000-08").unwrap(),
            ymd(2030, 1, 1)
        ));
        assert!(!identified_by_testing(&tested, ymd(2024, 12, 31)));
        assert!(!identified_by_testing(
            &WasteCode::parse("900-001-49").unwrap(),
            ymd(2026, 1, 1)
        ));
        assert!(!identified_by_testing(
            &WasteCode::parse("901-000-49").unwrap(),
            ymd(2026, 1, 1)
        ));
        // NN must be a category: the code itself does not parse otherwise.
        assert!(WasteCode::parse("900-000-42").is_err());
    }

    #[test]
    fn category_names_follow_the_category_list() {
        // Consistent within the file, but not the list's name.
        let text = format!(
            "{HEADER}900-041-49,HW49,杂项废物,非特定行业,包装物,T/In,T/In\n900-042-49,HW49,杂项废物,非特定行业,其他,T,T\n"
        );
        let problems = parse_catalogue_csv(&text).unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems.iter().all(|p| p.problem.code == "catalogue.category_name_mismatch"
            && p.problem.message.contains("其他废物")));
    }

    #[test]
    fn reads_a_successor_mapping_with_every_problem() {
        let ok = parse_successors_csv("old_code,new_code\n900-041-49,900-901-49\n900-041-49,900-902-49\n\n").unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!((ok[1].row, ok[1].new_code.as_str()), (3, "900-902-49"));
        assert!(parse_successors_csv("old_code,new_code\n").unwrap().is_empty());
        let problems = parse_successors_csv(
            "old_code,new_code\n900-041-49,900-901-49\n900-41-49,900-901-49\n900-041-49,900-901-44\n900-041-49,900-901-49\n",
        )
        .unwrap_err();
        let found: Vec<(usize, Option<&str>, &str)> = problems
            .iter()
            .map(|p| (p.row, p.column.as_deref(), p.problem.code))
            .collect();
        assert_eq!(
            found,
            vec![
                (3, Some("old_code"), "waste_code.format"),
                (4, Some("new_code"), "waste_code.unknown_category"),
                (5, None, "successors.duplicate"),
            ]
        );
        let problems = parse_successors_csv("old,new_code\n1,2\n").unwrap_err();
        assert_eq!(problems[0].problem.code, "successors.missing_column");
    }

    fn synthetic_table() -> String {
        format!(
            "{HEADER}\
             900-249-08,HW08,废矿物油与含矿物油废物,非特定行业,测试用合成条目甲,T/I,T/I\n\
             900-901-49,HW49,其他废物,非特定行业,测试用合成条目乙,T,T\n\
             900-902-49,HW49,其他废物,非特定行业,测试用合成条目丙,T,T\n"
        )
    }

    fn import<'a>(codes: &'a str, successors: Option<&'a str>, edition: i32, count: usize) -> EditionImport<'a> {
        EditionImport {
            edition,
            in_force_from: ymd(edition, 1, 1),
            declared_count: count,
            codes_csv: codes,
            successors_csv: successors,
        }
    }

    #[test]
    fn an_edition_import_reads_its_table_and_mapping() {
        let table = synthetic_table();
        let previous = PreviousEdition {
            edition: 2021,
            codes: ["900-249-08", "900-041-49"].iter().map(|s| s.to_string()).collect(),
        };
        let mapping = "old_code,new_code\n900-041-49,900-901-49\n900-041-49,900-902-49\n";
        let (entries, successors) =
            check_edition_import(&import(&table, Some(mapping), 2031, 3), Some(&previous)).unwrap();
        assert_eq!(entries.len(), 3);
        assert_eq!(successors.len(), 2);
        // No mapping is fine; a mapping with nothing before it is not.
        assert!(check_edition_import(&import(&table, None, 2031, 3), None).is_ok());
        let problems = check_edition_import(&import(&table, Some(mapping), 2031, 3), None).unwrap_err();
        assert_eq!(problems[0].problem.code, "successors.no_previous_edition");
        assert_eq!(problems[0].part, EditionPart::Successors);
    }

    #[test]
    fn an_edition_import_reports_every_problem() {
        let table = format!(
            "{}900-903-49,HW48,有色金属采选和冶炼废物,非特定行业,类别不符,T,T\n900-901-49,HW49,其他废物,非特定行业,重复,T,T\n",
            synthetic_table()
        );
        let previous = PreviousEdition {
            edition: 2021,
            codes: ["900-041-49"].iter().map(|s| s.to_string()).collect(),
        };
        let mapping = "old_code,new_code\n900-041-49,900-901-49\n900-999-49,900-902-49\n900-041-49,900-909-49\n";
        let mut bad = import(&table, Some(mapping), 2031, 4);
        bad.in_force_from = ymd(2030, 7, 1);
        let problems = check_edition_import(&bad, Some(&previous)).unwrap_err();
        let found: Vec<(EditionPart, Option<usize>, &str)> =
            problems.iter().map(|p| (p.part, p.row, p.problem.code)).collect();
        assert_eq!(
            found,
            vec![
                (EditionPart::InForceFrom, None, "catalogue.in_force_year"),
                (EditionPart::CodeCount, None, "catalogue.count_mismatch"),
                (EditionPart::Codes, Some(5), "catalogue.category_mismatch"),
                (EditionPart::Codes, Some(6), "catalogue.duplicate_code"),
                (EditionPart::Successors, Some(3), "successors.old_code_unknown"),
                (EditionPart::Successors, Some(4), "successors.new_code_unknown"),
            ]
        );
        // A known edition must be the law's: its count and its day.
        let small = synthetic_table();
        let mut known = import(&small, None, 2025, 3);
        known.in_force_from = ymd(2025, 3, 1);
        let problems = check_edition_import(&known, None).unwrap_err();
        let codes: Vec<&str> = problems.iter().map(|p| p.problem.code).collect();
        assert_eq!(codes, vec!["catalogue.known_in_force", "catalogue.known_count"]);
        assert!(problems[1].problem.message.contains("470"), "{:?}", problems[1]);
    }
}
