//! Rotation of PostgreSQL credentials in the RDS secret shape: a single user changing its own
//! password, or alternating users (`<user>` / `<user>_clone`) managed by a superuser, so the
//! login in AWSCURRENT keeps working for the whole rotation.

mod credentials;
mod login;
mod sql;

use crate::error::Failure;
use crate::outcome::Outcome;
use crate::secrets::{SecretStore, Version};
use crate::stages::{CURRENT, PENDING, PREVIOUS};
use credentials::{
    alternate_username, base_username, check_identifier_length, new_password, with_login,
    DbCredentials, MasterCredentials,
};
use login::{log_in, set_password, RoleChange};
use redline_core::config::{DatabaseConfig, Secret};
use serde_json::Value;

/// The pending value of a single-user secret: a new password.
pub fn create_single(current: &Value) -> Result<String, Failure> {
    DbCredentials::parse(current, CURRENT)?;
    Ok(with_login(current, None, &new_password()).to_string())
}

/// The pending value of an alternating-users secret: the other user, with a new password.
pub fn create_alternating(current: &Value) -> Result<String, Failure> {
    let credentials = DbCredentials::parse(current, CURRENT)?;
    let next_user = alternate_username(&credentials.username);
    check_identifier_length(&next_user, PENDING)?;
    Ok(with_login(current, Some(&next_user), &new_password()).to_string())
}

pub struct Postgres<'a> {
    pub store: &'a SecretStore,
    /// TLS mode, CA bundle and timeouts for every connection.
    pub database: &'a DatabaseConfig,
    pub secret_id: &'a str,
}

/// Both values of the rotated secret, parsed.
pub struct Logins {
    pub current: DbCredentials,
    pub pending: DbCredentials,
}

impl Logins {
    pub fn parse(current: &Value, pending: &Value) -> Result<Self, Failure> {
        let logins = Logins {
            current: DbCredentials::parse(current, CURRENT)?,
            pending: DbCredentials::parse(pending, PENDING)?,
        };
        if let Some(field) = logins.pending.other_server_field(&logins.current) {
            return Err(Failure::shape(
                PENDING,
                format!("its {field} differs from the current value's"),
            ));
        }
        Ok(logins)
    }
}

impl Postgres<'_> {
    /// The user sets its own new password, logged in with the current (else the previous)
    /// password, as AWS's single-user rotation does.
    pub async fn set_single(&self, logins: &Logins) -> Result<Outcome, Failure> {
        let Logins { current, pending } = logins;
        if pending.username != current.username {
            return Err(Failure::shape(
                PENDING,
                "its username differs from the current value's",
            ));
        }
        if log_in(self.database, pending).await.is_ok() {
            return Ok(Outcome::AlreadySet);
        }
        let mut candidates = vec![current.clone()];
        if let Some(previous) = self.previous_login(current).await? {
            candidates.push(previous);
        }
        let mut last_failure = None;
        for login in &candidates {
            match set_password(
                self.database,
                login,
                &pending.username,
                &pending.password,
                None,
            )
            .await
            {
                Ok(_) => return Ok(Outcome::Set),
                Err(failure) => last_failure = Some(failure),
            }
        }
        let cause = match last_failure {
            Some(Failure::Database(cause)) => cause,
            Some(other) => other.to_string(),
            None => String::new(),
        };
        Err(Failure::Database(format!(
            "cannot change the password with the current or previous login: {cause}"
        )))
    }

    /// The superuser of `masterarn` gives the other user its new password, creating it as a
    /// member of the base user the first time. The current user is never touched.
    pub async fn set_alternating(&self, logins: &Logins) -> Result<Outcome, Failure> {
        let Logins { current, pending } = logins;
        if pending.username != alternate_username(&current.username) {
            return Err(Failure::shape(
                PENDING,
                "its username is not the alternate of the current user",
            ));
        }
        if log_in(self.database, pending).await.is_ok() {
            return Ok(Outcome::AlreadySet);
        }
        let masterarn = current
            .masterarn
            .as_deref()
            .ok_or_else(|| Failure::shape(CURRENT, "masterarn is missing"))?;
        let master_value = self
            .store
            .required_value(masterarn, Version::Stage(CURRENT))
            .await?;
        let master = MasterCredentials::parse(&parse_value(&master_value, "master")?)?;
        if master
            .host
            .as_deref()
            .is_some_and(|host| host != current.host)
        {
            return Err(Failure::shape(
                "master (masterarn) AWSCURRENT",
                "its host differs from the user's",
            ));
        }
        let admin = master.on_server_of(current);
        let base = base_username(&current.username);
        let change = set_password(
            self.database,
            &admin,
            &pending.username,
            &pending.password,
            Some(base),
        )
        .await?;
        if change == RoleChange::Created {
            tracing::info!(
                secretId = self.secret_id,
                "created the alternate user as a member of the base user"
            );
        }
        Ok(Outcome::Set)
    }

    /// The pending login works.
    pub async fn test(&self, logins: &Logins) -> Result<Outcome, Failure> {
        log_in(self.database, &logins.pending)
            .await
            .map_err(|failure| Failure::Test(failure.to_string()))?;
        Ok(Outcome::Tested)
    }

    /// AWSPREVIOUS, when there is one for the same user and server.
    async fn previous_login(
        &self,
        current: &DbCredentials,
    ) -> Result<Option<DbCredentials>, Failure> {
        let Some(previous) = self
            .store
            .value(self.secret_id, Version::Stage(PREVIOUS))
            .await?
        else {
            return Ok(None);
        };
        // An AWSPREVIOUS of another shape is no login to fall back on, not an error.
        let parsed = parse_value(&previous, PREVIOUS)
            .and_then(|value| DbCredentials::parse(&value, PREVIOUS));
        let Ok(previous) = parsed else {
            return Ok(None);
        };
        let same_login =
            previous.username == current.username && previous.other_server_field(current).is_none();
        Ok(same_login.then_some(previous))
    }
}

fn parse_value(secret: &Secret, version: &str) -> Result<Value, Failure> {
    crate::kind::parse_json(secret.expose(), version)
}
