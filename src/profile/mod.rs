//! The profile: its settings as the AWS files and environment give them (`config`, `serial`),
//! and edits of those files (`file_edit`, `file_replace`). Uses only `error`, `secret`, `clock`.

pub mod config;
pub mod file_edit;
pub mod file_replace;
pub mod serial;
