//! Getting a new MFA session on a cache miss: the lock, a second look in the cache, the
//! long-term key, a code, STS, the cache. Every check that can refuse the request without the
//! network comes before the code, so a code is never asked for (or spent) on a request that
//! could not succeed.

use crate::aws::sts;
use crate::clock;
use crate::code::{self, CodeSource};
use crate::credentials::cache::Origin;
use crate::credentials::{cache, lock, longterm, used_code};
use crate::error::{Error, Result};
use crate::profile::config::Settings;
use crate::secret::LongTermKey;
use crate::secret::SessionCredentials;
use crate::store::Store;

/// A usable MFA session for the profile, and the key it descends from: the cached one, else a
/// new one for a code (which is then cached; when it cannot be, the user is warned and the
/// session still used, since a code was spent on it).
pub fn get(
    store: &Store,
    settings: &Settings,
    code_source: CodeSource<'_>,
) -> Result<(SessionCredentials, Origin)> {
    if let Some(hit) = cache::lookup(store, settings, clock::now())? {
        return Ok(hit);
    }
    let _lock = lock::session(settings)?;
    // Whoever held the lock before us may have just cached a session.
    if let Some(hit) = cache::lookup(store, settings, clock::now())? {
        return Ok(hit);
    }
    let (key, key_source) = longterm::resolve(store, settings)?;
    let creds = with_accepted_code(store, settings, &key, code_source)?;
    let origin = Origin {
        key_source,
        key_id: key.access_key_id.clone(),
    };
    if let Err(e) = cache::save(store, settings, &origin, &creds) {
        warn_not_cached(&e);
    }
    Ok((creds, origin))
}

/// New credentials that could not be cached are still printed: the user spent a code on them.
pub fn warn_not_cached(e: &Error) {
    eprintln!("mfa-env: warning: the new session is used but not cached: {e}");
}

/// Attempts in all for a person at a terminal whose code STS rejects (a typo, an expired code).
const CODE_ATTEMPTS: usize = 3;

/// Gets a code and spends it on `GetSessionToken`. A person at the terminal is asked again when
/// STS rejects the code or it was just used; a code given by a script fails at once.
fn with_accepted_code(
    store: &Store,
    settings: &Settings,
    key: &LongTermKey,
    code_source: CodeSource<'_>,
) -> Result<SessionCredentials> {
    let mut attempt = 0;
    let mut note = None;
    loop {
        attempt += 1;
        let ask_again = code_source.can_ask_again() && attempt < CODE_ATTEMPTS;
        let code = code::obtain(code_source, settings, note.as_deref())?;
        if used_code::was_just_used(store, &settings.serial, &code, clock::now()) {
            // A program (another profile on the same device, moments ago) gets the next code
            // by itself; waiting for it is better than failing.
            if matches!(code_source, CodeSource::Process(_)) && attempt < CODE_ATTEMPTS {
                let wait = used_code::until_next_code(clock::now());
                eprintln!(
                    "mfa-env: mfa_process gave the code just accepted for {}; waiting {} s for the next one",
                    settings.serial,
                    wait.as_secs()
                );
                std::thread::sleep(wait);
                continue;
            }
            let err = Error::CodeReused {
                serial: settings.serial.to_string(),
            };
            if !ask_again {
                return Err(err);
            }
            note = Some(format!("{err}."));
            continue;
        }
        let req = sts::Request {
            target: &settings.sts,
            serial: settings.serial.as_str(),
            duration_seconds: settings.duration_seconds,
            key,
            code: &code,
        };
        match sts::fetch(&req) {
            Ok(fetched) => {
                used_code::remember(store, &settings.serial, &code, clock::now());
                return Ok(fetched.into_creds_warning_of_skew());
            }
            Err(e) if e.is_rejected_code() && ask_again => {
                note = Some("STS rejected that code. Try again with the current one.".into());
            }
            Err(e) => return Err(e),
        }
    }
}
