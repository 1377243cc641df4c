//! Applies pending migrations with a pool of its own (one connection, a long statement timeout).

use crate::db::{self, Db, DbError, MigrationReport};
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

    pub async fn run(&self) -> Result<MigrationReport, DbError> {
        self.db
            .timed(async {
                let mut client = self.db.client().await?;
                let report = db::migrate(&mut client).await?;
                tracing::info!(applied = ?report.applied, already = ?report.already_applied, "migrations done");
                Ok(report)
            })
            .await
    }
}
