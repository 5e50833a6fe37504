//! The built binary against real parts: both keyrings, moto's STS, the AWS CLI v1, real shells.
//! Every test runs once per keyring (`secret_service::…`, `keyutils::…`).

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;

for_each_keyring!(
    first_call_fetches_and_second_is_served_from_cache,
    every_format_prints_the_same_session,
    aws_cli_uses_credential_process,
    aws_cli_assumes_roles_from_the_mfa_session,
    eval_in_bash_and_zsh_exports_working_credentials,
    fish_sources_working_credentials,
    cached_call_opens_no_network_socket,
    cached_call_survives_sts_going_away,
    a_miss_connects_only_to_the_sts_endpoint,
    corrupt_cache_entry_is_a_miss_and_is_replaced,
    session_near_expiry_is_not_served,
    changed_source_key_gets_a_new_session,
    add_stores_key_and_remove_forgets_it,
    add_refuses_temporary_and_malformed_keys,
    clear_and_status,
    bad_input_is_refused_before_sts,
    temporary_key_is_refused_before_sts,
    sts_unreachable_fails_fast_and_names_endpoint,
    no_secret_leaks_anywhere,
);

fn first_call_fetches_and_second_is_served_from_cache(k: Keyring) {
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start(dir.path());
    let bed = Bed::new(k, "cache", &moto.url);

    let first = bed.warm();
    let v = first.json();
    assert_eq!(v["Version"], 1);
    assert!(v["SessionToken"].as_str().unwrap().len() > 20);
    assert_eq!(v["AccountId"], "123456789012", "the device ARN's account");
    assert_eq!(moto.calls(), 1);
    assert_eq!(first.stderr, "");

    // No code and no terminal: only a cache hit can succeed.
    let second = bed.run(&["--format", "process"], None);
    second.ok();
    assert_eq!(second.json(), v, "the cached session is the one STS gave");
    assert_eq!(moto.calls(), 1, "a hit makes no STS call");
}

fn every_format_prints_the_same_session(k: Keyring) {
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start(dir.path());
    let bed = Bed::new(k, "formats", &moto.url);
    let v = bed.warm().json();
    let token = v["SessionToken"].as_str().unwrap();
    let expected = [
        ("env", format!("export AWS_SESSION_TOKEN='{token}'")),
        ("env-no-export", format!("\nAWS_SESSION_TOKEN='{token}'")),
        ("fish", format!("set -gx AWS_SESSION_TOKEN '{token}'")),
        ("powershell", format!("$Env:AWS_SESSION_TOKEN='{token}'")),
        ("windows-cmd", format!("set \"AWS_SESSION_TOKEN={token}\"")),
    ];
    for (format, line) in expected {
        let out = bed.run(&["--format", format], None);
        out.ok();
        assert!(out.stdout.contains(&line), "{format}: {}", out.stdout);
        assert_eq!(out.stdout.lines().count(), 5, "{format}: {}", out.stdout);
        let account = match format {
            "env" => "export AWS_ACCOUNT_ID='123456789012'",
            "env-no-export" => "\nAWS_ACCOUNT_ID='123456789012'",
            "fish" => "set -gx AWS_ACCOUNT_ID '123456789012'",
            "powershell" => "$Env:AWS_ACCOUNT_ID='123456789012'",
            _ => "set \"AWS_ACCOUNT_ID=123456789012\"",
        };
        assert!(out.stdout.contains(account), "{format}: {}", out.stdout);
        assert!(out.stdout.contains("AWS_CREDENTIAL_EXPIRATION"), "{format}");
    }
    // `export` is the default command and `env` the default format.
    let default = bed.run(&[], None);
    let export = bed.run(&["export", "--format", "env"], None);
    assert_eq!(default.ok().stdout, export.ok().stdout);
    assert_eq!(moto.calls(), 1);
}

fn aws_cli(bed: &Bed, args: &[&str]) -> Out {
    let mut cmd = Command::new(venv_bin("aws"));
    cmd.args(args);
    bed.run_cmd(cmd, None)
}

