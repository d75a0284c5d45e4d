//! The SQL store against each dialect, inspecting the table with sqlx: the DDL
//! is Flask-Session's (with a custom schema, table and sequence on
//! PostgreSQL), an expired row is never served, cleanup removes only expired
//! rows across many batches, SQLite's expiry is SQLAlchemy's text, a save
//! updates or inserts without burning ids, `load_and_touch` is one statement
//! and skips fresh sessions, hostile identifiers are refused at config time,
//! and a dead database fails start-up (or a request) with the right error.
//!
//! SQLite runs anywhere. PostgreSQL (127.0.0.1:5432, trust) and MariaDB
//! (127.0.0.1:3306, root) tests are ignored by default: `scripts/test.sh`
//! creates the `sessions_test` databases and runs them. `TEST_POSTGRES_URL` and
//! `TEST_MYSQL_URL` point them elsewhere. Every test uses a table of its own.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use session::config::{ConnectionUrl, SessionType, Settings, SqlIdentifier};
use session::store::sql::sqlx::{self, AssertSqlSafe};
use session::store::sql::{CleanupLock, Dialect, SqlPool, SqlStore};
use session::store::{BuildError, SaveHint, SessionStore, StoreErrorKind, WriteOutcome};

mod owners;

fn postgres_url() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/sessions_test".to_owned())
}

fn mysql_url() -> String {
    std::env::var("TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/sessions_test".to_owned())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Db {
    Postgres,
    MySql,
    Sqlite,
}

/// A table name no other test (or run) uses.
fn unique_name(test: &str) -> String {
    format!("t_{}", crate::common::unique_name(test, '_'))
}

struct Fixture {
    db: Db,
    store: SqlStore,
    /// The table, qualified when a schema is set (for raw SQL).
    table: String,
    _dir: Option<tempfile::TempDir>,
}

fn settings(url: &str, table: &str) -> Settings {
    let mut settings = Settings::default();
    settings.session_type = SessionType::SqlAlchemy;
    settings.sqlalchemy = ConnectionUrl::new(url);
    settings.sqlalchemy_table = SqlIdentifier::new(table).unwrap();
    settings.pool_size = Some(2);
    settings
}

async fn fixture(db: Db, test: &str) -> Fixture {
    fixture_with(db, test, |_| {}, |b| b).await
}

async fn fixture_with(
    db: Db, test: &str, tweak: impl FnOnce(&mut Settings),
    build: impl FnOnce(session::store::sql::SqlStoreBuilder) -> session::store::sql::SqlStoreBuilder,
) -> Fixture {
    let name = unique_name(test);
    let (url, dir) = match db {
        Db::Postgres => (postgres_url(), None),
        Db::MySql => (mysql_url(), None),
        Db::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            (
                format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("sessions.db").display()
                ),
                Some(dir),
            )
        }
    };
    let mut settings = settings(&url, &name);
    tweak(&mut settings);
    let table = match &settings.sqlalchemy_schema {
        Some(schema) => format!("{schema}.{name}"),
        None => name,
    };
    let store = build(SqlStore::builder(&settings)).build().await.unwrap();
    Fixture {
        db,
        store,
        table,
        _dir: dir,
    }
}

impl Fixture {
    fn pool(&self) -> &SqlPool {
        self.store.pool()
    }

    async fn exec(&self, sql: &str) -> u64 {
        exec(self.pool(), sql).await
    }

    /// `(id, session_id)` of every row, by id.
    async fn rows(&self) -> Vec<(i64, String)> {
        let sql = format!("SELECT id, session_id FROM {} ORDER BY id", self.table);
        match self.pool() {
            SqlPool::Postgres(p) => sqlx::query_as(AssertSqlSafe(sql))
                .fetch_all(p)
                .await
                .unwrap(),
            SqlPool::MySql(p) => sqlx::query_as(AssertSqlSafe(sql))
                .fetch_all(p)
                .await
                .unwrap(),
            SqlPool::Sqlite(p) => sqlx::query_as(AssertSqlSafe(sql))
                .fetch_all(p)
                .await
                .unwrap(),
            _ => unreachable!(),
        }
    }

    async fn count(&self) -> usize {
        self.rows().await.len()
    }

    /// The stored expiry as the database renders it as text; `None` when the
    /// row is missing or the expiry NULL.
    async fn expiry(&self, key: &str) -> Option<String> {
        let column = match self.db {
            Db::Postgres => "expiry::text",
            Db::MySql => "CAST(expiry AS CHAR)",
            Db::Sqlite => "expiry",
        };
        let sql = format!(
            "SELECT {column} FROM {} WHERE session_id = '{key}'",
            self.table
        );
        let row: Option<(Option<String>,)> = match self.pool() {
            SqlPool::Postgres(p) => sqlx::query_as(AssertSqlSafe(sql))
                .fetch_optional(p)
                .await
                .unwrap(),
            SqlPool::MySql(p) => sqlx::query_as(AssertSqlSafe(sql))
                .fetch_optional(p)
                .await
                .unwrap(),
            SqlPool::Sqlite(p) => sqlx::query_as(AssertSqlSafe(sql))
                .fetch_optional(p)
                .await
                .unwrap(),
            _ => unreachable!(),
        };
        row.and_then(|(expiry,)| expiry)
    }

    async fn expire(&self, where_clause: &str) -> u64 {
        self.exec(&format!(
            "UPDATE {} SET expiry = '2000-01-01 00:00:00.000000' WHERE {where_clause}",
            self.table
        ))
        .await
    }

    async fn drop_table(self) {
        if self.db != Db::Sqlite {
            for table in [format!("{}_owners", self.table), self.table.clone()] {
                self.exec(&format!("DROP TABLE IF EXISTS {table}")).await;
            }
        }
        self.store.close().await;
    }
}

