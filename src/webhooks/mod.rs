//! Webhooks, the pure part: the event catalogue, who hears which event, the payload, the
//! signature and the retry schedule. Storage is in `db::outbox`, delivery in `jobs::delivery`.
//!
//! A delivery is a `POST` of the event's JSON body with
//! `Hwt-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, or under
//! `HWT_CRYPTO=sm` `t=<unix seconds>,sm3=<hex HMAC-SM3(secret, "<t>.<body>")>` (the part's name
//! names the algorithm). Receivers recompute the HMAC over the exact bytes received and refuse a
//! timestamp outside their replay window (we suggest five minutes, [`REPLAY_WINDOW_SECS`]). See
//! docs/WEBHOOKS.md.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::crypto::suite::{self, CryptoSuite};

/// The signature header.
pub const SIGNATURE_HEADER: &str = "Hwt-Signature";
/// The replay window receivers should apply (and [`verify`] applies), in seconds.
pub const REPLAY_WINDOW_SECS: i64 = 300;
/// How long a delivery is retried before it is given up.
pub const RETRY_FOR: chrono::TimeDelta = chrono::TimeDelta::hours(24);
/// How long an endpoint may fail without a single success before it is disabled.
pub const DISABLE_AFTER: chrono::TimeDelta = chrono::TimeDelta::hours(24);
/// The longest wait between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(3600);

/// How long a finished delivery (delivered, or failed after its retries) and its attempt log are
/// kept before the sweeper deletes them; the events themselves are kept (the changes feed).
pub const DELIVERY_RETENTION: chrono::TimeDelta = chrono::TimeDelta::days(90);

/// The largest event seq a client may name: 2^53 - 1, exact in every JSON reader.
pub const SEQ_MAX: i64 = 9_007_199_254_740_991;

/// Every event type a subscription can ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum EventType {
    /// An enterprise filed a transfer application (or resubmitted it after a correction notice).
    #[serde(rename = "application.filed")]
    ApplicationFiled,
    /// The source province accepted the application (受理), or it was deemed accepted.
    #[serde(rename = "application.accepted")]
    ApplicationAccepted,
    /// The source province sent the one-time correction notice (补正).
    #[serde(rename = "application.correction_requested")]
    ApplicationCorrectionRequested,
    /// A province recorded its decision; `data.status` says whether the case is now approved,
    /// refused or still waiting for the other province.
    #[serde(rename = "application.decided")]
    ApplicationDecided,
    /// An approval expires within five working days.
    #[serde(rename = "approval.expiring")]
    ApprovalExpiring,
    /// A manifest (电子转移联单) was created under an approval.
    #[serde(rename = "manifest.created")]
    ManifestCreated,
    /// The operator confirmed receipt of a manifest, or rejected the load (`data.status`).
    #[serde(rename = "manifest.received")]
    ManifestReceived,
    /// The received quantity differs from the shipped one beyond the configured share.
    #[serde(rename = "manifest.discrepancy")]
    ManifestDiscrepancy,
    /// 第18条: the operator's report of what it found different at receipt (name, quantity,
    /// characteristics, form, packaging) with its decision on each, to the receiving province's
    /// department; `data.discrepancies` lists them.
    #[serde(rename = "manifest.discrepancy_reported")]
    ManifestDiscrepancyReported,
    /// A whitelist entry was suspended.
    #[serde(rename = "whitelist_entry.suspended")]
    WhitelistEntrySuspended,
    /// A suspended whitelist entry was reinstated.
    #[serde(rename = "whitelist_entry.reinstated")]
    WhitelistEntryReinstated,
    /// A statutory step is due by the end of the next working day (sent to the deciding province).
    #[serde(rename = "step.due_tomorrow")]
    StepDueTomorrow,
    /// A statutory step passed its due instant without the act.
    #[serde(rename = "step.overdue")]
    StepOverdue,
    /// A whitelist case moved to the standard route (an entry it drew on was suspended); its
    /// reservation was released and `data.detail.reason` says why.
    #[serde(rename = "application.rerouted")]
    ApplicationRerouted,
    /// 撤销: the source province revoked an approval; no shipment may draw on it.
    #[serde(rename = "approval.revoked")]
    ApprovalRevoked,
    /// 抄送: an approval was copied to a department (the source and receiving transport
    /// departments, the receiving province's ecology-environment department); one event per
    /// copy, `data.detail` names the recipient.
    #[serde(rename = "approval.copied")]
    ApprovalCopied,
    /// The State Council's holiday notice for `data.year` is not imported (from 1 November of the
    /// year before): deadlines in that year are provisional, and deemed acceptance and escalation
    /// wait for it. Sent once per year to every province.
    #[serde(rename = "calendar.notice_missing")]
    CalendarNoticeMissing,
}

