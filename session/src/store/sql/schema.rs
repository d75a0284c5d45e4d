//! The session table and every statement the SQL store runs, built with
//! sea-query for the exact dialect. Identifiers come from validated
//! [`SqlIdentifier`]s and are still quoted (and escaped) by sea-query; every
//! value is a bound parameter. Nothing is spliced into SQL text.

#[cfg(any(feature = "postgres", feature = "mysql"))]
use sea_query::Index;
use sea_query::{
    Alias, Asterisk, ColumnDef, DeleteStatement, Expr, ExprTrait, Func, InsertStatement, Query,
    SchemaName, SelectStatement, Table, TableCreateStatement, TableName, UpdateStatement, Value,
};
#[cfg(feature = "postgres")]
use sea_query::{CommonTableExpression, WithClause, WithQuery};
use session_config::SqlIdentifier;
use sha1::{Digest, Sha1};
use time::PrimitiveDateTime;

use super::Dialect;

const ID: &str = "id";
const SESSION_ID: &str = "session_id";
const DATA: &str = "data";
const EXPIRY: &str = "expiry";
/// The alias of the touch-window flag in [`SessionTable::select_for_touch`].
pub(super) const DUE: &str = "due";

/// The session table: where it lives and how its ids are made.
#[derive(Debug, Clone)]
pub(super) struct SessionTable {
    pub(super) dialect: Dialect,
    schema: Option<String>,
    name: String,
    /// A named PostgreSQL sequence for `id`; ignored elsewhere, as SQLAlchemy
    /// ignores `Sequence` on MySQL and SQLite.
    sequence: Option<String>,
}

impl SessionTable {
    pub(super) fn new(
        dialect: Dialect,
        name: &SqlIdentifier,
        schema: Option<&SqlIdentifier>,
        sequence: Option<&SqlIdentifier>,
    ) -> Self {
        let sequence = match dialect {
            #[cfg(feature = "postgres")]
            Dialect::Postgres => sequence.map(|s| s.as_str().to_owned()),
            #[allow(unreachable_patterns)]
            _ => sequence.and(None),
        };
        Self {
            dialect,
            schema: schema.map(|s| s.as_str().to_owned()),
            name: name.as_str().to_owned(),
            sequence,
        }
    }

    /// Whether inserts draw `id` from a named sequence.
    pub(super) fn uses_sequence(&self) -> bool {
        self.sequence.is_some()
    }

    /// `schema.table`, unquoted, for logs and lock names.
    pub(super) fn display_name(&self) -> String {
        match &self.schema {
            Some(schema) => format!("{schema}.{}", self.name),
            None => self.name.clone(),
        }
    }

    fn table_name(&self) -> TableName {
        TableName(
            self.schema
                .as_ref()
                .map(|s| SchemaName(None, Alias::new(s.clone()).into())),
            Alias::new(self.name.clone()).into(),
        )
    }

    /// A deterministic index name within the 63/64-character identifier
    /// limits: `ix_<table>_expiry`, or a hashed form for long table names.
    fn expiry_index_name(&self) -> String {
        let name = format!("ix_{}_expiry", self.name);
        if name.len() <= 63 {
            return name;
        }
        format!(
            "ix_{}_{}_expiry",
            &self.name[..40],
            &hex_digest(self.name.as_bytes())[..12]
        )
    }

    /// The key of this table's cross-instance cleanup lock: PostgreSQL takes
    /// a `bigint`, MySQL a name of at most 64 characters.
    #[cfg(any(feature = "postgres", feature = "mysql"))]
    fn lock_digest(&self) -> [u8; 20] {
        let mut hasher = Sha1::new();
        hasher.update(b"session-cleanup:");
        hasher.update(self.display_name().as_bytes());
        hasher.finalize().into()
    }

    // ---------------------------------------------------------------- DDL

