//! Typed configuration: every setting is a command-line flag or an `HWT_` environment variable.
//!
//! Unknown `HWT_` variables are rejected at start-up so that a typo (say `HWT_DATABSE_URL`) never
//! silently falls back to a default.

use std::path::PathBuf;

use chrono::NaiveTime;
use clap::{Args, ValueEnum};

/// Log output format: human-readable for development, JSON lines for production.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Who must present a second factor (TOTP) when signing in with a password (DESIGN: 等保 2.0).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SecondFactorMode {
    /// Admins and regulators always; one without an enrolled factor gets a token that can only
    /// enrol one.
    Required,
    /// Only those who enrolled a factor (a rollout stage, and the test harness).
    Enrolled,
}

pub use crate::crypto::suite::CryptoSuite;

#[derive(Clone, Args)]
pub struct Config {
    /// Database URL: `sqlite://PATH` (embedded default) or `postgres://…` (production).
    #[arg(
        long,
        global = true,
        env = "HWT_DATABASE_URL",
        default_value = "sqlite://./data/hwtransfer.db"
    )]
    pub database_url: String,

    /// Address the HTTP server listens on.
    #[arg(long, global = true, env = "HWT_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: String,

    /// Directory for generated keys, attachments and the SQLite file.
    #[arg(long, global = true, env = "HWT_DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// Database connections in the pool (at least 2).
    #[arg(long, global = true, env = "HWT_POOL_SIZE", default_value_t = 10, value_parser = clap::value_parser!(u32).range(2..=500))]
    pub pool_size: u32,

    /// Write transactions this process runs at once; more wait their turn in arrival order
    /// before they begin (db::gate). Reads are not limited.
    #[arg(long, global = true, env = "HWT_WRITE_CONCURRENCY", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=500))]
    pub write_concurrency: u32,

    /// Seconds a request waits for a pooled connection before answering 503.
    #[arg(long, global = true, env = "HWT_POOL_TIMEOUT_SECS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=120))]
    pub pool_timeout_secs: u64,

    /// Lifetime of an access token, in seconds.
    #[arg(long, global = true, env = "HWT_ACCESS_TOKEN_TTL_SECS", default_value_t = 3600, value_parser = clap::value_parser!(u64).range(60..=86_400))]
    pub access_token_ttl_secs: u64,

    /// Algorithms: `standard` (SHA-256, HMAC-SHA256, Ed25519) or `sm` (SM3, HMAC-SM3, SM2). A
    /// database keeps the one it was first started with.
    #[arg(long, global = true, env = "HWT_CRYPTO", value_enum, default_value_t = CryptoSuite::Standard)]
    pub crypto: CryptoSuite,

    /// File with the key (32 bytes, hex) that encrypts webhook secrets at rest (AES-256-GCM).
    /// Default: DATA_DIR/webhook-secrets.key, generated on first start.
    #[arg(long, global = true, env = "HWT_WEBHOOK_KEY_FILE")]
    pub webhook_key_file: Option<PathBuf>,

    /// PEM file with the private key (PKCS#8) that signs tokens: Ed25519, or SM2 under `HWT_CRYPTO=sm`. Default: DATA_DIR/jwt-ed25519.pem (jwt-sm2.pem), generated on first start.
    #[arg(long, global = true, env = "HWT_JWT_PRIVATE_KEY_FILE")]
    pub jwt_private_key_file: Option<PathBuf>,

    /// PEM file with the matching public key. Default: DATA_DIR/jwt-ed25519.pub.pem (jwt-sm2.pub.pem).
    #[arg(long, global = true, env = "HWT_JWT_PUBLIC_KEY_FILE")]
    pub jwt_public_key_file: Option<PathBuf>,

    /// `iss` claim of issued tokens, required on verification.
    #[arg(long, global = true, env = "HWT_JWT_ISSUER", default_value = "hwtransfer")]
    pub jwt_issuer: String,

    /// `aud` claim of issued tokens, required on verification.
    #[arg(long, global = true, env = "HWT_JWT_AUDIENCE", default_value = "hwtransfer-api")]
    pub jwt_audience: String,

    /// Seconds a verified user's active state is cached before it is read again.
    #[arg(long, global = true, env = "HWT_USER_CACHE_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(0..=600))]
    pub user_cache_secs: u64,

    /// Failed logins (per username and per client address) before a lockout.
    #[arg(long, global = true, env = "HWT_LOGIN_MAX_FAILURES", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub login_max_failures: u32,

    /// Length of a login lockout, and of the window failures are counted in, in seconds.
    #[arg(long, global = true, env = "HWT_LOGIN_LOCKOUT_SECS", default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub login_lockout_secs: u64,

    /// Second factor for admins and regulators: `required` or `enrolled` (only those who enrolled).
    #[arg(long, global = true, env = "HWT_SECOND_FACTOR", value_enum, default_value_t = SecondFactorMode::Required)]
    pub second_factor: SecondFactorMode,

    /// Minutes a web UI session may stay unused before it ends (等保: sessions end when idle).
    #[arg(long, global = true, env = "HWT_UI_IDLE_MINUTES", default_value_t = 15, value_parser = clap::value_parser!(u64).range(1..=480))]
    pub ui_idle_minutes: u64,

    /// Hours after signing in that a web UI session ends however active it is (the access
    /// token's own lifetime, `HWT_ACCESS_TOKEN_TTL_SECS`, may end it earlier).
    #[arg(long, global = true, env = "HWT_UI_ABSOLUTE_HOURS", default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=24))]
    pub ui_absolute_hours: u64,

    /// Days a person's password stays valid; after that, sign-in asks for a new one first.
    /// 0 (the default) turns expiry off.
    #[arg(long, global = true, env = "HWT_PASSWORD_MAX_AGE_DAYS", default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=3650))]
    pub password_max_age_days: u64,

    /// Requests per second each signed-in user or API client may make (sustained); 0 turns the
    /// limit off. Beyond it the answer is 429 with Retry-After.
    #[arg(long, global = true, env = "HWT_RATE_LIMIT_PER_SEC", default_value_t = 50, value_parser = clap::value_parser!(u32).range(0..=100_000))]
    pub rate_limit_per_sec: u32,

    /// Requests a user or API client may make at once before the per-second rate applies.
    #[arg(long, global = true, env = "HWT_RATE_LIMIT_BURST", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub rate_limit_burst: u32,

    /// Office close time (Asia/Shanghai) at which a deadline day ends, HH:MM.
    #[arg(long, global = true, env = "HWT_OFFICE_CLOSE", default_value = "17:30", value_parser = parse_office_close)]
    pub office_close: NaiveTime,

    /// Log format: `pretty` or `json` (production).
    #[arg(long, global = true, env = "HWT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty)]
    pub log_format: LogFormat,

    /// Log filter in `tracing` syntax, e.g. `info` or `hwtransfer=debug,actix_web=info`.
    #[arg(long, global = true, env = "HWT_LOG", default_value = "info")]
    pub log: String,

    /// Seconds between runs of the deadline and expiry sweeper (0 = never; run `hwtransfer sweep`).
    #[arg(long, global = true, env = "HWT_SWEEP_INTERVAL_SECS", default_value_t = 60)]
    pub sweep_interval_secs: u64,

    /// Reverse proxies (comma-separated IP addresses) whose `X-Forwarded-For` names the client.
    /// Login throttling per address uses the peer address otherwise, which behind a proxy would
    /// lock everybody out together.
    #[arg(long, global = true, env = "HWT_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<std::net::IpAddr>,

    /// The address the public reaches the service at, e.g. `https://hwtransfer.example.gov.cn`:
    /// the certificate's QR code points there. Unset, the address of the request is used, which
    /// is right only when the proxy in front passes the public `Host`.
    #[arg(long, global = true, env = "HWT_PUBLIC_URL", value_parser = parse_public_url)]
    pub public_url: Option<String>,

    /// Largest attachment (PDF, JPEG, PNG) accepted with an application, in bytes.
    #[arg(long, global = true, env = "HWT_MAX_ATTACHMENT_BYTES", default_value_t = 10 * 1024 * 1024)]
    pub max_attachment_bytes: usize,

    /// A received quantity that differs from the shipped one by more than this share (percent)
    /// of it is a significant discrepancy: the operator must explain it and it is flagged.
    #[arg(long, global = true, env = "HWT_DISCREPANCY_PERCENT", default_value_t = 5.0, value_parser = parse_percent)]
    pub discrepancy_percent: f64,

    /// Maximum JSON request body, in bytes.
    #[arg(long, global = true, env = "HWT_MAX_JSON_BYTES", default_value_t = 1_048_576)]
    pub max_json_bytes: usize,

    /// Milliseconds between runs of the webhook delivery job (0 = no delivery from this process).
    #[arg(long, global = true, env = "HWT_WEBHOOK_INTERVAL_MS", default_value_t = 1000)]
    pub webhook_interval_ms: u64,

    /// Milliseconds a subscriber's endpoint has to answer a delivery.
    #[arg(long, global = true, env = "HWT_WEBHOOK_TIMEOUT_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(100..=60_000))]
    pub webhook_timeout_ms: u64,

    /// Milliseconds before the first retry of a failed delivery; each further wait doubles, up to
    /// an hour, for 24 hours.
    #[arg(long, global = true, env = "HWT_WEBHOOK_RETRY_BASE_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=3_600_000))]
    pub webhook_retry_base_ms: u64,

    /// Allow `http://` subscription URLs (development and tests). Production requires `https://`.
    #[arg(long, global = true, env = "HWT_WEBHOOK_ALLOW_HTTP", default_value_t = false, action = clap::ArgAction::Set)]
    pub webhook_allow_http: bool,

    /// Allow subscription URLs that resolve to loopback, private, link-local or other non-public
    /// addresses (development, tests, closed networks). Checked at subscription and at delivery.
    #[arg(long, global = true, env = "HWT_WEBHOOK_ALLOW_PRIVATE", default_value_t = false, action = clap::ArgAction::Set)]
    pub webhook_allow_private: bool,

    /// Seconds a replica's lease on a background job lasts without renewal; another replica takes
    /// the job over this long after the holder died.
    #[arg(long, global = true, env = "HWT_JOB_LEASE_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub job_lease_secs: u64,

    /// The longest a changes-feed request waits for an event (`GET /api/v1/changes?wait=`), in
    /// seconds; a request asking for longer is answered after this long. At most 30.
    #[arg(long, global = true, env = "HWT_FEED_MAX_WAIT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(0..=30))]
    pub feed_max_wait_secs: u64,

    /// Milliseconds between two looks at the newest event while a changes-feed request waits.
    #[arg(long, global = true, env = "HWT_FEED_POLL_MS", default_value_t = 500, value_parser = clap::value_parser!(u64).range(10..=10_000))]
    pub feed_poll_ms: u64,

    /// A PostgreSQL hot standby of the database (`postgres://…`) that serves the history, exports,
    /// the audit search, dashboards and the annual report. A caller whose own last write the
    /// standby has not replayed yet, and every caller while it is down or behind by more than
    /// `HWT_READ_MAX_LAG_MS`, is served by the primary. Unset: every read goes to the primary.
    #[arg(long, global = true, env = "HWT_READ_DATABASE_URL")]
    pub read_database_url: Option<String>,

    /// How far behind the primary (milliseconds) the read replica may be and still serve reads.
    #[arg(long, global = true, env = "HWT_READ_MAX_LAG_MS", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(0..=3_600_000))]
    pub read_max_lag_ms: u64,
}

