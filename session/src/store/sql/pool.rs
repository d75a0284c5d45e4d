//! Pools and dialects: which database a URL names, connecting to it as the
//! settings say, the pools an app registers by name, and which driver errors
//! mean "unreachable".

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use session_config::{ConnectionUrl, Settings};

use crate::store::support::within;
use crate::store::{BoxError, BuildError};

/// Which database a store talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Dialect {
    /// PostgreSQL (`postgres://`, `postgresql://`).
    #[cfg(feature = "postgres")]
    Postgres,
    /// MySQL or MariaDB (`mysql://`, `mariadb://`).
    #[cfg(feature = "mysql")]
    MySql,
    /// SQLite (`sqlite:`).
    #[cfg(feature = "sqlite")]
    Sqlite,
}

impl Dialect {
    /// The backend name in logs and errors: `postgres`, `mysql` or `sqlite`.
    pub const fn name(self) -> &'static str {
        match self {
            #[cfg(feature = "postgres")]
            Dialect::Postgres => "postgres",
            #[cfg(feature = "mysql")]
            Dialect::MySql => "mysql",
            #[cfg(feature = "sqlite")]
            Dialect::Sqlite => "sqlite",
        }
    }

    /// The dialect a URL's scheme selects, or why there is none.
    fn from_url(url: &str) -> Result<Self, String> {
        let lower = url.to_ascii_lowercase();
        let (scheme, feature) =
            if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
                ("PostgreSQL", "postgres")
            } else if lower.starts_with("mysql://") || lower.starts_with("mariadb://") {
                ("MySQL", "mysql")
            } else if lower.starts_with("sqlite:") {
                ("SQLite", "sqlite")
            } else {
                return Err(
                    "expected a postgres://, postgresql://, mysql://, mariadb:// or sqlite: URL"
                        .to_owned(),
                );
            };
        match feature {
            #[cfg(feature = "postgres")]
            "postgres" => Ok(Dialect::Postgres),
            #[cfg(feature = "mysql")]
            "mysql" => Ok(Dialect::MySql),
            #[cfg(feature = "sqlite")]
            "sqlite" => Ok(Dialect::Sqlite),
            _ => Err(format!(
                "a {scheme} URL, but the `session` crate was built without its `{feature}` feature"
            )),
        }
    }
}

impl fmt::Display for Dialect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An sqlx pool of one of the supported databases. Build one from the app's
/// own pool with `From`, or let the store connect from the settings.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SqlPool {
    /// A PostgreSQL pool.
    #[cfg(feature = "postgres")]
    Postgres(sqlx::PgPool),
    /// A MySQL or MariaDB pool.
    #[cfg(feature = "mysql")]
    MySql(sqlx::MySqlPool),
    /// An SQLite pool.
    #[cfg(feature = "sqlite")]
    Sqlite(sqlx::SqlitePool),
}

#[cfg(feature = "postgres")]
impl From<sqlx::PgPool> for SqlPool {
    fn from(pool: sqlx::PgPool) -> Self {
        SqlPool::Postgres(pool)
    }
}

#[cfg(feature = "mysql")]
impl From<sqlx::MySqlPool> for SqlPool {
    fn from(pool: sqlx::MySqlPool) -> Self {
        SqlPool::MySql(pool)
    }
}

#[cfg(feature = "sqlite")]
impl From<sqlx::SqlitePool> for SqlPool {
    fn from(pool: sqlx::SqlitePool) -> Self {
        SqlPool::Sqlite(pool)
    }
}

impl SqlPool {
    /// The database this pool talks to.
    pub fn dialect(&self) -> Dialect {
        match self {
            #[cfg(feature = "postgres")]
            SqlPool::Postgres(_) => Dialect::Postgres,
            #[cfg(feature = "mysql")]
            SqlPool::MySql(_) => Dialect::MySql,
            #[cfg(feature = "sqlite")]
            SqlPool::Sqlite(_) => Dialect::Sqlite,
        }
    }

    /// Closes the pool: waits for checked-out connections to come back and
    /// closes every connection. Clones share the pool.
    pub async fn close(&self) {
        match self {
            #[cfg(feature = "postgres")]
            SqlPool::Postgres(pool) => pool.close().await,
            #[cfg(feature = "mysql")]
            SqlPool::MySql(pool) => pool.close().await,
            #[cfg(feature = "sqlite")]
            SqlPool::Sqlite(pool) => pool.close().await,
        }
    }

    /// Whether the pool has been closed ([`SqlPool::close`], or a store's
    /// shutdown): it then hands out no connection.
    pub fn is_closed(&self) -> bool {
        match self {
            #[cfg(feature = "postgres")]
            SqlPool::Postgres(pool) => pool.is_closed(),
            #[cfg(feature = "mysql")]
            SqlPool::MySql(pool) => pool.is_closed(),
            #[cfg(feature = "sqlite")]
            SqlPool::Sqlite(pool) => pool.is_closed(),
        }
    }

