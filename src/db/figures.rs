//! Maintained totals (`transfer_figures`, migration `…_transfer_figures`): what the history's
//! totals and the dashboard sum, kept per (figure, province pair, label, Asia/Shanghai day), so
//! that those reads cost the number of days and province pairs, not the number of cases.
//!
//! The database keeps them, not the code: triggers on `transfer_applications` and
//! `application_steps` append one signed row per change (`folded = false`), whatever writes the
//! change — a filing, a decision, a manifest, the sweeper, the seeder. Appends never wait for each
//! other, so no filing waits on a shared totals row. [`fold`] sums the appended rows into one
//! folded row per key; a read sums folded and appended rows alike in one statement, so it counts
//! each change once whether or not it has been folded.

use chrono::{NaiveDate, NaiveDateTime, TimeDelta};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Nullable};

use super::schema::transfer_figures;
use super::{DbConnection, DbError, DbResult};

/// China keeps UTC+8 the year round (the triggers add the same eight hours).
const SHANGHAI: TimeDelta = TimeDelta::hours(8);

/// The Asia/Shanghai day of a stored (UTC) instant, as the triggers compute it.
pub fn day_of(at: NaiveDateTime) -> NaiveDate {
    (at + SHANGHAI).date()
}

/// The stored (UTC) instant at which a Shanghai day begins.
pub fn start_of(day: NaiveDate) -> NaiveDateTime {
    day.and_time(chrono::NaiveTime::MIN) - SHANGHAI
}

/// A window `[from, to)` cut at Shanghai midnights: the whole days inside it (`[first, end)`),
/// and the parts of days at either edge (each `[from, to)`), which the figures do not answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayCut {
    pub days: Option<(Option<NaiveDate>, Option<NaiveDate>)>,
    pub edges: Vec<(Option<NaiveDateTime>, Option<NaiveDateTime>)>,
}

/// Cuts `[from, to)` (either end open) into whole Shanghai days and partial edges.
pub fn cut(from: Option<NaiveDateTime>, to: Option<NaiveDateTime>) -> DayCut {
    // The first whole day starts at or after `from`; the last ends at or before `to`.
    let first = from.map(|f| {
        let d = day_of(f);
        if start_of(d) == f { d } else { d + TimeDelta::days(1) }
    });
    let end = to.map(day_of);
    if let (Some(a), Some(b)) = (first, end)
        && a >= b
    {
        // Less than one whole day: all of it is an edge.
        return DayCut {
            days: None,
            edges: vec![(from, to)],
        };
    }
    let mut edges = Vec::new();
    if let (Some(f), Some(a)) = (from, first)
        && start_of(a) != f
    {
        edges.push((Some(f), Some(start_of(a))));
    }
    if let (Some(t), Some(b)) = (to, end)
        && start_of(b) != t
    {
        edges.push((Some(start_of(b)), Some(t)));
    }
    DayCut {
        days: Some((first, end)),
        edges,
    }
}

/// Which figures to sum. `province` matches either side (a caller's scope).
#[derive(Debug, Clone, Default)]
pub struct Select<'a> {
    pub source_province: Option<&'a str>,
    pub receiving_province: Option<&'a str>,
    pub province: Option<&'a str>,
    pub label: Option<&'a str>,
    /// Days `[first, end)`, either end open.
    pub first: Option<NaiveDate>,
    pub end: Option<NaiveDate>,
}

/// Applies a [`Select`] to a boxed query of `transfer_figures` (grouped or not: diesel wants
/// `group_by` before boxing, so this is a macro rather than a function over one query type).
macro_rules! selected {
    ($query:expr, $figure:expr, $s:expr) => {{
        use transfer_figures::dsl as f;
        let s: &Select<'_> = $s;
        let mut q = $query.filter(f::figure.eq($figure)).into_boxed();
        if let Some(v) = s.source_province {
            q = q.filter(f::source_province.eq(v.to_string()));
        }
        if let Some(v) = s.receiving_province {
            q = q.filter(f::receiving_province.eq(v.to_string()));
        }
        if let Some(v) = s.province {
            q = q.filter(
                f::source_province
                    .eq(v.to_string())
                    .or(f::receiving_province.eq(v.to_string())),
            );
        }
        if let Some(v) = s.label {
            q = q.filter(f::label.eq(v.to_string()));
        }
        // Days are text, YYYY-MM-DD, which sorts as the days do.
        if let Some(v) = s.first {
            q = q.filter(f::day.ge(v.to_string()));
        }
        if let Some(v) = s.end {
            q = q.filter(f::day.lt(v.to_string()));
        }
        q
    }};
}

