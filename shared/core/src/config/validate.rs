//! Start-up checks: every error names its key. `prod` refuses development shortcuts
//! ([`super::prod`]).

use super::prod::check_prod;
use super::{Config, ConfigError, Environment, PasswordConfig};
use crate::http::routes::RateGroup;
use std::time::Duration;

pub(crate) fn validate(config: &Config) -> Result<(), ConfigError> {
    check_ranges(config)?;
    if config.env == Environment::Prod {
        check_prod(config)?;
    }
    Ok(())
}

fn positive(key: &str, value: Duration) -> Result<(), ConfigError> {
    if value.is_zero() {
        return Err(ConfigError::key(key, "must be greater than zero"));
    }
    Ok(())
}

fn at_least(key: &str, value: u64, min: u64) -> Result<(), ConfigError> {
    if value < min {
        return Err(ConfigError::key(key, format!("must be at least {min}")));
    }
    Ok(())
}

fn check_ranges(config: &Config) -> Result<(), ConfigError> {
    let db = &config.database;
    at_least("database.pool_size", db.pool_size as u64, 1)?;
    positive("database.connect_timeout", db.connect_timeout)?;
    positive("database.statement_timeout", db.statement_timeout)?;
    positive("redis.connect_timeout", config.redis.connect_timeout)?;
    positive("redis.response_timeout", config.redis.response_timeout)?;

    let captcha = &config.auth.captcha;
    positive("auth.captcha.ttl", captcha.ttl)?;
    at_least("auth.captcha.max_guesses", captcha.max_guesses.into(), 1)?;
    if let Some(code) = &captcha.fixed_code {
        let code = code.expose();
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(ConfigError::key(
                "auth.captcha.fixed_code",
                "must be 6 ASCII letters or digits",
            ));
        }
    }

    let lockout = &config.auth.lockout;
    at_least("auth.lockout.max_attempts", lockout.max_attempts.into(), 1)?;
    positive("auth.lockout.window", lockout.window)?;
    positive("auth.lockout.duration", lockout.duration)?;

    let tokens = &config.auth.tokens;
    positive("auth.tokens.access_ttl", tokens.access_ttl)?;
    positive("auth.tokens.refresh_ttl", tokens.refresh_ttl)?;
    if tokens.session_max < tokens.refresh_ttl {
        return Err(ConfigError::key(
            "auth.tokens.session_max",
            "must not be shorter than auth.tokens.refresh_ttl",
        ));
    }
    if tokens.issuer.is_empty() {
        return Err(ConfigError::key("auth.tokens.issuer", "must not be empty"));
    }
    if tokens.audience.is_empty() {
        return Err(ConfigError::key(
            "auth.tokens.audience",
            "must not be empty",
        ));
    }

    let secrets = &config.secrets;
    positive("secrets.ttl", secrets.ttl)?;
    positive("secrets.timeout", secrets.timeout)?;
    if let Some(interval) = tokens.key_rotation {
        // A token signed by a key must expire before the rotation after next drops that key
        // from the set; a verifier may hold the previous set for one TTL more.
        let needed = tokens.refresh_ttl + secrets.ttl;
        if interval < needed {
            return Err(ConfigError::key(
                "auth.tokens.key_rotation",
                format!(
                    "must be at least auth.tokens.refresh_ttl + secrets.ttl ({}), so tokens \
                     signed with the previous key expire before it leaves the key set",
                    humantime::format_duration(needed)
                ),
            ));
        }
    }

    check_argon2(&config.auth.password)?;

    for group in RateGroup::ALL {
        let key = format!("rate_limits.{}", group.name());
        at_least(&key, config.rate_limits.per_minute(group).into(), 1)?;
    }
    positive("health.check_timeout", config.health.check_timeout)?;
    Ok(())
}

/// RFC 9106's bounds on Argon2id's parameters (what the `argon2` crate would refuse at the first
/// hash), checked here so that the configuration, and every function, does not link a hasher.
fn check_argon2(password: &PasswordConfig) -> Result<(), ConfigError> {
    let invalid = |reason: &str| {
        Err(ConfigError::key(
            "auth.password",
            format!("invalid Argon2id parameters: {reason}"),
        ))
    };
    if !(1..=0x00FF_FFFF).contains(&password.parallelism) {
        return invalid("parallelism must be 1 to 16777215");
    }
    if password.iterations < 1 {
        return invalid("iterations must be at least 1");
    }
    if u64::from(password.memory_kib) < 8 * u64::from(password.parallelism) {
        return invalid("memory_kib must be at least 8 × parallelism");
    }
    Ok(())
}
