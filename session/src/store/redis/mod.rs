//! Sessions in Redis, a single server or a Redis Cluster (`SESSION_TYPE =
//! redis`).
//!
//! # Layout
//!
//! The layout is Flask-Session 0.8's, so a Python app and a Rust service can
//! share one store: the key is `key_prefix + sid` (`session:<sid>`), the
//! value is the encoded session map with no envelope, and the expiry is the
//! key's own TTL.
//!
//! | operation | command |
//! |---|---|
//! | [`save`](SessionStore::save) | `SET key value EX ttl` |
//! | [`load`](SessionStore::load) | `GET key` |
//! | [`load_and_touch`](SessionStore::load_and_touch) | `GETEX key EX ttl`, one round trip |
//! | [`touch`](SessionStore::touch) | `EXPIRE key ttl` |
//! | [`delete`](SessionStore::delete) | `DEL key` |
//!
//! `GETEX` exists from Redis 6.2 on. The first time a server answers it with
//! "unknown command", the store remembers that and from then on sends `GET`
//! and `EXPIRE` together in one pipeline, which is still one round trip.
//! Values are read as bytes, never as text. [`cleanup`](SessionStore::cleanup)
//! does nothing: Redis expires keys itself. TTLs are whole seconds, rounded up.
//!
//! **The owner index** (design §12) is a hash per owner,
//! `<key_prefix>owner:<owner>`, of session key → login time in unix seconds
//! (a hash rather than §12's set, so that a listing tells when each session
//! logged in), with a TTL of its own that each add keeps at least the
//! session's lifetime. Adding is one script (`HSET`, and `PEXPIRE` when the
//! index would expire sooner), removing one `HDEL`. Listing is `HGETALL` and
//! `PTTL` of the index in one pipeline, then the `PTTL` of every member in one
//! pipeline (on a Cluster, where the members live in other slots, one request
//! per member, all in flight at once), then, only when a member is gone or
//! outlives the index, one script that prunes it and extends the index.
//! The prefix is the settings' `key_prefix` (see
//! [`RedisStore::with_key_prefix`]).
//!
//! # Connections
//!
//! One URL in `SESSION_REDIS` gives a
//! [`ConnectionManager`]: one multiplexed
//! connection shared by every request, which reconnects by itself when the
//! server goes away and comes back, with no app restart. Several URLs are the
//! seed nodes of a Redis Cluster and give a
//! [`ClusterConnection`](::redis::cluster_async::ClusterConnection), which
//! routes each key to its slot's node; it follows a Cluster failover by
//! itself (a replica promoted in a dead master's place), refreshing its slot
//! map when a node fails. With `SESSION_REDIS_SENTINELS` set, the store asks
//! those Sentinels for the master named `SESSION_REDIS_SENTINEL_MASTER` and
//! holds a [`SentinelConnection`], which asks them again after a failover
//! (see below). Either way the store holds a [`RedisConnection`], so all are
//! one type, [`RedisStore`]. `rediss://` URLs use TLS (rustls, with the
//! system's root certificates); `rediss://` sentinel URLs mean TLS to the
//! master as well.
//!
//! **The direct and the shared connection.** Over one plain `redis://`
//! server (RESP2, the default protocol, whether from the settings or
//! [`RedisStore::from_client`]), a one-command operation (`GET`, `GETEX`,
//! `SET`, `EVALSHA`, …) does not go through redis-rs's connection manager,
//! whose driver task, channel and streaming parser cost some 3,700
//! instructions per round trip (BENCHMARKS.md, issue 20). An operation that
//! is the store's only one in flight goes over the direct connection: the
//! request's own task writes the command and reads its one reply. When
//! others are in flight, it goes over the shared connection, where one task
//! writes the commands of every request ready in one system call and hands
//! the replies out in order: under load that batching saves more than the
//! direct path would (see `multiplexed` in the source). So the store opens
//! two connections of its own besides the manager's, which keeps pipelines
//! and script loads, whatever the load. No reply is ever read by the wrong
//! request: a direct connection whose operation failed, timed out or was
//! cancelled is closed, and on the shared connection a cancelled
//! operation's reply is read and discarded. TLS, unix sockets, RESP3, a
//! Cluster, a Sentinel master and [`RedisStore::from_connection`] use
//! redis-rs's connection alone. The hot commands (`GET`, `GETEX`, `SET`, the
//! conditional save's `EVALSHA`) are packed from their borrowed arguments
//! straight into the connection's buffer, without redis-rs's `Cmd` and its
//! two allocations (see `command` in the source).
//! [`SessionManager::shutdown`](crate::SessionManager::shutdown) closes both
//! with the manager's.
//!
//! # Sentinel
//!
//! | setting | what |
//! |---|---|
//! | `redis_sentinels` | the Sentinels' URLs, `redis://host:26379`; a URL's own `user:password` is that Sentinel's |
//! | `redis_sentinel_master` | the master's name, as in `sentinel monitor <name> …` |
//! | `redis_sentinel_password` | the Sentinels' password, for URLs without one |
//! | `redis_sentinel_master_password` | the master's (and its replicas') `requirepass`, when it differs |
//!
//! The sessions live in database 0 of the master. The master is looked up at
//! start-up, and again after a connection error, a timeout, or a `READONLY`
//! or `MASTERDOWN` reply (the server was demoted): a background task asks the
//! Sentinels until they name a master that confirms its role, each attempt
//! bounded by `connect_timeout + operation_timeout`. Requests never wait for
//! it: until a master is known they fail at once as unavailable (503), so
//! session routes answer 503 quickly during a failover while other routes
//! keep working, and 200 again as soon as the new master is installed, with
//! no app restart. An app with its own `redis::sentinel::SentinelClient`
//! hands it over with [`RedisStore::from_sentinel_client`].
//!
//! An app that already holds a Redis client or connection can share it: see
//! [`RedisStore::from_client`] and [`RedisStore::from_connection`].
//!
//! # Failures
//!
//! `connect_timeout` bounds each connection attempt and `operation_timeout`
//! each reply, and every store operation has an overall deadline of both
//! added together, so a dead or unreachable server fails the request fast
//! instead of hanging it. On the direct and the shared connection one timer
//! bounds the whole operation, a new connection and a retry included. Over the connection
//! manager a store builds itself, those two bounds are the deadline (a
//! request waits for at most one reconnection attempt, then one reply), so
//! the store arms a timer of its own only for a second attempt; over a
//! Cluster, a Sentinel master or an app's own connection, one timer bounds
//! each operation.
//!
//! A refused, reset or timed-out connection, an I/O error, and a cluster that
//! is down or has no connection to a slot's node are
//! [`StoreErrorKind::Unavailable`](super::StoreErrorKind::Unavailable) (HTTP
//! 503), and so is a `READONLY` reply (a write that reached a master demoted
//! by a failover); anything else the server answers, such as a failed `AUTH`
//! or a wrong-type key, is `Failed` (500). An operation that fails because
//! the connection dropped is sent once more on a fresh connection, so the
//! first request after a server restart succeeds (on the direct
//! connection: when it was kept from an earlier operation and the server
//! had closed it; on the shared one: when it broke with the command queued
//! or sent); every command here is idempotent.

