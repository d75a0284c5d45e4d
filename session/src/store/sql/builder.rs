//! Building an [`SqlStore`]: which pool, and the table it needs.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use session_config::Settings;
use sqlx::AssertSqlSafe;

use super::cleanup::DEFAULT_CLEANUP_BATCH;
use super::schema::SessionTable;
use super::{Dialect, Inner, SqlBinds, SqlPool, SqlStore};
use crate::store::cleanup_task::CleanupTask;
use crate::store::{BoxError, BuildError, StoreError, Timeouts};

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
    ///
    /// # Errors
    ///
    /// [`BuildError::Backend`], naming the database with any password
    /// redacted, when the bind key names no pool or URL, a URL is malformed
    /// or names a dialect that is not compiled in, the database cannot be
    /// reached within `connect_timeout`, or the table is missing and may not
    /// be created (or cannot be).
    pub async fn build(self) -> Result<SqlStore, BuildError> {
        let settings = &self.settings;
        // Whether the store built the pool (and so closes it at shutdown).
        let mut owns_pool = false;
        let (pool, location) = match (self.pool, &settings.sqlalchemy_bind_key) {
            (Some(pool), _) => (pool, "the app's pool".to_owned()),
            (None, Some(key)) => match (self.binds.get(key), settings.sqlalchemy_binds.get(key)) {
                (Some(pool), _) => (pool.clone(), format!("the pool bound as {key:?}")),
                (None, Some(url)) => {
                    owns_pool = true;
                    (SqlPool::connect(url, settings).await?, url.redacted())
                }
                (None, None) => {
                    let known: Vec<&str> = self
                        .binds
                        .names()
                        .chain(settings.sqlalchemy_binds.keys().map(String::as_str))
                        .collect();
                    return Err(BuildError::backend(
                        "sql",
                        format!("bind key {key:?}"),
                        format!(
                            "SESSION_SQLALCHEMY_BIND_KEY is {key:?}, but no pool is registered under that name and \
                             SESSION_SQLALCHEMY_BINDS has no such entry (known: {})",
                            if known.is_empty() { "none".to_owned() } else { known.join(", ") }
                        ),
                    ));
                }
            },
            (None, None) => {
                owns_pool = true;
                (
                    SqlPool::connect(&settings.sqlalchemy, settings).await?,
                    settings.sqlalchemy.redacted(),
                )
            }
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
        let store = SqlStore {
            inner: Arc::new(Inner {
                pool,
                owns_pool,
                table,
                backend: dialect.name(),
                timeouts: Timeouts::from_settings(settings),
                refresh_threshold: settings.refresh_threshold.clamp(0.0, 1.0),
                batch_size: self.batch_size,
                cleaning: AtomicBool::new(false),
                cleanup_task: CleanupTask::new(),
            }),
        };
        store
            .prepare(settings.sqlalchemy_create_table)
            .await
            .map_err(|source| BuildError::backend(dialect.name(), location, source))?;
        if let Some(every) = settings.cleanup_interval {
            store.spawn_cleanup(every);
        }
        Ok(store)
    }
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
    ///
    /// # Errors
    ///
    /// As [`SqlStoreBuilder::build`].
    pub async fn from_settings(settings: &Settings) -> Result<Self, BuildError> {
        Self::builder(settings).build().await
    }

    /// A store over the app's own pool, with the table and timeouts of the
    /// settings.
    ///
    /// # Errors
    ///
    /// As [`SqlStoreBuilder::build`].
    pub async fn from_client(
        pool: impl Into<SqlPool>, settings: &Settings,
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

    /// Ends the cleanup task (waiting until it has ended) and closes the
    /// pool, also when the app handed the pool over and shares it:
    /// [`SessionStore::shutdown`](crate::store::SessionStore::shutdown) closes
    /// only a pool the store built. Idempotent.
    pub async fn close(&self) {
        self.inner.cleanup_task.end().await;
        self.inner.pool.close().await;
    }

    /// Whether the periodic cleanup task (`SESSION_CLEANUP_INTERVAL`) is
    /// running: false when none was started, and after a shutdown.
    pub fn cleanup_running(&self) -> bool {
        self.inner.cleanup_task.is_running()
    }

    /// Checks for the table and creates what is missing, then the owner
    /// index beside it (`owners.rs`), also beside a table Flask made.
    async fn prepare(&self, create: bool) -> Result<(), BoxError> {
        self.prepare_sessions(create).await?;
        self.prepare_owners(create).await?;
        Ok(())
    }

    async fn prepare_sessions(&self, create: bool) -> Result<(), BoxError> {
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
        let name = self.inner.table.name().to_owned();
        self.table_named_exists(&name).await
    }

    /// Whether the table `name` exists in the sessions table's schema.
    pub(super) async fn table_named_exists(&self, name: &str) -> Result<bool, StoreError> {
        let (sql, values) = self.build(&self.inner.table.table_named_exists(name));
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
}
