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
//! # Connections
//!
//! One URL in `SESSION_REDIS` gives a [`ConnectionManager`]: one multiplexed
//! connection shared by every request, which reconnects by itself when the
//! server goes away and comes back, with no app restart. Several URLs are the
//! seed nodes of a Redis Cluster and give a [`ClusterConnection`], which
//! routes each key to its slot's node. `rediss://` URLs use TLS (rustls, with
//! the system's root certificates).
//!
//! An app that already holds a Redis connection can share it: see
//! [`RedisStore::new`] and [`RedisStore::from_client`].
//!
//! # Failures
//!
//! `connect_timeout` bounds each connection attempt and `operation_timeout`
//! each reply; on top of that every store operation has an overall deadline
//! of both added together, so a dead or unreachable server fails the request
//! fast instead of hanging it. A refused, reset or timed-out connection, an
//! I/O error, and a cluster that is down or has no connection to a slot's node
//! are [`StoreErrorKind::Unavailable`](super::StoreErrorKind::Unavailable)
//! (HTTP 503); anything else the server answers, such as a failed `AUTH` or a
//! wrong-type key, is `Failed` (500). An operation that fails because the
//! connection dropped is sent once more on a fresh connection, so the first
//! request after a server restart succeeds; every command here is idempotent.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ::redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use ::redis::cluster::ClusterClient;
use ::redis::cluster_async::ClusterConnection;
use ::redis::{
    Cmd, ConnectionAddr, ErrorKind, FromRedisValue, Pipeline, RedisError, ServerErrorKind,
};
use async_trait::async_trait;
use session_config::{ConnectionUrl, Settings};

use super::{BuildError, SaveHint, SessionStore, StoreError};

/// The `redis` crate this store is built on, so an app can build the client
/// or connection it hands over with the same version.
pub use ::redis;

const BACKEND: &str = "redis";

/// A store over a Redis Cluster.
pub type RedisClusterStore = RedisStore<ClusterConnection>;

/// The timeouts of a store built from URLs or a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RedisTimeouts {
    /// How long one connection attempt may take (`SESSION_CONNECT_TIMEOUT`).
    pub connect: Duration,
    /// How long the server may take to answer one command
    /// (`SESSION_OPERATION_TIMEOUT`).
    pub operation: Duration,
}

impl Default for RedisTimeouts {
    /// The defaults of `Settings`: 2 s to connect, 1 s per operation.
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(2),
            operation: Duration::from_secs(1),
        }
    }
}

impl RedisTimeouts {
    /// `connect_timeout` and `operation_timeout` from the settings.
    pub fn from_settings(settings: &Settings) -> Self {
        Self {
            connect: settings.connect_timeout,
            operation: settings.operation_timeout,
        }
    }

    /// The overall deadline of one store operation: a reconnection plus a
    /// reply.
    pub fn deadline(&self) -> Duration {
        self.connect.saturating_add(self.operation)
    }
}

/// Sessions in Redis, over any async Redis connection: a [`ConnectionManager`]
/// (the default) for one server, a [`ClusterConnection`] for a Cluster
/// ([`RedisClusterStore`]), or another [`ConnectionLike`] the app owns.
///
/// Cloning is cheap and shares the connection.
pub struct RedisStore<C = ConnectionManager> {
    connection: C,
    deadline: Duration,
    /// False once the server has answered `GETEX` with "unknown command".
    getex: Arc<AtomicBool>,
}

impl<C: Clone> Clone for RedisStore<C> {
    fn clone(&self) -> Self {
        Self {
            connection: self.connection.clone(),
            deadline: self.deadline,
            getex: Arc::clone(&self.getex),
        }
    }
}

impl<C> fmt::Debug for RedisStore<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("connection", &std::any::type_name::<C>())
            .field("deadline", &self.deadline)
            .field("getex", &self.getex.load(Ordering::Relaxed))
            .finish()
    }
}

/// Builds the store that `SESSION_REDIS` describes: one URL gives a single
/// server, several give a Cluster. The server is contacted here, so start-up
/// fails with an error naming the URL (password redacted) when it is down.
pub async fn from_settings(settings: &Settings) -> Result<Arc<dyn SessionStore>, BuildError> {
    let timeouts = RedisTimeouts::from_settings(settings);
    match settings.redis.as_slice() {
        [] => Err(BuildError::Backend {
            backend: BACKEND,
            location: "SESSION_REDIS".to_owned(),
            source: "no Redis URL is configured".into(),
        }),
        [url] => Ok(Arc::new(RedisStore::connect(url, timeouts).await?)),
        urls => Ok(Arc::new(RedisStore::connect_cluster(urls, timeouts).await?)),
    }
}

impl RedisStore<ConnectionManager> {
    /// Connects to one Redis server at `url` (`redis://`, `rediss://`,
    /// `redis+unix://`, with user, password and database as the `redis` crate
    /// reads them). Fails when the server cannot be reached or refuses the
    /// credentials; the error names the URL with its password redacted.
    pub async fn connect(url: &ConnectionUrl, timeouts: RedisTimeouts) -> Result<Self, BuildError> {
        let location = url.redacted();
        let client =
            ::redis::Client::open(url.as_str()).map_err(|source| build_error(&location, source))?;
        Self::from_client_at(client, timeouts, location).await
    }

