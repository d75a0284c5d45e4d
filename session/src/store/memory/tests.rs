//! The memory store's tests: expiry, capacity and eviction, rewrites.
#![allow(clippy::unwrap_used)]

use super::*;

/// Rewrites `key`, a record loaded before, to live `ttl`.
async fn rewrite(store: &MemoryStore, key: &str, value: &[u8], ttl: Duration) {
    store
        .save(key, value, ttl, SaveHint::Existing)
        .await
        .unwrap();
}

/// Saves `value` under `key` for `seconds`, as a new record.
async fn put(store: &MemoryStore, key: &str, value: &[u8], seconds: u64) {
    let ttl = Duration::from_secs(seconds);
    store.save(key, value, ttl, SaveHint::New).await.unwrap();
}

#[tokio::test]
async fn expired_entries_are_not_served() {
    let store = MemoryStore::new();
    let ttl = Duration::from_millis(300);
    let saved = std::time::Instant::now();
    store.save("k", b"v", ttl, SaveHint::New).await.unwrap();
    let loaded = store.load("k").await.unwrap();
    // On a loaded machine the read may come late; only a read within the
    // TTL must find the entry.
    if saved.elapsed() < ttl {
        assert_eq!(loaded.as_deref(), Some(&b"v"[..]));
    }
    tokio::time::sleep(ttl + Duration::from_millis(50)).await;
    assert_eq!(store.load("k").await.unwrap(), None);
    assert_eq!(store.cleanup().await.unwrap(), 1);
}

/// A touch does not bring back an entry that has expired but is not pruned
/// yet.
#[tokio::test]
async fn a_touch_does_not_revive_an_expired_entry() {
    let store = MemoryStore::new();
    let ttl = Duration::from_millis(50);
    store.save("k", b"v", ttl, SaveHint::New).await.unwrap();
    tokio::time::sleep(ttl * 2).await;
    store.touch("k", Duration::from_secs(60)).await.unwrap();
    assert_eq!(store.load("k").await.unwrap(), None);
}

#[tokio::test]
async fn growth_is_bounded_by_capacity() {
    let store = MemoryStore::with_capacity(3).when_full(WhenFull::EvictOldest);
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

/// By default a full store refuses a new session and keeps every live
/// one: a flood of new sessions cannot log users out.
#[tokio::test]
async fn a_full_store_refuses_new_sessions_and_keeps_live_ones() {
    let store = MemoryStore::with_capacity(3);
    let hour = Duration::from_secs(3600);
    for key in ["a", "b", "c"] {
        store.save(key, b"v", hour, SaveHint::New).await.unwrap();
    }
    let refused = store
        .save("d", b"v", hour, SaveHint::New)
        .await
        .unwrap_err();
    assert_eq!(refused.kind, crate::StoreErrorKind::Unavailable);
    for key in ["a", "b", "c"] {
        assert!(store.get_raw(key).is_some(), "{key} was evicted");
    }
    // A rewrite of a live session is never refused.
    rewrite(&store, "a", b"v2", hour).await;
    // An expired session makes room.
    rewrite(&store, "c", b"v", Duration::from_millis(10)).await;
    tokio::time::sleep(Duration::from_millis(30)).await;
    store.save("d", b"v", hour, SaveHint::New).await.unwrap();
    assert!(store.get_raw("d").is_some() && store.get_raw("c").is_none());
}

/// Eviction takes the entry closest to expiry as of now: a touch since
/// its insertion moves an entry back.
#[tokio::test]
async fn eviction_follows_touches() {
    let store = MemoryStore::with_capacity(2).when_full(WhenFull::EvictOldest);
    put(&store, "a", b"v", 10).await;
    put(&store, "b", b"v", 20).await;
    store
        .load_and_touch("a", Duration::from_secs(100))
        .await
        .unwrap();
    put(&store, "c", b"v", 50).await;
    assert!(
        store.get_raw("a").is_some(),
        "the touched entry was evicted"
    );
    assert!(
        store.get_raw("b").is_none(),
        "the soonest-expiring entry stays"
    );
    assert!(store.get_raw("c").is_some());
}

/// Deleted keys leave heap entries behind; the heap is rebuilt before
/// they outnumber the live entries.
#[tokio::test]
async fn churn_keeps_the_expiry_heap_bounded() {
    let store = MemoryStore::with_capacity(1000);
    let hour = Duration::from_secs(3600);
    for i in 0..10_000 {
        let key = format!("k{i}");
        store.save(&key, b"v", hour, SaveHint::New).await.unwrap();
        store.delete(&key).await.unwrap();
    }
    store.save("kept", b"v", hour, SaveHint::New).await.unwrap();
    let entries = store.lock();
    assert_eq!(entries.map.len(), 1);
    assert!(entries.by_expiry.len() <= 2 * entries.map.len() + 65);
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
    rewrite(&store, "k", b"v2", Duration::from_secs(500)).await;
    assert_eq!(store.get_raw("k").as_deref(), Some(&b"v2"[..]));
    assert!(store.ttl("k").unwrap() > Duration::from_secs(400));
    assert_eq!(store.len(), 1);
}

#[tokio::test]
async fn load_and_touch_extends_the_ttl() {
    let store = MemoryStore::new();
    put(&store, "k", b"v", 5).await;
    store
        .load_and_touch("k", Duration::from_secs(500))
        .await
        .unwrap();
    assert!(store.ttl("k").unwrap() > Duration::from_secs(400));
}
