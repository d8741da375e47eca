//! Collectors (收集单位) as the transferring party (移出人): a collector registered under its own
//! operator record files and ships like a producer; without a collection licence in force on
//! the filing day it is refused with a clear problem; producers are as before.

use serde_json::{Value, json};

use crate::both_backends;
use crate::fixtures::{Registry, create_operator, licence_body, uscc};
use crate::support::{Backend, TestApp, assert_problem};

fn collector_licence(modes: &[&str], number: &str) -> Value {
    let mut l = licence_body(&["HW08", "HW49"], "100000");
    l["modes"] = json!(modes);
    l["licence_number"] = json!(number);
    l["issuing_authority"] = json!("重庆市生态环境局");
    l
}

fn enterprise_body(name: &str, serial: u32, kind: Option<&str>, operator: Option<&str>) -> Value {
    let mut b = json!({
        "name": name, "uscc": uscc("500112", serial), "province": "500000", "division_code": "500112",
        "address": "重庆市渝北区收集路1号", "contact_name": "赵六", "contact_phone": "023-11111111"
    });
    if let Some(k) = kind {
        b["kind"] = json!(k);
    }
    if let Some(o) = operator {
        b["collector_operator_id"] = json!(o);
    }
    b
}

/// A Chongqing collector: its operator record with `licence`, the enterprise of kind collector
/// linked to it, and a signed-in account of it. Returns (operator id, enterprise id, token).
async fn collector(app: &TestApp, reg: &Registry, serial: u32, licence: Value) -> (String, String, String) {
    let name = format!("重庆废矿物油收集有限公司{serial}");
    let op = create_operator(app, &reg.cq, &name, "500000", "500112", serial, licence).await;
    let (s, e, _) = app
        .post_json(
            "/api/v1/enterprises",
            Some(&reg.cq),
            &enterprise_body(&name, serial, Some("collector"), Some(&op)),
        )
        .await;
    assert_eq!(s, 201, "{e}");
    assert_eq!(
        (e["kind"].as_str(), e["collector_operator_id"].as_str()),
        (Some("collector"), Some(op.as_str()))
    );
    let id = e["id"].as_str().unwrap().to_string();
    let user = format!("collector-{serial}");
    app.add_user(&user, "enterprise", Some(&id)).await;
    (op, id, app.login(&user).await)
}

async fn post(app: &TestApp, token: &str, path: &str, body: Value, version: Option<i32>) -> (u16, Value) {
    let etag = version.map(|v| format!("\"{v}\""));
    let headers: Vec<(&str, &str)> = etag.iter().map(|e| ("if-match", e.as_str())).collect();
    let (s, b, _) = app.post_json_with(path, Some(token), &headers, &body).await;
    (s, b)
}

async fn collectors_file_like_producers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    reg.confirmed_entry(&app, "HW08", "100").await;
    let (op, collector_id, token) = collector(
        &app,
        &reg,
        31,
        collector_licence(&["收集", "贮存"], "渝危证收集500112031号"),
    )
    .await;

    // It files the oil it collected from the garages of its district: the whitelist route, as a
    // producer's would; both provinces approve.
    let (s, a, _) = app
        .post_json(
            "/api/v1/transfer-applications",
            Some(&token),
            &crate::fixtures::filing(&reg.operator_id, "900-249-08", "10"),
        )
        .await;
    assert_eq!((s, a["route"].as_str()), (201, Some("whitelist")), "{a}");
    assert_eq!(a["enterprise_id"], collector_id.as_str(), "{a}");
    let id = a["id"].as_str().unwrap().to_string();
    let path = |action: &str| format!("/api/v1/transfer-applications/{id}/{action}");
    let (s, b) = post(&app, &reg.cq, &path("accept"), json!({}), None).await;
    assert_eq!(s, 200, "{b}");
    let approve = |side: &str| json!({"side": side, "outcome": "approve", "reasons": []});
    let (s, b) = post(&app, &reg.cq, &path("decisions"), approve("source"), Some(2)).await;
    assert_eq!(s, 200, "{b}");
    let (s, b) = post(&app, &reg.sc, &path("decisions"), approve("receiving"), Some(3)).await;
    assert_eq!((s, b["status"].as_str()), (200, Some("approved")), "{b}");
    // And ships under its approval.
    let (s, m) = post(
        &app,
        &token,
        "/api/v1/manifests",
        crate::fixtures::manifest(&id, &[(0, "10")]),
        None,
    )
    .await;
    assert_eq!(s, 201, "{m}");
    assert_eq!(m["application_id"], id.as_str());

    // Its licence suspended, it may not file: a clear problem, nothing stored.
    let (s, b) = post(
        &app,
        &reg.cq,
        &format!("/api/v1/operators/{op}/licence/suspend"),
        json!({"reason": "收集经营记录不全，责令整改"}),
        None,
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let (s, b, h) = app
        .post_json(
            "/api/v1/transfer-applications",
            Some(&token),
            &crate::fixtures::filing(&reg.operator_id, "900-249-08", "5"),
        )
        .await;
    assert_eq!(
        assert_problem(s, &b, &h, 422),
        vec!["application.collector_licence"],
        "{b}"
    );
    assert!(
        b["errors"][0]["message"].as_str().unwrap().contains("not in force"),
        "{b}"
    );
    let (_, list, _) = app.get("/api/v1/transfer-applications", Some(&token)).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
}
both_backends!(collectors_file_like_producers, collectors_file_like_producers);