    /// Builds the store over a client the app already has, with a
    /// [`ConnectionManager`] configured from `timeouts` (few reconnection
    /// retries, so a dead server fails fast). Connects once to check the
    /// server is there.
    pub async fn from_client(
        client: ::redis::Client,
        timeouts: RedisTimeouts,
    ) -> Result<Self, BuildError> {
        let location = client.get_connection_info().addr().to_string();
        Self::from_client_at(client, timeouts, location).await
    }

    async fn from_client_at(
        client: ::redis::Client,
        timeouts: RedisTimeouts,
        location: String,
    ) -> Result<Self, BuildError> {
        if matches!(
            client.get_connection_info().addr(),
            ConnectionAddr::TcpTls { .. }
        ) {
            install_tls_provider();
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(timeouts.connect))
            .set_response_timeout(Some(timeouts.operation))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(timeouts.connect);
        let connect = async {
            let mut manager = ConnectionManager::new_with_config(client, config).await?;
            ::redis::cmd("PING").query_async::<()>(&mut manager).await?;
            Ok::<_, RedisError>(manager)
        };
        let manager =
            match tokio::time::timeout(timeouts.deadline().saturating_mul(2), connect).await {
                Ok(Ok(manager)) => manager,
                Ok(Err(source)) => return Err(build_error(&location, source)),
                Err(_) => {
                    return Err(build_error(
                        &location,
                        TimedOut(timeouts.deadline().saturating_mul(2)),
                    ))
                }
            };
        Ok(Self::new(manager).with_deadline(timeouts.deadline()))
    }
}

impl RedisStore<ClusterConnection> {
    /// Connects to the Redis Cluster whose seed nodes are `urls`. Fails when
    /// no node can be reached or the cluster's slots cannot be read.
    pub async fn connect_cluster(
        urls: &[ConnectionUrl],
        timeouts: RedisTimeouts,
    ) -> Result<Self, BuildError> {
        let location = urls
            .iter()
            .map(ConnectionUrl::redacted)
            .collect::<Vec<_>>()
            .join(", ");
        if urls.iter().any(|url| url.as_str().starts_with("rediss:")) {
            install_tls_provider();
        }
        let client = ClusterClient::builder(urls.iter().map(ConnectionUrl::as_str))
            .connection_timeout(timeouts.connect)
            .response_timeout(timeouts.operation)
            .retries(2)
            .build()
            .map_err(|source| build_error(&location, source))?;
        Self::from_cluster_client_at(client, timeouts, location).await
    }

    /// Builds the store over a cluster client the app already has. Connects
    /// once to check the cluster is there. With TLS, rustls uses the
    /// process's default crypto provider (ring, when it is the only one
    /// compiled in).
    pub async fn from_cluster_client(
        client: ClusterClient,
        timeouts: RedisTimeouts,
    ) -> Result<Self, BuildError> {
        Self::from_cluster_client_at(client, timeouts, "Redis Cluster".to_owned()).await
    }

    async fn from_cluster_client_at(
        client: ClusterClient,
        timeouts: RedisTimeouts,
        location: String,
    ) -> Result<Self, BuildError> {
        let wait = timeouts.deadline().saturating_mul(2);
        let connection = match tokio::time::timeout(wait, client.get_async_connection()).await {
            Ok(Ok(connection)) => connection,
            Ok(Err(source)) => return Err(build_error(&location, source)),
            Err(_) => return Err(build_error(&location, TimedOut(wait))),
        };
        Ok(Self::new(connection).with_deadline(timeouts.deadline()))
    }
}

