//! The runner's Lambda and CodeDeploy wire, held to botocore's service models (the JSON shipped
//! in the botocore package of the tools venv, `scripts/install-tools.sh`): every operation the
//! runner serves is called with the method, URI and `X-Amz-Target` the model gives, with a body
//! of the model's input members; each answer has the model's status code, only members its
//! output shape declares, each of the declared JSON type (timestamps as epoch seconds), and every
//! required member; each error is one the operation declares, its body the error shape's.
//! Then boto3 (a second SDK, botocore's own parsers) drives every operation once
//! (`tests/fixtures/runner/boto3_drive.py`). The traffic-shifting operations (`ListDeployments`,
//! `ListApplications`, `ListDeploymentGroups`, `GetDeploymentGroup`, `StopDeployment`) are checked
//! on the real template, whose groups the runner knows.

use super::runner_versions::{
    deploy_runner, marked_bins, write_marked, Scratch, FUNCTION, PRE_HOOK,
};
use redline_tests::deploy::{self, STACK};
use redline_tests::runner::{repo_root, Runner};
use redline_tests::TestEnv;
use serde_json::{json, Value};
use std::io::Read;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The Lambda operations the runner serves, and CodeDeploy's.
const LAMBDA: [&str; 6] = [
    "Invoke",
    "PublishVersion",
    "ListVersionsByFunction",
    "GetAlias",
    "UpdateAlias",
    "UpdateFunctionCode",
];
const CODEDEPLOY: [&str; 10] = [
    "CreateDeployment",
    "GetDeployment",
    "ListDeployments",
    "StopDeployment",
    "ListApplications",
    "ListDeploymentGroups",
    "GetDeploymentGroup",
    "ListDeploymentTargets",
    "GetDeploymentTarget",
    "PutLifecycleEventHookExecutionStatus",
];

pub(super) struct Model(pub(super) Value);

/// `botocore/data/<service>/<version>/service-2.json(.gz)` in the tools venv.
pub(super) fn load(service: &str, version: &str) -> Option<Model> {
    let lib = repo_root().join(".local/venv/lib");
    let python = std::fs::read_dir(&lib)
        .ok()?
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("python"))?;
    let dir: PathBuf = python
        .path()
        .join("site-packages/botocore/data")
        .join(service)
        .join(version);
    let mut text = String::new();
    if let Ok(file) = std::fs::File::open(dir.join("service-2.json.gz")) {
        flate2::read::GzDecoder::new(file)
            .read_to_string(&mut text)
            .ok()?;
    } else {
        text = std::fs::read_to_string(dir.join("service-2.json")).ok()?;
    }
    Some(Model(
        serde_json::from_str(&text).expect("a service model is JSON"),
    ))
}

impl Model {
    pub(super) fn operation(&self, name: &str) -> &Value {
        let operation = &self.0["operations"][name];
        assert!(operation.is_object(), "the model has no operation {name}");
        operation
    }

    pub(super) fn shape(&self, name: &str) -> &Value {
        &self.0["shapes"][name]
    }