/// A sum (NULL over no rows).
type Sum = Option<i64>;

/// SUM of a BIGINT column as BIGINT on both backends (PostgreSQL's SUM of BIGINT is NUMERIC).
fn total(expr: &str) -> diesel::expression::SqlLiteral<Nullable<BigInt>> {
    sql::<Nullable<BigInt>>(&format!("CAST(SUM({expr}) AS BIGINT)"))
}

/// Sums of the `cases` figure: (cases, requested, of which in `approved_labels`, shipped, received).
pub fn case_sums(conn: &mut DbConnection, s: &Select<'_>, approved_labels: &[&str]) -> DbResult<[i64; 5]> {
    let approved = format!(
        "CASE WHEN transfer_figures.label IN ('{}') THEN transfer_figures.quantity_g ELSE 0 END",
        approved_labels.join("', '")
    );
    let row: (Sum, Sum, Sum, Sum, Sum) = selected!(transfer_figures::table, "cases", s)
        .select((
            total("transfer_figures.n"),
            total("transfer_figures.quantity_g"),
            total(&approved),
            total("transfer_figures.shipped_g"),
            total("transfer_figures.received_g"),
        ))
        .first(conn)?;
    Ok([row.0, row.1, row.2, row.3, row.4].map(|v| v.unwrap_or(0)))
}

/// Approved grams per (source, receiving, day).
pub fn approvals_by_day(conn: &mut DbConnection, s: &Select<'_>) -> DbResult<Vec<(String, String, NaiveDate, i64)>> {
    use transfer_figures::dsl as f;
    let grouped = f::transfer_figures
        .group_by((f::source_province, f::receiving_province, f::day))
        .select((
            f::source_province,
            f::receiving_province,
            f::day,
            total("transfer_figures.quantity_g"),
        ));
    let rows: Vec<(String, String, String, Sum)> = selected!(grouped, "approvals", s).load(conn)?;
    let mut out = Vec::with_capacity(rows.len());
    for (a, b, day, g) in rows {
        let day = NaiveDate::parse_from_str(&day, "%Y-%m-%d")
            .map_err(|e| DbError::Other(anyhow::anyhow!("transfer_figures.day {day:?}: {e}")))?;
        if let Some(g) = g.filter(|g| *g != 0) {
            out.push((a, b, day, g));
        }
    }
    Ok(out)
}

/// Steps completed on one side of one province pair, and how many by their due instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepsDone {
    pub side: String,
    pub source_province: String,
    pub receiving_province: String,
    pub completed: i64,
    pub on_time: i64,
}

/// Steps completed per (side, source, receiving).
pub fn steps_by_side(conn: &mut DbConnection, s: &Select<'_>) -> DbResult<Vec<StepsDone>> {
    use transfer_figures::dsl as f;
    let grouped = f::transfer_figures
        .group_by((f::label, f::source_province, f::receiving_province))
        .select((
            f::label,
            f::source_province,
            f::receiving_province,
            total("transfer_figures.n"),
            total("transfer_figures.on_time"),
        ));
    let rows: Vec<(String, String, String, Sum, Sum)> = selected!(grouped, "steps", s).load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(side, source_province, receiving_province, n, t)| StepsDone {
            side,
            source_province,
            receiving_province,
            completed: n.unwrap_or(0),
            on_time: t.unwrap_or(0),
        })
        .filter(|r| r.completed != 0)
        .collect())
}

const KEY: &str = "figure, source_province, receiving_province, label, day";
const SUMS: &str = "SUM(n), SUM(quantity_g), SUM(shipped_g), SUM(received_g), SUM(on_time)";
const ADD: &str = "n = transfer_figures.n + excluded.n, \
    quantity_g = transfer_figures.quantity_g + excluded.quantity_g, \
    shipped_g = transfer_figures.shipped_g + excluded.shipped_g, \
    received_g = transfer_figures.received_g + excluded.received_g, \
    on_time = transfer_figures.on_time + excluded.on_time";

