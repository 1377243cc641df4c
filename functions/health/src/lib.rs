//! The `health` area: `/health/live`, `/health/ready` and `/health`, whose checks run
//! concurrently, each bounded; and the `$default` route, which the shared pipeline answers from
//! the route table (404 or 405).

use futures_util::future::join_all;
use futures_util::FutureExt;
use redline_core::config::{typed, Config, ConfigError, Layered};
use redline_core::error::ApiError;
use redline_core::http::routes::RouteId;
use redline_core::http::{Function, Input, Reply};
use redline_core::init_error::InitError;
use redline_core::secrets::{Freshness, Live, Reach, SecretsHealth};
use redline_core::startup::Configured;
use redline_core::Area;
use redline_stores::{Cache, Db, Stores};
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::time::{Duration, Instant, SystemTime};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Healthy,
    Degraded,
    Unhealthy,
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckResult {
    pub status: Status,
    pub message: String,
    pub duration_ms: u64,
    pub required: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HealthReport {
    pub status: Status,
    pub timestamp: String,
    pub duration_ms: u64,
    pub version: String,
    pub checks: BTreeMap<&'static str, CheckResult>,
}

/// What a check found: status, a message safe to show, optional details.
type Finding = (Status, String, Option<Value>);
type CheckFuture<'a> = Pin<Box<dyn Future<Output = Finding> + Send + 'a>>;

/// What the health function builds once: its configuration, PostgreSQL and Redis to check, and
/// the secrets they come from.
pub struct Health {
    pub config: Config,
    stores: Stores,
    live: Live<Config>,
}

impl Health {
    pub fn build(config: Config) -> Result<Self, ConfigError> {
        Self::assemble(Live::fixed(config))
    }

    /// Cold start: fetches the data stores' secrets (one batch) and builds the state.
    pub async fn open(mut layered: Layered, reach: Reach) -> Result<Self, InitError> {
        Area::Health.needs().drop_unneeded(&mut layered.tree);
        Ok(Self::assemble(Live::open(layered, reach, typed).await?)?)
    }

    fn assemble(live: Live<Config>) -> Result<Self, ConfigError> {
        let config = Config::clone(&live.current());
        let stores = Stores::open(&config, &live, |config: &Config| config)?;
        Ok(Health {
            config,
            stores,
            live,
        })
    }

    pub fn db(&self) -> &Db {
        &self.stores.db
    }

    pub fn cache(&self) -> &Cache {
        &self.stores.cache
    }
}

impl Configured for Health {
    fn config(&self) -> &Config {
        &self.config
    }
}

impl Function for Health {
    const AREA: Area = Area::Health;

    async fn sync_secrets(&self) -> Freshness {
        let (freshness, adopted) = self.live.sync().await;
        if let Some(config) = adopted {
            self.stores.adopt(&config);
        }
        freshness
    }

    async fn call(&self, route: RouteId, input: &Input<'_>) -> Result<Reply, ApiError> {
        match route {
            RouteId::HealthLive => Ok(live()),
            RouteId::HealthReady | RouteId::HealthReport => ready(self, input.version()).await,
            _ => Err(ApiError::NotFound),
        }
    }
}

pub fn live() -> Reply {
    Reply::ok(json!({ "status": "healthy" }))
}

/// `/health/ready` and `/health`: the same report; 503 only when a required check is unhealthy.
pub async fn ready(state: &Health, version: String) -> Result<Reply, ApiError> {
    let report = run_checks(state, version).await;
    Ok(Reply::with_status(http_status(report.status), report))
}

pub fn http_status(status: Status) -> u16 {
    match status {
        Status::Unhealthy => 503,
        Status::Healthy | Status::Degraded => 200,
    }
}

pub async fn run_checks(state: &Health, version: String) -> HealthReport {
    let started = Instant::now();
    let mut checks: Vec<(&'static str, bool, CheckFuture<'_>)> = Vec::new();
    {
        let db = state.db();
        checks.push((
            "database",
            true,
            Box::pin(async move {
                match db.ping().await {
                    Ok(()) => (Status::Healthy, "database reachable".into(), None),
                    Err(e) => {
                        tracing::warn!(error = %e, "database check failed");
                        (Status::Unhealthy, "database unreachable".into(), None)
                    }
                }
            }),
        ));
    }
    {
        let cache = state.cache();
        checks.push((
            "cache",
            true,
            Box::pin(async move {
                match cache.ping().await {
                    Ok(()) => (Status::Healthy, "cache reachable".into(), None),
                    Err(e) => {
                        tracing::warn!(error = %e, "cache check failed");
                        (Status::Unhealthy, "cache unreachable".into(), None)
                    }
                }
            }),
        ));
    }
    if let Some(health) = state.live.health() {
        checks.push((
            "secrets",
            true,
            Box::pin(async move { secrets_check(health) }),
        ));
    }
    checks.push(("memory", false, Box::pin(async { memory_check() })));

    let checks = evaluate(checks, state.config.health.check_timeout).await;
    HealthReport {
        status: overall(&checks),
        timestamp: humantime::format_rfc3339_seconds(SystemTime::now()).to_string(),
        duration_ms: started.elapsed().as_millis() as u64,
        version,
        checks,
    }
}

/// Runs every check concurrently, each under `timeout`; a panic or a timeout is `unhealthy`.
async fn evaluate(
    checks: Vec<(&'static str, bool, CheckFuture<'_>)>,
    timeout: Duration,
) -> BTreeMap<&'static str, CheckResult> {
    let results = join_all(
        checks
            .into_iter()
            .map(|(name, required, check)| async move {
                let started = Instant::now();
                let outcome =
                    tokio::time::timeout(timeout, AssertUnwindSafe(check).catch_unwind()).await;
                let (status, message, details, error) = match outcome {
                    Ok(Ok((status, message, details))) => (status, message, details, None),
                    Ok(Err(_)) => (
                        Status::Unhealthy,
                        "check failed".into(),
                        None,
                        Some("check panicked".into()),
                    ),
                    Err(_) => (
                        Status::Unhealthy,
                        "check timed out".into(),
                        None,
                        Some(format!("no answer within {} ms", timeout.as_millis())),
                    ),
                };
                let error =
                    error.or_else(|| (status == Status::Unhealthy).then(|| message.clone()));
                let result = CheckResult {
                    status,
                    message,
                    duration_ms: started.elapsed().as_millis() as u64,
                    required,
                    details,
                    error,
                };
                (name, result)
            }),
    )
    .await;
    results.into_iter().collect()
}

