//! The `config` feature: settings from the `[session]` table of an app's own
//! `config::Config`, validated like any other source.
//!
//! Each value keeps the origin the config crate recorded (`Config::get_table`
//! keeps it, deserializing would not): a file value's error names the file and
//! the key path (`session.id_length`); the config crate records an
//! environment value only as "the environment", so its error names the key
//! path and that.

use toml::Value;

use super::{SettingsBuilder, TomlSource};
use crate::error::ConfigError;
use crate::settings::Settings;
use crate::source::Origin;

/// The table `Settings::from_config` reads.
const SESSION_TABLE: &str = "session";

impl SettingsBuilder {
    /// The `table` table of an app's own `config::Config` (usually `"session"`), at
    /// file precedence: its keys are the `Session.toml` keys. A configuration without
    /// that table gives no values; a `table` that is not a table makes `build` fail.
    ///
    /// ```
    /// use session_config::Settings;
    ///
    /// let config = config::Config::builder()
    ///     .set_override("session.type", "redis")?
    ///     .set_override("session.id_length", 48)?
    ///     .build()?;
    /// let settings = Settings::builder().config(&config, "session").build()?;
    /// assert_eq!(settings.id_length.get(), 48);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn config(self, config: &config::Config, table: &str) -> Self {
        let source = match config.get_table(table) {
            Ok(values) => TomlSource::Entries(
                values
                    .into_iter()
                    .map(|(name, value)| {
                        let origin = Origin::ConfigCrate {
                            path: format!("{table}.{name}").into(),
                            uri: value.origin().map(Into::into),
                        };
                        (name, to_toml(value.kind), origin)
                    })
                    .collect(),
            ),
            Err(config::ConfigError::NotFound(_)) => TomlSource::Entries(Vec::new()),
            Err(error) => TomlSource::Failed(ConfigError::Toml {
                origin: Origin::ConfigCrate {
                    path: table.into(),
                    uri: None,
                },
                message: format!("expected a table of settings: {error}"),
            }),
        };
        self.push_source(source)
    }
}

impl Settings {
    /// Defaults < the `[session]` table of an app's own `config::Config`. The
    /// `SESSION_*` environment is not read: the app's configuration has its own
    /// layering (chain [`SettingsBuilder::env`] after
    /// [`SettingsBuilder::config`] to read it as well).
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the key path (`session.id_length`), where the config
    /// crate says the value came from (a file, or the environment), the value and
    /// what was expected; [`ConfigError::Toml`] when `session` is not a table.
    pub fn from_config(config: &config::Config) -> Result<Settings, ConfigError> {
        Settings::builder().config(config, SESSION_TABLE).build()
    }
}

/// A config-crate value as the TOML value every source is reduced to. Nil (an
/// unset value) becomes the empty string, which means "none" for optional
/// settings; integers TOML cannot hold keep their digits, so the range is
/// reported by the setting's parser.
fn to_toml(kind: config::ValueKind) -> Value {
    use config::ValueKind as K;
    let big = |digits: String| Value::String(digits);
    match kind {
        K::Nil => Value::String(String::new()),
        K::Boolean(b) => Value::Boolean(b),
        K::I64(n) => Value::Integer(n),
        K::I128(n) => i64::try_from(n).map_or_else(|_| big(n.to_string()), Value::Integer),
        K::U64(n) => i64::try_from(n).map_or_else(|_| big(n.to_string()), Value::Integer),
        K::U128(n) => i64::try_from(n).map_or_else(|_| big(n.to_string()), Value::Integer),
        K::Float(f) => Value::Float(f),
        K::String(s) => Value::String(s),
        K::Table(table) => Value::Table(
            table
                .into_iter()
                .map(|(name, value)| (name, to_toml(value.kind)))
                .collect(),
        ),
        K::Array(items) => Value::Array(items.into_iter().map(|v| to_toml(v.kind)).collect()),
    }
}
