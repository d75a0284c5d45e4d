//! An in-process store for tests and development. Entries expire, and the map
//! is bounded. Past its capacity, expired entries are pruned first; then, by
//! default, a new session is refused (a live session is never evicted to make
//! room, so a flood of anonymous requests cannot log users out), or, with
//! [`WhenFull::EvictOldest`], the entry closest to expiry is evicted.
//!
//! Finding the entry closest to expiry is a heap pop, not a scan: the heap
//! holds each key with its expiry as of its insertion, and a touch that only
//! moves the expiry later does not update it (the hot path stays one map
//! look-up; only a shortened expiry pushes a new record). A popped record
//! whose key was touched since is pushed again with its current expiry, one
//! whose key is gone or that a newer record replaced is dropped, so each pop
//! costs O(log n) amortised.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use async_trait::async_trait;
use session_config::{Settings, WhenFull};

use super::{InProcessStore, IndexedSession, SaveHint, SessionStore, StoreError, WriteOutcome};

/// The default number of sessions kept.
pub const DEFAULT_CAPACITY: usize = 100_000;

const BACKEND: &str = "memory";

/// Keys are hashed on every request; foldhash is much cheaper than SipHash
/// and still randomly seeded per process.
type Map = HashMap<Arc<str>, Entry, foldhash::fast::RandomState>;

struct Entry {
    value: Vec<u8>,
    expires_at: Instant,
    /// The expiry this entry's heap record carries: never later than
    /// `expires_at`, so the heap never hides an entry that expires sooner.
    queued_at: Instant,
}

impl Entry {
    /// Sets the expiry; true when it moved before the heap record, which
    /// must then be pushed again.
    fn expire_at(&mut self, expires_at: Instant) -> bool {
        self.expires_at = expires_at;
        if expires_at < self.queued_at {
            self.queued_at = expires_at;
            return true;
        }
        false
    }
}

/// The map and its expiry heap, under one lock.
#[derive(Default)]
struct Entries {
    map: Map,
    /// Soonest expiry first; see the module documentation.
    by_expiry: BinaryHeap<Reverse<(Instant, Arc<str>)>>,
}

/// Each owner's session keys, with when the owner logged in.
type Owners = HashMap<String, HashMap<String, SystemTime>>;

/// Sessions in a mutex-guarded map. Cloning shares nothing; wrap it in an
/// `Arc` to share.
pub struct MemoryStore {
    entries: Mutex<Entries>,
    /// The owner index, under a lock of its own: it changes only at login
    /// and logout, so the session map's lock never waits for it.
    owners: Mutex<Owners>,
    capacity: usize,
    when_full: WhenFull,
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
            .field("when_full", &self.when_full)
            .finish()
    }
}

