//! Webhooks against a local receiver: signatures verify, retries after 500s and timeouts, stable
//! event ids (at least once), order per object, disabling after a day of failures, replay from a
//! cursor, and no event lost across a kill -9 of the service between commit and delivery.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use chrono::Utc;
use hwtransfer::config::Config;
use hwtransfer::jobs::delivery::Deliverer;
use hwtransfer::webhooks;
use serde_json::{Value, json};

use crate::both_backends;
use crate::fixtures::{Registry, approved_application};
use crate::support::{Backend, Service, TestApp, TestDb, assert_problem, free_port, service_command, test_config};

/// What the receiver does with the next request.
#[derive(Debug, Clone, Copy)]
pub enum Reply {
    Status(u16),
    /// Answers 200 after this many milliseconds (longer than the client waits).
    Hang(u64),
}

#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

#[derive(Clone, Default)]
struct ReceiverState {
    log: Arc<Mutex<Vec<Received>>>,
    script: Arc<Mutex<VecDeque<Reply>>>,
    default: Arc<Mutex<Option<Reply>>>,
}

/// A local HTTP endpoint that records every request and answers from a script.
pub struct Receiver {
    pub url: String,
    state: ReceiverState,
}

async fn receive(req: HttpRequest, body: web::Bytes, state: web::Data<ReceiverState>) -> HttpResponse {
    let headers = req
        .headers()
        .iter()
        .map(|(k, v)| (k.as_str().to_lowercase(), v.to_str().unwrap_or_default().to_string()))
        .collect();
    state.log.lock().unwrap().push(Received {
        headers,
        body: body.to_vec(),
    });
    let reply = state
        .script
        .lock()
        .unwrap()
        .pop_front()
        .or(*state.default.lock().unwrap())
        .unwrap_or(Reply::Status(200));
    match reply {
        Reply::Status(s) => HttpResponse::build(actix_web::http::StatusCode::from_u16(s).unwrap()).finish(),
        Reply::Hang(ms) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            HttpResponse::Ok().finish()
        }
    }
}

impl Receiver {
    pub async fn start() -> Receiver {
        let state = ReceiverState::default();
        let data = web::Data::new(state.clone());
        let server = HttpServer::new(move || App::new().app_data(data.clone()).default_service(web::to(receive)))
            .workers(1)
            .bind("127.0.0.1:0")
            .unwrap();
        let addr = server.addrs()[0];
        actix_web::rt::spawn(server.run());
        Receiver {
            url: format!("http://{addr}/hooks"),
            state,
        }
    }
    pub fn script(&self, replies: &[Reply]) {
        self.state.script.lock().unwrap().extend(replies.iter().copied());
    }
    pub fn always(&self, reply: Reply) {
        *self.state.default.lock().unwrap() = Some(reply);
    }
    pub fn received(&self) -> Vec<Received> {
        self.state.log.lock().unwrap().clone()
    }
}

pub fn webhook_config(config: &mut Config) {
    config.webhook_allow_http = true;
    // The receivers listen on 127.0.0.1.
    config.webhook_allow_private = true;
    config.webhook_timeout_ms = 300;
    config.webhook_retry_base_ms = 1000;
    config.webhook_interval_ms = 0;
}

