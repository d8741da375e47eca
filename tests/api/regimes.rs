//! Whitelist regimes beyond one province pair, as agreement and entry policies: one agreement
//! among N provinces (川渝滇黔's four-province mechanism).

use serde_json::{Value, json};

use crate::both_backends;
use crate::fixtures::Registry;
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
