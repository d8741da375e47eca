//! The access matrix of DESIGN §3: every endpoint that reaches an object × every role that is not
//! entitled to it × another party's object.
//!
//! The world has two of each party (enterprises in Chongqing and Guizhou, operators in Sichuan and
//! Yunnan, four provinces' regulators, auditors of Chongqing, of Guizhou and nationwide, an admin)
//! and objects of party A: an open and an approved application, a material, a manifest, a
//! confirmed whitelist entry, webhook subscriptions, a user account. The tables below say, per
//! cell, what the caller must get: **hidden** 404, exactly the answer for a missing object and
//! nothing of the object in it (and its collections do not list it); **forbidden** 403 for an
//! action on an object it can see; **restricted** 403 for collections and creations of other
//! roles; **visible** 200 controls; and 401 without or with a forged token for every secured
//! operation of `openapi/openapi.json`. Every cell runs even after a failure; the failures are
//! listed together at the end, after checking that the stored state did not change.

use std::collections::{BTreeMap, BTreeSet};

use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};

use crate::both_backends;
use crate::fixtures::{Registry, approved_application, create_operator, filing, licence_body, manifest, uscc};
use crate::support::{Backend, TestApp, split};

/// An id no object has.
const MISSING: &str = "0190f0f0-0000-7000-8000-00000000dead";
const PDF: &[u8] = b"%PDF-1.7\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n";
const CSV: &str = "year,operator_id,source_province,scope,quota_kg\n";

// The operations, spelt as in openapi.json.
const APP: &str = "/api/v1/transfer-applications/{id}";
const APP_EVENTS: &str = "/api/v1/transfer-applications/{id}/events";
const APP_ATTACHMENTS: &str = "/api/v1/transfer-applications/{id}/attachments";
const APP_ATTACHMENT: &str = "/api/v1/transfer-applications/{id}/attachments/{attachment_id}";
const APP_ACCEPT: &str = "/api/v1/transfer-applications/{id}/accept";
const APP_CORRECTION: &str = "/api/v1/transfer-applications/{id}/request-correction";
const APP_RESUBMIT: &str = "/api/v1/transfer-applications/{id}/resubmit";
const APP_DECISIONS: &str = "/api/v1/transfer-applications/{id}/decisions";
const APP_WITHDRAW: &str = "/api/v1/transfer-applications/{id}/withdraw";
const APP_SUSPEND: &str = "/api/v1/transfer-applications/{id}/suspend-clock";
const APP_RESUME: &str = "/api/v1/transfer-applications/{id}/resume-clock";
const APP_REROUTE: &str = "/api/v1/transfer-applications/{id}/reroute";
const APP_REVOKE: &str = "/api/v1/transfer-applications/{id}/revoke";
const APP_REFUSE_ACCEPTANCE: &str = "/api/v1/transfer-applications/{id}/refuse-acceptance";
const MANIFEST: &str = "/api/v1/manifests/{id}";
const MANIFEST_DISPATCH: &str = "/api/v1/manifests/{id}/dispatch";
const MANIFEST_CANCEL: &str = "/api/v1/manifests/{id}/cancel";
const MANIFEST_RECEIPT: &str = "/api/v1/manifests/{id}/receipt";
const MANIFEST_ARRIVAL: &str = "/api/v1/manifests/{id}/arrival";
const ENTRY: &str = "/api/v1/whitelist-entries/{id}";
const ENTRY_VERSIONS: &str = "/api/v1/whitelist-entries/{id}/versions";
const ENTRY_USAGE: &str = "/api/v1/whitelist-entries/{id}/usage";
const ENTRY_CONFIRM: &str = "/api/v1/whitelist-entries/{id}/confirm";
const ENTRY_SUSPEND: &str = "/api/v1/whitelist-entries/{id}/suspend";
const ENTRY_REINSTATE: &str = "/api/v1/whitelist-entries/{id}/reinstate";
const ENTRY_AMEND: &str = "/api/v1/whitelist-entries/{id}/amend";
const SUB: &str = "/api/v1/webhook-subscriptions/{id}";
const SUB_ENABLE: &str = "/api/v1/webhook-subscriptions/{id}/enable";
const SUB_DELIVERIES: &str = "/api/v1/webhook-subscriptions/{id}/deliveries";
const SUB_REPLAY: &str = "/api/v1/webhook-subscriptions/{id}/replay";
const USER: &str = "/api/v1/users/{id}";
const USER_DISABLE: &str = "/api/v1/users/{id}/disable";
const USER_ENABLE: &str = "/api/v1/users/{id}/enable";
const USER_FACTOR_RESET: &str = "/api/v1/users/{id}/second-factor/reset";
const USER_PASSWORD: &str = "/api/v1/users/{id}/password";
const ENTERPRISE: &str = "/api/v1/enterprises/{id}";
const OPERATOR: &str = "/api/v1/operators/{id}";
const OPERATOR_LICENCES: &str = "/api/v1/operators/{id}/licences";
const OPERATOR_SUSPEND: &str = "/api/v1/operators/{id}/licence/suspend";
const OPERATOR_REINSTATE: &str = "/api/v1/operators/{id}/licence/reinstate";
const AGREEMENT_CONFIRM: &str = "/api/v1/agreements/{id}/confirm";
const AGREEMENT_TERMINATE: &str = "/api/v1/agreements/{id}/terminate";

#[derive(Debug, Clone)]
enum Body {
    Empty,
    Json(Value),
    Pdf,
    Csv,
}

/// One request: the operation (its openapi template) and the concrete path with the query.
#[derive(Debug, Clone)]
struct Call {
    method: Method,
    template: &'static str,
    path: String,
    body: Body,
    /// Send `If-Match` with this application's current ETag.
    if_match_app: Option<String>,
}

impl Call {
    fn new(method: Method, template: &'static str, params: &[&str], query: &str, body: Body) -> Call {
        let mut path = String::new();
        let mut rest = template;
        let mut values = params.iter();
        while let Some(start) = rest.find('{') {
            let end = start + rest[start..].find('}').unwrap();
            path.push_str(&rest[..start]);
            path.push_str(values.next().expect("a value for every path parameter"));
            rest = &rest[end + 1..];
        }
        path.push_str(rest);
        assert!(
            values.next().is_none(),
            "more values than path parameters in {template}"
        );
        if !query.is_empty() {
            path.push('?');
            path.push_str(query);
        }
        Call {
            method,
            template,
            path,
            body,
            if_match_app: None,
        }
    }

    fn get(template: &'static str, params: &[&str]) -> Call {
        Call::new(Method::GET, template, params, "", Body::Empty)
    }

    fn get_q(template: &'static str, params: &[&str], query: &str) -> Call {
        Call::new(Method::GET, template, params, query, Body::Empty)
    }

