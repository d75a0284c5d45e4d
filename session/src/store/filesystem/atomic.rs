//! Atomic writes: a synced temp file in the same directory, renamed over the
//! session file, so a reader (in this process or another) sees the old record
//! or the new one, never a torn one.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::names::temp_name;

/// A temp file younger than this may belong to a save in flight, in this
/// process or another one sharing the directory.
const STALE_TEMP_AGE: Duration = Duration::from_secs(60);

/// Creates a new temp file in `dir` with permission bits `mode`.
pub(super) fn create_temp(dir: &Path, mode: u32) -> io::Result<(PathBuf, File)> {
    let mut attempt = 0;
    loop {
        let path = dir.join(temp_name());
        let mut options = OpenOptions::new();
        // create_new is O_EXCL: it never follows a symlink planted under the
        // name, and never opens a file that is already there.
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(mode);
        }
        match options.open(&path) {
            Ok(file) => {
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    // The umask narrowed the mode given to open; the
                    // configured mode is what the operator asked for.
                    if let Err(err) = file.set_permissions(fs::Permissions::from_mode(mode)) {
                        let _ = fs::remove_file(&path);
                        return Err(err);
                    }
                }
                #[cfg(not(unix))]
                let _ = mode;
                return Ok((path, file));
            }
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists && attempt < 8 => attempt += 1,
            Err(err) => return Err(err),
        }
    }
}

/// Writes `bytes` to `target` through a synced temp file and a rename.
/// Returns true when no entry was there before.
pub(super) fn write_atomic(dir: &Path, mode: u32, target: &Path, bytes: &[u8]) -> io::Result<bool> {
    let (temp, mut file) = create_temp(dir, mode)?;
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
        // rename replaces whatever entry has the name (a symlink included)
        // and never writes through it.
        fs::rename(&temp, target)?;
        Ok(is_new)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

/// Removes the temp file at `path` if it is older than any save in flight.
pub(super) fn remove_stale_temp(path: &Path) {
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
