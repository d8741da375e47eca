//! Filing a transfer application (转移申请) and its dry run: the command as clients send it, its
//! checks (every problem at once, the period's cross-field rules included), and the one use case
//! both the JSON API and any other door call.

use chrono::{Duration, NaiveDate, NaiveTime};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ArrayBuilder, Schema};
use validator::{Validate, ValidationError};

use super::case::{ApplicationDto, dto_with, load_dto};
use crate::auth::principal::{Binding, Principal, Role};
use crate::db::{
    self,
    applications::{Assessment, Carrier, FileOutcome, Filing, FilingItem, Method},
};
use crate::domain::Invalid;
use crate::domain::calendar::{WorkingDayCalendar, deadline_instant, parse_date, shanghai_date};
use crate::domain::catalogue::{Hazard, WASTE_CODE_PATTERN, WasteCode};
use crate::domain::quantity::{KG_PATTERN, Quantity, grams_to_kg_string};
use crate::domain::workflow::{Route, StepKind, step_due};
use crate::service::commands::{
    date_schema, enum_schema, present, text_schema, valid_date, valid_kg, valid_text, validation_problems,
};
use crate::service::error::{FieldProblem, Location, validation_error};
use crate::service::{Ctx, Error, Result};
use crate::state::AppState;

/// How the waste is handled: the six spellings `Method::parse` takes.
const METHODS: &[&str] = &["utilise", "dispose", "store", "利用", "处置", "贮存"];

/// One line of waste.
#[derive(Debug, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemInput {
    /// NNN-NNN-NN, in the catalogue edition in force today.
    #[validate(custom(function = "valid_waste_code"))]
    #[schema(schema_with = waste_code_schema)]
    pub waste_code: String,
    #[validate(custom(function = "valid_text::<200>"))]
    #[schema(schema_with = text_schema::<200>)]
    pub waste_name: String,
    /// 固态, 液态, 半固态, 气态 …
    #[validate(custom(function = "valid_text::<50>"))]
    #[schema(schema_with = text_schema::<50>)]
    pub physical_form: String,
    /// Hazard characteristics: T, C, I, R, In; each once. (Checked in
    /// [`ApplicationInput::problems`], which points at the very item of the list.)
    #[schema(schema_with = hazards_schema)]
    pub hazards: Vec<String>,
    #[validate(custom(function = "valid_text::<100>"))]
    #[schema(schema_with = text_schema::<100>)]
    pub packaging: String,
    /// kg above zero, a decimal string with at most 3 decimals.
    #[validate(custom(function = "valid_kg"))]
    #[schema(schema_with = kg_schema)]
    pub quantity_kg: String,
}

/// A carrier named on the filing (the manifest names its own trips' carriers).
#[derive(Debug, Serialize, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FilingCarrierInput {
    #[validate(custom(function = "valid_text::<200>"))]
    #[schema(schema_with = text_schema::<200>)]
    pub name: String,
    /// 道路运输经营许可证 number.
    #[validate(custom(function = "valid_text::<64>"))]
    #[schema(schema_with = text_schema::<64>)]
    pub permit_number: String,
    /// Leave it out when not known yet.
    #[serde(default, deserialize_with = "present")]
    #[validate(custom(function = "valid_text::<20>"))]
    #[schema(schema_with = text_schema::<20>)]
    pub plate: Option<String>,
}

/// Body of a filing (and of the dry-run check). The period ends on or after its start, within
/// 366 days of it, and not before today.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationInput {
    /// The receiving operator (经营单位).
    #[validate(custom(function = "valid_text::<64>"))]
    #[schema(schema_with = text_schema::<64>)]
    pub operator_id: String,
    /// utilise (利用), dispose (处置) or store (贮存).
    #[validate(custom(function = "valid_method"))]
    #[schema(schema_with = method_schema)]
    pub method: String,
    #[validate(custom(function = "valid_date"))]
    #[schema(schema_with = date_schema)]
    pub period_start: String,
    #[validate(custom(function = "valid_date"))]
    #[schema(schema_with = date_schema)]
    pub period_end: String,
    #[validate(length(min = 1, max = 50), nested)]
    #[schema(min_items = 1, max_items = 50)]
    pub items: Vec<ItemInput>,
    #[validate(length(min = 1), nested)]
    #[schema(min_items = 1)]
    pub carriers: Vec<FilingCarrierInput>,
}

