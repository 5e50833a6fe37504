//! IAM ARNs as mfa-env meets them (`mfa_serial`, `role_arn`): `arn:<partition>:iam::<account>:
//! <resource>`, where the partition is one the SDK knows. The account is what `AccountId` and
//! `AWS_ACCOUNT_ID` report.

use crate::aws::partition::{self, Partition};

/// The parts of a well-formed IAM ARN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IamArn<'a> {
    pub partition: &'static Partition,
    /// Twelve digits.
    pub account: &'a str,
    /// `mfa/<name>`, `role/<path/name>`, `user/<name>`, `root`.
    pub resource: &'a str,
}

/// `value` as an IAM ARN of a known partition with a 12-digit account, else `None`.
pub fn parse_iam(value: &str) -> Option<IamArn<'_>> {
    let mut parts = value.splitn(6, ':');
    let (Some("arn"), Some(partition), Some("iam"), Some(""), Some(account), Some(resource)) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let partition = partition::named(partition)?;
    (account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())).then_some(IamArn {
        partition,
        account,
        resource,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_partition_of_the_sdk_and_nothing_else() {
        let a = parse_iam("arn:aws-eusc:iam::123456789012:mfa/alice").unwrap();
        assert_eq!(
            (a.partition.id, a.account, a.resource),
            ("aws-eusc", "123456789012", "mfa/alice")
        );
        for id in [
            "aws",
            "aws-cn",
            "aws-us-gov",
            "aws-iso",
            "aws-iso-b",
            "aws-iso-e",
            "aws-iso-f",
        ] {
            assert!(
                parse_iam(&format!("arn:{id}:iam::123456789012:role/r")).is_some(),
                "{id}"
            );
        }
        for bad in [
            "arn:aws-xx:iam::123456789012:mfa/a",
            "arn:aws:sts::123456789012:mfa/a",
            "arn:aws:iam::12345678901:mfa/a",
            "arn:aws:iam:us-east-1:123456789012:mfa/a",
            "arn:aws:iam::123456789012",
        ] {
            assert!(parse_iam(bad).is_none(), "{bad}");
        }
    }
}
