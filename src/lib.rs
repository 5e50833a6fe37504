//! mfa-env as a library: the modules the binary is made of, public so that fuzz targets and
//! benchmarks can reach the parsers and decoders directly. `main.rs` is the entry point.

pub mod cache;
pub mod cli;
pub mod clock;
pub mod code;
pub mod commands;
pub mod config;
pub mod desktop;
pub mod doctor;
pub mod error;
pub mod exec;
pub mod file_replace;
pub mod iam;
pub mod lock;
pub mod longterm;
pub mod mfa_process;
pub mod output;
pub mod policy;
pub mod private_files;
pub mod profile_file;
pub mod role;
pub mod secret;
pub mod serial;
pub mod session;
pub mod setup;
pub mod skew;
pub mod store;
pub mod sts;
pub mod subprocess;
pub mod tty;
pub mod used_code;
