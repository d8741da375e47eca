//! The standard route as 部令第23号 writes it (issue 17): the receiving province's refusal is
//! its opinion and the source province decides; refusals are numbered decision documents with
//! the applicant's remedies; 不予受理 is not a correction notice; the consultation letter and
//! the reply are records the approval cites; the approval is copied (抄送) to three departments;
//! on the whitelist route with the consent policy each province has its own step; the
//! correction window never stops and deemed acceptance dates from the resubmission.

use serde_json::{Value, json};

use crate::both_backends;
use crate::fixtures::{Registry, act, act_now, case, filing, stored_filing, stored_oil, ymd};
use crate::support::{Backend, TestApp};

async fn file_standard(app: &TestApp, reg: &Registry) -> String {
    let (s, a, _) = app
        .file_confirmed(&reg.enterprise_token, &filing(&reg.operator_id, "900-041-49", "10"))
        .await;
    assert_eq!(s, 201, "{a}");
    assert_eq!(a["route"], "standard");
    a["id"].as_str().unwrap().to_string()
}

fn today() -> String {
    chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive()
        .to_string()
}

fn codes(problem: &Value) -> Vec<(String, String)> {
    problem["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    (
                        e["pointer"].as_str().unwrap_or_default().to_string(),
                        e["code"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn ids_in(app: &TestApp, token: &str, query: &str) -> Vec<String> {
    let (s, page, _) = app
        .get(&format!("/api/v1/transfer-applications?limit=200{query}"), Some(token))
        .await;
    assert_eq!(s, 200, "{page}");
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_string())
        .collect()
}

fn letter(number: &str) -> Value {
    json!({"number": number, "date": today()})
}

/// Takes a standard case to the receiving province's opinion, with both letters.
async fn to_receiving_opinion(app: &TestApp, reg: &Registry, id: &str) {
    let (s, a) = act(app, &reg.cq, id, "accept", json!({}), None).await;
    assert_eq!(s, 200, "{a}");
    let (s, a) = act_now(
        app,
        &reg.cq,
        id,
        "decisions",
        json!({"side": "source", "outcome": "approve", "letter": letter("测试商请函〔2026〕1号")}),
    )
    .await;
    assert_eq!((s, a["status"].as_str()), (200, Some("consultation_sent")), "{a}");
}

async fn receiving_refusal_is_an_opinion_and_the_source_decides(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    let id = file_standard(&app, &reg).await;
    act(&app, &reg.cq, &id, "accept", json!({}), None).await;

    // The consultation letter is the source's agreeing review: its number and date are needed,
    // the date not after today.
    let ok = json!({"side": "source", "outcome": "approve"});
    let (s, p) = act_now(&app, &reg.cq, &id, "decisions", ok).await;
    assert_eq!(s, 422, "{p}");
    assert_eq!(codes(&p), vec![("/letter".to_string(), "letter.required".to_string())]);
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(2))
        .with_timezone(&chrono_tz::Asia::Shanghai)
        .date_naive()
        .to_string();
    let (s, p) = act_now(
        &app,
        &reg.cq,
        &id,
        "decisions",
        json!({"side": "source", "outcome": "approve", "letter": {"number": "测试商请函〔2026〕1号", "date": tomorrow}}),
    )
    .await;
    assert_eq!(s, 422, "{p}");
    assert_eq!(codes(&p)[0].1, "letter.date_future");
    let (s, p) = act_now(
        &app,
        &reg.cq,
        &id,
        "decisions",
        json!({"side": "source", "outcome": "approve", "letter": {"number": " ", "date": "2026-1-1"}}),
    )
    .await;
    assert_eq!(s, 422, "{p}");
    let pointers: Vec<String> = codes(&p).into_iter().map(|(p, _)| p).collect();
    assert_eq!(pointers, vec!["/letter/date".to_string(), "/letter/number".to_string()]);
    assert_eq!(
        case(&app, &reg.cq, &id).await["status"],
        "under_review",
        "nothing changed"
    );
    let (s, a) = act_now(
        &app,
        &reg.cq,
        &id,
        "decisions",
        json!({"side": "source", "outcome": "approve", "letter": letter("测试商请函〔2026〕1号")}),
    )
    .await;
    assert_eq!((s, a["status"].as_str()), (200, Some("consultation_sent")), "{a}");
    assert_eq!(a["consultation_letter"]["number"], "测试商请函〔2026〕1号");
    assert_eq!(a["consultation_letter"]["date"], today());

    // The receiving province refuses in its reply: the case goes back to the source province,
    // whose final decision is due in 5 working days, in its queue.
    let (s, p) = act_now(
        &app,
        &reg.sc,
        &id,
        "decisions",
        json!({"side": "receiving", "outcome": "refuse", "reasons": ["处置能力已满"]}),
    )
    .await;
    assert_eq!(s, 422, "{p}");
    assert_eq!(codes(&p)[0].1, "letter.required", "the reply is a letter too");
    let (s, a) = act_now(
        &app,
        &reg.sc,
        &id,
        "decisions",
        json!({"side": "receiving", "outcome": "refuse", "reasons": ["处置能力已满"], "letter": letter("测试复函〔2026〕7号")}),
    )
    .await;
    assert_eq!((s, a["status"].as_str()), (200, Some("receiving_replied")), "{a}");
    assert_eq!(a["reply"]["number"], "测试复函〔2026〕7号");
    assert!(a["refusal"].is_null(), "an opinion is not the decision");
    let step = &a["steps"][3];
    assert_eq!(
        (
            step["kind"].as_str(),
            step["side"].as_str(),
            step["working_days"].as_i64()
        ),
        (Some("source_decision"), Some("source"), Some(5))
    );
    assert_eq!(step["started_on"], today());
    assert_eq!(a["steps"][2]["outcome"], "receiving_disagreed");
    assert!(ids_in(&app, &reg.cq, "&side=source").await.contains(&id));
    assert!(!ids_in(&app, &reg.sc, "&side=receiving").await.contains(&id));

    // After a disagreeing reply the source cannot approve; it refuses with a numbered decision.
    let (s, p) = act_now(
        &app,
        &reg.cq,
        &id,
        "decisions",
        json!({"side": "source", "outcome": "approve"}),
    )
    .await;
    assert_eq!(s, 409, "{p}");
    assert_eq!(p["code"], "workflow.receiving_disagreed", "{p}");
    let (s, a) = act_now(
        &app,
        &reg.cq,
        &id,
        "decisions",
        json!({"side": "source", "outcome": "refuse", "reasons": ["接受地省级生态环境主管部门不同意接收"]}),
    )
    .await;
    assert_eq!((s, a["status"].as_str()), (200, Some("refused")), "{a}");
    let y = chrono::Datelike::year(&chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai));
    let r = &a["refusal"];
    assert_eq!(r["kind"], "not_permitted");
    assert_eq!(r["number"], format!("渝危转不许〔{y}〕0001号"));
    assert_eq!(r["reasons"], json!(["接受地省级生态环境主管部门不同意接收"]));
    assert_eq!(r["decided_on"], today());
    assert_eq!(r["receiving_opinion"]["outcome"], "refuse");
    assert_eq!(r["receiving_opinion"]["reasons"], json!(["处置能力已满"]));
    assert_eq!(r["remedies"]["review_days"], 60);
    assert_eq!(r["remedies"]["suit_months"], 6);
    let d = chrono::NaiveDate::parse_from_str(&today(), "%Y-%m-%d").unwrap();
    assert_eq!(
        r["remedies"]["review_until"],
        (d + chrono::Duration::days(60)).to_string()
    );
    let statement = r["remedies"]["statement"].as_str().unwrap();
    assert!(
        statement.contains("行政复议") && statement.contains("行政诉讼"),
        "{statement}"
    );
    assert!(a["approval"].is_null());
    // Stored: the refusal reads back the same, and the timeline says who did what.
    let again = case(&app, &reg.enterprise_token, &id).await;
    assert_eq!(again["refusal"], a["refusal"]);
    let (_, events, _) = app
        .get(&format!("/api/v1/transfer-applications/{id}/events"), Some(&reg.cq))
        .await;
    let kinds: Vec<&str> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        vec![
            "filed",
            "accepted",
            "consultation_sent",
            "receiving_disagreed",
            "source_refused"
        ]
    );
    assert_eq!(events[4]["detail"]["refusal_number"], r["number"]);

    // Refusals have their own series: the next refusal is 0002, an approval still 0001.
    let other = file_standard(&app, &reg).await;
    to_receiving_opinion(&app, &reg, &other).await;
    let (_, a) = act_now(
        &app,
        &reg.sc,
        &other,
        "decisions",
        json!({"side": "receiving", "outcome": "approve", "letter": letter("测试复函〔2026〕8号")}),
    )
    .await;
    assert_eq!(a["status"], "receiving_replied");
    let (s, a) = act_now(
        &app,
        &reg.cq,
        &other,
        "decisions",
        json!({"side": "source", "outcome": "refuse", "reasons": ["申请材料与实际不符"]}),
    )
    .await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(a["refusal"]["number"], format!("渝危转不许〔{y}〕0002号"));
    assert!(a["refusal"]["receiving_opinion"]["outcome"] == "approve");
}
both_backends!(
    receiving_refusal_is_an_opinion_and_the_source_decides,
    receiving_refusal_is_an_opinion_and_the_source_decides
);

