//! The store's behaviour as a session store: round trips, expiry, the
//! record checks, atomic writes, eviction, and I/O errors. Shared helpers for
//! the other test modules of the folder live here too.

#![allow(clippy::unwrap_used)]

use std::ffi::OsStr;
use std::fs::File;
use std::time::SystemTime;

use super::format::{read_header, CHECKSUM_LEN, HEADER_LEN, LEN_OFFSET, MAGIC};
use super::names::is_session_name;
use super::*;
use crate::store::StoreErrorKind;

pub(super) const HOUR: Duration = Duration::from_secs(3600);

/// A store that refuses new sessions when full (the default).
pub(super) fn store_in(dir: &Path, threshold: usize, mode: u32) -> FileStore {
    FileStore::new(dir, threshold, mode).unwrap()
}

/// Saves `value` under `key` as a new session that lives `ttl`.
pub(super) async fn put(store: &FileStore, key: &str, value: &[u8], ttl: Duration) {
    store.save(key, value, ttl, SaveHint::New).await.unwrap();
}

/// A store over a new temporary directory, which lives as long as the guard.
pub(super) fn fresh(threshold: usize) -> (tempfile::TempDir, FileStore) {
    let tmp = tempfile::tempdir().unwrap();
    let store = store_in(tmp.path(), threshold, 0o600);
    (tmp, store)
}

/// A store that evicts the oldest sessions when full, as Flask's does.
pub(super) fn evicting_store_in(dir: &Path, threshold: usize) -> FileStore {
    let options = FileStoreOptions {
        threshold,
        when_full: WhenFull::EvictOldest,
        cleanup_interval: None,
        ..FileStoreOptions::default()
    };
    FileStore::with_options(dir, &options).unwrap()
}

/// The files of the directory, but the write locks (which stay by design).
pub(super) fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|name| !name.starts_with(".write-lock-"))
        .collect();
    names.sort();
    names
}

pub(super) fn expiry_on_disk(store: &FileStore, key: &str) -> u64 {
    let mut file = File::open(store.inner.path_for(key)).unwrap();
    read_header(&mut file).unwrap().unwrap()
}

impl FileStore {
    /// Saves a new session with an explicit expiry (unix seconds).
    pub(super) async fn save_at(
        &self, key: &str, value: &[u8], expiry: u64,
    ) -> Result<(), StoreError> {
        self.save_with_expiry(key, value, expiry, SaveHint::New)
            .await
    }

    pub(super) fn count(&self) -> usize {
        self.inner.count.load(Ordering::Relaxed)
    }
}

#[tokio::test]
async fn round_trip() {
    let (tmp, store) = fresh(500);
    assert_eq!(store.backend(), "filesystem");
    assert_eq!(store.load("k").await.unwrap(), None);
    put(&store, "k", b"\x81\xa1a\x01", HOUR).await;
    assert_eq!(
        store.load("k").await.unwrap().as_deref(),
        Some(&b"\x81\xa1a\x01"[..])
    );
    store
        .save("k", b"", HOUR, SaveHint::Existing)
        .await
        .unwrap();
    assert_eq!(store.load("k").await.unwrap().as_deref(), Some(&b""[..]));
    assert_eq!(
        entries(tmp.path()).len(),
        1,
        "an overwrite replaces the file"
    );
    store.delete("k").await.unwrap();
    assert_eq!(store.load("k").await.unwrap(), None);
    store.delete("k").await.unwrap();
    assert!(entries(tmp.path()).is_empty());
}

#[tokio::test]
async fn save_writes_the_ttl_as_unix_seconds() {
    let (_tmp, store) = fresh(500);
    let before = now_secs();
    put(&store, "k", b"v", Duration::from_secs(100)).await;
    let expiry = expiry_on_disk(&store, "k");
    assert!(
        (before + 100..=now_secs() + 101).contains(&expiry),
        "{expiry} vs {before}"
    );
}

#[tokio::test]
async fn expired_is_never_served_and_is_removed() {
    let (tmp, store) = fresh(500);
    store.save_at("k", b"v", now_secs() - 1).await.unwrap();
    assert_eq!(store.load("k").await.unwrap(), None);
    assert!(entries(tmp.path()).is_empty());

    store.save_at("k", b"v", now_secs()).await.unwrap();
    assert_eq!(store.load_and_touch("k", HOUR).await.unwrap(), None);
    assert!(entries(tmp.path()).is_empty());

    store.save_at("k", b"v", now_secs() - 1).await.unwrap();
    store.touch("k", HOUR).await.unwrap();
    assert_eq!(
        store.load("k").await.unwrap(),
        None,
        "a touch does not revive it"
    );
}

