//! Sessions in memcached (`SESSION_TYPE = memcached`).
//!
//! # Layout
//!
//! Flask-Session 0.8's: the key is `key_prefix + sid`, the value is the
//! encoded session map (flags 0), and the expiry is the item's `exptime`.
//! memcached reads an `exptime` above 30 days (2 592 000 s) as an absolute unix
//! time, so a longer TTL — the default lifetime of 31 days among them — is
//! sent as `now + ttl`; a shorter one is sent as it is.
//!
//! | operation | command |
//! |---|---|
//! | [`save`](SessionStore::save) | `set key 0 exptime` |
//! | [`load`](SessionStore::load) | `get key` |
//! | [`load_and_touch`](SessionStore::load_and_touch) | `get key`, then `touch key exptime` on a hit (the `memcache` crate has no `gat`) |
//! | [`save_if_unchanged`](SessionStore::save_if_unchanged) | `gets key`, compare, then `cas key 0 exptime unique` (two round trips) |
//! | [`insert_new`](SessionStore::insert_new) | `add key 0 exptime`, then `get key` (the client does not say whether `add` stored) |
//! | [`touch`](SessionStore::touch) | `touch key exptime` |
//! | [`delete`](SessionStore::delete) | `delete key` |
//!
//! Keys must fit memcached: at most [`MAX_KEY_BYTES`] bytes, with no spaces or control
//! characters. `Settings` validation refuses a `key_prefix` that breaks this;
//! the store checks each key again and fails the operation rather than send a
//! malformed command. [`cleanup`](SessionStore::cleanup) does nothing.
//!
//! With several servers, the `memcache` crate picks a server by its own hash of
//! the key, which is not pymemcache's: sharing sessions with a Flask app works
//! with one server only.
//!
//! # The owner index
//!
//! Design §12's index of an owner's sessions is one item per owner, keyed by
//! a digest of the prefix and the owner (`<key_prefix>owner:<hex SHA-1>`, so
//! any owner text makes a valid key), holding the owner's session keys with
//! their login times. An add or a remove reads it with `gets` and writes it
//! with `cas` (`add` when there is none), reading again when another writer
//! won, up to 16 tries (a loss is another writer's win, so 16 writers at
//! once all land); the item's expiry is kept at least the longest session
//! lifetime an add was given. A listing reads it, checks the sessions with
//! one multi-key `gets` per 100, and prunes the ones that are gone.
//!
//! **The index is best-effort**, as memcached is a cache:
//!
//! - memcached may evict the index item under memory pressure, or lose it in
//!   a restart, while the sessions it listed live on: those sessions are then
//!   missing from the owner's listing, and a "log out everywhere" does not
//!   reach them;
//! - an add or a remove that loses its CAS to other writers 16 times in a row
//!   fails as `Unavailable` (503), and the request may be retried;
//! - a listing's entries carry no expiry: memcached does not tell an item's.
//!
//! Use a backend with a durable index (Redis, SQL, MongoDB) where a complete
//! listing matters, such as a security-relevant "log out everywhere".
//!
//! # Connections
//!
//! The `memcache` client is blocking, so every call runs on tokio's blocking
//! pool. The store builds its own r2d2 pools (one per server) rather than use
//! `Client::connect`, which gives a single connection per server, waits 30 s
//! for a free one and sends a `version` round trip on every check-out:
//!
//! `pool_size` connections per server ([`DEFAULT_POOL_SIZE`] by default), a
//! check-out that waits at most `connect_timeout`, no test on check-out (an
//! operation is one round trip), socket reads and writes that time out after
//! `operation_timeout`, and the ASCII protocol, which every memcached speaks.
//!
//! Without the check-out test, a pool would keep handing out connections that
//! a server restart has closed. So when an operation fails on its connection
//! (an I/O error or a garbled reply), the store replaces the pools with fresh
//! ones and sends the operation once more: the first request after a restart
//! already succeeds. Every operation here is idempotent, or (a conditional
//! write) finds its own record when resent, which the lifecycle takes as
//! written.
//!
//! # Failures
//!
//! Every operation has an overall deadline of `connect_timeout +
//! operation_timeout`. An I/O error, a check-out that timed out (the server is
//! down) and the deadline are
//! [`StoreErrorKind::Unavailable`](super::StoreErrorKind::Unavailable) (503);
//! anything the server refuses (an item too large, authentication) is
//! `Failed` (500).

