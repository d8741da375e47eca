//! Bad input answers problem+json, never internal text; every response carries x-request-id;
//! a lost database answers 503 with Retry-After.

use crate::support::{Backend, TestApp, TestDb, assert_problem, split, test_config};

#[actix_web::test]
async fn malformed_bodies_and_unknown_routes() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let url = app.url("/api/v1/auth/token");
    let cases: Vec<(&str, &str, u16)> = vec![
        ("application/json", "{\"username\":", 400),
        ("application/json", "[1,2", 400),
        ("application/json", "", 400),
        ("text/plain", "{\"username\":\"a\",\"password\":\"b\"}", 415),
        ("application/json", "[]", 422),
        ("application/json", "\"just a string\"", 422),
        ("application/json", "{\"username\":\"\\u0000\",\"password\":null}", 422),
    ];
    for (ct, body, expected) in cases {
        let res = app
            .client
            .post(&url)
            .header("content-type", ct)
            .body(body)
            .send()
            .await
            .unwrap();
        let (status, json, headers) = split(res).await;
        assert_problem(status, &json, &headers, expected);
        let text = json.to_string().to_lowercase();
        for leak in ["sql", "diesel", "panicked", "actix", "serde"] {
            assert!(!text.contains(leak), "{leak} leaked: {json}");
        }
    }
    // Too large.
    let huge = format!(
        "{{\"username\":\"{}\",\"password\":\"x\"}}",
        "a".repeat(2 * 1024 * 1024)
    );
    let res = app
        .client
        .post(&url)
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .unwrap();
    let (status, json, headers) = split(res).await;
    assert_problem(status, &json, &headers, 413);
    assert!(json["detail"].as_str().unwrap().contains("too large"));

    let (status, json, headers) = app.get("/api/v1/no-such-thing", None).await;
    assert_problem(status, &json, &headers, 404);
    let (status, json, headers) = app.get("/nowhere", None).await;
    assert_problem(status, &json, &headers, 404);

    // A documented path with a method it does not have: 405 with the methods it has; OPTIONS
    // lists the same.
    let res = app.client.delete(app.url("/api/v1/auth/token")).send().await.unwrap();
    let (status, json, headers) = split(res).await;
    assert_problem(status, &json, &headers, 405);
    assert_eq!(headers.get("allow").unwrap(), "POST, OPTIONS");
    let res = app
        .client
        .patch(app.url("/api/v1/transfer-applications/any-id"))
        .send()
        .await
        .unwrap();
    let (status, _, headers) = split(res).await;
    assert_eq!(status, 405);
    assert_eq!(headers.get("allow").unwrap(), "GET, OPTIONS");
    let res = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/v1/calendar/2026"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(res.headers().get("allow").unwrap(), "GET, PUT, OPTIONS");
}

#[actix_web::test]
async fn request_ids_are_echoed_or_generated() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let res = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers().get("x-request-id").unwrap(), "abc-123");
    // An unusable caller id is replaced.
    let res = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "bad id; drop")
        .send()
        .await
        .unwrap();
    let id = res.headers().get("x-request-id").unwrap().to_str().unwrap().to_string();
    assert_ne!(id, "bad id; drop");
    assert_eq!(id.len(), 36);
    let (_, body, headers) = app.get("/api/v1/waste-codes?limit=0", None).await;
    assert_eq!(
        body["request_id"].as_str(),
        headers.get("x-request-id").unwrap().to_str().ok()
    );
    let res = app.client.get(app.url("/api/v1/provinces")).send().await.unwrap();
    assert!(res.headers().get("x-request-id").is_some());
    assert_eq!(res.headers().get("x-content-type-options").unwrap(), "nosniff");
}

#[actix_web::test]
async fn database_unavailable_answers_503() {
    // A PostgreSQL URL where nothing listens: the service starts, and requests that need the
    // database answer 503 + Retry-After instead of hanging or 500.
    let db = TestDb::new(Backend::Sqlite);
    let mut config = test_config(&db);
    config.database_url = "postgres://postgres@127.0.0.1:9/nowhere".into();
    config.pool_timeout_secs = 1;
    let state = hwtransfer::app::AppState::new(config).unwrap();
    let state = actix_web::web::Data::new(state);
    let (server, addr) = hwtransfer::app::start_server(state, "127.0.0.1:0").unwrap();
    actix_web::rt::spawn(server);
    let client = reqwest::Client::new();
    for path in [
        "/readyz",
        "/api/v1/waste-codes",
        "/api/v1/calendar/working-days?from=2025-01-01&add=1",
    ] {
        let res = client.get(format!("http://{addr}{path}")).send().await.unwrap();
        let (status, body, headers) = split(res).await;
        assert_problem(status, &body, &headers, 503);
        assert_eq!(headers.get("retry-after").unwrap(), "5", "{path}");
        assert!(!body.to_string().contains("9/nowhere"), "no connection details leak");
    }
    // Liveness does not depend on the database.
    let res = client.get(format!("http://{addr}/healthz")).send().await.unwrap();
    assert_eq!(res.status(), 200);
}
