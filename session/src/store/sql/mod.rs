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
//! # Operations
//!
//! - **load**: one `SELECT … WHERE session_id = ? AND expiry > now`. An expired
//!   or NULL-expiry row is a miss; it is left for cleanup.
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
//!   process makes another return 0 at once.
//! - **cleanup interval**: with `SESSION_CLEANUP_INTERVAL`, the store spawns a
//!   task that runs [`SqlStore::cleanup_exclusive`] periodically. Across app
//!   instances sharing the database only one pass runs at a time
//!   (`pg_try_advisory_lock` / `GET_LOCK(name, 0)` on the table's name; the
//!   others skip). The task ends when the store is dropped or
//!   [`SqlStore::close`]d.
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
//! timeout, an exhausted pool, a server shutting down, a deadlock or a busy
//! SQLite file are [`StoreErrorKind::Unavailable`](super::StoreErrorKind) (503);
//! anything else is `Failed` (500). Start-up with the database down fails with
//! a [`BuildError`] naming the backend and the URL, password redacted.
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

mod pool;
mod schema;

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use async_trait::async_trait;
use sea_query_sqlx::{SqlxBinder, SqlxValues};
use session_config::Settings;
use sqlx::pool::PoolConnection;
use sqlx::AssertSqlSafe;
use time::{OffsetDateTime, PrimitiveDateTime};
use tokio::sync::watch;

use self::pool::is_unavailable;
pub use self::pool::{Dialect, SqlBinds, SqlPool};
use self::schema::SessionTable;
use super::{BuildError, SaveHint, SessionStore, StoreError};

/// The sqlx this store is built with, for apps that hand over their own pool.
pub use sqlx;

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

/// Builds an [`SqlStore`]: see [`SqlStore::builder`].
#[derive(Debug)]
#[must_use = "call .build().await"]
pub struct SqlStoreBuilder {
    settings: Settings,
    pool: Option<SqlPool>,
    binds: SqlBinds,
    batch_size: u64,
}

impl SqlStoreBuilder {
    /// Uses the app's own pool; `SESSION_SQLALCHEMY` and the bind key are then
    /// ignored.
    pub fn pool(mut self, pool: impl Into<SqlPool>) -> Self {
        self.pool = Some(pool.into());
        self
    }

    /// Registers a pool under a name `SESSION_SQLALCHEMY_BIND_KEY` may pick. A
    /// registered pool wins over a `SESSION_SQLALCHEMY_BINDS` URL of that name.
    pub fn bind(mut self, name: impl Into<String>, pool: impl Into<SqlPool>) -> Self {
        self.binds.insert(name, pool);
        self
    }

    /// Registers every pool of `binds` (see [`SqlStoreBuilder::bind`]).
    pub fn binds(mut self, binds: SqlBinds) -> Self {
        self.binds.pools.extend(binds.pools);
        self
    }

    /// Rows one cleanup batch deletes at most (default
    /// [`DEFAULT_CLEANUP_BATCH`]; at least 1).
    pub fn cleanup_batch_size(mut self, rows: u64) -> Self {
        self.batch_size = rows.max(1);
        self
    }

