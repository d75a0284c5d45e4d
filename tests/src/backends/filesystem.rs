//! The filesystem store, in the demo's own working directory.

use super::Backend;
use crate::demo::DemoApp;

/// The filesystem store, in the demo's own working directory.
pub struct Filesystem;

impl Backend for Filesystem {
    fn session_toml(&self, extra: &str) -> String {
        format!("type = \"filesystem\"\nfile_dir = \"./sessions\"\n{extra}")
    }
    fn count_records(&self, app: &DemoApp) -> Option<usize> {
        let dir = app.dir.path().join("sessions");
        let entries = std::fs::read_dir(dir)
            .map(|d| d.filter_map(Result::ok).collect::<Vec<_>>())
            .unwrap_or_default();
        Some(
            entries
                .iter()
                .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                .count(),
        )
    }
}
