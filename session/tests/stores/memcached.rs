//! The memcached store against live servers, inspecting the raw items with the
//! client and memcached's own meta commands: Flask-Session's
//! layout, the absolute expiry of the 31-day default, touches that do not
//! rewrite, clearing, refused keys, and recovery after a server restart.
//!
//! Needs memcached on 127.0.0.1:11211, and the `memcached` binary on the PATH
//! for the tests that run a server of their own: `scripts/test.sh` provides
//! both. Tests on the shared server use key prefixes of their own; the restart
//! test uses its own server on its own port.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use session::config::{SessionType, Settings};
use session::store::memcached::{memcache, MemcachedStore};
use session::store::{SaveHint, SessionStore, StoreErrorKind};
use session::SessionManager;

use crate::common::{unique_prefix, wait_for_port, write_reference_session, REFERENCE_MSGPACK};

const SHARED: &str = "127.0.0.1:11211";

const DAYS_31: i64 = 31 * 86_400;

fn settings(prefix: &str) -> Settings {
    let mut settings = Settings::default();
    settings.session_type = SessionType::Memcached;
    settings.memcached = vec![SHARED.to_owned()];
    settings.key_prefix = prefix.to_owned();
    settings
}

/// Settings for a store of its own on `servers`.
fn on(servers: &[String]) -> Settings {
    let mut settings = Settings::default();
    settings.memcached = servers.to_vec();
    settings
}

fn raw_client(server: &str) -> memcache::Client {
    memcache::Client::connect(format!("memcache://{server}?protocol=ascii")).unwrap()
}

/// Seconds left on `key` according to memcached itself (meta get with the
/// `t` flag, which does not bump the item); `None` when the item does not
/// exist, -1 when it never expires.
fn ttl(server: &str, key: &str) -> Option<i64> {
    let mut stream = TcpStream::connect(server).unwrap();
    write!(stream, "mg {key} t\r\n").unwrap();
    let mut line = String::new();
    BufReader::new(stream).read_line(&mut line).unwrap();
    if line.starts_with("EN") {
        return None;
    }
    assert!(line.starts_with("HD "), "{line:?}");
    let left = line
        .split_whitespace()
        .find_map(|field| field.strip_prefix('t'))
        .unwrap();
    Some(left.parse().unwrap())
}

/// A memcached of the test's own on a free port, stopped on drop.
struct OwnMemcached {
    child: Child,
    port: u16,
}

impl OwnMemcached {
    fn start() -> Self {
        let port = crate::common::free_port();
        Self {
            child: Self::spawn(port),
            port,
        }
    }

