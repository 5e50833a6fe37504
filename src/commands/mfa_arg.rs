//! `mfa-env mfa-arg`: `SERIAL CODE` for S3 MFA Delete, written to stdout and nowhere else.

use zeroize::Zeroizing;

use crate::cli::{CodeArgs, Global};
use crate::code::{self, CodeSource};
use crate::error::Result;
use crate::profile::config;

/// `mfa-env mfa-arg`: `SERIAL CODE` for S3 MFA Delete's `--mfa`. The code is for one S3 call,
/// not for STS, so it is neither sent nor remembered, and no keyring is opened.
pub fn run(global: &Global, args: &CodeArgs) -> Result<()> {
    let settings = config::load(global.profile())?;
    let source = CodeSource::choose(args.token_code.as_deref(), &settings);
    let code = code::obtain(source, &settings, None)?;
    let line = Zeroizing::new(format!("{} {}\n", settings.serial, code.expose()));
    crate::output::write(&line)
}
