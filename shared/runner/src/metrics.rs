//! What `/metrics` serves: the runner's own `redline_local_*` series (invocations, cold starts,
//! instances, init and invocation durations, peak memory against `MemorySize`, the EMF and log
//! lines it handled) and the series folded from the functions' EMF documents.

use crate::alarms::datapoints::{Datapoints, Invocation};
use crate::emf;
use crate::series::{labels, Registry};
use redline_core::metrics::prometheus::{kind_of, series_name, Kind};
use redline_core::metrics::Metric;
use serde_json::{Map, Value};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const INVOCATIONS: &str = "redline_local_invocations_total";
const COLD_STARTS: &str = "redline_local_cold_starts_total";
const INIT_DURATION: &str = "redline_local_init_duration_seconds";
const INVOCATION_DURATION: &str = "redline_local_invocation_duration_seconds";
const INSTANCES: &str = "redline_local_instances";
const MAX_RSS: &str = "redline_local_instance_max_rss_bytes";
const MEMORY_SIZE: &str = "redline_local_memory_size_bytes";
const EMF_DOCUMENTS: &str = "redline_local_emf_documents_total";
const EMF_REJECTED: &str = "redline_local_emf_rejected_total";
const LINES_FILTERED: &str = "redline_local_log_lines_filtered_total";

/// The runner's own families: name, kind, help. Every one is labelled `function` (the
/// template's logical id); invocations also `outcome`.
const OWN: [(&str, Kind, &str); 10] = [
    (INVOCATIONS, Kind::Counter, "Invocations by outcome."),
    (COLD_STARTS, Kind::Counter, "Instances started."),
    (
        INIT_DURATION,
        Kind::Histogram,
        "Time from spawn to the instance's first poll of /next.",
    ),
    (
        INVOCATION_DURATION,
        Kind::Histogram,
        "Time from hand-off to the function's answer.",
    ),
    (INSTANCES, Kind::Gauge, "Live instances."),
    (
        MAX_RSS,
        Kind::Gauge,
        "Peak resident memory (VmHWM) of the function's instances since the runner started.",
    ),
    (
        MEMORY_SIZE,
        Kind::Gauge,
        "The template's MemorySize, in bytes.",
    ),
    (
        EMF_DOCUMENTS,
        Kind::Counter,
        "EMF documents folded into series.",
    ),
    (
        EMF_REJECTED,
        Kind::Counter,
        "Lines with _aws.CloudWatchMetrics that are not valid EMF: echoed, not folded.",
    ),
    (
        LINES_FILTERED,
        Kind::Counter,
        "Lines dropped by Lambda's log-level filter (ApplicationLogLevel in JSON format).",
    ),
];

/// Every series name the runner's own families expose, as a PromQL query selects them: a
/// histogram is its `_bucket`, `_sum` and `_count` (its family name alone selects nothing).
pub const OWN_SERIES: &[&str] = &[
    "redline_local_cold_starts_total",
    "redline_local_emf_documents_total",
    "redline_local_emf_rejected_total",
    "redline_local_init_duration_seconds_bucket",
    "redline_local_init_duration_seconds_count",
    "redline_local_init_duration_seconds_sum",
    "redline_local_instance_max_rss_bytes",
    "redline_local_instances",
    "redline_local_invocation_duration_seconds_bucket",
    "redline_local_invocation_duration_seconds_count",
    "redline_local_invocation_duration_seconds_sum",
    "redline_local_invocations_total",
    "redline_local_log_lines_filtered_total",
    "redline_local_memory_size_bytes",
];

/// The series names of a family as they appear on `/metrics`.
fn exposed_names(family: &str, kind: Kind) -> Vec<String> {
    match kind {
        Kind::Histogram => ["_bucket", "_sum", "_count"]
            .iter()
            .map(|suffix| format!("{family}{suffix}"))
            .collect(),
        _ => vec![family.to_string()],
    }
}

/// Every series name the runner can expose (what a rule or a dashboard query may select): the
/// core catalogue's metrics folded from EMF documents of `namespace`, and its own.
pub fn exposed_series(namespace: &str) -> BTreeSet<String> {
    let mut names: BTreeSet<String> = OWN_SERIES.iter().map(|name| name.to_string()).collect();
    for metric in Metric::ALL {
        let unit = metric.unit().as_str();
        names.extend(exposed_names(
            &series_name(namespace, metric.name(), unit),
            kind_of(unit),
        ));
    }
    names
}

