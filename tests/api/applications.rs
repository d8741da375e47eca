//! Transfer applications: routing and reservation, the workflow on both routes with its
//! permission matrix, deadlines through the API, deemed acceptance, clock suspension,
//! idempotent filing, ETag conflicts, and the quota race over two server processes.

use serde_json::{Value, json};

use crate::both_backends;
use crate::fixtures::{Registry, act, filing, stored_filing, stored_item, stored_oil, this_year, usage, ymd};
use crate::support::{Backend, TestApp, assert_problem};

async fn file(app: &TestApp, reg: &Registry, body: &Value) -> (u16, Value) {
    let (s, b, _) = app
        .post_json("/api/v1/transfer-applications", Some(&reg.enterprise_token), body)
        .await;
    (s, b)
}

/// Files, confirming the standard route when asked to.
async fn file_confirmed(app: &TestApp, reg: &Registry, body: &Value) -> (u16, Value) {
    let (s, b, _) = app.file_confirmed(&reg.enterprise_token, body).await;
    (s, b)
}

async fn whitelist_route_end_to_end(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    let entry = reg.confirmed_entry(&app, "HW08", "100").await;

    // The dry run says where it would go, and stores nothing.
    let (s, check, _) = app
        .post_json(
            "/api/v1/transfer-applications/check",
            Some(&reg.enterprise_token),
            &filing(&reg.operator_id, "900-249-08", "40.5"),
        )
        .await;
    assert_eq!(s, 200, "{check}");
    assert_eq!(check["route"], "whitelist");
    assert_eq!(check["acceptable"], true);
    assert_eq!(check["items"][0]["entry_id"], entry.as_str());
    assert_eq!(check["items"][0]["remaining_after_kg"], "59.500");
    assert_eq!(usage(&app, &reg, &entry).await["reserved_kg"], "0.000");

    let (s, a) = file(&app, &reg, &filing(&reg.operator_id, "900-249-08", "40.5")).await;
    assert_eq!(s, 201, "{a}");
    assert_eq!(a["route"], "whitelist");
    assert_eq!(a["status"], "submitted");
    assert_eq!(a["items"][0]["entry_id"], entry.as_str());
    assert_eq!(a["steps"][0]["kind"], "acceptance");
    assert_eq!(a["steps"][0]["working_days"], 5);
    assert_eq!(a["receiving_consent"], "consent");
    let id = a["id"].as_str().unwrap().to_string();
    assert_eq!(
        usage(&app, &reg, &entry).await["reserved_kg"],
        "40.500",
        "reserved when filed"
    );

    // The permission matrix on this case.
    assert_eq!(
        act(&app, &reg.sc, &id, "accept", json!({}), None).await.0,
        403,
        "Sichuan is the receiving side"
    );
    assert_eq!(
        act(&app, &reg.gz, &id, "accept", json!({}), None).await.0,
        404,
        "Guizhou has no part in it"
    );
    assert_eq!(
        act(&app, &reg.operator_token, &id, "accept", json!({}), None).await.0,
        403
    );
    assert_eq!(
        act(&app, &reg.enterprise_token, &id, "accept", json!({}), None).await.0,
        403
    );
    assert_eq!(
        app.get(
            &format!("/api/v1/transfer-applications/{id}"),
            Some(&reg.operator_token)
        )
        .await
        .0,
        200
    );

    let (s, a) = act(&app, &reg.cq, &id, "accept", json!({}), Some(1)).await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(a["status"], "under_review");
    assert_eq!(a["steps"][1]["kind"], "whitelist_decision");
    assert_eq!(a["version"], 2);
    // Decisions need If-Match; a stale one is refused.
    let approve = |side: &str| json!({"side": side, "outcome": "approve", "reasons": ["符合白名单"], "conditions": ["按规定路线运输"]});
    assert_eq!(
        act(&app, &reg.cq, &id, "decisions", approve("source"), None).await.0,
        428
    );
    assert_eq!(
        act(&app, &reg.cq, &id, "decisions", approve("source"), Some(1)).await.0,
        412
    );
    // A regulator decides only its own side.
    assert_eq!(
        act(&app, &reg.cq, &id, "decisions", approve("receiving"), Some(2))
            .await
            .0,
        403
    );
    // Receiving first (either order), then the source: consent policy needs both.
    let (s, a) = act(&app, &reg.sc, &id, "decisions", approve("receiving"), Some(2)).await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(a["status"], "under_review");
    assert_eq!(
        act(&app, &reg.sc, &id, "decisions", approve("receiving"), Some(3))
            .await
            .0,
        409,
        "no second decision"
    );
    let (s, a) = act(&app, &reg.cq, &id, "decisions", approve("source"), Some(3)).await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(a["status"], "approved");
    let number = a["approval"]["number"].as_str().unwrap();
    assert_eq!(number, format!("渝危转〔{}〕0001号", this_year()));
    assert_eq!(
        a["approval"]["valid_until"], a["period_end"],
        "capped by the requested period"
    );
    assert_eq!(a["decisions"].as_array().unwrap().len(), 2);
    let u = usage(&app, &reg, &entry).await;
    assert_eq!(
        (u["reserved_kg"].as_str(), u["approved_kg"].as_str()),
        (Some("0.000"), Some("40.500"))
    );
    // Withdrawing after the decision is not possible.
    assert_eq!(
        act(&app, &reg.enterprise_token, &id, "withdraw", json!({}), None)
            .await
            .0,
        409
    );

    // The next approval of the province takes the next number, without gaps.
    let (_, b) = file(&app, &reg, &filing(&reg.operator_id, "900-249-08", "1")).await;
    let id2 = b["id"].as_str().unwrap();
    act(&app, &reg.cq, id2, "accept", json!({}), None).await;
    act(&app, &reg.sc, id2, "decisions", approve("receiving"), Some(2)).await;
    let (_, b) = act(&app, &reg.cq, id2, "decisions", approve("source"), Some(3)).await;
    assert_eq!(b["approval"]["number"], format!("渝危转〔{}〕0002号", this_year()));

    // The timeline.
    let (_, events, _) = app
        .get(
            &format!("/api/v1/transfer-applications/{id}/events"),
            Some(&reg.enterprise_token),
        )
        .await;
    let kinds: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        vec!["filed", "accepted", "receiving_approved", "source_approved"]
    );
    assert_eq!(events[3]["detail"]["approval_number"], number);
}
both_backends!(whitelist_route_end_to_end, whitelist_route_end_to_end);

