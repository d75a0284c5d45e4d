//! The SQL owner index's own layout (the contract is checked by
//! `store_contract!`): a table `<table>_owners` beside Flask's, which stays
//! exactly as Flask made it; MySQL's digest key and the collation copied from
//! Flask's `session_id`; cleanup removes the index rows whose session is
//! gone; with table creation off, a missing index table fails the index
//! operations, not start-up, and the error shows neither owner nor key; an
//! owner PostgreSQL cannot store (a NUL) is a typed error.

use std::time::{Duration, SystemTime};

use session::store::sql::sqlx;
use session::store::sql::{SqlPool, SqlStore};
use session::store::{SaveHint, SessionStore, StoreErrorKind};

use super::{exec, fixture, mysql_url, postgres_url, settings, strings, unique_name, Db};

const HOUR: Duration = Duration::from_secs(3600);

/// A pool on `db`'s test database (a fresh SQLite file), with what must
/// outlive it.
async fn pool(db: Db) -> (SqlPool, Option<tempfile::TempDir>) {
    match db {
        Db::Postgres => (
            SqlPool::from(sqlx::PgPool::connect(&postgres_url()).await.unwrap()),
            None,
        ),
        Db::MySql => (
            SqlPool::from(sqlx::MySqlPool::connect(&mysql_url()).await.unwrap()),
            None,
        ),
        Db::Sqlite => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display());
            let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
            (SqlPool::from(pool), Some(dir))
        }
    }
}

/// Flask-Session 0.8's table as SQLAlchemy creates it (`Integer` id, no
/// index on expiry); on MySQL in a stock MariaDB's default character set.
fn flask_ddl(db: Db, name: &str) -> String {
    match db {
        Db::Postgres => format!(
            "CREATE TABLE {name} (id SERIAL NOT NULL, session_id VARCHAR(255), data BYTEA, \
             expiry TIMESTAMP WITHOUT TIME ZONE, PRIMARY KEY (id), UNIQUE (session_id))"
        ),
        Db::MySql => format!(
            "CREATE TABLE {name} (id INTEGER NOT NULL AUTO_INCREMENT, \
             session_id VARCHAR(255) CHARACTER SET latin1 COLLATE latin1_swedish_ci, data BLOB, \
             expiry DATETIME, PRIMARY KEY (id), UNIQUE (session_id))"
        ),
        Db::Sqlite => format!(
            "CREATE TABLE {name} (id INTEGER NOT NULL, session_id VARCHAR(255), data BLOB, \
             expiry DATETIME, PRIMARY KEY (id), UNIQUE (session_id))"
        ),
    }
}

/// A table's definition as the database reports it: columns (name, type,
/// collation or length), then its indexes.
async fn definition(db: Db, pool: &SqlPool, name: &str) -> Vec<Vec<String>> {
    let (columns, indexes) = match db {
        Db::Postgres => (
            format!(
                "SELECT column_name::text, data_type::text, is_nullable::text, COALESCE(column_default::text, '') \
                 FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = '{name}' \
                 ORDER BY ordinal_position"
            ),
            format!("SELECT indexdef::text FROM pg_indexes WHERE tablename = '{name}' ORDER BY indexname"),
        ),
        Db::MySql => (
            format!(
                "SELECT CAST(column_name AS CHAR), CAST(column_type AS CHAR), CAST(COALESCE(collation_name, '') AS CHAR), \
                 CAST(is_nullable AS CHAR) FROM information_schema.columns \
                 WHERE table_schema = DATABASE() AND table_name = '{name}' ORDER BY ordinal_position"
            ),
            format!(
                "SELECT CAST(index_name AS CHAR), CAST(non_unique AS CHAR), CAST(column_name AS CHAR), \
                 CAST(seq_in_index AS CHAR) FROM information_schema.statistics \
                 WHERE table_schema = DATABASE() AND table_name = '{name}' ORDER BY index_name, seq_in_index"
            ),
        ),
        Db::Sqlite => (
            format!(
                "SELECT name, type, CAST(\"notnull\" AS TEXT), CAST(pk AS TEXT) FROM pragma_table_info('{name}') ORDER BY cid"
            ),
            format!("SELECT type, name, COALESCE(sql, '') FROM sqlite_master WHERE tbl_name = '{name}' ORDER BY name"),
        ),
    };
    let mut found = strings(pool, &columns).await;
    found.extend(strings(pool, &indexes).await);
    found
}

fn row(cells: &[&str]) -> Vec<String> {
    cells.iter().map(|cell| (*cell).to_owned()).collect()
}

