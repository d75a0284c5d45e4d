//! One request's session: opened from the cookie (or the session header, for
//! a header request), loaded lazily on first use, finished after the
//! handler. Adapters call these three steps and only translate their
//! results into their framework's terms.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::SystemTime;

use session_config::WriteMode;

use crate::codec::Decoded;
use crate::cookie::values_named;
use crate::engine::{CookieFound, Engine};
use crate::errors::{FinishError, LoadError};
use crate::id::SessionId;
use crate::map::SessionMap;
use crate::owner::{now_unix, owner_in, CREATED_KEY, INDEXED_KEY};
use crate::store::SaveHint;
use crate::transport::{header_value, Transport};

use super::decision::{plan, Facts, Plan};
use super::dispatch;
use super::gate::Entry;
use super::handle::Session;
use super::shared::RequestShared;
use super::state::{Baseline, SessionState};
use super::work::{FinishOutcome, Finishing, IndexChange, StoreFinish, Work, Write};

/// The session state of one request. Cheap to clone: the adapter keeps one
/// handle to finish with and puts another where guards and extractors find it.
#[derive(Clone)]
pub struct RequestSession {
    inner: Arc<RequestShared>,
}

/// Never shows the cookie or the session header: they are bearer tokens.
impl std::fmt::Debug for RequestSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestSession")
            .field("transport", &self.inner.transport)
            .field("sid_sent", &self.inner.cookie_values.is_some())
            .field("loaded", &self.is_loaded())
            .finish_non_exhaustive()
    }
}

impl RequestSession {
    /// Step 1: chooses the request's transport and keeps the sid it sent:
    /// the session header's value when header transport is on and the
    /// request carries the header, else the session cookie's values from
    /// its `Cookie` headers, as bytes; see
    /// [`SessionManager::open_with_header`](crate::SessionManager::open_with_header).
    pub(crate) fn open<'a, 'b>(
        engine: Arc<Engine>, cookie_headers: impl IntoIterator<Item = &'a [u8]>,
        session_headers: impl IntoIterator<Item = &'b [u8]>,
    ) -> Self {
        let sent = engine
            .header_name()
            .and_then(|_| header_value(session_headers));
        let (transport, values) = match sent {
            Some(value) => (Transport::Header, value),
            None => (
                Transport::Cookie,
                session_cookie_values(engine.cookies().name(), cookie_headers),
            ),
        };
        Self {
            inner: Arc::new(RequestShared::new(engine, transport, values)),
        }
    }

    /// How this request carries its sid: the session header (header
    /// transport is on and the request carries it) or the cookie. Chosen at
    /// open, for the request's whole life.
    pub fn transport(&self) -> Transport {
        self.inner.transport
    }

    /// Step 2: loads the session with one store read, the first time it is
    /// asked for; later calls share the same map.
    ///
    /// # Errors
    ///
    /// [`LoadError::Store`] when the store cannot be read (its
    /// [`status`](LoadError::status) is 503 for an unreachable backend, 500
    /// otherwise), and [`LoadError::Random`] when no new sid can be made.
    /// A later call tries again.
    pub async fn load(&self) -> Result<Session, LoadError> {
        loop {
            match self.inner.load_gate.try_enter() {
                Entry::Loaded => break,
                Entry::Load(ticket) => {
                    // On an error, or if this future is dropped, the ticket
                    // reopens the gate for a later try.
                    let state = self.load_from_store().await?;
                    *self.inner.state() = state;
                    ticket.complete();
                    break;
                }
                // The app polls two loads of this request at once: sleep
                // until the other ends.
                Entry::Busy => self.inner.load_gate.wait().await,
            }
        }
        Ok(Session::new(self.inner.clone()))
    }

    /// Whether a guard or extractor has loaded the session.
    pub fn is_loaded(&self) -> bool {
        self.inner.load_gate.is_loaded()
    }

