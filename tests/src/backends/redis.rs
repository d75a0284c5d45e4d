//! The Redis store, on the shared Redis at 127.0.0.1:6379. Every app gets a
//! key prefix of its own, so the cases run in parallel.

use super::Backend;
use crate::demo::DemoApp;
use crate::kv_servers::{key_prefix_of, redis_count, unique_prefix, REDIS};

/// The Redis store, one key prefix per app.
pub struct Redis;

impl Backend for Redis {
    fn session_toml(&self, extra: &str) -> String {
        let prefix = unique_prefix("redis");
        format!(
            "type = \"redis\"\nredis = [\"redis://{REDIS}\"]\nkey_prefix = \"{prefix}\"\n{extra}"
        )
    }

    fn count_records(&self, app: &DemoApp) -> Option<usize> {
        let toml = std::fs::read_to_string(app.dir.path().join("Session.toml")).unwrap();
        Some(redis_count(REDIS, &key_prefix_of(&toml)))
    }
}
