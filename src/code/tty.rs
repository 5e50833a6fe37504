//! The controlling terminal: where prompts go (never stdout, which carries credentials, nor
//! stderr, which callers capture), and the one thing an interrupted prompt must put back. While
//! a hidden prompt is open, SIGINT, SIGTERM, SIGHUP and SIGQUIT restore the terminal's settings
//! (echo on again) and end the process with status 128+n before anything was sent or written.
//!
//! On Unix the terminal is `/dev/tty`; on Windows, which has none, the console: `CONIN$` and
//! `CONOUT$`, which rpassword reads hidden input from as well (written, not built here).

use std::fs::{File, OpenOptions};
use std::io::Write;

use zeroize::Zeroizing;

/// The terminal: where answers are read and questions written.
pub struct Tty {
    pub input: File,
    pub output: File,
}

/// Set by a server (`serve`, `exec --server`): its terminal counts only while it is in the
/// terminal's foreground. A server nobody can bring back with `fg` must not be stopped by
/// reading from the background (a shell run by `exec --server` takes the terminal's foreground
/// for its own jobs); a code then comes from `mfa_process` or a dialog.
#[cfg(unix)]
static FOREGROUND_ONLY: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Makes [`open`] fail unless this process is in the terminal's foreground process group, and
/// makes reads and settings changes from the background fail rather than stop the process.
#[cfg(unix)]
pub fn only_in_foreground() {
    FOREGROUND_ONLY.store(true, std::sync::atomic::Ordering::Relaxed);
    for signal in [libc::SIGTTIN, libc::SIGTTOU] {
        // SAFETY: setting a disposition to "ignore".
        unsafe { libc::signal(signal, libc::SIG_IGN) };
    }
}

/// The terminal. Fails at once where there is none (no controlling tty, no console).
#[cfg(unix)]
pub fn open() -> std::io::Result<Tty> {
    use std::os::fd::AsRawFd;
    let tty = OpenOptions::new().read(true).write(true).open("/dev/tty")?;
    // SAFETY: tcgetpgrp and getpgrp only read this process's and the terminal's state.
    if FOREGROUND_ONLY.load(std::sync::atomic::Ordering::Relaxed)
        && unsafe { libc::tcgetpgrp(tty.as_raw_fd()) != libc::getpgrp() }
    {
        return Err(std::io::Error::other(
            "another program has the terminal's foreground",
        ));
    }
    Ok(Tty {
        input: tty.try_clone()?,
        output: tty,
    })
}

#[cfg(windows)]
pub fn open() -> std::io::Result<Tty> {
    Ok(Tty {
        input: OpenOptions::new().read(true).write(true).open("CONIN$")?,
        output: OpenOptions::new().write(true).open("CONOUT$")?,
    })
}

/// Writes a line to the terminal. Best effort: if the terminal is gone, the next prompt says so.
pub fn tell(message: &str) {
    if let Ok(mut tty) = open() {
        let _ = writeln!(tty.output, "{message}");
    }
}

/// Asks `question` on the terminal and reads one visible line (trimmed); for answers that are
/// not secret: a choice, a serial, a number.
pub fn ask(tty: &Tty, question: &str) -> std::io::Result<String> {
    use std::io::BufRead;
    let mut out = &tty.output;
    out.write_all(question.as_bytes())?;
    out.flush()?;
    let mut line = String::new();
    if std::io::BufReader::new(&tty.input).read_line(&mut line)? == 0 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::UnexpectedEof,
            "the terminal closed",
        ));
    }
    Ok(line.trim().to_owned())
}

/// Asks `question` on the terminal and reads the answer without echoing it.
pub fn ask_hidden(tty: &Tty, question: &str) -> std::io::Result<Zeroizing<String>> {
    let _restore = interrupt::RestoreOnSignal::arm(&tty.input);
    rpassword::prompt_password(question).map(Zeroizing::new)
}

#[cfg(unix)]
mod interrupt {
    use std::fs::File;
    use std::os::fd::AsRawFd;

    use signal_hook::SigId;
    use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM};

    /// Whether `signal`'s disposition is "ignore".
    fn ignored(signal: i32) -> bool {
        // SAFETY: sigaction with no new action only reads the current one into `old`.
        let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
        let read = unsafe { libc::sigaction(signal, std::ptr::null(), &mut old) };
        read == 0 && old.sa_sigaction == libc::SIG_IGN
    }

    /// While alive, a signal restores the terminal settings saved at `arm` and exits.
    pub struct RestoreOnSignal {
        ids: Vec<SigId>,
    }

    impl RestoreOnSignal {
        pub fn arm(tty: &File) -> Self {
            let fd = tty.as_raw_fd();
            // SAFETY: tcgetattr writes a termios for a valid fd; on failure nothing is armed.
            let mut saved: libc::termios = unsafe { std::mem::zeroed() };
            if unsafe { libc::tcgetattr(fd, &mut saved) } != 0 {
                return Self { ids: Vec::new() };
            }
            let ids = [SIGINT, SIGTERM, SIGHUP, SIGQUIT]
                .into_iter()
                // A signal this process ignores (the server of `exec --server`) stays ignored.
                .filter(|&signal| !ignored(signal))
                .filter_map(|signal| {
                    // SAFETY: the handler calls only async-signal-safe functions (tcsetattr,
                    // write, _exit) on values captured by copy; `tty` outlives the guard.
                    unsafe {
                        signal_hook::low_level::register(signal, move || {
                            libc::tcsetattr(fd, libc::TCSANOW, &saved);
                            libc::write(fd, b"\n".as_ptr().cast(), 1);
                            libc::_exit(128 + signal);
                        })
                    }
                    .ok()
                })
                .collect();
            Self { ids }
        }
    }

    impl Drop for RestoreOnSignal {
        fn drop(&mut self) {
            for id in self.ids.drain(..) {
                signal_hook::low_level::unregister(id);
            }
        }
    }
}

#[cfg(not(unix))]
mod interrupt {
    /// Windows consoles restore their own mode when the process ends.
    pub struct RestoreOnSignal;

    impl RestoreOnSignal {
        pub fn arm(_tty: &std::fs::File) -> Self {
            Self
        }
    }
}
