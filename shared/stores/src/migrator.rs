//! Applies pending migrations with a pool of its own (one connection, a long statement timeout).

use crate::db::{self, AppRole, Db, MigrateError, MigrationReport};
use redline_core::config::{Config, ConfigError, Secret};
use std::time::Duration;

/// DDL may take longer than a request's statement timeout.
const MIGRATION_STATEMENT_TIMEOUT: Duration = Duration::from_secs(300);

pub struct Migrator {
    db: Db,
    /// The login migrating (the schema owner).
    owner: String,
    /// The application role's login (`database.app_user`, `database.app_password`).
    app_user: String,
    app_password: Secret,
}

impl Migrator {
    pub fn new(config: &Config) -> Result<Self, ConfigError> {
        let mut database = config.database.clone();
        database.statement_timeout = database.statement_timeout.max(MIGRATION_STATEMENT_TIMEOUT);
        database.pool_size = 1;
        if config.database.app_user.trim().is_empty() {
            return Err(ConfigError::key(
                "database.app_user",
                "is required by migrate (the role the API functions log in as)",
            ));
        }
        Ok(Migrator {
            db: Db::new(&database)?,
            owner: database.user.clone(),
            app_user: config.database.app_user.clone(),
            app_password: config.database.app_password.clone(),
        })
    }

    /// Applies what is pending. No connection within the time bound, or the whole run past it,
    /// is [`MigrateError::Unavailable`]; the rest says which step failed.
    pub async fn run(&self) -> Result<MigrationReport, MigrateError> {
        let report = self
            .db
            .timed(async {
                let mut client = self.db.client().await?;
                let app = AppRole {
                    user: &self.app_user,
                    password: &self.app_password,
                };
                Ok(db::migrate(&mut client, &self.owner, app).await)
            })
            .await
            .map_err(MigrateError::Unavailable)??;
        tracing::info!(applied = ?report.applied, already = ?report.already_applied, "migrations done");
        Ok(report)
    }
}
