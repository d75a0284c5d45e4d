//! `ping` on SQL: the server's own version function, one statement.

use sqlx::AssertSqlSafe;

use super::{Dialect, SqlPool, SqlStore};
use crate::store::StoreError;

impl SqlStore {
    /// `version()` (PostgreSQL, MySQL, MariaDB) or `sqlite_version()`.
    pub(super) async fn server_version(&self) -> Result<Option<String>, StoreError> {
        let sql = match self.inner.table.dialect {
            #[cfg(feature = "sqlite")]
            Dialect::Sqlite => "SELECT sqlite_version()",
            #[allow(unreachable_patterns)]
            _ => "SELECT version()",
        };
        let (version,): (String,) = on_conn!(self, "ping", |guard| {
            self.timed(
                "ping",
                sqlx::query_as(AssertSqlSafe(sql)).fetch_one(&mut *guard),
            )
            .await?
        });
        Ok(Some(version))
    }
}
