//! The key table (the README's configuration table): every setting with its environment and `Session.toml` names.

use crate::suggest;

/// The environment variable that names the configuration file (not a setting itself).
pub const CONFIG_PATH_VAR: &str = "SESSION_CONFIG";

macro_rules! keys {
    ($( $(#[$doc:meta])* $variant:ident => $env:literal, $toml:literal; )*) => {
        /// One setting, the complete list.
        ///
        /// In `Session.toml` a key is the env name lower-cased with `SESSION_` removed;
        /// `PERMANENT_SESSION_LIFETIME`, `SECRET_KEY` and `SECRET_KEY_FALLBACKS` keep
        /// their names (lower-cased).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum Key {
            $( $(#[$doc])* $variant, )*
        }

        impl Key {
            /// Every key, in table order.
            pub const ALL: &'static [Key] = &[$(Key::$variant,)*];

            /// The environment variable, e.g. `SESSION_ID_LENGTH`.
            pub const fn env_name(self) -> &'static str {
                match self { $(Key::$variant => $env,)* }
            }

            /// The `Session.toml` key, e.g. `id_length`.
            pub const fn toml_name(self) -> &'static str {
                match self { $(Key::$variant => $toml,)* }
            }
        }
    };
}

keys! {
    /// `SESSION_TYPE` / `type`
    Type => "SESSION_TYPE", "type";
    /// `SESSION_PERMANENT` / `permanent`
    Permanent => "SESSION_PERMANENT", "permanent";
    /// `SESSION_USE_SIGNER` / `use_signer`
    UseSigner => "SESSION_USE_SIGNER", "use_signer";
    /// `SESSION_KEY_PREFIX` / `key_prefix`
    KeyPrefix => "SESSION_KEY_PREFIX", "key_prefix";
    /// `SESSION_ID_LENGTH` / `id_length`
    IdLength => "SESSION_ID_LENGTH", "id_length";
    /// `SESSION_SERIALIZATION_FORMAT` / `serialization_format`
    SerializationFormat => "SESSION_SERIALIZATION_FORMAT", "serialization_format";
    /// `SESSION_REFRESH_EACH_REQUEST` / `refresh_each_request`
    RefreshEachRequest => "SESSION_REFRESH_EACH_REQUEST", "refresh_each_request";
    /// `SESSION_CLEANUP_N_REQUESTS` / `cleanup_n_requests`
    CleanupNRequests => "SESSION_CLEANUP_N_REQUESTS", "cleanup_n_requests";
    /// `PERMANENT_SESSION_LIFETIME` / `permanent_session_lifetime`
    PermanentSessionLifetime => "PERMANENT_SESSION_LIFETIME", "permanent_session_lifetime";
    /// `SECRET_KEY` / `secret_key`
    SecretKey => "SECRET_KEY", "secret_key";
    /// `SECRET_KEY_FALLBACKS` / `secret_key_fallbacks`
    SecretKeyFallbacks => "SECRET_KEY_FALLBACKS", "secret_key_fallbacks";
    /// `SESSION_COOKIE_NAME` / `cookie_name`
    CookieName => "SESSION_COOKIE_NAME", "cookie_name";
    /// `SESSION_COOKIE_DOMAIN` / `cookie_domain`
    CookieDomain => "SESSION_COOKIE_DOMAIN", "cookie_domain";
    /// `SESSION_COOKIE_PATH` / `cookie_path`
    CookiePath => "SESSION_COOKIE_PATH", "cookie_path";
    /// `SESSION_COOKIE_HTTPONLY` / `cookie_httponly`
    CookieHttpOnly => "SESSION_COOKIE_HTTPONLY", "cookie_httponly";
    /// `SESSION_COOKIE_SECURE` / `cookie_secure`
    CookieSecure => "SESSION_COOKIE_SECURE", "cookie_secure";
    /// `SESSION_COOKIE_SAMESITE` / `cookie_samesite`
    CookieSameSite => "SESSION_COOKIE_SAMESITE", "cookie_samesite";
    /// `SESSION_COOKIE_PARTITIONED` / `cookie_partitioned`
    CookiePartitioned => "SESSION_COOKIE_PARTITIONED", "cookie_partitioned";
    /// `SESSION_REDIS` / `redis`
    Redis => "SESSION_REDIS", "redis";
    /// `SESSION_REDIS_SENTINELS` / `redis_sentinels`
    RedisSentinels => "SESSION_REDIS_SENTINELS", "redis_sentinels";
    /// `SESSION_REDIS_SENTINEL_MASTER` / `redis_sentinel_master`
    RedisSentinelMaster => "SESSION_REDIS_SENTINEL_MASTER", "redis_sentinel_master";
    /// `SESSION_REDIS_SENTINEL_PASSWORD` / `redis_sentinel_password`
    RedisSentinelPassword => "SESSION_REDIS_SENTINEL_PASSWORD", "redis_sentinel_password";
    /// `SESSION_REDIS_SENTINEL_MASTER_PASSWORD` / `redis_sentinel_master_password`
    RedisSentinelMasterPassword => "SESSION_REDIS_SENTINEL_MASTER_PASSWORD", "redis_sentinel_master_password";
    /// `SESSION_MEMCACHED` / `memcached`
    Memcached => "SESSION_MEMCACHED", "memcached";
    /// `SESSION_FILE_DIR` / `file_dir`
    FileDir => "SESSION_FILE_DIR", "file_dir";
    /// `SESSION_FILE_THRESHOLD` / `file_threshold`
    FileThreshold => "SESSION_FILE_THRESHOLD", "file_threshold";
    /// `SESSION_FILE_MODE` / `file_mode`
    FileMode => "SESSION_FILE_MODE", "file_mode";
    /// `SESSION_WHEN_FULL` / `when_full`
    WhenFull => "SESSION_WHEN_FULL", "when_full";
    /// `SESSION_MONGODB` / `mongodb`
    MongoDb => "SESSION_MONGODB", "mongodb";
    /// `SESSION_MONGODB_DB` / `mongodb_db`
    MongoDbDb => "SESSION_MONGODB_DB", "mongodb_db";
    /// `SESSION_MONGODB_COLLECT` / `mongodb_collect`
    MongoDbCollect => "SESSION_MONGODB_COLLECT", "mongodb_collect";
    /// `SESSION_SQLALCHEMY` / `sqlalchemy`
    SqlAlchemy => "SESSION_SQLALCHEMY", "sqlalchemy";
    /// `SESSION_SQLALCHEMY_TABLE` / `sqlalchemy_table`
    SqlAlchemyTable => "SESSION_SQLALCHEMY_TABLE", "sqlalchemy_table";
    /// `SESSION_SQLALCHEMY_SEQUENCE` / `sqlalchemy_sequence`
    SqlAlchemySequence => "SESSION_SQLALCHEMY_SEQUENCE", "sqlalchemy_sequence";
    /// `SESSION_SQLALCHEMY_SCHEMA` / `sqlalchemy_schema`
    SqlAlchemySchema => "SESSION_SQLALCHEMY_SCHEMA", "sqlalchemy_schema";
    /// `SESSION_SQLALCHEMY_BIND_KEY` / `sqlalchemy_bind_key`
    SqlAlchemyBindKey => "SESSION_SQLALCHEMY_BIND_KEY", "sqlalchemy_bind_key";
    /// `SESSION_SQLALCHEMY_BINDS` / `sqlalchemy_binds`
    SqlAlchemyBinds => "SESSION_SQLALCHEMY_BINDS", "sqlalchemy_binds";
    /// `SESSION_SQLALCHEMY_CREATE_TABLE` / `sqlalchemy_create_table`
    SqlAlchemyCreateTable => "SESSION_SQLALCHEMY_CREATE_TABLE", "sqlalchemy_create_table";
    /// `SESSION_CLEANUP_INTERVAL` / `cleanup_interval`
    CleanupInterval => "SESSION_CLEANUP_INTERVAL", "cleanup_interval";
    /// `SESSION_REFRESH_THRESHOLD` / `refresh_threshold`
    RefreshThreshold => "SESSION_REFRESH_THRESHOLD", "refresh_threshold";
    /// `SESSION_MAX_SESSION_BYTES` / `max_session_bytes`
    MaxSessionBytes => "SESSION_MAX_SESSION_BYTES", "max_session_bytes";
    /// `SESSION_WRITE_MODE` / `write_mode`
    WriteMode => "SESSION_WRITE_MODE", "write_mode";
    /// `SESSION_OWNER_KEY` / `owner_key`
    OwnerKey => "SESSION_OWNER_KEY", "owner_key";
    /// `SESSION_ABSOLUTE_LIFETIME` / `absolute_lifetime`
    AbsoluteLifetime => "SESSION_ABSOLUTE_LIFETIME", "absolute_lifetime";
    /// `SESSION_HEADER_NAME` / `header_name`
    HeaderName => "SESSION_HEADER_NAME", "header_name";
    /// `SESSION_CONNECT_TIMEOUT` / `connect_timeout`
    ConnectTimeout => "SESSION_CONNECT_TIMEOUT", "connect_timeout";
    /// `SESSION_OPERATION_TIMEOUT` / `operation_timeout`
    OperationTimeout => "SESSION_OPERATION_TIMEOUT", "operation_timeout";
    /// `SESSION_POOL_SIZE` / `pool_size`
    PoolSize => "SESSION_POOL_SIZE", "pool_size";
}

impl Key {
    /// The key whose `Session.toml` name is exactly `name` (case-sensitive).
    pub fn from_toml_name(name: &str) -> Option<Key> {
        Key::ALL.iter().copied().find(|k| k.toml_name() == name)
    }

    /// The key whose environment variable is exactly `name` (case-sensitive).
    pub fn from_env_name(name: &str) -> Option<Key> {
        Key::ALL.iter().copied().find(|k| k.env_name() == name)
    }

    /// `true` for `secret_key`, `secret_key_fallbacks` and the Sentinel
    /// passwords: their values are never shown.
    pub const fn is_secret(self) -> bool {
        matches!(
            self,
            Key::SecretKey
                | Key::SecretKeyFallbacks
                | Key::RedisSentinelPassword
                | Key::RedisSentinelMasterPassword
        )
    }
}

/// A "did you mean" for an unknown `Session.toml` key: the same key in another case, the
/// toml spelling of an env name (`SESSION_TYPE` → `type`), or a known key within edit
/// distance 2.
pub(crate) fn suggest_toml_key(unknown: &str) -> Option<&'static str> {
    let lower = unknown.to_ascii_lowercase();
    if let Some(k) = Key::from_toml_name(&lower) {
        return Some(k.toml_name());
    }
    if let Some(k) = Key::from_env_name(&unknown.to_ascii_uppercase()) {
        return Some(k.toml_name());
    }
    if let Some(stripped) = lower.strip_prefix("session_") {
        if let Some(k) = Key::from_toml_name(stripped) {
            return Some(k.toml_name());
        }
    }
    suggest::closest(&lower, Key::ALL.iter().map(|k| k.toml_name()), 2)
}

