//! The real `traffic-hook` binary, as the template's PreTraffic and PostTraffic hooks, against the
//! runner's CodeDeploy and Lambda endpoints: a good build of each API function reports
//! `Succeeded` and takes `live`; a build failing one smoke step (the test-only `broken_area`,
//! published with `UpdateFunctionCode`) reports `Failed` naming that step and never takes `live`;
//! each hook invocation reports exactly once.

use aws_sdk_codedeploy::types::{
    AppSpecContent, DeploymentStatus, RevisionLocation, RevisionLocationType,
};
use redline_tests::runner::{bin_dir, env_file, repo_root, stack_env_files, target_dir, Runner};
use redline_tests::TestEnv;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::{Duration, Instant};

const SMOKE_SECRET: &str = "traffic-hook-test-smoke-secret";
const STACK: &str = "redline-local";

/// The binaries of the template under the runner, plus the bad build in a code directory.
fn directories() -> (PathBuf, PathBuf) {
    let debug = target_dir().join("debug");
    let binaries: Vec<(&str, PathBuf)> = [
        "auth",
        "users",
        "greeter",
        "health",
        "migrate",
        "rotate-secret",
        "traffic-hook",
    ]
    .iter()
    .map(|name| (*name, debug.join(name)))
    .collect();
    // A copy: the runner resolves links before it checks that code is inside a --code-dir.
    let code = std::env::temp_dir().join(format!(
        "redline-code-{}",
        redline_tests::servers::unique_token()
    ));
    std::fs::create_dir_all(&code).unwrap();
    std::fs::copy(env!("CARGO_BIN_EXE_broken_area"), code.join("broken_area")).unwrap();
    (bin_dir(&binaries), code)
}

/// The runner on the real template, the hooks pointed at its CodeDeploy and Lambda APIs, every
/// function sharing the smoke secret, and `logical_id` ready to run `broken_area` as `area`
/// failing `broken_route` once its code is updated.
fn runner(env: &TestEnv, logical_id: &str, area: &str, broken_route: &str) -> Runner {
    let (bins, code) = directories();
    let section = json!({"BROKEN_AREA": area, "BROKEN_ROUTE": broken_route});
    Runner::start_with(
        &repo_root().join("template.yaml"),
        &|port| {
            let endpoint = format!("http://127.0.0.1:{port}");
            let mut files = stack_env_files(
                env,
                json!({
                    "REDLINE__SMOKE__SECRET": SMOKE_SECRET,
                    "AWS_ENDPOINT_URL_LAMBDA": endpoint,
                    "AWS_ENDPOINT_URL_CODEDEPLOY": endpoint,
                    "AWS_ACCESS_KEY_ID": "local",
                    "AWS_SECRET_ACCESS_KEY": "local",
                }),
            );
            files.push(env_file(&json!({ logical_id: section })));
            files
        },
        &bins,
        &[
            "--parameter-overrides",
            "AllowedOrigins=http://localhost:5173",
            "--code-dir",
            code.to_str().unwrap(),
            "--hook-timeout",
            "30",
        ],
    )
}

/// Publishes the bad build as version 2, deploys it AllAtOnce with both hooks, and waits.
async fn deploy(runner: &Runner, area: &str) -> DeploymentStatus {
    let function = format!("{STACK}-{area}");
    let published = runner
        .lambda()
        .update_function_code()
        .function_name(&function)
        .s3_bucket("code")
        .s3_key("broken_area")
        .publish(true)
        .send()
        .await
        .expect("the bad build is published");
    assert_eq!(published.version(), Some("2"));
    let appspec = json!({
        "version": 0.0,
        "Resources": [{"Function": {"Type": "AWS::Lambda::Function", "Properties": {
            "Name": function, "Alias": "live", "CurrentVersion": "1", "TargetVersion": "2"}}}],
        "Hooks": [
            {"BeforeAllowTraffic": format!("CodeDeployHook_{STACK}-pre-traffic")},
            {"AfterAllowTraffic": format!("CodeDeployHook_{STACK}-post-traffic")},
        ],
    });
    let client = runner.codedeploy();
    let id = client
        .create_deployment()
        .application_name(STACK)
        .deployment_group_name(area)
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
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let info = client
            .get_deployment()
            .deployment_id(&id)
            .send()
            .await
            .unwrap();
        let status = info.deployment_info().and_then(|i| i.status()).cloned();
        if let Some(status @ (DeploymentStatus::Succeeded | DeploymentStatus::Failed)) = status {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "{id} never ended:\n{}",
            runner.log_text()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn live_version(runner: &Runner, area: &str) -> String {
    let alias = runner
        .lambda()
        .get_alias()
        .function_name(format!("{STACK}-{area}"))
        .name("live")
        .send()
        .await
        .unwrap();
    alias.function_version().unwrap_or_default().to_string()
}

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