    async fn load_from_store(&self) -> Result<SessionState, LoadError> {
        let engine = self.inner.engine();
        let settings = engine.settings();
        let sent = self.inner.cookie_values.as_ref();
        let (id, signed_with_fallback) = match engine.find_valid_sid(self.inner.transport, sent) {
            CookieFound::Valid {
                id,
                signed_with_fallback,
            } => (id, signed_with_fallback),
            CookieFound::Absent => return self.fresh(false),
            CookieFound::Invalid => return self.fresh(true),
        };
        // A key the backend cannot hold would fail the read on every request
        // while the cookie lives: it is an invalid cookie like any other.
        let Some(key) = engine.store_key_within_limit(&id) else {
            return self.fresh(true);
        };
        let store = engine.live_store("load")?.as_ref();
        let raw = if settings.refresh_each_request {
            dispatch::load_and_touch(store, &key, settings.permanent_session_lifetime).await?
        } else {
            dispatch::load(store, &key).await?
        };
        let Some(raw) = raw else {
            // A client-chosen or expired sid is never adopted.
            return self.fresh(true);
        };
        let Ok((map, decoded)) = engine.decode_logged(&id, raw) else {
            // The record may be another app's (legacy pickle): no deletion cookie.
            return self.fresh(false);
        };
        let indexed_owner = map.get::<String>(INDEXED_KEY).ok().flatten();
        if let Some(limit) = settings.absolute_lifetime {
            if started_before(&map, limit) {
                // However active the client, the session has lived its
                // lifetime: it ends here, as if it were missing.
                tracing::debug!(session = %id, "the session outlived absolute_lifetime; it is ended");
                dispatch::delete(store, &key).await?;
                if let Some(owner) = &indexed_owner {
                    store.remove_owned(owner, &key).await?;
                }
                return self.fresh(true);
            }
        }
        let baseline = match decoded {
            Decoded::AsConfigured => Baseline::Record,
            Decoded::AsOther => engine
                .codec()
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
            signed_with_fallback,
            pending_error: None,
            indexed_owner,
            logged_in_at: None,
        })
    }

    fn fresh(&self, stale_cookie: bool) -> Result<SessionState, LoadError> {
        let engine = self.inner.engine();
        let mut map = SessionMap::new();
        if engine.settings().permanent {
            map.set_permanent(true);
        }
        Ok(SessionState {
            map,
            id: engine.new_id()?,
            loaded_key: None,
            record_existed: false,
            replaced_id: None,
            baseline: Baseline::New,
            touched: false,
            regenerated: false,
            stale_cookie,
            cookie_sent: self.inner.cookie_values.is_some(),
            signed_with_fallback: false,
            pending_error: None,
            indexed_owner: None,
            logged_in_at: None,
        })
    }

    /// Step 3, after the handler: persists what changed and says which headers
    /// to add. It ends the request's session: a conditional save takes the
    /// map to merge with, so a handle kept past it sees an empty session.
    ///
    /// # Errors
    ///
    /// A [`FinishError`] when the session cannot be encoded or the store
    /// cannot be written; the adapter replaces the response with the error's
    /// opaque [`status`](FinishError::status) and
    /// [`public_message`](FinishError::public_message).
    pub async fn finish(&self, status: u16) -> Result<FinishOutcome, FinishError> {
        // Not awaited inside the `match`: its scrutinee would stay in the
        // future for the whole await.
        let store_work = match self.finish_or_defer(status)? {
            Finishing::Done(outcome) => return Ok(outcome),
            Finishing::Store(store_work) => store_work,
        };
        store_work.run().await
    }

    /// Step 3 in two parts, for an adapter whose framework boxes the
    /// adapter's future (Rocket's fairing): finishes at once, with no future,
    /// when nothing is left to store (a read whose refresh the load already
    /// made, as over Redis); otherwise hands back the store operations, for
    /// the adapter to await in a box of their own. The framework's box then
    /// stays small for the requests that store nothing, rather than sized
    /// for the largest store call (BENCHMARKS.md, issue 20).
    /// [`finish`](Self::finish) is this, with the store work awaited in
    /// place.
    ///
    /// # Errors
    ///
    /// As [`finish`](Self::finish), for the errors known before any store
    /// operation: a session that cannot be encoded, or a store that was shut
    /// down.
    pub fn finish_or_defer(&self, status: u16) -> Result<Finishing<'_>, FinishError> {
        if !self.is_loaded() {
            return Ok(Finishing::Done(FinishOutcome::default())); // row 1
        }
        let work = self.decide(status)?;
        let (engine, transport) = (self.inner.engine(), self.inner.transport);
        if work.needs_store() {
            Ok(Finishing::Store(StoreFinish::new(work, engine, transport)))
        } else {
            work.finish_without_store(engine, transport)
                .map(Finishing::Done)
        }
    }

    /// Decides, under the lock, what finishing comes to, with every key and
    /// cookie prepared; the lock is released before any store operation.
    fn decide(&self, status: u16) -> Result<Work, FinishError> {
        let engine = self.inner.engine();
        let settings = engine.settings();
        let transport = self.inner.transport;
        let mut state = self.inner.state();
        if let Some(error) = state.pending_error.take() {
            return Err(error.into());
        }
        let server_error = status >= 500;
        let (empty, permanent) = state.map.emptiness_and_permanence();
        let needs_encoding =
            !server_error && !empty && (state.touched || matches!(state.baseline, Baseline::New));
        // Only a session about to be written can change its index entry
        // (the plans that write all need an encoding); the others never read
        // the owner, so an owned session's read-only request copies nothing.
        let owner = if needs_encoding {
            prepare_owner_keys(&mut state, settings)?
        } else {
            None
        };
        let mut encoded = if needs_encoding {
            Some(engine.codec().encode(&state.map)?)
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
            signed_with_fallback: state.signed_with_fallback,
            refresh_each_request: settings.refresh_each_request,
            permanent,
        };
        let lifetime = permanent.then_some(settings.permanent_session_lifetime);
        // The key read at load, which stays the record's key after a
        // regenerate; finish runs once, so it can be taken.
        let loaded_key = state.loaded_key.take();
        let deliver = |id: &SessionId| engine.deliver(transport, id, lifetime);
        let merge = settings.write_mode == WriteMode::Merge;
        let indexed = state.indexed_owner.take();
        // The login time, or now, read only when an entry is added.
        let logged_in_at = state.logged_in_at;
        let entry = |owner: String, key: &String| {
            (
                owner,
                key.clone(),
                logged_in_at.unwrap_or_else(SystemTime::now),
            )
        };
        let work = match plan(facts) {
            Plan::Nothing => Work::headers(None),
            Plan::ExpireCookie => Work::headers(Some(engine.expire(transport))),
            Plan::DeleteRecord => Work {
                index: IndexChange::moved(indexed, loaded_key.clone(), None),
                write: None,
                delete: loaded_key,
                moved_from_loaded: false,
                deliver: Some(engine.expire(transport)),
            },
            Plan::SaveRegenerated => {
                let deliver = Some(deliver(&state.id));
                let delete = state.replaced_id.as_ref().map(|old| engine.store_key(old));
                let key = engine.store_key(&state.id);
                let bytes = encoded.take().unwrap_or_default();
                Work {
                    index: IndexChange::moved(
                        indexed,
                        delete.clone(),
                        owner.map(|owner| entry(owner, &key)),
                    ),
                    write: Some(write(merge, key, bytes, false, &mut state.map)),
                    // The replaced sid is the loaded record's (see
                    // `Session::regenerate`).
                    moved_from_loaded: merge && delete.is_some(),
                    delete,
                    deliver,
                }
            }
            Plan::Save => {
                let deliver = Some(deliver(&state.id));
                let existing = state.record_existed && !state.regenerated;
                let key = match loaded_key {
                    Some(key) if existing => key,
                    _ => engine.store_key(&state.id),
                };
                let index = if owner == indexed {
                    None
                } else {
                    IndexChange::moved(
                        indexed,
                        Some(key.clone()),
                        owner.map(|owner| entry(owner, &key)),
                    )
                };
                let bytes = encoded.take().unwrap_or_default();
                Work {
                    index,
                    write: Some(write(merge, key, bytes, existing, &mut state.map)),
                    delete: None,
                    moved_from_loaded: false,
                    deliver,
                }
            }
            Plan::CookieOnly => Work::headers(Some(deliver(&state.id))),
        };
        if let Some(unsaved) = encoded {
            crate::buffer_pool::give_back(unsaved);
        }
        Ok(work)
    }
}

