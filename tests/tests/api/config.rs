//! Configuration: layers, overrides, `${VAR:default}`, durations, validation, prod refusals.

use redline_core::config::{Config, ConfigSource, Environment, SslMode};
use redline_core::http::routes::RateGroup;
use redline_core::init_error::InitError;
use redline_core::Area;
use redline_tests::areas::{self, load_resolved_from};
use std::collections::HashMap;
use std::time::Duration;

const PROD_SIGNING: &str = r#"{"keys":[{"kid":"prod-2026-11","alg":"EdDSA","private_key":"MC4CAQAwBQYDK2VwBCIEID7/AanzjXukYMV70BENchM3Vm/yR5XaBzNIYBdPZJOh"}]}"#;
const PROD_DATA_KEYS: &str =
    r#"{"current":1,"keys":{"1":"R4esEQCfiO7VIIeq3MXkqgVZOFlN2T/VdzuOE6u6m7I="}}"#;
const PROD_INDEX_KEY: &str = "a+4FE+oVT1ZJrKIWHX9LIfb6zSLMJ3jmpVnhhWJ4R3Q=";

/// Loads as a function does, references resolved; the dev layer's from the shipped local file.
fn load(vars: &HashMap<String, String>) -> Result<Config, InitError> {
    load_in(&ConfigSource::Embedded, vars)
}

fn load_in(source: &ConfigSource, vars: &HashMap<String, String>) -> Result<Config, InitError> {
    let mut vars = vars.clone();
    vars.entry("REDLINE_SECRETS_FILE".into())
        .or_insert_with(|| {
            concat!(env!("CARGO_MANIFEST_DIR"), "/../configs/secrets.dev.json").into()
        });
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(load_resolved_from(source, &vars))
}

fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn prod_vars(extra: &[(&str, &str)]) -> HashMap<String, String> {
    let mut all = vars(&[
        ("REDLINE_ENV", "prod"),
        ("DB_HOST", "db.internal"),
        ("DB_PASSWORD", "pw"),
        ("DB_CA_FILE", "/etc/ssl/certs/ca-certificates.crt"),
        ("REDIS_URL", "rediss://cache.internal:6379"),
        ("REDLINE__AUTH__TOKENS__SIGNING_KEYS", PROD_SIGNING),
        ("REDLINE__CRYPTO__DATA_KEYS", PROD_DATA_KEYS),
        ("REDLINE__CRYPTO__BLIND_INDEX_KEY", PROD_INDEX_KEY),
    ]);
    all.extend(vars(extra));
    all
}

fn error_of(vars: HashMap<String, String>) -> String {
    load(&vars)
        .expect_err("configuration is refused")
        .to_string()
}

#[test]
fn shipped_environments_load_with_the_contract_defaults() {
    let dev = load(&HashMap::new()).unwrap();
    assert_eq!(dev.env, Environment::Dev);
    assert_eq!(
        dev.auth
            .captcha
            .fixed_code
            .as_ref()
            .map(|c| c.expose().to_string()),
        Some("424242".into())
    );
    assert_eq!(dev.auth.captcha.ttl, Duration::from_secs(300));
    assert_eq!(dev.auth.captcha.max_guesses, 5);
    assert_eq!(dev.auth.lockout.max_attempts, 5);
    assert_eq!(dev.auth.lockout.window, Duration::from_secs(900));
    assert_eq!(dev.auth.lockout.duration, Duration::from_secs(1800));
    assert_eq!(dev.auth.tokens.access_ttl, Duration::from_secs(900));
    assert_eq!(dev.auth.tokens.refresh_ttl, Duration::from_secs(7 * 86400));
    assert_eq!(dev.auth.tokens.session_max, Duration::from_secs(30 * 86400));
    assert_eq!(
        (
            dev.auth.tokens.issuer.as_str(),
            dev.auth.tokens.audience.as_str()
        ),
        ("redline", "redline-api")
    );
    assert_eq!(
        RateGroup::ALL.map(|group| dev.rate_limits.per_minute(group)),
        [10, 10, 5, 60, 30]
    );

    let test = load(&vars(&[("REDLINE_ENV", "test")])).unwrap();
    assert!(RateGroup::ALL
        .iter()
        .all(|group| test.rate_limits.per_minute(*group) >= 1000));

    let prod = load(&prod_vars(&[])).unwrap();
    assert_eq!(prod.env, Environment::Prod);
    assert_eq!(prod.database.host, "db.internal");
    assert_eq!(prod.database.sslmode, SslMode::VerifyFull);
    assert!(prod.auth.captcha.enabled && prod.auth.captcha.fixed_code.is_none());
}

