//! Sessions as files in one directory, one file per key (`SESSION_TYPE =
//! filesystem`).
//!
//! This keeps the behaviour of Flask-Session's cachelib backend but not its
//! pickle format; the directory is not shared with Python. Each file is:
//!
//! | bytes        | content                                                 |
//! |--------------|---------------------------------------------------------|
//! | 7            | magic `RSESS1\0`                                        |
//! | 8            | expiry, unix seconds, big endian (0 = never)            |
//! | 8            | payload length `n`, big endian                          |
//! | `n`          | payload                                                 |
//! | 20           | SHA-1 of the payload                                    |
//!
//! A file is only served when its size is exactly `43 + n`, its magic matches
//! and the checksum verifies; anything else is a miss, and the file is
//! removed. The expiry sits outside the checksum so that a touch is a single
//! eight-byte write in place.
//!
//! File names are the hex SHA-1 of the key, so no key can name a path outside
//! the directory. Writes go to a `.tmp-*` file in the same directory, are
//! synced, and are renamed over the target, so a reader sees the old file or
//! the new one, never a torn one.
//!
//! **Locks.** Every save and delete of a session file, and every removal of
//! an expired or unreadable one, happens under an exclusive `flock` of the
//! file's stripe (64 lock files `.write-lock-XX`, see `conditional.rs`). So
//! a conditional save's compare and rename are one step for the other
//! writers, and a read that found the old file expired cannot remove the
//! record a save has just renamed over it. A scan (cleanup, pruning) skips an
//! expired file whose stripe is busy; the next scan removes it.
//!
//! **A full directory.** The number of files is bounded by
//! `SESSION_FILE_THRESHOLD`. Expired files are always pruned first; then, by
//! default (`SESSION_WHEN_FULL = refuse`), a new session is refused with a
//! 503 and a warning, and no live session is ever evicted, so a flood of
//! anonymous requests cannot log users out. `evict_oldest` restores Flask's
//! eviction of the sessions closest to expiry, down to 90% of the threshold.
//! Counting is cheap: the store keeps a count of its files and scans the
//! directory only when it is full; a full directory that refuses new
//! sessions is rescanned only once a known session has expired, or after a
//! few seconds (another process sharing it may have removed files).
//!
//! **A hostile directory.** Session files are opened without following
//! symlinks and without blocking, only regular files are read, and a read
//! stops at the largest record `max_session_bytes` allows; scans skip
//! anything that is not a regular file. A directory other users may write to
//! (without the sticky bit) is refused at start-up.
//!
//! **The owner index** (design §12) is one file per owner in the `.owners`
//! subdirectory, named by the hex SHA-1 of the owner (the owner's text never
//! names a path), holding the owner's session keys and login times in the
//! framing above, and read and rewritten under an exclusive `flock` of its
//! own. It does not expire: a listing prunes the entries whose session file
//! is gone or expired, and so does each cleanup pass; an emptied index file
//! is removed. Index files are not sessions: they are never counted against
//! `SESSION_FILE_THRESHOLD`, evicted, or removed as expired. The index is
//! keyed by the owner alone: stores that share a directory share it, and
//! [`SessionManager`](crate::SessionManager) lists and revokes only the
//! entries under its own `key_prefix`.
//!
//! **Background cleanup.** With `SESSION_CLEANUP_INTERVAL` (hourly by
//! default), [`FileStore::from_settings`] starts a task that removes expired
//! files every interval, one pass at a time across every process sharing the
//! directory; it ends when the store is dropped.

mod atomic;
mod cleanup;
mod conditional;
mod format;
mod names;
mod open;
mod options;
mod owners;
mod pruning;
mod read;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_cleanup;
#[cfg(test)]
mod tests_full;
#[cfg(all(test, unix))]
mod tests_hostile;
#[cfg(test)]
mod tests_owners;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use session_config::{Settings, WhenFull};

use self::format::{encode, expiry_after, max_record_len, now_secs};
pub use self::options::FileStoreOptions;
use self::pruning::{Pruning, Refusals, Slot, Sweep};
use super::cleanup_task::CleanupTask;
use super::{BuildError, IndexedSession, SaveHint, SessionStore, StoreError, WriteOutcome};

