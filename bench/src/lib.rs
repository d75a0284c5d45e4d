//! What the load benchmark's baseline apps share (`src/bin/{raw,bare}_*.rs`):
//! the demo's settings read from the environment, the cookie work every
//! session layer must do (find the cookie, check the sid's shape, make a new
//! sid, write a `Set-Cookie` with the same attributes as ours), and the same
//! logging set-up as the demos, so the baselines differ from the demos only by
//! the session layer.

use std::time::{Duration, SystemTime};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use session::store::redis::redis::{self, aio::ConnectionManager};

/// The cookie name, as the demos' default (`SESSION_COOKIE_NAME`).
pub const COOKIE_NAME: &str = "session";
/// The store key prefix, as the demos' default (`SESSION_KEY_PREFIX`).
pub const KEY_PREFIX: &str = "session:";
/// The TTL, as the demos' default (`PERMANENT_SESSION_LIFETIME = 31d`).
pub const TTL: Duration = Duration::from_secs(31 * 24 * 3600);

/// `$SESSION_REDIS`, or the default server.
pub fn redis_url() -> String {
    std::env::var("SESSION_REDIS").unwrap_or_else(|_| "redis://127.0.0.1:6379".to_owned())
}

/// `$PORT`, default 8000.
pub fn port() -> u16 {
    std::env::var("PORT")
        .ok()
        .and_then(|port| port.parse().ok())
        .unwrap_or(8000)
}

/// Serves a Poem app as the Poem demo does: on 127.0.0.1 at [`port`], with
/// the graceful shutdown on Ctrl-C (10 s at most) that the session
/// middleware's docs ask for. Poem's graceful shutdown watches a cancellation
/// token on every poll of a connection, some 330 instructions per request
/// (BENCHMARKS.md): the baselines serve the same way, so that the cost is not
/// counted as the session layer's.
pub async fn serve_poem(app: impl poem::Endpoint + 'static) {
    poem::Server::new(poem::listener::TcpListener::bind(format!(
        "127.0.0.1:{}",
        port()
    )))
    .run_with_graceful_shutdown(
        app,
        async { tokio::signal::ctrl_c().await.unwrap_or_default() },
        Some(Duration::from_secs(10)),
    )
    .await
    .expect("server");
}

/// The demos' logging: a `tracing` subscriber with the same default filter,
/// which `log` records (Rocket's) also go through.
pub fn init_logging(default_filter: &str) {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| default_filter.into()),
        )
        .init();
}

/// A sid's shape, as ours checks it: 16 to 256 base64url characters.
pub fn valid_sid(candidate: &str) -> bool {
    (16..=256).contains(&candidate.len())
        && candidate
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The first valid session sid among `Cookie` header values.
pub fn sid_from_cookie_headers<'a>(values: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    values
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value)
        .find(|value| valid_sid(value))
}

/// A new sid: 32 random bytes, base64url (43 characters), as ours.
pub fn new_sid() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// The store key of a sid.
pub fn store_key(sid: &str) -> String {
    let mut key = String::with_capacity(KEY_PREFIX.len() + sid.len());
    key.push_str(KEY_PREFIX);
    key.push_str(sid);
    key
}

/// The `Set-Cookie` value ours sends for a permanent session with the default
/// cookie settings, built as a hand-written app at the limit would: the
/// `Expires` date formatted once per second per thread (a date costs some
/// 2,000 instructions to format; ours caches it the same way), and the value
/// written into a buffer of its exact length.
pub fn set_cookie(sid: &str) -> String {
    const ATTRIBUTES: &str = "; Path=/; HttpOnly; SameSite=Lax";
    const EXPIRES: &str = "; Expires=";
    thread_local! {
        static DATE: std::cell::RefCell<(u64, String)> = const { std::cell::RefCell::new((u64::MAX, String::new())) };
    }
    let now = SystemTime::now();
    let second = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| since.as_secs());
    DATE.with_borrow_mut(|(cached, date)| {
        if *cached != second {
            *date = httpdate::fmt_http_date(now + TTL);
            *cached = second;
        }
        let mut out = String::with_capacity(
            COOKIE_NAME.len() + 1 + sid.len() + EXPIRES.len() + date.len() + ATTRIBUTES.len(),
        );
        out.push_str(COOKIE_NAME);
        out.push('=');
        out.push_str(sid);
        out.push_str(EXPIRES);
        out.push_str(date);
        out.push_str(ATTRIBUTES);
        out
    })
}

/// The growth benchmark's padding (`bench/grow.sh`): `$GROW_KEYS` keys, by
/// default one, named `k000`, `k001`, …, each holding a string of `x`,
/// together about `$GROW_BYTES` bytes of keys and values (default 100). The
/// stored record is a little larger (the count, the codec's framing);
/// `bench/grow.sh` reports its real size.
pub fn padding() -> Vec<(String, String)> {
    let var = |name: &str, default: usize| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(default)
    };
    padding_of(var("GROW_KEYS", 1), var("GROW_BYTES", 100))
}

