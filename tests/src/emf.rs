//! Checks CloudWatch Embedded Metric Format (EMF) documents as CloudWatch would take them: AWS's
//! published JSON schema (`tests/fixtures/emf/schema.json`; `SOURCE.md` beside it says where it
//! comes from), then the rules of the same specification page and of CloudWatch's metric limits
//! that the schema cannot express. Every failure names its rule in brackets and the offending key:
//! `[metric-value] Latency: no root member holds its value`.
//!
//! `documents_in` picks the EMF documents out of log output (a function's stdout, the runner's
//! `--emf-log` file) for the tests to validate one by one.

use boon::{Compiler, Draft, SchemaIndex, Schemas, ValidationError};
use serde_json::{Map, Value};
use std::collections::HashSet;
use std::fmt::Display;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// The schema as the AWS page publishes it, without `$schema`: it is compiled as draft-07.
const SCHEMA: &str = include_str!("../fixtures/emf/schema.json");
/// The name the fixture is registered under; nothing is ever loaded from it.
const SCHEMA_URL: &str = "urn:redline:emf-schema";

// The limits, each from the EMF specification page or CloudWatch's API reference.
/// "A DimensionSet MUST NOT contain more than 30 dimension keys."
pub const MAX_DIMENSIONS_PER_SET: usize = 30;
/// "This array MUST NOT contain more than 100 MetricDefinition objects." The document as a whole
/// is held to the same 100.
pub const MAX_METRICS_PER_DIRECTIVE: usize = 100;
pub const MAX_METRICS_PER_DOCUMENT: usize = 100;
/// "Numeric array metric targets MUST NOT have more than 100 members."
pub const MAX_VALUES_PER_METRIC: usize = 100;
/// "This value MUST NOT contain more than 1024 characters." (a dimension target)
pub const MAX_DIMENSION_VALUE_CHARS: usize = 1024;
/// CloudWatch's `Namespace` and `MetricName`: 1 to 255 characters.
pub const MAX_NAME_CHARS: usize = 255;
/// "limited to a maximum size of 1 MB" (a CloudWatch Logs event: 1,048,576 bytes).
pub const MAX_LINE_BYTES: usize = 1_048_576;
/// CloudWatch Logs takes events at most 14 days old and at most 2 hours ahead.
pub const MAX_AGE_MS: i64 = 14 * 24 * 3600 * 1000;
pub const MAX_AHEAD_MS: i64 = 2 * 3600 * 1000;
/// Below this an epoch timestamp is seconds, not milliseconds (1e11 ms is March 1973).
const SECONDS_BELOW: i64 = 100_000_000_000;
/// CloudWatch's standard units (`MetricDatum.Unit`).
pub const UNITS: [&str; 27] = [
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];
/// "Values SHOULD be valid CloudWatch supported resolutions, 1 or 60."
pub const STORAGE_RESOLUTIONS: [i64; 2] = [1, 60];

/// A rule a document can break; its name opens every failure message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// AWS's published JSON schema.
    Schema,
    /// The serialised document fits one CloudWatch Logs event.
    LineSize,
    /// `_aws.Timestamp` is epoch milliseconds within what CloudWatch Logs accepts.
    Timestamp,
    /// 1..255 characters of `[0-9A-Za-z._/#: -]`, not only spaces, not `:…`, not `AWS/…`.
    Namespace,
    /// At most 30 keys in a dimension set.
    DimensionSetSize,
    /// Every dimension key is a root member with a string value of 1..1024 characters.
    DimensionValue,
    /// 1..255 characters, not only whitespace.
    MetricName,
    /// A metric is declared once in a directive.
    DuplicateMetric,
    MetricsPerDirective,
    MetricsPerDocument,
    /// Every declared metric has a root member: a number, or an array of 1..100 numbers, each
    /// within CloudWatch's range.
    MetricValue,
    Unit,
    StorageResolution,
}

