//! Webhook subscriptions: the command that creates one. (The use cases move here next.)

use serde::Deserialize;
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, Type};
use validator::{Validate, ValidationError};

use crate::domain::Invalid;
use crate::service::commands::{enum_schema, text_schema, valid_text, validation_problems};
use crate::service::error::{FieldProblem, Location};
use crate::webhooks::{EventType, OwnerKind};

/// Whose subscription it is (admins only name one; everybody else subscribes for their own party).
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OwnerInput {
    /// enterprise, operator or province.
    #[validate(custom(function = "valid_owner_kind"))]
    #[schema(schema_with = owner_kind_schema)]
    pub kind: String,
    /// The enterprise's or operator's id, or the province code.
    #[validate(custom(function = "valid_text::<64>"))]
    #[schema(schema_with = text_schema::<64>)]
    pub id: String,
}

/// A new subscription: where to deliver which events.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionInput {
    /// An https:// URL without credentials or fragment.
    #[schema(schema_with = url_schema)]
    pub url: String,
    /// At least one event type; repeats count once. (Each is checked in
    /// [`SubscriptionInput::problems`], at its own pointer.)
    #[validate(custom(function = "valid_event_types"))]
    #[schema(schema_with = event_types_schema)]
    pub event_types: Vec<String>,
    #[serde(default, deserialize_with = "crate::service::commands::present")]
    #[validate(custom(function = "valid_text::<200>"))]
    #[schema(schema_with = text_schema::<200>)]
    pub description: Option<String>,
    /// The party the subscription is for: required for admins; anyone else may name only
    /// their own party (or leave it out).
    #[serde(default)]
    #[validate(nested)]
    pub owner: Option<OwnerInput>,
}

/// The published shape of a subscription URL, which [`parse_url`] applies too: https, a host
/// name (its last label starting with a letter: no IP literals), an optional port, then a path
/// and query of RFC 3986's characters (percent-escapes whole) without a fragment.
pub const URL_PATTERN: &str = "^https://([A-Za-z0-9-]+\\.)*[A-Za-z][A-Za-z0-9-]*(:([0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?([/?]([A-Za-z0-9._~!$&'()*+,;=:@/?-]|%[0-9A-Fa-f]{2})*)?$";

static URL_SHAPE: std::sync::LazyLock<Option<regex::Regex>> =
    std::sync::LazyLock::new(|| regex::Regex::new(URL_PATTERN).ok());

fn url_schema() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(utoipa::openapi::SchemaFormat::Custom("uri".into())))
        .pattern(Some(URL_PATTERN))
        .max_length(Some(2000))
        .description(Some("an https:// URL without credentials or #fragment"))
        .into()
}

fn event_types_schema() -> Schema {
    let names: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
    ArrayBuilder::new()
        .items(RefOr::T(enum_schema(&names, "an event type")))
        .min_items(Some(1))
        .into()
}

fn owner_kind_schema() -> Schema {
    enum_schema(
        &["enterprise", "operator", "province"],
        "enterprise, operator or province",
    )
}

fn valid_owner_kind(s: &str) -> Result<(), ValidationError> {
    OwnerKind::parse(s).map(|_| ()).ok_or_else(|| {
        ValidationError::new("webhook.owner_kind").with_message("enterprise, operator or province".into())
    })
}

fn valid_event_types(list: &[String]) -> Result<(), ValidationError> {
    if list.is_empty() {
        return Err(ValidationError::new("webhook.event_types").with_message("name at least one event type".into()));
    }
    Ok(())
}

/// A subscription URL: absolute, https (http only when `allow_http`), with a host, without
/// credentials or fragment; of [`URL_PATTERN`]'s shape unless `allow_http`.
pub fn parse_url(s: &str, allow_http: bool) -> Result<String, Invalid> {
    let bad = |m: &str| Invalid::new("webhook.url", m.to_string());
    if s.len() > 2000 {
        return Err(bad("at most 2000 characters"));
    }
    // The published shape; the setting that allows http:// (tests, closed networks) also allows
    // what the URL parser alone takes (IP literals among them).
    if !allow_http && !URL_SHAPE.as_ref().is_some_and(|re| re.is_match(s)) {
        return Err(bad(
            "an https:// URL with a host name, an optional port, and a path of URI characters without #fragment",
        ));
    }
    let url = reqwest::Url::parse(s).map_err(|_| bad("an absolute URL such as https://example.org/hooks"))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_http => {}
        "http" => return Err(bad("must be https:// (deliveries carry case data)")),
        _ => return Err(bad("must be an https:// URL")),
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("the URL has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad(
            "credentials in the URL are not accepted; deliveries are signed instead",
        ));
    }
    if url.fragment().is_some() {
        return Err(bad("a URL with a #fragment is not accepted"));
    }
    Ok(url.to_string())
}

pub fn parse_event_type(s: &str) -> Result<String, Invalid> {
    EventType::parse(s).map(|t| t.as_str().to_string()).ok_or_else(|| {
        Invalid::new(
            "webhook.event_type",
            format!(
                "unknown event type; known: {}",
                EventType::ALL.map(|t| t.as_str()).join(", ")
            ),
        )
    })
}

/// A checked subscription command.
pub struct NewSubscription {
    pub url: String,
    pub event_types: Vec<String>,
    pub description: Option<String>,
    pub owner: Option<(OwnerKind, String)>,
}

impl SubscriptionInput {
    /// Every problem at once, for a caller who is (`admin`) or is not an admin, with http://
    /// allowed or not.
    pub fn problems(&self, admin: bool, allow_http: bool) -> Vec<FieldProblem> {
        let mut problems = self
            .validate()
            .err()
            .map(|e| validation_problems(&e))
            .unwrap_or_default();
        if let Err(e) = parse_url(&self.url, allow_http) {
            problems.push(FieldProblem::body("/url", &e));
        }
        for (i, t) in self.event_types.iter().enumerate() {
            if let Err(e) = parse_event_type(t) {
                problems.push(FieldProblem::body(format!("/event_types/{i}"), &e));
            }
        }
        if admin && self.owner.is_none() {
            problems.push(FieldProblem::new(
                Location::Body,
                "/owner",
                "body.required",
                "an admin names the owner of the subscription",
            ));
        }
        problems.sort_by(|a, b| a.pointer.cmp(&b.pointer));
        problems
    }

    pub fn read(self, admin: bool, allow_http: bool) -> Result<NewSubscription, Vec<FieldProblem>> {
        let problems = self.problems(admin, allow_http);
        if !problems.is_empty() {
            return Err(problems);
        }
        let url = parse_url(&self.url, allow_http).map_err(|e| vec![FieldProblem::body("/url", &e)])?;
        let mut event_types = self.event_types;
        event_types.sort();
        event_types.dedup();
        Ok(NewSubscription {
            url,
            event_types,
            description: self.description.map(|d| d.trim().to_string()),
            owner: self
                .owner
                .and_then(|o| OwnerKind::parse(&o.kind).map(|k| (k, o.id.trim().to_string()))),
        })
    }
}
