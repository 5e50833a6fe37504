//! mfa-env: AWS MFA sessions for the AWS CLI (`credential_process`), SDKs and shells.
//!
//! The main job, `mfa-env [-p P] [--format F]`:
//!   profile::config      → read and validate the profile (no keyring, no network yet); a
//!                          role profile brings its chain down to the mfa-env profile
//!   store                → open the OS keyring
//!   credentials::cache   → one keyring read; a usable session is printed and we are done (the
//!                          hot path: no SDK client, no async runtime, no network)
//!   credentials::session → on a miss: per-profile lock, cache again, long-term key, MFA code
//!                          (`code`), STS GetSessionToken (`aws::sts`), cache
//!   credentials::role    → for a role profile: the same around AssumeRole, with the MFA
//!                          session (or the role before) in place of the long-term key
//!   output               → print in the requested format (or, for `commands::exec`, run a
//!                          command with it, or with an `endpoint` that serves it)
//!
//! Every other command lives in `commands/`, one file each.
//!
//! `main` alone prints errors and chooses exit codes.
//!
//! On Unix the C `main` is ours (`no_main`): Rust's runtime start-up would first read
//! `/proc/self/maps` to place a stack guard for the main thread, a tenth of a cached call's
//! instructions. What it does that we need is done here: a closed fd 0, 1 or 2 is opened on
//! `/dev/null` (else the next file or socket opened would take its number, and what is meant for
//! stdout would go there), and SIGPIPE is ignored, so a closed stdout is an error we report
//! rather than a silent death. (Arguments and the environment reach std as usual; a stack
//! overflow is then a plain SIGSEGV.)
#![cfg_attr(all(unix, not(test)), no_main)]

use std::ffi::OsString;

use mfa_env::cli::{Cli, CodeArgs, Command, ExportArgs, Global};
use mfa_env::commands::{self, exec};
use mfa_env::error::Result;
use mfa_env::output;
use mfa_env::profile::config::{self, Target};
use mfa_env::secret::SessionCredentials;

#[cfg(all(unix, not(test)))]
#[unsafe(no_mangle)]
extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    standard_fds_open();
    // SAFETY: setting a signal's disposition to "ignore" before any thread exists.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    // `exit` rather than a return: it flushes std's buffered stdout, as the runtime would.
    std::process::exit(exit_status())
}

/// Opens `/dev/null` on each of fds 0-2 that the caller left closed (`mfa-env … <&-`), as
/// Rust's runtime start-up does: one `poll` on the three when all are open, the usual case.
#[cfg(all(unix, not(test)))]
fn standard_fds_open() {
    let mut fds = [0, 1, 2].map(|fd| libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    });
    // SAFETY: poll reads and writes the three entries of a local array, and returns at once.
    let polled = unsafe { libc::poll(fds.as_mut_ptr(), 3, 0) };
    for pfd in fds {
        let closed = if polled >= 0 {
            pfd.revents & libc::POLLNVAL != 0
        } else {
            // SAFETY: F_GETFD only reads the descriptor's flags.
            let flags = unsafe { libc::fcntl(pfd.fd, libc::F_GETFD) };
            flags == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EBADF)
        };
        // open(2) takes the lowest free number: this one, as those below it are open.
        // SAFETY: a valid C string; the descriptor is kept for the life of the process.
        if closed && unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) } != pfd.fd {
            // Without /dev/null (a bare chroot) the slot cannot be filled safely: stop here.
            std::process::abort();
        }
    }
}

#[cfg(not(unix))]
fn main() {
    // `exit` takes all 32 bits of a Windows exit code, which `ExitCode` would cut to 8.
    std::process::exit(exit_status())
}

/// Runs the command line and prints a failure: the process's exit status.
#[cfg_attr(test, allow(dead_code))]
fn exit_status() -> i32 {
    let cli = Cli::parse_args();
    match run(cli) {
        Ok(status) => status,
        Err(e) => {
            eprintln!("mfa-env: {e}");
            i32::from(e.exit_code())
        }
    }
}

/// Runs the command. Success is status 0, except for `exec`, which passes on its command's.
fn run(cli: Cli) -> Result<i32> {
    let global = &cli.global;
    if cli.version {
        return commands::version::run(cli.verbose).map(|()| 0);
    }
    let done = match cli.command {
        None => export(global, &cli.export),
        Some(Command::Export(args)) => export(global, &args),
        Some(Command::Exec {
            code,
            allow_nested,
            server,
            verbose,
            command,
        }) => {
            let server = server.then_some(Server { verbose });
            return run_exec(global, &code, allow_nested, server, &command);
        }
        Some(Command::Serve {
            port,
            format,
            verbose,
            exec_parent,
        }) => commands::serve::run(global, port, format, verbose, exec_parent),
        Some(Command::Console(args)) => commands::console::run(global, &args),
        Some(Command::MfaArg { code }) => commands::mfa_arg::run(global, &code),
        Some(Command::Setup(args)) => commands::setup::run(global, &args),
        Some(Command::Add { stdin, volatile_ok }) => commands::add::run(global, stdin, volatile_ok),
        Some(Command::Remove) => commands::remove::run(global),
        Some(Command::Status { json }) => commands::status::run(global, json),
        Some(Command::Clear { all }) => commands::clear::run(global, all),
        Some(Command::Doctor {
            policy,
            json,
            offline,
        }) => match policy {
            Some(policy) => commands::doctor::run_policy(&policy, json),
            None => commands::doctor::run(global, json, offline),
        },
        Some(Command::Completions { shell }) => commands::completions::run(shell),
        Some(Command::Man { dir }) => commands::man::run(dir.as_deref()),
        Some(Command::Version { verbose }) => commands::version::run(verbose),
    };
    done.map(|()| 0)
}

/// Prints a usable session for the profile.
fn export(global: &Global, args: &ExportArgs) -> Result<()> {
    let target = config::load_target(global.profile())?;
    let creds = credentials(global, &target, &args.code)?;
    output::print(&creds, args.format, target.account_id())
}

/// `exec --server`: the command gets a credentials endpoint rather than one session.
struct Server {
    verbose: bool,
}

/// Runs a command with a usable session in its environment, or an endpoint that serves one.
fn run_exec(
    global: &Global,
    code: &CodeArgs,
    allow_nested: bool,
    server: Option<Server>,
    cmd: &[OsString],
) -> Result<i32> {
    exec::check_nesting(allow_nested)?;
    let target = config::load_target(global.profile())?;
    // With --server too: a code is asked for now, before the command takes the terminal.
    let creds = credentials(global, &target, code)?;
    match server {
        None => exec::run(&target, &creds, cmd),
        Some(Server { verbose }) => exec::run_with_server(global, &target, verbose, cmd),
    }
}

/// A usable session: the cached one, else a new one for a code (which is then cached).
fn credentials(global: &Global, target: &Target, code: &CodeArgs) -> Result<SessionCredentials> {
    commands::session(global, target, code)
}