/// Every `HWT_` variable the service knows; anything else with that prefix is refused.
pub const KNOWN_ENV: &[&str] = &[
    "HWT_DATABASE_URL",
    "HWT_LISTEN",
    "HWT_DATA_DIR",
    "HWT_POOL_SIZE",
    "HWT_POOL_TIMEOUT_SECS",
    "HWT_WRITE_CONCURRENCY",
    "HWT_ACCESS_TOKEN_TTL_SECS",
    "HWT_JWT_PRIVATE_KEY_FILE",
    "HWT_JWT_PUBLIC_KEY_FILE",
    "HWT_JWT_ISSUER",
    "HWT_JWT_AUDIENCE",
    "HWT_USER_CACHE_SECS",
    "HWT_LOGIN_MAX_FAILURES",
    "HWT_LOGIN_LOCKOUT_SECS",
    "HWT_SECOND_FACTOR",
    "HWT_UI_IDLE_MINUTES",
    "HWT_UI_ABSOLUTE_HOURS",
    "HWT_PASSWORD_MAX_AGE_DAYS",
    "HWT_RATE_LIMIT_PER_SEC",
    "HWT_RATE_LIMIT_BURST",
    "HWT_OFFICE_CLOSE",
    "HWT_LOG_FORMAT",
    "HWT_LOG",
    "HWT_MAX_JSON_BYTES",
    "HWT_DISCREPANCY_PERCENT",
    "HWT_SWEEP_INTERVAL_SECS",
    "HWT_MAX_ATTACHMENT_BYTES",
    "HWT_TRUSTED_PROXIES",
    "HWT_PUBLIC_URL",
    "HWT_WEBHOOK_INTERVAL_MS",
    "HWT_WEBHOOK_TIMEOUT_MS",
    "HWT_WEBHOOK_RETRY_BASE_MS",
    "HWT_WEBHOOK_ALLOW_HTTP",
    "HWT_WEBHOOK_ALLOW_PRIVATE",
    "HWT_WEBHOOK_KEY_FILE",
    "HWT_CRYPTO",
    "HWT_JOB_LEASE_SECS",
    "HWT_FEED_MAX_WAIT_SECS",
    "HWT_FEED_POLL_MS",
    "HWT_READ_DATABASE_URL",
    "HWT_READ_MAX_LAG_MS",
];

