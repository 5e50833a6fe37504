//! Runs a helper program whose answer is its output: an `mfa_process`, a desktop dialog (the
//! first line: a code), a source profile's `credential_process` (a long-term key). The answer
//! is a secret, so it is read from a pipe into memory that is wiped when dropped, and a program that hangs (a YubiKey no one touches, a dialog no one
//! sees) is killed at a deadline: a credential helper must never wait forever.
//!
//! A helper starts as if from a shell: every signal at its default action and none blocked,
//! whatever this process ignores (a credentials server ignores the terminal's and job control's
//! signals; ignored signals are inherited across exec), so Ctrl-C and logout stop it. On Linux
//! it is also sent SIGTERM if the thread that started it dies (the Go SDK kills a helper after
//! 60 s): nobody would read its answer.

use std::io::Read;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use zeroize::Zeroizing;

/// Why a helper gave no answer.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("could not be started: {0}")]
    Spawn(std::io::Error),
    #[error("exited with {0}")]
    Status(ExitStatus),
    #[error("did not finish within {0} s")]
    TimedOut(u64),
    #[error("printed nothing")]
    NoOutput,
    #[error("its output could not be read: {0}")]
    Read(std::io::Error),
}

/// More than any code or dialog answer; a helper that prints more is cut off, not buffered.
const MAX_OUTPUT: u64 = 64 * 1024;

/// Runs `cmd` with its stdout piped to us and returns the first line it printed, trimmed.
/// Its stdin and stderr are whatever the caller set on `cmd`.
pub fn first_line(cmd: Command, timeout: Duration) -> Result<Zeroizing<String>, Failure> {
    let output = output(cmd, timeout)?;
    let text = String::from_utf8_lossy(&output);
    let line = text.lines().next().map(str::trim).unwrap_or("");
    if line.is_empty() {
        return Err(Failure::NoOutput);
    }
    Ok(Zeroizing::new(line.to_owned()))
}

/// Runs `cmd` with its stdout piped to us and returns everything it printed (up to 64 KiB), in
/// memory wiped when dropped, once it has exited with success.
pub fn output(mut cmd: Command, timeout: Duration) -> Result<Zeroizing<Vec<u8>>, Failure> {
    let deadline = Instant::now() + timeout;
    #[cfg(unix)]
    as_from_a_shell(&mut cmd);
    let mut child = cmd.stdout(Stdio::piped()).spawn().map_err(Failure::Spawn)?;
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let (tx, rx) = mpsc::channel();
    // A reader thread, so that the deadline holds even for a helper that never closes stdout.
    std::thread::spawn(move || {
        let mut buf = Zeroizing::new(Vec::new());
        let read = (&mut stdout).take(MAX_OUTPUT).read_to_end(&mut buf);
        let _ = tx.send(read.map(|_| buf));
    });
    let output = match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        Ok(read) => read.map_err(Failure::Read)?,
        Err(_) => return Err(kill(child, timeout)),
    };
    let status = match wait_until(&mut child, deadline) {
        Some(status) => status,
        None => return Err(kill(child, timeout)),
    };
    if !status.success() {
        return Err(Failure::Status(status));
    }
    Ok(output)
}

/// Gives a helper the person, if there is one: stdin and stderr on the controlling terminal
/// (a YubiKey's "touch your key", a password manager's unlock prompt, even though the AWS CLI
/// captures our stderr). Without one, its messages go to our stderr, and in a process group of
/// its own it can be killed whole at the deadline, so that nothing it started keeps that
/// stderr (the AWS CLI's pipe) open.
pub fn with_terminal_or_detached(cmd: &mut Command) {
    match crate::code::tty::open() {
        Ok(tty) => {
            cmd.stdin(tty.input).stderr(tty.output);
        }
        Err(_) => {
            cmd.stdin(Stdio::null()).stderr(Stdio::inherit());
            #[cfg(unix)]
            std::os::unix::process::CommandExt::process_group(cmd, 0);
        }
    }
}

