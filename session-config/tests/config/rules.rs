//! Each validation rule: the right variant, and a message naming key, source and expectation.

use session_config::{ConfigError, ConfigWarning, Key, Origin, RuleKind, Settings};

use crate::{assert_contains, env_err, from_env, from_toml, report_env, toml_err};

fn assert_rule(err: &ConfigError, rule: RuleKind, key: Key) {
    match err {
        ConfigError::Rule {
            rule: r, setting, ..
        } => {
            assert_eq!((*r, *setting), (rule, key), "{err}");
        }
        other => panic!("expected a {rule:?} rule error, got {other:?}"),
    }
}

fn assert_invalid(err: &ConfigError, key: Key) {
    match err {
        ConfigError::Invalid { setting, .. } => assert_eq!(*setting, key, "{err}"),
        other => panic!("expected Invalid for {key:?}, got {other:?}"),
    }
}

#[test]
fn signer_without_secret() {
    let (err, msg) = env_err(&[("SESSION_USE_SIGNER", "true")]);
    assert_rule(&err, RuleKind::SignerWithoutSecret, Key::UseSigner);
    assert_contains(
        &msg,
        &[
            "SESSION_USE_SIGNER (env SESSION_USE_SIGNER)",
            "\"true\"",
            "SECRET_KEY",
            "not set",
        ],
    );
    let (err, msg) = env_err(&[("SESSION_USE_SIGNER", "true"), ("SECRET_KEY", "")]);
    assert_rule(&err, RuleKind::SignerWithoutSecret, Key::UseSigner);
    assert_contains(&msg, &["SECRET_KEY (env SECRET_KEY) is empty"]);
    let (err, msg, path) = toml_err("use_signer = true");
    assert_rule(&err, RuleKind::SignerWithoutSecret, Key::UseSigner);
    assert_contains(&msg, &[&format!("use_signer (file {})", path.display())]);
}

#[test]
fn short_secret_warns_but_loads() {
    let report = report_env(&[("SESSION_USE_SIGNER", "1"), ("SECRET_KEY", "legacy-key")]).unwrap();
    assert!(report.settings.use_signer);
    assert_eq!(
        report.settings.secret_key.as_ref().unwrap().expose(),
        "legacy-key"
    );
    assert_eq!(
        report.warnings,
        [ConfigWarning::ShortSecret {
            key: "SECRET_KEY".to_owned(),
            origin: Origin::Env("SECRET_KEY".to_owned()),
            len: 10,
        }]
    );
    let text = report.warnings[0].to_string();
    assert_contains(&text, &["SECRET_KEY (env SECRET_KEY)", "10 bytes", "32"]);
    assert!(!text.contains("legacy-key"));

    let long = "k".repeat(32);
    let report = report_env(&[("SECRET_KEY", &long), ("SECRET_KEY_FALLBACKS", "short")]).unwrap();
    assert!(matches!(
        report.warnings.as_slice(),
        [ConfigWarning::ShortSecret { key, len: 5, .. }] if key == "SECRET_KEY_FALLBACKS[0]"
    ));
}

#[test]
fn same_site_none_without_secure() {
    let (err, msg, path) = toml_err("cookie_samesite = \"None\"");
    assert_rule(
        &err,
        RuleKind::SameSiteNoneWithoutSecure,
        Key::CookieSameSite,
    );
    assert_contains(
        &msg,
        &[
            &format!("cookie_samesite (file {})", path.display()),
            "\"None\"",
            "cookie_secure (default) to be true",
        ],
    );
    let (_, msg) = env_err(&[
        ("SESSION_COOKIE_SAMESITE", "none"),
        ("SESSION_COOKIE_SECURE", "0"),
    ]);
    assert_contains(
        &msg,
        &[
            "SESSION_COOKIE_SAMESITE (env SESSION_COOKIE_SAMESITE)",
            "SESSION_COOKIE_SECURE (env SESSION_COOKIE_SECURE) to be true",
        ],
    );
    assert!(from_env(&[
        ("SESSION_COOKIE_SAMESITE", "None"),
        ("SESSION_COOKIE_SECURE", "1")
    ])
    .is_ok());
}

