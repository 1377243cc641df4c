//! The runner's rollback alarms and CloudWatch's `DescribeAlarms` on its invoke port, black
//! box: the raw Smithy RPC v2 CBOR answer held to botocore's `cloudwatch` model (members, types,
//! the declared error), the real `aws-sdk-cloudwatch` client reading the real template's alarms
//! as `redline-ops` reads them (`AlarmNamePrefix`, `AlarmNames`, `StateValue`), and a function
//! version answering 5xx, slowly, or crashing, with a 300 ms minute, seen going to ALARM on the
//! alarm that watches it while the others stay OK, and an alarm the runner cannot evaluate shown
//! with its reason, never skipped; then boto3 (botocore's own CBOR parser) reads the same.

use super::runner_wire::{load, Model};
use aws_sdk_cloudwatch::types::{MetricAlarm, StateValue};
use redline_tests::runner::{bin_dir, repo_root, stack_env_files, target_dir, Runner};
use redline_tests::TestEnv;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::{Duration, Instant};

const DESCRIBE: &str = "/service/GraniteServiceVersion20100801/operation/DescribeAlarms";
const AREAS: [&str; 4] = ["auth", "users", "greeter", "health"];
const KINDS: [&str; 3] = ["server-error-rate", "latency-p99", "invocation-errors"];

/// CBOR as JSON, the way botocore's model describes the members: a timestamp (tag 1) is its
/// epoch seconds.
fn json_of(value: ciborium::Value) -> Value {
    use ciborium::Value as C;
    match value {
        C::Text(text) => json!(text),
        C::Bool(b) => json!(b),
        C::Integer(n) => json!(i128::from(n) as i64),
        C::Float(x) => json!(x),
        C::Null => Value::Null,
        C::Tag(1, inner) => json_of(*inner),
        C::Array(items) => Value::Array(items.into_iter().map(json_of).collect()),
        C::Map(entries) => Value::Object(
            entries
                .into_iter()
                .map(|(k, v)| (k.as_text().unwrap_or("<not text>").to_string(), json_of(v)))
                .collect(),
        ),
        other => json!(format!("unexpected CBOR {other:?}")),
    }
}

struct Raw {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

/// `DescribeAlarms` as the model's protocol carries it, without an SDK.
async fn raw_describe(runner: &Runner, input: Vec<(&str, ciborium::Value)>) -> Raw {
    let input = ciborium::Value::Map(
        input
            .into_iter()
            .map(|(k, v)| (ciborium::Value::Text(k.into()), v))
            .collect(),
    );
    let mut body = Vec::new();
    ciborium::into_writer(&input, &mut body).unwrap();
    let response = reqwest::Client::new()
        .post(runner.invoke_url(DESCRIBE))
        .header("smithy-protocol", "rpc-v2-cbor")
        .header("content-type", "application/cbor")
        .header("accept", "application/cbor")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.unwrap();
    let value: ciborium::Value = ciborium::from_reader(&bytes[..]).expect("a CBOR answer");
    Raw {
        status,
        headers,
        body: json_of(value),
    }
}

fn header<'a>(raw: &'a Raw, name: &str) -> &'a str {
    raw.headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

fn problems(model: &Model, shape: &str, value: &Value) -> Vec<String> {
    let mut problems = Vec::new();
    model.check(shape, value, shape, &mut problems);
    problems
}

async fn describe(runner: &Runner, prefix: &str) -> Vec<MetricAlarm> {
    runner
        .cloudwatch()
        .describe_alarms()
        .alarm_name_prefix(prefix)
        .send()
        .await
        .expect("DescribeAlarms answers")
        .metric_alarms
        .unwrap_or_default()
}

