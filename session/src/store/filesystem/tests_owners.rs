//! The owner index's files: where they live and what they are named, that
//! the directory's scans, counts and cleanup leave them be, that cleanup
//! prunes them, and what a damaged or planted index does.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;

use super::names::{index_name, OWNERS_DIR};
use super::tests::{entries, expiry_on_disk, fresh, store_in, HOUR};
use super::*;
use crate::store::StoreErrorKind;

async fn listed(store: &FileStore, owner: &str) -> BTreeSet<String> {
    store
        .list_owned(owner)
        .await
        .unwrap()
        .into_iter()
        .map(|entry| entry.key)
        .collect()
}

async fn own(store: &FileStore, owner: &str, key: &str) {
    store
        .add_owned(owner, key, SystemTime::now(), HOUR)
        .await
        .unwrap();
}

#[tokio::test]
async fn index_files_are_hashed_names_in_their_own_subdirectory() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("sessions");
    let store = store_in(&dir, 500, 0o600);
    let owners = ["../../escape", "/abs", "a/b", "..", "x\0y", "C:\\x"];
    for (n, owner) in owners.iter().enumerate() {
        let key = format!("session:k{n}");
        store.save(&key, b"x", HOUR, SaveHint::New).await.unwrap();
        own(&store, owner, &key).await;
    }
    assert_eq!(entries(root.path()), ["sessions"], "nothing outside");
    let mut names = entries(&dir.join(OWNERS_DIR));
    names.retain(|name| !name.starts_with(".lock-"));
    let mut expected: Vec<String> = owners.iter().map(|owner| index_name(owner)).collect();
    expected.sort();
    assert_eq!(names, expected);
    for (n, owner) in owners.iter().enumerate() {
        assert_eq!(
            listed(&store, owner).await,
            BTreeSet::from([format!("session:k{n}")])
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(dir.join(OWNERS_DIR))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }
}

#[tokio::test]
async fn index_files_are_not_sessions_to_counts_scans_or_cleanup() {
    let (tmp, store) = fresh(3);
    for key in ["a", "b"] {
        store.save(key, b"x", HOUR, SaveHint::New).await.unwrap();
        own(&store, "alice", key).await;
        own(&store, "bob", key).await;
    }
    assert_eq!(store.count(), 2);
    assert_eq!(store.cleanup().await.unwrap(), 0);
    assert_eq!(store.count(), 2, "a scan counts sessions only");
    assert_eq!(
        store_in(tmp.path(), 3, 0o600).count(),
        2,
        "so does start-up"
    );
    // The threshold counts sessions only: a third one still fits.
    store.save("c", b"x", HOUR, SaveHint::New).await.unwrap();
    assert_eq!(listed(&store, "alice").await.len(), 2);
    assert_eq!(listed(&store, "bob").await.len(), 2);
}

#[tokio::test]
async fn cleanup_prunes_the_indexes_and_removes_emptied_ones() {
    let (tmp, store) = fresh(500);
    let now = now_secs();
    store.save_at("old", b"x", now - 1).await.unwrap();
    store.save("live", b"x", HOUR, SaveHint::New).await.unwrap();
    store.save_at("gone", b"x", now - 1).await.unwrap();
    own(&store, "alice", "old").await;
    own(&store, "alice", "live").await;
    own(&store, "carol", "gone").await;
    let owners = tmp.path().join(OWNERS_DIR);
    let (alice, carol) = (
        owners.join(index_name("alice")),
        owners.join(index_name("carol")),
    );
    let before = fs::read(&alice).unwrap();
    assert_eq!(store.cleanup().await.unwrap(), 2, "two expired sessions");
    assert_ne!(fs::read(&alice).unwrap(), before, "alice's index pruned");
    assert!(!carol.exists(), "carol's emptied index removed");
    assert_eq!(
        listed(&store, "alice").await,
        BTreeSet::from(["live".to_owned()])
    );
    // A stale temp file a crash left in the subdirectory goes too.
    let temp = owners.join(".tmp-crashed");
    fs::write(&temp, b"half").unwrap();
    let old = std::time::SystemTime::now() - Duration::from_secs(3600);
    fs::File::options()
        .write(true)
        .open(&temp)
        .unwrap()
        .set_modified(old)
        .unwrap();
    store.cleanup_exclusive().await.unwrap();
    assert!(!temp.exists());
}

#[tokio::test]
async fn a_listing_gives_the_sessions_expiry_and_login_time() {
    let (_tmp, store) = fresh(500);
    store.save("k", b"x", HOUR, SaveHint::New).await.unwrap();
    let created = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    store.add_owned("alice", "k", created, HOUR).await.unwrap();
    let entries = store.list_owned("alice").await.unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].created, Some(created));
    let expires = entries[0].expires.unwrap();
    // Read from the file rather than recomputed from the clock: a second
    // boundary between the save and a new clock read would make them differ.
    let expected = SystemTime::UNIX_EPOCH + Duration::from_secs(expiry_on_disk(&store, "k"));
    assert_eq!(expires, expected, "the session file's own expiry");
}

#[tokio::test]
async fn a_damaged_index_reads_as_empty_and_is_replaced() {
    let (tmp, store) = fresh(500);
    store.save("k", b"x", HOUR, SaveHint::New).await.unwrap();
    own(&store, "alice", "k").await;
    let index = tmp.path().join(OWNERS_DIR).join(index_name("alice"));
    let mut bytes = fs::read(&index).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    fs::write(&index, &bytes).unwrap();
    assert!(listed(&store, "alice").await.is_empty());
    own(&store, "alice", "k").await;
    assert_eq!(
        listed(&store, "alice").await,
        BTreeSet::from(["k".to_owned()])
    );
}

#[tokio::test]
async fn concurrent_adds_for_one_owner_all_land() {
    let (_tmp, store) = fresh(500);
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..24 {
        let store = store.clone();
        tasks.spawn(async move {
            let key = format!("k{n}");
            store.save(&key, b"x", HOUR, SaveHint::New).await.unwrap();
            own(&store, "alice", &key).await;
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    assert_eq!(listed(&store, "alice").await.len(), 24);
}

#[cfg(unix)]
#[tokio::test]
async fn a_planted_symlink_for_the_subdirectory_is_refused() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("sessions");
    let store = store_in(&dir, 500, 0o600);
    let elsewhere = root.path().join("elsewhere");
    fs::create_dir(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, dir.join(OWNERS_DIR)).unwrap();
    store.save("k", b"x", HOUR, SaveHint::New).await.unwrap();
    let error = store
        .add_owned("alice", "k", SystemTime::now(), HOUR)
        .await
        .unwrap_err();
    assert_eq!(error.kind, StoreErrorKind::Failed);
    assert_eq!(error.operation, "index");
    assert!(error.to_string().contains("not a directory"), "{error}");
    assert!(store.list_owned("alice").await.is_err());
    assert!(
        fs::read_dir(&elsewhere).unwrap().next().is_none(),
        "nothing written through the link"
    );
    // Cleanup logs it and goes on with the sessions.
    store.save_at("old", b"x", now_secs() - 1).await.unwrap();
    assert_eq!(store.cleanup().await.unwrap(), 1);
    assert!(store.load("k").await.unwrap().is_some());
}
