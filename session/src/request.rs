//! One request's session: opened from the cookie, loaded lazily on first use,
//! finished after the handler. Adapters call these three steps and only
//! translate their results into their framework's terms.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::codec::Decoded;
use crate::errors::{FinishError, LoadError};
use crate::finish::{plan, Facts, Plan};
use crate::finish_work::{FinishOutcome, FinishStep, Save, Work};
use crate::id::SessionId;
use crate::load_gate::{Entry, LoadGate};
use crate::manager::SessionManager;
use crate::session::{Baseline, Session, SessionState};
use crate::store::SaveHint;

/// What `open` found in the request's cookies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CookieFound {
    /// No cookie with the session's name.
    Absent,
    /// Cookies with the name, none valid (bad shape or bad signature).
    Invalid,
    /// A valid cookie; `resign` when a fallback key signed it.
    Valid { id: SessionId, resign: bool },
}

/// The session state of one request. Cheap to clone: the adapter keeps one
/// handle to finish with and puts another where guards and extractors find it.
#[derive(Clone)]
pub struct RequestSession {
    inner: Arc<RequestInner>,
}

/// Never shows the cookie: it is a bearer token.
impl std::fmt::Debug for RequestSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestSession")
            .field("cookie_sent", &self.inner.cookie_values.is_some())
            .field("loaded", &self.is_loaded())
            .finish_non_exhaustive()
    }
}

/// One allocation per request holds everything: the [`Session`] handles a
/// load gives out share it too.
pub(crate) struct RequestInner {
    manager: SessionManager,
    /// The session cookie's values joined by `;` (which no cookie value can
    /// hold), unverified. Shared, because an unsigned value becomes the sid.
    cookie_values: Option<Arc<str>>,
    /// Opened by the first successful load, which also fills `state`.
    load_gate: LoadGate,
    state: Mutex<SessionState>,
}

impl RequestInner {
    /// The session state. Before the first load it is an empty placeholder
    /// that no [`Session`] can see.
    pub(crate) fn state(&self) -> MutexGuard<'_, SessionState> {
        // Every mutation completes under the lock, so a panic elsewhere cannot
        // leave the map half-changed: the data stays usable.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn manager(&self) -> &SessionManager {
        &self.manager
    }
}

impl RequestSession {
    pub(crate) fn new(manager: SessionManager, cookie_values: Option<Arc<str>>) -> Self {
        Self {
            inner: Arc::new(RequestInner {
                manager,
                cookie_values,
                load_gate: LoadGate::default(),
                state: Mutex::new(SessionState::unloaded()),
            }),
        }
    }

    /// The manager this request belongs to.
    pub fn manager(&self) -> &SessionManager {
        &self.inner.manager
    }

    /// Step 2: loads the session with one store read, the first time it is
    /// asked for; later calls share the same map.
    pub async fn load(&self) -> Result<Session, LoadError> {
        // A second load polled while the first runs waits inside `enter`.
        if let Entry::Load(ticket) = self.inner.load_gate.enter().await {
            // On an error, or if this future is dropped, the ticket reopens
            // the gate for a later try.
            let state = self.load_from_store().await?;
            *self.inner.state() = state;
            ticket.complete();
        }
        Ok(Session::new(self.inner.clone()))
    }

    /// Whether a guard or extractor has loaded the session.
    pub fn is_loaded(&self) -> bool {
        self.inner.load_gate.is_loaded()
    }

    async fn load_from_store(&self) -> Result<SessionState, LoadError> {
        let manager = &self.inner.manager;
        let settings = manager.settings();
        let (id, resign) = match manager.find_valid_cookie(self.inner.cookie_values.as_ref()) {
            CookieFound::Valid { id, resign } => (id, resign),
            CookieFound::Absent => return self.fresh(false),
            CookieFound::Invalid => return self.fresh(true),
        };
        let store = &manager.inner.store;
        // A key the backend cannot hold would fail the read on every request
        // while the cookie lives: it is an invalid cookie like any other.
        let Some(key) = manager.store_key_within_limit(&id) else {
            return self.fresh(true);
        };
        let raw = if settings.refresh_each_request {
            store
                .load_and_touch_fast(&key, settings.permanent_session_lifetime)
                .await?
        } else {
            store.load_fast(&key).await?
        };
        let Some(raw) = raw else {
            // A client-chosen or expired sid is never adopted.
            return self.fresh(true);
        };
        let Ok((map, decoded)) = manager.decode_logged(&id, raw) else {
            // The record may be another app's (legacy pickle): no deletion cookie.
            return self.fresh(false);
        };
        let baseline = match decoded {
            Decoded::AsConfigured => Baseline::Record,
            Decoded::AsOther => manager
                .inner
                .codec
                .encode(&map)
                .map_or(Baseline::Unencodable, Baseline::Encoded),
        };
        Ok(SessionState {
            map,
            id,
            loaded_key: Some(key),
            record_existed: true,
            replaced_id: None,
            baseline,
            touched: false,
            regenerated: false,
            stale_cookie: false,
            cookie_sent: true,
            resign,
            pending_error: None,
        })
    }

