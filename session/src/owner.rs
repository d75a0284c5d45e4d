//! Sessions that know their owner (design §12 and §13; ARCHITECTURE.md,
//! "Sessions that know their owner").
//!
//! The owner is the value under `owner_key` (default `_user_id`,
//! Flask-Login's key), text or an integer. A handler logs a user in with
//! [`Session::login`](crate::Session::login), which always moves the session
//! to a new sid when the client brought one, so a planted sid never becomes
//! a logged-in one; [`Session::logout`](crate::Session::logout) ends the
//! session. The store keeps an index owner → live sessions, written only when
//! a session's owner changes, never on an ordinary write. Outside a request,
//! [`SessionManager`](crate::SessionManager) lists an owner's sessions
//! ([`sessions_of`](crate::SessionManager::sessions_of)) and ends them
//! ([`revoke`](crate::SessionManager::revoke),
//! [`revoke_all`](crate::SessionManager::revoke_all),
//! [`revoke_all_except`](crate::SessionManager::revoke_all_except)). A
//! revoked session that a request still holds finds its record gone when it
//! saves, and stays ended (with `write_mode = "merge"`, the default; in
//! overwrite mode a save after a revoke writes the session back, as in
//! Flask).
//!
//! # Keys the framework keeps in the session
//!
//! - [`FRESH_KEY`] (`_fresh`): set to true at login, as Flask-Login does.
//! - [`CREATED_KEY`] (`_created`): the session's start in unix seconds, set
//!   at creation and at login when `absolute_lifetime` is configured.
//! - [`INDEXED_KEY`] (`_owner_indexed`): the owner the store's index holds
//!   this session under. Comparing it with the owner at finish is how the
//!   lifecycle knows, at no cost, whether the index must change; a Flask app
//!   that logs a user in sets `_user_id` only, so that session is indexed the
//!   first time this framework saves it.

use std::fmt;
use std::str::FromStr;
use std::time::SystemTime;

use crate::map::SessionMap;
use crate::store::MAX_OWNER_LEN;

/// Flask-Login's freshness flag, set to true at login.
pub const FRESH_KEY: &str = "_fresh";

/// The session's start, in unix seconds: set at creation and at login when
/// `absolute_lifetime` is configured, and compared with it at load.
pub const CREATED_KEY: &str = "_created";

/// The owner the store's index holds the session under.
pub const INDEXED_KEY: &str = "_owner_indexed";

/// An opaque, stable name for one session, safe to show its owner (in a
/// device list) and to send back (to end that session): a keyed hash of the
/// session's store key, never the sid.
///
/// With `secret_key` set, the hash is keyed by it, so no one without the key
/// can link a handle to a sid; without a secret it is a plain digest, which
/// still cannot be reversed into a sid of 128 bits or more.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionHandle(String);

impl SessionHandle {
    /// The handle of the session stored under `key`.
    pub(crate) fn of_key(secret: Option<&str>, key: &str) -> Self {
        let key_bytes = secret.unwrap_or("session-handle").as_bytes();
        let mac = crate::signing::mac_of(key_bytes, key.as_bytes());
        Self(crate::store::hex(&mac[..16]))
    }

    /// The handle as text (32 lowercase hex digits).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SessionHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SessionHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SessionHandle").field(&self.0).finish()
    }
}

/// A handle that is not 32 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a session handle is 32 hexadecimal digits")]
pub struct BadHandle;

impl FromStr for SessionHandle {
    type Err = BadHandle;

    /// Reads a handle as [`Display`](fmt::Display) writes it; upper case is
    /// accepted.
    fn from_str(text: &str) -> Result<Self, BadHandle> {
        if text.len() == 32 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            Ok(Self(text.to_ascii_lowercase()))
        } else {
            Err(BadHandle)
        }
    }
}

/// One live session of an owner, as [`SessionManager::sessions_of`](crate::SessionManager::sessions_of) lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OwnedSession {
    /// The session's opaque handle.
    pub handle: SessionHandle,
    /// When the owner logged in, where the store records it.
    pub created: Option<SystemTime>,
    /// When the session expires unless used again, where the store tells.
    pub expires: Option<SystemTime>,
}

