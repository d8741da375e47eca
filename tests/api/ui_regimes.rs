//! The web UI of issue #17's regimes and manifests, clicked in headless Chromium: a case page's
//! manifests with their arrival, back-fill and discrepancies (read-only for regulators), a quota
//! amended by letter on the entry page with its history, and agreements among several provinces,
//! a one-sided inbound list and an entry shared by several sources. Each form is clicked as a
//! person would; the stored state is then read through the API.

use chrono::Utc;
use fantoccini::{Client, Locator};
use serde_json::{Value, json};

use crate::both_backends;
use crate::fixtures::Registry;
use crate::fixtures::{approved_application, manifest};
use crate::manifest_rules::{approved_days_ago, paper};
use crate::support::{Backend, TestApp};
use crate::ui::{browser, click_confirmed, fill, login, logout, shot, start_driver, text_of};

async fn post(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let (s, b, _) = app.post_json(path, Some(token), &body).await;
    assert!(s == 200 || s == 201, "{path}: {s} {b}");
    b
}

async fn get(app: &TestApp, token: &str, path: &str) -> Value {
    let (s, b, _) = app.get(path, Some(token)).await;
    assert_eq!(s, 200, "{path}: {b}");
    b
}

/// The texts of every element `css` finds.
async fn texts(c: &Client, css: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in c.find_all(Locator::Css(css)).await.unwrap() {
        out.push(e.text().await.unwrap());
    }
    out
}

async fn click(c: &Client, css: &str) {
    c.wait()
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap();
}

