//! The SQL store on MariaDB (`mysql://`), in the `sessions_test` database the
//! test command creates (or `TEST_MYSQL_URL`). Every app gets a table of its
//! own, so the cases run in parallel; tables of runs older than an hour are
//! dropped when a run starts.

use std::sync::OnceLock;

use sqlx::{AssertSqlSafe, MySqlPool};

use super::sql::{is_stale, runtime, setting_of, unique_table, TABLE_PREFIX};
use super::Backend;
use crate::demo::DemoApp;

/// The test database's URL.
pub fn url() -> String {
    std::env::var("TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/sessions_test".to_owned())
}

/// The SQL store on MariaDB, one table per app.
pub struct MariaDb;

impl Backend for MariaDb {
    fn session_toml(&self, extra: &str) -> String {
        pool();
        format!(
            "type = \"sqlalchemy\"\nsqlalchemy = \"{}\"\nsqlalchemy_table = \"{}\"\npool_size = 2\noperation_timeout = 10\n{extra}",
            url(),
            unique_table()
        )
    }

    fn count_records(&self, app: &DemoApp) -> Option<usize> {
        let table = setting_of(app, "sqlalchemy_table");
        let sql = format!("SELECT COUNT(*) FROM `{table}`");
        let (count,): (i64,) = runtime()
            .block_on(sqlx::query_as(AssertSqlSafe(sql)).fetch_one(pool()))
            .unwrap();
        Some(usize::try_from(count).unwrap())
    }
}

/// One pool for the test binary; the first use drops stale tables.
fn pool() -> &'static MySqlPool {
    static POOL: OnceLock<MySqlPool> = OnceLock::new();
    POOL.get_or_init(|| {
        runtime().block_on(async {
            let pool = MySqlPool::connect(&url()).await.unwrap();
            let tables: Vec<(String,)> = sqlx::query_as(
                "SELECT CAST(table_name AS CHAR) FROM information_schema.tables \
                 WHERE table_schema = DATABASE() AND table_name LIKE CONCAT(?, '%')",
            )
            .bind(TABLE_PREFIX)
            .fetch_all(&pool)
            .await
            .unwrap();
            for (table,) in tables.into_iter().filter(|(t,)| is_stale(t)) {
                let _ = sqlx::raw_sql(AssertSqlSafe(format!("DROP TABLE IF EXISTS `{table}`")))
                    .execute(&pool)
                    .await;
            }
            pool
        })
    })
}
