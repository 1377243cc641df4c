//! One Lambda deployment and the flow that plays it, as CodeDeploy does: the `BeforeAllowTraffic`
//! hook is invoked asynchronously with `{"DeploymentId", "LifecycleEventHookExecutionId"}` and
//! the deployment waits (at most the hook timeout) for that execution's report through
//! `PutLifecycleEventHookExecutionStatus`; then traffic moves as the type's schedule says; then
//! the `AfterAllowTraffic` hook. A hook that reports `Failed`, or none in time, rolls the alias
//! back to the current version and fails the deployment.

use super::appspec::AppSpec;
use super::schedule::{DeploymentType, Step};
use crate::functions::{AliasUpdate, Function, Functions, Reference};
use crate::output::say;
use crate::pool::Caller;
use crate::trace::Trace;
use bytes::Bytes;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::oneshot;

/// The lifecycle events of a Lambda deployment, in order.
pub const EVENTS: [&str; 3] = ["BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic"];
const BEFORE: usize = 0;
const ALLOW: usize = 1;
const AFTER: usize = 2;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Created,
    InProgress,
    Succeeded,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "Created",
            Status::InProgress => "InProgress",
            Status::Succeeded => "Succeeded",
            Status::Failed => "Failed",
        }
    }
}

/// A lifecycle event's status (and a target's: the same words).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventStatus {
    Pending,
    InProgress,
    Succeeded,
    Failed,
    Skipped,
}

impl EventStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            EventStatus::Pending => "Pending",
            EventStatus::InProgress => "InProgress",
            EventStatus::Succeeded => "Succeeded",
            EventStatus::Failed => "Failed",
            EventStatus::Skipped => "Skipped",
        }
    }
}

/// What a hook may report: `Succeeded` or `Failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HookStatus {
    Succeeded,
    Failed,
}

#[derive(Debug, Clone)]
pub struct LifecycleEvent {
    pub name: &'static str,
    pub status: EventStatus,
    pub start: Option<f64>,
    pub end: Option<f64>,
    /// Why it failed.
    pub message: Option<String>,
}

/// `errorInformation`: one of CodeDeploy's error codes and a message.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub code: &'static str,
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct Progress {
    pub status: Status,
    pub start: Option<f64>,
    pub complete: Option<f64>,
    pub error: Option<Failure>,
    pub events: Vec<LifecycleEvent>,
    /// The target version's share of the alias's traffic.
    pub weight: f64,
    pub updated: f64,
    pub rollback_message: Option<String>,
}

impl Progress {
    /// The target's status, from the deployment's.
    pub fn target_status(&self) -> EventStatus {
        match self.status {
            Status::Created => EventStatus::Pending,
            Status::InProgress => EventStatus::InProgress,
            Status::Succeeded => EventStatus::Succeeded,
            Status::Failed => EventStatus::Failed,
        }
    }
}

/// One hook invocation waiting for (or done with) its report.
struct Execution {
    id: String,
    report: Option<oneshot::Sender<HookStatus>>,
}

/// Why a report was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportRefused {
    UnknownExecution,
    AlreadyCompleted,
}

pub struct Deployment {
    pub id: String,
    pub application: String,
    pub group: Option<String>,
    pub config_name: String,
    pub kind: DeploymentType,
    pub description: Option<String>,
    /// `revision` as given (`AppSpecContent` or `String`, and its content).
    pub revision_type: String,
    pub content: String,
    pub appspec: AppSpec,
    pub function: Arc<Function>,
    pub created: f64,
    progress: Mutex<Progress>,
    executions: Mutex<Vec<Execution>>,
}

pub fn now_s() -> f64 {
    crate::ids::now_ms() as f64 / 1000.0
}