#[tokio::test]
async fn a_short_ttl_expires() {
    let (_tmp, store) = fresh(500);
    put(&store, "k", b"v", Duration::from_millis(10)).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(store.load("k").await.unwrap(), None);
}

#[tokio::test]
async fn load_and_touch_and_touch_move_the_expiry() {
    let (tmp, store) = fresh(500);
    put(&store, "k", b"v", Duration::from_secs(5)).await;
    let got = store
        .load_and_touch("k", Duration::from_secs(500))
        .await
        .unwrap();
    assert_eq!(got.as_deref(), Some(&b"v"[..]));
    assert!(expiry_on_disk(&store, "k") >= now_secs() + 400);
    store.touch("k", Duration::from_secs(50)).await.unwrap();
    let expiry = expiry_on_disk(&store, "k");
    assert!(expiry <= now_secs() + 51 && expiry >= now_secs() + 49);
    assert_eq!(
        store.load("k").await.unwrap().as_deref(),
        Some(&b"v"[..]),
        "the checksum still holds"
    );
    store.touch("missing", HOUR).await.unwrap();
    assert_eq!(store.load_and_touch("missing", HOUR).await.unwrap(), None);
    assert_eq!(
        entries(tmp.path()).len(),
        1,
        "touching a missing key creates nothing"
    );
}

#[tokio::test]
async fn corrupt_or_truncated_files_are_a_miss_and_removed() {
    let (_tmp, store) = fresh(500);
    put(&store, "k", b"some session bytes", HOUR).await;
    let path = store.inner.path_for("k");
    let valid = fs::read(&path).unwrap();

    let mut flipped = valid.clone();
    flipped[HEADER_LEN + 2] ^= 0x01;
    let mut long = valid.clone();
    long.push(0);
    let mut huge_len = valid.clone();
    huge_len[LEN_OFFSET..HEADER_LEN].copy_from_slice(&u64::MAX.to_be_bytes());
    let cases: Vec<(&str, Vec<u8>)> = vec![
        (
            "garbage",
            b"not a session file at all, just garbage".to_vec(),
        ),
        ("empty", Vec::new()),
        ("header only", valid[..HEADER_LEN].to_vec()),
        (
            "truncated payload",
            valid[..valid.len() - CHECKSUM_LEN - 3].to_vec(),
        ),
        ("truncated checksum", valid[..valid.len() - 1].to_vec()),
        ("trailing byte", long),
        ("flipped payload bit", flipped),
        ("huge length", huge_len),
        ("magic only", MAGIC.to_vec()),
    ];
    for (name, bytes) in cases {
        fs::write(&path, &bytes).unwrap();
        assert_eq!(store.load("k").await.unwrap(), None, "{name}");
        assert!(!path.exists(), "{name}: removed");
        fs::write(&path, &bytes).unwrap();
        assert_eq!(
            store.load_and_touch("k", HOUR).await.unwrap(),
            None,
            "{name}"
        );
        assert!(!path.exists(), "{name}: removed");
    }
    fs::write(&path, &valid).unwrap();
    assert_eq!(
        store.load("k").await.unwrap().as_deref(),
        Some(&b"some session bytes"[..])
    );
}

#[tokio::test]
async fn leftover_temp_files_are_ignored_and_cleaned() {
    let tmp = tempfile::tempdir().unwrap();
    let stale = tmp.path().join(".tmp-1-2-deadbeef");
    let fresh = tmp.path().join(".tmp-1-3-cafebabe");
    let old = SystemTime::now() - Duration::from_secs(3600);
    for path in [&stale, &fresh] {
        fs::write(path, encode(0, b"half-written")).unwrap();
    }
    let age = |path: &Path| {
        File::options()
            .write(true)
            .open(path)
            .unwrap()
            .set_modified(old)
    };
    age(&stale).unwrap();

    let store = store_in(tmp.path(), 500, 0o600);
    assert!(!stale.exists(), "start-up removes stale temp files");
    assert!(fresh.exists(), "a temp file in flight is left alone");
    assert_eq!(store.count(), 0, "temp files are not sessions");
    assert_eq!(store.load(".tmp-1-3-cafebabe").await.unwrap(), None);

    fs::write(&stale, b"x").unwrap();
    age(&stale).unwrap();
    assert_eq!(
        store.cleanup().await.unwrap(),
        0,
        "temp files are not counted as sessions"
    );
    assert!(!stale.exists());
    assert!(fresh.exists());
}