    /// Resolves the pool, creates the table if it is missing (unless
    /// `SESSION_SQLALCHEMY_CREATE_TABLE` is off), and starts the cleanup task
    /// when `SESSION_CLEANUP_INTERVAL` is set.
    pub async fn build(self) -> Result<SqlStore, BuildError> {
        let settings = &self.settings;
        let (pool, location) = match (self.pool, &settings.sqlalchemy_bind_key) {
            (Some(pool), _) => (pool, "the app's pool".to_owned()),
            (None, Some(key)) => match (self.binds.get(key), settings.sqlalchemy_binds.get(key)) {
                (Some(pool), _) => (pool.clone(), format!("the pool bound as {key:?}")),
                (None, Some(url)) => (SqlPool::connect(url, settings).await?, url.redacted()),
                (None, None) => {
                    let known: Vec<&str> = self
                        .binds
                        .names()
                        .chain(settings.sqlalchemy_binds.keys().map(String::as_str))
                        .collect();
                    return Err(BuildError::Backend {
                        backend: "sql",
                        location: format!("bind key {key:?}"),
                        source: format!(
                            "SESSION_SQLALCHEMY_BIND_KEY is {key:?}, but no pool is registered under that name and \
                             SESSION_SQLALCHEMY_BINDS has no such entry (known: {})",
                            if known.is_empty() { "none".to_owned() } else { known.join(", ") }
                        )
                        .into(),
                    });
                }
            },
            (None, None) => (
                SqlPool::connect(&settings.sqlalchemy, settings).await?,
                settings.sqlalchemy.redacted(),
            ),
        };
        let dialect = pool.dialect();
        let table = SessionTable::new(
            dialect,
            &settings.sqlalchemy_table,
            settings.sqlalchemy_schema.as_ref(),
            settings.sqlalchemy_sequence.as_ref(),
        );
        if settings.sqlalchemy_sequence.is_some() && !table.uses_sequence() {
            tracing::warn!(
                backend = dialect.name(),
                "SESSION_SQLALCHEMY_SEQUENCE applies to PostgreSQL only (as in SQLAlchemy); ignored"
            );
        }
        let (stop, _) = watch::channel(());
        let store = SqlStore {
            inner: Arc::new(Inner {
                pool,
                table,
                backend: dialect.name(),
                connect_timeout: settings.connect_timeout,
                operation_timeout: settings.operation_timeout,
                refresh_threshold: settings.refresh_threshold.clamp(0.0, 1.0),
                batch_size: self.batch_size,
                cleaning: AtomicBool::new(false),
                stop,
            }),
        };
        store
            .prepare(settings.sqlalchemy_create_table)
            .await
            .map_err(|source| BuildError::Backend {
                backend: dialect.name(),
                location,
                source,
            })?;
        if let Some(every) = settings.cleanup_interval {
            store.spawn_cleanup(every);
        }
        Ok(store)
    }
}

/// Sessions in an SQL table. Cheap to clone: clones share the pool.
#[derive(Clone)]
pub struct SqlStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: SqlPool,
    table: SessionTable,
    backend: &'static str,
    connect_timeout: Duration,
    operation_timeout: Duration,
    refresh_threshold: f64,
    batch_size: u64,
    /// A cleanup pass of this store is running.
    cleaning: AtomicBool,
    /// Dropped with the store (or signalled by `close`): ends the cleanup task.
    stop: watch::Sender<()>,
}

impl fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqlStore")
            .field("dialect", &self.inner.table.dialect)
            .field("table", &self.inner.table.display_name())
            .finish_non_exhaustive()
    }
}

/// Runs `$body` with `$guard`, a pooled connection of the store's dialect,
/// acquired within `connect_timeout`. The body is expanded once per dialect,
/// so every statement runs on the concrete sqlx driver.
macro_rules! on_conn {
    ($store:expr, $op:expr, |$guard:ident| $body:expr) => {
        match &$store.inner.pool {
            #[cfg(feature = "postgres")]
            SqlPool::Postgres(pool) => {
                #[allow(unused_mut)]
                let mut $guard = $store.acquire($op, pool).await?;
                $body
            }
            #[cfg(feature = "mysql")]
            SqlPool::MySql(pool) => {
                #[allow(unused_mut)]
                let mut $guard = $store.acquire($op, pool).await?;
                $body
            }
            #[cfg(feature = "sqlite")]
            SqlPool::Sqlite(pool) => {
                #[allow(unused_mut)]
                let mut $guard = $store.acquire($op, pool).await?;
                $body
            }
        }
    };
}

/// Deletes expired rows batch by batch on `$guard`'s connection; evaluates to
/// the count.
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
        removed
    }};
}

impl SqlStore {
    /// A builder over the settings: the app's own pool or registered pools can
    /// be added before `build`.
    pub fn builder(settings: &Settings) -> SqlStoreBuilder {
        SqlStoreBuilder {
            settings: settings.clone(),
            pool: None,
            binds: SqlBinds::new(),
            batch_size: DEFAULT_CLEANUP_BATCH,
        }
    }

    /// The store `SESSION_SQLALCHEMY*` describe (see the module docs for how
    /// the pool is chosen).
    pub async fn from_settings(settings: &Settings) -> Result<Self, BuildError> {
        Self::builder(settings).build().await
    }

    /// A store over the app's own pool, with the table and timeouts of the
    /// settings.
    pub async fn with_pool(
        pool: impl Into<SqlPool>,
        settings: &Settings,
    ) -> Result<Self, BuildError> {
        Self::builder(settings).pool(pool).build().await
    }

    /// The pool the store uses.
    pub fn pool(&self) -> &SqlPool {
        &self.inner.pool
    }

    /// The database the store talks to.
    pub fn dialect(&self) -> Dialect {
        self.inner.table.dialect
    }

