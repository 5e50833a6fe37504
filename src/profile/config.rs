//! One profile's settings, read from the files the AWS CLI reads (`AWS_CONFIG_FILE`,
//! `AWS_SHARED_CREDENTIALS_FILE`, `~/.aws/…`) with aws-config's own parser, and validated
//! completely here: a bad serial or duration is refused before a keyring, a prompt or the
//! network is touched. Reading the files is synchronous I/O behind an `async` signature, so a
//! trivial executor drives it; no runtime is started on this path.

use std::borrow::Cow;

use aws_config::profile::{Profile, ProfileSet};
use aws_runtime::env_config::file::EnvConfigFiles;
use aws_runtime::env_config::property::PropertiesKey;
use aws_types::os_shim_internal::{Env, Fs};
use secrecy::SecretString;

use crate::aws::partition::{self, Partition};
use crate::aws::target::default_region;
use crate::aws::target::{Endpoints, StsTarget, is_region_name};
use crate::error::{Error, PartitionMismatch, Result};
use crate::profile::serial::MfaSerial;

mod role;
pub use role::{RoleChain, RoleHop};

/// botocore refreshes `credential_process` credentials with less than 15 minutes left, so a
/// session served with less would make the CLI call us twice per command.
pub const DEFAULT_MIN_REMAINING_SECONDS: u32 = 900;
/// How long a process waits for another one that is getting a session: long enough for a person
/// to find their phone and type a code.
pub const DEFAULT_LOCK_TIMEOUT_SECONDS: u32 = 120;
/// How long one STS attempt may take before it counts as failed.
pub const DEFAULT_STS_TIMEOUT_SECONDS: u32 = 10;
/// How long an `mfa_process` may take: enough to touch a YubiKey or unlock a password manager,
/// well inside the 60 s after which the Go SDK kills a credential process.
pub const DEFAULT_MFA_PROCESS_TIMEOUT_SECONDS: u32 = 30;
/// How long a source profile's `credential_process` may take to print the long-term key: a
/// password manager may first ask to be unlocked. The SDKs' own limit is about a minute.
pub const DEFAULT_SOURCE_PROCESS_TIMEOUT_SECONDS: u32 = 60;

#[derive(Debug)]
pub struct Settings {
    pub profile: String,
    pub serial: MfaSerial,
    pub duration_seconds: u32,
    pub sts: StsTarget,
    pub min_remaining_seconds: u32,
    pub lock_timeout_seconds: u32,
    /// A command whose first line of output is the code (`mfa_process`).
    pub mfa_process: Option<String>,
    pub mfa_process_timeout_seconds: u32,
    pub source_profile: Option<SourceProfile>,
}

/// The profile named by `mfa_env_source_profile`: its static keys, else a `credential_process`
/// that prints the long-term key (a password manager: `op`, `pass`, `bw`).
#[derive(Debug)]
pub struct SourceProfile {
    pub name: String,
    pub found: bool,
    pub access_key_id: Option<SecretString>,
    pub secret_access_key: Option<SecretString>,
    pub has_session_token: bool,
    pub credential_process: Option<String>,
    /// How long that process may take (`mfa_env_source_process_timeout_seconds` of the
    /// mfa-env profile): long enough to unlock a password manager.
    pub process_timeout_seconds: u32,
}

impl Settings {
    pub fn endpoint_id(&self) -> String {
        self.sts.endpoint_id()
    }

    /// The cache scope of this profile's sessions (see [`StsTarget::scope`]).
    pub fn scope(&self) -> String {
        self.sts.scope()
    }
}

/// What a profile holds besides mfa-env's own keys, for `doctor`: the things that decide whether
/// an SDK calls mfa-env at all.
#[derive(Debug)]
pub struct Facts {
    pub files: String,
    pub found: bool,
    pub credential_process: Option<String>,
    pub role_arn: bool,
    pub mfa_serial: bool,
    pub static_keys: bool,
}

impl Facts {
    /// `role_arn` in a profile meant for mfa-env (it has `mfa_serial` or `credential_process`),
    /// where it wins over `credential_process` in every SDK: a mistake, not a role profile.
    pub fn misplaced_role_arn(&self) -> bool {
        self.role_arn && (self.mfa_serial || self.credential_process.is_some())
    }
}

