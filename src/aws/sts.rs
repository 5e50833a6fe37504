//! The network calls: STS `GetSessionToken`, signed with the long-term key, and `AssumeRole`,
//! signed with an MFA session (or the role before it). `call` and `call_assume` take a ready
//! client, which is the seam where unit tests put the SDK's mock client; `fetch` and `assume`
//! build the real client and a single-threaded runtime, and only a cache miss ever gets here.

use std::future::Future;
use std::time::Duration;

use aws_credential_types::Credentials;
use aws_sdk_sts::Client;
use aws_sdk_sts::config::{BehaviorVersion, Region};
use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::dns::ResolveDnsError;
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use chrono::DateTime;
use secrecy::ExposeSecret;

use crate::aws::skew::{self, ServerClock};
use crate::aws::target::StsTarget;
use crate::error::{Error, Result};
use crate::secret::TokenCode;
use crate::secret::{LongTermKey, SessionCredentials, scrub};

/// Tries in all: with the SDK's standard backoff for calls without a code (throttling, 5xx,
/// timeouts); for `GetSessionToken`, only where STS issued nothing (see [`call`]).
pub const MAX_ATTEMPTS: u32 = 3;

/// Bounds on one call, so an unreachable or silent endpoint fails in seconds, not minutes:
/// connecting takes at most 3 s, each attempt `mfa_env_sts_timeout_seconds` (default 10), and
/// all attempts together twice that.
struct Timeouts {
    connect: Duration,
    attempt: Duration,
    total: Duration,
}

impl Timeouts {
    fn of(target: &StsTarget) -> Self {
        let attempt = Duration::from_secs(target.timeout_seconds.into());
        Timeouts {
            connect: attempt.min(Duration::from_secs(3)),
            attempt,
            total: attempt * 2,
        }
    }
}

/// What one `GetSessionToken` needs besides the client.
pub struct Request<'a> {
    pub target: &'a StsTarget,
    /// The device's serial or ARN, validated by the profile layer.
    pub serial: &'a str,
    pub duration_seconds: u32,
    pub key: &'a LongTermKey,
    pub code: &'a TokenCode,
}

/// What one `AssumeRole` needs besides the client: the role, the credentials it is assumed
/// with, and the session's name.
pub struct AssumeRequest<'a> {
    pub target: &'a StsTarget,
    pub role_arn: &'a str,
    pub external_id: Option<&'a str>,
    pub duration_seconds: u32,
    pub with: &'a SessionCredentials,
    pub session_name: &'a str,
}

/// New credentials, and how far this machine's clock is ahead of STS's when that is worth a
/// warning.
pub struct Fetched {
    pub creds: SessionCredentials,
    pub clock_skew: Option<i64>,
}

impl Fetched {
    /// The credentials, after telling the user about a clock far from STS's.
    pub fn into_creds_warning_of_skew(self) -> SessionCredentials {
        if let Some(s) = self.clock_skew {
            eprintln!(
                "mfa-env: warning: this machine's clock is {} STS's; MFA codes and signatures depend on it: set it right (NTP)",
                skew::describe(s)
            );
        }
        self.creds
    }
}

/// A single-threaded runtime for one call: nothing runs beside it, so threads would only cost.
/// It is shut down without waiting: a name lookup runs on a blocking thread that cannot be
/// cancelled, and a runtime that waited for it on drop would outlast every time-out while the
/// resolver hangs. The process exits soon after, which ends that thread.
pub struct Runtime(Option<tokio::runtime::Runtime>);

impl Runtime {
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        self.0
            .as_ref()
            .expect("present until dropped")
            .block_on(future)
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

pub fn runtime() -> Result<Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map(|r| Runtime(Some(r)))
        .map_err(Error::Runtime)
}

/// The SDK credentials for signing with a long-term key.
pub fn signed_with(key: &LongTermKey) -> Credentials {
    Credentials::new(
        key.access_key_id.expose_secret(),
        key.secret_access_key.expose_secret(),
        None,
        None,
        "mfa-env",
    )
}

/// Calls `GetSessionToken` on a fresh current-thread runtime.
pub fn fetch(req: &Request<'_>) -> Result<Fetched> {
    let key = signed_with(req.key);
    on_runtime(
        req.target,
        key,
        |client| async move { call(&client, req).await },
    )
}

/// Calls `AssumeRole` on a fresh current-thread runtime.
pub fn assume(req: &AssumeRequest<'_>) -> Result<Fetched> {
    let with = Credentials::new(
        req.with.access_key_id.expose_secret(),
        req.with.secret_access_key.expose_secret(),
        Some(req.with.session_token.expose_secret().to_owned()),
        None,
        "mfa-env",
    );
    on_runtime(req.target, with, |client| async move {
        call_assume(&client, req).await
    })
}

