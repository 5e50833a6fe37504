//! Replacing a user's file (the AWS config and credentials files) so that a reader never sees
//! half of it and a failure leaves the old one: the new text goes to a temporary file in the same
//! directory, which is renamed over the old. Permissions are kept (0600 for a new file, in a
//! 0700 directory), and the old text can be kept beside it first as a backup.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::clock;
use crate::error::{Error, Result};

/// The file's text; empty when it does not exist yet.
pub fn read_or_empty(path: &Path) -> Result<String> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(t),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(Error::Read {
            path: path.to_owned(),
            why: e.to_string(),
        }),
    }
}

/// Writes `new` in place of the file whose text was `old`; with `backup`, `old` is first kept
/// as `<path>.mfa-env-backup-<UTC time>`, whose path is returned.
pub fn replace(path: &Path, old: &str, new: &str, backup: bool) -> Result<Option<PathBuf>> {
    let write_error = |p: &Path, e: std::io::Error| Error::Write {
        path: p.to_owned(),
        why: e.to_string(),
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    if !dir.exists() {
        crate::private_files::create_dir(dir).map_err(|e| write_error(dir, e))?;
    }
    let mode = perms::of(path);
    let mut kept = None;
    if backup && path.exists() {
        let stamp = clock::now().format("%Y%m%dT%H%M%SZ");
        let b = PathBuf::from(format!("{}.mfa-env-backup-{stamp}", path.display()));
        write_new(&b, mode, old).map_err(|e| write_error(&b, e))?;
        kept = Some(b);
    }
    let tmp = PathBuf::from(format!(
        "{}.mfa-env-{}.tmp",
        path.display(),
        std::process::id()
    ));
    let result = write_new(&tmp, mode, new).and_then(|()| std::fs::rename(&tmp, path));
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(write_error(path, e));
    }
    Ok(kept)
}

/// Creates `path` (which must not exist) with `mode` and `text`, on disk before it returns.
fn write_new(path: &Path, mode: u32, text: &str) -> std::io::Result<()> {
    let mut f: File = perms::create_new(path, mode)?;
    f.write_all(text.as_bytes())?;
    f.sync_all()
}

#[cfg(unix)]
mod perms {
    use std::fs::{File, OpenOptions, Permissions};
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    use std::path::Path;

    /// The file's permission bits; 0600 for a file that does not exist yet.
    pub fn of(path: &Path) -> u32 {
        std::fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o7777)
            .unwrap_or(0o600)
    }

    /// A new file with exactly `mode` (the umask does not narrow it: the old file's mode is kept).
    pub fn create_new(path: &Path, mode: u32) -> std::io::Result<File> {
        let f = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(path)?;
        f.set_permissions(Permissions::from_mode(mode))?;
        Ok(f)
    }
}

#[cfg(not(unix))]
mod perms {
    use std::fs::{File, OpenOptions};
    use std::path::Path;

    pub fn of(_path: &Path) -> u32 {
        0
    }

    pub fn create_new(path: &Path, _mode: u32) -> std::io::Result<File> {
        OpenOptions::new().write(true).create_new(true).open(path)
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn replaces_whole_keeps_mode_and_backs_up() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/config");
        assert_eq!(read_or_empty(&path).unwrap(), "");
        assert_eq!(
            replace(&path, "", "one\n", true).unwrap(),
            None,
            "nothing to back up"
        );
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let backup = replace(&path, "one\n", "two\n", true).unwrap().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two\n");
        assert_eq!(std::fs::read_to_string(&backup).unwrap(), "one\n");
        assert_eq!((mode(&path), mode(&backup)), (0o640, 0o640));
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "no temporary file left: {names:?}");
    }
}
