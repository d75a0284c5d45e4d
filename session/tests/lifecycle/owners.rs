//! Sessions that know their owner (design §12, §13), through the manager and
//! the memory store: a login always moves a client's sid and indexes the
//! session; a logout or a revoke ends it for good; the index changes only
//! when the owner does; a session past `absolute_lifetime` is gone however
//! busy its client.

use std::collections::BTreeSet;

use session::owner::{LoginError, SessionHandle, CREATED_KEY, INDEXED_KEY};
use session::store::MAX_OWNER_LEN;
use session::SessionMap;

use super::*;

/// One request: opens with `cookie` (if any), runs `handler`, finishes with
/// 200; the cookie the client holds afterwards (`None` once deleted).
async fn request(
    h: &Harness, cookie: Option<&str>, handler: impl FnOnce(&session::Session),
) -> Option<String> {
    let request = h.manager.open(cookie.map(str::as_bytes));
    let session = request.load().await.unwrap();
    handler(&session);
    let outcome = request.finish(200).await.unwrap();
    match outcome.set_cookie {
        Some(set) if set.contains("Max-Age=0") => None,
        Some(set) => Some(pair(&set)),
        None => cookie.map(str::to_owned),
    }
}

async fn login(h: &Harness, cookie: Option<&str>, owner: &str) -> String {
    request(h, cookie, |session| {
        session.clear();
        session.login(owner).unwrap();
    })
    .await
    .unwrap()
}

async fn owner_of(h: &Harness, cookie: &str) -> Option<String> {
    let request = h.manager.open([cookie.as_bytes()]);
    request.load().await.unwrap().owner()
}

async fn handle_of(h: &Harness, cookie: &str) -> SessionHandle {
    let request = h.manager.open([cookie.as_bytes()]);
    request.load().await.unwrap().handle()
}

async fn listed(h: &Harness, owner: &str) -> BTreeSet<SessionHandle> {
    let list = h.manager.sessions_of(owner).await.unwrap();
    list.into_iter().map(|owned| owned.handle).collect()
}

#[tokio::test]
async fn a_login_moves_a_planted_sid_and_the_planted_one_stays_anonymous() {
    let h = harness();
    // The attacker's own live session, planted in the victim's browser.
    let planted = h.seeded().await;
    let victim = login(&h, Some(&planted), "victim").await;
    assert_ne!(victim, planted, "the login kept the planted sid");
    assert_eq!(owner_of(&h, &victim).await.as_deref(), Some("victim"));
    assert_eq!(
        owner_of(&h, &planted).await,
        None,
        "the planted sid is logged in"
    );
    assert!(h.store.inner.get_raw(&h.key_of(&planted)).is_none());
    // Also when the cookie names no record at all, or the session is new.
    let unknown = format!("session={}", "A".repeat(43));
    assert_ne!(login(&h, Some(&unknown), "victim").await, unknown);
    let fresh = login(&h, None, "victim").await;
    assert_eq!(owner_of(&h, &fresh).await.as_deref(), Some("victim"));
}

#[tokio::test]
async fn a_login_sets_flask_logins_keys_and_the_index_marker() {
    let h = harness();
    let cookie = login(&h, None, "u-17").await;
    let map = read_map(&h, &cookie).await;
    assert_eq!(
        map.get::<String>("_user_id").unwrap().as_deref(),
        Some("u-17")
    );
    assert_eq!(map.get::<bool>("_fresh").unwrap(), Some(true));
    assert_eq!(
        map.get::<String>(INDEXED_KEY).unwrap().as_deref(),
        Some("u-17")
    );
    assert!(
        !map.contains_key(CREATED_KEY),
        "no absolute_lifetime, no _created"
    );
}

async fn read_map(h: &Harness, cookie: &str) -> SessionMap {
    let value = cookie.strip_prefix("session=").unwrap();
    h.manager.load_by_cookie(value).await.unwrap().unwrap()
}

#[tokio::test]
async fn a_bad_owner_is_refused_and_the_session_unchanged() {
    let h = harness();
    let request = h.manager.open([]);
    let session = request.load().await.unwrap();
    for owner in [String::new(), "x".repeat(MAX_OWNER_LEN + 1)] {
        assert!(matches!(
            session.login(&owner),
            Err(LoginError::Owner { .. })
        ));
    }
    assert_eq!(session.owner(), None);
    assert!(session.is_empty());
}