/// Reads the files as [`load`] does, without validating mfa-env's keys.
pub fn inspect(profile: &str) -> Result<Facts> {
    let env = Env::real();
    let set = profile_set(&env, &Fs::real(), profile)?;
    let p = set.get_profile(profile);
    let get = |key| p.and_then(|p| p.get(key)).filter(|v| !v.trim().is_empty());
    Ok(Facts {
        files: file_names(&env),
        found: p.is_some(),
        credential_process: get("credential_process").map(str::to_owned),
        role_arn: get("role_arn").is_some(),
        mfa_serial: get("mfa_serial").is_some(),
        static_keys: get("aws_access_key_id").is_some(),
    })
}

/// What in the `default` profile gives an SDK credentials before a container endpoint, which
/// the SDKs ask only after the files: static keys, a `credential_process`, a role.
pub fn default_profile_credentials() -> Option<&'static str> {
    let facts = inspect("default").ok()?;
    if facts.static_keys {
        Some("aws_access_key_id")
    } else if facts.credential_process.is_some() {
        Some("credential_process")
    } else if facts.role_arn {
        Some("role_arn")
    } else {
        None
    }
}

/// The profiles in a config and a credentials file's text, as the SDK parses them: what
/// `profile_file` checks its edits with.
pub fn parse_texts(config: &str, credentials: &str) -> Result<ProfileSet> {
    let env = Env::from_slice(&[
        ("HOME", "/h"),
        ("AWS_CONFIG_FILE", "/h/config"),
        ("AWS_SHARED_CREDENTIALS_FILE", "/h/credentials"),
    ]);
    let fs = Fs::from_slice(&[("/h/config", config), ("/h/credentials", credentials)]);
    profile_set(&env, &fs, "default")
}

/// The keys of a profile that decide what mfa-env and the SDKs do with it.
const MEANINGFUL_KEYS: &[&str] = &[
    "credential_process",
    "mfa_serial",
    "duration_seconds",
    "region",
    "mfa_process",
    "role_arn",
    "source_profile",
    "credential_source",
    "external_id",
    "role_session_name",
    "endpoint_url",
    "use_fips_endpoint",
    "use_dualstack_endpoint",
    "mfa_env_source_profile",
    "mfa_env_min_remaining_seconds",
    "mfa_env_lock_timeout_seconds",
    "mfa_env_sts_timeout_seconds",
    "mfa_env_mfa_process_timeout_seconds",
    "mfa_env_source_process_timeout_seconds",
];

/// The keys that `[profile]` of the credentials file sets differently from `[profile profile]`
/// of the config file: the SDKs merge the two, the credentials file winning, so each such key
/// silently overrides what the config file says. (key, config's value, credentials' value)
pub fn shadowed(
    config: &str,
    credentials: &str,
    profile: &str,
) -> Result<Vec<(&'static str, String, String)>> {
    let from_config = parse_texts(config, "")?;
    let from_credentials = parse_texts("", credentials)?;
    let (Some(c), Some(k)) = (
        from_config.get_profile(profile),
        from_credentials.get_profile(profile),
    ) else {
        return Ok(Vec::new());
    };
    Ok(MEANINGFUL_KEYS
        .iter()
        .filter_map(|key| {
            let (value, over) = (c.get(key)?, k.get(key)?);
            (over != value).then(|| (*key, value.to_owned(), over.to_owned()))
        })
        .collect())
}

/// Where `setup` calls STS and IAM for `profile`, which need not exist yet: its settings where
/// it does, else the environment's.
pub fn setup_endpoints(profile: &str) -> Result<Endpoints> {
    let env = Env::real();
    let set = profile_set(&env, &Fs::real(), profile)?;
    let empty = Profile::new(profile, Default::default());
    let p = set.get_profile(profile).unwrap_or(&empty);
    Ok(Endpoints {
        sts: sts_target(&env, &set, p, None)?,
        iam_endpoint_url: configured_endpoint(&env, &set, p, "iam"),
    })
}

