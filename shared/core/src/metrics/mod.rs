//! Metrics in CloudWatch's Embedded Metric Format: one JSON document per line on stdout, which
//! CloudWatch Logs turns into metrics (and the local runner into Prometheus series).
//!
//! HTTP functions write one document per invocation (the pipeline does it, with the
//! [`Tally`] the handler's domain and dependency calls added to through [`count`], [`db_time`]
//! and [`cache_time`]); event functions write theirs with [`event`]. Documents go out through
//! `tracing` on the [`EMF_TARGET`] target, which the formatter writes verbatim and no log level
//! filters, so each follows its request's log line on the same writer.

pub mod catalogue;
pub mod emf;
pub mod prometheus;
mod tally;

pub use catalogue::{Metric, Unit};
pub use tally::Tally;

use crate::invocation;
use catalogue::{EVENT_DIMENSIONS, FUNCTION, HTTP_DIMENSIONS, ROUTE, SERVICE, VERSION};
use emf::{Document, Property};
use std::sync::OnceLock;
use std::time::Duration;

/// The `tracing` target whose events are EMF documents, written as they are.
pub const EMF_TARGET: &str = "redline::emf";

struct Names {
    namespace: String,
    service: String,
}

static NAMES: OnceLock<Names> = OnceLock::new();

/// Sets the namespace (`metrics.namespace`) and the `Service` dimension (`service.name`) once the
/// configuration is loaded; documents written before use `Redline` and `redline`.
pub fn configure(namespace: &str, service: &str) {
    let _ = NAMES.set(Names {
        namespace: namespace.to_string(),
        service: service.to_string(),
    });
}

fn names() -> (&'static str, &'static str) {
    NAMES
        .get()
        .map(|n| (n.namespace.as_str(), n.service.as_str()))
        .unwrap_or(("Redline", "redline"))
}

/// Counts a domain event or a failed dependency call in the invocation in progress.
pub fn count(metric: Metric) {
    invocation::with(|i| i.tally.borrow_mut().count(metric));
}

/// Adds a PostgreSQL call's time to the invocation in progress.
pub fn db_time(took: Duration) {
    invocation::with(|i| i.tally.borrow_mut().db(took));
}

/// Adds a Redis call's time to the invocation in progress.
pub fn cache_time(took: Duration) {
    invocation::with(|i| i.tally.borrow_mut().cache(took));
}

/// What the pipeline knows about one finished HTTP invocation.
#[derive(Debug)]
pub struct RequestRecord<'a> {
    pub function: &'a str,
    pub version: &'a str,
    pub route: &'a str,
    pub request_id: &'a str,
    pub trace_id: Option<&'a str>,
    pub status: u16,
    pub reason: &'a str,
    pub latency: Duration,
    pub cold_start: bool,
    pub tally: &'a Tally,
}

/// Writes an HTTP invocation's document.
pub fn request(record: &RequestRecord<'_>) {
    if !enabled() {
        return;
    }
    let (namespace, service) = names();
    let class = record.status / 100;
    let mut metrics = Vec::with_capacity(16);
    metrics.extend([
        (Metric::Requests, 1.0),
        (Metric::Latency, record.latency.as_secs_f64() * 1000.0),
        (Metric::ServerErrors, f64::from(u8::from(class == 5))),
        (Metric::ClientErrors, f64::from(u8::from(class == 4))),
        (Metric::ColdStart, f64::from(u8::from(record.cold_start))),
    ]);
    metrics.extend(record.tally.happened());
    let mut properties = vec![
        ("requestId", Property::Str(record.request_id)),
        ("status", Property::Int(u64::from(record.status))),
        ("reason", Property::Str(record.reason)),
    ];
    if let Some(trace_id) = record.trace_id {
        properties.push(("traceId", Property::Str(trace_id)));
    }
    write(&Document {
        namespace,
        timestamp_ms: now_ms(),
        dimension_sets: &HTTP_DIMENSIONS,
        dimensions: &[
            (SERVICE, service),
            (FUNCTION, record.function),
            (VERSION, record.version),
            (ROUTE, record.route),
        ],
        properties: &properties,
        metrics: &metrics,
    });
}

/// Writes an event function's document: `Invocations`, `Failures` and what it did (for
/// instance `MigrationsApplied`), with string properties such as the rotation step.
pub fn event(function: &str, failed: bool, did: &[(Metric, f64)], properties: &[(&str, &str)]) {
    if !enabled() {
        return;
    }
    let (namespace, service) = names();
    let version = crate::telemetry::function_version();
    let mut metrics = vec![
        (Metric::Invocations, 1.0),
        (Metric::Failures, f64::from(u8::from(failed))),
    ];
    metrics.extend_from_slice(did);
    let request_id = invocation::with(|i| i.request_id.clone()).unwrap_or_default();
    let mut props: Vec<(&str, Property)> = vec![("requestId", Property::Str(&request_id))];
    props.extend(properties.iter().map(|(k, v)| (*k, Property::Str(v))));
    write(&Document {
        namespace,
        timestamp_ms: now_ms(),
        dimension_sets: &EVENT_DIMENSIONS,
        dimensions: &[
            (SERVICE, service),
            (FUNCTION, function),
            (VERSION, &version),
        ],
        properties: &props,
        metrics: &metrics,
    });
}

/// Whether anything would write a document: nothing is built for no one.
fn enabled() -> bool {
    tracing::enabled!(target: EMF_TARGET, tracing::Level::INFO)
}

fn write(document: &Document<'_>) {
    let mut line = String::with_capacity(768);
    document.write(&mut line);
    tracing::info!(target: EMF_TARGET, document = line.as_str());
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