#[test]
fn environment_variables_override_and_are_typed() {
    let config = load(&vars(&[
        ("REDLINE__AUTH__CAPTCHA__TTL", "30s"),
        ("REDLINE__DATABASE__PORT", "6543"),
        ("REDLINE__RATE_LIMITS__LOGIN", "42"),
        ("REDLINE__AUTH__CAPTCHA__ENABLED", "false"),
        ("REDLINE__AUTH__CAPTCHA__FIXED_CODE", "123456"),
        ("PGHOST", "10.1.2.3"),
    ]))
    .unwrap();
    assert_eq!(config.auth.captcha.ttl, Duration::from_secs(30));
    assert_eq!(config.database.port, 6543);
    assert_eq!(config.rate_limits.login, 42);
    assert!(!config.auth.captcha.enabled);
    assert_eq!(config.auth.captcha.fixed_code.unwrap().expose(), "123456");
    assert_eq!(
        config.database.host, "10.1.2.3",
        "from ${{PGHOST:127.0.0.1}}"
    );
}

#[test]
fn errors_name_the_key() {
    let cases = [
        (
            vars(&[("REDLINE__AUTH__CAPTCHA__TTL", "soon")]),
            "auth.captcha.ttl",
        ),
        (
            vars(&[("REDLINE__AUTH__LOCKOUT__MAX_ATTEMPTS", "many")]),
            "auth.lockout.max_attempts",
        ),
        (
            vars(&[("REDLINE__AUTH__LOCKOUT__MAX_ATTEMPTS", "0")]),
            "auth.lockout.max_attempts",
        ),
        (vars(&[("REDLINE__AUTH__CAPTCHA__TTLL", "5s")]), "ttll"),
        (
            vars(&[("REDLINE__AUTH__TOKENS__SESSION_MAX", "1d")]),
            "auth.tokens.session_max",
        ),
        (
            vars(&[("REDLINE__AUTH__CAPTCHA__FIXED_CODE", "12")]),
            "auth.captcha.fixed_code",
        ),
        (
            vars(&[("REDLINE__DATABASE__SSLMODE", "prefer")]),
            "database.sslmode",
        ),
        (
            vars(&[("REDLINE__AUTH__PASSWORD__MEMORY_KIB", "1")]),
            "auth.password",
        ),
        (vars(&[("REDLINE_ENV", "staging")]), "REDLINE_ENV"),
    ];
    for (vars, key) in cases {
        let message = error_of(vars.clone());
        assert!(
            message.contains(key),
            "{key} not named in: {message} ({vars:?})"
        );
    }
    // prod's data-store values default to empty: a function that needs one refuses to start.
    let without_host: HashMap<String, String> = prod_vars(&[])
        .into_iter()
        .filter(|(k, _)| k != "DB_HOST")
        .collect();
    let config = load(&without_host).unwrap();
    let error = areas::build(config.clone(), Area::Auth)
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("database.host"), "{error}");
    assert!(
        areas::build(config, Area::Greeter).is_ok(),
        "greeter needs no database"
    );
    let without_redis: HashMap<String, String> = prod_vars(&[])
        .into_iter()
        .filter(|(k, _)| k != "REDIS_URL")
        .collect();
    let config = load(&without_redis).unwrap();
    let error = areas::build(config, Area::Health)
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("redis.url"), "{error}");
    let mut config = load(&vars(&[("REDLINE_ENV", "test")])).unwrap();
    config.redis.url = redline_core::config::Secret::new("http://x");
    let error = areas::build(config, Area::Auth).err().unwrap().to_string();
    assert!(error.contains("redis.url"), "{error}");
}