#[test]
fn partitioned_without_secure() {
    let (err, msg) = env_err(&[("SESSION_COOKIE_PARTITIONED", "true")]);
    assert_rule(
        &err,
        RuleKind::PartitionedWithoutSecure,
        Key::CookiePartitioned,
    );
    assert_contains(
        &msg,
        &[
            "SESSION_COOKIE_PARTITIONED (env SESSION_COOKIE_PARTITIONED)",
            "cookie_secure (default) to be true",
        ],
    );
}

#[test]
fn host_prefix() {
    let (err, msg) = env_err(&[("SESSION_COOKIE_NAME", "__Host-sid")]);
    assert_rule(&err, RuleKind::HostPrefix, Key::CookieName);
    assert_contains(
        &msg,
        &[
            "SESSION_COOKIE_NAME (env SESSION_COOKIE_NAME)",
            "\"__Host-sid\"",
            "cookie_secure (default) to be true",
        ],
    );

    let secure = ("SESSION_COOKIE_SECURE", "true");
    let (err, msg) = env_err(&[
        ("SESSION_COOKIE_NAME", "__Host-sid"),
        secure,
        ("SESSION_COOKIE_PATH", "/app"),
    ]);
    assert_rule(&err, RuleKind::HostPrefix, Key::CookieName);
    assert_contains(
        &msg,
        &[
            "SESSION_COOKIE_PATH (env SESSION_COOKIE_PATH) to be \"/\"",
            "\"/app\"",
        ],
    );

    let (err, msg) = env_err(&[
        ("SESSION_COOKIE_NAME", "__host-sid"),
        secure,
        ("SESSION_COOKIE_DOMAIN", "example.com"),
    ]);
    assert_rule(&err, RuleKind::HostPrefix, Key::CookieName);
    assert_contains(
        &msg,
        &[
            "no SESSION_COOKIE_DOMAIN (env SESSION_COOKIE_DOMAIN)",
            "\"example.com\"",
        ],
    );

    let s = from_env(&[("SESSION_COOKIE_NAME", "__Host-sid"), secure]).unwrap();
    assert_eq!(s.cookie.name, "__Host-sid");
}

#[test]
fn secure_prefix() {
    let (err, msg, path) = toml_err("cookie_name = \"__Secure-sid\"");
    assert_rule(&err, RuleKind::SecurePrefix, Key::CookieName);
    assert_contains(
        &msg,
        &[
            &format!("cookie_name (file {})", path.display()),
            "cookie_secure (default) to be true",
        ],
    );
    assert!(from_env(&[
        ("SESSION_COOKIE_NAME", "__Secure-sid"),
        ("SESSION_COOKIE_SECURE", "1")
    ])
    .is_ok());
}

#[test]
fn id_length_range() {
    let (err, msg) = env_err(&[("SESSION_ID_LENGTH", "8")]);
    assert_invalid(&err, Key::IdLength);
    assert_eq!(
        msg,
        "invalid value for SESSION_ID_LENGTH (env SESSION_ID_LENGTH): \"8\", expected an integer from 16 to 128"
    );
    for bad in ["15", "129", "-32", "", "32 bytes"] {
        let (err, _) = env_err(&[("SESSION_ID_LENGTH", bad)]);
        assert_invalid(&err, Key::IdLength);
    }
    let (err, msg, path) = toml_err("id_length = 200");
    assert_invalid(&err, Key::IdLength);
    assert_eq!(
        msg,
        format!(
            "invalid value for id_length (file {}): 200, expected an integer from 16 to 128",
            path.display()
        )
    );
    assert_eq!(
        from_env(&[("SESSION_ID_LENGTH", "16")])
            .unwrap()
            .id_length
            .get(),
        16
    );
    assert_eq!(
        from_env(&[("SESSION_ID_LENGTH", "128")])
            .unwrap()
            .id_length
            .get(),
        128
    );
}

