//! The owner-index half of the store contract (design §12), through the
//! [`SessionStore`] trait alone: an added key is listed with when its owner
//! logged in; removing it, or the record's end, takes it out of the listing
//! (a dead entry is pruned, so it stays out when a record comes back under
//! its key); a move is a remove and an add; owners are kept apart, however
//! close their names or however special their characters are to the backend.
//!
//! [`store_contract!`](crate::contract) runs each of these on every backend.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime};

use session::store::{SaveHint, SessionStore, MAX_OWNER_LEN};

use crate::common::unique_name;
use crate::contract::Under;

const MINUTE: Duration = Duration::from_secs(60);

/// An owner name no other test or run uses, ending in `suffix`.
fn unique_owner(test: &str, suffix: &str) -> String {
    format!("{}{suffix}", unique_name(test, '-'))
}

/// The keys `owner`'s listing holds.
async fn listed(store: &dyn SessionStore, owner: &str) -> BTreeSet<String> {
    store
        .list_owned(owner)
        .await
        .unwrap()
        .into_iter()
        .map(|entry| entry.key)
        .collect()
}

/// Writes a record under `key`, as a login would before indexing it.
async fn record(store: &dyn SessionStore, key: &str) {
    store
        .save(key, b"\x81\xa8_user_id\xa1u", MINUTE, SaveHint::New)
        .await
        .unwrap();
}

fn set(keys: &[&String]) -> BTreeSet<String> {
    keys.iter().map(|key| (*key).clone()).collect()
}

pub async fn index_lists_added_sessions_with_their_times(under: Under) {
    let store = under.store.as_ref();
    let owner = unique_owner("listed", "");
    let (a, b) = (under.key("own-a"), under.key("own-b"));
    record(store, &a).await;
    record(store, &b).await;
    assert!(store.list_owned(&owner).await.unwrap().is_empty());
    let created = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    store.add_owned(&owner, &a, created, MINUTE).await.unwrap();
    store
        .add_owned(&owner, &b, SystemTime::now(), MINUTE)
        .await
        .unwrap();
    // Adding again replaces, never duplicates.
    store.add_owned(&owner, &a, created, MINUTE).await.unwrap();
    let entries = store.list_owned(&owner).await.unwrap();
    assert_eq!(entries.len(), 2, "{entries:?}");
    let first = entries.iter().find(|entry| entry.key == a).unwrap();
    if let Some(at) = first.created {
        assert_eq!(at, created, "created is kept to the second");
    }
    for entry in &entries {
        if let Some(expires) = entry.expires {
            let left = expires
                .duration_since(SystemTime::now())
                .unwrap_or_default();
            assert!(left <= MINUTE + Duration::from_secs(2), "{left:?}");
            assert!(left >= MINUTE - Duration::from_secs(20), "{left:?}");
        }
    }
    store.delete(&a).await.unwrap();
    store.delete(&b).await.unwrap();
}

pub async fn index_drops_removed_and_moved_sessions(under: Under) {
    let store = under.store.as_ref();
    let owner = unique_owner("moved", "");
    let (old, new) = (under.key("own-old"), under.key("own-new"));
    record(store, &old).await;
    store
        .add_owned(&owner, &old, SystemTime::now(), MINUTE)
        .await
        .unwrap();
    assert_eq!(listed(store, &owner).await, set(&[&old]));
    // A regenerate: the record moves to a new key, the index follows.
    record(store, &new).await;
    store
        .add_owned(&owner, &new, SystemTime::now(), MINUTE)
        .await
        .unwrap();
    store.delete(&old).await.unwrap();
    store.remove_owned(&owner, &old).await.unwrap();
    assert_eq!(listed(store, &owner).await, set(&[&new]));
    // A logout; removing twice is not an error.
    store.delete(&new).await.unwrap();
    store.remove_owned(&owner, &new).await.unwrap();
    store.remove_owned(&owner, &new).await.unwrap();
    assert!(listed(store, &owner).await.is_empty());
}

