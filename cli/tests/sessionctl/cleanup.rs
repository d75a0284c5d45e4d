//! `cleanup` removes exactly the expired records, on SQL and the filesystem.

use std::time::Duration;

use session::store::sql::sqlx::{self, AssertSqlSafe};
use session::SaveHint;

use crate::support::{manager, runtime, sessionctl, unique, MARIADB_URL, POSTGRES_URL};

const RECORD: &[u8] = b"\x81\xa5value\xa244";

/// Writes three records that expire in a second and two that live on, waits
/// for the three to expire, then runs `cleanup` twice: 3, then 0. The live
/// records still load afterwards.
fn removes_exactly_the_expired(env: &[(&str, &str)], backend: &str) {
    let rt = runtime();
    let manager = rt.block_on(manager(env));
    let store = manager.store().clone();
    let prefix = unique("cli:");
    rt.block_on(async {
        for n in 0..3 {
            let key = format!("{prefix}expired{n}");
            store
                .save(&key, RECORD, Duration::from_secs(1), SaveHint::New)
                .await
                .unwrap();
        }
        for n in 0..2 {
            let key = format!("{prefix}live{n}");
            store
                .save(&key, RECORD, Duration::from_secs(3600), SaveHint::New)
                .await
                .unwrap();
        }
    });
    std::thread::sleep(Duration::from_millis(2100));

    let dir = tempfile::tempdir().unwrap();
    let json = sessionctl(dir.path(), env, &["cleanup", "--json"])
        .ok()
        .json();
    assert_eq!(json["backend"], backend, "{json}");
    assert_eq!(json["removed"], 3, "{json}");
    let again = sessionctl(dir.path(), env, &["cleanup"]).ok();
    assert!(
        again.stdout.starts_with("removed 0 expired sessions from "),
        "{again:?}"
    );
    rt.block_on(async {
        for n in 0..2 {
            let key = format!("{prefix}live{n}");
            assert!(store.load(&key).await.unwrap().is_some(), "{key}");
        }
    });
}

/// The rows of `table` on the server at `url`.
fn sql_rows(url: &str, table: &str) -> i64 {
    runtime().block_on(async {
        let sql = format!("SELECT COUNT(*) FROM {table}");
        let count: (i64,) = if url.starts_with("postgres") {
            let pool = sqlx::PgPool::connect(url).await.unwrap();
            sqlx::query_as(AssertSqlSafe(sql))
                .fetch_one(&pool)
                .await
                .unwrap()
        } else if url.starts_with("mysql") {
            let pool = sqlx::MySqlPool::connect(url).await.unwrap();
            sqlx::query_as(AssertSqlSafe(sql))
                .fetch_one(&pool)
                .await
                .unwrap()
        } else {
            let pool = sqlx::SqlitePool::connect(url).await.unwrap();
            sqlx::query_as(AssertSqlSafe(sql))
                .fetch_one(&pool)
                .await
                .unwrap()
        };
        count.0
    })
}

fn on_sql(url: &str, backend: &str) {
    let table = unique("conf_");
    let env = [
        ("SESSION_TYPE", "sqlalchemy"),
        ("SESSION_SQLALCHEMY", url),
        ("SESSION_SQLALCHEMY_TABLE", &table),
    ];
    removes_exactly_the_expired(&env, backend);
    assert_eq!(sql_rows(url, &table), 2, "the live rows remain");
}

#[test]
fn sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display());
    on_sql(&url, "sqlite");
}

#[test]
#[ignore = "needs live servers (scripts/services.sh): PostgreSQL on 5432"]
fn postgres() {
    on_sql(POSTGRES_URL, "postgres");
}

#[test]
#[ignore = "needs live servers (scripts/services.sh): MariaDB on 3306"]
fn mariadb() {
    on_sql(MARIADB_URL, "mysql");
}

#[test]
fn filesystem() {
    let dir = tempfile::tempdir().unwrap();
    let sessions = dir.path().join("sessions");
    let env = [
        ("SESSION_TYPE", "filesystem"),
        ("SESSION_FILE_DIR", sessions.to_str().unwrap()),
    ];
    removes_exactly_the_expired(&env, "filesystem");
    // Session files: the write-lock files (`.write-lock-XX`) stay by design.
    let files = std::fs::read_dir(&sessions)
        .unwrap()
        .map(|entry| entry.unwrap())
        .filter(|entry| entry.file_type().unwrap().is_file())
        .filter(|entry| !entry.file_name().to_string_lossy().starts_with('.'))
        .count();
    assert_eq!(files, 2, "the live files remain");
}