fn valid_waste_code(s: &str) -> std::result::Result<(), ValidationError> {
    WasteCode::parse(s).map(|_| ()).map_err(validation_error)
}

fn waste_code_schema() -> Schema {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .pattern(Some(WASTE_CODE_PATTERN))
        .description(Some("a waste code NNN-NNN-NN of the catalogue (国家危险废物名录)"))
        .into()
}

/// The schema of a quantity above zero in kilograms.
pub fn kg_schema() -> Schema {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .pattern(Some(KG_PATTERN))
        .description(Some("kilograms above zero, at most 3 decimals, up to 1000000000"))
        .into()
}

fn valid_method(s: &str) -> std::result::Result<(), ValidationError> {
    Method::parse(s).map(|_| ()).map_err(validation_error)
}

fn method_schema() -> Schema {
    enum_schema(METHODS, "utilise (利用), dispose (处置) or store (贮存)")
}

/// Every problem of a hazard list, each at its item's pointer.
fn hazard_problems(list: &[String], at: &str, out: &mut Vec<FieldProblem>) {
    if list.is_empty() {
        out.push(FieldProblem::new(
            Location::Body,
            at,
            "application.hazards",
            "at least one hazard characteristic",
        ));
    }
    for (j, h) in list.iter().enumerate() {
        let problem = match Hazard::parse(h) {
            Err(invalid) => invalid,
            Ok(_) if list[..j].contains(h) => {
                crate::domain::Invalid::new("hazard.duplicate", format!("hazard {h} is listed twice"))
            }
            Ok(_) => continue,
        };
        out.push(FieldProblem::body(format!("{at}/{j}"), &problem));
    }
}

fn hazards_schema() -> Schema {
    ArrayBuilder::new()
        .items(RefOr::T(enum_schema(
            &["T", "C", "I", "R", "In"],
            "a hazard characteristic",
        )))
        .min_items(Some(1))
        .max_items(Some(5))
        .unique_items(true)
        .into()
}

impl ApplicationInput {
    /// Every problem of the command at once: each field's, then the period's, which depend on
    /// `today`.
    pub fn problems(&self, today: NaiveDate) -> Vec<FieldProblem> {
        let mut problems = self
            .validate()
            .err()
            .map(|e| validation_problems(&e))
            .unwrap_or_default();
        for (i, item) in self.items.iter().enumerate() {
            hazard_problems(&item.hazards, &format!("/items/{i}/hazards"), &mut problems);
        }
        if let (Ok(start), Ok(end)) = (parse_date(&self.period_start), parse_date(&self.period_end)) {
            let mut period = |code: &str, message: &str| {
                problems.push(FieldProblem::new(Location::Body, "/period_end", code, message));
            };
            if end < start {
                period("application.period", "period_end is before period_start");
            } else if end > start + Duration::days(366) {
                period("application.period_too_long", "a requested period is at most one year");
            }
            if end < today {
                period("application.period_past", "the requested period is already over");
            }
        }
        problems.sort_by(|a, b| a.pointer.cmp(&b.pointer));
        problems
    }

    /// [`ApplicationInput::problems`] as of today in Asia/Shanghai.
    pub fn problems_today(&self) -> Vec<FieldProblem> {
        self.problems(shanghai_date(chrono::Utc::now()))
    }

