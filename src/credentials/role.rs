//! Roles assumed by mfa-env itself, for `eval "$(mfa-env -p ROLE)"` and `exec -p ROLE`, where
//! no SDK follows `role_arn` + `source_profile`. Each role in the chain is a cache entry of its
//! own, taken like an MFA session: a hit is one keyring read; a miss locks the role, looks
//! again, gets the credentials below it (the MFA session for the first role: one code serves
//! every role), calls `AssumeRole` and caches the answer.

use crate::aws::sts;
use crate::clock;
use crate::code::CodeSource;
use crate::credentials::cache::{self, Origin};
use crate::credentials::{lock, session};
use crate::error::Result;
use crate::profile::config::RoleChain;
use crate::secret::SessionCredentials;
use crate::store::Store;

/// Credentials for the chain's role profile.
pub fn credentials(
    store: &Store,
    chain: &RoleChain,
    code_source: CodeSource<'_>,
) -> Result<SessionCredentials> {
    assumed(store, chain, chain.hops.len() - 1, code_source).map(|(creds, _)| creds)
}

/// Credentials for the chain's role number `hop`, and the long-term key they descend from.
fn assumed(
    store: &Store,
    chain: &RoleChain,
    hop: usize,
    code_source: CodeSource<'_>,
) -> Result<(SessionCredentials, Origin)> {
    if let Some(hit) = cache::lookup_role(store, chain, hop, clock::now())? {
        return Ok(hit);
    }
    let role = &chain.hops[hop];
    // Locks are taken from the top of the chain down to the MFA session, always in that order.
    let _lock = lock::role(role)?;
    if let Some(hit) = cache::lookup_role(store, chain, hop, clock::now())? {
        return Ok(hit);
    }
    let (with, origin) = match hop {
        0 => session::get(store, &chain.base, code_source)?,
        _ => assumed(store, chain, hop - 1, code_source)?,
    };
    let session_name = role
        .session_name
        .clone()
        .unwrap_or_else(|| default_session_name(clock::now().timestamp()));
    let creds = sts::assume(&sts::AssumeRequest {
        target: &role.sts,
        role_arn: &role.role_arn,
        external_id: role.external_id.as_deref(),
        duration_seconds: role.duration_seconds,
        with: &with,
        session_name: &session_name,
    })?
    .into_creds_warning_of_skew();
    if let Err(e) = cache::save_role(store, chain, hop, &origin, &creds) {
        session::warn_not_cached(&e);
    }
    Ok((creds, origin))
}

/// The session name when the profile has no `role_session_name`: like the SDKs'
/// (`botocore-session-<time>`), it tells CloudTrail readers which tool made the session.
fn default_session_name(unix_seconds: i64) -> String {
    format!("mfa-env-{unix_seconds}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_session_name_is_one_sts_accepts() {
        let name = default_session_name(1_900_000_000);
        assert_eq!(name, "mfa-env-1900000000");
        assert!((2..=64).contains(&name.len()));
    }
}
