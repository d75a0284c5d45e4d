//! The connection a store built from settings or a client holds: one
//! [`ConnectionManager`] for a single server, one [`ClusterConnection`] for a
//! Redis Cluster, one [`SentinelConnection`] for a Sentinel-managed master,
//! behind one type so that all build the same [`RedisStore`].

use std::sync::Arc;
use std::time::Duration;

use ::redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use ::redis::cluster::ClusterClient;
use ::redis::cluster_async::ClusterConnection;
use ::redis::sentinel::{SentinelClient, SentinelNodeConnectionInfo, SentinelServerType};
use ::redis::{
    Cmd, ConnectionAddr, ConnectionInfo, IntoConnectionInfo, Pipeline, ProtocolVersion,
    RedisConnectionInfo, RedisError, RedisFuture, TlsMode, Value,
};
use session_config::{ConnectionUrl, Settings};

use super::direct::DirectConnection;
use super::sentinel::SentinelConnection;
use super::{RedisStore, BACKEND};
use crate::store::support::within;
use crate::store::{BuildError, Timeouts};

/// A connection to one Redis server or to a Redis Cluster. Commands go
/// straight to the connection inside: one `match`, no allocation of its own.
/// Cloning is cheap and shares the connection.
#[derive(Clone)]
#[non_exhaustive]
pub enum RedisConnection {
    /// One server, through a connection manager that reconnects by itself.
    Single(ConnectionManager),
    /// A Redis Cluster, routing each key to its slot's node.
    Cluster(ClusterConnection),
    /// The master of a Sentinel-managed Redis, found again after a failover.
    Sentinel(SentinelConnection),
}

impl ConnectionLike for RedisConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            RedisConnection::Single(connection) => connection.req_packed_command(cmd),
            RedisConnection::Cluster(connection) => connection.req_packed_command(cmd),
            RedisConnection::Sentinel(connection) => connection.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self, pipeline: &'a Pipeline, offset: usize, count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            RedisConnection::Single(connection) => {
                connection.req_packed_commands(pipeline, offset, count)
            }
            RedisConnection::Cluster(connection) => {
                connection.req_packed_commands(pipeline, offset, count)
            }
            RedisConnection::Sentinel(connection) => {
                connection.req_packed_commands(pipeline, offset, count)
            }
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            RedisConnection::Single(connection) => connection.get_db(),
            RedisConnection::Cluster(connection) => connection.get_db(),
            RedisConnection::Sentinel(connection) => connection.get_db(),
        }
    }
}

/// A client the app already has: for one server or for a Cluster. Both
/// `redis::Client` and `redis::cluster::ClusterClient` convert into it, so
/// [`RedisStore::from_client`] takes either.
#[derive(Clone)]
#[non_exhaustive]
// Built once at start-up: the size of the larger client does not matter.
#[allow(clippy::large_enum_variant)]
pub enum RedisClient {
    /// A client of one server.
    Single(::redis::Client),
    /// A client of a Redis Cluster.
    Cluster(ClusterClient),
}

impl From<::redis::Client> for RedisClient {
    fn from(client: ::redis::Client) -> Self {
        RedisClient::Single(client)
    }
}

impl From<ClusterClient> for RedisClient {
    fn from(client: ClusterClient) -> Self {
        RedisClient::Cluster(client)
    }
}