    /// `CREATE SEQUENCE IF NOT EXISTS "seq"` (PostgreSQL only). sea-query has
    /// no sequence statement; the identifier is quoted by its builder. Like
    /// SQLAlchemy's `Sequence`, it is not qualified with the table's schema:
    /// it resolves through the `search_path`, so a Flask app and this store
    /// configured alike draw ids from the same sequence.
    #[cfg(feature = "postgres")]
    pub(super) fn create_sequence(&self) -> Option<String> {
        use sea_query::{PostgresQueryBuilder, QuotedBuilder};
        let sequence = self.sequence.as_ref()?;
        let mut sql = String::from("CREATE SEQUENCE IF NOT EXISTS ");
        PostgresQueryBuilder.prepare_iden(&Alias::new(sequence.clone()).into(), &mut sql);
        Some(sql)
    }

    /// The sequence as a `regclass` expression: `CAST('"seq"' AS regclass)`.
    fn sequence_regclass(&self) -> Option<Expr> {
        let sequence = self.sequence.as_ref()?;
        let quoted = format!("\"{}\"", sequence.replace('"', "\"\""));
        Some(Expr::val(quoted).cast_as("regclass"))
    }

    /// Flask-Session's table: `id` (BIGINT in tables we create), `session_id`
    /// VARCHAR(255) UNIQUE, `data` binary, `expiry` naive-UTC timestamp.
    pub(super) fn create_table(&self) -> TableCreateStatement {
        let mut id = ColumnDef::new(ID);
        let mut session_id = ColumnDef::new(SESSION_ID);
        let mut data = ColumnDef::new(DATA);
        let mut expiry = ColumnDef::new(EXPIRY);
        session_id.unique_key();
        let mut create = Table::create();
        create.table(self.table_name()).if_not_exists();
        match self.dialect {
            #[cfg(feature = "postgres")]
            Dialect::Postgres => {
                match self.sequence_regclass() {
                    Some(regclass) => {
                        id.custom("BIGINT")
                            .not_null()
                            .default(Func::cust("nextval").arg(regclass));
                    }
                    None => {
                        id.custom("BIGSERIAL").not_null();
                    }
                }
                session_id.custom("VARCHAR(255)");
                data.custom("BYTEA");
                expiry.custom("TIMESTAMP WITHOUT TIME ZONE");
            }
            #[cfg(feature = "mysql")]
            Dialect::MySql => {
                id.custom("BIGINT").not_null().auto_increment();
                // Sids are case-sensitive: a `_ci` default collation would let
                // `abc` find `ABC`'s row.
                session_id.custom("VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin");
                // MEDIUMBLOB (16 MiB): BLOB holds 65,535 bytes, one less than the
                // default 64 KiB max_session_bytes, and would cap a raised limit.
                data.custom("MEDIUMBLOB");
                expiry.custom("DATETIME(6)");
                create.index(Index::create().name(self.expiry_index_name()).col(EXPIRY));
            }
            #[cfg(feature = "sqlite")]
            Dialect::Sqlite => {
                // Only `INTEGER PRIMARY KEY` aliases SQLite's 64-bit rowid; a
                // `BIGINT` primary key would not be filled in by an insert.
                id.custom("INTEGER").not_null();
                session_id.custom("VARCHAR(255)");
                data.custom("BLOB");
                expiry.custom("DATETIME");
            }
        }
        id.primary_key();
        create.col(id).col(session_id).col(data).col(expiry);
        create
    }

    /// `CREATE INDEX IF NOT EXISTS` on `expiry`, for PostgreSQL and SQLite;
    /// MySQL declares it inside `CREATE TABLE`, having no `IF NOT EXISTS` here.
    /// SQLite qualifies the index, not the table (`CREATE INDEX s.ix ON t`),
    /// which sea-query does not express, so that one is written here with
    /// sea-query's identifier quoting.
    pub(super) fn create_expiry_index(&self) -> Option<String> {
        match self.dialect {
            #[cfg(feature = "postgres")]
            Dialect::Postgres => Some(
                Index::create()
                    .if_not_exists()
                    .name(self.expiry_index_name())
                    .table(self.table_name())
                    .col(EXPIRY)
                    .to_string(sea_query::PostgresQueryBuilder),
            ),
            #[cfg(feature = "mysql")]
            Dialect::MySql => None,
            #[cfg(feature = "sqlite")]
            Dialect::Sqlite => {
                use sea_query::{QuotedBuilder, SqliteQueryBuilder};
                let quote = |sql: &mut String, ident: &str| {
                    SqliteQueryBuilder.prepare_iden(&Alias::new(ident.to_owned()).into(), sql);
                };
                let mut sql = String::from("CREATE INDEX IF NOT EXISTS ");
                if let Some(schema) = &self.schema {
                    quote(&mut sql, schema);
                    sql.push('.');
                }
                quote(&mut sql, &self.expiry_index_name());
                sql.push_str(" ON ");
                quote(&mut sql, &self.name);
                sql.push_str(" (");
                quote(&mut sql, EXPIRY);
                sql.push(')');
                Some(sql)
            }
        }
    }

