//! A small registry to test against: regulators of the four southwest provinces, an admin, a
//! Sichuan operator licensed for HW08 and HW49 (+ one HW18 code), a Chongqing producer, and a
//! confirmed Chongqing–Sichuan agreement covering this year and next.

#![allow(dead_code)]

use chrono::Datelike;
use serde_json::{Value, json};

use crate::support::TestApp;

pub struct Registry {
    pub admin: String,
    pub cq: String,
    pub sc: String,
    pub gz: String,
    pub yn: String,
    pub operator_id: String,
    pub operator_token: String,
    pub enterprise_id: String,
    pub enterprise_token: String,
    pub agreement_id: String,
    pub year: i32,
}

pub fn this_year() -> i32 {
    hwtransfer::domain::calendar::shanghai_date(chrono::Utc::now()).year()
}

/// A valid USCC for a 6-digit division and a serial.
pub fn uscc(division: &str, serial: u32) -> String {
    let first17 = format!("91{division}MA{serial:07}");
    hwtransfer::domain::ids::Uscc::with_check_char(&first17[..17])
        .unwrap()
        .as_str()
        .to_string()
}

pub fn licence_body(categories: &[&str], capacity_kg: &str) -> Value {
    json!({
        "licence_number": "川环危第510100001号",
        "modes": ["收集", "贮存", "dispose"],
        "categories": categories,
        "codes": ["772-003-18"],
        "annual_capacity_kg": capacity_kg,
        "valid_from": "2025-01-01",
        "valid_until": "2028-12-31",
        "issuing_authority": "四川省生态环境厅"
    })
}

