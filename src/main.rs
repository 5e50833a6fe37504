//! mfa-env: AWS MFA sessions for the AWS CLI (`credential_process`), SDKs and shells.
//!
//! The main job, `mfa-env [-p P] [--format F]`:
//!   config  → read and validate the profile (no keyring, no network yet)
//!   store   → open the OS keyring
//!   cache   → one keyring read; a usable session is printed and we are done (the hot path:
//!             no SDK client, no async runtime, no network)
//!   session → on a miss: per-profile lock, cache again, long-term key, MFA code,
//!             STS GetSessionToken, cache
//!   output  → print in the requested format
//!
//! `main` alone prints errors and chooses exit codes.

use std::process::ExitCode;

use clap::Parser;

use mfa_env::cli::{Cli, Command, ExportArgs, Global};
use mfa_env::code::CodeSource;
use mfa_env::error::Result;
use mfa_env::store::Store;
use mfa_env::{cache, clock, commands, config, output, session};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mfa-env: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let global = &cli.global;
    match cli.command {
        None => export(global, &cli.export),
        Some(Command::Export(args)) => export(global, &args),
        Some(Command::Add { stdin }) => commands::add(global, stdin),
        Some(Command::Remove) => commands::remove(global),
        Some(Command::Status { json }) => commands::status(global, json),
        Some(Command::Clear { all }) => commands::clear(global, all),
    }
}

/// Prints a usable session for the profile, getting a new one only when the cache has none.
fn export(global: &Global, args: &ExportArgs) -> Result<()> {
    let settings = config::load(global.profile())?;
    let store = Store::open(global.keyring)?;
    let creds = match cache::lookup(&store, &settings, clock::now())? {
        Some(creds) => creds,
        None => {
            let code_source = match &args.token_code {
                Some(code) => CodeSource::Given(code),
                None => CodeSource::Terminal,
            };
            let (creds, not_cached) = session::fetch_and_cache(&store, &settings, code_source)?;
            if let Some(e) = not_cached {
                eprintln!("mfa-env: warning: the new session is printed but not cached: {e}");
            }
            creds
        }
    };
    output::print(&creds, args.format)
}