/// The paths of the config and credentials files, as the SDKs find them.
pub fn file_paths() -> (std::path::PathBuf, std::path::PathBuf) {
    let home = || dirs::home_dir().unwrap_or_default().join(".aws");
    let path = |var: &str, default: &str| {
        std::env::var_os(var)
            .filter(|v| !v.is_empty())
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| home().join(default))
    };
    (
        path("AWS_CONFIG_FILE", "config"),
        path("AWS_SHARED_CREDENTIALS_FILE", "credentials"),
    )
}

/// Every profile in the config and credentials files, parsed by aws-config with `profile`
/// selected. The loader only does synchronous file I/O behind `async`, so `pollster` drives it.
fn profile_set(env: &Env, fs: &Fs, profile: &str) -> Result<ProfileSet> {
    pollster::block_on(aws_config::profile::load(
        fs,
        env,
        &EnvConfigFiles::default(),
        Some(Cow::Owned(profile.to_owned())),
    ))
    .map_err(|e| Error::ConfigLoad(crate::error::one_line(&e)))
}

/// What a profile asks for: an MFA session of its own, or a role assumed with one.
#[derive(Debug)]
pub enum Target {
    Mfa(Settings),
    Role(RoleChain),
}

impl Target {
    /// The profile asked for.
    pub fn profile(&self) -> &str {
        match self {
            Target::Mfa(s) => &s.profile,
            Target::Role(c) => &c.role().profile,
        }
    }

    /// Where the profile asked for calls STS: its region is what `exec` passes on.
    pub fn sts(&self) -> &StsTarget {
        match self {
            Target::Mfa(s) => &s.sts,
            Target::Role(c) => &c.role().sts,
        }
    }

    /// The AWS account the session is for, where an ARN says it: the role's for a role, else
    /// the MFA device's (a hardware serial does not say, and the account is then left unknown).
    pub fn account_id(&self) -> Option<&str> {
        match self {
            Target::Mfa(s) => s.serial.account(),
            Target::Role(c) => crate::aws::arn::parse_iam(&c.role().role_arn).map(|a| a.account),
        }
    }

    /// The mfa-env profile whose device and code sources serve this target.
    pub fn mfa(&self) -> &Settings {
        match self {
            Target::Mfa(s) => s,
            Target::Role(c) => &c.base,
        }
    }
}

/// Loads and validates `profile`, which may be a role profile (`role_arn`), from the real files
/// and environment.
pub fn load_target(profile: &str) -> Result<Target> {
    load_target_from(&Env::real(), &Fs::real(), profile)
}

/// As [`load_target`], with the environment and file system given.
pub fn load_target_from(env: &Env, fs: &Fs, profile: &str) -> Result<Target> {
    let set = profile_set(env, fs, profile)?;
    let p = find(env, &set, profile)?;
    if p.get("role_arn").is_some() {
        role::follow(env, &set, p).map(Target::Role)
    } else {
        resolve(env, &set, p).map(Target::Mfa)
    }
}

/// Loads and validates `profile` from the real files and environment.
pub fn load(profile: &str) -> Result<Settings> {
    load_from(&Env::real(), &Fs::real(), profile)
}

/// As [`load`], with the environment and file system given (tests use in-memory ones).
pub fn load_from(env: &Env, fs: &Fs, profile: &str) -> Result<Settings> {
    let set = profile_set(env, fs, profile)?;
    resolve(env, &set, find(env, &set, profile)?)
}

fn find<'a>(env: &Env, set: &'a ProfileSet, profile: &str) -> Result<&'a Profile> {
    set.get_profile(profile)
        .ok_or_else(|| Error::ProfileNotFound {
            profile: profile.to_owned(),
            files: file_names(env),
        })
}

