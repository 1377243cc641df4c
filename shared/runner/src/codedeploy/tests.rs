//! The CodeDeploy service through its operations, with functions that are never invoked
//! (AppSpecs without hooks) and a test-only [`RollbackWatch`]: a deployment group's alarms are
//! what the watch is asked about, an alarm or an alarm that cannot be evaluated rolls the alias
//! back, a stop ends a deployment at once, and the minute header sets the pace.

use super::deployment::{ALARM_ACTIVE, ALARM_CONFIG, MANUAL_STOP};
use super::groups::{DeploymentGroup, DeploymentGroups};
use super::watch::{NoAlarms, Question, RollbackWatch, Verdict};
use super::*;
use crate::functions::{scratch_function, LIVE};
use std::time::Instant;

const APPLICATION: &str = "redline-local-ServerlessDeploymentApplication";
const GROUP: &str = "redline-local-HealthFunctionDeploymentGroup";

/// A question as asked: function, version, alarms, minute.
type Asked = (String, String, Vec<String>, Duration);

/// A watch that records every question and answers with what the test set.
#[derive(Default)]
struct Scripted {
    asked: Mutex<Vec<Asked>>,
    answer: Mutex<Option<Verdict>>,
}

impl RollbackWatch for Scripted {
    fn check(&self, question: &Question<'_>) -> Verdict {
        self.asked.lock().unwrap().push((
            question.function.to_string(),
            question.version.to_string(),
            question.alarms.to_vec(),
            question.minute,
        ));
        self.answer
            .lock()
            .unwrap()
            .clone()
            .unwrap_or(Verdict::Quiet)
    }
}

fn service(watch: Arc<dyn RollbackWatch>) -> (CodeDeploy, Arc<crate::functions::Function>) {
    let function = scratch_function("HealthFunction", &[b"one", b"two"]);
    let groups = DeploymentGroups {
        application: APPLICATION.into(),
        groups: vec![DeploymentGroup {
            application: APPLICATION.into(),
            name: GROUP.into(),
            id: "group-id".into(),
            function: "HealthFunction".into(),
            config_name: "CodeDeployDefault.LambdaCanary10Percent5Minutes".into(),
            alarms: vec!["health-errors".into(), "health-latency".into()],
        }],
    };
    let functions = Arc::new(Functions::new(vec![function.clone()]));
    let service = CodeDeploy::new(functions, Duration::from_secs(5), groups, watch);
    (service, function)
}

fn call(service: &CodeDeploy, operation: &str, minute: Option<&str>, input: Value) -> Value {
    let headers: Vec<(String, String)> = minute
        .map(|m| vec![(minute::HEADER.to_string(), m.to_string())])
        .unwrap_or_default();
    let response = service.serve(operation, &headers, &Bytes::from(input.to_string()));
    let body: Value = serde_json::from_slice(&response.body).unwrap();
    assert!(
        response.status == 200 || body["__type"].is_string(),
        "{body}"
    );
    body
}

fn create(service: &CodeDeploy, group: &str, config: Option<&str>, minute: &str) -> Value {
    let appspec = json!({"Resources": [{"F": {"Type": "AWS::Lambda::Function", "Properties": {
        "Name": "redline-local-healthfunction", "Alias": "live",
        "CurrentVersion": "1", "TargetVersion": "2"}}}]});
    let mut input = json!({
        "applicationName": APPLICATION,
        "deploymentGroupName": group,
        "revision": {"revisionType": "AppSpecContent", "appSpecContent": {"content": appspec.to_string()}},
    });
    if let Some(config) = config {
        input["deploymentConfigName"] = json!(config);
    }
    call(service, "CreateDeployment", Some(minute), input)
}

