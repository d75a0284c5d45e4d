//! Opening files in a directory others may have planted things in.
//!
//! The directory is trusted to be ours, but the store does not rely on every
//! entry in it being a file it wrote: a symlink under a session's name must
//! not make a read or a touch reach a file outside the directory, a FIFO must
//! not block a request or a cleanup pass forever, and a huge file must not be
//! read into memory. So every session file is opened
//!
//! - with `O_NOFOLLOW`: a symlink fails to open (`ELOOP`) instead of being
//!   followed;
//! - with `O_NONBLOCK`: opening a FIFO returns at once (and has no effect on
//!   a regular file);
//! - and accepted only when the *opened* file is a regular file (its `fstat`,
//!   not the path's, so a swap between check and open cannot fool it);
//!
//! and read up to the largest record the configured `max_session_bytes`
//! allows. At start-up, a directory that other users may write to is refused
//! (unless it has the sticky bit, which stops them from removing or renaming
//! our files), and a group-writable one is logged.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::path::Path;

/// Flags added to every open of a file in the session directory.
#[cfg(unix)]
pub(super) const OPEN_FLAGS: i32 = libc::O_NOFOLLOW | libc::O_NONBLOCK;

/// What opening a session file found.
pub(super) enum Opened {
    /// A regular file, and its size.
    File(File, u64),
    /// Nothing under that name.
    Missing,
    /// Something that is not a regular file (a symlink, a FIFO, a socket, a
    /// directory): never read, never written, never removed.
    NotRegular,
}

/// Opens the session file at `path` for reading, and for writing when
/// `write` is set (a touch), without following a symlink or blocking.
pub(super) fn open_record(path: &Path, write: bool) -> io::Result<Opened> {
    let mut options = OpenOptions::new();
    options.read(true).write(write);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(OPEN_FLAGS);
    }
    let file = match options.open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Opened::Missing),
        Err(err) if is_not_a_file_error(&err) => return Ok(Opened::NotRegular),
        Err(err) => return Err(err),
    };
    let meta = file.metadata()?;
    if meta.file_type().is_file() {
        Ok(Opened::File(file, meta.len()))
    } else {
        Ok(Opened::NotRegular)
    }
}

/// The errors `open` gives for an entry that is not a regular file: `ELOOP`
/// for a symlink under `O_NOFOLLOW`, `ENXIO` for a socket or a FIFO opened
/// for writing without a reader, `EISDIR` for a directory opened for writing.
fn is_not_a_file_error(err: &io::Error) -> bool {
    #[cfg(unix)]
    {
        matches!(
            err.raw_os_error(),
            Some(libc::ELOOP | libc::ENXIO | libc::EISDIR)
        )
    }
    #[cfg(not(unix))]
    {
        let _ = err;
        false
    }
}

/// Reads the whole of `file` when it is at most `cap` bytes; `None` when it
/// is larger, without reading it. The read itself is bounded too, in case the
/// file grows after its size was taken.
pub(super) fn read_capped(file: &File, len: u64, cap: u64) -> io::Result<Option<Vec<u8>>> {
    if len > cap {
        return Ok(None);
    }
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(cap.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > cap {
        return Ok(None);
    }
    Ok(Some(bytes))
}

/// Creates the directory (and its parents) when it is missing.
pub(super) fn create_dir(dir: &Path) -> io::Result<()> {
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

/// Checks who else may write to the directory: `Err` with the reason when
/// other users may (and the sticky bit does not stop them from replacing our
/// files), a warning when the group may.
#[cfg(unix)]
pub(super) fn check_dir_permissions(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    // The directory itself, through any symlink the operator chose for it.
    let mode = fs::metadata(dir)
        .map_err(|e| e.to_string())?
        .permissions()
        .mode();
    let sticky = mode & 0o1000 != 0;
    if mode & 0o002 != 0 && !sticky {
        return Err(format!(
            "SESSION_FILE_DIR {} is writable by every user (mode {:04o}): anyone on the host \
             could replace or remove session files; remove the others' write bit \
             (chmod o-w, or 0700)",
            dir.display(),
            mode & 0o7777
        ));
    }
    if mode & 0o022 != 0 {
        tracing::warn!(
            dir = %dir.display(),
            mode = format_args!("{:04o}", mode & 0o7777),
            "SESSION_FILE_DIR is writable by other users than its owner; session files \
             are bearer credentials, so consider mode 0700"
        );
    }
    Ok(())
}

#[cfg(not(unix))]
pub(super) fn check_dir_permissions(_dir: &Path) -> Result<(), String> {
    Ok(())
}

/// Whether `path` still names the file `file` has open, so that removing it
/// cannot remove a newer session a concurrent save renamed over it.
#[cfg(unix)]
pub(super) fn same_file(path: &Path, file: &File) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::symlink_metadata(path), file.metadata()) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

#[cfg(not(unix))]
pub(super) fn same_file(_path: &Path, _file: &File) -> bool {
    true
}

/// Opens (creating it if needed) the lock file `name` in `dir`, without following a symlink
/// or blocking on a FIFO planted under its name.
pub(super) fn open_lock_file(dir: &Path, name: &str, mode: u32) -> io::Result<File> {
    let mut options = OpenOptions::new();
    // Write access only to be allowed to create it; nothing is ever written.
    options.read(true).write(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(mode).custom_flags(OPEN_FLAGS);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let file = options.open(dir.join(name))?;
    if !file.metadata()?.file_type().is_file() {
        return Err(io::Error::other(format!(
            "{} is not a regular file",
            dir.join(name).display()
        )));
    }
    Ok(file)
}
