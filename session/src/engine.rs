//! What every request needs from its manager, in one crate-private type: the
//! validated settings, the store, the signer, the codec and the cookie writer,
//! with the helpers that turn a cookie or a session header into a sid and a
//! sid into a cookie value, a session header or a store key.
//!
//! [`SessionManager`](crate::SessionManager) wraps an [`Engine`] for apps, and
//! each request holds the same `Arc<Engine>`, so no request reaches into the
//! manager (ARCHITECTURE.md has the module map).

use std::borrow::Cow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use session_config::Settings;

use crate::codec::{Codec, DecodeError, Decoded};
use crate::cookie::CookieWriter;
use crate::id::{RandomSourceError, SessionId};
use crate::map::SessionMap;
use crate::signing::{Signer, Verified};
use crate::store::{BuildError, SessionStore, StoreError};
use crate::transport::{Delivery, SessionHeader, Transport};

/// The settings in force and everything built from them once.
pub(crate) struct Engine {
    settings: Settings,
    store: Arc<dyn SessionStore>,
    signer: Option<Signer>,
    codec: Codec,
    cookies: CookieWriter,
    /// The longest sid the store can hold under the key prefix, if it has a
    /// limit: read once, not per request.
    max_sid_len: Option<usize>,
    /// `header_name`, shared by every response that carries it.
    header_name: Option<Arc<str>>,
    /// `Cookie, <header_name>`: what a cookie request's response varies on
    /// when header transport is on, made once.
    vary_cookie_and_header: Option<Arc<str>>,
    /// Set by the manager's shutdown: no operation reaches the store after.
    shut_down: AtomicBool,
}

/// What the request's session cookies come to, once checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CookieFound {
    /// No cookie with the session's name.
    Absent,
    /// Cookies with the name, none valid (bad shape or bad signature).
    Invalid,
    /// A valid cookie, and whether a fallback key signed it (it is re-signed).
    Valid {
        id: SessionId,
        signed_with_fallback: bool,
    },
}

impl Engine {
    /// Validates `settings` (settings built or changed in code are held to
    /// the same rules as a load) and prepares the signer, codec and cookies.
    pub(crate) fn new(
        settings: Settings, store: Arc<dyn SessionStore>,
    ) -> Result<Self, BuildError> {
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
        let max_sid_len = store
            .max_key_len()
            .map(|max| max.saturating_sub(settings.key_prefix.len()));
        let header_name: Option<Arc<str>> = settings.header_name.as_deref().map(Arc::from);
        let vary_cookie_and_header = header_name
            .as_ref()
            .map(|name| Arc::from(format!("Cookie, {name}")));
        Ok(Self {
            settings,
            store,
            signer,
            codec,
            cookies,
            max_sid_len,
            header_name,
            vary_cookie_and_header,
            shut_down: AtomicBool::new(false),
        })
    }

    pub(crate) fn settings(&self) -> &Settings {
        &self.settings
    }

    pub(crate) fn store(&self) -> &Arc<dyn SessionStore> {
        &self.store
    }

    /// The store, for `operation`, unless the manager was shut down: then an
    /// unavailable (503) error, so a request that arrives during a shutdown
    /// gets a clean answer rather than a closed pool's.
    pub(crate) fn live_store(
        &self, operation: &'static str,
    ) -> Result<&Arc<dyn SessionStore>, StoreError> {
        if self.is_shut_down() {
            return Err(StoreError::unavailable(
                self.store.backend(),
                operation,
                "the session manager was shut down",
            ));
        }
        Ok(&self.store)
    }

    /// Marks the engine shut down; true if it already was.
    pub(crate) fn mark_shut_down(&self) -> bool {
        self.shut_down.swap(true, Ordering::AcqRel)
    }

    pub(crate) fn is_shut_down(&self) -> bool {
        self.shut_down.load(Ordering::Acquire)
    }

    pub(crate) fn codec(&self) -> &Codec {
        &self.codec
    }

    pub(crate) fn cookies(&self) -> &CookieWriter {
        &self.cookies
    }

    pub(crate) fn is_signed(&self) -> bool {
        self.signer.is_some()
    }

    /// `header_name`, when header transport is on.
    pub(crate) fn header_name(&self) -> Option<&Arc<str>> {
        self.header_name.as_ref()
    }

    /// What a loaded session's response varies on, beyond `Cookie` for a
    /// cookie request: with header transport on, every such response varies
    /// on the session header too (whether a request carries it decides which
    /// session answers), and a header request's varies on it alone (its
    /// cookies are never read). `None`: `Cookie` alone, or nothing.
    pub(crate) fn vary_beyond_cookie(&self, transport: Transport) -> Option<Arc<str>> {
        match transport {
            Transport::Cookie => self.vary_cookie_and_header.clone(),
            Transport::Header => self.header_name.clone(),
        }
    }

    /// A new sid of the configured length, from the OS random source.
    pub(crate) fn new_id(&self) -> Result<SessionId, RandomSourceError> {
        SessionId::generate(self.settings.id_length.get())
    }

