//! Storage backends behind one small, object-safe trait: bytes in, bytes out.
//! The codec sits above it, so a store never sees serde or the session map.
//!
//! Each backend is one module, behind its own cargo feature. [`from_settings`]
//! builds the one that `SESSION_TYPE` selects.
//!
//! A store implements the async methods; one that never waits (it keeps
//! sessions in this process, as the memory store does) may also expose an
//! [`InProcessStore`] through [`SessionStore::in_process`], which the
//! lifecycle tries first so that such a store costs no boxed future per
//! operation.

#[cfg(any(feature = "filesystem", feature = "_sql"))]
mod cleanup_task;
mod error;
#[cfg(feature = "filesystem")]
pub mod filesystem;
#[cfg(feature = "memcached")]
pub mod memcached;
#[cfg(feature = "memory")]
pub mod memory;
#[cfg(feature = "mongodb")]
pub mod mongodb;
pub mod null;
mod owner_index;
mod ping;
#[cfg(feature = "redis")]
pub mod redis;
#[cfg(feature = "_sql")]
pub mod sql;
// Each helper serves some of the server backends: a build without all of
// them leaves some unused.
#[cfg_attr(
    not(all(
        feature = "redis",
        feature = "memcached",
        feature = "mongodb",
        feature = "_sql"
    )),
    allow(dead_code)
)]
mod support;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use session_config::{SessionType, Settings};

pub use error::{BoxError, BuildError, StoreError, StoreErrorKind, StoreResult};
pub use owner_index::{IndexedSession, MAX_OWNER_LEN};
pub use ping::PingInfo;
// For the backends that store times as unix seconds: unused by a build
// with none of them.
#[cfg_attr(
    not(any(
        feature = "_sql",
        feature = "redis",
        feature = "memcached",
        feature = "filesystem"
    )),
    allow(unused_imports)
)]
pub(crate) use owner_index::{from_unix_seconds, unix_seconds};
pub(crate) use support::hex;
pub use support::{TimedOut, Timeouts};

#[cfg(feature = "filesystem")]
use self::filesystem::FileStore;
#[cfg(feature = "memcached")]
use self::memcached::MemcachedStore;
#[cfg(feature = "mongodb")]
use self::mongodb::MongoStore;
#[cfg(feature = "redis")]
use self::redis::RedisStore;
#[cfg(feature = "_sql")]
use self::sql::SqlStore;

/// Whether a save writes a session that was loaded from the store or a new one.
/// SQL stores use it to update first or insert first, so no id is burnt on a
/// conflict; other stores ignore it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveHint {
    /// The record was read from the store in this request.
    Existing,
    /// The record is new (a new or regenerated session).
    New,
}

