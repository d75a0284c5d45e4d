//! Conditional writes: the compare and the rename happen under an exclusive
//! lock, so that of many writers that loaded one record exactly one replaces
//! it, and a delete cannot slip between another writer's compare and rename
//! (which would bring an ended session back).
//!
//! The locks are 64 files `.write-lock-XX` in the directory, picked by the
//! first byte of the session file's hashed name, locked with `flock`: the
//! kernel releases a lock when its process dies, so a crash never leaves a
//! lock that blocks the next process, and no lock file is ever removed (two
//! processes could otherwise lock two different files under one name).

use std::fs::File;
use std::io;
use std::path::Path;

use super::format::encode;
use super::open::open_lock_file;
use super::read::StripeLock;
use super::Inner;
use crate::store::{SaveHint, WriteOutcome};

/// The lock file guarding the session file at `path`.
fn lock_name(path: &Path) -> String {
    let stripe = path
        .file_name()
        .and_then(|name| name.to_str())
        .and_then(|name| name.get(..2))
        .unwrap_or("00");
    format!(".write-lock-{stripe}")
}

impl Inner {
    /// The exclusive lock of `path`'s stripe, held until the file is dropped.
    pub(super) fn lock_for_write(&self, path: &Path) -> io::Result<File> {
        let lock = open_lock_file(&self.dir, &lock_name(path), self.mode)?;
        lock.lock()?;
        Ok(lock)
    }

    /// The lock of `path`'s stripe if it is free now; `Ok(None)` when someone
    /// holds it (this process included: a scan can run inside a save that
    /// holds it, and a second `flock` would wait for itself).
    pub(super) fn try_lock_for_write(&self, path: &Path) -> io::Result<Option<File>> {
        let lock = open_lock_file(&self.dir, &lock_name(path), self.mode)?;
        match lock.try_lock() {
            Ok(()) => Ok(Some(lock)),
            Err(std::fs::TryLockError::WouldBlock) => Ok(None),
            Err(std::fs::TryLockError::Error(err)) => Err(err),
        }
    }

    /// Replaces the session at `path` only if its payload is still
    /// `expected`. `Ok(None)` when the directory refused the write (full).
    pub(super) fn save_if_unchanged(
        &self, path: &Path, expected: &[u8], value: &[u8], expiry: u64,
    ) -> io::Result<Option<WriteOutcome>> {
        let _lock = self.lock_for_write(path)?;
        Ok(Some(
            match self.read_record(path, None, StripeLock::Held)? {
                None => WriteOutcome::Gone,
                Some(current) if current != expected => WriteOutcome::Changed(current),
                Some(_) => {
                    let bytes = encode(expiry, value);
                    if !self.save(path, &bytes, expiry, SaveHint::Existing)? {
                        return Ok(None);
                    }
                    WriteOutcome::Saved
                }
            },
        ))
    }

    /// Writes the session at `path` only if there is none. `Ok(None)` when
    /// the directory refused the write (full).
    pub(super) fn insert_new(
        &self, path: &Path, value: &[u8], expiry: u64,
    ) -> io::Result<Option<WriteOutcome>> {
        let _lock = self.lock_for_write(path)?;
        if let Some(current) = self.read_record(path, None, StripeLock::Held)? {
            return Ok(Some(WriteOutcome::Changed(current)));
        }
        let bytes = encode(expiry, value);
        Ok(self
            .save(path, &bytes, expiry, SaveHint::New)?
            .then_some(WriteOutcome::Saved))
    }
}
