//! Pieces the typed commands share: the schema of a free text as the domain's `text` rule reads
//! it, and the reason body of the status changes (an entry, a licence).

use serde::Deserialize;
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, Type};
use validator::{Validate, ValidationError, ValidationErrors, ValidationErrorsKind};

use crate::domain::calendar::{DATE_PATTERN, parse_date};
use crate::domain::error::{text, text_pattern};
use crate::service::error::{FieldProblem, Location, validation_error};

/// The schema of a text of at most `MAX` characters (`domain::error::text`).
pub fn text_schema<const MAX: usize>() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(text_pattern(MAX)))
        .description(Some(format!(
            "1 to {MAX} characters after trimming, no control characters"
        )))
        .into()
}

/// Such a text, or `null` (for optional fields clients often send as `null`).
pub fn nullable_text_schema<const MAX: usize>() -> Schema {
    ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::from_iter([
            Type::String,
            Type::Null,
        ]))
        .pattern(Some(text_pattern(MAX)))
        .description(Some(format!(
            "1 to {MAX} characters after trimming, no control characters; or null"
        )))
        .into()
}

/// A list of such texts, at least `MIN` of them.
pub fn texts_schema<const MAX: usize, const MIN: usize>() -> Schema {
    let items = ArrayBuilder::new().items(RefOr::T(text_schema::<MAX>()));
    if MIN > 0 { items.min_items(Some(MIN)) } else { items }.into()
}

/// The schema of a date as [`parse_date`] reads it.
pub fn date_schema() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
            utoipa::openapi::KnownFormat::Date,
        )))
        .pattern(Some(DATE_PATTERN))
        .description(Some("a date YYYY-MM-DD, years 2000 to 2100"))
        .into()
}

/// `validator`'s check of such a date.
pub fn valid_date(s: &str) -> Result<(), ValidationError> {
    parse_date(s).map(|_| ()).map_err(validation_error)
}

/// The schema of an instant as [`parse_instant`](crate::domain::calendar::parse_instant) reads it.
pub fn instant_schema() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(utoipa::openapi::SchemaFormat::KnownFormat(
            utoipa::openapi::KnownFormat::DateTime,
        )))
        .description(Some("an instant, RFC 3339"))
        .into()
}

/// `validator`'s check of such an instant.
pub fn valid_instant(s: &str) -> Result<(), ValidationError> {
    crate::domain::calendar::parse_instant(s)
        .map(|_| ())
        .map_err(validation_error)
}

/// `validator`'s check of a quantity above zero in kilograms (`Quantity::parse_kg`).
pub fn valid_kg(s: &str) -> Result<(), ValidationError> {
    crate::domain::quantity::Quantity::parse_kg(s)
        .map(|_| ())
        .map_err(validation_error)
}

/// The answer to an `Idempotency-Key` used before for a different request.
pub fn key_reused() -> crate::service::Error {
    crate::service::Error::Invalid(vec![FieldProblem::new(
        Location::Header,
        "/Idempotency-Key",
        "idempotency.key_reused",
        "this Idempotency-Key was used for a different request",
    )])
}

/// A string that is one of `values`.
pub fn enum_schema(values: &[&str], description: &str) -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values.iter().copied()))
        .description(Some(description))
        .into()
}

/// A province code (GB/T 2260), one of the 31.
pub fn province_schema() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(
            crate::domain::province::provinces().iter().map(|p| p.code.as_str()),
        ))
        .description(Some("a province code (GB/T 2260)"))
        .into()
}

/// `validator`'s check of such a text.
pub fn valid_text<const MAX: usize>(s: &str) -> Result<(), ValidationError> {
    text(s, MAX).map(|_| ()).map_err(validation_error)
}

/// `validator`'s check of each text of a list.
pub fn valid_texts<const MAX: usize>(list: &[String]) -> Result<(), ValidationError> {
    list.iter().try_for_each(|s| valid_text::<MAX>(s))
}

/// An optional field that, when sent, is a string: absent is `None`, `null` is refused like any
/// other wrong type (the schema says "string", not "string or null").
pub fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    String::deserialize(d).map(Some)
}

/// A whole number as JSON Schema counts one: `281` and `281.0` alike (the published type is
/// "integer", which admits both).
pub fn whole_number<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: TryFrom<i64>,
{
    use serde::de::Error;
    let n = serde_json::Number::deserialize(d)?;
    let whole = n
        .as_i64()
        .or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        })
        .ok_or_else(|| D::Error::custom("a whole number"))?;
    T::try_from(whole).map_err(|_| D::Error::custom("a whole number in range"))
}

/// Why an entry or a licence is suspended or reinstated (shown to the parties and kept in the
/// history).
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReasonInput {
    #[validate(custom(function = "valid_text::<500>"))]
    #[schema(schema_with = text_schema::<500>)]
    pub reason: String,
}

impl ReasonInput {
    pub fn text(&self) -> String {
        self.reason.trim().to_string()
    }
}

/// `validator`'s findings as the problem list, each with its JSON pointer, in pointer order.
pub fn validation_problems(errors: &ValidationErrors) -> Vec<FieldProblem> {
    let mut problems = Vec::new();
    collect(errors, String::new(), &mut problems);
    problems.sort_by(|a, b| a.pointer.cmp(&b.pointer));
    problems
}

fn collect(errors: &ValidationErrors, at: String, out: &mut Vec<FieldProblem>) {
    for (field, kind) in errors.errors() {
        let here = format!("{at}/{field}");
        match kind {
            ValidationErrorsKind::Field(list) => {
                for e in list {
                    out.push(field_problem(&here, e));
                }
            }
            ValidationErrorsKind::Struct(inner) => collect(inner, here, out),
            ValidationErrorsKind::List(items) => {
                for (i, inner) in items {
                    collect(inner, format!("{here}/{i}"), out);
                }
            }
        }
    }
}

fn field_problem(pointer: &str, e: &ValidationError) -> FieldProblem {
    let message = e.message.as_ref().map(|m| m.to_string()).unwrap_or_else(|| {
        let bound = |k: &str| e.params.get(k).map(|v| v.to_string());
        match (e.code.as_ref(), bound("min"), bound("max")) {
            ("length", Some(min), Some(max)) => format!("must have {min} to {max} characters or entries"),
            ("length", None, Some(max)) => format!("must have at most {max} characters or entries"),
            ("length", Some(min), None) => format!("must have at least {min} characters or entries"),
            ("range", Some(min), Some(max)) => format!("must be from {min} to {max}"),
            (code, _, _) => format!("is not valid ({code})"),
        }
    });
    let code = if e.code.contains('.') {
        e.code.to_string()
    } else {
        format!("body.{}", e.code)
    };
    FieldProblem::new(Location::Body, pointer, code, message)
}