async fn standard_route_and_refusals(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    // No entry at all: standard route (once confirmed), with the reason kept.
    let (s, a) = file_confirmed(&app, &reg, &filing(&reg.operator_id, "900-041-49", "10")).await;
    assert_eq!(s, 201, "{a}");
    assert_eq!(a["route"], "standard");
    assert!(
        a["route_reasons"][0].as_str().unwrap().contains("no whitelist entry"),
        "{a}"
    );
    let id = a["id"].as_str().unwrap().to_string();
    act(&app, &reg.cq, &id, "accept", json!({}), None).await;
    let ok = |side: &str| json!({"side": side, "outcome": "approve", "reasons": []});
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive()
        .to_string();
    let with_letter = |side: &str, number: &str| json!({"side": side, "outcome": "approve", "reasons": [], "letter": {"number": number, "date": today}});
    let (s, a) = act(
        &app,
        &reg.cq,
        &id,
        "decisions",
        with_letter("source", "测试商请函〔2026〕1号"),
        Some(2),
    )
    .await;
    assert_eq!((s, a["status"].as_str()), (200, Some("consultation_sent")), "{a}");
    assert_eq!(a["steps"][2]["kind"], "receiving_opinion");
    assert_eq!(a["steps"][2]["working_days"], 10);
    assert_eq!(a["steps"][2]["side"], "receiving");
    // The source cannot give the receiving opinion.
    assert_eq!(act(&app, &reg.cq, &id, "decisions", ok("source"), Some(3)).await.0, 403);
    let (_, a) = act(
        &app,
        &reg.sc,
        &id,
        "decisions",
        with_letter("receiving", "测试复函〔2026〕1号"),
        Some(3),
    )
    .await;
    assert_eq!(a["status"], "receiving_replied");
    assert_eq!(a["steps"][3]["kind"], "source_decision");
    let (_, a) = act(&app, &reg.cq, &id, "decisions", ok("source"), Some(4)).await;
    assert_eq!(a["status"], "approved");
    assert!(a["approval"]["number"].as_str().unwrap().starts_with("渝危转"));

    // Refusal on the whitelist route releases the reservation; refusing needs reasons.
    let entry = reg.confirmed_entry(&app, "HW08", "50").await;
    let (_, a) = file(&app, &reg, &filing(&reg.operator_id, "900-249-08", "20")).await;
    let id = a["id"].as_str().unwrap().to_string();
    act(&app, &reg.cq, &id, "accept", json!({}), None).await;
    let (s, body) = act(
        &app,
        &reg.sc,
        &id,
        "decisions",
        json!({"side": "receiving", "outcome": "refuse", "reasons": []}),
        Some(2),
    )
    .await;
    assert_eq!(s, 422, "{body}");
    let (s, a) = act(
        &app,
        &reg.sc,
        &id,
        "decisions",
        json!({"side": "receiving", "outcome": "refuse", "reasons": ["处置能力不足"]}),
        Some(2),
    )
    .await;
    assert_eq!((s, a["status"].as_str()), (200, Some("refused")), "{a}");
    assert_eq!(usage(&app, &reg, &entry).await["reserved_kg"], "0.000");
    let u = usage(&app, &reg, &entry).await;
    let moves: Vec<&str> = u["movements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["movement"].as_str().unwrap())
        .collect();
    assert_eq!(moves, vec!["reserve", "release"]);

    // Withdrawal releases too.
    let (_, a) = file(&app, &reg, &filing(&reg.operator_id, "900-249-08", "30")).await;
    let id = a["id"].as_str().unwrap().to_string();
    assert_eq!(usage(&app, &reg, &entry).await["reserved_kg"], "30.000");
    let (s, a) = act(
        &app,
        &reg.enterprise_token,
        &id,
        "withdraw",
        json!({"reason": "合同取消"}),
        None,
    )
    .await;
    assert_eq!((s, a["status"].as_str()), (200, Some("withdrawn")));
    assert_eq!(usage(&app, &reg, &entry).await["reserved_kg"], "0.000");

    // Over quota goes to the standard route (once confirmed), told why.
    let (_, a) = file_confirmed(&app, &reg, &filing(&reg.operator_id, "900-249-08", "50.001")).await;
    assert_eq!(a["route"], "standard");
    assert!(a["route_reasons"][0].as_str().unwrap().contains("over quota"), "{a}");

    // Waste the operator is not licensed for: refused outright, nothing stored.
    let (s, body) = file(&app, &reg, &filing(&reg.operator_id, "252-001-11", "1")).await;
    assert_eq!(s, 422, "{body}");
    assert_eq!(body["errors"][0]["code"], "application.not_licensed");
    assert_eq!(body["errors"][0]["pointer"], "/items/0/waste_code");
    let (_, list, _) = app
        .get("/api/v1/transfer-applications?limit=200", Some(&reg.enterprise_token))
        .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 4);
}
both_backends!(standard_route_and_refusals, standard_route_and_refusals);

async fn corrections_and_bad_input(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    // Every problem at once.
    let (s, body) = file(
        &app,
        &reg,
        &json!({"operator_id": reg.operator_id, "method": "burn", "period_start": "2026-13-01", "period_end": "x",
                "items": [{"waste_code": "900-249-41", "waste_name": "", "physical_form": "液态", "hazards": ["X"], "packaging": "桶", "quantity_kg": "0"}],
                "carriers": []}),
    )
    .await;
    assert_eq!(s, 422, "{body}");
    let pointers: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap())
        .collect();
    for p in [
        "/method",
        "/period_start",
        "/period_end",
        "/items/0/waste_code",
        "/items/0/waste_name",
        "/items/0/hazards/0",
        "/items/0/quantity_kg",
        "/carriers",
    ] {
        assert!(pointers.contains(&p), "{p} missing in {body}");
    }
    // The one-time correction notice lists every problem; resubmission restarts acceptance.
    let (_, a) = file_confirmed(&app, &reg, &filing(&reg.operator_id, "900-041-49", "3")).await;
    let id = a["id"].as_str().unwrap().to_string();
    let (s, a) = act(
        &app,
        &reg.cq,
        &id,
        "request-correction",
        json!({"problems": ["缺少合同", "危险特性鉴别报告缺失"]}),
        None,
    )
    .await;
    assert_eq!((s, a["status"].as_str()), (200, Some("correction_requested")), "{a}");
    assert_eq!(a["correction_notice"], json!(["缺少合同", "危险特性鉴别报告缺失"]));
    assert_eq!(act(&app, &reg.cq, &id, "accept", json!({}), None).await.0, 409);
    let (s, a) = act(
        &app,
        &reg.enterprise_token,
        &id,
        "resubmit",
        json!({"note": "已补充合同"}),
        None,
    )
    .await;
    assert_eq!((s, a["status"].as_str()), (200, Some("resubmitted")));
    assert_eq!(
        act(
            &app,
            &reg.cq,
            &id,
            "request-correction",
            json!({"problems": ["再补"]}),
            None
        )
        .await
        .0,
        409,
        "one-time"
    );
    let (s, a) = act(&app, &reg.cq, &id, "accept", json!({}), None).await;
    assert_eq!((s, a["status"].as_str()), (200, Some("under_review")));
    // Operators do not file.
    let (s, _, _) = app
        .post_json(
            "/api/v1/transfer-applications",
            Some(&reg.operator_token),
            &filing(&reg.operator_id, "900-041-49", "3"),
        )
        .await;
    assert_eq!(s, 403);
}
both_backends!(corrections_and_bad_input, corrections_and_bad_input);

