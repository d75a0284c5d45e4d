//! The Rocket adapter: the [`SessionFairing`] and the [`Session`] and
//! [`TypedSession`] request guards.
//!
//! ```no_run
//! use rocket::{get, launch, routes};
//! use session::SessionData;
//! use session_integrations::rocket::{Session, SessionFairing, TypedSession};
//!
//! #[derive(Default, SessionData)]
//! struct Visit {
//!     count: u32,
//! }
//!
//! #[get("/incr")]
//! fn incr(mut visit: TypedSession<Visit>) -> String {
//!     visit.count += 1; // written back when the handler returns
//!     visit.count.to_string()
//! }
//!
//! #[get("/logout")]
//! fn logout(session: Session) {
//!     session.clear(); // deletes the record and expires the cookie
//! }
//!
//! #[launch]
//! fn rocket() -> _ {
//!     // ./Session.toml (or $SESSION_CONFIG), then SESSION_* variables.
//!     rocket::build().attach(SessionFairing::from_config()).mount("/", routes![incr, logout])
//! }
//! ```
//!
//! # How it works
//!
//! - **On ignite** the fairing loads the settings and builds the store they
//!   select; a configuration error or a backend that cannot start aborts
//!   ignition, and the full message is logged. The [`session::SessionManager`]
//!   is then managed state: a route can take `&State<SessionManager>` for the
//!   by-id operations. Don't manage one yourself: pass it to
//!   [`SessionFairing::new`].
//! - **Guards** load lazily: a route that takes no session guard costs no store
//!   round trip. The request's session is opened once (from its cookies, with
//!   no I/O) and cached in `Request::local_cache`; it is loaded at most once,
//!   however many guards ask and however many routes the request is forwarded
//!   through, and typed and untyped guards share its one map. A store that
//!   cannot be read fails the guard with 503 when it is unreachable, 500
//!   otherwise (the app's catcher for that status answers); routes without a
//!   session guard keep working.
//! - **On response** the fairing finishes the session: it writes what changed
//!   and adds `Set-Cookie` and `Vary: Cookie` to the response headers itself,
//!   because Rocket flushes its cookie jar before response fairings run. A
//!   store failure here replaces the response with an opaque 503 or 500 (the
//!   details are logged). While no request of the process holds an opened
//!   session, a response does not even look in the local cache, which would
//!   otherwise store an entry for every request that took no session guard.
//! - **A [`Sentinel`](rocket::Sentinel)** aborts launch when a route takes a
//!   session guard and the fairing is not attached, and logs which fairing to
//!   attach (Rocket itself prints only the guard's type name).
//!
//! # Configuration
//!
//! [`SessionFairing::from_config`] reads `./Session.toml` (or the file named
//! by `SESSION_CONFIG`) and `SESSION_*` variables, as every app of this
//! framework does. [`SessionFairing::from_figment`] reads the `[session]` table
//! of Rocket's own configuration (`Rocket.toml`, with the selected profile)
//! instead of `Session.toml`; `SESSION_*` variables still override it.
//! `ROCKET_SESSION_*` variables do not work: Rocket's environment provider does
//! not split nested keys.
//!
//! ```toml
//! # Rocket.toml
//! [default.session]
//! type = "redis"
//! redis = "redis://127.0.0.1:6379"
//! use_signer = true
//! ```
//!
//! # Rocket's `secret_key` is not used
//!
//! Cookies are signed, when `use_signer` is on, with the `secret_key` of the
//! session settings (`SECRET_KEY`, the key a Flask app shares), not with
//! Rocket's `secret_key`: Rocket keeps its key's bytes private, and it is not
//! Flask's `SECRET_KEY`. Rocket's private cookies are not involved either; the
//! session cookie is written by this adapter, not through Rocket's cookie jar.
//!
//! # Tests
//!
//! [`testing`] seeds and inspects sessions with Rocket's local `Client`.

mod fairing;
mod guard;
mod sentinel;
mod state;
pub mod testing;

pub use crate::adapter::{Session, SessionRejection, TypedSession};
pub use fairing::SessionFairing;
