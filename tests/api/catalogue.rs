//! The catalogue by edition: an admin loads an edition with its successor mapping (every problem
//! by line, nothing stored on any), filings, checks and proposals use the edition in force, whitelist
//! entries follow the mapping, a missing edition in force is said loudly, and 900-000-NN codes are
//! accepted from 2025. The editions here are synthetic (see `fixtures::test_edition_codes`).

use serde_json::{Value, json};

use crate::both_backends;
use crate::fixtures::{Registry, TEST_EDITION_SOURCE, test_edition_body, this_year};
use crate::support::{Backend, TestApp, assert_problem};

fn filing(operator_id: &str, code: &str, kg: &str) -> Value {
    let y = this_year();
    json!({
        "operator_id": operator_id,
        "method": "dispose",
        "period_start": format!("{y}-12-01"),
        "period_end": format!("{}-05-31", y + 1),
        "items": [{
            "waste_code": code,
            "waste_name": "测试废物",
            "physical_form": "固态",
            "hazards": ["T"],
            "packaging": "吨袋",
            "quantity_kg": kg
        }],
        "carriers": [{"name": "重庆危运物流有限公司", "permit_number": "渝交运管许可字500000001号"}]
    })
}

async fn check(app: &TestApp, reg: &Registry, code: &str) -> Value {
    let (s, body, _) = app
        .post_json(
            "/api/v1/transfer-applications/check",
            Some(&reg.enterprise_token),
            &filing(&reg.operator_id, code, "10"),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    body
}

async fn editions(app: &TestApp) -> Vec<Value> {
    let (s, body, _) = app.get("/api/v1/catalogue/editions", None).await;
    assert_eq!(s, 200, "{body}");
    body.as_array().unwrap().clone()
}

fn refusal_codes(check: &Value) -> Vec<String> {
    check["refusals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap().to_string())
        .collect()
}

/// Every kind of problem is reported at once, each at its line, and nothing is stored; only an
/// admin loads; an edition is never loaded twice.
async fn import_reports_every_problem_and_stores_nothing(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    let year = this_year();
    let good = test_edition_body();

    // Not signed in: 401; a regulator: 403.
    let (s, body, h) = app.post_json("/api/v1/catalogue/editions", None, &good).await;
    assert_problem(s, &body, &h, 401);
    let (s, body, h) = app.post_json("/api/v1/catalogue/editions", Some(&reg.cq), &good).await;
    assert_problem(s, &body, &h, 403);

    let codes = "code,category,category_name,industry_source,description,hazard\n\
                 900-249-08,HW08,废矿物油与含矿物油废物,非特定行业,保留,T/I\n\
                 900-91-49,HW49,其他废物,非特定行业,代码格式错误,T\n\
                 900-903-49,HW48,有色金属采选和冶炼废物,非特定行业,类别与代码末两位不符,T\n\
                 900-904-41,HW41,其他废物,非特定行业,不存在的类别,T\n\
                 900-905-49,HW49,杂项废物,非特定行业,类别名称与类别表不符,T\n\
                 900-249-08,HW08,废矿物油与含矿物油废物,非特定行业,重复,T\n\
                 900-906-49,HW49,其他废物,非特定行业,危险特性错误,X\n";
    let successors = "old_code,new_code\n\
                      900-041-49,900-905-49\n\
                      999-999-49,900-905-49\n\
                      900-041-49,900-999-49\n\
                      900-041-4,900-905-49\n\
                      900-041-49,900-905-49\n";
    let bad = json!({
        "edition": year,
        "in_force_from": format!("{}-01-01", year - 1),
        "source": TEST_EDITION_SOURCE,
        "code_count": 6,
        "codes_csv": codes,
        "successors_csv": successors
    });
    let (s, body, h) = app
        .post_json("/api/v1/catalogue/editions", Some(&reg.admin), &bad)
        .await;
    assert_problem(s, &body, &h, 422);
    let found: Vec<(String, String)> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["pointer"].as_str().unwrap().to_string(),
                e["code"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for expected in [
        ("/in_force_from", "catalogue.in_force_year"),
        ("/code_count", "catalogue.count_mismatch"),
        ("/codes_csv/3/code", "waste_code.format"),
        ("/codes_csv/4/category", "catalogue.category_mismatch"),
        ("/codes_csv/5/code", "waste_code.unknown_category"),
        ("/codes_csv/5/category", "category.unknown"),
        ("/codes_csv/6/category_name", "catalogue.category_name_mismatch"),
        ("/codes_csv/7/code", "catalogue.duplicate_code"),
        ("/codes_csv/8/hazard", "hazard.unknown"),
        ("/successors_csv/3/old_code", "successors.old_code_unknown"),
        ("/successors_csv/4/new_code", "successors.new_code_unknown"),
        ("/successors_csv/5/old_code", "waste_code.format"),
        ("/successors_csv/6", "successors.duplicate"),
    ] {
        assert!(
            found.iter().any(|(p, c)| p == expected.0 && c == expected.1),
            "{expected:?} missing from {found:?}"
        );
    }
    assert!(
        body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["message"].as_str().unwrap().contains("7 rows")),
        "the count says what it found: {body}"
    );

    // A known edition must be the law's: 2025 has 470 codes and is in force from 2025-01-01.
    // (These synthetic rows could never pass for it.)
    let mut known = good.clone();
    known["edition"] = json!(2025);
    known["in_force_from"] = json!("2025-03-01");
    let (s, body, h) = app
        .post_json("/api/v1/catalogue/editions", Some(&reg.admin), &known)
        .await;
    let codes = assert_problem(s, &body, &h, 422);
    assert!(codes.contains(&"catalogue.known_count".to_string()), "{body}");
    assert!(codes.contains(&"catalogue.known_in_force".to_string()), "{body}");
    assert!(body.to_string().contains("470"), "{body}");

    // The body's own shape: unknown fields and wrong types, every one.
    let (s, body, h) = app
        .post_json(
            "/api/v1/catalogue/editions",
            Some(&reg.admin),
            &json!({"edition": "2031", "in_force_from": "2031-13-01", "source": "", "code_count": 0, "codes_csv": "", "colour": 1}),
        )
        .await;
    assert_problem(s, &body, &h, 422);
    let pointers: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap())
        .collect();
    for p in [
        "/edition",
        "/in_force_from",
        "/source",
        "/code_count",
        "/codes_csv",
        "/colour",
    ] {
        assert!(pointers.contains(&p), "{p} in {pointers:?}");
    }

    // Nothing was stored by any of these.
    let eds = editions(&app).await;
    assert_eq!(eds.len(), 1, "{eds:?}");
    assert_eq!(eds[0]["edition"], 2021);
    let (s, _, _) = app.get(&format!("/api/v1/waste-codes?edition={year}"), None).await;
    assert_eq!(s, 404);

    // The good one is stored (201), audited as the admin, and a second time is a conflict.
    let (s, body, _) = app
        .post_json("/api/v1/catalogue/editions", Some(&reg.admin), &good)
        .await;
    assert_eq!(s, 201, "{body}");
    assert_eq!(body["edition"], year);
    assert_eq!(body["code_count"], 3);
    assert_eq!(body["successor_count"], 2);
    assert_eq!(body["source"], TEST_EDITION_SOURCE);
    let (s, body, h) = app
        .post_json("/api/v1/catalogue/editions", Some(&reg.admin), &good)
        .await;
    assert_problem(s, &body, &h, 409);
    let (s, trail, _) = app
        .get(
            "/api/v1/audit/events?object_type=catalogue_edition&limit=200",
            Some(&reg.admin),
        )
        .await;
    assert_eq!(s, 200, "{trail}");
    let imported: Vec<&Value> = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["object_id"].as_str() == Some(year.to_string().as_str()))
        .collect();
    assert_eq!(imported.len(), 1, "{trail}");
    assert_eq!(imported[0]["actor_name"], "root", "{trail}");
}
both_backends!(
    import_reports_every_problem_and_stores_nothing,
    import_reports_every_problem_and_stores_nothing
);