/// Default signal dispositions, an empty signal mask and (Linux) SIGTERM when we are gone, for
/// the program `cmd` starts.
#[cfg(unix)]
fn as_from_a_shell(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: between fork and exec, only async-signal-safe calls (sigaction, sigprocmask,
    // prctl); those that fail (SIGKILL, SIGSTOP) change nothing.
    unsafe {
        cmd.pre_exec(|| {
            for signal in 1..=LAST_SIGNAL {
                default_action(signal);
            }
            let mut none: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut none);
            libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
            #[cfg(target_os = "linux")]
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
}

/// Every signal number there is: 64 on Linux (with the real-time ones), 31 elsewhere.
#[cfg(unix)]
const LAST_SIGNAL: i32 = if cfg!(target_os = "linux") { 64 } else { 31 };

/// Sets `signal` to its default action. On Linux through the system call itself: the C
/// library refuses the two real-time signals it keeps for its threads (32 and 33), which a
/// parent may still have left ignored.
#[cfg(target_os = "linux")]
unsafe fn default_action(signal: i32) {
    // The kernel's `struct sigaction`, all zero: SIG_DFL, no flags, an empty mask, whatever
    // the architecture's layout (large enough for every one).
    let action = [0_u64; 4];
    // SAFETY: rt_sigaction with a valid action and the kernel's signal-set size (8 bytes).
    unsafe {
        libc::syscall(
            libc::SYS_rt_sigaction,
            signal,
            action.as_ptr(),
            std::ptr::null_mut::<u64>(),
            8_usize,
        )
    };
}

#[cfg(all(unix, not(target_os = "linux")))]
unsafe fn default_action(signal: i32) {
    // SAFETY: signal(3) with the default action.
    unsafe { libc::signal(signal, libc::SIG_DFL) };
}

/// Waits for `child` to exit, up to `deadline`.
fn wait_until(child: &mut Child, deadline: Instant) -> Option<ExitStatus> {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Ok(None) | Err(_) => return None,
        }
    }
}

/// Kills the helper, and its whole process group when it leads one: a shell's children
/// (`sh -c 'ykman …'`) would otherwise live on holding our stderr, which the AWS CLI reads to
/// the end.
fn kill(mut child: Child, timeout: Duration) -> Failure {
    #[cfg(unix)]
    {
        let pid = child.id() as libc::pid_t;
        // SAFETY: plain syscalls on a child we have not reaped, so its pid is still ours.
        unsafe {
            if libc::getpgid(pid) == pid {
                libc::killpg(pid, libc::SIGKILL);
            }
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    Failure::TimedOut(timeout.as_secs())
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;

    fn sh(script: &str) -> Command {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", script]);
        cmd
    }

    const SECOND: Duration = Duration::from_secs(1);

    #[test]
    fn takes_the_first_line_trimmed() {
        let line = first_line(sh("printf ' 123456 \\nmore\\n'"), SECOND).unwrap();
        assert_eq!(line.as_str(), "123456");
    }

    /// A helper starts with no signal ignored or blocked, whatever this process ignores.
    #[test]
    fn a_helper_starts_with_default_signals() {
        // A child of ours that ignores and blocks signals, as a credentials server does, then
        // runs a helper: the helper's status must show neither.
        let script = "grep -E '^Sig(Ign|Blk):' /proc/self/status | tr '\\n' ' '";
        // SAFETY: a fresh thread ignores and blocks in this test process only around the call;
        // the helper is what is inspected.
        let line = std::thread::spawn(move || unsafe {
            let before = libc::signal(libc::SIGINT, libc::SIG_IGN);
            let before_hup = libc::signal(libc::SIGHUP, libc::SIG_IGN);
            let mut block: libc::sigset_t = std::mem::zeroed();
            libc::sigemptyset(&mut block);
            libc::sigaddset(&mut block, libc::SIGUSR2);
            libc::pthread_sigmask(libc::SIG_BLOCK, &block, std::ptr::null_mut());
            let line = first_line(sh(script), SECOND);
            libc::signal(libc::SIGINT, before);
            libc::signal(libc::SIGHUP, before_hup);
            line
        })
        .join()
        .unwrap()
        .unwrap();
        assert_eq!(
            line.as_str(),
            "SigBlk:\t0000000000000000 SigIgn:\t0000000000000000",
            "the helper's signal state"
        );
    }

    #[test]
    fn reports_failure_silence_and_hangs() {
        assert!(matches!(
            first_line(sh("echo 123456; exit 3"), SECOND),
            Err(Failure::Status(s)) if s.code() == Some(3)
        ));
        assert!(matches!(
            first_line(sh("true"), SECOND),
            Err(Failure::NoOutput)
        ));
        let started = Instant::now();
        assert!(matches!(
            first_line(sh("exec sleep 30"), SECOND),
            Err(Failure::TimedOut(1))
        ));
        assert!(started.elapsed() < Duration::from_secs(5));
        // A shell whose child holds the pipe: the group goes, so the pipe closes.
        let mut cmd = sh("sleep 30; true");
        cmd.process_group(0).stderr(Stdio::piped());
        let started = Instant::now();
        assert!(matches!(first_line(cmd, SECOND), Err(Failure::TimedOut(1))));
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(matches!(
            first_line(Command::new("/nonexistent/helper"), SECOND),
            Err(Failure::Spawn(_))
        ));
    }
}
