//! Secrets Manager as a backend of redline's secret store, through the standard SDK chain
//! (endpoint from `AWS_ENDPOINT_URL_SECRETS_MANAGER` / `AWS_ENDPOINT_URL`, so the emulator needs
//! no switch). Only the functions that read secrets link this crate, and with it the AWS SDK.

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_secretsmanager::Client;
use base64::Engine;
use futures_util::future::BoxFuture;
use redline_core::config::{Secret, SecretValue, SecretsConfig};
use redline_core::secrets::{Backend, Fetched, Reach, SecretsError};
use std::collections::HashMap;
use std::time::Duration;

/// BatchGetSecretValue takes at most this many ids per call.
const BATCH_LIMIT: usize = 20;

/// Secrets Manager as a [`Backend`]: one `BatchGetSecretValue` per 20 ids, with a bounded
/// fallback to `GetSecretValue`.
pub struct SecretsManager(Client);

/// The [`Reach`] of a function that reads secrets: pass it to its start-up.
pub const REACH: Reach = Reach::Aws(connect);

fn connect(config: &SecretsConfig) -> BoxFuture<'static, Box<dyn Backend>> {
    let timeout = config.timeout;
    Box::pin(async move { Box::new(SecretsManager(aws_client(timeout).await)) as Box<dyn Backend> })
}

impl Backend for SecretsManager {
    fn kind(&self) -> &'static str {
        "aws"
    }

    fn fetch<'a>(&'a self, ids: &'a [String]) -> BoxFuture<'a, Fetched> {
        Box::pin(fetch_aws(&self.0, ids))
    }
}

async fn aws_client(timeout: Duration) -> Client {
    // A cold start must fail (or succeed) in seconds: bounded attempts, one retry.
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(timeout.min(Duration::from_secs(1)))
        .operation_attempt_timeout(timeout)
        .operation_timeout(timeout * 2)
        .build();
    let shared = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(timeouts)
        .retry_config(RetryConfig::standard().with_max_attempts(2))
        .load()
        .await;
    Client::new(&shared)
}

async fn fetch_aws(client: &Client, ids: &[String]) -> Fetched {
    let mut values = HashMap::new();
    let mut one_by_one = Vec::new();
    for chunk in ids.chunks(BATCH_LIMIT) {
        let batch = client
            .batch_get_secret_value()
            .set_secret_id_list(Some(chunk.to_vec()))
            .send()
            .await;
        match batch {
            Ok(output) => {
                for entry in output.secret_values() {
                    let requested = chunk.iter().find(|id| {
                        let id = id.as_str();
                        entry.name() == Some(id)
                            || entry.arn() == Some(id)
                            || (id.starts_with("arn:")
                                && entry.arn().is_some_and(|arn| arn.starts_with(id)))
                    });
                    if let Some(id) = requested {
                        let text = text_of(entry.secret_string(), entry.secret_binary());
                        values.insert(id.clone(), value(text, entry.version_id()));
                    }
                }
                // Per-secret errors (or an entry we could not match) are asked again on their
                // own, which gives each its precise error.
                one_by_one.extend(chunk.iter().filter(|id| !values.contains_key(*id)).cloned());
            }
            Err(error) if is_unreachable(&error) => {
                return Err(SecretsError::Unreachable {
                    secret_ids: chunk.join(", "),
                    cause: describe(&error),
                });
            }
            Err(error) => {
                // No BatchGetSecretValue permission, or an endpoint without it: GetSecretValue.
                tracing::info!(
                    errorCode = error.code().unwrap_or("unknown"),
                    "BatchGetSecretValue refused; fetching secrets one by one"
                );
                one_by_one.extend(chunk.iter().cloned());
            }
        }
    }
    let singles = one_by_one.iter().map(|id| async move {
        let result = client.get_secret_value().secret_id(id).send().await;
        (id, result)
    });
    for (id, result) in futures_util::future::join_all(singles).await {
        let output = result.map_err(|error| classify(id, &error))?;
        let text = text_of(output.secret_string(), output.secret_binary());
        values.insert(id.clone(), value(text, output.version_id()));
    }
    Ok(values)
}

fn text_of(
    string: Option<&str>,
    binary: Option<&aws_sdk_secretsmanager::primitives::Blob>,
) -> String {
    match (string, binary) {
        (Some(text), _) => text.to_string(),
        (None, Some(blob)) => base64::engine::general_purpose::STANDARD.encode(blob.as_ref()),
        (None, None) => String::new(),
    }
}

fn value(text: String, version: Option<&str>) -> SecretValue {
    SecretValue {
        text: Secret::new(text),
        version: version.unwrap_or_default().to_string(),
    }
}

fn is_unreachable<E, R>(error: &SdkError<E, R>) -> bool {
    matches!(
        error,
        SdkError::DispatchFailure(_) | SdkError::TimeoutError(_)
    )
}

/// A short cause without the SDK's nested detail (which can be long, never secret).
fn describe<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> String {
    match error {
        SdkError::DispatchFailure(failure) if failure.is_timeout() => "connection timed out".into(),
        SdkError::DispatchFailure(failure) if failure.is_io() => "connection failed".into(),
        SdkError::DispatchFailure(_) => "request could not be sent".into(),
        SdkError::TimeoutError(_) => "timed out".into(),
        SdkError::ServiceError(service) => {
            service.err().code().unwrap_or("service error").to_string()
        }
        _ => "unexpected response".into(),
    }
}

fn classify<E: ProvideErrorMetadata, R>(id: &str, error: &SdkError<E, R>) -> SecretsError {
    let secret_id = id.to_string();
    if is_unreachable(error) {
        return SecretsError::Unreachable {
            secret_ids: secret_id,
            cause: describe(error),
        };
    }
    match error.code() {
        Some("ResourceNotFoundException") => SecretsError::NotFound { secret_id },
        Some("AccessDeniedException") => SecretsError::AccessDenied { secret_id },
        _ => SecretsError::Failed {
            secret_id,
            cause: describe(error),
        },
    }
}
