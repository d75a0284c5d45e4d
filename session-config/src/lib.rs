//! `Session.toml` and `SESSION_*` environment variables into one validated [`Settings`].
//!
//! # Usage
//!
//! ```no_run
//! use session_config::Settings;
//!
//! // Defaults < ./Session.toml (or the file named by SESSION_CONFIG) < environment.
//! let settings = Settings::load()?;
//! println!("sessions are stored in {}", settings.session_type);
//! # Ok::<(), session_config::ConfigError>(())
//! ```
//!
//! Other entry points: [`Settings::from_file`], [`Settings::from_env`],
//! [`Settings::from_map`], and [`Settings::builder`] for layering sources and overriding
//! values in code:
//!
//! ```
//! use std::time::Duration;
//! use session_config::{ConfigError, Settings};
//!
//! let settings = Settings::builder()
//!     .optional_file("Session.toml")
//!     // An injected environment: tests never need to touch the process's.
//!     .env_from([("SESSION_TYPE", "redis"), ("SESSION_COOKIE_SECURE", "yes")])
//!     .set("permanent_session_lifetime", Duration::from_secs(7 * 86_400))
//!     .build()?;
//! assert_eq!(settings.permanent_session_lifetime.as_secs(), 604_800);
//!
//! // Every error names the key as spelled in its source, the source, the value and
//! // what was expected.
//! let err = Settings::builder()
//!     .env_from([("SESSION_ID_LENGTH", "8")])
//!     .build()
//!     .unwrap_err();
//! assert_eq!(
//!     err.to_string(),
//!     "invalid value for SESSION_ID_LENGTH (env SESSION_ID_LENGTH): \"8\", expected an integer from 16 to 128"
//! );
//! assert!(matches!(err, ConfigError::Invalid { .. }));
//! # Ok::<(), ConfigError>(())
//! ```
//!
//! A Rocket app that keeps its settings in the `[session]` table of its figment hands that
//! table over instead of `Session.toml`, with a label for messages:
//! `Settings::builder().serialized(&dict, "Rocket.toml [session]").env().build()` (or
//! [`SettingsBuilder::toml_table`] / [`SettingsBuilder::toml_str`]).
//!
//! # Precedence
//!
//! Built-in defaults < files and tables < environment < values set in code, whatever the
//! order of the builder calls. A missing `./Session.toml` is fine; a missing file named by
//! `SESSION_CONFIG` or by [`SettingsBuilder::file`] is [`ConfigError::FileNotFound`].
//!
//! # Keys
//!
//! [`Key`] is the complete list. In `Session.toml` a key is the environment name
//! lower-cased with `SESSION_` removed (`SESSION_ID_LENGTH` → `id_length`,
//! `SESSION_COOKIE_SECURE` → `cookie_secure`); `PERMANENT_SESSION_LIFETIME`, `SECRET_KEY`
//! and `SECRET_KEY_FALLBACKS` keep their names (`permanent_session_lifetime`, …).
//!
//! - An unknown key in a file, a table or code is an error with a "did you mean".
//! - Unknown `SESSION_*` environment variables are ignored (the desktop sets
//!   `SESSION_MANAGER`); one within edit distance 2 of a known name logs a warning.
//!
//! # Value syntax (the same in the file, the environment and code)
//!
//! | kind | accepted |
//! |---|---|
//! | boolean | TOML booleans; `true`/`false`/`1`/`0`/`yes`/`no`/`on`/`off`, any case |
//! | duration | TOML integer or float (seconds); `"90"`, `"90s"`, `"30m"`, `"1.5h"`, `"31d"`, `"500ms"`; at most 100 years |
//! | list (`redis`, `redis_sentinels`, `memcached`, `secret_key_fallbacks`) | TOML array; a string: comma-separated (items trimmed), or a JSON array when it starts with `[` |
//! | `file_mode` | `"0600"` / `"0o600"` (octal), TOML `0o600`; a bare number without a leading 0 is decimal (`384`, as in Flask); at most `0o777`, and the owner must keep read and write |
//! | `cookie_samesite` | `Lax`, `Strict`, `None` (any case); an empty string means no attribute |
//! | `type` | `null`, `memory`, `redis`, `memcached`, `filesystem`, `mongodb`, `sqlalchemy` (alias `sql`), any case |
//! | `sqlalchemy_binds` | a TOML table of name = URL; in the environment a JSON object |
//! | optional values (`cookie_domain`, `cleanup_interval`, `pool_size`, …) | absent, or an empty string, means none |
//!
//! # Validation
//!
//! Errors ([`ConfigError`]): values that do not parse; `id_length` outside 16..=128; a
//! zero lifetime or timeout; `refresh_threshold` outside 0..=1; `max_session_bytes` 0; a
//! URL of the wrong scheme or that does not parse (Redis `redis://`, `rediss://`,
//! `redis+unix://`, `unix://`; MongoDB `mongodb://`, `mongodb+srv://`; SQL `postgres://`,
//! `postgresql://`, `mysql://`, `mariadb://`, `sqlite:`); memcached servers not
//! `host:port`; unsafe SQL identifiers; an invalid cookie name, path or domain; and the
//! cross-key rules of [`RuleKind`]: a signer without a secret, `SameSite=None` or
//! `Partitioned` without Secure, `__Host-`/`__Secure-` names without their requirements,
//! a `key_prefix` with which `prefix + sid` cannot fit memcached's 250 bytes or the SQL
//! column's 255 characters (for the configured `id_length`; sids from other apps may be
//! longer, up to 256 characters, and are a runtime matter).
//!
//! Warnings ([`ConfigWarning`], logged with `tracing::warn!`): a secret shorter than 32
//! bytes, `cookie_secure = false` in a release build, a near-miss env variable.
//!
//! Not an error: a `sqlalchemy_bind_key` that names no entry of `sqlalchemy_binds`. The app
//! may register a pool under that name in code, which only the `session` crate can check.
//!
//! # Redaction
//!
//! `secret_key*` values and the Sentinel passwords (`redis_sentinel_password`,
//! `redis_sentinel_master_password`) are never shown: not in errors, warnings, logs, or `Debug` of
//! [`Secret`], [`Settings`] or [`SettingsBuilder`]. The password of a URL (and any
//! `password=` query parameter) is replaced by `***` wherever a URL is shown, including
//! [`ConnectionUrl`]'s `Display` and `Debug`.
//!
//! # The `config` crate
//!
//! An app that already layers its configuration with the `config` crate keeps its
//! session settings in a `[session]` table there and, with this crate's `config`
//! feature, hands the result over: `Settings::from_config(&config)` or
//! `Settings::builder().config(&config, "session")`. The values are validated as any
//! other source; each error names the key path (`session.id_length`) and the file
//! the config crate read it from, or "the environment".
//!
//! The default loader stays this crate's own, with `toml` and `std::env::vars_os`,
//! because the `config` crate breaks this crate's contract: its environment source
//! lower-cases keys, so a case typo is silently merged instead of reported; its
//! origin for an environment value does not keep the variable's name, so an error
//! could not say `env SESSION_ID_LENGTH`; and with `try_parsing` it reads
//! `SESSION_FILE_MODE=0600` as decimal 600 instead of the octal file mode.

mod config_value;
mod effective;
mod error;
mod keys;
mod loader;
mod redact;
mod render;
mod settings;
mod source;
mod suggest;
mod validate;
mod value_shapes;
mod values;

pub use config_value::ConfigValue;
pub use effective::EffectiveSetting;
pub use error::{ConfigError, ConfigWarning, RuleKind};
pub use keys::{Key, CONFIG_PATH_VAR};
pub use loader::{LoadReport, SettingsBuilder, DEFAULT_CONFIG_FILE};
pub use settings::{
    ConnectionUrl, CookieSettings, FileMode, IdLength, SameSite, Secret, SerializationFormat,
    SessionType, Settings, SqlIdentifier, WhenFull, WriteMode,
};
pub use source::{Origin, Provenance};
pub use validate::{MEMCACHED_MAX_KEY, SQL_MAX_KEY};
