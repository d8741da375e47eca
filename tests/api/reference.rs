//! Provinces and the waste catalogue through the API.

use std::collections::BTreeMap;

use crate::both_backends;
use crate::support::{Backend, TestApp, assert_problem};

#[actix_web::test]
async fn thirty_one_provinces() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (status, body, _) = app.get("/api/v1/provinces", None).await;
    assert_eq!(status, 200);
    let list = body.as_array().unwrap();
    assert_eq!(list.len(), 31);
    let cq = list.iter().find(|p| p["code"] == "500000").unwrap();
    assert_eq!(cq["name_zh"], "重庆市");
    assert_eq!(cq["short_zh"], "渝");
    for code in ["510000", "520000", "530000"] {
        assert!(list.iter().any(|p| p["code"] == code));
    }
}

async fn catalogue_counts(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (status, body, _) = app.get("/api/v1/catalogue/editions", None).await;
    assert_eq!(status, 200);
    let ed = &body[0];
    assert_eq!(ed["edition"], 2021);
    assert_eq!(ed["in_force_from"], "2021-01-01");
    assert_eq!(ed["code_count"], 467);
    let cats: BTreeMap<String, i64> = serde_json::from_value(ed["categories"].clone()).unwrap();
    assert_eq!(cats.len(), 46);
    // Against the category file, not against ourselves.
    let expected: BTreeMap<String, i64> =
        csv::Reader::from_reader(include_str!("../../data/hw-categories.csv").as_bytes())
            .records()
            .map(|r| {
                let r = r.unwrap();
                (r[0].to_string(), r[2].parse().unwrap())
            })
            .collect();
    assert_eq!(cats, expected);
    assert_eq!(cats["HW08"], 32);
    assert_eq!(cats["HW11"], 85);
    assert_eq!(cats["HW50"], 44);
    assert!(!cats.contains_key("HW41"));
}
both_backends!(catalogue_counts, catalogue_counts);

async fn waste_code_search(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    // Code prefix.
    let (status, body, _) = app.get("/api/v1/waste-codes?q=900-249", None).await;
    assert_eq!(status, 200);
    assert_eq!(body["edition"], 2021);
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["code"], "900-249-08");
    assert_eq!(items[0]["category"], "HW08");
    assert_eq!(items[0]["hazards"], serde_json::json!(["T", "I"]));
    // Chinese text.
    let (_, body, _) = app
        .get(
            "/api/v1/waste-codes?q=%E5%BA%9F%E9%93%85%E8%93%84%E7%94%B5%E6%B1%A0",
            None,
        )
        .await; // 废铅蓄电池
    let codes: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["code"].as_str().unwrap())
        .collect();
    assert!(codes.contains(&"900-052-31"), "{codes:?}");
    // LIKE wildcards in the text match literally.
    let (_, body, _) = app.get("/api/v1/waste-codes?q=%25", None).await;
    assert_eq!(body["items"].as_array().unwrap().len(), 0);
    // Category filter and keyset pagination walk the whole category exactly once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/waste-codes?category=HW11&limit=20&cursor={c}"),
            None => "/api/v1/waste-codes?category=HW11&limit=20".to_string(),
        };
        let (status, page, _) = app.get(&path, None).await;
        assert_eq!(status, 200);
        for i in page["items"].as_array().unwrap() {
            assert_eq!(i["category"], "HW11");
            seen.push(i["code"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 85);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted, seen);
}
both_backends!(waste_code_search, waste_code_search);

#[actix_web::test]
async fn waste_code_query_problems_are_all_listed() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (status, body, headers) = app
        .get(
            "/api/v1/waste-codes?category=HW42&limit=500&edition=1999&cursor=%%%&colour=red",
            None,
        )
        .await;
    if status == 400 {
        // A malformed percent-encoding is refused as a whole.
        assert_problem(status, &body, &headers, 400);
    }
    let (status, body, headers) = app
        .get(
            "/api/v1/waste-codes?category=HW42&limit=500&edition=1999&cursor=!!&colour=red",
            None,
        )
        .await;
    let codes = assert_problem(status, &body, &headers, 422);
    assert_eq!(codes.len(), 5, "{body}");
    let pointers: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap())
        .collect();
    for p in ["/category", "/limit", "/edition", "/cursor", "/colour"] {
        assert!(pointers.contains(&p), "{p} in {body}");
    }
    assert!(body["errors"].as_array().unwrap().iter().all(|e| e["in"] == "query"));
    // A well-formed edition that is not loaded does not exist.
    let (status, body, headers) = app.get("/api/v1/waste-codes?edition=2030", None).await;
    assert_problem(status, &body, &headers, 404);
}
