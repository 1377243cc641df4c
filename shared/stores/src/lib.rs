//! redline's data stores: the PostgreSQL pool with its migrations, and Redis. Both connect
//! lazily with timeouts, so an outage is a 503 and not an init error, and both follow their
//! credentials through Secrets Manager ([`Stores::open`] wires the refused-login refetch).

pub mod cache;
pub mod db;
pub mod migrator;

pub use cache::{Cache, CacheError};
pub use db::{Db, DbError};

use futures_util::future::BoxFuture;
use redline_core::config::{Config, ConfigError};
use redline_core::secrets::{Live, SecretStore};
use std::sync::Arc;

/// PostgreSQL and Redis of a function that uses both.
pub struct Stores {
    pub db: Db,
    pub cache: Cache,
}

impl Stores {
    /// Builds both from `config` and, when the values come from Secrets Manager, lets a refused
    /// login refetch them (rate-limited) through `live`.
    pub fn open<T: Send + Sync + 'static>(
        config: &Config,
        live: &Live<T>,
        config_of: fn(&T) -> &Config,
    ) -> Result<Self, ConfigError> {
        let db = Db::new(&config.database)?;
        let cache = Cache::new(&config.redis)?;
        if let Some(store) = live.store() {
            db.on_refused_credentials(refetched(store, config_of, |c| &c.database));
            cache.on_refused_credentials(refetched(store, config_of, |c| &c.redis));
        }
        Ok(Stores { db, cache })
    }

    /// Adopts the data-store parts of a configuration rebuilt from changed secrets.
    pub fn adopt(&self, config: &Config) {
        self.db.update(&config.database);
        self.cache.update(&config.redis);
    }
}

/// For a data store whose login was refused: refetches the secrets (rate-limited) and gives its
/// part of the newest configuration.
fn refetched<T: Send + Sync + 'static, P: Clone + Send + 'static>(
    store: &Arc<SecretStore<T>>,
    config_of: fn(&T) -> &Config,
    part: fn(&Config) -> &P,
) -> Arc<dyn Fn() -> BoxFuture<'static, P> + Send + Sync> {
    let store = store.clone();
    Arc::new(move || {
        let store = store.clone();
        Box::pin(async move {
            store.refetch().await;
            part(config_of(&store.latest().1)).clone()
        })
    })
}
