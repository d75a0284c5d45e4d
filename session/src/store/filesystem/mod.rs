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
//! The number of files is bounded by the threshold, as in cachelib: see
//! [`FileStore::new`] for how and when the directory is pruned.

use std::ffi::OsStr;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use rand::rngs::SysRng;
use rand::TryRng;
use sha1::{Digest, Sha1};

use super::{BuildError, SaveHint, SessionStore, StoreError};

const BACKEND: &str = "filesystem";

const MAGIC: &[u8; 7] = b"RSESS1\0";
const EXPIRY_OFFSET: usize = MAGIC.len();
const LEN_OFFSET: usize = EXPIRY_OFFSET + 8;
const HEADER_LEN: usize = LEN_OFFSET + 8;
const CHECKSUM_LEN: usize = 20;

/// Hex SHA-1: the only names this store treats as sessions, so foreign files
/// in a shared directory are never read or pruned.
const NAME_LEN: usize = 2 * CHECKSUM_LEN;

const TEMP_PREFIX: &str = ".tmp-";

/// A temp file younger than this may belong to a save in flight, in this
/// process or another one sharing the directory.
const STALE_TEMP_AGE: Duration = Duration::from_secs(60);

/// Sessions stored as files in one directory.
///
/// Blocking file I/O runs on tokio's blocking pool. Cloning shares the same
/// directory and file count.
#[derive(Debug, Clone)]
pub struct FileStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    threshold: usize,
    mode: u32,
    /// Session files in the directory, as far as this process knows: counted
    /// at start-up, kept up to date by our own writes and removals, and
    /// recounted by every prune and cleanup. Other processes sharing the
    /// directory make it drift until the next recount.
    count: AtomicUsize,
    /// Only one prune scans the directory at a time; other saves skip it.
    pruning: AtomicBool,
}

