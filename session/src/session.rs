//! The loaded session of one request, shared by every guard or extractor that
//! asks for it: one map per request, whatever number of views.

use std::sync::{Arc, MutexGuard};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::data::{SessionData, Typed};
use crate::id::SessionId;
use crate::map::SessionMap;
use crate::request::RequestInner;
use crate::value::ValueError;

/// What the finish step compares against to decide whether the map changed.
#[derive(Debug, Clone)]
pub(crate) enum Baseline {
    /// No record was loaded: any non-empty map is a change.
    New,
    /// The record the map was decoded from is its canonical encoding
    /// ([`SessionMap`]'s stored bytes).
    Record,
    /// The canonical encoding of the map as loaded.
    Encoded(Vec<u8>),
    /// The loaded map has no encoding in the configured format; any mutation
    /// counts as a change.
    Unencodable,
}

/// Everything the lifecycle tracks about a loaded session.
pub(crate) struct SessionState {
    pub(crate) map: SessionMap,
    /// The sid the cookie will carry.
    pub(crate) id: SessionId,
    /// The store key the record was read under, kept so finish need not
    /// build it again; `None` when no record was read.
    pub(crate) loaded_key: Option<String>,
    /// A record was read from the store for this request.
    pub(crate) record_existed: bool,
    /// After `regenerate()`: the sid whose record must be deleted once the
    /// session is saved under its new sid.
    pub(crate) replaced_id: Option<SessionId>,
    pub(crate) baseline: Baseline,
    /// A mutating call happened since load; without one, no encode is needed.
    pub(crate) touched: bool,
    pub(crate) regenerated: bool,
    /// A cookie was sent but named no live record: invalid, badly signed, or
    /// missing from the store.
    pub(crate) stale_cookie: bool,
    /// The request carried a session cookie, valid or not.
    pub(crate) cookie_sent: bool,
    /// The cookie verified with a fallback key and should be re-signed.
    pub(crate) resign: bool,
    /// A typed view failed to write back; reported at finish.
    pub(crate) pending_error: Option<ValueError>,
}

/// Never shows the map's values or the loaded key: the one is user data, the
/// other holds the raw sid, a bearer token.
impl std::fmt::Debug for SessionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionState")
            .field("id", &self.id)
            .field("keys", &self.map.keys().collect::<Vec<_>>())
            .field("record_existed", &self.record_existed)
            .field("regenerated", &self.regenerated)
            .field("replaced_id", &self.replaced_id)
            .field("touched", &self.touched)
            .field("stale_cookie", &self.stale_cookie)
            .field("cookie_sent", &self.cookie_sent)
            .field("resign", &self.resign)
            .finish_non_exhaustive()
    }
}

impl SessionState {
    /// The state of a request before its load: empty, and never seen by a
    /// [`Session`], which exists only once the load has replaced it.
    pub(crate) fn unloaded() -> Self {
        Self {
            map: SessionMap::new(),
            id: SessionId::placeholder(),
            loaded_key: None,
            record_existed: false,
            replaced_id: None,
            baseline: Baseline::New,
            touched: false,
            regenerated: false,
            stale_cookie: false,
            cookie_sent: false,
            resign: false,
            pending_error: None,
        }
    }
}

/// A handle on the request's session. Cheap to clone; every clone sees the
/// same map. Reads and writes are synchronous: the store is only involved at
/// load and at finish.
///
/// Concurrent requests on one session are last-writer-wins on the whole map,
/// as in Flask.
#[derive(Clone)]
pub struct Session {
    request: Arc<RequestInner>,
}

