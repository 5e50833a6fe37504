//! The clap-free parse of the credential_process command line (`cli::fast`) must agree with
//! clap on everything it accepts, and decline everything else. Property-tested over command
//! lines built from real and near-miss tokens, and over the two environment variables that
//! clap reads (AWS_PROFILE, MFA_ENV_KEYRING).

use std::ffi::OsString;

use clap::Parser;
use mfa_env::cli::{Cli, fast};
use proptest::prelude::*;

const TOKENS: &[&str] = &[
    "-p",
    "--profile",
    "--profile=dev",
    "dev",
    "prod",
    "-f",
    "--format",
    "--format=fish",
    "process",
    "env",
    "powershell",
    "Process",
    "bogus",
    "--keyring",
    "--keyring=keyutils",
    "keyutils",
    "secret-service",
    "auto",
    "--token-code",
    "123456",
    "status",
    "exec",
    "--",
    "-x",
    "",
    "-pdev",
    "-p=dev",
    "--profile=",
    "--help",
    "-V",
    "--keyring=",
];
const ENV_VALUES: &[Option<&str>] = &[
    None,
    Some(""),
    Some("envprof"),
    Some("keyutils"),
    Some("bogus"),
];

fn summary(c: &Cli) -> (String, String, String, Option<String>, bool) {
    (
        c.global.profile().to_owned(),
        format!("{:?}", c.global.keyring),
        format!("{:?}", c.export.format),
        c.export.code.token_code.clone(),
        c.command.is_some(),
    )
}

fn set(name: &str, value: Option<&str>) {
    // SAFETY: this test binary has this one test, which runs on one thread.
    unsafe {
        match value {
            Some(v) => std::env::set_var(name, v),
            None => std::env::remove_var(name),
        }
    }
}

#[test]
fn fast_parse_agrees_with_clap() {
    let accepted = std::cell::Cell::new(0);
    let strategy = (
        proptest::collection::vec(proptest::sample::select(TOKENS), 0..7),
        proptest::sample::select(ENV_VALUES),
        proptest::sample::select(ENV_VALUES),
    );
    proptest!(ProptestConfig::with_cases(4000), |((tokens, profile_env, keyring_env) in strategy)| {
        set("AWS_PROFILE", profile_env);
        set("MFA_ENV_KEYRING", keyring_env);
        let args: Vec<OsString> = tokens.iter().map(OsString::from).collect();
        let fast = fast::parse(&args, |name| std::env::var_os(name));
        let clap = Cli::try_parse_from(std::iter::once(OsString::from("mfa-env")).chain(args.clone()));
        if let Some(fast) = fast {
            accepted.set(accepted.get() + 1);
            let clap = clap.unwrap_or_else(|e| panic!("fast accepted {tokens:?} that clap refuses: {e}"));
            prop_assert_eq!(summary(&fast), summary(&clap), "{:?}", tokens);
        }
    });
    assert!(
        accepted.get() > 100,
        "the property must exercise accepted lines: {}",
        accepted.get()
    );

    // The shapes profiles really use are all taken by the fast path.
    set("AWS_PROFILE", None);
    set("MFA_ENV_KEYRING", None);
    for line in [
        "--format process --profile dev",
        "-p dev -f process",
        "--profile=dev --format=process --keyring=keyutils",
        "",
    ] {
        let args: Vec<OsString> = line.split_whitespace().map(OsString::from).collect();
        assert!(
            fast::parse(&args, |n| std::env::var_os(n)).is_some(),
            "{line}"
        );
    }
}
