//! Value syntax: file modes, durations, booleans, lists, binds, optional values.

use std::time::Duration;

use session_config::{ConfigError, Key, SameSite, Settings};

use crate::{assert_contains, env_err, from_env, from_toml, toml_err};

#[test]
fn file_mode_forms() {
    let from_file = |lit: &str| {
        from_toml(&format!("file_mode = {lit}"))
            .0
            .unwrap()
            .file_mode
            .get()
    };
    assert_eq!(from_file("\"0600\""), 0o600);
    assert_eq!(from_file("\"0o600\""), 0o600);
    assert_eq!(from_file("0o600"), 0o600);
    assert_eq!(from_file("384"), 0o600);
    assert_eq!(from_file("\"384\""), 0o600);
    assert_eq!(from_file("0o640"), 0o640);
    let env = |v: &str| {
        from_env(&[("SESSION_FILE_MODE", v)])
            .unwrap()
            .file_mode
            .get()
    };
    assert_eq!(env("0600"), 0o600);
    assert_eq!(env("0o600"), 0o600);
    assert_eq!(env("384"), 0o600);
    assert_eq!(env("0700"), 0o700);

    // 600 without a leading 0 is decimal (0o1130): out of range, with a helpful message.
    let (err, msg) = env_err(&[("SESSION_FILE_MODE", "600")]);
    assert!(matches!(
        err,
        ConfigError::Invalid {
            setting: Key::FileMode,
            ..
        }
    ));
    assert_contains(
        &msg,
        &[
            "SESSION_FILE_MODE (env SESSION_FILE_MODE)",
            "\"600\"",
            "\"0600\"",
            "decimal",
        ],
    );
    // The owner must keep read and write.
    let (err, msg) = env_err(&[("SESSION_FILE_MODE", "0400")]);
    assert!(matches!(
        err,
        ConfigError::Invalid {
            setting: Key::FileMode,
            ..
        }
    ));
    assert_contains(&msg, &["\"0400\"", "owner read and write"]);
    let (_, msg, path) = toml_err("file_mode = true");
    assert_contains(&msg, &["file_mode", &path.display().to_string(), "true"]);
}

#[test]
fn duration_forms() {
    let lifetime = |v: &str| {
        from_env(&[("PERMANENT_SESSION_LIFETIME", v)])
            .unwrap()
            .permanent_session_lifetime
    };
    assert_eq!(lifetime("3600"), Duration::from_secs(3600));
    assert_eq!(lifetime("45s"), Duration::from_secs(45));
    assert_eq!(lifetime("30m"), Duration::from_secs(1800));
    assert_eq!(lifetime("12h"), Duration::from_secs(43_200));
    assert_eq!(lifetime("31d"), Duration::from_secs(31 * 86_400));
    assert_eq!(lifetime("1.5h"), Duration::from_secs(5400));
    assert_eq!(lifetime("1500ms"), Duration::from_millis(1500));

    let file = |lit: &str| {
        from_toml(&format!("connect_timeout = {lit}"))
            .0
            .unwrap()
            .connect_timeout
    };
    assert_eq!(file("7"), Duration::from_secs(7));
    assert_eq!(file("0.5"), Duration::from_millis(500));
    assert_eq!(file("\"2m\""), Duration::from_secs(120));

    let (err, msg) = env_err(&[("SESSION_CONNECT_TIMEOUT", "5 minutes")]);
    assert!(matches!(
        err,
        ConfigError::Invalid {
            setting: Key::ConnectTimeout,
            ..
        }
    ));
    assert_contains(
        &msg,
        &[
            "SESSION_CONNECT_TIMEOUT (env SESSION_CONNECT_TIMEOUT)",
            "\"5 minutes\"",
            "a duration",
        ],
    );
    let (_, msg, _) = toml_err("operation_timeout = -1");
    assert_contains(&msg, &["operation_timeout", "-1", "a duration"]);
}

