//! Reading a CloudWatch Embedded Metric Format document into observations for Prometheus:
//! per `CloudWatchMetrics` directive, one observation per metric (never one per dimension set),
//! labelled with the union of the directive's dimension keys in snake case, values from the
//! document's root. A document that is not valid EMF is refused whole, with the reason.

use redline_core::metrics::prometheus::{kind_of, series_name, snake_case, Kind};
use serde_json::{Map, Value};

use crate::series::{valid_label_name, valid_metric_name, Labels};

/// EMF's limit on values of one metric in one document.
const MAX_VALUES: usize = 100;

/// One metric of one directive: what to add, set or observe, and where.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    /// The family name (`redline_latency_seconds`), without `_bucket`/`_sum`/`_count`.
    pub family: String,
    pub kind: Kind,
    /// `Redline/Latency (Milliseconds)`, for the family's help text.
    pub source: String,
    pub labels: Labels,
    /// In the family's unit: Milliseconds already made seconds.
    pub values: Vec<f64>,
}

/// Whether a JSON line is an EMF document at all: an object with `_aws.CloudWatchMetrics`.
pub fn is_document(line: &Map<String, Value>) -> bool {
    line.get("_aws")
        .and_then(Value::as_object)
        .is_some_and(|aws| aws.contains_key("CloudWatchMetrics"))
}

/// Every observation of a document, or why it is not valid EMF.
pub fn observations(document: &Map<String, Value>) -> Result<Vec<Observation>, String> {
    let aws = document
        .get("_aws")
        .and_then(Value::as_object)
        .ok_or("_aws is not an object")?;
    if !aws.get("Timestamp").is_some_and(Value::is_u64) {
        return Err("_aws.Timestamp is not a number of milliseconds".into());
    }
    let directives = aws
        .get("CloudWatchMetrics")
        .and_then(Value::as_array)
        .ok_or("_aws.CloudWatchMetrics is not a list")?;
    let mut out = Vec::new();
    for (index, directive) in directives.iter().enumerate() {
        let directive = directive
            .as_object()
            .ok_or_else(|| format!("CloudWatchMetrics[{index}] is not an object"))?;
        directive_observations(document, directive, &mut out)
            .map_err(|reason| format!("CloudWatchMetrics[{index}]: {reason}"))?;
    }
    Ok(out)
}

fn directive_observations(
    document: &Map<String, Value>,
    directive: &Map<String, Value>,
    out: &mut Vec<Observation>,
) -> Result<(), String> {
    let namespace = directive
        .get("Namespace")
        .and_then(Value::as_str)
        .filter(|namespace| !namespace.is_empty())
        .ok_or("Namespace is not a non-empty string")?;
    let labels = labels(document, directive)?;
    let metrics = directive
        .get("Metrics")
        .and_then(Value::as_array)
        .ok_or("Metrics is not a list")?;
    for metric in metrics {
        let name = metric
            .get("Name")
            .and_then(Value::as_str)
            .filter(|name| !name.is_empty())
            .ok_or("a metric has no Name")?;
        let unit = match metric.get("Unit") {
            None => "None",
            Some(unit) => unit
                .as_str()
                .ok_or_else(|| format!("{name}: Unit is not a string"))?,
        };
        let kind = kind_of(unit);
        let family = series_name(namespace, name, unit);
        check_family(&family, kind, &labels).map_err(|reason| format!("{name}: {reason}"))?;
        let mut values =
            values(document.get(name)).map_err(|reason| format!("{name}: {reason}"))?;
        match kind {
            Kind::Counter if values.iter().any(|v| *v < 0.0) => {
                return Err(format!("{name}: a Count below 0 cannot be a counter"));
            }
            Kind::Histogram => values.iter_mut().for_each(|v| *v /= 1000.0),
            _ => {}
        }
        out.push(Observation {
            family,
            kind,
            source: format!("{namespace}/{name} ({unit})"),
            labels: labels.clone(),
            values,
        });
    }
    Ok(())
}

/// The union of the directive's dimension keys, snake-cased, with their root values.
fn labels(document: &Map<String, Value>, directive: &Map<String, Value>) -> Result<Labels, String> {
    let sets = directive
        .get("Dimensions")
        .and_then(Value::as_array)
        .ok_or("Dimensions is not a list")?;
    let mut labels = Labels::new();
    for set in sets {
        let set = set.as_array().ok_or("a dimension set is not a list")?;
        for key in set {
            let key = key.as_str().ok_or("a dimension key is not a string")?;
            let value = document
                .get(key)
                .and_then(Value::as_str)
                .ok_or_else(|| format!("dimension {key} has no string value at the root"))?;
            let label = snake_case(key);
            if !valid_label_name(&label) {
                return Err(format!("dimension {key} makes no valid label name"));
            }
            match labels.iter().find(|(name, _)| *name == label) {
                Some((_, existing)) if existing != value => {
                    return Err(format!(
                        "dimensions {key} and another both make label {label}"
                    ));
                }
                Some(_) => {}
                None => labels.push((label, value.to_string())),
            }
        }
    }
    labels.sort();
    Ok(labels)
}