/// A case with two trips: one that arrived (reported for the carrier) and was received with a
/// quantity and a packaging discrepancy, and one made on paper and back-filled too late. Sichuan's
/// regulator sees both on the case page, the arrival, the back-fill's deadline and its overdue
/// flag, and on the manifest's page each discrepancy with the declared line beside what was
/// found and the operator's decision, and no form to act with.
async fn regulators_read_manifests_on_the_case_page(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    reg.confirmed_entry(&app, "HW08", "100").await;
    let app_id = approved_application(&app, &reg, "40").await;
    approved_days_ago(&app, &app_id, 60).await;

    let m1 = post(
        &app,
        &reg.enterprise_token,
        "/api/v1/manifests",
        manifest(&app_id, &[(0, "25")]),
    )
    .await;
    let m1 = m1["id"].as_str().unwrap().to_string();
    post(
        &app,
        &reg.enterprise_token,
        &format!("/api/v1/manifests/{m1}/dispatch"),
        json!({}),
    )
    .await;
    post(
        &app,
        &reg.enterprise_token,
        &format!("/api/v1/manifests/{m1}/arrival"),
        json!({}),
    )
    .await;
    post(
        &app,
        &reg.operator_token,
        &format!("/api/v1/manifests/{m1}/receipt"),
        json!({"outcome": "received", "items": [{"line": 0, "accepted_kg": "24"}], "discrepancies": [
            {"line": 0, "kind": "quantity", "description": "地磅复核少1千克", "decision": "accept"},
            {"line": 0, "kind": "packaging", "description": "桶盖松动，已加固", "decision": "accept"}]}),
    )
    .await;
    let batch = post(
        &app,
        &reg.enterprise_token,
        "/api/v1/manifests/batch",
        json!({"manifests": [paper(&app_id, "p2", 45, 40)]}),
    )
    .await;
    let late = batch["results"][0]["manifest"].clone();
    assert_eq!(late["backfill_overdue"], true, "{batch}");
    let m2 = late["id"].as_str().unwrap().to_string();
    let stored1 = get(&app, &reg.sc, &format!("/api/v1/manifests/{m1}")).await;

    let driver = start_driver().await;
    let c = browser(&driver).await;
    login(&c, &app, "sc").await;
    c.goto(&app.url(&format!("/ui/applications/{app_id}"))).await.unwrap();
    let row1 = format!("#manifests tr[data-manifest='{m1}']");
    let row2 = format!("#manifests tr[data-manifest='{m2}']");
    assert_eq!(
        text_of(&c, &format!("{row1} .manifest-link")).await,
        stored1["number"].as_str().unwrap()
    );
    assert_eq!(text_of(&c, &format!("{row1} .status")).await, "已接收");
    assert!(text_of(&c, &format!("{row1} .arrival")).await.contains("承运人报告"));
    assert_eq!(text_of(&c, &format!("{row1} .found")).await, "数量、包装方式");
    let paper_cell = text_of(&c, &format!("{row2} .paper")).await;
    assert!(paper_cell.contains("纸质联单-p2"), "{paper_cell}");
    assert!(
        paper_cell.contains(late["backfill_due_on"].as_str().unwrap()),
        "{paper_cell} {late}"
    );
    assert!(paper_cell.contains("补录逾期"), "{paper_cell}");
    assert_eq!(c.find_all(Locator::Css("#manifests tbody tr")).await.unwrap().len(), 2);
    shot(&c, backend, "case-manifests").await;

    click(&c, &format!("{row1} .manifest-link")).await;
    c.wait().for_element(Locator::Id("discrepancies")).await.unwrap();
    assert_eq!(texts(&c, "#discrepancies .kind").await, ["数量", "包装方式"]);
    assert_eq!(
        texts(&c, "#discrepancies .found").await,
        ["地磅复核少1千克", "桶盖松动，已加固"]
    );
    assert_eq!(
        texts(&c, "#discrepancies .declared").await,
        ["900-249-08 · 25.000 kg", "900-249-08 · 25.000 kg"]
    );
    assert_eq!(texts(&c, "#discrepancies .decision").await, ["接受", "接受"]);
    assert!(text_of(&c, "#manifest-arrival").await.contains("承运人报告"));
    // Read-only: no form on the page but signing out.
    assert_eq!(c.find_all(Locator::Css("main form")).await.unwrap().len(), 0);
    let kinds: Vec<&str> = stored1["discrepancies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["quantity", "packaging"], "the page shows what is stored");
    shot(&c, backend, "manifest").await;

    // The paper trip's own page: its number, deadline and overdue flag.
    c.goto(&app.url(&format!("/ui/manifests/{m2}"))).await.unwrap();
    assert_eq!(text_of(&c, "#manifest-paper-number").await, "纸质联单-p2");
    assert!(text_of(&c, "#manifest-backfill-due").await.contains("补录逾期"));
    // Another province's regulator does not see it.
    logout(&c).await;
    login(&c, &app, "yn").await;
    c.goto(&app.url(&format!("/ui/manifests/{m2}"))).await.unwrap();
    assert!(c.find(Locator::Id("manifest-number")).await.is_err());
}
both_backends!(
    regulators_read_manifests_on_the_case_page,
    regulators_read_manifests_on_the_case_page
);

/// Sichuan's regulator amends an entry's quota by letter on the entry page: below what the
/// entry's filings hold it is refused with the problem and nothing stored; then 150 kg with the
/// letter's number is a new version, shown in the entry's history and stored as the API reads it.
async fn regulators_amend_a_quota_by_letter_in_the_browser(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    let id = reg.confirmed_entry(&app, "HW08", "100").await;
    approved_application(&app, &reg, "40").await;
    let before = get(&app, &reg.sc, &format!("/api/v1/whitelist-entries/{id}/versions")).await;
    let letter = "川环函〔2026〕12号";

    let driver = start_driver().await;
    let c = browser(&driver).await;
    login(&c, &app, "sc").await;
    c.goto(&app.url("/ui/whitelist")).await.unwrap();
    click(&c, &format!("tr[data-entry='{id}'] a.entry-link")).await;
    assert_eq!(text_of(&c, "#entry-quota").await, "100.000");
    fill(&c, "#amend input[name='quota_kg']", "39").await;
    fill(&c, "#amend input[name='letter_number']", letter).await;
    fill(&c, "#amend textarea[name='reason']", "接收能力扩建").await;
    click_confirmed(&c, "#amend-submit").await;
    let problems = text_of(&c, "#amend-problems").await;
    assert!(problems.contains("40.000"), "{problems}");
    let entry = get(&app, &reg.sc, &format!("/api/v1/whitelist-entries/{id}")).await;
    assert_eq!(entry["quota_kg"], "100.000", "nothing stored");
    let after = get(&app, &reg.sc, &format!("/api/v1/whitelist-entries/{id}/versions")).await;
    assert_eq!(after, before, "no version added");
    // What was typed is kept.
    let kept = c
        .find(Locator::Css("#amend input[name='letter_number']"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(kept.as_deref(), Some(letter));

    fill(&c, "#amend input[name='quota_kg']", "150").await;
    click_confirmed(&c, "#amend-submit").await;
    c.wait().for_element(Locator::Id("flash-done")).await.unwrap();
    let entry = get(&app, &reg.sc, &format!("/api/v1/whitelist-entries/{id}")).await;
    assert_eq!(
        (entry["quota_kg"].as_str(), entry["remaining_kg"].as_str()),
        (Some("150.000"), Some("110.000"))
    );
    let versions = get(&app, &reg.cq, &format!("/api/v1/whitelist-entries/{id}/versions")).await;
    let last = versions.as_array().unwrap().last().unwrap();
    assert_eq!(
        (
            last["change"].as_str(),
            last["letter_number"].as_str(),
            last["reason"].as_str()
        ),
        (Some("amend"), Some(letter), Some("接收能力扩建"))
    );
    assert_eq!(text_of(&c, "#entry-quota").await, "150.000");
    let v = last["version"].as_i64().unwrap();
    let row = format!("#versions tr[data-version='{v}']");
    assert_eq!(text_of(&c, &format!("{row} .letter")).await, letter);
    assert_eq!(text_of(&c, &format!("{row} .change")).await, "按函调整额度");
    assert_eq!(text_of(&c, &format!("{row} .quota")).await, "150.000");
    shot(&c, backend, "entry-amended").await;
}
both_backends!(
    regulators_amend_a_quota_by_letter_in_the_browser,
    regulators_amend_a_quota_by_letter_in_the_browser
);

/// The agreement among this year's four provinces of the registry, if there is one.
async fn four_province_agreement(app: &TestApp, token: &str) -> Option<Value> {
    get(app, token, "/api/v1/agreements?province=520000")
        .await
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["provinces"].as_array().is_some_and(|p| p.len() == 4))
        .cloned()
}

/// Guizhou's regulator proposes one agreement among four provinces with a 30-day completion
/// period (一事一批) in the browser — a period of 0 days first, refused with the field named and
/// nothing stored — and Chongqing confirms it by clicking; Hubei's regulator publishes a one-sided
/// inbound list, which counts at once; Sichuan's proposes an entry whose quota Guizhou shares,
/// and the entry page names Guizhou; Sichuan terminates the old pair agreement with a reason.
async fn regulators_run_agreements_in_the_browser(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    app.add_user("hb", "regulator", Some("420000")).await;
    let hb = app.login("hb").await;
    let driver = start_driver().await;
    let c = browser(&driver).await;

    login(&c, &app, "gz").await;
    click(&c, "nav a[href='/ui/agreements']").await;
    for p in ["500000", "510000", "530000"] {
        click(&c, &format!("#agreement-provinces input[value='{p}']")).await;
    }
    fill(&c, "input[name='completion_days']", "0").await;
    click_confirmed(&c, "#propose-agreement-submit").await;
    let problems = text_of(&c, "#propose-problems").await;
    assert!(problems.contains("一事一批"), "the field is named: {problems}");
    assert!(four_province_agreement(&app, &reg.gz).await.is_none(), "nothing stored");
    // The ticked provinces are kept.
    assert_eq!(
        c.find_all(Locator::Css("#agreement-provinces input:checked"))
            .await
            .unwrap()
            .len(),
        4
    );
    fill(&c, "input[name='completion_days']", "30").await;
    click_confirmed(&c, "#propose-agreement-submit").await;
    c.wait().for_element(Locator::Id("flash-done")).await.unwrap();
    let a = four_province_agreement(&app, &reg.gz).await.expect("stored");
    assert_eq!(
        (a["status"].as_str(), a["completion_days"].as_i64(), a["kind"].as_str()),
        (Some("proposed"), Some(30), Some("mutual")),
        "{a}"
    );
    assert_eq!(a["pending_confirmation"], json!(["500000", "510000", "530000"]));
    let id = a["id"].as_str().unwrap().to_string();
    let row = format!("#agreements tr[data-agreement='{id}']");
    assert_eq!(text_of(&c, &format!("{row} .completion")).await, "30");
    // The proposer has nothing to confirm.
    assert!(
        c.find(Locator::Css(&format!("{row} form[action$='/confirm']")))
            .await
            .is_err()
    );
    logout(&c).await;

    login(&c, &app, "cq").await;
    c.goto(&app.url("/ui/agreements")).await.unwrap();
    click_confirmed(&c, &format!("{row} form[action$='/confirm'] button")).await;
    c.wait().for_element(Locator::Id("flash-done")).await.unwrap();
    let a = four_province_agreement(&app, &reg.cq).await.unwrap();
    assert_eq!(a["pending_confirmation"], json!(["510000", "530000"]), "{a}");
    assert!(
        c.find(Locator::Css(&format!("{row} form[action$='/confirm']")))
            .await
            .is_err()
    );
    for token in [&reg.sc, &reg.yn] {
        post(&app, token, &format!("/api/v1/agreements/{id}/confirm"), json!({})).await;
    }
    logout(&c).await;

    // Hubei's one-sided inbound list: its province alone, informed only; it counts at once.
    login(&c, &app, "hb").await;
    c.goto(&app.url("/ui/agreements")).await.unwrap();
    click(&c, "select[name='kind'] option[value='inbound_list']").await;
    click(&c, "select[name='receiving_consent'] option[value='inform']").await;
    click_confirmed(&c, "#propose-agreement-submit").await;
    c.wait().for_element(Locator::Id("flash-done")).await.unwrap();
    let lists: Vec<Value> = get(&app, &hb, "/api/v1/agreements?province=420000")
        .await
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(lists.len(), 1, "{lists:?}");
    assert_eq!(
        (
            lists[0]["kind"].as_str(),
            lists[0]["status"].as_str(),
            lists[0]["receiving_consent"].as_str()
        ),
        (Some("inbound_list"), Some("confirmed"), Some("inform"))
    );
    assert_eq!(lists[0]["provinces"], json!(["420000"]));
    let inbound = format!("#agreements tr[data-agreement='{}']", lists[0]["id"].as_str().unwrap());
    assert_eq!(text_of(&c, &format!("{inbound} .kind")).await, "单方接收名单");
    shot(&c, backend, "agreements").await;
    logout(&c).await;

    // Sichuan (receiving) proposes an entry that serves Chongqing and Guizhou from one quota.
    login(&c, &app, "sc").await;
    c.goto(&app.url("/ui/whitelist/new")).await.unwrap();
    fill(&c, "input[name='operator']", &reg.operator_id).await;
    click(&c, "select[name='source_province'] option[value='500000']").await;
    click(&c, "#shared-sources input[value='520000']").await;
    fill(&c, "input[name='scope']", "900-249-08").await;
    fill(&c, "input[name='quota_kg']", "100").await;
    click_confirmed(&c, "#propose-submit").await;
    c.wait().for_element(Locator::Css("#entries")).await.unwrap();
    let page = get(&app, &reg.gz, &format!("/api/v1/whitelist-entries?year={}", reg.year)).await;
    let shared: Vec<&Value> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["shared_sources"] == json!(["520000"]))
        .collect();
    assert_eq!(shared.len(), 1, "{page}");
    let entry = shared[0]["id"].as_str().unwrap();
    c.goto(&app.url(&format!("/ui/entries/{entry}"))).await.unwrap();
    assert!(text_of(&c, "#entry-shared").await.contains("贵州"));

    // Sichuan terminates the old pair agreement from today, with the reason.
    c.goto(&app.url("/ui/agreements")).await.unwrap();
    let pair = format!("#agreements tr[data-agreement='{}']", reg.agreement_id);
    fill(
        &c,
        &format!("{pair} form[action$='/terminate'] input[name='reason']"),
        "并入四省机制",
    )
    .await;
    click_confirmed(&c, &format!("{pair} form[action$='/terminate'] button")).await;
    c.wait().for_element(Locator::Id("flash-done")).await.unwrap();
    let all = get(&app, &reg.sc, "/api/v1/agreements?province=510000").await;
    let old = all
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == reg.agreement_id.as_str())
        .unwrap();
    let today = hwtransfer::domain::calendar::shanghai_date(Utc::now()).to_string();
    assert_eq!(
        (
            old["status"].as_str(),
            old["terminated_on"].as_str(),
            old["termination_reason"].as_str()
        ),
        (Some("terminated"), Some(today.as_str()), Some("并入四省机制")),
        "{old}"
    );
}
both_backends!(
    regulators_run_agreements_in_the_browser,
    regulators_run_agreements_in_the_browser
);
