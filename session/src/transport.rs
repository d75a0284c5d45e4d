//! How a request carries its sid: the session cookie, or, with header
//! transport on (`header_name`, design §14), a header of the app's own for
//! clients without a cookie jar (API and mobile apps).
//!
//! The choice is made once per request, at open, from what the request
//! carries: a request with the header uses it for its whole life, and its
//! cookies are never read; a request without it is a cookie request exactly
//! as before. So a browser and an app share one deployment, and an app that
//! never sends the header never sees the feature. The value is the cookie
//! value's format, the sid, signed when the signer is on.
//!
//! Reading the header is here, once, as bytes, so both adapters only hand
//! over what arrived. What a response carries back (a [`SessionHeader`]
//! instead of a `Set-Cookie`) is decided by the lifecycle, in the request's
//! transport.

use std::borrow::Cow;
use std::sync::Arc;

/// How one request carries its sid, chosen at open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Transport {
    /// The session cookie: `Cookie` in, `Set-Cookie` out.
    Cookie,
    /// The `header_name` header in, the same header out; cookies are neither
    /// read nor set.
    Header,
}

/// The session header to add to a response to a header request: the sid
/// where a cookie request would have got a session cookie, or an empty value
/// where it would have got a deletion cookie.
///
/// Its `Debug` never shows the value: it is a bearer token.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionHeader {
    /// The header's name, as configured (`header_name`).
    pub name: Arc<str>,
    /// The sid (signed when the signer is on, exactly as a cookie value), or
    /// empty: the session ended, or the sid the client sent named none, and
    /// the client should forget its sid.
    pub value: String,
}

impl SessionHeader {
    /// Whether this header ends the client's session (an empty value), as a
    /// deletion cookie would.
    pub fn ends_session(&self) -> bool {
        self.value.is_empty()
    }
}

/// Never shows the value: it carries the raw sid.
impl std::fmt::Debug for SessionHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let value = if self.ends_session() { "empty" } else { "sid" };
        f.debug_struct("SessionHeader")
            .field("name", &self.name)
            .field("value", &value)
            .finish()
    }
}

/// What finish tells the client about its sid, in the request's transport.
pub(crate) enum Delivery {
    /// A `Set-Cookie` value: the session cookie, or a deletion cookie.
    SetCookie(String),
    /// The session header: the sid, or empty.
    Header(SessionHeader),
}

/// The longest session-header value read, in bytes. A valid value (a sid of
/// at most 256 characters, a `.` and a signature of at most 32) is far
/// shorter, and so is every prefix of an invalid one that is longer than
/// this: a huge header is judged by its prefix, without a copy of the rest.
const MAX_HEADER_VALUE: usize = 512;

/// What the request's session header holds, from its values as they
/// arrived: `None` when the request does not carry the header (a cookie
/// request); `Some(None)` when it carries it empty (a header client without
/// a session yet); `Some(Some(value))` otherwise, unverified.
///
/// Whitespace around the value is dropped, as HTTP does. Several header
/// lines are one comma-separated list to HTTP (RFC 9110 §5.3), which no sid
/// holds: an invalid value. A value that is not UTF-8 gets U+FFFD, which no
/// sid holds either.
pub(crate) fn header_value<'a>(
    values: impl IntoIterator<Item = &'a [u8]>,
) -> Option<Option<Arc<str>>> {
    let mut values = values.into_iter();
    let first = values.next()?;
    if values.next().is_some() {
        return Some(Some(Arc::from(",")));
    }
    let value = first.trim_ascii();
    if value.is_empty() {
        return Some(None);
    }
    let value = &value[..value.len().min(MAX_HEADER_VALUE)];
    // `from_utf8` first: its ASCII fast path is what a sid takes.
    let text = match std::str::from_utf8(value) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => String::from_utf8_lossy(value),
    };
    Some(Some(Arc::from(text.as_ref())))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn read(values: &[&[u8]]) -> Option<Option<String>> {
        header_value(values.iter().copied()).map(|value| value.map(|v| v.to_string()))
    }

    #[test]
    fn absent_empty_and_present_are_three_answers() {
        assert_eq!(read(&[]), None, "no header: a cookie request");
        assert_eq!(read(&[b""]), Some(None), "empty: a header request, no sid");
        assert_eq!(read(&[b"  \t "]), Some(None), "blank is empty");
        assert_eq!(read(&[b" abc.def "]), Some(Some("abc.def".into())));
    }

    #[test]
    fn several_lines_are_an_invalid_value() {
        let sid = "A".repeat(43);
        assert_eq!(
            read(&[sid.as_bytes(), sid.as_bytes()]),
            Some(Some(",".into()))
        );
        assert_eq!(read(&[b"", sid.as_bytes()]), Some(Some(",".into())));
    }

    #[test]
    fn a_huge_or_binary_value_is_kept_short_and_invalid() {
        let huge = "A".repeat(1 << 20);
        let kept = read(&[huge.as_bytes()]).unwrap().unwrap();
        assert_eq!(kept.len(), MAX_HEADER_VALUE);
        assert!(crate::SessionId::parse(&kept).is_none(), "still invalid");
        let binary = read(&[b"\xff\xfe\x00abc"]).unwrap().unwrap();
        assert!(binary.contains('\u{fffd}'));
        // A cut in the middle of a UTF-8 character is U+FFFD too, not a panic.
        let mut cut = "A".repeat(MAX_HEADER_VALUE - 1).into_bytes();
        cut.extend_from_slice("é".as_bytes());
        assert!(read(&[&cut]).unwrap().unwrap().ends_with('\u{fffd}'));
    }

    #[test]
    fn debug_never_shows_the_value() {
        let sid = "s3cr3t".repeat(8);
        let header = SessionHeader {
            name: Arc::from("X-Session-Id"),
            value: sid.clone(),
        };
        let shown = format!("{header:?}");
        assert!(!shown.contains(&sid), "{shown}");
        assert!(shown.contains("X-Session-Id"), "{shown}");
        assert!(!header.ends_session());
    }
}
