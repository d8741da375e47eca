//! Attachments of an application: their rows, recording one, listing them.

use super::*;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, Serialize)]
#[diesel(table_name = application_attachments)]
pub struct AttachmentRow {
    pub id: String,
    pub application_id: String,
    pub kind: String,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    pub uploaded_by: String,
    pub uploaded_at: NaiveDateTime,
}

/// Records an attachment (the bytes are already on disk) with a timeline event.
pub fn add_attachment(conn: &mut DbConnection, row: &AttachmentRow) -> DbResult<()> {
    write_tx(conn, |conn| {
        diesel::insert_into(application_attachments::table)
            .values(row.clone())
            .execute(conn)?;
        event(
            conn,
            &row.application_id,
            "attachment_added",
            &row.uploaded_by,
            "enterprise",
            serde_json::json!({ "kind": row.kind, "filename": row.filename, "sha256": row.sha256, "size_bytes": row.size_bytes }),
        )?;
        crate::db::audit::record_change(conn, "application_attachment", &row.id, "uploaded", None, Some(row))
    })
}

pub fn attachments(conn: &mut DbConnection, app_id: &str) -> DbResult<Vec<AttachmentRow>> {
    Ok(application_attachments::table
        .filter(application_attachments::application_id.eq(app_id))
        .order(application_attachments::id.asc())
        .select(AttachmentRow::as_select())
        .load(conn)?)
}
