//! What one round trip to a store tells: for health checks and `sessionctl ping`.

/// The key the default [`SessionStore::ping`](super::SessionStore::ping) reads:
/// no sid has a `:`, so no session is ever stored under it.
pub(crate) const PING_KEY: &str = "sessionctl:ping";

/// The answer of [`SessionStore::ping`](super::SessionStore::ping).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PingInfo {
    /// The server's version as it reports it (`7.2.4`, `PostgreSQL 16.4 on …`),
    /// or `None` where the backend does not tell (files, memory).
    pub version: Option<String>,
}

impl PingInfo {
    /// An answer that carries the server's version, where one was reported.
    pub fn with_version(version: Option<String>) -> Self {
        Self { version }
    }
}

#[cfg(all(test, feature = "memory"))]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryStore;
    use crate::store::SessionStore;

    #[tokio::test]
    async fn the_default_reads_and_reports_no_version() {
        let store = MemoryStore::new();
        assert_eq!(store.ping().await.unwrap(), PingInfo::default());
        assert_eq!(store.load(PING_KEY).await.unwrap(), None, "nothing written");
    }
}
