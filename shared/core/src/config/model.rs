//! The typed configuration tree. Every key has a default in `configs/config.yaml`.

use super::{duration, Secret};
use crate::http::routes::RateGroup;
use serde::Deserialize;
use std::time::Duration;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Filled from `REDLINE_ENV` by the loader, never from a file.
    #[serde(default)]
    pub env: Environment,
    pub service: ServiceConfig,
    pub log: LogConfig,
    pub metrics: MetricsConfig,
    pub database: DatabaseConfig,
    pub redis: RedisConfig,
    pub auth: AuthConfig,
    pub rate_limits: RateLimits,
    pub crypto: CryptoConfig,
    pub health: HealthConfig,
    pub secrets: SecretsConfig,
    pub smoke: SmokeConfig,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    #[default]
    Dev,
    Test,
    Prod,
}

impl Environment {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "dev" => Some(Environment::Dev),
            "test" => Some(Environment::Test),
            "prod" => Some(Environment::Prod),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Environment::Dev => "dev",
            Environment::Test => "test",
            Environment::Prod => "prod",
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    pub name: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// A `tracing` filter such as `info` or `redline_core=debug,info`.
    pub level: String,
}

/// The traffic hooks' smoke account (see `redline_crypto::smoke`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmokeConfig {
    /// The generated secret the account is derived from; null: no smoke account.
    pub secret: Option<Secret>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// The CloudWatch namespace of the EMF documents; alarms and dashboards name it.
    pub namespace: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SslMode {
    Disable,
    Require,
    VerifyFull,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    pub host: String,
    pub port: u16,
    pub dbname: String,
    pub user: String,
    pub password: Secret,
    /// The application role the API functions log in as: migrate (logged in as `user`, the
    /// schema owner) creates it with this password when it is missing and grants it the tables.
    /// Only migrate reads these two.
    pub app_user: String,
    pub app_password: Secret,
    pub sslmode: SslMode,
    /// PEM bundle of trusted CAs for `verify-full` (e.g. the RDS bundle); system roots when unset.
    pub ca_file: Option<String>,
    pub pool_size: usize,
    #[serde(deserialize_with = "duration::deserialize")]
    pub connect_timeout: Duration,
    #[serde(deserialize_with = "duration::deserialize")]
    pub statement_timeout: Duration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisConfig {
    /// `redis://` or `rediss://`, with `user:password@` for AUTH.
    pub url: Secret,
    pub key_prefix: String,
    pub ca_file: Option<String>,
    #[serde(deserialize_with = "duration::deserialize")]
    pub connect_timeout: Duration,
    #[serde(deserialize_with = "duration::deserialize")]
    pub response_timeout: Duration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthConfig {
    pub captcha: CaptchaConfig,
    pub lockout: LockoutConfig,
    pub tokens: TokenConfig,
    pub password: PasswordConfig,
    pub totp: TotpConfig,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CaptchaDelivery {
    /// Codes for sms/email captchas go to a Redis list (dev and test only).
    Outbox,
    /// No channel: sms/email captchas are refused.
    Disabled,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptchaConfig {
    pub enabled: bool,
    #[serde(deserialize_with = "duration::deserialize")]
    pub ttl: Duration,
    pub max_guesses: u32,
    pub fixed_code: Option<Secret>,
    /// How long an expired captcha still answers `CAPTCHA_EXPIRED` before it is forgotten.
    #[serde(deserialize_with = "duration::deserialize")]
    pub expired_retention: Duration,
    pub delivery: CaptchaDelivery,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockoutConfig {
    pub max_attempts: u32,
    #[serde(deserialize_with = "duration::deserialize")]
    pub window: Duration,
    #[serde(deserialize_with = "duration::deserialize")]
    pub duration: Duration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenConfig {
    #[serde(deserialize_with = "duration::deserialize")]
    pub access_ttl: Duration,
    #[serde(deserialize_with = "duration::deserialize")]
    pub refresh_ttl: Duration,
    #[serde(deserialize_with = "duration::deserialize")]
    pub session_max: Duration,
    pub issuer: String,
    pub audience: String,
    /// JSON signing key set (private keys, current first): the `auth` function's alone.
    pub signing_keys: Option<Secret>,
    /// JWK Set of public keys: what every other function verifies tokens with.
    pub verification_keys: Option<String>,
    /// How often the signing key set is rotated (the rotation schedule's interval), if it is.
    #[serde(default, deserialize_with = "duration::deserialize_option")]
    pub key_rotation: Option<Duration>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordConfig {
    /// Argon2id memory cost in KiB, iterations and lanes.
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TotpConfig {
    /// The issuer shown in authenticator apps.
    pub issuer: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimits {
    pub captcha: u32,
    pub login: u32,
    pub register: u32,
    pub refresh: u32,
    pub lock_status: u32,
}

impl RateLimits {
    /// Requests a minute one client (an IPv4 address, an IPv6 /64) may make in `group`.
    pub fn per_minute(&self, group: RateGroup) -> u32 {
        match group {
            RateGroup::Captcha => self.captcha,
            RateGroup::Login => self.login,
            RateGroup::Register => self.register,
            RateGroup::Refresh => self.refresh,
            RateGroup::LockStatus => self.lock_status,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CryptoConfig {
    /// JSON `{"current": 2, "keys": {"1": "<base64 32 bytes>", "2": "..."}}` for AES-256-GCM.
    pub data_keys: Option<Secret>,
    /// base64 of 32 bytes: the HMAC-SHA-256 key of the e-mail and phone blind indexes.
    pub blind_index_key: Option<Secret>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HealthConfig {
    #[serde(deserialize_with = "duration::deserialize")]
    pub check_timeout: Duration,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretsConfig {
    /// How long fetched secrets are used before the next request refreshes them.
    #[serde(deserialize_with = "duration::deserialize")]
    pub ttl: Duration,
    /// How long past the TTL cached secrets keep serving while refreshes fail.
    #[serde(deserialize_with = "duration::deserialize")]
    pub grace: Duration,
    /// The least time between refetches forced by an unknown `kid`, key version or stale
    /// database password, and between retries of a failed refresh.
    #[serde(deserialize_with = "duration::deserialize")]
    pub refetch_interval: Duration,
    /// Bound of one Secrets Manager call.
    #[serde(deserialize_with = "duration::deserialize")]
    pub timeout: Duration,
    /// A JSON file `{"<secret id>": value}` that resolves references instead of Secrets Manager.
    pub local_file: Option<String>,
}