/// How far this machine's clock is ahead of the STS endpoint's, for `doctor`: one
/// `GetCallerIdentity` signed with a made-up key (no secret of the user's is sent), one
/// attempt, whose answer, refusal or not, carries STS's `Date`.
pub fn measure_skew(target: &StsTarget) -> Result<i64> {
    let runtime = runtime()?;
    let server_clock = ServerClock::default();
    let made_up = Credentials::new(
        "AKIAMFAENVCLOCKCHECK",
        "not-a-secret",
        None,
        None,
        "mfa-env",
    );
    let client = client(target, made_up, server_clock.clone())?;
    let answer = runtime.block_on(async {
        client
            .get_caller_identity()
            .customize()
            .config_override(
                aws_sdk_sts::Config::builder()
                    .retry_config(RetryConfig::standard().with_max_attempts(1)),
            )
            .send()
            .await
    });
    if let Some(ahead) = server_clock.local_ahead() {
        return Ok(ahead);
    }
    let failing = Failing {
        operation: "GetCallerIdentity",
        target,
        secrets: &[],
    };
    Err(match answer {
        Err(e) => failing.error(e),
        Ok(_) => Error::StsUnreachable {
            endpoint: target.endpoint_id(),
            what: "the answer had no Date header".into(),
        },
    })
}

/// The IAM user name of the long-term key's owner (`None` for the account's root user), from
/// `GetCallerIdentity`, which any key may call.
pub fn caller_user_name(target: &StsTarget, key: &LongTermKey) -> Result<Option<String>> {
    let runtime = runtime()?;
    let credentials = signed_with(key);
    let client = client(target, credentials, ServerClock::default())?;
    let failing = Failing {
        operation: "GetCallerIdentity",
        target,
        secrets: &[
            key.access_key_id.expose_secret(),
            key.secret_access_key.expose_secret(),
        ],
    };
    let out = runtime
        .block_on(client.get_caller_identity().send())
        .map_err(|e| failing.error(e))?;
    let arn = out.arn().unwrap_or_default();
    let resource = arn.splitn(6, ':').nth(5).unwrap_or_default();
    match resource {
        "root" => Ok(None),
        r if r.starts_with("user/") => Ok(r.rsplit('/').next().map(str::to_owned)),
        _ => Err(Error::NotAnIamUser {
            arn: arn.to_owned(),
        }),
    }
}

fn on_runtime<F, Fut>(target: &StsTarget, credentials: Credentials, call: F) -> Result<Fetched>
where
    F: FnOnce(Client) -> Fut,
    Fut: Future<Output = Result<SessionCredentials>>,
{
    let runtime = runtime()?;
    let server_clock = ServerClock::default();
    let client = client(target, credentials, server_clock.clone())?;
    let answer = runtime.block_on(call(client));
    let skew = server_clock.reportable_skew();
    match (answer, skew) {
        (Ok(creds), clock_skew) => Ok(Fetched { creds, clock_skew }),
        (
            Err(Error::Sts {
                operation,
                endpoint,
                code,
                message,
                ..
            }),
            Some(s),
        ) if blames_clock(&code, &message) => Err(Error::ClockSkew {
            operation,
            endpoint,
            code,
            skew: skew::describe(s),
        }),
        (Err(e), _) => Err(e),
    }
}

/// Errors that a wrong clock causes: a signature outside its time window, or a TOTP code from
/// the wrong 30 seconds.
fn blames_clock(code: &str, message: &str) -> bool {
    matches!(
        code,
        "SignatureDoesNotMatch" | "RequestExpired" | "InvalidSignatureException"
    ) || (code == "AccessDenied" && message.contains("MultiFactorAuthentication"))
}

/// A client for the target. Its endpoint is resolved first by the SDK's own rules, so a region,
/// FIPS or dual-stack setting that has no endpoint fails here in one line rather than as an
/// opaque failure to build the request.
fn client(
    target: &StsTarget,
    credentials: Credentials,
    server_clock: ServerClock,
) -> Result<Client> {
    target.resolve().map_err(|why| Error::StsEndpoint {
        region: target.region.clone(),
        why,
    })?;
    let mut config = aws_sdk_sts::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(target.region.clone()))
        .use_fips(target.use_fips)
        .use_dual_stack(target.use_dual_stack)
        .credentials_provider(credentials)
        .interceptor(server_clock)
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
        .timeout_config({
            let t = Timeouts::of(target);
            TimeoutConfig::builder()
                .connect_timeout(t.connect)
                .read_timeout(t.attempt)
                .operation_attempt_timeout(t.attempt)
                .operation_timeout(t.total)
                .build()
        });
    if let Some(url) = &target.endpoint_url {
        config = config.endpoint_url(url);
    }
    Ok(Client::from_conf(config.build()))
}