async fn the_owner_index_is_a_table_beside_flasks_which_stays_untouched(db: Db) {
    let (pool, _dir) = pool(db).await;
    let name = unique_name("flask_made");
    let owners = format!("{name}_owners");
    exec(&pool, &flask_ddl(db, &name)).await;
    let flask_before = definition(db, &pool, &name).await;
    assert!(flask_before.len() >= 4, "{flask_before:?}");
    assert!(
        definition(db, &pool, &owners).await.is_empty(),
        "no index table yet"
    );

    let store = SqlStore::from_client(pool.clone(), &settings("unused://", &name))
        .await
        .unwrap();
    let index = definition(db, &pool, &owners).await;
    let expected: Vec<Vec<String>> = match db {
        Db::Postgres => vec![
            row(&["owner", "text", "NO", ""]),
            row(&["session_id", "character varying", "NO", ""]),
            row(&["created", "bigint", "NO", ""]),
            vec![format!(
                "CREATE UNIQUE INDEX {owners}_pkey ON public.{owners} USING btree (owner, session_id)"
            )],
        ],
        // The digest keys the owner; session_id compares as Flask's does, so
        // the join can use Flask's unique index.
        Db::MySql => vec![
            row(&["owner_digest", "binary(20)", "", "NO"]),
            row(&["owner", "varchar(1024)", "utf8mb4_bin", "NO"]),
            row(&["session_id", "varchar(255)", "latin1_swedish_ci", "NO"]),
            row(&["created", "bigint(20)", "", "NO"]),
            row(&["PRIMARY", "0", "owner_digest", "1"]),
            row(&["PRIMARY", "0", "session_id", "2"]),
        ],
        Db::Sqlite => vec![
            row(&["owner", "TEXT", "1", "1"]),
            row(&["session_id", "VARCHAR(255)", "1", "2"]),
            row(&["created", "BIGINT", "1", "0"]),
            row(&["index", &format!("sqlite_autoindex_{owners}_1"), ""]),
            row(&[
                "table",
                &owners,
                &format!(
                    "CREATE TABLE \"{owners}\" ( \"owner\" TEXT NOT NULL, \"session_id\" VARCHAR(255) NOT NULL, \
                     \"created\" BIGINT NOT NULL, PRIMARY KEY (\"owner\", \"session_id\") )"
                ),
            ]),
        ],
    };
    assert_eq!(index, expected);

    // Indexed against Flask's table, through the index's own statements.
    let (owner, key) = ("ada:{x}", "session:flask-made");
    let created = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    store.save(key, b"v", HOUR, SaveHint::New).await.unwrap();
    store.add_owned(owner, key, created, HOUR).await.unwrap();
    store.add_owned(owner, key, created, HOUR).await.unwrap();
    let listed = store.list_owned(owner).await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].key, key);
    assert_eq!(listed[0].created, Some(created));
    let rows = strings(
        &pool,
        &format!(
            "SELECT owner, session_id, CAST(created AS {}) FROM {owners}",
            if db == Db::MySql { "CHAR" } else { "TEXT" }
        ),
    )
    .await;
    assert_eq!(rows, [row(&[owner, key, "1800000000"])]);
    if db == Db::MySql {
        let digests = strings(
            &pool,
            &format!(
                "SELECT CAST(COUNT(*) AS CHAR) FROM {owners} WHERE owner_digest = UNHEX(SHA1(owner))"
            ),
        )
        .await;
        assert_eq!(digests, [row(&["1"])], "the digest is SHA-1 of the owner");
    }

    // Flask's table is as Flask made it, and a second start-up is fine.
    SqlStore::from_client(pool.clone(), &settings("unused://", &name))
        .await
        .unwrap();
    assert_eq!(definition(db, &pool, &name).await, flask_before);
    assert_eq!(definition(db, &pool, &owners).await, expected);
    if db != Db::Sqlite {
        for table in [&owners, &name] {
            exec(&pool, &format!("DROP TABLE {table}")).await;
        }
    }
    store.close().await;
}

#[tokio::test]
async fn the_owner_index_is_a_table_beside_flasks_which_stays_untouched_sqlite() {
    the_owner_index_is_a_table_beside_flasks_which_stays_untouched(Db::Sqlite).await;
}

#[tokio::test]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn the_owner_index_is_a_table_beside_flasks_which_stays_untouched_postgres() {
    the_owner_index_is_a_table_beside_flasks_which_stays_untouched(Db::Postgres).await;
}

#[tokio::test]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn the_owner_index_is_a_table_beside_flasks_which_stays_untouched_mariadb() {
    the_owner_index_is_a_table_beside_flasks_which_stays_untouched(Db::MySql).await;
}

