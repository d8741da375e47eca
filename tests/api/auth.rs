//! Token issue and every rejection: alg none, algorithm confusion, wrong key, expiry, nbf,
//! issuer, audience, unknown and disabled subjects, tampered claims; and login throttling.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hwtransfer::auth::principal::{Role, SubjectKind};
use hwtransfer::auth::token::{Claims, sign};
use serde_json::json;

use crate::both_backends;
use crate::support::{Backend, PASSWORD, TestApp, assert_problem};

fn claims_for(app: &TestApp, sub: &str, role: Role, binding: &str) -> Claims {
    let now = chrono::Utc::now().timestamp();
    Claims {
        sub: sub.into(),
        role,
        binding: binding.into(),
        kind: SubjectKind::User,
        name: "someone".into(),
        iat: now,
        nbf: now,
        exp: now + 600,
        iss: app.state.config.jwt_issuer.clone(),
        aud: app.state.config.jwt_audience.clone(),
        jti: uuid::Uuid::new_v4().to_string(),
        scope: None,
    }
}

async fn me_status(app: &TestApp, token: &str) -> (u16, serde_json::Value) {
    let (status, body, headers) = app.get("/api/v1/auth/me", Some(token)).await;
    if status != 200 {
        assert_problem(status, &body, &headers, 401);
        assert_eq!(headers.get("www-authenticate").unwrap(), "Bearer");
    }
    (status, body)
}