    /// A query counting 1 when the table exists where unqualified statements
    /// will find it, 0 otherwise. PostgreSQL resolves the name like the
    /// statements do (`to_regclass`, through the `search_path`); MySQL looks in
    /// the schema or the current database; SQLite in the schema's
    /// `sqlite_master` (`main` by default).
    pub(super) fn table_exists(&self) -> SelectStatement {
        match self.dialect {
            #[cfg(feature = "postgres")]
            Dialect::Postgres => {
                let mut qualified = String::new();
                {
                    use sea_query::{PostgresQueryBuilder, QuotedBuilder};
                    if let Some(schema) = &self.schema {
                        PostgresQueryBuilder
                            .prepare_iden(&Alias::new(schema.clone()).into(), &mut qualified);
                        qualified.push('.');
                    }
                    PostgresQueryBuilder
                        .prepare_iden(&Alias::new(self.name.clone()).into(), &mut qualified);
                }
                Query::select()
                    .expr(Func::count(Expr::col(Asterisk)))
                    .from(TableName(Some(SchemaName(None, "pg_catalog".into())), "pg_class".into()))
                    .and_where(
                        Expr::col(Alias::new("oid"))
                            .eq(Func::cust("to_regclass").arg(Expr::val(qualified).cast_as("text"))),
                    )
                    .to_owned()
            }
            #[cfg(feature = "mysql")]
            Dialect::MySql => {
                let schema = match &self.schema {
                    Some(schema) => Expr::val(schema.clone()),
                    None => Func::cust("DATABASE").into(),
                };
                Query::select()
                    .expr(Func::count(Expr::col(Asterisk)))
                    .from(TableName(
                        Some(SchemaName(None, "information_schema".into())),
                        "tables".into(),
                    ))
                    .and_where(Expr::col("table_schema").eq(schema))
                    .and_where(Expr::col("table_name").eq(self.name.clone()))
                    .to_owned()
            }
            #[cfg(feature = "sqlite")]
            Dialect::Sqlite => {
                let schema = self.schema.clone().unwrap_or_else(|| "main".to_owned());
                Query::select()
                    .expr(Func::count(Expr::col(Asterisk)))
                    .from(TableName(
                        Some(SchemaName(None, Alias::new(schema).into())),
                        "sqlite_master".into(),
                    ))
                    .and_where(Expr::col("type").eq("table"))
                    .and_where(Expr::col("name").eq(self.name.clone()))
                    .to_owned()
            }
        }
    }

    // ---------------------------------------------------------------- DML

    /// The naive-UTC timestamp as this dialect binds it: SQLite stores
    /// SQLAlchemy's text form, which Flask compares as text; PostgreSQL and
    /// MySQL take a typed timestamp.
    pub(super) fn stamp(&self, at: PrimitiveDateTime) -> Value {
        match self.dialect {
            #[cfg(feature = "sqlite")]
            Dialect::Sqlite => Value::String(Some(sqlite_text(at))),
            #[allow(unreachable_patterns)]
            _ => Value::TimeDateTime(Some(at)),
        }
    }

    fn live(&self, key: &str, now: &Value) -> Expr {
        Expr::col(SESSION_ID)
            .eq(key)
            .and(Expr::col(EXPIRY).gt(now.clone()))
    }

    /// `SELECT data FROM t WHERE session_id = ? AND expiry > now`: an expired
    /// or NULL-expiry row is a miss (and is left for cleanup).
    pub(super) fn select_live(&self, key: &str, now: &Value) -> SelectStatement {
        Query::select()
            .column(DATA)
            .from(self.table_name())
            .and_where(self.live(key, now))
            .to_owned()
    }