impl EventType {
    pub const ALL: [EventType; 17] = [
        EventType::ApplicationFiled,
        EventType::ApplicationAccepted,
        EventType::ApplicationCorrectionRequested,
        EventType::ApplicationDecided,
        EventType::ApprovalExpiring,
        EventType::ManifestCreated,
        EventType::ManifestReceived,
        EventType::ManifestDiscrepancy,
        EventType::ManifestDiscrepancyReported,
        EventType::WhitelistEntrySuspended,
        EventType::WhitelistEntryReinstated,
        EventType::StepDueTomorrow,
        EventType::StepOverdue,
        EventType::ApplicationRerouted,
        EventType::ApprovalRevoked,
        EventType::ApprovalCopied,
        EventType::CalendarNoticeMissing,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::ApplicationFiled => "application.filed",
            EventType::ApplicationAccepted => "application.accepted",
            EventType::ApplicationCorrectionRequested => "application.correction_requested",
            EventType::ApplicationDecided => "application.decided",
            EventType::ApprovalExpiring => "approval.expiring",
            EventType::ManifestCreated => "manifest.created",
            EventType::ManifestReceived => "manifest.received",
            EventType::ManifestDiscrepancy => "manifest.discrepancy",
            EventType::ManifestDiscrepancyReported => "manifest.discrepancy_reported",
            EventType::WhitelistEntrySuspended => "whitelist_entry.suspended",
            EventType::WhitelistEntryReinstated => "whitelist_entry.reinstated",
            EventType::StepDueTomorrow => "step.due_tomorrow",
            EventType::StepOverdue => "step.overdue",
            EventType::ApplicationRerouted => "application.rerouted",
            EventType::ApprovalRevoked => "approval.revoked",
            EventType::ApprovalCopied => "approval.copied",
            EventType::CalendarNoticeMissing => "calendar.notice_missing",
        }
    }

    pub fn parse(s: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == s)
    }

    /// One line for the catalogue.
    pub fn description(self) -> &'static str {
        match self {
            EventType::ApplicationFiled => "An application was filed or resubmitted after a correction notice.",
            EventType::ApplicationAccepted => {
                "The source province accepted the application, or it was deemed accepted."
            }
            EventType::ApplicationCorrectionRequested => "The source province sent the one-time correction notice.",
            EventType::ApplicationDecided => "A province recorded its decision (data.status gives the case's state).",
            EventType::ApprovalExpiring => "An approval expires within five working days.",
            EventType::ManifestCreated => "A manifest was created under an approval.",
            EventType::ManifestReceived => "The operator confirmed receipt or rejected the load.",
            EventType::ManifestDiscrepancy => {
                "The operator found the load different from the manifest (any kind of 第18条)."
            }
            EventType::ManifestDiscrepancyReported => {
                "The operator's discrepancy report with its decisions, to the receiving province's department."
            }
            EventType::WhitelistEntrySuspended => "A whitelist entry was suspended.",
            EventType::WhitelistEntryReinstated => "A whitelist entry was reinstated.",
            EventType::StepDueTomorrow => {
                "A statutory step is due by the end of the next working day (deciding province)."
            }
            EventType::StepOverdue => "A statutory step is overdue.",
            EventType::ApplicationRerouted => {
                "A whitelist case moved to the standard route; its reservation was released."
            }
            EventType::ApprovalRevoked => "The source province revoked an approval (撤销).",
            EventType::ApprovalCopied => {
                "An approval was copied (抄送) to a department; data.detail names it (one event per copy)."
            }
            EventType::CalendarNoticeMissing => {
                "The holiday notice of a year is not imported: its deadlines are provisional (every province)."
            }
        }
    }

    /// Who hears the event besides the parties named on it: only the deciding province hears a
    /// reminder; everything else goes to every party of the object.
    pub fn deciding_province_only(self) -> bool {
        matches!(self, EventType::StepDueTomorrow)
    }
}

