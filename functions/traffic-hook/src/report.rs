//! The hook's one report to CodeDeploy.

use aws_sdk_codedeploy::types::LifecycleEventStatus;
use aws_sdk_codedeploy::Client;

/// `PutLifecycleEventHookExecutionStatus`; an error only when the report could not be sent.
pub async fn send(
    client: &Client,
    deployment_id: &str,
    execution_id: &str,
    succeeded: bool,
) -> Result<(), String> {
    let status = if succeeded {
        LifecycleEventStatus::Succeeded
    } else {
        LifecycleEventStatus::Failed
    };
    client
        .put_lifecycle_event_hook_execution_status()
        .deployment_id(deployment_id)
        .lifecycle_event_hook_execution_id(execution_id)
        .status(status)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| aws_sdk_codedeploy::error::DisplayErrorContext(e).to_string())
}
