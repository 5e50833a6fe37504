//! The commands, one file each: `exec` and the default export (in `main`), `setup`, `add`,
//! `remove`, `status`, `clear`, `doctor`, `console`, `mfa-arg`, `serve`, `completions`, `man`,
//! `version`. Uses every
//! layer below.
//!
//! The management commands report to stderr what they did; `status` and `doctor` write to
//! stdout, and never a secret; `mfa-arg` writes only the requested `SERIAL CODE`.

pub mod add;
pub mod clear;
pub mod completions;
pub mod console;
pub mod doctor;
pub mod exec;
pub mod man;
pub mod mfa_arg;
pub mod remove;
pub mod serve;
pub mod setup;
pub mod status;
pub mod version;

use crate::cli::Global;
use crate::error::{Error, Result};
use crate::profile::config;
use crate::store::Store;

/// The keyring, for a command that manages it: a locked one may be unlocked within the
/// default time.
fn open_store(global: &Global) -> Result<Store> {
    Store::open(
        global.keyring,
        crate::code::unlock_within(config::DEFAULT_LOCK_TIMEOUT_SECONDS),
    )
    .map_err(Error::from)
}

/// Pretty JSON with a final newline, for `status --json` and `doctor --json`.
pub(crate) fn pretty_json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    let mut out = serde_json::to_string_pretty(value).expect("plain data serializes");
    out.push('\n');
    out
}

/// A usable session for the target: the cached one, else a new one for a code (then cached).
pub fn session(
    global: &Global,
    target: &config::Target,
    code: &crate::cli::CodeArgs,
) -> Result<crate::secret::SessionCredentials> {
    let unlock = crate::code::unlock_within(target.mfa().lock_timeout_seconds);
    let store = Store::open(global.keyring, unlock)?;
    let source = crate::code::CodeSource::choose(code.token_code.as_deref(), target.mfa());
    crate::credentials::get(&store, target, source)
}
