//! Replacing a user's file (the AWS config and credentials files) so that a reader never sees
//! half of it and a failure leaves the old one: the new text goes to a temporary file in the same
//! directory, which is renamed over the old. Permissions are kept (0600 for a new file, in a
//! 0700 directory), and a backup can be kept beside it first: readable by the user alone, under a
//! name no other run has taken.
//!
//! A file that is a symlink (dotfiles kept in a repository) is replaced where it really is: the
//! link stays a link, and its target gets the new text.

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

/// Writes `new` in place of the file `path` (whose text was `old`). With `backup`, that text is
/// first kept as `<path>.mfa-env-backup-<UTC time>[-N]`, mode 0600, whose path is returned: it
/// is the old text, or what the caller may keep of it (never keys that are being moved out).
pub fn replace(path: &Path, new: &str, backup: Option<&str>) -> Result<Option<PathBuf>> {
    let write_error = |p: &Path, e: std::io::Error| Error::Write {
        path: p.to_owned(),
        why: e.to_string(),
    };
    let target = real_path(path).map_err(|e| write_error(path, e))?;
    let link = (target != path).then_some(path);
    // A failure at a link's target names the link: the user knows the link, not the target.
    let write_error = |p: &Path, e: std::io::Error| match link {
        Some(link) => Error::Write {
            path: p.to_owned(),
            why: format!(
                "{e} (it is what the symlink {} points to: edit it where it comes from, or replace the link with a file)",
                link.display()
            ),
        },
        None => write_error(p, e),
    };
    let path = target.as_path();
    let dir = path.parent().unwrap_or(Path::new("."));
    if link.is_some() {
        perms::check_link_target(path).map_err(|e| write_error(path, e))?;
    }
    if !dir.exists() {
        crate::private_files::create_dir(dir).map_err(|e| write_error(dir, e))?;
    }
    // Never writable by others, whatever the old file allowed.
    let mode = perms::of(path) & !0o022;
    let mut kept = None;
    if let Some(old) = backup
        && path.exists()
    {
        let b = new_backup(path, old).map_err(|e| write_error(path, e))?;
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

/// Where `path` really is: a symlink (or a chain of them) followed to its target, relative
/// links resolved against the link's own directory. A missing file is its own path.
fn real_path(path: &Path) -> std::io::Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..40 {
        match std::fs::symlink_metadata(&current) {
            Ok(m) if m.file_type().is_symlink() => {
                let link = std::fs::read_link(&current)?;
                current = match current.parent() {
                    Some(dir) if link.is_relative() => dir.join(link),
                    _ => link,
                };
            }
            Ok(_) => return Ok(tidy(current)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(tidy(current)),
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("too many levels of symbolic links"))
}

/// `path` with its directory written without `..` (for messages), where that directory exists.
fn tidy(path: PathBuf) -> PathBuf {
    match (path.parent().map(Path::canonicalize), path.file_name()) {
        (Some(Ok(dir)), Some(name)) => dir.join(name),
        _ => path,
    }
}

/// Writes `text` to a backup file beside `path` that did not exist before, mode 0600: two runs
/// in the same second each get their own.
fn new_backup(path: &Path, text: &str) -> std::io::Result<PathBuf> {
    let stamp = clock::now().format("%Y%m%dT%H%M%SZ");
    for n in 1..1000 {
        let suffix = if n == 1 {
            String::new()
        } else {
            format!("-{n}")
        };
        let b = PathBuf::from(format!("{}.mfa-env-backup-{stamp}{suffix}", path.display()));
        match write_new(&b, 0o600, text) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            other => return other.map(|()| b),
        }
    }
    Err(std::io::Error::other("no free backup name"))
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

    /// A symlink's target may be replaced only if it is this user's regular file (or does not
    /// exist yet) in a directory no one else can write to: a link to `/dev/null`, or into
    /// someone else's directory, must not make setup replace what is there.
    pub fn check_link_target(path: &Path) -> std::io::Result<()> {
        use std::os::unix::fs::MetadataExt;
        // SAFETY: geteuid cannot fail and has no preconditions.
        let me = unsafe { libc::geteuid() };
        let refuse = |why: String| {
            Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!("refusing to replace {}: {why}", path.display()),
            ))
        };
        match std::fs::metadata(path) {
            Ok(m) if !m.is_file() => return refuse("it is not a regular file".into()),
            Ok(m) if m.uid() != me => {
                return refuse(format!("it belongs to uid {}, not to you", m.uid()));
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
        let Some(dir) = path.parent().filter(|d| d.exists()) else {
            return Ok(());
        };
        let m = std::fs::metadata(dir)?;
        if m.uid() != me && m.uid() != 0 {
            return refuse(format!("its directory belongs to uid {}", m.uid()));
        }
        if m.mode() & 0o022 != 0 && m.mode() & 0o1000 == 0 {
            return refuse("others can write to its directory".into());
        }
        Ok(())
    }

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

    pub fn check_link_target(_path: &Path) -> std::io::Result<()> {
        Ok(())
    }

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
            replace(&path, "one\n", Some("")).unwrap(),
            None,
            "nothing to back up"
        );
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let backup = replace(&path, "two\n", Some("one\n")).unwrap().unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "two\n");
        assert_eq!(std::fs::read_to_string(&backup).unwrap(), "one\n");
        assert_eq!(
            (mode(&path), mode(&backup)),
            (0o640, 0o600),
            "the file keeps its mode; the backup is the user's alone"
        );
        let names: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "no temporary file left: {names:?}");
    }

    #[test]
    fn backups_in_the_same_second_do_not_collide() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(&path, "zero\n").unwrap();
        let a = replace(&path, "one\n", Some("zero\n")).unwrap().unwrap();
        let b = replace(&path, "two\n", Some("one\n")).unwrap().unwrap();
        let c = replace(&path, "three\n", Some("two\n")).unwrap().unwrap();
        assert!(a != b && b != c && a != c);
        assert_eq!(std::fs::read_to_string(&c).unwrap(), "two\n");
    }

    #[test]
    fn a_link_to_what_is_not_the_users_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("config");
        std::os::unix::fs::symlink("/dev/null", &link).unwrap();
        let e = replace(&link, "x\n", Some("")).unwrap_err().to_string();
        assert!(e.contains("it is not a regular file"), "{e}");
        assert!(e.contains("the symlink"), "{e}");

        let open_dir = dir.path().join("shared");
        std::fs::create_dir(&open_dir).unwrap();
        std::fs::set_permissions(&open_dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        std::fs::write(open_dir.join("config"), "old\n").unwrap();
        let link = dir.path().join("config2");
        std::os::unix::fs::symlink(open_dir.join("config"), &link).unwrap();
        let e = replace(&link, "x\n", None).unwrap_err().to_string();
        assert!(e.contains("others can write to its directory"), "{e}");
        assert_eq!(
            std::fs::read_to_string(open_dir.join("config")).unwrap(),
            "old\n"
        );
    }

    #[test]
    fn a_file_writable_by_others_is_replaced_by_one_that_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(&path, "old\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
        replace(&path, "new\n", None).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644);
    }

    #[test]
    fn a_symlinked_file_is_replaced_at_its_target_and_stays_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let dotfiles = dir.path().join("dotfiles");
        std::fs::create_dir(&dotfiles).unwrap();
        std::fs::write(dotfiles.join("aws-config"), "old\n").unwrap();
        let home = dir.path().join("home/.aws");
        std::fs::create_dir_all(&home).unwrap();
        let link = home.join("config");
        std::os::unix::fs::symlink("../../dotfiles/aws-config", &link).unwrap();
        let backup = replace(&link, "new\n", Some("old\n")).unwrap().unwrap();
        assert!(
            std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        assert_eq!(
            std::fs::read_to_string(dotfiles.join("aws-config")).unwrap(),
            "new\n"
        );
        assert!(
            backup.starts_with(&dotfiles),
            "the backup is beside the real file: {backup:?}"
        );
    }
}
