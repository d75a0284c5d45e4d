//! File names in the session directory: hashed session names, temp files,
//! the cleanup lock, and the owner index's subdirectory and files. Only names of the first kind are ever treated as
//! sessions, so foreign files in a shared directory are never read or pruned.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use rand::rngs::SysRng;
use rand::TryRng;
use sha1::{Digest, Sha1};

use super::format::CHECKSUM_LEN;
use crate::store::support::hex;

/// Hex SHA-1 of the key.
const NAME_LEN: usize = 2 * CHECKSUM_LEN;

const TEMP_PREFIX: &str = ".tmp-";

/// The file the background cleanup locks, so that one pass runs at a time
/// across every process sharing the directory. It is neither a session nor a
/// temp name, so no scan touches it.
pub(super) const CLEANUP_LOCK: &str = ".cleanup.lock";

/// The subdirectory of the owner index's files (see `owners`): no session
/// or temp name, so the directory's scans skip it.
pub(super) const OWNERS_DIR: &str = ".owners";

/// The index file name of `owner`, in [`OWNERS_DIR`]: a hash, never the
/// owner's text, so no owner names a path.
pub(super) fn index_name(owner: &str) -> String {
    hex(&Sha1::digest(owner.as_bytes()))
}

/// The session file of `key`: a hash, so no key can name a path outside
/// `dir`.
pub(super) fn path_for(dir: &Path, key: &str) -> PathBuf {
    dir.join(hex(&Sha1::digest(key.as_bytes())))
}

pub(super) fn is_session_name(name: &OsStr) -> bool {
    name.to_str().is_some_and(|n| {
        n.len() == NAME_LEN
            && n.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

pub(super) fn is_temp_name(name: &OsStr) -> bool {
    name.to_str().is_some_and(|n| n.starts_with(TEMP_PREFIX))
}

pub(super) fn temp_name() -> String {
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
