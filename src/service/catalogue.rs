//! 国家危险废物名录 by edition: an admin loads an edition's table with its successor mapping (one
//! use case for the API, the web UI's form and `hwtransfer catalogue import`), the editions are
//! listed, and when the edition the law has in force is not loaded the service says so — a
//! warning on every check and filing answer, a banner, a metric and a log line.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI32, Ordering};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use validator::{Validate, ValidationError};

use crate::auth::permission::require_role;
use crate::auth::principal::Role;
use crate::db;
use crate::domain::calendar::{parse_date, shanghai_date};
use crate::domain::catalogue::{
    EditionImport, EditionPart, EditionProblem, KnownEdition, check_edition_import, edition_in_force, edition_missing,
};
use crate::service::commands::{date_schema, present, text_schema, valid_date, valid_text, validation_problems};
use crate::service::{Ctx, Error, FieldProblem, Location, Result};
use crate::state::AppState;

/// The largest CSV text a body carries (the JSON body itself is limited to 1 MiB by default).
const MAX_CSV_CHARS: usize = 4_000_000;

/// Something the caller should know although the request succeeded: a stable code and a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Warning {
    /// e.g. `catalogue.edition_missing`.
    pub code: String,
    pub message: String,
}

/// The warning of an answer checked against `used` while `missing`, the edition the law has in
/// force, is not loaded.
pub fn missing_warning(missing: &KnownEdition, used: i32) -> Warning {
    Warning {
        code: "catalogue.edition_missing".into(),
        message: format!(
            "the {} edition of the catalogue ({}, in force from {}) is not loaded: codes were checked \
             against the {used} edition, which it repealed; an administrator must load it",
            missing.edition, missing.source, missing.in_force_from
        ),
    }
}

/// The warnings of an answer checked against `used` on `date` (empty when `used` is right).
pub fn edition_warnings(used: i32, date: NaiveDate) -> Vec<Warning> {
    edition_missing(used, date)
        .map(|missing| vec![missing_warning(missing, used)])
        .unwrap_or_default()
}

/// The last missing edition this process has logged.
static LOGGED_MISSING: AtomicI32 = AtomicI32::new(0);

/// Logs, once per process and missing edition, that it is not loaded.
pub fn log_missing(missing: &KnownEdition, used: i32) {
    if LOGGED_MISSING.swap(missing.edition, Ordering::Relaxed) != missing.edition {
        tracing::warn!(
            missing = missing.edition,
            used,
            "the catalogue edition in force ({} edition, {}, in force from {}) is not loaded: filings, checks and \
             whitelist proposals use the {used} edition until an administrator loads it",
            missing.edition,
            missing.source,
            missing.in_force_from
        );
    }
}

/// The edition the law has in force on `date` when it is not among `loaded`, with the edition
/// used instead (the latest loaded one in force then, or the earliest loaded).
pub fn missing_on(loaded: &[(i32, NaiveDate)], date: NaiveDate) -> Option<(&'static KnownEdition, i32)> {
    let used = edition_in_force(loaded, date).or_else(|| loaded.iter().map(|(e, _)| *e).min())?;
    edition_missing(used, date).map(|missing| (missing, used))
}

/// Today's missing edition (from the editions cached in the state), logged once and set on the
/// metric `hwtransfer_catalogue_edition_missing`. What the banner and the metric show.
pub async fn alert(state: &AppState) -> Option<(&'static KnownEdition, i32)> {
    let loaded = state.catalogue_editions().await.ok()?;
    let found = missing_on(&loaded, shanghai_date(chrono::Utc::now()));
    note(state, found);
    found
}

