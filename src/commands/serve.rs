//! `mfa-env serve`: the credentials endpoint in the foreground, for programs mfa-env does not
//! start (a container on the host network, an IDE, an agent). It gets the first session before
//! it listens, so a code is asked for while someone is watching, prints the two variables, and
//! serves until SIGINT or SIGTERM. `exec --server` runs it too, bound to its command's life.

use std::io::BufRead;
use std::net::TcpListener;

use zeroize::Zeroizing;

use crate::cli::Global;
use crate::code::{self, CodeSource};
use crate::credentials;
use crate::endpoint::{self, provider::Provider};
use crate::error::{Error, Result};
use crate::output::{self, Format};
use crate::profile::config::{self, Target};
use crate::store::Store;

pub fn run(
    global: &Global,
    port: Option<u16>,
    format: Format,
    verbose: bool,
    exec_parent: Option<u32>,
) -> Result<()> {
    if let Some(parent) = exec_parent {
        return for_exec(global, parent, verbose);
    }
    let target = config::load_target(global.profile())?;
    first_session(global, &target)?;
    code::serving();
    let (listener, port) = endpoint::bind(port)?;
    let token = endpoint::new_token()?;
    output::write(&output::assignments(
        &endpoint::variables(port, &token),
        format,
    )?)?;
    // Nothing more comes on stdout: a reader waiting for its end (`$(…)`, a pipe) gets it now.
    #[cfg(unix)]
    close_stdout();
    eprintln!(
        "mfa-env: serving profile '{}' on 127.0.0.1:{port} until interrupted",
        global.profile()
    );
    let provider = Provider::new(target, global.keyring);
    let served = endpoint::serve(listener, token, provider, verbose, interrupted(), |_| {});
    code::tty::restore_open_prompt();
    served?;
    eprintln!("mfa-env: stopped");
    Ok(())
}

/// The cached session, else a new one now.
fn first_session(global: &Global, target: &Target) -> Result<()> {
    let store = Store::open(
        global.keyring,
        code::unlock_within(target.mfa().lock_timeout_seconds),
    )?;
    credentials::get(&store, target, CodeSource::choose(None, target.mfa())).map(drop)
}

/// SIGINT or SIGTERM (Ctrl-C or Ctrl-Break on Windows).
async fn interrupted() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
        ) {
            (Ok(mut int), Ok(mut term)) => {
                tokio::select! {
                    _ = int.recv() => {}
                    _ = term.recv() => {}
                }
            }
            // Without handlers the default action (exit) stays: nothing to wait for here.
            _ => std::future::pending().await,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// What the server of `exec --server` says on stdout once it listens, before the port:
/// `exec` starts the command only after it has read this line with the port it bound.
pub const LISTENING: &str = "listening 127.0.0.1:";

/// The signal the kernel sends the server of `exec --server` when the command ends (Linux's
/// parent-death signal). Not SIGKILL: a server whose prompt is open must first put the
/// terminal back (`code::tty`); and not one of the signals it ignores.
#[cfg(unix)]
pub const COMMAND_ENDED: i32 = libc::SIGUSR1;

/// The server of `exec --server`: its socket is fd 3, its token the first line of stdin, and
/// it serves until its parent (the command mfa-env became) is gone.
#[cfg(unix)]
fn for_exec(global: &Global, parent: u32, verbose: bool) -> Result<()> {
    use std::os::fd::FromRawFd;
    let mut token = Zeroizing::new(String::new());
    std::io::stdin()
        .lock()
        .read_line(&mut token)
        .map_err(|e| Error::Endpoint(format!("no token on stdin: {e}")))?;
    let token = Zeroizing::new(token.trim().to_owned());
    if token.len() < 32 {
        return Err(Error::Endpoint(
            "--exec-parent is for `mfa-env exec --server` alone".into(),
        ));
    }
    // SAFETY: `exec --server` leaves its listening socket at this fd, and nothing else uses it
    // (that it is a socket listening on 127.0.0.1 is checked by `exec`, which compares the port
    // this server reports with its own).
    let listener = unsafe { TcpListener::from_raw_fd(3) };
    // Not for the programs a fetch runs (`mfa_process`, a dialog): they must not keep the
    // port open after this server ends.
    // SAFETY: fcntl on an fd this process owns.
    unsafe { libc::fcntl(3, libc::F_SETFD, libc::FD_CLOEXEC) };
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP, libc::SIGQUIT] {
        // SAFETY: setting a disposition to "ignore", before any thread starts.
        unsafe { libc::signal(signal, libc::SIG_IGN) };
    }
    code::serving();
    let target = config::load_target(global.profile())?;
    let provider = Provider::new(target, global.keyring);
    let listening = |port| {
        println!("{LISTENING}{port}");
        // Nothing else goes to the pipe `exec` reads.
        close_stdout();
    };
    let served = endpoint::serve(
        listener,
        token,
        provider,
        verbose,
        parent_gone(parent),
        listening,
    );
    code::tty::restore_open_prompt();
    served
}

#[cfg(not(unix))]
fn for_exec(_: &Global, _: u32, _: bool) -> Result<()> {
    Err(Error::Endpoint(
        "--exec-parent is for `mfa-env exec --server` on Unix alone".into(),
    ))
}

/// Completes when this process's parent is no longer `parent` (it ended and we were adopted).
#[cfg(unix)]
async fn parent_gone(parent: u32) {
    loop {
        // SAFETY: getppid has no preconditions.
        if u32::try_from(unsafe { libc::getppid() }).ok() != Some(parent) {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Points stdout at /dev/null, once what was printed is out.
#[cfg(unix)]
fn close_stdout() {
    use std::io::Write;
    use std::os::fd::AsRawFd;
    let _ = std::io::stdout().flush();
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        // SAFETY: dup2 onto fd 1, which std's stdout writes to; both fds are open.
        unsafe { libc::dup2(null.as_raw_fd(), 1) };
    }
}
