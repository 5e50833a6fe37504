//! The daily surface, used as a person would: `exec` with real commands and the AWS CLI,
//! `mfa_process` with a real TOTP generator (oathtool), `mfa-arg` with the AWS CLI against
//! moto's S3, completions loaded by real shells, the man page rendered by nroff, and `install`.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::pty::Typist;
use common::*;

/// A TOTP seed (base32) for oathtool, standing in for an authenticator app.
const SEED: &str = "JBSWY3DPEHPK3PXP";

fn oathtool_now() -> String {
    let out = Command::new(system_bin("oathtool"))
        .args(["--totp", "-b", SEED])
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// `mfa-env -p PROFILE ARGS…` in the bed (the profile first: after `exec --` it would be the
/// command's).
fn mfa_env(bed: &Bed, args: &[&str], stdin: Option<&str>) -> Out {
    let mut cmd = Command::new(BIN);
    cmd.args(["--profile", &bed.profile]).args(args);
    bed.run_cmd(cmd, stdin)
}

/// The environment a command saw, as `env -0` prints it.
fn env_of(stdout: &str) -> std::collections::HashMap<String, String> {
    stdout
        .split('\0')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

#[test]
fn exec_gives_the_command_the_session_and_not_the_profile() {
    let _k = shared();
    for keyring in [Keyring::SecretService, Keyring::Keyutils] {
        let dir = tempfile::tempdir().unwrap();
        let moto = Moto::start(dir.path());
        let mut bed = Bed::new(keyring, "exec", &moto.url);
        bed.append_config("region = eu-west-3\n");
        let session = bed.warm().json();
        bed.set_env("AWS_PROFILE", &bed.profile.clone());

        let mut cmd = Command::new(BIN);
        cmd.args(["exec", "--", "env", "-0"]);
        let out = bed.run_cmd(cmd, None);
        out.ok();
        let env = env_of(&out.stdout);
        assert_eq!(env["AWS_ACCESS_KEY_ID"], session["AccessKeyId"]);
        assert_eq!(env["AWS_SECRET_ACCESS_KEY"], session["SecretAccessKey"]);
        assert_eq!(env["AWS_SESSION_TOKEN"], session["SessionToken"]);
        assert_eq!(env["AWS_CREDENTIAL_EXPIRATION"], session["Expiration"]);
        assert_eq!(env["AWS_ACCOUNT_ID"], "123456789012");
        assert_eq!(env["AWS_REGION"], "eu-west-3");
        assert_eq!(env["AWS_DEFAULT_REGION"], "eu-west-3");
        assert_eq!(env["MFA_ENV_EXEC"], bed.profile);
        assert!(
            !env.contains_key("AWS_PROFILE"),
            "AWS_PROFILE would send SDKs back to the helper"
        );
        assert_eq!(out.stderr, "");

        // The AWS CLI inside uses the session from the environment: one more call, no STS
        // session request.
        let mut cmd = Command::new(BIN);
        cmd.args(["exec", "--"]).arg(venv_bin("aws")).args([
            "sts",
            "get-caller-identity",
            "--endpoint-url",
            &moto.url,
        ]);
        let out = bed.run_cmd(cmd, None);
        out.ok();
        assert!(out.json()["Account"].is_string(), "{}", out.stdout);
        assert_eq!(
            moto.calls(),
            2,
            "GetSessionToken once, then the CLI's own call"
        );
    }
}

#[test]
fn exec_without_a_region_sets_none() {
    let _k = shared();
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start(dir.path());
    let bed = Bed::new(Keyring::Keyutils, "exec-noregion", &moto.url);
    bed.warm();
    let env = env_of(
        &mfa_env(&bed, &["exec", "--", "env", "-0"], None)
            .ok()
            .stdout
            .clone(),
    );
    assert!(env.contains_key("AWS_SESSION_TOKEN"));
    assert!(
        !env.contains_key("AWS_REGION") && !env.contains_key("AWS_DEFAULT_REGION"),
        "the us-east-1 fallback is for STS only, not a region the user chose"
    );
}

#[test]
fn exec_passes_exit_status_and_signals_through() {
    let _k = shared();
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start(dir.path());
    let mut bed = Bed::new(Keyring::Keyutils, "exec-status", &moto.url);
    bed.warm();

    let sh = |script: &str| {
        let mut cmd = Command::new(BIN);
        cmd.args(["--profile", &bed.profile, "exec", "--", "sh", "-c", script]);
        cmd
    };
    assert_eq!(bed.run_cmd(sh("exit 7"), None).code, Some(7));
    // mfa-env became the command: killed by SIGTERM is what the caller sees (a shell reports
    // it as 128+15).
    let mut killed = sh("kill -TERM $$");
    bed.apply_env(&mut killed);
    let status = killed.status().unwrap();
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(15),
        "{status:?}"
    );

    // A signal sent to mfa-env's pid is the command's own: the command decides the status.
    let mut child = bed.spawn_cmd(sh(
        "trap 'exit 42' TERM; echo ready; while :; do sleep 0.05; done",
    ));
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(line, "ready\n");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = child.wait().unwrap();
    assert_eq!(
        status.code(),
        Some(42),
        "SIGTERM reached the command and its trap's status is the status"
    );

    // No command: the user's $SHELL, reading commands from stdin here.
    bed.set_env("SHELL", "/bin/sh");
    let out = mfa_env(
        &bed,
        &["exec"],
        Some("echo \"token:${AWS_SESSION_TOKEN:+set}\"\n"),
    );
    out.ok();
    assert_eq!(out.stdout, "token:set\n");
}

/// A signal sent to the whole process group (GNU `timeout`, a CI job's cancel) reaches the
/// command once: mfa-env must not pass on a second copy, which makes Terraform abort.
#[test]
fn exec_delivers_a_group_signal_once() {
    let _k = shared();
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start(dir.path());
    let bed = Bed::new(Keyring::Keyutils, "exec-once", &moto.url);
    bed.warm();
    let count = dir.path().join("terms");
    let ready = dir.path().join("ready");
    // A handler that records each TERM at once (a shell's trap would merge two that arrive
    // during one `sleep`): a forwarded copy, arriving a moment after the group's, shows.
    let counter = "import signal, sys, time\n\
        signal.signal(signal.SIGTERM, lambda s, f: open(sys.argv[1], 'a').write('TERM\\n'))\n\
        open(sys.argv[2], 'w').close()\n\
        end = time.time() + 1.5\n\
        while time.time() < end: time.sleep(0.001)\n\
        sys.exit(3)\n";
    for _ in 0..5 {
        let _ = std::fs::remove_file(&count);
        let _ = std::fs::remove_file(&ready);
        let mut cmd = Command::new(BIN);
        cmd.args(["--profile", &bed.profile, "exec", "--"])
            .arg(system_bin("python3"))
            .args(["-c", counter])
            .arg(&count)
            .arg(&ready);
        // The bed starts it in a session and process group of its own, as a shell job or a CI
        // step is; one TERM to that group is what `systemd stop` or a job cancel sends. (GNU
        // `timeout` would send two itself: one to the command, one to its group.)
        let child = bed.spawn_cmd(cmd);
        let started = Instant::now();
        while !ready.exists() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the command never started"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        let group = nix::unistd::Pid::from_raw(child.id() as i32);
        nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGTERM).unwrap();
        let out = Out::from(child.wait_with_output().unwrap());
        let terms = std::fs::read_to_string(&count).unwrap_or_default();
        assert_eq!(terms, "TERM\n", "the command saw {terms:?}; {}", out.stderr);
        assert_eq!(out.code, Some(3), "the command's own exit status");
    }
}

