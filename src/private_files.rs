//! Directories and files of mfa-env's own that no one else may read, plant or redirect: lock
//! files, and the sealed items of the kernel-keyring store.
//!
//! A [`PrivateDir`] is trusted only if no one but this user (and root) can change what its path
//! leads to: the directory itself is this user's and writable by no one else, and so is every
//! directory above it (owned by the user or root, without group or other write permission: a
//! group, or a POSIX ACL that shows as one, may hold other users; a sticky directory such as
//! `/tmp` may be writable by all, as its entries are still their owners' alone). Checking the last directory alone is
//! not enough: whoever owns a directory above it can rename it away and put their own in its
//! place. The check walks the path from `/`, one `openat` at a time without following a link
//! (a link is followed by reading it, from a directory already found safe), and keeps the last
//! directory open: every file is then opened, renamed and removed relative to that descriptor,
//! with `O_NOFOLLOW`, so nothing done in it can be redirected elsewhere, even if a path above
//! it changes meanwhile.
//!
//! In a user namespace (a rootless container, `unshare -r`, a Flatpak sandbox) the host's root
//! owns `/` and `/home` but shows as the overflow uid (65534), as does every other host user
//! not mapped there; the two cannot be told apart from inside. There, a directory above owned
//! by that uid is trusted like root's, if no one else can write to it (or it is sticky).

use std::io;
use std::path::Path;

pub use dir::PrivateDir;

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

/// Why a directory is not trusted: carried inside an `io::Error` of kind `PermissionDenied`,
/// so that callers can tell it from a plain permission error ([`is_unsafe`]).
#[derive(Debug)]
struct Unsafe(String);

impl std::fmt::Display for Unsafe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "refusing to keep private files there: {}", self.0)
    }
}

impl std::error::Error for Unsafe {}

fn unsafe_dir(why: String) -> io::Error {
    io::Error::new(io::ErrorKind::PermissionDenied, Unsafe(why))
}

/// Whether `e` says a directory is not safe for private files (rather than, say, missing).
pub fn is_unsafe(e: &io::Error) -> bool {
    e.get_ref().is_some_and(|inner| inner.is::<Unsafe>())
}

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

/// The whole of the regular file at `path`, at most `limit` bytes, in one open and one read:
/// no link is followed at the last step, a FIFO is not waited on, and the directories above are
/// not checked. Only for a file whose content proves itself (an item sealed under a key only
/// the kernel holds, which whoever controls the directory can neither read nor forge): the
/// cached call reads one, before every `aws` command, and a walk from `/` would double its
/// system calls. Writing, deleting and cleaning up go through a [`PrivateDir`].
pub fn read_self_proving(path: &Path, limit: u64) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let mut options = std::fs::File::options();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC);
    }
    let mut file = options.open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "not a regular file",
        ));
    }
    if meta.len() > limit {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "too large"));
    }
    let mut bytes = vec![0; usize::try_from(meta.len()).expect("limited")];
    file.read_exact(&mut bytes)?;
    Ok(bytes)
}

/// What an entry of a [`PrivateDir`] is, without following it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    File,
    Dir,
    /// A link, a FIFO, a socket, a device: never one of ours.
    Other,
}

#[cfg(unix)]
mod dir {
    use std::ffi::{OsStr, OsString};
    use std::fs::File;
    use std::io;
    use std::os::fd::{AsFd, OwnedFd};
    use std::os::unix::ffi::OsStrExt;
    use std::path::{Component, Path, PathBuf};

    use rustix::fs::{self as fs, AtFlags, FileType, Mode, OFlags};
    use rustix::io::Errno;

    use super::{Kind, unsafe_dir};

    /// How many symbolic links a path may lead through, as the kernel's own limit (40).
    const MAX_LINKS: usize = 40;

    /// A directory found safe for private files, held open (see the module's doc).
    pub struct PrivateDir {
        fd: OwnedFd,
        path: PathBuf,
    }

