//! The command line: `serve`, `migrate`, accounts, tokens, demo data and reference-data imports.

pub mod seed;
pub mod seed_regimes;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::app::{self, AppState};
use crate::auth::principal::{Binding, Role, SubjectKind};
use crate::auth::{password, token::TokenIssuer};
use crate::config::Config;
use crate::db::{self, DbConnection, db_now, new_id, users::ApiClientRow};
use crate::domain::calendar::{CalendarDay, DayKind, YearCalendar};
use crate::service::users::{NewUser, binding_for, create_user, validate_password, validate_username};

#[derive(Parser)]
#[command(
    name = "hwtransfer",
    version,
    about = "Cross-provincial hazardous-waste transfer whitelist service"
)]
pub struct Cli {
    #[command(flatten)]
    pub config: Config,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the HTTP service (applies migrations first).
    Serve {
        /// Load the demo data first and print the demo logins.
        #[arg(long)]
        demo: bool,
    },
    /// Apply pending migrations and load the embedded reference data.
    Migrate,
    /// Manage user accounts.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage API clients (enterprise or operator systems).
    #[command(subcommand)]
    Client(ClientCommand),
    /// Print an access token for a user (for scripts).
    Token {
        #[arg(long)]
        user: String,
    },
    /// Load demo data (idempotent), or synthetic data at scale for benchmarks.
    Seed {
        #[arg(long)]
        demo: bool,
        /// Generate this many synthetic applications (benchmarks; see docs/BENCHMARKS.md).
        #[arg(long, conflicts_with = "demo")]
        scale: Option<i64>,
        /// With --scale: manifests under each approved application (70 % of them are approved).
        #[arg(long, default_value_t = 15)]
        manifests_per_approval: i64,
        /// With --scale: audit records per application.
        #[arg(long, default_value_t = 20)]
        audit_per_application: i64,
    },
    /// Holiday calendar data.
    #[command(subcommand)]
    Calendar(CalendarCommand),
    /// Waste catalogue editions.
    #[command(subcommand)]
    Catalogue(CatalogueCommand),
    /// Print the OpenAPI document.
    Openapi,
    /// Run the sweeper once (licence expiry, entry expiry) and print what it did.
    Sweep,
    /// The hash-chained audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
}

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Walk the chain and report the first broken link (exit status 1 when broken).
    Verify,
}

#[derive(Subcommand)]
pub enum UserCommand {
    /// Create a user.
    Add {
        #[arg(long)]
        username: String,
        #[arg(long)]
        password: String,
        /// enterprise, operator, regulator, auditor or admin.
        #[arg(long)]
        role: String,
        #[arg(long)]
        province: Option<String>,
        #[arg(long)]
        enterprise: Option<String>,
        #[arg(long)]
        operator: Option<String>,
        #[arg(long)]
        display_name: Option<String>,
    },
    /// Disable a user.
    Disable {
        #[arg(long)]
        username: String,
    },
    /// Enable a user again.
    Enable {
        #[arg(long)]
        username: String,
    },
    /// List users.
    List,
}