#[test]
fn exec_refuses_nesting_and_missing_commands() {
    let _k = shared();
    let tripwire = Tripwire::new();
    let mut bed = Bed::new(Keyring::Keyutils, "exec-bad", &tripwire.url);
    bed.set_env("MFA_ENV_EXEC", "outer");
    mfa_env(&bed, &["exec", "--", "true"], None)
        .fails_with("already inside `mfa-env exec` for profile 'outer'");
    assert_eq!(tripwire.connections(), 0, "refused before any code or STS");

    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start(dir.path());
    let mut bed = Bed::new(Keyring::Keyutils, "exec-bad", &moto.url);
    bed.warm();
    bed.set_env("MFA_ENV_EXEC", "outer");
    let out = mfa_env(
        &bed,
        &[
            "exec",
            "--allow-nested",
            "--",
            "sh",
            "-c",
            "echo $MFA_ENV_EXEC",
        ],
        None,
    );
    assert_eq!(out.ok().stdout, format!("{}\n", bed.profile));

    bed.set_env("MFA_ENV_EXEC", "");
    let out = mfa_env(&bed, &["exec", "--", "/nonexistent/command"], None);
    assert_eq!(out.code, Some(127), "as env(1): not found is 127");
    assert_eq!(out.stdout, "");
    assert_eq!(out.stderr.lines().count(), 1, "{}", out.stderr);
    assert!(out.stderr.contains("cannot run /nonexistent/command"));
}