/// Polls `GetDeployment` until it is over (bounded), returning the info.
async fn finished(service: &CodeDeploy, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let info = call(service, "GetDeployment", None, json!({"deploymentId": id}))
            ["deploymentInfo"]
            .clone();
        if !matches!(info["status"].as_str(), Some("Created" | "InProgress")) {
            return info;
        }
        assert!(Instant::now() < deadline, "{info}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_alarm_rolls_a_canary_back_and_the_watch_is_asked_about_the_groups_alarms() {
    let watch = Arc::new(Scripted::default());
    *watch.answer.lock().unwrap() = Some(Verdict::Alarm("health-errors".into()));
    let (service, function) = service(watch.clone());
    // The group's own configuration, a canary, since the call names none.
    let id = create(&service, GROUP, None, "50")["deploymentId"]
        .as_str()
        .unwrap()
        .to_string();
    let info = finished(&service, &id).await;
    assert_eq!(
        info["deploymentConfigName"],
        "CodeDeployDefault.LambdaCanary10Percent5Minutes"
    );
    assert_eq!(info["status"], "Stopped", "{info}");
    assert_eq!(info["errorInformation"]["code"], ALARM_ACTIVE);
    assert!(info["errorInformation"]["message"]
        .as_str()
        .unwrap()
        .contains("health-errors"));
    assert!(info["rollbackInfo"]["rollbackMessage"].is_string());
    let alias = function.alias(LIVE).unwrap();
    assert_eq!((alias.version.as_str(), alias.weights.len()), ("1", 0));
    let asked = watch.asked.lock().unwrap().clone();
    assert_eq!(
        asked[0],
        (
            "HealthFunction".to_string(),
            "2".to_string(),
            vec!["health-errors".to_string(), "health-latency".to_string()],
            Duration::from_millis(50)
        )
    );
    // Asked right after the first shift: the canary never reached 100 %.
    assert_eq!(asked.len(), 1);
    let target = call(
        &service,
        "GetDeploymentTarget",
        None,
        json!({"deploymentId": id, "targetId": "redline-local-healthfunction:live"}),
    );
    let lambda = &target["deploymentTarget"]["lambdaTarget"];
    assert_eq!(lambda["lambdaFunctionInfo"]["targetVersionWeight"], 0.0);
    assert_eq!(lambda["lifecycleEvents"][1]["status"], "Failed");
    assert_eq!(lambda["lifecycleEvents"][2]["status"], "Skipped");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_alarm_that_cannot_be_evaluated_fails_the_deployment_naming_it() {
    let watch = Arc::new(Scripted::default());
    let (service, function) = service(watch.clone());
    let id = create(
        &service,
        GROUP,
        Some("CodeDeployDefault.LambdaLinear10PercentEvery1Minute"),
        "1000",
    )["deploymentId"]
        .as_str()
        .unwrap()
        .to_string();
    // Quiet for a while (the deployment moves on), then unevaluable.
    let deadline = Instant::now() + Duration::from_secs(10);
    while function.alias(LIVE).unwrap().weights.get("2") < Some(&0.2) {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    *watch.answer.lock().unwrap() = Some(Verdict::Unevaluable {
        alarm: "health-latency".into(),
        reason: "p99 of a metric the runner does not keep".into(),
    });
    let info = finished(&service, &id).await;
    assert_eq!(info["status"], "Failed", "{info}");
    assert_eq!(info["errorInformation"]["code"], ALARM_CONFIG);
    let message = info["errorInformation"]["message"].as_str().unwrap();
    assert!(
        message.contains("health-latency") && message.contains("p99 of a metric"),
        "{message}"
    );
    assert_eq!(function.alias(LIVE).unwrap().version, "1");
    // Polled during the waits, more than once per shift.
    assert!(watch.asked.lock().unwrap().len() > 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_quiet_linear_deployment_ends_on_the_target_and_other_groups_have_no_alarms() {
    let watch = Arc::new(Scripted::default());
    let (service, function) = service(watch.clone());
    let id = create(
        &service,
        "any-group",
        Some("CodeDeployDefault.LambdaLinear10PercentEvery1Minute"),
        "10",
    )["deploymentId"]
        .as_str()
        .unwrap()
        .to_string();
    let info = finished(&service, &id).await;
    assert_eq!(info["status"], "Succeeded", "{info}");
    let alias = function.alias(LIVE).unwrap();
    assert_eq!((alias.version.as_str(), alias.weights.len()), ("2", 0));
    assert!(
        watch.asked.lock().unwrap().is_empty(),
        "no alarms outside the template's groups"
    );
    let listed = call(&service, "ListDeployments", None, json!({}));
    assert_eq!(listed, json!({"deployments": [id]}));
    let group = call(
        &service,
        "GetDeploymentGroup",
        None,
        json!({"applicationName": APPLICATION, "deploymentGroupName": GROUP}),
    );
    assert!(group["deploymentGroupInfo"]
        .get("lastSuccessfulDeployment")
        .is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stop_ends_a_canary_at_once_and_a_finished_deployment_cannot_be_stopped() {
    let (service, function) = service(Arc::new(NoAlarms));
    // A minute of a minute: the canary waits five of them unless stopped.
    let id = create(&service, GROUP, None, "60000")["deploymentId"]
        .as_str()
        .unwrap()
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    while function.alias(LIVE).unwrap().weights.is_empty() {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let stopped = call(
        &service,
        "StopDeployment",
        None,
        json!({"deploymentId": id}),
    );
    assert_eq!(stopped["status"], "Succeeded", "{stopped}");
    let info = call(&service, "GetDeployment", None, json!({"deploymentId": id}))["deploymentInfo"]
        .clone();
    assert_eq!(info["status"], "Stopped");
    assert_eq!(info["errorInformation"]["code"], MANUAL_STOP);
    let alias = function.alias(LIVE).unwrap();
    assert_eq!((alias.version.as_str(), alias.weights.len()), ("1", 0));
    let again = call(
        &service,
        "StopDeployment",
        None,
        json!({"deploymentId": id}),
    );
    assert_eq!(again["__type"], "DeploymentAlreadyCompletedException");
    let group = call(
        &service,
        "GetDeploymentGroup",
        None,
        json!({"applicationName": APPLICATION, "deploymentGroupName": GROUP}),
    )["deploymentGroupInfo"]
        .clone();
    assert_eq!(group["lastAttemptedDeployment"]["deploymentId"], json!(id));
    assert_eq!(group["lastAttemptedDeployment"]["status"], "Stopped");
    for (input, kind) in [
        (json!({"includeOnlyStatuses": ["Stopped"]}), None),
        (json!({"includeOnlyStatuses": ["Succeeded", "Ready"]}), None),
        (
            json!({"includeOnlyStatuses": ["Sleeping"]}),
            Some("InvalidDeploymentStatusException"),
        ),
        (
            json!({"applicationName": APPLICATION}),
            Some("DeploymentGroupNameRequiredException"),
        ),
        (
            json!({"applicationName": "nothing", "deploymentGroupName": GROUP}),
            Some("ApplicationDoesNotExistException"),
        ),
    ] {
        let answer = call(&service, "ListDeployments", None, input.clone());
        assert_eq!(answer["__type"].as_str(), kind, "{input}: {answer}");
    }
    let stopped_only = call(
        &service,
        "ListDeployments",
        None,
        json!({"applicationName": APPLICATION, "deploymentGroupName": GROUP, "includeOnlyStatuses": ["Stopped"]}),
    );
    assert_eq!(stopped_only["deployments"], json!([id]));
    let none = call(
        &service,
        "ListDeployments",
        None,
        json!({"includeOnlyStatuses": ["Succeeded"]}),
    );
    assert_eq!(none["deployments"], json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_groups_and_absurd_minutes_are_refused() {
    let (service, _) = service(Arc::new(NoAlarms));
    for minute in ["0", "5", "86400000", "a minute"] {
        let refused = create(&service, GROUP, None, minute);
        assert_eq!(refused["__type"], "InvalidInputException", "{minute}");
    }
    let unknown = call(
        &service,
        "GetDeploymentGroup",
        None,
        json!({"applicationName": APPLICATION, "deploymentGroupName": "redline-local-NoFunctionDeploymentGroup"}),
    );
    assert_eq!(unknown["__type"], "DeploymentGroupDoesNotExistException");
    let unknown = call(
        &service,
        "GetDeploymentGroup",
        None,
        json!({"applicationName": "redline-local", "deploymentGroupName": GROUP}),
    );
    assert_eq!(unknown["__type"], "ApplicationDoesNotExistException");
    let group = call(
        &service,
        "GetDeploymentGroup",
        None,
        json!({"applicationName": APPLICATION, "deploymentGroupName": GROUP}),
    )["deploymentGroupInfo"]
        .clone();
    assert_eq!(
        group["alarmConfiguration"],
        json!({"enabled": true, "ignorePollAlarmFailure": false,
            "alarms": [{"name": "health-errors"}, {"name": "health-latency"}]})
    );
    assert_eq!(
        call(&service, "ListApplications", None, json!({})),
        json!({"applications": [APPLICATION]})
    );
    assert_eq!(
        call(
            &service,
            "ListDeploymentGroups",
            None,
            json!({"applicationName": APPLICATION})
        ),
        json!({"applicationName": APPLICATION, "deploymentGroups": [GROUP]})
    );
    let unknown = call(
        &service,
        "ListDeploymentGroups",
        None,
        json!({"applicationName": "redline-local"}),
    );
    assert_eq!(unknown["__type"], "ApplicationDoesNotExistException");
    assert_eq!(group["deploymentStyle"]["deploymentType"], "BLUE_GREEN");
    assert_eq!(group["computePlatform"], "Lambda");
    assert!(changes("StopDeployment"));
    for read in [
        "ListDeployments",
        "GetDeploymentGroup",
        "ListApplications",
        "ListDeploymentGroups",
    ] {
        assert!(!changes(read), "{read}");
    }
}

// The wire: operations by target header, errors in body and header.

fn request(method: &str, path: &str, target: Option<&str>) -> HttpRequest {
    HttpRequest {
        method: method.into(),
        path: path.into(),
        query: String::new(),
        headers: target
            .map(|t| vec![("x-amz-target".to_string(), t.to_string())])
            .unwrap_or_default(),
        body: Bytes::new(),
        source_ip: "127.0.0.1".into(),
    }
}

#[test]
fn operations_are_told_by_the_target_header_on_post_slash() {
    let target = Some("CodeDeploy_20141006.GetDeployment");
    assert_eq!(
        operation(&request("POST", "/", target)).as_deref(),
        Some("GetDeployment")
    );
    assert_eq!(operation(&request("GET", "/", target)), None);
    assert_eq!(operation(&request("POST", "/x", target)), None);
    assert_eq!(
        operation(&request("POST", "/", Some("Lambda.Invoke"))),
        None
    );
    assert!(changes("CreateDeployment") && changes("PutLifecycleEventHookExecutionStatus"));
    assert!(!changes("GetDeploymentTarget"));
}

#[test]
fn errors_name_their_type_in_the_body_and_the_header() {
    let response = error(refuse("DeploymentDoesNotExistException", "no"));
    assert_eq!(response.status, 400);
    let body: Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(body["__type"], "DeploymentDoesNotExistException");
    assert!(response
        .headers
        .contains(&("content-type".into(), CONTENT_TYPE.into())));
}
