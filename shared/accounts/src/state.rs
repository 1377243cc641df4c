//! What auth and users build once per execution environment: the configuration, PostgreSQL and
//! Redis, the token keys of their kind, the personal-data keys and the password hasher. Which
//! token keys is a type parameter, so users links no signing code: [`Verifying`] here, `auth`'s
//! own `Signing` in its crate.

use redline_core::config::{typed, Config, ConfigError, Layered, TokenConfig};
use redline_core::error::ApiError;
use redline_core::init_error::InitError;
use redline_core::metrics::{self, Metric};
use redline_core::secrets::{Freshness, Live, Reach, SecretsHealth};
use redline_core::startup::Configured;
use redline_core::Area;
use redline_crypto::password::PasswordHasherConfig;
use redline_crypto::pii::{BlindIndex, DataKeys, PiiError};
use redline_stores::{Cache, Db, Stores};
use redline_tokens::{Claims, KeySet, TokenError, TokenKind, Tokens};
use std::marker::PhantomData;
use std::sync::Arc;

/// Which key set a function's tokens use, read from its configuration.
pub trait KeyKind: Send + Sync + 'static {
    const AREA: Area;
    fn key_set(config: &TokenConfig) -> Result<KeySet, ConfigError>;
}

/// The public JWK Set: verifies tokens, cannot sign them (the `users` function).
pub enum Verifying {}

impl KeyKind for Verifying {
    const AREA: Area = Area::Users;

    fn key_set(config: &TokenConfig) -> Result<KeySet, ConfigError> {
        let jwks = config
            .verification_keys
            .as_deref()
            .ok_or_else(|| required("auth.tokens.verification_keys"))?;
        KeySet::from_public(jwks)
    }
}

pub fn required(key: &str) -> ConfigError {
    ConfigError::key(key, "is required by this function")
}

/// What a function builds from its secrets: replaced whole when a secret changes.
pub struct Keys {
    pub config: Config,
    tokens: Arc<Tokens>,
    data_keys: Arc<DataKeys>,
    blind_index: Arc<BlindIndex>,
}

impl Keys {
    fn build<K: KeyKind>(config: Config) -> Result<Keys, ConfigError> {
        let keys = K::key_set(&config.auth.tokens)?;
        let tokens = Arc::new(Tokens::new(keys, &config.auth.tokens));
        let data_keys = Arc::new(DataKeys::from_config(config.crypto.data_keys.as_ref())?);
        let blind_index = Arc::new(BlindIndex::from_config(
            config.crypto.blind_index_key.as_ref(),
        )?);
        Ok(Keys {
            config,
            tokens,
            data_keys,
            blind_index,
        })
    }
}

pub struct AccountState<K> {
    /// The configuration as it was at cold start (secret-derived parts live in [`Keys`]).
    pub config: Config,
    stores: Stores,
    live: Live<Keys>,
    pub passwords: PasswordHasherConfig,
    kind: PhantomData<K>,
}

impl<K: KeyKind> Configured for AccountState<K> {
    fn config(&self) -> &Config {
        &self.config
    }
}

impl<K: KeyKind> AccountState<K> {
    /// Builds the state from plain values (tests). Connections are not opened here: the pool
    /// and Redis connect on first use, so an outage is a 503 rather than an init error.
    pub fn build(config: Config) -> Result<Self, ConfigError> {
        Self::assemble(Live::fixed(Keys::build::<K>(config)?))
    }

    /// Cold start: resolves the configuration's `secretsmanager:` references (one batch fetch)
    /// and builds the state. An unreachable store or a missing key is an init error.
    pub async fn open(mut layered: Layered, reach: Reach) -> Result<Self, InitError> {
        K::AREA.needs().drop_unneeded(&mut layered.tree);
        let live = Live::open(layered, reach, |tree| Keys::build::<K>(typed(tree)?)).await?;
        Ok(Self::assemble(live)?)
    }

    fn assemble(live: Live<Keys>) -> Result<Self, ConfigError> {
        let config = live.current().config.clone();
        let stores = Stores::open(&config, &live, |keys: &Keys| &keys.config)?;
        let passwords = PasswordHasherConfig::new(&config.auth.password);
        Ok(AccountState {
            config,
            stores,
            live,
            passwords,
            kind: PhantomData,
        })
    }

    /// Called before each request: refreshes the secrets when their TTL has passed and adopts
    /// whatever changed. Never fails the request itself; the answer says how current they are.
    pub async fn sync_secrets(&self) -> Freshness {
        let (freshness, adopted) = self.live.sync().await;
        if let Some(keys) = adopted {
            self.stores.adopt(&keys.config);
        }
        freshness
    }

    /// A forced, rate-limited refetch (an unknown `kid` or key version); true if anything
    /// changed.
    pub async fn refetch_secrets(&self) -> bool {
        let (changed, adopted) = self.live.refetch().await;
        if let Some(keys) = adopted {
            self.stores.adopt(&keys.config);
        }
        changed
    }

    pub fn secrets_health(&self) -> Option<SecretsHealth> {
        self.live.health()
    }

    pub fn db(&self) -> &Db {
        &self.stores.db
    }

    pub fn cache(&self) -> &Cache {
        &self.stores.cache
    }

    pub fn tokens(&self) -> Arc<Tokens> {
        self.live.current().tokens.clone()
    }

    /// Verifies a token; one signed with a `kid` we do not hold may be from a key newer than our
    /// cache, so the key set is refetched (rate-limited) and the token checked once more.
    pub async fn verify_token(&self, token: &str, kind: TokenKind) -> Result<Claims, ApiError> {
        let outcome = match self.tokens().verify(token, kind) {
            Err(TokenError::UnknownKey) if self.refetch_secrets().await => {
                self.tokens().verify(token, kind)
            }
            outcome => outcome,
        };
        outcome.map_err(|e| {
            metrics::count(Metric::TokenRejected);
            match e {
                TokenError::Expired => ApiError::TokenExpired,
                _ => ApiError::TokenInvalid,
            }
        })
    }

    pub fn data_keys(&self) -> Arc<DataKeys> {
        self.live.current().data_keys.clone()
    }

    /// Decrypts personal data; a key version newer than our cache triggers one refetch.
    pub async fn decrypt_pii(&self, field: &str, ciphertext: &[u8]) -> Result<Vec<u8>, ApiError> {
        let outcome = match self.data_keys().decrypt(field, ciphertext) {
            Err(PiiError::UnknownVersion(_)) if self.refetch_secrets().await => {
                self.data_keys().decrypt(field, ciphertext)
            }
            outcome => outcome,
        };
        outcome.map_err(ApiError::internal)
    }

    pub async fn decrypt_pii_string(
        &self,
        field: &str,
        ciphertext: &[u8],
    ) -> Result<String, ApiError> {
        String::from_utf8(self.decrypt_pii(field, ciphertext).await?)
            .map_err(|_| ApiError::internal("personal data is not UTF-8"))
    }

    pub fn blind_index(&self) -> Arc<BlindIndex> {
        self.live.current().blind_index.clone()
    }
}
