//! Console sign-in: AWS's federation endpoint turns a role session into a sign-in URL.
//! `getSigninToken` takes the role's temporary credentials and answers a token; the `login` URL
//! carries that token and the console page to land on. AWS accepts only role (or federation
//! token) credentials there, so an MFA session alone cannot sign in: the command layer refuses
//! such a profile before any call.
//!
//! A role session assumed with a `GetSessionToken` session is a chained one: AWS limits it, and
//! the console session made from it, to one hour, and the federation endpoint refuses a
//! `SessionDuration` for it. So none is sent: the console session lasts what AWS allows.
//!
//! The URL is a credential for its lifetime (15 minutes, the token's): whoever holds it gets
//! the console as the role. It is kept in memory that is wiped, and never logged.

use std::time::Duration;

use http_body_util::{BodyExt, Empty};
use secrecy::ExposeSecret;
use url::Url;
use zeroize::Zeroizing;

use crate::aws::partition::Partition;
use crate::error::{Error, Result};
use crate::secret::SessionCredentials;

/// Where a partition's console and its sign-in live, as AWS documents them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hosts {
    pub signin: &'static str,
    pub console: &'static str,
}

/// The partitions with a documented sign-in host; the others cannot be signed into here.
const HOSTS: &[(&str, Hosts)] = &[
    (
        "aws",
        Hosts {
            signin: "signin.aws.amazon.com",
            console: "console.aws.amazon.com",
        },
    ),
    (
        "aws-cn",
        Hosts {
            signin: "signin.amazonaws.cn",
            console: "console.amazonaws.cn",
        },
    ),
    (
        "aws-us-gov",
        Hosts {
            signin: "signin.amazonaws-us-gov.com",
            console: "console.amazonaws-us-gov.com",
        },
    ),
];

/// The issuer named in the login URL: where AWS sends a user whose console session expired.
const ISSUER: &str = "mfa-env";

