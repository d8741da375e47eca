//! The tamper-evident audit trail (pure part): who is acting, what a change looks like as a JSON
//! diff, and how a record is hashed into the chain. Appending and verifying live in `db::audit`.
//!
//! Every record holds the previous record's hash; its own hash is SHA-256 (SM3 in a database
//! started with `HWT_CRYPTO=sm`, recorded in `audit_head.crypto`) over a canonical encoding of
//! all its fields plus that previous hash. Editing a record breaks its hash, deleting
//! one leaves a gap in `seq`, reordering breaks the links.

use std::cell::RefCell;

use chrono::NaiveDateTime;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::crypto::suite::CryptoSuite;

/// The hash the first record links to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who is acting, for the records a unit of work appends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Context {
    /// The user's or client's id, or "system".
    pub actor: String,
    pub actor_name: String,
    pub role: String,
    pub request_id: Option<String>,
}

impl Context {
    /// Background jobs and start-up work.
    pub fn system() -> Context {
        Context {
            actor: "system".into(),
            actor_name: "system".into(),
            role: "system".into(),
            request_id: None,
        }
    }

    /// An operator at the command line.
    pub fn cli() -> Context {
        Context {
            actor: "cli".into(),
            actor_name: "command line".into(),
            role: "admin".into(),
            request_id: None,
        }
    }

    /// The context of the HTTP request this task is serving (see `telemetry::REQUEST_ID`), or
    /// `system` outside a request.
    pub fn capture() -> Context {
        let request_id = Some(crate::telemetry::current_request_id()).filter(|s| !s.is_empty());
        let actor = REQUEST_ACTOR.try_with(|a| a.borrow().clone()).ok().flatten();
        match actor {
            Some((actor, actor_name, role)) => Context {
                actor,
                actor_name,
                role,
                request_id,
            },
            None if request_id.is_some() => Context {
                actor: "anonymous".into(),
                actor_name: "anonymous".into(),
                role: "anonymous".into(),
                request_id,
            },
            None => Context::system(),
        }
    }
}

tokio::task_local! {
    /// The authenticated caller of the request on this task: (id, name, role).
    pub static REQUEST_ACTOR: RefCell<Option<(String, String, String)>>;
}

/// Called by the `Principal` extractor once the caller is known.
pub fn set_request_actor(id: &str, name: &str, role: &str) {
    let _ = REQUEST_ACTOR.try_with(|a| *a.borrow_mut() = Some((id.to_string(), name.to_string(), role.to_string())));
}

thread_local! {
    // The context of the unit of work running on this (blocking) thread; set by `Db::run`.
    static CONTEXT: RefCell<Option<Context>> = const { RefCell::new(None) };
}

/// Runs `f` with `ctx` as the acting context of this thread, restoring the previous one after.
pub fn with_context<T>(ctx: Context, f: impl FnOnce() -> T) -> T {
    let previous = CONTEXT.with(|c| c.replace(Some(ctx)));
    let out = f();
    CONTEXT.with(|c| *c.borrow_mut() = previous);
    out
}

/// Makes `ctx` the acting context of this thread for good (the command line's main thread).
pub fn set_thread_context(ctx: Context) {
    CONTEXT.with(|c| *c.borrow_mut() = Some(ctx));
}

/// The acting context of this thread (system when none was set).
pub fn current() -> Context {
    CONTEXT.with(|c| c.borrow().clone()).unwrap_or_else(Context::system)
}

/// Fields never copied into the trail.
const REDACTED: [&str; 4] = ["password_hash", "secret_hash", "request_hash", "secret"];

/// A row as JSON for diffing (secrets left out).
pub fn snapshot<T: Serialize>(row: &T) -> Value {
    let mut v = serde_json::to_value(row).unwrap_or(Value::Null);
    if let Value::Object(m) = &mut v {
        for k in REDACTED {
            m.remove(k);
        }
    }
    v
}