    /// Opening a directory to walk through it: no read permission needed (Linux), never a link.
    fn walk_flags() -> OFlags {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let flags = OFlags::PATH;
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let flags = OFlags::RDONLY;
        flags | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC
    }

    impl PrivateDir {
        /// The directory at `path`, if it and every directory above it are safe; `NotFound` if
        /// it does not exist.
        pub fn open(path: &Path) -> io::Result<PrivateDir> {
            walk(path, false)
        }

        /// As [`open`](Self::open), creating what is missing (mode 0700).
        pub fn create(path: &Path) -> io::Result<PrivateDir> {
            walk(path, true)
        }

        pub fn path(&self) -> &Path {
            &self.path
        }

        /// The directory `name` in this one, if it is a directory (not a link to one) of this
        /// user's that no one else can write to.
        pub fn subdir(&self, name: &OsStr) -> io::Result<PrivateDir> {
            let fd = fs::openat(&self.fd, name, walk_flags(), Mode::empty())?;
            let path = self.path.join(name);
            check(&fd, &path, true, &Ids::of_this_process())?;
            Ok(PrivateDir { fd, path })
        }

        /// The regular file `name` for reading; a link, a FIFO or a device is refused rather
        /// than followed or blocked on.
        pub fn open_file(&self, name: &OsStr) -> io::Result<File> {
            let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
            let file = File::from(fs::openat(&self.fd, name, flags, Mode::empty())?);
            if !file.metadata()?.is_file() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "not a regular file",
                ));
            }
            Ok(file)
        }

        /// A new file `name` (mode 0600) for writing; fails if anything is there already.
        pub fn create_new(&self, name: &OsStr) -> io::Result<File> {
            let flags =
                OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            Ok(File::from(fs::openat(
                &self.fd,
                name,
                flags,
                Mode::from_raw_mode(0o600),
            )?))
        }

        /// The file `name`, created (mode 0600) if missing and never truncated: a lock file.
        pub fn open_lock(&self, name: &OsStr) -> io::Result<File> {
            let flags = OFlags::WRONLY
                | OFlags::CREATE
                | OFlags::NOFOLLOW
                | OFlags::NONBLOCK
                | OFlags::CLOEXEC;
            Ok(File::from(fs::openat(
                &self.fd,
                name,
                flags,
                Mode::from_raw_mode(0o600),
            )?))
        }

        /// Renames `from` to `to`, both in this directory, replacing `to`.
        pub fn rename(&self, from: &OsStr, to: &OsStr) -> io::Result<()> {
            Ok(fs::renameat(&self.fd, from, &self.fd, to)?)
        }

        /// Removes the entry `name` (a link itself, never what it points to); `false` when
        /// there was none.
        pub fn remove(&self, name: &OsStr) -> io::Result<bool> {
            match fs::unlinkat(&self.fd, name, AtFlags::empty()) {
                Ok(()) => Ok(true),
                Err(Errno::NOENT) => Ok(false),
                Err(e) => Err(e.into()),
            }
        }

        /// Removes the empty directory `name`.
        pub fn remove_dir(&self, name: &OsStr) -> io::Result<()> {
            Ok(fs::unlinkat(&self.fd, name, AtFlags::REMOVEDIR)?)
        }

        /// When `name` was last modified (seconds since the epoch), not following a link.
        pub fn modified(&self, name: &OsStr) -> io::Result<i64> {
            Ok(fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW)?.st_mtime)
        }

        /// The entries of this directory, each with what it is (links not followed).
        pub fn entries(&self) -> io::Result<Vec<(OsString, Kind)>> {
            let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
            let listing = fs::openat(&self.fd, ".", flags, Mode::empty())?;
            let mut out = Vec::new();
            for entry in fs::Dir::new(listing)? {
                let entry = entry?;
                let name = OsStr::from_bytes(entry.file_name().to_bytes());
                if name == "." || name == ".." {
                    continue;
                }
                let file_type = match entry.file_type() {
                    FileType::Unknown => fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW)
                        .map(|st| FileType::from_raw_mode(st.st_mode))
                        .unwrap_or(FileType::Unknown),
                    known => known,
                };
                let kind = match file_type {
                    FileType::RegularFile => Kind::File,
                    FileType::Directory => Kind::Dir,
                    _ => Kind::Other,
                };
                out.push((name.to_owned(), kind));
            }
            Ok(out)
        }
    }

    /// Walks `path` from `/` (see the module's doc), creating what is missing if `create`.
    fn walk(path: &Path, create: bool) -> io::Result<PrivateDir> {
        if !path.is_absolute() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{} is not an absolute path", path.display()),
            ));
        }
        // What is left to walk through, the next component last.
        let mut left: Vec<OsString> = components(path);
        let ids = Ids::of_this_process();
        let root = fs::openat(fs::CWD, "/", walk_flags(), Mode::empty())?;
        check(&root, Path::new("/"), left.is_empty(), &ids)?;
        // The directories walked so far, from `/`, and the path they spell.
        let mut walked = vec![root];
        let mut at = PathBuf::from("/");
        let mut links = 0;
        while let Some(name) = left.pop() {
            if name == ".." {
                if walked.len() > 1 {
                    walked.pop();
                    at.pop();
                }
                continue;
            }
            let parent = walked.last().expect("/ stays").as_fd();
            match fs::openat(parent, &name, walk_flags(), Mode::empty()) {
                Ok(fd) => {
                    at.push(&name);
                    check(&fd, &at, left.is_empty(), &ids)?;
                    walked.push(fd);
                }
                Err(Errno::NOENT) if create => {
                    match fs::mkdirat(parent, &name, Mode::from_raw_mode(0o700)) {
                        Ok(()) | Err(Errno::EXIST) => left.push(name),
                        Err(e) => return Err(e.into()),
                    }
                }
                // A link (or something that is no directory): read a link where it is, in a
                // directory found safe, and walk on through what it names.
                Err(Errno::NOTDIR | Errno::LOOP) => {
                    let stat = fs::statat(parent, &name, AtFlags::SYMLINK_NOFOLLOW)?;
                    if FileType::from_raw_mode(stat.st_mode) != FileType::Symlink {
                        return Err(Errno::NOTDIR.into());
                    }
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(Errno::LOOP.into());
                    }
                    let target = PathBuf::from(OsString::from_vec(
                        fs::readlinkat(parent, &name, Vec::new())?.into_bytes(),
                    ));
                    if target.is_absolute() {
                        walked.truncate(1);
                        at = PathBuf::from("/");
                    }
                    left.extend(components(&target));
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(PrivateDir {
            fd: walked.pop().expect("/ at least"),
            path: path.to_owned(),
        })
    }

    /// `path`'s names, the first last (a stack), without `/` and `.`.
    fn components(path: &Path) -> Vec<OsString> {
        let mut names: Vec<OsString> = path
            .components()
            .filter_map(|c| match c {
                Component::Normal(n) => Some(n.to_owned()),
                Component::ParentDir => Some("..".into()),
                Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
            })
            .collect();
        names.reverse();
        names
    }

    use std::os::unix::ffi::OsStringExt;

    /// This process's effective uid, read once per walk.
    struct Ids {
        me: u32,
    }

    impl Ids {
        fn of_this_process() -> Ids {
            // SAFETY: geteuid cannot fail and has no preconditions.
            Ids {
                me: unsafe { libc::geteuid() },
            }
        }
    }

    /// Refuses the directory `fd` (at `path`) unless it is safe as the directory itself
    /// (`last`) or as one above it.
    fn check(fd: &OwnedFd, path: &Path, last: bool, ids: &Ids) -> io::Result<()> {
        let stat = fs::fstat(fd)?;
        let (me, owner, mode) = (ids.me, stat.st_uid, stat.st_mode);
        if last {
            if owner != me {
                return Err(unsafe_dir(format!(
                    "it belongs to uid {owner}, not to you (uid {me})"
                )));
            }
            if mode & 0o022 != 0 {
                return Err(unsafe_dir(format!(
                    "others can write to it (mode {:o}); run `chmod go-w {}`",
                    mode & 0o7777,
                    path.display()
                )));
            }
            return Ok(());
        }
        let trusted_owner =
            owner == me || owner == 0 || (owner == overflow_uid() && in_a_user_namespace());
        if !trusted_owner {
            return Err(unsafe_dir(format!(
                "{} above it belongs to uid {owner}, neither you (uid {me}) nor root, who could replace what is below it",
                path.display()
            )));
        }
        let sticky = mode & 0o1000 != 0;
        if mode & 0o022 != 0 && !sticky {
            let fix = if owner == me {
                format!("; run `chmod go-w {}`", path.display())
            } else {
                String::new()
            };
            return Err(unsafe_dir(format!(
                "others can write to {} above it (mode {:o}), and could replace what is below it{fix}",
                path.display(),
                mode & 0o7777
            )));
        }
        Ok(())
    }

    /// The uid that files of users unmapped in this user namespace show as.
    fn overflow_uid() -> u32 {
        std::fs::read_to_string("/proc/sys/kernel/overflowuid")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(65534)
    }

    /// Whether this process is in a user namespace other than the first (the host's), where
    /// the host's root is unmapped.
    fn in_a_user_namespace() -> bool {
        std::fs::read_to_string("/proc/self/uid_map").is_ok_and(|map| {
            let fields: Vec<&str> = map.split_whitespace().collect();
            fields != ["0", "0", "4294967295"]
        })
    }
}

