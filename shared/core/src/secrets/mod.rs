//! Secrets from AWS Secrets Manager (or a local file standing in for it): every
//! `secretsmanager:` reference in the configuration fetched in one batch at cold start, cached
//! with a TTL, refreshed when stale or when a caller has reason to think it was rotated, and
//! served from cache for a bounded grace period while refreshes fail.
//!
//! The core knows only the [`Backend`] trait and the local file; Secrets Manager itself is the
//! `redline-secrets-aws` crate, linked by the functions that read secrets and handed in as a
//! [`Reach`], so a function without secrets links no AWS SDK.

mod backend;
mod live;
mod store;

pub use backend::{Backend, Fetched, LocalFile, Reach};
pub use live::Live;
pub use store::{Freshness, SecretStore, SecretsHealth};

use crate::config::{typed, Binding, Config, ConfigError, Layered};

/// Why a fetch failed. Messages name secret ids (not secret) and never a value.
#[derive(Debug, Clone, thiserror::Error)]
pub enum SecretsError {
    #[error("Secrets Manager unreachable while fetching {secret_ids}: {cause}")]
    Unreachable { secret_ids: String, cause: String },
    #[error("secret {secret_id} does not exist")]
    NotFound { secret_id: String },
    #[error("access to secret {secret_id} is denied")]
    AccessDenied { secret_id: String },
    #[error("secret {secret_id} could not be fetched: {cause}")]
    Failed { secret_id: String, cause: String },
    #[error("local secrets file {path}: {cause}")]
    LocalFile { path: String, cause: String },
    /// A reference in a function built without Secrets Manager (the greeter).
    #[error("{secret_ids}: this function is built without Secrets Manager; set secrets.local_file or drop the reference")]
    NotLinked { secret_ids: String },
}

/// A cold start's failure to resolve its configuration: the store could not be read, or what it
/// gave does not build.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// The distinct secret ids of a set of references, in first-seen order.
pub fn secret_ids(bindings: &[Binding]) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    for binding in bindings {
        if !ids.contains(&binding.reference.secret_id) {
            ids.push(binding.reference.secret_id.clone());
        }
    }
    ids
}

/// The typed configuration with every reference fetched once (for event functions and
/// commands, which do not refresh).
pub async fn resolve(layered: Layered, reach: Reach) -> Result<Config, ResolveError> {
    let live = Live::open(layered, reach, typed).await?;
    Ok(Config::clone(&live.current()))
}
