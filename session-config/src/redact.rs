//! Redaction of passwords in text that may hold URLs.
//!
//! Used for `ConnectionUrl`'s `Display`/`Debug` and for every value quoted in an error or
//! a warning. It errs on the side of hiding too much: when the end of a password is
//! ambiguous (an unescaped `@` or `/` inside it), more than the password is hidden.

/// What replaces a password.
pub(crate) const MASK: &str = "***";

/// What replaces a whole secret value (`secret_key*`).
pub(crate) const REDACTED: &str = "<redacted>";

/// Replaces the password of every `scheme://user:password@host` in `text` by `***`,
/// and the value of every `password=` query parameter.
pub(crate) fn redact_text(text: &str) -> String {
    redact_query_passwords(&redact_userinfo(text))
}

/// Like [`redact_text`], for one setting's value: a URL, or several joined by
/// commas. A password in a value may hold quotes, spaces or commas (the URL
/// parser percent-encodes them), so only the start of the next URL ends one:
/// each URL's password runs to its last `@` before a `?` or `#`. A URL with
/// no `@` whose "port" is not a number may be the front of a password cut off
/// from its host (a list split at a comma inside it), so that is hidden too.
pub(crate) fn redact_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut done = 0;
    let mut search = 0;
    while let Some(pos) = value[search..].find("://") {
        let authority = search + pos + 3;
        let end = value[authority..]
            .find("://")
            .map_or(value.len(), |next| scheme_start(value, authority + next));
        let url = &value[authority..end.max(authority)];
        let before_query = url.find(['?', '#']).unwrap_or(url.len());
        if let Some(at) = url[..before_query].rfind('@') {
            if let Some(colon) = url[..at].find(':') {
                out.push_str(&value[done..authority + colon + 1]);
                out.push_str(MASK);
                done = authority + at;
            }
        } else if let Some((from, to)) = non_numeric_port(url) {
            out.push_str(&value[done..authority + from]);
            out.push_str(MASK);
            done = authority + to;
        }
        search = end.max(authority);
    }
    out.push_str(&value[done..]);
    redact_query_passwords(&out)
}

/// Where the scheme ends at `colon_slashes` (the position of its `://`)
/// starts: after the letters, digits, `+`, `-` and `.` before it.
fn scheme_start(text: &str, colon_slashes: usize) -> usize {
    text[..colon_slashes]
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        .last()
        .map_or(colon_slashes, |(i, _)| i)
}

/// The byte range of what follows the host's `:` in an authority without
/// `@`, when it is not a port number.
fn non_numeric_port(authority: &str) -> Option<(usize, usize)> {
    let host_end = if authority.starts_with('[') {
        authority.find(']')? + 1
    } else {
        0
    };
    let colon = host_end + authority[host_end..].find(':')?;
    let rest = &authority[colon + 1..];
    let len = rest
        .find(|c: char| matches!(c, '/' | '?' | '#' | ',') || c.is_whitespace())
        .unwrap_or(rest.len());
    let port = &rest[..len];
    (!port.is_empty() && !port.bytes().all(|b| b.is_ascii_digit()))
        .then_some((colon + 1, colon + 1 + len))
}

/// `true` when `s` starts with `scheme://` (a letter, then letters, digits, `+`, `-`, `.`).
fn starts_with_scheme(s: &str) -> bool {
    let Some(pos) = s.find("://") else {
        return false;
    };
    let scheme = &s[..pos];
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// The end (exclusive) of the URL whose authority starts at `from`: the first whitespace
/// or quote, or a comma that starts the next URL of a comma-separated list.
fn url_end(text: &str, from: usize) -> usize {
    let rest = &text[from..];
    for (i, c) in rest.char_indices() {
        if c.is_whitespace() || c == '"' || c == '\'' {
            return from + i;
        }
        if c == ',' && starts_with_scheme(rest[i + 1..].trim_start()) {
            return from + i;
        }
    }
    text.len()
}

fn redact_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut done = 0;
    let mut search = 0;
    while let Some(pos) = text[search..].find("://") {
        let authority = search + pos + 3;
        let end = url_end(text, authority);
        let url = &text[authority..end];
        if let Some(at) = url.rfind('@') {
            let userinfo = &url[..at];
            if let Some(colon) = userinfo.find(':') {
                out.push_str(&text[done..authority + colon + 1]);
                out.push_str(MASK);
                done = authority + at;
            }
        }
        search = end.max(authority);
    }
    out.push_str(&text[done..]);
    out
}