    /// Like [`SessionTable::select_live`], with a flag `due` telling whether the
    /// expiry is inside the touch window (`expiry <= touch_before`).
    pub(super) fn select_for_touch(
        &self,
        key: &str,
        now: &Value,
        touch_before: &Value,
    ) -> SelectStatement {
        Query::select()
            .column(DATA)
            .expr_as(Expr::col(EXPIRY).lte(touch_before.clone()), DUE)
            .from(self.table_name())
            .and_where(self.live(key, now))
            .to_owned()
    }

    /// The conditional touch: only a live row inside the touch window is
    /// written.
    pub(super) fn touch_if_due(
        &self,
        key: &str,
        now: &Value,
        touch_before: &Value,
        expiry: &Value,
    ) -> UpdateStatement {
        Query::update()
            .table(self.table_name())
            .value(EXPIRY, expiry.clone())
            .and_where(self.live(key, now))
            .and_where(Expr::col(EXPIRY).lte(touch_before.clone()))
            .to_owned()
    }

    /// PostgreSQL's one-round-trip sliding read:
    ///
    /// ```sql
    /// WITH "touched" AS (UPDATE t SET expiry = $new
    ///                    WHERE session_id = $k AND expiry > $now AND expiry <= $before)
    /// SELECT data FROM t WHERE session_id = $k AND expiry > $now
    /// ```
    ///
    /// A data-modifying CTE runs whether or not it is read, and both parts see
    /// the same snapshot, so the row is returned whether or not it was due, and
    /// written only when it was. (`UPDATE … RETURNING` alone returns only the
    /// rows it writes: it would have to write on every read.)
    #[cfg(feature = "postgres")]
    pub(super) fn load_and_touch_cte(
        &self,
        key: &str,
        now: &Value,
        touch_before: &Value,
        expiry: &Value,
    ) -> WithQuery {
        let mut cte = CommonTableExpression::new();
        cte.table_name("touched")
            .query(self.touch_if_due(key, now, touch_before, expiry));
        WithClause::new()
            .cte(cte)
            .to_owned()
            .query(self.select_live(key, now))
    }

    /// `UPDATE t SET data = ?, expiry = ? WHERE session_id = ?`.
    pub(super) fn update(&self, key: &str, value: &[u8], expiry: &Value) -> UpdateStatement {
        Query::update()
            .table(self.table_name())
            .value(DATA, value.to_vec())
            .value(EXPIRY, expiry.clone())
            .and_where(Expr::col(SESSION_ID).eq(key))
            .to_owned()
    }

    /// `INSERT INTO t (session_id, data, expiry) VALUES (?, ?, ?)`; with a
    /// PostgreSQL sequence, `id` is `nextval` of it explicitly, as SQLAlchemy
    /// does (a Flask-made table has no default on `id`).
    pub(super) fn insert(&self, key: &str, value: &[u8], expiry: &Value) -> InsertStatement {
        let mut insert = Query::insert();
        insert.into_table(self.table_name());
        let row: Vec<Expr> = vec![
            Expr::val(key),
            Expr::val(value.to_vec()),
            Expr::val(expiry.clone()),
        ];
        match self.sequence_regclass() {
            Some(regclass) => {
                insert.columns([ID, SESSION_ID, DATA, EXPIRY]);
                let mut with_id = vec![Func::cust("nextval").arg(regclass).into()];
                with_id.extend(row);
                insert.values_panic(with_id);
            }
            None => {
                insert.columns([SESSION_ID, DATA, EXPIRY]);
                insert.values_panic(row);
            }
        }
        insert
    }

    /// Resets the expiry of a live row, unconditionally.
    pub(super) fn touch(&self, key: &str, now: &Value, expiry: &Value) -> UpdateStatement {
        Query::update()
            .table(self.table_name())
            .value(EXPIRY, expiry.clone())
            .and_where(self.live(key, now))
            .to_owned()
    }

    /// `DELETE FROM t WHERE session_id = ?`.
    pub(super) fn delete(&self, key: &str) -> DeleteStatement {
        Query::delete()
            .from_table(self.table_name())
            .and_where(Expr::col(SESSION_ID).eq(key))
            .to_owned()
    }

