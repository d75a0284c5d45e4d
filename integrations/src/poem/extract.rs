//! Extractors: the untyped [`Session`] and the typed [`TypedSession<T>`].

use std::ops::{Deref, DerefMut};

use poem::error::ResponseError;
use poem::http::StatusCode;
use poem::{FromRequest, Request, RequestBody, Result};
use session::{LoadError, RequestSession, SessionData, Typed};

/// Why a session extractor failed.
#[derive(Debug, thiserror::Error)]
pub enum SessionRejection {
    /// The route is not wrapped in [`super::SessionMiddleware`].
    #[error("the session extractor was used on a route without SessionMiddleware; add `.with(SessionMiddleware::from_config().await?)` to the app")]
    MissingMiddleware,
    /// The store could not be read.
    #[error("{}", .0.public_message())]
    Load(#[source] LoadError),
}

impl ResponseError for SessionRejection {
    fn status(&self) -> StatusCode {
        match self {
            Self::MissingMiddleware => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Load(e) => {
                StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
            }
        }
    }
}

async fn load(req: &Request) -> Result<session::Session, SessionRejection> {
    let request_session = req.extensions().get::<RequestSession>().ok_or_else(|| {
        tracing::error!("{}", SessionRejection::MissingMiddleware);
        SessionRejection::MissingMiddleware
    })?;
    request_session.load().await.map_err(|error| {
        tracing::warn!(%error, "loading the session failed");
        SessionRejection::Load(error)
    })
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

impl<'a> FromRequest<'a> for Session {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> Result<Self> {
        Ok(Self(load(req).await?))
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

impl<'a, T: SessionData> FromRequest<'a> for TypedSession<T> {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> Result<Self> {
        Ok(Self(load(req).await?.into_typed::<T>()))
    }
}
