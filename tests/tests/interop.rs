//! Interop with the real Flask-Session 0.8.0: a Flask app
//! (`tests/flask_app/app.py`, from the venv `scripts/services.sh` makes) and a
//! Rust demo share one store and one cookie, and each honours what the other
//! wrote.
//!
//! Test names read `backend::scenario::variant`:
//!
//! - **backends**: Redis, memcached (one server), MongoDB (the test server),
//!   SQL on an SQLite file and on PostgreSQL;
//! - **scenarios**: `flask_to_rust_to_flask` (Flask sets a rich set of values,
//!   Rust reads them all and changes one, Flask sees exactly that change),
//!   `rust_to_flask`, `login_and_flashes` (the typed helpers of
//!   `session::flask` against Flask's `flash()` and Flask-Login's keys, both
//!   ways), `regenerate_in_*` and `clear_in_*` (honoured by the other side),
//!   `permanent_false_in_*`, and `flask_write_during_rust_write` (a Flask
//!   write between a Rust load and its save survives it);
//! - **variants**: `plain` (msgpack, unsigned, permanent), `signed`
//!   (`use_signer` with the same `SECRET_KEY`), `non_permanent`
//!   (`permanent = false` on both sides), `flask_json_rust_msgpack` and
//!   `flask_msgpack_rust_json` (a different serialization format on each
//!   side).
//!
//! One Flask app and one Rust demo serve every scenario of a backend ×
//! variant pair: they start with the first of its tests and stop after the
//! last. The pair gets a key prefix, collection or table of its own, and each
//! test a session of its own, so tests run in parallel. The Rust demo
//! alternates between Poem and Rocket by variant.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use session::codec::{Codec, SerializationFormat};
use session_tests::backends::{Backend, MongoDb, Postgres};
use session_tests::demo::{DemoApp, Framework};
use session_tests::flask::FlaskApp;
use session_tests::http::{Client, Response};
use session_tests::kv_servers::{unique_prefix, MEMCACHED, REDIS};

/// `SECRET_KEY` on both sides.
const SECRET: &str = "interop-secret-key-shared-by-flask-and-rust";
/// `PERMANENT_SESSION_LIFETIME` on both sides: Flask's default, 31 days, above
/// memcached's 30-day relative limit.
const LIFETIME_SECS: u64 = 31 * 86_400;
/// The key prefix of the backends whose namespace is already per group.
const PREFIX: &str = "interop:";

/// A shared backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Store {
    Redis,
    Memcached,
    MongoDb,
    Sqlite,
    Postgres,
}

/// How the two apps are configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Variant {
    Plain,
    Signed,
    NonPermanent,
    FlaskJsonRustMsgpack,
    FlaskMsgpackRustJson,
}

impl Variant {
    fn framework(self) -> Framework {
        match self {
            Self::Plain | Self::FlaskJsonRustMsgpack => Framework::Poem,
            Self::Signed | Self::NonPermanent | Self::FlaskMsgpackRustJson => Framework::Rocket,
        }
    }

    fn permanent(self) -> bool {
        self != Self::NonPermanent
    }

    fn signed(self) -> bool {
        self == Self::Signed
    }

    fn flask_format(self) -> &'static str {
        match self {
            Self::FlaskJsonRustMsgpack => "json",
            _ => "msgpack",
        }
    }

    fn rust_format(self) -> &'static str {
        match self {
            Self::FlaskMsgpackRustJson => "json",
            _ => "msgpack",
        }
    }

    /// Whether the Flask app starts first and so, on SQL, creates the table
    /// (Flask-Session's own layout) that Rust then uses; otherwise Rust
    /// creates it and Flask uses Rust's.
    fn flask_first(self) -> bool {
        matches!(
            self,
            Self::Plain | Self::NonPermanent | Self::FlaskJsonRustMsgpack
        )
    }

    /// Flask's view of the session after Rust rewrote it: msgspec's JSON view
    /// when Rust writes JSON over Flask's msgpack (the documented losses:
    /// bytes become base64 text, datetimes RFC 3339 text), else unchanged.
    fn rust_rewrite_is_lossy(self) -> bool {
        self == Self::FlaskMsgpackRustJson
    }
}

