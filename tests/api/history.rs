//! The transfer history and the annual reconciliation against hand-computed expectations, the
//! CSV exports, and a 100 000-row CSV export streamed in bounded memory.

use serde_json::{Value, json};

use crate::both_backends;
use crate::fixtures::{Registry, approved_application, this_year};
use crate::support::{Backend, TestApp, assert_problem};

fn filing(operator_id: &str, code: &str, kg: &str) -> Value {
    let y = this_year();
    json!({
        "operator_id": operator_id,
        "method": "dispose",
        "period_start": format!("{y}-12-01"),
        "period_end": format!("{}-05-31", y + 1),
        "items": [{"waste_code": code, "waste_name": "测试废物", "physical_form": "液态",
                   "hazards": ["T"], "packaging": "桶", "quantity_kg": kg}],
        "carriers": [{"name": "重庆危运物流有限公司", "permit_number": "渝交运管许可字500000001号"}]
    })
}

async fn post(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let (s, b, _) = app.post_json(path, Some(token), &body).await;
    assert!(s == 200 || s == 201, "{s} {b}");
    b
}

/// A: 40 kg HW08 approved, 25 shipped, 20 received. B: 10 kg HW08 filed. C: 5 kg HW49
/// (standard route, no entry).
pub(crate) async fn seeded(app: &TestApp) -> (Registry, String, String, String) {
    let reg = Registry::setup(app).await;
    reg.confirmed_entry(app, "HW08", "100").await;
    let a = approved_application(app, &reg, "40").await;
    let m = post(
        app,
        &reg.enterprise_token,
        "/api/v1/manifests",
        json!({"application_id": a, "items": [{"line": 0, "quantity_kg": "25"}],
               "carrier": {"name": "重庆危运", "permit_number": "渝001", "vehicle_plate": "渝A12345", "driver_name": "李四"},
               "route_from": "重庆", "route_to": "成都", "departure_at": chrono::Utc::now().to_rfc3339()}),
    )
    .await;
    let mid = m["id"].as_str().unwrap();
    post(
        app,
        &reg.enterprise_token,
        &format!("/api/v1/manifests/{mid}/dispatch"),
        json!({}),
    )
    .await;
    post(
        app,
        &reg.operator_token,
        &format!("/api/v1/manifests/{mid}/receipt"),
        json!({"outcome": "received", "items": [{"line": 0, "accepted_kg": "20"}], "note": "残液"}),
    )
    .await;
    let b = post(
        app,
        &reg.enterprise_token,
        "/api/v1/transfer-applications",
        filing(&reg.operator_id, "900-249-08", "10"),
    )
    .await;
    // No entry for HW49: the standard route, confirmed by the client.
    let (s, c, _) = app
        .file_confirmed(&reg.enterprise_token, &filing(&reg.operator_id, "900-041-49", "5"))
        .await;
    assert_eq!(s, 201, "{c}");
    assert_eq!(c["route"], "standard");
    (
        reg,
        a,
        b["id"].as_str().unwrap().to_string(),
        c["id"].as_str().unwrap().to_string(),
    )
}

