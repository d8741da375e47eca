//! The application list and a province's 待办 queue: the filter, the step macros both share, and
//! the live counts.

use super::*;

/// Filters of the application list.
#[derive(Debug, Clone, Default)]
pub struct AppFilter {
    pub enterprise_id: Option<String>,
    pub operator_id: Option<String>,
    /// Cases where this province is the source or the receiving side.
    pub province: Option<String>,
    /// With `province`: only cases where that province must act now.
    pub side: Option<Side>,
    /// With `province` and no `side`: only cases where that province must act now, on either side
    /// (the regulator's 待办 queue).
    pub acting: bool,
    pub status: Option<String>,
    pub route: Option<String>,
    pub overdue_at: Option<NaiveDateTime>,
    pub due_before: Option<NaiveDateTime>,
    pub code: Option<String>,
}

/// An open step of the case `t::id` on `$side` (source or receiving), with more filters on
/// `application_steps`. `t` is the applications DSL.
macro_rules! open_step_of {
    ($side:expr $(, $f:expr)*) => {
        diesel::dsl::exists(
            application_steps::table
                .filter(application_steps::application_id.eq(t::id))
                .filter(application_steps::completed_at.is_null())
                .filter(application_steps::side.eq($side))
                $(.filter($f))*,
        )
    };
}

/// An open step of `$side` past `$now` on a firm deadline: neither provisional (a year without
/// the notice: it waits) nor standing still (its clock suspended) — the rule `StepDto.overdue`
/// applies to one step, for the queue's filter and counts. Each province's step is its own: on
/// the whitelist route with the consent policy, one province may be late and the other not.
macro_rules! late_step_of {
    ($side:expr, $now:expr) => {
        open_step_of!(
            $side,
            application_steps::due_at.lt($now),
            application_steps::provisional.eq(false),
            diesel::dsl::not(diesel::dsl::exists(
                clock_suspensions::table
                    .filter(clock_suspensions::step_id.eq(application_steps::id))
                    .filter(clock_suspensions::resumed_on.is_null()),
            ))
        )
    };
}

/// Cases where the province must act now: as source with a source step open, as receiving side
/// with a receiving step open (on the whitelist route with the consent policy both run at once,
/// each until its province decides). Cases accepted before each province had its own step keep
/// the older rule: a receiving side that must consent to a whitelist case under review and has
/// not decided yet.
macro_rules! acting_province {
    ($p:expr) => {
        t::source_province
            .eq($p.to_string())
            .and(t::next_due_at.is_not_null())
            .and(t::source_step_open.eq(true))
            .or(t::receiving_province
                .eq($p.to_string())
                .and(t::next_due_at.is_not_null())
                .and(t::receiving_step_open.eq(true)))
            .or(t::receiving_province
                .eq($p.to_string())
                .and(t::next_due_at.is_not_null())
                .and(t::route.eq("whitelist"))
                .and(t::status.eq("under_review"))
                .and(t::receiving_consent.eq("consent"))
                .and(diesel::dsl::not(diesel::dsl::exists(
                    decisions::table
                        .filter(decisions::application_id.eq(t::id))
                        .filter(decisions::side.eq("receiving")),
                ))))
    };
}

/// Cases where the province's own step is late.
macro_rules! province_late {
    ($p:expr, $now:expr) => {
        t::source_province
            .eq($p.to_string())
            .and(late_step_of!("source", $now))
            .or(t::receiving_province
                .eq($p.to_string())
                .and(late_step_of!("receiving", $now)))
    };
}

/// Which of a province's cases one read of [`list`] takes when no side is asked for.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Sides {
    /// Source or receiving side, in one statement.
    Either,
    /// The province is the source.
    Source,
    /// The province receives, and is not also the source (that case is read with `Source`).
    ReceivingOnly,
}

/// Applications sorted by the open step's due instant (those without one last), then id.
pub fn list(
    conn: &mut DbConnection,
    f: &AppFilter,
    after: Option<(Option<NaiveDateTime>, String)>,
    limit: i64,
) -> DbResult<Vec<AppRow>> {
    match (&f.province, f.side, f.acting) {
        // Every case of a province, or those of one status: the two sides are read apart, each
        // walked in the list's order in its `(province[, status], (next_due_at IS NULL),
        // next_due_at, id)` index and stopped at the page, then merged. One statement ORing the
        // two province columns would sort every case of the province (with `status=approved`,
        // its whole archive) for each page. The merge orders ids as bytes, as the database's C
        // collation does (and any collation does for our UUIDs).
        (Some(_), None, false) => {
            let mut rows = list_of(conn, f, Sides::Source, after.clone(), limit)?;
            rows.extend(list_of(conn, f, Sides::ReceivingOnly, after, limit)?);
            rows.sort_by(|a, b| list_order(a).cmp(&list_order(b)));
            rows.truncate(usize::try_from(limit).unwrap_or(0));
            Ok(rows)
        }
        _ => list_of(conn, f, Sides::Either, after, limit),
    }
}

/// The list's order as a key: cases with a due instant first, by it, then by id.
fn list_order(r: &AppRow) -> (bool, Option<NaiveDateTime>, &str) {
    (r.next_due_at.is_none(), r.next_due_at, r.id.as_str())
}