mod ping;

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ::memcache::{ClientError, MemcacheError, ServerError};
use async_trait::async_trait;
use session_config::Settings;

use super::support::{blocking, ttl_seconds};
use super::{
    BuildError, IndexedSession, PingInfo, SaveHint, SessionStore, StoreError, StoreResult,
    Timeouts, WriteOutcome,
};

/// The `memcache` crate this store is built on, so an app can build the
/// client it hands over with the same version.
pub use ::memcache;

const BACKEND: &str = "memcached";

/// Connections per server when `SESSION_POOL_SIZE` is not set.
pub const DEFAULT_POOL_SIZE: u32 = 8;

/// The longest `exptime` memcached takes as relative seconds (30 days); a
/// longer one must be an absolute unix time.
pub const MAX_RELATIVE_EXPTIME: u64 = 30 * 24 * 60 * 60;

/// memcached's longest key, in bytes: what [`SessionStore::max_key_len`]
/// reports and every operation checks (the limit the settings hold
/// `key_prefix` to).
pub const MAX_KEY_BYTES: usize = session_config::MEMCACHED_MAX_KEY;

/// The servers and pool settings the store's own pools are built from.
#[derive(Debug, Clone)]
struct Pools {
    servers: Vec<String>,
    timeouts: Timeouts,
    pool_size: u32,
}

/// Sessions in memcached. Cloning is cheap and shares the pools.
#[derive(Clone)]
pub struct MemcachedStore {
    inner: Arc<Inner>,
    deadline: Duration,
    /// `key_prefix` of the settings, which the owner index's keys start with.
    key_prefix: Arc<str>,
}

struct Inner {
    /// What the pools were built from; `None` for a client the app handed
    /// over, whose pools the store cannot rebuild.
    pools: Option<Pools>,
    current: Mutex<Current>,
}

struct Current {
    /// Bumped each time the pools are replaced, so that concurrent failures on
    /// the same pools replace them once.
    generation: u64,
    /// `None` once the store is shut down: its pools are dropped (their
    /// connections close as the last operation using them ends).
    client: Option<::memcache::Client>,
}

impl fmt::Debug for MemcachedStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemcachedStore")
            .field("servers", &self.inner.pools.as_ref().map(|p| &p.servers))
            .field("deadline", &self.deadline)
            .field("key_prefix", &self.key_prefix)
            .finish_non_exhaustive()
    }
}

impl MemcachedStore {
    /// Builds the store that `SESSION_MEMCACHED` describes, with pools of
    /// `SESSION_POOL_SIZE` connections per server (see the
    /// [module docs](self)), and checks that every server answers a
    /// `version`.
    ///
    /// # Errors
    ///
    /// [`BuildError::Backend`], naming the servers, when none is configured,
    /// one is malformed, or one does not answer within `connect_timeout +
    /// operation_timeout`.
    pub async fn from_settings(settings: &Settings) -> Result<Self, BuildError> {
        let pools = Pools {
            servers: settings.memcached.clone(),
            timeouts: Timeouts::from_settings(settings),
            pool_size: settings.pool_size.unwrap_or(DEFAULT_POOL_SIZE).max(1),
        };
        let location = pools.servers.join(", ");
        if pools.servers.is_empty() {
            return Err(BuildError::backend(
                BACKEND,
                location,
                "no memcached server is configured",
            ));
        }
        let client = build_client(&pools)
            .map_err(|error| BuildError::backend(BACKEND, location.as_str(), error))?;
        Self::open(Some(pools), client, settings, location).await
    }

