//! Enforcement (固废法 第80条: no waste to an operator without a valid licence): a suspended
//! licence stops approvals on either route and new or departing shipments, a suspended entry
//! stops whitelist approvals (refuse, or move the case to the standard route), reinstatement
//! restores what suspension stopped, 撤销 revokes an approval, a licence counts by the version in
//! effect on the day, quotas stay within the licensed capacity in total, and a province-pair
//! agreement counts only on its dates and until its termination. Each on both backends.

use serde_json::{Value, json};

use crate::both_backends;
use crate::fixtures::{
    Registry, accepted_case, approved_application, create_operator, filing, licence_body, manifest, this_year, usage,
};
use crate::support::{Backend, TestApp, assert_problem};

async fn post(app: &TestApp, token: &str, path: &str, body: Value, if_match: Option<i64>) -> (u16, Value) {
    let mut req = app.client.post(app.url(path)).bearer_auth(token).json(&body);
    if let Some(v) = if_match {
        req = req.header("if-match", format!("\"{v}\""));
    }
    let (s, b, _) = crate::support::split(req.send().await.unwrap()).await;
    (s, b)
}

/// Suspends or reinstates a whitelist entry at its current version.
async fn entry_change(app: &TestApp, token: &str, entry: &str, change: &str, reason: &str) -> (u16, Value) {
    let (_, e, _) = app
        .get(&format!("/api/v1/whitelist-entries/{entry}"), Some(token))
        .await;
    let req = app
        .client
        .post(app.url(&format!("/api/v1/whitelist-entries/{entry}/{change}")))
        .bearer_auth(token)
        .header("if-match", format!("\"v{}\"", e["version"]))
        .json(&json!({"reason": reason}));
    let (s, b, _) = crate::support::split(req.send().await.unwrap()).await;
    (s, b)
}

async fn case(app: &TestApp, reg: &Registry, id: &str) -> Value {
    app.get(&format!("/api/v1/transfer-applications/{id}"), Some(&reg.cq))
        .await
        .1
}

async fn event_kinds(app: &TestApp, reg: &Registry, id: &str) -> Vec<String> {
    let (_, events, _) = app
        .get(&format!("/api/v1/transfer-applications/{id}/events"), Some(&reg.cq))
        .await;
    events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect()
}

fn approve(side: &str) -> Value {
    json!({"side": side, "outcome": "approve", "reasons": []})
}

async fn new_manifest(app: &TestApp, reg: &Registry, app_id: &str, kg: &str) -> (u16, Value) {
    post(
        app,
        &reg.enterprise_token,
        "/api/v1/manifests",
        manifest(app_id, &[(0, kg)]),
        None,
    )
    .await
}