#[test]
fn mfa_process_supplies_the_code() {
    let _k = shared();
    let dir = tempfile::tempdir().unwrap();
    let standin = StandIn::start(dir.path());
    let bed = Bed::new(Keyring::Keyutils, "mfaproc", &standin.url);
    // As the README shows it: the seed comes from a secret store on a pipe, never in an argv
    // (which every local user can read in /proc/*/cmdline).
    let seed_file = bed.dir.path().join("seed");
    std::fs::write(&seed_file, SEED).unwrap();
    bed.append_config(&format!(
        "mfa_process = cat {} | oathtool --totp -b -\n",
        seed_file.display()
    ));
    let before = oathtool_now();
    bed.run(&["--format", "process"], None).ok();
    let after = oathtool_now();
    let sent = standin.requests();
    assert_eq!(sent.len(), 1);
    assert!(
        sent[0] == before || sent[0] == after,
        "STS got oathtool's code ({before}/{after}): {sent:?}"
    );
    // Cached: the process is not run again.
    bed.append_config("mfa_process = false\n");
    bed.run(&["--format", "process"], None).ok();
    assert_eq!(standin.requests().len(), 1);
}

/// Two profiles on one device: the second gets the same code from the generator moments later,
/// which STS would refuse. mfa-env waits for the next code instead of failing.
#[test]
fn mfa_process_waits_for_the_next_code_rather_than_reuse_one() {
    let _k = shared();
    let dir = tempfile::tempdir().unwrap();
    let standin = StandIn::start(dir.path());
    let bed = Bed::new(Keyring::Keyutils, "mfaproc-reuse", &standin.url);
    let mfa_process = format!("mfa_process = oathtool --totp -b {SEED}\n");
    bed.append_config(&mfa_process);
    let second = format!("{}-second", bed.profile);
    bed.append_config(&format!(
        "[profile {second}]\nmfa_serial = {}\nmfa_env_source_profile = {}-base\n{mfa_process}",
        bed.serial, bed.profile
    ));
    // Start just after a step began, so that the second call surely sees the same code.
    #[allow(clippy::disallowed_methods)]
    let into_step = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        % 30;
    if into_step > 20 {
        std::thread::sleep(Duration::from_secs(31 - into_step));
    }
    bed.run(&["--format", "process"], None).ok();
    let mut cmd = Command::new(BIN);
    cmd.args(["--profile", &second, "--format", "process"]);
    let out = bed.run_cmd(cmd, None);
    out.ok();
    assert!(
        out.stderr
            .contains("mfa_process gave the code just accepted")
            && out.stderr.contains("waiting"),
        "{}",
        out.stderr
    );
    let sent = standin.requests();
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_ne!(sent[0], sent[1], "a code is never sent twice");
}

#[test]
fn mfa_process_that_fails_is_silent_prints_junk_or_hangs_sends_nothing() {
    let _k = shared();
    let tripwire = Tripwire::new();
    let bed = Bed::new(Keyring::Keyutils, "mfaproc-bad", &tripwire.url);
    let cases = [
        (
            "echo 123456; exit 3",
            "mfa_process exited with exit status: 3",
        ),
        ("true", "mfa_process printed nothing"),
        (
            "echo 'not a code'",
            "the first line of mfa_process's output must be exactly 6 digits",
        ),
    ];
    for (command, expected) in cases {
        bed.write_config(&format!(
            "mfa_serial = {}\nmfa_env_source_profile = {}-base\nmfa_process = {command}\n",
            bed.serial, bed.profile
        ));
        bed.run(&["--format", "process"], None).fails_with(expected);
    }
    // Without a terminal, the command's own complaint goes to stderr, before our one line.
    bed.write_config(&format!(
        "mfa_serial = {}\nmfa_env_source_profile = {}-base\nmfa_process = /nonexistent/ykman\n",
        bed.serial, bed.profile
    ));
    let out = bed.run(&["--format", "process"], None);
    assert_eq!(out.stdout, "");
    let lines: Vec<_> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{}", out.stderr);
    assert!(lines[0].contains("/nonexistent/ykman: not found"));
    assert!(lines[1].starts_with("mfa-env: ") && lines[1].contains("exited with exit status: 127"));

    bed.write_config(&format!(
        "mfa_serial = {}\nmfa_env_source_profile = {}-base\nmfa_process = sleep 30\nmfa_env_mfa_process_timeout_seconds = 1\n",
        bed.serial, bed.profile
    ));
    let started = Instant::now();
    bed.run(&["--format", "process"], None)
        .fails_with("mfa_process did not print a code within 1 s");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(tripwire.connections(), 0, "no code, no STS call");
}

