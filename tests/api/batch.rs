//! Batch manifests: up to 500 in one request, each created, answered as a duplicate by its key,
//! or refused with every problem, one failure not stopping the others; the whole batch refused
//! only when it does not match its schema.

use serde_json::{Value, json};

use crate::both_backends;
use crate::fixtures::{Registry, approved_application, manifest, uscc};
use crate::support::{Backend, TestApp, assert_problem};

const BATCH: &str = "/api/v1/manifests/batch";
const MISSING: &str = "0190f0f0-0000-7000-8000-00000000dead";

fn keyed(mut m: Value, key: &str) -> Value {
    m["idempotency_key"] = json!(key);
    m
}

/// Manifests and their lines in the test's database (the stored state, read past the API).
async fn stored(app: &TestApp) -> (i64, i64, Vec<String>) {
    use diesel::prelude::*;
    use hwtransfer::db::schema::{manifest_items, manifests};
    app.state
        .db
        .run(|c| {
            Ok((
                manifests::table.count().get_result::<i64>(c)?,
                manifest_items::table
                    .select(manifest_items::quantity_g)
                    .load::<i64>(c)?
                    .into_iter()
                    .sum(),
                manifests::table
                    .select(manifests::number)
                    .order(manifests::number)
                    .load::<String>(c)?,
            ))
        })
        .await
        .unwrap()
}

async fn shipped(app: &TestApp, reg: &Registry, app_id: &str, entry: &str) -> (String, String) {
    let (_, a, _) = app
        .get(&format!("/api/v1/transfer-applications/{app_id}"), Some(&reg.cq))
        .await;
    let (_, u, _) = app
        .get(&format!("/api/v1/whitelist-entries/{entry}/usage"), Some(&reg.cq))
        .await;
    (
        a["items"][0]["shipped_kg"].as_str().unwrap().to_string(),
        u["shipped_kg"].as_str().unwrap().to_string(),
    )
}

/// Per manifest: its outcome, its status when refused, and its problems as (pointer, code).
type Outcome = (String, Option<u64>, Vec<(String, String)>);

