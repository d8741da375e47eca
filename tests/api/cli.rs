//! The command line, run as a real process against both backends.

use std::process::Command;

use crate::both_backends;
use crate::support::{Backend, TestApp, TestDb};

fn hwt(db: &TestDb) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hwtransfer"));
    cmd.env("HWT_DATABASE_URL", &db.url)
        .env("HWT_DATA_DIR", db.dir.path().join("data"))
        .env("HWT_LOG", "warn");
    cmd
}

fn ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{:?} failed: {}{}",
        cmd,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

async fn accounts_tokens_and_seed(backend: Backend) {
    let db = TestDb::new(backend);
    let out = ok(hwt(&db).arg("migrate"));
    assert!(out.contains("migrations applied"), "{out}");
    ok(hwt(&db).args([
        "user",
        "add",
        "--username",
        "cq-officer",
        "--password",
        "a-long-password-1",
        "--role",
        "regulator",
        "--province",
        "500000",
    ]));
    // A regulator without a province is refused and nothing is stored.
    let out = hwt(&db)
        .args([
            "user",
            "add",
            "--username",
            "x-reg",
            "--password",
            "a-long-password-1",
            "--role",
            "regulator",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("province"));
    let list = ok(hwt(&db).args(["user", "list"]));
    assert!(
        list.contains("cq-officer") && list.contains("500000") && list.contains("active"),
        "{list}"
    );
    assert!(!list.contains("x-reg"));

    let token = ok(hwt(&db).args(["token", "--user", "cq-officer"])).trim().to_string();
    assert_eq!(token.split('.').count(), 3);

    // Seeding twice changes nothing the second time.
    let first = ok(hwt(&db).args(["seed", "--demo"]));
    assert!(
        first.contains("cq-regulator") && first.contains("demo-pass-2026"),
        "{first}"
    );
    ok(hwt(&db).args(["seed", "--demo"]));
    let list = ok(hwt(&db).args(["user", "list"]));
    // cq-officer and the nine demo accounts (cq-collector among them).
    assert_eq!(list.lines().count(), 10, "{list}");
    assert!(list.contains("cq-collector"), "{list}");

    let client = ok(hwt(&db).args(["client", "add", "--name", "ERP", "--enterprise", "ent-9"]));
    assert!(client.contains("client_id:") && client.contains("client_secret:"));

    ok(hwt(&db).args(["user", "disable", "--username", "cq-officer"]));
    assert!(
        ok(hwt(&db).args(["user", "list"]))
            .lines()
            .any(|l| l.contains("cq-officer") && l.contains("disabled"))
    );
    let out = hwt(&db).args(["token", "--user", "cq-officer"]).output().unwrap();
    assert!(!out.status.success(), "no token for a disabled user");

    // The token printed by the CLI works against a server on the same database and keys.
    let mut config = crate::support::test_config(&db);
    config.data_dir = db.dir.path().join("data");
    let app = TestApp::start(TestDb::reuse(&db), config).await;
    ok(hwt(&db).args(["user", "enable", "--username", "cq-officer"]));
    let token = ok(hwt(&db).args(["token", "--user", "cq-officer"])).trim().to_string();
    let (status, me, _) = app.get("/api/v1/auth/me", Some(&token)).await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["name"], "cq-officer");
    // The demo registry: a dozen operators (and Hubei's and the collector's licences), four
    // provinces' agreements (and the four-province mechanism, Hubei's inbound list, Anhui's
    // 一事一批), a confirmed whitelist, loaded once although the seed ran twice.
    let (_, ops, _) = app.get("/api/v1/operators?limit=200", Some(&token)).await;
    assert_eq!(ops["items"].as_array().unwrap().len(), 12 + 2);
    let (_, agreements, _) = app.get("/api/v1/agreements", Some(&token)).await;
    assert_eq!(agreements.as_array().unwrap().len(), 6 + 3);
    assert!(
        agreements
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["status"] == "confirmed")
    );
    let (_, entries, _) = app
        .get("/api/v1/whitelist-entries?limit=200&status=confirmed", Some(&token))
        .await;
    // Chongqing is source or receiving in: 3 CQ operators × 3 sources × 2 + 9 others × 2 from CQ,
    // and Hubei's inbound entry from CQ.
    assert_eq!(entries["items"].as_array().unwrap().len(), 18 + 18 + 1);
    // The demo producer can log in and is a real registry record.
    let producer = app.login_with("cq-producer", "demo-pass-2026").await;
    let (status, ent, _) = app.get("/api/v1/enterprises/demo-producer-cq", Some(&producer)).await;
    assert_eq!(status, 200, "{ent}");
    assert_eq!(ent["province"], "500000");
    let (_, eligible, _) = app
        .get(
            "/api/v1/whitelist-entries/eligible-operators?code=900-249-08",
            Some(&producer),
        )
        .await;
    assert!(eligible.as_array().unwrap().len() >= 3, "{eligible}");
}
both_backends!(accounts_tokens_and_seed, accounts_tokens_and_seed);

