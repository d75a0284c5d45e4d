//! Runtime behaviour of `#[derive(SessionData)]` against the real `session`
//! crate: decoding over a map full of foreign keys, defaults for missing and
//! wrong-typed values, key removal, and write-back through the lifecycle.
#![allow(clippy::unwrap_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use session::config::SessionType;
use session::store::memory::MemoryStore;
use session::{
    Bytes, SaveHint, SessionData, SessionManager, SessionMap, SessionStore, Settings, StoreError,
    Timestamp,
};

fn default_theme() -> String {
    "light".to_owned()
}

fn forty_two() -> u32 {
    42
}

/// A typed view over some of the keys a Flask app and this app share.
#[derive(SessionData, Debug)]
struct Account {
    #[session(rename = "_user_id")]
    user_id: Option<String>,
    visits: u32,
    count: u32,
    #[session(default = "forty_two")]
    answer: u32,
    #[session(default = "default_theme")]
    theme: String,
    #[session(rename = "when")]
    last_seen: Option<Timestamp>,
    avatar: Option<Bytes>,
    note: Option<String>,
    #[session(skip)]
    scratch: Vec<u8>,
}

#[derive(SessionData, Debug)]
struct Wrapper<T> {
    value: T,
    maybe: Option<T>,
}

/// A fixed 43-character sid, valid for the default settings.
const SID: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/// msgpack fixstr.
fn fixstr(s: &str) -> Vec<u8> {
    assert!(s.len() < 32);
    let mut out = vec![0xa0 | s.len() as u8];
    out.extend_from_slice(s.as_bytes());
    out
}

