//! Import of a year's agreed whitelist (the December letter) from CSV and XLSX.

use std::collections::HashSet;

use serde_json::{Value, json};

use crate::both_backends;
use crate::fixtures::{self, Registry};
use crate::support::{Backend, TestApp, assert_problem, split};

const CSV: &str = "text/csv";
const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
const HEADER: [&str; 7] = [
    "year",
    "operator_uscc",
    "source_province",
    "scope",
    "quota_kg",
    "facility",
    "note",
];

async fn post_file(
    app: &TestApp,
    token: &str,
    query: &str,
    content_type: &str,
    body: Vec<u8>,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let res = app
        .client
        .post(app.url(&format!("/api/v1/whitelist-entries/import{query}")))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("send");
    split(res).await
}

/// Every entry the admin sees.
async fn all_entries(app: &TestApp, reg: &Registry) -> Vec<Value> {
    let (status, body, _) = app.get("/api/v1/whitelist-entries?limit=200", Some(&reg.admin)).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["next_cursor"].is_null(), "more than one page: {body}");
    body["items"].as_array().unwrap().clone()
}

async fn codes(app: &TestApp, category: &str) -> Vec<String> {
    let (status, body, _) = app
        .get(&format!("/api/v1/waste-codes?category={category}&limit=200"), None)
        .await;
    assert_eq!(status, 200, "{body}");
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["code"].as_str().unwrap().to_string())
        .collect()
}

async fn uscc_of(app: &TestApp, reg: &Registry, operator_id: &str) -> String {
    let (status, body, _) = app
        .get(&format!("/api/v1/operators/{operator_id}"), Some(&reg.admin))
        .await;
    assert_eq!(status, 200, "{body}");
    body["uscc"].as_str().unwrap().to_string()
}

/// The registry plus four more Sichuan operators licensed like the first (HW08, HW49, 1000 t/a):
/// five operators × the 43 codes of HW08 and HW49.
struct World {
    app: TestApp,
    reg: Registry,
    /// (operator id, USCC); the first is the registry's operator.
    operators: Vec<(String, String)>,
    /// Codes of HW08 and HW49.
    scopes: Vec<String>,
}

async fn world(backend: Backend) -> World {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    let mut ids = vec![reg.operator_id.clone()];
    for serial in 11..15 {
        let id = fixtures::create_operator(
            &app,
            &reg.sc,
            &format!("四川测试处置{serial}有限公司"),
            "510000",
            "510100",
            serial,
            fixtures::licence_body(&["HW08", "HW49"], "1000000"),
        )
        .await;
        ids.push(id);
    }
    let mut operators = Vec::new();
    for id in ids {
        let uscc = uscc_of(&app, &reg, &id).await;
        operators.push((id, uscc));
    }
    let mut scopes = codes(&app, "HW08").await;
    scopes.extend(codes(&app, "HW49").await);
    assert_eq!(scopes.len(), 43);
    World {
        app,
        reg,
        operators,
        scopes,
    }
}

/// `n` distinct valid rows from Chongqing: operator i % 5, scope i / 5.
fn good_rows(w: &World, n: usize) -> Vec<Vec<String>> {
    (0..n)
        .map(|i| {
            vec![
                w.reg.year.to_string(),
                w.operators[i % w.operators.len()].1.clone(),
                "500000".to_string(),
                w.scopes[i / w.operators.len()].clone(),
                format!("{}.5", 100 + i),
                format!("焚烧线{}", i % 3 + 1),
                format!("第{}项, \"协商\"一致", i + 1),
            ]
        })
        .collect()
}

fn csv(rows: &[Vec<String>]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(HEADER).unwrap();
    for r in rows {
        w.write_record(r).unwrap();
    }
    w.into_inner().unwrap()
}

