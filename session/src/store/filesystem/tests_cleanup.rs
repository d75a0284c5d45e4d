//! The background cleanup: its first pass, its lock, its end.

#![allow(clippy::unwrap_used)]

use super::names::CLEANUP_LOCK;
use super::tests::HOUR;
use super::*;

const EVERY: Duration = Duration::from_millis(200);

fn options(cleanup_interval: Option<Duration>) -> FileStoreOptions {
    FileStoreOptions {
        cleanup_interval,
        ..FileStoreOptions::default()
    }
}

#[tokio::test]
async fn the_background_cleanup_removes_expired_files() {
    let tmp = tempfile::tempdir().unwrap();
    let created = std::time::Instant::now();
    let store = FileStore::with_options(tmp.path(), &options(Some(EVERY))).unwrap();
    store.save_at("old", b"x", now_secs() - 1).await.unwrap();
    store.save("live", b"x", HOUR, SaveHint::New).await.unwrap();
    let old = store.inner.path_for("old");
    tokio::time::sleep(EVERY / 4).await;
    let kept = old.exists();
    // On a busy machine this test's task may wake after the first pass was
    // due; only a check made before then says anything.
    if created.elapsed() < EVERY {
        assert!(kept, "the first pass waits one interval");
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    // The pass replaces the count after its last removal: wait for both.
    while (old.exists() || store.count() != 1) && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!old.exists(), "the expired file was removed");
    assert!(store.load("live").await.unwrap().is_some());
    assert_eq!(store.count(), 1);
    assert!(tmp.path().join(CLEANUP_LOCK).is_file());
}

#[tokio::test]
async fn the_background_cleanup_ends_with_the_store() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FileStore::with_options(tmp.path(), &options(None)).unwrap();
    let task = store.spawn_cleanup(EVERY).unwrap();
    let clone = store.clone();
    drop(store);
    tokio::time::sleep(EVERY * 2).await;
    assert!(!task.is_finished(), "a clone still holds the store");
    drop(clone);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while !task.is_finished() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        task.is_finished(),
        "the task ends once the store is dropped"
    );
}

#[tokio::test]
async fn a_shutdown_ends_the_background_cleanup_and_waits_for_it() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FileStore::with_options(tmp.path(), &options(Some(HOUR))).unwrap();
    assert!(store.cleanup_running());
    let clone = store.clone();
    tokio::time::timeout(Duration::from_secs(2), store.shutdown())
        .await
        .expect("the shutdown does not wait for the next tick");
    assert!(!store.cleanup_running());
    assert!(!clone.cleanup_running(), "clones share the task");
    assert_eq!(
        store.inner.cleanup_task.listeners(),
        0,
        "the task has ended"
    );
    store.shutdown().await; // idempotent
}

#[tokio::test]
async fn one_pass_at_a_time_across_processes() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FileStore::with_options(tmp.path(), &options(None)).unwrap();
    store.save_at("old", b"x", now_secs() - 1).await.unwrap();
    // Another process's pass, holding the lock.
    let other = fs::File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(tmp.path().join(CLEANUP_LOCK))
        .unwrap();
    other.try_lock().unwrap();
    assert_eq!(store.cleanup_exclusive().await.unwrap(), None, "skipped");
    assert!(store.inner.path_for("old").exists());
    // A process that dies releases its lock with its file.
    drop(other);
    assert_eq!(store.cleanup_exclusive().await.unwrap(), Some(1));
    assert!(!store.inner.path_for("old").exists());
}

#[test]
fn no_runtime_at_build_means_no_cleanup_and_no_panic() {
    let tmp = tempfile::tempdir().unwrap();
    let store = FileStore::with_options(tmp.path(), &options(Some(EVERY))).unwrap();
    assert_eq!(
        store.inner.cleanup_task.listeners(),
        0,
        "no task was started"
    );
}

#[tokio::test]
async fn from_settings_starts_the_cleanup_when_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let mut settings = {
        let mut settings = Settings::default();
        settings.file_dir = tmp.path().to_path_buf();
        settings.cleanup_interval = Some(HOUR);
        settings
    };
    let store = FileStore::from_settings(&settings).await.unwrap();
    assert_eq!(store.inner.cleanup_task.listeners(), 1, "the hourly task");
    settings.cleanup_interval = None;
    let store = FileStore::from_settings(&settings).await.unwrap();
    assert_eq!(store.inner.cleanup_task.listeners(), 0, "none");
}
