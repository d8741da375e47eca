//! Prometheus metrics: requests by route and status, a latency histogram, and the pool state.

use std::time::Duration;

use prometheus::{Encoder, Gauge, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, Opts, Registry, TextEncoder};

pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
    pool_connections: IntGauge,
    pool_idle: IntGauge,
    pool_waiting: IntGauge,
    writes_running: IntGauge,
    writes_waiting: IntGauge,
    webhook_attempts: IntCounterVec,
    notice_missing: IntGauge,
    catalogue_missing: IntGauge,
    replica_lag: Gauge,
    replica_serving: IntGauge,
    archive_reads: IntCounterVec,
}

impl Metrics {
    pub fn new() -> anyhow::Result<Self> {
        let registry = Registry::new_custom(Some("hwtransfer".into()), None)?;
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests by method, route and status"),
            &["method", "route", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency by method and route",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ]),
            &["method", "route"],
        )?;
        let pool_connections = IntGauge::new("db_pool_connections", "Open pooled database connections")?;
        let pool_idle = IntGauge::new("db_pool_idle", "Idle pooled database connections")?;
        let pool_waiting = IntGauge::new("db_pool_waiting", "Requests waiting for a database connection")?;
        let writes_running = IntGauge::new(
            "db_write_transactions_running",
            "Write transactions running now (at most HWT_WRITE_CONCURRENCY)",
        )?;
        let writes_waiting = IntGauge::new(
            "db_write_transactions_waiting",
            "Write transactions waiting their turn before they begin (db::gate)",
        )?;
        registry.register(Box::new(writes_running.clone()))?;
        registry.register(Box::new(writes_waiting.clone()))?;
        let webhook_attempts = IntCounterVec::new(
            Opts::new("webhook_attempts_total", "Webhook delivery attempts by outcome"),
            &["outcome"],
        )?;
        registry.register(Box::new(webhook_attempts.clone()))?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(pool_connections.clone()))?;
        registry.register(Box::new(pool_idle.clone()))?;
        registry.register(Box::new(pool_waiting.clone()))?;
        let notice_missing = IntGauge::new(
            "calendar_notice_missing_year",
            "The year whose State Council holiday notice is missing and due (the current year, or the next from 1 November); 0 when none",
        )?;
        registry.register(Box::new(notice_missing.clone()))?;
        let catalogue_missing = IntGauge::new(
            "catalogue_edition_missing",
            "The catalogue edition the law has in force today whose table is not loaded (checks use an older one); 0 when none",
        )?;
        registry.register(Box::new(catalogue_missing.clone()))?;
        let replica_lag = Gauge::new(
            "read_replica_lag_seconds",
            "How far the read replica is behind the primary, as last seen (0 when caught up or none configured)",
        )?;
        registry.register(Box::new(replica_lag.clone()))?;
        let replica_serving = IntGauge::new(
            "read_replica_serving",
            "1 while the read replica answers within the lag bound, 0 when it is down, behind or not configured",
        )?;
        registry.register(Box::new(replica_serving.clone()))?;
        let archive_reads = IntCounterVec::new(
            Opts::new(
                "archive_reads_total",
                "Reads of the archive (history, exports, audit search, dashboards, annual report) by the server that answered and why",
            ),
            &["server", "reason"],
        )?;
        registry.register(Box::new(archive_reads.clone()))?;
        Ok(Metrics {
            replica_lag,
            replica_serving,
            archive_reads,
            notice_missing,
            catalogue_missing,
            registry,
            requests,
            latency,
            pool_connections,
            pool_idle,
            pool_waiting,
            writes_running,
            writes_waiting,
            webhook_attempts,
        })
    }

    pub fn observe(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        self.requests
            .with_label_values(&[method, route, &status.to_string()])
            .inc();
        self.latency
            .with_label_values(&[method, route])
            .observe(elapsed.as_secs_f64());
    }

    pub fn webhook_attempt(&self, delivered: bool) {
        self.webhook_attempts
            .with_label_values(&[if delivered { "delivered" } else { "failed" }])
            .inc();
    }

    /// Records which year's holiday notice is missing and due, if any.
    pub fn notice_missing(&self, year: Option<i32>) {
        self.notice_missing.set(i64::from(year.unwrap_or(0)));
    }

    /// Records which catalogue edition in force is not loaded, if any.
    pub fn catalogue_edition_missing(&self, edition: Option<i32>) {
        self.catalogue_missing.set(i64::from(edition.unwrap_or(0)));
    }

    /// Records the read replica's last seen state.
    pub fn replica(&self, serving: bool, lag_secs: f64) {
        self.replica_serving.set(i64::from(serving));
        self.replica_lag.set(if lag_secs.is_finite() { lag_secs } else { -1.0 });
    }

    /// Counts one archive read answered by `server` ("standby" or "primary") for `reason`.
    pub fn archive_read(&self, server: &str, reason: &str) {
        self.archive_reads.with_label_values(&[server, reason]).inc();
    }

    /// The text exposition, with the pool gauges and the write gate read now.
    pub fn render(&self, pool: (u32, u32, i64), writes: (u64, u64)) -> String {
        let (connections, idle, waiting) = pool;
        self.pool_connections.set(i64::from(connections));
        self.pool_idle.set(i64::from(idle));
        self.pool_waiting.set(waiting);
        let (running, waiting) = writes;
        self.writes_running.set(i64::try_from(running).unwrap_or(i64::MAX));
        self.writes_waiting.set(i64::try_from(waiting).unwrap_or(i64::MAX));
        let mut buf = Vec::new();
        if TextEncoder::new().encode(&self.registry.gather(), &mut buf).is_err() {
            return String::new();
        }
        String::from_utf8(buf).unwrap_or_default()
    }
}