/// A party that can own a subscription.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OwnerKind {
    Enterprise,
    Operator,
    Province,
}

impl OwnerKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            OwnerKind::Enterprise => "enterprise",
            OwnerKind::Operator => "operator",
            OwnerKind::Province => "province",
        }
    }
    pub fn parse(s: &str) -> Option<OwnerKind> {
        match s {
            "enterprise" => Some(OwnerKind::Enterprise),
            "operator" => Some(OwnerKind::Operator),
            "province" => Some(OwnerKind::Province),
            _ => None,
        }
    }
}

/// The parties an event is for, stored with the event as `,kind:id,kind:id,` so a replay can
/// find the events of one owner with a `LIKE`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Audience(Vec<(OwnerKind, String)>);

impl Audience {
    pub fn new() -> Self {
        Audience(Vec::new())
    }
    pub fn with(mut self, kind: OwnerKind, id: impl Into<String>) -> Self {
        let id = id.into();
        if !id.is_empty() && !self.0.iter().any(|(k, i)| *k == kind && *i == id) {
            self.0.push((kind, id));
        }
        self
    }
    pub fn members(&self) -> &[(OwnerKind, String)] {
        &self.0
    }
    pub fn contains(&self, kind: &OwnerKind, id: &str) -> bool {
        self.0.iter().any(|(k, i)| k == kind && i == id)
    }
    pub fn encode(&self) -> String {
        let mut s = String::from(",");
        for (k, id) in &self.0 {
            s.push_str(k.as_str());
            s.push(':');
            s.push_str(id);
            s.push(',');
        }
        s
    }
    /// The `LIKE` pattern that finds one owner in [`Audience::encode`]d text.
    pub fn like_pattern(kind: &OwnerKind, id: &str) -> String {
        let esc = |s: &str| s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        format!("%,{}:{},%", esc(kind.as_str()), esc(id))
    }
}

/// The object an event is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EventObject {
    /// `transfer_application`, `manifest` or `whitelist_entry`.
    #[serde(rename = "type")]
    pub object_type: String,
    pub id: String,
}

/// The body of every webhook delivery. `id` is stable: a retried or replayed delivery carries
/// the same id, so receivers can drop duplicates (delivery is at least once). `seq` grows in
/// commit order over all events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(as = WebhookEvent)]
pub struct Event {
    pub id: String,
    pub seq: i64,
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub occurred_at: DateTime<Utc>,
    pub object: EventObject,
    /// The object's state after the change, as in the API (see the `*EventData` schemas).
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
}

/// `data` of `application.*`, `approval.expiring` and `step.*` events.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ApplicationEventData {
    pub application_id: String,
    pub status: String,
    /// `whitelist` or `standard`.
    pub route: String,
    pub enterprise_id: String,
    pub operator_id: String,
    pub source_province: String,
    pub receiving_province: String,
    pub approval_number: Option<String>,
    pub valid_until: Option<String>,
    /// What happened, as in the case timeline (`GET /transfer-applications/{id}/events`):
    /// the decision, the correction checklist, the overdue step, …
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

/// `data` of `manifest.*` events.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ManifestEventData {
    pub manifest_id: String,
    pub number: String,
    pub application_id: String,
    pub status: String,
    pub enterprise_id: String,
    pub operator_id: String,
    pub discrepancy: bool,
    pub discrepancy_note: Option<String>,
    /// What the operator found different at receipt, line by line, with its decision.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub discrepancies: Vec<DiscrepancyData>,
}

/// One discrepancy of a manifest line (第18条).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DiscrepancyData {
    pub line: i32,
    /// name, quantity, characteristics, form or packaging.
    pub kind: String,
    pub description: String,
    /// accept or refuse.
    pub decision: String,
}

/// `data` of `whitelist_entry.*` events.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WhitelistEntryEventData {
    pub entry_id: String,
    pub year: i32,
    pub operator_id: String,
    pub source_province: String,
    pub receiving_province: String,
    pub scope: String,
    pub status: String,
    pub reason: Option<String>,
}

/// The value of the signature header for `body` sent at `t` (HMAC-SHA256).
pub fn sign(secret: &str, t: i64, body: &[u8]) -> String {
    sign_with(CryptoSuite::Standard, secret, t, body)
}