#[test]
fn mfa_process_code_rejected_by_sts_fails_at_once() {
    let _k = shared();
    let dir = tempfile::tempdir().unwrap();
    let standin = StandIn::start(dir.path());
    let bed = Bed::new(Keyring::Keyutils, "mfaproc-rejected", &standin.url);
    bed.append_config("mfa_process = echo 000000\n");
    bed.run(&["--format", "process"], None)
        .fails_with("AccessDenied");
    assert_eq!(standin.requests(), ["000000"], "not asked again");
}

#[test]
fn mfa_process_talks_to_the_terminal_and_only_its_stdout_is_read() {
    let _k = shared();
    let dir = tempfile::tempdir().unwrap();
    let standin = StandIn::start(dir.path());
    let bed = Bed::new(Keyring::Keyutils, "mfaproc-tty", &standin.url);
    // As `ykman` does: a message on stderr, a question answered on the terminal, the code on
    // stdout.
    bed.append_config(
        "mfa_process = echo 'Touch your YubiKey...' >&2; read answer; echo 13579$answer\n",
    );
    let mut t = Typist::spawn(&bed, &["--format", "process"]);
    t.wait_for("Touch your YubiKey...", 1);
    t.type_line("2");
    let (out, _) = t.finish();
    out.ok();
    assert_eq!(
        out.stderr, "",
        "its messages went to the terminal, not our stderr"
    );
    assert_eq!(standin.requests(), ["135792"]);
}

#[test]
fn mfa_arg_prints_serial_and_code_and_caches_nothing() {
    let _k = shared();
    let tripwire = Tripwire::new();
    let mut bed = Bed::new(Keyring::SecretService, "mfaarg", &tripwire.url);
    // No keyring is needed or touched: this bus address leads nowhere.
    bed.set_env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus");
    let out = bed.run(&["mfa-arg", "--token-code", "-"], Some("123456\n"));
    assert_eq!(out.ok().stdout, format!("{} 123456\n", bed.serial));
    assert_eq!(out.stderr, "");

    bed.append_config(&format!("mfa_process = oathtool --totp -b {SEED}\n"));
    let before = oathtool_now();
    let out = bed.run(&["mfa-arg"], None);
    let code = out
        .ok()
        .stdout
        .trim()
        .rsplit(' ')
        .next()
        .unwrap()
        .to_owned();
    assert!(code == before || code == oathtool_now(), "{}", out.stdout);
    assert_eq!(tripwire.connections(), 0, "mfa-arg never calls STS");

    bed.run(&["mfa-arg", "--token-code", "12345"], None)
        .fails_with("--token-code must be exactly 6 digits");
}

#[test]
fn mfa_arg_with_no_terminal_and_no_display_says_how_to_give_a_code() {
    let bed = Bed::new(Keyring::Keyutils, "noprompt", "http://127.0.0.1:9");
    let out = bed.run(&["mfa-arg"], None);
    out.fails_with("no terminal");
    out.fails_with("no display (DISPLAY and WAYLAND_DISPLAY are unset)");
    out.fails_with("pass --token-code");

    let mut bed = bed;
    bed.set_env("DISPLAY", ":4242");
    bed.set_env("PATH", "/nonexistent");
    bed.run(&["mfa-arg"], None)
        .fails_with("a display, but neither zenity nor kdialog is installed");
}