fn resolve(env: &Env, set: &ProfileSet, p: &Profile) -> Result<Settings> {
    let profile = p.name().to_owned();
    let raw_serial = p.get("mfa_serial").ok_or_else(|| Error::MissingSerial {
        profile: profile.clone(),
    })?;
    let serial = MfaSerial::parse(raw_serial).map_err(|why| Error::BadSerial {
        profile: profile.clone(),
        value: raw_serial.to_owned(),
        why,
    })?;

    let duration_seconds = match p.get("duration_seconds") {
        None => serial.default_duration(),
        Some(raw) => {
            let range = serial.allowed_durations();
            raw.trim()
                .parse::<u32>()
                .ok()
                .filter(|d| range.contains(d))
                .ok_or_else(|| Error::BadDuration {
                    profile: profile.clone(),
                    value: raw.to_owned(),
                    min: *range.start(),
                    max: *range.end(),
                    why: if serial.is_root() { " (root user)" } else { "" },
                })?
        }
    };

    let (min_remaining_seconds, lock_timeout_seconds) = margins(p, duration_seconds)?;
    let mfa_process_timeout_seconds = seconds(
        p,
        "mfa_env_mfa_process_timeout_seconds",
        1..=600,
        DEFAULT_MFA_PROCESS_TIMEOUT_SECONDS,
        "use a whole number of seconds from 1 to 600",
    )?;
    let mfa_process = p
        .get("mfa_process")
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned);

    let sts = sts_target(
        env,
        set,
        p,
        serial.partition().map(|part| (part, "mfa_serial")),
    )?;

    let process_timeout_seconds = seconds(
        p,
        "mfa_env_source_process_timeout_seconds",
        1..=600,
        DEFAULT_SOURCE_PROCESS_TIMEOUT_SECONDS,
        "use a whole number of seconds from 1 to 600",
    )?;
    let source_profile = p.get("mfa_env_source_profile").map(|name| SourceProfile {
        process_timeout_seconds,
        ..source_profile(set, name)
    });

    Ok(Settings {
        profile,
        serial,
        duration_seconds,
        sts,
        min_remaining_seconds,
        lock_timeout_seconds,
        mfa_process,
        mfa_process_timeout_seconds,
        source_profile,
    })
}

/// The profile's STS region, endpoint, endpoint variants and time-out, as the SDKs resolve
/// them. `partition`: that of the MFA device or role the call is for, when its ARN names one;
/// it gives the region when none is configured, and a configured region must be in it.
fn sts_target(
    env: &Env,
    set: &ProfileSet,
    p: &Profile,
    partition: Option<(&'static Partition, &'static str)>,
) -> Result<StsTarget> {
    let profile = || p.name().to_owned();
    let timeout_seconds = seconds(
        p,
        "mfa_env_sts_timeout_seconds",
        1..=300,
        DEFAULT_STS_TIMEOUT_SECONDS,
        "use a whole number of seconds from 1 to 300",
    )?;
    let configured_region = [
        ("AWS_REGION", env.get("AWS_REGION").ok()),
        ("AWS_DEFAULT_REGION", env.get("AWS_DEFAULT_REGION").ok()),
        ("region", p.get("region").map(str::to_owned)),
    ]
    .into_iter()
    .find_map(|(from, v)| Some((from, v?.trim().to_owned())).filter(|(_, v)| !v.is_empty()));
    let region_configured = configured_region.is_some();
    let (region_from, region) = configured_region.unwrap_or_else(|| {
        let derived = default_region(partition.map(|(name, _)| name));
        ("the default", derived.to_owned())
    });
    if !is_region_name(&region) {
        return Err(Error::BadSetting {
            profile: profile(),
            key: "region",
            value: region,
            expected: "use a region name such as eu-west-1",
        });
    }
    if let Some((partition, what)) = partition
        && partition::of_region(&region) != partition
    {
        return Err(Error::PartitionMismatch(Box::new(PartitionMismatch {
            profile: profile(),
            region_from,
            region_partition: partition::of_region(&region).id,
            region,
            what,
            partition: partition.id,
            suggested_region: default_region(Some(partition)),
        })));
    }
    let endpoint_url = configured_endpoint(env, set, p, "sts");
    if let Some(url) = &endpoint_url
        && !(url.starts_with("https://") || url.starts_with("http://"))
    {
        return Err(Error::BadSetting {
            profile: profile(),
            key: "endpoint_url",
            value: url.clone(),
            expected: "use an http:// or https:// URL",
        });
    }
    let use_fips = flag(env, p, "AWS_USE_FIPS_ENDPOINT", "use_fips_endpoint")?;
    let use_dual_stack = flag(
        env,
        p,
        "AWS_USE_DUALSTACK_ENDPOINT",
        "use_dualstack_endpoint",
    )?;
    if endpoint_url.is_some() && (use_fips || use_dual_stack) {
        return Err(Error::BadSetting {
            profile: profile(),
            key: if use_fips {
                "use_fips_endpoint"
            } else {
                "use_dualstack_endpoint"
            },
            value: "true".into(),
            expected: "it cannot be combined with an explicit endpoint (endpoint_url, AWS_ENDPOINT_URL_STS), which the SDKs refuse as well; drop one of the two",
        });
    }
    Ok(StsTarget {
        region,
        region_configured,
        endpoint_url,
        use_fips,
        use_dual_stack,
        timeout_seconds,
    })
}

