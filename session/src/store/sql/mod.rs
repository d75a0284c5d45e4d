//! Sessions in an SQL table (`SESSION_TYPE = sqlalchemy`, alias `sql`):
//! PostgreSQL, MySQL/MariaDB or SQLite, in Flask-Session's layout, so a Flask
//! app and a Rust service can share the table and the cookie.
//!
//! Every statement is built by sea-query for the exact dialect of the pool and
//! run by sqlx with bound parameters (see `schema.rs`). The cargo features
//! `postgres`, `mysql` and `sqlite` pick the drivers; `sql` enables all three.
//!
//! # The table
//!
//! `SESSION_SQLALCHEMY_TABLE` (default `sessions`) in `SESSION_SQLALCHEMY_SCHEMA`
//! (PostgreSQL schema, MySQL database, SQLite attached database):
//!
//! | column       | PostgreSQL                  | MySQL / MariaDB         | SQLite                |
//! |--------------|-----------------------------|-------------------------|-----------------------|
//! | `id`         | `BIGSERIAL` primary key, or `BIGINT DEFAULT nextval(seq)` | `BIGINT AUTO_INCREMENT` | `INTEGER` primary key (the 64-bit rowid) |
//! | `session_id` | `VARCHAR(255) UNIQUE`       | `VARCHAR(255) UNIQUE`, `utf8mb4_bin` | `VARCHAR(255) UNIQUE` |
//! | `data`       | `BYTEA`                     | `MEDIUMBLOB`            | `BLOB`                |
//! | `expiry`     | `TIMESTAMP WITHOUT TIME ZONE` | `DATETIME(6)`         | `DATETIME` (text)     |
//!
//! plus an index `ix_<table>_expiry` for cleanup. `session_id` holds
//! `key_prefix + sid`; `expiry` is naive UTC from this process's clock. On SQLite
//! it is written as SQLAlchemy's text, `YYYY-MM-DD HH:MM:SS.ffffff`, so that
//! Flask's text comparisons keep working.
//!
//! Choices beyond Flask-Session's own table, for tables this store creates:
//! - `id` is 64-bit: an `INTEGER` id runs out on a busy site.
//! - MySQL's `data` is `MEDIUMBLOB` (16 MiB): a `BLOB` holds 65,535 bytes, one
//!   less than the default `SESSION_MAX_SESSION_BYTES` (64 KiB).
//! - MySQL's `session_id` compares case-sensitively (`utf8mb4_bin`): sids are.
//! - With `SESSION_SQLALCHEMY_SEQUENCE` (PostgreSQL only, as in SQLAlchemy),
//!   the sequence is created unqualified, where SQLAlchemy creates it (the
//!   first schema of the `search_path`, not the table's schema), and inserts
//!   call `nextval` on it explicitly, so tables made by Flask, which have no
//!   default on `id`, work too.
//!
//! The table (with its index and sequence) is created at start-up when it is
//! missing, unless `SESSION_SQLALCHEMY_CREATE_TABLE = false`; then a missing
//! table is a start-up error. An existing table is used as it is. The schema
//! itself is never created.
//!
//! # The owner index
//!
//! Which sessions belong to which user (design §12) lives in a table of our
//! own beside the sessions table, `<table>_owners(owner, session_id,
//! created)` (a hashed name when `<table>` is too long), so Flask's table
//! stays exactly as Flask-Session makes it. It is created at start-up when
//! missing, beside a table Flask made too; with
//! `SESSION_SQLALCHEMY_CREATE_TABLE = false` a missing one is only a warning,
//! and logins and listings fail until it exists. Its layout per dialect
//! (MySQL keys it on a SHA-1 digest of the owner) and its statements are in
//! `owners.rs`. Only a change of owner writes it; an ordinary save sends no
//! statement to it.
//!
//! # Operations
//!
//! - **load**: one `SELECT … WHERE session_id = ? AND expiry > now`. An expired
//!   or NULL-expiry row is a miss; it is left for cleanup (hourly by default).
//!   Flask-Session deletes such a row when it reads it; here a read stays one
//!   statement, also for a client sending made-up sids.
//! - **save**: `UPDATE` first for a session that was loaded, `INSERT` first for
//!   a new one, falling back to the other on 0 rows or a unique conflict. No
//!   `ON CONFLICT` / `ON DUPLICATE KEY`: those use up an id on every conflict.
//! - **load_and_touch** (sliding expiry): the expiry is written only when at
//!   most `SESSION_REFRESH_THRESHOLD` of the lifetime remains (0.8 by default:
//!   a session is rewritten at most once per fifth of its lifetime). PostgreSQL
//!   does it in one statement, a data-modifying CTE that updates only when due
//!   and returns the data either way. MySQL (no `UPDATE … RETURNING` in
//!   MariaDB) and SQLite run a `SELECT` that also says whether a touch is due,
//!   then the conditional `UPDATE` only when it is, on the same connection.
//!   SQLite has no network round trip to save, and a plain `UPDATE … RETURNING`
//!   would write on every read.
//! - **cleanup**: deletes expired and NULL-expiry rows (as of the start of
//!   the pass) in batches ([`DEFAULT_CLEANUP_BATCH`]) until a batch comes back
//!   short, and returns the count. SQLite uses `DELETE … WHERE id IN (SELECT id
//!   FROM (SELECT id … LIMIT n) AS b)`, the form all three accept; PostgreSQL
//!   `DELETE … WHERE id = ANY(ARRAY((SELECT id … LIMIT n)))` and MySQL/MariaDB
//!   `DELETE … LIMIT n`, because both plan the portable form as a scan of the
//!   whole table per batch (see `schema.rs`). A pass already running in this
//!   process makes another return 0 at once. The pass ends with one
//!   `DELETE … WHERE NOT EXISTS` of the owner-index rows whose session is
//!   gone; those are not counted.
//! - **cleanup interval**: with `SESSION_CLEANUP_INTERVAL`, the store spawns a
//!   task that runs [`SqlStore::cleanup_exclusive`] periodically. Across app
//!   instances sharing the database only one pass runs at a time
//!   (`pg_try_advisory_lock` / `GET_LOCK(name, 0)` on the table's name; the
//!   others skip). The task ends when the store is dropped, shut down
//!   ([`SessionStore::shutdown`], which also
//!   closes a pool the store built) or [`SqlStore::close`]d (which also
//!   closes a pool the app handed over).
//!
//! # Pools, binds and errors
//!
//! The pool comes, in this order, from [`SqlStoreBuilder::pool`] (the app's own
//! sqlx pool), from `SESSION_SQLALCHEMY_BIND_KEY` (a pool registered with
//! [`SqlStoreBuilder::bind`], else a URL of `SESSION_SQLALCHEMY_BINDS`; an unknown
//! key is a start-up error), or from `SESSION_SQLALCHEMY`
//! (`postgres://`, `postgresql://`, `mysql://`, `mariadb://`, `sqlite:`; default
//! `sqlite://flask_session.db?mode=rwc`, relative to the working directory).
//!
//! A pool built here has `SESSION_POOL_SIZE` connections (sqlx's default, 10,
//! when unset; 1 for an in-memory SQLite database, which lives as long as its
//! connection), waits at most `SESSION_CONNECT_TIMEOUT` for a connection, and
//! on PostgreSQL sets `statement_timeout` to `SESSION_OPERATION_TIMEOUT`; SQLite
//! waits that long on a locked database. Every operation is also bounded by
//! `SESSION_OPERATION_TIMEOUT` in the client. A refused or reset connection, a
//! timeout, an exhausted pool, a server shutting down, a deadlock, a lock wait
//! timeout, a statement the server interrupted or a busy SQLite file are [`StoreErrorKind::Unavailable`](super::StoreErrorKind) (503);
//! anything else is `Failed` (500). Start-up with the database down fails with
//! a [`BuildError`](super::BuildError) naming the backend and the URL, password redacted.
//!
//! # Example
//!
//! ```no_run
//! use std::sync::Arc;
//! use session::store::sql::{sqlx, SqlStore};
//! use session::{SessionManager, Settings};
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let settings = Settings::load()?;
//! // The app's own pool, registered under the name SESSION_SQLALCHEMY_BIND_KEY uses.
//! let pool = sqlx::PgPool::connect("postgres://app@db/app").await?;
//! let store = SqlStore::builder(&settings).bind("sessions", pool).build().await?;
//! let manager = SessionManager::new(settings, Arc::new(store))?;
//! # Ok(()) }
//! ```

