//! `mfa-env setup`: creates or updates an mfa-env profile, asking on the terminal for what the
//! flags did not give. It decides everything first (key, device, duration), shows or writes the
//! result last, and changes things in the order that loses nothing when a step fails: the key
//! into the keyring (read back), then the config file (a backup first, written whole by rename),
//! then the plaintext keys out of the credentials file.

use std::path::Path;

use secrecy::ExposeSecret;
use zeroize::Zeroizing;

use crate::aws::iam;
use crate::cli::{Global, SetupArgs};
use crate::code::tty;
use crate::credentials::{cache, longterm};
use crate::error::{Error, Result};
use crate::profile::file_edit::{self, Change, Kind};
use crate::profile::serial::MfaSerial;
use crate::profile::{config, file_replace};
use crate::secret::LongTermKey;
use crate::store::Store;

const KEY_LINES: [&str; 3] = [
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
];

pub fn run(global: &Global, args: &SetupArgs) -> Result<()> {
    let profile = global.profile().to_owned();
    let fail = |why: String| Error::Setup {
        profile: profile.clone(),
        why,
    };
    let (config_path, credentials_path) = config::file_paths();
    let config_text = file_replace::read_or_empty(&config_path)?;
    let credentials_text = file_replace::read_or_empty(&credentials_path)?;
    let set = config::parse_texts(&config_text, &credentials_text)?;
    let existing = set.get_profile(&profile);
    let get = |key| {
        existing
            .and_then(|p| p.get(key))
            .filter(|v| !v.trim().is_empty())
    };
    if get("role_arn").is_some() {
        return Err(fail(
            "it has role_arn, which wins over credential_process; run setup for another profile name and point this role's source_profile at it".into(),
        ));
    }
    let ask = Asker::new(args.yes);
    let store = Store::open(
        global.keyring,
        crate::code::unlock_within(config::DEFAULT_LOCK_TIMEOUT_SECONDS),
    )?;

    // The long-term key: from flags, the profile's own static keys (which must go: they win
    // over credential_process), the keyring, or a profile the user names. A keyring emptied at
    // reboot may not hold its only copy.
    let durability = store.durability_of_write(&longterm::item_name(&profile))?;
    let plan = key_plan(args, &profile, &set, &store, &ask, durability.survives())?;
    let plan = if durability.survives() {
        plan
    } else {
        keep_durable(plan, args, &profile, &durability)?
    };

    let serial = match &args.serial {
        Some(s) => parse_serial(&profile, s)?,
        None => choose_serial(&profile, get("mfa_serial"), &plan, &store, &ask)?,
    };
    let duration = match args.duration {
        Some(d) => d,
        None => match get("duration_seconds").and_then(|d| d.trim().parse().ok()) {
            Some(d) => d,
            None => ask.number("Session length in seconds", serial.default_duration())?,
        },
    };
    let range = serial.allowed_durations();
    if !range.contains(&duration) {
        return Err(fail(format!(
            "a session length of {duration} s is out of range; use {} to {}{}",
            range.start(),
            range.end(),
            if serial.is_root() { " (root user)" } else { "" }
        )));
    }
    if let Some(region) = &args.region
        && !crate::aws::target::is_region_name(region)
    {
        return Err(fail(format!(
            "--region {region:?} is not a region name such as eu-west-1"
        )));
    }

    // The edits, checked by the SDK's parser before anything is shown or written.
    let mut changes = vec![
        Change::Set("credential_process", credential_process(&profile)),
        Change::Set("mfa_serial", serial.to_string()),
        Change::Set("duration_seconds", duration.to_string()),
    ];
    if let Some(region) = &args.region {
        changes.push(Change::Set("region", region.clone()));
    }
    if let Some(src) = &plan.source_profile {
        changes.push(Change::Set("mfa_env_source_profile", src.clone()));
    }
    let moved = plan.move_from.as_deref();
    if let Some(from) = moved
        && (from == profile || get("mfa_env_source_profile") == Some(from))
    {
        changes.push(Change::Remove("mfa_env_source_profile"));
    }
    if moved == Some(profile.as_str()) {
        changes.extend(KEY_LINES.map(Change::Remove));
    }
    let new_config = file_edit::edit(&config_text, Kind::Config, &profile, &changes)?;
    let new_credentials = match moved {
        Some(from) => remove_keys(&credentials_text, Kind::Credentials, from)?,
        None => credentials_text.clone(),
    };
    // Keys of a moved source profile may sit in the config file too.
    let new_config = match moved {
        Some(from) if from != profile => remove_keys(&new_config, Kind::Config, from)?,
        _ => new_config,
    };
    // The SDKs merge [profile] of the credentials file over the config file's: a key there that
    // differs from what setup writes would win, and the profile would not be what it says.
    let shadows = config::shadowed(&new_config, &new_credentials, &profile)?;
    if !shadows.is_empty() {
        let keys: Vec<String> = shadows
            .iter()
            .map(|(key, _, over)| format!("{key} = {over}"))
            .collect();
        return Err(fail(format!(
            "[{profile}] in {} sets {}, which every SDK takes over [profile {profile}] in {}; remove {} from {} and run setup again",
            credentials_path.display(),
            keys.join(", "),
            config_path.display(),
            if shadows.len() == 1 { "it" } else { "them" },
            credentials_path.display()
        )));
    }
    // The config file's backup keeps everything but the keys that move into the keyring: a
    // copy of them in a plain file would undo the move.
    let config_backup = match moved {
        Some(from) => Zeroizing::new(remove_keys(&config_text, Kind::Config, from)?),
        None => Zeroizing::new(config_text.clone()),
    };

    let diff = diff(&config_path, &config_text, &new_config)
        + &diff(&credentials_path, &credentials_text, &new_credentials);
    if args.dry_run {
        let mut out = diff;
        if plan.to_store().is_some() {
            out.push_str(&format!(
                "# and the long-term key would be stored in the {} for profile '{profile}'\n",
                store.name()
            ));
        }
        return crate::output::write(&out);
    }
    if !ask.confirm(
        &format!(
            "{}Write these changes{}?",
            if diff.is_empty() {
                "The files need no change.\n".to_owned()
            } else {
                diff.clone()
            },
            if plan.to_store().is_some() {
                " and store the long-term key in the keyring"
            } else {
                ""
            }
        ),
        true,
    )? {
        return Err(fail("cancelled; nothing was changed".into()));
    }

    if let Some(key) = plan.to_store() {
        let legacy = longterm::store_key(&store, &profile, key)?;
        let back = longterm::stored(&store, &profile)?;
        if back.is_none_or(|b| b.access_key_id.expose_secret() != key.access_key_id.expose_secret())
        {
            return Err(fail(format!(
                "the {} did not keep the key; nothing else was changed",
                store.name()
            )));
        }
        cache::clear(&store, Some(&profile), None)?;
        eprintln!(
            "mfa-env: stored the long-term key for profile '{profile}' in the {}{}",
            store.name(),
            if legacy {
                "; removed the old key's copy from the kernel keyring (mfa-env 0.1's layout)"
            } else {
                ""
            }
        );
    }
    if new_config != config_text {
        let backup = file_replace::replace(&config_path, &new_config, Some(&config_backup))
            .map_err(|e| {
                fail(format!(
                    "{e}{}",
                    if plan.to_store().is_some() {
                        "; the key is in the keyring, the config file is unchanged"
                    } else {
                        ""
                    }
                ))
            })?;
        eprintln!(
            "mfa-env: wrote profile '{profile}' to {}{}",
            config_path.display(),
            backup
                .map(|b| format!(" (the previous file is {})", b.display()))
                .unwrap_or_default()
        );
    }
    if let Some(from) = moved
        && new_credentials != credentials_text
    {
        // No backup: it would keep the very keys being moved out of plain files.
        file_replace::replace(&credentials_path, &new_credentials, None)
            .map_err(|e| fail(format!("{e}; the key is in the keyring and the profile written, but the plaintext keys of '{from}' are still in the file")))?;
        eprintln!(
            "mfa-env: removed the plaintext keys of '{from}' from {}",
            credentials_path.display()
        );
    }
    if let Some(src) = plan.source_profile.as_ref().filter(|_| !plan.store_it)
        && config::source_profile(&set, src).access_key_id.is_none()
    {
        // A key stored earlier would come first and hide the password manager's.
        if longterm::delete_key(&store, &profile)? {
            cache::clear(&store, Some(&profile), None)?;
            eprintln!(
                "mfa-env: removed the long-term key stored in the {} for profile '{profile}', which would have been used instead",
                store.name()
            );
        }
        eprintln!(
            "mfa-env: the long-term key stays with the credential_process of profile '{src}', which mfa_env_source_profile names; it runs only when a new session is needed"
        );
    } else if let Some(src) = &plan.source_profile {
        eprintln!(
            "mfa-env: the {} is emptied at every reboot, so the long-term key stays in the plaintext keys of profile '{src}', which mfa_env_source_profile names{}",
            store.name(),
            if plan.to_store().is_some() {
                " (the keyring's copy is used until then)"
            } else {
                ""
            }
        );
    }
    eprintln!(
        "mfa-env: profile '{profile}' is ready; `mfa-env -p {profile} >/dev/null` gets the first session"
    );
    Ok(())
}

