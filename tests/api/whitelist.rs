//! The whitelist registry: agreements, the entry lifecycle and its permission matrix,
//! licence-fit rules, versions and `as_of`, usage arithmetic in grams, and the quota guard
//! under concurrency.

use chrono::Datelike;
use serde_json::json;

use crate::both_backends;
use crate::fixtures::{Registry, create_operator, licence_body};
use crate::support::{Backend, TestApp, assert_problem};

async fn entry_lifecycle_and_permissions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;

    // Enterprises and operators cannot write.
    for token in [&reg.enterprise_token, &reg.operator_token] {
        let (status, body) = reg.propose(&app, token, "900-249-08", "1000").await;
        assert_eq!(status, 403, "{body}");
    }
    // A Guizhou regulator cannot propose a Chongqing–Sichuan entry.
    let (status, body) = reg.propose(&app, &reg.gz, "900-249-08", "1000").await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["code"] == "entry.not_your_province"),
        "{body}"
    );

    // Sichuan (receiving side) proposes.
    let (status, body) = reg.propose(&app, &reg.sc, "900-249-08", "1000.5").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["status"], "proposed");
    assert_eq!(body["quota_kg"], "1000.500");
    assert_eq!(body["receiving_province"], "510000");
    assert_eq!(body["proposed_by_province"], "510000");
    let id = body["id"].as_str().unwrap().to_string();
    let path = |action: &str| format!("/api/v1/whitelist-entries/{id}/{action}");

    // The same entry again is a duplicate.
    let (status, _) = reg.propose(&app, &reg.cq, "900-249-08", "5").await;
    assert_eq!(status, 409);

    // Sichuan cannot confirm what it proposed itself; Guizhou cannot even see it.
    let (status, body, headers) = app.post_json(&path("confirm"), Some(&reg.sc), &json!({})).await;
    assert_problem(status, &body, &headers, 403);
    let (status, body, headers) = app.post_json(&path("confirm"), Some(&reg.gz), &json!({})).await;
    assert_problem(status, &body, &headers, 404);
    let (status, _, _) = app.get(&format!("/api/v1/whitelist-entries/{id}"), Some(&reg.gz)).await;
    assert_eq!(status, 404);
    // Enterprise (Chongqing producer) sees its province's list but may not act.
    let (status, _, _) = app
        .get(&format!("/api/v1/whitelist-entries/{id}"), Some(&reg.enterprise_token))
        .await;
    assert_eq!(status, 200);
    let (status, body, headers) = app
        .post_json(&path("confirm"), Some(&reg.enterprise_token), &json!({}))
        .await;
    assert_problem(status, &body, &headers, 403);
    // Suspending a proposed entry is not a lifecycle step.
    let (status, body, headers) = app
        .post_json(&path("suspend"), Some(&reg.cq), &json!({"reason": "x"}))
        .await;
    assert_problem(status, &body, &headers, 409);

    // Chongqing confirms, with a stale If-Match first.
    let res = app
        .client
        .post(app.url(&path("confirm")))
        .bearer_auth(&reg.cq)
        .header("if-match", "\"v7\"")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 412);
    let res = app
        .client
        .post(app.url(&path("confirm")))
        .bearer_auth(&reg.cq)
        .header("if-match", "\"v1\"")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers().get("etag").unwrap(), "\"v2\"");
    let body: serde_json::Value = res.json().await.unwrap();
    assert_eq!(body["status"], "confirmed");
    assert_eq!(body["version"], 2);
    // Confirming twice is a conflict.
    let (status, _, _) = app.post_json(&path("confirm"), Some(&reg.cq), &json!({})).await;
    assert_eq!(status, 409);

    // Suspend needs a reason; either province may suspend and reinstate.
    let (status, body, headers) = app.post_json(&path("suspend"), Some(&reg.sc), &json!({})).await;
    let codes = assert_problem(status, &body, &headers, 422);
    assert_eq!(codes, vec!["body.required"]);
    let (status, body, _) = app
        .post_json(&path("suspend"), Some(&reg.sc), &json!({"reason": "超量接收"}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "suspended");
    assert_eq!(body["status_reason"], "超量接收");
    let (status, body, _) = app
        .post_json(&path("reinstate"), Some(&reg.cq), &json!({"reason": "整改完成"}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "confirmed");
    assert_eq!(body["version"], 4);
    // Operators can read their own entries but not act.
    let (status, _, _) = app
        .get(&format!("/api/v1/whitelist-entries/{id}"), Some(&reg.operator_token))
        .await;
    assert_eq!(status, 200);
    let (status, _, _) = app
        .post_json(&path("suspend"), Some(&reg.operator_token), &json!({"reason": "x"}))
        .await;
    assert_eq!(status, 403);

    // The versions tell the story.
    let (status, versions, _) = app
        .get(&format!("/api/v1/whitelist-entries/{id}/versions"), Some(&reg.cq))
        .await;
    assert_eq!(status, 200);
    let changes: Vec<&str> = versions
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["change"].as_str().unwrap())
        .collect();
    assert_eq!(changes, vec!["proposed", "confirm", "suspend", "reinstate"]);
    assert_eq!(versions[2]["reason"], "超量接收");
    assert_eq!(versions[2]["entry"]["status"], "suspended");
}
both_backends!(entry_lifecycle_and_permissions, entry_lifecycle_and_permissions);

