//! Handing the sign-in URL to the user's browser without showing it to anyone else. The URL
//! signs in as the role for as long as its token lives, and a browser is a long-lived process
//! whose command line every local user can read (`ps`, `/proc/*/cmdline`). So the browser is
//! given the path of a private file (mode 0600, in a directory of the user's alone, in memory
//! where there is one: `$XDG_RUNTIME_DIR`, `/dev/shm`) whose page
//! sends it on to the URL; the file is deleted as soon as the browser has read it (Linux:
//! inotify says when it closed the file), or after a minute at most.
//!
//! The browser is `$BROWSER` (its first entry; `%s` is replaced by the file, else the file is
//! the last argument), else `xdg-open` (Linux), `open` (macOS), `start` (Windows); macOS and
//! Windows are written, not built here.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::private_files::PrivateDir;

/// How long the browser may take to read the page before it is deleted unread.
const READ_WITHIN: Duration = Duration::from_secs(60);

pub struct Browser {
    argv: Vec<String>,
}

impl Browser {
    /// The browser command, checked before any call is made.
    pub fn find() -> Result<Browser> {
        let fail = |what: String| Error::Browser { what };
        if let Some(value) = std::env::var("BROWSER")
            .ok()
            .filter(|v| !v.trim().is_empty())
        {
            // A list of commands separated by ':', as xdg-utils reads it: the first one.
            let first = value
                .split(':')
                .find(|c| !c.trim().is_empty())
                .unwrap_or_default();
            let argv = shlex::split(first)
                .filter(|a| !a.is_empty())
                .ok_or_else(|| fail(format!("$BROWSER ({first:?}) cannot be split into words")))?;
            let program = std::path::Path::new(&argv[0]);
            let found = if argv[0].contains('/') {
                program.is_file()
            } else {
                find_in_path(&argv[0]).is_some()
            };
            if !found {
                return Err(fail(format!(
                    "$BROWSER names {}, which is not installed",
                    argv[0]
                )));
            }
            return Ok(Browser { argv });
        }
        let default: &[&str] = if cfg!(target_os = "macos") {
            &["open"]
        } else if cfg!(windows) {
            &["cmd", "/C", "start", ""]
        } else {
            &["xdg-open"]
        };
        if cfg!(unix) && find_in_path(default[0]).is_none() {
            return Err(fail(format!(
                "$BROWSER is not set and {} is not installed",
                default[0]
            )));
        }
        Ok(Browser {
            argv: default.iter().map(|s| (*s).to_owned()).collect(),
        })
    }

    /// Opens `url` through a private redirect page, and returns once the browser has read it.
    pub fn open(self, url: &str) -> Result<()> {
        let fail = |what: String| Error::Browser { what };
        let page = RedirectPage::write(url).map_err(|e| fail(format!("the private page: {e}")))?;
        let path = page.path.to_string_lossy().into_owned();
        let mut args: Vec<OsString> = Vec::new();
        let mut placed = false;
        for arg in &self.argv[1..] {
            if arg.contains("%s") {
                args.push(arg.replace("%s", &path).into());
                placed = true;
            } else {
                args.push(arg.into());
            }
        }
        if !placed {
            args.push(page.path.clone().into_os_string());
        }
        let mut cmd = Command::new(&self.argv[0]);
        cmd.args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // The browser outlives us: not in our process group, so the terminal's Ctrl-C after we
        // are gone is not its business.
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let mut child = cmd
            .spawn()
            .map_err(|e| fail(format!("{} could not be started: {e}", self.argv[0])))?;
        page.wait_until_read(&mut child, &self.argv[0])
    }
}

/// A page that sends the browser on to the URL, readable by the user alone; deleted on drop.
struct RedirectPage {
    dir: PrivateDir,
    name: OsString,
    path: PathBuf,
    #[cfg(target_os = "linux")]
    watch: Option<inotify::Watch>,
}

