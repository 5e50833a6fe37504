//! The terminal prompt, typed into a real pseudo-terminal as a person would. The pty is the
//! child's controlling terminal (`/dev/tty`), while its stdout and stderr stay pipes: the prompt
//! must appear on the terminal only, and stdout must hold only the credentials.

mod common;

use common::pty::Typist;
use common::*;

#[test]
fn prompt_on_the_terminal_and_credentials_on_stdout() {
    let _k = shared();
    for keyring in [Keyring::SecretService, Keyring::Keyutils] {
        let dir = tempfile::tempdir().unwrap();
        let moto = Moto::start(dir.path());
        let bed = Bed::new(keyring, "prompt", &moto.url);
        let mut t = Typist::spawn(&bed, &["--format", "process"]);
        let question = format!("MFA code for profile '{}' ({}): ", bed.profile, bed.serial);
        t.wait_for(&question, 1);
        t.type_line(CODE);
        let (out, screen) = t.finish();
        out.ok();
        let v = out.json();
        assert_eq!(v["Version"], 1, "stdout holds exactly the credential JSON");
        assert_eq!(out.stderr, "", "the prompt is not on stderr");
        assert!(
            !out.stdout.contains("MFA code"),
            "the prompt is not on stdout"
        );
        assert!(!screen.contains(CODE), "the code is not echoed: {screen:?}");
        assert_eq!(moto.calls(), 1);
        // And the session is cached: no prompt the second time.
        bed.run(&["--format", "process"], None).ok();
    }
}

#[test]
fn a_mistyped_code_is_asked_again_without_calling_sts() {
    let _k = shared();
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start(dir.path());
    let bed = Bed::new(Keyring::Keyutils, "retype", &moto.url);
    let mut t = Typist::spawn(&bed, &["--format", "env"]);
    t.wait_for("MFA code for profile", 1);
    t.type_line("12345");
    t.wait_for("A code is 6 digits. Try again.", 1);
    t.wait_for("MFA code for profile", 2);
    assert_eq!(moto.calls(), 0, "a malformed code is never sent");
    t.type_line(CODE);
    let (out, _) = t.finish();
    out.ok();
    assert!(
        out.stdout.starts_with("export AWS_ACCESS_KEY_ID='"),
        "{}",
        out.stdout
    );
    assert_eq!(moto.calls(), 1);
}

#[test]
fn three_malformed_codes_give_up_with_a_clear_error() {
    let _k = shared();
    let trip = Tripwire::new();
    let bed = Bed::new(Keyring::Keyutils, "giveup", &trip.url);
    let mut t = Typist::spawn(&bed, &["--format", "process"]);
    for attempt in 1..=3 {
        t.wait_for("MFA code for profile", attempt);
        t.type_line("abc");
    }
    let (out, _) = t.finish();
    out.fails_with("the MFA code must be exactly 6 digits; nothing was sent to STS");
    assert_eq!(trip.connections(), 0);
}

#[test]
fn ctrl_c_at_the_prompt_restores_the_terminal_and_writes_nothing() {
    let _k = shared();
    let trip = Tripwire::new();
    let bed = Bed::new(Keyring::Keyutils, "ctrlc", &trip.url);
    let mut t = Typist::spawn(&bed, &["--format", "process"]);
    t.wait_for("MFA code for profile", 1);
    assert!(!t.echo_on(), "the code prompt hides input");
    t.type_raw(b"12\x03");
    let echo_after = {
        let (out, _) = t.finish_keep_terminal();
        assert_eq!(
            out.code,
            Some(130),
            "exit status 130 after Ctrl-C: {}",
            out.stderr
        );
        assert_eq!(out.stdout, "");
        out.echo_was_on
    };
    assert!(echo_after, "echo is back on after Ctrl-C");
    assert_eq!(trip.connections(), 0);
    bed.run(&["status", "--json"], None).ok();
    let rows = bed.run(&["status", "--json"], None).json();
    assert_eq!(rows, serde_json::json!([]), "nothing was cached");
}

/// A real caller on a terminal: the AWS CLI v1 runs the profile's credential_process with its
/// stderr captured, and mfa-env still asks on the terminal, then the CLI's call succeeds.
#[test]
fn the_aws_cli_on_a_terminal_gets_the_prompt() {
    let _k = shared();
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start(dir.path());
    let mut bed = Bed::new(Keyring::Keyutils, "cli-prompt", &moto.url);
    bed.append_config(&format!(
        "credential_process = {BIN} --format process --profile {}\n",
        bed.profile
    ));
    let profile = bed.profile.clone();
    bed.set_env("AWS_PROFILE", &profile);
    bed.set_env("AWS_DEFAULT_REGION", "us-east-1");
    let mut cmd = std::process::Command::new(venv_bin("aws"));
    cmd.args([
        "sts",
        "get-caller-identity",
        "--output",
        "text",
        "--query",
        "Account",
    ]);
    let mut t = Typist::spawn_cmd(&bed, cmd);
    t.wait_for(&format!("MFA code for profile '{}'", bed.profile), 1);
    t.type_line(CODE);
    let (out, _) = t.finish();
    out.ok();
    assert_eq!(out.stdout.trim(), "123456789012");
}
