//! A hostile session directory: symlinks, FIFOs, directories and huge files
//! planted under session names, and a directory anyone may write to.

#![allow(clippy::unwrap_used)]

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use super::tests::{entries, store_in, HOUR};
use super::*;

#[tokio::test]
async fn a_symlink_under_a_session_name_is_not_followed() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("sessions");
    let store = store_in(&dir, 500, 0o600);
    // A valid, live record outside the directory, and a link to it.
    let outside = root.path().join("outside");
    let record = format::encode(now_secs() + 3600, b"someone else's file");
    fs::write(&outside, &record).unwrap();
    let link = store.inner.path_for("k");
    std::os::unix::fs::symlink(&outside, &link).unwrap();

    assert_eq!(store.load("k").await.unwrap(), None, "load");
    assert_eq!(
        store.load_and_touch("k", HOUR * 24).await.unwrap(),
        None,
        "load_and_touch"
    );
    store.touch("k", HOUR * 24).await.unwrap();
    assert_eq!(store.cleanup().await.unwrap(), 0);
    assert_eq!(
        fs::read(&outside).unwrap(),
        record,
        "the target is neither read, touched nor removed"
    );
    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());

    // A save replaces the link itself, never writing through it.
    store.save("k", b"mine", HOUR, SaveHint::New).await.unwrap();
    assert_eq!(fs::read(&outside).unwrap(), record);
    assert_eq!(
        store.load("k").await.unwrap().as_deref(),
        Some(&b"mine"[..])
    );
}

/// Runs `operations` on a runtime that is shut down without waiting for its
/// blocking threads, so that an operation stuck on a FIFO fails the test
/// instead of hanging it.
fn within_deadline<T: Send + 'static>(
    operations: impl std::future::Future<Output = T> + Send + 'static,
) -> Option<T> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let outcome = runtime.block_on(async {
        tokio::time::timeout(Duration::from_secs(5), operations)
            .await
            .ok()
    });
    runtime.shutdown_timeout(Duration::from_millis(100));
    outcome
}

#[test]
fn a_fifo_or_a_directory_under_a_session_name_blocks_nothing() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("sessions");
    let store = store_in(&dir, 2, 0o600);
    let fifo = store.inner.path_for("fifo");
    let status = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(status.success(), "mkfifo");
    fs::create_dir(store.inner.path_for("directory")).unwrap();

    let operations = {
        let store = store.clone();
        async move {
            let mut results = Vec::new();
            // A pruning scan: the directory is full of two live sessions.
            for key in ["a", "b"] {
                let saved = store.save(key, b"x", HOUR, SaveHint::New).await;
                results.push((key, "save", saved.map(|()| true)));
            }
            let refused = store.save("c", b"x", HOUR, SaveHint::New).await;
            results.push(("c", "refused save", Ok(refused.is_err())));
            for key in ["fifo", "directory"] {
                results.push((key, "load", store.load(key).await.map(|v| v.is_none())));
                let touched = store.load_and_touch(key, HOUR).await;
                results.push((key, "load_and_touch", touched.map(|v| v.is_none())));
                let touched = store.touch(key, HOUR).await;
                results.push((key, "touch", touched.map(|()| true)));
            }
            let cleaned = store.cleanup().await;
            results.push(("-", "cleanup", cleaned.map(|n| n == 0)));
            let exclusive = store.cleanup_exclusive().await;
            results.push(("-", "cleanup_exclusive", exclusive.map(|n| n == Some(0))));
            results
        }
    };
    let results = within_deadline(operations)
        .expect("every operation answers within 5 s; one blocked on the FIFO");
    for (key, operation, result) in results {
        match result {
            Ok(expected) => assert!(expected, "{key}: {operation} gave an unexpected answer"),
            Err(err) => panic!("{key}: {operation} failed: {err}"),
        }
    }
    assert!(fifo.exists() && store.inner.path_for("directory").is_dir());
}

#[tokio::test]
async fn an_oversized_file_is_not_read_whole() {
    let tmp = tempfile::tempdir().unwrap();
    let options = FileStoreOptions {
        max_session_bytes: 1024,
        cleanup_interval: None,
        ..FileStoreOptions::default()
    };
    let store = FileStore::with_options(tmp.path(), &options).unwrap();
    // A well-formed, live record, but larger than any session may be.
    let path = store.inner.path_for("k");
    fs::write(&path, format::encode(now_secs() + 3600, &[7; 4096])).unwrap();
    assert_eq!(store.load("k").await.unwrap(), None);
    assert!(!path.exists(), "treated as an unreadable file and removed");

    // A sparse 4 GiB file: a whole read would take seconds and the memory.
    let file = fs::File::create(&path).unwrap();
    file.set_len(4 << 30).unwrap();
    drop(file);
    let started = std::time::Instant::now();
    assert_eq!(store.load_and_touch("k", HOUR).await.unwrap(), None);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert!(!path.exists());

    // The largest session there may be still reads.
    store
        .save("k", &[7; 1024], HOUR, SaveHint::New)
        .await
        .unwrap();
    assert_eq!(store.load("k").await.unwrap(), Some(vec![7; 1024]));
}

#[test]
fn a_directory_anyone_may_write_to_is_refused_at_build() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("open to all");
    fs::create_dir(&dir).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
    let err = FileStore::new(&dir, 500, 0o600).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("SESSION_FILE_DIR"), "{message}");
    assert!(message.contains("open to all"), "{message}");
    assert!(message.contains("0777"), "{message}");
    assert!(entries(&dir).is_empty(), "nothing was written");

    // The sticky bit stops others from replacing our files, as in /tmp.
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o1777)).unwrap();
    FileStore::new(&dir, 500, 0o600).unwrap();
    // Group-writable is allowed, with a warning.
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o770)).unwrap();
    FileStore::new(&dir, 500, 0o600).unwrap();
}
