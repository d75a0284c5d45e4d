//! The properties the `cookie`, `signature` and `decode` fuzz targets check.
//!
//! Shared source: the fuzz targets in `fuzz/fuzz_targets/` include this file
//! with `#[path]`, and `tests/fuzz_corpus.rs` replays the committed seed corpora
//! (`fuzz/corpus/<target>/`) through the same functions, so plain `cargo test`
//! checks every seed without a fuzzer. A property failure is a panic: the
//! fuzzer records it as a crash, the replay test fails.
//!
//! Input layouts (the first byte picks a mode, so the fuzzer explores every
//! configuration from one corpus):
//! - `cookie`: `[mode] header\nheader…` — Cookie header text, one header per line.
//! - `signature`: `[mode] candidate`, or `[mode] secret 0xFF fallback 0xFF candidate`.
//! - `decode`: `[mode] stored bytes`.
//! - `cookie_header`: `[mode] foreign\nheader\nheader…` — raw header bytes; see
//!   [`cookie_header`].

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use session::codec::{Codec, DecodeError, Decoded, EncodeError, SerializationFormat};
use session::config::{Secret, SessionType, Settings};
use session::cookie::values_named;
use session::id::{MAX_SID_CHARS, MIN_SID_CHARS};
use session::signing::{Signer, Verified};
use session::store::memory::MemoryStore;
use session::{SaveHint, SessionId, SessionManager, SessionMap, SessionStore, StoreError};

/// The current signing key of the fuzzed managers (the itsdangerous vectors'
/// secret, so the seed cookies verify).
pub const SECRET: &str = "secret";
/// The fallback key (also a secret of the signer vectors).
pub const FALLBACK: &str = "dev-secret";
/// A sid whose record exists and decodes.
pub const LIVE_SID: &str = "ZvBpGWIYXua8yTuiuJVKzCJzrovCnUQDKVBkvMnlHHE";
/// A sid whose record exists but is a Python pickle (cannot be decoded).
pub const CORRUPT_SID: &str = "QFIA1H_Xo7HM0Ck1VRzFuuWXaq07iG1HjEyDq1a4Ugs";
const PREFIX: &str = "session:";

mod cookie_header;
#[allow(unused_imports)] // each fuzz target uses one check
pub use cookie_header::check_cookie_header;

/// The reference shape check, written independently of `SessionId::parse`.
pub fn shape_ok(sid: &str) -> bool {
    (MIN_SID_CHARS..=MAX_SID_CHARS).contains(&sid.len())
        && sid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

// ---------------------------------------------------------------- cookie ----

/// One store operation as the checking store saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    Load(String),
    Save(String),
    Touch(String),
    Delete(String),
}

/// A memory store that panics when a key with an invalid sid reaches it, and
/// records every operation for the checks after the request.
struct CheckingStore {
    inner: MemoryStore,
    ops: Mutex<Vec<Op>>,
}

impl CheckingStore {
    fn sid_of(key: &str) -> String {
        let sid = key
            .strip_prefix(PREFIX)
            .unwrap_or_else(|| panic!("store key without the prefix: {key:?}"));
        assert!(shape_ok(sid), "a malformed sid reached the store: {sid:?}");
        sid.to_owned()
    }

    fn record(&self, op: Op) {
        self.ops.lock().unwrap().push(op);
    }
}

#[async_trait]
impl SessionStore for CheckingStore {
    fn backend(&self) -> &'static str {
        "checking-memory"
    }
    async fn load(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.record(Op::Load(Self::sid_of(key)));
        self.inner.load(key).await
    }
    async fn load_and_touch(
        &self, key: &str, ttl: Duration,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        self.record(Op::Load(Self::sid_of(key)));
        self.inner.load_and_touch(key, ttl).await
    }
    async fn save(
        &self, key: &str, value: &[u8], ttl: Duration, hint: SaveHint,
    ) -> Result<(), StoreError> {
        self.record(Op::Save(Self::sid_of(key)));
        self.inner.save(key, value, ttl, hint).await
    }
    async fn save_if_unchanged(
        &self, key: &str, expected: &[u8], value: &[u8], ttl: Duration,
    ) -> Result<session::WriteOutcome, StoreError> {
        self.record(Op::Save(Self::sid_of(key)));
        self.inner
            .save_if_unchanged(key, expected, value, ttl)
            .await
    }
    async fn insert_new(
        &self, key: &str, value: &[u8], ttl: Duration,
    ) -> Result<session::WriteOutcome, StoreError> {
        self.record(Op::Save(Self::sid_of(key)));
        self.inner.insert_new(key, value, ttl).await
    }
    async fn touch(&self, key: &str, ttl: Duration) -> Result<(), StoreError> {
        self.record(Op::Touch(Self::sid_of(key)));
        self.inner.touch(key, ttl).await
    }
    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        self.record(Op::Delete(Self::sid_of(key)));
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

