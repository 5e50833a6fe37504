//! Role profiles (`role_arn` + `source_profile`) that lead, possibly through other role
//! profiles, to an mfa-env profile. The SDKs follow such a chain themselves; mfa-env follows it
//! for `eval "$(mfa-env -p ROLE)"` and `exec`, where no SDK is in between. Everything that can be
//! wrong with the chain is refused here, before a keyring, a prompt or the network.

use aws_config::profile::{Profile, ProfileSet};
use aws_types::os_shim_internal::Env;

use super::{Settings, StsTarget, margins, resolve, sts_target};
use crate::error::{Error, Result};

/// The SDKs' default length of a role session.
pub const DEFAULT_ROLE_DURATION_SECONDS: u32 = 3600;
/// AWS's limit for a role assumed with temporary credentials (role chaining), which every role
/// here is: the first with the MFA session (GetSessionToken's), each next with the role
/// before. STS refuses more ("exceeds the 1 hour session limit for roles assumed by role
/// chaining"), whatever the role's `MaxSessionDuration`.
pub const MAX_CHAINED_DURATION_SECONDS: u32 = 3600;

/// A role profile and the chain below it down to the mfa-env profile whose session starts it.
#[derive(Debug)]
pub struct RoleChain {
    /// The mfa-env profile: its MFA session assumes `hops[0]`.
    pub base: Settings,
    /// Each role is assumed with the credentials of the one before; the last is the profile
    /// asked for.
    pub hops: Vec<RoleHop>,
}

/// One role profile.
#[derive(Debug)]
pub struct RoleHop {
    pub profile: String,
    pub role_arn: String,
    pub session_name: Option<String>,
    pub external_id: Option<String>,
    pub duration_seconds: u32,
    pub sts: StsTarget,
    pub min_remaining_seconds: u32,
    pub lock_timeout_seconds: u32,
}

impl RoleChain {
    /// The profile asked for.
    pub fn role(&self) -> &RoleHop {
        self.hops.last().expect("a chain has at least one role")
    }
}

/// Follows `source_profile` from the role profile `p` down to an mfa-env profile.
pub(super) fn follow(env: &Env, set: &ProfileSet, p: &Profile) -> Result<RoleChain> {
    let mut from_top = Vec::new();
    let mut visited = vec![p.name().to_owned()];
    let mut current = p;
    while current.get("role_arn").is_some() {
        let source = source_of(current)?;
        if visited.iter().any(|v| v == source) {
            return Err(chain_error(
                p.name(),
                format!(
                    "its source_profile chain loops ({} → {source})",
                    visited.join(" → ")
                ),
            ));
        }
        let next = set.get_profile(source).ok_or_else(|| {
            chain_error(
                current.name(),
                format!("its source_profile '{source}' is not in the config or credentials file"),
            )
        })?;
        from_top.push(current);
        visited.push(source.to_owned());
        current = next;
    }
    let base = resolve(env, set, current).map_err(|e| match e {
        Error::MissingSerial { profile } => chain_error(
            p.name(),
            format!(
                "its chain ends at '{profile}', which has no mfa_serial; mfa-env follows source_profile only to an mfa-env profile"
            ),
        ),
        other => other,
    })?;
    let hops = from_top
        .iter()
        .rev()
        .enumerate()
        .map(|(i, p)| hop(env, set, p, i > 0))
        .collect::<Result<_>>()?;
    Ok(RoleChain { base, hops })
}

fn source_of(p: &Profile) -> Result<&str> {
    if p.get("credential_source").is_some() {
        return Err(chain_error(
            p.name(),
            "it uses credential_source; mfa-env follows source_profile only, so name the mfa-env profile there".into(),
        ));
    }
    p.get("source_profile")
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| {
            chain_error(
                p.name(),
                "it has role_arn but no source_profile; set source_profile to the mfa-env profile"
                    .into(),
            )
        })
}

fn chain_error(profile: &str, why: String) -> Error {
    Error::RoleChain {
        profile: profile.to_owned(),
        why,
    }
}

