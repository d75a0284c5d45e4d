//! The MongoDB owner index's own layout (the contract is checked by
//! `store_contract!`): the `owner` and `owner_created` fields survive
//! Flask-Session's write and every write of ours, only the owner's own
//! remove takes them off, an add never creates a document, and a document
//! the TTL monitor has not removed yet is not listed.

use std::time::{Duration, SystemTime};

use session::store::mongodb::mongodb::bson::spec::BinarySubtype;
use session::store::mongodb::mongodb::bson::{doc, Binary, Bson, DateTime, Document};
use session::store::mongodb::{MongoStore, OWNER_CREATED_FIELD, OWNER_FIELD};
use session::store::{SaveHint, SessionStore, WriteOutcome};

use super::{drop_collection, expiration, insert, open, raw};

const TTL: Duration = Duration::from_secs(7200);

/// The owner fields of the document under `key`, as stored.
async fn owner_fields(store: &MongoStore, key: &str) -> (Option<Bson>, Option<Bson>) {
    let document = raw(store, key).await.expect("the document");
    (
        document.get(OWNER_FIELD).cloned(),
        document.get(OWNER_CREATED_FIELD).cloned(),
    )
}

/// Flask-Session 0.8's save with pymongo 4 (`mongodb.py`, `_upsert_session`):
/// `update_one({"id": id}, {"$set": {"id", "val", "expiration"}}, True)`.
async fn flask_write(store: &MongoStore, key: &str, val: &[u8]) {
    let expires = SystemTime::now() + TTL;
    store
        .collection()
        .update_one(
            doc! { "id": key },
            doc! { "$set": {
                "id": key,
                "val": Binary { subtype: BinarySubtype::Generic, bytes: val.to_vec() },
                "expiration": DateTime::from_system_time(expires),
            } },
        )
        .upsert(true)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn the_owner_survives_flasks_write_and_every_write_of_ours() {
    let store = open("owner_kept").await;
    let (owner, key) = ("ada", "session:owned");
    let created = SystemTime::UNIX_EPOCH + Duration::from_millis(1_800_000_000_123);
    let marked = (
        Some(Bson::String(owner.to_owned())),
        Some(Bson::DateTime(DateTime::from_system_time(created))),
    );
    assert_eq!(
        store.insert_new(key, b"v1", TTL).await.unwrap(),
        WriteOutcome::Saved
    );
    store.add_owned(owner, key, created, TTL).await.unwrap();
    assert_eq!(owner_fields(&store, key).await, marked);

    flask_write(&store, key, b"v2").await;
    assert_eq!(
        owner_fields(&store, key).await,
        marked,
        "Flask's $set keeps the owner"
    );
    assert_eq!(store.load(key).await.unwrap().as_deref(), Some(&b"v2"[..]));

    store
        .save(key, b"v3", TTL, SaveHint::Existing)
        .await
        .unwrap();
    assert_eq!(owner_fields(&store, key).await, marked, "save");
    assert_eq!(
        store
            .save_if_unchanged(key, b"v3", b"v4", TTL)
            .await
            .unwrap(),
        WriteOutcome::Saved
    );
    assert_eq!(owner_fields(&store, key).await, marked, "save_if_unchanged");
    // The conditional save's second try, against a `val` stored as a string.
    store
        .collection()
        .update_one(doc! { "id": key }, doc! { "$set": { "val": "v4" } })
        .await
        .unwrap();
    assert_eq!(
        store
            .save_if_unchanged(key, b"v4", b"v5", TTL)
            .await
            .unwrap(),
        WriteOutcome::Saved
    );
    assert_eq!(owner_fields(&store, key).await, marked, "the string retry");
    store.touch(key, TTL).await.unwrap();
    assert_eq!(owner_fields(&store, key).await, marked, "touch");
    // A sliding read past the refresh threshold rewrites the expiration.
    let before = expiration(&raw(&store, key).await.unwrap());
    store
        .load_and_touch(key, TTL * 10)
        .await
        .unwrap()
        .expect("the session");
    let document = raw(&store, key).await.unwrap();
    assert!(expiration(&document) > before + TTL, "touched");
    assert_eq!(owner_fields(&store, key).await, marked, "load_and_touch");

    let listed = store.list_owned(owner).await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].key, key);
    assert_eq!(listed[0].created, Some(created));
    assert_eq!(listed[0].expires, Some(expiration(&document)));

    // Only the owner's own remove takes the mark off, and only the mark.
    store.remove_owned("someone else", key).await.unwrap();
    assert_eq!(owner_fields(&store, key).await, marked);
    store.remove_owned(owner, key).await.unwrap();
    assert_eq!(owner_fields(&store, key).await, (None, None));
    assert_eq!(store.load(key).await.unwrap().as_deref(), Some(&b"v5"[..]));
    assert!(store.list_owned(owner).await.unwrap().is_empty());
    drop_collection(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn only_live_documents_are_listed_and_an_add_creates_none() {
    let store = open("owner_live").await;
    let owner = "ada";
    // Expired ten seconds ago: the TTL monitor (about once a minute) has not
    // removed it yet.
    let past = SystemTime::now() - Duration::from_secs(10);
    insert(store.collection(), "session:stale", b"v", past).await;
    store
        .add_owned(owner, "session:stale", SystemTime::now(), TTL)
        .await
        .unwrap();
    assert_eq!(
        owner_fields(&store, "session:stale").await.0,
        Some(Bson::String(owner.to_owned()))
    );
    store
        .save("session:live", b"v", TTL, SaveHint::New)
        .await
        .unwrap();
    store
        .add_owned(owner, "session:live", SystemTime::now(), TTL)
        .await
        .unwrap();
    let listed: Vec<String> = store
        .list_owned(owner)
        .await
        .unwrap()
        .into_iter()
        .map(|entry| entry.key)
        .collect();
    assert_eq!(listed, ["session:live"]);

    // A record that is gone has nothing to index: no upsert.
    store
        .add_owned(owner, "session:never", SystemTime::now(), TTL)
        .await
        .unwrap();
    assert!(raw(&store, "session:never").await.is_none());
    let owned: Vec<Document> = {
        let mut cursor = store
            .collection()
            .find(doc! { OWNER_FIELD: owner })
            .await
            .unwrap();
        let mut found = Vec::new();
        while cursor.advance().await.unwrap() {
            found.push(cursor.deserialize_current().unwrap());
        }
        found
    };
    assert_eq!(owned.len(), 2, "{owned:?}");
    drop_collection(&store).await;
}