const BACKEND: &str = "filesystem";

/// Sessions stored as files in one directory.
///
/// Blocking file I/O runs on tokio's blocking pool. Cloning shares the same
/// directory and file count; the background cleanup, if any, ends when the
/// last clone is dropped.
#[derive(Debug, Clone)]
pub struct FileStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    threshold: usize,
    mode: u32,
    when_full: WhenFull,
    /// The largest file read: a record of `max_session_bytes`.
    max_record: u64,
    /// Session files in the directory, as far as this process knows: counted
    /// at start-up, kept up to date by our own writes and removals (and
    /// places reserved for new sessions), and replaced by every scan. Other
    /// processes sharing the directory make it drift until the next scan.
    count: AtomicUsize,
    /// The earliest expiry of a live file as far as this process knows
    /// (`u64::MAX`: none), so that a full directory is rescanned only when a
    /// scan could free something.
    next_expiry: AtomicU64,
    /// Held by every scan that reads the headers, so they never overlap.
    pruning: Mutex<Pruning>,
    refusals: Refusals,
    /// Dropped with the store (or ended by a shutdown): ends the cleanup
    /// task.
    cleanup_task: CleanupTask,
    /// The user owning the files this process creates (unix), which the
    /// owner index's subdirectory must belong to.
    uid: Option<u32>,
}

impl FileStore {
    /// Opens the store in `dir` with `threshold` files at most (0 means no
    /// limit) written with `mode` (permission bits only), and the other
    /// [`FileStoreOptions`] at their defaults: a full directory refuses new
    /// sessions, and no background cleanup runs. See
    /// [`FileStore::with_options`].
    ///
    /// # Errors
    ///
    /// As [`FileStore::with_options`].
    pub fn new(dir: impl Into<PathBuf>, threshold: usize, mode: u32) -> Result<Self, BuildError> {
        let options = FileStoreOptions {
            threshold,
            mode,
            cleanup_interval: None,
            ..FileStoreOptions::default()
        };
        Self::with_options(dir, &options)
    }

    /// Opens the store in `dir`, creating the directory (mode 0700 on unix) if
    /// it is missing, and starts the background cleanup when
    /// `options.cleanup_interval` is set and a Tokio runtime is running
    /// (without one, it logs a warning and starts none).
    ///
    /// Start-up counts the session files, removes temp files left by a crash,
    /// and checks that the directory is writable, so a bad `SESSION_FILE_DIR`
    /// fails here rather than on the first request. This is blocking I/O: from
    /// async code, use [`FileStore::from_settings`] or `spawn_blocking`.
    ///
    /// # Errors
    ///
    /// [`BuildError::Backend`], naming the directory, when it cannot be
    /// created, listed or written, or when users other than its owner may
    /// write to it and it lacks the sticky bit (they could replace session
    /// files).
    pub fn with_options(
        dir: impl Into<PathBuf>, options: &FileStoreOptions,
    ) -> Result<Self, BuildError> {
        let store = Self::open(dir.into(), options)?;
        if let Some(every) = options.cleanup_interval {
            store.spawn_cleanup(every);
        }
        Ok(store)
    }

    /// Opens the store that `SESSION_FILE_DIR` and the settings of
    /// [`FileStoreOptions::from_settings`] describe, off the async runtime,
    /// and starts the background cleanup when `SESSION_CLEANUP_INTERVAL` is
    /// set.
    ///
    /// # Errors
    ///
    /// As [`FileStore::with_options`].
    pub async fn from_settings(settings: &Settings) -> Result<Self, BuildError> {
        let dir = settings.file_dir.clone();
        let location = dir.display().to_string();
        let options = FileStoreOptions::from_settings(settings);
        let every = options.cleanup_interval;
        let store = tokio::task::spawn_blocking(move || Self::open(dir, &options))
            .await
            .map_err(|source| BuildError::Backend {
                backend: BACKEND,
                location,
                source: source.into(),
            })??;
        if let Some(every) = every {
            store.spawn_cleanup(every);
        }
        Ok(store)
    }

