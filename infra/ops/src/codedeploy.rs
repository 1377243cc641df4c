//! Which CodeDeploy deployment concerns a function, found the way the traffic hook finds its
//! target: `ListDeployments` (no application or group filter: in AWS their names carry a
//! suffix CloudFormation made up) → `GetDeployment` → `ListDeploymentTargets` →
//! `GetDeploymentTarget`, whose `lambdaFunctionInfo.functionName` names the function. Also
//! stopping one with rollback.

use crate::aws::{failure, lookup, Endpoints};
use crate::error::OpsError;
use crate::names;
use aws_sdk_codedeploy::types::{ComputePlatform, DeploymentStatus};
use aws_sdk_codedeploy::Client;
use std::collections::HashMap;
use tokio::task::JoinSet;

/// A Lambda deployment and its one target.
#[derive(Debug, Clone, PartialEq)]
pub struct Deployment {
    pub id: String,
    /// SAM's type (`Canary10Percent5Minutes`), or the configuration's own name.
    pub kind: String,
    /// CodeDeploy's status (`InProgress`, `Succeeded`, `Stopped`…).
    pub state: String,
    pub function: String,
    pub current_version: String,
    pub target_version: String,
    /// `targetVersionWeight` as the endpoint reports it.
    pub target_weight: f64,
    /// Epoch seconds, to order deployments newest first.
    pub created: f64,
    /// Why it failed or rolled back, when it did.
    pub message: Option<String>,
    /// The target's lifecycle events: name, status, and the diagnostics' message.
    pub lifecycle: Vec<(String, String, Option<String>)>,
}

/// The statuses of a deployment still moving traffic (or about to).
const IN_FLIGHT: [DeploymentStatus; 4] = [
    DeploymentStatus::Created,
    DeploymentStatus::Queued,
    DeploymentStatus::InProgress,
    DeploymentStatus::Ready,
];

/// How many deployments are read at once.
const CONCURRENCY: usize = 8;

/// Every deployment id with one of `statuses`.
async fn list(
    client: &Client,
    endpoints: &Endpoints,
    statuses: &[DeploymentStatus],
) -> Result<Vec<String>, OpsError> {
    let mut ids = Vec::new();
    let mut token = None;
    loop {
        let page = client
            .list_deployments()
            .set_include_only_statuses(Some(statuses.to_vec()))
            .set_next_token(token)
            .send()
            .await;
        let page = lookup(
            &endpoints.codedeploy,
            "CodeDeploy",
            "ListDeployments",
            page.map(Some),
            || None,
        )?;
        let Some(page) = page else {
            return Ok(ids);
        };
        ids.extend(page.deployments().iter().cloned());
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            return Ok(ids);
        }
    }
}

/// `GetDeployment`: the deployment without its target, or `None` when it is not Lambda's.
async fn info(client: Client, id: String) -> Result<Option<Deployment>, OpsError> {
    let answer = client
        .get_deployment()
        .deployment_id(&id)
        .send()
        .await
        .map_err(|e| failure("CodeDeploy", "GetDeployment", &e))?;
    let Some(info) = answer.deployment_info() else {
        return Ok(None);
    };
    // moto records no platform for some deployments; only another platform is skipped.
    if matches!(info.compute_platform(), Some(p) if *p != ComputePlatform::Lambda) {
        return Ok(None);
    }
    // The cause (a hook failed, an alarm fired) before what the rollback did about it.
    let message = info
        .error_information()
        .and_then(|e| e.message())
        .or_else(|| info.rollback_info().and_then(|r| r.rollback_message()))
        .map(str::to_string);
    Ok(Some(Deployment {
        id,
        kind: names::deployment_type(info.deployment_config_name().unwrap_or_default()).to_string(),
        state: info
            .status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        function: String::new(),
        current_version: String::new(),
        target_version: String::new(),
        target_weight: 0.0,
        created: info.create_time().map(|t| t.as_secs_f64()).unwrap_or(0.0),
        message,
        lifecycle: Vec::new(),
    }))
}