#[test]
fn a_key_rotation_shorter_than_refresh_lifetime_plus_cache_ttl_is_refused() {
    // refresh_ttl 7d + secrets.ttl 5m: a rotation every 7 days would drop a key while tokens
    // it signed still live.
    let message = error_of(vars(&[("REDLINE__AUTH__TOKENS__KEY_ROTATION", "7d")]));
    assert!(message.contains("auth.tokens.key_rotation"), "{message}");
    assert!(message.contains("refresh_ttl"), "{message}");
    let message = error_of(vars(&[
        ("REDLINE__AUTH__TOKENS__KEY_ROTATION", "8d"),
        ("REDLINE__SECRETS__TTL", "2d"),
    ]));
    assert!(message.contains("auth.tokens.key_rotation"), "{message}");
    let config = load(&vars(&[("REDLINE__AUTH__TOKENS__KEY_ROTATION", "30d")])).unwrap();
    assert_eq!(
        config.auth.tokens.key_rotation,
        Some(Duration::from_secs(30 * 86400))
    );
    let config = load(&vars(&[("REDLINE__AUTH__TOKENS__KEY_ROTATION", "7d5m")]));
    assert!(config.is_err(), "durations are one number and one unit");
}

#[test]
fn prod_refuses_development_shortcuts() {
    let dev = load(&HashMap::new()).unwrap();
    let dev_keys = dev.auth.tokens.signing_keys.unwrap().expose().to_string();
    let dev_data = dev.crypto.data_keys.unwrap().expose().to_string();
    let dev_public = dev.auth.tokens.verification_keys.unwrap();
    let dev_index = dev.crypto.blind_index_key.unwrap().expose().to_string();
    let cases = [
        (
            vec![("REDLINE__AUTH__CAPTCHA__ENABLED", "false")],
            "auth.captcha.enabled",
        ),
        (
            vec![("REDLINE__AUTH__CAPTCHA__FIXED_CODE", "424242")],
            "auth.captcha.fixed_code",
        ),
        (
            vec![("REDLINE__AUTH__CAPTCHA__DELIVERY", "outbox")],
            "auth.captcha.delivery",
        ),
        (
            vec![("REDLINE__DATABASE__SSLMODE", "disable")],
            "database.sslmode",
        ),
        (
            vec![("REDLINE__AUTH__TOKENS__SIGNING_KEYS", dev_keys.as_str())],
            "auth.tokens.signing_keys",
        ),
        (
            vec![("REDLINE__CRYPTO__DATA_KEYS", dev_data.as_str())],
            "crypto.data_keys",
        ),
        (
            vec![(
                "REDLINE__AUTH__TOKENS__VERIFICATION_KEYS",
                dev_public.as_str(),
            )],
            "auth.tokens.verification_keys",
        ),
        (
            vec![("REDLINE__CRYPTO__BLIND_INDEX_KEY", dev_index.as_str())],
            "crypto.blind_index_key",
        ),
        (
            vec![(
                "REDLINE__AUTH__TOKENS__SIGNING_KEYS",
                r#"{"keys":[{"kid": "dev-copy","alg":"EdDSA","private_key":"x"}]}"#,
            )],
            "auth.tokens.signing_keys",
        ),
        (
            vec![("REDLINE__SECRETS__LOCAL_FILE", "configs/secrets.dev.json")],
            "secrets.local_file",
        ),
        (
            vec![("REDLINE__AUTH__PASSWORD__MEMORY_KIB", "19455")],
            "auth.password.memory_kib",
        ),
        (
            vec![("REDLINE__AUTH__PASSWORD__ITERATIONS", "1")],
            "auth.password.iterations",
        ),
        (vec![("REDLINE__LOG__LEVEL", "trace")], "log.level"),
        (
            vec![("REDLINE__LOG__LEVEL", "info,redline_core=trace")],
            "log.level",
        ),
        (vec![("REDLINE__LOG__LEVEL", "debug")], "log.level"),
        (
            vec![("REDLINE__LOG__LEVEL", "debug,lambda_runtime=info")],
            "log.level",
        ),
        (
            vec![("REDLINE__LOG__LEVEL", "info,lambda_http=debug")],
            "log.level",
        ),
    ];
    for (overrides, key) in cases {
        let message = error_of(prod_vars(&overrides));
        assert!(
            message.contains(key) && message.contains("prod"),
            "{key}: {message}"
        );
    }
}

#[test]
fn prod_takes_stronger_hashing_and_debug_logging_that_keeps_raw_events_out() {
    let config = load(&prod_vars(&[
        ("REDLINE__AUTH__PASSWORD__MEMORY_KIB", "65536"),
        ("REDLINE__AUTH__PASSWORD__ITERATIONS", "3"),
        (
            "REDLINE__LOG__LEVEL",
            "debug,lambda_runtime=info,lambda_http=warn",
        ),
        ("REDLINE__SECRETS__LOCAL_FILE", ""),
    ]))
    .unwrap();
    assert_eq!(config.auth.password.memory_kib, 65536);
}

