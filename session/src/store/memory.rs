//! An in-process store for tests and development. Entries expire, and the map
//! is bounded: expired entries are swept as it grows, and past the capacity the
//! entry closest to expiry is evicted.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{SaveHint, SessionStore, StoreError};

/// The default number of sessions kept before eviction.
pub const DEFAULT_CAPACITY: usize = 100_000;

/// Keys are hashed on every request; foldhash is much cheaper than SipHash
/// and still randomly seeded per process.
type Entries = HashMap<String, Entry, foldhash::fast::RandomState>;

struct Entry {
    value: Vec<u8>,
    expires_at: Instant,
}

/// Sessions in a mutex-guarded map. Cloning shares nothing; wrap it in an
/// `Arc` to share.
pub struct MemoryStore {
    entries: Mutex<Entries>,
    capacity: usize,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("len", &self.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl MemoryStore {
    /// A store holding up to [`DEFAULT_CAPACITY`] sessions.
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }

    /// A store holding up to `capacity` sessions (at least 1).
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(Entries::default()),
            capacity: capacity.max(1),
        }
    }

    /// The number of live entries.
    pub fn len(&self) -> usize {
        let now = Instant::now();
        self.lock().values().filter(|e| e.expires_at > now).count()
    }

    /// True when no live entry is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The raw stored value under `key`, for tests that inspect the store.
    pub fn get_raw(&self, key: &str) -> Option<Vec<u8>> {
        let now = Instant::now();
        self.lock()
            .get(key)
            .filter(|e| e.expires_at > now)
            .map(|e| e.value.clone())
    }

    /// The time to live left on `key`.
    pub fn ttl(&self, key: &str) -> Option<Duration> {
        let now = Instant::now();
        self.lock()
            .get(key)
            .and_then(|e| e.expires_at.checked_duration_since(now))
    }

    fn read_and_touch(&self, key: &str, ttl: Duration) -> Option<Vec<u8>> {
        let now = Instant::now();
        let mut entries = self.lock();
        entries
            .get_mut(key)
            .filter(|e| e.expires_at > now)
            .map(|e| {
                e.expires_at = deadline(now, ttl);
                e.value.clone()
            })
    }

    fn write(&self, key: &str, value: &[u8], ttl: Duration) {
        let now = Instant::now();
        let mut entries = self.lock();
        // Rewriting a live session, the common save, reuses its key and buffer.
        if let Some(entry) = entries.get_mut(key) {
            entry.value.clear();
            entry.value.extend_from_slice(value);
            entry.expires_at = deadline(now, ttl);
            return;
        }
        if entries.len() >= self.capacity {
            entries.retain(|_, e| e.expires_at > now);
            if entries.len() >= self.capacity {
                let soonest = entries
                    .iter()
                    .min_by_key(|(_, e)| e.expires_at)
                    .map(|(k, _)| k.clone());
                if let Some(soonest) = soonest {
                    entries.remove(&soonest);
                }
            }
        }
        entries.insert(
            key.to_owned(),
            Entry {
                value: value.to_vec(),
                expires_at: deadline(now, ttl),
            },
        );
    }

    fn lock(&self) -> MutexGuard<'_, Entries> {
        // A panic while holding the lock cannot leave an entry half-written, so
        // the data stays usable.
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

fn deadline(now: Instant, ttl: Duration) -> Instant {
    now.checked_add(ttl)
        .unwrap_or(now + Duration::from_secs(100 * 365 * 86_400))
}

/// Every operation completes without waiting, so the `*_now` forms answer
/// and the lifecycle never boxes a future for this store.
#[async_trait]
impl SessionStore for MemoryStore {
    fn backend(&self) -> &'static str {
        "memory"
    }

    async fn load(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.get_raw(key))
    }

    async fn load_and_touch(
        &self,
        key: &str,
        ttl: Duration,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.read_and_touch(key, ttl))
    }

    async fn save(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
        _hint: SaveHint,
    ) -> Result<(), StoreError> {
        self.write(key, value, ttl);
        Ok(())
    }

    fn load_now(&self, key: &str) -> Option<Result<Option<Vec<u8>>, StoreError>> {
        Some(Ok(self.get_raw(key)))
    }

    fn load_and_touch_now(
        &self,
        key: &str,
        ttl: Duration,
    ) -> Option<Result<Option<Vec<u8>>, StoreError>> {
        Some(Ok(self.read_and_touch(key, ttl)))
    }

    fn save_now(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
        _hint: SaveHint,
    ) -> Option<Result<(), StoreError>> {
        self.write(key, value, ttl);
        Some(Ok(()))
    }

    fn delete_now(&self, key: &str) -> Option<Result<(), StoreError>> {
        self.lock().remove(key);
        Some(Ok(()))
    }

    async fn touch(&self, key: &str, ttl: Duration) -> Result<(), StoreError> {
        if let Some(e) = self.lock().get_mut(key) {
            e.expires_at = deadline(Instant::now(), ttl);
        }
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.lock().remove(key);
        Ok(())
    }

    async fn cleanup(&self) -> Result<u64, StoreError> {
        let now = Instant::now();
        let mut entries = self.lock();
        let before = entries.len();
        entries.retain(|_, e| e.expires_at > now);
        Ok((before - entries.len()) as u64)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn expired_entries_are_not_served() {
        let store = MemoryStore::new();
        store
            .save("k", b"v", Duration::from_millis(20), SaveHint::New)
            .await
            .unwrap();
        assert_eq!(store.load("k").await.unwrap().as_deref(), Some(&b"v"[..]));
        tokio::time::sleep(Duration::from_millis(40)).await;
        assert_eq!(store.load("k").await.unwrap(), None);
        assert_eq!(store.cleanup().await.unwrap(), 1);
    }

    #[tokio::test]
    async fn growth_is_bounded_by_capacity() {
        let store = MemoryStore::with_capacity(3);
        for i in 0..10 {
            store
                .save(
                    &format!("k{i}"),
                    b"v",
                    Duration::from_secs(60 + i),
                    SaveHint::New,
                )
                .await
                .unwrap();
        }
        assert_eq!(store.len(), 3);
        assert!(store.get_raw("k9").is_some(), "newest kept");
    }

    #[tokio::test]
    async fn a_rewrite_replaces_value_and_ttl_in_place() {
        let store = MemoryStore::with_capacity(1);
        store
            .save(
                "k",
                b"a longer first value",
                Duration::from_secs(5),
                SaveHint::New,
            )
            .await
            .unwrap();
        store
            .save("k", b"v2", Duration::from_secs(500), SaveHint::Existing)
            .await
            .unwrap();
        assert_eq!(store.get_raw("k").as_deref(), Some(&b"v2"[..]));
        assert!(store.ttl("k").unwrap() > Duration::from_secs(400));
        assert_eq!(store.len(), 1);
    }

    #[tokio::test]
    async fn load_and_touch_extends_the_ttl() {
        let store = MemoryStore::new();
        store
            .save("k", b"v", Duration::from_secs(5), SaveHint::New)
            .await
            .unwrap();
        store
            .load_and_touch("k", Duration::from_secs(500))
            .await
            .unwrap();
        assert!(store.ttl("k").unwrap() > Duration::from_secs(400));
    }
}