/// The deployment's Lambda target, filled into `deployment`; `None` when it has none.
pub async fn with_target(
    client: &Client,
    mut deployment: Deployment,
) -> Result<Option<Deployment>, OpsError> {
    let targets = client
        .list_deployment_targets()
        .deployment_id(&deployment.id)
        .send()
        .await
        .map_err(|e| failure("CodeDeploy", "ListDeploymentTargets", &e))?;
    // SAM makes one deployment group, hence one target, per function.
    let Some(target_id) = targets.target_ids().first() else {
        return Ok(None);
    };
    let target = client
        .get_deployment_target()
        .deployment_id(&deployment.id)
        .target_id(target_id)
        .send()
        .await
        .map_err(|e| failure("CodeDeploy", "GetDeploymentTarget", &e))?;
    let Some(lambda_target) = target.deployment_target().and_then(|t| t.lambda_target()) else {
        return Ok(None);
    };
    let Some(info) = lambda_target.lambda_function_info() else {
        return Ok(None);
    };
    deployment.lifecycle = lambda_target
        .lifecycle_events()
        .iter()
        .map(|event| {
            (
                event.lifecycle_event_name().unwrap_or_default().to_string(),
                event
                    .status()
                    .map(|s| s.as_str().to_string())
                    .unwrap_or_default(),
                event
                    .diagnostics()
                    .and_then(|d| d.message())
                    .map(str::to_string),
            )
        })
        .collect();
    deployment.function = info.function_name().unwrap_or_default().to_string();
    deployment.current_version = info.current_version().unwrap_or_default().to_string();
    deployment.target_version = info.target_version().unwrap_or_default().to_string();
    deployment.target_weight = info.target_version_weight();
    Ok(Some(deployment))
}

/// Reads the given deployments (a few at a time), newest first.
async fn read_all(client: &Client, ids: Vec<String>) -> Result<Vec<Deployment>, OpsError> {
    let mut read = Vec::new();
    for chunk in ids.chunks(CONCURRENCY) {
        let mut tasks = JoinSet::new();
        for id in chunk {
            tasks.spawn(info(client.clone(), id.clone()));
        }
        while let Some(done) = tasks.join_next().await {
            if let Some(deployment) = done.expect("a lookup task does not panic")? {
                read.push(deployment);
            }
        }
    }
    read.sort_by(|a, b| b.created.total_cmp(&a.created));
    Ok(read)
}

/// The deployments in flight, by function name (the newest, should there be several).
pub async fn in_flight(
    client: &Client,
    endpoints: &Endpoints,
) -> Result<HashMap<String, Deployment>, OpsError> {
    let ids = list(client, endpoints, &IN_FLIGHT).await?;
    let mut found = HashMap::new();
    for deployment in read_all(client, ids).await? {
        if let Some(deployment) = with_target(client, deployment).await? {
            found
                .entry(deployment.function.clone())
                .or_insert(deployment);
        }
    }
    Ok(found)
}

/// The last successful deployment of each of `functions`, walking newest first and stopping
/// as soon as every function has one.
pub async fn last_succeeded(
    client: &Client,
    endpoints: &Endpoints,
    functions: &[String],
) -> Result<HashMap<String, Deployment>, OpsError> {
    let mut found = HashMap::new();
    if functions.is_empty() {
        return Ok(found);
    }
    let ids = list(client, endpoints, &[DeploymentStatus::Succeeded]).await?;
    for deployment in read_all(client, ids).await? {
        if let Some(deployment) = with_target(client, deployment).await? {
            if functions.contains(&deployment.function) {
                found
                    .entry(deployment.function.clone())
                    .or_insert(deployment);
            }
        }
        if found.len() == functions.len() {
            break;
        }
    }
    Ok(found)
}

/// One deployment, with its target (the rehearsal's poll).
pub async fn get(client: &Client, id: &str) -> Result<Option<Deployment>, OpsError> {
    match info(client.clone(), id.to_string()).await? {
        Some(deployment) => with_target(client, deployment).await,
        None => Ok(None),
    }
}

/// `StopDeployment` with `autoRollbackEnabled`: CodeDeploy points the alias back itself.
pub async fn stop_with_rollback(client: &Client, id: &str) -> Result<(), OpsError> {
    client
        .stop_deployment()
        .deployment_id(id)
        .auto_rollback_enabled(true)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| failure("CodeDeploy", "StopDeployment", &e))
}

/// Whether a status is final.
pub fn ended(state: &str) -> bool {
    matches!(state, "Succeeded" | "Failed" | "Stopped")
}
