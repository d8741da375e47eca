//! Admission of write transactions: at most `HWT_WRITE_CONCURRENCY` outermost write transactions
//! of this process run at once; the others wait their turn here, first come first served, before
//! their `BEGIN`.
//!
//! Why (issue #18, docs/BENCHMARKS.md): filings that draw on one whitelist entry are serialised
//! by the entry's row lock, and the database's lock queue is neither cheap nor fair — with 32
//! transactions queued on one row PostgreSQL does more work per filing and the slowest wait
//! seconds. Waiting here holds no lock and no open transaction, and the order is the order of
//! arrival. Reads are not gated, nor is the record of an auditor's read (`super::ungated_tx`).
//! Nested units of work (savepoints) run under their outermost
//! transaction's turn, so a thread never waits for itself.

use std::sync::{Condvar, Mutex, MutexGuard};

struct Turns {
    /// Tickets handed out, one per outermost write transaction.
    issued: u64,
    /// Transactions that have finished.
    done: u64,
    /// How many may run at once (`u64::MAX` until the service sets it: tools are not gated).
    limit: u64,
}

static TURNS: Mutex<Turns> = Mutex::new(Turns {
    issued: 0,
    done: 0,
    limit: u64::MAX,
});
static NEXT: Condvar = Condvar::new();

fn turns() -> MutexGuard<'static, Turns> {
    TURNS.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Sets how many write transactions of this process may run at once (at least 1).
pub fn set_limit(limit: u32) {
    turns().limit = u64::from(limit.max(1));
    NEXT.notify_all();
}

/// (running, waiting): write transactions inside the gate now, and those waiting their turn.
pub fn occupancy() -> (u64, u64) {
    let t = turns();
    let present = t.issued - t.done;
    let running = present.min(t.limit);
    (running, present - running)
}

/// A turn to run a write transaction; the next waiter may go when it is dropped.
#[must_use]
pub struct Turn(());

/// Waits for this thread's turn: ticket `t` runs once fewer than `limit` of the tickets before it
/// are still running, so at most `limit` run at once and they start in ticket order.
pub(super) fn wait_turn() -> Turn {
    let mut t = turns();
    let ticket = t.issued;
    t.issued += 1;
    while ticket >= t.done.saturating_add(t.limit) {
        t = NEXT.wait(t).unwrap_or_else(|poisoned| poisoned.into_inner());
    }
    Turn(())
}

impl Drop for Turn {
    fn drop(&mut self) {
        turns().done += 1;
        NEXT.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    /// Eight threads through a gate of two: never more than two inside, and all eight pass.
    #[test]
    fn at_most_the_limit_run_at_once() {
        set_limit(2);
        static INSIDE: AtomicU32 = AtomicU32::new(0);
        static MOST: AtomicU32 = AtomicU32::new(0);
        static PASSED: AtomicU32 = AtomicU32::new(0);
        let threads: Vec<_> = (0..8)
            .map(|_| {
                std::thread::spawn(|| {
                    let turn = wait_turn();
                    let now = INSIDE.fetch_add(1, Ordering::SeqCst) + 1;
                    MOST.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(50));
                    INSIDE.fetch_sub(1, Ordering::SeqCst);
                    PASSED.fetch_add(1, Ordering::SeqCst);
                    drop(turn);
                })
            })
            .collect();
        // While they pass, the gauges see at most two running and the others waiting.
        let mut seen_waiting = false;
        for _ in 0..150 {
            let (running, waiting) = occupancy();
            assert!(running <= 2, "{running} running");
            seen_waiting |= waiting > 0;
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(seen_waiting, "some waited while two ran");
        for t in threads {
            t.join().unwrap();
        }
        turns().limit = u64::MAX;
        assert_eq!(PASSED.load(Ordering::SeqCst), 8);
        assert_eq!(MOST.load(Ordering::SeqCst), 2, "two ran together, never more");
    }
}
