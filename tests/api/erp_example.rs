//! `examples/erp_client.rs` against a real server: the producer's ERP signs in with client
//! credentials, files, reads the changes feed while the provinces decide (from this test), then
//! creates and dispatches the manifest. The test checks what was stored.

use std::io::Read;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::both_backends;
use crate::fixtures::{Registry, this_year};
use crate::support::{Backend, TestApp};

/// The example's binary, built when it is missing or older than its source.
fn example_binary() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let source = root.join("examples/erp_client.rs");
    // The test binary is target/<profile>/deps/api-…; examples are in target/<profile>/examples.
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|d| d.parent()).unwrap().to_path_buf();
    let bin = profile_dir.join("examples").join("erp_client");
    let modified = |p: &PathBuf| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let fresh = matches!((modified(&bin), modified(&source)), (Some(b), Some(s)) if b >= s);
    if !fresh {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = std::process::Command::new(cargo)
            .args(["build", "--quiet", "--example", "erp_client", "--manifest-path"])
            .arg(root.join("Cargo.toml"))
            .status()
            .unwrap();
        assert!(status.success(), "building the example");
    }
    bin
}

/// Kills the example if the test ends before it does.
struct Child(Option<std::process::Child>);

impl Drop for Child {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

async fn post(app: &TestApp, token: &str, path: &str, body: Value, if_match: Option<i64>) -> Value {
    let mut req = app.client.post(app.url(path)).bearer_auth(token).json(&body);
    if let Some(v) = if_match {
        req = req.header("if-match", format!("\"{v}\""));
    }
    let (s, b, _) = crate::support::split(req.send().await.unwrap()).await;
    assert_eq!(s, 200, "{path}: {b}");
    b
}

async fn erp_example_files_polls_and_ships(backend: Backend) {
    let bin = example_binary();
    let app = TestApp::spawn_with(backend, |c| c.feed_poll_ms = 100).await;
    let reg = Registry::setup(&app).await;
    reg.confirmed_entry(&app, "HW08", "100").await;
    let (client_id, secret) = {
        use hwtransfer::auth::principal::{Binding, Role};
        let mut c = app.state.db.get().unwrap();
        let binding = Binding::Enterprise(reg.enterprise_id.clone());
        hwtransfer::cli::add_client(&mut c, "ERP", Role::Enterprise, &binding, None).unwrap()
    };
    let cursor_file = app.db.dir.path().join("erp.cursor");
    let y = this_year();
    let mut child = Child(Some(
        std::process::Command::new(&bin)
            .env("HWT_URL", app.url(""))
            .env("HWT_CLIENT_ID", &client_id)
            .env("HWT_CLIENT_SECRET", &secret)
            .env("ERP_OPERATOR_ID", &reg.operator_id)
            .env("ERP_QUANTITY_KG", "12.5")
            .env("ERP_PERIOD_START", format!("{y}-12-01"))
            .env("ERP_PERIOD_END", format!("{}-05-31", y + 1))
            .env("ERP_CURSOR_FILE", &cursor_file)
            .env("ERP_TIMEOUT_SECS", "30")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap(),
    ));
    let started = Instant::now();

    // The provinces act once the filing is there, a moment apart, while the ERP reads the feed.
    let id = loop {
        let (s, list, _) = app.get("/api/v1/transfer-applications?limit=10", Some(&reg.cq)).await;
        assert_eq!(s, 200, "{list}");
        if let Some(a) = list["items"].as_array().unwrap().first() {
            break a["id"].as_str().unwrap().to_string();
        }
        let c = child.0.as_mut().unwrap();
        if let Some(status) = c.try_wait().unwrap() {
            let mut err = String::new();
            c.stderr.take().unwrap().read_to_string(&mut err).unwrap();
            panic!("the example ended before filing ({status}): {err}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no filing from the example"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let path = |action: &str| format!("/api/v1/transfer-applications/{id}/{action}");
    let approve = |side: &str| json!({"side": side, "outcome": "approve", "reasons": []});
    tokio::time::sleep(Duration::from_millis(300)).await;
    post(&app, &reg.cq, &path("accept"), json!({}), None).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    post(&app, &reg.cq, &path("decisions"), approve("source"), Some(2)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let a = post(&app, &reg.sc, &path("decisions"), approve("receiving"), Some(3)).await;
    assert_eq!(a["status"], "approved", "{a}");

    // The example ends by itself, successfully, well within its time.
    let status = loop {
        if let Some(s) = child.0.as_mut().unwrap().try_wait().unwrap() {
            break s;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the example did not finish"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let c = child.0.as_mut().unwrap();
    let (mut out, mut err) = (String::new(), String::new());
    c.stdout.take().unwrap().read_to_string(&mut out).unwrap();
    c.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(status.success(), "the example failed: {err}\n{out}");
    for step in [
        "signed in",
        &format!("filed: application {id}, route whitelist"),
        "application.accepted",
        "application.decided",
        "approved: ",
        "manifest created: ",
        "dispatched: ",
    ] {
        assert!(out.contains(step), "no {step:?} in:\n{out}");
    }

    // What was stored: one manifest under the approval, on the road, with the quantity filed.
    let (s, list, _) = app
        .get(
            &format!("/api/v1/manifests?application_id={id}"),
            Some(&reg.enterprise_token),
        )
        .await;
    assert_eq!(s, 200, "{list}");
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    assert_eq!(items[0]["status"], "in_transit");
    let (_, m, _) = app
        .get(
            &format!("/api/v1/manifests/{}", items[0]["id"].as_str().unwrap()),
            Some(&reg.enterprise_token),
        )
        .await;
    assert_eq!(m["items"][0]["quantity_kg"], "12.500", "{m}");
    assert!(out.contains(m["number"].as_str().unwrap()), "{out}");
    let (_, a, _) = app
        .get(&format!("/api/v1/transfer-applications/{id}"), Some(&reg.cq))
        .await;
    assert_eq!(a["items"][0]["shipped_kg"], "12.500", "{a}");
    // The filing and the manifest were made by the API client, as the audit trail says.
    let (_, trail, _) = app
        .get(&format!("/api/v1/audit/events?object={id}"), Some(&reg.admin))
        .await;
    assert!(
        trail["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["action"] == "filed" && r["actor_name"] == client_id.as_str()),
        "{trail}"
    );
    // The cursor the ERP kept is a position in the feed that reads on without an error.
    let cursor = std::fs::read_to_string(&cursor_file).unwrap();
    let (s, p, _) = app
        .get(&format!("/api/v1/changes?after={cursor}"), Some(&reg.enterprise_token))
        .await;
    assert_eq!(s, 200, "{p}");
    // Only the manifest's creation can follow the decision the ERP stopped at.
    let rest: Vec<&str> = p["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(rest, vec!["manifest.created"], "{p}");
}
both_backends!(erp_example_files_polls_and_ships, erp_example_files_polls_and_ships);
