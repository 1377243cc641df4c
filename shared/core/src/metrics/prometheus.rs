//! How an EMF metric becomes a Prometheus series, written once for the local runner (which
//! folds documents), its alert rules and dashboard tests: `<namespace>_<metric>` in snake case,
//! Count metrics as counters with `_total`, Milliseconds metrics as histograms in seconds.

/// The histogram buckets (seconds) of every Milliseconds metric: fixed, so that alert rules and
/// dashboards can rely on them. 2 s is a bucket edge because the latency alarms are at 2 s.
pub const BUCKETS_SECONDS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0,
];

/// `Redline`, `LoginFailed` → `redline_login_failed`; `DBLatency` → `db_latency`.
pub fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_ascii_uppercase() {
            let after_lower =
                i > 0 && (chars[i - 1].is_ascii_lowercase() || chars[i - 1].is_ascii_digit());
            let ends_acronym = i > 0
                && chars[i - 1].is_ascii_uppercase()
                && chars.get(i + 1).is_some_and(|n| n.is_ascii_lowercase());
            if (after_lower || ends_acronym) && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    out
}

/// What a metric of this unit folds into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Count: a counter; the value is added.
    Counter,
    /// Milliseconds: a histogram in seconds; the value is observed.
    Histogram,
    /// Any other unit: a gauge holding the last value.
    Gauge,
}

pub fn kind_of(unit: &str) -> Kind {
    match unit {
        "Count" => Kind::Counter,
        "Milliseconds" => Kind::Histogram,
        _ => Kind::Gauge,
    }
}

/// The family name for a metric (without `_bucket`/`_sum`/`_count`).
pub fn series_name(namespace: &str, metric: &str, unit: &str) -> String {
    let base = format!("{}_{}", snake_case(namespace), snake_case(metric));
    match kind_of(unit) {
        Kind::Counter => format!("{base}_total"),
        Kind::Histogram => format!("{base}_seconds"),
        Kind::Gauge => base,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Metric;

    #[test]
    fn names_follow_the_operations_contract() {
        let name = |m: Metric| series_name("Redline", m.name(), m.unit().as_str());
        assert_eq!(name(Metric::Requests), "redline_requests_total");
        assert_eq!(name(Metric::ServerErrors), "redline_server_errors_total");
        assert_eq!(name(Metric::LoginFailed), "redline_login_failed_total");
        assert_eq!(name(Metric::Latency), "redline_latency_seconds");
        assert_eq!(name(Metric::DbLatency), "redline_db_latency_seconds");
        assert_eq!(snake_case("DBLatency"), "db_latency");
        assert_eq!(snake_case("My-Service 2"), "my_service_2");
    }
}
