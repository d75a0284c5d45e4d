//! The Redis store against live servers, inspecting the raw keys with the
//! client: Flask-Session's layout (`session:<sid>`, msgspec msgpack, `SET … EX`
//! with the lifetime as TTL), touches that do not rewrite, clearing, bytes
//! that are not text, a Redis Cluster, the pre-6.2 fallback for `GETEX`,
//! timeouts, and reconnection after a restart.
//!
//! Needs Redis on 127.0.0.1:6379 and a Cluster with masters on 7000-7002
//! (replicas on 7003-7005), and
//! `redis-server` on the PATH for the tests that run a server of their own:
//! `scripts/test.sh` provides all three. Tests on the shared servers use key
//! prefixes of their own; the fault tests use their own server on their own
//! port.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use session::config::{ConnectionUrl, SessionType, Settings};
use session::store::redis::redis::aio::{ConnectionManager, MultiplexedConnection};
use session::store::redis::redis::{self, AsyncCommands};
use session::store::redis::RedisStore;
use session::store::{SaveHint, SessionStore, StoreErrorKind, WriteOutcome};
use session::SessionManager;

use crate::common::{unique_prefix, wait_for_port, write_reference_session, REFERENCE_MSGPACK};

const SHARED: &str = "redis://127.0.0.1:6379";
const CLUSTER: [&str; 3] = [
    "redis://127.0.0.1:7000",
    "redis://127.0.0.1:7001",
    "redis://127.0.0.1:7002",
];

fn settings(prefix: &str) -> Settings {
    let mut settings = Settings::default();
    settings.session_type = SessionType::Redis;
    settings.redis = vec![ConnectionUrl::new(SHARED)];
    settings.key_prefix = prefix.to_owned();
    settings
}

/// Settings for a store of its own on `url`, with the default timeouts.
fn on(url: &str) -> Settings {
    let mut settings = Settings::default();
    settings.redis = vec![ConnectionUrl::new(url)];
    settings
}

/// As [`on`], with both timeouts set to `timeout`.
fn on_with_timeouts(url: &str, timeout: Duration) -> Settings {
    let mut settings = on(url);
    settings.connect_timeout = timeout;
    settings.operation_timeout = timeout;
    settings
}

