//! The plumbing every store that talks to a server shares: its timeouts, the
//! error of a deadline that passed, the TTL in whole seconds, and blocking
//! client calls run off the async runtime.
//!
//! Written once here so that each backend file holds only what is its own:
//! its layout, its commands and which of its client's errors mean "the server
//! cannot be reached".

use std::future::Future;
use std::time::Duration;

use session_config::Settings;

use super::StoreError;
/// Bytes in lower-case hex: file names, lock names, and the digest Redis's
/// `redis.sha1hex` compares with.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    out
}

#[cfg(test)]
use super::StoreErrorKind;

/// How long a store waits on its server: `connect_timeout` and
/// `operation_timeout` of the settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// How long one connection attempt (or a check-out from a pool) may take
    /// (`SESSION_CONNECT_TIMEOUT`).
    pub connect: Duration,
    /// How long the server may take to answer one command
    /// (`SESSION_OPERATION_TIMEOUT`).
    pub operation: Duration,
}

impl Default for Timeouts {
    /// The defaults of `Settings`: 2 s to connect, 1 s per operation.
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(2),
            operation: Duration::from_secs(1),
        }
    }
}

impl Timeouts {
    /// `connect_timeout` and `operation_timeout` from the settings.
    pub fn from_settings(settings: &Settings) -> Self {
        Self {
            connect: settings.connect_timeout,
            operation: settings.operation_timeout,
        }
    }

    /// The overall deadline of one store operation: a (re)connection plus a
    /// reply.
    pub fn deadline(&self) -> Duration {
        self.connect.saturating_add(self.operation)
    }
}

/// A store operation, or a connection attempt at start-up, exceeded its
/// deadline. A store reports it as
/// [`StoreErrorKind::Unavailable`](super::StoreErrorKind::Unavailable).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no answer from {backend} within {limit:?}")]
#[non_exhaustive]
pub struct TimedOut {
    /// Which backend did not answer.
    pub backend: &'static str,
    /// How long it was given.
    pub limit: Duration,
}

/// Awaits `future` for at most `limit`.
pub(crate) async fn within<F: Future>(
    backend: &'static str, limit: Duration, future: F,
) -> Result<F::Output, TimedOut> {
    tokio::time::timeout(limit, future)
        .await
        .map_err(|_| TimedOut { backend, limit })
}

/// Awaits one client call for at most `limit` and turns its failure into a
/// [`StoreError`]: a passed deadline, or a client error `unavailable` says
/// means an unreachable server, is a 503; any other client error a 500.
pub(crate) async fn run<T, E, F>(
    backend: &'static str, operation: &'static str, limit: Duration,
    unavailable: impl FnOnce(&E) -> bool, call: F,
) -> Result<T, StoreError>
where
    E: Into<super::error::BoxError>,
    F: Future<Output = Result<T, E>>,
{
    match within(backend, limit, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(StoreError::classified(
            backend,
            operation,
            unavailable(&error),
            error,
        )),
        Err(timed_out) => Err(StoreError::unavailable(backend, operation, timed_out)),
    }
}

/// Runs a blocking client call on tokio's blocking pool, for at most `limit`.
/// A call that panicked is a failure (500); one that did not finish in time
/// is unavailable (503) and is left to finish on its thread.
pub(crate) async fn blocking<T, F>(
    backend: &'static str, operation: &'static str, limit: Duration, call: F,
) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    match within(backend, limit, tokio::task::spawn_blocking(call)).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(join)) => Err(StoreError::failed(backend, operation, join)),
        Err(timed_out) => Err(StoreError::unavailable(backend, operation, timed_out)),
    }
}

/// A store's periodic cleanup: runs `pass` every `every`, the first time one
/// period from now, until `stop` changes or its sender is dropped (the store
/// was closed or dropped), or `pass` finds the store gone (`None`). Each
/// pass's outcome is logged: how many records it removed, that it skipped
/// because another instance runs one (`Ok(None)`), or why it failed.
pub(crate) async fn clean_periodically<F, Fut>(
    backend: &'static str, every: Duration, mut stop: tokio::sync::watch::Receiver<()>, mut pass: F,
) where
    F: FnMut() -> Option<Fut>,
    Fut: Future<Output = Result<Option<u64>, StoreError>>,
{
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            // A shutdown wins over a tick that is due at the same time.
            biased;
            _ = stop.changed() => break,
            _ = ticker.tick() => {}
        }
        let Some(running) = pass() else { break };
        match running.await {
            Ok(Some(removed)) => tracing::debug!(backend, removed, "session cleanup pass"),
            Ok(None) => tracing::debug!(
                backend,
                "session cleanup pass skipped: another instance runs one"
            ),
            Err(error) => tracing::warn!(%error, "session cleanup pass failed"),
        }
    }
    tracing::debug!(backend, "session cleanup task ended");
}

/// A TTL in whole seconds, rounded up and at least 1: what `EX` and
/// `exptime` take, so that a session never lives shorter than asked.
pub(crate) fn ttl_seconds(ttl: Duration) -> u64 {
    let seconds = ttl.as_secs() + u64::from(ttl.subsec_nanos() > 0);
    seconds.max(1)
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

    #[tokio::test]
    async fn a_passed_deadline_is_unavailable_and_names_the_backend() {
        let limit = Duration::from_millis(10);
        let never = std::future::pending::<Result<(), std::io::Error>>();
        let error = run("test", "load", limit, |_| false, never)
            .await
            .err()
            .map(|e| (e.kind, e.to_string()));
        let (kind, message) = error.unwrap_or((StoreErrorKind::Failed, String::new()));
        assert_eq!(kind, StoreErrorKind::Unavailable);
        assert!(
            message.contains("no answer from test within 10ms"),
            "{message}"
        );
    }
}