/// What to do about the long-term key: a key to store (`None`: keep the keyring's), the
/// profile whose plaintext keys it is, whether those leave the files, and whether the profile
/// reads them from there (`mfa_env_source_profile`).
struct KeyPlan {
    key: Option<LongTermKey>,
    /// False when the key stays only where it is (its profile, read through
    /// `mfa_env_source_profile`); it still lists the user's MFA devices.
    store_it: bool,
    from: Option<String>,
    move_from: Option<String>,
    source_profile: Option<String>,
}

impl KeyPlan {
    /// The key to store in the keyring, if any.
    fn to_store(&self) -> Option<&LongTermKey> {
        self.key.as_ref().filter(|_| self.store_it)
    }
}

/// The plan for a keyring that is emptied at reboot: the plaintext keys stay where they are and
/// the profile names them in `mfa_env_source_profile`; a copy goes into the keyring only with
/// `--volatile-ok`. A key that exists nowhere else is refused.
fn keep_durable(
    plan: KeyPlan,
    args: &SetupArgs,
    profile: &str,
    durability: &crate::store::Durability,
) -> Result<KeyPlan> {
    let volatile = |fix: String| Error::VolatileStore {
        profile: profile.to_owned(),
        store: durability.describe().to_owned(),
        fix,
    };
    if !plan.store_it {
        return Ok(plan);
    }
    let Some(key) = plan.key else {
        return Ok(plan);
    };
    let key = Some(key);
    match plan.from {
        Some(from) if from == profile => Err(volatile(format!(
            "its plaintext keys must leave [{profile}] (they would win over credential_process): move them to a profile of their own, such as [{profile}-long-term] in ~/.aws/credentials, and run `mfa-env setup -p {profile} --key-from {profile}-long-term`"
        ))),
        Some(_) if args.move_keys && !args.volatile_ok => Err(volatile(
            "run without --move-keys: the keys then stay in their profile, which mfa_env_source_profile names; or pass --volatile-ok to keep a copy in the keyring as well".to_owned(),
        )),
        Some(from) => Ok(KeyPlan {
            store_it: args.volatile_ok,
            key,
            source_profile: Some(from.clone()),
            from: Some(from),
            move_from: None,
        }),
        None if args.volatile_ok => Ok(KeyPlan {
            store_it: true,
            key,
            from: None,
            move_from: plan.move_from,
            source_profile: plan.source_profile,
        }),
        None => Err(volatile(format!(
            "put the key in a profile of ~/.aws/credentials, such as [{profile}-long-term], and run `mfa-env setup -p {profile} --key-from {profile}-long-term`; or pass --volatile-ok"
        ))),
    }
}

