//! Secrets never appear in messages or Debug output; URL passwords are masked.

use session_config::{ConfigError, ConnectionUrl, Secret, Settings};

use crate::{env_err, toml_err};

const SECRET: &str = "hunter2-hunter2-hunter2-hunter2-hunter2";

#[test]
fn secret_values_are_never_shown_in_errors() {
    // A secret of the wrong type in the file.
    let (err, msg, _) = toml_err("secret_key = 123456789");
    assert!(matches!(err, ConfigError::Invalid { .. }));
    assert!(msg.contains("<redacted>"), "{msg}");
    assert!(!msg.contains("123456789"), "{msg}");
    assert!(!format!("{err:?}").contains("123456789"));

    let (err, msg, _) = toml_err(&format!("secret_key_fallbacks = [\"{SECRET}\", 5]"));
    assert!(
        !msg.contains(SECRET) && !format!("{err:?}").contains(SECRET),
        "{msg}"
    );

    let (err, msg, _) = toml_err(&format!("secret_key_fallbacks = {{ a = \"{SECRET}\" }}"));
    assert!(
        !msg.contains(SECRET) && !format!("{err:?}").contains(SECRET),
        "{msg}"
    );
}

#[test]
fn secret_values_are_never_in_debug_output() {
    let report = Settings::builder()
        .env_from([
            ("SECRET_KEY", SECRET),
            ("SECRET_KEY_FALLBACKS", "old-secret-value"),
        ])
        .build_report()
        .unwrap();
    assert_eq!(
        report.settings.secret_key.as_ref().unwrap().expose(),
        SECRET
    );
    let debug = format!("{report:?}");
    assert!(
        !debug.contains(SECRET) && !debug.contains("old-secret-value"),
        "{debug}"
    );
    for w in &report.warnings {
        assert!(!w.to_string().contains("old-secret-value"));
    }
    let report = Settings::builder()
        .env_from([
            ("SESSION_REDIS_SENTINEL_PASSWORD", "sentinel-secret-pw"),
            ("SESSION_REDIS_SENTINEL_MASTER_PASSWORD", "master-secret-pw"),
        ])
        .build_report()
        .unwrap();
    let debug = format!("{report:?}");
    assert!(
        !debug.contains("sentinel-secret-pw") && !debug.contains("master-secret-pw"),
        "{debug}"
    );
    let (_, msg, _) = toml_err("redis_sentinel_password = [\"sentinel-secret-pw\"]");
    assert!(
        msg.contains("<redacted>") && !msg.contains("sentinel-secret-pw"),
        "{msg}"
    );
    let secret = Secret::new(SECRET);
    assert_eq!(secret.to_string(), "<redacted>");
    assert!(!format!("{secret:?}").contains(SECRET));
    let builder = Settings::builder().set("secret_key", SECRET);
    assert!(!format!("{builder:?}").contains(SECRET));
    let value = session_config::ConfigValue::from(SECRET);
    assert!(!format!("{value:?}").contains(SECRET));
}

#[test]
fn url_passwords_are_redacted() {
    let url = ConnectionUrl::new("redis://user:s3cr3t@host:6379/0");
    assert_eq!(url.to_string(), "redis://user:***@host:6379/0");
    assert_eq!(
        format!("{url:?}"),
        "ConnectionUrl(\"redis://user:***@host:6379/0\")"
    );
    assert_eq!(url.as_str(), "redis://user:s3cr3t@host:6379/0");

    let s = Settings::builder()
        .env_from([("SESSION_SQLALCHEMY", "postgres://app:s3cr3t@db/app")])
        .build()
        .unwrap();
    assert!(!format!("{s:?}").contains("s3cr3t"));

    // In errors: a bad URL with a password, a bad list element, a JSON of binds.
    let (_, msg) = env_err(&[("SESSION_MONGODB", "mongo://u:s3cr3t@h")]);
    assert!(msg.contains("\"mongo://u:***@h\""), "{msg}");
    let (_, msg) = env_err(&[("SESSION_REDIS", "redis://:s3cr3t@a:1,http://:s3cr3t@b:2")]);
    assert!(!msg.contains("s3cr3t"), "{msg}");
    let (_, msg) = env_err(&[(
        "SESSION_SQLALCHEMY_BINDS",
        r#"{"a": "postgres://u:s3cr3t@h/db""#,
    )]);
    assert!(!msg.contains("s3cr3t"), "{msg}");
    let (_, msg, _) = toml_err("[sqlalchemy_binds]\na = \"oracle://u:s3cr3t@h/db\"\n");
    assert!(!msg.contains("s3cr3t"), "{msg}");
    let (_, msg, _) = toml_err("sqlalchemy = \"oracle://h/db?password=s3cr3t&sslmode=x\"");
    assert!(
        msg.contains("\"oracle://h/db?password=***&sslmode=x\""),
        "{msg}"
    );
}

/// A URL password may hold a quote, a space or a comma (the URL parser
/// percent-encodes them, so such URLs are accepted): none of it is shown,
/// in the effective settings, `ConnectionUrl`'s output or an error that
/// quotes a piece of a list split at the comma.
#[test]
fn passwords_with_quotes_spaces_and_commas_are_masked() {
    for (password, url) in [
        ("it's-pw", "redis://:it's-pw@cache:6379"),
        ("pa ss-pw", "redis://app:pa ss-pw@cache:6379"),
    ] {
        let report = Settings::builder()
            .env_from([("SESSION_REDIS", url)])
            .build_report()
            .unwrap();
        let shown = format!(
            "{} {:?} {:?}",
            report.settings.redis[0],
            report.settings.redis[0],
            report.effective()
        );
        let secret_part = &password[password.len() - 5..];
        assert!(!shown.contains(secret_part), "{shown}");
        assert!(shown.contains("***@cache:6379"), "{shown}");
    }
    let (_, msg) = env_err(&[("SESSION_REDIS", "redis://:hunter,2@cache:6379")]);
    assert!(!msg.contains("hunter"), "{msg}");
}
