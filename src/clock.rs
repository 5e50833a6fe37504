//! The one place that reads the wall clock. Everything else takes `now` as an argument, so that
//! expiry and margin decisions are plain functions of their inputs and tested to the second.
//!
//! Test builds only (debug assertions on): `MFA_ENV_TEST_NOW` (RFC 3339) sets the time, so the
//! upgrade tests can serve a previous release's captured session as at the moment it was
//! captured. A release build never reads it.

use chrono::{DateTime, Utc};

#[allow(clippy::disallowed_methods)]
pub fn now() -> DateTime<Utc> {
    #[cfg(debug_assertions)]
    if let Some(t) = std::env::var("MFA_ENV_TEST_NOW")
        .ok()
        .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
    {
        return t.with_timezone(&Utc);
    }
    Utc::now()
}
