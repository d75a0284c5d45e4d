//! Running statements: building them for the pool's dialect, a connection
//! within `connect_timeout`, each statement within `operation_timeout`, and
//! sqlx's errors as store errors.

use std::future::Future;
use std::time::Duration;

use sea_query_sqlx::{SqlxBinder, SqlxValues};
use sqlx::pool::PoolConnection;
use sqlx::AssertSqlSafe;
use time::{OffsetDateTime, PrimitiveDateTime};

use super::pool::is_unavailable;
use super::{Dialect, SqlPool, SqlStore};
use crate::store::support::within;
use crate::store::StoreError;

impl SqlStore {
    /// The statement's SQL and bound values, for the pool's dialect.
    pub(super) fn build<S: SqlxBinder>(&self, statement: &S) -> (String, SqlxValues) {
        with_builder!(self.inner.table.dialect, |builder| statement
            .build_sqlx(builder))
    }

    /// `CREATE TABLE` for the pool's dialect.
    pub(super) fn build_schema(&self, statement: &sea_query::TableCreateStatement) -> String {
        with_builder!(self.inner.table.dialect, |builder| statement.build(builder))
    }

    /// Runs one built statement on a pooled connection; returns how many rows
    /// it changed.
    pub(super) async fn execute(
        &self, operation: &'static str, sql: String, values: SqlxValues,
    ) -> Result<u64, StoreError> {
        on_conn!(self, operation, |guard| {
            let statement = sqlx::query_with(AssertSqlSafe(sql), values);
            let done = self
                .timed(operation, statement.execute(&mut *guard))
                .await?;
            Ok(done.rows_affected())
        })
    }

    /// A pooled connection within `connect_timeout`.
    pub(super) async fn acquire<DB: sqlx::Database>(
        &self, operation: &'static str, pool: &sqlx::Pool<DB>,
    ) -> Result<PoolConnection<DB>, StoreError> {
        let wait = self.inner.timeouts.connect;
        match within(self.inner.backend, wait, pool.acquire()).await {
            Ok(connection) => connection.map_err(|error| self.error(operation, error)),
            Err(timed_out) => Err(StoreError::unavailable(
                self.inner.backend,
                operation,
                timed_out,
            )),
        }
    }

    /// Runs one statement within `operation_timeout`, keeping sqlx's error.
    pub(super) async fn timed_sqlx<T>(
        &self, operation: &'static str, statement: impl Future<Output = Result<T, sqlx::Error>>,
    ) -> Result<Result<T, sqlx::Error>, StoreError> {
        let limit = self.inner.timeouts.operation;
        within(self.inner.backend, limit, statement)
            .await
            .map_err(|timed_out| StoreError::unavailable(self.inner.backend, operation, timed_out))
    }

    /// Runs one statement within `operation_timeout`.
    pub(super) async fn timed<T>(
        &self, operation: &'static str, statement: impl Future<Output = Result<T, sqlx::Error>>,
    ) -> Result<T, StoreError> {
        self.timed_sqlx(operation, statement)
            .await?
            .map_err(|error| self.error(operation, error))
    }

    /// sqlx's error as a store error: unavailable (503) or failed (500).
    pub(super) fn error(&self, operation: &'static str, error: sqlx::Error) -> StoreError {
        let unavailable = is_unavailable(self.inner.table.dialect, &error);
        StoreError::classified(self.inner.backend, operation, unavailable, error)
    }
}

/// The expiry `ttl` after `now`, as naive UTC; the latest time there is when
/// that overflows.
pub(super) fn expiry_after(now: PrimitiveDateTime, ttl: Duration) -> PrimitiveDateTime {
    time::Duration::try_from(ttl)
        .ok()
        .and_then(|ttl| now.checked_add(ttl))
        .unwrap_or(PrimitiveDateTime::MAX)
}

/// Naive UTC now, to the microsecond (what the columns keep).
pub(super) fn now_utc() -> PrimitiveDateTime {
    let now = OffsetDateTime::now_utc();
    let time = now.time();
    let micros = time
        .replace_nanosecond(time.microsecond() * 1000)
        .unwrap_or(time);
    PrimitiveDateTime::new(now.date(), micros)
}
