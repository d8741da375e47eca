//! 部令第23号 第15–20条 on manifests: the receipt clock from the recorded arrival, departure
//! inside the approval, accepted quantities and the discrepancies of every kind with the
//! operator's decision and the report to the receiving province, and the paper fallback's
//! back-fill with its own deadline.

use chrono::{Duration, Utc};
use serde_json::{Value, json};

use crate::both_backends;
use crate::fixtures::{Registry, approved_application, manifest};
use crate::support::{Backend, TestApp, assert_problem};

async fn post(app: &TestApp, token: &str, path: &str, body: Value) -> (u16, Value) {
    let (s, b, _) = app.post_json(path, Some(token), &body).await;
    (s, b)
}

async fn created(app: &TestApp, reg: &Registry, body: Value) -> String {
    let (s, m) = post(app, &reg.enterprise_token, "/api/v1/manifests", body).await;
    assert_eq!(s, 201, "{m}");
    m["id"].as_str().unwrap().to_string()
}

async fn dispatched(app: &TestApp, reg: &Registry, body: Value) -> String {
    let id = created(app, reg, body).await;
    let (s, d) = post(
        app,
        &reg.enterprise_token,
        &format!("/api/v1/manifests/{id}/dispatch"),
        json!({}),
    )
    .await;
    assert_eq!(s, 200, "{d}");
    id
}

/// The stored arrival, its reporter and the receipt due day of a manifest.
async fn stored_arrival(app: &TestApp, id: &str) -> (bool, Option<String>, Option<String>) {
    use diesel::prelude::*;
    use hwtransfer::db::schema::manifests;
    let id = id.to_string();
    app.state
        .db
        .run(move |c| {
            let (a, r, d) = manifests::table
                .find(&id)
                .select((
                    manifests::arrived_at,
                    manifests::arrival_reported_by,
                    manifests::receipt_due_on,
                ))
                .first::<(Option<chrono::NaiveDateTime>, Option<String>, Option<String>)>(c)?;
            Ok((a.is_some(), r, d))
        })
        .await
        .unwrap()
}

fn today() -> chrono::NaiveDate {
    hwtransfer::domain::calendar::shanghai_date(Utc::now())
}

async fn due_from(app: &TestApp, day: chrono::NaiveDate, n: u32) -> String {
    app.state
        .calendar()
        .await
        .unwrap()
        .add_working_days(day, n)
        .date
        .to_string()
}

/// The receipt clock runs from the recorded arrival (the operator's, or the carrier's through
/// the producer); a manifest on the road with no arrival is never overdue; a receipt without a
/// recorded arrival records both.
async fn arrival_starts_the_receipt_clock(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    reg.confirmed_entry(&app, "HW08", "100").await;
    let app_id = approved_application(&app, &reg, "40").await;
    let m1 = dispatched(&app, &reg, manifest(&app_id, &[(0, "10")])).await;
    assert_eq!(stored_arrival(&app, &m1).await, (false, None, None));

    // The producer records its carrier's report; nobody records it twice.
    let (s, d) = post(
        &app,
        &reg.enterprise_token,
        &format!("/api/v1/manifests/{m1}/arrival"),
        json!({}),
    )
    .await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["arrival_reported_by"], "carrier");
    let due = due_from(&app, today(), 5).await;
    assert_eq!(d["receipt_due_on"], due.as_str());
    assert_eq!(
        stored_arrival(&app, &m1).await,
        (true, Some("carrier".into()), Some(due.clone()))
    );
    let (s, body, h) = app
        .post_json(
            &format!("/api/v1/manifests/{m1}/arrival"),
            Some(&reg.operator_token),
            &json!({}),
        )
        .await;
    assert_problem(s, &body, &h, 409);
    assert_eq!(body["code"], "manifest.already_arrived", "{body}");

    // An arrival in the future is refused and changes nothing; another province sees nothing.
    let m2 = dispatched(&app, &reg, manifest(&app_id, &[(0, "10")])).await;
    let later = (Utc::now() + Duration::hours(2)).to_rfc3339();
    let (s, body, h) = app
        .post_json(
            &format!("/api/v1/manifests/{m2}/arrival"),
            Some(&reg.operator_token),
            &json!({"arrived_at": later}),
        )
        .await;
    assert_eq!(assert_problem(s, &body, &h, 422), vec!["manifest.arrival_time"]);
    let (s, _) = post(&app, &reg.gz, &format!("/api/v1/manifests/{m2}/arrival"), json!({})).await;
    assert_eq!(s, 404);
    assert_eq!(stored_arrival(&app, &m2).await, (false, None, None));

    // Long after: the arrived one is overdue, the one with no arrival is not.
    let close = app.state.config.office_close;
    let at = Utc::now() + Duration::days(60);
    let report = app
        .state
        .db
        .run(move |c| hwtransfer::jobs::sweep_once_with(c, close, at))
        .await
        .unwrap();
    assert_eq!(report.manifests_overdue, vec![m1.clone()]);

    // A receipt without a recorded arrival records both: arrived now, due in five working days.
    let (s, r) = post(
        &app,
        &reg.operator_token,
        &format!("/api/v1/manifests/{m2}/receipt"),
        json!({"outcome": "received", "items": [{"line": 0, "accepted_kg": "10"}]}),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["arrived_at"], r["received_at"], "{r}");
    assert_eq!(r["receipt_overdue"], false);
    assert_eq!(
        stored_arrival(&app, &m2).await,
        (true, Some("operator".into()), Some(due))
    );
}
both_backends!(arrival_starts_the_receipt_clock, arrival_starts_the_receipt_clock);