    fn post(template: &'static str, params: &[&str], body: Value) -> Call {
        Call::new(Method::POST, template, params, "", Body::Json(body))
    }

    fn post_empty(template: &'static str, params: &[&str]) -> Call {
        Call::new(Method::POST, template, params, "", Body::Empty)
    }

    /// The same request on objects that do not exist: every id of the world swapped for MISSING.
    fn on_missing(&self, ids: &[String]) -> Call {
        let swap = |s: &str| {
            ids.iter()
                .fold(s.to_string(), |acc, id| acc.replace(id.as_str(), MISSING))
        };
        Call {
            path: swap(&self.path),
            body: match &self.body {
                Body::Json(v) => Body::Json(serde_json::from_str(&swap(&v.to_string())).unwrap()),
                other => other.clone(),
            },
            if_match_app: self.if_match_app.as_deref().map(swap),
            ..self.clone()
        }
    }

    fn label(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

#[derive(Debug, Clone)]
struct Who {
    name: &'static str,
    token: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    /// 404, the same answer as for a missing object, nothing of the object in it.
    Hidden,
    /// 403: the caller sees the object but may not do this.
    Forbidden,
    /// 403: the collection or creation belongs to other roles.
    Restricted,
    /// 200: a control that the entitled parties do see the object.
    Visible,
}

impl Expect {
    fn heading(self) -> &'static str {
        match self {
            Expect::Hidden => "hidden (404)",
            Expect::Forbidden => "forbidden on a visible object (403)",
            Expect::Restricted => "role-restricted (403)",
            Expect::Visible => "visible to the entitled (200)",
        }
    }
}

struct Cell {
    who: Who,
    call: Call,
    expect: Expect,
}

fn cells(out: &mut Vec<Cell>, expect: Expect, whos: &[&Who], calls: &[Call]) {
    for call in calls {
        for who in whos {
            out.push(Cell {
                who: (*who).clone(),
                call: call.clone(),
                expect,
            });
        }
    }
}

/// Two of each party and party A's objects.
struct World {
    reg: Registry,
    admin: Who,
    reg_cq: Who,
    reg_sc: Who,
    reg_gz: Who,
    reg_yn: Who,
    /// Enterprise A (Chongqing), which filed everything.
    ent_a: Who,
    /// A second user of enterprise A, whose account is the user object.
    clerk: Who,
    /// Enterprise B (Guizhou).
    ent_b: Who,
    /// Operator A (Sichuan), named by A's applications.
    op_a: Who,
    /// Operator B (Yunnan).
    op_b: Who,
    aud_cq: Who,
    aud_gz: Who,
    aud_all: Who,
    /// Submitted, not yet accepted, its acceptance clock suspended by Chongqing; with a material.
    app_open: String,
    attachment: String,
    /// Approved by both provinces; the manifest draws on it.
    app_approved: String,
    manifest: String,
    entry: String,
    /// Webhook subscriptions of enterprise A and of the province of Chongqing.
    sub_ent: String,
    sub_cq: String,
    clerk_id: String,
    /// Enterprise B's own application.
    ent_b_app: String,
    /// Webhook subscriptions of enterprise B, operator B and Guizhou, with their owners.
    b_subscriptions: Vec<(Who, String)>,
    /// What no answer to a stranger may contain.
    secrets: Vec<String>,
}

impl World {
    async fn build(app: &TestApp) -> World {
        let reg = Registry::setup(app).await;
        let who = |name: &'static str, token: &str| Who {
            name,
            token: token.to_string(),
        };

        // Party B: an enterprise in Guizhou, an operator in Yunnan.
        let (s, b, _) = app
            .post_json(
                "/api/v1/enterprises",
                Some(&reg.gz),
                &json!({
                    "name": "贵州测试化工有限公司",
                    "uscc": uscc("520102", 3),
                    "province": "520000",
                    "division_code": "520102",
                    "address": "贵阳市测试路3号",
                    "contact_name": "王五",
                    "contact_phone": "0851-00000000"
                }),
            )
            .await;
        assert_eq!(s, 201, "{b}");
        let ent_b_id = b["id"].as_str().unwrap().to_string();
        let op_b_id = create_operator(
            app,
            &reg.yn,
            "云南测试环保处置有限公司",
            "530000",
            "530100",
            4,
            licence_body(&["HW08"], "500"),
        )
        .await;
        app.add_user("ent-b", "enterprise", Some(&ent_b_id)).await;
        app.add_user("op-b", "operator", Some(&op_b_id)).await;
        app.add_user("aud-cq", "auditor", Some("500000")).await;
        app.add_user("aud-gz", "auditor", Some("520000")).await;
        app.add_user("aud-all", "auditor", None).await;
        let clerk_id = app
            .add_user("ent-a-clerk", "enterprise", Some(&reg.enterprise_id))
            .await;

        let ent_b = who("enterprise B (Guizhou)", &app.login("ent-b").await);
        let op_b = who("operator B (Yunnan)", &app.login("op-b").await);
        let reg_gz = who("regulator 520000 (uninvolved)", &reg.gz);

        // Subscriptions to every event type before anything happens: party A's, so that its
        // events have deliveries, and party B's, which must hear none of A's events.
        let (_, types, _) = app.get("/api/v1/webhook-event-types", Some(&reg.admin)).await;
        let types: Vec<Value> = types.as_array().unwrap().iter().map(|t| t["type"].clone()).collect();
        let subscribe = |token: String, url: &'static str| {
            let types = types.clone();
            async move {
                let (s, b, _) = app
                    .post_json(
                        "/api/v1/webhook-subscriptions",
                        Some(&token),
                        &json!({"url": url, "event_types": types}),
                    )
                    .await;
                assert_eq!(s, 201, "{b}");
                b["id"].as_str().unwrap().to_string()
            }
        };
        let sub_ent = subscribe(reg.enterprise_token.clone(), "https://erp.cq-producer.example/hooks").await;
        let sub_cq = subscribe(reg.cq.clone(), "https://sthjj.cq.example/hooks").await;
        let mut b_subscriptions = Vec::new();
        for (owner, url) in [
            (&ent_b, "https://erp.gz-producer.example/hooks"),
            (&op_b, "https://erp.yn-operator.example/hooks"),
            (&reg_gz, "https://sthjt.gz.example/hooks"),
        ] {
            b_subscriptions.push((owner.clone(), subscribe(owner.token.clone(), url).await));
        }

