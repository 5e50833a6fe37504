//! The commands besides getting a session: `add`, `remove`, `status`, `clear`, `mfa-arg`,
//! `doctor`, `completions`, `man`. The management commands report to stderr what they did; `status`
//! writes to stdout, and never a secret; `mfa-arg` writes only the requested `SERIAL CODE`.

use std::io::{BufRead, Write};

use chrono::{DateTime, Utc};
use zeroize::Zeroizing;

use crate::cli::{CodeArgs, Global};
use crate::code::{self, CodeSource};
use crate::error::{Error, Result};
use crate::secret::LongTermKey;
use crate::store::Store;
use crate::{cache, clock, config, longterm, output, tty};

/// `mfa-env add`: stores the long-term key pair, from a hidden prompt or two lines on stdin,
/// and drops the profile's sessions, which were made with the previous key. A keyring emptied
/// at reboot would hold the key's only copy, so it is refused unless the user says so.
pub fn add(global: &Global, from_stdin: bool, volatile_ok: bool) -> Result<()> {
    let profile = global.profile();
    // Open the keyring before asking for secrets, so an absent keyring costs no typing.
    let store = Store::open(
        global.keyring,
        crate::code::unlock_within(config::DEFAULT_LOCK_TIMEOUT_SECONDS),
    )?;
    let durability = store.durability_of_write(&longterm::item_name(profile))?;
    if !durability.survives() && !volatile_ok {
        return Err(Error::VolatileStore {
            profile: profile.to_owned(),
            store: durability.describe().to_owned(),
            fix: format!(
                "put the key in a profile of ~/.aws/credentials and name that profile in mfa_env_source_profile (`mfa-env setup -p {profile} --key-from THAT-PROFILE`), or pass --volatile-ok and keep a copy elsewhere"
            ),
        });
    }
    let key = if from_stdin {
        key_from_stdin()?
    } else {
        key_from_terminal(profile)?
    };
    longterm::validate_new(&key, profile)?;
    longterm::store_key(&store, profile, &key)?;
    let cleared = cache::clear(&store, Some(profile), None)?;
    eprintln!(
        "mfa-env: stored the long-term key for profile '{profile}' in the {}{}",
        store.name(),
        if cleared > 0 {
            format!("; removed {cleared} cached session(s) made with the old key")
        } else {
            String::new()
        }
    );
    if !durability.survives() {
        eprintln!(
            "mfa-env: note: {} — keep a copy of the key elsewhere",
            durability.describe()
        );
    }
    if let Err(e) = config::load(profile) {
        eprintln!("mfa-env: note: the key is stored, but the profile is not usable yet: {e}");
    }
    Ok(())
}

pub fn key_from_stdin() -> Result<LongTermKey> {
    let stdin = std::io::stdin();
    let mut lines = stdin.lock();
    let mut read = |what| -> Result<Zeroizing<String>> {
        let mut line = Zeroizing::new(String::new());
        match lines.read_line(&mut line) {
            Ok(0) => Err(Error::Stdin {
                what,
                why: "missing: give the key id and the secret key as two lines".into(),
            }),
            Ok(_) => Ok(Zeroizing::new(line.trim().to_owned())),
            Err(e) => Err(Error::Stdin {
                what,
                why: e.to_string(),
            }),
        }
    };
    let id = read("the access key id")?;
    let secret = read("the secret access key")?;
    Ok(LongTermKey {
        access_key_id: id.as_str().into(),
        secret_access_key: secret.as_str().into(),
    })
}

pub fn key_from_terminal(profile: &str) -> Result<LongTermKey> {
    let tty = tty::open().map_err(|e| Error::Stdin {
        what: "the key pair",
        why: format!(
            "no terminal to prompt on (/dev/tty: {e}); pipe two lines to `mfa-env add --stdin`"
        ),
    })?;
    let ask = |what: &str| -> Result<Zeroizing<String>> {
        tty::ask_hidden(&tty, &format!("{what} for profile '{profile}': "))
            .map_err(|e| Error::Prompt(e.to_string()))
    };
    let id = ask("AWS access key id")?;
    let secret = ask("AWS secret access key")?;
    Ok(LongTermKey {
        access_key_id: id.trim().into(),
        secret_access_key: secret.trim().into(),
    })
}