fn aws_cli_uses_credential_process(k: Keyring) {
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start(dir.path());
    let mut bed = Bed::new(k, "awscli", &moto.url);
    bed.append_config(&format!(
        "credential_process = {BIN} --format process --profile {}\nregion = eu-west-1\n",
        bed.profile
    ));
    bed.warm();
    let profile = bed.profile.clone();
    bed.set_env("AWS_PROFILE", &profile);
    let out = aws_cli(&bed, &["sts", "get-caller-identity", "--output", "json"]);
    out.ok();
    assert!(out.json()["Account"].is_string(), "{}", out.stdout);
    assert_eq!(
        moto.calls(),
        2,
        "one GetSessionToken (warm) and one GetCallerIdentity"
    );

    // The account reaches the SDKs: botocore reads `AccountId` from credential_process. A
    // hardware serial names no account, and none is made up.
    bed.append_config(&format!(
        "[profile {p}-hw]\nmfa_serial = GAHT12345678\nmfa_env_source_profile = {p}-base\n\
         credential_process = {BIN} --format process --profile {p}-hw --token-code 123456\n",
        p = profile
    ));
    let account_of = |profile: &str| {
        let mut cmd = Command::new(venv_bin("python"));
        cmd.args([
            "-c",
            "import sys, boto3\n\
             c = boto3.Session(profile_name=sys.argv[1]).get_credentials().get_frozen_credentials()\n\
             print(c.account_id)",
            profile,
        ]);
        bed.run_cmd(cmd, None).ok().stdout.trim().to_owned()
    };
    assert_eq!(account_of(&profile), "123456789012");
    assert_eq!(account_of(&format!("{profile}-hw")), "None");
    let mut cmd = Command::new(BIN);
    cmd.args(["--format", "process", "-p", &format!("{profile}-hw")]);
    let hw = bed.run_cmd(cmd, None);
    assert!(hw.ok().json().get("AccountId").is_none(), "{}", hw.stdout);
}

/// Roles the SDKs' own way (README, "Roles"): a role profile whose `source_profile` is the
/// mfa-env profile. The CLI runs mfa-env for the source, then AssumeRole itself; two roles share
/// one MFA session, so one code serves both. (Role names of this bed's own: the CLI caches
/// assumed roles in ~/.aws/cli/cache by role ARN, and every bed shares the one user's home.)
fn aws_cli_assumes_roles_from_the_mfa_session(k: Keyring) {
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start(dir.path());
    let mut bed = Bed::new(k, "roles", &moto.url);
    bed.append_config(&format!(
        "credential_process = {BIN} --format process --profile {p}\nregion = eu-west-1\n\
         [profile {p}-admin]\nrole_arn = arn:aws:iam::123456789012:role/Admin-{p}\nsource_profile = {p}\nregion = eu-west-1\n\
         [profile {p}-readonly]\nrole_arn = arn:aws:iam::123456789012:role/ReadOnly-{p}\nsource_profile = {p}\nregion = eu-west-1\n",
        p = bed.profile
    ));
    bed.warm();
    for (role, name) in [
        ("admin", format!("Admin-{}", bed.profile)),
        ("readonly", format!("ReadOnly-{}", bed.profile)),
    ] {
        let profile = format!("{}-{role}", bed.profile);
        bed.set_env("AWS_PROFILE", &profile);
        let out = aws_cli(&bed, &["sts", "get-caller-identity", "--output", "json"]);
        out.ok();
        let arn = out.json()["Arn"].as_str().unwrap().to_owned();
        assert!(
            arn.starts_with(&format!("arn:aws:sts::123456789012:assumed-role/{name}/")),
            "{arn}"
        );
    }
    // warm: GetSessionToken; then per role AssumeRole + GetCallerIdentity. No second code.
    assert_eq!(moto.calls(), 5);
}

fn eval_in_bash_and_zsh_exports_working_credentials(k: Keyring) {
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start(dir.path());
    let mut bed = Bed::new(k, "eval", &moto.url);
    bed.set_env("AWS_DEFAULT_REGION", "eu-west-1");
    let session = bed.warm().json();
    let aws = venv_bin("aws");
    for shell in ["bash", "zsh"] {
        let script = format!(
            "eval \"$('{BIN}' -p '{}')\" || exit 9\n\
             [ \"$AWS_SESSION_TOKEN\" = '{}' ] || exit 8\n\
             '{}' sts get-caller-identity --output text --query Account",
            bed.profile,
            session["SessionToken"].as_str().unwrap(),
            aws.display()
        );
        let mut cmd = Command::new(system_bin(shell));
        cmd.args(["-c", &script]);
        let out = bed.run_cmd(cmd, None);
        out.ok();
        assert!(
            out.stdout.trim().chars().all(|c| c.is_ascii_digit()),
            "{shell}: {}",
            out.stdout
        );
    }
}