async fn raw_connection(url: &str) -> MultiplexedConnection {
    redis::Client::open(url)
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// A redis-server of the test's own on a free port, stopped on drop.
struct OwnRedis {
    child: Child,
    port: u16,
    extra: Vec<String>,
}

impl OwnRedis {
    fn start(extra: &[&str]) -> Self {
        let port = crate::common::free_port();
        Self::start_raw(port, extra)
    }

    /// On `port`, with `extra` arguments after the defaults (a later
    /// `--port 0` leaves only a `--tls-port` listening).
    fn start_raw(port: u16, extra: &[&str]) -> Self {
        let extra: Vec<String> = extra.iter().map(|s| (*s).to_owned()).collect();
        let child = Self::spawn(port, &extra);
        Self { child, port, extra }
    }

    fn spawn(port: u16, extra: &[String]) -> Child {
        let child = Command::new("redis-server")
            .args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server on the PATH");
        wait_for_port(port, "redis-server");
        child
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn restart(&mut self) {
        self.stop();
        self.child = Self::spawn(self.port, &self.extra);
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn layout_is_flask_sessions_key_msgpack_and_ttl() {
    // The default prefix: the key must read `session:<sid>`; the sid is random.
    let manager = SessionManager::from_settings(settings("session:"))
        .await
        .unwrap();
    assert_eq!(manager.store().backend(), "redis");
    let sid = write_reference_session(&manager).await;
    let key = format!("session:{sid}");

    let mut raw = raw_connection(SHARED).await;
    let value: Vec<u8> = raw.get(&key).await.unwrap();
    assert_eq!(
        value, REFERENCE_MSGPACK,
        "msgspec's bytes for the reference map"
    );
    let ttl: i64 = raw.ttl(&key).await.unwrap();
    assert!(
        (2_678_390..=2_678_400).contains(&ttl),
        "TTL {ttl}, not 31 days"
    );
    let _: () = raw.del(&key).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn the_ttl_is_the_configured_lifetime() {
    let prefix = unique_prefix("lifetime");
    let settings = {
        let mut settings = settings(&prefix);
        settings.permanent_session_lifetime = Duration::from_secs(600);
        settings
    };
    let manager = SessionManager::from_settings(settings).await.unwrap();
    let sid = write_reference_session(&manager).await;
    let mut raw = raw_connection(SHARED).await;
    let ttl: i64 = raw.ttl(format!("{prefix}{sid}")).await.unwrap();
    assert!((590..=600).contains(&ttl), "TTL {ttl}");
    let _: () = raw.del(format!("{prefix}{sid}")).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn a_cleared_session_leaves_no_key() {
    let prefix = unique_prefix("clear");
    let manager = SessionManager::from_settings(settings(&prefix))
        .await
        .unwrap();
    let sid = write_reference_session(&manager).await;
    let key = format!("{prefix}{sid}");
    let mut raw = raw_connection(SHARED).await;
    assert!(raw.exists::<_, bool>(&key).await.unwrap());

    let cookie = format!("session={sid}");
    let request = manager.open([cookie.as_bytes()]);
    request.load().await.unwrap().clear();
    let outcome = request.finish(200).await.unwrap();
    assert!(outcome.set_cookie.unwrap().contains("Max-Age=0"));
    assert!(
        !raw.exists::<_, bool>(&key).await.unwrap(),
        "the key is gone"
    );
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
    let mut raw = raw_connection(SHARED).await;

    // A value of our own in its place: a rewrite would replace it.
    let sentinel = b"\x82\xaa_permanent\xc3\xa5value\xa299".to_vec();
    let _: () = raw.set_ex(&key, &sentinel, 100).await.unwrap();

    // A read-only request with refresh on: GETEX slides the TTL.
    let cookie = format!("session={sid}");
    let request = manager.open([cookie.as_bytes()]);
    let session = request.load().await.unwrap();
    assert_eq!(
        session.get::<String>("value").unwrap().as_deref(),
        Some("99")
    );
    request.finish(200).await.unwrap();
    let value: Vec<u8> = raw.get(&key).await.unwrap();
    assert_eq!(value, sentinel, "not rewritten");
    let ttl: i64 = raw.ttl(&key).await.unwrap();
    assert!(ttl > 2_678_000, "TTL {ttl} was not reset to the lifetime");

    // touch() itself: EXPIRE only.
    let store = manager.store();
    store.touch(&key, Duration::from_secs(500)).await.unwrap();
    let ttl: i64 = raw.ttl(&key).await.unwrap();
    assert!((490..=500).contains(&ttl), "TTL {ttl}");
    assert_eq!(raw.get::<_, Vec<u8>>(&key).await.unwrap(), sentinel);
    let _: () = raw.del(&key).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn a_sliding_read_uses_getex_and_sets_the_ttl() {
    // Round trips, misses and binary values are the store contract's
    // (contract.rs); here, what only Redis shows.
    let prefix = unique_prefix("bytes");
    let store = RedisStore::from_settings(&on(SHARED)).await.unwrap();
    let key = format!("{prefix}k");
    let bytes: Vec<u8> = vec![0xff, 0x00, 0xc3, 0x28, 0x80, b'\r', b'\n'];
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
    assert!(store.uses_getex(), "Redis 7 has GETEX");
    let mut raw = raw_connection(SHARED).await;
    let ttl: i64 = raw.ttl(&key).await.unwrap();
    assert!((80..=90).contains(&ttl), "TTL {ttl}");
    store.delete(&key).await.unwrap();
    assert_eq!(store.cleanup().await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn an_apps_own_connection_manager_can_be_shared() {
    let prefix = unique_prefix("own");
    let client = redis::Client::open(SHARED).unwrap();
    let manager = ConnectionManager::new(client).await.unwrap();
    let store = RedisStore::from_connection(manager.clone()).with_deadline(Duration::from_secs(2));
    let key = format!("{prefix}k");
    store
        .save(&key, b"v", Duration::from_secs(60), SaveHint::New)
        .await
        .unwrap();
    let mut app = manager;
    assert_eq!(app.get::<_, Vec<u8>>(&key).await.unwrap(), b"v");
    store.delete(&key).await.unwrap();

    let shared: Arc<dyn SessionStore> = Arc::new(
        RedisStore::from_client(redis::Client::open(SHARED).unwrap(), &Settings::default())
            .await
            .unwrap(),
    );
    assert_eq!(shared.load(&key).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn cluster_sessions_spread_across_slots_and_all_read_back() {
    let prefix = unique_prefix("cluster");
    let settings = {
        let mut settings = settings(&prefix);
        settings.redis = CLUSTER.iter().map(|u| ConnectionUrl::new(*u)).collect();
        settings
    };
    // Several URLs select the Cluster through from_settings.
    let manager = SessionManager::from_settings(settings).await.unwrap();
    let mut sids = Vec::new();
    for _ in 0..60 {
        sids.push(write_reference_session(&manager).await);
    }
    for sid in &sids {
        let cookie = format!("session={sid}");
        let request = manager.open([cookie.as_bytes()]);
        let session = request.load().await.unwrap();
        assert_eq!(
            session.get::<String>("value").unwrap().as_deref(),
            Some("44"),
            "{sid}"
        );
        request.finish(200).await.unwrap();
    }

    // Each node holds some of them: count the keys node by node.
    let mut per_node = Vec::new();
    for url in CLUSTER {
        let mut node = raw_connection(url).await;
        let keys: Vec<String> = node.keys(format!("{prefix}*")).await.unwrap();
        per_node.push(keys.len());
    }
    assert_eq!(per_node.iter().sum::<usize>(), 60, "{per_node:?}");
    assert!(
        per_node.iter().all(|&n| n > 0),
        "not spread over every node: {per_node:?}"
    );

    let cluster = {
        let mut settings = Settings::default();
        settings.redis = CLUSTER.map(ConnectionUrl::new).to_vec();
        settings
    };
    let store = RedisStore::from_settings(&cluster).await.unwrap();
    let mut slots = std::collections::BTreeSet::new();
    let mut node = raw_connection(CLUSTER[0]).await;
    for sid in &sids {
        let key = format!("{prefix}{sid}");
        let slot: u16 = redis::cmd("CLUSTER")
            .arg("KEYSLOT")
            .arg(&key)
            .query_async(&mut node)
            .await
            .unwrap();
        slots.insert(slot);
        assert_eq!(
            store.load(&key).await.unwrap().as_deref(),
            Some(REFERENCE_MSGPACK)
        );
        store.delete(&key).await.unwrap();
        assert_eq!(store.load(&key).await.unwrap(), None);
    }
    assert!(
        slots.len() > 50,
        "{} distinct slots for 60 sessions",
        slots.len()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn without_getex_a_sliding_read_falls_back_to_get_and_expire() {
    // A server that does not know GETEX, as before Redis 6.2.
    let server = OwnRedis::start(&["--rename-command", "GETEX", ""]);
    let store = RedisStore::from_settings(&on(&server.url())).await.unwrap();
    store
        .save("k", b"v", Duration::from_secs(100), SaveHint::New)
        .await
        .unwrap();
    assert!(store.uses_getex());
    assert_eq!(
        store
            .load_and_touch("k", Duration::from_secs(900))
            .await
            .unwrap()
            .as_deref(),
        Some(&b"v"[..])
    );
    assert!(!store.uses_getex(), "the fallback is remembered");
    let mut raw = raw_connection(&server.url()).await;
    let ttl: i64 = raw.ttl("k").await.unwrap();
    assert!((890..=900).contains(&ttl), "TTL {ttl}");
    assert_eq!(
        store
            .load_and_touch("missing", Duration::from_secs(9))
            .await
            .unwrap(),
        None
    );
    let stats: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!(stats.contains("cmdstat_expire:calls=2"), "{stats}");
}

/// The conditional save compares a record of up to 1 MiB whole, a larger one
/// by its SHA-1 on the server: both sides of that line are compared right.
#[tokio::test]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn a_conditional_save_compares_records_on_both_sides_of_the_digest_line() {
    let prefix = unique_prefix("digest-line");
    let store = RedisStore::from_settings(&on(SHARED)).await.unwrap();
    let ttl = Duration::from_secs(60);
    for size in [(1 << 20) - 1, 1 << 20, (1 << 20) + 1, 3 << 20] {
        let key = format!("{prefix}{size}");
        let loaded = vec![b'a'; size];
        // Differs from `loaded` only in its last byte.
        let mut changed = loaded.clone();
        changed[size - 1] = b'b';
        store
            .save(&key, &changed, ttl, SaveHint::New)
            .await
            .unwrap();
        let stale = store.save_if_unchanged(&key, &loaded, b"mine", ttl).await;
        assert_eq!(
            stale.unwrap(),
            WriteOutcome::Changed(changed.clone()),
            "{size} B"
        );
        let saved = store.save_if_unchanged(&key, &changed, b"mine", ttl).await;
        assert_eq!(saved.unwrap(), WriteOutcome::Saved, "{size} B");
        assert_eq!(
            store.load(&key).await.unwrap().as_deref(),
            Some(&b"mine"[..])
        );
        store.delete(&key).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn a_stopped_server_fails_fast_and_a_restart_needs_no_new_store() {
    let mut server = OwnRedis::start(&[]);
    let settings = on_with_timeouts(&server.url(), Duration::from_millis(500));
    let store = RedisStore::from_settings(&settings).await.unwrap();
    store
        .save("k", b"v", Duration::from_secs(100), SaveHint::New)
        .await
        .unwrap();

    server.stop();
    for _ in 0..3 {
        let started = Instant::now();
        let error = store.load("k").await.unwrap_err();
        assert_eq!(error.kind, StoreErrorKind::Unavailable, "{error}");
        assert!(
            started.elapsed() < Duration::from_millis(1500),
            "{:?}",
            started.elapsed()
        );
    }

    // Same port, empty server (nothing persisted): the very first call works.
    server.restart();
    assert_eq!(store.load("k").await.unwrap(), None);
    store
        .save("k", b"again", Duration::from_secs(100), SaveHint::New)
        .await
        .unwrap();
    assert_eq!(
        store.load("k").await.unwrap().as_deref(),
        Some(&b"again"[..])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn a_hung_server_times_out_as_unavailable() {
    let server = OwnRedis::start(&[]);
    let settings = on_with_timeouts(&server.url(), Duration::from_millis(300));
    let store = RedisStore::from_settings(&settings).await.unwrap();
    server.signal("-STOP");
    let started = Instant::now();
    let error = store
        .save("k", b"v", Duration::from_secs(10), SaveHint::New)
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    server.signal("-CONT");
    assert_eq!(error.kind, StoreErrorKind::Unavailable, "{error}");
    assert!(elapsed < Duration::from_millis(1000), "{elapsed:?}");
    // Once the server answers again, so does the store.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match store
            .save("k", b"v", Duration::from_secs(10), SaveHint::New)
            .await
        {
            Ok(()) => break,
            Err(error) => assert!(Instant::now() < deadline, "no recovery: {error}"),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// How many clients the server at `url` has, this test's own connection
/// included.
async fn connected_clients(raw: &mut MultiplexedConnection) -> usize {
    let info: String = redis::cmd("INFO")
        .arg("clients")
        .query_async(raw)
        .await
        .unwrap();
    info.lines()
        .find_map(|line| line.strip_prefix("connected_clients:"))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no connected_clients in {info}"))
}

/// On a plain `redis://` server, an operation with no other in flight goes
/// over the direct connection (authenticated and in the URL's database);
/// a burst shares one connection, which batches it, and opens no more
/// connections. Every operation answers; a shutdown closes them all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn a_burst_shares_one_connection_and_opens_one_direct_connection_at_most() {
    let server = OwnRedis::start(&["--requirepass", "pw"]);
    let url = format!("redis://:pw@127.0.0.1:{}/3", server.port);
    let settings = on(&url);
    let store = RedisStore::from_settings(&settings).await.unwrap();
    let mut raw = raw_connection(&url).await;
    let ttl = Duration::from_secs(60);
    // The server holds every write while paused, and answers reads (this
    // test's INFO, the handshake's AUTH and SELECT): the 40 saves are all in
    // flight at once.
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(400)
        .arg("WRITE")
        .query_async(&mut raw)
        .await
        .unwrap();
    let tasks: Vec<_> = (0..40)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let key = format!("k{i}");
                store
                    .save(&key, key.as_bytes(), ttl, SaveHint::New)
                    .await
                    .unwrap();
                store.load(&key).await.unwrap()
            })
        })
        .collect();
    // The most clients seen during the burst: the first save began alone
    // and went direct, the other 39 went to the shared connection. So four:
    // the direct connection, the shared one, the connection manager's (for
    // pipelines and script loads; idle here) and this test's.
    let mut most = 0;
    let paused_until = Instant::now() + Duration::from_millis(300);
    while Instant::now() < paused_until {
        most = most.max(connected_clients(&mut raw).await);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(most, 4, "clients during the burst");
    for (i, task) in tasks.into_iter().enumerate() {
        assert_eq!(task.await.unwrap(), Some(format!("k{i}").into_bytes()));
    }
    assert_eq!(connected_clients(&mut raw).await, 4);
    // An operation on its own goes direct again, on the same connection.
    assert_eq!(store.load("k3").await.unwrap(), Some(b"k3".to_vec()));
    assert_eq!(connected_clients(&mut raw).await, 4);
    // In database 3, as the URL says.
    let stored: Option<String> = raw.get("k7").await.unwrap();
    assert_eq!(stored.as_deref(), Some("k7"));

    store.shutdown().await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while connected_clients(&mut raw).await > 1 {
        assert!(
            Instant::now() < deadline,
            "connections left open after shutdown"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A direct connection whose operation was cancelled after its command was
/// sent is closed, not reused: its late reply must never answer the next
/// operation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn a_cancelled_operation_leaves_no_reply_for_the_next() {
    let server = OwnRedis::start(&[]);
    // Each operation below is alone, so each goes direct: the next would
    // get the cancelled one's connection if it were kept.
    let store = RedisStore::from_settings(&on(&server.url())).await.unwrap();
    let ttl = Duration::from_secs(60);
    store.save("a", b"A", ttl, SaveHint::New).await.unwrap();
    store.save("b", b"B", ttl, SaveHint::New).await.unwrap();
    let mut raw = raw_connection(&server.url()).await;
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(300)
        .query_async(&mut raw)
        .await
        .unwrap();
    let cancelled = tokio::time::timeout(Duration::from_millis(50), store.load("a")).await;
    assert!(
        cancelled.is_err(),
        "the paused server answered: {cancelled:?}"
    );
    assert_eq!(store.load("b").await.unwrap(), Some(b"B".to_vec()));
    assert_eq!(store.load("a").await.unwrap(), Some(b"A".to_vec()));
}

/// Loads of `keys`, all in flight at once; those whose index `cancel`
/// picks are dropped after 100 ms, while the server holds them. Returns
/// what each of the others read.
///
/// The first load starts before the others: it alone goes over the direct
/// connection (no other is in flight), and the others, cancelled or not,
/// over the shared one. Started in any order, a cancelled load could be the
/// one that went direct, and a cancelled direct operation closes its
/// connection by design (its reply is still due), which the next burst
/// reopens: a flake of the connection count under a loaded machine.
async fn burst_of_loads(
    store: &RedisStore, keys: &[String], cancel: fn(usize) -> bool,
) -> Vec<(usize, Option<Vec<u8>>)> {
    let ttl = Duration::from_secs(60);
    assert!(
        !cancel(0),
        "the first load, the direct one, is not cancelled"
    );
    let mut first = store.load_and_touch(&keys[0], ttl);
    let mut first_read = None;
    // One poll sends it (or finds the answer, if the server is not paused).
    std::future::poll_fn(|cx| {
        if let Poll::Ready(result) = first.as_mut().poll(cx) {
            first_read = Some(result);
        }
        Poll::Ready(())
    })
    .await;
    let tasks: Vec<_> = keys
        .iter()
        .enumerate()
        .skip(1)
        .map(|(i, key)| {
            let (store, key) = (store.clone(), key.clone());
            tokio::spawn(async move {
                let load = store.load_and_touch(&key, ttl);
                if cancel(i) {
                    let cut = tokio::time::timeout(Duration::from_millis(100), load).await;
                    assert!(cut.is_err(), "load {i} answered while paused: {cut:?}");
                    None
                } else {
                    Some((i, load.await.unwrap()))
                }
            })
        })
        .collect();
    let first_read = match first_read {
        Some(result) => result,
        None => first.await,
    };
    let mut read = vec![(0, first_read.unwrap())];
    for task in tasks {
        read.extend(task.await.unwrap());
    }
    read
}

/// A server of its own holding keys `k0`..`k29` (each its own name as
/// value), a store on it, and a connection of the test's that has just
/// paused writes for `ms` milliseconds (`GETEX` with an expiry is a write:
/// the server holds the store's loads meanwhile).
async fn thirty_keys_with_writes_paused(
    ms: u64,
) -> (OwnRedis, RedisStore, Vec<String>, MultiplexedConnection) {
    let server = OwnRedis::start(&[]);
    let store = RedisStore::from_settings(&on(&server.url())).await.unwrap();
    let ttl = Duration::from_secs(60);
    let keys: Vec<String> = (0..30).map(|i| format!("k{i}")).collect();
    for key in &keys {
        store
            .save(key, key.as_bytes(), ttl, SaveHint::New)
            .await
            .unwrap();
    }
    let mut raw = raw_connection(&server.url()).await;
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(ms)
        .arg("WRITE")
        .query_async(&mut raw)
        .await
        .unwrap();
    (server, store, keys, raw)
}

/// On the shared connection, operations cancelled while their replies were
/// due leave those replies to no other: every operation still waiting, and
/// every one after, reads its own key, on the same connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn cancelled_operations_in_a_burst_leave_their_replies_to_no_other() {
    let (_server, store, keys, mut raw) = thirty_keys_with_writes_paused(400).await;
    let read = burst_of_loads(&store, &keys, |i| i % 3 == 1).await;
    assert_eq!(read.len(), 20);
    for (i, value) in read {
        assert_eq!(value, Some(keys[i].clone().into_bytes()), "load {i}");
    }
    let clients = connected_clients(&mut raw).await;
    let read = burst_of_loads(&store, &keys, |_| false).await;
    assert_eq!(read.len(), 30);
    for (i, value) in read {
        assert_eq!(value, Some(keys[i].clone().into_bytes()), "load {i} after");
    }
    assert_eq!(
        connected_clients(&mut raw).await,
        clients,
        "cancelled operations close no shared connection"
    );
}

/// The shared connection killed with a burst's commands in flight: each
/// operation is sent again on a new connection, and every one answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn a_burst_outlives_its_connection_being_killed() {
    let (_server, store, keys, mut raw) = thirty_keys_with_writes_paused(300).await;
    let burst = {
        let (store, keys) = (store.clone(), keys.clone());
        tokio::spawn(async move { burst_of_loads(&store, &keys, |_| false).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("normal")
        .arg("SKIPME")
        .arg("yes")
        .query_async(&mut raw)
        .await
        .unwrap();
    assert!(killed >= 2, "the store's connections were killed: {killed}");
    let read = burst.await.unwrap();
    assert_eq!(read.len(), 30);
    for (i, value) in read {
        assert_eq!(value, Some(keys[i].clone().into_bytes()), "load {i}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn a_server_error_is_failed_not_unavailable() {
    let prefix = unique_prefix("wrongtype");
    let store = RedisStore::from_settings(&on(SHARED)).await.unwrap();
    let key = format!("{prefix}list");
    let mut raw = raw_connection(SHARED).await;
    let _: () = raw.rpush(&key, "x").await.unwrap();
    let error = store.load(&key).await.unwrap_err();
    assert_eq!(error.kind, StoreErrorKind::Failed, "{error}");
    let _: () = raw.del(&key).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn a_wrong_password_fails_start_up_with_the_password_redacted() {
    let server = OwnRedis::start(&["--requirepass", "right-password"]);
    let url = format!("redis://:wrong-password@127.0.0.1:{}", server.port);
    let error = RedisStore::from_settings(&on(&url)).await.unwrap_err();
    let message = error.to_string();
    assert!(message.contains("redis"), "{message}");
    assert!(
        message.contains(&format!("127.0.0.1:{}", server.port)),
        "{message}"
    );
    assert!(!message.contains("wrong-password"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn tls_connections_work() {
    // A test CA, a certificate it signs for 127.0.0.1, and a TLS-only server.
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).display().to_string();
    let (ca, cert, key) = (path("ca.pem"), path("cert.pem"), path("key.pem"));
    std::fs::write(path("ext.cnf"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    let ca_key = path("ca.key");
    let csr = path("req.csr");
    let ext = path("ext.cnf");
    let steps: [&[&str]; 3] = [
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=session-test-ca",
            "-keyout",
            &ca_key,
            "-out",
            &ca,
        ],
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            &key,
            "-out",
            &csr,
        ],
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &ca,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-days",
            "1",
            "-extfile",
            &ext,
            "-out",
            &cert,
        ],
    ];
    for args in steps {
        let status = Command::new("openssl")
            .args(args)
            .current_dir(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .expect("openssl on the PATH");
        assert!(status.success(), "openssl {args:?}");
    }
    let port = crate::common::free_port();
    let (cert_arg, key_arg) = (cert.clone(), key.clone());
    let server = OwnRedis::start_raw(
        port,
        &[
            "--port",
            "0",
            "--tls-port",
            &port.to_string(),
            "--tls-cert-file",
            &cert_arg,
            "--tls-key-file",
            &key_arg,
            "--tls-auth-clients",
            "no",
        ],
    );

    let url = format!("rediss://127.0.0.1:{port}");
    let certificates = redis::TlsCertificates {
        client_tls: None,
        root_cert: Some(std::fs::read(&ca).unwrap()),
    };
    let client = redis::Client::build_with_tls(url.as_str(), certificates).unwrap();
    let store = RedisStore::from_client(client, &Settings::default())
        .await
        .unwrap();
    store
        .save("k", b"over tls", Duration::from_secs(60), SaveHint::New)
        .await
        .unwrap();
    assert_eq!(
        store
            .load_and_touch("k", Duration::from_secs(60))
            .await
            .unwrap()
            .as_deref(),
        Some(&b"over tls"[..])
    );

    // A URL alone uses the system's roots, which do not hold this certificate:
    // start-up fails, and says where.
    let error = RedisStore::from_settings(&on(&url)).await.unwrap_err();
    assert!(
        error.to_string().contains(&format!("127.0.0.1:{port}")),
        "{error}"
    );
    drop(server);
}

/// A shutdown drops the store's connection: later operations fail as
/// unavailable instead of reaching the server; a second shutdown is a no-op.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn a_shutdown_drops_the_connection() {
    let store = RedisStore::from_settings(&settings(&unique_prefix("shutdown")))
        .await
        .unwrap();
    let clone = store.clone();
    let ttl = Duration::from_secs(60);
    store.save("k", b"v", ttl, SaveHint::New).await.unwrap();
    assert!(store.connection().is_some());
    store.shutdown().await;
    assert!(store.connection().is_none());
    assert!(clone.connection().is_none(), "clones share the connection");
    let error = clone.load("k").await.unwrap_err();
    assert_eq!(error.kind, StoreErrorKind::Unavailable, "{error}");
    store.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn the_owner_index_is_a_hash_whose_ttl_never_shrinks() {
    let prefix = unique_prefix("index");
    let store = RedisStore::from_settings(&settings(&prefix)).await.unwrap();
    let owner = "alice: {x} * ../é";
    let index = format!("{prefix}owner:{owner}");
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
    let mut raw = raw_connection(SHARED).await;
    let hash: std::collections::HashMap<String, String> = raw.hgetall(&index).await.unwrap();
    let expected = [(&long, "1700000000"), (&short, "1700000000")]
        .map(|(key, at)| (key.clone(), at.to_owned()))
        .into_iter()
        .collect();
    assert_eq!(hash, expected, "session key -> login time");
    let left: i64 = raw.pttl(&index).await.unwrap();
    assert!(
        (590_000..=600_000).contains(&left),
        "{left} ms: not shortened by the 60 s add"
    );

    // A session kept alive past the index's TTL: the listing extends it.
    let _: bool = raw.expire(&long, 3600).await.unwrap();
    let entries = store.list_owned(owner).await.unwrap();
    assert_eq!(entries.len(), 2);
    let listed = entries.iter().find(|entry| entry.key == long).unwrap();
    assert_eq!(listed.created, Some(created));
    let ahead = listed
        .expires
        .unwrap()
        .duration_since(std::time::SystemTime::now())
        .unwrap();
    assert!(ahead > Duration::from_secs(3590), "{ahead:?}");
    let left: i64 = raw.pttl(&index).await.unwrap();
    assert!(
        left > 3_590_000,
        "{left} ms: the index outlives its sessions"
    );

    // A dead member is pruned from the hash, not just hidden.
    store.delete(&short).await.unwrap();
    assert_eq!(store.list_owned(owner).await.unwrap().len(), 1);
    assert!(!raw.hexists::<_, _, bool>(&index, &short).await.unwrap());
    store.remove_owned(owner, &long).await.unwrap();
    assert!(
        !raw.exists::<_, bool>(&index).await.unwrap(),
        "an empty hash is no key"
    );
    store.delete(&long).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn a_store_over_an_apps_connection_takes_the_key_prefix_for_its_index() {
    let prefix = unique_prefix("index-own");
    let manager = ConnectionManager::new(redis::Client::open(SHARED).unwrap())
        .await
        .unwrap();
    let store = RedisStore::from_connection(manager.clone()).with_key_prefix(&prefix);
    let key = format!("{prefix}k");
    store
        .save(&key, b"x", Duration::from_secs(60), SaveHint::New)
        .await
        .unwrap();
    let now = std::time::SystemTime::now();
    store
        .add_owned("bob", &key, now, Duration::from_secs(60))
        .await
        .unwrap();
    let mut raw = manager;
    let index = format!("{prefix}owner:bob");
    assert!(raw.hexists::<_, _, bool>(&index, &key).await.unwrap());
    store.delete(&key).await.unwrap();
    store.remove_owned("bob", &key).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs live servers: run scripts/test.sh"]
async fn a_cluster_lists_an_owner_whose_sessions_span_every_node() {
    let prefix = unique_prefix("index-cluster");
    let settings = {
        let mut settings = settings(&prefix);
        settings.redis = CLUSTER.iter().map(|u| ConnectionUrl::new(*u)).collect();
        settings
    };
    let store = RedisStore::from_settings(&settings).await.unwrap();
    let owner = "carol{tag}";
    let keys: Vec<String> = (0..40).map(|n| format!("{prefix}k{n}")).collect();
    let now = std::time::SystemTime::now();
    for key in &keys {
        store
            .save(key, b"x", Duration::from_secs(600), SaveHint::New)
            .await
            .unwrap();
        store
            .add_owned(owner, key, now, Duration::from_secs(600))
            .await
            .unwrap();
    }
    for key in &keys[..5] {
        store.delete(key).await.unwrap();
    }
    let entries = store.list_owned(owner).await.unwrap();
    let mut listed: Vec<&str> = entries.iter().map(|entry| entry.key.as_str()).collect();
    listed.sort_unstable();
    let mut live: Vec<&str> = keys[5..].iter().map(String::as_str).collect();
    live.sort_unstable();
    assert_eq!(listed, live);
    assert!(entries.iter().all(|entry| entry.expires.is_some()));
    let mut connection = store.connection().unwrap();
    let index = format!("{prefix}owner:{owner}");
    let members: i64 = redis::cmd("HLEN")
        .arg(&index)
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(members, 35, "the dead members were pruned");
    for key in &keys {
        store.delete(key).await.unwrap();
    }
    let _: i64 = redis::cmd("DEL")
        .arg(&index)
        .query_async(&mut connection)
        .await
        .unwrap();
}