/// Departure not before the approval's day nor after its validity; an accepted quantity above
/// the shipped one only with a quantity discrepancy saying why.
async fn departure_and_accepted_quantity(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    reg.confirmed_entry(&app, "HW08", "100").await;
    let app_id = approved_application(&app, &reg, "40").await;
    let mut early = manifest(&app_id, &[(0, "10")]);
    early["departure_at"] = json!((Utc::now() - Duration::days(2)).to_rfc3339());
    let (s, body, h) = app
        .post_json("/api/v1/manifests", Some(&reg.enterprise_token), &early)
        .await;
    assert_eq!(
        assert_problem(s, &body, &h, 422),
        vec!["manifest.departure_before_approval"]
    );
    assert_eq!(body["errors"][0]["pointer"], "/departure_at");
    let (_, a, _) = app
        .get(&format!("/api/v1/transfer-applications/{app_id}"), Some(&reg.cq))
        .await;
    let until: chrono::NaiveDate = a["approval"]["valid_until"].as_str().unwrap().parse().unwrap();
    let mut late = manifest(&app_id, &[(0, "10")]);
    late["departure_at"] = json!(format!("{}T12:00:00+08:00", until + Duration::days(1)));
    let (s, body, h) = app
        .post_json("/api/v1/manifests", Some(&reg.enterprise_token), &late)
        .await;
    assert_eq!(
        assert_problem(s, &body, &h, 422),
        vec!["manifest.departure_after_validity"]
    );
    let (_, page, _) = app.get("/api/v1/manifests", Some(&reg.cq)).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 0, "nothing stored");

    // 26 kg accepted of 25 shipped: refused without a quantity discrepancy, stored with one.
    let m = dispatched(&app, &reg, manifest(&app_id, &[(0, "25")])).await;
    let receipt = |found: Value| json!({"outcome": "received", "items": [{"line": 0, "accepted_kg": "26"}], "note": "过磅", "discrepancies": found});
    let (s, body, h) = app
        .post_json(
            &format!("/api/v1/manifests/{m}/receipt"),
            Some(&reg.operator_token),
            &receipt(json!([])),
        )
        .await;
    assert_eq!(
        assert_problem(s, &body, &h, 422),
        vec!["manifest.accepted_over_shipped"]
    );
    assert_eq!(body["errors"][0]["pointer"], "/items/0/accepted_kg");
    let (s, r) = post(
        &app,
        &reg.operator_token,
        &format!("/api/v1/manifests/{m}/receipt"),
        receipt(json!([{"line": 0, "kind": "quantity", "description": "地磅复核多1 kg", "decision": "accept"}])),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["items"][0]["accepted_kg"], "26.000");
    assert_eq!(r["discrepancies"][0]["kind"], "quantity");
    let (_, a, _) = app
        .get(&format!("/api/v1/transfer-applications/{app_id}"), Some(&reg.cq))
        .await;
    assert_eq!(a["items"][0]["received_kg"], "26.000");
}
both_backends!(departure_and_accepted_quantity, departure_and_accepted_quantity);

