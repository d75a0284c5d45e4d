//! Validation of a parsed `Settings`: one-key rules ([`ConfigError::Invalid`]), cross-key
//! rules ([`ConfigError::Rule`]) and warnings.
//!
//! Not checked here, on purpose: that `sqlalchemy_bind_key` names an entry of
//! `sqlalchemy_binds`. The app may register a pool under that name in code, which only
//! the `session` crate can see.

use std::time::Duration;

use crate::error::{ConfigError, ConfigWarning, RuleKind};
use crate::keys::Key;
use crate::settings::{SameSite, SessionType, Settings};
use crate::source::Provenance;
use crate::value_shapes::{
    reserved_header_name, valid_cookie_name, valid_domain, valid_header_name, valid_host_port,
    valid_mongo_db, valid_mongo_url, valid_redis_url, valid_sentinel_url, valid_sql_url,
};
use crate::values::{render_str, MAX_DURATION_SECS};

/// The longest `connect_timeout` or `operation_timeout`: `i32::MAX`
/// milliseconds, about 24.8 days, the most a backend's timeout field holds.
const MAX_TIMEOUT: Duration = Duration::from_millis(i32::MAX as u64);

/// The largest `pool_size`, far above any server's connection limit.
const MAX_POOL_SIZE: u32 = 10_000;

/// memcached's key limit, in bytes: a `key_prefix` plus a sid must fit it,
/// and the memcached store checks every key against it.
pub const MEMCACHED_MAX_KEY: usize = 250;
/// Flask-Session's `session_id` column, `String(255)`, in characters: a
/// `key_prefix` plus a sid must fit it, and the SQL store reports it.
pub const SQL_MAX_KEY: usize = 255;
/// Shorter secrets than this log a warning.
pub(crate) const MIN_SECRET_BYTES: usize = 32;

const REDIS_URL: &str = "a Redis URL: redis://host[:port][/db], rediss://host[:port][/db], redis+unix:///path or unix:///path";
const SENTINEL_URL: &str =
    "a Sentinel URL: redis://host:port or rediss://host:port (the Sentinel's own port, often 26379)";
const MEMCACHED_SERVER: &str = "a memcached server as host:port, such as 127.0.0.1:11211";
const MONGO_URL: &str = "a MongoDB URL: mongodb://host[:port][,host[:port]…][/db][?options] or mongodb+srv://host[/db][?options]";
const SQL_URL: &str =
    "a database URL: postgres://…, postgresql://…, mysql://…, mariadb://… or sqlite:…";
const COOKIE_NAME: &str = "a non-empty cookie name of ASCII letters, digits and !#$%&'*+-.^_`|~ (no spaces, quotes, control characters or ()<>@,;:\\/[]?={})";
const HEADER_NAME: &str = "an HTTP header name of ASCII letters, digits and !#$%&'*+-.^_`|~ (no spaces, quotes, control characters or ()<>@,;:\\/[]?={}), such as X-Session-Id, or an empty string for none";
const RESERVED_HEADER: &str = "a header name of the app's own, such as X-Session-Id, or an empty string for none: not one that HTTP, cookies, CORS or proxies already use (Cookie, Set-Cookie, Vary, Authorization, Host, Content-Type, Content-Length, Content-Encoding, Origin, Proxy-*, Sec-*, Access-Control-*, …), which a browser would refuse to send or the response would garble";

/// Checks everything; returns the warnings (not logged here).
pub(crate) fn check(
    s: &Settings, prov: &Provenance, release: bool,
) -> Result<Vec<ConfigWarning>, ConfigError> {
    let v = Checker { s, prov };
    v.durations()?;
    v.numbers()?;
    v.files()?;
    v.cookie()?;
    v.owner_key()?;
    v.header()?;
    v.backends()?;
    v.cross_key()?;
    Ok(v.warnings(release))
}

struct Checker<'a> {
    s: &'a Settings,
    prov: &'a Provenance,
}