async fn idempotent_filing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    let entry = reg.confirmed_entry(&app, "HW08", "100").await;
    let body = filing(&reg.operator_id, "900-249-08", "10");
    let post = |b: Value, key: &str| {
        app.client
            .post(app.url("/api/v1/transfer-applications"))
            .bearer_auth(&reg.enterprise_token)
            .header("idempotency-key", key.to_string())
            .json(&b)
            .send()
    };
    let first = post(body.clone(), "erp-order-42").await.unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let again = post(body.clone(), "erp-order-42").await.unwrap();
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers().get("idempotent-replayed").unwrap(), "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(first["id"], again["id"]);
    assert_eq!(
        usage(&app, &reg, &entry).await["reserved_kg"],
        "10.000",
        "reserved once"
    );
    let (_, list, _) = app
        .get("/api/v1/transfer-applications", Some(&reg.enterprise_token))
        .await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    // The same key for a different request is refused.
    let other = post(filing(&reg.operator_id, "900-249-08", "11"), "erp-order-42")
        .await
        .unwrap();
    assert_eq!(other.status(), 422);
    let other: Value = other.json().await.unwrap();
    assert_eq!(other["errors"][0]["code"], "idempotency.key_reused");
}
both_backends!(idempotent_filing, idempotent_filing);

async fn deemed_acceptance_overdue_and_suspension(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    // Deadlines must be firm for the sweep to act (see sweep_waits_for_the_notice): late in a
    // year whose successor has no notice yet, a synthetic one stands in.
    let next = this_year() + 1;
    if app.get(&format!("/api/v1/calendar/{next}"), None).await.0 == 404 {
        let (s, b, _) = app
            .send_json(
                reqwest::Method::PUT,
                &format!("/api/v1/calendar/{next}"),
                Some(&reg.admin),
                &test_notice(next),
            )
            .await;
        assert_eq!(s, 200, "{b}");
    }
    let (_, a) = file_confirmed(&app, &reg, &filing(&reg.operator_id, "900-041-49", "3")).await;
    let late = a["id"].as_str().unwrap().to_string();
    let received_on = a["received_at"].as_str().unwrap().to_string();
    let (_, b) = file_confirmed(&app, &reg, &filing(&reg.operator_id, "900-041-49", "4")).await;
    let paused = b["id"].as_str().unwrap().to_string();
    act(&app, &reg.cq, &paused, "accept", json!({}), None).await;
    let (s, p) = act(
        &app,
        &reg.cq,
        &paused,
        "suspend-clock",
        json!({"reason": "专家评审"}),
        None,
    )
    .await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["steps"][1]["suspended"], true);
    assert_eq!(p["steps"][1]["suspensions"][0]["reason"], "专家评审");
    assert_eq!(
        act(
            &app,
            &reg.cq,
            &paused,
            "suspend-clock",
            json!({"reason": "again"}),
            None
        )
        .await
        .0,
        409
    );
    assert_eq!(
        act(&app, &reg.sc, &paused, "suspend-clock", json!({"reason": "x"}), None)
            .await
            .0,
        403,
        "not Sichuan's step"
    );

    // Thirty days later the sweeper runs: no correction notice came in time, so the application
    // counts as accepted on the day it was received; the suspended one is not overdue.
    let later = chrono::Utc::now() + chrono::Duration::days(30);
    let close = app.state.config.office_close;
    let report = app
        .state
        .db
        .run(move |c| hwtransfer::jobs::sweep_once_with(c, close, later))
        .await
        .unwrap();
    assert_eq!(report.applications.deemed_accepted, vec![late.clone()]);
    assert!(!report.applications.overdue_marked.contains(&paused));
    let (_, a, _) = app
        .get(&format!("/api/v1/transfer-applications/{late}"), Some(&reg.cq))
        .await;
    assert_eq!(a["status"], "under_review");
    assert_eq!(a["deemed_accepted"], true);
    let received = chrono::DateTime::parse_from_rfc3339(&received_on)
        .unwrap()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive();
    assert_eq!(a["accepted_on"], received.to_string());
    assert_eq!(a["steps"][1]["started_on"], received.to_string());
    // Running again changes nothing; and 30 days on, the review step is overdue: flagged and
    // escalated, never approved.
    let again = app
        .state
        .db
        .run(move |c| hwtransfer::jobs::sweep_once_with(c, close, later))
        .await
        .unwrap();
    assert!(again.applications.deemed_accepted.is_empty());
    assert_eq!(again.applications.overdue_marked, vec![late.clone()]);
    let third = app
        .state
        .db
        .run(move |c| hwtransfer::jobs::sweep_once_with(c, close, later))
        .await
        .unwrap();
    assert!(third.applications.overdue_marked.is_empty(), "marked once");
    let (_, a, _) = app
        .get(&format!("/api/v1/transfer-applications/{late}"), Some(&reg.cq))
        .await;
    assert_eq!(a["status"], "under_review");
    let (_, events, _) = app
        .get(&format!("/api/v1/transfer-applications/{late}/events"), Some(&reg.cq))
        .await;
    let kinds: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["filed", "deemed_accepted", "overdue"]);

    // Resuming the clock the same day it stopped costs no working day.
    let due_before = p["steps"][1]["due_on"].clone();
    let (s, p) = act(&app, &reg.cq, &paused, "resume-clock", json!({}), None).await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["steps"][1]["suspended"], false);
    assert_eq!(p["steps"][1]["due_on"], due_before);
    assert!(p["steps"][1]["suspensions"][0]["resumed_on"].is_string());
}
both_backends!(
    deemed_acceptance_overdue_and_suspension,
    deemed_acceptance_overdue_and_suspension
);

