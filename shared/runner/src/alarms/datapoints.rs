//! The time-stamped datapoints the rollback alarms read, as CloudWatch keeps them: one series per
//! namespace, metric name and exact dimension set (a datum with `[Service, Function, Version]`
//! is a different metric from the same datum with `[Service, Function]`). Two sources: the EMF
//! documents the runner already folds (one series per dimension set of each directive, values
//! in the document's own unit, at its `_aws.Timestamp`), and the runner's stand-in for Lambda's
//! `AWS/Lambda` `Invocations` and `Errors` (what the pool saw of each invocation).
//!
//! Memory is bounded twice: only series an alarm could read are kept (namespace, metric and
//! dimension names of some alarm), and datapoints older than the longest look-back of any alarm
//! at the longest minute in use are dropped, with a hard cap per series behind that.

use serde_json::{Map, Value};
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// At most this many datapoints per series, whatever the horizon: a runaway load cannot grow
/// the runner past a few megabytes per series.
pub const MAX_PER_SERIES: usize = 50_000;

/// Every this many records, the whole store is pruned, so that series nobody writes any more
/// (an old version's) go even when nothing is evaluated.
const PRUNE_EVERY: u64 = 4096;

/// A metric as CloudWatch names it: dimensions sorted by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesKey {
    pub namespace: String,
    pub metric: String,
    pub dimensions: Vec<(String, String)>,
}

/// What an alarm can ask for: a namespace, a metric and the names of its dimensions.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Interest {
    pub namespace: String,
    pub metric: String,
    pub dimension_names: Vec<String>,
}

impl SeriesKey {
    pub fn new(namespace: &str, metric: &str, mut dimensions: Vec<(String, String)>) -> Self {
        dimensions.sort();
        SeriesKey {
            namespace: namespace.into(),
            metric: metric.into(),
            dimensions,
        }
    }

    fn interest(&self) -> Interest {
        Interest {
            namespace: self.namespace.clone(),
            metric: self.metric.clone(),
            dimension_names: self.dimensions.iter().map(|(n, _)| n.clone()).collect(),
        }
    }
}

/// One observation: epoch milliseconds and the value.
pub type Datapoint = (u64, f64);

/// How an invocation ended, as Lambda's metrics count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invocation {
    /// Counted in `Invocations`, `Errors` 0.
    Succeeded,
    /// Counted in `Invocations` and `Errors`: a function error, a crash, a timeout, an init
    /// failure.
    Failed,
    /// Throttled: neither (Lambda counts it in `Throttles`).
    Throttled,
}

pub struct Datapoints {
    interests: BTreeSet<Interest>,
    /// The longest look-back of any alarm, in CloudWatch minutes.
    horizon_minutes: u64,
    /// The longest minute any evaluation used so far, in milliseconds.
    longest_minute_ms: AtomicU64,
    series: Mutex<HashMap<SeriesKey, VecDeque<Datapoint>>>,
    records: AtomicU64,
}

impl Datapoints {
    pub fn new(interests: BTreeSet<Interest>, horizon_minutes: u64, minute: Duration) -> Self {
        Datapoints {
            interests,
            horizon_minutes: horizon_minutes.max(1),
            longest_minute_ms: AtomicU64::new(minute.as_millis() as u64),
            series: Mutex::new(HashMap::new()),
            records: AtomicU64::new(0),
        }
    }

    /// An evaluation with this minute is coming: keep datapoints long enough for it.
    pub fn minute_in_use(&self, minute: Duration) {
        self.longest_minute_ms
            .fetch_max(minute.as_millis() as u64, Ordering::Relaxed);
    }

    /// How long a datapoint is kept.
    pub fn horizon(&self) -> Duration {
        Duration::from_millis(self.longest_minute_ms.load(Ordering::Relaxed))
            * self.horizon_minutes as u32
    }