fn runtime() -> &'static tokio::runtime::Runtime {
    thread_local! {
        static RUNTIME: &'static tokio::runtime::Runtime = Box::leak(Box::new(
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a current-thread runtime"),
        ));
    }
    RUNTIME.with(|rt| *rt)
}

/// The sid a cookie value names, by the reference rules: a shape-valid sid,
/// and when signing is on, exactly `sign(sid)` under the current key or the
/// fallback.
fn reference_sid(value: &str, signed: bool) -> Option<String> {
    if !signed {
        return shape_ok(value).then(|| value.to_owned());
    }
    let (sid, _) = value.rsplit_once('.')?;
    let id = SessionId::parse(sid)?;
    [SECRET, FALLBACK]
        .iter()
        .any(|key| Signer::new(key, []).sign(&id) == value)
        .then(|| sid.to_owned())
}

/// `SessionManager::open` + `load` + `finish` over arbitrary Cookie headers,
/// plus `cookie::values_named` and `SessionId::parse`:
/// - the pure functions agree with the reference shape rule;
/// - no malformed, unsigned or badly signed sid ever reaches the store, and the
///   one store read is for the first validly signed cookie;
/// - a sid the client chose is never adopted: every sid written is the live
///   record's own or a fresh one that appears nowhere in the input;
/// - only the live record is ever deleted.
pub fn check_cookie(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let headers: Vec<&str> = text.split('\n').collect();
    let name = match mode & 0b11 {
        0 | 3 => "session",
        1 => "__Host-sid",
        _ => "s",
    };
    let signed = mode & 0b100 != 0;
    let refresh = mode & 0b1000 != 0;
    let write = mode & 0b1_0000 != 0;
    let regenerate = mode & 0b10_0000 != 0;
    let clear = mode & 0b100_0000 != 0;
    let status = if mode & 0b1000_0000 != 0 { 500 } else { 200 };

    // The pure functions.
    let mut expected_sids = Vec::new();
    for header in &headers {
        for value in values_named(header.as_bytes(), name.as_bytes()) {
            let value =
                std::str::from_utf8(value).expect("a piece of a UTF-8 header at ASCII bounds");
            assert!(header.contains(value), "a value not in the header");
            match SessionId::parse(value) {
                Some(id) => {
                    assert!(shape_ok(value), "parse accepted {value:?}");
                    assert_eq!(id.expose(), value);
                    assert!(
                        !format!("{id:?}{id}").contains(value),
                        "Debug shows the sid"
                    );
                }
                None => assert!(!shape_ok(value), "parse refused {value:?}"),
            }
            if let Some(sid) = reference_sid(value, signed) {
                expected_sids.push(sid);
            }
        }
        for piece in header.split([';', '=', ' ', '.']) {
            assert_eq!(SessionId::parse(piece).is_some(), shape_ok(piece));
        }
    }
    let first_valid = expected_sids.first().cloned();

    let settings = {
        let mut settings = Settings::default();
        settings.session_type = SessionType::Memory;
        settings.use_signer = signed;
        settings.secret_key = Some(Secret::new(SECRET));
        settings.secret_key_fallbacks = vec![Secret::new(FALLBACK)];
        settings.refresh_each_request = refresh;
        settings.key_prefix = PREFIX.to_owned();
        settings.cookie.name = name.to_owned();
        settings.cookie.secure = name.starts_with("__Host-");
        settings
    };
    let store = Arc::new(CheckingStore {
        inner: MemoryStore::new(),
        ops: Mutex::new(Vec::new()),
    });
    let manager = SessionManager::new(settings, store.clone()).expect("a manager");
    let ttl = Duration::from_secs(3600);

    runtime().block_on(async {
        let mut live = SessionMap::new();
        live.insert("user", "ada").unwrap();
        let live_bytes = Codec::new(SerializationFormat::MsgPack, 65536)
            .encode(&live)
            .unwrap();
        let inner = &store.inner;
        inner
            .save(
                &format!("{PREFIX}{LIVE_SID}"),
                &live_bytes,
                ttl,
                SaveHint::New,
            )
            .await
            .unwrap();
        inner
            .save(
                &format!("{PREFIX}{CORRUPT_SID}"),
                b"\x80\x04\x95pickled",
                ttl,
                SaveHint::New,
            )
            .await
            .unwrap();

        let request = manager.open(headers.iter().map(|header| header.as_bytes()));
        let session = request.load().await.expect("the memory store never fails");
        let loaded_live = first_valid.as_deref() == Some(LIVE_SID);
        assert_eq!(
            session.get::<String>("user").unwrap().is_some(),
            loaded_live,
            "data is visible exactly when the live record was named"
        );
        if write {
            session.insert("fuzz", &1u8).unwrap();
        }
        if regenerate {
            session.regenerate().unwrap();
        }
        if clear {
            session.clear();
        }
        let outcome = request.finish(status).await.expect("finish");

        let ops = store.ops.lock().unwrap().clone();
        let loads: Vec<&Op> = ops.iter().filter(|op| matches!(op, Op::Load(_))).collect();
        match &first_valid {
            Some(sid) => {
                // One read of the first valid sid; a regenerate of the live
                // record that saves reads it once more, to check it was not
                // ended meanwhile.
                let reads = if regenerate && loaded_live {
                    1..=2
                } else {
                    1..=1
                };
                assert!(reads.contains(&loads.len()), "reads: {loads:?}");
                assert!(
                    loads.iter().all(|op| **op == Op::Load(sid.clone())),
                    "only the first valid sid is read: {loads:?}"
                );
            }
            None => assert!(loads.is_empty(), "a store read for an invalid cookie"),
        }
        for op in &ops {
            match op {
                Op::Save(sid) | Op::Touch(sid) => {
                    let own = loaded_live && sid == LIVE_SID;
                    assert!(
                        own || !text.contains(sid.as_str()),
                        "a client-chosen sid was adopted: {op:?}"
                    );
                }
                Op::Delete(sid) => assert_eq!(sid, LIVE_SID, "deleted a record not loaded"),
                Op::Load(_) => {}
            }
        }

        if let Some(set_cookie) = &outcome.set_cookie {
            assert!(!set_cookie.contains(['\r', '\n']), "header injection");
            let pair = set_cookie.split(';').next().unwrap();
            let value = pair
                .strip_prefix(name)
                .and_then(|v| v.strip_prefix('='))
                .expect("Set-Cookie names the configured cookie");
            if !value.is_empty() {
                let sid = reference_sid(value, signed).expect("a cookie we can verify");
                let own = loaded_live && !regenerate && sid == LIVE_SID;
                assert!(own || !text.contains(sid.as_str()), "adopted {sid:?}");
                if signed {
                    let current = Signer::new(SECRET, []);
                    let id = SessionId::parse(&sid).unwrap();
                    assert_eq!(current.sign(&id), value, "re-signed with the current key");
                }
            }
        }
    });
}