#[tokio::test]
async fn three_devices_are_listed_then_ended_one_all_but_one_and_all() {
    let h = harness();
    let devices = [
        login(&h, None, "ada").await,
        login(&h, None, "ada").await,
        login(&h, None, "ada").await,
    ];
    let other = login(&h, None, "grace").await;
    let mut handles = Vec::new();
    for cookie in &devices {
        handles.push(handle_of(&h, cookie).await);
    }
    assert_eq!(listed(&h, "ada").await, handles.iter().cloned().collect());
    let listing = h.manager.sessions_of("ada").await.unwrap();
    assert!(listing
        .iter()
        .all(|owned| owned.created.is_some() && owned.expires.is_some()));

    // One device logs out: its record and its entry go.
    assert_eq!(
        request(&h, Some(&devices[0]), |s| s.logout().unwrap()).await,
        None
    );
    assert_eq!(
        listed(&h, "ada").await,
        handles[1..].iter().cloned().collect()
    );

    // Revoke one by handle; a handle that is not the owner's ends nothing.
    assert!(h.manager.revoke("ada", &handles[1]).await.unwrap());
    assert!(!h.manager.revoke("ada", &handles[1]).await.unwrap());
    assert!(!h.manager.revoke("grace", &handles[2]).await.unwrap());
    assert_eq!(owner_of(&h, &devices[1]).await, None);
    assert_eq!(owner_of(&h, &devices[2]).await.as_deref(), Some("ada"));

    // All but the current one, then all.
    let fourth = login(&h, None, "ada").await;
    let current = handle_of(&h, &fourth).await;
    assert_eq!(
        h.manager.revoke_all_except("ada", &current).await.unwrap(),
        1
    );
    assert_eq!(listed(&h, "ada").await, [current].into_iter().collect());
    assert_eq!(h.manager.revoke_all("ada").await.unwrap(), 1);
    assert!(listed(&h, "ada").await.is_empty());
    assert_eq!(owner_of(&h, &fourth).await, None);
    // Another owner is untouched.
    assert_eq!(owner_of(&h, &other).await.as_deref(), Some("grace"));
    assert_eq!(listed(&h, "grace").await.len(), 1);
}

#[tokio::test]
async fn a_revoked_session_in_flight_cannot_come_back() {
    let h = harness();
    let cookie = login(&h, None, "ada").await;
    // A slow request loads the session, then the user logs out everywhere.
    let slow = h.manager.open([cookie.as_bytes()]);
    slow.load().await.unwrap().insert("late", &1).unwrap();
    assert_eq!(h.manager.revoke_all("ada").await.unwrap(), 1);
    let outcome = slow.finish(200).await.unwrap();
    assert!(outcome.set_cookie.unwrap().contains("Max-Age=0"));
    assert!(
        h.store.inner.get_raw(&h.key_of(&cookie)).is_none(),
        "it came back"
    );
    assert!(listed(&h, "ada").await.is_empty());
}

#[tokio::test]
async fn regenerate_moves_the_index_entry_and_ordinary_writes_leave_it_alone() {
    let h = harness();
    let cookie = login(&h, None, "ada").await;
    let before = listed(&h, "ada").await;
    let cookie = request(&h, Some(&cookie), |s| s.regenerate().unwrap())
        .await
        .unwrap();
    let after = listed(&h, "ada").await;
    assert_eq!(after.len(), 1);
    assert_ne!(before, after);
    assert_eq!(after, [handle_of(&h, &cookie).await].into_iter().collect());
    // An ordinary write is no owner change: the index is not written.
    h.store
        .inner
        .remove_owned("ada", &h.key_of(&cookie))
        .await
        .unwrap();
    request(&h, Some(&cookie), |s| s.insert("k", "v").unwrap()).await;
    assert!(
        listed(&h, "ada").await.is_empty(),
        "an ordinary write touched the index"
    );
}