/// A boolean setting the way the SDKs read it: the environment variable, else the profile key;
/// `true` or `false` in any case, anything else refused rather than ignored.
fn flag(env: &Env, p: &Profile, var: &'static str, key: &'static str) -> Result<bool> {
    let (name, raw) = match env.get(var).ok().filter(|v| !v.trim().is_empty()) {
        Some(v) => (var, v),
        None => match p.get(key).filter(|v| !v.trim().is_empty()) {
            Some(v) => (key, v.to_owned()),
            None => return Ok(false),
        },
    };
    match raw.trim().to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(Error::BadSetting {
            profile: p.name().to_owned(),
            key: name,
            value: raw,
            expected: "use true or false",
        }),
    }
}

/// `mfa_env_min_remaining_seconds` (default 900, at most half a short session) and
/// `mfa_env_lock_timeout_seconds`, which MFA and role profiles share.
fn margins(p: &Profile, duration_seconds: u32) -> Result<(u32, u32)> {
    let min_remaining_seconds = seconds(
        p,
        "mfa_env_min_remaining_seconds",
        0..=duration_seconds.saturating_sub(1),
        DEFAULT_MIN_REMAINING_SECONDS.min(duration_seconds / 2),
        "use a whole number of seconds smaller than duration_seconds",
    )?;
    let lock_timeout_seconds = seconds(
        p,
        "mfa_env_lock_timeout_seconds",
        0..=3600,
        DEFAULT_LOCK_TIMEOUT_SECONDS,
        "use a whole number of seconds from 0 to 3600",
    )?;
    Ok((min_remaining_seconds, lock_timeout_seconds))
}

/// An mfa-env key holding whole seconds within `range`; `default` when absent.
fn seconds(
    p: &Profile,
    key: &'static str,
    range: std::ops::RangeInclusive<u32>,
    default: u32,
    expected: &'static str,
) -> Result<u32> {
    let Some(raw) = p.get(key) else {
        return Ok(default);
    };
    raw.trim()
        .parse::<u32>()
        .ok()
        .filter(|v| range.contains(v))
        .ok_or_else(|| Error::BadSetting {
            profile: p.name().to_owned(),
            key,
            value: raw.to_owned(),
            expected,
        })
}

/// The SDKs' precedence for a service endpoint: service-specific environment variable, global
/// environment variable, the profile's `services` section, the profile's `endpoint_url`.
fn configured_endpoint(env: &Env, set: &ProfileSet, p: &Profile, service: &str) -> Option<String> {
    let ignored = |v: Option<&str>| v.is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    if ignored(
        env.get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS")
            .ok()
            .as_deref(),
    ) || ignored(p.get("ignore_configured_endpoint_urls"))
    {
        return None;
    }
    let services = p.get("services").and_then(|section| {
        let key = PropertiesKey::builder()
            .section_key("services")
            .section_name(section)
            .property_name(service)
            .sub_property_name("endpoint_url")
            .build()
            .ok()?;
        set.other_sections().get(&key).cloned()
    });
    first_of(&[
        env.get(&format!(
            "AWS_ENDPOINT_URL_{}",
            service.to_ascii_uppercase()
        ))
        .ok(),
        env.get("AWS_ENDPOINT_URL").ok(),
        services,
        p.get("endpoint_url").map(str::to_owned),
    ])
}

