//! Printing credentials in the formats of `aws configure export-credentials --format` (AWS CLI
//! v2), plus fish. Every value that reaches a shell is quoted for that shell, so `eval` of the
//! output can only assign variables, whatever the value holds.

use std::io::Write;

use secrecy::ExposeSecret;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::secret::SessionCredentials;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// `export NAME='value'` lines for POSIX shells (bash, zsh, dash)
    Env,
    /// `NAME='value'` lines, without `export`
    EnvNoExport,
    /// the JSON that `credential_process` reads (Version 1)
    Process,
    /// `$Env:NAME='value'` lines for PowerShell
    Powershell,
    /// `set "NAME=value"` lines for cmd.exe
    WindowsCmd,
    /// `set -gx NAME 'value'` lines for fish
    Fish,
    /// the JSON `aws sts get-session-token` prints ({"Credentials": {...}})
    Sts,
}

/// The RFC 3339 UTC form botocore and the SDKs parse.
pub fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `account`: the session's AWS account where it is known (from the device's or the role's
/// ARN), which the process JSON carries as `AccountId` and the shells as `AWS_ACCOUNT_ID`: the
/// SDKs use it for account-based endpoints. Unknown, it is left out rather than guessed.
pub fn render(
    creds: &SessionCredentials,
    format: Format,
    account: Option<&str>,
) -> Result<Zeroizing<String>> {
    let json = match format {
        Format::Process => {
            let mut json = serde_json::json!({
                "Version": 1,
                "AccessKeyId": creds.access_key_id.expose_secret(),
                "SecretAccessKey": creds.secret_access_key.expose_secret(),
                "SessionToken": creds.session_token.expose_secret(),
                "Expiration": rfc3339(creds.expiration),
            });
            if let Some(account) = account {
                json["AccountId"] = account.into();
            }
            json
        }
        Format::Sts => serde_json::json!({
            "Credentials": {
                "AccessKeyId": creds.access_key_id.expose_secret(),
                "SecretAccessKey": creds.secret_access_key.expose_secret(),
                "SessionToken": creds.session_token.expose_secret(),
                "Expiration": rfc3339(creds.expiration),
            }
        }),
        _ => {
            let mut out = assignments(&variables(creds, account), format)?;
            if account.is_none() {
                out.push_str(clear_account(format));
            }
            return Ok(out);
        }
    };
    let mut out = Zeroizing::new(json.to_string());
    out.push('\n');
    Ok(out)
}

/// The line that unsets `AWS_ACCOUNT_ID` when this session's account is not known, so that an
/// earlier session's does not linger beside these credentials in a shell that `eval`s them
/// (account-based endpoints would go to that account). A dotenv file (`env-no-export`) cannot
/// unset anything.
fn clear_account(format: Format) -> &'static str {
    match format {
        Format::Env => "unset AWS_ACCOUNT_ID\n",
        Format::Fish => "set -e AWS_ACCOUNT_ID\n",
        Format::Powershell => "Remove-Item Env:AWS_ACCOUNT_ID -ErrorAction SilentlyContinue\n",
        Format::WindowsCmd => "set \"AWS_ACCOUNT_ID=\"\n",
        Format::EnvNoExport | Format::Process | Format::Sts => "",
    }
}

/// Shell lines that set `vars`, each value quoted for the format's shell.
pub fn assignments(
    vars: &[(&'static str, Zeroizing<String>)],
    format: Format,
) -> Result<Zeroizing<String>> {
    let mut out = Zeroizing::new(String::new());
    for (name, value) in vars {
        let value = value.as_str();
        let line = match format {
            Format::Env => format!("export {name}={}\n", posix_quote(value)),
            Format::EnvNoExport => format!("{name}={}\n", posix_quote(value)),
            Format::Fish => format!("set -gx {name} {}\n", fish_quote(value)),
            Format::Powershell => format!("$Env:{name}={}\n", powershell_quote(value)),
            Format::WindowsCmd => format!("set \"{name}={}\"\n", cmd_value(value)?),
            Format::Process | Format::Sts => return Err(Error::NotShellFormat),
        };
        out.push_str(&Zeroizing::new(line));
    }
    Ok(out)
}

/// The environment variables that carry a session, as `aws configure export-credentials`
/// names them (`AWS_ACCOUNT_ID` only where the account is known); `exec` sets the same ones.
pub fn variables(
    creds: &SessionCredentials,
    account: Option<&str>,
) -> Vec<(&'static str, Zeroizing<String>)> {
    let own = |s: &secrecy::SecretString| Zeroizing::new(s.expose_secret().to_owned());
    let mut vars = vec![
        ("AWS_ACCESS_KEY_ID", own(&creds.access_key_id)),
        ("AWS_SECRET_ACCESS_KEY", own(&creds.secret_access_key)),
        ("AWS_SESSION_TOKEN", own(&creds.session_token)),
        (
            "AWS_CREDENTIAL_EXPIRATION",
            Zeroizing::new(rfc3339(creds.expiration)),
        ),
    ];
    if let Some(account) = account {
        vars.push(("AWS_ACCOUNT_ID", Zeroizing::new(account.to_owned())));
    }
    vars
}

/// Writes the rendered credentials to stdout in one write.
pub fn print(creds: &SessionCredentials, format: Format, account: Option<&str>) -> Result<()> {
    write(&render(creds, format, account)?)
}

/// Writes `text` to stdout in one write.
pub fn write(text: &str) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(Error::Stdout)
}

/// Single quotes take everything literally in POSIX shells except `'` itself.
pub fn posix_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', r"'\''"))
}

