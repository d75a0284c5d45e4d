//! Every row of ARCHITECTURE.md's finish table, end to end through the manager
//! against the memory store. Store traffic is observed by a wrapper that
//! counts the calls reaching the real store.

#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use session::store::memory::MemoryStore;
use session::{SaveHint, SessionManager, SessionStore, Settings, StoreError};
use session_config::{Secret, SessionType};

/// Counts the operations that reach the memory store behind it.
#[derive(Default)]
struct Counting {
    inner: MemoryStore,
    loads: AtomicUsize,
    saves: AtomicUsize,
    touches: AtomicUsize,
    deletes: AtomicUsize,
    /// Fail the next load as an unreachable server would.
    fail_next_load: AtomicBool,
    /// Yield to the runtime once inside each load, as a network store does.
    yield_in_load: AtomicBool,
    shutdowns: AtomicUsize,
    /// The `ttl` of the last `add_owned`.
    index_ttl: std::sync::Mutex<Option<Duration>>,
}

impl Counting {
    fn counts(&self) -> [usize; 4] {
        [&self.loads, &self.saves, &self.touches, &self.deletes].map(|c| c.load(Ordering::SeqCst))
    }
    fn reset(&self) {
        for c in [&self.loads, &self.saves, &self.touches, &self.deletes] {
            c.store(0, Ordering::SeqCst);
        }
    }
}

#[async_trait]
impl SessionStore for Counting {
    fn backend(&self) -> &'static str {
        "counting-memory"
    }
    async fn load(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        self.inner.load(key).await
    }
    async fn load_and_touch(
        &self, key: &str, ttl: Duration,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        if self.yield_in_load.load(Ordering::SeqCst) {
            tokio::task::yield_now().await;
        }
        if self.fail_next_load.swap(false, Ordering::SeqCst) {
            return Err(StoreError::unavailable(
                "counting-memory",
                "load",
                std::io::Error::other("down for the test"),
            ));
        }
        self.inner.load_and_touch(key, ttl).await
    }
    async fn save(
        &self, key: &str, value: &[u8], ttl: Duration, hint: SaveHint,
    ) -> Result<(), StoreError> {
        self.saves.fetch_add(1, Ordering::SeqCst);
        self.inner.save(key, value, ttl, hint).await
    }
    async fn save_if_unchanged(
        &self, key: &str, expected: &[u8], value: &[u8], ttl: Duration,
    ) -> Result<session::WriteOutcome, StoreError> {
        self.saves.fetch_add(1, Ordering::SeqCst);
        self.inner
            .save_if_unchanged(key, expected, value, ttl)
            .await
    }
    async fn insert_new(
        &self, key: &str, value: &[u8], ttl: Duration,
    ) -> Result<session::WriteOutcome, StoreError> {
        self.saves.fetch_add(1, Ordering::SeqCst);
        self.inner.insert_new(key, value, ttl).await
    }
    async fn touch(&self, key: &str, ttl: Duration) -> Result<(), StoreError> {
        self.touches.fetch_add(1, Ordering::SeqCst);
        self.inner.touch(key, ttl).await
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.deletes.fetch_add(1, Ordering::SeqCst);
        self.inner.delete(key).await
    }
    async fn add_owned(
        &self, owner: &str, key: &str, created: std::time::SystemTime, ttl: std::time::Duration,
    ) -> Result<(), StoreError> {
        *self.index_ttl.lock().unwrap() = Some(ttl);
        self.inner.add_owned(owner, key, created, ttl).await
    }
    async fn remove_owned(&self, owner: &str, key: &str) -> Result<(), StoreError> {
        self.inner.remove_owned(owner, key).await
    }
    async fn list_owned(
        &self, owner: &str,
    ) -> Result<Vec<session::store::IndexedSession>, StoreError> {
        self.inner.list_owned(owner).await
    }
    async fn shutdown(&self) {
        self.shutdowns.fetch_add(1, Ordering::SeqCst);
    }
}

struct Harness {
    manager: SessionManager,
    store: Arc<Counting>,
}

