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
    fn unicode_is_fine() {
        assert_eq!(redact_text("ünï://ç:é@h"), "ünï://ç:***@h");
        assert_eq!(redact_text("é password=x"), "é password=***");
    }
}
