//! The local credentials endpoint (`exec --server`, `serve`) with real clients: boto3 and the
//! AWS CLI v1 take their sessions from it and renew them from it without a restart; many
//! requests at once share one code; strangers get nothing and cannot stall it.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::*;

/// A bed whose sessions are served for only a few seconds (`mfa_env_min_remaining_seconds`
/// close to `duration_seconds`), and whose codes come from an `mfa_process` that counts its
/// runs and can be slowed down (a person taking their time). Returned with its STS stand-in
/// and the directory the stand-in logs to, which must live as long.
fn bed(keyring: Keyring, name: &str, served_for: u32) -> (tempfile::TempDir, StandIn, Bed) {
    let dir = tempfile::tempdir().unwrap();
    let standin = StandIn::start(dir.path());
    let bed = Bed::new(keyring, name, &standin.url);
    let script = bed.dir.path().join("code.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncd '{dir}'\nn=$(( $(cat runs 2>/dev/null || echo 0) + 1 ))\necho $n > runs\nsleep $(cat delay 2>/dev/null || echo 0)\nprintf '%06d\\n' $((400000 + n))\n",
            dir = bed.dir.path().display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    bed.write_config(&format!(
        "mfa_serial = {}\nmfa_env_source_profile = {}-base\nduration_seconds = 900\nmfa_env_min_remaining_seconds = {}\nmfa_process = {}\n",
        bed.serial,
        bed.profile,
        900 - served_for,
        script.display()
    ));
    (dir, standin, bed)
}

/// How many codes the bed's `mfa_process` gave.
fn codes_given(bed: &Bed) -> usize {
    std::fs::read_to_string(bed.dir.path().join("runs"))
        .map(|s| s.trim().parse().unwrap())
        .unwrap_or(0)
}

/// How many GetSessionToken calls the stand-in received.
fn sessions_issued(standin: &StandIn) -> usize {
    standin
        .requests()
        .iter()
        .filter(|r| r.len() == 6 && r.bytes().all(|b| b.is_ascii_digit()))
        .count()
}

/// A running `mfa-env serve`, and the two variables it printed.
struct Serving {
    child: Child,
    port: u16,
    token: String,
    uri: String,
}

impl Serving {
    fn start(bed: &Bed, extra: &[&str]) -> Serving {
        Serving::start_for(bed, &bed.profile, extra)
    }

    fn start_for(bed: &Bed, profile: &str, extra: &[&str]) -> Serving {
        Serving::start_with(bed, profile, &[&["--verbose"], extra].concat())
    }

    /// Without `--verbose` (whose log, unread until `stop`, would fill its pipe under load).
    fn start_with(bed: &Bed, profile: &str, extra: &[&str]) -> Serving {
        let mut cmd = Command::new(BIN);
        cmd.args(["--profile", profile, "serve"]).args(extra);
        let mut child = bed.spawn_cmd(cmd);
        // Read to the end: `serve` closes its stdout once the two lines are out, so a reader
        // waiting for the end (`$(…)`, a pipe) is not left hanging.
        let mut printed = String::new();
        child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut printed)
            .unwrap();
        let mut lines = printed.lines();
        let mut value = |name: &str| {
            let line = lines
                .next()
                .unwrap_or_else(|| panic!("serve printed no {name}"));
            let rest = line
                .strip_prefix(&format!("export {name}='"))
                .and_then(|r| r.strip_suffix('\''))
                .unwrap_or_else(|| panic!("not an export of {name}: {line}"));
            rest.to_owned()
        };
        let uri = value("AWS_CONTAINER_CREDENTIALS_FULL_URI");
        let token = value("AWS_CONTAINER_AUTHORIZATION_TOKEN");
        let port = uri
            .strip_prefix("http://127.0.0.1:")
            .and_then(|r| r.split('/').next())
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("not a loopback URI: {uri}"));
        Serving {
            child,
            port,
            token,
            uri,
        }
    }

    fn path(&self) -> String {
        self.uri
            .splitn(4, '/')
            .nth(3)
            .map(|p| format!("/{p}"))
            .unwrap()
    }

    /// A GET of the credentials with the token: status and body.
    fn get(&self) -> (u16, String) {
        let req = format!(
            "GET {} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {}\r\nConnection: close\r\n\r\n",
            self.path(),
            self.token
        );
        send(self.port, req.as_bytes(), Duration::from_secs(40)).expect("an answer")
    }

    /// Stops it as a person would (Ctrl-C): its status and stderr.
    fn stop(mut self) -> Out {
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(self.child.id() as i32),
            nix::sys::signal::Signal::SIGINT,
        )
        .unwrap();
        let mut stderr = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        let status = self.child.wait().unwrap();
        Out {
            code: status.code(),
            stdout: String::new(),
            stderr,
        }
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends `raw` and reads the answer until the server closes: status and body, or `None` if
/// the connection was closed or timed out without an answer.
fn send(port: u16, raw: &[u8], timeout: Duration) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(timeout)).unwrap();
    let _ = stream.write_all(raw);
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())?;
    Some((status, body))
}

fn json(body: &str) -> serde_json::Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"))
}