/// In fish single quotes, only `\` and `'` are special, and both escape with `\`.
pub fn fish_quote(value: &str) -> String {
    format!("'{}'", value.replace('\\', r"\\").replace('\'', r"\'"))
}

/// PowerShell single-quoted strings: a quote is doubled. PowerShell also takes the typographic
/// single quotes as quotes, so those are doubled too.
pub fn powershell_quote(value: &str) -> String {
    let mut out = String::from("'");
    for c in value.chars() {
        if matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}') {
            out.push(c);
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// cmd.exe has no quoting that stops `%` or `!` expansion, so such values are refused rather
/// than printed unsafely. STS values (base64 and digits) never contain them.
fn cmd_value(value: &str) -> Result<&str> {
    if value
        .chars()
        .any(|c| matches!(c, '%' | '!' | '"' | '^' | '&' | '|' | '<' | '>') || c.is_control())
    {
        return Err(Error::Unquotable {
            format: "windows-cmd",
        });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    fn creds() -> SessionCredentials {
        SessionCredentials {
            access_key_id: "ASIAEXAMPLE".into(),
            secret_access_key: "se/cr+et=".into(),
            session_token: "tok'en".into(),
            expiration: DateTime::from_timestamp(1_900_000_000, 0).unwrap(),
        }
    }

    #[test]
    fn process_json_is_what_botocore_reads() {
        let out = render(&creds(), Format::Process, None).unwrap();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["Version"], 1);
        assert_eq!(v["AccessKeyId"], "ASIAEXAMPLE");
        assert_eq!(v["SessionToken"], "tok'en");
        assert_eq!(v["Expiration"], "2030-03-17T17:46:40Z");
        assert!(v.get("AccountId").is_none(), "left out when unknown");
        let out = render(&creds(), Format::Process, Some("123456789012")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["AccountId"], "123456789012");
    }

    #[test]
    fn the_account_is_one_more_quoted_variable() {
        let env = render(&creds(), Format::Env, Some("123456789012")).unwrap();
        assert!(
            env.ends_with("export AWS_ACCOUNT_ID='123456789012'\n"),
            "{}",
            *env
        );
        let fish = render(&creds(), Format::Fish, Some("123456789012")).unwrap();
        assert!(
            fish.ends_with("set -gx AWS_ACCOUNT_ID '123456789012'\n"),
            "{}",
            *fish
        );
        let none = render(&creds(), Format::Env, None).unwrap();
        assert!(
            none.ends_with("'\nunset AWS_ACCOUNT_ID\n"),
            "an earlier session's account must not linger: {}",
            *none
        );
        let dotenv = render(&creds(), Format::EnvNoExport, None).unwrap();
        assert!(!dotenv.contains("AWS_ACCOUNT_ID"), "{}", *dotenv);
    }

    #[test]
    fn shell_lines_quote_every_value() {
        let env = render(&creds(), Format::Env, None).unwrap();
        assert!(
            env.contains("export AWS_SESSION_TOKEN='tok'\\''en'\n"),
            "{}",
            *env
        );
        assert!(env.contains("export AWS_CREDENTIAL_EXPIRATION='2030-03-17T17:46:40Z'\n"));
        let plain = render(&creds(), Format::EnvNoExport, None).unwrap();
        assert!(
            plain.starts_with("AWS_ACCESS_KEY_ID='ASIAEXAMPLE'\n"),
            "{}",
            *plain
        );
        let fish = render(&creds(), Format::Fish, None).unwrap();
        assert!(
            fish.contains("set -gx AWS_SESSION_TOKEN 'tok\\'en'\n"),
            "{}",
            *fish
        );
        let ps = render(&creds(), Format::Powershell, None).unwrap();
        assert!(ps.contains("$Env:AWS_SESSION_TOKEN='tok''en'\n"), "{}", *ps);
        assert_eq!(powershell_quote("a\u{2019}b"), "'a\u{2019}\u{2019}b'");
    }

    #[test]
    fn cmd_refuses_what_it_cannot_quote() {
        assert!(render(&creds(), Format::WindowsCmd, None).is_ok());
        let mut c = creds();
        c.session_token = "100%".into();
        assert!(matches!(
            render(&c, Format::WindowsCmd, None),
            Err(Error::Unquotable { .. })
        ));
    }

    /// Values chosen to break naive quoting: command substitution, expansions, every quote
    /// character, backslashes, newlines, globbing, history expansion, non-ASCII.
    const NASTY: &[&str] = &[
        "plain+base64/==",
        "$(touch /tmp/mfa-env-pwned)",
        "`touch /tmp/mfa-env-pwned`",
        "it's \"quoted\" 'twice'",
        "back\\slash\\",
        "two\nlines",
        "; rm -rf / #",
        "$HOME ${PATH} $0 !! !$ *",
        "tab\there",
        "\u{e9}t\u{e9} \u{2019}curly\u{2019} \u{1f511}",
        "trailing\\",
        "",
    ];

    fn with_token(token: &str) -> SessionCredentials {
        SessionCredentials {
            session_token: token.into(),
            ..creds()
        }
    }

    /// Evaluates `script` in `shell` and returns what it printed.
    fn eval(shell: &str, args: &[&str], script: &str) -> String {
        let out = std::process::Command::new(shell)
            .args(args)
            .arg(script)
            .output()
            .unwrap_or_else(|e| {
                panic!("`{shell}` is not runnable ({e}): run scripts/setup-test-env")
            });
        assert!(
            out.status.success(),
            "{shell}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    #[test]
    fn posix_shells_get_back_the_exact_value() {
        for shell in ["bash", "zsh", "dash"] {
            for value in NASTY {
                for format in [Format::Env, Format::EnvNoExport] {
                    let text = render(&with_token(value), format, Some("123456789012")).unwrap();
                    let script = format!("{}\nprintf '%s' \"$AWS_SESSION_TOKEN\"", *text);
                    assert_eq!(eval(shell, &["-c"], &script), *value, "{shell} {format:?}");
                }
            }
        }
        assert!(
            !std::path::Path::new("/tmp/mfa-env-pwned").exists(),
            "eval ran a command"
        );
    }

    #[test]
    fn fish_gets_back_the_exact_value() {
        for value in NASTY {
            let text = render(&with_token(value), Format::Fish, None).unwrap();
            let script = format!("{}\nprintf '%s' \"$AWS_SESSION_TOKEN\"", *text);
            assert_eq!(eval("fish", &["--no-config", "-c"], &script), *value);
        }
        assert!(
            !std::path::Path::new("/tmp/mfa-env-pwned").exists(),
            "eval ran a command"
        );
    }

    /// PowerShell is not installed here; its single-quoted string rule is simple enough to
    /// read back independently: a doubled quote character stands for one.
    #[test]
    fn powershell_lines_read_back_to_the_exact_value() {
        let quotes = ['\'', '\u{2018}', '\u{2019}', '\u{201A}', '\u{201B}'];
        for value in NASTY {
            let text = render(&with_token(value), Format::Powershell, None).unwrap();
            let rest = text.split("$Env:AWS_SESSION_TOKEN=").nth(1).unwrap();
            let mut chars = rest.chars().peekable();
            assert_eq!(chars.next(), Some('\''));
            let mut got = String::new();
            loop {
                let c = chars.next().expect("unterminated string");
                if quotes.contains(&c) {
                    if chars.peek() == Some(&c) {
                        chars.next();
                        got.push(c);
                        continue;
                    }
                    break;
                }
                got.push(c);
            }
            assert_eq!(got, *value);
            assert_eq!(
                chars.next(),
                Some('\n'),
                "nothing follows the closing quote"
            );
        }
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        /// Any string a variable can hold: every char but NUL, weighted towards the shell-special.
        fn value() -> impl Strategy<Value = String> {
            proptest::collection::vec(
                prop_oneof![
                    3 => proptest::sample::select(vec![
                        '\'', '"', '\\', '$', '`', '!', '*', '?', '[', ']', '{', '}', '(', ')', ';',
                        '&', '|', '<', '>', '#', '~', '%', '^', ' ', '\t', '\n', '\r',
                        '\u{2018}', '\u{2019}', '\u{201A}', '\u{201B}',
                    ]),
                    2 => any::<char>().prop_filter("no NUL", |c| *c != '\0'),
                ],
                0..40,
            )
            .prop_map(|chars| chars.into_iter().collect())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(48))]

            #[test]
            fn bash_and_dash_read_back_any_value(v in value()) {
                let text = render(&with_token(&v), Format::Env, None).unwrap();
                let script = format!("{}\nprintf '%s' \"$AWS_SESSION_TOKEN\"", *text);
                for shell in ["bash", "dash"] {
                    prop_assert_eq!(eval(shell, &["-c"], &script), v.clone(), "{}", shell);
                }
            }

            #[test]
            fn fish_reads_back_any_value(v in value()) {
                let text = render(&with_token(&v), Format::Fish, None).unwrap();
                let script = format!("{}\nprintf '%s' \"$AWS_SESSION_TOKEN\"", *text);
                prop_assert_eq!(eval("fish", &["--no-config", "-c"], &script), v);
            }

            #[test]
            fn cmd_prints_only_what_it_can_quote(v in value()) {
                match render(&with_token(&v), Format::WindowsCmd, None) {
                    Ok(text) => {
                        let expected = format!("set \"AWS_SESSION_TOKEN={v}\"\n");
                        prop_assert!(text.contains(&expected));
                    }
                    Err(Error::Unquotable { .. }) => {
                        prop_assert!(v.chars().any(|c| "%!\"^&|<>".contains(c) || c.is_control()));
                    }
                    Err(e) => prop_assert!(false, "unexpected error {}", e),
                }
            }
        }
    }
}
