//! A case's materials (contract, licence copy, …): who may add them and when, where their bytes
//! are kept (the data directory, named by the attachment's id, never by the client's file name),
//! and reading them back. The door checks the bytes' type and size while it reads them.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use super::case::{actor_for, load_visible};
use crate::auth::principal::Principal;
use crate::db;
use crate::db::applications::{AppRow, AttachmentRow};
use crate::domain::workflow::{Actor, Status};
use crate::service::{Ctx, Error, Result};
use crate::state::AppState;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AttachmentDto {
    pub id: String,
    /// contract, licence_copy or other.
    pub kind: String,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    /// SHA-256 of the bytes, hex.
    pub sha256: String,
    pub uploaded_by: String,
    pub uploaded_at: String,
}

impl From<AttachmentRow> for AttachmentDto {
    fn from(r: AttachmentRow) -> Self {
        AttachmentDto {
            id: r.id,
            kind: r.kind,
            filename: r.filename,
            content_type: r.content_type,
            size_bytes: r.size_bytes,
            sha256: r.sha256,
            uploaded_by: r.uploaded_by,
            uploaded_at: r.uploaded_at.and_utc().to_rfc3339(),
        }
    }
}

fn attachment_dir(state: &AppState, app_id: &str) -> std::path::PathBuf {
    state.config.data_dir.join("attachments").join(app_id)
}

/// A case the caller may add materials to now: its own open case (the filing enterprise). The
/// door asks before it reads the body.
pub struct OpenCase(AppRow);

/// Whether the caller may add materials to the case `id` now.
pub async fn open_for_materials(state: &AppState, who: &Principal, id: String) -> Result<OpenCase> {
    let app = load_visible(state, who, id).await?;
    if actor_for(who, &app) != Some(Actor::Enterprise) {
        return Err(Error::Forbidden("only the filing enterprise adds materials".into()));
    }
    let status = Status::parse(&app.status).map_err(Error::internal)?;
    if !status.is_open() {
        return Err(Error::Conflict(format!(
            "the application is {}; materials can no longer be added",
            status.as_str()
        )));
    }
    Ok(OpenCase(app))
}

/// A material as the door read it: its kind, file name, type and bytes (all checked).
pub struct Upload {
    pub kind: String,
    pub filename: String,
    pub content_type: String,
    pub bytes: Vec<u8>,
}

/// Stores a material of `case`: the bytes first, then the row.
pub async fn add(state: &AppState, ctx: &Ctx, case: OpenCase, upload: Upload) -> Result<AttachmentDto> {
    let OpenCase(app) = case;
    let sha = Sha256::digest(&upload.bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>();
    let row = AttachmentRow {
        id: db::new_id(),
        application_id: app.id.clone(),
        kind: upload.kind,
        filename: upload.filename,
        content_type: upload.content_type,
        size_bytes: upload.bytes.len() as i64,
        sha256: sha,
        uploaded_by: ctx.who.name.clone(),
        uploaded_at: db::db_now(),
    };
    let dir = attachment_dir(state, &app.id);
    let file = dir.join(&row.id);
    let bytes = upload.bytes;
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        std::fs::create_dir_all(&dir)?;
        std::fs::write(&file, &bytes)
    })
    .await
    .map_err(Error::internal)?
    .map_err(Error::internal)?;
    let stored = row.clone();
    state
        .db
        .run(move |conn| db::applications::add_attachment(conn, &stored))
        .await?;
    Ok(AttachmentDto::from(row))
}

/// The materials of the case `id` (hidden outside the caller's scope).
pub async fn list(state: &AppState, who: &Principal, id: String) -> Result<Vec<AttachmentDto>> {
    let app = load_visible(state, who, id).await?;
    let rows = state
        .db
        .run(move |conn| db::applications::attachments(conn, &app.id))
        .await?;
    Ok(rows.into_iter().map(AttachmentDto::from).collect())
}

/// One material of the case `id` with its bytes (every party of the case).
pub async fn read(
    state: &AppState,
    who: &Principal,
    id: String,
    attachment_id: String,
) -> Result<(AttachmentDto, Vec<u8>)> {
    let app = load_visible(state, who, id).await?;
    let app_id = app.id.clone();
    let row = state
        .db
        .run(move |conn| db::applications::attachments(conn, &app_id))
        .await?
        .into_iter()
        .find(|a| a.id == attachment_id)
        .ok_or(Error::Hidden)?;
    let file = attachment_dir(state, &app.id).join(&row.id);
    let bytes = tokio::task::spawn_blocking(move || std::fs::read(file))
        .await
        .map_err(Error::internal)?
        .map_err(Error::internal)?;
    Ok((AttachmentDto::from(row), bytes))
}
