//! The laptop's Prometheus and Grafana files, checked with promtool (Debian's `prometheus`
//! package, which `scripts/ensure-services.sh` installs) since neither server runs here: the
//! alert rules pass `promtool check rules` and their unit tests, the scrape configuration passes
//! `promtool check config`, every Grafana panel query passes promtool as a rule expression, and
//! the rules and the panels name only series the local runner exposes.

use redline_runner::exposed_series;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

const NAMESPACE: &str = "Redline";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives in the workspace")
        .to_path_buf()
}

/// Runs promtool with these arguments in the workspace: whether it succeeded, and what it said.
fn promtool(args: &[&str]) -> (bool, String) {
    let output = Command::new("promtool")
        .args(args)
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| {
            panic!("promtool could not be run ({e}): run scripts/ensure-services.sh (Debian's prometheus package)")
        });
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

fn yaml(path: &str) -> Value {
    let text = std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    let value: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::to_value(value).expect("YAML as JSON")
}

/// PromQL words that are not series names.
const KEYWORDS: [&str; 14] = [
    "and",
    "or",
    "unless",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "offset",
    "atan2",
    "inf",
    "nan",
];

/// The series a PromQL expression selects: identifiers outside strings, label matchers, ranges
/// and grouping lists that are neither keywords nor functions or aggregations (followed by `(`,
/// or by their `by`/`without` grouping).
fn series_names(expr: &str) -> BTreeSet<String> {
    // Strings, `{...}` matchers and `[...]` ranges out first.
    let mut plain = String::new();
    let mut closing: Option<char> = None;
    for c in expr.chars() {
        match closing {
            Some(end) if c == end => closing = None,
            Some(_) => {}
            None => {
                closing = match c {
                    '"' | '\'' | '`' => Some(c),
                    '{' => Some('}'),
                    '[' => Some(']'),
                    _ => None,
                };
                plain.push(if closing.is_some() { ' ' } else { c });
            }
        }
    }
    let chars: Vec<char> = plain.chars().collect();
    let mut names = BTreeSet::new();
    let mut i = 0;
    let mut skip_group = false;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len()
                && (chars[i].is_ascii_alphanumeric() || chars[i] == '_' || chars[i] == ':')
            {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let mut next = i;
            while next < chars.len() && chars[next].is_whitespace() {
                next += 1;
            }
            // `f(` is a function or an aggregation; so is `sum by (...) (`, its grouping first.
            let rest: String = chars[next..].iter().take(8).collect();
            let called = chars.get(next) == Some(&'(')
                || ["by", "without"].iter().any(|g| {
                    rest.strip_prefix(g)
                        .is_some_and(|after| after.starts_with([' ', '(']))
                });
            let grouping = matches!(
                word.as_str(),
                "by" | "without" | "on" | "ignoring" | "group_left" | "group_right"
            );
            if grouping && called {
                // The label list: skip to its `)`.
                skip_group = true;
                i = next;
                continue;
            }
            if !called && !KEYWORDS.contains(&word.to_ascii_lowercase().as_str()) {
                names.insert(word);
            }
        } else if c.is_ascii_digit() || c == '.' {
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                i += 1;
            }
        } else if c == '(' && skip_group {
            let end = chars[i..]
                .iter()
                .position(|&c| c == ')')
                .expect("a closed label list")
                + i;
            i = end + 1;
            skip_group = false;
        } else {
            i += 1;
        }
    }
    names
}

#[test]
fn the_series_parser_finds_series_and_only_series() {
    let expr = r#"histogram_quantile(0.99, sum by (function, le) (rate(redline_latency_seconds_bucket{route="/x", le!="0.1"}[2m]))) > 2
        and on (function) max without (route) (redline_requests_total offset 5m) / ignoring(version) group_left (service) up * 1e3"#;
    assert_eq!(
        series_names(expr),
        BTreeSet::from([
            "redline_latency_seconds_bucket".to_string(),
            "redline_requests_total".to_string(),
            "up".to_string(),
        ])
    );
    // A name the runner does not expose is caught.
    let exposed = exposed_series(NAMESPACE);
    assert!(exposed.contains("redline_latency_seconds_bucket"));
    assert!(!exposed.contains("up"));
    assert!(
        !exposed.contains("redline_latency_seconds"),
        "a histogram is only its _bucket/_sum/_count"
    );
}

