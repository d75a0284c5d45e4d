//! The lifecycle's state of one request's session: a leaf, which every other
//! part of the lifecycle reads and none of which it imports.
//!
//! # Invariants
//!
//! A [`SessionState`] is written by the load (which replaces the unloaded
//! placeholder), by the handle's mutating calls, and once by finish. The
//! combinations of its flags that can occur:
//!
//! - `record_existed` iff a record was read and decoded at load; then
//!   `loaded_key` holds its key (until finish takes it), `baseline` is not
//!   [`Baseline::New`], and `stale_cookie` is false.
//! - `!record_existed`: the sid is new (never adopted from the client), the
//!   baseline is [`Baseline::New`], and `stale_cookie` says whether a cookie
//!   (or, for a header request, a session header) was sent that named no
//!   live record (then `cookie_sent` is true).
//! - `regenerated` means `id` was replaced by a new sid. `replaced_id` is the
//!   loaded record's sid, and is set only when `record_existed`: it is the
//!   record to delete once the session is saved under its new sid. A session
//!   regenerated twice keeps the first `replaced_id`.
//! - `signed_with_fallback` (a fallback key signed the cookie) implies `record_existed`.
//! - `touched` is set by every mutating call; without it no encode is needed
//!   at finish.
//! - `indexed_owner` is the owner the store's index holds the loaded record
//!   under (its `_owner_indexed`), read at load; `None` for a new session.
//!   Finish compares it with the owner then, and changes the index only when
//!   they differ or the sid moved.
//! - `logged_in_at` is set by `login()`, which also sets `regenerated` when
//!   the client brought a sid.

use std::time::SystemTime;

use crate::id::SessionId;
use crate::map::SessionMap;
use crate::value::ValueError;

/// What the finish step compares against to decide whether the map changed.
#[derive(Debug, Clone)]
pub(crate) enum Baseline {
    /// No record was loaded: any non-empty map is a change.
    New,
    /// The record the map was decoded from is its canonical encoding
    /// ([`SessionMap`]'s stored bytes).
    Record,
    /// The canonical encoding of the map as loaded.
    Encoded(Vec<u8>),
    /// The loaded map has no encoding in the configured format; any mutation
    /// counts as a change.
    Unencodable,
}

/// Everything the lifecycle tracks about a loaded session.
pub(crate) struct SessionState {
    pub(crate) map: SessionMap,
    /// The sid the cookie will carry.
    pub(crate) id: SessionId,
    /// The store key the record was read under, kept so finish need not
    /// build it again; `None` when no record was read.
    pub(crate) loaded_key: Option<String>,
    /// A record was read from the store for this request.
    pub(crate) record_existed: bool,
    /// After `regenerate()`: the sid whose record must be deleted once the
    /// session is saved under its new sid.
    pub(crate) replaced_id: Option<SessionId>,
    pub(crate) baseline: Baseline,
    /// A mutating call happened since load; without one, no encode is needed.
    pub(crate) touched: bool,
    pub(crate) regenerated: bool,
    /// A cookie was sent but named no live record: invalid, badly signed, or
    /// missing from the store.
    pub(crate) stale_cookie: bool,
    /// The request sent a sid, valid or not: a session cookie, or a
    /// non-empty session header for a header request.
    pub(crate) cookie_sent: bool,
    /// The cookie verified with a fallback key and should be re-signed.
    pub(crate) signed_with_fallback: bool,
    /// A typed view failed to write back; reported at finish.
    pub(crate) pending_error: Option<ValueError>,
    /// The owner the store's index holds the loaded record under.
    pub(crate) indexed_owner: Option<String>,
    /// When `login()` was called in this request.
    pub(crate) logged_in_at: Option<SystemTime>,
}

/// Never shows the map's values or the loaded key: the one is user data, the
/// other holds the raw sid, a bearer token.
impl std::fmt::Debug for SessionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionState")
            .field("id", &self.id)
            .field("keys", &self.map.keys().collect::<Vec<_>>())
            .field("record_existed", &self.record_existed)
            .field("regenerated", &self.regenerated)
            .field("replaced_id", &self.replaced_id)
            .field("touched", &self.touched)
            .field("stale_cookie", &self.stale_cookie)
            .field("cookie_sent", &self.cookie_sent)
            .field("signed_with_fallback", &self.signed_with_fallback)
            .finish_non_exhaustive()
    }
}

impl SessionState {
    /// The state of a request before its load: empty, and never seen by a
    /// [`Session`](super::Session), which exists only once the load has
    /// replaced it.
    pub(crate) fn unloaded() -> Self {
        Self {
            map: SessionMap::new(),
            id: SessionId::placeholder(),
            loaded_key: None,
            record_existed: false,
            replaced_id: None,
            baseline: Baseline::New,
            touched: false,
            regenerated: false,
            stale_cookie: false,
            cookie_sent: false,
            signed_with_fallback: false,
            pending_error: None,
            indexed_owner: None,
            logged_in_at: None,
        }
    }
}