fn fish_sources_working_credentials(k: Keyring) {
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start(dir.path());
    let mut bed = Bed::new(k, "fish", &moto.url);
    bed.set_env("AWS_DEFAULT_REGION", "eu-west-1");
    let session = bed.warm().json();
    let script = format!(
        "'{BIN}' -p '{}' --format fish | source; or exit 9\n\
         test \"$AWS_SECRET_ACCESS_KEY\" = '{}'; or exit 8\n\
         '{}' sts get-caller-identity --output text --query Account",
        bed.profile,
        session["SecretAccessKey"].as_str().unwrap(),
        venv_bin("aws").display()
    );
    let mut cmd = Command::new(system_bin("fish"));
    cmd.args(["--no-config", "-c", &script]);
    bed.run_cmd(cmd, None).ok();
}

fn cached_call_opens_no_network_socket(k: Keyring) {
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start(dir.path());
    let bed = Bed::new(k, "nonet", &moto.url);
    bed.warm();
    let trace = dir.path().join("trace");
    let mut cmd = Command::new(system_bin("strace"));
    cmd.args(["-f", "-e", "trace=socket,connect,clone,clone3", "-o"])
        .arg(&trace)
        .args([BIN, "--format", "process", "--profile", &bed.profile]);
    bed.run_cmd(cmd, None).ok();
    let trace = std::fs::read_to_string(trace).unwrap();
    assert!(
        !trace.contains("AF_INET"),
        "the cached path opened a network socket:\n{trace}"
    );
    if k == Keyring::Keyutils {
        assert!(
            !trace.contains("socket("),
            "keyutils needs no socket at all:\n{trace}"
        );
        assert!(
            !trace.contains("clone"),
            "no thread or runtime on the cached path:\n{trace}"
        );
    }
}

/// No region configured, no IMDS: a miss makes exactly the connections to the STS endpoint the
/// profile names (the SDK's standard retry may open more than one), and no other.
fn a_miss_connects_only_to_the_sts_endpoint(k: Keyring) {
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start(dir.path());
    let bed = Bed::new(k, "onlysts", &moto.url);
    let port = moto.url.rsplit(':').next().unwrap().to_owned();
    let trace = dir.path().join("trace");
    let mut cmd = Command::new(system_bin("strace"));
    cmd.args(["-f", "-e", "trace=connect", "-o"])
        .arg(&trace)
        .args([
            BIN,
            "--format",
            "process",
            "--token-code",
            "135791",
            "--profile",
            &bed.profile,
        ]);
    bed.run_cmd(cmd, None).ok();
    let trace = std::fs::read_to_string(trace).unwrap();
    let inet: Vec<&str> = trace.lines().filter(|l| l.contains("AF_INET")).collect();
    assert!(!inet.is_empty(), "the miss called STS:\n{trace}");
    for line in &inet {
        assert!(
            line.contains(&format!("sin_port=htons({port})"))
                && line.contains("inet_addr(\"127.0.0.1\")"),
            "a connection to something other than the STS endpoint:\n{line}"
        );
    }
    assert!(!trace.contains("169.254.169.254"), "IMDS probed:\n{trace}");
}

fn cached_call_survives_sts_going_away(k: Keyring) {
    let dir = tempfile::tempdir().unwrap();
    let mut moto = Moto::start(dir.path());
    let bed = Bed::new(k, "offline", &moto.url);
    let v = bed.warm().json();
    moto.stop();
    let out = bed.run(&["--format", "process"], None);
    assert_eq!(out.ok().json(), v);
}

fn corrupt_cache_entry_is_a_miss_and_is_replaced(k: Keyring) {
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start(dir.path());
    let bed = Bed::new(k, "corrupt", &moto.url);
    for garbage in [
        "not json at all",
        "{\"v\":2,\"profile\":\"x\"}",
        "{\"v\":99}",
    ] {
        bed.plant_item(&bed.session_item(), garbage);
        // Never served: without a code this must ask for one, and fail for lack of a terminal.
        bed.run(&["--format", "process"], None)
            .fails_with("no way to ask for the MFA code");
        // A good session replaces it.
        bed.warm();
        bed.run(&["--format", "process"], None).ok();
    }
    // An item planted for another profile's scope is not served either.
    let other = Bed::new(k, "corrupt-other", &moto.url);
    let good = bed.run(&["--format", "process"], None);
    let mut stolen = good.json();
    stolen["Version"] = 1.into();
    other.plant_item(
        &other.session_item(),
        &format!(
            "{{\"v\":2,\"profile\":\"{}\",\"serial\":\"{}\",\"sts_scope\":\"{}\",\"key_source\":\"keyring\",\"key_id\":\"x\",\"access_key_id\":\"a\",\"secret_access_key\":\"b\",\"session_token\":\"c\",\"expiration\":\"2099-01-01T00:00:00Z\"}}",
            bed.profile, other.serial, moto.url
        ),
    );
    other
        .run(&["--format", "process"], None)
        .fails_with("no way to ask for the MFA code");
}