// ------------------------------------------------------------- signature ----

fn check_signer(current: &str, fallbacks: &[&str], candidate: &str) {
    let signer = Signer::new(current, fallbacks.iter().copied());
    let by_key = |key: &str, id: &SessionId| Signer::new(key, []).sign(id);
    let parsed = candidate
        .rsplit_once('.')
        .and_then(|(sid, _)| SessionId::parse(sid));
    match signer.verify(candidate) {
        Some(Verified::Current(id)) => {
            assert_eq!(by_key(current, &id), candidate, "accepted a forgery");
            assert_eq!(signer.sign(&id), candidate);
            assert_eq!(Some(&id), parsed.as_ref());
        }
        Some(Verified::Fallback(id)) => {
            assert_ne!(
                by_key(current, &id),
                candidate,
                "current key not tried first"
            );
            assert!(
                fallbacks.iter().any(|key| by_key(key, &id) == candidate),
                "accepted a forgery as a fallback"
            );
            assert_eq!(Some(&id), parsed.as_ref());
        }
        None => {
            // Complete: never rejects what one of its keys signed.
            if let Some(id) = &parsed {
                for key in std::iter::once(&current).chain(fallbacks) {
                    assert_ne!(by_key(key, id), candidate, "rejected a valid cookie");
                }
            }
        }
    }
    if let Some(id) = parsed {
        assert_eq!(
            signer.verify(&signer.sign(&id)),
            Some(Verified::Current(id.clone()))
        );
    }
}

