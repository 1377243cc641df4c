//! The `users` table. Personal data goes in and out encrypted; lookups use blind indexes.

use redline_stores::db::{Db, DbError};
use std::time::SystemTime;
use tokio_postgres::Row;

#[derive(Debug, Clone)]
pub struct Account {
    pub id: i64,
    pub username: String,
    pub password_hash: String,
    pub email_cipher: Vec<u8>,
    pub phone_cipher: Option<Vec<u8>>,
    pub totp_cipher: Option<Vec<u8>>,
    pub totp_pending: Option<Vec<u8>>,
    pub totp_enabled: bool,
    pub created_at: SystemTime,
}

const COLUMNS: &str = "id, username, password_hash, email_cipher, phone_cipher, totp_cipher, \
                       totp_pending, totp_enabled, created_at";

fn account(row: &Row) -> Account {
    Account {
        id: row.get(0),
        username: row.get(1),
        password_hash: row.get(2),
        email_cipher: row.get(3),
        phone_cipher: row.get(4),
        totp_cipher: row.get(5),
        totp_pending: row.get(6),
        totp_enabled: row.get(7),
        created_at: row.get(8),
    }
}

/// Which unique field an insert collided on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Taken {
    Username,
    Email,
    Phone,
}

pub struct NewAccount<'a> {
    pub username: &'a str,
    pub password_hash: &'a str,
    pub email_cipher: Vec<u8>,
    pub email_index: &'a [u8],
    pub phone_cipher: Option<Vec<u8>>,
    pub phone_index: Option<&'a [u8]>,
}

/// What a successful login replaces: a re-hashed password, data re-sealed under the current key.
#[derive(Debug, Default)]
pub struct Resealed {
    pub password_hash: Option<String>,
    pub email: Option<Vec<u8>>,
    pub phone: Option<Vec<u8>>,
    pub totp: Option<Vec<u8>>,
    pub totp_pending: Option<Vec<u8>>,
}

impl Resealed {
    pub fn is_empty(&self) -> bool {
        self.password_hash.is_none()
            && self.email.is_none()
            && self.phone.is_none()
            && self.totp.is_none()
            && self.totp_pending.is_none()
    }
}

#[derive(Debug)]
pub enum CreateError {
    Taken(Taken),
    Db(DbError),
}

pub struct Accounts<'a> {
    pub db: &'a Db,
}

