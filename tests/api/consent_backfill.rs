//! Migration 2026-12-04-000110_consent_steps_backfill on both backends: a database as a release
//! before 2026-12-03-000020_procedure left it, with whitelist cases under a `consent` agreement
//! that ran one step for both provinces, migrated to today: each open case gets the receiving
//! province's own step beside the source's, with what each province already decided.

use diesel::RunQueryDsl;
use hwtransfer::db::applications::{StepRow, open_steps, suspensions};
use hwtransfer::db::{DbConnection, migrate};

use crate::both_backends;
use crate::support::{Backend, TestDb};

fn uuid() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// An open whitelist case as the code before 000020 stored it: accepted, one open
/// whitelist_decision step (the source's side) due on 2026-12-02, overdue since.
fn old_case(id: &str, consent: &str, status: &str, step: &str, step_done: bool) -> Vec<String> {
    let done = if step_done { "'2026-11-27 02:00:00'" } else { "NULL" };
    let outcome = if step_done { "'approved'" } else { "NULL" };
    vec![
        format!(
            "INSERT INTO transfer_applications (id, enterprise_id, source_province, source_division, operator_id, \
             receiving_province, route, route_reasons, receiving_consent, status, method, period_start, period_end, \
             carriers, catalogue_edition, received_at, received_on, accepted_on, deemed_accepted, request_hash, \
             filed_by, next_due_at, next_side, version, created_at, updated_at) VALUES ('{id}', 'ent', '500000', \
             '500112', 'op', '510000', 'whitelist', '[]', '{consent}', '{status}', 'dispose', '2026-12-01', \
             '2027-05-31', '[]', 2021, '2026-11-24 02:00:00', '2026-11-24', '2026-11-25', FALSE, 'h', 'ent-user', \
             '2026-12-02 09:30:00', 'source', 3, '2026-11-24 02:00:00', '2026-11-25 02:00:00')"
        ),
        format!(
            "INSERT INTO application_steps (id, application_id, kind, side, started_on, working_days, due_on, due_at, \
             provisional, completed_at, outcome, overdue_at, reminded_at) VALUES ('{step}', '{id}', \
             'whitelist_decision', 'source', '2026-11-25', 5, '2026-12-02', '2026-12-02 09:30:00', FALSE, {done}, \
             {outcome}, '2026-12-02 09:31:00', '2026-12-01 01:00:00')"
        ),
    ]
}

fn decision(app: &str, side: &str, at: &str) -> String {
    format!(
        "INSERT INTO decisions (id, application_id, side, outcome, reasons, conditions, decided_by, decided_at) \
         VALUES ('{}', '{app}', '{side}', 'approve', '[]', '[]', 'someone', '{at}')",
        uuid()
    )
}

/// A case's steps, the source's first (ids of steps made the same millisecond may sort either way).
fn steps(conn: &mut DbConnection, id: &str) -> Vec<StepRow> {
    let mut all = hwtransfer::db::applications::steps(conn, id).unwrap();
    all.sort_by_key(|s| s.kind != "whitelist_decision");
    all
}

fn kinds(rows: &[StepRow]) -> Vec<(String, String, Option<String>)> {
    rows.iter()
        .map(|s| (s.kind.clone(), s.side.clone(), s.outcome.clone()))
        .collect()
}

fn next_side(conn: &mut DbConnection, id: &str) -> Option<String> {
    use diesel::prelude::*;
    use hwtransfer::db::schema::transfer_applications as t;
    t::table.find(id).select(t::next_side).first(conn).unwrap()
}

