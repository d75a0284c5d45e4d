//! The MongoDB store against a live server, reading the raw documents and
//! indexes: Flask-Session's document shape and BSON types, the TTL, unique
//! and owner indexes, expiry on read, and the refresh threshold of
//! `load_and_touch`; the owner index's fields in `owners`.
//!
//! Needs a MongoDB-compatible server on 127.0.0.1:27017 (or
//! `SESSION_TEST_MONGODB`): `scripts/test.sh` starts one. Each test works in a
//! collection of its own and drops it.

use std::time::{Duration, Instant, SystemTime};

use session::config::{ConnectionUrl, SessionType, Settings};
use session::store::mongodb::mongodb::bson::spec::BinarySubtype;
use session::store::mongodb::mongodb::bson::{doc, Binary, Bson, DateTime, Document};
use session::store::mongodb::mongodb::Collection;
use session::store::mongodb::{MongoStore, ID_INDEX, OWNER_FIELD, OWNER_INDEX, TTL_INDEX};
use session::store::{BuildError, SaveHint, SessionStore, StoreErrorKind};
use tokio::net::{TcpListener as AsyncListener, TcpStream};
use tokio::task::JoinSet;

use crate::common::unique_name;

mod owners;

const DB: &str = "session_store_tests";

fn url() -> String {
    std::env::var("SESSION_TEST_MONGODB").unwrap_or_else(|_| "mongodb://127.0.0.1:27017".to_owned())
}

/// Settings for a collection no other test uses.
fn settings(test: &str) -> Settings {
    let mut settings = Settings::default();
    settings.session_type = SessionType::MongoDb;
    settings.mongodb = ConnectionUrl::new(url());
    settings.mongodb_db = DB.to_owned();
    settings.mongodb_collect = unique_name(test, '_');
    settings.// The test server is slow; a loaded CI machine slower still.
    operation_timeout = Duration::from_secs(10);
    settings.connect_timeout = Duration::from_secs(5);
    settings
}

async fn open(test: &str) -> MongoStore {
    MongoStore::from_settings(&settings(test)).await.unwrap()
}

async fn raw(store: &MongoStore, key: &str) -> Option<Document> {
    store
        .collection()
        .find_one(doc! { "id": key })
        .await
        .unwrap()
}

async fn drop_collection(store: &MongoStore) {
    store.collection().drop().await.unwrap();
}

fn expiration(document: &Document) -> SystemTime {
    match document.get("expiration") {
        Some(Bson::DateTime(at)) => at.to_system_time(),
        other => panic!("expiration is not a BSON datetime: {other:?}"),
    }
}

/// `|a - b| <= slack`
fn near(a: SystemTime, b: SystemTime, slack: Duration) -> bool {
    let d = a
        .duration_since(b)
        .or_else(|_| b.duration_since(a))
        .unwrap();
    d <= slack
}

