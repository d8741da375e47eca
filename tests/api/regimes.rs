//! Whitelist regimes beyond one province pair, as agreement and entry policies: one agreement
//! among N provinces (川渝滇黔's four-province mechanism); an entry serving several source
//! provinces from one shared quota, whose invariant holds across them under concurrency; an
//! entry's quota amended by letter during the year; per-application caps and completion within
//! 30 days of approval (一事一批); a receiving province's one-sided list.

use serde_json::{Value, json};

use crate::both_backends;
use crate::fixtures::{Registry, uscc};
use crate::support::{Backend, TestApp, assert_problem};

async fn post(app: &TestApp, token: &str, path: &str, body: Value) -> (u16, Value) {
    let (s, b, _) = app.post_json(path, Some(token), &body).await;
    (s, b)
}

/// The members stored for an agreement, with whether each confirmed.
async fn stored_members(app: &TestApp, id: &str) -> Vec<(String, bool)> {
    use diesel::prelude::*;
    use hwtransfer::db::schema::agreement_members as m;
    let id = id.to_string();
    app.state
        .db
        .run(move |c| {
            Ok(m::table
                .filter(m::agreement_id.eq(&id))
                .order(m::province.asc())
                .select((m::province, m::confirmed_at.is_not_null()))
                .load::<(String, bool)>(c)?)
        })
        .await
        .unwrap()
}

/// One agreement among four provinces: each other member confirms for itself, it counts once
/// all have, and then works between any two of its members as a pair's agreement would.
async fn one_agreement_among_four_provinces(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    let y = reg.year;
    let body = json!({
        "provinces": ["520000", "500000", "510000", "530000"],
        "valid_from": format!("{y}-01-01"),
        "valid_until": format!("{y}-12-31"),
        "receiving_consent": "consent"
    });
    let (s, a) = post(&app, &reg.gz, "/api/v1/agreements", body.clone()).await;
    assert_eq!(s, 201, "{a}");
    assert_eq!(a["provinces"], json!(["500000", "510000", "520000", "530000"]));
    assert_eq!(a["pending_confirmation"], json!(["500000", "510000", "530000"]));
    let id = a["id"].as_str().unwrap().to_string();
    let confirm = format!("/api/v1/agreements/{id}/confirm");

    // Before every member confirmed, Guizhou has no agreement with Sichuan.
    let entry = json!({"year": y, "operator_id": reg.operator_id, "source_province": "520000", "scope": "HW08", "quota_kg": "100"});
    let (s, b, h) = app.post_json("/api/v1/whitelist-entries", Some(&reg.gz), &entry).await;
    assert_eq!(assert_problem(s, &b, &h, 422), vec!["entry.no_agreement"]);

    let (s, a) = post(&app, &reg.sc, &confirm, json!({})).await;
    assert_eq!((s, a["status"].as_str()), (200, Some("proposed")), "{a}");
    assert_eq!(a["pending_confirmation"], json!(["500000", "530000"]));
    // Not twice by one member, never by the proposer.
    assert_eq!(post(&app, &reg.sc, &confirm, json!({})).await.0, 409);
    assert_eq!(post(&app, &reg.gz, &confirm, json!({})).await.0, 403);
    post(&app, &reg.cq, &confirm, json!({})).await;
    let (s, a) = post(&app, &reg.yn, &confirm, json!({})).await;
    assert_eq!((s, a["status"].as_str()), (200, Some("confirmed")), "{a}");
    assert_eq!(a["pending_confirmation"], json!([]));
    assert_eq!(
        stored_members(&app, &id).await,
        ["500000", "510000", "520000", "530000"].map(|p| (p.to_string(), true))
    );

    // Now Guizhou and Sichuan have one: an entry between them may be proposed.
    let (s, e) = post(&app, &reg.gz, "/api/v1/whitelist-entries", entry).await;
    assert_eq!(s, 201, "{e}");
    // Every member lists it.
    let (_, list, _) = app.get("/api/v1/agreements?province=530000", Some(&reg.yn)).await;
    assert!(
        list.as_array().unwrap().iter().any(|a| a["id"] == id.as_str()),
        "{list}"
    );

    // One province is no agreement.
    let mut one = body.clone();
    one["provinces"] = json!(["520000", "520000"]);
    let (s, b, h) = app.post_json("/api/v1/agreements", Some(&reg.gz), &one).await;
    assert_eq!(assert_problem(s, &b, &h, 422), vec!["agreement.provinces"]);
}
both_backends!(one_agreement_among_four_provinces, one_agreement_among_four_provinces);