async fn licence_suspension_stops_approvals_and_shipments(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    let entry = reg.confirmed_entry(&app, "HW08", "10000").await;
    let (pending, version) = accepted_case(&app, &reg, "1000").await;
    let approved = approved_application(&app, &reg, "2000").await;
    let (s, m) = new_manifest(&app, &reg, &approved, "300").await;
    assert_eq!(s, 201, "{m}");
    let on_the_road = m["id"].as_str().unwrap().to_string();
    let (s, d) = post(
        &app,
        &reg.enterprise_token,
        &format!("/api/v1/manifests/{on_the_road}/dispatch"),
        json!({}),
        None,
    )
    .await;
    assert_eq!(s, 200, "{d}");
    let (s, m) = new_manifest(&app, &reg, &approved, "200").await;
    assert_eq!(s, 201, "{m}");
    let not_yet_left = m["id"].as_str().unwrap().to_string();

    // Sichuan suspends the operator's licence: its confirmed entries are suspended with it.
    let (s, body) = post(
        &app,
        &reg.sc,
        &format!("/api/v1/operators/{}/licence/suspend", reg.operator_id),
        json!({"reason": "超范围经营，责令停业整顿"}),
        None,
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["licence"]["status"], "suspended");
    assert_eq!(body["suspended_entries"], json!([entry]));

    // No approval for the operator: the case says why before anyone clicks, and the decision
    // is refused with the rule's code, changing nothing.
    let a = case(&app, &reg, &pending).await;
    assert_eq!(a["approval_blocked"]["code"], "approval.licence_not_valid", "{a}");
    let (s, body) = post(
        &app,
        &reg.cq,
        &format!("/api/v1/transfer-applications/{pending}/decisions"),
        approve("source"),
        Some(version),
    )
    .await;
    assert_eq!(s, 409, "{body}");
    assert_eq!(body["code"], "approval.licence_not_valid");
    assert!(body["detail"].as_str().unwrap().contains("超范围经营"), "{body}");
    let a = case(&app, &reg, &pending).await;
    assert_eq!(a["status"], "under_review");
    assert_eq!(a["decisions"], json!([]));
    assert_eq!(a["version"].as_i64().unwrap(), version);
    assert_eq!(usage(&app, &reg, &entry).await["reserved_kg"], "1000.000");

    // No new manifest to it, no departure of one not yet on the road.
    let (s, body) = new_manifest(&app, &reg, &approved, "100").await;
    assert_eq!(s, 422, "{body}");
    assert_eq!(body["errors"][0]["code"], "manifest.operator_licence_not_valid");
    let (s, body) = post(
        &app,
        &reg.enterprise_token,
        &format!("/api/v1/manifests/{not_yet_left}/dispatch"),
        json!({}),
        None,
    )
    .await;
    assert_eq!(s, 409, "{body}");
    assert_eq!(body["code"], "manifest.operator_licence_not_valid");
    let (_, m, _) = app
        .get(
            &format!("/api/v1/manifests/{not_yet_left}"),
            Some(&reg.enterprise_token),
        )
        .await;
    assert_eq!(m["status"], "created");
    assert_eq!(case(&app, &reg, &approved).await["items"][0]["shipped_kg"], "500.000");

    // The load on the road may still be received.
    let (s, body) = post(
        &app,
        &reg.operator_token,
        &format!("/api/v1/manifests/{on_the_road}/receipt"),
        json!({"outcome": "received", "items": [{"line": 0, "accepted_kg": "300"}]}),
        None,
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["status"], "received");

    // Reinstatement restores what the suspension stopped: the entry, the approval, the trip.
    let (s, body) = post(
        &app,
        &reg.sc,
        &format!("/api/v1/operators/{}/licence/reinstate", reg.operator_id),
        json!({}),
        None,
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["licence"]["status"], "valid");
    assert_eq!(body["reinstated_entries"], json!([entry]));
    let (_, e, _) = app
        .get(&format!("/api/v1/whitelist-entries/{entry}"), Some(&reg.cq))
        .await;
    assert_eq!(e["status"], "confirmed", "{e}");
    assert!(case(&app, &reg, &pending).await["approval_blocked"].is_null());
    let (s, a) = post(
        &app,
        &reg.cq,
        &format!("/api/v1/transfer-applications/{pending}/decisions"),
        approve("source"),
        Some(version),
    )
    .await;
    assert_eq!(s, 200, "{a}");
    let (s, a) = post(
        &app,
        &reg.sc,
        &format!("/api/v1/transfer-applications/{pending}/decisions"),
        approve("receiving"),
        Some(version + 1),
    )
    .await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(a["status"], "approved");
    let (s, d) = post(
        &app,
        &reg.enterprise_token,
        &format!("/api/v1/manifests/{not_yet_left}/dispatch"),
        json!({}),
        None,
    )
    .await;
    assert_eq!(s, 200, "{d}");
    assert_eq!(d["status"], "in_transit");
}
both_backends!(
    licence_suspension_stops_approvals_and_shipments,
    licence_suspension_stops_approvals_and_shipments
);

