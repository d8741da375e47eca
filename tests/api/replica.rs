//! The read replica against a real hot standby (scripts/replica.sh: a primary and a standby made
//! with `pg_basebackup -R`; scripts/test.sh starts them and exports TEST_REPLICA_PRIMARY_URL and
//! TEST_STANDBY_URL). Without them this test fails, saying how to get them.
//!
//! The standby's replay is paused for part of the test, so it cannot be told apart from a standby
//! that is merely slow: what it serves is then visibly older than the primary.

use std::time::Duration;

use diesel::{Connection, PgConnection, RunQueryDsl};
use serde_json::json;

use crate::support::{Backend, TestApp, TestDb, test_config};

fn pair() -> (String, String) {
    match (
        std::env::var("TEST_REPLICA_PRIMARY_URL"),
        std::env::var("TEST_STANDBY_URL"),
    ) {
        (Ok(p), Ok(s)) => (p, s),
        _ => panic!(
            "the read-replica test needs a primary with a hot standby: run `scripts/replica.sh start` and \
             `eval $(scripts/replica.sh env)`, or use scripts/test.sh, which does both"
        ),
    }
}

/// Resumes the standby's replay when the test ends, passed or not.
struct Paused(String);

impl Paused {
    fn pause(standby: &str) -> Paused {
        let mut c = PgConnection::establish(&format!("{standby}/postgres")).expect("standby");
        diesel::sql_query("SELECT pg_wal_replay_pause()")
            .execute(&mut c)
            .expect("pause");
        Paused(standby.to_string())
    }
}

impl Drop for Paused {
    fn drop(&mut self) {
        if let Ok(mut c) = PgConnection::establish(&format!("{}/postgres", self.0)) {
            let _ = diesel::sql_query("SELECT pg_wal_replay_resume()").execute(&mut c);
        }
    }
}

