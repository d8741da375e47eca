//! Cryptography at rest and in the suite: webhook secrets sealed in the database (and an older
//! database's plaintext ones sealed at start), subscription URLs of non-public addresses refused
//! at subscription and at delivery, and the 商用密码 suite (`HWT_CRYPTO=sm`): SM3 audit chain,
//! SM2 tokens published in the JWK set, HMAC-SM3 webhook signatures, and a database that keeps
//! the suite it was started with.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use diesel::prelude::*;
use hwtransfer::config::CryptoSuite;
use hwtransfer::db::schema::{audit_head, audit_log, webhook_subscriptions};
use hwtransfer::jobs::delivery::Deliverer;
use hwtransfer::webhooks;
use serde_json::json;

use crate::both_backends;
use crate::fixtures::Registry;
use crate::support::{Backend, TestApp, TestDb, assert_problem, test_config};
use crate::webhooks::{Receiver, deliver_all, subscribe, webhook_config};

async fn stored_secret(app: &TestApp, id: &str) -> String {
    let id = id.to_string();
    app.state
        .db
        .run(move |c| {
            Ok(webhook_subscriptions::table
                .find(id)
                .select(webhook_subscriptions::secret)
                .first::<String>(c)?)
        })
        .await
        .unwrap()
}

async fn file_one(app: &TestApp, reg: &Registry) {
    let (s, b, _) = app
        .file_confirmed(
            &reg.enterprise_token,
            &crate::fixtures::filing(&reg.operator_id, "900-249-08", "3"),
        )
        .await;
    assert_eq!(s, 201, "{b}");
}