impl<C> RedisStore<C>
where
    C: ConnectionLike + Clone + Send + Sync + 'static,
{
    /// Wraps a connection the app already holds and configured itself: a
    /// [`ConnectionManager`], a [`ClusterConnection`] or a multiplexed
    /// connection. It is the Rust form of Flask-Session's "pass your own
    /// `redis.Redis`". Each operation gets the default deadline of
    /// [`RedisTimeouts::default`] (3 s); see [`RedisStore::with_deadline`].
    pub fn new(connection: C) -> Self {
        Self {
            connection,
            deadline: RedisTimeouts::default().deadline(),
            getex: Arc::new(AtomicBool::new(true)),
        }
    }

    /// Sets the overall deadline of one store operation, after which it fails
    /// as unavailable.
    pub fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// The connection the store sends its commands on.
    pub fn connection(&self) -> &C {
        &self.connection
    }

    /// Whether `load_and_touch` still uses `GETEX`: false once the server has
    /// said it does not know the command (Redis before 6.2).
    pub fn uses_getex(&self) -> bool {
        self.getex.load(Ordering::Relaxed)
    }

    /// Sends one request within the deadline, once more on a fresh connection
    /// when the first attempt found the connection dropped.
    async fn send<T: FromRedisValue>(&self, request: Request<'_>) -> Result<T, Failure> {
        let attempt = async {
            let mut connection = self.connection.clone();
            match request.query::<T, C>(&mut connection).await {
                Err(error) if error.is_io_error() && !error.is_timeout() => {
                    let mut connection = self.connection.clone();
                    request.query::<T, C>(&mut connection).await
                }
                other => other,
            }
        };
        match tokio::time::timeout(self.deadline, attempt).await {
            Ok(result) => result.map_err(Failure::Redis),
            Err(_) => Err(Failure::TimedOut(TimedOut(self.deadline))),
        }
    }

    async fn run<T: FromRedisValue>(
        &self,
        operation: &'static str,
        request: Request<'_>,
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

    async fn load(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let mut get = ::redis::cmd("GET");
        get.arg(key);
        self.run("load", Request::Cmd(&get)).await
    }

    async fn load_and_touch(
        &self,
        key: &str,
        ttl: Duration,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let seconds = ttl_seconds(ttl);
        if self.getex.load(Ordering::Relaxed) {
            let mut getex = ::redis::cmd("GETEX");
            getex.arg(key).arg("EX").arg(seconds);
            match self.send(Request::Cmd(&getex)).await {
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

    async fn save(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
        _hint: SaveHint,
    ) -> Result<(), StoreError> {
        let mut set = ::redis::cmd("SET");
        set.arg(key).arg(value).arg("EX").arg(ttl_seconds(ttl));
        self.run("save", Request::Cmd(&set)).await
    }

    async fn touch(&self, key: &str, ttl: Duration) -> Result<(), StoreError> {
        let mut expire = ::redis::cmd("EXPIRE");
        expire.arg(key).arg(ttl_seconds(ttl));
        self.run::<i64>("touch", Request::Cmd(&expire))
            .await
            .map(drop)
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let mut del = ::redis::cmd("DEL");
        del.arg(key);
        self.run::<i64>("delete", Request::Cmd(&del))
            .await
            .map(drop)
    }
}

/// One command or one pipeline.
#[derive(Clone, Copy)]
enum Request<'a> {
    Cmd(&'a Cmd),
    Pipeline(&'a Pipeline),
}

impl Request<'_> {
    async fn query<T: FromRedisValue, C: ConnectionLike>(
        self,
        connection: &mut C,
    ) -> Result<T, RedisError> {
        match self {
            Request::Cmd(cmd) => cmd.query_async(connection).await,
            Request::Pipeline(pipeline) => pipeline.query_async(connection).await,
        }
    }
}

/// Why an operation failed, before it becomes a [`StoreError`].
enum Failure {
    Redis(RedisError),
    TimedOut(TimedOut),
}

impl Failure {
    fn into_store_error(self, operation: &'static str) -> StoreError {
        match self {
            Failure::TimedOut(timed_out) => StoreError::unavailable(BACKEND, operation, timed_out),
            Failure::Redis(error) if is_unavailable(&error) => {
                StoreError::unavailable(BACKEND, operation, error)
            }
            Failure::Redis(error) => StoreError::failed(BACKEND, operation, error),
        }
    }
}

/// An operation or a connection attempt exceeded its deadline.
#[derive(Debug, thiserror::Error)]
#[error("no answer from Redis within {0:?}")]
struct TimedOut(Duration);

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
                )
        )
}

/// Redis before 6.2 answers `GETEX` with `ERR unknown command 'GETEX'`.
fn is_unknown_command(error: &RedisError) -> bool {
    error.kind() == ErrorKind::Server(ServerErrorKind::ResponseError)
        && error
            .to_string()
            .to_ascii_lowercase()
            .contains("unknown command")
}

/// A TTL in whole seconds for `EX`, rounded up and at least 1.
fn ttl_seconds(ttl: Duration) -> u64 {
    let seconds = ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0);
    seconds.max(1)
}

fn build_error(location: &str, source: impl Into<super::error::BoxError>) -> BuildError {
    BuildError::Backend {
        backend: BACKEND,
        location: location.to_owned(),
        source: source.into(),
    }
}

/// rustls needs a process-wide crypto provider; install ring's unless the app
/// has installed one already.
fn install_tls_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race with another installer is fine: a provider is set.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_are_whole_seconds_rounded_up() {
        assert_eq!(ttl_seconds(Duration::from_secs(2_678_400)), 2_678_400);
        assert_eq!(ttl_seconds(Duration::from_millis(1500)), 2);
        assert_eq!(ttl_seconds(Duration::from_millis(1)), 1);
        assert_eq!(ttl_seconds(Duration::ZERO), 1);
    }

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
        let url = ConnectionUrl::new("redis://user:hunter2@127.0.0.1:1/0");
        let started = std::time::Instant::now();
        let error = RedisStore::connect(&url, RedisTimeouts::default())
            .await
            .err();
        let message = error.map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("redis"), "{message}");
        assert!(message.contains("127.0.0.1:1"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
    }
}
