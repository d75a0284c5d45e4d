//! Value syntax, the same for the file, the environment and code (the README's configuration section).
//!
//! Every source is reduced to a `toml::Value`: the environment gives strings, a file gives
//! any TOML value. A string is always read with the environment syntax, so
//! `id_length = "48"`, `permanent = "yes"` or `redis = "redis://a,redis://b"` work in the
//! file too.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use toml::Value;

use crate::keys::Key;
pub(crate) use crate::render::{render, render_str};
use crate::settings::{
    ConnectionUrl, FileMode, IdLength, SameSite, Secret, SerializationFormat, SessionType,
    Settings, SqlIdentifier, WhenFull, WriteMode,
};

/// The longest duration accepted anywhere: 100 years, so that `now + duration` never
/// overflows downstream.
pub(crate) const MAX_DURATION_SECS: u64 = 100 * 366 * 24 * 60 * 60;

/// A value that was rejected: what was expected, and optionally the part of the value at
/// fault (a list element), already rendered.
#[derive(Debug)]
pub(crate) struct Bad {
    pub(crate) expected: String,
    pub(crate) shown: Option<String>,
}

impl Bad {
    fn new(expected: impl Into<String>) -> Self {
        Bad {
            expected: expected.into(),
            shown: None,
        }
    }

    fn at(key: Key, element: &Value, expected: impl Into<String>) -> Self {
        Bad {
            expected: expected.into(),
            shown: Some(render(key, element)),
        }
    }
}

// ---- expected texts ----------------------------------------------------------------

const BOOL: &str = "a boolean: true/false, 1/0, yes/no or on/off";
const DURATION: &str = "a duration: whole seconds, or a number with an ms, s, m, h or d suffix (such as \"90s\", \"30m\", \"31d\"), at most 100 years";
const OPT_DURATION: &str = "a duration: whole seconds, or a number with an ms, s, m, h or d suffix (such as \"90s\", \"30m\"), at most 100 years, or an empty string for none";
const STRING: &str = "a string";
const LIST: &str =
    "a list: a TOML array of strings, a comma-separated string, or a JSON array of strings";
const TYPE: &str =
    "one of null, memory, redis, memcached, filesystem, mongodb, sqlalchemy (or sql)";
const FORMAT: &str = "msgpack or json";
const WHEN_FULL: &str = "refuse (a new session past the limit is refused) or evict_oldest (the oldest session is evicted, as in Flask)";
const WRITE_MODE: &str =
    "merge (concurrent writes are merged key by key) or overwrite (last writer wins, as in Flask)";
const SAMESITE: &str = "Lax, Strict, None, or an empty string for no SameSite attribute";
const FILE_MODE: &str = "a file mode up to 0o777: \"0600\" or \"0o600\" (octal), or a bare number such as 384 (decimal, as in Flask)";
const SQL_IDENT: &str =
    "a SQL identifier: a letter or underscore, then up to 62 letters, digits or underscores";
const OPT_SQL_IDENT: &str = "a SQL identifier (a letter or underscore, then up to 62 letters, digits or underscores), or an empty string for none";
const BINDS: &str = "a table of bind name = database URL (in the environment: a JSON object such as {\"users\": \"postgres://host/db\"})";
const FLOAT: &str = "a number";
const PATH: &str = "a non-empty path";

fn text(v: &Value) -> Option<&str> {
    match v {
        Value::String(s) => Some(s),
        _ => None,
    }
}

fn parse_bool(v: &Value) -> Result<bool, Bad> {
    match v {
        Value::Boolean(b) => Ok(*b),
        Value::Integer(1) => Ok(true),
        Value::Integer(0) => Ok(false),
        Value::String(s) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" => Ok(false),
            _ => Err(Bad::new(BOOL)),
        },
        _ => Err(Bad::new(BOOL)),
    }
}

