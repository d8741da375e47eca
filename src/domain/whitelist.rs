//! The whitelist's pure rules: licences and what they cover, entry scopes, the entry lifecycle,
//! and whether an entry fits the operator's licence (DESIGN §1 "The whitelist").

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};

use super::Invalid;
use super::catalogue::{WasteCategory, WasteCode};
use super::ids::ProvinceCode;
use super::quantity::Quantity;

/// What a licence allows its holder to do with waste (经营方式).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LicenceMode {
    /// 收集
    Collect,
    /// 贮存
    Store,
    /// 利用
    Utilise,
    /// 处置
    Dispose,
}

impl LicenceMode {
    pub fn as_str(self) -> &'static str {
        match self {
            LicenceMode::Collect => "collect",
            LicenceMode::Store => "store",
            LicenceMode::Utilise => "utilise",
            LicenceMode::Dispose => "dispose",
        }
    }

    /// Accepts the English word or the Chinese term.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        Ok(match s {
            "collect" | "收集" => LicenceMode::Collect,
            "store" | "贮存" => LicenceMode::Store,
            "utilise" | "利用" => LicenceMode::Utilise,
            "dispose" | "处置" => LicenceMode::Dispose,
            _ => {
                return Err(Invalid::new(
                    "licence.mode",
                    "mode must be collect (收集), store (贮存), utilise (利用) or dispose (处置)",
                ));
            }
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LicenceStatus {
    Valid,
    Suspended,
    Revoked,
}

impl LicenceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            LicenceStatus::Valid => "valid",
            LicenceStatus::Suspended => "suspended",
            LicenceStatus::Revoked => "revoked",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        match s {
            "valid" => Ok(LicenceStatus::Valid),
            "suspended" => Ok(LicenceStatus::Suspended),
            "revoked" => Ok(LicenceStatus::Revoked),
            _ => Err(Invalid::new(
                "licence.status",
                "status must be valid, suspended or revoked",
            )),
        }
    }
}

/// A 危险废物经营许可证 as far as the whitelist cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Licence {
    pub modes: BTreeSet<LicenceMode>,
    /// Whole categories licensed.
    pub categories: BTreeSet<WasteCategory>,
    /// Single codes licensed outside whole categories.
    pub codes: BTreeSet<WasteCode>,
    /// 年经营规模: the licence's total a year, over every category.
    pub annual_capacity: Quantity,
    /// A category's own annual figure where the licence states one; a category without one is
    /// bounded by the total alone.
    pub category_capacities: BTreeMap<WasteCategory, Quantity>,
    pub valid_from: NaiveDate,
    pub valid_until: NaiveDate,
    pub status: LicenceStatus,
}

impl Licence {
    /// What the licence allows a year for `category`: its own figure, else the total.
    pub fn capacity_for(&self, category: WasteCategory) -> Quantity {
        self.category_capacities
            .get(&category)
            .copied()
            .unwrap_or(self.annual_capacity)
    }

    /// Valid on `date` by its dates alone (whatever its status): the version of a licence that
    /// is "current" on that day. A renewal starting next month is not current today.
    pub fn dated_on(&self, date: NaiveDate) -> bool {
        self.valid_from <= date && date <= self.valid_until
    }

    pub fn covers_code(&self, code: &WasteCode) -> bool {
        self.categories.contains(&code.category()) || self.codes.contains(code)
    }

    pub fn covers_scope(&self, scope: &EntryScope) -> bool {
        match scope {
            EntryScope::Code(c) => self.covers_code(c),
            EntryScope::Category(c) => self.categories.contains(c),
        }
    }

    /// In force on `date`: valid status and inside its dates.
    pub fn in_force_on(&self, date: NaiveDate) -> bool {
        self.status == LicenceStatus::Valid && self.valid_from <= date && date <= self.valid_until
    }

    /// In force on some day of `year`.
    pub fn in_force_in_year(&self, year: i32) -> bool {
        self.status == LicenceStatus::Valid && self.valid_from.year() <= year && self.valid_until.year() >= year
    }