async fn insert(collection: &Collection<Document>, key: &str, val: &[u8], expires: SystemTime) {
    collection
        .insert_one(doc! {
            "id": key,
            "val": Binary { subtype: BinarySubtype::Generic, bytes: val.to_vec() },
            "expiration": DateTime::from_system_time(expires),
        })
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn document_has_the_flask_session_shape_and_bson_types() {
    let store = open("shape").await;
    let key = "session:abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
    let ttl = Duration::from_secs(3600);
    let value = b"\x81\xa5count\x01\x00\xff".to_vec();
    store.save(key, &value, ttl, SaveHint::New).await.unwrap();

    let document = raw(&store, key).await.expect("the document");
    let mut fields: Vec<&str> = document.keys().map(String::as_str).collect();
    fields.sort_unstable();
    assert_eq!(fields, ["_id", "expiration", "id", "val"], "{document:?}");
    assert_eq!(document.get("id"), Some(&Bson::String(key.to_owned())));
    match document.get("val") {
        Some(Bson::Binary(binary)) => {
            assert_eq!(binary.subtype, BinarySubtype::Generic, "BinData(0, …)");
            assert_eq!(binary.bytes, value);
        }
        other => panic!("val is not BSON binary: {other:?}"),
    }
    assert!(near(
        expiration(&document),
        SystemTime::now() + ttl,
        Duration::from_secs(30)
    ));

    // A rewrite updates the one document in place.
    store
        .save(key, b"second", ttl, SaveHint::Existing)
        .await
        .unwrap();
    assert_eq!(
        store.collection().count_documents(doc! {}).await.unwrap(),
        1
    );
    assert_eq!(
        raw(&store, key).await.unwrap().get("_id"),
        document.get("_id")
    );
    assert_eq!(
        store.load(key).await.unwrap().as_deref(),
        Some(&b"second"[..])
    );

    store.delete(key).await.unwrap();
    assert!(raw(&store, key).await.is_none());
    drop_collection(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn indexes_are_a_ttl_on_expiration_unique_on_id_and_sparse_on_owner() {
    let settings = settings("indexes");
    let store = MongoStore::from_settings(&settings).await.unwrap();
    // Idempotent: a second start-up on the same collection is fine.
    let again = MongoStore::from_settings(&settings).await.unwrap();

    let indexes = store.collection().list_index_names().await.unwrap();
    assert!(indexes.iter().any(|n| n == TTL_INDEX), "{indexes:?}");
    assert!(indexes.iter().any(|n| n == ID_INDEX), "{indexes:?}");
    let mut cursor = store.collection().list_indexes().await.unwrap();
    let mut seen = 0;
    while cursor.advance().await.unwrap() {
        let index = cursor.deserialize_current().unwrap();
        let options = index.options.clone().unwrap_or_default();
        match options.name.as_deref() {
            Some(TTL_INDEX) => {
                assert_eq!(index.keys, doc! { "expiration": 1 });
                assert_eq!(
                    options.expire_after,
                    Some(Duration::ZERO),
                    "expireAfterSeconds: 0"
                );
                seen += 1;
            }
            Some(ID_INDEX) => {
                assert_eq!(index.keys, doc! { "id": 1 });
                assert_eq!(options.unique, Some(true));
                seen += 1;
            }
            Some(OWNER_INDEX) => {
                assert_eq!(index.keys, doc! { OWNER_FIELD: 1 });
                assert_eq!(
                    options.sparse,
                    Some(true),
                    "only owned sessions are indexed"
                );
                seen += 1;
            }
            _ => {}
        }
    }
    assert_eq!(seen, 3);

    // The unique index is enforced.
    let later = SystemTime::now() + Duration::from_secs(60);
    insert(again.collection(), "session:dup", b"a", later).await;
    let duplicate = again
        .collection()
        .insert_one(doc! { "id": "session:dup", "val": Binary { subtype: BinarySubtype::Generic, bytes: vec![] } })
        .await;
    assert!(
        duplicate.is_err(),
        "a second document with the same id was accepted"
    );
    drop_collection(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn start_up_tolerates_a_conflicting_index() {
    let settings = settings("conflict");
    let client = session::store::mongodb::mongodb::Client::with_uri_str(url())
        .await
        .unwrap();
    let collection = client
        .database(DB)
        .collection::<Document>(&settings.mongodb_collect);
    // Another app made `expiration_1` with a different TTL.
    let ttl_index = session::store::mongodb::mongodb::IndexModel::builder()
        .keys(doc! { "expiration": 1 })
        .options(
            session::store::mongodb::mongodb::options::IndexOptions::builder()
                .expire_after(Duration::from_secs(3600))
                .build(),
        )
        .build();
    collection.create_index(ttl_index).await.unwrap();

    let store = MongoStore::from_client(client, &settings)
        .await
        .expect("a conflict is logged, not fatal");
    store
        .save("session:k", b"v", Duration::from_secs(60), SaveHint::New)
        .await
        .unwrap();
    assert_eq!(
        store.load("session:k").await.unwrap().as_deref(),
        Some(&b"v"[..])
    );
    let names = store.collection().list_index_names().await.unwrap();
    assert!(
        names.iter().any(|n| n == ID_INDEX),
        "the unique index is still made: {names:?}"
    );
    drop_collection(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn an_expired_document_is_never_served() {
    let store = open("expired").await;
    let key = "session:expired";
    // Expired ten seconds ago: the TTL monitor (about once a minute) has not
    // removed it yet.
    let past = SystemTime::now() - Duration::from_secs(10);
    insert(store.collection(), key, b"stale", past).await;
    assert!(raw(&store, key).await.is_some(), "still in the collection");

    let ttl = Duration::from_secs(3600);
    assert_eq!(store.load(key).await.unwrap(), None);
    assert_eq!(store.load_and_touch(key, ttl).await.unwrap(), None);
    store.touch(key, ttl).await.unwrap();
    if let Some(document) = raw(&store, key).await {
        assert!(
            expiration(&document) < SystemTime::now(),
            "neither read nor touch revived it"
        );
    }
    assert_eq!(store.load(key).await.unwrap(), None);

    // A save replaces it with a live session.
    store.save(key, b"fresh", ttl, SaveHint::New).await.unwrap();
    assert_eq!(
        store.load(key).await.unwrap().as_deref(),
        Some(&b"fresh"[..])
    );
    drop_collection(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn load_and_touch_extends_the_expiry_only_past_the_threshold() {
    let mut settings = settings("threshold");
    settings.refresh_threshold = 0.8;
    let store = MongoStore::from_settings(&settings).await.unwrap();
    let ttl = Duration::from_secs(1000);
    let key = "session:threshold";

    // 90% of the lifetime remains (> 80%): the read does not write.
    let fresh = SystemTime::now() + Duration::from_secs(900);
    insert(store.collection(), key, b"v", fresh).await;
    let before = expiration(&raw(&store, key).await.unwrap());
    assert_eq!(
        store.load_and_touch(key, ttl).await.unwrap().as_deref(),
        Some(&b"v"[..])
    );
    assert_eq!(
        expiration(&raw(&store, key).await.unwrap()),
        before,
        "touched too early"
    );

    // 50% remains (<= 80%): the same read slides the expiry to now + lifetime.
    let half = SystemTime::now() + Duration::from_secs(500);
    store
        .collection()
        .update_one(
            doc! { "id": key },
            doc! { "$set": { "expiration": DateTime::from_system_time(half) } },
        )
        .await
        .unwrap();
    assert_eq!(
        store.load_and_touch(key, ttl).await.unwrap().as_deref(),
        Some(&b"v"[..])
    );
    let document = raw(&store, key).await.unwrap();
    assert!(
        near(
            expiration(&document),
            SystemTime::now() + ttl,
            Duration::from_secs(30)
        ),
        "{document:?}"
    );
    match document.get("val") {
        Some(Bson::Binary(binary)) => assert_eq!(binary.bytes, b"v"),
        other => panic!("the touch rewrote val: {other:?}"),
    }

    // refresh_threshold = 1 touches on every read.
    let mut always = settings.clone();
    always.refresh_threshold = 1.0;
    let always = MongoStore::from_settings(&always).await.unwrap();
    store
        .collection()
        .update_one(
            doc! { "id": key },
            doc! { "$set": { "expiration": DateTime::from_system_time(fresh) } },
        )
        .await
        .unwrap();
    always.load_and_touch(key, ttl).await.unwrap();
    assert!(near(
        expiration(&raw(&store, key).await.unwrap()),
        SystemTime::now() + ttl,
        Duration::from_secs(30)
    ));

    assert_eq!(
        store.load_and_touch("session:missing", ttl).await.unwrap(),
        None
    );
    assert!(
        raw(&store, "session:missing").await.is_none(),
        "a read never creates a document"
    );
    drop_collection(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn touch_sets_only_the_expiration() {
    let store = open("touch").await;
    let key = "session:touch";
    store
        .save(key, b"value", Duration::from_secs(60), SaveHint::New)
        .await
        .unwrap();
    let before = raw(&store, key).await.unwrap();
    store.touch(key, Duration::from_secs(7200)).await.unwrap();
    let after = raw(&store, key).await.unwrap();
    assert_eq!(after.get("val"), before.get("val"));
    assert_eq!(after.get("_id"), before.get("_id"));
    assert!(near(
        expiration(&after),
        SystemTime::now() + Duration::from_secs(7200),
        Duration::from_secs(30)
    ));
    store
        .touch("session:none", Duration::from_secs(60))
        .await
        .unwrap();
    assert!(
        raw(&store, "session:none").await.is_none(),
        "a touch never creates a document"
    );
    drop_collection(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn a_document_without_binary_val_is_undecodable_not_an_error() {
    let store = open("foreign").await;
    let later = DateTime::from_system_time(SystemTime::now() + Duration::from_secs(60));
    store
        .collection()
        .insert_one(doc! { "id": "session:num", "val": 42, "expiration": later })
        .await
        .unwrap();
    let loaded = store
        .load("session:num")
        .await
        .unwrap()
        .expect("the record exists");
    assert!(
        loaded.is_empty(),
        "bytes no codec accepts, so the manager starts afresh"
    );
    drop_collection(&store).await;
}

/// Not ignored: it needs no server, only a port where none listens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_with_the_server_down_fails_fast_naming_the_url() {
    let port = crate::common::free_port();
    let mut settings = settings("down");
    settings.mongodb = ConnectionUrl::new(format!(
        "mongodb://ada:hunter2-secret@127.0.0.1:{port}/?authSource=admin"
    ));
    settings.connect_timeout = Duration::from_millis(500);
    settings.operation_timeout = Duration::from_millis(500);
    let started = Instant::now();
    let error = MongoStore::from_settings(&settings).await.unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        matches!(
            error,
            BuildError::Backend {
                backend: "mongodb",
                ..
            }
        ),
        "{error:?}"
    );
    let message = error.to_string();
    eprintln!("start-up error: {message}");
    assert!(message.contains("mongodb"), "{message}");
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    assert!(
        !message.contains("hunter2"),
        "the password leaked: {message}"
    );
    assert!(
        !format!("{error:?}").contains("hunter2"),
        "the password leaked: {error:?}"
    );
}

/// A TCP proxy to the test server that the test can cut and restore: a server
/// "outage" that touches nothing shared.
struct Proxy {
    port: u16,
    tasks: JoinSet<()>,
}

impl Proxy {
    async fn start(port: u16) -> Self {
        let listener = AsyncListener::bind(("127.0.0.1", port)).await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let upstream = url()
            .trim_start_matches("mongodb://")
            .split(['/', '?'])
            .next()
            .unwrap()
            .to_owned();
        let mut tasks = JoinSet::new();
        tasks.spawn(async move {
            let mut connections = JoinSet::new();
            while let Ok((mut inbound, _)) = listener.accept().await {
                let upstream = upstream.clone();
                connections.spawn(async move {
                    if let Ok(mut outbound) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Self { port, tasks }
    }

    /// Closes the listener and every connection.
    async fn cut(mut self) -> u16 {
        self.tasks.shutdown().await;
        self.port
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn a_dead_server_is_unavailable_fast_and_the_store_recovers() {
    let proxy = Proxy::start(0).await;
    let mut settings = settings("outage");
    // Straight to this one address, not to the hosts the server advertises.
    settings.mongodb = ConnectionUrl::new(format!(
        "mongodb://127.0.0.1:{}/?directConnection=true",
        proxy.port
    ));
    settings.connect_timeout = Duration::from_millis(500);
    settings.operation_timeout = Duration::from_secs(3);
    let store = MongoStore::from_settings(&settings).await.unwrap();
    store
        .save("session:k", b"v", Duration::from_secs(60), SaveHint::New)
        .await
        .unwrap();

    let port = proxy.cut().await;
    let started = Instant::now();
    let error = store.load("session:k").await.unwrap_err();
    assert_eq!(error.kind, StoreErrorKind::Unavailable, "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "took {:?}",
        started.elapsed()
    );
    eprintln!("outage: {error} after {:?}", started.elapsed());
    let error = store
        .save(
            "session:k",
            b"w",
            Duration::from_secs(60),
            SaveHint::Existing,
        )
        .await
        .unwrap_err();
    assert_eq!(error.kind, StoreErrorKind::Unavailable, "{error}");

    let _proxy = Proxy::start(port).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match store.load("session:k").await {
            Ok(value) => {
                assert_eq!(value.as_deref(), Some(&b"v"[..]));
                break;
            }
            Err(error) if Instant::now() < deadline => {
                assert_eq!(error.kind, StoreErrorKind::Unavailable, "{error}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(error) => panic!("the store did not recover: {error}"),
        }
    }
    drop_collection(&store).await;
}

/// A shutdown shuts down the client the store built (later operations fail
/// as unavailable), but never a client the app handed over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn a_shutdown_closes_only_the_stores_own_client() {
    let settings = settings("shutdown");
    let app_client = session::store::mongodb::mongodb::Client::with_uri_str(url())
        .await
        .unwrap();
    let app_store = MongoStore::from_client(app_client.clone(), &settings)
        .await
        .unwrap();
    app_store.shutdown().await;
    assert!(
        app_store.load("k").await.unwrap().is_none(),
        "the app's client still works"
    );

    let store = open("shutdown_own").await;
    let ttl = Duration::from_secs(60);
    store.save("k", b"v", ttl, SaveHint::New).await.unwrap();
    drop_collection(&store).await;
    tokio::time::timeout(Duration::from_secs(10), store.shutdown())
        .await
        .expect("the store holds nothing the driver waits for");
    let error = store.load("k").await.unwrap_err();
    assert_eq!(error.kind, StoreErrorKind::Unavailable, "{error}");
    store.shutdown().await;
    drop_collection(&app_store).await;
}