async fn suspended_entry_blocks_the_whitelist_route(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    let entry = reg.confirmed_entry(&app, "HW08", "5000").await;
    let (moved, moved_version) = accepted_case(&app, &reg, "1000").await;
    let (kept, kept_version) = accepted_case(&app, &reg, "500").await;
    // Nothing stops the whitelist route yet: moving a case is refused.
    let (s, body) = post(
        &app,
        &reg.cq,
        &format!("/api/v1/transfer-applications/{moved}/reroute"),
        json!({"reason": "test"}),
        Some(moved_version),
    )
    .await;
    assert_eq!(s, 409, "{body}");
    assert_eq!(body["code"], "workflow.reroute_needless");

    let (s, body) = entry_change(&app, &reg.sc, &entry, "suspend", "接受单位焚烧线停产检修").await;
    assert_eq!(s, 200, "{body}");

    // Neither province may approve on the whitelist route while the entry is suspended.
    for (token, side, version) in [
        (&reg.cq, "source", moved_version),
        (&reg.sc, "receiving", moved_version),
    ] {
        let (s, body) = post(
            &app,
            token,
            &format!("/api/v1/transfer-applications/{moved}/decisions"),
            approve(side),
            Some(version),
        )
        .await;
        assert_eq!(s, 409, "{body}");
        assert_eq!(body["code"], "approval.entry_suspended");
        assert!(body["detail"].as_str().unwrap().contains("standard route"), "{body}");
    }
    let a = case(&app, &reg, &moved).await;
    assert_eq!(a["approval_blocked"]["code"], "approval.entry_suspended", "{a}");
    assert_eq!(a["decisions"], json!([]));
    // The queue, which reads the stopped entries of its whole page at once, says what each
    // case's own view says.
    let (s, page, _) = app.get("/api/v1/transfer-applications?limit=50", Some(&reg.cq)).await;
    assert_eq!(s, 200, "{page}");
    let items = page["items"].as_array().unwrap();
    for id in [&moved, &kept] {
        let listed = items
            .iter()
            .find(|i| i["id"] == id.as_str())
            .expect("the case is in the queue");
        assert_eq!(
            listed["approval_blocked"],
            case(&app, &reg, id).await["approval_blocked"]
        );
        assert_eq!(
            listed["approval_blocked"]["code"], "approval.entry_suspended",
            "{listed}"
        );
    }

    // Moving it to the standard route: the source's, with its version and a reason.
    let path = format!("/api/v1/transfer-applications/{moved}/reroute");
    let (s, _) = post(&app, &reg.cq, &path, json!({"reason": "白名单条目已暂停"}), None).await;
    assert_eq!(s, 428);
    let (s, _) = post(
        &app,
        &reg.sc,
        &path,
        json!({"reason": "白名单条目已暂停"}),
        Some(moved_version),
    )
    .await;
    assert_eq!(s, 403);
    let (s, body, h) = app.post_json(&path, Some(&reg.cq), &json!({"reason": " "})).await;
    assert_problem(s, &body, &h, 422);
    let (s, a) = post(
        &app,
        &reg.cq,
        &path,
        json!({"reason": "白名单条目已暂停，转入一般程序办理"}),
        Some(moved_version),
    )
    .await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(a["route"], "standard");
    assert_eq!(a["status"], "under_review");
    assert!(
        a["route_reasons"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r.as_str().unwrap().contains("白名单条目已暂停")),
        "{a}"
    );
    assert!(a["items"][0]["entry_id"].is_null(), "{a}");
    let running: Vec<&Value> = a["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["completed_at"].is_null())
        .collect();
    assert_eq!(running.len(), 1, "{a}");
    assert_eq!(running[0]["kind"], "source_review");
    assert_eq!(running[0]["working_days"], 5);
    // The reservation is released; the other case still holds its own.
    let u = usage(&app, &reg, &entry).await;
    assert_eq!(u["reserved_kg"], "500.000", "{u}");
    assert!(event_kinds(&app, &reg, &moved).await.contains(&"rerouted".to_string()));
    // On the standard route the suspended entry no longer matters; moving it again is refused.
    assert!(case(&app, &reg, &moved).await["approval_blocked"].is_null());
    let (s, body) = post(&app, &reg.cq, &path, json!({"reason": "again"}), a["version"].as_i64()).await;
    assert_eq!(s, 409, "{body}");
    assert_eq!(body["code"], "workflow.invalid_transition");

    // Reinstating the entry restores the whitelist route for the case that kept its reservation.
    let (s, body) = entry_change(&app, &reg.sc, &entry, "reinstate", "检修完成").await;
    assert_eq!(s, 200, "{body}");
    let (_, page, _) = app.get("/api/v1/transfer-applications?limit=50", Some(&reg.cq)).await;
    let listed = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == kept.as_str())
        .cloned();
    assert_eq!(
        listed.expect("the case is in the queue")["approval_blocked"],
        Value::Null
    );
    let (s, a) = post(
        &app,
        &reg.cq,
        &format!("/api/v1/transfer-applications/{kept}/decisions"),
        approve("source"),
        Some(kept_version),
    )
    .await;
    assert_eq!(s, 200, "{a}");
}
both_backends!(
    suspended_entry_blocks_the_whitelist_route,
    suspended_entry_blocks_the_whitelist_route
);