    /// The table, as `schema.table` or `table` (unquoted).
    pub fn table_name(&self) -> String {
        self.inner.table.display_name()
    }

    /// Stops the cleanup task and closes the pool (shared with the app, if it
    /// handed the pool over).
    pub async fn close(&self) {
        self.inner.stop.send_replace(());
        self.inner.pool.close().await;
    }

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

    fn spawn_cleanup(&self, every: Duration) {
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let mut stop = self.inner.stop.subscribe();
        let backend = self.inner.backend;
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = ticker.tick() => {}
                    // The store was closed or dropped.
                    _ = stop.changed() => break,
                }
                let Some(inner) = weak.upgrade() else { break };
                match (SqlStore { inner }).cleanup_exclusive().await {
                    Ok(Some(removed)) => tracing::debug!(backend, removed, "session cleanup pass"),
                    Ok(None) => tracing::debug!(
                        backend,
                        "session cleanup pass skipped: another instance runs one"
                    ),
                    Err(error) => tracing::warn!(%error, "session cleanup pass failed"),
                }
            }
            tracing::debug!(backend, "session cleanup task ended");
        });
    }

    /// Checks for the table and creates what is missing.
    async fn prepare(&self, create: bool) -> Result<(), super::error::BoxError> {
        if self.table_exists().await? {
            return Ok(());
        }
        if !create {
            return Err(format!(
                "table {} does not exist, and SESSION_SQLALCHEMY_CREATE_TABLE is off",
                self.table_name()
            )
            .into());
        }
        match self.create_table().await {
            Ok(()) => Ok(()),
            // Another instance starting at the same time may have won a race
            // on PostgreSQL's catalog.
            Err(error) if self.table_exists().await.unwrap_or(false) => {
                tracing::debug!(%error, "session table created concurrently");
                Ok(())
            }
            Err(error) => Err(error.into()),
        }
    }

    async fn table_exists(&self) -> Result<bool, StoreError> {
        let (sql, values) = self.build(&self.inner.table.table_exists());
        let (count,): (i64,) = on_conn!(self, "prepare", |guard| {
            self.timed(
                "prepare",
                sqlx::query_as_with(AssertSqlSafe(sql), values).fetch_one(&mut *guard),
            )
            .await?
        });
        Ok(count > 0)
    }

    async fn create_table(&self) -> Result<(), StoreError> {
        let table = &self.inner.table;
        let mut statements = Vec::new();
        #[cfg(feature = "postgres")]
        statements.extend(table.create_sequence());
        statements.push(self.build_schema(&table.create_table()));
        statements.extend(table.create_expiry_index());
        on_conn!(self, "prepare", |guard| {
            for sql in statements {
                self.timed(
                    "prepare",
                    sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut *guard),
                )
                .await?;
            }
            Ok(())
        })
    }

    fn build<S: SqlxBinder>(&self, statement: &S) -> (String, SqlxValues) {
        match self.inner.table.dialect {
            #[cfg(feature = "postgres")]
            Dialect::Postgres => statement.build_sqlx(sea_query::PostgresQueryBuilder),
            #[cfg(feature = "mysql")]
            Dialect::MySql => statement.build_sqlx(sea_query::MysqlQueryBuilder),
            #[cfg(feature = "sqlite")]
            Dialect::Sqlite => statement.build_sqlx(sea_query::SqliteQueryBuilder),
        }
    }

    fn build_schema<S: SchemaStatement>(&self, statement: &S) -> String {
        match self.inner.table.dialect {
            #[cfg(feature = "postgres")]
            Dialect::Postgres => statement.build_for(sea_query::PostgresQueryBuilder),
            #[cfg(feature = "mysql")]
            Dialect::MySql => statement.build_for(sea_query::MysqlQueryBuilder),
            #[cfg(feature = "sqlite")]
            Dialect::Sqlite => statement.build_for(sea_query::SqliteQueryBuilder),
        }
    }

    async fn acquire<DB: sqlx::Database>(
        &self,
        operation: &'static str,
        pool: &sqlx::Pool<DB>,
    ) -> Result<PoolConnection<DB>, StoreError> {
        let wait = self.inner.connect_timeout;
        match tokio::time::timeout(wait, pool.acquire()).await {
            Ok(Ok(connection)) => Ok(connection),
            Ok(Err(error)) => Err(self.error(operation, error)),
            Err(_) => Err(StoreError::unavailable(
                self.inner.backend,
                operation,
                format!("no connection within {wait:?} (SESSION_CONNECT_TIMEOUT)"),
            )),
        }
    }

    /// Runs one statement within `operation_timeout`, keeping sqlx's error.
    async fn timed_sqlx<T>(
        &self,
        operation: &'static str,
        statement: impl Future<Output = Result<T, sqlx::Error>>,
    ) -> Result<Result<T, sqlx::Error>, StoreError> {
        let limit = self.inner.operation_timeout;
        tokio::time::timeout(limit, statement).await.map_err(|_| {
            StoreError::unavailable(
                self.inner.backend,
                operation,
                format!("no answer within {limit:?} (SESSION_OPERATION_TIMEOUT)"),
            )
        })
    }

    /// Runs one statement within `operation_timeout`.
    async fn timed<T>(
        &self,
        operation: &'static str,
        statement: impl Future<Output = Result<T, sqlx::Error>>,
    ) -> Result<T, StoreError> {
        self.timed_sqlx(operation, statement)
            .await?
            .map_err(|error| self.error(operation, error))
    }

    fn error(&self, operation: &'static str, error: sqlx::Error) -> StoreError {
        if is_unavailable(self.inner.table.dialect, &error) {
            StoreError::unavailable(self.inner.backend, operation, error)
        } else {
            StoreError::failed(self.inner.backend, operation, error)
        }
    }

    /// Now, and the expiry `ttl` from now, as naive UTC.
    fn expiry_after(now: PrimitiveDateTime, ttl: Duration) -> PrimitiveDateTime {
        time::Duration::try_from(ttl)
            .ok()
            .and_then(|ttl| now.checked_add(ttl))
            .unwrap_or(PrimitiveDateTime::MAX)
    }
}

