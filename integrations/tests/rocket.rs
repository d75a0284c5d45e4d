//! The Rocket adapter in process, with Rocket's local `Client`: the sentinel,
//! the fairing's configuration paths, the guards' load-once rule, error
//! statuses, and the test helper. The behaviour over HTTP is the conformance
//! suite's (`tests/tests/e2e.rs`).

#![cfg(feature = "rocket")]
#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rocket::figment::providers::{Format, Toml};
use rocket::http::Status;
use rocket::local::blocking::Client;
use rocket::request::{FromRequest, Outcome};
use rocket::{get, routes, Build, Config, Request, Rocket, State};
use session::store::memory::MemoryStore;
use session::{
    SaveHint, SessionData, SessionManager, SessionMap, SessionStore, Settings, StoreError,
};
use session_integrations::rocket::testing::{to_map, SessionTester};
use session_integrations::rocket::{Session, SessionFairing, TypedSession};

#[derive(Debug, Default, SessionData)]
struct Visit {
    count: u32,
}

/// The memory store, counting loads, and failing as unreachable on demand.
#[derive(Default)]
struct Probe {
    inner: MemoryStore,
    loads: AtomicUsize,
    down: AtomicBool,
    writes_down: AtomicBool,
}

impl Probe {
    fn loads(&self) -> usize {
        self.loads.load(Ordering::SeqCst)
    }
    fn check(&self, operation: &'static str) -> Result<(), StoreError> {
        let writing = operation != "load";
        if self.down.load(Ordering::SeqCst) || (writing && self.writes_down.load(Ordering::SeqCst))
        {
            return Err(StoreError::unavailable(
                "probe",
                operation,
                "connection refused",
            ));
        }
        Ok(())
    }
}

#[rocket::async_trait]
impl SessionStore for Probe {
    fn backend(&self) -> &'static str {
        "probe"
    }
    async fn load(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        self.check("load")?;
        self.inner.load(key).await
    }
    async fn load_and_touch(
        &self, key: &str, ttl: Duration,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        self.check("load")?;
        self.inner.load_and_touch(key, ttl).await
    }
    async fn save(
        &self, key: &str, value: &[u8], ttl: Duration, hint: SaveHint,
    ) -> Result<(), StoreError> {
        self.check("save")?;
        self.inner.save(key, value, ttl, hint).await
    }
    async fn save_if_unchanged(
        &self, key: &str, expected: &[u8], value: &[u8], ttl: Duration,
    ) -> Result<session::WriteOutcome, StoreError> {
        self.check("save")?;
        self.inner
            .save_if_unchanged(key, expected, value, ttl)
            .await
    }
    async fn insert_new(
        &self, key: &str, value: &[u8], ttl: Duration,
    ) -> Result<session::WriteOutcome, StoreError> {
        self.check("save")?;
        self.inner.insert_new(key, value, ttl).await
    }
    async fn touch(&self, key: &str, ttl: Duration) -> Result<(), StoreError> {
        self.check("touch")?;
        self.inner.touch(key, ttl).await
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.check("delete")?;
        self.inner.delete(key).await
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

/// Always forwards, so that the next route with the same path is tried.
struct Forward;

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Forward {
    type Error = ();
    async fn from_request(_request: &'r Request<'_>) -> Outcome<Self, ()> {
        Outcome::Forward(Status::NotFound)
    }
}

#[get("/plain")]
fn plain() -> &'static str {
    "ok"
}

#[get("/incr")]
fn incr(mut visit: TypedSession<Visit>) -> String {
    visit.count += 1;
    visit.count.to_string()
}

#[get("/read")]
fn read(visit: TypedSession<Visit>) -> String {
    visit.count.to_string()
}

/// Two guards, typed and untyped, on one map.
#[get("/both")]
fn both(session: Session, mut visit: TypedSession<Visit>) -> String {
    visit.count += 10;
    visit.0.sync().unwrap();
    session
        .get::<u32>("count")
        .unwrap()
        .unwrap_or(0)
        .to_string()
}

#[get("/forwarded", rank = 1)]
fn forwarded_first(_session: Session, _forward: Forward) -> &'static str {
    "first"
}

#[get("/forwarded", rank = 2)]
fn forwarded_second(visit: TypedSession<Visit>) -> String {
    visit.count.to_string()
}

#[get("/cookie-name")]
fn cookie_name(manager: &State<SessionManager>) -> String {
    manager.cookie_name().to_owned()
}

