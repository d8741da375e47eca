//! The second factor (TOTP, RFC 6238) of admins and regulators: enrolment, sign-in with a code,
//! no replay, recovery codes, disabling and an admin's reset, the audit records of each, and the
//! `required` rollout setting.

use hwtransfer::auth::totp;
use hwtransfer::config::SecondFactorMode;
use hwtransfer::db;
use serde_json::{Value, json};

use crate::both_backends;
use crate::support::{Backend, PASSWORD, TestApp, assert_problem};

fn now() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0)
}

async fn token_req(app: &TestApp, username: &str, totp: Option<&str>) -> (u16, Value) {
    let mut body = json!({"username": username, "password": PASSWORD});
    if let Some(code) = totp {
        body["totp"] = json!(code);
    }
    let (s, b, h) = app.post_json("/api/v1/auth/token", None, &body).await;
    if s != 200 {
        assert_problem(s, &b, &h, s);
    }
    (s, b)
}

async fn factor(app: &TestApp, user_id: &str) -> Option<db::second_factor::SecondFactorRow> {
    let id = user_id.to_string();
    app.state
        .db
        .run(move |conn| db::second_factor::factor_of(conn, &id))
        .await
        .expect("factor")
}

async fn codes_left(app: &TestApp, user_id: &str) -> i64 {
    let id = user_id.to_string();
    app.state
        .db
        .run(move |conn| db::second_factor::recovery_codes_left(conn, &id))
        .await
        .expect("codes")
}

/// The audit records of `user_id`: (action, actor, diff).
async fn audit_of(app: &TestApp, user_id: &str) -> Vec<(String, String, String)> {
    let filter = db::audit::EventFilter {
        object_type: Some("user".into()),
        object_id: Some(user_id.to_string()),
        actor: None,
        from: None,
        to: None,
    };
    app.state
        .db
        .run(move |conn| db::audit::events(conn, &filter, None, 1000))
        .await
        .expect("audit")
        .into_iter()
        .map(|r| (r.action, r.actor, r.diff))
        .collect()
}

