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

/// The patterns the document publishes accept exactly what the server's parsers accept, checked
/// over every category number and samples of each form.
#[test]
fn published_patterns_agree_with_the_parsers() {
    use hwtransfer::domain::catalogue::{WASTE_CATEGORY_PATTERN, WASTE_CODE_PATTERN, WasteCategory, WasteCode};
    use hwtransfer::service::applications::queue::{QUEUE_CURSOR_PATTERN, QueueCursor};
    let category = regex_lite::Regex::new(WASTE_CATEGORY_PATTERN).unwrap();
    let code = regex_lite::Regex::new(WASTE_CODE_PATTERN).unwrap();
    for n in 0..=99 {
        let c = format!("HW{n:02}");
        assert_eq!(category.is_match(&c), WasteCategory::parse(&c).is_ok(), "{c}");
        let w = format!("900-041-{n:02}");
        assert_eq!(code.is_match(&w), WasteCode::parse(&w).is_ok(), "{w}");
    }
    for s in [
        "hw08",
        "HW8",
        "HW008",
        " HW08",
        "900-41-08",
        "900-041-8",
        "A00-041-08",
        "900_041_08",
    ] {
        assert!(!category.is_match(s) && WasteCategory::parse(s).is_err(), "{s}");
        assert!(!code.is_match(s) && WasteCode::parse(s).is_err(), "{s}");
    }
    let date = regex_lite::Regex::new(hwtransfer::domain::calendar::DATE_PATTERN).unwrap();
    for s in [
        "2026-12-02",
        "2000-01-01",
        "2100-12-31",
        "1999-12-31",
        "2101-01-01",
        "2026-13-01",
        "2026-00-10",
        "2026-1-01",
        "2026-01-32",
        "2026-01-00",
        "26-01-01",
        " 2026-01-01",
        "2026-01-01T00:00:00",
    ] {
        // format: date rules out impossible days (2026-02-30), which the pattern lets through.
        assert_eq!(
            date.is_match(s),
            hwtransfer::domain::calendar::parse_date(s).is_ok(),
            "{s}"
        );
    }
    use hwtransfer::service::manifests::{PLATE_PATTERN, parse_plate};
    let plate = regex_lite::Regex::new(PLATE_PATTERN).unwrap();
    for s in [
        "渝A12345",
        "川AD12345",
        "渝A1234挂",
        "渝A12345挂",
        "渝a12345",
        "渝A1234",
        "渝A123456789",
        "AA12345",
        " 渝A12345",
        "渝A12挂45",
        "渝A12345 ",
        "渝-12345",
        "渝AB1234挂",
    ] {
        assert_eq!(plate.is_match(s), parse_plate(s).is_ok(), "{s}");
    }
    let scope = regex_lite::Regex::new(&hwtransfer::service::whitelist::proposals::scope_pattern()).unwrap();
    for s in [
        "HW08",
        "900-041-49",
        "HW8",
        "HW51",
        "900-041-51",
        "hw08",
        "HW08 ",
        "900-041-49/HW08",
        "",
    ] {
        let parsed = hwtransfer::domain::whitelist::EntryScope::parse(s).is_ok();
        assert_eq!(scope.is_match(s), parsed, "{s}");
    }
    // The changes feed's cursor: the decimal seq, at most 15 digits.
    use hwtransfer::service::changes::{CURSOR_PATTERN, Cursor};
    let cursor = regex_lite::Regex::new(CURSOR_PATTERN).unwrap();
    for s in [
        "0",
        "1042",
        "999999999999999",
        "1000000000000000",
        "-1",
        "+1",
        "1.0",
        "",
        " 1",
        "1 ",
        "abc",
    ] {
        assert_eq!(cursor.is_match(s), Cursor::parse(s).is_ok(), "{s}");
    }
    // A USCC's pattern is its shape; the check character is checked beyond it, so every code the
    // parser takes matches, and every misshapen one is refused by both.
    use hwtransfer::domain::ids::Uscc;
    let uscc = regex_lite::Regex::new(hwtransfer::service::registry::USCC_PATTERN).unwrap();
    assert!(Uscc::parse("91500000MA5U8X1E63").is_ok() && uscc.is_match("91500000MA5U8X1E63"));
    assert!(uscc.is_match("91500000ma5u8x1e63") && Uscc::parse("91500000ma5u8x1e63").is_ok());
    for s in [
        "91500000MA5U8X1E6",
        "91500000MA5U8X1E6KK",
        "915000O0MA5U8X1E6K",
        "91500000MA5U8X1I6K",
        " 91500000MA5U8X1E6K",
    ] {
        assert!(!uscc.is_match(s) && Uscc::parse(s).is_err(), "{s}");
    }
    use hwtransfer::service::webhooks::{URL_PATTERN, parse_url};
    let url = regex_lite::Regex::new(URL_PATTERN).unwrap();
    for s in [
        "https://erp.example.org/hooks",
        "https://erp.example.org:8443/hooks?x=1",
        "https://xn--fiqs8s.example/h",
        "https://a",
        "https://a.1",
        "https://10.0.0.1/h",
        "https://erp.example.org:65536/h",
        "https://erp.example.org/h#x",
        "https://u:p@erp.example.org/h",
        "https://\u{e1}/?",
        "https://erp.example.org/a b",
        "https://erp.example.org/a%20b",
        "https://erp.example.org/a%2",
        "https://iXrp/`H>E<Lf?k>07",
        "http://erp.example.org/h",
        "ftp://erp.example.org/h",
    ] {
        assert_eq!(url.is_match(s), parse_url(s, false).is_ok(), "{s}");
    }
    let queue = regex_lite::Regex::new(QUEUE_CURSOR_PATTERN).unwrap();
    for s in [
        "-~a",
        "0~a",
        "1767225600123456~01a233ca-5b33-7246-b3fb-f32002c63276",
        "~a",
        "-~",
        "x~a",
        "12345678901234567~a",
        "1~a|b",
        "1~a~b",
        "-1~a",
        "1~é",
    ] {
        assert_eq!(queue.is_match(s), QueueCursor::parse(s).is_ok(), "{s}");
    }
}

