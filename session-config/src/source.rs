//! Where each setting came from.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use crate::keys::Key;

/// The source of one value. Its `Display` is what error messages show: `default`,
/// `file /path/Session.toml`, `env SESSION_ID_LENGTH`, `code`, or a table's label.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Origin {
    /// The built-in default.
    Default,
    /// A TOML file (`Session.toml` or the file named by `SESSION_CONFIG`).
    File(PathBuf),
    /// An environment variable, by its exact name.
    Env(String),
    /// Set in code (`SettingsBuilder::set`, `Settings::from_map`, `Settings::validate`).
    Code,
    /// A TOML table handed over in code, e.g. the `[session]` table of Rocket's figment.
    /// The label is shown as is, e.g. `Rocket.toml [session]`.
    Table(String),
    /// A value of an app's own `config::Config` (the `config` feature). `path` is
    /// its key path there (`session.id_length`), which messages name as the key;
    /// `uri` is where the config crate says it came from: a file's path, `the
    /// environment` (the config crate keeps no variable name), or `None` for a value
    /// set in code.
    ///
    /// (Boxed text keeps every error small.)
    ConfigCrate {
        /// The key path, e.g. `session.id_length`.
        path: Box<str>,
        /// The config crate's `Value::origin()`.
        uri: Option<Box<str>>,
    },
}

/// What the config crate gives as the origin of every environment value.
pub(crate) const CONFIG_CRATE_ENV: &str = "the environment";

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Default => f.write_str("default"),
            Origin::File(path) => write!(f, "file {}", path.display()),
            Origin::Env(var) => write!(f, "env {var}"),
            Origin::Code => f.write_str("code"),
            Origin::Table(label) => f.write_str(label),
            Origin::ConfigCrate { uri: None, .. } => f.write_str("the config crate"),
            Origin::ConfigCrate { uri: Some(uri), .. } if &**uri == CONFIG_CRATE_ENV => {
                f.write_str("the environment, through the config crate")
            }
            Origin::ConfigCrate { uri: Some(uri), .. } => write!(f, "file {uri}"),
        }
    }
}

impl Origin {
    /// How `key` is spelled in this source: the variable name for `Env`, the key
    /// path for `ConfigCrate`, the `Session.toml` name otherwise.
    pub fn key_name(&self, key: Key) -> String {
        match self {
            Origin::Env(var) => var.clone(),
            Origin::ConfigCrate { path, .. } => path.to_string(),
            _ => key.toml_name().to_owned(),
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    origin: Origin,
    /// The value as given, rendered for messages (secrets and passwords redacted).
    shown: String,
}

/// The origin of every setting of one load: which source won for each key.
#[derive(Debug, Clone)]
pub struct Provenance {
    entries: BTreeMap<Key, Entry>,
    fallback: Origin,
}

impl Default for Provenance {
    fn default() -> Self {
        Provenance::with_fallback(Origin::Default)
    }
}

impl Provenance {
    /// A provenance where every key not recorded comes from `fallback`.
    pub(crate) fn with_fallback(fallback: Origin) -> Self {
        Provenance {
            entries: BTreeMap::new(),
            fallback,
        }
    }

    /// Records that `key` was given as `shown` (already redacted) by `origin`.
    pub(crate) fn record(&mut self, key: Key, origin: Origin, shown: String) {
        self.entries.insert(key, Entry { origin, shown });
    }

    /// Where the value of `key` came from (`Origin::Default` when no source set it).
    pub fn origin(&self, key: Key) -> &Origin {
        self.entries
            .get(&key)
            .map_or(&self.fallback, |entry| &entry.origin)
    }

    /// How `key` is spelled in the source it came from (env name or toml name).
    pub fn key_name(&self, key: Key) -> String {
        self.origin(key).key_name(key)
    }

    /// The value of `key` as its source gave it, redacted; `None` for a default.
    pub(crate) fn shown(&self, key: Key) -> Option<&str> {
        self.entries.get(&key).map(|entry| entry.shown.as_str())
    }
}
