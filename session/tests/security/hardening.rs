//! Regression tests for the hardening findings, at the lifecycle level (the
//! HTTP forms run in the conformance suite, `session-tests`'s `hostile`
//! module). Each failed before its fix.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use session::store::BuildError;

use super::*;

/// Finding 1: a login handler that clears, regenerates, then writes, on a
/// session that came from the client's cookie, used to save the logged-in
/// session under the old (possibly planted) sid.
#[test]
fn login_after_clear_moves_to_a_new_sid() {
    runtime().block_on(async {
        let store = Arc::new(Recording::default());
        let manager = manager_over(settings(false), &store);
        let planted = seed(&manager).await;

        let request = manager.open([planted.as_bytes()]);
        let session = request.load().await.unwrap();
        session.clear();
        session.regenerate().unwrap();
        session.insert("_user_id", "42").unwrap();
        let outcome = request.finish(200).await.unwrap();
        let issued = pair(&outcome.set_cookie.unwrap());

        assert_ne!(
            sid_of(&issued),
            sid_of(&planted),
            "the planted sid was kept"
        );
        assert!(!store.has(&sid_of(&planted)), "the planted record survives");
        assert!(store.has(&sid_of(&issued)));
        let logged_in = manager
            .load_by_cookie(&value_of(&issued))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            logged_in.get::<String>("_user_id").unwrap().as_deref(),
            Some("42")
        );
        assert!(manager
            .load_by_cookie(&value_of(&planted))
            .await
            .unwrap()
            .is_none());
    });
}

/// A regenerate on an emptied session that is not filled again ends it: the
/// old record is deleted and the cookie expired; nothing is written.
#[test]
fn regenerate_after_clear_alone_deletes_the_old_record() {
    runtime().block_on(async {
        let store = Arc::new(Recording::default());
        let manager = manager_over(settings(false), &store);
        let cookie = seed(&manager).await;
        store.clear_ops();
        let request = manager.open([cookie.as_bytes()]);
        let session = request.load().await.unwrap();
        session.clear();
        session.regenerate().unwrap();
        let outcome = request.finish(200).await.unwrap();
        assert!(outcome.set_cookie.unwrap().contains("Max-Age=0"));
        assert!(!store.has(&sid_of(&cookie)));
        assert!(
            !store.ops().iter().any(|(op, _)| *op == "save"),
            "{:?}",
            store.ops()
        );
    });
}

/// Finding 2: other cookies' bytes, valid UTF-8 or not, never hide the
/// session cookie; a session cookie whose value is not text is invalid.
#[test]
fn foreign_cookie_bytes_never_hide_the_session() {
    runtime().block_on(async {
        let store = Arc::new(Recording::default());
        let manager = manager_over(settings(false), &store);
        let cookie = seed(&manager).await;
        let utf8 = format!("theme=caf\u{e9}; {cookie}");
        let mut latin1 = b"lang=\xe9t\xe9; ".to_vec();
        latin1.extend_from_slice(cookie.as_bytes());
        let quoted = format!("session=\"{}\"", value_of(&cookie));
        let headers: [Vec<&[u8]>; 4] = [
            vec![utf8.as_bytes()],
            vec![&latin1],
            vec![b"a=\xff", b"session=", cookie.as_bytes()],
            vec![quoted.as_bytes()],
        ];
        for header in headers {
            let request = manager.open(header.iter().copied());
            let session = request.load().await.unwrap();
            assert_eq!(
                session.get::<String>("user").unwrap().as_deref(),
                Some("ada"),
                "{header:?}"
            );
        }

        store.clear_ops();
        let request = manager.open([&b"session=caf\xe9\xff-not-a-sid-at-all"[..]]);
        let session = request.load().await.unwrap();
        assert!(session.is_empty());
        let outcome = request.finish(200).await.unwrap();
        assert!(
            outcome.set_cookie.unwrap().contains("Max-Age=0"),
            "a deletion cookie"
        );
        assert_eq!(store.reads(), 0, "an invalid value reached the store");
    });
}

/// A store with memcached's key limit, over the memory store.
struct Limited(Recording);

