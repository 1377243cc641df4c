//! `openapi.yaml` against the running API: the real template and binaries under the local
//! runner, on a database and key prefix of this test's own. Each operation needs a Bearer token
//! exactly when the document says so, and schemathesis (pinned in scripts/install-tools.sh)
//! finds no answer that strays from the document on any operation, following the document's
//! links register → login → refresh → me.

use redline_tests::openapi::{self, operations};
use redline_tests::runner::{repo_root, stack_env_files, target_dir, Runner};
use redline_tests::TestEnv;
use reqwest::{Client, Method};
use serde_json::json;
use std::time::{Duration, Instant};

/// The checks whose failures the issue counts (`st run --checks`).
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_headers_conformance,response_schema_conformance";
/// Test cases per operation and phase: enough to reach every documented answer of the simple
/// routes, small enough for a run well under two minutes.
const MAX_EXAMPLES: &str = "25";
/// Fixed, so a failure reproduces (`st` prints the seed and each failure's curl).
const SEED: &str = "20261126";
/// Past this the run is stopped and the test fails.
const BUDGET: Duration = Duration::from_secs(240);

/// The runner on the real template. The captcha is off (the configuration key dev and test
/// may set) so that generated register and login bodies can succeed and the document's links
/// reach the Bearer routes with real tokens.
fn start_runner(env: &TestEnv) -> Runner {
    Runner::start(
        &repo_root().join("template.yaml"),
        &stack_env_files(env, json!({ "REDLINE__AUTH__CAPTCHA__ENABLED": "false" })),
        &target_dir().join("debug"),
        &[
            "--parameter-overrides",
            "AllowedOrigins=http://localhost:5173",
        ],
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn bearer_routes_are_exactly_the_documented_ones() {
    let env = TestEnv::new().await;
    let runner = start_runner(&env);
    let client = Client::new();
    let doc = openapi::document();
    for op in operations(&doc) {
        let path = op
            .path
            .replace("{identifier}", "nobody")
            .replace("{name}", "Ada");
        let method = Method::from_bytes(op.method.as_bytes()).unwrap();
        let (status, body) = runner.call(&client, method, &path, None, None).await;
        let asked_for_token = body["reason"] == "TOKEN_MISSING";
        assert_eq!(
            asked_for_token,
            op.needs_bearer(),
            "{} {}: answered {status} {body} without a token, but the document says \
             bearerAuth is {}needed",
            op.method,
            op.path,
            if op.needs_bearer() { "" } else { "not " }
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn schemathesis_finds_no_answer_that_strays_from_the_document() {
    let st = repo_root().join(".local/schemathesis/bin/st");
    assert!(
        st.is_file(),
        "{} is missing: run scripts/install-tools.sh",
        st.display()
    );
    let env = TestEnv::new().await;
    let runner = start_runner(&env);
    // Its caches and reports go to a directory of its own, not the repository.
    let work = std::env::temp_dir().join(format!(
        "redline-schemathesis-{}",
        redline_tests::servers::unique_token()
    ));
    std::fs::create_dir_all(&work).unwrap();
    let started = Instant::now();
    let child = tokio::process::Command::new(&st)
        .arg("--config-file")
        .arg(repo_root().join("tests/schemathesis.toml"))
        .arg("run")
        .arg(openapi::path())
        .args(["--url", &runner.url("")])
        .args(["--checks", CHECKS])
        .args(["--max-examples", MAX_EXAMPLES])
        .args(["--seed", SEED])
        // One worker: Hypothesis' lambda descriptions race between threads (a run error).
        .args(["--workers", "1"])
        .args(["--request-timeout", "10"])
        .current_dir(&work)
        .env("NO_COLOR", "1")
        .env("SCHEMATHESIS_TELEMETRY", "false")
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(BUDGET, child)
        .await
        .unwrap_or_else(|_| panic!("schemathesis ran past {BUDGET:?}"))
        .expect("schemathesis runs");
    let elapsed = started.elapsed();
    let _ = std::fs::remove_dir_all(&work);
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success(),
        "schemathesis found answers that stray from openapi.yaml ({elapsed:?}):\n{report}\n\
         runner log:\n{}",
        runner.log_text()
    );
    // The links must have been followed, not merely declared.
    assert!(
        report.contains("Stateful") && !report.contains("API Links:    0 covered"),
        "the stateful phase followed no link:\n{report}"
    );
    eprintln!("schemathesis passed in {elapsed:?}:\n{report}");
}