#[test]
fn alert_rules_pass_promtool_and_their_unit_tests() {
    let (ok, report) = promtool(&["check", "rules", "ops/prometheus/alerts.yml"]);
    assert!(
        ok,
        "promtool check rules ops/prometheus/alerts.yml:\n{report}"
    );
    let (ok, report) = promtool(&["test", "rules", "ops/prometheus/alerts.test.yml"]);
    assert!(
        ok,
        "promtool test rules ops/prometheus/alerts.test.yml:\n{report}"
    );
}

#[test]
fn alert_rules_are_the_designs_alerts_over_series_the_runner_exposes() {
    let rules = yaml("ops/prometheus/alerts.yml");
    let exposed = exposed_series(NAMESPACE);
    let mut alerts = BTreeSet::new();
    for group in rules["groups"].as_array().expect("groups") {
        for rule in group["rules"].as_array().expect("rules") {
            let name = rule["alert"].as_str().expect("alert rules only");
            alerts.insert(name.to_string());
            let expr = rule["expr"].as_str().expect("expr");
            let names = series_names(expr);
            assert!(!names.is_empty(), "{name} selects no series");
            let unknown: Vec<_> = names.difference(&exposed).collect();
            assert!(
                unknown.is_empty(),
                "{name} reads series the runner does not expose: {unknown:?}"
            );
            assert!(
                rule["labels"]["severity"].is_string(),
                "{name} has no severity"
            );
            let runbook = rule["annotations"]["runbook"].as_str().unwrap_or_default();
            let anchor = runbook
                .strip_prefix("docs/operations.md#")
                .unwrap_or_else(|| {
                    panic!("{name}: the runbook annotation links docs/operations.md#<section>")
                });
            let doc = std::fs::read_to_string(root().join("docs/operations.md"))
                .expect("docs/operations.md");
            assert!(
                doc.lines().any(|l| l.starts_with('#') && slug(l) == anchor),
                "{name}: docs/operations.md has no heading #{anchor}"
            );
        }
    }
    assert_eq!(
        alerts,
        BTreeSet::from([
            "RedlineServerErrorRateHigh".to_string(),
            "RedlineLatencyP99High".to_string(),
            "RedlineMemoryHigh".to_string(),
            "RedlineReadinessFailing".to_string(),
        ]),
        "the design's four alerts"
    );
}