/// One role profile's settings; `chained` when it is assumed with another role's credentials.
fn hop(env: &Env, set: &ProfileSet, p: &Profile, chained: bool) -> Result<RoleHop> {
    let profile = p.name().to_owned();
    let bad = |key: &'static str, value: &str, expected: &'static str| Error::BadSetting {
        profile: profile.clone(),
        key,
        value: value.to_owned(),
        expected,
    };
    let role_arn = p.get("role_arn").unwrap_or_default().trim().to_owned();
    if !is_role_arn(&role_arn) {
        return Err(bad(
            "role_arn",
            &role_arn,
            "use arn:aws:iam::<12-digit account>:role/<name>",
        ));
    }
    let session_name = optional(p, "role_session_name");
    if let Some(name) = &session_name
        && !fits(name, 2..=64, "+=,.@_-")
    {
        return Err(bad(
            "role_session_name",
            name,
            "use 2 to 64 letters, digits or +=,.@_-",
        ));
    }
    let external_id = optional(p, "external_id");
    if let Some(id) = &external_id
        && !fits(id, 2..=1224, "+=,.@:/_-")
    {
        return Err(bad(
            "external_id",
            id,
            "use 2 to 1224 letters, digits or +=,.@:/_-",
        ));
    }
    let max = MAX_CHAINED_DURATION_SECONDS;
    let duration_seconds = match p.get("duration_seconds") {
        None => DEFAULT_ROLE_DURATION_SECONDS,
        Some(raw) => raw
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|d| (900..=max).contains(d))
            .ok_or_else(|| Error::BadDuration {
                profile: profile.clone(),
                value: raw.to_owned(),
                min: 900,
                max,
                why: if chained {
                    " (role chaining: a role assumed with another role's credentials lasts at most 1 hour)"
                } else {
                    " (role chaining: a role assumed with an MFA session lasts at most 1 hour, whatever its MaxSessionDuration)"
                },
            })?,
    };
    let (min_remaining_seconds, lock_timeout_seconds) = margins(p, duration_seconds)?;
    Ok(RoleHop {
        sts: sts_target(
            env,
            set,
            p,
            crate::aws::arn::parse_iam(&role_arn).map(|a| (a.partition, "role_arn")),
        )?,
        profile,
        role_arn,
        session_name,
        external_id,
        duration_seconds,
        min_remaining_seconds,
        lock_timeout_seconds,
    })
}

fn optional(p: &Profile, key: &str) -> Option<String> {
    p.get(key)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// STS's own pattern for names and ids: a length and word characters plus `extra`.
fn fits(value: &str, len: std::ops::RangeInclusive<usize>, extra: &str) -> bool {
    len.contains(&value.len())
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || extra.contains(c))
}

/// `arn:<partition>:iam::<12 digits>:role/<path and name>`.
fn is_role_arn(arn: &str) -> bool {
    crate::aws::arn::parse_iam(arn)
        .and_then(|a| a.resource.strip_prefix("role/"))
        .is_some_and(|name| !name.is_empty() && !name.ends_with('/'))
}

#[cfg(test)]
mod tests {
    use super::super::{Target, load_target_from};
    use super::*;
    use aws_types::os_shim_internal::Fs;

    const BASE: &str = "[profile dev]\nmfa_serial = arn:aws:iam::123456789012:mfa/alice\n";

    fn load(config: &str, profile: &str) -> Result<Target> {
        let env = Env::from_slice(&[("HOME", "/h")]);
        let fs = Fs::from_slice(&[("/h/.aws/config", config)]);
        load_target_from(&env, &fs, profile)
    }

    fn chain(config: &str, profile: &str) -> RoleChain {
        match load(config, profile).unwrap() {
            Target::Role(c) => c,
            Target::Mfa(s) => panic!("not a role: {s:?}"),
        }
    }

    fn error(config: &str, profile: &str) -> String {
        let e = load(config, profile).unwrap_err().to_string();
        assert!(!e.contains('\n'), "one line: {e}");
        e
    }

    #[test]
    fn a_role_on_the_mfa_profile_with_every_key() {
        let config = format!(
            "{BASE}[profile admin]\nrole_arn = arn:aws:iam::210987654321:role/Admin\nsource_profile = dev\n\
             role_session_name = alice@laptop\nexternal_id = ext-42\nduration_seconds = 2700\nregion = eu-west-1\n"
        );
        let c = chain(&config, "admin");
        assert_eq!(c.base.profile, "dev");
        assert_eq!(c.hops.len(), 1);
        let r = c.role();
        assert_eq!(r.role_arn, "arn:aws:iam::210987654321:role/Admin");
        assert_eq!(r.session_name.as_deref(), Some("alice@laptop"));
        assert_eq!(r.external_id.as_deref(), Some("ext-42"));
        assert_eq!((r.duration_seconds, r.min_remaining_seconds), (2700, 900));
        assert_eq!(r.sts.region, "eu-west-1");
    }