/// What changed between two snapshots of an object, as `{"field": {"from": old, "to": new}}`
/// (a creation has every field with `from: null`; a deletion every field with `to: null`).
pub fn diff(before: Option<&Value>, after: Option<&Value>) -> Value {
    let empty = Map::new();
    let as_map = |v: Option<&Value>| -> Map<String, Value> {
        match v {
            Some(Value::Object(m)) => m.clone(),
            Some(other) => {
                let mut m = Map::new();
                m.insert("value".into(), other.clone());
                m
            }
            None => empty.clone(),
        }
    };
    let (b, a) = (as_map(before), as_map(after));
    let mut out = Map::new();
    let keys: std::collections::BTreeSet<&String> = b.keys().chain(a.keys()).collect();
    for k in keys {
        let from = b.get(k).cloned().unwrap_or(Value::Null);
        let to = a.get(k).cloned().unwrap_or(Value::Null);
        if from != to {
            let mut change = Map::new();
            change.insert("from".into(), from);
            change.insert("to".into(), to);
            out.insert(k.clone(), Value::Object(change));
        }
    }
    Value::Object(out)
}

/// The fields of one record that the hash covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Record {
    pub seq: i64,
    pub id: String,
    pub at: NaiveDateTime,
    pub actor: String,
    pub actor_name: String,
    pub role: String,
    pub request_id: Option<String>,
    pub object_type: String,
    pub object_id: String,
    pub action: String,
    /// Canonical JSON text (keys sorted, no spaces), as stored.
    pub diff: String,
    pub prev_hash: String,
}

/// Canonical JSON text of a value: object keys sorted, no insignificant whitespace.
pub fn canonical_json(v: &Value) -> String {
    serde_json::to_string(&sorted(v)).unwrap_or_else(|_| "null".into())
}