async fn password_grant_issues_a_verifiable_token(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.add_user("cq-reg", "regulator", Some("500000")).await;
    let (status, body, headers) = app
        .post_json(
            "/api/v1/auth/token",
            None,
            &json!({"username": "cq-reg", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert_eq!(headers.get("cache-control").unwrap(), "no-store");
    let token = body["access_token"].as_str().unwrap();
    // The claims the issue asks for, readable by any client.
    let payload: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').nth(1).unwrap()).unwrap()).unwrap();
    for claim in ["sub", "role", "binding", "iat", "nbf", "exp", "iss", "aud", "jti"] {
        assert!(payload.get(claim).is_some(), "claim {claim} missing: {payload}");
    }
    assert_eq!(payload["sub"], id.as_str());
    assert_eq!(payload["role"], "regulator");
    assert_eq!(payload["binding"], "province:500000");
    let header: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(token.split('.').next().unwrap()).unwrap()).unwrap();
    assert_eq!(header["alg"], "EdDSA");

    let (status, me) = me_status(&app, token).await;
    assert_eq!(status, 200);
    assert_eq!(me["subject"], id.as_str());
    assert_eq!(me["role"], "regulator");
    assert_eq!(me["binding"], "province:500000");

    // The JWKS publishes the key that verifies it.
    let (status, jwks, _) = app.get("/.well-known/jwks.json", None).await;
    assert_eq!(status, 200);
    assert_eq!(jwks["keys"][0]["kty"], "OKP");
    assert_eq!(jwks["keys"][0]["crv"], "Ed25519");
    assert_eq!(jwks["keys"][0]["kid"], header["kid"]);
    let x = URL_SAFE_NO_PAD.decode(jwks["keys"][0]["x"].as_str().unwrap()).unwrap();
    assert_eq!(x.len(), 32);
    // And the key pair was generated into the data dir on first start.
    assert!(app.state.config.private_key_path().exists());
}
both_backends!(
    password_grant_issues_a_verifiable_token,
    password_grant_issues_a_verifiable_token
);

async fn client_credentials_grant(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let binding = hwtransfer::auth::Binding::Enterprise("ent-1".into());
    let (client_id, secret) = app
        .state
        .db
        .run(move |conn| {
            hwtransfer::cli::add_client(conn, "ERP", Role::Enterprise, &binding, Some("a-long-client-secret"))
                .map_err(hwtransfer::db::DbError::Other)
        })
        .await
        .unwrap();
    let (status, body, _) = app
        .post_json(
            "/api/v1/auth/token",
            None,
            &json!({"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, me) = me_status(&app, body["access_token"].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(me["kind"], "client");
    assert_eq!(me["role"], "enterprise");
    assert_eq!(me["binding"], "enterprise:ent-1");

    let (status, body, headers) = app
        .post_json(
            "/api/v1/auth/token",
            None,
            &json!({"grant_type": "client_credentials", "client_id": client_id, "client_secret": "wrong"}),
        )
        .await;
    assert_problem(status, &body, &headers, 401);
}
both_backends!(client_credentials_grant, client_credentials_grant);

async fn forged_and_stale_tokens_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.add_user("sc-reg", "regulator", Some("510000")).await;
    let good = claims_for(&app, &id, Role::Regulator, "province:510000");
    let ok = sign(&app.state.keys, &good).unwrap();
    assert_eq!(me_status(&app, &ok).await.0, 200, "the control token must pass");

    let b64 = |v: &serde_json::Value| URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap());
    let payload = serde_json::to_value(&good).unwrap();

    // alg: none, with and without a signature part.
    let none = format!("{}.{}.", b64(&json!({"alg": "none", "typ": "JWT"})), b64(&payload));
    assert_eq!(me_status(&app, &none).await.0, 401);
    let none = format!("{}.{}", b64(&json!({"alg": "none", "typ": "JWT"})), b64(&payload));
    assert_eq!(me_status(&app, &none).await.0, 401);

    // Algorithm confusion: HS256 keyed with the public key's PEM and with its raw bytes.
    let public_pem = std::fs::read(app.state.config.public_key_path()).unwrap();
    for secret in [
        public_pem.clone(),
        URL_SAFE_NO_PAD
            .decode(app.state.keys.jwks()["keys"][0]["x"].as_str().unwrap())
            .unwrap(),
    ] {
        let hs = jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
            &good,
            &jsonwebtoken::EncodingKey::from_secret(&secret),
        )
        .unwrap();
        assert_eq!(me_status(&app, &hs).await.0, 401);
    }

    // A valid EdDSA signature by another key.
    let other = tempfile::tempdir().unwrap();
    let (pk, pubk) = (other.path().join("k.pem"), other.path().join("k.pub.pem"));
    let other_keys = hwtransfer::auth::keys::JwtKeys::load_or_generate(&pk, &pubk).unwrap();
    assert_eq!(me_status(&app, &sign(&other_keys, &good).unwrap()).await.0, 401);

    // A tampered payload under the original signature (regulator -> admin).
    let mut parts: Vec<String> = ok.split('.').map(str::to_string).collect();
    let mut tampered = payload.clone();
    tampered["role"] = json!("admin");
    tampered["binding"] = json!("nationwide");
    parts[1] = b64(&tampered);
    assert_eq!(me_status(&app, &parts.join(".")).await.0, 401);
    // Another province under the original signature.
    let mut tampered = payload.clone();
    tampered["binding"] = json!("province:500000");
    parts[1] = b64(&tampered);
    assert_eq!(me_status(&app, &parts.join(".")).await.0, 401);

    let now = chrono::Utc::now().timestamp();
    let variants: Vec<(&str, Claims)> = vec![
        (
            "expired",
            Claims {
                exp: now - 120,
                iat: now - 720,
                nbf: now - 720,
                ..good.clone()
            },
        ),
        (
            "not yet valid",
            Claims {
                nbf: now + 600,
                exp: now + 1200,
                ..good.clone()
            },
        ),
        (
            "wrong issuer",
            Claims {
                iss: "someone-else".into(),
                ..good.clone()
            },
        ),
        (
            "wrong audience",
            Claims {
                aud: "another-api".into(),
                ..good.clone()
            },
        ),
        (
            "unknown subject",
            Claims {
                sub: uuid::Uuid::new_v4().to_string(),
                ..good.clone()
            },
        ),
        // Properly signed but claiming more than the account has: refused.
        (
            "role not the account's",
            Claims {
                role: Role::Admin,
                binding: "nationwide".into(),
                ..good.clone()
            },
        ),
    ];
    for (what, claims) in variants {
        let t = sign(&app.state.keys, &claims).unwrap();
        assert_eq!(me_status(&app, &t).await.0, 401, "{what} must be refused");
    }

    // Garbage and missing headers.
    for h in ["Bearer", "Bearer ", "Basic abc", "Bearer a.b.c", "Bearer ....."] {
        let res = app
            .client
            .get(app.url("/api/v1/auth/me"))
            .header("authorization", h)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 401, "{h}");
    }
    let (status, body, headers) = app.get("/api/v1/auth/me", None).await;
    assert_problem(status, &body, &headers, 401);
}
both_backends!(forged_and_stale_tokens_are_refused, forged_and_stale_tokens_are_refused);

async fn a_disabled_users_token_stops_working(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.add_user("yn-reg", "regulator", Some("530000")).await;
    app.add_user("root", "admin", None).await;
    let token = app.login("yn-reg").await;
    let admin = app.login("root").await;
    assert_eq!(me_status(&app, &token).await.0, 200);

    let (status, body, _) = app
        .post_json(&format!("/api/v1/users/{id}/disable"), Some(&admin), &json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["active"], false);
    // Stored state, not only the answer.
    let row = app
        .state
        .db
        .run(move |c| hwtransfer::db::users::user_by_id(c, &id))
        .await
        .unwrap()
        .unwrap();
    assert!(!row.active);
    assert_eq!(me_status(&app, &token).await.0, 401);
    // And no new token for it, even with the right password.
    let (status, _, _) = app
        .post_json(
            "/api/v1/auth/token",
            None,
            &json!({"username": "yn-reg", "password": PASSWORD}),
        )
        .await;
    assert_eq!(status, 401);
}
both_backends!(
    a_disabled_users_token_stops_working,
    a_disabled_users_token_stops_working
);

async fn failed_logins_are_throttled_per_username(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.add_user("gz-reg", "regulator", Some("520000")).await;
    for i in 0..5 {
        let (status, body, headers) = app
            .post_json(
                "/api/v1/auth/token",
                None,
                &json!({"username": "gz-reg", "password": format!("wrong-{i}")}),
            )
            .await;
        assert_problem(status, &body, &headers, 401);
    }
    // Even the right password is refused during the lockout, with a clear 429.
    let (status, body, headers) = app
        .post_json(
            "/api/v1/auth/token",
            None,
            &json!({"username": "gz-reg", "password": PASSWORD}),
        )
        .await;
    assert_problem(status, &body, &headers, 429);
    let retry: u64 = headers.get("retry-after").unwrap().to_str().unwrap().parse().unwrap();
    assert!((800..=900).contains(&retry), "retry-after {retry}");
    assert!(body["detail"].as_str().unwrap().contains("15 minute"), "{body}");
    let row = app
        .state
        .db
        .run(|c| hwtransfer::db::throttle::locked_until(c, "user:gz-reg", hwtransfer::db::db_now()))
        .await
        .unwrap();
    assert!(row.is_some(), "the lockout is stored, so every replica sees it");
}
both_backends!(
    failed_logins_are_throttled_per_username,
    failed_logins_are_throttled_per_username
);

async fn failed_logins_are_throttled_per_address(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.add_user("good-user", "auditor", None).await;
    for i in 0..5 {
        let (status, _, _) = app
            .post_json(
                "/api/v1/auth/token",
                None,
                &json!({"username": format!("guess-{i}"), "password": "x"}),
            )
            .await;
        assert_eq!(status, 401);
    }
    let (status, body, headers) = app
        .post_json(
            "/api/v1/auth/token",
            None,
            &json!({"username": "good-user", "password": PASSWORD}),
        )
        .await;
    assert_problem(status, &body, &headers, 429);
}
both_backends!(
    failed_logins_are_throttled_per_address,
    failed_logins_are_throttled_per_address
);

async fn a_success_clears_the_account_counter(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.add_user("ops", "auditor", Some("510000")).await;
    for _ in 0..3 {
        let (s, _, _) = app
            .post_json(
                "/api/v1/auth/token",
                None,
                &json!({"username": "ops", "password": "nope"}),
            )
            .await;
        assert_eq!(s, 401);
    }
    app.login("ops").await;
    let n = app
        .state
        .db
        .run(|c| hwtransfer::db::throttle::locked_until(c, "user:ops", hwtransfer::db::db_now()))
        .await
        .unwrap();
    assert!(n.is_none());
}
both_backends!(
    a_success_clears_the_account_counter,
    a_success_clears_the_account_counter
);

#[actix_web::test]
async fn token_request_problems_are_all_listed() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (status, body, headers) = app
        .post_json("/api/v1/auth/token", None, &json!({"username": 5, "extra": true}))
        .await;
    let codes = assert_problem(status, &body, &headers, 422);
    assert!(codes.contains(&"body.type".to_string()), "{body}");
    assert!(codes.contains(&"body.required".to_string()), "{body}");
    assert!(codes.contains(&"body.unknown_field".to_string()), "{body}");
    let pointers: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["pointer"].as_str().unwrap())
        .collect();
    assert!(pointers.contains(&"/username") && pointers.contains(&"/password") && pointers.contains(&"/extra"));
    let (status, body, headers) = app
        .post_json("/api/v1/auth/token", None, &json!({"grant_type": "implicit"}))
        .await;
    let codes = assert_problem(status, &body, &headers, 422);
    assert_eq!(codes, vec!["auth.unsupported_grant_type"]);
}

