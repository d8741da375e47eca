//! The editions of the catalogue as the law published them, and which one is in force on a day.

use chrono::NaiveDate;

use super::*;

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
