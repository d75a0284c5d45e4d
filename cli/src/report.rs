//! What a command that succeeded prints: text for people, one JSON document
//! for scripts (`--json`).

use serde_json::Value;

/// The result of a command, in both forms.
#[derive(Debug)]
pub struct Report {
    /// Lines for a terminal.
    pub text: String,
    /// The same facts for `--json`.
    pub json: Value,
}