    fn spawn(port: u16) -> Child {
        let child = Command::new("memcached")
            .args(["-u", "memcache", "-l", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("memcached on the PATH");
        wait_for_port(port, "memcached");
        child
    }

    fn server(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn restart(&mut self) {
        self.stop();
        self.child = Self::spawn(self.port);
    }
}

impl Drop for OwnMemcached {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn layout_is_flask_sessions_and_the_31_day_default_survives() {
    // The default lifetime is 31 days: above memcached's 30-day limit for a
    // relative exptime, so it must be sent as an absolute time or the item
    // would expire at once.
    let manager = SessionManager::from_settings(settings("session:"))
        .await
        .unwrap();
    assert_eq!(
        manager.settings().permanent_session_lifetime,
        Duration::from_secs(DAYS_31 as u64)
    );
    assert_eq!(manager.store().backend(), "memcached");
    let sid = write_reference_session(&manager).await;
    let key = format!("session:{sid}");

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let raw = raw_client(SHARED);
    let value: Option<Vec<u8>> = raw.get(&key).unwrap();
    assert_eq!(
        value.as_deref(),
        Some(REFERENCE_MSGPACK),
        "the item survives, as msgspec's bytes"
    );
    // The absolute time comes from our wall clock, and memcached turns it
    // into its own monotonic one with the wall time it read at start: a step
    // of the wall clock since then (an NTP correction; 18 s was seen on a
    // test machine) shifts what is left by as much. A minute either way
    // still tells 31 days from 30, or from an item expired at once.
    let left = ttl(SHARED, &key).unwrap();
    assert!(
        (DAYS_31 - 60..=DAYS_31 + 60).contains(&left),
        "{left} s left, not 31 days"
    );

    // And it reads back through the manager.
    let cookie = format!("session={sid}");
    let request = manager.open([cookie.as_bytes()]);
    let session = request.load().await.unwrap();
    assert_eq!(
        session.get::<String>("value").unwrap().as_deref(),
        Some("44")
    );
    request.finish(200).await.unwrap();
    raw.delete(&key).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn a_short_lifetime_is_sent_as_relative_seconds() {
    let prefix = unique_prefix("short");
    let settings = {
        let mut settings = settings(&prefix);
        settings.permanent_session_lifetime = Duration::from_secs(600);
        settings
    };
    let manager = SessionManager::from_settings(settings).await.unwrap();
    let sid = write_reference_session(&manager).await;
    let left = ttl(SHARED, &format!("{prefix}{sid}")).unwrap();
    assert!((590..=600).contains(&left), "{left}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn a_cleared_session_leaves_no_item() {
    let prefix = unique_prefix("clear");
    let manager = SessionManager::from_settings(settings(&prefix))
        .await
        .unwrap();
    let sid = write_reference_session(&manager).await;
    let key = format!("{prefix}{sid}");
    assert!(ttl(SHARED, &key).is_some());

    let cookie = format!("session={sid}");
    let request = manager.open([cookie.as_bytes()]);
    request.load().await.unwrap().clear();
    let outcome = request.finish(200).await.unwrap();
    assert!(outcome.set_cookie.unwrap().contains("Max-Age=0"));
    assert_eq!(ttl(SHARED, &key), None, "the item is gone");
    assert_eq!(raw_client(SHARED).get::<Vec<u8>>(&key).unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn a_touch_resets_the_ttl_without_rewriting_the_value() {
    let prefix = unique_prefix("touch");
    let manager = SessionManager::from_settings(settings(&prefix))
        .await
        .unwrap();
    let sid = write_reference_session(&manager).await;
    let key = format!("{prefix}{sid}");

    // A value of our own in its place: a rewrite would replace it.
    let sentinel = b"\x82\xaa_permanent\xc3\xa5value\xa299".to_vec();
    let raw = raw_client(SHARED);
    raw.set(&key, sentinel.as_slice(), 100).unwrap();
    assert!(ttl(SHARED, &key).unwrap() <= 100);

    // A read-only request with refresh on: get, then touch.
    let cookie = format!("session={sid}");
    let request = manager.open([cookie.as_bytes()]);
    let session = request.load().await.unwrap();
    assert_eq!(
        session.get::<String>("value").unwrap().as_deref(),
        Some("99")
    );
    request.finish(200).await.unwrap();
    assert_eq!(
        raw.get::<Vec<u8>>(&key).unwrap(),
        Some(sentinel.clone()),
        "not rewritten"
    );
    let left = ttl(SHARED, &key).unwrap();
    assert!(left > DAYS_31 - 60, "{left}: not reset to the lifetime");

    // touch() itself.
    manager
        .store()
        .touch(&key, Duration::from_secs(500))
        .await
        .unwrap();
    let left = ttl(SHARED, &key).unwrap();
    assert!((490..=500).contains(&left), "{left}");
    assert_eq!(raw.get::<Vec<u8>>(&key).unwrap(), Some(sentinel));
    raw.delete(&key).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn a_sliding_read_sets_the_ttl_and_an_apps_client_works() {
    // Round trips, misses and binary values are the store contract's
    // (contract.rs); here, what only memcached shows.
    let prefix = unique_prefix("bytes");
    let store = MemcachedStore::from_settings(&on(&[SHARED.to_owned()]))
        .await
        .unwrap();
    let key = format!("{prefix}k");
    let bytes: Vec<u8> = vec![0xff, 0x00, 0xc3, 0x28, 0x80, b'\r', b'\n', b'E', b'N', b'D'];
    assert_eq!(
        store
            .load_and_touch(&key, Duration::from_secs(60))
            .await
            .unwrap(),
        None
    );
    assert_eq!(ttl(SHARED, &key), None, "a miss creates nothing");
    store
        .save(&key, &bytes, Duration::from_secs(60), SaveHint::New)
        .await
        .unwrap();
    assert_eq!(
        store
            .load_and_touch(&key, Duration::from_secs(90))
            .await
            .unwrap(),
        Some(bytes)
    );
    let left = ttl(SHARED, &key).unwrap();
    assert!((80..=90).contains(&left), "{left}");
    store.delete(&key).await.unwrap();
    assert_eq!(store.cleanup().await.unwrap(), 0);

    // An app's own client works too.
    let own = MemcachedStore::from_client(raw_client(SHARED), &Settings::default())
        .await
        .unwrap();
    own.save(&key, b"v", Duration::from_secs(60), SaveHint::New)
        .await
        .unwrap();
    assert_eq!(store.load(&key).await.unwrap().as_deref(), Some(&b"v"[..]));
    own.delete(&key).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn keys_memcached_cannot_take_fail_without_reaching_the_server() {
    let store = MemcachedStore::from_settings(&on(&[SHARED.to_owned()]))
        .await
        .unwrap();
    for key in ["has space", "crlf\r\nset x 0 0 1", &"k".repeat(251)] {
        let error = store
            .save(key, b"v", Duration::from_secs(5), SaveHint::New)
            .await
            .unwrap_err();
        assert_eq!(error.kind, StoreErrorKind::Failed, "{error}");
    }
}

#[test]
fn config_validation_refuses_prefixes_memcached_cannot_take() {
    for prefix in ["has space:", "tab\t", &"p".repeat(250)] {
        let error = settings(prefix).validate().unwrap_err().to_string();
        assert!(
            error.contains("key_prefix") || error.contains("KEY_PREFIX"),
            "{error}"
        );
    }
    assert!(settings("session:").validate().is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn a_restarted_server_is_used_again_without_a_new_store() {
    let mut server = OwnMemcached::start();
    let settings = {
        let mut settings = on(&[server.server()]);
        settings.connect_timeout = Duration::from_millis(500);
        settings.operation_timeout = Duration::from_millis(500);
        settings.pool_size = Some(4);
        settings
    };
    let store = MemcachedStore::from_settings(&settings).await.unwrap();
    // Fill the pool with several connections that the restart will kill.
    let mut writes = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        writes.push(tokio::spawn(async move {
            store
                .save(
                    &format!("k{i}"),
                    b"v",
                    Duration::from_secs(100),
                    SaveHint::New,
                )
                .await
        }));
    }
    for write in writes {
        write.await.unwrap().unwrap();
    }

    server.stop();
    for _ in 0..3 {
        let started = Instant::now();
        let error = store.load("k0").await.unwrap_err();
        assert_eq!(error.kind, StoreErrorKind::Unavailable, "{error}");
        assert!(
            started.elapsed() < Duration::from_millis(1500),
            "{:?}",
            started.elapsed()
        );
    }

    // Same port, empty server: every call works at once, though the pool's
    // old connections are all dead.
    server.restart();
    for i in 0..8 {
        assert_eq!(store.load(&format!("k{i}")).await.unwrap(), None);
    }
    store
        .save("k0", b"again", Duration::from_secs(100), SaveHint::New)
        .await
        .unwrap();
    assert_eq!(
        store.load("k0").await.unwrap().as_deref(),
        Some(&b"again"[..])
    );
    assert_eq!(
        store
            .load_and_touch("k0", Duration::from_secs(50))
            .await
            .unwrap()
            .as_deref(),
        Some(&b"again"[..])
    );
}

/// A shutdown drops the store's pools: later operations fail as unavailable
/// and no pool is rebuilt; a second shutdown is a no-op.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn a_shutdown_drops_the_pools() {
    let store = MemcachedStore::from_settings(&settings(&unique_prefix("shutdown")))
        .await
        .unwrap();
    let ttl = Duration::from_secs(60);
    store.save("k", b"v", ttl, SaveHint::New).await.unwrap();
    assert!(store.client().is_some());
    store.shutdown().await;
    assert!(store.client().is_none());
    let error = store.load("k").await.unwrap_err();
    assert_eq!(error.kind, StoreErrorKind::Unavailable, "{error}");
    assert!(store.client().is_none(), "no pool was rebuilt");
    store.shutdown().await;
}

/// The item key of `owner`'s index under `prefix`, as the module docs lay it
/// out: the prefix, `owner:`, and the hex SHA-1 of the prefix's length (8
/// bytes, big endian), the prefix and the owner.
fn index_key(prefix: &str, owner: &str) -> String {
    use sha1::{Digest, Sha1};
    let mut digest = Sha1::new();
    digest.update((prefix.len() as u64).to_be_bytes());
    digest.update(prefix.as_bytes());
    digest.update(owner.as_bytes());
    let hex: String = digest
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("{prefix}owner:{hex}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn the_owner_index_is_one_item_kept_as_long_as_its_longest_session() {
    let prefix = unique_prefix("index-layout");
    let store = MemcachedStore::from_settings(&settings(&prefix))
        .await
        .unwrap();
    let owner = "alice: {x} ../é";
    let (long, short) = (format!("{prefix}long"), format!("{prefix}short"));
    for key in [&long, &short] {
        store
            .save(key, b"x", Duration::from_secs(600), SaveHint::New)
            .await
            .unwrap();
    }
    let created = std::time::SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    store
        .add_owned(owner, &long, created, Duration::from_secs(600))
        .await
        .unwrap();
    store
        .add_owned(owner, &short, created, Duration::from_secs(60))
        .await
        .unwrap();
    let item = index_key(&prefix, owner);
    let value: String = raw_client(SHARED).get(&item).unwrap().unwrap();
    let mut lines = value.lines();
    assert!(
        lines.next().unwrap().starts_with("rsess-owners 1 "),
        "{value}"
    );
    let mut entries: Vec<&str> = lines.collect();
    entries.sort_unstable();
    let mut expected = [format!("1700000000 {long}"), format!("1700000000 {short}")];
    expected.sort_unstable();
    assert_eq!(entries, expected);
    // The later, shorter add did not shorten the item's life.
    let left = ttl(SHARED, &item).unwrap();
    assert!((590..=600).contains(&left), "{left}");
    raw_client(SHARED).delete(&long).unwrap();
    raw_client(SHARED).delete(&short).unwrap();
    raw_client(SHARED).delete(&item).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn concurrent_index_updates_all_land_through_cas() {
    let prefix = unique_prefix("index-cas");
    let store = MemcachedStore::from_settings(&settings(&prefix))
        .await
        .unwrap();
    let keys: Vec<String> = (0..12).map(|n| format!("{prefix}k{n}")).collect();
    for key in &keys {
        store
            .save(key, b"x", Duration::from_secs(60), SaveHint::New)
            .await
            .unwrap();
    }
    let each = |add: bool| {
        let mut tasks = tokio::task::JoinSet::new();
        for key in keys.clone() {
            let store = store.clone();
            tasks.spawn(async move {
                if add {
                    let now = std::time::SystemTime::now();
                    store
                        .add_owned("bob", &key, now, Duration::from_secs(60))
                        .await
                } else {
                    store.remove_owned("bob", &key).await
                }
            });
        }
        tasks
    };
    let mut adds = each(true);
    while let Some(done) = adds.join_next().await {
        done.unwrap().unwrap();
    }
    assert_eq!(store.list_owned("bob").await.unwrap().len(), keys.len());
    let mut removes = each(false);
    while let Some(done) = removes.join_next().await {
        done.unwrap().unwrap();
    }
    assert!(store.list_owned("bob").await.unwrap().is_empty());
    for key in &keys {
        store.delete(key).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn an_evicted_index_loses_its_listing_as_documented() {
    let prefix = unique_prefix("index-evicted");
    let store = MemcachedStore::from_settings(&settings(&prefix))
        .await
        .unwrap();
    let key = format!("{prefix}k");
    store
        .save(&key, b"x", Duration::from_secs(60), SaveHint::New)
        .await
        .unwrap();
    let now = std::time::SystemTime::now();
    store
        .add_owned("carol", &key, now, Duration::from_secs(60))
        .await
        .unwrap();
    assert_eq!(store.list_owned("carol").await.unwrap().len(), 1);
    // memcached evicts the index (here: deletes it): the session lives on,
    // unlisted; nothing fails.
    assert!(raw_client(SHARED)
        .delete(&index_key(&prefix, "carol"))
        .unwrap());
    assert!(store.list_owned("carol").await.unwrap().is_empty());
    store.remove_owned("carol", &key).await.unwrap();
    assert!(store.load(&key).await.unwrap().is_some());
    store.delete(&key).await.unwrap();
}