        // Party A's cases: one approved with a manifest, one open with a material and a
        // suspended clock.
        let entry = reg.confirmed_entry(app, "HW08", "100").await;
        let app_approved = approved_application(app, &reg, "40").await;
        let (s, m, _) = app
            .post_json(
                "/api/v1/manifests",
                Some(&reg.enterprise_token),
                &manifest(&app_approved, &[(0, "5")]),
            )
            .await;
        assert_eq!(s, 201, "{m}");
        let manifest_id = m["id"].as_str().unwrap().to_string();
        let (s, a, _) = app
            .post_json(
                "/api/v1/transfer-applications",
                Some(&reg.enterprise_token),
                &filing(&reg.operator_id, "900-249-08", "10"),
            )
            .await;
        assert_eq!(s, 201, "{a}");
        assert_eq!(a["status"], "submitted", "{a}");
        let app_open = a["id"].as_str().unwrap().to_string();
        let res = app
            .client
            .post(app.url(&format!(
                "/api/v1/transfer-applications/{app_open}/attachments?kind=contract&filename=contract.pdf"
            )))
            .bearer_auth(&reg.enterprise_token)
            .header("content-type", "application/pdf")
            .body(PDF)
            .send()
            .await
            .unwrap();
        let (s, att, _) = split(res).await;
        assert_eq!(s, 201, "{att}");
        let attachment = att["id"].as_str().unwrap().to_string();
        // Enterprise B's own case (Guizhou to operator A, off the whitelist: confirmed).
        let (s, b_app, _) = app
            .file_confirmed(&ent_b.token, &filing(&reg.operator_id, "900-249-08", "1"))
            .await;
        assert_eq!(s, 201, "{b_app}");
        let ent_b_app = b_app["id"].as_str().unwrap().to_string();

        let (_, approved, _) = app
            .get(&format!("/api/v1/transfer-applications/{app_approved}"), Some(&reg.cq))
            .await;
        let approval_number = approved["approval"]["number"].as_str().unwrap().to_string();
        let secrets = vec![
            app_open.clone(),
            app_approved.clone(),
            attachment.clone(),
            manifest_id.clone(),
            entry.clone(),
            sub_ent.clone(),
            sub_cq.clone(),
            clerk_id.clone(),
            reg.enterprise_id.clone(),
            approval_number,
            m["number"].as_str().unwrap().to_string(),
            "重庆测试化工有限公司".to_string(),
            "ent-a-clerk".to_string(),
            "cq-producer.example".to_string(),
        ];

        World {
            admin: who("admin", &reg.admin),
            reg_cq: who("regulator 500000 (source)", &reg.cq),
            reg_sc: who("regulator 510000 (receiving)", &reg.sc),
            reg_gz,
            reg_yn: who("regulator 530000 (uninvolved)", &reg.yn),
            ent_a: who("enterprise A", &reg.enterprise_token),
            clerk: who("enterprise A's clerk", &app.login("ent-a-clerk").await),
            ent_b,
            op_a: who("operator A (Sichuan)", &reg.operator_token),
            op_b,
            aud_cq: who("auditor 500000", &app.login("aud-cq").await),
            aud_gz: who("auditor 520000", &app.login("aud-gz").await),
            aud_all: who("nationwide auditor", &app.login("aud-all").await),
            reg,
            app_open,
            attachment,
            app_approved,
            manifest: manifest_id,
            entry,
            sub_ent,
            sub_cq,
            clerk_id,
            ent_b_app,
            b_subscriptions,
            secrets,
        }
    }

    /// The ids of party A's objects (swapped for MISSING in the comparison requests).
    fn ids(&self) -> Vec<String> {
        vec![
            self.app_open.clone(),
            self.app_approved.clone(),
            self.attachment.clone(),
            self.manifest.clone(),
            self.entry.clone(),
            self.sub_ent.clone(),
            self.sub_cq.clone(),
            self.clerk_id.clone(),
            self.reg.enterprise_id.clone(),
        ]
    }

    /// Parties that may not know of A's cases, manifests and entries.
    fn strangers(&self) -> [&Who; 5] {
        [&self.ent_b, &self.op_b, &self.reg_gz, &self.reg_yn, &self.aud_gz]
    }
}

// ---------------------------------------------------------------------------------------------
// The operations on each object

fn decision(id: &str, side: &str) -> Call {
    let mut call = Call::post(
        APP_DECISIONS,
        &[id],
        json!({"side": side, "outcome": "approve", "reasons": []}),
    );
    call.if_match_app = Some(id.to_string());
    call
}

fn reroute(id: &str) -> Call {
    let mut call = Call::post(APP_REROUTE, &[id], json!({"reason": "白名单条目已暂停"}));
    call.if_match_app = Some(id.to_string());
    call
}

fn revoke(id: &str) -> Call {
    let mut call = Call::post(APP_REVOKE, &[id], json!({"reasons": ["申报材料不实"]}));
    call.if_match_app = Some(id.to_string());
    call
}

fn refuse_acceptance(id: &str) -> Call {
    let mut call = Call::post(
        APP_REFUSE_ACCEPTANCE,
        &[id],
        json!({"reasons": ["不属于本机关职权范围"]}),
    );
    call.if_match_app = Some(id.to_string());
    call
}

fn add_attachment(id: &str) -> Call {
    Call::new(
        Method::POST,
        APP_ATTACHMENTS,
        &[id],
        "kind=contract&filename=contract.pdf",
        Body::Pdf,
    )
}

fn application_reads(id: &str, attachment: Option<&str>) -> Vec<Call> {
    let mut calls = vec![
        Call::get(APP, &[id]),
        Call::get(APP_EVENTS, &[id]),
        Call::get(APP_ATTACHMENTS, &[id]),
    ];
    if let Some(a) = attachment {
        calls.push(Call::get(APP_ATTACHMENT, &[id, a]));
    }
    calls
}

fn application_actions(id: &str) -> Vec<Call> {
    vec![
        Call::post_empty(APP_ACCEPT, &[id]),
        Call::post(APP_CORRECTION, &[id], json!({"problems": ["缺少转移合同"]})),
        Call::post(APP_RESUBMIT, &[id], json!({"note": "已补正"})),
        decision(id, "source"),
        Call::post(APP_WITHDRAW, &[id], json!({"reason": "不再转移"})),
        Call::post(APP_SUSPEND, &[id], json!({"reason": "专家评审"})),
        Call::post_empty(APP_RESUME, &[id]),
        reroute(id),
        revoke(id),
        refuse_acceptance(id),
        add_attachment(id),
    ]
}

fn manifest_reads(id: &str) -> Vec<Call> {
    vec![Call::get(MANIFEST, &[id])]
}

fn manifest_actions(id: &str) -> Vec<Call> {
    vec![
        Call::post_empty(MANIFEST_DISPATCH, &[id]),
        Call::post(MANIFEST_ARRIVAL, &[id], json!({})),
        Call::post(MANIFEST_CANCEL, &[id], json!({"reason": "车辆故障"})),
        Call::post(
            MANIFEST_RECEIPT,
            &[id],
            json!({"outcome": "received", "items": [{"line": 0, "accepted_kg": "5"}]}),
        ),
    ]
}