    /// In force for the whole of `from..=until`.
    pub fn covers_period(&self, from: NaiveDate, until: NaiveDate) -> bool {
        self.status == LicenceStatus::Valid && self.valid_from <= from && until <= self.valid_until
    }
}

/// What an entry covers: one waste code or a whole category.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum EntryScope {
    Code(WasteCode),
    Category(WasteCategory),
}

impl EntryScope {
    /// `NNN-NNN-NN` or `HWxx`.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        if s.starts_with("HW") {
            WasteCategory::parse(s).map(EntryScope::Category)
        } else {
            WasteCode::parse(s).map(EntryScope::Code)
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            EntryScope::Code(_) => "code",
            EntryScope::Category(_) => "category",
        }
    }

    pub fn key(&self) -> String {
        match self {
            EntryScope::Code(c) => c.as_str().to_string(),
            EntryScope::Category(c) => c.as_str(),
        }
    }

    pub fn category(&self) -> WasteCategory {
        match self {
            EntryScope::Code(c) => c.category(),
            EntryScope::Category(c) => *c,
        }
    }

    pub fn matches(&self, code: &WasteCode) -> bool {
        match self {
            EntryScope::Code(c) => c == code,
            EntryScope::Category(c) => code.category() == *c,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryStatus {
    Proposed,
    Confirmed,
    Suspended,
    Expired,
}

impl EntryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryStatus::Proposed => "proposed",
            EntryStatus::Confirmed => "confirmed",
            EntryStatus::Suspended => "suspended",
            EntryStatus::Expired => "expired",
        }
    }

    pub fn parse(s: &str) -> Result<Self, Invalid> {
        Ok(match s {
            "proposed" => EntryStatus::Proposed,
            "confirmed" => EntryStatus::Confirmed,
            "suspended" => EntryStatus::Suspended,
            "expired" => EntryStatus::Expired,
            _ => {
                return Err(Invalid::new(
                    "entry.status",
                    "status must be proposed, confirmed, suspended or expired",
                ));
            }
        })
    }

    /// The status as it stands on `today`: an entry of a past year has expired.
    pub fn effective(self, year: i32, today: NaiveDate) -> EntryStatus {
        if year < today.year() {
            EntryStatus::Expired
        } else {
            self
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryAction {
    Confirm,
    Suspend,
    Reinstate,
    /// A new quota during the year, by letter between the provinces (not a status change).
    Amend,
}

impl EntryAction {
    pub fn as_str(self) -> &'static str {
        match self {
            EntryAction::Confirm => "confirm",
            EntryAction::Suspend => "suspend",
            EntryAction::Reinstate => "reinstate",
            EntryAction::Amend => "amend",
        }
    }
}

/// The entry lifecycle: proposed → confirmed → suspended ⇄ confirmed; expired is final.
pub fn entry_transition(from: EntryStatus, action: EntryAction) -> Result<EntryStatus, Invalid> {
    use EntryAction as A;
    use EntryStatus as S;
    match (from, action) {
        (S::Proposed, A::Confirm) => Ok(S::Confirmed),
        (S::Confirmed, A::Suspend) => Ok(S::Suspended),
        (S::Suspended, A::Reinstate) => Ok(S::Confirmed),
        (from, action) => Err(Invalid::new(
            "entry.transition",
            format!(
                "a {} entry cannot be {}ed",
                from.as_str(),
                action.as_str().trim_end_matches('e')
            ),
        )),
    }
}

/// Who acts for which side of an entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryParties {
    pub source: ProvinceCode,
    pub receiving: ProvinceCode,
}

impl EntryParties {
    pub fn involves(&self, p: ProvinceCode) -> bool {
        self.source == p || self.receiving == p
    }

    /// The province that must confirm what `proposer` proposed.
    pub fn other_side(&self, proposer: ProvinceCode) -> ProvinceCode {
        if proposer == self.source {
            self.receiving
        } else {
            self.source
        }
    }
}

