//! Prometheus series in memory and their text exposition (format 0.0.4): counters, gauges and
//! histograms, by family and label set, each family rendered with its `# HELP` and `# TYPE`
//! lines. Histograms use one bucket set, `BUCKETS_SECONDS` of `redline-core`, for every family.

use redline_core::metrics::prometheus::{Kind, BUCKETS_SECONDS};
use std::collections::BTreeMap;
use std::fmt::Write;

/// Label names and values, sorted by name.
pub type Labels = Vec<(String, String)>;

/// Labels from pairs, sorted by name as a series key must be.
pub fn labels<const N: usize>(pairs: [(&str, &str); N]) -> Labels {
    let mut labels: Labels = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    labels.sort();
    labels
}

#[derive(Debug, Clone, PartialEq)]
struct Histogram {
    /// Observations per bucket, not cumulative: `buckets[i]` counts values in
    /// `(BUCKETS_SECONDS[i-1], BUCKETS_SECONDS[i]]`; values above the last bound only count.
    buckets: [u64; BUCKETS_SECONDS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn new() -> Self {
        Histogram {
            buckets: [0; BUCKETS_SECONDS.len()],
            sum: 0.0,
            count: 0,
        }
    }

    fn observe(&mut self, value: f64) {
        if let Some(i) = BUCKETS_SECONDS.iter().position(|&bound| value <= bound) {
            self.buckets[i] += 1;
        }
        self.sum += value;
        self.count += 1;
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Sample {
    Counter(f64),
    Gauge(f64),
    Histogram(Box<Histogram>),
}

#[derive(Debug, Clone)]
struct Family {
    kind: Kind,
    help: String,
    series: BTreeMap<Labels, Sample>,
}

/// Every family the runner exposes.
#[derive(Debug, Clone, Default)]
pub struct Registry {
    families: BTreeMap<String, Family>,
}

impl Registry {
    /// Makes `name` a family of `kind` (a family already declared keeps its help text); an
    /// error when it exists with another kind.
    pub fn declare(&mut self, name: &str, kind: Kind, help: &str) -> Result<(), String> {
        match self.families.get(name) {
            Some(family) if family.kind != kind => Err(format!(
                "{name} is already a {}, not a {}",
                kind_name(family.kind),
                kind_name(kind)
            )),
            Some(_) => Ok(()),
            None => {
                self.families.insert(
                    name.to_string(),
                    Family {
                        kind,
                        help: help.to_string(),
                        series: BTreeMap::new(),
                    },
                );
                Ok(())
            }
        }
    }

    pub fn kind(&self, name: &str) -> Option<Kind> {
        self.families.get(name).map(|family| family.kind)
    }

    /// The sample of `name{labels}`, created empty (0) on first use. Panics on a family never
    /// declared: a bug of this crate, not of its input.
    fn sample(&mut self, name: &str, labels: Labels) -> &mut Sample {
        let family = self
            .families
            .get_mut(name)
            .unwrap_or_else(|| panic!("series family {name} is not declared"));
        let kind = family.kind;
        family.series.entry(labels).or_insert_with(|| match kind {
            Kind::Counter => Sample::Counter(0.0),
            Kind::Gauge => Sample::Gauge(0.0),
            Kind::Histogram => Sample::Histogram(Box::new(Histogram::new())),
        })
    }

    /// Adds to a counter; adding 0 still creates the series.
    pub fn add(&mut self, name: &str, labels: Labels, value: f64) {
        if let Sample::Counter(total) = self.sample(name, labels) {
            *total += value;
        }
    }

    /// Adds to a gauge (a negative value lowers it).
    pub fn shift(&mut self, name: &str, labels: Labels, delta: f64) {
        if let Sample::Gauge(current) = self.sample(name, labels) {
            *current += delta;
        }
    }

    pub fn set(&mut self, name: &str, labels: Labels, value: f64) {
        if let Sample::Gauge(current) = self.sample(name, labels) {
            *current = value;
        }
    }

    /// Raises a gauge to `value` if it is higher (a high-water mark).
    pub fn raise(&mut self, name: &str, labels: Labels, value: f64) {
        if let Sample::Gauge(current) = self.sample(name, labels) {
            *current = current.max(value);
        }
    }

    pub fn observe(&mut self, name: &str, labels: Labels, value: f64) {
        if let Sample::Histogram(histogram) = self.sample(name, labels) {
            histogram.observe(value);
        }
    }

    /// The text exposition of every family that has a series, in name order.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (name, family) in &self.families {
            if family.series.is_empty() {
                continue;
            }
            let _ = writeln!(out, "# HELP {name} {}", escape_help(&family.help));
            let _ = writeln!(out, "# TYPE {name} {}", kind_name(family.kind));
            for (labels, sample) in &family.series {
                match sample {
                    Sample::Counter(value) | Sample::Gauge(value) => {
                        let _ = writeln!(out, "{name}{} {}", braces(labels, None), number(*value));
                    }
                    Sample::Histogram(histogram) => {
                        render_histogram(&mut out, name, labels, histogram)
                    }
                }
            }
        }
        out
    }
}

fn render_histogram(out: &mut String, name: &str, labels: &Labels, histogram: &Histogram) {
    let mut cumulative = 0;
    for (bound, count) in BUCKETS_SECONDS.iter().zip(histogram.buckets) {
        cumulative += count;
        let le = number(*bound);
        let _ = writeln!(
            out,
            "{name}_bucket{} {cumulative}",
            braces(labels, Some(&le))
        );
    }
    let _ = writeln!(
        out,
        "{name}_bucket{} {}",
        braces(labels, Some("+Inf")),
        histogram.count
    );
    let _ = writeln!(
        out,
        "{name}_sum{} {}",
        braces(labels, None),
        number(histogram.sum)
    );
    let _ = writeln!(
        out,
        "{name}_count{} {}",
        braces(labels, None),
        histogram.count
    );
}

pub fn kind_name(kind: Kind) -> &'static str {
    match kind {
        Kind::Counter => "counter",
        Kind::Gauge => "gauge",
        Kind::Histogram => "histogram",
    }
}

