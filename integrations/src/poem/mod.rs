//! The Poem adapter: [`SessionMiddleware`] and the [`Session`] and
//! [`TypedSession`] extractors.
//!
//! The middleware opens the session from the request's cookies (no I/O), puts
//! it where the extractors find it, and finishes it after the endpoint returns,
//! on the `Ok` and the `Err` path alike. A route without an extractor never
//! touches the store.

mod extract;
mod middleware;
// A SQLite file store: the `sql` feature; a socket: tokio's `net`.
#[cfg(all(test, feature = "sql"))]
mod tests;

pub use crate::adapter::{Session, SessionRejection, TypedSession};
pub use middleware::{SessionEndpoint, SessionMiddleware};