async fn exec(pool: &SqlPool, sql: &str) -> u64 {
    let sql = AssertSqlSafe(sql.to_owned());
    match pool {
        SqlPool::Postgres(p) => sqlx::raw_sql(sql).execute(p).await.unwrap().rows_affected(),
        SqlPool::MySql(p) => sqlx::raw_sql(sql).execute(p).await.unwrap().rows_affected(),
        SqlPool::Sqlite(p) => sqlx::raw_sql(sql).execute(p).await.unwrap().rows_affected(),
        _ => unreachable!(),
    }
}

async fn strings(pool: &SqlPool, sql: &str) -> Vec<Vec<String>> {
    use sqlx::Row;
    let sql = AssertSqlSafe(sql.to_owned());
    macro_rules! collect {
        ($rows:expr) => {
            $rows
                .iter()
                .map(|row| {
                    (0..row.len())
                        .map(|i| {
                            row.try_get::<Option<String>, _>(i)
                                .unwrap()
                                .unwrap_or_default()
                        })
                        .collect()
                })
                .collect()
        };
    }
    match pool {
        SqlPool::Postgres(p) => collect!(sqlx::query(sql).fetch_all(p).await.unwrap()),
        SqlPool::MySql(p) => collect!(sqlx::query(sql).fetch_all(p).await.unwrap()),
        SqlPool::Sqlite(p) => collect!(sqlx::query(sql).fetch_all(p).await.unwrap()),
        _ => unreachable!(),
    }
}

// ------------------------------------------------------------ the DDL

async fn ddl_matches_flask_schema(db: Db) {
    let fx = fixture(db, "ddl").await;
    let name = fx.table.clone();
    let (columns, indexes): (Vec<Vec<String>>, Vec<Vec<String>>) = match db {
        Db::Postgres => (
            strings(
                fx.pool(),
                &format!(
                    "SELECT column_name::text, data_type::text, COALESCE(character_maximum_length::text, '') \
                     FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = '{name}' \
                     ORDER BY ordinal_position"
                ),
            )
            .await,
            strings(fx.pool(), &format!("SELECT indexdef::text FROM pg_indexes WHERE tablename = '{name}' ORDER BY indexname")).await,
        ),
        Db::MySql => (
            strings(
                fx.pool(),
                &format!(
                    "SELECT CAST(column_name AS CHAR), CAST(column_type AS CHAR), CAST(COALESCE(collation_name, '') AS CHAR) \
                     FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = '{name}' \
                     ORDER BY ordinal_position"
                ),
            )
            .await,
            strings(
                fx.pool(),
                &format!(
                    "SELECT CAST(index_name AS CHAR), CAST(non_unique AS CHAR), CAST(column_name AS CHAR) \
                     FROM information_schema.statistics WHERE table_schema = DATABASE() AND table_name = '{name}' \
                     ORDER BY index_name"
                ),
            )
            .await,
        ),
        Db::Sqlite => (
            strings(fx.pool(), &format!("SELECT name, type, CAST(pk AS TEXT) FROM pragma_table_info('{name}') ORDER BY cid")).await,
            strings(
                fx.pool(),
                &format!(
                    "SELECT l.name, CAST(l.\"unique\" AS TEXT), i.name FROM pragma_index_list('{name}') AS l, \
                     pragma_index_info(l.name) AS i ORDER BY l.name"
                ),
            )
            .await,
        ),
    };
    let columns: Vec<Vec<&str>> = columns
        .iter()
        .map(|c| c.iter().map(String::as_str).collect())
        .collect();
    let flat = |rows: &[Vec<String>]| {
        rows.iter()
            .map(|r| r.join(" "))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let indexes = flat(&indexes);
    match db {
        Db::Postgres => {
            assert_eq!(
                columns,
                [
                    vec!["id", "bigint", ""],
                    vec!["session_id", "character varying", "255"],
                    vec!["data", "bytea", ""],
                    vec!["expiry", "timestamp without time zone", ""],
                ]
            );
            assert!(
                indexes.contains(&format!(
                    "UNIQUE INDEX {name}_pkey ON public.{name} USING btree (id)"
                )),
                "{indexes}"
            );
            assert!(
                indexes.contains(&format!(
                    "UNIQUE INDEX {name}_session_id_key ON public.{name} USING btree (session_id)"
                )),
                "{indexes}"
            );
            assert!(
                indexes.contains(&format!(
                    "INDEX ix_{name}_expiry ON public.{name} USING btree (expiry)"
                )),
                "{indexes}"
            );
        }
        Db::MySql => {
            assert_eq!(columns[0][0..2], ["id", "bigint(20)"]);
            assert_eq!(columns[1], ["session_id", "varchar(255)", "utf8mb4_bin"]);
            assert_eq!(columns[2][0..2], ["data", "mediumblob"]);
            assert_eq!(columns[3][0..2], ["expiry", "datetime(6)"]);
            assert_eq!(columns.len(), 4);
            assert!(indexes.contains("PRIMARY 0 id"), "{indexes}");
            assert!(indexes.contains("session_id 0 session_id"), "{indexes}");
            assert!(
                indexes.contains(&format!("ix_{name}_expiry 1 expiry")),
                "{indexes}"
            );
        }
        Db::Sqlite => {
            assert_eq!(
                columns,
                [
                    vec!["id", "INTEGER", "1"],
                    vec!["session_id", "VARCHAR(255)", "0"],
                    vec!["data", "BLOB", "0"],
                    vec!["expiry", "DATETIME", "0"],
                ]
            );
            assert!(
                indexes.contains(&format!("ix_{name}_expiry 0 expiry")),
                "{indexes}"
            );
            assert!(
                indexes.contains(&format!("sqlite_autoindex_{name}_1 1 session_id")),
                "{indexes}"
            );
        }
    }
    // Building again over the existing table changes nothing.
    let again = SqlStore::from_client(fx.pool().clone(), &settings("unused://", &name))
        .await
        .unwrap();
    assert_eq!(again.table_name(), name);
    fx.drop_table().await;
}

#[tokio::test]
async fn ddl_matches_flask_schema_sqlite() {
    ddl_matches_flask_schema(Db::Sqlite).await;
}

#[tokio::test]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn ddl_matches_flask_schema_postgres() {
    ddl_matches_flask_schema(Db::Postgres).await;
}

