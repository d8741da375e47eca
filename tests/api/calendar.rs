//! Working days through the API: the DESIGN vectors, every make-up working day of 2024–2026,
//! provisional 2027, and the admin import of a year.

use serde_json::{Value, json};

use crate::both_backends;
use crate::support::{Backend, TestApp, assert_problem};

async fn due(app: &TestApp, from: &str, add: u32) -> Value {
    let (status, body, _) = app
        .get(&format!("/api/v1/calendar/working-days?from={from}&add={add}"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    body
}

async fn design_vectors(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for (from, add, expected) in [
        ("2025-09-26", 5, "2025-10-10"),
        ("2025-01-24", 5, "2025-02-07"),
        ("2026-02-13", 10, "2026-03-05"),
    ] {
        let body = due(&app, from, add).await;
        assert_eq!(body["due"], expected, "{from} +{add}");
        assert_eq!(body["provisional"], false);
        assert_eq!(body["from"], from);
        assert_eq!(body["add"], add);
    }
    // The deadline instant is office close (17:30 Asia/Shanghai = 09:30 UTC).
    let body = due(&app, "2025-09-26", 5).await;
    assert_eq!(body["due_at"], "2025-10-10T09:30:00+00:00");
}
both_backends!(design_vectors, design_vectors);

/// Every make-up working day (调休) of 2024–2026, as published by the State Council.
const MAKE_UP_DAYS: &[&str] = &[
    "2024-02-04",
    "2024-02-18",
    "2024-04-07",
    "2024-04-28",
    "2024-05-11",
    "2024-09-14",
    "2024-09-29",
    "2024-10-12",
    "2025-01-26",
    "2025-02-08",
    "2025-04-27",
    "2025-09-28",
    "2025-10-11",
    "2026-01-04",
    "2026-02-14",
    "2026-02-28",
    "2026-05-09",
    "2026-09-20",
    "2026-10-10",
];

async fn make_up_days_are_working_days(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // The list above is the published one; the stored calendar must agree with it exactly.
    let mut stored = Vec::new();
    for year in [2024, 2025, 2026] {
        let (status, body, _) = app.get(&format!("/api/v1/calendar/{year}"), None).await;
        assert_eq!(status, 200);
        for d in body["days"].as_array().unwrap() {
            if d["kind"] == "workday" {
                stored.push(d["date"].as_str().unwrap().to_string());
            }
        }
    }
    assert_eq!(stored, MAKE_UP_DAYS);
    for day in MAKE_UP_DAYS {
        // A make-up day (a weekend day) is the first working day after the day before it.
        let before =
            (chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").unwrap() - chrono::Duration::days(1)).to_string();
        let body = due(&app, &before, 1).await;
        assert_eq!(body["due"], *day, "make-up day {day}");
    }
}
both_backends!(make_up_days_are_working_days, make_up_days_are_working_days);

async fn a_year_without_data_is_provisional_until_imported(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.add_user("root", "admin", None).await;
    app.add_user("cq-reg", "regulator", Some("500000")).await;
    let admin = app.login("root").await;

    // 2027 has no notice yet: the law's holidays only, flagged provisional.
    let body = due(&app, "2027-03-01", 5).await;
    assert_eq!(body["due"], "2027-03-08");
    assert_eq!(body["provisional"], true);
    // A span that starts in 2026 and crosses into 2027 is provisional too.
    let body = due(&app, "2026-12-30", 5).await;
    assert_eq!(body["provisional"], true);
    // 元旦 is off by law even before the notice: 31 Dec, then 4–7 Jan.
    assert_eq!(body["due"], "2027-01-07");
    // A span wholly inside 2026 is not.
    assert_eq!(due(&app, "2026-12-01", 5).await["provisional"], false);
    let (status, body, headers) = app.get("/api/v1/calendar/2027", None).await;
    assert_problem(status, &body, &headers, 404);
    let (_, overview, _) = app.get("/api/v1/calendar", None).await;
    assert!(
        overview["missing"].as_array().unwrap().contains(&json!(2027)),
        "{overview}"
    );

    // A regulator may not import; an invalid year reports every problem and changes nothing.
    let regulator = app.login("cq-reg").await;
    let year_2027 = json!({
        "source": "国办发明电〔2026〕7号 (test fixture)",
        "days": [
            {"date": "2027-01-01", "kind": "holiday", "name_zh": "元旦", "name_en": "New Year's Day"},
            {"date": "2027-03-01", "kind": "holiday", "name_zh": "测试假日", "name_en": "Test holiday"},
            {"date": "2027-03-06", "kind": "workday", "name_zh": "测试调休", "name_en": "Test make-up day"}
        ]
    });
    let (status, body, headers) = app
        .send_json(
            reqwest::Method::PUT,
            "/api/v1/calendar/2027",
            Some(&regulator),
            &year_2027,
        )
        .await;
    assert_problem(status, &body, &headers, 403);
    let bad = json!({
        "source": "",
        "days": [
            {"date": "2026-12-31", "kind": "holiday", "name_zh": "跨年"},
            {"date": "2027-03-03", "kind": "workday", "name_zh": "周三调休"},
            {"date": "2027-02-30", "kind": "holiday", "name_zh": "x"},
            {"date": "2027-05-01", "kind": "vacation", "name_zh": "劳动节"},
            {"date": "2027-05-02", "kind": "holiday"},
            {"date": "2027-05-02", "kind": "holiday", "name_zh": "劳动节"}
        ]
    });
    let (status, body, headers) = app
        .send_json(reqwest::Method::PUT, "/api/v1/calendar/2027", Some(&admin), &bad)
        .await;
    let codes = assert_problem(status, &body, &headers, 422);
    let pointers: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap())
        .collect();
    // The rules across days are checked on the days that read well, in the same answer.
    for p in [
        "/source",
        "/days/0/date",
        "/days/1/kind",
        "/days/2/date",
        "/days/3/kind",
        "/days/4/name_zh",
    ] {
        assert!(pointers.contains(&p), "{p} missing: {body}");
    }
    assert!(!codes.is_empty());
    let (status, _, _) = app.get("/api/v1/calendar/2027", None).await;
    assert_eq!(status, 404, "nothing stored");
    // Cross-row rules (year, weekday make-up, duplicates) are reported together too.
    let bad = json!({
        "source": "x",
        "days": [
            {"date": "2026-12-31", "kind": "holiday", "name_zh": "跨年"},
            {"date": "2027-03-03", "kind": "workday", "name_zh": "周三调休"},
            {"date": "2027-05-02", "kind": "holiday", "name_zh": "劳动节"},
            {"date": "2027-05-02", "kind": "holiday", "name_zh": "劳动节"}
        ]
    });
    let (status, body, headers) = app
        .send_json(reqwest::Method::PUT, "/api/v1/calendar/2027", Some(&admin), &bad)
        .await;
    assert_problem(status, &body, &headers, 422);
    assert!(body["errors"].as_array().unwrap().len() >= 3, "{body}");

    // The admin imports it; the same question now has a firm answer that honours the holiday
    // on Monday 2027-03-01 and the make-up Saturday 2027-03-06.
    let (status, body, _) = app
        .send_json(reqwest::Method::PUT, "/api/v1/calendar/2027", Some(&admin), &year_2027)
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["days"].as_array().unwrap().len(), 3);
    let body = due(&app, "2027-02-26", 5).await;
    assert_eq!(body["provisional"], false);
    // Mar 1 holiday; Mar 2,3,4,5 work; Mar 6 make-up work → 5th working day is Mar 6.
    assert_eq!(body["due"], "2027-03-06");
    let (status, stored, _) = app.get("/api/v1/calendar/2027", None).await;
    assert_eq!(status, 200);
    assert_eq!(stored["source"], "国办发明电〔2026〕7号 (test fixture)");
}
both_backends!(
    a_year_without_data_is_provisional_until_imported,
    a_year_without_data_is_provisional_until_imported
);

#[actix_web::test]
async fn working_day_query_problems() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (status, body, headers) = app.get("/api/v1/calendar/working-days", None).await;
    let codes = assert_problem(status, &body, &headers, 422);
    assert_eq!(codes, vec!["query.required", "query.required"]);
    let (status, body, headers) = app
        .get("/api/v1/calendar/working-days?from=2025-13-01&add=-1", None)
        .await;
    let codes = assert_problem(status, &body, &headers, 422);
    assert_eq!(codes.len(), 2, "{body}");
    let (status, body, headers) = app
        .get("/api/v1/calendar/working-days?from=2025-1-1&add=1000", None)
        .await;
    assert_eq!(assert_problem(status, &body, &headers, 422).len(), 2);
    // A year of letters names no calendar: 404, as for any path of no resource.
    let (status, body, headers) = app.get("/api/v1/calendar/abc", None).await;
    assert_problem(status, &body, &headers, 404);
}