/// The Flask app and the Rust demo of one backend × variant.
struct Group {
    flask: FlaskApp,
    rust: DemoApp,
    variant: Variant,
    /// The SQLite database's directory.
    _db_dir: Option<tempfile::TempDir>,
}

/// The two configurations of one store: the Rust demo's `Session.toml` lines
/// and the Flask app's environment.
fn store_config(store: Store, db_dir: Option<&Path>) -> (String, Vec<(&'static str, String)>) {
    match store {
        Store::Redis => {
            let prefix = unique_prefix("interop");
            (
                format!(
                    "type = \"redis\"\nredis = [\"redis://{REDIS}\"]\nkey_prefix = \"{prefix}\"\n"
                ),
                vec![
                    ("SESSION_TYPE", "redis".into()),
                    ("SESSION_REDIS", format!("redis://{REDIS}")),
                    ("SESSION_KEY_PREFIX", prefix),
                ],
            )
        }
        Store::Memcached => {
            let prefix = unique_prefix("interop");
            (
                format!("type = \"memcached\"\nmemcached = [\"{MEMCACHED}\"]\nkey_prefix = \"{prefix}\"\n"),
                vec![
                    ("SESSION_TYPE", "memcached".into()),
                    ("SESSION_MEMCACHED", MEMCACHED.into()),
                    ("SESSION_KEY_PREFIX", prefix),
                ],
            )
        }
        Store::MongoDb => {
            // The conformance backend's unique collection and timeouts.
            let toml = MongoDb.session_toml(&format!("key_prefix = \"{PREFIX}\"\n"));
            let env = vec![
                ("SESSION_TYPE", "mongodb".into()),
                ("SESSION_MONGODB", setting(&toml, "mongodb")),
                ("SESSION_MONGODB_DB", setting(&toml, "mongodb_db")),
                ("SESSION_MONGODB_COLLECT", setting(&toml, "mongodb_collect")),
                ("SESSION_KEY_PREFIX", PREFIX.into()),
            ];
            (toml, env)
        }
        Store::Sqlite => {
            let file = db_dir.unwrap().join("sessions.db");
            let table = "flask_sessions";
            (
                format!(
                    "type = \"sqlalchemy\"\nsqlalchemy = \"sqlite://{}?mode=rwc\"\nsqlalchemy_table = \"{table}\"\nkey_prefix = \"{PREFIX}\"\noperation_timeout = 10\n",
                    file.display()
                ),
                vec![
                    ("SESSION_TYPE", "sqlalchemy".into()),
                    ("SESSION_SQLALCHEMY", format!("sqlite:///{}", file.display())),
                    ("SESSION_SQLALCHEMY_TABLE", table.into()),
                    ("SESSION_KEY_PREFIX", PREFIX.into()),
                ],
            )
        }
        Store::Postgres => {
            // The conformance backend's database, unique table and timeouts.
            let toml = Postgres.session_toml(&format!("key_prefix = \"{PREFIX}\"\n"));
            let url = setting(&toml, "sqlalchemy");
            let url = url
                .strip_prefix("postgres://")
                .map(|rest| format!("postgresql+psycopg2://{rest}"))
                .unwrap_or(url);
            let env = vec![
                ("SESSION_TYPE", "sqlalchemy".into()),
                ("SESSION_SQLALCHEMY", url),
                (
                    "SESSION_SQLALCHEMY_TABLE",
                    setting(&toml, "sqlalchemy_table"),
                ),
                ("SESSION_KEY_PREFIX", PREFIX.into()),
            ];
            (toml, env)
        }
    }
}

/// A quoted `key = "value"` line of a `Session.toml`.
fn setting(toml: &str, key: &str) -> String {
    toml.lines()
        .find_map(|line| line.strip_prefix(&format!("{key} = ")))
        .map(|quoted| quoted.trim_matches('"').to_owned())
        .unwrap_or_else(|| panic!("no {key} in {toml}"))
}

impl Group {
    fn start(store: Store, variant: Variant) -> Self {
        let db_dir = (store == Store::Sqlite).then(|| tempfile::tempdir().unwrap());
        let (mut toml, mut env) = store_config(store, db_dir.as_ref().map(|d| d.path()));
        toml.push_str(&format!(
            "permanent_session_lifetime = {LIFETIME_SECS}\npermanent = {}\nserialization_format = \"{}\"\n",
            variant.permanent(),
            variant.rust_format()
        ));
        env.extend([
            ("PERMANENT_SESSION_LIFETIME", LIFETIME_SECS.to_string()),
            ("SESSION_PERMANENT", variant.permanent().to_string()),
            (
                "SESSION_SERIALIZATION_FORMAT",
                variant.flask_format().into(),
            ),
            ("SECRET_KEY", SECRET.into()),
        ]);
        if variant.signed() {
            toml.push_str(&format!("use_signer = true\nsecret_key = \"{SECRET}\"\n"));
            env.push(("SESSION_USE_SIGNER", "true".into()));
        }
        let start_rust = || DemoApp::start(variant.framework(), &toml, &[]);
        let (flask, rust) = if variant.flask_first() {
            let flask = FlaskApp::start(&env);
            (flask, start_rust())
        } else {
            let rust = start_rust();
            (FlaskApp::start(&env), rust)
        };
        let mut dirs = vec![rust.dir.path()];
        dirs.extend(db_dir.as_ref().map(|d| d.path()));
        flask.reap_with_me(&[rust.pid()], &dirs);
        Self {
            flask,
            rust,
            variant,
            _db_dir: db_dir,
        }
    }
}

/// After its last scenario, a group empties its namespace in the store (see
/// the Flask app's `/cleanup`) before its processes stop.
impl Drop for Group {
    fn drop(&mut self) {
        let _ = self.flask.client().send("POST", "/cleanup", "");
    }
}

/// How many scenarios each group serves: it stops after the last.
const SCENARIOS: usize = 11;

struct Slot {
    group: Option<Arc<Group>>,
    finished: usize,
}

static GROUPS: Mutex<Option<HashMap<(Store, Variant), Slot>>> = Mutex::new(None);

/// Counts a finished scenario, even a failed one, and releases the group
/// after its last.
struct Finished((Store, Variant));

impl Drop for Finished {
    fn drop(&mut self) {
        let mut groups = GROUPS.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(slot) = groups.as_mut().and_then(|g| g.get_mut(&self.0)) {
            slot.finished += 1;
            if slot.finished >= SCENARIOS {
                slot.group = None;
            }
        }
    }
}

/// Runs one scenario on the group of `store` × `variant`, starting it if this
/// is its first scenario.
fn run(store: Store, variant: Variant, scenario: fn(&Group)) {
    let _finished = Finished((store, variant));
    let group = {
        let mut groups = GROUPS.lock().unwrap_or_else(|e| e.into_inner());
        let slot = groups
            .get_or_insert_with(HashMap::new)
            .entry((store, variant))
            .or_insert(Slot {
                group: None,
                finished: 0,
            });
        match &slot.group {
            Some(group) => group.clone(),
            None => {
                let group = Arc::new(Group::start(store, variant));
                slot.group = Some(group.clone());
                group
            }
        }
    };
    scenario(&group);
}

/// A browser's cookie jar, carried between the Flask app and the Rust demo as
/// if both served one site.
#[derive(Debug, Clone, Default)]
struct Browser {
    cookie: Option<String>,
}

/// Which app a request goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Flask,
    Rust,
}