    fn fresh(&self, stale_cookie: bool) -> Result<SessionState, LoadError> {
        let settings = self.inner.manager.settings();
        let mut map = crate::map::SessionMap::new();
        if settings.permanent {
            map.set_permanent(true);
        }
        Ok(SessionState {
            map,
            id: SessionId::generate(settings.id_length.get())?,
            loaded_key: None,
            record_existed: false,
            replaced_id: None,
            baseline: Baseline::New,
            touched: false,
            regenerated: false,
            stale_cookie,
            cookie_sent: self.inner.cookie_values.is_some(),
            resign: false,
            pending_error: None,
        })
    }

    /// Step 3, after the handler: persists what changed and says which headers
    /// to add. A store failure here should replace the response with the
    /// error's opaque status.
    pub async fn finish(&self, status: u16) -> Result<FinishOutcome, FinishError> {
        match self.finish_now(status) {
            FinishStep::Done(result) => result,
            FinishStep::Pending(pending) => pending.complete().await,
        }
    }

    /// [`Self::finish`] as far as it goes without waiting: all the way when
    /// the store answers synchronously (the memory store); otherwise it
    /// leaves the store operations to await.
    pub(crate) fn finish_now(&self, status: u16) -> FinishStep {
        if !self.is_loaded() {
            return FinishStep::Done(Ok(FinishOutcome::default())); // row 1
        }
        match self.decide(status) {
            Ok(work) => work.run_now(&self.inner.manager),
            Err(error) => FinishStep::Done(Err(error)),
        }
    }

    /// Decides, under the lock, what finishing comes to, with every key and
    /// cookie prepared; the lock is released before any store operation.
    fn decide(&self, status: u16) -> Result<Work, FinishError> {
        let manager = &self.inner.manager;
        let settings = manager.settings();
        let cookies = &manager.inner.cookies;
        let mut state = self.inner.state();
        if let Some(error) = state.pending_error.take() {
            return Err(error.into());
        }
        let server_error = status >= 500;
        let (empty, permanent) = state.map.emptiness_and_permanence();
        let needs_encoding =
            !server_error && !empty && (state.touched || matches!(state.baseline, Baseline::New));
        let mut encoded = if needs_encoding {
            Some(manager.inner.codec.encode(&state.map)?)
        } else {
            None
        };
        let modified = match (&encoded, &state.baseline) {
            (None, _) => false,
            (Some(_), Baseline::New | Baseline::Unencodable) => true,
            (Some(now), Baseline::Record) => now != state.map.stored_bytes(),
            (Some(now), Baseline::Encoded(before)) => now != before,
        };
        let facts = Facts {
            loaded: true,
            server_error,
            empty,
            record_existed: state.record_existed,
            stale_cookie: state.stale_cookie,
            regenerated: state.regenerated,
            modified,
            verified_with_fallback: state.resign,
            refresh_each_request: settings.refresh_each_request,
            permanent,
        };
        let plan = plan(facts);
        let lifetime = facts
            .permanent
            .then_some(settings.permanent_session_lifetime);
        // The key read at load, which stays the record's key after a
        // regenerate; finish runs once, so it can be taken.
        let loaded_key = state.loaded_key.take();
        let session_cookie = || cookies.session_cookie(&manager.cookie_value(&state.id), lifetime);
        let mut save = |key, hint| {
            Some(Save {
                key,
                bytes: encoded.take().unwrap_or_default(),
                hint,
            })
        };
        let work = match plan {
            Plan::Nothing => Work::headers(None),
            Plan::ExpireCookie => Work::headers(Some(cookies.deletion_cookie())),
            Plan::DeleteRecord => Work {
                save: None,
                delete: loaded_key,
                set_cookie: Some(cookies.deletion_cookie()),
            },
            Plan::SaveRegenerated => Work {
                delete: state.replaced_id.as_ref().map(|old| manager.store_key(old)),
                set_cookie: Some(session_cookie()),
                save: save(manager.store_key(&state.id), SaveHint::New),
            },
            Plan::Save => Work {
                set_cookie: Some(session_cookie()),
                save: save(
                    match loaded_key {
                        Some(key) if !state.regenerated => key,
                        _ => manager.store_key(&state.id),
                    },
                    if state.record_existed {
                        SaveHint::Existing
                    } else {
                        SaveHint::New
                    },
                ),
                delete: None,
            },
            Plan::CookieOnly => Work::headers(Some(session_cookie())),
        };
        if let Some(unsaved) = encoded {
            crate::scratch::give_back(unsaved);
        }
        Ok(work)
    }
}