pub struct Metrics {
    registry: Mutex<Registry>,
    /// Where the rollback alarms read the same documents and invocations, when any watches.
    datapoints: Option<Arc<Datapoints>>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        for (name, kind, help) in OWN {
            registry.declare(name, kind, help).expect("distinct names");
        }
        Metrics {
            registry: Mutex::new(registry),
            datapoints: None,
        }
    }
}

impl Metrics {
    /// Metrics that also hand every folded document and every invocation to the alarms' store.
    pub fn with_datapoints(datapoints: Arc<Datapoints>) -> Self {
        Metrics {
            datapoints: Some(datapoints),
            ..Metrics::default()
        }
    }

    /// An invocation as Lambda's `AWS/Lambda` metrics count it, for the rollback alarms:
    /// `qualifier` is what the caller invoked (`live`, a version, none), `version` what ran.
    pub fn invoked(&self, name: &str, qualifier: Option<&str>, version: &str, outcome: Invocation) {
        if let Some(datapoints) = &self.datapoints {
            datapoints.record_invocation(name, qualifier, version, outcome, crate::ids::now_ms());
        }
    }

    fn with(&self, update: impl FnOnce(&mut Registry)) {
        update(&mut self.registry.lock().expect("not poisoned"));
    }

    /// A function the runner serves: its `MemorySize`, and its counters at 0.
    pub fn function(&self, function: &str, memory_mb: u64) {
        let by = || labels([("function", function)]);
        self.with(|r| {
            r.set(MEMORY_SIZE, by(), (memory_mb * 1024 * 1024) as f64);
            r.shift(INSTANCES, by(), 0.0);
            for counter in [COLD_STARTS, EMF_DOCUMENTS, EMF_REJECTED, LINES_FILTERED] {
                r.add(counter, by(), 0.0);
            }
        });
    }

    pub fn invocation(&self, function: &str, outcome: &'static str, duration: Duration) {
        self.with(|r| {
            r.add(
                INVOCATIONS,
                labels([("function", function), ("outcome", outcome)]),
                1.0,
            );
            r.observe(
                INVOCATION_DURATION,
                labels([("function", function)]),
                duration.as_secs_f64(),
            );
        });
    }

    pub fn cold_start(&self, function: &str, init: Duration) {
        self.with(|r| {
            r.add(COLD_STARTS, labels([("function", function)]), 1.0);
            r.observe(
                INIT_DURATION,
                labels([("function", function)]),
                init.as_secs_f64(),
            );
        });
    }

    pub fn instances(&self, function: &str, delta: i64) {
        self.with(|r| r.shift(INSTANCES, labels([("function", function)]), delta as f64));
    }

    /// An instance's peak resident memory, read after an invocation or at its retirement.
    pub fn peak_rss(&self, function: &str, bytes: u64) {
        self.with(|r| r.raise(MAX_RSS, labels([("function", function)]), bytes as f64));
    }

    pub fn line_filtered(&self, function: &str) {
        self.with(|r| r.add(LINES_FILTERED, labels([("function", function)]), 1.0));
    }

    /// Folds an EMF document a function printed, whole or not at all: a document that is not
    /// valid EMF, or names a series the runner already has with another type, is counted in
    /// `redline_local_emf_rejected_total` and its reason returned.
    pub fn fold(&self, function: &str, document: &Map<String, Value>) -> Result<(), String> {
        let mut registry = self.registry.lock().expect("not poisoned");
        let by = labels([("function", function)]);
        let checked = emf::observations(document).and_then(|observations| {
            for o in &observations {
                match registry.kind(&o.family) {
                    Some(kind) if kind != o.kind => {
                        return Err(format!("{} is already a series of another type", o.family));
                    }
                    _ => {}
                }
            }
            Ok(observations)
        });
        let observations = match checked {
            Ok(observations) => observations,
            Err(reason) => {
                registry.add(EMF_REJECTED, by, 1.0);
                return Err(reason);
            }
        };
        for o in observations {
            let help = format!("EMF metric {}, folded by redline-local.", o.source);
            registry
                .declare(&o.family, o.kind, &help)
                .expect("kinds checked above");
            for value in o.values {
                match o.kind {
                    Kind::Counter => registry.add(&o.family, o.labels.clone(), value),
                    Kind::Histogram => registry.observe(&o.family, o.labels.clone(), value),
                    Kind::Gauge => registry.set(&o.family, o.labels.clone(), value),
                }
            }
        }
        registry.add(EMF_DOCUMENTS, by, 1.0);
        drop(registry);
        if let Some(datapoints) = &self.datapoints {
            datapoints.record_emf(document);
        }
        Ok(())
    }