/// Admins are told when a year's notice is missing and due: a metric says which year (and the
/// web UI shows a banner to admins and regulators, from the same `notice_alert`).
async fn a_missing_notice_is_a_metric(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let y = crate::fixtures::this_year();
    crate::fixtures::forget_notices_from(&app, y).await;
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(&format!("hwtransfer_calendar_notice_missing_year {y}")),
        "{metrics}"
    );
}
both_backends!(a_missing_notice_is_a_metric, a_missing_notice_is_a_metric);

/// A missing notice is also told to every province's subscribers, once a year however many
/// sweeps run: event `calendar.notice_missing` with the year.
async fn a_missing_notice_is_announced_once(backend: Backend) {
    let app = TestApp::spawn_with(backend, crate::webhooks::webhook_config).await;
    let reg = crate::fixtures::Registry::setup(&app).await;
    let y = crate::fixtures::this_year();
    let (sub, _) =
        crate::webhooks::subscribe(&app, &reg.gz, "http://127.0.0.1:9/hook", &["calendar.notice_missing"]).await;
    crate::fixtures::forget_notices_from(&app, y).await;
    assert_eq!(crate::fixtures::sweep_now(&app).await.notice_missing_announced, Some(y));
    assert_eq!(crate::fixtures::sweep_now(&app).await.notice_missing_announced, None);
    let (s, page, _) = app
        .get(
            &format!("/api/v1/webhook-subscriptions/{sub}/deliveries"),
            Some(&reg.gz),
        )
        .await;
    assert_eq!(s, 200, "{page}");
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{page}");
    assert_eq!(items[0]["event"]["type"], "calendar.notice_missing", "{page}");
    assert_eq!(items[0]["event"]["data"]["year"], y, "{page}");
    // Every province hears it: Yunnan's subscription created now does not, as it came later,
    // but the event's audience names all provinces.
    let audience: String = {
        use diesel::prelude::*;
        use hwtransfer::db::schema::outbox_events::dsl as o;
        app.state
            .db
            .run(|c| {
                Ok(o::outbox_events
                    .filter(o::event_type.eq("calendar.notice_missing"))
                    .select(o::audience)
                    .first::<String>(c)?)
            })
            .await
            .unwrap()
    };
    for p in hwtransfer::domain::province::provinces() {
        assert!(
            audience.contains(&format!("province:{},", p.code.as_str())),
            "{audience}"
        );
    }
}
both_backends!(a_missing_notice_is_announced_once, a_missing_notice_is_announced_once);

