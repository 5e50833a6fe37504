//! `mfa-env remove`: forget a profile, its long-term key and its sessions.

use crate::cli::Global;
use crate::credentials::{cache, longterm};
use crate::error::Result;

/// `mfa-env remove`: the long-term key and every cached session of the profile.
pub fn run(global: &Global) -> Result<()> {
    let profile = global.profile();
    let store = super::open_store(global)?;
    let had_key = longterm::delete_key(&store, profile)?;
    let sessions = cache::clear(
        &store,
        Some(profile),
        super::clear::current_item(profile).as_deref(),
    )?;
    eprintln!(
        "mfa-env: profile '{profile}': {} long-term key and {sessions} cached session(s) removed from the {}",
        if had_key { "the" } else { "no" },
        store.name()
    );
    Ok(())
}