/// An unsigned integer in `min..=max`, from a TOML integer or a string of digits.
fn parse_uint(v: &Value, min: u64, max: u64) -> Result<u64, Bad> {
    let expected = || Bad::new(format!("an integer from {min} to {max}"));
    let n = match v {
        Value::Integer(i) => u64::try_from(*i).map_err(|_| expected())?,
        Value::String(s) => {
            let s = s.trim();
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(expected());
            }
            s.parse::<u64>().map_err(|_| expected())?
        }
        _ => return Err(expected()),
    };
    if (min..=max).contains(&n) {
        Ok(n)
    } else {
        Err(expected())
    }
}

/// Like [`parse_uint`], but an empty string means none.
fn parse_opt_uint(v: &Value, min: u64, max: u64) -> Result<Option<u64>, Bad> {
    if text(v).is_some_and(|s| s.trim().is_empty()) {
        return Ok(None);
    }
    parse_uint(v, min, max).map(Some).map_err(|b| {
        Bad::new(format!(
            "{}, or an empty string for none",
            b.expected.trim_end_matches('.')
        ))
    })
}

fn parse_f64(v: &Value) -> Result<f64, Bad> {
    let f = match v {
        Value::Float(f) => *f,
        // Integers up to 2^53 are exact; bigger ones are out of every range anyway.
        #[allow(clippy::cast_precision_loss)]
        Value::Integer(i) => *i as f64,
        Value::String(s) => {
            let s = s.trim();
            if s.is_empty()
                || !s
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
            {
                return Err(Bad::new(FLOAT));
            }
            s.parse::<f64>().map_err(|_| Bad::new(FLOAT))?
        }
        _ => return Err(Bad::new(FLOAT)),
    };
    if f.is_finite() {
        Ok(f)
    } else {
        Err(Bad::new(FLOAT))
    }
}

/// Seconds as a float into a `Duration`, within [`MAX_DURATION_SECS`].
fn secs_f64(secs: f64) -> Option<Duration> {
    #[allow(clippy::cast_precision_loss)]
    let max = MAX_DURATION_SECS as f64;
    if secs.is_finite() && (0.0..=max).contains(&secs) {
        Duration::try_from_secs_f64(secs).ok()
    } else {
        None
    }
}

/// `"90"`, `"90s"`, `"1.5h"`, `"500ms"`, `"31d"`, a TOML integer or float (seconds).
pub(crate) fn parse_duration_value(v: &Value) -> Option<Duration> {
    match v {
        Value::Integer(i) => u64::try_from(*i)
            .ok()
            .filter(|s| *s <= MAX_DURATION_SECS)
            .map(Duration::from_secs),
        Value::Float(f) => secs_f64(*f),
        Value::String(s) => parse_duration_str(s),
        _ => None,
    }
}

fn parse_duration_str(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (number, unit) = (&s[..split], s[split..].trim().to_ascii_lowercase());
    if number.is_empty() || number.starts_with('.') || number.ends_with('.') {
        return None;
    }
    if number.bytes().filter(|b| *b == b'.').count() > 1 {
        return None;
    }
    let (mul_ms, mul_s): (u64, u64) = match unit.as_str() {
        "ms" => (1, 0),
        "" | "s" => (0, 1),
        "m" => (0, 60),
        "h" => (0, 3600),
        "d" => (0, 86_400),
        _ => return None,
    };
    if let Ok(whole) = number.parse::<u64>() {
        // Exact integer arithmetic for the common case.
        let d = if mul_ms == 1 {
            Duration::from_millis(whole)
        } else {
            Duration::from_secs(whole.checked_mul(mul_s)?)
        };
        return (d.as_secs() <= MAX_DURATION_SECS).then_some(d);
    }
    let f: f64 = number.parse().ok()?;
    #[allow(clippy::cast_precision_loss)]
    let secs = if mul_ms == 1 {
        f / 1000.0
    } else {
        f * mul_s as f64
    };
    secs_f64(secs)
}

fn parse_duration(v: &Value) -> Result<Duration, Bad> {
    parse_duration_value(v).ok_or_else(|| Bad::new(DURATION))
}

fn parse_opt_duration(v: &Value) -> Result<Option<Duration>, Bad> {
    if text(v).is_some_and(|s| s.trim().is_empty()) {
        return Ok(None);
    }
    parse_duration_value(v)
        .map(Some)
        .ok_or_else(|| Bad::new(OPT_DURATION))
}

