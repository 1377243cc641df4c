//! PostgreSQL: a small lazily-connecting pool with timeouts, TLS and statement timeouts.

mod migrate;
pub mod roles;
mod tls;

pub use migrate::{migrate, AppRole, MigrateError, MigrationReport, MIGRATIONS};

use arc_swap::ArcSwap;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use futures_util::future::BoxFuture;
use redline_core::config::DatabaseConfig;
use redline_core::error::{ApiError, Unavailable};
use redline_core::metrics::{self, Metric};
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// Down, unreachable, timed out or shutting down: the client gets a 503.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A unique constraint refused a row; carries the constraint name.
    #[error("unique violation on {0}")]
    Unique(String),
    #[error("database query failed: {0}")]
    Query(String),
}

/// A server error's DETAIL can quote row values (personal data): keep message and code.
fn describe(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None => error.to_string(),
    }
}

/// Why a connection could not be made. The driver names the cause of its own errors (refused,
/// timed out, TLS) only as their source; at connection time that source holds no row data.
fn describe_connect(error: &tokio_postgres::Error) -> String {
    match (error.as_db_error(), std::error::Error::source(error)) {
        (None, Some(cause)) => format!("{error}: {cause}"),
        _ => describe(error),
    }
}

impl From<tokio_postgres::Error> for DbError {
    fn from(error: tokio_postgres::Error) -> Self {
        let text = describe(&error);
        match error.as_db_error() {
            Some(db) if *db.code() == SqlState::UNIQUE_VIOLATION => {
                DbError::Unique(db.constraint().unwrap_or_default().to_string())
            }
            Some(db) if is_availability(db.code()) => DbError::Unavailable(text),
            Some(_) => DbError::Query(text),
            // No server error code: an I/O failure or a closed connection is an outage; anything
            // else (a type or row-count mismatch) is a bug.
            None if error.is_closed() || is_io(&error) => DbError::Unavailable(text),
            None => DbError::Query(text),
        }
    }
}

/// The driver's own failures that mean "the server is not there" (its error kinds are private;
/// their messages are stable).
fn is_io(error: &tokio_postgres::Error) -> bool {
    const OUTAGES: [&str; 5] = [
        "error connecting to server",
        "error performing TLS handshake",
        "timeout waiting for server",
        "error communicating with the server",
        "connection closed",
    ];
    let text = error.to_string();
    OUTAGES.iter().any(|outage| text.starts_with(outage))
}

fn is_availability(code: &SqlState) -> bool {
    [
        SqlState::QUERY_CANCELED,
        SqlState::ADMIN_SHUTDOWN,
        SqlState::CRASH_SHUTDOWN,
        SqlState::CANNOT_CONNECT_NOW,
        SqlState::TOO_MANY_CONNECTIONS,
        SqlState::CONNECTION_FAILURE,
        SqlState::CONNECTION_EXCEPTION,
        SqlState::READ_ONLY_SQL_TRANSACTION,
        SqlState::INVALID_AUTHORIZATION_SPECIFICATION,
        SqlState::INVALID_PASSWORD,
    ]
    .contains(code)
}

impl From<deadpool_postgres::PoolError> for DbError {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        // Whatever stops a new connection (refused, TLS, authentication) is an outage to the
        // client; the cause is logged, with the server's reason (the pool's own message for a
        // failed connection is only "db error").
        let text = match &error {
            deadpool_postgres::PoolError::Backend(cause) => {
                format!("cannot connect: {}", describe_connect(cause))
            }
            other => other.to_string(),
        };
        DbError::Unavailable(text)
    }
}

impl From<DbError> for ApiError {
    fn from(error: DbError) -> Self {
        match error {
            DbError::Unavailable(cause) => ApiError::Unavailable(Unavailable::Database(cause)),
            other => ApiError::internal(other),
        }
    }
}

/// Asked, after the server refused the credentials, for the newest database configuration
/// (the secret store refetches, rate-limited).
pub type CredentialRefetch = Arc<dyn Fn() -> BoxFuture<'static, DatabaseConfig> + Send + Sync>;

/// The pool of one execution environment. Nothing connects until the first query. When the
/// credentials change (a rotated secret) the pool is replaced; connections already lent finish
/// on the old one.
#[derive(Clone)]
pub struct Db {
    inner: Arc<DbInner>,
}

struct DbInner {
    pool: ArcSwap<Pool>,
    config: Mutex<DatabaseConfig>,
    op_timeout: Duration,
    refetch: OnceLock<CredentialRefetch>,
}

pub type Client = deadpool_postgres::Object;

impl Db {
    pub fn new(config: &DatabaseConfig) -> Result<Self, redline_core::config::ConfigError> {
        if config.host.is_empty() {
            return Err(redline_core::config::ConfigError::key(
                "database.host",
                "is required by this function",
            ));
        }
        Ok(Db {
            inner: Arc::new(DbInner {
                pool: ArcSwap::from_pointee(build_pool(config)?),
                config: Mutex::new(config.clone()),
                // Server-side statement_timeout bounds a query; this bounds a dead network too.
                op_timeout: config.connect_timeout + config.statement_timeout,
                refetch: OnceLock::new(),
            }),
        })
    }

