//! Where an MFA code comes from: `--token-code`, the profile's `mfa_process`, a terminal prompt or
//! a desktop dialog, and the subprocesses they run. Uses `profile` and below.
//!
//! The first source that applies wins: `--token-code` (or `--token-code -`, one
//! line on stdin, which keeps it out of argv), the profile's `mfa_process`, else a person:
//! a hidden prompt on the controlling terminal, or a desktop dialog when there is no terminal
//! but a display. The terminal prompt opens `/dev/tty` itself, never stdout (which belongs to
//! the credentials) nor stderr (which the AWS CLI captures). With no way to ask it fails at
//! once: a helper must never wait for a person who cannot see the question.

pub mod desktop;
pub mod mfa_process;
pub mod subprocess;
pub mod tty;

use std::io::BufRead;
use std::time::Duration;

use zeroize::Zeroizing;

use crate::code::desktop::{Answer, Dialog};
use crate::error::{Error, Result};
use crate::profile::config::Settings;
use crate::secret::TokenCode;

/// Where the code comes from.
#[derive(Clone, Copy)]
pub enum CodeSource<'a> {
    /// `--token-code`: a script's code, final.
    Given(&'a str),
    /// The profile's `mfa_process` command: final, like a script's.
    Process(&'a str),
    /// A person, at the terminal or a desktop dialog: may be asked again.
    Person,
}

impl<'a> CodeSource<'a> {
    /// The SPEC's order: `--token-code`, then `mfa_process`, then a person.
    pub fn choose(token_code: Option<&'a str>, settings: &'a Settings) -> Self {
        match (token_code, settings.mfa_process.as_deref()) {
            (Some(code), _) => CodeSource::Given(code),
            (None, Some(command)) => CodeSource::Process(command),
            (None, None) => CodeSource::Person,
        }
    }

    /// A person can be asked again; a script's or a program's code is final.
    pub fn can_ask_again(self) -> bool {
        matches!(self, CodeSource::Person)
    }
}

/// How a locked keyring may be unlocked: by a person who could see its prompt (a terminal, or
/// a display for the keyring's own dialog), within `seconds`. A prompt nobody sees is never
/// shown and waited for.
pub fn unlock_within(seconds: u32) -> crate::store::Unlock {
    crate::store::Unlock {
        seconds,
        someone_present,
    }
}

/// Set by a credentials server (`serve`, `exec --server`) once it has its first session: from
/// then on a person is asked by a program that runs beside (or behind) what they are doing.
static SERVING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Marks this process as a credentials server. Its prompts then say who is asking, a desktop
/// dialog comes before the terminal (which the served command may be reading), and the
/// terminal is used only while the server has its foreground.
pub fn serving() {
    SERVING.store(true, std::sync::atomic::Ordering::Relaxed);
    #[cfg(unix)]
    tty::only_in_foreground();
}

fn is_serving() -> bool {
    SERVING.load(std::sync::atomic::Ordering::Relaxed)
}

fn someone_present() -> bool {
    let set = |k| std::env::var_os(k).is_some_and(|v| !v.is_empty());
    tty::open().is_ok() || set("DISPLAY") || set("WAYLAND_DISPLAY")
}

/// How many times a person may mistype the code before we give up.
const PROMPT_ATTEMPTS: usize = 3;

/// Gets one code. `note` says why a person is asked again (a rejected or reused code); it is
/// shown before the question.
pub fn obtain(
    source: CodeSource<'_>,
    settings: &Settings,
    note: Option<&str>,
) -> Result<TokenCode> {
    match source {
        CodeSource::Given("-") => {
            let mut line = Zeroizing::new(String::new());
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .map_err(|e| Error::Stdin {
                    what: "reading the MFA code",
                    why: e.to_string(),
                })?;
            TokenCode::parse(&line, "the MFA code on standard input")
        }
        CodeSource::Given(code) => TokenCode::parse(code, "--token-code"),
        CodeSource::Process(command) => {
            let line = mfa_process::run(settings, command)?;
            TokenCode::parse(&line, "the first line of mfa_process's output")
        }
        CodeSource::Person => ask_person(settings, note),
    }
}

/// The terminal if there is one, else a desktop dialog if there is a display. A server asks
/// in a dialog first: on the terminal the served command may be reading too.
fn ask_person(settings: &Settings, note: Option<&str>) -> Result<TokenCode> {
    let dialog = Dialog::find();
    if is_serving()
        && let Ok(dialog) = &dialog
    {
        return ask_in_dialog(dialog, settings, note);
    }
    let mut question = format!(
        "MFA code for profile '{}' ({}): ",
        settings.profile, settings.serial
    );
    if is_serving() {
        question = format!(
            "mfa-env (credentials server, pid {}) needs a new session for profile '{}'; type the code here, not into the program it serves.\n{question}",
            std::process::id(),
            settings.profile
        );
    }
    match tty::open() {
        Ok(tty) => with_retries(note, |note| {
            if let Some(note) = note {
                tty::tell(note);
            }
            tty::ask_hidden(&tty, &question)
                .map(Some)
                .map_err(|e| Error::Prompt(e.to_string()))
        })?
        .ok_or_else(|| Error::Prompt("the terminal prompt ended".into())),
        Err(no_tty) => {
            let dialog = dialog.map_err(|no_dialog| Error::NoPrompt {
                profile: settings.profile.clone(),
                reason: format!("no terminal (/dev/tty: {no_tty}) and {no_dialog}"),
            })?;
            ask_in_dialog(&dialog, settings, note)
        }
    }
}

fn ask_in_dialog(dialog: &Dialog, settings: &Settings, note: Option<&str>) -> Result<TokenCode> {
    let title = format!("mfa-env: MFA code for profile '{}'", settings.profile);
    // A person must have time to find their phone; the other processes waiting on the lock
    // wait as long.
    let timeout = Duration::from_secs(settings.lock_timeout_seconds.max(30).into());
    with_retries(note, |note| {
        let text = format!(
            "{}MFA code for profile '{}'\nDevice: {}",
            note.map(|n| format!("{n}\n\n")).unwrap_or_default(),
            settings.profile,
            settings.serial
        );
        match dialog.ask(&title, &text, timeout) {
            Ok(Answer::Typed(code)) => Ok(Some(code)),
            Ok(Answer::Cancelled) => Ok(None),
            Err(e) => Err(Error::Prompt(format!("the desktop dialog {e}"))),
        }
    })?
    .ok_or_else(|| Error::PromptCancelled {
        profile: settings.profile.clone(),
    })
}

/// Asks until a well-formed code is typed, at most [`PROMPT_ATTEMPTS`] times. `ask` returns
/// `None` when the person cancels, and so does this.
fn with_retries(
    note: Option<&str>,
    mut ask: impl FnMut(Option<&str>) -> Result<Option<Zeroizing<String>>>,
) -> Result<Option<TokenCode>> {
    let mut note = note.map(str::to_owned);
    for attempt in 1..=PROMPT_ATTEMPTS {
        let Some(typed) = ask(note.as_deref())? else {
            return Ok(None);
        };
        match TokenCode::parse(&typed, "the MFA code") {
            Ok(code) => return Ok(Some(code)),
            Err(e) if attempt == PROMPT_ATTEMPTS => return Err(e),
            Err(_) => note = Some("A code is 6 digits. Try again.".into()),
        }
    }
    unreachable!("the loop returns on its last attempt")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A profile's settings, read from a config file that has `extra` lines.
    fn settings(extra: &str) -> Settings {
        let config =
            format!("[profile dev]\nmfa_serial = arn:aws:iam::123456789012:mfa/alice\n{extra}");
        let env = aws_types::os_shim_internal::Env::from_slice(&[("HOME", "/home/u")]);
        let fs = aws_types::os_shim_internal::Fs::from_slice(&[(
            "/home/u/.aws/config",
            config.as_str(),
        )]);
        crate::profile::config::load_from(&env, &fs, "dev").unwrap()
    }

    #[test]
    fn code_sources_in_the_spec_order() {
        let with = settings("mfa_process = echo 123456\n");
        let without = settings("");
        assert!(matches!(
            CodeSource::choose(Some("654321"), &with),
            CodeSource::Given("654321")
        ));
        assert!(matches!(
            CodeSource::choose(None, &with),
            CodeSource::Process("echo 123456")
        ));
        assert!(matches!(
            CodeSource::choose(None, &without),
            CodeSource::Person
        ));
        assert!(CodeSource::Person.can_ask_again());
        assert!(!CodeSource::Process("x").can_ask_again());
    }
}