/// The four-province mechanism, proposed by Guizhou and confirmed by the three others.
pub(crate) async fn four_province_agreement(app: &TestApp, reg: &Registry) -> String {
    let y = reg.year;
    let (s, a) = post(
        app,
        &reg.gz,
        "/api/v1/agreements",
        json!({"provinces": ["500000", "510000", "520000", "530000"], "valid_from": format!("{y}-01-01"),
               "valid_until": format!("{y}-12-31"), "receiving_consent": "consent"}),
    )
    .await;
    assert_eq!(s, 201, "{a}");
    let id = a["id"].as_str().unwrap().to_string();
    for token in [&reg.cq, &reg.sc, &reg.yn] {
        let (s, b) = post(app, token, &format!("/api/v1/agreements/{id}/confirm"), json!({})).await;
        assert_eq!(s, 200, "{b}");
    }
    id
}

/// A Guizhou producer and its account's token.
async fn guizhou_enterprise(app: &TestApp, reg: &Registry) -> String {
    let (s, e) = post(
        app,
        &reg.gz,
        "/api/v1/enterprises",
        json!({"name": "贵州测试化工有限公司", "uscc": uscc("520102", 3), "province": "520000",
               "division_code": "520102", "address": "贵阳市测试路3号", "contact_name": "王五",
               "contact_phone": "0851-00000000"}),
    )
    .await;
    assert_eq!(s, 201, "{e}");
    app.add_user("ent-gz", "enterprise", Some(e["id"].as_str().unwrap()))
        .await;
    app.login("ent-gz").await
}

fn filing(operator_id: &str, n: usize) -> Value {
    let y = reg_year();
    json!({
        "operator_id": operator_id,
        "method": "dispose",
        "period_start": format!("{y}-12-01"),
        "period_end": format!("{}-05-31", y + 1),
        "items": [{"waste_code": "900-249-08", "waste_name": format!("废矿物油 批次{n}"), "physical_form": "液态",
                   "hazards": ["T", "I"], "packaging": "200L铁桶", "quantity_kg": "10"}],
        "carriers": [{"name": "危运公司", "permit_number": "渝交运500000001号"}]
    })
}

fn reg_year() -> i32 {
    crate::fixtures::this_year()
}

/// One entry serves Chongqing and Guizhou from one quota of 100 kg: proposed by the receiving
/// province (Sichuan) under the four-province mechanism, confirmed by a source; after one
/// Guizhou filing, 30 filings of 10 kg at once from both provinces reserve exactly the 90 kg
/// left, never more.
async fn shared_quota_across_source_provinces(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.pool_size = 8).await;
    let reg = Registry::setup(&app).await;
    let gz_ent = guizhou_enterprise(&app, &reg).await;
    let y = reg.year;
    let entry = |shared: Value| {
        json!({"year": y, "operator_id": reg.operator_id, "source_province": "500000",
                                       "scope": "900-249-08", "quota_kg": "100", "shared_sources": shared})
    };
    // Without one agreement among all three, and not by a source province.
    let (s, b, h) = app
        .post_json("/api/v1/whitelist-entries", Some(&reg.sc), &entry(json!(["520000"])))
        .await;
    assert_eq!(assert_problem(s, &b, &h, 422), vec!["entry.no_shared_agreement"]);
    four_province_agreement(&app, &reg).await;
    let (s, b, h) = app
        .post_json("/api/v1/whitelist-entries", Some(&reg.cq), &entry(json!(["520000"])))
        .await;
    assert_eq!(assert_problem(s, &b, &h, 422), vec!["entry.shared_by_receiving"]);
    let (s, e) = post(&app, &reg.sc, "/api/v1/whitelist-entries", entry(json!(["520000"]))).await;
    assert_eq!(s, 201, "{e}");
    assert_eq!(e["shared_sources"], json!(["520000"]));
    let id = e["id"].as_str().unwrap().to_string();
    // Guizhou, a source of the shared entry, sees it and confirms it.
    let (s, b) = post(
        &app,
        &reg.gz,
        &format!("/api/v1/whitelist-entries/{id}/confirm"),
        json!({}),
    )
    .await;
    assert_eq!((s, b["status"].as_str()), (200, Some("confirmed")), "{b}");

    // A Guizhou producer draws on it like Chongqing's.
    let (s, b, _) = app
        .post_json(
            "/api/v1/transfer-applications",
            Some(&gz_ent),
            &filing(&reg.operator_id, 99),
        )
        .await;
    assert_eq!((s, b["route"].as_str()), (201, Some("whitelist")), "{b}");
    assert_eq!(b["items"][0]["entry_id"], id.as_str(), "{b}");

    let client = app.client.clone();
    let tasks: Vec<_> = (0..30)
        .map(|i| {
            let token = if i % 2 == 0 {
                reg.enterprise_token.clone()
            } else {
                gz_ent.clone()
            };
            let (client, url, body) = (
                client.clone(),
                app.url("/api/v1/transfer-applications"),
                filing(&reg.operator_id, i),
            );
            actix_web::rt::spawn(async move {
                let r = client.post(url).bearer_auth(token).json(&body).send().await.unwrap();
                crate::support::split(r).await
            })
        })
        .collect();
    let mut by_province = std::collections::BTreeMap::<String, usize>::new();
    let mut unconfirmed = 0;
    for t in tasks {
        let (s, b, _) = t.await.unwrap();
        match s {
            201 => {
                assert_eq!(b["route"], "whitelist", "{b}");
                assert_eq!(b["items"][0]["entry_id"], id.as_str(), "{b}");
                *by_province
                    .entry(b["source_province"].as_str().unwrap().to_string())
                    .or_default() += 1;
            }
            422 => {
                assert_eq!(b["type"], "/problems/confirmation-required", "{b}");
                unconfirmed += 1;
            }
            other => panic!("unexpected {other}: {b}"),
        }
    }
    assert_eq!(by_province.values().sum::<usize>(), 9, "{by_province:?}");
    assert_eq!(unconfirmed, 21);
    let (_, u, _) = app
        .get(&format!("/api/v1/whitelist-entries/{id}/usage"), Some(&reg.gz))
        .await;
    assert_eq!(
        (u["reserved_kg"].as_str(), u["remaining_kg"].as_str()),
        (Some("100.000"), Some("0.000")),
        "{u}"
    );
    let reserves = u["movements"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["movement"] == "reserve")
        .count();
    assert_eq!(reserves, 10);
}
both_backends!(
    shared_quota_across_source_provinces,
    shared_quota_across_source_provinces
);

