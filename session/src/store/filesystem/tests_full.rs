//! A full directory: expired files go first; then new sessions are refused
//! (the default) and no live session is evicted, or, with `evict_oldest`,
//! the oldest live ones go (see also the eviction tests in `tests.rs`).

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::sync::Mutex;

use super::tests::{entries, evicting_store_in, fresh, HOUR};
use super::*;
use crate::store::StoreErrorKind;

fn assert_refused(err: &StoreError) {
    assert_eq!(err.kind, StoreErrorKind::Unavailable, "{err}");
    assert_eq!((err.backend, err.operation), ("filesystem", "save"));
    assert!(
        err.to_string().contains("SESSION_FILE_THRESHOLD = 3"),
        "the error names the limit: {err}"
    );
}

#[tokio::test]
async fn refuse_at_the_threshold_keeps_every_live_session() {
    let (tmp, store) = fresh(3);
    for key in ["a", "b", "c"] {
        store.save(key, b"live", HOUR, SaveHint::New).await.unwrap();
    }
    for i in 0..20 {
        let err = store
            .save(&format!("anonymous{i}"), b"x", HOUR, SaveHint::New)
            .await
            .unwrap_err();
        assert_refused(&err);
    }
    for key in ["a", "b", "c"] {
        assert_eq!(
            store.load(key).await.unwrap().as_deref(),
            Some(&b"live"[..]),
            "{key} is never evicted"
        );
    }
    assert_eq!(entries(tmp.path()).len(), 3);

    // Rewrites are never refused, whatever the hint says.
    store
        .save("a", b"rewritten", HOUR, SaveHint::Existing)
        .await
        .unwrap();
    store
        .save("b", b"rewritten", HOUR, SaveHint::New)
        .await
        .unwrap();
    assert_eq!(store.count(), 3);
    // Nor is a loaded session whose file went meanwhile.
    store
        .save("gone-meanwhile", b"x", HOUR, SaveHint::Existing)
        .await
        .unwrap();
    assert_eq!(store.count(), 4);

    // A logout makes room at once, without a scan.
    store.delete("c").await.unwrap();
    store.delete("gone-meanwhile").await.unwrap();
    store.save("d", b"x", HOUR, SaveHint::New).await.unwrap();
    assert_refused(
        &store
            .save("e", b"x", HOUR, SaveHint::New)
            .await
            .unwrap_err(),
    );
}

#[tokio::test]
async fn refuse_prunes_expired_files_first() {
    let (tmp, store) = fresh(3);
    let now = now_secs();
    store.save_at("expired1", b"x", now - 10).await.unwrap();
    store.save_at("expired2", b"x", now - 1).await.unwrap();
    store.save("live", b"x", HOUR, SaveHint::New).await.unwrap();
    store.save("new1", b"x", HOUR, SaveHint::New).await.unwrap();
    for key in ["expired1", "expired2"] {
        assert!(!store.inner.path_for(key).exists(), "{key} was pruned");
    }
    store.save("new2", b"x", HOUR, SaveHint::New).await.unwrap();
    assert_eq!(entries(tmp.path()).len(), 3);
    for key in ["live", "new1", "new2"] {
        assert!(store.load(key).await.unwrap().is_some(), "{key}");
    }
}

#[tokio::test]
async fn a_full_directory_is_not_rescanned_on_every_refused_save() {
    let (_tmp, store) = fresh(2);
    store.save("a", b"x", HOUR, SaveHint::New).await.unwrap();
    store.save("b", b"x", HOUR, SaveHint::New).await.unwrap();
    store
        .save("c", b"x", HOUR, SaveHint::New)
        .await
        .unwrap_err();
    // An expired file appears behind the store's back (another process).
    let planted = store.inner.path_for("planted");
    fs::write(&planted, format::encode(now_secs() - 5, b"x")).unwrap();
    store
        .save("c", b"x", HOUR, SaveHint::New)
        .await
        .unwrap_err();
    assert!(
        planted.exists(),
        "no scan: nothing the store knows of could have expired"
    );
}

#[tokio::test]
async fn evict_oldest_evicts_live_sessions_as_flask_does() {
    let tmp = tempfile::tempdir().unwrap();
    let store = evicting_store_in(tmp.path(), 3);
    let now = now_secs();
    for (i, key) in ["a", "b", "c", "d", "e"].iter().enumerate() {
        store
            .save_at(key, b"x", now + 100 * (i as u64 + 1))
            .await
            .unwrap();
    }
    assert!(store.load("a").await.unwrap().is_none(), "the oldest went");
    assert!(store.load("b").await.unwrap().is_none(), "the oldest went");
    for key in ["c", "d", "e"] {
        assert!(store.load(key).await.unwrap().is_some(), "{key}");
    }
}

/// Collects what the fmt subscriber writes.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_refusal_warns_naming_the_key_and_its_value_once_per_burst() {
    let (_tmp, store) = fresh(3);
    let log = Captured::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::WARN)
        .finish();
    // tracing caches each callsite's interest the first time any thread
    // reaches it. With one dispatcher registered, it asks only the reaching
    // thread's own: another test's thread that first reaches the refusal's
    // `warn!` while this test's subscriber is in place would cache "never"
    // and silence it here (a flake seen in CI). A second dispatcher, alive
    // for the whole test, makes every later caching ask all of them.
    let _second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    // The store's blocking part, on this thread, where the subscriber is.
    tracing::subscriber::with_default(subscriber, || {
        let expiry = now_secs() + 3600;
        for i in 0..10 {
            let path = store.inner.path_for(&format!("k{i}"));
            let bytes = format::encode(expiry, b"x");
            let written = store
                .inner
                .save(&path, &bytes, expiry, SaveHint::New)
                .unwrap();
            assert_eq!(written, i < 3, "save {i}");
        }
    });
    let log = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    assert_eq!(
        log.matches("WARN").count(),
        1,
        "one warning per burst:\n{log}"
    );
    assert!(log.contains("SESSION_FILE_THRESHOLD=3"), "{log}");
    assert!(
        log.contains("raise SESSION_FILE_THRESHOLD (now 3)"),
        "{log}"
    );
    assert!(log.contains("SESSION_WHEN_FULL"), "{log}");
}
