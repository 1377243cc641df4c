//! What one execution environment builds once at cold start and reuses for every request.

use crate::cache::Cache;
use crate::config::{Config, ConfigError};
use crate::crypto::password::PasswordHasherConfig;
use crate::crypto::pii::{BlindIndex, DataKeys};
use crate::db::Db;
use crate::error::ApiError;
use crate::http::routes::Area;
use crate::tokens::{KeySet, Tokens};

pub struct AppState {
    pub config: Config,
    pub area: Area,
    db: Option<Db>,
    cache: Option<Cache>,
    tokens: Option<Tokens>,
    data_keys: Option<DataKeys>,
    blind_index: Option<BlindIndex>,
    pub passwords: PasswordHasherConfig,
}

/// Which components a function needs: each reads only what its routes use.
struct Needs {
    db: bool,
    cache: bool,
    signing_keys: bool,
    verification_keys: bool,
    personal_data: bool,
}

fn needs(area: Area) -> Needs {
    match area {
        Area::Auth => Needs {
            db: true,
            cache: true,
            signing_keys: true,
            verification_keys: false,
            personal_data: true,
        },
        Area::Users => Needs {
            db: true,
            cache: true,
            signing_keys: false,
            verification_keys: true,
            personal_data: true,
        },
        Area::Health => Needs {
            db: true,
            cache: true,
            signing_keys: false,
            verification_keys: false,
            personal_data: false,
        },
        Area::Greeter => Needs {
            db: false,
            cache: false,
            signing_keys: false,
            verification_keys: false,
            personal_data: false,
        },
    }
}

fn missing(key: &str) -> impl FnOnce() -> ConfigError + '_ {
    move || ConfigError::key(key, "is required by this function")
}

impl AppState {
    /// Builds the state of one function. Connections are not opened here: the pool and Redis
    /// connect on first use, so an outage is a 503 rather than an init error.
    pub fn build(config: Config, area: Area) -> Result<Self, ConfigError> {
        let needs = needs(area);
        let db = needs.db.then(|| Db::new(&config.database)).transpose()?;
        let cache = needs.cache.then(|| Cache::new(&config.redis)).transpose()?;
        let token_config = &config.auth.tokens;
        let keys = if needs.signing_keys {
            let secret = token_config
                .signing_keys
                .as_ref()
                .ok_or_else(missing("auth.tokens.signing_keys"))?;
            Some(KeySet::from_signing(secret)?)
        } else if needs.verification_keys {
            let jwks = token_config
                .verification_keys
                .as_deref()
                .ok_or_else(missing("auth.tokens.verification_keys"))?;
            Some(KeySet::from_public(jwks)?)
        } else {
            None
        };
        let tokens = keys.map(|keys| Tokens::new(keys, token_config));
        let (data_keys, blind_index) = if needs.personal_data {
            (
                Some(DataKeys::from_config(config.crypto.data_keys.as_ref())?),
                Some(BlindIndex::from_config(
                    config.crypto.blind_index_key.as_ref(),
                )?),
            )
        } else {
            (None, None)
        };
        let passwords = PasswordHasherConfig::new(&config.auth.password);
        if area == Area::Auth {
            passwords.warm_up();
        }
        Ok(AppState {
            config,
            area,
            db,
            cache,
            tokens,
            data_keys,
            blind_index,
            passwords,
        })
    }

    pub fn db(&self) -> Result<&Db, ApiError> {
        self.db
            .as_ref()
            .ok_or_else(|| ApiError::internal("database not configured for this function"))
    }

    pub fn cache(&self) -> Result<&Cache, ApiError> {
        self.cache
            .as_ref()
            .ok_or_else(|| ApiError::internal("cache not configured for this function"))
    }

    pub fn tokens(&self) -> Result<&Tokens, ApiError> {
        self.tokens
            .as_ref()
            .ok_or_else(|| ApiError::internal("token keys not configured for this function"))
    }

    pub fn data_keys(&self) -> Result<&DataKeys, ApiError> {
        self.data_keys
            .as_ref()
            .ok_or_else(|| ApiError::internal("data keys not configured for this function"))
    }

    pub fn blind_index(&self) -> Result<&BlindIndex, ApiError> {
        self.blind_index
            .as_ref()
            .ok_or_else(|| ApiError::internal("blind index not configured for this function"))
    }

    pub fn optional_db(&self) -> Option<&Db> {
        self.db.as_ref()
    }

    pub fn optional_cache(&self) -> Option<&Cache> {
        self.cache.as_ref()
    }
}