/// A Markdown heading's anchor as GitHub makes it.
fn slug(heading: &str) -> String {
    heading
        .trim_start_matches('#')
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

#[test]
fn prometheus_configuration_passes_promtool_and_scrapes_the_runners_metrics_port() {
    let (ok, report) = promtool(&["check", "config", "ops/prometheus/prometheus.yml"]);
    assert!(
        ok,
        "promtool check config ops/prometheus/prometheus.yml:\n{report}"
    );
    let config = yaml("ops/prometheus/prometheus.yml");
    assert_eq!(config["rule_files"], json!(["alerts.yml"]));
    let jobs = config["scrape_configs"].as_array().expect("scrape_configs");
    assert_eq!(jobs.len(), 1, "one job: the runner");
    assert_eq!(jobs[0]["static_configs"][0]["targets"], json!(["api:3002"]));
}

/// Every `(panel title, expr)` of the Grafana dashboard.
fn dashboard_queries(dashboard: &Value) -> Vec<(String, String)> {
    let mut queries = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        let title = panel["title"].as_str().unwrap_or_default().to_string();
        let targets = panel["targets"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default();
        assert!(!targets.is_empty(), "panel {title} has no query");
        for target in targets {
            let expr = target["expr"]
                .as_str()
                .unwrap_or_else(|| panic!("{title}: a target without expr"));
            queries.push((title.clone(), expr.to_string()));
        }
    }
    queries
}

/// Writes one recording rule per expression to a temporary rules file and runs `promtool check
/// rules` on it.
fn check_as_rules(what: &str, exprs: &[String]) -> (bool, String) {
    let rules: Vec<Value> = exprs
        .iter()
        .enumerate()
        .map(|(i, expr)| json!({"record": format!("redline:{what}_{i}"), "expr": expr}))
        .collect();
    // JSON is YAML: promtool reads it as a rules file.
    let file = json!({"groups": [{"name": what, "rules": rules}]});
    let path =
        std::env::temp_dir().join(format!("redline-{what}-{}.rules.yml", std::process::id()));
    std::fs::write(&path, file.to_string()).expect("write the rules file");
    let result = promtool(&["check", "rules", path.to_str().expect("a UTF-8 path")]);
    let _ = std::fs::remove_file(&path);
    result
}

#[test]
fn promtool_refuses_a_broken_expression() {
    let (ok, report) = check_as_rules("broken", &["sum(rate(redline_requests_total[2m])".into()]);
    assert!(!ok, "promtool accepted a broken expression:\n{report}");
}

#[test]
fn every_dashboard_query_passes_promtool_and_names_only_series_the_runner_exposes() {
    let text = std::fs::read_to_string(root().join("ops/grafana/dashboards/redline.json"))
        .expect("dashboard");
    let dashboard: Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    let queries = dashboard_queries(&dashboard);
    assert!(
        queries.len() >= 10,
        "the dashboard has its panels ({})",
        queries.len()
    );

    let exprs: Vec<String> = queries.iter().map(|(_, e)| e.clone()).collect();
    let (ok, report) = check_as_rules("dashboard", &exprs);
    assert!(ok, "a dashboard query fails promtool:\n{report}");

    let exposed = exposed_series(NAMESPACE);
    for (title, expr) in &queries {
        let names = series_names(expr);
        assert!(!names.is_empty(), "{title}: {expr} selects no series");
        let unknown: Vec<_> = names.difference(&exposed).collect();
        assert!(
            unknown.is_empty(),
            "{title}: {expr} names series the runner does not expose: {unknown:?}"
        );
    }

    // What the design asks the dashboard to show.
    let all = exprs.join("\n");
    for series in [
        "redline_requests_total",
        "redline_server_errors_total",
        "redline_client_errors_total",
        "redline_latency_seconds_bucket",
        "redline_login_succeeded_total",
        "redline_login_failed_total",
        "redline_account_locked_total",
        "redline_db_latency_seconds_bucket",
        "redline_cache_latency_seconds_bucket",
        "redline_dependency_errors_total",
        "redline_cold_start_total",
        "redline_local_instance_max_rss_bytes",
        "redline_local_memory_size_bytes",
    ] {
        assert!(all.contains(series), "the dashboard does not show {series}");
    }
}

#[test]
fn grafana_provisions_the_dashboard_on_the_stacks_prometheus() {
    let datasources = yaml("ops/grafana/provisioning/datasources/prometheus.yml");
    let source = &datasources["datasources"][0];
    assert_eq!(source["type"], "prometheus");
    assert_eq!(source["url"], "http://prometheus:9090");
    let uid = source["uid"].as_str().expect("a fixed uid the panels name");

    let text = std::fs::read_to_string(root().join("ops/grafana/dashboards/redline.json"))
        .expect("dashboard");
    let dashboard: Value = serde_json::from_str(&text).expect("the dashboard is JSON");
    for panel in dashboard["panels"].as_array().expect("panels") {
        let title = &panel["title"];
        assert_eq!(panel["datasource"]["uid"], uid, "{title}");
        for target in panel["targets"].as_array().into_iter().flatten() {
            assert_eq!(target["datasource"]["uid"], uid, "{title}");
        }
    }

    // The provider reads the directory compose mounts the dashboards at.
    let providers = yaml("ops/grafana/provisioning/dashboards/redline.yml");
    let path = providers["providers"][0]["options"]["path"]
        .as_str()
        .expect("provider path");
    let compose = yaml("docker-compose.yml");
    let services = &compose["services"];
    let mounts = |service: &str| -> Vec<String> {
        services[service]["volumes"]
            .as_array()
            .unwrap_or_else(|| panic!("{service} has volumes"))
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect()
    };
    let grafana = mounts("grafana");
    assert!(
        grafana.contains(&format!("./ops/grafana/dashboards:{path}:ro")),
        "{grafana:?}"
    );
    assert!(
        grafana.contains(&"./ops/grafana/provisioning:/etc/grafana/provisioning:ro".to_string()),
        "{grafana:?}"
    );
    assert!(mounts("prometheus").contains(&"./ops/prometheus:/etc/prometheus:ro".to_string()));
    for service in ["prometheus", "grafana"] {
        assert_eq!(
            services[service]["profiles"],
            json!(["observability"]),
            "{service} is optional"
        );
        for port in services[service]["ports"].as_array().expect("ports") {
            let port = port.as_str().unwrap_or_default();
            assert!(
                port.starts_with("127.0.0.1:"),
                "{service} publishes {port} beyond this machine"
            );
        }
    }
}