impl MemoryStore {
    /// A store holding up to [`DEFAULT_CAPACITY`] sessions, refusing new
    /// ones past it.
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }

    /// A store holding up to `capacity` sessions (at least 1), refusing new
    /// ones past it.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            entries: Mutex::new(Entries::default()),
            owners: Mutex::new(Owners::default()),
            capacity: capacity.max(1),
            when_full: WhenFull::Refuse,
        }
    }

    /// A store of [`DEFAULT_CAPACITY`] that does what `SESSION_WHEN_FULL`
    /// says when full.
    pub fn from_settings(settings: &Settings) -> Self {
        Self::with_capacity(DEFAULT_CAPACITY).when_full(settings.when_full)
    }

    /// What to do with a new session once the store is full of live ones.
    pub fn when_full(mut self, when_full: WhenFull) -> Self {
        self.when_full = when_full;
        self
    }

    /// The number of live entries.
    pub fn len(&self) -> usize {
        let now = Instant::now();
        self.lock()
            .map
            .values()
            .filter(|e| e.expires_at > now)
            .count()
    }

    /// True when no live entry is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The raw stored value under `key`, for tests that inspect the store.
    pub fn get_raw(&self, key: &str) -> Option<Vec<u8>> {
        let now = Instant::now();
        self.lock()
            .map
            .get(key)
            .filter(|e| e.expires_at > now)
            .map(|e| e.value.clone())
    }

    /// The time to live left on `key`.
    pub fn ttl(&self, key: &str) -> Option<Duration> {
        let now = Instant::now();
        self.lock()
            .map
            .get(key)
            .and_then(|e| e.expires_at.checked_duration_since(now))
    }

    fn read_and_touch(&self, key: &str, ttl: Duration) -> Option<Vec<u8>> {
        let now = Instant::now();
        let mut entries = self.lock();
        entries.set_expiry(
            key,
            deadline(now, ttl),
            |e| e.expires_at > now,
            |e| e.value.clone(),
        )
    }

    fn write(&self, key: &str, value: &[u8], ttl: Duration) -> Result<(), StoreError> {
        let now = Instant::now();
        let expires_at = deadline(now, ttl);
        let mut entries = self.lock();
        // Rewriting a session, the common save, reuses its key and buffer.
        let rewritten = entries.set_expiry(
            key,
            expires_at,
            |_| true,
            |entry| {
                entry.value.clear();
                entry.value.extend_from_slice(value);
            },
        );
        if rewritten.is_some() {
            return Ok(());
        }
        self.insert_locked(&mut entries, key, value, expires_at, now)
    }

    /// Inserts a key that has no entry, making room as `when_full` says.
    fn insert_locked(
        &self, entries: &mut Entries, key: &str, value: &[u8], expires_at: Instant, now: Instant,
    ) -> Result<(), StoreError> {
        if entries.map.len() >= self.capacity {
            entries.prune_expired(now);
        }
        if entries.map.len() >= self.capacity {
            match self.when_full {
                WhenFull::EvictOldest => entries.evict_soonest(),
                _ => {
                    tracing::warn!(
                        capacity = self.capacity,
                        "the memory session store is full of live sessions: a new session is refused (503); \
                         raise its capacity (MemoryStore::with_capacity), or set SESSION_WHEN_FULL = evict_oldest"
                    );
                    return Err(StoreError::unavailable(
                        BACKEND,
                        "save",
                        format!("the store is full ({} live sessions)", self.capacity),
                    ));
                }
            }
        }
        entries.insert(key, value, expires_at);
        Ok(())
    }

    fn lock_owners(&self) -> MutexGuard<'_, Owners> {
        // Each update is one map operation: a panic cannot leave it half done.
        self.owners
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn lock(&self) -> MutexGuard<'_, Entries> {
        // A panic while holding the lock cannot leave an entry half-written, so
        // the data stays usable.
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Entries {
    /// Moves `key`'s expiry, if it has an entry that `live` accepts, then
    /// runs `then` on the entry. One look-up, unless the expiry moved
    /// earlier than the heap record: that gets a new record.
    fn set_expiry<R>(
        &mut self, key: &str, expires_at: Instant, live: impl FnOnce(&Entry) -> bool,
        then: impl FnOnce(&mut Entry) -> R,
    ) -> Option<R> {
        let entry = self.map.get_mut(key)?;
        if !live(entry) {
            return None;
        }
        let shortened = entry.expire_at(expires_at);
        let result = then(entry);
        if shortened {
            if let Some((shared_key, _)) = self.map.get_key_value(key) {
                let record = Reverse((expires_at, Arc::clone(shared_key)));
                self.by_expiry.push(record);
            }
        }
        Some(result)
    }

    fn insert(&mut self, key: &str, value: &[u8], expires_at: Instant) {
        let key: Arc<str> = Arc::from(key);
        self.by_expiry.push(Reverse((expires_at, Arc::clone(&key))));
        self.map.insert(
            key,
            Entry {
                value: value.to_vec(),
                expires_at,
                queued_at: expires_at,
            },
        );
        // Deleted keys leave their heap entries behind until popped; rebuild
        // before they outnumber the live ones, so memory stays bounded.
        if self.by_expiry.len() > 2 * self.map.len() + 64 {
            self.by_expiry = self
                .map
                .iter()
                .map(|(key, entry)| Reverse((entry.queued_at, Arc::clone(key))))
                .collect();
        }
    }

    fn remove(&mut self, key: &str) {
        self.map.remove(key);
    }

    /// The key whose entry expires soonest, with its expiry, after settling
    /// the heap's stale front.
    fn soonest(&mut self) -> Option<(Instant, Arc<str>)> {
        while let Some(Reverse((recorded, key))) = self.by_expiry.pop() {
            let Some(entry) = self.map.get_mut(&key) else {
                continue; // deleted since
            };
            if recorded != entry.queued_at {
                continue; // replaced by a record of a shortened expiry
            }
            if entry.expires_at == recorded {
                return Some((recorded, key));
            }
            // Touched since: back in at its current expiry.
            entry.queued_at = entry.expires_at;
            self.by_expiry.push(Reverse((entry.expires_at, key)));
        }
        None
    }

    /// Removes every expired entry; returns how many.
    fn prune_expired(&mut self, now: Instant) -> u64 {
        let mut removed = 0;
        while let Some((expires_at, key)) = self.soonest() {
            if expires_at > now {
                self.by_expiry.push(Reverse((expires_at, key)));
                break;
            }
            self.map.remove(&key);
            removed += 1;
        }
        removed
    }

    /// Evicts the entry closest to expiry, as Flask's cachelib stores do.
    fn evict_soonest(&mut self) {
        if let Some((_, key)) = self.soonest() {
            self.map.remove(&key);
        }
    }
}

fn deadline(now: Instant, ttl: Duration) -> Instant {
    now.checked_add(ttl)
        .unwrap_or(now + Duration::from_secs(100 * 365 * 86_400))
}

