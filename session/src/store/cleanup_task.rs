//! The handle of a store's periodic cleanup task (`SESSION_CLEANUP_INTERVAL`):
//! the stop signal the task listens to, and the task itself, so that a
//! shutdown can end it and wait until it has ended, rather than leave it to
//! notice the store's drop some time later.

use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A store's cleanup task, if it started one. Dropping it (with the store)
/// also ends the task: its stop channel closes.
#[derive(Debug)]
pub(crate) struct CleanupTask {
    stop: watch::Sender<()>,
    running: Mutex<Option<JoinHandle<()>>>,
}

impl CleanupTask {
    /// No task yet.
    pub(crate) fn new() -> Self {
        let (stop, _) = watch::channel(());
        Self {
            stop,
            running: Mutex::new(None),
        }
    }

    /// The signal a new task listens to.
    pub(crate) fn subscribe(&self) -> watch::Receiver<()> {
        self.stop.subscribe()
    }

    /// How many tasks listen (0 or 1): for the stores' own tests.
    #[cfg(test)]
    pub(crate) fn listeners(&self) -> usize {
        self.stop.receiver_count()
    }

    /// Keeps the spawned task, to wait for it at shutdown.
    pub(crate) fn started(&self, task: JoinHandle<()>) {
        *self.lock() = Some(task);
    }

    /// Whether the task is still running: false before it started, and once
    /// [`Self::end`] has returned.
    pub(crate) fn is_running(&self) -> bool {
        self.lock().as_ref().is_some_and(|task| !task.is_finished())
    }

    /// Signals the task to stop and waits until it has: a pass under way
    /// finishes first (each pass is bounded by the store's timeouts).
    /// Idempotent.
    pub(crate) async fn end(&self) {
        self.stop.send_replace(());
        // Taken out first: the lock is never held across the wait.
        let task = self.lock().take();
        if let Some(task) = task {
            if let Err(error) = task.await {
                tracing::warn!(%error, "the session cleanup task did not end cleanly");
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Option<JoinHandle<()>>> {
        // The guarded handle is replaced whole, never left half-written.
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
