//! The SQL the store builds, per dialect, without a database.

#![allow(clippy::unwrap_used)]

use sea_query::{MysqlQueryBuilder, PostgresQueryBuilder, SqliteQueryBuilder};
use time::macros::datetime;

use session_config::SqlIdentifier;
use time::PrimitiveDateTime;

use super::queries::sqlite_text;
use super::schema::SessionTable;
use super::Dialect;
use sea_query::Value;

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

/// One cleanup batch of 1000 on a plain `sessions` table.
fn cleanup_sql(dialect: Dialect) -> String {
    let t = table(dialect, None, None);
    let batch = t.cleanup_batch(&t.stamp(AT), 1000);
    match dialect {
        Dialect::Postgres => batch.build(PostgresQueryBuilder).0,
        Dialect::MySql => batch.build(MysqlQueryBuilder).0,
        Dialect::Sqlite => batch.build(SqliteQueryBuilder).0,
    }
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
    assert_eq!(
        cleanup_sql(Dialect::Postgres),
        r#"DELETE FROM "sessions" WHERE "id" = ANY(ARRAY((SELECT "id" FROM "sessions" WHERE "expiry" <= $1 OR "expiry" IS NULL LIMIT $2)))"#
    );
    assert_eq!(
        cleanup_sql(Dialect::MySql),
        "DELETE FROM `sessions` WHERE `expiry` <= ? OR `expiry` IS NULL LIMIT ?"
    );
    assert_eq!(
        cleanup_sql(Dialect::Sqlite),
        r#"DELETE FROM "sessions" WHERE "id" IN (SELECT "id" FROM (SELECT "id" FROM "sessions" WHERE "expiry" <= ? OR "expiry" IS NULL LIMIT ?) AS "b")"#
    );
    let lite = table(Dialect::Sqlite, None, None);
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

#[test]
fn owner_index_statements_per_dialect() {
    let pg = table(Dialect::Postgres, Some("app"), None);
    let v = pg.stamp(AT);
    assert_eq!(
        pg.create_owners_table(None).to_string(PostgresQueryBuilder),
        r#"CREATE TABLE IF NOT EXISTS "app"."sessions_owners" ( "owner" TEXT NOT NULL, "session_id" VARCHAR(255) NOT NULL, "created" BIGINT NOT NULL, PRIMARY KEY ("owner", "session_id") )"#
    );
    let (sql, values) = pg.add_owned("o", "k", 5).build(PostgresQueryBuilder);
    assert_eq!(
        sql,
        r#"INSERT INTO "app"."sessions_owners" ("owner", "session_id", "created") VALUES ($1, $2, $3) ON CONFLICT ("owner", "session_id") DO UPDATE SET "created" = "excluded"."created""#
    );
    assert_eq!(values.0.len(), 3);
    assert_eq!(
        pg.list_owned("o", &v).build(PostgresQueryBuilder).0,
        r#"SELECT "o"."session_id", "o"."created", "s"."expiry" FROM "app"."sessions_owners" AS "o" LEFT JOIN "app"."sessions" AS "s" ON "s"."session_id" = "o"."session_id" AND "s"."expiry" > $1 WHERE "o"."owner" = $2"#
    );
    assert_eq!(
        pg.prune_owned(None, &v).build(PostgresQueryBuilder).0,
        r#"DELETE FROM "app"."sessions_owners" WHERE NOT EXISTS(SELECT 1 FROM "app"."sessions" WHERE "app"."sessions"."session_id" = "app"."sessions_owners"."session_id" AND "app"."sessions"."expiry" > $1)"#
    );

    let my = table(Dialect::MySql, None, None);
    let v = my.stamp(AT);
    assert_eq!(
        my.create_owners_table(Some(("utf8mb4", "utf8mb4_general_ci")))
            .to_string(MysqlQueryBuilder),
        "CREATE TABLE IF NOT EXISTS `sessions_owners` ( `owner_digest` BINARY(20) NOT NULL, \
         `owner` VARCHAR(1024) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL, \
         `session_id` VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL, \
         `created` BIGINT NOT NULL, PRIMARY KEY (`owner_digest`, `session_id`) )"
    );
    assert!(my
        .create_owners_table(None)
        .to_string(MysqlQueryBuilder)
        .contains("`session_id` VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL"));
    let (sql, values) = my.add_owned("o", "k", 5).build(MysqlQueryBuilder);
    assert_eq!(
        sql,
        "INSERT INTO `sessions_owners` (`owner`, `session_id`, `created`, `owner_digest`) VALUES (?, ?, ?, ?) \
         ON DUPLICATE KEY UPDATE `created` = VALUES(`created`)"
    );
    // SHA-1 of "o".
    assert_eq!(
        values.0[3],
        Value::Bytes(Some(
            b"\x7a\x81\xaf\x3e\x59\x1a\xc7\x13\xf8\x1e\xa1\xef\xe9\x3d\xcf\x36\x15\x7d\x83\x76"
                .to_vec()
        ))
    );
    assert_eq!(
        my.remove_owned("o", "k").build(MysqlQueryBuilder).0,
        "DELETE FROM `sessions_owners` WHERE `owner_digest` = ? AND `owner` = ? AND `session_id` = ?"
    );
    assert_eq!(
        my.list_owned("o", &v).build(MysqlQueryBuilder).0,
        "SELECT `o`.`session_id`, `o`.`created`, `s`.`expiry` FROM `sessions_owners` AS `o` \
         LEFT JOIN `sessions` AS `s` ON `s`.`session_id` = `o`.`session_id` AND `s`.`expiry` > ? \
         WHERE `o`.`owner_digest` = ? AND `o`.`owner` = ?"
    );
    assert_eq!(
        my.prune_owned(Some("o"), &v).build(MysqlQueryBuilder).0,
        "DELETE FROM `sessions_owners` WHERE `owner_digest` = ? AND `owner` = ? AND (NOT EXISTS(SELECT 1 FROM `sessions` \
         WHERE `sessions`.`session_id` = `sessions_owners`.`session_id` AND `sessions`.`expiry` > ?))"
    );

    let lite = table(Dialect::Sqlite, Some("aux"), None);
    assert_eq!(
        lite.create_owners_table(None).to_string(SqliteQueryBuilder),
        r#"CREATE TABLE IF NOT EXISTS "aux"."sessions_owners" ( "owner" TEXT NOT NULL, "session_id" VARCHAR(255) NOT NULL, "created" BIGINT NOT NULL, PRIMARY KEY ("owner", "session_id") )"#
    );
}

#[test]
fn long_table_names_keep_the_owner_table_name_within_limits() {
    let ident = |s: String| SqlIdentifier::new(s).unwrap();
    let long = "t".repeat(63);
    let a = SessionTable::new(Dialect::Postgres, &ident(long.clone()), None, None);
    let b = SessionTable::new(
        Dialect::Postgres,
        &ident(format!("{}u", &long[..62])),
        None,
        None,
    );
    for t in [&a, &b] {
        let name = t.owners_name();
        assert!(name.len() <= 63 && name.ends_with("_owners"), "{name}");
    }
    assert_ne!(a.owners_name(), b.owners_name());
    let short = SessionTable::new(Dialect::Postgres, &ident("t".repeat(56)), None, None);
    assert_eq!(short.owners_name(), format!("{}_owners", "t".repeat(56)));
}