pub async fn create_operator(
    app: &TestApp,
    token: &str,
    name: &str,
    province: &str,
    division: &str,
    serial: u32,
    licence: Value,
) -> String {
    let (status, body, _) = app
        .post_json(
            "/api/v1/operators",
            Some(token),
            &json!({
                "name": name,
                "uscc": uscc(division, serial),
                "province": province,
                "division_code": division,
                "address": "测试地址1号",
                "licence": licence
            }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_string()
}

impl Registry {
    pub async fn setup(app: &TestApp) -> Registry {
        app.add_user("root", "admin", None).await;
        app.add_user("cq", "regulator", Some("500000")).await;
        app.add_user("sc", "regulator", Some("510000")).await;
        app.add_user("gz", "regulator", Some("520000")).await;
        app.add_user("yn", "regulator", Some("530000")).await;
        let (admin, cq, sc, gz, yn) = (
            app.login("root").await,
            app.login("cq").await,
            app.login("sc").await,
            app.login("gz").await,
            app.login("yn").await,
        );
        let year = this_year();
        let operator_id = create_operator(
            app,
            &sc,
            "四川测试环保处置有限公司",
            "510000",
            "510100",
            1,
            licence_body(&["HW08", "HW49"], "1000000"),
        )
        .await;
        let (status, body, _) = app
            .post_json(
                "/api/v1/enterprises",
                Some(&cq),
                &json!({
                    "name": "重庆测试化工有限公司",
                    "uscc": uscc("500112", 2),
                    "province": "500000",
                    "division_code": "500112",
                    "address": "重庆市渝北区测试路2号",
                    "contact_name": "张三",
                    "contact_phone": "023-00000000"
                }),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let enterprise_id = body["id"].as_str().unwrap().to_string();
        let (status, body, _) = app
            .post_json(
                "/api/v1/agreements",
                Some(&cq),
                &json!({
                    "provinces": ["500000", "510000"],
                    "valid_from": format!("{year}-01-01"),
                    "valid_until": format!("{}-12-31", year + 1),
                    "receiving_consent": "consent"
                }),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let agreement_id = body["id"].as_str().unwrap().to_string();
        let (status, body, _) = app
            .post_json(
                &format!("/api/v1/agreements/{agreement_id}/confirm"),
                Some(&sc),
                &json!({}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        app.add_user("op-user", "operator", Some(&operator_id)).await;
        app.add_user("ent-user", "enterprise", Some(&enterprise_id)).await;
        let operator_token = app.login("op-user").await;
        let enterprise_token = app.login("ent-user").await;
        Registry {
            admin,
            cq,
            sc,
            gz,
            yn,
            operator_id,
            operator_token,
            enterprise_id,
            enterprise_token,
            agreement_id,
            year,
        }
    }

    /// Proposes an entry as `proposer`; returns (status, body).
    pub async fn propose(&self, app: &TestApp, proposer: &str, scope: &str, quota_kg: &str) -> (u16, Value) {
        let (status, body, _) = app
            .post_json(
                "/api/v1/whitelist-entries",
                Some(proposer),
                &json!({
                    "year": self.year,
                    "operator_id": self.operator_id,
                    "source_province": "500000",
                    "scope": scope,
                    "quota_kg": quota_kg
                }),
            )
            .await;
        (status, body)
    }

    /// A confirmed entry (proposed by Chongqing, confirmed by Sichuan); returns its id.
    pub async fn confirmed_entry(&self, app: &TestApp, scope: &str, quota_kg: &str) -> String {
        let (status, body) = self.propose(app, &self.cq, scope, quota_kg).await;
        assert_eq!(status, 201, "{body}");
        let id = body["id"].as_str().unwrap().to_string();
        let (status, body, _) = app
            .post_json(
                &format!("/api/v1/whitelist-entries/{id}/confirm"),
                Some(&self.sc),
                &json!({}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        id
    }
}

/// One sweep now, with the default office close.
pub async fn sweep_now(app: &crate::support::TestApp) -> hwtransfer::jobs::SweepReport {
    app.state
        .db
        .run(|c| {
            hwtransfer::jobs::sweep_once_with(
                c,
                chrono::NaiveTime::from_hms_opt(17, 30, 0).unwrap(),
                chrono::Utc::now(),
            )
        })
        .await
        .unwrap()
}

/// Takes the holiday notices of `year` and later out of the test's database, so that deadlines
/// there are provisional.
pub async fn forget_notices_from(app: &crate::support::TestApp, year: i32) {
    use diesel::prelude::*;
    use hwtransfer::db::schema::{calendar_days, calendar_years};
    app.state
        .db
        .run(move |c| {
            diesel::delete(calendar_days::table.filter(calendar_days::year.ge(year))).execute(c)?;
            diesel::delete(calendar_years::table.filter(calendar_years::year.ge(year))).execute(c)?;
            Ok(())
        })
        .await
        .unwrap();
    app.state.invalidate_calendar();
}

/// A tiny synthetic catalogue edition made for the tests (never national data): the edition of
/// this year, in force on 1 January. It keeps the 2021 code 900-249-08, drops 900-041-49 and
/// splits it into two invented codes, 900-901-49 and 900-902-49.
pub const TEST_EDITION_SOURCE: &str = "测试用合成版本（非官方数据）";

pub fn test_edition_codes() -> String {
    "code,category,category_name,industry_source,description,hazard\n\
     900-249-08,HW08,废矿物油与含矿物油废物,非特定行业,测试用合成条目：保留的代码,T/I\n\
     900-901-49,HW49,其他废物,非特定行业,测试用合成条目：拆分后的代码甲,T/In\n\
     900-902-49,HW49,其他废物,非特定行业,测试用合成条目：拆分后的代码乙,T\n"
        .to_string()
}

pub fn test_edition_successors() -> String {
    "old_code,new_code\n900-041-49,900-901-49\n900-041-49,900-902-49\n".to_string()
}

/// The body of `POST /catalogue/editions` for the synthetic edition.
pub fn test_edition_body() -> Value {
    let year = this_year();
    json!({
        "edition": year,
        "in_force_from": format!("{year}-01-01"),
        "source": TEST_EDITION_SOURCE,
        "code_count": 3,
        "codes_csv": test_edition_codes(),
        "successors_csv": test_edition_successors()
    })
}

/// The body of a filing: `kg` of one waste `code` (named 废矿物油), from the registry's
/// enterprise to `operator_id` for disposal, December to May, with one carrier.
pub fn filing(operator_id: &str, code: &str, kg: &str) -> Value {
    let y = this_year();
    json!({
        "operator_id": operator_id,
        "method": "dispose",
        "period_start": format!("{y}-12-01"),
        "period_end": format!("{}-05-31", y + 1),
        "items": [{
            "waste_code": code,
            "waste_name": "废矿物油",
            "physical_form": "液态",
            "hazards": ["T", "I"],
            "packaging": "200L铁桶",
            "quantity_kg": kg
        }],
        "carriers": [{"name": "重庆危运物流有限公司", "permit_number": "渝交运管许可字500000001号", "plate": "渝A12345"}]
    })
}

/// Posts a workflow step (`accept`, `decisions`, …) on a case as `token`, with `If-Match` when
/// a version is given; returns (status, body).
pub async fn act(
    app: &TestApp,
    token: &str,
    id: &str,
    action: &str,
    body: Value,
    if_match: Option<i64>,
) -> (u16, Value) {
    let mut req = app
        .client
        .post(app.url(&format!("/api/v1/transfer-applications/{id}/{action}")))
        .bearer_auth(token)
        .json(&body);
    if let Some(v) = if_match {
        req = req.header("if-match", format!("\"{v}\""));
    }
    let (s, b, _) = crate::support::split(req.send().await.unwrap()).await;
    (s, b)
}

/// [`act`] with the case's current version as `If-Match`.
pub async fn act_now(app: &TestApp, token: &str, id: &str, action: &str, body: Value) -> (u16, Value) {
    let v = case(app, token, id).await["version"].as_i64().unwrap();
    act(app, token, id, action, body, Some(v)).await
}

/// A case as `token` reads it (which must succeed).
pub async fn case(app: &TestApp, token: &str, id: &str) -> Value {
    let (s, a, _) = app
        .get(&format!("/api/v1/transfer-applications/{id}"), Some(token))
        .await;
    assert_eq!(s, 200, "{a}");
    assert_next_due_holds(app, id).await;
    a
}

/// The queue's bound holds for the case: `next_due_at` is its earliest open step's due instant,
/// none when no step is open, and `source_step_open` / `receiving_step_open` say which sides
/// have a step open (the province queues and counts search only cases that have one, by these
/// columns). Checked at every `case` read, so every workflow test that reads a case checks it.
pub async fn assert_next_due_holds(app: &TestApp, id: &str) {
    use diesel::prelude::*;
    use hwtransfer::db::schema::{application_steps as s, transfer_applications as t};
    let key = id.to_string();
    let (stored, from_steps) = app
        .state
        .db
        .run(move |c| {
            let stored: (Option<chrono::NaiveDateTime>, bool, bool) = t::table
                .find(&key)
                .select((t::next_due_at, t::source_step_open, t::receiving_step_open))
                .first(c)?;
            let open: Vec<(String, chrono::NaiveDateTime)> = s::table
                .filter(s::application_id.eq(&key))
                .filter(s::completed_at.is_null())
                .select((s::side, s::due_at))
                .load(c)?;
            let earliest = open.iter().map(|(_, due)| *due).min();
            let side_open = |side: &str| open.iter().any(|(s, _)| s == side);
            Ok((stored, (earliest, side_open("source"), side_open("receiving"))))
        })
        .await
        .unwrap();
    assert_eq!(
        stored, from_steps,
        "case {id}: (next_due_at, source_step_open, receiving_step_open) against its open steps"
    );
}

/// An entry's quota usage as Chongqing's regulator reads it.
pub async fn usage(app: &TestApp, reg: &Registry, entry: &str) -> Value {
    app.get(&format!("/api/v1/whitelist-entries/{entry}/usage"), Some(&reg.cq))
        .await
        .1
}

/// A filing as the storage layer takes it, for tests that file at an instant of their choosing
/// (the service files now): the registry's enterprise to its operator, disposal from `start` to
/// `end`, one carrier, one `item`.
pub fn stored_filing(
    reg: &Registry,
    start: chrono::NaiveDate,
    end: chrono::NaiveDate,
    item: hwtransfer::db::applications::FilingItem,
) -> hwtransfer::db::applications::Filing {
    use hwtransfer::db::applications::{Carrier, Filing, Method};
    Filing {
        enterprise_id: reg.enterprise_id.clone(),
        operator_id: reg.operator_id.clone(),
        method: Method::Dispose,
        period_start: start,
        period_end: end,
        carriers: vec![Carrier {
            name: "c".into(),
            permit_number: "p".into(),
            plate: None,
        }],
        items: vec![item],
        idempotency_key: None,
        request_hash: "h".into(),
        filed_by: "ent-user".into(),
    }
}

/// One line of a stored filing: `kg` of waste `code` named `name`, with its form, hazards and
/// packaging.
pub fn stored_item(
    code: &str,
    name: &str,
    form: &str,
    hazards: &str,
    packaging: &str,
    kg: &str,
) -> hwtransfer::db::applications::FilingItem {
    hwtransfer::db::applications::FilingItem {
        code: hwtransfer::domain::catalogue::WasteCode::parse(code).unwrap(),
        name: name.into(),
        physical_form: form.into(),
        hazards: hazards.into(),
        packaging: packaging.into(),
        quantity: hwtransfer::domain::quantity::Quantity::parse_kg(kg).unwrap(),
    }
}

/// 5 kg of waste oil (900-249-08) in drums.
pub fn stored_oil() -> hwtransfer::db::applications::FilingItem {
    stored_item("900-249-08", "废矿物油", "液态", "T/I", "桶", "5")
}

/// A date, for the fixtures' callers.
pub fn ymd(y: i32, m: u32, d: u32) -> chrono::NaiveDate {
    chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// Files `kg` of waste oil (HW08) on the whitelist as the registry's enterprise; returns the
/// case as filed.
async fn file_on_the_whitelist(app: &TestApp, reg: &Registry, kg: &str) -> Value {
    let (s, a, _) = app
        .post_json(
            "/api/v1/transfer-applications",
            Some(&reg.enterprise_token),
            &filing(&reg.operator_id, "900-249-08", kg),
        )
        .await;
    assert_eq!(s, 201, "{a}");
    a
}

/// Files `kg` of HW08 and has Chongqing accept it: the decisions are then due. Returns its id
/// and version.
pub async fn accepted_case(app: &TestApp, reg: &Registry, kg: &str) -> (String, i64) {
    let a = file_on_the_whitelist(app, reg, kg).await;
    let id = a["id"].as_str().unwrap().to_string();
    let (s, a) = act(app, &reg.cq, &id, "accept", json!({}), None).await;
    assert_eq!(s, 200, "{a}");
    (id, a["version"].as_i64().unwrap())
}

/// Files `kg` of HW08 on the whitelist and has both provinces approve it; returns its id.
pub async fn approved_application(app: &TestApp, reg: &Registry, kg: &str) -> String {
    let a = file_on_the_whitelist(app, reg, kg).await;
    assert_eq!(a["route"], "whitelist", "{a}");
    let id = a["id"].as_str().unwrap().to_string();
    let (s, a) = act(app, &reg.cq, &id, "accept", json!({}), None).await;
    assert_eq!(s, 200, "{a}");
    let approve = |side: &str| json!({"side": side, "outcome": "approve", "reasons": []});
    let (s, a) = act(app, &reg.cq, &id, "decisions", approve("source"), Some(2)).await;
    assert_eq!(s, 200, "{a}");
    let (s, a) = act(app, &reg.sc, &id, "decisions", approve("receiving"), Some(3)).await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(a["status"], "approved", "{a}");
    id
}

/// The body of a manifest under `application_id` with `(line, kg)` items, departing now.
pub fn manifest(application_id: &str, lines: &[(i64, &str)]) -> Value {
    json!({
        "application_id": application_id,
        "items": lines.iter().map(|(l, kg)| json!({"line": l, "quantity_kg": kg})).collect::<Vec<_>>(),
        "carrier": {
            "name": "重庆危运物流有限公司",
            "permit_number": "渝交运管许可字500000001号",
            "vehicle_plate": "渝A12345",
            "driver_name": "李四"
        },
        "route_from": "重庆市渝北区",
        "route_to": "四川省成都市",
        "departure_at": chrono::Utc::now().to_rfc3339()
    })
}
