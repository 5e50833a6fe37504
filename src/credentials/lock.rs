//! Serializes cache misses. Per profile and MFA device, one process asks for the code and calls
//! STS while the others wait, then read the session it cached: 32 parallel `aws` calls cause one
//! prompt and one `GetSessionToken`. The lock is an advisory lock on a file (`flock` on Unix),
//! which the OS releases when its holder exits or is killed, even by SIGKILL. It is taken only on
//! a miss; a cache hit never waits. Lock files hold nothing.
//!
//! One place per user and machine, whatever the caller's environment:
//! `~/.cache/mfa-env/locks/<host name>`, from the home directory alone. Not `XDG_RUNTIME_DIR`,
//! which cron jobs, `ssh host cmd` and `docker exec` lack (they and a desktop terminal would
//! lock in two places, and both ask for a code), nor `XDG_CACHE_HOME`, which shell start-up
//! files often set for terminals only. The host name keeps machines that share a home over NFS
//! from waiting for each other's prompts (each has its own keyring, and needs its own code);
//! where NFS gives no locks at all (`ENOLCK`), a miss goes on without one, with a warning. The
//! directory and those above it are trusted only if no one else can change them
//! (`private_files`).

use std::fs::{File, TryLockError};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::private_files::{self, PrivateDir};
use crate::profile::config::{RoleHop, Settings};

/// How often a waiting process looks whether the lock is free.
const POLL: Duration = Duration::from_millis(20);

/// Held while this process owns the lock; dropping it (or dying) releases it.
#[derive(Debug)]
pub struct Guard {
    _file: File,
}

/// The lock for this profile and MFA device, waiting at most `settings.lock_timeout_seconds`.
pub fn session(settings: &Settings) -> Result<Guard> {
    let name = format!("session-{}-{}", settings.profile, settings.serial);
    scoped(&name, &settings.profile, settings.lock_timeout_seconds)
}

/// The lock for a role profile's session: 32 processes asking for the role make one
/// `AssumeRole` call.
pub fn role(hop: &RoleHop) -> Result<Guard> {
    let name = format!("role-{}-{}", hop.profile, hop.role_arn);
    scoped(&name, &hop.profile, hop.lock_timeout_seconds)
}

fn scoped(name: &str, profile: &str, timeout_seconds: u32) -> Result<Guard> {
    acquire(name, Duration::from_secs(timeout_seconds.into())).map_err(|e| {
        e.into_error(|| Error::LockTimeout {
            profile: profile.to_owned(),
            seconds: timeout_seconds,
        })
    })
}

/// The lock around read-modify-write of the cache index, which all profiles share. Held for
/// milliseconds, so its wait is short and fixed.
pub fn index() -> Result<Guard> {
    acquire("index", Duration::from_secs(10)).map_err(|e| {
        e.into_error(|| Error::Lock {
            path: dir().unwrap_or_default().join("index.lock"),
            why: "held by another process for over 10 s".into(),
        })
    })
}

enum Failure {
    TimedOut,
    /// No home directory to keep lock files in.
    NoHome,
    /// The directory for lock files cannot be used (not ours, writable by others).
    Dir(PathBuf, std::io::Error),
    Io(PathBuf, std::io::Error),
}

impl Failure {
    /// The error to report; `timed_out` says what a timeout means for this lock.
    fn into_error(self, timed_out: impl FnOnce() -> Error) -> Error {
        match self {
            Failure::TimedOut => timed_out(),
            Failure::NoHome => Error::LockDir {
                dir: PathBuf::from("~/.cache/mfa-env/locks"),
                why: "there is no home directory (HOME is unset, and this user has none in the password database)".into(),
            },
            Failure::Dir(dir, e) => Error::LockDir {
                dir,
                why: e.to_string(),
            },
            Failure::Io(path, e) => Error::Lock {
                path,
                why: e.to_string(),
            },
        }
    }
}

fn acquire(name: &str, timeout: Duration) -> Result<Guard, Failure> {
    acquire_in(&dir().ok_or(Failure::NoHome)?, name, timeout)
}

fn acquire_in(dir: &std::path::Path, name: &str, timeout: Duration) -> Result<Guard, Failure> {
    let dir = PrivateDir::create(dir).map_err(|e| Failure::Dir(dir.to_path_buf(), e))?;
    let file_name = format!("{}.lock", private_files::file_name(name));
    let path = dir.path().join(&file_name);
    let file = dir
        .open_lock(file_name.as_ref())
        .map_err(|e| Failure::Io(path.clone(), e))?;
    let deadline = Instant::now() + timeout;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(Guard { _file: file }),
            Err(TryLockError::WouldBlock) if Instant::now() < deadline => std::thread::sleep(POLL),
            Err(TryLockError::WouldBlock) => return Err(Failure::TimedOut),
            Err(TryLockError::Error(e)) if no_locks_here(&e) => {
                eprintln!(
                    "mfa-env: warning: {} gives no file locks ({e}); going on without one, so processes starting together may each ask for a code",
                    dir.path().display()
                );
                return Ok(Guard { _file: file });
            }
            Err(TryLockError::Error(e)) => return Err(Failure::Io(path, e)),
        }
    }
}

/// A file system without locks (NFS without its lock service).
fn no_locks_here(e: &std::io::Error) -> bool {
    #[cfg(unix)]
    return e.raw_os_error() == Some(libc::ENOLCK);
    #[cfg(not(unix))]
    {
        let _ = e;
        false
    }
}

/// Where lock files live: one place per user and machine (see the module's doc); `None`
/// without a home directory.
pub fn dir() -> Option<PathBuf> {
    dirs::home_dir().map(|home| dir_in(&home))
}

/// Where lock files live for the home directory `home`.
pub fn dir_in(home: &std::path::Path) -> PathBuf {
    home.join(".cache/mfa-env/locks").join(host_name())
}

/// This machine's name, as a file name.
fn host_name() -> String {
    #[cfg(unix)]
    {
        let mut buf = [0_u8; 256];
        // SAFETY: gethostname writes at most buf.len() bytes into buf.
        if unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0 {
            let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
            let name = String::from_utf8_lossy(&buf[..end]);
            if !name.is_empty() {
                return private_files::file_name(&name);
            }
        }
    }
    private_files::file_name("localhost")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_times_out_and_a_released_one_is_taken() {
        let dir = tempfile::tempdir().unwrap();
        let held = acquire_in(dir.path(), "x", Duration::ZERO).ok().unwrap();
        let started = Instant::now();
        let waited = acquire_in(dir.path(), "x", Duration::from_millis(200));
        assert!(matches!(waited, Err(Failure::TimedOut)));
        assert!(started.elapsed() >= Duration::from_millis(200));
        // A moment's grace: other tests in this binary fork children, and a child between
        // fork and exec briefly shares every open file, lock files included.
        let moment = Duration::from_secs(2);
        assert!(
            acquire_in(dir.path(), "y", moment).is_ok(),
            "other names are independent"
        );
        drop(held);
        assert!(acquire_in(dir.path(), "x", moment).is_ok());
    }
}