#[tokio::test]
async fn path_like_keys_stay_inside_the_directory() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("sessions");
    let store = store_in(&dir, 500, 0o600);
    let keys = [
        "../../etc/passwd",
        "../escape",
        "/abs/path",
        "a/b",
        "nul\0byte",
        "..",
        ".",
        "",
        "C:\\x",
    ];
    for (i, key) in keys.iter().enumerate() {
        store
            .save(key, &[i as u8], HOUR, SaveHint::New)
            .await
            .unwrap();
    }
    for (i, key) in keys.iter().enumerate() {
        assert_eq!(
            store.load(key).await.unwrap(),
            Some(vec![i as u8]),
            "{key:?}"
        );
    }
    assert_eq!(entries(root.path()), ["sessions"]);
    let names = entries(&dir);
    assert_eq!(names.len(), keys.len());
    assert!(
        names.iter().all(|n| is_session_name(OsStr::new(n))),
        "{names:?}"
    );
    for key in keys {
        assert_eq!(store.inner.path_for(key).parent(), Some(store.dir()));
    }
}

#[cfg(unix)]
#[tokio::test]
async fn files_get_the_configured_mode_and_the_dir_0700() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    for mode in [0o600, 0o640, 0o664] {
        let dir = root.path().join(format!("m{mode:o}"));
        let store = store_in(&dir, 500, mode);
        assert_eq!(
            fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
            0o700
        );
        store.save("k", b"v", HOUR, SaveHint::New).await.unwrap();
        store
            .save("k", b"w", HOUR, SaveHint::Existing)
            .await
            .unwrap();
        let meta = fs::metadata(store.inner.path_for("k")).unwrap();
        assert_eq!(meta.permissions().mode() & 0o7777, mode, "{mode:o}");
    }
}

#[tokio::test]
async fn evict_oldest_prunes_expired_first_then_the_oldest() {
    let tmp = tempfile::tempdir().unwrap();
    let store = evicting_store_in(tmp.path(), 4);
    let now = now_secs();
    store.save_at("expired1", b"x", now - 10).await.unwrap();
    store.save_at("expired2", b"x", now - 5).await.unwrap();
    store.save_at("a", b"x", now + 100).await.unwrap();
    store.save_at("b", b"x", now + 200).await.unwrap();
    assert_eq!(
        entries(tmp.path()).len(),
        4,
        "at the threshold nothing is pruned"
    );

    store.save_at("c", b"x", now + 300).await.unwrap();
    let left = entries(tmp.path());
    assert_eq!(left.len(), 3, "only the expired files went");
    for key in ["expired1", "expired2"] {
        assert!(!store.inner.path_for(key).exists(), "{key}");
    }

    store.save_at("d", b"x", now + 400).await.unwrap();
    store.save_at("e", b"x", now + 50_000).await.unwrap();
    assert_eq!(entries(tmp.path()).len(), 4);
    assert!(!store.inner.path_for("a").exists(), "the oldest went");
    for key in ["b", "c", "d", "e"] {
        assert!(store.load(key).await.unwrap().is_some(), "{key}");
    }
    assert_eq!(store.count(), 4);
}

#[tokio::test]
async fn evict_oldest_never_removes_the_file_just_saved() {
    let tmp = tempfile::tempdir().unwrap();
    let store = evicting_store_in(tmp.path(), 2);
    let now = now_secs();
    store.save_at("a", b"x", now + 1000).await.unwrap();
    store.save_at("b", b"x", now + 2000).await.unwrap();
    store.save_at("short", b"x", now + 10).await.unwrap();
    assert!(store.load("short").await.unwrap().is_some());
    assert_eq!(entries(tmp.path()).len(), 2);
}

#[tokio::test]
async fn threshold_zero_means_no_limit() {
    let (tmp, store) = fresh(0);
    for i in 0..20 {
        store
            .save(&format!("k{i}"), b"x", HOUR, SaveHint::New)
            .await
            .unwrap();
    }
    assert_eq!(entries(tmp.path()).len(), 20);
}

#[tokio::test]
async fn cleanup_removes_expired_and_leaves_live_and_foreign_files() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("README"), b"not ours").unwrap();
    let store = store_in(tmp.path(), 500, 0o600);
    let now = now_secs();
    store.save_at("old1", b"x", now - 100).await.unwrap();
    store.save_at("old2", b"x", now).await.unwrap();
    store.save_at("forever", b"x", 0).await.unwrap();
    store.save("live", b"x", HOUR, SaveHint::New).await.unwrap();
    assert_eq!(store.cleanup().await.unwrap(), 2);
    assert_eq!(store.cleanup().await.unwrap(), 0);
    assert!(store.load("live").await.unwrap().is_some());
    assert!(store.load("forever").await.unwrap().is_some());
    assert!(tmp.path().join("README").exists());
    assert_eq!(store.count(), 2);
}