#[tokio::test]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn ddl_matches_flask_schema_mariadb() {
    ddl_matches_flask_schema(Db::MySql).await;
}

/// A custom schema, table and sequence: the table lands in the schema, the
/// sequence where SQLAlchemy puts it (the `search_path`), and ids come from it.
#[tokio::test]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn postgres_custom_schema_table_and_sequence() {
    let schema = unique_name("schema");
    let sequence = unique_name("seq");
    let admin = SqlPool::from(sqlx::PgPool::connect(&postgres_url()).await.unwrap());
    exec(&admin, &format!("CREATE SCHEMA {schema}")).await;
    let fx = fixture_with(
        Db::Postgres,
        "custom",
        |s| {
            s.sqlalchemy_schema = SqlIdentifier::new(schema.clone());
            s.sqlalchemy_sequence = SqlIdentifier::new(sequence.clone());
        },
        |b| b,
    )
    .await;
    let name = fx.table.split_once('.').unwrap().1.to_owned();
    assert_eq!(fx.store.table_name(), format!("{schema}.{name}"));
    let found = strings(
        &admin,
        &format!(
            "SELECT table_schema::text, data_type::text, COALESCE(column_default::text, '') FROM information_schema.columns \
             WHERE table_name = '{name}' AND column_name = 'id'"
        ),
    )
    .await;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0][0], schema);
    assert_eq!(found[0][1], "bigint");
    assert!(
        found[0][2].contains(&format!("nextval('{sequence}'::regclass)")),
        "{found:?}"
    );
    let index = strings(
        &admin,
        &format!("SELECT schemaname::text FROM pg_indexes WHERE indexname = 'ix_{name}_expiry'"),
    )
    .await;
    assert_eq!(index, [vec![schema.clone()]]);
    // The sequence is unqualified, as SQLAlchemy's: it lives in `public`.
    let seq = strings(&admin, &format!("SELECT sequence_schema::text FROM information_schema.sequences WHERE sequence_name = '{sequence}'")).await;
    assert_eq!(seq, [vec!["public".to_owned()]]);

    exec(&admin, &format!("SELECT setval('{sequence}', 1000)")).await;
    fx.store
        .save("a", b"1", Duration::from_secs(60), SaveHint::New)
        .await
        .unwrap();
    fx.store
        .save("b", b"2", Duration::from_secs(60), SaveHint::New)
        .await
        .unwrap();
    assert_eq!(
        fx.rows().await,
        [(1001, "a".to_owned()), (1002, "b".to_owned())]
    );
    assert_eq!(
        fx.store.load("a").await.unwrap().as_deref(),
        Some(&b"1"[..])
    );

    // A table made by Flask (SQLAlchemy: INTEGER id, no default) works too:
    // inserts call nextval themselves.
    let flask = unique_name("flask");
    exec(
        &admin,
        &format!(
            "CREATE TABLE {schema}.{flask} (id INTEGER NOT NULL, session_id VARCHAR(255), data BYTEA, \
             expiry TIMESTAMP WITHOUT TIME ZONE, PRIMARY KEY (id), UNIQUE (session_id))"
        ),
    )
    .await;
    let mut s = settings(&postgres_url(), &flask);
    s.sqlalchemy_schema = SqlIdentifier::new(schema.clone());
    s.sqlalchemy_sequence = SqlIdentifier::new(sequence.clone());
    let store = SqlStore::from_settings(&s).await.unwrap();
    store
        .save("c", b"3", Duration::from_secs(60), SaveHint::New)
        .await
        .unwrap();
    let ids = strings(&admin, &format!("SELECT id::text FROM {schema}.{flask}")).await;
    assert_eq!(ids, [vec!["1003".to_owned()]]);
    store.close().await;

    fx.drop_table().await;
    exec(
        &admin,
        &format!("DROP SCHEMA {schema} CASCADE; DROP SEQUENCE {sequence}"),
    )
    .await;
}

/// With `sqlalchemy_create_table = false`, a missing table is a start-up error.
#[tokio::test]
async fn a_missing_table_is_an_error_when_creation_is_off() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display());
    let mut s = settings(&url, "not_there");
    s.sqlalchemy_create_table = false;
    let error = SqlStore::from_settings(&s).await.unwrap_err().to_string();
    assert!(
        error.contains("not_there") && error.contains("SESSION_SQLALCHEMY_CREATE_TABLE"),
        "{error}"
    );
}

// ------------------------------------------------------------ reads