/// Shows the sid's log tag and the keys, never the values: a session is user
/// data and its sid a bearer token.
impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("Session")
            .field("id", &state.id)
            .field("keys", &state.map.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A handle on a request whose session is loaded.
    pub(crate) fn new(request: Arc<RequestInner>) -> Self {
        Self { request }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, SessionState> {
        self.request.state()
    }

    /// The value under `key`; `Ok(None)` when absent, an error when it does not
    /// fit `T`.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, ValueError> {
        self.lock().map.get(key)
    }

    /// The value under `key` in its JSON form (binary as base64, timestamps as
    /// RFC 3339), whatever its type; `None` when absent or not representable.
    pub fn get_json(&self, key: &str) -> Option<serde_json::Value> {
        let state = self.lock();
        let raw = state.map.get_raw(key)?;
        crate::codec::value_to_json(key, raw).ok()
    }

    /// Stores `value` under `key`.
    pub fn insert<T: Serialize + ?Sized>(&self, key: &str, value: &T) -> Result<(), ValueError> {
        let mut state = self.lock();
        state.map.insert(key, value)?;
        state.touched = true;
        Ok(())
    }

    /// Removes `key`; true if it was present.
    pub fn remove(&self, key: &str) -> bool {
        let mut state = self.lock();
        state.touched = true;
        state.map.remove(key)
    }

    /// Whether `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.lock().map.contains_key(key)
    }

    /// The keys, in order, `_permanent` included.
    pub fn keys(&self) -> Vec<String> {
        self.lock().map.keys().map(str::to_owned).collect()
    }

    /// True when the session holds no key but `_permanent`.
    pub fn is_empty(&self) -> bool {
        self.lock().map.is_empty()
    }

    /// Empties the session. At finish the record is deleted and the browser
    /// told to drop the cookie.
    ///
    /// Like Flask-Session's `clear()`, it keeps the permanent flag (stored as
    /// `_permanent`, `false` when it was absent): a session cleared and filled
    /// again in one request, as on a log-out and log-in, stays as permanent as
    /// it was, here and in a Flask app sharing it.
    pub fn clear(&self) {
        let mut state = self.lock();
        let permanent = state.map.is_permanent();
        state.map.clear();
        state.map.set_permanent(permanent);
        state.touched = true;
    }

    /// Moves the session to a new sid, keeping its data: call it on login to
    /// defeat session fixation. The old record is deleted at finish, after the
    /// new one is written.
    ///
    /// It moves whenever the request came with a session cookie or loaded a
    /// record, whatever the map holds: a login handler that calls `clear()`
    /// first still leaves the old sid behind, so a sid an attacker planted
    /// never becomes a logged-in one. Only a brand-new session, which has a
    /// sid no one has seen, is left as it is.
    ///
    /// # Errors
    ///
    /// [`RandomSourceError`](crate::id::RandomSourceError) when the OS random
    /// source cannot give a new sid; the session is then unchanged.
    pub fn regenerate(&self) -> Result<(), crate::id::RandomSourceError> {
        let mut state = self.lock();
        if !state.record_existed && !state.cookie_sent {
            return Ok(());
        }
        let id_bytes = self.request.manager().settings().id_length.get();
        let old = std::mem::replace(&mut state.id, SessionId::generate(id_bytes)?);
        if state.record_existed && state.replaced_id.is_none() {
            state.replaced_id = Some(old);
        }
        state.regenerated = true;
        state.touched = true;
        Ok(())
    }

    /// Whether the cookie outlives the browser session.
    pub fn is_permanent(&self) -> bool {
        self.lock().map.is_permanent()
    }

    /// Sets the permanent flag (stored as `_permanent`, as Flask does).
    pub fn set_permanent(&self, permanent: bool) {
        let mut state = self.lock();
        state.map.set_permanent(permanent);
        state.touched = true;
    }

    /// A copy of the whole map, for inspection.
    pub fn snapshot(&self) -> SessionMap {
        self.lock().map.clone()
    }

    /// A typed view of the keys `T` owns. Its changes are written back into
    /// this session's map when it is dropped (or by [`Typed::sync`]).
    pub fn typed<T: SessionData>(&self) -> Typed<T> {
        Typed::load(self.clone())
    }

    /// [`Self::typed`], consuming this handle.
    pub fn into_typed<T: SessionData>(self) -> Typed<T> {
        Typed::load(self)
    }

    /// Applies the changed fields of a typed view: only keys whose encoding
    /// differs from `before` are written, so a value `T` could not read is never
    /// overwritten just because it was read. `None` is an absent key.
    pub(crate) fn write_fields<'a>(
        &self,
        keys: &[&'static str],
        before: impl Iterator<Item = Option<&'a [u8]>>,
        after: impl Iterator<Item = Option<&'a [u8]>>,
    ) {
        let mut state = self.lock();
        for ((key, old), new) in keys.iter().zip(before).zip(after) {
            if old == new {
                continue;
            }
            state.touched = true;
            match new {
                Some(raw) => state.map.insert_static(key, raw),
                None => {
                    state.map.remove(key);
                }
            }
        }
    }

    pub(crate) fn record_error(&self, error: ValueError) {
        self.lock().pending_error.get_or_insert(error);
    }
}

#[cfg(all(test, feature = "memory"))]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::Arc;

    use crate::store::memory::MemoryStore;
    use crate::{SessionManager, Settings};

    /// Flask-Session 0.8's `ServerSideSession.clear()` keeps `_permanent`
    /// (`False` when absent). Clearing used to drop it too, so a session
    /// cleared and refilled in one request lost its permanence: a
    /// browser-session cookie here, and `session.permanent == False` in a
    /// Flask app sharing the store.
    #[tokio::test]
    async fn clear_keeps_the_permanent_flag_as_flask_does() {
        let manager =
            SessionManager::new(Settings::default(), Arc::new(MemoryStore::new())).unwrap();
        let request = manager.open([]);
        request.load().await.unwrap().insert("user", "ada").unwrap();
        let cookie = request.finish(200).await.unwrap().set_cookie.unwrap();
        let cookie = cookie.split(';').next().unwrap().to_owned();

        let request = manager.open([cookie.as_bytes()]);
        let session = request.load().await.unwrap();
        session.clear();
        assert!(session.is_empty());
        assert!(session.is_permanent());
        assert_eq!(session.keys(), ["_permanent"]);
        session.insert("user", "grace").unwrap();
        let set_cookie = request.finish(200).await.unwrap().set_cookie.unwrap();
        assert!(set_cookie.contains("Expires="), "{set_cookie}");

        let request = manager.open([cookie.as_bytes()]);
        let session = request.load().await.unwrap();
        assert_eq!(
            session.get::<String>("user").unwrap().as_deref(),
            Some("grace")
        );
        session.set_permanent(false);
        session.clear();
        assert!(!session.is_permanent());
        assert_eq!(session.keys(), ["_permanent"]);
        assert!(session.snapshot().get::<bool>("_permanent").unwrap() == Some(false));

        // Clearing alone still deletes the record and the cookie.
        let outcome = request.finish(200).await.unwrap();
        assert!(outcome.set_cookie.unwrap().contains("Max-Age=0"));
        assert!(manager
            .load_by_cookie(&cookie["session=".len()..])
            .await
            .unwrap()
            .is_none());
    }
}
