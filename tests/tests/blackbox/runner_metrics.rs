//! The runner's log pipeline and metrics, black box: Lambda's log-level filter and EMF folding on
//! what real function processes print, `LoggingConfig` and the sampled trace header as the
//! functions see them, peak memory, the read-only metrics port beside a loopback-only invoke
//! port, and `promtool check metrics` on what a run of the real template leaves on `/metrics`.

use redline_tests::runner::{
    bin_dir, env_file, promtool_check_metrics, repo_root, sample, stack_env_files, target_dir,
    workspace_bin, Runner,
};
use redline_tests::TestEnv;
use serde_json::{json, Value};
use std::path::PathBuf;

/// The runner on the fixture template (JSON logs at INFO in Globals, WARN for one function).
fn fixture_runner(extra: &[&str]) -> Runner {
    let bins = bin_dir(&[
        ("greeter", workspace_bin("greeter")),
        ("misbehave", PathBuf::from(env!("CARGO_BIN_EXE_misbehave"))),
    ]);
    let env = env_file(&json!({"MisbehaveFunction": {"NEEDS_FILE": "x"}}));
    Runner::start(
        &repo_root().join("tests/fixtures/runner/template.yaml"),
        &[env],
        &bins,
        extra,
    )
}

async fn get(url: &str, headers: &[(&str, &str)]) -> (u16, Value) {
    let mut request = reqwest::Client::new().get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

fn level_lines(log: &str, level: &str) -> usize {
    log.matches(&format!("misbehave {level} line")).count()
}

#[tokio::test(flavor = "multi_thread")]
async fn emf_is_folded_and_log_lines_filtered_as_lambda_would() {
    let mut runner = fixture_runner(&[]);
    // ApplicationLogLevel INFO (Globals): INFO and above, text and EMF (INFO) are kept.
    let (status, _) = get(&runner.url("/misbehave/emf"), &[]).await;
    assert_eq!(status, 200);
    let log = runner.log_text();
    for (level, expected) in [
        ("TRACE", 0),
        ("DEBUG", 0),
        ("INFO", 1),
        ("WARN", 1),
        ("ERROR", 1),
    ] {
        assert_eq!(level_lines(&log, level), expected, "{level} lines:\n{log}");
    }
    assert!(log.contains("misbehave plain text line\n"), "{log}");
    assert!(
        !log.contains("CloudWatchMetrics"),
        "a folded document is not printed:\n{log}"
    );
    let documents = runner.emf_documents();
    assert_eq!(documents.len(), 1, "{documents:?}");
    assert_eq!(runner.emf_log_text().lines().count(), 1);
    assert_eq!(documents[0]["Function"], "MisbehaveFunction");
    let metrics = runner.metrics().await;
    let labels = r#"function="MisbehaveFunction",route="/misbehave/{action}",service="redline",version="$LATEST""#;
    assert_eq!(
        sample(&metrics, &format!("redline_requests_total{{{labels}}}")),
        Some(1.0),
        "one observation per document, not one per dimension set:\n{metrics}"
    );
    assert_eq!(
        sample(
            &metrics,
            &format!("redline_latency_seconds_count{{{labels}}}")
        ),
        Some(2.0),
        "both values of the list:\n{metrics}"
    );
    assert_eq!(
        sample(
            &metrics,
            &format!("redline_latency_seconds_bucket{{{labels},le=\"0.005\"}}")
        ),
        Some(1.0),
        "4 ms, in seconds:\n{metrics}"
    );

    // ApplicationLogLevel WARN: the INFO line, the text line and the EMF document are dropped.
    let (status, _) = get(&runner.url("/warn/emf"), &[]).await;
    assert_eq!(status, 200);
    let log = runner.log_text();
    for (level, expected) in [("INFO", 1), ("WARN", 2), ("ERROR", 2)] {
        assert_eq!(level_lines(&log, level), expected, "{level} lines:\n{log}");
    }
    assert_eq!(log.matches("misbehave plain text line").count(), 1, "{log}");
    assert_eq!(runner.emf_documents().len(), 1, "nothing folded at WARN");
    let metrics = runner.metrics().await;
    assert!(
        !metrics.contains(r#"function="WarnLevelFunction",route"#),
        "{metrics}"
    );
    assert_eq!(
        sample(
            &metrics,
            r#"redline_local_log_lines_filtered_total{function="WarnLevelFunction"}"#
        ),
        Some(5.0),
        "TRACE, DEBUG, INFO, the text line and the EMF document:\n{metrics}"
    );

    // A malformed document is counted and printed, not dropped.
    runner.expect_invalid_emf();
    get(&runner.url("/misbehave/bad-emf"), &[]).await;
    let metrics = runner.metrics().await;
    assert_eq!(
        sample(
            &metrics,
            r#"redline_local_emf_rejected_total{function="MisbehaveFunction"}"#
        ),
        Some(1.0),
        "{metrics}"
    );
    let log = runner.log_text();
    assert!(log.contains(r#"{"_aws":{"Timestamp":"soon""#), "{log}");
    assert!(log.contains("an EMF document was not folded"), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn functions_see_their_logging_config_and_a_sampled_trace() {
    let runner = fixture_runner(&[]);
    let root = "1-5759e988-bd862e3fe1be46a994272793";
    let incoming = format!("Root={root};Parent=53995c3f42cd8ad8;Sampled=0");
    let (status, body) = get(
        &runner.url("/misbehave/env"),
        &[("x-amzn-trace-id", incoming.as_str())],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["log_format"].as_str(), body["log_level"].as_str()),
        (Some("JSON"), Some("INFO"))
    );
    let trace = body["trace"].as_str().unwrap();
    let parts: Vec<&str> = trace.split(';').collect();
    assert_eq!(parts.len(), 3, "{trace}");
    assert_eq!(
        parts[0],
        format!("Root={root}"),
        "API Gateway keeps the incoming Root"
    );
    assert!(
        parts[1].starts_with("Parent=") && parts[1].len() == 7 + 16,
        "{trace}"
    );
    assert_eq!(parts[2], "Sampled=1");

    let (_, body) = get(&runner.url("/warn/env"), &[]).await;
    assert_eq!(body["log_level"], "WARN");
    let fresh = body["trace"].as_str().unwrap();
    assert!(
        fresh.starts_with("Root=1-") && !fresh.contains(root),
        "{fresh}"
    );

    // The event carries the Root in its headers, as API Gateway's does.
    let (_, body) = get(&runner.url("/misbehave/echo"), &[]).await;
    let header = body["event"]["headers"]["x-amzn-trace-id"]
        .as_str()
        .unwrap();
    assert!(
        header.starts_with("Root=1-") && !header.contains(';'),
        "{header}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn peak_memory_is_reported_against_memory_size() {
    let runner = fixture_runner(&[]);
    get(&runner.url("/misbehave/ok"), &[]).await;
    let metrics = runner.scrape().await;
    let peak = |metrics: &str| {
        sample(
            metrics,
            r#"redline_local_instance_max_rss_bytes{function="MisbehaveFunction"}"#,
        )
        .unwrap_or(0.0)
    };
    let before = peak(&metrics);
    assert!(before > 0.0, "{metrics}");
    assert_eq!(
        sample(
            &metrics,
            r#"redline_local_memory_size_bytes{function="MisbehaveFunction"}"#
        ),
        Some(256.0 * 1024.0 * 1024.0)
    );
    get(&runner.url("/misbehave/allocate"), &[]).await;
    let after = peak(&runner.scrape().await);
    assert!(
        after >= before + 40.0 * 1024.0 * 1024.0,
        "48 MiB more at the peak: {before} then {after}"
    );
}

/// Local addresses listening on `port` (Linux `/proc/net/tcp` and `tcp6`, hexadecimal).
fn listening_addresses(port: u16) -> Vec<String> {
    let suffix = format!(":{port:04X}");
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .flat_map(|file| {
            std::fs::read_to_string(file)
                .unwrap_or_default()
                .lines()
                .skip(1)
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            // State 0A is LISTEN.
            (fields.get(3) == Some(&"0A") && fields[1].ends_with(&suffix))
                .then(|| fields[1].trim_end_matches(&suffix).to_string())
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_metrics_port_is_read_only_and_the_invoke_port_stays_on_loopback() {
    let runner = fixture_runner(&["--host", "0.0.0.0"]);
    assert_eq!(
        listening_addresses(runner.invoke_port),
        ["0100007F"],
        "127.0.0.1 only"
    );
    assert_eq!(
        listening_addresses(runner.port),
        ["00000000"],
        "--host applies to the API"
    );
    assert_eq!(
        listening_addresses(runner.metrics_port),
        ["00000000"],
        "and to /metrics"
    );
    let log = runner.log_text();
    assert!(
        log.contains(&format!(
            "invoke API and /metrics on http://127.0.0.1:{}",
            runner.invoke_port
        )) && log.contains(&format!(
            "/metrics also on http://0.0.0.0:{}",
            runner.metrics_port
        )),
        "{log}"
    );

    let client = reqwest::Client::new();
    let metrics = client
        .get(runner.metrics_url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), 200);
    assert!(metrics
        .text()
        .await
        .unwrap()
        .contains("redline_local_memory_size_bytes"));
    let posted = client
        .post(runner.metrics_url("/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), 405);
    let invoke = "/2015-03-31/functions/MisbehaveFunction/invocations";
    let refused = client
        .post(runner.metrics_url(invoke))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 404, "the metrics port invokes nothing");
    let invoked = client
        .post(runner.invoke_url(invoke))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(invoked.status(), 200, "the invoke port does, on loopback");
}

#[tokio::test(flavor = "multi_thread")]
async fn promtool_finds_nothing_on_metrics_after_a_run_of_the_real_template() {
    let env = TestEnv::new().await;
    let runner = Runner::start(
        &repo_root().join("template.yaml"),
        &stack_env_files(&env, json!({})),
        &target_dir().join("debug"),
        &[
            "--parameter-overrides",
            "AllowedOrigins=http://localhost:5173",
        ],
    );
    for path in [
        "/health/live",
        "/health/ready",
        "/helloworld/ada",
        "/api/v1/auth/captcha?captcha_type=image",
        "/api/v1/users/me",
        "/no/such/route",
    ] {
        let (status, body) = get(&runner.url(path), &[]).await;
        assert!(status < 500, "{path}: {status} {body}");
    }
    let login = reqwest::Client::new()
        .post(runner.url("/api/v1/auth/login"))
        .json(&json!({"username": "nobody", "password": "wrong-password-1", "captcha_id": "x", "captcha_code": "y"}))
        .send()
        .await
        .unwrap();
    assert!(login.status().is_client_error(), "{}", login.status());

    let metrics = runner.scrape().await;
    // Seven requests, seven invocations, one document each: every request counted once
    // whatever the number of dimension sets, and folded before its answer.
    let requests: f64 = metrics
        .lines()
        .filter(|line| line.starts_with("redline_requests_total{"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(requests, 7.0, "{metrics}");
    assert!(
        metrics.contains("# TYPE redline_latency_seconds histogram\n"),
        "{metrics}"
    );
    let said = promtool_check_metrics(&metrics);
    assert!(
        said.is_empty(),
        "promtool check metrics:\n{said}\non:\n{metrics}"
    );
    for function in [
        "AuthFunction",
        "UsersFunction",
        "GreeterFunction",
        "HealthFunction",
    ] {
        let peak = sample(
            &metrics,
            &format!("redline_local_instance_max_rss_bytes{{function=\"{function}\"}}"),
        );
        assert!(
            peak.is_some_and(|bytes| bytes > 0.0),
            "{function}: {peak:?}\n{metrics}"
        );
        assert!(
            sample(
                &metrics,
                &format!("redline_local_memory_size_bytes{{function=\"{function}\"}}")
            )
            .is_some_and(|bytes| bytes >= 128.0 * 1024.0 * 1024.0),
            "{function}\n{metrics}"
        );
    }
}