#[test]
fn zero_lifetime_and_timeouts() {
    for value in ["0", "0s", "0d"] {
        let (err, msg) = env_err(&[("PERMANENT_SESSION_LIFETIME", value)]);
        assert_invalid(&err, Key::PermanentSessionLifetime);
        assert_contains(
            &msg,
            &[
                "PERMANENT_SESSION_LIFETIME (env PERMANENT_SESSION_LIFETIME)",
                &format!("{value:?}"),
                "greater than zero",
            ],
        );
    }
    let (err, msg, _) = toml_err("permanent_session_lifetime = 0");
    assert_invalid(&err, Key::PermanentSessionLifetime);
    assert_contains(
        &msg,
        &[
            "permanent_session_lifetime (file",
            ": 0, expected a duration greater than zero",
        ],
    );
    let (err, _) = env_err(&[("PERMANENT_SESSION_LIFETIME", "-1")]);
    assert_invalid(&err, Key::PermanentSessionLifetime);
    let (err, _) = env_err(&[("SESSION_OPERATION_TIMEOUT", "0")]);
    assert_invalid(&err, Key::OperationTimeout);
    let (err, _) = env_err(&[("SESSION_CLEANUP_INTERVAL", "0m")]);
    assert_invalid(&err, Key::CleanupInterval);
}

#[test]
fn bad_urls() {
    let cases: [(&str, &str, Key, &str); 7] = [
        ("SESSION_REDIS", "http://cache:6379", Key::Redis, "redis://"),
        (
            "SESSION_REDIS",
            "redis://ok:6379,cache:6379",
            Key::Redis,
            "rediss://",
        ),
        (
            "SESSION_MONGODB",
            "mysql://m:3306",
            Key::MongoDb,
            "mongodb+srv://",
        ),
        (
            "SESSION_MONGODB",
            "mongodb://",
            Key::MongoDb,
            "mongodb://host",
        ),
        (
            "SESSION_SQLALCHEMY",
            "postgresql+psycopg2://h/db",
            Key::SqlAlchemy,
            "postgresql://",
        ),
        ("SESSION_SQLALCHEMY", "sqlite:", Key::SqlAlchemy, "sqlite:"),
        (
            "SESSION_MEMCACHED",
            "127.0.0.1",
            Key::Memcached,
            "host:port",
        ),
    ];
    for (var, value, key, expected) in cases {
        let (err, msg) = env_err(&[(var, value)]);
        assert_invalid(&err, key);
        assert_contains(&msg, &[&format!("{var} (env {var})"), expected]);
    }
    // The bad element of a list is quoted.
    let (_, msg) = env_err(&[("SESSION_REDIS", "redis://ok:6379,cache:6379")]);
    assert_contains(&msg, &["\"cache:6379\""]);
    let (err, msg, path) = toml_err("redis = []");
    assert_invalid(&err, Key::Redis);
    assert_contains(
        &msg,
        &[
            &format!("redis (file {})", path.display()),
            "at least one Redis URL",
        ],
    );
    for ok in [
        "rediss://h:6380",
        "redis+unix:///tmp/r.sock",
        "redis://:pw@h/2",
    ] {
        assert!(from_env(&[("SESSION_REDIS", ok)]).is_ok(), "{ok}");
    }
}

