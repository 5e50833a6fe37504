//! The long-term key from a password manager: `mfa_env_source_profile` names a profile whose
//! `credential_process` prints it (README, "Where the long-term key lives"). The stand-in logs
//! the key id that signed each call, so the tests see which key was used.

mod common;

use std::process::Command;
use std::time::Instant;

use common::*;

const VAULT_KEY_ID: &str = "AKIAVAULTKEY00000001";
const VAULT_SECRET: &str = "vaultSecretvaultSecretvaultSecret0001";

/// A bed whose mfa-env profile takes its key from `<profile>-vault`, whose credential_process
/// is the script `body` at a path with a space in it, called with a quoted argument.
fn vault_bed(k: Keyring, name: &str, standin: &StandIn, body: &str, extra: &str) -> Bed {
    let bed = Bed::new(k, name, &standin.url);
    let script = bed.dir.path().join("my vault");
    std::fs::write(&script, format!("#!/bin/sh\n{body}\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    bed.write_config(&format!(
        "mfa_serial = {serial}\nmfa_env_source_profile = {p}-vault\n{extra}\
         [profile {p}-vault]\ncredential_process = \"{script}\" --item 'aws key'\n",
        serial = bed.serial,
        p = bed.profile,
        script = script.display()
    ));
    // No static keys anywhere: the process is the key's only home.
    std::fs::write(bed.credentials_path(), "").unwrap();
    bed
}

fn printing(key_id: &str, token: Option<&str>) -> String {
    let token = token
        .map(|t| format!(", \"SessionToken\": \"{t}\""))
        .unwrap_or_default();
    format!(
        "printf '{{\"Version\": 1, \"AccessKeyId\": \"{key_id}\", \"SecretAccessKey\": \"{VAULT_SECRET}\"{token}}}\\n'"
    )
}

fn get_session_tokens(standin: &StandIn) -> Vec<String> {
    standin
        .log()
        .lines()
        .filter(|l| l.starts_with("HOST ") && l.contains(" GetSessionToken "))
        .map(str::to_owned)
        .collect()
}

for_each_keyring!(a_password_manager_holds_the_long_term_key);

/// The key the process prints signs GetSessionToken; its argv is split as the SDKs split it;
/// its stderr reaches the user; a cached session is served without running it again.
fn a_password_manager_holds_the_long_term_key(k: Keyring) {
    let dir = tempfile::tempdir().unwrap();
    let standin = StandIn::start(dir.path());
    let body = format!(
        "printf '%s|%s|%s\\n' \"$#\" \"$1\" \"$2\" >>\"$(dirname \"$0\")/argv\"\n\
         echo 'vault: unlocked' >&2\n{}",
        printing(VAULT_KEY_ID, None)
    );
    let bed = vault_bed(k, "vault", &standin, &body, "");
    let argv = bed.dir.path().join("argv");

    let first = bed.warm();
    assert_eq!(
        first.stderr, "vault: unlocked\n",
        "the process's own stderr"
    );
    let calls = get_session_tokens(&standin);
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(
        calls[0].ends_with(&format!("by={VAULT_KEY_ID}")),
        "{calls:?}"
    );
    assert_eq!(
        std::fs::read_to_string(&argv).unwrap(),
        "2|--item|aws key\n"
    );

    let second = bed.run(&["--format", "process"], None);
    second.ok();
    assert_eq!(second.json(), first.json(), "served from the cache");

    let status = bed.run(&["status", "--json"], None);
    let rows = status.ok().json();
    let row = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["profile"] == bed.profile.as_str())
        .cloned()
        .unwrap();
    assert_eq!(
        row["key_source"],
        format!(
            "printed by the credential_process of profile '{}-vault'",
            bed.profile
        ),
        "{row}"
    );
    let doctor = bed.run(&["doctor", "--offline"], None);
    assert!(
        doctor
            .stdout
            .contains("printed by the credential_process of profile"),
        "{}",
        doctor.stdout
    );
    assert_eq!(
        std::fs::read_to_string(&argv).unwrap().lines().count(),
        1,
        "neither a cached session nor status nor doctor runs the password manager"
    );
    assert_no_secret(&first.stderr, &[VAULT_SECRET, VAULT_KEY_ID], "stderr");
    assert_no_secret(&doctor.stdout, &[VAULT_SECRET, VAULT_KEY_ID], "doctor");
}

