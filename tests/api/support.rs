//! Test harness: every test gets its own database (SQLite: a temp file; PostgreSQL: a database
//! cloned from a migrated template, dropped afterwards) and a real server on a random port.

#![allow(dead_code)]

use actix_web::web;
use diesel::{Connection, PgConnection, RunQueryDsl};
use hwtransfer::app::{self, AppState};
use hwtransfer::config::Config;
use hwtransfer::db::pool::Db;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs the test body once per backend: `both_backends!(name, async_fn)` makes `name::sqlite`
/// and `name::postgres`.
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:ident) => {
        mod $name {
            #[actix_web::test]
            async fn sqlite() {
                super::$body($crate::support::Backend::Sqlite).await
            }
            #[actix_web::test]
            async fn postgres() {
                super::$body($crate::support::Backend::Postgres).await
            }
        }
    };
}

pub fn postgres_base_url() -> String {
    std::env::var("TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// A database of one test.
pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    pub dir: tempfile::TempDir,
    pg_name: Option<String>,
    /// The server holding `pg_name`, when not the tests' usual one.
    server: Option<String>,
}

impl TestDb {
    pub fn new(backend: Backend) -> TestDb {
        let dir = tempfile::tempdir().expect("tempdir");
        match backend {
            Backend::Sqlite => TestDb {
                url: format!("sqlite://{}", dir.path().join("test.db").display()),
                backend,
                dir,
                pg_name: None,
                server: None,
            },
            Backend::Postgres => {
                let template = ensure_template();
                let name = format!("hwt_test_{}", uuid::Uuid::new_v4().simple());
                let mut admin = PgConnection::establish(&format!("{}/postgres", postgres_base_url()))
                    .expect("PostgreSQL must run for the tests (scripts/test.sh starts or creates one; see README)");
                // Two clones of one template at the same instant can collide; retry briefly.
                let mut tries = 0;
                loop {
                    match diesel::sql_query(format!("CREATE DATABASE {name} TEMPLATE {template}")).execute(&mut admin) {
                        Ok(_) => break,
                        Err(e) if tries < 50 => {
                            tries += 1;
                            let _ = e;
                            std::thread::sleep(std::time::Duration::from_millis(100 + tries * 20));
                        }
                        Err(e) => panic!("creating test database: {e}"),
                    }
                }
                TestDb {
                    url: format!("{}/{name}", postgres_base_url()),
                    backend,
                    dir,
                    pg_name: Some(name),
                    server: None,
                }
            }
        }
    }

    /// A second handle on the same database that does not drop it (the original owns it).
    pub fn reuse(other: &TestDb) -> TestDb {
        TestDb {
            url: other.url.clone(),
            backend: other.backend,
            dir: tempfile::tempdir().expect("tempdir"),
            pg_name: None,
            server: None,
        }
    }

    /// An empty PostgreSQL database (no migrations) on the server at `server`, dropped afterwards.
    pub fn empty_on(server: &str) -> TestDb {
        let name = format!("hwt_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::establish(&format!("{server}/postgres")).expect("PostgreSQL");
        diesel::sql_query(format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .expect("create db");
        TestDb {
            url: format!("{server}/{name}"),
            backend: Backend::Postgres,
            dir: tempfile::tempdir().expect("tempdir"),
            pg_name: Some(name),
            server: Some(server.to_string()),
        }
    }

    /// An empty PostgreSQL database (no migrations), or an empty SQLite file.
    pub fn empty(backend: Backend) -> TestDb {
        let dir = tempfile::tempdir().expect("tempdir");
        match backend {
            Backend::Sqlite => TestDb {
                url: format!("sqlite://{}", dir.path().join("empty.db").display()),
                backend,
                dir,
                pg_name: None,
                server: None,
            },
            Backend::Postgres => {
                let name = format!("hwt_test_{}", uuid::Uuid::new_v4().simple());
                let mut admin =
                    PgConnection::establish(&format!("{}/postgres", postgres_base_url())).expect("PostgreSQL");
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut admin)
                    .expect("create db");
                TestDb {
                    url: format!("{}/{name}", postgres_base_url()),
                    backend,
                    dir,
                    pg_name: Some(name),
                    server: None,
                }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let server = self.server.clone().unwrap_or_else(postgres_base_url);
        if let Some(name) = &self.pg_name
            && let Ok(mut admin) = PgConnection::establish(&format!("{server}/postgres"))
        {
            let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).execute(&mut admin);
        }
    }
}

/// The migrated template database, made once per migration content and shared by every test
/// process (nextest runs each test in its own process), under an advisory lock.
fn ensure_template() -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/postgres");
    let mut files: Vec<_> = walk(&root);
    files.sort();
    for f in files {
        hasher.update(f.to_string_lossy().as_bytes());
        hasher.update(std::fs::read(&f).expect("read migration"));
    }
    // The reference data loaded into the template changes with the binary's data files too.
    hasher.update(include_bytes!("../../data/hw-catalogue-2021.csv"));
    hasher.update(include_bytes!("../../data/cn-holidays.csv"));
    let digest = hasher.finalize();
    let name = format!(
        "hwt_tpl_{}",
        digest.iter().take(6).map(|b| format!("{b:02x}")).collect::<String>()
    );
    let mut admin = PgConnection::establish(&format!("{}/postgres", postgres_base_url()))
        .expect("PostgreSQL must run for the tests (scripts/test.sh starts or creates one; see README)");
    diesel::sql_query("SELECT pg_advisory_lock(727001)")
        .execute(&mut admin)
        .expect("lock");
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let exists = diesel::sql_query(format!(
        "SELECT count(*) AS n FROM pg_database WHERE datname = '{name}'"
    ))
    .get_result::<Count>(&mut admin)
    .expect("query")
    .n > 0;
    if !exists {
        let building = format!("{name}_building");
        let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)")).execute(&mut admin);
        diesel::sql_query(format!("CREATE DATABASE {building}"))
            .execute(&mut admin)
            .expect("create template");
        {
            let db = Db::connect(
                &format!("{}/{building}", postgres_base_url()),
                2,
                std::time::Duration::from_secs(10),
            )
            .expect("pool");
            app::prepare_database(&db, chrono::NaiveTime::from_hms_opt(17, 30, 0).unwrap()).expect("migrate template");
        }
        // Renaming marks the template complete; pooled connections must be gone first.
        diesel::sql_query(format!(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{building}' AND pid <> pg_backend_pid()"
        ))
        .execute(&mut admin)
        .expect("terminate");
        diesel::sql_query(format!("ALTER DATABASE {building} RENAME TO {name}"))
            .execute(&mut admin)
            .expect("rename");
    }
    diesel::sql_query("SELECT pg_advisory_unlock(727001)")
        .execute(&mut admin)
        .expect("unlock");
    name
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir").flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// A running service on a random port with its own database.
pub struct TestApp {
    pub addr: std::net::SocketAddr,
    pub client: reqwest::Client,
    pub state: web::Data<AppState>,
    pub db: TestDb,
}

pub fn test_config(db: &TestDb) -> Config {
    let mut config = Config::defaults();
    config.database_url = db.url.clone();
    config.data_dir = db.dir.path().join("data");
    config.listen = "127.0.0.1:0".into();
    config.pool_size = 4;
    config.user_cache_secs = 0;
    // Tests make many requests with one token at once; `rate_limit.rs` turns the limit on.
    config.rate_limit_per_sec = 0;
    // The suite's admins and regulators sign in with a password alone; `second_factor.rs` enrols
    // factors and turns `required` on itself.
    config.second_factor = hwtransfer::config::SecondFactorMode::Enrolled;
    config
}

impl TestApp {
    pub async fn spawn(backend: Backend) -> TestApp {
        Self::spawn_with(backend, |_| {}).await
    }

    pub async fn spawn_with(backend: Backend, tweak: impl FnOnce(&mut Config)) -> TestApp {
        let db = TestDb::new(backend);
        let mut config = test_config(&db);
        tweak(&mut config);
        Self::start(db, config).await
    }

    pub async fn start(db: TestDb, config: Config) -> TestApp {
        // TEST_LOG=debug shows the service's logs while debugging a test.
        if let Ok(filter) = std::env::var("TEST_LOG") {
            hwtransfer::telemetry::init(hwtransfer::config::LogFormat::Pretty, &filter);
        }
        let state = AppState::new(config).expect("state");
        let pool = state.db.clone();
        let (close, suite) = (state.config.office_close, state.config.crypto);
        web::block(move || app::prepare_database_with(&pool, close, suite))
            .await
            .expect("block")
            .expect("prepare database");
        let state = web::Data::new(state);
        let prepared = state.clone();
        web::block(move || app::prepare_state(&prepared))
            .await
            .expect("block")
            .expect("prepare state");
        let (server, addr) = app::start_server(state.clone(), "127.0.0.1:0").expect("bind");
        actix_web::rt::spawn(server);
        TestApp {
            addr,
            client: reqwest::Client::new(),
            state,
            db,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Creates a user directly (as the CLI would) and returns its id.
    pub async fn add_user(&self, username: &str, role: &str, binding: Option<&str>) -> String {
        use hwtransfer::api::users::{NewUser, binding_for, create_user};
        use hwtransfer::auth::Role;
        let role = Role::parse(role).expect("role");
        let (p, e, o) = match role {
            Role::Regulator | Role::Auditor => (binding, None, None),
            Role::Enterprise => (None, binding, None),
            Role::Operator => (None, None, binding),
            Role::Admin => (None, None, None),
        };
        let binding = binding_for(role, p, e, o).expect("binding");
        let new = NewUser {
            username: username.into(),
            password: PASSWORD.into(),
            role,
            display_name: username.into(),
            binding,
        };
        let row = self
            .state
            .db
            .run(move |conn| create_user(conn, &new))
            .await
            .expect("create user");
        row.id
    }

    pub async fn login(&self, username: &str) -> String {
        self.login_with(username, PASSWORD).await
    }

    pub async fn login_with(&self, username: &str, password: &str) -> String {
        let res = self
            .client
            .post(self.url("/api/v1/auth/token"))
            .json(&serde_json::json!({"username": username, "password": password}))
            .send()
            .await
            .expect("send");
        assert_eq!(res.status(), 200, "login of {username}");
        let body: Value = res.json().await.expect("json");
        body["access_token"].as_str().expect("token").to_string()
    }

    /// A GET answered with text (the metrics).
    pub async fn get_text(&self, path: &str) -> String {
        let res = self.client.get(self.url(path)).send().await.expect("send");
        assert_eq!(res.status(), 200, "GET {path}");
        res.text().await.expect("text")
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> (u16, Value, reqwest::header::HeaderMap) {
        let mut req = self.client.get(self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        split(req.send().await.expect("send")).await
    }

    pub async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let mut req = self.client.request(method, self.url(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        split(req.send().await.expect("send")).await
    }

    pub async fn post_json(
        &self,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        self.send_json(reqwest::Method::POST, path, token, body).await
    }

    /// POSTs with extra headers.
    pub async fn post_json_with(
        &self,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: &Value,
    ) -> (u16, Value, reqwest::header::HeaderMap) {
        let mut req = self.client.post(self.url(path)).json(body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        split(req.send().await.expect("send")).await
    }

    /// Files an application as a client that accepts the standard route: when the answer is
    /// 422 confirmation-required, the same body goes again with its `X-Confirm-Warnings` token.
    pub async fn file_confirmed(&self, token: &str, body: &Value) -> (u16, Value, reqwest::header::HeaderMap) {
        let path = "/api/v1/transfer-applications";
        let (s, b, h) = self.post_json(path, Some(token), body).await;
        match b["confirmation_token"].as_str() {
            Some(confirm) if s == 422 => {
                assert_eq!(b["type"], "/problems/confirmation-required", "{b}");
                self.post_json_with(path, Some(token), &[("x-confirm-warnings", confirm)], body)
                    .await
            }
            _ => (s, b, h),
        }
    }
}

pub const PASSWORD: &str = "test-password-123";

pub async fn split(res: reqwest::Response) -> (u16, Value, reqwest::header::HeaderMap) {
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let text = res.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, body, headers)
}

/// Asserts a problem+json answer with `status`, a request id, and returns its `errors` codes.
pub fn assert_problem(status: u16, body: &Value, headers: &reqwest::header::HeaderMap, expected: u16) -> Vec<String> {
    assert_eq!(status, expected, "status; body: {body}");
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/problem+json"),
        "content type; body: {body}"
    );
    assert_eq!(body["status"], expected);
    let rid = body["request_id"].as_str().expect("request_id");
    assert!(!rid.is_empty());
    assert_eq!(headers.get("x-request-id").and_then(|v| v.to_str().ok()), Some(rid));
    assert!(body["type"].as_str().is_some_and(|t| t.starts_with("/problems/")));
    body["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| e["code"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// A port nothing listens on at the moment.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// `hwtransfer serve` (the real binary) for `db_url` on `port`: no sweeper, no request limit,
/// warnings only, output discarded. Add or override settings with `.env(…)`, then
/// `Service::spawn`.
pub fn service_command(db_url: &str, data_dir: &std::path::Path, port: u16) -> std::process::Command {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_hwtransfer"));
    cmd.arg("serve")
        .env("HWT_DATABASE_URL", db_url)
        .env("HWT_DATA_DIR", data_dir)
        .env("HWT_LISTEN", format!("127.0.0.1:{port}"))
        .env("HWT_RATE_LIMIT_PER_SEC", "0")
        .env("HWT_LOG", "warn")
        .env("HWT_SWEEP_INTERVAL_SECS", "0")
        // Like the in-process harness: admins and regulators sign in with a password alone.
        .env("HWT_SECOND_FACTOR", "enrolled")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    cmd
}

/// A service process, ready to serve; killed with SIGKILL when dropped.
pub struct Service {
    pub child: std::process::Child,
    pub base: String,
}

impl Service {
    pub async fn spawn(mut cmd: std::process::Command, port: u16) -> Service {
        let service = Service {
            child: cmd.spawn().expect("the service binary starts"),
            base: format!("http://127.0.0.1:{port}"),
        };
        wait_ready(&service.base).await;
        service
    }

    /// SIGKILL, as a crash or an OOM kill would end it.
    pub fn kill_9(&mut self) {
        self.child.kill().expect("kill");
        self.child.wait().expect("wait");
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until `/readyz` answers 200 (at most 10 s).
pub async fn wait_ready(base: &str) {
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await
            && r.status() == 200
        {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("server on {base} did not become ready");
}