/// A family name Prometheus accepts whose suffix does not pass for another kind's.
fn check_family(family: &str, kind: Kind, labels: &Labels) -> Result<(), String> {
    if !valid_metric_name(family) {
        return Err(format!("{family} is not a valid series name"));
    }
    if family.starts_with("redline_local_") {
        return Err(format!(
            "{family} would pass for one of the runner's own series"
        ));
    }
    let reserved = ["_total", "_bucket", "_sum", "_count", "_created"];
    if kind == Kind::Gauge && reserved.iter().any(|suffix| family.ends_with(suffix)) {
        return Err(format!(
            "gauge {family} ends with a counter's or histogram's suffix"
        ));
    }
    if kind == Kind::Histogram && labels.iter().any(|(name, _)| name == "le") {
        return Err("a histogram cannot have a dimension named le".into());
    }
    Ok(())
}

/// A metric's value: a number, or a list of 1 to 100 numbers.
fn values(value: Option<&Value>) -> Result<Vec<f64>, String> {
    match value {
        None => Err("no value at the root".into()),
        Some(Value::Number(n)) => Ok(vec![n.as_f64().ok_or("value out of range")?]),
        Some(Value::Array(items)) if (1..=MAX_VALUES).contains(&items.len()) => items
            .iter()
            .map(|item| {
                item.as_f64()
                    .ok_or_else(|| "a value is not a number".to_string())
            })
            .collect(),
        Some(Value::Array(_)) => Err(format!("a list of values holds 1 to {MAX_VALUES}")),
        Some(_) => Err("the value is not a number or a list of numbers".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn document(value: Value) -> Map<String, Value> {
        value.as_object().unwrap().clone()
    }

    fn request() -> Value {
        json!({
            "_aws": {"Timestamp": 1764090000000u64, "CloudWatchMetrics": [{
                "Namespace": "Redline",
                "Dimensions": [["Service", "Function"], ["Service", "Function", "Version"], ["Service", "Function", "Route"]],
                "Metrics": [
                    {"Name": "Requests", "Unit": "Count", "StorageResolution": 60},
                    {"Name": "Latency", "Unit": "Milliseconds", "StorageResolution": 60},
                    {"Name": "ServerErrors", "Unit": "Count"},
                    {"Name": "Inflight"}
                ]
            }]},
            "Service": "redline", "Function": "auth", "Version": "$LATEST", "Route": "/api/v1/auth/login",
            "Requests": 1, "Latency": [3.2, 1500], "ServerErrors": 0, "Inflight": 2,
            "requestId": "r", "status": 200
        })
    }

    #[test]
    fn one_observation_per_metric_with_the_union_of_dimensions() {
        let doc = document(request());
        assert!(is_document(&doc));
        let observations = observations(&doc).unwrap();
        let labels: Labels = [
            ("function", "auth"),
            ("route", "/api/v1/auth/login"),
            ("service", "redline"),
            ("version", "$LATEST"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let families: Vec<(&str, Kind, Vec<f64>)> = observations
            .iter()
            .map(|o| {
                assert_eq!(o.labels, labels);
                (o.family.as_str(), o.kind, o.values.clone())
            })
            .collect();
        assert_eq!(
            families,
            vec![
                ("redline_requests_total", Kind::Counter, vec![1.0]),
                (
                    "redline_latency_seconds",
                    Kind::Histogram,
                    vec![0.0032, 1.5]
                ),
                ("redline_server_errors_total", Kind::Counter, vec![0.0]),
                ("redline_inflight", Kind::Gauge, vec![2.0]),
            ]
        );
        assert_eq!(observations[1].source, "Redline/Latency (Milliseconds)");
    }

    #[test]
    fn a_log_line_is_not_a_document() {
        assert!(!is_document(&document(
            json!({"level": "INFO", "_aws": {}})
        )));
        assert!(!is_document(&document(json!({"message": "x"}))));
    }

    #[test]
    fn malformed_documents_are_refused_with_the_reason() {
        let refuse = |change: &dyn Fn(&mut Value), expected: &str| {
            let mut doc = request();
            change(&mut doc);
            let reason = observations(&document(doc)).unwrap_err();
            assert!(reason.contains(expected), "{expected}: {reason}");
        };
        refuse(&|d| d["_aws"]["Timestamp"] = json!("now"), "Timestamp");
        refuse(
            &|d| d["_aws"]["CloudWatchMetrics"] = json!({}),
            "not a list",
        );
        refuse(
            &|d| d["_aws"]["CloudWatchMetrics"][0]["Namespace"] = json!(""),
            "Namespace",
        );
        refuse(
            &|d| {
                d.as_object_mut().unwrap().remove("Requests");
            },
            "Requests: no value",
        );
        refuse(&|d| d["Latency"] = json!("fast"), "Latency: the value");
        refuse(&|d| d["Latency"] = json!([]), "1 to 100");
        refuse(&|d| d["Latency"] = json!(vec![1; 101]), "1 to 100");
        refuse(&|d| d["Requests"] = json!(-1), "below 0");
        refuse(
            &|d| {
                d.as_object_mut().unwrap().remove("Route");
            },
            "dimension Route",
        );
        refuse(&|d| d["Function"] = json!(7), "dimension Function");
        refuse(
            &|d| d["_aws"]["CloudWatchMetrics"][0]["Metrics"][3]["Name"] = json!("InflightTotal"),
            "suffix",
        );
        refuse(
            &|d| d["_aws"]["CloudWatchMetrics"][0]["Namespace"] = json!("Redline Local"),
            "runner's own",
        );
        refuse(
            &|d| {
                d["9Lives"] = json!("x");
                d["_aws"]["CloudWatchMetrics"][0]["Dimensions"] = json!([["9Lives"]]);
            },
            "no valid label name",
        );
    }
}