/// `Signer::verify` on arbitrary input never accepts a value that is not
/// exactly `sign(sid)` under one of its keys (and never rejects one that is);
/// `verify(sign(id))` is always `Current(id)`.
pub fn check_signature(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut parts = rest.splitn(3, |&b| b == 0xff);
    let (a, b, c) = (parts.next(), parts.next(), parts.next());
    match (a, b, c) {
        (Some(secret), Some(fallback), Some(candidate)) => {
            let secret = String::from_utf8_lossy(secret);
            let fallback = String::from_utf8_lossy(fallback);
            let candidate = String::from_utf8_lossy(candidate);
            let fallbacks: Vec<&str> = if mode & 1 == 0 {
                vec![&fallback]
            } else {
                Vec::new()
            };
            check_signer(&secret, &fallbacks, &candidate);
        }
        _ => {
            let candidate = String::from_utf8_lossy(rest);
            check_signer(SECRET, &[FALLBACK], &candidate);
            check_signer(FALLBACK, &[], &candidate);
        }
    }
}

// ---------------------------------------------------------------- decode ----

/// `Codec::decode` (msgpack and JSON) on arbitrary bytes:
/// - never panics, and refuses input above the size cap;
/// - every decoded value is exactly one well-formed msgpack value within the
///   depth limit, readable by the typed and JSON accessors without a panic;
/// - re-encoding and decoding again gives the same map (after one conversion
///   when a msgpack record is rewritten as JSON, whose known losses apply),
///   and an encoding never exceeds the cap.
pub fn check_decode(data: &[u8]) {
    let Some((&mode, bytes)) = data.split_first() else {
        return;
    };
    let format = if mode & 1 == 0 {
        SerializationFormat::MsgPack
    } else {
        SerializationFormat::Json
    };
    let cap = match (mode >> 1) & 0b11 {
        0 => 64 * 1024,
        1 => 4096,
        2 => 256,
        _ => 32,
    };
    let codec = Codec::new(format, cap);
    let (map, how) = match codec.decode(bytes) {
        Ok(decoded) => decoded,
        Err(DecodeError::TooLarge { size, limit }) => {
            assert_eq!((size, limit), (bytes.len(), cap));
            return;
        }
        Err(_) => {
            assert!(bytes.len() <= cap, "an oversized input was parsed");
            return;
        }
    };
    assert!(bytes.len() <= cap, "decoded above the cap");

    for key in map.keys() {
        let raw = map.get_raw(key).unwrap();
        let mut rest = raw;
        // rmpv spends up to two levels per container and three on a leaf.
        let value =
            rmpv::decode::read_value_with_max_depth(&mut rest, 2 * session::value::MAX_DEPTH + 1)
                .expect("a stored value is well-formed msgpack");
        assert!(rest.is_empty(), "a stored value has trailing bytes");
        // Every value has a JSON form, unless it holds an extension type.
        assert!(
            session::codec::value_to_json(key, raw).is_ok() || has_ext(&value),
            "a decoded value has no JSON form"
        );
        let _ = map.get::<serde_json::Value>(key);
        let _ = map.get::<String>(key);
        let _ = map.get::<session::Timestamp>(key);
    }
    let _ = map.is_permanent();

    let encoded = match codec.encode(&map) {
        Ok(encoded) => encoded,
        Err(EncodeError::TooLarge { size, limit }) => {
            assert!(size > limit && limit == cap);
            return;
        }
        Err(EncodeError::Json(_)) => {
            assert_eq!(format, SerializationFormat::Json, "msgpack always encodes");
            return;
        }
    };
    assert!(encoded.len() <= cap, "encoded above the cap");
    let (again, how_again) = codec
        .decode(&encoded)
        .expect("what we encode decodes again");
    assert_eq!(how_again, Decoded::AsConfigured);
    let lossless = format == SerializationFormat::MsgPack || how == Decoded::AsConfigured;
    if lossless {
        assert_eq!(again, map, "round trip changed the map");
    } else {
        // msgpack read as JSON: bin and timestamps become text once, then stable.
        let encoded_again = codec.encode(&again).expect("a JSON map encodes");
        assert_eq!(encoded_again, encoded, "JSON conversion is not stable");
    }
}

fn has_ext(value: &rmpv::Value) -> bool {
    match value {
        rmpv::Value::Ext(..) => true,
        rmpv::Value::Array(items) => items.iter().any(has_ext),
        rmpv::Value::Map(entries) => entries.iter().any(|(k, v)| has_ext(k) || has_ext(v)),
        _ => false,
    }
}
