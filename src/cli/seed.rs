//! Demo data for a first look: one account of each role (and a regulator per southwest
//! province) with well-known passwords. Idempotent: existing accounts are left alone.
//!
//! The registry (enterprises, operators, licences, whitelist) and applications join this seed as
//! those features land.

use crate::api::users::{NewUser, create_user};
use crate::auth::principal::{Binding, Role};
use crate::db::{self, DbConnection};
use crate::domain::ids::ProvinceCode;

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
    ]
}

/// Loads the demo data; returns the accounts to show.
pub fn demo(conn: &mut DbConnection) -> anyhow::Result<Vec<DemoLogin>> {
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