/// The profile `name` as a source of a long-term key (`found` false when it does not exist),
/// with the default time limit for its `credential_process`.
pub fn source_profile(set: &ProfileSet, name: &str) -> SourceProfile {
    let p = set.get_profile(name);
    let get = |key| p.and_then(|p| p.get(key)).filter(|v| !v.is_empty());
    SourceProfile {
        name: name.to_owned(),
        found: p.is_some(),
        access_key_id: get("aws_access_key_id").map(SecretString::from),
        secret_access_key: get("aws_secret_access_key").map(SecretString::from),
        has_session_token: get("aws_session_token").is_some(),
        credential_process: get("credential_process")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(str::to_owned),
        process_timeout_seconds: DEFAULT_SOURCE_PROCESS_TIMEOUT_SECONDS,
    }
}

fn first_of(candidates: &[Option<String>]) -> Option<String> {
    candidates
        .iter()
        .flatten()
        .map(|v| v.trim())
        .find(|v| !v.is_empty())
        .map(str::to_owned)
}

fn file_names(env: &Env) -> String {
    let config = env
        .get("AWS_CONFIG_FILE")
        .unwrap_or_else(|_| "~/.aws/config".into());
    let creds = env
        .get("AWS_SHARED_CREDENTIALS_FILE")
        .unwrap_or_else(|_| "~/.aws/credentials".into());
    format!("{config} or {creds}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn load_text(
        config: &str,
        credentials: &str,
        vars: &[(&str, &str)],
        profile: &str,
    ) -> Result<Settings> {
        let mut all = vec![("HOME", "/home/u")];
        all.extend_from_slice(vars);
        let env = Env::from_slice(&all);
        let fs = Fs::from_slice(&[
            ("/home/u/.aws/config", config),
            ("/home/u/.aws/credentials", credentials),
        ]);
        load_from(&env, &fs, profile)
    }

    const DEV: &str = "[profile dev]\nmfa_serial = arn:aws:iam::123456789012:mfa/alice\n";

    #[test]
    fn defaults_for_an_iam_user() {
        let s = load_text(DEV, "", &[], "dev").unwrap();
        assert_eq!(s.serial.as_str(), "arn:aws:iam::123456789012:mfa/alice");
        assert_eq!(s.duration_seconds, 43200);
        assert_eq!(s.sts.region, "us-east-1");
        assert_eq!(s.sts.endpoint_url, None);
        assert_eq!(s.endpoint_id(), "https://sts.us-east-1.amazonaws.com");
        assert_eq!(s.min_remaining_seconds, 900);
        assert!(s.source_profile.is_none());
    }

    #[test]
    fn reads_every_key() {
        let config = "[profile dev]\nmfa_serial = GAHT12345678\nduration_seconds = 3600\nregion = eu-west-1\n\
                      mfa_env_source_profile = base\nmfa_env_min_remaining_seconds = 600\n";
        let creds =
            "[base]\naws_access_key_id = AKIAAAAAAAAAAAAAAAAA\naws_secret_access_key = s3cr3t\n";
        let s = load_text(config, creds, &[], "dev").unwrap();
        assert_eq!((s.duration_seconds, s.min_remaining_seconds), (3600, 600));
        assert_eq!(s.sts.region, "eu-west-1");
        let src = s.source_profile.unwrap();
        assert!(src.found && !src.has_session_token);
        assert_eq!(
            src.access_key_id.unwrap().expose_secret(),
            "AKIAAAAAAAAAAAAAAAAA"
        );
    }

    #[test]
    fn endpoint_precedence_matches_the_sdks() {
        let config = "[profile dev]\nmfa_serial = GAHT12345678\nendpoint_url = http://profile\nservices = local\n\
                      [services local]\nsts =\n  endpoint_url = http://services\n";
        let ep =
            |vars: &[(&str, &str)]| load_text(config, "", vars, "dev").unwrap().sts.endpoint_url;
        assert_eq!(ep(&[]).as_deref(), Some("http://services"));
        assert_eq!(
            ep(&[("AWS_ENDPOINT_URL", "http://global")]).as_deref(),
            Some("http://global")
        );
        assert_eq!(
            ep(&[
                ("AWS_ENDPOINT_URL", "http://global"),
                ("AWS_ENDPOINT_URL_STS", "http://sts")
            ])
            .as_deref(),
            Some("http://sts")
        );
        assert_eq!(ep(&[("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true")]), None);
    }

    #[test]
    fn one_scope_per_partition_and_the_sdks_endpoints() {
        let at = |config: &str, vars: &[(&str, &str)]| load_text(config, "", vars, "dev").unwrap();
        let us = at(DEV, &[]);
        let eu = at(DEV, &[("AWS_REGION", "eu-west-1")]);
        assert_eq!((us.scope(), eu.scope()), ("aws".into(), "aws".into()));
        assert_eq!(eu.endpoint_id(), "https://sts.eu-west-1.amazonaws.com");

        let cn = at(
            "[profile dev]\nmfa_serial = arn:aws-cn:iam::123456789012:mfa/a\n",
            &[],
        );
        assert_eq!(
            (cn.sts.region.as_str(), cn.scope()),
            ("cn-northwest-1", "aws-cn".into()),
            "the SDK's own region for the partition"
        );
        assert_eq!(
            cn.endpoint_id(),
            "https://sts.cn-northwest-1.amazonaws.com.cn"
        );
        let eusc = at(
            "[profile dev]\nmfa_serial = arn:aws-eusc:iam::123456789012:mfa/a\n",
            &[],
        );
        assert_eq!(
            (eusc.sts.region.as_str(), eusc.scope()),
            ("eusc-de-east-1", "aws-eusc".into())
        );
        assert_eq!(
            eusc.endpoint_id(),
            "https://sts.eusc-de-east-1.amazonaws.eu"
        );
        let gov = at(
            "[profile dev]\nmfa_serial = arn:aws-us-gov:iam::123456789012:mfa/a\n",
            &[],
        );
        assert_eq!(
            (gov.sts.region.as_str(), gov.scope()),
            ("us-gov-west-1", "aws-us-gov".into())
        );
        let hardware = at(
            "[profile dev]\nmfa_serial = GAHT12345678\nregion = cn-northwest-1\n",
            &[],
        );
        assert_eq!(
            hardware.scope(),
            "aws-cn",
            "a hardware serial follows the region"
        );

        let fips = at(DEV, &[("AWS_USE_FIPS_ENDPOINT", "TRUE")]);
        assert_eq!(fips.scope(), "aws fips");
        assert_eq!(
            fips.endpoint_id(),
            "https://sts-fips.us-east-1.amazonaws.com"
        );
        let fips_profile = at(
            &format!("{DEV}use_fips_endpoint = true\n"),
            &[("AWS_USE_FIPS_ENDPOINT", "false")],
        );
        assert_eq!(
            fips_profile.scope(),
            "aws",
            "the environment wins over the profile"
        );
        let dual = at(&format!("{DEV}use_dualstack_endpoint = true\n"), &[]);
        assert_eq!(dual.scope(), "aws", "dual-stack is the same scope");
        assert_eq!(dual.endpoint_id(), "https://sts.us-east-1.api.aws");
        let local = at(DEV, &[("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:5000")]);
        assert_eq!(local.scope(), "http://127.0.0.1:5000");
    }

    #[test]
    fn a_region_of_another_partition_and_unknown_flags_are_refused() {
        let err = |config: &str, vars: &[(&str, &str)]| {
            load_text(config, "", vars, "dev").unwrap_err().to_string()
        };
        let cn = "[profile dev]\nmfa_serial = arn:aws-cn:iam::123456789012:mfa/a\n";
        let e = err(cn, &[("AWS_REGION", "eu-west-1")]);
        assert!(
            e.contains("region eu-west-1 (from AWS_REGION) is in partition aws, but mfa_serial is in aws-cn"),
            "{e}"
        );
        assert!(e.contains("such as cn-northwest-1"), "{e}");
        let iso = "[profile dev]\nmfa_serial = arn:aws-iso:iam::123456789012:mfa/a\nregion = eusc-de-east-1\n";
        let e = err(iso, &[]);
        assert!(
            e.contains("region eusc-de-east-1 (from region) is in partition aws-eusc, but mfa_serial is in aws-iso"),
            "{e}"
        );
        assert!(e.contains("such as us-iso-east-1"), "{e}");
        let e = err(DEV, &[("AWS_USE_DUALSTACK_ENDPOINT", "1")]);
        assert!(
            e.contains("AWS_USE_DUALSTACK_ENDPOINT = \"1\" is not valid; use true or false"),
            "{e}"
        );
        let e = err(
            &format!("{DEV}use_fips_endpoint = true\n"),
            &[("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:5000")],
        );
        assert!(
            e.contains("cannot be combined with an explicit endpoint"),
            "{e}"
        );
    }

    #[test]
    fn region_from_environment_wins_over_profile() {
        let config = "[profile dev]\nmfa_serial = GAHT12345678\nregion = eu-west-1\n";
        let s = load_text(config, "", &[("AWS_REGION", "ap-south-1")], "dev").unwrap();
        assert_eq!(s.sts.region, "ap-south-1");
    }

    #[test]
    fn refuses_bad_values_before_anything_else() {
        let cases: &[(&str, &str)] = &[
            ("[profile dev]\nregion = x\n", "has no mfa_serial"),
            ("[profile dev]\nmfa_serial = 123\n", "mfa_serial = \"123\""),
            (
                "[profile dev]\nmfa_serial = GAHT12345678\nduration_seconds = 899\n",
                "from 900 to 129600",
            ),
            (
                "[profile dev]\nmfa_serial = GAHT12345678\nduration_seconds = 129601\n",
                "from 900 to 129600",
            ),
            (
                "[profile dev]\nmfa_serial = GAHT12345678\nduration_seconds = 12h\n",
                "out of range",
            ),
            (
                "[profile dev]\nmfa_serial = arn:aws:iam::123456789012:mfa/root-account-mfa-device\nduration_seconds = 7200\n",
                "from 900 to 3600 (root user)",
            ),
            (
                "[profile dev]\nmfa_serial = GAHT12345678\nregion = Not A Region\n",
                "region",
            ),
            (
                "[profile dev]\nmfa_serial = GAHT12345678\nendpoint_url = localhost:5000\n",
                "http://",
            ),
            (
                "[profile dev]\nmfa_serial = GAHT12345678\nduration_seconds = 900\nmfa_env_min_remaining_seconds = 900\n",
                "smaller than duration_seconds",
            ),
            (
                "[profile other]\nmfa_serial = GAHT12345678\n",
                "profile 'dev' not found",
            ),
            (
                "[profile dev\nmfa_serial = x\n",
                "cannot read the AWS config",
            ),
        ];
        for (config, expected) in cases {
            let err = load_text(config, "", &[], "dev").unwrap_err().to_string();
            assert!(err.contains(expected), "{config:?}: {err}");
            assert!(!err.contains('\n'), "one line: {err}");
        }
    }

    #[test]
    fn short_sessions_get_a_margin_that_still_serves_them() {
        let s = load_text(
            "[profile dev]\nmfa_serial = GAHT12345678\nduration_seconds = 900\n",
            "",
            &[],
            "dev",
        )
        .unwrap();
        assert_eq!(s.min_remaining_seconds, 450);
    }

    #[test]
    fn mfa_process_and_its_timeout() {
        let s = load_text(DEV, "", &[], "dev").unwrap();
        assert_eq!((s.mfa_process, s.mfa_process_timeout_seconds), (None, 30));
        assert!(
            !s.sts.region_configured,
            "the us-east-1 fallback is not a configured region"
        );
        let config = format!(
            "{DEV}mfa_process = ykman oath accounts code -s aws\nmfa_env_mfa_process_timeout_seconds = 90\n"
        );
        let s = load_text(&config, "", &[("AWS_REGION", "eu-north-1")], "dev").unwrap();
        assert_eq!(
            s.mfa_process.as_deref(),
            Some("ykman oath accounts code -s aws")
        );
        assert_eq!(s.mfa_process_timeout_seconds, 90);
        assert!(s.sts.region_configured);
        let blank = load_text(&format!("{DEV}mfa_process =\n"), "", &[], "dev").unwrap();
        assert_eq!(blank.mfa_process, None, "an empty mfa_process means none");
        for bad in ["0", "601", "ten"] {
            let config = format!("{DEV}mfa_env_mfa_process_timeout_seconds = {bad}\n");
            let e = load_text(&config, "", &[], "dev").unwrap_err().to_string();
            assert!(
                e.contains("mfa_env_mfa_process_timeout_seconds") && e.contains("1 to 600"),
                "{e}"
            );
        }
    }
}
