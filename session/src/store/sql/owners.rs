//! The owner index (design §12): a table of our own beside Flask's,
//! `<table>_owners`, so Flask's table stays exactly as Flask-Session makes
//! it and a Flask app sharing it never sees the index.
//!
//! | column         | PostgreSQL     | MySQL / MariaDB                         | SQLite         |
//! |----------------|----------------|-----------------------------------------|----------------|
//! | `owner_digest` | —              | `BINARY(20)`, SHA-1 of `owner`          | —              |
//! | `owner`        | `TEXT`         | `VARCHAR(1024)` `utf8mb4_bin`           | `TEXT`         |
//! | `session_id`   | `VARCHAR(255)` | `VARCHAR(255)`, the sessions column's collation | `VARCHAR(255)` |
//! | `created`      | `BIGINT`, unix seconds of the login, on all three |        |                |
//!
//! The primary key is `(owner, session_id)`, on MySQL `(owner_digest,
//! session_id)`: its leading column indexes the owner, and with no
//! auto-increment id an upsert burns nothing. MySQL cannot index a
//! `VARCHAR(1024)` of `utf8mb4` whole (4,096 bytes against InnoDB's 3,072),
//! and a prefix index would make two owners that share 255 characters one
//! key; the digest is exact, and every statement also compares `owner`
//! itself, so a digest collision can never show one owner another's
//! sessions. MySQL's `session_id` takes the character set and collation of
//! the sessions table's own, read at creation: a Flask-made table has the
//! database's defaults (`latin1_swedish_ci` on a stock MariaDB), and joined
//! on a `utf8mb4` column MariaDB 10.11 cannot use its unique index (measured:
//! a scan of the whole sessions table per listing). One collation also means
//! the index matches keys exactly as Flask's lookups do.
//!
//! - **add**: one upsert (`ON CONFLICT … DO UPDATE` / `ON DUPLICATE KEY
//!   UPDATE`) of `created`.
//! - **remove**: one `DELETE` of the `(owner, session_id)` row.
//! - **list**: one `SELECT` of the owner's rows left-joined with their live
//!   sessions (`expiry > now`), which gives each `expires`. Only when a row
//!   had no live session, one `DELETE … WHERE NOT EXISTS (live session)`
//!   prunes the owner's dead rows; re-checking there means a row added since
//!   the `SELECT` is never lost.
//! - **cleanup** ends with one `DELETE … WHERE NOT EXISTS (live session)`
//!   over the whole index, for owners nobody lists.
//!
//! The lifecycle writes a record before indexing it, so a pruning statement
//! never races a login into dropping its fresh row.
//!
//! The table is created beside the sessions table at start-up, in its schema,
//! when missing, even if the sessions table already exists (made by Flask).
//! With `SESSION_SQLALCHEMY_CREATE_TABLE = false` nothing is created: a
//! missing index table logs a warning at start-up, and the index operations
//! (login, logout, listing) fail until it exists.

use sea_query::{
    Alias, ColumnDef, ColumnName, DeleteStatement, Expr, ExprTrait, Index, InsertStatement,
    JoinType, OnConflict, Query, SelectStatement, Table, TableCreateStatement, TableName, Value,
};
use sha1::{Digest, Sha1};
use sqlx::AssertSqlSafe;
use time::PrimitiveDateTime;

use super::exec::now_utc;
use super::schema::{hex_digest, SessionTable, EXPIRY, SESSION_ID};
#[cfg(any(feature = "mysql", feature = "postgres"))]
use super::Dialect;
use super::{SqlPool, SqlStore};
use crate::store::{from_unix_seconds, unix_seconds, IndexedSession, StoreError};

pub(super) const OWNER: &str = "owner";
#[cfg(feature = "mysql")]
pub(super) const OWNER_DIGEST: &str = "owner_digest";
pub(super) const CREATED: &str = "created";

/// The aliases of the listing's join.
const O: &str = "o";
const S: &str = "s";

/// A row of a listing: the key, when its owner logged in, and its session's
/// expiry (`NULL` when the session is gone).
type ListedRow = (String, i64, Option<PrimitiveDateTime>);

impl SessionTable {
    /// `<table>_owners`, or for a table name too long for that to fit the
    /// 63-character identifier limit, a prefix of it and a digest of the whole.
    pub(super) fn owners_name(&self) -> String {
        let name = format!("{}_owners", self.name());
        if name.len() <= 63 {
            return name;
        }
        format!(
            "{}_{}_owners",
            &self.name()[..40],
            &hex_digest(self.name().as_bytes())[..12]
        )
    }

