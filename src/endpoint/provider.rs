//! The endpoint's credentials: the cache first, as a cached `credential_process` call reads it
//! (the same items, margin and lock, so the endpoint and `credential_process` callers share one
//! session); on a miss, one fetch at a time, however many requests wait for it.
//!
//! A fetch runs on a thread of its own, not on the request's: SDKs give a credentials endpoint
//! one to five seconds, a person may need thirty to type a code, and the session that code buys
//! must not be lost with the request that asked for it. The fetch finishes, caches the session,
//! and the next request is served from the cache at once.

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::code::{self, CodeSource};
use crate::credentials;
use crate::error::Error;
use crate::profile::config::Target;
use crate::secret::SessionCredentials;
use crate::store::{Store, StoreChoice, Unlock};

/// What a request gets.
pub enum Served {
    /// A session that was in the cache.
    Cached(SessionCredentials),
    /// A session this request waited for: a new one, or one another caller had just cached.
    Fetched(SessionCredentials),
}

/// Why a request gets no session: a message for the client, one line, no secret.
pub enum Refused {
    /// The fetch failed (no key, no way to ask for a code, STS refused).
    Failed(String),
    /// The fetch is still running (a person is typing the code) after the request's wait.
    StillFetching,
}

pub struct Provider {
    target: Target,
    keyring: StoreChoice,
    /// The store cache reads go through, opened once; `None` after an error, to be opened again.
    store: Mutex<Option<Store>>,
    fetch: Mutex<Option<Arc<Fetch>>>,
}

/// One fetch's outcome, which every request waiting for it reads.
#[derive(Default)]
struct Fetch {
    outcome: Mutex<Option<Result<SessionCredentials, String>>>,
    done: Condvar,
}

impl Provider {
    pub fn new(target: Target, keyring: StoreChoice) -> Self {
        Provider {
            target,
            keyring,
            store: Mutex::new(None),
            fetch: Mutex::new(None),
        }
    }

    /// A session for one request: the cache, else the running fetch (started if none runs),
    /// waited for as long as a process waits for another's (`mfa_env_lock_timeout_seconds`).
    pub fn get(self: &Arc<Self>) -> Result<Served, Refused> {
        if let Some(creds) = self.cached() {
            return Ok(Served::Cached(creds));
        }
        let fetch = self.fetch_running();
        let wait = Duration::from_secs(self.target.mfa().lock_timeout_seconds.into());
        let deadline = Instant::now() + wait;
        let mut outcome = fetch.outcome.lock().unwrap_or_else(PoisonError::into_inner);
        while outcome.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(Refused::StillFetching);
            }
            outcome = fetch
                .done
                .wait_timeout(outcome, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        match outcome.as_ref().expect("set before the loop ends") {
            Ok(creds) => Ok(Served::Fetched(creds.clone())),
            Err(why) => Err(Refused::Failed(why.clone())),
        }
    }

    /// The cached session, if one may be served now. A store that fails is opened again on
    /// the next request (a restarted keyring daemon); meanwhile the fetch reports the error.
    fn cached(&self) -> Option<SessionCredentials> {
        let mut store = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        if store.is_none() {
            *store = Store::open(self.keyring, Unlock::NEVER).ok();
        }
        match credentials::cached(store.as_ref()?, &self.target, crate::clock::now()) {
            Ok(hit) => hit,
            Err(_) => {
                *store = None;
                None
            }
        }
    }

    /// The fetch now running, started if there is none.
    fn fetch_running(self: &Arc<Self>) -> Arc<Fetch> {
        let mut running = self.fetch.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(fetch) = running.as_ref() {
            return Arc::clone(fetch);
        }
        let fetch = Arc::new(Fetch::default());
        *running = Some(Arc::clone(&fetch));
        let (provider, result) = (Arc::clone(self), Arc::clone(&fetch));
        std::thread::spawn(move || {
            let outcome = provider.new_session().map_err(|e| e.to_string());
            *result
                .outcome
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(outcome);
            result.done.notify_all();
            // Later requests start from the cache (or a fetch of their own) again.
            *provider
                .fetch
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = None;
        });
        fetch
    }

    /// A session as `mfa-env` would get it without `--token-code`: the lock, the cache again,
    /// then a code from `mfa_process`, the terminal or a dialog. A code given on the command
    /// line is spent by the first session, so it is never used here.
    fn new_session(&self) -> Result<SessionCredentials, Error> {
        let settings = self.target.mfa();
        let store = Store::open(
            self.keyring,
            code::unlock_within(settings.lock_timeout_seconds),
        )?;
        credentials::get(&store, &self.target, CodeSource::choose(None, settings))
    }
}
