//! `mfa-env doctor [-p P]`: checks, one line each with the fix, of everything around the STS
//! call that decides whether `aws` gets MFA credentials: the files and the profile, what would
//! win over `credential_process`, the keyring, the long-term key, the cached session, whether a
//! code can be asked for, the STS endpoint and how far this machine's clock is from it. It
//! changes nothing; its one network call reads the STS endpoint's clock with a made-up key
//! (`--offline` skips it). Never a secret in its output.

pub mod policy;

use chrono::Utc;

use crate::aws::skew;
use crate::aws::target::StsTarget;
use crate::cli::Global;
use crate::clock;
use crate::code::desktop::Dialog;
use crate::code::tty;
use crate::credentials::longterm::KeySource;
use crate::credentials::{cache, longterm};
use crate::error::{Error, Result};
use crate::profile::config::{self, Settings, Target};
use crate::store::Store;
use policy::Level;

#[derive(Debug, serde::Serialize)]
pub struct Check {
    pub check: &'static str,
    pub level: Level,
    pub text: String,
}

fn check(check: &'static str, level: Level, text: impl Into<String>) -> Check {
    Check {
        check,
        level,
        text: text.into(),
    }
}

/// `mfa-env doctor`: one line per check (or JSON), on stdout.
pub fn run(global: &Global, json: bool, offline: bool) -> Result<()> {
    let checks = checks(global, offline);
    report(&checks, json, |c| (c.level, c.check, &c.text))
}

/// `mfa-env doctor --policy FILE`: one line per finding (or JSON), on stdout.
pub fn run_policy(path: &std::path::Path, json: bool) -> Result<()> {
    let read_error = |why: String| Error::Read {
        path: path.to_owned(),
        why,
    };
    let text = std::fs::read_to_string(path).map_err(|e| read_error(e.to_string()))?;
    let findings = policy::explain(&text).map_err(|e| read_error(e.to_string()))?;
    report(&findings, json, |f| (f.level, &f.statement, &f.text))
}

