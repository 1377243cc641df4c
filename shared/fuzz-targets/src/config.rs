//! Configuration loading: a base layer and an environment overlay (YAML, fuzzed), the
//! `${VAR:default}` placeholders, an environment override, then the typed and validated
//! configuration. Input: one byte choosing dev, test or prod, then the base layer, a NUL, and the
//! overlay. No file is read and no process variable is seen.

use crate::split_nul;
use redline_core::config::{layered, ConfigSource, Environment};
use std::collections::HashMap;

const ENVIRONMENTS: [(&str, Environment); 3] = [
    ("dev", Environment::Dev),
    ("test", Environment::Test),
    ("prod", Environment::Prod),
];

/// The override the loader must apply over both layers, whatever they say.
const LOGIN_LIMIT_VAR: &str = "REDLINE__RATE_LIMITS__LOGIN";
const LOGIN_LIMIT: u32 = 7;

pub fn fuzz(data: &[u8]) {
    let Some((&selector, layers)) = data.split_first() else {
        return;
    };
    let (name, env) = ENVIRONMENTS[usize::from(selector) % ENVIRONMENTS.len()];
    let (base, overlay) = split_nul(layers);
    let source = ConfigSource::Inline {
        base: String::from_utf8_lossy(base).into_owned(),
        env: String::from_utf8_lossy(overlay.unwrap_or_default()).into_owned(),
    };
    let vars: HashMap<String, String> = [
        ("REDLINE_ENV", name),
        ("PGHOST", "db.internal"),
        // A value holding a placeholder is not expanded again.
        ("FUZZ_NESTED", "${PGHOST}"),
        (LOGIN_LIMIT_VAR, "7"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();

    match layered(&source, &vars).map(|l| l.plain()) {
        Err(error) | Ok(Err(error)) => assert!(!error.to_string().is_empty()),
        Ok(Ok(config)) => {
            assert_eq!(config.env, env, "REDLINE_ENV decides the environment");
            assert_eq!(
                config.rate_limits.login, LOGIN_LIMIT,
                "an environment override wins over both files"
            );
        }
    }
}