/// (pointer, code) of a problem answer.
fn pointers(body: &Value) -> Vec<(String, String)> {
    body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["pointer"].as_str().unwrap().to_string(),
                e["code"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn expected(list: &[(&str, &str)]) -> Vec<(String, String)> {
    list.iter().map(|(p, c)| (p.to_string(), c.to_string())).collect()
}

/// 200 rows, 3 bad: every problem with its row and column, nothing written, on a dry run too.
async fn two_hundred_rows_three_bad(backend: Backend) {
    let w = world(backend).await;
    let (app, reg) = (&w.app, &w.reg);
    let hw11 = codes(app, "HW11").await[0].clone();
    let mut rows = good_rows(&w, 200);
    rows[17][4] = "2000000".into(); // above the licensed capacity: row 19
    rows[88][3] = hw11; // a category the licence lacks: row 90
    rows[150][4] = "12.3456".into(); // four decimals: row 152
    let file = csv(&rows);
    let want = expected(&[
        ("/rows/19/quota_kg", "entry.over_capacity"),
        ("/rows/90/scope", "entry.not_licensed"),
        ("/rows/152/quota_kg", "quantity.precision"),
    ]);
    for query in ["", "?dry_run=false", "?dry_run=true"] {
        let (status, body, headers) = post_file(app, &reg.cq, query, CSV, file.clone()).await;
        assert_problem(status, &body, &headers, 422);
        assert_eq!(pointers(&body), want, "{query}: {body}");
        assert!(body["errors"].as_array().unwrap().iter().all(|e| e["in"] == "body"));
        assert!(
            body["errors"][0]["message"].as_str().unwrap().contains("capacity"),
            "{body}"
        );
        assert_eq!(all_entries(app, reg).await.len(), 0, "{query}: nothing may be written");
    }
}
both_backends!(two_hundred_rows_three_bad, two_hundred_rows_three_bad);

/// The 197 good rows: a dry run writes nothing; the import stores them all as proposed entries.
async fn good_rows_dry_run_then_import(backend: Backend) {
    let w = world(backend).await;
    let (app, reg) = (&w.app, &w.reg);
    let mut rows = good_rows(&w, 200);
    for i in [150, 88, 17] {
        rows.remove(i);
    }
    let file = csv(&rows);
    // With a BOM, as Excel writes "CSV UTF-8".
    let mut with_bom = "\u{feff}".as_bytes().to_vec();
    with_bom.extend_from_slice(&file);

    let (status, body, _) = post_file(
        app,
        &reg.cq,
        "?dry_run=true",
        "text/csv; charset=utf-8",
        with_bom.clone(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({"dry_run": true, "rows": 197, "valid": true, "created": [], "problems": []})
    );
    assert_eq!(all_entries(app, reg).await.len(), 0);

    let (status, body, _) = post_file(app, &reg.cq, "", CSV, with_bom).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["dry_run"], false);
    assert_eq!(body["rows"], 197);
    assert_eq!(body["valid"], true);
    assert_eq!(body["problems"], json!([]));
    let created: Vec<String> = body["created"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert_eq!(created.len(), 197);
    assert_eq!(created.iter().collect::<HashSet<_>>().len(), 197);

    let stored = all_entries(app, reg).await;
    assert_eq!(stored.len(), 197);
    assert_eq!(
        stored
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_string())
            .collect::<HashSet<_>>(),
        created.iter().cloned().collect::<HashSet<_>>()
    );
    for e in &stored {
        assert_eq!(e["status"], "proposed", "{e}");
        assert_eq!(e["proposed_by_province"], "500000", "{e}");
        assert_eq!(e["source_province"], "500000", "{e}");
        assert_eq!(e["receiving_province"], "510000", "{e}");
        assert_eq!(e["year"], reg.year);
        assert_eq!(e["scope_kind"], "code");
        assert_eq!(e["version"], 1);
    }
    // The ids come in file order: the first is row 2 of the file.
    let (status, first, _) = app
        .get(&format!("/api/v1/whitelist-entries/{}", created[0]), Some(&reg.sc))
        .await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["operator_id"], w.operators[0].0.as_str());
    assert_eq!(first["scope"], w.scopes[0].as_str());
    assert_eq!(first["quota_kg"], "100.500");
    assert_eq!(first["facility"], "焚烧线1");
    assert_eq!(first["note"], "第1项, \"协商\"一致");
    let (_, last, _) = app
        .get(&format!("/api/v1/whitelist-entries/{}", created[196]), Some(&reg.sc))
        .await;
    assert_eq!(last["operator_id"], w.operators[199 % 5].0.as_str());
    assert_eq!(last["scope"], w.scopes[199 / 5].as_str());
    assert_eq!(last["quota_kg"], "299.500");
    // The other side confirms an imported entry like any proposal.
    let (status, body, _) = app
        .post_json(
            &format!("/api/v1/whitelist-entries/{}/confirm", created[0]),
            Some(&reg.sc),
            &json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    // The same file again: every row now duplicates a stored entry, and nothing more is written.
    let (status, body, headers) = post_file(app, &reg.sc, "", CSV, file).await;
    let codes = assert_problem(status, &body, &headers, 422);
    assert_eq!(codes.len(), 197);
    assert!(codes.iter().all(|c| c == "entry.duplicate"), "{body}");
    assert_eq!(body["errors"][0]["pointer"], "/rows/2/scope");
    assert_eq!(body["errors"][196]["pointer"], "/rows/198/scope");
    assert_eq!(all_entries(app, reg).await.len(), 197);
}
both_backends!(good_rows_dry_run_then_import, good_rows_dry_run_then_import);

fn xlsx(build: impl FnOnce(&mut rust_xlsxwriter::Worksheet)) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    build(sheet);
    // A second sheet that must be ignored.
    book.add_worksheet().write_string(0, 0, "ignored").unwrap();
    book.save_to_buffer().unwrap()
}

/// XLSX with Chinese headers, numbers as numbers, a title-free first sheet, a blank row.
async fn xlsx_import(backend: Backend) {
    let w = world(backend).await;
    let (app, reg) = (&w.app, &w.reg);
    let year = f64::from(reg.year);
    let (op0, op1) = (w.operators[0].1.clone(), w.operators[1].1.clone());
    let (s0, s1) = (w.scopes[0].clone(), w.scopes[1].clone());
    let file = |bad_quota: f64| {
        let (op0, op1, s0, s1) = (op0.clone(), op1.clone(), s0.clone(), s1.clone());
        xlsx(move |ws| {
            for (c, h) in [
                "年度",
                "统一社会信用代码",
                "移出省份",
                "废物代码",
                "数量（千克）",
                "备注",
            ]
            .iter()
            .enumerate()
            {
                ws.write_string(0, c as u16, *h).unwrap();
            }
            ws.write_number(1, 0, year).unwrap();
            ws.write_string(1, 1, &op0).unwrap();
            ws.write_number(1, 2, 500000.0).unwrap();
            ws.write_string(1, 3, &s0).unwrap();
            ws.write_number(1, 4, 1500.5).unwrap();
            ws.write_string(1, 5, "首行").unwrap();
            // Row 3 is left blank; row 4 is the next entry.
            ws.write_number(3, 0, year).unwrap();
            ws.write_string(3, 1, &op1).unwrap();
            ws.write_string(3, 2, "重庆市").unwrap();
            ws.write_string(3, 3, "HW49").unwrap();
            ws.write_number(3, 4, bad_quota).unwrap();
            // A value without a header in column H of row 5.
            if bad_quota > 1e6 {
                ws.write_number(4, 0, year).unwrap();
                ws.write_string(4, 1, &op1).unwrap();
                ws.write_string(4, 2, "500000").unwrap();
                ws.write_string(4, 3, &s1).unwrap();
                ws.write_string(4, 4, "10").unwrap();
                ws.write_string(4, 7, "stray").unwrap();
            }
        })
    };

    // Bad: row 4's quota has four decimals.
    let (status, body, headers) = post_file(app, &reg.cq, "?dry_run=true", XLSX, file(12.3456)).await;
    assert_problem(status, &body, &headers, 422);
    assert_eq!(
        pointers(&body),
        expected(&[("/rows/4/quota_kg", "quantity.precision")]),
        "{body}"
    );
    // Over capacity, and a stray cell.
    let (status, body, headers) = post_file(app, &reg.cq, "", XLSX, file(2_000_000.0)).await;
    assert_problem(status, &body, &headers, 422);
    assert_eq!(
        pointers(&body),
        expected(&[
            ("/rows/4/quota_kg", "entry.over_capacity"),
            ("/rows/5/H", "import.unnamed_column")
        ]),
        "{body}"
    );
    assert_eq!(all_entries(app, reg).await.len(), 0);

    let (status, body, _) = post_file(app, &reg.sc, "?dry_run=true", XLSX, file(800.0)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["rows"], 2);
    assert_eq!(all_entries(app, reg).await.len(), 0);
    let (status, body, _) = post_file(app, &reg.sc, "?dry_run=false", XLSX, file(800.0)).await;
    assert_eq!(status, 201, "{body}");
    let created = body["created"].as_array().unwrap();
    assert_eq!(created.len(), 2);
    let stored = all_entries(app, reg).await;
    assert_eq!(stored.len(), 2);
    let (_, a, _) = app
        .get(
            &format!("/api/v1/whitelist-entries/{}", created[0].as_str().unwrap()),
            Some(&reg.cq),
        )
        .await;
    assert_eq!(a["operator_id"], w.operators[0].0.as_str());
    assert_eq!(a["scope"], w.scopes[0].as_str());
    assert_eq!(a["quota_kg"], "1500.500");
    assert_eq!(a["note"], "首行");
    assert_eq!(a["status"], "proposed");
    assert_eq!(a["proposed_by_province"], "510000");
    let (_, b, _) = app
        .get(
            &format!("/api/v1/whitelist-entries/{}", created[1].as_str().unwrap()),
            Some(&reg.cq),
        )
        .await;
    assert_eq!(b["operator_id"], w.operators[1].0.as_str());
    assert_eq!(b["scope"], "HW49");
    assert_eq!(b["scope_kind"], "category");
    assert_eq!(b["quota_kg"], "800.000");
    assert!(b["note"].is_null());
}
both_backends!(xlsx_import, xlsx_import);

/// Other provinces, other roles, duplicates, and files that cannot be read.
async fn refusals(backend: Backend) {
    let w = world(backend).await;
    let (app, reg) = (&w.app, &w.reg);
    let rows = good_rows(&w, 3);
    let file = csv(&rows);

    // Guizhou is neither side of a Chongqing–Sichuan entry: a problem on every row.
    let (status, body, headers) = post_file(app, &reg.gz, "?dry_run=false", CSV, file.clone()).await;
    assert_problem(status, &body, &headers, 422);
    assert_eq!(
        pointers(&body),
        expected(&[
            ("/rows/2/source_province", "entry.not_your_province"),
            ("/rows/3/source_province", "entry.not_your_province"),
            ("/rows/4/source_province", "entry.not_your_province"),
        ])
    );
    assert_eq!(all_entries(app, reg).await.len(), 0);

    // Only regulators import.
    for token in [&reg.enterprise_token, &reg.operator_token, &reg.admin] {
        let (status, body, headers) = post_file(app, token, "", CSV, file.clone()).await;
        assert_problem(status, &body, &headers, 403);
    }
    assert_eq!(all_entries(app, reg).await.len(), 0);

    // A duplicate within the file (on the later row) and a row duplicating a stored entry.
    let (status, body) = reg.propose(app, &reg.cq, &w.scopes[0], "100").await;
    assert_eq!(status, 201, "{body}");
    let mut dup = good_rows(&w, 3);
    dup.push(dup[1].clone()); // row 5 repeats row 3
    dup[3][4] = "7".into(); // with another quota: still the same entry
    let (status, body, headers) = post_file(app, &reg.cq, "?dry_run=true", CSV, csv(&dup)).await;
    assert_problem(status, &body, &headers, 422);
    assert_eq!(
        pointers(&body),
        expected(&[
            ("/rows/2/scope", "entry.duplicate"),
            ("/rows/5/scope", "import.duplicate_row")
        ]),
        "{body}"
    );
    assert!(
        body["errors"][1]["message"].as_str().unwrap().contains("row 3"),
        "{body}"
    );
    assert_eq!(all_entries(app, reg).await.len(), 1);

    // Header and cell problems.
    let bad = "年度,operator_uscc,scope,quota,quota_kg\n".as_bytes().to_vec();
    let (status, body, headers) = post_file(app, &reg.cq, "", CSV, bad).await;
    assert_problem(status, &body, &headers, 422);
    assert_eq!(
        pointers(&body),
        expected(&[
            ("/rows/1/quota", "import.unknown_column"),
            ("/rows/1/source_province", "import.missing_column")
        ])
    );
    let cells = format!(
        "year,operator_uscc,source_province,scope,quota_kg\n{y},91510100MA00000,510000,HW08,1\n\n{y},{u},999999,xx,\n",
        y = reg.year,
        u = w.operators[0].1
    );
    let (status, body, headers) = post_file(app, &reg.cq, "", CSV, cells.into_bytes()).await;
    assert_problem(status, &body, &headers, 422);
    assert_eq!(
        pointers(&body),
        expected(&[
            ("/rows/2/operator_uscc", "uscc.length"),
            ("/rows/4/source_province", "province.format"),
            ("/rows/4/scope", "waste_code.format"),
            ("/rows/4/quota_kg", "import.required"),
        ]),
        "{body}"
    );
    let unknown = format!(
        "year,operator_uscc,source_province,scope,quota_kg\n{},{},500000,HW08,1\n",
        reg.year,
        fixtures::uscc("510100", 99)
    );
    let (status, body, headers) = post_file(app, &reg.cq, "", CSV, unknown.into_bytes()).await;
    assert_problem(status, &body, &headers, 422);
    assert_eq!(
        pointers(&body),
        expected(&[("/rows/2/operator_uscc", "entry.unknown_operator")])
    );
    let (status, body, headers) = post_file(
        app,
        &reg.cq,
        "",
        CSV,
        b"year,operator_uscc,source_province,scope,quota_kg\n".to_vec(),
    )
    .await;
    assert_problem(status, &body, &headers, 422);
    assert_eq!(pointers(&body), expected(&[("/rows/2/row", "import.no_rows")]));

    // What cannot be read at all.
    let (status, body, headers) = post_file(app, &reg.cq, "", "application/json", b"{}".to_vec()).await;
    assert_problem(status, &body, &headers, 400);
    assert!(body["detail"].as_str().unwrap().contains("text/csv"), "{body}");
    let (status, body, headers) = post_file(app, &reg.cq, "", "text/csv; charset=gbk", file.clone()).await;
    assert_problem(status, &body, &headers, 400);
    let (status, body, headers) = post_file(app, &reg.cq, "", CSV, b"year\n\xb0\xd7\n".to_vec()).await;
    assert_problem(status, &body, &headers, 400);
    assert!(body["detail"].as_str().unwrap().contains("UTF-8"), "{body}");
    let (status, body, headers) = post_file(app, &reg.cq, "", XLSX, file.clone()).await;
    assert_problem(status, &body, &headers, 400);
    let (status, body, headers) = post_file(app, &reg.cq, "?dryrun=true", CSV, file.clone()).await;
    assert_eq!(
        assert_problem(status, &body, &headers, 422),
        vec!["query.unknown_parameter"]
    );
    let (status, body, headers) = post_file(app, &reg.cq, "?dry_run=yes", CSV, file).await;
    assert_eq!(assert_problem(status, &body, &headers, 422), vec!["query.dry_run"]);
    assert_eq!(all_entries(app, reg).await.len(), 1);
}
both_backends!(refusals, refusals);
