//! `ping`: build the store, one round trip, the server's version and the latency.

use std::time::Instant;

use serde_json::json;
use session_config::Settings;

use crate::failure::Failure;
use crate::report::Report;
use crate::store::{self, millis};

/// Builds the store and pings it once.
pub async fn run(settings: &Settings) -> Result<Report, Failure> {
    let built = store::build(settings).await?;
    let started = Instant::now();
    let info = built
        .store
        .ping()
        .await
        .map_err(|error| store::failed(&built, &error))?;
    let latency = started.elapsed();
    let backend = built.store.backend();
    let version = info.version.as_deref().unwrap_or("not reported");
    Ok(Report {
        text: format!(
            "{backend} at {}: up\nversion: {version}\nround trip: {:.3} ms (connecting took {:.3} ms)\n",
            built.location,
            millis(latency),
            millis(built.connect),
        ),
        json: json!({
            "backend": backend,
            "location": built.location,
            "version": info.version,
            "latency_ms": millis(latency),
            "connect_ms": millis(built.connect),
        }),
    })
}
