//! What one execution environment builds once at cold start and reuses for every request.

use crate::cache::Cache;
use crate::config::{secret_ids, typed, Config, ConfigError, Layered};
use crate::crypto::password::PasswordHasherConfig;
use crate::crypto::pii::{BlindIndex, DataKeys, PiiError};
use crate::db::Db;
use crate::error::ApiError;
use crate::http::routes::Area;
use crate::secrets::{Freshness, SecretSource, SecretStore, SecretsHealth};
use crate::tokens::{Claims, KeySet, TokenError, TokenKind, Tokens};
use arc_swap::ArcSwap;
use futures_util::future::BoxFuture;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

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

/// Drops the key material a function never reads, so it fetches (and may be allowed) only its
/// own secrets even when a shared configuration layer references them all.
fn unneeded_secrets_removed(tree: &mut serde_json::Value, area: Area) {
    use serde_json::Value;
    let needs = needs(area);
    // What stands in for a dropped value: null where the typed key is optional, and an empty
    // URL for Redis, which a function without Redis accepts.
    let unneeded = [
        (
            "/auth/tokens/signing_keys",
            !needs.signing_keys,
            Value::Null,
        ),
        (
            "/auth/tokens/verification_keys",
            !needs.verification_keys,
            Value::Null,
        ),
        ("/crypto/data_keys", !needs.personal_data, Value::Null),
        ("/crypto/blind_index_key", !needs.personal_data, Value::Null),
        ("/redis/url", !needs.cache, Value::String(String::new())),
    ];
    for (pointer, drop, stand_in) in unneeded {
        if let (true, Some(value)) = (drop, tree.pointer_mut(pointer)) {
            *value = stand_in;
        }
    }
}

/// For a data store whose login was refused: refetches the secrets (rate-limited) and gives its
/// part of the newest configuration.
fn refetched<T: Clone + Send + 'static>(
    store: &Arc<SecretStore<Live>>,
    part: fn(&Config) -> &T,
) -> Arc<dyn Fn() -> BoxFuture<'static, T> + Send + Sync> {
    let store = store.clone();
    Arc::new(move || {
        let store = store.clone();
        Box::pin(async move {
            store.refetch().await;
            part(&store.latest().1.config).clone()
        })
    })
}

/// What a function builds from its secrets: replaced whole when a secret changes.
pub struct Live {
    pub config: Config,
    tokens: Option<Arc<Tokens>>,
    data_keys: Option<Arc<DataKeys>>,
    blind_index: Option<Arc<BlindIndex>>,
}

impl Live {
    fn build(config: Config, area: Area) -> Result<Live, ConfigError> {
        let needs = needs(area);
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
        let tokens = keys.map(|keys| Arc::new(Tokens::new(keys, token_config)));
        let (data_keys, blind_index) = if needs.personal_data {
            (
                Some(Arc::new(DataKeys::from_config(
                    config.crypto.data_keys.as_ref(),
                )?)),
                Some(Arc::new(BlindIndex::from_config(
                    config.crypto.blind_index_key.as_ref(),
                )?)),
            )
        } else {
            (None, None)
        };
        Ok(Live {
            config,
            tokens,
            data_keys,
            blind_index,
        })
    }
}

pub struct AppState {
    /// The configuration as it was at cold start (secret-derived parts live in [`Live`]).
    pub config: Config,
    pub area: Area,
    db: Option<Db>,
    cache: Option<Cache>,
    live: ArcSwap<Live>,
    secrets: Option<Arc<SecretStore<Live>>>,
    /// The store generation `live` and the database pool were built from.
    applied: AtomicU64,
    pub passwords: PasswordHasherConfig,
}

impl AppState {
    /// Builds the state of a function whose configuration holds plain values. Connections are
    /// not opened here: the pool and Redis connect on first use, so an outage is a 503 rather
    /// than an init error.
    pub fn build(config: Config, area: Area) -> Result<Self, ConfigError> {
        let live = Live::build(config, area)?;
        Self::assemble(Arc::new(live), area, None)
    }

    /// Cold start: resolves the configuration's `secretsmanager:` references (one batch fetch)
    /// and builds the function's state. An unreachable store or a missing key is an error here,
    /// which the function reports as its init error.
    pub async fn open(mut layered: Layered, area: Area) -> Result<Self, ConfigError> {
        unneeded_secrets_removed(&mut layered.tree, area);
        let bindings = layered.references()?;
        if bindings.is_empty() {
            return Self::build(typed(&layered.tree)?, area);
        }
        let source = SecretSource::from_config(&layered.secrets).await;
        let store = SecretStore::open(
            source,
            layered.secrets.clone(),
            layered.tree,
            secret_ids(&bindings),
            Box::new(move |tree| Live::build(typed(tree)?, area)),
        )
        .await?;
        let live = store.latest().1;
        Self::assemble(live, area, Some(Arc::new(store)))
    }

