//! `mfa-env status`: the cached sessions, as a table or JSON on stdout; never a secret.

use chrono::{DateTime, Utc};

use crate::cli::Global;
use crate::credentials::cache;
use crate::error::Result;
use crate::profile::config;
use crate::{clock, output};

/// `mfa-env status`: one line (or JSON object) per cached session.
pub fn run(global: &Global, json: bool) -> Result<()> {
    let store = super::open_store(global)?;
    let now = clock::now();
    let rows: Vec<_> = cache::list(&store, global.profile.as_deref())?
        .into_iter()
        .map(|l| Row::new(l, now, store.name()))
        .collect();
    let text = if json {
        super::pretty_json(&rows)
    } else if rows.is_empty() {
        String::from("no cached sessions\n")
    } else {
        table(&rows)
    };
    crate::output::write(&text)
}

#[derive(serde::Serialize)]
struct Row {
    profile: String,
    /// For a role session: the role, and the mfa-env profile whose MFA session assumed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    role_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    via: Option<String>,
    serial: String,
    /// The partition (or explicit endpoint) the session is valid for.
    scope: String,
    store: &'static str,
    key_source: String,
    expiration: String,
    seconds_left: i64,
    served: bool,
}

impl Row {
    fn new(l: cache::Listed, now: DateTime<Utc>, store: &'static str) -> Self {
        let (profile, role_arn, via) = match l.role {
            Some((role, arn)) => (role, Some(arn), Some(l.scope.profile)),
            None => (l.scope.profile, None, None),
        };
        let margin = match config::load_target(&profile) {
            Ok(config::Target::Mfa(s)) => s.min_remaining_seconds,
            Ok(config::Target::Role(c)) => c.role().min_remaining_seconds,
            Err(_) => config::DEFAULT_MIN_REMAINING_SECONDS,
        };
        Row {
            served: cache::servable(l.expiration, now, margin),
            seconds_left: (l.expiration - now).num_seconds().max(0),
            expiration: output::rfc3339(l.expiration),
            key_source: l.scope.key_source.describe(),
            profile,
            role_arn,
            via,
            serial: l.scope.serial,
            scope: l.scope.sts_scope,
            store,
        }
    }
}

fn table(rows: &[Row]) -> String {
    let mut out = format!(
        "{:<16} {:<48} {:<21} {:>9}  {}\n",
        "PROFILE", "MFA SERIAL (OR ROLE)", "EXPIRES", "LEFT", "SERVED"
    );
    for r in rows {
        let left = format!(
            "{}h{:02}m",
            r.seconds_left / 3600,
            (r.seconds_left % 3600) / 60
        );
        out.push_str(&format!(
            "{:<16} {:<48} {:<21} {:>9}  {}\n",
            r.profile,
            r.role_arn.as_ref().unwrap_or(&r.serial),
            r.expiration,
            left,
            if r.served {
                "yes"
            } else {
                "no (renewed on next use)"
            }
        ));
    }
    out
}