fn entry_reads(id: &str) -> Vec<Call> {
    // An hour ahead, so the version in force is the current one however fast the world was built.
    let later = (chrono::Utc::now() + chrono::Duration::hours(1)).format("%Y-%m-%dT%H:%M:%SZ");
    vec![
        Call::get(ENTRY, &[id]),
        Call::get_q(ENTRY, &[id], &format!("as_of={later}")),
        Call::get(ENTRY_VERSIONS, &[id]),
        Call::get(ENTRY_USAGE, &[id]),
    ]
}

fn entry_actions(id: &str) -> Vec<Call> {
    vec![
        Call::post_empty(ENTRY_CONFIRM, &[id]),
        Call::post(ENTRY_SUSPEND, &[id], json!({"reason": "违规转移"})),
        Call::post(ENTRY_REINSTATE, &[id], json!({"reason": "整改完成"})),
        Call::post(
            ENTRY_AMEND,
            &[id],
            json!({"quota_kg": "900", "letter_number": "测试函〔2026〕1号", "reason": "调整"}),
        ),
    ]
}

fn subscription_calls(id: &str) -> Vec<Call> {
    vec![
        Call::get(SUB, &[id]),
        Call::new(Method::DELETE, SUB, &[id], "", Body::Empty),
        Call::post_empty(SUB_ENABLE, &[id]),
        Call::get(SUB_DELIVERIES, &[id]),
        Call::post(SUB_REPLAY, &[id], json!({"after_seq": 0})),
    ]
}

fn user_calls(id: &str) -> Vec<Call> {
    vec![
        Call::get(USER, &[id]),
        Call::post_empty(USER_DISABLE, &[id]),
        Call::post_empty(USER_ENABLE, &[id]),
        Call::post_empty(USER_FACTOR_RESET, &[id]),
        Call::post(USER_PASSWORD, &[id], json!({"password": "Access-matrix-Pw-1"})),
    ]
}

fn operator_writes(id: &str) -> Vec<Call> {
    vec![
        Call::post(OPERATOR_LICENCES, &[id], licence_body(&["HW08"], "1")),
        Call::post(OPERATOR_SUSPEND, &[id], json!({"reason": "超范围经营"})),
        Call::post_empty(OPERATOR_REINSTATE, &[id]),
    ]
}

fn audit_of(id: &str) -> Call {
    Call::get_q("/api/v1/audit/events", &[], &format!("object={id}"))
}

fn concat(lists: Vec<Vec<Call>>) -> Vec<Call> {
    lists.into_iter().flatten().collect()
}

// ---------------------------------------------------------------------------------------------
// The tables

/// Controls: the entitled parties see party A's objects (run first).
fn visible_cells(w: &World) -> Vec<Cell> {
    let mut out = Vec::new();
    let (open, approved, m, e) = (&w.app_open, &w.app_approved, &w.manifest, &w.entry);
    let case = concat(vec![
        application_reads(open, Some(&w.attachment)),
        application_reads(approved, None),
        manifest_reads(m),
    ]);
    cells(
        &mut out,
        Expect::Visible,
        &[&w.ent_a, &w.op_a, &w.reg_cq, &w.reg_sc, &w.aud_cq, &w.aud_all, &w.admin],
        &case,
    );
    cells(
        &mut out,
        Expect::Visible,
        &[&w.ent_a, &w.op_a, &w.reg_cq, &w.reg_sc, &w.aud_cq, &w.aud_all, &w.admin],
        &entry_reads(e),
    );
    cells(
        &mut out,
        Expect::Visible,
        &[&w.aud_cq, &w.aud_all, &w.admin],
        &[audit_of(open), audit_of(approved), audit_of(m)],
    );
    cells(
        &mut out,
        Expect::Visible,
        &[&w.ent_a, &w.clerk, &w.admin],
        &[Call::get(SUB, &[&w.sub_ent]), Call::get(SUB_DELIVERIES, &[&w.sub_ent])],
    );
    cells(
        &mut out,
        Expect::Visible,
        &[&w.reg_cq, &w.admin],
        &[Call::get(SUB, &[&w.sub_cq])],
    );
    cells(
        &mut out,
        Expect::Visible,
        &[&w.clerk, &w.admin],
        &[Call::get(USER, &[&w.clerk_id])],
    );
    cells(
        &mut out,
        Expect::Visible,
        &[&w.ent_a, &w.reg_cq, &w.aud_cq, &w.admin],
        &[Call::get(ENTERPRISE, &[&w.reg.enterprise_id])],
    );
    // Operators are public to every caller.
    cells(
        &mut out,
        Expect::Visible,
        &[&w.ent_b, &w.op_b, &w.aud_gz],
        &[
            Call::get(OPERATOR, &[&w.reg.operator_id]),
            Call::get(OPERATOR_LICENCES, &[&w.reg.operator_id]),
        ],
    );
    out
}

/// Another party's object: 404 to everyone who may not know of it.
fn hidden_cells(w: &World) -> Vec<Cell> {
    let mut out = Vec::new();
    let strangers = w.strangers();
    let (open, approved, m, e) = (&w.app_open, &w.app_approved, &w.manifest, &w.entry);
    let objects = concat(vec![
        application_reads(open, Some(&w.attachment)),
        application_actions(open),
        application_reads(approved, None),
        application_actions(approved),
        manifest_reads(m),
        manifest_actions(m),
        entry_reads(e),
        entry_actions(e),
    ]);
    cells(&mut out, Expect::Hidden, &strangers, &objects);
    // A manifest under another enterprise's approval.
    cells(
        &mut out,
        Expect::Hidden,
        &[&w.ent_b],
        &[Call::post("/api/v1/manifests", &[], manifest(approved, &[(0, "1")]))],
    );
    // Another enterprise's material through one's own case.
    cells(
        &mut out,
        Expect::Hidden,
        &[&w.ent_b],
        &[Call::get(APP_ATTACHMENT, &[&w.ent_b_app, &w.attachment])],
    );
    // The audit trail of an object outside the auditor's province.
    cells(
        &mut out,
        Expect::Hidden,
        &[&w.aud_gz],
        &[audit_of(open), audit_of(approved), audit_of(m)],
    );
    // Webhook subscriptions belong to their owner alone.
    let mut not_owner_ent: Vec<&Who> = strangers.to_vec();
    not_owner_ent.extend([&w.op_a, &w.reg_cq, &w.reg_sc]);
    cells(
        &mut out,
        Expect::Hidden,
        &not_owner_ent,
        &subscription_calls(&w.sub_ent),
    );
    let mut not_owner_cq: Vec<&Who> = strangers.to_vec();
    not_owner_cq.extend([&w.ent_a, &w.op_a, &w.reg_sc]);
    cells(&mut out, Expect::Hidden, &not_owner_cq, &subscription_calls(&w.sub_cq));
    // A user account: its owner and the admins only (even another user of the same enterprise).
    let mut not_self: Vec<&Who> = strangers.to_vec();
    not_self.extend([&w.ent_a, &w.op_a, &w.reg_cq, &w.reg_sc]);
    cells(&mut out, Expect::Hidden, &not_self, &user_calls(&w.clerk_id));
    // An enterprise: itself, regulators, auditors of its province, admins.
    cells(
        &mut out,
        Expect::Hidden,
        &[&w.ent_b, &w.op_a, &w.op_b, &w.aud_gz],
        &[Call::get(ENTERPRISE, &[&w.reg.enterprise_id])],
    );
    out
}

