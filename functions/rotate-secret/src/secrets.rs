//! Secrets Manager, as the rotation steps use it. Every call is bounded by a timeout, and values
//! are handed around as [`Secret`]s so they cannot reach a log line by accident.

use crate::error::Failure;
use crate::stages::{VersionStages, CURRENT, PENDING};
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use aws_sdk_secretsmanager::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_secretsmanager::Client;
use redline_core::config::Secret;
use std::time::Duration;

/// A whole call, retries included, must fit well inside the function's timeout.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(8);
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// Which version of a secret to read.
#[derive(Debug, Clone, Copy)]
pub enum Version<'a> {
    /// The version holding a staging label (AWSCURRENT, AWSPREVIOUS).
    Stage(&'static str),
    /// The AWSPENDING version with this id (the rotation token).
    Pending(&'a str),
}

impl Version<'_> {
    fn describe(&self) -> String {
        match self {
            Version::Stage(stage) => (*stage).to_string(),
            Version::Pending(token) => format!("{PENDING} ({token})"),
        }
    }
}

pub struct SecretStore {
    client: Client,
}

impl SecretStore {
    /// The standard SDK chain: region, credentials and endpoint (`AWS_ENDPOINT_URL_SECRETS_MANAGER`
    /// or `AWS_ENDPOINT_URL`) from the environment, as on Lambda.
    pub async fn from_environment() -> Self {
        let shared = aws_config::load_defaults(BehaviorVersion::latest()).await;
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .operation_attempt_timeout(ATTEMPT_TIMEOUT)
            .operation_timeout(OPERATION_TIMEOUT)
            .build();
        let config = aws_sdk_secretsmanager::config::Builder::from(&shared)
            .timeout_config(timeouts)
            .build();
        SecretStore {
            client: Client::from_conf(config),
        }
    }

    /// Every version of the secret and its staging labels.
    pub async fn version_stages(&self, secret_id: &str) -> Result<VersionStages, Failure> {
        let described = self
            .client
            .describe_secret()
            .secret_id(secret_id)
            .send()
            .await
            .map_err(|e| sdk_failure("DescribeSecret", secret_id, e))?;
        Ok(described
            .version_ids_to_stages()
            .cloned()
            .unwrap_or_default())
    }

    /// The string value of one version; `None` when that version has no value (yet) or does
    /// not exist.
    pub async fn value(
        &self,
        secret_id: &str,
        version: Version<'_>,
    ) -> Result<Option<Secret>, Failure> {
        let request = self.client.get_secret_value().secret_id(secret_id);
        let request = match version {
            Version::Stage(stage) => request.version_stage(stage),
            Version::Pending(token) => request.version_id(token).version_stage(PENDING),
        };
        match request.send().await {
            Ok(output) => match output.secret_string() {
                Some(text) => Ok(Some(Secret::new(text))),
                None => Err(Failure::NoValue {
                    version: version.describe(),
                    secret_id: secret_id.to_string(),
                }),
            },
            Err(error) if is_not_found(&error) => Ok(None),
            Err(error) => Err(sdk_failure("GetSecretValue", secret_id, error)),
        }
    }

    /// The value of a version that must have one.
    pub async fn required_value(
        &self,
        secret_id: &str,
        version: Version<'_>,
    ) -> Result<Secret, Failure> {
        self.value(secret_id, version)
            .await?
            .ok_or_else(|| Failure::NoValue {
                version: version.describe(),
                secret_id: secret_id.to_string(),
            })
    }

    /// Stores `value` as version `token` with the given label. The token makes the call
    /// idempotent: repeating it with the same value changes nothing.
    pub async fn put(
        &self,
        secret_id: &str,
        token: &str,
        value: &str,
        stage: &'static str,
    ) -> Result<(), Failure> {
        self.client
            .put_secret_value()
            .secret_id(secret_id)
            .client_request_token(token)
            .secret_string(value)
            .version_stages(stage)
            .send()
            .await
            .map_err(|e| sdk_failure("PutSecretValue", secret_id, e))?;
        Ok(())
    }

    /// Moves AWSCURRENT to `token` (Secrets Manager moves AWSPREVIOUS along).
    pub async fn make_current(
        &self,
        secret_id: &str,
        token: &str,
        from: Option<&str>,
    ) -> Result<(), Failure> {
        self.client
            .update_secret_version_stage()
            .secret_id(secret_id)
            .version_stage(CURRENT)
            .move_to_version_id(token)
            .set_remove_from_version_id(from.map(str::to_string))
            .send()
            .await
            .map_err(|e| sdk_failure("UpdateSecretVersionStage", secret_id, e))?;
        Ok(())
    }
}

fn is_not_found<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    error
        .as_service_error()
        .and_then(ProvideErrorMetadata::code)
        .is_some_and(|code| code == "ResourceNotFoundException")
}

/// The SDK's messages carry codes and the service's text, never the values sent.
fn sdk_failure<E, R>(operation: &'static str, secret_id: &str, error: SdkError<E, R>) -> Failure
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    Failure::SecretsManager {
        operation,
        secret_id: secret_id.to_string(),
        cause: DisplayErrorContext(&error).to_string(),
    }
}