/// The outbox events of a manifest: (type, audience, payload).
async fn events_of(app: &TestApp, id: &str) -> Vec<(String, String, Value)> {
    use diesel::prelude::*;
    use hwtransfer::db::schema::outbox_events as o;
    let id = id.to_string();
    app.state
        .db
        .run(move |c| {
            Ok(o::table
                .filter(o::object_id.eq(&id))
                .order(o::seq.asc())
                .select((o::event_type, o::audience, o::payload))
                .load::<(String, String, String)>(c)?)
        })
        .await
        .unwrap()
        .into_iter()
        .map(|(t, a, p)| (t, a, serde_json::from_str(&p).unwrap()))
        .collect()
}

/// Every kind 第18条 names is recorded with the operator's decision and reported to the
/// receiving province's department (only); a refused line accepts nothing and goes back.
async fn discrepancies_of_every_kind(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    let entry = reg.confirmed_entry(&app, "HW08", "100").await;
    let app_id = approved_application(&app, &reg, "40").await;
    let m1 = dispatched(&app, &reg, manifest(&app_id, &[(0, "25")])).await;
    let kinds = ["name", "quantity", "characteristics", "form", "packaging"];
    let found: Vec<Value> = kinds
        .iter()
        .map(|k| json!({"line": 0, "kind": k, "description": format!("{k} 与联单不符"), "decision": "accept"}))
        .collect();
    let (s, r) = post(
        &app,
        &reg.operator_token,
        &format!("/api/v1/manifests/{m1}/receipt"),
        json!({"outcome": "received", "items": [{"line": 0, "accepted_kg": "25"}], "discrepancies": found}),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["discrepancy"], true);
    let (_, m, _) = app.get(&format!("/api/v1/manifests/{m1}"), Some(&reg.sc)).await;
    let stored: Vec<&str> = m["discrepancies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    assert_eq!(stored, kinds);
    assert_eq!(m["discrepancies"][0]["reported_to"], "510000");
    let events = events_of(&app, &m1).await;
    let report: Vec<_> = events
        .iter()
        .filter(|(t, _, _)| t == "manifest.discrepancy_reported")
        .collect();
    assert_eq!(report.len(), 1, "{events:?}");
    assert!(
        report[0].1.contains("510000") && !report[0].1.contains("500000"),
        "{}",
        report[0].1
    );
    assert_eq!(
        report[0].2["data"]["discrepancies"].as_array().unwrap().len(),
        5,
        "{}",
        report[0].2
    );

    // A refused line: not accepted at all, and its quantity goes back to the approval.
    let m2 = dispatched(&app, &reg, manifest(&app_id, &[(0, "10")])).await;
    let refuse = |kg: &str| json!({"outcome": "received", "items": [{"line": 0, "accepted_kg": kg}], "discrepancies": [{"line": 0, "kind": "packaging", "description": "桶盖缺失，泄漏", "decision": "refuse"}]});
    let (s, body, h) = app
        .post_json(
            &format!("/api/v1/manifests/{m2}/receipt"),
            Some(&reg.operator_token),
            &refuse("10"),
        )
        .await;
    assert_eq!(
        assert_problem(s, &body, &h, 422),
        vec!["manifest.refused_line_accepted"]
    );
    let (s, r) = post(
        &app,
        &reg.operator_token,
        &format!("/api/v1/manifests/{m2}/receipt"),
        refuse("0"),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["discrepancies"][0]["decision"], "refuse");
    let (_, a, _) = app
        .get(&format!("/api/v1/transfer-applications/{app_id}"), Some(&reg.cq))
        .await;
    assert_eq!(
        (
            a["items"][0]["shipped_kg"].as_str(),
            a["items"][0]["received_kg"].as_str()
        ),
        (Some("25.000"), Some("25.000"))
    );
    let (_, u, _) = app
        .get(&format!("/api/v1/whitelist-entries/{entry}/usage"), Some(&reg.cq))
        .await;
    assert_eq!(u["shipped_kg"], "25.000", "{u}");

    // A kind the law does not name is refused by the body's rules.
    let m3 = dispatched(&app, &reg, manifest(&app_id, &[(0, "5")])).await;
    let (s, body, h) = app
        .post_json(
            &format!("/api/v1/manifests/{m3}/receipt"),
            Some(&reg.operator_token),
            &json!({"outcome": "received", "items": [{"line": 0, "accepted_kg": "5"}], "discrepancies": [{"line": 0, "kind": "colour", "description": "x", "decision": "maybe"}]}),
        )
        .await;
    let mut codes = assert_problem(s, &body, &h, 422);
    codes.sort();
    assert_eq!(
        codes,
        vec!["manifest.discrepancy_decision", "manifest.discrepancy_kind"]
    );
}
both_backends!(discrepancies_of_every_kind, discrepancies_of_every_kind);

/// Moves an approval's day back, as if it had been approved `days` ago.
pub(crate) async fn approved_days_ago(app: &TestApp, app_id: &str, days: i64) {
    use diesel::prelude::*;
    use hwtransfer::db::schema::transfer_applications as t;
    let id = app_id.to_string();
    let at = hwtransfer::db::to_db_time(Utc::now() - Duration::days(days));
    app.state
        .db
        .run(move |c| {
            diesel::update(t::table.find(&id))
                .set(t::approved_at.eq(Some(at)))
                .execute(c)?;
            Ok(())
        })
        .await
        .unwrap();
}

pub(crate) fn paper(app_id: &str, key: &str, left_days_ago: i64, ended_days_ago: i64) -> Value {
    let mut m = manifest(app_id, &[(0, "5")]);
    m["departure_at"] = json!((Utc::now() - Duration::days(left_days_ago)).to_rfc3339());
    m["paper"] = json!({
        "paper_number": format!("纸质联单-{key}"),
        "completed_at": (Utc::now() - Duration::days(ended_days_ago)).to_rfc3339(),
    });
    m["idempotency_key"] = json!(key);
    m
}

/// 第20条: trips made on paper are back-filled through the batch, flagged as such, due within
/// ten working days of the trip's end, flagged overdue when later; the operator then confirms.
async fn paper_trips_are_back_filled(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    reg.confirmed_entry(&app, "HW08", "100").await;
    let app_id = approved_application(&app, &reg, "40").await;
    approved_days_ago(&app, &app_id, 60).await;
    let batch = json!({"manifests": [
        paper(&app_id, "p1", 3, 2),
        paper(&app_id, "p2", 45, 40),
        paper(&app_id, "p3", 2, 3),
    ]});
    let (s, answer, _) = app
        .post_json("/api/v1/manifests/batch", Some(&reg.enterprise_token), &batch)
        .await;
    assert_eq!(s, 200, "{answer}");
    assert_eq!(
        (answer["created"].as_u64(), answer["refused"].as_u64()),
        (Some(2), Some(1)),
        "{answer}"
    );
    let on_time = &answer["results"][0]["manifest"];
    assert_eq!(on_time["back_filled"], true);
    assert_eq!(on_time["status"], "in_transit");
    assert_eq!(on_time["paper_number"], "纸质联单-p1");
    let ended = hwtransfer::domain::calendar::shanghai_date(Utc::now() - Duration::days(2));
    assert_eq!(on_time["backfill_due_on"], due_from(&app, ended, 10).await.as_str());
    assert_eq!(on_time["backfill_overdue"], false);
    assert_eq!(on_time["arrival_reported_by"], "carrier");
    let late = &answer["results"][1]["manifest"];
    assert_eq!(late["backfill_overdue"], true, "{late}");
    assert_eq!(
        answer["results"][2]["errors"][0]["code"],
        "manifest.paper_completed_before_departure"
    );
    assert_eq!(
        answer["results"][2]["errors"][0]["pointer"],
        "/manifests/2/paper/completed_at"
    );

    // Stored as back-filled, overdue only the late one.
    use diesel::prelude::*;
    use hwtransfer::db::schema::manifests as m;
    let rows = app
        .state
        .db
        .run(|c| {
            Ok(m::table
                .order(m::paper_number.asc())
                .select((m::paper_number, m::back_filled, m::backfill_overdue_at.is_not_null()))
                .load::<(Option<String>, bool, bool)>(c)?)
        })
        .await
        .unwrap();
    assert_eq!(
        rows,
        vec![
            (Some("纸质联单-p1".to_string()), true, false),
            (Some("纸质联单-p2".to_string()), true, true),
        ]
    );

    // The operator confirms the back-filled trip like any other.
    let id = on_time["id"].as_str().unwrap();
    let (s, r) = post(
        &app,
        &reg.operator_token,
        &format!("/api/v1/manifests/{id}/receipt"),
        json!({"outcome": "received", "items": [{"line": 0, "accepted_kg": "5"}]}),
    )
    .await;
    assert_eq!((s, r["status"].as_str()), (200, Some("received")), "{r}");
}
both_backends!(paper_trips_are_back_filled, paper_trips_are_back_filled);
