//! Faults: the service process killed with SIGKILL in the middle of concurrent writes (both
//! backends), and PostgreSQL going away and coming back (through a TCP proxy the test cuts).
//! Whatever the service acknowledged must be stored, nothing may be half-applied (the quota
//! ledger equals the sum of the stored applications), the audit chain must verify, and while
//! the database is away the service answers 503 problem+json with Retry-After and recovers by
//! itself.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::{Connection, RunQueryDsl};
use serde_json::Value;

use crate::both_backends;
use crate::fixtures::Registry;
use crate::support::{Backend, Service, TestApp, TestDb, assert_problem, free_port, service_command, test_config};

/// Four writers file applications (each reserving quota) against a separate service process
/// until it is killed with SIGKILL; then every acknowledged filing is stored, the entry's
/// reserved quantity is exactly the sum of the stored filings (no half-applied filing), the
/// audit chain verifies, an SQLite file passes its integrity check, and the service starts
/// again on the same database.
async fn kill_9_mid_writes_loses_nothing_acknowledged(backend: Backend) {
    let db = TestDb::new(backend);
    let config = test_config(&db);
    let data_dir = config.data_dir.clone();
    let app = TestApp::start(TestDb::reuse(&db), config).await;
    let reg = Registry::setup(&app).await;
    let entry = reg.confirmed_entry(&app, "900-249-08", "1000000").await;

    let port = free_port();
    let mut cmd = service_command(&db.url, &data_dir, port);
    cmd.env("HWT_POOL_SIZE", "6");
    let mut server = Service::spawn(cmd, port).await;
    let base = server.base.clone();

    let acknowledged = Arc::new(Mutex::new(Vec::<(String, u64)>::new()));
    let mut writers = Vec::new();
    for w in 0..4u64 {
        let (base, token, operator) = (base.clone(), reg.enterprise_token.clone(), reg.operator_id.clone());
        let acknowledged = acknowledged.clone();
        writers.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            for i in 0.. {
                let kg = 1 + (w * 1000 + i) % 97;
                let sent = client
                    .post(format!("{base}/api/v1/transfer-applications"))
                    .bearer_auth(&token)
                    .json(&crate::fixtures::filing(&operator, "900-249-08", &kg.to_string()))
                    .send()
                    .await;
                // The process is gone: what was not answered was not acknowledged.
                let Ok(res) = sent else { break };
                if res.status() != 201 {
                    break;
                }
                let Ok(body) = res.json::<Value>().await else { break };
                acknowledged
                    .lock()
                    .unwrap()
                    .push((body["id"].as_str().unwrap().to_string(), kg));
            }
        }));
    }
    // Killed while the writers are busy.
    for _ in 0..400 {
        if acknowledged.lock().unwrap().len() >= 40 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    server.kill_9();
    for w in writers {
        w.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(
        acknowledged.len() >= 40,
        "{} filings before the kill",
        acknowledged.len()
    );

    // Every acknowledged filing is stored, whole.
    for (id, kg) in &acknowledged {
        let (s, body, _) = app
            .get(
                &format!("/api/v1/transfer-applications/{id}"),
                Some(&reg.enterprise_token),
            )
            .await;
        assert_eq!(s, 200, "acknowledged filing {id} is missing: {body}");
        assert_eq!(body["items"][0]["quantity_kg"], format!("{kg}.000"), "{body}");
    }
    // The ledger equals what is stored: no filing is half-applied (stored without its
    // reservation, or reserved without being stored).
    let (s, list, _) = app
        .get("/api/v1/transfer-applications?limit=200", Some(&reg.enterprise_token))
        .await;
    assert_eq!(s, 200, "{list}");
    let stored: Vec<&Value> = list["items"].as_array().unwrap().iter().collect();
    assert!(list["next_cursor"].is_null(), "fewer than 200 filings");
    assert!(stored.len() >= acknowledged.len());
    assert!(
        stored.len() <= acknowledged.len() + 4,
        "at most one unanswered filing per writer may have committed"
    );
    let stored_kg: i64 = stored
        .iter()
        .map(|a| {
            let kg: f64 = a["items"][0]["quantity_kg"].as_str().unwrap().parse().unwrap();
            (kg * 1000.0).round() as i64
        })
        .sum();
    let (s, e, _) = app
        .get(&format!("/api/v1/whitelist-entries/{entry}"), Some(&reg.cq))
        .await;
    assert_eq!(s, 200, "{e}");
    let reserved: f64 = e["reserved_kg"].as_str().unwrap().parse().unwrap();
    assert_eq!((reserved * 1000.0).round() as i64, stored_kg, "{e}");
    let (s, report, _) = app.get("/api/v1/audit/verify", Some(&reg.admin)).await;
    assert_eq!(s, 200, "{report}");
    assert_eq!(report["intact"], true, "{report}");
    if backend == Backend::Sqlite {
        let path = db.url.trim_start_matches("sqlite://");
        let mut conn = diesel::SqliteConnection::establish(path).unwrap();
        #[derive(diesel::QueryableByName)]
        struct Check {
            #[diesel(sql_type = diesel::sql_types::Text)]
            integrity_check: String,
        }
        let rows: Vec<Check> = diesel::sql_query("PRAGMA integrity_check").load(&mut conn).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].integrity_check, "ok");
    }
    // The service starts again on the same database and serves what it acknowledged.
    let _again = Service::spawn(service_command(&db.url, &data_dir, port), port).await;
    let (id, _) = &acknowledged[acknowledged.len() - 1];
    let r = reqwest::Client::new()
        .get(format!("{base}/api/v1/transfer-applications/{id}"))
        .bearer_auth(&reg.enterprise_token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
both_backends!(
    kill_9_mid_writes_loses_nothing_acknowledged,
    kill_9_mid_writes_loses_nothing_acknowledged
);

/// A TCP proxy in front of PostgreSQL that the test can cut (every open connection reset, new
/// ones refused) and restore, as a database restart looks from the service.
struct Proxy {
    port: u16,
    up: Arc<AtomicBool>,
    open: Arc<Mutex<Vec<TcpStream>>>,
}

impl Proxy {
    fn start(target: &str) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let open = Arc::new(Mutex::new(Vec::new()));
        let (up2, open2, target) = (up.clone(), open.clone(), target.to_string());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { continue };
                if !up2.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(&target) else {
                    continue;
                };
                let mut list = open2.lock().unwrap();
                for s in [&client, &server] {
                    list.push(s.try_clone().unwrap());
                }
                drop(list);
                for (mut from, mut to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 16384];
                        loop {
                            match from.read(&mut buf) {
                                Ok(0) | Err(_) => break,
                                Ok(n) => {
                                    if to.write_all(&buf[..n]).is_err() {
                                        break;
                                    }
                                }
                            }
                        }
                        let _ = to.shutdown(Shutdown::Both);
                    });
                }
            }
        });
        Proxy { port, up, open }
    }

    fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for s in self.open.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

