//! The Redis store over the test command's Redis Cluster: masters on
//! 127.0.0.1:7000-7002, each with a replica on 7003-7005. Every app gets a key
//! prefix of its own; records are counted master by master (a replica holds
//! copies).

use super::Backend;
use crate::demo::DemoApp;
use crate::kv_servers::{key_prefix_of, redis_count, unique_prefix, REDIS_CLUSTER};

/// The Redis store on a Cluster, one key prefix per app.
pub struct RedisCluster;

impl Backend for RedisCluster {
    fn session_toml(&self, extra: &str) -> String {
        let prefix = unique_prefix("cluster");
        let nodes = REDIS_CLUSTER
            .map(|node| format!("\"redis://{node}\""))
            .join(", ");
        format!("type = \"redis\"\nredis = [{nodes}]\nkey_prefix = \"{prefix}\"\n{extra}")
    }

    fn count_records(&self, app: &DemoApp) -> Option<usize> {
        let toml = std::fs::read_to_string(app.dir.path().join("Session.toml")).unwrap();
        let prefix = key_prefix_of(&toml);
        Some(
            REDIS_CLUSTER
                .iter()
                .map(|node| redis_count(node, &prefix))
                .sum(),
        )
    }
}
