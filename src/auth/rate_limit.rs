//! Requests per subject. Every authenticated user or API client has a token bucket (governor's
//! GCRA): `HWT_RATE_LIMIT_PER_SEC` sustained, `HWT_RATE_LIMIT_BURST` at once; beyond that the
//! answer is 429 problem+json with `Retry-After`. One misbehaving ERP integration then cannot
//! take the service from everyone else.
//!
//! On PostgreSQL the buckets are in the database (`db::rates`), so the replicas behind a
//! balancer together grant a subject the rate once, not once each: the same GCRA, one upsert
//! per authenticated request on an unlogged table (no WAL), no lock held beyond that statement.
//! If that statement fails (the database away) the request is let through: the limit protects
//! capacity, and the request's own database work answers 503 then anyway. On SQLite (one
//! process) the buckets live in memory.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::db::pool::Db;

pub struct SubjectLimiter {
    limiter: Option<DefaultKeyedRateLimiter<String>>,
    shared: Option<Shared>,
    checks: AtomicU64,
}

/// The budget kept in the database.
struct Shared {
    db: Db,
    /// Microseconds one request costs (1 s / rate).
    interval_us: i64,
    /// Microseconds of requests that may be banked (burst × interval).
    capacity_us: i64,
}

impl SubjectLimiter {
    /// `per_sec = 0` turns the limit off.
    pub fn new(per_sec: u32, burst: u32) -> SubjectLimiter {
        let limiter = NonZeroU32::new(per_sec).map(|rate| {
            let burst = NonZeroU32::new(burst.max(per_sec)).unwrap_or(rate);
            RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst))
        });
        SubjectLimiter {
            limiter,
            shared: None,
            checks: AtomicU64::new(0),
        }
    }

    /// The limiter of a service on `db`: in the database on PostgreSQL, in memory otherwise.
    pub fn for_database(db: &Db, per_sec: u32, burst: u32) -> SubjectLimiter {
        if db.backend() != crate::db::Backend::Postgres || per_sec == 0 {
            return Self::new(per_sec, burst);
        }
        let interval_us = 1_000_000 / i64::from(per_sec);
        let burst = i64::from(burst.max(per_sec));
        SubjectLimiter {
            limiter: None,
            shared: Some(Shared {
                db: db.clone(),
                interval_us,
                capacity_us: interval_us.saturating_mul(burst),
            }),
            checks: AtomicU64::new(0),
        }
    }

    /// Takes one request from the subject's bucket; `Err` holds the whole seconds to wait.
    pub async fn check(&self, subject: &str) -> Result<(), u64> {
        if let Some(shared) = &self.shared {
            let (subject, interval, capacity) = (subject.to_string(), shared.interval_us, shared.capacity_us);
            // Forget idle subjects now and then, so the table stays as small as the active set.
            let tidy = self.checks.fetch_add(1, Ordering::Relaxed) % 10_000 == 9_999;
            let taken = shared
                .db
                .run(move |c| {
                    if tidy {
                        crate::db::rates::forget_idle(c, 3600)?;
                    }
                    crate::db::rates::take(c, &subject, interval, capacity)
                })
                .await;
            return match taken {
                Ok(true) => Ok(()),
                // A refused request waits at most one interval (at most a second) for a slot.
                Ok(false) => Err(1),
                Err(e) => {
                    tracing::warn!(error = %e, "the shared request limit could not be read; request let through");
                    Ok(())
                }
            };
        }
        self.check_in_memory(subject)
    }

    fn check_in_memory(&self, subject: &str) -> Result<(), u64> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        // Forget idle subjects now and then, so the map stays as small as the active set.
        if self.checks.fetch_add(1, Ordering::Relaxed) % 10_000 == 9_999 {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        limiter.check_key(&subject.to_string()).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            wait.as_secs_f64().ceil().max(1.0) as u64
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_refusal_per_subject() {
        let l = SubjectLimiter::new(1, 3);
        for _ in 0..3 {
            assert!(l.check_in_memory("user:a").is_ok());
        }
        assert_eq!(l.check_in_memory("user:a"), Err(1));
        assert!(
            l.check_in_memory("user:b").is_ok(),
            "another subject has its own bucket"
        );
    }

    #[test]
    fn zero_turns_it_off() {
        let l = SubjectLimiter::new(0, 0);
        for _ in 0..10_000 {
            assert!(l.check_in_memory("user:a").is_ok());
        }
    }
}