fn key_plan(
    args: &SetupArgs,
    profile: &str,
    set: &aws_config::profile::ProfileSet,
    store: &Store,
    ask: &Asker,
    durable: bool,
) -> Result<KeyPlan> {
    let fail = |why: String| Error::Setup {
        profile: profile.to_owned(),
        why,
    };
    let static_key = |name: &str| longterm::static_key(&config::source_profile(set, name), profile);

    if args.key_stdin {
        let key = super::add::key_from_stdin()?;
        longterm::validate_new(&key, profile)?;
        return Ok(KeyPlan {
            store_it: true,
            key: Some(key),
            from: None,
            move_from: None,
            source_profile: None,
        });
    }
    if let Some(from) = &args.key_from {
        let source = config::source_profile(set, from);
        let static_key = static_key(from)?;
        if let (None, Some(command)) = (&static_key, &source.credential_process) {
            // A password manager stays the key's home: the profile names it, and the key it
            // prints now only lists the devices.
            let key = crate::credentials::key_process::run(&source, command, profile)?;
            return Ok(KeyPlan {
                store_it: false,
                key: Some(key),
                from: None,
                move_from: None,
                source_profile: Some(from.clone()),
            });
        }
        let key = static_key.ok_or_else(|| {
            fail(format!(
                "--key-from: profile '{from}' has neither aws_access_key_id and aws_secret_access_key nor a credential_process"
            ))
        })?;
        let move_it = args.move_keys
            || durable && ask.confirm(
                &format!(
                    "Delete the plaintext keys of '{from}' from the files once they are in the keyring? (anything else that uses profile '{from}' loses them)"
                ),
                false,
            )?;
        return Ok(KeyPlan {
            store_it: true,
            key: Some(key),
            from: Some(from.clone()),
            move_from: move_it.then(|| from.clone()),
            source_profile: None,
        });
    }
    if let Some(key) = static_key(profile)? {
        // Static keys in the profile itself win over credential_process: they must go.
        if durable
            && !(args.move_keys
            || ask.confirm(
                &format!(
                    "Profile '{profile}' has plaintext long-term keys, which would win over credential_process. Move them into the keyring?"
                ),
                false,
            )?)
        {
            return Err(fail(
                "its plaintext keys would win over credential_process; pass --move-keys to move them into the keyring".into(),
            ));
        }
        return Ok(KeyPlan {
            store_it: true,
            key: Some(key),
            from: Some(profile.to_owned()),
            move_from: Some(profile.to_owned()),
            source_profile: None,
        });
    }
    if longterm::stored(store, profile)?.is_some() {
        return Ok(KeyPlan {
            store_it: true,
            key: None,
            from: None,
            move_from: None,
            source_profile: None,
        });
    }
    if !ask.interactive() {
        return Err(fail(
            "no long-term key: pass --key-from PROFILE (static keys to move into the keyring) or --key-stdin".into(),
        ));
    }
    let candidates: Vec<&str> = set
        .profiles()
        .filter(|p| *p != profile && static_key(p).ok().flatten().is_some())
        .collect();
    if !candidates.is_empty() {
        let name = ask.line(&format!(
            "Profiles with plaintext long-term keys: {}. Move one of them into the keyring (its name), or press Enter to type a key: ",
            candidates.join(", ")
        ))?;
        if !name.is_empty() {
            if !candidates.contains(&name.as_str()) {
                return Err(fail(format!(
                    "'{name}' is not one of {}",
                    candidates.join(", ")
                )));
            }
            let key = static_key(&name)?.expect("a candidate has keys");
            let move_it = durable
                && ask.confirm(
                &format!(
                    "Delete the plaintext keys of '{name}' from the files once they are in the keyring? (anything else that uses profile '{name}' loses them)"
                ),
                false,
            )?;
            return Ok(KeyPlan {
                store_it: true,
                key: Some(key),
                from: Some(name.clone()),
                move_from: move_it.then_some(name),
                source_profile: None,
            });
        }
    }
    let key = super::add::key_from_terminal(profile)?;
    longterm::validate_new(&key, profile)?;
    Ok(KeyPlan {
        store_it: true,
        key: Some(key),
        from: None,
        move_from: None,
        source_profile: None,
    })
}

