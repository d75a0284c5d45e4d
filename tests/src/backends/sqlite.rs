//! The SQL store on SQLite: a database file in the demo's own working
//! directory, so every app has its own and no server is needed.

use sqlx::{AssertSqlSafe, SqlitePool};

use super::sql::{runtime, setting_of};
use super::Backend;
use crate::demo::DemoApp;

/// The database file, relative to the demo's working directory.
const FILE: &str = "sessions.db";

/// The SQL store on SQLite, in the demo's working directory.
pub struct Sqlite;

impl Backend for Sqlite {
    fn session_toml(&self, extra: &str) -> String {
        format!("type = \"sql\"\nsqlalchemy = \"sqlite://{FILE}?mode=rwc\"\nsqlalchemy_table = \"sessions\"\n{extra}")
    }

    fn count_records(&self, app: &DemoApp) -> Option<usize> {
        let table = setting_of(app, "sqlalchemy_table");
        let url = format!("sqlite://{}", app.dir.path().join(FILE).display());
        let count = runtime().block_on(async {
            let pool = SqlitePool::connect(&url).await.unwrap();
            let sql = format!("SELECT COUNT(*) FROM \"{table}\"");
            let (count,): (i64,) = sqlx::query_as(AssertSqlSafe(sql))
                .fetch_one(&pool)
                .await
                .unwrap();
            pool.close().await;
            count
        });
        Some(usize::try_from(count).unwrap())
    }
}
