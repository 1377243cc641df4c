//! What `prod` refuses, so that no development shortcut or debugging aid reaches a production
//! stack by a forgotten variable: a disabled or fixed captcha, the outbox, unencrypted database
//! connections, shipped key material, a local secrets file, Argon2 parameters below the shipped
//! ones, and logging that would write request bodies (`trace` anywhere, `debug` for the Lambda
//! runtime crates, which log raw events).

use super::files::embedded_file;
use super::{CaptchaDelivery, Config, ConfigError, PasswordConfig, SslMode};
use serde_json::Value;
use std::str::FromStr;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;

pub(super) fn check_prod(config: &Config) -> Result<(), ConfigError> {
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
    if config
        .secrets
        .local_file
        .as_deref()
        .is_some_and(|path| !path.is_empty())
    {
        return Err(ConfigError::key(
            "secrets.local_file",
            "prod refuses a local secrets file: secrets come from Secrets Manager",
        ));
    }
    check_password_floor(&config.auth.password)?;
    check_log_level(&config.log.level)?;
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

/// The Argon2id parameters `config.yaml` ships (OWASP's minimum), compiled in: prod may raise
/// each, never lower one.
fn check_password_floor(password: &PasswordConfig) -> Result<(), ConfigError> {
    let floor = shipped_password();
    let below = [
        ("memory_kib", password.memory_kib, floor.memory_kib),
        ("iterations", password.iterations, floor.iterations),
        ("parallelism", password.parallelism, floor.parallelism),
    ];
    for (name, value, least) in below {
        if value < least {
            return Err(ConfigError::key(
                format!("auth.password.{name}"),
                format!("prod refuses Argon2 parameters below the shipped ones ({least})"),
            ));
        }
    }
    Ok(())
}

/// Parsed once per process: every secrets refresh validates the configuration again.
fn shipped_password() -> &'static PasswordConfig {
    static SHIPPED: std::sync::OnceLock<PasswordConfig> = std::sync::OnceLock::new();
    SHIPPED.get_or_init(parse_shipped_password)
}

fn parse_shipped_password() -> PasswordConfig {
    let layer = config::Config::builder()
        .add_source(config::File::from_str(
            embedded_file("config.yaml").expect("config.yaml is embedded"),
            config::FileFormat::Yaml,
        ))
        .build()
        .expect("the shipped config.yaml parses");
    layer
        .get::<PasswordConfig>("auth.password")
        .expect("the shipped config.yaml has auth.password")
}

/// Crates that log whole Lambda events (headers, bodies: passwords, tokens) at debug or trace.
const RAW_EVENT_LOGGERS: [&str; 2] = ["lambda_runtime", "lambda_http"];

fn check_log_level(level: &str) -> Result<(), ConfigError> {
    let refuse = |reason: &str| Err(ConfigError::key("log.level", reason.to_string()));
    let Ok(targets) = Targets::from_str(level) else {
        return refuse("is not a tracing filter such as `info` or `info,redline_core=debug`");
    };
    let default_is_trace = targets.default_level() == Some(LevelFilter::TRACE);
    if default_is_trace || targets.iter().any(|(_, l)| l == LevelFilter::TRACE) {
        return refuse("prod refuses trace logging: it can write request bodies");
    }
    if let Some(target) = RAW_EVENT_LOGGERS
        .iter()
        .find(|target| targets.would_enable(target, &tracing::Level::DEBUG))
    {
        return refuse(&format!(
            "prod refuses debug logging for {target}: it logs raw events \
             (add `{target}=info` to the filter)"
        ));
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
