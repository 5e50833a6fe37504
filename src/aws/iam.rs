//! The user's MFA devices, for `mfa-env setup`: who the long-term key belongs to (STS
//! `GetCallerIdentity`, which no policy can deny), then IAM `ListMFADevices` for that user,
//! which the usual MFA policy allows without MFA so that users can manage their own device.

use aws_sdk_iam::config::{BehaviorVersion, Region};
use aws_sdk_iam::error::{ProvideErrorMetadata, SdkError};
use secrecy::ExposeSecret;

use crate::aws::target::Endpoints;
use crate::error::{Error, Result};
use crate::secret::{LongTermKey, scrub};

/// The serial numbers of the key's user's MFA devices.
pub fn mfa_devices(key: &LongTermKey, at: &Endpoints) -> Result<Vec<String>> {
    let runtime = crate::aws::sts::runtime()?;
    let user = crate::aws::sts::caller_user_name(&at.sts, key)?;
    let credentials = crate::aws::sts::signed_with(key);
    let mut config = aws_sdk_iam::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(credentials)
        .timeout_config(
            aws_smithy_types::timeout::TimeoutConfig::builder()
                .connect_timeout(std::time::Duration::from_secs(3))
                .operation_timeout(std::time::Duration::from_secs(
                    at.sts.timeout_seconds.into(),
                ))
                .build(),
        );
    if let Some(url) = &at.iam_endpoint_url {
        config = config.endpoint_url(url);
    }
    let client = aws_sdk_iam::Client::from_conf(config.build());
    let endpoint = at
        .iam_endpoint_url
        .clone()
        .unwrap_or_else(|| "https://iam.amazonaws.com".to_owned());
    let answer = runtime.block_on(client.list_mfa_devices().set_user_name(user).send());
    match answer {
        Ok(out) => Ok(out
            .mfa_devices()
            .iter()
            .map(|d| d.serial_number().to_owned())
            .collect()),
        Err(SdkError::ServiceError(se)) => {
            let e = se.err();
            let secrets = [
                key.access_key_id.expose_secret(),
                key.secret_access_key.expose_secret(),
            ];
            Err(Error::Iam {
                endpoint,
                code: e.code().unwrap_or("Unknown").to_owned(),
                message: scrub(e.message().unwrap_or("no message"), &secrets),
            })
        }
        Err(e) => Err(Error::StsUnreachable {
            what: match e {
                SdkError::TimeoutError(_) => "no answer in time".to_owned(),
                _ => "connection failed".to_owned(),
            },
            endpoint,
        }),
    }
}
