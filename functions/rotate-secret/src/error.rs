//! Errors of a rotation step. Messages name the secret and the step, never a secret value: they
//! end up in CloudWatch and in the Secrets Manager console.

use crate::event::Step;
use lambda_runtime::Diagnostic;

/// What Lambda reports for a failed invocation: the step, the secret and the cause.
#[derive(Debug, thiserror::Error)]
#[error("{step} of secret {secret_id} failed: {failure}")]
pub struct StepError {
    pub step: Step,
    pub secret_id: String,
    #[source]
    pub failure: Failure,
}

#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The token is unknown, or a version that is neither AWSPENDING nor AWSCURRENT.
    #[error("version {token} is not pending for rotation")]
    NotPending { token: String },
    #[error("Secrets Manager {operation} on {secret_id} failed: {cause}")]
    SecretsManager {
        operation: &'static str,
        secret_id: String,
        cause: String,
    },
    #[error("the {version} version of {secret_id} has no string value")]
    NoValue { version: String, secret_id: String },
    /// The value's JSON does not fit a supported kind; the reason never quotes the value.
    #[error("the {version} value is not a supported secret: {reason}")]
    Shape { version: String, reason: String },
    #[error("signing keys: {0}")]
    Keys(String),
    #[error("database: {0}")]
    Database(String),
    /// The pending value does not work (testSecret).
    #[error("the pending value does not work: {0}")]
    Test(String),
    #[error("configuration: {0}")]
    Config(String),
}

impl Failure {
    pub fn shape(version: impl Into<String>, reason: impl Into<String>) -> Self {
        Failure::Shape {
            version: version.into(),
            reason: reason.into(),
        }
    }

    /// A short, stable name for Lambda's `errorType`.
    pub fn kind(&self) -> &'static str {
        match self {
            Failure::NotPending { .. } => "NotPending",
            Failure::SecretsManager { .. } => "SecretsManager",
            Failure::NoValue { .. } => "NoValue",
            Failure::Shape { .. } => "UnsupportedSecret",
            Failure::Keys(_) => "SigningKeys",
            Failure::Database(_) => "Database",
            Failure::Test(_) => "TestFailed",
            Failure::Config(_) => "Configuration",
        }
    }
}

impl From<redline_stores::DbError> for Failure {
    fn from(error: redline_stores::DbError) -> Self {
        Failure::Database(error.to_string())
    }
}

impl From<redline_core::config::ConfigError> for Failure {
    fn from(error: redline_core::config::ConfigError) -> Self {
        Failure::Config(error.to_string())
    }
}

impl From<StepError> for Diagnostic {
    fn from(error: StepError) -> Self {
        Diagnostic {
            error_type: format!("Rotation.{}", error.failure.kind()),
            error_message: error.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_names_step_secret_and_cause() {
        let error = StepError {
            step: Step::Set,
            secret_id: "arn:aws:secretsmanager:us-east-1:1:secret:db".into(),
            failure: Failure::NotPending { token: "t1".into() },
        };
        let diagnostic = Diagnostic::from(error);
        assert_eq!(diagnostic.error_type, "Rotation.NotPending");
        assert_eq!(
            diagnostic.error_message,
            "setSecret of secret arn:aws:secretsmanager:us-east-1:1:secret:db failed: \
             version t1 is not pending for rotation"
        );
    }
}
