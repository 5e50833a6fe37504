//! The endpoint's credentials: the cache first, as a cached `credential_process` call reads it
//! (the same items, margin and lock, so the endpoint and `credential_process` callers share one
//! session); on a miss, one fetch at a time, however many requests wait for it.
//!
//! A fetch runs on a thread of its own, not on the request's: SDKs give a credentials endpoint
//! one to five seconds, a person may need thirty to type a code, and the session that code buys
//! must not be lost with the request that asked for it. The fetch finishes, caches the session,
//! and the next request is served from the cache at once.
//!
//! A client holds what it was served until that nearly runs out, and some (the Go SDK, so
//! Terraform) ask again only then. So once a session a client holds is within the margin, the
//! server fetches its successor by itself (`renew_if_due`): a person gets the whole margin
//! (15 min) to type the code, while the client still has valid credentials. It does so once per
//! session held: a person who cancels that renewal (or an `mfa_process` that fails) is asked
//! again only when a client needs a session the cache cannot give, and at most once a minute
//! ([`ASK_AGAIN_AFTER`]), never every few seconds until the session ends.
//!
//! A fetch thread that panics still answers the requests waiting for it in builds that unwind
//! (the tests'); the shipped build aborts on a panic (`panic = "abort"`), which ends the whole
//! server: `exec --server`'s command keeps the port, so its requests are then left unanswered.

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use crate::clock;
use crate::code::{self, CodeSource};
use crate::credentials;
use crate::error::Error;
use crate::profile::config::Target;
use crate::secret::SessionCredentials;
use crate::store::{Store, StoreChoice, Unlock};

/// How long a fetch that asked for a code in vain answers for itself: the SDKs' retries of a
/// request get the same answer at once, and a person who cancelled is not asked again (a
/// dialog, a YubiKey touch, an `op` unlock) sooner than this.
pub const ASK_AGAIN_AFTER: Duration = Duration::from_secs(60);

/// How long any other failure answers for itself (STS unreachable or throttling, a keyring
/// that failed): long enough for an SDK's retries, short enough not to outlast a blip.
const RETRY_AFTER: Duration = Duration::from_secs(10);

/// How long a fetch's failure answers for itself: see [`ASK_AGAIN_AFTER`], [`RETRY_AFTER`].
fn remembered_for(e: &Error) -> Duration {
    let asked_in_vain = e.is_rejected_code()
        || matches!(
            e,
            Error::PromptCancelled { .. }
                | Error::Prompt(_)
                | Error::NoPrompt { .. }
                | Error::MfaProcess { .. }
                | Error::BadCodeFormat { .. }
                | Error::CodeReused { .. }
        );
    if asked_in_vain {
        ASK_AGAIN_AFTER
    } else {
        RETRY_AFTER
    }
}

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
    /// When the newest session served to a client expires: while a client holds one, its
    /// successor is fetched before it runs out.
    handed_out: Mutex<Option<DateTime<Utc>>>,
    /// The session held (by its expiry) whose successor the server went for by itself: once.
    renewal_started_for: Mutex<Option<DateTime<Utc>>>,
    /// The last failed fetch: until when it answers for itself, and what the client is told.
    failed: Mutex<Option<(Instant, String)>>,
}

type Outcome = Result<SessionCredentials, String>;

/// One fetch's outcome, which every request waiting for it reads.
#[derive(Default)]
struct Fetch {
    outcome: Mutex<Option<Outcome>>,
    done: Condvar,
}

impl Fetch {
    fn finish(&self, outcome: Outcome) {
        *lock(&self.outcome) = Some(outcome);
        self.done.notify_all();
    }
}

