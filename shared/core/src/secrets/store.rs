//! The in-process cache of one execution environment's secrets and of what was built from them.
//!
//! Lambda freezes an environment between invocations, so nothing refreshes in the background:
//! the first request after the TTL refreshes inline (one batch call), and a caller that meets a
//! sign of rotation (an unknown `kid`, a refused database password) asks for a refetch, which is
//! rate-limited so forged input cannot hammer Secrets Manager.

use super::{Backend, ResolveError, SecretsError};
use crate::config::{substitute, ConfigError, SecretValue, SecretsConfig};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Builds what the secrets are for from the resolved configuration tree.
pub type Resolver<T> = Box<dyn Fn(&Value) -> Result<T, ConfigError> + Send + Sync>;

/// How current the cached values are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// Fetched within the TTL.
    Fresh,
    /// Past the TTL and the refresh failed, but inside the grace period: still served.
    Stale,
    /// Past the grace period: no longer served.
    Expired,
}

/// The `secrets` health check's view.
#[derive(Debug, Clone)]
pub struct SecretsHealth {
    pub freshness: Freshness,
    pub count: usize,
    pub age: Duration,
    pub source: &'static str,
    /// The last refresh's failure, if the values have not been refreshed since.
    pub failure: Option<String>,
}

struct State<T> {
    values: HashMap<String, SecretValue>,
    built: Arc<T>,
    generation: u64,
    fetched_at: Instant,
    failure: Option<(Instant, String)>,
    last_refetch: Option<Instant>,
}

pub struct SecretStore<T> {
    source: Box<dyn Backend>,
    settings: SecretsConfig,
    tree: Value,
    ids: Vec<String>,
    resolve: Resolver<T>,
    state: Mutex<State<T>>,
    /// One fetch at a time; a caller that waited finds the others' result.
    fetching: tokio::sync::Mutex<()>,
}

impl<T> SecretStore<T> {
    /// Cold start: fetches every referenced secret in one batch and builds from them.
    pub async fn open(
        source: Box<dyn Backend>,
        settings: SecretsConfig,
        tree: Value,
        ids: Vec<String>,
        resolve: Resolver<T>,
    ) -> Result<Self, ResolveError> {
        let values = fetch_bounded(source.as_ref(), &ids, settings.timeout).await?;
        let built = resolve(&substitute(&tree, &values)?)?;
        Ok(SecretStore {
            source,
            settings,
            tree,
            ids,
            resolve,
            state: Mutex::new(State {
                values,
                built: Arc::new(built),
                generation: 0,
                fetched_at: Instant::now(),
                failure: None,
                last_refetch: None,
            }),
            fetching: tokio::sync::Mutex::new(()),
        })
    }

    fn state(&self) -> MutexGuard<'_, State<T>> {
        // A panic elsewhere cannot leave the state half-written: every write is one assignment.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The newest build and its generation (which grows whenever a secret's value changed).
    pub fn latest(&self) -> (u64, Arc<T>) {
        let state = self.state();
        (state.generation, state.built.clone())
    }

    /// Refreshes when the TTL has passed (at most once per `refetch_interval` while failing).
    pub async fn refresh_if_due(&self) -> Freshness {
        if !self.due(Instant::now()) {
            return Freshness::Fresh;
        }
        let _one = self.fetching.lock().await;
        // Another caller may have refreshed (or failed) while this one waited.
        if self.due(Instant::now()) {
            self.fetch().await;
        }
        self.freshness(Instant::now())
    }

    /// A forced refetch because a value looks rotated. Returns whether anything changed; at
    /// most one per `refetch_interval`, whatever the callers say.
    pub async fn refetch(&self) -> bool {
        let _one = self.fetching.lock().await;
        let before = {
            let mut state = self.state();
            let now = Instant::now();
            if state
                .last_refetch
                .is_some_and(|at| now < at + self.settings.refetch_interval)
            {
                return false;
            }
            state.last_refetch = Some(now);
            state.generation
        };
        self.fetch().await;
        self.state().generation != before
    }

    pub fn health(&self) -> SecretsHealth {
        let now = Instant::now();
        let state = self.state();
        SecretsHealth {
            freshness: self.freshness_of(&state, now),
            count: self.ids.len(),
            age: now.duration_since(state.fetched_at),
            source: self.source.kind(),
            failure: state.failure.as_ref().map(|(_, cause)| cause.clone()),
        }
    }

    fn due(&self, now: Instant) -> bool {
        let state = self.state();
        let stale = now >= state.fetched_at + self.settings.ttl;
        let backing_off = state
            .failure
            .as_ref()
            .is_some_and(|(at, _)| now < *at + self.settings.refetch_interval);
        stale && !backing_off
    }

    fn freshness(&self, now: Instant) -> Freshness {
        self.freshness_of(&self.state(), now)
    }

    fn freshness_of(&self, state: &State<T>, now: Instant) -> Freshness {
        let age = now.duration_since(state.fetched_at);
        if age < self.settings.ttl {
            Freshness::Fresh
        } else if age < self.settings.ttl + self.settings.grace {
            Freshness::Stale
        } else {
            Freshness::Expired
        }
    }

    /// One batch fetch; on success the values (and, if they changed, the build) are replaced.
    /// A failure keeps the cached values and is logged without any value.
    async fn fetch(&self) {
        let outcome =
            match fetch_bounded(self.source.as_ref(), &self.ids, self.settings.timeout).await {
                Ok(values) => self.rebuild_if_changed(values),
                Err(error) => Err(error.to_string()),
            };
        let mut state = self.state();
        match outcome {
            Ok(Some((values, built))) => {
                state.values = values;
                state.built = Arc::new(built);
                state.generation += 1;
                state.fetched_at = Instant::now();
                state.failure = None;
                tracing::info!(generation = state.generation, "secrets changed; applied");
            }
            Ok(None) => {
                state.fetched_at = Instant::now();
                state.failure = None;
            }
            Err(cause) => {
                tracing::warn!(error = %cause, "secrets refresh failed; serving cached values");
                crate::metrics::count(crate::metrics::Metric::DependencyErrors);
                state.failure = Some((Instant::now(), cause));
            }
        }
    }

    #[allow(clippy::type_complexity)]
    fn rebuild_if_changed(
        &self,
        values: HashMap<String, SecretValue>,
    ) -> Result<Option<(HashMap<String, SecretValue>, T)>, String> {
        if values == self.state().values {
            return Ok(None);
        }
        // A new value that does not build (a key missing, a malformed key set) is refused
        // like an unreachable store: the working values stay.
        let resolved = substitute(&self.tree, &values).map_err(|e| e.to_string())?;
        let built = (self.resolve)(&resolved).map_err(|e| e.to_string())?;
        Ok(Some((values, built)))
    }
}

async fn fetch_bounded(
    source: &dyn Backend,
    ids: &[String],
    timeout: Duration,
) -> Result<HashMap<String, SecretValue>, SecretsError> {
    // The SDK bounds each attempt; this bounds the whole batch, retries included.
    match tokio::time::timeout(timeout * 3, source.fetch(ids)).await {
        Ok(result) => result,
        Err(_) => Err(SecretsError::Unreachable {
            secret_ids: ids.join(", "),
            cause: "timed out".into(),
        }),
    }
}
