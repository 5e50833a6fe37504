//! A usable session for a profile: the cache, the per-profile lock, the long-term key, a new MFA
//! session on a miss (`session`) and roles on top of it (`role`). Uses `aws`, `code`, `profile` and below.

pub mod cache;
pub mod key_process;
pub mod lock;
pub mod longterm;
pub mod role;
pub mod session;
pub mod used_code;

use chrono::{DateTime, Utc};

use crate::code::CodeSource;
use crate::error::Result;
use crate::profile::config::Target;
use crate::secret::SessionCredentials;
use crate::store::{Store, StoreError};

/// A usable session for the target: the cached one, else a new one for a code (then cached).
pub fn get(store: &Store, target: &Target, source: CodeSource<'_>) -> Result<SessionCredentials> {
    // Inside a source profile's credential_process, which must print a long-term key: the
    // mfa-env that started it may hold the very locks this one would wait for.
    key_process::refuse_nested()?;
    match target {
        Target::Mfa(settings) => session::get(store, settings, source).map(|(creds, _)| creds),
        Target::Role(chain) => role::credentials(store, chain, source),
    }
}

/// The cached session for the target if one may be served at `now`: one keyring read, no lock.
pub fn cached(
    store: &Store,
    target: &Target,
    now: DateTime<Utc>,
) -> Result<Option<SessionCredentials>, StoreError> {
    let hit = match target {
        Target::Mfa(settings) => cache::lookup(store, settings, now)?,
        Target::Role(chain) => cache::lookup_role(store, chain, chain.hops.len() - 1, now)?,
    };
    Ok(hit.map(|(creds, _)| creds))
}
