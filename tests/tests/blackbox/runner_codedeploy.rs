//! The runner playing CodeDeploy, black box: `CreateDeployment` with a Lambda AppSpec through
//! the Rust SDK, the AllAtOnce flow with a stand-in hook (`hook_stub`, itself a function under
//! the runner that asks CodeDeploy what is deployed, invokes it and reports through the SDK),
//! `live` flipped on success and rolled back when a hook reports `Failed` or nothing in time.

use super::runner_versions::{
    deploy_runner, marked_bins, write_marked, Scratch, FUNCTION, PRE_HOOK,
};
use aws_sdk_codedeploy::error::ProvideErrorMetadata;
use aws_sdk_codedeploy::types::{
    AppSpecContent, DeploymentInfo, DeploymentStatus, LambdaTarget, LifecycleEventStatus,
    RevisionLocation, RevisionLocationType,
};
use redline_tests::runner::Runner;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const POST_HOOK: &str = "CodeDeployHook_redline-local-PostTraffic";

fn appspec_yaml(current: &str, target: &str) -> String {
    format!(
        "version: 0.0
Resources:
  - MisbehaveFunction:
      Type: AWS::Lambda::Function
      Properties:
        Name: {FUNCTION}
        Alias: live
        CurrentVersion: {current}
        TargetVersion: {target}
Hooks:
  - BeforeAllowTraffic: {PRE_HOOK}
  - AfterAllowTraffic: {POST_HOOK}
"
    )
}

/// The AppSpec as SAM writes it: JSON, the function by ARN.
fn appspec_json(current: &str, target: &str) -> String {
    json!({
        "version": 0.0,
        "Resources": [{"MisbehaveFunction": {"Type": "AWS::Lambda::Function", "Properties": {
            "Name": format!("arn:aws:lambda:us-east-1:123456789012:function:{FUNCTION}"),
            "Alias": "live", "CurrentVersion": current, "TargetVersion": target}}}],
        "Hooks": [{"BeforeAllowTraffic": PRE_HOOK}, {"AfterAllowTraffic": POST_HOOK}],
    })
    .to_string()
}

/// A runner with version 2 (mark B) published beside version 1 (mark A, `live`), and its
/// `--bin-dir` (removed when dropped).
async fn runner_with_version_2(hooks: Value, extra: &[&str]) -> (Runner, Scratch) {
    let (bins, binary) = marked_bins("A");
    let runner = deploy_runner(&bins, hooks, extra);
    write_marked(&binary, "B");
    let published = runner
        .lambda()
        .publish_version()
        .function_name(FUNCTION)
        .send()
        .await
        .unwrap();
    assert_eq!(published.version(), Some("2"));
    (runner, bins)
}

async fn create(runner: &Runner, appspec: String, config: Option<&str>) -> Result<String, String> {
    runner
        .codedeploy()
        .create_deployment()
        .application_name("redline-local")
        .deployment_group_name("MisbehaveFunction")
        .set_deployment_config_name(config.map(str::to_string))
        .revision(
            RevisionLocation::builder()
                .revision_type(RevisionLocationType::AppSpecContent)
                .app_spec_content(AppSpecContent::builder().content(appspec).build())
                .build(),
        )
        .send()
        .await
        .map(|output| output.deployment_id().unwrap_or_default().to_string())
        .map_err(|e| e.code().unwrap_or("none").to_string())
}