fn list_of(
    conn: &mut DbConnection,
    f: &AppFilter,
    sides: Sides,
    after: Option<(Option<NaiveDateTime>, String)>,
    limit: i64,
) -> DbResult<Vec<AppRow>> {
    use transfer_applications::dsl as t;
    let mut q = t::transfer_applications.select(AppRow::as_select()).into_boxed();
    if let Some(e) = &f.enterprise_id {
        q = q.filter(t::enterprise_id.eq(e.clone()));
    }
    if let Some(o) = &f.operator_id {
        q = q.filter(t::operator_id.eq(o.clone()));
    }
    if let Some(p) = &f.province {
        q = match f.side {
            // A case with an open step has a due instant (`next_due_at`) and says which
            // provinces' steps are open (both kept by `refresh_next`): with the
            // `(province, next_due_at, id)` index the queue reads the province's open cases in
            // its order and stops at the page, whatever the archive behind them.
            Some(Side::Source) => q
                .filter(t::source_province.eq(p.clone()))
                .filter(t::next_due_at.is_not_null())
                .filter(t::source_step_open.eq(true)),
            Some(Side::Receiving) => q
                .filter(t::receiving_province.eq(p.clone()))
                .filter(t::next_due_at.is_not_null())
                .filter(t::receiving_step_open.eq(true)),
            None if f.acting => q.filter(acting_province!(p)),
            None => match sides {
                Sides::Source => q.filter(t::source_province.eq(p.clone())),
                Sides::ReceivingOnly => q
                    .filter(t::receiving_province.eq(p.clone()))
                    .filter(t::source_province.ne(p.clone())),
                Sides::Either => q.filter(t::source_province.eq(p.clone()).or(t::receiving_province.eq(p.clone()))),
            },
        };
    }
    if let Some(s) = &f.status {
        q = q.filter(t::status.eq(s.clone()));
    }
    if let Some(r) = &f.route {
        q = q.filter(t::route.eq(r.clone()));
    }
    if let Some(now) = f.overdue_at {
        // A late step is due before now, so the case's earliest due instant (`next_due_at`, the
        // minimum over its open steps, kept by `refresh_next`) is too: that indexed bound keeps
        // the search to the cases that may be late instead of every case of the province.
        q = q.filter(t::next_due_at.lt(now));
        // In a province's queue, late is its own step being late; elsewhere, any step.
        q = match (&f.province, f.side) {
            (Some(p), Some(Side::Source)) => q
                .filter(t::source_province.eq(p.clone()))
                .filter(late_step_of!("source", now)),
            (Some(p), Some(Side::Receiving)) => q
                .filter(t::receiving_province.eq(p.clone()))
                .filter(late_step_of!("receiving", now)),
            (Some(p), None) if f.acting => q.filter(province_late!(p, now)),
            _ => q.filter(late_step_of!("source", now).or(late_step_of!("receiving", now))),
        };
    }
    if let Some(before) = f.due_before {
        q = q.filter(t::next_due_at.lt(before));
    }
    if let Some(code) = &f.code {
        let ids = application_items::table
            .filter(application_items::waste_code.eq(code.clone()))
            .select(application_items::application_id);
        q = q.filter(t::id.eq_any(ids));
    }
    // Keyset on (next_due_at, id), NULLs (no open step) last.
    let past_open_work = matches!(after, Some((None, _)));
    match after {
        Some((Some(due), id)) => {
            q = q.filter(
                t::next_due_at
                    .gt(due)
                    .or(t::next_due_at.eq(due).and(t::id.gt(id)))
                    .or(t::next_due_at.is_null()),
            );
        }
        Some((None, id)) => {
            q = q.filter(t::next_due_at.is_null()).filter(t::id.gt(id));
        }
        None => {}
    }
    // When every case the filter keeps has a due instant, the order is the index's own
    // (no `IS NULL` term), so the database walks it and stops at the page instead of sorting.
    let all_due =
        f.province.is_some() && (f.side.is_some() || f.acting) || f.overdue_at.is_some() || f.due_before.is_some();
    // Past the cases with a due instant (a cursor without one), no row left has one: the order
    // is the id's alone, which the `(province[, status], id)`, `(enterprise_id, id)` and
    // `(operator_id, id)` indexes give, so a deep page of the archive seeks to its cursor. In
    // the `(next_due_at IS NULL)` order indexes the cursor's id is no seek key (the planner does
    // not take `IS NULL` for an equality on the column), and every page walked the archive
    // before it (docs/BENCHMARKS.md).
    let q = if all_due {
        q.order((t::next_due_at.asc(), t::id.asc()))
    } else if past_open_work {
        q.order(t::id.asc())
    } else {
        q.order((t::next_due_at.is_null().asc(), t::next_due_at.asc(), t::id.asc()))
    };
    Ok(q.limit(limit).load(conn)?)
}

/// The live counts of a province's 待办 queue.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct QueueCounts {
    /// Open steps the province must take.
    pub waiting: i64,
    /// Of those, past their due instant (and not suspended).
    pub overdue: i64,
    /// Of those, due by the given instant (e.g. the end of today) and not yet overdue.
    pub due_soon: i64,
}

pub fn queue_counts(
    conn: &mut DbConnection,
    province: &str,
    now: NaiveDateTime,
    soon: NaiveDateTime,
) -> DbResult<QueueCounts> {
    use transfer_applications::dsl as t;
    let base = || t::transfer_applications.filter(acting_province!(province)).into_boxed();
    Ok(QueueCounts {
        waiting: base().count().get_result(conn)?,
        overdue: base()
            .filter(t::next_due_at.lt(now))
            .filter(province_late!(province, now))
            .count()
            .get_result(conn)?,
        due_soon: base()
            .filter(t::next_due_at.lt(soon))
            .filter(
                t::source_province
                    .eq(province.to_string())
                    .and(open_step_of!(
                        "source",
                        application_steps::due_at.ge(now),
                        application_steps::due_at.lt(soon)
                    ))
                    .or(t::receiving_province.eq(province.to_string()).and(open_step_of!(
                        "receiving",
                        application_steps::due_at.ge(now),
                        application_steps::due_at.lt(soon)
                    ))),
            )
            .count()
            .get_result(conn)?,
    })
}
