//! `sam build` as a user runs it on a fresh clone: no flags, no extra step. template.yaml builds
//! every function with `BuildMethod: makefile` in place (samconfig.toml), the Makefile hands each
//! logical id to scripts/build-lambda.sh, and SAM collects `<build-dir>/<LogicalId>/bootstrap`.
//! Each artefact then boots under the real AWS Lambda RIE and answers an event with its own code:
//! an HTTP function its route, migrate its report, rotate-secret its typed error for a secret that
//! does not exist, and the hooks theirs for a report that moto's CodeDeploy cannot take.
//!
//! The build uses the `lambda-check` profile (the release link without LTO, as the artefact test
//! builds), so the two tests share one cargo build; `REDLINE_LAMBDA_PROFILE` overrides it.

use redline_template::Template;
use redline_tests::rie::Emulator;
use redline_tests::runner::repo_root;
use redline_tests::servers::{scratch_root, unique_token, MotoServer};
use redline_tests::TestEnv;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

/// Runs `sam build` in the repository into `build_dir`, as a user would (plus `--build-dir`, so
/// the user's own .aws-sam is left alone).
fn sam_build(build_dir: &Path) {
    let root = repo_root();
    let venv_bin = root.join(".local/venv/bin");
    let path = format!(
        "{}:{}",
        venv_bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let profile = std::env::var("REDLINE_LAMBDA_PROFILE").unwrap_or_else(|_| "lambda-check".into());
    let started = std::time::Instant::now();
    let output = Command::new(venv_bin.join("sam"))
        .arg("build")
        .arg("--build-dir")
        .arg(build_dir)
        .current_dir(&root)
        .env("PATH", path)
        .env("SAM_CLI_TELEMETRY", "0")
        .env("REDLINE_LAMBDA_PROFILE", profile)
        .output()
        .expect("sam (scripts/install-tools.sh installs it) runs");
    let tail = |bytes: &[u8]| {
        let text = String::from_utf8_lossy(bytes);
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(60)..].join("\n")
    };
    assert!(
        output.status.success(),
        "sam build failed ({}):\n{}\n{}",
        output.status,
        tail(&output.stdout),
        tail(&output.stderr)
    );
    eprintln!("sam build: {:.1} s", started.elapsed().as_secs_f64());
}

fn fixture(name: &str) -> Value {
    let path = repo_root().join("tests/fixtures/events").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// What a function's answer must show: `Err` says what it showed instead.
type Check = fn(&Value) -> Result<(), String>;

/// The event each function is booted with, and what its answer must show. A function added to
/// the template without an entry here fails the test.
fn probe(logical_id: &str) -> Option<(Value, Check)> {
    fn status(answer: &Value, want: u64) -> Result<(), String> {
        match answer["statusCode"].as_u64() {
            Some(got) if got == want => Ok(()),
            _ => Err(format!("want an HTTP {want} answer, got {answer}")),
        }
    }
    /// The error the function's own code types for this failure (not the runtime's:
    /// `Runtime.ExitError` when the process died, `Runtime.InitError` when init failed).
    fn error(answer: &Value, want: &str) -> Result<(), String> {
        match answer["errorType"].as_str() {
            Some(kind) if kind == want => Ok(()),
            _ => Err(format!("want the error {want}, got {answer}")),
        }
    }
    let mut users_me = fixture("apigw-v2-get-users-me.json");
    users_me["headers"]
        .as_object_mut()
        .expect("headers")
        .remove("authorization");
    Some(match logical_id {
        "AuthFunction" => (fixture("sam-local-v2-get-lock-status.json"), |a| {
            status(a, 200)
        }),
        "UsersFunction" => (users_me, |a| status(a, 401)),
        "GreeterFunction" => (fixture("alb-get-helloworld.json"), |a| status(a, 200)),
        "HealthFunction" => (fixture("apigw-v1-get-health-live.json"), |a| status(a, 200)),
        "MigrateFunction" => (json!({}), |a| match a.get("applied") {
            Some(_) => Ok(()),
            None => Err(format!("want migrate's report, got {a}")),
        }),
        "RotateSecretFunction" => (
            json!({
                "SecretId": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:redline-missing-AbCdEf",
                "ClientRequestToken": "00000000-0000-4000-8000-000000000000",
                "Step": "createSecret"
            }),
            |a| error(a, "Rotation.SecretsManager"),
        ),
        // moto's CodeDeploy only stores records: the report fails, which the hook types.
        "PreTrafficHookFunction" | "PostTrafficHookFunction" => (
            json!({
                "DeploymentId": "d-MISSING00",
                "LifecycleEventHookExecutionId": "missing-execution"
            }),
            |a| error(a, "TrafficHook.ReportNotSent"),
        ),
        _ => return None,
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn sam_build_builds_every_function_and_each_artefact_boots_under_the_rie() {
    let build_dir: PathBuf = scratch_root().join(format!("sam-build-{}", unique_token()));
    sam_build(&build_dir);

    let template = Template::load(&repo_root().join("template.yaml")).expect("template loads");
    let env = TestEnv::new().await;
    let config = env.config().unwrap();
    let moto = MotoServer::start();
    let mut vars: Vec<(String, String)> = vec![
        ("REDLINE_ENV".into(), "test".into()),
        (
            "REDLINE__DATABASE__DBNAME".into(),
            config.database.dbname.clone(),
        ),
        (
            "REDLINE__DATABASE__USER".into(),
            config.database.user.clone(),
        ),
        (
            "REDLINE__DATABASE__APP_USER".into(),
            config.database.app_user.clone(),
        ),
        ("REDLINE__REDIS__KEY_PREFIX".into(), env.prefix.clone()),
        // Every AWS call (Secrets Manager, CodeDeploy, Lambda) goes to moto, never to AWS.
        ("AWS_ENDPOINT_URL".into(), moto.endpoint()),
    ];
    vars.extend(moto.env());

    let mut failures = Vec::new();
    for function in &template.functions {
        let id = &function.logical_id;
        let bootstrap = build_dir.join(id).join("bootstrap");
        if !bootstrap.is_file() {
            failures.push(format!("{id}: sam build left no {bootstrap:?}"));
            continue;
        }
        let Some((event, check)) = probe(id) else {
            failures.push(format!("{id}: no boot probe in this test; add one"));
            continue;
        };
        let emulator = Emulator::start(&bootstrap, &vars);
        let answer = emulator.invoke(&event).await;
        if let Err(why) = check(&answer) {
            failures.push(format!("{id}: {why}"));
        }
    }
    let _ = std::fs::remove_dir_all(&build_dir);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
