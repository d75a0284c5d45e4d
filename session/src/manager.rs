//! The [`SessionManager`]: what an app holds. Adapters call
//! [`SessionManager::open`] per request; admin tools and websockets use the
//! by-id operations.

use std::sync::Arc;
use std::time::SystemTime;

use session_config::Settings;

use crate::engine::{CookieFound, Engine};
use crate::errors::{FinishError, LoadError};
use crate::id::SessionId;
use crate::lifecycle::RequestSession;
use crate::map::SessionMap;
use crate::owner::{index_ttl, owner_in, OwnedSession, SessionHandle, INDEXED_KEY};
use crate::store::{self, BuildError, SaveHint, SessionStore, StoreError};

/// Holds the settings, the store, the signer and the codec that every request
/// uses. Cheap to clone.
///
/// ```
/// use std::sync::Arc;
/// use session::{store::memory::MemoryStore, SessionManager, Settings};
///
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// let manager = SessionManager::new(Settings::default(), Arc::new(MemoryStore::new()))?;
/// let cookie = manager.create(&session::SessionMap::new()).await?;
/// assert!(manager.load_by_cookie(&cookie).await?.is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct SessionManager {
    engine: Arc<Engine>,
}

impl std::fmt::Debug for SessionManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionManager")
            .field("backend", &self.engine.store().backend())
            .field("signed", &self.engine.is_signed())
            .finish_non_exhaustive()
    }
}

impl SessionManager {
    /// Builds the store the settings select and a manager over it.
    ///
    /// # Errors
    ///
    /// A [`BuildError`] when the store cannot be built (its backend is not
    /// compiled in, or cannot be reached or prepared: the error names it and
    /// its location, with any password redacted), or when the settings break
    /// a rule (see [`Self::new`]).
    pub async fn from_settings(settings: Settings) -> Result<Self, BuildError> {
        let store = store::from_settings(&settings).await?;
        Self::new(settings, store)
    }

    /// A manager over a store the app built itself.
    ///
    /// # Errors
    ///
    /// [`BuildError::Settings`] when `settings` break a rule that loading them
    /// would have caught (settings built or changed in code are checked here
    /// by the same rules), and [`BuildError::SignerWithoutSecret`].
    pub fn new(settings: Settings, store: Arc<dyn SessionStore>) -> Result<Self, BuildError> {
        Ok(Self {
            engine: Arc::new(Engine::new(settings, store)?),
        })
    }

    /// The manager of a request's engine.
    pub(crate) fn from_engine(engine: Arc<Engine>) -> Self {
        Self { engine }
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        self.engine.settings()
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn SessionStore> {
        self.engine.store()
    }

    /// Shuts the sessions down, for an orderly exit once the server has
    /// stopped taking requests: from now on every session operation (a
    /// request's load or save, the by-id operations) fails as unavailable
    /// (503, [`StoreErrorKind::Unavailable`](crate::store::StoreErrorKind)),
    /// then the store ends its background cleanup, waiting until it has
    /// ended, and closes the pool or client it built
    /// ([`SessionStore::shutdown`]). Every clone of the manager shares this.
    /// Idempotent: a second call returns at once.
    ///
    /// The Rocket fairing calls it on Rocket's shutdown; a Poem app calls it
    /// after `Server::run_with_graceful_shutdown` returns.
    pub async fn shutdown(&self) {
        if self.engine.mark_shut_down() {
            return;
        }
        tracing::debug!(
            backend = self.engine.store().backend(),
            "shutting the session store down"
        );
        self.engine.store().shutdown().await;
    }

    /// Whether [`Self::shutdown`] was called.
    pub fn is_shut_down(&self) -> bool {
        self.engine.is_shut_down()
    }

    /// The cookie name adapters read.
    pub fn cookie_name(&self) -> &str {
        self.engine.cookies().name()
    }

    /// The session header's name (`header_name`), when header transport is
    /// on: adapters pass its values to [`Self::open_with_header`].
    pub fn header_name(&self) -> Option<&str> {
        self.engine.header_name().map(|name| &**name)
    }

    /// Step 1 of the lifecycle, cheap and without I/O: keeps the values of
    /// the session cookie from the request's `Cookie` headers, given as the
    /// bytes they arrived as. They are checked (shape, then signature) only
    /// if a handler loads the session, so a route that never asks for it pays
    /// for no HMAC. Nothing invalid ever reaches the store.
    ///
    /// Other cookies' bytes never matter: one that another app set to UTF-8
    /// or Latin-1 text does not hide the session cookie beside it. A session
    /// cookie whose value is not text is an invalid cookie (a fresh session
    /// and a deletion cookie), never an error.
    ///
    /// A request opened here is always a cookie request; an adapter for an
    /// app that may turn header transport on calls [`Self::open_with_header`].
    pub fn open<'a>(&self, cookie_headers: impl IntoIterator<Item = &'a [u8]>) -> RequestSession {
        RequestSession::open(self.engine.clone(), cookie_headers, [])
    }