fn outcomes(answer: &Value) -> Vec<Outcome> {
    answer["results"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, r)| {
            assert_eq!(r["index"], i, "{r}");
            (
                r["outcome"].as_str().unwrap().to_string(),
                r["status"].as_u64(),
                r["errors"]
                    .as_array()
                    .map(|es| {
                        es.iter()
                            .map(|e| {
                                (
                                    e["pointer"].as_str().unwrap().to_string(),
                                    e["code"].as_str().unwrap().to_string(),
                                )
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            )
        })
        .collect()
}

fn p(pointer: &str, code: &str) -> (String, String) {
    (pointer.to_string(), code.to_string())
}

/// A mixed batch: created, duplicate of a manifest sent alone with the same key, over the
/// approval, an unknown line, a missing and another party's application, a key reused with
/// another body, and one more created after all of them; then the whole batch again.
async fn mixed_batch_each_with_its_outcome(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    let entry = reg.confirmed_entry(&app, "HW08", "100").await;
    let app_id = approved_application(&app, &reg, "40").await;

    // Another producer of Chongqing, who must not learn of this application.
    let (s, b, _) = app
        .post_json(
            "/api/v1/enterprises",
            Some(&reg.cq),
            &json!({"name": "重庆另一化工有限公司", "uscc": uscc("500112", 3), "province": "500000",
                    "division_code": "500112", "address": "重庆市渝北区测试路3号",
                    "contact_name": "李四", "contact_phone": "023-00000001"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    app.add_user("ent-b", "enterprise", Some(b["id"].as_str().unwrap()))
        .await;
    let ent_b = app.login("ent-b").await;

    // A paper trip entered alone first, with its key.
    let paper = manifest(&app_id, &[(0, "5")]);
    let (s, first, _) = app
        .post_json_with(
            "/api/v1/manifests",
            Some(&reg.enterprise_token),
            &[("idempotency-key", "paper-1")],
            &paper,
        )
        .await;
    assert_eq!(s, 201, "{first}");

    let batch = json!({"manifests": [
        keyed(manifest(&app_id, &[(0, "10")]), "b-0"),
        keyed(paper.clone(), "paper-1"),
        keyed(manifest(&app_id, &[(0, "30")]), "b-2"),
        manifest(&app_id, &[(7, "1")]),
        keyed(manifest(MISSING, &[(0, "1")]), "b-4"),
        keyed(manifest(&app_id, &[(0, "5")]), "b-0"),
        keyed(manifest(&app_id, &[(0, "15")]), "b-6"),
    ]});
    let (s, answer, _) = app.post_json(BATCH, Some(&reg.enterprise_token), &batch).await;
    assert_eq!(s, 200, "{answer}");
    assert_eq!(
        (&answer["created"], &answer["duplicates"], &answer["refused"]),
        (&json!(2), &json!(1), &json!(4)),
        "{answer}"
    );
    assert_eq!(
        outcomes(&answer),
        vec![
            ("created".into(), None, vec![]),
            ("duplicate".into(), None, vec![]),
            (
                "refused".into(),
                Some(422),
                vec![p("/manifests/2/items/0/quantity_kg", "manifest.over_approval")]
            ),
            (
                "refused".into(),
                Some(422),
                vec![p("/manifests/3/items/0/line", "manifest.unknown_line")]
            ),
            (
                "refused".into(),
                Some(404),
                vec![p("/manifests/4/application_id", "manifest.application_not_found")]
            ),
            (
                "refused".into(),
                Some(422),
                vec![p("/manifests/5/idempotency_key", "idempotency.key_reused")]
            ),
            ("created".into(), None, vec![]),
        ]
    );
    let r = &answer["results"];
    assert_eq!(
        r[1]["manifest"]["id"], first["id"],
        "the duplicate is the first manifest"
    );
    assert_eq!(r[1]["idempotency_key"], "paper-1");
    assert_eq!(r[0]["manifest"]["items"][0]["quantity_kg"], "10.000");
    assert_eq!(r[6]["manifest"]["items"][0]["quantity_kg"], "15.000");
    assert!(
        r[2]["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("25.000 kg left"),
        "{answer}"
    );
    let year = crate::fixtures::this_year();
    assert_eq!(r[0]["manifest"]["number"], format!("{year}5001000002"));
    assert_eq!(
        r[6]["manifest"]["number"],
        format!("{year}5001000003"),
        "no serial lost to a refusal"
    );
    // Stored: three manifests (5 + 10 + 15 kg), gap-free numbers, the quantities moved once.
    let numbers: Vec<String> = (1..=3).map(|n| format!("{year}5001{n:06}")).collect();
    assert_eq!(stored(&app).await, (3, 30_000, numbers.clone()));
    assert_eq!(
        shipped(&app, &reg, &app_id, &entry).await,
        ("30.000".into(), "30.000".into())
    );

    // The whole batch again: the keyed ones are duplicates, the refused ones refused again,
    // nothing created.
    let (s, again, _) = app.post_json(BATCH, Some(&reg.enterprise_token), &batch).await;
    assert_eq!(s, 200, "{again}");
    assert_eq!(
        (&again["created"], &again["duplicates"], &again["refused"]),
        (&json!(0), &json!(3), &json!(4)),
        "{again}"
    );
    let kinds: Vec<String> = outcomes(&again).into_iter().map(|o| o.0).collect();
    assert_eq!(
        kinds,
        [
            "duplicate",
            "duplicate",
            "refused",
            "refused",
            "refused",
            "refused",
            "duplicate"
        ]
    );
    assert_eq!(again["results"][0]["manifest"]["id"], r[0]["manifest"]["id"]);
    assert_eq!(again["results"][6]["manifest"]["id"], r[6]["manifest"]["id"]);
    assert_eq!(stored(&app).await, (3, 30_000, numbers.clone()));
    assert_eq!(
        shipped(&app, &reg, &app_id, &entry).await,
        ("30.000".into(), "30.000".into())
    );

    // Another producer naming this application learns nothing: the answer of a missing one.
    let (s, other, _) = app
        .post_json(
            BATCH,
            Some(&ent_b),
            &json!({"manifests": [manifest(&app_id, &[(0, "1")]), manifest(MISSING, &[(0, "1")])]}),
        )
        .await;
    assert_eq!(s, 200, "{other}");
    let (a, b) = (&other["results"][0], &other["results"][1]);
    assert_eq!(
        (&a["status"], &a["errors"][0]["code"]),
        (&json!(404), &json!("manifest.application_not_found"))
    );
    assert_eq!(a["errors"][0]["message"], b["errors"][0]["message"]);
    assert!(!other.to_string().contains("30.000"), "{other}");
    assert_eq!(stored(&app).await.0, 3);

    // Only the producer creates manifests.
    for token in [&reg.cq, &reg.operator_token, &reg.admin] {
        let (s, body, h) = app.post_json(BATCH, Some(token), &batch).await;
        assert_eq!(assert_problem(s, &body, &h, 403), Vec::<String>::new());
    }
    assert_eq!(stored(&app).await.0, 3);
}
both_backends!(mixed_batch_each_with_its_outcome, mixed_batch_each_with_its_outcome);

/// A small manifest (short texts), so that batches of hundreds stay small.
fn compact(application_id: &str) -> Value {
    json!({"application_id": application_id, "items": [{"line": 0, "quantity_kg": "0.001"}],
           "carrier": {"name": "a", "permit_number": "p", "vehicle_plate": "渝A12345", "driver_name": "d"},
           "route_from": "a", "route_to": "b", "departure_at": chrono::Utc::now().to_rfc3339()})
}

/// A batch that does not match its schema is refused whole, every problem at once, before
/// anything is created: more than 500 manifests, a malformed field of one of them, a body over
/// the batch's own size limit (four times that of other requests).
async fn batch_limits(backend: Backend) {
    const LIMIT: usize = 48 * 1024;
    let app = TestApp::spawn_with(backend, |c| c.max_json_bytes = LIMIT).await;
    let reg = Registry::setup(&app).await;
    reg.confirmed_entry(&app, "HW08", "100").await;
    let app_id = approved_application(&app, &reg, "40").await;
    let one = compact(&app_id);

    let too_many = json!({"manifests": vec![one.clone(); 501]});
    assert!(too_many.to_string().len() < 4 * LIMIT);
    let (s, body, h) = app.post_json(BATCH, Some(&reg.enterprise_token), &too_many).await;
    assert_eq!(assert_problem(s, &body, &h, 422), vec!["body.length"]);
    assert_eq!(body["errors"][0]["pointer"], "/manifests");
    let (s, body, h) = app
        .post_json(BATCH, Some(&reg.enterprise_token), &json!({"manifests": []}))
        .await;
    assert_eq!(assert_problem(s, &body, &h, 422), vec!["body.length"]);

    // One malformed manifest refuses the batch: every problem, nothing created.
    let mut list = vec![one.clone(); 5];
    list[3]["items"][0]["quantity_kg"] = json!("0");
    list[4]["idempotency_key"] = json!("");
    list[4]["colour"] = json!("red");
    let (s, body, h) = app
        .post_json(BATCH, Some(&reg.enterprise_token), &json!({"manifests": list}))
        .await;
    assert_problem(s, &body, &h, 422);
    let pointers: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap())
        .collect();
    assert_eq!(
        pointers,
        [
            "/manifests/3/items/0/quantity_kg",
            "/manifests/4/colour",
            "/manifests/4/idempotency_key"
        ],
        "{body}"
    );
    assert_eq!(stored(&app).await.0, 0);

    // More than one ordinary request may carry, within the batch's own limit: read, and each
    // manifest answered (here: no such application).
    let size = compact(MISSING).to_string().len() + 1;
    let n = LIMIT / size + 10;
    let many = json!({"manifests": vec![compact(MISSING); n]});
    assert!(many.to_string().len() > LIMIT && many.to_string().len() < 4 * LIMIT);
    let (s, body, h) = app
        .post_json("/api/v1/manifests", Some(&reg.enterprise_token), &many)
        .await;
    assert_problem(s, &body, &h, 413);
    let (s, body, _) = app.post_json(BATCH, Some(&reg.enterprise_token), &many).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!((&body["created"], &body["refused"]), (&json!(0), &json!(n)));
    // Beyond four times the limit: 413, nothing read.
    let huge = json!({"manifests": vec![one.clone(); 4 * LIMIT / size + 10]});
    assert!(huge.to_string().len() > 4 * LIMIT);
    let (s, body, h) = app.post_json(BATCH, Some(&reg.enterprise_token), &huge).await;
    assert_problem(s, &body, &h, 413);
    assert_eq!(stored(&app).await.0, 0);
    // The same manifests in a batch within the limits are created.
    let (s, body, _) = app
        .post_json(
            BATCH,
            Some(&reg.enterprise_token),
            &json!({"manifests": vec![one.clone(); 3]}),
        )
        .await;
    assert_eq!((s, &body["created"]), (200, &json!(3)), "{body}");
    assert_eq!(stored(&app).await.0, 3);
}
both_backends!(batch_limits, batch_limits);