    fn assemble(
        live: Arc<Live>,
        area: Area,
        secrets: Option<Arc<SecretStore<Live>>>,
    ) -> Result<Self, ConfigError> {
        let config = live.config.clone();
        let needs = needs(area);
        let db = needs.db.then(|| Db::new(&config.database)).transpose()?;
        let cache = needs.cache.then(|| Cache::new(&config.redis)).transpose()?;
        if let (Some(db), Some(store)) = (&db, &secrets) {
            db.on_refused_credentials(refetched(store, |config| &config.database));
        }
        if let (Some(cache), Some(store)) = (&cache, &secrets) {
            cache.on_refused_credentials(refetched(store, |config| &config.redis));
        }
        let passwords = PasswordHasherConfig::new(&config.auth.password);
        if area == Area::Auth {
            passwords.warm_up();
        }
        Ok(AppState {
            config,
            area,
            db,
            cache,
            live: ArcSwap::new(live),
            secrets,
            applied: AtomicU64::new(0),
            passwords,
        })
    }

    /// Called before each request: refreshes the secrets when their TTL has passed and adopts
    /// whatever changed. Never fails the request itself; the answer says how current they are.
    pub async fn sync_secrets(&self) -> Freshness {
        let Some(store) = &self.secrets else {
            return Freshness::Fresh;
        };
        let freshness = store.refresh_if_due().await;
        self.adopt_latest(store);
        freshness
    }

    /// A forced, rate-limited refetch (an unknown `kid` or key version); true if anything
    /// changed.
    pub async fn refetch_secrets(&self) -> bool {
        let Some(store) = &self.secrets else {
            return false;
        };
        let changed = store.refetch().await;
        self.adopt_latest(store);
        changed
    }

    fn adopt_latest(&self, store: &SecretStore<Live>) {
        let (generation, live) = store.latest();
        if self.applied.swap(generation, Ordering::AcqRel) == generation {
            return;
        }
        if let Some(db) = &self.db {
            db.update(&live.config.database);
        }
        if let Some(cache) = &self.cache {
            cache.update(&live.config.redis);
        }
        self.live.store(live);
    }

    /// The `secrets` health check's input; none when no value comes from Secrets Manager.
    pub fn secrets_health(&self) -> Option<SecretsHealth> {
        self.secrets
            .as_ref()
            .map(|store| store.health())
            .filter(|health| health.source == "aws")
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

    pub fn tokens(&self) -> Result<Arc<Tokens>, ApiError> {
        self.live
            .load()
            .tokens
            .clone()
            .ok_or_else(|| ApiError::internal("token keys not configured for this function"))
    }

    /// Verifies a token; one signed with a `kid` we do not hold may be from a key newer than our
    /// cache, so the key set is refetched (rate-limited) and the token checked once more.
    pub async fn verify_token(&self, token: &str, kind: TokenKind) -> Result<Claims, ApiError> {
        let outcome = match self.tokens()?.verify(token, kind) {
            Err(TokenError::UnknownKey) if self.refetch_secrets().await => {
                self.tokens()?.verify(token, kind)
            }
            outcome => outcome,
        };
        outcome.map_err(|e| match e {
            TokenError::Expired => ApiError::TokenExpired,
            _ => ApiError::TokenInvalid,
        })
    }

    pub fn data_keys(&self) -> Result<Arc<DataKeys>, ApiError> {
        self.live
            .load()
            .data_keys
            .clone()
            .ok_or_else(|| ApiError::internal("data keys not configured for this function"))
    }

    /// Decrypts personal data; a key version newer than our cache triggers one refetch.
    pub async fn decrypt_pii(&self, field: &str, ciphertext: &[u8]) -> Result<Vec<u8>, ApiError> {
        let outcome = match self.data_keys()?.decrypt(field, ciphertext) {
            Err(PiiError::UnknownVersion(_)) if self.refetch_secrets().await => {
                self.data_keys()?.decrypt(field, ciphertext)
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

    pub fn blind_index(&self) -> Result<Arc<BlindIndex>, ApiError> {
        self.live
            .load()
            .blind_index
            .clone()
            .ok_or_else(|| ApiError::internal("blind index not configured for this function"))
    }

    pub fn optional_db(&self) -> Option<&Db> {
        self.db.as_ref()
    }

    pub fn optional_cache(&self) -> Option<&Cache> {
        self.cache.as_ref()
    }
}