#[tokio::test]
async fn a_session_flask_logged_in_is_indexed_at_its_first_save() {
    let h = harness();
    // Flask-Login sets `_user_id` (here an integer) and no marker.
    let mut map = SessionMap::new();
    map.insert("_user_id", &42).unwrap();
    let value = h.manager.create(&map).await.unwrap();
    let cookie = format!("session={value}");
    request(&h, Some(&cookie), |s| {
        assert_eq!(s.owner().as_deref(), Some("42"))
    })
    .await;
    assert!(listed(&h, "42").await.is_empty(), "a read is not a save");
    request(&h, Some(&cookie), |s| s.insert("k", "v").unwrap()).await;
    assert_eq!(
        listed(&h, "42").await,
        [handle_of(&h, &cookie).await].into_iter().collect()
    );
    // Flask-Login's logout_user pops `_user_id`: the next save drops the entry.
    request(&h, Some(&cookie), |s| {
        s.remove("_user_id");
    })
    .await;
    assert!(listed(&h, "42").await.is_empty());
    assert!(!read_map(&h, &cookie).await.contains_key(INDEXED_KEY));
}

#[tokio::test]
async fn past_its_absolute_lifetime_a_busy_session_is_fresh_and_the_old_one_deleted() {
    let mut settings = settings();
    settings.absolute_lifetime = Some(Duration::from_secs(3600));
    let h = harness_with(settings);
    let cookie = login(&h, None, "ada").await;
    let started = read_map(&h, &cookie)
        .await
        .get::<i64>(CREATED_KEY)
        .unwrap()
        .unwrap();
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        now.abs_diff(started as u64) < 5,
        "_created is the login time"
    );

    // The same session, as if it had started two hours ago.
    let key = h.key_of(&cookie);
    let mut map = read_map(&h, &cookie).await;
    map.insert(CREATED_KEY, &(started - 7200)).unwrap();
    let bytes = session::codec::Codec::new(Default::default(), 65536)
        .encode(&map)
        .unwrap();
    h.store
        .inner
        .save(&key, &bytes, Duration::from_secs(60), SaveHint::Existing)
        .await
        .unwrap();

    let request = h.manager.open([cookie.as_bytes()]);
    let session = request.load().await.unwrap();
    assert_eq!(
        session.owner(),
        None,
        "an expired session is still logged in"
    );
    assert!(session.is_empty());
    assert!(
        h.store.inner.get_raw(&key).is_none(),
        "the old record is deleted"
    );
    assert!(listed(&h, "ada").await.is_empty());
    session.insert("k", "v").unwrap();
    let set = request.finish(200).await.unwrap().set_cookie.unwrap();
    assert_ne!(pair(&set), cookie, "a fresh session has a new sid");
    // A new session gets its start at creation.
    assert!(read_map(&h, &pair(&set)).await.contains_key(CREATED_KEY));
}

/// Requests slide a session's expiry without telling the index, so the index
/// keeps an entry as long as the session can live: `absolute_lifetime` plus
/// one idle lifetime, or without an absolute lifetime for good (100 years),
/// never just the idle lifetime a busy session outlives.
#[tokio::test]
async fn the_index_keeps_an_entry_as_long_as_its_session_can_live() {
    let h = harness();
    login(&h, None, "ada").await;
    let kept = h.store.index_ttl.lock().unwrap().unwrap();
    assert!(kept >= Duration::from_secs(99 * 365 * 86_400), "{kept:?}");

    let mut settings = settings();
    settings.absolute_lifetime = Some(Duration::from_secs(3600));
    let h = harness_with(settings);
    login(&h, None, "ada").await;
    let idle = h.manager.settings().permanent_session_lifetime;
    let kept = h.store.index_ttl.lock().unwrap().unwrap();
    assert_eq!(kept, Duration::from_secs(3600) + idle);
}

