//! Numbered SQL migrations, compiled into every binary that can apply them.
//!
//! Safe when two run at once (a session advisory lock serialises them) and when run twice
//! (applied versions are recorded; an edited applied migration is refused by checksum). A
//! failure says where it stopped ([`MigrateError`]): a caller can report which migration failed
//! and its SQLSTATE without quoting the server's message.
//!
//! It runs as the schema owner and prepares the application role the API functions log in as
//! ([`AppRole`]): created when missing, then granted its tables by a migration.

use super::roles;
use super::DbError;
use aws_lc_rs::digest;
use redline_core::config::Secret;
use serde::Serialize;
use tokio_postgres::error::SqlState;

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
    Migration {
        version: 4,
        name: "app_role",
        sql: include_str!("../../migrations/0004_app_role.sql"),
    },
];

/// The setting that names the application role to the migrations (`current_setting`), for the
/// length of each migration's transaction.
const APP_ROLE_SETTING: &str = "redline.app_role";

/// The application role's login, as its secret holds it (`database.app_user`,
/// `database.app_password`). The grants go to its base role (the clone of alternating users is a
/// member of it).
#[derive(Debug, Clone, Copy)]
pub struct AppRole<'a> {
    pub user: &'a str,
    /// Only used to create the role when it is missing; a rotation owns it afterwards.
    pub password: &'a Secret,
}

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
    /// The application role could not be prepared (named, created or made a member).
    #[error("application role not prepared: {cause}")]
    AppRole {
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

fn app_role(error: tokio_postgres::Error) -> MigrateError {
    MigrateError::AppRole {
        sqlstate: sqlstate(&error),
        cause: error.into(),
    }
}

fn invalid_name(error: roles::InvalidRoleName) -> MigrateError {
    MigrateError::AppRole {
        sqlstate: None,
        cause: DbError::Query(error.to_string()),
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

/// As the owner logged in as `owner`, under the migration lock: makes sure the application role
/// exists, then applies every pending migration, each in its own transaction.
pub async fn migrate(
    client: &mut tokio_postgres::Client,
    owner: &str,
    app: AppRole<'_>,
) -> Result<MigrationReport, MigrateError> {
    // What an alternating owner's clone creates must still be the owner's (and its default
    // privileges the ones the migrations set).
    if let Some(statement) = roles::act_as_base(owner).map_err(invalid_name)? {
        client
            .batch_execute(&statement)
            .await
            .map_err(bookkeeping)?;
    }
    client
        .execute("SELECT pg_advisory_lock($1)", &[&LOCK_KEY])
        .await
        .map_err(bookkeeping)?;
    let result = async {
        ensure_app_role(client, app).await?;
        apply_pending(client, roles::base_username(app.user)).await
    }
    .await;
    // Released on every path; a dropped connection releases it too.
    let unlock = client
        .execute("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY])
        .await;
    let report = result?;
    unlock.map_err(bookkeeping)?;
    Ok(report)
}

/// Creates the application role's login when it does not exist, with the password of its secret
/// (a clone as a member of its base role). An existing role is left alone: its password is the
/// rotation's. Roles are cluster-wide and the lock is per database, so a concurrent creation
/// elsewhere counts as done.
async fn ensure_app_role(
    client: &tokio_postgres::Client,
    app: AppRole<'_>,
) -> Result<(), MigrateError> {
    if role_exists(client, app.user).await? {
        return Ok(());
    }
    if app.password.expose().is_empty() {
        return Err(MigrateError::AppRole {
            sqlstate: None,
            cause: DbError::Query(
                "the role does not exist and database.app_password is empty".into(),
            ),
        });
    }
    let base = roles::base_username(app.user);
    let member_of = (base != app.user).then_some(base);
    let create =
        roles::create_login_role(app.user, &roles::verifier(app.password.expose()), member_of)
            .map_err(invalid_name)?;
    match client.batch_execute(&create).await {
        Ok(()) => {
            tracing::info!("created the application role");
            Ok(())
        }
        Err(error) if created_concurrently(&error) && role_exists(client, app.user).await? => {
            Ok(())
        }
        Err(error) => Err(app_role(error)),
    }
}

async fn role_exists(client: &tokio_postgres::Client, role: &str) -> Result<bool, MigrateError> {
    let row = client
        .query_opt(roles::ROLE_EXISTS, &[&role])
        .await
        .map_err(app_role)?;
    Ok(row.is_some())
}

/// Another session created the same role first: a duplicate, or the catalog's unique index.
fn created_concurrently(error: &tokio_postgres::Error) -> bool {
    error.code().is_some_and(|code| {
        *code == SqlState::DUPLICATE_OBJECT || *code == SqlState::UNIQUE_VIOLATION
    })
}

async fn apply_pending(
    client: &mut tokio_postgres::Client,
    app_role: &str,
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
            .execute(
                "SELECT set_config($1, $2, true)",
                &[&APP_ROLE_SETTING, &app_role],
            )
            .await
            .map_err(failed(migration))?;
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
