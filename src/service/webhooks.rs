//! Webhook subscriptions: the command that creates one, and the use cases of an owner (create,
//! list, read, delete, enable again, list deliveries, replay). Admins act for any party; others
//! for their own; someone else's subscription is hidden.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, Type};
use validator::{Validate, ValidationError};

use crate::auth::principal::{Binding, Principal, Role};
use crate::db::outbox::{DeliveryCounts, DeliveryView, SubscriptionRow};
use crate::db::{self, db_now, from_db_time, new_id};
use crate::domain::Invalid;
use crate::service::commands::{enum_schema, text_schema, valid_text, validation_problems};
use crate::service::error::{FieldProblem, Location};
use crate::service::{Ctx, Error, Result, cut_page};
use crate::state::AppState;
use crate::webhooks::{self, Event, EventType, OwnerKind};

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
    /// An https:// URL without credentials or fragment, whose host is public: one that is or
    /// resolves to a loopback, private or link-local address is refused (422) unless the
    /// deployment allows it.
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

#[derive(Debug, Serialize, ToSchema)]
pub struct OwnerDto {
    pub kind: OwnerKind,
    /// The enterprise or operator id, or the province code.
    pub id: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionDto {
    pub id: String,
    pub owner: OwnerDto,
    pub url: String,
    pub event_types: Vec<String>,
    pub description: Option<String>,
    /// `active`, or `disabled` after failing for a day (see `disabled_reason`).
    pub status: String,
    /// Since when every attempt failed (cleared by a success).
    pub failing_since: Option<String>,
    pub last_success_at: Option<String>,
    pub last_failure_at: Option<String>,
    pub disabled_at: Option<String>,
    pub disabled_reason: Option<String>,
    pub deliveries: DeliveryCounts,
    pub created_at: String,
}

/// A new subscription, with its secret: shown this once, never again.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionCreatedDto {
    #[serde(flatten)]
    pub subscription: SubscriptionDto,
    /// The HMAC key of the `Hwt-Signature` header (HMAC-SHA256, or HMAC-SM3 where the service
    /// runs with `HWT_CRYPTO=sm`). Store it now.
    pub secret: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionList {
    pub items: Vec<SubscriptionDto>,
}

fn instant(t: chrono::NaiveDateTime) -> String {
    from_db_time(t).to_rfc3339()
}

fn to_dto(s: SubscriptionRow, counts: DeliveryCounts) -> SubscriptionDto {
    SubscriptionDto {
        owner: OwnerDto {
            kind: OwnerKind::parse(&s.owner_kind).unwrap_or(OwnerKind::Province),
            id: s.owner_id.clone(),
        },
        event_types: s.event_types(),
        id: s.id,
        url: s.url,
        description: s.description,
        status: s.status,
        failing_since: s.failing_since.map(instant),
        last_success_at: s.last_success_at.map(instant),
        last_failure_at: s.last_failure_at.map(instant),
        disabled_at: s.disabled_at.map(instant),
        disabled_reason: s.disabled_reason,
        deliveries: counts,
        created_at: instant(s.created_at),
    }
}

/// The party a caller subscribes for; admins name it, auditors have none.
fn own_party(who: &Principal) -> Option<(OwnerKind, String)> {
    match (&who.role, &who.binding) {
        (Role::Enterprise, Binding::Enterprise(id)) => Some((OwnerKind::Enterprise, id.clone())),
        (Role::Operator, Binding::Operator(id)) => Some((OwnerKind::Operator, id.clone())),
        (Role::Regulator, Binding::Province(p)) => Some((OwnerKind::Province, p.as_str().to_string())),
        _ => None,
    }
}

/// Whether the caller may subscribe at all (before its body is read): admins, and the users of
/// an enterprise, an operator or a province.
pub fn may_subscribe(who: &Principal) -> Result<()> {
    if who.role == Role::Admin || own_party(who).is_some() {
        Ok(())
    } else {
        Err(Error::Forbidden(
            "webhooks are for enterprises, operators and provinces".into(),
        ))
    }
}

/// Subscribes an endpoint for the caller's own party (admins: the party named); the answer
/// holds the signing secret, shown only here.
pub async fn create(state: &AppState, ctx: &Ctx, new: NewSubscription) -> Result<SubscriptionCreatedDto> {
    let who = &ctx.who;
    may_subscribe(who)?;
    let admin = who.role == Role::Admin;
    let owner = match (new.owner, own_party(who)) {
        (Some(named), None) => named,
        (Some(named), Some(mine)) if named == mine => mine,
        (Some(_), Some(_)) => {
            return Err(Error::Forbidden("a subscription is for the caller's own party".into()));
        }
        (None, Some(mine)) => mine,
        (None, None) => return Err(Error::Forbidden("this caller has no webhooks".into())),
    };
    let secret = webhooks::new_secret().map_err(|e| Error::internal(anyhow::anyhow!("random source: {e}")))?;
    let (url, types, description, (kind, owner_id)) = (new.url, new.event_types, new.description, owner);
    if admin {
        let (k, id) = (kind.clone(), owner_id.clone());
        let exists = state
            .db
            .run(move |c| {
                Ok(match k {
                    OwnerKind::Enterprise => db::registry::enterprise_by_id(c, &id)?.is_some(),
                    OwnerKind::Operator => db::registry::operator_by_id(c, &id)?.is_some(),
                    OwnerKind::Province => crate::domain::ids::ProvinceCode::parse(&id)
                        .ok()
                        .and_then(crate::domain::province::province)
                        .is_some(),
                })
            })
            .await?;
        if !exists {
            return Err(Error::invalid_field(
                "/owner/id",
                &Invalid::new("webhook.owner", "no such enterprise, operator or province"),
            ));
        }
    }
    if let Some(why) = super::destinations::refusal(&url, state.config.webhook_allow_private).await {
        return Err(Error::invalid_field("/url", &why));
    }
    let now = db_now();
    let id = new_id();
    // Kept sealed (AES-256-GCM, `crypto::seal`); the owner sees the plaintext only now.
    let sealed = state.sealer.seal(&secret, &id).map_err(Error::internal)?;
    let row = SubscriptionRow {
        id,
        owner_kind: kind.as_str().to_string(),
        owner_id,
        url,
        event_types: serde_json::to_string(&types).unwrap_or_else(|_| "[]".into()),
        secret: sealed,
        description,
        status: "active".into(),
        failing_since: None,
        last_success_at: None,
        last_failure_at: None,
        disabled_at: None,
        disabled_reason: None,
        created_by: who.name.clone(),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let stored = row.clone();
    state
        .db
        .run(move |c| db::outbox::insert_subscription(c, &stored))
        .await?;
    tracing::info!(subscription = %row.id, owner = %row.owner_id, "webhook subscription created");
    Ok(SubscriptionCreatedDto {
        subscription: to_dto(row, DeliveryCounts::default()),
        secret,
    })
}

/// The caller's subscriptions (admins: all) with their state; for the API and the web UI, where
/// an owner sees a disabled endpoint.
pub async fn list(state: &AppState, ctx: &Ctx) -> Result<SubscriptionList> {
    let who = &ctx.who;
    let owner = match own_party(who) {
        Some(o) => Some(o),
        None if who.role == Role::Admin => None,
        None => return Err(Error::Forbidden("this caller has no webhooks".into())),
    };
    let items = state
        .db
        .run(move |c| {
            let rows = db::outbox::subscriptions(c, owner.as_ref().map(|(k, id)| (k, id.as_str())))?;
            let mut out = Vec::with_capacity(rows.len());
            for s in rows {
                let counts = db::outbox::delivery_counts(c, &s.id)?;
                out.push(to_dto(s, counts));
            }
            Ok(out)
        })
        .await?;
    Ok(SubscriptionList { items })
}

/// A subscription of the caller's party (admins: any); others' are hidden.
async fn load_own(state: &AppState, who: &Principal, id: String) -> Result<SubscriptionRow> {
    let sub = state
        .db
        .run(move |c| db::outbox::subscription(c, &id))
        .await?
        .ok_or(Error::Hidden)?;
    let mine = who.role == Role::Admin
        || own_party(who).is_some_and(|(k, id)| k.as_str() == sub.owner_kind && id == sub.owner_id);
    if mine { Ok(sub) } else { Err(Error::Hidden) }
}

async fn with_counts(state: &AppState, sub: SubscriptionRow) -> Result<SubscriptionDto> {
    let id = sub.id.clone();
    let counts = state.db.run(move |c| db::outbox::delivery_counts(c, &id)).await?;
    Ok(to_dto(sub, counts))
}

/// One subscription: its state (disabled, failing since) and delivery counts.
pub async fn get(state: &AppState, ctx: &Ctx, id: String) -> Result<SubscriptionDto> {
    let sub = load_own(state, &ctx.who, id).await?;
    with_counts(state, sub).await
}

/// Deletes a subscription: nothing more is delivered to it; its delivery record is kept.
pub async fn delete(state: &AppState, ctx: &Ctx, id: String) -> Result<()> {
    let sub = load_own(state, &ctx.who, id).await?;
    state
        .db
        .run(move |c| db::outbox::set_subscription_status(c, &sub.id, "deleted", "deleted"))
        .await?;
    Ok(())
}

/// Turns a disabled subscription back on: its failure record is cleared and pending deliveries
/// go out again; for the API and the web UI.
pub async fn enable(state: &AppState, ctx: &Ctx, id: String) -> Result<SubscriptionDto> {
    let sub = load_own(state, &ctx.who, id).await?;
    let updated = state
        .db
        .run(move |c| db::outbox::set_subscription_status(c, &sub.id, "active", "enabled"))
        .await?
        .ok_or(Error::Hidden)?;
    with_counts(state, updated).await
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AttemptDto {
    pub attempt: i32,
    pub at: String,
    /// The endpoint's HTTP status, when it answered.
    pub status_code: Option<i32>,
    /// Why there was no answer (timeout, connection).
    pub error: Option<String>,
    pub duration_ms: i32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryDto {
    pub id: String,
    /// The event exactly as posted (the body is this object's JSON).
    pub event: Event,
    /// `pending`, `delivered`, or `failed` (given up after 24 hours of retries).
    pub status: String,
    pub attempts: i32,
    /// When a pending delivery is tried next.
    pub next_attempt_at: Option<String>,
    pub give_up_at: String,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub delivered_at: Option<String>,
    pub attempt_log: Vec<AttemptDto>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryPage {
    pub items: Vec<DeliveryDto>,
    pub next_cursor: Option<String>,
}

fn delivery_dto(v: DeliveryView) -> Result<DeliveryDto> {
    let event: Event = serde_json::from_str(&v.event.payload).map_err(Error::internal)?;
    let d = v.delivery;
    Ok(DeliveryDto {
        next_attempt_at: (d.status == "pending").then(|| instant(d.next_attempt_at)),
        id: d.id,
        event,
        status: d.status,
        attempts: d.attempts,
        give_up_at: instant(d.give_up_at),
        last_status: d.last_status,
        last_error: d.last_error,
        delivered_at: d.delivered_at.map(instant),
        attempt_log: v
            .attempts
            .into_iter()
            .map(|a| AttemptDto {
                attempt: a.attempt,
                at: instant(a.at),
                status_code: a.status_code,
                error: a.error,
                duration_ms: a.duration_ms,
            })
            .collect(),
    })
}

pub fn parse_seq(s: &str) -> Result<i64, Invalid> {
    s.parse::<i64>()
        .ok()
        .filter(|n| (0..=webhooks::SEQ_MAX).contains(n))
        .ok_or_else(|| Invalid::new("webhook.seq", "an event seq: a whole number from 0"))
}

/// Which deliveries of a subscription: after an event's seq, of one status, one page.
#[derive(Debug, Clone)]
pub struct DeliveryQuery {
    /// The event seq to start after (0: from the first).
    pub after_seq: i64,
    /// pending, delivered or failed.
    pub status: Option<String>,
    pub limit: i64,
    /// The last delivery's event seq of the previous page.
    pub cursor: Option<i64>,
}

/// A subscription's deliveries in event order, each with its attempts.
pub async fn deliveries(state: &AppState, ctx: &Ctx, id: String, q: DeliveryQuery) -> Result<DeliveryPage> {
    let sub = load_own(state, &ctx.who, id).await?;
    let from = q.cursor.unwrap_or(0).max(q.after_seq);
    let (status, limit) = (q.status, q.limit);
    let mut rows = state
        .db
        .run(move |c| db::outbox::deliveries(c, &sub.id, from, status.as_deref(), limit + 1))
        .await?;
    let more = cut_page(&mut rows, limit);
    let next = if more {
        rows.last().map(|v| v.event.seq.to_string())
    } else {
        None
    };
    let items = rows.into_iter().map(delivery_dto).collect::<Result<Vec<_>>>()?;
    Ok(DeliveryPage {
        items,
        next_cursor: next,
    })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayDto {
    /// Deliveries queued again (or created, for events missed while disabled).
    pub queued: i64,
}

/// Delivers again every event after `after_seq` that the subscription hears, in order, with the
/// same event ids. A disabled subscription is enabled first.
pub async fn replay(state: &AppState, ctx: &Ctx, id: String, after_seq: i64) -> Result<ReplayDto> {
    let sub = load_own(state, &ctx.who, id).await?;
    if sub.status != "active" {
        return Err(Error::Conflict(
            "the subscription is disabled: enable it first, then replay".into(),
        ));
    }
    let now = Utc::now();
    let queued = state
        .db
        .run(move |c| db::outbox::replay(c, &sub, after_seq, now))
        .await?;
    Ok(ReplayDto { queued })
}
