//! CodeDeploy on the invoke port, in its own protocol (awsJson1.1: `POST /` with
//! `X-Amz-Target: CodeDeploy_20141006.<Operation>`): `CreateDeployment` with a Lambda AppSpec,
//! `GetDeployment`, `ListDeploymentTargets`, `GetDeploymentTarget` and
//! `PutLifecycleEventHookExecutionStatus`, enough for the traffic hooks. Any application and
//! deployment group name is accepted. Layout: [`appspec`] reads the AppSpec, [`schedule`] says
//! which steps a deployment type plays, [`deployment`] plays them; this file is the wire, and
//! [`error`] the one place a refusal becomes CodeDeploy's error.

pub mod appspec;
pub mod deployment;
pub mod in_flight;
pub mod schedule;
pub mod watch;

use crate::functions::Functions;
use crate::http::{HttpRequest, HttpResponse};
use appspec::AppSpec;
use bytes::Bytes;
use deployment::{Deployment, HookStatus, ReportRefused, EVENTS};
use schedule::{DeploymentType, DEFAULT_CONFIG};
use serde_json::{json, Map, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const TARGET_PREFIX: &str = "CodeDeploy_20141006.";
const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// The operation an awsJson1.1 request names (`POST /` with `X-Amz-Target`), or `None`.
pub fn operation(request: &HttpRequest) -> Option<String> {
    if request.method != "POST" || request.path != "/" {
        return None;
    }
    redline_events::request::header(&request.headers, "x-amz-target")?
        .strip_prefix(TARGET_PREFIX)
        .map(str::to_string)
}

/// Whether an operation changes anything: only loopback clients may call those.
pub fn changes(operation: &str) -> bool {
    !matches!(
        operation,
        "GetDeployment" | "ListDeploymentTargets" | "GetDeploymentTarget"
    )
}

/// A CodeDeploy error: its type (`__type` and `x-amzn-errortype`) and message.
#[derive(Debug)]
pub struct DeployError {
    pub kind: &'static str,
    pub message: String,
}

fn refuse(kind: &'static str, message: impl Into<String>) -> DeployError {
    DeployError {
        kind,
        message: message.into(),
    }
}

pub fn error(error: DeployError) -> HttpResponse {
    let status = if error.kind == "AccessDeniedException" {
        403
    } else {
        400
    };
    let body = json!({"__type": error.kind, "message": error.message});
    HttpResponse {
        status,
        headers: vec![
            ("content-type".into(), CONTENT_TYPE.into()),
            ("x-amzn-errortype".into(), error.kind.into()),
            ("x-amzn-requestid".into(), crate::ids::uuid()),
        ],
        body: Bytes::from(body.to_string()),
    }
}

fn ok(body: Value) -> HttpResponse {
    HttpResponse {
        status: 200,
        headers: vec![
            ("content-type".into(), CONTENT_TYPE.into()),
            ("x-amzn-requestid".into(), crate::ids::uuid()),
        ],
        body: Bytes::from(body.to_string()),
    }
}

fn string(body: &Map<String, Value>, key: &str) -> Option<String> {
    body.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

pub struct CodeDeploy {
    functions: Arc<Functions>,
    /// How long a hook has to report (CodeDeploy's is an hour).
    hook_timeout: Duration,
    deployments: Mutex<Vec<Arc<Deployment>>>,
}

impl CodeDeploy {
    pub fn new(functions: Arc<Functions>, hook_timeout: Duration) -> Self {
        CodeDeploy {
            functions,
            hook_timeout,
            deployments: Mutex::new(Vec::new()),
        }
    }

    pub fn serve(&self, operation: &str, body: &Bytes) -> HttpResponse {
        let input =
            match serde_json::from_slice::<Value>(if body.is_empty() { b"{}" } else { body }) {
                Ok(Value::Object(map)) => map,
                _ => {
                    return error(refuse(
                        "SerializationException",
                        "The request body is not a JSON object.",
                    ))
                }
            };
        let answer = match operation {
            "CreateDeployment" => self.create(&input),
            "GetDeployment" => self.get(&input),
            "ListDeploymentTargets" => self.list_targets(&input),
            "GetDeploymentTarget" => self.get_target(&input),
            "PutLifecycleEventHookExecutionStatus" => self.put_hook_status(&input),
            other => Err(refuse(
                "UnknownOperationException",
                format!("The local runner does not serve CodeDeploy's {other}."),
            )),
        };
        match answer {
            Ok(body) => ok(body),
            Err(failure) => error(failure),
        }
    }

    fn deployment(&self, input: &Map<String, Value>) -> Result<Arc<Deployment>, DeployError> {
        let id = string(input, "deploymentId").ok_or_else(|| {
            refuse(
                "DeploymentIdRequiredException",
                "A deployment ID is required.",
            )
        })?;
        self.deployments
            .lock()
            .expect("not poisoned")
            .iter()
            .find(|d| d.id == id)
            .cloned()
            .ok_or_else(|| {
                refuse(
                    "DeploymentDoesNotExistException",
                    format!("The deployment {id} does not exist."),
                )
            })
    }

    /// `CreateDeployment`: checks the AppSpec against the functions (the alias must point at
    /// `CurrentVersion`, both versions must exist), then plays the deployment in the background.
    fn create(&self, input: &Map<String, Value>) -> Result<Value, DeployError> {
        let application = string(input, "applicationName").ok_or_else(|| {
            refuse(
                "ApplicationNameRequiredException",
                "The minimum number of required application names was not specified.",
            )
        })?;
        let config_name =
            string(input, "deploymentConfigName").unwrap_or_else(|| DEFAULT_CONFIG.to_string());
        let kind = DeploymentType::from_config_name(&config_name).ok_or_else(|| {
            refuse(
                "DeploymentConfigDoesNotExistException",
                format!("The deployment configuration {config_name} does not exist."),
            )
        })?;
        if kind.steps().is_none() {
            return Err(refuse(
                "InvalidDeploymentConfigNameException",
                format!("The local runner plays only CodeDeployDefault.LambdaAllAtOnce so far, not {config_name}."),
            ));
        }
        let revision = input
            .get("revision")
            .and_then(Value::as_object)
            .ok_or_else(|| {
                refuse(
                    "RevisionRequiredException",
                    "The revision ID was not specified.",
                )
            })?;
        let revision_type = revision
            .get("revisionType")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let member = match revision_type.as_str() {
            "AppSpecContent" => "appSpecContent",
            "String" => "string",
            _ => {
                return Err(refuse(
                    "InvalidRevisionException",
                    "A Lambda deployment's revision is AppSpecContent (or String) with the AppSpec's content.",
                ))
            }
        };
        let content = revision
            .get(member)
            .and_then(|m| m.get("content"))
            .and_then(Value::as_str)
            .ok_or_else(|| {
                refuse(
                    "InvalidRevisionException",
                    format!("The revision has no {member}.content."),
                )
            })?
            .to_string();
        let appspec =
            AppSpec::parse(&content).map_err(|e| refuse("InvalidRevisionException", e))?;
        let function = self
            .functions
            .get(&appspec.function)
            .cloned()
            .ok_or_else(|| {
                refuse(
                    "InvalidRevisionException",
                    format!(
                        "The AppSpec's function {} does not exist.",
                        appspec.function
                    ),
                )
            })?;
        let alias = function.alias(&appspec.alias).map_err(|_| {
            refuse(
                "InvalidRevisionException",
                format!("The function has no alias {}.", appspec.alias),
            )
        })?;
        let versions = function.version_numbers();
        for version in [&appspec.current_version, &appspec.target_version] {
            if !version.parse::<u64>().is_ok_and(|n| versions.contains(&n)) {
                return Err(refuse(
                    "InvalidRevisionException",
                    format!("The function has no version {version}."),
                ));
            }
        }
        if alias.version != appspec.current_version {
            return Err(refuse(
                "InvalidRevisionException",
                format!(
                    "The alias {} points to version {}, not to CurrentVersion {}.",
                    alias.name, alias.version, appspec.current_version
                ),
            ));
        }
        let deployment = Arc::new(Deployment::new(
            application,
            string(input, "deploymentGroupName"),
            config_name,
            kind,
            string(input, "description"),
            revision_type,
            content,
            appspec,
            function,
        ));
        {
            let mut deployments = self.deployments.lock().expect("not poisoned");
            let busy = deployments
                .iter()
                .any(|d| d.in_flight() && d.target_id() == deployment.target_id());
            if busy {
                return Err(refuse(
                    "DeploymentLimitExceededException",
                    format!(
                        "A deployment of {} is already in progress.",
                        deployment.target_id()
                    ),
                ));
            }
            deployments.push(deployment.clone());
        }
        tokio::spawn(
            deployment
                .clone()
                .play(self.functions.clone(), self.hook_timeout),
        );
        Ok(json!({"deploymentId": deployment.id}))
    }

    fn get(&self, input: &Map<String, Value>) -> Result<Value, DeployError> {
        let deployment = self.deployment(input)?;
        Ok(json!({"deploymentInfo": deployment_info(&deployment)}))
    }

    fn list_targets(&self, input: &Map<String, Value>) -> Result<Value, DeployError> {
        let deployment = self.deployment(input)?;
        Ok(json!({"targetIds": [deployment.target_id()]}))
    }

    fn get_target(&self, input: &Map<String, Value>) -> Result<Value, DeployError> {
        let deployment = self.deployment(input)?;
        let target = string(input, "targetId").ok_or_else(|| {
            refuse(
                "DeploymentTargetIdRequiredException",
                "A deployment target ID is required.",
            )
        })?;
        if target != deployment.target_id() {
            return Err(refuse(
                "DeploymentTargetDoesNotExistException",
                format!("The deployment target {target} does not exist."),
            ));
        }
        Ok(json!({"deploymentTarget": {
            "deploymentTargetType": "LambdaTarget",
            "lambdaTarget": lambda_target(&deployment),
        }}))
    }

    fn put_hook_status(&self, input: &Map<String, Value>) -> Result<Value, DeployError> {
        let deployment = self.deployment(input)?;
        let execution = string(input, "lifecycleEventHookExecutionId").ok_or_else(|| {
            refuse(
                "InvalidLifecycleEventHookExecutionIdException",
                "A lifecycle event hook execution ID is required.",
            )
        })?;
        let status = match string(input, "status").as_deref() {
            Some("Succeeded") => HookStatus::Succeeded,
            Some("Failed") => HookStatus::Failed,
            other => {
                return Err(refuse(
                    "InvalidLifecycleEventHookExecutionStatusException",
                    format!(
                        "A hook reports Succeeded or Failed, not {}.",
                        other.unwrap_or("nothing")
                    ),
                ))
            }
        };
        deployment
            .report(&execution, status)
            .map_err(|refused| match refused {
                ReportRefused::UnknownExecution => refuse(
                    "InvalidLifecycleEventHookExecutionIdException",
                    format!(
                        "The lifecycle event hook execution {execution} is not this deployment's."
                    ),
                ),
                ReportRefused::AlreadyCompleted => refuse(
                    "LifecycleEventAlreadyCompletedException",
                    format!(
                        "The lifecycle event of hook execution {execution} is already completed."
                    ),
                ),
            })?;
        Ok(json!({"lifecycleEventHookExecutionId": execution}))
    }
}

/// `DeploymentInfo`, timestamps in epoch seconds as awsJson1.1 writes them.
fn deployment_info(deployment: &Deployment) -> Value {
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

fn lambda_target(deployment: &Deployment) -> Value {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, path: &str, target: Option<&str>) -> HttpRequest {
        HttpRequest {
            method: method.into(),
            path: path.into(),
            query: String::new(),
            headers: target
                .map(|t| vec![("x-amz-target".to_string(), t.to_string())])
                .unwrap_or_default(),
            body: Bytes::new(),
            source_ip: "127.0.0.1".into(),
        }
    }

    #[test]
    fn operations_are_told_by_the_target_header_on_post_slash() {
        let target = Some("CodeDeploy_20141006.GetDeployment");
        assert_eq!(
            operation(&request("POST", "/", target)).as_deref(),
            Some("GetDeployment")
        );
        assert_eq!(operation(&request("GET", "/", target)), None);
        assert_eq!(operation(&request("POST", "/x", target)), None);
        assert_eq!(
            operation(&request("POST", "/", Some("Lambda.Invoke"))),
            None
        );
        assert!(changes("CreateDeployment") && changes("PutLifecycleEventHookExecutionStatus"));
        assert!(!changes("GetDeploymentTarget"));
    }

    #[test]
    fn errors_name_their_type_in_the_body_and_the_header() {
        let response = error(refuse("DeploymentDoesNotExistException", "no"));
        assert_eq!(response.status, 400);
        let body: Value = serde_json::from_slice(&response.body).unwrap();
        assert_eq!(body["__type"], "DeploymentDoesNotExistException");
        assert!(response
            .headers
            .contains(&("content-type".into(), CONTENT_TYPE.into())));
    }
}
