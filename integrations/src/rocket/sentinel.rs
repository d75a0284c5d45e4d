//! Sentinels: launch aborts when a route takes a session guard and the
//! fairing is not attached.

use rocket::{Ignite, Rocket, Sentinel};
use session::SessionData;

use super::state::Installed;
use crate::adapter::{Session, TypedSession};

/// Whether to abort; logs why, since Rocket prints only the guard's type name.
fn abort_without_fairing(rocket: &Rocket<Ignite>, guard: &str) -> bool {
    if rocket.state::<Installed>().is_some() {
        return false;
    }
    tracing::error!(
        "a route takes the request guard `{guard}`, but the session fairing is not attached: \
         add `.attach(session_integrations::rocket::SessionFairing::from_config())` to the rocket"
    );
    true
}

impl Sentinel for Session {
    fn abort(rocket: &Rocket<Ignite>) -> bool {
        abort_without_fairing(rocket, std::any::type_name::<Self>())
    }
}

impl<T: SessionData> Sentinel for TypedSession<T> {
    fn abort(rocket: &Rocket<Ignite>) -> bool {
        abort_without_fairing(rocket, std::any::type_name::<Self>())
    }
}