/// S3 MFA Delete end to end with the AWS CLI against moto's S3. moto accepts the `--mfa` value
/// without checking it (see README), so the test checks what the CLI sent: the `x-amz-mfa`
/// header with our `SERIAL CODE`, in the CLI's own debug log.
#[test]
fn mfa_arg_feeds_s3_mfa_delete_through_the_aws_cli() {
    let _k = shared();
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start(dir.path());
    let mut bed = Bed::new(Keyring::Keyutils, "s3root", &moto.url);
    bed.append_config(&format!("mfa_process = oathtool --totp -b {SEED}\n"));
    bed.set_env("AWS_ACCESS_KEY_ID", "AKIAMOTOS3ADMIN00001");
    bed.set_env("AWS_SECRET_ACCESS_KEY", "motoS3AdminSecret");
    bed.set_env("AWS_DEFAULT_REGION", "us-east-1");
    let script = format!(
        r#"set -eu
aws="{aws} --endpoint-url {url}"
$aws s3api create-bucket --bucket mfa-delete >/dev/null
$aws s3api put-bucket-versioning --bucket mfa-delete --debug \
  --versioning-configuration Status=Enabled,MFADelete=Enabled \
  --mfa "$({bin} mfa-arg -p {profile})" 2>versioning.log
echo data >object
version=$($aws s3api put-object --bucket mfa-delete --key k --body object --query VersionId --output text)
$aws s3api delete-object --bucket mfa-delete --key k --version-id "$version" --debug \
  --mfa "$({bin} mfa-arg -p {profile})" 2>delete.log >/dev/null
$aws s3api list-object-versions --bucket mfa-delete --query 'length(Versions || `[]`)'
$aws s3api get-bucket-versioning --bucket mfa-delete --query Status --output text
"#,
        aws = venv_bin("aws").display(),
        url = moto.url,
        bin = BIN,
        profile = bed.profile,
    );
    let mut cmd = Command::new("bash");
    cmd.arg("-c").arg(script).current_dir(dir.path());
    let out = bed.run_cmd(cmd, None);
    out.ok();
    assert_eq!(out.stdout, "0\nEnabled\n", "the version was deleted");
    for log in ["versioning.log", "delete.log"] {
        let text = std::fs::read_to_string(dir.path().join(log)).unwrap();
        let sent = text
            .lines()
            .find_map(|l| {
                let at = l.find("'x-amz-mfa': b'")? + "'x-amz-mfa': b'".len();
                Some(l[at..].split('\'').next()?.to_owned())
            })
            .unwrap_or_else(|| panic!("no x-amz-mfa header in {log}"));
        let (serial, code) = sent.split_once(' ').unwrap();
        assert_eq!(serial, bed.serial);
        assert!(code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()));
    }
}

#[test]
fn completions_load_in_real_shells() {
    let dir = tempfile::tempdir().unwrap();
    let run = |shell: &str| {
        let out = Command::new(BIN)
            .args(["completions", shell])
            .output()
            .unwrap();
        assert!(out.status.success());
        let path = dir.path().join(format!("completion.{shell}"));
        std::fs::write(&path, &out.stdout).unwrap();
        path
    };
    // The binary on PATH, as after `install`.
    let bin_dir = std::path::Path::new(BIN).parent().unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap());

    let bash = run("bash");
    let out = Command::new(system_bin("bash"))
        .env("PATH", &path)
        .arg("-c")
        .arg(format!(
            "source {}; COMP_WORDS=(mfa-env st); COMP_CWORD=1; COMP_LINE='mfa-env st'; COMP_POINT=10; \
             _mfa__env mfa-env st mfa-env; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            bash.display()
        ))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "status\n");

    let fish = run("fish");
    let out = Command::new(system_bin("fish"))
        .env("PATH", &path)
        .arg("-c")
        .arg(format!(
            "source {}; complete -C'mfa-env exec --allow'",
            fish.display()
        ))
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("--allow-nested\t"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // compinit finds completion functions by file name on fpath.
    std::fs::copy(run("zsh"), dir.path().join("_mfa-env")).unwrap();
    let out = Command::new(system_bin("zsh"))
        .arg("-fc")
        .arg(format!(
            "fpath=({} $fpath); autoload -Uz compinit; compinit -u -D; print $_comps[mfa-env]",
            dir.path().display()
        ))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "_mfa-env\n");

    let ps = std::fs::read_to_string(run("powershell")).unwrap();
    assert!(ps.contains("Register-ArgumentCompleter -Native -CommandName 'mfa-env'"));

    let out = Command::new(BIN)
        .args(["completions", "tcsh"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("invalid value 'tcsh'") && err.contains("bash, elvish, fish, powershell, zsh"),
        "{err}"
    );
}

