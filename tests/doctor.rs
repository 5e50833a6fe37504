//! `mfa-env doctor --policy`: the two policies of the reference write-ups (extracted verbatim
//! into tests/fixtures/policies/) and the mistakes around them, through the built binary.

mod common;

use std::process::Command;

use common::*;

fn doctor(args: &[&str]) -> Out {
    let mut cmd = Command::new(BIN);
    cmd.arg("doctor").args(args);
    let out = cmd.output().unwrap();
    Out {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn fixture(name: &str) -> String {
    repo()
        .join("tests/fixtures/policies")
        .join(name)
        .display()
        .to_string()
}

#[test]
fn the_weakened_policy_of_write_up_002_is_a_problem() {
    let out = doctor(&["--policy", &fixture("002-weakened-statement.json")]);
    out.ok();
    assert!(
        out.stdout
            .starts_with("PROBLEM  DenyAllExceptListedIfNoMFA: ")
            && out.stdout.contains("Bool instead of BoolIfExists")
            && out
                .stdout
                .contains("any leaked access key works without MFA"),
        "{}",
        out.stdout
    );
    assert_eq!(out.stdout.lines().count(), 1, "{}", out.stdout);
}

#[test]
fn the_self_manage_policy_of_write_up_003_is_the_secure_form() {
    let out = doctor(&["--policy", &fixture("003-mfa-self-manage.json"), "--json"]);
    out.ok();
    let findings = out.json();
    let findings = findings.as_array().unwrap();
    assert_eq!(findings.len(), 1, "only the Deny statement tests MFA");
    assert_eq!(findings[0]["statement"], "DenyAllExceptListedIfNoMFA");
    assert_eq!(findings[0]["level"], "ok");
}

#[test]
fn a_deny_that_blocks_get_session_token_is_a_problem() {
    let dir = tempfile::tempdir().unwrap();
    let policy = std::fs::read_to_string(fixture("003-mfa-self-manage.json"))
        .unwrap()
        .replace("\"sts:GetSessionToken\"", "\"iam:GetUser\"");
    let path = dir.path().join("p.json");
    std::fs::write(&path, policy).unwrap();
    let out = doctor(&["--policy", path.to_str().unwrap()]);
    out.ok();
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("PROBLEM") && l.contains("sts:GetSessionToken")),
        "{}",
        out.stdout
    );
}

#[test]
fn unreadable_and_invalid_policies_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    doctor(&["--policy", "/nonexistent/policy.json"])
        .fails_with("cannot read /nonexistent/policy.json");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{ \"Statement\": [ ").unwrap();
    doctor(&["--policy", bad.to_str().unwrap()]).fails_with("not JSON");
    std::fs::write(&bad, "[1, 2]").unwrap();
    doctor(&["--policy", bad.to_str().unwrap()]).fails_with("no Statement found");
    let out = doctor(&[]);
    assert_eq!(out.code, Some(2), "--policy is required: {}", out.stderr);
}