/// The name of the signature part of `suite`: `v1` (HMAC-SHA256) or `sm3` (HMAC-SM3).
pub fn signature_part(s: CryptoSuite) -> &'static str {
    match s {
        CryptoSuite::Standard => "v1",
        CryptoSuite::Sm => "sm3",
    }
}

/// The value of the signature header for `body` sent at `t`, with the MAC of `suite`.
pub fn sign_with(s: CryptoSuite, secret: &str, t: i64, body: &[u8]) -> String {
    let tag = suite::mac(s, secret.as_bytes(), &[t.to_string().as_bytes(), b".", body]);
    format!("t={t},{}={}", signature_part(s), suite::hex(&tag))
}

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignatureError {
    Malformed,
    OutsideWindow,
    Mismatch,
}

/// Checks an HMAC-SHA256 signature header the way a receiver should (see [`verify_with`]).
pub fn verify(secret: &str, header: &str, body: &[u8], now: i64, window_secs: i64) -> Result<(), SignatureError> {
    verify_with(CryptoSuite::Standard, secret, header, body, now, window_secs)
}

/// Checks a signature header the way a receiver should: the timestamp within `window_secs` of
/// `now`, and one part of `suite`'s name (`v1`, `sm3`) that matches (compared in constant time).
/// Parts of the other algorithm are ignored.
pub fn verify_with(
    s: CryptoSuite,
    secret: &str,
    header: &str,
    body: &[u8],
    now: i64,
    window_secs: i64,
) -> Result<(), SignatureError> {
    let part = signature_part(s);
    let mut t = None;
    let mut sigs = Vec::new();
    for p in header.split(',') {
        match p.trim().split_once('=') {
            Some(("t", v)) => t = v.parse::<i64>().ok(),
            Some((k, v)) if k == part => sigs.push(v.to_string()),
            _ => {}
        }
    }
    let t = t.ok_or(SignatureError::Malformed)?;
    if sigs.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if (now - t).abs() > window_secs {
        return Err(SignatureError::OutsideWindow);
    }
    let stamp = t.to_string();
    for sig in sigs {
        let Some(bytes) = unhex(&sig) else { continue };
        if suite::mac_matches(s, secret.as_bytes(), &[stamp.as_bytes(), b".", body], &bytes) {
            return Ok(());
        }
    }
    Err(SignatureError::Mismatch)
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The wait after the `failures`-th failed attempt: `base · 2^(failures−1)`, at most
/// [`MAX_BACKOFF`].
pub fn backoff(base: Duration, failures: u32) -> Duration {
    let factor = 1u32.checked_shl(failures.saturating_sub(1).min(30)).unwrap_or(u32::MAX);
    base.saturating_mul(factor).min(MAX_BACKOFF)
}

/// A new subscription secret: 32 random bytes, hex, with a recognisable prefix.
pub fn new_secret() -> Result<String, getrandom::Error> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)?;
    Ok(format!("whsec_{}", suite::hex(&bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worked_example_from_the_docs() {
        // The example in docs/WEBHOOKS.md; change both together.
        let body = br#"{"id":"evt-1","type":"application.filed"}"#;
        let header = sign("whsec_example", 1_763_712_000, body);
        assert_eq!(
            header,
            "t=1763712000,v1=8fad833246081d344e3cc63daa52dbd165f1cdf554bab09223ec6345c5a7f5b2"
        );
        assert!(header.starts_with("t=1763712000,v1="));
        assert_eq!(header.len(), "t=1763712000,v1=".len() + 64);
        assert_eq!(verify("whsec_example", &header, body, 1_763_712_100, 300), Ok(()));
    }

    #[test]
    fn verification_refuses_what_it_should() {
        let body = b"{\"a\":1}";
        let h = sign("s3cret", 1000, body);
        assert_eq!(verify("s3cret", &h, body, 1000, 300), Ok(()));
        assert_eq!(
            verify("s3cret", &h, body, 1301, 300),
            Err(SignatureError::OutsideWindow)
        );
        assert_eq!(verify("s3cret", &h, body, 699, 300), Err(SignatureError::OutsideWindow));
        assert_eq!(verify("other", &h, body, 1000, 300), Err(SignatureError::Mismatch));
        assert_eq!(
            verify("s3cret", &h, b"{\"a\":2}", 1000, 300),
            Err(SignatureError::Mismatch)
        );
        // The timestamp is signed too: moving it breaks the signature.
        let moved = h.replace("t=1000", "t=1001");
        assert_eq!(verify("s3cret", &moved, body, 1000, 300), Err(SignatureError::Mismatch));
        assert_eq!(
            verify("s3cret", "v1=abc", body, 1000, 300),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify("s3cret", "t=1000", body, 1000, 300),
            Err(SignatureError::Malformed)
        );
        assert_eq!(
            verify("s3cret", "t=1000,v1=zz", body, 1000, 300),
            Err(SignatureError::Mismatch)
        );
        // A second signature (during secret rotation) is accepted when one matches.
        let two = format!("{h},v1={}", "00".repeat(32));
        assert_eq!(verify("s3cret", &two, body, 1000, 300), Ok(()));
    }

    #[test]
    fn hmac_sm3_worked_example_from_the_docs() {
        // The HMAC-SM3 example in docs/WEBHOOKS.md; change both together.
        let body = br#"{"id":"evt-1","type":"application.filed"}"#;
        let sm = CryptoSuite::Sm;
        let header = sign_with(sm, "whsec_example", 1_763_712_000, body);
        assert!(header.starts_with("t=1763712000,sm3="), "{header}");
        assert_eq!(header.len(), "t=1763712000,sm3=".len() + 64);
        // `openssl dgst -sm3 -hmac whsec_example` over the signed string says the same.
        assert_eq!(
            header,
            "t=1763712000,sm3=1ab2ae13592d795909be20541af37f71820b8c57b1573188b41198813ee2dc71"
        );
        assert_eq!(
            verify_with(sm, "whsec_example", &header, body, 1_763_712_100, 300),
            Ok(())
        );
        assert_eq!(
            verify_with(sm, "whsec_other", &header, body, 1_763_712_100, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_with(sm, "whsec_example", &header, b"{}", 1_763_712_100, 300),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_with(sm, "whsec_example", &header, body, 1_763_713_000, 300),
            Err(SignatureError::OutsideWindow)
        );
        // An HMAC-SM3 header is no HMAC-SHA256 signature, nor the other way round.
        assert_eq!(
            verify("whsec_example", &header, body, 1_763_712_100, 300),
            Err(SignatureError::Malformed)
        );
        let sha = sign("whsec_example", 1_763_712_000, body);
        assert_eq!(
            verify_with(sm, "whsec_example", &sha, body, 1_763_712_100, 300),
            Err(SignatureError::Malformed)
        );
        // The same MAC under the name of the other algorithm does not verify.
        let renamed = header.replace("sm3=", "v1=");
        assert_eq!(
            verify("whsec_example", &renamed, body, 1_763_712_100, 300),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        let base = Duration::from_secs(10);
        assert_eq!(backoff(base, 1), Duration::from_secs(10));
        assert_eq!(backoff(base, 2), Duration::from_secs(20));
        assert_eq!(backoff(base, 5), Duration::from_secs(160));
        assert_eq!(backoff(base, 10), Duration::from_secs(3600));
        assert_eq!(backoff(base, 200), Duration::from_secs(3600));
        assert_eq!(backoff(base, 0), Duration::from_secs(10));
    }

    #[test]
    fn event_types_round_trip_and_serialise_as_named() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
            assert_eq!(serde_json::to_value(t).ok(), Some(serde_json::json!(t.as_str())));
        }
        assert_eq!(EventType::parse("application.unknown"), None);
    }

    #[test]
    fn audience_encoding_and_like_pattern() {
        let a = Audience::new()
            .with(OwnerKind::Enterprise, "e_1")
            .with(OwnerKind::Province, "500000")
            .with(OwnerKind::Province, "500000");
        assert_eq!(a.encode(), ",enterprise:e_1,province:500000,");
        assert_eq!(
            Audience::like_pattern(&OwnerKind::Enterprise, "e_1"),
            "%,enterprise:e\\_1,%"
        );
        assert!(a.contains(&OwnerKind::Province, "500000"));
        assert!(!a.contains(&OwnerKind::Operator, "500000"));
    }
}
