//! The options a [`FileStore`](super::FileStore) is opened with, and how
//! they are read from the settings.

use std::time::Duration;

use session_config::{Settings, WhenFull};

/// How a [`FileStore`](super::FileStore) is opened. [`Default`] gives the
/// defaults of [`Settings`] (500 files, mode 0600, refuse when full, 64 KiB
/// sessions, an hourly cleanup); [`FileStoreOptions::from_settings`] reads
/// the settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStoreOptions {
    /// `SESSION_FILE_THRESHOLD`: the most session files kept (0: no limit).
    pub threshold: usize,
    /// `SESSION_FILE_MODE`: the permission bits of session files.
    pub mode: u32,
    /// `SESSION_WHEN_FULL`: what a new session does at the threshold.
    pub when_full: WhenFull,
    /// `SESSION_MAX_SESSION_BYTES`: the largest payload; reads stop past
    /// the record it makes.
    pub max_session_bytes: usize,
    /// `SESSION_CLEANUP_INTERVAL`: the period of the background removal of
    /// expired files, or `None` for none.
    pub cleanup_interval: Option<Duration>,
}

impl FileStoreOptions {
    /// The options `SESSION_FILE_THRESHOLD`, `SESSION_FILE_MODE`,
    /// `SESSION_WHEN_FULL`, `SESSION_MAX_SESSION_BYTES` and
    /// `SESSION_CLEANUP_INTERVAL` describe.
    pub fn from_settings(settings: &Settings) -> Self {
        Self {
            threshold: settings.file_threshold,
            mode: settings.file_mode.get(),
            when_full: settings.when_full,
            max_session_bytes: settings.max_session_bytes,
            cleanup_interval: settings.cleanup_interval,
        }
    }
}

impl Default for FileStoreOptions {
    fn default() -> Self {
        Self::from_settings(&Settings::default())
    }
}