/// Runs `$body` with `$guard`, a pooled connection of the store's dialect,
/// acquired within `connect_timeout`. The body is expanded once per dialect,
/// so every statement runs on the concrete sqlx driver.
macro_rules! on_conn {
    ($store:expr, $op:expr, |$guard:ident| $body:expr) => {
        match &$store.inner.pool {
            #[cfg(feature = "postgres")]
            SqlPool::Postgres(pool) => on_conn!(@with $store, $op, pool, $guard, $body),
            #[cfg(feature = "mysql")]
            SqlPool::MySql(pool) => on_conn!(@with $store, $op, pool, $guard, $body),
            #[cfg(feature = "sqlite")]
            SqlPool::Sqlite(pool) => on_conn!(@with $store, $op, pool, $guard, $body),
        }
    };
    (@with $store:expr, $op:expr, $pool:ident, $guard:ident, $body:expr) => {{
        #[allow(unused_mut)]
        let mut $guard = $store.acquire($op, $pool).await?;
        $body
    }};
}

/// Evaluates `$body` with `$builder`, the sea-query builder of `$dialect`.
macro_rules! with_builder {
    ($dialect:expr, |$builder:ident| $body:expr) => {
        match $dialect {
            #[cfg(feature = "postgres")]
            Dialect::Postgres => {
                let $builder = sea_query::PostgresQueryBuilder;
                $body
            }
            #[cfg(feature = "mysql")]
            Dialect::MySql => {
                let $builder = sea_query::MysqlQueryBuilder;
                $body
            }
            #[cfg(feature = "sqlite")]
            Dialect::Sqlite => {
                let $builder = sea_query::SqliteQueryBuilder;
                $body
            }
        }
    };
}

