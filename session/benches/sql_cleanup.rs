//! The SQL store with 100,000 sessions, half of them expired: the time of one
//! cleanup pass, and the per-request read (`load_and_touch` of a live
//! session, as a request with sliding expiry does) before and after it.
//!
//! ```sh
//! scripts/services.sh   # PostgreSQL and MariaDB with their sessions_test databases
//! cargo bench -p session-core --features sql --bench sql_cleanup
//! ```
//!
//! It always runs SQLite (a file in a temp dir), and PostgreSQL and MariaDB
//! when they answer (`TEST_POSTGRES_URL`, `TEST_MYSQL_URL`; skipped with a
//! note otherwise). `SQL_BENCH_ROWS` and `SQL_BENCH_READS` change the sizes.
//! Kept out of the test command: it is a measurement, not a check.

#![allow(clippy::unwrap_used, missing_docs)]

use std::time::{Duration, Instant};

use session::config::{ConnectionUrl, SessionType, Settings, SqlIdentifier};
use session::store::sql::sqlx::{self, AssertSqlSafe};
use session::store::sql::{SqlPool, SqlStore};
use session::store::SessionStore;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Fills the table with `rows` sessions of 120 bytes, `session:` + a
/// 43-character sid; even rows expired a day ago, odd rows live for a day.
/// Runs in the database (one statement), not through the store.
fn fill_sql(pool: &SqlPool, table: &str, rows: usize) -> String {
    match pool {
        SqlPool::Postgres(_) => format!(
            "INSERT INTO {table} (session_id, data, expiry) \
             SELECT 'session:' || lpad(g::text, 43, '0'), decode(repeat('ab', 120), 'hex'), \
                    (now() AT TIME ZONE 'utc') + CASE WHEN g % 2 = 0 THEN interval '-1 day' ELSE interval '1 day' END \
             FROM generate_series(1, {rows}) AS g; ANALYZE {table}"
        ),
        SqlPool::MySql(_) => format!(
            "INSERT INTO {table} (session_id, data, expiry) \
             SELECT CONCAT('session:', LPAD(seq, 43, '0')), UNHEX(REPEAT('ab', 120)), \
                    UTC_TIMESTAMP(6) + INTERVAL IF(seq % 2 = 0, -1, 1) DAY \
             FROM seq_1_to_{rows}; ANALYZE TABLE {table}"
        ),
        SqlPool::Sqlite(_) => format!(
            "WITH RECURSIVE g(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM g WHERE x < {rows}) \
             INSERT INTO {table} (session_id, data, expiry) \
             SELECT 'session:' || printf('%043d', x), randomblob(120), \
                    strftime('%Y-%m-%d %H:%M:%f000', 'now', CASE WHEN x % 2 = 0 THEN '-1 day' ELSE '+1 day' END) \
             FROM g; ANALYZE"
        ),
        _ => unreachable!(),
    }
}

async fn exec(pool: &SqlPool, sql: String) {
    let sql = AssertSqlSafe(sql);
    match pool {
        SqlPool::Postgres(p) => drop(sqlx::raw_sql(sql).execute(p).await.unwrap()),
        SqlPool::MySql(p) => drop(sqlx::raw_sql(sql).execute(p).await.unwrap()),
        SqlPool::Sqlite(p) => drop(sqlx::raw_sql(sql).execute(p).await.unwrap()),
        _ => unreachable!(),
    }
}

struct Reads {
    mean: Duration,
    p50: Duration,
    p99: Duration,
}

/// `reads` sequential `load_and_touch` calls on live sessions spread over the
/// table (a fresh session: the read writes nothing).
async fn time_reads(store: &SqlStore, rows: usize, reads: usize) -> Reads {
    let ttl = Duration::from_secs(86_400);
    let mut times = Vec::with_capacity(reads);
    for i in 0..reads {
        let n = (i * 7919 % (rows / 2)) * 2 + 1; // odd: live
        let key = format!("session:{n:043}");
        let start = Instant::now();
        let found = store.load_and_touch(&key, ttl).await.unwrap();
        times.push(start.elapsed());
        assert!(found.is_some(), "{key}");
    }
    times.sort();
    Reads {
        mean: times.iter().sum::<Duration>() / u32::try_from(reads).unwrap(),
        p50: times[reads / 2],
        p99: times[reads * 99 / 100],
    }
}

async fn run(label: &str, url: &str, rows: usize, reads: usize) {
    let table = format!("bench_{}_{}", std::process::id(), label);
    let settings = {
        let mut settings = Settings::default();
        settings.session_type = SessionType::SqlAlchemy;
        settings.sqlalchemy = ConnectionUrl::new(url);
        settings.sqlalchemy_table = SqlIdentifier::new(table.clone()).unwrap();
        settings.operation_timeout = Duration::from_secs(30);
        settings.pool_size = Some(4);
        settings
    };
    let store = match SqlStore::from_settings(&settings).await {
        Ok(store) => store,
        Err(error) => {
            println!("{label:<10} skipped: {error}");
            return;
        }
    };
    let started = Instant::now();
    exec(store.pool(), fill_sql(store.pool(), &table, rows)).await;
    let fill = started.elapsed();
    time_reads(&store, rows, reads / 10).await; // warm up
    let before = time_reads(&store, rows, reads).await;
    let started = Instant::now();
    let removed = store.cleanup().await.unwrap();
    let cleanup = started.elapsed();
    assert_eq!(removed, rows as u64 / 2);
    let after = time_reads(&store, rows, reads).await;
    println!(
        "{label:<10} {rows} rows (filled in {fill:.2?}): cleanup removed {removed} in {cleanup:.2?} \
         ({:.1} µs/row); load_and_touch mean/p50/p99 before {:.0?}/{:.0?}/{:.0?}, after {:.0?}/{:.0?}/{:.0?}",
        cleanup.as_secs_f64() * 1e6 / removed as f64,
        before.mean,
        before.p50,
        before.p99,
        after.mean,
        after.p50,
        after.p99,
    );
    if !url.starts_with("sqlite") {
        // The owner index's table beside it, then the sessions table.
        exec(store.pool(), format!("DROP TABLE {table}_owners")).await;
        exec(store.pool(), format!("DROP TABLE {table}")).await;
    }
    store.close().await;
}

fn main() {
    let rows = env_or("SQL_BENCH_ROWS", 100_000);
    let reads = env_or("SQL_BENCH_READS", 2_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("bench.db").display()
        );
        let postgres = std::env::var("TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/sessions_test".to_owned());
        let mysql = std::env::var("TEST_MYSQL_URL")
            .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/sessions_test".to_owned());
        run("sqlite", &sqlite, rows, reads).await;
        run("postgres", &postgres, rows, reads).await;
        run("mariadb", &mysql, rows, reads).await;
    });
}