/// A process that prints a session key, fails, hangs, prints garbage or cannot be found: one
/// line each, saying what and how to fix it, before any STS call and with nothing of its
/// output quoted.
#[test]
fn a_failing_password_manager_is_one_clear_error() {
    let _k = shared();
    let dir = tempfile::tempdir().unwrap();
    let standin = StandIn::start(dir.path());
    let cases = [
        (
            "session",
            printing("AKIAVAULTKEY00000002", Some("FwoGZXIvYXdzEXAMPLETOKEN")),
            "is a temporary key (it comes with an aws_session_token)",
        ),
        (
            "asia",
            printing("ASIAVAULTKEY00000003", None),
            "is a temporary key (its id starts with ASIA)",
        ),
        ("fails", "exit 3".to_owned(), "exited with exit status: 3"),
        (
            "hangs",
            "exec sleep 30".to_owned(),
            "did not finish within 1 s (raise mfa_env_source_process_timeout_seconds",
        ),
        (
            "garbage",
            format!("echo {VAULT_KEY_ID} {VAULT_SECRET}"),
            "printed something that is not JSON",
        ),
        (
            "version",
            format!(
                "printf '{{\"Version\": 2, \"AccessKeyId\": \"{VAULT_KEY_ID}\", \"SecretAccessKey\": \"{VAULT_SECRET}\"}}'"
            ),
            "printed JSON without \"Version\": 1",
        ),
    ];
    for (name, body, expected) in cases {
        let bed = vault_bed(
            Keyring::Keyutils,
            &format!("vault-{name}"),
            &standin,
            &body,
            "mfa_env_source_process_timeout_seconds = 1\n",
        );
        let started = Instant::now();
        let out = bed.run(&["--format", "process", "--token-code", "123456"], None);
        let out = out.fails_with(expected);
        assert!(
            started.elapsed().as_secs() < 5,
            "{name}: {:?}",
            started.elapsed()
        );
        assert_eq!(out.stderr.lines().count(), 1, "{name}: {}", out.stderr);
        assert_no_secret(
            &out.stderr,
            &[VAULT_SECRET, VAULT_KEY_ID, "FwoGZXIvYXdzEXAMPLETOKEN"],
            "stderr",
        );
        assert!(out.stdout.is_empty(), "{name}: {}", out.stdout);
    }
    // A program that is not there, and a command line that cannot be split.
    let bed = Bed::new(Keyring::Keyutils, "vault-missing", &standin.url);
    bed.write_config(&format!(
        "mfa_serial = {}\nmfa_env_source_profile = {p}-vault\n[profile {p}-vault]\ncredential_process = /nonexistent/op read 'op://aws/key'\n\
         [profile {p}-quote]\nmfa_serial = {}\nmfa_env_source_profile = {p}-open\n[profile {p}-open]\ncredential_process = op read 'op://aws\n",
        bed.serial,
        bed.serial,
        p = bed.profile
    ));
    std::fs::write(bed.credentials_path(), "").unwrap();
    bed.run(&["--format", "process", "--token-code", "123456"], None)
        .fails_with("could not be started: '/nonexistent/op' was not found");
    let mut cmd = Command::new(BIN);
    cmd.args(["--format", "process", "--token-code", "123456", "-p"])
        .arg(format!("{}-quote", bed.profile));
    bed.run_cmd(cmd, None)
        .fails_with("cannot be split into words (an unclosed quote?)");
    // A credential_process that runs mfa-env for this very profile stops at once rather than
    // starting itself without end.
    // Through a role too, whose lock the outer mfa-env holds while the process runs.
    let bed = Bed::new(Keyring::Keyutils, "vault-loop", &standin.url);
    bed.write_config(&format!(
        "mfa_serial = {}\nmfa_env_source_profile = {p}-vault\n[profile {p}-vault]\ncredential_process = {BIN} --format process -p {p}-role\n\
         [profile {p}-role]\nrole_arn = arn:aws:iam::123456789012:role/R\nsource_profile = {p}\n",
        bed.serial,
        p = bed.profile
    ));
    std::fs::write(bed.credentials_path(), "").unwrap();
    for profile in [bed.profile.clone(), format!("{}-role", bed.profile)] {
        let started = Instant::now();
        let mut cmd = Command::new(BIN);
        cmd.args([
            "--format",
            "process",
            "--token-code",
            "123456",
            "-p",
            &profile,
        ]);
        let out = bed.run_cmd(cmd, None);
        assert_eq!(out.code, Some(1), "{}", out.stderr);
        assert!(
            out.stderr
                .contains("was started by the credential_process of profile"),
            "{}",
            out.stderr
        );
        assert!(
            started.elapsed().as_secs() < 5,
            "{profile}: {:?}",
            started.elapsed()
        );
    }
    assert!(
        get_session_tokens(&standin).is_empty(),
        "no STS call: {}",
        standin.log()
    );
}

/// `setup --key-from Q` for a Q with a credential_process: the profile names Q, the key stays
/// in the password manager (nothing is stored in the keyring), and it signs the first session.
#[test]
fn setup_keeps_a_password_managers_key_where_it_is() {
    let _k = shared();
    let dir = tempfile::tempdir().unwrap();
    let standin = StandIn::start(dir.path());
    let bed = vault_bed(
        Keyring::Keyutils,
        "vault-setup",
        &standin,
        &printing(VAULT_KEY_ID, None),
        "",
    );
    let new = format!("{}-new", bed.profile);
    // A key stored for the profile before would come first: setup removes it.
    let mut cmd = Command::new(BIN);
    cmd.args(["add", "--stdin", "--volatile-ok", "-p", &new]);
    bed.run_cmd(cmd, Some(&format!("{LT_KEY_ID}\n{LT_SECRET}\n")))
        .ok();
    let mut cmd = Command::new(BIN);
    cmd.args(["setup", "--yes", "-p", &new, "--serial", &bed.serial])
        .arg("--key-from")
        .arg(format!("{}-vault", bed.profile));
    let setup = bed.run_cmd(cmd, None);
    setup.ok();
    assert!(
        setup
            .stderr
            .contains("stays with the credential_process of profile"),
        "{}",
        setup.stderr
    );
    assert!(
        !setup.stderr.contains("stored the long-term key"),
        "{}",
        setup.stderr
    );
    let config = std::fs::read_to_string(bed.config_path()).unwrap();
    assert!(
        config.contains(&format!("mfa_env_source_profile = {}-vault", bed.profile)),
        "{config}"
    );
    let mut cmd = Command::new(BIN);
    cmd.args(["remove", "-p", &new]);
    let removed = bed.run_cmd(cmd, None);
    assert!(
        removed.stderr.contains("no long-term key was stored"),
        "setup stored nothing: {}",
        removed.stderr
    );
    let mut cmd = Command::new(BIN);
    cmd.args(["--format", "process", "--token-code", "123456", "-p", &new]);
    bed.run_cmd(cmd, None).ok();
    assert!(
        get_session_tokens(&standin)
            .iter()
            .any(|l| l.ends_with(&format!("by={VAULT_KEY_ID}"))),
        "{}",
        standin.log()
    );
}
