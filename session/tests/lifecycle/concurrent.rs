//! Concurrent requests on one session (`write_mode = "merge"`, the default):
//! two requests that loaded the same record both finish, and neither loses
//! the other's changes; a session ended meanwhile stays ended.

use session::{SessionManager, WriteOutcome};

use super::*;

/// Two requests opened with one cookie and loaded, as two tabs would be.
async fn two_requests(
    h: &Harness, cookie: &str,
) -> (session::RequestSession, session::RequestSession) {
    let first = h.manager.open([cookie.as_bytes()]);
    let second = h.manager.open([cookie.as_bytes()]);
    first.load().await.unwrap();
    second.load().await.unwrap();
    (first, second)
}

async fn read(manager: &SessionManager, cookie: &str) -> Option<session::SessionMap> {
    let value = cookie.strip_prefix("session=").unwrap();
    manager.load_by_cookie(value).await.unwrap()
}

#[tokio::test]
async fn two_requests_that_change_different_keys_both_survive() {
    let h = harness();
    let cookie = h.seeded().await;
    let (first, second) = two_requests(&h, &cookie).await;
    first.load().await.unwrap().insert("a", &1).unwrap();
    second.load().await.unwrap().insert("b", &2).unwrap();
    first.finish(200).await.unwrap();
    second.finish(200).await.unwrap();
    let map = read(&h.manager, &cookie).await.unwrap();
    assert_eq!(map.get::<i32>("a").unwrap(), Some(1));
    assert_eq!(map.get::<i32>("b").unwrap(), Some(2));
    assert_eq!(map.get::<u32>("count").unwrap(), Some(1), "untouched");
}

#[tokio::test]
async fn the_same_key_changed_by_both_keeps_the_last_writer() {
    let h = harness();
    let cookie = h.seeded().await;
    let (first, second) = two_requests(&h, &cookie).await;
    first.load().await.unwrap().insert("count", &10).unwrap();
    second.load().await.unwrap().insert("count", &20).unwrap();
    first.finish(200).await.unwrap();
    second.finish(200).await.unwrap();
    let map = read(&h.manager, &cookie).await.unwrap();
    assert_eq!(map.get::<u32>("count").unwrap(), Some(20));
}

#[tokio::test]
async fn a_removal_against_a_change_of_another_key() {
    let h = harness();
    let cookie = h.seeded().await;
    // A second key, so that the removal does not empty (and so end) the session.
    let request = h.manager.open([cookie.as_bytes()]);
    request.load().await.unwrap().insert("x", &1).unwrap();
    request.finish(200).await.unwrap();
    let (first, second) = two_requests(&h, &cookie).await;
    first.load().await.unwrap().remove("count");
    second.load().await.unwrap().insert("b", &2).unwrap();
    first.finish(200).await.unwrap();
    second.finish(200).await.unwrap();
    let map = read(&h.manager, &cookie).await.unwrap();
    assert_eq!(
        map.get::<u32>("count").unwrap(),
        None,
        "the removal survives"
    );
    assert_eq!(map.get::<i32>("b").unwrap(), Some(2));
}

/// A logout (clear) wins over a write that finishes after it: the write
/// finds the record gone, writes nothing, and expires the cookie.
#[tokio::test]
async fn clear_against_a_write_leaves_the_session_ended() {
    let h = harness();
    let cookie = h.seeded().await;
    let (logout, slow) = two_requests(&h, &cookie).await;
    slow.load().await.unwrap().insert("late", &1).unwrap();
    logout.load().await.unwrap().clear();
    let ended = logout.finish(200).await.unwrap();
    assert!(ended.set_cookie.unwrap().contains("Max-Age=0"));
    h.store.reset();
    let late = slow.finish(200).await.unwrap();
    let cookie_sent = late.set_cookie.expect("a cookie for the late write");
    assert!(
        cookie_sent.contains("Max-Age=0"),
        "the ended sid is re-issued: {cookie_sent}"
    );
    assert!(
        read(&h.manager, &cookie).await.is_none(),
        "the session came back"
    );
    assert!(h.store.inner.is_empty(), "something was written");
}

/// A store whose record another writer changes just before every
/// conditional save of this request.
#[derive(Default)]
struct Contended {
    inner: MemoryStore,
    attempts: AtomicUsize,
}

