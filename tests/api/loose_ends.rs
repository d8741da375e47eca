//! Loose ends production would hit: the first approval numbers of a new province and year drawn
//! at the same moment, two replicas started with `--demo` at once, `seed --scale` and the
//! manifest counters, a calendar import seen by another replica at once, and the retention of
//! finished webhook deliveries.

use std::sync::{Arc, Barrier};
use std::time::Duration;

use chrono::Utc;
use diesel::prelude::*;
use hwtransfer::db::schema::{
    manifest_counters, manifests, outbox_events, transfer_applications, webhook_attempts, webhook_deliveries,
};
use hwtransfer::db::{DbError, write_tx};
use hwtransfer::jobs::delivery::Deliverer;
use serde_json::json;

use crate::both_backends;
use crate::fixtures::Registry;
use crate::support::{Backend, TestApp, TestDb, free_port, service_command, test_config};
use crate::webhooks::{Receiver, deliver_all, subscribe, webhook_config};

async fn first_numbers_drawn_at_once_are_distinct(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for draw in ["approval", "decision"] {
        let barrier = Arc::new(Barrier::new(2));
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let (db, barrier) = (app.state.db.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let mut c = db.get().unwrap();
                    barrier.wait();
                    write_tx(&mut c, |c| {
                        let n = if draw == "approval" {
                            hwtransfer::db::counters::next_approval(c, "990000", 2031)?
                        } else {
                            hwtransfer::db::counters::next_decision(c, "not_permitted", "990000", 2031)?
                        };
                        // Both transactions are open at once.
                        std::thread::sleep(Duration::from_millis(300));
                        Ok::<_, DbError>(n)
                    })
                })
            })
            .collect();
        let mut got: Vec<i32> = handles
            .into_iter()
            .map(|h| h.join().unwrap().expect("both draws succeed"))
            .collect();
        got.sort();
        assert_eq!(got, [1, 2], "{draw}");
    }
}
both_backends!(
    first_numbers_drawn_at_once_are_distinct,
    first_numbers_drawn_at_once_are_distinct
);

async fn scale_seed_moves_the_manifest_counters(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.state
        .db
        .run(|c| hwtransfer::db::scale::generate(c, 300, 2, 0).map_err(DbError::Other))
        .await
        .unwrap();
    let (synthetic, counters) = app
        .state
        .db
        .run(|c| {
            let synthetic: Vec<(String, i32, Option<i32>)> = manifests::table
                .filter(manifests::id.like("scale-m-%"))
                .group_by((manifests::source_city, manifests::year))
                .select((
                    manifests::source_city,
                    manifests::year,
                    diesel::dsl::max(manifests::serial),
                ))
                .load(c)?;
            let counters: Vec<(String, i32, i32)> = manifest_counters::table
                .select((
                    manifest_counters::source_city,
                    manifest_counters::year,
                    manifest_counters::last_serial,
                ))
                .load(c)?;
            Ok((synthetic, counters))
        })
        .await
        .unwrap();
    assert!(synthetic.len() > 10, "{synthetic:?}");
    for (city, year, top) in synthetic {
        let last = counters
            .iter()
            .find(|(c, y, _)| *c == city && *y == year)
            .map(|(_, _, n)| *n);
        assert!(
            last >= top,
            "city {city} {year}: counter {last:?}, synthetic serials up to {top:?}"
        );
    }
}
both_backends!(
    scale_seed_moves_the_manifest_counters,
    scale_seed_moves_the_manifest_counters
);

async fn a_calendar_import_reaches_the_other_replica_at_once(backend: Backend) {
    let a = TestApp::spawn(backend).await;
    let mut config = test_config(&a.db);
    config.data_dir = a.state.config.data_dir.clone();
    let b = TestApp::start(TestDb::reuse(&a.db), config).await;
    let reg = Registry::setup(&a).await;
    // The other replica has the calendar in memory, without 2027.
    assert!(!b.state.calendar().await.unwrap().has_year(2027));
    let year = json!({
        "source": "国办发明电〔2026〕7号 (test fixture)",
        "days": [
            {"date": "2027-01-01", "kind": "holiday", "name_zh": "元旦", "name_en": "New Year's Day"},
            {"date": "2027-03-01", "kind": "holiday", "name_zh": "测试假日", "name_en": "Test holiday"}
        ]
    });
    let (s, body, _) = a
        .send_json(reqwest::Method::PUT, "/api/v1/calendar/2027", Some(&reg.admin), &year)
        .await;
    assert!(s == 200 || s == 201, "{body}");
    // At once, not after a cache minute.
    let cal = b.state.calendar().await.unwrap();
    assert!(cal.has_year(2027));
    let monday = chrono::NaiveDate::from_ymd_opt(2027, 3, 1).unwrap();
    assert!(
        !cal.is_working_day(monday).0,
        "the imported holiday counts on the other replica"
    );
}
both_backends!(
    a_calendar_import_reaches_the_other_replica_at_once,
    a_calendar_import_reaches_the_other_replica_at_once
);

