//! Rendering a value for a message: quoted, redacted, shortened.

use toml::Value;

use crate::keys::Key;
use crate::redact::{redact_text, redact_value, REDACTED};

/// Longest rendering of a value in a message, in characters.
const MAX_SHOWN_CHARS: usize = 200;

/// Renders a value for a message: strings quoted, TOML values in TOML syntax, secrets
/// replaced by `<redacted>`, URL passwords by `***`, and long values shortened.
pub(crate) fn render(key: Key, value: &Value) -> String {
    if key.is_secret() {
        return REDACTED.to_owned();
    }
    // Each string is redacted before it is quoted: a password may hold a
    // quote, which quoting would escape.
    let text = match value {
        Value::String(s) => format!("{:?}", redact_value(s.trim())),
        Value::Array(items) => Value::Array(items.iter().map(redacted).collect()).to_string(),
        other => redact_text(&other.to_string()),
    };
    shorten(text)
}

/// `value` with the passwords of its strings hidden.
fn redacted(value: &Value) -> Value {
    match value {
        Value::String(s) => Value::String(redact_value(s)),
        Value::Array(items) => Value::Array(items.iter().map(redacted).collect()),
        other => other.clone(),
    }
}

/// Renders a string for a message (quoted, redacted, shortened).
pub(crate) fn render_str(key: Key, value: &str) -> String {
    render(key, &Value::String(value.to_owned()))
}

fn shorten(text: String) -> String {
    match text.char_indices().nth(MAX_SHOWN_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}
