//! Secrets from AWS Secrets Manager (or a local file standing in for it): every
//! `secretsmanager:` reference in the configuration fetched in one batch at cold start, cached
//! with a TTL, refreshed when stale or when a caller has reason to think it was rotated, and
//! served from cache for a bounded grace period while refreshes fail.

mod reference;
mod source;
mod store;

pub use reference::{collect, substitute, Binding, Reference};
pub use source::SecretSource;
pub use store::{Freshness, SecretStore, SecretsHealth};

use crate::config::Secret;

/// One secret as fetched: its text (a JSON secret's JSON) and its version id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretValue {
    pub text: Secret,
    pub version: String,
}

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
}
