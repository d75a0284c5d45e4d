//! The conditional save: `UPDATE … WHERE session_id = ? AND data = ?` on a
//! live row, one statement when nothing conflicts; only when no row matched,
//! a `SELECT` tells a changed record from a gone one. (A new record is a
//! plain `INSERT`, in the store's `insert_new`.)

use sea_query::{Expr, ExprTrait, UpdateStatement, Value};

use super::exec::{expiry_after, now_utc};
use super::schema::{SessionTable, DATA, EXPIRY, SESSION_ID};
use super::SqlStore;
use crate::store::{SessionStore, StoreError, WriteOutcome};

impl SessionTable {
    /// `UPDATE t SET data = ?, expiry = ? WHERE session_id = ? AND expiry >
    /// now AND data = ?`.
    fn update_if_unchanged(
        &self, key: &str, expected: &[u8], value: &[u8], now: &Value, expiry: &Value,
    ) -> UpdateStatement {
        sea_query::Query::update()
            .table(self.table_name())
            .value(DATA, value.to_vec())
            .value(EXPIRY, expiry.clone())
            .and_where(Expr::col(SESSION_ID).eq(key))
            .and_where(Expr::col(EXPIRY).gt(now.clone()))
            .and_where(Expr::col(DATA).eq(expected.to_vec()))
            .to_owned()
    }
}

impl SqlStore {
    /// See [`crate::SessionStore::save_if_unchanged`].
    pub(super) async fn update_if_unchanged(
        &self, key: &str, expected: &[u8], value: &[u8], ttl: std::time::Duration,
    ) -> Result<WriteOutcome, StoreError> {
        let table = &self.inner.table;
        let now = now_utc();
        let (live_after, expiry) = (table.stamp(now), table.stamp(expiry_after(now, ttl)));
        let update = table.update_if_unchanged(key, expected, value, &live_after, &expiry);
        let (sql, values) = self.build(&update);
        if self.execute("save_if_unchanged", sql, values).await? > 0 {
            return Ok(WriteOutcome::Saved);
        }
        // No row matched, so nothing was written, even when the row now
        // holds the expected bytes again (another writer changed it and a
        // third put them back in between): that is `Changed`, for the
        // lifecycle to merge onto and save again, never `Saved`. (sqlx asks
        // MySQL for matched rows, `CLIENT_FOUND_ROWS`, as PostgreSQL and
        // SQLite count them.)
        Ok(match SessionStore::load(self, key).await? {
            Some(current) => WriteOutcome::Changed(current),
            None => WriteOutcome::Gone,
        })
    }
}
