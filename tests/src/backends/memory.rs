//! The in-process memory store: its records live inside the demo process.

use super::Backend;
use crate::demo::DemoApp;

/// The in-process memory store.
pub struct Memory;

impl Backend for Memory {
    fn session_toml(&self, extra: &str) -> String {
        format!("type = \"memory\"\n{extra}")
    }
    fn count_records(&self, _app: &DemoApp) -> Option<usize> {
        None
    }
}