    /// The filing the database takes, once [`ApplicationInput::problems`] found nothing.
    fn into_filing(
        self,
        enterprise_id: String,
        filed_by: String,
        idempotency_key: Option<String>,
        request_hash: String,
        today: NaiveDate,
    ) -> Result<Filing> {
        let problems = self.problems(today);
        if !problems.is_empty() {
            return Err(Error::Invalid(problems));
        }
        let invalid = |e: crate::domain::Invalid| Error::invalid_field("", &e);
        let mut items = Vec::with_capacity(self.items.len());
        for item in self.items {
            items.push(FilingItem {
                code: WasteCode::parse(&item.waste_code).map_err(invalid)?,
                name: item.waste_name.trim().to_string(),
                physical_form: item.physical_form.trim().to_string(),
                hazards: Hazard::parse_list(&item.hazards.join("/"))
                    .map_err(invalid)?
                    .iter()
                    .map(|h| h.as_str())
                    .collect::<Vec<_>>()
                    .join("/"),
                packaging: item.packaging.trim().to_string(),
                quantity: Quantity::parse_kg(&item.quantity_kg).map_err(invalid)?,
            });
        }
        Ok(Filing {
            enterprise_id,
            operator_id: self.operator_id.trim().to_string(),
            method: Method::parse(&self.method).map_err(invalid)?,
            period_start: parse_date(&self.period_start).map_err(invalid)?,
            period_end: parse_date(&self.period_end).map_err(invalid)?,
            carriers: self
                .carriers
                .into_iter()
                .map(|c| Carrier {
                    name: c.name.trim().to_string(),
                    permit_number: c.permit_number.trim().to_string(),
                    plate: c.plate.map(|p| p.trim().to_string()),
                })
                .collect(),
            items,
            idempotency_key,
            request_hash,
            filed_by,
        })
    }
}

/// Only a transferring party (移出人) files: a producer enterprise or a licensed collector (its
/// people or its API clients); a collector's licence is checked with the filing's other rules.
fn enterprise_of(who: &Principal) -> Result<String> {
    match (&who.role, &who.binding) {
        (Role::Enterprise, Binding::Enterprise(id)) => Ok(id.clone()),
        _ => Err(Error::Forbidden(
            "only a transferring party (a producer or a licensed collector) files transfer applications".into(),
        )),
    }
}

/// A filing that happened: the case, and whether it is the first answer to an earlier request
/// with the same `Idempotency-Key`.
pub struct Filed {
    pub application: ApplicationDto,
    pub version: i32,
    pub replayed: bool,
}

/// The header that carries a confirmation back.
pub const CONFIRM_HEADER: &str = "X-Confirm-Warnings";

/// The confirmation of a filing on the standard route: HMAC-SHA256, under a key derived from the
/// token signing key, over the enterprise, the request's fingerprint (the same as for
/// `Idempotency-Key`) and the reasons in a canonical order, as 43 characters of base64url. It is
/// deterministic and stateless: the same body with the same reasons is confirmed by the same
/// token (on any replica sharing the keys); a changed body, or changed reasons (another quota
/// left, an entry suspended or reinstated), need a new one.
pub fn confirmation_token(
    key: &[u8; 32],
    enterprise_id: &str,
    request_hash: &str,
    reasons: &[(String, Invalid)],
) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(confirmation_mac(key, enterprise_id, request_hash, reasons))
}

/// Whether `token` confirms these reasons for this enterprise and request (compared in constant
/// time).
pub fn confirms(
    key: &[u8; 32],
    enterprise_id: &str,
    request_hash: &str,
    reasons: &[(String, Invalid)],
    token: &str,
) -> bool {
    use base64::Engine;
    use hmac::Mac;
    let Ok(sent) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token) else {
        return false;
    };
    confirmation_hmac(key, enterprise_id, request_hash, reasons)
        .verify_slice(&sent)
        .is_ok()
}

fn confirmation_hmac(
    key: &[u8; 32],
    enterprise_id: &str,
    request_hash: &str,
    reasons: &[(String, Invalid)],
) -> hmac::Hmac<sha2::Sha256> {
    use hmac::Mac;
    use hmac::digest::KeyInit;
    // HMAC pads a short key with zeros to the hash's block (64 bytes): done here, so the
    // constructor that cannot fail applies.
    let mut block = [0u8; 64];
    block[..32].copy_from_slice(key);
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new(&block.into());
    let mut sorted: Vec<[&str; 3]> = reasons
        .iter()
        .map(|(pointer, r)| [r.code, pointer.as_str(), r.message.as_str()])
        .collect();
    sorted.sort();
    // Each part with its length first, so no two different lists write the same bytes.
    let mut part = |bytes: &[u8]| {
        mac.update(&(bytes.len() as u64).to_be_bytes());
        mac.update(bytes);
    };
    part(b"filing confirmation v1");
    part(enterprise_id.as_bytes());
    part(request_hash.as_bytes());
    for [code, pointer, message] in sorted {
        part(code.as_bytes());
        part(pointer.as_bytes());
        part(message.as_bytes());
    }
    mac
}

