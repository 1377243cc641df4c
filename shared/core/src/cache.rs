//! Redis: one auto-reconnecting multiplexed connection per execution environment, created on
//! first use so a Redis outage at cold start is a 503, not an init failure.

use crate::config::{ConfigError, RedisConfig};
use crate::error::{ApiError, Unavailable};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
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

/// How a bounded command failed: a broken connection is worth one retry, nothing else is.
enum Retry {
    Connection(String),
    Final(String),
}

impl From<Retry> for CacheError {
    fn from(retry: Retry) -> Self {
        match retry {
            Retry::Connection(e) | Retry::Final(e) => CacheError(e),
        }
    }
}

pub struct Cache {
    client: redis::Client,
    manager: OnceCell<ConnectionManager>,
    prefix: String,
    connect_timeout: Duration,
    response_timeout: Duration,
}

impl Cache {
    pub fn new(config: &RedisConfig) -> Result<Self, ConfigError> {
        let url = config.url.expose();
        if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
            return Err(ConfigError::key(
                "redis.url",
                "is required by this function and must start with redis:// or rediss://",
            ));
        }
        let client = match &config.ca_file {
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
        })?;
        Ok(Cache {
            client,
            manager: OnceCell::new(),
            prefix: config.key_prefix.clone(),
            connect_timeout: config.connect_timeout,
            response_timeout: config.response_timeout,
        })
    }

    /// `<prefix><name>`: every key this deployment writes.
    pub fn key(&self, name: &str) -> String {
        format!("{}{}", self.prefix, name)
    }

    /// The shared connection; connects on first use and retries on the next call if that failed.
    pub async fn conn(&self) -> Result<ConnectionManager, CacheError> {
        let manager = self
            .manager
            .get_or_try_init(|| async {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(self.connect_timeout))
                    .set_response_timeout(Some(self.response_timeout))
                    .set_number_of_retries(1)
                    .set_max_delay(Duration::from_millis(500));
                let connect = ConnectionManager::new_with_config(self.client.clone(), config);
                match tokio::time::timeout(self.connect_timeout * 2, connect).await {
                    Ok(result) => result.map_err(CacheError::from),
                    Err(_) => Err(CacheError("connect timed out".into())),
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

    /// A command that must not run twice (its repetition would change an answer): never retried.
    pub async fn query_once<T: redis::FromRedisValue>(
        &self,
        command: &redis::Cmd,
    ) -> Result<T, CacheError> {
        let mut conn = self.conn().await?;
        Ok(self.bounded(command.query_async(&mut conn)).await?)
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

    /// A script that must not run twice: never retried.
    pub async fn script_once<T: redis::FromRedisValue>(
        &self,
        invocation: &redis::ScriptInvocation<'_>,
    ) -> Result<T, CacheError> {
        let mut conn = self.conn().await?;
        Ok(self.bounded(invocation.invoke_async(&mut conn)).await?)
    }

    /// A connection broken by a Redis restart fails the first command sent on it; the manager
    /// then reconnects. Retrying once after such an error makes the first request after a
    /// recovery succeed instead of paying for the stale connection.
    async fn with_reconnect<T, F, Fut>(&self, operation: F) -> Result<T, CacheError>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let first = self.bounded(operation(self.conn().await?)).await;
        match first {
            Err(Retry::Connection(_)) => self
                .bounded(operation(self.conn().await?))
                .await
                .map_err(CacheError::from),
            other => other.map_err(CacheError::from),
        }
    }

    async fn bounded<T>(
        &self,
        future: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, Retry> {
        match tokio::time::timeout(self.response_timeout + Duration::from_millis(250), future).await
        {
            Ok(Ok(value)) => Ok(value),
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
