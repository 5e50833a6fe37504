//! A pseudo-terminal driver: the child's controlling terminal (`/dev/tty`) is a pty whose
//! master side the test holds, while its stdout and stderr stay pipes, so a test can type as a
//! person would and still see exactly what went to stdout.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{BIN, Bed, Out};

/// A child process whose controlling terminal is a pty we hold the master side of.
pub struct Typist {
    pub pid: u32,
    master: File,
    screen: Arc<Mutex<String>>,
    child: std::process::Child,
}

impl Typist {
    /// `mfa-env ARGS --profile P` on a new terminal.
    pub fn spawn(bed: &Bed, args: &[&str]) -> Typist {
        let mut cmd = Command::new(BIN);
        cmd.args(args).arg("--profile").arg(&bed.profile);
        Typist::spawn_cmd(bed, cmd)
    }

    /// Any program on a new terminal, in the bed's environment.
    pub fn spawn_cmd(bed: &Bed, mut cmd: Command) -> Typist {
        let pty = nix::pty::openpty(None, None).expect("openpty");
        let slave_path = nix::unistd::ttyname(&pty.slave).expect("ttyname");
        let slave_c = std::ffi::CString::new(slave_path.as_os_str().as_encoded_bytes()).unwrap();
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
        let child = cmd.spawn().expect("spawn on a pty");
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
            pid: child.id(),
            master,
            screen,
            child,
        }
    }

    /// Waits until the terminal shows `text` (counting from the start).
    pub fn wait_for(&self, text: &str, occurrences: usize) {
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
    pub fn type_line(&mut self, text: &str) {
        for c in text.chars().chain(['\r']) {
            self.master.write_all(c.to_string().as_bytes()).unwrap();
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// What the terminal has shown so far.
    pub fn screen(&self) -> String {
        self.screen.lock().unwrap().clone()
    }

    pub fn kill(&mut self, signal: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid as i32), signal).unwrap();
    }

    /// Whether the terminal echoes typed characters now (the pty's settings, read from our side).
    pub fn echo_on(&self) -> bool {
        let t = nix::sys::termios::tcgetattr(&self.master).expect("tcgetattr");
        t.local_flags.contains(nix::sys::termios::LocalFlags::ECHO)
    }

    /// As `finish`, and also reports whether the terminal echoes again once the child is gone.
    pub fn finish_keep_terminal(self) -> (Finished, String) {
        let master = self.master.try_clone().unwrap();
        let (out, screen) = self.finish();
        let t = nix::sys::termios::tcgetattr(&master).expect("tcgetattr");
        let finished = Finished {
            code: out.code,
            stdout: out.stdout,
            stderr: out.stderr,
            echo_was_on: t.local_flags.contains(nix::sys::termios::LocalFlags::ECHO),
        };
        (finished, screen)
    }

    /// Types raw bytes (control keys).
    pub fn type_raw(&mut self, bytes: &[u8]) {
        self.master.write_all(bytes).unwrap();
    }

    /// Waits (at most 30 s) for the child to exit and returns its output and the screen.
    pub fn finish(mut self) -> (Out, String) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!(
                    "the program did not finish; the terminal shows: {:?}",
                    self.screen()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stdout = String::new();
        let mut stderr = String::new();
        self.child
            .stdout
            .take()
            .unwrap()
            .read_to_string(&mut stdout)
            .unwrap();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let out = Out {
            code: status.code(),
            stdout,
            stderr,
        };
        (out, self.screen())
    }
}

/// A finished child and the terminal's echo setting after it.
pub struct Finished {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub echo_was_on: bool,
}
