//! The audit trail: every change is recorded with who, role, request id and a diff; the chain
//! verifies; the service's own connection can neither change nor remove a record; an edited, a
//! deleted, a reordered row and a cut-off end are each found (the tests first lift the append-only
//! guard, as someone with DDL rights or the database file could); concurrent appends keep the chain
//! whole; auditors' reads are logged; scopes hold.

use diesel::RunQueryDsl;
use serde_json::{Value, json};

use crate::both_backends;
use crate::fixtures::Registry;
use crate::support::{Backend, TestApp, assert_problem};

/// The trail's records of the signed-in auditor's own reads: (the page, its items).
async fn auditor_reads(app: &TestApp, auditor: &str) -> (Value, Vec<Value>) {
    let me = app.get("/api/v1/auth/me", Some(auditor)).await.1;
    let aud_id = me["subject"].as_str().unwrap().to_string();
    let (_, page, _) = app
        .get(
            &format!("/api/v1/audit/events?object_type=query&actor={aud_id}&limit=200"),
            Some(auditor),
        )
        .await;
    let reads = page["items"].as_array().unwrap().clone();
    (page, reads)
}

async fn verify(app: &TestApp, token: &str) -> Value {
    let (s, v, _) = app.get("/api/v1/audit/verify", Some(token)).await;
    assert_eq!(s, 200, "{v}");
    v
}

/// Tampers as someone who can do more than the service's statements: the append-only triggers are
/// lifted first (DDL on PostgreSQL, the file itself on SQLite), so only the chain is left to notice.
async fn exec(app: &TestApp, sql: &'static str) {
    app.state
        .db
        .run(move |c| {
            let lift: &[&str] = if c.is_postgres() {
                &["ALTER TABLE audit_log DISABLE TRIGGER USER"]
            } else {
                &[
                    "DROP TRIGGER IF EXISTS audit_log_no_update",
                    "DROP TRIGGER IF EXISTS audit_log_no_delete",
                ]
            };
            for l in lift {
                diesel::sql_query(*l).execute(c)?;
            }
            diesel::sql_query(sql).execute(c)?;
            Ok(())
        })
        .await
        .unwrap();
}

/// What the service's own connection gets when it tries to change or remove a record.
async fn refused(app: &TestApp, sql: &'static str) -> String {
    app.state
        .db
        .run(move |c| Ok(diesel::sql_query(sql).execute(c).map_err(|e| e.to_string())))
        .await
        .unwrap()
        .expect_err(sql)
}

/// No statement through the service's connection changes, removes or truncates an audit record; the
/// chain is untouched afterwards and appending goes on.
async fn records_are_append_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    reg.confirmed_entry(&app, "HW08", "100").await;
    let before = verify(&app, &reg.admin).await;
    assert_eq!(before["intact"], true, "{before}");
    let mut attempts = vec![
        "UPDATE audit_log SET diff = '{}' WHERE seq = 5",
        "UPDATE audit_log SET actor_name = 'someone else'",
        "DELETE FROM audit_log WHERE seq = 5",
        "DELETE FROM audit_log",
    ];
    if backend == Backend::Postgres {
        attempts.push("TRUNCATE audit_log");
    }
    for sql in attempts {
        let err = refused(&app, sql).await;
        assert!(err.contains("append-only"), "{sql}: {err}");
    }
    let after = verify(&app, &reg.admin).await;
    assert_eq!(after, before, "nothing changed");
    // Appending still works: one more change, one more record, still whole.
    reg.confirmed_entry(&app, "HW49", "50").await;
    let grown = verify(&app, &reg.admin).await;
    assert_eq!(grown["intact"], true, "{grown}");
    assert!(grown["head_seq"].as_i64() > before["head_seq"].as_i64());
}
both_backends!(records_are_append_only, records_are_append_only);