/// Before a session is encoded for a save: records its owner in the index
/// marker when the owner changed (so the index changes once, at this save),
/// and its start when `absolute_lifetime` is on and it has none. The owner,
/// as finish will index it.
fn prepare_owner_keys(
    state: &mut SessionState, settings: &session_config::Settings,
) -> Result<Option<String>, FinishError> {
    let owner = owner_in(&state.map, &settings.owner_key);
    if owner != state.indexed_owner {
        match &owner {
            Some(owner) => state.map.insert(INDEXED_KEY, owner)?,
            None => {
                state.map.remove(INDEXED_KEY);
            }
        }
    }
    if settings.absolute_lifetime.is_some() && !state.map.contains_key(CREATED_KEY) {
        state.map.insert(CREATED_KEY, &now_unix())?;
    }
    Ok(owner)
}

/// Whether the session's start (`_created`) is `limit` or more ago. A
/// session without one gets it at its next save.
fn started_before(map: &SessionMap, limit: std::time::Duration) -> bool {
    let Ok(Some(started)) = map.get::<i64>(CREATED_KEY) else {
        return false;
    };
    let limit = i64::try_from(limit.as_secs()).unwrap_or(i64::MAX);
    now_unix().saturating_sub(started) >= limit
}

/// How finish writes `bytes` under `key`: in merge mode conditionally (taking
/// the map, whose stored bytes are the loaded record, to merge with) when the
/// record was loaded, insert-only when it is new; whole in overwrite mode.
fn write(merge: bool, key: String, bytes: Vec<u8>, existing: bool, map: &mut SessionMap) -> Write {
    match (merge, existing) {
        (true, true) => Write::Conditional {
            key,
            bytes,
            ours: std::mem::take(map),
        },
        (true, false) => Write::Insert { key, bytes },
        (false, true) => Write::Overwrite {
            key,
            bytes,
            hint: SaveHint::Existing,
        },
        (false, false) => Write::Overwrite {
            key,
            bytes,
            hint: SaveHint::New,
        },
    }
}

/// The values of the cookie `name` in `headers`, joined by `;` (which no
/// cookie value holds); `None` when there is none.
fn session_cookie_values<'a>(
    name: &str, headers: impl IntoIterator<Item = &'a [u8]>,
) -> Option<Arc<str>> {
    let name = name.as_bytes();
    let mut found = headers
        .into_iter()
        .flat_map(|header| values_named(header, name))
        .filter(|value| !value.is_empty())
        // A value that is not UTF-8 gets U+FFFD, which no sid holds: it stays
        // a cookie that was sent, and fails the shape check. (`from_utf8`
        // first: its ASCII fast path is what a sid takes.)
        .map(|value| match std::str::from_utf8(value) {
            Ok(text) => Cow::Borrowed(text),
            Err(_) => String::from_utf8_lossy(value),
        });
    match (found.next(), found.next()) {
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
    }
}