async fn approval_cites_its_letters_and_is_copied_to_three_departments(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    let id = file_standard(&app, &reg).await;
    to_receiving_opinion(&app, &reg, &id).await;
    // A letter where none belongs is refused.
    let (s, a) = act_now(
        &app,
        &reg.sc,
        &id,
        "decisions",
        json!({"side": "receiving", "outcome": "approve", "letter": letter("测试复函〔2026〕9号")}),
    )
    .await;
    assert_eq!(s, 200, "{a}");
    let (s, p) = act_now(
        &app,
        &reg.cq,
        &id,
        "decisions",
        json!({"side": "source", "outcome": "approve", "conditions": ["按批准的路线运输"], "letter": letter("x")}),
    )
    .await;
    assert_eq!(s, 422, "{p}");
    assert_eq!(codes(&p)[0].1, "letter.unexpected");
    let (s, a) = act_now(
        &app,
        &reg.cq,
        &id,
        "decisions",
        json!({"side": "source", "outcome": "approve", "conditions": ["按批准的路线运输"]}),
    )
    .await;
    assert_eq!((s, a["status"].as_str()), (200, Some("approved")), "{a}");
    let y = chrono::Datelike::year(&chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai));
    assert_eq!(a["approval"]["number"], format!("渝危转〔{y}〕0001号"));
    assert_eq!(a["consultation_letter"]["number"], "测试商请函〔2026〕1号");
    assert_eq!(a["reply"]["number"], "测试复函〔2026〕9号");
    let copies: Vec<(String, String, String)> = a["approval"]["copies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["recipient"].as_str().unwrap().to_string(),
                c["province"].as_str().unwrap().to_string(),
                c["department"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut sorted = copies.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        vec![
            (
                "receiving_environment".to_string(),
                "510000".to_string(),
                "四川省生态环境主管部门".to_string()
            ),
            (
                "receiving_transport".to_string(),
                "510000".to_string(),
                "四川省交通运输主管部门".to_string()
            ),
            (
                "source_transport".to_string(),
                "500000".to_string(),
                "重庆市交通运输主管部门".to_string()
            ),
        ]
    );
    // Each copy is an event in the outbox, for the subscribers of the case's parties.
    let app_id = id.clone();
    let events: Vec<String> = app
        .state
        .db
        .run(move |c| {
            use diesel::prelude::*;
            use hwtransfer::db::schema::outbox_events as o;
            Ok(o::table
                .filter(o::object_id.eq(app_id))
                .filter(o::event_type.eq("approval.copied"))
                .select(o::payload)
                .load::<String>(c)?)
        })
        .await
        .unwrap();
    assert_eq!(events.len(), 3, "{events:?}");
    let recipients: std::collections::BTreeSet<String> = events
        .iter()
        .map(|p| {
            let v: Value = serde_json::from_str(p).unwrap();
            let data = if v["data"].is_object() { &v["data"] } else { &v };
            data["detail"]["recipient"].as_str().unwrap_or_default().to_string()
        })
        .collect();
    assert_eq!(recipients.len(), 3, "{events:?}");
    let (_, types, _) = app.get("/api/v1/webhook-event-types", Some(&reg.cq)).await;
    assert!(types.to_string().contains("approval.copied"), "{types}");
}
both_backends!(
    approval_cites_its_letters_and_is_copied_to_three_departments,
    approval_cites_its_letters_and_is_copied_to_three_departments
);