    /// Builds the store over a client the app already has, with its own
    /// pools, and checks that every server answers a `version`. The store does
    /// not rebuild those pools after a failure: recovery after a server
    /// restart is up to their settings (`Client::connect`'s pools test each
    /// connection on check-out). Each operation gets the settings' deadline,
    /// `connect_timeout + operation_timeout`.
    ///
    /// # Errors
    ///
    /// [`BuildError::Backend`] when a server does not answer in time.
    pub async fn from_client(
        client: ::memcache::Client, settings: &Settings,
    ) -> Result<Self, BuildError> {
        let location = "the application's memcache::Client".to_owned();
        Self::open(None, client, settings, location).await
    }

    async fn open(
        pools: Option<Pools>, client: ::memcache::Client, settings: &Settings, location: String,
    ) -> Result<Self, BuildError> {
        let deadline = Timeouts::from_settings(settings).deadline();
        let probe = client.clone();
        blocking(BACKEND, "connect", deadline, move || probe.version())
            .await
            .and_then(|answer| answer.map_err(|error| store_error("connect", error)))
            .map_err(|error| BuildError::backend(BACKEND, location, error.source))?;
        Ok(Self {
            inner: Arc::new(Inner {
                pools,
                current: Mutex::new(Current {
                    generation: 0,
                    client: Some(client),
                }),
            }),
            deadline,
            key_prefix: Arc::from(settings.key_prefix.as_str()),
        })
    }

    /// Sets the overall deadline of one store operation, after which it fails
    /// as unavailable.
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// The client the store currently sends its commands with; `None` once
    /// the store is shut down.
    pub fn client(&self) -> Option<::memcache::Client> {
        lock(&self.inner.current).client.clone()
    }

    /// Runs `call` on the blocking pool within the deadline.
    async fn blocking<T, F>(
        &self, operation: &'static str, key: &str, call: F,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: Fn(&::memcache::Client, &str) -> Result<T, MemcacheError> + Send + 'static,
    {
        check_key(key).map_err(|error| StoreError::failed(BACKEND, operation, error))?;
        let inner = Arc::clone(&self.inner);
        let key = key.to_owned();
        blocking(BACKEND, operation, self.deadline, move || {
            inner.call(|client| call(client, &key))
        })
        .await?
        .map_err(|error| store_error(operation, error))
    }
}

impl Inner {
    /// Runs `call`; when it fails on its connection, replaces the pools and
    /// runs it once more.
    fn call<T>(
        &self, call: impl Fn(&::memcache::Client) -> Result<T, MemcacheError>,
    ) -> Result<T, MemcacheError> {
        let (generation, client) = {
            let current = lock(&self.current);
            match &current.client {
                Some(client) => (current.generation, client.clone()),
                None => return Err(shut_down()),
            }
        };
        match call(&client) {
            Err(error) if connection_is_suspect(&error) => match self.replace_pools(generation) {
                Some(client) => call(&client),
                None => Err(error),
            },
            other => other,
        }
    }

