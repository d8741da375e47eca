//! Entry points for the fuzz targets in `fuzz/` (`cargo +nightly fuzz run <target>`): the readers
//! of untrusted input, without the database or HTTP around them. A target fails when one of them
//! panics; a refusal (a problem list) is the expected answer to nonsense. Not part of the API.

use chrono::NaiveDate;
use serde_json::Value;

use super::{applications, import};

/// A filing body as `POST /transfer-applications` reads it.
pub fn filing_body(data: &[u8]) {
    if let Ok(v) = serde_json::from_slice::<Value>(data) {
        let today = NaiveDate::from_ymd_opt(2026, 11, 21).unwrap_or_default();
        if let Ok(input) = super::body::read(&v, |i: &applications::ApplicationInput| i.problems(today)) {
            let _ = input.problems(today);
        }
    }
}

/// A decision body as `POST /transfer-applications/{id}/decisions` reads it.
pub fn decision_body(data: &[u8]) {
    if let Ok(v) = serde_json::from_slice::<Value>(data) {
        let _ = super::body::parse::<crate::service::applications::workflow::DecisionInput>(&v);
    }
}

/// A whitelist import file (CSV or XLSX) as `POST /whitelist-entries/import` reads and checks it
/// before it touches the database.
pub fn whitelist_import(data: &[u8], xlsx: bool) {
    import::read_and_parse(data, xlsx);
}
