//! The three clients, built once from the standard AWS configuration (profile, `AWS_*`
//! variables, `AWS_ENDPOINT_URL` and the per-service `AWS_ENDPOINT_URL_<SERVICE>`), and the
//! rules that depend on where they point:
//!
//! - **Against AWS** means Lambda's endpoint is not overridden: the alias is what the commands
//!   move, so its service decides. Then a manual move needs `--force` (drift).
//! - **An emulator** (any overridden endpoint: the runner, moto) may not serve every lookup:
//!   moto has no CloudWatch in the CBOR protocol, the runner may lack a CodeDeploy listing. A
//!   lookup it answers "not found" (HTTP 404) or `UnknownOperationException` counts as empty,
//!   with a note on stderr; anything else (a 500, a refused connection) is an endpoint failure.
//!   Against AWS nothing is ever treated as empty.
//!
//! - **The local runner** (every endpoint on a loopback address) checks no signature: the calls
//!   are signed with placeholder credentials, in a default Region when none is configured, so a
//!   laptop needs no AWS configuration, and an operator's real keys never sign a local call.
//!
//! SDK errors become [`OpsError`]s here, and only here.

use crate::error::OpsError;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_lambda::config::http::HttpResponse;
use aws_sdk_lambda::error::{ProvideErrorMetadata, SdkError};
use aws_types::service_config::ServiceConfigKey;
use std::net::IpAddr;
use std::time::Duration;

/// Where each service's calls go: `None` is AWS.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endpoints {
    pub lambda: Option<String>,
    pub codedeploy: Option<String>,
    pub cloudwatch: Option<String>,
}

impl Endpoints {
    pub fn against_aws(&self) -> bool {
        self.lambda.is_none()
    }

    /// Every service overridden, to a loopback address: the local runner (or an emulator).
    pub fn all_loopback(&self) -> bool {
        [&self.lambda, &self.codedeploy, &self.cloudwatch]
            .iter()
            .all(|e| e.as_deref().is_some_and(is_loopback))
    }
}

/// The configuration for a local endpoint: placeholder credentials, and a Region if none is set.
fn local(sdk: SdkConfig) -> SdkConfig {
    let region = sdk
        .region()
        .cloned()
        .unwrap_or_else(|| aws_types::region::Region::new("us-east-1"));
    sdk.to_builder()
        .credentials_provider(aws_sdk_lambda::config::SharedCredentialsProvider::new(
            aws_sdk_lambda::config::Credentials::new("local", "local", None, None, "redline-local"),
        ))
        .region(region)
        .build()
}

#[derive(Clone)]
pub struct Aws {
    pub lambda: aws_sdk_lambda::Client,
    pub codedeploy: aws_sdk_codedeploy::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub endpoints: Endpoints,
}

impl Aws {
    pub async fn load() -> Aws {
        // Short timeouts: an operator waits on every call, and a dead endpoint must fail fast
        // (exit 3) rather than hang the terminal.
        let sdk = aws_config::defaults(BehaviorVersion::latest())
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(2))
                    .operation_timeout(Duration::from_secs(20))
                    .build(),
            )
            .load()
            .await;
        let endpoints = Endpoints {
            lambda: endpoint(&sdk, "Lambda"),
            codedeploy: endpoint(&sdk, "CodeDeploy"),
            cloudwatch: endpoint(&sdk, "CloudWatch"),
        };
        let sdk = if endpoints.all_loopback() {
            local(sdk)
        } else {
            sdk
        };
        Aws {
            lambda: aws_sdk_lambda::Client::new(&sdk),
            codedeploy: aws_sdk_codedeploy::Client::new(&sdk),
            cloudwatch: aws_sdk_cloudwatch::Client::new(&sdk),
            endpoints,
        }
    }
}

/// A service's endpoint override, resolved as its SDK client resolves it: the service's own
/// variable or profile key first, then the global one.
fn endpoint(sdk: &SdkConfig, service_id: &str) -> Option<String> {
    let key = ServiceConfigKey::builder()
        .service_id(service_id)
        .env("AWS_ENDPOINT_URL")
        .profile("endpoint_url")
        .build()
        .expect("every field is set");
    sdk.service_config()
        .and_then(|config| config.load_config(key))
        .or_else(|| sdk.endpoint_url().map(str::to_string))
}