fn settings() -> Settings {
    let mut settings = Settings::default();
    settings.session_type = SessionType::Memory;
    settings
}

fn harness_with(settings: Settings) -> Harness {
    let store = Arc::new(Counting::default());
    let manager = SessionManager::new(settings, store.clone()).unwrap();
    Harness { manager, store }
}

fn harness() -> Harness {
    harness_with(settings())
}

/// The `name=value` pair of a Set-Cookie, as a browser sends it back.
fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

impl Harness {
    /// A stored session holding `count = 1`; returns its cookie pair.
    async fn seeded(&self) -> String {
        let request = self.manager.open([]);
        request
            .load()
            .await
            .unwrap()
            .insert("count", &1u32)
            .unwrap();
        let outcome = request.finish(200).await.unwrap();
        self.store.reset();
        pair(&outcome.set_cookie.unwrap())
    }

    fn key_of(&self, cookie: &str) -> String {
        let sid = cookie.strip_prefix("session=").unwrap();
        let sid = sid.split('.').next().unwrap();
        format!("session:{sid}")
    }
}

#[tokio::test]
async fn row_1_a_session_never_loaded_costs_nothing() {
    let h = harness();
    let cookie = h.seeded().await;
    let request = h.manager.open([cookie.as_bytes()]);
    let outcome = request.finish(200).await.unwrap();
    assert_eq!(outcome.set_cookie, None);
    assert!(!outcome.vary_cookie);
    assert_eq!(h.store.counts(), [0, 0, 0, 0]);
}

#[tokio::test]
async fn row_2_a_5xx_response_persists_nothing() {
    let h = harness();
    let cookie = h.seeded().await;
    let request = h.manager.open([cookie.as_bytes()]);
    request
        .load()
        .await
        .unwrap()
        .insert("count", &2u32)
        .unwrap();
    let outcome = request.finish(500).await.unwrap();
    assert_eq!(outcome.set_cookie, None);
    assert!(outcome.vary_cookie);
    assert_eq!(h.store.counts(), [1, 0, 0, 0]);
    let check = h
        .manager
        .load_by_id(&h.key_of(&cookie)["session:".len()..])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(check.get::<u32>("count").unwrap(), Some(1));
}

#[tokio::test]
async fn row_3_an_emptied_session_is_deleted_with_a_deletion_cookie() {
    let h = harness();
    let cookie = h.seeded().await;
    let request = h.manager.open([cookie.as_bytes()]);
    request.load().await.unwrap().clear();
    let outcome = request.finish(200).await.unwrap();
    assert!(outcome.set_cookie.unwrap().contains("Max-Age=0"));
    assert_eq!(h.store.counts(), [1, 0, 0, 1]);
    assert!(h.store.inner.get_raw(&h.key_of(&cookie)).is_none());
}

#[tokio::test]
async fn row_3_removing_the_last_key_also_deletes() {
    let h = harness();
    let cookie = h.seeded().await;
    let request = h.manager.open([cookie.as_bytes()]);
    assert!(request.load().await.unwrap().remove("count"));
    let outcome = request.finish(200).await.unwrap();
    assert!(outcome.set_cookie.unwrap().contains("Max-Age=0"));
    assert_eq!(h.store.counts(), [1, 0, 0, 1]);
}

#[tokio::test]
async fn row_4_a_stale_or_invalid_cookie_gets_a_deletion_cookie_and_no_write() {
    let h = harness();
    let stale = format!("session={}", "A".repeat(43));
    for cookie in [stale.as_str(), "session=not a sid", "session=x"] {
        let request = h.manager.open([cookie.as_bytes()]);
        let session = request.load().await.unwrap();
        assert!(session.is_empty());
        let outcome = request.finish(200).await.unwrap();
        assert!(
            outcome.set_cookie.unwrap().contains("Max-Age=0"),
            "{cookie}"
        );
    }
    // Only the well-shaped sid reached the store.
    assert_eq!(h.store.counts(), [1, 0, 0, 0]);
}

