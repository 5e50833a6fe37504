//! The long-term key printed by a source profile's `credential_process`: a password manager
//! (`op read …`, `pass`, `bw`) or a company script as the home of the IAM user's key. It runs
//! the way the SDKs run one: the command line split as botocore splits it (POSIX shell words,
//! no shell), the JSON of `Version` 1 on stdout, its messages on stderr for the user. Only a
//! miss runs it; a cached session is served without it.
//!
//! Its output is a secret: read into memory that is wiped, never logged, never quoted in an
//! error. A key with a session token or an `ASIA…` id is refused as a temporary one.

use std::process::Command;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

use crate::code::subprocess::{self, Failure};
use crate::credentials::longterm::{self, KeySource};
use crate::error::{Error, Result};
use crate::profile::config::SourceProfile;
use crate::secret::LongTermKey;

/// Set for the process: an mfa-env it starts (a `credential_process` pointing back at an
/// mfa-env profile) refuses to run another, rather than start each other without end.
const RUNNING: &str = "MFA_ENV_SOURCE_PROCESS";

/// What `credential_process` prints (the SDKs' format); unknown fields are ignored as the SDKs
/// ignore them.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Printed {
    version: Option<serde_json::Value>,
    access_key_id: Option<SecretString>,
    secret_access_key: Option<SecretString>,
    session_token: Option<SecretString>,
}

/// Refuses to get a new session inside a source profile's credential_process: that process
/// must print a long-term key, and the mfa-env waiting for it may hold the lock a new session
/// needs. Checked before the lock.
pub fn refuse_nested() -> Result<()> {
    match std::env::var(RUNNING) {
        Ok(outer) => Err(Error::SourceProcessNested { outer }),
        Err(_) => Ok(()),
    }
}

/// Runs `src.credential_process` for `profile` and returns the long-term key it prints.
pub fn run(src: &SourceProfile, command: &str, profile: &str) -> Result<LongTermKey> {
    let fail = |what: String| Error::SourceProcess {
        profile: profile.to_owned(),
        source_profile: src.name.clone(),
        what,
    };
    refuse_nested()?;
    let argv = shlex::split(command)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| fail("cannot be split into words (an unclosed quote?)".into()))?;
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]).env(RUNNING, &src.name);
    // A password manager may ask to be unlocked: at a terminal it can.
    subprocess::with_terminal_or_detached(&mut cmd);
    let timeout = src.process_timeout_seconds;
    let output = subprocess::output(cmd, Duration::from_secs(timeout.into())).map_err(|f| {
        fail(match f {
            Failure::TimedOut(s) => format!(
                "did not finish within {s} s (raise mfa_env_source_process_timeout_seconds in profile '{profile}' if it needs longer)"
            ),
            Failure::Spawn(e) if e.kind() == std::io::ErrorKind::NotFound => format!(
                "could not be started: '{}' was not found (it runs without a shell, as botocore runs it: for a pipe or a variable, write sh -c '…')",
                argv[0]
            ),
            other => other.to_string(),
        })
    })?;
    let key = parse(&output).map_err(|why| fail(why.into()))?;
    let (key, has_session_token) = key;
    longterm::ensure_long_term(
        &key,
        has_session_token,
        profile,
        &KeySource::Process(src.name.clone()),
    )?;
    Ok(key)
}

/// The key in the process's output and whether a session token came with it, or why there is
/// none. The reasons never quote the output.
fn parse(output: &[u8]) -> std::result::Result<(LongTermKey, bool), &'static str> {
    if output.iter().all(u8::is_ascii_whitespace) {
        return Err("printed nothing");
    }
    let printed: Printed =
        serde_json::from_slice(output).map_err(|_| "printed something that is not JSON")?;
    if printed.version != Some(serde_json::Value::from(1)) {
        return Err("printed JSON without \"Version\": 1");
    }
    let (Some(access_key_id), Some(secret_access_key)) =
        (printed.access_key_id, printed.secret_access_key)
    else {
        return Err("printed JSON without AccessKeyId and SecretAccessKey");
    };
    use secrecy::ExposeSecret;
    let has_session_token = printed
        .session_token
        .is_some_and(|t| !t.expose_secret().is_empty());
    Ok((
        LongTermKey {
            access_key_id,
            secret_access_key,
        },
        has_session_token,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    #[test]
    fn reads_the_sdks_format_and_says_what_is_wrong_without_quoting_it() {
        let (key, token) = parse(
            br#"{"Version": 1, "AccessKeyId": "AKIAPROC", "SecretAccessKey": "s3cr3t", "Expiration": null}"#,
        )
        .unwrap();
        assert_eq!(key.access_key_id.expose_secret(), "AKIAPROC");
        assert!(!token);
        let (_, token) = parse(
            br#"{"Version":1,"AccessKeyId":"AKIAPROC","SecretAccessKey":"s","SessionToken":"t"}"#,
        )
        .unwrap();
        assert!(token, "a session token is reported");
        for (bad, why) in [
            (&b"  \n"[..], "printed nothing"),
            (b"AKIAPROC s3cr3t", "not JSON"),
            (
                br#"{"Version":2,"AccessKeyId":"AKIAPROC","SecretAccessKey":"s3cr3t"}"#,
                "Version",
            ),
            (
                br#"{"Version":1,"AccessKeyId":"AKIAPROC"}"#,
                "SecretAccessKey",
            ),
        ] {
            let e = parse(bad).err().unwrap();
            assert!(e.contains(why), "{e}");
            assert!(!e.contains("AKIAPROC") && !e.contains("s3cr3t"), "{e}");
        }
    }
}