/// PostgreSQL goes away under a running service: reads and writes answer 503 problem+json with
/// Retry-After (quickly, not after a hang), `/readyz` says not ready, a write refused then is
/// not stored; when the database is back the service recovers by itself within seconds, and
/// the audit chain verifies. (SQLite has no server to lose; its fault is the kill -9 above.)
#[actix_web::test]
async fn postgres_away_answers_503_and_recovers() {
    let db = TestDb::new(Backend::Postgres);
    let base = crate::support::postgres_base_url();
    let host = base.rsplit('@').next().unwrap().trim_end_matches('/').to_string();
    let proxy = Proxy::start(&host);
    let mut config = test_config(&db);
    config.database_url = db.url.replace(&host, &format!("127.0.0.1:{}", proxy.port));
    config.pool_timeout_secs = 1;
    let app = TestApp::start(TestDb::reuse(&db), config).await;
    let reg = Registry::setup(&app).await;
    reg.confirmed_entry(&app, "900-249-08", "1000").await;
    let (s, first, _) = app
        .post_json(
            "/api/v1/transfer-applications",
            Some(&reg.enterprise_token),
            &crate::fixtures::filing(&reg.operator_id, "900-249-08", "10"),
        )
        .await;
    assert_eq!(s, 201, "{first}");

    proxy.cut();
    let started = std::time::Instant::now();
    let (s, body, headers) = app
        .get("/api/v1/transfer-applications", Some(&reg.enterprise_token))
        .await;
    assert_problem(s, &body, &headers, 503);
    assert!(headers.get("retry-after").is_some(), "{headers:?}");
    let (s, body, headers) = app
        .post_json(
            "/api/v1/transfer-applications",
            Some(&reg.enterprise_token),
            &crate::fixtures::filing(&reg.operator_id, "900-249-08", "20"),
        )
        .await;
    assert_problem(s, &body, &headers, 503);
    assert!(
        !body.to_string().contains("connection") && !body.to_string().contains("5432"),
        "no internal text: {body}"
    );
    let r = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert!(started.elapsed() < Duration::from_secs(15), "answers come quickly");

    proxy.restore();
    let back = std::time::Instant::now();
    let mut recovered = false;
    for _ in 0..100 {
        let (s, _, _) = app
            .get("/api/v1/transfer-applications", Some(&reg.enterprise_token))
            .await;
        if s == 200 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "the service did not recover");
    assert!(back.elapsed() < Duration::from_secs(10), "{:?}", back.elapsed());
    let (_, list, _) = app
        .get("/api/v1/transfer-applications", Some(&reg.enterprise_token))
        .await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "the refused write is not stored: {list}");
    assert_eq!(items[0]["id"], first["id"]);
    let (s, body, _) = app
        .post_json(
            "/api/v1/transfer-applications",
            Some(&reg.enterprise_token),
            &crate::fixtures::filing(&reg.operator_id, "900-249-08", "20"),
        )
        .await;
    assert_eq!(s, 201, "writes work again: {body}");
    let (s, report, _) = app.get("/api/v1/audit/verify", Some(&reg.admin)).await;
    assert_eq!(s, 200, "{report}");
    assert_eq!(report["intact"], true, "{report}");
}