/// `doctor`'s output: JSON, or `LEVEL  subject: text` lines.
fn report<T: serde::Serialize>(
    items: &[T],
    json: bool,
    line: impl Fn(&T) -> (Level, &str, &str),
) -> Result<()> {
    if json {
        return crate::output::write(&super::pretty_json(items));
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
    crate::output::write(&lines)
}

/// Every check, in the order they are printed.
pub fn checks(global: &Global, offline: bool) -> Vec<Check> {
    let profile = global.profile();
    let mut out = Vec::new();

    let facts = config::inspect(profile);
    match &facts {
        Err(e) => out.push(check("config", Level::Problem, e.to_string())),
        Ok(f) if !f.found => out.push(check(
            "config",
            Level::Problem,
            format!("profile '{profile}' not found in {}; add [profile {profile}] with mfa_serial and credential_process", f.files),
        )),
        Ok(f) => {
            out.push(check("config", Level::Ok, format!("profile '{profile}' found in {}", f.files)));
            out.push(credential_process(profile, f));
            if f.static_keys {
                out.push(check("static keys", Level::Problem, format!("profile '{profile}' has aws_access_key_id: SDKs use those keys and never call credential_process; store them with `mfa-env add -p {profile}` and delete them from the file")));
            }
            let (config_path, credentials_path) = config::file_paths();
            let read = |p: &std::path::Path| crate::profile::file_replace::read_or_empty(p).unwrap_or_default();
            if let Ok(shadows) = config::shadowed(&read(&config_path), &read(&credentials_path), profile) {
                for (key, value, over) in shadows {
                    out.push(check("shadowed", Level::Problem, format!(
                        "[{profile}] in {} sets {key} = {over}, which every SDK takes over {key} = {value} of [profile {profile}] in {}; remove it from {}",
                        credentials_path.display(), config_path.display(), credentials_path.display()
                    )));
                }
            }
            if f.misplaced_role_arn() {
                out.push(check("role_arn", Level::Problem, format!("profile '{profile}' has role_arn, which wins over credential_process in every SDK; put the role in a second profile with `source_profile = {profile}`")));
            }
        }
    }

    if std::env::var_os("AWS_ACCESS_KEY_ID").is_some_and(|v| !v.is_empty()) {
        out.push(if std::env::var_os(crate::commands::exec::MARKER).is_some() {
            check("environment", Level::Note, "AWS_ACCESS_KEY_ID is set by `mfa-env exec` (this is its subshell)")
        } else {
            check("environment", Level::Problem, "AWS_ACCESS_KEY_ID is set in this environment and wins over credential_process in every SDK; unset AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN")
        });
    }

    // A misplaced role_arn was reported above; the rest is checked as the mfa-env profile it is.
    let target = if facts.as_ref().is_ok_and(config::Facts::misplaced_role_arn) {
        config::load(profile).map(Target::Mfa)
    } else {
        config::load_target(profile)
    };
    let settings = match target {
        Ok(Target::Role(chain)) => {
            let path: Vec<_> = chain
                .hops
                .iter()
                .rev()
                .map(|h| format!("'{}' ({})", h.profile, h.role_arn))
                .collect();
            out.push(check(
                "role",
                Level::Ok,
                format!(
                    "assumes {} with the MFA session of '{}'; sessions of {} s; the checks below are for '{}'",
                    path.join(" with "),
                    chain.base.profile,
                    chain.role().duration_seconds,
                    chain.base.profile
                ),
            ));
            Ok(chain.base)
        }
        Ok(Target::Mfa(s)) => Ok(s),
        Err(e) => Err(e),
    };
    let settings = match settings {
        Ok(s) => {
            out.push(check(
                "profile",
                Level::Ok,
                format!(
                    "mfa_serial {}, sessions of {} s, served while more than {} s remain",
                    s.serial, s.duration_seconds, s.min_remaining_seconds
                ),
            ));
            out.push(check(
                "STS endpoint",
                Level::Ok,
                format!(
                    "{} (region {}{})",
                    s.endpoint_id(),
                    s.sts.region,
                    if s.sts.region_configured {
                        ""
                    } else {
                        ", the fallback: no region configured"
                    }
                ),
            ));
            Some(s)
        }
        Err(e) => {
            out.push(check("profile", Level::Problem, e.to_string()));
            None
        }
    };

    let store = match Store::open(
        global.keyring,
        crate::code::unlock_within(config::DEFAULT_LOCK_TIMEOUT_SECONDS),
    ) {
        Ok(s) => {
            out.push(check(
                "keyring",
                Level::Ok,
                format!("the {} answers", s.name()),
            ));
            Some(s)
        }
        Err(e) => {
            out.push(check("keyring", Level::Problem, e.to_string()));
            None
        }
    };

    if let (Some(settings), Some(store)) = (&settings, &store) {
        out.push(long_term_key(store, settings));
        out.push(session(store, settings));
    }
    out.push(prompt(settings.as_ref()));
    if let Some(settings) = &settings {
        out.push(clock_skew(&settings.sts, offline));
    }
    out
}

/// What the SDKs run for the profile. A role profile needs no `credential_process` (the SDKs
/// assume its role with `source_profile`'s credentials, and `role_arn` would win anyway); an
/// mfa-env line must ask for this very profile, or every SDK gets another profile's session.
fn credential_process(profile: &str, f: &config::Facts) -> Check {
    let line = match &f.credential_process {
        None if f.role_arn && !f.mfa_serial => {
            return check(
                "credential_process",
                Level::Ok,
                "none needed: a role profile, which the SDKs assume themselves with source_profile's credentials",
            );
        }
        None => {
            return check(
                "credential_process",
                Level::Note,
                format!(
                    "none: the AWS CLI and SDKs will not call mfa-env for '{profile}'; add `credential_process = mfa-env --format process --profile {profile}`"
                ),
            );
        }
        Some(c) if !c.contains("mfa-env") => {
            return check(
                "credential_process",
                Level::Note,
                format!("credential_process runs something else: {c}"),
            );
        }
        Some(c) => c,
    };
    let named = profile_named_in(line);
    match named.as_deref() {
        Some(p) if p == profile => check(
            "credential_process",
            Level::Ok,
            format!("the AWS CLI and SDKs run: {line}"),
        ),
        Some(other) => check(
            "credential_process",
            Level::Problem,
            format!(
                "the line asks mfa-env for profile {other}, not '{profile}': every SDK reading '{profile}' gets {other}'s session; use --profile {profile}"
            ),
        ),
        None => check(
            "credential_process",
            Level::Problem,
            format!(
                "the line names no --profile, so mfa-env takes AWS_PROFILE or 'default', not always '{profile}'; add --profile {profile}"
            ),
        ),
    }
}

/// The profile a `credential_process` line asks mfa-env for: its `-p`/`--profile` (any of the
/// forms clap takes), else an `AWS_PROFILE=…` set in front of the command. The line is split as
/// the SDKs split it, quotes included.
fn profile_named_in(line: &str) -> Option<String> {
    let words =
        shlex::split(line).unwrap_or_else(|| line.split_whitespace().map(str::to_owned).collect());
    let flag = words.iter().enumerate().find_map(|(i, w)| {
        match w.as_str() {
            "-p" | "--profile" => return words.get(i + 1).cloned(),
            _ => {}
        }
        w.strip_prefix("--profile=")
            .or_else(|| w.strip_prefix("-p="))
            .or_else(|| w.strip_prefix("-p").filter(|v| !v.is_empty()))
            .map(str::to_owned)
    });
    flag.or_else(|| {
        words
            .iter()
            .find_map(|w| w.strip_prefix("AWS_PROFILE=").map(str::to_owned))
    })
}

/// Where the long-term key is, and whether it is still there after a reboot: a key kept only in
/// a keyring emptied at reboot is lost with it, unless `mfa_env_source_profile` names a copy.
fn long_term_key(store: &Store, settings: &Settings) -> Check {
    let source = match longterm::locate(store, settings) {
        Ok(source) => source,
        Err(e) => return check("long-term key", Level::Problem, e.to_string()),
    };
    let kept = match &source {
        KeySource::Keyring => None,
        KeySource::Profile(_) => Some("in a plain file (survives a reboot)"),
        KeySource::Process(_) => Some(
            "kept by that program (doctor does not run it; mfa-env does when it needs a new session)",
        ),
    };
    if let Some(kept) = kept {
        return check(
            "long-term key",
            Level::Ok,
            format!("a long-term key, {}, {kept}", source.describe()),
        );
    }
    match store.item_durability(&longterm::item_name(&settings.profile)) {
        Ok(d) if d.survives() => check(
            "long-term key",
            Level::Ok,
            format!(
                "a long-term key, {}, in {}",
                source.describe(),
                d.describe()
            ),
        ),
        Ok(d) if settings.source_profile.is_some() => check(
            "long-term key",
            Level::Note,
            format!(
                "a long-term key, {}, in {}; after a reboot the plaintext keys of mfa_env_source_profile are used",
                source.describe(),
                d.describe()
            ),
        ),
        Ok(d) => check(
            "long-term key",
            Level::Problem,
            format!(
                "the long-term key is only in {}: it is lost at the next reboot; keep a copy in a profile of ~/.aws/credentials and name it in mfa_env_source_profile",
                d.describe()
            ),
        ),
        Err(e) => check(
            "long-term key",
            Level::Note,
            format!(
                "a long-term key, {}; where it is kept cannot be told: {e}",
                source.describe()
            ),
        ),
    }
}

/// TOTP codes change every 30 s and STS accepts little more than the current one; SigV4
/// signatures allow 5 minutes.
fn clock_skew(sts: &StsTarget, offline: bool) -> Check {
    if offline {
        return check("clock", Level::Note, "not compared with STS (--offline)");
    }
    match crate::aws::sts::measure_skew(sts) {
        Ok(ahead) if ahead.abs() <= 30 => check(
            "clock",
            Level::Ok,
            format!("within {} s of STS's", ahead.abs()),
        ),
        Ok(ahead) if ahead.abs() <= skew::REPORTED_SECONDS => check(
            "clock",
            Level::Note,
            format!(
                "{} STS's: MFA codes may be refused as invalid; set the clock right (NTP)",
                skew::describe(ahead)
            ),
        ),
        Ok(ahead) => check(
            "clock",
            Level::Problem,
            format!(
                "{} STS's: MFA codes and request signatures are refused; set the clock right (NTP)",
                skew::describe(ahead)
            ),
        ),
        Err(e) => check("clock", Level::Note, format!("not compared with STS: {e}")),
    }
}

fn session(store: &Store, settings: &Settings) -> Check {
    let now = clock::now();
    let listed = cache::list(store, Some(&settings.profile)).unwrap_or_default();
    let own = listed.iter().filter(|l| l.role.is_none());
    let Some(best) = own.map(|l| l.expiration).max() else {
        return check(
            "cached session",
            Level::Note,
            "none: the next call asks for a code",
        );
    };
    let left = (best - now).num_seconds().max(0);
    let span = format!("{}h{:02}m", left / 3600, (left % 3600) / 60);
    if cache::servable(best, now, settings.min_remaining_seconds) {
        check(
            "cached session",
            Level::Ok,
            format!(
                "{span} left, until {}; served while more than {} s remain (botocore refreshes with less than 900 s left)",
                best.with_timezone(&Utc).format("%Y-%m-%d %H:%M UTC"),
                settings.min_remaining_seconds
            ),
        )
    } else {
        check(
            "cached session",
            Level::Note,
            format!("{span} left: too little to serve; the next call asks for a code"),
        )
    }
}

fn prompt(settings: Option<&Settings>) -> Check {
    if settings.is_some_and(|s| s.mfa_process.is_some()) {
        return check("code", Level::Ok, "mfa_process gives the code");
    }
    if tty::open().is_ok() {
        return check("code", Level::Ok, "a terminal to ask for the code on");
    }
    match Dialog::find() {
        Ok(d) => check(
            "code",
            Level::Ok,
            format!("no terminal; a desktop dialog asks ({d:?})"),
        ),
        Err(why) => check(
            "code",
            Level::Note,
            format!(
                "no terminal and {why}: calls that need a code fail; run `mfa-env` in a terminal first, or set mfa_process"
            ),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::profile_named_in;

    #[test]
    fn the_profile_of_a_credential_process_line_in_every_form() {
        for line in [
            "mfa-env --format process --profile dev",
            "mfa-env --format process -p dev",
            "mfa-env --format process --profile=dev",
            "mfa-env --format process -p=dev",
            "mfa-env --format process -pdev",
            "'/opt/my tools/mfa-env' --format process '--profile=dev'",
            "\"/opt/my tools/mfa-env\" --format process --profile \"dev\"",
            "env AWS_PROFILE=dev mfa-env --format process",
        ] {
            assert_eq!(profile_named_in(line).as_deref(), Some("dev"), "{line}");
        }
        assert_eq!(profile_named_in("mfa-env --format process"), None);
        assert_eq!(
            profile_named_in("/usr/bin/pass-helper --prefix x mfa-env"),
            None,
            "--prefix is not -p"
        );
    }
}
