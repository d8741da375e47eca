//! Health, readiness, metrics and the docs page.

use crate::both_backends;
use crate::support::{Backend, TestApp};

async fn health_ready_metrics(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (status, body, _) = app.get("/healthz", None).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ok")));
    let (status, body, _) = app.get("/readyz", None).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("ready")));
    app.get("/api/v1/provinces", None).await;
    app.get("/api/v1/waste-codes?limit=0", None).await;
    let res = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    assert!(
        text.contains(r#"hwtransfer_http_requests_total{method="GET",route="/api/v1/provinces",status="200"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"route="/api/v1/waste-codes",status="422"} 1"#),
        "{text}"
    );
    assert!(text.contains("hwtransfer_http_request_duration_seconds_bucket"));
    assert!(text.contains("hwtransfer_db_pool_connections"));
    assert!(text.contains("hwtransfer_db_pool_idle"));
    assert!(text.contains("hwtransfer_db_pool_waiting 0"));
    assert!(text.contains("hwtransfer_db_write_transactions_waiting 0"), "{text}");
    assert!(text.contains("hwtransfer_db_write_transactions_running "), "{text}");
}
both_backends!(health_ready_metrics, health_ready_metrics);

#[actix_web::test]
async fn docs_page_is_served_from_the_binary() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let res = app.client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("swagger"), "{html}");
    assert!(
        !html.contains("unpkg.com") && !html.contains("cdn."),
        "assets must be embedded"
    );
    let res = app.client.get(app.url("/api/openapi.json")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let doc: serde_json::Value = res.json().await.unwrap();
    assert!(doc["paths"]["/api/v1/auth/token"]["post"].is_object());
}
