//! Errors and warnings. Every message names the key as spelled in its source, the source,
//! the value given (secrets and URL passwords redacted) and what was expected.

use std::fmt;
use std::path::PathBuf;

use crate::keys::Key;
use crate::source::Origin;

/// Why the configuration could not be loaded.
///
/// (The origin field is called `origin`, not `source`: `thiserror` reserves `source` for
/// the underlying error.)
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A value that does not parse or is out of range.
    ///
    /// `invalid value for SESSION_ID_LENGTH (env SESSION_ID_LENGTH): "8", expected an integer from 16 to 128`
    #[error("invalid value for {key} ({origin}): {value}, expected {expected}")]
    Invalid {
        /// The setting.
        setting: Key,
        /// The key as spelled in its source: the env variable, or the toml key.
        key: String,
        /// Where the value came from.
        origin: Origin,
        /// The value given, rendered and redacted (strings are quoted).
        value: String,
        /// What would have been accepted.
        expected: String,
    },

    /// A combination of settings that cannot work (e.g. `SameSite=None` without `Secure`).
    /// It is reported on one key; `expected` names the other keys and their sources.
    #[error("invalid value for {key} ({origin}): {value}, expected {expected}")]
    Rule {
        /// Which rule failed.
        rule: RuleKind,
        /// The setting the error is reported on.
        setting: Key,
        /// The key as spelled in its source.
        key: String,
        /// Where its value came from.
        origin: Origin,
        /// Its value, rendered and redacted.
        value: String,
        /// What the rule needs.
        expected: String,
    },

    /// A key in a TOML file or table, or given in code, that is not a setting.
    #[error("unknown key {key:?} in {origin}{}", Suggestion(.suggestion.as_deref()))]
    UnknownKey {
        /// The key as written.
        key: String,
        /// The file, table or `code`.
        origin: Origin,
        /// The known key it probably meant.
        suggestion: Option<String>,
    },

    /// A configuration file that was named explicitly (`SESSION_CONFIG`, or in code) is missing.
    #[error("configuration file {} not found (named by {named_by})", .path.display())]
    FileNotFound {
        /// The path as named.
        path: PathBuf,
        /// Who named it: `env SESSION_CONFIG` or `code`.
        named_by: Origin,
    },

    /// A configuration file that exists but could not be read.
    #[error("could not read configuration file {}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },

    /// A file or table that is not valid TOML (or, in code, could not be turned into a table).
    #[error("invalid TOML in {origin}: {message}")]
    Toml {
        /// The file or table.
        origin: Origin,
        /// What is wrong and where (line and column). Never quotes the document.
        message: String,
    },
}

struct Suggestion<'a>(Option<&'a str>);

impl fmt::Display for Suggestion<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(s) => write!(f, "; did you mean {s:?}?"),
            None => f.write_str("; see the key list in the session-config documentation"),
        }
    }
}

/// The cross-key rules behind [`ConfigError::Rule`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RuleKind {
    /// `use_signer` is on but there is no `secret_key`.
    SignerWithoutSecret,
    /// `SameSite=None` without `Secure`: browsers reject the cookie.
    SameSiteNoneWithoutSecure,
    /// `Partitioned` without `Secure`: browsers reject the cookie.
    PartitionedWithoutSecure,
    /// A `__Host-` cookie name without Secure, with a Path other than `/`, or with a Domain.
    HostPrefix,
    /// A `__Secure-` cookie name without Secure.
    SecurePrefix,
    /// `key_prefix` plus a session id does not fit the store's key (memcached 250 bytes,
    /// SQL `session_id` column 255 characters).
    KeyTooLong,
    /// A `key_prefix` with spaces or control characters while the type is memcached.
    MemcachedKeyCharacters,
    /// `redis_sentinels` without a `redis_sentinel_master` name, or a master
    /// name without sentinels to ask.
    SentinelWithoutMaster,
}

/// Something that works but is probably a mistake. Loading logs each with
/// `tracing::warn!` and returns them in [`crate::LoadReport`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigWarning {
    /// An environment variable that is not a setting but is close to one. It is ignored.
    NearMissEnvVar {
        /// The variable as set.
        var: String,
        /// The known variable it probably meant.
        suggestion: String,
    },
    /// A secret key shorter than 32 bytes (kept working: an interop app may need a legacy key).
    ShortSecret {
        /// The key as spelled in its source.
        key: String,
        /// Where it came from.
        origin: Origin,
        /// Its length in bytes (the value itself is never shown).
        len: usize,
    },
    /// `cookie_secure` is off in a release build.
    InsecureCookie {
        /// The key as spelled in its source.
        key: String,
        /// Where the value came from.
        origin: Origin,
    },
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigWarning::NearMissEnvVar { var, suggestion } => write!(
                f,
                "environment variable {var} is not a session setting and is ignored; did you mean {suggestion}?"
            ),
            ConfigWarning::ShortSecret { key, origin, len } => write!(
                f,
                "{key} ({origin}) is only {len} bytes; expected at least 32 random bytes (accepted for compatibility with existing keys)"
            ),
            ConfigWarning::InsecureCookie { key, origin } => write!(
                f,
                "{key} ({origin}) is false in a release build: the session cookie is also sent over plain HTTP; set it to true behind HTTPS"
            ),
        }
    }
}
