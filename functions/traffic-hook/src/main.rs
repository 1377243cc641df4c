//! The `traffic-hook` function: CodeDeploy invokes it as the PreTraffic and PostTraffic hook of
//! every API function's deployment. It asks CodeDeploy what is being deployed, smoke-tests that
//! version (PreTraffic) or the `live` alias (PostTraffic), reports the result with
//! `PutLifecycleEventHookExecutionStatus`, and then returns success so that Lambda does not
//! retry the report. (Being built: issue 10.)

use lambda_runtime::{service_fn, LambdaEvent};
use redline_core::config::Config;
use redline_core::startup::start_or_hold;
use serde::Deserialize;
use serde_json::Value;

/// The event CodeDeploy sends a lifecycle hook.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HookEvent {
    deployment_id: String,
    lifecycle_event_hook_execution_id: String,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    // A failure is held for the first event: an init error would leave CodeDeploy waiting.
    let started = start_or_hold(|layered| async move { Ok::<Config, _>(layered.plain()?) }).await;
    let started = &started;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<HookEvent>| async move {
            let hook = event.payload;
            tracing::info!(
                deploymentId = hook.deployment_id.as_str(),
                hookExecutionId = hook.lifecycle_event_hook_execution_id.as_str(),
                ready = started.is_ok(),
                "hook invoked"
            );
            Ok::<Value, lambda_runtime::Error>(Value::Null)
        },
    ))
    .await
}
