//! The one place that reads the wall clock. Everything else takes `now` as an argument, so that
//! expiry and margin decisions are plain functions of their inputs and tested to the second.

use chrono::{DateTime, Utc};

#[allow(clippy::disallowed_methods)]
pub fn now() -> DateTime<Utc> {
    Utc::now()
}