/// The published text rule is the domain's `text` (here for the 2000 characters of a step).
#[test]
fn the_text_pattern_is_the_text_rule() {
    use hwtransfer::domain::error::text_pattern;
    use hwtransfer::domain::workflow::step_text;
    let re = regex_lite::Regex::new(&text_pattern(2000)).unwrap();
    let long = "字".repeat(2000);
    let too_long = "字".repeat(2001);
    let padded = format!("  {long} \n");
    for s in [
        "缺少危险废物经营许可证复印件",
        "a",
        " a ",
        "a b",
        "",
        "   ",
        "a\nb",
        "\ta\t",
        "a\u{7}",
        "a\u{85}b",
        long.as_str(),
        too_long.as_str(),
        padded.as_str(),
    ] {
        assert_eq!(re.is_match(s), step_text(s).is_ok(), "{s:?}");
    }
}

/// The published quantity pattern is `Quantity::parse_kg_or_zero`.
#[test]
fn the_quantity_pattern_is_the_quantity_rule() {
    use hwtransfer::domain::quantity::{KG_OR_ZERO_PATTERN, Quantity};
    let re = regex_lite::Regex::new(KG_OR_ZERO_PATTERN).unwrap();
    for s in [
        "0",
        "0.0",
        "12",
        "12.5",
        "12.500",
        "12.5000",
        "007.1",
        "999999999.999",
        "1000000000",
        "1000000000.000",
        "1000000000.001",
        "1000000001",
        "10000000000",
        "",
        ".5",
        "5.",
        "-1",
        "1e3",
        " 1",
        "1,5",
        "00000000001000000000",
    ] {
        assert_eq!(re.is_match(s), Quantity::parse_kg_or_zero(s).is_ok(), "{s:?}");
    }
    let positive = regex_lite::Regex::new(hwtransfer::domain::quantity::KG_PATTERN).unwrap();
    for s in [
        "0",
        "0.0",
        "000",
        "0.000",
        "0.001",
        "0.01",
        "0.010",
        "0.1",
        "0.5",
        "00.5",
        "1",
        "12.5",
        "007.1",
        "999999999.999",
        "1000000000",
        "1000000000.000",
        "1000000000.001",
        "1000000001",
        "",
        ".5",
        "5.",
        "-1",
        "1e3",
        " 1",
        "0.0001",
        "0.00",
    ] {
        assert_eq!(positive.is_match(s), Quantity::parse_kg(s).is_ok(), "{s:?}");
    }
}
