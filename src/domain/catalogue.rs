//! 国家危险废物名录 (National Catalogue of Hazardous Wastes), versioned by edition.
//!
//! Only the 2021 edition's table (部令第15号) is embedded; the 2025 edition (部令第36号, in force
//! 2025-01-01) is not available as data and is loaded by an admin at run time. What the law
//! published about each edition (its order, its in-force date, how many codes its table has) is a
//! legal fact kept here in [`KNOWN_EDITIONS`], so the service knows which edition *should* be in
//! force on a day even when its table is not loaded, and says so.

mod editions;
mod import;
mod tables;
#[cfg(test)]
mod tests;

pub use editions::*;
pub use import::*;
pub use tables::*;

use std::collections::BTreeMap;
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