async fn refusal_to_accept_ends_the_case_unlike_a_correction(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    let entry = reg.confirmed_entry(&app, "HW08", "50").await;
    let (s, a, _) = app
        .post_json(
            "/api/v1/transfer-applications",
            Some(&reg.enterprise_token),
            &filing(&reg.operator_id, "900-249-08", "20"),
        )
        .await;
    assert_eq!((s, a["route"].as_str()), (201, Some("whitelist")), "{a}");
    let id = a["id"].as_str().unwrap().to_string();
    let reasons = json!({"reasons": ["申请事项不属于本机关职权范围"]});
    // A decision: If-Match required; reasons required; the source province's alone.
    assert_eq!(
        act(&app, &reg.cq, &id, "refuse-acceptance", reasons.clone(), None)
            .await
            .0,
        428
    );
    let (s, p) = act(&app, &reg.cq, &id, "refuse-acceptance", json!({"reasons": []}), Some(1)).await;
    assert_eq!(s, 422, "{p}");
    assert_eq!(codes(&p)[0].0, "/reasons");
    assert_eq!(
        act(&app, &reg.sc, &id, "refuse-acceptance", reasons.clone(), Some(1))
            .await
            .0,
        403
    );
    assert_eq!(
        act(
            &app,
            &reg.enterprise_token,
            &id,
            "refuse-acceptance",
            reasons.clone(),
            Some(1)
        )
        .await
        .0,
        403
    );
    let (s, a) = act(&app, &reg.cq, &id, "refuse-acceptance", reasons.clone(), Some(1)).await;
    assert_eq!((s, a["status"].as_str()), (200, Some("not_accepted")), "{a}");
    let y = chrono::Datelike::year(&chrono::Utc::now().with_timezone(&chrono_tz::Asia::Shanghai));
    assert_eq!(a["refusal"]["kind"], "not_accepted");
    assert_eq!(a["refusal"]["number"], format!("渝危转不受〔{y}〕0001号"));
    assert_eq!(a["refusal"]["reasons"], reasons["reasons"]);
    assert_eq!(a["refusal"]["remedies"]["review_days"], 60);
    assert!(a["correction_notice"].is_null());
    assert!(a["steps"][0]["completed_at"].is_string());
    assert_eq!(a["steps"][0]["outcome"], "not_accepted");
    // The reservation went back to the entry; nothing more can happen to the case.
    let (_, u, _) = app
        .get(&format!("/api/v1/whitelist-entries/{entry}/usage"), Some(&reg.cq))
        .await;
    assert_eq!(u["reserved_kg"], "0.000", "{u}");
    assert_eq!(
        act(
            &app,
            &reg.cq,
            &id,
            "request-correction",
            json!({"problems": ["x"]}),
            None
        )
        .await
        .0,
        409
    );
    assert_eq!(
        act(&app, &reg.enterprise_token, &id, "resubmit", json!({"note": "x"}), None)
            .await
            .0,
        409
    );
    assert_eq!(
        act(&app, &reg.enterprise_token, &id, "withdraw", json!({}), None)
            .await
            .0,
        409
    );
    assert!(!ids_in(&app, &reg.cq, "&side=source").await.contains(&id));

    // A correction notice is not a refusal: the case waits for the resubmission, which may then
    // be refused with its own number.
    let id = file_standard(&app, &reg).await;
    let (s, a) = act(
        &app,
        &reg.cq,
        &id,
        "request-correction",
        json!({"problems": ["缺少合同"]}),
        None,
    )
    .await;
    assert_eq!((s, a["status"].as_str()), (200, Some("correction_requested")), "{a}");
    assert!(a["refusal"].is_null());
    act(
        &app,
        &reg.enterprise_token,
        &id,
        "resubmit",
        json!({"note": "已补充合同"}),
        None,
    )
    .await;
    let (s, a) = act_now(&app, &reg.cq, &id, "refuse-acceptance", reasons.clone()).await;
    assert_eq!((s, a["status"].as_str()), (200, Some("not_accepted")), "{a}");
    assert_eq!(a["refusal"]["number"], format!("渝危转不受〔{y}〕0002号"));
}
both_backends!(
    refusal_to_accept_ends_the_case_unlike_a_correction,
    refusal_to_accept_ends_the_case_unlike_a_correction
);

