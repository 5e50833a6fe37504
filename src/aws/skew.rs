//! Clock skew between this machine and STS. TOTP codes and SigV4 signatures both depend on the
//! clock, and a wrong clock shows up as "invalid MFA code" or a signature error that says nothing
//! about time. An interceptor reads the `Date` header of the STS answer; a difference of more than
//! five minutes is reported: a warning when the call worked, the explanation when it did not.

use std::sync::{Arc, Mutex};

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeDeserializationInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use chrono::{DateTime, Utc};

use crate::clock;

/// More than this is worth saying: SigV4 allows 5 minutes, TOTP far less.
pub const REPORTED_SECONDS: i64 = 300;

/// Records, for the last answer, how far the server's clock is from ours (server minus local).
#[derive(Debug, Clone, Default)]
pub struct ServerClock(Arc<Mutex<Option<i64>>>);

impl ServerClock {
    /// Seconds by which this machine's clock is ahead of STS's, when that is worth reporting.
    pub fn reportable_skew(&self) -> Option<i64> {
        let server_minus_local = (*self.0.lock().ok()?)?;
        (server_minus_local.abs() > REPORTED_SECONDS).then_some(-server_minus_local)
    }

    /// Seconds by which this machine's clock is ahead of STS's, if an answer carried a `Date`.
    pub fn local_ahead(&self) -> Option<i64> {
        (*self.0.lock().ok()?).map(|server_minus_local| -server_minus_local)
    }

    fn record(&self, server: DateTime<Utc>, local: DateTime<Utc>) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some((server - local).num_seconds());
        }
    }
}

impl Intercept for ServerClock {
    fn name(&self) -> &'static str {
        "ServerClock"
    }

    fn read_before_deserialization(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(date) = context.response().headers().get("date")
            && let Ok(server) = DateTime::parse_from_rfc2822(date)
        {
            self.record(server.with_timezone(&Utc), clock::now());
        }
        Ok(())
    }
}

/// "7200 s ahead of" / "45 s behind": how a person reads a skew.
pub fn describe(local_ahead_seconds: i64) -> String {
    if local_ahead_seconds >= 0 {
        format!("{local_ahead_seconds} s ahead of")
    } else {
        format!("{} s behind", -local_ahead_seconds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_more_than_five_minutes_is_reported() {
        let at = |s: i64| DateTime::from_timestamp(1_900_000_000 + s, 0).unwrap();
        let c = ServerClock::default();
        assert_eq!(c.reportable_skew(), None);
        assert_eq!(c.local_ahead(), None);
        c.record(at(0), at(300));
        assert_eq!(c.reportable_skew(), None);
        assert_eq!(c.local_ahead(), Some(300));
        c.record(at(0), at(7200));
        assert_eq!(c.reportable_skew(), Some(7200), "local is two hours ahead");
        c.record(at(400), at(0));
        assert_eq!(c.reportable_skew(), Some(-400));
        assert_eq!(describe(7200), "7200 s ahead of");
        assert_eq!(describe(-400), "400 s behind");
    }
}