/// The sign-in and console hosts of `partition`, or the error that says it has none.
pub fn hosts(partition: &Partition) -> Result<Hosts> {
    HOSTS
        .iter()
        .find(|(id, _)| *id == partition.id)
        .map(|(_, h)| *h)
        .ok_or_else(|| Error::ConsoleUnsupportedPartition {
            partition: partition.id,
            known: HOSTS
                .iter()
                .map(|(id, _)| *id)
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// Which console page to land on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Page {
    /// The console home of the region.
    Home,
    /// A service's home in the region (`ec2`, `s3`, `cloudwatch`, …).
    Service(String),
    /// A console URL of the partition, as given.
    Url(String),
}

/// The console URL to land on, in `region` of the partition whose console is `hosts.console`.
pub fn destination(hosts: Hosts, region: &str, page: &Page) -> Result<String> {
    let bad = |why: String| Error::ConsoleDestination { why };
    // The global console host redirects to the region's; aws has region-prefixed hosts.
    let host = if hosts.console == "console.aws.amazon.com" {
        format!("{region}.{}", hosts.console)
    } else {
        hosts.console.to_owned()
    };
    match page {
        Page::Home => Ok(format!("https://{host}/console/home?region={region}")),
        Page::Service(service) => {
            let ok = !service.is_empty()
                && service
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !ok {
                return Err(bad(format!(
                    "--service {service:?} is not a service's name in console URLs, such as ec2, s3 or cloudwatch"
                )));
            }
            Ok(format!("https://{host}/{service}/home?region={region}"))
        }
        Page::Url(url) => {
            let parsed =
                Url::parse(url).map_err(|e| bad(format!("--destination is not a URL ({e})")))?;
            let on_console = parsed
                .host_str()
                .is_some_and(|h| h == hosts.console || h.ends_with(&format!(".{}", hosts.console)));
            if parsed.scheme() != "https" || !on_console {
                return Err(bad(format!(
                    "--destination must be an https:// URL of the console ({} or a host under it)",
                    hosts.console
                )));
            }
            Ok(parsed.into())
        }
    }
}

/// Asks the federation endpoint for a sign-in token for `creds` (a role session) and returns
/// the login URL that lands on `destination`. One HTTPS request, within `timeout`.
pub fn signin_url(
    hosts: Hosts,
    profile: &str,
    creds: &SessionCredentials,
    destination: &str,
    timeout: Duration,
) -> Result<Zeroizing<String>> {
    let session = Zeroizing::new(
        serde_json::json!({
            "sessionId": creds.access_key_id.expose_secret(),
            "sessionKey": creds.secret_access_key.expose_secret(),
            "sessionToken": creds.session_token.expose_secret(),
        })
        .to_string(),
    );
    let query = Zeroizing::new(
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("Action", "getSigninToken")
            .append_pair("Session", &session)
            .finish(),
    );
    let request_url = Zeroizing::new(format!("https://{}/federation?{}", hosts.signin, *query));
    let endpoint = format!("https://{}/federation", hosts.signin);
    let (status, body) = get(&request_url, timeout).map_err(|what| Error::ConsoleUnreachable {
        endpoint: endpoint.clone(),
        what,
    })?;
    let token = signin_token(status, &body, profile).map_err(|why| Error::ConsoleRefused {
        endpoint: endpoint.clone(),
        why,
    })?;
    let login = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("Action", "login")
        .append_pair("Issuer", ISSUER)
        .append_pair("Destination", destination)
        .append_pair("SigninToken", &token)
        .finish();
    Ok(Zeroizing::new(format!(
        "https://{}/federation?{login}",
        hosts.signin
    )))
}

/// The token in the endpoint's answer, or why there is none. Nothing of a refusal's body is
/// quoted: it may echo the request.
fn signin_token(
    status: u16,
    body: &[u8],
    profile: &str,
) -> std::result::Result<Zeroizing<String>, String> {
    if status != 200 {
        return Err(match status {
            400 | 401 | 403 => format!(
                "the role session (HTTP {status}): it may have expired (`mfa-env clear -p {profile}` drops it; the next run assumes the role again), or the role may not allow console sign-in"
            ),
            _ => format!("the request (HTTP {status}); try again shortly"),
        });
    }
    #[derive(serde::Deserialize)]
    struct Answer {
        #[serde(rename = "SigninToken")]
        signin_token: Option<secrecy::SecretString>,
    }
    serde_json::from_slice::<Answer>(body)
        .ok()
        .and_then(|a| a.signin_token)
        .map(|t| Zeroizing::new(t.expose_secret().to_owned()))
        .filter(|t| !t.is_empty())
        .ok_or_else(|| "to answer with a SigninToken (the answer had none)".to_owned())
}

/// One GET over HTTPS with the system's trust roots (and `SSL_CERT_FILE`), as the SDK's own
/// client trusts them. Returns the status and the body (at most 64 KiB).
fn get(url: &str, timeout: Duration) -> std::result::Result<(u16, Zeroizing<Vec<u8>>), String> {
    let runtime = crate::aws::sts::runtime().map_err(|e| e.to_string())?;
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(provider)
        .map_err(|e| format!("no trust roots: {e}"))?
        .https_only()
        .enable_http1()
        .build();
    let client: hyper_util::client::legacy::Client<_, Empty<bytes::Bytes>> =
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .build(https);
    let uri: hyper::Uri = url.parse().map_err(|_| "the URL is not valid".to_owned())?;
    runtime.block_on(async {
        let answer = tokio::time::timeout(timeout, async {
            let response = client.get(uri).await.map_err(|e| describe(&e))?;
            let status = response.status().as_u16();
            let body = http_body_util::Limited::new(response.into_body(), 64 * 1024)
                .collect()
                .await
                .map_err(|_| "the answer could not be read".to_owned())?
                .to_bytes();
            Ok::<_, String>((status, Zeroizing::new(body.to_vec())))
        })
        .await;
        answer.unwrap_or_else(|_| Err(format!("no answer within {} s", timeout.as_secs())))
    })
}

/// A connection failure in a few words, without the URL (which holds the session).
fn describe(e: &hyper_util::client::legacy::Error) -> String {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    let mut last = None;
    while let Some(c) = cause {
        last = Some(c.to_string());
        cause = c.source();
    }
    match last {
        Some(why) if e.is_connect() => format!("connection failed ({why})"),
        Some(why) => format!("the request failed ({why})"),
        None => "the request failed".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::partition;

    fn aws() -> Hosts {
        hosts(partition::named("aws").unwrap()).unwrap()
    }

    #[test]
    fn each_documented_partition_has_its_hosts_and_the_rest_are_refused() {
        let cn = hosts(partition::named("aws-cn").unwrap()).unwrap();
        assert_eq!(cn.signin, "signin.amazonaws.cn");
        let gov = hosts(partition::named("aws-us-gov").unwrap()).unwrap();
        assert_eq!(gov.signin, "signin.amazonaws-us-gov.com");
        let e = hosts(partition::named("aws-iso").unwrap())
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("partition aws-iso has no documented console sign-in"),
            "{e}"
        );
        assert!(hosts(partition::named("aws-eusc").unwrap()).is_err());
    }

    #[test]
    fn destinations_by_region_service_or_url() {
        assert_eq!(
            destination(aws(), "eu-west-1", &Page::Home).unwrap(),
            "https://eu-west-1.console.aws.amazon.com/console/home?region=eu-west-1"
        );
        assert_eq!(
            destination(aws(), "eu-west-1", &Page::Service("ec2".into())).unwrap(),
            "https://eu-west-1.console.aws.amazon.com/ec2/home?region=eu-west-1"
        );
        let cn = hosts(partition::named("aws-cn").unwrap()).unwrap();
        assert_eq!(
            destination(cn, "cn-north-1", &Page::Home).unwrap(),
            "https://console.amazonaws.cn/console/home?region=cn-north-1"
        );
        let url = "https://us-east-1.console.aws.amazon.com/s3/buckets?region=us-east-1";
        assert_eq!(
            destination(aws(), "eu-west-1", &Page::Url(url.into())).unwrap(),
            url
        );
        for bad in [
            "http://console.aws.amazon.com/",
            "https://console.aws.amazon.com.evil.example/",
            "https://evil.example/?console.aws.amazon.com",
            "https://console.amazonaws.cn/",
            "not a url",
        ] {
            assert!(
                destination(aws(), "eu-west-1", &Page::Url(bad.into())).is_err(),
                "{bad}"
            );
        }
        assert!(destination(aws(), "eu-west-1", &Page::Service("../x".into())).is_err());
    }

    #[test]
    fn the_answer_gives_a_token_or_one_reason_without_echoing_it() {
        let t = signin_token(200, br#"{"SigninToken":"tok-123"}"#, "admin").unwrap();
        assert_eq!(t.as_str(), "tok-123");
        let e = signin_token(400, b"echo of sessionKey=secret", "admin").unwrap_err();
        assert!(
            e.contains("HTTP 400") && e.contains("expired") && e.contains("mfa-env clear -p admin"),
            "{e}"
        );
        assert!(!e.contains("secret"));
        let e = signin_token(200, b"<html>", "admin").unwrap_err();
        assert!(e.contains("SigninToken"), "{e}");
        assert!(
            signin_token(503, b"", "admin")
                .unwrap_err()
                .contains("try again")
        );
    }
}
