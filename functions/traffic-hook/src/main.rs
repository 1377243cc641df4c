//! The `traffic-hook` function: CodeDeploy invokes it as the PreTraffic and PostTraffic hook of
//! every API function's deployment (`REDLINE_HOOK_PHASE` says which). It asks CodeDeploy what
//! is being deployed, smoke-tests that exact version (PreTraffic) or the `live` alias
//! (PostTraffic) with real API Gateway events, reports `Succeeded` or `Failed` with
//! `PutLifecycleEventHookExecutionStatus`, and then returns success, so that Lambda does not
//! retry: it returns an error only when the report itself could not be sent.
//!
//! Read `target` (what is deployed), `invoke` (one signed request), `checks` (the smoke tests),
//! `report`, then `error`.

mod checks;
mod error;
mod invoke;
mod report;
mod target;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::BehaviorVersion;
use checks::Phase;
use error::HookFailure;
use invoke::Caller;
use lambda_runtime::{service_fn, LambdaEvent};
use redline_core::config::{Config, ConfigError};
use redline_core::init_error::InitError;
use redline_core::invocation::{self, Invocation};
use redline_core::metrics::{self, Metric};
use redline_core::secrets::resolve;
use redline_core::startup::{start_or_hold, Configured};
use redline_crypto::smoke::SmokeAccount;
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;

/// The event CodeDeploy sends a lifecycle hook.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HookEvent {
    deployment_id: String,
    lifecycle_event_hook_execution_id: String,
}

/// What a cold start builds: the configuration and the smoke account.
struct Started {
    config: Config,
    smoke: SmokeAccount,
}

impl Configured for Started {
    fn config(&self) -> &Config {
        &self.config
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    // A failure is held for the first event: an init error would leave CodeDeploy waiting.
    let started = start_or_hold(|layered| async move {
        let config = resolve(layered, redline_secrets_aws::REACH).await?;
        let secret = config.smoke.secret.as_ref().ok_or_else(|| {
            InitError::from(ConfigError::key(
                "smoke.secret",
                "is required by the traffic hook",
            ))
        })?;
        let smoke = SmokeAccount::derive(secret.expose());
        Ok(Started { config, smoke })
    })
    .await;
    // The clients do not depend on the configuration: a held failure can still be reported.
    let aws = aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2))
                .operation_timeout(Duration::from_secs(30))
                .build(),
        )
        .load()
        .await;
    let codedeploy = aws_sdk_codedeploy::Client::new(&aws);
    // A smoke request is never repeated behind the hook's back (a retried login counts twice).
    let lambda = aws_sdk_lambda::Client::from_conf(
        aws_sdk_lambda::config::Builder::from(&aws)
            .retry_config(RetryConfig::disabled())
            .build(),
    );
    let caller = started.map(|s| Caller {
        lambda,
        smoke: s.smoke,
    });
    let (caller, codedeploy, phase) = (&caller, &codedeploy, Phase::from_env());
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<HookEvent>| async move {
            let context = Invocation::of_event(&event.context);
            let hook = event.payload;
            let (reported, _) = invocation::scope(context, async {
                let outcome = match caller {
                    Ok(caller) => smoke_test(caller, codedeploy, &hook, phase).await,
                    Err(held) => Err(HookFailure::Init {
                        error_type: held.error_type(),
                        message: held.to_string(),
                    }),
                };
                record(&hook, phase, &outcome);
                report::send(
                    codedeploy,
                    &hook.deployment_id,
                    &hook.lifecycle_event_hook_execution_id,
                    outcome.is_ok(),
                )
                .await
                .map(|()| outcome.is_ok())
            })
            .await;
            match reported {
                Ok(succeeded) => {
                    Ok(json!({ "status": if succeeded { "Succeeded" } else { "Failed" } }))
                }
                Err(error) => {
                    tracing::error!(
                        error = error.0.as_str(),
                        "the hook's report could not be sent"
                    );
                    Err(lambda_runtime::Diagnostic::from(error))
                }
            }
        },
    ))
    .await
}

async fn smoke_test(
    caller: &Caller,
    codedeploy: &aws_sdk_codedeploy::Client,
    hook: &HookEvent,
    phase: Phase,
) -> Result<u32, HookFailure> {
    let target = target::of_deployment(codedeploy, &hook.deployment_id).await?;
    tracing::info!(
        deploymentId = hook.deployment_id.as_str(),
        function = target.function.as_str(),
        version = target.target_version.as_str(),
        phase = phase.name(),
        "smoke test"
    );
    checks::run(caller, &target, phase).await
}

/// The run's log line and metrics document.
fn record(hook: &HookEvent, phase: Phase, outcome: &Result<u32, HookFailure>) {
    let checks = *outcome.as_ref().unwrap_or(&0);
    match outcome {
        Ok(_) => tracing::info!(
            deploymentId = hook.deployment_id.as_str(),
            hookExecutionId = hook.lifecycle_event_hook_execution_id.as_str(),
            phase = phase.name(),
            "smoke test passed"
        ),
        Err(failure) => tracing::error!(
            deploymentId = hook.deployment_id.as_str(),
            hookExecutionId = hook.lifecycle_event_hook_execution_id.as_str(),
            phase = phase.name(),
            reason = failure.reason().as_str(),
            error = %failure,
            "smoke test failed"
        ),
    }
    let reason = outcome
        .as_ref()
        .err()
        .map(HookFailure::reason)
        .unwrap_or_default();
    metrics::event(
        "traffic-hook",
        outcome.is_err(),
        &[(Metric::HookChecks, f64::from(checks))],
        &[("phase", phase.name()), ("failedStep", &reason)],
    );
}
