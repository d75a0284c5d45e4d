//! The lifecycle's store calls: a store that keeps its sessions in this
//! process answers through its [`InProcessStore`](crate::store::InProcessStore)
//! face, with no boxed future; any other store's future is awaited.

use std::time::Duration;

use crate::store::{SaveHint, SessionStore, StoreError, WriteOutcome};

pub(super) async fn load(
    store: &dyn SessionStore, key: &str,
) -> Result<Option<Vec<u8>>, StoreError> {
    match store.in_process() {
        Some(store) => store.load_now(key),
        None => store.load(key).await,
    }
}

pub(super) async fn load_and_touch(
    store: &dyn SessionStore, key: &str, ttl: Duration,
) -> Result<Option<Vec<u8>>, StoreError> {
    match store.in_process() {
        Some(store) => store.load_and_touch_now(key, ttl),
        None => store.load_and_touch(key, ttl).await,
    }
}

pub(super) async fn save(
    store: &dyn SessionStore, key: &str, value: &[u8], ttl: Duration, hint: SaveHint,
) -> Result<(), StoreError> {
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
