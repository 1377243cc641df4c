//! Structured JSON logs through `tracing`, and what the logs say about this function.
//!
//! Logging starts first at cold start, at the level `AWS_LAMBDA_LOG_LEVEL` gives (INFO when
//! unset), so configuration loading and the secret fetch are logged; once the configuration is
//! loaded, [`refilter`] applies its `log.level`.

use std::sync::OnceLock;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, EnvFilter, Registry};

static FILTER: OnceLock<reload::Handle<EnvFilter, Registry>> = OnceLock::new();

/// The filter Lambda's `AWS_LAMBDA_LOG_LEVEL` asks for; INFO when unset or unknown.
fn platform_filter() -> EnvFilter {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL").unwrap_or_default();
    let directive = match level.to_ascii_uppercase().as_str() {
        "TRACE" => "trace",
        "DEBUG" => "debug",
        "WARN" => "warn",
        "ERROR" | "FATAL" => "error",
        _ => "info",
    };
    EnvFilter::new(directive)
}

/// One JSON object per line on stdout (CloudWatch Logs). Idempotent: a second call keeps the
/// first subscriber.
pub fn start() {
    if FILTER.get().is_some() {
        return;
    }
    let (filter, handle) = reload::Layer::new(platform_filter());
    let format = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .without_time();
    if tracing_subscriber::registry()
        .with(filter)
        .with(format)
        .try_init()
        .is_ok()
    {
        let _ = FILTER.set(handle);
    }
}

/// Applies the configuration's `log.level` (a `tracing` filter) once it is known.
pub fn refilter(level: &str) {
    start();
    let filter = EnvFilter::try_new(level).unwrap_or_else(|_| EnvFilter::new("info"));
    if let Some(handle) = FILTER.get() {
        let _ = handle.reload(filter);
    }
}

/// The Lambda function name, or the binary's when run locally.
pub fn function_name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| {
            std::env::args()
                .next()
                .and_then(|p| p.rsplit('/').next().map(str::to_string))
                .unwrap_or_else(|| "redline".into())
        })
    })
}

/// The published version Lambda runs (`$LATEST` when unpublished), or the crate version.
pub fn function_version() -> String {
    std::env::var("AWS_LAMBDA_FUNCTION_VERSION")
        .unwrap_or_else(|_| concat!("local-", env!("CARGO_PKG_VERSION")).to_string())
}