/// The foreign keys, as another app wrote them, in forms a re-encode would
/// change (str8 for a short string, uint16 for a small number, uint64).
fn foreign() -> Vec<(&'static str, Vec<u8>)> {
    let mut flashes = vec![0x91, 0x92];
    flashes.extend(fixstr("message"));
    flashes.extend(fixstr("hi"));
    vec![
        ("_permanent", vec![0xc3]),
        ("_fresh", vec![0xc3]),
        ("_flashes", flashes),
        // "42" as str8, not the minimal fixstr.
        ("_user_id", vec![0xd9, 0x02, b'4', b'2']),
        ("csrf_token", fixstr("abc")),
        ("blob", vec![0xc4, 0x03, 0x00, 0xff, 0x10]),
        // 2026-11-25T12:30:45.123456Z as msgspec writes it (ext −1).
        (
            "when",
            vec![0xd7, 0xff, 0x1d, 0x6f, 0x28, 0x00, 0x6b, 0x06, 0xd4, 0xf5],
        ),
        (
            "big",
            vec![0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        ),
        // The string "5" where `count: u32` expects a number.
        ("count", fixstr("5")),
        ("answer", fixstr("five")),
    ]
}

/// The shared keys plus `visits` = 5 as uint16 (a form a re-encode changes).
fn seeded_map() -> SessionMap {
    let mut map = SessionMap::new();
    for (key, raw) in foreign() {
        map.insert_raw(key.to_owned(), raw);
    }
    map.insert_raw("visits".to_owned(), vec![0xcd, 0x00, 0x05]);
    map
}

/// The map as one msgpack record, the way a store holds it.
fn seeded_record() -> Vec<u8> {
    let map = seeded_map();
    let mut out = vec![0x80 | map.len() as u8];
    for (key, raw) in map.iter_raw() {
        out.extend(fixstr(key));
        out.extend_from_slice(raw);
    }
    out
}

/// Writes changed fields the way the typed view does: only keys whose
/// encoding differs from the one just after load.
fn apply(
    map: &mut SessionMap, keys: &[&str], before: &[Option<Vec<u8>>], after: Vec<Option<Vec<u8>>>,
) {
    for ((key, old), new) in keys.iter().zip(before).zip(after) {
        if *old == new {
            continue;
        }
        match new {
            Some(raw) => map.insert_raw((*key).to_owned(), raw),
            None => {
                map.remove(key);
            }
        }
    }
}

fn assert_foreign_keys_identical(map: &SessionMap) {
    for (key, raw) in foreign() {
        assert_eq!(
            map.get_raw(key),
            Some(raw.as_slice()),
            "key {key:?} changed"
        );
    }
}

#[test]
fn decodes_its_keys_from_a_map_of_foreign_keys() {
    let account = Account::from_map(&seeded_map());
    assert_eq!(account.user_id.as_deref(), Some("42"));
    assert_eq!(account.visits, 5);
    assert_eq!(account.theme, "light", "missing key: the default function");
    let when = account.last_seen.unwrap();
    assert_eq!(when.to_rfc3339(), "2026-11-25T12:30:45.123456Z");
    assert_eq!(account.avatar, None);
    assert_eq!(account.note, None);
    assert!(account.scratch.is_empty());
}

#[test]
fn wrong_typed_value_falls_back_to_the_default() {
    let account = Account::from_map(&seeded_map());
    assert_eq!(account.count, 0, "\"5\" is not a u32: Default::default()");
    assert_eq!(
        account.answer, 42,
        "\"five\" is not a u32: the default function"
    );
}

#[test]
fn to_fields_rewrite_changes_only_the_changed_key() {
    let mut map = seeded_map();
    let mut account = Account::from_map(&map);
    let before = account.to_fields().unwrap();
    account.visits += 1;
    apply(
        &mut map,
        Account::KEYS,
        &before,
        account.to_fields().unwrap(),
    );

    assert_eq!(map.get_raw("visits"), Some(&[0x06][..]));
    // `_user_id`, `when`, `count` and `answer` were read (two of them into a
    // default) but not changed: their bytes are as the other app wrote them.
    assert_foreign_keys_identical(&map);
    assert_eq!(map.len(), foreign().len() + 1);
}

#[test]
fn fields_align_with_keys_and_none_is_no_key() {
    let account = Account::from_map(&seeded_map());
    let fields = account.to_fields().unwrap();
    assert_eq!(fields.len(), Account::KEYS.len());
    let by_key: Vec<(&str, Option<Vec<u8>>)> = Account::KEYS.iter().copied().zip(fields).collect();
    assert_eq!(by_key[1], ("visits", Some(vec![0x05])));
    assert_eq!(by_key[5].0, "when");
    assert_eq!(by_key[6], ("avatar", None));
    assert_eq!(by_key[7], ("note", None));
}

#[test]
fn bytes_and_timestamps_encode_as_msgpack_bin_and_ext() {
    let mut map = SessionMap::new();
    let mut account = Account::from_map(&map);
    let before = account.to_fields().unwrap();
    account.avatar = Some(Bytes(vec![1, 2, 3]));
    account.last_seen = Some(Account::from_map(&seeded_map()).last_seen.unwrap());
    apply(
        &mut map,
        Account::KEYS,
        &before,
        account.to_fields().unwrap(),
    );
    assert_eq!(map.get_raw("avatar"), Some(&[0xc4, 0x03, 1, 2, 3][..]));
    let when = foreign().into_iter().find(|(k, _)| *k == "when").unwrap().1;
    assert_eq!(map.get_raw("when"), Some(when.as_slice()));
}

#[test]
fn keys_and_key_constants() {
    assert_eq!(
        Account::KEYS,
        ["_user_id", "visits", "count", "answer", "theme", "when", "avatar", "note"]
    );
    assert_eq!(Account::KEY_USER_ID, "_user_id");
    assert_eq!(Account::KEY_VISITS, "visits");
    assert_eq!(Account::KEY_LAST_SEEN, "when");
    assert_eq!(Account::KEY_NOTE, "note");
    assert_eq!(Wrapper::<u8>::KEYS, ["value", "maybe"]);
    assert_eq!(Wrapper::<String>::KEY_MAYBE, "maybe");
}

#[test]
fn generic_struct_round_trips() {
    let mut map = SessionMap::new();
    map.insert("value", "hello").unwrap();
    let mut wrapper = Wrapper::<String>::from_map(&map);
    assert_eq!(wrapper.value, "hello");
    assert_eq!(wrapper.maybe, None);
    let before = wrapper.to_fields().unwrap();
    wrapper.maybe = Some("there".to_owned());
    apply(
        &mut map,
        Wrapper::<String>::KEYS,
        &before,
        wrapper.to_fields().unwrap(),
    );
    assert_eq!(
        map.get::<String>("maybe").unwrap().as_deref(),
        Some("there")
    );
}

/// A real store that counts the writes that reach it.
#[derive(Default)]
struct CountingStore {
    inner: MemoryStore,
    saves: AtomicUsize,
}

impl CountingStore {
    fn saves(&self) -> usize {
        self.saves.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl SessionStore for CountingStore {
    fn backend(&self) -> &'static str {
        "counting-memory"
    }

    async fn load(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.load(key).await
    }

    async fn load_and_touch(
        &self, key: &str, ttl: Duration,
    ) -> Result<Option<Vec<u8>>, StoreError> {
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
        self.inner.touch(key, ttl).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.inner.delete(key).await
    }

    async fn cleanup(&self) -> Result<u64, StoreError> {
        self.inner.cleanup().await
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

/// A manager over a counting memory store that already holds the seeded
/// record under [`SID`].
async fn seeded_manager() -> (SessionManager, Arc<CountingStore>, String) {
    let settings = {
        let mut settings = Settings::default();
        settings.session_type = SessionType::Memory;
        settings
    };
    let store = Arc::new(CountingStore::default());
    let manager = SessionManager::new(settings, store.clone()).unwrap();
    let key = format!("{}{SID}", manager.settings().key_prefix);
    store
        .inner
        .save(
            &key,
            &seeded_record(),
            Duration::from_secs(600),
            SaveHint::New,
        )
        .await
        .unwrap();
    let cookie = format!("{}={SID}", manager.cookie_name());
    (manager, store, cookie)
}

#[tokio::test]
async fn typed_write_back_keeps_foreign_keys_byte_identical() {
    let (manager, store, cookie) = seeded_manager().await;

    let request = manager.open([cookie.as_bytes()]);
    let session = request.load().await.unwrap();
    {
        let mut account = session.typed::<Account>();
        assert_eq!(account.visits, 5);
        account.visits += 1;
    }
    request.finish(200).await.unwrap();
    assert_eq!(store.saves(), 1);

    let stored = manager.load_by_id(SID).await.unwrap().unwrap();
    assert_eq!(stored.get_raw("visits"), Some(&[0x06][..]));
    assert_foreign_keys_identical(&stored);
    // One key more than `visits`: the foreign `_user_id` is an owner, and
    // this first save indexed the session under it (`_owner_indexed`).
    assert_eq!(stored.len(), foreign().len() + 2);
    assert_eq!(
        stored.get::<String>("_owner_indexed").unwrap().as_deref(),
        Some("42")
    );
}

#[tokio::test]
async fn unchanged_typed_view_writes_nothing() {
    let (manager, store, cookie) = seeded_manager().await;

    // Reads every field, two of them into a default, and changes nothing.
    let request = manager.open([cookie.as_bytes()]);
    let session = request.load().await.unwrap();
    {
        let account = session.typed::<Account>();
        assert_eq!(account.visits, 5);
        assert_eq!(account.count, 0);
    }
    {
        // Touching a field through `DerefMut` without changing it is no write.
        let mut account = session.typed::<Account>();
        account.visits = 5;
        account.theme = default_theme();
    }
    request.finish(200).await.unwrap();
    assert_eq!(store.saves(), 0);

    // The same request shape with a change: one save.
    let request = manager.open([cookie.as_bytes()]);
    let session = request.load().await.unwrap();
    session.typed::<Account>().visits += 1;
    request.finish(200).await.unwrap();
    assert_eq!(store.saves(), 1);
}

#[tokio::test]
async fn wrong_typed_value_is_kept_until_the_field_changes() {
    let (manager, _store, cookie) = seeded_manager().await;

    let request = manager.open([cookie.as_bytes()]);
    let session = request.load().await.unwrap();
    drop(session.typed::<Account>());
    assert_eq!(
        session.snapshot().get_raw("count"),
        Some(fixstr("5").as_slice())
    );

    session.typed::<Account>().count = 3;
    assert_eq!(session.get::<u32>("count").unwrap(), Some(3));
    request.finish(200).await.unwrap();
    assert_eq!(
        manager
            .load_by_id(SID)
            .await
            .unwrap()
            .unwrap()
            .get::<u32>("count")
            .unwrap(),
        Some(3)
    );
}

#[tokio::test]
async fn none_removes_the_key() {
    let (manager, _store, cookie) = seeded_manager().await;

    let request = manager.open([cookie.as_bytes()]);
    let session = request.load().await.unwrap();
    session.insert("note", "remember").unwrap();
    {
        let mut account = session.typed::<Account>();
        assert_eq!(account.note.as_deref(), Some("remember"));
        assert_eq!(account.user_id.as_deref(), Some("42"));
        account.note = None;
        account.user_id = None;
    }
    assert!(!session.contains_key("note"));
    assert!(!session.contains_key("_user_id"));
    request.finish(200).await.unwrap();

    let stored = manager.load_by_id(SID).await.unwrap().unwrap();
    assert!(!stored.contains_key("note"));
    assert!(!stored.contains_key("_user_id"));
    assert_eq!(stored.get_raw("_flashes"), seeded_map().get_raw("_flashes"));
}

#[tokio::test]
async fn new_session_written_through_a_typed_view() {
    let settings = {
        let mut settings = Settings::default();
        settings.session_type = SessionType::Memory;
        settings
    };
    let store = Arc::new(CountingStore::default());
    let manager = SessionManager::new(settings, store.clone()).unwrap();

    let request = manager.open([]);
    let session = request.load().await.unwrap();
    session.typed::<Wrapper<u64>>().value = u64::MAX;
    let set_cookie = request.finish(200).await.unwrap().set_cookie.unwrap();
    assert_eq!(store.saves(), 1);

    let cookie = set_cookie.split(';').next().unwrap();
    let request = manager.open([cookie.as_bytes()]);
    let session = request.load().await.unwrap();
    let wrapper = session.typed::<Wrapper<u64>>();
    assert_eq!(wrapper.value, u64::MAX);
    assert_eq!(wrapper.maybe, None);
    drop(wrapper);
    request.finish(200).await.unwrap();
    assert_eq!(store.saves(), 1);
}