/// `mfa-env remove`: the long-term key and every cached session of the profile.
pub fn remove(global: &Global) -> Result<()> {
    let profile = global.profile();
    let store = Store::open(
        global.keyring,
        crate::code::unlock_within(config::DEFAULT_LOCK_TIMEOUT_SECONDS),
    )?;
    let had_key = longterm::delete_key(&store, profile)?;
    let sessions = cache::clear(&store, Some(profile), current_item(profile).as_deref())?;
    eprintln!(
        "mfa-env: profile '{profile}': {} long-term key and {sessions} cached session(s) removed from the {}",
        if had_key { "the" } else { "no" },
        store.name()
    );
    Ok(())
}

/// `mfa-env clear`: cached sessions of the profile, or of all with `--all`.
pub fn clear(global: &Global, all: bool) -> Result<()> {
    let store = Store::open(
        global.keyring,
        crate::code::unlock_within(config::DEFAULT_LOCK_TIMEOUT_SECONDS),
    )?;
    let (profile, item) = if all {
        (None, None)
    } else {
        let p = global.profile();
        (Some(p), current_item(p))
    };
    let n = cache::clear(&store, profile, item.as_deref())?;
    eprintln!(
        "mfa-env: removed {n} cached session(s){} from the {}",
        profile
            .map(|p| format!(" of profile '{p}'"))
            .unwrap_or_default(),
        store.name()
    );
    Ok(())
}

/// The session item of the profile's current scope, when its config can be read.
fn current_item(profile: &str) -> Option<String> {
    config::load(profile).ok().map(|s| cache::item_name(&s))
}

/// `mfa-env status`: one line (or JSON object) per cached session.
pub fn status(global: &Global, json: bool) -> Result<()> {
    let store = Store::open(
        global.keyring,
        crate::code::unlock_within(config::DEFAULT_LOCK_TIMEOUT_SECONDS),
    )?;
    let now = clock::now();
    let rows: Vec<_> = cache::list(&store, global.profile.as_deref())?
        .into_iter()
        .map(|l| Row::new(l, now, store.name()))
        .collect();
    let text = if json {
        pretty_json(&rows)
    } else if rows.is_empty() {
        String::from("no cached sessions\n")
    } else {
        table(&rows)
    };
    write_stdout(&text)
}

#[derive(serde::Serialize)]
struct Row {
    profile: String,
    /// For a role session: the role, and the mfa-env profile whose MFA session assumed it.
    #[serde(skip_serializing_if = "Option::is_none")]
    role_arn: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    via: Option<String>,
    serial: String,
    /// The partition (or explicit endpoint) the session is valid for.
    scope: String,
    store: &'static str,
    key_source: String,
    expiration: String,
    seconds_left: i64,
    served: bool,
}

impl Row {
    fn new(l: cache::Listed, now: DateTime<Utc>, store: &'static str) -> Self {
        let (profile, role_arn, via) = match l.role {
            Some((role, arn)) => (role, Some(arn), Some(l.scope.profile)),
            None => (l.scope.profile, None, None),
        };
        let margin = match config::load_target(&profile) {
            Ok(config::Target::Mfa(s)) => s.min_remaining_seconds,
            Ok(config::Target::Role(c)) => c.role().min_remaining_seconds,
            Err(_) => config::DEFAULT_MIN_REMAINING_SECONDS,
        };
        Row {
            served: cache::servable(l.expiration, now, margin),
            seconds_left: (l.expiration - now).num_seconds().max(0),
            expiration: output::rfc3339(l.expiration),
            key_source: l.scope.key_source.describe(),
            profile,
            role_arn,
            via,
            serial: l.scope.serial,
            scope: l.scope.sts_scope,
            store,
        }
    }
}

