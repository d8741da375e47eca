//! The committed openapi/openapi.json is what the code generates. Regenerate with
//! `cargo run -- openapi > openapi/openapi.json` (or `UPDATE_OPENAPI=1 cargo nextest run openapi`).

#[test]
fn committed_openapi_matches_the_code() {
    let generated = hwtransfer::app::openapi().to_pretty_json().unwrap() + "\n";
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi/openapi.json");
    if std::env::var("UPDATE_OPENAPI").is_ok() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "openapi/openapi.json differs from the code; run `cargo run -- openapi > openapi/openapi.json`"
    );
    let doc: serde_json::Value = serde_json::from_str(&generated).unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/api/v1/provinces",
        "/api/v1/waste-codes",
        "/api/v1/calendar/working-days",
        "/api/v1/calendar/{year}",
        "/api/v1/auth/token",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(doc["paths"].get(path).is_some(), "{path} missing from the document");
    }
}
