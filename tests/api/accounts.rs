//! Sign-in security of people's accounts (等保 2.0 level 3, issue 19): failed sign-ins that all
//! answer alike, lockouts that grow across replicas, and the password rules and history.

use std::collections::BTreeMap;

use diesel::prelude::*;
use hwtransfer::auth::totp;
use hwtransfer::db;
use hwtransfer::db::schema::login_throttle;
use serde_json::{Value, json};

use crate::both_backends;
use crate::support::{Backend, PASSWORD, TestApp, TestDb, assert_problem, test_config};

pub fn now() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp()).unwrap_or(0)
}

/// A token request as if from `address` (the harness's proxy, 127.0.0.1, is trusted).
async fn token_from(app: &TestApp, address: &str, body: &Value) -> (u16, Value, reqwest::header::HeaderMap) {
    app.post_json_with("/api/v1/auth/token", None, &[("x-forwarded-for", address)], body)
        .await
}

/// An answer without what differs between any two requests (the request id, the date).
fn normal(s: u16, b: &Value, h: &reqwest::header::HeaderMap) -> (u16, Value, BTreeMap<String, String>) {
    let mut body = b.clone();
    if let Some(o) = body.as_object_mut() {
        o.remove("request_id");
    }
    let headers = h
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "date" | "x-request-id" | "content-length" | "retry-after"))
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_string()))
        .collect();
    (s, body, headers)
}

