//! A real user's week on Linux, where it differs from a fresh root test bed: an ordinary
//! user's kernel key quota, several logins (one of them ended, its session keyring revoked),
//! a full quota, keyrings that are emptied at reboot, and STS reached by its host names over
//! TLS in several partitions and regions. `scripts/test` runs this suite as root and again as
//! an ordinary user (uid >= 1000, the kernel's default quotas).

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::*;

/// This user's kernel key quota, from /proc/key-users: (bytes used, bytes allowed, keys used,
/// keys allowed).
fn key_quota() -> (u64, u64, u64, u64) {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let uid = unsafe { libc::geteuid() }.to_string();
    let text = std::fs::read_to_string("/proc/key-users").expect("read /proc/key-users");
    text.lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            if f.first()?.trim_end_matches(':') != uid {
                return None;
            }
            let (keys, max_keys) = f.get(3)?.split_once('/')?;
            let (used, max) = f.get(4)?.split_once('/')?;
            Some((
                used.parse().ok()?,
                max.parse().ok()?,
                keys.parse().ok()?,
                max_keys.parse().ok()?,
            ))
        })
        .expect("this user in /proc/key-users")
}

/// A config with `n` mfa-env profiles and a role under each, all on the stand-in.
fn profiles_and_roles(bed: &Bed, n: usize) -> Vec<(String, String)> {
    let mut config = String::new();
    let mut names = Vec::new();
    for i in 0..n {
        let (mfa, role) = (
            format!("{}-m{i}", bed.profile),
            format!("{}-r{i}", bed.profile),
        );
        config.push_str(&format!(
            "[profile {mfa}]\nmfa_serial = {}-{i}\nmfa_env_source_profile = {}-base\n\
             [profile {role}]\nrole_arn = arn:aws:iam::123456789012:role/Capacity{i}\nsource_profile = {mfa}\n",
            bed.serial, bed.profile
        ));
        names.push((mfa, role));
    }
    std::fs::write(bed.config_path(), config).unwrap();
    names
}

fn mfa_env(bed: &Bed, profile: &str, args: &[&str]) -> Out {
    let mut cmd = Command::new(BIN);
    cmd.args(args).args(["--profile", profile]);
    bed.run_cmd(cmd, None)
}

/// 20 MFA sessions and 20 role sessions, each with a 1,300-character token, all cached and all
/// served afterwards without a warning; the kernel keyring holds one small key for all of them.
fn forty_sessions_fit_an_ordinary_users_quota(k: Keyring) {
    let dir = tempfile::tempdir().unwrap();
    let standin = StandIn::start(dir.path());
    let bed = Bed::new(k, "capacity", &standin.url);
    let names = profiles_and_roles(&bed, 20);
    let (used_before, max, _, _) = key_quota();
    for (i, (_, role)) in names.iter().enumerate() {
        let code = format!("{:06}", 400_000 + i);
        let out = mfa_env(&bed, role, &["--format", "process", "--token-code", &code]);
        out.ok();
        assert_eq!(out.stderr, "", "cached without a warning");
        assert_eq!(out.json()["SessionToken"].as_str().unwrap().len(), 1300);
    }
    let (used_after, ..) = key_quota();
    for (mfa, role) in &names {
        for profile in [mfa, role] {
            let out = mfa_env(&bed, profile, &["--format", "process"]);
            out.ok();
            assert_eq!(out.stderr, "", "{profile} served from the cache, silently");
        }
    }
    assert_eq!(
        standin.requests().len(),
        20 + 20,
        "one GetSessionToken and one AssumeRole per pair, none when served"
    );
    println!(
        "{}: 40 sessions took {} bytes of kernel key quota ({used_before} -> {used_after} of {max})",
        k.arg(),
        used_after.saturating_sub(used_before)
    );
    if k == Keyring::Keyutils {
        assert!(
            used_after.saturating_sub(used_before) < 1000,
            "sessions must not live in the kernel keyring: {used_before} -> {used_after} bytes"
        );
    }
}

#[test]
fn forty_sessions_fit_secret_service() {
    let _k = exclusive();
    forty_sessions_fit_an_ordinary_users_quota(Keyring::SecretService);
}

#[test]
fn forty_sessions_fit_the_kernel_keyring() {
    // Measures this user's quota: nothing else may add keys meanwhile.
    let _k = exclusive();
    forty_sessions_fit_an_ordinary_users_quota(Keyring::Keyutils);
}

/// `keyctl session - <command>`: the command in a login of its own, with a new session keyring,
/// as SSH or a console login would give it.
fn in_login(bed: &Bed, script: &str) -> Command {
    let mut cmd = Command::new(system_bin("keyctl"));
    cmd.args(["session", "-", "bash", "-c", script, "login"]);
    bed.apply_env(&mut cmd);
    cmd.env("BIN", BIN).env("P", &bed.profile);
    cmd
}