impl Group {
    fn send(
        &self, side: Side, browser: &mut Browser, method: &str, path: &str, body: &str,
    ) -> Response {
        let port = match side {
            Side::Flask => self.flask.port(),
            Side::Rust => self.rust.port(),
        };
        let mut client = Client::new(port);
        client.cookie = browser.cookie.clone();
        let response = client
            .send(method, path, body)
            .unwrap_or_else(|e| panic!("{side:?} {method} {path}: {e}"));
        browser.cookie = client.cookie;
        if response.status >= 500 && side == Side::Flask {
            panic!(
                "Flask {method} {path}: {}\n{}\n{}",
                response.status,
                response.body,
                self.flask.log()
            );
        }
        self.check_cookie(side, &response);
        response
    }

    /// Every session cookie either side sets is signed exactly when the
    /// signer is on, and has `Expires` exactly when the session is permanent
    /// (callers check the non-permanent sessions of permanent variants).
    fn check_cookie(&self, side: Side, response: &Response) {
        let Some(cookie) = response.session_cookie() else {
            return;
        };
        if cookie.contains("Max-Age=0") {
            return;
        }
        let value = cookie
            .split(';')
            .next()
            .and_then(|pair| pair.strip_prefix("session="))
            .unwrap();
        assert_eq!(
            value.contains('.'),
            self.variant.signed(),
            "{side:?} cookie {cookie}"
        );
        if !self.variant.permanent() {
            assert!(!cookie.contains("Expires="), "{side:?} cookie {cookie}");
        }
    }

