//! The registry's commands: a producer enterprise (移出人), a licensed operator (经营单位) and
//! its licence (危险废物经营许可证), each read once into the domain's types with every problem
//! at once.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, Type};
use validator::{Validate, ValidationError};

use crate::db::registry::NewLicence;
use crate::domain::Invalid;
use crate::domain::calendar::parse_date;
use crate::domain::catalogue::{WASTE_CATEGORY_PATTERN, WASTE_CODE_PATTERN, WasteCategory, WasteCode};
use crate::domain::ids::{DivisionCode, LicenceNumber, ProvinceCode, Uscc};
use crate::domain::quantity::Quantity;
use crate::domain::whitelist::LicenceMode;
use crate::service::applications::filing::kg_schema;
use crate::service::commands::{
    date_schema, enum_schema, province_schema, text_schema, valid_date, valid_kg, valid_text, validation_problems,
};
use crate::service::error::{FieldProblem, Location, validation_error};

/// A USCC's shape: 18 characters of GB 32100's set, characters 3–8 digits. The check character
/// and the province of the division are checked beyond it (JSON Schema cannot say them).
pub const USCC_PATTERN: &str = "^[0-9A-HJ-NPQRTUWXYa-hj-npqrtuwxy]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXYa-hj-npqrtuwxy]{10}$";
/// A division code's shape; its first two digits must be those of a known province, and of the
/// party's own province.
pub const DIVISION_PATTERN: &str = "^[0-9]{6}$";

fn pattern_schema(pattern: &str, description: &str) -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(pattern))
        .description(Some(description))
        .into()
}

fn uscc_schema() -> Schema {
    pattern_schema(
        USCC_PATTERN,
        "统一社会信用代码 (GB 32100-2015): 18 characters, characters 3–8 the registering division, the last a check character",
    )
}

fn division_schema() -> Schema {
    pattern_schema(
        DIVISION_PATTERN,
        "a division code (GB/T 2260) in the party's province, e.g. 500112",
    )
}

fn valid_uscc(s: &str) -> Result<(), ValidationError> {
    Uscc::parse(s).map(|_| ()).map_err(validation_error)
}

fn valid_province(s: &str) -> Result<(), ValidationError> {
    ProvinceCode::parse(s).map(|_| ()).map_err(validation_error)
}

fn valid_division(s: &str) -> Result<(), ValidationError> {
    DivisionCode::parse(s).map(|_| ()).map_err(validation_error)
}

fn valid_licence_number(s: &str) -> Result<(), ValidationError> {
    LicenceNumber::parse(s).map(|_| ()).map_err(validation_error)
}

/// The division must lie in the province (both well-formed).
fn division_problem(province: &str, division: &str) -> Option<FieldProblem> {
    let province = ProvinceCode::parse(province).ok()?;
    DivisionCode::parse(division).ok()?;
    DivisionCode::parse_in(division, province)
        .err()
        .map(|e| FieldProblem::body("/division_code", &e))
}

fn sorted(mut problems: Vec<FieldProblem>) -> Vec<FieldProblem> {
    problems.sort_by(|a, b| a.pointer.cmp(&b.pointer));
    problems
}

/// A party as the registry keeps it, read from a command.
pub struct Party {
    pub name: String,
    pub uscc: Uscc,
    pub province: ProvinceCode,
    pub division: DivisionCode,
    pub address: String,
}

fn party(name: &str, uscc: &str, province: &str, division: &str, address: &str) -> Result<Party, Invalid> {
    let province = ProvinceCode::parse(province)?;
    Ok(Party {
        name: name.trim().to_string(),
        uscc: Uscc::parse(uscc)?,
        province,
        division: DivisionCode::parse_in(division, province)?,
        address: address.trim().to_string(),
    })
}

