//! Request bodies as typed commands: the struct that generates the body's schema in the published
//! document is the struct the server deserializes (serde, unknown fields refused) and validates
//! (`validator`), so the two cannot drift. Problems come back as the problem+json list with JSON
//! pointers, every problem at once: those of shape at any depth, read from the type's own
//! schema (missing required fields, wrong JSON types, unknown fields), together with those of
//! content (`validator`, and a use case's cross-field rules) in the fields that are there.

use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use std::any::TypeId;
use std::collections::HashMap;
use std::sync::{LazyLock, RwLock};

use utoipa::ToSchema;
use validator::Validate;

use super::error::{ApiError, FieldProblem, Location};
use crate::service::commands::validation_problems;

/// Reads `value` as a `T` and checks its content with `validator`, or answers 422 with every
/// problem found.
pub fn parse<T: DeserializeOwned + Validate + ToSchema + 'static>(value: &Value) -> Result<T, ApiError> {
    let parsed: T = read(value, |t: &T| {
        t.validate().err().map(|e| validation_problems(&e)).unwrap_or_default()
    })?;
    parsed
        .validate()
        .map_err(|errors| ApiError::Validation(validation_problems(&errors)))?;
    Ok(parsed)
}

/// Reads `value` as a `T` as far as its shape goes, leaving the content to the use case, which
/// checks its command itself (cross-field rules included). When the shape is wrong, the answer
/// still lists every problem: those of shape at any depth, read from the type's own published
/// schema (missing required fields, wrong JSON types, unknown fields), and those `content` finds
/// in the fields that are there — a stand-in takes each misshapen field's place for that.
pub fn read<T: DeserializeOwned + ToSchema + 'static>(
    value: &Value,
    content: impl FnOnce(&T) -> Vec<FieldProblem>,
) -> Result<T, ApiError> {
    if !value.is_object() {
        return Err(problem("", "body.not_object", "the body must be a JSON object"));
    }
    let (schema, components) = schema_of::<T>();
    let mut shape = Vec::new();
    let repaired = check(value, schema, components, "", &mut shape);
    if shape.is_empty() {
        return deserialize(value);
    }
    if let Ok(stand_in) = serde_json::from_value::<T>(repaired) {
        let covered = |p: &str| {
            shape.iter().any(|s| {
                p == s.pointer
                    || p.strip_prefix(s.pointer.as_str())
                        .is_some_and(|rest| rest.starts_with('/'))
            })
        };
        let more: Vec<FieldProblem> = content(&stand_in)
            .into_iter()
            .filter(|p| !covered(&p.pointer))
            .collect();
        shape.extend(more);
    }
    shape.sort_by(|a, b| a.pointer.cmp(&b.pointer));
    Err(ApiError::Validation(shape))
}

type Components = serde_json::Map<String, Value>;

/// The published schema of `T` and of the types it names, as JSON, made once per type.
fn schema_of<T: ToSchema + 'static>() -> (&'static Value, &'static Components) {
    type Made = (&'static Value, &'static Components);
    static CACHE: LazyLock<RwLock<HashMap<TypeId, Made>>> = LazyLock::new(Default::default);
    let id = TypeId::of::<T>();
    if let Some(found) = CACHE.read().ok().and_then(|c| c.get(&id).copied()) {
        return found;
    }
    let schema = serde_json::to_value(T::schema()).unwrap_or_default();
    let mut named = Vec::new();
    T::schemas(&mut named);
    let components: Components = named
        .into_iter()
        .map(|(name, s)| (name, serde_json::to_value(s).unwrap_or_default()))
        .collect();
    // A handful of body types, each made once: leaking them is the cache.
    let made: Made = (Box::leak(Box::new(schema)), Box::leak(Box::new(components)));
    if let Ok(mut c) = CACHE.write() {
        c.insert(id, made);
    }
    made
}

fn resolve<'a>(schema: &'a Value, components: &'a Components) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => r
            .strip_prefix("#/components/schemas/")
            .and_then(|name| components.get(name))
            .unwrap_or(schema),
        None => schema,
    }
}

fn types_of(schema: &Value) -> Vec<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn fits(v: &Value, t: &str) -> bool {
    match t {
        "string" => v.is_string(),
        // JSON Schema counts 281.0 as an integer.
        "integer" => v.is_i64() || v.is_u64() || v.as_f64().is_some_and(|f| f.fract() == 0.0),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        "null" => v.is_null(),
        _ => true,
    }
}