impl RedisStore<RedisConnection> {
    /// Builds the store that the settings describe: with `redis_sentinels`,
    /// the master the Sentinels name `redis_sentinel_master`; otherwise
    /// `SESSION_REDIS`, where one URL gives a single server and several the
    /// seed nodes of a Cluster. The server is contacted here, so start-up
    /// fails when it is down.
    ///
    /// # Errors
    ///
    /// [`BuildError::Backend`], naming the URLs with their passwords
    /// redacted, when no URL is configured, a URL is malformed, or the server
    /// (or every Sentinel, or the master they name) cannot be reached,
    /// refuses the credentials or does not answer within twice
    /// `connect_timeout + operation_timeout`.
    pub async fn from_settings(settings: &Settings) -> Result<Self, BuildError> {
        if !settings.redis_sentinels.is_empty() {
            // Boxed: redis-rs's Sentinel look-up is a deep future, and inline
            // it pushes the adapters' start-up futures past rustc's layout
            // depth limit.
            return Box::pin(Self::from_sentinel_settings(settings)).await;
        }
        let urls = settings.redis.as_slice();
        let location = urls
            .iter()
            .map(ConnectionUrl::redacted)
            .collect::<Vec<_>>()
            .join(", ");
        if urls.iter().any(|url| url.as_str().starts_with("rediss:")) {
            install_tls_provider();
        }
        let client = match urls {
            [] => {
                return Err(BuildError::backend(
                    BACKEND,
                    "SESSION_REDIS",
                    "no Redis URL is configured",
                ))
            }
            [url] => ::redis::Client::open(url.as_str()).map(RedisClient::Single),
            urls => {
                let timeouts = Timeouts::from_settings(settings);
                ClusterClient::builder(urls.iter().map(ConnectionUrl::as_str))
                    .connection_timeout(timeouts.connect)
                    .response_timeout(timeouts.operation)
                    .retries(2)
                    .build()
                    .map(RedisClient::Cluster)
            }
        }
        .map_err(|source| BuildError::backend(BACKEND, location.as_str(), source))?;
        let store = Self::open(client, settings, location).await?;
        Ok(store.with_key_prefix(&settings.key_prefix))
    }

    /// Builds the store over a client the app already has (the Rust form of
    /// Flask-Session's "pass your own `redis.Redis`"), with the timeouts of
    /// the settings. A single server gets a [`ConnectionManager`] that makes
    /// one connection attempt per reconnection, so a dead server fails fast;
    /// a cluster client keeps its own settings. Connects once to check the
    /// server is there.
    ///
    /// # Errors
    ///
    /// [`BuildError::Backend`] when the server cannot be reached, refuses the
    /// credentials or does not answer in time.
    pub async fn from_client(
        client: impl Into<RedisClient>, settings: &Settings,
    ) -> Result<Self, BuildError> {
        let client = client.into();
        let location = match &client {
            RedisClient::Single(client) => client.get_connection_info().addr().to_string(),
            RedisClient::Cluster(_) => "Redis Cluster".to_owned(),
        };
        let store = Self::open(client, settings, location).await?;
        Ok(store.with_key_prefix(&settings.key_prefix))
    }

    /// Builds the store over a Sentinel client the app already has, with the
    /// timeouts of the settings; `master` is the name the client asks for,
    /// used in logs. Asks the Sentinels for the master and connects to it
    /// once, to check it is there.
    ///
    /// # Errors
    ///
    /// [`BuildError::Backend`] when no Sentinel names a reachable master in
    /// time, or the master refuses the credentials.
    pub async fn from_sentinel_client(
        client: SentinelClient, master: &str, settings: &Settings,
    ) -> Result<Self, BuildError> {
        let location = format!("Sentinel master {master:?}");
        let store =
            Self::open_sentinel(client, master, Timeouts::from_settings(settings), location)
                .await?;
        Ok(store.with_key_prefix(&settings.key_prefix))
    }

