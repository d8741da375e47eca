//! Demo data for a first look: one account of each role (and a regulator per southwest
//! province) with well-known passwords. Idempotent: existing accounts are left alone.
//!
//! The registry (enterprises, operators, licences, a confirmed whitelist for the current year) and
//! transfer applications in every state of the workflow, some due today and some overdue.
//!
//! Here: the accounts, the [`AppSeeder`] and the order of loading; `registry.rs` the registry,
//! `seeder.rs` the seeder's moves, `states.rs` the cases, and `seed_regimes.rs` beside this
//! directory the regimes of several provinces.

use crate::auth::principal::{Binding, Role};
use crate::db::applications::{Act, ActRefusal, AppRow, Method};
use crate::db::{self, DbConnection};
use crate::domain::ids::ProvinceCode;
use crate::domain::workflow::{Actor, Route, Side, Status};
use crate::service::users::{NewUser, create_user};

mod registry;
mod seeder;
mod states;

use registry::*;
use seeder::*;

/// Demo identifiers of the producer and operator the enterprise and operator accounts act for.
pub const DEMO_ENTERPRISE_ID: &str = "demo-producer-cq";
pub const DEMO_OPERATOR_ID: &str = "demo-operator-sc";
/// Every demo account's password. For local demos only: never seed a production database.
pub const DEMO_PASSWORD: &str = "demo-pass-2026";

pub struct DemoLogin {
    pub username: String,
    pub role: Role,
    pub binding: String,
}

fn demo_accounts() -> Vec<(&'static str, &'static str, Role, Binding)> {
    vec![
        ("admin", "系统管理员", Role::Admin, Binding::Nationwide),
        (
            "cq-regulator",
            "重庆市生态环境局 审批员",
            Role::Regulator,
            Binding::Province(ProvinceCode::CHONGQING),
        ),
        (
            "sc-regulator",
            "四川省生态环境厅 审批员",
            Role::Regulator,
            Binding::Province(ProvinceCode::SICHUAN),
        ),
        (
            "gz-regulator",
            "贵州省生态环境厅 审批员",
            Role::Regulator,
            Binding::Province(ProvinceCode::GUIZHOU),
        ),
        (
            "yn-regulator",
            "云南省生态环境厅 审批员",
            Role::Regulator,
            Binding::Province(ProvinceCode::YUNNAN),
        ),
        ("auditor", "审计员", Role::Auditor, Binding::Nationwide),
        (
            "cq-producer",
            "重庆示范化工有限公司",
            Role::Enterprise,
            Binding::Enterprise(DEMO_ENTERPRISE_ID.into()),
        ),
        (
            "sc-operator",
            "四川示范环保处置有限公司",
            Role::Operator,
            Binding::Operator(DEMO_OPERATOR_ID.into()),
        ),
        super::seed_regimes::collector_account(),
    ]
}

pub(super) fn err<E: std::fmt::Display>(e: E) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

pub(super) fn demo_uscc(division: &str, serial: u32) -> anyhow::Result<String> {
    let first17 = format!("91{division}MA{serial:07}");
    Ok(crate::domain::ids::Uscc::with_check_char(&first17[..17])
        .map_err(err)?
        .as_str()
        .to_string())
}

/// Files and moves the demo applications. Times are real instants in the past: the day a step
/// started decides its due day, so "due today" and "overdue" are chosen by going back working days.
pub(super) struct AppSeeder<'c> {
    pub(super) conn: &'c mut DbConnection,
    pub(super) cal: crate::domain::calendar::WorkingDayCalendar,
    pub(super) close: chrono::NaiveTime,
    pub(super) now: chrono::DateTime<chrono::Utc>,
    /// The day the "due today" cases fall due: today, or the next working day when today is not
    /// one (a deadline always falls on a working day).
    due_day: chrono::NaiveDate,
    filed: u32,
}

/// Applications from the demo producers in every state on both routes, some due today and some
/// overdue, loaded in one transaction and only while the demo producers have none.
fn demo_applications(conn: &mut DbConnection, close: chrono::NaiveTime) -> anyhow::Result<()> {
    use crate::db::applications::AppFilter;
    for (id, ..) in DEMO_ENTERPRISES {
        let filter = AppFilter {
            enterprise_id: Some(id.to_string()),
            ..Default::default()
        };
        if !db::applications::list(conn, &filter, None, 1).map_err(err)?.is_empty() {
            return Ok(());
        }
    }
    db::write_tx(conn, |conn| -> anyhow::Result<()> {
        let cal = db::calendar::load(conn).map_err(err)?;
        let now = chrono::Utc::now();
        let mut due_day = crate::domain::calendar::shanghai_date(now);
        for _ in 0..30 {
            if cal.is_working_day(due_day).0 {
                break;
            }
            due_day = due_day.succ_opt().unwrap_or(due_day);
        }
        let mut seeder = AppSeeder {
            conn,
            cal,
            close,
            now,
            due_day,
            filed: 0,
        };
        seeder.all_states()?;
        seeder.new_states()?;
        // Deemed acceptance, overdue marking and expiry as the sweeper would do them; the second
        // pass flags the review steps that deemed acceptance just opened (already late).
        for _ in 0..2 {
            db::applications::sweep(seeder.conn, &seeder.cal, close, now).map_err(err)?;
        }
        Ok(())
    })
}

/// Loads the demo data; returns the accounts to show.
/// The demo data; deadlines fall due at `office_close` (`HWT_OFFICE_CLOSE`) like real ones.
pub fn demo(conn: &mut DbConnection, office_close: chrono::NaiveTime) -> anyhow::Result<Vec<DemoLogin>> {
    demo_registry(conn)?;
    super::seed_regimes::registry(conn)?;
    demo_applications(conn, office_close)?;
    let mut logins = Vec::new();
    for (username, name, role, binding) in demo_accounts() {
        if db::users::user_by_username(conn, username)
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .is_none()
        {
            create_user(
                conn,
                &NewUser {
                    username: username.into(),
                    password: DEMO_PASSWORD.into(),
                    role,
                    display_name: name.into(),
                    binding: binding.clone(),
                },
            )
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        logins.push(DemoLogin {
            username: username.into(),
            role,
            binding: binding.to_claim(),
        });
    }
    Ok(logins)
}

pub fn print_logins(logins: &[DemoLogin], addr: Option<std::net::SocketAddr>) {
    println!("\nDemo accounts (password for all: {DEMO_PASSWORD}):");
    for l in logins {
        println!("  {:<14} {:<10} {}", l.username, l.role.as_str(), l.binding);
    }
    if let Some(addr) = addr {
        println!(
            "\nTry:\n  curl -s -X POST http://{addr}/api/v1/auth/token -H 'content-type: application/json' \\\n    -d '{{\"username\":\"cq-regulator\",\"password\":\"{DEMO_PASSWORD}\"}}'"
        );
    }
}