fn session_near_expiry_is_not_served(k: Keyring) {
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start(dir.path());
    let bed = Bed::new(k, "margin", &moto.url);
    let serial = &bed.serial;
    bed.write_config(&format!(
        "mfa_serial = {serial}\nmfa_env_source_profile = {}-base\nduration_seconds = 900\nmfa_env_min_remaining_seconds = 898\n",
        bed.profile
    ));
    bed.warm();
    std::thread::sleep(Duration::from_millis(2500));
    bed.run(&["--format", "process"], None)
        .fails_with("no way to ask for the MFA code");
    bed.warm();
    assert_eq!(moto.calls(), 2);
}

fn changed_source_key_gets_a_new_session(k: Keyring) {
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start(dir.path());
    let bed = Bed::new(k, "rotate", &moto.url);
    bed.warm();
    bed.write_credentials("AKIAMFAENVTESTKEY002", LT_SECRET, None);
    bed.run(&["--format", "process"], None)
        .fails_with("no way to ask for the MFA code");
    bed.warm();
    bed.run(&["--format", "process"], None).ok();
}

fn add_stores_key_and_remove_forgets_it(k: Keyring) {
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start(dir.path());
    let bed = Bed::new(k, "add", &moto.url);
    let serial = &bed.serial;
    bed.write_config(&format!("mfa_serial = {serial}\n"));
    bed.run(&["--format", "process", "--token-code", CODE], None)
        .fails_with("has no long-term access key: store one with `mfa-env add");
    assert_eq!(moto.calls(), 0);

    let added = bed.run(
        &bed.add_args(true),
        Some(&format!("{LT_KEY_ID}\n{LT_SECRET}\n")),
    );
    added.ok();
    assert!(
        added.stderr.contains("stored the long-term key"),
        "{}",
        added.stderr
    );
    assert_eq!(added.stdout, "");
    bed.warm();
    bed.run(&["--format", "process"], None).ok();

    // A new key replaces the old one and drops the sessions it made.
    let again = bed.run(
        &bed.add_args(true),
        Some(&format!("AKIAMFAENVTESTKEY003\n{LT_SECRET}\n")),
    );
    assert!(
        again.ok().stderr.contains("removed 1 cached session"),
        "{}",
        again.stderr
    );
    bed.run(&["--format", "process"], None)
        .fails_with("no way to ask for the MFA code");
    bed.warm();

    let removed = bed.run(&["remove"], None);
    let store = match k {
        Keyring::SecretService => "Secret Service",
        Keyring::Keyutils => "kernel keyring",
    };
    assert!(
        removed.ok().stderr.contains(&format!(
            "removed the long-term key from the {store}; removed 1 cached session(s)"
        )),
        "{}",
        removed.stderr
    );
    bed.run(&["--format", "process", "--token-code", CODE], None)
        .fails_with("has no long-term access key");
}

fn add_refuses_temporary_and_malformed_keys(k: Keyring) {
    let bed = Bed::new(k, "addbad", &Tripwire::new().url);
    let cases = [
        (
            format!("ASIAMFAENVTESTKEY001\n{LT_SECRET}\n"),
            "temporary key",
        ),
        (format!("akia-lower\n{LT_SECRET}\n"), "the access key id"),
        (format!("{LT_KEY_ID}\nshort\n"), "the secret access key"),
        (
            format!("{LT_KEY_ID}\n"),
            "the secret access key from standard input: missing",
        ),
        (
            String::new(),
            "the access key id from standard input: missing",
        ),
    ];
    for (stdin, expected) in cases {
        let out = bed.run(&bed.add_args(true), Some(&stdin));
        out.fails_with(expected);
        assert_no_secret(&out.stderr, &[LT_SECRET], "stderr");
    }
    // Without --stdin and without a terminal there is nobody to ask.
    bed.run(&bed.add_args(false), None)
        .fails_with("no terminal to prompt on");
}