    pub fn render(&self) -> String {
        self.registry.lock().expect("not poisoned").render()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_the_runners_own_series() {
        let metrics = Metrics::default();
        metrics.function("auth", 256);
        metrics.cold_start("auth", Duration::from_millis(20));
        metrics.invocation("auth", "success", Duration::from_millis(5));
        metrics.instances("auth", 1);
        metrics.peak_rss("auth", 9_000_000);
        metrics.peak_rss("auth", 7_000_000);
        let text = metrics.render();
        for line in [
            "redline_local_invocations_total{function=\"auth\",outcome=\"success\"} 1\n",
            "redline_local_cold_starts_total{function=\"auth\"} 1\n",
            "# TYPE redline_local_instances gauge\n",
            "redline_local_instances{function=\"auth\"} 1\n",
            "# TYPE redline_local_init_duration_seconds histogram\n",
            "redline_local_init_duration_seconds_bucket{function=\"auth\",le=\"0.025\"} 1\n",
            "redline_local_init_duration_seconds_sum{function=\"auth\"} 0.02\n",
            "redline_local_invocation_duration_seconds_count{function=\"auth\"} 1\n",
            "redline_local_instance_max_rss_bytes{function=\"auth\"} 9000000\n",
            "redline_local_memory_size_bytes{function=\"auth\"} 268435456\n",
            "redline_local_emf_rejected_total{function=\"auth\"} 0\n",
        ] {
            assert!(text.contains(line), "{line}in:\n{text}");
        }
    }

    #[test]
    fn own_series_lists_every_own_family() {
        let listed: BTreeSet<String> = OWN_SERIES.iter().map(|s| s.to_string()).collect();
        let families: BTreeSet<String> = OWN
            .iter()
            .flat_map(|(name, kind, _)| exposed_names(name, *kind))
            .collect();
        assert_eq!(listed, families);
    }

    #[test]
    fn exposed_series_names_the_catalogue_and_the_runner() {
        let names = exposed_series("Redline");
        for name in [
            "redline_requests_total",
            "redline_latency_seconds_bucket",
            "redline_db_latency_seconds_count",
            "redline_local_instance_max_rss_bytes",
            "redline_local_memory_size_bytes",
        ] {
            assert!(names.contains(name), "{name}");
        }
        assert!(!names.contains("redline_requests_total_bucket"));
        assert!(
            !names.contains("redline_latency_seconds"),
            "a histogram is only its _bucket, _sum and _count"
        );
    }

    #[test]
    fn a_document_is_folded_once_and_a_bad_one_is_counted() {
        let metrics = Metrics::default();
        metrics.function("AuthFunction", 128);
        let doc = |value: Value| {
            json!({
                "_aws": {"Timestamp": 1u64, "CloudWatchMetrics": [{"Namespace": "Redline",
                    "Dimensions": [["Function"], ["Function", "Route"]],
                    "Metrics": [{"Name": "Requests", "Unit": "Count"}, {"Name": "Latency", "Unit": "Milliseconds"}]}]},
                "Function": "auth", "Route": "/x", "Requests": value, "Latency": 30
            })
            .as_object()
            .unwrap()
            .clone()
        };
        metrics.fold("AuthFunction", &doc(json!(1))).unwrap();
        metrics.fold("AuthFunction", &doc(json!([1, 1]))).unwrap();
        assert!(metrics.fold("AuthFunction", &doc(json!("one"))).is_err());
        let text = metrics.render();
        assert!(
            text.contains("redline_requests_total{function=\"auth\",route=\"/x\"} 3\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "redline_latency_seconds_bucket{function=\"auth\",route=\"/x\",le=\"0.05\"} 2\n"
            ),
            "{text}"
        );
        assert!(text.contains("redline_local_emf_documents_total{function=\"AuthFunction\"} 2\n"));
        assert!(text.contains("redline_local_emf_rejected_total{function=\"AuthFunction\"} 1\n"));
        // The rejected document left nothing behind: still 2 latency observations.
        assert!(text.contains("redline_latency_seconds_count{function=\"auth\",route=\"/x\"} 2\n"));
    }

    #[test]
    fn a_series_of_another_type_refuses_the_document() {
        let metrics = Metrics::default();
        let doc = |name: &str, unit: &str| {
            let mut doc = json!({"_aws": {"Timestamp": 1u64, "CloudWatchMetrics": [{
                "Namespace": "Redline", "Dimensions": [], "Metrics": [{"Name": name, "Unit": unit}]}]}});
            doc[name] = json!(1);
            doc.as_object().unwrap().clone()
        };
        // redline_wait_seconds, a histogram; then the same name as a gauge.
        metrics.fold("F", &doc("Wait", "Milliseconds")).unwrap();
        let reason = metrics.fold("F", &doc("WaitSeconds", "Bytes")).unwrap_err();
        assert!(reason.contains("another type"), "{reason}");
        let text = metrics.render();
        assert!(
            text.contains("redline_local_emf_rejected_total{function=\"F\"} 1\n"),
            "{text}"
        );
        assert!(
            !text.contains("# TYPE redline_wait_seconds gauge"),
            "{text}"
        );
    }

    /// A realistic `/metrics`: the runner's own series for two functions and the documents an
    /// HTTP function and an event function print, lists of values and awkward labels included.
    fn realistic() -> String {
        let metrics = Metrics::default();
        for (function, memory) in [("AuthFunction", 256), ("MigrateFunction", 128)] {
            metrics.function(function, memory);
            metrics.cold_start(function, Duration::from_millis(42));
            metrics.invocation(function, "success", Duration::from_micros(2500));
            metrics.invocation(function, "function_error", Duration::from_secs(3));
            metrics.instances(function, 1);
            metrics.peak_rss(function, 12_345_678);
            metrics.line_filtered(function);
        }
        let request = json!({
            "_aws": {"Timestamp": 1764090000000u64, "CloudWatchMetrics": [{"Namespace": "Redline",
                "Dimensions": [["Service", "Function"], ["Service", "Function", "Version"], ["Service", "Function", "Route"]],
                "Metrics": [
                    {"Name": "Requests", "Unit": "Count", "StorageResolution": 60},
                    {"Name": "Latency", "Unit": "Milliseconds", "StorageResolution": 60},
                    {"Name": "ServerErrors", "Unit": "Count"}, {"Name": "ClientErrors", "Unit": "Count"},
                    {"Name": "ColdStart", "Unit": "Count"}, {"Name": "LoginFailed", "Unit": "Count"},
                    {"Name": "DbLatency", "Unit": "Milliseconds"}, {"Name": "CacheLatency", "Unit": "Milliseconds"},
                    {"Name": "PayloadSize", "Unit": "Bytes"}
                ]}]},
            "Service": "redline", "Function": "auth", "Version": "$LATEST", "Route": "/api/v1/auth/\"login\"",
            "Requests": 1, "Latency": [3.2, 2000, 12000], "ServerErrors": 0, "ClientErrors": 1, "ColdStart": 1,
            "LoginFailed": 1, "DbLatency": 1.5, "CacheLatency": 0.2, "PayloadSize": 512,
            "requestId": "r", "traceId": "1-x", "status": 401, "reason": "INVALID_CREDENTIALS"
        });
        let event = json!({
            "_aws": {"Timestamp": 1764090000000u64, "CloudWatchMetrics": [{"Namespace": "Redline",
                "Dimensions": [["Service", "Function"]],
                "Metrics": [{"Name": "Invocations", "Unit": "Count"}, {"Name": "Failures", "Unit": "Count"},
                    {"Name": "MigrationsApplied", "Unit": "Count"}]}]},
            "Service": "redline", "Function": "migrate", "Invocations": 1, "Failures": 0, "MigrationsApplied": 3
        });
        metrics
            .fold("AuthFunction", request.as_object().unwrap())
            .unwrap();
        metrics
            .fold("MigrateFunction", event.as_object().unwrap())
            .unwrap();
        metrics.render()
    }

    /// `promtool check metrics` (Debian's `prometheus` package; scripts/ensure-services.sh
    /// installs it) finds nothing to say about what the runner serves.
    #[test]
    fn promtool_accepts_the_rendered_metrics() {
        use std::io::Write;
        use std::process::{Command, Stdio};
        let text = realistic();
        for expected in [
            "# TYPE redline_latency_seconds histogram\n",
            "redline_latency_seconds_bucket{function=\"auth\",route=\"/api/v1/auth/\\\"login\\\"\",service=\"redline\",version=\"$LATEST\",le=\"2\"} 2\n",
            "# TYPE redline_payload_size gauge\n",
            "redline_migrations_applied_total{function=\"migrate\",service=\"redline\"} 3\n",
        ] {
            assert!(text.contains(expected), "{expected}in:\n{text}");
        }
        let mut promtool = Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("promtool (Debian package prometheus; scripts/ensure-services.sh installs it)");
        promtool
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let output = promtool.wait_with_output().unwrap();
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            output.status.success() && said.trim().is_empty(),
            "promtool check metrics ({}):\n{said}\non:\n{text}",
            output.status
        );
    }
}
