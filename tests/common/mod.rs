//! The test bed: the built binary run as a user would run it, against real parts — the Secret
//! Service and kernel keyring of the session `scripts/test` sets up, moto's STS server on
//! 127.0.0.1, and the AWS CLI v1 from the test venv. A missing part fails the test with the
//! setup step that provides it; nothing is skipped.
#![allow(dead_code)]

pub mod pty;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The binary under test: this build's, or the one `MFA_ENV_TEST_BIN` names when the tests
/// were compiled (scripts/test runs the CLI suites a second time against the shipped release
/// build, statically linked as `install` makes it).
pub const BIN: &str = match option_env!("MFA_ENV_TEST_BIN") {
    Some(bin) => bin,
    None => env!("CARGO_BIN_EXE_mfa-env"),
};
/// Long-term key pair of the tests' IAM user. Distinct from moto's fixed session values, so a
/// leak check can tell them apart.
pub const LT_KEY_ID: &str = "AKIAMFAENVTESTKEY001";
pub const LT_SECRET: &str = "mfaEnvTestLongTermSecret/0123456789abcdef";
pub const CODE: &str = "246810";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Keyring {
    SecretService,
    Keyutils,
}

impl Keyring {
    pub fn arg(self) -> &'static str {
        match self {
            Keyring::SecretService => "secret-service",
            Keyring::Keyutils => "keyutils",
        }
    }
}

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A program from the test venv, or a failure that names the setup step.
pub fn venv_bin(name: &str) -> PathBuf {
    let p = repo().join(".test-env/venv/bin").join(name);
    assert!(
        p.exists(),
        "{} is missing: run scripts/setup-test-env (scripts/test does)",
        p.display()
    );
    p
}

/// A system program, or a failure that names the setup step.
pub fn system_bin(name: &str) -> PathBuf {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join(name))
        .find(|p| p.exists())
        .unwrap_or_else(|| {
            panic!("`{name}` is not installed: run scripts/setup-test-env (scripts/test does)")
        })
}

/// Fails unless the test runs inside the session scripts/test prepares.
pub fn require_test_bed() {
    assert!(
        std::env::var_os("MFA_ENV_TEST_BED").is_some()
            && std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some()
            && std::env::var_os("MFA_ENV_TEST_HOME").is_some(),
        "these tests need the Secret Service, session keyring and home that scripts/test sets up (scripts/with-test-keyring): run `scripts/test`"
    );
}

/// The home directory of the test bed's one user, which every bed's mfa-env runs with: as one
/// user's processes do, they all meet at the lock files kept there.
pub fn user_home() -> PathBuf {
    PathBuf::from(
        std::env::var_os("MFA_ENV_TEST_HOME")
            .expect("MFA_ENV_TEST_HOME is set by scripts/with-test-keyring: run `scripts/test`"),
    )
}

/// Tests share the bed's two keyrings. Most only touch their own uniquely named items and run
/// side by side (`shared`); a test of `clear --all` wipes everything and runs alone
/// (`exclusive`).
static KEYRINGS: std::sync::RwLock<()> = std::sync::RwLock::new(());

pub fn shared() -> std::sync::RwLockReadGuard<'static, ()> {
    KEYRINGS.read().unwrap_or_else(|e| e.into_inner())
}

pub fn exclusive() -> std::sync::RwLockWriteGuard<'static, ()> {
    KEYRINGS.write().unwrap_or_else(|e| e.into_inner())
}