#[test]
fn man_page_renders_and_install_puts_everything_where_shells_look() {
    let out = Command::new(BIN).arg("man").output().unwrap();
    assert!(out.status.success());
    let rendered = nroff(&out.stdout);
    for text in ["mfa-env", "SUBCOMMANDS", "exec", "mfa-arg", "Examples:"] {
        assert!(rendered.contains(text), "{text} missing from:\n{rendered}");
    }

    let prefix = tempfile::tempdir().unwrap();
    let out = Command::new(repo().join("install"))
        .env("PREFIX", prefix.path())
        .env("MFA_ENV_PREBUILT", BIN)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let share = prefix.path().join("share");
    for sub in [
        "add",
        "clear",
        "completions",
        "exec",
        "export",
        "man",
        "mfa-arg",
        "remove",
        "status",
    ] {
        let page = std::fs::read(share.join(format!("man/man1/mfa-env-{sub}.1"))).unwrap();
        assert!(nroff(&page).contains(&format!("mfa-env-{sub}")));
    }
    // fish finds the completion by itself through XDG_DATA_DIRS; zsh through fpath.
    let path = format!(
        "{}:{}",
        prefix.path().join("bin").display(),
        std::env::var("PATH").unwrap()
    );
    let out = Command::new(system_bin("fish"))
        .env("PATH", &path)
        .env("XDG_DATA_DIRS", &share)
        .args(["-c", "complete -C'mfa-env st'"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("status\t"));
    let out = Command::new(system_bin("zsh"))
        .arg("-fc")
        .arg(format!(
            "fpath=({}/zsh/site-functions $fpath); autoload -Uz compinit; compinit -u -D; print $_comps[mfa-env]",
            share.display()
        ))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "_mfa-env\n");
    assert!(share.join("bash-completion/completions/mfa-env").is_file());
}

/// Every file and directory under `dir` (links as links), with a digest of each file's bytes
/// (FNV-1a: enough to see a change, short enough to read in a failure): what the uninstall test
/// compares before and after.
fn tree(dir: &std::path::Path) -> Vec<(String, Option<u64>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let name = path.display().to_string();
        if meta.is_dir() {
            out.push((name, None));
            out.extend(tree(&path));
        } else {
            let bytes = std::fs::read(&path).unwrap_or_default();
            let digest = bytes.iter().fold(0xcbf29ce484222325_u64, |h, &b| {
                (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
            });
            out.push((name, Some(digest)));
        }
    }
    out.sort();
    out
}

