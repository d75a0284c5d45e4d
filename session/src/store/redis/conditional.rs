//! Conditional writes on Redis: one Lua script each, sent by `EVALSHA` (and
//! loaded, then sent again, when a server answers `NOSCRIPT`), touching one key, so a
//! Cluster routes it like any other command of that key. A script runs
//! atomically on the server, so the compare and the write are one step.
//!
//! The record the session was loaded from is sent back whole and compared
//! as it is, up to [`SEND_WHOLE_UP_TO`] bytes: copying it into the command
//! costs the client a few instructions per kilobyte where SHA-1 costs
//! about 22 per byte (measured: 735,000 instructions for a 32 KiB record),
//! and the server compares two Lua strings by identity once interned.
//! Only a larger record is compared by SHA-1 (`redis.sha1hex` on the server),
//! so that its copy does not double a write's size on the wire.

use std::sync::LazyLock;

use ::redis::{Cmd, Script, Value};
use sha1::{Digest, Sha1};

use super::command::{self, Arg};
use crate::store::support::hex;
use crate::store::WriteOutcome;

/// `KEYS[1]` the key, `ARGV[1]` the value loaded (when `ARGV[4]` is `=`) or
/// its SHA-1 in hex, `ARGV[2]` the new value, `ARGV[3]` the TTL in seconds.
/// Answers 1 (saved), 0 (gone) or the current value (changed). In a file
/// of its own, so that the benchmark's raw app sends the very same script.
static SAVE_IF_UNCHANGED: LazyLock<Script> =
    LazyLock::new(|| Script::new(include_str!("save_if_unchanged.lua")));

/// Records up to this size are compared whole, larger ones by digest: a
/// bound on how much a write's copy of its record adds on the wire.
const SEND_WHOLE_UP_TO: usize = 1 << 20;

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

/// The arguments of the `EVALSHA` that replaces `key` with `value` only if
/// it still holds `expected`, and its script (to load on `NOSCRIPT`); a
/// record too large to send whole is compared by its digest, which
/// `digest` keeps. Borrowed, not a `ScriptInvocation`, which copies every
/// argument twice.
pub(super) fn save_if_unchanged<'a>(
    key: &'a str, expected: &'a [u8], value: &'a [u8], ttl_seconds: u64, digest: &'a mut String,
) -> ([Arg<'a>; 8], &'static Script) {
    let whole = expected.len() <= SEND_WHOLE_UP_TO;
    let compared = if whole {
        Arg::from(expected)
    } else {
        *digest = hex(&Sha1::digest(expected));
        Arg::from(digest.as_str())
    };
    let args = [
        Arg::from("EVALSHA"),
        Arg::from(SAVE_IF_UNCHANGED.get_hash()),
        Arg::from(1),
        Arg::from(key),
        compared,
        Arg::from(value),
        Arg::from(ttl_seconds),
        Arg::from(if whole { "=" } else { "sha1" }),
    ];
    (args, &SAVE_IF_UNCHANGED)
}

/// The `EVALSHA` that writes `key` only if it does not exist, and its script.
pub(super) fn insert_new(key: &str, value: &[u8], ttl_seconds: u64) -> (Cmd, &'static Script) {
    let hash = INSERT_NEW.get_hash();
    let data = hash.len() + 1 + key.len() + value.len() + command::INTEGER;
    let mut cmd = command::sized("EVALSHA", 5, data);
    cmd.arg(hash).arg(1).arg(key).arg(value).arg(ttl_seconds);
    (cmd, &INSERT_NEW)
}

/// A script's answer: 1 saved, 0 (or nil) gone, a value changed.
pub(super) fn outcome(answer: Value) -> WriteOutcome {
    match answer {
        Value::Int(1) => WriteOutcome::Saved,
        Value::BulkString(current) => WriteOutcome::Changed(current),
        _ => WriteOutcome::Gone,
    }
}
