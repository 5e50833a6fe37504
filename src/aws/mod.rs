//! Reaching AWS: the partitions the SDK knows (`partition`), IAM ARNs (`arn`), where STS is
//! called for a profile (`target`), the STS and IAM calls (`sts`, `iam`), the console's
//! federation endpoint (`console`) and the clock skew STS reports (`skew`). Uses only the bottom layer: the profile layer reads settings into these
//! types, and only a cache miss makes a call.

pub mod arn;
pub mod console;
pub mod iam;
pub mod partition;
pub mod skew;
pub mod sts;
pub mod target;
