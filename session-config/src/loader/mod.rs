//! Layering the sources: defaults < file/table < environment < code.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;
use toml::Value;

use crate::config_value::ConfigValue;
use crate::error::{ConfigError, ConfigWarning};
use crate::keys::{self, Key, CONFIG_PATH_VAR};
use crate::settings::Settings;
use crate::source::{Origin, Provenance};
use crate::validate;
use crate::values;

/// The file read by [`Settings::load`] when `SESSION_CONFIG` is not set.
pub const DEFAULT_CONFIG_FILE: &str = "Session.toml";

/// The result of a load: the settings, where each came from, and the warnings (which were
/// also logged with `tracing::warn!`).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LoadReport {
    /// The validated settings.
    pub settings: Settings,
    /// The source of every setting.
    pub provenance: Provenance,
    /// Near-miss env variables, short secrets, an insecure cookie in a release build.
    pub warnings: Vec<ConfigWarning>,
}

/// The names, values and origins of one layer's settings.
type Entries = Vec<(String, Value, Origin)>;

/// A TOML layer: a file or a table handed over in code.
enum TomlSource {
    Path {
        path: PathBuf,
        required: bool,
        named_by: Origin,
    },
    Text {
        text: String,
        label: String,
    },
    Table {
        table: toml::Table,
        label: String,
    },
    /// A value given to `serialized` that is not a TOML table; reported by `build`.
    Unserializable {
        label: String,
        message: String,
    },
    /// Values that each carry their own origin (the `config` feature).
    #[cfg_attr(not(feature = "config"), allow(dead_code))]
    Entries(Entries),
    /// A source that could not be read when it was added; reported by `build`.
    #[cfg_attr(not(feature = "config"), allow(dead_code))]
    Failed(ConfigError),
}

/// Builds [`Settings`] from layered sources.
///
/// Precedence is fixed by the kind of source, whatever the order of the calls:
/// built-in defaults < files and tables (`file`, `optional_file`, `toml_str`,
/// `toml_table`, `serialized`) < environment (`env`, `env_from`) < code (`set`).
/// Within one kind, a later call wins.
///
/// ```
/// use session_config::{Settings, SessionType};
///
/// let settings = Settings::builder()
///     .toml_str("type = \"redis\"\nid_length = 48", "inline")
///     .env_from([("SESSION_REDIS", "redis://cache:6379")])
///     .set("permanent", false)
///     .build()?;
/// assert_eq!(settings.session_type, SessionType::Redis);
/// assert_eq!(settings.id_length.get(), 48);
/// assert_eq!(settings.redis[0].as_str(), "redis://cache:6379");
/// assert!(!settings.permanent);
/// # Ok::<(), session_config::ConfigError>(())
/// ```
pub struct SettingsBuilder {
    tables: Vec<TomlSource>,
    envs: Vec<Vec<(OsString, OsString)>>,
    code: Vec<(String, ConfigValue)>,
    release: bool,
}

impl fmt::Debug for SettingsBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values may be secrets: show only where they come from.
        let tables: Vec<String> = self
            .tables
            .iter()
            .map(|t| match t {
                TomlSource::Path { path, required, .. } => {
                    format!("file {} (required: {required})", path.display())
                }
                TomlSource::Text { label, .. }
                | TomlSource::Table { label, .. }
                | TomlSource::Unserializable { label, .. } => label.clone(),
                TomlSource::Entries(entries) => entries
                    .first()
                    .map_or_else(|| "no values".to_owned(), |(_, _, o)| o.to_string()),
                TomlSource::Failed(_) => "a failed source".to_owned(),
            })
            .collect();
        let code: Vec<&str> = self.code.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("SettingsBuilder")
            .field("tables", &tables)
            .field("env_snapshots", &self.envs.len())
            .field("code_keys", &code)
            .finish()
    }
}

impl Default for SettingsBuilder {
    fn default() -> Self {
        SettingsBuilder::new()
    }
}

impl SettingsBuilder {
    /// A builder with no sources: `build` gives the defaults.
    pub fn new() -> Self {
        SettingsBuilder {
            tables: Vec::new(),
            envs: Vec::new(),
            code: Vec::new(),
            release: cfg!(not(debug_assertions)),
        }
    }