fn parse_serial(profile: &str, raw: &str) -> Result<MfaSerial> {
    MfaSerial::parse(raw.trim()).map_err(|why| Error::BadSerial {
        profile: profile.to_owned(),
        value: raw.to_owned(),
        why,
    })
}

/// The profile's current device, or one of the user's devices as IAM lists them, or typed in.
fn choose_serial(
    profile: &str,
    current: Option<&str>,
    plan: &KeyPlan,
    store: &Store,
    ask: &Asker,
) -> Result<MfaSerial> {
    if let Some(current) = current {
        let answer = ask.line_or(&format!("MFA device [{current}]: "), "")?;
        return parse_serial(profile, if answer.is_empty() { current } else { &answer });
    }
    let kept = match plan.key {
        Some(_) => None,
        None => longterm::stored(store, profile)?,
    };
    let listed = match plan.key.as_ref().or(kept.as_ref()) {
        Some(key) => config::setup_endpoints(profile).and_then(|at| iam::mfa_devices(key, &at)),
        None => Err(Error::NoLongTermKey {
            profile: profile.to_owned(),
        }),
    };
    let fail = |why: String| Error::Setup {
        profile: profile.to_owned(),
        why,
    };
    match listed {
        Ok(devices) if devices.len() == 1 => {
            ask.tell(&format!("mfa-env: your MFA device: {}", devices[0]));
            parse_serial(profile, &devices[0])
        }
        Ok(devices) if devices.len() > 1 => {
            if !ask.interactive() {
                return Err(fail(format!(
                    "the user has {} MFA devices ({}); pass --serial with one of them",
                    devices.len(),
                    devices.join(", ")
                )));
            }
            let menu: String = devices
                .iter()
                .enumerate()
                .map(|(i, d)| format!("  {}) {d}\n", i + 1))
                .collect();
            let pick = ask.line(&format!("Your MFA devices:\n{menu}Which one [1]: "))?;
            let n: usize = if pick.is_empty() {
                1
            } else {
                pick.parse().unwrap_or(0)
            };
            let device = devices.get(n.wrapping_sub(1)).ok_or_else(|| {
                fail(format!(
                    "{pick:?} is not a number from 1 to {}",
                    devices.len()
                ))
            })?;
            parse_serial(profile, device)
        }
        other => {
            let why = match other {
                Ok(_) => {
                    "the user has no MFA device; assign one in the IAM console first".to_owned()
                }
                Err(e) => format!("the MFA devices could not be listed ({e})"),
            };
            if !ask.interactive() {
                return Err(fail(format!("{why}; pass --serial")));
            }
            ask.tell(&format!("mfa-env: {why}"));
            let typed = ask.line("MFA device ARN (arn:aws:iam::<account>:mfa/<name>): ")?;
            parse_serial(profile, &typed)
        }
    }
}

