//! Redis: one auto-reconnecting multiplexed connection per execution environment, created on
//! first use so a Redis outage at cold start is a 503, not an init failure. When the URL changes
//! (a rotated AUTH token in a secret) the connection is replaced, and a refused login asks the
//! secret store once for newer credentials.

use arc_swap::ArcSwap;
use futures_util::future::BoxFuture;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redline_core::config::{ConfigError, RedisConfig};
use redline_core::error::{ApiError, Unavailable};
use redline_core::metrics::{self, Metric};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::OnceCell;

#[derive(Debug, thiserror::Error)]
#[error("redis unavailable: {0}")]
pub struct CacheError(pub String);

impl From<redis::RedisError> for CacheError {
    fn from(error: redis::RedisError) -> Self {
        CacheError(error.to_string())
    }
}

impl From<CacheError> for ApiError {
    fn from(error: CacheError) -> Self {
        ApiError::Unavailable(Unavailable::Cache(error.0))
    }
}

/// How a bounded command failed: a broken connection is worth one retry, a refused login one
/// retry with refetched credentials, nothing else any.
enum Retry {
    Connection(String),
    Refused(String),
    Final(String),
}

impl From<Retry> for CacheError {
    fn from(retry: Retry) -> Self {
        match retry {
            Retry::Connection(e) | Retry::Refused(e) | Retry::Final(e) => CacheError(e),
        }
    }
}

/// Asked, after the server refused the login, for the newest Redis configuration (the secret
/// store refetches, rate-limited).
pub type RedisRefetch = Arc<dyn Fn() -> BoxFuture<'static, RedisConfig> + Send + Sync>;

/// One client and its connection, replaced whole when the URL changes.
struct Connection {
    client: redis::Client,
    manager: OnceCell<ConnectionManager>,
}

pub struct Cache {
    connection: ArcSwap<Connection>,
    /// What `connection` was built from: (url, ca_file).
    login: Mutex<(String, Option<String>)>,
    refetch: OnceLock<RedisRefetch>,
    prefix: String,
    connect_timeout: Duration,
    response_timeout: Duration,
}

fn client(config: &RedisConfig) -> Result<redis::Client, ConfigError> {
    let url = config.url.expose();
    if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
        return Err(ConfigError::key(
            "redis.url",
            "is required by this function and must start with redis:// or rediss://",
        ));
    }
    match &config.ca_file {
        Some(path) => {
            let root = std::fs::read(path).map_err(|e| {
                ConfigError::key("redis.ca_file", format!("cannot read {path}: {e}"))
            })?;
            redis::Client::build_with_tls(
                url,
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(root),
                },
            )
        }
        None => redis::Client::open(url),
    }
    // The URL may hold a password: say what is wrong without echoing it.
    .map_err(|e| {
        ConfigError::key(
            "redis.url",
            format!("not a valid Redis URL ({:?})", e.kind()),
        )
    })
}

fn login(config: &RedisConfig) -> (String, Option<String>) {
    (config.url.expose().to_string(), config.ca_file.clone())
}

/// The server refused this login: a wrong password (`WRONGPASS`), or none where one is needed.
fn refused_login(error: &redis::RedisError) -> bool {
    error.kind() == redis::ErrorKind::AuthenticationFailed
        || matches!(error.code(), Some("WRONGPASS" | "NOAUTH"))
}

impl Cache {
    pub fn new(config: &RedisConfig) -> Result<Self, ConfigError> {
        let client = client(config)?;
        Ok(Cache {
            connection: ArcSwap::from_pointee(Connection {
                client,
                manager: OnceCell::new(),
            }),
            login: Mutex::new(login(config)),
            refetch: OnceLock::new(),
            prefix: config.key_prefix.clone(),
            connect_timeout: config.connect_timeout,
            response_timeout: config.response_timeout,
        })
    }

    /// Where to turn when the server refuses the login: set once, by the function's state.
    pub fn on_refused_credentials(&self, refetch: RedisRefetch) {
        let _ = self.refetch.set(refetch);
    }

    /// Adopts a new configuration; the connection is replaced only if the URL (with its
    /// credentials) or the CA changed. Returns whether it was.
    pub fn update(&self, config: &RedisConfig) -> bool {
        let mut current = self
            .login
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let next = login(config);
        if *current == next {
            return false;
        }
        match client(config) {
            Ok(client) => {
                self.connection.store(Arc::new(Connection {
                    client,
                    manager: OnceCell::new(),
                }));
                *current = next;
                tracing::info!("redis credentials changed; new connections use them");
                true
            }
            Err(error) => {
                tracing::error!(error = %error, "new redis configuration refused");
                false
            }
        }
    }

    /// After a refused login: refetches (rate-limited) and adopts newer credentials, if any.
    async fn renewed_credentials(&self) -> bool {
        match self.refetch.get() {
            Some(refetch) => {
                let latest = refetch().await;
                self.update(&latest)
            }
            None => false,
        }
    }

    /// `<prefix><name>`: every key this deployment writes.
    pub fn key(&self, name: &str) -> String {
        format!("{}{}", self.prefix, name)
    }

    /// The shared connection; connects on first use and retries on the next call if that failed.
    /// A refused login (credentials rotated under us) refetches them once and tries again.
    pub async fn conn(&self) -> Result<ConnectionManager, CacheError> {
        match self.connect().await {
            Err(Retry::Refused(error)) => {
                if !self.renewed_credentials().await {
                    return Err(CacheError(error));
                }
                Ok(self.connect().await?)
            }
            other => Ok(other?),
        }
    }

