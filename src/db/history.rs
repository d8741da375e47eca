//! Read models for auditors: the transfer history (applications with their approvals and what
//! manifests shipped and the operators accepted). The January report reads through `annual`.

use chrono::NaiveDateTime;
use diesel::dsl::{count_star, sql};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable};
use serde::Serialize;

use super::schema::{application_items, enterprises, operators, transfer_applications};
use super::{DbConnection, DbResult};

/// Filters of the transfer history. `province` (the caller's scope) matches either side.
#[derive(Debug, Clone, Default)]
pub struct TransferFilter {
    pub producer: Option<String>,
    pub operator: Option<String>,
    pub source_province: Option<String>,
    pub receiving_province: Option<String>,
    pub code: Option<String>,
    pub category: Option<String>,
    pub status: Option<String>,
    pub from: Option<NaiveDateTime>,
    pub to: Option<NaiveDateTime>,
    /// The caller's scope, applied on top of the filters above.
    pub province: Option<String>,
    pub only_producer: Option<String>,
    pub only_operator: Option<String>,
}

type Boxed<'a> = transfer_applications::BoxedQuery<'a, <DbConnection as diesel::Connection>::Backend>;

fn filtered(f: &TransferFilter) -> Boxed<'static> {
    use transfer_applications::dsl as t;
    let mut q = t::transfer_applications.into_boxed();
    if let Some(v) = &f.producer {
        q = q.filter(t::enterprise_id.eq(v.clone()));
    }
    if let Some(v) = &f.operator {
        q = q.filter(t::operator_id.eq(v.clone()));
    }
    if let Some(v) = &f.source_province {
        q = q.filter(t::source_province.eq(v.clone()));
    }
    if let Some(v) = &f.receiving_province {
        q = q.filter(t::receiving_province.eq(v.clone()));
    }
    if let Some(v) = &f.only_producer {
        q = q.filter(t::enterprise_id.eq(v.clone()));
    }
    if let Some(v) = &f.only_operator {
        q = q.filter(t::operator_id.eq(v.clone()));
    }
    if let Some(v) = &f.province {
        q = q.filter(t::source_province.eq(v.clone()).or(t::receiving_province.eq(v.clone())));
    }
    if let Some(v) = &f.status {
        q = q.filter(t::status.eq(v.clone()));
    }
    if let Some(v) = f.from {
        q = q.filter(t::created_at.ge(v));
    }
    if let Some(v) = f.to {
        q = q.filter(t::created_at.lt(v));
    }
    if let Some(v) = &f.code {
        q = q.filter(
            t::id.eq_any(
                application_items::table
                    .filter(application_items::waste_code.eq(v.clone()))
                    .select(application_items::application_id),
            ),
        );
    }
    if let Some(v) = &f.category {
        q = q.filter(
            t::id.eq_any(
                application_items::table
                    .filter(application_items::category.eq(v.clone()))
                    .select(application_items::application_id),
            ),
        );
    }
    q
}

/// How far apart a row's id (UUIDv7, made from the clock when the row is written) and its
/// `created_at` (the same moment) may be, and how far replicas' clocks may differ.
const CLOCK_MARGIN: chrono::TimeDelta = chrono::TimeDelta::hours(1);

/// Keys that bracket a `from`/`to` window, found with one probe each on the `(created_at, id)`
/// index: ids grow with time, so every row created in the window has an id above the last row
/// created an hour before `from` and below the first row created an hour after `to`. The page
/// then walks the primary key inside those bounds instead of sorting the whole window (or the
/// planner walking the key from the newest row through everything after `to`). The time filter
/// itself still applies exactly.
fn window_bounds(conn: &mut DbConnection, f: &TransferFilter) -> DbResult<(Option<String>, Option<String>)> {
    use transfer_applications::dsl as t;
    let lower = match f.from {
        Some(from) => t::transfer_applications
            .filter(t::created_at.lt(from - CLOCK_MARGIN))
            .order((t::created_at.desc(), t::id.desc()))
            .select(t::id)
            .first::<String>(conn)
            .optional()?,
        None => None,
    };
    let upper = match f.to {
        Some(to) => t::transfer_applications
            .filter(t::created_at.ge(to + CLOCK_MARGIN))
            .order((t::created_at.asc(), t::id.asc()))
            .select(t::id)
            .first::<String>(conn)
            .optional()?,
        None => None,
    };
    Ok((lower, upper))
}

fn bounded(conn: &mut DbConnection, f: &TransferFilter) -> DbResult<Boxed<'static>> {
    use transfer_applications::dsl as t;
    let mut q = filtered(f);
    let (lower, upper) = window_bounds(conn, f)?;
    if let Some(l) = lower {
        q = q.filter(t::id.gt(l));
    }
    if let Some(u) = upper {
        q = q.filter(t::id.lt(u));
    }
    Ok(q)
}

/// One transfer (an application with its approval and shipments).
#[derive(Debug, Clone, Queryable, Serialize)]
pub struct TransferRow {
    pub id: String,
    pub created_at: NaiveDateTime,
    pub enterprise_id: String,
    pub operator_id: String,
    pub source_province: String,
    pub receiving_province: String,
    pub route: String,
    pub status: String,
    pub approval_number: Option<String>,
    pub valid_until: Option<String>,
    pub quantity_g: i64,
    pub shipped_g: i64,
    pub received_g: i64,
}

