//! What CodeDeploy is deploying: the function, its alias, and the version taking traffic.

use crate::error::HookFailure;
use aws_sdk_codedeploy::Client;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub function: String,
    pub alias: String,
    pub current_version: String,
    pub target_version: String,
}

fn failed(call: &'static str, error: impl std::fmt::Display) -> HookFailure {
    HookFailure::CodeDeploy {
        call,
        message: error.to_string(),
    }
}

/// `GetDeployment`, `ListDeploymentTargets`, `GetDeploymentTarget`: the deployment's one Lambda
/// target (SAM makes one deployment group, hence one target, per function).
pub async fn of_deployment(client: &Client, deployment_id: &str) -> Result<Target, HookFailure> {
    client
        .get_deployment()
        .deployment_id(deployment_id)
        .send()
        .await
        .map_err(|e| {
            failed(
                "GetDeployment",
                aws_sdk_codedeploy::error::DisplayErrorContext(e),
            )
        })?;
    let targets = client
        .list_deployment_targets()
        .deployment_id(deployment_id)
        .send()
        .await
        .map_err(|e| {
            failed(
                "ListDeploymentTargets",
                aws_sdk_codedeploy::error::DisplayErrorContext(e),
            )
        })?;
    let target_id = targets
        .target_ids()
        .first()
        .ok_or(HookFailure::NoTarget)?
        .clone();
    let target = client
        .get_deployment_target()
        .deployment_id(deployment_id)
        .target_id(target_id)
        .send()
        .await
        .map_err(|e| {
            failed(
                "GetDeploymentTarget",
                aws_sdk_codedeploy::error::DisplayErrorContext(e),
            )
        })?;
    let info = target
        .deployment_target()
        .and_then(|t| t.lambda_target())
        .and_then(|t| t.lambda_function_info())
        .ok_or(HookFailure::NoTarget)?;
    let field = |value: Option<&str>| value.unwrap_or_default().to_string();
    Ok(Target {
        function: field(info.function_name()),
        alias: field(info.function_alias()),
        current_version: field(info.current_version()),
        target_version: field(info.target_version()),
    })
}
