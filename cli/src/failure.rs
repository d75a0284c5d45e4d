//! Why a command failed, and the exit code each reason gives (listed in
//! `--help` and the README).

use std::process::ExitCode;

/// A command that did not succeed. Its message is what the operator reads.
#[derive(Debug)]
pub enum Failure {
    /// Nothing by that name: exit 1.
    NotFound(String),
    /// The arguments are wrong (clap reports most such errors itself): exit 2.
    Usage(String),
    /// The settings are invalid: exit 3. The message is the one an app
    /// prints when it refuses to start.
    Config(String),
    /// The backend could not be reached or failed: exit 4.
    Backend(String),
}

impl Failure {
    /// The process's exit code for this failure.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self {
            Failure::NotFound(_) => 1,
            Failure::Usage(_) => 2,
            Failure::Config(_) => 3,
            Failure::Backend(_) => 4,
        })
    }

    /// A short name of the reason, for `--json`.
    pub fn kind(&self) -> &'static str {
        match self {
            Failure::NotFound(_) => "not_found",
            Failure::Config(_) => "config",
            Failure::Usage(_) => "usage",
            Failure::Backend(_) => "backend",
        }
    }

    /// What went wrong, for the operator.
    pub fn message(&self) -> &str {
        match self {
            Failure::NotFound(m) | Failure::Usage(m) | Failure::Config(m) | Failure::Backend(m) => {
                m
            }
        }
    }
}