async fn expired_row_is_never_served(db: Db) {
    let fx = fixture(db, "expired").await;
    let ttl = Duration::from_secs(3600);
    for key in ["old", "null", "live"] {
        fx.store
            .save(key, key.as_bytes(), ttl, SaveHint::New)
            .await
            .unwrap();
    }
    fx.expire("session_id = 'old'").await;
    fx.exec(&format!(
        "UPDATE {} SET expiry = NULL WHERE session_id = 'null'",
        fx.table
    ))
    .await;
    for key in ["old", "null"] {
        assert_eq!(fx.store.load(key).await.unwrap(), None, "{key}");
        assert_eq!(
            fx.store.load_and_touch(key, ttl).await.unwrap(),
            None,
            "{key}"
        );
        fx.store.touch(key, ttl).await.unwrap();
    }
    assert_eq!(
        fx.store.load("live").await.unwrap().as_deref(),
        Some(&b"live"[..])
    );
    // Not deleted by the reads, and not revived by the touch: cleanup's job.
    assert_eq!(fx.count().await, 3);
    assert!(fx.expiry("old").await.unwrap().starts_with("2000-01-01"));
    assert_eq!(fx.expiry("null").await, None);
    assert_eq!(fx.store.cleanup().await.unwrap(), 2);
    assert_eq!(
        fx.rows()
            .await
            .into_iter()
            .map(|(_, k)| k)
            .collect::<Vec<_>>(),
        ["live"]
    );
    fx.drop_table().await;
}

#[tokio::test]
async fn expired_row_is_never_served_sqlite() {
    expired_row_is_never_served(Db::Sqlite).await;
}

#[tokio::test]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn expired_row_is_never_served_postgres() {
    expired_row_is_never_served(Db::Postgres).await;
}

#[tokio::test]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn expired_row_is_never_served_mariadb() {
    expired_row_is_never_served(Db::MySql).await;
}

/// A conditional save whose `UPDATE` matched no row, when the row then reads
/// as the expected bytes (another writer changed it and a third put the same
/// bytes back, between the two statements), did not write: it must not
/// answer `Saved`, or the lifecycle drops the request's change instead of
/// merging it. A trigger that makes SQLite skip the row's update stands in
/// for the race, deterministically.
#[tokio::test]
async fn a_conditional_save_that_matched_no_row_is_never_saved_sqlite() {
    let fx = fixture(Db::Sqlite, "abba").await;
    let ttl = Duration::from_secs(3600);
    fx.store.save("k", b"E", ttl, SaveHint::New).await.unwrap();
    fx.exec(&format!(
        "CREATE TRIGGER skip_updates BEFORE UPDATE ON {} BEGIN SELECT RAISE(IGNORE); END",
        fx.table
    ))
    .await;
    let outcome = fx
        .store
        .save_if_unchanged("k", b"E", b"V", ttl)
        .await
        .unwrap();
    assert_eq!(outcome, WriteOutcome::Changed(b"E".to_vec()));
    assert_eq!(
        fx.store.load("k").await.unwrap().as_deref(),
        Some(&b"E"[..])
    );
    fx.drop_table().await;
}

/// A statement the server interrupts (an operator's `KILL QUERY`, like
/// MariaDB's `max_statement_time` or a lock wait timeout) is the database
/// being unavailable now (503), not a failure of the request (500). The
/// store's conditional save waits on a row another transaction holds, and is
/// killed while it waits.
#[tokio::test]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn an_interrupted_statement_is_unavailable_mariadb() {
    use sqlx::Connection;
    let fx = fixture(Db::MySql, "interrupted").await;
    let ttl = Duration::from_secs(3600);
    fx.store.save("k", b"E", ttl, SaveHint::New).await.unwrap();
    let mut holder = sqlx::MySqlConnection::connect(&mysql_url()).await.unwrap();
    sqlx::raw_sql(AssertSqlSafe("BEGIN".to_owned()))
        .execute(&mut holder)
        .await
        .unwrap();
    let lock = format!(
        "SELECT data FROM {} WHERE session_id = 'k' FOR UPDATE",
        fx.table
    );
    sqlx::raw_sql(AssertSqlSafe(lock))
        .execute(&mut holder)
        .await
        .unwrap();
    let mut admin = sqlx::MySqlConnection::connect(&mysql_url()).await.unwrap();
    let find = format!(
        "SELECT CAST(ID AS CHAR) FROM information_schema.PROCESSLIST \
         WHERE INFO LIKE 'UPDATE%{}%'",
        fx.table
    );
    let kill = async {
        for _ in 0..200 {
            let rows: Vec<(String,)> = sqlx::query_as(AssertSqlSafe(find.clone()))
                .fetch_all(&mut admin)
                .await
                .unwrap();
            if let Some((id,)) = rows.first() {
                sqlx::raw_sql(AssertSqlSafe(format!("KILL QUERY {id}")))
                    .execute(&mut admin)
                    .await
                    .unwrap();
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the store's UPDATE never waited on the lock");
    };
    let (saved, ()) = tokio::join!(fx.store.save_if_unchanged("k", b"E", b"V", ttl), kill);
    let error = saved.unwrap_err();
    assert_eq!(error.kind, StoreErrorKind::Unavailable, "{error}");
    holder.close().await.unwrap();
    assert_eq!(
        fx.store.load("k").await.unwrap().as_deref(),
        Some(&b"E"[..])
    );
    fx.drop_table().await;
}

// ------------------------------------------------------------ cleanup

async fn cleanup_removes_only_expired_rows_across_batches(db: Db) {
    let fx = fixture_with(db, "cleanup", |_| {}, |b| b.cleanup_batch_size(7)).await;
    let ttl = Duration::from_secs(3600);
    for i in 0..120 {
        fx.store
            .save(&format!("old:{i}"), b"x", ttl, SaveHint::New)
            .await
            .unwrap();
    }
    for i in 0..30 {
        fx.store
            .save(&format!("live:{i}"), b"x", ttl, SaveHint::New)
            .await
            .unwrap();
    }
    assert_eq!(fx.expire("session_id LIKE 'old:%'").await, 120);
    let removed = fx.store.cleanup().await.unwrap();
    assert_eq!(removed, 120, "17 full batches of 7 and a short one");
    let left = fx.rows().await;
    assert_eq!(left.len(), 30);
    assert!(
        left.iter().all(|(_, key)| key.starts_with("live:")),
        "{left:?}"
    );
    assert_eq!(fx.store.cleanup().await.unwrap(), 0);
    // The exclusive pass takes its lock (and gives it back) around the same work.
    fx.expire("session_id = 'live:0'").await;
    assert_eq!(fx.store.cleanup_exclusive().await.unwrap(), Some(1));
    assert_eq!(fx.store.cleanup_exclusive().await.unwrap(), Some(0));
    fx.drop_table().await;
}

#[tokio::test]
async fn cleanup_removes_only_expired_rows_across_batches_sqlite() {
    cleanup_removes_only_expired_rows_across_batches(Db::Sqlite).await;
}

#[tokio::test]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn cleanup_removes_only_expired_rows_across_batches_postgres() {
    cleanup_removes_only_expired_rows_across_batches(Db::Postgres).await;
}

