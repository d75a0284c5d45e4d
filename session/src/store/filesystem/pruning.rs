//! Keeping the directory within `file_threshold` files.
//!
//! The store counts its files instead of listing the directory on each save:
//! the count is taken at start-up, kept by our own writes and removals, and
//! replaced by every scan. A scan reads each session file's header, removes
//! the expired and unreadable ones, and counts the live ones. What happens
//! when a save would pass the threshold depends on `SESSION_WHEN_FULL`:
//!
//! - **refuse** (the default): a new session first reserves a place in the
//!   count. With none left, one scan prunes the expired files; if the live
//!   ones still fill the directory the save is refused (503) and a warning
//!   names `SESSION_FILE_THRESHOLD`. A live session is never removed to make
//!   room, so a flood of requests that each create a session cannot log
//!   users out. Rewrites of existing sessions are never refused. A full
//!   directory is not rescanned on every refused save: only once the
//!   earliest known expiry has passed (a scan could then free a place), or
//!   [`RESCAN_AFTER`] after the last scan (other processes sharing the
//!   directory may have removed files).
//! - **evict_oldest** (Flask's): the save is written; when the count passes
//!   the threshold, one scan prunes the expired files and then removes the
//!   live ones closest to expiry until 90% of the threshold remain. The slack
//!   means a full store scans once per `threshold / 10` new sessions.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{MutexGuard, PoisonError};

use super::atomic::remove_stale_temp;
use super::format::{is_expired, now_secs, read_header};
use super::names::{is_session_name, is_temp_name};
use super::open::{open_record, same_file, Opened};
use super::Inner;

/// The longest a full directory goes without a rescan while saves are being
/// refused, in seconds. It bounds how long files removed by another process
/// go unnoticed, and how often a flood of refused saves reads the directory.
const RESCAN_AFTER: u64 = 5;

/// How often, at most, a refused save is logged at warning level, in seconds;
/// the ones in between are counted into the next warning.
const WARN_EVERY: u64 = 10;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Sweep {
    /// Remove stale temp files only, and count every session file.
    TempsOnly,
    /// Also remove expired and unreadable session files.
    Expired,
}

pub(super) struct Scan {
    /// Live (or, with `Sweep::TempsOnly`, all) session files and their expiry.
    pub(super) sessions: Vec<(PathBuf, u64)>,
    /// Session files removed.
    pub(super) removed: u64,
}

/// What the last scan learnt; held while a scan runs, so scans never overlap.
#[derive(Debug, Default)]
pub(super) struct Pruning {
    /// Unix seconds of the last scan that read the headers; 0 before it.
    scanned_at: u64,
}

/// The refusals since the last warning, so a flood is one line per
/// [`WARN_EVERY`] seconds, not one per request.
#[derive(Debug, Default)]
pub(super) struct Refusals {
    since_warning: AtomicU64,
    warned_at: AtomicU64,
}

/// Where a new session may go.
pub(super) enum Slot {
    /// A place in the count is reserved for it.
    Reserved,
    /// No place is reserved: the save is a rewrite (a file is already under
    /// its name), which is never refused, and is counted after the write if
    /// it added a file after all.
    Unreserved,
    /// The directory is full of live sessions.
    Full,
}

