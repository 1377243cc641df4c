//! The hook's one report to CodeDeploy.

use aws_sdk_codedeploy::types::LifecycleEventStatus;
use aws_sdk_codedeploy::Client;
use lambda_runtime::Diagnostic;

/// The report could not be sent: the invocation's error (type `TrafficHook.ReportNotSent`), so
/// that Lambda retries the asynchronous invocation and the report is tried again.
#[derive(Debug)]
pub struct ReportNotSent(pub String);

impl From<ReportNotSent> for Diagnostic {
    fn from(error: ReportNotSent) -> Self {
        Diagnostic {
            error_type: "TrafficHook.ReportNotSent".into(),
            error_message: format!("the report to CodeDeploy could not be sent: {}", error.0),
        }
    }
}

/// `PutLifecycleEventHookExecutionStatus`; an error only when the report could not be sent.
pub async fn send(
    client: &Client,
    deployment_id: &str,
    execution_id: &str,
    succeeded: bool,
) -> Result<(), ReportNotSent> {
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
        .map_err(|e| ReportNotSent(aws_sdk_codedeploy::error::DisplayErrorContext(e).to_string()))
}