    fn ok(
        &self, side: Side, browser: &mut Browser, method: &str, path: &str, body: &str,
    ) -> Response {
        let response = self.send(side, browser, method, path, body);
        assert!(
            matches!(response.status, 200 | 204),
            "{side:?} {method} {path}: {} {}",
            response.status,
            response.body
        );
        response
    }

    fn flask(&self, browser: &mut Browser, method: &str, path: &str, body: &str) -> Response {
        self.ok(Side::Flask, browser, method, path, body)
    }

    fn rust(&self, browser: &mut Browser, method: &str, path: &str, body: &str) -> Response {
        self.ok(Side::Rust, browser, method, path, body)
    }

    /// Flask's JSON dump of the session, exactly as it printed it.
    fn flask_dump(&self, browser: &mut Browser) -> String {
        self.flask(browser, "GET", "/dump", "").body
    }

    /// The stored record of the browser's session, as the Flask app's own
    /// client reads it from the store; `None` when there is none.
    fn raw_record(&self, browser: &Browser) -> Option<Vec<u8>> {
        let mut probe = browser.clone();
        let response = self.send(Side::Flask, &mut probe, "GET", "/raw", "");
        match response.status {
            200 => Some(hex(&response.body)),
            404 => None,
            other => panic!("/raw: {other} {}", response.body),
        }
    }
}

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// The value of `key` in the Rust demo's `GET /kv/{key}`, parsed like `want`.
fn rust_value(group: &Group, browser: &mut Browser, key: &str, want: &Value) -> Value {
    let body = group.rust(browser, "GET", &format!("/kv/{key}"), "").body;
    match want {
        Value::String(_) => Value::String(body),
        _ => json(&body),
    }
}

/// Whether a stored record is msgpack (a map header) rather than JSON text.
fn is_msgpack(record: &[u8]) -> bool {
    matches!(record.first(), Some(0x80..=0x8f | 0xde | 0xdf))
}