/// A producer enterprise to register.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnterpriseInput {
    #[validate(custom(function = "valid_text::<200>"))]
    #[schema(schema_with = text_schema::<200>)]
    pub name: String,
    #[validate(custom(function = "valid_uscc"))]
    #[schema(schema_with = uscc_schema)]
    pub uscc: String,
    #[validate(custom(function = "valid_province"))]
    #[schema(schema_with = province_schema)]
    pub province: String,
    #[validate(custom(function = "valid_division"))]
    #[schema(schema_with = division_schema)]
    pub division_code: String,
    #[validate(custom(function = "valid_text::<300>"))]
    #[schema(schema_with = text_schema::<300>)]
    pub address: String,
    #[validate(custom(function = "valid_text::<100>"))]
    #[schema(schema_with = text_schema::<100>)]
    pub contact_name: String,
    #[validate(custom(function = "valid_text::<40>"))]
    #[schema(schema_with = text_schema::<40>)]
    pub contact_phone: String,
    /// `producer` (产生单位, the default) or `collector` (收集单位): a licensed collector may be
    /// the transferring party for the waste it collected from many producers.
    #[serde(default)]
    #[validate(custom(function = "valid_party_kind"))]
    #[schema(schema_with = party_kind_schema)]
    pub kind: Option<String>,
    /// A collector's own registered operator record (the same legal person: the same USCC),
    /// whose 危险废物经营许可证 it files under: it must include collection (收集) and be in force
    /// on the day of each filing. Required for a collector; not given for a producer.
    #[serde(default, deserialize_with = "crate::service::commands::present")]
    #[validate(length(min = 1, max = 64))]
    #[schema(min_length = 1, max_length = 64)]
    pub collector_operator_id: Option<String>,
}

fn valid_party_kind(s: &str) -> std::result::Result<(), ValidationError> {
    crate::domain::parties::PartyKind::parse(s)
        .map(|_| ())
        .map_err(validation_error)
}

fn party_kind_schema() -> Schema {
    enum_schema(
        &["producer", "collector"],
        "producer (产生单位, the default) or collector (收集单位)",
    )
}

impl EnterpriseInput {
    /// The kind of party, once [`EnterpriseInput::problems`] found nothing.
    pub fn party_kind(&self) -> crate::domain::parties::PartyKind {
        self.kind
            .as_deref()
            .and_then(|k| crate::domain::parties::PartyKind::parse(k).ok())
            .unwrap_or_default()
    }

    /// Every problem at once, the division's province included.
    pub fn problems(&self) -> Vec<FieldProblem> {
        let mut problems = self
            .validate()
            .err()
            .map(|e| validation_problems(&e))
            .unwrap_or_default();
        problems.extend(division_problem(&self.province, &self.division_code));
        let collector = self.kind.as_deref() == Some(crate::domain::parties::PartyKind::Collector.as_str());
        match (collector, &self.collector_operator_id) {
            (true, None) => problems.push(FieldProblem::new(
                Location::Body,
                "/collector_operator_id",
                "enterprise.collector_licence_required",
                "a collector names its own registered operator record, whose collection licence it files under",
            )),
            (false, Some(_)) => problems.push(FieldProblem::new(
                Location::Body,
                "/collector_operator_id",
                "enterprise.not_a_collector",
                "only a collector (kind collector) names an operator record to file under",
            )),
            _ => {}
        }
        sorted(problems)
    }

    /// The party and its contact (name, phone), once [`EnterpriseInput::problems`] found nothing.
    pub fn read(&self) -> Result<(Party, String, String), Vec<FieldProblem>> {
        let problems = self.problems();
        if !problems.is_empty() {
            return Err(problems);
        }
        let p = party(
            &self.name,
            &self.uscc,
            &self.province,
            &self.division_code,
            &self.address,
        )
        .map_err(|e| vec![FieldProblem::body("", &e)])?;
        Ok((
            p,
            self.contact_name.trim().to_string(),
            self.contact_phone.trim().to_string(),
        ))
    }
}

const MODES: &[&str] = &["collect", "store", "utilise", "dispose", "收集", "贮存", "利用", "处置"];

fn modes_schema() -> Schema {
    ArrayBuilder::new()
        .items(RefOr::T(enum_schema(
            MODES,
            "collect (收集), store (贮存), utilise (利用) or dispose (处置)",
        )))
        .min_items(Some(1))
        .into()
}

fn categories_schema() -> Schema {
    ArrayBuilder::new()
        .items(RefOr::T(pattern_schema(
            WASTE_CATEGORY_PATTERN,
            "a waste category HWxx",
        )))
        .into()
}

fn codes_schema() -> Schema {
    ArrayBuilder::new()
        .items(RefOr::T(pattern_schema(WASTE_CODE_PATTERN, "a waste code NNN-NNN-NN")))
        .into()
}