/// A session store. Keys are `key_prefix + sid`; values are encoded sessions.
///
/// Implementations honour `connect_timeout` and `operation_timeout`, report an
/// unreachable server as [`StoreErrorKind::Unavailable`], and never block the
/// async runtime.
///
/// A store is [`Any`](std::any::Any) (every `'static` type is), so that the
/// lifecycle can recognise the built-in Redis store behind the trait and
/// await its futures without boxing them; any other store is called through
/// the trait.
#[async_trait]
pub trait SessionStore: std::any::Any + Send + Sync + 'static {
    /// A short name for logs and errors, such as `redis`.
    fn backend(&self) -> &'static str;

    /// The stored value, or `None` when it is missing or expired.
    async fn load(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// The sliding-expiry read: load and reset the TTL, in one round trip where
    /// the server allows it. The default loads, then touches on a hit.
    async fn load_and_touch(
        &self, key: &str, ttl: Duration,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let value = self.load(key).await?;
        if value.is_some() {
            self.touch(key, ttl).await?;
        }
        Ok(value)
    }

    /// Writes the value with a time to live.
    async fn save(
        &self, key: &str, value: &[u8], ttl: Duration, hint: SaveHint,
    ) -> Result<(), StoreError>;

    /// The conditional write of a session loaded from a record: replaces the
    /// record under `key` with `value` (and resets its TTL) only if it still
    /// holds `expected`, the bytes this request loaded. Atomic: of many
    /// writers that loaded the same record, exactly one is
    /// [`Saved`](WriteOutcome::Saved).
    async fn save_if_unchanged(
        &self, key: &str, expected: &[u8], value: &[u8], ttl: Duration,
    ) -> Result<WriteOutcome, StoreError>;

    /// The write of a new record (a new sid, or the target of a
    /// regenerate): insert-only, so two requests can never both create one
    /// sid. [`Changed`](WriteOutcome::Changed) with the record found when
    /// the key exists.
    async fn insert_new(
        &self, key: &str, value: &[u8], ttl: Duration,
    ) -> Result<WriteOutcome, StoreError>;

    /// Resets the time to live without rewriting the value.
    async fn touch(&self, key: &str, ttl: Duration) -> Result<(), StoreError>;

    /// Deletes the key; deleting a missing key is not an error.
    async fn delete(&self, key: &str) -> Result<(), StoreError>;

    /// Adds `key` to `owner`'s index, replacing its entry if it is there;
    /// `created` is when the owner logged in. `ttl` is how long the session
    /// can live (the lifecycle passes `absolute_lifetime` plus an idle
    /// lifetime, or 100 years without an absolute lifetime): an index that
    /// expires by itself is kept at least that long.
    /// See [`IndexedSession`]'s module for the contract.
    async fn add_owned(
        &self, owner: &str, key: &str, created: SystemTime, ttl: Duration,
    ) -> Result<(), StoreError>;

    /// Removes `key` from `owner`'s index; a key that is not there is not an
    /// error.
    async fn remove_owned(&self, owner: &str, key: &str) -> Result<(), StoreError>;

    /// The sessions in `owner`'s index whose records still exist, in no set
    /// order; entries whose record is gone are pruned from the index.
    async fn list_owned(&self, owner: &str) -> Result<Vec<IndexedSession>, StoreError>;

    /// The longest key, in bytes, this backend can hold, or `None` when no
    /// session key can reach its limit. The lifecycle treats a cookie whose
    /// key would be longer as invalid (a fresh session and a deletion
    /// cookie), so such a key never reaches the store.
    fn max_key_len(&self) -> Option<usize> {
        None
    }

    /// One round trip to the server, for health checks and `sessionctl ping`:
    /// what it said about itself. The default reads a key no session is stored
    /// under and reports no version; backends whose server tells its version
    /// cheaply override it.
    ///
    /// # Errors
    ///
    /// [`StoreError`] as for a [`load`](Self::load): unavailable when the
    /// server cannot be reached within the timeouts.
    async fn ping(&self) -> Result<PingInfo, StoreError> {
        self.load(ping::PING_KEY).await.map(|_| PingInfo::default())
    }

    /// Removes expired records and returns how many; a no-op where the server
    /// expires keys itself.
    async fn cleanup(&self) -> Result<u64, StoreError> {
        Ok(0)
    }

    /// Releases what the store holds, for an orderly exit: ends its
    /// background cleanup task and waits until it has ended, and closes the
    /// connection pool or client the store built itself. Idempotent: a
    /// second call returns at once. The default does nothing, for a store
    /// that holds nothing to release.
    ///
    /// Call it once requests have stopped (a web framework's graceful
    /// shutdown, then this): [`SessionManager::shutdown`](crate::SessionManager::shutdown)
    /// does, and makes later session operations fail as unavailable (503)
    /// rather than reach a closed store. Operations on the store itself after
    /// this fail as unavailable too where a pool was closed. A pool or client
    /// the app handed over stays open: the app owns it and closes it when it
    /// is done with it.
    async fn shutdown(&self) {}

    /// The synchronous face of a store that keeps its sessions in this
    /// process and so never waits, or `None` (the default) for a store that
    /// does I/O. The lifecycle calls it first, so an in-process store costs no
    /// boxed future per operation.
    fn in_process(&self) -> Option<&dyn InProcessStore> {
        None
    }
}

/// What a conditional write found.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WriteOutcome {
    /// The value was written.
    Saved,
    /// Another writer changed the record since it was read (or, for
    /// [`SessionStore::insert_new`], the key exists): the record now.
    Changed(Vec<u8>),
    /// The record no longer exists: deleted (a logout, a regenerate, a
    /// revoke) or expired since it was read.
    Gone,
}