#[derive(diesel::QueryableByName)]
struct BackendPid {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pid: i32,
}

/// The server process behind the pool's connection, asked through the pool.
async fn pooled_backend(pool: &hwtransfer::db::pool::Db) -> hwtransfer::db::DbResult<i32> {
    pool.run(|c| {
        Ok(diesel::sql_query("SELECT pg_backend_pid() AS pid")
            .get_result::<BackendPid>(c)?
            .pid)
    })
    .await
}

/// Ends a server process as a restart or an administrator would, and waits until it is gone.
fn end_backend(url: &str, pid: i32) {
    let mut admin = diesel::PgConnection::establish(url).expect("admin connection");
    diesel::sql_query(format!("SELECT pg_terminate_backend({pid})"))
        .execute(&mut admin)
        .expect("terminate");
    for _ in 0..100 {
        let alive = diesel::sql_query(format!("SELECT {pid} AS pid FROM pg_stat_activity WHERE pid = {pid}"))
            .load::<BackendPid>(&mut admin)
            .expect("pg_stat_activity");
        if alive.is_empty() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("backend {pid} did not end");
}

/// A pooled connection the database ended is replaced. One idle for longer than the pool trusts
/// an unused connection (`TRUSTED_FOR`) is tested at checkout and replaced before any query
/// fails; one taken again sooner fails that one use as unavailable (a 503, never a 500) and is
/// tested and replaced at the next checkout — one failure per ended connection, not one per use.
#[actix_web::test]
async fn ended_connections_are_replaced_at_checkout() {
    use hwtransfer::db::DbError;
    use hwtransfer::db::pool::{Db, TRUSTED_FOR};
    let db = TestDb::new(Backend::Postgres);
    let pool = Db::connect(&db.url, 2, Duration::from_secs(5)).expect("pool");

    let first = pooled_backend(&pool).await.expect("first use");
    tokio::time::sleep(TRUSTED_FOR + Duration::from_millis(200)).await;
    end_backend(&db.url, first);
    let second = pooled_backend(&pool)
        .await
        .expect("an idle connection is tested at checkout and replaced");
    assert_ne!(second, first, "a new connection");

    end_backend(&db.url, second);
    let failed = pooled_backend(&pool).await;
    assert!(matches!(failed, Err(DbError::Unavailable(_))), "{failed:?}");
    let third = pooled_backend(&pool)
        .await
        .expect("the failed connection is tested and replaced");
    assert_ne!(third, second, "a new connection");
    assert_eq!(
        pooled_backend(&pool).await.expect("used again"),
        third,
        "the new one is kept"
    );
}