/// A category's own annual figure on a licence (e.g. HW08 5 000 t/a of a 20 000 t/a licence).
#[derive(Debug, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CategoryCapacityInput {
    /// HWxx; a category the licence covers, wholly or by single codes.
    #[validate(custom(function = "valid_category"))]
    #[schema(schema_with = category_schema)]
    pub category: String,
    /// Annual capacity for the category in kg, above zero, at most 3 decimals, not above the
    /// licence's total.
    #[validate(custom(function = "valid_kg"))]
    #[schema(schema_with = kg_schema)]
    pub annual_capacity_kg: String,
}

fn valid_category(s: &str) -> Result<(), ValidationError> {
    WasteCategory::parse(s).map(|_| ()).map_err(validation_error)
}

fn category_schema() -> Schema {
    pattern_schema(WASTE_CATEGORY_PATTERN, "a waste category HWxx")
}

/// A licence version: its number, what it allows, how much a year, from when to when.
#[derive(Debug, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LicenceInput {
    #[validate(custom(function = "valid_licence_number"))]
    #[schema(schema_with = text_schema::<64>)]
    pub licence_number: String,
    /// At least one of collect, store, utilise, dispose.
    #[schema(schema_with = modes_schema)]
    pub modes: Vec<String>,
    /// Whole categories, HWxx.
    #[schema(schema_with = categories_schema)]
    pub categories: Vec<String>,
    /// Single codes licensed outside whole categories. A licence covers at least one category
    /// or code.
    #[serde(default)]
    #[schema(schema_with = codes_schema)]
    pub codes: Vec<String>,
    /// Annual capacity in kg (年经营规模, over every category), above zero, at most 3 decimals.
    #[validate(custom(function = "valid_kg"))]
    #[schema(schema_with = kg_schema)]
    pub annual_capacity_kg: String,
    /// Categories with an annual figure of their own; a category without one is bounded by the
    /// total alone. The whitelist quotas an operator's entries grant in a year may not exceed
    /// these figures, per category and in total.
    #[serde(default)]
    #[validate(nested)]
    pub category_capacities: Vec<CategoryCapacityInput>,
    #[validate(custom(function = "valid_date"))]
    #[schema(schema_with = date_schema)]
    pub valid_from: String,
    /// Not before valid_from.
    #[validate(custom(function = "valid_date"))]
    #[schema(schema_with = date_schema)]
    pub valid_until: String,
    #[validate(custom(function = "valid_text::<200>"))]
    #[schema(schema_with = text_schema::<200>)]
    pub issuing_authority: String,
}

/// Each item of a list that its parser refuses, at its own pointer.
fn list_problems<T>(list: &[String], at: &str, parse: impl Fn(&str) -> Result<T, Invalid>) -> Vec<FieldProblem> {
    list.iter()
        .enumerate()
        .filter_map(|(i, s)| parse(s).err().map(|e| FieldProblem::body(format!("{at}/{i}"), &e)))
        .collect()
}

impl LicenceInput {
    /// Every problem at once under `at` (`""` for a body of its own, `/licence` inside an operator).
    pub fn problems_at(&self, at: &str) -> Vec<FieldProblem> {
        let mut problems: Vec<FieldProblem> = self
            .validate()
            .err()
            .map(|e| validation_problems(&e))
            .unwrap_or_default()
            .into_iter()
            .map(|mut p| {
                p.pointer = format!("{at}{}", p.pointer);
                p
            })
            .collect();
        problems.extend(list_problems(&self.modes, &format!("{at}/modes"), LicenceMode::parse));
        problems.extend(list_problems(
            &self.categories,
            &format!("{at}/categories"),
            WasteCategory::parse,
        ));
        problems.extend(list_problems(&self.codes, &format!("{at}/codes"), WasteCode::parse));
        let mut problem = |field: &str, code: &str, message: &str| {
            problems.push(FieldProblem::new(
                Location::Body,
                format!("{at}/{field}"),
                code,
                message,
            ));
        };
        if self.modes.is_empty() {
            problem("modes", "licence.modes_empty", "a licence allows at least one mode");
        }
        if self.categories.is_empty() && self.codes.is_empty() {
            problem(
                "categories",
                "licence.nothing_licensed",
                "a licence covers at least one category or code",
            );
        }
        if let (Ok(from), Ok(until)) = (parse_date(&self.valid_from), parse_date(&self.valid_until))
            && until < from
        {
            problem("valid_until", "licence.period", "valid_until is before valid_from");
        }
        let total = Quantity::parse_kg(&self.annual_capacity_kg).ok();
        let mut seen = std::collections::BTreeSet::new();
        for (i, c) in self.category_capacities.iter().enumerate() {
            let Ok(category) = WasteCategory::parse(&c.category) else {
                continue;
            };
            let at_i = format!("category_capacities/{i}");
            if !seen.insert(category) {
                problem(
                    &format!("{at_i}/category"),
                    "licence.capacity_duplicate",
                    "one figure per category",
                );
            }
            let licensed = self.categories.iter().any(|x| WasteCategory::parse(x) == Ok(category))
                || self
                    .codes
                    .iter()
                    .any(|x| WasteCode::parse(x).is_ok_and(|w| w.category() == category));
            if !licensed {
                problem(
                    &format!("{at_i}/category"),
                    "licence.capacity_unlicensed",
                    "a figure for a category the licence does not cover",
                );
            }
            if let (Some(total), Ok(q)) = (total, Quantity::parse_kg(&c.annual_capacity_kg))
                && q > total
            {
                problem(
                    &format!("{at_i}/annual_capacity_kg"),
                    "licence.capacity_above_total",
                    "a category's figure is above the licence's total",
                );
            }
        }
        sorted(problems)
    }

