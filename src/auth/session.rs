//! The subjects behind access tokens: their current role, binding and active state, cached for a
//! few seconds so a disabled account loses access quickly without a query per request.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::principal::{Binding, Role, SubjectKind};
use crate::db;

/// What the subject cache remembers of a user or client between database reads.
#[derive(Debug, Clone)]
pub struct CachedSubject {
    pub active: bool,
    pub role: Role,
    pub binding: Binding,
}

/// Active state of users and clients, read from the database at most every few seconds, so a
/// disabled account loses access quickly without a query per request.
type SubjectKey = (SubjectKind, String);

#[derive(Default)]
pub struct SubjectCache {
    entries: std::sync::Mutex<HashMap<SubjectKey, (Instant, Option<CachedSubject>)>>,
}

impl SubjectCache {
    pub fn get(&self, key: &(SubjectKind, String), ttl: Duration) -> Option<Option<CachedSubject>> {
        let entries = self.entries.lock().ok()?;
        entries
            .get(key)
            .filter(|(at, _)| at.elapsed() < ttl)
            .map(|(_, s)| s.clone())
    }

    pub fn put(&self, key: (SubjectKind, String), value: Option<CachedSubject>) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() > 100_000 {
                entries.clear();
            }
            entries.insert(key, (Instant::now(), value));
        }
    }

    /// Forgets a subject at once (after disabling it on this replica).
    pub fn forget(&self, kind: SubjectKind, id: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(&(kind, id.to_string()));
        }
    }
}

/// The current role, binding and active state of a token's subject.
pub fn load_subject(conn: &mut db::DbConnection, kind: SubjectKind, id: &str) -> db::DbResult<Option<CachedSubject>> {
    let (active, role, province, enterprise, operator) = match kind {
        SubjectKind::User => match db::users::user_by_id(conn, id)? {
            Some(u) => (u.active, u.role, u.province, u.enterprise_id, u.operator_id),
            None => return Ok(None),
        },
        SubjectKind::Client => match db::users::client_by_id(conn, id)? {
            Some(c) => (c.active, c.role, None, c.enterprise_id, c.operator_id),
            None => return Ok(None),
        },
    };
    let Some(role) = Role::parse(&role) else {
        return Ok(None);
    };
    let Some(binding) = Binding::for_role(role, province.as_deref(), enterprise.as_deref(), operator.as_deref()) else {
        return Ok(None);
    };
    Ok(Some(CachedSubject { active, role, binding }))
}

/// The caller's address: the peer, or behind a trusted proxy the nearest address in
/// `X-Forwarded-For` that is not itself a trusted proxy (what the login throttle counts).
pub fn client_address<'a>(
    peer: Option<std::net::IpAddr>,
    forwarded_for: impl Iterator<Item = &'a str>,
    trusted: &[std::net::IpAddr],
) -> String {
    let Some(peer) = peer else {
        return "unknown".into();
    };
    if !trusted.contains(&peer) {
        return peer.to_string();
    }
    let forwarded: Vec<std::net::IpAddr> = forwarded_for
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    forwarded
        .into_iter()
        .rev()
        .find(|a| !trusted.contains(a))
        .unwrap_or(peer)
        .to_string()
}