impl Rule {
    pub const fn name(self) -> &'static str {
        match self {
            Rule::Schema => "schema",
            Rule::LineSize => "line-size",
            Rule::Timestamp => "timestamp",
            Rule::Namespace => "namespace",
            Rule::DimensionSetSize => "dimension-set-size",
            Rule::DimensionValue => "dimension-value",
            Rule::MetricName => "metric-name",
            Rule::DuplicateMetric => "duplicate-metric",
            Rule::MetricsPerDirective => "metrics-per-directive",
            Rule::MetricsPerDocument => "metrics-per-document",
            Rule::MetricValue => "metric-value",
            Rule::Unit => "unit",
            Rule::StorageResolution => "storage-resolution",
        }
    }
}

/// Validates one EMF document against the schema and every rule, with the clock's time for the
/// timestamp window.
pub fn validate(document: &Value) -> Result<(), Vec<String>> {
    validate_at(document, now_ms())
}

/// [`validate`] with `now_ms` as the current time (epoch milliseconds).
pub fn validate_at(document: &Value, now_ms: i64) -> Result<(), Vec<String>> {
    let mut failures = schema_failures(document);
    Checker {
        failures: &mut failures,
        now_ms,
    }
    .document(document);
    if failures.is_empty() {
        Ok(())
    } else {
        Err(failures)
    }
}

/// Every line of `text` that is a JSON object with an `_aws` member, parsed.
pub fn documents_in(text: &str) -> Vec<Value> {
    text.lines()
        // serde_json allows whitespace around the value.
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|value| value.get("_aws").is_some())
        .collect()
}

fn now_ms() -> i64 {
    let since_epoch = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970");
    i64::try_from(since_epoch.as_millis()).expect("milliseconds fit an i64")
}

fn compiled_schema() -> &'static (Schemas, SchemaIndex) {
    static COMPILED: OnceLock<(Schemas, SchemaIndex)> = OnceLock::new();
    COMPILED.get_or_init(|| {
        let schema: Value = serde_json::from_str(SCHEMA).expect("the EMF schema fixture is JSON");
        let mut schemas = Schemas::new();
        let mut compiler = Compiler::new();
        // The page's schema names no draft; its keywords and `$id`s are draft-07's. Compiling
        // also validates it against the draft-07 meta-schema boon carries (no network).
        compiler.set_default_draft(Draft::V7);
        compiler
            .add_resource(SCHEMA_URL, schema)
            .expect("the EMF schema fixture registers");
        let index = compiler
            .compile(SCHEMA_URL, &mut schemas)
            .unwrap_or_else(|e| panic!("the EMF schema fixture compiles as draft-07: {e:#}"));
        (schemas, index)
    })
}

fn schema_failures(document: &Value) -> Vec<String> {
    let (schemas, index) = compiled_schema();
    let mut failures = Vec::new();
    if let Err(error) = schemas.validate(document, *index) {
        collect_leaves(&error, &mut failures);
    }
    failures
}

/// boon reports a tree whose inner nodes only say "validation failed"; the leaves say what.
fn collect_leaves(error: &ValidationError, failures: &mut Vec<String>) {
    if error.causes.is_empty() {
        let at = error.instance_location.to_string();
        let key = if at.is_empty() { "/".to_owned() } else { at };
        failures.push(message(Rule::Schema, key, &error.kind));
    }
    for cause in &error.causes {
        collect_leaves(cause, failures);
    }
}

fn message(rule: Rule, key: impl Display, detail: impl Display) -> String {
    format!("[{}] {key}: {detail}", rule.name())
}

/// The rules beyond the schema. A part the schema already rejects for its shape (a missing
/// `_aws`, a non-array `Metrics`) is skipped here rather than reported twice.
struct Checker<'f> {
    failures: &'f mut Vec<String>,
    now_ms: i64,
}

