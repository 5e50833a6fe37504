//! The last MFA code STS accepted, per device. STS refuses a code it has already accepted, and
//! TOTP apps show the same code for 30 s, so a second quick login would spend a round trip and
//! read as "invalid code". Remembering the code and its 30-second time step lets mfa-env say
//! "wait for the next code" instead. Kept in the keyring, like every other secret.

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::profile::serial::MfaSerial;
use crate::secret::TokenCode;
use crate::store::Store;

/// TOTP time step.
const STEP_SECONDS: i64 = 30;
/// STS accepts a code for about a minute and a half around its step; within that, an equal code
/// is the same code.
const REUSE_STEPS: i64 = 3;

/// The record's format; one without `v` (before 0.2.0) is format 1.
const FORMAT_VERSION: u32 = 1;

fn item_name(serial: &MfaSerial) -> String {
    format!("last-code serial={serial}")
}

#[derive(Deserialize)]
struct Stored {
    #[serde(default = "format_1")]
    v: u32,
    code: SecretString,
    step: i64,
}

fn format_1() -> u32 {
    1
}

#[derive(Serialize)]
struct StoredRef<'a> {
    v: u32,
    code: &'a str,
    step: i64,
}

/// How long until an authenticator shows its next code (the next time step starts), with a
/// second to spare for a generator whose clock is a little behind ours.
pub fn until_next_code(now: DateTime<Utc>) -> std::time::Duration {
    let into_step = now.timestamp().rem_euclid(STEP_SECONDS);
    std::time::Duration::from_secs((STEP_SECONDS - into_step + 1) as u64)
}

fn step(t: DateTime<Utc>) -> i64 {
    t.timestamp().div_euclid(STEP_SECONDS)
}

/// True when `code` is the one STS accepted for this device moments ago. An unreadable record
/// counts as none: at worst STS refuses the code itself.
pub fn was_just_used(
    store: &Store,
    serial: &MfaSerial,
    code: &TokenCode,
    now: DateTime<Utc>,
) -> bool {
    let Ok(Some(bytes)) = store.get(&item_name(serial)) else {
        return false;
    };
    serde_json::from_slice::<Stored>(&bytes).is_ok_and(|s| {
        s.v == FORMAT_VERSION
            && s.code.expose_secret() == code.expose()
            && (step(now) - s.step).abs() < REUSE_STEPS
    })
}

/// Records an accepted code. Best effort: failing to remember costs only a clearer message later.
pub fn remember(store: &Store, serial: &MfaSerial, code: &TokenCode, now: DateTime<Utc>) {
    let json = zeroize::Zeroizing::new(
        serde_json::to_vec(&StoredRef {
            v: FORMAT_VERSION,
            code: code.expose(),
            step: step(now),
        })
        .expect("serializing a string cannot fail"),
    );
    let worthless_after = now + chrono::TimeDelta::seconds(STEP_SECONDS * REUSE_STEPS);
    let _ = store.set(&item_name(serial), &json, Some(worthless_after));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_record_carries_its_format() {
        let written = serde_json::to_string(&StoredRef {
            v: FORMAT_VERSION,
            code: "123456",
            step: 7,
        })
        .unwrap();
        assert_eq!(written, r#"{"v":1,"code":"123456","step":7}"#);
        // 0.1.0 wrote no `v`: the same format.
        let old: Stored = serde_json::from_str(r#"{"code":"123456","step":7}"#).unwrap();
        assert_eq!(old.v, FORMAT_VERSION);
    }

    #[test]
    fn steps_are_thirty_seconds() {
        let t = |s| DateTime::from_timestamp(s, 0).unwrap();
        assert_eq!(step(t(0)), 0);
        assert_eq!(step(t(29)), 0);
        assert_eq!(step(t(30)), 1);
        assert_eq!(step(t(-1)), -1);
    }

    #[test]
    fn next_code_is_at_the_next_step_plus_a_second() {
        let t = |s| DateTime::from_timestamp(s, 0).unwrap();
        assert_eq!(until_next_code(t(60)).as_secs(), 31);
        assert_eq!(until_next_code(t(89)).as_secs(), 2);
        assert_eq!(step(t(89) + chrono::Duration::seconds(2)), step(t(89)) + 1);
    }
}