impl Deployment {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        application: String,
        group: Option<String>,
        config_name: String,
        kind: DeploymentType,
        description: Option<String>,
        revision_type: String,
        content: String,
        appspec: AppSpec,
        function: Arc<Function>,
    ) -> Deployment {
        let created = now_s();
        Deployment {
            id: format!("d-{}", crate::ids::hex(9).to_uppercase()),
            application,
            group,
            config_name,
            kind,
            description,
            revision_type,
            content,
            appspec,
            function,
            created,
            progress: Mutex::new(Progress {
                status: Status::Created,
                start: None,
                complete: None,
                error: None,
                events: EVENTS
                    .iter()
                    .map(|name| LifecycleEvent {
                        name,
                        status: EventStatus::Pending,
                        start: None,
                        end: None,
                        message: None,
                    })
                    .collect(),
                weight: 0.0,
                updated: created,
                rollback_message: None,
            }),
            executions: Mutex::new(Vec::new()),
        }
    }

    /// The deployment's single target: the function's alias.
    pub fn target_id(&self) -> String {
        format!("{}:{}", self.function.name(), self.appspec.alias)
    }

    pub fn progress(&self) -> Progress {
        self.lock().clone()
    }

    fn lock(&self) -> MutexGuard<'_, Progress> {
        self.progress.lock().expect("not poisoned")
    }

    fn event(&self, index: usize, status: EventStatus, message: Option<String>) {
        let mut progress = self.lock();
        let now = now_s();
        progress.updated = now;
        let event = &mut progress.events[index];
        if status == EventStatus::InProgress {
            event.start = Some(now);
        } else if event.start.is_some() {
            event.end = Some(now);
        }
        event.status = status;
        event.message = message;
    }

    pub fn in_flight(&self) -> bool {
        matches!(self.lock().status, Status::Created | Status::InProgress)
    }

    /// `PutLifecycleEventHookExecutionStatus`: hands the report to the waiting flow.
    pub fn report(&self, execution_id: &str, status: HookStatus) -> Result<(), ReportRefused> {
        let mut executions = self.executions.lock().expect("not poisoned");
        let execution = executions
            .iter_mut()
            .find(|e| e.id == execution_id)
            .ok_or(ReportRefused::UnknownExecution)?;
        let sender = execution
            .report
            .take()
            .ok_or(ReportRefused::AlreadyCompleted)?;
        say(&format!(
            "deployment {}: hook execution {execution_id} reported {status:?}",
            self.id
        ));
        sender
            .send(status)
            .map_err(|_| ReportRefused::AlreadyCompleted)
    }

    /// Plays the type's steps; on a failure, rolls back.
    pub async fn play(self: Arc<Self>, functions: Arc<Functions>, hook_timeout: Duration) {
        {
            let mut progress = self.lock();
            progress.status = Status::InProgress;
            progress.start = Some(now_s());
        }
        say(&format!(
            "deployment {}: {} {} → {} ({})",
            self.id,
            self.target_id(),
            self.appspec.current_version,
            self.appspec.target_version,
            self.config_name
        ));
        let steps = self.kind.steps().unwrap_or_default();
        let mut outcome = Ok(());
        for step in steps {
            outcome = match step {
                Step::BeforeAllowTraffic => {
                    let hook = self.appspec.before_allow_traffic.clone();
                    self.hook(BEFORE, hook, &functions, hook_timeout).await
                }
                Step::AfterAllowTraffic => {
                    let hook = self.appspec.after_allow_traffic.clone();
                    self.hook(AFTER, hook, &functions, hook_timeout).await
                }
                Step::Shift(weight) => self.shift(weight),
                Step::Wait(duration) => {
                    tokio::time::sleep(duration).await;
                    Ok(())
                }
            };
            if outcome.is_err() {
                break;
            }
        }
        match outcome {
            Ok(()) => {
                let mut progress = self.lock();
                progress.status = Status::Succeeded;
                progress.complete = Some(now_s());
                progress.updated = now_s();
                say(&format!("deployment {}: Succeeded", self.id));
            }
            Err(failure) => self.roll_back(failure),
        }
    }

    /// Moves `weight` of the alias's traffic to the target version; all of it points the alias
    /// at the target.
    fn shift(&self, weight: f64) -> Result<(), Failure> {
        if self.lock().events[ALLOW].status == EventStatus::Pending {
            self.event(ALLOW, EventStatus::InProgress, None);
        }
        let update = if weight >= 1.0 {
            AliasUpdate {
                version: Some(self.appspec.target_version.clone()),
                weights: Some(BTreeMap::new()),
                ..AliasUpdate::default()
            }
        } else {
            AliasUpdate {
                version: Some(self.appspec.current_version.clone()),
                weights: Some(BTreeMap::from([(
                    self.appspec.target_version.clone(),
                    weight,
                )])),
                ..AliasUpdate::default()
            }
        };
        match self.function.update_alias(&self.appspec.alias, update) {
            Ok(_) => {
                self.lock().weight = weight.min(1.0);
                if weight >= 1.0 {
                    self.event(ALLOW, EventStatus::Succeeded, None);
                }
                Ok(())
            }
            Err(refusal) => {
                let message = format!("The alias could not be moved: {refusal:?}");
                self.event(ALLOW, EventStatus::Failed, Some(message.clone()));
                Err(Failure {
                    code: "INVALID_LAMBDA_CONFIGURATION",
                    message,
                })
            }
        }
    }

    /// Invokes a hook (asynchronously, as CodeDeploy does) and waits for its report.
    async fn hook(
        &self,
        index: usize,
        hook: Option<String>,
        functions: &Functions,
        timeout: Duration,
    ) -> Result<(), Failure> {
        let event = EVENTS[index];
        let Some(hook) = hook else {
            self.event(index, EventStatus::Skipped, None);
            return Ok(());
        };
        self.event(index, EventStatus::InProgress, None);
        let fail = |message: String, code: &'static str| {
            self.event(index, EventStatus::Failed, Some(message.clone()));
            Err(Failure { code, message })
        };
        let reference = Reference::parse(&hook);
        let target = match functions.get(&hook).map(|f| f.resolve(reference.qualifier)) {
            Some(Ok(target)) => target,
            _ => {
                return fail(
                    format!("The {event} hook function {hook} does not exist."),
                    "INVALID_LAMBDA_FUNCTION",
                )
            }
        };
        let execution_id = crate::ids::hex(48);
        let (sender, report) = oneshot::channel();
        self.executions
            .lock()
            .expect("not poisoned")
            .push(Execution {
                id: execution_id.clone(),
                report: Some(sender),
            });
        let payload =
            json!({"DeploymentId": self.id, "LifecycleEventHookExecutionId": execution_id});
        let caller = Caller {
            invoked_arn: Some(target.invoked_arn.clone()),
            ..Caller::default()
        };
        let (pool, id) = (target.pool.clone(), self.id.clone());
        say(&format!(
            "deployment {id}: invoking the {event} hook {hook}"
        ));
        tokio::spawn(async move {
            let trace = Trace::continuing(None);
            let outcome = pool
                .invoke(Bytes::from(payload.to_string()), &trace, caller)
                .await;
            if outcome.label() != "success" {
                say(&format!(
                    "deployment {id}: the {event} hook's invocation ended {}",
                    outcome.label()
                ));
            }
        });
        let answer = tokio::time::timeout(timeout, report).await;
        // A report after this point is too late.
        for execution in self.executions.lock().expect("not poisoned").iter_mut() {
            if execution.id == execution_id {
                execution.report = None;
            }
        }
        match answer {
            Ok(Ok(HookStatus::Succeeded)) => {
                self.event(index, EventStatus::Succeeded, None);
                Ok(())
            }
            Ok(Ok(HookStatus::Failed)) => fail(
                format!("The {event} hook {hook} reported Failed."),
                "HOOK_EXECUTION_FAILURE",
            ),
            _ => fail(
                format!(
                    "The {event} hook {hook} did not report within {} s.",
                    timeout.as_secs_f64()
                ),
                "TIMEOUT",
            ),
        }
    }

    /// Points the alias back at the current version, weights cleared, and fails the deployment.
    fn roll_back(&self, failure: Failure) {
        let update = AliasUpdate {
            version: Some(self.appspec.current_version.clone()),
            weights: Some(BTreeMap::new()),
            ..AliasUpdate::default()
        };
        let rolled_back = self
            .function
            .update_alias(&self.appspec.alias, update)
            .is_ok();
        let mut progress = self.lock();
        let now = now_s();
        for event in progress.events.iter_mut() {
            if event.status == EventStatus::Pending {
                event.status = EventStatus::Skipped;
            }
        }
        progress.status = Status::Failed;
        progress.complete = Some(now);
        progress.updated = now;
        progress.weight = 0.0;
        progress.rollback_message = Some(if rolled_back {
            format!(
                "Rolled back: {} points to version {} again.",
                self.appspec.alias, self.appspec.current_version
            )
        } else {
            "The rollback could not move the alias.".into()
        });
        say(&format!(
            "deployment {}: Failed ({}: {}); {}",
            self.id,
            failure.code,
            failure.message,
            progress.rollback_message.as_deref().unwrap_or_default()
        ));
        progress.error = Some(failure);
    }
}