/// What a read found in a session file.
enum Decoded<'a> {
    Live { expiry: u64, payload: &'a [u8] },
    Expired,
    Corrupt(&'static str),
}

impl FileStore {
    /// Opens the store in `dir`, creating the directory (mode 0700 on unix) if
    /// it is missing. Files are written with `mode` (permission bits only).
    ///
    /// Start-up counts the session files, removes temp files left by a crash,
    /// and checks that the directory is writable, so a bad `SESSION_FILE_DIR`
    /// fails here rather than on the first request. This is blocking I/O: from
    /// async code, use [`FileStore::from_settings`] or `spawn_blocking`.
    ///
    /// When a save pushes the count of files above `threshold` (0 means no
    /// limit), the directory is scanned once: expired and unreadable files are
    /// removed first, then, if still above the threshold, the live files
    /// closest to expiry until 90% of the threshold remain. The slack means a
    /// full store scans once per `threshold / 10` new sessions, not on every
    /// save.
    pub fn new(dir: impl Into<PathBuf>, threshold: usize, mode: u32) -> Result<Self, BuildError> {
        let dir = dir.into();
        let fail = |source: io::Error| BuildError::Backend {
            backend: BACKEND,
            location: dir.display().to_string(),
            source: source.into(),
        };
        // A relative dir would follow later changes of the working directory.
        let dir = std::path::absolute(&dir).map_err(fail)?;
        create_dir(&dir).map_err(fail)?;
        let inner = Inner {
            dir,
            threshold,
            mode: mode & 0o777,
            count: AtomicUsize::new(0),
            pruning: AtomicBool::new(false),
        };
        let scan = inner.scan(now_secs(), Sweep::TempsOnly).map_err(fail)?;
        inner.count.store(scan.sessions.len(), Ordering::Relaxed);
        let (probe, file) = inner.create_temp().map_err(fail)?;
        drop(file);
        fs::remove_file(&probe).map_err(fail)?;
        Ok(Self {
            inner: Arc::new(inner),
        })
    }

    /// Opens the store that `SESSION_FILE_DIR`, `SESSION_FILE_THRESHOLD` and
    /// `SESSION_FILE_MODE` describe, off the async runtime.
    pub async fn from_settings(settings: &session_config::Settings) -> Result<Self, BuildError> {
        let dir = settings.file_dir.clone();
        let location = dir.display().to_string();
        let threshold = settings.file_threshold;
        let mode = settings.file_mode.get();
        tokio::task::spawn_blocking(move || Self::new(dir, threshold, mode))
            .await
            .map_err(|source| BuildError::Backend {
                backend: BACKEND,
                location,
                source: source.into(),
            })?
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
        &self,
        key: &str,
        value: &[u8],
        expiry: u64,
    ) -> Result<(), StoreError> {
        let path = self.inner.path_for(key);
        let bytes = encode(expiry, value);
        self.blocking("save", move |inner| {
            if inner.write_atomic(&path, &bytes)? {
                inner.count.fetch_add(1, Ordering::Relaxed);
            }
            inner.prune_if_needed(&path);
            Ok(())
        })
        .await
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
        &self,
        key: &str,
        ttl: Duration,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let path = self.inner.path_for(key);
        self.blocking("load_and_touch", move |inner| inner.read(&path, Some(ttl)))
            .await
    }

    async fn save(
        &self,
        key: &str,
        value: &[u8],
        ttl: Duration,
        _hint: SaveHint,
    ) -> Result<(), StoreError> {
        self.save_with_expiry(key, value, expiry_after(ttl)).await
    }

    async fn touch(&self, key: &str, ttl: Duration) -> Result<(), StoreError> {
        let path = self.inner.path_for(key);
        self.blocking("touch", move |inner| inner.touch(&path, ttl))
            .await
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let path = self.inner.path_for(key);
        self.blocking("delete", move |inner| match fs::remove_file(&path) {
            Ok(()) => {
                inner.forget_one();
                Ok(())
            }
            Err(err) if err.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(err) => Err(err),
        })
        .await
    }

    async fn cleanup(&self) -> Result<u64, StoreError> {
        self.blocking("cleanup", |inner| {
            let scan = inner.scan(now_secs(), Sweep::Expired)?;
            inner.count.store(scan.sessions.len(), Ordering::Relaxed);
            Ok(scan.removed)
        })
        .await
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Sweep {
    /// Remove stale temp files only.
    TempsOnly,
    /// Also remove expired and unreadable session files.
    Expired,
}

struct Scan {
    /// Live (or, with `Sweep::TempsOnly`, all) session files and their expiry.
    sessions: Vec<(PathBuf, u64)>,
    /// Session files removed.
    removed: u64,
}

impl Inner {
    fn path_for(&self, key: &str) -> PathBuf {
        self.dir.join(hex(&Sha1::digest(key.as_bytes())))
    }

    fn forget_one(&self) {
        // Saturating: the count is approximate and must not wrap.
        let _ = self
            .count
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_sub(1))
            });
    }

    /// Reads the session at `path`; with a ttl, also moves its expiry, through
    /// the same open file so the touch costs no second lookup.
    fn read(&self, path: &Path, touch: Option<Duration>) -> io::Result<Option<Vec<u8>>> {
        let mut file = match OpenOptions::new()
            .read(true)
            .write(touch.is_some())
            .open(path)
        {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(err),
        };
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
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
                self.remove_if_same(path, &file);
                Ok(None)
            }
            Decoded::Corrupt(reason) => {
                tracing::warn!(
                    file = %path.display(),
                    reason,
                    "unreadable session file removed; the session is treated as missing"
                );
                self.remove_if_same(path, &file);
                Ok(None)
            }
        }
    }

    fn touch(&self, path: &Path, ttl: Duration) -> io::Result<()> {
        let mut file = match OpenOptions::new().read(true).write(true).open(path) {
            Ok(file) => file,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(err) => return Err(err),
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
            Some(_) => self.remove_if_same(path, &file),
            None => {}
        }
        Ok(())
    }

    /// Removes `path` unless a concurrent save has renamed a new file over it
    /// since `file` was opened: that newer session must survive.
    fn remove_if_same(&self, path: &Path, file: &File) {
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

    fn create_temp(&self) -> io::Result<(PathBuf, File)> {
        let mut attempt = 0;
        loop {
            let path = self.dir.join(temp_name());
            let mut options = OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(self.mode);
            }
            match options.open(&path) {
                Ok(file) => {
                    #[cfg(unix)]
                    {
                        use std::os::unix::fs::PermissionsExt;
                        // The umask narrowed the mode given to open; the
                        // configured mode is what the operator asked for.
                        if let Err(err) =
                            file.set_permissions(fs::Permissions::from_mode(self.mode))
                        {
                            let _ = fs::remove_file(&path);
                            return Err(err);
                        }
                    }
                    return Ok((path, file));
                }
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists && attempt < 8 => {
                    attempt += 1
                }
                Err(err) => return Err(err),
            }
        }
    }

    /// Writes `bytes` to `target` through a synced temp file and a rename.
    /// Returns true when no file was there before.
    fn write_atomic(&self, target: &Path, bytes: &[u8]) -> io::Result<bool> {
        let (temp, mut file) = self.create_temp()?;
        let result = (|| {
            file.write_all(bytes)?;
            // Without the sync a crash could leave the renamed file empty. The
            // directory is not synced: a crash may undo the rename, which only
            // brings back the previous version of the session.
            file.sync_all()?;
            let is_new = match fs::symlink_metadata(target) {
                Ok(_) => false,
                Err(err) => err.kind() == io::ErrorKind::NotFound,
            };
            fs::rename(&temp, target)?;
            Ok(is_new)
        })();
        if result.is_err() {
            let _ = fs::remove_file(&temp);
        }
        result
    }

    fn prune_if_needed(&self, keep: &Path) {
        if self.threshold == 0 || self.count.load(Ordering::Relaxed) <= self.threshold {
            return;
        }
        if self.pruning.swap(true, Ordering::Acquire) {
            return;
        }
        if let Err(err) = self.prune(keep) {
            // The save itself succeeded; the next save over the threshold retries.
            let dir = self.dir.display();
            tracing::warn!(%dir, error = %err, "pruning the session directory failed");
        }
        self.pruning.store(false, Ordering::Release);
    }

    fn prune(&self, keep: &Path) -> io::Result<()> {
        let mut live = self.scan(now_secs(), Sweep::Expired)?.sessions;
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

    /// Lists the session files, removing stale temp files and, when asked,
    /// expired and unreadable session files.
    fn scan(&self, now: u64, sweep: Sweep) -> io::Result<Scan> {
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
            if sweep == Sweep::TempsOnly {
                scan.sessions.push((path, 0));
                continue;
            }
            let header =
                match File::open(&path).and_then(|mut f| read_header(&mut f).map(|h| (f, h))) {
                    Ok(header) => header,
                    Err(err) if err.kind() == io::ErrorKind::NotFound => continue,
                    Err(err) => return Err(err),
                };
            match header {
                (_, Some(expiry)) if !is_expired(expiry, now) => scan.sessions.push((path, expiry)),
                (file, _) => {
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

fn create_dir(dir: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        // Session files are bearer credentials: keep the listing private.
        builder.mode(0o700);
    }
    builder.create(dir)
}

fn remove_stale_temp(path: &Path) {
    let stale = fs::symlink_metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|modified| SystemTime::now().duration_since(modified).ok())
        .is_some_and(|age| age >= STALE_TEMP_AGE);
    if stale {
        if let Err(err) = fs::remove_file(path) {
            if err.kind() != io::ErrorKind::NotFound {
                let file = path.display();
                tracing::warn!(%file, error = %err, "could not remove a stale temp file");
            }
        }
    }
}

fn encode(expiry: u64, payload: &[u8]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(HEADER_LEN + payload.len() + CHECKSUM_LEN);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&expiry.to_be_bytes());
    bytes.extend_from_slice(&(payload.len() as u64).to_be_bytes());
    bytes.extend_from_slice(payload);
    bytes.extend_from_slice(&Sha1::digest(payload));
    bytes
}

fn decode(bytes: &[u8], now: u64) -> Decoded<'_> {
    let Some(expiry) = parse_header(bytes) else {
        return Decoded::Corrupt("bad header");
    };
    let Some(len) = bytes.get(LEN_OFFSET..HEADER_LEN).and_then(be_u64) else {
        return Decoded::Corrupt("bad header");
    };
    let expected = usize::try_from(len)
        .ok()
        .and_then(|len| len.checked_add(HEADER_LEN + CHECKSUM_LEN));
    if expected != Some(bytes.len()) {
        return Decoded::Corrupt("length mismatch");
    }
    let (payload, checksum) = bytes[HEADER_LEN..].split_at(bytes.len() - HEADER_LEN - CHECKSUM_LEN);
    if Sha1::digest(payload).as_slice() != checksum {
        return Decoded::Corrupt("checksum mismatch");
    }
    if is_expired(expiry, now) {
        Decoded::Expired
    } else {
        Decoded::Live { expiry, payload }
    }
}