/// sea-query's schema statements build to plain strings.
trait SchemaStatement {
    fn build_for<B: sea_query::SchemaBuilder>(&self, builder: B) -> String;
}

impl SchemaStatement for sea_query::TableCreateStatement {
    fn build_for<B: sea_query::SchemaBuilder>(&self, builder: B) -> String {
        self.build(builder)
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

/// Naive UTC now, to the microsecond (what the columns keep).
fn now_utc() -> PrimitiveDateTime {
    let now = OffsetDateTime::now_utc();
    let time = now.time();
    let micros = time
        .replace_nanosecond(time.microsecond() * 1000)
        .unwrap_or(time);
    PrimitiveDateTime::new(now.date(), micros)
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

    /// Flask-Session's `session_id` column is `VARCHAR(255)`; session keys
    /// are ASCII, so characters and bytes agree.
    fn max_key_len(&self) -> Option<usize> {
        Some(255)
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

    async fn load_and_touch(
        &self,
        key: &str,
        ttl: Duration,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let table = &self.inner.table;
        let now = now_utc();
        let live_after = table.stamp(now);
        let touch_before = table.stamp(Self::expiry_after(
            now,
            ttl.mul_f64(self.inner.refresh_threshold),
        ));
        let expiry = table.stamp(Self::expiry_after(now, ttl));
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

    async fn save(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
        hint: SaveHint,
    ) -> Result<(), StoreError> {
        let table = &self.inner.table;
        let expiry = table.stamp(Self::expiry_after(now_utc(), ttl));
        // Fall back to the other statement on 0 rows or a conflict; the third
        // step covers a row deleted between the two.
        let steps = match hint {
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

    async fn touch(&self, key: &str, ttl: Duration) -> Result<(), StoreError> {
        let table = &self.inner.table;
        let now = now_utc();
        let (sql, values) = self.build(&table.touch(
            key,
            &table.stamp(now),
            &table.stamp(Self::expiry_after(now, ttl)),
        ));
        on_conn!(self, "touch", |guard| {
            self.timed(
                "touch",
                sqlx::query_with(AssertSqlSafe(sql), values).execute(&mut *guard),
            )
            .await?;
            Ok(())
        })
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let (sql, values) = self.build(&self.inner.table.delete(key));
        on_conn!(self, "delete", |guard| {
            self.timed(
                "delete",
                sqlx::query_with(AssertSqlSafe(sql), values).execute(&mut *guard),
            )
            .await?;
            Ok(())
        })
    }

    async fn cleanup(&self) -> Result<u64, StoreError> {
        let Some(_pass) = Pass::begin(&self.inner.cleaning) else {
            return Ok(0);
        };
        on_conn!(self, "cleanup", |guard| Ok(delete_expired!(self, guard)))
    }
}