    /// Fresh pools, unless another caller has already replaced the ones of
    /// `generation`; `None` when the pools are the app's own.
    fn replace_pools(&self, generation: u64) -> Option<::memcache::Client> {
        let pools = self.pools.as_ref()?;
        let mut current = lock(&self.current);
        // A shut-down store opens no new pools.
        current.client.as_ref()?;
        if current.generation == generation {
            match build_client(pools) {
                Ok(client) => {
                    tracing::warn!(
                        backend = BACKEND,
                        "a memcached connection failed; reopening the connection pools"
                    );
                    current.client = Some(client);
                    current.generation += 1;
                }
                Err(error) => {
                    tracing::warn!(backend = BACKEND, %error, "could not rebuild the memcached pools");
                    return None;
                }
            }
        }
        current.client.clone()
    }
}

fn lock(current: &Mutex<Current>) -> MutexGuard<'_, Current> {
    // The guarded data is replaced whole, never left half-written.
    current
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One r2d2 pool per server, built without waiting for connections: the
/// caller checks the servers, or the next check-out waits `connect_timeout`.
fn build_client(config: &Pools) -> Result<::memcache::Client, MemcacheError> {
    let mut pools = Vec::with_capacity(config.servers.len());
    for server in &config.servers {
        let url = format!(
            "memcache://{server}?protocol=ascii&timeout={}",
            config.timeouts.operation.as_secs_f64().max(0.001)
        );
        let url = ::memcache::Url::parse(&url)
            .map_err(|e| MemcacheError::BadURL(format!("{server}: {e}")))?;
        let pool = r2d2::Pool::builder()
            .max_size(config.pool_size.max(1))
            .min_idle(Some(1))
            .connection_timeout(config.timeouts.connect.max(Duration::from_millis(1)))
            .test_on_check_out(false)
            .error_handler(Box::new(r2d2::NopErrorHandler))
            .build_unchecked(::memcache::ConnectionManager::new(url));
        pools.push(pool);
    }
    ::memcache::Client::with_pools(pools)
}

/// A client error as a store error: unavailable (503) when the server could
/// not be reached, failed (500) when it refused the command.
/// What an operation on a shut-down store fails with: an I/O error, so
/// unavailable (503).
fn shut_down() -> MemcacheError {
    MemcacheError::IOError(std::io::Error::new(
        std::io::ErrorKind::NotConnected,
        "the session store was shut down",
    ))
}

fn store_error(operation: &'static str, error: MemcacheError) -> StoreError {
    let unavailable = is_unavailable(&error);
    StoreError::classified(BACKEND, operation, unavailable, error)
}

fn is_unavailable(error: &MemcacheError) -> bool {
    match error {
        MemcacheError::IOError(_) | MemcacheError::PoolError(_) => true,
        // The ASCII reader's message when the server closed the connection.
        MemcacheError::ClientError(ClientError::Error(message)) => {
            message.contains("no line found")
        }
        _ => false,
    }
}

/// Whether the connection the call used may be dead or out of step with the
/// server, so the pools should be replaced. A check-out that timed out is
/// not: fresh pools would wait just the same.
fn connection_is_suspect(error: &MemcacheError) -> bool {
    matches!(
        error,
        MemcacheError::IOError(_)
            | MemcacheError::ParseError(_)
            | MemcacheError::ClientError(ClientError::Error(_))
            | MemcacheError::ServerError(ServerError::BadResponse(_) | ServerError::BadMagic(_))
    )
}

/// A key memcached cannot take.
#[derive(Debug, thiserror::Error)]
#[error("the key cannot be a memcached key: it must be 1 to {MAX_KEY_BYTES} bytes, with no spaces or control characters")]
struct InvalidKey;

fn check_key(key: &str) -> Result<(), InvalidKey> {
    let fits = !key.is_empty() && key.len() <= MAX_KEY_BYTES;
    if fits && !key.bytes().any(|b| b <= b' ' || b == 0x7f) {
        Ok(())
    } else {
        Err(InvalidKey)
    }
}

/// memcached's `exptime` for a TTL: whole seconds rounded up, at least 1;
/// above 30 days, the absolute unix time `now + ttl`, at most `i32::MAX`
/// (January 2038): memcached reads `exptime` as a signed 32-bit number, and
/// takes a larger one as negative, that is as already expired.
pub fn exptime(ttl: Duration, now: SystemTime) -> u32 {
    let seconds = ttl_seconds(ttl);
    let value = if seconds > MAX_RELATIVE_EXPTIME {
        let now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        now.saturating_add(seconds)
    } else {
        seconds
    };
    let latest = u64::from(i32::MAX.unsigned_abs());
    u32::try_from(value.min(latest)).unwrap_or(u32::MAX)
}

#[async_trait]
impl SessionStore for MemcachedStore {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn ping(&self) -> Result<PingInfo, StoreError> {
        self.server_version().await.map(PingInfo::with_version)
    }

    /// Drops the store's client: pools the store built close their
    /// connections as soon as no operation under way uses them; an app's
    /// own client keeps its other clones. Later operations on the store fail
    /// as unavailable.
    async fn shutdown(&self) {
        let client = lock(&self.inner.current).client.take();
        drop(client);
    }

