//! Shipment manifests: numbering (also under concurrency), quantity limits against the approval,
//! the receipt clock and its overdue flag, discrepancies, rejection and cancellation, and how
//! quantities flow into the approval and the whitelist entry.

use serde_json::{Value, json};

use crate::both_backends;
use crate::fixtures::{Registry, approved_application, manifest, this_year, usage};
use crate::support::{Backend, TestApp, assert_problem};

async fn post(app: &TestApp, token: &str, path: &str, body: Value, if_match: Option<i64>) -> (u16, Value) {
    let mut req = app.client.post(app.url(path)).bearer_auth(token).json(&body);
    if let Some(v) = if_match {
        req = req.header("if-match", format!("\"{v}\""));
    }
    let (s, b, _) = crate::support::split(req.send().await.unwrap()).await;
    (s, b)
}

async fn application(app: &TestApp, reg: &Registry, id: &str) -> Value {
    app.get(&format!("/api/v1/transfer-applications/{id}"), Some(&reg.cq))
        .await
        .1
}

async fn manifest_lifecycle(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    let entry = reg.confirmed_entry(&app, "HW08", "100").await;
    let app_id = approved_application(&app, &reg, "40").await;

    // The first manifest of Chongqing city 5001 this year.
    let (s, m) = post(
        &app,
        &reg.enterprise_token,
        "/api/v1/manifests",
        manifest(&app_id, &[(0, "25")]),
        None,
    )
    .await;
    assert_eq!(s, 201, "{m}");
    let year = this_year();
    assert_eq!(m["number"], format!("{year}5001000001"));
    assert_eq!(m["number"].as_str().unwrap().len(), 14);
    assert_eq!(m["status"], "created");
    assert_eq!(m["items"][0]["quantity_kg"], "25.000");
    let m1 = m["id"].as_str().unwrap().to_string();
    let a = application(&app, &reg, &app_id).await;
    assert_eq!(a["items"][0]["shipped_kg"], "25.000");
    assert_eq!(usage(&app, &reg, &entry).await["shipped_kg"], "25.000");

    // More than the approval still allows (15 kg) is refused and changes nothing.
    let (s, body, h) = app
        .post_json(
            "/api/v1/manifests",
            Some(&reg.enterprise_token),
            &manifest(&app_id, &[(0, "15.001")]),
        )
        .await;
    let codes = assert_problem(s, &body, &h, 422);
    assert_eq!(codes, vec!["manifest.over_approval"]);
    assert_eq!(body["errors"][0]["pointer"], "/items/0/quantity_kg");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("15.000 kg left"),
        "{body}"
    );
    assert_eq!(
        application(&app, &reg, &app_id).await["items"][0]["shipped_kg"],
        "25.000"
    );

    // Every problem of a bad body at once.
    let mut bad = manifest(&app_id, &[(3, "1"), (3, "0")]);
    bad["carrier"]["vehicle_plate"] = json!("ABC");
    bad.as_object_mut().unwrap().remove("route_to");
    bad["speed"] = json!(80);
    let (s, body, h) = app
        .post_json("/api/v1/manifests", Some(&reg.enterprise_token), &bad)
        .await;
    let mut codes = assert_problem(s, &body, &h, 422);
    codes.sort();
    assert_eq!(
        codes,
        vec![
            "body.required",
            "body.unknown_field",
            "manifest.vehicle_plate",
            "quantity.not_positive"
        ],
        "{body}"
    );
    // Only the producer creates, only for an application it can see.
    let (s, _) = post(
        &app,
        &reg.operator_token,
        "/api/v1/manifests",
        manifest(&app_id, &[(0, "1")]),
        None,
    )
    .await;
    assert_eq!(s, 403);

    // The operator cannot receive before dispatch, nor dispatch; the producer dispatches.
    let receive = |kg: &str, note: Option<&str>| json!({"outcome": "received", "items": [{"line": 0, "accepted_kg": kg}], "note": note});
    let (s, _) = post(
        &app,
        &reg.operator_token,
        &format!("/api/v1/manifests/{m1}/receipt"),
        receive("25", None),
        None,
    )
    .await;
    assert_eq!(s, 409);
    let (s, _) = post(
        &app,
        &reg.operator_token,
        &format!("/api/v1/manifests/{m1}/dispatch"),
        json!({}),
        None,
    )
    .await;
    assert_eq!(s, 403);
    let (s, d) = post(
        &app,
        &reg.enterprise_token,
        &format!("/api/v1/manifests/{m1}/dispatch"),
        json!({}),
        None,
    )
    .await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["status"], "in_transit");
    // The receipt clock waits for the arrival, which the operator records.
    assert_eq!(d["receipt_due_on"], Value::Null, "{d}");
    let (s, d) = post(
        &app,
        &reg.operator_token,
        &format!("/api/v1/manifests/{m1}/arrival"),
        json!({}),
        None,
    )
    .await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["arrival_reported_by"], "operator");
    // Due five working days after arrival, at office close (Asia/Shanghai).
    let cal = app.state.calendar().await.unwrap();
    let today = hwtransfer::domain::calendar::shanghai_date(chrono::Utc::now());
    let due = cal.add_working_days(today, 5).date;
    assert_eq!(d["receipt_due_on"], due.to_string());
    assert_eq!(
        d["receipt_due_at"],
        hwtransfer::domain::calendar::deadline_instant(due, chrono::NaiveTime::from_hms_opt(17, 30, 0).unwrap())
            .to_rfc3339()
    );

    // 20 of 25 kg is a 20 % difference: significant at the default 5 %, so a note is required.
    let (s, body, h) = app
        .post_json(
            &format!("/api/v1/manifests/{m1}/receipt"),
            Some(&reg.operator_token),
            &receive("20", None),
        )
        .await;
    assert_eq!(
        assert_problem(s, &body, &h, 422),
        vec!["manifest.discrepancy_note_required"]
    );
    let (s, r) = post(
        &app,
        &reg.operator_token,
        &format!("/api/v1/manifests/{m1}/receipt"),
        receive("20", Some("5 kg 桶内残留")),
        Some(3),
    )
    .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["status"], "received");
    assert_eq!(r["discrepancy"], true);
    assert_eq!(r["items"][0]["accepted_kg"], "20.000");
    let a = application(&app, &reg, &app_id).await;
    assert_eq!(a["items"][0]["received_kg"], "20.000");
    let u = usage(&app, &reg, &entry).await;
    assert_eq!(
        (u["shipped_kg"].as_str(), u["received_kg"].as_str()),
        (Some("25.000"), Some("20.000"))
    );

    // A rejected load goes back: the approval allows its quantity again.
    let (_, m) = post(
        &app,
        &reg.enterprise_token,
        "/api/v1/manifests",
        manifest(&app_id, &[(0, "15")]),
        None,
    )
    .await;
    assert_eq!(m["number"], format!("{year}5001000002"));
    let m2 = m["id"].as_str().unwrap().to_string();
    post(
        &app,
        &reg.enterprise_token,
        &format!("/api/v1/manifests/{m2}/dispatch"),
        json!({}),
        None,
    )
    .await;
    let (s, body, h) = app
        .post_json(
            &format!("/api/v1/manifests/{m2}/receipt"),
            Some(&reg.operator_token),
            &json!({"outcome": "rejected"}),
        )
        .await;
    assert_eq!(assert_problem(s, &body, &h, 422), vec!["body.required"]);
    let (s, r) = post(
        &app,
        &reg.operator_token,
        &format!("/api/v1/manifests/{m2}/receipt"),
        json!({"outcome": "rejected", "reason": "包装破损"}),
        None,
    )
    .await;
    assert_eq!((s, r["status"].as_str()), (200, Some("rejected")), "{r}");
    assert_eq!(
        application(&app, &reg, &app_id).await["items"][0]["shipped_kg"],
        "25.000"
    );
    assert_eq!(usage(&app, &reg, &entry).await["shipped_kg"], "25.000");

    // Cancelled before dispatch: the same.
    let (_, m) = post(
        &app,
        &reg.enterprise_token,
        "/api/v1/manifests",
        manifest(&app_id, &[(0, "15")]),
        None,
    )
    .await;
    let m3 = m["id"].as_str().unwrap().to_string();
    assert_eq!(
        application(&app, &reg, &app_id).await["items"][0]["shipped_kg"],
        "40.000"
    );
    let (s, r) = post(
        &app,
        &reg.enterprise_token,
        &format!("/api/v1/manifests/{m3}/cancel"),
        json!({"reason": "车辆故障"}),
        None,
    )
    .await;
    assert_eq!((s, r["status"].as_str()), (200, Some("cancelled")), "{r}");
    assert_eq!(
        application(&app, &reg, &app_id).await["items"][0]["shipped_kg"],
        "25.000"
    );

    // Lists are scoped: the operator sees the three; Guizhou sees none and 404 on one.
    let (_, page, _) = app.get("/api/v1/manifests", Some(&reg.operator_token)).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 3);
    let (_, page, _) = app.get("/api/v1/manifests", Some(&reg.gz)).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 0);
    assert_eq!(app.get(&format!("/api/v1/manifests/{m1}"), Some(&reg.gz)).await.0, 404);
    let (_, page, _) = app.get("/api/v1/manifests?status=received", Some(&reg.cq)).await;
    assert_eq!(page["items"][0]["id"], m1.as_str());

    // The ledger of the entry shows every movement.
    let movements: Vec<String> = usage(&app, &reg, &entry).await["movements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["movement"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        movements,
        vec![
            "reserve", "commit", "ship", "receive", "ship", "return", "ship", "return"
        ]
    );
}
both_backends!(manifest_lifecycle, manifest_lifecycle);

