//! What finishing a request's session comes to once it is decided: at most a
//! save, then a delete, then the headers. One sequence for every store; a
//! store that keeps its sessions in this process answers each step at once
//! (see [`dispatch`](super::dispatch)), so its finish completes on its first
//! poll with no boxed future.

use crate::engine::Engine;
use crate::errors::FinishError;
use crate::store::SaveHint;

use super::dispatch;

/// The response-side result of finish, for the adapter to apply.
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FinishOutcome {
    /// A `Set-Cookie` header value to add, if any.
    pub set_cookie: Option<String>,
    /// Whether to add `Vary: Cookie` (the session was loaded).
    pub vary_cookie: bool,
}

/// Never shows the cookie: it carries the raw sid, a bearer token.
impl std::fmt::Debug for FinishOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cookie = self.set_cookie.as_deref().map(|cookie| {
            if cookie.contains("Max-Age=0") {
                "deletion"
            } else {
                "session"
            }
        });
        f.debug_struct("FinishOutcome")
            .field("set_cookie", &cookie)
            .field("vary_cookie", &self.vary_cookie)
            .finish()
    }
}

/// The store operations of a finish, in order, and its headers.
pub(super) struct Work {
    pub(super) save: Option<Save>,
    /// A record to delete after the save: the emptied session's, or the one a
    /// regenerate moved away from.
    pub(super) delete: Option<String>,
    pub(super) set_cookie: Option<String>,
}

pub(super) struct Save {
    pub(super) key: String,
    pub(super) bytes: Vec<u8>,
    pub(super) hint: SaveHint,
}

/// Never shows keys or cookies: both carry the sid.
impl std::fmt::Debug for Work {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Work")
            .field("save", &self.save.is_some())
            .field("delete", &self.delete.is_some())
            .field("set_cookie", &self.set_cookie.is_some())
            .finish()
    }
}

impl Work {
    /// Headers only, no store operation.
    pub(super) fn headers(set_cookie: Option<String>) -> Self {
        Self {
            save: None,
            delete: None,
            set_cookie,
        }
    }

    /// Runs the store operations in order, then gives the outcome.
    pub(super) async fn run(self, engine: &Engine) -> Result<FinishOutcome, FinishError> {
        let store = engine.store().as_ref();
        if let Some(save) = self.save {
            let ttl = engine.settings().permanent_session_lifetime;
            dispatch::save(store, &save.key, &save.bytes, ttl, save.hint).await?;
            crate::buffer_pool::give_back(save.bytes);
        }
        if let Some(key) = &self.delete {
            dispatch::delete(store, key).await?;
        }
        maybe_cleanup(engine);
        // Work exists only for a loaded session, whose response varies with
        // its cookie.
        Ok(FinishOutcome {
            set_cookie: self.set_cookie,
            vary_cookie: true,
        })
    }
}

/// `SESSION_CLEANUP_N_REQUESTS`: about one finished request in N+1 starts a
/// cleanup pass, off the request's critical path.
fn maybe_cleanup(engine: &Engine) {
    let Some(n) = engine.settings().cleanup_n_requests else {
        return;
    };
    if rand::random_range(0..=n) != 0 {
        return;
    }
    // Finish may run outside a Tokio runtime (a test's own executor, a
    // framework on another runtime): then this pass is skipped, not a panic.
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        tracing::debug!("no Tokio runtime here: the session cleanup pass is skipped");
        return;
    };
    let store = engine.store().clone();
    runtime.spawn(async move {
        match store.cleanup().await {
            Ok(removed) => {
                tracing::debug!(removed, backend = store.backend(), "session cleanup pass")
            }
            Err(error) => tracing::warn!(%error, "session cleanup pass failed"),
        }
    });
}