fn parse_string(v: &Value) -> Result<String, Bad> {
    text(v).map(str::to_owned).ok_or_else(|| Bad::new(STRING))
}

/// A string where empty means none.
fn parse_opt_string(v: &Value) -> Result<Option<String>, Bad> {
    let s = text(v).ok_or_else(|| Bad::new("a string, or an empty string for none"))?;
    Ok((!s.is_empty()).then(|| s.to_owned()))
}

/// A secret string where empty means none.
fn parse_opt_secret(v: &Value) -> Result<Option<Secret>, Bad> {
    let secret = text(v).ok_or_else(|| Bad::new(STRING))?;
    Ok((!secret.is_empty()).then(|| Secret::new(secret)))
}

/// A TOML array of strings; or a string: a JSON array of strings when it starts with `[`,
/// else comma-separated (items trimmed, empty items dropped).
fn parse_list(key: Key, v: &Value) -> Result<Vec<String>, Bad> {
    match v {
        Value::Array(items) => items
            .iter()
            .map(|item| {
                text(item)
                    .map(str::to_owned)
                    .ok_or_else(|| Bad::at(key, item, LIST))
            })
            .collect(),
        Value::String(s) if s.trim_start().starts_with('[') => {
            serde_json::from_str::<Vec<String>>(s.trim()).map_err(|_| Bad::new(LIST))
        }
        Value::String(s) => Ok(s
            .split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(str::to_owned)
            .collect()),
        _ => Err(Bad::new(LIST)),
    }
}

fn parse_session_type(v: &Value) -> Result<SessionType, Bad> {
    let s = text(v).ok_or_else(|| Bad::new(TYPE))?;
    Ok(match s.trim().to_ascii_lowercase().as_str() {
        "" | "null" => SessionType::Null,
        "memory" => SessionType::Memory,
        "redis" => SessionType::Redis,
        "memcached" => SessionType::Memcached,
        "filesystem" => SessionType::Filesystem,
        "mongodb" => SessionType::MongoDb,
        "sqlalchemy" | "sql" => SessionType::SqlAlchemy,
        _ => return Err(Bad::new(TYPE)),
    })
}

fn parse_format(v: &Value) -> Result<SerializationFormat, Bad> {
    let s = text(v).ok_or_else(|| Bad::new(FORMAT))?;
    match s.trim().to_ascii_lowercase().as_str() {
        "msgpack" => Ok(SerializationFormat::MsgPack),
        "json" => Ok(SerializationFormat::Json),
        _ => Err(Bad::new(FORMAT)),
    }
}

fn parse_when_full(v: &Value) -> Result<WhenFull, Bad> {
    let s = text(v).ok_or_else(|| Bad::new(WHEN_FULL))?;
    match s.trim().to_ascii_lowercase().as_str() {
        "refuse" => Ok(WhenFull::Refuse),
        "evict_oldest" => Ok(WhenFull::EvictOldest),
        _ => Err(Bad::new(WHEN_FULL)),
    }
}

fn parse_write_mode(v: &Value) -> Result<WriteMode, Bad> {
    let s = text(v).ok_or_else(|| Bad::new(WRITE_MODE))?;
    match s.trim().to_ascii_lowercase().as_str() {
        "merge" => Ok(WriteMode::Merge),
        "overwrite" => Ok(WriteMode::Overwrite),
        _ => Err(Bad::new(WRITE_MODE)),
    }
}

fn parse_same_site(v: &Value) -> Result<Option<SameSite>, Bad> {
    let s = text(v).ok_or_else(|| Bad::new(SAMESITE))?;
    match s.trim().to_ascii_lowercase().as_str() {
        "" => Ok(None),
        "lax" => Ok(Some(SameSite::Lax)),
        "strict" => Ok(Some(SameSite::Strict)),
        "none" => Ok(Some(SameSite::None)),
        _ => Err(Bad::new(SAMESITE)),
    }
}

