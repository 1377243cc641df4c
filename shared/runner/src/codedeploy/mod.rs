//! CodeDeploy on the invoke port, in its own protocol (awsJson1.1: `POST /` with
//! `X-Amz-Target: CodeDeploy_20141006.<Operation>`): `CreateDeployment` with a Lambda AppSpec
//! (every Lambda deployment type), `GetDeployment`, `ListDeployments`, `StopDeployment`,
//! `ListApplications`, `ListDeploymentGroups`, `GetDeploymentGroup`, `ListDeploymentTargets`,
//! `GetDeploymentTarget` and `PutLifecycleEventHookExecutionStatus`. The template's deployment groups ([`groups`]) are
//! known by name and bring their configuration and rollback alarms; any other application and
//! group name is accepted too, without alarms. Layout: [`appspec`] reads the AppSpec,
//! [`schedule`] says which steps a deployment type plays, [`minute`] how long its minutes last,
//! [`deployment`] plays them and asks [`watch`] about the alarms; this file is the operations
//! that create and drive deployments, `history` those that list them, [`wire`] their output
//! shapes, and [`error`] the one place a refusal becomes CodeDeploy's error.

pub mod appspec;
pub mod deployment;
pub mod groups;
mod history;
pub mod in_flight;
pub mod minute;
pub mod schedule;
pub mod watch;
pub mod wire;

use crate::functions::Functions;
use crate::http::{HttpRequest, HttpResponse};
use appspec::AppSpec;
use bytes::Bytes;
use deployment::{Deployment, HookStatus, ReportRefused, Request, Watching};
use groups::DeploymentGroups;
use schedule::{DeploymentType, DEFAULT_CONFIG};
use serde_json::{json, Map, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use watch::RollbackWatch;

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
        "GetDeployment"
            | "ListDeployments"
            | "GetDeploymentGroup"
            | "ListApplications"
            | "ListDeploymentGroups"
            | "ListDeploymentTargets"
            | "GetDeploymentTarget"
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
    groups: DeploymentGroups,
    /// Asked about a deployment group's alarms while its deployments shift traffic.
    watch: Arc<dyn RollbackWatch>,
    /// Oldest first.
    deployments: Mutex<Vec<Arc<Deployment>>>,
}

impl CodeDeploy {
    pub fn new(
        functions: Arc<Functions>,
        hook_timeout: Duration,
        groups: DeploymentGroups,
        watch: Arc<dyn RollbackWatch>,
    ) -> Self {
        CodeDeploy {
            functions,
            hook_timeout,
            groups,
            watch,
            deployments: Mutex::new(Vec::new()),
        }
    }

    /// One awsJson1.1 call; `headers` carry the runner's own `x-redline-minute`.
    pub fn serve(
        &self,
        operation: &str,
        headers: &[(String, String)],
        body: &Bytes,
    ) -> HttpResponse {
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
            "CreateDeployment" => self.create(&input, headers),
            "GetDeployment" => self.get(&input),
            "ListDeployments" => self.list(&input),
            "StopDeployment" => self.stop(&input),
            "GetDeploymentGroup" => self.get_group(&input),
            "ListApplications" => self.list_applications(),
            "ListDeploymentGroups" => self.list_groups(&input),
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

    fn all(&self) -> Vec<Arc<Deployment>> {
        self.deployments.lock().expect("not poisoned").clone()
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
    /// `CreateDeployment`: a group of the template brings its configuration (unless the call
    /// names one) and its alarms; `x-redline-minute` sets the minute.
    fn create(
        &self,
        input: &Map<String, Value>,
        headers: &[(String, String)],
    ) -> Result<Value, DeployError> {
        let application = string(input, "applicationName").ok_or_else(|| {
            refuse(
                "ApplicationNameRequiredException",
                "The minimum number of required application names was not specified.",
            )
        })?;
        let group_name = string(input, "deploymentGroupName");
        let group = group_name
            .as_deref()
            .and_then(|name| self.groups.find(&application, name));
        let minute = minute::parse(redline_events::request::header(headers, minute::HEADER))
            .map_err(|message| refuse("InvalidInputException", message))?;
        let config_name = string(input, "deploymentConfigName")
            .or_else(|| group.map(|g| g.config_name.clone()))
            .unwrap_or_else(|| DEFAULT_CONFIG.to_string());
        let kind = DeploymentType::from_config_name(&config_name).ok_or_else(|| {
            refuse(
                "DeploymentConfigDoesNotExistException",
                format!("The deployment configuration {config_name} does not exist."),
            )
        })?;
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
        let request = Request {
            application,
            group: group_name,
            config_name,
            kind,
            description: string(input, "description"),
            revision_type,
            content,
            appspec,
        };
        let watching = Watching {
            alarms: group.map(|g| g.alarms.clone()).unwrap_or_default(),
            minute,
            watch: self.watch.clone(),
        };
        let deployment = Arc::new(Deployment::new(request, function, watching));
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
        Ok(json!({"deploymentInfo": wire::deployment_info(&deployment)}))
    }

    /// `StopDeployment`: ends the deployment now. `autoRollbackEnabled` absent rolls back, as
    /// SAM's groups (`DEPLOYMENT_STOP_ON_REQUEST`) do; `false` leaves the alias where it is.
    fn stop(&self, input: &Map<String, Value>) -> Result<Value, DeployError> {
        let deployment = self.deployment(input)?;
        let roll_back = input
            .get("autoRollbackEnabled")
            .and_then(Value::as_bool)
            .unwrap_or(true);
        deployment.stop(roll_back).map_err(|completed| {
            refuse(
                "DeploymentAlreadyCompletedException",
                format!(
                    "The deployment {} is already completed ({}).",
                    deployment.id,
                    completed.0.as_str()
                ),
            )
        })?;
        let message = if roll_back {
            format!(
                "Stopped; {} points to version {} again.",
                deployment.target_id(),
                deployment.appspec.current_version
            )
        } else {
            format!("Stopped; {} is left as it was.", deployment.target_id())
        };
        Ok(json!({"status": "Succeeded", "statusMessage": message}))
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
            "lambdaTarget": wire::lambda_target(&deployment),
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

#[cfg(test)]
mod tests;
