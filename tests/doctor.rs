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
}

/// The checks of a working setup, on both keyrings: all ok, no secret in the output.
#[test]
fn doctor_on_a_working_profile() {
    let _k = shared();
    for keyring in [Keyring::SecretService, Keyring::Keyutils] {
        let dir = tempfile::tempdir().unwrap();
        let moto = Moto::start(dir.path());
        let bed = Bed::new(keyring, "doctor", &moto.url);
        bed.append_config(&format!(
            "credential_process = mfa-env --format process --profile {}\n",
            bed.profile
        ));
        let session = bed.warm().json();
        let out = bed.run(&["doctor"], None);
        out.ok();
        for line in [
            "ok       config: ",
            "ok       credential_process: ",
            "ok       profile: mfa_serial ",
            "ok       STS endpoint: ",
            "ok       keyring: ",
            "ok       long-term key: a long-term key, static keys of profile",
            "ok       cached session: 11h5",
            "ok       clock: within ",
        ] {
            assert!(
                out.stdout.lines().any(|l| l.starts_with(line)),
                "no {line:?} in:\n{}",
                out.stdout
            );
        }
        assert!(!out.stdout.contains("PROBLEM"), "{}", out.stdout);
        let secrets: Vec<&str> = ["AccessKeyId", "SecretAccessKey", "SessionToken"]
            .iter()
            .map(|k| session[*k].as_str().unwrap())
            .chain([LT_KEY_ID, LT_SECRET])
            .collect();
        assert_no_secret(&out.stdout, &secrets, "doctor's output");
        let json = bed.run(&["doctor", "--json"], None);
        assert!(
            json.json()
                .as_array()
                .unwrap()
                .iter()
                .all(|c| c["level"] != "problem")
        );
    }
}

/// Each thing that would make the SDKs skip mfa-env is named, with its fix.
#[test]
fn doctor_names_what_wins_over_credential_process() {
    let mut bed = Bed::new(Keyring::Keyutils, "doctor-bad", "http://127.0.0.1:9");
    bed.write_config(&format!(
        "mfa_serial = not-a-serial!\naws_access_key_id = AKIASTATICINPROFILE1\nrole_arn = arn:aws:iam::123456789012:role/X\nmfa_env_source_profile = {}-base\n",
        bed.profile
    ));
    bed.set_env("AWS_ACCESS_KEY_ID", "AKIAFROMENVIRONMENT1");
    let out = bed.run(&["doctor"], None);
    out.ok();
    for (check, fix) in [
        ("credential_process", "add `credential_process = mfa-env"),
        ("static keys", "delete them from the file"),
        ("role_arn", "`source_profile ="),
        ("environment", "unset AWS_ACCESS_KEY_ID"),
        ("profile", "mfa_serial = \"not-a-serial!\""),
    ] {
        assert!(
            out.stdout
                .lines()
                .any(|l| l.contains(&format!(" {check}: ")) && l.contains(fix)),
            "no {check} line with {fix:?}:\n{}",
            out.stdout
        );
    }
    let mut cmd = Command::new(BIN);
    cmd.args(["doctor", "-p", "nonexistent-profile"]);
    let out = bed.run_cmd(cmd, None);
    assert!(
        out.stdout
            .contains("PROBLEM  config: profile 'nonexistent-profile' not found")
    );
}