async fn ids(app: &TestApp, token: &str, query: &str) -> Vec<String> {
    let (s, page, _) = app.get(&format!("/api/v1/transfers{query}"), Some(token)).await;
    assert_eq!(s, 200, "{query}: {page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["application_id"].as_str().unwrap().to_string())
        .collect()
}

async fn history_filters_and_totals(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (reg, a, b, c) = seeded(&app).await;
    app.add_user("aud", "auditor", None).await;
    let aud = app.login("aud").await;

    let (s, page, _) = app.get("/api/v1/transfers", Some(&aud)).await;
    assert_eq!(s, 200, "{page}");
    // Newest first.
    let all: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["application_id"].as_str().unwrap())
        .collect();
    assert_eq!(all, vec![c.as_str(), b.as_str(), a.as_str()]);
    assert_eq!(
        page["totals"],
        json!({"count": 3, "requested_kg": "55.000", "approved_kg": "40.000", "shipped_kg": "25.000", "received_kg": "20.000"})
    );
    let first = &page["items"][2];
    assert_eq!(first["producer_name"], "重庆测试化工有限公司");
    assert_eq!(first["operator_name"], "四川测试环保处置有限公司");
    assert_eq!(first["waste_codes"], json!(["900-249-08"]));
    assert!(first["approval_number"].as_str().unwrap().starts_with("渝危转"));
    assert_eq!(
        (first["shipped_kg"].as_str(), first["received_kg"].as_str()),
        (Some("25.000"), Some("20.000"))
    );

    assert_eq!(ids(&app, &aud, "?code=900-249-08").await, vec![b.clone(), a.clone()]);
    assert_eq!(ids(&app, &aud, "?category=HW49").await, vec![c.clone()]);
    assert_eq!(ids(&app, &aud, "?status=approved").await, vec![a.clone()]);
    assert_eq!(
        ids(&app, &aud, &format!("?producer={}", reg.enterprise_id)).await.len(),
        3
    );
    assert_eq!(
        ids(&app, &aud, &format!("?operator={}&status=submitted", reg.operator_id)).await,
        vec![c.clone(), b.clone()]
    );
    assert_eq!(
        ids(&app, &aud, "?source_province=500000&receiving_province=510000")
            .await
            .len(),
        3
    );
    assert!(ids(&app, &aud, "?source_province=510000").await.is_empty());
    assert!(ids(&app, &aud, "?from=2999-01-01").await.is_empty());
    assert_eq!(ids(&app, &aud, "?to=2999-01-01&from=2000-01-01").await.len(), 3);
    let (_, page, _) = app.get("/api/v1/transfers?code=900-249-08", Some(&aud)).await;
    assert_eq!(page["totals"]["requested_kg"], "50.000");
    assert_eq!(page["totals"]["approved_kg"], "40.000");

    // Scopes: Guizhou sees nothing; the producer and the operator their own; Sichuan all three.
    assert!(ids(&app, &reg.gz, "").await.is_empty());
    assert_eq!(ids(&app, &reg.sc, "").await.len(), 3);
    assert_eq!(ids(&app, &reg.operator_token, "").await.len(), 3);
    assert!(
        ids(&app, &reg.enterprise_token, "?producer=someone-else")
            .await
            .is_empty(),
        "scope wins over a filter"
    );

    // Pages: totals on the first only; the cursor continues where the page ended.
    let (_, p1, _) = app.get("/api/v1/transfers?limit=2", Some(&aud)).await;
    assert_eq!(p1["items"].as_array().unwrap().len(), 2);
    let cursor = p1["next_cursor"].as_str().unwrap();
    let (_, p2, _) = app
        .get(&format!("/api/v1/transfers?limit=2&cursor={cursor}"), Some(&aud))
        .await;
    assert_eq!(p2["items"][0]["application_id"], a.as_str());
    assert!(p2["totals"].is_null() && p2["next_cursor"].is_null());
    let (_, p, _) = app.get("/api/v1/transfers?totals=false", Some(&aud)).await;
    assert!(p["totals"].is_null());

    // Bad filters: every problem at once.
    let (s, body, h) = app
        .get(
            "/api/v1/transfers?code=123&category=HW41&status=lost&from=x&source_province=999999&limit=0",
            Some(&aud),
        )
        .await;
    assert_eq!(assert_problem(s, &body, &h, 422).len(), 6, "{body}");

    // CSV: BOM, bilingual header, one line per transfer.
    let res = app
        .client
        .get(app.url("/api/v1/transfers?code=900-249-08"))
        .bearer_auth(&aud)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let bytes = res.bytes().await.unwrap();
    assert!(bytes.starts_with("\u{feff}".as_bytes()));
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    let mut r = csv::Reader::from_reader(text.as_bytes());
    assert!(r.headers().unwrap().iter().any(|h| h == "批准文号 approval_number"));
    let rows: Vec<csv::StringRecord> = r.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 2);
    assert_eq!(&rows[1][0], a.as_str());
    assert_eq!(&rows[1][15], "25.000");
}
both_backends!(history_filters_and_totals, history_filters_and_totals);

