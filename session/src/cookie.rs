//! Reading the session cookie from `Cookie` headers (public: tools that parse
//! a header the way the lifecycle does) and writing `Set-Cookie` (crate-private).
//!
//! Set-Cookie is formatted here, once, so both framework adapters send the same
//! bytes; a deletion cookie carries every attribute of the cookie it deletes so
//! browsers honour it.

use std::cell::RefCell;
use std::fmt::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use session_config::{CookieSettings, SameSite};
use time::OffsetDateTime;

/// Every value of cookie `name` in one `Cookie` request header, in order, as
/// bytes: a header is not always text, and another cookie's bytes must not
/// hide this one. Whitespace around pairs and a pair of double quotes around
/// a value are dropped; pairs without `=` are skipped.
pub fn values_named<'a>(header: &'a [u8], name: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut rest = Some(header);
    std::iter::from_fn(move || loop {
        let current = rest?;
        // memchr: a header is scanned word by word, as `str::split` would.
        let pair = match memchr::memchr(b';', current) {
            Some(at) => {
                rest = Some(&current[at + 1..]);
                &current[..at]
            }
            None => {
                rest = None;
                current
            }
        };
        if let Some(value) = value_named(pair, name) {
            return Some(value);
        }
    })
}

/// The value of one `name=value` pair, if it is `name`'s.
fn value_named<'a>(pair: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    let rest = pair.trim_ascii_start().strip_prefix(name)?;
    let value = rest.trim_ascii_start().strip_prefix(b"=")?.trim_ascii();
    Some(
        value
            .strip_prefix(b"\"")
            .and_then(|v| v.strip_suffix(b"\""))
            .unwrap_or(value),
    )
}

const EXPIRES: &str = "; Expires=";

thread_local! {
    /// The last `Expires` date this thread formatted, with the unix second
    /// and the lifetime it was made for. The date changes once a second, so
    /// formatting it on every refresh was the most expensive part of a read;
    /// one cache per thread means no lock shared by concurrent requests.
    static EXPIRES_CACHE: RefCell<Option<(u64, Duration, String)>> = const { RefCell::new(None) };
}

/// Formats `Set-Cookie` values from the cookie settings.
#[derive(Debug, Clone)]
pub(crate) struct CookieWriter {
    settings: CookieSettings,
    /// `; Domain=…; Path=…; Secure; HttpOnly; SameSite=…; Partitioned`,
    /// computed once because it never changes.
    attributes: String,
}

impl CookieWriter {
    /// A writer for these settings.
    pub(crate) fn new(settings: CookieSettings) -> Self {
        let mut attributes = String::new();
        if let Some(domain) = &settings.domain {
            let _ = write!(attributes, "; Domain={domain}");
        }
        let _ = write!(attributes, "; Path={}", settings.path);
        if settings.secure {
            attributes.push_str("; Secure");
        }
        if settings.http_only {
            attributes.push_str("; HttpOnly");
        }
        match settings.same_site {
            Some(SameSite::Lax) => attributes.push_str("; SameSite=Lax"),
            Some(SameSite::Strict) => attributes.push_str("; SameSite=Strict"),
            Some(SameSite::None) => attributes.push_str("; SameSite=None"),
            None => {}
        }
        if settings.partitioned {
            attributes.push_str("; Partitioned");
        }
        Self {
            settings,
            attributes,
        }
    }

    /// The cookie name.
    pub(crate) fn name(&self) -> &str {
        &self.settings.name
    }

    /// A cookie carrying `value`; with `lifetime` it is persistent (`Expires`),
    /// without it a browser-session cookie.
    pub(crate) fn session_cookie(&self, value: &str, lifetime: Option<Duration>) -> String {
        match lifetime {
            Some(lifetime) => with_expires_in(lifetime, |date| self.format(value, Some(date))),
            None => self.format(value, None),
        }
    }

    fn format(&self, value: &str, expires: Option<&str>) -> String {
        let name = &self.settings.name;
        // Exactly the length written: the buffer never grows, and a header
        // value made from it takes it over without copying.
        let mut out = String::with_capacity(
            name.len()
                + 1
                + value.len()
                + expires
                    .as_ref()
                    .map_or(0, |date| EXPIRES.len() + date.len())
                + self.attributes.len(),
        );
        out.push_str(name);
        out.push('=');
        out.push_str(value);
        if let Some(expires) = expires {
            out.push_str(EXPIRES);
            out.push_str(expires);
        }
        out.push_str(&self.attributes);
        out
    }