fn app(fairing: SessionFairing) -> Rocket<Build> {
    rocket::custom(Config::debug_default())
        .attach(fairing)
        .mount(
            "/",
            routes![
                plain,
                incr,
                read,
                both,
                forwarded_first,
                forwarded_second,
                cookie_name
            ],
        )
}

fn probe_app() -> (Client, Arc<Probe>) {
    let probe = Arc::new(Probe::default());
    let manager = SessionManager::new(Settings::default(), probe.clone()).unwrap();
    (
        Client::tracked(app(SessionFairing::new(manager))).unwrap(),
        probe,
    )
}

/// Runs `f` with a tracing subscriber that records what is logged on this
/// thread (the blocking client ignites on the calling thread).
fn capture_logs<R>(f: impl FnOnce() -> R) -> (R, String) {
    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);
    impl Write for Buffer {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    // With one dispatcher registered, tracing caches a callsite's interest
    // from the first thread to reach it: another test's thread could cache
    // "never" and silence this capture. A second one makes it ask them all.
    let _second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    let result = tracing::subscriber::with_default(subscriber, f);
    let logs = String::from_utf8_lossy(&buffer.0.lock().unwrap()).into_owned();
    (result, logs)
}

#[test]
fn launching_without_the_fairing_is_a_sentinel_abort_that_says_what_to_attach() {
    let rocket = rocket::custom(Config::debug_default()).mount("/", routes![plain, incr, both]);
    let (result, logs) = capture_logs(|| Client::untracked(rocket).err());
    let error = result.expect("launch must abort without the fairing");
    let rocket::error::ErrorKind::SentinelAborts(sentries) = error.kind() else {
        panic!("expected SentinelAborts, got {:?}", error.kind());
    };
    let names: Vec<&str> = sentries.iter().map(|sentry| sentry.type_name).collect();
    assert!(
        names
            .iter()
            // One guard type serves both adapters (the adapter core).
            .any(|name| name.ends_with("session_integrations::adapter::Session")),
        "{names:?}"
    );
    assert!(
        names.iter().any(|name| name.contains("TypedSession<")),
        "{names:?}"
    );
    assert!(
        logs.contains("the session fairing is not attached"),
        "{logs}"
    );
    assert!(
        logs.contains(".attach(session_integrations::rocket::SessionFairing::from_config())"),
        "{logs}"
    );
    assert!(
        logs.contains("TypedSession<"),
        "the log names the guard: {logs}"
    );
}

#[test]
fn a_route_without_a_guard_never_touches_the_store() {
    let (client, probe) = probe_app();
    let response = client.get("/plain").dispatch();
    assert_eq!(response.status(), Status::Ok);
    assert!(response.headers().get_one("Set-Cookie").is_none());
    assert!(response.headers().get_one("Vary").is_none());
    assert_eq!(probe.loads(), 0);
}

