//! The runner shifting traffic, black box, with the real `traffic-hook` binary as both hooks on
//! the real template (greeter, a good build as version 2) and a CodeDeploy minute of a few
//! hundred milliseconds (`x-redline-minute`): a canary and a linear deployment end on the new
//! version after weights in between, seen through `GetDeploymentTarget` and `GetAlias` and in
//! the runner's log, while the HTTP API keeps answering; `StopDeployment` in the middle of a
//! canary puts `live` back at once and the PostTraffic hook never runs.

use aws_sdk_codedeploy::error::ProvideErrorMetadata;
use aws_sdk_codedeploy::types::DeploymentStatus;
use redline_tests::deploy::{live_version, publish, runner, start, wait_for_end, Plan, STACK};
use redline_tests::runner::Runner;
use redline_tests::TestEnv;
use std::time::{Duration, Instant};

const AREA: &str = "greeter";

/// What a poll saw: the deployment's status, the target's weight, and `live`'s extra weight.
#[derive(Debug, Clone, PartialEq)]
struct Seen {
    status: String,
    target_weight: f64,
    alias_weight: Option<f64>,
}

async fn look(runner: &Runner, id: &str) -> Seen {
    let codedeploy = runner.codedeploy();
    let info = codedeploy
        .get_deployment()
        .deployment_id(id)
        .send()
        .await
        .unwrap();
    let status = info
        .deployment_info()
        .and_then(|i| i.status())
        .map(|s| s.as_str().to_string())
        .unwrap_or_default();
    let target = codedeploy
        .get_deployment_target()
        .deployment_id(id)
        .target_id(format!("{STACK}-{AREA}:live"))
        .send()
        .await
        .unwrap();
    let target_weight = target
        .deployment_target()
        .and_then(|t| t.lambda_target())
        .and_then(|t| t.lambda_function_info())
        .map(|f| f.target_version_weight())
        .unwrap_or_default();
    let alias = runner
        .lambda()
        .get_alias()
        .function_name(format!("{STACK}-{AREA}"))
        .name("live")
        .send()
        .await
        .unwrap();
    let alias_weight = alias
        .routing_config()
        .and_then(|r| r.additional_version_weights())
        .and_then(|w| w.get("2"))
        .copied();
    Seen {
        status,
        target_weight,
        alias_weight,
    }
}

