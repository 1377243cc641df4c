//! CodeDeploy's output shapes as the runner fills them (awsJson1.1: timestamps in epoch
//! seconds): `DeploymentInfo`, a Lambda `DeploymentTarget`, `DeploymentGroupInfo`.

use super::deployment::{Deployment, Status, EVENTS};
use super::groups::{DeploymentGroup, AUTO_ROLLBACK_EVENTS};
use serde_json::{json, Value};

/// `DeploymentInfo`, timestamps in epoch seconds as awsJson1.1 writes them.
pub fn deployment_info(deployment: &Deployment) -> Value {
    let progress = deployment.progress();
    let mut info = json!({
        "applicationName": deployment.application,
        "deploymentConfigName": deployment.config_name,
        "deploymentId": deployment.id,
        "revision": revision(deployment),
        "status": progress.status.as_str(),
        "createTime": deployment.created,
        "creator": "user",
        "deploymentOverview": overview(progress.target_status().as_str()),
        "deploymentStyle": {"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
        "computePlatform": "Lambda",
        "deploymentStatusMessages": [],
        "autoRollbackConfiguration": auto_rollback(),
    });
    let optional = [
        (
            "deploymentGroupName",
            deployment.group.as_ref().map(|g| json!(g)),
        ),
        (
            "description",
            deployment.description.as_ref().map(|d| json!(d)),
        ),
        ("startTime", progress.start.map(|t| json!(t))),
        ("completeTime", progress.complete.map(|t| json!(t))),
        (
            "errorInformation",
            progress
                .error
                .as_ref()
                .map(|e| json!({"code": e.code, "message": e.message})),
        ),
        (
            "rollbackInfo",
            progress
                .rollback_message
                .as_ref()
                .map(|m| json!({"rollbackMessage": m})),
        ),
    ];
    for (key, value) in optional {
        if let Some(value) = value {
            info[key] = value;
        }
    }
    info
}

fn revision(deployment: &Deployment) -> Value {
    let member = if deployment.revision_type == "String" {
        "string"
    } else {
        "appSpecContent"
    };
    json!({
        "revisionType": deployment.revision_type,
        member: {"content": deployment.content},
    })
}

/// `DeploymentOverview` of the one target in `status`.
fn overview(status: &str) -> Value {
    let mut overview = json!({"Pending": 0, "InProgress": 0, "Succeeded": 0, "Failed": 0, "Skipped": 0, "Ready": 0});
    overview[status] = json!(1);
    overview
}

pub fn lambda_target(deployment: &Deployment) -> Value {
    let progress = deployment.progress();
    let events: Vec<Value> = progress
        .events
        .iter()
        .map(|event| {
            let mut value =
                json!({"lifecycleEventName": event.name, "status": event.status.as_str()});
            if let Some(start) = event.start {
                value["startTime"] = json!(start);
            }
            if let Some(end) = event.end {
                value["endTime"] = json!(end);
            }
            if let Some(message) = &event.message {
                value["diagnostics"] = json!({"errorCode": "ScriptFailed", "message": message});
            }
            value
        })
        .collect();
    debug_assert_eq!(events.len(), EVENTS.len());
    let function = &deployment.function;
    json!({
        "deploymentId": deployment.id,
        "targetId": deployment.target_id(),
        "targetArn": format!("{}:{}", function.arn(), deployment.appspec.alias),
        "status": progress.target_status().as_str(),
        "lastUpdatedAt": progress.updated,
        "lifecycleEvents": events,
        "lambdaFunctionInfo": {
            "functionName": function.name(),
            "functionAlias": deployment.appspec.alias,
            "currentVersion": deployment.appspec.current_version,
            "targetVersion": deployment.appspec.target_version,
            "targetVersionWeight": progress.weight,
        },
    })
}

fn auto_rollback() -> Value {
    json!({"enabled": true, "events": AUTO_ROLLBACK_EVENTS})
}

/// `LastDeploymentInfo` of a deployment.
fn last(deployment: &Deployment) -> Value {
    let progress = deployment.progress();
    let mut info = json!({
        "deploymentId": deployment.id,
        "status": progress.status.as_str(),
        "createTime": deployment.created,
    });
    if let Some(end) = progress.complete {
        info["endTime"] = json!(end);
    }
    info
}

/// `DeploymentGroupInfo`, with the last attempted and the last successful of `deployments`
/// (the group's, newest first).
pub fn group_info(group: &DeploymentGroup, deployments: &[&Deployment], account: &str) -> Value {
    let mut info = json!({
        "applicationName": group.application,
        "deploymentGroupId": group.id,
        "deploymentGroupName": group.name,
        "deploymentConfigName": group.config_name,
        "serviceRoleArn": format!("arn:aws:iam::{account}:role/redline-local-CodeDeployServiceRole"),
        "alarmConfiguration": {
            "enabled": !group.alarms.is_empty(),
            "ignorePollAlarmFailure": false,
            "alarms": group.alarms.iter().map(|name| json!({"name": name})).collect::<Vec<_>>(),
        },
        "autoRollbackConfiguration": auto_rollback(),
        "deploymentStyle": {"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
        "computePlatform": "Lambda",
    });
    if let Some(attempted) = deployments.first() {
        info["lastAttemptedDeployment"] = last(attempted);
    }
    let succeeded = deployments
        .iter()
        .find(|d| d.progress().status == Status::Succeeded);
    if let Some(succeeded) = succeeded {
        info["lastSuccessfulDeployment"] = last(succeeded);
    }
    info
}