/// While the edition in force (2025 since 2025-01-01) is not loaded, every check and filing
/// answer says so, the case records the edition used (2021), the listing shows it, and the
/// metric names the missing edition.
async fn missing_edition_in_force_is_said_loudly(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    assert!(this_year() >= 2025, "these tests assume the 2025 edition is in force");

    let c = check(&app, &reg, "900-249-08").await;
    assert_eq!(c["acceptable"], true, "{c}");
    assert_eq!(c["catalogue_edition"], 2021);
    let warnings = c["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{c}");
    assert_eq!(warnings[0]["code"], "catalogue.edition_missing");
    let message = warnings[0]["message"].as_str().unwrap();
    assert!(
        message.contains("2025") && message.contains("部令第36号") && message.contains("2021"),
        "{message}"
    );

    let (s, filed, _) = app
        .file_confirmed(&reg.enterprise_token, &filing(&reg.operator_id, "900-249-08", "10"))
        .await;
    assert_eq!(s, 201, "{filed}");
    assert_eq!(filed["catalogue_edition"], 2021);
    assert_eq!(filed["warnings"][0]["code"], "catalogue.edition_missing", "{filed}");
    let id = filed["id"].as_str().unwrap();
    let (s, case, _) = app
        .get(&format!("/api/v1/transfer-applications/{id}"), Some(&reg.cq))
        .await;
    assert_eq!(s, 200, "{case}");
    assert_eq!(case["catalogue_edition"], 2021);
    assert_eq!(case["warnings"][0]["code"], "catalogue.edition_missing", "{case}");

    let eds = editions(&app).await;
    assert_eq!(eds.len(), 1);
    assert_eq!(eds[0]["used_today"], true);
    assert_eq!(eds[0]["in_force_today"], false, "2021 is repealed: {eds:?}");
    assert_eq!(eds[0]["code_count"], 467);
    assert_eq!(eds[0]["successor_count"], 0);

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
        metrics.contains("hwtransfer_catalogue_edition_missing 2025"),
        "{metrics}"
    );

    // Once an edition in force today is loaded, the warnings, the listing and the metric follow.
    let (s, body, _) = app
        .post_json("/api/v1/catalogue/editions", Some(&reg.admin), &test_edition_body())
        .await;
    assert_eq!(s, 201, "{body}");
    let c = check(&app, &reg, "900-249-08").await;
    assert_eq!(c["catalogue_edition"], this_year());
    assert_eq!(c["warnings"], json!([]), "{c}");
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("hwtransfer_catalogue_edition_missing 0"), "{metrics}");
}
both_backends!(
    missing_edition_in_force_is_said_loudly,
    missing_edition_in_force_is_said_loudly
);

