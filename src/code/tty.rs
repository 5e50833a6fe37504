//! The controlling terminal: where prompts go (never stdout, which carries credentials, nor
//! stderr, which callers capture), and the one thing an interrupted prompt must put back. While
//! a hidden prompt is open, SIGINT, SIGTERM, SIGHUP, SIGQUIT and SIGUSR1 (the signal a server
//! of `exec --server` gets when its command ends) restore the terminal's settings (echo on
//! again) and end the process with status 128+n before anything was sent or written; a server
//! that stops while a fetch thread prompts puts them back with [`restore_open_prompt`].
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

/// Puts the terminal's settings back if a hidden prompt is open on another thread: for a
/// server that ends (its command has) while a fetch waits for a code, which would otherwise
/// leave the terminal without echo for whatever reads it next.
pub fn restore_open_prompt() {
    interrupt::restore_open();
}

/// The handlers of an open hidden prompt. Plain `sigaction`, saved and put back around each
/// prompt: signal-hook cannot unregister a handler (the signal stays caught and does nothing),
/// which would leave Ctrl-C and SIGTERM without effect for the rest of the process, and
/// `exec`'s command, an `mfa_process` or a dialog would start with them caught as well.
#[cfg(unix)]
mod interrupt {
    use std::cell::UnsafeCell;
    use std::fs::File;
    use std::os::fd::AsRawFd;
    use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

    /// The signals that end a prompt (and the process) after putting the terminal back.
    const SIGNALS: [i32; 5] = [
        libc::SIGINT,
        libc::SIGTERM,
        libc::SIGHUP,
        libc::SIGQUIT,
        libc::SIGUSR1,
    ];

    /// The terminal's fd and its settings from before the open prompt, for the handler. Written
    /// only by the prompt that took `BUSY`, before it sets `ARMED`; read only while `ARMED`.
    static BUSY: AtomicBool = AtomicBool::new(false);
    static ARMED: AtomicBool = AtomicBool::new(false);
    static FD: AtomicI32 = AtomicI32::new(-1);
    struct Saved(UnsafeCell<std::mem::MaybeUninit<libc::termios>>);
    // SAFETY: access is ordered by `ARMED` (see above).
    unsafe impl Sync for Saved {}
    static SAVED: Saved = Saved(UnsafeCell::new(std::mem::MaybeUninit::uninit()));

    /// Puts the terminal back if a prompt is open. Async-signal-safe: atomics, tcsetattr, write.
    fn restore() {
        if ARMED.load(Ordering::Acquire) {
            let fd = FD.load(Ordering::Relaxed);
            // SAFETY: SAVED was written before ARMED was set; fd is the prompt's open terminal.
            unsafe {
                libc::tcsetattr(fd, libc::TCSANOW, (*SAVED.0.get()).as_ptr());
                libc::write(fd, b"\n".as_ptr().cast(), 1);
            }
        }
    }

    extern "C" fn on_signal(signal: libc::c_int) {
        restore();
        // SAFETY: _exit is async-signal-safe.
        unsafe { libc::_exit(128 + signal) };
    }

    /// While alive, a signal restores the terminal settings saved at `arm` and exits, and
    /// [`restore_open`] can restore them from another thread. Dropping it puts back the
    /// handlers that were there before.
    pub struct RestoreOnSignal {
        /// The actions replaced; `None` when this guard armed nothing.
        previous: Option<Vec<(i32, libc::sigaction)>>,
    }

    impl RestoreOnSignal {
        pub fn arm(tty: &File) -> Self {
            let fd = tty.as_raw_fd();
            // Another prompt open at once (not done today) is left unguarded, not confused.
            if BUSY
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
            {
                return Self { previous: None };
            }
            // SAFETY: tcgetattr writes a termios for a valid fd into SAVED, which this prompt
            // alone writes (BUSY) and no handler reads while ARMED is false.
            if unsafe { libc::tcgetattr(fd, (*SAVED.0.get()).as_mut_ptr()) } != 0 {
                BUSY.store(false, Ordering::Release);
                return Self { previous: None };
            }
            FD.store(fd, Ordering::Relaxed);
            ARMED.store(true, Ordering::Release);
            // SAFETY: sigaction with a handler that only calls async-signal-safe functions;
            // `old` receives the action it replaces, put back on drop.
            let previous = SIGNALS
                .into_iter()
                .filter_map(|signal| unsafe {
                    let mut old: libc::sigaction = std::mem::zeroed();
                    if libc::sigaction(signal, std::ptr::null(), &mut old) != 0
                        // A signal this process ignores (the server of `exec --server`) stays
                        // ignored.
                        || old.sa_sigaction == libc::SIG_IGN
                    {
                        return None;
                    }
                    let mut action: libc::sigaction = std::mem::zeroed();
                    action.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
                    libc::sigfillset(&mut action.sa_mask);
                    (libc::sigaction(signal, &action, &mut old) == 0).then_some((signal, old))
                })
                .collect();
            Self {
                previous: Some(previous),
            }
        }
    }

    impl Drop for RestoreOnSignal {
        fn drop(&mut self) {
            let Some(previous) = self.previous.take() else {
                return;
            };
            for (signal, old) in previous {
                // SAFETY: puts back the action sigaction gave us.
                unsafe { libc::sigaction(signal, &old, std::ptr::null_mut()) };
            }
            ARMED.store(false, Ordering::Release);
            BUSY.store(false, Ordering::Release);
        }
    }

    pub fn restore_open() {
        restore();
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

    pub fn restore_open() {}
}
