//! Security events in the tamper-evident audit trail (等保 2.0): sign-ins, failed sign-ins,
//! lockouts, changes of accounts, tokens issued to API clients — and never a password in them.

use hwtransfer::auth::Role;
use hwtransfer::db;
use serde_json::json;

use crate::both_backends;
use crate::support::{Backend, PASSWORD, TestApp};

/// Every audit record: (object_type, object_id, action, actor, diff).
async fn trail(app: &TestApp) -> Vec<(String, String, String, String, String)> {
    let filter = db::audit::EventFilter {
        object_type: None,
        object_id: None,
        actor: None,
        from: None,
        to: None,
    };
    app.state
        .db
        .run(move |conn| db::audit::events(conn, &filter, None, 10_000))
        .await
        .expect("audit")
        .into_iter()
        .map(|r| (r.object_type, r.object_id, r.action, r.actor, r.diff))
        .collect()
}

async fn sign_in_events_are_audited(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| c.login_max_failures = 2).await;
    let admin_id = app.add_user("root", "admin", None).await;
    let reg_id = app.add_user("reg1", "regulator", Some("500000")).await;
    let admin = app.login("root").await;

    // An API client gets a token.
    let binding = hwtransfer::auth::Binding::Enterprise("ent-1".into());
    let (client_id, secret) = app
        .state
        .db
        .run(move |conn| {
            hwtransfer::cli::add_client(conn, "ERP", Role::Enterprise, &binding, Some("a-long-client-secret"))
                .map_err(db::DbError::Other)
        })
        .await
        .expect("client");
    let (s, b, _) = app
        .post_json(
            "/api/v1/auth/token",
            None,
            &json!({"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}),
        )
        .await;
    assert_eq!(s, 200, "{b}");

    // Two wrong passwords lock reg1's account (and the address) out.
    for _ in 0..2 {
        let (s, _, _) = app
            .post_json(
                "/api/v1/auth/token",
                None,
                &json!({"username": "reg1", "password": "Wrong-password-77"}),
            )
            .await;
        assert_eq!(s, 401);
    }
    // An admin disables and enables the account.
    for action in ["disable", "enable"] {
        let (s, b, _) = app
            .post_json(&format!("/api/v1/users/{reg_id}/{action}"), Some(&admin), &json!({}))
            .await;
        assert_eq!(s, 200, "{b}");
    }
    let records = trail(&app).await;
    let has = |object_id: &str, action: &str| records.iter().any(|r| r.1 == object_id && r.2 == action);
    // root's sign-in, as root's own act.
    let login = records
        .iter()
        .find(|r| r.0 == "user" && r.1 == admin_id && r.2 == "login")
        .expect("sign-in audited");
    assert_eq!(login.3, admin_id);
    assert!(has("user:reg1", "login_failed"), "{records:?}");
    assert_eq!(
        records
            .iter()
            .filter(|r| r.1 == "user:reg1" && r.2 == "login_failed")
            .count(),
        2
    );
    assert!(has("user:reg1", "login_locked_out"), "{records:?}");
    assert!(has(&reg_id, "disabled") && has(&reg_id, "enabled"), "{records:?}");
    let issued = records
        .iter()
        .find(|r| r.0 == "api_client" && r.2 == "token_issued")
        .expect("client token audited");
    // Never a password or a secret in the trail.
    for r in &records {
        for secret in [PASSWORD, "Wrong-password-77", "a-long-client-secret"] {
            assert!(!r.4.contains(secret), "{r:?}");
        }
    }
    assert!(!issued.4.contains(&secret));
    // The chain still verifies with them.
    let v = app.state.db.run(db::audit::verify).await.expect("verify");
    assert!(v.intact, "{v:?}");
}
both_backends!(sign_in_events_are_audited_, sign_in_events_are_audited);