#[test]
fn auto_uses_the_kernel_keyring_when_no_secret_service_answers() {
    let _k = shared();
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start(dir.path());
    let mut bed = Bed::new(Keyring::Keyutils, "auto", &moto.url);
    bed.set_env("MFA_ENV_KEYRING", "auto");
    bed.set_env("DBUS_SESSION_BUS_ADDRESS", "");
    bed.warm();
    let mut status = Command::new(BIN);
    status.args([
        "status",
        "--json",
        "--keyring",
        "keyutils",
        "-p",
        &bed.profile,
    ]);
    let rows = bed.run_cmd(status, None).ok().json();
    assert_eq!(rows[0]["store"], "kernel keyring", "{rows}");
    // Asking for the Secret Service explicitly without a bus is a clear error, not a fallback.
    bed.set_env("MFA_ENV_KEYRING", "secret-service");
    bed.run(&["--token-code", CODE], None)
        .fails_with("the Secret Service is not available: no D-Bus session bus");
}

#[test]
fn clear_all_empties_every_profile_in_both_keyrings() {
    let _k = exclusive();
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start(dir.path());
    for k in [Keyring::SecretService, Keyring::Keyutils] {
        let a = Bed::new(k, "all-a", &moto.url);
        let b = Bed::new(k, "all-b", &moto.url);
        a.warm();
        b.warm();
        let mut everyone = Command::new(BIN);
        everyone.args(["status", "--json"]);
        let listed = a.run_cmd(everyone, None).ok().json();
        assert!(listed.as_array().unwrap().len() >= 2, "{listed}");

        let out = a.run(&["clear", "--all"], None);
        assert!(
            out.ok().stderr.contains("cached session(s) from the"),
            "{}",
            out.stderr
        );
        for bed in [&a, &b] {
            bed.run(&["--format", "process"], None)
                .fails_with("no way to ask for the MFA code");
        }
        let mut everyone = Command::new(BIN);
        everyone.args(["status", "--json"]);
        assert_eq!(a.run_cmd(everyone, None).ok().json(), serde_json::json!([]));
    }
}

fn clear_and_status(k: Keyring) {
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start(dir.path());
    let a = Bed::new(k, "status-a", &moto.url);
    let b = Bed::new(k, "status-b", &moto.url);
    a.warm();
    b.warm();

    let status = a.run(&["status", "--json"], None);
    let rows = status.ok().json();
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 1, "-p limits status to the profile: {rows:?}");
    assert_eq!(rows[0]["profile"], a.profile.as_str());
    assert_eq!(rows[0]["serial"], a.serial.as_str());
    assert_eq!(rows[0]["served"], true);
    assert!(rows[0]["seconds_left"].as_i64().unwrap() > 43000);
    let text = a.run(&["status"], None);
    assert!(text.ok().stdout.contains(&a.profile), "{}", text.stdout);

    let cleared = a.run(&["clear"], None);
    assert!(
        cleared.ok().stderr.contains("removed 1 cached session(s)"),
        "{}",
        cleared.stderr
    );
    a.run(&["--format", "process"], None)
        .fails_with("no way to ask for the MFA code");
    b.run(&["--format", "process"], None).ok();
    let empty = a.run(&["status", "--json"], None);
    assert_eq!(empty.ok().json(), serde_json::json!([]));
}

