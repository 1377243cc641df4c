//! Why an invocation failed, and the one mapping from a failure to what the caller is told: the
//! `errorType` of a plain invoke and the `Reason` CloudFormation shows. Reasons name a
//! configuration key, a secret id, a migration and a SQLSTATE at most: never a value, a host or
//! the server's message (which can quote SQL values). The whole failure goes to the log.

use crate::callback::Undelivered;
use lambda_runtime::Diagnostic;
use redline_core::init_error::InitError;
use redline_core::secrets::SecretsError;
use redline_stores::db::MigrateError;

#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// The cold start failed (configuration or secrets); `start_or_hold` kept it for the events.
    #[error("{detail}")]
    Start {
        error_type: &'static str,
        /// What the caller is told (a secret's fetch cause can name an endpoint: left out).
        said: String,
        /// The whole message, for the log.
        detail: String,
    },
    #[error(transparent)]
    Migrate(#[from] MigrateError),
    /// A custom-resource event of a kind CloudFormation does not send.
    #[error("unknown RequestType {0:?}")]
    UnknownRequest(String),
    /// The response never reached the `ResponseURL`: the invocation's own error, so that
    /// Lambda retries the event (which is safe: a second run finds the migrations applied).
    #[error("response undelivered after {} attempts: {}", .0.attempts, .0.last)]
    Undelivered(Undelivered),
}

impl Failure {
    /// The held cold-start failure, as every event reports it.
    pub fn held(error: &InitError) -> Self {
        let said = match error {
            InitError::Secrets(SecretsError::Unreachable { secret_ids, .. }) => {
                format!("Secrets Manager unreachable while fetching {secret_ids}")
            }
            InitError::Secrets(SecretsError::Failed { secret_id, .. }) => {
                format!("secret {secret_id} could not be fetched")
            }
            other => other.to_string(),
        };
        Failure::Start {
            error_type: error.error_type(),
            said,
            detail: error.to_string(),
        }
    }

    /// A short, stable, namespaced name: Lambda's `errorType`, and the head of the reason.
    pub fn error_type(&self) -> &'static str {
        match self {
            Failure::Start { error_type, .. } => error_type,
            Failure::Migrate(MigrateError::Unavailable(_)) => "Migrate.DatabaseUnavailable",
            Failure::Migrate(MigrateError::Bookkeeping { .. }) => "Migrate.Bookkeeping",
            Failure::Migrate(MigrateError::AppRole { .. }) => "Migrate.AppRole",
            Failure::Migrate(MigrateError::Changed { .. }) => "Migrate.MigrationChanged",
            Failure::Migrate(MigrateError::Failed { .. }) => "Migrate.MigrationFailed",
            Failure::UnknownRequest(_) => "CustomResource.UnknownRequestType",
            Failure::Undelivered(_) => "CustomResource.ResponseUndelivered",
        }
    }

    /// What the caller is told: `<errorType>: <what failed>`.
    pub fn reason(&self) -> String {
        let said = match self {
            Failure::Start { said, .. } => said.clone(),
            Failure::Migrate(MigrateError::Unavailable(_)) => {
                "the database could not be reached, refused the login, or did not answer in time"
                    .to_string()
            }
            Failure::Migrate(MigrateError::Bookkeeping { sqlstate, .. }) => format!(
                "the migration lock or the schema_migrations table failed{}",
                code(sqlstate)
            ),
            Failure::Migrate(MigrateError::AppRole { sqlstate, .. }) => format!(
                "the application role (database.app_user) could not be created{}",
                code(sqlstate)
            ),
            Failure::Migrate(MigrateError::Changed { version, name }) => {
                format!("migration {version} ({name}) was changed after it was applied")
            }
            Failure::Migrate(MigrateError::Failed {
                version,
                name,
                sqlstate,
                ..
            }) => format!("migration {version} ({name}) failed{}", code(sqlstate)),
            Failure::UnknownRequest(kind) => {
                // The event's own text, bounded: it is not a secret, but it is not ours either.
                let kind: String = kind.chars().take(32).collect();
                format!("RequestType {kind:?} is not Create, Update or Delete")
            }
            Failure::Undelivered(Undelivered { attempts, last }) => format!(
                "the response could not be delivered to the ResponseURL in {attempts} attempts \
                 (last: {last})"
            ),
        };
        format!("{}: {said}", self.error_type())
    }
}

fn code(sqlstate: &Option<String>) -> String {
    sqlstate
        .as_deref()
        .map(|code| format!(" (SQLSTATE {code})"))
        .unwrap_or_default()
}