/// A "did you mean" for an unknown `Session.toml` table: `[cookie] name = …` → `cookie_name`.
pub(crate) fn suggest_flattened(table: &str, sub_keys: &[&str]) -> Option<&'static str> {
    let table = table.to_ascii_lowercase();
    sub_keys.iter().find_map(|sub| {
        Key::from_toml_name(&format!("{table}_{}", sub.to_ascii_lowercase())).map(Key::toml_name)
    })
}

/// For an environment variable that is not a setting: the known variable it probably
/// meant (case-insensitive edit distance ≤ 2), if it looks like one of ours at all.
pub(crate) fn near_miss_env(var: &str) -> Option<&'static str> {
    let upper = var.to_ascii_uppercase();
    let ours = ["SESSION_", "SECRET_", "PERMANENT_"]
        .iter()
        .any(|p| upper.starts_with(p));
    if !ours || Key::from_env_name(var).is_some() || var == CONFIG_PATH_VAR {
        return None;
    }
    let candidates = Key::ALL
        .iter()
        .map(|k| k.env_name())
        .chain(std::iter::once(CONFIG_PATH_VAR));
    suggest::closest(&upper, candidates, 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_consistent() {
        for k in Key::ALL {
            let env = k.env_name();
            let derived = env
                .strip_prefix("SESSION_")
                .unwrap_or(env)
                .to_ascii_lowercase();
            assert_eq!(derived, k.toml_name(), "{k:?}");
            assert_eq!(Key::from_toml_name(k.toml_name()), Some(*k));
            assert_eq!(Key::from_env_name(env), Some(*k));
        }
        assert_eq!(Key::ALL.len(), 48);
    }

    #[test]
    fn toml_suggestions() {
        assert_eq!(suggest_toml_key("tpye"), Some("type"));
        assert_eq!(suggest_toml_key("Cookie_Name"), Some("cookie_name"));
        assert_eq!(suggest_toml_key("SESSION_TYPE"), Some("type"));
        assert_eq!(suggest_toml_key("session_id_length"), Some("id_length"));
        assert_eq!(
            suggest_toml_key("cookie_same_site"),
            Some("cookie_samesite")
        );
        assert_eq!(suggest_toml_key("completely_different"), None);
        assert_eq!(suggest_flattened("cookie", &["name"]), Some("cookie_name"));
    }

    #[test]
    fn env_near_misses() {
        assert_eq!(near_miss_env("SESSION_TPYE"), Some("SESSION_TYPE"));
        assert_eq!(near_miss_env("session_type"), Some("SESSION_TYPE"));
        assert_eq!(near_miss_env("SECRET_KY"), Some("SECRET_KEY"));
        assert_eq!(near_miss_env("SESSION_CONFG"), Some("SESSION_CONFIG"));
        assert_eq!(near_miss_env("SESSION_MANAGER"), None);
        assert_eq!(near_miss_env("SESSION_TYPE"), None);
        assert_eq!(near_miss_env("SESSION_CONFIG"), None);
        assert_eq!(near_miss_env("PATH"), None);
        assert_eq!(near_miss_env("XDG_SESSION_TYPE"), None);
    }
}