#[tokio::test]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn cleanup_removes_only_expired_rows_across_batches_mariadb() {
    cleanup_removes_only_expired_rows_across_batches(Db::MySql).await;
}

/// While one instance holds the cleanup lock, another skips its pass.
async fn cleanup_is_exclusive_across_instances(db: Db) {
    let fx = fixture(db, "exclusive").await;
    fx.store
        .save("old", b"x", Duration::from_secs(60), SaveHint::New)
        .await
        .unwrap();
    fx.expire("session_id = 'old'").await;
    // "Another instance": a second store on the same table, holding the lock
    // on a connection of its own.
    let name = fx.table.clone();
    let url = if db == Db::Postgres {
        postgres_url()
    } else {
        mysql_url()
    };
    let other = SqlStore::from_settings(&settings(&url, &name))
        .await
        .unwrap();
    let (lock, unlock) = match db {
        Db::Postgres => {
            let CleanupLock::PgAdvisory(key) = other.cleanup_lock() else {
                panic!()
            };
            (
                format!("SELECT pg_advisory_lock({key})"),
                format!("SELECT pg_advisory_unlock({key})"),
            )
        }
        _ => {
            let CleanupLock::MySqlNamed(name) = other.cleanup_lock() else {
                panic!()
            };
            (
                format!("SELECT GET_LOCK('{name}', 0)"),
                format!("SELECT RELEASE_LOCK('{name}')"),
            )
        }
    };
    match other.pool() {
        SqlPool::Postgres(p) => {
            let mut conn = p.acquire().await.unwrap();
            sqlx::raw_sql(AssertSqlSafe(lock))
                .execute(&mut *conn)
                .await
                .unwrap();
            assert_eq!(
                fx.store.cleanup_exclusive().await.unwrap(),
                None,
                "skipped while locked"
            );
            sqlx::raw_sql(AssertSqlSafe(unlock))
                .execute(&mut *conn)
                .await
                .unwrap();
        }
        SqlPool::MySql(p) => {
            let mut conn = p.acquire().await.unwrap();
            sqlx::raw_sql(AssertSqlSafe(lock))
                .execute(&mut *conn)
                .await
                .unwrap();
            assert_eq!(
                fx.store.cleanup_exclusive().await.unwrap(),
                None,
                "skipped while locked"
            );
            sqlx::raw_sql(AssertSqlSafe(unlock))
                .execute(&mut *conn)
                .await
                .unwrap();
        }
        _ => unreachable!(),
    }
    assert_eq!(fx.store.cleanup_exclusive().await.unwrap(), Some(1));
    other.close().await;
    fx.drop_table().await;
}

#[tokio::test]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn cleanup_is_exclusive_across_instances_postgres() {
    cleanup_is_exclusive_across_instances(Db::Postgres).await;
}

#[tokio::test]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn cleanup_is_exclusive_across_instances_mariadb() {
    cleanup_is_exclusive_across_instances(Db::MySql).await;
}

/// `cleanup_interval` runs passes in the background, and the task ends with
/// the store.
#[tokio::test]
async fn cleanup_interval_runs_in_the_background_sqlite() {
    let fx = fixture_with(
        Db::Sqlite,
        "interval",
        |s| s.cleanup_interval = Some(Duration::from_millis(50)),
        |b| b,
    )
    .await;
    fx.store
        .save("old", b"x", Duration::from_secs(60), SaveHint::New)
        .await
        .unwrap();
    fx.store
        .save("live", b"x", Duration::from_secs(60), SaveHint::New)
        .await
        .unwrap();
    fx.expire("session_id = 'old'").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while fx.count().await > 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "no background pass within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The task holds only a weak handle: with the store gone it stops, and
    // expired rows stay.
    let Fixture {
        store, table, _dir, ..
    } = fx;
    let pool = store.pool().clone();
    drop(store);
    exec(
        &pool,
        &format!("UPDATE {table} SET expiry = '2000-01-01 00:00:00.000000'"),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let left = strings(&pool, &format!("SELECT session_id FROM {table}")).await;
    assert_eq!(left, [vec!["live".to_owned()]]);
}

/// A shutdown ends the cleanup task at once (not at the next tick), waits
/// for it, and closes the pool the store built; a pool the app handed over
/// stays open. Later operations fail as unavailable; a second shutdown is a
/// no-op.
#[tokio::test]
async fn a_shutdown_ends_the_cleanup_task_and_closes_the_stores_own_pool_sqlite() {
    let fx = fixture_with(
        Db::Sqlite,
        "shutdown",
        |s| s.cleanup_interval = Some(Duration::from_secs(3600)),
        |b| b,
    )
    .await;
    assert!(fx.store.cleanup_running());
    assert!(!fx.store.pool().is_closed());
    tokio::time::timeout(Duration::from_secs(5), fx.store.shutdown())
        .await
        .expect("the shutdown does not wait for the next tick");
    assert!(!fx.store.cleanup_running(), "the cleanup task has ended");
    assert!(
        fx.store.pool().is_closed(),
        "the store's own pool is closed"
    );
    let error = fx.store.load("any").await.unwrap_err();
    assert_eq!(error.kind, StoreErrorKind::Unavailable, "{error}");
    fx.store.shutdown().await;
    assert!(fx.store.pool().is_closed());
}

#[tokio::test]
async fn a_shutdown_leaves_the_apps_own_pool_open_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let mut settings = settings(&url, "app_pool");
    settings.cleanup_interval = Some(Duration::from_secs(3600));
    let store = SqlStore::from_client(pool.clone(), &settings)
        .await
        .unwrap();
    assert!(store.cleanup_running());
    store.shutdown().await;
    assert!(!store.cleanup_running());
    assert!(!pool.is_closed(), "the app closes its own pool");
    // `close` is the explicit way to close it too.
    store.close().await;
    assert!(pool.is_closed());
}

