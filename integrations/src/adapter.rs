//! What both adapters share, written once: the rejection a session guard or
//! extractor fails with, the load, the handle types handlers take, and what
//! a finished session does to the response. Each framework module only
//! translates these into its own types.

use std::ops::{Deref, DerefMut};

use session::{FinishError, FinishOutcome, LoadError, RequestSession, SessionData, Typed};

/// Why a session guard or extractor failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SessionRejection {
    /// The app has no session middleware (Poem) or fairing (Rocket); the
    /// message says what to add.
    #[error("{0}")]
    NotInstalled(&'static str),
    /// The store could not be read.
    #[error("{}", .0.public_message())]
    Load(#[source] LoadError),
}

impl SessionRejection {
    /// The HTTP status to answer with: 503 for an unreachable store, 500
    /// otherwise.
    pub fn status(&self) -> u16 {
        match self {
            Self::NotInstalled(_) => 500,
            Self::Load(error) => error.status(),
        }
    }
}

/// Loads the request's session, once per request; `request_session` is
/// `None` when the adapter is not installed, and `missing` says what to add.
pub(crate) async fn load(
    request_session: Option<&RequestSession>, missing: &'static str,
) -> Result<session::Session, SessionRejection> {
    let Some(request_session) = request_session else {
        tracing::error!("{missing}");
        return Err(SessionRejection::NotInstalled(missing));
    };
    request_session.load().await.map_err(|error| {
        tracing::warn!(%error, "loading the session failed");
        SessionRejection::Load(error)
    })
}

/// The request's session, untyped: `get`, `insert`, `remove`, `clear`,
/// `regenerate`, `set_permanent` through `Deref` to [`session::Session`].
/// A Poem extractor and a Rocket request guard.
#[derive(Debug, Clone)]
pub struct Session(pub session::Session);

impl Deref for Session {
    type Target = session::Session;
    fn deref(&self) -> &session::Session {
        &self.0
    }
}

/// A typed view of the request's session, with `Deref`/`DerefMut` to `T`.
/// Changed fields are written back when the handler drops it. A Poem
/// extractor and a Rocket request guard.
#[derive(Debug)]
pub struct TypedSession<T: SessionData>(pub Typed<T>);

impl<T: SessionData> Deref for TypedSession<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: SessionData> DerefMut for TypedSession<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.0
    }
}

impl<T: SessionData> TypedSession<T> {
    /// The untyped session sharing the same map, for `clear`, `regenerate`
    /// and `set_permanent`.
    pub fn session(&self) -> &session::Session {
        self.0.session()
    }

    /// Logs `owner` in: a new sid, the owner and Flask-Login's `_fresh`; see
    /// [`session::Session::login`].
    ///
    /// # Errors
    ///
    /// As [`session::Typed::login`].
    pub fn login(&mut self, owner: &str) -> Result<(), session::owner::LoginError> {
        self.0.login(owner)
    }

    /// Ends the session; see [`session::Session::logout`].
    ///
    /// # Errors
    ///
    /// As [`session::Session::logout`].
    pub fn logout(&mut self) -> Result<(), session::id::RandomSourceError> {
        self.0.logout()
    }

    /// The logged-in owner, if any.
    pub fn owner(&self) -> Option<String> {
        self.0.owner()
    }

    /// This session's opaque handle; see [`session::Session::handle`].
    pub fn handle(&self) -> session::owner::SessionHandle {
        self.0.handle()
    }
}

/// What a finished session does to the response.
pub(crate) enum ResponseChange {
    /// Add these headers: [`FinishOutcome::vary`], then the `Set-Cookie`
    /// or the session header (header transport).
    Headers(FinishOutcome),
    /// Replace the response with this opaque status and plain-text body: the
    /// session could not be finished (the details are logged).
    Replace { status: u16, body: String },
}

/// What the result of finishing the request's session does to the response.
pub(crate) fn response_change(finished: Result<FinishOutcome, FinishError>) -> ResponseChange {
    match finished {
        Ok(outcome) => ResponseChange::Headers(outcome),
        Err(error) => replacement(&error),
    }
}

fn replacement(error: &FinishError) -> ResponseChange {
    tracing::error!(%error, "finishing the session failed; the response is replaced");
    ResponseChange::Replace {
        status: error.status(),
        body: error.public_message(),
    }
}