async fn catalogue_edition_import(backend: Backend) {
    use crate::fixtures::{TEST_EDITION_SOURCE, test_edition_codes, test_edition_successors, this_year};
    let db = TestDb::new(backend);
    ok(hwt(&db).arg("migrate"));
    // The synthetic edition of this year (the real 2025 table is not available; see
    // data/README.md), with its successor mapping, through the same use case as the API.
    let year = this_year().to_string();
    let codes = db.dir.path().join("codes.csv");
    std::fs::write(&codes, test_edition_codes()).unwrap();
    let successors = db.dir.path().join("successors.csv");
    std::fs::write(&successors, test_edition_successors()).unwrap();
    let import = |file: &std::path::Path, edition: &str, count: &str| {
        let mut cmd = hwt(&db);
        cmd.args(["catalogue", "import"]).arg(file).args([
            "--edition",
            edition,
            "--count",
            count,
            "--source",
            TEST_EDITION_SOURCE,
        ]);
        cmd
    };
    let out = ok(import(&codes, &year, "3").arg("--successors").arg(&successors));
    assert!(out.contains("3 codes, 2 successor line(s)"), "{out}");
    // Loading the same edition again is refused.
    let out = import(&codes, &year, "3").output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("already loaded"));
    // A bad file reports every problem by line, the declared count too, and loads nothing.
    let bad = "code,category,category_name,industry_source,description,hazard,hazard_official\n\
               900-001-08,HW09,\"油/水、烃/水混合物或乳化液\",y,z,T,T\n12345,HW08,废矿物油与含矿物油废物,y,z,T,T\n\
               900-002-08,HW08,废矿物油与含矿物油废物,y,z,Q,Q\n";
    let bad_file = db.dir.path().join("bad.csv");
    std::fs::write(&bad_file, bad).unwrap();
    let out = import(&bad_file, "2030", "4").output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("4 problem(s), nothing imported"), "{err}");
    for expected in [
        "--count",
        "codes file line 2 category",
        "codes file line 3 code",
        "codes file line 4 hazard",
    ] {
        assert!(err.contains(expected), "{expected} in {err}");
    }
    // Without --count nothing is even tried.
    let out = hwt(&db)
        .args(["catalogue", "import"])
        .arg(&codes)
        .args(["--edition", "2030", "--source", "x"])
        .output()
        .unwrap();
    assert!(!out.status.success());

    // The API now defaults to the edition in force today, and still answers for 2021.
    let app = TestApp::start(TestDb::reuse(&db), crate::support::test_config(&db)).await;
    let (_, body, _) = app.get("/api/v1/waste-codes?q=900-90", None).await;
    assert_eq!(body["edition"].to_string(), year);
    assert_eq!(body["items"].as_array().unwrap().len(), 2, "{body}");
    let (_, body, _) = app.get("/api/v1/waste-codes?q=900-90&edition=2021", None).await;
    assert_eq!(body["items"].as_array().unwrap().len(), 0);
    let (status, body, _) = app.get("/api/v1/waste-codes?edition=2030", None).await;
    assert_eq!(status, 404, "an edition not loaded: {body}");
    let (_, eds, _) = app.get("/api/v1/catalogue/editions", None).await;
    assert_eq!(eds.as_array().unwrap().len(), 2);
    assert_eq!(eds[1]["code_count"], 3);
    assert_eq!(eds[1]["successor_count"], 2);
    assert_eq!(eds[1]["source"], TEST_EDITION_SOURCE);
    // The trail says the command line did it.
    let trail = ok(hwt(&db).args(["audit", "verify"]));
    assert!(trail.contains("\"first_break\": null"), "{trail}");
    app.add_user("root", "admin", None).await;
    let admin = app.login("root").await;
    let (_, events, _) = app
        .get(
            "/api/v1/audit/events?object_type=catalogue_edition&limit=200",
            Some(&admin),
        )
        .await;
    let mine: Vec<_> = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["object_id"].as_str() == Some(year.as_str()))
        .collect();
    assert_eq!(mine.len(), 1, "{events}");
    assert_eq!(mine[0]["actor"], "cli", "{events}");
}
both_backends!(catalogue_edition_import, catalogue_edition_import);

async fn calendar_import(backend: Backend) {
    let db = TestDb::new(backend);
    ok(hwt(&db).arg("migrate"));
    let file = db.dir.path().join("2027.csv");
    std::fs::write(
        &file,
        "date,kind,name_zh,name_en\n2027-01-01,holiday,元旦,New Year's Day\n2027-02-20,workday,春节,Spring Festival\n",
    )
    .unwrap();
    let out = ok(hwt(&db).args(["calendar", "import"]).arg(&file));
    assert!(out.contains("calendar 2027: 2 days"), "{out}");
    let bad = db.dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "date,kind,name_zh,name_en\n2028-01-03,workday,x,y\n2028-13-01,holiday,x,y\n",
    )
    .unwrap();
    let out = hwt(&db).args(["calendar", "import"]).arg(&bad).output().unwrap();
    assert!(!out.status.success());
    let app = TestApp::start(TestDb::reuse(&db), crate::support::test_config(&db)).await;
    let (status, body, _) = app.get("/api/v1/calendar/2027", None).await;
    assert_eq!(status, 200);
    assert_eq!(body["days"].as_array().unwrap().len(), 2);
    let (status, _, _) = app.get("/api/v1/calendar/2028", None).await;
    assert_eq!(status, 404, "a bad file imports nothing");
}
both_backends!(calendar_import, calendar_import);

#[test]
fn unknown_settings_are_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_hwtransfer"))
        .env("HWT_DATABSE_URL", "sqlite://typo.db")
        .arg("migrate")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("HWT_DATABSE_URL"));
    let out = Command::new(env!("CARGO_BIN_EXE_hwtransfer"))
        .args(["--pool-size", "1", "migrate"])
        .output()
        .unwrap();
    assert!(!out.status.success(), "a pool of one is refused");
}
