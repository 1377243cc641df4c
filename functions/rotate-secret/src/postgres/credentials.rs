//! The RDS secret shape (`{"engine", "host", "port", "dbname", "username", "password"}`, plus
//! `masterarn` for alternating users) and the values a rotation derives from it.

use crate::error::Failure;
use redline_core::config::{DatabaseConfig, Secret};
use redline_stores::db::roles::CLONE_SUFFIX;
use serde::Deserialize;
use serde_json::Value;

/// PostgreSQL silently truncates longer identifiers (NAMEDATALEN - 1).
const MAX_IDENTIFIER_BYTES: usize = 63;
const PASSWORD_LENGTH: usize = 32;
const PASSWORD_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Who logs in where. `Debug` shows no password ([`Secret`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbCredentials {
    pub host: String,
    pub port: u16,
    pub dbname: String,
    pub username: String,
    pub password: Secret,
    pub masterarn: Option<String>,
}

#[derive(Deserialize)]
struct RawCredentials {
    host: String,
    #[serde(default)]
    port: Option<Port>,
    #[serde(default)]
    dbname: Option<String>,
    username: String,
    password: Secret,
    #[serde(default)]
    masterarn: Option<String>,
}

/// RDS writes the port as a number; hand-made secrets often as a string.
#[derive(Deserialize)]
#[serde(untagged)]
enum Port {
    Number(u16),
    Text(String),
}

impl DbCredentials {
    pub fn parse(value: &Value, version: &str) -> Result<Self, Failure> {
        let raw = RawCredentials::deserialize(value).map_err(|_| {
            Failure::shape(
                version,
                "a database secret needs string host, username and password \
                 (port and dbname are optional)",
            )
        })?;
        let port = match raw.port {
            None => 5432,
            Some(Port::Number(port)) => port,
            Some(Port::Text(text)) => text
                .trim()
                .parse()
                .map_err(|_| Failure::shape(version, "port is not a port number"))?,
        };
        Ok(DbCredentials {
            host: raw.host,
            port,
            dbname: raw.dbname.unwrap_or_else(|| "postgres".into()),
            username: raw.username,
            password: raw.password,
            masterarn: raw.masterarn,
        })
    }

    /// The redline database settings (TLS, CA bundle, timeouts) with this login.
    pub fn database_config(&self, base: &DatabaseConfig) -> DatabaseConfig {
        DatabaseConfig {
            host: self.host.clone(),
            port: self.port,
            dbname: self.dbname.clone(),
            user: self.username.clone(),
            password: self.password.clone(),
            // One connection per login is all a step needs.
            pool_size: 1,
            ..base.clone()
        }
    }

    /// The first field naming another server or database than `other`, if any.
    pub fn other_server_field(&self, other: &DbCredentials) -> Option<&'static str> {
        if self.host != other.host {
            Some("host")
        } else if self.port != other.port {
            Some("port")
        } else if self.dbname != other.dbname {
            Some("dbname")
        } else {
            None
        }
    }
}

/// The superuser of the alternating-users scheme. RDS-managed master secrets hold only
/// `username` and `password`, so the server comes from the user's secret.
#[derive(Deserialize)]
pub struct MasterCredentials {
    pub username: String,
    pub password: Secret,
    #[serde(default)]
    pub host: Option<String>,
}

impl MasterCredentials {
    pub fn parse(value: &Value) -> Result<Self, Failure> {
        MasterCredentials::deserialize(value).map_err(|_| {
            Failure::shape(
                "master (masterarn) AWSCURRENT",
                "a master secret needs string username and password",
            )
        })
    }

    /// The user's server, logged into as the superuser.
    pub fn on_server_of(&self, user: &DbCredentials) -> DbCredentials {
        DbCredentials {
            username: self.username.clone(),
            password: self.password.clone(),
            masterarn: None,
            ..user.clone()
        }
    }
}

/// 32 characters from aws-lc's CSPRNG (about 190 bits), alphanumeric so it survives every
/// connection-string and shell quoting a consumer may apply.
pub fn new_password() -> String {
    redline_crypto::random::code(PASSWORD_ALPHABET, PASSWORD_LENGTH)
}

/// `app` → `app_clone` → `app`.
pub fn alternate_username(username: &str) -> String {
    match username.strip_suffix(CLONE_SUFFIX) {
        Some(base) => base.to_string(),
        None => format!("{username}{CLONE_SUFFIX}"),
    }
}

pub use redline_stores::db::roles::base_username;

/// The same JSON (every other field kept) with a new password and, optionally, a new user.
pub fn with_login(current: &Value, username: Option<&str>, password: &str) -> Value {
    let mut next = current.clone();
    if let Some(username) = username {
        next["username"] = Value::String(username.to_string());
    }
    next["password"] = Value::String(password.to_string());
    next
}

pub fn check_identifier_length(username: &str, version: &str) -> Result<(), Failure> {
    if username.len() > MAX_IDENTIFIER_BYTES {
        return Err(Failure::shape(
            version,
            format!("username is longer than PostgreSQL's {MAX_IDENTIFIER_BYTES} bytes"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_the_rds_shape_with_defaults_and_string_ports() {
        let value = json!({"engine": "postgres", "host": "db", "port": "6543", "username": "app",
                           "password": "pw", "dbInstanceIdentifier": "x"});
        let creds = DbCredentials::parse(&value, "AWSCURRENT").unwrap();
        assert_eq!((creds.port, creds.dbname.as_str()), (6543, "postgres"));
        assert!(!format!("{creds:?}").contains("\"pw\""));
        let missing = DbCredentials::parse(&json!({"host": "db", "password": "hunter2"}), "c");
        assert!(!missing.unwrap_err().to_string().contains("hunter2"));
    }

    #[test]
    fn usernames_alternate_between_base_and_clone() {
        assert_eq!(alternate_username("app"), "app_clone");
        assert_eq!(alternate_username("app_clone"), "app");
        assert_eq!(base_username("app_clone"), "app");
        assert_eq!(base_username("app"), "app");
    }

    #[test]
    fn a_new_login_keeps_every_other_field() {
        let current = json!({"engine": "postgres", "host": "db", "username": "app",
                             "password": "old", "masterarn": "arn:m", "extra": 1});
        let next = with_login(&current, Some("app_clone"), "new");
        assert_eq!(
            next,
            json!({"engine": "postgres", "host": "db", "username": "app_clone",
                   "password": "new", "masterarn": "arn:m", "extra": 1})
        );
    }

    #[test]
    fn passwords_are_32_alphanumerics_and_differ() {
        let (a, b) = (new_password(), new_password());
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, b);
    }
}