mod command;
mod conditional;
mod connection;
mod direct;
mod multiplexed;
mod owners;
mod ping;
mod reply;
mod sentinel;

use std::any::Any;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, Instant, SystemTime};

use ::redis::aio::{ConnectionLike, ConnectionManager};
use ::redis::{
    Cmd, ErrorKind, FromRedisValue, Pipeline, RedisError, Script, ServerErrorKind, Value,
};
use async_trait::async_trait;

use self::command::{Arg, Command, Packed};
pub use self::connection::{RedisClient, RedisConnection};
use self::direct::{DirectConnection, Lease};
pub use self::sentinel::SentinelConnection;
use super::support::{ttl_seconds, within, TimedOut};
use super::{
    IndexedSession, PingInfo, SaveHint, SessionStore, StoreError, StoreResult, Timeouts,
    WriteOutcome,
};

/// The `redis` crate this store is built on, so an app can build the client
/// or connection it hands over with the same version.
pub use ::redis;

const BACKEND: &str = "redis";

/// The key prefix of a store built without settings: `Settings`' default.
const DEFAULT_KEY_PREFIX: &str = "session:";

/// Sessions in Redis, over any async Redis connection: a [`RedisConnection`]
/// (the default: one server or a Cluster, as the settings or the app's client
/// say), or another [`ConnectionLike`] the app owns, such as a
/// [`ConnectionManager`] or a
/// [`ClusterConnection`](::redis::cluster_async::ClusterConnection).
///
/// Cloning is cheap and shares the connection.
pub struct RedisStore<C = RedisConnection> {
    /// `None` once the store is shut down: the store's clone of the
    /// connection is dropped (a connection the store built closes with it).
    connection: Arc<RwLock<Option<C>>>,
    deadline: Duration,
    /// Whether the connection bounds each attempt by itself: a connection
    /// manager the store configured, whose one connection attempt is bounded
    /// by `connect_timeout` and whose replies by `operation_timeout`. Its
    /// first attempt then arms no timer of the store's own (see
    /// [`RedisStore::send`]).
    self_bounded: bool,
    /// `key_prefix` of the settings, which the owner index's keys start with.
    key_prefix: Arc<str>,
    /// False once the server has answered `GETEX` with "unknown command".
    getex: Arc<AtomicBool>,
    /// Connections of a request's own for one-command operations, when the
    /// store talks to one plain `redis://` server (see "Connections").
    direct: Option<Arc<DirectConnection>>,
}