async fn revocation(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    let entry = reg.confirmed_entry(&app, "HW08", "5000").await;
    let approved = approved_application(&app, &reg, "1000").await;
    let (s, m) = new_manifest(&app, &reg, &approved, "300").await;
    assert_eq!(s, 201, "{m}");
    let on_the_road = m["id"].as_str().unwrap().to_string();
    let (s, _) = post(
        &app,
        &reg.enterprise_token,
        &format!("/api/v1/manifests/{on_the_road}/dispatch"),
        json!({}),
        None,
    )
    .await;
    assert_eq!(s, 200);
    let (s, m) = new_manifest(&app, &reg, &approved, "200").await;
    assert_eq!(s, 201, "{m}");
    let not_yet_left = m["id"].as_str().unwrap().to_string();
    let a = case(&app, &reg, &approved).await;
    let version = a["version"].as_i64().unwrap();
    let number = a["approval"]["number"].as_str().unwrap().to_string();

    let path = format!("/api/v1/transfer-applications/{approved}/revoke");
    let reasons = json!({"reasons": ["移出单位申报材料弄虚作假"]});
    // Only the source province revokes, naming the version it saw, with at least one reason.
    for token in [&reg.enterprise_token, &reg.sc, &reg.operator_token] {
        let (s, _) = post(&app, token, &path, reasons.clone(), Some(version)).await;
        assert_eq!(s, 403);
    }
    let (s, _) = post(&app, &reg.cq, &path, reasons.clone(), None).await;
    assert_eq!(s, 428);
    let (s, body, h) = app.post_json(&path, Some(&reg.cq), &json!({"reasons": []})).await;
    assert_problem(s, &body, &h, 422);
    assert_eq!(case(&app, &reg, &approved).await["status"], "approved");

    let (s, a) = post(&app, &reg.cq, &path, reasons.clone(), Some(version)).await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(a["status"], "revoked");
    assert!(a["approval"]["revoked_at"].is_string(), "{a}");
    assert_eq!(a["approval"]["revocation_reasons"], json!(["移出单位申报材料弄虚作假"]));
    assert!(
        event_kinds(&app, &reg, &approved)
            .await
            .contains(&"revoked".to_string())
    );
    // The load not yet on the road is cancelled; the unshipped quantity goes back to the entry:
    // 1000 approved, 300 on the road, so 700 released.
    let (_, m, _) = app
        .get(
            &format!("/api/v1/manifests/{not_yet_left}"),
            Some(&reg.enterprise_token),
        )
        .await;
    assert_eq!(m["status"], "cancelled", "{m}");
    let u = usage(&app, &reg, &entry).await;
    assert_eq!(u["approved_kg"], "300.000", "{u}");
    assert_eq!(u["shipped_kg"], "300.000", "{u}");
    assert_eq!(u["reserved_kg"], "0.000", "{u}");
    assert_eq!(u["remaining_kg"], "4700.000", "{u}");
    // No new manifest; the load on the road is still received.
    let (s, body) = new_manifest(&app, &reg, &approved, "1").await;
    assert_eq!(s, 422, "{body}");
    assert_eq!(body["errors"][0]["code"], "manifest.approval_revoked");
    let (s, body) = post(
        &app,
        &reg.operator_token,
        &format!("/api/v1/manifests/{on_the_road}/receipt"),
        json!({"outcome": "received", "items": [{"line": 0, "accepted_kg": "300"}]}),
        None,
    )
    .await;
    assert_eq!(s, 200, "{body}");
    // Revoking twice is refused.
    let (s, body) = post(&app, &reg.cq, &path, reasons, a["version"].as_i64()).await;
    assert_eq!(s, 409, "{body}");
    // The public verification page says revoked, with the day.
    let today = hwtransfer::domain::calendar::shanghai_date(chrono::Utc::now()).to_string();
    let html = app
        .client
        .get(app.url(&format!("/verify/{}", urlencoding(&number))))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(&format!("<dd id=\"revoked-on\">{today}</dd>")), "{html}");
    assert!(html.contains("已撤销") || html.contains("revoked"), "{html}");
}
both_backends!(revocation, revocation);