/// Records what an answer found about the edition: the metric, and the log line once.
pub fn note(state: &AppState, found: Option<(&'static KnownEdition, i32)>) {
    state.metrics.catalogue_edition_missing(found.map(|(m, _)| m.edition));
    if let Some((missing, used)) = found {
        log_missing(missing, used);
    }
}

/// Records a check's or a filing's edition (`used` on `date`), and returns its warnings.
pub fn note_used(state: &AppState, used: i32, date: NaiveDate) -> Vec<Warning> {
    let missing = edition_missing(used, date);
    note(state, missing.map(|m| (m, used)));
    edition_warnings(used, date)
}

/// Body of `POST /catalogue/editions`: an edition of the catalogue as the order publishes it.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditionInput {
    /// The edition's year, e.g. 2025 (国家危险废物名录（2025年版）).
    #[serde(deserialize_with = "crate::service::commands::whole_number")]
    #[validate(range(min = 2000, max = 2100))]
    #[schema(minimum = 2000, maximum = 2100)]
    pub edition: i32,
    /// The day it comes into force, in the edition's year (2025: 2025-01-01).
    #[validate(custom(function = "valid_date"))]
    #[schema(schema_with = date_schema)]
    pub in_force_from: String,
    /// The order that publishes it, e.g. 部令第36号.
    #[validate(custom(function = "valid_text::<200>"))]
    #[schema(schema_with = text_schema::<200>)]
    pub source: String,
    /// How many codes the official table lists; the file must have exactly as many rows (and a
    /// known edition its published number: 2021 467, 2025 470).
    #[serde(deserialize_with = "crate::service::commands::whole_number")]
    #[validate(range(min = 1, max = 5000))]
    #[schema(minimum = 1, maximum = 5000)]
    pub code_count: i32,
    /// The code table as CSV in the format of `data/hw-catalogue-2021.csv` (header
    /// `code,category,category_name,industry_source,description,hazard`, extra columns ignored).
    /// Problems point at `/codes_csv/{line}/{column}`, the header being line 1.
    #[validate(custom(function = "valid_csv"))]
    #[schema(schema_with = csv_schema)]
    pub codes_csv: String,
    /// The successor mapping from the previous loaded edition, as CSV `old_code,new_code`: a
    /// split is several lines with one old code, a merge several lines with one new code; codes
    /// that did not change need no line. Problems point at `/successors_csv/{line}/{column}`.
    #[serde(default, deserialize_with = "present")]
    #[validate(custom(function = "valid_csv"))]
    #[schema(schema_with = csv_schema)]
    pub successors_csv: Option<String>,
}

fn valid_csv(s: &str) -> std::result::Result<(), ValidationError> {
    if s.trim().is_empty() || s.chars().count() > MAX_CSV_CHARS {
        Err(ValidationError::new("catalogue.csv")
            .with_message(format!("a CSV text with a header line and rows, at most {MAX_CSV_CHARS} characters").into()))
    } else {
        Ok(())
    }
}

fn csv_schema() -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(MAX_CSV_CHARS))
        .description(Some("CSV text, UTF-8, a header line first"))
        .into()
}

impl EditionInput {
    /// Every problem of the command's own fields at once (the tables are read by the use case).
    pub fn problems(&self) -> Vec<FieldProblem> {
        self.validate()
            .err()
            .map(|e| validation_problems(&e))
            .unwrap_or_default()
    }
}

/// The JSON pointer of an import problem: the field, and in a file the line and the column.
pub fn pointer(p: &EditionProblem) -> String {
    let field = match p.part {
        EditionPart::Edition => "edition",
        EditionPart::InForceFrom => "in_force_from",
        EditionPart::CodeCount => "code_count",
        EditionPart::Codes => "codes_csv",
        EditionPart::Successors => "successors_csv",
    };
    match (p.row, &p.column) {
        (Some(row), Some(column)) => format!("/{field}/{row}/{column}"),
        (Some(row), None) => format!("/{field}/{row}"),
        _ => format!("/{field}"),
    }
}

/// An edition as listed.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EditionDto {
    pub edition: i32,
    /// YYYY-MM-DD.
    pub in_force_from: String,
    pub source: String,
    pub code_count: i64,
    /// Lines of its successor mapping (old code → new code) from the previous edition.
    pub successor_count: i64,
    /// The edition the law has in force today. False for every edition when that edition is not
    /// loaded (then `used_today` shows the one used instead).
    pub in_force_today: bool,
    /// Filings and checks today are checked against this edition.
    pub used_today: bool,
    /// Codes per category.
    pub categories: BTreeMap<String, i64>,
}