/// A quota amended by letter: a new version citing the letter; never below what the entry's
/// filings hold, never beyond the licence; a stale version is refused.
async fn quota_amended_by_letter(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    let id = reg.confirmed_entry(&app, "HW08", "100").await;
    crate::fixtures::approved_application(&app, &reg, "40").await;
    let path = format!("/api/v1/whitelist-entries/{id}/amend");
    let amend = |kg: &str| json!({"quota_kg": kg, "letter_number": "川环函〔2026〕12号", "reason": "接收能力扩建"});
    let (s, b, h) = app.post_json(&path, Some(&reg.sc), &amend("39.999")).await;
    assert_eq!(assert_problem(s, &b, &h, 422), vec!["entry.quota_below_used"]);
    let (s, b, h) = app.post_json(&path, Some(&reg.sc), &amend("2000000")).await;
    assert_eq!(assert_problem(s, &b, &h, 422), vec!["entry.over_capacity"]);
    assert_eq!(app.post_json(&path, Some(&reg.gz), &amend("150")).await.0, 404);
    let (s, _, _) = app
        .post_json_with(&path, Some(&reg.sc), &[("if-match", "\"v1\"")], &amend("150"))
        .await;
    assert_eq!(s, 412);
    let (_, before, _) = app.get(&format!("/api/v1/whitelist-entries/{id}"), Some(&reg.sc)).await;
    assert_eq!(before["quota_kg"], "100.000", "nothing changed");

    let version = before["version"].as_i64().unwrap();
    let (s, e, _) = app
        .post_json_with(
            &path,
            Some(&reg.sc),
            &[("if-match", &format!("\"v{version}\""))],
            &amend("150"),
        )
        .await;
    assert_eq!(s, 200, "{e}");
    assert_eq!(
        (e["quota_kg"].as_str(), e["remaining_kg"].as_str()),
        (Some("150.000"), Some("110.000"))
    );
    assert_eq!(e["version"].as_i64(), Some(version + 1));
    let (_, versions, _) = app
        .get(&format!("/api/v1/whitelist-entries/{id}/versions"), Some(&reg.cq))
        .await;
    let last = versions.as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["change"], "amend");
    assert_eq!(last["letter_number"], "川环函〔2026〕12号");
    assert_eq!(last["quota_kg"], "150.000");
    assert_eq!(last["reason"], "接收能力扩建");
}
both_backends!(quota_amended_by_letter, quota_amended_by_letter);

