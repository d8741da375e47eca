//! The web UI: end to end in headless Chromium (driven through ChromeDriver with fantoccini), and
//! its protections over plain HTTP. Screenshots of the main pages go to `target/ui-screenshots/`.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};

use crate::both_backends;
use crate::fixtures::{Registry, this_year};
use crate::support::{Backend, PASSWORD, TestApp, free_port};

/// A ChromeDriver process on a free port, killed when dropped.
pub(crate) struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The whole process group: ChromeDriver and the browsers it started, which would
        // otherwise outlive a failed test.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) async fn start_driver() -> Driver {
    let port = free_port();
    let child = Command::new(std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into()))
        .arg(format!("--port={port}"))
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect(
            "chromedriver must be installed for the UI tests: scripts/test.sh installs chromium and \
             chromium-driver when run as root; else apt-get install chromium chromium-driver, or set CHROMEDRIVER",
        );
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let client = reqwest::Client::new();
    for _ in 0..100 {
        if let Ok(r) = client.get(format!("{}/status", driver.url)).send().await
            && r.status().is_success()
        {
            return driver;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not start");
}

pub(crate) async fn browser(driver: &Driver) -> Client {
    let mut caps = serde_json::Map::new();
    let mut args = vec![
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1366,900",
        "--lang=zh-CN",
    ];
    if std::env::var("UI_TEST_HEADED").is_ok() {
        args.remove(0);
    }
    let mut opts = json!({ "args": args });
    if let Ok(bin) = std::env::var("CHROME_BIN") {
        opts["binary"] = json!(bin);
    } else if std::path::Path::new("/usr/bin/chromium").exists() {
        opts["binary"] = json!("/usr/bin/chromium");
    }
    caps.insert("goog:chromeOptions".into(), opts);
    ClientBuilder::native()
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a Chromium session")
}

fn screenshot_dir() -> std::path::PathBuf {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ui-screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot dir");
    dir
}

pub(crate) async fn shot(c: &Client, backend: Backend, name: &str) {
    let png = c.screenshot().await.expect("screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    std::fs::write(
        screenshot_dir().join(format!("{backend:?}-{name}.png").to_lowercase()),
        png,
    )
    .expect("write");
}

pub(crate) async fn login(c: &Client, app: &TestApp, username: &str) {
    c.goto(&app.url("/")).await.expect("goto /");
    // `/` leads to the login page when not signed in.
    assert!(c.current_url().await.unwrap().path().starts_with("/ui/login"));
    submit_login(c, username, None).await;
    c.wait().for_element(Locator::Id("logout")).await.expect("signed in");
}

/// Types the username, the test password and, when given, a one-time code into the login page
/// shown now, and submits it.
pub(crate) async fn submit_login(c: &Client, username: &str, code: Option<&str>) {
    c.find(Locator::Id("username"))
        .await
        .unwrap()
        .send_keys(username)
        .await
        .unwrap();
    c.find(Locator::Id("password"))
        .await
        .unwrap()
        .send_keys(PASSWORD)
        .await
        .unwrap();
    if let Some(code) = code {
        c.find(Locator::Id("totp"))
            .await
            .unwrap()
            .send_keys(code)
            .await
            .unwrap();
    }
    c.find(Locator::Id("login")).await.unwrap().click().await.unwrap();
}

pub(crate) async fn logout(c: &Client) {
    // The page may still be swapping (htmx) when the button is found: find it afresh when it
    // went stale before the click.
    let mut clicked = false;
    for _ in 0..20 {
        let button = c
            .wait()
            .for_element(Locator::Id("logout"))
            .await
            .expect("a logout button");
        match button.click().await {
            Ok(_) => {
                clicked = true;
                break;
            }
            Err(fantoccini::error::CmdError::Standard(e))
                if e.error == fantoccini::error::ErrorStatus::StaleElementReference =>
            {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("logout: {e}"),
        }
    }
    assert!(clicked, "the logout button kept going stale");
    c.wait()
        .for_element(Locator::Id("username"))
        .await
        .expect("back at login");
}

/// Clicks a submit button guarded by hx-confirm and accepts the confirmation dialog.
pub(crate) async fn click_confirmed(c: &Client, css: &str) {
    // The click opens the dialog; some driver versions report that as the click's error.
    let _ = c.find(Locator::Css(css)).await.unwrap().click().await;
    for _ in 0..50 {
        if c.accept_alert().await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no confirmation dialog after clicking {css}");
}

pub(crate) async fn text_of(c: &Client, css: &str) -> String {
    // htmx may swap the element between finding and reading it: read afresh when it went stale.
    for _ in 0..20 {
        let element = c
            .wait()
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"));
        match element.text().await {
            Ok(text) => return text,
            Err(fantoccini::error::CmdError::Standard(e))
                if e.error == fantoccini::error::ErrorStatus::StaleElementReference =>
            {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("{css}: {e}"),
        }
    }
    panic!("{css} kept going stale")
}

const SCRIPT_NAME: &str = "<script>document.title='pwned'</script>废矿物油";

fn filing(operator_id: &str, kg: &str, waste_name: &str) -> Value {
    let y = this_year();
    json!({
        "operator_id": operator_id,
        "method": "dispose",
        "period_start": format!("{y}-12-01"),
        "period_end": format!("{}-05-31", y + 1),
        "items": [{
            "waste_code": "900-249-08",
            "waste_name": waste_name,
            "physical_form": "液态",
            "hazards": ["T", "I"],
            "packaging": "200L铁桶",
            "quantity_kg": kg
        }],
        "carriers": [{"name": "重庆危运物流有限公司", "permit_number": "渝交运管许可字500000001号", "plate": "渝A12345"}]
    })
}

/// Files a whitelist case as the enterprise and has Chongqing accept it: the source's decision
/// is then due. Returns the case id.
async fn accepted_case(app: &TestApp, reg: &Registry, kg: &str, waste_name: &str) -> String {
    let (s, a, _) = app
        .post_json(
            "/api/v1/transfer-applications",
            Some(&reg.enterprise_token),
            &filing(&reg.operator_id, kg, waste_name),
        )
        .await;
    assert_eq!(s, 201, "{a}");
    let id = a["id"].as_str().unwrap().to_string();
    let (s, a, _) = app
        .post_json(
            &format!("/api/v1/transfer-applications/{id}/accept"),
            Some(&reg.cq),
            &json!({}),
        )
        .await;
    assert_eq!(s, 200, "{a}");
    id
}

async fn case(app: &TestApp, reg: &Registry, id: &str) -> Value {
    let (s, a, _) = app
        .get(&format!("/api/v1/transfer-applications/{id}"), Some(&reg.cq))
        .await;
    assert_eq!(s, 200, "{a}");
    a
}

async fn regulators_decide_in_the_browser(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    let entry = reg.confirmed_entry(&app, "HW08", "100").await;
    let id = accepted_case(&app, &reg, "40.5", SCRIPT_NAME).await;
    let driver = start_driver().await;
    let c = browser(&driver).await;

    // Sichuan (the receiving side) must consent while Chongqing's step runs: the case is in its
    // 待办 queue. It sees only its own step's actions, and is refused Chongqing's.
    login(&c, &app, "sc").await;
    let row = text_of(&c, &format!("#queue tr[data-id='{id}']")).await;
    assert!(row.contains("40.500"), "{row}");
    // A regulator is told of a missing holiday notice on every page (from 1 November for the
    // next year), exactly when the core says one is due.
    let due = hwtransfer::service::calendar::notice_alert(
        &app.state.calendar().await.unwrap(),
        hwtransfer::domain::calendar::shanghai_date(chrono::Utc::now()),
    );
    match due {
        Some(year) => {
            let banner = text_of(&c, "#notice-missing").await;
            assert!(banner.contains(&year.to_string()), "{banner}");
        }
        None => assert!(c.find(Locator::Css("#notice-missing")).await.is_err()),
    }
    c.goto(&app.url(&format!("/ui/applications/{id}"))).await.unwrap();
    let actions = text_of(&c, "#actions").await;
    assert!(actions.contains("同意接收"), "{actions}");
    assert!(!actions.contains("受理") && !actions.contains("批准 ("), "{actions}");
    assert!(
        c.find(Locator::Css(
            "form[data-action='decide-approve'] input[name='side'][value='source']"
        ))
        .await
        .is_err(),
        "no source-side form for Sichuan"
    );
    // Forging the source side's decision (the form exists for the receiving side) is refused by
    // the server, not only hidden. WebDriver scripts run outside the page's CSP.
    c.execute(
        "const f = document.querySelector(\"form[data-action='decide-approve']\");\
         f.removeAttribute('hx-boost'); f.removeAttribute('hx-confirm');\
         f.querySelector(\"input[name='side']\").value = 'source'; f.submit();",
        vec![],
    )
    .await
    .unwrap();
    let refused = text_of(&c, "h1").await;
    assert_eq!(refused, "您无权执行此操作");
    assert_eq!(case(&app, &reg, &id).await["decisions"].as_array().unwrap().len(), 0);

    // Sichuan agrees to receive, after confirming.
    c.goto(&app.url(&format!("/ui/applications/{id}"))).await.unwrap();
    click_confirmed(&c, "form[data-action='decide-approve'] button").await;
    text_of(&c, "#flash-done").await;
    let a = case(&app, &reg, &id).await;
    assert_eq!(a["decisions"][0]["side"], "receiving");
    assert_eq!(a["status"], "under_review", "Chongqing has not decided yet");
    // Once Sichuan has decided, the case leaves its queue (Chongqing's remains).
    c.goto(&app.url("/ui/queue")).await.unwrap();
    text_of(&c, "#queue").await;
    assert!(
        c.find(Locator::Css(&format!("#queue tr[data-id='{id}']")))
            .await
            .is_err()
    );
    logout(&c).await;

    // Chongqing finds the due case in its queue, with live counts, and approves it.
    login(&c, &app, "cq").await;
    assert!(c.current_url().await.unwrap().path().starts_with("/ui/queue"));
    let waiting = text_of(&c, "#count-waiting strong").await;
    assert_eq!(waiting, "1");
    let row = text_of(&c, &format!("#queue tr[data-id='{id}']")).await;
    assert!(row.contains("重庆测试化工有限公司") && row.contains("40.500"), "{row}");
    assert!(row.contains("白名单审批"), "{row}");
    shot(&c, backend, "queue").await;
    c.find(Locator::Css(&format!("#queue tr[data-id='{id}'] a")))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    text_of(&c, "#actions").await;
    // The waste name with markup is shown as text: no script ran, no element was made.
    let items = text_of(&c, "#items").await;
    assert!(items.contains(SCRIPT_NAME), "{items}");
    assert_ne!(c.title().await.unwrap(), "pwned");
    assert!(c.find(Locator::Css("#items script")).await.is_err());
    // Quota bars before and after this application.
    let bars = text_of(&c, &format!("#entries tr[data-entry='{entry}']")).await;
    assert!(bars.contains("0.000") && bars.contains("40.500"), "{bars}");
    shot(&c, backend, "application").await;
    click_confirmed(&c, "form[data-action='decide-approve'] button").await;
    text_of(&c, "#flash-done").await;
    let number = text_of(&c, "#approval-number").await;
    let a = case(&app, &reg, &id).await;
    assert_eq!(a["status"], "approved");
    let stored_number = a["approval"]["number"].as_str().unwrap().to_string();
    assert!(number.starts_with(&stored_number), "{number} / {stored_number}");
    assert_eq!(a["decisions"].as_array().unwrap().len(), 2);

    // The certificate with its QR code, and the public verification page it points to.
    c.find(Locator::Id("certificate-link"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(text_of(&c, "#cert-number").await, stored_number);
    assert!(c.find(Locator::Css(".qr svg")).await.is_ok(), "a QR code");
    shot(&c, backend, "certificate").await;
    let verify = c
        .find(Locator::Id("verify-link"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    logout(&c).await;
    c.goto(&verify).await.unwrap();
    assert_eq!(text_of(&c, "#verdict").await, "有效");
    assert_eq!(text_of(&c, "#number").await, stored_number);
    assert_eq!(text_of(&c, "#producer").await, "重庆测试化工有限公司");
    let items = text_of(&c, "#verify-items").await;
    assert!(items.contains("900-249-08") && items.contains("40.500"), "{items}");
    shot(&c, backend, "verify").await;

    c.close().await.unwrap();
}
both_backends!(regulators_decide_in_the_browser, regulators_decide_in_the_browser);

/// The other pages render for their roles; a conflict shows plainly; CSRF-less posts are refused;
/// the language switch works. Screenshots of each page.
async fn pages_conflicts_and_csrf(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    reg.confirmed_entry(&app, "HW08", "100").await;
    let id = accepted_case(&app, &reg, "10", "废矿物油").await;
    app.add_user("auditor", "auditor", None).await;
    let driver = start_driver().await;
    let c = browser(&driver).await;

    login(&c, &app, "cq").await;
    c.goto(&app.url(&format!("/ui/applications/{id}"))).await.unwrap();
    text_of(&c, "#actions").await;
    // A colleague in Chongqing refuses through the API while this page is open: the page's
    // version is stale when this officer approves.
    let version = case(&app, &reg, &id).await["version"].as_i64().unwrap();
    let res = app
        .client
        .post(app.url(&format!("/api/v1/transfer-applications/{id}/decisions")))
        .bearer_auth(&reg.cq)
        .header("if-match", format!("\"{version}\""))
        .json(&json!({"side": "source", "outcome": "refuse", "reasons": ["材料不实"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    click_confirmed(&c, "form[data-action='decide-approve'] button").await;
    let notice = text_of(&c, "#flash-conflict").await;
    assert!(notice.contains("他人已先行办理"), "{notice}");
    assert_eq!(
        text_of(&c, "#status").await,
        "不予批准",
        "the page now shows the current state"
    );
    assert!(c.find(Locator::Id("no-actions")).await.is_ok());
    assert_eq!(case(&app, &reg, &id).await["status"], "refused");

    // A form posted without the CSRF token is refused and changes nothing.
    let id2 = accepted_case(&app, &reg, "5", "废矿物油").await;
    c.goto(&app.url(&format!("/ui/applications/{id2}"))).await.unwrap();
    text_of(&c, "#actions").await;
    c.execute(
        "const f = document.querySelector(\"form[data-action='decide-approve']\");\
         f.removeAttribute('hx-boost'); f.removeAttribute('hx-confirm');\
         f.querySelector(\"input[name='csrf']\").remove(); f.submit();",
        vec![],
    )
    .await
    .unwrap();
    assert_eq!(text_of(&c, "h1").await, "请求被拒绝");
    assert_eq!(case(&app, &reg, &id2).await["status"], "under_review");
    assert!(case(&app, &reg, &id2).await["decisions"].as_array().unwrap().is_empty());

    for (path, name, marker) in [
        ("/ui/whitelist", "whitelist", "#entries"),
        ("/ui/history", "history", "#transfers"),
        ("/ui/calendar", "calendar", "h1"),
        ("/ui/annual", "annual", "#annual"),
        ("/ui/webhooks", "webhooks", "#subscriptions"),
    ] {
        c.goto(&app.url(path)).await.unwrap();
        text_of(&c, marker).await;
        shot(&c, backend, name).await;
    }
    let history = text_of(&c, "body").await;
    assert!(!history.is_empty());
    c.goto(&app.url("/ui/whitelist")).await.unwrap();
    let entries = text_of(&c, "#entries").await;
    assert!(entries.contains("HW08") && entries.contains("100.000"), "{entries}");

    // The dashboard draws its charts with Chart.js.
    c.goto(&app.url("/ui/dashboard")).await.unwrap();
    text_of(&c, "#chart-tonnage").await;
    let mut drawn = Value::Null;
    for _ in 0..50 {
        drawn = c
            .execute("return document.querySelectorAll('canvas[data-drawn]').length;", vec![])
            .await
            .unwrap();
        if drawn == json!(3) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(drawn, json!(3), "three charts drawn");
    shot(&c, backend, "dashboard").await;

    // English on request.
    c.goto(&app.url("/ui/queue")).await.unwrap();
    c.find(Locator::Css("a.lang-switch"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let nav = text_of(&c, "header nav").await;
    assert!(nav.contains("Queue") && nav.contains("Whitelist"), "{nav}");
    logout(&c).await;

    // The auditor sees the chain status and history (and its reads are logged).
    login(&c, &app, "auditor").await;
    c.goto(&app.url("/ui/audit")).await.unwrap();
    assert_eq!(text_of(&c, "#chain-status").await, "The audit chain is intact");
    shot(&c, backend, "audit").await;
    c.goto(&app.url("/ui/history?source_province=500000")).await.unwrap();
    let totals = text_of(&c, "#totals").await;
    assert!(totals.contains("2"), "{totals}");
    c.close().await.unwrap();
    let (s, trail, _) = app
        .get("/api/v1/audit/events?object_type=query&limit=200", Some(&reg.admin))
        .await;
    assert_eq!(s, 200, "{trail}");
    assert!(
        trail["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["object_id"] == "/ui/history" && e["actor_name"] == "auditor"),
        "{trail}"
    );
}
both_backends!(pages_conflicts_and_csrf, pages_conflicts_and_csrf);

// ------------------------------------------------------------------------------------------------
// Data entry: proposing and importing whitelist entries, importing a calendar year

/// The whitelist entries the API lists for this year, as (scope, quota_kg, status).
async fn entries(app: &TestApp, reg: &Registry) -> Vec<(String, String, String)> {
    let (s, body, _) = app
        .get(&format!("/api/v1/whitelist-entries?year={}", reg.year), Some(&reg.cq))
        .await;
    assert_eq!(s, 200, "{body}");
    let mut out: Vec<_> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["scope"].as_str().unwrap().to_string(),
                e["quota_kg"].as_str().unwrap().to_string(),
                e["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

pub(crate) async fn fill(c: &Client, css: &str, text: &str) {
    let field = c.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

/// Posts a multipart form from the page with the session's cookie and CSRF token, as a forged
/// or scripted form would; returns the status.
async fn post_form_in_page(c: &Client, path: &str, fields: &[(&str, &str)]) -> u16 {
    let fields = json!(fields.iter().map(|(k, v)| [k, v]).collect::<Vec<_>>());
    let status = c
        .execute_async(
            "const [path, fields, done] = arguments; const f = new FormData();\
             f.append('csrf', document.querySelector(\"input[name='csrf']\").value);\
             for (const [k, v] of fields) f.append(k, v);\
             fetch(path, {method: 'POST', body: f, redirect: 'manual'}).then(r => done(r.status));",
            vec![json!(path), fields],
        )
        .await
        .unwrap();
    status.as_u64().unwrap() as u16
}

/// A Chongqing regulator proposes an entry (first with mistakes, every one listed and nothing
/// stored), imports a CSV whose bad rows are reported by row and column with nothing stored,
/// then checks and imports an XLSX; an admin imports next year's calendar from pasted CSV, first
/// with a bad line (named, nothing stored), then right; a regulator cannot import a calendar.
async fn regulators_propose_and_import(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    let driver = start_driver().await;
    let c = browser(&driver).await;
    let year = reg.year.to_string();
    let operator_uscc = crate::fixtures::uscc("510100", 1);

    login(&c, &app, "cq").await;
    c.goto(&app.url("/ui/whitelist")).await.unwrap();
    c.find(Locator::Id("whitelist-new"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    text_of(&c, "#propose").await;
    // The operator is named by its credit code; the scope and the quota are wrong.
    fill(&c, "input[name='operator']", &operator_uscc).await;
    fill(&c, "input[name='scope']", "HW99").await;
    fill(&c, "input[name='quota_kg']", "12.3456").await;
    fill(&c, "textarea[name='note']", "<b>川渝</b>协议").await;
    click_confirmed(&c, "#propose-submit").await;
    let problems = text_of(&c, "#propose-problems").await;
    assert!(problems.contains("范围"), "the scope is named: {problems}");
    assert!(problems.contains("额度"), "the quota is named: {problems}");
    assert_eq!(
        c.find_all(Locator::Css("#propose-problems li")).await.unwrap().len(),
        2,
        "{problems}"
    );
    // What was typed is kept (and shown as text).
    let kept = c
        .find(Locator::Css("textarea[name='note']"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(kept.as_deref(), Some("<b>川渝</b>协议"));
    assert!(entries(&app, &reg).await.is_empty(), "nothing stored");
    fill(&c, "input[name='scope']", "HW08").await;
    fill(&c, "input[name='quota_kg']", "250.5").await;
    click_confirmed(&c, "#propose-submit").await;
    c.wait().for_element(Locator::Css("#entries")).await.unwrap();
    assert!(text_of(&c, ".flash.ok").await.contains("已办理"));
    assert_eq!(
        entries(&app, &reg).await,
        vec![("HW08".to_string(), "250.500".to_string(), "proposed".to_string())]
    );
    let listed = text_of(&c, "#entries").await;
    assert!(listed.contains("HW08") && listed.contains("250.500"), "{listed}");
    shot(&c, backend, "whitelist-proposed").await;

    // A CSV with one good row, an unknown code and a duplicate of the entry above: every
    // problem by row and column, and nothing stored.
    let dir = tempfile::tempdir().unwrap();
    let csv_path = dir.path().join("白名单.csv");
    std::fs::write(
        &csv_path,
        format!(
            "年度,统一社会信用代码,移出省份,废物代码,数量(千克)\n\
             {year},{operator_uscc},重庆市,HW49,10\n\
             {year},{operator_uscc},500000,999-999-99,5\n\
             {year},{operator_uscc},500000,HW08,7\n"
        ),
    )
    .unwrap();
    c.goto(&app.url("/ui/whitelist/new")).await.unwrap();
    c.find(Locator::Id("import-file"))
        .await
        .unwrap()
        .send_keys(csv_path.to_str().unwrap())
        .await
        .unwrap();
    click_confirmed(&c, "#import-submit").await;
    let report = text_of(&c, "#import-problems").await;
    let rows = c.find_all(Locator::Css("#import-problems tbody tr")).await.unwrap();
    let mut cells = Vec::new();
    for r in rows {
        let tds = r.find_all(Locator::Css("td")).await.unwrap();
        cells.push((tds[0].text().await.unwrap(), tds[1].text().await.unwrap()));
    }
    assert_eq!(
        cells,
        vec![
            ("3".to_string(), "scope".to_string()),
            ("4".to_string(), "scope".to_string())
        ],
        "{report}"
    );
    assert!(report.contains("999-999-99"), "{report}");
    assert_eq!(entries(&app, &reg).await.len(), 1, "nothing more stored");
    c.execute("document.getElementById('import').scrollIntoView()", vec![])
        .await
        .unwrap();
    shot(&c, backend, "whitelist-import-report").await;

    // The good row as an XLSX: a dry run stores nothing, then the import stores it.
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (i, h) in ["year", "operator_uscc", "source_province", "scope", "quota_kg"]
        .iter()
        .enumerate()
    {
        sheet.write_string(0, i as u16, *h).unwrap();
    }
    sheet.write_number(1, 0, f64::from(reg.year)).unwrap();
    sheet.write_string(1, 1, &operator_uscc).unwrap();
    sheet.write_string(1, 2, "500000").unwrap();
    sheet.write_string(1, 3, "HW49").unwrap();
    sheet.write_number(1, 4, 10.0).unwrap();
    let xlsx_path = dir.path().join("whitelist.xlsx");
    std::fs::write(&xlsx_path, book.save_to_buffer().unwrap()).unwrap();
    for dry_run in [true, false] {
        c.goto(&app.url("/ui/whitelist/new")).await.unwrap();
        c.find(Locator::Id("import-file"))
            .await
            .unwrap()
            .send_keys(xlsx_path.to_str().unwrap())
            .await
            .unwrap();
        if dry_run {
            c.find(Locator::Id("import-dry-run"))
                .await
                .unwrap()
                .click()
                .await
                .unwrap();
        }
        click_confirmed(&c, "#import-submit").await;
        let report = text_of(&c, "#import-report").await;
        if dry_run {
            assert!(report.contains("检查通过") && report.contains('1'), "{report}");
            assert_eq!(entries(&app, &reg).await.len(), 1, "a dry run stores nothing");
        } else {
            assert!(report.contains("已导入的条目数") && report.contains('1'), "{report}");
        }
    }
    assert_eq!(
        entries(&app, &reg).await,
        vec![
            ("HW08".to_string(), "250.500".to_string(), "proposed".to_string()),
            ("HW49".to_string(), "10.000".to_string(), "proposed".to_string()),
        ]
    );

    // A regulator is offered no calendar import and cannot post one.
    let next = reg.year + 1;
    c.goto(&app.url(&format!("/ui/calendar?year={next}"))).await.unwrap();
    text_of(&c, "#calendar-missing").await;
    assert!(c.find(Locator::Id("calendar-import")).await.is_err());
    let status = post_form_in_page(
        &c,
        "/ui/calendar/import",
        &[
            ("year", &next.to_string()),
            ("source", "x"),
            ("days", &format!("{next}-01-01,holiday,元旦")),
        ],
    )
    .await;
    assert_eq!(status, 403);
    let (s, _, _) = app.get(&format!("/api/v1/calendar/{next}"), None).await;
    assert_eq!(s, 404, "nothing imported");
    logout(&c).await;

    // The admin imports next year: a bad line is named and nothing is stored; then it is right.
    login(&c, &app, "root").await;
    c.goto(&app.url(&format!("/ui/calendar?year={next}"))).await.unwrap();
    text_of(&c, "#calendar-missing").await;
    fill(
        &c,
        "#calendar-import input[name='source']",
        &format!("国务院办公厅关于{next}年部分节假日安排的通知"),
    )
    .await;
    let good = format!(
        "date,kind,name_zh,name_en\n{next}-01-01,holiday,元旦,New Year's Day\n{next}-02-06,holiday,春节,Spring Festival\n{next}-02-07,holiday,春节,Spring Festival\n"
    );
    fill(&c, "#calendar-days", &format!("{good}{next}-13-01,holiday,不存在\n")).await;
    click_confirmed(&c, "#calendar-submit").await;
    let problems = text_of(&c, "#calendar-problems").await;
    let first = c
        .find(Locator::Css("#calendar-problems tbody td"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(first, "5", "the bad line is named: {problems}");
    let (s, _, _) = app.get(&format!("/api/v1/calendar/{next}"), None).await;
    assert_eq!(s, 404, "nothing imported");
    fill(&c, "#calendar-days", &good).await;
    click_confirmed(&c, "#calendar-submit").await;
    text_of(&c, "#calendar-done").await;
    let days = text_of(&c, "#days").await;
    assert!(
        days.contains(&format!("{next}-02-06")) && days.contains("春节"),
        "{days}"
    );
    shot(&c, backend, "calendar-imported").await;
    let (s, stored, _) = app.get(&format!("/api/v1/calendar/{next}"), None).await;
    assert_eq!(s, 200, "{stored}");
    assert_eq!(stored["days"].as_array().unwrap().len(), 3, "{stored}");
    assert!(stored["source"].as_str().unwrap().contains("部分节假日安排"));
    c.close().await.unwrap();
}
both_backends!(regulators_propose_and_import, regulators_propose_and_import);

/// The catalogue by edition in the browser: while the edition in force (2025) is not loaded, a
/// regulator and the admin see the banner; a regulator is offered no import and cannot post one;
/// the admin's form with a bad row names the file, line and column and stores nothing; the
/// synthetic edition of this year then loads with its mapping, the listing shows it and the
/// banner goes.
async fn admin_loads_a_catalogue_edition(backend: Backend) {
    use crate::fixtures::{TEST_EDITION_SOURCE, test_edition_codes, test_edition_successors};
    let app = TestApp::spawn(backend).await;
    let _registry = Registry::setup(&app).await;
    let driver = start_driver().await;
    let c = browser(&driver).await;
    let year = this_year().to_string();
    let stored = || async {
        let (s, eds, _) = app.get("/api/v1/catalogue/editions", None).await;
        assert_eq!(s, 200, "{eds}");
        eds.as_array().unwrap().clone()
    };

    login(&c, &app, "cq").await;
    let banner = text_of(&c, "#catalogue-missing").await;
    assert!(
        banner.contains("2025") && banner.contains("部令第36号") && banner.contains("2021"),
        "{banner}"
    );
    c.goto(&app.url("/ui/catalogue")).await.unwrap();
    text_of(&c, "#editions").await;
    assert!(c.find(Locator::Id("catalogue-import")).await.is_err());
    let status = post_form_in_page(
        &c,
        "/ui/catalogue/import",
        &[
            ("edition", &year),
            ("in_force_from", &format!("{year}-01-01")),
            ("source", "x"),
            ("code_count", "3"),
            ("codes", &test_edition_codes()),
        ],
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(stored().await.len(), 1, "nothing imported");
    logout(&c).await;

    login(&c, &app, "root").await;
    c.goto(&app.url("/ui/catalogue")).await.unwrap();
    text_of(&c, "#catalogue-missing").await;
    fill(&c, "#catalogue-edition", &year).await;
    fill(&c, "#catalogue-in-force", &format!("{year}-01-01")).await;
    fill(&c, "#catalogue-source", TEST_EDITION_SOURCE).await;
    fill(&c, "#catalogue-count", "3").await;
    let bad = test_edition_codes().replace("900-901-49,HW49", "900-901-4,HW49");
    fill(&c, "#catalogue-codes", &bad).await;
    fill(&c, "#catalogue-successors", &test_edition_successors()).await;
    click_confirmed(&c, "#catalogue-submit").await;
    let problems = text_of(&c, "#catalogue-problems").await;
    let cells: Vec<String> = {
        let mut out = Vec::new();
        for td in c
            .find_all(Locator::Css("#catalogue-problems tbody tr:first-child td"))
            .await
            .unwrap()
        {
            out.push(td.text().await.unwrap());
        }
        out
    };
    assert!(cells[0].starts_with("废物代码表"), "{problems}");
    assert_eq!((cells[1].as_str(), cells[2].as_str()), ("3", "code"), "{problems}");
    // The mapping's line to the malformed code is named too.
    assert!(problems.contains("900-901-49"), "{problems}");
    assert_eq!(stored().await.len(), 1, "nothing imported");

    fill(&c, "#catalogue-codes", &test_edition_codes()).await;
    click_confirmed(&c, "#catalogue-submit").await;
    text_of(&c, "#catalogue-done").await;
    let listed = text_of(&c, &format!("#editions tr[data-edition='{year}']")).await;
    assert!(listed.contains(TEST_EDITION_SOURCE) && listed.contains('3'), "{listed}");
    assert!(
        c.find(Locator::Id("catalogue-missing")).await.is_err(),
        "the banner is gone"
    );
    shot(&c, backend, "catalogue-loaded").await;
    let eds = stored().await;
    assert_eq!(eds.len(), 2, "{eds:?}");
    assert_eq!(eds[1]["edition"].to_string(), year);
    assert_eq!(eds[1]["code_count"], 3);
    assert_eq!(eds[1]["successor_count"], 2);
    assert_eq!(eds[1]["in_force_today"], true);
    c.close().await.unwrap();
}
both_backends!(admin_loads_a_catalogue_edition, admin_loads_a_catalogue_edition);

// ------------------------------------------------------------------------------------------------
// Over plain HTTP

pub fn cookie_from(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap_or_default().to_string())
}

/// Posts the login form as a browser would (with the form's CSRF cookie); returns the response.
async fn form_login(app: &TestApp, username: &str, password: &str) -> reqwest::Response {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = client.get(app.url("/ui/login")).send().await.unwrap();
    let cookie = cookie_from(&page, "hwt_login_csrf").expect("login CSRF cookie");
    let token = cookie.split_once('=').unwrap().1.to_string();
    client
        .post(app.url("/ui/login"))
        .header("cookie", cookie)
        .form(&[
            ("csrf", token.as_str()),
            ("username", username),
            ("password", password),
            ("next", ""),
        ])
        .send()
        .await
        .unwrap()
}

async fn login_cookie_headers_and_throttle(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.add_user("cq", "regulator", Some("500000")).await;

    // `/` leads to the login page; the page has the security headers.
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = client.get(app.url("/")).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/ui/login");
    let res = client.get(app.url("/ui/login")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
    assert_eq!(res.headers()["referrer-policy"], "no-referrer");
    let body = res.text().await.unwrap();
    assert!(
        !body.contains("<script>") && !body.contains("onclick="),
        "no inline script"
    );

    // A signed-in session: HttpOnly, SameSite=Strict; `/` then leads to the queue.
    let res = form_login(&app, "cq", PASSWORD).await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/ui/queue");
    let raw = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|v| v.starts_with("hwt_session="))
        .expect("session cookie");
    assert!(raw.contains("HttpOnly") && raw.contains("SameSite=Strict"), "{raw}");
    assert!(!raw.contains("Secure"), "plain HTTP here; Secure comes with TLS");
    let session = cookie_from(&res, "hwt_session").unwrap();
    let res = client
        .get(app.url("/"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["location"], "/ui/queue");
    // Logging out without the CSRF token is refused.
    let res = client
        .post(app.url("/ui/logout"))
        .header("cookie", &session)
        .form(&[("x", "y")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // A page without a session goes to the login, coming back afterwards.
    let res = client.get(app.url("/ui/history?status=approved")).send().await.unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"],
        "/ui/login?next=%2Fui%2Fhistory%3Fstatus%3Dapproved"
    );

    // A login form without its CSRF cookie is refused.
    let res = client
        .post(app.url("/ui/login"))
        .form(&[("csrf", "abc"), ("username", "cq"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    // Failed logins are throttled, and the page says so plainly.
    for _ in 0..5 {
        let res = form_login(&app, "cq", "wrong-password").await;
        assert_eq!(res.status(), 401);
        assert!(res.text().await.unwrap().contains("用户名、密码或动态口令错误"));
    }
    let res = form_login(&app, "cq", PASSWORD).await;
    assert_eq!(res.status(), 429);
    assert!(res.headers().contains_key("retry-after"));
    let body = res.text().await.unwrap();
    assert!(body.contains("登录失败次数过多"), "{body}");

    // The public verification of an unknown number says so, without login.
    let res = client
        .get(app.url("/verify/%E6%B8%9D%E5%8D%B1%E8%BD%AC0000"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert!(res.text().await.unwrap().contains("未找到该批准文号"));
}
both_backends!(login_cookie_headers_and_throttle, login_cookie_headers_and_throttle);

// ------------------------------------------------------------------------------------------------
// Whitelist entries: confirm, suspend and reinstate by clicking

/// (status, status_reason, version) of an entry as the API stores it.
async fn entry_state(app: &TestApp, token: &str, id: &str) -> (String, Option<String>, i64) {
    let (s, e, _) = app.get(&format!("/api/v1/whitelist-entries/{id}"), Some(token)).await;
    assert_eq!(s, 200, "{e}");
    (
        e["status"].as_str().unwrap().to_string(),
        e["status_reason"].as_str().map(str::to_string),
        e["version"].as_i64().unwrap(),
    )
}

/// Waits until the stored entry has `status`, or fails with what it has.
async fn await_entry_status(app: &TestApp, token: &str, id: &str, status: &str) -> (String, Option<String>, i64) {
    let mut last = entry_state(app, token, id).await;
    for _ in 0..50 {
        if last.0 == status {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        last = entry_state(app, token, id).await;
    }
    panic!("the entry did not become {status}: {last:?}");
}

/// Sichuan's regulator confirms an entry Chongqing proposed, suspends it with a reason and
/// reinstates it, each by clicking on the whitelist page, and the API shows each change stored.
/// A click on a page that someone else's change made stale is refused with the notice, and the
/// stored entry keeps the other officer's change.
async fn regulators_change_entries_in_the_browser(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    let (s, body) = reg.propose(&app, &reg.cq, "HW08", "300").await;
    assert_eq!(s, 201, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    let row = format!("tr[data-entry='{id}']");
    let driver = start_driver().await;
    let c = browser(&driver).await;

    login(&c, &app, "sc").await;
    c.goto(&app.url("/ui/whitelist")).await.unwrap();
    click_confirmed(&c, &format!("{row} form[action$='/confirm'] button")).await;
    let (status, _, v_confirmed) = await_entry_status(&app, &reg.sc, &id, "confirmed").await;
    assert_eq!(status, "confirmed");
    assert!(text_of(&c, ".flash.ok").await.contains("已办理"));

    fill(
        &c,
        &format!("{row} form[action$='/suspend'] input[name='reason']"),
        "经营许可证被暂扣",
    )
    .await;
    click_confirmed(&c, &format!("{row} form[action$='/suspend'] button")).await;
    let (_, reason, v_suspended) = await_entry_status(&app, &reg.sc, &id, "suspended").await;
    assert_eq!(reason.as_deref(), Some("经营许可证被暂扣"));
    assert_eq!(v_suspended, v_confirmed + 1);

    c.wait()
        .for_element(Locator::Css(&format!("{row} form[action$='/reinstate']")))
        .await
        .unwrap();
    fill(
        &c,
        &format!("{row} form[action$='/reinstate'] input[name='reason']"),
        "整改完成",
    )
    .await;
    click_confirmed(&c, &format!("{row} form[action$='/reinstate'] button")).await;
    let (_, reason, v_reinstated) = await_entry_status(&app, &reg.sc, &id, "confirmed").await;
    assert_eq!(reason.as_deref(), Some("整改完成"));
    assert_eq!(v_reinstated, v_suspended + 1);
    shot(&c, backend, "whitelist-reinstated").await;

    // Chongqing suspends through the API while Sichuan's page still shows the confirmed entry.
    c.wait()
        .for_element(Locator::Css(&format!("{row} form[action$='/suspend']")))
        .await
        .unwrap();
    let (s, e, _) = app
        .post_json(
            &format!("/api/v1/whitelist-entries/{id}/suspend"),
            Some(&reg.cq),
            &json!({"reason": "渝方暂停"}),
        )
        .await;
    assert_eq!(s, 200, "{e}");
    fill(
        &c,
        &format!("{row} form[action$='/suspend'] input[name='reason']"),
        "川方暂停",
    )
    .await;
    click_confirmed(&c, &format!("{row} form[action$='/suspend'] button")).await;
    assert!(text_of(&c, ".flash.warn").await.contains("他人已先行办理"));
    let (status, reason, version) = entry_state(&app, &reg.sc, &id).await;
    assert_eq!(
        (status.as_str(), reason.as_deref(), version),
        ("suspended", Some("渝方暂停"), v_reinstated + 1),
        "the stale click changed nothing"
    );
}
both_backends!(
    regulators_change_entries_in_the_browser,
    regulators_change_entries_in_the_browser
);

/// The same three actions from the entry's own page (its forms carry `back` to that page):
/// Sichuan confirms, suspends with a reason and reinstates with a reason, each click stored as the
/// API shows, and each answer lands back on the entry's page.
async fn regulators_change_an_entry_on_its_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    let (s, body) = reg.propose(&app, &reg.cq, "HW08", "300").await;
    assert_eq!(s, 201, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    let page = format!("/ui/entries/{id}");
    let driver = start_driver().await;
    let c = browser(&driver).await;

    login(&c, &app, "sc").await;
    c.goto(&app.url(&page)).await.unwrap();
    click_confirmed(&c, "form[action$='/confirm'] button").await;
    let (_, _, v_confirmed) = await_entry_status(&app, &reg.sc, &id, "confirmed").await;
    await_path(&c, &page).await;

    c.wait()
        .for_element(Locator::Css("form[action$='/suspend']"))
        .await
        .unwrap();
    fill(
        &c,
        "form[action$='/suspend'] input[name='reason']",
        "危废经营许可证年检未通过",
    )
    .await;
    click_confirmed(&c, "form[action$='/suspend'] button").await;
    let (_, reason, v_suspended) = await_entry_status(&app, &reg.sc, &id, "suspended").await;
    assert_eq!(reason.as_deref(), Some("危废经营许可证年检未通过"));
    assert_eq!(v_suspended, v_confirmed + 1);
    await_path(&c, &page).await;

    c.wait()
        .for_element(Locator::Css("form[action$='/reinstate']"))
        .await
        .unwrap();
    fill(&c, "form[action$='/reinstate'] input[name='reason']", "复检合格").await;
    click_confirmed(&c, "form[action$='/reinstate'] button").await;
    let (_, reason, v_reinstated) = await_entry_status(&app, &reg.sc, &id, "confirmed").await;
    assert_eq!(reason.as_deref(), Some("复检合格"));
    assert_eq!(v_reinstated, v_suspended + 1);
    await_path(&c, &page).await;
    shot(&c, backend, "entry-page-reinstated").await;
}
both_backends!(
    regulators_change_an_entry_on_its_page,
    regulators_change_an_entry_on_its_page
);

/// Waits until the browser is on `path`, or fails with where it is.
async fn await_path(c: &Client, path: &str) {
    for _ in 0..50 {
        if c.current_url().await.unwrap().path() == path {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("not on {path}: {}", c.current_url().await.unwrap());
}

// ------------------------------------------------------------------------------------------------
// The other forms of the case page: correction notice, acceptance, suspending and resuming the clock

/// Waits until `pred` holds for the case as the API stores it, or fails with the case.
async fn await_case(app: &TestApp, reg: &Registry, id: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let mut a = case(app, reg, id).await;
    for _ in 0..50 {
        if pred(&a) {
            return a;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        a = case(app, reg, id).await;
    }
    panic!("{what}: {a}");
}

/// The open step of a case as the API shows it.
fn open_step(a: &Value) -> Value {
    a["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["completed_at"].is_null())
        .cloned()
        .unwrap_or(Value::Null)
}

/// Chongqing's regulator sends a correction notice by clicking (an empty one is refused by the
/// core and stores nothing), accepts the resubmitted case, suspends its decision clock with a
/// reason and resumes it; after each click the API shows what was stored.
async fn regulators_correct_accept_and_pause_in_the_browser(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    reg.confirmed_entry(&app, "HW08", "100").await;
    let (s, a, _) = app
        .post_json(
            "/api/v1/transfer-applications",
            Some(&reg.enterprise_token),
            &filing(&reg.operator_id, "12", "废矿物油"),
        )
        .await;
    assert_eq!(s, 201, "{a}");
    let id = a["id"].as_str().unwrap().to_string();
    let page = app.url(&format!("/ui/applications/{id}"));
    let driver = start_driver().await;
    let c = browser(&driver).await;
    login(&c, &app, "cq").await;

    // A correction notice with no problem ticked or written: the core refuses it, nothing stored.
    c.goto(&page).await.unwrap();
    click_confirmed(&c, "form[data-action='correction-'] button").await;
    // htmx swaps the refusal in when it arrives (the old page's elements go stale): wait for it.
    let mut refused = String::new();
    for _ in 0..50 {
        if let Ok(e) = c.find(Locator::Css("main")).await
            && let Ok(t) = e.text().await
        {
            refused = t;
            if refused.contains("/problems") {
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(refused.contains("/problems"), "{refused}");
    assert_eq!(case(&app, &reg, &id).await["status"], "submitted");

    // With one problem written, the notice is stored as written.
    c.goto(&page).await.unwrap();
    fill(
        &c,
        "form[data-action='correction-'] textarea[name='other']",
        "缺少运输合同复印件",
    )
    .await;
    click_confirmed(&c, "form[data-action='correction-'] button").await;
    let a = await_case(&app, &reg, &id, "correction stored", |a| {
        a["status"] == "correction_requested"
    })
    .await;
    assert_eq!(a["correction_notice"], json!(["缺少运输合同复印件"]));

    let (s, a, _) = app
        .post_json(
            &format!("/api/v1/transfer-applications/{id}/resubmit"),
            Some(&reg.enterprise_token),
            &json!({"note": "已补充运输合同"}),
        )
        .await;
    assert_eq!(s, 200, "{a}");

    // Acceptance starts the decision clock.
    c.goto(&page).await.unwrap();
    click_confirmed(&c, "form[data-action='accept-'] button").await;
    let a = await_case(&app, &reg, &id, "accepted", |a| {
        a["status"] != "resubmitted" && open_step(a)["kind"] != "acceptance"
    })
    .await;
    assert_eq!(open_step(&a)["side"], "source", "{a}");

    // Suspending the clock stores the reason; resuming closes the suspension.
    c.goto(&page).await.unwrap();
    fill(
        &c,
        "form[data-action='suspend_clock-'] textarea[name='reason']",
        "征求专家意见",
    )
    .await;
    click_confirmed(&c, "form[data-action='suspend_clock-'] button").await;
    let a = await_case(&app, &reg, &id, "clock suspended", |a| {
        open_step(a)["suspended"] == true
    })
    .await;
    let step = open_step(&a);
    assert_eq!(step["suspensions"][0]["reason"], "征求专家意见");
    assert!(step["suspensions"][0]["resumed_on"].is_null());

    c.goto(&page).await.unwrap();
    click_confirmed(&c, "form[data-action='resume_clock-'] button").await;
    let a = await_case(&app, &reg, &id, "clock resumed", |a| open_step(a)["suspended"] == false).await;
    assert!(!open_step(&a)["suspensions"][0]["resumed_on"].is_null(), "{a}");
    shot(&c, backend, "case-clock-resumed").await;

    // A refusal with its reasons, one per line, ends the case.
    c.goto(&page).await.unwrap();
    fill(
        &c,
        "form[data-action='decide-refuse'] textarea[name='reasons']",
        "运输合同未盖章\n接收单位资质证明过期",
    )
    .await;
    click_confirmed(&c, "form[data-action='decide-refuse'] button").await;
    let a = await_case(&app, &reg, &id, "refused", |a| a["status"] == "refused").await;
    let refusal = &a["decisions"].as_array().unwrap()[0];
    assert_eq!(
        (refusal["side"].as_str(), refusal["outcome"].as_str()),
        (Some("source"), Some("refuse")),
        "{a}"
    );
    assert_eq!(refusal["reasons"], json!(["运输合同未盖章", "接收单位资质证明过期"]));
}
both_backends!(
    regulators_correct_accept_and_pause_in_the_browser,
    regulators_correct_accept_and_pause_in_the_browser
);

/// A suspended entry: Chongqing's regulator sees why the case cannot be approved (no approving
/// button), moves it to the standard route by clicking, with a reason; then revokes (撤销) an
/// approval by clicking, and the certificate says so. After each click the API shows what was
/// stored.
async fn regulators_reroute_and_revoke_in_the_browser(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    let entry = reg.confirmed_entry(&app, "HW08", "1000").await;
    let id = accepted_case(&app, &reg, "100", "废矿物油").await;
    let approved = crate::fixtures::approved_application(&app, &reg, "200").await;
    let (_, e, _) = app
        .get(&format!("/api/v1/whitelist-entries/{entry}"), Some(&reg.sc))
        .await;
    let res = app
        .client
        .post(app.url(&format!("/api/v1/whitelist-entries/{entry}/suspend")))
        .bearer_auth(&reg.sc)
        .header("if-match", format!("\"v{}\"", e["version"]))
        .json(&json!({"reason": "接受单位停产检修"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    let driver = start_driver().await;
    let c = browser(&driver).await;
    login(&c, &app, "cq").await;
    c.goto(&app.url(&format!("/ui/applications/{id}"))).await.unwrap();
    let blocked = text_of(&c, "#approval-blocked").await;
    assert!(blocked.contains("接受单位停产检修"), "{blocked}");
    assert!(
        c.find(Locator::Css("form[data-action='decide-approve']"))
            .await
            .is_err(),
        "no approving button while the entry is suspended"
    );
    c.find(Locator::Css("form[data-action='decide-refuse']"))
        .await
        .expect("refusing is still offered");
    fill(
        &c,
        "form[data-action='reroute-'] textarea[name='reason']",
        "白名单条目暂停，转一般程序",
    )
    .await;
    click_confirmed(&c, "form[data-action='reroute-'] button").await;
    let a = await_case(&app, &reg, &id, "rerouted", |a| a["route"] == "standard").await;
    assert!(
        a["route_reasons"].to_string().contains("白名单条目暂停，转一般程序"),
        "{a}"
    );
    assert_eq!(open_step(&a)["kind"], "source_review", "{a}");
    assert!(a["items"][0]["entry_id"].is_null(), "{a}");

    // 撤销 an approval, with reasons one per line.
    c.goto(&app.url(&format!("/ui/applications/{approved}"))).await.unwrap();
    fill(
        &c,
        "form[data-action='revoke-'] textarea[name='reasons']",
        "申报材料不实\n接受单位许可证被暂扣",
    )
    .await;
    click_confirmed(&c, "form[data-action='revoke-'] button").await;
    let a = await_case(&app, &reg, &approved, "revoked", |a| a["status"] == "revoked").await;
    assert_eq!(
        a["approval"]["revocation_reasons"],
        json!(["申报材料不实", "接受单位许可证被暂扣"])
    );
    c.goto(&app.url(&format!("/ui/applications/{approved}/certificate")))
        .await
        .unwrap();
    let banner = text_of(&c, "#cert-revoked").await;
    let today = hwtransfer::domain::calendar::shanghai_date(chrono::Utc::now()).to_string();
    assert!(banner.contains(&today) && banner.contains("申报材料不实"), "{banner}");
    shot(&c, backend, "certificate-revoked").await;
}
both_backends!(
    regulators_reroute_and_revoke_in_the_browser,
    regulators_reroute_and_revoke_in_the_browser
);

// ------------------------------------------------------------------------------------------------
// Webhooks: enabling a subscription the delivery job disabled

async fn subscription_status(app: &TestApp, token: &str, sub: &str) -> String {
    let (_, s, _) = app
        .get(&format!("/api/v1/webhook-subscriptions/{sub}"), Some(token))
        .await;
    s["status"].as_str().unwrap_or_default().to_string()
}

/// Chongqing's subscription is disabled after a day of failed deliveries; its regulator enables it
/// again by clicking on the webhooks page, and the API shows it active.
async fn regulators_enable_a_webhook_in_the_browser(backend: Backend) {
    use crate::webhooks::{Receiver, Reply, deliver_all, subscribe, webhook_config};
    let app = TestApp::spawn_with(backend, webhook_config).await;
    let reg = Registry::setup(&app).await;
    reg.confirmed_entry(&app, "HW08", "100").await;
    let rx = Receiver::start().await;
    rx.always(Reply::Status(500));
    let (sub, _) = subscribe(&app, &reg.cq, &rx.url, &["application.filed"]).await;
    let (s, a, _) = app
        .post_json(
            "/api/v1/transfer-applications",
            Some(&reg.enterprise_token),
            &filing(&reg.operator_id, "5", "废矿物油"),
        )
        .await;
    assert_eq!(s, 201, "{a}");
    let d = hwtransfer::jobs::delivery::Deliverer::new(&app.state.config).unwrap();
    let t0 = chrono::Utc::now();
    deliver_all(&app, &d, t0).await;
    deliver_all(
        &app,
        &d,
        t0 + chrono::TimeDelta::hours(24) + chrono::TimeDelta::minutes(1),
    )
    .await;
    assert_eq!(subscription_status(&app, &reg.cq, &sub).await, "disabled");

    let driver = start_driver().await;
    let c = browser(&driver).await;
    login(&c, &app, "cq").await;
    c.goto(&app.url("/ui/webhooks")).await.unwrap();
    c.find(Locator::Css(&format!(
        "form[action='/ui/webhooks/{sub}/enable'] button"
    )))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    let mut now = subscription_status(&app, &reg.cq, &sub).await;
    for _ in 0..50 {
        if now == "active" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        now = subscription_status(&app, &reg.cq, &sub).await;
    }
    assert_eq!(now, "active", "enabled by the click");
}
both_backends!(
    regulators_enable_a_webhook_in_the_browser,
    regulators_enable_a_webhook_in_the_browser
);

// ------------------------------------------------------------------------------------------------
// The standard route as 部令第23号 writes it (issue 17)

/// Files a case on the standard route (no whitelist entry), confirming it; returns its id.
async fn standard_case(app: &TestApp, reg: &Registry, kg: &str) -> String {
    let (s, a, _) = app
        .file_confirmed(&reg.enterprise_token, &filing(&reg.operator_id, kg, "废矿物油"))
        .await;
    assert_eq!((s, a["route"].as_str()), (201, Some("standard")), "{a}");
    a["id"].as_str().unwrap().to_string()
}

/// Chongqing refuses to accept one case (不予受理) and sends the consultation letter of another
/// with its number; Sichuan refuses in its reply (复函); Chongqing, offered no approval after
/// that, refuses with a numbered decision. Each refusal document shows its number, reasons and
/// the applicant's remedies; a standard approval's certificate cites both letters, the method,
/// the categories, the conditions and the departments it is copied to. After each click the API
/// shows what was stored.
async fn regulators_take_the_standard_route_in_the_browser(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    let refused_at_acceptance = standard_case(&app, &reg, "3").await;
    let consulted = standard_case(&app, &reg, "4").await;
    let approved = standard_case(&app, &reg, "5").await;
    for id in [&consulted, &approved] {
        let (s, a, _) = app
            .post_json(
                &format!("/api/v1/transfer-applications/{id}/accept"),
                Some(&reg.cq),
                &json!({}),
            )
            .await;
        assert_eq!(s, 200, "{a}");
    }
    let y = hwtransfer::domain::calendar::shanghai_date(chrono::Utc::now())
        .format("%Y")
        .to_string();
    let today = hwtransfer::domain::calendar::shanghai_date(chrono::Utc::now()).to_string();
    let driver = start_driver().await;
    let c = browser(&driver).await;
    login(&c, &app, "cq").await;

    // 不予受理 with reasons: the acceptance period offers it beside the correction notice, and
    // no clock suspension (the correction window never stops).
    let page = app.url(&format!("/ui/applications/{refused_at_acceptance}"));
    c.goto(&page).await.unwrap();
    assert!(
        c.find(Locator::Css("form[data-action='suspend_clock-']"))
            .await
            .is_err(),
        "the acceptance period cannot be suspended"
    );
    fill(
        &c,
        "form[data-action='refuse_acceptance-'] textarea[name='reasons']",
        "申请单位不是该批废物的产生单位",
    )
    .await;
    click_confirmed(&c, "form[data-action='refuse_acceptance-'] button").await;
    let a = await_case(&app, &reg, &refused_at_acceptance, "not accepted", |a| {
        a["status"] == "not_accepted"
    })
    .await;
    assert_eq!(a["refusal"]["reasons"], json!(["申请单位不是该批废物的产生单位"]));
    let number = format!("渝危转不受〔{y}〕0001号");
    assert_eq!(a["refusal"]["number"], number.as_str());
    c.goto(&page).await.unwrap();
    assert!(text_of(&c, "#refusal-number").await.starts_with(&number));
    c.find(Locator::Id("refusal-link"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    assert_eq!(text_of(&c, "#refusal-title").await, "不予受理决定书");
    assert_eq!(text_of(&c, "#refusal-number").await, number);
    let remedies = text_of(&c, "#remedies").await;
    assert!(
        remedies.contains("60日内") && remedies.contains("行政复议") && remedies.contains("行政诉讼"),
        "{remedies}"
    );

    // The consultation letter: its number typed, its date today (prefilled).
    let page = app.url(&format!("/ui/applications/{consulted}"));
    c.goto(&page).await.unwrap();
    fill(
        &c,
        "form[data-action='decide-approve'] input[name='letter_number']",
        "测试商请函〔2026〕11号",
    )
    .await;
    click_confirmed(&c, "form[data-action='decide-approve'] button").await;
    let a = await_case(&app, &reg, &consulted, "consultation sent", |a| {
        a["status"] == "consultation_sent"
    })
    .await;
    assert_eq!(
        a["consultation_letter"],
        json!({"number": "测试商请函〔2026〕11号", "date": today})
    );
    logout(&c).await;

    // Sichuan refuses in its reply: an opinion; the case goes back to Chongqing.
    login(&c, &app, "sc").await;
    c.goto(&page).await.unwrap();
    fill(
        &c,
        "form[data-action='decide-refuse'] textarea[name='reasons']",
        "接受单位焚烧线检修",
    )
    .await;
    fill(
        &c,
        "form[data-action='decide-refuse'] input[name='letter_number']",
        "测试复函〔2026〕5号",
    )
    .await;
    click_confirmed(&c, "form[data-action='decide-refuse'] button").await;
    let a = await_case(&app, &reg, &consulted, "replied", |a| {
        a["status"] == "receiving_replied"
    })
    .await;
    assert_eq!(a["reply"]["number"], "测试复函〔2026〕5号");
    assert_eq!(open_step(&a)["kind"], "source_decision");
    logout(&c).await;

    // Chongqing may only refuse now; its refusal is a numbered 不予许可决定书.
    login(&c, &app, "cq").await;
    c.goto(&page).await.unwrap();
    let reply = text_of(&c, "#reply-letter").await;
    assert!(reply.contains("测试复函〔2026〕5号"), "{reply}");
    assert!(
        c.find(Locator::Css("form[data-action='decide-approve']"))
            .await
            .is_err(),
        "no approval after a refusing reply"
    );
    fill(
        &c,
        "form[data-action='decide-refuse'] textarea[name='reasons']",
        "接受地不同意接收",
    )
    .await;
    click_confirmed(&c, "form[data-action='decide-refuse'] button").await;
    let a = await_case(&app, &reg, &consulted, "refused", |a| a["status"] == "refused").await;
    let number = format!("渝危转不许〔{y}〕0001号");
    assert_eq!(a["refusal"]["number"], number.as_str());
    c.goto(&app.url(&format!("/ui/applications/{consulted}/refusal")))
        .await
        .unwrap();
    assert_eq!(text_of(&c, "#refusal-title").await, "不予许可决定书");
    assert_eq!(text_of(&c, "#refusal-number").await, number);
    assert!(text_of(&c, "#receiving-opinion").await.contains("接受单位焚烧线检修"));
    assert_eq!(
        text_of(&c, "#review-until").await,
        a["refusal"]["remedies"]["review_until"].as_str().unwrap()
    );
    shot(&c, backend, "refusal").await;

    // A standard approval (through the API) and its certificate (第27条).
    let letter = |n: &str| json!({"number": n, "date": today});
    for (token, body) in [
        (
            &reg.cq,
            json!({"side": "source", "outcome": "approve", "letter": letter("测试商请函〔2026〕12号")}),
        ),
        (
            &reg.sc,
            json!({"side": "receiving", "outcome": "approve", "letter": letter("测试复函〔2026〕6号")}),
        ),
        (
            &reg.cq,
            json!({"side": "source", "outcome": "approve", "conditions": ["按批准的路线和时段运输"]}),
        ),
    ] {
        let v = case(&app, &reg, &approved).await["version"].as_i64().unwrap();
        let res = app
            .client
            .post(app.url(&format!("/api/v1/transfer-applications/{approved}/decisions")))
            .bearer_auth(token)
            .header("if-match", format!("\"{v}\""))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200);
    }
    c.goto(&app.url(&format!("/ui/applications/{approved}/certificate")))
        .await
        .unwrap();
    assert_eq!(text_of(&c, "#cert-method").await, "处置");
    assert!(
        text_of(&c, "#cert-consultation")
            .await
            .contains("测试商请函〔2026〕12号")
    );
    assert!(text_of(&c, "#cert-reply").await.contains("测试复函〔2026〕6号"));
    assert!(text_of(&c, "#cert-conditions").await.contains("按批准的路线和时段运输"));
    let copies = text_of(&c, "#cert-copies").await;
    for d in [
        "重庆市交通运输主管部门",
        "四川省交通运输主管部门",
        "四川省生态环境主管部门",
    ] {
        assert!(copies.contains(d), "{copies}");
    }
    let items = text_of(&c, "#certificate table").await;
    assert!(
        items.contains("HW08") && items.contains("900-249-08") && items.contains("5.000"),
        "{items}"
    );
    shot(&c, backend, "certificate-standard").await;
}
both_backends!(
    regulators_take_the_standard_route_in_the_browser,
    regulators_take_the_standard_route_in_the_browser
);

/// On the whitelist route with the consent policy the receiving province's decision is its own
/// step: Sichuan suspends and resumes its clock by clicking, and only its step stands still.
async fn receiving_province_pauses_its_own_whitelist_step_in_the_browser(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    reg.confirmed_entry(&app, "HW08", "100").await;
    let id = accepted_case(&app, &reg, "7", "废矿物油").await;
    let page = app.url(&format!("/ui/applications/{id}"));
    let driver = start_driver().await;
    let c = browser(&driver).await;
    login(&c, &app, "sc").await;
    c.goto(&page).await.unwrap();
    fill(
        &c,
        "form[data-action='suspend_clock-'] textarea[name='reason']",
        "接受单位现场核查",
    )
    .await;
    click_confirmed(&c, "form[data-action='suspend_clock-'] button").await;
    let step = |a: &Value, kind: &str| {
        a["steps"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["kind"] == kind)
            .cloned()
            .unwrap()
    };
    let a = await_case(&app, &reg, &id, "receiving clock suspended", |a| {
        step(a, "whitelist_consent")["suspended"] == true
    })
    .await;
    assert_eq!(
        step(&a, "whitelist_consent")["suspensions"][0]["reason"],
        "接受单位现场核查"
    );
    assert_eq!(
        step(&a, "whitelist_decision")["suspended"],
        false,
        "Chongqing's clock runs on"
    );
    c.goto(&page).await.unwrap();
    click_confirmed(&c, "form[data-action='resume_clock-'] button").await;
    let a = await_case(&app, &reg, &id, "receiving clock resumed", |a| {
        step(a, "whitelist_consent")["suspended"] == false
    })
    .await;
    assert!(step(&a, "whitelist_consent")["suspensions"][0]["resumed_on"].is_string());
}
both_backends!(
    receiving_province_pauses_its_own_whitelist_step_in_the_browser,
    receiving_province_pauses_its_own_whitelist_step_in_the_browser
);

// ------------------------------------------------------------------------------------------------
// History and annual report pages: the service's typed queries

/// The history and annual pages read their filter forms into `service::history`'s typed queries:
/// their rows and CSV exports are the API's for the same filter and the same regulator, an
/// invalid filter is refused with every problem, and the annual page defaults to last year.
async fn history_and_annual_pages_match_the_api(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (reg, a, b, c) = crate::history::seeded(&app).await;
    app.add_user("cq_hist", "regulator", Some("500000")).await;
    let session = cookie_from(&form_login(&app, "cq_hist", PASSWORD).await, "hwt_session").unwrap();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let get = |path: String| {
        let req = client.get(app.url(&path)).header("cookie", &session);
        async move {
            let res = req.send().await.unwrap();
            let status = res.status().as_u16();
            let kind = res
                .headers()
                .get("content-type")
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default();
            (status, kind, res.text().await.unwrap())
        }
    };
    let api_csv = |path: String| {
        let req = app
            .client
            .get(app.url(&path))
            .bearer_auth(&reg.cq)
            .header("accept", "text/csv");
        async move { req.send().await.unwrap().text().await.unwrap() }
    };

    // The filter form sends every field, the empty ones too; only the approved case is listed.
    let (s, _, page) = get("/ui/history?status=approved&code=&from=&totals=".into()).await;
    assert_eq!(s, 200, "{page}");
    assert!(page.contains(&format!("/ui/applications/{a}")), "{page}");
    assert!(!page.contains(&format!("/ui/applications/{b}")) && !page.contains(&format!("/ui/applications/{c}")));
    // An invalid filter: every problem, nothing listed.
    let (s, _, page) = get("/ui/history?status=nonsense&from=yesterday&colour=red".into()).await;
    assert_eq!(s, 422, "{page}");
    for field in ["/status", "/from", "/colour"] {
        assert!(page.contains(field), "{field} in {page}");
    }

    // The export is the API's CSV for the same filter and the same province.
    let (s, kind, ui) = get("/ui/history/export?source_province=500000&status=".into()).await;
    assert_eq!(s, 200);
    assert!(kind.starts_with("text/csv"), "{kind}");
    let api = api_csv("/api/v1/transfers?source_province=500000".into()).await;
    assert_eq!(ui, api);
    assert!(ui.starts_with('\u{feff}') && ui.lines().count() == 4, "{ui}");

    // The annual report: by default last year's (empty here), and this year's export is the API's.
    let year = this_year();
    let (s, _, page) = get("/ui/annual".into()).await;
    assert_eq!(s, 200);
    assert!(
        page.contains(&format!("/ui/annual/export?year={}&#38;format=xlsx", year - 1)),
        "{page}"
    );
    let (s, kind, ui) = get(format!("/ui/annual/export?year={year}&format=csv")).await;
    assert_eq!(s, 200);
    assert!(kind.starts_with("text/csv"), "{kind}");
    let api = api_csv(format!("/api/v1/reports/annual?year={year}")).await;
    assert_eq!(ui, api);
    assert!(
        ui.lines()
            .nth(1)
            .unwrap()
            .ends_with(",500000,HW08,100.000,0.000,20.000,1"),
        "{ui}"
    );
    let (s, _, _) = get("/ui/annual?year=1999".into()).await;
    assert_eq!(s, 422);
}
both_backends!(
    history_and_annual_pages_match_the_api,
    history_and_annual_pages_match_the_api
);

/// The January report's page shows the API's numbers: a regulator opens it in the browser, picks
/// the year in its form, and every line (listed, shared, received, manifests) and the totals
/// read from the page are those of `GET /api/v1/reports/annual` for the same regulator; the page
/// links both downloads.
async fn january_report_page_shows_the_apis_numbers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (reg, ..) = crate::history::seeded(&app).await;
    let year = this_year();
    app.add_user("sc_annual", "regulator", Some("510000")).await;
    let (s, api, _) = app
        .get(&format!("/api/v1/reports/annual?year={year}"), Some(&reg.sc))
        .await;
    assert_eq!(s, 200, "{api}");
    assert!(!api["lines"].as_array().unwrap().is_empty(), "{api}");

    let driver = start_driver().await;
    let c = browser(&driver).await;
    login(&c, &app, "sc_annual").await;
    c.goto(&app.url("/ui/annual")).await.unwrap();
    // The page opens on last year's report; the form asks for this year's.
    let field = c.find(Locator::Css("form.filters input[name=year]")).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(&year.to_string()).await.unwrap();
    c.find(Locator::Css("form.filters button[type=submit]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    for _ in 0..50 {
        if c.current_url()
            .await
            .unwrap()
            .query()
            .unwrap_or_default()
            .contains(&format!("year={year}"))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(text_of(&c, "h1").await.contains(&year.to_string()));
    let rows = c
        .find_all(Locator::Css("#annual tbody tr[data-operator]"))
        .await
        .unwrap();
    assert_eq!(rows.len(), api["lines"].as_array().unwrap().len());
    for l in api["lines"].as_array().unwrap() {
        let row = format!(
            "#annual tbody tr[data-operator='{}'][data-source='{}'][data-category='{}']",
            l["operator_id"].as_str().unwrap(),
            l["source_province"].as_str().unwrap(),
            l["category"].as_str().unwrap()
        );
        for (cell, field) in [
            ("listed", "listed_kg"),
            ("shared", "shared_listed_kg"),
            ("received", "received_kg"),
        ] {
            assert_eq!(
                text_of(&c, &format!("{row} td.{cell}")).await,
                l[field].as_str().unwrap(),
                "{field} of {row}"
            );
        }
        assert_eq!(
            text_of(&c, &format!("{row} td.manifests")).await,
            l["manifests"].to_string()
        );
    }
    assert_eq!(
        text_of(&c, "#annual-totals td.received").await,
        api["totals"]["received_kg"].as_str().unwrap()
    );
    assert_eq!(
        text_of(&c, "#annual-totals td.listed").await,
        api["totals"]["listed_kg"].as_str().unwrap()
    );
    for (id, format) in [("export-csv", "csv"), ("export-xlsx", "xlsx")] {
        let href = c
            .find(Locator::Id(id))
            .await
            .unwrap()
            .attr("href")
            .await
            .unwrap()
            .unwrap();
        assert!(
            href.ends_with(&format!("/ui/annual/export?year={year}&format={format}")),
            "{href}"
        );
    }
    shot(&c, backend, "annual-report").await;
    c.close().await.unwrap();
}
both_backends!(
    january_report_page_shows_the_apis_numbers,
    january_report_page_shows_the_apis_numbers
);

// ------------------------------------------------------------------------------------------------
// The second factor at the web UI's door (等保 2.0, issue 19)

/// A regulator who enrolled a second factor signs in by typing the code on the login page; the
/// password alone is refused. Under `HWT_SECOND_FACTOR=required` one who has not enrolled is led
/// to the enrolment.
async fn regulators_sign_in_with_a_one_time_code_in_the_browser(backend: Backend) {
    use hwtransfer::auth::totp;
    let now = || u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0);
    let app = TestApp::spawn_with(backend, |c| {
        c.second_factor = hwtransfer::config::SecondFactorMode::Required;
    })
    .await;
    app.add_user("cq", "regulator", Some("500000")).await;
    app.add_user("sc", "regulator", Some("510000")).await;
    // Enrol cq's factor through the API with the enrolment-only token the password gives.
    let token = app.login("cq").await;
    let (s, b, _) = app
        .post_json("/api/v1/auth/second-factor", Some(&token), &json!({}))
        .await;
    assert_eq!(s, 201, "{b}");
    let secret = b["secret"].as_str().unwrap().to_string();
    let (s, b, _) = app
        .post_json(
            "/api/v1/auth/second-factor/confirm",
            Some(&token),
            &json!({"code": totp::code_at(&secret, now()).unwrap()}),
        )
        .await;
    assert_eq!(s, 200, "{b}");

    let driver = start_driver().await;
    let c = browser(&driver).await;
    let login_url = app.url("/ui/login");
    let fill = |user: &'static str, code: Option<String>| {
        let (c, login_url) = (c.clone(), login_url.clone());
        async move {
            c.goto(&login_url).await.unwrap();
            submit_login(&c, user, code.as_deref()).await;
        }
    };
    // The password alone: refused, no session.
    fill("cq", None).await;
    let err = c.wait().for_element(Locator::Id("login-error")).await.unwrap();
    assert!(err.text().await.unwrap().contains("动态口令"));
    assert!(c.get_named_cookie("hwt_session").await.is_err());
    // With the next step's code (the confirming one counts once): signed in.
    fill("cq", Some(totp::code_at(&secret, now() + 30).unwrap())).await;
    c.wait()
        .for_element(Locator::Id("logout"))
        .await
        .expect("signed in with the code");
    let audit = app
        .state
        .db
        .run(|conn| hwtransfer::db::audit::events(conn, &Default::default(), None, 1000))
        .await
        .unwrap();
    assert!(
        audit.iter().any(|r| r.action == "login" && r.actor_name == "cq"),
        "the sign-in is a security event in the trail"
    );
    logout(&c).await;
    // A regulator without a factor, under `required`: led to the enrolment (see ui_accounts.rs).
    fill("sc", None).await;
    c.wait().for_element(Locator::Id("sf-start")).await.unwrap();
    assert_eq!(c.current_url().await.unwrap().path(), "/ui/second-factor");
    c.close().await.ok();
}
both_backends!(
    regulators_sign_in_with_a_one_time_code_in_the_browser,
    regulators_sign_in_with_a_one_time_code_in_the_browser
);

/// The admin imports a year's calendar as a file chosen in the form (a file wins over the text
/// box): a file that is not UTF-8 is refused on the form and nothing is stored; the right file is
/// stored, and the API shows its days and source.
async fn admin_imports_a_calendar_file_in_the_browser(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.add_user("root", "admin", None).await;
    let driver = start_driver().await;
    let c = browser(&driver).await;
    let next = this_year() + 1;
    let dir = tempfile::tempdir().unwrap();
    // 元旦 in GBK, as an old spreadsheet export would write it.
    let gbk = dir.path().join("notice-gbk.csv");
    let mut bytes = format!("date,kind,name_zh,name_en\n{next}-01-01,holiday,").into_bytes();
    bytes.extend_from_slice(&[0xD4, 0xAA, 0xB5, 0xA9]);
    bytes.extend_from_slice(b",New Year's Day\n");
    std::fs::write(&gbk, bytes).unwrap();
    let utf8 = dir.path().join("notice.csv");
    std::fs::write(
        &utf8,
        format!(
            "date,kind,name_zh,name_en\n{next}-01-01,holiday,元旦,New Year's Day\n{next}-10-01,holiday,国庆节,National Day\n"
        ),
    )
    .unwrap();
    let source = format!("国务院办公厅关于{next}年部分节假日安排的通知");

    let choose = async |file: &std::path::Path| {
        fill(&c, "#calendar-import input[name='source']", &source).await;
        c.find(Locator::Css("#calendar-import input[name='file']"))
            .await
            .unwrap()
            .send_keys(file.to_str().unwrap())
            .await
            .unwrap();
        click_confirmed(&c, "#calendar-submit").await;
    };

    login(&c, &app, "root").await;
    c.goto(&app.url(&format!("/ui/calendar?year={next}"))).await.unwrap();
    text_of(&c, "#calendar-missing").await;
    choose(gbk.as_path()).await;
    let problems = text_of(&c, "#calendar-problems").await;
    assert!(problems.contains("UTF-8"), "{problems}");
    let (s, stored, _) = app.get(&format!("/api/v1/calendar/{next}"), None).await;
    assert_eq!(s, 404, "nothing imported: {stored}");

    choose(utf8.as_path()).await;
    text_of(&c, "#calendar-done").await;
    let (s, stored, _) = app.get(&format!("/api/v1/calendar/{next}"), None).await;
    assert_eq!(s, 200, "{stored}");
    let days: Vec<&str> = stored["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["date"].as_str().unwrap())
        .collect();
    assert_eq!(days, [format!("{next}-01-01"), format!("{next}-10-01")]);
    assert_eq!(stored["source"], source.as_str());
    let days = text_of(&c, "#days").await;
    assert!(days.contains("国庆节"), "{days}");
    c.close().await.unwrap();
}
both_backends!(
    admin_imports_a_calendar_file_in_the_browser,
    admin_imports_a_calendar_file_in_the_browser
);
