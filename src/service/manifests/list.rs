//! The manifest list: the caller's manifests, newest first, by a typed filter.

use serde::Serialize;
use utoipa::ToSchema;

use super::{ManifestDto, to_dto};
use crate::auth::principal::{Binding, Principal, Role};
use crate::db;
pub use crate::db::manifests::ManifestFilter;
use crate::service::{Error, Result, cut_page, encode_cursor};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct ManifestPage {
    pub items: Vec<ManifestDto>,
    pub next_cursor: Option<String>,
}

/// One page of the manifests in the caller's scope, newest first, after the manifest `after`:
/// a producer's own, an operator's incoming, a province's (source or receiving), everything for
/// admins and nationwide auditors. The filter's scope is set here, from the caller alone.
pub async fn page(
    state: &AppState,
    who: &Principal,
    mut f: ManifestFilter,
    after: Option<String>,
    limit: i64,
) -> Result<ManifestPage> {
    f.province = None;
    f.enterprise_id = None;
    f.operator_id = None;
    match (&who.role, &who.binding) {
        (Role::Admin, _) | (Role::Auditor, Binding::Nationwide) => {}
        (Role::Regulator | Role::Auditor, Binding::Province(p)) => f.province = Some(p.as_str().to_string()),
        (Role::Enterprise, Binding::Enterprise(id)) => f.enterprise_id = Some(id.clone()),
        (Role::Operator, Binding::Operator(id)) => f.operator_id = Some(id.clone()),
        _ => return Err(Error::Forbidden("this caller sees no manifests".into())),
    }
    let (rows, more) = state
        .db
        .run(move |conn| {
            let mut rows = db::manifests::list(conn, &f, after.as_deref(), limit + 1)?;
            let more = cut_page(&mut rows, limit);
            let mut out = Vec::with_capacity(rows.len());
            for m in rows {
                let items = db::manifests::items_of(conn, &m.id)?;
                out.push((m, items));
            }
            Ok((out, more))
        })
        .await?;
    let next_cursor = if more {
        rows.last().map(|(m, _)| encode_cursor(&m.id))
    } else {
        None
    };
    Ok(ManifestPage {
        items: rows.into_iter().map(|(m, i)| to_dto(m, i)).collect(),
        next_cursor,
    })
}
