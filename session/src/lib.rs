//! Typed, configuration-driven server-side sessions, compatible with Python's
//! Flask-Session 0.8: the framework-neutral core.
//!
//! Apps depend on the facade package `server-sessions`, which re-exports
//! everything here (as `server_sessions::…`) with the derive and the Poem and
//! Rocket adapters behind features. This package is `session-core`; its crate
//! is named `session`.
//!
//! # Design
//!
//! A [`SessionManager`] holds the validated [`Settings`], a [`SessionStore`],
//! the cookie signer and the codec. Framework adapters (Poem and Rocket, in
//! `session-integrations`) run the same three steps for every request, and the
//! decisions live here, once:
//!
//! 1. **Open** ([`SessionManager::open`]): keep the session cookie's values.
//!    No I/O and no checks yet; load checks the sid's shape and signature, so
//!    nothing invalid ever reaches the store. With
//!    header transport on (`header_name`), a request that carries that header
//!    uses it instead, for its whole life ([`SessionManager::open_with_header`],
//!    [`transport`]): API and mobile clients without a cookie jar share the
//!    deployment with browsers.
//! 2. **Load** ([`RequestSession::load`]): lazily, the first time a handler asks,
//!    with one store read that also slides the expiry. A missing, expired or
//!    undecodable record gives a fresh session with a **new** sid: a
//!    client-chosen sid is never adopted.
//! 3. **Finish** ([`RequestSession::finish`]): after the handler, write only what
//!    changed (a change is a different encoding, not a mutable borrow), delete
//!    emptied sessions, and say which `Set-Cookie` (or session header) and
//!    `Vary` to send. A 5xx response persists nothing.
//!
//! A route that never asks for the session costs no store round trip; a read
//! costs one; a write two at most. Sliding expiry is refreshed only on requests
//! that load the session (Flask reads the store on every request). Concurrent
//! requests on one session never lose each other's changes: a loaded session
//! is saved only if unchanged, and merged key by key otherwise; a session
//! ended meanwhile stays ended (`write_mode = "overwrite"` is Flask's
//! last-writer-wins).
//!
//! # Data
//!
//! The session is a [`SessionMap`] of string keys to msgpack values, kept as the
//! bytes they were read as: keys another app wrote (`_flashes`, `_user_id`,
//! binary, timestamps, uint64) survive a Rust rewrite byte for byte. The store
//! holds msgspec-compatible msgpack or compact JSON; decoding accepts both.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use session::{store::memory::MemoryStore, SessionManager, Settings};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! let manager = SessionManager::new(Settings::default(), Arc::new(MemoryStore::new())).unwrap();
//!
//! // First request: no cookie. The handler writes a value.
//! let request = manager.open([]);
//! let session = request.load().await.unwrap();
//! session.insert("user", "ada").unwrap();
//! let outcome = request.finish(200).await.unwrap();
//! let set_cookie = outcome.set_cookie.unwrap();
//!
//! // Second request: the browser sends the cookie back.
//! let cookie = set_cookie.split(';').next().unwrap();
//! let request = manager.open([cookie.as_bytes()]);
//! let session = request.load().await.unwrap();
//! assert_eq!(session.get::<String>("user").unwrap().as_deref(), Some("ada"));
//! # });
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]

mod buffer_pool;
pub mod codec;
pub mod cookie;
mod encoded_fields;
mod engine;
mod errors;
pub mod flask;
pub mod id;
mod lifecycle;
mod manager;
pub mod map;
pub mod owner;
pub mod signing;
pub mod store;
pub mod transport;
mod typed;
pub mod value;

pub use errors::{FinishError, LoadError};
pub use id::SessionId;
pub use lifecycle::{FinishOutcome, Finishing, RequestSession, Session, StoreFinish};
pub use manager::SessionManager;
pub use map::SessionMap;
pub use session_config::{self as config, Settings};
pub use store::{SaveHint, SessionStore, StoreError, StoreErrorKind, WriteOutcome};
pub use transport::{SessionHeader, Transport};
pub use typed::{SessionData, Typed};
pub use value::{Bytes, Timestamp, ValueError};

#[cfg(feature = "macros")]
#[cfg_attr(docsrs, doc(cfg(feature = "macros")))]
pub use session_macros::SessionData;

/// Paths the derive's generated code uses; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::encoded_fields::EncodedFields;
    pub use crate::map::SessionMap;
    pub use crate::typed::{read_field, SessionData};
    pub use crate::value::ValueError;
    pub use serde;
}
