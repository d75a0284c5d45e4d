//! The owner index on Redis (design §12): one hash per owner,
//! `<key_prefix>owner:<owner>`, whose fields are the owner's session keys
//! and whose values are when the owner logged in, in unix seconds. §12 says
//! a set; a hash keeps the login time with each key, so a listing can show
//! it without reading the sessions.
//!
//! No session key can be mistaken for the index: a sid never holds a `:`.
//! Any owner text is a valid Redis key; one with `{…}` moves the index to
//! another Cluster slot, which is harmless since every index command names
//! only the index key.
//!
//! The index expires by itself: each add keeps it alive at least the
//! session's `ttl` (a script rather than `PEXPIRE … GT`, which needs Redis 7
//! and never sets a TTL on a key that has none), and each listing at least as
//! long as its longest-lived member.

use std::sync::LazyLock;
use std::time::{Duration, SystemTime};

use ::redis::aio::ConnectionLike;
use ::redis::{Cmd, ErrorKind, RedisError, Script, ServerErrorKind};

use super::{Failure, RedisStore, Request, BACKEND};
use crate::store::support::within;
use crate::store::{from_unix_seconds, unix_seconds, IndexedSession, StoreError, StoreResult};

/// The operation name index errors carry.
const OPERATION: &str = "index";

/// The longest TTL the index is given, so that `PEXPIRE` never overflows.
const LONGEST_TTL_MS: u64 = 100 * 365 * 86_400 * 1000;

/// `KEYS[1]` the index, `ARGV[1]` the session key, `ARGV[2]` the login time,
/// `ARGV[3]` the least TTL in milliseconds the index must keep.
static ADD: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return 1
",
    )
});

/// `KEYS[1]` the index, `ARGV[1]` the least TTL in milliseconds the index
/// must keep (0: leave it), `ARGV[2..]` the members to remove. `HDEL` takes
/// them in chunks: `unpack` of thousands of values would overflow Lua's stack.
static PRUNE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
for first = 2, #ARGV, 1000 do
  redis.call('HDEL', KEYS[1], unpack(ARGV, first, math.min(first + 999, #ARGV)))
end
local keep = tonumber(ARGV[1])
if keep > 0 then
  local left = redis.call('PTTL', KEYS[1])
  if left >= 0 and left < keep then redis.call('PEXPIRE', KEYS[1], keep) end
end
return 1
",
    )
});

/// A TTL in milliseconds, at least 1, at most [`LONGEST_TTL_MS`].
fn millis(ttl: Duration) -> u64 {
    u64::try_from(ttl.as_millis())
        .unwrap_or(u64::MAX)
        .clamp(1, LONGEST_TTL_MS)
}

/// An index's fields and values, as `HGETALL` gives them.
type Members = Vec<(Vec<u8>, Vec<u8>)>;

/// What `PTTL` answers for a key that does not exist.
const MISSING: i64 = -2;

