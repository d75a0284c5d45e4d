//! Session ids: generated from the OS random source, checked for shape before any
//! store lookup, and never logged raw.

use std::fmt;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::rngs::SysRng;
use rand::TryRng;
use sha1::{Digest, Sha1};

/// The shortest sid accepted from a cookie. 16 characters is the shape of a
/// 12-byte token; shorter values cannot be a session id of any app we share with.
pub const MIN_SID_CHARS: usize = 16;
/// The longest sid accepted from a cookie (128 random bytes encode to 171 chars;
/// the slack admits sids of other apps and older versions).
pub const MAX_SID_CHARS: usize = 256;

/// Whether `b` may appear in a sid: base64url's alphabet. Range tests
/// rather than a table, so a whole sid is checked 16 or 32 bytes at a time
/// (see [`SessionId::has_sid_shape`]).
const fn is_sid_byte(b: u8) -> bool {
    b.is_ascii_lowercase() | b.is_ascii_uppercase() | b.is_ascii_digit() | (b == b'-') | (b == b'_')
}

/// A session id: base64url characters only, 16 to 256 of them.
///
/// Its `Debug` and `Display` show a short hash, never the id itself: a sid is a
/// bearer token.
///
/// Shared rather than owned: a request's cookie value and the sid read from
/// it are one allocation, and cloning a sid costs no copy.
///
/// `None` only in the placeholder of a request not loaded yet, which needs no
/// allocation.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SessionId(Option<Arc<str>>);

/// The OS random source failed; no session id could be made.
#[derive(Debug, thiserror::Error)]
#[error("the operating system's random source failed: {0}")]
pub struct RandomSourceError(String);

impl SessionId {
    /// A new id of `bytes` random bytes from the OS source, base64url without
    /// padding (32 bytes give 43 characters), as Python's `secrets.token_urlsafe`.
    ///
    /// # Errors
    ///
    /// [`RandomSourceError`] when the OS random source fails.
    pub fn generate(bytes: usize) -> Result<Self, RandomSourceError> {
        let mut buf = vec![0u8; bytes];
        SysRng
            .try_fill_bytes(&mut buf)
            .map_err(|e| RandomSourceError(e.to_string()))?;
        Ok(Self(Some(URL_SAFE_NO_PAD.encode(&buf).into())))
    }

    /// The empty id of a request not loaded yet. It never reaches a store
    /// or a cookie: `parse` would reject it.
    pub(crate) fn placeholder() -> Self {
        Self(None)
    }

    /// Checks the shape of a client-supplied id. `None` means the value can never
    /// be a session id and must not reach the store.
    pub fn parse(candidate: &str) -> Option<Self> {
        Self::has_sid_shape(candidate).then(|| Self(Some(candidate.into())))
    }

    /// [`Self::parse`] for a shared value, which becomes the id without a
    /// copy.
    pub fn parse_shared(candidate: &Arc<str>) -> Option<Self> {
        Self::has_sid_shape(candidate).then(|| Self(Some(Arc::clone(candidate))))
    }

    pub(crate) fn has_sid_shape(candidate: &str) -> bool {
        // A fold without early exit, which the compiler vectorizes: this runs
        // on every request that loads a session.
        (MIN_SID_CHARS..=MAX_SID_CHARS).contains(&candidate.len())
            && candidate
                .bytes()
                .fold(true, |valid, b| valid & is_sid_byte(b))
    }

    /// The id itself. Treat it as a secret: it must not be logged.
    pub fn expose(&self) -> &str {
        self.0.as_deref().unwrap_or_default()
    }

    /// A short, stable, non-reversible tag for logs: 8 hex digits of SHA-1.
    pub fn log_tag(&self) -> String {
        let digest = Sha1::digest(self.expose().as_bytes());
        digest[..4].iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId(#{})", self.log_tag())
    }
}

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.log_tag())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_have_python_token_urlsafe_lengths() {
        assert_eq!(SessionId::generate(32).unwrap().expose().len(), 43);
        assert_eq!(SessionId::generate(16).unwrap().expose().len(), 22);
        assert_eq!(SessionId::generate(128).unwrap().expose().len(), 171);
    }

    #[test]
    fn generated_ids_differ_and_parse_back() {
        let a = SessionId::generate(32).unwrap();
        let b = SessionId::generate(32).unwrap();
        assert_ne!(a, b);
        assert_eq!(SessionId::parse(a.expose()), Some(a));
    }

    #[test]
    fn shape_check_rejects_bad_values() {
        for bad in [
            "",
            "short",
            "../../../../etc/passwd0000",
            "abc def ghi jkl mno",
            "AAAAAAAAAAAAAAAAAAAA.sig",
            "ééééééééééééééééé",
            &"a".repeat(257),
        ] {
            assert!(SessionId::parse(bad).is_none(), "{bad:?} was accepted");
        }
        assert!(SessionId::parse(&"a".repeat(16)).is_some());
        for bad in ["short", "../../../../etc/passwd0000"] {
            assert!(SessionId::parse_shared(&Arc::from(bad)).is_none());
        }
        let shared: Arc<str> = "b".repeat(43).into();
        let id = SessionId::parse_shared(&shared).unwrap();
        assert_eq!(id.expose(), &*shared);
        assert_eq!(Arc::strong_count(&shared), 2, "the id shares the value");
        assert!(SessionId::parse(&"a".repeat(256)).is_some());
    }

    #[test]
    fn debug_and_display_hide_the_id() {
        let id = SessionId::generate(32).unwrap();
        assert!(!format!("{id:?}").contains(id.expose()));
        assert!(!format!("{id}").contains(id.expose()));
        assert_eq!(id.log_tag().len(), 8);
    }
}
