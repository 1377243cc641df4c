//! Every metric a redline function emits, with its unit: the names alarms, dashboards, the
//! runner's Prometheus series and the tests all read. Written once, here.

/// A CloudWatch unit this project uses. Prometheus folds `Count` into counters and
/// `Milliseconds` into histograms in seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
}

impl Unit {
    pub const fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

/// A metric name, its unit, and the kind of function that emits it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Metric {
    // Per request, every HTTP function.
    Requests,
    Latency,
    ServerErrors,
    ClientErrors,
    ColdStart,
    // Domain events, when they happened.
    LoginSucceeded,
    LoginFailed,
    AccountLocked,
    RefreshReuseDetected,
    CaptchaFailed,
    TokenRejected,
    // Dependencies, summed over the request.
    DbLatency,
    CacheLatency,
    DependencyErrors,
    // Event functions (migrate, rotate-secret, traffic hooks).
    Invocations,
    Failures,
    MigrationsApplied,
    RotationStep,
    HookChecks,
}

impl Metric {
    pub const ALL: [Metric; 19] = [
        Metric::Requests,
        Metric::Latency,
        Metric::ServerErrors,
        Metric::ClientErrors,
        Metric::ColdStart,
        Metric::LoginSucceeded,
        Metric::LoginFailed,
        Metric::AccountLocked,
        Metric::RefreshReuseDetected,
        Metric::CaptchaFailed,
        Metric::TokenRejected,
        Metric::DbLatency,
        Metric::CacheLatency,
        Metric::DependencyErrors,
        Metric::Invocations,
        Metric::Failures,
        Metric::MigrationsApplied,
        Metric::RotationStep,
        Metric::HookChecks,
    ];

    /// The domain and dependency counters a request may add to (indexes of [`Tally`](super::Tally)).
    pub const DURING_REQUEST: [Metric; 7] = [
        Metric::LoginSucceeded,
        Metric::LoginFailed,
        Metric::AccountLocked,
        Metric::RefreshReuseDetected,
        Metric::CaptchaFailed,
        Metric::TokenRejected,
        Metric::DependencyErrors,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Metric::Requests => "Requests",
            Metric::Latency => "Latency",
            Metric::ServerErrors => "ServerErrors",
            Metric::ClientErrors => "ClientErrors",
            Metric::ColdStart => "ColdStart",
            Metric::LoginSucceeded => "LoginSucceeded",
            Metric::LoginFailed => "LoginFailed",
            Metric::AccountLocked => "AccountLocked",
            Metric::RefreshReuseDetected => "RefreshReuseDetected",
            Metric::CaptchaFailed => "CaptchaFailed",
            Metric::TokenRejected => "TokenRejected",
            Metric::DbLatency => "DbLatency",
            Metric::CacheLatency => "CacheLatency",
            Metric::DependencyErrors => "DependencyErrors",
            Metric::Invocations => "Invocations",
            Metric::Failures => "Failures",
            Metric::MigrationsApplied => "MigrationsApplied",
            Metric::RotationStep => "RotationStep",
            Metric::HookChecks => "HookChecks",
        }
    }

    pub const fn unit(self) -> Unit {
        match self {
            Metric::Latency | Metric::DbLatency | Metric::CacheLatency => Unit::Milliseconds,
            _ => Unit::Count,
        }
    }
}

/// Dimension names (CloudWatch) and their order in the dimension sets.
pub const SERVICE: &str = "Service";
pub const FUNCTION: &str = "Function";
pub const VERSION: &str = "Version";
pub const ROUTE: &str = "Route";

/// An HTTP function's dimension sets: per function, per version (what rollback alarms watch) and
/// per route.
pub const HTTP_DIMENSIONS: [&[&str]; 3] = [
    &[SERVICE, FUNCTION],
    &[SERVICE, FUNCTION, VERSION],
    &[SERVICE, FUNCTION, ROUTE],
];

/// An event function's dimension sets: it has no routes.
pub const EVENT_DIMENSIONS: [&[&str]; 2] = [&[SERVICE, FUNCTION], &[SERVICE, FUNCTION, VERSION]];

/// Every document's resolution: standard (60 s), which is what the alarms' periods need.
pub const STORAGE_RESOLUTION: u32 = 60;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_listed_once_with_a_distinct_name() {
        let mut names: Vec<&str> = Metric::ALL.iter().map(|m| m.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Metric::ALL.len());
    }
}