fn state_of(alarms: &[MetricAlarm], name: &str) -> (StateValue, String) {
    let alarm = alarms
        .iter()
        .find(|a| a.alarm_name() == Some(name))
        .unwrap_or_else(|| panic!("no alarm {name} in {alarms:#?}"));
    (
        alarm.state_value().cloned().expect("a state"),
        alarm.state_reason().unwrap_or_default().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn describe_alarms_shows_the_real_templates_rollback_alarms_in_botocores_shapes() {
    let Some(model) = load("cloudwatch", "2010-08-01") else {
        eprintln!("skipped: botocore's models are not in .local/venv; run scripts/install-tools.sh (scripts/test.sh does)");
        return;
    };
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

    // The wire, without an SDK: status, protocol headers, and only the model's members.
    let raw = raw_describe(&runner, vec![]).await;
    assert_eq!(raw.status, 200, "{}", raw.body);
    assert_eq!(header(&raw, "smithy-protocol"), "rpc-v2-cbor");
    assert_eq!(header(&raw, "content-type"), "application/cbor");
    assert_eq!(
        problems(&model, "DescribeAlarmsOutput", &raw.body),
        Vec::<String>::new()
    );
    let names: Vec<&str> = raw.body["MetricAlarms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["AlarmName"].as_str().unwrap())
        .collect();
    let mut expected: Vec<String> = AREAS
        .iter()
        .flat_map(|area| KINDS.map(|kind| format!("redline-local-{area}-rollback-{kind}")))
        .collect();
    expected.sort();
    assert_eq!(names, expected, "every rollback alarm, by name");
    for alarm in raw.body["MetricAlarms"].as_array().unwrap() {
        // No traffic yet: nothing breaches (notBreaching), and every one is evaluable.
        assert_eq!(alarm["StateValue"], "OK", "{alarm}");
        assert!(alarm.get("EvaluationState").is_none(), "{alarm}");
        assert!(alarm["StateUpdatedTimestamp"].as_f64().unwrap() > 1.7e9);
    }

    // The error the operation declares, in its shape, query-compatible.
    let refused = raw_describe(
        &runner,
        vec![("NextToken", ciborium::Value::Text("not-a-token".into()))],
    )
    .await;
    assert_eq!(refused.status, 400);
    assert_eq!(
        header(&refused, "x-amzn-query-error"),
        "InvalidNextToken;Sender"
    );
    let declared = model.operation("DescribeAlarms")["errors"].clone();
    assert!(declared
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["shape"] == "InvalidNextToken"));
    let mut body = refused.body.clone();
    assert_eq!(
        body.as_object_mut().unwrap().remove("__type"),
        Some(json!("com.amazonaws.cloudwatch#InvalidNextToken"))
    );
    assert_eq!(
        problems(&model, "InvalidNextToken", &body),
        Vec::<String>::new()
    );

    // The SDK, as redline-ops calls it.
    let auth = describe(&runner, "redline-local-auth-rollback-").await;
    let auth_names: Vec<&str> = auth.iter().filter_map(|a| a.alarm_name()).collect();
    assert_eq!(
        auth_names,
        [
            "redline-local-auth-rollback-invocation-errors",
            "redline-local-auth-rollback-latency-p99",
            "redline-local-auth-rollback-server-error-rate",
        ]
    );
    let rate = &auth[2];
    assert_eq!(rate.state_value(), Some(&StateValue::Ok));
    assert_eq!(rate.evaluation_periods(), Some(3));
    assert_eq!(rate.datapoints_to_alarm(), Some(2));
    assert_eq!(rate.threshold(), Some(5.0));
    assert_eq!(rate.treat_missing_data(), Some("notBreaching"));
    let queries = rate.metrics();
    assert_eq!(queries.len(), 3);
    assert_eq!(
        queries[2].expression(),
        Some("IF(requests >= 10, 100 * serverErrors / requests, 0)")
    );
    let version = queries[0]
        .metric_stat()
        .and_then(|s| s.metric())
        .map(|m| m.dimensions())
        .unwrap_or_default()
        .iter()
        .find(|d| d.name() == Some("Version"))
        .and_then(|d| d.value())
        .map(str::to_string);
    assert_eq!(
        version.as_deref(),
        Some("1"),
        "live's version, none deploying"
    );

    let p99 = runner
        .cloudwatch()
        .describe_alarms()
        .alarm_names("redline-local-users-rollback-latency-p99")
        .alarm_names("no-such-alarm")
        .send()
        .await
        .unwrap()
        .metric_alarms
        .unwrap_or_default();
    assert_eq!(p99.len(), 1);
    assert_eq!(p99[0].extended_statistic(), Some("p99"));
    assert_eq!(p99[0].namespace(), Some("Redline"));
    assert_eq!(p99[0].period(), Some(60));
    let errors = describe(&runner, "redline-local-greeter-rollback-invocation-errors").await;
    let dimensions: Vec<(String, String)> = errors[0]
        .dimensions()
        .iter()
        .map(|d| (d.name().unwrap().into(), d.value().unwrap().into()))
        .collect();
    assert_eq!(
        dimensions,
        [
            (
                "FunctionName".to_string(),
                "redline-local-greeter".to_string()
            ),
            (
                "Resource".to_string(),
                "redline-local-greeter:live".to_string()
            ),
            ("ExecutedVersion".to_string(), "1".to_string()),
        ]
    );

    let alarming = runner
        .cloudwatch()
        .describe_alarms()
        .state_value(StateValue::Alarm)
        .send()
        .await
        .unwrap();
    assert_eq!(alarming.metric_alarms().len(), 0);
    let refused = runner
        .cloudwatch()
        .describe_alarms()
        .next_token("not-a-token")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(refused.is_invalid_next_token(), "{refused:?}");
}

/// Requests on the HTTP API until `done` says so (checked every 100 ms) or 10 s pass.
async fn load_until(runner: &Runner, path: &str, mut done: impl AsyncFnMut() -> bool) -> bool {
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut checked = Instant::now();
    while Instant::now() < deadline {
        let _ = client.get(runner.url(path)).send().await.unwrap();
        if checked.elapsed() > Duration::from_millis(100) {
            if done().await {
                return true;
            }
            checked = Instant::now();
        }
    }
    false
}

#[tokio::test(flavor = "multi_thread")]
async fn a_version_answering_5xx_slowly_or_crashing_trips_the_alarm_that_watches_it() {
    let bins = bin_dir(&[("flaky", PathBuf::from(env!("CARGO_BIN_EXE_flaky")))]);
    let runner = Runner::start(
        &repo_root().join("tests/fixtures/runner/alarms.yaml"),
        &[],
        &bins,
        &["--alarm-minute", "300"],
    );
    let prefix = "redline-local-flaky-rollback-";
    let rate = "redline-local-flaky-rollback-server-error-rate";
    let p99 = "redline-local-flaky-rollback-latency-p99";
    let errors = "redline-local-flaky-rollback-invocation-errors";
    let gateway = "redline-local-flaky-rollback-gateway-5xx";

    let quiet = describe(&runner, prefix).await;
    assert_eq!(quiet.len(), 4, "the unevaluable one too");
    let (state, reason) = state_of(&quiet, gateway);
    assert_eq!(state, StateValue::InsufficientData);
    assert!(reason.contains("AWS/ApiGateway"), "{reason}");
    let unevaluable = quiet
        .iter()
        .find(|a| a.alarm_name() == Some(gateway))
        .unwrap();
    assert_eq!(
        unevaluable.evaluation_state().map(|s| s.as_str()),
        Some("EVALUATION_ERROR")
    );

    // Healthy traffic for three minutes of 300 ms: every alarm stays OK.
    let started = Instant::now();
    load_until(&runner, "/flaky/200", async || {
        started.elapsed() > Duration::from_millis(900)
    })
    .await;
    let healthy = describe(&runner, prefix).await;
    for name in [rate, p99, errors] {
        assert_eq!(state_of(&healthy, name).0, StateValue::Ok, "{name}");
    }

    // 5xx answers: the rate alarm goes to ALARM within a few minutes (2 of 3); a 500 the
    // function returns is a successful invocation, so the invocation-errors alarm stays OK.
    let tripped = load_until(&runner, "/flaky/500", async || {
        state_of(&describe(&runner, prefix).await, rate).0 == StateValue::Alarm
    })
    .await;
    let now = describe(&runner, prefix).await;
    assert!(tripped, "{:#?}", state_of(&now, rate));
    assert!(
        state_of(&now, rate)
            .1
            .contains("greater than the threshold"),
        "{now:#?}"
    );
    assert_eq!(state_of(&now, errors).0, StateValue::Ok);
    assert_eq!(state_of(&now, p99).0, StateValue::Ok);

    // Slow answers: p99 over 2 s three minutes out of three.
    let slow = load_until(&runner, "/flaky/200?latency=2500", async || {
        state_of(&describe(&runner, prefix).await, p99).0 == StateValue::Alarm
    })
    .await;
    assert!(slow, "{:#?}", describe(&runner, p99).await);

    // Crashes in two minutes out of three: Lambda's Errors through live, executed version 1.
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut crashed = false;
    while Instant::now() < deadline && !crashed {
        let answer = client.get(runner.url("/flaky/crash")).send().await.unwrap();
        assert!(answer.status().is_server_error(), "{}", answer.status());
        tokio::time::sleep(Duration::from_millis(150)).await;
        crashed = state_of(&describe(&runner, prefix).await, errors).0 == StateValue::Alarm;
    }
    assert!(crashed, "{:#?}", describe(&runner, errors).await);

    let alarming = runner
        .cloudwatch()
        .describe_alarms()
        .alarm_name_prefix(prefix)
        .state_value(StateValue::Alarm)
        .send()
        .await
        .unwrap();
    let names: Vec<&str> = alarming
        .metric_alarms()
        .iter()
        .filter_map(|a| a.alarm_name())
        .collect();
    assert!(names.contains(&errors), "{names:?}");
    assert!(!names.contains(&gateway), "{names:?}");
    for alarm in alarming.metric_alarms() {
        assert_eq!(alarm.state_value(), Some(&StateValue::Alarm), "{alarm:#?}");
    }

    // A second SDK, with botocore's own CBOR parser, reads the same.
    let python = repo_root().join(".local/venv/bin/python");
    if !python.is_file() {
        eprintln!("boto3 part skipped: no .local/venv; run scripts/install-tools.sh");
        return;
    }
    let output = tokio::process::Command::new(python)
        .arg(repo_root().join("tests/fixtures/runner/boto3_alarms.py"))
        .args([runner.endpoint().as_str(), prefix])
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(seen["protocol"], "smithy-rpc-v2-cbor");
    assert_eq!(seen["bad_token"], "InvalidNextToken");
    assert_eq!(
        seen["alarms"][gateway],
        json!(["INSUFFICIENT_DATA", "EVALUATION_ERROR", 0.0])
    );
    // The states themselves move with the clock (a 300 ms minute ages the crashes out while
    // Python starts): only what does not is compared.
    assert_eq!(seen["alarms"][rate][2], 5.0);
    assert_eq!(seen["alarms"][p99][2], 2000.0);
    assert_eq!(seen["alarms"][errors][1], Value::Null, "{seen}");
    for name in seen["alarming"].as_array().unwrap() {
        assert_eq!(seen["alarms"][name.as_str().unwrap()][0], "ALARM", "{seen}");
    }
}