async fn finished_deliveries_are_purged_after_the_retention(backend: Backend) {
    let app = TestApp::spawn_with(backend, webhook_config).await;
    let reg = Registry::setup(&app).await;
    let rx = Receiver::start().await;
    let (_, _) = subscribe(&app, &reg.enterprise_token, &rx.url, &["application.filed"]).await;
    let failing = Receiver::start().await;
    failing.always(crate::webhooks::Reply::Status(500));
    let (_, _) = subscribe(&app, &reg.cq, &failing.url, &["application.filed"]).await;
    let (s, b, _) = app
        .file_confirmed(
            &reg.enterprise_token,
            &crate::fixtures::filing(&reg.operator_id, "900-249-08", "3"),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    // Delivered, then made 100 days old; the other endpoint is still being retried.
    let d = Deliverer::new(&app.state.config).unwrap();
    deliver_all(&app, &d, Utc::now()).await;
    assert_eq!(rx.received().len(), 1);
    let long_ago = hwtransfer::db::to_db_time(Utc::now() - chrono::TimeDelta::days(100));
    app.state
        .db
        .run(move |c| {
            diesel::update(webhook_deliveries::table.filter(webhook_deliveries::status.eq("delivered")))
                .set((
                    webhook_deliveries::delivered_at.eq(Some(long_ago)),
                    webhook_deliveries::next_attempt_at.eq(long_ago),
                ))
                .execute(c)?;
            Ok(())
        })
        .await
        .unwrap();
    let counts = |app: &TestApp| {
        let db = app.state.db.clone();
        async move {
            db.run(|c| {
                let by_status: Vec<(String, i64)> = webhook_deliveries::table
                    .group_by(webhook_deliveries::status)
                    .select((webhook_deliveries::status, diesel::dsl::count_star()))
                    .load(c)?;
                let attempts: i64 = webhook_attempts::table.count().get_result(c)?;
                let events: i64 = outbox_events::table.count().get_result(c)?;
                Ok((by_status, attempts, events))
            })
            .await
            .unwrap()
        }
    };
    let (before, attempts_before, events_before) = counts(&app).await;
    assert!(before.contains(&("delivered".to_string(), 1)), "{before:?}");
    assert!(before.contains(&("pending".to_string(), 1)), "{before:?}");
    assert!(attempts_before >= 2);

    let report = crate::fixtures::sweep_now(&app).await;
    assert_eq!(report.deliveries_purged, 1, "{report:?}");
    let (after, attempts_after, events_after) = counts(&app).await;
    assert_eq!(after, [("pending".to_string(), 1)], "the pending delivery is kept");
    assert_eq!(
        attempts_after,
        attempts_before - 1,
        "the delivered one's attempt went with it"
    );
    // (The sweep may add one of its own, the missing holiday notice.)
    assert!(events_after >= events_before, "events are kept (the changes feed)");
    // Nothing younger than the retention goes.
    assert_eq!(crate::fixtures::sweep_now(&app).await.deliveries_purged, 0);
}
both_backends!(
    finished_deliveries_are_purged_after_the_retention,
    finished_deliveries_are_purged_after_the_retention
);

async fn count_applications(url: &str) -> i64 {
    let db = hwtransfer::db::pool::Db::connect(url, 2, Duration::from_secs(10)).unwrap();
    db.run(|c| Ok(transfer_applications::table.count().get_result::<i64>(c)?))
        .await
        .unwrap()
}

async fn ready_within(base: &str, secs: u64) {
    let client = reqwest::Client::new();
    for _ in 0..secs * 10 {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await
            && r.status() == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{base} did not become ready");
}

/// Two replicas started with `serve --demo` on one PostgreSQL database at the same moment seed
/// once: both come up, and the database holds what one seeding makes.
#[actix_web::test]
async fn two_demo_replicas_at_once_seed_once() {
    let once = TestDb::new(Backend::Postgres);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_hwtransfer"))
        .args(["seed", "--demo"])
        .env("HWT_DATABASE_URL", &once.url)
        .env("HWT_DATA_DIR", once.dir.path().join("data"))
        .env("HWT_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let expected = count_applications(&once.url).await;
    assert!(expected > 10);

    let db = TestDb::new(Backend::Postgres);
    let ports = [free_port(), free_port()];
    let mut children: Vec<_> = ports
        .iter()
        .map(|port| {
            // Each its own key files: what is tested is the seeding, not two first key generations.
            let data = db.dir.path().join(format!("data-{port}"));
            let mut cmd = service_command(&db.url, &data, *port);
            cmd.arg("--demo").env("HWT_WEBHOOK_INTERVAL_MS", "0");
            crate::support::Service {
                child: cmd.spawn().unwrap(),
                base: format!("http://127.0.0.1:{port}"),
            }
        })
        .collect();
    for port in ports {
        ready_within(&format!("http://127.0.0.1:{port}"), 120).await;
    }
    for c in &mut children {
        assert!(c.child.try_wait().unwrap().is_none(), "both replicas still run");
    }
    assert_eq!(count_applications(&db.url).await, expected);
}