impl RedirectPage {
    fn write(url: &str) -> std::io::Result<RedirectPage> {
        use std::io::Write;
        let dir = page_dir()?;
        remove_stale(&dir);
        let mut random = [0u8; 16];
        getrandom::getrandom(&mut random).map_err(|e| std::io::Error::other(e.to_string()))?;
        let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
        let name = OsString::from(format!("console-{hex}.html"));
        let mut file = dir.create_new(&name)?;
        let page = redirect_html(url);
        file.write_all(page.as_bytes())?;
        file.sync_all()?;
        let path = dir.path().join(&name);
        Ok(RedirectPage {
            #[cfg(target_os = "linux")]
            watch: inotify::Watch::new(&path).ok(),
            dir,
            name,
            path,
        })
    }

    /// Waits until the browser has read the page (Linux: closed it after opening it), the
    /// browser command failed, or `READ_WITHIN` passed. A launcher (`xdg-open`) may read the
    /// page once itself, to learn its type, before the browser does: after its read, the
    /// browser's is awaited for `AFTER_LAUNCHER` more.
    fn wait_until_read(&self, child: &mut std::process::Child, program: &str) -> Result<()> {
        let fail = |what: String| Error::Browser { what };
        let launcher = is_launcher(program);
        let deadline = Instant::now() + READ_WITHIN;
        let mut first_read: Option<Instant> = None;
        let mut exited_ok = false;
        loop {
            #[cfg(target_os = "linux")]
            if self
                .watch
                .as_ref()
                .is_some_and(|w| w.closed_after_reading(Duration::from_millis(100)))
            {
                if !launcher || first_read.is_some() {
                    return Ok(());
                }
                first_read = Some(Instant::now());
            }
            #[cfg(not(target_os = "linux"))]
            std::thread::sleep(Duration::from_millis(100));
            if first_read.is_some_and(|t| t.elapsed() >= AFTER_LAUNCHER) {
                return Ok(());
            }
            if !exited_ok {
                match child.try_wait() {
                    Ok(Some(status)) if status.success() => exited_ok = true,
                    Ok(Some(status)) => {
                        return Err(fail(format!("{program} exited with {status}")));
                    }
                    _ => {}
                }
            }
            if Instant::now() >= deadline {
                // Without inotify (another platform, or a watch that could not be set), the
                // browser had a minute: the page is gone now either way.
                return if cfg!(target_os = "linux") && self.watched() {
                    Err(fail(format!(
                        "{program} did not open the page within {} s; it is deleted",
                        READ_WITHIN.as_secs()
                    )))
                } else {
                    Ok(())
                };
            }
        }
    }

    fn watched(&self) -> bool {
        #[cfg(target_os = "linux")]
        return self.watch.is_some();
        #[cfg(not(target_os = "linux"))]
        false
    }
}

/// How long the browser may take, after a launcher read the page, to read it too.
const AFTER_LAUNCHER: Duration = Duration::from_secs(10);

/// Programs that start the user's browser rather than being it. (Debian's own chooser is left
/// out by name: lintian takes the name in a binary for a use of it, which would need a
/// dependency on sensible-utils.)
fn is_launcher(program: &str) -> bool {
    let name = std::path::Path::new(program)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(program);
    matches!(
        name,
        "xdg-open"
            | "gio"
            | "kde-open"
            | "kde-open5"
            | "exo-open"
            | "gnome-open"
            | "x-www-browser"
            | "open"
            | "cmd"
    )
}

impl Drop for RedirectPage {
    fn drop(&mut self) {
        let _ = self.dir.remove(&self.name);
    }
}