    async fn connect(&self) -> Result<ConnectionManager, Retry> {
        let connection = self.connection.load_full();
        let manager = connection
            .manager
            .get_or_try_init(|| async {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(self.connect_timeout))
                    .set_response_timeout(Some(self.response_timeout))
                    .set_number_of_retries(1)
                    .set_max_delay(Duration::from_millis(500));
                let connect = ConnectionManager::new_with_config(connection.client.clone(), config);
                match tokio::time::timeout(self.connect_timeout * 2, connect).await {
                    Ok(Ok(manager)) => Ok(manager),
                    Ok(Err(e)) if refused_login(&e) => Err(Retry::Refused(e.to_string())),
                    Ok(Err(e)) => Err(Retry::Final(e.to_string())),
                    Err(_) => Err(Retry::Final("connect timed out".into())),
                }
            })
            .await?;
        Ok(manager.clone())
    }

    /// Runs a command with a hard bound, so a hung server cannot hang a request. Retried once
    /// on a broken connection: use it for reads and for writes whose repetition is harmless
    /// (SET, a rate-window INCR: at worst one request counted twice).
    pub async fn query<T: redis::FromRedisValue>(
        &self,
        command: &redis::Cmd,
    ) -> Result<T, CacheError> {
        self.with_reconnect(|mut conn| async move { command.query_async(&mut conn).await })
            .await
    }

    /// A command that must not run twice (its repetition would change an answer): never retried
    /// after it may have run. A refused login means it did not run, so that alone is retried.
    pub async fn query_once<T: redis::FromRedisValue>(
        &self,
        command: &redis::Cmd,
    ) -> Result<T, CacheError> {
        self.once(|mut conn| async move { command.query_async(&mut conn).await })
            .await
    }

    pub async fn pipeline<T: redis::FromRedisValue>(
        &self,
        pipeline: &redis::Pipeline,
    ) -> Result<T, CacheError> {
        self.with_reconnect(|mut conn| async move { pipeline.query_async(&mut conn).await })
            .await
    }

    pub async fn script<T: redis::FromRedisValue>(
        &self,
        invocation: &redis::ScriptInvocation<'_>,
    ) -> Result<T, CacheError> {
        self.with_reconnect(|mut conn| async move { invocation.invoke_async(&mut conn).await })
            .await
    }

    /// A script that must not run twice: as [`Cache::query_once`].
    pub async fn script_once<T: redis::FromRedisValue>(
        &self,
        invocation: &redis::ScriptInvocation<'_>,
    ) -> Result<T, CacheError> {
        self.once(|mut conn| async move { invocation.invoke_async(&mut conn).await })
            .await
    }

    /// Times a command (retries included) into the request's metrics, counting a failure.
    async fn measured<T>(
        &self,
        command: impl std::future::Future<Output = Result<T, CacheError>>,
    ) -> Result<T, CacheError> {
        let started = std::time::Instant::now();
        let outcome = command.await;
        metrics::cache_time(started.elapsed());
        if outcome.is_err() {
            metrics::count(Metric::DependencyErrors);
        }
        outcome
    }

    async fn once<T, F, Fut>(&self, operation: F) -> Result<T, CacheError>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        self.measured(self.once_unmeasured(operation)).await
    }

    async fn once_unmeasured<T, F, Fut>(&self, operation: F) -> Result<T, CacheError>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        match self.bounded(operation(self.conn().await?)).await {
            Err(Retry::Refused(error)) => {
                if !self.renewed_credentials().await {
                    return Err(CacheError(error));
                }
                Ok(self.bounded(operation(self.conn().await?)).await?)
            }
            other => Ok(other?),
        }
    }

    /// A connection broken by a Redis restart fails the first command sent on it; the manager
    /// then reconnects. Retrying once after such an error makes the first request after a
    /// recovery succeed instead of paying for the stale connection. A login the manager's
    /// reconnect had refused is retried once with refetched credentials.
    async fn with_reconnect<T, F, Fut>(&self, operation: F) -> Result<T, CacheError>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        self.measured(self.with_reconnect_unmeasured(operation))
            .await
    }

    async fn with_reconnect_unmeasured<T, F, Fut>(&self, operation: F) -> Result<T, CacheError>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let mut outcome = self.bounded(operation(self.conn().await?)).await;
        if let Err(Retry::Connection(_)) = outcome {
            outcome = self.bounded(operation(self.conn().await?)).await;
        }
        if let Err(Retry::Refused(error)) = outcome {
            if !self.renewed_credentials().await {
                return Err(CacheError(error));
            }
            outcome = self.bounded(operation(self.conn().await?)).await;
        }
        Ok(outcome?)
    }

    async fn bounded<T>(
        &self,
        future: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, Retry> {
        match tokio::time::timeout(self.response_timeout + Duration::from_millis(250), future).await
        {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) if refused_login(&e) => Err(Retry::Refused(e.to_string())),
            Ok(Err(e))
                if e.is_connection_dropped() || e.is_io_error() || e.is_unrecoverable_error() =>
            {
                Err(Retry::Connection(e.to_string()))
            }
            Ok(Err(e)) => Err(Retry::Final(e.to_string())),
            Err(_) => Err(Retry::Final("command timed out".into())),
        }
    }

    pub async fn ping(&self) -> Result<(), CacheError> {
        let reply: String = self.query(&redis::cmd("PING")).await?;
        if reply == "PONG" {
            Ok(())
        } else {
            Err(CacheError(format!("unexpected PING reply {reply}")))
        }
    }
}