/// `"0600"`/`"0o600"` octal, `"384"` decimal, a TOML integer (`0o600` or `384`) as is.
pub(crate) fn parse_file_mode(v: &Value) -> Result<FileMode, Bad> {
    let bad = || Bad::new(FILE_MODE);
    let n = match v {
        Value::Integer(i) => u32::try_from(*i).map_err(|_| bad())?,
        Value::String(s) => {
            let s = s.trim();
            let (digits, radix) = if let Some(rest) = s.strip_prefix("0o").or(s.strip_prefix("0O"))
            {
                (rest, 8)
            } else if s.len() > 1 && s.starts_with('0') {
                (&s[1..], 8)
            } else {
                (s, 10)
            };
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            u32::from_str_radix(digits, radix).map_err(|_| bad())?
        }
        _ => return Err(bad()),
    };
    FileMode::new(n).ok_or_else(bad)
}

fn parse_ident(v: &Value) -> Result<SqlIdentifier, Bad> {
    text(v)
        .and_then(SqlIdentifier::new)
        .ok_or_else(|| Bad::new(SQL_IDENT))
}

fn parse_opt_ident(v: &Value) -> Result<Option<SqlIdentifier>, Bad> {
    match text(v) {
        Some(s) if s.trim().is_empty() => Ok(None),
        Some(s) => SqlIdentifier::new(s)
            .map(Some)
            .ok_or_else(|| Bad::new(OPT_SQL_IDENT)),
        None => Err(Bad::new(OPT_SQL_IDENT)),
    }
}

fn parse_url(v: &Value) -> Result<ConnectionUrl, Bad> {
    text(v)
        .map(|s| ConnectionUrl::new(s.trim()))
        .ok_or_else(|| Bad::new("a URL string"))
}

fn parse_binds(key: Key, v: &Value) -> Result<BTreeMap<String, ConnectionUrl>, Bad> {
    match v {
        Value::Table(table) => table
            .iter()
            .map(|(name, url)| match url {
                Value::String(u) => Ok((name.clone(), ConnectionUrl::new(u.trim()))),
                other => Err(Bad::at(
                    key,
                    other,
                    format!("a database URL string for bind {name:?}"),
                )),
            })
            .collect(),
        Value::String(s) if s.trim().is_empty() => Ok(BTreeMap::new()),
        Value::String(s) => serde_json::from_str::<BTreeMap<String, String>>(s.trim())
            .map(|m| {
                m.into_iter()
                    .map(|(name, url)| (name, ConnectionUrl::new(url.trim())))
                    .collect()
            })
            .map_err(|_| Bad::new(BINDS)),
        _ => Err(Bad::new(BINDS)),
    }
}

fn parse_path(v: &Value) -> Result<PathBuf, Bad> {
    match text(v) {
        Some(s) if !s.trim().is_empty() => Ok(PathBuf::from(s)),
        _ => Err(Bad::new(PATH)),
    }
}

