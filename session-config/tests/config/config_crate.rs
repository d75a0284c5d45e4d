//! The `config` feature: an app's own `config::Config` gives the same settings as
//! `Session.toml` with the same values, and its errors name the key path and the file
//! (or the environment).

use std::collections::HashMap;
use std::path::Path;

use config::{Config, Environment, File};
use session_config::{ConfigError, Origin, Settings};

use super::toml_file;

/// The app's configuration: `app.toml` in `dir`, then `APP_*` variables (the
/// usual `APP_SESSION__ID_LENGTH` layout), injected rather than read from the process.
fn app_config(dir: &Path, toml: &str, env: &[(&str, &str)]) -> Config {
    let path = dir.join("app.toml");
    std::fs::write(&path, toml).unwrap();
    let vars: HashMap<String, String> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Config::builder()
        .add_source(File::from(path))
        .add_source(
            Environment::with_prefix("APP")
                .prefix_separator("_")
                .separator("__")
                .source(Some(vars)),
        )
        .build()
        .unwrap()
}

#[test]
fn same_settings_as_session_toml() {
    let dir = tempfile::tempdir().unwrap();
    let config = app_config(
        dir.path(),
        r#"
[server]
port = 8080

[session]
type = "redis"
redis = ["redis://:pw@cache:6379/2"]
permanent_session_lifetime = "7d"
file_mode = "0640"
cookie_samesite = "Strict"
secret_key = "0123456789abcdef0123456789abcdef"
sqlalchemy_binds = { users = "postgres://u@db/users" }
"#,
        &[
            ("APP_SESSION__ID_LENGTH", "48"),
            ("APP_SESSION__COOKIE_SECURE", "yes"),
            ("APP_SESSION__USE_SIGNER", "true"),
        ],
    );
    let from_config = Settings::from_config(&config).unwrap();

    let (_dir, path) = toml_file(
        r#"
type = "redis"
redis = ["redis://:pw@cache:6379/2"]
permanent_session_lifetime = "7d"
file_mode = "0640"
cookie_samesite = "Strict"
secret_key = "0123456789abcdef0123456789abcdef"
sqlalchemy_binds = { users = "postgres://u@db/users" }
id_length = 48
cookie_secure = true
use_signer = true
"#,
    );
    let from_file = Settings::from_file(&path).unwrap();
    assert_eq!(from_config, from_file);
    assert_eq!(from_config.id_length.get(), 48);
    assert_eq!(from_config.file_mode.get(), 0o640);
    assert_ne!(from_config, Settings::default());
}

#[test]
fn file_value_error_names_the_file_and_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = app_config(dir.path(), "[session]\nid_length = 8\n", &[]);
    let err = Settings::from_config(&config).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("session.id_length"), "{message}");
    assert!(message.contains("app.toml"), "{message}");
    assert!(message.contains("an integer from 16 to 128"), "{message}");
    match err {
        ConfigError::Invalid { key, origin, .. } => {
            assert_eq!(key, "session.id_length");
            assert!(
                matches!(&origin, Origin::ConfigCrate { uri: Some(uri), .. } if uri.ends_with("app.toml")),
                "{origin:?}"
            );
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn env_value_error_names_the_key_path() {
    let dir = tempfile::tempdir().unwrap();
    let config = app_config(
        dir.path(),
        "[session]\ntype = \"filesystem\"\n",
        &[("APP_SESSION__COOKIE_SAMESITE", "sometimes")],
    );
    let message = Settings::from_config(&config).unwrap_err().to_string();
    assert!(
        message.starts_with(
            "invalid value for session.cookie_samesite (the environment, through the config crate): \"sometimes\""
        ),
        "{message}"
    );
}

#[test]
fn unknown_key_is_reported_with_a_suggestion() {
    let dir = tempfile::tempdir().unwrap();
    let config = app_config(dir.path(), "[session]\ntpye = \"redis\"\n", &[]);
    let message = Settings::from_config(&config).unwrap_err().to_string();
    assert!(message.contains("\"tpye\""), "{message}");
    assert!(message.contains("app.toml"), "{message}");
    assert!(message.contains("did you mean \"type\""), "{message}");
}

#[test]
fn no_session_table_gives_the_defaults_and_a_scalar_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let config = app_config(dir.path(), "[server]\nport = 1\n", &[]);
    assert_eq!(Settings::from_config(&config).unwrap(), Settings::default());

    let config = app_config(dir.path(), "session = 3\n", &[]);
    let err = Settings::from_config(&config).unwrap_err();
    assert!(matches!(err, ConfigError::Toml { .. }), "{err:?}");
    assert!(err.to_string().contains("session"), "{err}");
}

/// Why the default loader stays ours: with `try_parsing`, the config crate reads
/// `0600` as the decimal number 600, which is no file mode, where `SESSION_FILE_MODE`
/// reads it as octal.
#[test]
fn config_crate_parsing_reads_a_file_mode_as_decimal() {
    let config = Config::builder()
        .add_source(
            Environment::with_prefix("APP")
                .prefix_separator("_")
                .separator("__")
                .try_parsing(true)
                .source(Some(HashMap::from([(
                    "APP_SESSION__FILE_MODE".to_owned(),
                    "0600".to_owned(),
                )]))),
        )
        .build()
        .unwrap();
    let message = Settings::from_config(&config).unwrap_err().to_string();
    assert!(message.contains("session.file_mode"), "{message}");
    assert!(message.contains("600"), "{message}");

    let ours = Settings::builder()
        .env_from([("SESSION_FILE_MODE", "0600")])
        .build()
        .unwrap();
    assert_eq!(ours.file_mode.get(), 0o600);
}