/// Where the page is written: memory the user's alone, where there is such a place (the
/// runtime directory, else a directory of the user's in `/dev/shm`), else the user's cache.
/// The first that is, or can be made, a private directory.
fn page_dir() -> std::io::Result<PrivateDir> {
    let mut candidates = Vec::new();
    if let Some(run) = std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from)
        && run.is_absolute()
        && run.is_dir()
    {
        candidates.push(run.join("mfa-env"));
    }
    #[cfg(unix)]
    if std::path::Path::new("/dev/shm").is_dir() {
        // SAFETY: getuid cannot fail.
        let uid = unsafe { libc::getuid() };
        candidates.push(PathBuf::from(format!("/dev/shm/mfa-env-{uid}")));
    }
    if let Some(cache) = dirs::cache_dir() {
        candidates.push(cache.join("mfa-env").join("console"));
    }
    let mut last = std::io::Error::other("no home directory");
    for dir in candidates {
        match PrivateDir::create(&dir) {
            Ok(d) => return Ok(d),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Pages an earlier run left (killed while it waited): gone after twice the wait.
fn remove_stale(dir: &PrivateDir) {
    let Ok(entries) = std::fs::read_dir(dir.path()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let ours = name
            .to_str()
            .is_some_and(|n| n.starts_with("console-") && n.ends_with(".html"));
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > READ_WITHIN * 2);
        if ours && old {
            let _ = dir.remove(&name);
        }
    }
}

/// A page that replaces itself with `url` at once, and says where it goes for a browser that
/// runs no script and ignores the refresh. `url` is the federation URL: letters, digits and
/// `%-._~:/?&=+*`, escaped here all the same.
fn redirect_html(url: &str) -> String {
    let attr = url
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let js = serde_json::to_string(url)
        .expect("a string serializes")
        .replace("</", "<\\/");
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\">\
         <meta name=\"referrer\" content=\"no-referrer\">\
         <meta http-equiv=\"refresh\" content=\"0;url={attr}\">\
         <title>mfa-env: signing in to the AWS console</title>\
         <script>location.replace({js});</script></head>\
         <body><a href=\"{attr}\">Sign in to the AWS console</a></body></html>\n"
    )
}

fn find_in_path(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    })
}

#[cfg(target_os = "linux")]
mod inotify {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::path::Path;
    use std::time::Duration;

    /// An inotify watch on one file, for "closed after reading".
    pub struct Watch(OwnedFd);

    impl Watch {
        pub fn new(path: &Path) -> std::io::Result<Watch> {
            use std::os::unix::ffi::OsStrExt;
            // SAFETY: plain syscalls; the descriptor is owned from here on.
            let fd = unsafe { libc::inotify_init1(libc::IN_CLOEXEC | libc::IN_NONBLOCK) };
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let fd = unsafe { OwnedFd::from_raw_fd(fd) };
            let c = std::ffi::CString::new(path.as_os_str().as_bytes())
                .map_err(std::io::Error::other)?;
            // SAFETY: a valid descriptor and C string.
            let wd = unsafe {
                libc::inotify_add_watch(fd.as_raw_fd(), c.as_ptr(), libc::IN_CLOSE_NOWRITE)
            };
            if wd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(Watch(fd))
        }

        /// Whether the file was closed by a reader within `wait`.
        pub fn closed_after_reading(&self, wait: Duration) -> bool {
            let mut pfd = libc::pollfd {
                fd: self.0.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            let ms = i32::try_from(wait.as_millis()).unwrap_or(i32::MAX);
            // SAFETY: one pollfd of ours.
            if unsafe { libc::poll(&mut pfd, 1, ms) } <= 0 {
                return false;
            }
            let mut buf = [0u8; 4096];
            // SAFETY: reading into a local buffer of the given size.
            let n = unsafe { libc::read(self.0.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
            n > 0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_sends_the_browser_on_and_cannot_be_broken_out_of() {
        let page = redirect_html("https://signin.aws.amazon.com/federation?a=1&b=</script>\"");
        assert!(page.contains("content=\"0;url=https://signin.aws.amazon.com/federation?a=1&amp;b=&lt;/script&gt;&quot;\""), "{page}");
        assert!(page.contains("location.replace(\"https://signin.aws.amazon.com/federation?a=1&b=<\\/script>\\\"\")"), "{page}");
        assert_eq!(page.matches("</script>").count(), 1, "{page}");
    }
}