#[tokio::test]
async fn start_up_counts_existing_sessions() {
    let tmp = tempfile::tempdir().unwrap();
    let first = store_in(tmp.path(), 500, 0o600);
    for key in ["a", "b", "c"] {
        first.save(key, b"x", HOUR, SaveHint::New).await.unwrap();
    }
    let second = store_in(tmp.path(), 500, 0o600);
    assert_eq!(second.count(), 3);
    assert_eq!(second.load("b").await.unwrap().as_deref(), Some(&b"x"[..]));
}

fn assert_io_failure(err: &StoreError, operation: &str) {
    assert_eq!(err.kind, StoreErrorKind::Failed, "{err}");
    assert_eq!(err.backend, "filesystem");
    assert_eq!(err.operation, operation);
    assert!(err.source.downcast_ref::<io::Error>().is_some(), "{err:?}");
}

#[tokio::test]
async fn io_errors_reach_the_caller_as_failed_with_the_io_source() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("sessions");
    let store = store_in(&dir, 500, 0o600);
    store.save("k", b"v", HOUR, SaveHint::New).await.unwrap();
    // Permission bits do not stop root, so take the directory away instead.
    fs::remove_dir_all(&dir).unwrap();
    fs::write(&dir, b"a file where the directory was").unwrap();

    let err = store
        .save("k", b"v", HOUR, SaveHint::New)
        .await
        .unwrap_err();
    assert_io_failure(&err, "save");
    assert_io_failure(&store.load("k").await.unwrap_err(), "load");
    assert_io_failure(
        &store.load_and_touch("k", HOUR).await.unwrap_err(),
        "load_and_touch",
    );
    assert_io_failure(&store.touch("k", HOUR).await.unwrap_err(), "touch");
    assert_io_failure(&store.delete("k").await.unwrap_err(), "delete");
    assert_io_failure(&store.cleanup().await.unwrap_err(), "cleanup");
}

#[tokio::test]
async fn an_unusable_dir_fails_at_build_naming_the_dir() {
    let root = tempfile::tempdir().unwrap();
    let file = root.path().join("plain-file");
    fs::write(&file, b"x").unwrap();
    let dir = file.join("sessions");
    let err = FileStore::new(&dir, 500, 0o600).unwrap_err();
    match &err {
        BuildError::Backend {
            backend, location, ..
        } => {
            assert_eq!(*backend, "filesystem");
            assert!(location.contains("plain-file"), "{location}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(err.to_string().contains("plain-file"), "{err}");
}

#[tokio::test]
async fn concurrent_saves_and_loads_never_see_a_torn_file() {
    let tmp = tempfile::tempdir().unwrap();
    // Large records take long enough to write for a torn read to show.
    let options = FileStoreOptions {
        max_session_bytes: 256 * 1024,
        cleanup_interval: None,
        ..FileStoreOptions::default()
    };
    let store = FileStore::with_options(tmp.path(), &options).unwrap();
    let small = vec![1u8; 10];
    let large = vec![2u8; 200_000];
    store.save("k", &small, HOUR, SaveHint::New).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        let (small, large) = (small.clone(), large.clone());
        tasks.push(tokio::spawn(async move {
            for j in 0..20 {
                if (i + j) % 2 == 0 {
                    let value = if j % 3 == 0 { &large } else { &small };
                    store
                        .save("k", value, HOUR, SaveHint::Existing)
                        .await
                        .unwrap();
                } else {
                    let got = store.load_and_touch("k", HOUR).await.unwrap().unwrap();
                    assert!(got == small || got == large);
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(entries(tmp.path()).len(), 1, "no temp file is left behind");
}

/// A read that finds a session expired removes its file only under the
/// file's stripe lock, which a save holds while it renames: a save that
/// compared the record just before it expired and renames its new record
/// over the file cannot have that record removed by the read.
#[tokio::test]
async fn an_expired_file_is_removed_only_under_its_stripe_lock() {
    let (_tmp, store) = fresh(500);
    store.save_at("k", b"old", 1).await.unwrap(); // expired long ago
    let path = store.inner.path_for("k");
    let save_in_progress = store.inner.lock_for_write(&path).unwrap();
    let reader = {
        let store = store.clone();
        tokio::spawn(async move { store.load("k").await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        path.exists(),
        "the expired file was removed while a save held its stripe lock"
    );
    // The save lands, still under its lock: a live record over the old file.
    let expiry = now_secs() + 3600;
    assert!(store
        .inner
        .save(&path, &encode(expiry, b"new"), expiry, SaveHint::Existing)
        .unwrap());
    drop(save_in_progress);
    assert_eq!(
        reader.await.unwrap().unwrap(),
        None,
        "the read saw the expired record"
    );
    assert_eq!(
        store.load("k").await.unwrap().as_deref(),
        Some(&b"new"[..]),
        "the save's record survived the read's removal of the expired one"
    );
}
