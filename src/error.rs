//! Every way mfa-env can fail. Each message is one line that says what failed and what to do,
//! and carries no secret: variants hold names, paths and STS codes, and STS messages are scrubbed
//! of the values we sent before they get here. `main` prints it once, prefixed `mfa-env: `.

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read the AWS config: {0}")]
    ConfigLoad(String),

    #[error(
        "profile '{profile}' not found in {files}; add a [profile {profile}] section, or choose another profile with -p or AWS_PROFILE"
    )]
    ProfileNotFound { profile: String, files: String },

    #[error(
        "profile '{profile}' has no mfa_serial; add `mfa_serial = arn:aws:iam::<account>:mfa/<device>` to [profile {profile}]"
    )]
    MissingSerial { profile: String },

    #[error("profile '{profile}': mfa_serial = {value:?} is {why}")]
    BadSerial {
        profile: String,
        value: String,
        why: BadSerial,
    },

    #[error(
        "profile '{profile}': duration_seconds = {value:?} is out of range; use a whole number from {min} to {max}{why}"
    )]
    BadDuration {
        profile: String,
        value: String,
        min: u32,
        max: u32,
        why: &'static str,
    },

    #[error("profile '{profile}': not written: {why}; the files are unchanged")]
    ProfileEdit { profile: String, why: String },

    #[error("IAM ListMFADevices at {endpoint} refused: {code}: {message}")]
    Iam {
        endpoint: String,
        code: String,
        message: String,
    },

    #[error(
        "the long-term key belongs to {arn}, not to an IAM user; use the IAM user's own access key (AKIA…)"
    )]
    NotAnIamUser { arn: String },

    #[error("setup of profile '{profile}': {why}")]
    Setup { profile: String, why: String },

    #[error("profile '{profile}': the long-term key would be kept only in {store}; {fix}")]
    VolatileStore {
        profile: String,
        store: String,
        fix: String,
    },

    #[error("profile '{profile}' is a role profile mfa-env cannot follow: {why}")]
    RoleChain { profile: String, why: String },

    #[error(transparent)]
    PartitionMismatch(Box<PartitionMismatch>),

    #[error("profile '{profile}': {key} = {value:?} is not valid; {expected}")]
    BadSetting {
        profile: String,
        key: &'static str,
        value: String,
        expected: &'static str,
    },

    #[error(
        "profile '{profile}' has no long-term access key: store one with `mfa-env add -p {profile}`, or name a profile with static keys in mfa_env_source_profile"
    )]
    NoLongTermKey { profile: String },

    #[error(
        "profile '{profile}': mfa_env_source_profile names '{source_profile}', which {problem}; give it aws_access_key_id and aws_secret_access_key (or a credential_process that prints them), or use `mfa-env add -p {profile}`"
    )]
    BadSourceProfile {
        profile: String,
        source_profile: String,
        problem: &'static str,
    },

    #[error(
        "the long-term key for profile '{profile}' ({origin}) is a temporary key ({why}); GetSessionToken needs the IAM user's own long-term access key (AKIA…): {fix}"
    )]
    TemporaryKey {
        profile: String,
        origin: String,
        why: &'static str,
        fix: String,
    },

    #[error("{what} must be exactly 6 digits; nothing was sent to STS")]
    BadCodeFormat { what: &'static str },

    #[error(
        "no way to ask for the MFA code for profile '{profile}': {reason}; pass --token-code, or run `mfa-env -p {profile} >/dev/null` in a terminal first so later calls use the cached session"
    )]
    NoPrompt { profile: String, reason: String },

    #[error(
        "this MFA code was already accepted for {serial} moments ago, and STS refuses a code twice; wait for the next code (codes change every 30 s)"
    )]
    CodeReused { serial: String },

    #[error("reading the MFA code failed: {0}")]
    Prompt(String),

    #[error("the MFA code prompt for profile '{profile}' was cancelled; nothing was sent to STS")]
    PromptCancelled { profile: String },

    #[error(
        "profile '{profile}': mfa_process {what}; run it yourself to check that its first line is the current 6-digit code; nothing was sent to STS"
    )]
    MfaProcess { profile: String, what: String },

    #[error(
        "profile '{profile}': the credential_process of '{source_profile}' (mfa_env_source_profile) {what}; run it yourself to check that it prints the long-term key as JSON (Version 1, AccessKeyId, SecretAccessKey); nothing was sent to STS"
    )]
    SourceProcess {
        profile: String,
        source_profile: String,
        what: String,
    },

    #[error(
        "mfa-env was started by the credential_process of profile '{outer}' (mfa_env_source_profile), which must print the IAM user's long-term key itself, not run mfa-env: point mfa_env_source_profile at a profile whose credential_process prints that key"
    )]
    SourceProcessNested { outer: String },

    #[error(
        "profile '{profile}' has only an MFA session, and AWS's console sign-in (the federation endpoint) accepts only role or federation-token credentials; add a role profile, such as [profile {profile}-admin] with role_arn = arn:{partition}:iam::<account>:role/<role> and source_profile = {profile}, and run `mfa-env console -p {profile}-admin`; nothing was sent"
    )]
    ConsoleNeedsRole {
        profile: String,
        partition: &'static str,
    },

    #[error(
        "partition {partition} has no documented console sign-in host (mfa-env signs in to {known}); nothing was sent"
    )]
    ConsoleUnsupportedPartition {
        partition: &'static str,
        known: String,
    },

    #[error("{why}; nothing was sent")]
    ConsoleDestination { why: String },

    #[error("could not reach the console sign-in at {endpoint}: {what}")]
    ConsoleUnreachable { endpoint: String, what: String },

    #[error("the console sign-in at {endpoint} refused {why}")]
    ConsoleRefused { endpoint: String, why: String },

    #[error(
        "could not hand the sign-in to a browser: {what}; `mfa-env console --print` prints the URL instead"
    )]
    Browser { what: String },

    #[error(
        "already inside `mfa-env exec` for profile '{outer}' (MFA_ENV_EXEC is set); exit that shell first, or pass --allow-nested"
    )]
    ExecNested { outer: String },

    #[error("cannot read {}: {why}", path.display())]
    Read {
        path: std::path::PathBuf,
        why: String,
    },

    #[error("cannot write {}: {why}", path.display())]
    Write {
        path: std::path::PathBuf,
        why: String,
    },

    #[error("cannot run {program}: {why}")]
    ExecSpawn {
        program: String,
        why: String,
        not_found: bool,
    },

    #[error("{0}")]
    Store(#[from] StoreError),

    #[error(
        "another mfa-env process has been getting a session for profile '{profile}' for {seconds} s (is it waiting for a code in another terminal?); finish or cancel it, or raise mfa_env_lock_timeout_seconds"
    )]
    LockTimeout { profile: String, seconds: u32 },

    #[error(
        "cannot keep lock files in {}: {why}; it and every directory above it must be yours (or root's) and writable by no one else: fix the directory named, or set HOME to your own home directory (after `sudo -E`, use `sudo -H`)",
        dir.display()
    )]
    LockDir {
        dir: std::path::PathBuf,
        why: String,
    },

    #[error("cannot use the lock file {}: {why}", path.display())]
    Lock {
        path: std::path::PathBuf,
        why: String,
    },

    #[error("STS {operation} at {endpoint} refused: {code}: {message}{hint}")]
    Sts {
        operation: &'static str,
        endpoint: String,
        code: String,
        message: String,
        hint: &'static str,
    },

    #[error(
        "STS {operation} at {endpoint} refused: {code}, and this machine's clock is {skew} STS's; TOTP codes and request signatures depend on the clock: set it right (NTP) and try again"
    )]
    ClockSkew {
        operation: &'static str,
        endpoint: String,
        code: String,
        skew: String,
    },

    #[error(
        "could not reach STS at {endpoint}: {what}; check the network, or endpoint_url / AWS_ENDPOINT_URL_STS"
    )]
    StsUnreachable { endpoint: String, what: String },

    #[error(
        "there is no STS endpoint for region {region} with these settings: {why}; check region, use_fips_endpoint and use_dualstack_endpoint"
    )]
    StsEndpoint { region: String, why: String },

    #[error("STS at {endpoint} answered without credentials; try again")]
    StsNoCredentials { endpoint: String },

    #[error("{what} from standard input: {why}")]
    Stdin { what: &'static str, why: String },

    #[error(
        "could not write the credentials to standard output: {0}; is the reader still running?"
    )]
    Stdout(std::io::Error),

    #[error("cannot start the async runtime for the STS call: {0}")]
    Runtime(std::io::Error),

    #[error("the {format} format cannot express this value safely; use another --format")]
    Unquotable { format: &'static str },

    #[error(
        "--format process and --format sts print a session, not variables; use env, env-no-export, fish, powershell or windows-cmd"
    )]
    NotShellFormat,

    #[error("the credentials endpoint: {0}")]
    Endpoint(String),
}