    fn open(dir: PathBuf, options: &FileStoreOptions) -> Result<Self, BuildError> {
        let fail = |dir: &Path, source: super::error::BoxError| BuildError::Backend {
            backend: BACKEND,
            location: dir.display().to_string(),
            source,
        };
        // A relative dir would follow later changes of the working directory.
        let dir = std::path::absolute(&dir).map_err(|e| fail(&dir, e.into()))?;
        open::create_dir(&dir).map_err(|e| fail(&dir, e.into()))?;
        open::check_dir_permissions(&dir).map_err(|e| fail(&dir, e.into()))?;
        let mut inner = Inner {
            threshold: options.threshold,
            mode: options.mode & 0o777,
            when_full: options.when_full,
            max_record: max_record_len(options.max_session_bytes),
            count: AtomicUsize::new(0),
            next_expiry: AtomicU64::new(0),
            pruning: Mutex::new(Pruning::default()),
            refusals: Refusals::default(),
            cleanup_task: CleanupTask::new(),
            uid: None,
            dir,
        };
        let fail = |e: io::Error| fail(&inner.dir, e.into());
        let scan = inner.scan(now_secs(), Sweep::TempsOnly).map_err(fail)?;
        inner.count.store(scan.sessions.len(), Ordering::Relaxed);
        let (probe, file) = atomic::create_temp(&inner.dir, inner.mode).map_err(fail)?;
        inner.uid = file
            .metadata()
            .ok()
            .and_then(|meta| owners::file_uid(&meta));
        drop(file);
        fs::remove_file(&probe).map_err(fail)?;
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// The directory holding the session files.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    async fn blocking<T, F>(&self, operation: &'static str, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> io::Result<T> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        match tokio::task::spawn_blocking(move || f(&inner)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(err)) => Err(StoreError::failed(BACKEND, operation, err)),
            Err(join) => Err(StoreError::failed(BACKEND, operation, join)),
        }
    }

    async fn save_with_expiry(
        &self, key: &str, value: &[u8], expiry: u64, hint: SaveHint,
    ) -> Result<(), StoreError> {
        let path = self.inner.path_for(key);
        let bytes = encode(expiry, value);
        let written = self
            .blocking("save", move |inner| {
                // Under the stripe lock, as conditional saves: a read that
                // found the old file expired removes it under the same lock,
                // so the removal cannot take this write with it.
                let _lock = inner.lock_for_write(&path)?;
                inner.save(&path, &bytes, expiry, hint)
            })
            .await?;
        if written {
            Ok(())
        } else {
            Err(self.full("save"))
        }
    }

    /// The error of a write refused because the directory is full.
    fn full(&self, operation: &'static str) -> StoreError {
        StoreError::unavailable(
            BACKEND,
            operation,
            format!(
                "the session directory is full of live sessions (SESSION_FILE_THRESHOLD = {})",
                self.inner.threshold
            ),
        )
    }
}