pub async fn index_prunes_sessions_whose_record_is_gone(under: Under) {
    let store = under.store.as_ref();
    let owner = unique_owner("pruned", "");
    let (live, dead) = (under.key("own-live"), under.key("own-dead"));
    record(store, &live).await;
    record(store, &dead).await;
    for key in [&live, &dead] {
        store
            .add_owned(&owner, key, SystemTime::now(), MINUTE)
            .await
            .unwrap();
    }
    // The record ends without the index hearing of it (an expiry, a crash).
    store.delete(&dead).await.unwrap();
    assert_eq!(listed(store, &owner).await, set(&[&live]));
    // Pruned, not just hidden: a record written again under the dead key
    // (never a sid's fate, but observable) is not the owner's.
    record(store, &dead).await;
    assert_eq!(listed(store, &owner).await, set(&[&live]));
    store.delete(&live).await.unwrap();
    store.delete(&dead).await.unwrap();
}

pub async fn index_keeps_owners_apart_whatever_their_characters(under: Under) {
    let store = under.store.as_ref();
    let base = unique_owner("apart", "");
    let mut owners: Vec<String> = [
        "", ":", ":*", "*", "{tag}", "}{", "/", "../..", "a b", " lead", "é", "%2F", "\\",
    ]
    .iter()
    .map(|suffix| format!("{base}{suffix}"))
    .collect();
    owners.push(format!("{base}{}", "x".repeat(MAX_OWNER_LEN - base.len())));
    owners.push(format!(
        "{base}{}",
        "x".repeat(MAX_OWNER_LEN - base.len() - 1)
    ));
    let mut keys = Vec::new();
    for (n, owner) in owners.iter().enumerate() {
        let key = under.key(&format!("own-apart-{n}"));
        record(store, &key).await;
        store
            .add_owned(owner, &key, SystemTime::now(), MINUTE)
            .await
            .unwrap();
        keys.push(key);
    }
    for (owner, key) in owners.iter().zip(&keys) {
        assert_eq!(listed(store, owner).await, set(&[key]), "owner {owner:?}");
    }
    for (owner, key) in owners.iter().zip(&keys) {
        store.remove_owned(owner, key).await.unwrap();
        store.delete(key).await.unwrap();
        assert!(listed(store, owner).await.is_empty(), "owner {owner:?}");
    }
}

/// Logs `owner` in on a new session through the lifecycle; the cookie pair.
async fn log_in(manager: &session::SessionManager, owner: &str) -> String {
    let request = manager.open([]);
    request.load().await.unwrap().login(owner).unwrap();
    let set_cookie = request.finish(200).await.unwrap().set_cookie.unwrap();
    set_cookie.split(';').next().unwrap().to_owned()
}

/// The owner a cookie's session has now, through a request.
async fn owner_behind(manager: &session::SessionManager, cookie: &str) -> Option<String> {
    let request = manager.open([cookie.as_bytes()]);
    request.load().await.unwrap().owner()
}

pub async fn index_revokes_one_all_but_current_and_all(under: Under) {
    let mut settings = crate::contract::settings();
    settings.key_prefix = under.key("");
    let manager = session::SessionManager::new(settings, under.store.clone()).unwrap();
    let owner = unique_owner("revoked", ":*{x}/..");
    let other = unique_owner("kept", "");
    let cookies = [
        log_in(&manager, &owner).await,
        log_in(&manager, &owner).await,
        log_in(&manager, &owner).await,
    ];
    let kept = log_in(&manager, &other).await;
    let mut handles = Vec::new();
    for cookie in &cookies {
        let request = manager.open([cookie.as_bytes()]);
        handles.push(request.load().await.unwrap().handle());
    }
    let listed: BTreeSet<_> = manager
        .sessions_of(&owner)
        .await
        .unwrap()
        .into_iter()
        .map(|owned| owned.handle)
        .collect();
    assert_eq!(listed, handles.iter().cloned().collect());

    assert!(manager.revoke(&owner, &handles[0]).await.unwrap());
    assert_eq!(owner_behind(&manager, &cookies[0]).await, None);
    assert_eq!(
        manager
            .revoke_all_except(&owner, &handles[1])
            .await
            .unwrap(),
        1
    );
    assert_eq!(owner_behind(&manager, &cookies[2]).await, None);
    assert_eq!(
        owner_behind(&manager, &cookies[1]).await.as_deref(),
        Some(owner.as_str())
    );
    assert_eq!(manager.revoke_all(&owner).await.unwrap(), 1);
    assert_eq!(owner_behind(&manager, &cookies[1]).await, None);
    assert!(manager.sessions_of(&owner).await.unwrap().is_empty());
    assert_eq!(
        owner_behind(&manager, &kept).await.as_deref(),
        Some(other.as_str())
    );
    assert_eq!(manager.revoke_all(&other).await.unwrap(), 1);
}