#[tokio::test]
async fn row_5_a_new_empty_session_stores_nothing() {
    let h = harness();
    let request = h.manager.open([]);
    assert!(request.load().await.unwrap().is_empty());
    let outcome = request.finish(200).await.unwrap();
    assert_eq!(outcome.set_cookie, None);
    assert!(outcome.vary_cookie);
    assert_eq!(h.store.counts(), [0, 0, 0, 0]);
}

#[tokio::test]
async fn row_6_regenerate_writes_the_new_sid_then_deletes_the_old() {
    let h = harness();
    let cookie = h.seeded().await;
    let request = h.manager.open([cookie.as_bytes()]);
    request.load().await.unwrap().regenerate().unwrap();
    let new_cookie = pair(&request.finish(200).await.unwrap().set_cookie.unwrap());
    assert_ne!(new_cookie, cookie);
    // The load, the new record, a read of the old one (still there: it was
    // not ended while the request ran), its delete.
    assert_eq!(h.store.counts(), [2, 1, 0, 1]);
    assert!(h.store.inner.get_raw(&h.key_of(&cookie)).is_none());
    assert!(h.store.inner.get_raw(&h.key_of(&new_cookie)).is_some());
}

#[tokio::test]
async fn regenerate_on_an_empty_session_does_nothing() {
    let h = harness();
    let request = h.manager.open([]);
    request.load().await.unwrap().regenerate().unwrap();
    assert_eq!(request.finish(200).await.unwrap().set_cookie, None);
    assert_eq!(h.store.counts(), [0, 0, 0, 0]);
}

#[tokio::test]
async fn row_7_a_modified_session_is_written_once() {
    let h = harness();
    let cookie = h.seeded().await;
    let request = h.manager.open([cookie.as_bytes()]);
    request
        .load()
        .await
        .unwrap()
        .insert("count", &2u32)
        .unwrap();
    let set = request.finish(200).await.unwrap().set_cookie.unwrap();
    assert!(set.contains("Expires="), "permanent by default");
    assert_eq!(pair(&set), cookie, "same sid");
    assert_eq!(h.store.counts(), [1, 1, 0, 0]);
}

#[tokio::test]
async fn row_7_writing_an_equal_value_is_not_a_modification() {
    let h = harness();
    let cookie = h.seeded().await;
    let request = h.manager.open([cookie.as_bytes()]);
    request
        .load()
        .await
        .unwrap()
        .insert("count", &1u32)
        .unwrap();
    request.finish(200).await.unwrap();
    assert_eq!(h.store.counts(), [1, 0, 0, 0]);
}

#[tokio::test]
async fn row_7_a_non_permanent_cookie_has_no_expires() {
    let h = harness();
    let request = h.manager.open([]);
    let session = request.load().await.unwrap();
    session.insert("k", "v").unwrap();
    session.set_permanent(false);
    let set = request.finish(200).await.unwrap().set_cookie.unwrap();
    assert!(!set.contains("Expires"), "{set}");
}

#[tokio::test]
async fn row_8_a_fallback_key_re_signs_without_a_write() {
    let mut old = settings();
    old.use_signer = true;
    old.secret_key = Some(Secret::new("old-secret"));
    let mut rotated = old.clone();
    rotated.secret_key = Some(Secret::new("new-secret"));
    rotated.secret_key_fallbacks = vec![Secret::new("old-secret")];
    rotated.refresh_each_request = false;

    let store = Arc::new(Counting::default());
    let before = SessionManager::new(old, store.clone()).unwrap();
    let request = before.open([]);
    request.load().await.unwrap().insert("k", "v").unwrap();
    let old_cookie = pair(&request.finish(200).await.unwrap().set_cookie.unwrap());
    store.reset();

    let after = SessionManager::new(rotated, store.clone()).unwrap();
    let request = after.open([old_cookie.as_bytes()]);
    assert_eq!(
        request
            .load()
            .await
            .unwrap()
            .get::<String>("k")
            .unwrap()
            .as_deref(),
        Some("v")
    );
    let new_cookie = pair(&request.finish(200).await.unwrap().set_cookie.unwrap());
    assert_ne!(new_cookie, old_cookie, "re-signed with the current key");
    assert_eq!(
        new_cookie.split('.').next(),
        old_cookie.split('.').next(),
        "same sid"
    );
    assert_eq!(store.counts(), [1, 0, 0, 0], "no write");
}