/// Ships `kg` on approval `a` and has the operator accept all of it; returns the manifest's id.
pub(crate) async fn shipped_and_received(app: &TestApp, reg: &Registry, a: &str, kg: &str) -> String {
    let m = post(
        app,
        &reg.enterprise_token,
        "/api/v1/manifests",
        crate::fixtures::manifest(a, &[(0, kg)]),
    )
    .await;
    let mid = m["id"].as_str().unwrap().to_string();
    post(
        app,
        &reg.enterprise_token,
        &format!("/api/v1/manifests/{mid}/dispatch"),
        json!({}),
    )
    .await;
    post(
        app,
        &reg.operator_token,
        &format!("/api/v1/manifests/{mid}/receipt"),
        json!({"outcome": "received", "items": [{"line": 0, "accepted_kg": kg}]}),
    )
    .await;
    mid
}

/// Moves a manifest's receipt to another instant (the tests cannot wait for New Year).
pub(crate) async fn received_at(app: &TestApp, manifest: &str, utc: &str) {
    let sql = format!("UPDATE manifests SET received_at = '{utc}' WHERE id = '{manifest}'");
    app.state
        .db
        .run(move |c| {
            use diesel::RunQueryDsl;
            diesel::sql_query(sql).execute(c)?;
            Ok(())
        })
        .await
        .unwrap();
}

fn line<'a>(report: &'a Value, source: &str, category: &str) -> &'a Value {
    report["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["source_province"] == source && l["category"] == category)
        .unwrap_or_else(|| panic!("no line {source} {category} in {report}"))
}

