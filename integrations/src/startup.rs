//! Errors that stop an app from starting with sessions.

/// The settings could not be loaded, or the store they select could not be
/// built. Its message names the key or the backend at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartupError {
    /// `Session.toml` or a `SESSION_*` variable is invalid.
    #[error(transparent)]
    Config(#[from] session::config::ConfigError),
    /// The selected backend could not be started.
    #[error(transparent)]
    Build(#[from] session::store::BuildError),
}