async fn a_collector_needs_its_own_collection_licence(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    reg.confirmed_entry(&app, "HW08", "100").await;
    // A licence to store and dispose, not to collect.
    let (_, _, token) = collector(
        &app,
        &reg,
        32,
        collector_licence(&["贮存", "处置"], "渝危证500112032号"),
    )
    .await;
    let (s, b2, h) = app
        .post_json(
            "/api/v1/transfer-applications",
            Some(&token),
            &crate::fixtures::filing(&reg.operator_id, "900-249-08", "10"),
        )
        .await;
    assert_eq!(
        assert_problem(s, &b2, &h, 422),
        vec!["application.collector_licence"],
        "{b2}"
    );
    assert!(b2["errors"][0]["message"].as_str().unwrap().contains("收集"), "{b2}");

    // Registration: a collector names its own operator record; a producer none.
    let op = create_operator(
        &app,
        &reg.cq,
        "重庆另一收集有限公司",
        "500000",
        "500112",
        34,
        collector_licence(&["收集"], "渝危证收集500112034号"),
    )
    .await;
    let cases = [
        (
            enterprise_body("甲收集", 35, Some("collector"), None),
            "enterprise.collector_licence_required",
        ),
        (
            enterprise_body("乙产废", 36, None, Some(&op)),
            "enterprise.not_a_collector",
        ),
        (
            enterprise_body("丙收集", 37, Some("collector"), Some(&op)),
            "enterprise.collector_uscc",
        ),
        (
            enterprise_body("丁收集", 38, Some("collector"), Some("no-such-operator")),
            "enterprise.unknown_operator",
        ),
        (enterprise_body("戊", 39, Some("carrier"), None), "enterprise.kind"),
    ];
    for (body, code) in cases {
        let (s, b, h) = app.post_json("/api/v1/enterprises", Some(&reg.cq), &body).await;
        assert_eq!(assert_problem(s, &b, &h, 422), vec![code], "{body}: {b}");
    }
    let (_, list, _) = app.get("/api/v1/enterprises", Some(&reg.cq)).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2, "nothing stored: {list}");

    // A producer is as before: registered as a producer, filing without any licence of its own.
    let (s, e, _) = app
        .get(&format!("/api/v1/enterprises/{}", reg.enterprise_id), Some(&reg.cq))
        .await;
    assert_eq!(s, 200, "{e}");
    assert_eq!(
        (e["kind"].as_str(), e["collector_operator_id"].is_null()),
        (Some("producer"), true)
    );
    let (s, a, _) = app
        .post_json(
            "/api/v1/transfer-applications",
            Some(&reg.enterprise_token),
            &crate::fixtures::filing(&reg.operator_id, "900-249-08", "10"),
        )
        .await;
    assert_eq!((s, a["route"].as_str()), (201, Some("whitelist")), "{a}");
}
both_backends!(
    a_collector_needs_its_own_collection_licence,
    a_collector_needs_its_own_collection_licence
);
