//! The settings in effect after a load, one line per key with its source: what
//! `sessionctl check` prints. Values are rendered from the validated
//! [`Settings`], not from what a source gave, so a default shows its value too.

use std::time::Duration;

use toml::Value;

use crate::keys::Key;
use crate::loader::LoadReport;
use crate::redact::{redact_value, REDACTED};
use crate::settings::{ConnectionUrl, Settings};
use crate::source::Origin;

/// One setting as in effect: its key, its value (secrets and URL passwords
/// redacted) and the source it came from.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct EffectiveSetting {
    /// The setting.
    pub key: Key,
    /// Its value as it would be written in `Session.toml` (durations in
    /// seconds, the file mode as an octal string), redacted; `None` when the
    /// setting is unset (an optional value that is off).
    pub value: Option<Value>,
    /// Where the value came from.
    pub origin: Origin,
}

impl EffectiveSetting {
    /// The value for a message or a listing: TOML syntax, or `none` when unset.
    pub fn shown(&self) -> String {
        match &self.value {
            None => "none".to_owned(),
            Some(Value::String(s)) => format!("{s:?}"),
            Some(other) => other.to_string(),
        }
    }
}

impl LoadReport {
    /// Every setting in effect, in [`Key::ALL`] order, each with its source.
    /// Secrets are shown as `<redacted>` and URL passwords as `***`.
    pub fn effective(&self) -> Vec<EffectiveSetting> {
        Key::ALL
            .iter()
            .map(|&key| EffectiveSetting {
                key,
                value: value_of(&self.settings, key),
                origin: self.provenance.origin(key).clone(),
            })
            .collect()
    }
}

fn text(s: &str) -> Option<Value> {
    Some(Value::String(redact_value(s)))
}

fn url(u: &ConnectionUrl) -> Value {
    Value::String(u.redacted())
}

fn seconds(d: Duration) -> Value {
    if d.subsec_nanos() == 0 {
        i64::try_from(d.as_secs()).map_or_else(|_| Value::Float(d.as_secs_f64()), Value::Integer)
    } else {
        Value::Float(d.as_secs_f64())
    }
}

fn count(n: u64) -> Value {
    i64::try_from(n).map_or_else(|_| Value::String(n.to_string()), Value::Integer)
}

fn size(n: usize) -> Value {
    count(u64::try_from(n).unwrap_or(u64::MAX))
}

fn list<'a>(items: impl Iterator<Item = &'a str>) -> Value {
    Value::Array(items.map(|s| Value::String(redact_value(s))).collect())
}

