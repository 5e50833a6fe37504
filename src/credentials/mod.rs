//! A usable session for a profile: the cache, the per-profile lock, the long-term key, a new MFA
//! session on a miss (`session`) and roles on top of it (`role`). Uses `aws`, `code`, `profile` and below.

pub mod cache;
pub mod lock;
pub mod longterm;
pub mod role;
pub mod session;
pub mod used_code;
