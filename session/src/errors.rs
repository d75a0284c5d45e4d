//! Errors of the per-request lifecycle, one type per operation, each knowing
//! the HTTP status an adapter should answer with.

use crate::codec::EncodeError;
use crate::id::RandomSourceError;
use crate::store::{StoreError, StoreErrorKind};
use crate::value::ValueError;

/// The HTTP status for a store error: 503 when the backend is unreachable, 500
/// otherwise.
fn status_of(error: &StoreError) -> u16 {
    error.status()
}

/// Loading the session failed; the guard or extractor fails with it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// The store could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No new sid could be made.
    #[error(transparent)]
    Random(#[from] RandomSourceError),
}

impl LoadError {
    /// The HTTP status to answer with.
    pub fn status(&self) -> u16 {
        match self {
            Self::Store(e) => status_of(e),
            Self::Random(_) => 500,
        }
    }

    /// A message safe to show a client: no backend details.
    pub fn public_message(&self) -> &'static str {
        public_message(self.status())
    }
}

/// Finishing the session failed; the response is replaced by an opaque error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FinishError {
    /// The store could not be written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The session could not be encoded, or is too large.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// A typed view could not encode a field.
    #[error(transparent)]
    Value(#[from] ValueError),
    /// Other requests kept changing the session while this one tried to
    /// merge its changes in; nothing of this request was written.
    #[error("the session changed under {attempts} attempts to save it; nothing was written")]
    Conflict {
        /// How many conditional saves were tried.
        attempts: u32,
    },
}

impl FinishError {
    /// The HTTP status to answer with.
    pub fn status(&self) -> u16 {
        match self {
            Self::Store(e) => status_of(e),
            Self::Conflict { .. } => 503,
            Self::Encode(_) | Self::Value(_) => 500,
        }
    }

    /// A message safe to show a client. Only the disabled-sessions case says
    /// more, because it is a configuration mistake the developer must see.
    pub fn public_message(&self) -> String {
        match self {
            Self::Store(e) if e.kind == StoreErrorKind::Disabled => e.source.to_string(),
            _ => public_message(self.status()).to_owned(),
        }
    }
}

fn public_message(status: u16) -> &'static str {
    if status == 503 {
        "the session store is unavailable"
    } else {
        "internal session error"
    }
}
