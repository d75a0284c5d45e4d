//! The background removal of expired session files (`SESSION_CLEANUP_INTERVAL`,
//! hourly by default).
//!
//! Without it, an expired session's file stays until its key is read again or
//! the directory reaches its threshold; with many short visits that is most
//! of them. The task runs its first pass one interval after start-up (not at
//! once, so a fleet restarting together does not scan together), then every
//! interval.
//!
//! One pass runs at a time across every store and process sharing the
//! directory: a pass takes an exclusive, non-blocking lock (`flock` on unix)
//! on a lock file in the directory, and skips when another holder has it. The
//! kernel releases the lock when its holder's file is closed, so a crashed
//! process never leaves a lock that blocks the others. The lock file stays;
//! removing it would let two processes lock two different files.
//!
//! The task holds only a weak reference to the store and a receiver of its
//! stop channel: it ends when the last clone of the store is dropped, or at
//! once on a shutdown, which waits for it.

use std::fs::TryLockError;
use std::io;
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::task::AbortHandle;

use super::format::now_secs;
use super::names::CLEANUP_LOCK;
use super::open::open_lock_file;
use super::{FileStore, Inner, BACKEND};
use crate::store::support::clean_periodically;

impl Inner {
    /// One cleanup pass: prunes the expired files and recounts the live
    /// ones, then prunes the owner indexes of the sessions gone.
    pub(super) fn cleanup_pass(&self) -> io::Result<u64> {
        let removed = {
            let mut pruning = self.lock_pruning();
            self.rescan(&mut pruning, now_secs())?.removed
        };
        // Outside the scan's lock, which a new session waits for when the
        // directory is full: the indexes are none of its business. An index
        // that cannot be pruned fails no session cleanup; a listing prunes
        // it too.
        if let Err(error) = self.prune_indexes() {
            tracing::warn!(
                dir = %self.dir.display(),
                %error,
                "the owner indexes could not be pruned; the session files were cleaned up"
            );
        }
        Ok(removed)
    }

    /// A cleanup pass under the directory's lock; `None` when another store
    /// or process holds it.
    pub(super) fn cleanup_exclusive(&self) -> io::Result<Option<u64>> {
        let lock = open_lock_file(&self.dir, CLEANUP_LOCK, self.mode)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => return Ok(None),
            Err(TryLockError::Error(err)) => return Err(err),
        }
        let removed = self.cleanup_pass()?;
        // Closing the file releases the lock; the explicit unlock documents it.
        let _ = lock.unlock();
        Ok(Some(removed))
    }
}

impl FileStore {
    /// Removes the expired session files, unless another store or process
    /// sharing the directory is doing so: the pass the background cleanup
    /// runs. Returns how many files it removed, or `None` when it skipped.
    ///
    /// # Errors
    ///
    /// A [`StoreError`](crate::store::StoreError) of kind `Failed` when the
    /// directory or the lock file cannot be read or written.
    pub async fn cleanup_exclusive(&self) -> Result<Option<u64>, crate::store::StoreError> {
        self.blocking("cleanup", Inner::cleanup_exclusive).await
    }

    /// Starts the background cleanup, if a Tokio runtime is running; without
    /// one, logs and starts nothing. The task ends when the store is dropped
    /// or shut down. The handle lets a test watch it end.
    pub(super) fn spawn_cleanup(&self, every: Duration) -> Option<AbortHandle> {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(
                dir = %self.inner.dir.display(),
                "SESSION_CLEANUP_INTERVAL is set, but the filesystem session store was built \
                 outside a Tokio runtime: no background cleanup runs"
            );
            return None;
        };
        // The task holds the store weakly: it ends once the store is dropped.
        let weak: Weak<Inner> = Arc::downgrade(&self.inner);
        let stop = self.inner.cleanup_task.subscribe();
        let task = runtime.spawn(clean_periodically(BACKEND, every, stop, move || {
            let inner = weak.upgrade()?;
            Some(async move { FileStore { inner }.cleanup_exclusive().await })
        }));
        let handle = task.abort_handle();
        self.inner.cleanup_task.started(task);
        Some(handle)
    }

    /// Whether the periodic cleanup task (`SESSION_CLEANUP_INTERVAL`) is
    /// running: false when none was started, and after a shutdown.
    pub fn cleanup_running(&self) -> bool {
        self.inner.cleanup_task.is_running()
    }
}