mod builder;
mod cleanup;
mod conditional;
mod exec;
mod owners;
mod ping;
mod pool;
mod queries;
mod schema;
#[cfg(all(test, feature = "postgres", feature = "mysql", feature = "sqlite"))]
mod tests;

use std::fmt;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use sqlx::AssertSqlSafe;

pub use self::builder::SqlStoreBuilder;
pub use self::cleanup::{CleanupLock, DEFAULT_CLEANUP_BATCH};
use self::exec::{expiry_after, now_utc};
pub use self::pool::{Dialect, SqlBinds, SqlPool};
use self::schema::SessionTable;
use super::cleanup_task::CleanupTask;
use super::{
    IndexedSession, PingInfo, SaveHint, SessionStore, StoreError, StoreResult, Timeouts,
    WriteOutcome,
};

/// The sqlx this store is built with, for apps that hand over their own pool.
pub use sqlx;

/// The longest session key: Flask-Session's `session_id` column is
/// `VARCHAR(255)`; session keys are ASCII, so characters and bytes agree.
pub const MAX_KEY_LEN: usize = session_config::SQL_MAX_KEY;

/// Sessions in an SQL table. Cheap to clone: clones share the pool.
#[derive(Clone)]
pub struct SqlStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: SqlPool,
    /// The store built the pool from a URL; a pool the app handed over is
    /// the app's to close.
    owns_pool: bool,
    table: SessionTable,
    backend: &'static str,
    timeouts: Timeouts,
    refresh_threshold: f64,
    batch_size: u64,
    /// A cleanup pass of this store is running.
    cleaning: AtomicBool,
    /// Dropped with the store (or ended by a shutdown): ends the cleanup task.
    cleanup_task: CleanupTask,
}