/// Visible objects, actions that are not the caller's: 403. The receiving province resuming the
/// source province's clock comes last, as it would move the case if it were let through.
fn forbidden_cells(w: &World) -> Vec<Cell> {
    let mut out = Vec::new();
    let (open, approved, m, e) = (&w.app_open, &w.app_approved, &w.manifest, &w.entry);
    // Parties that take no step in a case: the operator, auditors, admins.
    cells(
        &mut out,
        Expect::Forbidden,
        &[&w.op_a, &w.aud_cq, &w.aud_all, &w.admin],
        &concat(vec![application_actions(open), application_actions(approved)]),
    );
    // The enterprise does not take the regulators' steps.
    cells(
        &mut out,
        Expect::Forbidden,
        &[&w.ent_a],
        &[
            Call::post_empty(APP_ACCEPT, &[open]),
            Call::post(APP_CORRECTION, &[open], json!({"problems": ["缺少转移合同"]})),
            decision(open, "source"),
            decision(approved, "source"),
            Call::post(APP_SUSPEND, &[open], json!({"reason": "专家评审"})),
            Call::post(APP_SUSPEND, &[approved], json!({"reason": "专家评审"})),
            Call::post_empty(APP_RESUME, &[open]),
            Call::post_empty(APP_RESUME, &[approved]),
            reroute(open),
            revoke(approved),
            refuse_acceptance(open),
        ],
    );
    // The source province does not take the enterprise's or the receiving province's steps.
    cells(
        &mut out,
        Expect::Forbidden,
        &[&w.reg_cq],
        &[
            Call::post(APP_WITHDRAW, &[open], json!({"reason": "不再转移"})),
            decision(open, "receiving"),
            add_attachment(open),
        ],
    );
    // The receiving province does not take the source province's steps (acceptance is Chongqing's).
    cells(
        &mut out,
        Expect::Forbidden,
        &[&w.reg_sc],
        &[
            Call::post_empty(APP_ACCEPT, &[open]),
            Call::post(APP_CORRECTION, &[open], json!({"problems": ["缺少转移合同"]})),
            decision(open, "source"),
            decision(approved, "source"),
            Call::post(APP_WITHDRAW, &[open], json!({"reason": "不再转移"})),
            Call::post(APP_SUSPEND, &[open], json!({"reason": "专家评审"})),
            add_attachment(open),
            reroute(open),
            revoke(approved),
            refuse_acceptance(open),
        ],
    );
    // Manifests: the producer dispatches and cancels, the operator receives.
    cells(
        &mut out,
        Expect::Forbidden,
        &[&w.op_a],
        &[
            Call::post_empty(MANIFEST_DISPATCH, &[m]),
            Call::post(MANIFEST_CANCEL, &[m], json!({"reason": "车辆故障"})),
        ],
    );
    cells(
        &mut out,
        Expect::Forbidden,
        &[&w.ent_a],
        &[Call::post(
            MANIFEST_RECEIPT,
            &[m],
            json!({"outcome": "received", "items": [{"line": 0, "accepted_kg": "5"}]}),
        )],
    );
    cells(
        &mut out,
        Expect::Forbidden,
        &[&w.reg_cq, &w.reg_sc, &w.aud_cq, &w.aud_all, &w.admin],
        &manifest_actions(m),
    );
    // Whitelist entries change only by the provinces' regulators; the proposer does not confirm.
    cells(
        &mut out,
        Expect::Forbidden,
        &[&w.ent_a, &w.op_a, &w.aud_cq, &w.aud_all, &w.admin],
        &entry_actions(e),
    );
    cells(
        &mut out,
        Expect::Forbidden,
        &[&w.reg_cq],
        &[Call::post_empty(ENTRY_CONFIRM, &[e])],
    );
    // One's own account is readable, not manageable.
    cells(
        &mut out,
        Expect::Forbidden,
        &[&w.clerk],
        &[
            Call::post_empty(USER_DISABLE, &[&w.clerk_id]),
            Call::post_empty(USER_ENABLE, &[&w.clerk_id]),
            Call::post_empty(USER_FACTOR_RESET, &[&w.clerk_id]),
            Call::post(USER_PASSWORD, &[&w.clerk_id], json!({"password": "Access-matrix-Pw-1"})),
        ],
    );
    // The (public) agreement is confirmed by the other province only.
    cells(
        &mut out,
        Expect::Forbidden,
        &[&w.reg_cq, &w.reg_gz, &w.reg_yn, &w.ent_a, &w.op_a, &w.aud_cq, &w.admin],
        &[Call::post_empty(AGREEMENT_CONFIRM, &[&w.reg.agreement_id])],
    );
    // It is terminated by the regulators of its two provinces only.
    cells(
        &mut out,
        Expect::Forbidden,
        &[&w.reg_gz, &w.reg_yn, &w.ent_a, &w.op_a, &w.aud_cq, &w.admin],
        &[Call::post(
            AGREEMENT_TERMINATE,
            &[&w.reg.agreement_id],
            json!({"terminated_on": "2099-01-01", "reason": "协商终止"}),
        )],
    );
    // The (public) operator's licence is changed by its province's regulators and admins only.
    cells(
        &mut out,
        Expect::Forbidden,
        &[
            &w.reg_cq, &w.reg_gz, &w.reg_yn, &w.ent_a, &w.op_a, &w.op_b, &w.aud_cq, &w.aud_all,
        ],
        &operator_writes(&w.reg.operator_id),
    );
    // Last: Sichuan resuming a clock on Chongqing's running acceptance step.
    cells(
        &mut out,
        Expect::Forbidden,
        &[&w.reg_sc],
        &[Call::post_empty(APP_RESUME, &[open])],
    );
    out
}