/// One `GetSessionToken` on `client`, with STS errors mapped to what the user should do.
///
/// A code may be spent only once: STS refuses it the second time, and a retried request whose
/// first copy STS did accept (the answer lost to a timeout, a 5xx after the session was issued)
/// would lose that session and fail as a reused code. So the SDK's own retries are off for this
/// call, and it is sent again only when STS certainly issued nothing: the connection was never
/// made, or STS answered that it is throttling.
pub async fn call(client: &Client, req: &Request<'_>) -> Result<SessionCredentials> {
    let duration = i32::try_from(req.duration_seconds).expect("validated to at most 129600");
    let failing = Failing {
        operation: "GetSessionToken",
        target: req.target,
        secrets: &[
            req.key.access_key_id.expose_secret(),
            req.key.secret_access_key.expose_secret(),
            req.code.expose(),
        ],
    };
    // All attempts together stay within the bound the README promises (twice one attempt).
    let total = Timeouts::of(req.target).total;
    let attempts = async {
        let mut attempt = 1;
        loop {
            let answer = client
                .get_session_token()
                .serial_number(req.serial)
                .token_code(req.code.expose())
                .duration_seconds(duration)
                .customize()
                .config_override(
                    aws_sdk_sts::Config::builder()
                        .retry_config(RetryConfig::standard().with_max_attempts(1)),
                )
                .send()
                .await;
            match answer {
                Ok(out) => return credentials(out.credentials(), &failing),
                Err(e) if attempt < MAX_ATTEMPTS && issued_nothing(&e) => {
                    tokio::time::sleep(Duration::from_millis(250 << attempt)).await;
                    attempt += 1;
                }
                Err(e) => return Err(failing.error(e)),
            }
        }
    };
    tokio::time::timeout(total, attempts)
        .await
        .unwrap_or_else(|_| {
            Err(Error::StsUnreachable {
                endpoint: req.target.endpoint_id(),
                what: format!(
                    "no answer within {} s (mfa_env_sts_timeout_seconds = {})",
                    total.as_secs(),
                    req.target.timeout_seconds
                ),
            })
        })
}

/// Whether a failed call certainly made STS issue nothing, so that what it carried (a one-time
/// code) may be sent again.
fn issued_nothing<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    match e {
        SdkError::ServiceError(se) => matches!(
            se.err().code(),
            Some("Throttling" | "ThrottlingException" | "RequestLimitExceeded")
        ),
        SdkError::DispatchFailure(f) => f.as_connector_error().is_some_and(|c| never_connected(c)),
        _ => false,
    }
}

/// A connector failure before any byte of the request could be sent: the name did not resolve,
/// the connection was refused or unreachable, or connecting timed out.
fn never_connected(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cur = Some(e);
    while let Some(err) = cur {
        let connect = err
            .downcast_ref::<hyper_util::client::legacy::Error>()
            .is_some_and(|h| h.is_connect());
        if connect
            || err.downcast_ref::<ResolveDnsError>().is_some()
            || err.to_string().starts_with("HTTP connect timeout")
        {
            return true;
        }
        cur = err.source();
    }
    false
}

/// One `AssumeRole` on `client`, with STS errors mapped to what the user should do.
pub async fn call_assume(client: &Client, req: &AssumeRequest<'_>) -> Result<SessionCredentials> {
    let duration = i32::try_from(req.duration_seconds).expect("validated to at most 43200");
    let answer = client
        .assume_role()
        .role_arn(req.role_arn)
        .role_session_name(req.session_name)
        .set_external_id(req.external_id.map(str::to_owned))
        .duration_seconds(duration)
        .send()
        .await;
    let failing = Failing {
        operation: "AssumeRole",
        target: req.target,
        secrets: &[
            req.with.access_key_id.expose_secret(),
            req.with.secret_access_key.expose_secret(),
            req.with.session_token.expose_secret(),
        ],
    };
    match answer {
        Ok(out) => credentials(out.credentials(), &failing),
        Err(e) => Err(failing.error(e)),
    }
}

