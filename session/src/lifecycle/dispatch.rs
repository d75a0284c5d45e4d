//! The lifecycle's store calls: a store that keeps its sessions in this
//! process answers through its [`InProcessStore`](crate::store::InProcessStore)
//! face, with no boxed future; the Redis store (of the type
//! `RedisStore::from_settings` builds) is called by its type for the reads
//! and writes of an existing session, its future awaited in place; any other
//! call awaits the store's boxed future.
//!
//! Why (BENCHMARKS.md, issue 20): the trait's boxed future would be some
//! 1.3 KB, above the allocator's per-thread cache, a cost of some 800
//! instructions per operation over Redis. Awaited in place, the Redis call
//! holds only a box of its own below that size (its direct or shared
//! connection's attempt): a `load_and_touch` here is a future of some 370
//! bytes for every store, where the whole call in place made it 1.9 KB.

use std::time::Duration;

use crate::store::{SaveHint, SessionStore, StoreError, WriteOutcome};

/// The Redis store behind `store`, when it is one of the type the settings
/// build: its hot operations are then awaited without the trait's box.
#[cfg(feature = "redis")]
fn redis(store: &dyn SessionStore) -> Option<&crate::store::redis::RedisStore> {
    let store: &dyn std::any::Any = store;
    store.downcast_ref()
}

pub(super) async fn load(
    store: &dyn SessionStore, key: &str,
) -> Result<Option<Vec<u8>>, StoreError> {
    #[cfg(feature = "redis")]
    if let Some(redis) = redis(store) {
        return redis.load_in_place(key).await;
    }
    match store.in_process() {
        Some(store) => store.load_now(key),
        None => store.load(key).await,
    }
}

pub(super) async fn load_and_touch(
    store: &dyn SessionStore, key: &str, ttl: Duration,
) -> Result<Option<Vec<u8>>, StoreError> {
    #[cfg(feature = "redis")]
    if let Some(redis) = redis(store) {
        return redis.load_and_touch_in_place(key, ttl).await;
    }
    match store.in_process() {
        Some(store) => store.load_and_touch_now(key, ttl),
        None => store.load_and_touch(key, ttl).await,
    }
}

pub(super) async fn save(
    store: &dyn SessionStore, key: &str, value: &[u8], ttl: Duration, hint: SaveHint,
) -> Result<(), StoreError> {
    #[cfg(feature = "redis")]
    if let Some(redis) = redis(store) {
        return redis.save_in_place(key, value, ttl).await;
    }
    match store.in_process() {
        Some(store) => store.save_now(key, value, ttl, hint),
        None => store.save(key, value, ttl, hint).await,
    }
}

pub(super) async fn delete(store: &dyn SessionStore, key: &str) -> Result<(), StoreError> {
    match store.in_process() {
        Some(store) => store.delete_now(key),
        None => store.delete(key).await,
    }
}

pub(super) async fn save_if_unchanged(
    store: &dyn SessionStore, key: &str, expected: &[u8], value: &[u8], ttl: Duration,
) -> Result<WriteOutcome, StoreError> {
    #[cfg(feature = "redis")]
    if let Some(redis) = redis(store) {
        return redis
            .save_if_unchanged_in_place(key, expected, value, ttl)
            .await;
    }
    match store.in_process() {
        Some(store) => store.save_if_unchanged_now(key, expected, value, ttl),
        None => store.save_if_unchanged(key, expected, value, ttl).await,
    }
}

pub(super) async fn insert_new(
    store: &dyn SessionStore, key: &str, value: &[u8], ttl: Duration,
) -> Result<WriteOutcome, StoreError> {
    match store.in_process() {
        Some(store) => store.insert_new_now(key, value, ttl),
        None => store.insert_new(key, value, ttl).await,
    }
}
