//! Security tests (issue 10): session fixation, forged and re-signed cookies,
//! secret rotation, `__Host-` cookie attributes, and what reaches the logs.
//!
//! A light test binary: it links only `session` and its dev-dependencies.
//! Every test runs against the in-process memory store, behind a wrapper that
//! records which keys reach it.

#![allow(clippy::unwrap_used)]

use std::collections::BTreeSet;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use session::config::{ConfigError, RuleKind, Secret, SerializationFormat, SessionType};
use session::signing::Signer;
use session::store::memory::MemoryStore;
use session::{
    SaveHint, SessionId, SessionManager, SessionMap, SessionStore, Settings, StoreError,
};

const SECRET: &str = "the-current-secret-key-0123456789abcdef";
const PREFIX: &str = "session:";

/// The memory store, recording every key that reaches it.
#[derive(Default)]
struct Recording {
    inner: MemoryStore,
    ops: Mutex<Vec<(&'static str, String)>>,
}

impl Recording {
    fn ops(&self) -> Vec<(&'static str, String)> {
        self.ops.lock().unwrap().clone()
    }
    fn reads(&self) -> usize {
        self.ops().iter().filter(|(op, _)| *op == "load").count()
    }
    fn clear_ops(&self) {
        self.ops.lock().unwrap().clear();
    }
    fn has(&self, sid: &str) -> bool {
        self.inner.get_raw(&format!("{PREFIX}{sid}")).is_some()
    }
    fn record(&self, op: &'static str, key: &str) {
        self.ops.lock().unwrap().push((op, key.to_owned()));
    }
}

#[async_trait]
impl SessionStore for Recording {
    fn backend(&self) -> &'static str {
        "recording-memory"
    }
    async fn load(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.record("load", key);
        self.inner.load(key).await
    }
    async fn load_and_touch(
        &self, key: &str, ttl: Duration,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        self.record("load", key);
        self.inner.load_and_touch(key, ttl).await
    }
    async fn save(
        &self, key: &str, value: &[u8], ttl: Duration, hint: SaveHint,
    ) -> Result<(), StoreError> {
        self.record("save", key);
        self.inner.save(key, value, ttl, hint).await
    }
    async fn save_if_unchanged(
        &self, key: &str, expected: &[u8], value: &[u8], ttl: Duration,
    ) -> Result<session::WriteOutcome, StoreError> {
        self.record("save", key);
        self.inner
            .save_if_unchanged(key, expected, value, ttl)
            .await
    }
    async fn insert_new(
        &self, key: &str, value: &[u8], ttl: Duration,
    ) -> Result<session::WriteOutcome, StoreError> {
        self.record("save", key);
        self.inner.insert_new(key, value, ttl).await
    }
    async fn touch(&self, key: &str, ttl: Duration) -> Result<(), StoreError> {
        self.record("touch", key);
        self.inner.touch(key, ttl).await
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.record("delete", key);
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

fn settings(signed: bool) -> Settings {
    let mut settings = Settings::default();
    settings.session_type = SessionType::Memory;
    settings.use_signer = signed;
    settings.secret_key = signed.then(|| Secret::new(SECRET));
    settings
}

fn manager_over(settings: Settings, store: &Arc<Recording>) -> SessionManager {
    SessionManager::new(settings, store.clone()).unwrap()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// `name=value` of a Set-Cookie, as a browser sends it back.
fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().trim().to_owned()
}

/// The value of a Set-Cookie or `name=value` pair.
fn value_of(cookie: &str) -> String {
    pair(cookie).split_once('=').unwrap().1.to_owned()
}

/// The sid of a cookie value, signed or not.
fn sid_of(cookie: &str) -> String {
    let value = value_of(cookie);
    value.split('.').next().unwrap().to_owned()
}

/// A stored session holding `user = ada`; returns its cookie pair.
async fn seed(manager: &SessionManager) -> String {
    let request = manager.open([]);
    request.load().await.unwrap().insert("user", "ada").unwrap();
    pair(&request.finish(200).await.unwrap().set_cookie.unwrap())
}

fn sign_with(secret: &str, sid: &str) -> String {
    Signer::new(secret, []).sign(&SessionId::parse(sid).unwrap())
}

// ------------------------------------------------------------ fixation ----

#[test]
fn a_client_chosen_sid_is_never_adopted() {
    runtime().block_on(async {
        for signed in [false, true] {
            let store = Arc::new(Recording::default());
            let manager = manager_over(settings(signed), &store);
            let chosen = "AttackerChosenSid_0123456789abcdefghijklmno";
            assert!(SessionId::parse(chosen).is_some(), "well-formed");
            // Even a validly signed cookie (say, an attacker's own expired
            // session) for a sid the store does not hold is not adopted.
            let value = if signed {
                sign_with(SECRET, chosen)
            } else {
                chosen.to_owned()
            };
            let request = manager.open([format!("session={value}").as_bytes()]);
            let session = request.load().await.unwrap();
            assert!(session.is_empty());
            session.insert("user", "victim").unwrap();
            let set_cookie = request.finish(200).await.unwrap().set_cookie.unwrap();

            let new_sid = sid_of(&set_cookie);
            assert_ne!(new_sid, chosen, "signed: {signed}");
            assert!(store.has(&new_sid));
            assert!(!store.has(chosen), "the client's key was written");
            let written: Vec<_> = store
                .ops()
                .into_iter()
                .filter(|(op, key)| *op != "load" && key.contains(chosen))
                .collect();
            assert!(written.is_empty(), "{written:?}");
        }
    });
}

#[test]
fn an_expired_sid_is_not_revived() {
    runtime().block_on(async {
        let store = Arc::new(Recording::default());
        let manager = manager_over(settings(false), &store);
        let cookie = seed(&manager).await;
        let sid = sid_of(&cookie);
        let key = format!("{PREFIX}{sid}");
        let raw = store.inner.get_raw(&key).unwrap();
        store
            .inner
            .save(&key, &raw, Duration::from_millis(1), SaveHint::Existing)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;

        let request = manager.open([cookie.as_bytes()]);
        let session = request.load().await.unwrap();
        assert_eq!(session.get::<String>("user").unwrap(), None);
        session.insert("user", "mallory").unwrap();
        let set_cookie = request.finish(200).await.unwrap().set_cookie.unwrap();
        assert_ne!(sid_of(&set_cookie), sid);
        assert!(!store.has(&sid));
    });
}

#[test]
fn regenerate_invalidates_the_old_sid_in_the_store() {
    runtime().block_on(async {
        for signed in [false, true] {
            let store = Arc::new(Recording::default());
            let manager = manager_over(settings(signed), &store);
            let before_login = seed(&manager).await;
            let old_sid = sid_of(&before_login);

            // Log in: new sid, same data.
            let request = manager.open([before_login.as_bytes()]);
            let session = request.load().await.unwrap();
            session.insert("role", "admin").unwrap();
            session.regenerate().unwrap();
            let after_login = pair(&request.finish(200).await.unwrap().set_cookie.unwrap());
            let new_sid = sid_of(&after_login);
            assert_ne!(new_sid, old_sid);
            assert!(!store.has(&old_sid), "the old sid still names a record");
            assert!(store.has(&new_sid));

            // The old cookie now opens an empty session, and using it does not
            // bring the old key back.
            let request = manager.open([before_login.as_bytes()]);
            let session = request.load().await.unwrap();
            assert_eq!(session.get::<String>("user").unwrap(), None);
            assert_eq!(session.get::<String>("role").unwrap(), None);
            session.insert("x", &1).unwrap();
            let set_cookie = request.finish(200).await.unwrap().set_cookie.unwrap();
            assert_ne!(sid_of(&set_cookie), old_sid);
            assert!(!store.has(&old_sid));

            // The new cookie carries the data.
            let request = manager.open([after_login.as_bytes()]);
            let session = request.load().await.unwrap();
            assert_eq!(
                session.get::<String>("user").unwrap().as_deref(),
                Some("ada")
            );
            assert_eq!(
                session.get::<String>("role").unwrap().as_deref(),
                Some("admin")
            );

            // The admin operation invalidates too.
            let moved = manager.regenerate_by_id(&new_sid).await.unwrap().unwrap();
            assert_ne!(moved.expose(), new_sid);
            assert!(!store.has(&new_sid));
            assert!(store.has(moved.expose()));
            assert!(manager.load_by_id(&new_sid).await.unwrap().is_none());
        }
    });
}

// ------------------------------------------------------ forged cookies ----

#[test]
fn forged_and_re_signed_cookies_are_rejected() {
    runtime().block_on(async {
        let store = Arc::new(Recording::default());
        let manager = manager_over(settings(true), &store);
        let victim = value_of(&seed(&manager).await);
        let other = value_of(&seed(&manager).await);
        let (sid, signature) = victim.rsplit_once('.').unwrap();
        let (other_sid, other_signature) = other.rsplit_once('.').unwrap();

        let mut tweaked_sid = sid.to_owned().into_bytes();
        tweaked_sid[0] = if tweaked_sid[0] == b'A' { b'B' } else { b'A' };
        let tweaked_sid = String::from_utf8(tweaked_sid).unwrap();
        // The last base64 character of a 20-byte MAC carries 4 bits and 2
        // unused ones: flipping an unused bit gives a non-canonical encoding
        // of the same bytes, which must not verify either.
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let last = signature.as_bytes()[signature.len() - 1];
        let index = alphabet.iter().position(|&c| c == last).unwrap();
        let non_canonical = format!(
            "{}{}",
            &signature[..signature.len() - 1],
            char::from(alphabet[index ^ 1])
        );

        let forgeries = [
            ("wrong key", sign_with("not-the-secret", sid)),
            (
                "modified sid, old signature",
                format!("{tweaked_sid}.{signature}"),
            ),
            ("other sid's signature", format!("{sid}.{other_signature}")),
            (
                "signature moved to other sid",
                format!("{other_sid}.{signature}"),
            ),
            ("truncated by one", victim[..victim.len() - 1].to_owned()),
            ("truncated by half", victim[..sid.len() + 14].to_owned()),
            ("empty signature", format!("{sid}.")),
            ("unsigned sid", sid.to_owned()),
            ("padded", format!("{victim}=")),
            ("extended", format!("{victim}A")),
            ("doubled dot", format!("{sid}..{signature}")),
            ("upper-cased", format!("{sid}.{}", signature.to_uppercase())),
            ("non-canonical base64", format!("{sid}.{non_canonical}")),
            (
                "standard base64 alphabet",
                format!("{sid}.{}", signature.replace('-', "+").replace('_', "/")),
            ),
            ("signature only", signature.to_owned()),
        ];
        for (what, forged) in forgeries {
            if forged == victim {
                continue; // e.g. no '-' or '_' to swap
            }
            store.clear_ops();
            let request = manager.open([format!("session={forged}").as_bytes()]);
            let session = request.load().await.unwrap();
            assert_eq!(
                session.get::<String>("user").unwrap(),
                None,
                "{what}: accepted"
            );
            assert_eq!(store.reads(), 0, "{what}: reached the store");
            let outcome = request.finish(200).await.unwrap();
            let set_cookie = outcome.set_cookie.unwrap();
            assert!(set_cookie.starts_with("session=;"), "{what}: {set_cookie}");
        }
        // The real cookies still work.
        for value in [&victim, &other] {
            let request = manager.open([format!("session={value}").as_bytes()]);
            let session = request.load().await.unwrap();
            assert_eq!(
                session.get::<String>("user").unwrap().as_deref(),
                Some("ada")
            );
        }
    });
}

#[test]
fn secret_rotation_with_fallback_keys() {
    runtime().block_on(async {
        let store = Arc::new(Recording::default());
        let with_keys = |current: &str, fallbacks: &[&str]| {
            let mut s = settings(true);
            s.secret_key = Some(Secret::new(current));
            s.secret_key_fallbacks = fallbacks.iter().map(|k| Secret::new(*k)).collect();
            manager_over(s, &store)
        };
        let old = with_keys("old-secret-0123456789abcdef0123456789", &[]);
        let rotated = with_keys(
            "new-secret-0123456789abcdef0123456789",
            &["old-secret-0123456789abcdef0123456789"],
        );
        let dropped = with_keys(
            "newer-secret-0123456789abcdef01234567",
            &["new-secret-0123456789abcdef0123456789"],
        );

        let old_cookie = seed(&old).await;
        let sid = sid_of(&old_cookie);

        // Accepted under the fallback, and re-signed with the new key without
        // a data write.
        store.clear_ops();
        let request = rotated.open([old_cookie.as_bytes()]);
        let session = request.load().await.unwrap();
        assert_eq!(
            session.get::<String>("user").unwrap().as_deref(),
            Some("ada")
        );
        let set_cookie = request.finish(200).await.unwrap().set_cookie.unwrap();
        assert_eq!(
            value_of(&set_cookie),
            sign_with("new-secret-0123456789abcdef0123456789", &sid)
        );
        assert!(!store.ops().iter().any(|(op, _)| *op == "save"));
        let new_cookie = pair(&set_cookie);

        let request = rotated.open([new_cookie.as_bytes()]);
        let session = request.load().await.unwrap();
        assert_eq!(
            session.get::<String>("user").unwrap().as_deref(),
            Some("ada")
        );
        let outcome = request.finish(200).await.unwrap();
        assert!(
            outcome
                .set_cookie
                .is_none_or(|c| value_of(&c) == value_of(&new_cookie)),
            "a current-key cookie is not re-signed differently"
        );

        // The old key is no longer listed: its cookie is refused before the
        // store; the re-signed one still works under the fallback.
        store.clear_ops();
        let request = dropped.open([old_cookie.as_bytes()]);
        assert_eq!(
            request.load().await.unwrap().get::<String>("user").unwrap(),
            None
        );
        assert_eq!(store.reads(), 0);
        let request = dropped.open([new_cookie.as_bytes()]);
        assert_eq!(
            request
                .load()
                .await
                .unwrap()
                .get::<String>("user")
                .unwrap()
                .as_deref(),
            Some("ada")
        );
    });
}

// ------------------------------------------------------ __Host- cookies ----

fn host_rule(result: Result<Settings, ConfigError>) -> bool {
    matches!(
        result,
        Err(ConfigError::Rule {
            rule: RuleKind::HostPrefix,
            ..
        })
    )
}

#[test]
fn host_prefix_config_refuses_bad_combinations() {
    let build = |vars: &[(&str, &str)]| Settings::builder().env_from(vars.iter().copied()).build();
    let name = ("SESSION_COOKIE_NAME", "__Host-sid");
    let secure = ("SESSION_COOKIE_SECURE", "true");
    assert!(host_rule(build(&[name])), "without Secure");
    assert!(
        host_rule(build(&[name, secure, ("SESSION_COOKIE_PATH", "/app")])),
        "Path"
    );
    assert!(
        host_rule(build(&[
            name,
            secure,
            ("SESSION_COOKIE_DOMAIN", "example.com")
        ])),
        "Domain"
    );
    assert!(
        host_rule(build(&[("SESSION_COOKIE_NAME", "__HOST-sid")])),
        "the prefix is matched case-insensitively, as browsers do"
    );
    let file = Settings::builder()
        .toml_str(
            "cookie_name = \"__Host-sid\"\ncookie_secure = true\ncookie_domain = \"example.com\"",
            "Session.toml",
        )
        .build();
    assert!(host_rule(file), "from a file");
    let ok = build(&[name, secure]).unwrap();
    assert_eq!(ok.cookie.path, "/");
    assert_eq!(ok.cookie.domain, None);

    // Settings changed in code are checked by `validate`.
    let mut in_code = ok.clone();
    in_code.cookie.domain = Some("example.com".into());
    assert!(matches!(
        in_code.validate(),
        Err(ConfigError::Rule {
            rule: RuleKind::HostPrefix,
            ..
        })
    ));
    assert!(matches!(
        build(&[("SESSION_COOKIE_NAME", "__Secure-sid")]),
        Err(ConfigError::Rule {
            rule: RuleKind::SecurePrefix,
            ..
        })
    ));
}

/// The attributes of a Set-Cookie, names lower-cased; the first pair apart.
fn attributes(set_cookie: &str) -> (String, BTreeSet<String>) {
    let mut parts = set_cookie.split(';').map(str::trim);
    let first = parts.next().unwrap().to_owned();
    let attrs = parts
        .map(|attr| match attr.split_once('=') {
            Some((k, v)) if k.eq_ignore_ascii_case("expires") => {
                assert!(!v.is_empty());
                "expires".to_owned()
            }
            Some((k, v)) => format!("{k}={v}").to_ascii_lowercase(),
            None => attr.to_ascii_lowercase(),
        })
        .collect();
    (first, attrs)
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn host_prefix_set_cookie_has_exactly_the_required_attributes() {
    runtime().block_on(async {
        let settings = Settings::builder()
            .env_from([
                ("SESSION_TYPE", "memory"),
                ("SESSION_COOKIE_NAME", "__Host-sid"),
                ("SESSION_COOKIE_SECURE", "true"),
                ("SESSION_USE_SIGNER", "true"),
                ("SECRET_KEY", SECRET),
            ])
            .build()
            .unwrap();
        let store = Arc::new(Recording::default());
        let manager = manager_over(settings, &store);
        let persistent = set(&["expires", "path=/", "secure", "httponly", "samesite=lax"]);

        let request = manager.open([]);
        request.load().await.unwrap().insert("user", "ada").unwrap();
        let set_cookie = request.finish(200).await.unwrap().set_cookie.unwrap();
        let (first, attrs) = attributes(&set_cookie);
        assert!(first.starts_with("__Host-sid="), "{set_cookie}");
        assert_eq!(attrs, persistent, "{set_cookie}");
        assert!(!set_cookie.to_ascii_lowercase().contains("domain"));

        // A browser-session cookie: the same without Expires.
        let request = manager.open([first.as_bytes()]);
        request.load().await.unwrap().set_permanent(false);
        let set_cookie = request.finish(200).await.unwrap().set_cookie.unwrap();
        let (_, attrs) = attributes(&set_cookie);
        assert_eq!(
            attrs,
            set(&["path=/", "secure", "httponly", "samesite=lax"])
        );

        // The deletion cookie after clear(): the same attributes, expired.
        let request = manager.open([first.as_bytes()]);
        request.load().await.unwrap().clear();
        let deletion = request.finish(200).await.unwrap().set_cookie.unwrap();
        let (first_deleted, attrs) = attributes(&deletion);
        assert_eq!(first_deleted, "__Host-sid=");
        let mut expected = persistent.clone();
        expected.insert("max-age=0".to_owned());
        assert_eq!(attrs, expected, "{deletion}");
        assert!(deletion.contains("Expires=Thu, 01 Jan 1970 00:00:00 GMT"));

        // The deletion cookie for a stale cookie (row 4) too.
        let request = manager.open([b"__Host-sid=forged.value".as_slice()]);
        request.load().await.unwrap();
        let stale = request.finish(200).await.unwrap().set_cookie.unwrap();
        assert_eq!(attributes(&stale), attributes(&deletion));
    });
}

// ---------------------------------------------------------------- logs ----

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// A typed view whose fields do not fit the stored values: serde's messages
/// for these quote the value (`unknown variant `…``, `invalid value: integer
/// `…``), and the library logs the failure.
#[derive(session::SessionData, Default)]
struct WrongType {
    user: u32,
    notes: Role,
    level: u8,
    role: Role,
}

#[derive(serde::Serialize, serde::Deserialize, Default)]
enum Role {
    #[default]
    Reader,
    Admin,
}

const LOG_SECRET: &str = "log-test-secret-Qx7-0123456789abcdefghij";
const LOG_FALLBACK: &str = "fallback-Kz9"; // short: logs a warning
const PASSWORD: &str = "Pa55-in-url-Wq3";
const DATA: [&str; 4] = [
    "ada-lovelace-DATA-1",
    "analytical-engine-DATA-2",
    "corrupt-record-DATA-3",
    "json-record-DATA-4",
];

/// Runs the lifecycle with every kind of failure the library logs; returns
/// every raw sid that was used.
async fn lifecycle_with_logging() -> Vec<String> {
    let mut sids = Vec::new();
    let report = Settings::builder()
        .toml_str(
            format!(
                "type = \"memory\"\nuse_signer = true\nsecret_key = \"{LOG_SECRET}\"\n\
                 redis = \"redis://app:{PASSWORD}@127.0.0.1:6379/0\"\n\
                 sqlalchemy = \"postgresql://app:{PASSWORD}@localhost/db\"\n\
                 mongodb = \"mongodb://app:{PASSWORD}@localhost:27017\"\n"
            ),
            "Session.toml (test)",
        )
        .env_from([
            ("SECRET_KEY_FALLBACKS", LOG_FALLBACK),
            ("SESSION_TYPPE", "redis"),
        ])
        .build_report()
        .unwrap();
    assert!(
        !report.warnings.is_empty(),
        "a short secret and a near miss"
    );
    // What an app might log at start-up.
    tracing::info!(settings = ?report.settings, provenance = ?report.provenance, "settings loaded");
    let settings = report.settings;

    // Config errors on secret-bearing values, logged as an app would.
    let non_utf8 = {
        let mut bytes = LOG_SECRET.as_bytes().to_vec();
        bytes.push(0xff);
        OsString::from_vec(bytes)
    };
    let errors = [
        Settings::builder()
            .toml_str(
                format!("secret_key = \"{LOG_SECRET}\nuse_signer = true"),
                "a.toml",
            )
            .build(),
        Settings::builder()
            .toml_str(format!("secret_key = [\"{LOG_SECRET}\", 1]"), "b.toml")
            .build(),
        Settings::builder()
            .toml_str(
                format!("secret_key_fallbacks = \"{LOG_SECRET}\"\nsecret_key = 5"),
                "c.toml",
            )
            .build(),
        Settings::builder()
            .env_from([(OsString::from("SECRET_KEY"), non_utf8)])
            .build(),
        Settings::builder()
            .env_from([("SECRET_KEY_FALLBACKS", format!("[\"{LOG_SECRET}\""))])
            .build(),
        Settings::builder()
            .env_from([("SESSION_REDIS", format!("redis://app:{PASSWORD}@host:port"))])
            .build(),
        Settings::builder()
            .env_from([(
                "SESSION_SQLALCHEMY",
                format!("ftp://app:{PASSWORD}@host/db"),
            )])
            .build(),
        Settings::builder()
            .env_from([("SESSION_MONGODB", format!("mongodb://app:{PASSWORD}@"))])
            .build(),
        Settings::builder()
            .env_from([(
                "SESSION_SQLALCHEMY_BINDS",
                format!("{{\"a\": \"ftp://u:{PASSWORD}@h\"}}"),
            )])
            .build(),
        Settings::builder()
            .env_from([
                ("SESSION_TYPE", "redis"),
                ("SESSION_REDIS", &format!("redis://u:{PASSWORD}@[::1")),
            ])
            .build(),
    ];
    for result in errors {
        let error = result.unwrap_err();
        tracing::error!(%error, debug = ?error, "configuration error");
    }

    let store = Arc::new(Recording::default());
    let manager = manager_over(settings.clone(), &store);
    tracing::debug!(?manager, "manager built");

    // A new session, written.
    let request = manager.open([]);
    let session = request.load().await.unwrap();
    session.insert("user", DATA[0]).unwrap();
    session.insert("notes", &[DATA[1]]).unwrap();
    session.insert("role", DATA[1]).unwrap();
    session.insert("level", &7_321_904_517_u64).unwrap();
    let cookie = pair(&request.finish(200).await.unwrap().set_cookie.unwrap());
    sids.push(sid_of(&cookie));

    // Read back, also through a typed view that does not fit the data.
    let request = manager.open([cookie.as_bytes()]);
    let session = request.load().await.unwrap();
    assert_eq!(
        session.get::<String>("user").unwrap().as_deref(),
        Some(DATA[0])
    );
    drop(session.typed::<WrongType>());
    let _ = session.get_json("notes");
    request.finish(200).await.unwrap();

    // A bad signature, several cookies, a malformed value.
    let forged = format!("{}.AAAAAAAAAAAAAAAAAAAAAAAAAAA", sids[0]);
    let request =
        manager.open([format!("session={forged}; session=../../x; session={cookie}").as_bytes()]);
    request.load().await.unwrap();
    request.finish(200).await.unwrap();

    // Records that exist but cannot be decoded: a pickle, and a JSON value that
    // is not a map (read by a JSON-configured manager).
    let corrupt = SessionId::generate(32).unwrap();
    sids.push(corrupt.expose().to_owned());
    let mut pickle = b"\x80\x04\x95".to_vec();
    pickle.extend_from_slice(DATA[2].as_bytes());
    store
        .inner
        .save(
            &format!("{PREFIX}{}", corrupt.expose()),
            &pickle,
            Duration::from_secs(60),
            SaveHint::New,
        )
        .await
        .unwrap();
    let signed = Signer::new(LOG_SECRET, []).sign(&corrupt);
    let request = manager.open([format!("session={signed}").as_bytes()]);
    request.load().await.unwrap();
    request.finish(200).await.unwrap();

    let json_manager = {
        let mut s = settings.clone();
        s.serialization_format = SerializationFormat::Json;
        manager_over(s, &store)
    };
    for record in [
        format!("\"{}\"", DATA[3]),
        format!("[\"{}\"]", DATA[3]),
        format!("{{\"user\": \"{}\"", DATA[3]),
        format!("{{\"user\": \"{}\"}} trailing", DATA[3]),
    ] {
        let id = SessionId::generate(32).unwrap();
        sids.push(id.expose().to_owned());
        store
            .inner
            .save(
                &format!("{PREFIX}{}", id.expose()),
                record.as_bytes(),
                Duration::from_secs(60),
                SaveHint::New,
            )
            .await
            .unwrap();
        let signed = Signer::new(LOG_SECRET, []).sign(&id);
        let request = json_manager.open([format!("session={signed}").as_bytes()]);
        request.load().await.unwrap();
        request.finish(200).await.unwrap();
        let _ = json_manager.load_by_id(id.expose()).await.unwrap();
    }

    // Regenerate, then clear.
    let request = manager.open([cookie.as_bytes()]);
    request.load().await.unwrap().regenerate().unwrap();
    let regenerated = pair(&request.finish(200).await.unwrap().set_cookie.unwrap());
    sids.push(sid_of(&regenerated));
    let request = manager.open([regenerated.as_bytes()]);
    request.load().await.unwrap().clear();
    request.finish(200).await.unwrap();

    // Too large: a typed error, which an adapter logs.
    let request = manager.open([]);
    let session = request.load().await.unwrap();
    session.insert("big", &DATA[0].repeat(10_000)).unwrap();
    let error = request.finish(200).await.unwrap_err();
    tracing::error!(%error, debug = ?error, "finish failed");

    // The by-id operations.
    let mut map = SessionMap::new();
    map.insert("user", DATA[1]).unwrap();
    let created = manager.create(&map).await.unwrap();
    let created_sid = created.split('.').next().unwrap().to_owned();
    sids.push(created_sid.clone());
    manager.load_by_cookie(&created).await.unwrap().unwrap();
    let moved = manager
        .regenerate_by_id(&created_sid)
        .await
        .unwrap()
        .unwrap();
    sids.push(moved.expose().to_owned());
    tracing::info!(session = %moved, "regenerated by id");
    manager.delete_by_id(moved.expose()).await.unwrap();
    sids
}

#[test]
fn secrets_passwords_data_and_sids_never_reach_the_logs() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::FULL)
        .with_ansi(false)
        // No timestamps: their digits could spell a forbidden needle by chance.
        .without_time()
        .with_writer(move || writer.clone())
        .finish();
    // With one dispatcher registered, tracing caches a callsite's interest
    // from the first thread to reach it: another test's thread could cache
    // "never" and silence this capture. A second one makes it ask them all.
    let _second = tracing::Dispatch::new(tracing::subscriber::NoSubscriber::default());
    let sids = tracing::subscriber::with_default(subscriber, || {
        runtime().block_on(lifecycle_with_logging())
    });
    let logs = capture.text();

    // The capture works: the failures above were logged.
    assert!(!logs.is_empty());
    for expected in [
        "stored session cannot be decoded",
        "unexpected type",
        "configuration error",
        "finish failed",
        "WARN",
    ] {
        assert!(
            logs.contains(expected),
            "{expected:?} was not logged:\n{logs}"
        );
    }

    let mut forbidden: Vec<(&str, String)> = vec![
        ("the secret", LOG_SECRET.to_owned()),
        ("a fallback secret", LOG_FALLBACK.to_owned()),
        ("a URL password", PASSWORD.to_owned()),
    ];
    forbidden.extend(DATA.iter().map(|d| ("session data", (*d).to_owned())));
    forbidden.push(("session data", "7321904517".to_owned()));
    forbidden.extend(sids.iter().map(|sid| ("a raw sid", sid.clone())));
    assert!(sids.len() >= 8);
    let leaks: Vec<String> = forbidden
        .iter()
        .filter(|(_, needle)| logs.contains(needle.as_str()))
        .map(|(what, needle)| format!("{what} ({needle})"))
        .collect();
    assert!(leaks.is_empty(), "leaked into the logs: {leaks:?}\n{logs}");
}

#[test]
fn debug_output_hides_secrets_and_sids() {
    let report = Settings::builder()
        .toml_str(
            format!(
                "type = \"redis\"\nuse_signer = true\nsecret_key = \"{LOG_SECRET}\"\n\
                 secret_key_fallbacks = [\"{LOG_FALLBACK}\"]\n\
                 redis = [\"redis://u:{PASSWORD}@a:7000\", \"redis://u:{PASSWORD}@b:7001\"]\n\
                 sqlalchemy = \"postgresql://u:{PASSWORD}@h/db?password={PASSWORD}\"\n\
                 mongodb = \"mongodb://u:{PASSWORD}@h\"\n\
                 [sqlalchemy_binds]\nreports = \"mysql://r:{PASSWORD}@m/db\"\n"
            ),
            "Session.toml",
        )
        .build_report()
        .unwrap();
    let id = SessionId::generate(32).unwrap();
    let signer = Signer::new(LOG_SECRET, [LOG_FALLBACK]);
    let shown = [
        format!("{:?}", report.settings),
        format!("{report:?}"),
        format!("{:?}", report.settings.secret_key),
        format!("{:?}", report.settings.redis),
        format!("{}", report.settings.sqlalchemy),
        format!("{id:?}"),
        format!("{id}"),
        format!("{signer:?}"),
        format!(
            "{:?}",
            Settings::builder()
                .toml_str(LOG_SECRET, "x")
                .env_from([("SECRET_KEY", LOG_SECRET)])
        ),
    ];
    for text in shown {
        for needle in [LOG_SECRET, LOG_FALLBACK, PASSWORD, id.expose()] {
            assert!(!text.contains(needle), "{needle:?} shown in {text}");
        }
    }
    assert_eq!(format!("{signer:?}"), "Signer { keys: 2, .. }");
}

#[tokio::test]
async fn debug_of_a_live_session_hides_its_sid_and_values() {
    let store = std::sync::Arc::new(session::store::memory::MemoryStore::new());
    let manager = session::SessionManager::new(Settings::default(), store).unwrap();
    let request = manager.open([]);
    let session = request.load().await.unwrap();
    session.insert("card", "4111-1111-1111-1111").unwrap();
    let cookie = request.finish(200).await.unwrap().set_cookie.unwrap();
    let sid = cookie
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("session=")
        .to_owned();
    let header = format!("session={sid}");
    let next = manager.open([header.as_bytes()]);
    let loaded = next.load().await.unwrap();
    for shown in [
        format!("{session:?}"),
        format!("{loaded:?}"),
        format!("{next:?}"),
        format!("{:?}", loaded.snapshot()),
    ] {
        assert!(!shown.contains(&sid), "{shown}");
        assert!(!shown.contains("4111-1111"), "{shown}");
    }
    assert!(format!("{loaded:?}").contains("card"), "keys are shown");
}

/// The hardening findings: fixation after clear, hostile Cookie bytes, keys
/// the store cannot hold, settings built in code, and the smaller items.
#[path = "security/hardening.rs"]
mod hardening;
