//! The MFA device identifier (`mfa_serial`) and the session-length rules that depend on it.
//! Checked before any network call: STS would refuse a malformed serial anyway, but only after
//! the user has spent a code on it.

use std::fmt;

use crate::aws::arn;
use crate::aws::partition::Partition;
pub use crate::error::BadSerial;

/// A validated `mfa_serial`: a virtual/U2F device ARN or a hardware token serial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaSerial(String);

/// Session lengths STS accepts for `GetSessionToken`.
pub const IAM_USER_DURATION: std::ops::RangeInclusive<u32> = 900..=129_600;
pub const ROOT_DURATION: std::ops::RangeInclusive<u32> = 900..=3_600;
pub const IAM_USER_DEFAULT_DURATION: u32 = 43_200;
pub const ROOT_DEFAULT_DURATION: u32 = 3_600;

impl MfaSerial {
    pub fn parse(value: &str) -> Result<Self, BadSerial> {
        let ok = if value.starts_with("arn:") {
            is_mfa_arn(value)
        } else {
            // STS's SerialNumber: [\w+=/:,.@-]{9,256}
            (9..=256).contains(&value.len())
                && value
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_+=/:,.@-".contains(c))
        };
        if ok {
            Ok(Self(value.to_owned()))
        } else {
            Err(BadSerial)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The partition of a device ARN; a hardware serial does not say.
    pub fn partition(&self) -> Option<&'static Partition> {
        arn::parse_iam(&self.0).map(|a| a.partition)
    }

    /// The account of a device ARN; a hardware serial does not say.
    pub fn account(&self) -> Option<&str> {
        arn::parse_iam(&self.0).map(|a| a.account)
    }

    /// The root user's virtual MFA device is named `root-account-mfa-device`; its sessions are
    /// limited to one hour. A hardware serial cannot tell, so it gets the IAM user's range and STS
    /// has the last word.
    pub fn is_root(&self) -> bool {
        self.0.starts_with("arn:") && self.0.ends_with(":mfa/root-account-mfa-device")
    }

    pub fn allowed_durations(&self) -> std::ops::RangeInclusive<u32> {
        if self.is_root() {
            ROOT_DURATION
        } else {
            IAM_USER_DURATION
        }
    }

    pub fn default_duration(&self) -> u32 {
        if self.is_root() {
            ROOT_DEFAULT_DURATION
        } else {
            IAM_USER_DEFAULT_DURATION
        }
    }
}

impl fmt::Display for MfaSerial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `arn:<partition>:iam::<12 digits>:mfa/<path/><name>` with IAM's name characters, in a
/// partition the SDK knows.
fn is_mfa_arn(value: &str) -> bool {
    let Some(name) = arn::parse_iam(value).and_then(|a| a.resource.strip_prefix("mfa/")) else {
        return false;
    };
    !name.is_empty()
        && !name.starts_with('/')
        && !name.ends_with('/')
        && name.len() <= 512
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_+=,.@-/".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_device_arns_and_hardware_serials() {
        for ok in [
            "arn:aws:iam::123456789012:mfa/alice",
            "arn:aws-cn:iam::123456789012:mfa/alice.smith@corp",
            "arn:aws-us-gov:iam::123456789012:mfa/team/alice",
            "arn:aws:iam::123456789012:mfa/root-account-mfa-device",
            "arn:aws-eusc:iam::123456789012:mfa/alice",
            "arn:aws-iso-f:iam::123456789012:mfa/alice",
            "GAHT12345678",
        ] {
            assert!(MfaSerial::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_malformed_serials() {
        for bad in [
            "",
            "123456",
            "arn:aws:iam::12345678901:mfa/alice",
            "arn:aws:iam::123456789012:user/alice",
            "arn:aws:sts::123456789012:mfa/alice",
            "arn:aws-xx:iam::123456789012:mfa/alice",
            "arn:aws:iam::123456789012:mfa/",
            "arn:aws:iam::123456789012:mfa/ali ce",
            "has spaces in it",
            "semicolon;rm -rf",
        ] {
            assert_eq!(MfaSerial::parse(bad), Err(BadSerial), "{bad}");
        }
    }

    #[test]
    fn root_device_limits_the_session_to_an_hour() {
        let root =
            MfaSerial::parse("arn:aws:iam::123456789012:mfa/root-account-mfa-device").unwrap();
        let user = MfaSerial::parse("arn:aws:iam::123456789012:mfa/alice").unwrap();
        assert_eq!(
            (root.default_duration(), *root.allowed_durations().end()),
            (3600, 3600)
        );
        assert_eq!(
            (user.default_duration(), *user.allowed_durations().end()),
            (43200, 129600)
        );
    }
}