    /// Problems of `value` as the shape `name`, for a body (members placed in the URI, query
    /// string, headers or status code are not body members).
    pub(super) fn check(&self, name: &str, value: &Value, at: &str, problems: &mut Vec<String>) {
        let shape = self.shape(name);
        let kind = shape["type"].as_str().unwrap_or_default();
        let wrong = |problems: &mut Vec<String>| {
            problems.push(format!("{at}: {value} is not a {kind} ({name})"))
        };
        match kind {
            "structure" => {
                let Some(object) = value.as_object() else {
                    return wrong(problems);
                };
                let members = shape["members"].as_object().unwrap();
                for (key, member_value) in object {
                    match members.get(key) {
                        Some(member) if member.get("location").is_none() => self.check(
                            member["shape"].as_str().unwrap(),
                            member_value,
                            &format!("{at}.{key}"),
                            problems,
                        ),
                        Some(_) => problems.push(format!("{at}.{key} belongs outside the body")),
                        None => problems.push(format!("{at}.{key} is not a member of {name}")),
                    }
                }
                for required in shape["required"].as_array().into_iter().flatten() {
                    let required = required.as_str().unwrap();
                    if members[required].get("location").is_none() && !object.contains_key(required)
                    {
                        problems.push(format!("{at}.{required} is required by {name}"));
                    }
                }
            }
            "list" => match value.as_array() {
                Some(items) => {
                    for (i, item) in items.iter().enumerate() {
                        self.check(
                            shape["member"]["shape"].as_str().unwrap(),
                            item,
                            &format!("{at}[{i}]"),
                            problems,
                        );
                    }
                }
                None => wrong(problems),
            },
            "map" => match value.as_object() {
                Some(entries) => {
                    for (key, item) in entries {
                        self.check(
                            shape["value"]["shape"].as_str().unwrap(),
                            item,
                            &format!("{at}.{key}"),
                            problems,
                        );
                    }
                }
                None => wrong(problems),
            },
            "string" => match value.as_str() {
                Some(text) => {
                    if let Some(allowed) = shape["enum"].as_array() {
                        if !allowed.iter().any(|a| a == text) {
                            problems.push(format!("{at}: {text} is not one of {name}'s values"));
                        }
                    }
                }
                None => wrong(problems),
            },
            "integer" | "long" => {
                if !(value.is_i64() || value.is_u64()) {
                    wrong(problems)
                }
            }
            "double" | "float" => {
                if !value.is_number() {
                    wrong(problems)
                }
            }
            "boolean" => {
                if !value.is_boolean() {
                    wrong(problems)
                }
            }
            // JSON protocols write timestamps as epoch seconds unless the shape says otherwise.
            "timestamp" => {
                if shape.get("timestampFormat").is_some() || !value.is_number() {
                    wrong(problems)
                }
            }
            "blob" => {
                if !value.is_string() {
                    wrong(problems)
                }
            }
            other => problems.push(format!("{at}: unknown shape type {other}")),
        }
    }
}

/// One call as the model describes it, and its answer.
struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

