//! The desktop prompt, for when there is no terminal but a display: an IDE or a GUI program
//! started from the desktop runs the AWS CLI, which runs us with no controlling terminal. Linux
//! asks with zenity or kdialog, macOS with osascript. The dialog names the profile and the
//! device, hides what is typed, and is closed at a deadline if no one answers.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use zeroize::Zeroizing;

use crate::code::subprocess::{self, Failure};

/// A dialog program that can ask for a hidden answer.
#[derive(Debug)]
pub enum Dialog {
    Zenity(PathBuf),
    Kdialog(PathBuf),
    Osascript,
}

/// What came of asking.
pub enum Answer {
    Typed(Zeroizing<String>),
    Cancelled,
}

impl Dialog {
    /// The dialog this session can show, or why there is none (for the error message).
    pub fn find() -> Result<Dialog, String> {
        if cfg!(target_os = "macos") {
            return Ok(Dialog::Osascript);
        }
        let set = |k| std::env::var_os(k).is_some_and(|v| !v.is_empty());
        if !set("DISPLAY") && !set("WAYLAND_DISPLAY") {
            return Err("no display (DISPLAY and WAYLAND_DISPLAY are unset)".into());
        }
        let dialog = match (on_path("zenity"), on_path("kdialog")) {
            (Some(p), _) => Dialog::Zenity(p),
            (None, Some(p)) => Dialog::Kdialog(p),
            (None, None) => {
                return Err("a display, but neither zenity nor kdialog is installed".into());
            }
        };
        display_answers()?;
        Ok(dialog)
    }

    /// Shows `text` (first line: the question) and returns what was typed.
    pub fn ask(&self, title: &str, text: &str, timeout: Duration) -> Result<Answer, Failure> {
        let mut cmd = match self {
            Dialog::Zenity(p) => {
                let mut c = Command::new(p);
                c.args(["--entry", "--hide-text"])
                    .arg(format!("--title={title}"))
                    .arg(format!("--text={}", pango_escape(text)));
                c
            }
            Dialog::Kdialog(p) => {
                let mut c = Command::new(p);
                c.arg("--title").arg(title).arg("--password").arg(text);
                c
            }
            Dialog::Osascript => {
                let mut c = Command::new("osascript");
                c.arg("-e")
                    .arg(format!(
                        "display dialog {} with title {} default answer \"\" with hidden answer",
                        applescript_string(text),
                        applescript_string(title)
                    ))
                    .arg("-e")
                    .arg("text returned of result");
                c
            }
        };
        // The dialog's chatter (GTK warnings) must not reach the AWS CLI's error output.
        cmd.stdin(Stdio::null()).stderr(Stdio::null());
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        match subprocess::first_line(cmd, timeout) {
            Ok(line) => Ok(Answer::Typed(line)),
            // All three exit 1 on Cancel or Escape.
            Err(Failure::Status(s)) if s.code() == Some(1) => Ok(Answer::Cancelled),
            // An empty answer: ask again, as for a mistyped code.
            Err(Failure::NoOutput) => Ok(Answer::Typed(Zeroizing::new(String::new()))),
            Err(other) => Err(other),
        }
    }
}

/// Whether the display the environment names is there: a tmux session or an `ssh -X` login
/// that outlived its desktop keeps a DISPLAY nobody serves, and a dialog there would fail as
/// if cancelled (zenity exits 1 for both), where a terminal could have asked.
#[cfg(unix)]
fn display_answers() -> Result<(), String> {
    use std::os::unix::net::UnixStream;
    let var = |k| std::env::var(k).ok().filter(|v| !v.is_empty());
    if let Some(wayland) = var("WAYLAND_DISPLAY") {
        let socket = if wayland.starts_with('/') {
            PathBuf::from(&wayland)
        } else {
            PathBuf::from(var("XDG_RUNTIME_DIR").unwrap_or_default()).join(&wayland)
        };
        if UnixStream::connect(&socket).is_ok() {
            return Ok(());
        }
    }
    let Some(display) = var("DISPLAY") else {
        return Err("WAYLAND_DISPLAY is set but no compositor answers there".into());
    };
    let gone = || {
        Err(format!(
            "DISPLAY={display} is set but no X server answers there (a session that outlived its desktop?)"
        ))
    };
    let Some((host, rest)) = display.rsplit_once(':') else {
        return gone();
    };
    let Ok(number) = rest.split('.').next().unwrap_or("").parse::<u16>() else {
        return gone();
    };
    let answers = if host.is_empty() || host == "unix" || host.starts_with('/') {
        let path = format!("/tmp/.X11-unix/X{number}");
        #[cfg(target_os = "linux")]
        let abstract_socket = {
            use std::os::linux::net::SocketAddrExt;
            std::os::unix::net::SocketAddr::from_abstract_name(path.as_bytes())
                .and_then(|a| UnixStream::connect_addr(&a))
                .is_ok()
        };
        #[cfg(not(target_os = "linux"))]
        let abstract_socket = false;
        abstract_socket || UnixStream::connect(&path).is_ok()
    } else {
        use std::net::ToSocketAddrs;
        (host, 6000 + number)
            .to_socket_addrs()
            .is_ok_and(|mut addrs| {
                addrs.any(|a| {
                    std::net::TcpStream::connect_timeout(&a, std::time::Duration::from_secs(1))
                        .is_ok()
                })
            })
    };
    if answers { Ok(()) } else { gone() }
}

#[cfg(not(unix))]
fn display_answers() -> Result<(), String> {
    Ok(())
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// zenity reads `--text` as Pango markup; a profile name may hold `<` or `&`.
fn pango_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn applescript_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}