/// The further source provinces of an entry that serves several from one shared quota, as
/// stored: each between commas (`,520000,530000,`), empty for none.
pub fn encode_shared_sources(list: &[ProvinceCode]) -> String {
    if list.is_empty() {
        return String::new();
    }
    let mut codes: Vec<String> = list.iter().map(|p| p.as_str()).collect();
    codes.sort();
    codes.dedup();
    format!(",{},", codes.join(","))
}

/// The stored further sources, in order.
pub fn decode_shared_sources(s: &str) -> Vec<String> {
    s.split(',').filter(|p| !p.is_empty()).map(str::to_string).collect()
}

/// The `LIKE` pattern that finds `province` among stored further sources.
pub fn shared_source_pattern(province: &str) -> String {
    format!("%,{province},%")
}

/// Whether an entry in `status` has a quota that an amendment may change (confirmed or
/// suspended: it grants, or will grant again, a quota).
pub fn amendable(status: EntryStatus) -> bool {
    matches!(status, EntryStatus::Confirmed | EntryStatus::Suspended)
}

/// Why an entry's quota may not become `new_quota` by an amendment: below what its filings
/// already hold (reserved and approved), or the entry not in a state that grants a quota.
pub fn amendment_problem(
    status: EntryStatus,
    new_quota: Quantity,
    reserved_g: i64,
    approved_g: i64,
) -> Option<Invalid> {
    if !amendable(status) {
        return Some(Invalid::new(
            "entry.amend_state",
            format!(
                "only a confirmed or suspended entry's quota is amended; this one is {}",
                status.as_str()
            ),
        ));
    }
    let held = reserved_g + approved_g;
    (new_quota.grams() < held).then(|| {
        Invalid::new(
            "entry.quota_below_used",
            format!(
                "the new quota {new_quota} kg is below the {} kg its filings already hold",
                super::quantity::grams_to_kg_string(held)
            ),
        )
    })
}

/// What the operator's other live entries of a year (proposed, confirmed or suspended) already
/// grant: in the entry's category, and over every category.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Granted {
    pub category_g: i64,
    pub total_g: i64,
}