/// The value of `key` in `s`, as `Session.toml` would spell it, redacted.
fn value_of(s: &Settings, key: Key) -> Option<Value> {
    let c = &s.cookie;
    match key {
        Key::Type => text(s.session_type.as_str()),
        Key::Permanent => Some(Value::Boolean(s.permanent)),
        Key::UseSigner => Some(Value::Boolean(s.use_signer)),
        Key::KeyPrefix => text(&s.key_prefix),
        Key::IdLength => Some(size(s.id_length.get())),
        Key::SerializationFormat => text(s.serialization_format.as_str()),
        Key::RefreshEachRequest => Some(Value::Boolean(s.refresh_each_request)),
        Key::CleanupNRequests => s.cleanup_n_requests.map(|n| count(n.into())),
        Key::PermanentSessionLifetime => Some(seconds(s.permanent_session_lifetime)),
        Key::SecretKey => s.secret_key.as_ref().and_then(|_| text(REDACTED)),
        Key::SecretKeyFallbacks => Some(list(s.secret_key_fallbacks.iter().map(|_| REDACTED))),
        Key::CookieName => text(&c.name),
        Key::CookieDomain => c.domain.as_deref().and_then(text),
        Key::CookiePath => text(&c.path),
        Key::CookieHttpOnly => Some(Value::Boolean(c.http_only)),
        Key::CookieSecure => Some(Value::Boolean(c.secure)),
        Key::CookieSameSite => c.same_site.and_then(|v| text(v.as_str())),
        Key::CookiePartitioned => Some(Value::Boolean(c.partitioned)),
        Key::Redis => Some(Value::Array(s.redis.iter().map(url).collect())),
        Key::RedisSentinels => Some(Value::Array(s.redis_sentinels.iter().map(url).collect())),
        Key::RedisSentinelMaster => s.redis_sentinel_master.as_deref().and_then(text),
        Key::RedisSentinelPassword => s
            .redis_sentinel_password
            .as_ref()
            .and_then(|_| text(REDACTED)),
        Key::RedisSentinelMasterPassword => s
            .redis_sentinel_master_password
            .as_ref()
            .and_then(|_| text(REDACTED)),
        Key::Memcached => Some(list(s.memcached.iter().map(String::as_str))),
        Key::FileDir => text(&s.file_dir.to_string_lossy()),
        Key::FileThreshold => Some(size(s.file_threshold)),
        Key::FileMode => text(&s.file_mode.to_string()),
        Key::WhenFull => text(s.when_full.as_str()),
        Key::MongoDb => Some(url(&s.mongodb)),
        Key::MongoDbDb => text(&s.mongodb_db),
        Key::MongoDbCollect => text(&s.mongodb_collect),
        Key::SqlAlchemy => Some(url(&s.sqlalchemy)),
        Key::SqlAlchemyTable => text(s.sqlalchemy_table.as_str()),
        Key::SqlAlchemySequence => s
            .sqlalchemy_sequence
            .as_ref()
            .and_then(|i| text(i.as_str())),
        Key::SqlAlchemySchema => s.sqlalchemy_schema.as_ref().and_then(|i| text(i.as_str())),
        Key::SqlAlchemyBindKey => s.sqlalchemy_bind_key.as_deref().and_then(text),
        Key::SqlAlchemyBinds => Some(Value::Table(
            s.sqlalchemy_binds
                .iter()
                .map(|(name, u)| (name.clone(), url(u)))
                .collect(),
        )),
        Key::SqlAlchemyCreateTable => Some(Value::Boolean(s.sqlalchemy_create_table)),
        Key::CleanupInterval => s.cleanup_interval.map(seconds),
        Key::RefreshThreshold => Some(Value::Float(s.refresh_threshold)),
        Key::MaxSessionBytes => Some(size(s.max_session_bytes)),
        Key::WriteMode => text(s.write_mode.as_str()),
        Key::OwnerKey => text(&s.owner_key),
        Key::AbsoluteLifetime => s.absolute_lifetime.map(seconds),
        Key::HeaderName => s.header_name.as_deref().and_then(text),
        Key::ConnectTimeout => Some(seconds(s.connect_timeout)),
        Key::OperationTimeout => Some(seconds(s.operation_timeout)),
        Key::PoolSize => s.pool_size.map(|n| count(n.into())),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn every_key_once_and_secrets_redacted() {
        let report = Settings::builder()
            .env_from([
                ("SECRET_KEY", "a-very-secret-key-of-enough-length!!"),
                ("SECRET_KEY_FALLBACKS", "old-secret"),
                ("SESSION_SQLALCHEMY", "postgres://u:hunter2@db/app"),
                ("SESSION_FILE_MODE", "0640"),
                (
                    "SESSION_REDIS_SENTINELS",
                    "redis://:sentinel-url-pw@s1:26379",
                ),
                ("SESSION_REDIS_SENTINEL_MASTER", "mymaster"),
                ("SESSION_REDIS_SENTINEL_PASSWORD", "sentinel-pw"),
                ("SESSION_REDIS_SENTINEL_MASTER_PASSWORD", "master-pw"),
            ])
            .build_report()
            .unwrap();
        let all = report.effective();
        assert_eq!(all.len(), Key::ALL.len());
        let listing = format!("{all:?}");
        for secret in [
            "a-very-secret",
            "old-secret",
            "hunter2",
            "sentinel-url-pw",
            "sentinel-pw",
            "master-pw",
        ] {
            assert!(!listing.contains(secret), "{secret} shown: {listing}");
        }
        let find = |key| all.iter().find(|e| e.key == key).unwrap();
        assert_eq!(find(Key::SecretKey).shown(), "\"<redacted>\"");
        assert_eq!(find(Key::SqlAlchemy).shown(), "\"postgres://u:***@db/app\"");
        assert_eq!(find(Key::FileMode).shown(), "\"0640\"");
        assert_eq!(
            find(Key::FileMode).origin,
            Origin::Env("SESSION_FILE_MODE".into())
        );
        assert_eq!(find(Key::IdLength).shown(), "32");
        assert_eq!(find(Key::IdLength).origin, Origin::Default);
        assert_eq!(find(Key::CookieDomain).shown(), "none");
        assert_eq!(find(Key::RedisSentinelMaster).shown(), "\"mymaster\"");
        assert_eq!(find(Key::RedisSentinelPassword).shown(), "\"<redacted>\"");
        assert_eq!(
            find(Key::RedisSentinelMasterPassword).shown(),
            "\"<redacted>\""
        );
        assert_eq!(
            find(Key::RedisSentinels).shown(),
            "[\"redis://:***@s1:26379\"]"
        );
    }
}
