//! Typed configuration: layered YAML, environment overrides, `${VAR:default}` and validation.
//!
//! Layers, later wins: `config.yaml` → `config.<env>.yaml` (env from `REDLINE_ENV`, default
//! `dev`) → `REDLINE__A__B__C=value` environment variables. The shipped files are embedded in
//! every binary (a Lambda zip holds only `bootstrap`); `REDLINE_CONFIG_DIR` reads them from a
//! directory instead.

mod duration;
mod files;
mod load;
mod model;
mod prod;
mod reference;
mod secret;
mod validate;

pub use duration::parse_duration;
pub use load::{layered, layered_from_env, load, load_from, typed, ConfigSource, Layered};
pub use model::*;
pub use reference::{collect, substitute, Binding, Reference, SecretValue};
pub use secret::Secret;

/// A configuration problem found at start-up; the message names the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {file}: {reason}")]
    File { file: String, reason: String },
    #[error("configuration key {key}: {reason}")]
    Key { key: String, reason: String },
    #[error("environment variable {var}: {reason}")]
    Env { var: String, reason: String },
}

impl ConfigError {
    pub fn key(key: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError::Key {
            key: key.into(),
            reason: reason.into(),
        }
    }
}
