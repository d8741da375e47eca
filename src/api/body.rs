//! Request bodies as typed commands: the struct that generates the body's schema in the published
//! document is the struct the server deserializes (serde, unknown fields refused) and validates
//! (`validator`), so the two cannot drift. Problems come back as the problem+json list with JSON
//! pointers: first every problem of shape at the body's top level, read from the type's own
//! schema (missing required fields, wrong JSON types, unknown fields); then serde, which reports
//! what is left of shape deeper down (the first problem, with its path); then `validator`, every
//! problem of content at once.

use serde::de::DeserializeOwned;
use serde_json::Value;
use utoipa::PartialSchema;
use validator::Validate;

use super::error::{ApiError, FieldProblem, Location};
use crate::service::commands::validation_problems;

/// Reads `value` as a `T`, or answers 422 with every problem found.
pub fn parse<T: DeserializeOwned + Validate + PartialSchema>(value: &Value) -> Result<T, ApiError> {
    if !value.is_object() {
        return Err(problem("", "body.not_object", "the body must be a JSON object"));
    }
    let shape = shape_problems(value, &serde_json::to_value(T::schema()).unwrap_or_default());
    if !shape.is_empty() {
        return Err(ApiError::Validation(shape));
    }
    let parsed: T = deserialize(value)?;
    parsed
        .validate()
        .map_err(|errors| ApiError::Validation(validation_problems(&errors)))?;
    Ok(parsed)
}

/// Reads `value` as a `T` as far as its shape goes (the top-level check, then serde), leaving
/// the content to the use case, which validates its command itself with every problem at once,
/// its cross-field rules included.
pub fn read<T: DeserializeOwned + PartialSchema>(value: &Value) -> Result<T, ApiError> {
    if !value.is_object() {
        return Err(problem("", "body.not_object", "the body must be a JSON object"));
    }
    let shape = shape_problems(value, &serde_json::to_value(T::schema()).unwrap_or_default());
    if !shape.is_empty() {
        return Err(ApiError::Validation(shape));
    }
    deserialize(value)
}

/// Every problem of shape at the top of the body, read from the type's own published schema:
/// each missing required field, each field of the wrong JSON type, each unknown field. (serde
/// alone would stop at the first.) Schemas that are a choice (`oneOf`) are left to serde.
fn shape_problems(value: &Value, schema: &Value) -> Vec<FieldProblem> {
    let (Some(object), Some(properties)) = (value.as_object(), schema.get("properties").and_then(Value::as_object))
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for name in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
        if let Some(name) = name.as_str()
            && !object.contains_key(name)
        {
            out.push(FieldProblem::new(
                Location::Body,
                format!("/{name}"),
                "body.required",
                "this field is required",
            ));
        }
    }
    let closed = schema.get("additionalProperties") == Some(&Value::Bool(false));
    for (name, v) in object {
        let pointer = format!("/{}", name.replace('~', "~0").replace('/', "~1"));
        let Some(property) = properties.get(name) else {
            if closed {
                out.push(FieldProblem::new(
                    Location::Body,
                    pointer,
                    "body.unknown_field",
                    "unknown field",
                ));
            }
            continue;
        };
        let types: Vec<&str> = match property.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ => continue,
        };
        let fits = types.iter().any(|t| match *t {
            "string" => v.is_string(),
            // JSON Schema counts 281.0 as an integer.
            "integer" => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
            "number" => v.is_number(),
            "boolean" => v.is_boolean(),
            "array" => v.is_array(),
            "object" => v.is_object(),
            "null" => v.is_null(),
            _ => true,
        });
        if !fits {
            out.push(FieldProblem::new(
                Location::Body,
                pointer,
                "body.type",
                format!("must be {}", types.join(" or ")),
            ));
        }
    }
    out.sort_by(|a, b| a.pointer.cmp(&b.pointer));
    out
}

fn deserialize<T: DeserializeOwned>(value: &Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value.clone()).map_err(|e| {
        let mut pointer = pointer_of(e.path());
        let message = e.inner().to_string();
        let code = if let Some(field) = message
            .strip_prefix("missing field `")
            .and_then(|m| m.split('`').next())
        {
            pointer = format!("{pointer}/{field}");
            "body.required"
        } else if message.starts_with("unknown field") {
            "body.unknown_field"
        } else if message.starts_with("unknown variant") {
            "body.enum"
        } else {
            "body.type"
        };
        // serde's text names Rust types now and then; keep the part a client can act on.
        let message = message
            .split(", expected")
            .next()
            .unwrap_or(&message)
            .replace('`', "\"");
        problem(&pointer, code, message)
    })
}

fn problem(pointer: &str, code: &str, message: impl Into<String>) -> ApiError {
    ApiError::Validation(vec![FieldProblem::new(Location::Body, pointer, code, message)])
}

fn pointer_of(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    path.iter()
        .filter_map(|s| match s {
            Segment::Seq { index } => Some(index.to_string()),
            Segment::Map { key } => Some(key.replace('~', "~0").replace('/', "~1")),
            Segment::Enum { .. } | Segment::Unknown => None,
        })
        .fold(String::new(), |acc, s| format!("{acc}/{s}"))
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;
    use serde_json::json;

    use super::*;

    #[derive(Debug, Deserialize, Validate, utoipa::ToSchema)]
    #[serde(deny_unknown_fields)]
    struct Probe {
        #[validate(length(min = 1, max = 3))]
        name: String,
        #[validate(length(max = 2))]
        #[serde(default)]
        tags: Vec<String>,
    }

    fn pointers(v: Value) -> Vec<(String, String)> {
        match parse::<Probe>(&v) {
            Err(ApiError::Validation(ps)) => ps.into_iter().map(|p| (p.pointer, p.code)).collect(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn shape_then_content_problems_with_pointers() {
        assert_eq!(pointers(json!({})), [("/name".into(), "body.required".into())]);
        assert_eq!(pointers(json!({"name": 1})), [("/name".into(), "body.type".into())]);
        // Every problem of shape at once, not only serde's first.
        assert_eq!(
            pointers(json!({"tags": "x", "y": 1, "z": 2})),
            [
                ("/name".into(), "body.required".into()),
                ("/tags".into(), "body.type".into()),
                ("/y".into(), "body.unknown_field".into()),
                ("/z".into(), "body.unknown_field".into())
            ]
        );
        assert_eq!(
            pointers(json!({"name": "a", "x": 1})),
            [("/x".into(), "body.unknown_field".into())]
        );
        assert_eq!(
            pointers(json!({"name": "", "tags": ["a", "b", "c"]})),
            [
                ("/name".into(), "body.length".into()),
                ("/tags".into(), "body.length".into())
            ]
        );
        assert_eq!(pointers(json!([1])), [("".into(), "body.not_object".into())]);
        assert!(parse::<Probe>(&json!({"name": "abc"})).is_ok());
    }
}
