//! The per-request lifecycle, written once for every adapter: open, load,
//! finish. Its parts, and the one way their arrows point (a part imports only
//! those listed before it):
//!
//! 1. [`state`]: what is known about one request's session, with its
//!    invariants. A leaf.
//! 2. [`decision`]: the finish table as a pure function of a few facts.
//! 3. [`gate`]: at most one store read per request.
//! 4. [`dispatch`]: the store calls, synchronous for an in-process store.
//! 5. [`shared`]: the per-request allocation the handles share.
//! 6. [`merge`] and [`work`]: carrying out a decision: a conditional save
//!    that merges per key when another writer got there first, a delete,
//!    headers.
//! 7. [`handle`]: [`Session`], the handlers' view of the map.
//! 8. [`request`]: [`RequestSession`], the three steps, on top.
//!
//! ARCHITECTURE.md draws the map and gives the finish table row by row.

mod decision;
mod dispatch;
mod gate;
mod handle;
mod merge;
mod request;
mod shared;
mod state;
mod work;

pub use handle::Session;
pub use request::RequestSession;
pub use work::{FinishOutcome, Finishing, StoreFinish};