/// Names of `HWT_` variables in `vars` that no setting reads.
pub fn unknown_env_keys(vars: impl IntoIterator<Item = String>) -> Vec<String> {
    let mut unknown: Vec<String> = vars
        .into_iter()
        .filter(|k| k.starts_with("HWT_") && !KNOWN_ENV.contains(&k.as_str()))
        .collect();
    unknown.sort();
    unknown
}

/// An http(s) origin with an optional path prefix, without a trailing slash.
fn parse_public_url(s: &str) -> Result<String, String> {
    let t = s.trim().trim_end_matches('/');
    let rest = t
        .strip_prefix("https://")
        .or_else(|| t.strip_prefix("http://"))
        .ok_or_else(|| format!("the public URL must start with https:// or http://, got {s:?}"))?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || t.contains(['?', '#', ' ']) {
        return Err(format!(
            "the public URL must be like https://host[:port][/path], got {s:?}"
        ));
    }
    Ok(t.to_string())
}

fn parse_percent(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if (0.0..=100.0).contains(&v) => Ok(v),
        _ => Err("a percentage from 0 to 100".into()),
    }
}

fn parse_office_close(s: &str) -> Result<NaiveTime, String> {
    NaiveTime::parse_from_str(s, "%H:%M")
        .or_else(|_| NaiveTime::parse_from_str(s, "%H:%M:%S"))
        .map_err(|_| format!("office close must be HH:MM, got {s:?}"))
}