/// Sums the appended rows into the folded ones and deletes them; then drops folded rows that
/// came to nothing (a status every case of a day has left). Returns how many appended rows it
/// folded. Safe to run at any time and twice at once: on PostgreSQL one statement deletes exactly
/// the rows it adds (an append still uncommitted is not seen, and folds at the next run); SQLite
/// runs it inside a write transaction, which no append can interleave with.
pub fn fold(conn: &mut DbConnection) -> DbResult<usize> {
    let cols = "folded, figure, source_province, receiving_province, label, day, n, quantity_g, shipped_g, received_g, on_time";
    let folded = if conn.is_postgres() {
        // Count the moved rows in the same statement that moves them.
        #[derive(QueryableByName)]
        struct Moved {
            #[diesel(sql_type = BigInt)]
            moved: i64,
        }
        let sql = format!(
            "WITH moved AS (DELETE FROM transfer_figures WHERE NOT folded \
               RETURNING {KEY}, n, quantity_g, shipped_g, received_g, on_time), \
             summed AS (INSERT INTO transfer_figures ({cols}) \
               SELECT true, {KEY}, {SUMS} FROM moved GROUP BY {KEY} \
               ON CONFLICT ({KEY}) WHERE folded DO UPDATE SET {ADD}) \
             SELECT (SELECT COUNT(*) FROM moved) AS moved"
        );
        let m: Moved = diesel::sql_query(sql).get_result(conn)?;
        m.moved as usize
    } else {
        super::write_tx(conn, |conn| -> DbResult<usize> {
            diesel::sql_query(format!(
                "INSERT INTO transfer_figures ({cols}) \
                 SELECT 1, {KEY}, {SUMS} FROM transfer_figures WHERE NOT folded GROUP BY {KEY} \
                 ON CONFLICT ({KEY}) WHERE folded DO UPDATE SET {ADD}"
            ))
            .execute(conn)?;
            Ok(diesel::sql_query("DELETE FROM transfer_figures WHERE NOT folded").execute(conn)?)
        })?
    };
    diesel::sql_query(
        "DELETE FROM transfer_figures WHERE folded AND n = 0 AND quantity_g = 0 AND shipped_g = 0 \
         AND received_g = 0 AND on_time = 0",
    )
    .execute(conn)?;
    Ok(folded)
}

/// How many appended rows wait for the fold.
pub fn unfolded(conn: &mut DbConnection) -> DbResult<i64> {
    use transfer_figures::dsl as f;
    Ok(f::transfer_figures
        .filter(f::folded.eq(false))
        .count()
        .get_result(conn)?)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }
    fn d(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn shanghai_days_are_utc_plus_eight() {
        assert_eq!(day_of(at("2025-03-01 15:59:59")), d("2025-03-01"));
        assert_eq!(day_of(at("2025-03-01 16:00:00")), d("2025-03-02"));
        assert_eq!(start_of(d("2025-03-02")), at("2025-03-01 16:00:00"));
    }

    #[test]
    fn a_window_on_midnights_is_whole_days() {
        let c = cut(Some(at("2025-02-28 16:00:00")), Some(at("2025-03-31 16:00:00")));
        assert_eq!(c.days, Some((Some(d("2025-03-01")), Some(d("2025-04-01")))));
        assert!(c.edges.is_empty());
        assert_eq!(
            cut(None, None),
            DayCut {
                days: Some((None, None)),
                edges: vec![]
            }
        );
    }

    #[test]
    fn partial_days_are_edges() {
        // From 10:00 on 1 March to 12:00 on 5 March, Shanghai time.
        let (from, to) = (at("2025-03-01 02:00:00"), at("2025-03-05 04:00:00"));
        let c = cut(Some(from), Some(to));
        assert_eq!(c.days, Some((Some(d("2025-03-02")), Some(d("2025-03-05")))));
        assert_eq!(
            c.edges,
            vec![
                (Some(from), Some(at("2025-03-01 16:00:00"))),
                (Some(at("2025-03-04 16:00:00")), Some(to))
            ]
        );
        // Open at one end.
        let c = cut(None, Some(to));
        assert_eq!(c.days, Some((None, Some(d("2025-03-05")))));
        assert_eq!(c.edges, vec![(Some(at("2025-03-04 16:00:00")), Some(to))]);
    }

    #[test]
    fn less_than_a_day_is_all_edge() {
        let (from, to) = (at("2025-03-01 02:00:00"), at("2025-03-01 20:00:00"));
        assert_eq!(
            cut(Some(from), Some(to)),
            DayCut {
                days: None,
                edges: vec![(Some(from), Some(to))]
            }
        );
        // An empty or inverted window reads nothing from the figures either.
        let c = cut(Some(to), Some(from));
        assert_eq!(c.days, None);
    }
}
