//! The storage backends the conformance suite runs against, one file each. A
//! backend describes how to select it in `Session.toml` and, where the test can
//! see the store, how many records it holds.

mod filesystem;
mod mariadb;
mod memcached;
mod memory;
mod mongodb;
mod postgres;
mod redis;
mod redis_cluster;
mod sql;
mod sqlite;

pub use filesystem::Filesystem;
pub use mariadb::MariaDb;
pub use memcached::Memcached;
pub use memory::Memory;
pub use mongodb::MongoDb;
pub use postgres::Postgres;
pub use redis::Redis;
pub use redis_cluster::RedisCluster;
pub use sqlite::Sqlite;

use crate::demo::DemoApp;

/// A storage backend under test.
pub trait Backend {
    /// The `Session.toml` that selects it; `extra` lines are appended.
    fn session_toml(&self, extra: &str) -> String;

    /// How many session records the store holds for this app, where the test
    /// can see the store; `None` where it cannot (the memory store lives inside
    /// the demo process).
    fn count_records(&self, app: &DemoApp) -> Option<usize>;
}