    /// One cleanup batch of at most `limit` expired (or NULL-expiry) rows.
    ///
    /// PostgreSQL and SQLite have no `DELETE … LIMIT`. SQLite takes the form
    /// all three dialects accept (design §10), and looks each id up by rowid:
    ///
    /// ```sql
    /// DELETE FROM t WHERE id IN (SELECT id FROM (
    ///     SELECT id FROM t WHERE expiry <= ? OR expiry IS NULL LIMIT n) AS b)
    /// ```
    ///
    /// The other two plan that as a scan of the whole table for every batch
    /// (PostgreSQL a hash semi-join, MariaDB 10.11 a dependent subquery), so
    /// a pass costs batches × table size. PostgreSQL runs
    /// `DELETE FROM t WHERE id = ANY(ARRAY((SELECT id … LIMIT n)))` instead,
    /// which looks the ids up in the primary key (measured on 100,000 rows:
    /// 8 ms a batch instead of 45–90 ms); MySQL and MariaDB their own
    /// `DELETE FROM t WHERE expiry <= ? OR expiry IS NULL LIMIT n`, which walks
    /// the `expiry` index (2.8 s instead of 8.4 s for 50 batches of 1,000).
    pub(super) fn cleanup_batch(&self, now: &Value, limit: u64) -> DeleteStatement {
        let expired = Expr::col(EXPIRY)
            .lte(now.clone())
            .or(Expr::col(EXPIRY).is_null());
        let ids = Query::select()
            .column(ID)
            .from(self.table_name())
            .cond_where(expired.clone())
            .limit(limit)
            .to_owned();
        let mut delete = Query::delete();
        delete.from_table(self.table_name());
        match self.dialect {
            #[cfg(feature = "postgres")]
            Dialect::Postgres => {
                let array = Func::cust("ARRAY").arg(Expr::SubQuery(None, Box::new(ids.into())));
                delete.and_where(Expr::col(ID).eq(Func::cust("ANY").arg(array)));
            }
            #[cfg(feature = "mysql")]
            Dialect::MySql => {
                let _ = ids;
                delete.cond_where(expired).limit(limit);
            }
            #[cfg(feature = "sqlite")]
            Dialect::Sqlite => {
                let ids = Query::select()
                    .column(ID)
                    .from_subquery(ids, "b")
                    .to_owned();
                delete.and_where(Expr::col(ID).in_subquery(ids));
            }
        }
        delete
    }

    /// The cross-instance cleanup lock: `pg_try_advisory_lock(key)` or
    /// `GET_LOCK(name, 0)`; `None` on SQLite (one file: nothing to share).
    pub(super) fn try_lock(&self) -> Option<SelectStatement> {
        let call: Option<Expr> = match self.dialect {
            #[cfg(feature = "postgres")]
            Dialect::Postgres => Some(
                Func::cust("pg_try_advisory_lock")
                    .arg(self.pg_lock_key())
                    .into(),
            ),
            #[cfg(feature = "mysql")]
            Dialect::MySql => Some(
                Func::cust("GET_LOCK")
                    .arg(self.mysql_lock_name())
                    .arg(0)
                    .into(),
            ),
            #[cfg(feature = "sqlite")]
            Dialect::Sqlite => None,
        };
        call.map(|call| Query::select().expr(call).to_owned())
    }

    /// The matching `pg_advisory_unlock(key)` / `RELEASE_LOCK(name)`.
    pub(super) fn unlock(&self) -> Option<SelectStatement> {
        let call: Option<Expr> = match self.dialect {
            #[cfg(feature = "postgres")]
            Dialect::Postgres => Some(
                Func::cust("pg_advisory_unlock")
                    .arg(self.pg_lock_key())
                    .into(),
            ),
            #[cfg(feature = "mysql")]
            Dialect::MySql => Some(
                Func::cust("RELEASE_LOCK")
                    .arg(self.mysql_lock_name())
                    .into(),
            ),
            #[cfg(feature = "sqlite")]
            Dialect::Sqlite => None,
        };
        call.map(|call| Query::select().expr(call).to_owned())
    }

    /// A `bigint` advisory-lock key from the table's name.
    #[cfg(feature = "postgres")]
    pub(super) fn pg_lock_key(&self) -> i64 {
        let digest = self.lock_digest();
        let mut key = [0u8; 8];
        key.copy_from_slice(&digest[..8]);
        i64::from_be_bytes(key)
    }