/// A role profile: doctor names the chain, then checks the mfa-env profile under it; the role's
/// own `role_arn` is no problem there (it has no credential_process to lose to).
#[test]
fn doctor_on_a_role_profile_follows_it_to_the_mfa_profile() {
    let _k = shared();
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start(dir.path());
    let bed = Bed::new(Keyring::Keyutils, "doctor-role", &moto.url);
    let p = &bed.profile;
    bed.append_config(&format!(
        "[profile {p}-admin]\nrole_arn = arn:aws:iam::123456789012:role/Admin\nsource_profile = {p}\n"
    ));
    bed.warm();
    let mut cmd = Command::new(BIN);
    cmd.args(["doctor", "--offline", "-p", &format!("{p}-admin")]);
    let out = bed.run_cmd(cmd, None);
    out.ok();
    let expected = format!(
        "ok       role: assumes '{p}-admin' (arn:aws:iam::123456789012:role/Admin) with the MFA session of '{p}'"
    );
    assert!(out.stdout.contains(&expected), "{}", out.stdout);
    assert!(
        out.stdout.contains("ok       cached session: 11h5"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("note     clock: not compared with STS (--offline)"),
        "{}",
        out.stdout
    );
    assert!(!out.stdout.contains("PROBLEM"), "{}", out.stdout);
}

/// The clock check: two hours ahead is a problem with the fix; a minute is a note; an endpoint
/// that does not answer is a note, not a failure; `--offline` makes no connection.
#[test]
fn doctor_compares_the_clock_with_sts() {
    let _k = shared();
    let dir = tempfile::tempdir().unwrap();
    for (skew, expected) in [
        (
            -7200,
            "PROBLEM  clock: 7200 s ahead of STS's: MFA codes and request signatures are refused; set the clock right (NTP)",
        ),
        (3600, "PROBLEM  clock: 3600 s behind STS's"),
        (
            90,
            "note     clock: 90 s behind STS's: MFA codes may be refused",
        ),
    ] {
        let standin = StandIn::start_skewed(dir.path(), skew);
        let bed = Bed::new(Keyring::Keyutils, "doctor-clock", &standin.url);
        let out = bed.run(&["doctor"], None);
        out.ok();
        let line = out
            .stdout
            .lines()
            .find(|l| l.contains(" clock: "))
            .unwrap_or_else(|| panic!("no clock line:\n{}", out.stdout));
        // The Date header has whole seconds: allow one either way.
        let close = [skew - 1, skew, skew + 1].iter().any(|s| {
            let shown = expected.replace(&skew.abs().to_string(), &s.abs().to_string());
            line.starts_with(&shown)
        });
        assert!(close, "{line}\nexpected {expected}");
        assert_eq!(
            standin.requests(),
            ["GetCallerIdentity"],
            "one call, no long-term key needed"
        );
        assert_no_secret(&out.stdout, &[LT_KEY_ID, LT_SECRET], "doctor");
    }

    let trip = Tripwire::new();
    let bed = Bed::new(Keyring::Keyutils, "doctor-clock", &trip.url);
    let out = bed.run(&["doctor"], None);
    out.ok();
    assert!(
        out.stdout
            .contains("note     clock: not compared with STS: could not reach STS"),
        "{}",
        out.stdout
    );
    let before = trip.connections();
    bed.run(&["doctor", "--offline"], None).ok();
    assert_eq!(trip.connections(), before, "--offline calls nothing");
}

/// The credential_process line must ask for the profile itself; a role profile needs none; a
/// `[profile]` section of the credentials file that overrides the config file's is named.
#[test]
fn doctor_checks_the_line_the_sdks_run_and_the_merged_files() {
    let bed = Bed::new(Keyring::Keyutils, "doctor-line", "http://127.0.0.1:9");
    let p = bed.profile.clone();
    let line = |config_extra: &str| {
        bed.write_config(&format!(
            "mfa_serial = {}\nmfa_env_source_profile = {p}-base\n{config_extra}",
            bed.serial
        ));
        bed.run(&["doctor", "--offline"], None).stdout
    };
    let out = line("credential_process = mfa-env --format process --profile other\n");
    assert!(
        out.contains("PROBLEM  credential_process: the line asks mfa-env for profile other, not"),
        "{out}"
    );
    let out = line("credential_process = mfa-env --format process\n");
    assert!(
        out.contains("PROBLEM  credential_process: the line names no --profile"),
        "{out}"
    );
    let out = line(&format!(
        "credential_process = mfa-env --format process --profile {p}\n"
    ));
    assert!(out.contains("ok       credential_process: "), "{out}");

    // A [profile] section in the credentials file wins over the config file's, key by key.
    let mut creds = std::fs::read_to_string(bed.credentials_path()).unwrap();
    creds.push_str(&format!(
        "[{p}]\nmfa_serial = arn:aws:iam::123456789012:mfa/elsewhere\n"
    ));
    std::fs::write(bed.credentials_path(), creds).unwrap();
    let out = line(&format!(
        "credential_process = mfa-env --format process --profile {p}\n"
    ));
    assert!(
        out.contains(&format!(
            "PROBLEM  shadowed: [{p}] in {} sets mfa_serial = arn:aws:iam::123456789012:mfa/elsewhere, which every SDK takes over mfa_serial = {}",
            bed.credentials_path().display(),
            bed.serial
        )),
        "{out}"
    );

    // A role profile: no credential_process is right.
    bed.append_config(&format!(
        "[profile {p}-role]\nrole_arn = arn:aws:iam::123456789012:role/R\nsource_profile = {p}\n"
    ));
    let mut cmd = Command::new(BIN);
    cmd.args(["doctor", "--offline", "-p", &format!("{p}-role")]);
    let out = bed.run_cmd(cmd, None).stdout;
    assert!(
        out.contains("ok       credential_process: none needed: a role profile"),
        "{out}"
    );
}