/// Whether an endpoint URL's host is a loopback address (`127.0.0.0/8`, `::1`, `localhost`).
pub fn is_loopback(url: &str) -> bool {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .unwrap_or(url);
    let authority = rest.split(['/', '?']).next().unwrap_or_default();
    let host = match authority.strip_prefix('[') {
        Some(bracketed) => bracketed.split(']').next().unwrap_or_default(),
        None => authority.split(':').next().unwrap_or_default(),
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.to_canonical().is_loopback())
}

/// Error codes that mean the caller's credentials, not the endpoint, are the problem.
const CREDENTIAL_CODES: [&str; 8] = [
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "ExpiredTokenException",
    "ExpiredToken",
    "InvalidClientTokenId",
    "AccessDeniedException",
    "AccessDenied",
];

/// What an SDK error says, in one line: the service's code and message, or the failure chain
/// (each cause's text once: `dispatch failure: io error: … Connection refused`).
pub fn detail<E>(error: &SdkError<E, HttpResponse>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match (error.code(), error.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_string(),
        _ => {
            let mut parts: Vec<String> = vec![error.to_string()];
            let mut cause = std::error::Error::source(error);
            while let Some(inner) = cause {
                let text = inner.to_string();
                if !parts.iter().any(|p| p.contains(&text)) {
                    parts.push(text);
                }
                cause = inner.source();
            }
            parts.join(": ")
        }
    }
}

/// An SDK error that is not a refusal the command understands: the endpoint or a credential.
pub fn failure<E>(
    service: &'static str,
    call: &'static str,
    error: &SdkError<E, HttpResponse>,
) -> OpsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let detail = detail(error);
    let credentials = error.code().is_some_and(|c| CREDENTIAL_CODES.contains(&c))
        || (error.code().is_none() && detail.contains("credential"));
    if credentials {
        OpsError::Credentials {
            service,
            call,
            detail,
        }
    } else {
        OpsError::Endpoint {
            service,
            call,
            detail,
        }
    }
}

/// Whether the endpoint says it does not serve this call at all.
pub fn not_served<E>(error: &SdkError<E, HttpResponse>) -> bool
where
    E: ProvideErrorMetadata,
{
    let status = error.raw_response().map(|r| r.status().as_u16());
    status == Some(404) || error.code() == Some("UnknownOperationException")
}

/// A lookup's result, with an emulator's "not served" taken as empty (and said on stderr).
pub fn lookup<T, E>(
    endpoint: &Option<String>,
    service: &'static str,
    call: &'static str,
    result: Result<T, SdkError<E, HttpResponse>>,
    empty: impl FnOnce() -> T,
) -> Result<T, OpsError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match result {
        Ok(value) => Ok(value),
        Err(error) => match endpoint {
            Some(url) if not_served(&error) => {
                note_once(format!(
                    "note: {url} does not serve {service} {call}; taken as empty"
                ));
                Ok(empty())
            }
            _ => Err(failure(service, call, &error)),
        },
    }
}

/// Says a note on stderr once per run (status asks each function's alarms).
fn note_once(note: String) {
    static SAID: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    let mut said = SAID.lock().unwrap_or_else(|e| e.into_inner());
    if !said.contains(&note) {
        eprintln!("{note}");
        said.push(note);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_endpoints() {
        for url in [
            "http://127.0.0.1:3001",
            "http://127.0.0.2:3001/",
            "http://localhost:3001",
            "http://[::1]:3001",
            "127.0.0.1:3001",
        ] {
            assert!(is_loopback(url), "{url}");
        }
        for url in [
            "https://lambda.us-east-1.amazonaws.com",
            "http://10.0.0.1:3001",
            "http://[fd00::1]:3001",
            "http://127.0.0.1.example.com",
            "",
        ] {
            assert!(!is_loopback(url), "{url}");
        }
    }

    #[test]
    fn against_aws_is_lambda_without_an_endpoint() {
        assert!(Endpoints::default().against_aws());
        let local = Endpoints {
            lambda: Some("http://127.0.0.1:3001".into()),
            ..Endpoints::default()
        };
        assert!(!local.against_aws());
    }
}