#[derive(Subcommand)]
pub enum ClientCommand {
    /// Create an API client; prints its id and secret once.
    Add {
        #[arg(long)]
        name: String,
        /// enterprise or operator.
        #[arg(long, default_value = "enterprise")]
        role: String,
        #[arg(long)]
        enterprise: Option<String>,
        #[arg(long)]
        operator: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum CalendarCommand {
    /// Import holidays and make-up days from a CSV (`date,kind,name_zh,name_en`); every year in the file is replaced.
    Import { file: PathBuf },
}

#[derive(Subcommand)]
pub enum CatalogueCommand {
    /// Load a catalogue edition: its code table (CSV in the format of data/hw-catalogue-2021.csv)
    /// and the successor mapping from the previous loaded edition, checked like the API's
    /// `POST /api/v1/catalogue/editions` (every problem by line; nothing stored on any).
    Import {
        file: PathBuf,
        #[arg(long)]
        edition: i32,
        /// How many codes the official table lists (the file must have as many rows).
        #[arg(long)]
        count: i32,
        /// The mapping old code → new code(s), CSV with the header `old_code,new_code`.
        #[arg(long)]
        successors: Option<PathBuf>,
        /// Date the edition comes into force (default: 1 January of the edition year).
        #[arg(long)]
        in_force_from: Option<chrono::NaiveDate>,
        /// The order that publishes it, e.g. 部令第36号.
        #[arg(long)]
        source: String,
    },
}

fn open(config: &Config) -> anyhow::Result<AppState> {
    let state = AppState::new(config.clone())?;
    app::prepare_database_with(&state.db, state.config.office_close, state.config.crypto)?;
    app::prepare_state(&state)?;
    Ok(state)
}

/// Loads the demo data under the set-up lock: replicas started with `--demo` at the same moment
/// seed one after the other, and the later ones find everything there (`seed::demo` is
/// idempotent) instead of racing on the same rows.
fn seed_demo(conn: &mut db::pool::PooledConn, office_close: chrono::NaiveTime) -> anyhow::Result<Vec<seed::DemoLogin>> {
    db::migrate::with_setup_lock(conn, |c| seed::demo(c, office_close).map_err(db::DbError::Other)).map_err(fail)
}

fn conn(state: &AppState) -> anyhow::Result<db::pool::PooledConn> {
    state.db.get().map_err(|e| anyhow::anyhow!("{e}"))
}

/// Whoever runs the command line holds the database: they act as an administrator, and the
/// audit trail records them as `cli`.
fn command_line_admin() -> crate::auth::Principal {
    crate::auth::Principal {
        subject: "cli".into(),
        kind: SubjectKind::User,
        name: "command line".into(),
        role: Role::Admin,
        binding: Binding::Nationwide,
    }
}

/// `/codes_csv/12/code` as "codes file line 12, code".
fn describe_pointer(pointer: &str) -> String {
    let parts: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
    let file = |name: &str| match name {
        "codes_csv" => Some("codes file"),
        "successors_csv" => Some("successors file"),
        _ => None,
    };
    match parts.as_slice() {
        [f, line, column] if file(f).is_some() => format!("{} line {line} {column}", file(f).unwrap_or_default()),
        [f, line] if file(f).is_some() => format!("{} line {line}", file(f).unwrap_or_default()),
        [f] if file(f).is_some() => file(f).unwrap_or_default().to_string(),
        [field] => format!("--{}", field.replace('_', "-").replace("code-count", "count")),
        _ => pointer.to_string(),
    }
}

fn fail<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = cli.config;
    if !matches!(cli.command, Command::Serve { .. }) {
        // Changes made from the command line are audited as such.
        crate::audit::set_thread_context(crate::audit::Context::cli());
    }
    match cli.command {
        Command::Serve { demo } => serve(config, demo).await,
        Command::Migrate => {
            let state = AppState::new(config)?;
            let applied = app::prepare_database_with(&state.db, state.config.office_close, state.config.crypto)?;
            app::prepare_state(&state)?;
            println!(
                "migrations applied: {}",
                if applied.is_empty() {
                    "none pending".into()
                } else {
                    applied.join(", ")
                }
            );
            Ok(())
        }
        Command::User(cmd) => user(config, cmd),
        Command::Client(cmd) => client(config, cmd),
        Command::Token { user } => {
            let state = open(&config)?;
            let row = db::users::user_by_username(&mut *conn(&state)?, &user)
                .map_err(fail)?
                .ok_or_else(|| anyhow::anyhow!("no user {user}"))?;
            if !row.active {
                anyhow::bail!("user {user} is disabled");
            }
            let role = Role::parse(&row.role).ok_or_else(|| anyhow::anyhow!("bad role"))?;
            let binding = Binding::for_role(
                role,
                row.province.as_deref(),
                row.enterprise_id.as_deref(),
                row.operator_id.as_deref(),
            )
            .ok_or_else(|| anyhow::anyhow!("user {user} has no valid binding"))?;
            let token = TokenIssuer {
                keys: &state.keys,
                issuer: &config.jwt_issuer,
                audience: &config.jwt_audience,
                ttl_secs: config.access_token_ttl_secs,
            }
            .issue(&row.id, SubjectKind::User, &row.username, role, &binding.to_claim())?;
            println!("{token}");
            Ok(())
        }
        Command::Seed {
            scale: Some(n),
            manifests_per_approval,
            audit_per_application,
            ..
        } => {
            if n < 1 {
                anyhow::bail!("--scale needs a positive number of applications");
            }
            let state = open(&config)?;
            let started = std::time::Instant::now();
            let report = db::scale::generate(&mut *conn(&state)?, n, manifests_per_approval, audit_per_application)?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            println!("generated in {:.1} s", started.elapsed().as_secs_f64());
            Ok(())
        }
        Command::Seed { demo, .. } => {
            if !demo {
                anyhow::bail!("say --demo to load the demo data, or --scale N for benchmark data");
            }
            let state = open(&config)?;
            let logins = seed_demo(&mut conn(&state)?, config.office_close)?;
            seed::print_logins(&logins, None);
            Ok(())
        }
        Command::Calendar(CalendarCommand::Import { file }) => {
            let text = std::fs::read_to_string(&file)?;
            let years = parse_calendar_csv(&text)?;
            let state = open(&config)?;
            let source = format!("imported from {}", file.display());
            for y in years {
                let (year, days) = (y.year(), y.days().len());
                // The same path as the API's: open provisional deadlines are recomputed.
                let (_, _, recomputed) = crate::service::calendar::store_year(&state, "cli", y, source.clone())
                    .await
                    .map_err(|e| anyhow::anyhow!("calendar {year}: {e}"))?;
                println!("calendar {year}: {days} days imported, {recomputed} open deadline(s) recomputed");
            }
            Ok(())
        }
        Command::Catalogue(CatalogueCommand::Import {
            file,
            edition,
            count,
            successors,
            in_force_from,
            source,
        }) => {
            let codes_csv = std::fs::read_to_string(&file)?;
            let successors_csv = successors.map(std::fs::read_to_string).transpose()?;
            let from = match in_force_from {
                Some(d) => d,
                None => {
                    chrono::NaiveDate::from_ymd_opt(edition, 1, 1).ok_or_else(|| anyhow::anyhow!("bad edition year"))?
                }
            };
            let state = open(&config)?;
            let input = crate::service::catalogue::EditionInput {
                edition,
                in_force_from: from.to_string(),
                source,
                code_count: count,
                codes_csv,
                successors_csv,
            };
            // The same use case as the API's and the web form's.
            let ctx = crate::service::Ctx::new(command_line_admin());
            match crate::service::catalogue::import_edition(&state, &ctx, input).await {
                Ok(ed) => {
                    println!(
                        "catalogue edition {} (in force from {}): {} codes, {} successor line(s) imported",
                        ed.edition, ed.in_force_from, ed.code_count, ed.successor_count
                    );
                    Ok(())
                }
                Err(crate::service::Error::Invalid(problems)) => {
                    let lines: Vec<String> = problems
                        .iter()
                        .map(|p| format!("{}: {} ({})", describe_pointer(&p.pointer), p.message, p.code))
                        .collect();
                    Err(anyhow::anyhow!(
                        "{} problem(s), nothing imported:\n{}",
                        lines.len(),
                        lines.join("\n")
                    ))
                }
                Err(e @ crate::service::Error::Conflict(_)) => Err(anyhow::anyhow!("{e}")),
                Err(e) => Err(fail(e)),
            }
        }
        Command::Openapi => {
            use std::io::Write;
            // A closed pipe (`| head`) ends the output quietly instead of panicking.
            let _ = writeln!(std::io::stdout(), "{}", app::openapi().to_pretty_json()?);
            Ok(())
        }
        Command::Audit(AuditCommand::Verify) => {
            let state = open(&config)?;
            let report = db::audit::verify(&mut *conn(&state)?).map_err(fail)?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            match report.first_break {
                None => Ok(()),
                Some(b) => Err(anyhow::anyhow!(
                    "the audit chain is broken at record {}: {} ({})",
                    b.seq,
                    b.kind,
                    b.detail
                )),
            }
        }
        Command::Sweep => {
            let state = open(&config)?;
            let close = state.config.office_close;
            let report = crate::jobs::sweep_once_with(&mut *conn(&state)?, close, chrono::Utc::now()).map_err(fail)?;
            println!("{}", serde_json::to_string_pretty(&report)?);
            Ok(())
        }
    }
}

async fn serve(mut config: Config, demo: bool) -> anyhow::Result<()> {
    // The demo's admins and regulators sign in with their printed passwords: a second factor is
    // asked only of those who enrol one, unless HWT_SECOND_FACTOR says otherwise.
    if demo && std::env::var_os("HWT_SECOND_FACTOR").is_none() {
        config.second_factor = crate::config::SecondFactorMode::Enrolled;
    }
    let state = AppState::new(config.clone())?;
    let db = state.db.clone();
    let close = state.config.office_close;
    let suite = config.crypto;
    let applied = actix_web::web::block(move || app::prepare_database_with(&db, close, suite)).await??;
    let state = actix_web::web::Data::new(state);
    let prepared = state.clone();
    actix_web::web::block(move || app::prepare_state(&prepared)).await??;
    tracing::info!(database = %crate::config::redact_url(&config.database_url), ?applied, "database ready");
    let logins = if demo {
        let db = state.db.clone();
        let close = config.office_close;
        Some(
            actix_web::web::block(move || -> anyhow::Result<_> { seed_demo(&mut db.get().map_err(fail)?, close) })
                .await??,
        )
    } else {
        None
    };
    warn_missing_calendar(&state).await;
    if config.sweep_interval_secs > 0 {
        crate::jobs::spawn_sweeper(
            state.clone(),
            std::time::Duration::from_secs(config.sweep_interval_secs),
        );
    }
    if config.webhook_interval_ms > 0 {
        crate::jobs::delivery::spawn(
            state.clone(),
            std::time::Duration::from_millis(config.webhook_interval_ms),
        )?;
    }
    let (server, addr) = app::start_server(state, &config.listen)?;
    println!("hwtransfer listening on http://{addr}  (web UI: http://{addr}/  API docs: http://{addr}/docs/)");
    if let Some(logins) = logins {
        seed::print_logins(&logins, Some(addr));
    }
    server.await?;
    Ok(())
}

/// The State Council publishes next year's notice around November; until it is imported every
/// deadline in that year is provisional, which admins must hear about.
async fn warn_missing_calendar(state: &AppState) {
    use chrono::Datelike;
    let year = crate::domain::calendar::shanghai_date(chrono::Utc::now()).year();
    if let Ok(cal) = state.db.run(db::calendar::load).await {
        for y in [year, year + 1] {
            if !cal.has_year(y) {
                tracing::warn!(
                    year = y,
                    "no holiday calendar for {y}: deadlines in {y} are provisional until it is imported (PUT /api/v1/calendar/{y})"
                );
            }
        }
    }
}

fn user(config: Config, cmd: UserCommand) -> anyhow::Result<()> {
    let state = open(&config)?;
    let mut c = conn(&state)?;
    match cmd {
        UserCommand::Add {
            username,
            password,
            role,
            province,
            enterprise,
            operator,
            display_name,
        } => {
            let role = Role::parse(&role)
                .ok_or_else(|| anyhow::anyhow!("role must be enterprise, operator, regulator, auditor or admin"))?;
            let username = validate_username(&username)?;
            let password = validate_password(&password, &username)?;
            let binding =
                binding_for(role, province.as_deref(), enterprise.as_deref(), operator.as_deref()).map_err(|p| {
                    anyhow::anyhow!(
                        p.iter()
                            .map(|(f, i)| format!("{f}: {i}"))
                            .collect::<Vec<_>>()
                            .join("; ")
                    )
                })?;
            let row = create_user(
                &mut c,
                &NewUser {
                    display_name: display_name.unwrap_or_else(|| username.clone()),
                    username,
                    password,
                    role,
                    binding,
                },
            )
            .map_err(fail)?;
            println!("user {} created ({}, id {})", row.username, row.role, row.id);
        }
        UserCommand::Disable { username } => {
            if !db::users::set_user_active(&mut c, &username, false).map_err(fail)? {
                anyhow::bail!("no user {username}");
            }
            println!("user {username} disabled");
        }
        UserCommand::Enable { username } => {
            if !db::users::set_user_active(&mut c, &username, true).map_err(fail)? {
                anyhow::bail!("no user {username}");
            }
            println!("user {username} enabled");
        }
        UserCommand::List => {
            let mut after: Option<String> = None;
            loop {
                let page = db::users::list_users(&mut c, after.as_deref(), 200).map_err(fail)?;
                for u in &page {
                    let binding = u
                        .province
                        .clone()
                        .or(u.enterprise_id.clone())
                        .or(u.operator_id.clone())
                        .unwrap_or_default();
                    println!(
                        "{:<24} {:<10} {:<36} {}",
                        u.username,
                        u.role,
                        binding,
                        if u.active { "active" } else { "disabled" }
                    );
                }
                match page.last() {
                    Some(u) if page.len() == 200 => after = Some(u.username.clone()),
                    _ => break,
                }
            }
        }
    }
    Ok(())
}

/// Creates an API client and returns (client_id, secret).
pub fn add_client(
    conn: &mut DbConnection,
    name: &str,
    role: Role,
    binding: &Binding,
    secret: Option<&str>,
) -> anyhow::Result<(String, String)> {
    let (enterprise_id, operator_id) = match (role, binding) {
        (Role::Enterprise, Binding::Enterprise(e)) => (Some(e.clone()), None),
        (Role::Operator, Binding::Operator(o)) => (None, Some(o.clone())),
        _ => anyhow::bail!("an API client is an enterprise system (--enterprise) or an operator system (--operator)"),
    };
    let client_id = format!("hwt_{}", uuid::Uuid::new_v4().simple());
    let secret = match secret {
        Some(s) => s.to_string(),
        None => password::random_secret(32)?,
    };
    let row = ApiClientRow {
        id: new_id(),
        client_id: client_id.clone(),
        secret_hash: password::hash(&secret)?,
        name: name.to_string(),
        role: role.as_str().to_string(),
        enterprise_id,
        operator_id,
        active: true,
        created_at: db_now(),
    };
    db::users::insert_client(conn, &row).map_err(fail)?;
    Ok((client_id, secret))
}

fn client(config: Config, cmd: ClientCommand) -> anyhow::Result<()> {
    let state = open(&config)?;
    let mut c = conn(&state)?;
    let ClientCommand::Add {
        name,
        role,
        enterprise,
        operator,
    } = cmd;
    let role = Role::parse(&role).ok_or_else(|| anyhow::anyhow!("role must be enterprise or operator"))?;
    let binding = binding_for(role, None, enterprise.as_deref(), operator.as_deref()).map_err(|p| {
        anyhow::anyhow!(
            p.iter()
                .map(|(f, i)| format!("{f}: {i}"))
                .collect::<Vec<_>>()
                .join("; ")
        )
    })?;
    let (client_id, secret) = add_client(&mut c, &name, role, &binding, None)?;
    println!("client_id:     {client_id}\nclient_secret: {secret}\n(the secret is shown only now)");
    Ok(())
}

/// Parses a calendar CSV (`date,kind,name_zh,name_en`) into validated years.
pub fn parse_calendar_csv(text: &str) -> anyhow::Result<Vec<YearCalendar>> {
    use chrono::Datelike;
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let mut by_year: std::collections::BTreeMap<i32, Vec<CalendarDay>> = Default::default();
    let mut problems = Vec::new();
    for (i, rec) in reader.records().enumerate() {
        let line = i + 2;
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                problems.push(format!("line {line}: {e}"));
                continue;
            }
        };
        let date = chrono::NaiveDate::parse_from_str(rec.get(0).unwrap_or_default(), "%Y-%m-%d");
        let kind = match rec.get(1).unwrap_or_default() {
            "holiday" => Some(DayKind::Holiday),
            "workday" => Some(DayKind::Workday),
            _ => None,
        };
        match (date, kind) {
            (Ok(date), Some(kind)) => by_year.entry(date.year()).or_default().push(CalendarDay {
                date,
                kind,
                name_zh: rec.get(2).unwrap_or_default().to_string(),
                name_en: rec.get(3).unwrap_or_default().to_string(),
            }),
            (Err(_), _) => problems.push(format!("line {line}: date must be YYYY-MM-DD")),
            (_, None) => problems.push(format!("line {line}: kind must be holiday or workday")),
        }
    }
    let mut years = Vec::new();
    for (year, days) in by_year {
        match YearCalendar::new(year, days) {
            Ok(y) => years.push(y),
            Err(ps) => problems.extend(ps.into_iter().map(|(i, f, p)| format!("{year} entry {i} {f}: {p}"))),
        }
    }
    if !problems.is_empty() {
        anyhow::bail!(
            "{} problem(s), nothing imported:\n{}",
            problems.len(),
            problems.join("\n")
        );
    }
    Ok(years)
}
