//! STS faults and code handling, against a local stand-in that answers what moto's server
//! cannot: a rejected code, 5xx, throttling, silence.

mod common;

use std::time::{Duration, Instant};

use common::pty::Typist;
use common::*;

const WRONG: &str = "000000";

fn bed(name: &str, standin: &StandIn) -> Bed {
    Bed::new(Keyring::Keyutils, name, &standin.url)
}

#[test]
fn a_rejected_code_is_asked_again_at_the_terminal() {
    let _k = shared();
    let dir = tempfile::tempdir().unwrap();
    let sts = StandIn::start(dir.path());
    let bed = bed("reask", &sts);
    let mut t = Typist::spawn(&bed, &["--format", "process"]);
    t.wait_for("MFA code for profile", 1);
    t.type_line(WRONG);
    t.wait_for("STS rejected that code. Try again with the current one.", 1);
    t.wait_for("MFA code for profile", 2);
    t.type_line(CODE);
    let (out, _) = t.finish();
    out.ok();
    assert!(
        out.json()["SessionToken"]
            .as_str()
            .unwrap()
            .starts_with("StandinSessionToken")
    );
    assert_eq!(sts.requests(), [WRONG, CODE]);
}

#[test]
fn three_rejected_codes_end_with_the_sts_error() {
    let _k = shared();
    let dir = tempfile::tempdir().unwrap();
    let sts = StandIn::start(dir.path());
    let bed = bed("reject3", &sts);
    let mut t = Typist::spawn(&bed, &["--format", "process"]);
    for attempt in 1..=3 {
        t.wait_for("MFA code for profile", attempt);
        t.type_line(WRONG);
    }
    let (out, _) = t.finish();
    out.fails_with(
        "AccessDenied: MultiFactorAuthentication failed with invalid MFA one time pass code.",
    );
    assert!(out.stderr.contains("check the code"), "{}", out.stderr);
    assert_eq!(sts.requests().len(), 3, "at most three attempts in all");
}

#[test]
fn a_scripts_rejected_code_fails_at_once() {
    let _k = shared();
    let dir = tempfile::tempdir().unwrap();
    let sts = StandIn::start(dir.path());
    let bed = bed("rejectonce", &sts);
    let out = bed.run(&["--token-code", WRONG], None);
    out.fails_with(&format!(
        "STS GetSessionToken at {} refused: AccessDenied",
        sts.url
    ));
    assert_eq!(sts.requests(), [WRONG]);
}

#[test]
fn a_just_used_code_is_not_sent_again() {
    let _k = shared();
    let dir = tempfile::tempdir().unwrap();
    let sts = StandIn::start(dir.path());
    let bed = bed("reuse", &sts);
    bed.run(&["--token-code", CODE], None).ok();
    bed.run(&["clear"], None).ok();
    bed.run(&["--token-code", CODE], None).fails_with(&format!(
        "this MFA code was already accepted for {} moments ago",
        bed.serial
    ));
    assert_eq!(sts.requests(), [CODE], "the reused code never reached STS");

    // At a terminal, the person is told to wait and asked again.
    let mut t = Typist::spawn(&bed, &["--format", "process"]);
    t.wait_for("MFA code for profile", 1);
    t.type_line(CODE);
    t.wait_for("wait for the next code", 1);
    t.wait_for("MFA code for profile", 2);
    t.type_line("135791");
    let (out, _) = t.finish();
    out.ok();
    assert_eq!(sts.requests(), [CODE, "135791"]);
}

/// A code is sent to STS once: after a 5xx or a timed-out attempt STS may already have issued
/// a session for it, and a second copy would be refused as a reused code. Only a throttling
/// answer (nothing issued) is tried again, a bounded number of times.
#[test]
fn a_code_reaches_sts_once_unless_sts_issued_nothing() {
    let _k = shared();
    let dir = tempfile::tempdir().unwrap();
    let sts = StandIn::start(dir.path());
    let bed = bed("retry", &sts);
    bed.run(&["--token-code", "500500"], None)
        .fails_with("InternalFailure: internal failure; STS failed on its side");
    assert_eq!(
        sts.requests(),
        ["500500"],
        "a 5xx is not retried with the code"
    );
    bed.run(&["--token-code", "429429"], None)
        .fails_with("Throttling: Rate exceeded; STS is throttling requests");
    assert_eq!(
        sts.requests().len(),
        1 + 3,
        "throttling: 3 attempts: {:?}",
        sts.requests()
    );

    // An answer that comes after the attempt timed out: the code was sent once.
    let slow = Bed::new(Keyring::Keyutils, "retry-slow", &sts.url);
    slow.append_config("mfa_env_sts_timeout_seconds = 1\n");
    let started = Instant::now();
    slow.run(&["--token-code", "666000"], None)
        .fails_with("could not reach STS");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    std::thread::sleep(Duration::from_millis(3500));
    let sent: Vec<String> = sts
        .requests()
        .into_iter()
        .filter(|c| c == "666000")
        .collect();
    assert_eq!(sent, ["666000"], "the timed-out request was not sent again");
}