/// Waits until the standby has replayed everything the primary has written so far.
async fn caught_up(primary: &str, standby: &str) {
    #[derive(diesel::QueryableByName)]
    struct L {
        #[diesel(sql_type = diesel::sql_types::Text)]
        lsn: String,
    }
    let head = {
        let mut c = PgConnection::establish(&format!("{primary}/postgres")).expect("primary");
        let l: L = diesel::sql_query("SELECT pg_current_wal_lsn()::text AS lsn")
            .get_result(&mut c)
            .expect("lsn");
        l.lsn
    };
    for _ in 0..200 {
        if let Ok(mut c) = PgConnection::establish(&format!("{standby}/postgres")) {
            #[derive(diesel::QueryableByName)]
            struct B {
                #[diesel(sql_type = diesel::sql_types::Bool)]
                ok: bool,
            }
            let b: Result<B, _> =
                diesel::sql_query(format!("SELECT pg_last_wal_replay_lsn() >= '{head}'::pg_lsn AS ok"))
                    .get_result(&mut c);
            if matches!(b, Ok(B { ok: true })) {
                return;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the standby did not catch up with the primary");
}

fn metric(text: &str, name_and_labels: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(name_and_labels))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

async fn user_events(app: &TestApp, token: &str) -> usize {
    let (status, body, _) = app
        .get("/api/v1/audit/events?object_type=user&limit=200", Some(token))
        .await;
    assert_eq!(status, 200, "{body}");
    // Sign-ins are security events of the user too; the counts here follow the test's own writes.
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] != "login")
        .count()
}

#[actix_web::test]
async fn the_standby_serves_the_archive_but_never_a_callers_own_write_late() {
    let (primary, standby) = pair();
    let db = TestDb::empty_on(&primary);
    let name = db.url.rsplit('/').next().unwrap().to_string();
    let mut config = test_config(&db);
    config.read_database_url = Some(format!("{standby}/{name}"));
    config.read_max_lag_ms = 60_000;
    let app = TestApp::start(db, config).await;
    app.add_user("admin", "admin", None).await;
    app.add_user("auditor", "auditor", None).await;
    let admin = app.login("admin").await;
    let auditor = app.login("auditor").await;
    caught_up(&primary, &standby).await;

    // Ready, with the standby in sync.
    let (status, body, _) = app.get("/readyz", None).await;
    assert_eq!(status, 200);
    assert_eq!(body["read_replica"]["state"], "ok", "{body}");

    let before = user_events(&app, &auditor).await;
    assert!(before >= 2, "the two users' creation is in the trail: {before}");

    // The standby stops replaying; the admin writes.
    let paused = Paused::pause(&standby);
    let (status, body, _) = app
        .post_json(
            "/api/v1/users",
            Some(&admin),
            &json!({"username": "written-while-paused", "password": "a-long-password-123", "role": "auditor"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");

    // The admin's own write is there for the admin: read from the primary.
    let metrics_before = app.get_text("/metrics").await;
    assert_eq!(user_events(&app, &admin).await, before + 1);
    // Another caller is served by the standby, which has not replayed it.
    assert_eq!(
        user_events(&app, &auditor).await,
        before,
        "the auditor's read came from the standby"
    );
    let metrics_after = app.get_text("/metrics").await;
    let standby_reads = |m: &str| {
        metric(
            m,
            "hwtransfer_archive_reads_total{reason=\"replayed\",server=\"standby\"}",
        )
    };
    let own_write = |m: &str| {
        metric(
            m,
            "hwtransfer_archive_reads_total{reason=\"own_write_not_replayed\",server=\"primary\"}",
        )
    };
    assert_eq!(standby_reads(&metrics_after) - standby_reads(&metrics_before), 1.0);
    assert_eq!(own_write(&metrics_after) - own_write(&metrics_before), 1.0);

    // A second service replica on the same database with a bound of 0 ms finds the standby
    // behind: everyone is served by the primary, and readiness says why (still ready).
    let db2 = TestDb::reuse(&app.db);
    let mut config2 = test_config(&db2);
    config2.read_database_url = Some(format!("{standby}/{name}"));
    config2.read_max_lag_ms = 0;
    let strict = TestApp::start(db2, config2).await;
    let auditor2 = strict.login("auditor").await;
    assert_eq!(user_events(&strict, &auditor2).await, before + 1);
    let (status, body, _) = strict.get("/readyz", None).await;
    assert_eq!(status, 200);
    assert_eq!(body["read_replica"]["state"], "lagging", "{body}");
    let m = strict.get_text("/metrics").await;
    assert_eq!(metric(&m, "hwtransfer_read_replica_serving"), 0.0);
    assert!(metric(&m, "hwtransfer_read_replica_lag_seconds") > 0.0, "{m}");

    // The admin's mark is in the primary: the first replica's admin still reads its write even
    // though this replica never saw it (the mark is shared).
    assert_eq!(user_events(&strict, &strict.login("admin").await).await, before + 1);

    // Replay resumes: the standby catches up and serves the auditor the new state.
    drop(paused);
    caught_up(&primary, &standby).await;
    tokio::time::sleep(Duration::from_millis(250)).await; // past the cached look at the standby
    assert_eq!(user_events(&app, &auditor).await, before + 1);

    // A standby that does not answer: reads go to the primary, readiness says down, still ready.
    let db3 = TestDb::reuse(&app.db);
    let mut config3 = test_config(&db3);
    config3.read_database_url = Some(format!(
        "postgres://postgres@127.0.0.1:{}/{name}",
        crate::support::free_port()
    ));
    let orphan = TestApp::start(db3, config3).await;
    let auditor3 = orphan.login("auditor").await;
    assert_eq!(user_events(&orphan, &auditor3).await, before + 1);
    let (status, body, _) = orphan.get("/readyz", None).await;
    assert_eq!(status, 200);
    assert_eq!(body["read_replica"]["state"], "down", "{body}");
    assert!(body["read_replica"]["lag_seconds"].is_null());
    let m = orphan.get_text("/metrics").await;
    assert!(
        metric(
            &m,
            "hwtransfer_archive_reads_total{reason=\"standby_down\",server=\"primary\"}"
        ) >= 1.0,
        "{m}"
    );
}

#[actix_web::test]
async fn a_read_replica_needs_a_postgresql_primary() {
    let db = TestDb::new(Backend::Sqlite);
    let mut config = test_config(&db);
    config.read_database_url = Some("postgres://postgres@127.0.0.1:1/none".into());
    let err = hwtransfer::app::AppState::new(config).err().expect("refused");
    assert!(err.to_string().contains("PostgreSQL primary"), "{err}");
}