impl<C: Clone> Clone for RedisStore<C> {
    fn clone(&self) -> Self {
        Self {
            connection: Arc::clone(&self.connection),
            deadline: self.deadline,
            self_bounded: self.self_bounded,
            key_prefix: Arc::clone(&self.key_prefix),
            getex: Arc::clone(&self.getex),
            direct: self.direct.clone(),
        }
    }
}

impl<C> fmt::Debug for RedisStore<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("connection", &std::any::type_name::<C>())
            .field("deadline", &self.deadline)
            .field("key_prefix", &self.key_prefix)
            .field("getex", &self.getex.load(Ordering::Relaxed))
            .field("direct", &self.direct.is_some())
            .finish()
    }
}

impl<C> RedisStore<C>
where
    C: ConnectionLike + Clone + Send + Sync + 'static,
{
    /// Wraps a connection the app already holds and configured itself: a
    /// `ConnectionManager`, a `ClusterConnection` or a multiplexed
    /// connection. It is the Rust form of Flask-Session's "pass your own
    /// `redis.Redis`". Nothing is sent here. Each operation gets the default
    /// deadline of [`Timeouts::default`] (3 s), and the owner index the
    /// default key prefix, `session:`; see [`RedisStore::with_deadline`] and
    /// [`RedisStore::with_key_prefix`].
    pub fn from_connection(connection: C) -> Self {
        Self {
            connection: Arc::new(RwLock::new(Some(connection))),
            deadline: Timeouts::default().deadline(),
            self_bounded: false,
            key_prefix: Arc::from(DEFAULT_KEY_PREFIX),
            getex: Arc::new(AtomicBool::new(true)),
            direct: None,
        }
    }

    /// Sets the overall deadline of one store operation, after which it fails
    /// as unavailable.
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// Sets the key prefix (`SESSION_KEY_PREFIX`) the owner index's keys
    /// start with, `<key_prefix>owner:<owner>`: the one the session keys
    /// handed to the store carry, so that apps sharing a server with
    /// different prefixes keep their owners apart. A store built from
    /// settings has it already.
    pub fn with_key_prefix(mut self, key_prefix: &str) -> Self {
        self.key_prefix = Arc::from(key_prefix);
        self
    }

    /// The connection the store sends its commands on; `None` once the
    /// store is shut down.
    pub fn connection(&self) -> Option<C> {
        self.connection
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Whether `load_and_touch` still uses `GETEX`: false once the server has
    /// said it does not know the command (Redis before 6.2).
    pub fn uses_getex(&self) -> bool {
        self.getex.load(Ordering::Relaxed)
    }

    /// [`SessionStore::load`], as a future the caller awaits in place: the
    /// lifecycle calls the reads and writes of an existing session directly
    /// on the store type [`RedisStore::from_settings`] builds, so that they
    /// box no future (ARCHITECTURE.md, "Modules", the `dispatch` entry).
    pub(crate) async fn load_in_place(&self, key: &str) -> StoreResult<Option<Vec<u8>>> {
        let get = [Arg::from("GET"), Arg::from(key)];
        self.run("load", Request::Cmd(&Command(&get))).await
    }

    /// [`SessionStore::save`], as a future the caller awaits in place (see
    /// [`Self::load_in_place`]).
    pub(crate) async fn save_in_place(
        &self, key: &str, value: &[u8], ttl: Duration,
    ) -> StoreResult<()> {
        let set = [
            Arg::from("SET"),
            Arg::from(key),
            Arg::from(value),
            Arg::from("EX"),
            Arg::from(ttl_seconds(ttl)),
        ];
        self.run("save", Request::Cmd(&Command(&set))).await
    }

    /// [`SessionStore::load_and_touch`], as a future the caller awaits in
    /// place (see [`Self::load_in_place`]).
    pub(crate) async fn load_and_touch_in_place(
        &self, key: &str, ttl: Duration,
    ) -> StoreResult<Option<Vec<u8>>> {
        let seconds = ttl_seconds(ttl);
        if self.getex.load(Ordering::Relaxed) {
            let getex = [
                Arg::from("GETEX"),
                Arg::from(key),
                Arg::from("EX"),
                Arg::from(seconds),
            ];
            match self.send(Request::Cmd(&Command(&getex))).await {
                Err(Failure::Redis(error)) if is_unknown_command(&error) => {
                    self.getex.store(false, Ordering::Relaxed);
                    tracing::info!(
                        backend = BACKEND,
                        "the Redis server has no GETEX (before 6.2): sliding reads use GET and EXPIRE in one pipeline"
                    );
                }
                other => {
                    return other.map_err(|failure| failure.into_store_error("load_and_touch"))
                }
            }
        }
        Box::pin(self.get_and_expire(key, seconds)).await
    }

    /// [`SessionStore::save_if_unchanged`], as a future the caller awaits in
    /// place (see [`Self::load_in_place`]).
    pub(crate) async fn save_if_unchanged_in_place(
        &self, key: &str, expected: &[u8], value: &[u8], ttl: Duration,
    ) -> StoreResult<WriteOutcome> {
        let mut digest = String::new();
        let (evalsha, script) =
            conditional::save_if_unchanged(key, expected, value, ttl_seconds(ttl), &mut digest);
        let request = Request::Script(&Command(&evalsha), script);
        let answer = self.run("save_if_unchanged", request).await?;
        Ok(conditional::outcome(answer))
    }

    /// Sends one request within the deadline, once more on a fresh connection
    /// when the first attempt found the connection dropped: a single command
    /// on the direct connection when no other operation is in flight, on the
    /// shared connection when others are, and anything else (a pipeline, a
    /// Cluster, a Sentinel master, an app's own connection) over the store's
    /// connection.
    async fn send<T: FromRedisValue>(&self, request: Request<'_>) -> Result<T, Failure> {
        // In flight until this returns or is dropped, on either path: only
        // an operation with no other in flight goes direct (see `direct`).
        let operation = self.direct.as_deref().map(DirectConnection::begin);
        if let (Some(operation), Some((command, script))) = (&operation, request.single()) {
            if let Some(lease) = operation.lease() {
                return Box::pin(self.send_direct(lease, command, script)).await;
            }
            if let Some(direct) = self.direct.as_deref().filter(|d| !d.is_closed()) {
                return Box::pin(self.send_shared(direct, command, script)).await;
            }
        }
        // The connection's own future is large (redis-rs's, some 1,300
        // bytes): boxed, so that the future every operation awaits in place
        // holds only the direct and shared paths' (BENCHMARKS.md, issue 20).
        Box::pin(self.send_over_connection(request)).await
    }

    /// [`send`](Self::send) over the store's connection (the manager's, a
    /// Cluster's, a Sentinel master's or an app's own), for what the direct
    /// and shared connections do not carry.
    ///
    /// Over a connection that bounds each attempt by itself
    /// (`self_bounded`), the first attempt runs without a timer of the
    /// store's: it waits at most for one connection attempt and one reply,
    /// which is the deadline. Only the rare second attempt gets a timer, for
    /// what is left of the deadline. Any other connection (an app's own, a
    /// Cluster, a Sentinel master) runs both attempts under one timer.
    async fn send_over_connection<T: FromRedisValue>(
        &self, request: Request<'_>,
    ) -> Result<T, Failure> {
        let Some(mut connection) = self.connection() else {
            return Err(Failure::ShutDown);
        };
        if !self.self_bounded {
            return Box::pin(self.send_under_timer(request, connection)).await;
        }
        let started = Instant::now();
        match request.query::<T, C>(&mut connection).await {
            Err(error) if is_retried(&error) => Box::pin(self.retry(request, error, started)).await,
            other => other.map_err(Failure::Redis),
        }
    }

    /// [`send`](Self::send) on the direct connection: `command` (an
    /// `EVALSHA` of `script`, when there is one), under one timer of the
    /// deadline, once more on a fresh connection when the leased one was
    /// kept from an earlier operation and is found broken (as it is after a
    /// server restart).
    async fn send_direct<T: FromRedisValue>(
        &self, mut lease: Lease<'_>, command: &dyn Packed, script: Option<&Script>,
    ) -> Result<T, Failure> {
        let attempt = async {
            match self.query_direct(&mut lease, command, script).await {
                // The failed connection was closed: the lease connects anew.
                Err(error) if is_retried(&error) && lease.reused() => {
                    self.query_direct(&mut lease, command, script).await
                }
                other => other,
            }
        };
        match tokio::time::timeout(self.deadline, attempt).await {
            Ok(Ok(value)) => ::redis::from_redis_value(value).map_err(|e| Failure::Redis(e.into())),
            Ok(Err(error)) => Err(Failure::Redis(error)),
            Err(_) => Err(self.timed_out()),
        }
    }

    /// [`send`](Self::send) on the shared connection, when other operations
    /// are in flight: `command` (an `EVALSHA` of `script`, when there is
    /// one), under one timer of the deadline, once more when the connection
    /// broke (it reconnects).
    async fn send_shared<T: FromRedisValue>(
        &self, direct: &DirectConnection, command: &dyn Packed, script: Option<&Script>,
    ) -> Result<T, Failure> {
        let attempt = async {
            match self.query_shared(direct, command, script).await {
                Err(error) if is_retried(&error) && !direct.is_closed() => {
                    self.query_shared(direct, command, script).await
                }
                other => other,
            }
        };
        match tokio::time::timeout(self.deadline, attempt).await {
            Ok(Ok(value)) => ::redis::from_redis_value(value).map_err(|e| Failure::Redis(e.into())),
            Ok(Err(_)) if direct.is_closed() => Err(Failure::ShutDown),
            Ok(Err(error)) => Err(Failure::Redis(error)),
            Err(_) => Err(self.timed_out()),
        }
    }

    /// The deadline passed. (The direct and shared paths call tokio's
    /// `timeout` rather than `within`: a future passed through one more
    /// async function is held twice in its state, and these futures are
    /// held by every request's.)
    fn timed_out(&self) -> Failure {
        Failure::TimedOut(TimedOut {
            backend: BACKEND,
            limit: self.deadline,
        })
    }

    /// One attempt of [`send_shared`](Self::send_shared), as
    /// [`query_direct`](Self::query_direct) is of the direct path.
    async fn query_shared(
        &self, direct: &DirectConnection, command: &dyn Packed, script: Option<&Script>,
    ) -> Result<Value, RedisError> {
        let answer = direct.query_shared(command).await?.extract_error();
        match (answer, script) {
            (Err(error), Some(script))
                if error.kind() == ErrorKind::Server(ServerErrorKind::NoScript) =>
            {
                Box::pin(self.load_script(script)).await?;
                direct.query_shared(command).await?.extract_error()
            }
            (answer, _) => answer,
        }
    }

    /// One attempt of [`send_direct`](Self::send_direct): the command's
    /// reply, or its error; a `NOSCRIPT` loads the script (over the
    /// connection manager) and sends the command again.
    async fn query_direct(
        &self, lease: &mut Lease<'_>, command: &dyn Packed, script: Option<&Script>,
    ) -> Result<Value, RedisError> {
        let answer = lease.query(command).await?.extract_error();
        match (answer, script) {
            (Err(error), Some(script))
                if error.kind() == ErrorKind::Server(ServerErrorKind::NoScript) =>
            {
                Box::pin(self.load_script(script)).await?;
                lease.query(command).await?.extract_error()
            }
            (answer, _) => answer,
        }
    }

    async fn load_script(&self, script: &Script) -> Result<(), RedisError> {
        let Some(mut connection) = self.connection() else {
            return Err(RedisError::from((
                ErrorKind::Io,
                "the session store was shut down",
            )));
        };
        script.load_async(&mut connection).await.map(drop)
    }

    /// The second attempt of [`send`](Self::send) over a self-bounded
    /// connection, after `error`, within what is left of the deadline.
    async fn retry<T: FromRedisValue>(
        &self, request: Request<'_>, error: RedisError, started: Instant,
    ) -> Result<T, Failure> {
        let Some(mut connection) = self.connection() else {
            return Err(Failure::Redis(error));
        };
        let left = self.deadline.saturating_sub(started.elapsed());
        match within(BACKEND, left, request.query::<T, C>(&mut connection)).await {
            Ok(result) => result.map_err(Failure::Redis),
            Err(_) => Err(Failure::TimedOut(TimedOut {
                backend: BACKEND,
                limit: self.deadline,
            })),
        }
    }

    /// Both attempts of [`send`](Self::send) under one timer of the deadline.
    async fn send_under_timer<T: FromRedisValue>(
        &self, request: Request<'_>, mut connection: C,
    ) -> Result<T, Failure> {
        let attempt = async {
            match request.query::<T, C>(&mut connection).await {
                Err(error) if is_retried(&error) => {
                    let Some(mut connection) = self.connection() else {
                        return Err(error);
                    };
                    request.query::<T, C>(&mut connection).await
                }
                other => other,
            }
        };
        match within(BACKEND, self.deadline, attempt).await {
            Ok(result) => result.map_err(Failure::Redis),
            Err(timed_out) => Err(Failure::TimedOut(timed_out)),
        }
    }

    /// `load_and_touch` on a server without `GETEX`: `GET` and `EXPIRE` in
    /// one pipeline.
    async fn get_and_expire(&self, key: &str, seconds: u64) -> StoreResult<Option<Vec<u8>>> {
        let mut pipeline = ::redis::pipe();
        pipeline
            .cmd("GET")
            .arg(key)
            .cmd("EXPIRE")
            .arg(key)
            .arg(seconds)
            .ignore();
        let (value,): (Option<Vec<u8>>,) = self
            .run("load_and_touch", Request::Pipeline(&pipeline))
            .await?;
        Ok(value)
    }

    async fn run<T: FromRedisValue>(
        &self, operation: &'static str, request: Request<'_>,
    ) -> Result<T, StoreError> {
        self.send(request)
            .await
            .map_err(|failure| failure.into_store_error(operation))
    }
}

#[async_trait]
impl<C> SessionStore for RedisStore<C>
where
    C: ConnectionLike + Clone + Send + Sync + 'static,
{
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn ping(&self) -> Result<PingInfo, StoreError> {
        self.server_version().await.map(PingInfo::with_version)
    }

    /// Drops the store's connection: one the store built (a connection
    /// manager, or a Cluster's connections) closes once no operation under
    /// way uses it; an app's own connection keeps its other clones. Later
    /// operations on the store fail as unavailable.
    async fn shutdown(&self) {
        let connection = self
            .connection
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        drop(connection);
        if let Some(direct) = &self.direct {
            direct.close();
        }
    }

    async fn load(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.load_in_place(key).await
    }

    async fn load_and_touch(&self, key: &str, ttl: Duration) -> StoreResult<Option<Vec<u8>>> {
        self.load_and_touch_in_place(key, ttl).await
    }

    async fn save(&self, key: &str, value: &[u8], ttl: Duration, _: SaveHint) -> StoreResult<()> {
        self.save_in_place(key, value, ttl).await
    }

    async fn save_if_unchanged(
        &self, key: &str, expected: &[u8], value: &[u8], ttl: Duration,
    ) -> StoreResult<WriteOutcome> {
        self.save_if_unchanged_in_place(key, expected, value, ttl)
            .await
    }

    async fn insert_new(
        &self, key: &str, value: &[u8], ttl: Duration,
    ) -> StoreResult<WriteOutcome> {
        let (evalsha, script) = conditional::insert_new(key, value, ttl_seconds(ttl));
        let answer = self
            .run("insert_new", Request::Script(&evalsha, script))
            .await?;
        Ok(conditional::outcome(answer))
    }

    async fn touch(&self, key: &str, ttl: Duration) -> Result<(), StoreError> {
        let mut expire = command::sized("EXPIRE", 2, key.len() + command::INTEGER);
        expire.arg(key).arg(ttl_seconds(ttl));
        self.run::<i64>("touch", Request::Cmd(&expire))
            .await
            .map(drop)
    }

    async fn add_owned(
        &self, owner: &str, key: &str, created: SystemTime, ttl: Duration,
    ) -> StoreResult<()> {
        self.index_add(owner, key, created, ttl).await
    }

    async fn remove_owned(&self, owner: &str, key: &str) -> StoreResult<()> {
        self.index_remove(owner, key).await
    }

    async fn list_owned(&self, owner: &str) -> StoreResult<Vec<IndexedSession>> {
        self.index_list(owner).await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let mut del = command::sized("DEL", 1, key.len());
        del.arg(key);
        self.run::<i64>("delete", Request::Cmd(&del))
            .await
            .map(drop)
    }
}

/// One command, one pipeline, or one script call.
#[derive(Clone, Copy)]
enum Request<'a> {
    Cmd(&'a dyn Packed),
    Pipeline(&'a Pipeline),
    /// An `EVALSHA`, and the script to load when the server lacks it.
    Script(&'a dyn Packed, &'a Script),
}

impl<'a> Request<'a> {
    /// The one command of a request that is one (a command, or a script's
    /// `EVALSHA`), and its script: what a direct connection sends.
    fn single(self) -> Option<(&'a dyn Packed, Option<&'a Script>)> {
        match self {
            Request::Cmd(cmd) => Some((cmd, None)),
            Request::Script(evalsha, script) => Some((evalsha, Some(script))),
            Request::Pipeline(_) => None,
        }
    }

    async fn query<T: FromRedisValue, C: ConnectionLike + 'static>(
        self, connection: &mut C,
    ) -> Result<T, RedisError> {
        match self {
            Request::Cmd(cmd) => command(&cmd.to_cmd(), connection).await,
            Request::Pipeline(pipeline) => pipeline.query_async(connection).await,
            Request::Script(evalsha, script) => {
                let evalsha = evalsha.to_cmd();
                match command(&evalsha, connection).await {
                    Err(error) if error.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                        Box::pin(async {
                            script.load_async(connection).await?;
                            evalsha.query_async(connection).await
                        })
                        .await
                    }
                    other => other,
                }
            }
        }
    }
}

