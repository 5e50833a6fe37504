//! mfa-env as a library: the modules the binary is made of, public so that fuzz targets and
//! benchmarks can reach the parsers and decoders directly. `main.rs` is the entry point.
//!
//! The folders are layers, and each uses only those below it:
//!
//! ```text
//! cli, commands          what the user asked for, and the commands that answer it
//! endpoint               the local credentials endpoint of `exec --server` and `serve`
//! credentials            a session: the cache, the lock, the long-term key, new sessions, roles
//! code                   where an MFA code comes from
//! profile                the profile's settings, and edits of the AWS files
//! aws                    partitions, where STS is, the STS and IAM calls
//! store, error, secret, clock, output, private_files
//!                        the keyring, typed errors, secret types, time, printing, private files
//! ```

pub mod aws;
pub mod cli;
pub mod clock;
pub mod code;
pub mod commands;
pub mod credentials;
pub mod endpoint;
pub mod error;
pub mod output;
pub mod private_files;
pub mod profile;
pub mod secret;
pub mod store;