    /// The standard sources: `./Session.toml` (or the file named by `SESSION_CONFIG`,
    /// which must then exist), then the process environment.
    pub fn standard(self) -> Self {
        self.standard_from(std::env::vars_os())
    }

    /// Like [`standard`](Self::standard), but with the given environment instead of the
    /// process's: `SESSION_CONFIG` is looked up in it too.
    pub fn standard_from<I, K, V>(self, env: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<OsString>,
        V: Into<OsString>,
    {
        let env: Vec<(OsString, OsString)> =
            env.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        let named = env
            .iter()
            .rev()
            .find(|(k, _)| k == CONFIG_PATH_VAR)
            .map(|(_, v)| PathBuf::from(v))
            .filter(|p| !p.as_os_str().is_empty());
        let with_file = match named {
            Some(path) => self.push_path(path, true, Origin::Env(CONFIG_PATH_VAR.to_owned())),
            None => self.optional_file(DEFAULT_CONFIG_FILE),
        };
        with_file.push_env(env)
    }

    /// A TOML file that must exist.
    pub fn file(self, path: impl AsRef<Path>) -> Self {
        self.push_path(path.as_ref().to_path_buf(), true, Origin::Code)
    }

    /// A TOML file that must exist, named by something the messages should say:
    /// `named_by` is shown as is when the file is missing, e.g. `--config`.
    pub fn file_named_by(self, path: impl AsRef<Path>, named_by: impl Into<String>) -> Self {
        self.push_path(
            path.as_ref().to_path_buf(),
            true,
            Origin::Table(named_by.into()),
        )
    }

    /// A TOML file that is read if it exists and skipped if it does not.
    pub fn optional_file(self, path: impl AsRef<Path>) -> Self {
        self.push_path(path.as_ref().to_path_buf(), false, Origin::Default)
    }

    /// Adds a layer at file precedence (for the `config` feature).
    #[cfg_attr(not(feature = "config"), allow(dead_code))]
    fn push_source(mut self, source: TomlSource) -> Self {
        self.tables.push(source);
        self
    }

    fn push_path(mut self, path: PathBuf, required: bool, named_by: Origin) -> Self {
        self.tables.push(TomlSource::Path {
            path,
            required,
            named_by,
        });
        self
    }

    /// A TOML document given as text, at file precedence. `label` names it in messages,
    /// e.g. `"Rocket.toml [session]"`.
    pub fn toml_str(mut self, text: impl Into<String>, label: impl Into<String>) -> Self {
        self.tables.push(TomlSource::Text {
            text: text.into(),
            label: label.into(),
        });
        self
    }

    /// A TOML table, at file precedence: e.g. the `[session]` table of Rocket's figment,
    /// which then replaces `Session.toml`. `label` names it in messages.
    pub fn toml_table(mut self, table: toml::Table, label: impl Into<String>) -> Self {
        self.tables.push(TomlSource::Table {
            table,
            label: label.into(),
        });
        self
    }

    /// Any serializable map (a figment `Dict`, a `serde_json` object, a struct) taken as a
    /// TOML table, at file precedence. A value that is not a table makes `build` fail.
    pub fn serialized<T: Serialize + ?Sized>(
        mut self, value: &T, label: impl Into<String>,
    ) -> Self {
        let label = label.into();
        self.tables.push(match toml::Table::try_from(value) {
            Ok(table) => TomlSource::Table { table, label },
            Err(e) => TomlSource::Unserializable {
                label,
                message: format!("expected a table of settings: {e}"),
            },
        });
        self
    }

    /// The process environment (a snapshot taken now).
    pub fn env(self) -> Self {
        self.push_env(std::env::vars_os().collect())
    }

    /// The given variables instead of the process environment, so that tests never have
    /// to mutate it. Unknown `SESSION_*` variables are ignored; near misses are warned about.
    pub fn env_from<I, K, V>(self, vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<OsString>,
        V: Into<OsString>,
    {
        self.push_env(
            vars.into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }

    fn push_env(mut self, vars: Vec<(OsString, OsString)>) -> Self {
        self.envs.push(vars);
        self
    }

    /// Sets a value in code, above every other source. `key` is the `Session.toml` name
    /// (`"id_length"`, `"cookie_secure"`, …). A string value is read with the environment
    /// syntax (`"30m"`, `"yes"`, `"a,b"`); typed values work too (`48`, `true`,
    /// `Duration::from_secs(60)`, `vec!["redis://a", "redis://b"]`).
    pub fn set(mut self, key: impl Into<String>, value: impl Into<ConfigValue>) -> Self {
        self.code.push((key.into(), value.into()));
        self
    }

    /// Loads, parses and validates; logs the warnings.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the key, its source, the value and what was
    /// expected, for the first invalid value or broken rule.
    pub fn build(self) -> Result<Settings, ConfigError> {
        self.build_report().map(|report| report.settings)
    }

    /// Like [`build`](Self::build), also returning the provenance and the warnings.
    ///
    /// # Errors
    ///
    /// As [`Self::build`].
    pub fn build_report(self) -> Result<LoadReport, ConfigError> {
        let mut raw: BTreeMap<Key, (Value, Origin)> = BTreeMap::new();
        let mut warnings = Vec::new();

        for source in self.tables {
            if let Some(entries) = read_source(source)? {
                for (name, value, origin) in entries {
                    let Some(key) = Key::from_toml_name(&name) else {
                        let suggestion = match &value {
                            Value::Table(sub) => {
                                let subs: Vec<&str> = sub.keys().map(String::as_str).collect();
                                keys::suggest_flattened(&name, &subs)
                            }
                            _ => None,
                        }
                        .or_else(|| keys::suggest_toml_key(&name));
                        return Err(ConfigError::UnknownKey {
                            key: name,
                            origin,
                            suggestion: suggestion.map(str::to_owned),
                        });
                    };
                    raw.insert(key, (value, origin.clone()));
                }
            }
        }

        for vars in self.envs {
            for (name, value) in vars {
                let Some(name) = name.to_str() else { continue };
                if let Some(key) = Key::from_env_name(name) {
                    let origin = Origin::Env(name.to_owned());
                    let Some(value) = value.to_str() else {
                        return Err(ConfigError::Invalid {
                            setting: key,
                            key: name.to_owned(),
                            origin,
                            value: values::render_str(key, &value.to_string_lossy()),
                            expected: "valid UTF-8 text".to_owned(),
                        });
                    };
                    raw.insert(key, (Value::String(value.to_owned()), origin));
                } else if let Some(suggestion) = keys::near_miss_env(name) {
                    let warning = ConfigWarning::NearMissEnvVar {
                        var: name.to_owned(),
                        suggestion: suggestion.to_owned(),
                    };
                    if !warnings.contains(&warning) {
                        warnings.push(warning);
                    }
                }
            }
        }

        for (name, value) in self.code {
            let Some(key) = Key::from_toml_name(&name) else {
                let suggestion = keys::suggest_toml_key(&name).map(str::to_owned);
                return Err(ConfigError::UnknownKey {
                    key: name,
                    origin: Origin::Code,
                    suggestion,
                });
            };
            raw.insert(key, (value.0, Origin::Code));
        }

        let mut settings = Settings::default();
        let mut provenance = Provenance::default();
        for (key, (value, origin)) in raw {
            let shown = values::render(key, &value);
            if let Err(bad) = values::apply(&mut settings, key, &value) {
                return Err(ConfigError::Invalid {
                    setting: key,
                    key: origin.key_name(key),
                    origin,
                    value: bad.shown.unwrap_or(shown),
                    expected: bad.expected,
                });
            }
            provenance.record(key, origin, shown);
        }

        warnings.extend(validate::check(&settings, &provenance, self.release)?);
        for warning in &warnings {
            tracing::warn!(target: "session_config", "{warning}");
        }
        Ok(LoadReport {
            settings,
            provenance,
            warnings,
        })
    }
}

/// The names, values and origins of one layer; `None` for a missing optional file.
fn read_source(source: TomlSource) -> Result<Option<Entries>, ConfigError> {
    let (table, origin) = match source {
        TomlSource::Entries(entries) => return Ok(Some(entries)),
        TomlSource::Failed(error) => return Err(error),
        other => match read_table(other)? {
            Some(read) => read,
            None => return Ok(None),
        },
    };
    Ok(Some(
        table
            .into_iter()
            .map(|(name, value)| (name, value, origin.clone()))
            .collect(),
    ))
}

/// Reads one TOML layer; `None` for a missing optional file.
fn read_table(source: TomlSource) -> Result<Option<(toml::Table, Origin)>, ConfigError> {
    match source {
        TomlSource::Path {
            path,
            required,
            named_by,
        } => {
            let bytes = match std::fs::read(&path) {
                Ok(bytes) => bytes,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    return if required {
                        Err(ConfigError::FileNotFound { path, named_by })
                    } else {
                        Ok(None)
                    };
                }
                Err(source) => return Err(ConfigError::Io { path, source }),
            };
            let origin = Origin::File(std::path::absolute(&path).unwrap_or(path));
            let text = match String::from_utf8(bytes) {
                Ok(text) => text,
                Err(e) => {
                    return Err(ConfigError::Toml {
                        origin,
                        message: format!(
                            "the file is not valid UTF-8 (at byte {})",
                            e.utf8_error().valid_up_to()
                        ),
                    })
                }
            };
            parse_toml(&text, origin).map(Some)
        }
        TomlSource::Text { text, label } => parse_toml(&text, Origin::Table(label)).map(Some),
        TomlSource::Table { table, label } => Ok(Some((table, Origin::Table(label)))),
        TomlSource::Unserializable { label, message } => Err(ConfigError::Toml {
            origin: Origin::Table(label),
            message,
        }),
        // Taken apart by `read_source` before it calls this.
        TomlSource::Entries(_) | TomlSource::Failed(_) => Ok(None),
    }
}

/// Parses a TOML document. The message gives the line and column but never quotes the
/// document, which may hold a secret.
fn parse_toml(text: &str, origin: Origin) -> Result<(toml::Table, Origin), ConfigError> {
    match text.parse::<toml::Table>() {
        Ok(table) => Ok((table, origin)),
        Err(e) => {
            let position = e
                .span()
                .and_then(|span| text.get(..span.start))
                .map(|before| {
                    let line = before.matches('\n').count() + 1;
                    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
                    format!(" at line {line}, column {column}")
                })
                .unwrap_or_default();
            Err(ConfigError::Toml {
                origin,
                message: format!("{}{position}", e.message().trim_end()),
            })
        }
    }
}

impl Settings {
    /// A builder for layered sources; see [`SettingsBuilder`].
    pub fn builder() -> SettingsBuilder {
        SettingsBuilder::new()
    }

    /// Defaults < `./Session.toml` (or the file named by `SESSION_CONFIG`) < environment.
    ///
    /// A missing `./Session.toml` is fine; a missing file named by `SESSION_CONFIG` is
    /// [`ConfigError::FileNotFound`].
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when the file named by `SESSION_CONFIG` is missing, or a
    /// value or rule is invalid.
    pub fn load() -> Result<Settings, ConfigError> {
        Settings::builder().standard().build()
    }

    /// Defaults < this file (which must exist). The environment is not read.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when the file cannot be read, or a value or rule is
    /// invalid.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Settings, ConfigError> {
        Settings::builder().file(path).build()
    }

    /// Defaults < the process environment. No file is read, `SESSION_CONFIG` is ignored.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when a `SESSION_*` value or a rule is invalid.
    pub fn from_env() -> Result<Settings, ConfigError> {
        Settings::builder().env().build()
    }

    /// Defaults < the given `Session.toml`-style keys and values (origin `code`), e.g. from
    /// a map the app already has: `[("type", "redis"), ("id_length", "48")]`.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] when a key is unknown, or a value or rule is invalid.
    pub fn from_map<I, K, V>(entries: I) -> Result<Settings, ConfigError>
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<ConfigValue>,
    {
        entries
            .into_iter()
            .fold(Settings::builder(), |b, (k, v)| b.set(k, v))
            .build()
    }

    /// Checks settings built or changed in code by the same rules as a load (values are
    /// reported as coming from `code`). Returns the warnings without logging them.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] for the first invalid value or broken rule, named as
    /// coming from code.
    pub fn validate(&self) -> Result<Vec<ConfigWarning>, ConfigError> {
        validate::check(
            self,
            &Provenance::with_fallback(Origin::Code),
            cfg!(not(debug_assertions)),
        )
    }
}

#[cfg(feature = "config")]
mod config_crate;
#[cfg(test)]
mod tests;