/// The operations the lifecycle runs, answered at once, by a store that keeps
/// its sessions in this process (the memory store). Each means what the
/// [`SessionStore`] method of the same name without `_now` means.
pub trait InProcessStore: Send + Sync {
    /// [`SessionStore::load`], answered at once.
    ///
    /// # Errors
    ///
    /// As [`SessionStore::load`].
    fn load_now(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError>;

    /// [`SessionStore::load_and_touch`], answered at once.
    ///
    /// # Errors
    ///
    /// As [`SessionStore::load_and_touch`].
    fn load_and_touch_now(&self, key: &str, ttl: Duration) -> Result<Option<Vec<u8>>, StoreError>;

    /// [`SessionStore::save`], done at once.
    ///
    /// # Errors
    ///
    /// As [`SessionStore::save`].
    fn save_now(
        &self, key: &str, value: &[u8], ttl: Duration, hint: SaveHint,
    ) -> Result<(), StoreError>;

    /// [`SessionStore::save_if_unchanged`], done at once.
    ///
    /// # Errors
    ///
    /// As [`SessionStore::save_if_unchanged`].
    fn save_if_unchanged_now(
        &self, key: &str, expected: &[u8], value: &[u8], ttl: Duration,
    ) -> Result<WriteOutcome, StoreError>;

    /// [`SessionStore::insert_new`], done at once.
    ///
    /// # Errors
    ///
    /// As [`SessionStore::insert_new`].
    fn insert_new_now(
        &self, key: &str, value: &[u8], ttl: Duration,
    ) -> Result<WriteOutcome, StoreError>;

    /// [`SessionStore::delete`], done at once.
    ///
    /// # Errors
    ///
    /// As [`SessionStore::delete`].
    fn delete_now(&self, key: &str) -> Result<(), StoreError>;
}

/// Builds the store that `settings.session_type` selects, with that store's
/// own `from_settings`.
///
/// # Errors
///
/// [`BuildError::NotCompiled`] when the backend's cargo feature is off, and
/// whatever the backend's `from_settings` reports (mostly
/// [`BuildError::Backend`]: its server cannot be reached or prepared).
pub async fn from_settings(settings: &Settings) -> Result<Arc<dyn SessionStore>, BuildError> {
    match settings.session_type {
        SessionType::Null => {
            tracing::info!("SESSION_TYPE is null: sessions are disabled; a write will fail");
            Ok(Arc::new(null::NullStore))
        }
        #[cfg(feature = "memory")]
        SessionType::Memory => Ok(Arc::new(memory::MemoryStore::from_settings(settings))),
        #[cfg(feature = "filesystem")]
        SessionType::Filesystem => FileStore::from_settings(settings).await.map(shared),
        #[cfg(feature = "redis")]
        SessionType::Redis => RedisStore::from_settings(settings).await.map(shared),
        #[cfg(feature = "memcached")]
        SessionType::Memcached => MemcachedStore::from_settings(settings).await.map(shared),
        #[cfg(feature = "mongodb")]
        SessionType::MongoDb => MongoStore::from_settings(settings).await.map(shared),
        #[cfg(feature = "_sql")]
        SessionType::SqlAlchemy => SqlStore::from_settings(settings).await.map(shared),
        // Unreachable when every backend feature is on.
        #[allow(unreachable_patterns)]
        other => Err(BuildError::NotCompiled {
            session_type: other,
            feature: feature_for(other),
        }),
    }
}

/// A built store, shared behind the trait.
#[cfg(any(
    feature = "filesystem",
    feature = "redis",
    feature = "memcached",
    feature = "mongodb",
    feature = "_sql"
))]
fn shared<S: SessionStore>(store: S) -> Arc<dyn SessionStore> {
    Arc::new(store)
}

fn feature_for(session_type: SessionType) -> &'static str {
    match session_type {
        SessionType::Null => "",
        SessionType::Memory => "memory",
        SessionType::Redis => "redis",
        SessionType::Memcached => "memcached",
        SessionType::Filesystem => "filesystem",
        SessionType::MongoDb => "mongodb",
        SessionType::SqlAlchemy => "sql",
    }
}
