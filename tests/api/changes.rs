//! The changes feed (`GET /api/v1/changes`): exactly what each party's webhooks hear, in commit
//! order, cursor-paged; long polling; the cursor's errors (422, 410 when older than what is kept or
//! ahead of the feed); no event skipped or repeated under concurrent writers; and the cursor
//! across two replicas on PostgreSQL with a kill -9 in the middle.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use diesel::RunQueryDsl;
use serde_json::{Value, json};

use crate::both_backends;
use crate::fixtures::{Registry, approved_application, filing, manifest, uscc};
use crate::support::{
    Backend, Service, TestApp, TestDb, assert_problem, free_port, service_command, split, test_config,
};
use crate::webhooks::subscribe;

/// One page of the feed from `base` (a server's root URL).
pub async fn page(client: &reqwest::Client, base: &str, token: &str, query: &str) -> (u16, Value) {
    let r = client
        .get(format!("{base}/api/v1/changes?{query}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let (s, b, _) = split(r).await;
    (s, b)
}

/// Reads the feed from `after` to its end in pages of `limit`; returns the items and the cursor.
pub async fn read_to_end(
    client: &reqwest::Client,
    base: &str,
    token: &str,
    after: &str,
    limit: u32,
) -> (Vec<Value>, String) {
    let mut items = Vec::new();
    let mut cursor = after.to_string();
    loop {
        let (s, p) = page(client, base, token, &format!("after={cursor}&limit={limit}")).await;
        assert_eq!(s, 200, "{p}");
        let got = p["items"].as_array().unwrap().clone();
        let next = p["next"].as_str().unwrap().to_string();
        assert!(next.parse::<i64>().unwrap() >= cursor.parse::<i64>().unwrap());
        if let Some(last) = got.last() {
            // `next` is at least the last item's seq (more when the page was short: the head).
            assert!(next.parse::<i64>().unwrap() >= last["seq"].as_i64().unwrap(), "{p}");
        }
        cursor = next;
        let done = got.is_empty();
        items.extend(got);
        if done {
            return (items, cursor);
        }
    }
}

fn seqs(items: &[Value]) -> Vec<i64> {
    items.iter().map(|e| e["seq"].as_i64().unwrap()).collect()
}

fn ids(items: &[Value]) -> Vec<String> {
    items.iter().map(|e| e["id"].as_str().unwrap().to_string()).collect()
}

fn strictly_increasing(s: &[i64]) -> bool {
    s.windows(2).all(|w| w[0] < w[1])
}

/// The events a subscription heard (its deliveries, in event order).
async fn heard(app: &TestApp, token: &str, sub: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let q = if cursor.is_empty() {
            "limit=200".to_string()
        } else {
            format!("limit=200&cursor={cursor}")
        };
        let (s, p, _) = app
            .get(
                &format!("/api/v1/webhook-subscriptions/{sub}/deliveries?{q}"),
                Some(token),
            )
            .await;
        assert_eq!(s, 200, "{p}");
        out.extend(p["items"].as_array().unwrap().iter().map(|d| d["event"].clone()));
        match p["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => return out,
        }
    }
}

async fn event_head(app: &TestApp) -> i64 {
    let mut c = app.state.db.get().unwrap();
    hwtransfer::db::outbox::event_head(&mut c).unwrap()
}

/// Enterprise B in Guizhou with a user; returns (enterprise id, token).
async fn enterprise_b(app: &TestApp, reg: &Registry) -> (String, String) {
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
    let id = b["id"].as_str().unwrap().to_string();
    app.add_user("ent-b", "enterprise", Some(&id)).await;
    (id, app.login("ent-b").await)
}

async fn feed_is_what_webhooks_hear(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    let (_, ent_b) = enterprise_b(&app, &reg).await;
    app.add_user("aud-cq", "auditor", Some("500000")).await;
    app.add_user("aud-all", "auditor", None).await;
    let (aud_cq, aud_all) = (app.login("aud-cq").await, app.login("aud-all").await);
    // Every party subscribes to every event type before anything happens.
    let (_, types, _) = app.get("/api/v1/webhook-event-types", Some(&reg.admin)).await;
    let types: Vec<String> = types
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["type"].as_str().unwrap().to_string())
        .collect();
    let types: Vec<&str> = types.iter().map(String::as_str).collect();
    let parties = [
        ("enterprise A", reg.enterprise_token.clone()),
        ("enterprise B", ent_b.clone()),
        ("operator A", reg.operator_token.clone()),
        ("Chongqing", reg.cq.clone()),
        ("Sichuan", reg.sc.clone()),
        ("Guizhou", reg.gz.clone()),
        ("Yunnan", reg.yn.clone()),
    ];
    let mut subs = Vec::new();
    for (name, token) in &parties {
        let (sub, _) = subscribe(&app, token, "https://erp.example.org/hooks", &types).await;
        subs.push((name, token, sub));
    }

    // Party A: an approved whitelist case with a manifest, an entry suspended and reinstated;
    // party B (Guizhou → operator A): a filing on the standard route.
    let entry = reg.confirmed_entry(&app, "HW08", "100").await;
    let approved = approved_application(&app, &reg, "40").await;
    let (s, m, _) = app
        .post_json(
            "/api/v1/manifests",
            Some(&reg.enterprise_token),
            &manifest(&approved, &[(0, "5")]),
        )
        .await;
    assert_eq!(s, 201, "{m}");
    for action in ["suspend", "reinstate"] {
        let (s, b, _) = app
            .post_json(
                &format!("/api/v1/whitelist-entries/{entry}/{action}"),
                Some(&reg.sc),
                &json!({"reason": "现场检查"}),
            )
            .await;
        assert_eq!(s, 200, "{action}: {b}");
    }
    let (s, b, _) = app
        .file_confirmed(&ent_b, &filing(&reg.operator_id, "900-249-08", "3"))
        .await;
    assert_eq!(s, 201, "{b}");

    let client = reqwest::Client::new();
    let base = app.url("");
    // Each party's feed is exactly what its subscription heard: the same events (ids, seqs, bodies)
    // in the same order, read in pages of 3.
    for (name, token, sub) in &subs {
        let (feed, _) = read_to_end(&client, &base, token, "0", 3).await;
        let hooks = heard(&app, token, sub).await;
        assert_eq!(feed, hooks, "{name}: the feed differs from what its webhook heard");
        assert!(strictly_increasing(&seqs(&feed)), "{name}");
    }
    let (a_feed, _) = read_to_end(&client, &base, &reg.enterprise_token, "0", 200).await;
    assert!(a_feed.len() >= 5, "{a_feed:?}");
    let (yn_feed, _) = read_to_end(&client, &base, &reg.yn, "0", 200).await;
    assert!(yn_feed.is_empty(), "{yn_feed:?}");
    let (b_feed, _) = read_to_end(&client, &base, &ent_b, "0", 200).await;
    assert_eq!(b_feed.len(), 1);
    assert_eq!(b_feed[0]["type"], "application.filed");
    assert!(!json!(b_feed).to_string().contains(&approved));
    // Admins and nationwide auditors read every event; a province's auditor what its province hears.
    let head = event_head(&app).await;
    let (all, next) = read_to_end(&client, &base, &reg.admin, "0", 200).await;
    assert_eq!(seqs(&all), (1..=head).collect::<Vec<_>>());
    assert_eq!(next, head.to_string());
    let (all_aud, _) = read_to_end(&client, &base, &aud_all, "0", 7).await;
    assert_eq!(all_aud, all);
    let (cq_aud, _) = read_to_end(&client, &base, &aud_cq, "0", 200).await;
    let (cq_reg, _) = read_to_end(&client, &base, &reg.cq, "0", 200).await;
    assert_eq!(cq_aud, cq_reg);
    // Every auditor's read of the feed is in the audit trail.
    let (s, trail, _) = app
        .get(
            "/api/v1/audit/events?object=/api/v1/changes&limit=200",
            Some(&reg.admin),
        )
        .await;
    assert_eq!(s, 200, "{trail}");
    let reads: Vec<&Value> = trail["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "read" && r["role"] == "auditor")
        .collect();
    // aud-all read in pages of 7 (and one empty page), aud-cq in one page and one empty page.
    assert_eq!(reads.len(), all.len().div_ceil(7) + 1 + 2, "{trail}");
}
both_backends!(feed_is_what_webhooks_hear, feed_is_what_webhooks_hear);

async fn cursors_limits_and_gone(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let reg = Registry::setup(&app).await;
    let client = reqwest::Client::new();
    let base = app.url("");
    let ent = &reg.enterprise_token;
    for i in 0..5 {
        let (s, b, _) = app
            .file_confirmed(ent, &filing(&reg.operator_id, "900-249-08", &format!("{}", i + 1)))
            .await;
        assert_eq!(s, 201, "{b}");
    }
    // Pages of 2: full pages end at their last event; the short last page at the head.
    let (s, p1) = page(&client, &base, ent, "limit=2").await;
    assert_eq!(s, 200, "{p1}");
    let first = seqs(p1["items"].as_array().unwrap());
    assert_eq!(first.len(), 2);
    assert_eq!(p1["next"], first[1].to_string());
    // Every item is the webhook body.
    let e = &p1["items"][0];
    assert_eq!(e["type"], "application.filed");
    assert_eq!(e["object"]["type"], "transfer_application");
    assert_eq!(e["data"]["enterprise_id"], reg.enterprise_id.as_str());
    let (_, rest) = read_to_end(&client, &base, ent, p1["next"].as_str().unwrap(), 2).await;
    let head = event_head(&app).await;
    assert_eq!(rest, head.to_string());
    // At the end: no items, the same cursor.
    let (s, end) = page(&client, &base, ent, &format!("after={head}")).await;
    assert_eq!(
        (s, end["items"].clone(), end["next"].clone()),
        (200, json!([]), json!(head.to_string()))
    );

    // Every problem of the query at once.
    let (s, b, h) = app
        .get("/api/v1/changes?after=abc&limit=0&wait=31&since=1", Some(ent))
        .await;
    let mut codes = assert_problem(s, &b, &h, 422);
    codes.sort();
    assert_eq!(
        codes,
        vec![
            "changes.cursor",
            "changes.wait",
            "query.limit",
            "query.unknown_parameter"
        ]
    );
    for bad in [
        "after=-1",
        "after=1000000000000000",
        "wait=1.5",
        "limit=201",
        "after=1&after=2",
    ] {
        let (s, b, h) = app.get(&format!("/api/v1/changes?{bad}"), Some(ent)).await;
        assert_problem(s, &b, &h, 422);
    }
    // A cursor ahead of the feed (not issued here, or a database restored from a backup): 410.
    let (s, b, h) = app.get(&format!("/api/v1/changes?after={}", head + 1), Some(ent)).await;
    assert_problem(s, &b, &h, 410);
    assert_eq!(b["type"], "/problems/gone");
    assert!(b["detail"].as_str().unwrap().contains("ahead"), "{b}");

    // Events pruned up to seq 3 (by hand: nothing prunes the outbox): a reader at 3 or later
    // misses nothing; one at 1 or 2 would miss events, and is told so (410); the start reads from 4.
    {
        let mut c = app.state.db.get().unwrap();
        diesel::sql_query("DELETE FROM outbox_events WHERE seq <= 3")
            .execute(&mut *c)
            .unwrap();
    }
    for after in [1, 2] {
        let (s, b, h) = app.get(&format!("/api/v1/changes?after={after}"), Some(ent)).await;
        assert_problem(s, &b, &h, 410);
        assert!(b["detail"].as_str().unwrap().contains("no longer kept"), "{b}");
    }
    let (s, p) = page(&client, &base, ent, "after=3").await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(seqs(p["items"].as_array().unwrap())[0], 4);
    for q in ["", "after=0"] {
        let (s, p) = page(&client, &base, ent, q).await;
        assert_eq!(s, 200, "{p}");
        assert_eq!(seqs(p["items"].as_array().unwrap())[0], 4, "{q}");
    }
}
both_backends!(cursors_limits_and_gone, cursors_limits_and_gone);

async fn long_poll_answers_when_an_event_arrives(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.feed_poll_ms = 100).await;
    let reg = Registry::setup(&app).await;
    let (_, ent_b) = enterprise_b(&app, &reg).await;
    let client = reqwest::Client::new();
    let base = app.url("");
    let head = event_head(&app).await.to_string();

    // Nothing to hear: the request is held for `wait`, then answers no items and the cursor.
    let started = Instant::now();
    let (s, p) = page(&client, &base, &reg.enterprise_token, &format!("after={head}&wait=1")).await;
    let held = started.elapsed();
    assert_eq!(s, 200, "{p}");
    assert_eq!((p["items"].clone(), p["next"].clone()), (json!([]), json!(head)));
    assert!(held >= Duration::from_millis(950), "{held:?}");

    // The enterprise and a stranger wait; the enterprise files after a moment. The enterprise's
    // request answers at once with the filing; the stranger's runs to its end with nothing.
    let waiting = {
        let (client, base, token, head) = (client.clone(), base.clone(), reg.enterprise_token.clone(), head.clone());
        tokio::spawn(async move {
            let started = Instant::now();
            let r = page(&client, &base, &token, &format!("after={head}&wait=20")).await;
            (r, started.elapsed())
        })
    };
    let stranger = {
        let (client, base, head) = (client.clone(), base.clone(), head.clone());
        tokio::spawn(async move {
            let started = Instant::now();
            let r = page(&client, &base, &ent_b, &format!("after={head}&wait=3")).await;
            (r, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    let filed_at = Instant::now();
    let (s, a, _) = app
        .file_confirmed(&reg.enterprise_token, &filing(&reg.operator_id, "900-249-08", "2"))
        .await;
    assert_eq!(s, 201, "{a}");
    let ((s, p), waited) = waiting.await.unwrap();
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["items"].as_array().unwrap().len(), 1, "{p}");
    assert_eq!(p["items"][0]["data"]["application_id"], a["id"]);
    assert!(waited >= Duration::from_millis(600), "{waited:?}");
    assert!(
        filed_at.elapsed() < Duration::from_secs(5),
        "answered {:?} after the filing",
        filed_at.elapsed()
    );
    let ((s, p), waited) = stranger.await.unwrap();
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["items"], json!([]));
    assert!(waited >= Duration::from_millis(2950), "{waited:?}");
    // Its cursor moved past the event it does not hear.
    assert_eq!(p["next"], event_head(&app).await.to_string());

    // The service's own bound caps what a request asks for.
    let app2 = TestApp::spawn_with(backend, |c| c.feed_max_wait_secs = 1).await;
    app2.add_user("root", "admin", None).await;
    let admin = app2.login("root").await;
    let h2 = event_head(&app2).await;
    let started = Instant::now();
    let (s, p) = page(&client, &app2.url(""), &admin, &format!("after={h2}&wait=30")).await;
    assert_eq!(s, 200, "{p}");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
}
both_backends!(
    long_poll_answers_when_an_event_arrives,
    long_poll_answers_when_an_event_arrives
);

/// Writers commit events concurrently while readers page the feed with small pages; the union of
/// the pages is every event, in order, each once: no event commits behind a reader's cursor.
async fn concurrent_writers_never_skip(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.pool_size = 10;
        c.feed_poll_ms = 20;
    })
    .await;
    let reg = Registry::setup(&app).await;
    reg.confirmed_entry(&app, "HW08", "100000").await;
    let start = event_head(&app).await.to_string();
    let client = reqwest::Client::builder().pool_max_idle_per_host(32).build().unwrap();
    let base = app.url("");
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = |token: String, limit: u32| {
        let (client, base, done, start) = (client.clone(), base.clone(), done.clone(), start.clone());
        tokio::spawn(async move {
            let mut cursor = start;
            let mut items = Vec::new();
            loop {
                let finished = done.load(std::sync::atomic::Ordering::SeqCst);
                let (s, p) = page(&client, &base, &token, &format!("after={cursor}&limit={limit}&wait=1")).await;
                assert_eq!(s, 200, "{p}");
                let got = p["items"].as_array().unwrap().clone();
                cursor = p["next"].as_str().unwrap().to_string();
                let empty = got.is_empty();
                items.extend(got);
                // The writers had finished before this read began, and it found nothing more.
                if finished && empty {
                    return items;
                }
            }
        })
    };
    let admin_reader = reader(reg.admin.clone(), 3);
    let cq_reader = reader(reg.cq.clone(), 5);
    let writers = (0..8).map(|w| {
        let (client, base, token, operator) = (
            client.clone(),
            base.clone(),
            reg.enterprise_token.clone(),
            reg.operator_id.clone(),
        );
        async move {
            for i in 0..6 {
                let r = client
                    .post(format!("{base}/api/v1/transfer-applications"))
                    .bearer_auth(&token)
                    .json(&filing(&operator, "900-249-08", &format!("{}", w * 10 + i + 1)))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201);
            }
        }
    });
    futures_util::future::join_all(writers).await;
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let admin_items = admin_reader.await.unwrap();
    let cq_items = cq_reader.await.unwrap();

    let head = event_head(&app).await;
    let from: i64 = start.parse().unwrap();
    let want: Vec<i64> = (from + 1..=head).collect();
    assert_eq!(want.len(), 48, "one event per filing");
    assert_eq!(
        seqs(&admin_items),
        want,
        "the admin's pages are every event, in order, once"
    );
    assert_eq!(seqs(&cq_items), want, "Chongqing hears every filing of its producer");
    let unique: BTreeSet<String> = ids(&admin_items).into_iter().collect();
    assert_eq!(unique.len(), admin_items.len());
}
both_backends!(concurrent_writers_never_skip, concurrent_writers_never_skip);

