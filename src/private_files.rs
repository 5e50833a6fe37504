//! Directories and files of mfa-env's own that no one else may read or plant: lock files, and the
//! sealed items of the kernel-keyring store. A directory is created 0700 and, when it already
//! exists, trusted only if this user owns it and no one else can write to it; files are opened
//! without following a symlink, so a link planted in a shared `/tmp` cannot redirect a write.

use std::fs::File;
use std::io;
use std::path::Path;

/// Creates `dir` (and its parents) readable by the user alone, or checks that an existing one
/// is safe to keep private files in.
pub fn ensure_dir(dir: &Path) -> io::Result<()> {
    create_dir(dir)?;
    check_dir(dir)
}

/// Creates `dir` and its parents, readable by the user alone (an existing one is left as is).
#[cfg(unix)]
pub fn create_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
pub fn create_dir(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// The directory itself (not a symlink to one) belongs to this user and is writable by no one
/// else.
#[cfg(unix)]
fn check_dir(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(dir)?;
    // SAFETY: geteuid cannot fail and has no preconditions.
    let me = unsafe { libc::geteuid() };
    let unsafe_because = if !meta.file_type().is_dir() {
        Some("it is not a directory (a symlink?)".to_owned())
    } else if meta.uid() != me {
        Some(format!(
            "it belongs to uid {}, not to you (uid {me})",
            meta.uid()
        ))
    } else if meta.mode() & 0o022 != 0 {
        Some(format!(
            "others can write to it (mode {:o}); run `chmod 700 {}`",
            meta.mode() & 0o7777,
            dir.display()
        ))
    } else {
        None
    };
    match unsafe_because {
        None => Ok(()),
        Some(why) => Err(io::Error::new(
            io::ErrorKind::PermissionDenied,
            format!("refusing to keep private files there: {why}"),
        )),
    }
}

#[cfg(not(unix))]
fn check_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}

/// Opens the regular file `path` for reading, failing rather than following a symlink or
/// blocking on a FIFO.
pub fn open_read(path: &Path) -> io::Result<File> {
    open_regular(path).map(|(file, _)| file)
}

fn open_regular(path: &Path) -> io::Result<(File, u64)> {
    let mut options = File::options();
    options.read(true);
    no_follow(&mut options);
    let file = options.open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "not a regular file",
        ));
    }
    Ok((file, meta.len()))
}

/// The whole of the regular file `path`, which must not be larger than `limit` bytes; read in
/// one call (the cached call reads one such file).
pub fn read_regular(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let (mut file, len) = open_regular(path)?;
    if len > limit {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "too large"));
    }
    let mut bytes = vec![0; usize::try_from(len).expect("limited")];
    file.read_exact(&mut bytes)?;
    Ok(bytes)
}

/// Opens (creating, mode 0600) `path` for writing, failing rather than following a symlink.
/// `new` insists on a file that did not exist.
pub fn open_write(path: &Path, new: bool) -> io::Result<File> {
    let mut options = File::options();
    options.write(true);
    if new {
        options.create_new(true);
    } else {
        options.create(true).truncate(false);
    }
    no_follow(&mut options);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

#[cfg(unix)]
fn no_follow(options: &mut std::fs::OpenOptions) {
    use std::os::unix::fs::OpenOptionsExt;
    options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC);
}

#[cfg(not(unix))]
fn no_follow(_options: &mut std::fs::OpenOptions) {}

/// A readable file name for an item or lock: the name with path-hostile characters replaced,
/// plus a hash of the original so distinct names cannot collide after replacement.
pub fn file_name(name: &str) -> String {
    let readable: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .take(100)
        .collect();
    // FNV-1a: stable across builds, unlike std's hasher, so every version agrees on the name.
    let hash = name.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{readable}-{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_safe_and_distinct() {
        let a = file_name("session-dev-arn:aws:iam::123456789012:mfa/alice");
        let b = file_name("session-dev-arn:aws:iam::123456789012:mfa_alice");
        assert!(
            a.starts_with("session-dev-arn_aws_iam__123456789012_mfa_alice-"),
            "{a}"
        );
        assert_ne!(a, b);
        assert!(!file_name("../../etc/passwd").contains('/'));
    }

    #[cfg(unix)]
    #[test]
    fn a_shared_or_linked_directory_is_refused_and_a_link_is_not_followed() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let ours = tmp.path().join("a/b");
        ensure_dir(&ours).unwrap();
        let mode = std::fs::metadata(&ours).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);

        let shared = tmp.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o777)).unwrap();
        let e = ensure_dir(&shared).unwrap_err().to_string();
        assert!(e.contains("others can write"), "{e}");

        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&ours, &link).unwrap();
        let e = ensure_dir(&link).unwrap_err().to_string();
        assert!(e.contains("not a directory"), "{e}");

        let target = tmp.path().join("target");
        std::os::unix::fs::symlink(tmp.path().join("elsewhere"), ours.join("f")).unwrap();
        assert!(open_write(&ours.join("f"), false).is_err());
        assert!(!tmp.path().join("elsewhere").exists() && !target.exists());
    }
}