    /// Where to turn when the server refuses the password: set once, by the function's state.
    pub fn on_refused_credentials(&self, refetch: CredentialRefetch) {
        let _ = self.inner.refetch.set(refetch);
    }

    /// Adopts a new configuration; the pool is replaced only if the login changed. Returns
    /// whether it was.
    pub fn update(&self, config: &DatabaseConfig) -> bool {
        let mut current = self
            .inner
            .config
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let same = current.host == config.host
            && current.port == config.port
            && current.dbname == config.dbname
            && current.user == config.user
            && current.password == config.password;
        if same {
            return false;
        }
        match build_pool(config) {
            Ok(pool) => {
                self.inner.pool.store(Arc::new(pool));
                *current = config.clone();
                tracing::info!("database credentials changed; new connections use them");
                true
            }
            Err(error) => {
                tracing::error!(error = %error, "new database configuration refused");
                false
            }
        }
    }

    /// A pooled connection; a closed one is replaced, so a restarted server is picked up. A
    /// refused password (rotated under us) refetches the credentials once and tries again.
    pub async fn client(&self) -> Result<Client, DbError> {
        let pool = self.inner.pool.load_full();
        match pool.get().await {
            Ok(client) => Ok(client),
            Err(error) if refused_credentials(&error) => {
                let Some(refetch) = self.inner.refetch.get() else {
                    return Err(error.into());
                };
                let latest = refetch().await;
                if !self.update(&latest) {
                    return Err(error.into());
                }
                Ok(self.inner.pool.load_full().get().await?)
            }
            Err(error) => Err(error.into()),
        }
    }

    /// Runs one database operation under the operation timeout; its time and an unavailable
    /// server go into the request's metrics.
    pub async fn timed<T>(
        &self,
        operation: impl Future<Output = Result<T, DbError>>,
    ) -> Result<T, DbError> {
        let started = std::time::Instant::now();
        let outcome = match tokio::time::timeout(self.inner.op_timeout, operation).await {
            Ok(result) => result,
            Err(_) => Err(DbError::Unavailable("operation timed out".into())),
        };
        metrics::db_time(started.elapsed());
        if let Err(DbError::Unavailable(_)) = outcome {
            metrics::count(Metric::DependencyErrors);
        }
        outcome
    }

    /// One statement on a pooled connection, under the operation timeout.
    pub async fn execute(&self, sql: &str, params: &[&(dyn ToSql + Sync)]) -> Result<u64, DbError> {
        self.timed(async { Ok(self.client().await?.execute(sql, params).await?) })
            .await
    }

    /// At most one row, on a pooled connection, under the operation timeout.
    pub async fn query_opt(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, DbError> {
        self.timed(async { Ok(self.client().await?.query_opt(sql, params).await?) })
            .await
    }

    /// Exactly one row, on a pooled connection, under the operation timeout.
    pub async fn query_one(
        &self,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Row, DbError> {
        self.timed(async { Ok(self.client().await?.query_one(sql, params).await?) })
            .await
    }

    /// `SELECT 1` for the health check.
    pub async fn ping(&self) -> Result<(), DbError> {
        self.timed(async {
            let client = self.client().await?;
            client.simple_query("SELECT 1").await?;
            Ok(())
        })
        .await
    }

    pub fn status(&self) -> deadpool_postgres::Status {
        self.inner.pool.load().status()
    }
}

/// The server said no to this login: a wrong password or a role that no longer exists.
fn refused_credentials(error: &deadpool_postgres::PoolError) -> bool {
    match error {
        deadpool_postgres::PoolError::Backend(error) => error.as_db_error().is_some_and(|db| {
            *db.code() == SqlState::INVALID_PASSWORD
                || *db.code() == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
        }),
        _ => false,
    }
}

fn build_pool(config: &DatabaseConfig) -> Result<Pool, redline_core::config::ConfigError> {
    let mut pg = tokio_postgres::Config::new();
    pg.host(&config.host)
        .port(config.port)
        .dbname(&config.dbname)
        .user(&config.user)
        .password(config.password.expose())
        .application_name("redline")
        .connect_timeout(config.connect_timeout)
        .keepalives(true)
        // A black-holed network must close the connection (so the pool drops it) in seconds,
        // not after the kernel's 2-hour keepalive and 15-minute retransmit defaults.
        .keepalives_idle(Duration::from_secs(30))
        .tcp_user_timeout(config.connect_timeout + config.statement_timeout)
        .options(format!(
            "-c statement_timeout={}",
            config.statement_timeout.as_millis()
        ));
    pg.ssl_mode(match config.sslmode {
        redline_core::config::SslMode::Disable => tokio_postgres::config::SslMode::Disable,
        _ => tokio_postgres::config::SslMode::Require,
    });
    let tls = tls::connector(config)?;
    let manager = Manager::from_config(
        pg,
        tls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(config.pool_size)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(config.connect_timeout))
        .create_timeout(Some(config.connect_timeout))
        .recycle_timeout(Some(config.connect_timeout))
        .build()
        .map_err(|e| redline_core::config::ConfigError::key("database", e.to_string()))
}