    /// Step 1 of the lifecycle with header transport (`header_name`, design
    /// §14): `session_headers` are the values of the request's
    /// [`header_name`](Self::header_name) header, as bytes, one per header
    /// line (none when the request does not carry it, or when header
    /// transport is off: then they are not read at all).
    ///
    /// A request that carries the header is a header request for its whole
    /// life: its cookies are not read, its sid is the header's value (the
    /// cookie value's format: signed when the signer is on), and its
    /// response carries a [`SessionHeader`](crate::SessionHeader) and never
    /// a `Set-Cookie`. An empty value is a client without a session yet; an
    /// invalid one, or several header lines, starts a fresh session, as an
    /// invalid cookie does; a sid the store does not hold is never adopted.
    /// A request without the header is exactly [`Self::open`]'s cookie
    /// request, so browsers and API clients share one deployment.
    pub fn open_with_header<'a, 'b>(
        &self, cookie_headers: impl IntoIterator<Item = &'a [u8]>,
        session_headers: impl IntoIterator<Item = &'b [u8]>,
    ) -> RequestSession {
        RequestSession::open(self.engine.clone(), cookie_headers, session_headers)
    }

    /// Reads a session by sid, outside a request (admin tools, websockets).
    /// `Ok(None)` when it is missing or cannot be decoded.
    ///
    /// # Errors
    ///
    /// [`LoadError::Store`] when the store cannot be read.
    pub async fn load_by_id(&self, sid: &str) -> Result<Option<SessionMap>, LoadError> {
        let Some(id) = SessionId::parse(sid) else {
            return Ok(None);
        };
        let Some(key) = self.engine.store_key_within_limit(&id) else {
            return Ok(None);
        };
        let raw = self.engine.live_store("load")?.load(&key).await?;
        Ok(raw
            .and_then(|raw| self.engine.decode_logged(&id, raw).ok())
            .map(|(map, _)| map))
    }

    /// Deletes a session by sid, outside a request (log a user out everywhere).
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot be written.
    pub async fn delete_by_id(&self, sid: &str) -> Result<(), StoreError> {
        match SessionId::parse(sid).and_then(|id| self.engine.store_key_within_limit(&id)) {
            Some(key) => self.engine.live_store("delete")?.delete(&key).await,
            None => Ok(()),
        }
    }

    /// Moves a stored session to a new sid, outside a request; the new sid, or
    /// `None` when there was no such session. The new record is written before
    /// the old one is deleted. A logged-in session moves in its owner's index
    /// too, keeping its login time, so that a revoke still reaches it: the new
    /// entry is added before the old record is deleted.
    ///
    /// # Errors
    ///
    /// [`FinishError::Store`] when the store cannot be read or written, also
    /// when no new sid can be made. When the new entry cannot be added, the
    /// new record is deleted again and the session stays under its old sid.
    pub async fn regenerate_by_id(&self, sid: &str) -> Result<Option<SessionId>, FinishError> {
        let Some(old_key) =
            SessionId::parse(sid).and_then(|id| self.engine.store_key_within_limit(&id))
        else {
            return Ok(None);
        };
        let store = self.engine.live_store("regenerate")?;
        let Some(raw) = store.load(&old_key).await? else {
            return Ok(None);
        };
        let new = self.new_id("regenerate")?;
        let ttl = self.settings().permanent_session_lifetime;
        let new_key = self.engine.store_key(&new);
        store.save(&new_key, &raw, ttl, SaveHint::New).await?;
        // The owner the index holds the record under (a record another app
        // wrote, which does not decode, has none).
        let owner = self
            .engine
            .codec()
            .decode(&raw)
            .ok()
            .and_then(|(map, _)| map.get::<String>(INDEXED_KEY).ok().flatten());
        if let Some(owner) = &owner {
            let created = store
                .list_owned(owner)
                .await?
                .into_iter()
                .find(|entry| entry.key == old_key)
                .and_then(|entry| entry.created)
                .unwrap_or_else(SystemTime::now);
            let indexed = store
                .add_owned(owner, &new_key, created, index_ttl(self.settings()))
                .await;
            if let Err(error) = indexed {
                // A logged-in session the index does not hold could not be
                // revoked: the copy is taken back.
                if let Err(undo) = store.delete(&new_key).await {
                    tracing::warn!(%undo, "a moved session that could not be indexed could not be deleted either");
                }
                return Err(error.into());
            }
        }
        store.delete(&old_key).await?;
        if let Some(owner) = &owner {
            if let Err(error) = store.remove_owned(owner, &old_key).await {
                tracing::warn!(%error, "a moved session's old entry stays in its owner's index until the next listing prunes it");
            }
        }
        Ok(Some(new))
    }