    /// A `GET_LOCK` name (at most 64 characters) from the table's name.
    #[cfg(feature = "mysql")]
    pub(super) fn mysql_lock_name(&self) -> String {
        format!("session-cleanup-{}", &hex(&self.lock_digest())[..32])
    }
}

/// SQLAlchemy's SQLite `DATETIME` text: `YYYY-MM-DD HH:MM:SS.ffffff`.
#[cfg(feature = "sqlite")]
pub(super) fn sqlite_text(at: PrimitiveDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:06}",
        at.year(),
        u8::from(at.month()),
        at.day(),
        at.hour(),
        at.minute(),
        at.second(),
        at.microsecond()
    )
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

fn hex_digest(bytes: &[u8]) -> String {
    hex(&Sha1::digest(bytes))
}

#[cfg(all(test, feature = "postgres", feature = "mysql", feature = "sqlite"))]
#[allow(clippy::unwrap_used)]
mod tests {
    use sea_query::{MysqlQueryBuilder, PostgresQueryBuilder, SqliteQueryBuilder};
    use time::macros::datetime;

    use super::*;

    fn table(dialect: Dialect, schema: Option<&str>, sequence: Option<&str>) -> SessionTable {
        let ident = |s: &str| SqlIdentifier::new(s).unwrap();
        SessionTable::new(
            dialect,
            &ident("sessions"),
            schema.map(ident).as_ref(),
            sequence.map(ident).as_ref(),
        )
    }

    const AT: PrimitiveDateTime = datetime!(2026-11-01 12:00:00.123456);

    #[test]
    fn ddl_per_dialect() {
        let pg = table(Dialect::Postgres, Some("app"), Some("seq"));
        assert_eq!(
            pg.create_sequence().unwrap(),
            r#"CREATE SEQUENCE IF NOT EXISTS "seq""#
        );
        assert_eq!(
            pg.create_table().to_string(PostgresQueryBuilder),
            r#"CREATE TABLE IF NOT EXISTS "app"."sessions" ( "id" BIGINT NOT NULL DEFAULT (nextval(CAST('"seq"' AS regclass))) PRIMARY KEY, "session_id" VARCHAR(255) UNIQUE, "data" BYTEA, "expiry" TIMESTAMP WITHOUT TIME ZONE )"#
        );
        assert_eq!(
            table(Dialect::Postgres, None, None)
                .create_table()
                .to_string(PostgresQueryBuilder),
            r#"CREATE TABLE IF NOT EXISTS "sessions" ( "id" BIGSERIAL NOT NULL PRIMARY KEY, "session_id" VARCHAR(255) UNIQUE, "data" BYTEA, "expiry" TIMESTAMP WITHOUT TIME ZONE )"#
        );
        assert_eq!(
            pg.create_expiry_index().unwrap(),
            r#"CREATE INDEX IF NOT EXISTS "ix_sessions_expiry" ON "app"."sessions" ("expiry")"#
        );
        assert_eq!(
            table(Dialect::MySql, None, Some("seq")).create_table().to_string(MysqlQueryBuilder),
            "CREATE TABLE IF NOT EXISTS `sessions` ( `id` BIGINT NOT NULL PRIMARY KEY AUTO_INCREMENT, \
             `session_id` VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin UNIQUE, `data` MEDIUMBLOB, \
             `expiry` DATETIME(6), KEY `ix_sessions_expiry` (`expiry`) )"
        );
        let lite = table(Dialect::Sqlite, Some("aux"), Some("seq"));
        assert_eq!(
            lite.create_table().to_string(SqliteQueryBuilder),
            r#"CREATE TABLE IF NOT EXISTS "aux"."sessions" ( "id" INTEGER NOT NULL PRIMARY KEY, "session_id" VARCHAR(255) UNIQUE, "data" BLOB, "expiry" DATETIME )"#
        );
        assert_eq!(
            lite.create_expiry_index().unwrap(),
            r#"CREATE INDEX IF NOT EXISTS "aux"."ix_sessions_expiry" ON "sessions" ("expiry")"#
        );
        assert!(!lite.uses_sequence(), "sequences are PostgreSQL's");
    }