/// The expiry, if `bytes` starts with a well-formed header.
fn parse_header(bytes: &[u8]) -> Option<u64> {
    if bytes.get(..MAGIC.len())? != MAGIC {
        return None;
    }
    be_u64(bytes.get(EXPIRY_OFFSET..LEN_OFFSET)?)
}

fn read_header(file: &mut File) -> io::Result<Option<u64>> {
    let mut header = [0u8; HEADER_LEN];
    let mut filled = 0;
    while filled < HEADER_LEN {
        match file.read(&mut header[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => {}
            Err(err) => return Err(err),
        }
    }
    Ok(parse_header(&header[..filled]))
}

fn write_expiry(file: &mut File, expiry: u64) -> io::Result<()> {
    file.seek(SeekFrom::Start(EXPIRY_OFFSET as u64))?;
    // One small write in place; not synced, since losing a touch in a crash
    // only makes the session expire earlier.
    file.write_all(&expiry.to_be_bytes())
}

fn be_u64(bytes: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(bytes.try_into().ok()?))
}

fn is_expired(expiry: u64, now: u64) -> bool {
    expiry != 0 && expiry <= now
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Unix seconds `ttl` from now, rounded up so a session lives at least its ttl.
fn expiry_after(ttl: Duration) -> u64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let at = now.saturating_add(ttl);
    let secs = at
        .as_secs()
        .saturating_add(u64::from(at.subsec_nanos() > 0));
    // 0 means "never" in the header; a time this late cannot be meant.
    secs.max(1)
}