impl fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlStore")
            .field("dialect", &self.inner.table.dialect)
            .field("table", &self.inner.table.display_name())
            .finish_non_exhaustive()
    }
}

fn is_unique_violation(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(db) if db.is_unique_violation())
}

#[derive(Clone, Copy)]
enum Step {
    Update,
    Insert,
}

#[async_trait]
impl SessionStore for SqlStore {
    fn backend(&self) -> &'static str {
        self.inner.backend
    }

    async fn ping(&self) -> Result<PingInfo, StoreError> {
        self.server_version().await.map(PingInfo::with_version)
    }

    fn max_key_len(&self) -> Option<usize> {
        Some(MAX_KEY_LEN)
    }

    async fn load(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let table = &self.inner.table;
        let (sql, values) = self.build(&table.select_live(key, &table.stamp(now_utc())));
        let row: Option<(Vec<u8>,)> = on_conn!(self, "load", |guard| {
            self.timed(
                "load",
                sqlx::query_as_with(AssertSqlSafe(sql), values).fetch_optional(&mut *guard),
            )
            .await?
        });
        Ok(row.map(|(data,)| data))
    }

    async fn load_and_touch(&self, key: &str, ttl: Duration) -> StoreResult<Option<Vec<u8>>> {
        let table = &self.inner.table;
        let now = now_utc();
        let live_after = table.stamp(now);
        let touch_before =
            table.stamp(expiry_after(now, ttl.mul_f64(self.inner.refresh_threshold)));
        let expiry = table.stamp(expiry_after(now, ttl));
        match &self.inner.pool {
            // One statement: a CTE that writes only when due (schema.rs).
            #[cfg(feature = "postgres")]
            SqlPool::Postgres(pool) => {
                let (sql, values) =
                    self.build(&table.load_and_touch_cte(key, &live_after, &touch_before, &expiry));
                let mut guard = self.acquire("load_and_touch", pool).await?;
                let row: Option<(Vec<u8>,)> = self
                    .timed(
                        "load_and_touch",
                        sqlx::query_as_with(AssertSqlSafe(sql), values).fetch_optional(&mut *guard),
                    )
                    .await?;
                Ok(row.map(|(data,)| data))
            }
            // A SELECT that says whether a touch is due, then the conditional
            // UPDATE only when it is.
            #[allow(unreachable_patterns)]
            _ => {
                let (sql, values) =
                    self.build(&table.select_for_touch(key, &live_after, &touch_before));
                on_conn!(self, "load_and_touch", |guard| {
                    let row: Option<(Vec<u8>, Option<bool>)> = self
                        .timed(
                            "load_and_touch",
                            sqlx::query_as_with(AssertSqlSafe(sql), values)
                                .fetch_optional(&mut *guard),
                        )
                        .await?;
                    let Some((data, due)) = row else {
                        return Ok(None);
                    };
                    if due == Some(true) {
                        let (sql, values) = self.build(&table.touch_if_due(
                            key,
                            &live_after,
                            &touch_before,
                            &expiry,
                        ));
                        self.timed(
                            "load_and_touch",
                            sqlx::query_with(AssertSqlSafe(sql), values).execute(&mut *guard),
                        )
                        .await?;
                    }
                    Ok(Some(data))
                })
            }
        }
    }

    async fn save(&self, key: &str, value: &[u8], ttl: Duration, how: SaveHint) -> StoreResult<()> {
        let table = &self.inner.table;
        let expiry = table.stamp(expiry_after(now_utc(), ttl));
        // Fall back to the other statement on 0 rows or a conflict; the third
        // step covers a row deleted between the two.
        let steps = match how {
            SaveHint::Existing => [Step::Update, Step::Insert, Step::Update],
            SaveHint::New => [Step::Insert, Step::Update, Step::Insert],
        };
        on_conn!(self, "save", |guard| {
            for step in steps {
                match step {
                    Step::Update => {
                        let (sql, values) = self.build(&table.update(key, value, &expiry));
                        let done = self
                            .timed(
                                "save",
                                sqlx::query_with(AssertSqlSafe(sql), values).execute(&mut *guard),
                            )
                            .await?;
                        if done.rows_affected() > 0 {
                            return Ok(());
                        }
                    }
                    Step::Insert => {
                        let (sql, values) = self.build(&table.insert(key, value, &expiry));
                        match self
                            .timed_sqlx(
                                "save",
                                sqlx::query_with(AssertSqlSafe(sql), values).execute(&mut *guard),
                            )
                            .await?
                        {
                            Ok(_) => return Ok(()),
                            Err(error) if is_unique_violation(&error) => {}
                            Err(error) => return Err(self.error("save", error)),
                        }
                    }
                }
            }
            Err(StoreError::failed(
                self.inner.backend,
                "save",
                "the row kept appearing and disappearing under concurrent writes",
            ))
        })
    }

    /// A plain `INSERT`, which the `session_id` unique index refuses when
    /// the key exists; then the current row.
    async fn insert_new(
        &self, key: &str, value: &[u8], ttl: Duration,
    ) -> StoreResult<WriteOutcome> {
        let table = &self.inner.table;
        let now = now_utc();
        let (sql, values) =
            self.build(&table.insert(key, value, &table.stamp(expiry_after(now, ttl))));
        let inserted = on_conn!(self, "insert_new", |guard| {
            self.timed_sqlx(
                "insert_new",
                sqlx::query_with(AssertSqlSafe(sql), values).execute(&mut *guard),
            )
            .await?
            .map(drop)
        });
        match inserted {
            Ok(_) => Ok(WriteOutcome::Saved),
            Err(error) if is_unique_violation(&error) => {
                let current = SessionStore::load(self, key).await?;
                Ok(current.map_or(WriteOutcome::Gone, WriteOutcome::Changed))
            }
            Err(error) => Err(self.error("insert_new", error)),
        }
    }

    async fn save_if_unchanged(
        &self, key: &str, expected: &[u8], value: &[u8], ttl: Duration,
    ) -> StoreResult<WriteOutcome> {
        self.update_if_unchanged(key, expected, value, ttl).await
    }

    async fn touch(&self, key: &str, ttl: Duration) -> Result<(), StoreError> {
        let table = &self.inner.table;
        let now = now_utc();
        let (sql, values) =
            self.build(&table.touch(key, &table.stamp(now), &table.stamp(expiry_after(now, ttl))));
        self.execute("touch", sql, values).await.map(drop)
    }

    async fn add_owned(
        &self, owner: &str, key: &str, created: SystemTime, _ttl: Duration,
    ) -> StoreResult<()> {
        self.index_add(owner, key, created).await
    }

    async fn remove_owned(&self, owner: &str, key: &str) -> StoreResult<()> {
        self.index_remove(owner, key).await
    }

    async fn list_owned(&self, owner: &str) -> StoreResult<Vec<IndexedSession>> {
        self.index_list(owner).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let (sql, values) = self.build(&self.inner.table.delete(key));
        self.execute("delete", sql, values).await.map(drop)
    }

    async fn cleanup(&self) -> Result<u64, StoreError> {
        self.cleanup_pass().await
    }

    /// Ends the cleanup task, waiting for a pass under way, then closes the
    /// pool if the store built it ([`SqlStore::close`] closes the app's own
    /// pool too).
    async fn shutdown(&self) {
        self.inner.cleanup_task.end().await;
        if self.inner.owns_pool {
            self.inner.pool.close().await;
        }
    }
}