async fn old_consent_cases_get_a_step_per_province(backend: Backend) {
    let db = TestDb::empty(backend);
    let pool = hwtransfer::db::pool::Db::connect(&db.url, 2, std::time::Duration::from_secs(10)).unwrap();
    let mut conn = pool.get().unwrap();
    let applied = migrate::apply_before(&mut conn, "2026-12-03-000020").unwrap();
    assert!(
        applied.iter().any(|m| m.starts_with("2026-12-02-000010")),
        "{applied:?}"
    );
    assert!(!applied.iter().any(|m| m.contains("000020")), "{applied:?}");

    let (open, source, receiving, inform, approved) = (
        "case-open",
        "case-source",
        "case-receiving",
        "case-inform",
        "case-approved",
    );
    let open_step = uuid();
    let mut sql = vec![
        "INSERT INTO enterprises (id, name, uscc, province, division_code, address, contact_name, contact_phone, \
         created_by, created_at, updated_at) VALUES ('ent', '重庆某化工', '91500112MA00000011', '500000', '500112', \
         '地址', '张三', '023-0', 'admin', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
            .to_string(),
        "INSERT INTO operators (id, name, uscc, province, division_code, address, created_by, created_at, updated_at) \
         VALUES ('op', '四川某处置', '91510100MA00000022', '510000', '510100', '地址', 'admin', \
         '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
            .to_string(),
    ];
    sql.extend(old_case(open, "consent", "under_review", &open_step, false));
    sql.push(format!(
        "INSERT INTO clock_suspensions (id, application_id, step_id, reason, suspended_on, resumed_on, suspended_by, \
         created_at) VALUES ('{}', '{open}', '{open_step}', '专家评审', '2026-11-26', NULL, 'sc-reg', \
         '2026-11-26 02:00:00')",
        uuid()
    ));
    sql.extend(old_case(source, "consent", "under_review", &uuid(), false));
    sql.push(decision(source, "source", "2026-11-26 03:00:00"));
    sql.extend(old_case(receiving, "consent", "under_review", &uuid(), false));
    sql.push(decision(receiving, "receiving", "2026-11-26 04:00:00"));
    sql.extend(old_case(inform, "inform", "under_review", &uuid(), false));
    sql.extend(old_case(approved, "consent", "approved", &uuid(), true));
    for s in sql {
        diesel::sql_query(&s)
            .execute(&mut *conn)
            .unwrap_or_else(|e| panic!("{s}: {e}"));
    }

    let applied = migrate::run_pending(&mut conn).unwrap();
    assert!(applied.iter().any(|m| m.contains("000110")), "{applied:?}");

    // Neither decided: both provinces' steps run, with the same start, deadline, overdue flag and
    // suspension (each province resumes its own); the source's first on the queue's tie.
    let all = steps(&mut conn, open);
    assert_eq!(
        kinds(&all),
        vec![
            ("whitelist_decision".into(), "source".into(), None),
            ("whitelist_consent".into(), "receiving".into(), None)
        ]
    );
    let (old, new) = (&all[0], &all[1]);
    assert_eq!(
        (
            &new.started_on,
            new.working_days,
            &new.due_on,
            new.due_at,
            new.provisional,
            new.overdue_at
        ),
        (
            &old.started_on,
            old.working_days,
            &old.due_on,
            old.due_at,
            old.provisional,
            old.overdue_at
        )
    );
    assert!(new.completed_at.is_none());
    assert_eq!(new.id.len(), 36);
    assert_eq!(new.id[..24], old.id[..24], "time-ordered like the step it came from");
    let susp = suspensions(&mut conn, open).unwrap();
    assert_eq!(susp.len(), 2, "{susp:?}");
    let mut on: Vec<&str> = susp.iter().map(|s| s.step_id.as_str()).collect();
    on.sort();
    let mut want = vec![old.id.as_str(), new.id.as_str()];
    want.sort();
    assert_eq!(on, want);
    assert!(susp.iter().all(|s| s.reason == "专家评审" && s.resumed_on.is_none()));
    assert_eq!(next_side(&mut conn, open).as_deref(), Some("source"));

    // The source approved: its step is done when it decided; the case waits for the receiving
    // province's own step.
    let all = steps(&mut conn, source);
    assert_eq!(
        kinds(&all),
        vec![
            ("whitelist_decision".into(), "source".into(), Some("approved".into())),
            ("whitelist_consent".into(), "receiving".into(), None)
        ]
    );
    assert_eq!(
        all[0].completed_at.map(|t| t.to_string()).as_deref(),
        Some("2026-11-26 03:00:00")
    );
    assert_eq!(open_steps(&mut conn, source).unwrap()[0].side, "receiving");
    assert_eq!(next_side(&mut conn, source).as_deref(), Some("receiving"));

    // The receiving province approved: its step is there, done; the source's runs on.
    let all = steps(&mut conn, receiving);
    assert_eq!(
        kinds(&all),
        vec![
            ("whitelist_decision".into(), "source".into(), None),
            ("whitelist_consent".into(), "receiving".into(), Some("approved".into()))
        ]
    );
    assert_eq!(
        all[1].completed_at.map(|t| t.to_string()).as_deref(),
        Some("2026-11-26 04:00:00")
    );
    assert!(all[1].overdue_at.is_none(), "it decided in time");
    assert_eq!(next_side(&mut conn, receiving).as_deref(), Some("source"));

    // An informed receiving province has no step; a decided case is left as it was.
    assert_eq!(steps(&mut conn, inform).len(), 1);
    assert_eq!(steps(&mut conn, approved).len(), 1);
}
both_backends!(
    old_consent_cases_get_a_step_per_province,
    old_consent_cases_get_a_step_per_province
);