/// 一事一批: an agreement that caps each application and wants each transfer completed within
/// 30 days of its approval. A filing above the cap takes the standard route (and says why); a
/// whitelist approval is valid 30 days at most.
async fn cap_and_completion_within_30_days(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    let y = reg.year;
    let (s, a) = post(
        &app,
        &reg.cq,
        "/api/v1/agreements",
        json!({"provinces": ["500000", "510000"], "valid_from": format!("{y}-01-01"), "valid_until": format!("{y}-12-31"),
               "receiving_consent": "consent", "cap_per_application_kg": "50", "completion_days": 30}),
    )
    .await;
    assert_eq!(s, 201, "{a}");
    assert_eq!(a["completion_days"], 30);
    let id = a["id"].as_str().unwrap();
    assert_eq!(
        post(&app, &reg.sc, &format!("/api/v1/agreements/{id}/confirm"), json!({}))
            .await
            .0,
        200
    );
    reg.confirmed_entry(&app, "HW08", "1000").await;
    let (s, c, _) = app
        .post_json(
            "/api/v1/transfer-applications/check",
            Some(&reg.enterprise_token),
            &crate::fixtures::filing(&reg.operator_id, "900-249-08", "60"),
        )
        .await;
    assert!(s == 200 || s == 422, "{c}");
    assert!(c.to_string().contains("route.agreement_cap"), "{c}");
    let app_id = crate::fixtures::approved_application(&app, &reg, "40").await;
    let (_, a, _) = app
        .get(&format!("/api/v1/transfer-applications/{app_id}"), Some(&reg.cq))
        .await;
    let today = hwtransfer::domain::calendar::shanghai_date(chrono::Utc::now());
    assert_eq!(
        a["approval"]["valid_until"],
        (today + chrono::Duration::days(30)).to_string(),
        "{a}"
    );
    // Out of range: refused with the field named.
    let (s, b, h) = app
        .post_json(
            "/api/v1/agreements",
            Some(&reg.cq),
            &json!({"provinces": ["500000", "520000"], "valid_from": format!("{y}-01-01"), "valid_until": format!("{y}-12-31"),
                    "receiving_consent": "consent", "completion_days": 0}),
        )
        .await;
    assert_problem(s, &b, &h, 422);
    assert_eq!(b["errors"][0]["pointer"], "/completion_days", "{b}");
}
both_backends!(cap_and_completion_within_30_days, cap_and_completion_within_30_days);

/// A one-sided list (Hubei's inbound list): Hubei alone pre-consents for its listed operator, so
/// a Chongqing filing into it takes the whitelist route and Chongqing's approval alone completes
/// it, with no consultation of Hubei.
async fn one_sided_inbound_list(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    let y = reg.year;
    app.add_user("hb", "regulator", Some("420000")).await;
    let hb = app.login("hb").await;
    let operator = crate::fixtures::create_operator(
        &app,
        &hb,
        "湖北测试环保处置有限公司",
        "420000",
        "420100",
        7,
        crate::fixtures::licence_body(&["HW08"], "1000000"),
    )
    .await;
    let entry =
        json!({"year": y, "operator_id": operator, "source_province": "500000", "scope": "HW08", "quota_kg": "100"});
    // No agreement yet: no entry.
    let (s, b, h) = app.post_json("/api/v1/whitelist-entries", Some(&hb), &entry).await;
    assert_eq!(assert_problem(s, &b, &h, 422), vec!["entry.no_agreement"]);
    let list = |consent: &str| {
        json!({"provinces": ["420000"], "kind": "inbound_list", "valid_from": format!("{y}-01-01"),
                                      "valid_until": format!("{y}-12-31"), "receiving_consent": consent})
    };
    let (s, b, h) = app.post_json("/api/v1/agreements", Some(&hb), &list("consent")).await;
    assert_eq!(assert_problem(s, &b, &h, 422), vec!["agreement.inbound_list"]);
    let (s, a) = post(&app, &hb, "/api/v1/agreements", list("inform")).await;
    assert_eq!(s, 201, "{a}");
    assert_eq!(
        (a["status"].as_str(), a["kind"].as_str()),
        (Some("confirmed"), Some("inbound_list"))
    );
    assert_eq!(a["provinces"], json!(["420000"]));
    // Hubei lists its operator: confirmed as proposed.
    let (s, e) = post(&app, &hb, "/api/v1/whitelist-entries", entry).await;
    assert_eq!((s, e["status"].as_str()), (201, Some("confirmed")), "{e}");

    let (s, f, _) = app
        .post_json(
            "/api/v1/transfer-applications",
            Some(&reg.enterprise_token),
            &crate::fixtures::filing(&operator, "900-249-08", "10"),
        )
        .await;
    assert_eq!((s, f["route"].as_str()), (201, Some("whitelist")), "{f}");
    let id = f["id"].as_str().unwrap();
    let (s, _) = post(
        &app,
        &reg.cq,
        &format!("/api/v1/transfer-applications/{id}/accept"),
        json!({}),
    )
    .await;
    assert_eq!(s, 200);
    let (s, d, _) = app
        .post_json_with(
            &format!("/api/v1/transfer-applications/{id}/decisions"),
            Some(&reg.cq),
            &[("if-match", "\"2\"")],
            &json!({"side": "source", "outcome": "approve", "reasons": []}),
        )
        .await;
    assert_eq!((s, d["status"].as_str()), (200, Some("approved")), "{d}");
}
both_backends!(one_sided_inbound_list, one_sided_inbound_list);
