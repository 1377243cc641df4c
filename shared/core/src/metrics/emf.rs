//! Writes one Embedded Metric Format document as one line of JSON: the `_aws` metadata (one
//! directive with every dimension set), the dimension values, the properties and the values.
//! A small writer rather than a crate: `metrics_cloudwatch_embedded` writes one dimension set per
//! document and no `StorageResolution` (see docs/decisions.md).

use super::catalogue::STORAGE_RESOLUTION;
use super::Metric;
use std::fmt::Write;

/// A property: context for a reader of the document, not a dimension.
#[derive(Debug, Clone, Copy)]
pub enum Property<'a> {
    Str(&'a str),
    Int(u64),
}

/// One document's content.
#[derive(Debug)]
pub struct Document<'a> {
    pub namespace: &'a str,
    pub timestamp_ms: u64,
    pub dimension_sets: &'a [&'a [&'a str]],
    /// Every dimension any set names, with its value.
    pub dimensions: &'a [(&'a str, &'a str)],
    pub properties: &'a [(&'a str, Property<'a>)],
    pub metrics: &'a [(Metric, f64)],
}

impl Document<'_> {
    /// The document as one line (no newline).
    pub fn write(&self, out: &mut String) {
        out.push_str("{\"_aws\":{\"Timestamp\":");
        let _ = write!(out, "{}", self.timestamp_ms);
        out.push_str(",\"CloudWatchMetrics\":[{\"Namespace\":");
        push_json_str(out, self.namespace);
        out.push_str(",\"Dimensions\":[");
        for (i, set) in self.dimension_sets.iter().enumerate() {
            out.push_str(if i == 0 { "[" } else { ",[" });
            for (j, name) in set.iter().enumerate() {
                if j > 0 {
                    out.push(',');
                }
                push_json_str(out, name);
            }
            out.push(']');
        }
        out.push_str("],\"Metrics\":[");
        for (i, (metric, _)) in self.metrics.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"Name\":");
            push_json_str(out, metric.name());
            out.push_str(",\"Unit\":\"");
            out.push_str(metric.unit().as_str());
            let _ = write!(out, "\",\"StorageResolution\":{STORAGE_RESOLUTION}}}");
        }
        out.push_str("]}]}");
        for (name, value) in self.dimensions {
            member(out, name);
            push_json_str(out, value);
        }
        for (name, value) in self.properties {
            member(out, name);
            match value {
                Property::Str(text) => push_json_str(out, text),
                Property::Int(n) => {
                    let _ = write!(out, "{n}");
                }
            }
        }
        for (metric, value) in self.metrics {
            member(out, metric.name());
            push_number(out, *value);
        }
        out.push('}');
    }
}

fn member(out: &mut String, name: &str) {
    out.push(',');
    push_json_str(out, name);
    out.push(':');
}

/// A finite number, integral ones without a fraction; anything else as 0 (EMF wants numbers).
fn push_number(out: &mut String, value: f64) {
    if !value.is_finite() {
        out.push('0');
    } else if value.fract() == 0.0 && value.abs() < 1e15 {
        let _ = write!(out, "{}", value as i64);
    } else {
        let _ = write!(out, "{:.3}", value);
    }
}

/// A JSON string literal.
pub fn push_json_str(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::catalogue::HTTP_DIMENSIONS;
    use serde_json::{json, Value};

    #[test]
    fn a_document_is_one_line_of_valid_emf() {
        let mut out = String::new();
        Document {
            namespace: "Redline",
            timestamp_ms: 1_764_090_000_123,
            dimension_sets: &HTTP_DIMENSIONS,
            dimensions: &[
                ("Service", "redline"),
                ("Function", "auth"),
                ("Version", "$LATEST"),
                ("Route", "/api/v1/auth/login"),
            ],
            properties: &[
                ("requestId", Property::Str("r-\"1\"")),
                ("status", Property::Int(401)),
            ],
            metrics: &[(Metric::Requests, 1.0), (Metric::Latency, 2.5)],
        }
        .write(&mut out);
        assert!(!out.contains('\n'));
        let document: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            document["_aws"]["CloudWatchMetrics"][0],
            json!({
                "Namespace": "Redline",
                "Dimensions": [["Service", "Function"], ["Service", "Function", "Version"], ["Service", "Function", "Route"]],
                "Metrics": [
                    {"Name": "Requests", "Unit": "Count", "StorageResolution": 60},
                    {"Name": "Latency", "Unit": "Milliseconds", "StorageResolution": 60}
                ]
            })
        );
        assert_eq!(document["_aws"]["Timestamp"], 1_764_090_000_123u64);
        assert_eq!(document["Route"], "/api/v1/auth/login");
        assert_eq!(document["requestId"], "r-\"1\"");
        assert_eq!(document["status"], 401);
        assert_eq!(document["Requests"], 1);
        assert_eq!(document["Latency"], 2.5);
    }

    #[test]
    fn strings_are_escaped() {
        let mut out = String::new();
        push_json_str(&mut out, "a\"b\\c\nd\u{1}");
        assert_eq!(
            serde_json::from_str::<String>(&out).unwrap(),
            "a\"b\\c\nd\u{1}"
        );
    }
}
