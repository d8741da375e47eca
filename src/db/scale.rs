//! Synthetic data at scale for benchmarks (`hwtransfer seed --scale N`): N applications with one
//! item each, manifests under the approved ones, and a hash-chained audit trail. Set-based SQL
//! (generate_series on PostgreSQL, a recursive CTE on SQLite) so a million rows take seconds,
//! not hours. The rows are marked `scale-` and are not realistic cases: they are shaped to
//! exercise the history indexes (four provinces, 20 waste codes, every status, three years), with
//! the open work (open steps, due instants) among the newest cases only, as in a real archive.

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use serde::Serialize;

use super::schema::{audit_head, enterprises, operators};
use super::{DbConnection, DbError, DbResult, write_tx};
use crate::audit::{self, Record};

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ScaleReport {
    pub applications: i64,
    pub manifests: i64,
    pub audit_events: i64,
}

const OPERATORS: i64 = 50;
/// Only the newest this many synthetic cases may be open (see `generate`).
const OPEN_WINDOW: i64 = 2000;
const PROVINCES: [&str; 4] = ["500000", "510000", "520000", "530000"];
const CODES: [&str; 20] = [
    "900-249-08",
    "900-214-08",
    "900-041-49",
    "900-039-49",
    "900-000-18",
    "772-003-18",
    "336-064-17",
    "900-252-12",
    "264-011-12",
    "900-013-11",
    "261-084-45",
    "900-404-06",
    "900-402-06",
    "398-004-22",
    "900-023-29",
    "336-050-17",
    "900-007-50",
    "900-451-13",
    "193-002-21",
    "900-199-08",
];

fn case(expr: &str, values: &[&str]) -> String {
    let arms: String = values
        .iter()
        .enumerate()
        .map(|(i, v)| format!(" WHEN {i} THEN '{v}'"))
        .collect();
    format!("(CASE ({expr}){arms} END)")
}

/// Zero-padded text of an integer expression.
fn pad(pg: bool, expr: &str, width: usize) -> String {
    if pg {
        format!("lpad(({expr})::text, {width}, '0')")
    } else {
        format!("printf('%0{width}d', {expr})")
    }
}

/// `n` seconds after 2024-01-01 00:00 UTC as a timestamp.
fn at(pg: bool, seconds: &str) -> String {
    if pg {
        format!("(timestamp '2024-01-01 00:00:00' + ({seconds}) * interval '1 second')")
    } else {
        format!("datetime('2024-01-01 00:00:00', '+' || ({seconds}) || ' seconds')")
    }
}

