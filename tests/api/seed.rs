//! The demo seed's applications, loaded by the real binary: every reachable state on both routes,
//! steps due today and overdue ones, approval numbers, idempotence, and a quota ledger that
//! matches the applications gram for gram.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use chrono::Datelike;
use serde_json::Value;

use crate::both_backends;
use crate::support::{Backend, TestApp, TestDb};
use hwtransfer::domain::workflow::{Route, Status, TRANSITIONS};

fn seed(db: &TestDb) {
    seed_with(db, &[]);
}

fn seed_with(db: &TestDb, env: &[(&str, &str)]) {
    let out = Command::new(env!("CARGO_BIN_EXE_hwtransfer"))
        .args(["seed", "--demo"])
        .envs(env.iter().copied())
        .env("HWT_DATABASE_URL", &db.url)
        .env("HWT_DATA_DIR", db.dir.path().join("data"))
        .env("HWT_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "seed --demo failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// "12.345" → 12345 grams, exactly.
fn grams(kg: &str) -> i64 {
    let (int, frac) = kg.split_once('.').unwrap_or((kg, ""));
    assert!(
        frac.len() <= 3 && frac.chars().all(|c| c.is_ascii_digit()),
        "quantity {kg}"
    );
    int.parse::<i64>().unwrap() * 1000 + format!("{frac:0<3}").parse::<i64>().unwrap()
}

/// Every page of a list endpoint (`items` + `next_cursor`).
pub(crate) async fn all(app: &TestApp, token: &str, path: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}&cursor={c}"),
            None => path.to_string(),
        };
        let (s, page, _) = app.get(&url, Some(token)).await;
        assert_eq!(s, 200, "{url}: {page}");
        out.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return out,
        }
    }
}

/// 渝危转〔2026〕0001号: the source province's short name, a year, a four-digit serial.
fn approval_number_ok(number: &str, source_province: &str) -> bool {
    let short = match source_province {
        "500000" => "渝",
        "510000" => "川",
        "520000" => "黔",
        "530000" => "滇",
        _ => return false,
    };
    let Some(rest) = number.strip_prefix(&format!("{short}危转〔")) else {
        return false;
    };
    let Some((year, rest)) = rest.split_once('〕') else {
        return false;
    };
    let Some(serial) = rest.strip_suffix('号') else {
        return false;
    };
    year.len() == 4
        && year.chars().all(|c| c.is_ascii_digit())
        && serial.len() == 4
        && serial.chars().all(|c| c.is_ascii_digit())
}

fn open_status(s: &str) -> bool {
    Status::parse(s).unwrap().is_open()
}