    /// Connects to `url` as the settings say (`SESSION_POOL_SIZE`,
    /// `SESSION_CONNECT_TIMEOUT`, `SESSION_OPERATION_TIMEOUT`), opening one
    /// connection to prove the database is reachable.
    ///
    /// # Errors
    ///
    /// [`BuildError::Backend`], naming the URL with its password redacted,
    /// when the URL names no compiled-in dialect or the database cannot be
    /// reached within `connect_timeout`.
    pub async fn connect(url: &ConnectionUrl, settings: &Settings) -> Result<Self, BuildError> {
        let dialect = Dialect::from_url(url.as_str())
            .map_err(|message| BuildError::backend("sql", url.redacted(), message))?;
        let fail = |source: BoxError| BuildError::backend(dialect.name(), url.redacted(), source);
        let connect_timeout = settings.connect_timeout;
        let size = settings.pool_size;
        let connecting = async {
            Ok::<_, sqlx::Error>(match dialect {
                #[cfg(feature = "postgres")]
                Dialect::Postgres => {
                    let options = sqlx::postgres::PgConnectOptions::from_str(url.as_str())?
                        .options([(
                            "statement_timeout",
                            settings.operation_timeout.as_millis().to_string(),
                        )]);
                    SqlPool::Postgres(probed(options, size, connect_timeout).await?)
                }
                #[cfg(feature = "mysql")]
                Dialect::MySql => {
                    let options = sqlx::mysql::MySqlConnectOptions::from_str(url.as_str())?;
                    SqlPool::MySql(probed(options, size, connect_timeout).await?)
                }
                #[cfg(feature = "sqlite")]
                Dialect::Sqlite => {
                    let options = sqlx::sqlite::SqliteConnectOptions::from_str(url.as_str())?
                        .busy_timeout(settings.operation_timeout);
                    let lower = url.as_str().to_ascii_lowercase();
                    let in_memory = lower.contains(":memory:") || lower.contains("mode=memory");
                    let mut pool =
                        sqlx::sqlite::SqlitePoolOptions::new().acquire_timeout(connect_timeout);
                    pool = if in_memory {
                        // The database lives as long as its one connection.
                        pool.max_connections(1)
                            .min_connections(1)
                            .idle_timeout(None)
                            .max_lifetime(None)
                    } else {
                        pool.max_connections(size.unwrap_or(10))
                    };
                    SqlPool::Sqlite(pool.connect_with(options).await?)
                }
            })
        };
        within(dialect.name(), connect_timeout, connecting)
            .await
            .map_err(|timed_out| fail(timed_out.into()))?
            .map_err(|error| fail(error.into()))
    }
}

/// A pool of `size` connections (10 by default) that connects lazily, once
/// one connection has been opened and closed, so that start-up reports why
/// the database cannot be reached (a pool only says that it timed out).
#[cfg(any(feature = "postgres", feature = "mysql"))]
async fn probed<DB: sqlx::Database>(
    options: <DB::Connection as sqlx::Connection>::Options, size: Option<u32>,
    acquire_timeout: std::time::Duration,
) -> Result<sqlx::Pool<DB>, sqlx::Error> {
    use sqlx::Connection;
    DB::Connection::connect_with(&options)
        .await?
        .close()
        .await?;
    Ok(sqlx::pool::PoolOptions::<DB>::new()
        .max_connections(size.unwrap_or(10))
        .acquire_timeout(acquire_timeout)
        .connect_lazy_with(options))
}

/// Pools the app registered by name, for `SESSION_SQLALCHEMY_BIND_KEY` (the
/// Rust form of Flask-SQLAlchemy's binds).
#[derive(Debug, Clone, Default)]
pub struct SqlBinds {
    pub(super) pools: BTreeMap<String, SqlPool>,
}

impl SqlBinds {
    /// No pools.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `pool` under `name`, replacing any pool of that name.
    pub fn with(mut self, name: impl Into<String>, pool: impl Into<SqlPool>) -> Self {
        self.insert(name, pool);
        self
    }

    /// Adds `pool` under `name`; returns the pool it replaces.
    pub fn insert(&mut self, name: impl Into<String>, pool: impl Into<SqlPool>) -> Option<SqlPool> {
        self.pools.insert(name.into(), pool.into())
    }

    /// The pool registered under `name`.
    pub fn get(&self, name: &str) -> Option<&SqlPool> {
        self.pools.get(name)
    }

    /// The registered names, in order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.pools.keys().map(String::as_str)
    }
}

/// Whether an error means "the database cannot be reached now" (503) rather
/// than "it answered with a failure" (500).
pub(super) fn is_unavailable(dialect: Dialect, error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => match dialect {
            // Connection exceptions (08), insufficient resources (53),
            // operator intervention: shutdown, statement_timeout (57),
            // lock timeout, serialization failure and deadlock.
            #[cfg(feature = "postgres")]
            Dialect::Postgres => db.code().is_some_and(|code| {
                code.starts_with("08")
                    || code.starts_with("53")
                    || code.starts_with("57")
                    || matches!(&*code, "55P03" | "40001" | "40P01")
            }),
            // By the server's error number: MySQL's `code()` is the SQLSTATE,
            // which is the catch-all `HY000` for most of these. Too many
            // connections, shutdown, lock wait timeout, deadlock, a statement
            // interrupted (`KILL QUERY`), connection killed, statement time
            // limits (MariaDB's, MySQL's).
            #[cfg(feature = "mysql")]
            Dialect::MySql => db
                .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
                .is_some_and(|db| {
                    matches!(
                        db.number(),
                        1040 | 1053 | 1205 | 1213 | 1317 | 1927 | 1969 | 3024
                    )
                }),
            // SQLITE_BUSY and SQLITE_LOCKED, with their extended codes.
            #[cfg(feature = "sqlite")]
            Dialect::Sqlite => db
                .code()
                .and_then(|code| code.parse::<u32>().ok())
                .is_some_and(|code| matches!(code & 0xff, 5 | 6)),
        },
        _ => false,
    }
}