/// A name no earlier run left in the (persistent) keyrings.
#[allow(clippy::disallowed_methods)] // only for uniqueness, not for expiry logic
pub fn unique(name: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "{name}-{}-{nanos:x}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

/// moto's server on a free loopback port; killed on drop.
pub struct Moto {
    child: Child,
    pub url: String,
    log: PathBuf,
}

impl Moto {
    pub fn start(dir: &Path) -> Moto {
        // The port is free when chosen, but another test may take it before moto binds it:
        // then moto exits, and a new port is tried rather than talking to whoever has it.
        for _ in 0..5 {
            let port = free_port();
            let log = dir.join(format!("moto-{port}.log"));
            let mut child = Command::new(venv_bin("moto_server"))
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdout(std::fs::File::create(&log).unwrap())
                .stderr(std::fs::File::options().append(true).open(&log).unwrap())
                .spawn()
                .expect("start moto_server (scripts/setup-test-env installs it)");
            let deadline = Instant::now() + Duration::from_secs(30);
            let listening = loop {
                if child.try_wait().unwrap().is_some() {
                    break false;
                }
                let log_says = std::fs::read_to_string(&log)
                    .unwrap_or_default()
                    .contains(&format!("127.0.0.1:{port}"));
                if log_says && TcpStream::connect(("127.0.0.1", port)).is_ok() {
                    break true;
                }
                assert!(
                    Instant::now() < deadline,
                    "moto_server did not listen on {port}"
                );
                std::thread::sleep(Duration::from_millis(50));
            };
            if listening {
                return Moto {
                    child,
                    url: format!("http://127.0.0.1:{port}"),
                    log,
                };
            }
        }
        panic!("moto_server could not bind a port in five tries");
    }

    /// How many API calls (POST /) the server has answered.
    pub fn calls(&self) -> usize {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("\"POST / HTTP"))
            .count()
    }

    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A listener that only counts connections: the STS endpoint for input that must be refused
/// before any network call.
pub struct Tripwire {
    pub url: String,
    count: Arc<AtomicUsize>,
}

impl Tripwire {
    pub fn new() -> Tripwire {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let count = Arc::new(AtomicUsize::new(0));
        let c = count.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                c.fetch_add(1, Ordering::SeqCst);
                drop(conn);
            }
        });
        Tripwire { url, count }
    }

    pub fn connections(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}

