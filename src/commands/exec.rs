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
//! With `--server` the command gets a credentials endpoint rather than a session: on Unix a
//! second mfa-env process serves it (`serve`, with the listening socket as fd 3 and the token
//! on stdin), and mfa-env still becomes the command. The server is bound to the command's
//! life: it ignores the signals a terminal or job control send to the group (the command may
//! need credentials to shut down cleanly) and ends when the command has ended.
//!
//! `AWS_PROFILE` is removed, so that no SDK in the command resolves the profile and re-enters
//! mfa-env through `credential_process`. `MFA_ENV_EXEC` marks the command's environment, so
//! that an `exec` inside it (a subshell started from a subshell) is refused instead of nesting
//! sessions by accident.

use std::ffi::OsString;
use std::process::Command;

use zeroize::Zeroizing;

use crate::aws::target::StsTarget;
use crate::cli::Global;
use crate::endpoint;
use crate::error::{Error, Result};
use crate::output;
use crate::profile::config::{self, Target};
use crate::secret::SessionCredentials;

/// Marks a command's environment as started by `mfa-env exec`; its value is the profile.
pub const MARKER: &str = "MFA_ENV_EXEC";

/// Variables that would make an SDK in the command look elsewhere for credentials, or that
/// belong to another session (an account of another session would send account-based
/// endpoints astray when this one's is not known).
const REMOVED: &[&str] = &[
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SECURITY_TOKEN",
    "AWS_ACCOUNT_ID",
];

/// With `--server`, the session's variables go too (they would win over the endpoint), and
/// so do the container variables that would name another endpoint.
const REMOVED_FOR_SERVER: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_CREDENTIAL_EXPIRATION",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
];

/// Refuses to run inside another `exec` unless asked; checked before any prompt.
pub fn check_nesting(allow_nested: bool) -> Result<()> {
    match std::env::var(MARKER) {
        Ok(outer) if !outer.is_empty() && !allow_nested => Err(Error::ExecNested { outer }),
        _ => Ok(()),
    }
}

/// Runs `command` (default: the user's `$SHELL`) with the session. On Unix this returns only
/// if the command could not be started; on Windows it returns the command's exit code.
pub fn run(target: &Target, creds: &SessionCredentials, command: &[OsString]) -> Result<i32> {
    let vars = output::variables(creds, target.account_id());
    start(target.profile(), target.sts(), &vars, &[], command)
}

/// Runs `command` with a credentials endpoint for the target's sessions (`--server`).
pub fn run_with_server(
    global: &Global,
    target: &Target,
    verbose: bool,
    command: &[OsString],
) -> Result<i32> {
    let (listener, port) = endpoint::bind(None)?;
    let token = endpoint::new_token()?;
    let served_is_default = global.profile() == "default";
    if let Some(key) = config::default_profile_credentials().filter(|_| !served_is_default) {
        // The command has no AWS_PROFILE, so its SDKs read the default profile, and take its
        // credentials before they ever ask the endpoint.
        eprintln!(
            "mfa-env: warning: profile 'default' has {key}, which SDKs in the command use before the endpoint; move it out of [default] (for a long-term key: into the profile mfa_env_source_profile names)"
        );
    }
    // A subshell (no command) runs jobs in the terminal's foreground and reads it between
    // them: its server gets a process group of its own and never prompts there.
    let own_group = command.is_empty();
    server::start(global, &listener, port, &token, verbose, own_group)?;
    // The command holds the listening socket too, so the port stays bound for as long as it
    // runs: should the server die, no other local process can take the port, and with it the
    // requests (and the token) the command sends there.
    server::keep_for_command(listener);
    let mut vars = endpoint::variables(port, &token).to_vec();
    if let Some(account) = target.account_id() {
        vars.push(("AWS_ACCOUNT_ID", Zeroizing::new(account.to_owned())));
    }
    start(
        target.profile(),
        target.sts(),
        &vars,
        REMOVED_FOR_SERVER,
        command,
    )
}