/// A plain invoke's error: the same type and reason.
impl From<Failure> for Diagnostic {
    fn from(failure: Failure) -> Self {
        Diagnostic {
            error_type: failure.error_type().to_string(),
            error_message: failure.reason(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redline_core::config::ConfigError;
    use redline_stores::DbError;

    fn failed_with(cause: &str) -> Failure {
        Failure::Migrate(MigrateError::Failed {
            version: 1,
            name: "accounts",
            sqlstate: Some("42703".into()),
            cause: DbError::Query(cause.into()),
        })
    }

    #[test]
    fn every_failure_has_a_fixed_reason() {
        let cases = [
            (
                Failure::held(&ConfigError::key("auth.captcha.ttl", "is not a duration").into()),
                "Runtime.ConfigInvalid: configuration key auth.captcha.ttl: is not a duration",
            ),
            (
                Failure::held(
                    &SecretsError::Unreachable {
                        secret_ids: "redline/db".into(),
                        cause: "dispatch failure: secretsmanager.internal.example:443".into(),
                    }
                    .into(),
                ),
                "Runtime.SecretsUnavailable: Secrets Manager unreachable while fetching \
                 redline/db",
            ),
            (
                Failure::held(
                    &SecretsError::Failed {
                        secret_id: "redline/db".into(),
                        cause: "throttled at vpce-1.example".into(),
                    }
                    .into(),
                ),
                "Runtime.SecretsUnavailable: secret redline/db could not be fetched",
            ),
            (
                Failure::held(
                    &SecretsError::NotFound {
                        secret_id: "redline/db".into(),
                    }
                    .into(),
                ),
                "Runtime.SecretsUnavailable: secret redline/db does not exist",
            ),
            (
                Failure::Migrate(MigrateError::Unavailable(DbError::Unavailable(
                    "cannot connect: db.internal.example:5432 refused".into(),
                ))),
                "Migrate.DatabaseUnavailable: the database could not be reached, refused the \
                 login, or did not answer in time",
            ),
            (
                Failure::Migrate(MigrateError::Bookkeeping {
                    sqlstate: Some("42501".into()),
                    cause: DbError::Query("permission denied for schema public".into()),
                }),
                "Migrate.Bookkeeping: the migration lock or the schema_migrations table failed \
                 (SQLSTATE 42501)",
            ),
            (
                Failure::Migrate(MigrateError::AppRole {
                    sqlstate: Some("42501".into()),
                    cause: DbError::Query("permission denied to create role".into()),
                }),
                "Migrate.AppRole: the application role (database.app_user) could not be \
                 created (SQLSTATE 42501)",
            ),
            (
                Failure::Migrate(MigrateError::Changed {
                    version: 2,
                    name: "refresh_families",
                }),
                "Migrate.MigrationChanged: migration 2 (refresh_families) was changed after it \
                 was applied",
            ),
            (
                failed_with("column \"username\" does not exist"),
                "Migrate.MigrationFailed: migration 1 (accounts) failed (SQLSTATE 42703)",
            ),
            (
                Failure::Migrate(MigrateError::Failed {
                    version: 2,
                    name: "refresh_families",
                    sqlstate: None,
                    cause: DbError::Unavailable("connection closed".into()),
                }),
                "Migrate.MigrationFailed: migration 2 (refresh_families) failed",
            ),
            (
                Failure::UnknownRequest("Rollback".into()),
                "CustomResource.UnknownRequestType: RequestType \"Rollback\" is not Create, \
                 Update or Delete",
            ),
            (
                Failure::Undelivered(Undelivered {
                    attempts: 5,
                    last: "HTTP 503".into(),
                }),
                "CustomResource.ResponseUndelivered: the response could not be delivered to the \
                 ResponseURL in 5 attempts (last: HTTP 503)",
            ),
        ];
        for (failure, reason) in cases {
            assert_eq!(failure.reason(), reason);
            assert!(reason.starts_with(failure.error_type()));
        }
    }

    #[test]
    fn the_server_message_stays_in_the_log() {
        let failure = failed_with("invalid input syntax for type integer: \"hunter2\"");
        assert!(failure.to_string().contains("hunter2"), "the log has it");
        assert!(!failure.reason().contains("hunter2"));
        let diagnostic = Diagnostic::from(failure);
        assert_eq!(diagnostic.error_type, "Migrate.MigrationFailed");
        assert!(!diagnostic.error_message.contains("hunter2"));
    }
}
