//! The request guards: [`Session`] and [`TypedSession<T>`] taken from a
//! Rocket request, once the [`SessionFairing`](super::SessionFairing) is
//! attached.

use rocket::http::Status;
use rocket::request::{FromRequest, Outcome};
use rocket::Request;
use session::SessionData;

use super::state;
use crate::adapter::{self, Session, SessionRejection, TypedSession};

const MISSING: &str = "a session guard was used without SessionFairing; \
                       add `.attach(SessionFairing::from_config())` to the rocket";

async fn load(request: &Request<'_>) -> Outcome<session::Session, SessionRejection> {
    match adapter::load(state::open(request), MISSING).await {
        Ok(session) => Outcome::Success(session),
        Err(rejection) => {
            let status =
                Status::from_code(rejection.status()).unwrap_or(Status::InternalServerError);
            Outcome::Error((status, rejection))
        }
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Session {
    type Error = SessionRejection;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, SessionRejection> {
        load(request).await.map(Self)
    }
}

#[rocket::async_trait]
impl<'r, T: SessionData> FromRequest<'r> for TypedSession<T> {
    type Error = SessionRejection;

    async fn from_request(request: &'r Request<'_>) -> Outcome<Self, SessionRejection> {
        load(request)
            .await
            .map(|session| Self(session.into_typed::<T>()))
    }
}
