//! (trial, after merging runner-traffic) A canary of a version answering 5xx is stopped by its
//! rate alarm and `live` goes back; a group naming an unevaluable alarm fails naming it.

use aws_sdk_cloudwatch::types::StateValue;
use aws_sdk_codedeploy::types::{AppSpecContent, RevisionLocation, RevisionLocationType};
use redline_tests::runner::{bin_dir, repo_root, Runner};
use serde_json::json;
use std::path::PathBuf;
use std::time::{Duration, Instant};

fn start(fixture: &str) -> Runner {
    let code = std::env::temp_dir().join(format!("redline-flaky-code-{}", std::process::id()));
    std::fs::create_dir_all(&code).unwrap();
    let mut bytes = std::fs::read(env!("CARGO_BIN_EXE_flaky")).unwrap();
    bytes.extend_from_slice(b"FLAKY-MARK-2");
    let copy = code.join(format!("flaky-2-{fixture}"));
    std::fs::write(&copy, bytes).unwrap();
    std::fs::set_permissions(&copy, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let bins = bin_dir(&[("flaky", PathBuf::from(env!("CARGO_BIN_EXE_flaky")))]);
    Runner::start(
        &repo_root().join(format!("tests/fixtures/runner/{fixture}")),
        &[],
        &bins,
        &[
            "--code-dir",
            code.to_str().unwrap(),
            "--alarm-minute",
            "300",
        ],
    )
}

async fn deploy(runner: &Runner, fixture: &str) -> String {
    let published = runner
        .lambda()
        .update_function_code()
        .function_name("redline-local-flaky")
        .s3_bucket("code")
        .s3_key(format!("flaky-2-{fixture}"))
        .publish(true)
        .send()
        .await
        .unwrap();
    assert_eq!(published.version(), Some("2"));
    let appspec = json!({"version": 0.0, "Resources": [{"Function": {"Type": "AWS::Lambda::Function", "Properties": {
        "Name": "redline-local-flaky", "Alias": "live", "CurrentVersion": "1", "TargetVersion": "2"}}}]});
    runner
        .codedeploy()
        .create_deployment()
        .application_name("redline-local-ServerlessDeploymentApplication")
        .deployment_group_name("redline-local-FlakyFunctionDeploymentGroup")
        .deployment_config_name("CodeDeployDefault.LambdaCanary10Percent5Minutes")
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
        .customize()
        .mutate_request(|http| {
            http.headers_mut().insert("x-redline-minute", "300");
        })
        .send()
        .await
        .unwrap()
        .deployment_id()
        .unwrap()
        .to_string()
}

async fn info(runner: &Runner, id: &str) -> aws_sdk_codedeploy::types::DeploymentInfo {
    runner
        .codedeploy()
        .get_deployment()
        .deployment_id(id)
        .send()
        .await
        .unwrap()
        .deployment_info
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_canary_answering_5xx_is_stopped_by_its_rate_alarm() {
    let runner = start("alarms-deploy.yaml");
    let id = deploy(&runner, "alarms-deploy.yaml").await;
    let lambda = runner.lambda();
    // Load on version 2 from four callers: the rate alarm counts periods of at least 10
    // requests only.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut callers = Vec::new();
    for _ in 0..4 {
        let (lambda, stop) = (lambda.clone(), stop.clone());
        callers.push(tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let event = json!({"pathParameters": {"status": "500"}});
                let _ = lambda
                    .invoke()
                    .function_name("redline-local-flaky")
                    .qualifier("2")
                    .payload(aws_sdk_lambda::primitives::Blob::new(event.to_string()))
                    .send()
                    .await;
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen_alarm = false;
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let deployment = info(&runner, &id).await;
        let status = deployment.status().unwrap().as_str().to_string();
        if status == "InProgress" && !seen_alarm {
            let alarms = runner
                .cloudwatch()
                .describe_alarms()
                .alarm_names("redline-local-flaky-rollback-server-error-rate")
                .send()
                .await
                .unwrap();
            let alarm = &alarms.metric_alarms()[0];
            seen_alarm |= alarm.state_value() == Some(&StateValue::Alarm);
        }
        if status != "InProgress" && status != "Created" {
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            assert_eq!(status, "Stopped", "{deployment:?}\n{}", runner.log_text());
            let message = deployment.error_information().unwrap().message().unwrap();
            assert!(
                message.contains("redline-local-flaky-rollback-server-error-rate"),
                "{message}"
            );
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{deployment:?}\n{}",
            runner.log_text()
        );
    }
    for caller in callers {
        caller.await.unwrap();
    }
    let alias = lambda
        .get_alias()
        .function_name("redline-local-flaky")
        .name("live")
        .send()
        .await
        .unwrap();
    assert_eq!(alias.function_version(), Some("1"));
    eprintln!("DescribeAlarms saw ALARM for version 2 during the flight: {seen_alarm}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_group_naming_an_unevaluable_alarm_fails_naming_it() {
    let runner = start("alarms.yaml");
    let id = deploy(&runner, "alarms.yaml").await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let deployment = info(&runner, &id).await;
        let status = deployment.status().unwrap().as_str().to_string();
        if status != "InProgress" && status != "Created" {
            assert_eq!(status, "Failed", "{deployment:?}");
            let error = deployment.error_information().unwrap();
            assert_eq!(error.code().map(|c| c.as_str()), Some("ALARM_CONFIG"));
            assert!(
                error
                    .message()
                    .unwrap()
                    .contains("redline-local-flaky-rollback-gateway-5xx"),
                "{error:?}"
            );
            break;
        }
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
