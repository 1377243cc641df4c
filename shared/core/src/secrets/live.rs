//! What a function builds from its configuration once secrets are in place, kept current: built
//! at cold start, swapped whole when a refresh brings a changed secret.

use super::{secret_ids, Freshness, Reach, ResolveError, SecretStore, SecretsHealth};
use crate::config::{ConfigError, Layered};
use arc_swap::ArcSwap;
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

pub struct Live<T> {
    store: Option<Arc<SecretStore<T>>>,
    current: ArcSwap<T>,
    /// The store generation `current` was taken from.
    applied: AtomicU64,
}

impl<T: Send + Sync + 'static> Live<T> {
    /// A build from plain values: nothing to refresh.
    pub fn fixed(value: T) -> Self {
        Live {
            store: None,
            current: ArcSwap::from_pointee(value),
            applied: AtomicU64::new(0),
        }
    }

    /// Cold start: fetches every referenced secret in one batch (none when the configuration
    /// holds plain values) and builds from the resolved tree.
    pub async fn open(
        layered: Layered,
        reach: Reach,
        build: impl Fn(&Value) -> Result<T, ConfigError> + Send + Sync + 'static,
    ) -> Result<Self, ResolveError> {
        let bindings = layered.references()?;
        if bindings.is_empty() {
            return Ok(Self::fixed(build(&layered.tree)?));
        }
        let backend = reach.backend(&layered.secrets).await;
        let store = SecretStore::open(
            backend,
            layered.secrets.clone(),
            layered.tree,
            secret_ids(&bindings),
            Box::new(build),
        )
        .await?;
        let (generation, built) = store.latest();
        Ok(Live {
            store: Some(Arc::new(store)),
            current: ArcSwap::new(built),
            applied: AtomicU64::new(generation),
        })
    }

    pub fn current(&self) -> Arc<T> {
        self.current.load_full()
    }

    /// The store behind these values, for the data stores' refused-login refetch.
    pub fn store(&self) -> Option<&Arc<SecretStore<T>>> {
        self.store.as_ref()
    }

    /// Called before each request: refreshes when the TTL has passed. Gives how current the
    /// values are and, when a changed build was adopted, that build.
    pub async fn sync(&self) -> (Freshness, Option<Arc<T>>) {
        let Some(store) = &self.store else {
            return (Freshness::Fresh, None);
        };
        let freshness = store.refresh_if_due().await;
        (freshness, self.adopt_latest(store))
    }

    /// A forced, rate-limited refetch (an unknown `kid` or key version): whether anything
    /// changed, and the build adopted if so.
    pub async fn refetch(&self) -> (bool, Option<Arc<T>>) {
        let Some(store) = &self.store else {
            return (false, None);
        };
        let changed = store.refetch().await;
        (changed, self.adopt_latest(store))
    }

    fn adopt_latest(&self, store: &SecretStore<T>) -> Option<Arc<T>> {
        let (generation, built) = store.latest();
        if self.applied.swap(generation, Ordering::AcqRel) == generation {
            return None;
        }
        self.current.store(built.clone());
        Some(built)
    }

    /// The `secrets` health check's input; none when no value comes from Secrets Manager.
    pub fn health(&self) -> Option<SecretsHealth> {
        self.store
            .as_ref()
            .map(|store| store.health())
            .filter(|health| health.source == "aws")
    }
}