pub async fn subscribe(app: &TestApp, token: &str, url: &str, types: &[&str]) -> (String, String) {
    let (s, b, _) = app
        .post_json(
            "/api/v1/webhook-subscriptions",
            Some(token),
            &json!({"url": url, "event_types": types, "description": "测试接收端"}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let secret = b["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_") && secret.len() == 6 + 64, "{secret}");
    (b["id"].as_str().unwrap().to_string(), secret)
}

/// Runs the delivery job at `now` until nothing is due.
pub async fn deliver_all(app: &TestApp, d: &Deliverer, now: chrono::DateTime<Utc>) -> usize {
    let mut attempted = 0;
    for _ in 0..50 {
        let r = d.run_once(&app.state, now).await.unwrap();
        assert!(r.ran);
        attempted += r.attempted;
        if r.attempted == 0 {
            break;
        }
    }
    attempted
}

/// Every request is signed with exactly one of `secrets` and its headers match its body.
fn verify_each(received: &[Received], secrets: &[&str]) {
    let now = Utc::now().timestamp();
    for r in received {
        let sig = r.headers.get("hwt-signature").expect("signature header");
        let matching = secrets
            .iter()
            .filter(|s| webhooks::verify(s, sig, &r.body, now, webhooks::REPLAY_WINDOW_SECS).is_ok())
            .count();
        assert_eq!(matching, 1, "{sig}");
        assert!(webhooks::verify("whsec_other", sig, &r.body, now, 300).is_err());
        let e = r.json();
        assert_eq!(r.headers["hwt-event-id"], e["id"].as_str().unwrap());
        assert_eq!(r.headers["hwt-event-type"], e["type"].as_str().unwrap());
        assert_eq!(r.headers["content-type"], "application/json");
    }
}

fn signed_with(received: &[Received], secret: &str) -> Vec<Value> {
    let now = Utc::now().timestamp();
    received
        .iter()
        .filter(|r| webhooks::verify(secret, &r.headers["hwt-signature"], &r.body, now, 300).is_ok())
        .map(Received::json)
        .collect()
}

async fn deliveries(app: &TestApp, token: &str, sub: &str, query: &str) -> Value {
    let (s, b, _) = app
        .get(
            &format!("/api/v1/webhook-subscriptions/{sub}/deliveries{query}"),
            Some(token),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    b
}

async fn signed_retried_and_ordered(backend: Backend) {
    let app = TestApp::spawn_with(backend, webhook_config).await;
    let reg = Registry::setup(&app).await;
    reg.confirmed_entry(&app, "900-249-08", "1000").await;
    let rx = Receiver::start().await;
    let (sub, secret) = subscribe(
        &app,
        &reg.enterprise_token,
        &rx.url,
        &[
            "application.filed",
            "application.accepted",
            "application.decided",
            "manifest.created",
        ],
    )
    .await;
    // The Chongqing department hears the same case on its own endpoint; Guizhou (not a party)
    // hears nothing.
    let rx_cq = Receiver::start().await;
    let (cq_sub, cq_secret) = subscribe(&app, &reg.cq, &rx_cq.url, &["application.decided"]).await;
    let (gz_sub, _) = subscribe(&app, &reg.gz, &rx_cq.url, &["application.filed", "application.decided"]).await;

    let id = approved_application(&app, &reg, "40").await;
    // The outbox holds filed, accepted, two decisions and the approval's three copies (抄送), in
    // commit order.
    let events = {
        let mut c = app.state.db.get().unwrap();
        hwtransfer::db::outbox::events_of(&mut c, &id).unwrap()
    };
    let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "application.filed",
            "application.accepted",
            "application.decided",
            "application.decided",
            "approval.copied",
            "approval.copied",
            "approval.copied"
        ]
    );
    assert!(events.windows(2).all(|w| w[0].seq < w[1].seq));

    // First attempt: 500; second: no answer in time; then 200s.
    rx.script(&[Reply::Status(500), Reply::Hang(2000)]);
    let d = Deliverer::new(&app.state.config).unwrap();
    let t0 = Utc::now();
    let n = deliver_all(&app, &d, t0).await;
    // The enterprise's first event failed, so nothing later of this case went to it yet; the
    // province's subscription is not held up by the enterprise's endpoint.
    assert_eq!(rx.received().len(), 1);
    assert_eq!(rx_cq.received().len(), 2);
    assert!(n >= 3, "attempted {n}");
    // Move the clock past the backoffs until everything is delivered.
    let mut now = t0;
    for _ in 0..10 {
        now += chrono::TimeDelta::seconds(30);
        deliver_all(&app, &d, now).await;
    }
    let got = rx.received();
    verify_each(&got, &[&secret, &cq_secret]);
    verify_each(&rx_cq.received(), &[&secret, &cq_secret]);
    let ent_events = signed_with(&got, &secret);
    assert_eq!(ent_events.len(), got.len());
    let cq_events = signed_with(&rx_cq.received(), &cq_secret);
    // The enterprise got its four events; the first one three times (500, timeout, 200), with
    // the same id each time; in order of seq.
    let ids: Vec<&str> = ent_events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 6, "{ids:?}");
    assert_eq!(ids[0], ids[1]);
    assert_eq!(ids[1], ids[2]);
    let mut distinct = ids.clone();
    distinct.dedup();
    // (The enterprise does not subscribe to the approval's copies, 抄送.)
    let want: Vec<&str> = events
        .iter()
        .filter(|e| e.event_type != "approval.copied")
        .map(|e| e.id.as_str())
        .collect();
    assert_eq!(distinct, want, "each event once (after retries), in commit order");
    let seqs: Vec<i64> = ent_events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] <= w[1]), "{seqs:?}");
    // The payload carries the case as it stood.
    let last = ent_events.last().unwrap();
    assert_eq!(last["type"], "application.decided");
    assert_eq!(last["object"], json!({"type": "transfer_application", "id": id}));
    assert_eq!(last["data"]["status"], "approved");
    assert_eq!(last["data"]["enterprise_id"], reg.enterprise_id.as_str());
    assert!(last["data"]["approval_number"].as_str().unwrap().contains("危转"));
    // The province heard the two decisions only.
    let cq_types: Vec<&str> = cq_events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(cq_types, ["application.decided", "application.decided"]);

    // The delivery record: every attempt, the first with 500, then a timeout, then 200.
    let page = deliveries(&app, &reg.enterprise_token, &sub, "").await;
    let items = page["items"].as_array().unwrap();
    assert_eq!(items.len(), 4);
    assert!(items.iter().all(|d| d["status"] == "delivered"), "{page}");
    let log = &items[0]["attempt_log"];
    assert_eq!(log.as_array().unwrap().len(), 3, "{log}");
    assert_eq!(log[0]["status_code"], 500);
    assert_eq!(log[1]["status_code"], Value::Null);
    assert!(
        log[1]["error"].as_str().unwrap().starts_with("no answer within"),
        "{log}"
    );
    assert_eq!(log[2]["status_code"], 200);
    assert_eq!(items[0]["event"]["id"], want[0]);
    // A cursor continues after an event's seq.
    let after = items[1]["event"]["seq"].as_i64().unwrap();
    let rest = deliveries(&app, &reg.enterprise_token, &sub, &format!("?after_seq={after}")).await;
    assert_eq!(rest["items"].as_array().unwrap().len(), 2);
    let paged = deliveries(&app, &reg.enterprise_token, &sub, "?limit=3").await;
    let cursor = paged["next_cursor"].as_str().unwrap();
    let next = deliveries(&app, &reg.enterprise_token, &sub, &format!("?limit=3&cursor={cursor}")).await;
    assert_eq!(next["items"][0]["event"]["id"], want[3]);
    assert_eq!(next["next_cursor"], Value::Null);
    // Nothing for Guizhou: not a party of the case.
    let gz = deliveries(&app, &reg.gz, &gz_sub, "").await;
    assert_eq!(gz["items"], json!([]));
    // Another party's subscription is hidden.
    let (s, _, _) = app
        .get(
            &format!("/api/v1/webhook-subscriptions/{cq_sub}/deliveries"),
            Some(&reg.enterprise_token),
        )
        .await;
    assert_eq!(s, 404);

    // Replay from a cursor: the same events again, same ids, in order.
    let before = rx.received().len();
    let (s, b, _) = app
        .post_json(
            &format!("/api/v1/webhook-subscriptions/{sub}/replay"),
            Some(&reg.enterprise_token),
            &json!({"after_seq": after}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["queued"], 2);
    deliver_all(&app, &d, Utc::now()).await;
    let again: Vec<String> = rx.received()[before..]
        .iter()
        .map(|r| r.json()["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(again, [want[2], want[3]]);
}
both_backends!(signed_retried_and_ordered, signed_retried_and_ordered);

async fn audit_of(app: &TestApp, object: &str) -> Vec<Value> {
    let mut c = app.state.db.get().unwrap();
    let f = hwtransfer::db::audit::EventFilter {
        object_id: Some(object.to_string()),
        ..Default::default()
    };
    hwtransfer::db::audit::events(&mut c, &f, None, 1000)
        .unwrap()
        .into_iter()
        .map(|r| serde_json::to_value(r).unwrap())
        .collect()
}

async fn disabled_after_a_day_then_replayed(backend: Backend) {
    let app = TestApp::spawn_with(backend, webhook_config).await;
    let reg = Registry::setup(&app).await;
    reg.confirmed_entry(&app, "900-249-08", "1000").await;
    let rx = Receiver::start().await;
    rx.always(Reply::Status(500));
    let (sub, secret) = subscribe(
        &app,
        &reg.enterprise_token,
        &rx.url,
        &["application.filed", "application.accepted"],
    )
    .await;
    let (s, a, _) = app
        .post_json(
            "/api/v1/transfer-applications",
            Some(&reg.enterprise_token),
            &crate::fixtures::filing(&reg.operator_id, "900-249-08", "10"),
        )
        .await;
    assert_eq!(s, 201, "{a}");
    let id = a["id"].as_str().unwrap().to_string();

    let d = Deliverer::new(&app.state.config).unwrap();
    let t0 = Utc::now();
    deliver_all(&app, &d, t0).await;
    deliver_all(&app, &d, t0 + chrono::TimeDelta::hours(2)).await;
    let (_, s1, _) = app
        .get(
            &format!("/api/v1/webhook-subscriptions/{sub}"),
            Some(&reg.enterprise_token),
        )
        .await;
    assert_eq!(s1["status"], "active");
    assert!(s1["failing_since"].is_string(), "{s1}");
    assert_eq!(s1["deliveries"], json!({"pending": 1, "delivered": 0, "failed": 0}));
    // A day of failures: the delivery is given up and the endpoint disabled, plainly.
    deliver_all(
        &app,
        &d,
        t0 + chrono::TimeDelta::hours(24) + chrono::TimeDelta::minutes(1),
    )
    .await;
    let (_, s2, _) = app
        .get(
            &format!("/api/v1/webhook-subscriptions/{sub}"),
            Some(&reg.enterprise_token),
        )
        .await;
    assert_eq!(s2["status"], "disabled", "{s2}");
    assert!(
        s2["disabled_reason"].as_str().unwrap().contains("disabled after a day"),
        "{s2}"
    );
    assert_eq!(s2["deliveries"], json!({"pending": 0, "delivered": 0, "failed": 1}));
    let page = deliveries(&app, &reg.enterprise_token, &sub, "").await;
    assert_eq!(page["items"][0]["status"], "failed");
    assert_eq!(page["items"][0]["attempt_log"].as_array().unwrap().len(), 3);
    assert_eq!(rx.received().len(), 3);

    // While disabled, an event is stored but not queued for it, and replay is refused.
    let (s, b, _) = app
        .post_json(
            &format!("/api/v1/transfer-applications/{id}/accept"),
            Some(&reg.cq),
            &json!({}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(
        deliveries(&app, &reg.enterprise_token, &sub, "").await["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let (s, b, h) = app
        .post_json(
            &format!("/api/v1/webhook-subscriptions/{sub}/replay"),
            Some(&reg.enterprise_token),
            &json!({"after_seq": 0}),
        )
        .await;
    assert_problem(s, &b, &h, 409);

    // Fixed and enabled again: a replay from the start brings both events, in order.
    rx.always(Reply::Status(204));
    let (s, b, _) = app
        .post_json(
            &format!("/api/v1/webhook-subscriptions/{sub}/enable"),
            Some(&reg.enterprise_token),
            &json!({}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["status"], "active");
    assert_eq!(b["failing_since"], Value::Null);
    let (s, b, _) = app
        .post_json(
            &format!("/api/v1/webhook-subscriptions/{sub}/replay"),
            Some(&reg.enterprise_token),
            &json!({"after_seq": 0}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["queued"], 2);
    deliver_all(&app, &d, Utc::now()).await;
    let events = {
        let mut c = app.state.db.get().unwrap();
        hwtransfer::db::outbox::events_of(&mut c, &id).unwrap()
    };
    let got: Vec<Value> = rx.received()[3..].iter().map(Received::json).collect();
    let got_ids: Vec<&str> = got.iter().map(|e| e["id"].as_str().unwrap()).collect();
    let want: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(got_ids, want);
    assert_eq!(got[1]["type"], "application.accepted");
    verify_each(&rx.received(), &[&secret]);
    let (_, s3, _) = app
        .get(
            &format!("/api/v1/webhook-subscriptions/{sub}"),
            Some(&reg.enterprise_token),
        )
        .await;
    assert_eq!(s3["deliveries"], json!({"pending": 0, "delivered": 2, "failed": 0}));

    // The subscription's history is in the audit trail, and the secret is not.
    let trail = audit_of(&app, &sub).await;
    let actions: Vec<&str> = trail.iter().map(|r| r["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["created", "disabled", "enabled", "replay"]);
    let all = serde_json::to_string(&trail).unwrap();
    assert!(!all.contains(&secret));
}
both_backends!(disabled_after_a_day_then_replayed, disabled_after_a_day_then_replayed);

async fn subscription_input_and_scopes(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    // Every problem at once, and nothing stored.
    let (s, b, h) = app
        .post_json(
            "/api/v1/webhook-subscriptions",
            Some(&reg.enterprise_token),
            &json!({"url": "http://erp.example.org/hooks", "event_types": ["application.nope", 7], "owner": {"kind": "operator"}}),
        )
        .await;
    let mut codes = assert_problem(s, &b, &h, 422);
    codes.sort();
    assert_eq!(
        codes,
        // The owner's id is missing (naming another party is a 403 once the rest is right).
        ["body.required", "body.type", "webhook.event_type", "webhook.url"],
        "{b}"
    );
    let pointers: Vec<&str> = b["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap())
        .collect();
    for p in ["/url", "/event_types/0", "/event_types/1", "/owner/id"] {
        assert!(pointers.contains(&p), "{pointers:?}");
    }
    // Naming another party is refused; naming one's own is the same as leaving it out.
    let other = json!({"url": "https://erp.example.org/h", "event_types": ["application.filed"],
        "owner": {"kind": "operator", "id": reg.operator_id}});
    let (s, b, h) = app
        .post_json("/api/v1/webhook-subscriptions", Some(&reg.enterprise_token), &other)
        .await;
    assert_problem(s, &b, &h, 403);
    for (body, code) in [
        (
            json!({"url": "https://erp.example.org/h", "event_types": []}),
            "webhook.event_types",
        ),
        (
            json!({"url": "https://user:pw@erp.example.org/h", "event_types": ["application.filed"]}),
            "webhook.url",
        ),
        (
            json!({"url": "ftp://erp.example.org/h", "event_types": ["application.filed"]}),
            "webhook.url",
        ),
        (
            json!({"url": "erp.example.org", "event_types": ["application.filed"]}),
            "webhook.url",
        ),
        (json!({"event_types": ["application.filed"]}), "body.required"),
    ] {
        let (s, b, h) = app
            .post_json("/api/v1/webhook-subscriptions", Some(&reg.enterprise_token), &body)
            .await;
        assert_eq!(assert_problem(s, &b, &h, 422), [code], "{body}");
    }
    let (_, list, _) = app
        .get("/api/v1/webhook-subscriptions", Some(&reg.enterprise_token))
        .await;
    assert_eq!(list["items"], json!([]));

    // Auditors have no webhooks.
    app.add_user("aud", "auditor", None).await;
    let aud = app.login("aud").await;
    let (s, b, h) = app
        .post_json(
            "/api/v1/webhook-subscriptions",
            Some(&aud),
            &json!({"url": "https://a.example.org/h", "event_types": ["application.filed"]}),
        )
        .await;
    assert_problem(s, &b, &h, 403);

    // Created for the caller's own party; the secret is shown once.
    let (s, created, _) = app
        .post_json(
            "/api/v1/webhook-subscriptions",
            Some(&reg.enterprise_token),
            &json!({"url": "https://erp.example.org/hooks?src=hwt", "event_types": ["application.decided", "application.filed", "application.filed"]}),
        )
        .await;
    assert_eq!(s, 201, "{created}");
    assert_eq!(created["owner"], json!({"kind": "enterprise", "id": reg.enterprise_id}));
    assert_eq!(
        created["event_types"],
        json!(["application.decided", "application.filed"])
    );
    assert_eq!(created["status"], "active");
    let id = created["id"].as_str().unwrap();
    let (s, one, _) = app
        .get(
            &format!("/api/v1/webhook-subscriptions/{id}"),
            Some(&reg.enterprise_token),
        )
        .await;
    assert_eq!(s, 200);
    assert!(one.get("secret").is_none(), "{one}");
    assert_eq!(one["url"], "https://erp.example.org/hooks?src=hwt");
    // Another party does not see it; an admin does.
    let (s, _, _) = app
        .get(
            &format!("/api/v1/webhook-subscriptions/{id}"),
            Some(&reg.operator_token),
        )
        .await;
    assert_eq!(s, 404);
    let (s, _, _) = app
        .get(&format!("/api/v1/webhook-subscriptions/{id}"), Some(&reg.admin))
        .await;
    assert_eq!(s, 200);
    let (_, mine, _) = app
        .get("/api/v1/webhook-subscriptions", Some(&reg.operator_token))
        .await;
    assert_eq!(mine["items"], json!([]));
    // Admins name the owner, which must exist.
    let (s, b, h) = app
        .post_json(
            "/api/v1/webhook-subscriptions",
            Some(&reg.admin),
            &json!({"url": "https://x.example.org/h", "event_types": ["manifest.created"], "owner": {"kind": "operator", "id": "nope"}}),
        )
        .await;
    assert_eq!(assert_problem(s, &b, &h, 422), ["webhook.owner"]);
    let (s, b, _) = app
        .post_json(
            "/api/v1/webhook-subscriptions",
            Some(&reg.admin),
            &json!({"url": "https://x.example.org/h", "event_types": ["manifest.created"], "owner": {"kind": "operator", "id": reg.operator_id}}),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    let (_, theirs, _) = app
        .get("/api/v1/webhook-subscriptions", Some(&reg.operator_token))
        .await;
    assert_eq!(theirs["items"].as_array().unwrap().len(), 1);
    // Deleted: gone for its owner.
    let r = app
        .client
        .delete(app.url(&format!("/api/v1/webhook-subscriptions/{id}")))
        .bearer_auth(&reg.enterprise_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204);
    let (s, _, _) = app
        .get(
            &format!("/api/v1/webhook-subscriptions/{id}"),
            Some(&reg.enterprise_token),
        )
        .await;
    assert_eq!(s, 404);
    // The catalogue.
    let (s, cat, _) = app.get("/api/v1/webhook-event-types", Some(&reg.operator_token)).await;
    assert_eq!(s, 200);
    assert_eq!(
        cat.as_array().unwrap().len(),
        hwtransfer::webhooks::EventType::ALL.len()
    );
    assert_eq!(cat[0]["type"], "application.filed");
}
both_backends!(subscription_input_and_scopes, subscription_input_and_scopes);

/// The subscription's deliveries' event types, in order.
async fn delivered_types(app: &TestApp, token: &str, sub: &str) -> Vec<String> {
    deliveries(app, token, sub, "").await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["event"]["type"].as_str().unwrap().to_string())
        .collect()
}

async fn manifests_entries_and_reminders(backend: Backend) {
    let app = TestApp::spawn_with(backend, webhook_config).await;
    let reg = Registry::setup(&app).await;
    let entry = reg.confirmed_entry(&app, "900-249-08", "1000").await;
    let all: Vec<&str> = webhooks::EventType::ALL.iter().map(|t| t.as_str()).collect();
    let url = "http://127.0.0.1:9/never-called";
    let (op_sub, _) = subscribe(&app, &reg.operator_token, url, &all).await;
    let (cq_sub, _) = subscribe(&app, &reg.cq, url, &all).await;
    let (sc_sub, _) = subscribe(&app, &reg.sc, url, &all).await;

    // Manifests: created, received with a discrepancy.
    let app_id = approved_application(&app, &reg, "100").await;
    let (s, m, _) = app
        .post_json(
            "/api/v1/manifests",
            Some(&reg.enterprise_token),
            &crate::fixtures::manifest(&app_id, &[(0, "25")]),
        )
        .await;
    assert_eq!(s, 201, "{m}");
    let m_id = m["id"].as_str().unwrap();
    let (s, _, _) = app
        .post_json(
            &format!("/api/v1/manifests/{m_id}/dispatch"),
            Some(&reg.enterprise_token),
            &json!({}),
        )
        .await;
    assert_eq!(s, 200);
    let (s, r, _) = app
        .post_json(
            &format!("/api/v1/manifests/{m_id}/receipt"),
            Some(&reg.operator_token),
            &json!({"outcome": "received", "items": [{"line": 0, "accepted_kg": "20"}], "note": "桶内残留"}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    // Entries: suspended and reinstated.
    for action in ["suspend", "reinstate"] {
        let (s, b, _) = app
            .post_json(
                &format!("/api/v1/whitelist-entries/{entry}/{action}"),
                Some(&reg.sc),
                &json!({"reason": "现场检查"}),
            )
            .await;
        assert_eq!(s, 200, "{b}");
    }
    let op_types = delivered_types(&app, &reg.operator_token, &op_sub).await;
    assert_eq!(
        op_types,
        [
            "application.filed",
            "application.accepted",
            "application.decided",
            "application.decided",
            "approval.copied",
            "approval.copied",
            "approval.copied",
            "manifest.created",
            "manifest.received",
            "manifest.discrepancy",
            "whitelist_entry.suspended",
            "whitelist_entry.reinstated",
        ]
    );
    let page = deliveries(&app, &reg.operator_token, &op_sub, "").await;
    let discrepancy = &page["items"][9]["event"];
    assert_eq!(discrepancy["object"], json!({"type": "manifest", "id": m_id}));
    assert_eq!(discrepancy["data"]["discrepancy"], true);
    assert_eq!(discrepancy["data"]["discrepancy_note"], "桶内残留");
    assert_eq!(discrepancy["data"]["number"], m["number"]);
    let suspended = &page["items"][10]["event"];
    assert_eq!(suspended["data"]["status"], "suspended");
    assert_eq!(suspended["data"]["reason"], "现场检查");

    // Reminders: a case accepted today is due in five working days; an hour before that
    // instant each deciding province is reminded of its own step, once, and nobody else: the
    // source (Chongqing) and, as the agreement asks for its consent, the receiving province.
    let (s, a, _) = app
        .post_json(
            "/api/v1/transfer-applications",
            Some(&reg.enterprise_token),
            &crate::fixtures::filing(&reg.operator_id, "900-249-08", "5"),
        )
        .await;
    assert_eq!(s, 201, "{a}");
    let id = a["id"].as_str().unwrap().to_string();
    let (s, _, _) = app
        .post_json(
            &format!("/api/v1/transfer-applications/{id}/accept"),
            Some(&reg.cq),
            &json!({}),
        )
        .await;
    assert_eq!(s, 200);
    let step = {
        let mut c = app.state.db.get().unwrap();
        hwtransfer::db::applications::steps(&mut c, &id)
            .unwrap()
            .into_iter()
            .find(|s| s.completed_at.is_none())
            .unwrap()
    };
    assert_eq!(step.side, "source");
    let close = app.state.config.office_close;
    let at = step.due_at.and_utc() - chrono::TimeDelta::hours(1);
    for _ in 0..2 {
        let mut c = app.state.db.get().unwrap();
        hwtransfer::jobs::sweep_once_with(&mut c, close, at).unwrap();
    }
    let count = |types: &[String], t: &str| types.iter().filter(|x| *x == t).count();
    let cq_types = delivered_types(&app, &reg.cq, &cq_sub).await;
    let sc_types = delivered_types(&app, &reg.sc, &sc_sub).await;
    assert_eq!(count(&cq_types, "step.due_tomorrow"), 1, "{cq_types:?}");
    assert_eq!(count(&sc_types, "step.due_tomorrow"), 1, "{sc_types:?}");
    let op_types = delivered_types(&app, &reg.operator_token, &op_sub).await;
    assert_eq!(count(&op_types, "step.due_tomorrow"), 0);
    let cq_page = deliveries(&app, &reg.cq, &cq_sub, "").await;
    let reminder = cq_page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["event"]["type"] == "step.due_tomorrow")
        .unwrap();
    assert_eq!(reminder["event"]["data"]["application_id"], id.as_str());
    assert_eq!(reminder["event"]["data"]["detail"]["due_on"], step.due_on.as_str());

    // The approval of the first case ends on its valid_until: five working days before, every
    // party hears it once.
    let (_, approved, _) = app
        .get(
            &format!("/api/v1/transfer-applications/{app_id}"),
            Some(&reg.enterprise_token),
        )
        .await;
    let valid_until =
        chrono::NaiveDate::parse_from_str(approved["approval"]["valid_until"].as_str().unwrap(), "%Y-%m-%d").unwrap();
    let noon = hwtransfer::domain::calendar::deadline_instant(
        valid_until - chrono::TimeDelta::days(2),
        chrono::NaiveTime::from_hms_opt(12, 0, 0).unwrap(),
    );
    for _ in 0..2 {
        let mut c = app.state.db.get().unwrap();
        hwtransfer::jobs::sweep_once_with(&mut c, close, noon).unwrap();
    }
    for (token, sub) in [(&reg.operator_token, &op_sub), (&reg.cq, &cq_sub), (&reg.sc, &sc_sub)] {
        let types = delivered_types(&app, token, sub).await;
        assert_eq!(count(&types, "approval.expiring"), 1, "{types:?}");
    }
}
both_backends!(manifests_entries_and_reminders, manifests_entries_and_reminders);

fn webhook_service(db: &TestDb, data_dir: &std::path::Path, port: u16) -> std::process::Command {
    let mut cmd = service_command(&db.url, data_dir, port);
    cmd.env("HWT_WEBHOOK_INTERVAL_MS", "50")
        .env("HWT_WEBHOOK_RETRY_BASE_MS", "100")
        .env("HWT_WEBHOOK_ALLOW_HTTP", "true")
        .env("HWT_WEBHOOK_ALLOW_PRIVATE", "true")
        .env("HWT_JOB_LEASE_SECS", "1")
        .env("HWT_POOL_SIZE", "6");
    cmd
}

async fn no_event_lost_across_kill_9(backend: Backend) {
    let db = TestDb::new(backend);
    let mut config = test_config(&db);
    webhook_config(&mut config);
    let data_dir = config.data_dir.clone();
    let app = TestApp::start(TestDb::reuse(&db), config).await;
    let reg = Registry::setup(&app).await;
    reg.confirmed_entry(&app, "900-249-08", "1000").await;
    // Slow answers, so deliveries are in flight when the process dies.
    let rx = Receiver::start().await;
    rx.always(Reply::Hang(150));
    let (sub, secret) = subscribe(&app, &reg.enterprise_token, &rx.url, &["application.filed"]).await;

    let port = free_port();
    let mut server = Service::spawn(webhook_service(&db, &data_dir, port), port).await;
    let base = server.base.clone();
    let client = reqwest::Client::new();
    let mut filed = Vec::new();
    for i in 0..12 {
        let r = client
            .post(format!("{base}/api/v1/transfer-applications"))
            .bearer_auth(&reg.enterprise_token)
            .json(&crate::fixtures::filing(
                &reg.operator_id,
                "900-249-08",
                &format!("{}", i + 1),
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let b: Value = r.json().await.unwrap();
        filed.push(b["id"].as_str().unwrap().to_string());
    }
    // Killed between commit and delivery: most events are not yet delivered.
    server.kill_9();
    let before = rx.received().len();
    assert!(before < filed.len(), "{before} delivered before the kill");

    rx.always(Reply::Status(200));
    let _server = Service::spawn(webhook_service(&db, &data_dir, port), port).await;
    let want: Vec<String> = {
        let mut c = app.state.db.get().unwrap();
        filed
            .iter()
            .map(|id| hwtransfer::db::outbox::events_of(&mut c, id).unwrap()[0].id.clone())
            .collect()
    };
    let mut got_ids = Vec::new();
    for _ in 0..200 {
        got_ids = rx
            .received()
            .iter()
            .map(|r| r.json()["id"].as_str().unwrap().to_string())
            .collect::<Vec<_>>();
        if want.iter().all(|w| got_ids.contains(w)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for w in &want {
        assert!(
            got_ids.contains(w),
            "event {w} never arrived ({} requests)",
            got_ids.len()
        );
    }
    // At least once: any repeat carries the same id; nothing arrives that was not committed.
    assert!(got_ids.iter().all(|g| want.contains(g)));
    verify_each(&rx.received(), &[&secret]);
    // Every delivery ends delivered, and the audit chain is intact.
    for _ in 0..50 {
        let (_, s, _) = app
            .get(
                &format!("/api/v1/webhook-subscriptions/{sub}"),
                Some(&reg.enterprise_token),
            )
            .await;
        if s["deliveries"]["delivered"] == 12 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (_, s, _) = app
        .get(
            &format!("/api/v1/webhook-subscriptions/{sub}"),
            Some(&reg.enterprise_token),
        )
        .await;
    assert_eq!(s["deliveries"], json!({"pending": 0, "delivered": 12, "failed": 0}));
    let report = {
        let mut c = app.state.db.get().unwrap();
        hwtransfer::db::audit::verify(&mut c).unwrap()
    };
    assert!(report.first_break.is_none(), "{report:?}");
}
both_backends!(no_event_lost_across_kill_9, no_event_lost_across_kill_9);

async fn a_failing_endpoint_does_not_starve_others(backend: Backend) {
    use hwtransfer::webhooks::{Audience, EventType, OwnerKind};
    let app = TestApp::spawn_with(backend, webhook_config).await;
    let reg = Registry::setup(&app).await;
    let bad = Receiver::start().await;
    bad.always(Reply::Status(500));
    let good = Receiver::start().await;
    subscribe(&app, &reg.enterprise_token, &bad.url, &["application.filed"]).await;
    let (good_sub, _) = subscribe(&app, &reg.cq, &good.url, &["application.filed"]).await;
    // 80 events about one object for the failing endpoint (more than one delivery batch), then
    // one about another object for the healthy endpoint.
    {
        let mut c = app.state.db.get().unwrap();
        hwtransfer::db::write_tx(&mut c, |c| {
            for i in 0..80 {
                let to = Audience::new().with(OwnerKind::Enterprise, &reg.enterprise_id);
                hwtransfer::db::outbox::emit(
                    c,
                    EventType::ApplicationFiled,
                    "transfer_application",
                    "object-x",
                    to,
                    json!({ "n": i }),
                )?;
            }
            let to = Audience::new().with(OwnerKind::Province, "500000");
            hwtransfer::db::outbox::emit(
                c,
                EventType::ApplicationFiled,
                "transfer_application",
                "object-y",
                to,
                json!({}),
            )
        })
        .unwrap();
    }
    let d = Deliverer::new(&app.state.config).unwrap();
    deliver_all(&app, &d, Utc::now()).await;
    // Only the first event of object-x was tried (the rest wait behind it); the healthy endpoint
    // got its event all the same.
    assert_eq!(bad.received().len(), 1);
    assert_eq!(good.received().len(), 1);
    assert_eq!(good.received()[0].json()["object"]["id"], "object-y");
    let page = deliveries(&app, &reg.cq, &good_sub, "").await;
    assert_eq!(page["items"][0]["status"], "delivered");
}
both_backends!(
    a_failing_endpoint_does_not_starve_others,
    a_failing_endpoint_does_not_starve_others
);

/// The one text column (`AS value`) of what a query answers, in its order.
fn texts(app: &TestApp, query: &str) -> Vec<String> {
    #[derive(diesel::QueryableByName)]
    struct Row {
        #[diesel(sql_type = diesel::sql_types::Text)]
        value: String,
    }
    let mut c = app.state.db.get().unwrap();
    let rows: Vec<Row> = diesel::RunQueryDsl::load(diesel::sql_query(query), &mut c).unwrap();
    rows.into_iter().map(|r| r.value).collect()
}

/// The head's `subscriptions_version` (who hears what, as of now).
fn hearing_version(app: &TestApp) -> String {
    texts(
        app,
        "SELECT subscriptions_version AS value FROM audit_head WHERE id = 1",
    )
    .remove(0)
}

/// A statement run behind the service's back, as another server on the same database would.
fn elsewhere(app: &TestApp, statement: &str) {
    let mut c = app.state.db.get().unwrap();
    diesel::RunQueryDsl::execute(diesel::sql_query(statement), &mut c).unwrap();
}

/// The objects of the deliveries queued for a subscription, in event order.
fn queued_for(app: &TestApp, sub: &str) -> Vec<String> {
    texts(
        app,
        &format!(
            "SELECT object_id AS value FROM webhook_deliveries WHERE subscription_id = '{sub}' ORDER BY event_seq"
        ),
    )
}

/// Emits `application.filed` about `object` to the enterprise, in its own write transaction.
fn emit_filed(app: &TestApp, enterprise: &str, object: &str) {
    use hwtransfer::webhooks::{Audience, EventType, OwnerKind};
    let mut c = app.state.db.get().unwrap();
    hwtransfer::db::write_tx(&mut c, |c| {
        let to = Audience::new().with(OwnerKind::Enterprise, enterprise);
        hwtransfer::db::outbox::emit(
            c,
            EventType::ApplicationFiled,
            "transfer_application",
            object,
            to,
            json!({}),
        )
    })
    .unwrap();
}

/// Who hears an event is decided under the audit head's lock from the subscriptions read for
/// the head's `subscriptions_version`, kept between writes. Every change that alters who hears
/// what changes the version, also when another server makes it (here: plain SQL behind this
/// process's back), so the next event follows it; a change that alters nobody's hearing (a
/// failed delivery noted on the subscription) leaves the version, and what was read, alone.
async fn hearers_follow_changes_made_elsewhere(backend: Backend) {
    let app = TestApp::spawn_with(backend, webhook_config).await;
    let reg = Registry::setup(&app).await;
    let rx = Receiver::start().await;
    let (sub, _) = subscribe(&app, &reg.enterprise_token, &rx.url, &["application.filed"]).await;
    let v0 = hearing_version(&app);
    assert_eq!(v0.len(), 32, "{v0}");
    emit_filed(&app, &reg.enterprise_id, "object-1");
    assert_eq!(queued_for(&app, &sub), ["object-1"]);
    assert_eq!(hearing_version(&app), v0, "an event does not change who hears");

    elsewhere(
        &app,
        &format!(
            "UPDATE webhook_subscriptions SET failing_since = updated_at, last_failure_at = updated_at WHERE id = '{sub}'"
        ),
    );
    assert_eq!(hearing_version(&app), v0, "a failure noted changes nobody's hearing");

    elsewhere(
        &app,
        &format!("UPDATE webhook_subscriptions SET status = 'disabled' WHERE id = '{sub}'"),
    );
    let v1 = hearing_version(&app);
    assert_ne!(v1, v0);
    emit_filed(&app, &reg.enterprise_id, "object-2");
    assert_eq!(
        queued_for(&app, &sub),
        ["object-1"],
        "a disabled subscription hears nothing"
    );

    elsewhere(
        &app,
        &format!("UPDATE webhook_subscriptions SET status = 'active' WHERE id = '{sub}'"),
    );
    emit_filed(&app, &reg.enterprise_id, "object-3");
    assert_eq!(queued_for(&app, &sub), ["object-1", "object-3"]);

    elsewhere(
        &app,
        &format!("UPDATE webhook_subscriptions SET event_types = '[\"application.accepted\"]' WHERE id = '{sub}'"),
    );
    emit_filed(&app, &reg.enterprise_id, "object-4");
    assert_eq!(
        queued_for(&app, &sub),
        ["object-1", "object-3"],
        "no longer of a type it hears"
    );

    // A subscription added hears the next event; one removed is no longer given deliveries (a
    // delivery for it would break the foreign key and fail the write).
    let (second, _) = subscribe(&app, &reg.enterprise_token, &rx.url, &["application.filed"]).await;
    emit_filed(&app, &reg.enterprise_id, "object-5");
    assert_eq!(queued_for(&app, &second), ["object-5"]);
    let v2 = hearing_version(&app);
    elsewhere(
        &app,
        &format!("DELETE FROM webhook_deliveries WHERE subscription_id = '{second}'"),
    );
    elsewhere(
        &app,
        &format!("DELETE FROM webhook_subscriptions WHERE id = '{second}'"),
    );
    assert_ne!(hearing_version(&app), v2);
    emit_filed(&app, &reg.enterprise_id, "object-6");
    assert_eq!(queued_for(&app, &sub), ["object-1", "object-3"]);
    assert!(queued_for(&app, &second).is_empty());
}
both_backends!(
    hearers_follow_changes_made_elsewhere,
    hearers_follow_changes_made_elsewhere
);