#[test]
fn sentinels_and_their_master() {
    // A bad sentinel URL is quoted (password masked) and named by its key.
    let (err, msg) = env_err(&[
        (
            "SESSION_REDIS_SENTINELS",
            "redis://:hunter2@s1:26379,s2:26379",
        ),
        ("SESSION_REDIS_SENTINEL_MASTER", "mymaster"),
    ]);
    assert_invalid(&err, Key::RedisSentinels);
    assert_contains(
        &msg,
        &[
            "SESSION_REDIS_SENTINELS (env SESSION_REDIS_SENTINELS)",
            "\"s2:26379\"",
            "a Sentinel URL",
        ],
    );
    // A socket path cannot follow the master's address a Sentinel answers.
    let (err, _) = env_err(&[
        ("SESSION_REDIS_SENTINELS", "unix:///tmp/sentinel.sock"),
        ("SESSION_REDIS_SENTINEL_MASTER", "mymaster"),
    ]);
    assert_invalid(&err, Key::RedisSentinels);

    // Sentinels without a master name, in the environment and in a file.
    let (err, msg) = env_err(&[("SESSION_REDIS_SENTINELS", "redis://s1:26379")]);
    assert_rule(&err, RuleKind::SentinelWithoutMaster, Key::RedisSentinels);
    assert_contains(
        &msg,
        &[
            "SESSION_REDIS_SENTINELS (env SESSION_REDIS_SENTINELS)",
            "\"redis://s1:26379\"",
            "redis_sentinel_master (default)",
        ],
    );
    let (err, msg, path) =
        toml_err("redis_sentinels = [\"redis://s1:26379\"]\nredis_sentinel_master = \"  \"");
    assert_rule(&err, RuleKind::SentinelWithoutMaster, Key::RedisSentinels);
    assert_contains(
        &msg,
        &[&format!("redis_sentinel_master (file {})", path.display())],
    );

    // A master name with no sentinels to ask.
    let (err, msg) = env_err(&[("SESSION_REDIS_SENTINEL_MASTER", "mymaster")]);
    assert_rule(
        &err,
        RuleKind::SentinelWithoutMaster,
        Key::RedisSentinelMaster,
    );
    assert_contains(
        &msg,
        &[
            "SESSION_REDIS_SENTINEL_MASTER (env SESSION_REDIS_SENTINEL_MASTER)",
            "\"mymaster\"",
            "redis_sentinels (default)",
        ],
    );

    let s = from_env(&[
        (
            "SESSION_REDIS_SENTINELS",
            "redis://s1:26379, rediss://:pw@s2:26380",
        ),
        ("SESSION_REDIS_SENTINEL_MASTER", "mymaster"),
    ])
    .unwrap();
    assert_eq!(s.redis_sentinels.len(), 2);
}

#[test]
fn unsafe_sql_identifiers() {
    for (var, key) in [
        ("SESSION_SQLALCHEMY_TABLE", Key::SqlAlchemyTable),
        ("SESSION_SQLALCHEMY_SCHEMA", Key::SqlAlchemySchema),
        ("SESSION_SQLALCHEMY_SEQUENCE", Key::SqlAlchemySequence),
    ] {
        for bad in [
            "sessions; DROP TABLE users",
            "a-b",
            "1abc",
            "\"quoted\"",
            &"x".repeat(64),
        ] {
            let (err, msg) = env_err(&[(var, bad)]);
            assert_invalid(&err, key);
            assert_contains(&msg, &[&format!("{var} (env {var})"), "a SQL identifier"]);
        }
    }
    let s = from_env(&[("SESSION_SQLALCHEMY_TABLE", "_My_Sessions2")]).unwrap();
    assert_eq!(s.sqlalchemy_table.as_str(), "_My_Sessions2");
}

#[test]
fn key_prefix_must_fit_memcached() {
    // id_length 128 gives a 171-character sid: 250 - 171 = 79 bytes of prefix.
    let long = "p".repeat(80);
    let fits = "p".repeat(79);
    let base = [("SESSION_TYPE", "memcached"), ("SESSION_ID_LENGTH", "128")];
    let (err, msg) = env_err(&[base[0], base[1], ("SESSION_KEY_PREFIX", &long)]);
    assert_rule(&err, RuleKind::KeyTooLong, Key::KeyPrefix);
    assert_contains(
        &msg,
        &[
            "SESSION_KEY_PREFIX (env SESSION_KEY_PREFIX)",
            "at most 79 bytes (it is 80)",
            "250",
            "171",
            "SESSION_ID_LENGTH (env SESSION_ID_LENGTH)",
        ],
    );
    assert!(from_env(&[base[0], base[1], ("SESSION_KEY_PREFIX", &fits)]).is_ok());
    // Other types do not care.
    assert!(from_env(&[
        ("SESSION_TYPE", "redis"),
        base[1],
        ("SESSION_KEY_PREFIX", &long)
    ])
    .is_ok());

    let (err, msg) = env_err(&[base[0], ("SESSION_KEY_PREFIX", "my app:")]);
    assert_rule(&err, RuleKind::MemcachedKeyCharacters, Key::KeyPrefix);
    assert_contains(
        &msg,
        &[
            "\"my app:\"",
            "spaces or control characters",
            "SESSION_TYPE (env SESSION_TYPE)",
        ],
    );
}

