//! `mfa-env clear`: drop cached sessions, so that the next call asks for a code.

use crate::cli::Global;
use crate::credentials::cache;
use crate::error::Result;
use crate::profile::config;

/// `mfa-env clear`: cached sessions of the profile, or of all with `--all`.
pub fn run(global: &Global, all: bool) -> Result<()> {
    let store = super::open_store(global)?;
    let (profile, item) = if all {
        (None, None)
    } else {
        let p = global.profile();
        (Some(p), current_item(p))
    };
    let n = cache::clear(&store, profile, item.as_deref())?;
    eprintln!(
        "mfa-env: removed {n} cached session(s){} from the {}",
        profile
            .map(|p| format!(" of profile '{p}'"))
            .unwrap_or_default(),
        store.name()
    );
    Ok(())
}

/// The session item of the profile's current scope, when its config can be read.
pub(super) fn current_item(profile: &str) -> Option<String> {
    config::load(profile).ok().map(|s| cache::item_name(&s))
}
