//! A Sentinel-managed Redis: the master is found through the Sentinels, and
//! found again after a failover, with no app restart.
//!
//! redis-rs has no connection manager that follows a failover: its
//! `ConnectionManager` reconnects to the address it started with, which after
//! a failover is a dead server or a replica. So this connection holds one
//! multiplexed connection to the master the Sentinels named, and throws it
//! away when it breaks (an I/O error, a dropped or refused connection, a
//! timeout) or when the server answers `READONLY` or `MASTERDOWN` (it has
//! become a replica). A background task then asks the Sentinels again, with
//! a short pause between attempts, until one names a master that confirms
//! its role (`ROLE`); each attempt is bounded by `connect_timeout +
//! operation_timeout`, so a hung Sentinel or master cannot stall it.
//!
//! Requests never wait for that task: while no master is known each command
//! fails at once with an I/O error ("no Redis master known"), which the store
//! reports as unavailable (HTTP 503), and the first command after the task
//! has installed the new master goes to it.

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use ::redis::aio::{ConnectionLike, MultiplexedConnection};
use ::redis::sentinel::SentinelClient;
use ::redis::{
    AsyncConnectionConfig, Cmd, ErrorKind, Pipeline, RedisError, RedisFuture, ServerErrorKind,
    Value,
};

use crate::store::Timeouts;

/// The first pause between two look-ups of the master; it doubles up to
/// [`LONGEST_PAUSE`] while no master is found.
const FIRST_PAUSE: Duration = Duration::from_millis(100);
/// The longest pause between two look-ups: a failover is noticed within it.
const LONGEST_PAUSE: Duration = Duration::from_secs(1);

/// A connection to the master of a Sentinel-managed Redis, which follows a
/// failover by itself. Cloning is cheap and shares the connection and the
/// Sentinel client.
#[derive(Clone)]
pub struct SentinelConnection {
    shared: Arc<Shared>,
}

struct Shared {
    /// The master's name, for the logs.
    master: String,
    /// Asks the Sentinels; held by the one look-up in flight.
    sentinel: tokio::sync::Mutex<SentinelClient>,
    state: Mutex<State>,
    config: AsyncConnectionConfig,
    /// The bound of one look-up: the Sentinels' answer, the master's `ROLE`
    /// and the connection to it.
    attempt: Duration,
}

struct State {
    /// Bumped each time the connection is dropped, so that several commands
    /// failing on one broken connection drop it once.
    generation: u64,
    master: Option<MultiplexedConnection>,
    looking_up: bool,
}

