//! One Lambda deployment and the flow that plays it, as CodeDeploy does: the `BeforeAllowTraffic`
//! hook is invoked asynchronously with `{"DeploymentId", "LifecycleEventHookExecutionId"}` and
//! the deployment waits (at most the hook timeout) for that execution's report through
//! `PutLifecycleEventHookExecutionStatus`; then traffic moves as the type's schedule says; then
//! the `AfterAllowTraffic` hook. From the first shift on, the deployment group's rollback alarms
//! are asked through a [`RollbackWatch`] right after each shift and every tenth of a minute while
//! it waits or the `AfterAllowTraffic` hook runs. A hook that reports `Failed` (or none in time),
//! an alarm in ALARM, or one that cannot be evaluated rolls the alias back to the current version
//! and ends the deployment; so does `StopDeployment`, at once.
//!
//! Every move of the alias happens under one lock and only while the deployment is in flight, so
//! a stop and the flow never interleave their moves: whichever comes second sees the deployment
//! over and leaves the alias alone.

use super::appspec::AppSpec;
use super::minute;
use super::schedule::{DeploymentType, Step};
use super::watch::{Question, RollbackWatch, Verdict};
use crate::functions::{AliasUpdate, Function, Functions, Reference};
use crate::output::say;
use crate::pool::Caller;
use crate::trace::Trace;
use bytes::Bytes;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};
use tokio::sync::{oneshot, Notify};

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
    /// Stopped by `StopDeployment` or by an alarm in ALARM.
    Stopped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "Created",
            Status::InProgress => "InProgress",
            Status::Succeeded => "Succeeded",
            Status::Failed => "Failed",
            Status::Stopped => "Stopped",
        }
    }

    /// The deployment's status as `ListDeployments`' `includeOnlyStatuses` names it.
    pub fn from_name(name: &str) -> Option<Status> {
        [
            Status::Created,
            Status::InProgress,
            Status::Succeeded,
            Status::Failed,
            Status::Stopped,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
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

/// CodeDeploy's code for an alarm in ALARM; the deployment ends `Stopped`.
pub const ALARM_ACTIVE: &str = "ALARM_ACTIVE";
/// CodeDeploy's code for alarms it cannot poll; the deployment ends `Failed`.
pub const ALARM_CONFIG: &str = "ALARM_CONFIG";
/// A `StopDeployment`; the deployment ends `Stopped`.
pub const MANUAL_STOP: &str = "MANUAL_STOP";

impl Failure {
    /// The status a deployment ends with: stopped by an alarm or a request, else failed.
    pub fn ends(&self) -> Status {
        match self.code {
            ALARM_ACTIVE | MANUAL_STOP => Status::Stopped,
            _ => Status::Failed,
        }
    }

    /// What the rollback alarms' verdict means for the deployment (`None`: carry on).
    pub fn of_verdict(verdict: Verdict) -> Option<Failure> {
        match verdict {
            Verdict::Quiet => None,
            // CodeDeploy's own wording, with the alarm's name.
            Verdict::Alarm(alarm) => Some(Failure {
                code: ALARM_ACTIVE,
                message: format!("One or more alarms have been activated according to the Amazon CloudWatch metrics you selected, and the affected deployments have been stopped. Activated alarms: <{alarm}>"),
            }),
            Verdict::Unevaluable { alarm, reason } => Some(Failure {
                code: ALARM_CONFIG,
                message: format!("The rollback alarm {alarm} cannot be evaluated on the local runner: {reason}"),
            }),
        }
    }
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
            Status::Failed | Status::Stopped => EventStatus::Failed,
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

/// Why a stop was refused: the deployment is over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlreadyCompleted(pub Status);

/// What a `CreateDeployment` asked for, checked.
pub struct Request {
    pub application: String,
    pub group: Option<String>,
    pub config_name: String,
    pub kind: DeploymentType,
    pub description: Option<String>,
    /// `revision` as given (`AppSpecContent` or `String`, and its content).
    pub revision_type: String,
    pub content: String,
    pub appspec: AppSpec,
}

/// What the deployment watches while traffic is shifted, and how long its minute lasts.
pub struct Watching {
    /// The deployment group's rollback alarms (none outside the template's groups).
    pub alarms: Vec<String>,
    pub minute: Duration,
    pub watch: Arc<dyn RollbackWatch>,
}

pub struct Deployment {
    pub id: String,
    pub application: String,
    pub group: Option<String>,
    pub config_name: String,
    pub kind: DeploymentType,
    pub description: Option<String>,
    pub revision_type: String,
    pub content: String,
    pub appspec: AppSpec,
    pub function: Arc<Function>,
    pub created: f64,
    pub alarms: Vec<String>,
    pub minute: Duration,
    watch: Arc<dyn RollbackWatch>,
    /// When it was created: the alarms judge only what the version did since.
    since: SystemTime,
    progress: Mutex<Progress>,
    executions: Mutex<Vec<Execution>>,
    /// Held across every move of the alias and the end of the deployment.
    moving: Mutex<()>,
    /// Wakes the flow when `StopDeployment` has ended the deployment.
    stopped: Notify,
}

pub fn now_s() -> f64 {
    crate::ids::now_ms() as f64 / 1000.0
}

impl Deployment {
    pub fn new(request: Request, function: Arc<Function>, watching: Watching) -> Deployment {
        let created = now_s();
        Deployment {
            id: format!("d-{}", crate::ids::hex(9).to_uppercase()),
            application: request.application,
            group: request.group,
            config_name: request.config_name,
            kind: request.kind,
            description: request.description,
            revision_type: request.revision_type,
            content: request.content,
            appspec: request.appspec,
            function,
            created,
            alarms: watching.alarms,
            minute: watching.minute,
            watch: watching.watch,
            since: SystemTime::now(),
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
            moving: Mutex::new(()),
            stopped: Notify::new(),
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

    /// Plays the type's steps; on a failure, rolls back. Returns at once when `StopDeployment`
    /// ended the deployment.
    pub async fn play(self: Arc<Self>, functions: Arc<Functions>, hook_timeout: Duration) {
        {
            let mut progress = self.lock();
            if progress.status != Status::Created {
                return;
            }
            progress.status = Status::InProgress;
            progress.start = Some(now_s());
        }
        say(&format!(
            "deployment {}: {} {} → {} ({}, a minute lasts {} ms)",
            self.id,
            self.target_id(),
            self.appspec.current_version,
            self.appspec.target_version,
            self.config_name,
            self.minute.as_millis()
        ));
        let outcome = tokio::select! {
            biased;
            _ = self.stopped.notified() => return,
            outcome = self.run(&functions, hook_timeout) => outcome,
        };
        let _moving = self.moving();
        if !self.in_flight() {
            return;
        }
        match outcome {
            Ok(()) => {
                let mut progress = self.lock();
                progress.status = Status::Succeeded;
                progress.complete = Some(now_s());
                progress.updated = now_s();
                say(&format!("deployment {}: Succeeded", self.id));
            }
            Err(failure) => self.conclude(failure, true),
        }
    }

    async fn run(&self, functions: &Functions, hook_timeout: Duration) -> Result<(), Failure> {
        for step in self.kind.steps() {
            match step {
                Step::BeforeAllowTraffic => {
                    let hook = self.appspec.before_allow_traffic.clone();
                    self.hook(BEFORE, hook, functions, hook_timeout).await?;
                }
                Step::Shift(weight) => {
                    self.shift(weight)?;
                    self.check_alarms().await?;
                }
                Step::Wait { minutes } => {
                    tokio::select! {
                        _ = tokio::time::sleep(self.minute * minutes) => {}
                        failure = self.watch_alarms() => return Err(failure),
                    }
                }
                Step::AfterAllowTraffic => {
                    let hook = self.appspec.after_allow_traffic.clone();
                    tokio::select! {
                        outcome = self.hook(AFTER, hook, functions, hook_timeout) => outcome?,
                        failure = self.watch_alarms() => return Err(failure),
                    }
                }
            }
        }
        Ok(())
    }

    /// Asks the rollback alarms every tenth of a minute; returns only with a reason to roll
    /// back (the caller races it against a wait or a hook).
    async fn watch_alarms(&self) -> Failure {
        loop {
            if let Err(failure) = self.check_alarms().await {
                return failure;
            }
            tokio::time::sleep(minute::poll(self.minute)).await;
        }
    }

    /// One question to the rollback alarms. A group without alarms has nothing to ask. The
    /// watch may read metrics under locks: it runs off the async threads.
    async fn check_alarms(&self) -> Result<(), Failure> {
        if self.alarms.is_empty() {
            return Ok(());
        }
        let watch = self.watch.clone();
        let (function, version) = (
            self.function.template.logical_id.clone(),
            self.appspec.target_version.clone(),
        );
        let (alarms, since, minute) = (self.alarms.clone(), self.since, self.minute);
        let verdict = tokio::task::spawn_blocking(move || {
            watch.check(&Question {
                function: &function,
                version: &version,
                alarms: &alarms,
                since,
                minute,
            })
        })
        .await
        .unwrap_or_else(|_| Verdict::Unevaluable {
            alarm: self.alarms.join(", "),
            reason: "the alarm evaluator failed".into(),
        });
        match Failure::of_verdict(verdict) {
            None => Ok(()),
            Some(failure) => {
                say(&format!("deployment {}: {}", self.id, failure.message));
                Err(failure)
            }
        }
    }

    fn moving(&self) -> MutexGuard<'_, ()> {
        self.moving.lock().expect("not poisoned")
    }

    /// Moves `weight` of the alias's traffic to the target version; all of it points the alias
    /// at the target.
    fn shift(&self, weight: f64) -> Result<(), Failure> {
        let _moving = self.moving();
        if self.lock().status != Status::InProgress {
            // Stopped meanwhile: the stop moved the alias back, and the flow ends.
            return Err(Failure {
                code: MANUAL_STOP,
                message: "The deployment was stopped.".into(),
            });
        }
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
                {
                    let mut progress = self.lock();
                    progress.weight = weight.min(1.0);
                    progress.updated = now_s();
                }
                say(&format!(
                    "deployment {}: {} sends {} % to version {}",
                    self.id,
                    self.target_id(),
                    (weight.min(1.0) * 100.0).round(),
                    self.appspec.target_version
                ));
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

    /// `StopDeployment`: ends the deployment now, `Stopped`, with the alias back on the current
    /// version when `roll_back`, else left where it is.
    pub fn stop(&self, roll_back: bool) -> Result<(), AlreadyCompleted> {
        let _moving = self.moving();
        let status = self.lock().status;
        if !matches!(status, Status::Created | Status::InProgress) {
            return Err(AlreadyCompleted(status));
        }
        let failure = Failure {
            code: MANUAL_STOP,
            message: "The deployment was stopped by a StopDeployment request.".into(),
        };
        self.conclude(failure, roll_back);
        // One permit, kept until the flow awaits it.
        self.stopped.notify_one();
        Ok(())
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

    /// Ends the deployment as `failure` says (the caller holds `moving`): the alias back on the
    /// current version, weights cleared, when `restore`; events still pending skipped, one in
    /// progress failed.
    fn conclude(&self, failure: Failure, restore: bool) {
        let rolled_back = restore && {
            let update = AliasUpdate {
                version: Some(self.appspec.current_version.clone()),
                weights: Some(BTreeMap::new()),
                ..AliasUpdate::default()
            };
            self.function
                .update_alias(&self.appspec.alias, update)
                .is_ok()
        };
        let mut progress = self.lock();
        let now = now_s();
        for event in progress.events.iter_mut() {
            match event.status {
                EventStatus::Pending => event.status = EventStatus::Skipped,
                EventStatus::InProgress => {
                    event.status = EventStatus::Failed;
                    event.end = Some(now);
                    event.message = Some(failure.message.clone());
                }
                _ => {}
            }
        }
        progress.status = failure.ends();
        progress.complete = Some(now);
        progress.updated = now;
        progress.rollback_message = match (restore, rolled_back) {
            (true, true) => {
                progress.weight = 0.0;
                Some(format!(
                    "Rolled back: {} points to version {} again.",
                    self.appspec.alias, self.appspec.current_version
                ))
            }
            (true, false) => Some("The rollback could not move the alias.".into()),
            (false, _) => None,
        };
        say(&format!(
            "deployment {}: {} ({}: {}); {}",
            self.id,
            progress.status.as_str(),
            failure.code,
            failure.message,
            progress
                .rollback_message
                .as_deref()
                .unwrap_or("the alias is left as it is")
        ));
        progress.error = Some(failure);
    }
}