/// Every problem of shape of `value` against `schema`, at any depth, and the value with a
/// stand-in in place of each misshapen part (unknown fields dropped). Choices (`oneOf`) are left
/// to serde.
fn check(value: &Value, schema: &Value, components: &Components, at: &str, out: &mut Vec<FieldProblem>) -> Value {
    let schema = resolve(schema, components);
    // An optional part (`oneOf: [null, the part]`): null, or the part.
    if let Some([a, b]) = schema.get("oneOf").and_then(Value::as_array).map(Vec::as_slice) {
        let null = json!({"type": "null"});
        if *a == null || *b == null {
            if value.is_null() {
                return Value::Null;
            }
            return check(value, if *a == null { b } else { a }, components, at, out);
        }
    }
    if schema.get("oneOf").is_some() || schema.get("anyOf").is_some() || schema.get("allOf").is_some() {
        return value.clone();
    }
    let types = types_of(schema);
    if !types.is_empty() && !types.iter().any(|t| fits(value, t)) {
        out.push(FieldProblem::new(
            Location::Body,
            at,
            "body.type",
            format!("must be {}", types.join(" or ")),
        ));
        return stand_in(schema, components);
    }
    match value {
        Value::Object(object) => {
            let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
                return value.clone();
            };
            let closed = schema.get("additionalProperties") == Some(&Value::Bool(false));
            let mut repaired = serde_json::Map::new();
            for (name, v) in object {
                let pointer = format!("{at}/{}", name.replace('~', "~0").replace('/', "~1"));
                match properties.get(name) {
                    Some(property) => {
                        repaired.insert(name.clone(), check(v, property, components, &pointer, out));
                    }
                    None if closed => out.push(FieldProblem::new(
                        Location::Body,
                        pointer,
                        "body.unknown_field",
                        "unknown field",
                    )),
                    None => {
                        repaired.insert(name.clone(), v.clone());
                    }
                }
            }
            for name in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
                if let Some(name) = name.as_str()
                    && !object.contains_key(name)
                {
                    out.push(FieldProblem::new(
                        Location::Body,
                        format!("{at}/{name}"),
                        "body.required",
                        "this field is required",
                    ));
                    if let Some(property) = properties.get(name) {
                        repaired.insert(name.to_string(), stand_in(property, components));
                    }
                }
            }
            Value::Object(repaired)
        }
        Value::Array(list) => match schema.get("items") {
            Some(items) => Value::Array(
                list.iter()
                    .enumerate()
                    .map(|(i, v)| check(v, items, components, &format!("{at}/{i}"), out))
                    .collect(),
            ),
            None => value.clone(),
        },
        _ => value.clone(),
    }
}

/// A value of the schema's shape that stands in for a missing or misshapen one while the rest of
/// the body is checked; its own problems are not reported.
fn stand_in(schema: &Value, components: &Components) -> Value {
    let schema = resolve(schema, components);
    if let Some(first) = schema.get("enum").and_then(Value::as_array).and_then(|e| e.first()) {
        return first.clone();
    }
    if let Some(first) = schema
        .get("oneOf")
        .or_else(|| schema.get("anyOf"))
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return stand_in(first, components);
    }
    match types_of(schema).first().copied() {
        Some("string") => Value::String(String::new()),
        Some("integer" | "number") => Value::from(0),
        Some("boolean") => Value::Bool(false),
        Some("array") => Value::Array(Vec::new()),
        Some("object") => {
            let mut object = serde_json::Map::new();
            let properties = schema.get("properties").and_then(Value::as_object);
            for name in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
                if let (Some(name), Some(properties)) = (name.as_str(), properties)
                    && let Some(property) = properties.get(name)
                {
                    object.insert(name.to_string(), stand_in(property, components));
                }
            }
            Value::Object(object)
        }
        _ => Value::Null,
    }
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

    #[derive(Debug, Deserialize, Validate, utoipa::ToSchema)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        #[validate(length(min = 1, max = 3))]
        name: String,
        #[validate(nested)]
        inner: Vec<Probe>,
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
        // Shape at any depth and content where the shape allows, all in one answer.
        let problems = match parse::<Outer>(&json!({
            "name": "too long", "inner": [{"name": 5}, {"name": "", "x": 1}, {"name": "ok"}], "y": 2
        })) {
            Err(ApiError::Validation(ps)) => ps.into_iter().map(|p| (p.pointer, p.code)).collect::<Vec<_>>(),
            other => panic!("{other:?}"),
        };
        let expected: Vec<(String, String)> = [
            ("/inner/0/name", "body.type"),
            ("/inner/1/name", "body.length"),
            ("/inner/1/x", "body.unknown_field"),
            ("/name", "body.length"),
            ("/y", "body.unknown_field"),
        ]
        .iter()
        .map(|(p, c)| (p.to_string(), c.to_string()))
        .collect();
        assert_eq!(problems, expected);
        assert!(parse::<Probe>(&json!({"name": "abc"})).is_ok());
    }
}