impl Error {
    /// The exit status for this failure: `env(1)`'s 127 and 126 when `exec` cannot run the
    /// command, so that scripts can tell "mfa-env failed" from "the command failed"; else 1.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::ExecSpawn {
                not_found: true, ..
            } => 127,
            Error::ExecSpawn { .. } => 126,
            _ => 1,
        }
    }

    /// STS's answer to a wrong or expired MFA code.
    pub fn is_rejected_code(&self) -> bool {
        matches!(self, Error::Sts { code, message, .. }
            if code == "AccessDenied" && message.contains("MultiFactorAuthentication"))
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why an `mfa_serial` value is refused; `profile::serial` decides, the error reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "not an MFA device ARN (arn:<partition>:iam::<12 digits>:mfa/<name>, in a partition the AWS SDK knows) or a hardware serial (9 to 256 of A-Z a-z 0-9 +=/:,.@_-)"
)]
pub struct BadSerial;

/// A region in another partition than the MFA device or role: that partition's STS alone knows
/// them. Boxed in [`Error`], which it would otherwise double in size.
#[derive(Debug, thiserror::Error)]
#[error(
    "profile '{profile}': region {region} (from {region_from}) is in partition {region_partition}, but {what} is in {partition}, whose STS alone knows it; set {region_from} to a region of {partition}, such as {suggested_region}"
)]
pub struct PartitionMismatch {
    pub profile: String,
    pub region_from: &'static str,
    pub region: String,
    pub region_partition: &'static str,
    pub what: &'static str,
    pub partition: &'static str,
    pub suggested_region: &'static str,
}

/// An error and its causes on one line (the config parser's and the endpoint resolver's own
/// messages span several).
pub fn one_line(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}