fn confirmation_mac(key: &[u8; 32], enterprise_id: &str, request_hash: &str, reasons: &[(String, Invalid)]) -> Vec<u8> {
    use hmac::Mac;
    confirmation_hmac(key, enterprise_id, request_hash, reasons)
        .finalize()
        .into_bytes()
        .to_vec()
}

/// What a filing of this assessment is answered without a confirmation: that it would take the
/// standard route, then every reason with its `route.*` code at the field it concerns.
pub fn standard_route_problems(reasons: &[(String, Invalid)]) -> Vec<FieldProblem> {
    let mut out = vec![FieldProblem::new(
        Location::Body,
        "",
        "filing.standard_route",
        format!(
            "this filing would not take the whitelist route (both provinces decide within 5 working days) \
             but the standard route of 部令第23号 (acceptance, review, the receiving province's opinion and the \
             decision: about 20 working days), for {} reason(s) listed here; to file it on the standard route, \
             send the same body again with the header {CONFIRM_HEADER}: <confirmation_token>",
            reasons.len()
        ),
    )];
    out.extend(reasons.iter().map(|(p, r)| FieldProblem::body(p.clone(), r)));
    out
}

/// Files a transfer application: routed to the whitelist when every item matches a confirmed
/// entry with quota left (reserved in the same transaction), else to the standard route with the
/// reasons kept — but only when the caller confirmed exactly those reasons for this very body
/// (`confirmation`, see [`confirmation_token`]); unconfirmed, the answer is
/// [`Error::Unconfirmed`] with every reason and a token, and nothing is stored. Waste the
/// operator may not take is refused with every reason. A key used before for the same request
/// (`request_hash`) gives the first answer; for another request, a problem.
pub async fn file(
    state: &AppState,
    ctx: &Ctx,
    input: ApplicationInput,
    idempotency_key: Option<String>,
    request_hash: String,
    confirmation: Option<String>,
) -> Result<Filed> {
    let enterprise_id = enterprise_of(&ctx.who)?;
    let now = ctx.now;
    let filing = input.into_filing(
        enterprise_id.clone(),
        ctx.who.name.clone(),
        idempotency_key,
        request_hash.clone(),
        shanghai_date(now),
    )?;
    let calendars = state.calendars.clone();
    let close = state.config.office_close;
    let key = *state.keys.confirmation_key();
    let outcome = state
        .db
        .run(move |conn| {
            let cal = calendars.on(conn)?;
            let sent = confirmation.clone();
            let confirmed =
                |a: &Assessment| sent.is_some_and(|t| confirms(&key, &enterprise_id, &request_hash, &a.reasons, &t));
            let (outcome, assessment) = db::applications::file(conn, &cal, close, &filing, now, confirmed)?;
            Ok(match outcome {
                FileOutcome::Filed(app, parts) => Ok((app.version, false, dto_with(conn, &cal, app, parts, now)?)),
                FileOutcome::Replayed(app) => Ok((app.version, true, load_dto(conn, &cal, app, now)?)),
                FileOutcome::KeyReused => Err(crate::service::commands::key_reused()),
                FileOutcome::Refused(list) => Err(refusals(list)),
                FileOutcome::Unconfirmed => {
                    let reasons = assessment.map(|a| a.reasons).unwrap_or_default();
                    let mut problems = standard_route_problems(&reasons);
                    if confirmation.is_some() {
                        problems.push(FieldProblem::new(
                            Location::Header,
                            format!("/{CONFIRM_HEADER}"),
                            "filing.confirmation_stale",
                            "the confirmation sent does not confirm this body with these reasons: the body or the \
                             reasons changed since it was given (for example the quota left on an entry); read \
                             the reasons again and confirm them with the new confirmation_token",
                        ));
                    }
                    Err(Error::Unconfirmed {
                        problems,
                        token: confirmation_token(&key, &enterprise_id, &request_hash, &reasons),
                    })
                }
            })
        })
        .await??;
    let (version, replayed, application) = outcome;
    crate::service::catalogue::note_used(state, application.catalogue_edition, shanghai_date(now));
    if !replayed {
        tracing::info!(application = %application.id, route = %application.route, "application filed");
    }
    Ok(Filed {
        application,
        version,
        replayed,
    })
}