async fn trail_records_every_change(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    app.add_user("aud", "auditor", None).await;
    let auditor = app.login("aud").await;
    let entry = reg.confirmed_entry(&app, "HW08", "100").await;
    let app_id = crate::fixtures::approved_application(&app, &reg, "40").await;

    let v = verify(&app, &auditor).await;
    assert_eq!(v["intact"], true, "{v}");
    assert!(v["checked"].as_i64().unwrap() > 10, "{v}");
    assert_eq!(v["checked"], v["head_seq"]);

    // The application's records: filed by the enterprise, then the regulators' steps.
    let (s, page, _) = app
        .get(&format!("/api/v1/audit/events?object={app_id}"), Some(&auditor))
        .await;
    assert_eq!(s, 200, "{page}");
    let items = page["items"].as_array().unwrap();
    let actions: Vec<&str> = items.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        vec!["filed", "accepted", "source_approved", "receiving_approved"],
        "{page}"
    );
    assert_eq!(items[0]["role"], "enterprise");
    assert_eq!(items[0]["diff"]["status"]["to"], "submitted");
    assert_eq!(items[0]["diff"]["detail"]["to"]["items"][0]["quantity_g"], 40000);
    assert_eq!(items[1]["role"], "regulator");
    assert_eq!(
        items[1]["diff"]["status"],
        json!({"from": "submitted", "to": "under_review"})
    );
    assert!(items[1]["request_id"].as_str().is_some_and(|r| !r.is_empty()));
    assert!(
        items[3]["diff"]["approval_number"]["to"]
            .as_str()
            .unwrap()
            .starts_with("渝危转")
    );
    // Each record links to the one before it.
    for pair in items.windows(2) {
        assert!(pair[1]["seq"].as_i64() > pair[0]["seq"].as_i64());
    }
    // The entry's quota movements are changes of the entry.
    let (_, page, _) = app
        .get(
            &format!("/api/v1/audit/events?object={entry}&object_type=whitelist_entry"),
            Some(&auditor),
        )
        .await;
    let actions: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, vec!["proposed", "confirm", "quota_reserve", "quota_commit"]);
    assert_eq!(page["items"][2]["diff"]["reserved_g"], json!({"from": 0, "to": 40000}));

    // No secret reaches the trail.
    let (_, page, _) = app
        .get("/api/v1/audit/events?object_type=user&limit=200", Some(&auditor))
        .await;
    let text = page.to_string();
    assert!(text.contains("\"username\""), "users are recorded");
    assert!(!text.contains("argon2") && !text.contains("password_hash"), "{text}");

    // Auditors' reads are logged: who queried what.
    let (page, reads) = auditor_reads(&app, &auditor).await;
    assert!(reads.iter().any(|r| r["object_id"] == "/api/v1/audit/verify"), "{page}");
    assert!(
        reads
            .iter()
            .any(|r| r["object_id"] == "/api/v1/audit/events" && r["diff"]["query"].as_str().unwrap().contains(&app_id)),
        "{page}"
    );
    assert!(reads.iter().all(|r| r["role"] == "auditor" && r["action"] == "read"));

    // Filters: a time window in the future is empty; a bad one is refused with every problem.
    let (_, page, _) = app.get("/api/v1/audit/events?from=2999-01-01", Some(&auditor)).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 0);
    let (s, body, h) = app
        .get("/api/v1/audit/events?from=yesterday&to=x&colour=red", Some(&auditor))
        .await;
    assert_eq!(assert_problem(s, &body, &h, 422).len(), 3);
    // Paging walks the whole trail in order.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/audit/events?limit=7&cursor={c}"),
            None => "/api/v1/audit/events?limit=7".into(),
        };
        let (_, page, _) = app.get(&path, Some(&reg.admin)).await;
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["seq"].as_i64().unwrap()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, (1..=seen.len() as i64).collect::<Vec<_>>());

    // Scopes: regulators and enterprises are refused; a province's auditor reads one object of
    // its province, not another province's, and cannot verify the whole chain.
    assert_eq!(app.get("/api/v1/audit/events", Some(&reg.cq)).await.0, 403);
    assert_eq!(
        app.get("/api/v1/audit/verify", Some(&reg.enterprise_token)).await.0,
        403
    );
    app.add_user("aud-cq", "auditor", Some("500000")).await;
    app.add_user("aud-gz", "auditor", Some("520000")).await;
    let (aud_cq, aud_gz) = (app.login("aud-cq").await, app.login("aud-gz").await);
    assert_eq!(
        app.get(&format!("/api/v1/audit/events?object={app_id}"), Some(&aud_cq))
            .await
            .0,
        200
    );
    assert_eq!(
        app.get(&format!("/api/v1/audit/events?object={app_id}"), Some(&aud_gz))
            .await
            .0,
        404
    );
    assert_eq!(app.get("/api/v1/audit/events", Some(&aud_cq)).await.0, 403);
    assert_eq!(app.get("/api/v1/audit/verify", Some(&aud_cq)).await.0, 403);
}
both_backends!(trail_records_every_change, trail_records_every_change);