#[tokio::test]
async fn row_9_refresh_touches_in_the_load_and_sends_a_cookie_if_permanent() {
    let h = harness();
    let cookie = h.seeded().await;
    let request = h.manager.open([cookie.as_bytes()]);
    request.load().await.unwrap().get::<u32>("count").unwrap();
    let set = request.finish(200).await.unwrap().set_cookie.unwrap();
    assert!(set.contains("Expires="));
    assert_eq!(
        h.store.counts(),
        [1, 0, 0, 0],
        "one round trip: load_and_touch"
    );
}

/// The two-part finish (`finish_or_defer`, Rocket's): a read whose refresh
/// the load made is finished at once with the same headers as `finish`, and
/// touches no store; a write is handed back, and only its `run` writes.
#[tokio::test]
async fn finish_or_defer_finishes_a_read_at_once_and_defers_a_write() {
    let h = harness();
    let cookie = h.seeded().await;

    let request = h.manager.open([cookie.as_bytes()]);
    request.load().await.unwrap().get::<u32>("count").unwrap();
    let outcome = match request.finish_or_defer(200).unwrap() {
        session::Finishing::Done(outcome) => outcome,
        other => panic!("a read has no store work: {other:?}"),
    };
    assert_eq!(outcome.vary(), Some("Cookie"));
    assert_eq!(pair(&outcome.set_cookie.unwrap()), cookie, "refreshed");
    assert_eq!(h.store.counts(), [1, 0, 0, 0], "the load only");

    h.store.reset();
    let request = h.manager.open([cookie.as_bytes()]);
    request
        .load()
        .await
        .unwrap()
        .insert("count", &2u32)
        .unwrap();
    let store_work = match request.finish_or_defer(200).unwrap() {
        session::Finishing::Store(store_work) => store_work,
        other => panic!("a write is store work: {other:?}"),
    };
    assert_eq!(h.store.counts(), [1, 0, 0, 0], "nothing written before run");
    let outcome = store_work.run().await.unwrap();
    assert_eq!(pair(&outcome.set_cookie.unwrap()), cookie);
    assert_eq!(h.store.counts(), [1, 1, 0, 0]);

    let request = h.manager.open([cookie.as_bytes()]);
    let read = request.load().await.unwrap().get::<u32>("count").unwrap();
    assert_eq!(read, Some(2));
}

#[tokio::test]
async fn row_9_a_non_permanent_session_gets_no_refresh_cookie() {
    let mut s = settings();
    s.permanent = false;
    let h = harness_with(s);
    let cookie = h.seeded().await;
    let request = h.manager.open([cookie.as_bytes()]);
    request.load().await.unwrap();
    assert_eq!(request.finish(200).await.unwrap().set_cookie, None);
}

#[tokio::test]
async fn row_10_without_refresh_an_unmodified_session_sends_nothing() {
    let mut s = settings();
    s.refresh_each_request = false;
    let h = harness_with(s);
    let cookie = h.seeded().await;
    let request = h.manager.open([cookie.as_bytes()]);
    request.load().await.unwrap();
    let outcome = request.finish(200).await.unwrap();
    assert_eq!(outcome.set_cookie, None);
    assert!(outcome.vary_cookie);
    assert_eq!(h.store.counts(), [1, 0, 0, 0]);
}

#[tokio::test]
async fn loading_twice_shares_one_map_and_one_read() {
    let h = harness();
    let cookie = h.seeded().await;
    let request = h.manager.open([cookie.as_bytes()]);
    let a = request.load().await.unwrap();
    let b = request.load().await.unwrap();
    a.insert("x", "y").unwrap();
    assert_eq!(b.get::<String>("x").unwrap().as_deref(), Some("y"));
    assert_eq!(h.store.counts()[0], 1);
}

