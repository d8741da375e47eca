//! Requests per subject: a burst is served, the next request is 429 problem+json with
//! Retry-After (a refused write stores nothing), another subject is unaffected, and the bucket
//! refills.

use std::time::Duration;

use crate::both_backends;
use crate::fixtures::Registry;
use crate::support::{Backend, TestApp, assert_problem};

async fn each_subject_has_its_own_bucket(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.rate_limit_per_sec = 1;
        c.rate_limit_burst = 6;
    })
    .await;
    let reg = Registry::setup(&app).await;
    reg.confirmed_entry(&app, "900-249-08", "1000").await;

    // The producer spends its burst on reads, then a filing is refused and not stored.
    let mut served = 0;
    let mut refused = None;
    for _ in 0..20 {
        let (s, body, headers) = app
            .get("/api/v1/transfer-applications", Some(&reg.enterprise_token))
            .await;
        if s == 200 {
            served += 1;
        } else {
            refused = Some((s, body, headers));
            break;
        }
    }
    assert!((5..=7).contains(&served), "a burst of about 6 is served, got {served}");
    let (s, body, headers) = refused.expect("the burst ends");
    assert_problem(s, &body, &headers, 429);
    let wait: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&wait), "Retry-After {wait}");
    let (s, body, headers) = app
        .post_json(
            "/api/v1/transfer-applications",
            Some(&reg.enterprise_token),
            &crate::fixtures::filing(&reg.operator_id, "900-249-08", "10"),
        )
        .await;
    assert_problem(s, &body, &headers, 429);

    // Another subject is served meanwhile.
    let (s, _, _) = app.get("/api/v1/transfer-applications", Some(&reg.cq)).await;
    assert_eq!(s, 200);

    // The bucket refills: the producer is served again, and nothing was stored by the refusal.
    tokio::time::sleep(Duration::from_secs(wait + 1)).await;
    let (s, list, _) = app
        .get("/api/v1/transfer-applications", Some(&reg.enterprise_token))
        .await;
    assert_eq!(s, 200, "{list}");
    assert_eq!(list["items"].as_array().unwrap().len(), 0, "{list}");
}
both_backends!(each_subject_has_its_own_bucket, each_subject_has_its_own_bucket);

/// Two replicas on one PostgreSQL database grant a subject the limit together, not once each:
/// the buckets are in the database.
#[actix_web::test]
async fn two_replicas_share_one_budget() {
    let limits = |c: &mut hwtransfer::config::Config| {
        c.rate_limit_per_sec = 1;
        c.rate_limit_burst = 6;
    };
    let a = TestApp::spawn_with(Backend::Postgres, limits).await;
    let reg = Registry::setup(&a).await;
    let mut config = crate::support::test_config(&a.db);
    limits(&mut config);
    config.data_dir = a.state.config.data_dir.clone();
    let b = TestApp::start(crate::support::TestDb::reuse(&a.db), config).await;

    // Alternating between the replicas, as a balancer would.
    let started = std::time::Instant::now();
    let mut served = 0;
    let mut refused = 0;
    for i in 0..20 {
        let app = if i % 2 == 0 { &a } else { &b };
        let (s, body, headers) = app
            .get("/api/v1/transfer-applications", Some(&reg.enterprise_token))
            .await;
        match s {
            200 => served += 1,
            _ => {
                assert_problem(s, &body, &headers, 429);
                assert_eq!(headers["retry-after"], "1");
                refused += 1;
            }
        }
    }
    // 6 at once plus one a second: each replica alone would have served 6 of its 10.
    let allowance = 6 + started.elapsed().as_secs() as i32 + 1;
    assert!(
        served <= allowance && served >= 6,
        "served {served} of 20 across two replicas in {:?} (allowance {allowance})",
        started.elapsed()
    );
    assert_eq!(served + refused, 20);
    // Both replicas refuse once the shared budget is spent.
    let (sa, _, _) = a
        .get("/api/v1/transfer-applications", Some(&reg.enterprise_token))
        .await;
    let (sb, _, _) = b
        .get("/api/v1/transfer-applications", Some(&reg.enterprise_token))
        .await;
    assert!(sa == 429 || sb == 429, "{sa} {sb}");
}