fn start(
    profile: &str,
    sts: &StsTarget,
    vars: &[(&'static str, Zeroizing<String>)],
    removed: &[&str],
    command: &[OsString],
) -> Result<i32> {
    let (program, args) = match command.split_first() {
        Some((program, args)) => (program.clone(), args),
        None => (default_shell(), &[][..]),
    };
    let mut cmd = Command::new(&program);
    cmd.args(args);
    for name in REMOVED.iter().chain(removed) {
        cmd.env_remove(name);
    }
    for (name, value) in vars {
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

/// The endpoint's server beside the command.
#[cfg(unix)]
mod server {
    use std::io::{Read, Write};
    use std::net::TcpListener;
    use std::os::fd::{AsRawFd, IntoRawFd};
    use std::os::unix::process::CommandExt;
    use std::process::{ChildStdout, Command, Stdio};
    use std::time::{Duration, Instant};

    use clap::ValueEnum;

    use crate::cli::Global;
    use crate::commands::serve;
    use crate::error::{Error, Result};

    /// The fd the server finds its listening socket on.
    pub const LISTENER_FD: i32 = 3;

    /// How long the server may take to say it listens: it reads the profile, nothing more.
    const READY_TIMEOUT: Duration = Duration::from_secs(10);

    /// Starts `mfa-env serve --exec-parent <this pid>`, which outlives this process image
    /// (mfa-env execs into the command next, and the server ends when the command has), and
    /// returns once it has said that it listens on `port`. Until then the command is not
    /// started: it would be handed a port nobody serves.
    pub fn start(
        global: &Global,
        listener: &TcpListener,
        port: u16,
        token: &str,
        verbose: bool,
        own_group: bool,
    ) -> Result<()> {
        let failed = |e: std::io::Error| Error::Endpoint(format!("cannot start its server: {e}"));
        // This very binary, even if a newer one has since been installed at its path.
        let exe = if cfg!(target_os = "linux") {
            "/proc/self/exe".into()
        } else {
            std::env::current_exe().map_err(failed)?
        };
        let mut cmd = Command::new(exe);
        let keyring = global
            .keyring
            .to_possible_value()
            .expect("no value is skipped");
        let mut profile = std::ffi::OsString::from("--profile=");
        profile.push(global.profile());
        cmd.arg(profile)
            .arg(format!("--keyring={}", keyring.get_name()))
            .arg("serve")
            .arg("--exec-parent")
            .arg(std::process::id().to_string());
        if verbose {
            cmd.arg("--verbose");
        }
        cmd.stdin(Stdio::piped()).stdout(Stdio::piped());
        let fd = listener.as_raw_fd();
        // SAFETY: between fork and exec, only async-signal-safe calls (dup2, fcntl, prctl).
        unsafe {
            cmd.pre_exec(move || {
                let moved = if fd == LISTENER_FD {
                    libc::fcntl(fd, libc::F_SETFD, 0)
                } else {
                    libc::dup2(fd, LISTENER_FD)
                };
                if moved < 0 || (own_group && libc::setpgid(0, 0) < 0) {
                    return Err(std::io::Error::last_os_error());
                }
                // Told when the command ends, even if it never gets to notice (Linux only; the
                // server also watches its parent).
                #[cfg(target_os = "linux")]
                libc::prctl(libc::PR_SET_PDEATHSIG, serve::COMMAND_ENDED);
                Ok(())
            });
        }
        let mut child = cmd.spawn().map_err(failed)?;
        let mut stdin = child.stdin.take().expect("piped");
        let line = zeroize::Zeroizing::new(format!("{token}\n"));
        let said = stdin
            .write_all(line.as_bytes())
            .map_err(|e| e.to_string())
            .and_then(|()| {
                drop(stdin);
                listening_on(child.stdout.take().expect("piped"))
            });
        match said {
            Ok(p) if p == port => Ok(()),
            outcome => {
                let _ = child.kill();
                let _ = child.wait();
                let why = match outcome {
                    Ok(p) => format!("it listens on port {p}, not {port}"),
                    Err(why) => why,
                };
                Err(Error::Endpoint(format!(
                    "its server did not start ({why}); the command was not run"
                )))
            }
        }
    }

    /// The port in the server's one line on stdout, read within [`READY_TIMEOUT`].
    fn listening_on(mut out: ChildStdout) -> std::result::Result<u16, String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut said = Vec::new();
        while !said.ends_with(b"\n") && said.len() < 64 {
            let left = deadline.saturating_duration_since(Instant::now());
            let mut ready = libc::pollfd {
                fd: out.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            let ms = libc::c_int::try_from(left.as_millis()).unwrap_or(libc::c_int::MAX);
            // SAFETY: poll on one entry of a local value.
            if left.is_zero() || unsafe { libc::poll(&mut ready, 1, ms) } == 0 {
                return Err(format!(
                    "it said nothing within {} s",
                    READY_TIMEOUT.as_secs()
                ));
            }
            let mut byte = [0_u8; 1];
            match out.read(&mut byte) {
                Ok(0) => return Err("it ended before it listened".into()),
                Ok(_) => said.push(byte[0]),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.to_string()),
            }
        }
        String::from_utf8_lossy(&said)
            .trim_end()
            .strip_prefix(serve::LISTENING)
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| "it did not say that it listens".into())
    }

    /// Leaves the listening socket open across the exec into the command.
    pub fn keep_for_command(listener: TcpListener) {
        let fd = listener.into_raw_fd();
        // SAFETY: clears close-on-exec on an fd this process owns and keeps open.
        unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
    }
}

#[cfg(windows)]
mod server {
    use std::net::TcpListener;

    use zeroize::Zeroizing;

    use crate::cli::Global;
    use crate::endpoint::{self, provider::Provider};
    use crate::error::Result;
    use crate::profile::config;

    /// Serves from a thread of this process, which waits for the command on Windows.
    pub fn start(
        global: &Global,
        listener: &TcpListener,
        _port: u16,
        token: &str,
        verbose: bool,
        _own_group: bool,
    ) -> Result<()> {
        let provider = Provider::new(config::load_target(global.profile())?, global.keyring);
        let token = Zeroizing::new(token.to_owned());
        let listener = listener
            .try_clone()
            .map_err(|e| crate::error::Error::Endpoint(format!("cannot serve: {e}")))?;
        std::thread::spawn(move || {
            endpoint::serve(
                listener,
                token,
                provider,
                verbose,
                std::future::pending(),
                |_| {},
            )
        });
        Ok(())
    }

    /// The serving thread holds the socket for as long as mfa-env waits for the command.
    pub fn keep_for_command(_listener: TcpListener) {}
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
