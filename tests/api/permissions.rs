//! The permission layer on a sample resource (user accounts): another party's object is 404,
//! a forbidden action on a visible object is 403, a role-restricted collection is 403.

use serde_json::json;

use crate::both_backends;
use crate::support::{Backend, TestApp, assert_problem};

async fn users_endpoint_access_matrix(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let admin_id = app.add_user("root", "admin", None).await;
    let cq = app.add_user("cq-reg", "regulator", Some("500000")).await;
    let sc = app.add_user("sc-reg", "regulator", Some("510000")).await;
    let ent = app.add_user("producer", "enterprise", Some("ent-1")).await;
    let admin = app.login("root").await;
    let cq_token = app.login("cq-reg").await;
    let ent_token = app.login("producer").await;

    // Own account: visible.
    let (status, body, _) = app.get(&format!("/api/v1/users/{cq}"), Some(&cq_token)).await;
    assert_eq!(status, 200);
    assert_eq!(body["username"], "cq-reg");
    assert_eq!(body["province"], "500000");
    assert!(body.get("password_hash").is_none(), "never expose the hash");

    // Another party's account: 404, exactly like a missing one.
    for (token, other) in [(&cq_token, &sc), (&ent_token, &cq), (&cq_token, &admin_id)] {
        let (status, body, headers) = app.get(&format!("/api/v1/users/{other}"), Some(token)).await;
        assert_problem(status, &body, &headers, 404);
    }
    let (status, missing, _) = app.get("/api/v1/users/does-not-exist", Some(&cq_token)).await;
    assert_eq!(status, 404);
    let (_, hidden, _) = app.get(&format!("/api/v1/users/{sc}"), Some(&cq_token)).await;
    assert_eq!(missing["detail"], hidden["detail"]);
    assert_eq!(missing["title"], hidden["title"]);

    // A forbidden action on a visible object: 403, and nothing changes.
    let (status, body, headers) = app
        .post_json(&format!("/api/v1/users/{cq}/disable"), Some(&cq_token), &json!({}))
        .await;
    assert_problem(status, &body, &headers, 403);
    // The same action on an invisible object: 404.
    let (status, body, headers) = app
        .post_json(&format!("/api/v1/users/{sc}/disable"), Some(&cq_token), &json!({}))
        .await;
    assert_problem(status, &body, &headers, 404);
    let sc_row = {
        let sc = sc.clone();
        app.state
            .db
            .run(move |c| hwtransfer::db::users::user_by_id(c, &sc))
            .await
            .unwrap()
            .unwrap()
    };
    assert!(sc_row.active);

    // Role-restricted collection.
    let (status, body, headers) = app.get("/api/v1/users", Some(&ent_token)).await;
    assert_problem(status, &body, &headers, 403);
    let (status, body, _) = app.get("/api/v1/users?limit=2", Some(&admin)).await;
    assert_eq!(status, 200);
    assert_eq!(body["items"].as_array().unwrap().len(), 2);
    let cursor = body["next_cursor"].as_str().unwrap().to_string();
    let (_, page2, _) = app
        .get(&format!("/api/v1/users?limit=2&cursor={cursor}"), Some(&admin))
        .await;
    let names: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .chain(page2["items"].as_array().unwrap())
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["cq-reg", "producer", "root", "sc-reg"]);
    assert!(page2["next_cursor"].is_null());

    // Admin sees and manages anyone.
    let (status, body, _) = app.get(&format!("/api/v1/users/{ent}"), Some(&admin)).await;
    assert_eq!(status, 200);
    assert_eq!(body["enterprise_id"], "ent-1");
}
both_backends!(users_endpoint_access_matrix, users_endpoint_access_matrix);

async fn admin_creates_users_with_validated_bindings(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.add_user("root", "admin", None).await;
    let admin = app.login("root").await;
    // Every problem at once: bad username, short password, regulator without a province,
    // and a field that does not belong to the role.
    let (status, body, headers) = app
        .post_json(
            "/api/v1/users",
            Some(&admin),
            &json!({"username": "a b", "password": "short", "role": "regulator", "operator_id": "op-1"}),
        )
        .await;
    let codes = assert_problem(status, &body, &headers, 422);
    for code in [
        "user.username",
        "password.length",
        "password.classes",
        "user.binding_required",
        "user.binding_not_allowed",
    ] {
        assert!(codes.contains(&code.to_string()), "{code} missing in {body}");
    }
    let (status, body, _) = app.get("/api/v1/users", Some(&admin)).await;
    assert_eq!(status, 200);
    assert_eq!(body["items"].as_array().unwrap().len(), 1, "nothing was created");

    let (status, body, _) = app
        .post_json(
            "/api/v1/users",
            Some(&admin),
            &json!({"username": "gz-reg", "password": "a-good-long-password-1", "role": "regulator", "province": "520000"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["province"], "520000");
    let (status, body, headers) = app
        .post_json(
            "/api/v1/users",
            Some(&admin),
            &json!({"username": "gz-reg", "password": "a-good-long-password-1", "role": "auditor"}),
        )
        .await;
    assert_problem(status, &body, &headers, 409);
    // The new account can log in.
    let token = app.login_with("gz-reg", "a-good-long-password-1").await;
    let (_, me, _) = app.get("/api/v1/auth/me", Some(&token)).await;
    assert_eq!(me["binding"], "province:520000");
}
both_backends!(
    admin_creates_users_with_validated_bindings,
    admin_creates_users_with_validated_bindings
);