/// Every operation completes without waiting: the async methods answer
/// through the [`InProcessStore`] face, which the lifecycle calls directly.
#[async_trait]
impl SessionStore for MemoryStore {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn load(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.load_now(key)
    }

    async fn load_and_touch(
        &self, key: &str, ttl: Duration,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        self.load_and_touch_now(key, ttl)
    }

    async fn save(
        &self, key: &str, value: &[u8], ttl: Duration, hint: SaveHint,
    ) -> Result<(), StoreError> {
        self.save_now(key, value, ttl, hint)
    }

    async fn save_if_unchanged(
        &self, key: &str, expected: &[u8], value: &[u8], ttl: Duration,
    ) -> Result<WriteOutcome, StoreError> {
        self.save_if_unchanged_now(key, expected, value, ttl)
    }

    async fn insert_new(
        &self, key: &str, value: &[u8], ttl: Duration,
    ) -> Result<WriteOutcome, StoreError> {
        self.insert_new_now(key, value, ttl)
    }

    async fn touch(&self, key: &str, ttl: Duration) -> Result<(), StoreError> {
        let now = Instant::now();
        let expires_at = deadline(now, ttl);
        // An expired entry not yet pruned stays expired, as in every store.
        self.lock()
            .set_expiry(key, expires_at, |e| e.expires_at > now, |_| ());
        Ok(())
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.delete_now(key)
    }

    async fn cleanup(&self) -> Result<u64, StoreError> {
        Ok(self.lock().prune_expired(Instant::now()))
    }

    async fn add_owned(
        &self, owner: &str, key: &str, created: SystemTime, _ttl: Duration,
    ) -> Result<(), StoreError> {
        self.lock_owners()
            .entry(owner.to_owned())
            .or_default()
            .insert(key.to_owned(), created);
        Ok(())
    }

    async fn remove_owned(&self, owner: &str, key: &str) -> Result<(), StoreError> {
        let mut owners = self.lock_owners();
        if let Some(keys) = owners.get_mut(owner) {
            keys.remove(key);
            if keys.is_empty() {
                owners.remove(owner);
            }
        }
        Ok(())
    }

    async fn list_owned(&self, owner: &str) -> Result<Vec<IndexedSession>, StoreError> {
        let mut owners = self.lock_owners();
        let Some(keys) = owners.get_mut(owner) else {
            return Ok(Vec::new());
        };
        let now = Instant::now();
        let wall_now = SystemTime::now();
        let entries = self.lock();
        let mut live = Vec::with_capacity(keys.len());
        keys.retain(|key, created| {
            let Some(left) = entries
                .map
                .get(key.as_str())
                .and_then(|entry| entry.expires_at.checked_duration_since(now))
                .filter(|left| !left.is_zero())
            else {
                return false;
            };
            live.push(IndexedSession::new(
                key.clone(),
                Some(*created),
                wall_now.checked_add(left),
            ));
            true
        });
        if keys.is_empty() {
            owners.remove(owner);
        }
        Ok(live)
    }

    fn in_process(&self) -> Option<&dyn InProcessStore> {
        Some(self)
    }
}

impl InProcessStore for MemoryStore {
    fn load_now(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.get_raw(key))
    }

    fn load_and_touch_now(&self, key: &str, ttl: Duration) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.read_and_touch(key, ttl))
    }

    fn save_now(
        &self, key: &str, value: &[u8], ttl: Duration, _hint: SaveHint,
    ) -> Result<(), StoreError> {
        self.write(key, value, ttl)
    }

    fn save_if_unchanged_now(
        &self, key: &str, expected: &[u8], value: &[u8], ttl: Duration,
    ) -> Result<WriteOutcome, StoreError> {
        let now = Instant::now();
        let mut entries = self.lock();
        let outcome = entries.set_expiry(
            key,
            deadline(now, ttl),
            |e| e.expires_at > now && e.value == expected,
            |e| {
                e.value.clear();
                e.value.extend_from_slice(value);
            },
        );
        if outcome.is_some() {
            return Ok(WriteOutcome::Saved);
        }
        Ok(match entries.map.get(key).filter(|e| e.expires_at > now) {
            Some(current) => WriteOutcome::Changed(current.value.clone()),
            None => WriteOutcome::Gone,
        })
    }

    fn insert_new_now(
        &self, key: &str, value: &[u8], ttl: Duration,
    ) -> Result<WriteOutcome, StoreError> {
        let now = Instant::now();
        let mut entries = self.lock();
        match entries.map.get(key) {
            Some(current) if current.expires_at > now => {
                Ok(WriteOutcome::Changed(current.value.clone()))
            }
            _ => {
                // An expired entry under the key is replaced like a missing one.
                entries.remove(key);
                self.insert_locked(&mut entries, key, value, deadline(now, ttl), now)?;
                Ok(WriteOutcome::Saved)
            }
        }
    }

    fn delete_now(&self, key: &str) -> Result<(), StoreError> {
        self.lock().remove(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
