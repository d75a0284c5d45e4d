//! What one request's [`RequestSession`](super::RequestSession) and every
//! [`Session`](super::Session) handle it gives out share: one allocation per
//! request.

use std::sync::{Arc, Mutex, MutexGuard};

use crate::engine::Engine;
use crate::transport::Transport;

use super::gate::LoadGate;
use super::state::SessionState;

/// The per-request state behind the handles.
pub(crate) struct RequestShared {
    pub(super) engine: Arc<Engine>,
    /// How this request carries its sid, for its whole life.
    pub(super) transport: Transport,
    /// The sid the request sent, unverified: the session cookie's values
    /// joined by `;` (which no cookie value can hold), or the session
    /// header's value. Shared, because an unsigned value becomes the sid.
    pub(super) cookie_values: Option<Arc<str>>,
    /// Opened by the first successful load, which also fills `state`.
    pub(super) load_gate: LoadGate,
    state: Mutex<SessionState>,
}

impl RequestShared {
    pub(super) fn new(
        engine: Arc<Engine>, transport: Transport, cookie_values: Option<Arc<str>>,
    ) -> Self {
        Self {
            engine,
            transport,
            cookie_values,
            load_gate: LoadGate::default(),
            state: Mutex::new(SessionState::unloaded()),
        }
    }

    /// The session state. Before the first load it is an empty placeholder
    /// that no [`Session`](super::Session) can see.
    pub(crate) fn state(&self) -> MutexGuard<'_, SessionState> {
        // Every mutation completes under the lock, so a panic elsewhere cannot
        // leave the map half-changed: the data stays usable.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The engine, shared: for a manager made from a request.
    pub(crate) fn shared_engine(&self) -> Arc<Engine> {
        Arc::clone(&self.engine)
    }
}