/// Two loads of one request polled together (`join!`) still read the store
/// once: the second waits for the first and shares its map.
#[tokio::test]
async fn concurrent_loads_of_one_request_read_the_store_once() {
    let h = harness();
    let cookie = h.seeded().await;
    h.store.yield_in_load.store(true, Ordering::SeqCst);
    let request = h.manager.open([cookie.as_bytes()]);
    let (a, b) = tokio::join!(request.load(), request.load());
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(h.store.counts()[0], 1);
    a.insert("x", "y").unwrap();
    assert_eq!(b.get::<String>("x").unwrap().as_deref(), Some("y"));
    assert_eq!(b.get::<u32>("count").unwrap(), Some(1));
}

/// A load that fails (the store was unreachable) is retried by the next call
/// with the same cookie: the session is found, not replaced by a new one.
#[tokio::test]
async fn a_failed_load_is_retried_with_the_same_cookie() {
    let h = harness();
    let cookie = h.seeded().await;
    h.store.fail_next_load.store(true, Ordering::SeqCst);
    let request = h.manager.open([cookie.as_bytes()]);
    let error = request.load().await.unwrap_err();
    assert_eq!(error.status(), 503);
    assert!(!request.is_loaded());
    let session = request.load().await.unwrap();
    assert_eq!(session.get::<u32>("count").unwrap(), Some(1));
    assert_eq!(h.store.counts()[0], 2);
    session.insert("count", &2u32).unwrap();
    let outcome = request.finish(200).await.unwrap();
    assert_eq!(pair(&outcome.set_cookie.unwrap()), cookie, "same sid kept");
}

#[tokio::test]
async fn the_first_valid_of_several_cookies_wins() {
    let h = harness();
    let cookie = h.seeded().await;
    let header = format!("session=garbage; {cookie}; session={}", "B".repeat(43));
    let request = h.manager.open([header.as_bytes()]);
    assert_eq!(
        request.load().await.unwrap().get::<u32>("count").unwrap(),
        Some(1)
    );
}

#[tokio::test]
async fn an_undecodable_record_gives_a_fresh_session_without_a_deletion_cookie() {
    let h = harness();
    let sid = "C".repeat(43);
    // A legacy Flask-Session pickle.
    h.store
        .inner
        .save(
            &format!("session:{sid}"),
            &[0x80, 0x04, 0x95, 0x00],
            Duration::from_secs(60),
            SaveHint::New,
        )
        .await
        .unwrap();
    let cookie = format!("session={sid}");
    let request = h.manager.open([cookie.as_bytes()]);
    assert!(request.load().await.unwrap().is_empty());
    assert_eq!(request.finish(200).await.unwrap().set_cookie, None);
    assert!(
        h.store.inner.get_raw(&format!("session:{sid}")).is_some(),
        "another app's record is left alone"
    );
}

#[tokio::test]
async fn a_too_large_session_is_a_typed_error_not_a_truncation() {
    let mut s = settings();
    s.max_session_bytes = 64;
    let h = harness_with(s);
    let request = h.manager.open([]);
    request
        .load()
        .await
        .unwrap()
        .insert("big", &"x".repeat(100))
        .unwrap();
    let error = request.finish(200).await.unwrap_err();
    assert_eq!(error.status(), 500);
    assert!(error.to_string().contains("SESSION_MAX_SESSION_BYTES"));
    assert_eq!(h.store.counts()[1], 0);
}

#[tokio::test]
async fn the_null_store_reads_empty_and_refuses_writes_naming_session_type() {
    let manager = SessionManager::from_settings(Settings::default())
        .await
        .unwrap();
    let request = manager.open([]);
    request.load().await.unwrap().insert("k", "v").unwrap();
    let error = request.finish(200).await.unwrap_err();
    assert_eq!(error.status(), 500);
    assert!(
        error.public_message().contains("SESSION_TYPE"),
        "{}",
        error.public_message()
    );
}