/// Sends one command and reads its reply, as `Cmd::query_async` does. Over
/// a connection manager (the store's own, or an app's) it calls the
/// manager's own `send_packed_command`, whose future is inline, where
/// `ConnectionLike` would box it. The check is on `C`'s type, decided when
/// the store is compiled, not per call.
async fn command<T: FromRedisValue, C: ConnectionLike + 'static>(
    cmd: &Cmd, connection: &mut C,
) -> Result<T, RedisError> {
    let any: &mut dyn Any = connection;
    let reply = if let Some(RedisConnection::Single(manager)) = any.downcast_mut() {
        manager.send_packed_command(cmd).await?
    } else if let Some(manager) = any.downcast_mut::<ConnectionManager>() {
        manager.send_packed_command(cmd).await?
    } else {
        connection.req_packed_command(cmd).await?
    };
    Ok(::redis::from_redis_value(reply.extract_error()?)?)
}

/// Why an operation failed, before it becomes a [`StoreError`].
enum Failure {
    Redis(RedisError),
    TimedOut(TimedOut),
    /// The store was shut down.
    ShutDown,
}

impl Failure {
    fn into_store_error(self, operation: &'static str) -> StoreError {
        match self {
            Failure::TimedOut(timed_out) => StoreError::unavailable(BACKEND, operation, timed_out),
            Failure::ShutDown => {
                StoreError::unavailable(BACKEND, operation, "the session store was shut down")
            }
            Failure::Redis(error) => {
                StoreError::classified(BACKEND, operation, is_unavailable(&error), error)
            }
        }
    }
}

