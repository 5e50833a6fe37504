//! mfa-env: AWS MFA sessions for the AWS CLI (`credential_process`), SDKs and shells.
//!
//! The main job, `mfa-env [-p P] [--format F]`:
//!   config  → read and validate the profile (no keyring, no network yet)
//!   store   → open the OS keyring
//!   cache   → one keyring read; a usable session is printed and we are done (the hot path:
//!             no SDK client, no async runtime, no network)
//!   session → on a miss: per-profile lock, cache again, long-term key, MFA code,
//!             STS GetSessionToken, cache
//!   output  → print in the requested format (or, for `exec`, run a command with it)
//!
//! `main` alone prints errors and chooses exit codes.

use std::ffi::OsString;
use std::process::ExitCode;

use mfa_env::cli::{Cli, CodeArgs, Command, ExportArgs, Global};
use mfa_env::code::CodeSource;
use mfa_env::config::Settings;
use mfa_env::error::Result;
use mfa_env::secret::SessionCredentials;
use mfa_env::store::Store;
use mfa_env::{cache, clock, commands, config, exec, output, session};

fn main() -> ExitCode {
    let cli = Cli::parse_args();
    match run(cli) {
        Ok(status) => ExitCode::from(status),
        Err(e) => {
            eprintln!("mfa-env: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

/// Runs the command. Success is status 0, except for `exec`, which passes on its command's.
fn run(cli: Cli) -> Result<u8> {
    let global = &cli.global;
    let done = match cli.command {
        None => export(global, &cli.export),
        Some(Command::Export(args)) => export(global, &args),
        Some(Command::Exec {
            code,
            allow_nested,
            command,
        }) => return run_exec(global, &code, allow_nested, &command),
        Some(Command::MfaArg { code }) => commands::mfa_arg(global, &code),
        Some(Command::Add { stdin }) => commands::add(global, stdin),
        Some(Command::Remove) => commands::remove(global),
        Some(Command::Status { json }) => commands::status(global, json),
        Some(Command::Clear { all }) => commands::clear(global, all),
        Some(Command::Doctor { policy, json }) => match policy {
            Some(policy) => commands::doctor_policy(&policy, json),
            None => commands::doctor(global, json),
        },
        Some(Command::Completions { shell }) => commands::completions(shell),
        Some(Command::Man { dir }) => commands::man(dir.as_deref()),
    };
    done.map(|()| 0)
}

/// Prints a usable session for the profile.
fn export(global: &Global, args: &ExportArgs) -> Result<()> {
    let settings = config::load(global.profile())?;
    let creds = credentials(global, &settings, &args.code)?;
    output::print(&creds, args.format)
}

/// Runs a command with a usable session in its environment.
fn run_exec(global: &Global, code: &CodeArgs, allow_nested: bool, cmd: &[OsString]) -> Result<u8> {
    exec::check_nesting(allow_nested)?;
    let settings = config::load(global.profile())?;
    let creds = credentials(global, &settings, code)?;
    exec::run(&settings, &creds, cmd)
}

/// A usable session: the cached one, else a new one for a code (which is then cached).
fn credentials(
    global: &Global,
    settings: &Settings,
    code: &CodeArgs,
) -> Result<SessionCredentials> {
    let store = Store::open(global.keyring)?;
    if let Some(creds) = cache::lookup(&store, settings, clock::now())? {
        return Ok(creds);
    }
    let source = CodeSource::choose(code.token_code.as_deref(), settings);
    let (creds, not_cached) = session::fetch_and_cache(&store, settings, source)?;
    if let Some(e) = not_cached {
        eprintln!("mfa-env: warning: the new session is used but not cached: {e}");
    }
    Ok(creds)
}
