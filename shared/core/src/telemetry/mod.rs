//! Logs through `tracing`, in Lambda's JSON log format (or its Text format), redacted by
//! allow-list in the formatter; and what the logs say about this function.
//!
//! Logging starts first at cold start, at the level `AWS_LAMBDA_LOG_LEVEL` gives (INFO when
//! unset), so configuration loading and the secret fetch are logged; once the configuration is
//! loaded, [`refilter`] applies its `log.level`. EMF documents are never filtered: Lambda's own
//! filter decides about them (the template pins `ApplicationLogLevel` to INFO for that reason).

mod format;
pub mod redact;

pub use format::{LambdaFormat, LogFormat};

use std::sync::OnceLock;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::Targets;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, Registry};

// `Targets` rather than `EnvFilter`: the `target=level` lists we use need no regular expressions,
// and `EnvFilter` would link a regex engine into every function (about 0.5 MB of the greeter).
static FILTER: OnceLock<reload::Handle<Targets, Registry>> = OnceLock::new();

/// The filter Lambda's `AWS_LAMBDA_LOG_LEVEL` asks for; INFO when unset or unknown.
fn platform_filter() -> Targets {
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL").unwrap_or_default();
    let level = match level.to_ascii_uppercase().as_str() {
        "TRACE" => LevelFilter::TRACE,
        "DEBUG" => LevelFilter::DEBUG,
        "WARN" => LevelFilter::WARN,
        "ERROR" | "FATAL" => LevelFilter::ERROR,
        _ => LevelFilter::INFO,
    };
    Targets::new().with_default(level)
}

/// Whatever the level, EMF documents go out.
fn with_metrics(filter: Targets) -> Targets {
    filter.with_target(crate::metrics::EMF_TARGET, LevelFilter::INFO)
}

/// The formatting layer on any writer (stdout in Lambda; a buffer in tests).
pub fn layer<W>(writer: W, format: LogFormat) -> LambdaFormat<W> {
    LambdaFormat::new(writer, format)
}

/// One line per event on stdout (CloudWatch Logs), in the format `AWS_LAMBDA_LOG_FORMAT` names.
/// Idempotent: a second call keeps the first subscriber.
pub fn start() {
    if FILTER.get().is_some() {
        return;
    }
    let (filter, handle) = reload::Layer::new(with_metrics(platform_filter()));
    let format = layer(std::io::stdout, LogFormat::from_env());
    if tracing_subscriber::registry()
        .with(filter)
        .with(format)
        .try_init()
        .is_ok()
    {
        let _ = FILTER.set(handle);
    }
}

/// Applies the configuration's `log.level` (`info`, or `info,redline_core=debug`: a default level
/// and per-target levels) once it is known.
pub fn refilter(level: &str) {
    start();
    let filter = level
        .parse::<Targets>()
        .unwrap_or_else(|_| Targets::new().with_default(LevelFilter::INFO));
    if let Some(handle) = FILTER.get() {
        let _ = handle.reload(with_metrics(filter));
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

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    #[test]
    fn the_shipped_log_levels_parse_as_target_filters() {
        let dev: Targets = "info,redline_core=debug".parse().unwrap();
        assert!(dev.would_enable("redline_core::startup", &Level::DEBUG));
        assert!(!dev.would_enable("lambda_runtime", &Level::DEBUG));
        assert!(dev.would_enable("lambda_runtime", &Level::INFO));
        let warn: Targets = "warn".parse().unwrap();
        assert!(!warn.would_enable("redline_core", &Level::INFO));
    }
}