    /// Stores `map` as a new session, outside a request, and returns the cookie
    /// value that names it (signed when `use_signer` is on): for test fixtures,
    /// and for tools that hand a browser a session made elsewhere. Like a new
    /// session of a request, it is permanent when `permanent` is on, unless
    /// `map` sets `_permanent` itself. One store write, with the lifetime as
    /// its TTL.
    ///
    /// # Errors
    ///
    /// [`FinishError::Encode`] when `map` is too large or cannot be encoded,
    /// and [`FinishError::Store`] when the store cannot be written.
    pub async fn create(&self, map: &SessionMap) -> Result<String, FinishError> {
        let mut map = map.clone();
        if self.settings().permanent && !map.contains_key(crate::map::PERMANENT_KEY) {
            map.set_permanent(true);
        }
        let bytes = self.engine.codec().encode(&map)?;
        let id = self.new_id("create")?;
        let ttl = self.settings().permanent_session_lifetime;
        let key = self.engine.store_key(&id);
        self.engine
            .live_store("create")?
            .save(&key, &bytes, ttl, SaveHint::New)
            .await?;
        Ok(self.engine.cookie_value(&id).into_owned())
    }

    /// Reads the session a cookie value names, outside a request: the
    /// signature is checked when `use_signer` is on, then one store read that
    /// does not slide the expiry. `Ok(None)` when the value is invalid or
    /// badly signed, or the session is missing or cannot be decoded.
    ///
    /// # Errors
    ///
    /// [`LoadError::Store`] when the store cannot be read.
    pub async fn load_by_cookie(&self, value: &str) -> Result<Option<SessionMap>, LoadError> {
        match self.engine.verify(value) {
            Some(CookieFound::Valid { id, .. }) => self.load_by_id(id.expose()).await,
            _ => Ok(None),
        }
    }

    /// Every live session of `owner`, one entry per device: an opaque handle
    /// (never the sid), and when it was logged in and expires where the
    /// store knows. Entries whose session has ended are pruned on the way.
    /// Only this app's sessions are listed: in a store shared with apps of
    /// other `key_prefix`es, theirs are not. On memcached the listing is
    /// best-effort (see the store's docs).
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot be read.
    pub async fn sessions_of(&self, owner: &str) -> Result<Vec<OwnedSession>, StoreError> {
        let entries = self.owned_entries(owner, "list").await?;
        Ok(entries
            .into_iter()
            .map(|entry| OwnedSession {
                handle: self.engine.handle_of(&entry.key),
                created: entry.created,
                expires: entry.expires,
            })
            .collect())
    }

    /// Ends one session of `owner`, named by its handle: its record is
    /// deleted, so a request that still holds it finds it gone when it saves
    /// and cannot bring it back (`write_mode = "merge"`). `Ok(false)` when
    /// `owner` has no live session with that handle.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot be read or written.
    pub async fn revoke(&self, owner: &str, handle: &SessionHandle) -> Result<bool, StoreError> {
        let ended = self
            .revoke_where(owner, |candidate| candidate == handle)
            .await?;
        Ok(ended > 0)
    }

    /// Ends every session of `owner` ("log out everywhere", after a password
    /// change); the number ended.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot be read or written; sessions
    /// ended before the error stay ended.
    pub async fn revoke_all(&self, owner: &str) -> Result<usize, StoreError> {
        self.revoke_where(owner, |_| true).await
    }

    /// Ends every session of `owner` but `current` ("log out my other
    /// devices"); the number ended.
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot be read or written; sessions
    /// ended before the error stay ended.
    pub async fn revoke_all_except(
        &self, owner: &str, current: &SessionHandle,
    ) -> Result<usize, StoreError> {
        self.revoke_where(owner, |candidate| candidate != current)
            .await
    }

    /// Deletes each listed session of `owner` (this app's only) whose handle
    /// `chosen` accepts, record first, then its index entry.
    async fn revoke_where(
        &self, owner: &str, chosen: impl Fn(&SessionHandle) -> bool,
    ) -> Result<usize, StoreError> {
        let store = self.engine.live_store("revoke")?;
        let mut ended = 0;
        for entry in self.owned_entries(owner, "revoke").await? {
            if !chosen(&self.engine.handle_of(&entry.key)) {
                continue;
            }
            store.delete(&entry.key).await?;
            store.remove_owned(owner, &entry.key).await?;
            ended += 1;
        }
        Ok(ended)
    }