async fn webhook_secrets_are_sealed_at_rest(backend: Backend) {
    let app = TestApp::spawn_with(backend, webhook_config).await;
    let reg = Registry::setup(&app).await;
    let rx = Receiver::start().await;
    let (sub, secret) = subscribe(&app, &reg.enterprise_token, &rx.url, &["application.filed"]).await;

    // The column holds no plaintext: a sealed value that names neither the secret nor its hex.
    let stored = stored_secret(&app, &sub).await;
    assert!(stored.starts_with("enc:v1:"), "{stored}");
    assert!(
        !stored.contains(&secret) && !stored.contains(&secret["whsec_".len()..]),
        "{stored}"
    );
    // Nor is it in the audit trail.
    let trail = {
        let sub = sub.clone();
        app.state
            .db
            .run(move |c| {
                Ok(audit_log::table
                    .filter(audit_log::object_id.eq(sub))
                    .select(audit_log::diff)
                    .load::<String>(c)?)
            })
            .await
            .unwrap()
    };
    assert!(
        !trail.is_empty() && trail.iter().all(|d| !d.contains(&secret[6..])),
        "{trail:?}"
    );

    // Deliveries are still signed with the secret the owner was shown.
    file_one(&app, &reg).await;
    let d = Deliverer::new(&app.state.config).unwrap();
    deliver_all(&app, &d, Utc::now()).await;
    let got = rx.received();
    assert_eq!(got.len(), 1);
    let now = Utc::now().timestamp();
    assert!(webhooks::verify(&secret, &got[0].headers["hwt-signature"], &got[0].body, now, 300).is_ok());

    // An older database kept the secret in plaintext: the next start seals it, and deliveries
    // verify with the same secret.
    let plain = "whsec_0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab".to_string();
    {
        let (sub, plain) = (sub.clone(), plain.clone());
        app.state
            .db
            .run(move |c| {
                diesel::update(webhook_subscriptions::table.find(sub))
                    .set(webhook_subscriptions::secret.eq(plain))
                    .execute(c)?;
                Ok(())
            })
            .await
            .unwrap();
    }
    assert_eq!(stored_secret(&app, &sub).await, plain);
    let state = app.state.clone();
    actix_web::web::block(move || hwtransfer::app::prepare_state(&state))
        .await
        .unwrap()
        .unwrap();
    let resealed = stored_secret(&app, &sub).await;
    assert!(
        resealed.starts_with("enc:v1:") && !resealed.contains(&plain[6..]),
        "{resealed}"
    );
    file_one(&app, &reg).await;
    deliver_all(&app, &d, Utc::now()).await;
    let got = rx.received();
    assert_eq!(got.len(), 2);
    assert!(webhooks::verify(&plain, &got[1].headers["hwt-signature"], &got[1].body, now, 300).is_ok());

    // The key lives in the data directory, readable by the owner only.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(app.state.config.webhook_key_path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
both_backends!(webhook_secrets_are_sealed_at_rest, webhook_secrets_are_sealed_at_rest);

async fn non_public_destinations_are_refused(backend: Backend) {
    // http:// allowed (tests), private addresses not.
    let app = TestApp::spawn_with(backend, |c| {
        webhook_config(c);
        c.webhook_allow_private = false;
    })
    .await;
    let reg = Registry::setup(&app).await;
    let rx = Receiver::start().await;
    for (url, kind) in [
        (rx.url.as_str(), "loopback"),
        ("https://localhost/hooks", "loopback"),
        ("http://10.20.30.40/hooks", "private"),
        ("http://169.254.169.254/latest", "link-local"),
        ("http://[fd00::1]/h", "unique local"),
        ("http://0.0.0.0/h", "unspecified"),
    ] {
        let (s, b, h) = app
            .post_json(
                "/api/v1/webhook-subscriptions",
                Some(&reg.enterprise_token),
                &json!({"url": url, "event_types": ["application.filed"]}),
            )
            .await;
        let codes = assert_problem(s, &b, &h, 422);
        assert_eq!(codes, ["webhook.address"], "{url}: {b}");
        assert_eq!(b["errors"][0]["pointer"], "/url", "{b}");
        assert!(b.to_string().contains(kind), "{url}: {b}");
    }
    // Nothing was stored.
    let (s, list, _) = app
        .get("/api/v1/webhook-subscriptions", Some(&reg.enterprise_token))
        .await;
    assert_eq!(s, 200);
    assert_eq!(list["items"].as_array().unwrap().len(), 0, "{list}");

    // Allowed by the admin setting at subscription time, refused again at delivery by a
    // deliverer without it (what a host resolves to may change): nothing reaches the endpoint.
    let allowing = TestApp::start(TestDb::reuse(&app.db), {
        let mut c = test_config(&app.db);
        webhook_config(&mut c);
        c.data_dir = app.state.config.data_dir.clone();
        c
    })
    .await;
    let (sub, _) = subscribe(&allowing, &reg.enterprise_token, &rx.url, &["application.filed"]).await;
    file_one(&app, &reg).await;
    let strict = Deliverer::new(&app.state.config).unwrap();
    let attempted = strict.run_once(&app.state, Utc::now()).await.unwrap().attempted;
    assert_eq!(attempted, 1);
    assert!(rx.received().is_empty(), "nothing was sent to a loopback address");
    let (s, page, _) = app
        .get(
            &format!("/api/v1/webhook-subscriptions/{sub}/deliveries"),
            Some(&reg.enterprise_token),
        )
        .await;
    assert_eq!(s, 200, "{page}");
    let d = &page["items"][0];
    assert_eq!(d["status"], "pending", "{page}");
    assert!(d["last_error"].as_str().unwrap().contains("loopback"), "{page}");
    // With the setting the same delivery goes out.
    let lax = Deliverer::new(&allowing.state.config).unwrap();
    deliver_all(&allowing, &lax, Utc::now() + chrono::TimeDelta::minutes(5)).await;
    assert_eq!(rx.received().len(), 1);
}
both_backends!(non_public_destinations_are_refused, non_public_destinations_are_refused);

/// A fresh database started with `HWT_CRYPTO=sm`.
async fn sm_app(backend: Backend) -> TestApp {
    let db = TestDb::empty(backend);
    let mut config = test_config(&db);
    config.crypto = CryptoSuite::Sm;
    webhook_config(&mut config);
    TestApp::start(db, config).await
}

async fn the_sm_suite_end_to_end(backend: Backend) {
    let app = sm_app(backend).await;
    let reg = Registry::setup(&app).await;

    // Tokens are SM2-signed JWS (`SM2SM3`), and the key is in the JWK set as an EC key of curve SM2.
    let header: serde_json::Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(reg.enterprise_token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "SM2SM3", "{header}");
    let (s, me, _) = app.get("/api/v1/auth/me", Some(&reg.enterprise_token)).await;
    assert_eq!(s, 200, "{me}");
    let jwks: serde_json::Value = app
        .client
        .get(app.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(
        (key["kty"].as_str(), key["crv"].as_str()),
        (Some("EC"), Some("SM2")),
        "{jwks}"
    );
    assert_eq!(key["kid"], header["kid"]);
    // A tampered token is refused.
    let parts: Vec<&str> = reg.enterprise_token.split('.').collect();
    let mut claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    claims["role"] = "admin".into();
    let forged = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap()),
        parts[2]
    );
    assert_eq!(app.get("/api/v1/auth/me", Some(&forged)).await.0, 401);

    // Webhooks are signed with HMAC-SM3 under the `sm3` part.
    let rx = Receiver::start().await;
    let (_, secret) = subscribe(&app, &reg.enterprise_token, &rx.url, &["application.filed"]).await;
    file_one(&app, &reg).await;
    let d = Deliverer::new(&app.state.config).unwrap();
    deliver_all(&app, &d, Utc::now()).await;
    let got = rx.received();
    assert_eq!(got.len(), 1);
    let sig = &got[0].headers["hwt-signature"];
    assert!(sig.contains(",sm3=") && !sig.contains("v1="), "{sig}");
    let now = Utc::now().timestamp();
    assert!(webhooks::verify_with(CryptoSuite::Sm, &secret, sig, &got[0].body, now, 300).is_ok());
    assert!(webhooks::verify(&secret, sig, &got[0].body, now, 300).is_err());

    // The chain is SM3: the head records it, every record's hash is its SM3 hash, and it verifies.
    let (head, first) = app
        .state
        .db
        .run(|c| {
            let head: Option<String> = audit_head::table.find(1).select(audit_head::crypto).first(c)?;
            let first = audit_log::table
                .order(audit_log::seq.asc())
                .select(hwtransfer::db::audit::AuditRow::as_select())
                .first(c)?;
            Ok((head, first))
        })
        .await
        .unwrap();
    assert_eq!(head.as_deref(), Some("sm"));
    let record = hwtransfer::audit::Record {
        seq: first.seq,
        id: first.id.clone(),
        at: first.at,
        actor: first.actor.clone(),
        actor_name: first.actor_name.clone(),
        role: first.role.clone(),
        request_id: first.request_id.clone(),
        object_type: first.object_type.clone(),
        object_id: first.object_id.clone(),
        action: first.action.clone(),
        diff: first.diff.clone(),
        prev_hash: first.prev_hash.clone(),
    };
    assert_eq!(first.hash, hwtransfer::audit::hash_with(CryptoSuite::Sm, &record));
    assert_ne!(first.hash, hwtransfer::audit::hash(&record));
    let (s, v, _) = app.get("/api/v1/audit/verify", Some(&reg.admin)).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["intact"], true, "{v}");
    assert!(v["checked"].as_i64().unwrap() > 5, "{v}");

    // The same database started with the default suite is refused, naming both settings.
    let mut config = test_config(&app.db);
    config.data_dir = app.state.config.data_dir.clone();
    let state = hwtransfer::app::AppState::new(config).unwrap();
    let err = hwtransfer::app::prepare_database_with(&state.db, state.config.office_close, CryptoSuite::Standard)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("HWT_CRYPTO=sm") && err.contains("HWT_CRYPTO=standard") && err.contains("SM3"),
        "{err}"
    );
    // …and the refusal changed nothing.
    let head: Option<String> = app
        .state
        .db
        .run(|c| Ok(audit_head::table.find(1).select(audit_head::crypto).first(c)?))
        .await
        .unwrap();
    assert_eq!(head.as_deref(), Some("sm"));
}
both_backends!(the_sm_suite_end_to_end, the_sm_suite_end_to_end);