/// How an account is looked up.
pub enum Lookup<'a> {
    Id(i64),
    UsernameLower(&'a str),
    EmailIndex(&'a [u8]),
    PhoneIndex(&'a [u8]),
}

impl Accounts<'_> {
    pub async fn find(&self, lookup: Lookup<'_>) -> Result<Option<Account>, DbError> {
        let row = match lookup {
            Lookup::Id(id) => {
                let sql = format!("SELECT {COLUMNS} FROM users WHERE id = $1");
                self.db.query_opt(&sql, &[&id]).await?
            }
            Lookup::UsernameLower(name) => {
                let sql = format!("SELECT {COLUMNS} FROM users WHERE lower(username) = $1");
                self.db.query_opt(&sql, &[&name]).await?
            }
            Lookup::EmailIndex(index) => {
                let sql = format!("SELECT {COLUMNS} FROM users WHERE email_index = $1");
                self.db.query_opt(&sql, &[&index]).await?
            }
            Lookup::PhoneIndex(index) => {
                let sql = format!("SELECT {COLUMNS} FROM users WHERE phone_index = $1");
                self.db.query_opt(&sql, &[&index]).await?
            }
        };
        Ok(row.as_ref().map(account))
    }

    /// The first field already taken, in the contract's order: username, e-mail, phone.
    pub async fn first_taken(
        &self,
        username_lower: &str,
        email_index: &[u8],
        phone_index: Option<&[u8]>,
    ) -> Result<Option<Taken>, DbError> {
        let row = self
            .db
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM users WHERE lower(username) = $1), \
                        EXISTS (SELECT 1 FROM users WHERE email_index = $2), \
                        EXISTS (SELECT 1 FROM users WHERE phone_index = $3)",
                &[&username_lower, &email_index, &phone_index],
            )
            .await?;
        let taken = [
            (row.get::<_, bool>(0), Taken::Username),
            (row.get::<_, bool>(1), Taken::Email),
            (row.get::<_, bool>(2), Taken::Phone),
        ];
        Ok(taken.into_iter().find(|(hit, _)| *hit).map(|(_, t)| t))
    }

    /// Inserts; a concurrent winner on any unique field shows up as `Taken`.
    pub async fn create(&self, new: NewAccount<'_>) -> Result<i64, CreateError> {
        let result = self
            .db
            .query_one(
                "INSERT INTO users (username, password_hash, email_cipher, email_index, \
                                    phone_cipher, phone_index) \
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                &[
                    &new.username,
                    &new.password_hash,
                    &new.email_cipher,
                    &new.email_index,
                    &new.phone_cipher,
                    &new.phone_index,
                ],
            )
            .await;
        match result {
            Ok(row) => Ok(row.get::<_, i64>(0)),
            Err(DbError::Unique(constraint)) => {
                Err(CreateError::Taken(match constraint.as_str() {
                    "users_email_key" => Taken::Email,
                    "users_phone_key" => Taken::Phone,
                    _ => Taken::Username,
                }))
            }
            Err(other) => Err(CreateError::Db(other)),
        }
    }

    /// Stores a fresh password hash and re-encrypted personal data after a successful login.
    pub async fn refresh_credentials(&self, id: i64, new: &Resealed) -> Result<(), DbError> {
        self.db
            .execute(
                "UPDATE users SET password_hash = COALESCE($2, password_hash), \
                                  email_cipher = COALESCE($3, email_cipher), \
                                  phone_cipher = COALESCE($4, phone_cipher), \
                                  totp_cipher = COALESCE($5, totp_cipher), \
                                  totp_pending = COALESCE($6, totp_pending), \
                                  updated_at = now() \
                 WHERE id = $1",
                &[
                    &id,
                    &new.password_hash,
                    &new.email,
                    &new.phone,
                    &new.totp,
                    &new.totp_pending,
                ],
            )
            .await?;
        Ok(())
    }

    pub async fn set_totp_pending(&self, id: i64, cipher: &[u8]) -> Result<(), DbError> {
        self.db
            .execute(
                "UPDATE users SET totp_pending = $2, updated_at = now() WHERE id = $1",
                &[&id, &cipher],
            )
            .await?;
        Ok(())
    }

    /// Promotes the pending secret (re-encrypted under the current key) to the active one and
    /// replaces the recovery codes, in one statement: no moment has the factor without its codes.
    pub async fn enable_totp(
        &self,
        id: i64,
        cipher: &[u8],
        recovery_digests: &[Vec<u8>],
    ) -> Result<(), DbError> {
        self.db
            .execute(
                "WITH enabled AS ( \
                     UPDATE users SET totp_cipher = $2, totp_pending = NULL, \
                                      totp_enabled = TRUE, updated_at = now() \
                     WHERE id = $1 RETURNING id), \
                 cleared AS ( \
                     DELETE FROM totp_recovery_codes WHERE user_id = $1) \
                 INSERT INTO totp_recovery_codes (user_id, code_hash) \
                 SELECT enabled.id, digest FROM enabled, unnest($3::bytea[]) AS digest",
                &[&id, &cipher, &recovery_digests],
            )
            .await?;
        Ok(())
    }

    /// Turns the second factor off and forgets its secrets and recovery codes.
    pub async fn disable_totp(&self, id: i64) -> Result<(), DbError> {
        self.db
            .execute(
                "WITH cleared AS ( \
                     DELETE FROM totp_recovery_codes WHERE user_id = $1) \
                 UPDATE users SET totp_cipher = NULL, totp_pending = NULL, \
                                  totp_enabled = FALSE, updated_at = now() \
                 WHERE id = $1",
                &[&id],
            )
            .await?;
        Ok(())
    }

    /// Spends a recovery code: true when it existed, and then it is gone. One statement, so two
    /// concurrent uses of one code cannot both succeed.
    pub async fn spend_recovery_code(&self, id: i64, digest: &[u8]) -> Result<bool, DbError> {
        let deleted = self
            .db
            .execute(
                "DELETE FROM totp_recovery_codes WHERE user_id = $1 AND code_hash = $2",
                &[&id, &digest],
            )
            .await?;
        Ok(deleted == 1)
    }

    /// Deletes the account; its refresh families go with it (ON DELETE CASCADE).
    pub async fn delete(&self, id: i64) -> Result<bool, DbError> {
        let count = self
            .db
            .execute("DELETE FROM users WHERE id = $1", &[&id])
            .await?;
        Ok(count == 1)
    }
}