fn to_u32(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// Parses `value` as `key` and stores it in `settings`. Range rules that belong to one
/// key but not to its type (a lifetime above zero, …) are left to `validate`.
pub(crate) fn apply(settings: &mut Settings, key: Key, value: &Value) -> Result<(), Bad> {
    let s = settings;
    let u32_max = u64::from(u32::MAX);
    match key {
        Key::Type => s.session_type = parse_session_type(value)?,
        Key::Permanent => s.permanent = parse_bool(value)?,
        Key::UseSigner => s.use_signer = parse_bool(value)?,
        Key::KeyPrefix => s.key_prefix = parse_string(value)?,
        Key::IdLength => {
            let (min, max) = (IdLength::MIN as u64, IdLength::MAX as u64);
            let n = parse_uint(value, min, max)?;
            s.id_length = IdLength::new(to_usize(n))
                .ok_or_else(|| Bad::new(format!("an integer from {min} to {max}")))?;
        }
        Key::SerializationFormat => s.serialization_format = parse_format(value)?,
        Key::RefreshEachRequest => s.refresh_each_request = parse_bool(value)?,
        Key::CleanupNRequests => {
            s.cleanup_n_requests = parse_opt_uint(value, 0, u32_max)?.map(to_u32);
        }
        Key::PermanentSessionLifetime => s.permanent_session_lifetime = parse_duration(value)?,
        Key::SecretKey => s.secret_key = parse_opt_secret(value)?,
        Key::SecretKeyFallbacks => {
            s.secret_key_fallbacks = parse_list(key, value)?
                .into_iter()
                .filter(|k| !k.is_empty())
                .map(Secret::new)
                .collect();
        }
        Key::CookieName => s.cookie.name = parse_string(value)?,
        Key::CookieDomain => s.cookie.domain = parse_opt_string(value)?,
        Key::CookiePath => s.cookie.path = parse_string(value)?,
        Key::CookieHttpOnly => s.cookie.http_only = parse_bool(value)?,
        Key::CookieSecure => s.cookie.secure = parse_bool(value)?,
        Key::CookieSameSite => s.cookie.same_site = parse_same_site(value)?,
        Key::CookiePartitioned => s.cookie.partitioned = parse_bool(value)?,
        Key::Redis => {
            s.redis = parse_list(key, value)?
                .into_iter()
                .map(ConnectionUrl::new)
                .collect();
        }
        Key::RedisSentinels => {
            s.redis_sentinels = parse_list(key, value)?
                .into_iter()
                .map(ConnectionUrl::new)
                .collect();
        }
        Key::RedisSentinelMaster => s.redis_sentinel_master = parse_opt_string(value)?,
        Key::RedisSentinelPassword => s.redis_sentinel_password = parse_opt_secret(value)?,
        Key::RedisSentinelMasterPassword => {
            s.redis_sentinel_master_password = parse_opt_secret(value)?;
        }
        Key::Memcached => s.memcached = parse_list(key, value)?,
        Key::FileDir => s.file_dir = parse_path(value)?,
        Key::FileThreshold => {
            s.file_threshold = to_usize(parse_uint(value, 0, usize::MAX as u64)?);
        }
        Key::FileMode => s.file_mode = parse_file_mode(value)?,
        Key::WhenFull => s.when_full = parse_when_full(value)?,
        Key::MongoDb => s.mongodb = parse_url(value)?,
        Key::MongoDbDb => s.mongodb_db = parse_string(value)?,
        Key::MongoDbCollect => s.mongodb_collect = parse_string(value)?,
        Key::SqlAlchemy => s.sqlalchemy = parse_url(value)?,
        Key::SqlAlchemyTable => s.sqlalchemy_table = parse_ident(value)?,
        Key::SqlAlchemySequence => s.sqlalchemy_sequence = parse_opt_ident(value)?,
        Key::SqlAlchemySchema => s.sqlalchemy_schema = parse_opt_ident(value)?,
        Key::SqlAlchemyBindKey => s.sqlalchemy_bind_key = parse_opt_string(value)?,
        Key::SqlAlchemyBinds => s.sqlalchemy_binds = parse_binds(key, value)?,
        Key::SqlAlchemyCreateTable => s.sqlalchemy_create_table = parse_bool(value)?,
        Key::CleanupInterval => s.cleanup_interval = parse_opt_duration(value)?,
        Key::RefreshThreshold => s.refresh_threshold = parse_f64(value)?,
        Key::MaxSessionBytes => {
            s.max_session_bytes = to_usize(parse_uint(value, 0, usize::MAX as u64)?);
        }
        Key::WriteMode => s.write_mode = parse_write_mode(value)?,
        Key::OwnerKey => s.owner_key = parse_string(value)?,
        Key::AbsoluteLifetime => s.absolute_lifetime = parse_opt_duration(value)?,
        Key::HeaderName => s.header_name = parse_opt_string(value)?,
        Key::ConnectTimeout => s.connect_timeout = parse_duration(value)?,
        Key::OperationTimeout => s.operation_timeout = parse_duration(value)?,
        Key::PoolSize => s.pool_size = parse_opt_uint(value, 0, u32_max)?.map(to_u32),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn s(v: &str) -> Value {
        Value::String(v.to_owned())
    }

    #[test]
    fn bools() {
        for t in ["true", "TRUE", "1", "yes", "Yes", "on", " ON "] {
            assert!(parse_bool(&s(t)).unwrap(), "{t}");
        }
        for f in ["false", "False", "0", "no", "NO", "off", "Off"] {
            assert!(!parse_bool(&s(f)).unwrap(), "{f}");
        }
        assert!(parse_bool(&Value::Boolean(true)).unwrap());
        assert!(parse_bool(&s("maybe")).is_err());
        assert!(parse_bool(&s("")).is_err());
        assert!(parse_bool(&Value::Integer(2)).is_err());
    }

    #[test]
    fn durations() {
        let d = |v: &str| parse_duration_value(&s(v));
        assert_eq!(d("90"), Some(Duration::from_secs(90)));
        assert_eq!(d("90s"), Some(Duration::from_secs(90)));
        assert_eq!(d("30m"), Some(Duration::from_secs(1800)));
        assert_eq!(d("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(d("31d"), Some(Duration::from_secs(31 * 86_400)));
        assert_eq!(d("1.5h"), Some(Duration::from_secs(5400)));
        assert_eq!(d("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(d(" 10 s "), Some(Duration::from_secs(10)));
        assert_eq!(d("0"), Some(Duration::ZERO));
        for bad in [
            "",
            "s",
            "-1",
            "1.2.3",
            "1x",
            "1e3",
            "inf",
            "NaN",
            ".5",
            "5.",
            "99999999999999999999d",
            "40000d",
        ] {
            assert_eq!(d(bad), None, "{bad}");
        }
        assert_eq!(
            parse_duration_value(&Value::Integer(5)),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            parse_duration_value(&Value::Float(0.5)),
            Some(Duration::from_millis(500))
        );
        assert_eq!(parse_duration_value(&Value::Integer(-1)), None);
        assert_eq!(parse_duration_value(&Value::Float(f64::NAN)), None);
        assert_eq!(parse_duration_value(&Value::Float(1e300)), None);
    }

    #[test]
    fn file_modes() {
        let m = |v: Value| parse_file_mode(&v).map(FileMode::get).ok();
        assert_eq!(m(s("0600")), Some(0o600));
        assert_eq!(m(s("0o600")), Some(0o600));
        assert_eq!(m(s("0O640")), Some(0o640));
        assert_eq!(m(s("384")), Some(0o600));
        assert_eq!(m(Value::Integer(0o600)), Some(0o600));
        assert_eq!(m(Value::Integer(384)), Some(0o600));
        assert_eq!(m(s("0")), Some(0));
        assert_eq!(m(s("600")), None); // decimal 600 > 0o777
        assert_eq!(m(s("0800")), None);
        assert_eq!(m(s("0o")), None);
        assert_eq!(m(s("rw-------")), None);
        assert_eq!(m(Value::Integer(-1)), None);
    }

    #[test]
    fn lists() {
        let l = |v: Value| parse_list(Key::Memcached, &v).unwrap();
        assert_eq!(l(s("a:1, b:2,,")), ["a:1", "b:2"]);
        assert_eq!(l(s(r#"["a,1", "b"]"#)), ["a,1", "b"]);
        assert_eq!(l(s("one")), ["one"]);
        assert_eq!(
            l(Value::Array(vec![s("x"), s("y")])),
            ["x".to_owned(), "y".to_owned()]
        );
        assert!(parse_list(Key::Memcached, &Value::Array(vec![Value::Integer(1)])).is_err());
        assert!(parse_list(Key::Memcached, &s("[1,2]")).is_err());
    }

    #[test]
    fn render_redacts() {
        assert_eq!(render(Key::SecretKey, &s("hunter2")), "<redacted>");
        assert_eq!(
            render(Key::Redis, &s("redis://u:pw@h")),
            "\"redis://u:***@h\""
        );
        assert_eq!(render(Key::IdLength, &Value::Integer(8)), "8");
        let long = "x".repeat(1000);
        assert!(render(Key::KeyPrefix, &s(&long)).chars().count() < 250);
    }
}