/// Each kind of tampering is found, at the right record.
async fn tampering_is_found(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    reg.confirmed_entry(&app, "HW08", "100").await;
    let head = verify(&app, &reg.admin).await["head_seq"].as_i64().unwrap();
    assert!(head > 12, "enough records to tamper with: {head}");

    // Edited: the diff of record 5 is changed.
    exec(&app, "UPDATE audit_log SET diff = '{}' WHERE seq = 5").await;
    let v = verify(&app, &reg.admin).await;
    assert_eq!(v["intact"], false);
    assert_eq!(v["first_break"]["seq"], 5);
    assert_eq!(v["first_break"]["kind"], "hash_mismatch");
    assert_eq!(v["checked"], 4);
    // Also a forged hash that matches the edited content breaks the next link.
    exec(&app, "DELETE FROM audit_log WHERE seq = 5").await;
    let v = verify(&app, &reg.admin).await;
    assert_eq!(v["first_break"]["seq"], 5);
    assert_eq!(v["first_break"]["kind"], "missing_record");
}
both_backends!(tampering_is_found, tampering_is_found);

async fn reordering_and_truncation_are_found(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    reg.confirmed_entry(&app, "HW08", "100").await;
    // Reordered: records 7 and 8 swap places.
    exec(&app, "UPDATE audit_log SET seq = -7 WHERE seq = 7").await;
    exec(&app, "UPDATE audit_log SET seq = 7 WHERE seq = 8").await;
    exec(&app, "UPDATE audit_log SET seq = 8 WHERE seq = -7").await;
    let v = verify(&app, &reg.admin).await;
    assert_eq!(v["first_break"]["seq"], 7, "{v}");
    assert_eq!(v["first_break"]["kind"], "broken_link");
    // Put back: whole again.
    exec(&app, "UPDATE audit_log SET seq = -7 WHERE seq = 7").await;
    exec(&app, "UPDATE audit_log SET seq = 7 WHERE seq = 8").await;
    exec(&app, "UPDATE audit_log SET seq = 8 WHERE seq = -7").await;
    assert_eq!(verify(&app, &reg.admin).await["intact"], true);
    // Cut off at the end: the head still knows how far the chain went.
    exec(
        &app,
        "DELETE FROM audit_log WHERE seq = (SELECT MAX(seq) FROM audit_log)",
    )
    .await;
    let v = verify(&app, &reg.admin).await;
    assert_eq!(v["first_break"]["kind"], "head_mismatch", "{v}");
    assert_eq!(v["first_break"]["seq"], v["head_seq"]);
    // The command line says the same and fails.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hwtransfer"))
        .args(["audit", "verify"])
        .env("HWT_DATABASE_URL", &app.db.url)
        .env("HWT_DATA_DIR", app.db.dir.path().join("data"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("head_mismatch"), "{stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("audit chain is broken"));
}
both_backends!(reordering_and_truncation_are_found, reordering_and_truncation_are_found);

/// Eight threads append 25 records each, some inside transactions that roll back: the chain has
/// exactly the committed records, gap-free and verifying.
async fn concurrent_appends_keep_the_chain(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.pool_size = 10).await;
    let before = verify(&app, &{
        app.add_user("root", "admin", None).await;
        app.login("root").await
    })
    .await["head_seq"]
        .as_i64()
        .unwrap();
    let mut threads = Vec::new();
    for t in 0..8 {
        let db = app.state.db.clone();
        threads.push(std::thread::spawn(move || {
            let mut conn = db.get().unwrap();
            for i in 0..25 {
                let r: Result<(), hwtransfer::db::DbError> = hwtransfer::db::write_tx(&mut conn, |c| {
                    hwtransfer::db::audit::record(c, "test", &format!("{t}-{i}"), "touched", json!({ "i": i }))?;
                    if i % 5 == 4 {
                        // Rolled back: its record must not appear.
                        return Err(hwtransfer::db::DbError::Conflict("undo".into()));
                    }
                    Ok(())
                });
                assert!(r.is_ok() || i % 5 == 4);
            }
        }));
    }
    for t in threads {
        t.join().unwrap();
    }
    let admin = app.login("root").await;
    let v = verify(&app, &admin).await;
    assert_eq!(v["intact"], true, "{v}");
    // 8 × 20 committed, plus root's second sign-in (a security event); admins' reads are not
    // logged, only auditors'.
    assert_eq!(v["head_seq"].as_i64().unwrap() - before, 161, "{v}");
}
both_backends!(concurrent_appends_keep_the_chain, concurrent_appends_keep_the_chain);

/// A unit of work too large for one PostgreSQL statement's bind parameters (5 100 records of 13
/// columns) is appended row by row, a small one in one statement: both chain on, gap-free and
/// verifying, and every record is stored with its place.
async fn large_and_small_appends_keep_the_chain(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.add_user("root", "admin", None).await;
    let admin = app.login("root").await;
    let before = verify(&app, &admin).await["head_seq"].as_i64().unwrap();
    let mut conn = app.state.db.get().unwrap();
    for n in [5_100, 3] {
        let r: Result<(), hwtransfer::db::DbError> = hwtransfer::db::write_tx(&mut conn, |c| {
            for i in 0..n {
                hwtransfer::db::audit::record(c, "test", &format!("{n}-{i}"), "touched", json!({ "i": i }))?;
            }
            Ok(())
        });
        r.unwrap();
    }
    drop(conn);
    let v = verify(&app, &admin).await;
    assert_eq!(v["intact"], true, "{v}");
    assert_eq!(v["head_seq"].as_i64().unwrap() - before, 5_103, "{v}");
    let mut conn = app.state.db.get().unwrap();
    use diesel::prelude::*;
    use hwtransfer::db::schema::audit_log;
    let last: Vec<(i64, String)> = audit_log::table
        .filter(audit_log::object_type.eq("test"))
        .order(audit_log::seq.desc())
        .limit(4)
        .select((audit_log::seq, audit_log::object_id))
        .load(&mut *conn)
        .unwrap();
    let head = v["head_seq"].as_i64().unwrap();
    assert_eq!(
        last,
        vec![
            (head, "3-2".to_string()),
            (head - 1, "3-1".to_string()),
            (head - 2, "3-0".to_string()),
            (head - 3, "5100-5099".to_string())
        ]
    );
}
both_backends!(
    large_and_small_appends_keep_the_chain,
    large_and_small_appends_keep_the_chain
);

/// An auditor's read is recorded without waiting for a turn at the write gate: with the gate's one
/// turn held by a write transaction that has not finished, the auditor's query is answered and its
/// record is in the trail; a write of the same moment waits for the turn. PostgreSQL only: on
/// SQLite the database itself lets one writer at a time in, whatever the gate says.
#[actix_web::test]
async fn an_auditors_read_takes_no_turn_at_the_write_gate() {
    let app = TestApp::spawn_with(Backend::Postgres, |c| c.write_concurrency = 1).await;
    app.add_user("aud", "auditor", None).await;
    app.add_user("root2", "admin", None).await;
    let auditor = app.login("aud").await;
    let admin = app.login("root2").await;

    // A write transaction takes the one turn and holds it until told.
    let (release, wait) = std::sync::mpsc::channel::<()>();
    let (started, has_started) = std::sync::mpsc::channel::<()>();
    let db = app.state.db.clone();
    let holder = std::thread::spawn(move || {
        let mut conn = db.get().expect("connection");
        hwtransfer::db::write_tx(&mut conn, |_| {
            started.send(()).unwrap();
            wait.recv().unwrap();
            Ok::<_, hwtransfer::db::DbError>(())
        })
        .expect("the holder's transaction");
    });
    has_started.recv().unwrap();

    let read = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        app.get("/api/v1/transfers?limit=1&totals=false", Some(&auditor)),
    )
    .await
    .expect("the auditor's read is answered while the gate's turn is taken");
    assert_eq!(read.0, 200, "{}", read.1);
    // A write waits for the turn (the gate still works).
    let write = tokio::time::timeout(
        std::time::Duration::from_millis(1500),
        app.post_json(
            "/api/v1/users",
            Some(&admin),
            &json!({"username": "late-user", "password": "Correct-Horse-9", "role": "auditor"}),
        ),
    )
    .await;
    assert!(write.is_err(), "a write must wait for the turn: {write:?}");

    release.send(()).unwrap();
    holder.join().unwrap();
    let (page, reads) = auditor_reads(&app, &auditor).await;
    assert!(
        reads
            .iter()
            .any(|r| r["object_id"] == "/api/v1/transfers" && r["action"] == "read"),
        "the read is in the trail: {page}"
    );
    assert_eq!(verify(&app, &auditor).await["intact"], true);
}