fn credentials(
    c: Option<&aws_sdk_sts::types::Credentials>,
    failing: &Failing<'_>,
) -> Result<SessionCredentials> {
    let none = || Error::StsNoCredentials {
        endpoint: failing.target.endpoint_id(),
    };
    let c = c.ok_or_else(none)?;
    let expiration = DateTime::from_timestamp(c.expiration().secs(), 0).ok_or_else(none)?;
    Ok(SessionCredentials {
        access_key_id: c.access_key_id().into(),
        secret_access_key: c.secret_access_key().into(),
        session_token: c.session_token().into(),
        expiration,
    })
}

/// The context an STS failure is explained in: which call, where, and the values we sent that
/// an error message must never echo.
struct Failing<'a> {
    operation: &'static str,
    target: &'a StsTarget,
    secrets: &'a [&'a str],
}

impl Failing<'_> {
    fn error<E, R>(&self, e: SdkError<E, R>) -> Error
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        let endpoint = self.target.endpoint_id();
        let unreachable = |what: String| Error::StsUnreachable {
            endpoint: endpoint.clone(),
            what,
        };
        let timeouts = Timeouts::of(self.target);
        match e {
            SdkError::ServiceError(se) => {
                let err = se.err();
                let code = err.code().unwrap_or("Unknown").to_owned();
                let message = err.message().unwrap_or("no message").to_owned();
                Error::Sts {
                    operation: self.operation,
                    endpoint: endpoint.clone(),
                    hint: hint(self.operation, &code, &message),
                    message: scrub(&message, self.secrets),
                    code,
                }
            }
            SdkError::TimeoutError(_) => unreachable(format!(
                "no answer within {} s (mfa_env_sts_timeout_seconds = {})",
                timeouts.total.as_secs(),
                self.target.timeout_seconds
            )),
            // Which of the two fires first for a silent endpoint is a race: both name the setting.
            SdkError::DispatchFailure(f) if f.is_timeout() => unreachable(format!(
                "timed out (connect {} s, answer {} s: mfa_env_sts_timeout_seconds = {})",
                timeouts.connect.as_secs(),
                self.target.timeout_seconds,
                self.target.timeout_seconds
            )),
            SdkError::DispatchFailure(f) if f.is_io() => {
                unreachable("connection failed".to_owned())
            }
            SdkError::DispatchFailure(_) => unreachable("the request could not be sent".to_owned()),
            SdkError::ResponseError(_) => unreachable("the answer could not be read".to_owned()),
            other => unreachable(format!(
                "the request could not be built ({})",
                kind_name(&other)
            )),
        }
    }
}

fn kind_name<E, R>(e: &SdkError<E, R>) -> &'static str {
    match e {
        SdkError::ConstructionFailure(_) => "construction failure",
        _ => "unexpected failure",
    }
}