#[test]
fn inside_lambda_a_missing_redline_env_is_an_error_not_dev() {
    let inside = vars(&[("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9001")]);
    let message = error_of(inside);
    assert!(
        message.contains("REDLINE_ENV") && message.contains("required inside Lambda"),
        "{message}"
    );
    // Outside Lambda (a developer's shell, the tests) it stays the dev default.
    assert_eq!(load(&vars(&[])).unwrap().env, Environment::Dev);
}

#[test]
fn a_config_directory_replaces_the_embedded_files() {
    let dir = std::env::temp_dir().join(format!("redline-config-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let base = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../configs/config.yaml"
    ))
    .unwrap();
    std::fs::write(
        dir.join("config.yaml"),
        base.replace("name: redline", "name: from-disk"),
    )
    .unwrap();
    std::fs::copy(
        concat!(env!("CARGO_MANIFEST_DIR"), "/../configs/config.dev.yaml"),
        dir.join("config.dev.yaml"),
    )
    .unwrap();
    let config = load_in(&ConfigSource::Dir(dir.clone()), &HashMap::new()).unwrap();
    assert_eq!(config.service.name, "from-disk");
    std::fs::remove_file(dir.join("config.dev.yaml")).unwrap();
    let message = load_in(&ConfigSource::Dir(dir.clone()), &HashMap::new())
        .err()
        .unwrap()
        .to_string();
    assert!(message.contains("config.dev.yaml"), "{message}");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn secrets_never_show_in_debug_output() {
    let config = load(&prod_vars(&[])).unwrap();
    let debug = format!("{config:?}");
    for secret in ["\"pw\"", "MC4CAQAw", "R4esEQCf", PROD_INDEX_KEY] {
        assert!(!debug.contains(secret), "{secret} leaked into Debug");
    }
}

#[test]
fn each_function_requires_only_its_own_keys() {
    let mut config = load(&vars(&[("REDLINE_ENV", "test")])).unwrap();
    config.auth.tokens.signing_keys = None;
    // users verifies with the public set and never needs the private one.
    assert!(areas::build(config.clone(), Area::Users).is_ok());
    let error = areas::build(config.clone(), Area::Auth)
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("auth.tokens.signing_keys"), "{error}");
    config.auth.tokens.verification_keys = None;
    let error = areas::build(config.clone(), Area::Users)
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("auth.tokens.verification_keys"), "{error}");
    config.crypto.data_keys = None;
    assert!(areas::build(config.clone(), Area::Health).is_ok());
    assert!(areas::build(config, Area::Greeter).is_ok());
}

#[test]
fn a_function_fetches_only_the_secrets_it_reads() {
    use redline_core::config::layered;
    // The dev layer references every key; the file is missing, so any fetch fails.
    let file_vars = vars(&[("REDLINE_SECRETS_FILE", "/nonexistent/secrets.json")]);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let open = |area| {
        let layered = layered(&ConfigSource::Embedded, &file_vars).unwrap();
        runtime.block_on(areas::open(layered, area))
    };
    assert!(open(Area::Greeter).is_ok(), "greeter reads no secret");
    assert!(open(Area::Health).is_ok(), "health reads no key material");
    for area in [Area::Auth, Area::Users] {
        let error = open(area).expect_err("auth and users fetch").to_string();
        assert!(error.contains("/nonexistent/secrets.json"), "{error}");
    }

    // A Redis URL from a secret is fetched by the functions that use Redis, not the greeter.
    let redis_vars = vars(&[
        ("REDLINE_SECRETS_FILE", "/nonexistent/secrets.json"),
        ("REDLINE__REDIS__URL", "secretsmanager:redis#url"),
    ]);
    let open = |area| {
        let layered = layered(&ConfigSource::Embedded, &redis_vars).unwrap();
        runtime.block_on(areas::open(layered, area))
    };
    assert!(open(Area::Greeter).is_ok(), "greeter uses no Redis");
    let error = open(Area::Health).expect_err("health fetches the Redis URL");
    assert!(
        error.to_string().contains("/nonexistent/secrets.json"),
        "{error}"
    );
}
