//! Every key, from the file and from the environment, with a non-default value.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use session_config::{
    Key, Origin, SameSite, SerializationFormat, SessionType, Settings, WhenFull, WriteMode,
};

use crate::{report_env, toml_file};

/// (key, TOML value, env value), one row per key.
const CASES: &[(Key, &str, &str)] = &[
    (Key::Type, r#""redis""#, "redis"),
    (Key::Permanent, "false", "no"),
    (Key::UseSigner, "true", "1"),
    (Key::KeyPrefix, r#""app:""#, "app:"),
    (Key::IdLength, "48", "48"),
    (Key::SerializationFormat, r#""json""#, "json"),
    (Key::RefreshEachRequest, "false", "off"),
    (Key::CleanupNRequests, "100", "100"),
    (Key::PermanentSessionLifetime, r#""7d""#, "604800"),
    (
        Key::SecretKey,
        r#""0123456789abcdef0123456789abcdef-main""#,
        "0123456789abcdef0123456789abcdef-main",
    ),
    (
        Key::SecretKeyFallbacks,
        r#"["0123456789abcdef0123456789abcdef-old1", "0123456789abcdef0123456789abcdef-old2"]"#,
        "0123456789abcdef0123456789abcdef-old1, 0123456789abcdef0123456789abcdef-old2",
    ),
    (Key::CookieName, r#""sid""#, "sid"),
    (Key::CookieDomain, r#""example.com""#, "example.com"),
    (Key::CookiePath, r#""/app""#, "/app"),
    (Key::CookieHttpOnly, "false", "FALSE"),
    (Key::CookieSecure, "true", "yes"),
    (Key::CookieSameSite, r#""Strict""#, "strict"),
    (Key::CookiePartitioned, "true", "on"),
    (
        Key::Redis,
        r#"["redis://:pw@r1:7000", "redis://r2:7001"]"#,
        "redis://:pw@r1:7000,redis://r2:7001",
    ),
    (
        Key::RedisSentinels,
        r#"["redis://s1:26379", "redis://:spw@s2:26380"]"#,
        "redis://s1:26379, redis://:spw@s2:26380",
    ),
    (Key::RedisSentinelMaster, r#""mymaster""#, "mymaster"),
    (
        Key::RedisSentinelPassword,
        r#""sentinel-pw""#,
        "sentinel-pw",
    ),
    (
        Key::RedisSentinelMasterPassword,
        r#""master-pw""#,
        "master-pw",
    ),
    (
        Key::Memcached,
        r#"["10.0.0.1:11211", "10.0.0.2:11212"]"#,
        "10.0.0.1:11211, 10.0.0.2:11212",
    ),
    (Key::FileDir, r#""/var/lib/sessions""#, "/var/lib/sessions"),
    (Key::FileThreshold, "1000", "1000"),
    (Key::FileMode, "0o640", "0640"),
    (Key::WhenFull, r#""evict_oldest""#, "EVICT_OLDEST"),
    (
        Key::MongoDb,
        r#""mongodb://m1:27017,m2:27018/?replicaSet=rs""#,
        "mongodb://m1:27017,m2:27018/?replicaSet=rs",
    ),
    (Key::MongoDbDb, r#""appdb""#, "appdb"),
    (Key::MongoDbCollect, r#""sess""#, "sess"),
    (
        Key::SqlAlchemy,
        r#""postgres://u:p@db/app""#,
        "postgres://u:p@db/app",
    ),
    (Key::SqlAlchemyTable, r#""app_sessions""#, "app_sessions"),
    (
        Key::SqlAlchemySequence,
        r#""app_sessions_id_seq""#,
        "app_sessions_id_seq",
    ),
    (Key::SqlAlchemySchema, r#""public""#, "public"),
    (Key::SqlAlchemyBindKey, r#""users""#, "users"),
    (
        Key::SqlAlchemyBinds,
        r#"{ users = "mysql://root@m/users", audit = "sqlite::memory:" }"#,
        r#"{"users": "mysql://root@m/users", "audit": "sqlite::memory:"}"#,
    ),
    (Key::SqlAlchemyCreateTable, "false", "0"),
    (Key::CleanupInterval, r#""10m""#, "600"),
    (Key::RefreshThreshold, "0.5", "0.5"),
    (Key::MaxSessionBytes, "1024", "1024"),
    (Key::WriteMode, r#""overwrite""#, "Overwrite"),
    (Key::OwnerKey, r#""account""#, "account"),
    (Key::AbsoluteLifetime, r#""12h""#, "43200s"),
    (Key::HeaderName, r#""X-Session-Id""#, "X-Session-Id"),
    (Key::ConnectTimeout, "5", "5s"),
    (Key::OperationTimeout, r#""250ms""#, "250ms"),
    (Key::PoolSize, "20", "20"),
];

#[test]
fn the_cases_cover_every_key() {
    let covered: BTreeSet<Key> = CASES.iter().map(|(k, _, _)| *k).collect();
    assert_eq!(covered.len(), CASES.len(), "a key is listed twice");
    let all: BTreeSet<Key> = Key::ALL.iter().copied().collect();
    assert_eq!(covered, all);
}

/// Every field differs from its default and has the value of `CASES`.
fn check_non_default(s: &Settings) {
    let d = Settings::default();
    assert_eq!(s.session_type, SessionType::Redis);
    assert!(!s.permanent);
    assert!(s.use_signer);
    assert_eq!(s.key_prefix, "app:");
    assert_eq!(s.id_length.get(), 48);
    assert_eq!(s.id_length.sid_chars(), 64);
    assert_eq!(s.serialization_format, SerializationFormat::Json);
    assert!(!s.refresh_each_request);
    assert_eq!(s.cleanup_n_requests, Some(100));
    assert_eq!(
        s.permanent_session_lifetime,
        Duration::from_secs(7 * 86_400)
    );
    assert_eq!(
        s.secret_key.as_ref().unwrap().expose(),
        "0123456789abcdef0123456789abcdef-main"
    );
    let fallbacks: Vec<&str> = s.secret_key_fallbacks.iter().map(|k| k.expose()).collect();
    assert_eq!(
        fallbacks,
        [
            "0123456789abcdef0123456789abcdef-old1",
            "0123456789abcdef0123456789abcdef-old2"
        ]
    );
    assert_eq!(s.cookie.name, "sid");
    assert_eq!(s.cookie.domain.as_deref(), Some("example.com"));
    assert_eq!(s.cookie.path, "/app");
    assert!(!s.cookie.http_only);
    assert!(s.cookie.secure);
    assert_eq!(s.cookie.same_site, Some(SameSite::Strict));
    assert!(s.cookie.partitioned);
    let redis: Vec<&str> = s.redis.iter().map(|u| u.as_str()).collect();
    assert_eq!(redis, ["redis://:pw@r1:7000", "redis://r2:7001"]);
    let sentinels: Vec<&str> = s.redis_sentinels.iter().map(|u| u.as_str()).collect();
    assert_eq!(sentinels, ["redis://s1:26379", "redis://:spw@s2:26380"]);
    assert_eq!(s.redis_sentinel_master.as_deref(), Some("mymaster"));
    let password = |p: &Option<session_config::Secret>| p.as_ref().map(|p| p.expose().to_owned());
    assert_eq!(
        password(&s.redis_sentinel_password).as_deref(),
        Some("sentinel-pw")
    );
    assert_eq!(
        password(&s.redis_sentinel_master_password).as_deref(),
        Some("master-pw")
    );
    assert_eq!(s.memcached, ["10.0.0.1:11211", "10.0.0.2:11212"]);
    assert_eq!(s.file_dir, Path::new("/var/lib/sessions"));
    assert_eq!(s.file_threshold, 1000);
    assert_eq!(s.file_mode.get(), 0o640);
    assert_eq!(s.when_full, WhenFull::EvictOldest);
    assert_eq!(
        s.mongodb.as_str(),
        "mongodb://m1:27017,m2:27018/?replicaSet=rs"
    );
    assert_eq!(s.mongodb_db, "appdb");
    assert_eq!(s.mongodb_collect, "sess");
    assert_eq!(s.sqlalchemy.as_str(), "postgres://u:p@db/app");
    assert_eq!(s.sqlalchemy_table.as_str(), "app_sessions");
    assert_eq!(
        s.sqlalchemy_sequence.as_ref().unwrap().as_str(),
        "app_sessions_id_seq"
    );
    assert_eq!(s.sqlalchemy_schema.as_ref().unwrap().as_str(), "public");
    assert_eq!(s.sqlalchemy_bind_key.as_deref(), Some("users"));
    assert_eq!(s.sqlalchemy_binds.len(), 2);
    assert_eq!(s.sqlalchemy_binds["users"].as_str(), "mysql://root@m/users");
    assert_eq!(s.sqlalchemy_binds["audit"].as_str(), "sqlite::memory:");
    assert!(!s.sqlalchemy_create_table);
    assert_eq!(s.cleanup_interval, Some(Duration::from_secs(600)));
    assert!((s.refresh_threshold - 0.5).abs() < f64::EPSILON);
    assert_eq!(s.max_session_bytes, 1024);
    assert_eq!(s.write_mode, WriteMode::Overwrite);
    assert_eq!(s.owner_key, "account");
    assert_eq!(s.absolute_lifetime, Some(Duration::from_secs(12 * 3600)));
    assert_eq!(s.header_name.as_deref(), Some("X-Session-Id"));
    assert_eq!(s.connect_timeout, Duration::from_secs(5));
    assert_eq!(s.operation_timeout, Duration::from_millis(250));
    assert_eq!(s.pool_size, Some(20));

    // Belt and braces: nothing of the default survived.
    assert_ne!(s.cookie, d.cookie);
    assert_ne!(s.file_mode, d.file_mode);
}

#[test]
fn every_key_from_the_file() {
    let text: String = CASES
        .iter()
        .map(|(k, toml, _)| format!("{} = {toml}\n", k.toml_name()))
        .collect();
    let (_dir, path) = toml_file(&text);
    let report = Settings::builder().file(&path).build_report().unwrap();
    check_non_default(&report.settings);
    let abs = std::path::absolute(&path).unwrap();
    for key in Key::ALL {
        assert_eq!(
            report.provenance.origin(*key),
            &Origin::File(abs.clone()),
            "{key:?}"
        );
        assert_eq!(report.provenance.key_name(*key), key.toml_name());
    }
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
}

#[test]
fn every_key_from_the_environment() {
    let vars: Vec<(&str, &str)> = CASES
        .iter()
        .map(|(k, _, env)| (k.env_name(), *env))
        .collect();
    let report = report_env(&vars).unwrap();
    check_non_default(&report.settings);
    for key in Key::ALL {
        assert_eq!(
            report.provenance.origin(*key),
            &Origin::Env(key.env_name().to_owned()),
            "{key:?}"
        );
        assert_eq!(report.provenance.key_name(*key), key.env_name());
    }
    assert!(report.warnings.is_empty(), "{:?}", report.warnings);
}

#[test]
fn defaults_are_the_documented_ones() {
    let s = Settings::builder().build().unwrap();
    assert_eq!(s, Settings::default());
    assert_eq!(s.session_type, SessionType::Null);
    assert!(s.permanent);
    assert!(!s.use_signer);
    assert_eq!(s.key_prefix, "session:");
    assert_eq!(s.id_length.get(), 32);
    assert_eq!(s.id_length.sid_chars(), 43);
    assert_eq!(s.serialization_format, SerializationFormat::MsgPack);
    assert!(s.refresh_each_request);
    assert_eq!(s.cleanup_n_requests, None);
    assert_eq!(
        s.permanent_session_lifetime,
        Duration::from_secs(31 * 86_400)
    );
    assert!(s.secret_key.is_none());
    assert!(s.secret_key_fallbacks.is_empty());
    assert_eq!(s.cookie.name, "session");
    assert_eq!(s.cookie.domain, None);
    assert_eq!(s.cookie.path, "/");
    assert!(s.cookie.http_only);
    assert!(!s.cookie.secure);
    assert_eq!(s.cookie.same_site, Some(SameSite::Lax));
    assert!(!s.cookie.partitioned);
    assert_eq!(s.redis.len(), 1);
    assert_eq!(s.redis[0].as_str(), "redis://127.0.0.1:6379");
    assert!(s.redis_sentinels.is_empty());
    assert_eq!(s.redis_sentinel_master, None);
    assert!(s.redis_sentinel_password.is_none());
    assert!(s.redis_sentinel_master_password.is_none());
    assert_eq!(s.memcached, ["127.0.0.1:11211"]);
    assert_eq!(s.file_dir, Path::new("./flask_session"));
    assert_eq!(s.file_threshold, 500);
    assert_eq!(s.file_mode.get(), 0o600);
    assert_eq!(s.mongodb.as_str(), "mongodb://127.0.0.1:27017");
    assert_eq!(s.mongodb_db, "flask_session");
    assert_eq!(s.mongodb_collect, "sessions");
    assert_eq!(s.sqlalchemy.as_str(), "sqlite://flask_session.db?mode=rwc");
    assert_eq!(s.sqlalchemy_table.as_str(), "sessions");
    assert_eq!(s.sqlalchemy_sequence, None);
    assert_eq!(s.sqlalchemy_schema, None);
    assert_eq!(s.sqlalchemy_bind_key, None);
    assert!(s.sqlalchemy_binds.is_empty());
    assert!(s.sqlalchemy_create_table);
    assert_eq!(s.cleanup_interval, Some(Duration::from_secs(3600)));
    assert_eq!(s.when_full, WhenFull::Refuse);
    assert!((s.refresh_threshold - 0.8).abs() < f64::EPSILON);
    assert_eq!(s.max_session_bytes, 65_536);
    assert_eq!(s.write_mode, WriteMode::Merge);
    assert_eq!(s.owner_key, "_user_id");
    assert_eq!(s.absolute_lifetime, None);
    assert_eq!(s.header_name, None);
    assert_eq!(s.connect_timeout, Duration::from_secs(2));
    assert_eq!(s.operation_timeout, Duration::from_secs(1));
    assert_eq!(s.pool_size, None);
    assert!(Settings::default().validate().unwrap().is_empty());
}

#[test]
fn session_type_spellings() {
    let cases = [
        ("null", SessionType::Null),
        ("memory", SessionType::Memory),
        ("redis", SessionType::Redis),
        ("memcached", SessionType::Memcached),
        ("filesystem", SessionType::Filesystem),
        ("mongodb", SessionType::MongoDb),
        ("sqlalchemy", SessionType::SqlAlchemy),
    ];
    for (text, ty) in cases {
        assert_eq!(ty.to_string(), text);
        let s = crate::from_env(&[("SESSION_TYPE", text)]).unwrap();
        assert_eq!(s.session_type, ty);
        let upper = text.to_ascii_uppercase();
        let s = crate::from_env(&[("SESSION_TYPE", upper.as_str())]).unwrap();
        assert_eq!(s.session_type, ty);
    }
    let s = crate::from_env(&[("SESSION_TYPE", "sql")]).unwrap();
    assert_eq!(s.session_type, SessionType::SqlAlchemy);
    assert_eq!(SerializationFormat::Json.to_string(), "json");
    assert_eq!(SameSite::None.to_string(), "None");
}