#[test]
fn a_silent_endpoint_fails_within_the_configured_time() {
    let _k = shared();
    let dir = tempfile::tempdir().unwrap();
    let sts = StandIn::start(dir.path());
    let bed = bed("silent", &sts);
    bed.append_config("mfa_env_sts_timeout_seconds = 1\n");
    let started = Instant::now();
    let out = bed.run(&["--token-code", "777777"], None);
    let took = started.elapsed();
    out.fails_with(&format!("could not reach STS at {}", sts.url));
    assert!(
        out.stderr.contains("mfa_env_sts_timeout_seconds = 1"),
        "{}",
        out.stderr
    );
    assert!(took < Duration::from_secs(5), "took {took:?}");
}

#[test]
fn clock_skew_is_named_as_the_cause() {
    let _k = shared();
    let dir = tempfile::tempdir().unwrap();
    let sts = StandIn::start(dir.path());
    let bed = bed("skew", &sts);
    // A rejected code from a machine two hours ahead: the clock is the likely cause.
    bed.run(&["--token-code", "999999"], None).fails_with(
        "refused: AccessDenied, and this machine's clock is 7200 s ahead of STS's; TOTP codes and request signatures depend on the clock",
    );
    // A session that worked still comes with a warning.
    let out = bed.run(&["--format", "process", "--token-code", "888888"], None);
    out.ok();
    assert_eq!(out.json()["Version"], 1);
    assert!(
        out.stderr
            .contains("warning: this machine's clock is 7200 s ahead of STS's"),
        "{}",
        out.stderr
    );
}

/// A connection that could not be made carried nothing to STS: it is tried again (3 attempts).
#[test]
fn a_refused_connection_is_tried_again() {
    let _k = shared();
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let bed = Bed::new(
        Keyring::Keyutils,
        "refused",
        &format!("http://127.0.0.1:{port}"),
    );
    let trace = dir.path().join("trace");
    let mut cmd = std::process::Command::new(system_bin("strace"));
    cmd.args(["-f", "-e", "trace=connect", "-o"])
        .arg(&trace)
        .args([BIN, "--token-code", "135790", "--profile", &bed.profile]);
    bed.run_cmd(cmd, None).fails_with("could not reach STS");
    let trace = std::fs::read_to_string(trace).unwrap();
    let tries = trace
        .lines()
        .filter(|l| l.contains(&format!("sin_port=htons({port})")))
        .count();
    assert_eq!(tries, 3, "{trace}");
}

/// Lock files below a directory another user controls (a HOME under a shared directory) are
/// refused with one clear line, before a code is spent, and nothing is created through a link
/// planted there.
#[test]
fn a_lock_directory_below_another_users_is_refused() {
    let _k = shared();
    let dir = tempfile::tempdir().unwrap();
    let sts = StandIn::start(dir.path());
    let mut bed = bed("foreign", &sts);
    let foreign = std::path::Path::new("/var/tmp/mfa-env-test-foreign/home");
    assert!(
        foreign.is_dir(),
        "{} is missing: run scripts/setup-test-env (scripts/test does)",
        foreign.display()
    );
    // This user's files in it, as if made before someone else got hold of the directory.
    let home = foreign.join(unique("home"));
    let locks = mfa_env::credentials::lock::dir_in(&home);
    std::fs::create_dir_all(&locks).unwrap();
    let lock = locks.join(format!(
        "{}.lock",
        mfa_env::private_files::file_name(&format!("session-{}-{}", bed.profile, bed.serial))
    ));
    let victim = dir.path().join("victim");
    std::os::unix::fs::symlink(&victim, &lock).unwrap();
    bed.set_env("HOME", home.to_str().unwrap());
    let out = bed.run(&["--format", "process", "--token-code", "135793"], None);
    let _ = std::fs::remove_dir_all(&home);
    out.fails_with("refusing to keep private files there:");
    assert!(
        out.stderr
            .contains(&format!("{} above it", foreign.display())),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("or set HOME to your own home directory"),
        "{}",
        out.stderr
    );
    assert!(!victim.exists(), "nothing was created through the link");
    assert!(
        sts.requests().is_empty(),
        "refused before the code was spent"
    );
}
