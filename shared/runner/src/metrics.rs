//! The runner's own counters, served as Prometheus text on the invoke port's `/metrics`.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Default, Clone)]
struct FunctionMetrics {
    invocations: BTreeMap<&'static str, u64>,
    cold_starts: u64,
    init_seconds: f64,
    duration_seconds: f64,
    durations: u64,
    instances: i64,
}

#[derive(Default)]
pub struct Metrics {
    functions: Mutex<BTreeMap<String, FunctionMetrics>>,
}

impl Metrics {
    fn with(&self, function: &str, update: impl FnOnce(&mut FunctionMetrics)) {
        let mut functions = self.functions.lock().expect("not poisoned");
        update(functions.entry(function.to_string()).or_default());
    }

    pub fn invocation(&self, function: &str, outcome: &'static str, duration: Duration) {
        self.with(function, |m| {
            *m.invocations.entry(outcome).or_default() += 1;
            m.duration_seconds += duration.as_secs_f64();
            m.durations += 1;
        });
    }

    pub fn cold_start(&self, function: &str, init: Duration) {
        self.with(function, |m| {
            m.cold_starts += 1;
            m.init_seconds += init.as_secs_f64();
        });
    }

    pub fn instances(&self, function: &str, delta: i64) {
        self.with(function, |m| m.instances += delta);
    }

    pub fn render(&self) -> String {
        let functions = self.functions.lock().expect("not poisoned").clone();
        let mut out = String::new();
        let mut family = |name: &str, kind: &str, help: &str, rows: Vec<(String, String)>| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            for (labels, value) in rows {
                let _ = writeln!(out, "{name}{{{labels}}} {value}");
            }
        };
        let per = |f: &dyn Fn(&FunctionMetrics) -> String| {
            functions
                .iter()
                .map(|(name, m)| (format!("function=\"{name}\""), f(m)))
                .collect::<Vec<_>>()
        };
        let invocations = functions
            .iter()
            .flat_map(|(name, m)| {
                m.invocations.iter().map(move |(outcome, n)| {
                    (
                        format!("function=\"{name}\",outcome=\"{outcome}\""),
                        n.to_string(),
                    )
                })
            })
            .collect();
        family(
            "redline_local_invocations_total",
            "counter",
            "Invocations by outcome.",
            invocations,
        );
        family(
            "redline_local_cold_starts_total",
            "counter",
            "Instances started.",
            per(&|m| m.cold_starts.to_string()),
        );
        family(
            "redline_local_init_duration_seconds_sum",
            "counter",
            "Time from spawn to first poll of /next.",
            per(&|m| format!("{:.6}", m.init_seconds)),
        );
        family(
            "redline_local_invocation_duration_seconds_sum",
            "counter",
            "Time from hand-off to the function's answer.",
            per(&|m| format!("{:.6}", m.duration_seconds)),
        );
        family(
            "redline_local_invocation_duration_seconds_count",
            "counter",
            "Invocations timed.",
            per(&|m| m.durations.to_string()),
        );
        family(
            "redline_local_instances",
            "gauge",
            "Live instances.",
            per(&|m| m.instances.to_string()),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_prometheus_text() {
        let metrics = Metrics::default();
        metrics.cold_start("auth", Duration::from_millis(20));
        metrics.invocation("auth", "success", Duration::from_millis(5));
        metrics.instances("auth", 1);
        let text = metrics.render();
        assert!(text
            .contains("redline_local_invocations_total{function=\"auth\",outcome=\"success\"} 1"));
        assert!(text.contains("redline_local_cold_starts_total{function=\"auth\"} 1"));
        assert!(text.contains("# TYPE redline_local_instances gauge"));
        assert!(text.contains("redline_local_instances{function=\"auth\"} 1"));
    }
}