/// Statuses whose quantity counts as approved: also once the approval expired or was revoked (撤销),
/// as it was decided; what was not shipped is released from the whitelist entry either way.
pub const APPROVED_STATUSES: [&str; 3] = ["approved", "expired", "revoked"];

/// A page of the history, newest first, before `before_id`.
pub fn transfers(
    conn: &mut DbConnection,
    f: &TransferFilter,
    before_id: Option<&str>,
    limit: i64,
) -> DbResult<Vec<TransferRow>> {
    use transfer_applications::dsl as t;
    let mut q = bounded(conn, f)?;
    if let Some(b) = before_id {
        q = q.filter(t::id.lt(b.to_string()));
    }
    Ok(q.order(t::id.desc())
        .limit(limit)
        .select((
            t::id,
            t::created_at,
            t::enterprise_id,
            t::operator_id,
            t::source_province,
            t::receiving_province,
            t::route,
            t::status,
            t::approval_number,
            t::valid_until,
            t::quantity_g,
            t::shipped_g,
            t::received_g,
        ))
        .load(conn)?)
}

/// Names and codes for a page of rows: (enterprise names, operator names, codes per application).
pub type PageDetails = (
    std::collections::HashMap<String, String>,
    std::collections::HashMap<String, String>,
    std::collections::HashMap<String, Vec<String>>,
);

pub fn page_details(conn: &mut DbConnection, rows: &[TransferRow]) -> DbResult<PageDetails> {
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let ents: Vec<&str> = rows.iter().map(|r| r.enterprise_id.as_str()).collect();
    let ops: Vec<&str> = rows.iter().map(|r| r.operator_id.as_str()).collect();
    let enterprise_names = enterprises::table
        .filter(enterprises::id.eq_any(ents))
        .select((enterprises::id, enterprises::name))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    let operator_names = operators::table
        .filter(operators::id.eq_any(ops))
        .select((operators::id, operators::name))
        .load::<(String, String)>(conn)?
        .into_iter()
        .collect();
    let mut codes: std::collections::HashMap<String, Vec<String>> = std::collections::HashMap::new();
    for (app, code) in application_items::table
        .filter(application_items::application_id.eq_any(ids))
        .order((application_items::application_id, application_items::line))
        .select((application_items::application_id, application_items::waste_code))
        .load::<(String, String)>(conn)?
    {
        codes.entry(app).or_default().push(code);
    }
    Ok((enterprise_names, operator_names, codes))
}

/// Tonnage totals over the whole filtered history.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct Totals {
    pub count: i64,
    pub requested_g: i64,
    pub approved_g: i64,
    pub shipped_g: i64,
    pub received_g: i64,
}

/// Totals over the whole filtered history. Filters the figures keep (provinces, status, whole
/// Shanghai days) read the maintained totals (`db::figures`), whose size follows days and province
/// pairs; the partial days at the window's edges, and filters they do not keep (producer,
/// operator, code, category), read the cases.
pub fn totals(conn: &mut DbConnection, f: &TransferFilter) -> DbResult<Totals> {
    let by_case = f.producer.is_some()
        || f.operator.is_some()
        || f.only_producer.is_some()
        || f.only_operator.is_some()
        || f.code.is_some()
        || f.category.is_some();
    if by_case {
        return case_totals(conn, f);
    }
    let cut = super::figures::cut(f.from, f.to);
    let mut t = Totals::default();
    if let Some((first, end)) = cut.days {
        let select = super::figures::Select {
            source_province: f.source_province.as_deref(),
            receiving_province: f.receiving_province.as_deref(),
            province: f.province.as_deref(),
            label: f.status.as_deref(),
            first,
            end,
        };
        let [count, requested, approved, shipped, received] =
            super::figures::case_sums(conn, &select, &APPROVED_STATUSES)?;
        t = Totals {
            count,
            requested_g: requested,
            approved_g: approved,
            shipped_g: shipped,
            received_g: received,
        };
    }
    for (from, to) in cut.edges {
        let edge = case_totals(conn, &TransferFilter { from, to, ..f.clone() })?;
        t.count += edge.count;
        t.requested_g += edge.requested_g;
        t.approved_g += edge.approved_g;
        t.shipped_g += edge.shipped_g;
        t.received_g += edge.received_g;
    }
    Ok(t)
}

/// Totals summed over the filtered cases themselves.
pub fn case_totals(conn: &mut DbConnection, f: &TransferFilter) -> DbResult<Totals> {
    // One pass over the filtered rows. SUM of BIGINT is NUMERIC on PostgreSQL: cast back so both
    // backends give an i64.
    let total = |expr: &str| sql::<Nullable<BigInt>>(&format!("CAST(SUM({expr}) AS BIGINT)"));
    let approved_case = format!(
        "CASE WHEN transfer_applications.status IN ('{}') THEN transfer_applications.quantity_g ELSE 0 END",
        APPROVED_STATUSES.join("', '")
    );
    let (count, requested, approved, shipped, received): (i64, Option<i64>, Option<i64>, Option<i64>, Option<i64>) =
        bounded(conn, f)?
            .select((
                count_star(),
                total("transfer_applications.quantity_g"),
                total(&approved_case),
                total("transfer_applications.shipped_g"),
                total("transfer_applications.received_g"),
            ))
            .first(conn)?;
    Ok(Totals {
        count,
        requested_g: requested.unwrap_or(0),
        approved_g: approved.unwrap_or(0),
        shipped_g: shipped.unwrap_or(0),
        received_g: received.unwrap_or(0),
    })
}