/// Every loaded edition with its counts, as of `today`.
pub async fn list_editions(state: &AppState, today: NaiveDate) -> Result<Vec<EditionDto>> {
    let out = state
        .db
        .run(move |conn| {
            let used = db::catalogue::edition_on(conn, today)?;
            let missing = used.and_then(|u| edition_missing(u, today));
            let mut out = Vec::new();
            for e in db::catalogue::editions(conn)? {
                let counts = db::catalogue::counts_by_category(conn, e.edition)?;
                let used_today = used == Some(e.edition);
                out.push(EditionDto {
                    edition: e.edition,
                    in_force_from: e.in_force_from,
                    source: e.source,
                    code_count: counts.iter().map(|(_, n)| n).sum(),
                    successor_count: db::catalogue::successor_count(conn, e.edition)?,
                    in_force_today: used_today && missing.is_none(),
                    used_today,
                    categories: counts.into_iter().collect(),
                });
            }
            Ok(out)
        })
        .await?;
    Ok(out)
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WasteCodeDto {
    /// `NNN-NNN-NN`.
    pub code: String,
    /// `HW01`…`HW50`.
    pub category: String,
    pub category_name: String,
    pub industry_source: String,
    pub description: String,
    /// Hazard characteristics: T, C, I, R, In.
    pub hazards: Vec<String>,
    pub edition: i32,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WasteCodePage {
    pub items: Vec<WasteCodeDto>,
    /// Pass as `cursor` for the next page; absent on the last page.
    pub next_cursor: Option<String>,
    /// The edition searched (by default the one in force today).
    pub edition: i32,
}

/// A search of the catalogue: a code prefix or a text fragment, a category, an edition (by
/// default the one in force on the day searched), and the page.
#[derive(Debug, Clone, Default)]
pub struct WasteCodeQuery {
    pub text: Option<String>,
    pub category: Option<crate::domain::catalogue::WasteCategory>,
    pub edition: Option<i32>,
    /// The code the page continues after.
    pub after: Option<String>,
    pub limit: i64,
}

/// One page of the catalogue's codes matching `q`, in the edition asked for (hidden when that
/// edition is not loaded) or the one in force `today`.
pub async fn search(state: &AppState, q: WasteCodeQuery, today: NaiveDate) -> Result<WasteCodePage> {
    let limit = q.limit;
    let page = state
        .db
        .run(move |conn| {
            let edition = match q.edition {
                Some(e) if db::catalogue::edition_dates(conn)?.iter().any(|(x, _)| *x == e) => e,
                Some(e) => return Ok(Err(e)),
                None => db::catalogue::edition_on(conn, today)?.unwrap_or(2021),
            };
            let rows = db::catalogue::search(
                conn,
                edition,
                q.text.as_deref(),
                q.category.map(|c| c.as_str()).as_deref(),
                q.after.as_deref(),
                limit + 1,
            )?;
            Ok(Ok((edition, rows)))
        })
        .await?
        // A well-formed edition that is not loaded is a resource that does not exist.
        .map_err(|_| Error::Hidden)?;
    let (edition, mut rows) = page;
    let more = crate::service::cut_page(&mut rows, limit);
    let next_cursor = if more {
        rows.last().map(|r| crate::service::encode_cursor(&r.code))
    } else {
        None
    };
    Ok(WasteCodePage {
        items: rows
            .into_iter()
            .map(|r| WasteCodeDto {
                hazards: r
                    .hazards
                    .split('/')
                    .filter(|h| !h.is_empty())
                    .map(str::to_string)
                    .collect(),
                code: r.code,
                category: r.category,
                category_name: r.category_name,
                industry_source: r.industry_source,
                description: r.description,
                edition: r.edition,
            })
            .collect(),
        next_cursor,
        edition,
    })
}

/// One edition, if loaded.
pub async fn edition(state: &AppState, edition: i32) -> Result<EditionDto> {
    let today = shanghai_date(chrono::Utc::now());
    list_editions(state, today)
        .await?
        .into_iter()
        .find(|e| e.edition == edition)
        .ok_or(Error::Hidden)
}

/// Loads an edition of the catalogue (admins only): its table and its successor mapping from
/// the previous loaded edition, checked with every problem at once (each pointing at its line),
/// stored in one transaction, audited; nothing is stored on any problem. An edition already
/// loaded is a conflict: editions are legal texts, never edited in place.
pub async fn import_edition(state: &AppState, ctx: &Ctx, input: EditionInput) -> Result<EditionDto> {
    require_role(&ctx.who, &[Role::Admin])?;
    let problems = input.problems();
    if !problems.is_empty() {
        return Err(Error::Invalid(problems));
    }
    let edition = input.edition;
    let in_force_from = parse_date(&input.in_force_from).map_err(|e| Error::invalid_field("/in_force_from", &e))?;
    let declared = usize::try_from(input.code_count).unwrap_or(0);
    let source = input.source.trim().to_string();
    // Audited as the caller, whichever door it came through (the command line has no request).
    let audit = crate::audit::Context {
        actor: ctx.who.subject.clone(),
        actor_name: ctx.who.name.clone(),
        role: ctx.who.role.as_str().into(),
        request_id: ctx.request_id.clone(),
    };
    let outcome = state
        .db
        .run_as(audit, move |conn| {
            if db::catalogue::edition_dates(conn)?.iter().any(|(e, _)| *e == edition) {
                return Ok(Err(Error::Conflict(format!(
                    "the {edition} edition is already loaded; editions are never replaced"
                ))));
            }
            let previous = db::catalogue::previous_edition(conn, edition)?;
            let import = EditionImport {
                edition,
                in_force_from,
                declared_count: declared,
                codes_csv: &input.codes_csv,
                successors_csv: input.successors_csv.as_deref(),
            };
            let (entries, successors) = match check_edition_import(&import, previous.as_ref()) {
                Ok(read) => read,
                Err(problems) => {
                    return Ok(Err(Error::Invalid(
                        problems
                            .iter()
                            .map(|p| FieldProblem::new(Location::Body, pointer(p), p.problem.code, &p.problem.message))
                            .collect(),
                    )));
                }
            };
            match db::catalogue::import_edition(conn, edition, in_force_from, &source, &entries, &successors) {
                Ok(n) => Ok(Ok((n, successors.len()))),
                Err(db::DbError::Conflict(detail)) => Ok(Err(Error::Conflict(detail))),
                Err(e) => Err(e),
            }
        })
        .await??;
    let (codes, successors) = outcome;
    state.invalidate_catalogue();
    tracing::info!(edition, codes, successors, by = %ctx.who.name, "catalogue edition loaded");
    // The banner and the metric follow at once.
    alert(state).await;
    edition_dto_after_import(state, edition).await
}

async fn edition_dto_after_import(state: &AppState, edition: i32) -> Result<EditionDto> {
    match self::edition(state, edition).await {
        Ok(dto) => Ok(dto),
        Err(Error::Hidden) => Err(Error::internal(anyhow::anyhow!(
            "edition {edition} vanished after its import"
        ))),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn ymd(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn the_edition_in_force_is_missing_until_loaded() {
        let only_2021 = [(2021, ymd(2021, 1, 1))];
        let (missing, used) = missing_on(&only_2021, ymd(2026, 12, 2)).unwrap();
        assert_eq!((missing.edition, used), (2025, 2021));
        assert_eq!(missing_on(&only_2021, ymd(2024, 6, 1)), None);
        let both = [(2021, ymd(2021, 1, 1)), (2025, ymd(2025, 1, 1))];
        assert_eq!(missing_on(&both, ymd(2026, 12, 2)), None);
        assert_eq!(missing_on(&[], ymd(2026, 12, 2)), None);
        let w = edition_warnings(2021, ymd(2026, 12, 2));
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].code, "catalogue.edition_missing");
        assert!(
            w[0].message.contains("部令第36号") && w[0].message.contains("2021"),
            "{w:?}"
        );
        assert!(edition_warnings(2025, ymd(2026, 12, 2)).is_empty());
    }

    #[test]
    fn problems_point_at_their_line() {
        let p = |part, row, column: Option<&str>| EditionProblem {
            part,
            row,
            column: column.map(str::to_string),
            problem: crate::domain::Invalid::new("x", "y"),
        };
        assert_eq!(
            pointer(&p(EditionPart::Codes, Some(12), Some("code"))),
            "/codes_csv/12/code"
        );
        assert_eq!(pointer(&p(EditionPart::Successors, Some(3), None)), "/successors_csv/3");
        assert_eq!(pointer(&p(EditionPart::CodeCount, None, None)), "/code_count");
    }
}