#[cfg(not(unix))]
mod dir {
    use std::ffi::{OsStr, OsString};
    use std::fs::File;
    use std::io;
    use std::path::{Path, PathBuf};

    use super::Kind;

    /// Windows (written, not built here): a directory under the user's profile, which only
    /// the user and administrators can change; paths are used as they are.
    pub struct PrivateDir {
        path: PathBuf,
    }

    impl PrivateDir {
        pub fn open(path: &Path) -> io::Result<PrivateDir> {
            if !path.is_dir() {
                return Err(io::ErrorKind::NotFound.into());
            }
            Ok(PrivateDir {
                path: path.to_owned(),
            })
        }

        pub fn create(path: &Path) -> io::Result<PrivateDir> {
            std::fs::create_dir_all(path)?;
            Self::open(path)
        }

        pub fn path(&self) -> &Path {
            &self.path
        }

        pub fn open_lock(&self, name: &OsStr) -> io::Result<File> {
            File::options()
                .write(true)
                .create(true)
                .truncate(false)
                .open(self.path.join(name))
        }

        pub fn entries(&self) -> io::Result<Vec<(OsString, Kind)>> {
            let mut out = Vec::new();
            for e in std::fs::read_dir(&self.path)? {
                let e = e?;
                let t = e.file_type()?;
                let kind = if t.is_file() {
                    Kind::File
                } else if t.is_dir() {
                    Kind::Dir
                } else {
                    Kind::Other
                };
                out.push((e.file_name(), kind));
            }
            Ok(out)
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::ffi::OsStr;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path, m: u32) {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    }

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