#[async_trait]
impl SessionStore for FileStore {
    fn backend(&self) -> &'static str {
        BACKEND
    }

    async fn load(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.inner.path_for(key);
        self.blocking("load", move |inner| inner.read(&path, None))
            .await
    }

    async fn load_and_touch(
        &self, key: &str, ttl: Duration,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.inner.path_for(key);
        self.blocking("load_and_touch", move |inner| inner.read(&path, Some(ttl)))
            .await
    }

    /// Writes the session. A new one (`SaveHint::New`) is refused, as
    /// [`StoreErrorKind::Unavailable`](crate::store::StoreErrorKind), when the
    /// directory is full of live sessions and `SESSION_WHEN_FULL` is
    /// `refuse`.
    async fn save(
        &self, key: &str, value: &[u8], ttl: Duration, hint: SaveHint,
    ) -> Result<(), StoreError> {
        self.save_with_expiry(key, value, expiry_after(ttl), hint)
            .await
    }

    async fn save_if_unchanged(
        &self, key: &str, expected: &[u8], value: &[u8], ttl: Duration,
    ) -> Result<WriteOutcome, StoreError> {
        let path = self.inner.path_for(key);
        let (expected, value) = (expected.to_vec(), value.to_vec());
        let expiry = expiry_after(ttl);
        let outcome = self
            .blocking("save_if_unchanged", move |inner| {
                inner.save_if_unchanged(&path, &expected, &value, expiry)
            })
            .await?;
        outcome.ok_or_else(|| self.full("save_if_unchanged"))
    }

    async fn insert_new(
        &self, key: &str, value: &[u8], ttl: Duration,
    ) -> Result<WriteOutcome, StoreError> {
        let path = self.inner.path_for(key);
        let value = value.to_vec();
        let expiry = expiry_after(ttl);
        let outcome = self
            .blocking("insert_new", move |inner| {
                inner.insert_new(&path, &value, expiry)
            })
            .await?;
        outcome.ok_or_else(|| self.full("insert_new"))
    }

    async fn touch(&self, key: &str, ttl: Duration) -> Result<(), StoreError> {
        let path = self.inner.path_for(key);
        self.blocking("touch", move |inner| inner.touch(&path, ttl))
            .await
    }

    async fn add_owned(
        &self, owner: &str, key: &str, created: SystemTime, _ttl: Duration,
    ) -> Result<(), StoreError> {
        let (owner, key) = (owner.to_owned(), key.to_owned());
        self.blocking("index", move |inner| inner.index_add(&owner, &key, created))
            .await
    }

    async fn remove_owned(&self, owner: &str, key: &str) -> Result<(), StoreError> {
        let (owner, key) = (owner.to_owned(), key.to_owned());
        self.blocking("index", move |inner| inner.index_remove(&owner, &key))
            .await
    }

    async fn list_owned(&self, owner: &str) -> Result<Vec<IndexedSession>, StoreError> {
        let owner = owner.to_owned();
        self.blocking("index", move |inner| inner.index_list(&owner))
            .await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let path = self.inner.path_for(key);
        self.blocking("delete", move |inner| {
            // Under the write lock: a conditional write that already
            // compared cannot rename the session back after this.
            let _lock = inner.lock_for_write(&path)?;
            match fs::remove_file(&path) {
                Ok(()) => {
                    inner.forget_one();
                    Ok(())
                }
                Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
                Err(err) => Err(err),
            }
        })
        .await
    }

    async fn cleanup(&self) -> Result<u64, StoreError> {
        self.blocking("cleanup", Inner::cleanup_pass).await
    }

    /// Ends the cleanup task, waiting for a pass under way. The files stay;
    /// the store holds no open file between operations.
    async fn shutdown(&self) {
        self.inner.cleanup_task.end().await;
    }
}

impl Inner {
    fn path_for(&self, key: &str) -> PathBuf {
        names::path_for(&self.dir, key)
    }

    fn forget_one(&self) {
        // Saturating: the count is approximate and must not wrap.
        let _ = self
            .count
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_sub(1))
            });
    }

    /// Writes the record `bytes` to `path`; false when it was refused
    /// because the directory is full.
    fn save(&self, path: &Path, bytes: &[u8], expiry: u64, hint: SaveHint) -> io::Result<bool> {
        let evicts = self.when_full == WhenFull::EvictOldest;
        let slot = if self.threshold != 0 && !evicts && hint == SaveHint::New {
            self.reserve_new(path)?
        } else {
            Slot::Unreserved
        };
        let reserved = match slot {
            Slot::Full => return Ok(false),
            Slot::Reserved => true,
            Slot::Unreserved => false,
        };
        let is_new = atomic::write_atomic(&self.dir, self.mode, path, bytes);
        match (reserved, &is_new) {
            (false, Ok(true)) => {
                self.count.fetch_add(1, Ordering::Relaxed);
            }
            // The reserved place went unused: a file was already there, or
            // the write failed.
            (true, Ok(false) | Err(_)) => self.forget_one(),
            (true, Ok(true)) | (false, Ok(false) | Err(_)) => {}
        }
        is_new?;
        if expiry != 0 {
            self.next_expiry.fetch_min(expiry, Ordering::Relaxed);
        }
        if evicts {
            self.evict_if_needed(path);
        }
        Ok(true)
    }
}