/// A year that arrives embedded in a new release (loaded when the database is prepared at start)
/// recomputes the open provisional deadlines, as an import through the API does.
async fn an_embedded_year_loaded_on_upgrade_recomputes_deadlines(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = crate::fixtures::Registry::setup(&app).await;
    reg.confirmed_entry(&app, "HW08", "100").await;
    let y = crate::fixtures::this_year();
    // As if this release were older: this year's notice not in the database yet.
    crate::fixtures::forget_notices_from(&app, y).await;
    let (s, a, _) = app
        .post_json(
            "/api/v1/transfer-applications",
            Some(&reg.enterprise_token),
            &crate::fixtures::filing(&reg.operator_id, "900-249-08", "10"),
        )
        .await;
    assert_eq!(s, 201, "{a}");
    assert_eq!(a["steps"][0]["provisional"], true, "{a}");
    let id = a["id"].as_str().unwrap().to_string();
    // The upgrade: the next start prepares the database, which loads the embedded year.
    let pool = app.state.db.clone();
    let close = app.state.config.office_close;
    actix_web::web::block(move || hwtransfer::app::prepare_database(&pool, close))
        .await
        .unwrap()
        .unwrap();
    app.state.invalidate_calendar();
    let (_, a, _) = app
        .get(&format!("/api/v1/transfer-applications/{id}"), Some(&reg.cq))
        .await;
    assert_eq!(a["steps"][0]["provisional"], false, "{a}");
    let cal = hwtransfer::domain::calendar::embedded_calendar();
    let received = chrono::DateTime::parse_from_rfc3339(a["received_at"].as_str().unwrap()).unwrap();
    let day = hwtransfer::domain::calendar::shanghai_date(received.with_timezone(&chrono::Utc));
    assert_eq!(
        a["steps"][0]["due_on"],
        cal.add_working_days(day, 5).date.to_string(),
        "{a}"
    );
}
both_backends!(
    an_embedded_year_loaded_on_upgrade_recomputes_deadlines,
    an_embedded_year_loaded_on_upgrade_recomputes_deadlines
);