/// The `credential_process` line: `mfa-env` when that is this program on PATH, else its full
/// path, so the line works from any SDK's environment.
fn credential_process(profile: &str) -> String {
    let me = std::env::current_exe().ok();
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("mfa-env"))
            .find(|p| p.is_file())
    });
    let same = |a: &Path, b: &Path| a.canonicalize().ok() == b.canonicalize().ok();
    let program = match (&me, &on_path) {
        (Some(me), Some(found)) if same(me, found) => "mfa-env".to_owned(),
        (Some(me), _) => {
            let p = me.display().to_string();
            if p.contains([' ', '"', '\'']) {
                format!("\"{p}\"")
            } else {
                p
            }
        }
        (None, _) => "mfa-env".to_owned(),
    };
    format!("{program} --format process --profile {profile}")
}

fn remove_keys(text: &str, kind: Kind, profile: &str) -> Result<String> {
    let present = file_edit::keys_of(text, kind, profile);
    let changes: Vec<Change> = KEY_LINES
        .into_iter()
        .filter(|k| present.contains(*k))
        .map(Change::Remove)
        .collect();
    if changes.is_empty() {
        return Ok(text.to_owned());
    }
    file_edit::edit(text, kind, profile, &changes)
}

/// A unified diff with every key value shown as `[REDACTED]`.
fn diff(path: &Path, old: &str, new: &str) -> String {
    if old == new {
        return String::new();
    }
    let (old, new) = (redact(old), redact(new));
    let name = path.display().to_string();
    similar::TextDiff::from_lines(old.as_str(), new.as_str())
        .unified_diff()
        .context_radius(3)
        .header(&name, &name)
        .to_string()
}

fn redact(text: &str) -> Zeroizing<String> {
    Zeroizing::new(
        text.split_inclusive('\n')
            .map(|line| {
                let key = line.split('=').next().unwrap_or_default().trim();
                if line.contains('=') && KEY_LINES.iter().any(|k| key.eq_ignore_ascii_case(k)) {
                    let eol = &line[line.trim_end_matches(['\r', '\n']).len()..];
                    format!("{key} = [REDACTED]{eol}")
                } else {
                    line.to_owned()
                }
            })
            .collect(),
    )
}

/// Questions on the terminal, or their defaults when there is none or `--yes` was given.
struct Asker {
    tty: Option<tty::Tty>,
}

impl Asker {
    fn new(yes: bool) -> Self {
        Asker {
            tty: if yes { None } else { tty::open().ok() },
        }
    }

    fn interactive(&self) -> bool {
        self.tty.is_some()
    }

    fn tell(&self, text: &str) {
        if self.interactive() {
            tty::tell(text);
        } else {
            eprintln!("{text}");
        }
    }

    fn line(&self, question: &str) -> Result<String> {
        match &self.tty {
            Some(t) => tty::ask(t, question).map_err(|e| Error::Prompt(e.to_string())),
            None => Err(Error::Prompt(
                "no terminal to ask on; give the value as a flag".into(),
            )),
        }
    }

    fn line_or(&self, question: &str, default: &str) -> Result<String> {
        if self.interactive() {
            self.line(question)
        } else {
            Ok(default.to_owned())
        }
    }

    fn number(&self, what: &str, default: u32) -> Result<u32> {
        let answer = self.line_or(&format!("{what} [{default}]: "), "")?;
        if answer.is_empty() {
            return Ok(default);
        }
        answer
            .parse()
            .map_err(|_| Error::Prompt(format!("{answer:?} is not a whole number")))
    }

    /// The person's answer, yes by default; without a terminal (or with `--yes`), what the
    /// flags decided: `unasked`.
    fn confirm(&self, question: &str, unasked: bool) -> Result<bool> {
        if !self.interactive() {
            return Ok(unasked);
        }
        let answer = self.line(&format!("{question} [Y/n] "))?;
        Ok(matches!(
            answer.to_ascii_lowercase().as_str(),
            "" | "y" | "yes"
        ))
    }
}