#[async_trait]
impl SessionStore for Limited {
    fn backend(&self) -> &'static str {
        "limited-memory"
    }
    fn max_key_len(&self) -> Option<usize> {
        Some(250)
    }
    async fn load(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.check(key)?;
        self.0.load(key).await
    }
    async fn load_and_touch(
        &self, key: &str, ttl: Duration,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        self.check(key)?;
        self.0.load_and_touch(key, ttl).await
    }
    async fn save(
        &self, key: &str, value: &[u8], ttl: Duration, hint: SaveHint,
    ) -> Result<(), StoreError> {
        self.check(key)?;
        self.0.save(key, value, ttl, hint).await
    }
    async fn save_if_unchanged(
        &self, key: &str, expected: &[u8], value: &[u8], ttl: Duration,
    ) -> Result<session::WriteOutcome, StoreError> {
        self.check(key)?;
        self.0.save_if_unchanged(key, expected, value, ttl).await
    }
    async fn insert_new(
        &self, key: &str, value: &[u8], ttl: Duration,
    ) -> Result<session::WriteOutcome, StoreError> {
        self.check(key)?;
        self.0.insert_new(key, value, ttl).await
    }
    async fn touch(&self, key: &str, ttl: Duration) -> Result<(), StoreError> {
        self.check(key)?;
        self.0.touch(key, ttl).await
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.check(key)?;
        self.0.delete(key).await
    }
    async fn add_owned(
        &self, owner: &str, key: &str, created: std::time::SystemTime, ttl: std::time::Duration,
    ) -> Result<(), StoreError> {
        self.0.add_owned(owner, key, created, ttl).await
    }
    async fn remove_owned(&self, owner: &str, key: &str) -> Result<(), StoreError> {
        self.0.remove_owned(owner, key).await
    }
    async fn list_owned(
        &self, owner: &str,
    ) -> Result<Vec<session::store::IndexedSession>, StoreError> {
        self.0.list_owned(owner).await
    }
}

impl Limited {
    /// Refuses a key over the limit, as memcached does.
    fn check(&self, key: &str) -> Result<(), StoreError> {
        if key.len() > 250 {
            return Err(StoreError::failed("limited-memory", "load", "key too long"));
        }
        Ok(())
    }
}

/// Finding 3: a well-formed sid whose key the store cannot hold used to fail
/// the load with a store error (500) on every request while the cookie lived.
#[test]
fn a_sid_the_store_cannot_hold_is_an_invalid_cookie() {
    runtime().block_on(async {
        let store = Arc::new(Limited(Recording::default()));
        let manager = SessionManager::new(settings(false), store.clone()).unwrap();
        for length in [243, 250, 256] {
            let header = format!("session={}", "A".repeat(length));
            let request = manager.open([header.as_bytes()]);
            let session = request
                .load()
                .await
                .expect("an invalid cookie, not an error");
            assert!(session.is_empty());
            session.insert("n", &1).unwrap();
            let outcome = request.finish(200).await.unwrap();
            let issued = outcome.set_cookie.unwrap();
            assert_ne!(value_of(&issued), "A".repeat(length), "adopted");
            let sid = "A".repeat(length);
            assert!(manager.load_by_id(&sid).await.unwrap().is_none());
            manager.delete_by_id(&sid).await.unwrap();
        }
        assert_eq!(store.0.reads(), 0, "a key over the limit reached the store");
        // A sid within the limit still works.
        let header = format!("session={}", "B".repeat(242));
        let request = manager.open([header.as_bytes()]);
        request.load().await.unwrap();
        assert_eq!(store.0.reads(), 1);
    });
}

/// Finding 5: settings built in code used to reach the manager unchecked; a
/// NaN threshold, an endless lifetime or a bad cookie attribute then panicked
/// or made a broken cookie later.
#[test]
fn a_manager_refuses_settings_that_a_load_would_refuse() {
    let store = || Arc::new(MemoryStore::new());
    let cases = [
        {
            let mut settings = Settings::default();
            settings.refresh_threshold = f64::NAN;
            settings
        },
        {
            let mut settings = Settings::default();
            settings.permanent_session_lifetime = Duration::MAX;
            settings
        },
        {
            let mut settings = Settings::default();
            settings.operation_timeout = Duration::MAX;
            settings
        },
        {
            let mut settings = Settings::default();
            settings.cookie.path = "/; Domain=evil.example".to_owned();
            settings
        },
        {
            let mut settings = Settings::default();
            settings.cookie.name = "__Host-sid".to_owned();
            settings
        },
    ];
    for settings in cases {
        let shown = format!("{settings:?}");
        match SessionManager::new(settings, store()) {
            Err(BuildError::Settings(error)) => {
                assert!(error.to_string().contains("code"), "{error}");
            }
            other => panic!("accepted {shown}: {other:?}"),
        }
    }
    assert!(SessionManager::new(Settings::default(), store()).is_ok());
}

/// Counts its wake-ups.
#[derive(Default)]
struct Wakes(AtomicUsize);

