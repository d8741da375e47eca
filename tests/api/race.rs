//! The quota race of the workflow issue: 200 concurrent filings over real HTTP against an entry
//! with room for 150, on PostgreSQL with two server processes on one database.

use serde_json::{Value, json};

use crate::fixtures::{Registry, this_year};
use crate::support::{Backend, Service, TestApp, TestDb, free_port, service_command, test_config};

async fn start_server(db: &TestDb, data_dir: &std::path::Path) -> (Service, String) {
    let port = free_port();
    let mut cmd = service_command(&db.url, data_dir, port);
    cmd.env("HWT_POOL_SIZE", "8");
    let server = Service::spawn(cmd, port).await;
    let base = server.base.clone();
    (server, base)
}

fn filing(operator_id: &str, n: usize) -> Value {
    let y = this_year();
    json!({
        "operator_id": operator_id,
        "method": "dispose",
        "period_start": format!("{y}-12-01"),
        "period_end": format!("{}-05-31", y + 1),
        "items": [{"waste_code": "900-249-08", "waste_name": format!("废矿物油 批次{n}"), "physical_form": "液态",
                   "hazards": ["T", "I"], "packaging": "200L铁桶", "quantity_kg": "1"}],
        "carriers": [{"name": "危运公司", "permit_number": "渝交运500000001号"}]
    })
}

#[actix_web::test]
async fn two_processes_never_over_reserve() {
    let db = TestDb::new(Backend::Postgres);
    let config = test_config(&db);
    let data_dir = config.data_dir.clone();
    // The in-process app sets up the registry and generates the shared signing keys.
    let app = TestApp::start(TestDb::reuse(&db), config).await;
    let reg = Registry::setup(&app).await;
    let entry = reg.confirmed_entry(&app, "900-249-08", "150").await;
    let (_a, base_a) = start_server(&db, &data_dir).await;
    let (_b, base_b) = start_server(&db, &data_dir).await;

    let client = reqwest::Client::builder().pool_max_idle_per_host(64).build().unwrap();
    // Clients retry as the API asks (see below) and confirm the standard route when asked to;
    // the invariant must hold whatever the timing.
    let requests = (0..200).map(|i| {
        let base = if i % 2 == 0 { &base_a } else { &base_b };
        let client = &client;
        let (token, operator) = (&reg.enterprise_token, &reg.operator_id);
        async move {
            let mut tries = 0;
            let mut confirmation: Option<String> = None;
            let mut asked = 0;
            loop {
                let mut req = client
                    .post(format!("{base}/api/v1/transfer-applications"))
                    .bearer_auth(token)
                    .header("idempotency-key", format!("race-{i}"))
                    .json(&filing(operator, i));
                if let Some(c) = &confirmation {
                    req = req.header("x-confirm-warnings", c);
                }
                let r = req.send().await;
                // Over quota: nothing is filed until the client confirms the standard route for
                // the reasons it was told (a race may change them once more: a fresh token).
                if let Ok(res) = &r
                    && res.status() == 422
                    && asked < 3
                {
                    let body: Value = r.unwrap().json().await.unwrap();
                    assert_eq!(body["type"], "/problems/confirmation-required", "{body}");
                    assert!(body["errors"].to_string().contains("over quota"), "{body}");
                    confirmation = Some(body["confirmation_token"].as_str().unwrap().to_string());
                    asked += 1;
                    continue;
                }
                // A 503, or a connection the server closed as the request went out (an idle
                // keep-alive connection timed out on a loaded machine), is retried: the
                // Idempotency-Key makes a repeat safe.
                let retry = match &r {
                    Ok(r) => r.status() == 503,
                    Err(e) => e.is_request() || e.is_connect(),
                };
                if retry && tries < 10 {
                    tries += 1;
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                } else {
                    return (r, asked);
                }
            }
        }
    });
    let responses = futures_util::future::join_all(requests).await;
    let mut whitelist = 0;
    let mut standard = 0;
    for (r, asked) in responses {
        let r = r.unwrap();
        assert_eq!(r.status(), 201);
        let body: Value = r.json().await.unwrap();
        match body["route"].as_str().unwrap() {
            "whitelist" => {
                whitelist += 1;
                assert_eq!(asked, 0, "the whitelist route needs no confirmation");
                assert_eq!(body["items"][0]["entry_id"], entry.as_str());
            }
            _ => {
                standard += 1;
                assert!(asked >= 1, "filed on the standard route unconfirmed: {body}");
                // Every re-routed filing is told why.
                let reasons = body["route_reasons"].to_string();
                assert!(reasons.contains("over quota"), "{body}");
            }
        }
    }
    assert_eq!((whitelist, standard), (150, 50));

    // The ledger and the entry agree with the applications.
    let (_, u, _) = app
        .get(&format!("/api/v1/whitelist-entries/{entry}/usage"), Some(&reg.cq))
        .await;
    assert_eq!(u["reserved_kg"], "150.000");
    assert_eq!(u["remaining_kg"], "0.000");
    let reserves = u["movements"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["movement"] == "reserve")
        .count();
    assert_eq!(reserves, 150);
    let mut on_whitelist = 0;
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/transfer-applications?route=whitelist&limit=200&cursor={c}"),
            None => "/api/v1/transfer-applications?route=whitelist&limit=200".into(),
        };
        let (_, page, _) = app.get(&path, Some(&reg.cq)).await;
        on_whitelist += page["items"].as_array().unwrap().len();
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(on_whitelist, 150);
}
