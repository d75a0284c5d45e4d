//! The [`SessionManager`]: settings, store, signer and codec, shared by every
//! request. Adapters call [`SessionManager::open`] per request; admin tools use
//! the by-id operations.

use std::sync::Arc;

use session_config::Settings;

use crate::codec::{Codec, DecodeError};
use crate::cookie::{values_named, CookieWriter};
use crate::errors::LoadError;
use crate::id::SessionId;
use crate::map::SessionMap;
use crate::request::{CookieFound, RequestSession};
use crate::signing::{Signer, Verified};
use crate::store::{self, BuildError, SessionStore, StoreError};

/// Holds everything the lifecycle needs. Cheap to clone.
#[derive(Clone)]
pub struct SessionManager {
    pub(crate) inner: Arc<ManagerInner>,
}

pub(crate) struct ManagerInner {
    pub(crate) settings: Settings,
    pub(crate) store: Arc<dyn SessionStore>,
    pub(crate) signer: Option<Signer>,
    pub(crate) codec: Codec,
    pub(crate) cookies: CookieWriter,
}

impl std::fmt::Debug for SessionManager {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionManager")
            .field("backend", &self.inner.store.backend())
            .field("signed", &self.inner.signer.is_some())
            .finish_non_exhaustive()
    }
}