/// After an edition is loaded, filings, checks and proposals use it: its new codes are accepted,
/// its removed codes refused, the case records it; an entry scoped to a removed code covers the
/// codes that succeed it.
async fn loaded_edition_governs_filings_and_entries_follow_the_mapping(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    let year = this_year();
    // An entry agreed under the 2021 edition, scoped to 900-041-49.
    let entry = reg.confirmed_entry(&app, "900-041-49", "100").await;
    let before = check(&app, &reg, "900-041-49").await;
    assert_eq!(before["route"], "whitelist", "{before}");
    let before = check(&app, &reg, "900-901-49").await;
    assert_eq!(
        refusal_codes(&before),
        vec!["application.unknown_code"],
        "not a 2021 code: {before}"
    );

    let (s, body, _) = app
        .post_json("/api/v1/catalogue/editions", Some(&reg.admin), &test_edition_body())
        .await;
    assert_eq!(s, 201, "{body}");
    let eds = editions(&app).await;
    let by_year = |y: i32| eds.iter().find(|e| e["edition"] == y).unwrap().clone();
    assert_eq!(by_year(year)["in_force_today"], true);
    assert_eq!(by_year(year)["used_today"], true);
    assert_eq!(by_year(year)["successor_count"], 2);
    assert_eq!(by_year(2021)["used_today"], false);

    // The removed code is refused now; a kept code is still fine.
    let removed = check(&app, &reg, "900-041-49").await;
    assert_eq!(refusal_codes(&removed), vec!["application.unknown_code"], "{removed}");
    assert!(
        removed["refusals"][0]["message"]
            .as_str()
            .unwrap()
            .contains(&year.to_string())
    );
    let kept = check(&app, &reg, "900-249-08").await;
    assert_eq!(kept["acceptable"], true, "{kept}");

    // A new code is accepted and, as a successor of 900-041-49, draws on that entry.
    let split = check(&app, &reg, "900-902-49").await;
    assert_eq!(split["acceptable"], true, "{split}");
    assert_eq!(split["route"], "whitelist", "{split}");
    assert_eq!(split["items"][0]["entry_id"], entry.as_str());
    assert_eq!(split["catalogue_edition"], year);
    let (s, filed, _) = app
        .post_json(
            "/api/v1/transfer-applications",
            Some(&reg.enterprise_token),
            &filing(&reg.operator_id, "900-901-49", "30"),
        )
        .await;
    assert_eq!(s, 201, "{filed}");
    assert_eq!(filed["route"], "whitelist", "{filed}");
    assert_eq!(filed["items"][0]["entry_id"], entry.as_str());
    assert_eq!(filed["catalogue_edition"], year);
    assert_eq!(filed["warnings"], json!([]));
    let (_, usage, _) = app
        .get(&format!("/api/v1/whitelist-entries/{entry}/usage"), Some(&reg.cq))
        .await;
    assert_eq!(usage["reserved_kg"], "30.000", "{usage}");
    // The producer finds the operator for the new code too.
    let (s, eligible, _) = app
        .get(
            "/api/v1/whitelist-entries/eligible-operators?code=900-902-49",
            Some(&reg.enterprise_token),
        )
        .await;
    assert_eq!(s, 200, "{eligible}");
    assert_eq!(eligible[0]["entry_id"], entry.as_str(), "{eligible}");

    // Proposals: a new code is fine, a removed one is not.
    let (s, body) = reg.propose(&app, &reg.cq, "900-902-49", "5").await;
    assert_eq!(s, 201, "{body}");
    let (s, body) = reg.propose(&app, &reg.cq, "900-041-49", "5").await;
    assert_eq!(s, 422, "{body}");
    assert_eq!(body["errors"][0]["code"], "entry.unknown_code", "{body}");
}
both_backends!(
    loaded_edition_governs_filings_and_entries_follow_the_mapping,
    loaded_edition_governs_filings_and_entries_follow_the_mapping
);

/// 2025 第6条: waste identified as hazardous by testing takes 900-000-NN, which no table lists;
/// filings, checks and proposals accept it (today is after 2025-01-01), whatever edition is loaded.
async fn codes_identified_by_testing_are_accepted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    let c = check(&app, &reg, "900-000-49").await;
    assert_eq!(c["acceptable"], true, "{c}");
    assert_eq!(refusal_codes(&c), Vec::<String>::new());
    // An ordinary code the table does not list is still refused.
    let c = check(&app, &reg, "900-001-49").await;
    assert_eq!(refusal_codes(&c), vec!["application.unknown_code"], "{c}");
    let (s, body) = reg.propose(&app, &reg.cq, "900-000-49", "5").await;
    assert_eq!(s, 201, "{body}");
    // Proposed, not confirmed: the standard route, confirmed by the client.
    let (s, filed, _) = app
        .file_confirmed(&reg.enterprise_token, &filing(&reg.operator_id, "900-000-49", "1"))
        .await;
    assert_eq!(s, 201, "{filed}");
    assert_eq!(filed["items"][0]["waste_code"], "900-000-49");
}
both_backends!(
    codes_identified_by_testing_are_accepted,
    codes_identified_by_testing_are_accepted
);