#[test]
fn the_session_cookie_is_set_tracked_and_read_back() {
    let (client, probe) = probe_app();
    let first = client.get("/incr").dispatch();
    assert_eq!(first.headers().get("Vary").collect::<Vec<_>>(), ["Cookie"]);
    let cookie = first.headers().get_one("Set-Cookie").unwrap().to_owned();
    assert!(
        cookie.starts_with("session=") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    assert_eq!(first.into_string().unwrap(), "1");
    assert_eq!(client.get("/incr").dispatch().into_string().unwrap(), "2");
    assert_eq!(client.get("/read").dispatch().into_string().unwrap(), "2");
    assert_eq!(
        probe.loads(),
        2,
        "no cookie on the first request: no read; then one per request"
    );
}

#[test]
fn typed_and_untyped_guards_share_one_load_and_one_map() {
    let (client, probe) = probe_app();
    client.get("/incr").dispatch();
    let before = probe.loads();
    assert_eq!(client.get("/both").dispatch().into_string().unwrap(), "11");
    assert_eq!(probe.loads(), before + 1);
    assert_eq!(client.get("/read").dispatch().into_string().unwrap(), "11");
}

#[test]
fn a_forwarded_request_loads_the_session_once() {
    let (client, probe) = probe_app();
    client.get("/incr").dispatch();
    let before = probe.loads();
    assert_eq!(
        client.get("/forwarded").dispatch().into_string().unwrap(),
        "1"
    );
    assert_eq!(probe.loads(), before + 1);
}

#[test]
fn an_unreachable_store_fails_session_routes_with_503_only() {
    let (client, probe) = probe_app();
    client.get("/incr").dispatch();
    probe.down.store(true, Ordering::SeqCst);
    let response = client.get("/read").dispatch();
    assert_eq!(response.status(), Status::ServiceUnavailable);
    assert!(response.headers().get_one("Set-Cookie").is_none());
    assert_eq!(client.get("/plain").dispatch().status(), Status::Ok);
    probe.down.store(false, Ordering::SeqCst);
    assert_eq!(
        client.get("/read").dispatch().into_string().unwrap(),
        "1",
        "nothing was lost"
    );
}

#[test]
fn a_store_failure_at_finish_replaces_the_response() {
    let (client, probe) = probe_app();
    client.get("/incr").dispatch();
    probe.writes_down.store(true, Ordering::SeqCst);
    let response = client.get("/incr").dispatch();
    assert_eq!(response.status(), Status::ServiceUnavailable);
    assert!(response.headers().get_one("Set-Cookie").is_none());
    assert_eq!(
        response.into_string().unwrap(),
        "the session store is unavailable"
    );
    probe.writes_down.store(false, Ordering::SeqCst);
    assert_eq!(
        client.get("/read").dispatch().into_string().unwrap(),
        "1",
        "the failed write persisted nothing"
    );
}

#[test]
fn a_write_under_the_null_backend_is_a_500_naming_session_type() {
    let settings = Settings::from_map([("type", "null")]).unwrap();
    let client = Client::tracked(app(SessionFairing::from_settings(settings))).unwrap();
    assert_eq!(
        client.get("/read").dispatch().into_string().unwrap(),
        "0",
        "reads work"
    );
    let response = client.get("/incr").dispatch();
    assert_eq!(response.status(), Status::InternalServerError);
    assert!(response.headers().get_one("Set-Cookie").is_none());
    let body = response.into_string().unwrap();
    assert!(body.contains("SESSION_TYPE"), "{body}");
}

#[test]
fn settings_can_come_from_the_session_table_of_rockets_figment() {
    let figment = Config::figment().merge(Toml::string(
        "[session]\ntype = \"memory\"\ncookie_name = \"sid\"\n",
    ));
    let rocket = rocket::custom(figment)
        .attach(SessionFairing::from_figment())
        .mount("/", routes![incr, cookie_name]);
    let client = Client::tracked(rocket).unwrap();
    assert_eq!(
        client.get("/cookie-name").dispatch().into_string().unwrap(),
        "sid"
    );
    let response = client.get("/incr").dispatch();
    assert!(response
        .headers()
        .get_one("Set-Cookie")
        .unwrap()
        .starts_with("sid="));
}

#[test]
fn a_configuration_error_aborts_ignite_and_is_logged_in_full() {
    let figment = Config::figment().merge(Toml::string(
        "[session]\ntype = \"memory\"\ncookie_nmae = \"sid\"\n",
    ));
    let rocket = rocket::custom(figment)
        .attach(SessionFairing::from_figment())
        .mount("/", routes![incr]);
    let (result, logs) = capture_logs(|| Client::untracked(rocket).err());
    let error = result.expect("ignite must fail");
    assert!(
        matches!(error.kind(), rocket::error::ErrorKind::FailedFairings(_)),
        "{:?}",
        error.kind()
    );
    assert!(logs.contains("sessions could not start"), "{logs}");
    assert!(
        logs.contains("cookie_nmae") && logs.contains("cookie_name"),
        "did you mean: {logs}"
    );
    assert!(logs.contains("[session]"), "names the source: {logs}");
}

#[test]
fn a_manager_managed_by_hand_is_refused_rather_than_a_panic() {
    let manager = SessionManager::new(Settings::default(), Arc::new(MemoryStore::new())).unwrap();
    let rocket = app(SessionFairing::new(manager.clone())).manage(manager);
    let (result, logs) = capture_logs(|| Client::untracked(rocket).err());
    let error = result.expect("ignite must fail");
    assert!(matches!(
        error.kind(),
        rocket::error::ErrorKind::FailedFairings(_)
    ));
    assert!(logs.contains("SessionFairing::new"), "{logs}");
}

#[test]
fn the_tester_seeds_and_reads_sessions_with_the_blocking_client() {
    let settings = Settings::from_map([("type", "memory")]).unwrap();
    let client = Client::untracked(app(SessionFairing::from_settings(settings))).unwrap();
    let sessions = SessionTester::new(client.rocket()).unwrap();
    let mut map = to_map(&Visit { count: 41 }).unwrap();
    map.insert("user", "ada").unwrap();
    let cookie = sessions.seed_blocking(&map).unwrap();
    let response = client.get("/incr").cookie(cookie).dispatch();
    assert_eq!(response.status(), Status::Ok);
    let stored = sessions.read_blocking(response.cookies()).unwrap().unwrap();
    assert_eq!(Visit::from_map(&stored).count, 42);
    assert_eq!(
        stored.get::<String>("user").unwrap().as_deref(),
        Some("ada"),
        "other keys survive"
    );
    assert!(sessions
        .read_blocking(client.get("/plain").dispatch().cookies())
        .unwrap()
        .is_none());
}

#[rocket::async_test]
async fn the_tester_works_with_the_asynchronous_client_and_a_signer() {
    let settings = Settings::from_map([
        ("type", "memory"),
        ("use_signer", "true"),
        ("secret_key", "a-test-secret-that-is-long-enough-0123"),
    ])
    .unwrap();
    let client = rocket::local::asynchronous::Client::untracked(app(
        SessionFairing::from_settings(settings),
    ))
    .await
    .unwrap();
    let sessions = SessionTester::new(client.rocket()).unwrap();
    let cookie = sessions.seed(&SessionMap::new()).await.unwrap();
    assert!(cookie.value().contains('.'), "signed");
    let response = client.get("/incr").cookie(cookie.clone()).dispatch().await;
    assert_eq!(response.into_string().await.unwrap(), "1");
    let stored = sessions.read_cookie(&cookie).await.unwrap().unwrap();
    assert_eq!(stored.get::<u32>("count").unwrap(), Some(1));
}

#[test]
fn the_tester_needs_an_ignited_rocket_with_the_fairing() {
    let rocket = rocket::custom(Config::debug_default()).mount("/", routes![plain]);
    let client = Client::untracked(rocket).unwrap();
    assert!(SessionTester::new(client.rocket()).is_err());
}

/// A SQLite file store with an hourly cleanup task, and the store itself to
/// watch its pool and task through.
#[cfg(feature = "sql")]
async fn sqlite_manager(dir: &std::path::Path) -> (SessionManager, session::store::sql::SqlStore) {
    let url = format!("sqlite://{}?mode=rwc", dir.join("sessions.db").display());
    let settings = Settings::from_map([
        ("type", "sqlalchemy"),
        ("sqlalchemy", url.as_str()),
        ("cleanup_interval", "3600"),
    ])
    .unwrap();
    let store = session::store::sql::SqlStore::from_settings(&settings)
        .await
        .unwrap();
    let manager = SessionManager::new(settings, Arc::new(store.clone())).unwrap();
    (manager, store)
}

#[cfg(feature = "sql")]
#[rocket::async_test]
async fn rockets_shutdown_closes_the_sql_pool_and_ends_the_cleanup_task() {
    let dir = tempfile::tempdir().unwrap();
    let (manager, store) = sqlite_manager(dir.path()).await;
    let client =
        rocket::local::asynchronous::Client::tracked(app(SessionFairing::new(manager.clone())))
            .await
            .unwrap();
    let response = client.get("/incr").dispatch().await;
    assert_eq!(response.into_string().await.unwrap(), "1");
    assert!(store.cleanup_running());
    assert!(!store.pool().is_closed());
    // What Rocket does on Ctrl-C or `Shutdown::notify`, after its grace
    // period: the shutdown fairings.
    let _rocket = client.terminate().await;
    assert!(manager.is_shut_down());
    assert!(store.pool().is_closed(), "the pool is closed");
    assert!(!store.cleanup_running(), "the cleanup task has ended");
}

#[rocket::async_test]
async fn after_a_shutdown_session_routes_answer_503_and_others_still_work() {
    let settings = Settings::from_map([("type", "memory")]).unwrap();
    let client =
        rocket::local::asynchronous::Client::tracked(app(SessionFairing::from_settings(settings)))
            .await
            .unwrap();
    let manager = client.rocket().state::<SessionManager>().unwrap().clone();
    manager.shutdown().await;
    manager.shutdown().await; // idempotent
    let response = client.get("/incr").dispatch().await;
    assert_eq!(response.status(), Status::ServiceUnavailable);
    assert!(response.headers().get_one("Set-Cookie").is_none());
    let response = client.get("/plain").dispatch().await;
    assert_eq!(response.status(), Status::Ok);
}
