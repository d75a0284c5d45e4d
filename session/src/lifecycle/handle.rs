//! The loaded session of one request, shared by every guard or extractor that
//! asks for it: one map per request, whatever number of views.

use std::sync::{Arc, MutexGuard};

use serde::de::DeserializeOwned;
use serde::Serialize;

use std::time::SystemTime;

use crate::map::SessionMap;
use crate::owner::{check_owner, owner_in, LoginError, SessionHandle, CREATED_KEY, FRESH_KEY};
use crate::value::ValueError;

use super::shared::RequestShared;
use super::state::SessionState;

/// A handle on the request's session. Cheap to clone; every clone sees the
/// same map. Reads and writes are synchronous: the store is only involved at
/// load and at finish.
///
/// Concurrent requests on one session never lose each other's changes: at
/// finish, this request's changed keys are merged onto whatever another
/// request saved meanwhile (`write_mode = "merge"`, the default). After
/// finish, a handle kept past the response no longer sees the map.
#[derive(Clone)]
pub struct Session {
    request: Arc<RequestShared>,
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
    pub(crate) fn new(request: Arc<RequestShared>) -> Self {
        Self { request }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, SessionState> {
        self.request.state()
    }

    /// The value under `key`; `Ok(None)` when absent, an error when it does not
    /// fit `T`.
    ///
    /// # Errors
    ///
    /// [`ValueError`] when the stored value does not fit `T`.
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
    ///
    /// # Errors
    ///
    /// [`ValueError`] when `value` cannot be encoded; the session is then
    /// unchanged.
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
        self.move_to_new_id(&mut state)
    }

    /// The move of [`Self::regenerate`], under the caller's lock.
    fn move_to_new_id(&self, state: &mut SessionState) -> Result<(), crate::id::RandomSourceError> {
        if !state.record_existed && !state.cookie_sent {
            return Ok(());
        }
        let old = std::mem::replace(&mut state.id, self.request.engine().new_id()?);
        if state.record_existed && state.replaced_id.is_none() {
            state.replaced_id = Some(old);
        }
        state.regenerated = true;
        state.touched = true;
        Ok(())
    }

    /// Logs `owner` in: moves the session to a new sid whenever the client
    /// brought one (a cookie, valid or not, or a record; also after
    /// [`Self::clear`]), so a sid planted by an attacker never becomes a
    /// logged-in one; then sets the owner under `owner_key` and Flask-Login's
    /// `_fresh`, and, when `absolute_lifetime` is configured, restarts the
    /// session's lifetime (`_created`). At finish the store's owner index
    /// gains this session (and loses the old sid's entry).
    ///
    /// The rest of the session is kept: call [`Self::clear`] first for a
    /// clean slate.
    ///
    /// # Errors
    ///
    /// [`LoginError::Owner`] when `owner` is empty, longer than
    /// [`MAX_OWNER_LEN`](crate::store::MAX_OWNER_LEN) bytes or holds a control
    /// character, and
    /// [`LoginError::Random`] when no new sid can be made; the session is
    /// then unchanged.
    pub fn login(&self, owner: &str) -> Result<(), LoginError> {
        check_owner(owner)?;
        let settings = self.request.engine().settings();
        let mut state = self.lock();
        self.move_to_new_id(&mut state)?;
        let now = SystemTime::now();
        state.map.insert(&settings.owner_key, owner)?;
        state.map.insert(FRESH_KEY, &true)?;
        if settings.absolute_lifetime.is_some() {
            state
                .map
                .insert(CREATED_KEY, &crate::store::unix_seconds(now))?;
        }
        state.logged_in_at = Some(now);
        state.touched = true;
        Ok(())
    }

    /// Ends the session: at finish its record is deleted, the store's owner
    /// index forgets it, and the client is told to drop its cookie. Anything
    /// written after the logout in the same request starts a new, anonymous
    /// session under a new sid.
    ///
    /// # Errors
    ///
    /// [`RandomSourceError`](crate::id::RandomSourceError) when no new sid
    /// can be made for what is written after it; the session is then
    /// cleared all the same.
    pub fn logout(&self) -> Result<(), crate::id::RandomSourceError> {
        self.clear();
        let mut state = self.lock();
        self.move_to_new_id(&mut state)
    }

    /// The logged-in owner: the value under `owner_key`, as text (an integer
    /// as its decimal text); `None` when nobody is logged in.
    pub fn owner(&self) -> Option<String> {
        let owner_key = &self.request.engine().settings().owner_key;
        owner_in(&self.lock().map, owner_key)
    }

    /// This session's opaque handle, as
    /// [`SessionManager::sessions_of`](crate::SessionManager::sessions_of)
    /// lists it: compare it with a listing's handles to mark the current
    /// device. It names the session's sid as of now (a `login()` or
    /// `regenerate()` changes it).
    pub fn handle(&self) -> SessionHandle {
        let engine = self.request.engine();
        let state = self.lock();
        engine.handle_of(&engine.store_key(&state.id))
    }

    /// The manager this session belongs to: for a handler that lists or ends
    /// its owner's other sessions.
    pub fn manager(&self) -> crate::SessionManager {
        crate::SessionManager::from_engine(self.request.shared_engine())
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