impl Wake for Wakes {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// Finding 7: a second load of one request, polled while the first waits on
/// the store, used to spin on `yield_now` (waking itself at once, forever if
/// the first never ended). It now sleeps until the first ends.
#[test]
fn a_second_load_sleeps_until_the_first_ends() {
    runtime().block_on(async {
        let gate = Arc::new(tokio::sync::Semaphore::new(0));
        let store = Arc::new(Gated {
            inner: MemoryStore::new(),
            gate: gate.clone(),
        });
        let manager = SessionManager::new(settings(false), store).unwrap();
        let cookie = {
            let request = manager.open([]);
            request.load().await.unwrap().insert("user", "ada").unwrap();
            pair(&request.finish(200).await.unwrap().set_cookie.unwrap())
        };
        let request = manager.open([cookie.as_bytes()]);
        let wakes = Arc::new(Wakes::default());
        let waker = Waker::from(wakes.clone());
        let mut context = Context::from_waker(&waker);
        let mut first = pin!(request.load());
        let mut second = pin!(request.load());
        assert!(
            first.as_mut().poll(&mut context).is_pending(),
            "the store waits"
        );
        let before = wakes.0.load(Ordering::SeqCst);
        assert!(second.as_mut().poll(&mut context).is_pending());
        assert!(second.as_mut().poll(&mut context).is_pending());
        assert_eq!(
            wakes.0.load(Ordering::SeqCst),
            before,
            "the second load spins"
        );

        gate.add_permits(1);
        let first = loop {
            match first.as_mut().poll(&mut context) {
                Poll::Ready(session) => break session.unwrap(),
                Poll::Pending => tokio::task::yield_now().await,
            }
        };
        assert!(
            wakes.0.load(Ordering::SeqCst) > before,
            "the second load is woken"
        );
        let Poll::Ready(second) = second.as_mut().poll(&mut context) else {
            panic!("the second load ends with the first");
        };
        let second = second.unwrap();
        second.insert("seen", &true).unwrap();
        assert!(first.contains_key("seen"), "one map for both");
    });
}

/// The memory store, whose loads wait for a permit.
struct Gated {
    inner: MemoryStore,
    gate: Arc<tokio::sync::Semaphore>,
}

#[async_trait]
impl SessionStore for Gated {
    fn backend(&self) -> &'static str {
        "gated-memory"
    }
    async fn load(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.load(key).await
    }
    async fn load_and_touch(
        &self, key: &str, ttl: Duration,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        if self.inner.get_raw(key).is_some() {
            let _permit = self.gate.acquire().await;
        }
        self.inner.load_and_touch(key, ttl).await
    }
    async fn save(
        &self, key: &str, value: &[u8], ttl: Duration, hint: SaveHint,
    ) -> Result<(), StoreError> {
        self.inner.save(key, value, ttl, hint).await
    }
    async fn save_if_unchanged(
        &self, key: &str, expected: &[u8], value: &[u8], ttl: Duration,
    ) -> Result<session::WriteOutcome, StoreError> {
        self.inner
            .save_if_unchanged(key, expected, value, ttl)
            .await
    }
    async fn insert_new(
        &self, key: &str, value: &[u8], ttl: Duration,
    ) -> Result<session::WriteOutcome, StoreError> {
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

/// Finding 7: finish with `cleanup_n_requests` used to `tokio::spawn`, which
/// panics outside a Tokio runtime.
#[test]
fn finish_outside_a_tokio_runtime_does_not_panic() {
    let settings = {
        let mut settings = settings(false);
        settings.cleanup_n_requests = Some(1);
        settings
    };
    let manager = SessionManager::new(settings, Arc::new(MemoryStore::new())).unwrap();
    for _ in 0..32 {
        let request = manager.open([]);
        let mut load = pin!(request.load());
        let Poll::Ready(session) = load.as_mut().poll(&mut Context::from_waker(Waker::noop()))
        else {
            panic!("the memory store answers at once");
        };
        session.unwrap().insert("n", &1).unwrap();
        let mut finish = pin!(request.finish(200));
        let Poll::Ready(outcome) = finish
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
        else {
            panic!("the memory store answers at once");
        };
        assert!(outcome.unwrap().set_cookie.is_some());
    }
}

/// Finding 7: the finish outcome holds the raw `Set-Cookie`; its `Debug`
/// used to show the sid.
#[test]
fn debug_of_a_finish_outcome_hides_the_sid() {
    runtime().block_on(async {
        let manager = SessionManager::new(settings(false), Arc::new(MemoryStore::new())).unwrap();
        let request = manager.open([]);
        request.load().await.unwrap().insert("user", "ada").unwrap();
        let outcome = request.finish(200).await.unwrap();
        let sid = sid_of(outcome.set_cookie.as_deref().unwrap());
        let shown = format!("{outcome:?}");
        assert!(!shown.contains(&sid), "{shown}");
        assert!(shown.contains("session"), "{shown}");
    });
}