/// Polls until the deployment ends, calling the HTTP API between polls: what was seen, and
/// the statuses the API answered.
async fn watch_until_over(runner: &Runner, id: &str) -> (Vec<Seen>, Vec<u16>) {
    let client = reqwest::Client::new();
    let (mut seen, mut statuses) = (Vec::new(), Vec::new());
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let now = look(runner, id).await;
        let over = !matches!(now.status.as_str(), "Created" | "InProgress");
        seen.push(now);
        if over {
            return (seen, statuses);
        }
        let (status, _) = runner
            .call(
                &client,
                reqwest::Method::GET,
                "/helloworld/canary",
                None,
                None,
            )
            .await;
        statuses.push(status.as_u16());
        assert!(
            Instant::now() < deadline,
            "{id} never ended:\n{}",
            runner.log_text()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The weights the runner logged moving, in order (`sends N % to version 2`).
fn logged_shifts(runner: &Runner, id: &str) -> Vec<u32> {
    let prefix = format!("redline-local: deployment {id}: {STACK}-{AREA}:live sends ");
    runner
        .log_text()
        .lines()
        .filter_map(|line| line.strip_prefix(&prefix))
        .map(|rest| rest.split(' ').next().unwrap().parse().unwrap())
        .collect()
}

/// Weights in (0, 1) seen, each a multiple of 10 %, in the order seen, never going down.
fn intermediate(seen: &[Seen]) -> Vec<f64> {
    let mut weights: Vec<f64> = Vec::new();
    for look in seen {
        for weight in [Some(look.target_weight), look.alias_weight]
            .into_iter()
            .flatten()
        {
            if weight > 0.0 && weight < 1.0 {
                let tenths = weight * 10.0;
                assert!((tenths - tenths.round()).abs() < 1e-9, "{weight}");
                weights.push(weight);
            }
        }
    }
    let mut sorted = weights.clone();
    sorted.sort_by(f64::total_cmp);
    assert_eq!(weights, sorted, "the weight never went down: {seen:?}");
    weights.dedup();
    weights
}

async fn play(config: &str) -> (Runner, String, Vec<Seen>, Vec<u16>) {
    let env = TestEnv::new().await;
    let runner = runner(&env, "GreeterFunction", AREA, "");
    publish(&runner, AREA).await;
    let plan = Plan {
        config: Some(config.into()),
        minute_ms: Some(300),
        ..Plan::default()
    };
    let id = start(&runner, AREA, &plan).await;
    let (seen, statuses) = watch_until_over(&runner, &id).await;
    (runner, id, seen, statuses)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_canary_sends_ten_percent_then_everything_to_the_new_version() {
    let (runner, id, seen, statuses) =
        play("CodeDeployDefault.LambdaCanary10Percent5Minutes").await;
    let last = seen.last().unwrap();
    assert_eq!(last.status, "Succeeded", "{seen:?}\n{}", runner.log_text());
    assert_eq!((last.target_weight, last.alias_weight), (1.0, None));
    assert_eq!(live_version(&runner, AREA).await, "2");
    // Fifteen 300 ms minutes at 10 %: seen by polls every few tens of milliseconds, with seconds
    // to spare on a loaded machine.
    assert_eq!(intermediate(&seen), [0.1], "{seen:?}");
    assert_eq!(logged_shifts(&runner, &id), [10, 100]);
    assert!(
        statuses.iter().all(|s| *s == 200),
        "the HTTP API answered throughout: {statuses:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_linear_deployment_adds_ten_percent_every_interval() {
    let (runner, id, seen, statuses) =
        play("CodeDeployDefault.LambdaLinear10PercentEvery2Minutes").await;
    let last = seen.last().unwrap();
    assert_eq!(last.status, "Succeeded", "{seen:?}\n{}", runner.log_text());
    assert_eq!(live_version(&runner, AREA).await, "2");
    let between = intermediate(&seen);
    assert!(!between.is_empty(), "no weight in between seen: {seen:?}");
    assert_eq!(
        logged_shifts(&runner, &id),
        [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    );
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn stopping_a_canary_puts_live_back_and_skips_the_post_traffic_hook() {
    let env = TestEnv::new().await;
    let runner = runner(&env, "GreeterFunction", AREA, "");
    publish(&runner, AREA).await;
    // Thirty 300 ms minutes at 10 %: nine seconds to stop it in.
    let plan = Plan {
        config: Some("CodeDeployDefault.LambdaCanary10Percent30Minutes".into()),
        minute_ms: Some(300),
        ..Plan::default()
    };
    let id = start(&runner, AREA, &plan).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let now = look(&runner, &id).await;
        assert!(
            matches!(now.status.as_str(), "Created" | "InProgress"),
            "{now:?}\n{}",
            runner.log_text()
        );
        if now.alias_weight == Some(0.1) {
            break;
        }
        assert!(Instant::now() < deadline, "{}", runner.log_text());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let codedeploy = runner.codedeploy();
    let stopped = codedeploy
        .stop_deployment()
        .deployment_id(&id)
        .auto_rollback_enabled(true)
        .send()
        .await
        .unwrap();
    assert_eq!(stopped.status().map(|s| s.as_str()), Some("Succeeded"));
    // At once: the stop answered only once live was back.
    let after = look(&runner, &id).await;
    assert_eq!(
        after,
        Seen {
            status: "Stopped".into(),
            target_weight: 0.0,
            alias_weight: None
        }
    );
    assert_eq!(live_version(&runner, AREA).await, "1");
    assert_eq!(wait_for_end(&runner, &id).await, DeploymentStatus::Stopped);
    let info = codedeploy
        .get_deployment()
        .deployment_id(&id)
        .send()
        .await
        .unwrap();
    let info = info.deployment_info().unwrap();
    assert_eq!(
        info.error_information()
            .and_then(|e| e.code())
            .map(|c| c.as_str()),
        Some("MANUAL_STOP")
    );
    assert!(info
        .rollback_info()
        .and_then(|r| r.rollback_message())
        .is_some());
    let again = codedeploy
        .stop_deployment()
        .deployment_id(&id)
        .send()
        .await
        .unwrap_err();
    assert_eq!(again.code(), Some("DeploymentAlreadyCompletedException"));
    let listed = codedeploy
        .list_deployments()
        .application_name(STACK)
        .deployment_group_name(AREA)
        .include_only_statuses(DeploymentStatus::Stopped)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.deployments(), std::slice::from_ref(&id));
    // The flow ended with the stop: no 100 % shift, no PostTraffic smoke test.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(logged_shifts(&runner, &id), [10]);
    assert!(
        !runner.log_text().contains("\"phase\":\"PostTraffic\""),
        "{}",
        runner.log_text()
    );
}