    /// Records values of a metric, when an alarm could read it.
    pub fn record(&self, key: SeriesKey, at_ms: u64, values: &[f64]) {
        if values.is_empty() || !self.interests.contains(&key.interest()) {
            return;
        }
        let cutoff = at_ms.saturating_sub(self.horizon().as_millis() as u64);
        {
            let mut series = self.series.lock().expect("not poisoned");
            let points = series.entry(key).or_default();
            points.extend(values.iter().map(|v| (at_ms, *v)));
            while points.len() > MAX_PER_SERIES || points.front().is_some_and(|(t, _)| *t < cutoff)
            {
                points.pop_front();
            }
        }
        if self.records.fetch_add(1, Ordering::Relaxed) % PRUNE_EVERY == PRUNE_EVERY - 1 {
            self.prune(at_ms);
        }
    }

    /// Drops every datapoint older than the horizon, and the series left empty (the versions
    /// nothing invokes any more).
    pub fn prune(&self, now_ms: u64) {
        let cutoff = now_ms.saturating_sub(self.horizon().as_millis() as u64);
        let mut series = self.series.lock().expect("not poisoned");
        series.retain(|_, points| {
            while points.front().is_some_and(|(t, _)| *t < cutoff) {
                points.pop_front();
            }
            !points.is_empty()
        });
    }

    /// The values of one series in `[from_ms, to_ms)`.
    pub fn values(&self, key: &SeriesKey, from_ms: u64, to_ms: u64) -> Vec<f64> {
        let series = self.series.lock().expect("not poisoned");
        series
            .get(key)
            .into_iter()
            .flatten()
            .filter(|(t, _)| (from_ms..to_ms).contains(t))
            .map(|(_, v)| *v)
            .collect()
    }

