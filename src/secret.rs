//! Secret-bearing values. They zero their memory on drop and print as `[REDACTED]` in `Debug`,
//! so an error, log line or panic that formats one cannot leak it. Access key ids count as
//! secrets too: the SPEC keeps them out of every output that was not asked for.

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

use crate::error::{Error, Result};

/// An IAM user's long-term access key pair: what `GetSessionToken` is signed with.
#[derive(Debug)]
pub struct LongTermKey {
    pub access_key_id: SecretString,
    pub secret_access_key: SecretString,
}

/// A code of exactly six ASCII digits.
#[derive(Debug)]
pub struct TokenCode(SecretString);

impl TokenCode {
    pub fn parse(text: &str, what: &'static str) -> Result<Self> {
        let text = text.trim();
        if text.len() == 6 && text.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(text.into()))
        } else {
            Err(Error::BadCodeFormat { what })
        }
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

/// Temporary credentials from STS, as cached and printed.
#[derive(Debug, Clone)]
pub struct SessionCredentials {
    pub access_key_id: SecretString,
    pub secret_access_key: SecretString,
    pub session_token: SecretString,
    pub expiration: DateTime<Utc>,
}

/// Replaces every occurrence of a known secret in `text`. Used on messages that come from
/// outside (STS error messages), which we do not control.
pub fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut out = text.to_owned();
    for s in secrets.iter().filter(|s| s.len() >= 4) {
        out = out.replace(s, "[REDACTED]");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_six_digits() {
        assert_eq!(TokenCode::parse("123456", "x").unwrap().expose(), "123456");
        assert_eq!(
            TokenCode::parse(" 012345\n", "x").unwrap().expose(),
            "012345"
        );
        for bad in [
            "",
            "12345",
            "1234567",
            "12345a",
            "12 456",
            "１２３４５６",
            "-12345",
        ] {
            let e = TokenCode::parse(bad, "--token-code")
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("--token-code must be exactly 6 digits"),
                "{bad}: {e}"
            );
        }
    }

    #[test]
    fn debug_redacts_every_secret() {
        let creds = SessionCredentials {
            access_key_id: "ASIAEXAMPLEKEYID".into(),
            secret_access_key: "secret/with+chars".into(),
            session_token: "TOKENVALUE123".into(),
            expiration: DateTime::from_timestamp(1_900_000_000, 0).unwrap(),
        };
        let key = LongTermKey {
            access_key_id: "AKIAEXAMPLEKEYID".into(),
            secret_access_key: "longtermsecret".into(),
        };
        let shown = format!("{creds:?} {key:?}");
        for s in [
            "ASIAEXAMPLEKEYID",
            "secret/with+chars",
            "TOKENVALUE123",
            "AKIAEXAMPLEKEYID",
            "longtermsecret",
        ] {
            assert!(!shown.contains(s), "{s} leaked in {shown}");
        }
        assert!(shown.contains("2030"), "expiration is not secret: {shown}");
    }

    #[test]
    fn scrub_replaces_known_values_only() {
        assert_eq!(
            scrub("key AKIAXYZ1 denied for AKIAXYZ1", &["AKIAXYZ1", ""]),
            "key [REDACTED] denied for [REDACTED]"
        );
    }
}