/// 30 trucks at once against a 100 kg approval, 5 kg each: exactly 20 manifests, numbered 1..20
/// with no gap or duplicate, and 10 refusals; the approval's shipped total is exactly 100 kg.
async fn concurrent_manifests_keep_numbers_and_limits(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.pool_size = 8).await;
    let reg = Registry::setup(&app).await;
    reg.confirmed_entry(&app, "HW08", "1000").await;
    let app_id = approved_application(&app, &reg, "100").await;
    let mut tasks = Vec::new();
    for _ in 0..30 {
        let client = app.client.clone();
        let url = app.url("/api/v1/manifests");
        let token = reg.enterprise_token.clone();
        let body = manifest(&app_id, &[(0, "5")]);
        tasks.push(actix_web::rt::spawn(async move {
            let res = client.post(url).bearer_auth(token).json(&body).send().await.unwrap();
            crate::support::split(res).await
        }));
    }
    let mut numbers = Vec::new();
    let mut refused = 0;
    for t in tasks {
        let (s, b, _) = t.await.unwrap();
        match s {
            201 => numbers.push(b["number"].as_str().unwrap().to_string()),
            422 => {
                assert_eq!(b["errors"][0]["code"], "manifest.over_approval", "{b}");
                refused += 1;
            }
            other => panic!("unexpected {other}: {b}"),
        }
    }
    numbers.sort();
    let year = this_year();
    let expected: Vec<String> = (1..=20).map(|n| format!("{year}5001{n:06}")).collect();
    assert_eq!(numbers, expected);
    assert_eq!(refused, 10);
    assert_eq!(
        application(&app, &reg, &app_id).await["items"][0]["shipped_kg"],
        "100.000"
    );
}
both_backends!(
    concurrent_manifests_keep_numbers_and_limits,
    concurrent_manifests_keep_numbers_and_limits
);