/// `keys` keys (at least one) of `x` strings, about `bytes` bytes together:
/// [`padding`] without the environment.
pub fn padding_of(keys: usize, bytes: usize) -> Vec<(String, String)> {
    let keys = keys.max(1);
    // Per key: the name (4 bytes) and the codec's few bytes of framing.
    let each = (bytes / keys).saturating_sub(7).max(1);
    (0..keys)
        .map(|i| (format!("k{i:03}"), "x".repeat(each)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padding_has_the_keys_and_about_the_bytes_asked_for() {
        for (keys, bytes) in [(1, 100), (1, 32768), (50, 4096), (500, 32768)] {
            let pad = padding_of(keys, bytes);
            assert_eq!(pad.len(), keys);
            let total: usize = pad.iter().map(|(k, v)| k.len() + v.len()).sum();
            assert!(
                total <= bytes && total * 10 >= bytes * 8,
                "{keys} keys: {total} of {bytes} B"
            );
        }
        assert_eq!(padding_of(0, 100).len(), 1);
    }

    #[test]
    fn finds_the_valid_session_cookie() {
        let sid = new_sid();
        assert_eq!(sid.len(), 43);
        let header = format!("a=b; session=short; session={sid}");
        assert_eq!(
            sid_from_cookie_headers([header.as_str()].into_iter()),
            Some(sid.as_str())
        );
        assert_eq!(
            sid_from_cookie_headers(["session=bad!value-of-length-20"].into_iter()),
            None
        );
    }
}

/// The Redis store's conditional save (`KEYS[1]` the key, `ARGV[1]` the
/// loaded value, `ARGV[2]` the new one, `ARGV[3]` the TTL, `ARGV[4]` `=`):
/// the very file the store loads, so the raw apps cannot drift from it.
pub const SAVE_IF_UNCHANGED: &str =
    include_str!("../../session/src/store/redis/save_if_unchanged.lua");

/// Loads [`SAVE_IF_UNCHANGED`] into the server and returns its SHA-1, for
/// the raw apps' `EVALSHA`.
///
/// # Panics
///
/// When the server refuses the script: a benchmark app cannot run without it.
pub async fn load_save_script(connection: &ConnectionManager) -> String {
    redis::cmd("SCRIPT")
        .arg("LOAD")
        .arg(SAVE_IF_UNCHANGED)
        .query_async(&mut connection.clone())
        .await
        .expect("the script loads")
}

/// A raw app's read of the count: `GET`, or with `sliding` the
/// `GETEX … EX` with which ours slides the expiry.
pub fn read_command(key: &str, sliding: bool) -> redis::Cmd {
    let mut command = redis::cmd(if sliding { "GETEX" } else { "GET" });
    command.arg(key);
    if sliding {
        command.arg("EX").arg(TTL.as_secs());
    }
    command
}

/// The record a raw app doing the contract's work stores
/// (`RAW_REDIS_WORK=contract`): Flask-Session's, as ours writes it with the
/// default settings, a msgpack map of the session's keys, here
/// `{"_permanent": true, "count": n}`. A hand-written app decodes it with
/// serde into its own struct, as an app at the limit would.
#[derive(serde::Deserialize)]
struct Record {
    #[serde(rename = "_permanent", default)]
    _permanent: bool,
    #[serde(default)]
    count: u32,
}

/// The count in a stored Flask-Session record; `None` for a record that is
/// not one (a fresh session replaces it).
pub fn decode_record(bytes: &[u8]) -> Option<u32> {
    rmp_serde::from_slice::<Record>(bytes)
        .ok()
        .map(|record| record.count)
}

/// The Flask-Session record of a permanent session holding `count`.
pub fn encode_record(count: u32) -> Vec<u8> {
    // fixmap(2), "_permanent", true, "count", then the count (at most 5 bytes).
    let mut out = Vec::with_capacity(1 + 11 + 1 + 6 + 5);
    let write = |out: &mut Vec<u8>| -> Result<(), rmp::encode::ValueWriteError> {
        rmp::encode::write_map_len(out, 2)?;
        rmp::encode::write_str(out, "_permanent")?;
        rmp::encode::write_bool(out, true)
            .map_err(rmp::encode::ValueWriteError::InvalidDataWrite)?;
        rmp::encode::write_str(out, "count")?;
        rmp::encode::write_uint(out, u64::from(count))?;
        Ok(())
    };
    write(&mut out).expect("writing to a Vec cannot fail");
    out
}

/// A raw app's write of the session's value (the count as text, or with
/// `RAW_REDIS_WORK=contract` its Flask-Session record): `SET … EX`, or,
/// given the script's SHA-1 and the value read, the conditional save against
/// that value by `EVALSHA`, as ours does in `write_mode = "merge"`.
pub fn write_command<V: redis::ToRedisArgs>(
    key: &str, value: V, conditional: Option<(&str, V)>,
) -> redis::Cmd {
    match conditional {
        Some((sha, loaded)) => {
            let mut command = redis::cmd("EVALSHA");
            command.arg(sha).arg(1).arg(key).arg(loaded);
            command.arg(value).arg(TTL.as_secs()).arg("=");
            command
        }
        None => {
            let mut command = redis::cmd("SET");
            command.arg(key).arg(value).arg("EX").arg(TTL.as_secs());
            command
        }
    }
}
