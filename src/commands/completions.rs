//! `mfa-env completions SHELL`: a completion script, from the same definitions as `--help`.

use crate::error::Result;

/// `mfa-env completions SHELL`.
pub fn run(shell: clap_complete::Shell) -> Result<()> {
    let mut cmd = <crate::cli::Cli as clap::CommandFactory>::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "mfa-env", &mut out);
    crate::output::write(&String::from_utf8_lossy(&out))
}