    #[test]
    fn a_shared_or_linked_directory_is_refused_and_a_link_is_not_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let ours = tmp.path().join("a/b");
        let dir = PrivateDir::create(&ours).unwrap();
        let m = std::fs::metadata(&ours).unwrap().permissions().mode() & 0o777;
        assert_eq!(m, 0o700);

        let shared = tmp.path().join("shared");
        std::fs::create_dir(&shared).unwrap();
        mode(&shared, 0o777);
        let e = PrivateDir::create(&shared).err().unwrap();
        assert!(is_unsafe(&e), "{e}");
        assert!(e.to_string().contains("others can write"), "{e}");

        // A link as the last name is followed only through its target, which must be safe:
        // here it is, so the directory is the target.
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&ours, &link).unwrap();
        assert!(PrivateDir::open(&link).is_ok());

        // A planted link in a private directory is not followed by any file operation.
        std::os::unix::fs::symlink(tmp.path().join("elsewhere"), ours.join("f")).unwrap();
        assert!(dir.open_lock(OsStr::new("f")).is_err());
        assert!(dir.create_new(OsStr::new("f")).is_err());
        assert!(read_self_proving(&ours.join("f"), 10).is_err());
        assert!(!tmp.path().join("elsewhere").exists());
        assert!(dir.remove(OsStr::new("f")).unwrap(), "the link itself goes");
    }

    #[test]
    fn every_directory_above_is_checked() {
        let tmp = tempfile::tempdir().unwrap();
        // A directory above that others can write to (no sticky bit) is refused, even when
        // everything below it is the user's own.
        let open = tmp.path().join("x");
        let below = open.join("c/mfa-env/kernel-keyring");
        std::fs::create_dir_all(&below).unwrap();
        mode(&open, 0o777);
        for e in [
            PrivateDir::open(&below).err().unwrap(),
            PrivateDir::create(&below.join("new")).err().unwrap(),
        ] {
            assert!(is_unsafe(&e), "{e}");
            assert!(e.to_string().contains(&open.display().to_string()), "{e}");
        }
        assert!(!below.join("new").exists(), "nothing made under it");
        // With the sticky bit (as /tmp has), it may stay writable by all.
        mode(&open, 0o1777);
        assert!(PrivateDir::create(&below.join("new")).is_ok());
        // Group-writable is not: the group (or an ACL shown as one) may hold other users.
        mode(&open, 0o770);
        let e = PrivateDir::open(&below).err().unwrap();
        assert!(is_unsafe(&e) && e.to_string().contains("chmod go-w"), "{e}");
        mode(&open, 0o700);
        assert!(PrivateDir::open(&below).is_ok());
        mode(&below, 0o770);
        assert!(is_unsafe(&PrivateDir::open(&below).err().unwrap()));
    }

    #[test]
    fn a_link_on_the_way_is_followed_only_from_a_safe_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let real = tmp.path().join("real/cache");
        std::fs::create_dir_all(&real).unwrap();
        // ~/.cache -> real/cache, as dotfiles often are: fine.
        std::os::unix::fs::symlink(&real, tmp.path().join("dotcache")).unwrap();
        let through = PrivateDir::create(&tmp.path().join("dotcache/mfa-env/locks")).unwrap();
        assert_eq!(
            through.path(),
            tmp.path().join("dotcache/mfa-env/locks"),
            "the path asked for"
        );
        assert!(real.join("mfa-env/locks").is_dir(), "made at the target");
        // A link through a directory others can write to leads nowhere.
        let open = tmp.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::os::unix::fs::symlink(&real, open.join("cache")).unwrap();
        mode(&open, 0o777);
        assert!(is_unsafe(
            &PrivateDir::open(&open.join("cache/mfa-env")).err().unwrap()
        ));
        // Relative links and `..` resolve where they are.
        std::os::unix::fs::symlink("real/cache", tmp.path().join("rel")).unwrap();
        assert!(PrivateDir::open(&tmp.path().join("rel/mfa-env/../mfa-env/locks")).is_ok());
        // A loop ends.
        std::os::unix::fs::symlink(tmp.path().join("loop"), tmp.path().join("loop")).unwrap();
        assert!(PrivateDir::open(&tmp.path().join("loop/x")).is_err());
    }

    #[test]
    fn entries_report_links_as_links() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = PrivateDir::create(&tmp.path().join("d")).unwrap();
        std::fs::write(tmp.path().join("d/file"), "x").unwrap();
        std::fs::create_dir(tmp.path().join("d/sub")).unwrap();
        std::os::unix::fs::symlink(tmp.path(), tmp.path().join("d/link")).unwrap();
        let mut entries = dir.entries().unwrap();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(
            entries,
            vec![
                ("file".into(), Kind::File),
                ("link".into(), Kind::Other),
                ("sub".into(), Kind::Dir)
            ]
        );
        assert!(dir.subdir(OsStr::new("link")).is_err(), "not followed");
        assert!(dir.subdir(OsStr::new("sub")).is_ok());
    }
}
