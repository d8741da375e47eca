//! The webhook delivery job: posts pending outbox deliveries, signed, and records every attempt.
//!
//! One replica at a time holds the `webhook_delivery` lease (a row with an expiry, renewed every
//! run), so no connection is held while waiting on subscribers' endpoints, and a replica that
//! dies (even by kill -9) hands over when its lease runs out. Delivery is at least once: an
//! attempt whose outcome was not recorded before a crash is made again, with the same event id.
//!
//! Secrets are stored sealed and opened here, just before signing (HMAC-SHA256, or HMAC-SM3 under
//! `HWT_CRYPTO=sm`). Unless `HWT_WEBHOOK_ALLOW_PRIVATE` is set, an endpoint whose host is or
//! resolves to a non-public address is not called (the attempt fails with that reason), and the
//! client connects only to public addresses (`service::destinations::PublicOnly`).

use std::time::{Duration, Instant};

use actix_web::web;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;

use crate::config::Config;
use crate::crypto::seal::Sealer;
use crate::db::outbox::{self, Due, Outcome};
use crate::db::pool::Db;
use crate::db::{DbResult, new_id};
use crate::service::destinations;
use crate::state::AppState;
use crate::webhooks::{self, SIGNATURE_HEADER};

/// The lease's name in `job_leases`.
pub const LEASE: &str = "webhook_delivery";
/// Deliveries taken per run.
const BATCH: i64 = 64;
/// Deliveries in flight at once (to different subscribers or objects).
const IN_FLIGHT: usize = 16;

/// What one run did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    /// False when another replica holds the lease.
    pub ran: bool,
    pub attempted: usize,
    pub delivered: usize,
    pub failed: usize,
    /// Subscriptions disabled in this run after failing for a day.
    pub disabled: usize,
}

/// Posts deliveries; one per process.
pub struct Deliverer {
    client: reqwest::Client,
    holder: String,
    suite: crate::config::CryptoSuite,
    allow_private: bool,
    retry_base: Duration,
    lease: chrono::TimeDelta,
}

impl Deliverer {
    pub fn new(config: &Config) -> anyhow::Result<Self> {
        let mut builder = reqwest::Client::builder();
        if !config.webhook_allow_private {
            builder = builder.dns_resolver(std::sync::Arc::new(crate::service::destinations::PublicOnly));
        }
        let client = builder
            .timeout(Duration::from_millis(config.webhook_timeout_ms))
            .connect_timeout(Duration::from_millis(config.webhook_timeout_ms))
            // A redirect is an answer, not a success: the subscriber must register the final URL.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("hwtransfer-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Deliverer {
            client,
            holder: new_id(),
            suite: config.crypto,
            allow_private: config.webhook_allow_private,
            retry_base: Duration::from_millis(config.webhook_retry_base_ms),
            lease: chrono::TimeDelta::seconds(config.job_lease_secs as i64),
        })
    }

    /// One run at `now`: takes or renews the lease, posts what is due, records the outcomes.
    pub async fn run_once(&self, state: &AppState, now: DateTime<Utc>) -> DbResult<DeliveryReport> {
        let db = &state.db;
        let (holder, ttl) = (self.holder.clone(), self.lease);
        let held = db.run(move |c| outbox::take_lease(c, LEASE, &holder, now, ttl)).await?;
        if !held {
            return Ok(DeliveryReport::default());
        }
        let due = db.run(move |c| outbox::due(c, now, BATCH)).await?;
        let mut report = DeliveryReport {
            ran: true,
            attempted: due.len(),
            ..Default::default()
        };
        let sealer = state.sealer.clone();
        let outcomes: Vec<Outcome> = futures_util::stream::iter(due)
            .map(|d| self.attempt(d, &sealer, now))
            .buffer_unordered(IN_FLIGHT)
            .collect()
            .await;
        for o in outcomes {
            if o.succeeded() {
                report.delivered += 1;
                state.metrics.webhook_attempt(true);
            } else {
                report.failed += 1;
                state.metrics.webhook_attempt(false);
                tracing::info!(delivery = %o.delivery_id, subscription = %o.subscription_id, attempt = o.attempt,
                    status = ?o.status_code, error = ?o.error, "webhook delivery failed; will retry");
            }
            let base = self.retry_base;
            if db.run(move |c| outbox::record_outcome(c, &o, base)).await? {
                report.disabled += 1;
            }
        }
        Ok(report)
    }

    /// Gives the lease up so another replica can take over at once (on orderly shutdown).
    pub async fn release(&self, db: &Db) -> DbResult<()> {
        let holder = self.holder.clone();
        db.run(move |c| outbox::release_lease(c, LEASE, &holder)).await
    }

    async fn attempt(&self, d: Due, sealer: &Sealer, now: DateTime<Utc>) -> Outcome {
        let refused = |error: String| Outcome {
            delivery_id: d.delivery_id.clone(),
            subscription_id: d.subscription_id.clone(),
            attempt: d.attempt,
            at: now,
            status_code: None,
            error: Some(error),
            duration_ms: 0,
        };
        let secret = match sealer.open(&d.secret, &d.subscription_id) {
            Ok(s) => s,
            Err(e) => return refused(format!("not sent: {e}")),
        };
        // What the name resolves to now (it may have changed since the subscription).
        if let Some(why) = destinations::refusal(&d.url, self.allow_private).await {
            return refused(format!("not sent: {}", why.message));
        }
        // The signature carries the real time of sending: receivers check it against their clock.
        let t = Utc::now().timestamp();
        let signature = webhooks::sign_with(self.suite, &secret, t, d.payload.as_bytes());
        let started = Instant::now();
        let sent = self
            .client
            .post(&d.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signature)
            .header("Hwt-Event-Id", &d.event_id)
            .header("Hwt-Event-Type", &d.event_type)
            .header("Hwt-Delivery-Id", &d.delivery_id)
            .header("Hwt-Delivery-Attempt", d.attempt.to_string())
            .body(d.payload.clone())
            .send()
            .await;
        let duration_ms = started.elapsed().as_millis().min(i32::MAX as u128) as i32;
        let (status_code, error) = match sent {
            Ok(r) => (Some(r.status().as_u16()), None),
            // Words of our own: the library's text may carry addresses of this network.
            Err(e) if e.is_timeout() => (None, Some(format!("no answer within {duration_ms} ms"))),
            Err(e) if e.is_connect() => (None, Some("could not connect".to_string())),
            Err(_) => (None, Some("the request failed".to_string())),
        };
        Outcome {
            delivery_id: d.delivery_id,
            subscription_id: d.subscription_id,
            attempt: d.attempt,
            at: now,
            status_code,
            error,
            duration_ms,
        }
    }
}

/// Runs the delivery job every `interval` until the process ends.
pub fn spawn(state: web::Data<AppState>, interval: Duration) -> anyhow::Result<()> {
    let deliverer = Deliverer::new(&state.config)?;
    actix_web::rt::spawn(async move {
        let mut tick = tokio::time::interval(interval);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            // A full batch means more may be waiting: go again at once.
            loop {
                match deliverer.run_once(&state, Utc::now()).await {
                    Ok(r) if r.attempted as i64 >= BATCH => continue,
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "webhook delivery run failed; retrying at the next tick"),
                }
                break;
            }
        }
    });
    Ok(())
}