// ------------------------------------------------------------ writes

async fn saves_do_not_burn_ids(db: Db) {
    let fx = fixture(db, "ids").await;
    let ttl = Duration::from_secs(60);
    fx.store.save("a", b"1", ttl, SaveHint::New).await.unwrap();
    for i in 0..5u8 {
        fx.store
            .save("a", &[i], ttl, SaveHint::Existing)
            .await
            .unwrap();
    }
    fx.store.save("b", b"1", ttl, SaveHint::New).await.unwrap();
    // A loaded session whose row vanished (cleanup, another request): insert.
    fx.store
        .save("c", b"1", ttl, SaveHint::Existing)
        .await
        .unwrap();
    let rows = fx.rows().await;
    assert_eq!(
        rows,
        [
            (1, "a".to_owned()),
            (2, "b".to_owned()),
            (3, "c".to_owned())
        ],
        "consecutive ids"
    );
    assert_eq!(
        fx.store.load("a").await.unwrap().as_deref(),
        Some(&[4u8][..])
    );
    // New over an existing key (a race) falls back to the update.
    fx.store.save("b", b"2", ttl, SaveHint::New).await.unwrap();
    assert_eq!(fx.count().await, 3);
    assert_eq!(
        fx.store.load("b").await.unwrap().as_deref(),
        Some(&b"2"[..])
    );
    fx.store.delete("b").await.unwrap();
    fx.store.delete("b").await.unwrap();
    assert_eq!(fx.store.load("b").await.unwrap(), None);
    fx.drop_table().await;
}

#[tokio::test]
async fn saves_do_not_burn_ids_sqlite() {
    saves_do_not_burn_ids(Db::Sqlite).await;
}

#[tokio::test]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn saves_do_not_burn_ids_postgres() {
    saves_do_not_burn_ids(Db::Postgres).await;
}

#[tokio::test]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn saves_do_not_burn_ids_mariadb() {
    saves_do_not_burn_ids(Db::MySql).await;
}

/// MySQL's default collations ignore case; sids do not.
#[tokio::test]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn session_ids_are_case_sensitive_mariadb() {
    let fx = fixture(Db::MySql, "case").await;
    fx.store
        .save(
            "session:AbC",
            b"upper",
            Duration::from_secs(60),
            SaveHint::New,
        )
        .await
        .unwrap();
    fx.store
        .save(
            "session:abc",
            b"lower",
            Duration::from_secs(60),
            SaveHint::New,
        )
        .await
        .unwrap();
    assert_eq!(
        fx.store.load("session:AbC").await.unwrap().as_deref(),
        Some(&b"upper"[..])
    );
    assert_eq!(fx.store.load("session:ABC").await.unwrap(), None);
    assert_eq!(fx.count().await, 2);
    fx.drop_table().await;
}

/// SQLite's expiry is SQLAlchemy's text, `YYYY-MM-DD HH:MM:SS.ffffff`, in UTC.
#[tokio::test]
async fn sqlite_expiry_is_sqlalchemy_text() {
    let fx = fixture(Db::Sqlite, "text").await;
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute]");
    let an_hour_ahead = || {
        (time::OffsetDateTime::now_utc() + time::Duration::hours(1))
            .format(format)
            .unwrap()
    };
    // A minute may turn between the save and either clock read.
    let before = an_hour_ahead();
    fx.store
        .save("k", b"v", Duration::from_secs(3600), SaveHint::New)
        .await
        .unwrap();
    let typed = strings(
        fx.pool(),
        &format!("SELECT typeof(expiry), expiry FROM {}", fx.table),
    )
    .await;
    assert_eq!(typed[0][0], "text");
    let text = &typed[0][1];
    let shape: String = text
        .chars()
        .map(|c| if c.is_ascii_digit() { '9' } else { c })
        .collect();
    assert_eq!(shape, "9999-99-99 99:99:99.999999", "{text}");
    let after = an_hour_ahead();
    assert!(
        [before, after].iter().any(|minute| &text[..16] == minute),
        "naive UTC, an hour ahead: {text}"
    );
    // Flask's own comparison, as text against its bound `datetime.utcnow()`.
    let live = strings(fx.pool(), &format!("SELECT CAST(count(*) AS TEXT) FROM {} WHERE expiry > strftime('%Y-%m-%d %H:%M:%f000', 'now')", fx.table)).await;
    assert_eq!(live[0][0], "1");
    fx.drop_table().await;
}

// ------------------------------------------------------------ load_and_touch

/// Counts the statements sqlx runs, from its `sqlx::query` events.
mod statements {
    use super::*;
    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::{Event, Metadata, Subscriber};

    static SEEN: OnceLock<Arc<Mutex<Vec<String>>>> = OnceLock::new();