fn table(rows: &[Row]) -> String {
    let mut out = format!(
        "{:<16} {:<48} {:<21} {:>9}  {}\n",
        "PROFILE", "MFA SERIAL (OR ROLE)", "EXPIRES", "LEFT", "SERVED"
    );
    for r in rows {
        let left = format!(
            "{}h{:02}m",
            r.seconds_left / 3600,
            (r.seconds_left % 3600) / 60
        );
        out.push_str(&format!(
            "{:<16} {:<48} {:<21} {:>9}  {}\n",
            r.profile,
            r.role_arn.as_ref().unwrap_or(&r.serial),
            r.expiration,
            left,
            if r.served {
                "yes"
            } else {
                "no (renewed on next use)"
            }
        ));
    }
    out
}

/// `mfa-env mfa-arg`: `SERIAL CODE` for S3 MFA Delete's `--mfa`. The code is for one S3 call,
/// not for STS, so it is neither sent nor remembered, and no keyring is opened.
pub fn mfa_arg(global: &Global, args: &CodeArgs) -> Result<()> {
    let settings = config::load(global.profile())?;
    let source = CodeSource::choose(args.token_code.as_deref(), &settings);
    let code = code::obtain(source, &settings, None)?;
    let line = Zeroizing::new(format!("{} {}\n", settings.serial, code.expose()));
    write_stdout(&line)
}

/// `mfa-env doctor`: one line per check (or JSON), on stdout.
pub fn doctor(global: &Global, json: bool, offline: bool) -> Result<()> {
    let checks = crate::doctor::run(global, offline);
    report(&checks, json, |c| (c.level, c.check, &c.text))
}

/// `mfa-env doctor --policy FILE`: one line per finding (or JSON), on stdout.
pub fn doctor_policy(path: &std::path::Path, json: bool) -> Result<()> {
    let read_error = |why: String| Error::Read {
        path: path.to_owned(),
        why,
    };
    let text = std::fs::read_to_string(path).map_err(|e| read_error(e.to_string()))?;
    let findings = crate::policy::explain(&text).map_err(|e| read_error(e.to_string()))?;
    report(&findings, json, |f| (f.level, &f.statement, &f.text))
}

/// `doctor`'s output: JSON, or `LEVEL  subject: text` lines.
fn report<T: serde::Serialize>(
    items: &[T],
    json: bool,
    line: impl Fn(&T) -> (crate::policy::Level, &str, &str),
) -> Result<()> {
    use crate::policy::Level;
    if json {
        return write_stdout(&pretty_json(items));
    }
    let lines: String = items
        .iter()
        .map(|item| {
            let (level, subject, text) = line(item);
            let word = match level {
                Level::Ok => "ok",
                Level::Note => "note",
                Level::Problem => "PROBLEM",
            };
            format!("{word:<8} {subject}: {text}\n")
        })
        .collect();
    write_stdout(&lines)
}

fn pretty_json<T: serde::Serialize + ?Sized>(value: &T) -> String {
    let mut out = serde_json::to_string_pretty(value).expect("plain data serializes");
    out.push('\n');
    out
}

/// `mfa-env completions SHELL`.
pub fn completions(shell: clap_complete::Shell) -> Result<()> {
    let mut cmd = <crate::cli::Cli as clap::CommandFactory>::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "mfa-env", &mut out);
    write_stdout(&String::from_utf8_lossy(&out))
}

/// `mfa-env man`: the man page, generated from the same definitions as `--help`; with a
/// directory, one page per command written there (`mfa-env.1`, `mfa-env-exec.1`, …).
pub fn man(dir: Option<&std::path::Path>) -> Result<()> {
    let cmd = <crate::cli::Cli as clap::CommandFactory>::command();
    if let Some(dir) = dir {
        return clap_mangen::generate_to(cmd, dir).map_err(|e| Error::Write {
            path: dir.to_owned(),
            why: e.to_string(),
        });
    }
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd)
        .render(&mut out)
        .map_err(Error::Stdout)?;
    write_stdout(&String::from_utf8_lossy(&out))
}

pub fn write_stdout(text: &str) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(Error::Stdout)
}