/// The value with every object's keys in sorted order, whatever map order serde_json was built
/// with (a dependency may turn on `preserve_order`).
fn sorted(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let ordered: std::collections::BTreeMap<&String, Value> = m.iter().map(|(k, v)| (k, sorted(v))).collect();
            let mut out = Map::new();
            for (k, v) in ordered {
                out.insert(k.clone(), v);
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// The hash of a record under the default suite (SHA-256); see [`hash_with`].
pub fn hash(r: &Record) -> String {
    hash_with(CryptoSuite::Standard, r)
}

/// The hash of a record: SHA-256 or SM3 (hex) over a JSON array of its fields in a fixed order,
/// the instant written with microseconds in UTC.
pub fn hash_with(suite: CryptoSuite, r: &Record) -> String {
    let encoded = Value::Array(vec![
        Value::from(r.seq),
        Value::from(r.id.clone()),
        Value::from(r.at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()),
        Value::from(r.actor.clone()),
        Value::from(r.actor_name.clone()),
        Value::from(r.role.clone()),
        r.request_id.clone().map(Value::from).unwrap_or(Value::Null),
        Value::from(r.object_type.clone()),
        Value::from(r.object_id.clone()),
        Value::from(r.action.clone()),
        Value::from(r.diff.clone()),
        Value::from(r.prev_hash.clone()),
    ]);
    crate::crypto::suite::digest_hex(suite, canonical_json(&encoded).as_bytes())
}

/// The first thing wrong with the chain, if anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Break {
    /// The sequence number where the chain first breaks.
    pub seq: i64,
    /// `hash_mismatch` (the record was edited), `broken_link` (it does not link to the record
    /// before it: reordered or replaced), `missing_record` (a gap: deleted), or `head_mismatch`
    /// (records after the last one the head knows, or the last records deleted).
    pub kind: String,
    pub detail: String,
}

/// Checks one record against the one before it (`expected_seq`, `prev_hash`), its hash under
/// `suite`.
pub fn check_link(
    suite: CryptoSuite,
    r: &Record,
    stored_hash: &str,
    expected_seq: i64,
    prev_hash: &str,
) -> Option<Break> {
    if r.seq != expected_seq {
        return Some(Break {
            seq: expected_seq,
            kind: "missing_record".into(),
            detail: format!("expected record {expected_seq}, found {}", r.seq),
        });
    }
    if r.prev_hash != prev_hash {
        return Some(Break {
            seq: r.seq,
            kind: "broken_link".into(),
            detail: "the record does not link to the hash of the record before it".into(),
        });
    }
    if hash_with(suite, r) != stored_hash {
        return Some(Break {
            seq: r.seq,
            kind: "hash_mismatch".into(),
            detail: "the record's content does not match its hash".into(),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record() -> Record {
        Record {
            seq: 1,
            id: "r1".into(),
            at: chrono::DateTime::from_timestamp(1_700_000_000, 123_456_000)
                .unwrap()
                .naive_utc(),
            actor: "u1".into(),
            actor_name: "张三".into(),
            role: "regulator".into(),
            request_id: Some("req".into()),
            object_type: "transfer_application".into(),
            object_id: "a1".into(),
            action: "accepted".into(),
            diff: canonical_json(&json!({"status": {"from": "submitted", "to": "under_review"}})),
            prev_hash: GENESIS.into(),
        }
    }

    #[test]
    fn diff_lists_only_changed_fields() {
        let d = diff(
            Some(&json!({"a": 1, "b": "x", "c": null})),
            Some(&json!({"a": 2, "b": "x", "d": true})),
        );
        assert_eq!(d, json!({"a": {"from": 1, "to": 2}, "d": {"from": null, "to": true}}));
        assert_eq!(
            diff(None, Some(&json!({"a": 1}))),
            json!({"a": {"from": null, "to": 1}})
        );
    }

    #[test]
    fn snapshot_leaves_out_secrets() {
        let v = snapshot(&json!({"username": "a", "password_hash": "$argon2id$..."}));
        assert_eq!(v, json!({"username": "a"}));
    }

    #[test]
    fn canonical_json_sorts_keys() {
        assert_eq!(
            canonical_json(&json!({"b": 1, "a": {"d": 2, "c": 3}})),
            r#"{"a":{"c":3,"d":2},"b":1}"#
        );
    }

    #[test]
    fn every_field_is_covered_by_the_hash() {
        let base = record();
        let h = hash(&base);
        assert_eq!(h.len(), 64);
        assert_eq!(h, hash(&record()), "hashing is deterministic");
        type Change = Box<dyn Fn(&mut Record)>;
        let variants: Vec<Change> = vec![
            Box::new(|r| r.seq = 2),
            Box::new(|r| r.id = "r2".into()),
            Box::new(|r| r.at += chrono::Duration::microseconds(1)),
            Box::new(|r| r.actor = "u2".into()),
            Box::new(|r| r.actor_name = "李四".into()),
            Box::new(|r| r.role = "admin".into()),
            Box::new(|r| r.request_id = None),
            Box::new(|r| r.object_type = "manifest".into()),
            Box::new(|r| r.object_id = "a2".into()),
            Box::new(|r| r.action = "refused".into()),
            Box::new(|r| r.diff = "{}".into()),
            Box::new(|r| r.prev_hash = "1".repeat(64)),
        ];
        for change in variants {
            let mut r = record();
            change(&mut r);
            assert_ne!(hash(&r), h);
        }
    }

    #[test]
    fn check_link_names_the_break() {
        let r = record();
        let h = hash(&r);
        let std = CryptoSuite::Standard;
        assert_eq!(check_link(std, &r, &h, 1, GENESIS), None);
        assert_eq!(check_link(std, &r, &h, 2, GENESIS).unwrap().kind, "missing_record");
        assert_eq!(check_link(std, &r, &h, 1, &"f".repeat(64)).unwrap().kind, "broken_link");
        let mut edited = r.clone();
        edited.action = "approved".into();
        assert_eq!(check_link(std, &edited, &h, 1, GENESIS).unwrap().kind, "hash_mismatch");
    }

    #[test]
    fn a_chain_verifies_under_sm3_and_not_under_the_other_suite() {
        let sm = CryptoSuite::Sm;
        let first = record();
        let h1 = hash_with(sm, &first);
        assert_eq!(h1.len(), 64);
        assert_ne!(h1, hash(&first), "SM3 and SHA-256 differ");
        let mut second = record();
        second.seq = 2;
        second.id = "r2".into();
        second.prev_hash = h1.clone();
        let h2 = hash_with(sm, &second);
        assert_eq!(check_link(sm, &first, &h1, 1, GENESIS), None);
        assert_eq!(check_link(sm, &second, &h2, 2, &h1), None);
        assert_eq!(
            check_link(CryptoSuite::Standard, &first, &h1, 1, GENESIS).unwrap().kind,
            "hash_mismatch"
        );
        let mut edited = second.clone();
        edited.actor = "someone else".into();
        assert_eq!(check_link(sm, &edited, &h2, 2, &h1).unwrap().kind, "hash_mismatch");
    }
}