impl Inner {
    pub(super) fn lock_pruning(&self) -> MutexGuard<'_, Pruning> {
        // The state is two numbers; a panic mid-scan leaves them usable.
        self.pruning.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes a place in the count for a new file, if the count leaves one.
    fn try_reserve(&self) -> bool {
        self.count
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < self.threshold).then_some(n + 1)
            })
            .is_ok()
    }

    /// Finds a place for the new session at `path` under
    /// `SESSION_WHEN_FULL = refuse`: a reservation in the count, after
    /// pruning the expired files if the count has none left.
    pub(super) fn reserve_new(&self, path: &Path) -> io::Result<Slot> {
        if self.try_reserve() {
            return Ok(Slot::Reserved);
        }
        if fs::symlink_metadata(path).is_ok() {
            return Ok(Slot::Unreserved);
        }
        let mut pruning = self.lock_pruning();
        // Another save may have scanned while this one waited.
        if self.try_reserve() {
            return Ok(Slot::Reserved);
        }
        let now = now_secs();
        let may_free = now >= self.next_expiry.load(Ordering::Relaxed)
            || now >= pruning.scanned_at.saturating_add(RESCAN_AFTER);
        if may_free {
            self.rescan(&mut pruning, now)?;
            if self.try_reserve() {
                return Ok(Slot::Reserved);
            }
        }
        drop(pruning);
        self.note_refusal(now);
        Ok(Slot::Full)
    }

    fn note_refusal(&self, now: u64) {
        let refused = self.refusals.since_warning.fetch_add(1, Ordering::Relaxed) + 1;
        let warned_at = self.refusals.warned_at.load(Ordering::Relaxed);
        let due = warned_at == 0 || now >= warned_at.saturating_add(WARN_EVERY);
        if due
            && self
                .refusals
                .warned_at
                .compare_exchange(warned_at, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.refusals.since_warning.store(0, Ordering::Relaxed);
            tracing::warn!(
                SESSION_FILE_THRESHOLD = self.threshold,
                dir = %self.dir.display(),
                refused,
                "the filesystem session store is full of live sessions: new sessions are refused \
                 (503) and no live session is evicted; raise SESSION_FILE_THRESHOLD (now {}), or \
                 set SESSION_WHEN_FULL = evict_oldest for Flask's eviction",
                self.threshold
            );
        } else {
            tracing::debug!(
                SESSION_FILE_THRESHOLD = self.threshold,
                "the filesystem session store is full: a new session is refused"
            );
        }
    }

    /// Under `SESSION_WHEN_FULL = evict_oldest`, after a save: prunes when
    /// the count has passed the threshold. One prune runs at a time; a save
    /// that finds one running leaves the work to it.
    pub(super) fn evict_if_needed(&self, keep: &Path) {
        if self.threshold == 0 || self.count.load(Ordering::Relaxed) <= self.threshold {
            return;
        }
        let mut pruning = match self.pruning.try_lock() {
            Ok(guard) => guard,
            Err(std::sync::TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return,
        };
        if let Err(err) = self.evict(&mut pruning, keep) {
            // The save itself succeeded; the next save over the threshold retries.
            let dir = self.dir.display();
            tracing::warn!(%dir, error = %err, "pruning the session directory failed");
        }
    }

    /// Prunes the expired files, then removes the live files closest to
    /// expiry, never `keep`, until 90% of the threshold remain.
    fn evict(&self, pruning: &mut Pruning, keep: &Path) -> io::Result<()> {
        let now = now_secs();
        let mut live = self.rescan(pruning, now)?.sessions;
        let mut remaining = live.len();
        if remaining > self.threshold {
            let target = self.threshold - self.threshold / 10;
            // Closest to expiry first: with one lifetime for every session,
            // that is the least recently saved or touched. Never-expiring
            // files go last.
            live.sort_by_key(|(_, expiry)| if *expiry == 0 { u64::MAX } else { *expiry });
            for (path, _) in &live {
                if remaining <= target {
                    break;
                }
                if path == keep {
                    continue;
                }
                match fs::remove_file(path) {
                    Ok(()) => remaining -= 1,
                    Err(err) if err.kind() == io::ErrorKind::NotFound => remaining -= 1,
                    Err(err) => return Err(err),
                }
            }
        }
        self.count.store(remaining, Ordering::Relaxed);
        Ok(())
    }

    /// A scan that prunes the expired files and replaces the count and the
    /// earliest known expiry with what it found. The caller holds `pruning`.
    pub(super) fn rescan(&self, pruning: &mut Pruning, now: u64) -> io::Result<Scan> {
        let scan = self.scan(now, Sweep::Expired)?;
        self.count.store(scan.sessions.len(), Ordering::Relaxed);
        let earliest = scan
            .sessions
            .iter()
            .map(|(_, expiry)| *expiry)
            .filter(|expiry| *expiry != 0)
            .min()
            .unwrap_or(u64::MAX);
        self.next_expiry.store(earliest, Ordering::Relaxed);
        pruning.scanned_at = now;
        Ok(scan)
    }

    /// Lists the session files, removing stale temp files and, when asked,
    /// expired and unreadable session files. Entries that are not regular
    /// files are skipped unopened, and every open is non-blocking, so a FIFO
    /// or a symlink planted in the directory cannot stall or redirect a scan.
    pub(super) fn scan(&self, now: u64, sweep: Sweep) -> io::Result<Scan> {
        let mut scan = Scan {
            sessions: Vec::new(),
            removed: 0,
        };
        for entry in fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let path = entry.path();
            if is_temp_name(&name) {
                remove_stale_temp(&path);
                continue;
            }
            if !is_session_name(&name) {
                continue;
            }
            // The entry's own type (not following a symlink), from the
            // directory listing where the filesystem records it.
            match entry.file_type() {
                Ok(kind) if kind.is_file() => {}
                Ok(_) => continue,
                Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
                Err(err) => return Err(err),
            }
            if sweep == Sweep::TempsOnly {
                scan.sessions.push((path, 0));
                continue;
            }
            // Checked again on the opened file: the entry may have been
            // replaced since it was listed.
            let mut file = match open_record(&path, false)? {
                Opened::File(file, _) => file,
                Opened::Missing | Opened::NotRegular => continue,
            };
            match read_header(&mut file)? {
                Some(expiry) if !is_expired(expiry, now) => scan.sessions.push((path, expiry)),
                _ => {
                    // Under the stripe lock, as every removal of a session
                    // file: a save renaming a new file over this one holds it.
                    // A busy stripe is left for the next scan.
                    let Some(_lock) = self.try_lock_for_write(&path)? else {
                        continue;
                    };
                    if same_file(&path, &file) {
                        match fs::remove_file(&path) {
                            Ok(()) => scan.removed += 1,
                            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                            Err(err) => return Err(err),
                        }
                    }
                }
            }
        }
        Ok(scan)
    }
}