/// Two apps sharing one store, told apart by `key_prefix` (Flask-Session's
/// reason for the prefix), with the same user id: each lists and revokes only
/// its own sessions, also when one prefix starts with the other. The memory
/// store's index, like the SQL, MongoDB and filesystem ones, is keyed by the
/// owner alone.
#[tokio::test]
async fn apps_sharing_a_store_list_and_revoke_only_their_own_sessions() {
    let shop = harness();
    let mut admin_settings = settings();
    admin_settings.key_prefix = "session:admin:".to_owned();
    let admin = Harness {
        manager: SessionManager::new(admin_settings, shop.store.clone()).unwrap(),
        store: shop.store.clone(),
    };
    let in_shop = login(&shop, None, "ada").await;
    let in_admin = login(&admin, None, "ada").await;
    assert_eq!(
        listed(&shop, "ada").await,
        BTreeSet::from([handle_of(&shop, &in_shop).await])
    );
    assert_eq!(
        listed(&admin, "ada").await,
        BTreeSet::from([handle_of(&admin, &in_admin).await])
    );
    assert_eq!(shop.manager.revoke_all("ada").await.unwrap(), 1);
    assert_eq!(owner_of(&admin, &in_admin).await.as_deref(), Some("ada"));
    assert_eq!(owner_of(&shop, &in_shop).await, None);
    assert_eq!(listed(&admin, "ada").await.len(), 1);
}

/// Moving a logged-in session to a new sid outside a request keeps it in its
/// owner's index: "log out everywhere" still reaches it.
#[tokio::test]
async fn a_session_moved_by_id_stays_revocable() {
    let h = harness();
    let cookie = login(&h, None, "ada").await;
    let sid = cookie.trim_start_matches("session=").to_owned();
    let moved = h.manager.regenerate_by_id(&sid).await.unwrap().unwrap();
    let moved_cookie = format!("session={}", moved.expose());
    assert_eq!(owner_of(&h, &moved_cookie).await.as_deref(), Some("ada"));
    assert_eq!(
        listed(&h, "ada").await,
        BTreeSet::from([handle_of(&h, &moved_cookie).await]),
        "the index names the new sid, not the old one"
    );
    assert_eq!(h.manager.revoke_all("ada").await.unwrap(), 1);
    assert_eq!(
        owner_of(&h, &moved_cookie).await,
        None,
        "the moved session survived a revoke"
    );
}

/// A request that loaded a session which is revoked while it runs, and then
/// regenerates or logs in, does not bring it back under a new sid: the copy
/// is taken back and the client told to forget its sid.
#[tokio::test]
async fn a_move_after_a_revoke_does_not_bring_the_session_back() {
    for relogin in [false, true] {
        let h = harness();
        let cookie = login(&h, None, "ada").await;
        let request = h.manager.open([cookie.as_bytes()]);
        let session = request.load().await.unwrap();
        assert_eq!(h.manager.revoke_all("ada").await.unwrap(), 1);
        if relogin {
            session.login("ada").unwrap();
        } else {
            session.regenerate().unwrap();
        }
        session.insert("late", "x").unwrap();
        let outcome = request.finish(200).await.unwrap();
        let set_cookie = outcome.set_cookie.expect("a cookie header");
        assert!(
            set_cookie.contains("Max-Age=0"),
            "relogin {relogin}: {set_cookie}"
        );
        assert!(listed(&h, "ada").await.is_empty(), "relogin {relogin}");
        assert_eq!(
            h.store.inner.len(),
            0,
            "relogin {relogin}: a session came back"
        );
    }
}

/// A Flask app sharing the store logs users out and in under the same sid
/// (Flask-Login keeps the sid) without touching the index: the session that
/// is now bob's is neither listed nor revoked as ada's, and ada's entry for
/// it is pruned.
#[tokio::test]
async fn a_session_logged_in_as_someone_else_elsewhere_is_not_listed_or_revoked() {
    let h = harness();
    let cookie = login(&h, None, "ada").await;
    let key = h.key_of(&cookie);
    // What the Flask app's logout_user + login_user("bob") leave behind: the
    // same record, bob under `_user_id`, our marker still saying ada.
    let mut map = read_map(&h, &cookie).await;
    map.insert("_user_id", "bob").unwrap();
    let settings = h.manager.settings();
    let codec =
        session::codec::Codec::new(settings.serialization_format, settings.max_session_bytes);
    let bytes = codec.encode(&map).unwrap();
    h.store
        .inner
        .save(&key, &bytes, Duration::from_secs(3600), SaveHint::Existing)
        .await
        .unwrap();
    assert!(listed(&h, "ada").await.is_empty());
    assert_eq!(h.manager.revoke_all("ada").await.unwrap(), 0);
    assert_eq!(
        owner_of(&h, &cookie).await.as_deref(),
        Some("bob"),
        "bob's session was ended"
    );
}