async fn cleanup_removes_index_rows_whose_session_is_gone(db: Db) {
    let fx = fixture(db, "owner_cleanup").await;
    let store = &fx.store;
    let now = SystemTime::now();
    for key in ["live", "gone", "expired"] {
        store.save(key, b"v", HOUR, SaveHint::New).await.unwrap();
    }
    for (owner, key) in [
        ("a", "live"),
        ("a", "gone"),
        ("b", "expired"),
        ("b", "live"),
    ] {
        store.add_owned(owner, key, now, HOUR).await.unwrap();
    }
    // The record ends without the index hearing of it.
    store.delete("gone").await.unwrap();
    assert_eq!(fx.expire("session_id = 'expired'").await, 1);

    let indexed = || async {
        let mut rows = strings(
            fx.pool(),
            &format!(
                "SELECT owner, session_id FROM {}_owners ORDER BY owner, session_id",
                fx.table
            ),
        )
        .await;
        rows.sort();
        rows
    };
    assert_eq!(indexed().await.len(), 4);
    assert_eq!(
        store.cleanup().await.unwrap(),
        1,
        "the count is of sessions, not index rows"
    );
    assert_eq!(indexed().await, [row(&["a", "live"]), row(&["b", "live"])]);
    assert_eq!(store.list_owned("a").await.unwrap().len(), 1);
    // The exclusive pass (under the cross-instance lock) prunes too.
    store.delete("live").await.unwrap();
    assert_eq!(store.cleanup_exclusive().await.unwrap(), Some(0));
    assert!(indexed().await.is_empty());
    fx.drop_table().await;
}

#[tokio::test]
async fn cleanup_removes_index_rows_whose_session_is_gone_sqlite() {
    cleanup_removes_index_rows_whose_session_is_gone(Db::Sqlite).await;
}

#[tokio::test]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn cleanup_removes_index_rows_whose_session_is_gone_postgres() {
    cleanup_removes_index_rows_whose_session_is_gone(Db::Postgres).await;
}

#[tokio::test]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn cleanup_removes_index_rows_whose_session_is_gone_mariadb() {
    cleanup_removes_index_rows_whose_session_is_gone(Db::MySql).await;
}

/// With `SESSION_SQLALCHEMY_CREATE_TABLE = false` nothing is created: the
/// store starts over Flask's table, sessions work, and the index operations
/// fail with a typed error that quotes neither the owner nor the key.
#[tokio::test]
async fn without_table_creation_a_missing_index_table_fails_only_the_index() {
    let (pool, _dir) = pool(Db::Sqlite).await;
    let name = unique_name("no_create");
    exec(&pool, &flask_ddl(Db::Sqlite, &name)).await;
    let mut s = settings("unused://", &name);
    s.sqlalchemy_create_table = false;
    let store = SqlStore::from_client(pool.clone(), &s).await.unwrap();
    assert!(definition(Db::Sqlite, &pool, &format!("{name}_owners"))
        .await
        .is_empty());
    let (owner, key) = ("owner-secret", "session:key-secret");
    store.save(key, b"v", HOUR, SaveHint::New).await.unwrap();
    let error = store
        .add_owned(owner, key, SystemTime::now(), HOUR)
        .await
        .unwrap_err();
    assert_eq!(error.kind, StoreErrorKind::Failed);
    assert_eq!(error.operation, "index");
    let shown = format!("{error} {error:?}");
    assert!(shown.contains(&format!("{name}_owners")), "{shown}");
    assert!(
        !shown.contains("secret"),
        "the error quotes an owner or key: {shown}"
    );
    assert!(store.list_owned(owner).await.is_err());
    assert!(store.remove_owned(owner, key).await.is_err());
    assert_eq!(store.load(key).await.unwrap().as_deref(), Some(&b"v"[..]));
}

/// PostgreSQL's text holds no NUL character: an owner with one is a typed
/// error at login that quotes neither owner nor key, and has no sessions.
#[tokio::test]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn an_owner_with_a_nul_is_a_typed_error_on_postgres() {
    let fx = fixture(Db::Postgres, "owner_nul").await;
    let (owner, key) = ("secret\0owner", "session:nul-secret");
    fx.store.save(key, b"v", HOUR, SaveHint::New).await.unwrap();
    let error = fx
        .store
        .add_owned(owner, key, SystemTime::now(), HOUR)
        .await
        .unwrap_err();
    assert_eq!(error.kind, StoreErrorKind::Failed);
    assert_eq!(error.operation, "index");
    let shown = format!("{error} {error:?}");
    assert!(shown.contains("NUL"), "{shown}");
    assert!(!shown.contains("secret"), "{shown}");
    assert!(fx.store.list_owned(owner).await.unwrap().is_empty());
    fx.store.remove_owned(owner, key).await.unwrap();
    fx.drop_table().await;
}