/// DESIGN §1's vector through the application: accepted on 2025-09-26, decision due at office
/// close on 2025-10-10 (the National Day week and its make-up days counted right).
async fn design_vector_through_an_application(backend: Backend) {
    use hwtransfer::db::applications::{Act, ActContext, FileOutcome};
    use hwtransfer::domain::workflow::Actor;
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    let then = chrono::DateTime::parse_from_rfc3339("2025-09-26T10:00:00+08:00")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let f = stored_filing(&reg, ymd(2025, 10, 1), ymd(2026, 3, 31), stored_oil());
    let close = app.state.config.office_close;
    let id = app
        .state
        .db
        .run(move |conn| {
            let cal = hwtransfer::db::calendar::load(conn)?;
            let (outcome, _) = hwtransfer::db::applications::file(conn, &cal, close, &f, then, |_| true)?;
            let FileOutcome::Filed(a, _) = outcome else {
                panic!("not filed")
            };
            let ctx = ActContext {
                cal: &cal,
                office_close: close,
                actor: Actor::SourceRegulator,
                name: "cq",
                role: "regulator",
                now: then,
            };
            hwtransfer::db::applications::act(conn, &ctx, &a.id, None, &Act::Accept)?
                .map_err(|_| hwtransfer::db::DbError::NotFound)?;
            Ok(a.id)
        })
        .await
        .unwrap();
    let (s, a, _) = app
        .get(&format!("/api/v1/transfer-applications/{id}"), Some(&reg.cq))
        .await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(a["accepted_on"], "2025-09-26");
    assert_eq!(
        a["steps"][0]["due_on"], "2025-10-10",
        "acceptance due 5 WD after receipt"
    );
    assert_eq!(a["steps"][1]["due_on"], "2025-10-10");
    assert_eq!(a["steps"][1]["due_at"], "2025-10-10T09:30:00+00:00");
    assert_eq!(a["steps"][1]["provisional"], false);
    assert_eq!(a["steps"][1]["overdue"], true, "it is long past");
}
both_backends!(
    design_vector_through_an_application,
    design_vector_through_an_application
);

