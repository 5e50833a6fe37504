//! `mfa-env exec -- CMD`: runs a command with the session in its environment, for programs
//! that read only environment variables, and for a subshell whose every `aws` call uses the
//! session.
//!
//! On Unix mfa-env *becomes* the command (execve): its pid, its exit status, its signals. A
//! signal sent to the process group (GNU `timeout`, a CI job's cancel, `systemd stop`) then
//! reaches the command once; a parent that forwarded it as well would deliver it twice, and
//! Terraform, for one, aborts on a second interrupt. On Windows, which has no exec, mfa-env
//! waits for the command, passes its whole exit code on, and leaves Ctrl-C to the command.
//!
//! `AWS_PROFILE` is removed, so that no SDK in the command resolves the profile and re-enters
//! mfa-env through `credential_process`. `MFA_ENV_EXEC` marks the command's environment, so
//! that an `exec` inside it (a subshell started from a subshell) is refused instead of nesting
//! sessions by accident.

use std::ffi::OsString;
use std::process::Command;

use crate::error::{Error, Result};
use crate::output;
use crate::profile::config::StsTarget;
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

/// Runs `command` (default: the user's `$SHELL`) with the session. On Unix this returns only
/// if the command could not be started; on Windows it returns the command's exit code.
pub fn run(
    profile: &str,
    sts: &StsTarget,
    creds: &SessionCredentials,
    command: &[OsString],
) -> Result<i32> {
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
    replace::run(cmd).map_err(spawn_error)
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
mod replace {
    use std::os::unix::process::CommandExt;
    use std::process::Command;

    /// Becomes the command; returns only the reason it could not be started.
    pub fn run(mut cmd: Command) -> std::io::Result<i32> {
        Err(cmd.exec())
    }
}

#[cfg(windows)]
mod replace {
    use std::process::Command;

    #[link(name = "kernel32")]
    unsafe extern "system" {
        fn SetConsoleCtrlHandler(
            handler: Option<unsafe extern "system" fn(u32) -> i32>,
            add: i32,
        ) -> i32;
    }

    const CTRL_C_EVENT: u32 = 0;
    const CTRL_BREAK_EVENT: u32 = 1;

    /// Handles (ignores) Ctrl-C and Ctrl-Break for mfa-env alone. A handler function, unlike
    /// the null "ignore Ctrl-C" setting, is not inherited: the command keeps its default
    /// handling and stops as it would without mfa-env.
    unsafe extern "system" fn outlive_the_command(event: u32) -> i32 {
        i32::from(event == CTRL_C_EVENT || event == CTRL_BREAK_EVENT)
    }

    /// Starts the command and waits for it. Windows sends Ctrl-C and Ctrl-Break to every
    /// process of the console: the command gets its own, and mfa-env stays to pass the
    /// command's exit code on (all 32 bits of it).
    pub fn run(mut cmd: Command) -> std::io::Result<i32> {
        // SAFETY: registers a handler that only compares its argument.
        unsafe { SetConsoleCtrlHandler(Some(outlive_the_command), 1) };
        let status = cmd.status()?;
        Ok(status.code().unwrap_or(1))
    }
}