#[test]
fn key_prefix_must_fit_the_sql_column() {
    // id_length 32 gives 43 characters: 255 - 43 = 212.
    let (err, msg, _) = toml_err(&format!(
        "type = \"sql\"\nkey_prefix = \"{}\"",
        "p".repeat(213)
    ));
    assert_rule(&err, RuleKind::KeyTooLong, Key::KeyPrefix);
    assert_contains(
        &msg,
        &[
            "key_prefix (file",
            "at most 212 characters (it is 213)",
            "255",
            "id_length (default)",
        ],
    );
    assert!(crate::from_toml(&format!(
        "type = \"sql\"\nkey_prefix = \"{}\"",
        "p".repeat(212)
    ))
    .0
    .is_ok());
}

#[test]
fn refresh_threshold_range() {
    for bad in ["1.5", "-0.1", "2"] {
        let (err, msg) = env_err(&[("SESSION_REFRESH_THRESHOLD", bad)]);
        assert_invalid(&err, Key::RefreshThreshold);
        assert_contains(
            &msg,
            &[
                "SESSION_REFRESH_THRESHOLD (env SESSION_REFRESH_THRESHOLD)",
                &format!("{bad:?}"),
                "from 0.0 to 1.0",
            ],
        );
    }
    let (err, _, _) = toml_err("refresh_threshold = nan");
    assert_invalid(&err, Key::RefreshThreshold);
    for ok in ["0", "1", "0.25"] {
        assert!(
            from_env(&[("SESSION_REFRESH_THRESHOLD", ok)]).is_ok(),
            "{ok}"
        );
    }
}

#[test]
fn zero_max_session_bytes_and_counts() {
    let (err, msg) = env_err(&[("SESSION_MAX_SESSION_BYTES", "0")]);
    assert_invalid(&err, Key::MaxSessionBytes);
    assert_contains(
        &msg,
        &[
            "SESSION_MAX_SESSION_BYTES (env SESSION_MAX_SESSION_BYTES)",
            "\"0\"",
            "greater than 0",
        ],
    );
    let (err, _) = env_err(&[("SESSION_POOL_SIZE", "0")]);
    assert_invalid(&err, Key::PoolSize);
    let (err, msg, _) = toml_err("cleanup_n_requests = 0");
    assert_invalid(&err, Key::CleanupNRequests);
    assert_contains(&msg, &["cleanup_n_requests (file", "an integer from 1"]);
}

/// Bounds that keep a backend from failing every connection, panicking in
/// its driver or allocating a slot per connection up front.
#[test]
fn timeouts_and_pool_size_have_a_ceiling() {
    for key in ["SESSION_OPERATION_TIMEOUT", "SESSION_CONNECT_TIMEOUT"] {
        let (err, msg) = env_err(&[(key, "25d")]);
        assert_invalid(
            &err,
            if key == "SESSION_CONNECT_TIMEOUT" {
                Key::ConnectTimeout
            } else {
                Key::OperationTimeout
            },
        );
        assert_contains(
            &msg,
            &[&format!("{key} (env {key})"), "\"25d\"", "at most 24 days"],
        );
        assert!(from_env(&[(key, "24d")]).is_ok(), "{key}=24d");
    }
    let (err, msg) = env_err(&[("SESSION_POOL_SIZE", "4000000000")]);
    assert_invalid(&err, Key::PoolSize);
    assert_contains(
        &msg,
        &[
            "SESSION_POOL_SIZE (env SESSION_POOL_SIZE)",
            "4000000000",
            "an integer from 1 to 10000",
        ],
    );
    let (err, _, _) = toml_err("pool_size = 10001");
    assert_invalid(&err, Key::PoolSize);
    assert_eq!(
        from_env(&[("SESSION_POOL_SIZE", "10000")])
            .unwrap()
            .pool_size,
        Some(10_000)
    );
}

