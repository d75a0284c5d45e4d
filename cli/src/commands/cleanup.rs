//! `cleanup`: remove expired sessions now (for cron), print how many.

use serde_json::json;
use session_config::Settings;

use crate::failure::Failure;
use crate::report::Report;
use crate::store;

/// One cleanup pass of the store the settings select.
pub async fn run(settings: &Settings) -> Result<Report, Failure> {
    let built = store::build(settings).await?;
    let removed = built
        .store
        .cleanup()
        .await
        .map_err(|error| store::failed(&built, &error))?;
    let backend = built.store.backend();
    Ok(Report {
        text: format!(
            "removed {removed} expired session{} from {backend} at {}\n",
            if removed == 1 { "" } else { "s" },
            built.location
        ),
        json: json!({ "backend": backend, "location": built.location, "removed": removed }),
    })
}
