//! Serializes cache misses. Per profile and MFA device, one process asks for the code and calls
//! STS while the others wait, then read the session it cached: 32 parallel `aws` calls cause one
//! prompt and one `GetSessionToken`. The lock is an advisory lock on a file (`flock` on Unix),
//! which the OS releases when its holder exits or is killed, even by SIGKILL. It is taken only on
//! a miss; a cache hit never waits. Lock files hold nothing; they live in `$XDG_RUNTIME_DIR`
//! (else the user cache directory) under `mfa-env/`.

use std::fs::{File, TryLockError};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use crate::config::{RoleHop, Settings};
use crate::error::{Error, Result};

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
    acquire(name, Duration::from_secs(timeout_seconds.into())).map_err(|e| match e {
        Failure::TimedOut => Error::LockTimeout {
            profile: profile.to_owned(),
            seconds: timeout_seconds,
        },
        Failure::Io(path, e) => Error::Lock {
            path,
            why: e.to_string(),
        },
    })
}

/// The lock around read-modify-write of the cache index, which all profiles share. Held for
/// milliseconds, so its wait is short and fixed.
pub fn index() -> Result<Guard> {
    acquire("index", Duration::from_secs(10)).map_err(|e| match e {
        Failure::TimedOut => Error::Lock {
            path: dir().join("index.lock"),
            why: "held by another process for over 10 s".into(),
        },
        Failure::Io(path, e) => Error::Lock {
            path,
            why: e.to_string(),
        },
    })
}

enum Failure {
    TimedOut,
    Io(PathBuf, std::io::Error),
}

fn acquire(name: &str, timeout: Duration) -> Result<Guard, Failure> {
    acquire_in(&dir(), name, timeout)
}

fn acquire_in(dir: &std::path::Path, name: &str, timeout: Duration) -> Result<Guard, Failure> {
    let dir = dir.to_path_buf();
    create_private_dir(&dir).map_err(|e| Failure::Io(dir.clone(), e))?;
    let path = dir.join(format!("{}.lock", file_safe(name)));
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Failure::Io(path.clone(), e))?;
    let deadline = Instant::now() + timeout;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(Guard { _file: file }),
            Err(TryLockError::WouldBlock) if Instant::now() < deadline => std::thread::sleep(POLL),
            Err(TryLockError::WouldBlock) => return Err(Failure::TimedOut),
            Err(TryLockError::Error(e)) => return Err(Failure::Io(path, e)),
        }
    }
}

/// Where lock files live: per user, on a tmpfs where there is one.
pub fn dir() -> PathBuf {
    dirs::runtime_dir()
        .or_else(dirs::cache_dir)
        .unwrap_or_else(std::env::temp_dir)
        .join("mfa-env")
}

/// Creates `dir` and its parents, readable by the user alone.
#[cfg(unix)]
pub(crate) fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
pub(crate) fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// A readable file name for a lock: profile and serial with path-hostile characters replaced,
/// plus a hash of the original so distinct names cannot collide after replacement.
fn file_safe(name: &str) -> String {
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
    fn lock_names_are_safe_and_distinct() {
        let a = file_safe("session-dev-arn:aws:iam::123456789012:mfa/alice");
        let b = file_safe("session-dev-arn:aws:iam::123456789012:mfa_alice");
        assert!(
            a.starts_with("session-dev-arn_aws_iam__123456789012_mfa_alice-"),
            "{a}"
        );
        assert_ne!(a, b);
        assert!(!file_safe("../../etc/passwd").contains('/'));
    }

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
