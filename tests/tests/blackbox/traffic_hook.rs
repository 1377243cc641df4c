//! The real `traffic-hook` binary, as the template's PreTraffic and PostTraffic hooks, against the
//! runner's CodeDeploy and Lambda endpoints: a good build of each API function reports
//! `Succeeded` and takes `live`; a build failing one smoke step (the test-only `broken_area`,
//! published with `UpdateFunctionCode`) reports `Failed` naming that step and never takes `live`;
//! each hook invocation reports exactly once.

use aws_sdk_codedeploy::types::DeploymentStatus;
use redline_tests::deploy::{deploy, live_version, runner};
use redline_tests::runner::Runner;
use redline_tests::TestEnv;
use serde_json::Value;

/// The hook's own lines: its verdicts, and any report it could not send.
fn hook_lines(runner: &Runner) -> Vec<Value> {
    runner
        .log_text()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| {
            let message = l["message"].as_str().unwrap_or("");
            message.starts_with("smoke test ") || message.contains("report could not be sent")
        })
        .filter(|l| l["message"] != "smoke test")
        .collect()
}

/// Deploys a build of `area` (`logical_id`) broken on `route` (none: a good build); gives the
/// deployment's status, where `live` ended, and the hook's verdict lines.
async fn deploy_build(
    area: &str,
    logical_id: &str,
    route: &str,
) -> (DeploymentStatus, String, Vec<Value>) {
    let env = TestEnv::new().await;
    let mut runner = runner(&env, logical_id, area, route);
    let status = deploy(&runner, area).await;
    let live = live_version(&runner, area).await;
    runner.interrupt();
    (status, live, hook_lines(&runner))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_good_build_of_each_api_function_passes_both_hooks_and_takes_live() {
    for (area, logical_id) in [
        ("greeter", "GreeterFunction"),
        ("health", "HealthFunction"),
        ("users", "UsersFunction"),
        ("auth", "AuthFunction"),
    ] {
        let (status, live, lines) = deploy_build(area, logical_id, "").await;
        assert_eq!(status, DeploymentStatus::Succeeded, "{area}: {lines:?}");
        assert_eq!(live, "2", "{area}");
        let verdicts: Vec<(&str, &str)> = lines
            .iter()
            .map(|l| {
                (
                    l["message"].as_str().unwrap(),
                    l["phase"].as_str().unwrap_or(""),
                )
            })
            .collect();
        assert_eq!(
            verdicts,
            [
                ("smoke test passed", "PreTraffic"),
                ("smoke test passed", "PostTraffic")
            ],
            "{area}: one report per hook invocation"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_build_failing_a_smoke_step_is_refused_naming_the_step() {
    let cases = [
        (
            "greeter",
            "GreeterFunction",
            "GET /helloworld/{name}",
            "greeter-hello",
        ),
        (
            "health",
            "HealthFunction",
            "GET /health/ready",
            "health-ready",
        ),
        (
            "health",
            "HealthFunction",
            "GET /health/live",
            "health-live",
        ),
        ("health", "HealthFunction", "GET /health", "health-full"),
        ("users", "UsersFunction", "GET /api/v1/users/me", "users-me"),
        (
            "auth",
            "AuthFunction",
            "GET /api/v1/auth/captcha",
            "auth-captcha",
        ),
        (
            "auth",
            "AuthFunction",
            "POST /api/v1/auth/register",
            "auth-register",
        ),
        (
            "auth",
            "AuthFunction",
            "POST /api/v1/auth/login",
            "auth-login",
        ),
        (
            "auth",
            "AuthFunction",
            "POST /api/v1/auth/refresh",
            "auth-refresh",
        ),
        (
            "auth",
            "AuthFunction",
            "POST /api/v1/auth/logout",
            "auth-logout",
        ),
    ];
    for (area, logical_id, route, step) in cases {
        let (status, live, lines) = deploy_build(area, logical_id, route).await;
        assert_eq!(status, DeploymentStatus::Failed, "{step}: {lines:?}");
        assert_eq!(live, "1", "{step}: live stays on the old version");
        assert_eq!(
            lines.len(),
            1,
            "{step}: one report, PreTraffic only: {lines:?}"
        );
        assert_eq!(lines[0]["message"], "smoke test failed", "{step}");
        assert_eq!(lines[0]["phase"], "PreTraffic", "{step}");
        assert_eq!(lines[0]["reason"], step, "the failing step is named");
    }
}