impl Checker<'_> {
    /// The value of `key` as given, or `typed` rendered when it is a default.
    fn shown(&self, key: Key, typed: impl FnOnce() -> String) -> String {
        self.prov.shown(key).map_or_else(typed, str::to_owned)
    }

    /// `cookie_secure (default)`: a key as spelled in its source, with the source.
    fn other(&self, key: Key) -> String {
        format!("{} ({})", self.prov.key_name(key), self.prov.origin(key))
    }

    fn invalid(&self, key: Key, value: String, expected: impl Into<String>) -> ConfigError {
        let origin = self.prov.origin(key).clone();
        ConfigError::Invalid {
            setting: key,
            key: origin.key_name(key),
            origin,
            value,
            expected: expected.into(),
        }
    }

    /// An `Invalid` error quoting the whole value of `key`.
    fn invalid_whole(
        &self, key: Key, typed: impl FnOnce() -> String, expected: impl Into<String>,
    ) -> ConfigError {
        let value = self.shown(key, typed);
        self.invalid(key, value, expected)
    }

    fn rule(
        &self, rule: RuleKind, key: Key, typed: impl FnOnce() -> String, expected: String,
    ) -> ConfigError {
        let origin = self.prov.origin(key).clone();
        ConfigError::Rule {
            rule,
            setting: key,
            key: origin.key_name(key),
            origin,
            value: self.shown(key, typed),
            expected,
        }
    }

    fn durations(&self) -> Result<(), ConfigError> {
        let s = self.s;
        let positive = [
            (Key::PermanentSessionLifetime, s.permanent_session_lifetime),
            (Key::ConnectTimeout, s.connect_timeout),
            (Key::OperationTimeout, s.operation_timeout),
        ];
        let optional = [
            (Key::CleanupInterval, s.cleanup_interval),
            (Key::AbsoluteLifetime, s.absolute_lifetime),
        ];
        let longest = Duration::from_secs(MAX_DURATION_SECS);
        let bounded = positive
            .iter()
            .copied()
            .chain(optional.iter().filter_map(|(k, d)| d.map(|d| (*k, d))));
        for (key, d) in bounded {
            // Settings built in code skip the parser's bound; a longer one
            // would overflow `now + d` or put a cookie's date past year 9999.
            if d > longest {
                return Err(self.invalid_whole(
                    key,
                    || show_duration(d),
                    "a duration of at most 100 years",
                ));
            }
        }
        for (key, d) in [
            (Key::ConnectTimeout, s.connect_timeout),
            (Key::OperationTimeout, s.operation_timeout),
        ] {
            // Backends take timeouts as signed 32-bit milliseconds (SQLite's
            // busy timeout, PostgreSQL's statement_timeout): a longer one
            // would fail every connection, or panic in the driver.
            if d > MAX_TIMEOUT {
                return Err(self.invalid_whole(
                    key,
                    || show_duration(d),
                    "a duration of at most 24 days, such as \"2s\"",
                ));
            }
        }
        for (key, d) in positive {
            if d.is_zero() {
                return Err(self.invalid_whole(
                    key,
                    || show_duration(d),
                    "a duration greater than zero, such as \"31d\", \"2s\" or \"500ms\"",
                ));
            }
        }
        for (key, d) in optional {
            if let Some(d) = d.filter(|d| d.is_zero()) {
                return Err(self.invalid_whole(
                    key,
                    || show_duration(d),
                    "a duration greater than zero, or an empty string for none",
                ));
            }
        }
        Ok(())
    }

    fn numbers(&self) -> Result<(), ConfigError> {
        let s = self.s;
        for (key, n, max) in [
            (Key::CleanupNRequests, s.cleanup_n_requests, u32::MAX),
            // Pools allocate a slot per connection up front: a size beyond
            // any server's connection limit would only exhaust memory.
            (Key::PoolSize, s.pool_size, MAX_POOL_SIZE),
        ] {
            if let Some(n) = n.filter(|n| !(1..=max).contains(n)) {
                return Err(self.invalid_whole(
                    key,
                    || n.to_string(),
                    format!("an integer from 1 to {max}, or an empty string for none"),
                ));
            }
        }
        if !(0.0..=1.0).contains(&s.refresh_threshold) {
            return Err(self.invalid_whole(
                Key::RefreshThreshold,
                || s.refresh_threshold.to_string(),
                "a number from 0.0 to 1.0 (the share of the TTL that may remain before a touch is written)",
            ));
        }
        if s.max_session_bytes == 0 {
            return Err(self.invalid_whole(
                Key::MaxSessionBytes,
                || "0".to_owned(),
                "a size in bytes greater than 0, such as 65536",
            ));
        }
        Ok(())
    }

    fn files(&self) -> Result<(), ConfigError> {
        let s = self.s;
        if s.file_dir.as_os_str().is_empty() {
            return Err(self.invalid_whole(Key::FileDir, || "\"\"".to_owned(), "a non-empty path"));
        }
        let mode = s.file_mode.get();
        if mode & 0o600 != 0o600 {
            return Err(self.invalid_whole(
                Key::FileMode,
                || s.file_mode.to_string(),
                "a file mode that lets the owner read and write, such as \"0600\"",
            ));
        }
        Ok(())
    }

    fn cookie(&self) -> Result<(), ConfigError> {
        let c = &self.s.cookie;
        if !valid_cookie_name(&c.name) {
            return Err(self.invalid_whole(
                Key::CookieName,
                || render_str(Key::CookieName, &c.name),
                COOKIE_NAME,
            ));
        }
        if !c.path.starts_with('/') || c.path.chars().any(|ch| ch == ';' || ch.is_control()) {
            return Err(self.invalid_whole(
                Key::CookiePath,
                || render_str(Key::CookiePath, &c.path),
                "a path that starts with \"/\", without \";\" or control characters",
            ));
        }
        if let Some(domain) = &c.domain {
            if !valid_domain(domain) {
                return Err(self.invalid_whole(
                    Key::CookieDomain,
                    || render_str(Key::CookieDomain, domain),
                    "a domain name such as example.com or .example.com (ASCII letters, digits, dots and hyphens), or an empty string for none",
                ));
            }
        }
        Ok(())
    }

    /// The owner's key is a session key of its own: not empty, and not one
    /// the framework keeps for itself.
    fn owner_key(&self) -> Result<(), ConfigError> {
        let key = &self.s.owner_key;
        if key.is_empty() || matches!(key.as_str(), "_permanent" | "_created" | "_owner_indexed") {
            return Err(self.invalid_whole(
                Key::OwnerKey,
                || render_str(Key::OwnerKey, key),
                "a session key such as \"_user_id\" (not empty, and not _permanent, _created or _owner_indexed, which the framework keeps)",
            ));
        }
        Ok(())
    }

    /// `header_name`: a header of the app's own, that a browser may send.
    fn header(&self) -> Result<(), ConfigError> {
        let Some(name) = &self.s.header_name else {
            return Ok(());
        };
        let shown = || render_str(Key::HeaderName, name);
        if !valid_header_name(name) {
            return Err(self.invalid_whole(Key::HeaderName, shown, HEADER_NAME));
        }
        if reserved_header_name(name) {
            return Err(self.invalid_whole(Key::HeaderName, shown, RESERVED_HEADER));
        }
        Ok(())
    }

    fn backends(&self) -> Result<(), ConfigError> {
        let s = self.s;
        if s.redis.is_empty() {
            return Err(self.invalid_whole(
                Key::Redis,
                || "[]".to_owned(),
                "at least one Redis URL",
            ));
        }
        if let Some(bad) = s.redis.iter().find(|u| !valid_redis_url(u.as_str())) {
            let shown = render_str(Key::Redis, bad.as_str());
            return Err(self.invalid(Key::Redis, shown, REDIS_URL));
        }
        if let Some(bad) = s
            .redis_sentinels
            .iter()
            .find(|u| !valid_sentinel_url(u.as_str()))
        {
            let shown = render_str(Key::RedisSentinels, bad.as_str());
            return Err(self.invalid(Key::RedisSentinels, shown, SENTINEL_URL));
        }
        if s.memcached.is_empty() {
            return Err(self.invalid_whole(
                Key::Memcached,
                || "[]".to_owned(),
                "at least one memcached server as host:port",
            ));
        }
        if let Some(bad) = s.memcached.iter().find(|m| !valid_host_port(m, true)) {
            let shown = render_str(Key::Memcached, bad);
            return Err(self.invalid(Key::Memcached, shown, MEMCACHED_SERVER));
        }
        if !valid_mongo_url(s.mongodb.as_str()) {
            return Err(self.invalid_whole(
                Key::MongoDb,
                || render_str(Key::MongoDb, s.mongodb.as_str()),
                MONGO_URL,
            ));
        }
        if !valid_mongo_db(&s.mongodb_db) {
            return Err(self.invalid_whole(
                Key::MongoDbDb,
                || render_str(Key::MongoDbDb, &s.mongodb_db),
                "a MongoDB database name: 1 to 63 bytes, without /\\. \"$*<>:|? or NUL",
            ));
        }
        let coll = &s.mongodb_collect;
        if coll.is_empty()
            || coll.contains(['$', '\0'])
            || coll.starts_with("system.")
            || coll.len() > 255
        {
            return Err(self.invalid_whole(
                Key::MongoDbCollect,
                || render_str(Key::MongoDbCollect, coll),
                "a MongoDB collection name: 1 to 255 bytes, without $ or NUL, not starting with \"system.\"",
            ));
        }
        if !valid_sql_url(s.sqlalchemy.as_str()) {
            return Err(self.invalid_whole(
                Key::SqlAlchemy,
                || render_str(Key::SqlAlchemy, s.sqlalchemy.as_str()),
                SQL_URL,
            ));
        }
        for (name, url) in &s.sqlalchemy_binds {
            if name.is_empty() || !valid_sql_url(url.as_str()) {
                let shown = format!(
                    "{} = {}",
                    render_str(Key::SqlAlchemyBinds, name),
                    render_str(Key::SqlAlchemyBinds, url.as_str())
                );
                return Err(self.invalid(
                    Key::SqlAlchemyBinds,
                    shown,
                    format!("a non-empty bind name and {SQL_URL}"),
                ));
            }
        }
        Ok(())
    }

    fn cross_key(&self) -> Result<(), ConfigError> {
        let s = self.s;
        let c = &s.cookie;
        let yes = || "true".to_owned();

        if s.use_signer && s.secret_key.is_none() {
            let secret = match self.prov.shown(Key::SecretKey) {
                Some(_) => format!("{} is empty", self.other(Key::SecretKey)),
                None => "it is not set".to_owned(),
            };
            return Err(self.rule(
                RuleKind::SignerWithoutSecret,
                Key::UseSigner,
                yes,
                format!("a secret key to sign with: set SECRET_KEY (secret_key in Session.toml) when signing is on; {secret}"),
            ));
        }
        if c.same_site == Some(SameSite::None) && !c.secure {
            return Err(self.rule(
                RuleKind::SameSiteNoneWithoutSecure,
                Key::CookieSameSite,
                || "\"None\"".to_owned(),
                format!(
                    "{} to be true as well: browsers reject SameSite=None cookies without Secure",
                    self.other(Key::CookieSecure)
                ),
            ));
        }
        if c.partitioned && !c.secure {
            return Err(self.rule(
                RuleKind::PartitionedWithoutSecure,
                Key::CookiePartitioned,
                yes,
                format!(
                    "{} to be true as well: browsers reject Partitioned cookies without Secure",
                    self.other(Key::CookieSecure)
                ),
            ));
        }
        let name = || render_str(Key::CookieName, &c.name);
        if has_prefix(&c.name, "__Host-") {
            let problem = if !c.secure {
                Some(format!("{} to be true", self.other(Key::CookieSecure)))
            } else if c.path != "/" {
                Some(format!(
                    "{} to be \"/\" (it is {})",
                    self.other(Key::CookiePath),
                    render_str(Key::CookiePath, &c.path)
                ))
            } else {
                c.domain.as_ref().map(|d| {
                    format!(
                        "no {} (it is {})",
                        self.other(Key::CookieDomain),
                        render_str(Key::CookieDomain, d)
                    )
                })
            };
            if let Some(problem) = problem {
                return Err(self.rule(
                    RuleKind::HostPrefix,
                    Key::CookieName,
                    name,
                    format!(
                        "{problem}: a __Host- cookie must be Secure, with Path=/ and no Domain"
                    ),
                ));
            }
        }
        if has_prefix(&c.name, "__Secure-") && !c.secure {
            return Err(self.rule(
                RuleKind::SecurePrefix,
                Key::CookieName,
                name,
                format!(
                    "{} to be true: a __Secure- cookie must be Secure",
                    self.other(Key::CookieSecure)
                ),
            ));
        }
        self.sentinel_master()?;
        self.key_prefix()
    }

    /// Sentinels are asked for a master by name: the two keys go together.
    fn sentinel_master(&self) -> Result<(), ConfigError> {
        let s = self.s;
        let master = s.redis_sentinel_master.as_deref().map(str::trim);
        match (s.redis_sentinels.is_empty(), master) {
            (false, None | Some("")) => Err(self.rule(
                RuleKind::SentinelWithoutMaster,
                Key::RedisSentinels,
                || {
                    let urls: Vec<String> = s
                        .redis_sentinels
                        .iter()
                        .map(|u| render_str(Key::RedisSentinels, u.as_str()))
                        .collect();
                    format!("[{}]", urls.join(", "))
                },
                format!(
                    "{} to name the master the Sentinels watch (their `sentinel monitor <name> …`); it is not set or empty",
                    self.other(Key::RedisSentinelMaster)
                ),
            )),
            (true, Some(name)) => Err(self.rule(
                RuleKind::SentinelWithoutMaster,
                Key::RedisSentinelMaster,
                || render_str(Key::RedisSentinelMaster, name),
                format!(
                    "{} to list the Sentinels to ask for this master; it is empty",
                    self.other(Key::RedisSentinels)
                ),
            )),
            _ => Ok(()),
        }
    }

    fn key_prefix(&self) -> Result<(), ConfigError> {
        let s = self.s;
        let prefix = || render_str(Key::KeyPrefix, &s.key_prefix);
        let sid = s.id_length.sid_chars();
        let id = format!(
            "a session id of {} bytes ({}) is {sid} characters",
            s.id_length.get(),
            self.other(Key::IdLength)
        );
        match s.session_type {
            SessionType::Memcached => {
                if s.key_prefix
                    .chars()
                    .any(|c| c.is_whitespace() || c.is_control())
                {
                    return Err(self.rule(
                        RuleKind::MemcachedKeyCharacters,
                        Key::KeyPrefix,
                        prefix,
                        format!(
                            "a prefix without spaces or control characters, which memcached keys cannot hold ({} is memcached)",
                            self.other(Key::Type)
                        ),
                    ));
                }
                let len = s.key_prefix.len();
                if len + sid > MEMCACHED_MAX_KEY {
                    return Err(self.rule(
                        RuleKind::KeyTooLong,
                        Key::KeyPrefix,
                        prefix,
                        format!(
                            "a prefix of at most {} bytes (it is {len}): memcached keys hold {MEMCACHED_MAX_KEY} bytes and {id}",
                            MEMCACHED_MAX_KEY.saturating_sub(sid)
                        ),
                    ));
                }
            }
            SessionType::SqlAlchemy => {
                let len = s.key_prefix.chars().count();
                if len + sid > SQL_MAX_KEY {
                    return Err(self.rule(
                        RuleKind::KeyTooLong,
                        Key::KeyPrefix,
                        prefix,
                        format!(
                            "a prefix of at most {} characters (it is {len}): the SQL session_id column holds {SQL_MAX_KEY} and {id}",
                            SQL_MAX_KEY.saturating_sub(sid)
                        ),
                    ));
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn warnings(&self, release: bool) -> Vec<ConfigWarning> {
        let s = self.s;
        let mut out = Vec::new();
        if let Some(secret) = &s.secret_key {
            let len = secret.expose().len();
            if len < MIN_SECRET_BYTES {
                out.push(ConfigWarning::ShortSecret {
                    key: self.prov.key_name(Key::SecretKey),
                    origin: self.prov.origin(Key::SecretKey).clone(),
                    len,
                });
            }
        }
        for (i, secret) in s.secret_key_fallbacks.iter().enumerate() {
            let len = secret.expose().len();
            if len < MIN_SECRET_BYTES {
                out.push(ConfigWarning::ShortSecret {
                    key: format!("{}[{i}]", self.prov.key_name(Key::SecretKeyFallbacks)),
                    origin: self.prov.origin(Key::SecretKeyFallbacks).clone(),
                    len,
                });
            }
        }
        if release && !s.cookie.secure && s.session_type != SessionType::Null {
            out.push(ConfigWarning::InsecureCookie {
                key: self.prov.key_name(Key::CookieSecure),
                origin: self.prov.origin(Key::CookieSecure).clone(),
            });
        }
        out
    }
}

fn show_duration(d: Duration) -> String {
    format!("{}s", d.as_secs_f64())
}

/// Cookie name prefixes match case-insensitively, as browsers now do (RFC 6265bis).
fn has_prefix(name: &str, prefix: &str) -> bool {
    name.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_names() {
        assert!(valid_cookie_name("session"));
        assert!(valid_cookie_name("__Host-sid"));
        assert!(valid_cookie_name("a!#$%&'*+-.^_`|~"));
        for bad in ["", "a b", "a;b", "a=b", "a\"b", "é", "a\tb", "a,b", "(x)"] {
            assert!(!valid_cookie_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn header_names() {
        for ok in [
            "X-Session-Id",
            "x-session-id",
            "Session",
            "X-Auth-Token",
            "a!#$%&'*+-.^_`|~",
        ] {
            assert!(valid_header_name(ok), "{ok:?}");
            assert!(!reserved_header_name(ok), "{ok:?}");
        }
        for bad in [
            "",
            "X Session",
            "X-Session:",
            "é",
            "a\tb",
            "(x)",
            "a,b",
            "x\r\ny",
        ] {
            assert!(!valid_header_name(bad), "{bad:?}");
        }
        for reserved in [
            "Cookie",
            "COOKIE",
            "set-cookie",
            "Set-Cookie2",
            "Vary",
            "Authorization",
            "Host",
            "Content-Length",
            "Transfer-Encoding",
            "Proxy-Session",
            "Sec-Session",
            "Access-Control-Expose-Headers",
        ] {
            assert!(valid_header_name(reserved), "{reserved:?}");
            assert!(reserved_header_name(reserved), "{reserved:?}");
        }
    }

    #[test]
    fn urls() {
        for ok in [
            "redis://127.0.0.1:6379",
            "redis://:pw@host/0",
            "rediss://user:pw@host:6380",
            "redis+unix:///tmp/redis.sock",
            "unix:///tmp/redis.sock",
        ] {
            assert!(valid_redis_url(ok), "{ok}");
        }
        for bad in [
            "http://x",
            "redis://",
            "redis:x",
            "127.0.0.1:6379",
            "redis://h:99999",
            "",
        ] {
            assert!(!valid_redis_url(bad), "{bad}");
        }
        for ok in [
            "mongodb://127.0.0.1:27017",
            "mongodb://u:p@h1:1,h2:2/db?replicaSet=rs",
            "mongodb://[::1]:27017",
            "mongodb+srv://cluster.example.com/db",
        ] {
            assert!(valid_mongo_url(ok), "{ok}");
        }
        for bad in [
            "mongodb://",
            "mongo://h",
            "mongodb://h:x",
            "mongodb+srv://h:1",
            "mongodb://h1,,h2",
        ] {
            assert!(!valid_mongo_url(bad), "{bad}");
        }
        for ok in [
            "sqlite://flask_session.db?mode=rwc",
            "sqlite::memory:",
            "postgres://u:p@localhost/db",
            "postgresql://localhost:5432/test",
            "mysql://root@127.0.0.1:3306/test",
            "mariadb://root@127.0.0.1/test",
        ] {
            assert!(valid_sql_url(ok), "{ok}");
        }
        for bad in [
            "sqlite:",
            "sqlite://",
            "postgresql+psycopg2://h/db",
            "oracle://h",
            "postgres://h:bad/db",
        ] {
            assert!(!valid_sql_url(bad), "{bad}");
        }
    }

    #[test]
    fn host_ports() {
        assert!(valid_host_port("127.0.0.1:11211", true));
        assert!(valid_host_port("cache.local:11211", true));
        assert!(valid_host_port("[::1]:11211", true));
        for bad in [
            "127.0.0.1",
            ":11211",
            "h:0",
            "h:70000",
            "h:1:2",
            "[::1]",
            "a b:1",
            "",
        ] {
            assert!(!valid_host_port(bad, true), "{bad}");
        }
    }
}
