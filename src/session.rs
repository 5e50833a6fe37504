//! Getting a new MFA session on a cache miss: the long-term key, then a code, then STS, then the
//! cache. Every check that can refuse the request without the network comes first, so a code
//! is never asked for (or spent) on a request that could not succeed.

use crate::code::{self, CodeSource};
use crate::config::Settings;
use crate::error::Result;
use crate::secret::SessionCredentials;
use crate::store::{Store, StoreError};
use crate::{cache, longterm, sts};

/// The new session, and the reason it could not be cached if it could not: a session the user
/// spent a code on is still worth printing.
pub fn fetch_and_cache(
    store: &Store,
    settings: &Settings,
    code_source: CodeSource<'_>,
) -> Result<(SessionCredentials, Option<StoreError>)> {
    let (key, key_source) = longterm::resolve(store, settings)?;
    let code = code::obtain(code_source, settings)?;
    let creds = sts::fetch(&sts::Request {
        settings,
        key: &key,
        code: &code,
    })?;
    let not_cached = cache::save(store, settings, key_source, &key.access_key_id, &creds).err();
    Ok((creds, not_cached))
}