impl Checker<'_> {
    fn fail(&mut self, rule: Rule, key: impl Display, detail: impl Display) {
        self.failures.push(message(rule, key, detail));
    }

    fn document(&mut self, document: &Value) {
        // Serialised as the functions write it: compact, one line.
        let size = serde_json::to_string(document).map_or(0, |line| line.len());
        if size > MAX_LINE_BYTES {
            self.fail(
                Rule::LineSize,
                "document",
                format_args!("{size} bytes on one line, over {MAX_LINE_BYTES}"),
            );
        }
        let Some(root) = document.as_object() else {
            return;
        };
        let Some(aws) = root.get("_aws").and_then(Value::as_object) else {
            return;
        };
        if let Some(timestamp) = aws.get("Timestamp") {
            self.timestamp(timestamp);
        }
        let Some(directives) = aws.get("CloudWatchMetrics").and_then(Value::as_array) else {
            return;
        };
        let mut metrics_in_document = 0;
        let mut dimensions_seen = HashSet::new();
        let mut values_seen = HashSet::new();
        for (d, directive) in directives.iter().enumerate() {
            let Some(directive) = directive.as_object() else {
                continue;
            };
            let at = format!("_aws.CloudWatchMetrics[{d}]");
            if let Some(namespace) = directive.get("Namespace").and_then(Value::as_str) {
                self.namespace(&at, namespace);
            }
            if let Some(sets) = directive.get("Dimensions").and_then(Value::as_array) {
                for (s, set) in sets.iter().enumerate() {
                    let Some(set) = set.as_array() else { continue };
                    self.dimension_set(&format!("{at}.Dimensions[{s}]"), set);
                    for key in set.iter().filter_map(Value::as_str) {
                        if dimensions_seen.insert(key) {
                            self.dimension_value(root, key);
                        }
                    }
                }
            }
            if let Some(metrics) = directive.get("Metrics").and_then(Value::as_array) {
                metrics_in_document += metrics.len();
                self.metrics(&at, metrics, root, &mut values_seen);
            }
        }
        if metrics_in_document > MAX_METRICS_PER_DOCUMENT {
            self.fail(
                Rule::MetricsPerDocument,
                "_aws.CloudWatchMetrics",
                format_args!(
                    "{metrics_in_document} metrics in the document, over {MAX_METRICS_PER_DOCUMENT}"
                ),
            );
        }
    }

    fn timestamp(&mut self, timestamp: &Value) {
        const KEY: &str = "_aws.Timestamp";
        // A non-number is the schema's to report. An integer too large for an i64 (or written
        // as `1.7e12`) is still a time, far in the future or not.
        let ms = match (timestamp.as_i64(), timestamp.as_f64()) {
            (Some(ms), _) => ms,
            (None, Some(ms)) if ms.fract() == 0.0 => {
                ms.clamp(i64::MIN as f64, i64::MAX as f64) as i64
            }
            _ => return,
        };
        if (0..SECONDS_BELOW).contains(&ms) {
            self.fail(
                Rule::Timestamp,
                KEY,
                format_args!("{ms} is epoch seconds, not milliseconds"),
            );
        } else if ms < self.now_ms - MAX_AGE_MS {
            self.fail(
                Rule::Timestamp,
                KEY,
                format_args!(
                    "{ms} is {} s in the past, over 14 days",
                    (self.now_ms - ms) / 1000
                ),
            );
        } else if ms > self.now_ms + MAX_AHEAD_MS {
            self.fail(
                Rule::Timestamp,
                KEY,
                format_args!(
                    "{ms} is {} s in the future, over 2 hours",
                    (ms - self.now_ms) / 1000
                ),
            );
        }
    }

    fn namespace(&mut self, at: &str, namespace: &str) {
        let key = format!("{at}.Namespace {namespace:?}");
        let chars = namespace.chars().count();
        if !(1..=MAX_NAME_CHARS).contains(&chars) {
            self.fail(
                Rule::Namespace,
                &key,
                format_args!("{chars} characters, not 1..={MAX_NAME_CHARS}"),
            );
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || "._/#: -".contains(c);
        if let Some(bad) = namespace.chars().find(|&c| !allowed(c)) {
            self.fail(
                Rule::Namespace,
                &key,
                format_args!("{bad:?} is not one of 0-9A-Za-z . - _ / # : and space"),
            );
        }
        if namespace.trim().is_empty() {
            self.fail(Rule::Namespace, &key, "has no non-whitespace character");
        }
        if namespace.starts_with(':') {
            self.fail(Rule::Namespace, &key, "starts with ':'");
        }
        if namespace.starts_with("AWS/") {
            self.fail(Rule::Namespace, &key, "'AWS/' is reserved for AWS services");
        }
    }

    fn dimension_set(&mut self, at: &str, set: &[Value]) {
        if set.len() > MAX_DIMENSIONS_PER_SET {
            self.fail(
                Rule::DimensionSetSize,
                at,
                format_args!(
                    "{} dimension keys, over {MAX_DIMENSIONS_PER_SET}",
                    set.len()
                ),
            );
        }
    }

    fn dimension_value(&mut self, root: &Map<String, Value>, key: &str) {
        match root.get(key) {
            None => self.fail(Rule::DimensionValue, key, "no root member holds its value"),
            Some(Value::String(value)) => {
                let chars = value.chars().count();
                if !(1..=MAX_DIMENSION_VALUE_CHARS).contains(&chars) {
                    self.fail(
                        Rule::DimensionValue,
                        key,
                        format_args!(
                            "value of {chars} characters, not 1..={MAX_DIMENSION_VALUE_CHARS}"
                        ),
                    );
                }
            }
            Some(other) => self.fail(
                Rule::DimensionValue,
                key,
                format_args!("value {other} is not a string"),
            ),
        }
    }

    fn metrics<'d>(
        &mut self,
        at: &str,
        metrics: &'d [Value],
        root: &Map<String, Value>,
        values_seen: &mut HashSet<&'d str>,
    ) {
        if metrics.len() > MAX_METRICS_PER_DIRECTIVE {
            self.fail(
                Rule::MetricsPerDirective,
                format_args!("{at}.Metrics"),
                format_args!(
                    "{} metrics, over {MAX_METRICS_PER_DIRECTIVE}",
                    metrics.len()
                ),
            );
        }
        let mut declared = HashSet::new();
        for metric in metrics.iter().filter_map(Value::as_object) {
            let Some(name) = metric.get("Name").and_then(Value::as_str) else {
                continue;
            };
            if !declared.insert(name) {
                self.fail(
                    Rule::DuplicateMetric,
                    name,
                    format_args!("declared more than once in {at}.Metrics"),
                );
            }
            self.metric_name(name);
            if let Some(unit) = metric.get("Unit") {
                if !unit.as_str().is_some_and(|unit| UNITS.contains(&unit)) {
                    self.fail(
                        Rule::Unit,
                        name,
                        format_args!("{unit} is not a CloudWatch unit"),
                    );
                }
            }
            if let Some(resolution) = metric.get("StorageResolution") {
                if !resolution
                    .as_i64()
                    .is_some_and(|r| STORAGE_RESOLUTIONS.contains(&r))
                {
                    self.fail(
                        Rule::StorageResolution,
                        name,
                        format_args!("{resolution} is neither 1 nor 60"),
                    );
                }
            }
            if values_seen.insert(name) {
                self.metric_value(root, name);
            }
        }
    }

    fn metric_name(&mut self, name: &str) {
        let chars = name.chars().count();
        if !(1..=MAX_NAME_CHARS).contains(&chars) {
            self.fail(
                Rule::MetricName,
                format_args!("{name:?}"),
                format_args!("{chars} characters, not 1..={MAX_NAME_CHARS}"),
            );
        } else if name.trim().is_empty() {
            self.fail(
                Rule::MetricName,
                format_args!("{name:?}"),
                "has no non-whitespace character",
            );
        }
    }

    fn metric_value(&mut self, root: &Map<String, Value>, name: &str) {
        match root.get(name) {
            None => self.fail(Rule::MetricValue, name, "no root member holds its value"),
            Some(Value::Number(number)) => self.metric_number(name, number),
            Some(Value::Array(values)) => {
                if values.is_empty() || values.len() > MAX_VALUES_PER_METRIC {
                    self.fail(
                        Rule::MetricValue,
                        name,
                        format_args!(
                            "array of {} values, not 1..={MAX_VALUES_PER_METRIC}",
                            values.len()
                        ),
                    );
                }
                for value in values {
                    match value {
                        Value::Number(number) => self.metric_number(name, number),
                        other => self.fail(
                            Rule::MetricValue,
                            name,
                            format_args!("array member {other} is not a number"),
                        ),
                    }
                }
            }
            Some(other) => self.fail(
                Rule::MetricValue,
                name,
                format_args!("value {other} is neither a number nor an array of numbers"),
            ),
        }
    }

    /// CloudWatch rejects magnitudes above 2^360 and, but for zero, below 2^-360.
    fn metric_number(&mut self, name: &str, number: &serde_json::Number) {
        let magnitude = number.as_f64().map_or(f64::INFINITY, f64::abs);
        let (largest, smallest) = (2f64.powi(360), 2f64.powi(-360));
        if magnitude > largest || (magnitude != 0.0 && magnitude < smallest) {
            self.fail(
                Rule::MetricValue,
                name,
                format_args!("{number} is outside CloudWatch's range of 2^-360..2^360"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z

    /// A document like the HTTP functions write (operations.md "Metrics").
    fn valid_at(now_ms: i64) -> Value {
        json!({
            "_aws": {
                "Timestamp": now_ms,
                "CloudWatchMetrics": [{
                    "Namespace": "Redline",
                    "Dimensions": [
                        ["Service", "Function"],
                        ["Service", "Function", "Version"],
                        ["Service", "Function", "Route"]
                    ],
                    "Metrics": [
                        {"Name": "Requests", "Unit": "Count", "StorageResolution": 60},
                        {"Name": "Latency", "Unit": "Milliseconds", "StorageResolution": 60}
                    ]
                }]
            },
            "Service": "redline",
            "Function": "auth",
            "Version": "$LATEST",
            "Route": "/api/v1/auth/login",
            "Requests": 1,
            "Latency": 3.2,
            "requestId": "r",
            "traceId": "1-abc",
            "status": 200,
            "reason": ""
        })
    }

    fn valid() -> Value {
        valid_at(NOW)
    }

    fn directive(document: &mut Value) -> &mut Value {
        &mut document["_aws"]["CloudWatchMetrics"][0]
    }

    fn root(document: &mut Value) -> &mut Map<String, Value> {
        document.as_object_mut().unwrap()
    }

    /// The document fails, and one of its messages is `rule`'s and names `key`.
    #[track_caller]
    fn assert_breaks(document: &Value, rule: Rule, key: &str) -> Vec<String> {
        let failures = validate_at(document, NOW).expect_err("the document should fail");
        let prefix = format!("[{}] ", rule.name());
        assert!(
            failures
                .iter()
                .any(|f| f.starts_with(&prefix) && f.contains(key)),
            "no {prefix}failure naming {key:?} in {failures:#?}"
        );
        failures
    }

    /// Declares `count` more Count metrics named `M0..` in `document`'s first directive and
    /// gives each a value.
    fn add_metrics(document: &mut Value, count: usize) {
        for i in 0..count {
            let name = format!("M{i}");
            directive(document)["Metrics"]
                .as_array_mut()
                .unwrap()
                .push(json!({"Name": name, "Unit": "Count"}));
            root(document).insert(name, json!(1));
        }
    }

    #[test]
    fn a_document_as_the_functions_write_it_passes() {
        assert_eq!(validate_at(&valid(), NOW), Ok(()));
        // And with the clock's time, as the black-box tests will call it.
        assert_eq!(validate(&valid_at(now_ms())), Ok(()));
    }

    #[test]
    fn the_schema_fixture_is_valid_draft_07() {
        let schema: Value = serde_json::from_str(SCHEMA).unwrap();
        let mut schemas = Schemas::new();
        let meta = Compiler::new()
            .compile("http://json-schema.org/draft-07/schema", &mut schemas)
            .expect("boon carries the draft-07 meta-schema");
        assert!(schemas.validate(&schema, meta).is_ok());
        // The meta-schema does reject a broken schema, so the check above can fail.
        assert!(schemas
            .validate(&json!({"maxItems": "thirty"}), meta)
            .is_err());
        // The fixture is the page's current schema (30 dimensions, StorageResolution).
        assert_eq!(
            schema.pointer("/properties/_aws/properties/CloudWatchMetrics/items/properties/Dimensions/items/maxItems"),
            Some(&json!(30))
        );
        assert!(schema
            .pointer("/properties/_aws/properties/CloudWatchMetrics/items/properties/Metrics/items/properties/StorageResolution")
            .is_some());
    }

    #[test]
    fn the_schema_rejects_a_document_without_metric_directives() {
        let mut document = valid();
        document["_aws"]
            .as_object_mut()
            .unwrap()
            .remove("CloudWatchMetrics");
        let failures = assert_breaks(&document, Rule::Schema, "/_aws");
        assert!(failures[0].contains("CloudWatchMetrics"), "{failures:?}");
    }

    #[test]
    fn the_schema_rejects_a_timestamp_that_is_not_an_integer() {
        let mut document = valid();
        document["_aws"]["Timestamp"] = json!("2026-01-01T00:00:00Z");
        assert_breaks(&document, Rule::Schema, "/_aws/Timestamp");
    }

    #[test]
    fn the_schema_rejects_a_dimension_key_that_is_not_a_string() {
        let mut document = valid();
        directive(&mut document)["Dimensions"][0][1] = json!(7);
        assert_breaks(
            &document,
            Rule::Schema,
            "/_aws/CloudWatchMetrics/0/Dimensions/0/1",
        );
    }

    #[test]
    fn a_timestamp_in_seconds_fails() {
        let mut document = valid();
        document["_aws"]["Timestamp"] = json!(NOW / 1000);
        let failures = assert_breaks(&document, Rule::Timestamp, "_aws.Timestamp");
        assert!(failures[0].contains("seconds"), "{failures:?}");
    }

    #[test]
    fn a_timestamp_far_in_the_past_or_future_fails() {
        for ms in [NOW - MAX_AGE_MS - 1, NOW + MAX_AHEAD_MS + 1, 0] {
            let mut document = valid();
            document["_aws"]["Timestamp"] = json!(ms);
            assert_breaks(&document, Rule::Timestamp, "_aws.Timestamp");
        }
        // The window's edges are inside it.
        for ms in [NOW - MAX_AGE_MS, NOW + MAX_AHEAD_MS] {
            assert_eq!(validate_at(&valid_at(ms), NOW), Ok(()));
        }
    }

    #[test]
    fn a_declared_metric_without_a_value_fails() {
        let mut document = valid();
        root(&mut document).remove("Latency");
        assert_breaks(&document, Rule::MetricValue, "Latency");
    }

    #[test]
    fn a_metric_value_that_is_not_a_number_fails() {
        for value in [json!("3.2"), json!(null), json!([1, "2"]), json!([])] {
            let mut document = valid();
            root(&mut document).insert("Latency".into(), value);
            assert_breaks(&document, Rule::MetricValue, "Latency");
        }
    }

    #[test]
    fn a_metric_value_outside_cloudwatch_range_fails() {
        for value in [json!(1e200), json!(-1e200), json!(1e-200)] {
            let mut document = valid();
            root(&mut document).insert("Latency".into(), value);
            assert_breaks(&document, Rule::MetricValue, "Latency");
        }
        let mut document = valid();
        root(&mut document).insert("Latency".into(), json!(0));
        assert_eq!(validate_at(&document, NOW), Ok(()));
    }

    #[test]
    fn an_array_of_101_values_fails_and_100_pass() {
        let mut document = valid();
        root(&mut document).insert("Latency".into(), json!(vec![1.5; 101]));
        assert_breaks(&document, Rule::MetricValue, "Latency");
        root(&mut document).insert("Latency".into(), json!(vec![1.5; 100]));
        assert_eq!(validate_at(&document, NOW), Ok(()));
    }

    #[test]
    fn a_dimension_without_a_root_member_fails() {
        let mut document = valid();
        root(&mut document).remove("Route");
        assert_breaks(&document, Rule::DimensionValue, "Route");
    }

    #[test]
    fn a_dimension_value_that_is_not_a_string_fails() {
        let mut document = valid();
        root(&mut document).insert("Version".into(), json!(1));
        assert_breaks(&document, Rule::DimensionValue, "Version");
    }

    #[test]
    fn a_dimension_value_that_is_empty_or_over_1024_characters_fails() {
        for value in [String::new(), "é".repeat(1025)] {
            let mut document = valid();
            root(&mut document).insert("Route".into(), json!(value));
            assert_breaks(&document, Rule::DimensionValue, "Route");
        }
        let mut document = valid();
        root(&mut document).insert("Route".into(), json!("é".repeat(1024)));
        assert_eq!(validate_at(&document, NOW), Ok(()));
    }

    #[test]
    fn a_unit_outside_cloudwatch_list_fails() {
        for unit in [json!("Millis"), json!("milliseconds"), json!(1)] {
            let mut document = valid();
            directive(&mut document)["Metrics"][1]["Unit"] = unit;
            assert_breaks(&document, Rule::Unit, "Latency");
        }
        for unit in UNITS {
            let mut document = valid();
            directive(&mut document)["Metrics"][1]["Unit"] = json!(unit);
            assert_eq!(validate_at(&document, NOW), Ok(()), "{unit}");
        }
    }

    #[test]
    fn a_storage_resolution_other_than_1_or_60_fails() {
        for resolution in [json!(30), json!(0), json!("60")] {
            let mut document = valid();
            directive(&mut document)["Metrics"][0]["StorageResolution"] = resolution;
            assert_breaks(&document, Rule::StorageResolution, "Requests");
        }
        let mut document = valid();
        directive(&mut document)["Metrics"][0]["StorageResolution"] = json!(1);
        assert_eq!(validate_at(&document, NOW), Ok(()));
    }

    #[test]
    fn a_dimension_set_of_31_keys_fails_and_30_pass() {
        let mut document = valid();
        let keys: Vec<String> = (0..31).map(|i| format!("D{i}")).collect();
        for key in &keys {
            root(&mut document).insert(key.clone(), json!("v"));
        }
        directive(&mut document)["Dimensions"] = json!([&keys]);
        assert_breaks(
            &document,
            Rule::DimensionSetSize,
            "_aws.CloudWatchMetrics[0].Dimensions[0]",
        );
        directive(&mut document)["Dimensions"] = json!([keys[..30].to_vec()]);
        assert_eq!(validate_at(&document, NOW), Ok(()));
    }

    #[test]
    fn a_directive_of_101_metrics_fails_and_100_pass() {
        let mut document = valid();
        add_metrics(&mut document, 99);
        assert_breaks(
            &document,
            Rule::MetricsPerDirective,
            "_aws.CloudWatchMetrics[0].Metrics",
        );
        directive(&mut document)["Metrics"]
            .as_array_mut()
            .unwrap()
            .pop();
        assert_eq!(validate_at(&document, NOW), Ok(()));
    }

    #[test]
    fn a_document_of_101_metrics_over_two_directives_fails() {
        let mut document = valid();
        add_metrics(&mut document, 48); // 50 in the first directive
        let mut second = directive(&mut document).clone();
        second["Metrics"]
            .as_array_mut()
            .unwrap()
            .push(json!({"Name": "M48"}));
        root(&mut document).insert("M48".into(), json!(1));
        document["_aws"]["CloudWatchMetrics"]
            .as_array_mut()
            .unwrap()
            .push(second); // 51 in the second
        let failures = assert_breaks(
            &document,
            Rule::MetricsPerDocument,
            "_aws.CloudWatchMetrics",
        );
        assert!(
            !failures
                .iter()
                .any(|f| f.starts_with("[metrics-per-directive]")),
            "{failures:?}"
        );
    }

    #[test]
    fn a_metric_declared_twice_in_a_directive_fails() {
        let mut document = valid();
        directive(&mut document)["Metrics"]
            .as_array_mut()
            .unwrap()
            .push(json!({"Name": "Requests", "Unit": "Count"}));
        assert_breaks(&document, Rule::DuplicateMetric, "Requests");
    }

    #[test]
    fn a_bad_namespace_fails() {
        let cases = [
            "AWS/Lambda".to_owned(),
            "Red line!".to_owned(),
            "Rédline".to_owned(),
            "   ".to_owned(),
            ":Redline".to_owned(),
            "R".repeat(256),
        ];
        for namespace in cases {
            let mut document = valid();
            directive(&mut document)["Namespace"] = json!(namespace);
            assert_breaks(
                &document,
                Rule::Namespace,
                "_aws.CloudWatchMetrics[0].Namespace",
            );
        }
        let mut document = valid();
        directive(&mut document)["Namespace"] =
            json!(format!("Red line/v1.0_#:-{}", "R".repeat(238)));
        assert_eq!(validate_at(&document, NOW), Ok(()));
    }

    #[test]
    fn a_bad_metric_name_fails() {
        for name in ["   ".to_owned(), "L".repeat(256)] {
            let mut document = valid();
            directive(&mut document)["Metrics"][1]["Name"] = json!(name);
            root(&mut document).insert(name.clone(), json!(1));
            assert_breaks(&document, Rule::MetricName, &format!("{name:?}"));
        }
        let name = "L".repeat(255);
        let mut document = valid();
        directive(&mut document)["Metrics"][1]["Name"] = json!(name);
        root(&mut document).insert(name, json!(1));
        assert_eq!(validate_at(&document, NOW), Ok(()));
    }

    #[test]
    fn a_document_over_1_mb_fails() {
        let mut document = valid();
        root(&mut document).insert("reason".into(), json!("x".repeat(MAX_LINE_BYTES)));
        assert_breaks(&document, Rule::LineSize, "document");
    }

    #[test]
    fn each_failure_is_reported_not_only_the_first() {
        let mut document = valid();
        root(&mut document).remove("Latency");
        root(&mut document).remove("Route");
        document["_aws"]["Timestamp"] = json!(NOW / 1000);
        let failures = validate_at(&document, NOW).unwrap_err();
        for rule in [Rule::MetricValue, Rule::DimensionValue, Rule::Timestamp] {
            let prefix = format!("[{}] ", rule.name());
            assert!(
                failures.iter().any(|f| f.starts_with(&prefix)),
                "{failures:?}"
            );
        }
    }

    #[test]
    fn documents_in_keeps_the_json_objects_with_aws() {
        let emf = serde_json::to_string(&valid()).unwrap();
        let text = format!(
            "START RequestId: r Version: $LATEST\n\
             {{\"timestamp\":\"2026-01-01T00:00:00.000Z\",\"level\":\"INFO\",\"message\":\"request\"}}\n\
             {emf}\n\
             not json {{\"_aws\":1}}\n\
             [\"_aws\"]\n\
             \t{emf}  \n"
        );
        let documents = documents_in(&text);
        assert_eq!(documents, vec![valid(), valid()]);
        assert!(documents_in("").is_empty());
    }
}
