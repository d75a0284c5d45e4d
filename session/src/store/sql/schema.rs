//! The session table, its name and the statements that create it, built
//! with sea-query for the exact dialect (the statements that read and write
//! sessions are in `queries.rs`). Identifiers come from validated
//! [`SqlIdentifier`]s and are still quoted (and escaped) by sea-query; every
//! value is a bound parameter. Nothing is spliced into SQL text.

#[cfg(any(feature = "postgres", feature = "mysql"))]
use sea_query::Index;
use sea_query::{
    Alias, Asterisk, ColumnDef, Expr, ExprTrait, Func, Query, SchemaName, SelectStatement, Table,
    TableCreateStatement, TableName,
};
use session_config::SqlIdentifier;
use sha1::{Digest, Sha1};

use super::Dialect;
use crate::store::support::hex;

pub(super) const ID: &str = "id";
pub(super) const SESSION_ID: &str = "session_id";
pub(super) const DATA: &str = "data";
pub(super) const EXPIRY: &str = "expiry";

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
        dialect: Dialect, name: &SqlIdentifier, schema: Option<&SqlIdentifier>,
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

    /// The table's own name, unqualified.
    pub(super) fn name(&self) -> &str {
        &self.name
    }

    /// The schema the table (and the owner index beside it) lives in.
    pub(super) fn schema(&self) -> Option<&str> {
        self.schema.as_deref()
    }

    pub(super) fn table_name(&self) -> TableName {
        self.qualified(self.name.clone())
    }

    /// `name` in the table's schema.
    pub(super) fn qualified(&self, name: String) -> TableName {
        TableName(
            self.schema
                .as_ref()
                .map(|s| SchemaName(None, Alias::new(s.clone()).into())),
            Alias::new(name).into(),
        )
    }

    /// A deterministic index name within the 63/64-character identifier
    /// limits: `ix_<table>_expiry`, or a hashed form for long table names.
    pub(super) fn expiry_index_name(&self) -> String {
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
    pub(super) fn lock_digest(&self) -> [u8; 20] {
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
    pub(super) fn sequence_regclass(&self) -> Option<Expr> {
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

    /// A query counting 1 when the table `name` exists in this table's
    /// schema, where unqualified statements will find it, 0 otherwise.
    /// PostgreSQL resolves the name like the statements do (`to_regclass`, through the `search_path`); MySQL looks in
    /// the schema or the current database; SQLite in the schema's
    /// `sqlite_master` (`main` by default).
    pub(super) fn table_named_exists(&self, name: &str) -> SelectStatement {
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
                        .prepare_iden(&Alias::new(name.to_owned()).into(), &mut qualified);
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
                    .and_where(Expr::col("table_name").eq(name.to_owned()))
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
                    .and_where(Expr::col("name").eq(name.to_owned()))
                    .to_owned()
            }
        }
    }
}

pub(super) fn hex_digest(bytes: &[u8]) -> String {
    hex(&Sha1::digest(bytes))
}