/// What to do about the STS error codes a user can meet here.
fn hint(operation: &str, code: &str, message: &str) -> &'static str {
    if operation == "AssumeRole" {
        match code {
            "AccessDenied" => {
                return "; the role's trust policy must let your IAM user call sts:AssumeRole (with aws:MultiFactorAuthPresent, if it asks for MFA), and external_id must be the one it expects";
            }
            "ValidationError" => {
                return "; check role_arn, role_session_name, external_id, and duration_seconds against the role's MaxSessionDuration";
            }
            "ExpiredToken" => {
                return "; the session it was assumed with expired: run `mfa-env clear` for the source profile and try again";
            }
            _ => {}
        }
    }
    if operation == "GetSessionToken" && matches!(code, "InternalFailure" | "ServiceUnavailable") {
        return "; STS failed on its side, and may have taken the code: try again shortly with the next code";
    }
    match code {
        "AccessDenied"
            if message.contains("MultiFactorAuthentication") || message.contains("MFA") =>
        {
            "; check the code, and that mfa_serial is this user's MFA device"
        }
        "AccessDenied" => "; the long-term key's user may not call sts:GetSessionToken",
        "InvalidClientTokenId" => {
            "; the long-term access key is not valid here: deleted or deactivated (store the current one with `mfa-env add`, or in mfa_env_source_profile's profile), or of an account in another partition (China, GovCloud: set region to one of its regions)"
        }
        "SignatureDoesNotMatch" => {
            "; the secret access key does not match the key id, or this machine's clock is wrong: store the pair again with `mfa-env add`"
        }
        "ExpiredToken" => {
            "; the key used is an expired temporary key: use the IAM user's long-term key"
        }
        "RequestExpired" => "; this machine's clock is off: correct it and try again",
        "Throttling" | "ThrottlingException" => {
            "; STS is throttling requests: wait a little and try again"
        }
        "InternalFailure" | "ServiceUnavailable" => "; STS failed on its side: try again shortly",
        "RegionDisabledException" => {
            "; STS is not enabled in this region: set `region` to an enabled one"
        }
        "ValidationError" => "; check mfa_serial and duration_seconds",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sts::operation::get_session_token::{GetSessionTokenError, GetSessionTokenOutput};
    use aws_sdk_sts::types::Credentials as StsCredentials;
    use aws_smithy_mocks::{mock, mock_client};
    use aws_smithy_types::error::ErrorMetadata;

    fn run(client: &Client) -> Result<SessionCredentials> {
        let target = StsTarget {
            region: "us-east-1".into(),
            region_configured: false,
            endpoint_url: None,
            use_fips: false,
            use_dual_stack: false,
            timeout_seconds: 10,
        };
        let key = LongTermKey {
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
        };
        let code = TokenCode::parse("123456", "test").unwrap();
        let req = Request {
            target: &target,
            serial: "arn:aws:iam::123456789012:mfa/alice",
            duration_seconds: 43200,
            key: &key,
            code: &code,
        };
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(call(client, &req))
    }

    fn sts_error(code: &'static str, message: &'static str) -> GetSessionTokenError {
        GetSessionTokenError::generic(ErrorMetadata::builder().code(code).message(message).build())
    }

    #[test]
    fn answer_becomes_session_credentials_with_the_request_we_meant() {
        let rule = mock!(Client::get_session_token)
            .match_requests(|r| {
                r.serial_number() == Some("arn:aws:iam::123456789012:mfa/alice")
                    && r.token_code() == Some("123456")
                    && r.duration_seconds() == Some(43200)
            })
            .then_output(|| {
                GetSessionTokenOutput::builder()
                    .credentials(
                        StsCredentials::builder()
                            .access_key_id("ASIATEMP")
                            .secret_access_key("tempsecret")
                            .session_token("temptoken")
                            .expiration(aws_smithy_types::DateTime::from_secs(1_900_000_000))
                            .build()
                            .unwrap(),
                    )
                    .build()
            });
        let client = mock_client!(aws_sdk_sts, [&rule]);
        let creds = run(&client).unwrap();
        assert_eq!(creds.access_key_id.expose_secret(), "ASIATEMP");
        assert_eq!(creds.session_token.expose_secret(), "temptoken");
        assert_eq!(creds.expiration.timestamp(), 1_900_000_000);
    }

    #[test]
    fn sts_errors_keep_their_code_and_say_what_to_do() {
        let cases = [
            (
                "AccessDenied",
                "MultiFactorAuthentication failed with invalid MFA one time pass code.",
                "check the code",
            ),
            (
                "ExpiredToken",
                "The security token included in the request is expired",
                "expired temporary key",
            ),
            (
                "InvalidClientTokenId",
                "The security token included in the request is invalid.",
                "mfa-env add",
            ),
            ("Throttling", "Rate exceeded", "wait a little"),
        ];
        for (code, message, hint) in cases {
            // Throttling is tried again (STS issued nothing); the rest are answered once.
            let rule = mock!(Client::get_session_token)
                .sequence()
                .error(move || sts_error(code, message))
                .repeatedly()
                .build();
            let client = mock_client!(aws_sdk_sts, [&rule]);
            let e = run(&client).unwrap_err().to_string();
            let tries = if code == "Throttling" {
                MAX_ATTEMPTS
            } else {
                1
            };
            assert_eq!(rule.num_calls(), tries as usize, "{code}");
            assert!(e.contains(&format!("{code}: {message}")), "{e}");
            assert!(e.contains(hint), "{e}");
        }
    }

    #[test]
    fn messages_that_echo_a_secret_are_scrubbed() {
        let rule = mock!(Client::get_session_token).then_error(|| {
            sts_error(
                "AccessDenied",
                "key AKIAIOSFODNN7EXAMPLE with code 123456 denied",
            )
        });
        let client = mock_client!(aws_sdk_sts, [&rule]);
        let e = run(&client).unwrap_err().to_string();
        assert!(
            !e.contains("AKIAIOSFODNN7EXAMPLE") && !e.contains("123456"),
            "{e}"
        );
        assert!(e.contains("AccessDenied"), "{e}");
    }

    #[test]
    fn an_answer_without_credentials_is_an_error() {
        let rule = mock!(Client::get_session_token)
            .then_output(|| GetSessionTokenOutput::builder().build());
        let client = mock_client!(aws_sdk_sts, [&rule]);
        assert!(matches!(run(&client), Err(Error::StsNoCredentials { .. })));
    }
}