/// Collections and creations of other roles: 403.
fn restricted_cells(w: &World) -> Vec<Cell> {
    let mut out = Vec::new();
    let year = w.reg.year;
    let op = w.reg.operator_id.as_str();
    let entry_body =
        json!({"year": year, "operator_id": op, "source_province": "500000", "scope": "HW49", "quota_kg": "1"});
    let enterprise_body = |serial: u32| {
        json!({
            "name": "越权登记企业",
            "uscc": uscc("500112", serial),
            "province": "500000",
            "division_code": "500112",
            "address": "重庆市渝北区测试路9号",
            "contact_name": "赵六",
            "contact_phone": "023-11111111"
        })
    };
    let operator_body = json!({
        "name": "越权登记处置公司",
        "uscc": uscc("510100", 8),
        "province": "510000",
        "division_code": "510100",
        "address": "成都市测试路8号",
        "licence": licence_body(&["HW08"], "1")
    });
    let agreement_body = json!({
        "provinces": ["500000", "520000"],
        "valid_from": format!("{year}-01-01"),
        "valid_until": format!("{year}-12-31"),
        "receiving_consent": "consent"
    });
    let user_body = json!({"username": "intruder", "password": "a-long-password-123", "role": "admin"});
    let sub_body = json!({"url": "https://audit.example/hooks", "event_types": ["application.filed"]});
    let r = Expect::Restricted;
    // Only admins and regulators have a second factor to enrol.
    cells(
        &mut out,
        r,
        &[&w.ent_a, &w.op_a, &w.aud_cq, &w.aud_all],
        &[
            Call::post("/api/v1/auth/second-factor", &[], json!({})),
            Call::post("/api/v1/auth/second-factor/confirm", &[], json!({"code": "123456"})),
        ],
    );
    cells(
        &mut out,
        r,
        &[&w.op_a, &w.reg_cq, &w.aud_cq, &w.admin],
        &[Call::post(
            "/api/v1/transfer-applications",
            &[],
            filing(op, "900-249-08", "1"),
        )],
    );
    cells(
        &mut out,
        r,
        &[&w.op_a, &w.reg_cq, &w.aud_all],
        &[Call::post(
            "/api/v1/transfer-applications/check",
            &[],
            filing(op, "900-249-08", "1"),
        )],
    );
    cells(
        &mut out,
        r,
        &[&w.op_a, &w.reg_cq, &w.aud_cq, &w.admin],
        &[
            Call::post("/api/v1/manifests", &[], manifest(&w.app_approved, &[(0, "1")])),
            Call::post(
                "/api/v1/manifests/batch",
                &[],
                json!({"manifests": [manifest(&w.app_approved, &[(0, "1")])]}),
            ),
        ],
    );
    cells(
        &mut out,
        r,
        &[&w.ent_a, &w.op_a, &w.aud_cq, &w.admin],
        &[
            Call::post("/api/v1/whitelist-entries", &[], entry_body),
            Call::new(Method::POST, "/api/v1/whitelist-entries/import", &[], "", Body::Csv),
            Call::post("/api/v1/agreements", &[], agreement_body),
        ],
    );
    cells(
        &mut out,
        r,
        &[&w.op_a],
        &[Call::get_q(
            "/api/v1/whitelist-entries/eligible-operators",
            &[],
            "code=900-249-08",
        )],
    );
    cells(
        &mut out,
        r,
        &[&w.ent_a, &w.op_a, &w.aud_cq],
        &[
            Call::post("/api/v1/enterprises", &[], enterprise_body(5)),
            Call::post("/api/v1/operators", &[], operator_body.clone()),
        ],
    );
    // A regulator registers parties of its own province only.
    cells(
        &mut out,
        r,
        &[&w.reg_gz],
        &[Call::post("/api/v1/enterprises", &[], enterprise_body(6))],
    );
    cells(
        &mut out,
        r,
        &[&w.reg_cq],
        &[Call::post("/api/v1/operators", &[], operator_body)],
    );
    cells(
        &mut out,
        r,
        &[&w.op_a, &w.op_b],
        &[Call::get("/api/v1/enterprises", &[])],
    );
    cells(
        &mut out,
        r,
        &[&w.reg_cq, &w.ent_a, &w.op_a, &w.aud_all],
        &[
            Call::new(
                Method::PUT,
                "/api/v1/calendar/{year}",
                &[&year.to_string()],
                "",
                Body::Json(json!({"source": "伪造的通知", "days": []})),
            ),
            Call::get("/api/v1/users", &[]),
            Call::post("/api/v1/users", &[], user_body),
            // Only an admin loads a catalogue edition (a valid one: the refusal is the role's).
            Call::post("/api/v1/catalogue/editions", &[], crate::fixtures::test_edition_body()),
        ],
    );
    cells(
        &mut out,
        r,
        &[&w.ent_a, &w.op_a, &w.reg_cq],
        &[
            Call::get("/api/v1/audit/events", &[]),
            audit_of(&w.app_approved),
            Call::get("/api/v1/audit/verify", &[]),
        ],
    );
    // A province's auditor reads one object's trail, not the whole chain.
    cells(
        &mut out,
        r,
        &[&w.aud_cq],
        &[
            Call::get("/api/v1/audit/events", &[]),
            Call::get("/api/v1/audit/verify", &[]),
        ],
    );
    cells(
        &mut out,
        r,
        &[&w.ent_a, &w.op_a],
        &[Call::get_q("/api/v1/reports/annual", &[], &format!("year={year}"))],
    );
    cells(
        &mut out,
        r,
        &[&w.aud_cq, &w.aud_all],
        &[
            Call::get("/api/v1/webhook-subscriptions", &[]),
            Call::post("/api/v1/webhook-subscriptions", &[], sub_body),
        ],
    );
    out
}

