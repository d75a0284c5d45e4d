//! Removing expired rows: batch by batch, one pass at a time per store, and
//! across instances one at a time under a database lock.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use sqlx::AssertSqlSafe;

use super::exec::now_utc;
use super::{Dialect, Inner, SqlPool, SqlStore};
use crate::store::support::clean_periodically;
use crate::store::StoreError;

/// Rows one cleanup batch deletes at most.
pub const DEFAULT_CLEANUP_BATCH: u64 = 1000;

/// What [`SqlStore::cleanup_exclusive`] locks, so operators can spot it (in
/// `pg_locks`, or with `IS_USED_LOCK`) or take it by hand to pause cleanup.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CleanupLock {
    /// A PostgreSQL session-level advisory lock on this `bigint` key.
    PgAdvisory(i64),
    /// A MySQL/MariaDB `GET_LOCK` of this name.
    MySqlNamed(String),
    /// None: SQLite's one file needs no cross-instance lock.
    None,
}

/// Deletes expired rows batch by batch on `$guard`'s connection, then the
/// owner-index rows whose session is gone (`owners.rs`); evaluates to the
/// count of session rows.
macro_rules! delete_expired {
    ($store:expr, $guard:ident) => {{
        let table = &$store.inner.table;
        let now = table.stamp(now_utc());
        let limit = $store.inner.batch_size;
        let mut removed = 0u64;
        loop {
            let (sql, values) = $store.build(&table.cleanup_batch(&now, limit));
            let done = $store
                .timed(
                    "cleanup",
                    sqlx::query_with(AssertSqlSafe(sql), values).execute(&mut *$guard),
                )
                .await?;
            removed += done.rows_affected();
            if done.rows_affected() < limit {
                break;
            }
            tokio::task::yield_now().await;
        }
        let (sql, values) = $store.build(&table.prune_owned(None, &now));
        $store
            .timed(
                "cleanup",
                sqlx::query_with(AssertSqlSafe(sql), values).execute(&mut *$guard),
            )
            .await?;
        removed
    }};
}

impl SqlStore {
    /// The lock [`SqlStore::cleanup_exclusive`] takes, derived from the
    /// table's qualified name.
    pub fn cleanup_lock(&self) -> CleanupLock {
        match self.inner.table.dialect {
            #[cfg(feature = "postgres")]
            Dialect::Postgres => CleanupLock::PgAdvisory(self.inner.table.pg_lock_key()),
            #[cfg(feature = "mysql")]
            Dialect::MySql => CleanupLock::MySqlNamed(self.inner.table.mysql_lock_name()),
            #[cfg(feature = "sqlite")]
            Dialect::Sqlite => CleanupLock::None,
        }
    }

    /// One cleanup pass that runs only if no other instance sharing the
    /// database is running one: `Ok(None)` when it skipped. PostgreSQL takes
    /// `pg_try_advisory_lock`, MySQL `GET_LOCK(name, 0)`, both keyed on the
    /// table's name and held by the pass's connection, which is closed
    /// afterwards so the lock cannot outlive the pass. SQLite needs no lock.
    ///
    /// # Errors
    ///
    /// A [`StoreError`] when the database cannot be reached in time or a
    /// statement fails.
    pub async fn cleanup_exclusive(&self) -> Result<Option<u64>, StoreError> {
        let Some(_pass) = Pass::begin(&self.inner.cleaning) else {
            return Ok(None);
        };
        let table = &self.inner.table;
        let (Some(lock), Some(unlock)) = (table.try_lock(), table.unlock()) else {
            return on_conn!(self, "cleanup", |guard| Ok(Some(delete_expired!(
                self, guard
            ))));
        };
        on_conn!(self, "cleanup", |guard| {
            // A session-level lock is released when its connection closes.
            guard.close_on_drop();
            let (sql, values) = self.build(&lock);
            let locked: (Option<bool>,) = self
                .timed(
                    "cleanup",
                    sqlx::query_as_with(AssertSqlSafe(sql), values).fetch_one(&mut *guard),
                )
                .await?;
            if locked.0 != Some(true) {
                return Ok(None);
            }
            let removed = delete_expired!(self, guard);
            let (sql, values) = self.build(&unlock);
            self.timed(
                "cleanup",
                sqlx::query_with(AssertSqlSafe(sql), values).execute(&mut *guard),
            )
            .await?;
            Ok(Some(removed))
        })
    }

    /// Starts the task that runs [`SqlStore::cleanup_exclusive`] every
    /// `every`. It holds the store weakly, so it ends with the store.
    pub(super) fn spawn_cleanup(&self, every: Duration) {
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let stop = self.inner.cleanup_task.subscribe();
        let task = tokio::spawn(clean_periodically(
            self.inner.backend,
            every,
            stop,
            move || {
                let store = SqlStore {
                    inner: weak.upgrade()?,
                };
                Some(async move { store.cleanup_exclusive().await })
            },
        ));
        self.inner.cleanup_task.started(task);
    }

    /// One cleanup pass, unless one of this store is already running (then
    /// 0).
    pub(super) async fn cleanup_pass(&self) -> Result<u64, StoreError> {
        let Some(_pass) = Pass::begin(&self.inner.cleaning) else {
            return Ok(0);
        };
        on_conn!(self, "cleanup", |guard| Ok(delete_expired!(self, guard)))
    }
}

/// Marks a cleanup pass of one store as running, until dropped.
struct Pass<'a>(&'a AtomicBool);

impl<'a> Pass<'a> {
    fn begin(flag: &'a AtomicBool) -> Option<Self> {
        flag.compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .ok()
            .map(|_| Pass(flag))
    }
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}