impl<C> RedisStore<C>
where
    C: ConnectionLike + Clone + Send + Sync + 'static,
{
    /// The index key of `owner`: `<key_prefix>owner:<owner>`.
    pub(super) fn owner_key(&self, owner: &str) -> String {
        let mut key = String::with_capacity(self.key_prefix.len() + 6 + owner.len());
        key.push_str(&self.key_prefix);
        key.push_str("owner:");
        key.push_str(owner);
        key
    }

    pub(super) async fn index_add(
        &self, owner: &str, key: &str, created: SystemTime, ttl: Duration,
    ) -> StoreResult<()> {
        let mut evalsha = ::redis::cmd("EVALSHA");
        evalsha
            .arg(ADD.get_hash())
            .arg(1)
            .arg(self.owner_key(owner))
            .arg(key)
            .arg(unix_seconds(created))
            .arg(millis(ttl));
        self.run::<i64>(OPERATION, Request::Script(&evalsha, &ADD))
            .await
            .map(drop)
    }

    pub(super) async fn index_remove(&self, owner: &str, key: &str) -> StoreResult<()> {
        let mut hdel = ::redis::cmd("HDEL");
        hdel.arg(self.owner_key(owner)).arg(key);
        self.run::<i64>(OPERATION, Request::Cmd(&hdel))
            .await
            .map(drop)
    }

    pub(super) async fn index_list(&self, owner: &str) -> StoreResult<Vec<IndexedSession>> {
        let index = self.owner_key(owner);
        let mut read = ::redis::pipe();
        read.cmd("HGETALL").arg(&index).cmd("PTTL").arg(&index);
        let (members, index_left): (Members, i64) =
            self.run(OPERATION, Request::Pipeline(&read)).await?;
        if members.is_empty() {
            return Ok(Vec::new());
        }
        let mut dead = Vec::new();
        let mut candidates = Vec::with_capacity(members.len());
        for (field, created) in members {
            // Not UTF-8: no session key of this framework, so not a session.
            match String::from_utf8(field) {
                Ok(key) => candidates.push((key, created)),
                Err(not_text) => dead.push(not_text.into_bytes()),
            }
        }
        let keys: Vec<&str> = candidates.iter().map(|(key, _)| key.as_str()).collect();
        let lefts = self.remaining_ttls(&keys).await?;
        let now = SystemTime::now();
        let mut live = Vec::with_capacity(candidates.len());
        let mut longest: i64 = 0;
        for ((key, created), left) in candidates.into_iter().zip(lefts) {
            if left == MISSING || left == 0 {
                dead.push(key.into_bytes());
                continue;
            }
            let expires = u64::try_from(left)
                .ok()
                .and_then(|ms| now.checked_add(Duration::from_millis(ms)));
            longest = longest.max(left);
            let created = std::str::from_utf8(&created)
                .ok()
                .and_then(|text| text.parse::<i64>().ok())
                .and_then(from_unix_seconds);
            live.push(IndexedSession::new(key, created, expires));
        }
        let extend = index_left >= 0 && index_left < longest;
        if !dead.is_empty() || extend {
            let keep = if extend { longest } else { 0 };
            let mut evalsha = ::redis::cmd("EVALSHA");
            evalsha
                .arg(PRUNE.get_hash())
                .arg(1)
                .arg(&index)
                .arg(keep)
                .arg(dead);
            self.run::<i64>(OPERATION, Request::Script(&evalsha, &PRUNE))
                .await?;
        }
        Ok(live)
    }

    /// The `PTTL` of each key, in order: one pipeline on a single server. On
    /// a Cluster the client refuses a pipeline whose keys are in different
    /// slots (before sending anything), and then each key gets a request of
    /// its own, all in flight at once.
    async fn remaining_ttls(&self, keys: &[&str]) -> StoreResult<Vec<i64>> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipeline = ::redis::pipe();
        for key in keys {
            pipeline.cmd("PTTL").arg(*key);
        }
        match self.send(Request::Pipeline(&pipeline)).await {
            Err(Failure::Redis(error)) if is_cross_slot(&error) => {}
            other => return other.map_err(|failure| failure.into_store_error(OPERATION)),
        }
        let each = self.each_ttl(keys);
        match within(BACKEND, self.deadline, each).await {
            Ok(answer) => answer,
            Err(timed_out) => Err(StoreError::unavailable(BACKEND, OPERATION, timed_out)),
        }
    }

    /// One `PTTL` request per key, all in flight at once; a Cluster routes
    /// each to its slot's node.
    async fn each_ttl(&self, keys: &[&str]) -> StoreResult<Vec<i64>> {
        let Some(connection) = self.connection() else {
            return Err(Failure::ShutDown.into_store_error(OPERATION));
        };
        let mut requests = tokio::task::JoinSet::new();
        for (n, key) in keys.iter().enumerate() {
            let mut connection = connection.clone();
            let mut pttl = Cmd::new();
            pttl.arg("PTTL").arg(*key);
            requests.spawn(async move { (n, pttl.query_async::<i64>(&mut connection).await) });
        }
        let mut lefts = vec![MISSING; keys.len()];
        while let Some(done) = requests.join_next().await {
            let (n, answer) = done.map_err(|join| StoreError::failed(BACKEND, OPERATION, join))?;
            lefts[n] = answer.map_err(|error| Failure::Redis(error).into_store_error(OPERATION))?;
        }
        Ok(lefts)
    }
}

/// A Cluster client's refusal of a pipeline that spans slots (or the
/// server's, from a proxy that forwards it).
fn is_cross_slot(error: &RedisError) -> bool {
    error.kind() == ErrorKind::Server(ServerErrorKind::CrossSlot)
}