impl Config {
    /// A configuration with every default, for tests and tools.
    pub fn defaults() -> Self {
        Config {
            database_url: "sqlite://./data/hwtransfer.db".into(),
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./data"),
            pool_size: 10,
            write_concurrency: 8,
            pool_timeout_secs: 5,
            access_token_ttl_secs: 3600,
            crypto: CryptoSuite::Standard,
            webhook_key_file: None,
            jwt_private_key_file: None,
            jwt_public_key_file: None,
            jwt_issuer: "hwtransfer".into(),
            jwt_audience: "hwtransfer-api".into(),
            user_cache_secs: 30,
            login_max_failures: 5,
            login_lockout_secs: 900,
            second_factor: SecondFactorMode::Required,
            ui_idle_minutes: 15,
            ui_absolute_hours: 8,
            password_max_age_days: 0,
            rate_limit_per_sec: 50,
            rate_limit_burst: 100,
            office_close: NaiveTime::from_hms_opt(17, 30, 0).unwrap_or_default(),
            log_format: LogFormat::Pretty,
            log: "info".into(),
            max_json_bytes: 1_048_576,
            sweep_interval_secs: 60,
            max_attachment_bytes: 10 * 1024 * 1024,
            trusted_proxies: Vec::new(),
            public_url: None,
            discrepancy_percent: 5.0,
            webhook_interval_ms: 1000,
            webhook_timeout_ms: 10_000,
            webhook_retry_base_ms: 10_000,
            webhook_allow_http: false,
            webhook_allow_private: false,
            job_lease_secs: 30,
            feed_max_wait_secs: 30,
            feed_poll_ms: 500,
            read_database_url: None,
            read_max_lag_ms: 5000,
        }
    }

