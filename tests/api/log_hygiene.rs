//! No secret and no token in the logs. The real binary runs at `debug` level, with its stderr
//! captured, while every secret the service handles passes through it: passwords (right and
//! wrong, over the API and the UI's login form), access tokens (valid, forged, expired-looking),
//! an API client's secret, a new user's password, a webhook subscription's secret and the UI's
//! session cookie. None of them may appear in the log, in either log format.

use std::process::Stdio;

use serde_json::{Value, json};

use crate::both_backends;
use crate::fixtures::Registry;
use crate::support::{Backend, PASSWORD, Service, TestApp, TestDb, free_port, service_command, test_config};

async fn no_secret_or_token_in_the_logs(backend: Backend) {
    for format in ["json", "pretty"] {
        let db = TestDb::new(backend);
        let config = test_config(&db);
        let data_dir = config.data_dir.clone();
        let app = TestApp::start(TestDb::reuse(&db), config).await;
        let reg = Registry::setup(&app).await;
        let binding = hwtransfer::auth::Binding::Enterprise(reg.enterprise_id.clone());
        let (client_id, client_secret) = app
            .state
            .db
            .run(move |conn| {
                hwtransfer::cli::add_client(
                    conn,
                    "ERP",
                    hwtransfer::auth::Role::Enterprise,
                    &binding,
                    Some("erp-client-secret-0f9e8d7c"),
                )
                .map_err(hwtransfer::db::DbError::Other)
            })
            .await
            .unwrap();

        let port = free_port();
        let log_path = db.dir.path().join("service.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let mut cmd = service_command(&db.url, &data_dir, port);
        cmd.env("HWT_LOG", "debug")
            .env("HWT_LOG_FORMAT", format)
            .env("HWT_WEBHOOK_ALLOW_HTTP", "true")
            .env("HWT_WEBHOOK_ALLOW_PRIVATE", "true")
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log));
        let mut service = Service::spawn(cmd, port).await;
        let base = service.base.clone();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let post = |path: &str, token: Option<&str>, body: Value| {
            let mut req = client.post(format!("{base}{path}")).json(&body);
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            req.send()
        };
        let mut secrets: Vec<String> = vec![
            PASSWORD.into(),
            client_secret.clone(),
            "wrong-Passw0rd-for-the-log-test".into(),
            "N3w-user-Secret-for-the-log-test".into(),
        ];

        // Passwords, right and wrong; the tokens they give.
        let r = post(
            "/api/v1/auth/token",
            None,
            json!({"username": "cq", "password": PASSWORD}),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 200);
        let cq: Value = r.json().await.unwrap();
        let cq_token = cq["access_token"].as_str().unwrap().to_string();
        let r = post(
            "/api/v1/auth/token",
            None,
            json!({"username": "cq", "password": "wrong-Passw0rd-for-the-log-test"}),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 401);
        // A client's secret and its token.
        let r = post(
            "/api/v1/auth/token",
            None,
            json!({"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret}),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 200);
        let erp: Value = r.json().await.unwrap();
        let erp_token = erp["access_token"].as_str().unwrap().to_string();
        // A new user's password, set by the admin.
        let admin = post(
            "/api/v1/auth/token",
            None,
            json!({"username": "root", "password": PASSWORD}),
        )
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["access_token"]
            .as_str()
            .unwrap()
            .to_string();
        let r = post(
            "/api/v1/users",
            Some(&admin),
            json!({"username": "new-officer", "password": "N3w-user-Secret-for-the-log-test", "role": "regulator", "province": "520000"}),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        // A webhook secret.
        let r = post(
            "/api/v1/webhook-subscriptions",
            Some(&erp_token),
            json!({"url": "http://127.0.0.1:9/hook", "event_types": ["application.filed"]}),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 201);
        let sub: Value = r.json().await.unwrap();
        secrets.push(sub["secret"].as_str().unwrap().to_string());
        // Tokens used, good and bad: a read, a write, a tampered token, a token in the query.
        let r = client
            .get(format!("{base}/api/v1/transfer-applications"))
            .bearer_auth(&cq_token)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        // No entry: the standard route, confirmed (the confirmation goes in a header too).
        let r = post(
            "/api/v1/transfer-applications",
            Some(&erp_token),
            crate::fixtures::filing(&reg.operator_id, "900-249-08", "3"),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), 422);
        let asked: Value = r.json().await.unwrap();
        let r = client
            .post(format!("{base}/api/v1/transfer-applications"))
            .bearer_auth(&erp_token)
            .header("x-confirm-warnings", asked["confirmation_token"].as_str().unwrap())
            .json(&crate::fixtures::filing(&reg.operator_id, "900-249-08", "3"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let tampered = format!("{}x", &cq_token[..cq_token.len() - 1]);
        let r = client
            .get(format!("{base}/api/v1/auth/me"))
            .bearer_auth(&tampered)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        let r = client
            .get(format!("{base}/api/v1/auth/me?access_token={cq_token}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
        // The UI's login form and its session cookie.
        let login = client.get(format!("{base}/ui/login")).send().await.unwrap();
        let csrf_cookie =
            crate::ui::cookie_from(&login, "hwt_login_csrf").unwrap()["hwt_login_csrf=".len()..].to_string();
        let r = client
            .post(format!("{base}/ui/login"))
            .header("cookie", format!("hwt_login_csrf={csrf_cookie}"))
            .form(&[("username", "sc"), ("password", PASSWORD), ("csrf", &csrf_cookie)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303);
        let session = crate::ui::cookie_from(&r, "hwt_session").unwrap()["hwt_session=".len()..].to_string();
        let r = client
            .get(format!("{base}/ui/queue"))
            .header("cookie", format!("hwt_session={session}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);

        for token in [&cq_token, &erp_token, &admin, &tampered, &session, &reg.cq] {
            secrets.push(token.to_string());
            // The signature alone identifies a token too.
            secrets.push(token.rsplit('.').next().unwrap().to_string());
        }
        service.kill_9();
        let text = std::fs::read_to_string(&log_path).unwrap();
        assert!(
            text.lines().count() >= 5 && text.contains("listening"),
            "the log was written ({format}): {text}"
        );
        // Written to a file, not a terminal: no colour codes in either format.
        assert!(
            !text.contains('\u{1b}'),
            "the {format} log written to a file carries ANSI escape codes:\n{text}"
        );
        for s in &secrets {
            assert!(
                !text.contains(s.as_str()),
                "the {format} log contains a secret or token ({}…):\n{text}",
                &s[..6.min(s.len())]
            );
        }
    }
}
both_backends!(no_secret_or_token_in_the_logs, no_secret_or_token_in_the_logs);
