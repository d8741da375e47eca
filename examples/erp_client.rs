//! A producer's ERP on an intranet, talking to hwtransfer without webhooks: it signs in with its
//! API client's credentials, files a transfer application, reads the changes feed (long polling)
//! until both provinces have decided, then creates the manifest for the approved quantity and
//! dispatches it, printing each step.
//!
//! ```sh
//! # once, as an operator of the service: an API client for the producer enterprise
//! hwtransfer client add --name "ERP" --role enterprise --enterprise <ENTERPRISE_ID>
//! HWT_URL=https://hwtransfer.example.gov.cn HWT_CLIENT_ID=hwt_… HWT_CLIENT_SECRET=… \
//!   ERP_OPERATOR_ID=<operator id> cargo run --example erp_client
//! ```
//!
//! Settings (environment): `HWT_URL` (default `http://127.0.0.1:8080`), `HWT_CLIENT_ID`,
//! `HWT_CLIENT_SECRET`, `ERP_OPERATOR_ID` (the licensed operator receiving the waste),
//! `ERP_WASTE_CODE` (default `900-249-08`), `ERP_QUANTITY_KG` (default `10`), `ERP_PERIOD_START`
//! and `ERP_PERIOD_END` (the transfer period, default today and 150 days on), `ERP_CURSOR_FILE`
//! (where the feed cursor is kept between runs; default: none, start from the first event),
//! `ERP_TIMEOUT_SECS` (how long to wait for the decision, default 600).
//!
//! The cursor is stored only after a page was processed: a crash re-reads at most that page, and
//! nothing is skipped. Event ids are stable, so a repeated event is recognised and dropped.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn env(name: &str, default: Option<&str>) -> Result<String> {
    match (std::env::var(name), default) {
        (Ok(v), _) if !v.is_empty() => Ok(v),
        (_, Some(d)) => Ok(d.to_string()),
        _ => Err(format!("set {name}").into()),
    }
}

struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    /// Sends a request and returns the JSON body of a 2xx answer; any other answer is an error
    /// that carries the problem document the service sent.
    async fn call(&self, req: reqwest::RequestBuilder) -> Result<Value> {
        let res = req.bearer_auth(&self.token).send().await?;
        let status = res.status();
        let body: Value = res.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            return Err(format!("{status}: {body}").into());
        }
        Ok(body)
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1{path}", self.base)
    }
}

fn load_cursor(file: &Option<String>) -> String {
    file.as_ref()
        .and_then(|f| std::fs::read_to_string(f).ok())
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "0".to_string())
}

fn save_cursor(file: &Option<String>, cursor: &str) -> Result<()> {
    if let Some(f) = file {
        // Write aside, then rename: a crash leaves the old cursor or the new one, never half.
        let tmp = format!("{f}.tmp");
        std::fs::write(&tmp, cursor)?;
        std::fs::rename(&tmp, f)?;
    }
    Ok(())
}