    fn key_stem(&self) -> &'static str {
        match self.crypto {
            CryptoSuite::Standard => "jwt-ed25519",
            CryptoSuite::Sm => "jwt-sm2",
        }
    }

    pub fn private_key_path(&self) -> PathBuf {
        self.jwt_private_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join(format!("{}.pem", self.key_stem())))
    }

    pub fn public_key_path(&self) -> PathBuf {
        self.jwt_public_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join(format!("{}.pub.pem", self.key_stem())))
    }

    pub fn webhook_key_path(&self) -> PathBuf {
        self.webhook_key_file
            .clone()
            .unwrap_or_else(|| self.data_dir.join("webhook-secrets.key"))
    }
}

/// The database URL with any password replaced, safe to log.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            if userinfo.contains(':') {
                format!("{}{}:***{}", &url[..scheme_end + 3], user, &url[at..])
            } else {
                url.to_string()
            }
        }
        _ => url.to_string(),
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("database_url", &redact_url(&self.database_url))
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("pool_size", &self.pool_size)
            .field("write_concurrency", &self.write_concurrency)
            .field("pool_timeout_secs", &self.pool_timeout_secs)
            .field("access_token_ttl_secs", &self.access_token_ttl_secs)
            .field("jwt_private_key_file", &self.private_key_path())
            .field("jwt_public_key_file", &self.public_key_path())
            .field("crypto", &self.crypto)
            .field("webhook_key_file", &self.webhook_key_path())
            .field("jwt_issuer", &self.jwt_issuer)
            .field("jwt_audience", &self.jwt_audience)
            .field("user_cache_secs", &self.user_cache_secs)
            .field("login_max_failures", &self.login_max_failures)
            .field("login_lockout_secs", &self.login_lockout_secs)
            .field("second_factor", &self.second_factor)
            .field("ui_idle_minutes", &self.ui_idle_minutes)
            .field("ui_absolute_hours", &self.ui_absolute_hours)
            .field("password_max_age_days", &self.password_max_age_days)
            .field("rate_limit_per_sec", &self.rate_limit_per_sec)
            .field("rate_limit_burst", &self.rate_limit_burst)
            .field("office_close", &self.office_close)
            .field("log_format", &self.log_format)
            .field("log", &self.log)
            .field("max_json_bytes", &self.max_json_bytes)
            .field("sweep_interval_secs", &self.sweep_interval_secs)
            .field("discrepancy_percent", &self.discrepancy_percent)
            .field("max_attachment_bytes", &self.max_attachment_bytes)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("public_url", &self.public_url)
            .field("webhook_interval_ms", &self.webhook_interval_ms)
            .field("webhook_timeout_ms", &self.webhook_timeout_ms)
            .field("webhook_retry_base_ms", &self.webhook_retry_base_ms)
            .field("webhook_allow_http", &self.webhook_allow_http)
            .field("webhook_allow_private", &self.webhook_allow_private)
            .field("job_lease_secs", &self.job_lease_secs)
            .field("feed_max_wait_secs", &self.feed_max_wait_secs)
            .field("feed_poll_ms", &self.feed_poll_ms)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_urls_are_origins_with_an_optional_prefix() {
        assert_eq!(
            parse_public_url("https://hwt.example.gov.cn/").as_deref(),
            Ok("https://hwt.example.gov.cn")
        );
        assert_eq!(
            parse_public_url("http://10.0.0.5:8080/zy").as_deref(),
            Ok("http://10.0.0.5:8080/zy")
        );
        for bad in ["hwt.example.gov.cn", "ftp://x", "https://", "https://x/?a=1"] {
            assert!(parse_public_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unknown_hwt_keys_are_reported() {
        let vars = ["HWT_LISTEN", "HWT_DATABSE_URL", "PATH", "HWT_X"].map(String::from);
        assert_eq!(unknown_env_keys(vars), vec!["HWT_DATABSE_URL", "HWT_X"]);
    }

    #[test]
    fn password_is_redacted() {
        assert_eq!(
            redact_url("postgres://hwt:s3cret@db:5432/hwt"),
            "postgres://hwt:***@db:5432/hwt"
        );
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1/x"),
            "postgres://postgres@127.0.0.1/x"
        );
        assert_eq!(redact_url("sqlite://./data/x.db"), "sqlite://./data/x.db");
        let mut c = Config::defaults();
        c.database_url = "postgres://u:topsecret@h/d".into();
        assert!(!format!("{c:?}").contains("topsecret"));
    }
}