impl SentinelConnection {
    /// Asks the Sentinels of `client` for the master and connects to it,
    /// with `timeouts` bounding the connection and each reply.
    ///
    /// # Errors
    ///
    /// The client's error when no Sentinel answers, none names a master that
    /// confirms its role, or the master cannot be reached; a timeout error
    /// when all that takes longer than `connect + operation`.
    pub async fn connect(
        client: SentinelClient, master: impl Into<String>, timeouts: Timeouts,
    ) -> Result<Self, RedisError> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(timeouts.connect))
            .set_response_timeout(Some(timeouts.operation));
        let shared = Arc::new(Shared {
            master: master.into(),
            sentinel: tokio::sync::Mutex::new(client),
            state: Mutex::new(State {
                generation: 0,
                master: None,
                looking_up: false,
            }),
            config,
            attempt: timeouts.deadline(),
        });
        let connection = shared.look_up().await?;
        shared.lock().master = Some(connection);
        Ok(Self { shared })
    }

    /// Whether a master is known right now: false from a lost connection
    /// until the Sentinels name the new master.
    pub fn has_master(&self) -> bool {
        self.shared.lock().master.is_some()
    }

    /// The master's connection and its generation, or an error (and a
    /// look-up started) while none is known.
    fn current(&self) -> Result<(u64, MultiplexedConnection), RedisError> {
        let mut state = self.shared.lock();
        if let Some(connection) = &state.master {
            return Ok((state.generation, connection.clone()));
        }
        if !state.looking_up {
            state.looking_up = true;
            drop(state);
            Shared::spawn_look_up(&self.shared);
        }
        Err(no_master(&self.shared.master))
    }

    /// After a command's error: drops the connection it ran on when the
    /// error means the master is gone or is a master no more.
    fn after<T>(&self, generation: u64, result: Result<T, RedisError>) -> Result<T, RedisError> {
        if let Err(error) = &result {
            if master_lost(error) {
                self.shared.drop_master(generation, error);
            }
        }
        result
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // The state is a few fields set in one step each: a panic elsewhere
        // cannot leave it half-written.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn drop_master(self: &Arc<Self>, generation: u64, error: &RedisError) {
        let mut state = self.lock();
        if state.generation != generation || state.master.is_none() {
            return;
        }
        state.generation += 1;
        state.master = None;
        let start = !state.looking_up;
        state.looking_up = true;
        drop(state);
        tracing::warn!(
            backend = super::BACKEND,
            master = %self.master,
            %error,
            "lost the Redis master; asking the Sentinels for the current one"
        );
        if start {
            Self::spawn_look_up(self);
        }
    }

    /// Looks the master up until one is found. The task holds the store
    /// weakly, so it ends when the store is dropped.
    fn spawn_look_up(shared: &Arc<Self>) {
        let weak: Weak<Self> = Arc::downgrade(shared);
        tokio::spawn(async move {
            let mut pause = FIRST_PAUSE;
            loop {
                let Some(shared) = weak.upgrade() else {
                    return;
                };
                match shared.look_up().await {
                    Ok(connection) => {
                        let mut state = shared.lock();
                        state.master = Some(connection);
                        state.looking_up = false;
                        drop(state);
                        tracing::info!(
                            backend = super::BACKEND,
                            master = %shared.master,
                            "the Sentinels named the Redis master; sessions are served again"
                        );
                        return;
                    }
                    Err(error) => tracing::debug!(
                        backend = super::BACKEND,
                        master = %shared.master,
                        %error,
                        "no Redis master yet"
                    ),
                }
                drop(shared);
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(LONGEST_PAUSE);
            }
        });
    }

    /// One look-up: the Sentinels' master (whose `ROLE` redis-rs checks),
    /// then a connection to it, within the attempt's bound.
    async fn look_up(&self) -> Result<MultiplexedConnection, RedisError> {
        let attempt = async {
            let client = self.sentinel.lock().await.async_get_client().await?;
            client
                .get_multiplexed_async_connection_with_config(&self.config)
                .await
        };
        // Dropping an unfinished look-up is safe: redis-rs caches only
        // Sentinel connections it has verified.
        tokio::time::timeout(self.attempt, attempt)
            .await
            .unwrap_or_else(|_| {
                Err(RedisError::from(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    format!(
                        "the Sentinels did not name a reachable master within {:?}",
                        self.attempt
                    ),
                )))
            })
    }
}

impl ConnectionLike for SentinelConnection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        Box::pin(async move {
            let (generation, mut connection) = self.current()?;
            let result = connection.req_packed_command(cmd).await;
            self.after(generation, result)
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self, pipeline: &'a Pipeline, offset: usize, count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        Box::pin(async move {
            let (generation, mut connection) = self.current()?;
            let result = connection
                .req_packed_commands(pipeline, offset, count)
                .await;
            self.after(generation, result)
        })
    }

    fn get_db(&self) -> i64 {
        0
    }
}

impl fmt::Debug for SentinelConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SentinelConnection")
            .field("master", &self.shared.master)
            .field("has_master", &self.has_master())
            .finish_non_exhaustive()
    }
}

/// The error of a command sent while no master is known: an I/O error, so
/// the store reports it as unavailable (503).
fn no_master(master: &str) -> RedisError {
    RedisError::from(std::io::Error::new(
        std::io::ErrorKind::NotConnected,
        format!("no Redis master known for {master:?} (a failover is in progress, or the Sentinels cannot be reached)"),
    ))
}

/// Whether an error means the connection no longer leads to the master: it
/// broke, or the server it leads to has become a replica.
pub(super) fn master_lost(error: &RedisError) -> bool {
    error.is_io_error()
        || error.is_timeout()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || matches!(
            error.kind(),
            ErrorKind::Server(ServerErrorKind::ReadOnly | ServerErrorKind::MasterDown)
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_errors_drop_the_master() {
        let readonly = RedisError::from((
            ErrorKind::Server(ServerErrorKind::ReadOnly),
            "An error was signalled by the server",
            "You can't write against a read only replica.".to_owned(),
        ));
        assert!(master_lost(&readonly));
        let refused = RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(master_lost(&refused));
        assert!(master_lost(&no_master("mymaster")));
        let wrong_type = RedisError::from((
            ErrorKind::Server(ServerErrorKind::ResponseError),
            "An error was signalled by the server",
            "WRONGTYPE Operation against a key holding the wrong kind of value".to_owned(),
        ));
        assert!(!master_lost(&wrong_type));
    }
}
