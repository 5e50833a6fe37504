//! The desktop prompt, for a caller with no terminal but a display (an IDE started from the
//! desktop): a real zenity dialog on a virtual X display (Xvfb), typed into with xdotool as a
//! person would. A screenshot of the dialog is left in target/test-artifacts/ for a look.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// A virtual X display; killed on drop.
struct Xvfb {
    child: Child,
    display: String,
}

impl Xvfb {
    /// Xvfb picks a free display number itself and writes it to stdout (`-displayfd 1`) once
    /// it accepts clients, so tests running side by side never share a display.
    fn start() -> Xvfb {
        let mut child = Command::new(system_bin("Xvfb"))
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "800x600x24",
                "-nolisten",
                "tcp",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start Xvfb");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let n: u32 = line
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("Xvfb did not start: {line:?}"));
        Xvfb {
            child,
            display: format!(":{n}"),
        }
    }

    fn xdotool(&self, args: &[&str]) -> String {
        self.try_xdotool(args)
            .unwrap_or_else(|e| panic!("xdotool {args:?}: {e}"))
    }

    fn try_xdotool(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new(system_bin("timeout"))
            .arg("20")
            .arg(system_bin("xdotool"))
            .args(args)
            .env("DISPLAY", &self.display)
            .output()
            .unwrap();
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// Waits for a dialog window whose title contains `name`, shown by a process other than
    /// `except` (window ids can be reused; process ids are not, while the test runs); returns the
    /// window id and the process id. A window may vanish between the search and the question
    /// (the previous dialog closing): that is not an error, the search goes on.
    fn wait_for_window(&self, name: &str, except: Option<&str>) -> (String, String) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ids = self
                .try_xdotool(&["search", "--onlyvisible", "--name", name])
                .unwrap_or_default();
            for id in ids.lines() {
                if let Ok(pid) = self.try_xdotool(&["getwindowpid", id])
                    && Some(pid.as_str()) != except
                {
                    return (id.to_owned(), pid);
                }
            }
            assert!(Instant::now() < deadline, "no new window named {name}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Types `text` and Return into the dialog of process `pid`, as a person would, until that
    /// dialog closes. On a loaded machine a freshly mapped GTK dialog can drop the first
    /// keystrokes; a person would notice and type again, and so does this (field cleared first).
    fn type_into(&self, window: &str, pid: &str, text: &str) {
        for _ in 0..3 {
            self.xdotool(&["windowfocus", "--sync", window]);
            self.xdotool(&["key", "ctrl+a", "BackSpace"]);
            self.xdotool(&["type", "--delay", "30", text]);
            self.xdotool(&["key", "Return"]);
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if self.try_xdotool(&["getwindowpid", window]).ok().as_deref() != Some(pid) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        panic!("the dialog of process {pid} did not take the typed answer");
    }

    fn screenshot(&self, path: &std::path::Path) {
        let out = Command::new(venv_bin("python"))
            .arg("-c")
            .arg(format!(
                "from PIL import ImageGrab; im = ImageGrab.grab(xdisplay={:?}); im.save({:?}); \
                 print(len(im.getcolors(1 << 24)))",
                self.display,
                path.display().to_string()
            ))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "screenshot: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let colors: usize = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
        assert!(
            colors > 2,
            "the screenshot shows no dialog ({colors} colours)"
        );
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn desktop_bed(standin: &StandIn, name: &str, x: &Xvfb) -> Bed {
    let mut bed = Bed::new(Keyring::Keyutils, name, &standin.url);
    bed.set_env("DISPLAY", &x.display);
    // GTK's accessibility bridge would look for another bus; not part of the test.
    bed.set_env("NO_AT_BRIDGE", "1");
    bed
}

#[test]
fn a_desktop_dialog_asks_when_there_is_no_terminal() {
    let _k = shared();
    let x = Xvfb::start();
    let dir = tempfile::tempdir().unwrap();
    let standin = StandIn::start(dir.path());
    let bed = desktop_bed(&standin, "desktop", &x);
    std::thread::scope(|s| {
        let run = s.spawn(|| bed.run(&["--format", "process"], None));
        let (window, pid) = x.wait_for_window("mfa-env: MFA code", None);
        let title = x.xdotool(&["getwindowname", &window]);
        assert_eq!(
            title,
            format!("mfa-env: MFA code for profile '{}'", bed.profile)
        );
        let shots = repo().join("target/test-artifacts");
        std::fs::create_dir_all(&shots).unwrap();
        x.screenshot(&shots.join("desktop-prompt.png"));
        x.type_into(&window, &pid, CODE);
        let out = run.join().unwrap();
        out.ok();
        assert_eq!(out.json()["Version"], 1);
        assert_eq!(out.stderr, "", "nothing of the dialog reaches stderr");
    });
    assert_eq!(standin.requests(), [CODE]);
}

#[test]
fn a_mistyped_code_is_asked_again_and_cancel_sends_nothing() {
    let _k = shared();
    let x = Xvfb::start();
    let dir = tempfile::tempdir().unwrap();
    let standin = StandIn::start(dir.path());
    let bed = desktop_bed(&standin, "desktop-cancel", &x);
    std::thread::scope(|s| {
        let run = s.spawn(|| bed.run(&["--format", "process"], None));
        let (first, first_pid) = x.wait_for_window("mfa-env: MFA code", None);
        x.type_into(&first, &first_pid, "12ab");
        let (second, _) = x.wait_for_window("mfa-env: MFA code", Some(&first_pid));
        x.xdotool(&["windowfocus", "--sync", &second]);
        x.xdotool(&["key", "Escape"]);
        run.join().unwrap().fails_with(&format!(
            "the MFA code prompt for profile '{}' was cancelled",
            bed.profile
        ));
    });
    assert!(standin.requests().is_empty(), "nothing was sent to STS");
}

#[test]
fn an_unanswered_dialog_is_closed_at_the_deadline() {
    let _k = shared();
    let x = Xvfb::start();
    let dir = tempfile::tempdir().unwrap();
    let standin = StandIn::start(dir.path());
    let bed = desktop_bed(&standin, "desktop-timeout", &x);
    // The dialog waits as long as other processes wait on the lock, at least 30 s.
    bed.append_config("mfa_env_lock_timeout_seconds = 0\n");
    let started = Instant::now();
    bed.run(&["--format", "process"], None)
        .fails_with("the desktop dialog did not finish within 30 s");
    assert!(started.elapsed() < Duration::from_secs(40));
    assert!(standin.requests().is_empty());
}

/// A DISPLAY left over from a desktop that is gone (tmux, an `ssh -X` login that outlived it):
/// no dialog is tried (it would fail as if cancelled); the error says why no one can be asked.
#[test]
fn a_display_nobody_serves_is_no_way_to_ask() {
    let _k = shared();
    let trip = Tripwire::new();
    let mut bed = Bed::new(Keyring::Keyutils, "stale-display", &trip.url);
    bed.set_env("DISPLAY", ":987");
    bed.run(&["--format", "process"], None)
        .fails_with("DISPLAY=:987 is set but no X server answers there");
    assert_eq!(trip.connections(), 0);
}
