//! Typed, configuration-driven server-side sessions for Poem and Rocket,
//! compatible with Python's Flask-Session 0.8: the one package an app adds.
//!
//! ```toml
//! [dependencies]
//! server-sessions = { version = "0.1", features = ["poem", "redis"] }
//! ```
//!
//! It re-exports the framework-neutral core (the package `session-core`:
//! [`SessionManager`], [`Settings`], the stores in [`store`], the session
//! map), the derive [`SessionData`](macro@SessionData) (feature `macros`, on
//! by default), the settings loader as [`config`], and the adapters: [`poem`]
//! (feature `poem`) and [`rocket`] (feature `rocket`).
//!
//! # Features
//!
//! | feature | what it adds |
//! |---|---|
//! | `poem` | [`poem::SessionMiddleware`] and the extractors |
//! | `rocket` | [`rocket::SessionFairing`] and the request guards |
//! | `macros` (default) | `#[derive(SessionData)]` |
//! | `config` | `Settings::from_config`: settings from an app's own `config::Config` |
//! | `memory`, `filesystem` (default) | the in-process and the file backends |
//! | `redis`, `memcached`, `mongodb` | those backends |
//! | `sql`, or one of `sqlite`, `postgres`, `mysql` | the SQL backend (`SESSION_TYPE = sqlalchemy`) |
//!
//! # The derive
//!
//! `server_sessions::SessionData` is the derive whose generated code names
//! `::server_sessions`, so nothing else needs to be in scope. An app that
//! depends on this package under another name (`sessions = { package =
//! "server-sessions", … }`) says so with `#[session(crate = "sessions")]`.
//!
//! ```
//! use server_sessions::SessionData;
//!
//! #[derive(Default, SessionData)]
//! struct Visit {
//!     count: u32,
//! }
//!
//! assert_eq!(<Visit as SessionData>::KEYS, ["count"]);
//! assert_eq!(Visit::KEY_COUNT, "count");
//! ```
//!
//! The README has the Poem and the Rocket quickstarts, and how to shut the
//! sessions down with the server.

#![cfg_attr(docsrs, feature(doc_cfg))]

// Everything of the core, under the same paths (the derive's generated code
// reaches its helpers through the hidden `__private` module re-exported
// here).
pub use sessions_core::*;

// The derive whose generated code names `::server_sessions`. As an explicit
// import it shadows the core's derive of the same name that the glob above
// brings in (that one names `::session`, which an app of this package alone
// does not have); the trait `SessionData` still comes from the glob.
#[cfg(feature = "macros")]
#[cfg_attr(docsrs, doc(cfg(feature = "macros")))]
pub use session_macros::SessionDataViaFacade as SessionData;

/// The Poem adapter: [`SessionMiddleware`](poem::SessionMiddleware) and the
/// [`Session`](poem::Session) and [`TypedSession`](poem::TypedSession)
/// extractors.
#[cfg(feature = "poem")]
#[cfg_attr(docsrs, doc(cfg(feature = "poem")))]
pub mod poem {
    pub use session_integrations::poem::*;
}

/// The Rocket adapter: [`SessionFairing`](rocket::SessionFairing), the
/// [`Session`](rocket::Session) and [`TypedSession`](rocket::TypedSession)
/// guards, and the [`testing`](rocket::testing) helpers.
#[cfg(feature = "rocket")]
#[cfg_attr(docsrs, doc(cfg(feature = "rocket")))]
pub mod rocket {
    pub use session_integrations::rocket::*;
}

#[cfg(any(feature = "poem", feature = "rocket"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "poem", feature = "rocket"))))]
pub use session_integrations::StartupError;