impl SessionManager {
    /// Builds the store the settings select and a manager over it.
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
        // A load has already logged the warnings; only the errors matter here.
        settings.validate()?;
        let signer = if settings.use_signer {
            let secret = settings
                .secret_key
                .as_ref()
                .ok_or(BuildError::SignerWithoutSecret)?;
            Some(Signer::new(
                secret.expose(),
                settings.secret_key_fallbacks.iter().map(|s| s.expose()),
            ))
        } else {
            None
        };
        let codec = Codec::new(settings.serialization_format, settings.max_session_bytes);
        let cookies = CookieWriter::new(settings.cookie.clone());
        Ok(Self {
            inner: Arc::new(ManagerInner {
                settings,
                store,
                signer,
                codec,
                cookies,
            }),
        })
    }

    /// The settings in force.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn SessionStore> {
        &self.inner.store
    }

    /// The cookie name adapters read.
    pub fn cookie_name(&self) -> &str {
        self.inner.cookies.name()
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
    pub fn open<'a>(&self, cookie_headers: impl IntoIterator<Item = &'a [u8]>) -> RequestSession {
        let name = self.cookie_name().as_bytes();
        let mut found = cookie_headers
            .into_iter()
            .flat_map(|header| values_named(header, name))
            .filter(|value| !value.is_empty())
            // A value that is not UTF-8 gets U+FFFD, which no sid holds:
            // it stays a cookie that was sent, and fails the shape check.
            .map(String::from_utf8_lossy);
        let values: Option<Arc<str>> = match (found.next(), found.next()) {
            (None, _) => None,
            (Some(only), None) => Some(Arc::from(only.as_ref())),
            (Some(first), Some(second)) => {
                let mut joined = format!("{first};{second}");
                for value in found {
                    joined.push(';');
                    joined.push_str(&value);
                }
                Some(joined.into())
            }
        };
        RequestSession::new(self.clone(), values)
    }

    /// The first valid cookie value: when several cookies carry the name
    /// (different Path or Domain), the first that verifies wins.
    pub(crate) fn find_valid_cookie(&self, values: Option<&Arc<str>>) -> CookieFound {
        let Some(values) = values else {
            return CookieFound::Absent;
        };
        // The usual case: one unsigned value, which becomes the sid. Several
        // values fail this shape check (`;` is not a sid character) and are
        // tried one by one below.
        if self.inner.signer.is_none() {
            if let Some(id) = SessionId::parse_shared(values) {
                return CookieFound::Valid { id, resign: false };
            }
        }
        values
            .split(';')
            .find_map(|value| self.verify(value))
            .unwrap_or(CookieFound::Invalid)
    }

    fn verify(&self, value: &str) -> Option<CookieFound> {
        match &self.inner.signer {
            Some(signer) => signer.verify(value).map(|verified| match verified {
                Verified::Current(id) => CookieFound::Valid { id, resign: false },
                Verified::Fallback(id) => CookieFound::Valid { id, resign: true },
            }),
            None => SessionId::parse(value).map(|id| CookieFound::Valid { id, resign: false }),
        }
    }

    /// The cookie value for a sid: signed when the signer is on.
    pub(crate) fn cookie_value<'a>(&self, id: &'a SessionId) -> std::borrow::Cow<'a, str> {
        match &self.inner.signer {
            Some(signer) => signer.sign(id).into(),
            None => id.expose().into(),
        }
    }

    /// The store key of a sid.
    pub(crate) fn store_key(&self, id: &SessionId) -> String {
        let prefix = &self.inner.settings.key_prefix;
        let mut key = String::with_capacity(prefix.len() + id.expose().len());
        key.push_str(prefix);
        key.push_str(id.expose());
        key
    }

    /// The store key of a sid, or `None` when it is longer than the store
    /// can hold (memcached's 250 bytes, the SQL column's 255): such a sid
    /// names no session, and must not reach the store.
    pub(crate) fn store_key_within_limit(&self, id: &SessionId) -> Option<String> {
        let length = self.inner.settings.key_prefix.len() + id.expose().len();
        match self.inner.store.max_key_len() {
            Some(max) if length > max => None,
            _ => Some(self.store_key(id)),
        }
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
        let Some(key) = self.store_key_within_limit(&id) else {
            return Ok(None);
        };
        let raw = self.inner.store.load(&key).await?;
        Ok(raw
            .and_then(|raw| self.decode_logged(&id, raw).ok())
            .map(|(map, _)| map))
    }

    /// Deletes a session by sid, outside a request (log a user out everywhere).
    ///
    /// # Errors
    ///
    /// [`StoreError`] when the store cannot be written.
    pub async fn delete_by_id(&self, sid: &str) -> Result<(), StoreError> {
        match SessionId::parse(sid).and_then(|id| self.store_key_within_limit(&id)) {
            Some(key) => self.inner.store.delete(&key).await,
            None => Ok(()),
        }
    }

    /// Moves a stored session to a new sid, outside a request; the new sid, or
    /// `None` when there was no such session. The new record is written before
    /// the old one is deleted.
    pub async fn regenerate_by_id(
        &self,
        sid: &str,
    ) -> Result<Option<SessionId>, crate::errors::FinishError> {
        let Some(old_key) = SessionId::parse(sid).and_then(|id| self.store_key_within_limit(&id))
        else {
            return Ok(None);
        };
        let Some(raw) = self.inner.store.load(&old_key).await? else {
            return Ok(None);
        };
        let new = SessionId::generate(self.inner.settings.id_length.get()).map_err(|e| {
            crate::errors::FinishError::Store(StoreError::failed("session", "regenerate", e))
        })?;
        let ttl = self.inner.settings.permanent_session_lifetime;
        self.inner
            .store
            .save(&self.store_key(&new), &raw, ttl, store::SaveHint::New)
            .await?;
        self.inner.store.delete(&old_key).await?;
        Ok(Some(new))
    }

    /// Stores `map` as a new session, outside a request, and returns the cookie
    /// value that names it (signed when `use_signer` is on): for test fixtures,
    /// and for tools that hand a browser a session made elsewhere. Like a new
    /// session of a request, it is permanent when `permanent` is on, unless
    /// `map` sets `_permanent` itself. One store write, with the lifetime as
    /// its TTL.
    pub async fn create(&self, map: &SessionMap) -> Result<String, crate::errors::FinishError> {
        let mut map = map.clone();
        if self.inner.settings.permanent && !map.contains_key(crate::map::PERMANENT_KEY) {
            map.set_permanent(true);
        }
        let bytes = self.inner.codec.encode(&map)?;
        let id = SessionId::generate(self.inner.settings.id_length.get()).map_err(|e| {
            crate::errors::FinishError::Store(StoreError::failed("session", "create", e))
        })?;
        let ttl = self.inner.settings.permanent_session_lifetime;
        self.inner
            .store
            .save(&self.store_key(&id), &bytes, ttl, store::SaveHint::New)
            .await?;
        Ok(self.cookie_value(&id).into_owned())
    }

    /// Reads the session a cookie value names, outside a request: the
    /// signature is checked when `use_signer` is on, then one store read that
    /// does not slide the expiry. `Ok(None)` when the value is invalid or
    /// badly signed, or the session is missing or cannot be decoded.
    pub async fn load_by_cookie(&self, value: &str) -> Result<Option<SessionMap>, LoadError> {
        match self.verify(value) {
            Some(CookieFound::Valid { id, .. }) => self.load_by_id(id.expose()).await,
            _ => Ok(None),
        }
    }

    /// Decodes a stored value, logging (without data or raw sid) when it cannot.
    pub(crate) fn decode_logged(
        &self,
        id: &SessionId,
        raw: Vec<u8>,
    ) -> Result<(SessionMap, crate::codec::Decoded), DecodeError> {
        self.inner.codec.decode_owned(raw).inspect_err(|error| {
            tracing::warn!(
                session = %id,
                backend = self.inner.store.backend(),
                %error,
                "stored session cannot be decoded; starting a fresh session"
            );
        })
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
        let manager = manager(Settings {
            use_signer: true,
            secret_key: Some(Secret::new("a-test-secret-that-is-long-enough-0123")),
            ..Settings::default()
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
