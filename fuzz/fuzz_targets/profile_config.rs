//! Arbitrary text as ~/.aws/config and ~/.aws/credentials: resolving a profile gives settings
//! or a one-line error, never a panic, and accepted settings respect every documented range.
#![no_main]

use aws_types::os_shim_internal::{Env, Fs};
use libfuzzer_sys::fuzz_target;
use mfa_env::config;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (config_text, credentials_text) = text.split_once('\u{0}').unwrap_or((&text, ""));
    let env = Env::from_slice(&[("HOME", "/h")]);
    let fs = Fs::from_slice(&[
        ("/h/.aws/config", config_text),
        ("/h/.aws/credentials", credentials_text),
    ]);
    for profile in ["dev", "default"] {
        match config::load_from(&env, &fs, profile) {
            Ok(s) => {
                assert!(s.serial.allowed_durations().contains(&s.duration_seconds));
                assert!(s.min_remaining_seconds < s.duration_seconds);
                assert!(!s.region.is_empty());
            }
            Err(e) => assert!(!e.to_string().contains('\n'), "multi-line error: {e}"),
        }
    }
});
