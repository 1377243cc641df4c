//! Structured JSON logs through `tracing`, and what the logs say about this function.

use crate::config::Config;
use std::sync::OnceLock;

/// One JSON object per line on stdout (CloudWatch Logs), filtered by `log.level`.
pub fn init(config: &Config) {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log.level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_span_list(false)
        .with_target(false)
        .without_time()
        .try_init();
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