fn redact_query_passwords(text: &str) -> String {
    const NEEDLES: [&str; 3] = ["password=", "passwd=", "pwd="];
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut done = 0;
    let mut i = 0;
    while i < text.len() {
        let hit = NEEDLES.iter().find(|n| {
            lower[i..].starts_with(*n)
                && (i == 0 || matches!(text.as_bytes()[i - 1], b'?' | b'&' | b';' | b' '))
        });
        if let Some(needle) = hit {
            let start = i + needle.len();
            let len = text[start..]
                .find(|c: char| c == '&' || c == '"' || c == '\'' || c.is_whitespace())
                .unwrap_or(text.len() - start);
            out.push_str(&text[done..start]);
            if len > 0 {
                out.push_str(MASK);
            }
            done = start + len;
            i = done;
        } else {
            i += text[i..].chars().next().map_or(1, char::len_utf8);
        }
    }
    out.push_str(&text[done..]);
    out
}

#[cfg(test)]
mod tests {
    use super::redact_text;

    #[test]
    fn user_and_password() {
        assert_eq!(
            redact_text("redis://user:hunter2@host:6379/0"),
            "redis://user:***@host:6379/0"
        );
    }

    #[test]
    fn password_only() {
        assert_eq!(redact_text("redis://:hunter2@host"), "redis://:***@host");
    }

    #[test]
    fn no_password_untouched() {
        assert_eq!(redact_text("redis://user@host"), "redis://user@host");
        assert_eq!(
            redact_text("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
        assert_eq!(redact_text("sqlite::memory:"), "sqlite::memory:");
    }

    #[test]
    fn at_and_slash_inside_password_hidden() {
        let r = redact_text("postgres://u:p@ss/w@host/db");
        assert!(!r.contains("ss/w"), "{r}");
        assert!(r.ends_with("@host/db"), "{r}");
    }

    #[test]
    fn lists_and_json() {
        assert_eq!(
            redact_text("redis://:a1@h1:7000,redis://:b2@h2:7001"),
            "redis://:***@h1:7000,redis://:***@h2:7001"
        );
        assert_eq!(
            redact_text(r#"{"a":"postgres://u:pw@h/db","b":"mysql://r:x@m/t"}"#),
            r#"{"a":"postgres://u:***@h/db","b":"mysql://r:***@m/t"}"#
        );
        assert_eq!(
            redact_text("mongodb://u:pw@h1:1,h2:2/db"),
            "mongodb://u:***@h1:1,h2:2/db"
        );
    }

    #[test]
    fn query_password() {
        assert_eq!(
            redact_text("postgres://h/db?user=u&password=s3cret&x=1"),
            "postgres://h/db?user=u&password=***&x=1"
        );
    }

    #[test]
    fn a_value_hides_passwords_with_quotes_spaces_and_commas() {
        use super::redact_value;
        for (value, shown) in [
            ("redis://:it's-secret@cache:6379", "redis://:***@cache:6379"),
            ("postgres://app:pa ss@db/app", "postgres://app:***@db/app"),
            ("redis://:say \"hi\"@cache", "redis://:***@cache"),
            ("redis://:hunter,2@cache:6379", "redis://:***@cache:6379"),
            (
                "redis://:a1@h1:7000,redis://:b,2@h2:7001",
                "redis://:***@h1:7000,redis://:***@h2:7001",
            ),
            // A list split at a comma in the password: the front piece.
            ("redis://:hunter", "redis://:***"),
            ("redis://user:hun", "redis://user:***"),
            ("postgres://u:p@ss/w@host/db", "postgres://u:***@host/db"),
            (
                "mongodb://u:pw@h1:1,h2:2/db",
                "mongodb://u:***@h1:1,h2:2/db",
            ),
            (
                "postgres://h/db?user=u&password=s3cret",
                "postgres://h/db?user=u&password=***",
            ),
        ] {
            assert_eq!(redact_value(value), shown, "{value}");
        }
        for untouched in [
            "redis://127.0.0.1:6379",
            "redis://[::1]:6379/0",
            "redis://user@host",
            "postgres://h:5432/db?x=a@b",
            "sqlite::memory:",
            "sqlite:///tmp/s.db?mode=rwc",
            "session:",
        ] {
            assert_eq!(redact_value(untouched), untouched);
        }
    }

    #[test]
    fn unicode_is_fine() {
        assert_eq!(redact_text("ünï://ç:é@h"), "ünï://ç:***@h");
        assert_eq!(redact_text("é password=x"), "é password=***");
    }
}
