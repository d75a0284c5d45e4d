//! The owner index (design §12): one file per owner in the `.owners`
//! subdirectory, named by the hex SHA-1 of the owner (never the owner's
//! text, so `..` or `/` in it name nothing), read and rewritten under an
//! exclusive `flock` of its own.
//!
//! An index file is a session record (the [`format`](super::format) framing,
//! its expiry 0) whose payload is one entry per session: the login time in
//! unix seconds (8 bytes, big endian), the key's length (4 bytes, big endian)
//! and the key. It is written like a session file, through a synced temp file
//! renamed over it, so a crash leaves the old index or the new one.
//!
//! The index never expires by itself: a session kept alive by its requests
//! stays listed however long it lives. Dead entries are pruned by a listing
//! and by each cleanup pass; an emptied index file is removed.
//!
//! The session directory's scans skip the subdirectory (its name is no
//! session's), so index files are never counted, pruned or evicted as
//! sessions. The subdirectory must be a real directory of this user's: one
//! that is a symlink or belongs to someone else (planted in a shared,
//! sticky directory) is refused.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::atomic::{remove_stale_temp, write_atomic};
use super::format::{decode, encode, is_expired, now_secs, read_header, Decoded};
use super::names::{index_name, is_session_name, is_temp_name, OWNERS_DIR};
use super::open::{open_lock_file, open_record, read_capped, Opened};
use super::Inner;
use crate::store::{from_unix_seconds, unix_seconds, IndexedSession};

/// The largest index file read: far more sessions than one owner has.
const MAX_INDEX_BYTES: u64 = 16 << 20;

/// One entry's fixed part: the login time and the key's length.
const ENTRY_HEAD: usize = 8 + 4;

/// Session key → login time, unix seconds.
type Entries = BTreeMap<String, i64>;

impl Inner {
    /// The index subdirectory, created when missing.
    fn owners_dir(&self) -> io::Result<PathBuf> {
        let dir = self.dir.join(OWNERS_DIR);
        let mut builder = fs::DirBuilder::new();
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            // Index files name live sessions' keys: as private as they are.
            builder.mode(0o700);
        }
        match builder.create(&dir) {
            Ok(()) => {}
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
            Err(err) => return Err(err),
        }
        check_owners_dir(&dir, self.uid)?;
        Ok(dir)
    }

    /// The index subdirectory, or `None` when no index was ever written.
    fn existing_owners_dir(&self) -> io::Result<Option<PathBuf>> {
        let dir = self.dir.join(OWNERS_DIR);
        match fs::symlink_metadata(&dir) {
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(err) => Err(err),
            Ok(_) => check_owners_dir(&dir, self.uid).map(|()| Some(dir)),
        }
    }

    /// The exclusive lock of the index file `name`, held until the file is
    /// dropped: one of 256 lock files in the subdirectory, picked by the
    /// name's first byte, and never removed (see `conditional`).
    fn lock_index(&self, dir: &Path, name: &str) -> io::Result<File> {
        let stripe = name.get(..2).unwrap_or("00");
        let lock = open_lock_file(dir, &format!(".lock-{stripe}"), self.mode)?;
        lock.lock()?;
        Ok(lock)
    }

    pub(super) fn index_add(&self, owner: &str, key: &str, created: SystemTime) -> io::Result<()> {
        let dir = self.owners_dir()?;
        let name = index_name(owner);
        let _lock = self.lock_index(&dir, &name)?;
        let path = dir.join(&name);
        let mut entries = read_index(&path)?;
        let created = unix_seconds(created);
        if entries.insert(key.to_owned(), created) != Some(created) {
            self.write_index(&dir, &path, &entries)?;
        }
        Ok(())
    }

    pub(super) fn index_remove(&self, owner: &str, key: &str) -> io::Result<()> {
        let Some(dir) = self.existing_owners_dir()? else {
            return Ok(());
        };
        let name = index_name(owner);
        let _lock = self.lock_index(&dir, &name)?;
        let path = dir.join(&name);
        let mut entries = read_index(&path)?;
        if entries.remove(key).is_some() {
            self.write_index(&dir, &path, &entries)?;
        }
        Ok(())
    }

    pub(super) fn index_list(&self, owner: &str) -> io::Result<Vec<IndexedSession>> {
        let Some(dir) = self.existing_owners_dir()? else {
            return Ok(Vec::new());
        };
        let name = index_name(owner);
        let _lock = self.lock_index(&dir, &name)?;
        let path = dir.join(&name);
        let (entries, live) = self.prune_index(&dir, &path)?;
        Ok(live
            .into_iter()
            .map(|(key, expiry)| {
                let created = entries.get(&key).copied().and_then(from_unix_seconds);
                // 0: a session that never expires.
                let expires = (expiry != 0)
                    .then(|| SystemTime::UNIX_EPOCH.checked_add(Duration::from_secs(expiry)))
                    .flatten();
                IndexedSession::new(key, created, expires)
            })
            .collect())
    }

    /// Drops the entries of `path`'s index whose session is gone, rewriting
    /// (or removing) the file when any was; the caller holds its lock.
    /// Returns the entries kept, and each live key with its expiry.
    fn prune_index(&self, dir: &Path, path: &Path) -> io::Result<(Entries, Vec<(String, u64)>)> {
        let mut entries = read_index(path)?;
        let mut live = Vec::with_capacity(entries.len());
        let before = entries.len();
        let now = now_secs();
        for key in entries.keys() {
            if let Some(expiry) = self.session_expiry(key, now)? {
                live.push((key.clone(), expiry));
            }
        }
        if live.len() != before {
            entries.retain(|key, _| live.iter().any(|(live, _)| live == key));
            self.write_index(dir, path, &entries)?;
        }
        Ok((entries, live))
    }

    /// The expiry of `key`'s session when its file is there and has not
    /// expired (from the header alone: a damaged payload is found by the next
    /// read of the session).
    fn session_expiry(&self, key: &str, now: u64) -> io::Result<Option<u64>> {
        let mut file = match open_record(&self.path_for(key), false)? {
            Opened::File(file, _) => file,
            Opened::Missing | Opened::NotRegular => return Ok(None),
        };
        Ok(read_header(&mut file)?.filter(|expiry| !is_expired(*expiry, now)))
    }

    fn write_index(&self, dir: &Path, path: &Path, entries: &Entries) -> io::Result<()> {
        if entries.is_empty() {
            return match fs::remove_file(path) {
                Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
                _ => Ok(()),
            };
        }
        let mut payload = Vec::new();
        for (key, created) in entries {
            let len = u32::try_from(key.len()).map_err(io::Error::other)?;
            payload.extend_from_slice(&created.to_be_bytes());
            payload.extend_from_slice(&len.to_be_bytes());
            payload.extend_from_slice(key.as_bytes());
        }
        write_atomic(dir, self.mode, path, &encode(0, &payload)).map(drop)
    }

    /// Prunes every owner's index, and removes the temp files a crash left
    /// in the subdirectory: part of each cleanup pass. Each index is pruned
    /// under its own lock, so a concurrent login waits for one file at most.
    pub(super) fn prune_indexes(&self) -> io::Result<()> {
        let Some(dir) = self.existing_owners_dir()? else {
            return Ok(());
        };
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name();
            if is_temp_name(&name) {
                remove_stale_temp(&entry.path());
                continue;
            }
            let Some(name) = name.to_str().filter(|_| is_session_name(&name)) else {
                continue;
            };
            let _lock = self.lock_index(&dir, name)?;
            self.prune_index(&dir, &dir.join(name))?;
        }
        Ok(())
    }
}

