//! Start-up checks: every error names its key. `prod` refuses development shortcuts.

use super::files::embedded_file;
use super::{CaptchaDelivery, Config, ConfigError, Environment, PasswordConfig, SslMode};
use crate::http::routes::RateGroup;
use serde_json::Value;
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

fn check_prod(config: &Config) -> Result<(), ConfigError> {
    let captcha = &config.auth.captcha;
    if !captcha.enabled {
        return Err(ConfigError::key(
            "auth.captcha.enabled",
            "prod refuses a disabled captcha",
        ));
    }
    if captcha.fixed_code.is_some() {
        return Err(ConfigError::key(
            "auth.captcha.fixed_code",
            "prod refuses a fixed captcha code",
        ));
    }
    if captcha.delivery == CaptchaDelivery::Outbox {
        return Err(ConfigError::key(
            "auth.captcha.delivery",
            "prod refuses the development outbox",
        ));
    }
    if config.database.sslmode == SslMode::Disable {
        return Err(ConfigError::key(
            "database.sslmode",
            "prod refuses unencrypted database connections",
        ));
    }
    let shipped = development_material();
    let guarded = [
        (
            "auth.tokens.signing_keys",
            config.auth.tokens.signing_keys.as_ref().map(|s| s.expose()),
        ),
        (
            "auth.tokens.verification_keys",
            config.auth.tokens.verification_keys.as_deref(),
        ),
        (
            "crypto.data_keys",
            config.crypto.data_keys.as_ref().map(|s| s.expose()),
        ),
        (
            "crypto.blind_index_key",
            config.crypto.blind_index_key.as_ref().map(|s| s.expose()),
        ),
    ];
    for (key, value) in guarded {
        let Some(value) = value else { continue };
        let compact = normalise(value);
        // Shipped key material anywhere in the value (even as an older data-key version).
        let is_shipped = shipped.iter().any(|material| compact.contains(material));
        if is_shipped || compact.contains("\"kid\":\"dev-") || compact.contains("\"kid\":\"test-") {
            return Err(ConfigError::key(key, "prod refuses development keys"));
        }
    }
    Ok(())
}

fn normalise(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

/// The key material shipped in the dev and test layers and the dev secrets file (every string
/// of 32 characters or more in them): never acceptable in prod. Parsed once per process (every
/// secrets refresh validates again).
fn development_material() -> &'static [String] {
    static MATERIAL: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    MATERIAL.get_or_init(shipped_material)
}

fn shipped_material() -> Vec<String> {
    let keys = [
        "auth.tokens.signing_keys",
        "auth.tokens.verification_keys",
        "crypto.data_keys",
        "crypto.blind_index_key",
    ];
    let mut values = Vec::new();
    for file in ["config.dev.yaml", "config.test.yaml"] {
        let Some(text) = embedded_file(file) else {
            continue;
        };
        let Ok(layer) = config::Config::builder()
            .add_source(config::File::from_str(text, config::FileFormat::Yaml))
            .build()
        else {
            continue;
        };
        for key in keys {
            if let Ok(value) = layer.get_string(key) {
                values.push(serde_json::from_str(&value).unwrap_or(Value::String(value)));
            }
        }
    }
    if let Ok(Value::Object(secrets)) = serde_json::from_str(DEV_SECRETS) {
        values.extend(secrets.into_iter().map(|(_, value)| value));
    }
    let mut material = Vec::new();
    for value in &values {
        collect_material(value, &mut material);
    }
    material
}

const DEV_SECRETS: &str = include_str!("../../../../configs/secrets.dev.json");

fn collect_material(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::String(text) if text.len() >= 32 => out.push(normalise(text)),
        Value::Array(items) => items.iter().for_each(|item| collect_material(item, out)),
        Value::Object(map) => map.values().for_each(|item| collect_material(item, out)),
        _ => {}
    }
}