/// Every reason an entry does not fit the operator's licence for `year`, given what its other
/// entries of the year already grant: the quotas of a category together may not exceed the
/// licensed capacity for it, nor all quotas together the licence's total. Empty when it fits.
pub fn licence_fit_problems(
    licence: Option<&Licence>,
    scope: &EntryScope,
    quota: Quantity,
    year: i32,
    granted: Granted,
) -> Vec<Invalid> {
    let Some(licence) = licence else {
        return vec![Invalid::new(
            "entry.no_licence",
            "the operator has no licence on record",
        )];
    };
    let mut problems = Vec::new();
    if licence.status != LicenceStatus::Valid {
        problems.push(Invalid::new(
            "entry.licence_not_valid",
            format!("the operator's licence is {}", licence.status.as_str()),
        ));
    } else if !licence.in_force_in_year(year) {
        problems.push(Invalid::new(
            "entry.licence_not_in_force",
            format!(
                "the operator's licence ({} to {}) is not in force in {year}",
                licence.valid_from, licence.valid_until
            ),
        ));
    }
    if !licence.covers_scope(scope) {
        problems.push(Invalid::new(
            "entry.not_licensed",
            match scope {
                EntryScope::Code(c) => format!("the licence does not cover {c} ({})", c.category().as_str()),
                EntryScope::Category(c) => format!("the licence does not cover the whole category {}", c.as_str()),
            },
        ));
    }
    let category = scope.category();
    let for_category = licence.capacity_for(category);
    let kg = super::quantity::grams_to_kg_string;
    if quota.grams() + granted.category_g > for_category.grams() {
        problems.push(Invalid::new(
            "entry.over_capacity",
            if granted.category_g == 0 {
                format!(
                    "the quota {quota} kg exceeds the licensed annual capacity for {} of {for_category} kg",
                    category.as_str()
                )
            } else {
                format!(
                    "the quota {quota} kg and the {} kg the operator's other entries of {year} already grant for {} exceed its licensed annual capacity for it of {for_category} kg",
                    kg(granted.category_g),
                    category.as_str()
                )
            },
        ));
    } else if quota.grams() + granted.total_g > licence.annual_capacity.grams() {
        problems.push(Invalid::new(
            "entry.over_capacity",
            format!(
                "the quota {quota} kg and the {} kg the operator's other entries of {year} already grant exceed the licence's total annual capacity of {} kg",
                kg(granted.total_g),
                licence.annual_capacity
            ),
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn licence() -> Licence {
        Licence {
            modes: [LicenceMode::Dispose].into(),
            categories: [WasteCategory::parse("HW08").unwrap()].into(),
            codes: [WasteCode::parse("900-041-49").unwrap()].into(),
            annual_capacity: Quantity::parse_kg("1000000").unwrap(),
            category_capacities: BTreeMap::new(),
            valid_from: NaiveDate::from_ymd_opt(2025, 3, 1).unwrap(),
            valid_until: NaiveDate::from_ymd_opt(2027, 2, 28).unwrap(),
            status: LicenceStatus::Valid,
        }
    }

    #[test]
    fn lifecycle_table() {
        use EntryAction as A;
        use EntryStatus as S;
        let all_s = [S::Proposed, S::Confirmed, S::Suspended, S::Expired];
        let all_a = [A::Confirm, A::Suspend, A::Reinstate];
        let allowed = [
            (S::Proposed, A::Confirm, S::Confirmed),
            (S::Confirmed, A::Suspend, S::Suspended),
            (S::Suspended, A::Reinstate, S::Confirmed),
        ];
        for s in all_s {
            for a in all_a {
                let expected = allowed.iter().find(|(f, x, _)| *f == s && *x == a).map(|(_, _, t)| *t);
                assert_eq!(entry_transition(s, a).ok(), expected, "{s:?} {a:?}");
            }
        }
    }

    #[test]
    fn licence_fit() {
        let l = licence();
        let code = EntryScope::parse("900-249-08").unwrap();
        let q = Quantity::parse_kg("5000").unwrap();
        let none = Granted::default();
        assert!(licence_fit_problems(Some(&l), &code, q, 2026, none).is_empty());
        assert!(licence_fit_problems(Some(&l), &EntryScope::parse("900-041-49").unwrap(), q, 2026, none).is_empty());
        // Single code licensed is not the whole category.
        let p = licence_fit_problems(Some(&l), &EntryScope::parse("HW49").unwrap(), q, 2026, none);
        assert_eq!(p.iter().map(|i| i.code).collect::<Vec<_>>(), vec!["entry.not_licensed"]);
        // Every reason at once.
        let p = licence_fit_problems(
            Some(&l),
            &EntryScope::parse("252-001-11").unwrap(),
            Quantity::parse_kg("2000000").unwrap(),
            2028,
            none,
        );
        assert_eq!(
            p.iter().map(|i| i.code).collect::<Vec<_>>(),
            vec![
                "entry.licence_not_in_force",
                "entry.not_licensed",
                "entry.over_capacity"
            ]
        );
        let mut s = l.clone();
        s.status = LicenceStatus::Suspended;
        assert_eq!(
            licence_fit_problems(Some(&s), &code, q, 2026, none)[0].code,
            "entry.licence_not_valid"
        );
        assert_eq!(
            licence_fit_problems(None, &code, q, 2026, none)[0].code,
            "entry.no_licence"
        );
    }

    #[test]
    fn capacity_counts_every_entry_of_the_year() {
        let mut l = licence();
        let hw08 = EntryScope::parse("HW08").unwrap();
        let kg = |s: &str| Quantity::parse_kg(s).unwrap();
        let granted = |category_g, total_g| Granted { category_g, total_g };
        // Each entry alone fits; together with what is already granted they do not.
        assert!(licence_fit_problems(Some(&l), &hw08, kg("600000"), 2026, granted(0, 0)).is_empty());
        let p = licence_fit_problems(Some(&l), &hw08, kg("600000"), 2026, granted(500_000_000, 500_000_000));
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].code, "entry.over_capacity");
        assert!(p[0].message.contains("500000"), "{}", p[0].message);
        // Exactly at the capacity fits.
        assert!(
            licence_fit_problems(Some(&l), &hw08, kg("500000"), 2026, granted(500_000_000, 500_000_000)).is_empty()
        );
        // A category's own figure binds before the total.
        l.category_capacities
            .insert(WasteCategory::parse("HW08").unwrap(), kg("300000"));
        assert_eq!(l.capacity_for(WasteCategory::parse("HW08").unwrap()), kg("300000"));
        assert_eq!(l.capacity_for(WasteCategory::parse("HW49").unwrap()), kg("1000000"));
        let p = licence_fit_problems(Some(&l), &hw08, kg("200000"), 2026, granted(200_000_000, 200_000_000));
        assert_eq!(p[0].code, "entry.over_capacity");
        // Other categories count toward the total.
        let hw49 = EntryScope::parse("900-041-49").unwrap();
        let p = licence_fit_problems(Some(&l), &hw49, kg("200000"), 2026, granted(0, 900_000_000));
        assert_eq!(p[0].code, "entry.over_capacity");
        assert!(p[0].message.contains("total"), "{}", p[0].message);
    }

    #[test]
    fn amendments_keep_what_is_held() {
        let kg = |s: &str| Quantity::parse_kg(s).unwrap();
        assert_eq!(
            amendment_problem(EntryStatus::Confirmed, kg("60"), 40_000, 20_000),
            None
        );
        assert_eq!(
            amendment_problem(EntryStatus::Confirmed, kg("59.999"), 40_000, 20_000).map(|i| i.code),
            Some("entry.quota_below_used")
        );
        assert_eq!(amendment_problem(EntryStatus::Suspended, kg("1"), 0, 0), None);
        for s in [EntryStatus::Proposed, EntryStatus::Expired] {
            assert_eq!(
                amendment_problem(s, kg("100"), 0, 0).map(|i| i.code),
                Some("entry.amend_state")
            );
        }
    }

    #[test]
    fn shared_sources_round_trip() {
        let p = |s: &str| ProvinceCode::parse(s).unwrap();
        let stored = encode_shared_sources(&[p("530000"), p("520000"), p("530000")]);
        assert_eq!(stored, ",520000,530000,");
        assert_eq!(decode_shared_sources(&stored), vec!["520000", "530000"]);
        assert!(decode_shared_sources(&encode_shared_sources(&[])).is_empty());
        assert_eq!(shared_source_pattern("520000"), "%,520000,%");
    }

    #[test]
    fn dated_on_is_by_dates_alone() {
        let l = licence();
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert!(!l.dated_on(d(2025, 2, 28)) && l.dated_on(d(2025, 3, 1)) && l.dated_on(d(2027, 2, 28)));
        assert!(!l.dated_on(d(2027, 3, 1)));
    }

    #[test]
    fn scope_matching_and_periods() {
        let cat = EntryScope::parse("HW08").unwrap();
        assert!(cat.matches(&WasteCode::parse("900-249-08").unwrap()));
        assert!(!cat.matches(&WasteCode::parse("900-041-49").unwrap()));
        assert_eq!(cat.key(), "HW08");
        assert!(EntryScope::parse("HW41").is_err());
        let l = licence();
        let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert!(l.covers_period(d(2026, 1, 1), d(2026, 12, 31)));
        assert!(!l.covers_period(d(2026, 1, 1), d(2027, 3, 1)));
        assert!(l.in_force_in_year(2025) && l.in_force_in_year(2027) && !l.in_force_in_year(2028));
        assert_eq!(
            EntryStatus::Confirmed.effective(2025, d(2026, 1, 2)),
            EntryStatus::Expired
        );
    }
}
