//! The manifest list: its filter and the keyset page, newest first.

use super::*;

/// Filters of the manifest list.
#[derive(Debug, Clone, Default)]
pub struct ManifestFilter {
    pub enterprise_id: Option<String>,
    pub operator_id: Option<String>,
    /// Manifests where this province is the source or the receiving side.
    pub province: Option<String>,
    pub application_id: Option<String>,
    pub status: Option<String>,
    pub overdue: Option<bool>,
}

/// Manifests newest first, before `before_id` (keyset).
pub fn list(
    conn: &mut DbConnection,
    f: &ManifestFilter,
    before_id: Option<&str>,
    limit: i64,
) -> DbResult<Vec<ManifestRow>> {
    let mut q = manifests::table.select(ManifestRow::as_select()).into_boxed();
    if let Some(e) = &f.enterprise_id {
        q = q.filter(manifests::enterprise_id.eq(e.clone()));
    }
    if let Some(o) = &f.operator_id {
        q = q.filter(manifests::operator_id.eq(o.clone()));
    }
    if let Some(p) = &f.province {
        q = q.filter(
            manifests::source_province
                .eq(p.clone())
                .or(manifests::receiving_province.eq(p.clone())),
        );
    }
    if let Some(a) = &f.application_id {
        q = q.filter(manifests::application_id.eq(a.clone()));
    }
    if let Some(s) = &f.status {
        q = q.filter(manifests::status.eq(s.clone()));
    }
    match f.overdue {
        Some(true) => q = q.filter(manifests::receipt_overdue_at.is_not_null()),
        Some(false) => q = q.filter(manifests::receipt_overdue_at.is_null()),
        None => {}
    }
    if let Some(b) = before_id {
        q = q.filter(manifests::id.lt(b.to_string()));
    }
    Ok(q.order(manifests::id.desc()).limit(limit).load(conn)?)
}