    /// The index entries of `owner` that are this app's (its `key_prefix`)
    /// and whose session still names `owner` under `owner_key`. The index
    /// changes when this app saves a session; a Flask app sharing the store
    /// logs users in and out (Flask-Login's `login_user`, `logout_user`)
    /// under the same sid without touching it, so each listed record is read:
    /// one now logged in as someone else, or as nobody, is not `owner`'s,
    /// and its entry is pruned. A record that does not decode (another
    /// app's format) is kept: the index is all there is to go by.
    async fn owned_entries(
        &self, owner: &str, operation: &'static str,
    ) -> Result<Vec<crate::store::IndexedSession>, StoreError> {
        let store = self.engine.live_store(operation)?;
        let owner_key = &self.settings().owner_key;
        let mut owned = Vec::new();
        for entry in store.list_owned(owner).await? {
            if !self.engine.is_own_store_key(&entry.key) {
                continue;
            }
            let Some(raw) = store.load(&entry.key).await? else {
                continue;
            };
            let still_owned = match self.engine.codec().decode(&raw) {
                Ok((map, _)) => owner_in(&map, owner_key).as_deref() == Some(owner),
                Err(_) => true,
            };
            if still_owned {
                owned.push(entry);
            } else if let Err(error) = store.remove_owned(owner, &entry.key).await {
                tracing::warn!(%error, "a session no longer logged in as its indexed owner stays in the index until the next listing");
            }
        }
        Ok(owned)
    }

    /// A new sid, or the random source's failure as a store error of
    /// `operation`.
    fn new_id(&self, operation: &'static str) -> Result<SessionId, FinishError> {
        self.engine
            .new_id()
            .map_err(|e| FinishError::Store(StoreError::failed("session", operation, e)))
    }
}

#[cfg(all(test, feature = "memory"))]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::store::memory::MemoryStore;
    use session_config::Secret;

    fn manager(settings: Settings) -> SessionManager {
        SessionManager::new(settings, Arc::new(MemoryStore::new())).unwrap()
    }

    #[tokio::test]
    async fn create_stores_a_session_that_a_request_loads() {
        let manager = manager(Settings::default());
        let mut map = SessionMap::new();
        map.insert("user", "ada").unwrap();
        let value = manager.create(&map).await.unwrap();
        assert!(
            SessionId::parse(&value).is_some(),
            "an unsigned cookie value is the sid"
        );

        let request = manager.open([format!("session={value}").as_bytes()]);
        let session = request.load().await.unwrap();
        assert_eq!(
            session.get::<String>("user").unwrap().as_deref(),
            Some("ada")
        );
        assert!(
            session.is_permanent(),
            "permanent by default, like a new session"
        );

        let read = manager.load_by_cookie(&value).await.unwrap().unwrap();
        assert_eq!(read.get::<String>("user").unwrap().as_deref(), Some("ada"));
        assert!(manager.load_by_cookie("garbage!!").await.unwrap().is_none());
        assert!(
            manager
                .load_by_cookie(&"A".repeat(43))
                .await
                .unwrap()
                .is_none(),
            "missing"
        );
    }

    #[tokio::test]
    async fn create_keeps_an_explicit_permanent_flag() {
        let manager = manager(Settings::default());
        let mut map = SessionMap::new();
        map.set_permanent(false);
        let value = manager.create(&map).await.unwrap();
        assert!(!manager
            .load_by_cookie(&value)
            .await
            .unwrap()
            .unwrap()
            .is_permanent());
    }

    #[tokio::test]
    async fn create_signs_and_load_by_cookie_verifies_when_the_signer_is_on() {
        let manager = manager({
            let mut settings = Settings::default();
            settings.use_signer = true;
            settings.secret_key = Some(Secret::new("a-test-secret-that-is-long-enough-0123"));
            settings
        });
        let value = manager.create(&SessionMap::new()).await.unwrap();
        let (sid, _) = value.rsplit_once('.').unwrap();
        assert!(manager.load_by_cookie(&value).await.unwrap().is_some());
        assert!(
            manager.load_by_cookie(sid).await.unwrap().is_none(),
            "unsigned is refused"
        );
        let forged = format!("{sid}.AAAAAAAAAAAAAAAAAAAAAAAAAAA");
        assert!(manager.load_by_cookie(&forged).await.unwrap().is_none());
    }
}