/// The queue's "overdue" (the filter and the page's count) follows the case's own rule: a deadline
/// that rests on a year without the notice, or a suspended clock, is not overdue.
async fn provisional_and_suspended_deadlines_are_not_overdue_in_the_queue(backend: Backend) {
    use diesel::prelude::*;
    use hwtransfer::db::schema::{application_steps, transfer_applications};
    let app = TestApp::spawn(backend).await;
    let reg = crate::fixtures::Registry::setup(&app).await;
    reg.confirmed_entry(&app, "HW08", "100").await;
    let (s, a, _) = app
        .post_json(
            "/api/v1/transfer-applications",
            Some(&reg.enterprise_token),
            &crate::fixtures::filing(&reg.operator_id, "900-249-08", "10"),
        )
        .await;
    assert_eq!(s, 201, "{a}");
    let id = a["id"].as_str().unwrap().to_string();
    // Accepted (the acceptance period itself cannot be suspended); its decision steps passed
    // their due instant yesterday.
    let (s, a, _) = app
        .post_json(
            &format!("/api/v1/transfer-applications/{id}/accept"),
            Some(&reg.cq),
            &serde_json::json!({}),
        )
        .await;
    assert_eq!(s, 200, "{a}");
    let set = |provisional: bool| {
        let id = id.clone();
        let past = (chrono::Utc::now() - chrono::Duration::days(1)).naive_utc();
        app.state.db.run(move |c| {
            diesel::update(application_steps::table.filter(application_steps::application_id.eq(&id)))
                .set((
                    application_steps::due_at.eq(past),
                    application_steps::provisional.eq(provisional),
                ))
                .execute(c)?;
            diesel::update(transfer_applications::table.find(&id))
                .set(transfer_applications::next_due_at.eq(Some(past)))
                .execute(c)?;
            Ok(())
        })
    };
    let overdue_ids = || async {
        let (s, page, _) = app
            .get("/api/v1/transfer-applications?side=source&overdue=true", Some(&reg.cq))
            .await;
        assert_eq!(s, 200, "{page}");
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let counts = || {
        let province = "500000".to_string();
        let now = chrono::Utc::now().naive_utc();
        app.state
            .db
            .run(move |c| hwtransfer::db::applications::queue_counts(c, &province, now, now))
    };
    set(true).await.unwrap();
    assert!(overdue_ids().await.is_empty());
    assert_eq!(counts().await.unwrap().overdue, 0);
    set(false).await.unwrap();
    assert_eq!(overdue_ids().await, vec![id.clone()]);
    assert_eq!(counts().await.unwrap().overdue, 1);
    // A suspended clock stands still: not overdue either.
    let (s, body, _) = app
        .post_json(
            &format!("/api/v1/transfer-applications/{id}/suspend-clock"),
            Some(&reg.cq),
            &serde_json::json!({"reason": "征求专家意见"}),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert!(overdue_ids().await.is_empty());
    assert_eq!(counts().await.unwrap().overdue, 0);
}
both_backends!(
    provisional_and_suspended_deadlines_are_not_overdue_in_the_queue,
    provisional_and_suspended_deadlines_are_not_overdue_in_the_queue
);

/// A year imported through one replica counts in the next deadline another replica computes, at
/// once: each replica keeps the calendar in memory and checks the stored version on the very
/// connection a filing is made with (`CalendarCache::on`), not on a timer.
async fn a_year_imported_through_another_replica_counts_at_once(backend: Backend) {
    let a = TestApp::spawn(backend).await;
    let reg = crate::fixtures::Registry::setup(&a).await;
    reg.confirmed_entry(&a, "900-249-08", "1000").await;
    let mut config = crate::support::test_config(&a.db);
    config.data_dir = a.state.config.data_dir.clone();
    let b = TestApp::start(crate::support::TestDb::reuse(&a.db), config).await;
    let acceptance_due = |case: &Value| -> String {
        let steps = case["steps"].as_array().expect("steps");
        let step = steps
            .iter()
            .find(|s| s["kind"] == "acceptance")
            .expect("an acceptance step");
        step["due_on"].as_str().unwrap().to_string()
    };

    // Replica b files first, so its calendar is read and kept.
    let body = crate::fixtures::filing(&reg.operator_id, "900-249-08", "1");
    let (status, first, _) = b
        .post_json("/api/v1/transfer-applications", Some(&reg.enterprise_token), &body)
        .await;
    assert_eq!(status, 201, "{first}");
    let first_due = acceptance_due(&first);
    let due_day = chrono::NaiveDate::parse_from_str(&first_due, "%Y-%m-%d").unwrap();

    // Through replica a, that deadline's day becomes a holiday (the year is replaced whole).
    let year = chrono::Datelike::year(&due_day);
    let notice = json!({
        "source": "test fixture: one more holiday",
        "days": [{"date": first_due, "kind": "holiday", "name_zh": "测试假日", "name_en": "Test holiday"}]
    });
    let (status, stored, _) = a
        .send_json(
            reqwest::Method::PUT,
            &format!("/api/v1/calendar/{year}"),
            Some(&reg.admin),
            &notice,
        )
        .await;
    assert_eq!(status, 200, "{stored}");

    // Replica b's next filing counts it: its acceptance falls due later, on the day b's own
    // working-day answer gives.
    let (status, second, _) = b
        .post_json("/api/v1/transfer-applications", Some(&reg.enterprise_token), &body)
        .await;
    assert_eq!(status, 201, "{second}");
    let moved = acceptance_due(&second);
    assert!(
        moved > first_due,
        "{first_due} is a holiday now, the deadline moved past it: {moved}"
    );
    let started = second["steps"].as_array().unwrap()[0]["started_on"]
        .as_str()
        .unwrap()
        .to_string();
    let working_days = second["steps"].as_array().unwrap()[0]["working_days"].as_u64().unwrap() as u32;
    assert_eq!(due(&b, &started, working_days).await["due"], moved.as_str());
    // The stored case says the same.
    let id = second["id"].as_str().unwrap();
    let (_, read, _) = a
        .get(
            &format!("/api/v1/transfer-applications/{id}"),
            Some(&reg.enterprise_token),
        )
        .await;
    assert_eq!(acceptance_due(&read), moved);
}
both_backends!(
    a_year_imported_through_another_replica_counts_at_once,
    a_year_imported_through_another_replica_counts_at_once
);