/// The index at `path`; an index that is missing, or unreadable (damaged,
/// not a regular file), is empty, and the next write replaces it.
fn read_index(path: &Path) -> io::Result<Entries> {
    let (file, len) = match open_record(path, false)? {
        Opened::File(file, len) => (file, len),
        Opened::Missing => return Ok(Entries::new()),
        Opened::NotRegular => {
            tracing::warn!(file = %path.display(), "an owner index is not a regular file; it is treated as empty");
            return Ok(Entries::new());
        }
    };
    let entries = read_capped(&file, len, MAX_INDEX_BYTES)?.and_then(|bytes| {
        match decode(&bytes, now_secs()) {
            Decoded::Live { payload, .. } => parse_entries(payload),
            Decoded::Expired | Decoded::Corrupt(_) => None,
        }
    });
    Ok(entries.unwrap_or_else(|| {
        tracing::warn!(file = %path.display(), "an owner index is unreadable; it is treated as empty");
        Entries::new()
    }))
}

/// The entries of an index payload; `None` when it is malformed.
fn parse_entries(mut payload: &[u8]) -> Option<Entries> {
    let mut entries = Entries::new();
    while !payload.is_empty() {
        let (head, rest) = payload.split_at_checked(ENTRY_HEAD)?;
        let created = i64::from_be_bytes(head[..8].try_into().ok()?);
        let len = usize::try_from(u32::from_be_bytes(head[8..].try_into().ok()?)).ok()?;
        let (key, rest) = rest.split_at_checked(len)?;
        entries.insert(std::str::from_utf8(key).ok()?.to_owned(), created);
        payload = rest;
    }
    Some(entries)
}

/// Refuses an index subdirectory that is not a directory (a symlink
/// included) or, where the owner of files is known, is not `uid`'s: the
/// owner of the files this process creates.
fn check_owners_dir(dir: &Path, uid: Option<u32>) -> io::Result<()> {
    let meta = fs::symlink_metadata(dir)?;
    if !meta.file_type().is_dir() {
        return Err(io::Error::other(format!(
            "{} is not a directory (a symlink or a file): the owner index cannot use it",
            dir.display()
        )));
    }
    if uid.is_some() && file_uid(&meta) != uid {
        return Err(io::Error::other(format!(
            "{} belongs to another user: the owner index cannot use it",
            dir.display()
        )));
    }
    Ok(())
}

/// The user owning a file, where the platform says.
pub(super) fn file_uid(meta: &fs::Metadata) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some(meta.uid())
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        None
    }
}
