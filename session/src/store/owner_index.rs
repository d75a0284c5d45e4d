//! The owner index every store keeps: owner → the keys of that owner's live
//! sessions (design §12; ARCHITECTURE.md, "Sessions that know their owner").
//!
//! The lifecycle writes it only when a session's owner changes (a login, a
//! logout, a regenerate of an owned session, a revoke), never on an ordinary
//! write, so a normal request pays nothing for it. Entries can outlive their
//! session (it expired, or a process died between the write and the index
//! update): [`SessionStore::list_owned`](super::SessionStore::list_owned)
//! prunes them, so a listing holds live sessions only.
//!
//! # The contract each backend keeps
//!
//! - `owner` is any non-empty UTF-8 text of at most [`MAX_OWNER_LEN`] bytes
//!   without control characters, characters special to the backend included (`:`, `*`, `{`, `/`, `..`,
//!   spaces): a backend escapes or hashes it, and two owners never share an
//!   index.
//! - Adding a key that is already indexed replaces its entry; removing one
//!   that is not is not an error.
//! - A listing never returns a key whose record is gone.

use std::time::SystemTime;

/// The longest owner, in bytes, a store must index. Longer owners, and
/// owners with control characters, are refused by
/// [`Session::login`](crate::Session::login).
pub const MAX_OWNER_LEN: usize = 1024;

/// One live session in an owner's index, as the store knows it.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IndexedSession {
    /// The session's store key (`key_prefix + sid`). It holds the raw sid, a
    /// bearer token: the manager turns it into an opaque
    /// [`SessionHandle`](crate::owner::SessionHandle) and never shows it.
    pub key: String,
    /// When the owner logged in, where the index records it.
    pub created: Option<SystemTime>,
    /// When the record expires, where the backend can tell.
    pub expires: Option<SystemTime>,
}

impl IndexedSession {
    /// An entry for `key`.
    pub fn new(key: String, created: Option<SystemTime>, expires: Option<SystemTime>) -> Self {
        Self {
            key,
            created,
            expires,
        }
    }
}

/// Never shows the key: it holds the raw sid.
impl std::fmt::Debug for IndexedSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IndexedSession")
            .field("created", &self.created)
            .field("expires", &self.expires)
            .finish_non_exhaustive()
    }
}

/// Unix seconds, for backends that store a time as an integer; 0 before 1970.
// Unused by a build with none of the backends that store unix seconds.
#[cfg_attr(
    not(any(
        feature = "_sql",
        feature = "redis",
        feature = "memcached",
        feature = "filesystem"
    )),
    allow(dead_code)
)]
pub(crate) fn unix_seconds(time: SystemTime) -> i64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
        })
}

/// The time of a unix-seconds integer a backend stored; `None` when negative.
// Unused by a build with none of the backends that store unix seconds.
#[cfg_attr(
    not(any(
        feature = "_sql",
        feature = "redis",
        feature = "memcached",
        feature = "filesystem"
    )),
    allow(dead_code)
)]
pub(crate) fn from_unix_seconds(seconds: i64) -> Option<SystemTime> {
    let seconds = u64::try_from(seconds).ok()?;
    SystemTime::UNIX_EPOCH.checked_add(std::time::Duration::from_secs(seconds))
}
