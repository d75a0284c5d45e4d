//! Why a command failed, and the exit code each reason gives (listed in
//! `--help` and the README).

use std::process::ExitCode;

/// A command that did not succeed. Its message is what the operator reads.
#[derive(Debug)]
pub enum Failure {
    /// Nothing by that name: exit 1.
    NotFound(String),
    /// The settings are invalid: exit 3. The message is the one an app
    /// prints when it refuses to start.
    Config(String),
    /// The backend could not be reached or failed: exit 4.
    Backend(String),
    /// This build cannot do it: exit 5.
    Unsupported(String),
}

impl Failure {
    /// The process's exit code for this failure.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self {
            Failure::NotFound(_) => 1,
            Failure::Config(_) => 3,
            Failure::Backend(_) => 4,
            Failure::Unsupported(_) => 5,
        })
    }

    /// A short name of the reason, for `--json`.
    pub fn kind(&self) -> &'static str {
        match self {
            Failure::NotFound(_) => "not_found",
            Failure::Config(_) => "config",
            Failure::Backend(_) => "backend",
            Failure::Unsupported(_) => "unsupported",
        }
    }

    /// What went wrong, for the operator.
    pub fn message(&self) -> &str {
        match self {
            Failure::NotFound(m)
            | Failure::Config(m)
            | Failure::Backend(m)
            | Failure::Unsupported(m) => m,
        }
    }
}