/// Any required check unhealthy → unhealthy; else anything not healthy → degraded.
pub fn overall(checks: &BTreeMap<&'static str, CheckResult>) -> Status {
    if checks
        .values()
        .any(|c| c.required && c.status == Status::Unhealthy)
    {
        Status::Unhealthy
    } else if checks.values().any(|c| c.status != Status::Healthy) {
        Status::Degraded
    } else {
        Status::Healthy
    }
}

/// The pipeline refreshed due secrets before this ran; this reports how current they are.
fn secrets_check(health: SecretsHealth) -> Finding {
    let (status, message) = match health.freshness {
        Freshness::Fresh => (Status::Healthy, "secrets current"),
        Freshness::Stale => (
            Status::Degraded,
            "serving cached secrets within the grace period; refresh failing",
        ),
        Freshness::Expired => (Status::Unhealthy, "cached secrets expired; refresh failing"),
    };
    let details = json!({
        "source": health.source,
        "secrets": health.count,
        "age_s": health.age.as_secs(),
        "refresh_failing": health.failure.is_some(),
    });
    (status, message.into(), Some(details))
}

/// Resident memory against the function's memory size (Lambda), else the cgroup or host limit.
fn memory_check() -> Finding {
    let Some(used_kib) = read_kib("/proc/self/status", "VmRSS:") else {
        return (Status::Degraded, "memory usage unknown".into(), None);
    };
    let (limit_kib, source) = memory_limit_kib();
    let percent = used_kib as f64 * 100.0 / limit_kib.max(1) as f64;
    let status = if percent > 95.0 {
        Status::Unhealthy
    } else if percent > 85.0 {
        Status::Degraded
    } else {
        Status::Healthy
    };
    let details = json!({
        "used_mb": used_kib / 1024,
        "limit_mb": limit_kib / 1024,
        "used_percent": (percent * 10.0).round() / 10.0,
        "limit_source": source,
    });
    (
        status,
        format!("{percent:.1}% of memory in use"),
        Some(details),
    )
}

fn memory_limit_kib() -> (u64, &'static str) {
    if let Some(mb) = std::env::var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
    {
        return (mb * 1024, "function");
    }
    if let Some(bytes) = std::fs::read_to_string("/sys/fs/cgroup/memory.max")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
    {
        return (bytes / 1024, "cgroup");
    }
    (
        read_kib("/proc/meminfo", "MemTotal:").unwrap_or(u64::MAX / 2),
        "host",
    )
}

fn read_kib(path: &str, field: &str) -> Option<u64> {
    std::fs::read_to_string(path)
        .ok()?
        .lines()
        .find(|line| line.starts_with(field))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(status: Status, required: bool) -> CheckResult {
        CheckResult {
            status,
            message: String::new(),
            duration_ms: 0,
            required,
            details: None,
            error: None,
        }
    }

    #[test]
    fn overall_status_rules() {
        let mut checks = BTreeMap::new();
        checks.insert("database", check(Status::Healthy, true));
        checks.insert("memory", check(Status::Healthy, false));
        assert_eq!(overall(&checks), Status::Healthy);
        checks.insert("memory", check(Status::Unhealthy, false));
        assert_eq!(overall(&checks), Status::Degraded);
        checks.insert("database", check(Status::Degraded, true));
        assert_eq!(overall(&checks), Status::Degraded);
        checks.insert("database", check(Status::Unhealthy, true));
        assert_eq!(overall(&checks), Status::Unhealthy);
    }

    #[tokio::test]
    async fn panicking_and_slow_checks_are_unhealthy_with_a_message() {
        let checks: Vec<(&'static str, bool, CheckFuture<'_>)> = vec![
            (
                "fine",
                true,
                Box::pin(async { (Status::Healthy, "ok".to_string(), None) }),
            ),
            ("panics", false, Box::pin(async { panic!("boom") })),
            (
                "slow",
                true,
                Box::pin(async {
                    tokio::time::sleep(Duration::from_secs(30)).await;
                    (Status::Healthy, "late".to_string(), None)
                }),
            ),
        ];
        let results = evaluate(checks, Duration::from_millis(50)).await;
        assert_eq!(results["fine"].status, Status::Healthy);
        assert_eq!(results["panics"].status, Status::Unhealthy);
        assert_eq!(results["panics"].error.as_deref(), Some("check panicked"));
        assert_eq!(results["slow"].status, Status::Unhealthy);
        assert_eq!(results["slow"].message, "check timed out");
        assert_eq!(overall(&results), Status::Unhealthy);
    }

    #[test]
    fn degraded_is_still_ready() {
        assert_eq!(http_status(Status::Healthy), 200);
        assert_eq!(http_status(Status::Degraded), 200);
        assert_eq!(http_status(Status::Unhealthy), 503);
    }

    #[test]
    fn memory_check_reads_this_process() {
        let (status, _, details) = memory_check();
        assert_ne!(status, Status::Unhealthy);
        assert!(details.unwrap()["used_mb"].as_u64().is_some());
    }
}
