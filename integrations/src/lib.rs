//! Framework adapters for the `session` crate (the package `session-core`): a
//! Poem middleware with extractors (feature `poem`) and a Rocket fairing with
//! request guards (feature `rocket`). Apps reach them through the facade
//! package `server-sessions`, as `server_sessions::poem` and
//! `server_sessions::rocket`.
//!
//! The request lifecycle lives once, in [`session::RequestSession`]; each
//! adapter only translates: cookies (and, with header transport on, the
//! session header) in, `Set-Cookie` (or the session header) and `Vary` out,
//! errors to statuses. Both build the store that the settings select when the
//! app starts.
//!
//! # Poem
//!
//! ```no_run
//! use poem::error::InternalServerError;
//! use poem::{get, handler, listener::TcpListener, EndpointExt, Route, Server};
//! use session_integrations::poem::{Session, SessionMiddleware};
//!
//! #[handler]
//! fn count(session: Session) -> poem::Result<String> {
//!     let n: u32 = session.get("count").map_err(InternalServerError)?.unwrap_or(0) + 1;
//!     session.insert("count", &n).map_err(InternalServerError)?;
//!     Ok(n.to_string())
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! // Reads ./Session.toml (or $SESSION_CONFIG) and SESSION_* variables.
//! let sessions = SessionMiddleware::from_config().await?;
//! let app = Route::new().at("/count", get(count)).with(sessions);
//! Server::new(TcpListener::bind("127.0.0.1:8000")).run(app).await?;
//! # Ok(()) }
//! ```
//!
//! # Rocket
//!
//! ```no_run
//! use rocket::{get, launch, routes};
//! use session_integrations::rocket::{Session, SessionFairing};
//!
//! #[get("/count")]
//! fn count(session: Session) -> Result<String, rocket::http::Status> {
//!     let n: u32 = session.get("count").ok().flatten().unwrap_or(0) + 1;
//!     session.insert("count", &n).map_err(|_| rocket::http::Status::InternalServerError)?;
//!     Ok(n.to_string())
//! }
//!
//! #[launch]
//! fn rocket() -> _ {
//!     // Reads ./Session.toml (or $SESSION_CONFIG) and SESSION_* variables on ignite.
//!     rocket::build().attach(SessionFairing::from_config()).mount("/", routes![count])
//! }
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(any(feature = "poem", feature = "rocket"))]
mod adapter;
mod startup;

#[cfg(feature = "poem")]
#[cfg_attr(docsrs, doc(cfg(feature = "poem")))]
pub mod poem;
#[cfg(feature = "rocket")]
#[cfg_attr(docsrs, doc(cfg(feature = "rocket")))]
pub mod rocket;

#[cfg(any(feature = "poem", feature = "rocket"))]
pub use adapter::{Session, SessionRejection, TypedSession};
pub use startup::StartupError;