/// Whether the error means the server cannot be reached (503) rather than
/// that it answered with a failure (500).
fn is_unavailable(error: &RedisError) -> bool {
    error.is_io_error()
        || error.is_timeout()
        || error.is_connection_refusal()
        || error.is_connection_dropped()
        || matches!(
            error.kind(),
            ErrorKind::ClusterConnectionNotFound
                | ErrorKind::Server(
                    ServerErrorKind::ClusterDown
                        | ServerErrorKind::MasterDown
                        | ServerErrorKind::TryAgain
                        | ServerErrorKind::BusyLoading
                        | ServerErrorKind::ReadOnly
                )
        )
}

/// Whether a failed attempt is sent once more: the connection broke under
/// it (the next attempt reconnects), not a reply that timed out.
fn is_retried(error: &RedisError) -> bool {
    error.is_io_error() && !error.is_timeout()
}

/// Redis before 6.2 answers `GETEX` with `ERR unknown command 'GETEX'`.
fn is_unknown_command(error: &RedisError) -> bool {
    error.kind() == ErrorKind::Server(ServerErrorKind::ResponseError)
        && error
            .to_string()
            .to_ascii_lowercase()
            .contains("unknown command")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_command_is_recognised() {
        let error = RedisError::from((
            ErrorKind::Server(ServerErrorKind::ResponseError),
            "An error was signalled by the server",
            "unknown command 'GETEX', with args beginning with: 'k'".to_owned(),
        ));
        assert!(is_unknown_command(&error), "{error}");
        let io = RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(!is_unknown_command(&io));
        assert!(is_unavailable(&io));
    }

    #[tokio::test]
    async fn startup_with_the_server_down_names_the_redacted_url() {
        // Port 1 on loopback: nothing listens, the connection is refused.
        let settings = {
            let mut settings = session_config::Settings::default();
            settings.redis = vec![session_config::ConnectionUrl::new(
                "redis://user:hunter2@127.0.0.1:1/0",
            )];
            settings
        };
        let started = std::time::Instant::now();
        let error = RedisStore::from_settings(&settings).await.err();
        let message = error.map(|e| e.to_string()).unwrap_or_default();
        for named in ["redis", "127.0.0.1:1"] {
            assert!(message.contains(named), "{message}");
        }
        assert!(!message.contains("hunter2"), "the password: {message}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }

    #[tokio::test]
    async fn startup_with_every_sentinel_down_names_them_and_the_master() {
        let settings = {
            let mut settings = session_config::Settings::default();
            settings.redis_sentinels = vec![
                session_config::ConnectionUrl::new("redis://:hunter2@127.0.0.1:1"),
                session_config::ConnectionUrl::new("redis://127.0.0.1:2"),
            ];
            settings.redis_sentinel_master = Some("mymaster".to_owned());
            settings.redis_sentinel_password = Some(session_config::Secret::new("sentinel-pw"));
            settings.redis_sentinel_master_password =
                Some(session_config::Secret::new("master-pw"));
            settings
        };
        let started = std::time::Instant::now();
        let error = RedisStore::from_settings(&settings).await.err();
        let message = error.map(|e| e.to_string()).unwrap_or_default();
        for named in [
            "redis",
            "Sentinels",
            "127.0.0.1:1",
            "127.0.0.1:2",
            "mymaster",
        ] {
            assert!(message.contains(named), "{named}: {message}");
        }
        for secret in ["hunter2", "sentinel-pw", "master-pw"] {
            assert!(!message.contains(secret), "a password: {message}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }
}