#[test]
fn cookie_name_path_and_domain() {
    for bad in ["", "my session", "a;b", "sess=1", "séance"] {
        let (err, msg) = env_err(&[("SESSION_COOKIE_NAME", bad)]);
        assert_invalid(&err, Key::CookieName);
        assert_contains(
            &msg,
            &[
                "SESSION_COOKIE_NAME (env SESSION_COOKIE_NAME)",
                "cookie name",
            ],
        );
    }
    for bad in ["app", "", "/a;b"] {
        let (err, msg) = env_err(&[("SESSION_COOKIE_PATH", bad)]);
        assert_invalid(&err, Key::CookiePath);
        assert_contains(
            &msg,
            &[
                "SESSION_COOKIE_PATH (env SESSION_COOKIE_PATH)",
                "starts with \"/\"",
            ],
        );
    }
    let (err, msg, _) = toml_err("cookie_domain = \"exa mple.com\"");
    assert_invalid(&err, Key::CookieDomain);
    assert_contains(&msg, &["cookie_domain (file", "a domain name"]);
    assert!(from_env(&[("SESSION_COOKIE_DOMAIN", ".example.com")]).is_ok());
}

#[test]
fn header_name_is_a_header_of_the_apps_own() {
    let s = from_env(&[("SESSION_HEADER_NAME", "X-Session-Id")]).unwrap();
    assert_eq!(s.header_name.as_deref(), Some("X-Session-Id"));
    let (s, _) = from_toml("header_name = \"\"");
    assert_eq!(s.unwrap().header_name, None, "empty means none");
    for bad in ["X Session", "X-Session:", "séance", "a/b"] {
        let (err, msg) = env_err(&[("SESSION_HEADER_NAME", bad)]);
        assert_invalid(&err, Key::HeaderName);
        assert_contains(
            &msg,
            &[
                "SESSION_HEADER_NAME (env SESSION_HEADER_NAME)",
                "an HTTP header name",
            ],
        );
    }
    for reserved in [
        "Cookie",
        "set-cookie",
        "VARY",
        "Authorization",
        "Sec-Session",
        "Proxy-Id",
    ] {
        let (err, msg, _) = toml_err(&format!("header_name = \"{reserved}\""));
        assert_invalid(&err, Key::HeaderName);
        assert_contains(&msg, &["header_name (file", reserved, "of the app's own"]);
    }
    let mut s = Settings::default();
    s.header_name = Some("Set-Cookie".to_owned());
    assert_invalid(&s.validate().unwrap_err(), Key::HeaderName);
}

#[test]
fn mongodb_names() {
    let (err, _) = env_err(&[("SESSION_MONGODB_DB", "my.db")]);
    assert_invalid(&err, Key::MongoDbDb);
    let (err, _) = env_err(&[("SESSION_MONGODB_COLLECT", "system.users")]);
    assert_invalid(&err, Key::MongoDbCollect);
}

#[test]
fn validate_checks_settings_built_in_code() {
    let mut s = Settings::default();
    s.cookie.same_site = Some(session_config::SameSite::None);
    let err = s.validate().unwrap_err();
    assert_rule(
        &err,
        RuleKind::SameSiteNoneWithoutSecure,
        Key::CookieSameSite,
    );
    assert_contains(
        &err.to_string(),
        &["cookie_samesite (code)", "cookie_secure (code)"],
    );

    let s = {
        let mut settings = Settings::default();
        settings.permanent_session_lifetime = std::time::Duration::ZERO;
        settings
    };
    assert_invalid(&s.validate().unwrap_err(), Key::PermanentSessionLifetime);
}
