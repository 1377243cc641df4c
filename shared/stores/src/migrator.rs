//! Applies pending migrations with a pool of its own (one connection, a long statement timeout).

use crate::db::{self, Db, MigrateError, MigrationReport};
use redline_core::config::{Config, ConfigError};
use std::time::Duration;

/// DDL may take longer than a request's statement timeout.
const MIGRATION_STATEMENT_TIMEOUT: Duration = Duration::from_secs(300);

pub struct Migrator {
    db: Db,
}

impl Migrator {
    pub fn new(config: &Config) -> Result<Self, ConfigError> {
        let mut database = config.database.clone();
        database.statement_timeout = database.statement_timeout.max(MIGRATION_STATEMENT_TIMEOUT);
        database.pool_size = 1;
        Ok(Migrator {
            db: Db::new(&database)?,
        })
    }

    /// Applies what is pending. No connection within the time bound, or the whole run past it,
    /// is [`MigrateError::Unavailable`]; the rest says which step failed.
    pub async fn run(&self) -> Result<MigrationReport, MigrateError> {
        let report = self
            .db
            .timed(async {
                let mut client = self.db.client().await?;
                Ok(db::migrate(&mut client).await)
            })
            .await
            .map_err(MigrateError::Unavailable)??;
        tracing::info!(applied = ?report.applied, already = ?report.already_applied, "migrations done");
        Ok(report)
    }
}