/// Every login of the user sees one cache: a session cached in one login is served in another
/// and in a login whose session keyring was revoked (a tmux server that outlived its login); a
/// key stored by `add` in one login is what an older, still running login uses next.
#[test]
fn every_login_sees_the_same_cache() {
    let _k = shared();
    let dir = tempfile::tempdir().unwrap();
    let standin = StandIn::start(dir.path());
    let bed = Bed::new(Keyring::Keyutils, "logins", &standin.url);
    let run = |script: &str| {
        let mut cmd = in_login(&bed, script);
        cmd.stdin(Stdio::null());
        let out = cmd.output().unwrap();
        Out {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr)
                .lines()
                .filter(|l| !l.starts_with("Joined session keyring"))
                .map(|l| format!("{l}\n"))
                .collect(),
        }
    };
    let first = run(r#"setsid "$BIN" -p "$P" --format process --token-code 135790 </dev/null"#);
    let session = first.ok().json();
    let second = run(r#"setsid "$BIN" -p "$P" --format process </dev/null"#);
    assert_eq!(second.ok().json(), session, "another login is served");
    let revoked = run(r#"keyctl revoke @s && setsid "$BIN" -p "$P" --format process </dev/null"#);
    assert_eq!(
        revoked.ok().json(),
        session,
        "a login whose session keyring was revoked is served: {}",
        revoked.stderr
    );

    // An older login, started before the key changes, waits for a line on stdin.
    let mut older = in_login(
        &bed,
        r#"read -r _; setsid "$BIN" -p "$P" --format process --token-code 135792 </dev/null"#,
    );
    older
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let older = older.spawn().unwrap();
    let add = run(&format!(
        r#"printf '%s\n%s\n' AKIAMFAENVTESTKEY002 {LT_SECRET} | setsid "$BIN" -p "$P" add --stdin --volatile-ok"#
    ));
    assert!(
        add.ok().stderr.contains("removed 1 cached session"),
        "{}",
        add.stderr
    );
    older.stdin.as_ref().unwrap().write_all(b"go\n").unwrap();
    let out = older.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let log = standin.log();
    let signers: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(" GetSessionToken "))
        .filter_map(|l| l.rsplit("by=").next())
        .collect();
    assert_eq!(
        signers,
        [LT_KEY_ID, "AKIAMFAENVTESTKEY002"],
        "the older login signed with the key the newer one stored"
    );
}

/// A full kernel key quota (here, in a user namespace whose persistent keyring is new, so the
/// vault key must be made): the session the user paid a code for is printed, with one line that
/// names the quota and the fix.
#[test]
fn a_full_key_quota_is_named_and_the_session_still_used() {
    let _k = exclusive();
    let dir = tempfile::tempdir().unwrap();
    let standin = StandIn::start(dir.path());
    let bed = Bed::new(Keyring::Keyutils, "quota", &standin.url);
    // Fill this user's quota with keys in a keyring of our own, then run mfa-env.
    let filler = Command::new(system_bin("bash"))
        .arg("-c")
        .arg(
            r#"ring=$(keyctl newring mfa-env-test-filler @s) || exit 1
               echo "$ring"
               n=0
               for size in 30000 3000 300 30 1; do
                 blob=$(head -c $size /dev/zero | tr '\0' x)
                 while keyctl add user "f$((n++))" "$blob" "$ring" >/dev/null 2>&1; do :; done
               done"#,
        )
        .output()
        .unwrap();
    let ring = String::from_utf8_lossy(&filler.stdout).trim().to_owned();
    assert!(
        !ring.is_empty(),
        "{}",
        String::from_utf8_lossy(&filler.stderr)
    );
    let (used, max, keys, max_keys) = key_quota();
    let mut cmd = Command::new(system_bin("unshare"));
    cmd.args(["--user", "--map-current-user", BIN])
        .args(["--format", "process", "--token-code", "135794"])
        .args(["--profile", &bed.profile]);
    let out = bed.run_cmd(cmd, None);
    // Free the quota before any assertion can fail.
    let _ = Command::new(system_bin("keyctl"))
        .args(["unlink", &ring, "@s"])
        .output();
    for _ in 0..100 {
        if key_quota().2 < keys / 2 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(
        used + 10 > max || keys >= max_keys,
        "the quota was not filled ({used} of {max} bytes, {keys} of {max_keys} keys)"
    );
    out.ok();
    assert_eq!(out.json()["Version"], 1, "the session is printed");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{}", out.stderr);
    assert!(
        lines[0].starts_with("mfa-env: warning: the new session is used but not cached")
            && lines[0].contains("kernel.keys.")
            && lines[0].contains("maxbytes")
            && lines[0].contains("sysctl"),
        "{}",
        lines[0]
    );
}

/// `add` refuses a store emptied at reboot: the kernel keyring, and a Secret Service whose only
/// collection is the in-memory `session` one; `--volatile-ok` stores and says so.
#[test]
fn add_refuses_a_keyring_that_does_not_survive_a_reboot() {
    let _k = shared();
    let trip = Tripwire::new();
    let bed = Bed::new(Keyring::Keyutils, "volatile", &trip.url);
    let key = format!("{LT_KEY_ID}\n{LT_SECRET}\n");
    bed.run(&["add", "--stdin"], Some(&key)).fails_with(
        "the long-term key would be kept only in the kernel keyring, which is emptied at every reboot (and after 3 days unused); put the key in a profile of ~/.aws/credentials",
    );
    let out = bed.run(&["add", "--stdin", "--volatile-ok"], Some(&key));
    assert!(
        out.ok().stderr.contains(
            "note: the kernel keyring, which is emptied at every reboot (and after 3 days unused)"
        ),
        "{}",
        out.stderr
    );

    // A Secret Service with no keyring but its in-memory one, in a bus of its own.
    let mut cmd = Command::new(system_bin("dbus-run-session"));
    cmd.arg("--")
        .arg(repo().join("tests/fixtures/session-only-keyring.sh"))
        .args([BIN, "add", "--stdin", "--keyring", "secret-service"])
        .args(["--profile", &bed.profile]);
    let out = bed.run_cmd(cmd, Some(&key));
    assert_ne!(out.code, Some(0));
    assert!(
        out.stderr.contains(
            "the long-term key would be kept only in the Secret Service's in-memory collection 'session'"
        ),
        "{}",
        out.stderr
    );
    assert_eq!(trip.connections(), 0);
}

/// Runs `steps` (bash; `step NAME [VAR=value…] COMMAND…` records a command's result) where STS
/// is reached by its host names over TLS (`tests/fixtures/sts-by-name.sh`), with `w` as HOME
/// and its `config` and `credentials`; returns how to read a step's result.
fn in_private_network(w: &std::path::Path, steps: &str) -> impl Fn(&str) -> Out {
    let out_dir = w.join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let script = format!(
        r#"step() {{ local name=$1; shift; local t0=$(date +%s%N); env "$@" >"$OUT/$name.out" 2>"$OUT/$name.err" </dev/null; echo $? >"$OUT/$name.rc"; echo $(( ($(date +%s%N) - t0) / 1000000 )) >"$OUT/$name.ms"; }}
{steps}"#
    );
    let mut cmd = Command::new(system_bin("unshare"));
    cmd.args(["--user", "--map-root-user", "--net", "--mount"])
        .arg(repo().join("tests/fixtures/sts-by-name.sh"))
        .args(["setsid", "bash", "-c", &script]);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap())
        .env("HOME", w)
        .env("WORK", w)
        .env("OUT", &out_dir)
        .env("BIN", BIN)
        .env("AWS", venv_bin("aws"))
        .env("AWS_CONFIG_FILE", w.join("config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", w.join("credentials"))
        .env("AWS_STS_REGIONAL_ENDPOINTS", "regional")
        .env("XDG_CACHE_HOME", w.join("cache"))
        .env("MFA_ENV_KEYRING", "keyutils")
        .stdin(Stdio::null());
    let ran = cmd.output().unwrap();
    assert!(
        ran.status.success(),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    move |name: &str| {
        let f = |ext| {
            std::fs::read_to_string(out_dir.join(format!("{name}.{ext}"))).unwrap_or_default()
        };
        Out {
            code: f("rc").trim().parse().ok(),
            stdout: f("out"),
            stderr: f("err"),
        }
    }
}

/// The time bounds hold for an endpoint given by host name: one that accepts the connection
/// and never answers (the attempt's time-out, no second copy of the code), and one whose name
/// the resolver never answers for (the connect time-out per attempt; the process does not wait
/// for the blocked lookup when it gives up).
#[test]
fn bounded_when_the_endpoint_is_silent_or_its_name_hangs() {
    let _k = shared();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    std::fs::write(
        w.join("config"),
        "[profile slow]\nmfa_serial = arn:aws:iam::123456789012:mfa/slow\nmfa_env_source_profile = base\nmfa_env_sts_timeout_seconds = 1\n",
    )
    .unwrap();
    std::fs::write(
        w.join("credentials"),
        format!("[base]\naws_access_key_id = {LT_KEY_ID}\naws_secret_access_key = {LT_SECRET}\n"),
    )
    .unwrap();
    let steps = r#"
        step silent AWS_ENDPOINT_URL_STS=http://sts-silent.example.test:8443 "$BIN" -p slow --format process --token-code 111111
        step hang AWS_ENDPOINT_URL_STS=http://sts-hang.example.test:8443 "$BIN" -p slow --format process --token-code 222222
    "#;
    let step = in_private_network(w, steps);
    let ms = |name: &str| -> u64 {
        std::fs::read_to_string(w.join("out").join(format!("{name}.ms")))
            .unwrap()
            .trim()
            .parse()
            .unwrap()
    };
    step("silent").fails_with("could not reach STS at http://sts-silent.example.test:8443");
    assert!(
        ms("silent") < 3000,
        "a silent endpoint took {} ms",
        ms("silent")
    );
    step("hang").fails_with("could not reach STS at http://sts-hang.example.test:8443");
    assert!(
        ms("hang") < 10_000,
        "a name that never resolves took {} ms (the resolver waits 20 s)",
        ms("hang")
    );
}

/// STS the default way: no endpoint override, host names resolved through /etc/hosts, TLS
/// checked against a CA. One session serves every region of its partition (mfa-env and the
/// AWS CLI in two regions: one GetSessionToken); FIPS is a scope of its own; dual-stack,
/// China, GovCloud and European Sovereign Cloud endpoints are the SDK's; a device's partition
/// picks the region.
#[test]
fn sts_by_host_name_over_tls_one_session_per_partition() {
    let _k = shared();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    std::fs::write(
        w.join("config"),
        format!(
            "[profile std]\nmfa_serial = arn:aws:iam::123456789012:mfa/std\nmfa_env_source_profile = base\n\
             credential_process = {BIN} --format process --profile std\n\
             [profile dual]\nmfa_serial = arn:aws:iam::123456789012:mfa/dual\nmfa_env_source_profile = base\n\
             [profile china]\nmfa_serial = arn:aws-cn:iam::123456789012:mfa/china\nmfa_env_source_profile = base\n\
             [profile gov]\nmfa_serial = arn:aws-us-gov:iam::123456789012:mfa/gov\nmfa_env_source_profile = base\n\
             [profile eusc]\nmfa_serial = arn:aws-eusc:iam::123456789012:mfa/eusc\nmfa_env_source_profile = base\n\
             [profile iso]\nmfa_serial = arn:aws-iso:iam::123456789012:mfa/iso\nmfa_env_source_profile = base\nregion = cn-north-1\n"
        ),
    )
    .unwrap();
    std::fs::write(
        w.join("credentials"),
        format!("[base]\naws_access_key_id = {LT_KEY_ID}\naws_secret_access_key = {LT_SECRET}\n"),
    )
    .unwrap();
    let steps = r#"
        step warm "$BIN" -p std --format process --token-code 111111
        step eu AWS_REGION=eu-west-1 "$BIN" -p std --format process
        step cli-us AWS_PROFILE=std AWS_DEFAULT_REGION=us-east-1 "$AWS" sts get-caller-identity --output text --query Arn
        step cli-eu AWS_PROFILE=std AWS_DEFAULT_REGION=eu-west-1 "$AWS" sts get-caller-identity --output text --query Arn
        step fips-cached AWS_USE_FIPS_ENDPOINT=true "$BIN" -p std --format process
        step fips AWS_USE_FIPS_ENDPOINT=true "$BIN" -p std --format process --token-code 222222
        step dual AWS_USE_DUALSTACK_ENDPOINT=true "$BIN" -p dual --format process --token-code 333333
        step dual-eu AWS_REGION=eu-west-1 "$BIN" -p dual --format process
        step china "$BIN" -p china --format process --token-code 444444
        step gov "$BIN" -p gov --format process --token-code 555555
        step eusc "$BIN" -p eusc --format process --token-code 565656
        step eusc-status "$BIN" status --json
        step iso "$BIN" -p iso --format process --token-code 575757
        step mismatch AWS_REGION=eu-west-1 "$BIN" -p china --format process --token-code 666666
        step doctor "$BIN" -p china doctor --offline
        step fips-override AWS_USE_FIPS_ENDPOINT=true AWS_ENDPOINT_URL_STS=https://sts.eu-west-1.amazonaws.com "$BIN" -p std --format process
        step bad-flag AWS_USE_FIPS_ENDPOINT=yes "$BIN" -p std --format process
    "#;
    let step = in_private_network(w, steps);
    let log = std::fs::read_to_string(w.join("standin.log")).unwrap();
    let hosts = |action: &str| -> Vec<String> {
        log.lines()
            .filter_map(|l| l.strip_prefix("HOST "))
            .filter(|l| l.split(' ').nth(1) == Some(action))
            .map(|l| l.split(' ').next().unwrap().to_owned())
            .collect()
    };

    let warm = step("warm");
    warm.ok();
    assert_eq!(
        step("eu").ok().json(),
        warm.json(),
        "another region, same session"
    );
    for cli in ["cli-us", "cli-eu"] {
        let out = step(cli);
        assert!(
            out.ok()
                .stdout
                .contains("user/standin-ASIASTANDINSESSION01"),
            "{cli}: {}",
            out.stderr
        );
    }
    step("fips-cached").fails_with("no way to ask for the MFA code");
    step("fips").ok();
    step("dual").ok();
    assert_eq!(step("dual-eu").ok().json(), step("dual").json());
    step("china").ok();
    step("gov").ok();
    step("eusc").ok();
    let status: serde_json::Value = serde_json::from_str(&step("eusc-status").ok().stdout).unwrap();
    assert!(
        status
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["profile"] == "eusc" && s["scope"] == "aws-eusc"),
        "the cache scope is the partition: {status}"
    );
    step("iso").fails_with(
        "region cn-north-1 (from region) is in partition aws-cn, but mfa_serial is in aws-iso, whose STS alone knows it; set region to a region of aws-iso, such as us-iso-east-1",
    );
    step("mismatch").fails_with(
        "region eu-west-1 (from AWS_REGION) is in partition aws, but mfa_serial is in aws-cn, whose STS alone knows it; set AWS_REGION to a region of aws-cn, such as cn-northwest-1",
    );
    let doctor = step("doctor");
    assert!(
        doctor.ok().stdout.contains(
            "STS endpoint: https://sts.cn-northwest-1.amazonaws.com.cn (region cn-northwest-1"
        ),
        "{}",
        doctor.stdout
    );
    step("fips-override").fails_with("cannot be combined with an explicit endpoint");
    step("bad-flag").fails_with("AWS_USE_FIPS_ENDPOINT = \"yes\" is not valid; use true or false");

    assert_eq!(
        hosts("GetSessionToken"),
        [
            "sts.us-east-1.amazonaws.com",
            "sts-fips.us-east-1.amazonaws.com",
            "sts.us-east-1.api.aws",
            "sts.cn-northwest-1.amazonaws.com.cn",
            "sts.us-gov-west-1.amazonaws.com",
            "sts.eusc-de-east-1.amazonaws.eu",
        ],
        "one GetSessionToken per partition and scope, at the SDK's host names:\n{log}"
    );
    assert_eq!(
        hosts("GetCallerIdentity"),
        ["sts.us-east-1.amazonaws.com", "sts.eu-west-1.amazonaws.com"],
        "the AWS CLI called each region with the one session"
    );
}

/// A session for a new MFA device replaces the profile's old one in the keyring (deleted, not
/// left behind), and a write removes sessions that have expired.
fn obsolete_and_expired_sessions_are_deleted(k: Keyring) {
    let dir = tempfile::tempdir().unwrap();
    let standin = StandIn::start(dir.path());
    let mut bed = Bed::new(k, "obsolete", &standin.url);
    bed.warm();
    let old_item = bed.session_item();
    assert!(bed.item_exists(&old_item));
    bed.serial = format!("{}-new", bed.serial);
    bed.write_config(&format!(
        "mfa_serial = {}\nmfa_env_source_profile = {}-base\n",
        bed.serial, bed.profile
    ));
    bed.warm();
    assert!(bed.item_exists(&bed.session_item()));
    assert!(
        !bed.item_exists(&old_item),
        "the old device's session is deleted"
    );
    let rows = bed.run(&["status", "--json"], None).json();
    assert_eq!(rows.as_array().unwrap().len(), 1, "{rows}");

    // A session that expired while its profile was not used: the next write removes it. (The
    // stand-in answers code 111000 with a session that expires in 2 s.)
    let other = Bed::new(k, "expired", &standin.url);
    other
        .run(&["--format", "process", "--token-code", "111000"], None)
        .ok();
    let expired_item = other.session_item();
    assert!(other.item_exists(&expired_item));
    std::thread::sleep(std::time::Duration::from_millis(2500));
    bed.run(&["clear"], None).ok();
    bed.warm();
    assert!(
        !other.item_exists(&expired_item),
        "an expired session is deleted by the next write"
    );
}

#[test]
fn obsolete_and_expired_sessions_are_deleted_secret_service() {
    let _k = shared();
    obsolete_and_expired_sessions_are_deleted(Keyring::SecretService);
}

#[test]
fn obsolete_and_expired_sessions_are_deleted_keyutils() {
    let _k = shared();
    obsolete_and_expired_sessions_are_deleted(Keyring::Keyutils);
}

/// A long-term key stored by mfa-env 0.1 (one kernel key per item, `keyring:<item>@mfa-env`)
/// is not lost by the upgrade: it is used, moved into the vault, and the old key removed.
#[test]
fn a_long_term_key_of_the_old_layout_is_kept() {
    let _k = shared();
    let dir = tempfile::tempdir().unwrap();
    let standin = StandIn::start(dir.path());
    let bed = Bed::new(Keyring::Keyutils, "legacy", &standin.url);
    bed.write_config(&format!("mfa_serial = {}\n", bed.serial));
    let description = format!("keyring:long-term profile={}@mfa-env", bed.profile);
    let planted = Command::new(system_bin("keyctl"))
        .args(["add", "user", &description])
        .arg(format!(
            "{{\"v\":1,\"access_key_id\":\"AKIAMFAENVTESTKEY009\",\"secret_access_key\":\"{LT_SECRET}\"}}"
        ))
        .arg("@s")
        .output()
        .unwrap();
    assert!(planted.status.success());
    bed.run(&["--format", "process", "--token-code", "135798"], None)
        .ok();
    assert!(
        standin
            .log()
            .contains("GetSessionToken by=AKIAMFAENVTESTKEY009"),
        "the old key signed the call:\n{}",
        standin.log()
    );
    let gone = Command::new(system_bin("keyctl"))
        .args(["search", "@s", "user", &description])
        .output()
        .unwrap();
    assert!(!gone.status.success(), "the old key is removed once moved");
    assert!(bed.item_exists(&format!("long-term profile={}", bed.profile)));
}

/// Plants a long-term key as mfa-env 0.1's kernel store kept it, in the session keyring.
fn plant_legacy_key(bed: &Bed, key_id: &str) -> String {
    let description = format!("keyring:long-term profile={}@mfa-env", bed.profile);
    let planted = Command::new(system_bin("keyctl"))
        .args(["add", "user", &description])
        .arg(format!(
            "{{\"v\":1,\"access_key_id\":\"{key_id}\",\"secret_access_key\":\"{LT_SECRET}\"}}"
        ))
        .arg("@s")
        .output()
        .unwrap();
    assert!(planted.status.success(), "{planted:?}");
    description
}

fn legacy_key_present(description: &str) -> bool {
    Command::new(system_bin("keyctl"))
        .args(["search", "@s", "user", description])
        .output()
        .unwrap()
        .status
        .success()
}

/// A key removed after a leak is gone everywhere: `remove` deletes the copy in 0.1's kernel
/// layout too, whichever store is in use, and nothing signs with it afterwards; a replacing
/// `add` deletes it as well, and the new key signs.
fn remove_and_add_delete_a_key_of_the_old_layout(k: Keyring) {
    let dir = tempfile::tempdir().unwrap();
    let standin = StandIn::start(dir.path());
    let bed = Bed::new(k, "legacy-gone", &standin.url);
    bed.write_config(&format!("mfa_serial = {}\n", bed.serial));
    let description = plant_legacy_key(&bed, "AKIAMFAENVTESTKEY009");
    let removed = bed.run(&["remove"], None);
    assert!(
        removed
            .ok()
            .stderr
            .contains("removed the long-term key from the kernel keyring (mfa-env 0.1's layout)"),
        "{}",
        removed.stderr
    );
    assert!(
        !legacy_key_present(&description),
        "the old layout's key is gone"
    );
    bed.run(&["--format", "process", "--token-code", "135791"], None)
        .fails_with("has no long-term access key");
    assert!(
        !standin.log().contains("by=AKIAMFAENVTESTKEY009"),
        "nothing signed with the removed key:\n{}",
        standin.log()
    );

    plant_legacy_key(&bed, "AKIAMFAENVTESTKEY009");
    let added = bed.run(
        &bed.add_args(true),
        Some(&format!("AKIAMFAENVTESTKEY010\n{LT_SECRET}\n")),
    );
    // (The kernel store itself moves such a key into its vault when it first reads the item,
    // here to see where the new one would go; the new key then replaces it there.)
    assert!(
        k == Keyring::Keyutils
            || added
                .ok()
                .stderr
                .contains("removed the old key's copy from the kernel keyring"),
        "{}",
        added.stderr
    );
    added.ok();
    assert!(!legacy_key_present(&description), "replaced, not kept");
    bed.run(&["--format", "process", "--token-code", "135792"], None)
        .ok();
    let log = standin.log();
    assert!(
        log.contains("GetSessionToken by=AKIAMFAENVTESTKEY010"),
        "{log}"
    );
    assert!(!log.contains("by=AKIAMFAENVTESTKEY009"), "{log}");
}

#[test]
fn remove_and_add_delete_a_key_of_the_old_layout_secret_service() {
    let _k = shared();
    remove_and_add_delete_a_key_of_the_old_layout(Keyring::SecretService);
}

#[test]
fn remove_and_add_delete_a_key_of_the_old_layout_keyutils() {
    let _k = shared();
    remove_and_add_delete_a_key_of_the_old_layout(Keyring::Keyutils);
}

/// 32 first calls at once in a fresh keyring namespace, each with its own XDG_CACHE_HOME: the
/// processes agree on one vault (and its directory, whatever their environment), and every
/// session cached is served afterwards by a process with yet another XDG_CACHE_HOME. (That two
/// makers never both win is shown deterministically by the unit test
/// `store::kernel::first_vault`.)
#[test]
fn first_calls_at_once_make_one_vault() {
    let _k = shared();
    let dir = tempfile::tempdir().unwrap();
    let standin = StandIn::start(dir.path());
    let mut bed = Bed::new(Keyring::Keyutils, "race", &standin.url);
    let mut config = String::new();
    for i in 0..32 {
        config.push_str(&format!(
            "[profile {p}-{i}]\nmfa_serial = {s}-{i}\nmfa_env_source_profile = {p}-base\n",
            p = bed.profile,
            s = bed.serial
        ));
    }
    std::fs::write(bed.config_path(), config).unwrap();
    // All start at one moment: each waits for a shared lock the script holds, then released.
    let script = r#"
        exec 9>"$D/gate"; flock 9
        for i in $(seq 0 31); do
          ( flock -s "$D/gate" true
            XDG_CACHE_HOME="$D/cache-$i" "$BIN" -p "$P-$i" --format process --token-code "$((100000 + i))" >/dev/null 2>"$D/first-$i.err" ) &
        done
        sleep 0.5; flock -u 9
        wait
        for i in $(seq 0 31); do
          XDG_CACHE_HOME="$D/cache-other" "$BIN" -p "$P-$i" --format process >/dev/null 2>"$D/again-$i.err" || echo "miss $i"
        done"#;
    let profile = bed.profile.clone();
    bed.set_env("BIN", BIN);
    bed.set_env("P", &profile);
    bed.set_env("D", dir.path().to_str().unwrap());
    let mut cmd = Command::new(system_bin("unshare"));
    // A login of its own in the new namespace, as in `in_private_network`.
    cmd.args(["--user", "--map-current-user", "keyctl", "session", "-"])
        .args(["bash", "-c", script]);
    let out = bed.run_cmd(cmd, None);
    out.ok();
    let errors: String = (0..32)
        .flat_map(|i| [format!("first-{i}.err"), format!("again-{i}.err")])
        .map(|f| std::fs::read_to_string(dir.path().join(f)).unwrap_or_default())
        .collect();
    assert_eq!(
        out.stdout, "",
        "every session is served afterwards\n{errors}"
    );
    assert_eq!(errors, "", "no warning, no error");
    assert_eq!(standin.requests().len(), 32);
}

/// A reboot empties the kernel keyring: the vault key goes, its sealed files stay behind,
/// unreadable. The next call is a plain miss (it asks for a code; no error about the files),
/// a code makes a new vault and session, and later calls are served from it.
#[test]
fn after_a_reboot_the_kernel_store_starts_afresh() {
    // Empties this user's persistent keyring: no other test may use it meanwhile.
    let _k = exclusive();
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start(dir.path());
    let bed = Bed::new(Keyring::Keyutils, "reboot", &moto.url);
    bed.warm();
    bed.run(&["--format", "process"], None).ok();
    let reboot = bed.run_cmd(
        in_login(&bed, "keyctl clear \"$(keyctl get_persistent @s)\""),
        None,
    );
    assert_eq!(reboot.code, Some(0), "{}", reboot.stderr);
    bed.run(&["--format", "process"], None)
        .fails_with("no way to ask for the MFA code");
    bed.warm();
    bed.run(&["--format", "process"], None).ok();
    assert_eq!(
        moto.calls(),
        2,
        "one GetSessionToken before the reboot, one after"
    );
}

/// The kernel store keeps nothing below a directory someone else could change, checked from
/// `/` down on every use: a first call whose XDG_CACHE_HOME is below a directory others can
/// write to gets its session with a warning and records no vault there; a vault an older
/// mfa-env recorded there is not used, and the next session makes a new one, which serves
/// every later call; and a link planted in the store's own directory in place of a vault's
/// leads cleanup nowhere.
#[test]
fn the_kernel_store_keeps_nothing_below_a_directory_others_can_change() {
    let _k = shared();
    let dir = tempfile::tempdir().unwrap();
    let standin = StandIn::start(dir.path());
    let mut bed = Bed::new(Keyring::Keyutils, "unsafe-dir", &standin.url);
    let script = r#"
        run() { local name=$1; shift; env "$@" >"$D/$name.out" 2>"$D/$name.err"; echo $? >"$D/$name.rc"; }
        x="$D/x"; mkdir -p "$x/c"; chmod 777 "$x"
        persistent=$(keyctl get_persistent @s)
        run first XDG_CACHE_HOME="$x/c" "$BIN" -p "$P" --format process --token-code 100001
        keyctl search "$persistent" user mfa-env:vault >/dev/null 2>&1 && echo recorded >"$D/first.vault"
        find "$x/c" -mindepth 1 >"$D/first.files"
        # A vault an older mfa-env made there (it checked the last directory alone).
        mkdir -p "$x/c/mfa-env/kernel-keyring/0123456789abcdef"
        /usr/bin/python3 -c 'import os, sys; sys.stdout.buffer.write(b"\x01" + os.urandom(32) + bytes.fromhex("0123456789abcdef") + sys.argv[1].encode())' \
          "$x/c/mfa-env/kernel-keyring/0123456789abcdef" | keyctl padd user mfa-env:vault "$persistent" >/dev/null
        run second XDG_CACHE_HOME="$D/safe" "$BIN" -p "$P" --format process --token-code 100002
        # Made safe again, the old place stays abandoned: the vault is the new one.
        chmod 755 "$x"
        keyctl pipe "$(keyctl search "$persistent" user mfa-env:vault)" | grep -a -q "$D/safe/" && echo new >"$D/vault"
        run third XDG_CACHE_HOME="$D/elsewhere" "$BIN" -p "$P" --format process
        find "$x/c" -type f >"$D/second.files"
        # Files that look expired and ours, behind a link in place of a vault directory.
        mkdir "$D/victim"; printf 'mfa1\0\0\0\0\0\0\0\0sealed' >"$D/victim/item"
        ln -s "$D/victim" "$D/safe/mfa-env/kernel-keyring/fedcba9876543210"
        "$BIN" -p "$P" clear >/dev/null 2>&1
        run fourth XDG_CACHE_HOME="$D/safe" "$BIN" -p "$P" --format process --token-code 100003
    "#;
    let profile = bed.profile.clone();
    bed.set_env("BIN", BIN);
    bed.set_env("P", &profile);
    bed.set_env("D", dir.path().to_str().unwrap());
    let mut cmd = Command::new(system_bin("unshare"));
    // A fresh persistent keyring (no vault yet) in a login of its own.
    cmd.args(["--user", "--map-current-user", "keyctl", "session", "-"])
        .args(["bash", "-c", script]);
    bed.run_cmd(cmd, None).ok();
    let read = |name: &str| std::fs::read_to_string(dir.path().join(name)).unwrap_or_default();
    let step = |name: &str| Out {
        code: read(&format!("{name}.rc")).trim().parse().ok(),
        stdout: read(&format!("{name}.out")),
        stderr: read(&format!("{name}.err")),
    };
    let x = dir.path().join("x");
    let first = step("first");
    first.ok();
    assert!(
        first
            .stderr
            .contains("the new session is used but not cached")
            && first.stderr.contains(&format!(
                "refusing to keep private files there: others can write to {} above it",
                x.display()
            )),
        "{}",
        first.stderr
    );
    assert_eq!(read("first.vault"), "", "no vault recorded there");
    assert_eq!(read("first.files"), "", "nothing made below it");

    let second = step("second");
    second.ok();
    assert!(
        second
            .stderr
            .contains("the kernel keyring store is not used"),
        "{}",
        second.stderr
    );
    assert_eq!(
        read("vault"),
        "new\n",
        "the vault key names the new directory"
    );
    let third = step("third");
    assert_eq!(third.ok().stderr, "", "served from the new vault");
    assert_eq!(third.stdout, second.stdout);
    assert_eq!(read("second.files"), "", "nothing written below it");

    step("fourth").ok();
    assert!(
        dir.path().join("victim/item").exists(),
        "cleanup followed a planted link"
    );
    assert_eq!(standin.requests().len(), 3, "{}", standin.log());
}

/// `mfa-env console`, the whole way: STS and the console's sign-in by their host names over
/// TLS, a real headless Chromium as `$BROWSER`. The role's session comes from the cached MFA
/// session (no code); the sign-in token only from role credentials; Chromium, handed a private
/// page, lands on the console page that names the role session; the URL is in no stderr, no
/// argv, no file left behind. An MFA-only profile, a partition without a sign-in host, an
/// expired role session, a role that cannot be assumed and an unreachable sign-in host are one
/// line each.
#[test]
fn console_signs_a_role_in_through_a_real_browser() {
    let _k = shared();
    let work = tempfile::tempdir().unwrap();
    let w = work.path();
    std::fs::write(
        w.join("config"),
        "[profile dev]\nmfa_serial = arn:aws:iam::123456789012:mfa/console\nmfa_env_source_profile = base\n\
         [profile admin]\nrole_arn = arn:aws:iam::210987654321:role/ConsoleAdmin\nsource_profile = dev\nrole_session_name = alice-console\n\
         [profile expired]\nrole_arn = arn:aws:iam::210987654321:role/ExpiredRole\nsource_profile = dev\n\
         [profile denied]\nrole_arn = arn:aws:iam::210987654321:role/DeniedRole\nsource_profile = dev\n\
         [profile iso]\nrole_arn = arn:aws-iso:iam::210987654321:role/IsoRole\nsource_profile = dev\n\
         [profile gov]\nmfa_serial = arn:aws-us-gov:iam::123456789012:mfa/gov\nmfa_env_source_profile = base\n\
         [profile gov-admin]\nrole_arn = arn:aws-us-gov:iam::210987654321:role/GovAdmin\nsource_profile = gov\nmfa_env_sts_timeout_seconds = 1\n",
    )
    .unwrap();
    std::fs::write(
        w.join("credentials"),
        format!("[base]\naws_access_key_id = {LT_KEY_ID}\naws_secret_access_key = {LT_SECRET}\n"),
    )
    .unwrap();
    let steps = r#"
        step warm "$BIN" -p dev --format process --token-code 131313
        step mfa-only "$BIN" console -p dev --print
        step print "$BIN" console -p admin --print
        step print-browse chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking --disable-component-update --disable-sync --ignore-certificate-errors-spki-list="$CHROMIUM_SPKI" --user-data-dir="$WORK/chromium-print" --virtual-time-budget=10000 --dump-dom "$(cat "$OUT/print.out")"
        step service "$BIN" console -p admin --print --service ec2 --region eu-west-1
        step other-region "$BIN" console -p admin --print --region cn-north-1
        step bad-destination "$BIN" console -p admin --print --destination https://console.aws.amazon.com.example.net/
        step open BROWSER="$WORK/fixtures/browser.sh" "$BIN" console -p admin
        step argv sh -c 'for f in /proc/[0-9]*/cmdline; do tr "\0" " " <"$f" 2>/dev/null; echo; done'
        step browser-done sh -c 'for i in $(seq 300); do [ -e "$WORK/browser.done" ] && exit 0; sleep 0.1; done; exit 1'
        step no-browser BROWSER= PATH=/nonexistent "$BIN" console -p admin
        step missing-browser BROWSER=:/nonexistent/firefox "$BIN" console -p admin
        step expired "$BIN" console -p expired --print
        step denied "$BIN" console -p denied --print
        step iso "$BIN" console -p iso --print
        step gov-warm "$BIN" -p gov --format process --token-code 141414
        step gov "$BIN" console -p gov-admin --print
    "#;
    std::fs::create_dir(w.join("fixtures")).unwrap();
    std::fs::copy(
        repo().join("tests/fixtures/browser.sh"),
        w.join("fixtures/browser.sh"),
    )
    .unwrap();
    let step = in_private_network(w, steps);
    let log = std::fs::read_to_string(w.join("standin.log")).unwrap();
    let count = |what: &str| log.lines().filter(|l| l.starts_with(what)).count();

    step("warm").ok();
    step("mfa-only").fails_with(
        "profile 'dev' has only an MFA session, and AWS's console sign-in (the federation endpoint) accepts only role or federation-token credentials",
    );
    let print = step("print");
    let url = print.ok().stdout.trim().to_owned();
    assert!(
        url.starts_with(
            "https://signin.aws.amazon.com/federation?Action=login&Issuer=mfa-env&Destination=https%3A%2F%2Fus-east-1.console.aws.amazon.com%2Fconsole%2Fhome%3Fregion%3Dus-east-1&SigninToken=standin-signin-"
        ),
        "{url}"
    );
    assert_eq!(
        print.stderr, "",
        "no code asked: the MFA session was cached"
    );
    assert!(
        step("print-browse")
            .ok()
            .stdout
            .contains(r#"<h1 id="who">210987654321:assumed-role/ConsoleAdmin/alice-console</h1>"#),
        "the printed URL signs in"
    );
    assert!(
        step("service").ok().stdout.contains(
            "Destination=https%3A%2F%2Feu-west-1.console.aws.amazon.com%2Fec2%2Fhome%3Fregion%3Deu-west-1&"
        )
    );
    step("other-region")
        .fails_with("--region \"cn-north-1\" is not a region of the role's partition aws");
    step("bad-destination").fails_with("--destination must be an https:// URL of the console");

    let open = step("open");
    open.ok();
    assert_eq!(
        open.stderr,
        "mfa-env: opened the console for profile 'admin' in the browser\n"
    );
    step("browser-done").ok();
    let dom = std::fs::read_to_string(w.join("dom.html")).unwrap();
    assert!(
        dom.contains(r#"<h1 id="who">210987654321:assumed-role/ConsoleAdmin/alice-console</h1>"#)
            && dom.contains("us-east-1.console.aws.amazon.com/console/home?region=us-east-1"),
        "Chromium landed on the console page as the role: {dom}"
    );
    let handed = std::fs::read_to_string(w.join("browser-argv")).unwrap();
    let page = std::path::Path::new(handed.trim());
    let name = page.file_name().unwrap().to_str().unwrap();
    assert!(
        name.starts_with("console-") && name.ends_with(".html"),
        "the browser got a private page's path, not the URL: {handed}"
    );
    assert!(!page.exists(), "the page is deleted once read: {handed}");
    let dir = std::fs::metadata(page.parent().unwrap()).unwrap();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&dir.permissions()) & 0o777,
        0o700
    );
    // Every process's command line, taken while the browser was still loading.
    let argv = step("argv").ok().stdout.clone();
    for out in ["print", "service", "open", "argv", "print-browse"].map(&step) {
        assert!(!out.stderr.contains("SigninToken") && !out.stderr.contains("standin-signin-"));
    }
    assert!(
        !argv.contains("standin-signin-") && !argv.contains("SigninToken"),
        "{argv}"
    );

    step("no-browser").fails_with("$BROWSER is not set and xdg-open is not installed");
    step("missing-browser")
        .fails_with("$BROWSER names /nonexistent/firefox, which is not installed");
    step("expired").fails_with(
        "the console sign-in at https://signin.aws.amazon.com/federation refused the role session (HTTP 400): it may have expired",
    );
    step("denied").fails_with("AssumeRole");
    step("iso").fails_with("partition aws-iso has no documented console sign-in host");
    step("gov-warm").ok();
    step("gov").fails_with(
        "could not reach the console sign-in at https://signin.amazonaws-us-gov.com/federation: no answer within 1 s",
    );

    assert_eq!(
        count("REQUEST getSigninToken key=ASIAROLECONSOLEADMIN duration=-"),
        3,
        "{log}"
    );
    assert_eq!(
        count("REQUEST getSigninToken"),
        4,
        "print, service, open, expired: {log}"
    );
    assert_eq!(count("REQUEST login destination="), 2, "{log}");
    assert_eq!(
        count("REQUEST AssumeRole role=arn:aws:iam::210987654321:role/ConsoleAdmin"),
        1,
        "one AssumeRole, then the cached role session: {log}"
    );
    assert_eq!(
        log.lines()
            .filter(|l| l.contains(" GetSessionToken "))
            .count(),
        2,
        "dev and gov once each; no other code: {log}"
    );
}