/// Collections in a stranger's scope: 200, and none of party A's objects in them.
fn scoped_lists(w: &World) -> Vec<(Who, Call)> {
    let mut out = Vec::new();
    let year = w.reg.year;
    let lists = [
        Call::get("/api/v1/transfer-applications", &[]),
        Call::get("/api/v1/manifests", &[]),
        Call::get("/api/v1/whitelist-entries", &[]),
        Call::get("/api/v1/transfers", &[]),
        // The changes feed: a stranger hears none of A's events, from the start.
        Call::get_q("/api/v1/changes", &[], "limit=200"),
    ];
    for call in &lists {
        for who in w.strangers() {
            out.push((who.clone(), call.clone()));
        }
    }
    for call in [
        Call::get_q(
            "/api/v1/transfer-applications",
            &[],
            &format!("operator={}", w.reg.operator_id),
        ),
        Call::get_q("/api/v1/manifests", &[], &format!("application_id={}", w.app_approved)),
        Call::get_q("/api/v1/transfers", &[], &format!("producer={}", w.reg.enterprise_id)),
        Call::get_q("/api/v1/whitelist-entries/eligible-operators", &[], "code=900-249-08"),
        Call::get("/api/v1/enterprises", &[]),
        Call::get("/api/v1/webhook-subscriptions", &[]),
    ] {
        out.push((w.ent_b.clone(), call));
    }
    for who in [&w.op_b, &w.reg_gz, &w.op_a] {
        out.push((who.clone(), Call::get("/api/v1/webhook-subscriptions", &[])));
    }
    for who in [&w.reg_gz, &w.reg_yn, &w.aud_gz] {
        out.push((
            who.clone(),
            Call::get_q("/api/v1/reports/annual", &[], &format!("year={year}")),
        ));
    }
    out.push((w.aud_gz.clone(), Call::get("/api/v1/enterprises", &[])));
    // Party B's webhooks hear none of party A's events (also after a replay from the start).
    for (owner, sub) in &w.b_subscriptions {
        out.push((owner.clone(), Call::get(SUB_DELIVERIES, &[sub])));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Running the tables

#[derive(Default)]
struct Report {
    failures: Vec<String>,
    counts: BTreeMap<&'static str, usize>,
}

impl Report {
    fn count(&mut self, what: &'static str) {
        *self.counts.entry(what).or_default() += 1;
    }

    fn fail(&mut self, what: String) {
        self.failures.push(what);
    }
}

async fn send(app: &TestApp, w: &World, call: &Call, token: Option<&str>) -> (u16, Value, HeaderMap) {
    let mut req = app.client.request(call.method.clone(), app.url(&call.path));
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(id) = &call.if_match_app {
        let (s, a, _) = app
            .get(&format!("/api/v1/transfer-applications/{id}"), Some(&w.admin.token))
            .await;
        let version = if s == 200 { a["version"].as_i64().unwrap() } else { 1 };
        req = req.header("if-match", format!("\"{version}\""));
    }
    req = match &call.body {
        Body::Empty => req,
        Body::Json(v) => req.json(v),
        Body::Pdf => req.header("content-type", "application/pdf").body(PDF),
        Body::Csv => req.header("content-type", "text/csv; charset=utf-8").body(CSV),
    };
    split(req.send().await.expect("send")).await
}

/// What is wrong with a problem answer, if anything (the checks of `assert_problem`).
fn problem_error(status: u16, body: &Value, headers: &HeaderMap, expected: u16) -> Option<String> {
    if status != expected {
        return Some(format!("answered {status}, expected {expected}: {body}"));
    }
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok());
    if content_type != Some("application/problem+json") {
        return Some(format!("content type {content_type:?}, not application/problem+json"));
    }
    if body["status"] != expected {
        return Some(format!("problem status {}, expected {expected}", body["status"]));
    }
    let rid = body["request_id"].as_str().unwrap_or_default();
    if rid.is_empty() || headers.get("x-request-id").and_then(|v| v.to_str().ok()) != Some(rid) {
        return Some(format!("request id missing or not the X-Request-Id header: {body}"));
    }
    if !body["type"].as_str().is_some_and(|t| t.starts_with("/problems/")) {
        return Some(format!("problem type {}", body["type"]));
    }
    None
}

fn leaks<'a>(body: &Value, secrets: &'a [String]) -> Vec<&'a str> {
    let text = body.to_string();
    secrets
        .iter()
        .filter(|s| text.contains(s.as_str()))
        .map(String::as_str)
        .collect()
}

async fn run_cell(app: &TestApp, w: &World, cell: &Cell, report: &mut Report) {
    report.count(cell.expect.heading());
    let at = format!("{} as {}", cell.call.label(), cell.who.name);
    let (status, body, headers) = send(app, w, &cell.call, Some(&cell.who.token)).await;
    match cell.expect {
        Expect::Visible => {
            if status != 200 {
                report.fail(format!("{at}: answered {status}, expected 200: {body}"));
            }
        }
        Expect::Forbidden | Expect::Restricted => {
            if let Some(e) = problem_error(status, &body, &headers, 403) {
                report.fail(format!("{at}: {e}"));
            }
        }
        Expect::Hidden => {
            if let Some(e) = problem_error(status, &body, &headers, 404) {
                report.fail(format!("{at}: {e}"));
                return;
            }
            let leaked = leaks(&body, &w.secrets);
            if !leaked.is_empty() {
                report.fail(format!("{at}: the 404 names {leaked:?}: {body}"));
            }
            let missing = cell.call.on_missing(&w.ids());
            let (m_status, m_body, _) = send(app, w, &missing, Some(&cell.who.token)).await;
            let same = m_status == status
                && ["type", "title", "detail", "errors"]
                    .iter()
                    .all(|k| m_body[k] == body[k]);
            if !same {
                report.fail(format!(
                    "{at}: differs from the answer for a missing object ({m_status} {m_body}): {body}"
                ));
            }
        }
    }
}

async fn run_list(app: &TestApp, w: &World, who: &Who, call: &Call, report: &mut Report) {
    report.count("scoped collections without A's objects (200)");
    let at = format!("{} as {}", call.label(), who.name);
    let (status, body, _) = send(app, w, call, Some(&who.token)).await;
    let mut secrets = w.secrets.clone();
    if call.template == "/api/v1/reports/annual" {
        // No line of an entry outside the caller's province.
        secrets.push(w.reg.operator_id.clone());
    }
    if status != 200 {
        report.fail(format!("{at}: answered {status}, expected 200: {body}"));
    } else {
        let leaked = leaks(&body, &secrets);
        if !leaked.is_empty() {
            report.fail(format!("{at}: lists {leaked:?} of another party: {body}"));
        }
    }
}