/// Flask sets a rich set of values (every msgpack int width, large and
/// negative ints, floats, bools, None, lists, nested dicts, bytes, a
/// timestamp, three `flash()` messages, Flask-Login's keys). The Rust demo,
/// holding the same cookie, reads every key, then changes one. Flask then
/// reads exactly that change, every other key as it was; with msgpack on both
/// sides, every untouched key is byte-identical in the store.
fn flask_to_rust_to_flask(g: &Group) {
    let mut browser = Browser::default();
    g.flask(&mut browser, "POST", "/rich?extended=1", "");
    assert!(browser.cookie.is_some(), "Flask set a cookie");
    let before = g.flask_dump(&mut browser);
    let lossy = g.flask(&mut browser, "GET", "/dump?lossy=1", "").body;
    let flask_record = g.raw_record(&browser).expect("Flask stored the session");
    assert_eq!(
        is_msgpack(&flask_record),
        g.variant.flask_format() == "msgpack"
    );

    // Rust reads every key as msgspec's JSON would show it.
    let Value::Object(expected) = json(&lossy) else {
        panic!("{lossy}")
    };
    assert!(expected.len() > 30, "{lossy}");
    assert_eq!(expected.contains_key("_permanent"), g.variant.permanent());
    for (key, want) in &expected {
        let got = rust_value(g, &mut browser, key, want);
        assert_eq!(got.to_string(), want.to_string(), "key {key}");
    }
    let login = json(&g.rust(&mut browser, "GET", "/flask/login", "").body);
    assert_eq!(login["user_id"], "42");
    assert_eq!(login["fresh"], true);
    assert_eq!(login["id"], "ab".repeat(64));

    // Rust changes one key.
    g.rust(&mut browser, "PUT", "/kv/greeting", "changed by rust");
    let rust_record = g.raw_record(&browser).expect("Rust stored the session");
    assert_eq!(
        is_msgpack(&rust_record),
        g.variant.rust_format() == "msgpack"
    );
    if is_msgpack(&flask_record) && is_msgpack(&rust_record) {
        let codec = Codec::new(SerializationFormat::MsgPack, 1 << 20);
        let (flask_map, _) = codec.decode(&flask_record).unwrap();
        let (rust_map, _) = codec.decode(&rust_record).unwrap();
        // Flask's `_user_id` is an owner: the Rust save also indexed the
        // session, and says so in `_owner_indexed`, after the rest.
        let mut flask_keys: Vec<_> = flask_map.keys().collect();
        flask_keys.push("_owner_indexed");
        let rust_keys: Vec<_> = rust_map.keys().collect();
        assert_eq!(rust_keys, flask_keys, "same keys, same order");
        for (key, raw) in flask_map.iter_raw().filter(|(k, _)| *k != "greeting") {
            assert_eq!(
                rust_map.get_raw(key),
                Some(raw),
                "key {key} is byte-identical"
            );
        }
    }

    // Flask sees the change, and every other key exactly as before.
    let base = if g.variant.rust_rewrite_is_lossy() {
        &lossy
    } else {
        &before
    };
    assert_eq!(base.matches(r#""greeting":"hello""#).count(), 1, "{base}");
    let want = base.replacen(
        r#""greeting":"hello""#,
        r#""greeting":"changed by rust""#,
        1,
    );
    let want = format!(
        "{},\"_owner_indexed\":\"42\"}}",
        want.strip_suffix('}').expect("a JSON object")
    );
    assert_eq!(g.flask_dump(&mut browser), want);

    // And the other way again.
    g.flask(&mut browser, "PUT", "/kv/greeting", "back in flask");
    assert_eq!(
        g.rust(&mut browser, "GET", "/kv/greeting", "").body,
        "back in flask"
    );
}

/// The Rust demo creates the session (strings, a counter, a flash and a
/// login through the typed helpers); Flask reads exactly that, and both keep
/// working on it.
fn rust_to_flask(g: &Group) {
    let mut browser = Browser::default();
    let created = g.rust(&mut browser, "PUT", "/kv/name", "ada");
    assert!(created.session_cookie().is_some());
    g.rust(
        &mut browser,
        "PUT",
        "/kv/unicode",
        "h\u{e9}llo \u{2713} \u{1f600}",
    );
    g.rust(&mut browser, "GET", "/incr", "");
    assert_eq!(g.rust(&mut browser, "GET", "/incr", "").body, "2");
    g.rust(&mut browser, "POST", "/flask/flash/info", "from rust");
    g.rust(&mut browser, "POST", "/flask/login/u-99", "");
    let record = g.raw_record(&browser).expect("Rust stored the session");
    assert_eq!(is_msgpack(&record), g.variant.rust_format() == "msgpack");

    let permanent = if g.variant.permanent() {
        r#""_permanent":true,"#
    } else {
        ""
    };
    let want = format!(
        r#"{{{permanent}"name":"ada","unicode":"h\u00e9llo \u2713 \ud83d\ude00","count":2,"_flashes":[["info","from rust"]],"_user_id":"u-99","_fresh":true,"_owner_indexed":"u-99"}}"#
    );
    assert_eq!(g.flask_dump(&mut browser), want);
    assert_eq!(
        g.flask(&mut browser, "GET", "/flashes", "").body,
        r#"[["info","from rust"]]"#
    );
    assert_eq!(
        g.flask(&mut browser, "GET", "/kv/_user_id", "").body,
        "u-99"
    );

    // Flask's get_flashed_messages took the flash; the rest is Rust's.
    let gone = g.send(Side::Rust, &mut browser, "GET", "/kv/_flashes", "");
    assert_eq!(gone.status, 404);
    assert_eq!(g.rust(&mut browser, "GET", "/read", "").body, "2");
    g.flask(&mut browser, "PUT", "/kv/from_flask", "hi");
    assert_eq!(g.rust(&mut browser, "GET", "/kv/from_flask", "").body, "hi");
    assert_eq!(g.rust(&mut browser, "GET", "/incr", "").body, "3");
    assert_eq!(g.flask(&mut browser, "GET", "/kv/count", "").body, "3");
}

/// Flask-Login's keys and flashed messages, through `FlaskLogin`, `flash` and
/// `take_flashes`, both ways.
fn login_and_flashes(g: &Group) {
    let mut browser = Browser::default();
    g.flask(&mut browser, "POST", "/login/u-17", "");
    g.flask(&mut browser, "POST", "/flash/info", "saved");
    g.flask(&mut browser, "POST", "/flash/error", "bad");

    let login = json(&g.rust(&mut browser, "GET", "/flask/login", "").body);
    assert_eq!(
        login,
        serde_json::json!({"user_id": "u-17", "fresh": true, "id": "cd".repeat(64)})
    );
    assert_eq!(
        g.rust(&mut browser, "GET", "/flask/flashes", "").body,
        r#"[["info","saved"],["error","bad"]]"#
    );
    assert_eq!(g.flask(&mut browser, "GET", "/flashes", "").body, "[]");

    g.rust(&mut browser, "POST", "/flask/flash/warning", "from rust");
    g.rust(&mut browser, "POST", "/flask/logout", "");
    let dump = json(&g.flask_dump(&mut browser));
    for key in ["_user_id", "_fresh", "_id"] {
        assert!(dump.get(key).is_none(), "{key} in {dump}");
    }
    assert_eq!(
        g.flask(&mut browser, "GET", "/flashes", "").body,
        r#"[["warning","from rust"]]"#
    );

    g.rust(&mut browser, "POST", "/flask/login/u-18", "");
    assert_eq!(
        g.flask(&mut browser, "GET", "/kv/_user_id", "").body,
        "u-18"
    );
    assert_eq!(g.flask(&mut browser, "GET", "/kv/_fresh", "").body, "true");
    assert_eq!(
        json(&g.rust(&mut browser, "GET", "/flask/flashes", "").body),
        serde_json::json!([])
    );
}

/// Owners across the two apps (design §12): a session the real Flask-Login
/// logged in is listed under its owner once the Rust app has saved it; a
/// session the Rust app logged in is logged in for Flask-Login's
/// `current_user`.
fn owners_both_ways(g: &Group) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let user = format!("owner-{}-{nanos}", std::process::id());
    let mut browser = Browser::default();
    assert_eq!(
        g.flask(
            &mut browser,
            "POST",
            &format!("/flask-login/login/{user}"),
            ""
        )
        .status,
        204
    );
    assert_eq!(
        g.flask(&mut browser, "GET", "/flask-login/whoami", "").body,
        user
    );
    assert_eq!(g.rust(&mut browser, "GET", "/whoami", "").body, user);
    // Not indexed yet: Flask-Login wrote `_user_id` only.
    assert_eq!(
        json(&g.rust(&mut browser, "GET", "/sessions", "").body),
        serde_json::json!([])
    );
    // The Rust app's first save indexes it.
    assert_eq!(g.rust(&mut browser, "PUT", "/kv/k", "v").status, 204);
    let listed = json(&g.rust(&mut browser, "GET", "/sessions", "").body);
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(listed[0]["current"], true, "{listed}");
    // Flask keeps the marker and the rest through its own write.
    g.flask(&mut browser, "PUT", "/kv/from_flask", "x");
    assert_eq!(
        g.flask(&mut browser, "GET", "/flask-login/whoami", "").body,
        user
    );
    assert_eq!(
        json(&g.rust(&mut browser, "GET", "/sessions", "").body)
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    // The other way: the Rust login is Flask-Login's current_user.
    let mut browser = Browser::default();
    let rust_user = format!("{user}-rust");
    assert_eq!(
        g.rust(&mut browser, "POST", &format!("/login/{rust_user}"), "")
            .status,
        204
    );
    assert_eq!(
        g.flask(&mut browser, "GET", "/flask-login/whoami", "").body,
        rust_user
    );
    assert_eq!(g.rust(&mut browser, "POST", "/logout", "").status, 204);
    assert_eq!(
        g.send(Side::Flask, &mut browser, "GET", "/flask-login/whoami", "")
            .status,
        401
    );
}

/// The side that did not regenerate or clear: it no longer finds the session
/// under the old cookie, and the old record is gone from the store.
fn assert_gone(g: &Group, other: Side, old: &Browser) {
    assert_eq!(g.raw_record(old), None, "the old record is deleted");
    let mut stale = old.clone();
    match other {
        Side::Rust => {
            let response = g.send(Side::Rust, &mut stale, "GET", "/kv/k", "");
            assert_eq!(response.status, 404);
            // Rust answers a stale cookie with a deletion cookie.
            assert!(stale.cookie.is_none(), "{:?}", response.session_cookie());
        }
        Side::Flask => {
            assert_eq!(
                g.send(Side::Flask, &mut stale, "GET", "/kv/k", "").status,
                404
            );
            // A new session: only the `_permanent` Flask gives new sessions.
            let empty = if g.variant.permanent() {
                r#"{"_permanent":true}"#
            } else {
                "{}"
            };
            assert_eq!(g.flask_dump(&mut stale), empty);
        }
    }
}

fn other(side: Side) -> Side {
    match side {
        Side::Flask => Side::Rust,
        Side::Rust => Side::Flask,
    }
}

/// `regenerate()` on one side: the other side finds the data under the new
/// cookie only.
fn regenerate_in(g: &Group, side: Side) {
    let mut browser = Browser::default();
    g.ok(side, &mut browser, "PUT", "/kv/k", "v");
    g.ok(other(side), &mut browser, "PUT", "/kv/k2", "w");
    let old = browser.clone();
    let response = g.ok(side, &mut browser, "POST", "/regenerate", "");
    assert!(response.session_cookie().is_some());
    assert_ne!(browser.cookie, old.cookie, "a new sid");
    assert!(browser.cookie.is_some());
    assert_gone(g, other(side), &old);
    for side in [Side::Flask, Side::Rust] {
        assert_eq!(g.ok(side, &mut browser, "GET", "/kv/k", "").body, "v");
        assert_eq!(g.ok(side, &mut browser, "GET", "/kv/k2", "").body, "w");
    }
}

fn regenerate_in_flask(g: &Group) {
    regenerate_in(g, Side::Flask);
}

fn regenerate_in_rust(g: &Group) {
    regenerate_in(g, Side::Rust);
}

/// `clear()` on one side deletes the record and the cookie; the other side
/// no longer finds the session.
fn clear_in(g: &Group, side: Side) {
    let mut browser = Browser::default();
    g.ok(other(side), &mut browser, "PUT", "/kv/k", "v");
    assert_eq!(g.ok(side, &mut browser, "GET", "/kv/k", "").body, "v");
    let old = browser.clone();
    let response = g.ok(side, &mut browser, "POST", "/clear", "");
    let deletion = response.session_cookie().expect("a deletion cookie");
    assert!(deletion.contains("Max-Age=0"), "{deletion}");
    assert!(browser.cookie.is_none());
    assert_gone(g, other(side), &old);
}

/// A Flask write that lands between a Rust request's load and its save
/// survives the Rust save: the Rust request's own change is merged onto it
/// (`write_mode = "merge"`, the default).
fn flask_write_during_rust_write(g: &Group) {
    let mut browser = Browser::default();
    g.flask(&mut browser, "PUT", "/kv/a", "1");
    let cookie = browser.cookie.clone().expect("Flask set a session cookie");
    let rust_port = g.rust.port();
    let late = std::thread::scope(|scope| {
        let slow = scope.spawn(|| {
            let mut client = Client::new(rust_port);
            client.cookie = Some(cookie.clone());
            client.put("/kv/r?delay_ms=1500", "rust")
        });
        std::thread::sleep(std::time::Duration::from_millis(250));
        let mut flask_tab = Browser {
            cookie: Some(cookie.clone()),
        };
        g.flask(&mut flask_tab, "PUT", "/kv/f", "flask");
        slow.join().expect("the slow Rust request")
    });
    assert_eq!(late.status, 204, "{}", late.body);
    assert_eq!(
        g.flask(&mut browser, "GET", "/kv/f", "").body,
        "flask",
        "Flask's write was lost"
    );
    assert_eq!(g.flask(&mut browser, "GET", "/kv/r", "").body, "rust");
    assert_eq!(g.flask(&mut browser, "GET", "/kv/a", "").body, "1");
}

fn clear_in_flask(g: &Group) {
    clear_in(g, Side::Flask);
}

fn clear_in_rust(g: &Group) {
    clear_in(g, Side::Rust);
}

/// One side makes the session non-permanent: the other side stores and reads
/// `_permanent = false`, sets cookies without `Expires`, and stops refreshing
/// the cookie of a session it only reads.
fn permanent_false_in(g: &Group, side: Side) {
    let mut browser = Browser::default();
    let first = g.ok(other(side), &mut browser, "PUT", "/kv/k", "v");
    let cookie = first.session_cookie().unwrap();
    assert_eq!(
        cookie.contains("Expires="),
        g.variant.permanent(),
        "{cookie}"
    );
    let response = g.ok(side, &mut browser, "POST", "/permanent/false", "");
    let cookie = response.session_cookie().expect("a cookie for the change");
    assert!(!cookie.contains("Expires="), "{cookie}");

    let read = g.ok(other(side), &mut browser, "GET", "/kv/k", "");
    assert_eq!(read.body, "v");
    assert!(
        read.session_cookie().is_none(),
        "{:?} refreshed a non-permanent cookie: {:?}",
        other(side),
        read.session_cookie()
    );
    let write = g.ok(other(side), &mut browser, "PUT", "/kv/k2", "w");
    let cookie = write.session_cookie().expect("a cookie for the write");
    assert!(!cookie.contains("Expires="), "{cookie}");
    let dump = json(&g.flask_dump(&mut browser));
    assert_eq!(dump["_permanent"], false, "{dump}");
    assert_eq!(dump["k2"], "w", "{dump}");
    assert_eq!(
        g.rust(&mut browser, "GET", "/kv/_permanent", "").body,
        "false"
    );
}

fn permanent_false_in_flask(g: &Group) {
    permanent_false_in(g, Side::Flask);
}

fn permanent_false_in_rust(g: &Group) {
    permanent_false_in(g, Side::Rust);
}

/// One test per variant of a scenario on a backend.
macro_rules! variants {
    ($scenario:ident, $store:expr) => {
        mod $scenario {
            use super::super::{run, Store, Variant};

            #[test]
            #[ignore = "needs live servers: run scripts/test.sh"]
            fn plain() {
                run($store, Variant::Plain, super::super::$scenario);
            }
            #[test]
            #[ignore = "needs live servers: run scripts/test.sh"]
            fn signed() {
                run($store, Variant::Signed, super::super::$scenario);
            }
            #[test]
            #[ignore = "needs live servers: run scripts/test.sh"]
            fn non_permanent() {
                run($store, Variant::NonPermanent, super::super::$scenario);
            }
            #[test]
            #[ignore = "needs live servers: run scripts/test.sh"]
            fn flask_json_rust_msgpack() {
                run(
                    $store,
                    Variant::FlaskJsonRustMsgpack,
                    super::super::$scenario,
                );
            }
            #[test]
            #[ignore = "needs live servers: run scripts/test.sh"]
            fn flask_msgpack_rust_json() {
                run(
                    $store,
                    Variant::FlaskMsgpackRustJson,
                    super::super::$scenario,
                );
            }
        }
    };
}

/// Every scenario × variant on a backend ([`SCENARIOS`] scenarios).
macro_rules! backend {
    ($module:ident, $store:expr) => {
        mod $module {
            variants!(flask_to_rust_to_flask, $store);
            variants!(rust_to_flask, $store);
            variants!(login_and_flashes, $store);
            variants!(regenerate_in_flask, $store);
            variants!(regenerate_in_rust, $store);
            variants!(clear_in_flask, $store);
            variants!(clear_in_rust, $store);
            variants!(permanent_false_in_flask, $store);
            variants!(permanent_false_in_rust, $store);
            variants!(flask_write_during_rust_write, $store);
            variants!(owners_both_ways, $store);
        }
    };
}

backend!(redis, Store::Redis);
backend!(memcached, Store::Memcached);
backend!(mongodb, Store::MongoDb);
backend!(sqlite, Store::Sqlite);
backend!(postgres, Store::Postgres);
