//! `SESSION_TYPE = null`: reads find nothing and a write is a clear error.

use std::time::{Duration, SystemTime};

use async_trait::async_trait;

use super::{IndexedSession, SaveHint, SessionStore, StoreError, StoreErrorKind, WriteOutcome};

/// The store for disabled sessions.
#[derive(Debug, Clone, Copy, Default)]
pub struct NullStore;

/// Why a write to the null store fails.
#[derive(Debug, thiserror::Error)]
#[error("sessions are disabled because SESSION_TYPE is null; set SESSION_TYPE (or `type` in Session.toml) to a backend such as memory, filesystem or redis")]
pub struct SessionsDisabled;

fn disabled(operation: &'static str) -> StoreError {
    StoreError {
        backend: "null",
        operation,
        kind: StoreErrorKind::Disabled,
        source: Box::new(SessionsDisabled),
    }
}

#[async_trait]
impl SessionStore for NullStore {
    fn backend(&self) -> &'static str {
        "null"
    }

    async fn load(&self, _key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(None)
    }

    async fn save(
        &self, _key: &str, _value: &[u8], _ttl: Duration, _hint: SaveHint,
    ) -> Result<(), StoreError> {
        Err(disabled("save"))
    }

    async fn save_if_unchanged(
        &self, _key: &str, _expected: &[u8], _value: &[u8], _ttl: Duration,
    ) -> Result<WriteOutcome, StoreError> {
        Err(disabled("save"))
    }

    async fn insert_new(
        &self, _key: &str, _value: &[u8], _ttl: Duration,
    ) -> Result<WriteOutcome, StoreError> {
        Err(disabled("save"))
    }

    async fn touch(&self, _key: &str, _ttl: Duration) -> Result<(), StoreError> {
        Ok(())
    }

    async fn delete(&self, _key: &str) -> Result<(), StoreError> {
        Ok(())
    }

    async fn add_owned(
        &self, _owner: &str, _key: &str, _created: SystemTime, _ttl: Duration,
    ) -> Result<(), StoreError> {
        Err(disabled("index"))
    }

    async fn remove_owned(&self, _owner: &str, _key: &str) -> Result<(), StoreError> {
        Ok(())
    }

    /// Nothing is ever stored, so no one owns a session.
    async fn list_owned(&self, _owner: &str) -> Result<Vec<IndexedSession>, StoreError> {
        Ok(Vec::new())
    }
}