fn urlencoding(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

async fn licence_in_effect_on_the_day(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    reg.confirmed_entry(&app, "HW08", "5000").await;
    // A renewal from next month that no longer covers HW08 is not the licence of today.
    let today = hwtransfer::domain::calendar::shanghai_date(chrono::Utc::now());
    let next_month = today + chrono::Days::new(40);
    let mut renewal = licence_body(&["HW49"], "1000000");
    renewal["valid_from"] = json!(next_month.to_string());
    renewal["valid_until"] = json!(format!("{}-12-31", this_year() + 5));
    let (s, body) = post(
        &app,
        &reg.sc,
        &format!("/api/v1/operators/{}/licences", reg.operator_id),
        renewal,
        None,
    )
    .await;
    assert_eq!(s, 201, "{body}");
    let mut f = filing(&reg.operator_id, "900-249-08", "100");
    f["period_start"] = json!(today.to_string());
    f["period_end"] = json!(today.to_string());
    let (s, check) = post(
        &app,
        &reg.enterprise_token,
        "/api/v1/transfer-applications/check",
        f.clone(),
        None,
    )
    .await;
    assert_eq!(s, 200, "{check}");
    assert_eq!(check["route"], "whitelist", "{check}");
    // From the renewal's first day, HW08 is no longer licensed.
    f["period_start"] = json!(next_month.to_string());
    f["period_end"] = json!((next_month + chrono::Days::new(10)).to_string());
    let (s, c) = post(
        &app,
        &reg.enterprise_token,
        "/api/v1/transfer-applications/check",
        f,
        None,
    )
    .await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(c["acceptable"], false, "{c}");
    assert_eq!(c["refusals"][0]["code"], "application.not_licensed", "{c}");
}
both_backends!(licence_in_effect_on_the_day, licence_in_effect_on_the_day);

async fn quotas_stay_within_the_licensed_capacity(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    // The fixture's licence: 1 000 000 kg a year in total over HW08 and HW49.
    assert_eq!(reg.propose(&app, &reg.cq, "HW08", "600000").await.0, 201);
    let (s, body) = reg.propose(&app, &reg.cq, "HW49", "500000").await;
    assert_eq!(s, 422, "{body}");
    assert_eq!(body["errors"][0]["code"], "entry.over_capacity");
    assert_eq!(body["errors"][0]["pointer"], "/quota_kg");
    assert!(
        body["errors"][0]["message"].as_str().unwrap().contains("total"),
        "{body}"
    );
    // Another province's entries count too: it is one operator's capacity.
    app.add_user("sc2", "regulator", Some("510000")).await;
    let (s, body, _) = app
        .post_json(
            "/api/v1/whitelist-entries",
            Some(&reg.sc),
            &json!({"year": reg.year, "operator_id": reg.operator_id, "source_province": "500000", "scope": "HW49", "quota_kg": "400000.001"}),
        )
        .await;
    assert_eq!(s, 422, "{body}");
    assert_eq!(reg.propose(&app, &reg.cq, "HW49", "400000").await.0, 201);

    // A category's own figure binds: an operator licensed HW08 300 000 of 1 000 000 kg.
    let mut licence = licence_body(&["HW08", "HW49"], "1000000");
    licence["category_capacities"] = json!([{"category": "HW08", "annual_capacity_kg": "300000"}]);
    let op = create_operator(&app, &reg.sc, "四川第二处置有限公司", "510000", "510100", 7, licence).await;
    let (_, o, _) = app.get(&format!("/api/v1/operators/{op}"), Some(&reg.cq)).await;
    assert_eq!(
        o["licence"]["category_capacities_kg"],
        json!({"HW08": "300000.000"}),
        "{o}"
    );
    let propose = |scope: &str, kg: &str| json!({"year": reg.year, "operator_id": op, "source_province": "500000", "scope": scope, "quota_kg": kg});
    let (s, body, _) = app
        .post_json("/api/v1/whitelist-entries", Some(&reg.cq), &propose("HW08", "200000"))
        .await;
    assert_eq!(s, 201, "{body}");
    let (s, body, _) = app
        .post_json(
            "/api/v1/whitelist-entries",
            Some(&reg.cq),
            &propose("900-249-08", "100000.001"),
        )
        .await;
    assert_eq!(s, 422, "{body}");
    assert_eq!(body["errors"][0]["code"], "entry.over_capacity");
    assert!(
        body["errors"][0]["message"].as_str().unwrap().contains("HW08"),
        "{body}"
    );
    let (s, body, _) = app
        .post_json("/api/v1/whitelist-entries", Some(&reg.cq), &propose("HW49", "800000"))
        .await;
    assert_eq!(s, 201, "{body}");

    // The licence's figures are checked: a category it does not cover, above the total, twice.
    let mut bad = licence_body(&["HW08"], "1000");
    bad["category_capacities"] = json!([
        {"category": "HW49", "annual_capacity_kg": "10"},
        {"category": "HW08", "annual_capacity_kg": "1000.001"},
        {"category": "HW08", "annual_capacity_kg": "10"}
    ]);
    let (s, body, h) = app
        .post_json(&format!("/api/v1/operators/{op}/licences"), Some(&reg.sc), &bad)
        .await;
    let mut codes = assert_problem(s, &body, &h, 422);
    codes.sort();
    assert_eq!(
        codes,
        vec![
            "licence.capacity_above_total",
            "licence.capacity_duplicate",
            "licence.capacity_unlicensed"
        ],
        "{body}"
    );
}
both_backends!(
    quotas_stay_within_the_licensed_capacity,
    quotas_stay_within_the_licensed_capacity
);

async fn agreements_count_on_their_dates(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    reg.confirmed_entry(&app, "HW08", "5000").await;
    let today = hwtransfer::domain::calendar::shanghai_date(chrono::Utc::now());
    let check = |app: &TestApp| {
        let f = filing(&reg.operator_id, "900-249-08", "100");
        let token = reg.enterprise_token.clone();
        let url = app.url("/api/v1/transfer-applications/check");
        let client = app.client.clone();
        async move {
            let res = client.post(url).bearer_auth(token).json(&f).send().await.unwrap();
            crate::support::split(res).await.1
        }
    };
    assert_eq!(check(&app).await["route"], "whitelist");

    // An agreement that starts tomorrow does not count today, though it overlaps the year.
    let gz_op = create_operator(
        &app,
        &reg.gz,
        "贵州测试处置有限公司",
        "520000",
        "520100",
        3,
        licence_body(&["HW08"], "100000"),
    )
    .await;
    let tomorrow = today + chrono::Days::new(1);
    let (s, ag) = post(
        &app,
        &reg.cq,
        "/api/v1/agreements",
        json!({"provinces": ["500000", "520000"], "valid_from": tomorrow.to_string(), "valid_until": format!("{}-12-31", reg.year + 1), "receiving_consent": "inform"}),
        None,
    )
    .await;
    assert_eq!(s, 201, "{ag}");
    let gz_agreement = ag["id"].as_str().unwrap().to_string();
    let (s, _) = post(
        &app,
        &reg.gz,
        &format!("/api/v1/agreements/{gz_agreement}/confirm"),
        json!({}),
        None,
    )
    .await;
    assert_eq!(s, 200);
    let (s, e, _) = app
        .post_json(
            "/api/v1/whitelist-entries",
            Some(&reg.cq),
            &json!({"year": reg.year + 1, "operator_id": gz_op, "source_province": "500000", "scope": "HW08", "quota_kg": "100"}),
        )
        .await;
    assert_eq!(s, 201, "{e}");
    let mut f = filing(&gz_op, "900-249-08", "10");
    f["period_start"] = json!(today.to_string());
    let (s, c) = post(
        &app,
        &reg.enterprise_token,
        "/api/v1/transfer-applications/check",
        f,
        None,
    )
    .await;
    assert_eq!(s, 200, "{c}");
    assert_eq!(c["route"], "standard", "{c}");
    assert!(c["reasons"].to_string().contains(&format!("valid on {today}")), "{c}");

    // Terminating: either province, not retroactive, with a reason; only once.
    let path = format!("/api/v1/agreements/{}/terminate", reg.agreement_id);
    let body = json!({"terminated_on": today.to_string(), "reason": "川渝双方协商一致终止"});
    let (s, _) = post(&app, &reg.gz, &path, body.clone(), None).await;
    assert_eq!(s, 403);
    let (s, _) = post(&app, &reg.enterprise_token, &path, body.clone(), None).await;
    assert_eq!(s, 403);
    let yesterday = today - chrono::Days::new(1);
    let (s, b, h) = app
        .post_json(
            &path,
            Some(&reg.sc),
            &json!({"terminated_on": yesterday.to_string(), "reason": "x"}),
        )
        .await;
    let codes = assert_problem(s, &b, &h, 422);
    assert_eq!(codes, vec!["agreement.termination_past"]);
    assert_eq!(check(&app).await["route"], "whitelist");
    let (s, ag) = post(&app, &reg.sc, &path, body.clone(), None).await;
    assert_eq!(s, 200, "{ag}");
    assert_eq!(ag["status"], "terminated");
    assert_eq!(ag["terminated_on"], today.to_string());
    assert_eq!(ag["termination_reason"], "川渝双方协商一致终止");
    let (s, _) = post(&app, &reg.sc, &path, body, None).await;
    assert_eq!(s, 409);
    // From the termination day, filings take the standard route and say why.
    let c = check(&app).await;
    assert_eq!(c["route"], "standard", "{c}");
    assert!(c["reasons"].to_string().contains("川渝双方协商一致终止"), "{c}");
    let (s, p) = post(
        &app,
        &reg.enterprise_token,
        "/api/v1/transfer-applications",
        filing(&reg.operator_id, "900-249-08", "100"),
        None,
    )
    .await;
    assert_eq!(s, 422, "not filed on the standard route unconfirmed: {p}");
    assert!(
        p["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["code"] == "route.agreement_terminated" && e["pointer"] == "/operator_id"),
        "{p}"
    );
    let (s, a, _) = app
        .file_confirmed(&reg.enterprise_token, &filing(&reg.operator_id, "900-249-08", "100"))
        .await;
    assert_eq!(s, 201, "{a}");
    assert_eq!(a["route"], "standard", "{a}");
    assert!(a["route_reasons"].to_string().contains("terminated"), "{a}");
}
both_backends!(agreements_count_on_their_dates, agreements_count_on_their_dates);
