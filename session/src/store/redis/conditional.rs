//! Conditional writes on Redis: one Lua script each, sent by `EVALSHA` (and
//! loaded once per server when it answers `NOSCRIPT`), touching one key, so a
//! Cluster routes it like any other command of that key. A script runs
//! atomically on the server, so the compare and the write are one step.
//!
//! The save compares the SHA-1 of the stored value (`redis.sha1hex`) with the
//! SHA-1 of the value this request loaded, so the expected record does not
//! travel back to the server, only its 40-character digest.

use std::sync::LazyLock;

use ::redis::{Script, ScriptInvocation, Value};
use sha1::{Digest, Sha1};

use crate::store::WriteOutcome;

/// `KEYS[1]` the key, `ARGV[1]` the SHA-1 (hex) of the value loaded,
/// `ARGV[2]` the new value, `ARGV[3]` the TTL in seconds. Answers 1 (saved),
/// 0 (gone) or the current value (changed).
static SAVE_IF_UNCHANGED: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
if redis.sha1hex(current) ~= ARGV[1] then return current end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
return 1
",
    )
});

/// `KEYS[1]` the key, `ARGV[1]` the value, `ARGV[2]` the TTL in seconds.
/// Answers 1 (saved) or the value already there (changed).
static INSERT_NEW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2], 'NX') then return 1 end
return redis.call('GET', KEYS[1])
",
    )
});

/// The script call that replaces `key` with `value` only if it still holds
/// `expected`.
pub(super) fn save_if_unchanged<'a>(
    key: &str,
    expected: &[u8],
    value: &[u8],
    ttl_seconds: u64,
) -> ScriptInvocation<'a> {
    let mut invocation = SAVE_IF_UNCHANGED.prepare_invoke();
    invocation
        .key(key)
        .arg(hex(&Sha1::digest(expected)))
        .arg(value)
        .arg(ttl_seconds);
    invocation
}

/// The script call that writes `key` only if it does not exist.
pub(super) fn insert_new<'a>(key: &str, value: &[u8], ttl_seconds: u64) -> ScriptInvocation<'a> {
    let mut invocation = INSERT_NEW.prepare_invoke();
    invocation.key(key).arg(value).arg(ttl_seconds);
    invocation
}

/// A script's answer: 1 saved, 0 (or nil) gone, a value changed.
pub(super) fn outcome(answer: Value) -> WriteOutcome {
    match answer {
        Value::Int(1) => WriteOutcome::Saved,
        Value::BulkString(current) => WriteOutcome::Changed(current),
        _ => WriteOutcome::Gone,
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(2 * bytes.len());
    for &byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    out
}