fn wait_for_port(port: u16, what: &str, limit: Duration) {
    let deadline = Instant::now() + limit;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "{what} did not listen on {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// What one run of a program left behind.
pub struct Out {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn from(o: Output) -> Out {
        Out {
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    pub fn ok(&self) -> &Self {
        assert_eq!(
            self.code,
            Some(0),
            "expected success\nstdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// The SPEC's failure shape: non-zero, nothing on stdout, one `mfa-env:` line on stderr that
    /// contains `expected`.
    pub fn fails_with(&self, expected: &str) -> &Self {
        assert_ne!(
            self.code,
            Some(0),
            "expected failure\nstdout: {}\nstderr: {}",
            self.stdout,
            self.stderr
        );
        assert!(self.code.is_some(), "killed by a signal: {}", self.stderr);
        assert_eq!(self.stdout, "", "stdout must stay empty on failure");
        assert_eq!(
            self.stderr.lines().count(),
            1,
            "one line on stderr: {:?}",
            self.stderr
        );
        assert!(self.stderr.starts_with("mfa-env: "), "{}", self.stderr);
        assert!(
            self.stderr.contains(expected),
            "expected {expected:?} in: {}",
            self.stderr
        );
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }
}

/// One user's AWS files and environment, in a temp dir, with one mfa-env profile whose
/// long-term keys sit in a source profile.
pub struct Bed {
    pub dir: tempfile::TempDir,
    pub profile: String,
    /// The bed's own MFA device, so that one test's accepted code is not another's reused one.
    pub serial: String,
    pub keyring: Keyring,
    pub endpoint: String,
    pub env: Vec<(String, String)>,
}

impl Bed {
    pub fn new(keyring: Keyring, name: &str, endpoint: &str) -> Bed {
        require_test_bed();
        let profile = unique(name);
        let bed = Bed {
            dir: tempfile::tempdir().unwrap(),
            serial: format!("arn:aws:iam::123456789012:mfa/{profile}"),
            profile,
            keyring,
            endpoint: endpoint.to_owned(),
            env: Vec::new(),
        };
        bed.write_config(&format!(
            "mfa_serial = {}\nmfa_env_source_profile = {}-base\n",
            bed.serial, bed.profile
        ));
        bed.write_credentials(LT_KEY_ID, LT_SECRET, None);
        bed
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("config")
    }

    pub fn credentials_path(&self) -> PathBuf {
        self.dir.path().join("credentials")
    }

    /// Replaces the mfa-env profile's body (the lines after its header).
    pub fn write_config(&self, body: &str) {
        std::fs::write(
            self.config_path(),
            format!("[profile {}]\n{body}", self.profile),
        )
        .unwrap();
    }

    pub fn append_config(&self, text: &str) {
        let mut f = std::fs::File::options()
            .append(true)
            .open(self.config_path())
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    pub fn write_credentials(&self, key_id: &str, secret: &str, token: Option<&str>) {
        let mut text = format!(
            "[{}-base]\naws_access_key_id = {key_id}\naws_secret_access_key = {secret}\n",
            self.profile
        );
        if let Some(t) = token {
            text.push_str(&format!("aws_session_token = {t}\n"));
        }
        std::fs::write(self.credentials_path(), text).unwrap();
    }

    pub fn set_env(&mut self, k: &str, v: &str) {
        self.env.push((k.to_owned(), v.to_owned()));
    }

    /// The environment every program in this bed sees: a clean one, like a fresh shell.
    pub fn apply_env(&self, cmd: &mut Command) {
        cmd.env_clear();
        // HOME, XDG_RUNTIME_DIR and XDG_CACHE_HOME are the test bed's for every bed: like one
        // user's processes, all share the lock files and the kernel store's item files.
        for k in [
            "PATH",
            "DBUS_SESSION_BUS_ADDRESS",
            "LANG",
            "TMPDIR",
            "XDG_RUNTIME_DIR",
            "XDG_CACHE_HOME",
        ] {
            if let Some(v) = std::env::var_os(k) {
                cmd.env(k, v);
            }
        }
        cmd.env("HOME", user_home())
            .env("AWS_CONFIG_FILE", self.config_path())
            .env("AWS_SHARED_CREDENTIALS_FILE", self.credentials_path())
            .env("AWS_ENDPOINT_URL_STS", &self.endpoint)
            .env("MFA_ENV_KEYRING", self.keyring.arg());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
    }

    /// `mfa-env ARGS` for this profile, without a controlling terminal (like CI, or the AWS CLI
    /// run from a script), stdin from `stdin` or empty.
    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> Out {
        let mut cmd = Command::new(BIN);
        cmd.args(args).arg("--profile").arg(&self.profile);
        self.run_cmd(cmd, stdin)
    }

    /// Any program, in this bed's environment and without a controlling terminal.
    pub fn run_cmd(&self, cmd: Command, stdin: Option<&str>) -> Out {
        let mut child = self.spawn_cmd(cmd);
        let mut input = child.stdin.take().unwrap();
        // A program that refuses before reading its input may be gone already.
        if let Err(e) = input.write_all(stdin.unwrap_or("").as_bytes()) {
            assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
        }
        drop(input);
        Out::from(child.wait_with_output().unwrap())
    }

    /// Starts any program in this bed's environment, without a controlling terminal, with
    /// stdin, stdout and stderr piped.
    pub fn spawn_cmd(&self, mut cmd: Command) -> Child {
        self.apply_env(&mut cmd);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // A new session has no controlling terminal: /dev/tty cannot be opened.
        unsafe {
            cmd.pre_exec(|| {
                nix::unistd::setsid()
                    .map(drop)
                    .map_err(std::io::Error::from)
            });
        }
        cmd.spawn().expect("spawn")
    }

    /// `mfa-env add` reading the key from stdin. The kernel keyring is emptied at reboot, so
    /// there `add` needs the user's word (`--volatile-ok`).
    pub fn add_args(&self, stdin: bool) -> Vec<&'static str> {
        let mut args = vec!["add"];
        if stdin {
            args.push("--stdin");
        }
        if self.keyring == Keyring::Keyutils {
            args.push("--volatile-ok");
        }
        args
    }

    /// Gets a session with a code, as a user would before scripts can use the cache. Each call
    /// uses the next code, as an authenticator app would show: STS (and mfa-env) refuse a code
    /// twice.
    pub fn warm(&self) -> Out {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let code = format!("{:06}", 300_000 + NEXT.fetch_add(1, Ordering::SeqCst));
        let out = self.run(&["--format", "process", "--token-code", &code], None);
        out.ok();
        out
    }

    /// Where mfa-env keeps its lock files: under the user's home (per machine), whatever the
    /// environment.
    pub fn lock_dir(&self) -> PathBuf {
        mfa_env::credentials::lock::dir_in(&user_home())
    }

    /// The keyring item name of this profile's session.
    pub fn session_item(&self) -> String {
        format!(
            "session profile={} serial={} scope={}",
            self.profile, self.serial, self.endpoint
        )
    }

    /// Writes `bytes` into this bed's keyring under `item`, with the store's own tools.
    pub fn plant_item(&self, item: &str, bytes: &str) {
        let out = match self.keyring {
            // The kernel store's items are sealed files: write one through the store itself,
            // as this user (the test process shares the user's persistent keyring).
            Keyring::Keyutils => {
                let store = mfa_env::store::Store::open(
                    mfa_env::store::StoreChoice::Keyutils,
                    mfa_env::store::Unlock::NEVER,
                )
                .expect("open the kernel keyring store");
                store
                    .set(item, bytes.as_bytes(), None)
                    .unwrap_or_else(|e| panic!("planting {item}: {e}"));
                return;
            }
            Keyring::SecretService => {
                let mut child = Command::new(system_bin("secret-tool"))
                    .args([
                        "store", "--label", "planted", "service", "mfa-env", "username", item,
                    ])
                    .stdin(Stdio::piped())
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap();
                child
                    .stdin
                    .take()
                    .unwrap()
                    .write_all(bytes.as_bytes())
                    .unwrap();
                child.wait_with_output().unwrap()
            }
        };
        assert!(
            out.status.success(),
            "planting {item}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Whether the bed's keyring holds `item`, asked with the store's own tools.
    pub fn item_exists(&self, item: &str) -> bool {
        match self.keyring {
            Keyring::Keyutils => mfa_env::store::Store::open(
                mfa_env::store::StoreChoice::Keyutils,
                mfa_env::store::Unlock::NEVER,
            )
            .expect("open the kernel keyring store")
            .get(item)
            .expect("read the kernel keyring store")
            .is_some(),
            Keyring::SecretService => Command::new(system_bin("secret-tool"))
                .args(["lookup", "service", "mfa-env", "username", item])
                .output()
                .is_ok_and(|o| o.status.success() && !o.stdout.is_empty()),
        }
    }

    /// Every file under the bed's directory (its AWS files, anything written beside them) and
    /// the user's home, as text, to search for leaked secrets.
    pub fn files_text(&self) -> String {
        fn walk(p: &Path, out: &mut String) {
            for e in std::fs::read_dir(p).into_iter().flatten().flatten() {
                let path = e.path();
                if path.is_dir() {
                    walk(&path, out);
                } else if let Ok(mut f) = std::fs::File::open(&path) {
                    let mut buf = Vec::new();
                    let _ = f.read_to_end(&mut buf);
                    out.push_str(&String::from_utf8_lossy(&buf));
                }
            }
        }
        let mut out = String::new();
        walk(self.dir.path(), &mut out);
        walk(&user_home(), &mut out);
        out
    }
}

/// Asserts that none of `secrets` appears in `text`.
pub fn assert_no_secret(text: &str, secrets: &[&str], what: &str) {
    for s in secrets {
        assert!(!text.contains(s), "secret {s:?} leaked into {what}: {text}");
    }
}

/// The fault stand-in (tests/fixtures/sts_standin.py) on a free loopback port; killed on drop.
pub struct StandIn {
    child: Child,
    pub url: String,
    log: PathBuf,
}

impl StandIn {
    pub fn start(dir: &Path) -> StandIn {
        Self::start_skewed(dir, 0)
    }

    /// A stand-in whose clock (every answer's `Date`) is `skew_seconds` ahead of ours.
    pub fn start_skewed(dir: &Path, skew_seconds: i64) -> StandIn {
        let port = free_port();
        let log = dir.join(format!("standin-{port}.log"));
        let child = Command::new(system_bin("python3"))
            .arg(repo().join("tests/fixtures/sts_standin.py"))
            .arg(port.to_string())
            .arg(skew_seconds.to_string())
            .stdout(std::fs::File::create(&log).unwrap())
            .spawn()
            .expect("start the STS stand-in");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "the STS stand-in did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        StandIn {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
        }
    }

    /// Everything it logged: `REQUEST …` and `HOST <host> <action> by=<key id>` lines.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The token codes of the requests it received, in order.
    pub fn requests(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.strip_prefix("REQUEST ").map(str::to_owned))
            .collect()
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Declares each listed `fn(Keyring)` as two tests, one per keyring: `secret_service::NAME` and
/// `keyutils::NAME`, each holding the shared lock.
#[allow(unused_macros)]
macro_rules! for_each_keyring {
    ($($name:ident),* $(,)?) => {
        mod secret_service {
            $( #[test] fn $name() { let _k = super::shared(); super::$name(super::Keyring::SecretService) } )*
        }
        mod keyutils {
            $( #[test] fn $name() { let _k = super::shared(); super::$name(super::Keyring::Keyutils) } )*
        }
    };
}
#[allow(unused_imports)]
pub(crate) use for_each_keyring;