fn refusals(list: Vec<(String, crate::domain::Invalid)>) -> Error {
    Error::Invalid(list.into_iter().map(|(p, i)| FieldProblem::body(p, &i)).collect())
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ItemCheck {
    pub line: usize,
    pub entry_id: Option<String>,
    pub entry_version: Option<i32>,
    /// Quota left on the entry after this item (and earlier items on the same entry), kg.
    pub remaining_after_kg: Option<String>,
    pub reasons: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckResult {
    /// Would the filing be accepted at all (no refusal)?
    pub acceptable: bool,
    pub route: String,
    /// Every reason it is not on the whitelist route.
    pub reasons: Vec<String>,
    /// Every reason it would be refused outright.
    pub refusals: Vec<FieldProblem>,
    pub receiving_consent: String,
    pub items: Vec<ItemCheck>,
    /// If filed now: acceptance due (5 working days from today).
    pub acceptance_due_at: String,
    /// If accepted today: the decision due (whitelist 5 WD; standard: the source review, 5 WD).
    pub decision_due_at: String,
    pub provisional: bool,
    /// The catalogue edition the codes were checked against: the one in force today, or, when
    /// its table is not loaded, the latest loaded edition (and `warnings` says so).
    pub catalogue_edition: i32,
    /// `catalogue.edition_missing` when the edition in force today is not loaded.
    pub warnings: Vec<crate::service::catalogue::Warning>,
    /// On the standard route (with no refusal): the problems a filing of this very body is
    /// answered 422 with unless confirmed — `filing.standard_route`, then every reason with its
    /// `route.*` code and pointer. Empty otherwise.
    pub confirmation_required: Vec<FieldProblem>,
    /// On the standard route (with no refusal): the token that files this very body on the
    /// standard route when sent back in the `X-Confirm-Warnings` header, while the reasons stay
    /// the same. Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub confirmation_token: Option<String>,
}

/// The dry run of a filing: the route and why, the matched entries with the quota left, the
/// deadlines, and every reason it would fail; on the standard route also the confirmation a
/// filing of the same body (`request_hash`) needs. Nothing is stored.
pub async fn check(state: &AppState, ctx: &Ctx, input: ApplicationInput, request_hash: String) -> Result<CheckResult> {
    let enterprise_id = enterprise_of(&ctx.who)?;
    let today = shanghai_date(ctx.now);
    let filing = input.into_filing(enterprise_id.clone(), ctx.who.name.clone(), None, String::new(), today)?;
    let calendars = state.calendars.clone();
    let close = state.config.office_close;
    let (assessment, cal) = state
        .db
        .run(move |conn| Ok((db::applications::assess(conn, &filing, today)?, calendars.on(conn)?)))
        .await?;
    let warnings = crate::service::catalogue::note_used(state, assessment.edition, today);
    let token = (assessment.route == Route::Standard && assessment.refusals.is_empty()).then(|| {
        confirmation_token(
            state.keys.confirmation_key(),
            &enterprise_id,
            &request_hash,
            &assessment.reasons,
        )
    });
    Ok(check_result(assessment, &cal, close, today, warnings, token))
}

fn check_result(
    a: Assessment,
    cal: &WorkingDayCalendar,
    close: NaiveTime,
    today: NaiveDate,
    warnings: Vec<crate::service::catalogue::Warning>,
    confirmation_token: Option<String>,
) -> CheckResult {
    let acc = step_due(cal, StepKind::Acceptance, today, &[], today);
    let kind = if a.route == Route::Whitelist {
        StepKind::WhitelistDecision
    } else {
        StepKind::SourceReview
    };
    let dec = step_due(cal, kind, today, &[], today);
    CheckResult {
        acceptable: a.refusals.is_empty(),
        route: a.route.as_str().to_string(),
        reasons: a.reason_texts(),
        confirmation_required: match &confirmation_token {
            Some(_) => standard_route_problems(&a.reasons),
            None => Vec::new(),
        },
        confirmation_token,
        refusals: a
            .refusals
            .iter()
            .map(|(p, i)| FieldProblem::body(p.clone(), i))
            .collect(),
        receiving_consent: a.receiving_consent,
        items: a
            .items
            .into_iter()
            .map(|m| ItemCheck {
                line: m.line,
                entry_id: m.entry.as_ref().map(|e| e.id.clone()),
                entry_version: m.entry.as_ref().map(|e| e.version),
                remaining_after_kg: m.remaining_after_g.map(grams_to_kg_string),
                reasons: m.reasons,
            })
            .collect(),
        acceptance_due_at: deadline_instant(acc.date, close).to_rfc3339(),
        decision_due_at: deadline_instant(dec.date, close).to_rfc3339(),
        provisional: acc.provisional || dec.provisional,
        catalogue_edition: a.edition,
        warnings,
    }
}

#[cfg(test)]
mod confirmation_tests {
    use super::*;

    fn reason(pointer: &str, code: &'static str, message: &str) -> (String, Invalid) {
        (pointer.to_string(), Invalid::new(code, message))
    }

    #[test]
    fn a_token_confirms_this_enterprise_body_and_reasons_only() {
        let key = [7u8; 32];
        let reasons = vec![
            reason("/items/0/waste_code", "route.no_entry", "no entry"),
            reason("/items/1/quantity_kg", "route.over_quota", "over quota: 10 kg left"),
        ];
        let token = confirmation_token(&key, "ent-1", "hash-1", &reasons);
        assert_eq!(token.len(), 43);
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
        // Deterministic, and the order of the reasons does not matter.
        let reversed: Vec<_> = reasons.iter().rev().cloned().collect();
        assert_eq!(token, confirmation_token(&key, "ent-1", "hash-1", &reversed));
        assert!(confirms(&key, "ent-1", "hash-1", &reversed, &token));
        // Anything else changed: not confirmed.
        let fewer = &reasons[..1];
        let changed = vec![
            reasons[0].clone(),
            reason("/items/1/quantity_kg", "route.over_quota", "over quota: 5 kg left"),
        ];
        assert!(!confirms(&key, "ent-2", "hash-1", &reasons, &token));
        assert!(!confirms(&key, "ent-1", "hash-2", &reasons, &token));
        assert!(!confirms(&key, "ent-1", "hash-1", fewer, &token));
        assert!(!confirms(&key, "ent-1", "hash-1", &changed, &token));
        assert!(!confirms(&[8u8; 32], "ent-1", "hash-1", &reasons, &token));
        assert!(!confirms(&key, "ent-1", "hash-1", &reasons, "not base64!"));
        assert!(!confirms(&key, "ent-1", "hash-1", &reasons, &"A".repeat(43)));
        // Parts cannot be shifted from one field into the next.
        assert_ne!(
            confirmation_token(&key, "ent-1h", "ash-1", &reasons),
            confirmation_token(&key, "ent-1", "hash-1", &reasons)
        );
    }

    #[test]
    fn the_problems_name_the_route_and_every_reason() {
        let reasons = vec![reason("/operator_id", "route.no_agreement", "no agreement")];
        let problems = standard_route_problems(&reasons);
        let codes: Vec<&str> = problems.iter().map(|p| p.code.as_str()).collect();
        assert_eq!(codes, ["filing.standard_route", "route.no_agreement"]);
        assert!(problems[0].message.contains(CONFIRM_HEADER));
        assert_eq!(problems[1].pointer, "/operator_id");
    }
}
