//! The calls to AWS: STS `GetSessionToken` and `AssumeRole` (`sts`), IAM's list of MFA devices
//! (`iam`) and the clock skew STS reports (`skew`). Uses `profile` and below; only a cache miss gets here.

pub mod iam;
pub mod skew;
pub mod sts;
