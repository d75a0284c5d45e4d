//! Reading the settings exactly as an app does: `./Session.toml` (or the file
//! named by `SESSION_CONFIG`, or by `--config`), then `SESSION_*`.

use std::path::Path;

use session_config::{LoadReport, Settings};

use crate::failure::Failure;

/// The validated settings with their sources; an invalid configuration is a
/// [`Failure::Config`] with the message an app prints when it refuses to start.
pub fn load(config: Option<&Path>) -> Result<LoadReport, Failure> {
    let builder = match config {
        Some(path) => Settings::builder().file_named_by(path, "--config").env(),
        None => Settings::builder().standard(),
    };
    builder
        .build_report()
        .map_err(|error| Failure::Config(error.to_string()))
}
