//! An init failure told to Lambda the way the Runtime API asks (`POST /runtime/init/error`), so
//! the console, CloudWatch and the local runner show why the function could not start. The
//! message names the configuration key or secret id; it never holds a value.

use crate::config::ConfigError;
use crate::secrets::{ResolveError, SecretsError};
use lambda_runtime_api_client::{body::Body, build_request, PooledClient};
use serde_json::json;

/// Why a cold start failed: its configuration, or the secrets it references.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Secrets(#[from] SecretsError),
}

impl From<ResolveError> for InitError {
    fn from(error: ResolveError) -> Self {
        match error {
            ResolveError::Config(error) => InitError::Config(error),
            ResolveError::Secrets(error) => InitError::Secrets(error),
        }
    }
}

impl InitError {
    /// The `errorType` Lambda records for this failure.
    pub fn error_type(&self) -> &'static str {
        match self {
            InitError::Secrets(_) => "Runtime.SecretsUnavailable",
            InitError::Config(_) => "Runtime.ConfigInvalid",
        }
    }
}

/// Prints the failure and, inside Lambda (or the local runner), reports it to the Runtime API.
pub async fn report(error: &InitError) {
    eprintln!("init failed: {error}");
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_none() {
        return;
    }
    let kind = error.error_type();
    let body = json!({
        "errorType": kind,
        "errorMessage": error.to_string(),
        "stackTrace": [],
    });
    let request = build_request()
        .method("POST")
        .uri("/2018-06-01/runtime/init/error")
        .header("Lambda-Runtime-Function-Error-Type", kind)
        .header("Content-Type", "application/json")
        .body(Body::from(body.to_string()));
    let Ok(request) = request else { return };
    let client = PooledClient::builder().build();
    if let Err(failure) = client.call(request).await {
        eprintln!("could not report the init error to the Runtime API: {failure}");
    }
}