/// Enrols `username`'s factor through the API with `token`; answers the secret and recovery codes.
async fn enrol(app: &TestApp, token: &str) -> (String, Vec<String>) {
    let (s, b, _) = app
        .post_json("/api/v1/auth/second-factor", Some(token), &json!({}))
        .await;
    assert_eq!(s, 201, "{b}");
    let secret = b["secret"].as_str().expect("secret").to_string();
    let code = totp::code_at(&secret, now()).expect("code");
    let (s, b, _) = app
        .post_json(
            "/api/v1/auth/second-factor/confirm",
            Some(token),
            &json!({"code": code}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let codes = b["recovery_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().unwrap_or_default().to_string())
        .collect();
    (secret, codes)
}

async fn enrol_login_replay_recovery_disable(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let id = app.add_user("admin1", "admin", None).await;
    let token = app.login("admin1").await;

    // Enrolment starts: a base32 secret and its otpauth URI, stored unconfirmed.
    let (s, b, _) = app
        .post_json("/api/v1/auth/second-factor", Some(&token), &json!({}))
        .await;
    assert_eq!(s, 201, "{b}");
    let secret = b["secret"].as_str().expect("secret").to_string();
    assert_eq!(secret.len(), 32);
    let uri = b["otpauth_uri"].as_str().expect("uri");
    assert!(uri.starts_with("otpauth://totp/hwtransfer:admin1?"), "{uri}");
    assert!(
        uri.contains(&format!("secret={secret}")) && uri.contains("issuer=hwtransfer"),
        "{uri}"
    );
    assert_eq!((b["digits"].as_u64(), b["period"].as_u64()), (Some(6), Some(30)));
    let row = factor(&app, &id).await.expect("pending factor");
    assert!(row.confirmed_at.is_none());
    // Pending, the factor is not asked for yet.
    assert_eq!(token_req(&app, "admin1", None).await.0, 200);

    // A wrong first code confirms nothing.
    let wrong = if totp::code_at(&secret, now()).expect("code") == "000000" {
        "111111"
    } else {
        "000000"
    };
    let (s, b, h) = app
        .post_json(
            "/api/v1/auth/second-factor/confirm",
            Some(&token),
            &json!({"code": wrong}),
        )
        .await;
    assert_eq!(assert_problem(s, &b, &h, 422), vec!["second_factor.wrong_code"]);
    assert!(factor(&app, &id).await.expect("factor").confirmed_at.is_none());

    // The right one confirms it and hands out ten recovery codes, stored only as hashes.
    let t0 = now();
    let first = totp::code_at(&secret, t0).expect("code");
    let (s, b, _) = app
        .post_json(
            "/api/v1/auth/second-factor/confirm",
            Some(&token),
            &json!({"code": first}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let codes: Vec<String> = b["recovery_codes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(|c| c.as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(codes.len(), 10);
    assert!(factor(&app, &id).await.expect("factor").confirmed_at.is_some());
    assert_eq!(codes_left(&app, &id).await, 10);
    // Confirming again is refused: a factor is enrolled; so is starting another enrolment.
    let (s, b, h) = app
        .post_json(
            "/api/v1/auth/second-factor/confirm",
            Some(&token),
            &json!({"code": first}),
        )
        .await;
    assert_problem(s, &b, &h, 409);
    let (s, b, h) = app
        .post_json("/api/v1/auth/second-factor", Some(&token), &json!({}))
        .await;
    assert_problem(s, &b, &h, 409);
    assert_eq!(factor(&app, &id).await.expect("factor").secret, secret);

    // Now the password alone is refused, with the answer of a wrong password (it reveals nothing).
    let (s, b) = token_req(&app, "admin1", None).await;
    assert_eq!(s, 401);
    assert_eq!(b["detail"], "invalid credentials");
    // The code that confirmed the enrolment was used: it cannot sign in within its window.
    assert_eq!(token_req(&app, "admin1", Some(&first)).await.0, 401);
    // The next step's code signs in once, and only once.
    let next = totp::code_at(&secret, t0 + 30).expect("code");
    let (s, b) = token_req(&app, "admin1", Some(&next)).await;
    assert_eq!(s, 200, "{b}");
    assert!(b.get("scope").is_none(), "{b}");
    assert_eq!(token_req(&app, "admin1", Some(&next)).await.0, 401);
    // A recovery code signs in once.
    assert_eq!(token_req(&app, "admin1", Some(&codes[0])).await.0, 200);
    assert_eq!(token_req(&app, "admin1", Some(&codes[0])).await.0, 401);
    assert_eq!(codes_left(&app, &id).await, 9);

    // Disabling needs a valid code; a wrong one changes nothing.
    let (s, b, h) = app
        .post_json(
            "/api/v1/auth/second-factor/disable",
            Some(&token),
            &json!({"code": "AAAAA-BBBBB"}),
        )
        .await;
    assert_problem(s, &b, &h, 422);
    assert!(factor(&app, &id).await.is_some());
    let (s, _, _) = app
        .post_json(
            "/api/v1/auth/second-factor/disable",
            Some(&token),
            &json!({"code": codes[1]}),
        )
        .await;
    assert_eq!(s, 204);
    assert!(factor(&app, &id).await.is_none());
    assert_eq!(codes_left(&app, &id).await, 0);
    assert_eq!(token_req(&app, "admin1", None).await.0, 200);

    // The trail has each change, by the person, and neither the secret nor a code.
    let trail = audit_of(&app, &id).await;
    let actions: Vec<&str> = trail.iter().map(|(a, _, _)| a.as_str()).collect();
    for wanted in ["second_factor_enrolled", "recovery_code_used", "second_factor_disabled"] {
        assert!(actions.contains(&wanted), "{wanted} missing from {actions:?}");
    }
    for (_, _, diff) in &trail {
        assert!(!diff.contains(&secret), "{diff}");
        assert!(codes.iter().all(|c| !diff.contains(c.as_str())), "{diff}");
    }
}
both_backends!(
    enrol_login_replay_recovery_disable_,
    enrol_login_replay_recovery_disable
);

async fn admin_resets_and_who_may_enrol(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin_id = app.add_user("admin1", "admin", None).await;
    let reg_id = app.add_user("reg1", "regulator", Some("500000")).await;
    app.add_user("ent1", "enterprise", Some("E1")).await;
    let admin = app.login("admin1").await;
    let reg = app.login("reg1").await;
    let ent = app.login("ent1").await;

    // Enterprise users have no second factor to enrol.
    let (s, b, h) = app
        .post_json("/api/v1/auth/second-factor", Some(&ent), &json!({}))
        .await;
    assert_problem(s, &b, &h, 403);

    let (secret, _) = enrol(&app, &reg).await;
    assert!(factor(&app, &reg_id).await.is_some());
    // A regulator may not reset anybody's factor, the admin's own reset of one without any is a conflict.
    let path = format!("/api/v1/users/{reg_id}/second-factor/reset");
    let (s, b, h) = app.post_json(&path, Some(&reg), &json!({})).await;
    assert_problem(s, &b, &h, 403);
    assert!(factor(&app, &reg_id).await.is_some());
    let (s, b, h) = app
        .post_json(
            &format!("/api/v1/users/{admin_id}/second-factor/reset"),
            Some(&admin),
            &json!({}),
        )
        .await;
    assert_problem(s, &b, &h, 409);
    let (s, b, h) = app
        .post_json(
            "/api/v1/users/0190f0f0-0000-7000-8000-00000000dead/second-factor/reset",
            Some(&admin),
            &json!({}),
        )
        .await;
    assert_problem(s, &b, &h, 404);

    // The admin resets the regulator's (a lost phone): gone, audited as the admin's act.
    let (s, _, _) = app.post_json(&path, Some(&admin), &json!({})).await;
    assert_eq!(s, 204);
    assert!(factor(&app, &reg_id).await.is_none());
    assert_eq!(codes_left(&app, &reg_id).await, 0);
    assert_eq!(token_req(&app, "reg1", None).await.0, 200);
    let trail = audit_of(&app, &reg_id).await;
    let reset = trail
        .iter()
        .find(|(a, _, _)| a == "second_factor_reset")
        .expect("reset audited");
    assert_eq!(reset.1, admin_id);
    assert!(trail.iter().all(|(_, _, d)| !d.contains(&secret)));
}
both_backends!(admin_resets_and_who_may_enrol_, admin_resets_and_who_may_enrol);

async fn required_mode_enforces(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.second_factor = SecondFactorMode::Required).await;
    let id = app.add_user("admin1", "admin", None).await;
    app.add_user("ent1", "enterprise", Some("E1")).await;

    // People whose role needs no factor are not affected.
    let (s, b) = token_req(&app, "ent1", None).await;
    assert_eq!(s, 200);
    assert!(b.get("scope").is_none(), "{b}");

    // Without a factor, the admin's password gets a token that may only enrol one.
    let (s, b) = token_req(&app, "admin1", None).await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["scope"], "second_factor_enrolment");
    let limited = b["access_token"].as_str().expect("token").to_string();
    for path in ["/api/v1/auth/me", "/api/v1/users"] {
        let (s, b, h) = app.get(path, Some(&limited)).await;
        assert_problem(s, &b, &h, 401);
        assert!(
            b["detail"].as_str().unwrap_or_default().contains("second factor"),
            "{b}"
        );
    }
    let (s, b, h) = app
        .post_json(
            "/api/v1/users",
            Some(&limited),
            &json!({"username": "sneaky", "password": "Another-password-1", "role": "admin"}),
        )
        .await;
    assert_problem(s, &b, &h, 401);
    let sneaky = app
        .state
        .db
        .run(|conn| db::users::user_by_username(conn, "sneaky"))
        .await
        .expect("read");
    assert!(sneaky.is_none());

    // It enrols with that token; then only password + code sign in, to a full token.
    let (secret, _) = enrol(&app, &limited).await;
    assert!(factor(&app, &id).await.expect("factor").confirmed_at.is_some());
    let (s, b) = token_req(&app, "admin1", None).await;
    assert_eq!(s, 401, "{b}");
    assert_eq!(b["detail"], "invalid credentials");
    let code = totp::code_at(&secret, now() + 30).expect("code");
    let (s, b) = token_req(&app, "admin1", Some(&code)).await;
    assert_eq!(s, 200, "{b}");
    assert!(b.get("scope").is_none(), "{b}");
    let full = b["access_token"].as_str().expect("token");
    assert_eq!(app.get("/api/v1/auth/me", Some(full)).await.0, 200);
}
both_backends!(required_mode_enforces_, required_mode_enforces);

async fn wrong_codes_count_as_failed_logins(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.login_max_failures = 3).await;
    app.add_user("admin1", "admin", None).await;
    let token = app.login("admin1").await;
    let (secret, _) = enrol(&app, &token).await;
    let good = totp::code_at(&secret, now() + 30).expect("code");
    let bad = if good == "123456" { "654321" } else { "123456" };
    for _ in 0..3 {
        let (s, b) = token_req(&app, "admin1", Some(bad)).await;
        assert_eq!(s, 401, "{b}");
        assert_eq!(b["detail"], "invalid credentials");
    }
    // Locked out: even the right code waits.
    assert_eq!(token_req(&app, "admin1", Some(&good)).await.0, 429);
}
both_backends!(wrong_codes_count_as_failed_logins_, wrong_codes_count_as_failed_logins);
