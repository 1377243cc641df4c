//! An alias CodeDeploy is shifting, on the runner: the PreTraffic stand-in never reports, so an
//! AllAtOnce deployment of version 2 stays in flight for the runner's `--hook-timeout`.
//! Finding it takes the runner's `ListDeployments`, stopping it `StopDeployment`: both come
//! with the runner-traffic branch.

use aws_sdk_codedeploy::types::{AppSpecContent, RevisionLocation, RevisionLocationType};
use redline_tests::ops::{alias, run, LocalStack, LOCAL_STACK};
use serde_json::json;

/// Starts an AllAtOnce deployment of auth 1 → 2 as SAM would, and returns its id.
async fn deployment_in_flight(stack: &LocalStack) -> String {
    assert_eq!(stack.publish("auth", "second").await, "2");
    let appspec = json!({"version": 0.0,
        "Resources": [{"AuthFunction": {"Type": "AWS::Lambda::Function", "Properties": {
            "Name": format!("{LOCAL_STACK}-auth"), "Alias": "live",
            "CurrentVersion": "1", "TargetVersion": "2"}}}],
        "Hooks": [
            {"BeforeAllowTraffic": format!("CodeDeployHook_{LOCAL_STACK}-pre-traffic")},
            {"AfterAllowTraffic": format!("CodeDeployHook_{LOCAL_STACK}-post-traffic")}]});
    stack
        .runner
        .codedeploy()
        .create_deployment()
        .application_name(format!("{LOCAL_STACK}-ServerlessDeploymentApplication"))
        .deployment_group_name(format!("{LOCAL_STACK}-AuthFunctionDeploymentGroup"))
        .deployment_config_name("CodeDeployDefault.LambdaAllAtOnce")
        .revision(
            RevisionLocation::builder()
                .revision_type(RevisionLocationType::AppSpecContent)
                .app_spec_content(
                    AppSpecContent::builder()
                        .content(appspec.to_string())
                        .build(),
                )
                .build(),
        )
        .send()
        .await
        .expect("the deployment starts")
        .deployment_id()
        .unwrap()
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_alias_codedeploy_is_shifting_is_refused_with_the_reason() {
    let stack = LocalStack::start("silent", &[]);
    let endpoint = stack.endpoint();
    let id = deployment_in_flight(&stack).await;
    let status = run(
        &endpoint,
        &[
            "status",
            "--stack",
            LOCAL_STACK,
            "--function",
            "auth",
            "--json",
        ],
    );
    assert_eq!(status.code, 0, "{status:?}");
    let auth = &status.json()["functions"][0];
    assert_eq!(auth["deployment"]["id"], id.as_str());
    assert_eq!(auth["deployment"]["type"], "AllAtOnce");
    assert_eq!(auth["drift"], false);
    for args in [
        &[
            "shift",
            "--function",
            "auth",
            "--to",
            "2",
            "--weight",
            "0.5",
            "--json",
        ][..],
        &["promote", "--function", "auth", "--json"],
        &["rollback", "--function", "auth", "--to", "1", "--json"],
    ] {
        let mut args = args.to_vec();
        args.extend(["--stack", LOCAL_STACK]);
        let answer = run(&endpoint, &args);
        assert_eq!(answer.code, 1, "{args:?}: {answer:?}");
        let function = &answer.json()["functions"][0];
        assert_eq!(function["reason"], "deployment-in-flight", "{args:?}");
        assert!(
            function["message"].as_str().unwrap().contains(&id),
            "{function}"
        );
    }
    assert_eq!(
        alias(&endpoint, &format!("{LOCAL_STACK}-auth")).await,
        ("1".into(), vec![])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn rollback_stops_a_deployment_in_flight_through_codedeploy() {
    let stack = LocalStack::start("silent", &[]);
    let endpoint = stack.endpoint();
    let id = deployment_in_flight(&stack).await;
    let answer = run(
        &endpoint,
        &[
            "rollback",
            "--stack",
            LOCAL_STACK,
            "--function",
            "auth",
            "--json",
        ],
    );
    assert_eq!(answer.code, 0, "{answer:?}");
    let auth = &answer.json()["functions"][0];
    assert_eq!(auth["outcome"], "rolled-back");
    assert_eq!(auth["deployment"], id.as_str());
    assert_eq!(auth["live"]["version"], "1");
    let info = stack
        .runner
        .codedeploy()
        .get_deployment()
        .deployment_id(&id)
        .send()
        .await
        .unwrap();
    let status = info
        .deployment_info()
        .and_then(|i| i.status())
        .map(|s| s.as_str().to_string());
    assert_eq!(status.as_deref(), Some("Stopped"));
    assert_eq!(
        alias(&endpoint, &format!("{LOCAL_STACK}-auth")).await,
        ("1".into(), vec![])
    );
}