/// The January report against hand-computed expectations: counted by the day of receipt in
/// Asia/Shanghai (a receipt at 00:30 on 1 January, Beijing time, of a load approved the year
/// before counts in the new year; one at 23:59 on 31 December in the old), per operator ×
/// category × source province, with the manifests counted and the listed quantity beside it —
/// a quota shared by two sources in full beside each, apart from the quotas listed for one.
/// Scopes, the formats (JSON, CSV, XLSX by `format` or `Accept`) and bad queries.
async fn january_report(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (reg, a, ..) = seeded(&app).await;
    let year = this_year();
    // A quota of 60 kg shared by Chongqing and Guizhou for the same operator and category.
    crate::regimes::four_province_agreement(&app, &reg).await;
    let (s, e, _) = app
        .post_json(
            "/api/v1/whitelist-entries",
            Some(&reg.sc),
            &json!({"year": year, "operator_id": reg.operator_id, "source_province": "500000",
                    "scope": "900-249-08", "quota_kg": "60", "shared_sources": ["520000"]}),
        )
        .await;
    assert_eq!(s, 201, "{e}");
    let shared = e["id"].as_str().unwrap();
    post(
        &app,
        &reg.gz,
        &format!("/api/v1/whitelist-entries/{shared}/confirm"),
        json!({}),
    )
    .await;
    // Two more loads of approval A: 10 kg received at 00:30 on 1 January (Beijing time) of next
    // year, 5 kg at 23:59:59 on 31 December of this one.
    let late = shipped_and_received(&app, &reg, &a, "10").await;
    received_at(&app, &late, &format!("{year}-12-31 16:30:00")).await;
    let early = shipped_and_received(&app, &reg, &a, "5").await;
    received_at(&app, &early, &format!("{year}-12-31 15:59:59")).await;

    let report = |token: String, query: String| {
        let app = &app;
        async move {
            let (s, r, _) = app.get(&format!("/api/v1/reports/annual?{query}"), Some(&token)).await;
            assert_eq!(s, 200, "{r}");
            r
        }
    };
    let r = report(reg.sc.clone(), format!("year={year}")).await;
    assert_eq!(r["counted_by"], "receipt_date");
    assert_eq!(r["lines"].as_array().unwrap().len(), 2, "{r}");
    assert_eq!(
        line(&r, "500000", "HW08"),
        &json!({
            "operator_id": reg.operator_id, "operator_name": "四川测试环保处置有限公司",
            "receiving_province": "510000", "source_province": "500000", "category": "HW08",
            "listed_kg": "100.000", "shared_listed_kg": "60.000", "received_kg": "25.000", "manifests": 2
        })
    );
    assert_eq!(
        line(&r, "520000", "HW08"),
        &json!({
            "operator_id": reg.operator_id, "operator_name": "四川测试环保处置有限公司",
            "receiving_province": "510000", "source_province": "520000", "category": "HW08",
            "listed_kg": "0.000", "shared_listed_kg": "60.000", "received_kg": "0.000", "manifests": 0
        })
    );
    assert_eq!(
        r["totals"],
        json!({"listed_kg": "100.000", "received_kg": "25.000", "manifests": 2})
    );
    // Next year's report has the January receipt, and nothing listed (no entries for it yet).
    let next = report(reg.sc.clone(), format!("year={}", year + 1)).await;
    assert_eq!(
        next["lines"],
        json!([{
            "operator_id": reg.operator_id, "operator_name": "四川测试环保处置有限公司",
            "receiving_province": "510000", "source_province": "500000", "category": "HW08",
            "listed_kg": "0.000", "shared_listed_kg": "0.000", "received_kg": "10.000", "manifests": 1
        }])
    );

    // Scopes: Chongqing sees its line, Guizhou the shared one only, Yunnan nothing; a
    // nationwide auditor all; a producer is refused.
    let cq = report(reg.cq.clone(), format!("year={year}")).await;
    assert_eq!(cq["lines"].as_array().unwrap().len(), 1);
    assert_eq!(cq["lines"][0]["source_province"], "500000");
    let gz = report(reg.gz.clone(), format!("year={year}")).await;
    assert_eq!(gz["lines"].as_array().unwrap().len(), 1);
    assert_eq!(gz["lines"][0]["source_province"], "520000");
    let yn = report(reg.yn.clone(), format!("year={year}")).await;
    assert_eq!(yn["lines"], json!([]));
    app.add_user("aud", "auditor", None).await;
    let aud = app.login("aud").await;
    assert_eq!(report(aud.clone(), format!("year={year}")).await["lines"], r["lines"]);
    let (s, body, h) = app
        .get(
            &format!("/api/v1/reports/annual?year={year}"),
            Some(&reg.enterprise_token),
        )
        .await;
    assert_problem(s, &body, &h, 403);

    // Bad queries: every problem at once, and the old `by` is unknown.
    let (s, body, h) = app
        .get("/api/v1/reports/annual?format=pdf&by=code", Some(&reg.sc))
        .await;
    let codes = assert_problem(s, &body, &h, 422);
    assert!(codes.contains(&"query.required".to_string()), "{codes:?}");
    assert!(codes.contains(&"query.format".to_string()), "{codes:?}");
    assert_eq!(codes.len(), 3, "{body}");

    // CSV, by `format` and by `Accept`: the same lines.
    let download = |query: String, accept: &'static str| {
        let req = app
            .client
            .get(app.url(&format!("/api/v1/reports/annual?{query}")))
            .bearer_auth(&reg.sc)
            .header("accept", accept);
        async move {
            let res = req.send().await.unwrap();
            assert_eq!(res.status(), 200);
            let kind = res.headers()["content-type"].to_str().unwrap().to_string();
            let disposition = res.headers()["content-disposition"].to_str().unwrap().to_string();
            (kind, disposition, res.bytes().await.unwrap().to_vec())
        }
    };
    let (kind, disposition, csv) = download(format!("year={year}&format=csv"), "application/json").await;
    assert!(kind.starts_with("text/csv"), "{kind}");
    assert!(disposition.contains(&format!("annual-{year}.csv")), "{disposition}");
    let (_, _, by_accept) = download(format!("year={year}"), "text/csv").await;
    assert_eq!(csv, by_accept);
    let text = String::from_utf8(csv).unwrap();
    assert!(text.starts_with('\u{feff}'));
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows.len(), 3, "{text}");
    assert!(rows[0].contains("接收量kg received_kg") && rows[0].contains("联单数 manifests"));
    assert!(
        rows.iter().any(|l| l.ends_with(",500000,HW08,100.000,60.000,25.000,2")),
        "{text}"
    );

    // XLSX: one sheet named after the year, the same lines, quantities as numbers.
    let (kind, disposition, xlsx) = download(
        format!("year={year}"),
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    .await;
    assert_eq!(
        kind,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    assert!(disposition.contains(&format!("annual-{year}.xlsx")), "{disposition}");
    let (_, _, by_format) = download(format!("year={year}&format=xlsx"), "*/*").await;
    // The same sheet both ways (not the same bytes: a workbook records when it was made).
    use calamine::Reader as _;
    let sheet = |bytes: Vec<u8>| {
        let mut book: calamine::Xlsx<_> = calamine::Xlsx::new(std::io::Cursor::new(bytes)).unwrap();
        assert_eq!(book.sheet_names(), vec![year.to_string()]);
        let range = book.worksheet_range(&year.to_string()).unwrap();
        range
            .rows()
            .map(|r| r.iter().map(|c| c.to_string()).collect())
            .collect::<Vec<Vec<String>>>()
    };
    let cells = sheet(xlsx);
    assert_eq!(cells, sheet(by_format));
    assert_eq!(cells.len(), 3, "{cells:?}");
    assert_eq!(cells[0][7], "接收量kg received_kg");
    let cq_row = cells.iter().find(|r| r[3] == "500000").unwrap();
    assert_eq!(&cq_row[4..], ["HW08", "100", "60", "25", "2"], "{cq_row:?}");
}
both_backends!(january_report, january_report);

/// Resident memory of this process (the test and the in-process server), in KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

/// 100 000 transfers exported as CSV: every row arrives, in chunks of one database page, and
/// the process grows by far less than the file's size.
async fn csv_export_streams_100k_rows(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.add_user("root", "admin", None).await;
    let admin = app.login("root").await;
    let db = app.state.db.clone();
    let made = db
        .run(|c| hwtransfer::db::scale::generate(c, 100_000, 0, 0).map_err(hwtransfer::db::DbError::Other))
        .await
        .unwrap();
    assert_eq!(made.applications, 100_000);
    let before = rss_kib();
    let mut res = app
        .client
        .get(app.url("/api/v1/transfers"))
        .bearer_auth(&admin)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("content-length").is_none(), "streamed, not buffered");
    let (mut total, mut lines, mut largest, mut peak) = (0usize, 0usize, 0usize, before);
    while let Some(chunk) = res.chunk().await.unwrap() {
        total += chunk.len();
        largest = largest.max(chunk.len());
        lines += chunk.iter().filter(|b| **b == b'\n').count();
        peak = peak.max(rss_kib());
    }
    assert_eq!(lines, 100_001, "header + every row");
    assert!(total > 20_000_000, "{total} bytes");
    assert!(
        largest < 1_000_000,
        "chunks are single pages, the largest was {largest} bytes"
    );
    let growth_kib = peak.saturating_sub(before);
    assert!(
        growth_kib * 1024 < total as u64 / 2,
        "memory grew by {growth_kib} KiB while streaming {total} bytes"
    );
}
both_backends!(csv_export_streams_100k_rows, csv_export_streams_100k_rows);