async fn demo_applications(backend: Backend) {
    let db = TestDb::new(backend);
    seed(&db);
    let app = TestApp::start(TestDb::reuse(&db), crate::support::test_config(&db)).await;
    let admin = app.login_with("admin", "demo-pass-2026").await;
    let first = all(&app, &admin, "/api/v1/transfer-applications?limit=200").await;
    seed(&db);
    let apps = all(&app, &admin, "/api/v1/transfer-applications?limit=200").await;
    let ids =
        |list: &[Value]| -> BTreeSet<String> { list.iter().map(|a| a["id"].as_str().unwrap().to_string()).collect() };
    assert_eq!(apps.len(), first.len(), "the second seed created nothing");
    assert_eq!(ids(&apps), ids(&first));

    let now = chrono::Utc::now();
    let today = hwtransfer::domain::calendar::shanghai_date(now);

    // Every state a case can reach (submitted, and every transition's target; `accepted` has no
    // way in), on each route where the table lets it be reached.
    let seen: BTreeSet<(String, String)> = apps
        .iter()
        .map(|a| {
            (
                a["route"].as_str().unwrap().to_string(),
                a["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let statuses: BTreeSet<&str> = seen.iter().map(|(_, s)| s.as_str()).collect();
    let routes: BTreeSet<&str> = seen.iter().map(|(r, _)| r.as_str()).collect();
    // A case filed in a year without an agreement takes the standard route, so the per-route
    // demand holds only when the whole demo lies in this year.
    let all_this_year = apps.iter().all(|a| {
        let received = chrono::DateTime::parse_from_rfc3339(a["received_at"].as_str().unwrap()).unwrap();
        hwtransfer::domain::calendar::shanghai_date(received.with_timezone(&chrono::Utc)).year() == today.year()
    });
    for status in Status::ALL {
        let reachable_on = |route: Route| {
            status == Status::Submitted
                || TRANSITIONS
                    .iter()
                    .any(|t| t.to == status && t.route.is_none_or(|r| r == route))
        };
        if reachable_on(Route::Whitelist) || reachable_on(Route::Standard) {
            assert!(
                statuses.contains(status.as_str()),
                "no demo application is {}: {statuses:?}",
                status.as_str()
            );
        }
        for route in [Route::Whitelist, Route::Standard] {
            if all_this_year && reachable_on(route) {
                assert!(
                    seen.contains(&(route.as_str().to_string(), status.as_str().to_string())),
                    "no {} application on the {} route: {seen:?}",
                    status.as_str(),
                    route.as_str()
                );
            }
        }
    }
    assert_eq!(routes, BTreeSet::from(["standard", "whitelist"]), "both routes");

    // Due today (a deadline falls on a working day: on a weekend or holiday, the next one), and
    // overdue.
    let cal = hwtransfer::domain::calendar::embedded_calendar();
    let mut due_day = today;
    while !cal.is_working_day(due_day).0 {
        due_day = due_day.succ_opt().unwrap();
    }
    let open_steps: Vec<&Value> = apps
        .iter()
        .flat_map(|a| a["steps"].as_array().unwrap())
        .filter(|s| s["completed_at"].is_null())
        .collect();
    assert!(
        open_steps
            .iter()
            .filter(|s| s["due_on"] == due_day.to_string().as_str())
            .count()
            >= 2,
        "steps due on {due_day}: {open_steps:?}"
    );
    assert!(
        open_steps.iter().filter(|s| s["overdue"] == true).count() >= 2,
        "overdue steps: {open_steps:?}"
    );
    assert!(
        apps.iter()
            .any(|a| a["deemed_accepted"] == true && a["status"] == "under_review"),
        "a case deemed accepted by the sweep"
    );

    for a in &apps {
        let status = a["status"].as_str().unwrap();
        let source = a["source_province"].as_str().unwrap();
        assert_ne!(source, a["receiving_province"], "cross-provincial: {a}");
        match status {
            "approved" | "expired" => {
                let number = a["approval"]["number"].as_str().unwrap_or_default();
                assert!(approval_number_ok(number, source), "approval number {number:?}: {a}");
                let valid_until = a["approval"]["valid_until"].as_str().unwrap();
                if status == "approved" {
                    assert!(valid_until >= today.to_string().as_str(), "{a}");
                } else {
                    assert!(valid_until < today.to_string().as_str(), "{a}");
                }
            }
            "revoked" => {
                let number = a["approval"]["number"].as_str().unwrap_or_default();
                assert!(approval_number_ok(number, source), "approval number {number:?}: {a}");
                assert!(a["approval"]["revoked_at"].is_string(), "{a}");
                assert!(
                    !a["approval"]["revocation_reasons"].as_array().unwrap().is_empty(),
                    "{a}"
                );
            }
            "correction_requested" => {
                assert!(!a["correction_notice"].as_array().unwrap().is_empty(), "{a}");
            }
            "refused" => {
                let refusal = a["decisions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .find(|d| d["outcome"] == "refuse")
                    .unwrap_or_else(|| panic!("no refusal: {a}"));
                assert!(!refusal["reasons"].as_array().unwrap().is_empty(), "{a}");
            }
            _ => assert!(a["approval"].is_null(), "{a}"),
        }
        // Open cases have one running step per province that must still act (on the whitelist
        // route with the consent policy, the two provinces' decisions run side by side until
        // each decides); closed ones none.
        let running: Vec<&str> = a["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["completed_at"].is_null())
            .map(|s| s["side"].as_str().unwrap())
            .collect();
        let decided = |side: &str| a["decisions"].as_array().unwrap().iter().any(|d| d["side"] == side);
        let expected = if !open_status(status) || status == "correction_requested" {
            0
        } else if a["route"] == "whitelist" && status == "under_review" && a["receiving_consent"] == "consent" {
            usize::from(!decided("source")) + usize::from(!decided("receiving"))
        } else {
            1
        };
        assert_eq!(running.len(), expected, "{a}");
        // A refusal that ended a case is a numbered decision document.
        if status == "refused" || status == "not_accepted" {
            assert!(
                a["refusal"]["number"].as_str().is_some_and(|n| n.contains("危转不")),
                "{a}"
            );
        }
    }
    // The new states of the standard route: a refusing reply waiting for the source's final
    // decision, a source refusal after a refusing reply, and 不予受理 on both routes.
    assert!(
        apps.iter().any(|a| a["status"] == "receiving_replied"
            && a["decisions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["side"] == "receiving" && d["outcome"] == "refuse")),
        "a refusing reply waiting for the source's decision"
    );
    assert!(
        apps.iter().any(|a| a["status"] == "refused"
            && a["route"] == "standard"
            && a["refusal"]["receiving_opinion"]["outcome"] == "refuse"),
        "a source refusal after a refusing reply"
    );
    assert!(
        apps.iter()
            .filter(|a| a["enterprise_id"] == "demo-producer-cq")
            .any(|a| a["approval"]["number"]
                .as_str()
                .is_some_and(|n| n.starts_with("渝危转〔"))),
        "渝危转 numbers for the Chongqing producer"
    );

    // The quota ledger: reserved = the open cases' items on the entry, approved = the approved
    // cases' items on it (refused, withdrawn and expired ones released theirs).
    let mut reserved: BTreeMap<String, i64> = BTreeMap::new();
    let mut approved: BTreeMap<String, i64> = BTreeMap::new();
    for a in &apps {
        let status = a["status"].as_str().unwrap();
        for item in a["items"].as_array().unwrap() {
            let Some(entry) = item["entry_id"].as_str() else {
                assert_eq!(a["route"], "standard", "{a}");
                continue;
            };
            assert_eq!(a["route"], "whitelist", "{a}");
            let g = grams(item["quantity_kg"].as_str().unwrap());
            if open_status(status) {
                *reserved.entry(entry.to_string()).or_default() += g;
            } else if status == "approved" {
                *approved.entry(entry.to_string()).or_default() += g;
            }
        }
    }
    assert!(
        !reserved.is_empty() && !approved.is_empty(),
        "the ledger check checks something"
    );
    let entries = all(&app, &admin, "/api/v1/whitelist-entries?limit=200").await;
    assert!(!entries.is_empty());
    for e in &entries {
        let id = e["id"].as_str().unwrap();
        let (s, usage, _) = app
            .get(&format!("/api/v1/whitelist-entries/{id}/usage"), Some(&admin))
            .await;
        assert_eq!(s, 200, "{usage}");
        assert_eq!(
            grams(usage["reserved_kg"].as_str().unwrap()),
            reserved.get(id).copied().unwrap_or(0),
            "reserved on {id}: {usage}"
        );
        assert_eq!(
            grams(usage["approved_kg"].as_str().unwrap()),
            approved.get(id).copied().unwrap_or(0),
            "approved on {id}: {usage}"
        );
        assert!(grams(usage["remaining_kg"].as_str().unwrap()) >= 0, "{usage}");
    }
}
both_backends!(demo_applications, demo_applications);

/// The demo seed and the sweep command take deadlines to the configured office close
/// (`HWT_OFFICE_CLOSE`), like the service: every open step of the seeded cases ends at 23:59:59
/// Shanghai time when so configured, and a sweep run by the binary keeps it.
async fn seed_and_sweep_honour_the_office_close(backend: Backend) {
    let db = TestDb::new(backend);
    let close = [("HWT_OFFICE_CLOSE", "23:59:59")];
    seed_with(&db, &close);
    let out = Command::new(env!("CARGO_BIN_EXE_hwtransfer"))
        .args(["sweep"])
        .envs(close.iter().copied())
        .env("HWT_DATABASE_URL", &db.url)
        .env("HWT_DATA_DIR", db.dir.path().join("data"))
        .env("HWT_LOG", "warn")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let app = TestApp::start(TestDb::reuse(&db), crate::support::test_config(&db)).await;
    app.add_user("aud", "auditor", None).await;
    let token = app.login("aud").await;
    let apps = all(&app, &token, "/api/v1/transfer-applications?limit=200").await;
    let mut open = 0;
    for a in &apps {
        for s in a["steps"].as_array().unwrap() {
            let at = chrono::DateTime::parse_from_rfc3339(s["due_at"].as_str().unwrap()).unwrap();
            let local = at.with_timezone(&chrono_tz::Asia::Shanghai).time();
            assert_eq!(local, chrono::NaiveTime::from_hms_opt(23, 59, 59).unwrap(), "{s}");
            open += usize::from(s["completed_at"].is_null());
        }
    }
    assert!(open > 5, "the demo has open steps: {open}");
}
both_backends!(
    seed_and_sweep_honour_the_office_close,
    seed_and_sweep_honour_the_office_close
);

/// The demo shows every regime of issue 17 and a case in each new state: the four-province
/// mechanism, Hubei's inbound list, an agreement with 一事一批 and a per-application cap, an entry
/// shared by two sources, an entry amended by letter; a collector's approved filing (its account
/// signs in) with a manifest whose arrival is recorded, one received with discrepancies and the
/// operator's decisions, and one back-filled from paper; and the January report counts them.
async fn demo_regimes_and_new_states(backend: Backend) {
    let db = TestDb::new(backend);
    seed(&db);
    let app = TestApp::start(TestDb::reuse(&db), crate::support::test_config(&db)).await;
    let admin = app.login_with("admin", "demo-pass-2026").await;
    let year = hwtransfer::domain::calendar::shanghai_date(chrono::Utc::now()).year();
    // Seeding again changes nothing: the same agreements, entries (versions and quotas),
    // applications and manifests, field for field.
    let first = regime_snapshot(&app, &admin).await;
    seed(&db);
    assert_eq!(
        regime_snapshot(&app, &admin).await,
        first,
        "a second seed changed the demo"
    );

    // The collector: an enterprise of kind collector under its own operator record, whose
    // licence includes 收集.
    let (s, e, _) = app.get("/api/v1/enterprises/demo-collector-cq", Some(&admin)).await;
    assert_eq!(s, 200, "{e}");
    assert_eq!(
        (e["kind"].as_str(), e["collector_operator_id"].as_str()),
        (Some("collector"), Some("demo-collector-cq-licence")),
        "{e}"
    );
    let (s, licences, _) = app
        .get("/api/v1/operators/demo-collector-cq-licence/licences", Some(&admin))
        .await;
    assert_eq!(s, 200, "{licences}");
    assert!(
        licences.to_string().contains("收集"),
        "the collector's licence includes 收集: {licences}"
    );

    let (s, agreements, _) = app.get("/api/v1/agreements", Some(&admin)).await;
    assert_eq!(s, 200, "{agreements}");
    let agreements = agreements.as_array().unwrap();
    assert!(
        agreements
            .iter()
            .any(|a| a["provinces"].as_array().unwrap().len() == 4 && a["status"] == "confirmed"),
        "a four-province agreement: {agreements:?}"
    );
    assert!(
        agreements
            .iter()
            .any(|a| a["kind"] == "inbound_list" && a["provinces"] == serde_json::json!(["420000"])),
        "Hubei's inbound list"
    );
    assert!(
        agreements
            .iter()
            .any(|a| a["completion_days"] == 30 && a["cap_per_application_kg"] == "50000.000"),
        "一事一批 with a cap"
    );

    let entries = all(&app, &admin, "/api/v1/whitelist-entries?limit=200").await;
    assert!(
        entries
            .iter()
            .any(|e| e["shared_sources"] == serde_json::json!(["530000"])
                && e["source_province"] == "520000"
                && e["status"] == "confirmed"),
        "an entry shared by Guizhou and Yunnan"
    );
    assert!(
        entries.iter().any(|e| e["receiving_province"] == "420000"),
        "an entry on Hubei's inbound list"
    );
    let amended = format!("demo-entry-{year}-demo-operator-sc-2-500000-HW08");
    let (s, versions, _) = app
        .get(&format!("/api/v1/whitelist-entries/{amended}/versions"), Some(&admin))
        .await;
    assert_eq!(s, 200, "{versions}");
    let letters: Vec<&str> = versions
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v["letter_number"].as_str())
        .collect();
    assert_eq!(
        letters,
        vec![format!("川环函〔{year}〕87号").as_str()],
        "amended once: {versions}"
    );

    // The collector's filing, approved, and its manifests.
    let collector = app.login_with("cq-collector", "demo-pass-2026").await;
    let (s, mine, _) = app.get("/api/v1/transfer-applications", Some(&collector)).await;
    assert_eq!(s, 200, "{mine}");
    let mine = mine["items"].as_array().unwrap();
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_eq!(
        (mine[0]["enterprise_id"].as_str(), mine[0]["status"].as_str()),
        (Some("demo-collector-cq"), Some("approved"))
    );
    let manifests = all(
        &app,
        &admin,
        &format!(
            "/api/v1/manifests?limit=200&application_id={}",
            mine[0]["id"].as_str().unwrap()
        ),
    )
    .await;
    assert_eq!(manifests.len(), 3, "{manifests:?}");
    assert!(
        manifests
            .iter()
            .any(|m| m["status"] == "in_transit" && m["arrived_at"].is_string() && m["receipt_due_on"].is_string()),
        "an arrived load waiting for receipt: {manifests:?}"
    );
    let discrepant = manifests
        .iter()
        .find(|m| m["discrepancy"] == true)
        .unwrap_or_else(|| panic!("a receipt with discrepancies: {manifests:?}"));
    let (s, full, _) = app
        .get(
            &format!("/api/v1/manifests/{}", discrepant["id"].as_str().unwrap()),
            Some(&admin),
        )
        .await;
    assert_eq!(s, 200, "{full}");
    let kinds: BTreeSet<&str> = full["discrepancies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, BTreeSet::from(["packaging", "quantity"]), "{full}");
    assert!(
        manifests
            .iter()
            .any(|m| m["back_filled"] == true && m["paper_number"].is_string() && m["backfill_due_on"].is_string()),
        "a back-filled paper trip: {manifests:?}"
    );

    // The January report of the year it was received in counts the collector's receipt.
    let received = chrono::DateTime::parse_from_rfc3339(full["received_at"].as_str().unwrap()).unwrap();
    let received_year = hwtransfer::domain::calendar::shanghai_date(received.with_timezone(&chrono::Utc)).year();
    let (s, report, _) = app
        .get(&format!("/api/v1/reports/annual?year={received_year}"), Some(&admin))
        .await;
    assert_eq!(s, 200, "{report}");
    assert!(
        report["lines"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["operator_id"] == "demo-operator-sc"
                && l["category"] == "HW08"
                && l["source_province"] == "500000"
                && l["manifests"].as_i64().unwrap() >= 1),
        "{report}"
    );
}
both_backends!(demo_regimes_and_new_states, demo_regimes_and_new_states);

/// What the regimes test compares across two seeds.
async fn regime_snapshot(app: &TestApp, admin: &str) -> Vec<Value> {
    let (s, agreements, _) = app.get("/api/v1/agreements", Some(admin)).await;
    assert_eq!(s, 200, "{agreements}");
    vec![
        agreements,
        Value::Array(all(app, admin, "/api/v1/whitelist-entries?limit=200").await),
        Value::Array(all(app, admin, "/api/v1/transfer-applications?limit=200").await),
        Value::Array(all(app, admin, "/api/v1/manifests?limit=200").await),
    ]
}