/// Sets the due instant of the open step of `side` one day in the past.
async fn backdate(app: &TestApp, id: &str, side: &'static str) {
    let id = id.to_string();
    let id2 = id.clone();
    app.state
        .db
        .run(move |c| {
            use diesel::prelude::*;
            use hwtransfer::db::schema::application_steps as s;
            let past = (chrono::Utc::now() - chrono::Duration::days(1)).naive_utc();
            let n = diesel::update(
                s::table
                    .filter(s::application_id.eq(id))
                    .filter(s::side.eq(side))
                    .filter(s::completed_at.is_null()),
            )
            .set(s::due_at.eq(past))
            .execute(c)?;
            assert_eq!(n, 1);
            // The case's earliest due instant follows, as the service keeps it.
            use hwtransfer::db::schema::transfer_applications as t;
            diesel::update(t::table.find(&id2))
                .set(t::next_due_at.eq(Some(past)))
                .execute(c)?;
            Ok(())
        })
        .await
        .unwrap();
}

async fn whitelist_consent_gives_each_province_its_own_step(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    reg.confirmed_entry(&app, "HW08", "100").await;
    let mut ids = Vec::new();
    for kg in ["1", "2"] {
        let (s, a, _) = app
            .post_json(
                "/api/v1/transfer-applications",
                Some(&reg.enterprise_token),
                &filing(&reg.operator_id, "900-249-08", kg),
            )
            .await;
        assert_eq!((s, a["receiving_consent"].as_str()), (201, Some("consent")), "{a}");
        let id = a["id"].as_str().unwrap().to_string();
        act(&app, &reg.cq, &id, "accept", json!({}), None).await;
        ids.push(id);
    }
    let (one, two) = (ids[0].clone(), ids[1].clone());
    let a = case(&app, &reg.cq, &one).await;
    let open: Vec<(String, String, i64)> = a["steps"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["completed_at"].is_null())
        .map(|s| {
            (
                s["kind"].as_str().unwrap().to_string(),
                s["side"].as_str().unwrap().to_string(),
                s["working_days"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        open,
        vec![
            ("whitelist_decision".to_string(), "source".to_string(), 5),
            ("whitelist_consent".to_string(), "receiving".to_string(), 5)
        ]
    );
    assert_eq!(a["steps"][1]["due_on"], a["steps"][2]["due_on"]);
    // Both provinces have it in their queue.
    assert!(ids_in(&app, &reg.cq, "&side=source").await.contains(&one));
    assert!(ids_in(&app, &reg.sc, "&side=receiving").await.contains(&one));

    // The source decides on case one: its step is done, the receiving one runs on; only
    // Sichuan has the case in its queue now.
    let (s, a) = act_now(
        &app,
        &reg.cq,
        &one,
        "decisions",
        json!({"side": "source", "outcome": "approve"}),
    )
    .await;
    assert_eq!((s, a["status"].as_str()), (200, Some("under_review")), "{a}");
    assert_eq!(a["steps"][1]["outcome"], "approved");
    assert!(a["steps"][2]["completed_at"].is_null());
    assert!(!ids_in(&app, &reg.cq, "&side=source").await.contains(&one));
    assert!(ids_in(&app, &reg.sc, "&side=receiving").await.contains(&one));
    // Clock suspension is the province's that has not decided: Chongqing has no running step.
    let (s, p) = act(
        &app,
        &reg.cq,
        &one,
        "suspend-clock",
        json!({"reason": "专家评审"}),
        None,
    )
    .await;
    assert_eq!(s, 403, "{p}");

    // Overdue: only the province whose step is late, in its queue and in the escalation.
    backdate(&app, &one, "receiving").await;
    backdate(&app, &two, "receiving").await;
    let a = case(&app, &reg.sc, &two).await;
    assert_eq!(
        (a["steps"][1]["overdue"].as_bool(), a["steps"][2]["overdue"].as_bool()),
        (Some(false), Some(true))
    );
    let sc_late = ids_in(&app, &reg.sc, "&side=receiving&overdue=true").await;
    assert!(sc_late.contains(&one) && sc_late.contains(&two), "{sc_late:?}");
    let cq_late = ids_in(&app, &reg.cq, "&side=source&overdue=true").await;
    assert!(!cq_late.contains(&one) && !cq_late.contains(&two), "{cq_late:?}");
    // Sichuan suspends its clock on case two: no longer late; Chongqing's step there is untouched.
    let (s, a) = act(
        &app,
        &reg.sc,
        &two,
        "suspend-clock",
        json!({"reason": "现场核查"}),
        None,
    )
    .await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(
        (
            a["steps"][1]["suspended"].as_bool(),
            a["steps"][2]["suspended"].as_bool()
        ),
        (Some(false), Some(true))
    );
    assert_eq!(a["steps"][2]["suspensions"][0]["reason"], "现场核查");
    assert!(
        !ids_in(&app, &reg.sc, "&side=receiving&overdue=true")
            .await
            .contains(&two)
    );
    // Chongqing may suspend its own step on case two beside Sichuan's.
    let (s, a) = act(
        &app,
        &reg.cq,
        &two,
        "suspend-clock",
        json!({"reason": "补充检测"}),
        None,
    )
    .await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(a["steps"][1]["suspended"], true);
    let (s, a) = act(&app, &reg.sc, &two, "resume-clock", json!({}), None).await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(
        (
            a["steps"][1]["suspended"].as_bool(),
            a["steps"][2]["suspended"].as_bool()
        ),
        (Some(true), Some(false))
    );

    // The sweep escalates the late step of the province that has not decided, naming it.
    let report = crate::fixtures::sweep_now(&app).await;
    assert!(report.applications.overdue_marked.contains(&one), "{report:?}");
    let (_, events, _) = app
        .get(&format!("/api/v1/transfer-applications/{one}/events"), Some(&reg.sc))
        .await;
    let overdue: Vec<&Value> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "overdue")
        .collect();
    assert_eq!(overdue.len(), 1, "{events}");
    assert_eq!(overdue[0]["detail"]["side"], "receiving");
    assert_eq!(overdue[0]["detail"]["province"], "510000");
    assert_eq!(overdue[0]["detail"]["step"], "whitelist_consent");

    // Sichuan consents: approved, both steps done.
    let (s, a) = act_now(
        &app,
        &reg.sc,
        &one,
        "decisions",
        json!({"side": "receiving", "outcome": "approve"}),
    )
    .await;
    assert_eq!((s, a["status"].as_str()), (200, Some("approved")), "{a}");
    assert!(
        a["steps"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["completed_at"].is_string())
    );
    assert!(!ids_in(&app, &reg.sc, "&side=receiving").await.contains(&one));
}
both_backends!(
    whitelist_consent_gives_each_province_its_own_step,
    whitelist_consent_gives_each_province_its_own_step
);

async fn correction_window_never_stops_and_deemed_acceptance_dates_from_resubmission(backend: Backend) {
    use hwtransfer::db::applications::{Act, ActContext, FileOutcome};
    use hwtransfer::domain::workflow::Actor;
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    // The acceptance period (补正 within 5 working days) cannot be suspended.
    let id = file_standard(&app, &reg).await;
    let (s, p) = act(&app, &reg.cq, &id, "suspend-clock", json!({"reason": "专家评审"}), None).await;
    assert_eq!(s, 409, "{p}");
    assert_eq!(p["code"], "workflow.not_suspendable");
    assert!(
        case(&app, &reg.cq, &id).await["steps"][0]["suspensions"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    // Received Mon 2025-03-03, correction notice the next day, resubmitted Thu 2025-03-20; no
    // act within 5 working days of the resubmission: it counts as accepted on 2025-03-20.
    let at = |s: &str| {
        chrono::DateTime::parse_from_rfc3339(s)
            .unwrap()
            .with_timezone(&chrono::Utc)
    };
    let f = stored_filing(&reg, ymd(2025, 4, 1), ymd(2025, 12, 31), stored_oil());
    let close = app.state.config.office_close;
    let (received, notice, resubmitted, later) = (
        at("2025-03-03T10:00:00+08:00"),
        at("2025-03-04T10:00:00+08:00"),
        at("2025-03-20T10:00:00+08:00"),
        at("2025-04-30T10:00:00+08:00"),
    );
    let id = app
        .state
        .db
        .run(move |conn| {
            let cal = hwtransfer::db::calendar::load(conn)?;
            let (outcome, _) = hwtransfer::db::applications::file(conn, &cal, close, &f, received, |_| true)?;
            let FileOutcome::Filed(a, _) = outcome else {
                panic!("not filed")
            };
            let step = |actor, now| ActContext {
                cal: &cal,
                office_close: close,
                actor,
                name: "t",
                role: "t",
                now,
            };
            hwtransfer::db::applications::act(
                conn,
                &step(Actor::SourceRegulator, notice),
                &a.id,
                None,
                &Act::RequestCorrection {
                    problems: vec!["缺少合同".into()],
                },
            )?
            .map_err(|_| hwtransfer::db::DbError::NotFound)?;
            hwtransfer::db::applications::act(
                conn,
                &step(Actor::Enterprise, resubmitted),
                &a.id,
                None,
                &Act::Resubmit {
                    note: "已补充".into()
                },
            )?
            .map_err(|_| hwtransfer::db::DbError::NotFound)?;
            Ok(a.id)
        })
        .await
        .unwrap();
    let report = app
        .state
        .db
        .run(move |c| hwtransfer::jobs::sweep_once_with(c, close, later))
        .await
        .unwrap();
    assert!(report.applications.deemed_accepted.contains(&id), "{report:?}");
    let a = case(&app, &reg.cq, &id).await;
    assert_eq!(a["deemed_accepted"], true);
    assert_eq!(a["accepted_on"], "2025-03-20", "{a}");
    let review = a["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["kind"] == "source_review" || s["kind"] == "whitelist_decision")
        .unwrap()
        .clone();
    assert_eq!(review["started_on"], "2025-03-20");
    let (_, events, _) = app
        .get(&format!("/api/v1/transfer-applications/{id}/events"), Some(&reg.cq))
        .await;
    let deemed = events
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "deemed_accepted")
        .unwrap();
    assert_eq!(deemed["detail"]["accepted_on"], "2025-03-20");
}
both_backends!(
    correction_window_never_stops_and_deemed_acceptance_dates_from_resubmission,
    correction_window_never_stops_and_deemed_acceptance_dates_from_resubmission
);
