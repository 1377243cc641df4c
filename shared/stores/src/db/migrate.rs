//! Numbered SQL migrations, compiled into every binary that can apply them.
//!
//! Safe when two run at once (a session advisory lock serialises them) and when run twice
//! (applied versions are recorded; an edited applied migration is refused by checksum). A
//! failure says where it stopped ([`MigrateError`]): a caller can report which migration failed
//! and its SQLSTATE without quoting the server's message.

use super::DbError;
use aws_lc_rs::digest;
use serde::Serialize;

pub struct Migration {
    pub version: i32,
    pub name: &'static str,
    pub sql: &'static str,
}

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "accounts",
        sql: include_str!("../../migrations/0001_accounts.sql"),
    },
    Migration {
        version: 2,
        name: "refresh_families",
        sql: include_str!("../../migrations/0002_refresh_families.sql"),
    },
    Migration {
        version: 3,
        name: "totp_recovery_codes",
        sql: include_str!("../../migrations/0003_totp_recovery_codes.sql"),
    },
];

/// An arbitrary constant naming redline's migration lock.
const LOCK_KEY: i64 = 0x7265_646c_696e_6501;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct MigrationReport {
    pub applied: Vec<i32>,
    pub already_applied: Vec<i32>,
}

/// Where migrating stopped. The variants name a place and a SQLSTATE; the server's message is
/// only in `cause` (it can quote values), for the log.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// No connection: the server is unreachable, refused the login, or the run timed out.
    #[error(transparent)]
    Unavailable(DbError),
    /// The advisory lock or the `schema_migrations` table.
    #[error("migration bookkeeping failed: {cause}")]
    Bookkeeping {
        sqlstate: Option<String>,
        cause: DbError,
    },
    #[error("migration {version} ({name}) was changed after it was applied")]
    Changed { version: i32, name: &'static str },
    #[error("migration {version} ({name}) failed: {cause}")]
    Failed {
        version: i32,
        name: &'static str,
        sqlstate: Option<String>,
        cause: DbError,
    },
}

fn sqlstate(error: &tokio_postgres::Error) -> Option<String> {
    error.code().map(|code| code.code().to_string())
}

fn bookkeeping(error: tokio_postgres::Error) -> MigrateError {
    MigrateError::Bookkeeping {
        sqlstate: sqlstate(&error),
        cause: error.into(),
    }
}

fn failed(migration: &Migration) -> impl FnOnce(tokio_postgres::Error) -> MigrateError + '_ {
    move |error| MigrateError::Failed {
        version: migration.version,
        name: migration.name,
        sqlstate: sqlstate(&error),
        cause: error.into(),
    }
}

fn checksum(sql: &str) -> String {
    digest::digest(&digest::SHA256, sql.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Applies every pending migration, each in its own transaction.
pub async fn migrate(client: &mut tokio_postgres::Client) -> Result<MigrationReport, MigrateError> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&LOCK_KEY])
        .await
        .map_err(bookkeeping)?;
    let result = apply_pending(client).await;
    // Released on every path; a dropped connection releases it too.
    let unlock = client
        .execute("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY])
        .await;
    let report = result?;
    unlock.map_err(bookkeeping)?;
    Ok(report)
}

async fn apply_pending(
    client: &mut tokio_postgres::Client,
) -> Result<MigrationReport, MigrateError> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (
                version    INTEGER     PRIMARY KEY,
                name       TEXT        NOT NULL,
                checksum   TEXT        NOT NULL,
                applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
            )",
        )
        .await
        .map_err(bookkeeping)?;
    let rows = client
        .query("SELECT version, checksum FROM schema_migrations", &[])
        .await
        .map_err(bookkeeping)?;
    let recorded: Vec<(i32, String)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let mut report = MigrationReport {
        applied: Vec::new(),
        already_applied: Vec::new(),
    };
    for migration in MIGRATIONS {
        let sum = checksum(migration.sql);
        if let Some((_, existing)) = recorded.iter().find(|(v, _)| *v == migration.version) {
            if *existing != sum {
                return Err(MigrateError::Changed {
                    version: migration.version,
                    name: migration.name,
                });
            }
            report.already_applied.push(migration.version);
            continue;
        }
        let transaction = client.transaction().await.map_err(failed(migration))?;
        transaction
            .batch_execute(migration.sql)
            .await
            .map_err(failed(migration))?;
        transaction
            .execute(
                "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                &[&migration.version, &migration.name, &sum],
            )
            .await
            .map_err(failed(migration))?;
        transaction.commit().await.map_err(failed(migration))?;
        report.applied.push(migration.version);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_numbered_in_order_without_gaps() {
        for (index, migration) in MIGRATIONS.iter().enumerate() {
            assert_eq!(migration.version, index as i32 + 1);
        }
    }
}