async fn a_standard_database_refuses_the_sm_suite(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let refuse = |app: &TestApp| {
        let db = app.state.db.clone();
        let close = app.state.config.office_close;
        async move {
            actix_web::web::block(move || hwtransfer::app::prepare_database_with(&db, close, CryptoSuite::Sm))
                .await
                .unwrap()
        }
    };
    let err = refuse(&app).await.unwrap_err().to_string();
    assert!(err.contains("HWT_CRYPTO=standard") && err.contains("SHA-256"), "{err}");

    // A database of an older version records no suite, but its chain has records: SHA-256.
    app.state
        .db
        .run(|c| {
            diesel::update(audit_head::table.find(1))
                .set(audit_head::crypto.eq(None::<String>))
                .execute(c)?;
            Ok(())
        })
        .await
        .unwrap();
    assert!(refuse(&app).await.is_err());
    let db = app.state.db.clone();
    let close = app.state.config.office_close;
    actix_web::web::block(move || hwtransfer::app::prepare_database_with(&db, close, CryptoSuite::Standard))
        .await
        .unwrap()
        .unwrap();
    let head: Option<String> = app
        .state
        .db
        .run(|c| Ok(audit_head::table.find(1).select(audit_head::crypto).first(c)?))
        .await
        .unwrap();
    assert_eq!(head.as_deref(), Some("standard"));
}
both_backends!(
    a_standard_database_refuses_the_sm_suite,
    a_standard_database_refuses_the_sm_suite
);
