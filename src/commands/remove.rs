//! `mfa-env remove`: forget a profile, its long-term key and its sessions, wherever mfa-env
//! may have kept them: the store in use, the platform's other store (a key stored with another
//! `--keyring`), and the kernel keyring as mfa-env 0.1 laid it out. A user who removes a key
//! after a leak must be able to trust that nothing signs with it any more.

use crate::cli::Global;
use crate::credentials::{cache, longterm};
use crate::error::Result;
use crate::store::{Store, StoreChoice};

/// `mfa-env remove`: the long-term key and every cached session of the profile.
pub fn run(global: &Global) -> Result<()> {
    let profile = global.profile();
    let store = super::open_store(global)?;
    let current = super::clear::current_item(profile);
    let mut had_key = Vec::new();
    // The copy in 0.1's layout first: a call running meanwhile would move it into the vault.
    let legacy = longterm::delete_legacy(profile);
    let mut sessions = 0;
    let mut unchecked = Vec::new();
    let forget = |store: &Store, had_key: &mut Vec<String>, sessions: &mut usize| -> Result<()> {
        if longterm::delete_key(store, profile)? {
            had_key.push(store.name().to_owned());
        }
        *sessions += cache::clear(store, Some(profile), current.as_deref())?;
        Ok(())
    };
    forget(&store, &mut had_key, &mut sessions)?;
    for other in store.others() {
        if let Err(e) = forget(&other, &mut had_key, &mut sessions) {
            unchecked.push(format!("the {} could not be cleared: {e}", other.name()));
        }
    }
    if legacy || longterm::delete_legacy(profile) {
        let kernel = StoreChoice::Keyutils.name();
        match had_key.iter_mut().find(|place| *place == kernel) {
            Some(place) => place.push_str(" (its copy in mfa-env 0.1's layout too)"),
            None => had_key.push(format!("{kernel} (mfa-env 0.1's layout)")),
        }
    }
    let key = match had_key.as_slice() {
        [] => "no long-term key was stored".to_owned(),
        places => format!(
            "removed the long-term key from the {}",
            places.join(" and the ")
        ),
    };
    let unchecked: String = unchecked.iter().map(|u| format!("; {u}")).collect();
    eprintln!(
        "mfa-env: profile '{profile}': {key}; removed {sessions} cached session(s){unchecked}"
    );
    Ok(())
}