fn bad_input_is_refused_before_sts(k: Keyring) {
    let trip = Tripwire::new();
    let bed = Bed::new(k, "badinput", &trip.url);
    let serial = &bed.serial;
    let base = format!("mfa_env_source_profile = {}-base\n", bed.profile);
    let cases: Vec<(String, Vec<&str>, &str)> = vec![
        (
            format!("mfa_serial = my phone\n{base}"),
            vec![],
            "mfa_serial = \"my phone\" is not an MFA device ARN",
        ),
        (
            format!("mfa_serial = arn:aws:iam::123:mfa/alice\n{base}"),
            vec![],
            "is not an MFA device ARN",
        ),
        (base.clone(), vec![], "has no mfa_serial"),
        (
            format!("mfa_serial = {serial}\nduration_seconds = 600\n{base}"),
            vec![],
            "duration_seconds = \"600\" is out of range; use a whole number from 900 to 129600",
        ),
        (
            format!("mfa_serial = {serial}\nduration_seconds = 200000\n{base}"),
            vec![],
            "from 900 to 129600",
        ),
        (
            format!(
                "mfa_serial = arn:aws:iam::123456789012:mfa/root-account-mfa-device\nduration_seconds = 7200\n{base}"
            ),
            vec![],
            "from 900 to 3600 (root user)",
        ),
        (
            format!("mfa_serial = {serial}\n{base}"),
            vec!["--token-code", "12345"],
            "--token-code must be exactly 6 digits",
        ),
        (
            format!("mfa_serial = {serial}\n{base}"),
            vec!["--token-code", "12a456"],
            "must be exactly 6 digits",
        ),
        (
            format!("mfa_serial = {serial}\n{base}"),
            vec![],
            "no way to ask for the MFA code",
        ),
        (
            format!("mfa_serial = {serial}\nmfa_env_source_profile = nowhere\n"),
            vec!["--token-code", CODE],
            "names 'nowhere', which does not exist",
        ),
    ];
    for (config, args, expected) in cases {
        bed.write_config(&config);
        let mut all = vec!["--format", "process"];
        all.extend(args);
        let out = bed.run(&all, None);
        out.fails_with(expected);
    }
    // A profile that is not there at all.
    let mut cmd = Command::new(BIN);
    cmd.args(["-p", "no-such-profile"]);
    bed.run_cmd(cmd, None)
        .fails_with("profile 'no-such-profile' not found in");
    // An absent keyring.
    let mut broken = Bed::new(k, "nokeyring", &trip.url);
    broken.set_env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus");
    broken.set_env("MFA_ENV_KEYRING", "secret-service");
    broken
        .run(&["--token-code", CODE], None)
        .fails_with("the Secret Service is not available");
    assert_eq!(trip.connections(), 0, "bad input must not reach STS");
}

fn temporary_key_is_refused_before_sts(k: Keyring) {
    let trip = Tripwire::new();
    let bed = Bed::new(k, "tempkey", &trip.url);
    bed.write_credentials("ASIAMFAENVTESTKEY001", LT_SECRET, None);
    bed.run(&["--token-code", CODE], None)
        .fails_with("its id starts with ASIA");
    bed.write_credentials(LT_KEY_ID, LT_SECRET, Some("FwoGZXIvYXdzEBYaDH"));
    let out = bed.run(&["--token-code", CODE], None);
    out.fails_with("comes with an aws_session_token");
    assert_no_secret(
        &out.stderr,
        &[LT_KEY_ID, LT_SECRET, "FwoGZXIvYXdzEBYaDH", CODE],
        "stderr",
    );
    assert_eq!(trip.connections(), 0);
}

fn sts_unreachable_fails_fast_and_names_endpoint(k: Keyring) {
    let closed = format!("http://127.0.0.1:{}", free_port());
    let bed = Bed::new(k, "down", &closed);
    let started = Instant::now();
    let out = bed.run(&["--token-code", CODE], None);
    out.fails_with(&format!("could not reach STS at {closed}"));
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "took {:?}",
        started.elapsed()
    );
    assert_no_secret(&out.stderr, &[LT_KEY_ID, LT_SECRET, CODE], "stderr");
}

fn no_secret_leaks_anywhere(k: Keyring) {
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start(dir.path());
    let bed = Bed::new(k, "leaks", &moto.url);
    let session = bed.warm().json();
    let session_secrets = [
        session["AccessKeyId"].as_str().unwrap().to_owned(),
        session["SecretAccessKey"].as_str().unwrap().to_owned(),
        session["SessionToken"].as_str().unwrap().to_owned(),
    ];
    let mut all: Vec<&str> = session_secrets.iter().map(String::as_str).collect();
    all.extend([LT_KEY_ID, LT_SECRET, CODE]);
    // Every command that must not print credentials, on paths that succeed and that fail.
    for args in [
        &["status"][..],
        &["status", "--json"],
        &["clear"],
        &["--format", "process"],
        &["--token-code", "12345"],
        &["remove"],
    ] {
        let out = bed.run(args, None);
        assert_no_secret(&out.stdout, &all, "stdout");
        assert_no_secret(&out.stderr, &all, "stderr");
    }
    // Nothing the tool wrote under HOME holds a secret (the user's own credentials file does).
    std::fs::remove_file(bed.credentials_path()).unwrap();
    assert_no_secret(&bed.files_text(), &all, "files under HOME");
}