    /// The index table, in the sessions table's schema.
    pub(super) fn owners_table(&self) -> TableName {
        self.qualified(self.owners_name())
    }

    /// `schema.owners`, unquoted, for logs.
    pub(super) fn owners_display_name(&self) -> String {
        match self.schema() {
            Some(schema) => format!("{schema}.{}", self.owners_name()),
            None => self.owners_name(),
        }
    }

    /// The index table (see the module docs). `session_collation` is MySQL's
    /// `(character set, collation)` of the sessions table's `session_id`,
    /// when known.
    pub(super) fn create_owners_table(
        &self, session_collation: Option<(&str, &str)>,
    ) -> TableCreateStatement {
        let mut owner = ColumnDef::new(OWNER);
        let mut session_id = ColumnDef::new(SESSION_ID);
        let mut created = ColumnDef::new(CREATED);
        created.custom("BIGINT").not_null();
        let mut create = Table::create();
        create.table(self.owners_table()).if_not_exists();
        let mut key = Index::create();
        match self.dialect {
            #[cfg(feature = "mysql")]
            Dialect::MySql => {
                let (charset, collation) = session_collation.unwrap_or(("utf8mb4", "utf8mb4_bin"));
                owner
                    .custom("VARCHAR(1024) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
                    .not_null();
                session_id
                    .custom(format!(
                        "VARCHAR(255) CHARACTER SET {charset} COLLATE {collation}"
                    ))
                    .not_null();
                let mut digest = ColumnDef::new(OWNER_DIGEST);
                digest.custom("BINARY(20)").not_null();
                create.col(digest);
                key.col(OWNER_DIGEST);
            }
            #[allow(unreachable_patterns)]
            _ => {
                let _ = session_collation;
                owner.custom("TEXT").not_null();
                session_id.custom("VARCHAR(255)").not_null();
                key.col(OWNER);
            }
        }
        key.col(SESSION_ID);
        create
            .col(owner)
            .col(session_id)
            .col(created)
            .primary_key(&mut key);
        create
    }

    /// The rows of `owner` in the table known as `table` (`None`: by its
    /// name): the digest first on MySQL, where it is the key, and the owner
    /// itself always.
    fn owned_by(&self, table: Option<&str>, owner: &str) -> Expr {
        let col = |name: &str| -> Expr {
            match table {
                Some(alias) => Expr::col((Alias::new(alias), Alias::new(name))),
                None => Expr::col(Alias::new(name)),
            }
        };
        let same_owner = col(OWNER).eq(owner);
        match self.dialect {
            #[cfg(feature = "mysql")]
            Dialect::MySql => col(OWNER_DIGEST).eq(owner_digest(owner)).and(same_owner),
            #[allow(unreachable_patterns)]
            _ => same_owner,
        }
    }

    /// Inserts the `(owner, key)` row, or replaces its `created`.
    pub(super) fn add_owned(&self, owner: &str, key: &str, created: i64) -> InsertStatement {
        let mut insert = Query::insert();
        insert.into_table(self.owners_table());
        // MySQL adds its digest column.
        #[cfg_attr(not(feature = "mysql"), allow(unused_mut))]
        let mut columns = vec![OWNER, SESSION_ID, CREATED];
        #[cfg_attr(not(feature = "mysql"), allow(unused_mut))]
        let mut row: Vec<Expr> = vec![Expr::val(owner), Expr::val(key), Expr::val(created)];
        #[cfg(feature = "mysql")]
        if self.dialect == Dialect::MySql {
            columns.push(OWNER_DIGEST);
            row.push(Expr::val(owner_digest(owner)));
        }
        insert.columns(columns).values_panic(row);
        // The conflict target is PostgreSQL's and SQLite's primary key;
        // MySQL's ON DUPLICATE KEY has none.
        insert.on_conflict(
            OnConflict::columns([OWNER, SESSION_ID])
                .update_column(CREATED)
                .to_owned(),
        );
        insert
    }

    /// Deletes the `(owner, key)` row.
    pub(super) fn remove_owned(&self, owner: &str, key: &str) -> DeleteStatement {
        Query::delete()
            .from_table(self.owners_table())
            .cond_where(self.owned_by(None, owner))
            .and_where(Expr::col(SESSION_ID).eq(key))
            .to_owned()
    }

    /// The owner's rows with their session's expiry, `NULL` when the session
    /// is gone or expired:
    ///
    /// ```sql
    /// SELECT o.session_id, o.created, s.expiry FROM t_owners AS o
    ///   LEFT JOIN t AS s ON s.session_id = o.session_id AND s.expiry > ?
    ///   WHERE o.owner = ?
    /// ```
    pub(super) fn list_owned(&self, owner: &str, now: &Value) -> SelectStatement {
        let live = Expr::col((Alias::new(S), Alias::new(SESSION_ID)))
            .equals((Alias::new(O), Alias::new(SESSION_ID)))
            .and(Expr::col((Alias::new(S), Alias::new(EXPIRY))).gt(now.clone()));
        Query::select()
            .column((Alias::new(O), Alias::new(SESSION_ID)))
            .column((Alias::new(O), Alias::new(CREATED)))
            .column((Alias::new(S), Alias::new(EXPIRY)))
            .from_as(self.owners_table(), Alias::new(O))
            .join_as(JoinType::LeftJoin, self.table_name(), Alias::new(S), live)
            .cond_where(self.owned_by(Some(O), owner))
            .to_owned()
    }

    /// Deletes the index rows (of `owner`, or of everyone) whose session is
    /// gone or expired:
    ///
    /// ```sql
    /// DELETE FROM t_owners WHERE [owner = ? AND] NOT EXISTS
    ///   (SELECT 1 FROM t WHERE t.session_id = t_owners.session_id AND t.expiry > ?)
    /// ```
    ///
    /// The outer table is named in full: MariaDB 10.11 takes no alias in a
    /// single-table `DELETE`.
    pub(super) fn prune_owned(&self, owner: Option<&str>, now: &Value) -> DeleteStatement {
        let outer = ColumnName(Some(self.owners_table()), Alias::new(SESSION_ID).into());
        let inner = ColumnName(Some(self.table_name()), Alias::new(SESSION_ID).into());
        let live = Query::select()
            .expr(Expr::cust("1"))
            .from(self.table_name())
            .and_where(Expr::col(inner).equals(outer))
            .and_where(
                Expr::col(ColumnName(
                    Some(self.table_name()),
                    Alias::new(EXPIRY).into(),
                ))
                .gt(now.clone()),
            )
            .to_owned();
        let mut delete = Query::delete();
        delete.from_table(self.owners_table());
        if let Some(owner) = owner {
            delete.cond_where(self.owned_by(None, owner));
        }
        delete.and_where(Expr::not_exists(live));
        delete
    }

    /// MySQL's `(character set, collation)` of the sessions table's
    /// `session_id` column.
    #[cfg(feature = "mysql")]
    pub(super) fn session_id_collation(&self) -> SelectStatement {
        let schema = match self.schema() {
            Some(schema) => Expr::val(schema.to_owned()),
            None => sea_query::Func::cust("DATABASE").into(),
        };
        Query::select()
            .expr(Expr::col("character_set_name").cast_as("CHAR"))
            .expr(Expr::col("collation_name").cast_as("CHAR"))
            .from(TableName(
                Some(sea_query::SchemaName(None, "information_schema".into())),
                "columns".into(),
            ))
            .and_where(Expr::col("table_schema").eq(schema))
            .and_where(Expr::col("table_name").eq(self.name().to_owned()))
            .and_where(Expr::col("column_name").eq(SESSION_ID))
            .to_owned()
    }
}

/// The SHA-1 of the owner, MySQL's key column.
#[cfg_attr(not(feature = "mysql"), allow(dead_code))]
fn owner_digest(owner: &str) -> Vec<u8> {
    Sha1::digest(owner.as_bytes()).to_vec()
}

/// Whether a character-set or collation name read from the server is a plain
/// identifier, safe to write into `CREATE TABLE`.
#[cfg(feature = "mysql")]
fn plain_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl SqlStore {
    /// Whether `owner` cannot be stored: PostgreSQL's text holds no NUL
    /// character, so such an owner can have no row (and its listing is empty).
    fn unstorable(&self, owner: &str) -> bool {
        #[cfg(feature = "postgres")]
        if self.inner.table.dialect == Dialect::Postgres {
            return owner.contains('\0');
        }
        let _ = owner;
        false
    }

    /// See [`crate::store::SessionStore::add_owned`].
    pub(super) async fn index_add(
        &self, owner: &str, key: &str, created: std::time::SystemTime,
    ) -> Result<(), StoreError> {
        if self.unstorable(owner) {
            return Err(StoreError::failed(
                self.inner.backend,
                "index",
                "the owner holds a NUL character, which PostgreSQL text cannot store",
            ));
        }
        let statement = self
            .inner
            .table
            .add_owned(owner, key, unix_seconds(created));
        let (sql, values) = self.build(&statement);
        self.execute("index", sql, values).await.map(drop)
    }

    /// See [`crate::store::SessionStore::remove_owned`].
    pub(super) async fn index_remove(&self, owner: &str, key: &str) -> Result<(), StoreError> {
        if self.unstorable(owner) {
            return Ok(());
        }
        let (sql, values) = self.build(&self.inner.table.remove_owned(owner, key));
        self.execute("index", sql, values).await.map(drop)
    }

    /// See [`crate::store::SessionStore::list_owned`].
    pub(super) async fn index_list(&self, owner: &str) -> Result<Vec<IndexedSession>, StoreError> {
        if self.unstorable(owner) {
            return Ok(Vec::new());
        }
        let table = &self.inner.table;
        let now = table.stamp(now_utc());
        let (sql, values) = self.build(&table.list_owned(owner, &now));
        let rows: Vec<ListedRow> = on_conn!(self, "index", |guard| {
            self.timed(
                "index",
                sqlx::query_as_with(AssertSqlSafe(sql), values).fetch_all(&mut *guard),
            )
            .await?
        });
        let mut live = Vec::with_capacity(rows.len());
        let mut dead = false;
        for (key, created, expiry) in rows {
            match expiry {
                Some(expiry) => live.push(IndexedSession::new(
                    key,
                    from_unix_seconds(created),
                    Some(expiry.assume_utc().into()),
                )),
                None => dead = true,
            }
        }
        if dead {
            let (sql, values) = self.build(&table.prune_owned(Some(owner), &now));
            self.execute("index", sql, values).await?;
        }
        Ok(live)
    }

    /// Creates the index table when it is missing and `create` allows it;
    /// otherwise warns that the index operations will fail.
    pub(super) async fn prepare_owners(&self, create: bool) -> Result<(), StoreError> {
        let table = &self.inner.table;
        let name = table.owners_name();
        if self.table_named_exists(&name).await? {
            return Ok(());
        }
        if !create {
            tracing::warn!(
                backend = self.inner.backend,
                table = %table.owners_display_name(),
                "the owner index table does not exist and SESSION_SQLALCHEMY_CREATE_TABLE is off: \
                 logins, logouts and session listings will fail until it is created"
            );
            return Ok(());
        }
        let collation = self.session_id_collation().await?;
        let borrowed = collation
            .as_ref()
            .map(|(charset, collation)| (charset.as_str(), collation.as_str()));
        let sql = self.build_schema(&table.create_owners_table(borrowed));
        let created = on_conn!(self, "prepare", |guard| {
            self.timed_sqlx(
                "prepare",
                sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut *guard),
            )
            .await?
            .map(drop)
        });
        match created {
            Ok(_) => Ok(()),
            // Another instance starting at the same time may have won a race
            // on PostgreSQL's catalog.
            Err(error) if self.table_named_exists(&name).await.unwrap_or(false) => {
                tracing::debug!(%error, "owner index table created concurrently");
                Ok(())
            }
            Err(error) => Err(self.error("prepare", error)),
        }
    }

    /// MySQL's `(character set, collation)` of `session_id` in the sessions
    /// table, when it reads as plain names; `None` on other dialects.
    async fn session_id_collation(&self) -> Result<Option<(String, String)>, StoreError> {
        #[cfg(feature = "mysql")]
        if self.inner.table.dialect == Dialect::MySql {
            let (sql, values) = self.build(&self.inner.table.session_id_collation());
            let row: Option<(Option<String>, Option<String>)> =
                on_conn!(self, "prepare", |guard| {
                    self.timed(
                        "prepare",
                        sqlx::query_as_with(AssertSqlSafe(sql), values).fetch_optional(&mut *guard),
                    )
                    .await?
                });
            return Ok(match row {
                Some((Some(charset), Some(collation)))
                    if plain_name(&charset) && plain_name(&collation) =>
                {
                    Some((charset, collation))
                }
                _ => None,
            });
        }
        Ok(None)
    }
}
