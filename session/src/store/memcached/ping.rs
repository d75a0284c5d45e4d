//! `ping` on memcached: `version`, answered by every server.

use super::MemcachedStore;
use crate::store::ping::PING_KEY;
use crate::store::StoreError;

impl MemcachedStore {
    /// The servers' versions, `host:port version` each, joined by `, `.
    pub(super) async fn server_version(&self) -> Result<Option<String>, StoreError> {
        let versions = self
            .blocking("ping", PING_KEY, |client, _| client.version())
            .await?;
        let shown: Vec<String> = versions
            .into_iter()
            .map(|(server, version)| format!("{} {version}", host_port(&server)))
            .collect();
        Ok((!shown.is_empty()).then(|| shown.join(", ")))
    }
}

/// `host:port` of the client's server URL (`memcache://host:port?protocol=…`).
fn host_port(server: &str) -> &str {
    let rest = server.strip_prefix("memcache://").unwrap_or(server);
    rest.split(['?', '/']).next().unwrap_or(rest)
}

#[cfg(test)]
mod tests {
    use super::host_port;

    #[test]
    fn servers_are_shown_as_host_and_port() {
        assert_eq!(
            host_port("memcache://127.0.0.1:11211?protocol=ascii&timeout=1"),
            "127.0.0.1:11211"
        );
        assert_eq!(host_port("10.0.0.1:11211"), "10.0.0.1:11211");
    }
}