/// The maintained totals (`db::figures`) answer what a sum over the cases answers, for every
/// filter they keep and windows cut at Shanghai midnights or not; before the fold, after it, and
/// with changes appended after it; the dashboard's figures likewise against the steps and
/// approvals themselves. Each fold moves what was appended and leaves no empty row behind.
async fn figures_agree_with_the_cases(backend: Backend) {
    use chrono::{Datelike, Duration, Utc};
    use diesel::prelude::*;
    use hwtransfer::db::schema::{application_steps as s, transfer_applications as t};
    use hwtransfer::db::{self, figures, history::TransferFilter};

    let app = TestApp::spawn(backend).await;
    let (reg, _a, b, _c) = seeded(&app).await;
    // B accepted: a completed step on the source side.
    let (st, body, _) = app
        .post_json(
            &format!("/api/v1/transfer-applications/{b}/accept"),
            Some(&reg.cq),
            &json!({}),
        )
        .await;
    assert_eq!(st, 200, "{body}");

    let now = Utc::now().naive_utc();
    let today = figures::day_of(now);
    let midnight = figures::start_of(today);
    let hour = Duration::hours(1);
    let windows = [
        (None, None),
        (Some(midnight), Some(midnight + Duration::days(1))),
        (Some(midnight - Duration::days(3)), None),
        (None, Some(midnight + Duration::days(2))),
        (Some(now - hour), Some(now + hour)),
        (Some(midnight + hour), Some(midnight + Duration::days(4) + hour)),
        (
            Some(midnight - Duration::days(2) + hour),
            Some(midnight + Duration::days(1)),
        ),
        (Some(now + Duration::days(1)), Some(now - Duration::days(1))),
    ];
    let mut filters = Vec::new();
    for (from, to) in windows {
        let base = TransferFilter {
            from,
            to,
            ..Default::default()
        };
        filters.push(base.clone());
        for status in ["approved", "submitted", "under_review", "refused"] {
            filters.push(TransferFilter {
                status: Some(status.into()),
                ..base.clone()
            });
        }
        filters.push(TransferFilter {
            source_province: Some("500000".into()),
            receiving_province: Some("510000".into()),
            ..base.clone()
        });
        filters.push(TransferFilter {
            receiving_province: Some("500000".into()),
            ..base.clone()
        });
        filters.push(TransferFilter {
            province: Some("510000".into()),
            status: Some("approved".into()),
            ..base.clone()
        });
        filters.push(TransferFilter {
            province: Some("520000".into()),
            ..base.clone()
        });
    }
    let since = now - Duration::days(366);

    // The dashboard's oracle: the approvals and completed steps themselves.
    fn oracle(
        conn: &mut db::DbConnection,
        since: chrono::NaiveDateTime,
    ) -> (Vec<db::dashboard::PairMonth>, Vec<db::dashboard::OnTime>) {
        use std::collections::BTreeMap;
        let mut months: BTreeMap<(String, String, String), i64> = BTreeMap::new();
        let approvals: Vec<(String, String, Option<chrono::NaiveDateTime>, i64)> = t::table
            .filter(t::approved_at.is_not_null())
            .select((t::source_province, t::receiving_province, t::approved_at, t::quantity_g))
            .load(conn)
            .unwrap();
        for (src, recv, at, g) in approvals {
            let day = figures::day_of(at.unwrap());
            if day >= figures::day_of(since) {
                *months
                    .entry((src, recv, format!("{:04}-{:02}", day.year(), day.month())))
                    .or_default() += g;
            }
        }
        let mut sides: BTreeMap<String, (i64, i64)> = BTreeMap::new();
        let steps: Vec<(
            String,
            Option<chrono::NaiveDateTime>,
            chrono::NaiveDateTime,
            String,
            String,
        )> = s::table
            .inner_join(t::table)
            .filter(s::completed_at.is_not_null())
            .select((
                s::side,
                s::completed_at,
                s::due_at,
                t::source_province,
                t::receiving_province,
            ))
            .load(conn)
            .unwrap();
        for (side, done, due, src, recv) in steps {
            let done = done.unwrap();
            if figures::day_of(done) >= figures::day_of(since) {
                let c = sides.entry(if side == "source" { src } else { recv }).or_default();
                c.0 += 1;
                c.1 += i64::from(done <= due);
            }
        }
        (
            months
                .into_iter()
                .map(|((source, receiving, month), grams)| db::dashboard::PairMonth {
                    source,
                    receiving,
                    month,
                    grams,
                })
                .collect(),
            sides
                .into_iter()
                .map(|(province, (completed, on_time))| db::dashboard::OnTime {
                    province,
                    completed,
                    on_time,
                })
                .collect(),
        )
    }

    let check = |label: &'static str| {
        let filters = filters.clone();
        let pool = app.state.db.clone();
        async move {
            pool.run(move |conn| {
                for f in &filters {
                    let (figures_say, cases_say) = (
                        db::history::totals(conn, f).unwrap(),
                        db::history::case_totals(conn, f).unwrap(),
                    );
                    assert_eq!(figures_say, cases_say, "{label}: {f:?}");
                }
                let (months, on_time) = oracle(conn, since);
                assert!(
                    !months.is_empty() && !on_time.is_empty(),
                    "{label}: the oracle sees the seeded cases"
                );
                assert_eq!(
                    db::dashboard::monthly_tonnage(conn, since, None).unwrap(),
                    months,
                    "{label}"
                );
                assert_eq!(db::dashboard::on_time(conn, since, None).unwrap(), on_time, "{label}");
                let cq: Vec<_> = on_time.iter().filter(|o| o.province == "500000").cloned().collect();
                assert_eq!(
                    db::dashboard::on_time(conn, since, Some("500000")).unwrap(),
                    cq,
                    "{label}"
                );
                Ok::<_, db::DbError>(())
            })
            .await
            .unwrap();
        }
    };
    let db_run = |f: fn(&mut db::DbConnection) -> db::DbResult<i64>| {
        let pool = app.state.db.clone();
        async move { pool.run(f).await.unwrap() }
    };

    // Everything the seeding changed is appended and not yet folded (no sweeper runs in tests).
    let appended = db_run(figures::unfolded).await;
    assert!(appended > 10, "{appended} changes appended");
    check("before the fold").await;
    let folded = db_run(|c| figures::fold(c).map(|n| n as i64)).await;
    assert_eq!(folded, appended, "the fold moves every appended change");
    assert_eq!(db_run(figures::unfolded).await, 0);
    // No folded row came to nothing: the statuses the cases left are gone.
    let empty = db_run(|c| {
        use hwtransfer::db::schema::transfer_figures as tf;
        Ok(tf::table
            .filter(tf::folded.eq(true))
            .filter(tf::n.eq(0))
            .count()
            .get_result(c)?)
    })
    .await;
    assert_eq!(empty, 0);
    check("after the fold").await;
    assert_eq!(
        db_run(|c| figures::fold(c).map(|n| n as i64)).await,
        0,
        "nothing left to fold"
    );

    // Changes after the fold: a refusal, a withdrawal and a new filing, read before the next.
    let d = post(
        &app,
        &reg.enterprise_token,
        "/api/v1/transfer-applications",
        filing(&reg.operator_id, "900-249-08", "7"),
    )
    .await;
    let d = d["id"].as_str().unwrap();
    let (st, body, _) = app
        .post_json(
            &format!("/api/v1/transfer-applications/{d}/withdraw"),
            Some(&reg.enterprise_token),
            &json!({}),
        )
        .await;
    assert_eq!(st, 200, "{body}");
    assert!(db_run(figures::unfolded).await > 0);
    check("appended after a fold").await;
    db_run(|c| figures::fold(c).map(|n| n as i64)).await;
    check("folded twice").await;
}
both_backends!(figures_agree_with_the_cases, figures_agree_with_the_cases);

