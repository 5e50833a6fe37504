//! The only network call: STS `GetSessionToken`, signed with the long-term key. `call` takes a
//! ready client, which is the seam where unit tests put the SDK's mock client; `fetch` builds
//! the real client and a single-threaded runtime, and only a cache miss ever gets here.

use std::time::Duration;

use aws_credential_types::Credentials;
use aws_sdk_sts::Client;
use aws_sdk_sts::config::{BehaviorVersion, Region};
use aws_sdk_sts::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use chrono::DateTime;
use secrecy::ExposeSecret;

use crate::code::TokenCode;
use crate::config::Settings;
use crate::error::{Error, Result};
use crate::secret::{LongTermKey, SessionCredentials, scrub};
use crate::skew::{self, ServerClock};

/// Throttling and 5xx answers are retried with the SDK's standard backoff, this many tries.
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
    fn of(settings: &Settings) -> Self {
        let attempt = Duration::from_secs(settings.sts_timeout_seconds.into());
        Timeouts {
            connect: attempt.min(Duration::from_secs(3)),
            attempt,
            total: attempt * 2,
        }
    }
}

/// What one `GetSessionToken` needs besides the client.
pub struct Request<'a> {
    pub settings: &'a Settings,
    pub key: &'a LongTermKey,
    pub code: &'a TokenCode,
}

/// A new session, and how far this machine's clock is ahead of STS's when that is worth a
/// warning.
pub struct Fetched {
    pub creds: SessionCredentials,
    pub clock_skew: Option<i64>,
}

/// Calls STS on a fresh current-thread runtime.
pub fn fetch(req: &Request<'_>) -> Result<Fetched> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)?;
    let server_clock = ServerClock::default();
    let client = client(req.settings, req.key, server_clock.clone());
    let answer = runtime.block_on(call(&client, req));
    let skew = server_clock.reportable_skew();
    match (answer, skew) {
        (Ok(creds), clock_skew) => Ok(Fetched { creds, clock_skew }),
        (
            Err(Error::Sts {
                endpoint,
                code,
                message,
                ..
            }),
            Some(s),
        ) if blames_clock(&code, &message) => Err(Error::ClockSkew {
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

fn client(settings: &Settings, key: &LongTermKey, server_clock: ServerClock) -> Client {
    let credentials = Credentials::new(
        key.access_key_id.expose_secret(),
        key.secret_access_key.expose_secret(),
        None,
        None,
        "mfa-env",
    );
    let mut config = aws_sdk_sts::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(settings.region.clone()))
        .credentials_provider(credentials)
        .interceptor(server_clock)
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
        .timeout_config({
            let t = Timeouts::of(settings);
            TimeoutConfig::builder()
                .connect_timeout(t.connect)
                .read_timeout(t.attempt)
                .operation_attempt_timeout(t.attempt)
                .operation_timeout(t.total)
                .build()
        });
    if let Some(url) = &settings.endpoint_url {
        config = config.endpoint_url(url);
    }
    Client::from_conf(config.build())
}

/// One `GetSessionToken` on `client`, with STS errors mapped to what the user should do.
pub async fn call(client: &Client, req: &Request<'_>) -> Result<SessionCredentials> {
    let endpoint = req.settings.endpoint_id();
    let duration =
        i32::try_from(req.settings.duration_seconds).expect("validated to at most 129600");
    let answer = client
        .get_session_token()
        .serial_number(req.settings.serial.as_str())
        .token_code(req.code.expose())
        .duration_seconds(duration)
        .send()
        .await;
    let out = match answer {
        Ok(out) => out,
        Err(e) => return Err(map_error(e, &endpoint, req)),
    };
    let c = out.credentials().ok_or(Error::StsNoCredentials {
        endpoint: endpoint.clone(),
    })?;
    let expiration = DateTime::from_timestamp(c.expiration().secs(), 0)
        .ok_or(Error::StsNoCredentials { endpoint })?;
    Ok(SessionCredentials {
        access_key_id: c.access_key_id().into(),
        secret_access_key: c.secret_access_key().into(),
        session_token: c.session_token().into(),
        expiration,
    })
}

fn map_error<E, R>(e: SdkError<E, R>, endpoint: &str, req: &Request<'_>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let unreachable = |what: String| Error::StsUnreachable {
        endpoint: endpoint.to_owned(),
        what,
    };
    match e {
        SdkError::ServiceError(se) => {
            let err = se.err();
            let code = err.code().unwrap_or("Unknown").to_owned();
            let message = err.message().unwrap_or("no message").to_owned();
            let secrets = [
                req.key.access_key_id.expose_secret(),
                req.key.secret_access_key.expose_secret(),
                req.code.expose(),
            ];
            Error::Sts {
                endpoint: endpoint.to_owned(),
                hint: hint(&code, &message),
                message: scrub(&message, &secrets),
                code,
            }
        }
        SdkError::TimeoutError(_) => unreachable(format!(
            "no answer within {} s (mfa_env_sts_timeout_seconds = {})",
            Timeouts::of(req.settings).total.as_secs(),
            req.settings.sts_timeout_seconds
        )),
        SdkError::DispatchFailure(f) if f.is_timeout() => unreachable(format!(
            "timed out (connect {} s, answer {} s)",
            Timeouts::of(req.settings).connect.as_secs(),
            req.settings.sts_timeout_seconds
        )),
        SdkError::DispatchFailure(f) if f.is_io() => unreachable("connection failed".to_owned()),
        SdkError::DispatchFailure(_) => unreachable("the request could not be sent".to_owned()),
        SdkError::ResponseError(_) => unreachable("the answer could not be read".to_owned()),
        other => unreachable(format!(
            "the request could not be built ({})",
            kind_name(&other)
        )),
    }
}

fn kind_name<E, R>(e: &SdkError<E, R>) -> &'static str {
    match e {
        SdkError::ConstructionFailure(_) => "construction failure",
        _ => "unexpected failure",
    }
}

/// What to do about the STS error codes a user can meet here.
fn hint(code: &str, message: &str) -> &'static str {
    match code {
        "AccessDenied"
            if message.contains("MultiFactorAuthentication") || message.contains("MFA") =>
        {
            "; check the code, and that mfa_serial is this user's MFA device"
        }
        "AccessDenied" => "; the long-term key's user may not call sts:GetSessionToken",
        "InvalidClientTokenId" => {
            "; the long-term access key is not valid (deleted or deactivated?): store the current one with `mfa-env add`"
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

    fn settings() -> Settings {
        let env = aws_types::os_shim_internal::Env::from_slice(&[("HOME", "/h")]);
        let fs = aws_types::os_shim_internal::Fs::from_slice(&[(
            "/h/.aws/config",
            "[profile dev]\nmfa_serial = arn:aws:iam::123456789012:mfa/alice\n",
        )]);
        crate::config::load_from(&env, &fs, "dev").unwrap()
    }

    fn run(client: &Client) -> Result<SessionCredentials> {
        let settings = settings();
        let key = LongTermKey {
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
        };
        let code = TokenCode::parse("123456", "test").unwrap();
        let req = Request {
            settings: &settings,
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
            let rule =
                mock!(Client::get_session_token).then_error(move || sts_error(code, message));
            let client = mock_client!(aws_sdk_sts, [&rule]);
            let e = run(&client).unwrap_err().to_string();
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
