//! Reading a session file: open without following links or blocking, read
//! at most the largest record, check it, and (for a sliding read) move its
//! expiry through the same open file. Expired and unreadable files are
//! removed, under the file's stripe lock, unless a newer file was renamed
//! over them meanwhile: a conditional save compares and renames under that
//! lock, so a removal can no longer land between its rename and our check.

use std::fs;
use std::io;
use std::path::Path;
use std::time::Duration;

use super::format::{
    decode, expiry_after, is_expired, now_secs, read_header, write_expiry, Decoded,
};
use super::open::{open_record, read_capped, same_file, Opened};
use super::Inner;

/// Whether the caller of a read already holds the session file's stripe
/// lock, which removing an expired or unreadable file takes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum StripeLock {
    /// A conditional write's read: the lock is held.
    Held,
    /// Any other read: a removal takes the lock first.
    Take,
}

impl Inner {
    /// Reads the session at `path`; with a ttl, also moves its expiry, through
    /// the same open file so the touch costs no second lookup.
    pub(super) fn read(&self, path: &Path, touch: Option<Duration>) -> io::Result<Option<Vec<u8>>> {
        self.read_record(path, touch, StripeLock::Take)
    }

    /// [`read`](Self::read), by a caller that says whether it holds the
    /// stripe lock.
    pub(super) fn read_record(
        &self, path: &Path, touch: Option<Duration>, lock: StripeLock,
    ) -> io::Result<Option<Vec<u8>>> {
        let (mut file, len) = match open_record(path, touch.is_some())? {
            Opened::File(file, len) => (file, len),
            Opened::Missing => return Ok(None),
            Opened::NotRegular => {
                warn_not_regular(path);
                return Ok(None);
            }
        };
        let Some(bytes) = read_capped(&file, len, self.max_record)? else {
            self.discard(path, &file, "larger than the largest session record", lock);
            return Ok(None);
        };
        match decode(&bytes, now_secs()) {
            Decoded::Live { expiry, payload } => {
                if let Some(ttl) = touch {
                    let new_expiry = expiry_after(ttl);
                    // Second resolution: repeated reads within a second skip the write.
                    if new_expiry != expiry {
                        write_expiry(&mut file, new_expiry)?;
                    }
                }
                Ok(Some(payload.to_vec()))
            }
            Decoded::Expired => {
                self.remove_if_same(path, &file, lock);
                Ok(None)
            }
            Decoded::Corrupt(reason) => {
                self.discard(path, &file, reason, lock);
                Ok(None)
            }
        }
    }

    /// Logs and removes an unreadable session file: the session is a miss.
    fn discard(&self, path: &Path, file: &fs::File, reason: &'static str, lock: StripeLock) {
        tracing::warn!(
            file = %path.display(),
            reason,
            "unreadable session file removed; the session is treated as missing"
        );
        self.remove_if_same(path, file, lock);
    }

    pub(super) fn touch(&self, path: &Path, ttl: Duration) -> io::Result<()> {
        let mut file = match open_record(path, true)? {
            Opened::File(file, _) => file,
            Opened::Missing => return Ok(()),
            Opened::NotRegular => {
                warn_not_regular(path);
                return Ok(());
            }
        };
        match read_header(&mut file)? {
            Some(expiry) if !is_expired(expiry, now_secs()) => {
                let new_expiry = expiry_after(ttl);
                if new_expiry != expiry {
                    write_expiry(&mut file, new_expiry)?;
                }
            }
            // Touching must not bring an expired session back, and a bad file
            // is left for the next read to report and remove.
            Some(_) => self.remove_if_same(path, &file, StripeLock::Take),
            None => {}
        }
        Ok(())
    }

    /// Removes `path` unless a concurrent save has renamed a new file over it
    /// since `file` was opened: that newer session must survive. The check
    /// and the removal happen under the stripe lock, which every save holds
    /// while it renames, so no save lands between them.
    pub(super) fn remove_if_same(&self, path: &Path, file: &fs::File, lock: StripeLock) {
        let _lock = match lock {
            StripeLock::Held => None,
            StripeLock::Take => match self.lock_for_write(path) {
                Ok(lock) => Some(lock),
                // The caller already has its answer (a miss); cleanup retries.
                Err(err) => {
                    let file = path.display();
                    tracing::warn!(%file, error = %err, "could not lock a session file to remove it");
                    return;
                }
            },
        };
        if !same_file(path, file) {
            return;
        }
        match fs::remove_file(path) {
            Ok(()) => self.forget_one(),
            Err(err) if err.kind() == io::ErrorKind::NotFound => {}
            // The caller already has its answer (a miss); cleanup retries.
            Err(err) => {
                let file = path.display();
                tracing::warn!(%file, error = %err, "could not remove a session file");
            }
        }
    }
}

/// Something other than a regular file sits under a session's name: it is
/// not ours, so it is neither read, written, nor removed.
fn warn_not_regular(path: &Path) {
    tracing::warn!(
        file = %path.display(),
        "a session file name in the session directory is not a regular file (a symlink, \
         FIFO, socket or directory); it is ignored and the session is treated as missing"
    );
}