/// Generates `applications` applications, `manifests_per_approval` manifests under each
/// approved (or expired) one, and `audit_per_application` audit records per application.
pub fn generate(
    conn: &mut DbConnection,
    applications: i64,
    manifests_per_approval: i64,
    audit_per_application: i64,
) -> anyhow::Result<ScaleReport> {
    let pg = conn.is_postgres();
    let n_ent = (applications / 1000).clamp(1, 2000);
    let now = super::db_now();
    write_tx(conn, |conn| {
        for i in 0..n_ent {
            diesel::insert_into(enterprises::table)
                .values((
                    enterprises::id.eq(format!("scale-ent-{i:06}")),
                    enterprises::name.eq(format!("规模测试产废单位{i:06}")),
                    enterprises::uscc.eq(format!("scale-uscc-e{i:06}")),
                    enterprises::province.eq(PROVINCES[(i % 4) as usize]),
                    enterprises::division_code.eq(format!("{}0100", &PROVINCES[(i % 4) as usize][..2])),
                    enterprises::address.eq("规模测试"),
                    enterprises::contact_name.eq("测试"),
                    enterprises::contact_phone.eq("000"),
                    enterprises::created_by.eq("scale"),
                    enterprises::created_at.eq(now),
                    enterprises::updated_at.eq(now),
                ))
                .execute(conn)?;
        }
        for i in 0..OPERATORS {
            diesel::insert_into(operators::table)
                .values((
                    operators::id.eq(format!("scale-op-{i:04}")),
                    operators::name.eq(format!("规模测试经营单位{i:04}")),
                    operators::uscc.eq(format!("scale-uscc-o{i:04}")),
                    operators::province.eq(PROVINCES[(i % 4) as usize]),
                    operators::division_code.eq(format!("{}0100", &PROVINCES[(i % 4) as usize][..2])),
                    operators::address.eq("规模测试"),
                    operators::created_by.eq("scale"),
                    operators::created_at.eq(now),
                    operators::updated_at.eq(now),
                ))
                .execute(conn)?;
        }
        Ok::<_, DbError>(())
    })?;

    let series = |n: i64| {
        if pg {
            (String::new(), format!("generate_series(1, {n}) AS s(n)"))
        } else {
            (
                format!("WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < {n}) "),
                "s".to_string(),
            )
        }
    };
    let spread = (89_000_000 / applications.max(1)).max(1);
    let ts = at(pg, &format!("n * {spread}"));
    // Open work is the newest cases', as in a real archive (a case is accepted or deemed
    // accepted within five working days, and decided within weeks): only the newest
    // `OPEN_WINDOW` may be `submitted` or `under_review`, each with its open step on the source
    // side, due a month after seeding; the same slots of older cases were withdrawn. So a
    // province's queue holds the same open work at every scale while the archive grows.
    let open_from = applications - OPEN_WINDOW;
    let mix = [
        "approved",
        "approved",
        "approved",
        "approved",
        "approved",
        "approved",
        "expired",
        "under_review",
        "refused",
        "submitted",
    ];
    let is_open = |s: &&str| matches!(*s, "submitted" | "under_review");
    let open_slots: Vec<String> = (0..mix.len())
        .filter(|&i| is_open(&mix[i]))
        .map(|i| i.to_string())
        .collect();
    let closed = mix.map(|s| if is_open(&s) { "withdrawn" } else { s });
    let open = format!("(n > {open_from} AND n % 10 IN ({}))", open_slots.join(", "));
    let status = format!(
        "(CASE WHEN n > {open_from} THEN {} ELSE {} END)",
        case("n % 10", &mix),
        case("n % 10", &closed)
    );
    let due = if pg {
        format!("(timestamp '{now}' + interval '30 days')")
    } else {
        format!("datetime('{now}', '+30 days')")
    };
    let due_on = if pg {
        format!("to_char({due}, 'YYYY-MM-DD')")
    } else {
        format!("date({due})")
    };
    let approved = "(n % 10 <= 6)";
    let src = case("n % 4", &PROVINCES);
    let recv = case("(n % 4 + 1 + (n / 4) % 3) % 4", &PROVINCES);
    let q = "(1000 * (1 + n % 5000))";
    let m = manifests_per_approval;
    let shipped = format!("(CASE WHEN {approved} THEN ({q} / {}) * {m} ELSE 0 END)", m.max(1));
    let id = format!("'scale-' || {}", pad(pg, "n", 10));
    let (with, from) = series(applications);
    let apps = format!(
        "{with}INSERT INTO transfer_applications (id, enterprise_id, source_province, source_division, operator_id, \
         receiving_province, route, route_reasons, receiving_consent, status, method, period_start, period_end, carriers, \
         catalogue_edition, received_at, received_on, accepted_on, deemed_accepted, correction_notice, approval_number, \
         approved_at, valid_until, idempotency_key, request_hash, filed_by, next_due_at, next_side, version, created_at, \
         updated_at, quantity_g, shipped_g, received_g, source_step_open) \
         SELECT {id}, 'scale-ent-' || {ent}, {src}, '500112', 'scale-op-' || {op}, {recv}, \
         CASE WHEN n % 3 = 0 THEN 'standard' ELSE 'whitelist' END, '[]', 'consent', {status}, 'dispose', \
         '2026-01-01', '2026-12-31', '[]', 2021, {ts}, '2026-01-01', NULL, FALSE, NULL, \
         CASE WHEN {approved} THEN 'scale-' || n ELSE NULL END, NULL, \
         CASE WHEN {approved} THEN '2026-12-31' ELSE NULL END, NULL, '', 'scale', \
         CASE WHEN {open} THEN {due} ELSE NULL END, CASE WHEN {open} THEN 'source' ELSE NULL END, 1, {ts}, {ts}, \
         {q}, {shipped}, {shipped}, {open} FROM {from}",
        ent = pad(pg, &format!("n % {n_ent}"), 6),
        op = pad(pg, &format!("n % {OPERATORS}"), 4),
    );
    let categories: Vec<String> = CODES.iter().map(|c| format!("HW{}", &c[8..])).collect();
    let cat_refs: Vec<&str> = categories.iter().map(String::as_str).collect();
    let items = format!(
        "{with}INSERT INTO application_items (application_id, line, waste_code, category, waste_name, physical_form, \
         hazards, packaging, quantity_g, entry_id, entry_version, shipped_g, received_g) \
         SELECT {id}, 0, {code}, {cat}, '规模测试废物', '液态', 'T', '桶', {q}, NULL, NULL, {shipped}, {shipped} FROM {from}",
        code = case("n % 20", &CODES),
        cat = case("n % 20", &cat_refs),
    );
    let steps = format!(
        "{with}INSERT INTO application_steps (id, application_id, kind, side, started_on, working_days, due_on, \
         due_at, provisional, completed_at, outcome, overdue_at, reminded_at) \
         SELECT 'scale-s-' || {step}, {id}, CASE WHEN n % 10 = 9 THEN 'acceptance' WHEN n % 3 = 0 THEN 'source_review' \
         ELSE 'whitelist_decision' END, 'source', '2026-01-01', 5, {due_on}, {due}, FALSE, NULL, NULL, NULL, NULL \
         FROM {from} WHERE {open}",
        step = pad(pg, "n", 10),
    );
    let mut batch = vec![apps, items, steps];
    if m > 0 {
        let idx = format!("(CAST(substr(a.id, 7) AS BIGINT) * {m} + k)");
        let (kwith, kfrom) = if pg {
            (String::new(), format!("generate_series(1, {m}) AS ks(k)"))
        } else {
            (
                format!("WITH RECURSIVE ks(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM ks WHERE k < {m}) "),
                "ks".to_string(),
            )
        };
        let mts = at(pg, &format!("CAST(substr(a.id, 7) AS BIGINT) * {spread} + k * 3600"));
        batch.push(format!(
            "{kwith}INSERT INTO manifests (id, number, application_id, enterprise_id, operator_id, source_province, \
             receiving_province, source_city, year, serial, status, carrier_name, carrier_permit, vehicle_plate, driver_name, \
             route_from, route_to, departure_at, dispatched_at, receipt_due_on, receipt_due_at, receipt_due_provisional, \
             receipt_overdue_at, received_at, received_by, rejected_reason, discrepancy, discrepancy_note, idempotency_key, \
             request_hash, created_by, version, created_at, updated_at) \
             SELECT 'scale-m-' || {mid}, '2026' || {city} || {serial}, a.id, a.enterprise_id, a.operator_id, \
             a.source_province, a.receiving_province, {city}, 2026, {idx} / 9000 + 1, 'received', '规模测试运输', 'scale', \
             '渝A12345', '测试', '起点', '终点', {mts}, {mts}, '2026-01-08', {mts}, FALSE, NULL, {mts}, 'scale', NULL, \
             FALSE, NULL, NULL, '', 'scale', 3, {mts}, {mts} \
             FROM transfer_applications a CROSS JOIN {kfrom} \
             WHERE a.id LIKE 'scale-%' AND a.status IN ('approved', 'expired')",
            mid = pad(pg, &idx, 12),
            city = pad(pg, &format!("{idx} % 9000 + 1000"), 4),
            serial = pad(pg, &format!("{idx} / 9000 + 1"), 6),
        ));
        batch.push(format!(
            "INSERT INTO manifest_items (manifest_id, line, application_line, waste_code, quantity_g, accepted_g) \
             SELECT m.id, 0, 0, i.waste_code, i.quantity_g / {m}, i.quantity_g / {m} \
             FROM manifests m JOIN application_items i ON i.application_id = m.application_id AND i.line = 0 \
             WHERE m.id LIKE 'scale-m-%'"
        ));
        // The synthetic serials are taken: each city's counter moves past them, so the first real
        // manifest of such a city draws the next free serial instead of colliding (409).
        batch.push(
            "INSERT INTO manifest_counters (source_city, year, last_serial) \
             SELECT source_city, year, max(serial) FROM manifests WHERE id LIKE 'scale-m-%' \
             GROUP BY source_city, year \
             ON CONFLICT (source_city, year) DO UPDATE SET last_serial = excluded.last_serial \
             WHERE manifest_counters.last_serial < excluded.last_serial"
                .to_string(),
        );
    }
    for sql in &batch {
        conn.batch_execute(sql)?;
    }
    let mut report = ScaleReport {
        applications,
        ..Default::default()
    };
    report.manifests = super::schema::manifests::table
        .filter(super::schema::manifests::id.like("scale-m-%"))
        .count()
        .get_result(conn)?;
    if audit_per_application > 0 {
        report.audit_events = append_synthetic_audit(conn, applications, audit_per_application)?;
    }
    // The triggers appended a change per case and step: fold them, as the sweeper would, and
    // give back the space the appended rows took (a steady state never appends so many at once).
    super::figures::fold(conn)?;
    if pg {
        conn.batch_execute("VACUUM FULL transfer_figures")?;
        conn.batch_execute("ANALYZE")?;
    }
    Ok(report)
}