/// Behind a trusted proxy the lockout is per client address from X-Forwarded-For, so one
/// client's failures do not lock out everyone behind the proxy; an untrusted peer's header is ignored.
#[actix_web::test]
async fn throttling_behind_a_trusted_proxy() {
    let app = TestApp::spawn_with(Backend::Sqlite, |c| {
        c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]
    })
    .await;
    app.add_user("other", "auditor", None).await;
    let attempt = |xff: &'static str, user: &'static str, pw: &'static str| {
        app.client
            .post(app.url("/api/v1/auth/token"))
            .header("x-forwarded-for", xff)
            .json(&json!({"username": user, "password": pw}))
            .send()
    };
    for i in 0..5 {
        let r = attempt("203.0.113.7", ["a", "b", "c", "d", "e"][i], "wrong")
            .await
            .unwrap();
        assert_eq!(r.status(), 401);
    }
    // 203.0.113.7 is locked out; another client behind the same proxy is not.
    assert_eq!(attempt("203.0.113.7", "other", PASSWORD).await.unwrap().status(), 429);
    assert_eq!(attempt("198.51.100.9", "other", PASSWORD).await.unwrap().status(), 200);
    let locked = app
        .state
        .db
        .run(|c| hwtransfer::db::throttle::locked_until(c, "ip:203.0.113.7", hwtransfer::db::db_now()))
        .await
        .unwrap();
    assert!(locked.is_some());
}