    pub fn problems(&self) -> Vec<FieldProblem> {
        self.problems_at("")
    }

    /// The licence version to record, once [`LicenceInput::problems`] found nothing.
    pub fn read(&self, at: &str) -> Result<NewLicence, Vec<FieldProblem>> {
        let problems = self.problems_at(at);
        if !problems.is_empty() {
            return Err(problems);
        }
        let bad = |e: Invalid| vec![FieldProblem::body(at, &e)];
        Ok(NewLicence {
            licence_number: LicenceNumber::parse(&self.licence_number)
                .map_err(bad)?
                .as_str()
                .to_string(),
            modes: self
                .modes
                .iter()
                .map(|s| LicenceMode::parse(s))
                .collect::<Result<_, _>>()
                .map_err(bad)?,
            categories: self
                .categories
                .iter()
                .map(|s| WasteCategory::parse(s))
                .collect::<Result<_, _>>()
                .map_err(bad)?,
            codes: self
                .codes
                .iter()
                .map(|s| WasteCode::parse(s))
                .collect::<Result<_, _>>()
                .map_err(bad)?,
            annual_capacity: Quantity::parse_kg(&self.annual_capacity_kg).map_err(bad)?,
            category_capacities: self
                .category_capacities
                .iter()
                .map(|c| {
                    Ok((
                        WasteCategory::parse(&c.category)?,
                        Quantity::parse_kg(&c.annual_capacity_kg)?,
                    ))
                })
                .collect::<Result<_, Invalid>>()
                .map_err(bad)?,
            valid_from: parse_date(&self.valid_from).map_err(bad)?,
            valid_until: parse_date(&self.valid_until).map_err(bad)?,
            issuing_authority: self.issuing_authority.trim().to_string(),
        })
    }
}

/// A licensed operator to register, with its first licence.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OperatorInput {
    #[validate(custom(function = "valid_text::<200>"))]
    #[schema(schema_with = text_schema::<200>)]
    pub name: String,
    #[validate(custom(function = "valid_uscc"))]
    #[schema(schema_with = uscc_schema)]
    pub uscc: String,
    #[validate(custom(function = "valid_province"))]
    #[schema(schema_with = province_schema)]
    pub province: String,
    #[validate(custom(function = "valid_division"))]
    #[schema(schema_with = division_schema)]
    pub division_code: String,
    #[validate(custom(function = "valid_text::<300>"))]
    #[schema(schema_with = text_schema::<300>)]
    pub address: String,
    pub licence: LicenceInput,
}

impl OperatorInput {
    /// Every problem at once, the licence's included.
    pub fn problems(&self) -> Vec<FieldProblem> {
        let mut problems = self
            .validate()
            .err()
            .map(|e| validation_problems(&e))
            .unwrap_or_default();
        problems.extend(division_problem(&self.province, &self.division_code));
        problems.extend(self.licence.problems_at("/licence"));
        sorted(problems)
    }

    pub fn read(&self) -> Result<(Party, NewLicence), Vec<FieldProblem>> {
        let problems = self.problems();
        if !problems.is_empty() {
            return Err(problems);
        }
        let p = party(
            &self.name,
            &self.uscc,
            &self.province,
            &self.division_code,
            &self.address,
        )
        .map_err(|e| vec![FieldProblem::body("", &e)])?;
        Ok((p, self.licence.read("/licence")?))
    }
}
