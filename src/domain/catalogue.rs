//! 国家危险废物名录 (National Catalogue of Hazardous Wastes), versioned by edition.
//!
//! Only the 2021 edition (部令第15号) is embedded; the 2025 edition (部令第36号, in force
//! 2025-01-01) is not available as data, so callers must pick an edition explicitly.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use chrono::NaiveDate;
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
        // Spreadsheet exports often start with a BOM; it would hide the first column name.
        .from_reader(text.strip_prefix('\u{feff}').unwrap_or(text).as_bytes());
    let header = match reader.headers() {
        Ok(h) => h.clone(),
        Err(e) => {
            report(1, None, Invalid::new("catalogue.csv", e.to_string()));
            return Err(problems);
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
        // One category has one name throughout the table.
        if let (Some(category), Some(name)) = (category, &category_name) {
            match category_names.get(&category) {
                Some((known, first)) if known != name => report(
                    line,
                    Some("category_name"),
                    Invalid::new(
                        "catalogue.category_name_mismatch",
                        format!("{category} is named {known:?} on line {first}, here {name:?}"),
                    ),
                ),
                Some(_) => {}
                None => {
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
    if problems.is_empty() {
        Ok(entries)
    } else {
        Err(problems)
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
        assert!(problems[6].problem.message.contains("line 2"), "{:?}", problems[6]);
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
}
