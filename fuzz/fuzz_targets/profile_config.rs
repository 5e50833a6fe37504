//! Arbitrary text as ~/.aws/config and ~/.aws/credentials: resolving a profile gives settings
//! (an MFA profile, or a role chain down to one) or a one-line error, never a panic, and accepted settings respect every documented range.
#![no_main]

use aws_types::os_shim_internal::{Env, Fs};
use libfuzzer_sys::fuzz_target;
use mfa_env::profile::config;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (config_text, credentials_text) = text.split_once('\u{0}').unwrap_or((&text, ""));
    let env = Env::from_slice(&[("HOME", "/h")]);
    let fs = Fs::from_slice(&[
        ("/h/.aws/config", config_text),
        ("/h/.aws/credentials", credentials_text),
    ]);
    for profile in ["dev", "default"] {
        match config::load_target_from(&env, &fs, profile) {
            Ok(target) => {
                let s = target.mfa();
                assert!(s.serial.allowed_durations().contains(&s.duration_seconds));
                assert!(s.min_remaining_seconds < s.duration_seconds);
                assert!(!s.sts.region.is_empty());
                if let config::Target::Role(chain) = &target {
                    for (i, hop) in chain.hops.iter().enumerate() {
                        let max = if i == 0 { 43200 } else { 3600 };
                        assert!((900..=max).contains(&hop.duration_seconds));
                        assert!(hop.min_remaining_seconds < hop.duration_seconds);
                    }
                }
            }
            Err(e) => assert!(!e.to_string().contains('\n'), "multi-line error: {e}"),
        }
    }
});
