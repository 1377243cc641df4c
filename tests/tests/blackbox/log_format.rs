//! What the functions print under the runner, as Lambda's JSON log format reads it: one JSON
//! object per line with an RFC 3339 millisecond UTC `timestamp`, a `level` and a `message`; one
//! `init` line per cold start with its phases; one `request` line per invocation with the
//! request and trace ids and flat fields. `AWS_LAMBDA_LOG_FORMAT=Text` gives readable lines.

use redline_tests::runner::{repo_root, stack_env_files, target_dir, Runner};
use redline_tests::TestEnv;
use reqwest::{Client, Method};
use serde_json::{json, Value};
use std::path::Path;

/// The runner's output lines that are JSON log lines (not its own `redline-local:` lines, not
/// EMF documents).
fn log_lines(text: &str) -> Vec<Value> {
    text.lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .filter(|l| l.get("_aws").is_none())
        .collect()
}

async fn drive(runner: &Runner) {
    let client = Client::new();
    for path in ["/helloworld/Ada", "/health/live", "/nope", "/helloworld/Bo"] {
        runner.call(&client, Method::GET, path, None, None).await;
    }
}

fn start(env: &TestEnv, template: &Path) -> Runner {
    Runner::start(
        template,
        &stack_env_files(env, json!({})),
        &target_dir().join("debug"),
        &[
            "--parameter-overrides",
            "AllowedOrigins=http://localhost:5173",
        ],
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn lines_are_lambda_json_with_an_init_line_and_a_request_line_per_invocation() {
    let env = TestEnv::new().await;
    let mut runner = start(&env, &repo_root().join("template.yaml"));
    drive(&runner).await;
    runner.interrupt();
    let lines = log_lines(&runner.log_text());

    for line in &lines {
        let timestamp = line["timestamp"].as_str().unwrap_or_default();
        assert!(
            humantime::parse_rfc3339(timestamp).is_ok() && timestamp.len() == 24,
            "RFC 3339, UTC, milliseconds: {line}"
        );
        assert!(
            ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"]
                .contains(&line["level"].as_str().unwrap_or("")),
            "{line}"
        );
        assert!(line["message"].is_string(), "{line}");
        assert!(line.get("fields").is_none(), "flat fields: {line}");
    }
    let inits: Vec<&Value> = lines.iter().filter(|l| l["message"] == "init").collect();
    let functions: Vec<&str> = inits
        .iter()
        .filter_map(|l| l["function"].as_str())
        .collect();
    assert_eq!(
        functions.len(),
        2,
        "one init line per cold start (greeter, health): {inits:?}"
    );
    for init in &inits {
        for phase in ["telemetryMs", "configMs", "openMs", "initMs"] {
            assert!(
                init[phase].as_f64().is_some_and(|ms| ms >= 0.0),
                "{phase}: {init}"
            );
        }
    }
    let requests: Vec<&Value> = lines.iter().filter(|l| l["message"] == "request").collect();
    assert_eq!(requests.len(), 4, "{requests:?}");
    for request in &requests {
        for key in [
            "requestId",
            "apiRequestId",
            "traceId",
            "function",
            "version",
            "coldStart",
            "method",
            "route",
            "status",
            "reason",
            "latencyMs",
        ] {
            assert!(!request[key].is_null(), "{key} missing from {request}");
        }
        assert!(
            request["traceId"].as_str().unwrap().starts_with("1-"),
            "{request}"
        );
    }
    let routes: Vec<(&str, bool)> = requests
        .iter()
        .map(|r| {
            (
                r["route"].as_str().unwrap(),
                r["coldStart"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        routes,
        [
            ("/helloworld/{name}", true),
            ("/health/live", true),
            ("$default", false),
            ("/helloworld/{name}", false)
        ],
        "route templates, never raw paths"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_text_format_is_honoured() {
    let env = TestEnv::new().await;
    // The template's LoggingConfig switched to Text: the runner tells the functions, as Lambda
    // does, through AWS_LAMBDA_LOG_FORMAT.
    let template = std::fs::read_to_string(repo_root().join("template.yaml")).unwrap();
    assert!(template.contains("LogFormat: JSON"));
    let text_template = std::env::temp_dir().join(format!(
        "redline-text-template-{}.yaml",
        redline_tests::servers::unique_token()
    ));
    std::fs::write(
        &text_template,
        template.replace("LogFormat: JSON", "LogFormat: Text"),
    )
    .unwrap();
    let mut runner = start(&env, &text_template);
    drive(&runner).await;
    runner.interrupt();
    let text = runner.log_text();
    assert!(
        log_lines(&text).is_empty(),
        "no JSON log line in Text format:\n{text}"
    );
    let requests: Vec<&str> = text
        .lines()
        .filter(|l| l.contains(" INFO ") && l.contains(" request "))
        .collect();
    assert_eq!(requests.len(), 4, "{text}");
    assert!(
        requests[0].contains("route=/helloworld/{name}"),
        "{}",
        requests[0]
    );
}