/// A mutex's value even if a thread panicked while holding it: every value kept here is whole
/// between statements.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Provider {
    /// The account of the sessions served, where an ARN says it.
    pub fn account_id(&self) -> Option<&str> {
        self.target.account_id()
    }

    pub fn new(target: Target, keyring: StoreChoice) -> Self {
        Provider {
            target,
            keyring,
            store: Mutex::new(None),
            fetch: Mutex::new(None),
            handed_out: Mutex::new(None),
            renewal_started_for: Mutex::new(None),
            failed: Mutex::new(None),
        }
    }

    /// A session for one request: the cache, else the running fetch (started if none runs),
    /// waited for as long as a process waits for another's (`mfa_env_lock_timeout_seconds`).
    pub fn get(self: &Arc<Self>) -> Result<Served, Refused> {
        let served = match self.cached() {
            Some(creds) => Served::Cached(creds),
            None => {
                if let Some(why) = self.failed_lately() {
                    return Err(Refused::Failed(why));
                }
                Served::Fetched(self.wait_for(&self.fetch_running())?)
            }
        };
        let (Served::Cached(creds) | Served::Fetched(creds)) = &served;
        let mut handed_out = lock(&self.handed_out);
        *handed_out = (*handed_out).max(Some(creds.expiration));
        Ok(served)
    }

    /// Starts fetching a new session if a client holds one that is about to run out (within the
    /// margin, so the cache serves it no more), no fetch runs, and none was started for that
    /// session yet. Never waits.
    pub fn renew_if_due(self: &Arc<Self>) {
        let Some(held) = *lock(&self.handed_out) else {
            return;
        };
        if held <= clock::now()
            || *lock(&self.renewal_started_for) == Some(held)
            || self.failed_lately().is_some()
            || self.cached().is_some()
        {
            return;
        }
        *lock(&self.renewal_started_for) = Some(held);
        self.fetch_running();
    }

    /// What the last fetch failed with, while that still answers for itself.
    fn failed_lately(&self) -> Option<String> {
        lock(&self.failed)
            .as_ref()
            .filter(|(until, _)| Instant::now() < *until)
            .map(|(_, why)| why.clone())
    }

    fn wait_for(&self, fetch: &Fetch) -> Result<SessionCredentials, Refused> {
        let wait = Duration::from_secs(self.target.mfa().lock_timeout_seconds.into());
        let deadline = Instant::now() + wait;
        let mut outcome = lock(&fetch.outcome);
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
            Ok(creds) => Ok(creds.clone()),
            Err(why) => Err(Refused::Failed(why.clone())),
        }
    }

    /// The cached session, if one may be served now. A store that fails is opened again on
    /// the next request (a restarted keyring daemon); meanwhile the fetch reports the error.
    fn cached(&self) -> Option<SessionCredentials> {
        let mut store = lock(&self.store);
        if store.is_none() {
            *store = Store::open(self.keyring, Unlock::NEVER).ok();
        }
        match credentials::cached(store.as_ref()?, &self.target, clock::now()) {
            Ok(hit) => hit,
            Err(_) => {
                *store = None;
                None
            }
        }
    }

    /// The fetch now running, started if there is none.
    fn fetch_running(self: &Arc<Self>) -> Arc<Fetch> {
        let mut running = lock(&self.fetch);
        if let Some(fetch) = running.as_ref() {
            return Arc::clone(fetch);
        }
        let fetch = Arc::new(Fetch::default());
        let (provider, result) = (Arc::clone(self), Arc::clone(&fetch));
        let started = std::thread::Builder::new()
            .name("fetch".into())
            .spawn(move || {
                let mut done = Done {
                    provider,
                    fetch: result,
                    remember: RETRY_AFTER,
                };
                let outcome = done.provider.new_session().map_err(|e| {
                    done.remember = remembered_for(&e);
                    e.to_string()
                });
                done.fetch.finish(outcome);
            });
        match started {
            Ok(_) => *running = Some(Arc::clone(&fetch)),
            Err(e) => fetch.finish(Err(format!("cannot start fetching a session: {e}"))),
        }
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

/// Ends a fetch however its thread ends (a panic included, where panics unwind): waiting
/// requests get an answer, a failure is remembered, and the slot is freed for the next fetch.
struct Done {
    provider: Arc<Provider>,
    fetch: Arc<Fetch>,
    /// How long a failure is remembered.
    remember: Duration,
}

impl Drop for Done {
    fn drop(&mut self) {
        if lock(&self.fetch.outcome).is_none() {
            self.fetch
                .finish(Err("fetching a session failed unexpectedly".into()));
        }
        if let Some(Err(why)) = lock(&self.fetch.outcome).as_ref() {
            *lock(&self.provider.failed) = Some((Instant::now() + self.remember, why.clone()));
        }
        let mut running = lock(&self.provider.fetch);
        if running
            .as_ref()
            .is_some_and(|f| Arc::ptr_eq(f, &self.fetch))
        {
            *running = None;
        }
    }
}