    async fn from_sentinel_settings(settings: &Settings) -> Result<Self, BuildError> {
        let urls = settings.redis_sentinels.as_slice();
        let master = settings
            .redis_sentinel_master
            .as_deref()
            .map(str::trim)
            .unwrap_or_default();
        let location = format!(
            "Sentinels {} (master {master:?})",
            urls.iter()
                .map(ConnectionUrl::redacted)
                .collect::<Vec<_>>()
                .join(", ")
        );
        let fail =
            |source: crate::store::BoxError| BuildError::backend(BACKEND, &*location, source);
        if master.is_empty() {
            return Err(fail(
                "SESSION_REDIS_SENTINEL_MASTER (redis_sentinel_master) is not set".into(),
            ));
        }
        let tls = urls.iter().any(|url| url.as_str().starts_with("rediss:"));
        if tls {
            install_tls_provider();
        }
        let sentinel_password = settings
            .redis_sentinel_password
            .as_ref()
            .map(|p| p.expose());
        let sentinels = urls
            .iter()
            .map(|url| sentinel_info(url.as_str(), sentinel_password))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| fail(e.into()))?;
        let mut redis = RedisConnectionInfo::default();
        if let Some(password) = &settings.redis_sentinel_master_password {
            redis = redis.set_password(password.expose());
        }
        let mut node = SentinelNodeConnectionInfo::default().set_redis_connection_info(redis);
        if tls {
            node = node.set_tls_mode(TlsMode::Secure);
        }
        let client =
            SentinelClient::build(sentinels, master, Some(node), SentinelServerType::Master)
                .map_err(|e| fail(e.into()))?;
        let store =
            Self::open_sentinel(client, master, Timeouts::from_settings(settings), location)
                .await?;
        Ok(store.with_key_prefix(&settings.key_prefix))
    }

    async fn open_sentinel(
        client: SentinelClient, master: &str, timeouts: Timeouts, location: String,
    ) -> Result<Self, BuildError> {
        let fail =
            |source: crate::store::BoxError| BuildError::backend(BACKEND, &*location, source);
        let connect = SentinelConnection::connect(client, master, timeouts);
        let connection = within(BACKEND, timeouts.deadline().saturating_mul(2), connect)
            .await
            .map_err(|e| fail(e.into()))?
            .map_err(|e| fail(e.into()))?;
        Ok(Self::from_connection(RedisConnection::Sentinel(connection))
            .with_deadline(timeouts.deadline()))
    }

    async fn open(
        client: RedisClient, settings: &Settings, location: String,
    ) -> Result<Self, BuildError> {
        let timeouts = Timeouts::from_settings(settings);
        let fail =
            |source: crate::store::BoxError| BuildError::backend(BACKEND, &*location, source);
        let wait = timeouts.deadline().saturating_mul(2);
        let mut direct = None;
        let connection = match client {
            RedisClient::Single(client) => {
                direct = direct_connection(client.get_connection_info());
                if matches!(
                    client.get_connection_info().addr(),
                    ConnectionAddr::TcpTls { .. }
                ) {
                    install_tls_provider();
                }
                // One connection attempt per reconnection: a request that
                // meets a reconnection then waits at most `connect` for it
                // and `operation` for its reply, the store's deadline, with
                // no timer of the store's (see `RedisStore::send`). The next
                // request after a failed attempt starts another.
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(timeouts.connect))
                    .set_response_timeout(Some(timeouts.operation))
                    .set_number_of_retries(0)
                    .set_min_delay(Duration::from_millis(50))
                    .set_max_delay(timeouts.connect);
                let connect = async {
                    let mut manager = ConnectionManager::new_with_config(client, config).await?;
                    ::redis::cmd("PING").query_async::<()>(&mut manager).await?;
                    Ok::<_, RedisError>(manager)
                };
                RedisConnection::Single(
                    within(BACKEND, wait, connect)
                        .await
                        .map_err(|e| fail(e.into()))?
                        .map_err(|e| fail(e.into()))?,
                )
            }
            // With TLS, rustls uses the process's default crypto provider
            // (installed above for URLs; ring, when it is the only one
            // compiled in, for an app's own client).
            RedisClient::Cluster(client) => RedisConnection::Cluster(
                within(BACKEND, wait, client.get_async_connection())
                    .await
                    .map_err(|e| fail(e.into()))?
                    .map_err(|e| fail(e.into()))?,
            ),
        };
        let self_bounded = matches!(connection, RedisConnection::Single(_));
        let mut store = Self::from_connection(connection).with_deadline(timeouts.deadline());
        store.self_bounded = self_bounded;
        store.direct = direct.map(Arc::new);
        Ok(store)
    }
}

/// The direct connection ([`super::direct`]) to the server `info` names,
/// when it is a plain TCP server spoken to in RESP2 (a TLS or Unix socket
/// server, or RESP3, uses the connection manager alone).
fn direct_connection(info: &ConnectionInfo) -> Option<DirectConnection> {
    let ConnectionAddr::Tcp(host, port) = info.addr() else {
        return None;
    };
    let redis = info.redis_settings();
    if redis.protocol() != ProtocolVersion::RESP2 {
        return None;
    }
    Some(DirectConnection::new(
        host,
        *port,
        redis.username(),
        redis.password(),
        redis.db(),
    ))
}

/// One Sentinel's address and credentials: its own from the URL, else the
/// shared `redis_sentinel_password`.
fn sentinel_info(url: &str, password: Option<&str>) -> Result<ConnectionInfo, RedisError> {
    let info = url.into_connection_info()?;
    match password {
        Some(password) if info.redis_settings().password().is_none() => {
            let redis = info.redis_settings().clone().set_password(password);
            Ok(info.set_redis_settings(redis))
        }
        _ => Ok(info),
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