/// Appends `per_app` chained records for each synthetic application, in batches of 1000 rows
/// per statement. The chain stays valid: `hwtransfer audit verify` passes afterwards.
fn append_synthetic_audit(conn: &mut DbConnection, applications: i64, per_app: i64) -> DbResult<i64> {
    const ACTIONS: [&str; 6] = [
        "filed",
        "accepted",
        "source_approved",
        "receiving_approved",
        "manifest",
        "read",
    ];
    let (mut seq, mut prev): (i64, String) = audit_head::table
        .find(1)
        .select((audit_head::seq, audit_head::hash))
        .first(conn)?;
    let suite = super::audit::chain_suite(conn)?;
    let base = chrono::DateTime::from_timestamp(1_704_067_200, 0)
        .unwrap_or_default()
        .naive_utc();
    let total = applications * per_app;
    let spread_us = (89_000_000_000_000 / total.max(1)).max(1);
    let mut done = 0i64;
    let quote = |s: &str| s.replace('\'', "''");
    while done < total {
        let mut values = Vec::with_capacity(1000);
        for _ in 0..1000.min(total - done) {
            let n = done / per_app + 1;
            let j = done % per_app;
            seq += 1;
            let action = ACTIONS[(j as usize) % ACTIONS.len()];
            let r = Record {
                seq,
                id: format!("scale-audit-{seq:012}"),
                at: base + chrono::Duration::microseconds(done * spread_us),
                actor: format!("scale-user-{:04}", (n + j) % 500),
                actor_name: "规模测试".into(),
                role: if j == 0 { "enterprise" } else { "regulator" }.into(),
                request_id: Some(format!("scale-req-{seq}")),
                object_type: "transfer_application".into(),
                object_id: format!("scale-{n:010}"),
                action: action.into(),
                diff: audit::canonical_json(&serde_json::json!({ "status": {"from": null, "to": action} })),
                prev_hash: prev.clone(),
            };
            let hash = audit::hash_with(suite, &r);
            values.push(format!(
                "({}, '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}', '{}')",
                r.seq,
                r.id,
                r.at.format("%Y-%m-%d %H:%M:%S%.6f"),
                quote(&r.actor),
                quote(&r.actor_name),
                r.role,
                quote(r.request_id.as_deref().unwrap_or_default()),
                r.object_type,
                r.object_id,
                r.action,
                quote(&r.diff),
                r.prev_hash,
                hash
            ));
            prev = hash;
            done += 1;
        }
        let sql = format!(
            "INSERT INTO audit_log (seq, id, at, actor, actor_name, role, request_id, object_type, object_id, action, \
             diff, prev_hash, hash) VALUES {}",
            values.join(",")
        );
        let head = (seq, prev.clone());
        write_tx(conn, |conn| {
            conn.batch_execute(&sql)?;
            diesel::update(audit_head::table.find(1))
                .set((audit_head::seq.eq(head.0), audit_head::hash.eq(&head.1)))
                .execute(conn)?;
            Ok::<_, DbError>(())
        })?;
    }
    Ok(total)
}
