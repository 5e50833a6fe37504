//! `mfa-env exec -- CMD`: runs a command with the session in its environment, for programs
//! that read only environment variables, and for a subshell whose every `aws` call uses the
//! session. The command's exit status is ours; a command killed by signal n gives 128+n, as a
//! shell reports it.
//!
//! `AWS_PROFILE` is removed, so that no SDK in the command resolves the profile and re-enters
//! mfa-env through `credential_process`. `MFA_ENV_EXEC` marks the command's environment, so
//! that an `exec` inside it (a subshell started from a subshell) is refused instead of nesting
//! sessions by accident.

use std::ffi::OsString;
use std::process::Command;

use crate::config::StsTarget;
use crate::error::{Error, Result};
use crate::output;
use crate::secret::SessionCredentials;

/// Marks a command's environment as started by `mfa-env exec`; its value is the profile.
pub const MARKER: &str = "MFA_ENV_EXEC";

/// Variables that would make an SDK in the command look elsewhere for credentials, or that
/// belong to another session.
const REMOVED: &[&str] = &["AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SECURITY_TOKEN"];

/// Refuses to run inside another `exec` unless asked; checked before any prompt.
pub fn check_nesting(allow_nested: bool) -> Result<()> {
    match std::env::var(MARKER) {
        Ok(outer) if !outer.is_empty() && !allow_nested => Err(Error::ExecNested { outer }),
        _ => Ok(()),
    }
}

/// Runs `command` (default: the user's `$SHELL`) with the session and waits for it; returns
/// the status to exit with. `profile` is the one the session is for, and `sts` its region.
pub fn run(
    profile: &str,
    sts: &StsTarget,
    creds: &SessionCredentials,
    command: &[OsString],
) -> Result<u8> {
    let (program, args) = match command.split_first() {
        Some((program, args)) => (program.clone(), args),
        None => (default_shell(), &[][..]),
    };
    let mut cmd = Command::new(&program);
    cmd.args(args);
    for name in REMOVED {
        cmd.env_remove(name);
    }
    for (name, value) in output::variables(creds) {
        cmd.env(name, value.as_str());
    }
    if sts.region_configured {
        cmd.env("AWS_REGION", &sts.region)
            .env("AWS_DEFAULT_REGION", &sts.region);
    }
    cmd.env(MARKER, profile);
    let spawn_error = |e: std::io::Error| Error::ExecSpawn {
        program: program.to_string_lossy().into_owned(),
        not_found: e.kind() == std::io::ErrorKind::NotFound,
        why: e.to_string(),
    };
    wait::run(cmd).map_err(spawn_error)
}

fn default_shell() -> OsString {
    if cfg!(windows) {
        std::env::var_os("COMSPEC").unwrap_or_else(|| "cmd.exe".into())
    } else {
        std::env::var_os("SHELL")
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "/bin/sh".into())
    }
}

#[cfg(unix)]
mod wait {
    use std::os::unix::process::ExitStatusExt;
    use std::process::Command;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicI32, Ordering};

    use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2};
    use signal_hook::iterator::SignalsInfo;
    use signal_hook::iterator::exfiltrator::WithOrigin;
    use signal_hook::low_level::siginfo::Cause;

    /// Spawns and waits. Signals someone sends us with `kill` are passed on to the command; the
    /// ones the terminal sends (Ctrl-C, Ctrl-\, hang-up) already reach the command, which is in
    /// the terminal's foreground process group with us, so they are not sent twice. Either way
    /// we stay alive to report the command's status.
    pub fn run(mut cmd: Command) -> std::io::Result<u8> {
        let child_pid = Arc::new(AtomicI32::new(0));
        let mut signals =
            SignalsInfo::<WithOrigin>::new([SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2])?;
        let handle = signals.handle();
        let pid = child_pid.clone();
        let forwarder = std::thread::spawn(move || {
            for origin in signals.forever() {
                let target = pid.load(Ordering::SeqCst);
                if target > 0 && matches!(origin.cause, Cause::Sent(_)) {
                    // SAFETY: kill(2) with a pid we spawned and have not yet reaped.
                    unsafe { libc::kill(target, origin.signal) };
                }
            }
        });
        let result = cmd.spawn().and_then(|mut child| {
            child_pid.store(child.id() as i32, Ordering::SeqCst);
            let status = child.wait();
            child_pid.store(0, Ordering::SeqCst);
            status
        });
        handle.close();
        let _ = forwarder.join();
        let status = result?;
        Ok(match (status.code(), status.signal()) {
            (Some(code), _) => code as u8,
            (None, Some(signal)) => (128 + signal) as u8,
            (None, None) => 1,
        })
    }
}

#[cfg(not(unix))]
mod wait {
    use std::process::Command;

    /// Windows delivers Ctrl-C to the whole console, the command included.
    pub fn run(mut cmd: Command) -> std::io::Result<u8> {
        let status = cmd.status()?;
        Ok(status.code().map_or(1, |c| c as u8))
    }
}