/// Two service processes on one PostgreSQL database: events written through replica A are read
/// through replica B with B's cursors; B is killed with SIGKILL mid-run and the reader goes on
/// with its last cursor through A, then through a new B: nothing skipped, nothing repeated.
#[actix_web::test]
async fn the_cursor_survives_replicas_and_kill_9() {
    let db = TestDb::new(Backend::Postgres);
    let config = test_config(&db);
    let data_dir = config.data_dir.clone();
    let app = TestApp::start(TestDb::reuse(&db), config).await;
    let reg = Registry::setup(&app).await;
    // Room on the whitelist for every filing (1 + 2 + … + 30 kg): none needs a confirmation.
    reg.confirmed_entry(&app, "HW08", "1000").await;
    let start = event_head(&app).await.to_string();
    let replica = |port: u16| {
        let mut cmd = service_command(&db.url, &data_dir, port);
        cmd.env("HWT_POOL_SIZE", "4").env("HWT_FEED_POLL_MS", "50");
        cmd
    };
    let (port_a, port_b) = (free_port(), free_port());
    let a = Service::spawn(replica(port_a), port_a).await;
    let mut b = Service::spawn(replica(port_b), port_b).await;
    let client = reqwest::Client::new();

    // The writer files through A, one filing at a time, 30 in all.
    let writer = {
        let (client, base, token, operator) = (
            client.clone(),
            a.base.clone(),
            reg.enterprise_token.clone(),
            reg.operator_id.clone(),
        );
        tokio::spawn(async move {
            let mut filed = Vec::new();
            for i in 0..30 {
                let r = client
                    .post(format!("{base}/api/v1/transfer-applications"))
                    .bearer_auth(&token)
                    .json(&filing(&operator, "900-249-08", &format!("{}", i + 1)))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 201);
                let body: Value = r.json().await.unwrap();
                filed.push(body["id"].as_str().unwrap().to_string());
                tokio::time::sleep(Duration::from_millis(30)).await;
            }
            filed
        })
    };
    // The reader (Chongqing's system) reads through B in pages of 4, keeping its cursor.
    let token = reg.cq.clone();
    let mut cursor = start.clone();
    let mut items: Vec<Value> = Vec::new();
    let read = |base: String, cursor: String| {
        let (client, token) = (client.clone(), token.clone());
        async move { page(&client, &base, &token, &format!("after={cursor}&limit=4&wait=2")).await }
    };
    let mut rounds = 0;
    while items.len() < 10 {
        rounds += 1;
        assert!(
            rounds < 100 && !writer.is_finished() || items.len() >= 10,
            "the writer stopped early"
        );
        let (s, p) = read(b.base.clone(), cursor.clone()).await;
        assert_eq!(s, 200, "{p}");
        items.extend(p["items"].as_array().unwrap().iter().cloned());
        cursor = p["next"].as_str().unwrap().to_string();
    }
    // A request is in flight on B when it dies.
    let in_flight = {
        let (client, base, token, cursor) = (client.clone(), b.base.clone(), token.clone(), cursor.clone());
        tokio::spawn(async move {
            client
                .get(format!("{base}/api/v1/changes?after={cursor}&limit=4&wait=5"))
                .bearer_auth(&token)
                .send()
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    b.kill_9();
    // Whatever that request answered or not, the reader keeps only cursors of pages it processed.
    let _ = in_flight.await;
    // On through A with the last cursor while B is down ...
    while items.len() < 20 {
        rounds += 1;
        assert!(rounds < 200, "the events stopped coming: {} of 20", items.len());
        let (s, p) = read(a.base.clone(), cursor.clone()).await;
        assert_eq!(s, 200, "{p}");
        items.extend(p["items"].as_array().unwrap().iter().cloned());
        cursor = p["next"].as_str().unwrap().to_string();
    }
    // ... and through a new B to the end.
    let b2 = Service::spawn(replica(port_b), port_b).await;
    let filed = writer.await.unwrap();
    loop {
        let (s, p) = read(b2.base.clone(), cursor.clone()).await;
        assert_eq!(s, 200, "{p}");
        let got = p["items"].as_array().unwrap().clone();
        cursor = p["next"].as_str().unwrap().to_string();
        if got.is_empty() {
            break;
        }
        items.extend(got);
    }
    let head = event_head(&app).await;
    let from: i64 = start.parse().unwrap();
    assert_eq!(
        seqs(&items),
        (from + 1..=head).collect::<Vec<_>>(),
        "every event, in order, once"
    );
    assert_eq!(cursor, head.to_string());
    let heard: Vec<String> = items
        .iter()
        .map(|e| e["data"]["application_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(heard, filed, "every acknowledged filing, in the order it was made");
}
