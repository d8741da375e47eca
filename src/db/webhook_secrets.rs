//! Webhook secrets at rest: every subscription's `secret` column holds a sealed value
//! (`crypto::seal`). A database from before sealing has plaintext secrets; they are sealed once,
//! at start, under the set-up lock ([`seal_plain_secrets`]), and a value still plaintext (a start
//! that failed half-way) is read as it is meanwhile.

use diesel::prelude::*;

use super::schema::webhook_subscriptions;
use super::{DbConnection, DbResult, write_tx};
use crate::crypto::seal::{self, Sealer};

/// Seals every plaintext secret; returns how many. Sealed ones are left as they are.
pub fn seal_plain_secrets(conn: &mut DbConnection, sealer: &Sealer) -> DbResult<usize> {
    write_tx(conn, |conn| {
        let rows: Vec<(String, String)> = webhook_subscriptions::table
            .filter(webhook_subscriptions::secret.not_like(format!("{}%", seal::PREFIX)))
            .select((webhook_subscriptions::id, webhook_subscriptions::secret))
            .load(conn)?;
        for (id, plain) in &rows {
            let sealed = sealer.seal(plain, id).map_err(super::DbError::Other)?;
            diesel::update(webhook_subscriptions::table.find(id))
                .set(webhook_subscriptions::secret.eq(sealed))
                .execute(conn)?;
        }
        Ok(rows.len())
    })
}