/// On PostgreSQL the fold runs beside the writers (the sweeper of another replica may run it
/// twice at once): filings committing while two folds loop lose no change and count none twice.
#[actix_web::test]
async fn figures_fold_while_cases_change_postgres() {
    use hwtransfer::db::{self, figures, history::TransferFilter};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let app = TestApp::spawn(Backend::Postgres).await;
    let (reg, _, _, _) = seeded(&app).await;
    let stop = Arc::new(AtomicBool::new(false));
    let folders: Vec<_> = (0..2)
        .map(|_| {
            let (pool, stop) = (app.state.db.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut runs = 0;
                while !stop.load(Ordering::Relaxed) {
                    let mut conn = pool.get().unwrap();
                    figures::fold(&mut conn).unwrap();
                    runs += 1;
                }
                runs
            })
        })
        .collect();
    let filings = (0..40).map(|i| {
        let (app, reg) = (&app, &reg);
        async move {
            let (s, b, _) = app
                .post_json(
                    "/api/v1/transfer-applications",
                    Some(&reg.enterprise_token),
                    &filing(&reg.operator_id, "900-249-08", &format!("0.{:03}", i + 1)),
                )
                .await;
            assert_eq!(s, 201, "{b}");
        }
    });
    futures_util::future::join_all(filings).await;
    stop.store(true, Ordering::Relaxed);
    for f in folders {
        assert!(f.join().unwrap() > 0);
    }
    app.state
        .db
        .run(|conn| {
            for f in [
                TransferFilter::default(),
                TransferFilter {
                    status: Some("submitted".into()),
                    ..Default::default()
                },
            ] {
                assert_eq!(db::history::totals(conn, &f)?, db::history::case_totals(conn, &f)?);
            }
            assert_eq!(db::history::totals(conn, &TransferFilter::default())?.count, 43);
            figures::fold(conn)?;
            assert_eq!(figures::unfolded(conn)?, 0);
            let all = TransferFilter::default();
            assert_eq!(db::history::totals(conn, &all)?, db::history::case_totals(conn, &all)?);
            Ok::<_, db::DbError>(())
        })
        .await
        .unwrap();
}