/// Why [`Session::login`](crate::Session::login) refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoginError {
    /// The owner is empty, longer than [`MAX_OWNER_LEN`] bytes, or holds a
    /// control character (which no store need keep: PostgreSQL text cannot
    /// hold a NUL).
    #[error("an owner is 1 to {MAX_OWNER_LEN} bytes of text without control characters; this one has {len} bytes")]
    Owner {
        /// The owner's length in bytes.
        len: usize,
    },
    /// No new sid could be made.
    #[error(transparent)]
    Random(#[from] crate::id::RandomSourceError),
    /// The owner could not be stored in the session.
    #[error(transparent)]
    Value(#[from] crate::value::ValueError),
}

/// Checks an owner's length and characters.
pub(crate) fn check_owner(owner: &str) -> Result<(), LoginError> {
    if owner.is_empty() || owner.len() > MAX_OWNER_LEN || owner.chars().any(char::is_control) {
        return Err(LoginError::Owner { len: owner.len() });
    }
    Ok(())
}

/// The owner under `key`: text, or an integer as its decimal text; `None`
/// when absent, of another type, or not a valid owner.
pub(crate) fn owner_in(map: &SessionMap, key: &str) -> Option<String> {
    map.get_raw(key)?;
    let owner = match map.get::<String>(key) {
        Ok(Some(text)) => text,
        _ => map.get::<i64>(key).ok()??.to_string(),
    };
    check_owner(&owner).ok()?;
    Some(owner)
}

/// How long an owner's index must keep an entry: as long as its session can
/// live. Every request slides a session's expiry without telling the index,
/// so only `absolute_lifetime` bounds it (plus one idle lifetime after the
/// last request); without one, the entry must not expire by itself (it is
/// pruned when listed, once its session is gone), or a session in daily use
/// would fall out of "log out everywhere".
pub(crate) fn index_ttl(settings: &session_config::Settings) -> std::time::Duration {
    match settings.absolute_lifetime {
        Some(absolute) => absolute.saturating_add(settings.permanent_session_lifetime),
        None => INDEX_KEPT_WHILE_LISTED,
    }
}

/// "No expiry" for an index entry: the 100 years every duration setting is
/// bounded by, which every store can express.
const INDEX_KEPT_WHILE_LISTED: std::time::Duration =
    std::time::Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// Unix seconds now.
pub(crate) fn now_unix() -> i64 {
    crate::store::unix_seconds(SystemTime::now())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn handles_are_keyed_stable_and_parse_back() {
        let a = SessionHandle::of_key(Some("k1"), "session:abc");
        assert_eq!(a, SessionHandle::of_key(Some("k1"), "session:abc"));
        assert_ne!(a, SessionHandle::of_key(Some("k2"), "session:abc"));
        assert_ne!(a, SessionHandle::of_key(Some("k1"), "session:abd"));
        assert_ne!(a, SessionHandle::of_key(None, "session:abc"));
        assert_eq!(a.as_str().len(), 32);
        assert!(!a.as_str().contains("abc"));
        assert_eq!(a.to_string().parse::<SessionHandle>().unwrap(), a);
        assert_eq!(
            a.to_string()
                .to_uppercase()
                .parse::<SessionHandle>()
                .unwrap(),
            a
        );
        for bad in ["", "xyz", &"0".repeat(31), &"g".repeat(32), &"0".repeat(33)] {
            assert_eq!(bad.parse::<SessionHandle>(), Err(BadHandle), "{bad}");
        }
    }

    #[test]
    fn owners_are_text_or_integers_within_limits() {
        let mut map = SessionMap::new();
        assert_eq!(owner_in(&map, "_user_id"), None);
        map.insert("_user_id", "ada").unwrap();
        assert_eq!(owner_in(&map, "_user_id").as_deref(), Some("ada"));
        map.insert("_user_id", &42).unwrap();
        assert_eq!(owner_in(&map, "_user_id").as_deref(), Some("42"));
        for bad in [
            serde_json::json!(""),
            serde_json::json!([1]),
            serde_json::json!(true),
        ] {
            map.insert("_user_id", &bad).unwrap();
            assert_eq!(owner_in(&map, "_user_id"), None, "{bad}");
        }
        map.insert("_user_id", &"x".repeat(MAX_OWNER_LEN + 1))
            .unwrap();
        assert_eq!(owner_in(&map, "_user_id"), None);
        assert!(matches!(check_owner(""), Err(LoginError::Owner { len: 0 })));
        assert!(check_owner(&"x".repeat(MAX_OWNER_LEN)).is_ok());
        for control in ["a\0b", "a\tb", "a\nb", "\u{7f}"] {
            assert!(check_owner(control).is_err(), "{control:?}");
        }
    }
}