/// Starts and confirms a second factor with `token`; answers its secret.
pub async fn enrol_factor(app: &TestApp, token: &str) -> String {
    let (s, b, _) = app
        .post_json("/api/v1/auth/second-factor", Some(token), &json!({}))
        .await;
    assert_eq!(s, 201, "{b}");
    let secret = b["secret"].as_str().unwrap().to_string();
    let (s, b, _) = app
        .post_json(
            "/api/v1/auth/second-factor/confirm",
            Some(token),
            &json!({"code": totp::code_at(&secret, now()).unwrap()}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    secret
}

fn trusting_the_harness(c: &mut hwtransfer::config::Config) {
    c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    c.login_max_failures = 5;
}

/// An address no other attempt of the test came from (so only the account is counted).
fn fresh_address() -> String {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("10.9.{}.{}", n / 250, n % 250)
}

async fn failed_sign_ins_answer_alike(backend: Backend) {
    let app = TestApp::spawn_with(backend, trusting_the_harness).await;
    app.add_user("reg1", "regulator", Some("500000")).await;
    app.add_user("reg2", "regulator", Some("500000")).await;
    let off = app.add_user("off1", "regulator", Some("500000")).await;
    app.add_user("admin1", "admin", None).await;
    let secret = enrol_factor(&app, &app.login("admin1").await).await;
    app.state
        .db
        .run(|conn| db::users::set_user_active(conn, "off1", false))
        .await
        .unwrap();
    let right_code = totp::code_at(&secret, now() + 30).unwrap();
    let wrong_code = if right_code == "123456" { "654321" } else { "123456" };

    let paths: Vec<(&str, Value)> = vec![
        ("unknown account", json!({"username": "ghost", "password": PASSWORD})),
        (
            "wrong password",
            json!({"username": "reg1", "password": "Wrong-password-1"}),
        ),
        ("disabled account", json!({"username": "off1", "password": PASSWORD})),
        (
            "right password, no code",
            json!({"username": "admin1", "password": PASSWORD}),
        ),
        (
            "right password, wrong code",
            json!({"username": "admin1", "password": PASSWORD, "totp": wrong_code}),
        ),
        (
            "wrong password, right code",
            json!({"username": "reg1", "password": "Wrong-password-1", "totp": right_code}),
        ),
    ];
    let mut answers = Vec::new();
    for (i, (what, body)) in paths.iter().enumerate() {
        let (s, b, h) = token_from(&app, &format!("198.51.100.{i}"), body).await;
        assert_problem(s, &b, &h, 401);
        answers.push((what, normal(s, &b, &h)));
    }
    for (what, a) in &answers {
        assert_eq!(a, &answers[0].1, "{what} answers unlike {}", answers[0].0);
    }
    assert_eq!(answers[0].1.1["detail"], "invalid credentials");

    // A missing code counts as a failure, like a wrong password: admin1 has two now.
    let failures = app
        .state
        .db
        .run(|conn| {
            Ok(login_throttle::table
                .find("user:admin1")
                .select(login_throttle::failures)
                .first::<i32>(conn)
                .optional()?)
        })
        .await
        .unwrap();
    assert_eq!(failures, Some(2));

    // An unknown name is locked out like a known one, with the same answer.
    let mut locked = Vec::new();
    for name in ["ghost2", "reg2"] {
        for i in 0..5 {
            let (s, _, _) = token_from(
                &app,
                &format!("203.0.113.{i}"),
                &json!({"username": name, "password": "Wrong-password-1"}),
            )
            .await;
            assert_eq!(s, 401);
        }
        let (s, b, h) = token_from(&app, "203.0.113.99", &json!({"username": name, "password": PASSWORD})).await;
        assert_problem(s, &b, &h, 429);
        let retry: u64 = h["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((890..=900).contains(&retry), "{retry}");
        locked.push(normal(s, &b, &h));
    }
    assert_eq!(locked[0], locked[1]);
    for key in ["user:ghost2", "user:reg2"] {
        let until = app
            .state
            .db
            .run(move |c| db::throttle::locked_until(c, key, db::db_now()))
            .await
            .unwrap();
        assert!(until.is_some(), "{key} locked in the store");
    }

    // The web UI's login answers every path alike too.
    let mut pages = Vec::new();
    for (i, (what, body)) in paths.iter().enumerate() {
        let totp = body.get("totp").and_then(Value::as_str);
        let (status, error) = crate::ui_accounts::form_login_from(
            &app,
            &format!("192.0.2.{i}"),
            body["username"].as_str().unwrap(),
            body["password"].as_str().unwrap(),
            totp,
        )
        .await;
        pages.push((what, status, error));
    }
    for (what, status, error) in &pages {
        assert_eq!(
            (status, error),
            (&pages[0].1, &pages[0].2),
            "{what} answers unlike the unknown account in the UI"
        );
    }
    assert_eq!(pages[0].1, 401);
    assert!(pages[0].2.contains("用户名、密码或动态口令错误"), "{}", pages[0].2);

    // The trail says which factor failed; the answers did not.
    let trail = app
        .state
        .db
        .run(|conn| db::audit::events(conn, &Default::default(), None, 1000))
        .await
        .unwrap();
    assert!(
        trail
            .iter()
            .any(|r| r.object_id == "user:admin1" && r.action == "login_failed" && r.diff.contains("second_factor")),
        "a missing code is a failed sign-in in the trail"
    );
    let _ = off;
}
both_backends!(failed_sign_ins_answer_alike_, failed_sign_ins_answer_alike);

/// Moves `key`'s last lockout so that it ended `ago`.
async fn end_lockout(app: &TestApp, key: &'static str, ago: chrono::Duration) {
    let at = db::db_now() - ago;
    app.state
        .db
        .run(move |conn| {
            diesel::update(login_throttle::table.find(key))
                .set((
                    login_throttle::locked_until.eq(Some(at)),
                    login_throttle::window_started_at.eq(at - chrono::Duration::hours(1)),
                ))
                .execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();
}

/// Fails `failures` times, alternating between the two replicas, then answers the next
/// attempt's status and Retry-After (seconds).
async fn lock(apps: [&TestApp; 2], failures: usize) -> (u16, u64) {
    for i in 0..failures {
        let (s, b, _) = token_from(
            apps[i % 2],
            &fresh_address(),
            &json!({"username": "reg1", "password": "Wrong-password-1"}),
        )
        .await;
        assert_eq!(s, 401, "{b}");
    }
    let (s, _, h) = token_from(
        apps[failures % 2],
        &fresh_address(),
        &json!({"username": "reg1", "password": PASSWORD}),
    )
    .await;
    let retry = h
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    (s, retry)
}

async fn lockouts_of(app: &TestApp, key: &'static str) -> Option<i32> {
    app.state
        .db
        .run(move |conn| {
            Ok(login_throttle::table
                .find(key)
                .select(login_throttle::lockouts)
                .first::<i32>(conn)
                .optional()?)
        })
        .await
        .unwrap()
}

async fn lockouts_grow_across_replicas(backend: Backend) {
    let a = TestApp::spawn_with(backend, |c| {
        trusting_the_harness(c);
        c.login_max_failures = 2;
    })
    .await;
    let mut config = test_config(&a.db);
    trusting_the_harness(&mut config);
    config.login_max_failures = 2;
    let b = TestApp::start(TestDb::reuse(&a.db), config).await;
    a.add_user("reg1", "regulator", Some("500000")).await;
    let key = "user:reg1";
    let within = |retry: u64, secs: u64| (secs - 15..=secs).contains(&retry);

    // The first lockout: 15 minutes; seen by the replica that counted none of the failures.
    let (s, retry) = lock([&a, &b], 2).await;
    assert_eq!(s, 429);
    assert!(within(retry, 900), "{retry}");
    // Once it ended, the next one is four times longer, then sixteen times.
    end_lockout(&a, key, chrono::Duration::minutes(1)).await;
    let (s, retry) = lock([&b, &a], 2).await;
    assert_eq!(s, 429);
    assert!(within(retry, 3600), "{retry}");
    end_lockout(&a, key, chrono::Duration::minutes(1)).await;
    let (s, retry) = lock([&a, &b], 2).await;
    assert_eq!(s, 429);
    assert!(within(retry, 4 * 3600), "{retry}");
    assert_eq!(lockouts_of(&b, key).await, Some(3));

    // A day after the last lockout ended, the ladder starts again.
    end_lockout(&a, key, chrono::Duration::hours(25)).await;
    let (_, retry) = lock([&b, &a], 2).await;
    assert!(within(retry, 900), "{retry}");
    end_lockout(&a, key, chrono::Duration::minutes(1)).await;
    let (_, retry) = lock([&a, &b], 2).await;
    assert!(within(retry, 3600), "{retry}");

    // A successful sign-in resets it: the next lockout is a first one again.
    end_lockout(&a, key, chrono::Duration::minutes(1)).await;
    let (s, _, _) = token_from(&b, &fresh_address(), &json!({"username": "reg1", "password": PASSWORD})).await;
    assert_eq!(s, 200);
    assert_eq!(lockouts_of(&a, key).await, None);
    let (_, retry) = lock([&b, &a], 2).await;
    assert!(within(retry, 900), "{retry}");

    // Each lockout is in the trail with its number.
    let trail = a
        .state
        .db
        .run(|conn| db::audit::events(conn, &Default::default(), None, 1000))
        .await
        .unwrap();
    let numbers: Vec<i64> = trail
        .iter()
        .filter(|r| r.object_id == key && r.action == "login_locked_out")
        .filter_map(|r| serde_json::from_str::<Value>(&r.diff).ok())
        .filter_map(|d| d["lockout"].as_i64())
        .collect();
    let mut sorted = numbers.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, vec![1, 1, 1, 2, 2, 3], "{numbers:?}");
}
both_backends!(lockouts_grow_across_replicas_, lockouts_grow_across_replicas);

async fn change(
    app: &TestApp,
    current: &str,
    new: &str,
    totp: Option<&str>,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut body = json!({"username": "reg1", "current_password": current, "new_password": new});
    if let Some(code) = totp {
        body["totp"] = json!(code);
    }
    let address = fresh_address();
    app.post_json_with(
        "/api/v1/auth/password",
        None,
        &[("x-forwarded-for", address.as_str())],
        &body,
    )
    .await
}

async fn history_of(app: &TestApp, id: &str) -> Vec<String> {
    let id = id.to_string();
    app.state
        .db
        .run(move |conn| db::users::recent_password_hashes(conn, &id, 100))
        .await
        .unwrap()
}

async fn signs_in(app: &TestApp, username: &str, password: &str) -> bool {
    let (s, _, _) = token_from(
        app,
        &fresh_address(),
        &json!({"username": username, "password": password}),
    )
    .await;
    s == 200
}

async fn people_change_passwords_by_the_rules(backend: Backend) {
    let app = TestApp::spawn_with(backend, trusting_the_harness).await;
    let id = app.add_user("reg1", "regulator", Some("500000")).await;
    assert_eq!(
        history_of(&app, &id).await.len(),
        1,
        "the first password is in the history"
    );

    // Every rule the new password breaks, at once; nothing changes.
    let (s, b, h) = change(&app, PASSWORD, "reg1", None).await;
    let codes = assert_problem(s, &b, &h, 422);
    assert_eq!(codes, vec!["password.length", "password.classes", "password.username"]);
    assert!(
        b["errors"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["pointer"] == "/new_password")
    );
    assert!(signs_in(&app, "reg1", PASSWORD).await);

    // A wrong current password is a failed sign-in: the same answer, counted.
    let (s, b, h) = change(&app, "Wrong-password-1", "A-new-password-1", None).await;
    assert_problem(s, &b, &h, 401);
    assert_eq!(b["detail"], "invalid credentials");
    let (s, b2, _) = token_from(&app, &fresh_address(), &json!({"username": "ghost", "password": "x"})).await;
    assert_eq!((s, &b2["detail"]), (401, &b["detail"]));
    let failures = app
        .state
        .db
        .run(|conn| {
            Ok(login_throttle::table
                .find("user:reg1")
                .select(login_throttle::failures)
                .first::<i32>(conn)
                .optional()?)
        })
        .await
        .unwrap();
    assert_eq!(failures, Some(1));

    // Not the current password again; five new ones in turn, each replacing the last.
    let (s, b, h) = change(&app, PASSWORD, PASSWORD, None).await;
    assert_eq!(assert_problem(s, &b, &h, 422), vec!["password.reused"]);
    let pw = |i: usize| format!("New-password-{i}");
    let mut current = PASSWORD.to_string();
    for i in 1..=5 {
        let (s, b, _) = change(&app, &current, &pw(i), None).await;
        assert_eq!(s, 204, "{b}");
        assert!(
            !signs_in(&app, "reg1", &current).await,
            "the old password no longer signs in"
        );
        current = pw(i);
        assert!(signs_in(&app, "reg1", &current).await);
    }
    // The last five are kept (as argon2 hashes); the first password dropped out of them.
    let history = history_of(&app, &id).await;
    assert_eq!(history.len(), 5);
    assert!(history.iter().all(|h| h.starts_with("$argon2id$")));
    let (s, b, h) = change(&app, &current, &pw(2), None).await;
    assert_eq!(assert_problem(s, &b, &h, 422), vec!["password.reused"]);
    let (s, b, _) = change(&app, &current, PASSWORD, None).await;
    assert_eq!(s, 204, "six back is allowed again: {b}");

    // An admin's reset passes the same rules and history.
    app.add_user("root", "admin", None).await;
    let admin = app.login("root").await;
    let path = format!("/api/v1/users/{id}/password");
    let (s, b, h) = app.post_json(&path, Some(&admin), &json!({"password": "short"})).await;
    assert_eq!(
        assert_problem(s, &b, &h, 422),
        vec!["password.length", "password.classes"]
    );
    let (s, b, h) = app.post_json(&path, Some(&admin), &json!({"password": pw(5)})).await;
    assert_eq!(assert_problem(s, &b, &h, 422), vec!["password.reused"]);
    let (s, b, _) = app
        .post_json(&path, Some(&admin), &json!({"password": "Reset-password-77"}))
        .await;
    assert_eq!(s, 204, "{b}");
    assert!(signs_in(&app, "reg1", "Reset-password-77").await);
    // Not another's own: a regulator may not reset anybody's.
    let reg = app.login_with("reg1", "Reset-password-77").await;
    let (s, b, h) = app
        .post_json(&path, Some(&reg), &json!({"password": "Other-password-88"}))
        .await;
    assert_problem(s, &b, &h, 403);

    // Who has a second factor changes the password with a code too.
    let admin_id = app
        .state
        .db
        .run(|conn| db::users::user_by_username(conn, "root"))
        .await
        .unwrap()
        .unwrap()
        .id;
    let secret = enrol_factor(&app, &admin).await;
    let body = json!({"username": "root", "current_password": PASSWORD, "new_password": "Root-password-99"});
    let (s, b, h) = app
        .post_json_with("/api/v1/auth/password", None, &[("x-forwarded-for", "10.8.0.1")], &body)
        .await;
    assert_problem(s, &b, &h, 401);
    let mut with_code = body.clone();
    with_code["totp"] = json!(totp::code_at(&secret, now() + 30).unwrap());
    let (s, b, _) = app
        .post_json_with(
            "/api/v1/auth/password",
            None,
            &[("x-forwarded-for", "10.8.0.2")],
            &with_code,
        )
        .await;
    assert_eq!(s, 204, "{b}");

    // The trail has each change as the person's or the admin's act, and no password or hash.
    let trail = app
        .state
        .db
        .run(|conn| db::audit::events(conn, &Default::default(), None, 1000))
        .await
        .unwrap();
    let changed = trail
        .iter()
        .filter(|r| r.object_id == id && r.action == "password_changed")
        .count();
    assert_eq!(changed, 6);
    let reset = trail
        .iter()
        .find(|r| r.object_id == id && r.action == "password_reset")
        .expect("reset audited");
    assert_eq!(reset.actor, admin_id);
    assert!(
        trail
            .iter()
            .any(|r| r.object_id == admin_id && r.action == "password_changed")
    );
    for r in &trail {
        for secret in [PASSWORD, "Reset-password-77", "New-password-1", "$argon2"] {
            assert!(!r.diff.contains(secret), "{r:?}");
        }
    }
}
both_backends!(
    people_change_passwords_by_the_rules_,
    people_change_passwords_by_the_rules
);

async fn expired_passwords_are_changed_before_signing_in(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        trusting_the_harness(c);
        c.password_max_age_days = 90;
    })
    .await;
    let id = app.add_user("reg1", "regulator", Some("500000")).await;
    assert!(signs_in(&app, "reg1", PASSWORD).await, "a fresh password signs in");
    let at = db::db_now() - chrono::Duration::days(91);
    app.state
        .db
        .run(move |conn| {
            diesel::update(hwtransfer::db::schema::password_history::table)
                .set(hwtransfer::db::schema::password_history::set_at.eq(at))
                .execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();

    // Expired: every credential right answers 409 with its code; a wrong one still the 401.
    let (s, b, h) = token_from(
        &app,
        &fresh_address(),
        &json!({"username": "reg1", "password": PASSWORD}),
    )
    .await;
    assert_problem(s, &b, &h, 409);
    assert_eq!(b["code"], "auth.password_expired");
    let (s, _, _) = token_from(
        &app,
        &fresh_address(),
        &json!({"username": "reg1", "password": "Wrong-password-1"}),
    )
    .await;
    assert_eq!(s, 401);
    // The web login shows the form for a new password instead of a session.
    let (status, _) = crate::ui_accounts::form_login_from(&app, &fresh_address(), "reg1", PASSWORD, None).await;
    assert_eq!(status, 200);

    // Changing it (with the expired one) lets the person in again.
    let (s, b, _) = change(&app, PASSWORD, "Fresh-password-1", None).await;
    assert_eq!(s, 204, "{b}");
    assert!(signs_in(&app, "reg1", "Fresh-password-1").await);
    let _ = id;
}
both_backends!(
    expired_passwords_are_changed_before_signing_in_,
    expired_passwords_are_changed_before_signing_in
);