/// Polls `GetDeployment` until the deployment is over (bounded).
async fn finished(runner: &Runner, id: &str) -> DeploymentInfo {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let output = runner
            .codedeploy()
            .get_deployment()
            .deployment_id(id)
            .send()
            .await
            .unwrap();
        let info = output.deployment_info().unwrap().clone();
        if matches!(
            info.status(),
            Some(DeploymentStatus::Succeeded | DeploymentStatus::Failed)
        ) {
            return info;
        }
        assert!(
            Instant::now() < deadline,
            "{id} still {:?}:\n{}",
            info.status(),
            runner.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn target(runner: &Runner, id: &str) -> LambdaTarget {
    let client = runner.codedeploy();
    let targets = client
        .list_deployment_targets()
        .deployment_id(id)
        .send()
        .await
        .unwrap();
    assert_eq!(targets.target_ids(), [format!("{FUNCTION}:live")]);
    let target = client
        .get_deployment_target()
        .deployment_id(id)
        .target_id(&targets.target_ids()[0])
        .send()
        .await
        .unwrap();
    target
        .deployment_target()
        .unwrap()
        .lambda_target()
        .unwrap()
        .clone()
}

fn events(target: &LambdaTarget) -> Vec<(String, String)> {
    target
        .lifecycle_events()
        .iter()
        .map(|e| {
            (
                e.lifecycle_event_name().unwrap_or_default().to_string(),
                e.status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
            )
        })
        .collect()
}

fn expected(statuses: [&str; 3]) -> Vec<(String, String)> {
    ["BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic"]
        .iter()
        .zip(statuses)
        .map(|(name, status)| (name.to_string(), status.to_string()))
        .collect()
}

/// What the hook stub printed, one document per invocation.
fn hook_lines(runner: &Runner) -> Vec<Value> {
    runner
        .log_text()
        .lines()
        .filter_map(|line| line.strip_prefix("hook-stub: "))
        .map(|line| serde_json::from_str(line).unwrap())
        .collect()
}

async fn live(runner: &Runner) -> String {
    let alias = runner
        .lambda()
        .get_alias()
        .function_name(FUNCTION)
        .name("live")
        .send()
        .await
        .unwrap();
    assert_eq!(alias.routing_config(), None, "no weights left behind");
    alias.function_version().unwrap_or_default().to_string()
}

async fn api_version(runner: &Runner) -> Value {
    let (status, body) = runner
        .call(
            &reqwest::Client::new(),
            reqwest::Method::GET,
            "/misbehave/context",
            None,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    body["version"].clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn all_at_once_runs_the_hooks_and_moves_live_to_the_target() {
    let (runner, _bins) = runner_with_version_2(json!({}), &[]).await;
    assert_eq!(api_version(&runner).await, "1");
    let appspec = appspec_yaml("1", "2");
    let id = create(&runner, appspec.clone(), None).await.unwrap();
    assert!(id.starts_with("d-") && id.len() == 11, "{id}");
    let info = finished(&runner, &id).await;
    assert_eq!(
        info.status(),
        Some(&DeploymentStatus::Succeeded),
        "{info:?}\n{}",
        runner.log_text()
    );
    assert_eq!(
        info.deployment_config_name(),
        Some("CodeDeployDefault.LambdaAllAtOnce")
    );
    assert_eq!(info.application_name(), Some("redline-local"));
    assert_eq!(info.deployment_group_name(), Some("MisbehaveFunction"));
    assert_eq!(info.error_information(), None);
    let content = info
        .revision()
        .and_then(|r| r.app_spec_content())
        .and_then(|c| c.content());
    assert_eq!(content, Some(appspec.as_str()));
    assert!(info.create_time().unwrap() <= info.start_time().unwrap());
    assert!(info.start_time().unwrap() <= info.complete_time().unwrap());
    let target = target(&runner, &id).await;
    assert_eq!(events(&target), expected(["Succeeded"; 3]));
    let function = target.lambda_function_info().unwrap();
    assert_eq!(
        (
            function.function_name(),
            function.function_alias(),
            function.current_version(),
            function.target_version(),
            function.target_version_weight()
        ),
        (Some(FUNCTION), Some("live"), Some("1"), Some("2"), 1.0)
    );
    assert_eq!(live(&runner).await, "2");
    assert_eq!(api_version(&runner).await, "2");
    // The hooks saw the deployment as CodeDeploy describes it, and reached the right version:
    // PreTraffic the exact target before any traffic moved, PostTraffic the alias after.
    let hooks = hook_lines(&runner);
    assert_eq!(hooks.len(), 2, "{hooks:?}");
    let (pre, post) = (&hooks[0], &hooks[1]);
    assert_eq!(
        (
            &pre["event"],
            &pre["status"],
            &pre["current"],
            &pre["target_version"],
            &pre["weight"]
        ),
        (
            &json!("BeforeAllowTraffic"),
            &json!("InProgress"),
            &json!("1"),
            &json!("2"),
            &json!(0.0)
        )
    );
    assert_eq!(
        (&pre["executed_version"], &pre["answered_version"]),
        (&json!("2"), &json!("2"))
    );
    assert_eq!(pre["client_context"]["custom"]["from"], "hook-stub");
    assert_eq!(
        (
            &post["event"],
            &post["weight"],
            &post["executed_version"],
            &post["answered_version"]
        ),
        (
            &json!("AfterAllowTraffic"),
            &json!(1.0),
            &json!("2"),
            &json!("2")
        )
    );
    assert_eq!(runner.log_text().matches("reported Succeeded").count(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pre_traffic_hook_that_fails_leaves_live_where_it_was() {
    let (runner, _bins) = runner_with_version_2(
        json!({"PreTrafficHook": {"HOOK_STUB_OUTCOME": "Failed"}}),
        &[],
    )
    .await;
    let id = create(&runner, appspec_json("1", "2"), None).await.unwrap();
    let info = finished(&runner, &id).await;
    assert_eq!(info.status(), Some(&DeploymentStatus::Failed));
    let error = info.error_information().unwrap();
    assert_eq!(
        error.code().map(|c| c.as_str()),
        Some("HOOK_EXECUTION_FAILURE")
    );
    assert!(
        error.message().unwrap().contains("BeforeAllowTraffic"),
        "{error:?}"
    );
    assert!(info
        .rollback_info()
        .and_then(|r| r.rollback_message())
        .is_some());
    let target = target(&runner, &id).await;
    assert_eq!(events(&target), expected(["Failed", "Skipped", "Skipped"]));
    assert_eq!(live(&runner).await, "1");
    assert_eq!(api_version(&runner).await, "1");
    assert_eq!(
        hook_lines(&runner).len(),
        1,
        "the PostTraffic hook never ran"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_post_traffic_hook_that_fails_rolls_live_back() {
    let (runner, _bins) = runner_with_version_2(
        json!({"PostTrafficHook": {"HOOK_STUB_OUTCOME": "Failed"}}),
        &[],
    )
    .await;
    let id = create(&runner, appspec_yaml("1", "2"), None).await.unwrap();
    let info = finished(&runner, &id).await;
    assert_eq!(info.status(), Some(&DeploymentStatus::Failed));
    assert!(info
        .error_information()
        .unwrap()
        .message()
        .unwrap()
        .contains("AfterAllowTraffic"));
    let target = target(&runner, &id).await;
    assert_eq!(
        events(&target),
        expected(["Succeeded", "Succeeded", "Failed"])
    );
    assert_eq!(target.status().map(|s| s.as_str()), Some("Failed"));
    let hooks = hook_lines(&runner);
    assert_eq!(
        hooks[1]["executed_version"], "2",
        "live had moved when PostTraffic ran"
    );
    assert_eq!(live(&runner).await, "1", "and moved back");
    assert_eq!(api_version(&runner).await, "1");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hook_that_never_reports_times_out_and_rolls_back() {
    let (runner, _bins) = runner_with_version_2(
        json!({"PreTrafficHook": {"HOOK_STUB_OUTCOME": "silent"}}),
        &["--hook-timeout", "2"],
    )
    .await;
    let started = Instant::now();
    let id = create(&runner, appspec_yaml("1", "2"), None).await.unwrap();
    // One deployment of an alias at a time.
    assert_eq!(
        create(&runner, appspec_yaml("1", "2"), None).await,
        Err("DeploymentLimitExceededException".into())
    );
    let info = finished(&runner, &id).await;
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(2) && waited < Duration::from_secs(10),
        "{waited:?}"
    );
    assert_eq!(info.status(), Some(&DeploymentStatus::Failed));
    assert_eq!(
        info.error_information().unwrap().code().map(|c| c.as_str()),
        Some("TIMEOUT")
    );
    let target = target(&runner, &id).await;
    assert_eq!(events(&target), expected(["Failed", "Skipped", "Skipped"]));
    assert_eq!(live(&runner).await, "1");
    assert_eq!(hook_lines(&runner)[0]["outcome"], "silent");
    let client = runner.codedeploy();
    let refused = client
        .put_lifecycle_event_hook_execution_status()
        .deployment_id(&id)
        .lifecycle_event_hook_execution_id("not-an-execution")
        .status(LifecycleEventStatus::Succeeded)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        refused.code(),
        Some("InvalidLifecycleEventHookExecutionIdException")
    );
    let refused = client
        .put_lifecycle_event_hook_execution_status()
        .deployment_id(&id)
        .lifecycle_event_hook_execution_id("x")
        .status(LifecycleEventStatus::Pending)
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        refused.code(),
        Some("InvalidLifecycleEventHookExecutionStatusException")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn deployments_that_cannot_be_played_are_refused_with_codedeploys_errors() {
    let (runner, _bins) = runner_with_version_2(json!({}), &[]).await;
    for (appspec, config, code) in [
        (appspec_yaml("2", "1"), None, "InvalidRevisionException"),
        (appspec_yaml("1", "9"), None, "InvalidRevisionException"),
        (
            appspec_yaml("1", "2").replace(FUNCTION, "redline-local-nothing"),
            None,
            "InvalidRevisionException",
        ),
        ("Resources: [".to_string(), None, "InvalidRevisionException"),
        (
            appspec_yaml("1", "2"),
            Some("CodeDeployDefault.LambdaSometimes"),
            "DeploymentConfigDoesNotExistException",
        ),
    ] {
        assert_eq!(
            create(&runner, appspec.clone(), config).await,
            Err(code.to_string()),
            "{appspec} {config:?}"
        );
    }
    let client = runner.codedeploy();
    let missing = client
        .get_deployment()
        .deployment_id("d-NOTHING00")
        .send()
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Some("DeploymentDoesNotExistException"));
    let id = create(&runner, appspec_yaml("1", "2"), None).await.unwrap();
    let wrong = client
        .get_deployment_target()
        .deployment_id(&id)
        .target_id("redline-local-other:live")
        .send()
        .await
        .unwrap_err();
    assert_eq!(wrong.code(), Some("DeploymentTargetDoesNotExistException"));
    finished(&runner, &id).await;
    assert_eq!(live(&runner).await, "2");
}