/// `./install --uninstall` removes exactly what `./install` put (twice, as an upgrade does),
/// in both PREFIX modes: the binary, the man pages, the completions and the directories made
/// for them; someone else's files beside them, the user's ~/.aws and cache stay, byte for byte.
#[test]
fn uninstall_removes_exactly_what_install_put() {
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    for (file, text) in [
        (".aws/config", "[profile dev]\nmfa_serial = GAHT12345678\n"),
        (".cache/mfa-env/locks/host/dev.lock", ""),
        (".cargo/bin/cargo", "not ours"),
        (".local/share/bash-completion/completions/git", "not ours"),
        ("opt/share/man/man1/other.1", "not ours"),
    ] {
        std::fs::create_dir_all(h.join(file).parent().unwrap()).unwrap();
        std::fs::write(h.join(file), text).unwrap();
    }
    let before = tree(h);
    for prefix in [None, Some(h.join("opt"))] {
        let run = |args: &[&str]| {
            let mut cmd = Command::new(repo().join("install"));
            cmd.args(args)
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap())
                .env("HOME", h)
                .env("MFA_ENV_PREBUILT", BIN);
            if let Some(p) = &prefix {
                cmd.env("PREFIX", p);
            }
            let out = cmd.output().unwrap();
            assert!(
                out.status.success(),
                "install {args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        run(&[]);
        let installed = tree(h);
        run(&[]);
        assert_eq!(tree(h), installed, "a second install changes nothing");
        let bin = match &prefix {
            Some(p) => p.join("bin/mfa-env"),
            None => h.join(".cargo/bin/mfa-env"),
        };
        assert!(bin.is_file(), "{prefix:?}: {}", bin.display());
        let said = run(&["--uninstall"]);
        assert!(said.contains("mfa-env clear --all"), "{said}");
        assert_eq!(
            tree(h),
            before,
            "{prefix:?}: exactly what install put is gone"
        );
    }
}

/// The manifest is not a list of things to delete: `--uninstall` removes only the files
/// install puts, only as install left them, and only from a manifest nobody else could write.
#[test]
fn uninstall_deletes_only_its_own_unchanged_files() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let prefix = dir.path().join("p");
    let victim = dir.path().join("victim/file");
    std::fs::create_dir_all(victim.parent().unwrap()).unwrap();
    std::fs::write(&victim, "someone else's").unwrap();
    let run = |args: &[&str]| {
        let mut cmd = Command::new(repo().join("install"));
        cmd.args(args)
            .env("PREFIX", &prefix)
            .env("MFA_ENV_PREBUILT", BIN);
        // A caller's umask of 000 must not make what install puts writable by others.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
                nix::sys::stat::umask(nix::sys::stat::Mode::empty());
                Ok(())
            });
        }
        cmd.output().unwrap()
    };
    assert!(run(&[]).status.success());
    let manifest = prefix.join("share/mfa-env/install-manifest");
    for made in [
        &prefix,
        &prefix.join("bin"),
        &prefix.join("bin/mfa-env"),
        &manifest,
    ] {
        let mode = std::fs::metadata(made).unwrap().permissions().mode();
        assert_eq!(mode & 0o022, 0, "{} is {mode:o}", made.display());
    }
    // A line naming another file (with its true digest), and the directory it is in.
    let digest = Command::new("sha256sum").arg(&victim).output().unwrap();
    let digest = String::from_utf8(digest.stdout).unwrap();
    let digest = digest.split_whitespace().next().unwrap();
    let mut text = std::fs::read_to_string(&manifest).unwrap();
    text.push_str(&format!(
        "file {digest} {}\ndir {}\n",
        victim.display(),
        victim.parent().unwrap().display()
    ));
    std::fs::write(&manifest, text).unwrap();
    // A binary replaced since (a `cargo install`, another build) is not the one install put.
    let bin = prefix.join("bin/mfa-env");
    std::fs::remove_file(&bin).unwrap();
    std::fs::write(&bin, "#!/bin/sh\n").unwrap();

    // Writable by others, the manifest is refused and nothing is deleted.
    std::fs::set_permissions(&manifest, std::fs::Permissions::from_mode(0o666)).unwrap();
    let refused = run(&["--uninstall"]);
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("not trusted"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(prefix.join("share/man/man1/mfa-env.1").exists());

    std::fs::set_permissions(&manifest, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = run(&["--uninstall"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("kept"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "someone else's");
    assert_eq!(std::fs::read_to_string(&bin).unwrap(), "#!/bin/sh\n");
    assert!(!prefix.join("share/man/man1/mfa-env.1").exists());
    assert!(!manifest.exists());
}

fn nroff(roff: &[u8]) -> String {
    let mut child = Command::new(system_bin("nroff"))
        .args(["-man", "-Tutf8"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(roff).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stderr), "", "nroff warnings");
    // Strip overstrike (bold/underline) so the text can be searched.
    let text = String::from_utf8_lossy(&out.stdout);
    let mut plain = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if chars.peek() == Some(&'\u{8}') {
            chars.next();
            continue;
        }
        plain.push(c);
    }
    plain
}

#[test]
fn every_command_help_shows_an_example() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    let top = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(top.contains("Examples:"));
    let commands: Vec<String> = top
        .split("Commands:")
        .nth(1)
        .unwrap()
        .split("Options:")
        .next()
        .unwrap()
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .filter(|c| c != "help")
        .collect();
    assert!(commands.len() >= 9, "{commands:?}");
    for c in &commands {
        let out = Command::new(BIN)
            .args([c.as_str(), "--help"])
            .output()
            .unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        let examples = help
            .split("Examples:\n")
            .nth(1)
            .unwrap_or_else(|| panic!("`mfa-env {c} --help` has no examples:\n{help}"));
        assert!(
            examples.contains(&format!("mfa-env {c}")) || examples.contains("mfa-env mfa-arg"),
            "`mfa-env {c} --help` examples do not show the command:\n{examples}"
        );
    }
}