async fn run() -> Result<()> {
    let base = env("HWT_URL", Some("http://127.0.0.1:8080"))?
        .trim_end_matches('/')
        .to_string();
    let operator = env("ERP_OPERATOR_ID", None)?;
    let code = env("ERP_WASTE_CODE", Some("900-249-08"))?;
    let kg = env("ERP_QUANTITY_KG", Some("10"))?;
    let cursor_file = std::env::var("ERP_CURSOR_FILE").ok().filter(|s| !s.is_empty());
    let timeout = Duration::from_secs(env("ERP_TIMEOUT_SECS", Some("600"))?.parse()?);
    let http = reqwest::Client::builder().timeout(Duration::from_secs(60)).build()?;

    // 1. A token for the API client (client credentials).
    let res = http
        .post(format!("{base}/api/v1/auth/token"))
        .json(&json!({
            "grant_type": "client_credentials",
            "client_id": env("HWT_CLIENT_ID", None)?,
            "client_secret": env("HWT_CLIENT_SECRET", None)?,
        }))
        .send()
        .await?;
    if !res.status().is_success() {
        return Err(format!("sign-in refused: {} {}", res.status(), res.text().await?).into());
    }
    let token: Value = res.json().await?;
    let api = Api {
        http,
        base,
        token: token["access_token"].as_str().ok_or("no access_token")?.to_string(),
    };
    println!(
        "signed in: token valid for {} s",
        token["expires_in"].as_u64().unwrap_or(0)
    );

    // 2. File the application. The Idempotency-Key makes a retry after a lost answer safe.
    let today = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive();
    let period_start = env("ERP_PERIOD_START", Some(&today.to_string()))?;
    let period_end = env("ERP_PERIOD_END", Some(&(today + chrono::Days::new(150)).to_string()))?;
    let key = format!("erp-{}", chrono::Utc::now().timestamp_micros());
    let filing = json!({
        "operator_id": operator,
        "method": "dispose",
        "period_start": period_start,
        "period_end": period_end,
        "items": [{
            "waste_code": code,
            "waste_name": "废矿物油",
            "physical_form": "液态",
            "hazards": ["T", "I"],
            "packaging": "200L铁桶",
            "quantity_kg": kg
        }],
        "carriers": [{"name": "重庆危运物流有限公司", "permit_number": "渝交运管许可字500000001号", "plate": "渝A12345"}]
    });
    let application = api
        .call(
            api.http
                .post(api.url("/transfer-applications"))
                .header("Idempotency-Key", &key)
                .json(&filing),
        )
        .await?;
    let app_id = application["id"].as_str().ok_or("no application id")?.to_string();
    println!(
        "filed: application {app_id}, route {}, status {}",
        application["route"].as_str().unwrap_or("?"),
        application["status"].as_str().unwrap_or("?")
    );

    // 3. Read the feed until the case is decided, each request held up to 20 s.
    let mut cursor = load_cursor(&cursor_file);
    let mut seen = HashSet::new();
    let started = Instant::now();
    'feed: loop {
        if started.elapsed() > timeout {
            return Err("no decision in time".into());
        }
        let page = api
            .call(api.http.get(api.url("/changes")).query(&[
                ("after", cursor.as_str()),
                ("limit", "100"),
                ("wait", "20"),
            ]))
            .await?;
        let items = page["items"].as_array().cloned().unwrap_or_default();
        let next = page["next"].as_str().ok_or("no next cursor")?.to_string();
        let mut approved = false;
        for event in &items {
            let id = event["id"].as_str().unwrap_or_default().to_string();
            if !seen.insert(id) || event["data"]["application_id"] != app_id.as_str() {
                continue;
            }
            let status = event["data"]["status"].as_str().unwrap_or("?");
            println!(
                "event {} {}: status {status}",
                event["seq"],
                event["type"].as_str().unwrap_or("?")
            );
            match (event["type"].as_str(), status) {
                (Some("application.decided"), "approved") => approved = true,
                (_, "refused" | "withdrawn" | "revoked") => {
                    save_cursor(&cursor_file, &next)?;
                    return Err(format!("the application ended {status}").into());
                }
                _ => {}
            }
        }
        // Processed: only now is the cursor kept.
        cursor = next;
        save_cursor(&cursor_file, &cursor)?;
        if approved {
            break 'feed;
        }
    }
    let case = api
        .call(api.http.get(api.url(&format!("/transfer-applications/{app_id}"))))
        .await?;
    println!(
        "approved: {} valid until {}",
        case["approval"]["number"].as_str().unwrap_or("?"),
        case["approval"]["valid_until"].as_str().unwrap_or("?")
    );

    // 4. The manifest for this trip: the whole approved line on one vehicle.
    let manifest = api
        .call(api.http.post(api.url("/manifests")).json(&json!({
            "application_id": app_id,
            "items": [{"line": 0, "quantity_kg": kg}],
            "carrier": {
                "name": "重庆危运物流有限公司",
                "permit_number": "渝交运管许可字500000001号",
                "vehicle_plate": "渝A12345",
                "driver_name": "李四"
            },
            "route_from": "重庆市渝北区",
            "route_to": "四川省成都市",
            "departure_at": chrono::Utc::now().to_rfc3339(),
        })))
        .await?;
    let manifest_id = manifest["id"].as_str().ok_or("no manifest id")?.to_string();
    println!(
        "manifest created: {} ({} kg), status {}",
        manifest["number"].as_str().unwrap_or("?"),
        kg,
        manifest["status"].as_str().unwrap_or("?")
    );

    // 5. The vehicle leaves.
    let dispatched = api
        .call(api.http.post(api.url(&format!("/manifests/{manifest_id}/dispatch"))))
        .await?;
    println!(
        "dispatched: manifest {} status {}, receipt due {}",
        dispatched["number"].as_str().unwrap_or("?"),
        dispatched["status"].as_str().unwrap_or("?"),
        dispatched["receipt_due_at"].as_str().unwrap_or("?")
    );
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("erp_client: {e}");
        std::process::exit(1);
    }
}