#[tokio::test]
async fn foreign_keys_survive_a_rewrite_byte_for_byte() {
    let h = harness();
    let fixture = include_bytes!("fixtures/flask_keys.msgpack");
    let sid = "D".repeat(43);
    let key = format!("session:{sid}");
    h.store
        .inner
        .save(&key, fixture, Duration::from_secs(60), SaveHint::New)
        .await
        .unwrap();
    let cookie = format!("session={sid}");
    let request = h.manager.open([cookie.as_bytes()]);
    request.load().await.unwrap().insert("rust", &1u8).unwrap();
    request.finish(200).await.unwrap();
    let rewritten = h.store.inner.get_raw(&key).unwrap();
    // The rewrite is the fixture's entries, in order, plus the new key, plus
    // the owner-index marker: Flask-Login logged `u-17` in, and this first
    // save indexed the session under its owner.
    let mut expected = fixture.to_vec();
    expected[0] += 2;
    expected.extend_from_slice(&[0xa4, b'r', b'u', b's', b't', 0x01]);
    expected.extend_from_slice(b"\xae_owner_indexed\xa4u-17");
    assert_eq!(rewritten, expected);
}

#[tokio::test]
async fn by_id_operations_work_outside_a_request() {
    let h = harness();
    let cookie = h.seeded().await;
    let sid = cookie.strip_prefix("session=").unwrap().to_owned();
    let map = h.manager.load_by_id(&sid).await.unwrap().unwrap();
    assert_eq!(map.get::<u32>("count").unwrap(), Some(1));
    let new = h.manager.regenerate_by_id(&sid).await.unwrap().unwrap();
    assert!(h.manager.load_by_id(&sid).await.unwrap().is_none());
    h.manager.delete_by_id(new.expose()).await.unwrap();
    assert!(h.manager.load_by_id(new.expose()).await.unwrap().is_none());
    assert!(h
        .manager
        .load_by_id("../etc/passwd")
        .await
        .unwrap()
        .is_none());
}

/// Concurrent requests on one session: conditional saves and the per-key merge.
#[path = "lifecycle/concurrent.rs"]
mod concurrent;

/// Sessions that know their owner: login, logout, the owner index, revokes
/// and the absolute lifetime.
#[path = "lifecycle/owners.rs"]
mod owners;

/// Header transport: the sid in a header of the app's own, in and out.
#[path = "lifecycle/header.rs"]
mod header;

/// After the manager's shutdown no operation reaches the store: a request
/// under way fails its save, a new request its load, the by-id operations
/// theirs, each as unavailable (503); the store is shut down exactly once.
#[tokio::test]
async fn after_a_shutdown_every_session_operation_is_unavailable() {
    let h = harness();
    let cookie = h.seeded().await;
    let under_way = h.manager.open([cookie.as_bytes()]);
    under_way
        .load()
        .await
        .unwrap()
        .insert("count", &2u32)
        .unwrap();
    h.store.reset();

    assert!(!h.manager.is_shut_down());
    h.manager.shutdown().await;
    h.manager.clone().shutdown().await;
    assert!(h.manager.is_shut_down());
    assert_eq!(h.store.shutdowns.load(Ordering::SeqCst), 1, "idempotent");

    assert_eq!(under_way.finish(200).await.unwrap_err().status(), 503);
    let late = h.manager.open([cookie.as_bytes()]);
    assert_eq!(late.load().await.unwrap_err().status(), 503);
    let value = cookie.strip_prefix("session=").unwrap();
    assert_eq!(
        h.manager.load_by_cookie(value).await.unwrap_err().status(),
        503
    );
    let sid = value.split('.').next().unwrap();
    assert_eq!(
        h.manager.delete_by_id(sid).await.unwrap_err().kind,
        session::StoreErrorKind::Unavailable
    );
    assert_eq!(
        h.manager
            .create(&session::SessionMap::new())
            .await
            .unwrap_err()
            .status(),
        503
    );
    assert_eq!(
        h.manager.sessions_of("ada").await.unwrap_err().kind,
        session::StoreErrorKind::Unavailable
    );
    assert_eq!(
        h.manager.revoke_all("ada").await.unwrap_err().kind,
        session::StoreErrorKind::Unavailable
    );
    assert_eq!(h.store.counts(), [0, 0, 0, 0], "nothing reached the store");
}