    fn max_key_len(&self) -> Option<usize> {
        Some(MAX_KEY_BYTES)
    }

    async fn load(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.blocking("load", key, |client, key| client.get::<Vec<u8>>(key))
            .await
    }

    async fn load_and_touch(&self, key: &str, ttl: Duration) -> StoreResult<Option<Vec<u8>>> {
        self.blocking("load_and_touch", key, move |client, key| {
            let value = client.get::<Vec<u8>>(key)?;
            if value.is_some() {
                client.touch(key, exptime(ttl, SystemTime::now()))?;
            }
            Ok(value)
        })
        .await
    }

    async fn save(&self, key: &str, value: &[u8], ttl: Duration, _: SaveHint) -> StoreResult<()> {
        let value = value.to_vec();
        self.blocking("save", key, move |client, key| {
            client.set(key, value.as_slice(), exptime(ttl, SystemTime::now()))
        })
        .await
    }

    /// `gets` for the value and its CAS unique, then `cas`: atomic, two round
    /// trips (memcached has no compare-by-value), a third after a conflict.
    async fn save_if_unchanged(
        &self, key: &str, expected: &[u8], value: &[u8], ttl: Duration,
    ) -> StoreResult<WriteOutcome> {
        let (expected, value) = (expected.to_vec(), value.to_vec());
        self.blocking("save_if_unchanged", key, move |client, key| {
            let Some((current, _, Some(cas))) = client.get::<(Vec<u8>, u32, Option<u64>)>(key)?
            else {
                return Ok(WriteOutcome::Gone);
            };
            if current != expected {
                return Ok(WriteOutcome::Changed(current));
            }
            let exptime = exptime(ttl, SystemTime::now());
            if client.cas(key, value.as_slice(), exptime, cas)? {
                return Ok(WriteOutcome::Saved);
            }
            Ok(match client.get::<Vec<u8>>(key)? {
                Some(now) => WriteOutcome::Changed(now),
                None => WriteOutcome::Gone,
            })
        })
        .await
    }

    /// `add`, which stores only if the key is free; the client does not say
    /// whether it did, so a `get` tells whether the record there is this one.
    async fn insert_new(
        &self, key: &str, value: &[u8], ttl: Duration,
    ) -> StoreResult<WriteOutcome> {
        let value = value.to_vec();
        self.blocking("insert_new", key, move |client, key| {
            client.add(key, value.as_slice(), exptime(ttl, SystemTime::now()))?;
            Ok(match client.get::<Vec<u8>>(key)? {
                Some(now) if now == value => WriteOutcome::Saved,
                Some(now) => WriteOutcome::Changed(now),
                None => WriteOutcome::Gone,
            })
        })
        .await
    }

    async fn touch(&self, key: &str, ttl: Duration) -> Result<(), StoreError> {
        self.blocking("touch", key, move |client, key| {
            client.touch(key, exptime(ttl, SystemTime::now())).map(drop)
        })
        .await
    }

    /// Best-effort: see [the owner index](self#the-owner-index).
    async fn add_owned(
        &self, owner: &str, key: &str, created: SystemTime, ttl: Duration,
    ) -> StoreResult<()> {
        self.index_add(owner, key, created, ttl).await
    }

    /// Best-effort: see [the owner index](self#the-owner-index).
    async fn remove_owned(&self, owner: &str, key: &str) -> StoreResult<()> {
        self.index_remove(owner, key).await
    }

    /// Best-effort: see [the owner index](self#the-owner-index). Entries
    /// carry no expiry (`expires` is `None`): memcached does not tell an
    /// item's.
    async fn list_owned(&self, owner: &str) -> StoreResult<Vec<IndexedSession>> {
        self.index_list(owner).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.blocking("delete", key, |client, key| client.delete(key).map(drop))
            .await
    }
}

mod owners;
#[cfg(test)]
mod tests;
