//! Building the store the settings select, as an app would, but for one
//! command: no background cleanup, and a bounded wait for a server that does
//! not answer.

use std::sync::Arc;
use std::time::{Duration, Instant};

use session::store::{self, SessionStore};
use session::{SessionManager, StoreError};
use session_config::{SessionType, Settings};

use crate::failure::Failure;

/// A built store, where it is, and how long building it took.
pub struct Built {
    /// The store.
    pub store: Arc<dyn SessionStore>,
    /// Where it keeps its sessions, passwords redacted.
    pub location: String,
    /// Connecting (and preparing, e.g. the SQL table) took this long.
    pub connect: Duration,
}

/// Builds the store within `connect_timeout + operation_timeout` (connecting,
/// then preparing, each bounded by its own timeout in the store).
pub async fn build(settings: &Settings) -> Result<Built, Failure> {
    let mut settings = settings.clone();
    // A one-shot command must not race its own cleanup against `cleanup`.
    settings.cleanup_interval = None;
    let location = location(&settings);
    let limit = settings.connect_timeout + settings.operation_timeout;
    let started = Instant::now();
    match tokio::time::timeout(limit, store::from_settings(&settings)).await {
        Ok(Ok(store)) => Ok(Built {
            store,
            location,
            connect: started.elapsed(),
        }),
        Ok(Err(error)) => Err(Failure::Backend(error.to_string())),
        Err(_) => Err(Failure::Backend(format!(
            "could not start the {} session store at {location}: no answer within {}",
            settings.session_type,
            seconds(limit)
        ))),
    }
}

/// The store and a manager over it, for the commands that read sessions.
pub async fn manager(settings: &Settings) -> Result<(Built, SessionManager), Failure> {
    let built = build(settings).await?;
    let manager = SessionManager::new(settings.clone(), built.store.clone())
        .map_err(|error| Failure::Config(error.to_string()))?;
    Ok((built, manager))
}

/// A store operation's failure, naming the backend and where it is.
pub fn failed(built: &Built, error: &StoreError) -> Failure {
    Failure::Backend(format!(
        "{} store at {}: {error}",
        built.store.backend(),
        built.location
    ))
}

/// Where the selected backend keeps its sessions, as an operator recognises
/// it, with passwords redacted.
pub fn location(settings: &Settings) -> String {
    match settings.session_type {
        SessionType::Null => "nowhere (sessions are disabled)".to_owned(),
        SessionType::Memory => "this process's memory".to_owned(),
        // With Sentinels the store asks them for the master; `redis` is
        // not used.
        SessionType::Redis if !settings.redis_sentinels.is_empty() => format!(
            "Sentinels {} (master {:?})",
            settings
                .redis_sentinels
                .iter()
                .map(|url| url.redacted())
                .collect::<Vec<_>>()
                .join(", "),
            settings
                .redis_sentinel_master
                .as_deref()
                .map(str::trim)
                .unwrap_or_default()
        ),
        SessionType::Redis => settings
            .redis
            .iter()
            .map(|url| url.redacted())
            .collect::<Vec<_>>()
            .join(","),
        SessionType::Memcached => settings.memcached.join(","),
        SessionType::Filesystem => settings.file_dir.display().to_string(),
        SessionType::MongoDb => settings.mongodb.redacted(),
        SessionType::SqlAlchemy => settings
            .sqlalchemy_bind_key
            .as_ref()
            .and_then(|key| settings.sqlalchemy_binds.get(key))
            .unwrap_or(&settings.sqlalchemy)
            .redacted(),
    }
}

/// A duration as seconds for a message: `2s`, `1.5s`.
pub fn seconds(duration: Duration) -> String {
    format!("{}s", duration.as_secs_f64())
}

/// A duration in milliseconds, rounded to microseconds, for reports.
pub fn millis(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1_000_000.0).round() / 1000.0
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_sentinel_store_is_named_by_its_sentinels_and_master() {
        let settings = Settings::from_map([
            ("type", "redis"),
            (
                "redis_sentinels",
                "redis://:pw@10.0.0.1:26379,redis://10.0.0.2:26379",
            ),
            ("redis_sentinel_master", "mymaster"),
        ])
        .unwrap();
        assert_eq!(
            location(&settings),
            "Sentinels redis://:***@10.0.0.1:26379, redis://10.0.0.2:26379 (master \"mymaster\")"
        );
    }
}
