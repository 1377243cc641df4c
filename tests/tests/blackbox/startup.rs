//! One start-up for every function kind: an HTTP function and the event function
//! `rotate-secret` report a bad configuration to the Runtime API's `/init/error` with a typed
//! `errorType` naming the key, under the local runner on the real template; `migrate`, whose
//! CloudFormation caller waits for a callback, holds the same typed failure and returns it as
//! the invocation's error (blackbox/migrate_custom_resource.rs tests its callback). None panics
//! or merely exits.

use redline_tests::rie::Emulator;
use redline_tests::runner::{repo_root, stack_env_files, target_dir, workspace_bin, Runner};
use redline_tests::TestEnv;
use serde_json::json;

/// Invokes a function through the runner's invoke API; returns the function-error header and
/// the body.
async fn invoke(runner: &Runner, function: &str) -> (Option<String>, String) {
    let response = reqwest::Client::new()
        .post(runner.invoke_url(&format!("/2015-03-31/functions/{function}/invocations")))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    let error = response
        .headers()
        .get("x-amz-function-error")
        .map(|v| v.to_str().unwrap().to_string());
    (error, response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn every_function_kind_reports_a_bad_configuration_as_a_typed_init_error() {
    let env = TestEnv::new().await;
    // An unknown key is refused by every function's configuration loader.
    let runner = Runner::start(
        &repo_root().join("template.yaml"),
        &stack_env_files(&env, json!({"REDLINE__AUTH__CAPTCHA__TTLL": "30s"})),
        &target_dir().join("debug"),
        &[
            "--parameter-overrides",
            "AllowedOrigins=http://localhost:5173",
        ],
    );
    for function in [
        "GreeterFunction",
        "AuthFunction",
        "MigrateFunction",
        "RotateSecretFunction",
    ] {
        let (error, body) = invoke(&runner, function).await;
        assert_eq!(error.as_deref(), Some("Unhandled"), "{function}: {body}");
        // The runner answers as Lambda does: the function's own report inside its init error.
        assert!(body.contains("Runtime.ConfigInvalid"), "{function}: {body}");
        assert!(
            body.contains("configuration key auth.captcha") && body.contains("ttll"),
            "{function} names the key: {body}"
        );
    }
    let log = runner.log_text();
    assert!(!log.contains("panicked"), "a function panicked: {log}");
    // migrate started and held its failure; the others failed their init.
    assert!(log.contains("cold start MigrateFunction#1"), "{log}");
    assert!(!log.contains("cold start GreeterFunction#"), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn inside_lambda_a_missing_redline_env_fails_init_instead_of_starting_as_dev() {
    // The real emulator gives the function AWS_LAMBDA_RUNTIME_API and nothing of ours.
    let greeter = Emulator::start(&workspace_bin("greeter"), &[]);
    let answer = greeter.invoke(&json!({})).await;
    let text = answer.to_string();
    assert!(
        text.contains("Runtime.ConfigInvalid") && text.contains("REDLINE_ENV"),
        "{text}"
    );
}