    #[test]
    fn long_table_names_keep_index_names_within_limits() {
        let long = "t".repeat(63);
        let t = SessionTable::new(
            Dialect::MySql,
            &SqlIdentifier::new(long.clone()).unwrap(),
            None,
            None,
        );
        let name = t.expiry_index_name();
        assert!(
            name.len() <= 63 && name.starts_with("ix_ttt") && name.ends_with("_expiry"),
            "{name}"
        );
        let other = SessionTable::new(
            Dialect::MySql,
            &SqlIdentifier::new(format!("{}u", &long[..62])).unwrap(),
            None,
            None,
        );
        assert_ne!(other.expiry_index_name(), name);
    }

    #[test]
    fn statements_bind_every_value() {
        let pg = table(Dialect::Postgres, None, None);
        let v = pg.stamp(AT);
        let (sql, values) = pg
            .load_and_touch_cte("k", &v, &v, &v)
            .build(PostgresQueryBuilder);
        assert_eq!(
            sql,
            r#"WITH "touched" AS (UPDATE "sessions" SET "expiry" = $1 WHERE "session_id" = $2 AND "expiry" > $3 AND "expiry" <= $4) SELECT "data" FROM "sessions" WHERE "session_id" = $5 AND "expiry" > $6"#
        );
        assert_eq!(values.0.len(), 6);
        let (sql, _) = pg.cleanup_batch(&v, 1000).build(PostgresQueryBuilder);
        assert_eq!(
            sql,
            r#"DELETE FROM "sessions" WHERE "id" = ANY(ARRAY((SELECT "id" FROM "sessions" WHERE "expiry" <= $1 OR "expiry" IS NULL LIMIT $2)))"#
        );
        let my = table(Dialect::MySql, None, None);
        let (sql, _) = my
            .cleanup_batch(&my.stamp(AT), 1000)
            .build(MysqlQueryBuilder);
        assert_eq!(
            sql,
            "DELETE FROM `sessions` WHERE `expiry` <= ? OR `expiry` IS NULL LIMIT ?"
        );
        let lite = table(Dialect::Sqlite, None, None);
        let (sql, _) = lite
            .cleanup_batch(&lite.stamp(AT), 1000)
            .build(SqliteQueryBuilder);
        assert_eq!(
            sql,
            r#"DELETE FROM "sessions" WHERE "id" IN (SELECT "id" FROM (SELECT "id" FROM "sessions" WHERE "expiry" <= ? OR "expiry" IS NULL LIMIT ?) AS "b")"#
        );
        let (sql, values) = lite
            .select_for_touch("k", &lite.stamp(AT), &lite.stamp(AT))
            .build(SqliteQueryBuilder);
        assert_eq!(
            sql,
            r#"SELECT "data", "expiry" <= ? AS "due" FROM "sessions" WHERE "session_id" = ? AND "expiry" > ?"#
        );
        assert_eq!(
            values.0[0],
            Value::String(Some("2026-11-01 12:00:00.123456".to_owned())),
            "SQLAlchemy's text"
        );
    }

    #[test]
    fn hostile_strings_stay_values() {
        let t = table(Dialect::Sqlite, None, None);
        let (sql, values) = t
            .select_live("x' OR '1'='1", &t.stamp(AT))
            .build(SqliteQueryBuilder);
        assert!(!sql.contains("OR '1'"), "{sql}");
        assert_eq!(values.0[0], Value::String(Some("x' OR '1'='1".to_owned())));
    }

    #[test]
    fn sqlite_text_is_fixed_width() {
        assert_eq!(
            sqlite_text(datetime!(2026-01-02 03:04:05)),
            "2026-01-02 03:04:05.000000"
        );
        assert_eq!(
            sqlite_text(datetime!(2026-12-31 23:59:59.999999)),
            "2026-12-31 23:59:59.999999"
        );
    }

    #[test]
    fn locks_are_per_table() {
        let a = table(Dialect::Postgres, None, None).pg_lock_key();
        let b = table(Dialect::Postgres, Some("other"), None).pg_lock_key();
        assert_ne!(a, b);
        let name = table(Dialect::MySql, None, None).mysql_lock_name();
        assert!(name.len() <= 64, "{name}");
        assert!(table(Dialect::Sqlite, None, None).try_lock().is_none());
    }
}
