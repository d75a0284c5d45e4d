//! Request guards: the untyped [`Session`] and the typed [`TypedSession<T>`].

use std::ops::{Deref, DerefMut};

use rocket::http::Status;
use rocket::request::{FromRequest, Outcome};
use rocket::Request;
use session::{LoadError, RequestSession, SessionData, Typed};

use super::fairing::Installed;

/// Why a session guard failed.
#[derive(Debug, thiserror::Error)]
pub enum SessionRejection {
    /// The rocket has no [`super::SessionFairing`] (a guard reached some other
    /// way than a route parameter, which the sentinel would have caught).
    #[error("a session guard was used without SessionFairing; add `.attach(SessionFairing::from_config())` to the rocket")]
    MissingFairing,
    /// The store could not be read.
    #[error("{}", .0.public_message())]
    Load(#[source] LoadError),
}

impl SessionRejection {
    /// The status the guard fails with: 503 for an unreachable store, 500
    /// otherwise.
    pub fn status(&self) -> Status {
        match self {
            Self::MissingFairing => Status::InternalServerError,
            Self::Load(error) => {
                Status::from_code(error.status()).unwrap_or(Status::InternalServerError)
            }
        }
    }
}

/// The request's session, opened from its cookies the first time anything
/// asks, and cached for the rest of the request.
struct Cached(Option<RequestSession>);

/// Opens the request's session (no I/O), once per request.
fn open<'r>(request: &'r Request<'_>) -> Option<&'r RequestSession> {
    let cached = request.local_cache(|| {
        Cached(
            request
                .rocket()
                .state::<Installed>()
                .map(|Installed(manager)| {
                    // Over HTTP the raw `Cookie` headers hold every cookie, duplicates
                    // included, and the jar holds nothing more; a local test
                    // client's cookies are only in the jar.
                    // Rocket drops a header that is not UTF-8 before any
                    // adapter sees it; what it keeps is parsed as bytes.
                    let mut headers = request
                        .headers()
                        .get("Cookie")
                        .map(str::as_bytes)
                        .peekable();
                    if headers.peek().is_some() {
                        return manager.open(headers);
                    }
                    let from_jar = request
                        .cookies()
                        .get(manager.cookie_name())
                        .map(|cookie| format!("{}={}", cookie.name(), cookie.value()));
                    manager.open(from_jar.as_deref().map(str::as_bytes))
                }),
        )
    });
    cached.0.as_ref()
}

/// The session a guard opened in this request, if one did; never opens it.
pub(super) fn opened<'r>(request: &'r Request<'_>) -> Option<&'r RequestSession> {
    request.local_cache(|| Cached(None)).0.as_ref()
}

async fn load(request: &Request<'_>) -> Result<session::Session, SessionRejection> {
    let request_session = open(request).ok_or_else(|| {
        tracing::error!("{}", SessionRejection::MissingFairing);
        SessionRejection::MissingFairing
    })?;
    request_session.load().await.map_err(|error| {
        tracing::warn!(%error, "loading the session failed");
        SessionRejection::Load(error)
    })
}

fn outcome<S>(result: Result<S, SessionRejection>) -> Outcome<S, SessionRejection> {
    match result {
        Ok(value) => Outcome::Success(value),
        Err(rejection) => Outcome::Error((rejection.status(), rejection)),
    }
}

/// The request's session, untyped: `get`, `insert`, `remove`, `clear`,
/// `regenerate`, `set_permanent` through `Deref` to [`session::Session`].
#[derive(Debug, Clone)]
pub struct Session(pub session::Session);

impl Deref for Session {
    type Target = session::Session;
    fn deref(&self) -> &session::Session {
        &self.0
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Session {
    type Error = SessionRejection;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, SessionRejection> {
        outcome(load(request).await.map(Self))
    }
}

/// A typed view of the request's session, with `Deref`/`DerefMut` to `T`.
/// Changed fields are written back when the handler drops it.
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
}

#[rocket::async_trait]
impl<'r, T: SessionData> FromRequest<'r> for TypedSession<T> {
    type Error = SessionRejection;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, SessionRejection> {
        outcome(
            load(request)
                .await
                .map(|session| Self(session.into_typed::<T>())),
        )
    }
}
