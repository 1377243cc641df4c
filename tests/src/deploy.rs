//! A deployment of one API function on the runner with the real traffic hooks: the runner on
//! the real template with the hooks pointed at its CodeDeploy and Lambda APIs, a new build
//! (`broken_area`, failing one route or none) published as version 2, and a CodeDeploy
//! deployment of it (AllAtOnce, or as a [`Plan`] says). Used by the traffic-hook and
//! traffic-shifting tests and the deployment benchmark.

use crate::runner::{
    bin_dir, env_file, repo_root, stack_env_files, target_dir, workspace_bin, Runner,
};
use crate::TestEnv;
use aws_sdk_codedeploy::types::{
    AppSpecContent, DeploymentStatus, RevisionLocation, RevisionLocationType,
};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub const SMOKE_SECRET: &str = "traffic-hook-test-smoke-secret";
pub const STACK: &str = "redline-local";

/// The function binaries the real template runs.
pub const BINARIES: [&str; 7] = [
    "auth",
    "users",
    "greeter",
    "health",
    "migrate",
    "rotate-secret",
    "traffic-hook",
];

/// The template's binaries as the runner's `--bin-dir`: the debug build for tests, the release
/// one for benchmarks (`REDLINE_RUNNER_PROFILE`, as for the runner itself).
pub fn template_bins() -> PathBuf {
    bin_dir(&BINARIES.map(|name| (name, workspace_bin(name))))
}

/// The binaries of the template under the runner, plus the bad build in a code directory.
fn directories() -> (PathBuf, PathBuf) {
    // A copy: the runner resolves links before it checks that code is inside a --code-dir.
    let code =
        std::env::temp_dir().join(format!("redline-code-{}", crate::servers::unique_token()));
    std::fs::create_dir_all(&code).unwrap();
    std::fs::copy(broken_area(), code.join("broken_area")).unwrap();
    (template_bins(), code)
}

/// The runner on the real template for a deployment: `bins` as its binaries, new builds
/// published from `code_dir`, the hooks pointed at its CodeDeploy and Lambda APIs, every
/// function sharing the smoke secret, and `sections` (env-vars sections by logical id) on top.
pub fn deployment_runner(
    env: &TestEnv,
    bins: &Path,
    code_dir: &Path,
    sections: serde_json::Value,
    hook_timeout_s: u32,
) -> Runner {
    let hook_timeout = hook_timeout_s.to_string();
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
            files.push(env_file(&sections));
            files
        },
        bins,
        &[
            "--parameter-overrides",
            "AllowedOrigins=http://localhost:5173",
            "--code-dir",
            code_dir.to_str().unwrap(),
            "--hook-timeout",
            &hook_timeout,
        ],
    )
}

/// The runner on the real template, the hooks pointed at its CodeDeploy and Lambda APIs, every
/// function sharing the smoke secret, and `logical_id` ready to run `broken_area` as `area`
/// failing `broken_route` once its code is updated.
pub fn runner(env: &TestEnv, logical_id: &str, area: &str, broken_route: &str) -> Runner {
    let (bins, code) = directories();
    let section = json!({"BROKEN_AREA": area, "BROKEN_ROUTE": broken_route});
    let mut runner = deployment_runner(env, &bins, &code, json!({ logical_id: section }), 30);
    runner.owns(code);
    runner.owns(bins);
    runner
}

/// Publishes the bad build as version 2, deploys it AllAtOnce with both hooks, and waits.
pub async fn deploy(runner: &Runner, area: &str) -> DeploymentStatus {
    publish(runner, area).await;
    let id = start(runner, area, &Plan::default()).await;
    wait_for_end(runner, &id).await
}

/// Publishes the build in the code directory (`broken_area`) as `area`'s version 2.
pub async fn publish(runner: &Runner, area: &str) {
    let published = runner
        .lambda()
        .update_function_code()
        .function_name(format!("{STACK}-{area}"))
        .s3_bucket("code")
        .s3_key("broken_area")
        .publish(true)
        .send()
        .await
        .expect("the bad build is published");
    assert_eq!(published.version(), Some("2"));
}

/// How a deployment is asked for: the application and group (default: the stack and the area,
/// which are none of the template's groups, so no alarms), the configuration (default: the
/// group's, else AllAtOnce) and the runner's `x-redline-minute` (default: none, a real minute).
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub application: Option<String>,
    pub group: Option<String>,
    pub config: Option<String>,
    pub minute_ms: Option<u64>,
}

/// The AppSpec of `area`'s version 1 → 2 with both of the template's hooks.
pub fn appspec(area: &str) -> String {
    json!({
        "version": 0.0,
        "Resources": [{"Function": {"Type": "AWS::Lambda::Function", "Properties": {
            "Name": format!("{STACK}-{area}"), "Alias": "live", "CurrentVersion": "1", "TargetVersion": "2"}}}],
        "Hooks": [
            {"BeforeAllowTraffic": format!("CodeDeployHook_{STACK}-pre-traffic")},
            {"AfterAllowTraffic": format!("CodeDeployHook_{STACK}-post-traffic")},
        ],
    })
    .to_string()
}

/// `CreateDeployment` of version 2 of `area` as `plan` says; the deployment's id.
pub async fn start(runner: &Runner, area: &str, plan: &Plan) -> String {
    let request = runner
        .codedeploy()
        .create_deployment()
        .application_name(plan.application.as_deref().unwrap_or(STACK))
        .deployment_group_name(plan.group.as_deref().unwrap_or(area))
        .set_deployment_config_name(plan.config.clone())
        .revision(
            RevisionLocation::builder()
                .revision_type(RevisionLocationType::AppSpecContent)
                .app_spec_content(AppSpecContent::builder().content(appspec(area)).build())
                .build(),
        );
    let minute = plan.minute_ms;
    request
        .customize()
        .mutate_request(move |http| {
            if let Some(ms) = minute {
                http.headers_mut()
                    .insert("x-redline-minute", ms.to_string());
            }
        })
        .send()
        .await
        .expect("the deployment starts")
        .deployment_id()
        .unwrap()
        .to_string()
}

/// Polls `GetDeployment` until the deployment is over (at most two minutes).
pub async fn wait_for_end(runner: &Runner, id: &str) -> DeploymentStatus {
    let client = runner.codedeploy();
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let info = client
            .get_deployment()
            .deployment_id(id)
            .send()
            .await
            .unwrap();
        let status = info.deployment_info().and_then(|i| i.status()).cloned();
        if let Some(
            status @ (DeploymentStatus::Succeeded
            | DeploymentStatus::Failed
            | DeploymentStatus::Stopped),
        ) = status
        {
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

pub async fn live_version(runner: &Runner, area: &str) -> String {
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

/// The test-only bad build, next to the tests crate's other binaries.
fn broken_area() -> PathBuf {
    let profile = std::env::var("REDLINE_RUNNER_PROFILE").unwrap_or_else(|_| "debug".into());
    target_dir().join(profile).join("broken_area")
}
