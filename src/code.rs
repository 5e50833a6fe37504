//! The MFA code: from `--token-code` (or `--token-code -`, one line on stdin, which keeps it out
//! of argv), else typed at a prompt on the controlling terminal. The prompt opens `/dev/tty`
//! itself, never stdout (which belongs to the credentials) nor stderr (which the AWS CLI
//! captures). Without a terminal it fails at once: a helper must never wait for a person who
//! cannot see the question.

use std::io::BufRead;

use secrecy::{ExposeSecret, SecretString};

use crate::config::Settings;
use crate::error::{Error, Result};
use crate::tty;

/// A code of exactly six ASCII digits.
#[derive(Debug)]
pub struct TokenCode(SecretString);

impl TokenCode {
    pub fn parse(text: &str, what: &'static str) -> Result<Self> {
        let text = text.trim();
        if text.len() == 6 && text.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(text.into()))
        } else {
            Err(Error::BadCodeFormat { what })
        }
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

/// Where to get the code from, as the user asked on the command line.
#[derive(Clone, Copy)]
pub enum CodeSource<'a> {
    Given(&'a str),
    Terminal,
}

/// How many times a person may mistype the code before we give up.
const PROMPT_ATTEMPTS: usize = 3;

pub fn obtain(source: CodeSource<'_>, settings: &Settings) -> Result<TokenCode> {
    match source {
        CodeSource::Given("-") => {
            let mut line = zeroize::Zeroizing::new(String::new());
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
        CodeSource::Terminal => prompt(settings),
    }
}

impl CodeSource<'_> {
    /// A person at a terminal can be asked again; a script's code is final.
    pub fn can_ask_again(self) -> bool {
        matches!(self, CodeSource::Terminal)
    }
}

fn prompt(settings: &Settings) -> Result<TokenCode> {
    // Opening the terminal first turns "no terminal" into an immediate, clear error.
    let tty = tty::open().map_err(|e| Error::NoPrompt {
        profile: settings.profile.clone(),
        reason: format!("no terminal to prompt on (/dev/tty: {e})"),
    })?;
    let question = format!(
        "MFA code for profile '{}' ({}): ",
        settings.profile, settings.serial
    );
    for attempt in 1..=PROMPT_ATTEMPTS {
        let typed = tty::ask_hidden(&tty, &question).map_err(|e| Error::Prompt(e.to_string()))?;
        match TokenCode::parse(&typed, "the MFA code") {
            Ok(code) => return Ok(code),
            Err(e) if attempt == PROMPT_ATTEMPTS => return Err(e),
            Err(_) => tty::tell("A code is 6 digits. Try again."),
        }
    }
    unreachable!("the loop returns on its last attempt")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exactly_six_digits() {
        assert_eq!(TokenCode::parse("123456", "x").unwrap().expose(), "123456");
        assert_eq!(
            TokenCode::parse(" 012345\n", "x").unwrap().expose(),
            "012345"
        );
        for bad in [
            "",
            "12345",
            "1234567",
            "12345a",
            "12 456",
            "１２３４５６",
            "-12345",
        ] {
            let e = TokenCode::parse(bad, "--token-code")
                .unwrap_err()
                .to_string();
            assert!(
                e.contains("--token-code must be exactly 6 digits"),
                "{bad}: {e}"
            );
        }
    }
}