#[async_trait]
impl SessionStore for Contended {
    fn backend(&self) -> &'static str {
        "contended-memory"
    }
    async fn load(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.load(key).await
    }
    async fn save(
        &self, key: &str, value: &[u8], ttl: Duration, hint: SaveHint,
    ) -> Result<(), StoreError> {
        self.inner.save(key, value, ttl, hint).await
    }
    async fn save_if_unchanged(
        &self, key: &str, expected: &[u8], value: &[u8], ttl: Duration,
    ) -> Result<WriteOutcome, StoreError> {
        let n = self.attempts.fetch_add(1, Ordering::SeqCst);
        // Another writer's record: a valid session with a key of its own.
        let mut theirs = session::SessionMap::new();
        theirs.insert("other", &n).unwrap();
        let bytes = session::codec::Codec::new(Default::default(), 65536)
            .encode(&theirs)
            .unwrap();
        self.inner
            .save(key, &bytes, ttl, SaveHint::Existing)
            .await?;
        self.inner
            .save_if_unchanged(key, expected, value, ttl)
            .await
    }
    async fn insert_new(
        &self, key: &str, value: &[u8], ttl: Duration,
    ) -> Result<WriteOutcome, StoreError> {
        self.inner.insert_new(key, value, ttl).await
    }
    async fn touch(&self, key: &str, ttl: Duration) -> Result<(), StoreError> {
        self.inner.touch(key, ttl).await
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.inner.delete(key).await
    }
    async fn add_owned(
        &self, owner: &str, key: &str, created: std::time::SystemTime, ttl: std::time::Duration,
    ) -> Result<(), StoreError> {
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
}

/// Retries are bounded: after sixteen conditional saves that each lost the
/// race, the response is an opaque 503 and nothing of this request is
/// written.
#[tokio::test]
async fn retries_are_bounded_then_503_with_nothing_written() {
    let store = Arc::new(Contended::default());
    let manager = SessionManager::new(settings(), store.clone()).unwrap();
    let request = manager.open([]);
    request.load().await.unwrap().insert("count", &1).unwrap();
    let cookie = pair(&request.finish(200).await.unwrap().set_cookie.unwrap());

    let request = manager.open([cookie.as_bytes()]);
    request.load().await.unwrap().insert("mine", &1).unwrap();
    let error = request.finish(200).await.unwrap_err();
    assert_eq!(error.status(), 503);
    assert_eq!(store.attempts.load(Ordering::SeqCst), 16);
    let map = read(&manager, &cookie).await.unwrap();
    assert_eq!(map.get::<i32>("mine").unwrap(), None, "a half-write");
    assert!(map.contains_key("other"));
}

/// `write_mode = "overwrite"` is Flask's last writer wins on the whole map.
#[tokio::test]
async fn overwrite_mode_is_last_writer_wins() {
    let h = harness_with({
        let mut settings = settings();
        settings.write_mode = session::config::WriteMode::Overwrite;
        settings
    });
    let cookie = h.seeded().await;
    let (first, second) = two_requests(&h, &cookie).await;
    first.load().await.unwrap().insert("a", &1).unwrap();
    second.load().await.unwrap().insert("b", &2).unwrap();
    first.finish(200).await.unwrap();
    second.finish(200).await.unwrap();
    let map = read(&h.manager, &cookie).await.unwrap();
    assert_eq!(
        map.get::<i32>("a").unwrap(),
        None,
        "the first write is lost"
    );
    assert_eq!(map.get::<i32>("b").unwrap(), Some(2));
}

/// Sixteen requests of one client that each add a key, finishing together:
/// every key survives.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sixteen_writers_that_finish_together_all_survive() {
    let h = harness();
    let cookie = h.seeded().await;
    let mut requests = Vec::new();
    for i in 0..16 {
        let request = h.manager.open([cookie.as_bytes()]);
        request
            .load()
            .await
            .unwrap()
            .insert(&format!("k{i}"), &i)
            .unwrap();
        requests.push(request);
    }
    let finishing: Vec<_> = requests
        .into_iter()
        .map(|request| tokio::spawn(async move { request.finish(200).await }))
        .collect();
    for finish in finishing {
        if let Err(error) = finish.await.unwrap() {
            panic!("{error}");
        }
    }
    let map = read(&h.manager, &cookie).await.unwrap();
    for i in 0..16 {
        assert_eq!(
            map.get::<i32>(&format!("k{i}")).unwrap(),
            Some(i),
            "k{i} lost"
        );
    }
}
