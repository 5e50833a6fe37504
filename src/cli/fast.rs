//! The credential_process call's command line, parsed without clap. That call runs before every
//! `aws` command, and building clap's command tree (every subcommand, argument and help text)
//! was 40 % of its instructions. Only the exact shapes a profile's `credential_process` uses are
//! taken here — `-p/--profile`, `-f/--format`, `--keyring`, each once, with a plain value — and
//! anything else (a subcommand, `--help`, a repeated or unknown flag, an invalid value) returns
//! `None` so that clap parses it and gives its usual errors. `tests/cli_fast.rs` checks that
//! whatever this accepts, clap parses to the same settings.

use std::ffi::OsString;

use clap::ValueEnum;

use super::{Cli, CodeArgs, ExportArgs, Global};
use crate::output::Format;
use crate::store::StoreChoice;

/// `args` without the program name; `env` reads an environment variable.
pub fn parse(args: &[OsString], env: impl Fn(&str) -> Option<OsString>) -> Option<Cli> {
    let mut profile = None;
    let mut format = None;
    let mut keyring = None;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let arg = arg.to_str()?;
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value)),
            _ => (arg, None),
        };
        let slot = match flag {
            "-p" | "--profile" => &mut profile,
            "-f" | "--format" => &mut format,
            "--keyring" => &mut keyring,
            _ => return None,
        };
        let value = match inline {
            Some(v) => v,
            None => rest.next()?.to_str()?,
        };
        if slot.is_some() || value.is_empty() || value.starts_with('-') {
            return None;
        }
        *slot = Some(value);
    }
    let from_env = |name: &str| -> Option<Option<String>> {
        match env(name) {
            None => Some(None),
            Some(v) if v.is_empty() => Some(None),
            Some(v) => v.into_string().ok().map(Some),
        }
    };
    let profile = match profile {
        Some(p) => Some(p.to_owned()),
        None => from_env("AWS_PROFILE")?,
    };
    // clap refuses an empty MFA_ENV_KEYRING ("a value is required"); let it say so.
    if keyring.is_none() && env("MFA_ENV_KEYRING").is_some_and(|v| v.is_empty()) {
        return None;
    }
    let keyring = match keyring.map(str::to_owned).or(from_env("MFA_ENV_KEYRING")?) {
        Some(k) => StoreChoice::from_str(&k, false).ok()?,
        None => StoreChoice::Auto,
    };
    let format = match format {
        Some(f) => Format::from_str(f, false).ok()?,
        None => Format::Env,
    };
    Some(Cli {
        global: Global { profile, keyring },
        export: ExportArgs {
            format,
            code: CodeArgs { token_code: None },
        },
        version: false,
        verbose: false,
        command: None,
    })
}