/// `{a="1",b="2"}` (with `le` last for a histogram bucket), or nothing without labels.
fn braces(labels: &Labels, le: Option<&str>) -> String {
    let mut pairs: Vec<String> = labels
        .iter()
        .map(|(name, value)| format!("{name}=\"{}\"", escape_label(value)))
        .collect();
    if let Some(le) = le {
        pairs.push(format!("le=\"{le}\""));
    }
    if pairs.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", pairs.join(","))
    }
}

/// A sample value as Prometheus reads it: shortest decimal form, `+Inf`/`-Inf`/`NaN`.
fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        value.to_string()
    }
}

fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

/// A valid Prometheus metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`).
pub fn valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// A valid label name that is not reserved (`[a-zA-Z_][a-zA-Z0-9_]*`, not starting `__`).
pub fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with("__")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_are_cumulative_with_inf_sum_and_count() {
        let mut registry = Registry::default();
        registry
            .declare("x_seconds", Kind::Histogram, "X.")
            .unwrap();
        for value in [0.0005, 0.003, 0.003, 3.0, 60.0] {
            registry.observe("x_seconds", labels([("f", "a")]), value);
        }
        let text = registry.render();
        assert!(text.contains("# TYPE x_seconds histogram\n"), "{text}");
        assert!(
            text.contains("x_seconds_bucket{f=\"a\",le=\"0.001\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("x_seconds_bucket{f=\"a\",le=\"0.0025\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("x_seconds_bucket{f=\"a\",le=\"0.005\"} 3\n"),
            "{text}"
        );
        assert!(
            text.contains("x_seconds_bucket{f=\"a\",le=\"2\"} 3\n"),
            "{text}"
        );
        assert!(
            text.contains("x_seconds_bucket{f=\"a\",le=\"5\"} 4\n"),
            "{text}"
        );
        assert!(
            text.contains("x_seconds_bucket{f=\"a\",le=\"10\"} 4\n"),
            "{text}"
        );
        assert!(
            text.contains("x_seconds_bucket{f=\"a\",le=\"+Inf\"} 5\n"),
            "{text}"
        );
        assert!(text.contains("x_seconds_sum{f=\"a\"} 63.0065\n"), "{text}");
        assert!(text.contains("x_seconds_count{f=\"a\"} 5\n"), "{text}");
    }

    #[test]
    fn counters_gauges_and_escaping() {
        let mut registry = Registry::default();
        registry.declare("c_total", Kind::Counter, "C.").unwrap();
        registry
            .declare("g", Kind::Gauge, "G \\ with\nlines.")
            .unwrap();
        registry.add("c_total", labels([("v", "a\"b\\c\nd")]), 0.0);
        registry.raise("g", Vec::new(), 5.0);
        registry.raise("g", Vec::new(), 3.0);
        registry
            .declare("empty", Kind::Gauge, "Never set.")
            .unwrap();
        let text = registry.render();
        assert!(
            text.contains("c_total{v=\"a\\\"b\\\\c\\nd\"} 0\n"),
            "{text}"
        );
        assert!(text.contains("# HELP g G \\\\ with\\nlines.\n"), "{text}");
        assert!(text.contains("\ng 5\n"), "{text}");
        assert!(
            !text.contains("empty"),
            "a family without series is left out: {text}"
        );
        assert!(registry.declare("g", Kind::Counter, "").is_err());
        assert!(registry.declare("g", Kind::Gauge, "").is_ok());
    }

    #[test]
    fn names_are_checked() {
        assert!(valid_metric_name("redline_latency_seconds"));
        assert!(!valid_metric_name("2x") && !valid_metric_name("a-b") && !valid_metric_name(""));
        assert!(valid_label_name("route") && !valid_label_name("__name__"));
        assert!(!valid_label_name("9lives") && !valid_label_name(""));
    }
}
