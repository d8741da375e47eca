//! Requests per subject. Every authenticated user or API client has a token bucket (governor's
//! GCRA): `HWT_RATE_LIMIT_PER_SEC` sustained, `HWT_RATE_LIMIT_BURST` at once; beyond that the
//! answer is 429 problem+json with `Retry-After`. One misbehaving ERP integration then cannot
//! take the service from everyone else. Buckets live in memory on each replica, so with N
//! replicas behind a balancer a subject gets at most N times the rate; the login throttle, which
//! guards passwords, is in the database and shared.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

pub struct SubjectLimiter {
    limiter: Option<DefaultKeyedRateLimiter<String>>,
    checks: AtomicU64,
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
            checks: AtomicU64::new(0),
        }
    }

    /// Takes one request from the subject's bucket; `Err` holds the whole seconds to wait.
    pub fn check(&self, subject: &str) -> Result<(), u64> {
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
            assert!(l.check("user:a").is_ok());
        }
        assert_eq!(l.check("user:a"), Err(1));
        assert!(l.check("user:b").is_ok(), "another subject has its own bucket");
    }

    #[test]
    fn zero_turns_it_off() {
        let l = SubjectLimiter::new(0, 0);
        for _ in 0..10_000 {
            assert!(l.check("user:a").is_ok());
        }
    }
}
