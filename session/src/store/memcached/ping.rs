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
            .map(|(server, version)| format!("{server} {version}"))
            .collect();
        Ok((!shown.is_empty()).then(|| shown.join(", ")))
    }
}