    /// The first valid cookie value: when several cookies carry the name
    /// (different Path or Domain), the first that verifies wins. `values`
    /// holds them joined by `;`, which no cookie value can hold.
    pub(crate) fn find_valid_cookie(&self, values: Option<&Arc<str>>) -> CookieFound {
        let Some(values) = values else {
            return CookieFound::Absent;
        };
        // The usual case: one unsigned value, which becomes the sid. Several
        // values fail this shape check (`;` is not a sid character) and are
        // tried one by one below.
        if self.signer.is_none() {
            if let Some(id) = SessionId::parse_shared(values) {
                return CookieFound::Valid {
                    id,
                    signed_with_fallback: false,
                };
            }
        }
        values
            .split(';')
            .find_map(|value| self.verify(value))
            .unwrap_or(CookieFound::Invalid)
    }

    /// The session header's value checked, as one value: unlike cookies,
    /// a header names at most one sid.
    pub(crate) fn find_valid_header(&self, value: Option<&Arc<str>>) -> CookieFound {
        let Some(value) = value else {
            return CookieFound::Absent;
        };
        if self.signer.is_none() {
            return SessionId::parse_shared(value).map_or(CookieFound::Invalid, |id| {
                CookieFound::Valid {
                    id,
                    signed_with_fallback: false,
                }
            });
        }
        self.verify(value).unwrap_or(CookieFound::Invalid)
    }

    /// The sid values a request sent, checked the way its transport reads
    /// them.
    pub(crate) fn find_valid_sid(
        &self, transport: Transport, values: Option<&Arc<str>>,
    ) -> CookieFound {
        match transport {
            Transport::Cookie => self.find_valid_cookie(values),
            Transport::Header => self.find_valid_header(values),
        }
    }

    /// One cookie value checked: its shape, and its signature when the
    /// signer is on (constant-time, first key then each fallback).
    pub(crate) fn verify(&self, value: &str) -> Option<CookieFound> {
        match &self.signer {
            Some(signer) => signer.verify(value).map(|verified| match verified {
                Verified::Current(id) => CookieFound::Valid {
                    id,
                    signed_with_fallback: false,
                },
                Verified::Fallback(id) => CookieFound::Valid {
                    id,
                    signed_with_fallback: true,
                },
            }),
            None => SessionId::parse(value).map(|id| CookieFound::Valid {
                id,
                signed_with_fallback: false,
            }),
        }
    }

    /// The cookie value for a sid: signed when the signer is on.
    pub(crate) fn cookie_value<'a>(&self, id: &'a SessionId) -> Cow<'a, str> {
        match &self.signer {
            Some(signer) => signer.sign(id).into(),
            None => id.expose().into(),
        }
    }

    /// The opaque handle of the session stored under `key`, keyed by the
    /// secret when there is one.
    pub(crate) fn handle_of(&self, key: &str) -> crate::owner::SessionHandle {
        let secret = self
            .settings
            .secret_key
            .as_ref()
            .map(|secret| secret.expose());
        crate::owner::SessionHandle::of_key(secret, key)
    }

    /// The sid `id` told to the client in `transport`: a session cookie
    /// (persistent, with `Expires`, when `lifetime` is given) or the session
    /// header.
    pub(crate) fn deliver(
        &self, transport: Transport, id: &SessionId, lifetime: Option<Duration>,
    ) -> Delivery {
        let value = self.cookie_value(id);
        match (transport, &self.header_name) {
            (Transport::Header, Some(name)) => Delivery::Header(SessionHeader {
                name: name.clone(),
                value: value.into_owned(),
            }),
            _ => Delivery::SetCookie(self.cookies.session_cookie(&value, lifetime)),
        }
    }

    /// The client told to forget its sid in `transport`: a deletion cookie,
    /// or an empty session header.
    pub(crate) fn expire(&self, transport: Transport) -> Delivery {
        match (transport, &self.header_name) {
            (Transport::Header, Some(name)) => Delivery::Header(SessionHeader {
                name: name.clone(),
                value: String::new(),
            }),
            _ => Delivery::SetCookie(self.cookies.deletion_cookie()),
        }
    }

    /// The store key of a sid.
    /// Whether `key` is one of this app's store keys: `key_prefix`, then a
    /// sid. An owner index that a store shares with apps of other prefixes
    /// (the SQL, MongoDB, filesystem and memory ones are keyed by the owner
    /// alone) also lists theirs, and "session:" must not take in
    /// "session:admin:…".
    pub(crate) fn is_own_store_key(&self, key: &str) -> bool {
        key.strip_prefix(self.settings.key_prefix.as_str())
            .is_some_and(SessionId::has_sid_shape)
    }

    pub(crate) fn store_key(&self, id: &SessionId) -> String {
        let prefix = &self.settings.key_prefix;
        let mut key = String::with_capacity(prefix.len() + id.expose().len());
        key.push_str(prefix);
        key.push_str(id.expose());
        key
    }

    /// The store key of a sid, or `None` when it is longer than the store
    /// can hold (memcached's 250 bytes, the SQL column's 255): such a sid
    /// names no session, and must not reach the store.
    pub(crate) fn store_key_within_limit(&self, id: &SessionId) -> Option<String> {
        match self.max_sid_len {
            Some(max) if id.expose().len() > max => None,
            _ => Some(self.store_key(id)),
        }
    }

    /// Decodes a stored value, logging (without data or raw sid) when it
    /// cannot.
    pub(crate) fn decode_logged(
        &self, id: &SessionId, raw: Vec<u8>,
    ) -> Result<(SessionMap, Decoded), DecodeError> {
        self.codec.decode_owned(raw).inspect_err(|error| {
            tracing::warn!(
                session = %id,
                backend = self.store.backend(),
                %error,
                "stored session cannot be decoded; starting a fresh session"
            );
        })
    }
}
