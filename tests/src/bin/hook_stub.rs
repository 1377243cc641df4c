//! A stand-in CodeDeploy traffic hook, for testing the runner's CodeDeploy: it asks what is
//! being deployed as the real hook does (`GetDeployment`, `ListDeploymentTargets`,
//! `GetDeploymentTarget`, through the Rust SDK at `AWS_ENDPOINT_URL`), invokes the target
//! version (`BeforeAllowTraffic`) or the alias (`AfterAllowTraffic`) with a client context,
//! prints one `hook-stub:` line saying what it saw, then reports what `HOOK_STUB_OUTCOME` says:
//! `Succeeded`, `Failed`, or `silent` (no report at all).

use aws_sdk_codedeploy::types::LifecycleEventStatus;
use base64::Engine;
use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde::Deserialize;
use serde_json::{json, Value};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HookEvent {
    deployment_id: String,
    lifecycle_event_hook_execution_id: String,
}

struct Clients {
    codedeploy: aws_sdk_codedeploy::Client,
    lambda: aws_sdk_lambda::Client,
}

async fn handle(clients: &Clients, event: LambdaEvent<HookEvent>) -> Result<Value, Error> {
    let hook = event.payload;
    let deployment = clients
        .codedeploy
        .get_deployment()
        .deployment_id(&hook.deployment_id)
        .send()
        .await?;
    let info = deployment.deployment_info().ok_or("no deploymentInfo")?;
    let targets = clients
        .codedeploy
        .list_deployment_targets()
        .deployment_id(&hook.deployment_id)
        .send()
        .await?;
    let target_id = targets.target_ids().first().ok_or("no target")?.clone();
    let target = clients
        .codedeploy
        .get_deployment_target()
        .deployment_id(&hook.deployment_id)
        .target_id(&target_id)
        .send()
        .await?;
    let lambda = target
        .deployment_target()
        .and_then(|t| t.lambda_target())
        .ok_or("no lambdaTarget")?;
    let function = lambda
        .lambda_function_info()
        .ok_or("no lambdaFunctionInfo")?;
    let running = lambda
        .lifecycle_events()
        .iter()
        .find(|e| e.status() == Some(&LifecycleEventStatus::InProgress))
        .and_then(|e| e.lifecycle_event_name())
        .unwrap_or("none")
        .to_string();
    // PreTraffic checks the exact new version; PostTraffic goes through the alias.
    let qualifier = if running == "BeforeAllowTraffic" {
        function.target_version().unwrap_or_default()
    } else {
        function.function_alias().unwrap_or_default()
    };
    let context = json!({"custom": {"from": "hook-stub"}}).to_string();
    let invoked = clients
        .lambda
        .invoke()
        .function_name(function.function_name().unwrap_or_default())
        .qualifier(qualifier)
        .client_context(base64::engine::general_purpose::STANDARD.encode(context))
        .payload(aws_sdk_lambda::primitives::Blob::new(
            r#"{"action":"context"}"#,
        ))
        .send()
        .await?;
    let answer: Value = invoked
        .payload()
        .and_then(|p| serde_json::from_slice(p.as_ref()).ok())
        .unwrap_or(Value::Null);
    let body: Value = answer["body"]
        .as_str()
        .and_then(|b| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    let outcome = std::env::var("HOOK_STUB_OUTCOME").unwrap_or_else(|_| "Succeeded".into());
    println!(
        "hook-stub: {}",
        json!({
            "event": running,
            "deployment": hook.deployment_id,
            "execution": hook.lifecycle_event_hook_execution_id,
            "status": info.status().map(|s| s.as_str()),
            "target": target_id,
            "function": function.function_name(),
            "alias": function.function_alias(),
            "current": function.current_version(),
            "target_version": function.target_version(),
            "weight": function.target_version_weight(),
            "executed_version": invoked.executed_version(),
            "answered_version": body["version"],
            "client_context": body["client_context"],
            "outcome": outcome,
        })
    );
    let status = match outcome.as_str() {
        "Succeeded" => LifecycleEventStatus::Succeeded,
        "Failed" => LifecycleEventStatus::Failed,
        _ => return Ok(Value::Null),
    };
    clients
        .codedeploy
        .put_lifecycle_event_hook_execution_status()
        .deployment_id(&hook.deployment_id)
        .lifecycle_event_hook_execution_id(&hook.lifecycle_event_hook_execution_id)
        .status(status)
        .send()
        .await?;
    Ok(Value::Null)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let clients = Clients {
        codedeploy: aws_sdk_codedeploy::Client::new(&config),
        lambda: aws_sdk_lambda::Client::new(&config),
    };
    let clients = &clients;
    lambda_runtime::run(service_fn(move |event| handle(clients, event))).await
}
