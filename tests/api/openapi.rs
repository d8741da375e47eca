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

/// utoipa names a schema after its type: two types of one name collapse into one schema, and a
/// client that follows the document sends the wrong body (the filing's carrier once came out as
/// the manifest's). Every type that derives `ToSchema` must have a name of its own.
#[test]
fn schema_names_are_unique() {
    fn walk(dir: &std::path::Path, names: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, names);
                continue;
            }
            let code = std::fs::read_to_string(&path).unwrap();
            let mut derives = false;
            for line in code.lines() {
                let t = line.trim();
                if t.starts_with("#[derive(") && t.contains("ToSchema") {
                    derives = true;
                } else if derives && (t.starts_with("pub struct ") || t.starts_with("pub enum ")) {
                    let name: String = t
                        .split_whitespace()
                        .nth(2)
                        .unwrap()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    names.push((name, path.display().to_string()));
                    derives = false;
                } else if !t.starts_with("#[") && !t.starts_with("///") {
                    derives = false;
                }
            }
        }
    }
    let mut names = Vec::new();
    walk(
        &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"),
        &mut names,
    );
    assert!(names.len() > 50, "found {} schema types", names.len());
    names.sort();
    let dupes: Vec<_> = names.windows(2).filter(|w| w[0].0 == w[1].0).collect();
    assert!(dupes.is_empty(), "schema names used twice: {dupes:?}");
}
