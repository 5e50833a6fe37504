//! `mfa_process` (aws-vault's key): a command whose first line of output is the MFA code, such
//! as `ykman oath accounts code -s aws` or `op item get aws --otp`. It runs through the
//! platform shell, as the user wrote it. Its stdin and stderr are the controlling terminal when
//! there is one, so that `ykman` can say "touch your key" even though the AWS CLI captures our
//! stderr; only its stdout is ours, and only its first line is used. At a terminal it stays in
//! our process group, so that it may read from the terminal and Ctrl-C reaches it; at its
//! deadline only the shell is killed then, and anything the shell started keeps nothing of the
//! caller's but the terminal.

use std::process::Command;
use std::time::Duration;

use zeroize::Zeroizing;

use crate::code::subprocess::{self, Failure};
use crate::error::{Error, Result};
use crate::profile::config::Settings;

/// The code line printed by the profile's `mfa_process`, not yet checked for format.
pub fn run(settings: &Settings, command: &str) -> Result<Zeroizing<String>> {
    let mut cmd = shell(command);
    subprocess::with_terminal_or_detached(&mut cmd);
    let timeout = settings.mfa_process_timeout_seconds;
    subprocess::first_line(cmd, Duration::from_secs(timeout.into())).map_err(|f| {
        Error::MfaProcess {
            profile: settings.profile.clone(),
            what: match f {
                Failure::TimedOut(s) => format!(
                    "did not print a code within {s} s (raise mfa_env_mfa_process_timeout_seconds if it needs longer)"
                ),
                other => other.to_string(),
            },
        }
    })
}

#[cfg(unix)]
fn shell(command: &str) -> Command {
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c").arg(command);
    cmd
}

#[cfg(windows)]
fn shell(command: &str) -> Command {
    use std::os::windows::process::CommandExt;
    let mut cmd = Command::new("cmd.exe");
    cmd.arg("/C").raw_arg(command);
    cmd
}