    #[test]
    fn defaults_and_a_chain_of_two_roles() {
        let config = format!(
            "{BASE}[profile hub]\nrole_arn = arn:aws:iam::210987654321:role/Hub\nsource_profile = dev\n\
             [profile spoke]\nrole_arn = arn:aws:iam::111122223333:role/path/Spoke\nsource_profile = hub\n"
        );
        let c = chain(&config, "spoke");
        let names: Vec<_> = c.hops.iter().map(|h| h.profile.as_str()).collect();
        assert_eq!(names, ["hub", "spoke"], "assumed from the base upwards");
        assert_eq!(c.role().duration_seconds, 3600);
        assert_eq!(c.role().session_name, None);
        assert!(matches!(load(&config, "dev"), Ok(Target::Mfa(_))));
    }

    #[test]
    fn role_chaining_is_limited_to_one_hour() {
        let config = format!(
            "{BASE}[profile hub]\nrole_arn = arn:aws:iam::210987654321:role/Hub\nsource_profile = dev\nduration_seconds = 3600\n\
             [profile spoke]\nrole_arn = arn:aws:iam::111122223333:role/Spoke\nsource_profile = hub\nduration_seconds = 7200\n\
             [profile long]\nrole_arn = arn:aws:iam::210987654321:role/Long\nsource_profile = dev\nduration_seconds = 43200\n"
        );
        assert_eq!(chain(&config, "hub").role().duration_seconds, 3600);
        let e = error(&config, "spoke");
        assert!(
            e.contains("profile 'spoke'") && e.contains("900 to 3600") && e.contains("chaining"),
            "{e}"
        );
        let e = error(&config, "long");
        assert!(
            e.contains("900 to 3600")
                && e.contains("a role assumed with an MFA session lasts at most 1 hour"),
            "an MFA session is temporary credentials too: {e}"
        );
    }

    #[test]
    fn bad_chains_and_values_are_refused_with_the_profile_named() {
        let role = "role_arn = arn:aws:iam::210987654321:role/R\n";
        let cases = [
            (format!("{BASE}[profile r]\n{role}"), "no source_profile"),
            (
                format!("{BASE}[profile r]\n{role}source_profile = nope\n"),
                "'nope' is not in",
            ),
            (
                format!("{BASE}[profile r]\n{role}credential_source = Environment\n"),
                "credential_source",
            ),
            (
                format!(
                    "[profile r]\n{role}source_profile = b\n[profile b]\n{role}source_profile = r\n"
                ),
                "loops (r → b → r)",
            ),
            (
                format!(
                    "{BASE}[profile s]\nregion = eu-west-1\n[profile r]\n{role}source_profile = s\n"
                ),
                "ends at 's', which has no mfa_serial",
            ),
            (
                format!(
                    "{BASE}[profile r]\nrole_arn = arn:aws:iam::1:user/x\nsource_profile = dev\n"
                ),
                "role_arn",
            ),
            (
                format!(
                    "{BASE}[profile r]\n{role}source_profile = dev\nrole_session_name = has space\n"
                ),
                "role_session_name",
            ),
            (
                format!("{BASE}[profile r]\n{role}source_profile = dev\nexternal_id = x\n"),
                "external_id",
            ),
            (
                format!("{BASE}[profile r]\n{role}source_profile = dev\nduration_seconds = 3601\n"),
                "900 to 3600",
            ),
            (
                format!("{BASE}duration_seconds = 5\n[profile r]\n{role}source_profile = dev\n"),
                "profile 'dev'",
            ),
        ];
        for (config, expected) in cases {
            let e = error(&config, "r");
            assert!(e.contains(expected), "{config}\n→ {e}");
        }
    }

    #[test]
    fn role_arns() {
        for good in [
            "arn:aws:iam::123456789012:role/Admin",
            "arn:aws-cn:iam::123456789012:role/a/b/C",
            "arn:aws-us-gov:iam::123456789012:role/x",
        ] {
            assert!(is_role_arn(good), "{good}");
        }
        for bad in [
            "",
            "Admin",
            "arn:aws:iam::123456789012:role/",
            "arn:aws:iam::12345678901:role/A",
            "arn:aws:sts::123456789012:role/A",
            "arn:aws:iam::123456789012:user/A",
            "arn:aws:iam:us-east-1:123456789012:role/A",
            "arn:azure:iam::123456789012:role/A",
        ] {
            assert!(!is_role_arn(bad), "{bad}");
        }
    }
}