    struct Recorder(Arc<Mutex<Vec<String>>>);

    struct Text(String);

    impl Visit for Text {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            if matches!(field.name(), "summary" | "db.statement") {
                self.0.push_str(&format!("{value:?} "));
            }
        }
        fn record_str(&mut self, field: &Field, value: &str) {
            if matches!(field.name(), "summary" | "db.statement") {
                self.0.push_str(value);
                self.0.push(' ');
            }
        }
    }

    impl Subscriber for Recorder {
        fn enabled(&self, metadata: &Metadata<'_>) -> bool {
            metadata.target() == "sqlx::query"
        }
        fn new_span(&self, _: &Attributes<'_>) -> Id {
            Id::from_u64(1)
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, event: &Event<'_>) {
            let mut text = Text(String::new());
            event.record(&mut text);
            self.0.lock().unwrap().push(text.0);
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }

    /// Statements mentioning `table` since the recorder was installed.
    /// SQLite logs from its worker thread, possibly just after the caller
    /// got its row: let the log settle first.
    pub async fn settled(table: &str) -> Vec<String> {
        tokio::time::sleep(Duration::from_millis(100)).await;
        mentioning(table)
    }

    /// Statements mentioning `table` since the recorder was installed.
    pub fn mentioning(table: &str) -> Vec<String> {
        let seen = SEEN.get_or_init(|| {
            let seen = Arc::new(Mutex::new(Vec::new()));
            tracing::subscriber::set_global_default(Recorder(seen.clone())).unwrap();
            seen
        });
        seen.lock()
            .unwrap()
            .iter()
            .filter(|s| s.contains(table))
            .cloned()
            .collect()
    }
}

async fn load_and_touch_is_one_statement_and_skips_fresh_sessions(db: Db) {
    statements::mentioning("");
    let fx = fixture(db, "touch").await;
    let name = fx.table.clone();
    let ttl = Duration::from_secs(1000);
    // Fresh: more than 80% of the lifetime left; nothing is written.
    fx.store
        .save("fresh", b"f", ttl, SaveHint::New)
        .await
        .unwrap();
    let before = fx.expiry("fresh").await.unwrap();
    let xmin = |key: &'static str| {
        let pool = fx.pool().clone();
        let name = name.clone();
        async move {
            strings(
                &pool,
                &format!("SELECT xmin::text FROM {name} WHERE session_id = '{key}'"),
            )
            .await
        }
    };
    let version = if db == Db::Postgres {
        Some(xmin("fresh").await)
    } else {
        None
    };
    let start = statements::settled(&name).await.len();
    assert_eq!(
        fx.store
            .load_and_touch("fresh", ttl)
            .await
            .unwrap()
            .as_deref(),
        Some(&b"f"[..])
    );
    let ran = statements::settled(&name).await[start..].to_vec();
    assert_eq!(ran.len(), 1, "one statement: {ran:?}");
    assert_eq!(fx.expiry("fresh").await.unwrap(), before, "not touched");
    if db == Db::Postgres {
        assert_eq!(
            Some(xmin("fresh").await),
            version,
            "the row was not rewritten"
        );
    }

    // Due: saved with 100 s left of a 1000 s lifetime; the touch resets it.
    fx.store
        .save("due", b"d", Duration::from_secs(100), SaveHint::New)
        .await
        .unwrap();
    let before = fx.expiry("due").await.unwrap();
    let start = statements::settled(&name).await.len();
    assert_eq!(
        fx.store
            .load_and_touch("due", ttl)
            .await
            .unwrap()
            .as_deref(),
        Some(&b"d"[..])
    );
    let ran = statements::settled(&name).await[start..].to_vec();
    let expected = if db == Db::Postgres { 1 } else { 2 };
    assert_eq!(ran.len(), expected, "{ran:?}");
    let after = fx.expiry("due").await.unwrap();
    assert!(after > before, "{before} -> {after}");
    assert!(
        after >= fx.expiry("fresh").await.unwrap(),
        "reset to a full lifetime"
    );

    // A miss is one statement too.
    let start = statements::settled(&name).await.len();
    assert_eq!(fx.store.load_and_touch("missing", ttl).await.unwrap(), None);
    assert_eq!(statements::settled(&name).await.len() - start, 1);
    fx.drop_table().await;
}

#[tokio::test]
async fn load_and_touch_is_one_statement_and_skips_fresh_sessions_sqlite() {
    load_and_touch_is_one_statement_and_skips_fresh_sessions(Db::Sqlite).await;
}

#[tokio::test]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn load_and_touch_is_one_statement_and_skips_fresh_sessions_postgres() {
    load_and_touch_is_one_statement_and_skips_fresh_sessions(Db::Postgres).await;
}

#[tokio::test]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn load_and_touch_is_one_statement_and_skips_fresh_sessions_mariadb() {
    load_and_touch_is_one_statement_and_skips_fresh_sessions(Db::MySql).await;
}

// ------------------------------------------------------------ config, binds, errors

#[test]
fn hostile_identifiers_are_refused_at_config_time() {
    for (key, value) in [
        ("sqlalchemy_table", "sessions; DROP TABLE users; --"),
        ("sqlalchemy_table", "sessions\" (id int); --"),
        ("sqlalchemy_table", "`sessions`"),
        ("sqlalchemy_schema", "public.evil"),
        ("sqlalchemy_sequence", "seq'); DROP TABLE x; --"),
        ("sqlalchemy_table", ""),
    ] {
        let error = Settings::builder()
            .set("type", "sqlalchemy")
            .set(key, value)
            .build()
            .unwrap_err()
            .to_string();
        assert!(error.contains(key), "{key} = {value:?}: {error}");
    }
    let error = Settings::builder()
        .env_from([("SESSION_SQLALCHEMY_TABLE", "x y")])
        .build()
        .unwrap_err()
        .to_string();
    assert!(error.contains("SESSION_SQLALCHEMY_TABLE"), "{error}");
}

