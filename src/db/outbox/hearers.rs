//! Who hears the events a write emits, decided by the audit flush under the head's lock from
//! the subscriptions read for the head's `subscriptions_version` (migration 000190: triggers
//! change it with every change to who hears what), kept between writes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use diesel::prelude::*;

use super::PendingEvent;
use crate::db::DbConnection;
use crate::db::schema::webhook_subscriptions;
use crate::webhooks::{Audience, EventType};

/// Who hears events: the active subscriptions by owner, as they stood under one value of
/// `audit_head.subscriptions_version`.
#[derive(Debug, Default)]
pub(in crate::db) struct Hearers {
    by_owner_id: HashMap<String, Vec<Hearer>>,
}

#[derive(Debug)]
struct Hearer {
    owner_kind: String,
    subscription_id: String,
    event_types: Vec<String>,
}

impl Hearers {
    /// The subscriptions that hear an event of type `t` sent to `audience`, each once.
    pub(super) fn of(&self, t: EventType, audience: &Audience) -> impl Iterator<Item = &str> {
        audience
            .members()
            .iter()
            .filter_map(|(kind, id)| Some((kind, self.by_owner_id.get(id.as_str())?)))
            .flat_map(|(kind, hearers)| hearers.iter().filter(move |h| h.owner_kind == kind.as_str()))
            .filter(move |h| h.event_types.iter().any(|s| s == t.as_str()))
            .map(|h| h.subscription_id.as_str())
    }
}

/// The hearers read lately, by the subscriptions' version they were read under (a few, for a
/// process that serves more than one database, as the tests do).
static HEARERS: Mutex<Vec<(String, Arc<Hearers>)>> = Mutex::new(Vec::new());
const HEARERS_KEPT: usize = 8;

/// Who hears `events`, as of `version` — the head's `subscriptions_version`, read with the head's
/// lock, which every change to who hears what also takes (the migration's triggers change the
/// version). Called by the audit flush under that lock, so a subscription that committed before
/// these events are numbered hears them; the subscriptions are read again only when the version
/// is not one already read, which keeps that read out of the lock every write holds.
pub(in crate::db) fn hearers(
    conn: &mut DbConnection,
    events: &[PendingEvent],
    version: &str,
) -> QueryResult<Arc<Hearers>> {
    if events.is_empty() {
        return Ok(Arc::default());
    }
    let kept = |cache: &Vec<(String, Arc<Hearers>)>| cache.iter().find(|(v, _)| v == version).map(|(_, h)| h.clone());
    if let Some(h) = kept(&HEARERS.lock().unwrap_or_else(|e| e.into_inner())) {
        return Ok(h);
    }
    let rows: Vec<(String, String, String, String)> = webhook_subscriptions::table
        .filter(webhook_subscriptions::status.eq("active"))
        .select((
            webhook_subscriptions::id,
            webhook_subscriptions::owner_kind,
            webhook_subscriptions::owner_id,
            webhook_subscriptions::event_types,
        ))
        .order(webhook_subscriptions::id.asc())
        .load(conn)?;
    let mut h = Hearers::default();
    for (id, owner_kind, owner_id, types) in rows {
        h.by_owner_id.entry(owner_id).or_default().push(Hearer {
            owner_kind,
            subscription_id: id,
            event_types: serde_json::from_str(&types).unwrap_or_default(),
        });
    }
    let h = Arc::new(h);
    let mut cache = HEARERS.lock().unwrap_or_else(|e| e.into_inner());
    if kept(&cache).is_none() {
        if cache.len() >= HEARERS_KEPT {
            cache.remove(0);
        }
        cache.push((version.to_string(), h.clone()));
    }
    Ok(h)
}
