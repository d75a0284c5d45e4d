//! What finishing a request's session comes to once it is decided: at most a
//! save, then a delete, then the headers. A store that answers synchronously
//! (see [`SessionStore::save_now`](crate::SessionStore::save_now)) gets it all
//! done at once, with no future to poll; any other store leaves a
//! [`PendingFinish`] to await.

use crate::errors::FinishError;
use crate::manager::SessionManager;
use crate::store::SaveHint;

/// The response-side result of finish, for the adapter to apply.
#[derive(Clone, Default, PartialEq, Eq)]
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

/// Where [`crate::RequestSession::finish_now`] got to.
#[derive(Debug)]
pub(crate) enum FinishStep {
    /// Finished: apply the outcome, or answer with the error's status.
    Done(Result<FinishOutcome, FinishError>),
    /// The store must be awaited: [`PendingFinish::complete`] does the rest.
    Pending(PendingFinish),
}

/// Finish work left for a store that does I/O.
#[derive(Debug)]
pub(crate) struct PendingFinish {
    manager: SessionManager,
    work: Work,
}

/// The store operations of a finish, in order, and its headers.
pub(crate) struct Work {
    pub(crate) save: Option<Save>,
    /// A record to delete after the save: the emptied session's, or the one a
    /// regenerate moved away from.
    pub(crate) delete: Option<String>,
    pub(crate) set_cookie: Option<String>,
}

pub(crate) struct Save {
    pub(crate) key: String,
    pub(crate) bytes: Vec<u8>,
    pub(crate) hint: SaveHint,
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
    pub(crate) fn headers(set_cookie: Option<String>) -> Self {
        Self {
            save: None,
            delete: None,
            set_cookie,
        }
    }

    /// Does what the store lets be done at once; hands back the rest.
    pub(crate) fn run_now(mut self, manager: &SessionManager) -> FinishStep {
        let store = manager.store();
        if let Some(save) = self.save.take() {
            let ttl = manager.settings().permanent_session_lifetime;
            match store.save_now(&save.key, &save.bytes, ttl, save.hint) {
                Some(Ok(())) => crate::scratch::give_back(save.bytes),
                Some(Err(error)) => return FinishStep::Done(Err(error.into())),
                None => {
                    self.save = Some(save);
                    return self.pending(manager);
                }
            }
        }
        if let Some(key) = &self.delete {
            match store.delete_now(key) {
                Some(Ok(())) => self.delete = None,
                Some(Err(error)) => return FinishStep::Done(Err(error.into())),
                None => return self.pending(manager),
            }
        }
        FinishStep::Done(Ok(self.finished(manager)))
    }

    fn pending(self, manager: &SessionManager) -> FinishStep {
        FinishStep::Pending(PendingFinish {
            manager: manager.clone(),
            work: self,
        })
    }

    fn finished(self, manager: &SessionManager) -> FinishOutcome {
        maybe_cleanup(manager);
        // Work exists only for a loaded session, whose response varies with
        // its cookie.
        FinishOutcome {
            set_cookie: self.set_cookie,
            vary_cookie: true,
        }
    }
}

impl PendingFinish {
    /// Awaits the store operations left, then gives the outcome.
    pub(crate) async fn complete(mut self) -> Result<FinishOutcome, FinishError> {
        let store = self.manager.store();
        if let Some(save) = self.work.save.take() {
            let ttl = self.manager.settings().permanent_session_lifetime;
            store.save(&save.key, &save.bytes, ttl, save.hint).await?;
            crate::scratch::give_back(save.bytes);
        }
        if let Some(key) = self.work.delete.take() {
            store.delete(&key).await?;
        }
        Ok(self.work.finished(&self.manager))
    }
}

/// `SESSION_CLEANUP_N_REQUESTS`: about one finished request in N+1 starts a
/// cleanup pass, off the request's critical path.
fn maybe_cleanup(manager: &SessionManager) {
    let Some(n) = manager.settings().cleanup_n_requests else {
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
    let store = manager.store().clone();
    runtime.spawn(async move {
        match store.cleanup().await {
            Ok(removed) => {
                tracing::debug!(removed, backend = store.backend(), "session cleanup pass")
            }
            Err(error) => tracing::warn!(%error, "session cleanup pass failed"),
        }
    });
}