/// Every secured operation of the OpenAPI document, without a token and with a forged one: 401.
async fn unauthenticated(app: &TestApp, w: &World, calls: &[Call], report: &mut Report) {
    let spec = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json")).unwrap();
    let spec: Value = serde_json::from_str(&spec).unwrap();
    let mut secured = BTreeSet::new();
    for (path, operations) in spec["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            let has_security = operation
                .get("security")
                .and_then(Value::as_array)
                .is_some_and(|s| !s.is_empty());
            if has_security {
                secured.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    let covered: BTreeSet<(String, String)> = calls
        .iter()
        .map(|c| (c.method.to_string(), c.template.to_string()))
        .collect();
    for (method, path) in secured.difference(&covered) {
        report.fail(format!(
            "{method} {path}: secured in openapi.json but missing from the access matrix"
        ));
    }
    let mut seen = BTreeSet::new();
    for call in calls {
        if !seen.insert((call.method.to_string(), call.path.clone())) {
            continue;
        }
        for (token, how) in [(None, "without a token"), (Some("not-a-token"), "with a forged token")] {
            report.count("unauthenticated (401)");
            let (status, body, headers) = send(app, w, call, token).await;
            if let Some(e) = problem_error(status, &body, &headers, 401) {
                report.fail(format!("{} {how}: {e}", call.label()));
            } else if headers.get("www-authenticate").and_then(|v| v.to_str().ok()) != Some("Bearer") {
                report.fail(format!("{} {how}: no WWW-Authenticate: Bearer", call.label()));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The stored state, as the owners and the admin read it

async fn read(app: &TestApp, path: &str, token: &str) -> Value {
    let (status, body, _) = app.get(path, Some(token)).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

fn pick(v: &Value, fields: &[&str]) -> Value {
    Value::Object(fields.iter().map(|f| (f.to_string(), v[*f].clone())).collect())
}

fn pick_all(list: &Value, fields: &[&str]) -> Value {
    Value::Array(list.as_array().unwrap().iter().map(|i| pick(i, fields)).collect())
}

async fn snapshot(app: &TestApp, w: &World) -> BTreeMap<String, Value> {
    let (admin, ent, cq) = (&w.admin.token, &w.ent_a.token, &w.reg_cq.token);
    let mut out = BTreeMap::new();
    for id in [&w.app_open, &w.app_approved] {
        let base = format!("/api/v1/transfer-applications/{id}");
        let a = read(app, &base, ent).await;
        let events = read(app, &format!("{base}/events"), ent).await;
        out.insert(
            format!("application {id}"),
            json!({
                "case": pick(&a, &["status", "version", "correction_notice", "decisions", "approval", "items"]),
                "steps": pick_all(&a["steps"], &["kind", "suspended", "suspensions", "completed_at", "outcome"]),
                "events": pick_all(&events, &["kind", "actor"]),
                "attachments": pick_all(&read(app, &format!("{base}/attachments"), ent).await, &["id", "sha256"]),
            }),
        );
    }
    let m = read(app, &format!("/api/v1/manifests/{}", w.manifest), ent).await;
    out.insert(
        "manifest".into(),
        pick(
            &m,
            &["status", "version", "dispatched_at", "received_at", "reason", "items"],
        ),
    );
    let e = format!("/api/v1/whitelist-entries/{}", w.entry);
    out.insert(
        "whitelist entry".into(),
        json!({
            "entry": pick(&read(app, &e, cq).await, &["status", "version", "status_reason", "reserved_kg", "approved_kg", "shipped_kg"]),
            "versions": pick_all(&read(app, &format!("{e}/versions"), cq).await, &["version", "change"]),
            "movements": pick_all(&read(app, &format!("{e}/usage"), cq).await["movements"], &["id"]),
        }),
    );
    let sub_fields = ["status", "url", "event_types", "disabled_at"];
    out.insert(
        "subscription of enterprise A".into(),
        pick(
            &read(app, &format!("/api/v1/webhook-subscriptions/{}", w.sub_ent), ent).await,
            &sub_fields,
        ),
    );
    out.insert(
        "subscription of Chongqing".into(),
        pick(
            &read(app, &format!("/api/v1/webhook-subscriptions/{}", w.sub_cq), cq).await,
            &sub_fields,
        ),
    );
    out.insert(
        "user account".into(),
        pick(
            &read(app, &format!("/api/v1/users/{}", w.clerk_id), admin).await,
            &["active", "role", "updated_at"],
        ),
    );
    out.insert(
        "catalogue editions".into(),
        pick_all(
            &read(app, "/api/v1/catalogue/editions", admin).await,
            &["edition", "code_count"],
        ),
    );
    let op = format!("/api/v1/operators/{}", w.reg.operator_id);
    out.insert(
        "operator A".into(),
        json!({
            "licence": read(app, &op, admin).await["licence"],
            "history": pick_all(&read(app, &format!("{op}/licences"), admin).await, &["id", "status"]),
        }),
    );
    out.insert(
        "agreements".into(),
        pick_all(
            &read(app, "/api/v1/agreements", admin).await,
            &["id", "status", "confirmed_at"],
        ),
    );
    for (name, path, fields) in [
        (
            "applications",
            "/api/v1/transfer-applications",
            &["id", "status", "version"][..],
        ),
        ("manifests", "/api/v1/manifests", &["id", "status", "version"][..]),
        (
            "whitelist entries",
            "/api/v1/whitelist-entries",
            &["id", "status", "version"][..],
        ),
        ("subscriptions", "/api/v1/webhook-subscriptions", &["id", "status"][..]),
        ("users", "/api/v1/users?limit=200", &["username", "role", "active"][..]),
        ("enterprises", "/api/v1/enterprises?limit=200", &["id"][..]),
        ("operators", "/api/v1/operators?limit=200", &["id"][..]),
    ] {
        out.insert(name.into(), pick_all(&read(app, path, admin).await["items"], fields));
    }
    let (status, calendar, _) = app.get(&format!("/api/v1/calendar/{}", w.reg.year), Some(admin)).await;
    out.insert("calendar".into(), json!({"status": status, "year": calendar}));
    out
}

// ---------------------------------------------------------------------------------------------

async fn access_matrix(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let w = World::build(&app).await;
    let before = snapshot(&app, &w).await;

    let mut report = Report::default();
    let mut every_call = Vec::new();
    // Controls first (nothing has been tried yet), then denials; the cell that would move a case
    // if it were let through is the very last.
    for table in [
        visible_cells(&w),
        hidden_cells(&w),
        restricted_cells(&w),
        forbidden_cells(&w),
    ] {
        for cell in &table {
            run_cell(&app, &w, cell, &mut report).await;
            every_call.push(cell.call.clone());
        }
    }
    // Party B replays its own subscriptions from the start; their deliveries are listed below.
    for (owner, sub) in &w.b_subscriptions {
        let call = Call::post(SUB_REPLAY, &[sub], json!({"after_seq": 0}));
        let (status, body, _) = send(&app, &w, &call, Some(&owner.token)).await;
        assert_eq!(status, 200, "{} as {}: {body}", call.label(), owner.name);
        every_call.push(call);
    }
    for (who, call) in scoped_lists(&w) {
        run_list(&app, &w, &who, &call, &mut report).await;
        every_call.push(call);
    }

    let after = snapshot(&app, &w).await;
    for (key, was) in &before {
        if after.get(key) != Some(was) {
            report.fail(format!(
                "stored state changed: {key}\n  before: {was}\n  after:  {}",
                after.get(key).unwrap_or(&Value::Null)
            ));
        }
    }

    // Operations every authenticated caller may use, so that the 401 table covers them too.
    every_call.extend([
        Call::get("/api/v1/auth/me", &[]),
        Call::post("/api/v1/auth/second-factor/disable", &[], json!({"code": "123456"})),
        Call::get("/api/v1/webhook-event-types", &[]),
        Call::get("/api/v1/agreements", &[]),
        Call::get("/api/v1/operators", &[]),
    ]);
    unauthenticated(&app, &w, &every_call, &mut report).await;

    let total: usize = report.counts.values().sum();
    let summary: Vec<String> = report.counts.iter().map(|(k, n)| format!("{n} {k}")).collect();
    eprintln!("access matrix: {total} cells: {}", summary.join(", "));
    assert!(
        report.failures.is_empty(),
        "{} of {total} access-matrix cells failed:\n- {}",
        report.failures.len(),
        report.failures.join("\n- ")
    );
}
both_backends!(access_matrix, access_matrix);