async fn call(
    runner: &Runner,
    method: &str,
    path: &str,
    target: Option<String>,
    body: &Value,
    headers: &[(&str, &str)],
) -> Answer {
    let client = reqwest::Client::new();
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = client.request(method.clone(), runner.invoke_url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    if method != reqwest::Method::GET {
        request = request.body(body.to_string());
    }
    if let Some(target) = target {
        request = request
            .header("x-amz-target", target)
            .header("content-type", "application/x-amz-json-1.1");
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    Answer {
        status,
        headers,
        body,
    }
}

/// A Lambda operation called at the model's method and URI (its `{}` filled from `params`,
/// a query appended); the model's success code expected and the body checked.
async fn lambda(
    runner: &Runner,
    model: &Model,
    name: &str,
    params: &[(&str, &str)],
    query: &str,
    input: Value,
) -> Answer {
    let operation = model.operation(name);
    let mut uri = operation["http"]["requestUri"]
        .as_str()
        .unwrap()
        .to_string();
    for (param, value) in params {
        uri = uri.replace(
            &format!("{{{param}}}"),
            &percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC)
                .to_string(),
        );
    }
    assert!(!uri.contains('{'), "{name}: unfilled {uri}");
    let mut problems = Vec::new();
    model.check(
        operation["input"]["shape"].as_str().unwrap(),
        &input,
        &format!("{name} input"),
        &mut problems,
    );
    assert_eq!(problems, Vec::<String>::new(), "the test's own request");
    let method = operation["http"]["method"].as_str().unwrap();
    let answer = call(runner, method, &format!("{uri}{query}"), None, &input, &[]).await;
    let expected = operation["http"]["responseCode"].as_u64().unwrap_or(200) as u16;
    assert_eq!(answer.status, expected, "{name}: {}", answer.body);
    let output = operation["output"]["shape"].as_str().unwrap();
    if model.shape(output).get("payload").is_none() {
        model.check(output, &answer.body, name, &mut problems);
    }
    assert_eq!(
        problems,
        Vec::<String>::new(),
        "{name} answered {}",
        answer.body
    );
    answer
}

/// A CodeDeploy operation: `POST /` with the model's target; the body checked.
async fn codedeploy(runner: &Runner, model: &Model, name: &str, input: Value) -> Answer {
    codedeploy_with(runner, model, name, input, &[]).await
}

/// As [`codedeploy`], with extra request headers (the runner's `x-redline-minute`).
async fn codedeploy_with(
    runner: &Runner,
    model: &Model,
    name: &str,
    input: Value,
    headers: &[(&str, &str)],
) -> Answer {
    let operation = model.operation(name);
    assert_eq!(
        (
            operation["http"]["method"].as_str(),
            operation["http"]["requestUri"].as_str()
        ),
        (Some("POST"), Some("/"))
    );
    let target = format!(
        "{}.{name}",
        model.0["metadata"]["targetPrefix"].as_str().unwrap()
    );
    let mut problems = Vec::new();
    model.check(
        operation["input"]["shape"].as_str().unwrap(),
        &input,
        &format!("{name} input"),
        &mut problems,
    );
    assert_eq!(problems, Vec::<String>::new(), "the test's own request");
    let answer = call(runner, "POST", "/", Some(target), &input, headers).await;
    if answer.status == 200 {
        model.check(
            operation["output"]["shape"].as_str().unwrap(),
            &answer.body,
            name,
            &mut problems,
        );
        assert_eq!(
            problems,
            Vec::<String>::new(),
            "{name} answered {}",
            answer.body
        );
    }
    answer
}

/// An error answer: a type the operation declares, its body the error shape's.
fn declared_error(model: &Model, name: &str, answer: &Answer, expected: &str) {
    let kind = answer
        .headers
        .get("x-amzn-errortype")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    assert_eq!(kind, expected, "{name}: {}", answer.body);
    let declared = model.operation(name)["errors"].as_array().unwrap();
    assert!(
        declared.iter().any(|e| e["shape"] == expected),
        "{name} does not declare {expected}"
    );
    let shape = model.shape(expected);
    let status = shape["error"]["httpStatusCode"].as_u64().unwrap_or(400) as u16;
    assert_eq!(answer.status, status, "{name} {expected}");
    let mut body = answer.body.clone();
    if let (Some(object), Some("json")) = (
        body.as_object_mut(),
        model.0["metadata"]["protocol"].as_str(),
    ) {
        // awsJson1.1 names the error in the body and carries its message beside it, whatever
        // the error shape declares (CodeDeploy's declare no members): protocol, not members.
        object.remove("__type");
        object.remove("message");
    }
    let mut problems = Vec::new();
    model.check(expected, &body, expected, &mut problems);
    assert_eq!(problems, Vec::<String>::new(), "{}", answer.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn every_operation_matches_botocores_models() {
    let (Some(lambda_model), Some(codedeploy_model)) = (
        load("lambda", "2015-03-31"),
        load("codedeploy", "2014-10-06"),
    ) else {
        eprintln!("skipped: botocore's models are not in .local/venv; run scripts/install-tools.sh (scripts/test.sh does)");
        return;
    };
    let (bins, binary) = marked_bins("A");
    let code_dir = Scratch::new("wire-code");
    write_marked(&code_dir.join("misbehave-d"), "D");
    let dir_arg = code_dir.to_string_lossy().into_owned();
    let runner = deploy_runner(
        &bins,
        json!({"PreTrafficHook": {"HOOK_STUB_OUTCOME": "silent"}}),
        &["--code-dir", &dir_arg, "--hook-timeout", "30"],
    );
    let model = &lambda_model;
    let function = [("FunctionName", FUNCTION)];
    let alias = [("FunctionName", FUNCTION), ("Name", "live")];

    write_marked(&binary, "B");
    let published = lambda(
        &runner,
        model,
        "PublishVersion",
        &function,
        "",
        json!({"Description": "wire"}),
    )
    .await;
    assert_eq!(published.body["Version"], "2");
    let listed = lambda(
        &runner,
        model,
        "ListVersionsByFunction",
        &function,
        "?MaxItems=2",
        json!({}),
    )
    .await;
    assert_eq!(listed.body["Versions"].as_array().unwrap().len(), 2);
    assert_eq!(
        listed.body["NextMarker"], "2",
        "a page of two, then the rest"
    );
    lambda(
        &runner,
        model,
        "ListVersionsByFunction",
        &function,
        "?Marker=2",
        json!({}),
    )
    .await;
    lambda(&runner, model, "GetAlias", &alias, "", json!({})).await;
    let weighted =
        json!({"FunctionVersion": "1", "RoutingConfig": {"AdditionalVersionWeights": {"2": 0.1}}});
    let updated = lambda(&runner, model, "UpdateAlias", &alias, "", weighted).await;
    assert_eq!(
        updated.body["RoutingConfig"]["AdditionalVersionWeights"]["2"],
        0.1
    );
    lambda(
        &runner,
        model,
        "UpdateAlias",
        &alias,
        "",
        json!({"RoutingConfig": {"AdditionalVersionWeights": {}}}),
    )
    .await;
    lambda(
        &runner,
        model,
        "UpdateFunctionCode",
        &function,
        "",
        json!({"S3Bucket": "local", "S3Key": "misbehave-d"}),
    )
    .await;
    let context = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        r#"{"custom":{"a":"b"}}"#,
    );
    let invoked = {
        let operation = model.operation("Invoke");
        let headers = &model.shape(operation["input"]["shape"].as_str().unwrap())["members"];
        assert_eq!(
            headers["ClientContext"]["locationName"],
            "X-Amz-Client-Context"
        );
        assert_eq!(headers["Qualifier"]["locationName"], "Qualifier");
        let uri = operation["http"]["requestUri"]
            .as_str()
            .unwrap()
            .replace("{FunctionName}", FUNCTION);
        reqwest::Client::new()
            .post(runner.invoke_url(&format!("{uri}?Qualifier=1")))
            .header("X-Amz-Client-Context", context)
            .body(r#"{"action":"context"}"#)
            .send()
            .await
            .unwrap()
    };
    assert_eq!(invoked.status(), 200);
    let output = model.shape(
        model.operation("Invoke")["output"]["shape"]
            .as_str()
            .unwrap(),
    );
    let executed_header = output["members"]["ExecutedVersion"]["locationName"]
        .as_str()
        .unwrap();
    assert_eq!(
        invoked.headers()[executed_header.to_ascii_lowercase().as_str()],
        "1"
    );
    let missing = lambda_error(
        &runner,
        model,
        "GetAlias",
        &[("FunctionName", FUNCTION), ("Name", "canary")],
    )
    .await;
    declared_error(model, "GetAlias", &missing, "ResourceNotFoundException");
    let bad = call(
        &runner,
        "PUT",
        &format!("/2015-03-31/functions/{FUNCTION}/aliases/live"),
        None,
        &json!({"RoutingConfig": {"AdditionalVersionWeights": {"2": 2.0}}}),
        &[],
    )
    .await;
    declared_error(model, "UpdateAlias", &bad, "InvalidParameterValueException");

    let model = &codedeploy_model;
    let appspec = format!("{{\"Resources\":[{{\"F\":{{\"Type\":\"AWS::Lambda::Function\",\"Properties\":{{\"Name\":\"{FUNCTION}\",\"Alias\":\"live\",\"CurrentVersion\":\"1\",\"TargetVersion\":\"2\"}}}}}}],\"Hooks\":[{{\"BeforeAllowTraffic\":\"{PRE_HOOK}\"}}]}}");
    let created = codedeploy(
        &runner,
        model,
        "CreateDeployment",
        json!({
            "applicationName": "redline-local",
            "deploymentGroupName": "MisbehaveFunction",
            "deploymentConfigName": "CodeDeployDefault.LambdaAllAtOnce",
            "description": "wire",
            "revision": {"revisionType": "AppSpecContent", "appSpecContent": {"content": appspec}},
        }),
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.body);
    let id = created.body["deploymentId"].as_str().unwrap().to_string();
    let deployment = json!({"deploymentId": id});
    // While the silent hook holds the deployment: in progress, then the test reports for it.
    let in_progress = codedeploy(&runner, model, "GetDeployment", deployment.clone()).await;
    assert_eq!(in_progress.status, 200);
    let execution = wait_for_execution(&runner).await;
    let targets = codedeploy(&runner, model, "ListDeploymentTargets", deployment.clone()).await;
    let target_id = targets.body["targetIds"][0].clone();
    let target = codedeploy(
        &runner,
        model,
        "GetDeploymentTarget",
        json!({"deploymentId": id, "targetId": target_id}),
    )
    .await;
    assert_eq!(
        target.body["deploymentTarget"]["lambdaTarget"]["lifecycleEvents"][0]["status"],
        "InProgress"
    );
    let report = json!({"deploymentId": id, "lifecycleEventHookExecutionId": execution, "status": "Succeeded"});
    let reported = codedeploy(
        &runner,
        model,
        "PutLifecycleEventHookExecutionStatus",
        report.clone(),
    )
    .await;
    assert_eq!(
        (
            reported.status,
            &reported.body["lifecycleEventHookExecutionId"]
        ),
        (200, &json!(execution))
    );
    let twice = codedeploy(
        &runner,
        model,
        "PutLifecycleEventHookExecutionStatus",
        report,
    )
    .await;
    declared_error(
        model,
        "PutLifecycleEventHookExecutionStatus",
        &twice,
        "LifecycleEventAlreadyCompletedException",
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let done = codedeploy(&runner, model, "GetDeployment", deployment.clone()).await;
        if done.body["deploymentInfo"]["status"] == "Succeeded" {
            assert!(done.body["deploymentInfo"]["completeTime"].is_number());
            break;
        }
        assert!(Instant::now() < deadline, "{}", done.body);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let target = codedeploy(
        &runner,
        model,
        "GetDeploymentTarget",
        json!({"deploymentId": id, "targetId": target_id}),
    )
    .await;
    assert_eq!(
        target.body["deploymentTarget"]["lambdaTarget"]["status"],
        "Succeeded"
    );
    let unknown = codedeploy(
        &runner,
        model,
        "GetDeployment",
        json!({"deploymentId": "d-UNKNOWN00"}),
    )
    .await;
    declared_error(
        model,
        "GetDeployment",
        &unknown,
        "DeploymentDoesNotExistException",
    );
    let refused = codedeploy(
        &runner,
        model,
        "CreateDeployment",
        json!({"applicationName": "redline-local"}),
    )
    .await;
    declared_error(
        model,
        "CreateDeployment",
        &refused,
        "RevisionRequiredException",
    );
    // Every operation the runner serves is one the models have, under the same name.
    for name in LAMBDA {
        lambda_model.operation(name);
    }
    for name in CODEDEPLOY {
        codedeploy_model.operation(name);
    }
}

async fn lambda_error(
    runner: &Runner,
    model: &Model,
    name: &str,
    params: &[(&str, &str)],
) -> Answer {
    let operation = model.operation(name);
    let mut uri = operation["http"]["requestUri"]
        .as_str()
        .unwrap()
        .to_string();
    for (param, value) in params {
        uri = uri.replace(&format!("{{{param}}}"), value);
    }
    call(
        runner,
        operation["http"]["method"].as_str().unwrap(),
        &uri,
        None,
        &json!({}),
        &[],
    )
    .await
}

/// The execution id the (silent) PreTraffic hook stub was invoked with.
async fn wait_for_execution(runner: &Runner) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let found = runner.log_text().lines().find_map(|line| {
            let document: Value = serde_json::from_str(line.strip_prefix("hook-stub: ")?).ok()?;
            Some(document["execution"].as_str()?.to_string())
        });
        if let Some(execution) = found {
            return execution;
        }
        assert!(
            Instant::now() < deadline,
            "the hook never ran:\n{}",
            runner.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The tools venv's Python, which has boto3 (through aws-sam-cli and moto).
fn venv_python() -> Option<PathBuf> {
    let python = repo_root().join(".local/venv/bin/python");
    python.is_file().then_some(python)
}

#[tokio::test(flavor = "multi_thread")]
async fn boto3_drives_every_operation() {
    let Some(python) = venv_python() else {
        eprintln!("skipped: no .local/venv; run scripts/install-tools.sh (scripts/test.sh does)");
        return;
    };
    let (bins, binary) = marked_bins("A");
    let code_dir = Scratch::new("boto3-code");
    write_marked(&code_dir.join("misbehave-d"), "D");
    let dir_arg = code_dir.to_string_lossy().into_owned();
    let runner = deploy_runner(
        &bins,
        json!({"PreTrafficHook": {"HOOK_STUB_OUTCOME": "silent"}}),
        &["--code-dir", &dir_arg],
    );
    write_marked(&binary, "B");
    let script = repo_root().join("tests/fixtures/runner/boto3_drive.py");
    let log = runner.log.to_string_lossy().into_owned();
    let endpoint = runner.endpoint();
    let output = tokio::process::Command::new(python)
        .arg(script)
        .args([
            endpoint.as_str(),
            FUNCTION,
            PRE_HOOK,
            "misbehave-d",
            log.as_str(),
        ])
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
    assert_eq!(
        seen,
        json!({
            "published": "2",
            "versions": ["$LATEST", "1", "2"],
            "alias": "1",
            "weights": {"2": 0.2},
            "code": "$LATEST",
            "invoke": {"executed": "2", "version": "2", "custom": {"via": "boto3"}},
            "reported": true,
            "status": "Succeeded",
            "complete_after_create": true,
            "events": [["BeforeAllowTraffic", "Succeeded"], ["AllowTraffic", "Succeeded"], ["AfterAllowTraffic", "Skipped"]],
            "target_version": "2",
            "live": "2",
        })
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn traffic_shifting_operations_match_botocores_model() {
    let Some(model) = load("codedeploy", "2014-10-06") else {
        eprintln!("skipped: botocore's models are not in .local/venv; run scripts/install-tools.sh (scripts/test.sh does)");
        return;
    };
    let model = &model;
    let env = TestEnv::new().await;
    let runner = deploy::runner(&env, "GreeterFunction", "greeter", "");
    let application = format!("{STACK}-ServerlessDeploymentApplication");
    let applications = codedeploy(&runner, model, "ListApplications", json!({})).await;
    assert_eq!(applications.body, json!({"applications": [application]}));
    let groups = codedeploy(
        &runner,
        model,
        "ListDeploymentGroups",
        json!({"applicationName": application}),
    )
    .await;
    // Every API function's, in the template's order; migrate, rotation and the hooks have none.
    assert_eq!(
        groups.body,
        json!({"applicationName": application, "deploymentGroups": [
            "redline-local-AuthFunctionDeploymentGroup",
            "redline-local-UsersFunctionDeploymentGroup",
            "redline-local-GreeterFunctionDeploymentGroup",
            "redline-local-HealthFunctionDeploymentGroup",
        ]})
    );
    let missing = codedeploy(
        &runner,
        model,
        "ListDeploymentGroups",
        json!({"applicationName": STACK}),
    )
    .await;
    declared_error(
        model,
        "ListDeploymentGroups",
        &missing,
        "ApplicationDoesNotExistException",
    );
    let group = codedeploy(
        &runner,
        model,
        "GetDeploymentGroup",
        json!({"applicationName": application, "deploymentGroupName": format!("{STACK}-GreeterFunctionDeploymentGroup")}),
    )
    .await;
    assert_eq!(group.status, 200, "{}", group.body);
    let info = &group.body["deploymentGroupInfo"];
    // The template's DeploymentType default, and its rollback alarms by their AlarmName.
    assert_eq!(
        info["deploymentConfigName"],
        "CodeDeployDefault.LambdaCanary10Percent5Minutes"
    );
    assert_eq!(
        info["alarmConfiguration"]["alarms"],
        json!([
            {"name": "redline-local-greeter-rollback-server-error-rate"},
            {"name": "redline-local-greeter-rollback-latency-p99"},
            {"name": "redline-local-greeter-rollback-invocation-errors"},
        ])
    );
    assert_eq!(info["alarmConfiguration"]["enabled"], true);
    assert_eq!(
        info["deploymentStyle"],
        json!({"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"})
    );
    assert_eq!(info["computePlatform"], "Lambda");
    let unknown = codedeploy(
        &runner,
        model,
        "GetDeploymentGroup",
        json!({"applicationName": application, "deploymentGroupName": format!("{STACK}-MigrateFunctionDeploymentGroup")}),
    )
    .await;
    declared_error(
        model,
        "GetDeploymentGroup",
        &unknown,
        "DeploymentGroupDoesNotExistException",
    );

    deploy::publish(&runner, "greeter").await;
    let create = json!({
        "applicationName": STACK,
        "deploymentGroupName": "greeter",
        "deploymentConfigName": "CodeDeployDefault.LambdaCanary10Percent30Minutes",
        "revision": {"revisionType": "AppSpecContent", "appSpecContent": {"content": deploy::appspec("greeter")}},
    });
    let refused = codedeploy_with(
        &runner,
        model,
        "CreateDeployment",
        create.clone(),
        &[("x-redline-minute", "0")],
    )
    .await;
    assert_eq!(
        (refused.status, refused.body["__type"].as_str()),
        (400, Some("InvalidInputException"))
    );
    let created = codedeploy_with(
        &runner,
        model,
        "CreateDeployment",
        create,
        &[("x-redline-minute", "300")],
    )
    .await;
    assert_eq!(created.status, 200, "{}", created.body);
    let id = created.body["deploymentId"].clone();
    for input in [
        json!({}),
        json!({"applicationName": STACK, "deploymentGroupName": "greeter", "includeOnlyStatuses": ["Created", "InProgress"]}),
    ] {
        let listed = codedeploy(&runner, model, "ListDeployments", input.clone()).await;
        assert_eq!(listed.status, 200, "{input}: {}", listed.body);
        assert_eq!(listed.body, json!({"deployments": [id]}), "{input}");
    }
    let finished_only = codedeploy(
        &runner,
        model,
        "ListDeployments",
        json!({"includeOnlyStatuses": ["Succeeded", "Failed"]}),
    )
    .await;
    assert_eq!(finished_only.body, json!({"deployments": []}));
    let half = codedeploy(
        &runner,
        model,
        "ListDeployments",
        json!({"deploymentGroupName": "greeter"}),
    )
    .await;
    declared_error(
        model,
        "ListDeployments",
        &half,
        "ApplicationNameRequiredException",
    );
    let stop = json!({"deploymentId": id, "autoRollbackEnabled": true});
    let stopped = codedeploy(&runner, model, "StopDeployment", stop.clone()).await;
    assert_eq!(
        (stopped.status, &stopped.body["status"]),
        (200, &json!("Succeeded")),
        "{}",
        stopped.body
    );
    let again = codedeploy(&runner, model, "StopDeployment", stop).await;
    declared_error(
        model,
        "StopDeployment",
        &again,
        "DeploymentAlreadyCompletedException",
    );
    let info = codedeploy(&runner, model, "GetDeployment", json!({"deploymentId": id})).await;
    assert_eq!(info.body["deploymentInfo"]["status"], "Stopped");
    assert_eq!(
        info.body["deploymentInfo"]["errorInformation"]["code"],
        "MANUAL_STOP"
    );
    let target = codedeploy(
        &runner,
        model,
        "GetDeploymentTarget",
        json!({"deploymentId": id, "targetId": format!("{STACK}-greeter:live")}),
    )
    .await;
    assert_eq!(
        target.body["deploymentTarget"]["lambdaTarget"]["lambdaFunctionInfo"]
            ["targetVersionWeight"],
        0.0
    );
    let stopped_only = codedeploy(
        &runner,
        model,
        "ListDeployments",
        json!({"applicationName": STACK, "deploymentGroupName": "greeter", "includeOnlyStatuses": ["Stopped"]}),
    )
    .await;
    assert_eq!(stopped_only.body, json!({"deployments": [id]}));
}
