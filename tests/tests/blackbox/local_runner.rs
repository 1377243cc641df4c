//! The local runner, black box: the real `redline-local` binary reading a template, driving real
//! function binaries through the Runtime API, answered over HTTP.

use redline_tests::runner::{bin_dir, env_file, repo_root, workspace_bin, Runner};
use serde_json::{json, Value};
use std::collections::HashSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn misbehave() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_misbehave"))
}

fn fixture_template() -> PathBuf {
    repo_root().join("tests/fixtures/runner/template.yaml")
}

/// The runner on the fixture template: the real greeter and the misbehaving function.
fn fixture_runner(extra: &[&str]) -> Runner {
    let bins = bin_dir(&[
        ("greeter", workspace_bin("greeter")),
        ("misbehave", misbehave()),
    ]);
    let env = env_file(&json!({"MisbehaveFunction": {"NEEDS_FILE": "from the env-vars file"}}));
    Runner::start(&fixture_template(), &[env], &bins, extra)
}

async fn get(url: impl reqwest::IntoUrl) -> (u16, Value) {
    let response = reqwest::get(url).await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn serves_routes_with_the_template_environment() {
    let runner = fixture_runner(&[]);
    let (status, body) = get(&runner.url("/helloworld/Ada%20L")).await;
    assert_eq!((status, body), (200, json!({"message": "Hello Ada L"})));
    let (status, body) = get(&runner.url("/misbehave/env")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["greeting"], "hello from us-east-1",
        "!Sub with a parameter default and a pseudo parameter"
    );
    assert_eq!(body["memory"], "256");
    assert_eq!(body["name"], "MisbehaveFunction");
    assert_eq!(
        body["home"],
        Value::Null,
        "the host environment does not leak in"
    );
    let deadline = body["deadline_in_ms"].as_i64().unwrap();
    assert!(
        deadline > 0 && deadline <= 2000,
        "deadline from the function's 2 s timeout: {deadline}"
    );
    assert_eq!(body["request_id"].as_str().unwrap().len(), 36);
    // No route and no $default in this template: API Gateway's own 404.
    let (status, body) = get(&runner.url("/nowhere")).await;
    assert_eq!((status, body), (404, json!({"message": "Not Found"})));
}

#[tokio::test(flavor = "multi_thread")]
async fn events_carry_the_route_and_request_details() {
    let runner = fixture_runner(&[]);
    let client = reqwest::Client::new();
    let response = client
        .get(runner.url("/misbehave/echo?a=1&a=2&b=x%20y"))
        .header("cookie", "c1=v1; c2=v2")
        .header("x-custom", "yes")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    let event = &body["event"];
    assert_eq!(event["version"], "2.0");
    assert_eq!(event["routeKey"], "GET /misbehave/{action}");
    assert_eq!(event["pathParameters"], json!({"action": "echo"}));
    assert_eq!(event["rawQueryString"], "a=1&a=2&b=x%20y");
    assert_eq!(
        event["queryStringParameters"],
        json!({"a": "1,2", "b": "x y"})
    );
    assert_eq!(event["cookies"], json!(["c1=v1", "c2=v2"]));
    assert_eq!(event["headers"]["x-custom"], "yes");
    assert_eq!(event["requestContext"]["http"]["sourceIp"], "127.0.0.1");
    assert_eq!(event["requestContext"]["stage"], "$default");
    // The same function behind a REST (Api) event gets the 1.0 payload.
    let (status, body) = get(&runner.url("/rest/echo?q=1")).await;
    assert_eq!(status, 200);
    assert_eq!(body["event"]["httpMethod"], "GET");
    assert_eq!(body["event"]["resource"], "/rest/{action}");
    assert_eq!(
        body["event"]["multiValueQueryStringParameters"],
        json!({"q": ["1"]})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn overlapping_requests_start_more_instances_and_warm_ones_are_reused() {
    let runner = fixture_runner(&[]);
    let requests = (0..3).map(|_| get(runner.url("/misbehave/slow")));
    let answers = futures_util::future::join_all(requests).await;
    let pids: HashSet<u64> = answers
        .iter()
        .map(|(status, body)| {
            assert_eq!(*status, 200, "{body}");
            body["pid"].as_u64().unwrap()
        })
        .collect();
    assert_eq!(pids.len(), 3, "one in-flight invocation per instance");
    let (_, body) = get(&runner.url("/misbehave/ok")).await;
    assert!(
        pids.contains(&body["pid"].as_u64().unwrap()),
        "a warm instance answers"
    );
    let metrics = reqwest::get(runner.invoke_url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("redline_local_cold_starts_total{function=\"MisbehaveFunction\"} 3"),
        "{metrics}"
    );
    assert!(
        metrics.contains("redline_local_instances{function=\"MisbehaveFunction\"} 3"),
        "{metrics}"
    );
    let log = runner.log_text();
    assert_eq!(
        log.matches("cold start MisbehaveFunction#").count(),
        3,
        "{log}"
    );
    assert!(
        log.contains(" init "),
        "cold starts report their init duration: {log}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_timed_out_instance_is_killed_and_replaced() {
    let runner = fixture_runner(&[]);
    let (_, first) = get(&runner.url("/misbehave/ok")).await;
    let started = Instant::now();
    let (status, body) = get(&runner.url("/misbehave/sleep")).await;
    assert_eq!(
        (status, body),
        (500, json!({"message": "Internal Server Error"}))
    );
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(2),
        "answered at the function's 2 s timeout, not before: {waited:?}"
    );
    let killed = first["pid"].as_u64().unwrap() as u32;
    tokio::time::sleep(Duration::from_millis(100)).await;
    // The HTTP API runs live's version: a snapshot of the binary, so the process is looked up
    // by its id, not by its executable.
    assert!(
        !std::path::Path::new(&format!("/proc/{killed}")).exists() || is_zombie(killed),
        "the timed-out process was killed"
    );
    let (_, fresh) = get(&runner.url("/misbehave/ok")).await;
    assert_ne!(fresh["pid"], first["pid"], "a fresh instance");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crash_an_error_and_a_bad_answer_are_internal_server_errors() {
    let runner = fixture_runner(&[]);
    let (_, before) = get(&runner.url("/misbehave/ok")).await;
    let internal = json!({"message": "Internal Server Error"});
    assert_eq!(
        get(&runner.url("/misbehave/crash")).await,
        (500, internal.clone())
    );
    let (status, after) = get(&runner.url("/misbehave/ok")).await;
    assert_eq!(status, 200);
    assert_ne!(
        after["pid"], before["pid"],
        "the crashed instance was replaced"
    );
    assert_eq!(
        get(&runner.url("/misbehave/error")).await,
        (500, internal.clone())
    );
    assert_eq!(
        get(&runner.url("/misbehave/garbage")).await,
        (500, internal.clone())
    );
    // Instances that fail their init phase: by exiting, or by reporting to /init/error.
    assert_eq!(get(&runner.url("/broken")).await, (500, internal.clone()));
    assert_eq!(get(&runner.url("/broken-report")).await, (500, internal));
    let response = reqwest::Client::new()
        .post(runner.invoke_url("/2015-03-31/functions/ReportingInitFunction/invocations"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-amz-function-error"], "Unhandled");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errorType"], "Runtime.InitError");
    assert!(
        body["errorMessage"]
            .as_str()
            .unwrap()
            .contains("failing init on purpose"),
        "{body}"
    );
    // REST APIs answer their own way.
    let (status, body) = get(&runner.url("/rest/crash")).await;
    assert_eq!(
        (status, body),
        (502, json!({"message": "Internal server error"}))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn past_the_integration_limit_the_client_gets_503() {
    let runner = fixture_runner(&["--integration-timeout", "2"]);
    let (status, body) = get(&runner.url("/past-the-limit/sleep")).await;
    assert_eq!(
        (status, body),
        (503, json!({"message": "Service Unavailable"}))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn cors_preflights_and_responses_follow_the_template() {
    let runner = fixture_runner(&[]);
    let client = reqwest::Client::new();
    let preflight = client
        .request(reqwest::Method::OPTIONS, runner.url("/helloworld/x"))
        .header("origin", "http://localhost:5173")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 204);
    let headers = preflight.headers();
    assert_eq!(
        headers["access-control-allow-origin"],
        "http://localhost:5173"
    );
    assert_eq!(headers["access-control-allow-methods"], "GET,POST");
    assert_eq!(headers["access-control-max-age"], "600");
    let simple = client
        .get(runner.url("/helloworld/x"))
        .header("origin", "http://localhost:5173")
        .send()
        .await
        .unwrap();
    assert_eq!(
        simple.headers()["access-control-allow-origin"],
        "http://localhost:5173"
    );
    let foreign = client
        .get(runner.url("/helloworld/x"))
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert!(foreign
        .headers()
        .get("access-control-allow-origin")
        .is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_invoke_api_runs_any_function() {
    let runner = fixture_runner(&[]);
    let client = reqwest::Client::new();
    let invoke =
        |name: &str| runner.invoke_url(&format!("/2015-03-31/functions/{name}/invocations"));
    let response = client
        .post(invoke("MisbehaveFunction"))
        .json(&json!({"action": "ok", "n": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["statusCode"], 200);
    let response = client
        .post(invoke("MisbehaveFunction"))
        .json(&json!({"action": "error"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-amz-function-error"], "Unhandled");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errorMessage"], "the function failed on purpose");
    let response = client
        .post(invoke("NoSuchFunction"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let response = client
        .post(invoke("MisbehaveFunction"))
        .json(&json!({"action": "sleep"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-amz-function-error"], "Unhandled");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errorType"], "Sandbox.Timedout");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unresolved_variable_stops_the_runner_with_its_name() {
    let bins = bin_dir(&[
        ("greeter", workspace_bin("greeter")),
        ("misbehave", misbehave()),
    ]);
    let (mut command, _, _) = Runner::command(&fixture_template(), &[], &bins);
    let output = command.output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("NEEDS_FILE") && stderr.contains("NoDefault"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_stops_the_runner_and_every_instance() {
    let mut runner = fixture_runner(&[]);
    let answers =
        futures_util::future::join_all((0..2).map(|_| get(runner.url("/misbehave/slow")))).await;
    let pids: Vec<u32> = answers
        .iter()
        .map(|(_, b)| b["pid"].as_u64().unwrap() as u32)
        .collect();
    // One more invocation still running when Ctrl-C arrives.
    let busy = tokio::spawn(reqwest::get(runner.url("/misbehave/sleep")));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let status = runner.interrupt().expect("stops within 10 s");
    assert!(status.success(), "{status:?}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    for pid in pids {
        assert!(
            !std::path::Path::new(&format!("/proc/{pid}")).exists() || is_zombie(pid),
            "instance {pid} left behind"
        );
    }
    let _ = busy.await;
    eprintln!("runner started in {:?}", runner.startup);
}

fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.split_whitespace().nth(2) == Some("Z"))
        .unwrap_or(true)
}