    /// A cookie that makes the browser drop the session cookie.
    pub(crate) fn deletion_cookie(&self) -> String {
        format!(
            "{}=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0{}",
            self.settings.name, self.attributes
        )
    }
}

/// Calls `f` with the `Expires` date of a cookie set now for `lifetime`.
fn with_expires_in<R>(lifetime: Duration, f: impl FnOnce(&str) -> R) -> R {
    let now = SystemTime::now();
    let second = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    EXPIRES_CACHE.with_borrow_mut(|cache| match cache {
        Some((cached_second, cached_lifetime, date))
            if *cached_second == second && *cached_lifetime == lifetime =>
        {
            f(date)
        }
        _ => {
            let at = now.checked_add(lifetime).unwrap_or(now);
            let (_, _, date) = cache.insert((second, lifetime, http_date(at)));
            f(date)
        }
    })
}

/// An IMF-fixdate, as HTTP wants: `Sun, 06 Nov 1994 08:49:37 GMT`.
pub(crate) fn http_date(at: SystemTime) -> String {
    let t = OffsetDateTime::from(at);
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {:02} {} {:04} {:02}:{:02}:{:02} GMT",
        DAYS[usize::from(t.weekday().number_days_from_monday())],
        t.day(),
        MONTHS[usize::from(u8::from(t.month()) - 1)],
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn settings() -> CookieSettings {
        let mut cookie = CookieSettings::default();
        cookie.name = "session".into();
        cookie.domain = Some("example.com".into());
        cookie.path = "/app".into();
        cookie.http_only = true;
        cookie.secure = true;
        cookie.same_site = Some(SameSite::Strict);
        cookie.partitioned = true;
        cookie
    }

    #[test]
    fn finds_every_value_of_the_name() {
        let found: Vec<_> =
            values_named(b"a=1; session=x; sessionx=y; session = \"z\"", b"session").collect();
        assert_eq!(found, [&b"x"[..], b"z"]);
        assert_eq!(values_named(b"garbage;;=;", b"session").count(), 0);
        // Another cookie's bytes, UTF-8 or not, never hide the session's.
        let found: Vec<_> =
            values_named(b"theme=caf\xc3\xa9; l=\xe9t\xe9; session=x", b"session").collect();
        assert_eq!(found, [&b"x"[..]]);
    }

    #[test]
    fn deletion_cookie_keeps_every_attribute() {
        let writer = CookieWriter::new(settings());
        assert_eq!(
            writer.deletion_cookie(),
            "session=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Domain=example.com; Path=/app; Secure; HttpOnly; SameSite=Strict; Partitioned"
        );
    }

    #[test]
    fn persistent_cookie_has_expires_and_session_cookie_has_none() {
        let writer = CookieWriter::new(settings());
        assert!(writer
            .session_cookie("v", Some(Duration::from_secs(60)))
            .contains("; Expires="));
        assert!(!writer.session_cookie("v", None).contains("Expires"));
        assert!(writer
            .session_cookie("v", None)
            .starts_with("session=v; Domain=example.com"));
    }

    /// `Bytes::from(Vec)` copies nothing only when the buffer is full, and a
    /// buffer that grows reallocates: both cost a request a heap call.
    #[test]
    fn session_cookie_fills_its_buffer_exactly() {
        for settings in [settings(), CookieSettings::default()] {
            let writer = CookieWriter::new(settings);
            for lifetime in [None, Some(Duration::from_secs(2_678_400))] {
                let cookie = writer.session_cookie(&"v".repeat(43), lifetime);
                assert_eq!(cookie.capacity(), cookie.len(), "{cookie}");
            }
        }
    }

    #[test]
    fn http_date_is_imf_fixdate() {
        assert_eq!(
            http_date(SystemTime::UNIX_EPOCH),
            "Thu, 01 Jan 1970 00:00:00 GMT"
        );
        assert_eq!(
            http_date(SystemTime::UNIX_EPOCH + Duration::from_secs(784_111_777)),
            "Sun, 06 Nov 1994 08:49:37 GMT"
        );
    }
}
