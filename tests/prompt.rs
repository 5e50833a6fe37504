//! The terminal prompt, typed into a real pseudo-terminal as a person would. The pty is the
//! child's controlling terminal (`/dev/tty`), while its stdout and stderr stay pipes: the prompt
//! must appear on the terminal only, and stdout must hold only the credentials.

mod common;

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;

/// A child process whose controlling terminal is a pty we hold the master side of.
struct Typist {
    master: File,
    screen: Arc<Mutex<String>>,
    child: std::process::Child,
}

impl Typist {
    fn spawn(bed: &Bed, args: &[&str]) -> Typist {
        let pty = nix::pty::openpty(None, None).expect("openpty");
        let slave_path = nix::unistd::ttyname(&pty.slave).expect("ttyname");
        let slave_c = std::ffi::CString::new(slave_path.as_os_str().as_encoded_bytes()).unwrap();
        let mut cmd = Command::new(BIN);
        cmd.args(args).arg("--profile").arg(&bed.profile);
        bed.apply_env(&mut cmd);
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        unsafe {
            cmd.pre_exec(move || {
                // A new session's first terminal opened becomes its controlling terminal.
                nix::unistd::setsid().map_err(std::io::Error::from)?;
                let fd = nix::libc::open(slave_c.as_ptr(), nix::libc::O_RDWR);
                if fd < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                nix::libc::close(fd);
                Ok(())
            });
        }
        let child = cmd.spawn().expect("spawn mfa-env on a pty");
        drop::<OwnedFd>(pty.slave);
        let master = File::from(pty.master);
        let screen = Arc::new(Mutex::new(String::new()));
        let (mut reader, s) = (master.try_clone().unwrap(), screen.clone());
        std::thread::spawn(move || {
            let mut buf = [0u8; 1024];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                s.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Typist {
            master,
            screen,
            child,
        }
    }

    /// Waits until the terminal shows `text` (counting from the start).
    fn wait_for(&self, text: &str, occurrences: usize) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.screen.lock().unwrap().matches(text).count() < occurrences {
            assert!(
                Instant::now() < deadline,
                "terminal never showed {text:?}: {:?}",
                self.screen.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Types a line and presses Enter (a terminal sends CR).
    fn type_line(&mut self, text: &str) {
        for c in text.chars().chain(['\r']) {
            self.master.write_all(c.to_string().as_bytes()).unwrap();
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn finish(self) -> (Out, String) {
        let o = self.child.wait_with_output().unwrap();
        let out = Out {
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        };
        std::thread::sleep(Duration::from_millis(50));
        let screen = self.screen.lock().unwrap().clone();
        (out, screen)
    }
}

#[test]
fn prompt_on_the_terminal_and_credentials_on_stdout() {
    let _k = shared();
    for keyring in [Keyring::SecretService, Keyring::Keyutils] {
        let dir = tempfile::tempdir().unwrap();
        let moto = Moto::start(dir.path());
        let bed = Bed::new(keyring, "prompt", &moto.url);
        let mut t = Typist::spawn(&bed, &["--format", "process"]);
        let question = format!("MFA code for profile '{}' ({SERIAL}): ", bed.profile);
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
