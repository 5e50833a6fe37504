//! Getting a new MFA session on a cache miss: the lock, a second look in the cache, the
//! long-term key, a code, STS, the cache. Every check that can refuse the request without the
//! network comes before the code, so a code is never asked for (or spent) on a request that
//! could not succeed.

use crate::code::{self, CodeSource};
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::secret::SessionCredentials;
use crate::store::Store;
use crate::{cache, clock, lock, longterm, sts};

/// A session for the profile, and the reason it could not be cached if it could not: a session
/// the user spent a code on is still worth printing.
pub fn fetch_and_cache(
    store: &Store,
    settings: &Settings,
    code_source: CodeSource<'_>,
) -> Result<(SessionCredentials, Option<Error>)> {
    let _lock = lock::session(settings)?;
    // Whoever held the lock before us may have just cached a session.
    if let Some(creds) = cache::lookup(store, settings, clock::now())? {
        return Ok((creds, None));
    }
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