/// The container-credentials answer, with more than the margin left.
fn assert_credentials(body: &str, margin_seconds: i64) -> serde_json::Value {
    let creds = json(body);
    for field in ["AccessKeyId", "SecretAccessKey", "Token", "Expiration"] {
        assert!(creds[field].is_string(), "{field} in {body}");
    }
    assert_eq!(creds["AccountId"], "123456789012", "the device's account");
    let expiration = chrono::DateTime::parse_from_rfc3339(creds["Expiration"].as_str().unwrap())
        .expect("RFC 3339");
    let left = (expiration.with_timezone(&chrono::Utc) - mfa_env::clock::now()).num_seconds();
    assert!(left > margin_seconds, "{left} s left");
    creds
}

/// boto3 in one process, under `exec --server`: its first call is served the session `exec`
/// got, and once that may no longer be served, the same client gets a new one from the
/// endpoint by itself. The command has no session variables and no profile; the endpoint's
/// server has the token nowhere in its argv, and ends with the command.
fn a_running_boto3_client_renews_its_session(keyring: Keyring) {
    let (_dir, standin, mut bed) = bed(keyring, "boto3", 8);
    bed.set_env("AWS_PROFILE", &bed.profile.clone());
    bed.set_env("AWS_ACCESS_KEY_ID", "AKIASTALEKEYINTHEENV");
    let client = r#"
import hashlib, json, os, sys, time
import boto3
env = {k: os.environ.get(k) for k in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN"]}
servers = []
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            stat = open(f"/proc/{pid}/stat").read()
            if int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid():
                servers.append((int(pid), open(f"/proc/{pid}/cmdline").read().replace("\0", " ")))
        except OSError:
            pass
sts = boto3.session.Session(region_name="us-east-1").client("sts")
secrets = []
for i in range(2):
    sts.get_caller_identity()
    creds = sts._request_signer._credentials.get_frozen_credentials()
    secrets.append(hashlib.sha256(creds.secret_key.encode()).hexdigest()[:16])
    if i == 0:
        time.sleep(10)
print(json.dumps({"env": env, "servers": servers, "secrets": secrets}))
"#;
    let mut cmd = Command::new(BIN);
    cmd.args([
        "--profile",
        &bed.profile,
        "exec",
        "--server",
        "--verbose",
        "--",
    ])
    .arg(venv_bin("python"))
    .args(["-c", client]);
    let out = bed.run_cmd(cmd, None);
    out.ok();
    let seen = json(&out.stdout);
    let env = &seen["env"];
    for gone in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
    ] {
        assert!(env[gone].is_null(), "{gone} is set: {env}");
    }
    let uri = env["AWS_CONTAINER_CREDENTIALS_FULL_URI"].as_str().unwrap();
    assert!(uri.starts_with("http://127.0.0.1:"), "{uri}");
    let token = env["AWS_CONTAINER_AUTHORIZATION_TOKEN"].as_str().unwrap();
    assert!(token.len() >= 32, "a token of at least 128 bits: {token}");
    let secrets = seen["secrets"].as_array().unwrap();
    assert_ne!(secrets[0], secrets[1], "the second call used a new session");
    assert_eq!(sessions_issued(&standin), 2, "{}", standin.log());
    assert_eq!(codes_given(&bed), 2);
    // The successor was fetched by the server before the client asked (the session it held
    // was within the margin), or when it asked: either way one request log line each, all 200.
    assert!(out.stderr.contains(" 200 cached"), "{}", out.stderr);
    assert!(
        out.stderr
            .lines()
            .filter(|l| l.starts_with("mfa-env: 2"))
            .all(|l| l.contains(" 200 ")),
        "{}",
        out.stderr
    );
    assert_no_secret(&out.stderr, &[token, "standinSessionSecret"], "stderr");

    let servers = seen["servers"].as_array().unwrap();
    assert_eq!(
        servers.len(),
        1,
        "one server beside the command: {servers:?}"
    );
    let argv = servers[0][1].as_str().unwrap();
    assert!(argv.contains("serve --exec-parent"), "{argv}");
    assert_no_secret(argv, &[token], "the server's argv");
    let pid = servers[0][0].as_u64().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::path::Path::new(&format!("/proc/{pid}")).exists() {
        assert!(Instant::now() < deadline, "the server outlived its command");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_no_secret(
        &bed.files_text(),
        &[token, "standinSessionSecret"],
        "the bed's files",
    );
}

/// The AWS CLI under `exec --server`: each `aws` process takes the session from the endpoint;
/// after `mfa-env clear` the next one gets a new session, with the next code. One
/// GetSessionToken per session, however many calls.
fn the_aws_cli_takes_its_sessions_from_the_endpoint(keyring: Keyring) {
    let (_dir, standin, bed) = bed(keyring, "cli", 600);
    let script = format!(
        "set -e\nfor i in 1 2; do '{aws}' sts get-caller-identity --region us-east-1 >/dev/null; done\n'{bin}' --profile '{p}' clear\nfor i in 1 2 3; do '{aws}' sts get-caller-identity --region us-east-1 >/dev/null; done\nexit 7\n",
        aws = venv_bin("aws").display(),
        bin = BIN,
        p = bed.profile
    );
    let mut cmd = Command::new(BIN);
    cmd.args([
        "--profile",
        &bed.profile,
        "exec",
        "--server",
        "--",
        "sh",
        "-c",
        &script,
    ]);
    let out = bed.run_cmd(cmd, None);
    assert_eq!(out.code, Some(7), "the command's status: {}", out.stderr);
    assert_eq!(sessions_issued(&standin), 2, "{}", standin.log());
    assert_eq!(codes_given(&bed), 2);
    let calls = standin
        .log()
        .lines()
        .filter(|l| l.contains(" GetCallerIdentity by=ASIA"))
        .count();
    assert_eq!(calls, 5, "every aws call was signed with a session");
}

for_each_keyring!(
    a_running_boto3_client_renews_its_session,
    the_aws_cli_takes_its_sessions_from_the_endpoint,
    closed_descriptors_still_give_a_served_command,
);

/// 32 requests at once on an empty cache: one code, one GetSessionToken, one session for all.
#[test]
fn requests_at_once_share_one_code() {
    let _k = shared();
    let (_dir, standin, bed) = bed(Keyring::Keyutils, "burst", 600);
    let serving = Serving::start(&bed, &[]);
    assert_eq!(sessions_issued(&standin), 1, "serve gets the first session");
    bed.run(&["clear"], None).ok();
    std::fs::write(bed.dir.path().join("delay"), "1").unwrap();
    let answers: Vec<_> = std::thread::scope(|s| {
        let workers: Vec<_> = (0..32).map(|_| s.spawn(|| serving.get())).collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    let keys: std::collections::BTreeSet<_> = answers
        .iter()
        .map(|(status, body)| {
            assert_eq!(*status, 200, "{body}");
            assert_credentials(body, 600)["SecretAccessKey"].to_string()
        })
        .collect();
    assert_eq!(keys.len(), 1, "one session for all");
    assert_eq!(codes_given(&bed), 2);
    assert_eq!(sessions_issued(&standin), 2, "{}", standin.log());
    let stopped = serving.stop();
    assert_eq!(stopped.code, Some(0), "{}", stopped.stderr);
    let log: Vec<_> = stopped
        .stderr
        .lines()
        .filter(|l| l.contains(" 200 "))
        .collect();
    assert_eq!(log.len(), 32, "one line per request: {}", stopped.stderr);
}

/// A request that needs a code gives up (as SDKs do after a second or two) while the person
/// is still typing: the fetch goes on, and the next request is served the new session at once.
#[test]
fn a_client_that_gives_up_does_not_lose_the_session() {
    let _k = shared();
    let (_dir, standin, bed) = bed(Keyring::SecretService, "patient", 600);
    let serving = Serving::start(&bed, &[]);
    bed.run(&["clear"], None).ok();
    std::fs::write(bed.dir.path().join("delay"), "3").unwrap();
    let impatient = format!(
        "GET {} HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nConnection: close\r\n\r\n",
        serving.path(),
        serving.token
    );
    assert_eq!(
        send(serving.port, impatient.as_bytes(), Duration::from_secs(1)),
        None,
        "the client gave up first"
    );
    std::thread::sleep(Duration::from_secs(3));
    let asked = Instant::now();
    let (status, body) = serving.get();
    assert_eq!(status, 200, "{body}");
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "served at once, took {:?}",
        asked.elapsed()
    );
    assert_credentials(&body, 600);
    assert_eq!(codes_given(&bed), 2, "no second code");
    assert_eq!(sessions_issued(&standin), 2, "{}", standin.log());
}

/// A request waits for a code at most `mfa_env_lock_timeout_seconds`, then gets a 503 that
/// says a code is awaited; the fetch goes on, and serves the next request.
#[test]
fn a_request_waits_for_a_code_no_longer_than_the_lock_timeout() {
    let _k = shared();
    let (_dir, standin, bed) = bed(Keyring::Keyutils, "waiting", 600);
    bed.append_config("mfa_env_lock_timeout_seconds = 2\n");
    let serving = Serving::start(&bed, &[]);
    bed.run(&["clear"], None).ok();
    std::fs::write(bed.dir.path().join("delay"), "5").unwrap();
    let asked = Instant::now();
    let (status, body) = serving.get();
    let waited = asked.elapsed();
    assert_eq!(status, 503, "{body}");
    assert!(
        json(&body)["message"]
            .as_str()
            .unwrap()
            .contains("still waiting for an MFA code"),
        "{body}"
    );
    assert!(
        waited >= Duration::from_secs(2) && waited < Duration::from_secs(4),
        "{waited:?}"
    );
    std::thread::sleep(Duration::from_secs(4));
    let (status, body) = serving.get();
    assert_eq!(status, 200, "{body}");
    assert_eq!(codes_given(&bed), 2);
    assert_eq!(sessions_issued(&standin), 2, "{}", standin.log());
}

/// With no way to get a code, a request gets a 500 whose body says why, at once.
#[test]
fn no_code_to_be_had_is_an_error_the_client_can_show() {
    let _k = shared();
    let dir = tempfile::tempdir().unwrap();
    let standin = StandIn::start(dir.path());
    let bed = Bed::new(Keyring::Keyutils, "nocode", &standin.url);
    bed.warm();
    let serving = Serving::start(&bed, &[]);
    bed.run(&["clear"], None).ok();
    let asked = Instant::now();
    let (status, body) = serving.get();
    assert_eq!(status, 500, "{body}");
    assert!(
        json(&body)["message"]
            .as_str()
            .unwrap()
            .contains("no way to ask for the MFA code"),
        "{body}"
    );
    assert!(asked.elapsed() < Duration::from_secs(5));
    let stopped = serving.stop();
    assert!(
        stopped.stderr.contains(" 500 no session"),
        "{}",
        stopped.stderr
    );
}

/// Strangers: no token, a wrong one, another path or method, a 1 MiB request, a slowloris
/// and an idle connection. Each is refused or cut in bounded time with no secret in the
/// answer, and a good request is served meanwhile and after.
#[test]
fn strangers_get_nothing_and_cannot_stall_it() {
    let _k = shared();
    let (_dir, _standin, bed) = bed(Keyring::Keyutils, "strangers", 600);
    let serving = Serving::start(&bed, &[]);
    let (path, token) = (serving.path(), serving.token.clone());
    let wrong: String = token.chars().rev().collect();
    let cases = [
        (
            format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
            401,
        ),
        (
            format!(
                "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {wrong}\r\nConnection: close\r\n\r\n"
            ),
            403,
        ),
        (
            format!(
                "GET {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {token}x\r\nConnection: close\r\n\r\n"
            ),
            403,
        ),
        (
            format!(
                "GET /latest/meta-data/ HTTP/1.1\r\nHost: x\r\nAuthorization: {token}\r\nConnection: close\r\n\r\n"
            ),
            404,
        ),
        (
            format!(
                "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: {token}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            ),
            405,
        ),
    ];
    for (raw, expected) in &cases {
        let (status, body) = send(serving.port, raw.as_bytes(), Duration::from_secs(5))
            .unwrap_or_else(|| panic!("no answer to {raw}"));
        assert_eq!(status, *expected, "{raw}: {body}");
        assert_no_secret(
            &body,
            &[&token, "standinSessionSecret", "Token"],
            "a refusal",
        );
    }

    // A refusal ends the connection, even one the client asked to keep.
    let keep = format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
    let started = Instant::now();
    let (status, _) = send(serving.port, keep.as_bytes(), Duration::from_secs(10)).unwrap();
    assert_eq!(status, 401);
    assert!(started.elapsed() < Duration::from_secs(3), "closed at once");

    // Bytes that are no HTTP at all: refused or cut, in bounded time.
    let started = Instant::now();
    if let Some((status, body)) = send(
        serving.port,
        b"\x00\x01\xffGARBAGE \r\n\r\n",
        Duration::from_secs(10),
    ) {
        assert!(status >= 400, "{status}: {body}");
    }
    assert!(started.elapsed() < Duration::from_secs(6));

    // 1 MiB of headers: refused or cut, in bounded time.
    let huge = format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\nX-Pad: {}\r\n\r\n",
        "a".repeat(1 << 20)
    );
    let started = Instant::now();
    if let Some((status, body)) = send(serving.port, huge.as_bytes(), Duration::from_secs(10)) {
        assert!(status >= 400, "{status}: {body}");
    }
    assert!(started.elapsed() < Duration::from_secs(8));

    // A slowloris connection (a header byte every half second) and an idle one.
    let mut slow = TcpStream::connect(("127.0.0.1", serving.port)).unwrap();
    let idle = TcpStream::connect(("127.0.0.1", serving.port)).unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nX-Slow: ").unwrap();
    let started = Instant::now();
    let cut = loop {
        std::thread::sleep(Duration::from_millis(500));
        let (status, body) = serving.get();
        assert_eq!(status, 200, "served meanwhile: {body}");
        if slow.write_all(b"a").is_err() {
            break started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the slowloris connection was never cut"
        );
    };
    assert!(cut < Duration::from_secs(12), "cut after {cut:?}");
    let mut idle = idle;
    idle.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut rest = Vec::new();
    let closed = idle.read_to_end(&mut rest);
    assert!(closed.is_ok(), "the idle connection was cut: {closed:?}");

    let (status, body) = serving.get();
    assert_eq!(status, 200, "{body}");
    assert_credentials(&body, 600);
    let stopped = serving.stop();
    assert_no_secret(&stopped.stderr, &[&token, "standinSessionSecret"], "stderr");
}

/// `--format sts`: the JSON `aws sts get-session-token` prints, for scripts and agent tools.
#[test]
fn format_sts_prints_what_get_session_token_prints() {
    let _k = shared();
    let dir = tempfile::tempdir().unwrap();
    let moto = Moto::start(dir.path());
    let bed = Bed::new(Keyring::Keyutils, "sts-format", &moto.url);
    let process = bed.warm().json();
    let out = bed.run(&["--format", "sts"], None);
    out.ok();
    let sts = out.json();
    let creds = &sts["Credentials"];
    assert_eq!(creds["AccessKeyId"], process["AccessKeyId"]);
    assert_eq!(creds["SecretAccessKey"], process["SecretAccessKey"]);
    assert_eq!(creds["SessionToken"], process["SessionToken"]);
    assert_eq!(creds["Expiration"], process["Expiration"]);
    assert_eq!(sts.as_object().unwrap().len(), 1, "{sts}");

    let refused = bed.run(&["serve", "--format", "sts"], None);
    assert_eq!(refused.code, Some(2), "{}", refused.stderr);
    assert!(
        refused.stderr.contains("invalid value 'sts'"),
        "{}",
        refused.stderr
    );
}

/// A `[default]` profile with a long-term key would win over the endpoint in the command's
/// SDKs (they read the files before the container endpoint): `exec --server` says so.
#[test]
fn exec_server_warns_of_a_default_profile_that_wins() {
    let _k = shared();
    let (_dir, _standin, bed) = bed(Keyring::Keyutils, "shadow", 600);
    let run = || {
        let mut cmd = Command::new(BIN);
        cmd.args(["--profile", &bed.profile, "exec", "--server", "--", "true"]);
        bed.run_cmd(cmd, None)
    };
    let clean = run();
    assert_eq!(clean.code, Some(0), "{}", clean.stderr);
    assert!(
        !clean.stderr.contains("profile 'default'"),
        "{}",
        clean.stderr
    );
    let mut creds = std::fs::read_to_string(bed.credentials_path()).unwrap();
    creds.push_str(&format!(
        "\n[default]\naws_access_key_id = {LT_KEY_ID}\naws_secret_access_key = {LT_SECRET}\n"
    ));
    std::fs::write(bed.credentials_path(), creds).unwrap();
    let warned = run();
    assert_eq!(warned.code, Some(0), "{}", warned.stderr);
    assert!(
        warned.stderr.contains(
            "profile 'default' has aws_access_key_id, which SDKs in the command use before the endpoint"
        ),
        "{}",
        warned.stderr
    );
    assert_no_secret(&warned.stderr, &[LT_KEY_ID, LT_SECRET], "stderr");
}

/// A client holds its session until it nearly runs out, and some (the Go SDK) ask again only
/// then: once a session a client was served is within the margin, the server fetches the next
/// one by itself, and the client's next request is served it from the cache.
#[test]
fn a_held_session_is_renewed_before_it_runs_out() {
    let _k = shared();
    let (_dir, standin, bed) = bed(Keyring::Keyutils, "renew", 4);
    let serving = Serving::start(&bed, &[]);
    let (status, body) = serving.get();
    assert_eq!(status, 200, "{body}");
    let first = json(&body)["SecretAccessKey"].clone();
    let deadline = Instant::now() + Duration::from_secs(20);
    while codes_given(&bed) < 2 {
        assert!(
            Instant::now() < deadline,
            "no renewal without a request: {}",
            standin.log()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_millis(500));
    let (status, body) = serving.get();
    assert_eq!(status, 200, "{body}");
    assert_ne!(json(&body)["SecretAccessKey"], first, "the successor");
    assert_eq!(sessions_issued(&standin), 2, "{}", standin.log());
    let stopped = serving.stop();
    let log: Vec<_> = stopped
        .stderr
        .lines()
        .filter(|l| l.contains(" 200 "))
        .collect();
    assert!(
        log.len() == 2 && log.iter().all(|l| l.ends_with(" 200 cached")),
        "both served from the cache: {}",
        stopped.stderr
    );
}

/// Strangers holding every connection slot do not keep the owner's client out: the oldest
/// stranger gives way.
#[test]
fn strangers_holding_every_slot_give_way_to_the_owner() {
    let _k = shared();
    let (_dir, _standin, bed) = bed(Keyring::Keyutils, "crowd", 600);
    let serving = Serving::start(&bed, &[]);
    // In batches, so that the listen backlog never overflows and every one is accepted.
    let mut crowd = Vec::new();
    for _ in 0..6 {
        for _ in 0..50 {
            crowd.push(TcpStream::connect(("127.0.0.1", serving.port)).unwrap());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(300));
    // The slots are full: the server keeps at most 256 and closed the rest.
    let open = crowd
        .iter()
        .filter(|c| {
            c.set_nonblocking(true).unwrap();
            let mut b = [0u8; 1];
            matches!((&**c).read(&mut b), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock)
        })
        .count();
    assert_eq!(open, 256, "connections the server holds");
    let asked = Instant::now();
    let (status, body) = serving.get();
    assert_eq!(status, 200, "{body}");
    assert!(
        asked.elapsed() < Duration::from_secs(2),
        "served while the crowd waits, took {:?}",
        asked.elapsed()
    );
    drop(crowd);
}

/// A renewal the person cancels (here an `mfa_process` that fails, as a dialog's Cancel or a
/// YubiKey nobody touches does) is not asked for again every few seconds until the session
/// ends: the server goes for a held session's successor once; requests within a minute get
/// that failure at once (an SDK's retries run nothing); a request after the minute asks again.
#[test]
fn a_cancelled_renewal_is_not_asked_again_within_a_minute() {
    let _k = shared();
    let (_dir, _standin, bed) = bed(Keyring::Keyutils, "nag", 4);
    let serving = Serving::start(&bed, &[]);
    let (status, body) = serving.get();
    assert_eq!(status, 200, "a client holds the session: {body}");
    assert_eq!(codes_given(&bed), 1);
    // From now on mfa_process runs (and is counted) but gives no code.
    std::fs::write(
        bed.dir.path().join("code.sh"),
        format!(
            "#!/bin/sh\ncd '{}'\necho $(( $(cat runs) + 1 )) > runs\nexit 1\n",
            bed.dir.path().display()
        ),
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while codes_given(&bed) < 2 {
        assert!(
            Instant::now() < deadline,
            "the held session was not renewed"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let failed_at = Instant::now();
    std::thread::sleep(Duration::from_secs(20));
    assert_eq!(codes_given(&bed), 2, "no second try of the server's own");
    for _ in 0..3 {
        let asked = Instant::now();
        let (status, body) = serving.get();
        assert_eq!(status, 500, "{body}");
        assert!(body.contains("mfa_process"), "{body}");
        assert!(asked.elapsed() < Duration::from_secs(1), "answered at once");
    }
    assert_eq!(
        codes_given(&bed),
        2,
        "the failure answers requests within a minute"
    );
    std::thread::sleep(
        (failed_at + Duration::from_secs(61)).saturating_duration_since(Instant::now()),
    );
    let (status, _) = serving.get();
    assert_eq!(status, 500);
    assert_eq!(
        codes_given(&bed),
        3,
        "a client's request a minute later asks again"
    );
}

/// A role profile is served the role's credentials: AssumeRole signed with the MFA session,
/// both cached, so the next request is a cache read.
#[test]
fn a_role_profile_is_served_the_role() {
    let _k = shared();
    let (_dir, standin, bed) = bed(Keyring::SecretService, "role", 600);
    let role = format!("{}-ops", bed.profile);
    bed.append_config(&format!(
        "[profile {role}]\nrole_arn = arn:aws:iam::123456789012:role/Ops\nsource_profile = {}\n",
        bed.profile
    ));
    let serving = Serving::start_for(&bed, &role, &[]);
    for _ in 0..2 {
        let (status, body) = serving.get();
        assert_eq!(status, 200, "{body}");
        let creds = assert_credentials(&body, 0);
        assert!(
            creds["AccessKeyId"]
                .as_str()
                .unwrap()
                .starts_with("ASIAROLE"),
            "the role's keys: {body}"
        );
    }
    let log = standin.log();
    assert_eq!(sessions_issued(&standin), 1, "{log}");
    assert_eq!(
        log.matches("REQUEST AssumeRole role=arn:aws:iam::123456789012:role/Ops by=ASIA")
            .count(),
        1,
        "{log}"
    );
}

/// A python program (the test venv's) that asks the endpoint in its environment once, with a
/// one-second timeout, as SDKs do, and prints the status or the error.
const ASK_ONCE: &str = r#"
import os, urllib.request
req = urllib.request.Request(os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"],
                             headers={"Authorization": os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"]})
try:
    print(urllib.request.urlopen(req, timeout=1).status)
except Exception as e:
    print(type(e).__name__)
"#;

/// `exec --server` started with its stdin or its stdout closed (`<&-`, `>&-`): the listening
/// socket must not land on fd 0 or 1 (the server would get the wrong fd 3 and never serve).
/// The command is served at once; and while it runs, the port stays bound even after the
/// server is killed (the command holds the socket too), so no other process can take it.
fn closed_descriptors_still_give_a_served_command(keyring: Keyring) {
    let (_dir, standin, bed) = bed(keyring, "closed-fd", 600);
    let report = bed.dir.path().join("report");
    let client = format!(
        r#"
import json, os, signal, socket, sys, time, urllib.request
out = {{}}
uri = os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
port = int(uri.split(":")[2].split("/")[0])
req = urllib.request.Request(uri, headers={{"Authorization": os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"]}})
out["status"] = urllib.request.urlopen(req, timeout=2).status
out["fd0"] = os.readlink("/proc/self/fd/0")
if sys.argv[1] == "kill":
    for pid in os.listdir("/proc"):
        if pid.isdigit() and pid != str(os.getpid()):
            try:
                stat = open(f"/proc/{{pid}}/stat").read()
                if int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid():
                    os.kill(int(pid), signal.SIGKILL)
                    out["killed"] = int(pid)
            except OSError:
                pass
    time.sleep(0.5)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind(("127.0.0.1", port))
        out["bind"] = "bound"
    except OSError as e:
        out["bind"] = e.strerror
open("{report}", "w").write(json.dumps(out))
"#,
        report = report.display()
    );
    for (case, redirect) in [("stdin", "<&-"), ("stdout", ">&-"), ("kill", "")] {
        let _ = std::fs::remove_file(&report);
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!(
                "\"$0\" --profile \"$1\" exec --server -- \"$2\" -c \"$3\" \"$4\" {redirect}"
            ))
            .arg(BIN)
            .arg(&bed.profile)
            .arg(venv_bin("python"))
            .arg(&client)
            .arg(case);
        let out = bed.run_cmd(cmd, None);
        assert_eq!(out.code, Some(0), "{case}: {}", out.stderr);
        let seen = json(&std::fs::read_to_string(&report).unwrap_or_else(|e| {
            panic!("{case}: the command did not report ({e}): {}", out.stderr)
        }));
        assert_eq!(seen["status"], 200, "{case}: served at once: {seen}");
        if case == "stdin" {
            assert_eq!(seen["fd0"], "/dev/null", "{seen}");
        }
        if case == "kill" {
            assert!(seen["killed"].is_u64(), "the server was found: {seen}");
            assert_eq!(
                seen["bind"], "Address already in use",
                "the port stays the command's after the server died: {seen}"
            );
        }
    }
    assert_eq!(sessions_issued(&standin), 1, "{}", standin.log());
}

/// The programs a server runs for a code (`mfa_process` here; dialogs alike) start with no
/// signal ignored or blocked, although the server of `exec --server` ignores the terminal's
/// and job control's signals: Ctrl-C and logout must still stop a `ykman` waiting for a touch.
#[test]
fn a_servers_mfa_process_starts_with_default_signals() {
    let _k = shared();
    let (_dir, standin, bed) = bed(Keyring::Keyutils, "signals", 600);
    let status = bed.dir.path().join("signals");
    let script = bed.dir.path().join("code.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n# Read by the shell itself (builtins only): a child would see the shell's mask while it waits.\nwhile IFS= read -r l; do case \"$l\" in SigIgn*|SigBlk*) echo \"$l\";; esac; done < /proc/$$/status > '{status}'\ncd '{dir}'\nn=$(( $(cat runs 2>/dev/null || echo 0) + 1 ))\necho $n > runs\nprintf '%06d\\n' $((400000 + n))\n",
            status = status.display(),
            dir = bed.dir.path().display()
        ),
    )
    .unwrap();
    let mut cmd = Command::new(BIN);
    cmd.args([
        "--profile",
        &bed.profile,
        "exec",
        "--server",
        "--",
        "sh",
        "-c",
    ])
    .arg(format!(
        "rm -f '{status}'; \"$0\" --profile '{p}' clear >/dev/null 2>&1; \"$1\" -c \"$2\"",
        status = status.display(),
        p = bed.profile
    ))
    .arg(BIN)
    .arg(venv_bin("python"))
    .arg(ASK_ONCE);
    let out = bed.run_cmd(cmd, None);
    assert_eq!(out.code, Some(0), "{}", out.stderr);
    assert_eq!(out.stdout.trim(), "200", "served: {}", out.stderr);
    let seen = std::fs::read_to_string(&status).expect("the server ran mfa_process");
    assert_eq!(
        seen, "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n",
        "mfa_process's signals"
    );
    assert_eq!(sessions_issued(&standin), 2, "{}", standin.log());
}

/// The command ends while the server's hidden prompt is open on the terminal they share: the
/// terminal must echo again afterwards (the server is told with a signal it can handle, not
/// SIGKILL), and the prompt says that it is mfa-env's server asking, for which profile.
#[test]
fn a_command_ending_during_a_server_prompt_leaves_the_terminal_echoing() {
    let _k = shared();
    let dir = tempfile::tempdir().unwrap();
    let standin = StandIn::start(dir.path());
    let mut bed = Bed::new(Keyring::Keyutils, "echo", &standin.url);
    bed.warm();
    let inner = bed.dir.path().join("inner.sh");
    std::fs::write(
        &inner,
        "\"$BIN\" --profile \"$P\" clear >/dev/null 2>&1\n\"$PY\" -c \"$ASK\"\nsleep 1\n",
    )
    .unwrap();
    let outer = format!(
        "\"$BIN\" --profile \"$P\" exec --server -- sh '{}'\necho COMMAND-ENDED >/dev/tty\nsleep 10\n",
        inner.display()
    );
    bed.set_env("BIN", BIN);
    bed.set_env("P", &bed.profile.clone());
    bed.set_env("PY", venv_bin("python").to_str().unwrap());
    bed.set_env("ASK", ASK_ONCE);
    // A display left over from a desktop that is gone (a tmux session outliving it): the
    // server, which would prefer a dialog, asks on the terminal instead.
    bed.set_env("DISPLAY", ":987");
    let mut sh = Command::new("sh");
    sh.arg("-c").arg(outer);
    let t = common::pty::Typist::spawn_cmd(&bed, sh);
    t.wait_for(&format!("MFA code for profile '{}'", bed.profile), 1);
    assert!(!t.echo_on(), "the prompt hides what is typed");
    t.wait_for("COMMAND-ENDED", 1);
    let deadline = Instant::now() + Duration::from_secs(3);
    while !t.echo_on() {
        assert!(
            Instant::now() < deadline,
            "the terminal was left without echo: {:?}",
            t.screen()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let said = format!(
        "needs a new session for profile '{}'; type the code here, not into the program it serves.",
        bed.profile
    );
    assert!(
        t.screen().contains("mfa-env (credentials server, pid ") && t.screen().contains(&said),
        "the prompt says who asks: {:?}",
        t.screen()
    );
    assert_eq!(sessions_issued(&standin), 1, "no code was typed");
}

/// A flood: another local process keeps thousands of idle connections open and opens new ones
/// all the time, while the owner's client asks with the token, one request after another. Every
/// request that carries the token is answered (the server never closes an owner's connection
/// unread to make room; SDKs retry, but must not need to).
#[test]
fn a_flood_of_idle_connections_fails_no_token_request() {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    let _k = shared();
    const HELD: usize = 5_000;
    const REQUESTS: usize = 2_000;
    // Room for the flood's descriptors in this process.
    let mut limit = nix::libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit with a valid struct.
    unsafe {
        nix::libc::getrlimit(nix::libc::RLIMIT_NOFILE, &mut limit);
        assert!(
            limit.rlim_max >= (HELD + 1_000) as u64,
            "the flood needs {} open files; the hard limit is {}",
            HELD + 1_000,
            limit.rlim_max
        );
        limit.rlim_cur = limit.rlim_max;
        nix::libc::setrlimit(nix::libc::RLIMIT_NOFILE, &limit);
    }
    let (_dir, _standin, bed) = bed(Keyring::Keyutils, "flood", 600);
    let serving = Serving::start_with(&bed, &bed.profile, &[]);
    let stop = AtomicBool::new(false);
    let most = AtomicUsize::new(0);
    let (failures, sent, slowest) = std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                let addr = std::net::SocketAddr::from(([127, 0, 0, 1], serving.port));
                let mut held = std::collections::VecDeque::new();
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(c) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) {
                        held.push_back(c);
                    }
                    if held.len() >= HELD / 2 {
                        // Keep the pressure on: the oldest tenth go, new ones come.
                        held.drain(..HELD / 20);
                    }
                    most.fetch_max(held.len() * 2, Ordering::Relaxed);
                }
            });
        }
        // The flood builds up before the owner asks.
        while most.load(Ordering::Relaxed) < HELD * 9 / 10 {
            std::thread::sleep(Duration::from_millis(50));
        }
        let owners: Vec<_> = (0..2)
            .map(|_| {
                s.spawn(|| {
                    let (mut failed, mut slowest) = (Vec::new(), Duration::ZERO);
                    for _ in 0..REQUESTS / 2 {
                        let asked = Instant::now();
                        let req = format!(
                            "GET {} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {}\r\nConnection: close\r\n\r\n",
                            serving.path(),
                            serving.token
                        );
                        match send(serving.port, req.as_bytes(), Duration::from_secs(10)) {
                            Some((200, _)) => {}
                            other => failed.push(format!("{:?}", other.map(|(s, _)| s))),
                        }
                        slowest = slowest.max(asked.elapsed());
                    }
                    (failed, slowest)
                })
            })
            .collect();
        let mut failures = Vec::new();
        let mut slowest = Duration::ZERO;
        for o in owners {
            let (f, s) = o.join().unwrap();
            failures.extend(f);
            slowest = slowest.max(s);
        }
        stop.store(true, Ordering::Relaxed);
        (failures, REQUESTS, slowest)
    });
    eprintln!(
        "flood: up to {} connections held, {sent} token requests, {} failed, slowest {slowest:?}",
        most.load(Ordering::Relaxed),
        failures.len()
    );
    assert!(failures.is_empty(), "failed requests: {failures:?}");
}

/// A failure that asked nobody in vain (STS answered 500) answers for itself only 10 s: the
/// next request after that fetches again, and is served once STS is back.
#[test]
fn an_sts_failure_answers_for_ten_seconds_only() {
    let _k = shared();
    let (_dir, _standin, bed) = bed(Keyring::Keyutils, "sts-blip", 600);
    let serving = Serving::start(&bed, &[]);
    let script = bed.dir.path().join("code.sh");
    let counting = std::fs::read_to_string(&script).unwrap();
    // The stand-in answers the code 500500 with an HTTP 500.
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncd '{}'\necho $(( $(cat runs) + 1 )) > runs\necho 500500\n",
            bed.dir.path().display()
        ),
    )
    .unwrap();
    bed.run(&["clear"], None).ok();
    let (status, body) = serving.get();
    assert_eq!(status, 500, "{body}");
    assert!(body.contains("InternalFailure"), "{body}");
    let failed_at = Instant::now();
    std::fs::write(&script, counting).unwrap();
    let (status, _) = serving.get();
    assert_eq!(status, 500, "remembered for a moment");
    assert_eq!(codes_given(&bed), 2);
    std::thread::sleep(
        (failed_at + Duration::from_secs(11)).saturating_duration_since(Instant::now()),
    );
    let (status, body) = serving.get();
    assert_eq!(status, 200, "fetched again after 10 s: {body}");
    assert_eq!(codes_given(&bed), 3);
}