async fn queue_for_regulators(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    reg.confirmed_entry(&app, "HW08", "100").await;
    let mut ids = Vec::new();
    for kg in ["1", "2", "3"] {
        let (_, a) = file(&app, &reg, &filing(&reg.operator_id, "900-249-08", kg)).await;
        ids.push(a["id"].as_str().unwrap().to_string());
    }
    act(&app, &reg.cq, &ids[1], "accept", json!({}), None).await;
    // Chongqing must act on all three (acceptance or decision); Sichuan (consent) on the accepted one.
    let (_, q, _) = app
        .get("/api/v1/transfer-applications?side=source", Some(&reg.cq))
        .await;
    assert_eq!(q["items"].as_array().unwrap().len(), 3);
    let (_, q, _) = app
        .get("/api/v1/transfer-applications?status=under_review", Some(&reg.sc))
        .await;
    assert_eq!(q["items"].as_array().unwrap().len(), 1);
    let (_, q, _) = app
        .get("/api/v1/transfer-applications?route=standard", Some(&reg.cq))
        .await;
    assert_eq!(q["items"].as_array().unwrap().len(), 0);
    let (_, q, _) = app
        .get("/api/v1/transfer-applications?code=900-249-08&limit=2", Some(&reg.cq))
        .await;
    assert_eq!(q["items"].as_array().unwrap().len(), 2);
    let cursor = q["next_cursor"].as_str().unwrap();
    let (_, q2, _) = app
        .get(
            &format!("/api/v1/transfer-applications?code=900-249-08&limit=2&cursor={cursor}"),
            Some(&reg.cq),
        )
        .await;
    assert_eq!(q2["items"].as_array().unwrap().len(), 1);
    // Sorted by due instant.
    let (_, all, _) = app.get("/api/v1/transfer-applications", Some(&reg.cq)).await;
    let dues: Vec<String> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            a["steps"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["completed_at"].is_null())
                .unwrap()["due_at"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    let mut sorted = dues.clone();
    sorted.sort();
    assert_eq!(dues, sorted);
    let (_, q, _) = app.get("/api/v1/transfer-applications", Some(&reg.gz)).await;
    assert_eq!(q["items"].as_array().unwrap().len(), 0);
    let (s, b, h) = app
        .get("/api/v1/transfer-applications?side=up&overdue=maybe", Some(&reg.cq))
        .await;
    assert_eq!(assert_problem(s, &b, &h, 422).len(), 2);
}
both_backends!(queue_for_regulators, queue_for_regulators);

/// A province both sends and receives: its list without `side` reads the two sides apart and
/// merges them (db::applications::list). Every page, one case at a time, follows the list's
/// order — open cases by due instant, then the closed ones by id — and together they are the
/// province's cases, each once, whether filtered by status or not.
async fn a_provinces_list_merges_both_sides_in_order(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    reg.confirmed_entry(&app, "HW08", "100").await;
    // Sichuan's own producer sends to a Chongqing operator (the standard route: no entry).
    let cq_operator = crate::fixtures::create_operator(
        &app,
        &reg.cq,
        "重庆测试处置有限公司",
        "500000",
        "500112",
        3,
        crate::fixtures::licence_body(&["HW08", "HW49"], "1000000"),
    )
    .await;
    let (s, body, _) = app
        .post_json(
            "/api/v1/enterprises",
            Some(&reg.sc),
            &json!({"name": "四川测试化工有限公司", "uscc": crate::fixtures::uscc("510100", 4),
                "province": "510000", "division_code": "510100", "address": "成都市测试路4号",
                "contact_name": "李四", "contact_phone": "028-00000000"}),
        )
        .await;
    assert_eq!(s, 201, "{body}");
    app.add_user("sc-ent", "enterprise", body["id"].as_str()).await;
    let sc_ent = app.login("sc-ent").await;
    let mut received = Vec::new();
    let mut sent = Vec::new();
    for kg in ["1", "2", "3", "4", "5"] {
        let (s, a) = file(&app, &reg, &filing(&reg.operator_id, "900-249-08", kg)).await;
        assert_eq!(s, 201, "{a}");
        received.push(a["id"].as_str().unwrap().to_string());
        let (s, a, _) = app
            .file_confirmed(&sc_ent, &filing(&cq_operator, "900-249-08", kg))
            .await;
        assert_eq!(s, 201, "{a}");
        assert_eq!(a["route"], "standard");
        sent.push(a["id"].as_str().unwrap().to_string());
    }
    // Four closed cases on each side, more than a page of one reads ahead: no due instant, after
    // the open ones (a page past the open ones is read in the id's order alone).
    for (token, id) in [0, 2, 3, 4]
        .map(|i| (&reg.enterprise_token, &received[i]))
        .into_iter()
        .chain([0, 1, 3, 4].map(|i| (&sc_ent, &sent[i])))
    {
        let (s, b) = act(&app, token, id, "withdraw", json!({}), None).await;
        assert_eq!(s, 200, "{b}");
    }

    let due = |a: &Value| -> Option<String> {
        a["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["completed_at"].is_null())
            .map(|s| s["due_at"].as_str().unwrap().to_string())
    };
    for (query, want) in [
        ("", [&received[..], &sent[..]].concat()),
        ("&status=submitted", vec![received[1].clone(), sent[2].clone()]),
        (
            "&status=withdrawn",
            [0, 2, 3, 4]
                .map(|i| received[i].clone())
                .into_iter()
                .chain([0, 1, 3, 4].map(|i| sent[i].clone()))
                .collect(),
        ),
    ] {
        let one_by_one =
            crate::seed::all(&app, &reg.sc, &format!("/api/v1/transfer-applications?limit=1{query}")).await;
        let (s, whole, _) = app
            .get(&format!("/api/v1/transfer-applications?limit=50{query}"), Some(&reg.sc))
            .await;
        assert_eq!(s, 200, "{whole}");
        let whole = whole["items"].as_array().unwrap().clone();
        let ids = |items: &[Value]| {
            items
                .iter()
                .map(|a| a["id"].as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&one_by_one), ids(&whole), "{query}: pages of one against one page");
        let mut got = ids(&whole);
        got.sort();
        let mut want = want;
        want.sort();
        assert_eq!(got, want, "{query}: each of Sichuan's cases once");
        // The order: open cases by due instant (then id), then closed ones by id.
        let keys: Vec<(bool, Option<String>, String)> = whole
            .iter()
            .map(|a| {
                let d = due(a);
                (d.is_none(), d, a["id"].as_str().unwrap().to_string())
            })
            .collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted, "{query}: the list's order");
    }
    // A producer's own list pages the same way: its open case, then its closed ones by id.
    let one_by_one = crate::seed::all(&app, &sc_ent, "/api/v1/transfer-applications?limit=1").await;
    let got: Vec<&str> = one_by_one.iter().map(|a| a["id"].as_str().unwrap()).collect();
    let mut closed = [0, 1, 3, 4].map(|i| sent[i].as_str()).to_vec();
    closed.sort();
    assert_eq!(got, [&[sent[2].as_str()][..], &closed[..]].concat());
}
both_backends!(
    a_provinces_list_merges_both_sides_in_order,
    a_provinces_list_merges_both_sides_in_order
);

/// A clock that runs into a year without a holiday notice is provisional; importing the year
/// recomputes it.
async fn provisional_deadlines_are_recomputed_on_import(backend: Backend) {
    use hwtransfer::db::applications::FileOutcome;
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    app.add_user("cal-admin", "admin", None).await;
    let admin = app.login("cal-admin").await;
    let then = chrono::DateTime::parse_from_rfc3339("2026-12-28T10:00:00+08:00")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let item = stored_item("900-041-49", "废弃包装物", "固态", "T/In", "吨袋", "2");
    let f = stored_filing(&reg, ymd(2027, 1, 10), ymd(2027, 6, 30), item);
    let close = app.state.config.office_close;
    let id = app
        .state
        .db
        .run(move |conn| {
            let cal = hwtransfer::db::calendar::load(conn)?;
            let (outcome, _) = hwtransfer::db::applications::file(conn, &cal, close, &f, then, |_| true)?;
            let FileOutcome::Filed(a, _) = outcome else {
                panic!("not filed")
            };
            Ok(a.id)
        })
        .await
        .unwrap();
    let (_, a, _) = app
        .get(&format!("/api/v1/transfer-applications/{id}"), Some(&reg.cq))
        .await;
    // Dec 29, 30, 31, then 2027 by the law alone: Fri Jan 1 is 元旦, so Mon Jan 4, Tue Jan 5.
    assert_eq!(a["steps"][0]["due_on"], "2027-01-05");
    assert_eq!(a["steps"][0]["provisional"], true);
    // A synthetic notice made for the test (not State Council data) that also closes Jan 4.
    let year_2027 = json!({"source": "test notice", "days": [
        {"date": "2027-01-01", "kind": "holiday", "name_zh": "元旦", "name_en": "New Year's Day"},
        {"date": "2027-01-04", "kind": "holiday", "name_zh": "测试假日", "name_en": "Test holiday"}
    ]});
    let (s, body, _) = app
        .send_json(reqwest::Method::PUT, "/api/v1/calendar/2027", Some(&admin), &year_2027)
        .await;
    assert_eq!(s, 200, "{body}");
    let (_, a, _) = app
        .get(&format!("/api/v1/transfer-applications/{id}"), Some(&reg.cq))
        .await;
    assert_eq!(a["steps"][0]["due_on"], "2027-01-06", "the notice's Jan 4 is counted");
    assert_eq!(a["steps"][0]["provisional"], false);
    assert_eq!(a["steps"][0]["due_at"], "2027-01-06T09:30:00+00:00");
}
both_backends!(
    provisional_deadlines_are_recomputed_on_import,
    provisional_deadlines_are_recomputed_on_import
);

async fn attachments_with_type_and_size_limits(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.max_attachment_bytes = 4096).await;
    let reg = Registry::setup(&app).await;
    let (_, a) = file_confirmed(&app, &reg, &filing(&reg.operator_id, "900-041-49", "3")).await;
    let id = a["id"].as_str().unwrap().to_string();
    let url = |q: &str| app.url(&format!("/api/v1/transfer-applications/{id}/attachments{q}"));
    let pdf = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n".to_vec();
    let upload = |token: &str, ct: &str, q: &str, body: Vec<u8>| {
        app.client
            .post(url(q))
            .bearer_auth(token.to_string())
            .header("content-type", ct.to_string())
            .body(body)
            .send()
    };
    let r = upload(
        &reg.enterprise_token,
        "application/pdf",
        "?kind=contract&filename=%E5%90%88%E5%90%8C.pdf",
        pdf.clone(),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    let att: Value = r.json().await.unwrap();
    assert_eq!(att["filename"], "合同.pdf");
    assert_eq!(att["size_bytes"], pdf.len());
    // A PNG declared as PDF, an executable, an oversize file, a regulator, a bad kind.
    let png = vec![0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0, 0];
    assert_eq!(
        upload(
            &reg.enterprise_token,
            "application/pdf",
            "?kind=other&filename=a.pdf",
            png.clone()
        )
        .await
        .unwrap()
        .status(),
        415
    );
    assert_eq!(
        upload(
            &reg.enterprise_token,
            "application/x-msdownload",
            "?kind=other&filename=a.exe",
            b"MZ".to_vec()
        )
        .await
        .unwrap()
        .status(),
        415
    );
    let mut big = pdf.clone();
    big.resize(5000, b' ');
    assert_eq!(
        upload(
            &reg.enterprise_token,
            "application/pdf",
            "?kind=other&filename=big.pdf",
            big
        )
        .await
        .unwrap()
        .status(),
        413
    );
    assert_eq!(
        upload(&reg.cq, "image/png", "?kind=other&filename=a.png", png.clone())
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        upload(
            &reg.enterprise_token,
            "image/png",
            "?kind=selfie&filename=a.png",
            png.clone()
        )
        .await
        .unwrap()
        .status(),
        422
    );
    assert_eq!(
        upload(
            &reg.enterprise_token,
            "image/png",
            "?kind=other&filename=../../etc/passwd",
            png.clone()
        )
        .await
        .unwrap()
        .status(),
        422
    );
    let r = upload(
        &reg.enterprise_token,
        "image/png",
        "?kind=licence_copy&filename=licence.png",
        png.clone(),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    // Listed and downloadable by every party of the case, byte for byte; hidden from others.
    let (s, list, _) = app
        .get(
            &format!("/api/v1/transfer-applications/{id}/attachments"),
            Some(&reg.sc),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(list.as_array().unwrap().len(), 2);
    let att_id = att["id"].as_str().unwrap();
    let r = app
        .client
        .get(url(&format!("/{att_id}")))
        .bearer_auth(&reg.operator_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers().get("content-type").unwrap(), "application/pdf");
    assert_eq!(r.bytes().await.unwrap().to_vec(), pdf);
    assert_eq!(
        app.client
            .get(url(&format!("/{att_id}")))
            .bearer_auth(&reg.gz)
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let (_, events, _) = app
        .get(&format!("/api/v1/transfer-applications/{id}/events"), Some(&reg.cq))
        .await;
    assert_eq!(
        events
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["kind"] == "attachment_added")
            .count(),
        2
    );
    // Not after a decision.
    act(&app, &reg.enterprise_token, &id, "withdraw", json!({}), None).await;
    assert_eq!(
        upload(
            &reg.enterprise_token,
            "application/pdf",
            "?kind=other&filename=late.pdf",
            pdf
        )
        .await
        .unwrap()
        .status(),
        409
    );
}
both_backends!(
    attachments_with_type_and_size_limits,
    attachments_with_type_and_size_limits
);

/// A synthetic notice for `year` (元旦 only), made for the test: it is no State Council data.
fn test_notice(year: i32) -> Value {
    json!({
        "source": "test fixture, not a notice",
        "days": [{"date": format!("{year}-01-01"), "kind": "holiday", "name_zh": "元旦"}]
    })
}

/// Nothing irreversible happens on a provisional deadline: a case whose acceptance deadline rests
/// on a year without the notice is neither deemed accepted nor escalated when it passes; it is
/// shown as awaiting the notice. Once the year arrives (here through the API), the deadline is
/// recomputed, firm, and the next sweep acts on it.
async fn sweep_waits_for_the_notice(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    // This year's and next year's notices are taken away: every deadline from today is provisional.
    let y = this_year();
    crate::fixtures::forget_notices_from(&app, y).await;
    let (s, a) = file_confirmed(&app, &reg, &filing(&reg.operator_id, "900-041-49", "3")).await;
    assert_eq!(s, 201, "{a}");
    let id = a["id"].as_str().unwrap().to_string();
    assert_eq!(a["steps"][0]["kind"], "acceptance");
    assert_eq!(a["steps"][0]["provisional"], true, "{a}");

    let later = chrono::Utc::now() + chrono::Duration::days(30);
    let close = app.state.config.office_close;
    let sweep = || async {
        app.state
            .db
            .run(move |c| hwtransfer::jobs::sweep_once_with(c, close, later))
            .await
            .unwrap()
    };
    let report = sweep().await;
    assert!(report.applications.deemed_accepted.is_empty(), "{report:?}");
    assert!(report.applications.overdue_marked.is_empty(), "{report:?}");
    assert_eq!(report.applications.waiting_for_notice, vec![id.clone()]);
    let (_, a, _) = app
        .get(&format!("/api/v1/transfer-applications/{id}"), Some(&reg.cq))
        .await;
    assert_eq!(a["status"], "submitted", "{a}");
    assert_eq!(a["deemed_accepted"], false);
    let (_, events, _) = app
        .get(&format!("/api/v1/transfer-applications/{id}/events"), Some(&reg.cq))
        .await;
    assert_eq!(events.as_array().unwrap().len(), 1, "only filed: {events}");

    // The notices arrive; the open deadline is recomputed, firm, and the sweep acts.
    for year in [y, y + 1] {
        let (s, b, _) = app
            .send_json(
                reqwest::Method::PUT,
                &format!("/api/v1/calendar/{year}"),
                Some(&reg.admin),
                &test_notice(year),
            )
            .await;
        assert_eq!(s, 200, "{b}");
    }
    let (_, a, _) = app
        .get(&format!("/api/v1/transfer-applications/{id}"), Some(&reg.cq))
        .await;
    assert_eq!(a["steps"][0]["provisional"], false, "{a}");
    let report = sweep().await;
    assert_eq!(report.applications.deemed_accepted, vec![id.clone()]);
    assert!(report.applications.waiting_for_notice.is_empty());
}
both_backends!(sweep_waits_for_the_notice, sweep_waits_for_the_notice);

/// Rows of a table in the test's database (the stored state, read past the API).
async fn stored_applications(app: &TestApp) -> (i64, i64) {
    use diesel::prelude::*;
    use hwtransfer::db::schema::{application_events, transfer_applications};
    app.state
        .db
        .run(|c| {
            Ok((
                transfer_applications::table.count().get_result::<i64>(c)?,
                application_events::table.count().get_result::<i64>(c)?,
            ))
        })
        .await
        .unwrap()
}

fn codes(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap().to_string())
        .collect()
}

/// Confirm-to-proceed: a filing that would take the standard route is answered 422 with every
/// reason and a token, nothing stored; the same body with the token is filed; a token for another
/// body or for reasons that changed since is refused with a fresh one; the check shows the same.
async fn standard_route_needs_confirmation(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    let path = "/api/v1/transfer-applications";
    let body = filing(&reg.operator_id, "900-041-49", "10");

    // The dry run says it, with the token.
    let (s, check, _) = app
        .post_json(
            "/api/v1/transfer-applications/check",
            Some(&reg.enterprise_token),
            &body,
        )
        .await;
    assert_eq!(s, 200, "{check}");
    assert_eq!(check["route"], "standard");
    let token = check["confirmation_token"].as_str().unwrap().to_string();
    assert_eq!(token.len(), 43, "{check}");
    assert_eq!(
        check["confirmation_required"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["code"].as_str().unwrap(), e["pointer"].as_str().unwrap()))
            .collect::<Vec<_>>(),
        vec![("filing.standard_route", ""), ("route.no_entry", "/items/0/waste_code")]
    );

    // Filed without a confirmation: 422 with every reason and the same token; nothing stored.
    let (s, p, h) = app.post_json(path, Some(&reg.enterprise_token), &body).await;
    assert_eq!(
        assert_problem(s, &p, &h, 422),
        vec!["filing.standard_route", "route.no_entry"]
    );
    assert_eq!(p["type"], "/problems/confirmation-required");
    assert_eq!(
        p["confirmation_token"],
        token.as_str(),
        "the check's token is the filing's"
    );
    assert!(
        p["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("X-Confirm-Warnings"),
        "{p}"
    );
    assert!(
        p["errors"][1]["message"]
            .as_str()
            .unwrap()
            .contains("no whitelist entry"),
        "{p}"
    );
    assert_eq!(stored_applications(&app).await, (0, 0));

    // A well-formed token of something else: refused, told why, with the right token.
    let forged = "A".repeat(43);
    let (s, p, _) = app
        .post_json_with(
            path,
            Some(&reg.enterprise_token),
            &[("x-confirm-warnings", &forged)],
            &body,
        )
        .await;
    assert_eq!(s, 422, "{p}");
    assert_eq!(
        codes(&p),
        vec!["filing.standard_route", "route.no_entry", "filing.confirmation_stale"]
    );
    assert_eq!(p["errors"][2]["in"], "header");
    assert_eq!(p["errors"][2]["pointer"], "/X-Confirm-Warnings");
    assert_eq!(p["confirmation_token"], token.as_str());
    // Not a token at all: a problem of the header, whatever the route.
    let (s, p, _) = app
        .post_json_with(
            path,
            Some(&reg.enterprise_token),
            &[("x-confirm-warnings", "yes")],
            &body,
        )
        .await;
    assert_eq!(s, 422, "{p}");
    assert_eq!(codes(&p), vec!["filing.confirmation_format"]);
    // The token confirms this body only: another quantity needs its own confirmation.
    let other = filing(&reg.operator_id, "900-041-49", "11");
    let (s, p, _) = app
        .post_json_with(
            path,
            Some(&reg.enterprise_token),
            &[("x-confirm-warnings", &token)],
            &other,
        )
        .await;
    assert_eq!(s, 422, "{p}");
    assert_eq!(codes(&p).last().unwrap(), "filing.confirmation_stale");
    assert_ne!(p["confirmation_token"], token.as_str());
    assert_eq!(stored_applications(&app).await, (0, 0));

    // Confirmed: filed on the standard route with the reason kept; a retry with its key replays.
    let confirmed = [("x-confirm-warnings", token.as_str()), ("idempotency-key", "confirm-1")];
    let (s, a, _) = app
        .post_json_with(path, Some(&reg.enterprise_token), &confirmed, &body)
        .await;
    assert_eq!(s, 201, "{a}");
    assert_eq!(a["route"], "standard");
    assert!(
        a["route_reasons"][0].as_str().unwrap().contains("no whitelist entry"),
        "{a}"
    );
    let (s, again, h) = app
        .post_json_with(
            path,
            Some(&reg.enterprise_token),
            &[("idempotency-key", "confirm-1")],
            &body,
        )
        .await;
    assert_eq!(
        (s, h["idempotent-replayed"].to_str().unwrap()),
        (201, "true"),
        "{again}"
    );
    assert_eq!(again["id"], a["id"]);
    assert_eq!(stored_applications(&app).await, (1, 1));

    // Reasons that change invalidate a confirmation: over quota with 10 kg left, then 5 kg left.
    let entry = reg.confirmed_entry(&app, "HW08", "50").await;
    let (s, a) = file(&app, &reg, &filing(&reg.operator_id, "900-249-08", "40")).await;
    assert_eq!((s, a["route"].as_str()), (201, Some("whitelist")), "{a}");
    let big = filing(&reg.operator_id, "900-249-08", "20");
    let (s, p, _) = app.post_json(path, Some(&reg.enterprise_token), &big).await;
    assert_eq!(s, 422, "{p}");
    assert_eq!(codes(&p), vec!["filing.standard_route", "route.over_quota"]);
    assert_eq!(p["errors"][1]["pointer"], "/items/0/quantity_kg");
    assert!(
        p["errors"][1]["message"].as_str().unwrap().contains("10.000 kg left"),
        "{p}"
    );
    let first = p["confirmation_token"].as_str().unwrap().to_string();
    let (s, a) = file(&app, &reg, &filing(&reg.operator_id, "900-249-08", "5")).await;
    assert_eq!((s, a["route"].as_str()), (201, Some("whitelist")), "{a}");
    let (s, p, _) = app
        .post_json_with(
            path,
            Some(&reg.enterprise_token),
            &[("x-confirm-warnings", &first)],
            &big,
        )
        .await;
    assert_eq!(s, 422, "{p}");
    assert_eq!(
        codes(&p),
        vec!["filing.standard_route", "route.over_quota", "filing.confirmation_stale"]
    );
    assert!(
        p["errors"][1]["message"].as_str().unwrap().contains("5.000 kg left"),
        "{p}"
    );
    let second = p["confirmation_token"].as_str().unwrap().to_string();
    assert_ne!(first, second);
    assert_eq!(stored_applications(&app).await.0, 3);
    let (s, a, _) = app
        .post_json_with(
            path,
            Some(&reg.enterprise_token),
            &[("x-confirm-warnings", &second)],
            &big,
        )
        .await;
    assert_eq!((s, a["route"].as_str()), (201, Some("standard")), "{a}");
    assert_eq!(
        a["items"][0]["entry_id"],
        Value::Null,
        "the standard route draws on no entry"
    );
    assert_eq!(stored_applications(&app).await.0, 4);
    // The standard route reserved nothing.
    assert_eq!(usage(&app, &reg, &entry).await["reserved_kg"], "45.000");

    // A confirmation is ignored when the filing takes the whitelist route after all.
    let (s, a, _) = app
        .post_json_with(
            path,
            Some(&reg.enterprise_token),
            &[("x-confirm-warnings", &second)],
            &filing(&reg.operator_id, "900-249-08", "5"),
        )
        .await;
    assert_eq!((s, a["route"].as_str()), (201, Some("whitelist")), "{a}");
    assert_eq!(usage(&app, &reg, &entry).await["reserved_kg"], "50.000");

    // A suspended entry is a reason too.
    let (_, e, _) = app
        .get(&format!("/api/v1/whitelist-entries/{entry}"), Some(&reg.sc))
        .await;
    let (s, e, _) = app
        .post_json_with(
            &format!("/api/v1/whitelist-entries/{entry}/suspend"),
            Some(&reg.sc),
            &[("if-match", &format!("\"v{}\"", e["version"]))],
            &json!({"reason": "接受单位焚烧线停产检修"}),
        )
        .await;
    assert_eq!(s, 200, "{e}");
    let (s, p, _) = app
        .post_json(
            path,
            Some(&reg.enterprise_token),
            &filing(&reg.operator_id, "900-249-08", "1"),
        )
        .await;
    assert_eq!(s, 422, "{p}");
    assert_eq!(codes(&p), vec!["filing.standard_route", "route.entry_suspended"]);
    assert_eq!(stored_applications(&app).await.0, 5);
}
both_backends!(standard_route_needs_confirmation, standard_route_needs_confirmation);

/// A queue page builds its case views together (one query per kind for the whole page, each
/// operator's licence once); every item must be exactly the case as read alone, whatever its
/// state: approved with copies and decisions, accepted with a clock stopped, just filed, and
/// blocked because the operator's licence was suspended.
async fn queue_page_shows_each_case_as_read_alone(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    reg.confirmed_entry(&app, "HW08", "100").await;
    let approved = crate::fixtures::approved_application(&app, &reg, "2").await;
    let (accepted, _) = crate::fixtures::accepted_case(&app, &reg, "3").await;
    let (_, a) = file_confirmed(&app, &reg, &filing(&reg.operator_id, "900-041-49", "4")).await;
    let paused = a["id"].as_str().unwrap().to_string();
    act(&app, &reg.cq, &paused, "accept", json!({}), None).await;
    let (s, p) = act(
        &app,
        &reg.cq,
        &paused,
        "suspend-clock",
        json!({"reason": "专家评审"}),
        None,
    )
    .await;
    assert_eq!(s, 200, "{p}");
    let (s, b) = file(&app, &reg, &filing(&reg.operator_id, "900-249-08", "1")).await;
    assert_eq!(s, 201, "{b}");
    let submitted = b["id"].as_str().unwrap().to_string();
    // Sichuan suspends the operator's licence: no open case may be approved now.
    let (s, body, _) = app
        .post_json(
            &format!("/api/v1/operators/{}/licence/suspend", reg.operator_id),
            Some(&reg.sc),
            &json!({"reason": "超范围经营，责令停业整顿"}),
        )
        .await;
    assert_eq!(s, 200, "{body}");

    let (s, page, _) = app.get("/api/v1/transfer-applications?limit=50", Some(&reg.cq)).await;
    assert_eq!(s, 200, "{page}");
    let items = page["items"].as_array().unwrap();
    let mut ids: Vec<&str> = items.iter().map(|i| i["id"].as_str().unwrap()).collect();
    ids.sort();
    let mut want = vec![
        approved.as_str(),
        accepted.as_str(),
        paused.as_str(),
        submitted.as_str(),
    ];
    want.sort();
    assert_eq!(ids, want);
    for item in items {
        let id = item["id"].as_str().unwrap();
        let (s, alone, _) = app
            .get(&format!("/api/v1/transfer-applications/{id}"), Some(&reg.cq))
            .await;
        assert_eq!(s, 200, "{alone}");
        assert_eq!(item, &alone, "case {id}: the queue's view against the case read alone");
    }
    // The page held each kind of part, so the comparison above covered them.
    let by_id = |id: &str| items.iter().find(|i| i["id"] == id).unwrap();
    assert!(!by_id(&approved)["approval"]["copies"].as_array().unwrap().is_empty());
    assert_eq!(by_id(&approved)["decisions"].as_array().unwrap().len(), 2);
    assert!(
        by_id(&approved)["approval_blocked"].is_null(),
        "a decided case is not blocked"
    );
    let steps = by_id(&paused)["steps"].as_array().unwrap();
    assert!(steps.iter().any(|s| s["suspended"] == true), "{steps:?}");
    for open in [&accepted, &paused, &submitted] {
        assert_eq!(by_id(open)["approval_blocked"]["code"], "approval.licence_not_valid");
        assert!(!by_id(open)["items"].as_array().unwrap().is_empty());
    }
}
both_backends!(
    queue_page_shows_each_case_as_read_alone,
    queue_page_shows_each_case_as_read_alone
);

/// A filing's answer is built from what the filing stored (its items and acceptance step are
/// not read back): it must be the case exactly as a read of it afterwards shows it, with the
/// same ETag, on both routes.
async fn a_filings_answer_is_the_case_as_read(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    reg.confirmed_entry(&app, "HW08", "100").await;
    let path = "/api/v1/transfer-applications";
    for (body, route) in [
        (filing(&reg.operator_id, "900-249-08", "12.5"), "whitelist"),
        (filing(&reg.operator_id, "900-041-49", "3"), "standard"),
    ] {
        let (s, filed, headers) = app.file_confirmed(&reg.enterprise_token, &body).await;
        assert_eq!(s, 201, "{filed}");
        assert_eq!(filed["route"], route);
        assert_eq!(filed["steps"].as_array().unwrap().len(), 1, "{filed}");
        let id = filed["id"].as_str().unwrap();
        let (s, read, read_headers) = app.get(&format!("{path}/{id}"), Some(&reg.enterprise_token)).await;
        assert_eq!(s, 200, "{read}");
        assert_eq!(filed, read, "the answer to the filing is the case as read");
        assert_eq!(headers.get("etag"), read_headers.get("etag"));
        assert!(headers.get("etag").is_some());
    }
}
both_backends!(
    a_filings_answer_is_the_case_as_read,
    a_filings_answer_is_the_case_as_read
);