#[test]
fn bool_forms() {
    for (text, expected) in [
        ("true", true),
        ("True", true),
        ("1", true),
        ("yes", true),
        ("YES", true),
        ("on", true),
        ("false", false),
        ("FALSE", false),
        ("0", false),
        ("no", false),
        ("Off", false),
    ] {
        let s = from_env(&[("SESSION_PERMANENT", text)]).unwrap();
        assert_eq!(s.permanent, expected, "{text}");
        let s = from_toml(&format!("permanent = \"{text}\"")).0.unwrap();
        assert_eq!(s.permanent, expected, "{text}");
    }
    assert!(!from_toml("permanent = false").0.unwrap().permanent);
    let (err, msg) = env_err(&[("SESSION_PERMANENT", "maybe")]);
    assert!(matches!(
        err,
        ConfigError::Invalid {
            setting: Key::Permanent,
            ..
        }
    ));
    assert_contains(
        &msg,
        &[
            "SESSION_PERMANENT (env SESSION_PERMANENT)",
            "\"maybe\"",
            "true/false, 1/0, yes/no or on/off",
        ],
    );
}

#[test]
fn list_forms() {
    let memcached = |vars: &[(&str, &str)]| from_env(vars).unwrap().memcached;
    assert_eq!(
        memcached(&[("SESSION_MEMCACHED", "a:1,b:2")]),
        ["a:1", "b:2"]
    );
    assert_eq!(
        memcached(&[("SESSION_MEMCACHED", " a:1 , b:2 ,")]),
        ["a:1", "b:2"]
    );
    assert_eq!(memcached(&[("SESSION_MEMCACHED", "a:1")]), ["a:1"]);
    assert_eq!(
        memcached(&[("SESSION_MEMCACHED", r#"["a:1","b:2"]"#)]),
        ["a:1", "b:2"]
    );

    let file = |lit: &str| {
        from_toml(&format!("memcached = {lit}"))
            .0
            .unwrap()
            .memcached
    };
    assert_eq!(file(r#"["a:1", "b:2"]"#), ["a:1", "b:2"]);
    assert_eq!(file(r#""a:1""#), ["a:1"]);
    assert_eq!(file(r#""a:1,b:2""#), ["a:1", "b:2"]);

    let (err, msg, _) = toml_err("memcached = [\"a:1\", 2]");
    assert!(matches!(
        err,
        ConfigError::Invalid {
            setting: Key::Memcached,
            ..
        }
    ));
    assert_contains(&msg, &["memcached (file", ": 2, expected a list"]);

    // A secret fallback with a comma survives as a JSON array.
    let s = from_env(&[(
        "SECRET_KEY_FALLBACKS",
        r#"["a,b-0123456789abcdef0123456789ab"]"#,
    )])
    .unwrap();
    assert_eq!(
        s.secret_key_fallbacks[0].expose(),
        "a,b-0123456789abcdef0123456789ab"
    );
}

#[test]
fn binds_from_toml_table_and_env_json() {
    let (result, _) = from_toml(
        "[sqlalchemy_binds]\nusers = \"postgres://h/users\"\nlogs = \"sqlite://logs.db\"\n",
    );
    let s = result.unwrap();
    assert_eq!(s.sqlalchemy_binds.len(), 2);
    assert_eq!(s.sqlalchemy_binds["users"].as_str(), "postgres://h/users");
    assert_eq!(s.sqlalchemy_binds["logs"].as_str(), "sqlite://logs.db");

    let s = from_env(&[(
        "SESSION_SQLALCHEMY_BINDS",
        r#"{"users": "mysql://root@127.0.0.1/users"}"#,
    )])
    .unwrap();
    assert_eq!(
        s.sqlalchemy_binds["users"].as_str(),
        "mysql://root@127.0.0.1/users"
    );

    let (err, msg) = env_err(&[("SESSION_SQLALCHEMY_BINDS", "users=postgres://h/db")]);
    assert!(matches!(
        err,
        ConfigError::Invalid {
            setting: Key::SqlAlchemyBinds,
            ..
        }
    ));
    assert_contains(
        &msg,
        &[
            "SESSION_SQLALCHEMY_BINDS (env SESSION_SQLALCHEMY_BINDS)",
            "JSON object",
        ],
    );

    let (err, msg, _) = toml_err("[sqlalchemy_binds]\nusers = \"oracle://h/db\"\n");
    assert!(matches!(
        err,
        ConfigError::Invalid {
            setting: Key::SqlAlchemyBinds,
            ..
        }
    ));
    assert_contains(
        &msg,
        &[
            "sqlalchemy_binds (file",
            "\"users\" = \"oracle://h/db\"",
            "postgres://",
        ],
    );

    let (_, msg, _) = toml_err("[sqlalchemy_binds]\nusers = 5\n");
    assert_contains(
        &msg,
        &[
            "sqlalchemy_binds",
            ": 5, expected a database URL string for bind \"users\"",
        ],
    );
}

#[test]
fn bind_key_without_a_bind_is_fine() {
    // The app may register a pool under that name in code.
    let s = from_env(&[("SESSION_SQLALCHEMY_BIND_KEY", "elsewhere")]).unwrap();
    assert_eq!(s.sqlalchemy_bind_key.as_deref(), Some("elsewhere"));
    assert!(s.sqlalchemy_binds.is_empty());
}

#[test]
fn same_site_forms() {
    let ss = |v: &str| {
        from_env(&[
            ("SESSION_COOKIE_SAMESITE", v),
            ("SESSION_COOKIE_SECURE", "1"),
        ])
        .unwrap()
        .cookie
        .same_site
    };
    assert_eq!(ss("Lax"), Some(SameSite::Lax));
    assert_eq!(ss("strict"), Some(SameSite::Strict));
    assert_eq!(ss("NONE"), Some(SameSite::None));
    assert_eq!(ss(""), None);
    let (err, msg) = env_err(&[("SESSION_COOKIE_SAMESITE", "sometimes")]);
    assert!(matches!(
        err,
        ConfigError::Invalid {
            setting: Key::CookieSameSite,
            ..
        }
    ));
    assert_contains(&msg, &["\"sometimes\"", "Lax, Strict, None"]);
}

#[test]
fn empty_strings_mean_none_for_optional_values() {
    let s = from_env(&[
        ("SESSION_COOKIE_DOMAIN", ""),
        ("SESSION_POOL_SIZE", ""),
        ("SESSION_CLEANUP_INTERVAL", ""),
        ("SESSION_CLEANUP_N_REQUESTS", ""),
        ("SESSION_SQLALCHEMY_SCHEMA", ""),
        ("SESSION_SQLALCHEMY_BIND_KEY", ""),
        ("SECRET_KEY", ""),
    ])
    .unwrap();
    // The background cleanup is on by default; an empty value turns it off.
    let off = {
        let mut settings = Settings::default();
        settings.cleanup_interval = None;
        settings
    };
    assert_eq!(s, off);
}

#[test]
fn type_mismatches_in_toml_name_key_file_value_and_expected() {
    let cases = [
        (
            "permanent = \"maybe\"",
            Key::Permanent,
            "\"maybe\"",
            "a boolean",
        ),
        (
            "id_length = \"abc\"",
            Key::IdLength,
            "\"abc\"",
            "an integer from 16 to 128",
        ),
        (
            "id_length = 1.5",
            Key::IdLength,
            "1.5",
            "an integer from 16 to 128",
        ),
        ("key_prefix = 5", Key::KeyPrefix, "5", "a string"),
        (
            "type = \"postgres\"",
            Key::Type,
            "\"postgres\"",
            "one of null, memory, redis",
        ),
        (
            "serialization_format = \"pickle\"",
            Key::SerializationFormat,
            "\"pickle\"",
            "msgpack or json",
        ),
        (
            "refresh_threshold = \"high\"",
            Key::RefreshThreshold,
            "\"high\"",
            "a number",
        ),
        (
            "max_session_bytes = -5",
            Key::MaxSessionBytes,
            "-5",
            "an integer from 0",
        ),
        ("file_dir = \"\"", Key::FileDir, "\"\"", "a non-empty path"),
        (
            "cookie_httponly = [true]",
            Key::CookieHttpOnly,
            "[true]",
            "a boolean",
        ),
    ];
    for (text, key, value, expected) in cases {
        let (err, msg, path) = toml_err(text);
        match &err {
            ConfigError::Invalid {
                setting, key: name, ..
            } => {
                assert_eq!(*setting, key, "{text}");
                assert_eq!(name, key.toml_name(), "{text}");
            }
            other => panic!("{text}: {other:?}"),
        }
        let source = format!("{} (file {})", key.toml_name(), path.display());
        assert_contains(&msg, &[&source, value, expected]);
    }
}
