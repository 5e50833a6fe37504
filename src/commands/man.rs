//! `mfa-env man`: man pages, from the same definitions as `--help`.

use crate::error::{Error, Result};

/// `mfa-env man`: the man page, generated from the same definitions as `--help`; with a
/// directory, one page per command written there (`mfa-env.1`, `mfa-env-exec.1`, …).
pub fn run(dir: Option<&std::path::Path>) -> Result<()> {
    let cmd = <crate::cli::Cli as clap::CommandFactory>::command();
    if let Some(dir) = dir {
        return clap_mangen::generate_to(cmd, dir).map_err(|e| Error::Write {
            path: dir.to_owned(),
            why: e.to_string(),
        });
    }
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut out)
        .map_err(Error::Stdout)?;
    crate::output::write(&String::from_utf8_lossy(&out))
}
