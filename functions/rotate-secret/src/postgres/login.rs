//! Connections for one step, through redline's own pool (TLS mode, CA bundle and timeouts from
//! the configuration). Each pool lives only as long as the step, so no session with an old
//! password outlives it.

use super::credentials::DbCredentials;
use super::sql;
use crate::error::Failure;
use redline_core::config::{DatabaseConfig, Secret};
use redline_stores::db::roles;
use redline_stores::Db;

/// Whether the role already existed or was created.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleChange {
    PasswordChanged,
    Created,
}

/// Logs in and runs `SELECT 1`.
pub async fn log_in(base: &DatabaseConfig, credentials: &DbCredentials) -> Result<(), Failure> {
    Db::new(&credentials.database_config(base))?.ping().await?;
    Ok(())
}

/// As `admin`, gives `role` the password `password`; a missing role is created as a member of
/// `member_of` when given.
pub async fn set_password(
    base: &DatabaseConfig,
    admin: &DbCredentials,
    role: &str,
    password: &Secret,
    member_of: Option<&str>,
) -> Result<RoleChange, Failure> {
    let verifier = roles::verifier(password.expose());
    let act_as_base = sql::act_as_base(&admin.username)?;
    let alter = sql::alter_password(role, &verifier)?;
    let create = member_of
        .map(|base_role| sql::create_login_role(role, &verifier, base_role))
        .transpose()?;
    let db = Db::new(&admin.database_config(base))?;
    let change = db
        .timed(async {
            let client = db.client().await?;
            if let Some(statement) = &act_as_base {
                client.batch_execute(statement).await?;
            }
            let exists = client
                .query_opt(sql::ROLE_EXISTS, &[&role])
                .await?
                .is_some();
            match (&create, exists) {
                (Some(create), false) => {
                    client.batch_execute(create).await?;
                    Ok(RoleChange::Created)
                }
                _ => {
                    client.batch_execute(&alter).await?;
                    Ok(RoleChange::PasswordChanged)
                }
            }
        })
        .await?;
    Ok(change)
}
