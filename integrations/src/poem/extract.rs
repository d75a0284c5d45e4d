//! The extractors: [`Session`] and [`TypedSession<T>`] taken from a Poem
//! request that [`SessionMiddleware`](super::SessionMiddleware) opened.

use poem::error::ResponseError;
use poem::http::StatusCode;
use poem::{FromRequest, Request, RequestBody, Result};
use session::{RequestSession, SessionData};

use crate::adapter::{self, Session, SessionRejection, TypedSession};

const MISSING: &str = "the session extractor was used on a route without SessionMiddleware; \
                       add `.with(SessionMiddleware::from_config().await?)` to the app";

impl ResponseError for SessionRejection {
    fn status(&self) -> StatusCode {
        StatusCode::from_u16(SessionRejection::status(self))
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

async fn load(req: &Request) -> Result<session::Session, SessionRejection> {
    adapter::load(req.extensions().get::<RequestSession>(), MISSING).await
}

impl<'a> FromRequest<'a> for Session {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> Result<Self> {
        Ok(Self(load(req).await?))
    }
}

impl<'a, T: SessionData> FromRequest<'a> for TypedSession<T> {
    async fn from_request(req: &'a Request, _body: &mut RequestBody) -> Result<Self> {
        Ok(Self(load(req).await?.into_typed::<T>()))
    }
}
