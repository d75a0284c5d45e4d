//! Store errors, typed by what the caller should do about them.

use session_config::SessionType;

/// Boxed source error of a backend client.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What a store operation gives: its value, or why it failed.
pub type StoreResult<T> = Result<T, StoreError>;

/// How a store failure should surface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The backend cannot be reached (refused, reset, timed out, pool
    /// exhausted): HTTP 503.
    Unavailable,
    /// The backend answered with a failure (authentication, a bad query, a full
    /// disk): HTTP 500.
    Failed,
    /// `SESSION_TYPE` is `null`: sessions are disabled and cannot be written.
    Disabled,
}

/// A store operation failed. The source is kept for the log.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
#[error("{backend} store: {operation} failed ({kind:?}): {source}")]
pub struct StoreError {
    /// Which backend.
    pub backend: &'static str,
    /// Which operation, such as `load`.
    pub operation: &'static str,
    /// What it means for the request.
    pub kind: StoreErrorKind,
    /// The client's error.
    #[source]
    pub source: BoxError,
}

/// `StoreError::$name(backend, operation, source)`: an error of one kind.
macro_rules! of_kind {
    ($(#[$doc:meta])* $name:ident, unavailable: $unavailable:literal) => {
        $(#[$doc])*
        pub fn $name(
            backend: &'static str,
            operation: &'static str,
            source: impl Into<BoxError>,
        ) -> Self {
            Self::classified(backend, operation, $unavailable, source)
        }
    };
}

impl StoreError {
    /// The HTTP status an app answers with: 503 when the backend is
    /// unreachable, 500 otherwise.
    pub fn status(&self) -> u16 {
        match self.kind {
            StoreErrorKind::Unavailable => 503,
            StoreErrorKind::Failed | StoreErrorKind::Disabled => 500,
        }
    }

    of_kind!(
        /// An unreachable-backend error (503).
        unavailable,
        unavailable: true
    );
    of_kind!(
        /// A backend failure (500).
        failed,
        unavailable: false
    );

    /// A client error, as unavailable (503) when `unavailable` is true and as
    /// failed (500) otherwise: for the stores, which ask their client's error
    /// which it is.
    pub(crate) fn classified(
        backend: &'static str, operation: &'static str, unavailable: bool,
        source: impl Into<BoxError>,
    ) -> Self {
        let kind = if unavailable {
            StoreErrorKind::Unavailable
        } else {
            StoreErrorKind::Failed
        };
        Self {
            backend,
            operation,
            kind,
            source: source.into(),
        }
    }
}

/// The store selected by the settings could not be built at start-up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The backend's cargo feature is off.
    #[error("SESSION_TYPE is {session_type}, but the `session` crate was built without its `{feature}` feature")]
    NotCompiled {
        /// The configured type.
        session_type: SessionType,
        /// The feature that would provide it.
        feature: &'static str,
    },
    /// The settings break a rule that loading them would have caught (they
    /// were built or changed in code): the error names the key and the value.
    #[error(transparent)]
    Settings(#[from] session_config::ConfigError),
    /// `use_signer` is on but no `secret_key` is set.
    #[error("SESSION_USE_SIGNER is on but SECRET_KEY is not set")]
    SignerWithoutSecret,
    /// The backend could not be reached or prepared.
    #[error("could not start the {backend} session store at {location}: {source}")]
    Backend {
        /// Which backend.
        backend: &'static str,
        /// Where, with any password redacted.
        location: String,
        /// The client's error.
        #[source]
        source: BoxError,
    },
}

impl BuildError {
    /// The backend at `location` could not be reached or prepared: the one
    /// way every store reports a start-up failure, so each names its backend
    /// and place alike. `location` must already have any password redacted.
    pub fn backend(
        backend: &'static str, location: impl Into<String>, source: impl Into<BoxError>,
    ) -> Self {
        Self::Backend {
            backend,
            location: location.into(),
            source: source.into(),
        }
    }
}
