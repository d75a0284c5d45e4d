//! The memcached store, on the test command's memcached at 127.0.0.1:11211.
//! Every app gets a key prefix of its own, so the cases run in parallel.

use super::Backend;
use crate::demo::DemoApp;
use crate::kv_servers::{key_prefix_of, memcached_count, unique_prefix, MEMCACHED};

/// The memcached store, one key prefix per app.
pub struct Memcached;

impl Backend for Memcached {
    fn session_toml(&self, extra: &str) -> String {
        let prefix = unique_prefix("memcached");
        format!("type = \"memcached\"\nmemcached = [\"{MEMCACHED}\"]\nkey_prefix = \"{prefix}\"\n{extra}")
    }

    fn count_records(&self, app: &DemoApp) -> Option<usize> {
        let toml = std::fs::read_to_string(app.dir.path().join("Session.toml")).unwrap();
        Some(memcached_count(MEMCACHED, &key_prefix_of(&toml)))
    }
}