    /// How many datapoints are held, for the memory bound's test.
    pub fn len(&self) -> usize {
        let series = self.series.lock().expect("not poisoned");
        series.values().map(VecDeque::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// An EMF document the runner folded (already checked to be valid EMF): every metric of
    /// every directive, once per dimension set, as CloudWatch would store it.
    pub fn record_emf(&self, document: &Map<String, Value>) {
        let Some(aws) = document.get("_aws").and_then(Value::as_object) else {
            return;
        };
        let Some(at_ms) = aws.get("Timestamp").and_then(Value::as_u64) else {
            return;
        };
        let directives = aws.get("CloudWatchMetrics").and_then(Value::as_array);
        for directive in directives.into_iter().flatten() {
            let Some(namespace) = directive.get("Namespace").and_then(Value::as_str) else {
                continue;
            };
            let sets = directive.get("Dimensions").and_then(Value::as_array);
            let metrics = directive.get("Metrics").and_then(Value::as_array);
            for metric in metrics.into_iter().flatten() {
                let Some(name) = metric.get("Name").and_then(Value::as_str) else {
                    continue;
                };
                let values: Vec<f64> = match document.get(name) {
                    Some(Value::Array(items)) => items.iter().filter_map(Value::as_f64).collect(),
                    Some(value) => value.as_f64().into_iter().collect(),
                    None => Vec::new(),
                };
                for set in sets.into_iter().flatten().filter_map(Value::as_array) {
                    let dimensions = set
                        .iter()
                        .filter_map(Value::as_str)
                        .filter_map(|key| {
                            let value = document.get(key)?.as_str()?;
                            Some((key.to_string(), value.to_string()))
                        })
                        .collect();
                    self.record(SeriesKey::new(namespace, name, dimensions), at_ms, &values);
                }
            }
        }
    }

    /// An invocation, as Lambda's `Invocations` and `Errors` count it: by `FunctionName`; by
    /// `FunctionName` and `Resource` (the name, with the qualifier the caller used); and, when
    /// invoked through an alias, by those and `ExecutedVersion`.
    pub fn record_invocation(
        &self,
        function_name: &str,
        qualifier: Option<&str>,
        executed_version: &str,
        outcome: Invocation,
        at_ms: u64,
    ) {
        let error = match outcome {
            Invocation::Succeeded => 0.0,
            Invocation::Failed => 1.0,
            Invocation::Throttled => return,
        };
        let resource = match qualifier {
            Some(qualifier) => format!("{function_name}:{qualifier}"),
            None => function_name.to_string(),
        };
        let by_alias = qualifier.filter(|q| *q != "$LATEST" && q.parse::<u64>().is_err());
        let name = || ("FunctionName".to_string(), function_name.to_string());
        let mut sets = vec![
            vec![name()],
            vec![name(), ("Resource".to_string(), resource.clone())],
        ];
        if by_alias.is_some() {
            sets.push(vec![
                name(),
                ("Resource".to_string(), resource),
                ("ExecutedVersion".to_string(), executed_version.to_string()),
            ]);
        }
        for dimensions in sets {
            for (metric, value) in [("Invocations", 1.0), ("Errors", error)] {
                self.record(
                    SeriesKey::new("AWS/Lambda", metric, dimensions.clone()),
                    at_ms,
                    &[value],
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn interest(namespace: &str, metric: &str, names: &[&str]) -> Interest {
        let mut dimension_names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        dimension_names.sort();
        Interest {
            namespace: namespace.into(),
            metric: metric.into(),
            dimension_names,
        }
    }

    fn dims(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn an_emf_document_is_one_series_per_dimension_set_and_only_what_alarms_read_is_kept() {
        let store = Datapoints::new(
            [interest(
                "Redline",
                "Latency",
                &["Service", "Function", "Version"],
            )]
            .into(),
            3,
            Duration::from_secs(60),
        );
        let document = json!({
            "_aws": {"Timestamp": 1_000_000, "CloudWatchMetrics": [{
                "Namespace": "Redline",
                "Dimensions": [["Service", "Function"], ["Service", "Function", "Version"]],
                "Metrics": [{"Name": "Latency", "Unit": "Milliseconds"}, {"Name": "Requests", "Unit": "Count"}]
            }]},
            "Service": "redline", "Function": "auth", "Version": "3",
            "Latency": [12.0, 30.0], "Requests": 1
        });
        store.record_emf(document.as_object().unwrap());
        let key = SeriesKey::new(
            "Redline",
            "Latency",
            dims(&[
                ("Version", "3"),
                ("Service", "redline"),
                ("Function", "auth"),
            ]),
        );
        assert_eq!(store.values(&key, 0, 2_000_000), vec![12.0, 30.0]);
        assert_eq!(
            store.len(),
            2,
            "Requests and the [Service, Function] set are not read"
        );
    }

    #[test]
    fn invocations_through_an_alias_carry_the_executed_version_and_errors_count_zero_too() {
        let store = Datapoints::new(
            [interest(
                "AWS/Lambda",
                "Errors",
                &["FunctionName", "Resource", "ExecutedVersion"],
            )]
            .into(),
            3,
            Duration::from_secs(60),
        );
        store.record_invocation("f", Some("live"), "2", Invocation::Succeeded, 10);
        store.record_invocation("f", Some("live"), "2", Invocation::Failed, 20);
        store.record_invocation("f", Some("live"), "2", Invocation::Throttled, 30);
        store.record_invocation("f", Some("2"), "2", Invocation::Failed, 40);
        let key = SeriesKey::new(
            "AWS/Lambda",
            "Errors",
            dims(&[
                ("FunctionName", "f"),
                ("Resource", "f:live"),
                ("ExecutedVersion", "2"),
            ]),
        );
        assert_eq!(store.values(&key, 0, 100), vec![0.0, 1.0]);
    }

    #[test]
    fn datapoints_older_than_the_horizon_are_dropped() {
        let store = Datapoints::new(
            [interest("N", "M", &[])].into(),
            3,
            Duration::from_millis(100),
        );
        let key = SeriesKey::new("N", "M", vec![]);
        for t in 0..10 {
            store.record(key.clone(), t * 100, &[1.0]);
        }
        // 3 minutes of 100 ms: what is older than 300 ms before the newest goes.
        assert_eq!(store.values(&key, 0, 10_000).len(), 4);
        store.minute_in_use(Duration::from_millis(1000));
        store.record(key.clone(), 1000, &[1.0]);
        assert_eq!(store.len(), 5, "a longer minute keeps more from now on");
        store.prune(100_000);
        assert!(store.is_empty());
    }
}