/// A manifest not received in time is flagged overdue by the sweeper (once), and an approval
/// that expires gives back only what manifests did not draw.
async fn receipt_deadline_and_expiry(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    let entry = reg.confirmed_entry(&app, "HW08", "100").await;
    let app_id = approved_application(&app, &reg, "40").await;
    let (_, m) = post(
        &app,
        &reg.enterprise_token,
        "/api/v1/manifests",
        manifest(&app_id, &[(0, "25")]),
        None,
    )
    .await;
    let id = m["id"].as_str().unwrap().to_string();
    post(
        &app,
        &reg.enterprise_token,
        &format!("/api/v1/manifests/{id}/dispatch"),
        json!({}),
        None,
    )
    .await;
    let (_, d) = post(
        &app,
        &reg.operator_token,
        &format!("/api/v1/manifests/{id}/arrival"),
        json!({}),
        None,
    )
    .await;
    let due: chrono::DateTime<chrono::Utc> = d["receipt_due_at"].as_str().unwrap().parse().unwrap();
    let close = app.state.config.office_close;
    let sweep = |at: chrono::DateTime<chrono::Utc>| {
        let db = app.state.db.clone();
        async move {
            db.run(move |c| hwtransfer::jobs::sweep_once_with(c, close, at))
                .await
                .unwrap()
        }
    };
    // At the due instant it is not late yet; a second after, it is.
    assert!(sweep(due).await.manifests_overdue.is_empty());
    assert_eq!(
        sweep(due + chrono::Duration::seconds(1)).await.manifests_overdue,
        vec![id.clone()]
    );
    assert!(
        sweep(due + chrono::Duration::days(1))
            .await
            .manifests_overdue
            .is_empty(),
        "marked once"
    );
    let (_, m, _) = app
        .get(&format!("/api/v1/manifests/{id}"), Some(&reg.operator_token))
        .await;
    assert_eq!(m["receipt_overdue"], true);
    let (_, page, _) = app.get("/api/v1/manifests?overdue=true", Some(&reg.sc)).await;
    assert_eq!(page["items"][0]["id"], id.as_str());
    // Still receivable when late: the flag stays for the record.
    let (s, r) = post(
        &app,
        &reg.operator_token,
        &format!("/api/v1/manifests/{id}/receipt"),
        json!({"outcome": "received", "items": [{"line": 0, "accepted_kg": "25"}]}),
        None,
    )
    .await;
    assert_eq!((s, r["discrepancy"].as_bool()), (200, Some(false)), "{r}");

    // Expiry: 40 approved, 25 drawn → 15 go back to the entry; approved stays 25.
    let a = application(&app, &reg, &app_id).await;
    let until: chrono::NaiveDate = a["approval"]["valid_until"].as_str().unwrap().parse().unwrap();
    let after = hwtransfer::domain::calendar::deadline_instant(until + chrono::Duration::days(1), close);
    let report = sweep(after).await;
    assert_eq!(report.applications.expired, vec![app_id.clone()]);
    let u = usage(&app, &reg, &entry).await;
    assert_eq!(u["approved_kg"], "25.000", "{u}");
    assert_eq!(u["remaining_kg"], "75.000", "{u}");
    // An expired approval carries no new manifest.
    let (s, body, h) = app
        .post_json(
            "/api/v1/manifests",
            Some(&reg.enterprise_token),
            &manifest(&app_id, &[(0, "1")]),
        )
        .await;
    assert_eq!(assert_problem(s, &body, &h, 422), vec!["manifest.not_approved"]);
}
both_backends!(receipt_deadline_and_expiry, receipt_deadline_and_expiry);