#[tokio::test]
async fn the_app_can_hand_over_its_pool_or_register_it_under_a_bind_key() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("app.db").display());
    let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
    let mut s = settings("sqlite://ignored.db", "sessions");
    let store = SqlStore::from_client(pool.clone(), &s).await.unwrap();
    assert_eq!(store.dialect(), Dialect::Sqlite);
    store
        .save("k", b"v", Duration::from_secs(60), SaveHint::New)
        .await
        .unwrap();

    s.sqlalchemy_bind_key = Some("sessions_db".to_owned());
    let bound = SqlStore::builder(&s)
        .bind("sessions_db", pool.clone())
        .build()
        .await
        .unwrap();
    assert_eq!(bound.load("k").await.unwrap().as_deref(), Some(&b"v"[..]));

    // A URL of SESSION_SQLALCHEMY_BINDS.
    s.sqlalchemy_binds
        .insert("sessions_db".to_owned(), ConnectionUrl::new(url));
    let from_url = SqlStore::from_settings(&s).await.unwrap();
    assert_eq!(
        from_url.load("k").await.unwrap().as_deref(),
        Some(&b"v"[..])
    );

    // An unknown key is a start-up error naming it.
    s.sqlalchemy_bind_key = Some("nope".to_owned());
    let error = SqlStore::builder(&s)
        .bind("sessions_db", pool)
        .build()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("\"nope\"") && error.contains("SESSION_SQLALCHEMY_BIND_KEY"),
        "{error}"
    );
    assert!(
        error.contains("sessions_db"),
        "lists the known names: {error}"
    );
}

#[tokio::test]
async fn the_default_url_is_an_sqlite_file_that_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = {
        let mut settings = Settings::default();
        settings.session_type = SessionType::SqlAlchemy;
        settings
    };
    // The default URL is relative to the working directory; point it at ours.
    assert_eq!(s.sqlalchemy.as_str(), "sqlite://flask_session.db?mode=rwc");
    s.sqlalchemy = ConnectionUrl::new(format!(
        "sqlite://{}/flask_session.db?mode=rwc",
        dir.path().display()
    ));
    let store = session::store::from_settings(&s).await.unwrap();
    assert_eq!(store.backend(), "sqlite");
    store
        .save("k", b"v", Duration::from_secs(60), SaveHint::New)
        .await
        .unwrap();
    assert!(dir.path().join("flask_session.db").exists());
}

fn dead_port() -> u16 {
    crate::common::free_port()
}

/// Start-up with the database down names the backend and the URL, without
/// the password.
#[tokio::test]
async fn startup_with_the_database_down_is_a_clear_error() {
    for (scheme, backend) in [("postgres", "postgres"), ("mysql", "mysql")] {
        let url = format!("{scheme}://user:hunter2@127.0.0.1:{}/db", dead_port());
        let mut s = settings(&url, "sessions");
        s.connect_timeout = Duration::from_millis(500);
        let started = std::time::Instant::now();
        let error = SqlStore::from_settings(&s).await.unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(3), "fails fast");
        assert!(matches!(error, BuildError::Backend { .. }));
        let text = error.to_string();
        assert!(text.contains(backend), "{text}");
        assert!(text.contains("127.0.0.1") && text.contains("***"), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }
    // An SQLite file that cannot be opened.
    let s = settings("sqlite:///nonexistent-dir/x/y.db", "sessions");
    let text = SqlStore::from_settings(&s).await.unwrap_err().to_string();
    assert!(
        text.contains("sqlite") && text.contains("/nonexistent-dir/x/y.db"),
        "{text}"
    );
}

/// A database that goes away after start-up: requests fail as unavailable
/// (503) within the timeouts. The "server" is a proxy of this test's own,
/// on a port of its own, in front of the shared PostgreSQL.
#[tokio::test]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn a_database_gone_after_startup_is_unavailable_postgres() {
    use tokio::net::{TcpListener, TcpStream};
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let links = Arc::new(Mutex::new(Vec::new()));
    let proxy = tokio::spawn({
        let links = links.clone();
        async move {
            loop {
                let (mut client, _) = listener.accept().await.unwrap();
                links.lock().unwrap().push(tokio::spawn(async move {
                    let mut server = TcpStream::connect("127.0.0.1:5432").await.unwrap();
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }));
            }
        }
    });
    let url = postgres_url().replace("127.0.0.1:5432", &format!("127.0.0.1:{port}"));
    let name = unique_name("gone");
    let mut s = settings(&url, &name);
    s.connect_timeout = Duration::from_millis(500);
    s.operation_timeout = Duration::from_millis(500);
    let store = SqlStore::from_settings(&s).await.unwrap();
    store
        .save("k", b"v", Duration::from_secs(60), SaveHint::New)
        .await
        .unwrap();
    // The server goes away: open connections are cut, new ones refused.
    proxy.abort();
    let _ = proxy.await;
    for link in links.lock().unwrap().drain(..) {
        link.abort();
    }
    let started = std::time::Instant::now();
    let error = loop {
        match store.load("k").await {
            Err(error) => break error,
            Ok(_) => assert!(
                started.elapsed() < Duration::from_secs(5),
                "still answering"
            ),
        }
    };
    assert_eq!(error.kind, StoreErrorKind::Unavailable, "{error}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let admin = SqlPool::from(sqlx::PgPool::connect(&postgres_url()).await.unwrap());
    exec(&admin, &format!("DROP TABLE IF EXISTS {name}")).await;
}