#[cfg(unix)]
fn same_file(path: &Path, file: &File) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::symlink_metadata(path), file.metadata()) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
fn same_file(_path: &Path, _file: &File) -> bool {
    true
}

fn is_session_name(name: &OsStr) -> bool {
    name.to_str().is_some_and(|n| {
        n.len() == NAME_LEN
            && n.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

fn is_temp_name(name: &OsStr) -> bool {
    name.to_str().is_some_and(|n| n.starts_with(TEMP_PREFIX))
}

fn temp_name() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut random = [0u8; 8];
    // The pid and counter alone are unique on this host; the random part
    // guards against pid reuse across hosts sharing the directory, and
    // create_new settles any collision that is left.
    let _ = SysRng.try_fill_bytes(&mut random);
    format!(
        "{TEMP_PREFIX}{:x}-{:x}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        hex(&random)
    )
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::store::StoreErrorKind;

    const HOUR: Duration = Duration::from_secs(3600);

    fn store_in(dir: &Path, threshold: usize, mode: u32) -> FileStore {
        FileStore::new(dir, threshold, mode).unwrap()
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    fn expiry_on_disk(store: &FileStore, key: &str) -> u64 {
        let mut file = File::open(store.inner.path_for(key)).unwrap();
        read_header(&mut file).unwrap().unwrap()
    }

    #[tokio::test]
    async fn round_trip() {
        let tmp = tempfile::tempdir().unwrap();
        let store = store_in(tmp.path(), 500, 0o600);
        assert_eq!(store.backend(), "filesystem");
        assert_eq!(store.load("k").await.unwrap(), None);
        store
            .save("k", b"\x81\xa1a\x01", HOUR, SaveHint::New)
            .await
            .unwrap();
        assert_eq!(
            store.load("k").await.unwrap().as_deref(),
            Some(&b"\x81\xa1a\x01"[..])
        );
        store
            .save("k", b"", HOUR, SaveHint::Existing)
            .await
            .unwrap();
        assert_eq!(store.load("k").await.unwrap().as_deref(), Some(&b""[..]));
        assert_eq!(
            entries(tmp.path()).len(),
            1,
            "an overwrite replaces the file"
        );
        store.delete("k").await.unwrap();
        assert_eq!(store.load("k").await.unwrap(), None);
        store.delete("k").await.unwrap();
        assert!(entries(tmp.path()).is_empty());
    }

    #[tokio::test]
    async fn save_writes_the_ttl_as_unix_seconds() {
        let tmp = tempfile::tempdir().unwrap();
        let store = store_in(tmp.path(), 500, 0o600);
        let before = now_secs();
        store
            .save("k", b"v", Duration::from_secs(100), SaveHint::New)
            .await
            .unwrap();
        let expiry = expiry_on_disk(&store, "k");
        assert!(
            (before + 100..=now_secs() + 101).contains(&expiry),
            "{expiry} vs {before}"
        );
    }

    #[tokio::test]
    async fn expired_is_never_served_and_is_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let store = store_in(tmp.path(), 500, 0o600);
        store
            .save_with_expiry("k", b"v", now_secs() - 1)
            .await
            .unwrap();
        assert_eq!(store.load("k").await.unwrap(), None);
        assert!(entries(tmp.path()).is_empty());

        store.save_with_expiry("k", b"v", now_secs()).await.unwrap();
        assert_eq!(store.load_and_touch("k", HOUR).await.unwrap(), None);
        assert!(entries(tmp.path()).is_empty());

        store
            .save_with_expiry("k", b"v", now_secs() - 1)
            .await
            .unwrap();
        store.touch("k", HOUR).await.unwrap();
        assert_eq!(
            store.load("k").await.unwrap(),
            None,
            "a touch does not revive it"
        );
    }

    #[tokio::test]
    async fn a_short_ttl_expires() {
        let tmp = tempfile::tempdir().unwrap();
        let store = store_in(tmp.path(), 500, 0o600);
        store
            .save("k", b"v", Duration::from_millis(10), SaveHint::New)
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(2100)).await;
        assert_eq!(store.load("k").await.unwrap(), None);
    }

    #[tokio::test]
    async fn load_and_touch_and_touch_move_the_expiry() {
        let tmp = tempfile::tempdir().unwrap();
        let store = store_in(tmp.path(), 500, 0o600);
        store
            .save("k", b"v", Duration::from_secs(5), SaveHint::New)
            .await
            .unwrap();
        let got = store
            .load_and_touch("k", Duration::from_secs(500))
            .await
            .unwrap();
        assert_eq!(got.as_deref(), Some(&b"v"[..]));
        assert!(expiry_on_disk(&store, "k") >= now_secs() + 400);
        store.touch("k", Duration::from_secs(50)).await.unwrap();
        let expiry = expiry_on_disk(&store, "k");
        assert!(expiry <= now_secs() + 51 && expiry >= now_secs() + 49);
        assert_eq!(
            store.load("k").await.unwrap().as_deref(),
            Some(&b"v"[..]),
            "the checksum still holds"
        );
        store.touch("missing", HOUR).await.unwrap();
        assert_eq!(store.load_and_touch("missing", HOUR).await.unwrap(), None);
        assert_eq!(
            entries(tmp.path()).len(),
            1,
            "touching a missing key creates nothing"
        );
    }

    #[tokio::test]
    async fn corrupt_or_truncated_files_are_a_miss_and_removed() {
        let tmp = tempfile::tempdir().unwrap();
        let store = store_in(tmp.path(), 500, 0o600);
        store
            .save("k", b"some session bytes", HOUR, SaveHint::New)
            .await
            .unwrap();
        let path = store.inner.path_for("k");
        let valid = fs::read(&path).unwrap();

        let mut flipped = valid.clone();
        flipped[HEADER_LEN + 2] ^= 0x01;
        let mut long = valid.clone();
        long.push(0);
        let mut huge_len = valid.clone();
        huge_len[LEN_OFFSET..HEADER_LEN].copy_from_slice(&u64::MAX.to_be_bytes());
        let cases: Vec<(&str, Vec<u8>)> = vec![
            (
                "garbage",
                b"not a session file at all, just garbage".to_vec(),
            ),
            ("empty", Vec::new()),
            ("header only", valid[..HEADER_LEN].to_vec()),
            (
                "truncated payload",
                valid[..valid.len() - CHECKSUM_LEN - 3].to_vec(),
            ),
            ("truncated checksum", valid[..valid.len() - 1].to_vec()),
            ("trailing byte", long),
            ("flipped payload bit", flipped),
            ("huge length", huge_len),
            ("magic only", MAGIC.to_vec()),
        ];
        for (name, bytes) in cases {
            fs::write(&path, &bytes).unwrap();
            assert_eq!(store.load("k").await.unwrap(), None, "{name}");
            assert!(!path.exists(), "{name}: removed");
            fs::write(&path, &bytes).unwrap();
            assert_eq!(
                store.load_and_touch("k", HOUR).await.unwrap(),
                None,
                "{name}"
            );
            assert!(!path.exists(), "{name}: removed");
        }
        fs::write(&path, &valid).unwrap();
        assert_eq!(
            store.load("k").await.unwrap().as_deref(),
            Some(&b"some session bytes"[..])
        );
    }

    #[tokio::test]
    async fn leftover_temp_files_are_ignored_and_cleaned() {
        let tmp = tempfile::tempdir().unwrap();
        let stale = tmp.path().join(".tmp-1-2-deadbeef");
        let fresh = tmp.path().join(".tmp-1-3-cafebabe");
        let old = SystemTime::now() - Duration::from_secs(3600);
        for path in [&stale, &fresh] {
            fs::write(path, encode(0, b"half-written")).unwrap();
        }
        File::options()
            .write(true)
            .open(&stale)
            .unwrap()
            .set_modified(old)
            .unwrap();

        let store = store_in(tmp.path(), 500, 0o600);
        assert!(!stale.exists(), "start-up removes stale temp files");
        assert!(fresh.exists(), "a temp file in flight is left alone");
        assert_eq!(
            store.inner.count.load(Ordering::Relaxed),
            0,
            "temp files are not sessions"
        );
        assert_eq!(store.load(".tmp-1-3-cafebabe").await.unwrap(), None);

        fs::write(&stale, b"x").unwrap();
        File::options()
            .write(true)
            .open(&stale)
            .unwrap()
            .set_modified(old)
            .unwrap();
        assert_eq!(
            store.cleanup().await.unwrap(),
            0,
            "temp files are not counted as sessions"
        );
        assert!(!stale.exists());
        assert!(fresh.exists());
    }

    #[tokio::test]
    async fn path_like_keys_stay_inside_the_directory() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("sessions");
        let store = store_in(&dir, 500, 0o600);
        let keys = [
            "../../etc/passwd",
            "../escape",
            "/abs/path",
            "a/b",
            "nul\0byte",
            "..",
            ".",
            "",
            "C:\\x",
        ];
        for (i, key) in keys.iter().enumerate() {
            store
                .save(key, &[i as u8], HOUR, SaveHint::New)
                .await
                .unwrap();
        }
        for (i, key) in keys.iter().enumerate() {
            assert_eq!(
                store.load(key).await.unwrap(),
                Some(vec![i as u8]),
                "{key:?}"
            );
        }
        assert_eq!(entries(root.path()), ["sessions"]);
        let names = entries(&dir);
        assert_eq!(names.len(), keys.len());
        assert!(
            names.iter().all(|n| is_session_name(OsStr::new(n))),
            "{names:?}"
        );
        for key in keys {
            assert_eq!(store.inner.path_for(key).parent(), Some(store.dir()));
        }
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn files_get_the_configured_mode_and_the_dir_0700() {
        use std::os::unix::fs::PermissionsExt;
        let root = tempfile::tempdir().unwrap();
        for mode in [0o600, 0o640, 0o664] {
            let dir = root.path().join(format!("m{mode:o}"));
            let store = store_in(&dir, 500, mode);
            assert_eq!(
                fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
                0o700
            );
            store.save("k", b"v", HOUR, SaveHint::New).await.unwrap();
            store
                .save("k", b"w", HOUR, SaveHint::Existing)
                .await
                .unwrap();
            let meta = fs::metadata(store.inner.path_for("k")).unwrap();
            assert_eq!(meta.permissions().mode() & 0o7777, mode, "{mode:o}");
        }
    }

    #[tokio::test]
    async fn pruning_removes_expired_first_then_the_oldest() {
        let tmp = tempfile::tempdir().unwrap();
        let store = store_in(tmp.path(), 4, 0o600);
        let now = now_secs();
        store
            .save_with_expiry("expired1", b"x", now - 10)
            .await
            .unwrap();
        store
            .save_with_expiry("expired2", b"x", now - 5)
            .await
            .unwrap();
        store.save_with_expiry("a", b"x", now + 100).await.unwrap();
        store.save_with_expiry("b", b"x", now + 200).await.unwrap();
        assert_eq!(
            entries(tmp.path()).len(),
            4,
            "at the threshold nothing is pruned"
        );

        store.save_with_expiry("c", b"x", now + 300).await.unwrap();
        let left = entries(tmp.path());
        assert_eq!(left.len(), 3, "only the expired files went");
        for key in ["expired1", "expired2"] {
            assert!(!store.inner.path_for(key).exists(), "{key}");
        }

        store.save_with_expiry("d", b"x", now + 400).await.unwrap();
        store
            .save_with_expiry("e", b"x", now + 50_000)
            .await
            .unwrap();
        assert_eq!(entries(tmp.path()).len(), 4);
        assert!(!store.inner.path_for("a").exists(), "the oldest went");
        for key in ["b", "c", "d", "e"] {
            assert!(store.load(key).await.unwrap().is_some(), "{key}");
        }
        assert_eq!(store.inner.count.load(Ordering::Relaxed), 4);
    }

    #[tokio::test]
    async fn pruning_never_removes_the_file_just_saved() {
        let tmp = tempfile::tempdir().unwrap();
        let store = store_in(tmp.path(), 2, 0o600);
        let now = now_secs();
        store.save_with_expiry("a", b"x", now + 1000).await.unwrap();
        store.save_with_expiry("b", b"x", now + 2000).await.unwrap();
        store
            .save_with_expiry("short", b"x", now + 10)
            .await
            .unwrap();
        assert!(store.load("short").await.unwrap().is_some());
        assert_eq!(entries(tmp.path()).len(), 2);
    }

    #[tokio::test]
    async fn threshold_zero_means_no_limit() {
        let tmp = tempfile::tempdir().unwrap();
        let store = store_in(tmp.path(), 0, 0o600);
        for i in 0..20 {
            store
                .save(&format!("k{i}"), b"x", HOUR, SaveHint::New)
                .await
                .unwrap();
        }
        assert_eq!(entries(tmp.path()).len(), 20);
    }

    #[tokio::test]
    async fn cleanup_removes_expired_and_leaves_live_and_foreign_files() {
        let tmp = tempfile::tempdir().unwrap();
        fs::write(tmp.path().join("README"), b"not ours").unwrap();
        let store = store_in(tmp.path(), 500, 0o600);
        let now = now_secs();
        store
            .save_with_expiry("old1", b"x", now - 100)
            .await
            .unwrap();
        store.save_with_expiry("old2", b"x", now).await.unwrap();
        store.save_with_expiry("forever", b"x", 0).await.unwrap();
        store.save("live", b"x", HOUR, SaveHint::New).await.unwrap();
        assert_eq!(store.cleanup().await.unwrap(), 2);
        assert_eq!(store.cleanup().await.unwrap(), 0);
        assert!(store.load("live").await.unwrap().is_some());
        assert!(store.load("forever").await.unwrap().is_some());
        assert!(tmp.path().join("README").exists());
        assert_eq!(store.inner.count.load(Ordering::Relaxed), 2);
    }

    #[tokio::test]
    async fn start_up_counts_existing_sessions() {
        let tmp = tempfile::tempdir().unwrap();
        let first = store_in(tmp.path(), 500, 0o600);
        for key in ["a", "b", "c"] {
            first.save(key, b"x", HOUR, SaveHint::New).await.unwrap();
        }
        let second = store_in(tmp.path(), 500, 0o600);
        assert_eq!(second.inner.count.load(Ordering::Relaxed), 3);
        assert_eq!(second.load("b").await.unwrap().as_deref(), Some(&b"x"[..]));
    }

    fn assert_io_failure(err: &StoreError, operation: &str) {
        assert_eq!(err.kind, StoreErrorKind::Failed, "{err}");
        assert_eq!(err.backend, "filesystem");
        assert_eq!(err.operation, operation);
        assert!(err.source.downcast_ref::<io::Error>().is_some(), "{err:?}");
    }

    #[tokio::test]
    async fn io_errors_reach_the_caller_as_failed_with_the_io_source() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("sessions");
        let store = store_in(&dir, 500, 0o600);
        store.save("k", b"v", HOUR, SaveHint::New).await.unwrap();
        // Permission bits do not stop root, so take the directory away instead.
        fs::remove_dir_all(&dir).unwrap();
        fs::write(&dir, b"a file where the directory was").unwrap();

        let err = store
            .save("k", b"v", HOUR, SaveHint::New)
            .await
            .unwrap_err();
        assert_io_failure(&err, "save");
        assert_io_failure(&store.load("k").await.unwrap_err(), "load");
        assert_io_failure(
            &store.load_and_touch("k", HOUR).await.unwrap_err(),
            "load_and_touch",
        );
        assert_io_failure(&store.touch("k", HOUR).await.unwrap_err(), "touch");
        assert_io_failure(&store.delete("k").await.unwrap_err(), "delete");
        assert_io_failure(&store.cleanup().await.unwrap_err(), "cleanup");
    }

    #[tokio::test]
    async fn an_unusable_dir_fails_at_build_naming_the_dir() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("plain-file");
        fs::write(&file, b"x").unwrap();
        let dir = file.join("sessions");
        let err = FileStore::new(&dir, 500, 0o600).unwrap_err();
        match &err {
            BuildError::Backend {
                backend, location, ..
            } => {
                assert_eq!(*backend, "filesystem");
                assert!(location.contains("plain-file"), "{location}");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(err.to_string().contains("plain-file"), "{err}");
    }

    #[tokio::test]
    async fn concurrent_saves_and_loads_never_see_a_torn_file() {
        let tmp = tempfile::tempdir().unwrap();
        let store = store_in(tmp.path(), 500, 0o600);
        let small = vec![1u8; 10];
        let large = vec![2u8; 200_000];
        store.save("k", &small, HOUR, SaveHint::New).await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..8 {
            let store = store.clone();
            let (small, large) = (small.clone(), large.clone());
            tasks.push(tokio::spawn(async move {
                for j in 0..20 {
                    if (i + j) % 2 == 0 {
                        let value = if j % 3 == 0 { &large } else { &small };
                        store
                            .save("k", value, HOUR, SaveHint::Existing)
                            .await
                            .unwrap();
                    } else {
                        let got = store.load_and_touch("k", HOUR).await.unwrap().unwrap();
                        assert!(got == small || got == large);
                    }
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(entries(tmp.path()).len(), 1, "no temp file is left behind");
    }
}