async fn licence_fit_rules(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    // Every reason at once: category not licensed, quota over capacity.
    let (status, body) = reg.propose(&app, &reg.cq, "252-001-11", "2000000").await;
    assert_eq!(status, 422, "{body}");
    let mut codes: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect();
    codes.sort();
    assert_eq!(codes, vec!["entry.not_licensed", "entry.over_capacity"]);
    // A whole category needs the whole category licensed: HW18 only has one code on the licence.
    let (status, body) = reg.propose(&app, &reg.cq, "HW18", "10").await;
    assert_eq!(status, 422);
    assert_eq!(body["errors"][0]["code"], "entry.not_licensed");
    // That single code is fine, and so is the whole licensed category.
    assert_eq!(reg.propose(&app, &reg.cq, "772-003-18", "10").await.0, 201);
    assert_eq!(reg.propose(&app, &reg.cq, "HW49", "10").await.0, 201);
    // A code that is not in the catalogue.
    let (status, body) = reg.propose(&app, &reg.cq, "900-999-08", "10").await;
    assert_eq!(status, 422);
    assert_eq!(body["errors"][0]["code"], "entry.unknown_code");
    // No agreement between Chongqing and Yunnan.
    let yn_op = create_operator(
        &app,
        &reg.yn,
        "云南测试处置",
        "530000",
        "530100",
        9,
        licence_body(&["HW08"], "500"),
    )
    .await;
    let (status, body, _) = app
        .post_json(
            "/api/v1/whitelist-entries",
            Some(&reg.cq),
            &json!({"year": reg.year, "operator_id": yn_op, "source_province": "500000", "scope": "HW08", "quota_kg": "1"}),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(body["errors"][0]["code"], "entry.no_agreement");
    // A licence expiring before the year: renew with an old validity and propose for next year.
    let (status, body, _) = app
        .post_json(
            &format!("/api/v1/operators/{}/licences", reg.operator_id),
            Some(&reg.sc),
            &json!({
                "licence_number": "川环危第510100001号",
                "modes": ["处置"],
                "categories": ["HW08"],
                "annual_capacity_kg": "100",
                "valid_from": "2025-01-01",
                "valid_until": format!("{}-06-30", reg.year),
                "issuing_authority": "四川省生态环境厅"
            }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["version"], 2);
    let (status, body, _) = app
        .post_json(
            "/api/v1/whitelist-entries",
            Some(&reg.cq),
            &json!({"year": reg.year + 1, "operator_id": reg.operator_id, "source_province": "500000", "scope": "HW08", "quota_kg": "150"}),
        )
        .await;
    assert_eq!(status, 422);
    let mut codes: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect();
    codes.sort();
    assert_eq!(codes, vec!["entry.licence_not_in_force", "entry.over_capacity"]);
    // Licence history keeps both versions.
    let (_, history, _) = app
        .get(
            &format!("/api/v1/operators/{}/licences", reg.operator_id),
            Some(&reg.cq),
        )
        .await;
    assert_eq!(history.as_array().unwrap().len(), 2);
    // Bad bodies list every problem.
    let (status, body, headers) = app
        .post_json(
            "/api/v1/whitelist-entries",
            Some(&reg.cq),
            &json!({"year": "2026", "operator_id": 5, "source_province": "990000", "scope": "HW41", "quota_kg": "1.0001", "colour": "red"}),
        )
        .await;
    let codes = assert_problem(status, &body, &headers, 422);
    assert_eq!(codes.len(), 6, "{body}");
    let (_, list, _) = app.get("/api/v1/whitelist-entries", Some(&reg.admin)).await;
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        2,
        "only the two good proposals were stored"
    );
}
both_backends!(licence_fit_rules, licence_fit_rules);

async fn as_of_returns_the_version_in_force(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    let (_, body) = reg.propose(&app, &reg.cq, "HW08", "500").await;
    let id = body["id"].as_str().unwrap().to_string();
    let t0 = chrono::Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    app.post_json(
        &format!("/api/v1/whitelist-entries/{id}/confirm"),
        Some(&reg.sc),
        &json!({}),
    )
    .await;
    let t1 = chrono::Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    app.post_json(
        &format!("/api/v1/whitelist-entries/{id}/suspend"),
        Some(&reg.sc),
        &json!({"reason": "检查"}),
    )
    .await;
    let enc = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339().replace('+', "%2B");
    let (status, v, _) = app
        .get(
            &format!("/api/v1/whitelist-entries/{id}?as_of={}", enc(t0)),
            Some(&reg.cq),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        (v["version"].as_i64(), v["status"].as_str()),
        (Some(1), Some("proposed"))
    );
    let (_, v, _) = app
        .get(
            &format!("/api/v1/whitelist-entries/{id}?as_of={}", enc(t1)),
            Some(&reg.cq),
        )
        .await;
    assert_eq!(
        (v["version"].as_i64(), v["status"].as_str()),
        (Some(2), Some("confirmed"))
    );
    let (_, v, _) = app.get(&format!("/api/v1/whitelist-entries/{id}"), Some(&reg.cq)).await;
    assert_eq!(v["status"], "suspended");
    // Before it existed: 404; a malformed instant: 422.
    let (status, _, _) = app
        .get(
            &format!("/api/v1/whitelist-entries/{id}?as_of=2000-01-01T00:00:00Z"),
            Some(&reg.cq),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _, _) = app
        .get(
            &format!("/api/v1/whitelist-entries/{id}?as_of=yesterday"),
            Some(&reg.cq),
        )
        .await;
    assert_eq!(status, 422);
}
both_backends!(as_of_returns_the_version_in_force, as_of_returns_the_version_in_force);

async fn usage_arithmetic_in_grams(backend: Backend) {
    use hwtransfer::db::whitelist::{Movement, movement_tx};
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    let id = reg.confirmed_entry(&app, "900-249-08", "10.000").await;
    let run = |m: Movement, g: i64| {
        let id = id.clone();
        app.state
            .db
            .run(move |c| movement_tx(c, &id, m, g, Some("app-1"), "test"))
    };
    assert!(run(Movement::Reserve, 3_333).await.unwrap());
    assert!(run(Movement::Reserve, 6_000).await.unwrap());
    // 3.333 + 6.000 + 0.668 > 10: refused, nothing changes.
    assert!(!run(Movement::Reserve, 668).await.unwrap());
    assert!(run(Movement::Reserve, 667).await.unwrap());
    assert!(!run(Movement::Reserve, 1).await.unwrap(), "exactly full");
    assert!(run(Movement::Commit, 3_333).await.unwrap());
    assert!(run(Movement::Release, 6_000).await.unwrap());
    assert!(
        !run(Movement::Release, 6_000).await.unwrap(),
        "cannot release what is not reserved"
    );
    assert!(run(Movement::Ship, 1_001).await.unwrap());
    assert!(run(Movement::Receive, 999).await.unwrap());
    let (status, u, _) = app
        .get(&format!("/api/v1/whitelist-entries/{id}/usage"), Some(&reg.cq))
        .await;
    assert_eq!(status, 200);
    assert_eq!(u["quota_kg"], "10.000");
    assert_eq!(u["reserved_kg"], "0.667");
    assert_eq!(u["approved_kg"], "3.333");
    assert_eq!(u["shipped_kg"], "1.001");
    assert_eq!(u["received_kg"], "0.999");
    assert_eq!(u["remaining_kg"], "6.000");
    let movements: Vec<(&str, &str)> = u["movements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["movement"].as_str().unwrap(), m["amount_kg"].as_str().unwrap()))
        .collect();
    assert_eq!(
        movements,
        vec![
            ("reserve", "3.333"),
            ("reserve", "6.000"),
            ("reserve", "0.667"),
            ("commit", "3.333"),
            ("release", "6.000"),
            ("ship", "1.001"),
            ("receive", "0.999")
        ]
    );
    // The operator sees its usage; a Guizhou regulator does not.
    assert_eq!(
        app.get(
            &format!("/api/v1/whitelist-entries/{id}/usage"),
            Some(&reg.operator_token)
        )
        .await
        .0,
        200
    );
    assert_eq!(
        app.get(&format!("/api/v1/whitelist-entries/{id}/usage"), Some(&reg.gz))
            .await
            .0,
        404
    );
}
both_backends!(usage_arithmetic_in_grams, usage_arithmetic_in_grams);

/// 48 threads race to reserve 1 kg each against 30 kg of quota: exactly 30 win, and the ledger
/// agrees with the entry.
async fn concurrent_reservations_never_exceed_quota(backend: Backend) {
    use hwtransfer::db::whitelist::{Movement, movement_tx};
    let app = TestApp::spawn_with(backend, |c| c.pool_size = 16).await;
    let reg = Registry::setup(&app).await;
    let id = reg.confirmed_entry(&app, "HW49", "30").await;
    let db = app.state.db.clone();
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(48));
    let handles: Vec<_> = (0..48)
        .map(|i| {
            let (db, id, barrier) = (db.clone(), id.clone(), barrier.clone());
            std::thread::spawn(move || {
                barrier.wait();
                // Fewer connections than threads: some wait for the pool, as under load.
                let mut conn = db.get().unwrap();
                movement_tx(
                    &mut conn,
                    &id,
                    Movement::Reserve,
                    1_000,
                    Some(&format!("app-{i}")),
                    "race",
                )
                .unwrap()
            })
        })
        .collect();
    let won = handles.into_iter().map(|h| h.join().unwrap()).filter(|w| *w).count();
    assert_eq!(won, 30);
    let (_, u, _) = app
        .get(&format!("/api/v1/whitelist-entries/{id}/usage"), Some(&reg.cq))
        .await;
    assert_eq!(u["reserved_kg"], "30.000");
    assert_eq!(u["remaining_kg"], "0.000");
    assert_eq!(u["movements"].as_array().unwrap().len(), 30);
}
both_backends!(
    concurrent_reservations_never_exceed_quota,
    concurrent_reservations_never_exceed_quota
);

async fn licence_suspension_suspends_entries(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    let a = reg.confirmed_entry(&app, "HW08", "100").await;
    let (_, proposed) = reg.propose(&app, &reg.cq, "HW49", "100").await;
    // Only Sichuan (the operator's province) may suspend the licence.
    let path = format!("/api/v1/operators/{}/licence/suspend", reg.operator_id);
    assert_eq!(
        app.post_json(&path, Some(&reg.cq), &json!({"reason": "x"})).await.0,
        403
    );
    let (status, body, _) = app
        .post_json(&path, Some(&reg.sc), &json!({"reason": "许可证暂扣"}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["licence"]["status"], "suspended");
    assert_eq!(body["suspended_entries"], json!([a]));
    let (_, e, _) = app.get(&format!("/api/v1/whitelist-entries/{a}"), Some(&reg.cq)).await;
    assert_eq!(e["status"], "suspended");
    assert!(e["status_reason"].as_str().unwrap().contains("许可证暂扣"));
    let (_, versions, _) = app
        .get(&format!("/api/v1/whitelist-entries/{a}/versions"), Some(&reg.cq))
        .await;
    assert_eq!(versions.as_array().unwrap().last().unwrap()["changed_by"], "system");
    // The proposed one is untouched; confirming it now fails the licence rule? It is still
    // a lifecycle step, but a suspended licence means no new whitelist business: eligible
    // operators list is empty.
    assert_eq!(proposed["status"], "proposed");
    let (_, eligible, _) = app
        .get(
            "/api/v1/whitelist-entries/eligible-operators?code=900-249-08",
            Some(&reg.enterprise_token),
        )
        .await;
    assert_eq!(eligible, json!([]));
}
both_backends!(licence_suspension_suspends_entries, licence_suspension_suspends_entries);

async fn queries_and_eligible_operators(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    let cat = reg.confirmed_entry(&app, "HW08", "100").await;
    let code = reg.confirmed_entry(&app, "900-249-08", "5").await;
    let (_, p) = reg.propose(&app, &reg.cq, "HW49", "7").await;
    let proposed = p["id"].as_str().unwrap().to_string();
    let ids = |v: &serde_json::Value| -> Vec<String> {
        let mut v: Vec<String> = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_string())
            .collect();
        v.sort();
        v
    };
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let (_, all, _) = app.get("/api/v1/whitelist-entries", Some(&reg.cq)).await;
    assert_eq!(ids(&all), sorted(vec![cat.clone(), code.clone(), proposed.clone()]));
    let (_, q, _) = app
        .get("/api/v1/whitelist-entries?code=900-249-08", Some(&reg.cq))
        .await;
    assert_eq!(ids(&q), sorted(vec![cat.clone(), code.clone()]));
    let (_, q, _) = app
        .get("/api/v1/whitelist-entries?status=proposed", Some(&reg.sc))
        .await;
    assert_eq!(ids(&q), vec![proposed.clone()]);
    let (_, q, _) = app
        .get("/api/v1/whitelist-entries?category=HW49", Some(&reg.admin))
        .await;
    assert_eq!(ids(&q), vec![proposed.clone()]);
    let (_, q, _) = app
        .get(
            &format!(
                "/api/v1/whitelist-entries?year={}&source_province=500000&operator={}",
                reg.year, reg.operator_id
            ),
            Some(&reg.cq),
        )
        .await;
    assert_eq!(q["items"].as_array().unwrap().len(), 3);
    let (_, q, _) = app
        .get(
            &format!("/api/v1/whitelist-entries?year={}", reg.year + 1),
            Some(&reg.cq),
        )
        .await;
    assert_eq!(q["items"].as_array().unwrap().len(), 0);
    // Keyset pagination.
    let (_, p1, _) = app.get("/api/v1/whitelist-entries?limit=2", Some(&reg.cq)).await;
    let cursor = p1["next_cursor"].as_str().unwrap();
    let (_, p2, _) = app
        .get(
            &format!("/api/v1/whitelist-entries?limit=2&cursor={cursor}"),
            Some(&reg.cq),
        )
        .await;
    assert_eq!(p2["items"].as_array().unwrap().len(), 1);
    assert!(p2["next_cursor"].is_null());
    // Guizhou sees none of it; the operator sees its own.
    let (_, q, _) = app.get("/api/v1/whitelist-entries", Some(&reg.gz)).await;
    assert_eq!(q["items"].as_array().unwrap().len(), 0);
    let (_, q, _) = app.get("/api/v1/whitelist-entries", Some(&reg.operator_token)).await;
    assert_eq!(q["items"].as_array().unwrap().len(), 3);
    // Which operators may take 900-249-08 from Chongqing: both confirmed entries, with the quota left.
    let (status, e, _) = app
        .get(
            "/api/v1/whitelist-entries/eligible-operators?code=900-249-08",
            Some(&reg.enterprise_token),
        )
        .await;
    assert_eq!(status, 200, "{e}");
    let mut got: Vec<(String, String)> = e
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["entry_id"].as_str().unwrap().to_string(),
                x["remaining_kg"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    got.sort();
    let mut want = vec![(cat, "100.000".to_string()), (code, "5.000".to_string())];
    want.sort();
    assert_eq!(got, want);
    let (_, e, _) = app
        .get(
            "/api/v1/whitelist-entries/eligible-operators?code=900-041-49",
            Some(&reg.enterprise_token),
        )
        .await;
    assert_eq!(e, json!([]), "HW49 is only proposed");
    let (status, _, _) = app
        .get(
            "/api/v1/whitelist-entries/eligible-operators",
            Some(&reg.enterprise_token),
        )
        .await;
    assert_eq!(status, 422);
}
both_backends!(queries_and_eligible_operators, queries_and_eligible_operators);

async fn agreements_need_both_provinces(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    let body = json!({"provinces": ["520000", "530000"], "valid_from": format!("{}-01-01", reg.year), "valid_until": format!("{}-12-31", reg.year), "receiving_consent": "inform", "cap_per_application_kg": "50000"});
    // Chongqing cannot propose a Guizhou–Yunnan agreement.
    assert_eq!(app.post_json("/api/v1/agreements", Some(&reg.cq), &body).await.0, 403);
    let (status, a, _) = app.post_json("/api/v1/agreements", Some(&reg.gz), &body).await;
    assert_eq!(status, 201, "{a}");
    assert_eq!(a["status"], "proposed");
    assert_eq!(a["cap_per_application_kg"], "50000.000");
    let id = a["id"].as_str().unwrap();
    // Not by the proposer, not by an outsider; by the other side.
    assert_eq!(
        app.post_json(&format!("/api/v1/agreements/{id}/confirm"), Some(&reg.gz), &json!({}))
            .await
            .0,
        403
    );
    assert_eq!(
        app.post_json(&format!("/api/v1/agreements/{id}/confirm"), Some(&reg.cq), &json!({}))
            .await
            .0,
        403
    );
    let (status, a, _) = app
        .post_json(&format!("/api/v1/agreements/{id}/confirm"), Some(&reg.yn), &json!({}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(a["status"], "confirmed");
    assert_eq!(
        app.post_json(&format!("/api/v1/agreements/{id}/confirm"), Some(&reg.yn), &json!({}))
            .await
            .0,
        409
    );
    let (status, body, headers) = app
        .post_json(
            "/api/v1/agreements",
            Some(&reg.gz),
            &json!({"provinces": ["520000"], "valid_from": "2026-13-01", "receiving_consent": "maybe"}),
        )
        .await;
    let codes = assert_problem(status, &body, &headers, 422);
    assert_eq!(codes.len(), 4, "{body}");
}
both_backends!(agreements_need_both_provinces, agreements_need_both_provinces);

async fn registry_permissions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    // A Chongqing regulator cannot register a Sichuan operator or enterprise.
    let (status, _, _) = app
        .post_json(
            "/api/v1/operators",
            Some(&reg.cq),
            &json!({"name": "x", "uscc": crate::fixtures::uscc("510100", 77), "province": "510000", "division_code": "510100", "address": "a", "licence": licence_body(&["HW08"], "1")}),
        )
        .await;
    assert_eq!(status, 403);
    // Enterprises: the producer sees itself only; other regulators see it; operators may not list.
    let (status, e, _) = app.get("/api/v1/enterprises", Some(&reg.enterprise_token)).await;
    assert_eq!(status, 200);
    assert_eq!(e["items"].as_array().unwrap().len(), 1);
    assert_eq!(app.get("/api/v1/enterprises", Some(&reg.operator_token)).await.0, 403);
    assert_eq!(
        app.get(&format!("/api/v1/enterprises/{}", reg.enterprise_id), Some(&reg.gz))
            .await
            .0,
        200
    );
    // Duplicate USCC.
    let (_, ent, _) = app
        .get(&format!("/api/v1/enterprises/{}", reg.enterprise_id), Some(&reg.cq))
        .await;
    let (status, _, _) = app
        .post_json(
            "/api/v1/enterprises",
            Some(&reg.cq),
            &json!({"name": "y", "uscc": ent["uscc"], "province": "500000", "division_code": "500112", "address": "a", "contact_name": "b", "contact_phone": "c"}),
        )
        .await;
    assert_eq!(status, 409);
    // Every problem at once: bad USCC check character, division outside the province, missing fields.
    let (status, body, headers) = app
        .post_json(
            "/api/v1/enterprises",
            Some(&reg.cq),
            &json!({"name": "", "uscc": "91500000MA5U8X1E6K", "province": "500000", "division_code": "510100"}),
        )
        .await;
    let codes = assert_problem(status, &body, &headers, 422);
    for c in ["uscc.check", "division.province_mismatch", "body.text", "body.required"] {
        assert!(codes.contains(&c.to_string()), "{c} missing: {body}");
    }
    // Operators are public: the producer can read the Sichuan operator and its licence.
    let (status, op, _) = app
        .get(
            &format!("/api/v1/operators/{}", reg.operator_id),
            Some(&reg.enterprise_token),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(op["licence"]["categories"], json!(["HW08", "HW49"]));
    assert_eq!(op["licence"]["modes"], json!(["collect", "store", "dispose"]));
    assert_eq!(op["licence"]["annual_capacity_kg"], "1000000.000");
}
both_backends!(registry_permissions, registry_permissions);

/// The sweeper suspends entries of operators whose licence has expired, as a system action,
/// once: running it again changes nothing.
async fn sweeper_suspends_entries_of_expired_licences(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    let today = hwtransfer::domain::calendar::shanghai_date(chrono::Utc::now());
    let yesterday = today - chrono::Duration::days(1);
    if yesterday.year() != today.year() {
        return; // 1 January: a licence that ended yesterday was not in force this year.
    }
    let other = create_operator(
        &app,
        &reg.sc,
        "到期测试处置",
        "510000",
        "510100",
        55,
        json!({
            "licence_number": "川危证到期",
            "modes": ["处置"],
            "categories": ["HW08"],
            "annual_capacity_kg": "1000",
            "valid_from": "2025-01-01",
            "valid_until": yesterday.to_string(),
            "issuing_authority": "四川省生态环境厅"
        }),
    )
    .await;
    let (status, body, _) = app
        .post_json(
            "/api/v1/whitelist-entries",
            Some(&reg.cq),
            &json!({"year": reg.year, "operator_id": other, "source_province": "500000", "scope": "HW08", "quota_kg": "10"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let expiring = body["id"].as_str().unwrap().to_string();
    app.post_json(
        &format!("/api/v1/whitelist-entries/{expiring}/confirm"),
        Some(&reg.sc),
        &json!({}),
    )
    .await;
    let healthy = reg.confirmed_entry(&app, "HW08", "10").await;

    let report = crate::fixtures::sweep_now(&app).await;
    assert!(report.ran);
    assert_eq!(report.entries_suspended, vec![expiring.clone()]);
    let again = crate::fixtures::sweep_now(&app).await;
    assert!(again.entries_suspended.is_empty(), "safe to run twice");
    let (_, e, _) = app
        .get(&format!("/api/v1/whitelist-entries/{expiring}"), Some(&reg.cq))
        .await;
    assert_eq!(e["status"], "suspended");
    assert_eq!(e["status_reason"], format!("licence expired on {yesterday}"));
    let (_, e, _) = app
        .get(&format!("/api/v1/whitelist-entries/{healthy}"), Some(&reg.cq))
        .await;
    assert_eq!(e["status"], "confirmed");
}
both_backends!(
    sweeper_suspends_entries_of_expired_licences,
    sweeper_suspends_entries_of_expired_licences
);
