//! Arbitrary bytes as a cached keyring item: the serve/miss decision must never panic, and
//! must serve only sessions of this scope with more than the margin left.
#![no_main]

use std::sync::LazyLock;

use aws_types::os_shim_internal::{Env, Fs};
use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;
use mfa_env::credentials::cache;
use mfa_env::profile::config;

static SETTINGS: LazyLock<config::Settings> = LazyLock::new(|| {
    let env = Env::from_slice(&[("HOME", "/h")]);
    let fs = Fs::from_slice(&[(
        "/h/.aws/config",
        "[profile dev]\nmfa_serial = arn:aws:iam::123456789012:mfa/alice\nendpoint_url = http://127.0.0.1:1\n",
    )]);
    config::load_from(&env, &fs, "dev").expect("valid fixed config")
});

fuzz_target!(|data: &[u8]| {
    let now: DateTime<Utc> = DateTime::from_timestamp(1_900_000_000, 0).unwrap();
    if let Some(creds) = cache::servable_entry(data, &SETTINGS, now) {
        let left = creds.expiration - now;
        assert!(left.num_seconds() > i64::from(SETTINGS.min_remaining_seconds));
    }
});
