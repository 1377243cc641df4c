//! `deploy --local`: a deployment rehearsed on the local runner, as CloudFormation and CodeDeploy
//! would play it in AWS. New versions from `--bin-dir` (`UpdateFunctionCode` naming the file,
//! which must sit under one of the runner's `--code-dir`s, then `PublishVersion`), the
//! migrations (`Invoke` of the migrate function's new version, as the custom resource runs it
//! before any alias moves), then one CodeDeploy deployment per API function with the template's
//! hooks, type and deployment group, watched until each ends. One JSON line per lifecycle event
//! on stdout; exit 0 when every function ended on its new version, 1 when any rolled back.

use crate::alarms;
use crate::aws::{detail, failure, is_loopback, Aws};
use crate::codedeploy::{self, Deployment};
use crate::commands::Context;
use crate::error::OpsError;
use crate::lambda;
use crate::names::{self, Area};
use crate::time;
use aws_sdk_codedeploy::error::ProvideErrorMetadata;
use aws_sdk_codedeploy::types::{AppSpecContent, RevisionLocation, RevisionLocationType};
use aws_sdk_lambda::primitives::Blob;
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub struct Plan {
    pub bin_dir: PathBuf,
    /// SAM's deployment type.
    pub kind: String,
    /// How long one CodeDeploy minute lasts on the runner.
    pub minute: Duration,
}

/// The runner-only header that sets how long a CodeDeploy minute lasts, in milliseconds.
pub const MINUTE_HEADER: &str = "x-redline-minute";

/// How often a deployment in flight is looked at: a few times per CodeDeploy minute, so that
/// each step of a linear type is seen, within bounds that neither spin nor make a person wait.
fn poll_interval(minute: Duration) -> Duration {
    (minute / 3).clamp(Duration::from_millis(100), Duration::from_secs(1))
}

/// What hooks and alarm evaluation may add to a type's schedule before a rehearsal counts as
/// stuck (the runner's `--hook-timeout` is 60 s by default, twice per deployment).
const SLACK: Duration = Duration::from_secs(300);

/// One lifecycle event: a JSON line with every field, null when it does not apply.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub event: &'static str,
    pub function: &'static str,
    pub version: Option<String>,
    pub weight: Option<f64>,
    pub alarm: Option<String>,
    pub reason: Option<String>,
}

impl Event {
    fn new(event: &'static str, function: &'static str, version: &str) -> Event {
        Event {
            event,
            function,
            version: Some(version.to_string()),
            weight: None,
            alarm: None,
            reason: None,
        }
    }

    pub fn to_json(&self, at: &str) -> Value {
        json!({
            "event": self.event,
            "function": self.function,
            "version": self.version,
            "weight": self.weight,
            "alarm": self.alarm,
            "reason": self.reason,
            "at": at,
        })
    }
}

fn emit(event: Event) {
    let line = event.to_json(&time::now()).to_string();
    let mut out = std::io::stdout().lock();
    // A closed stdout must not stop a rehearsal that is moving aliases.
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

/// Refuses anything but an endpoint on a loopback address for every service the rehearsal uses.
pub fn check_local(aws: &Aws) -> Result<(), OpsError> {
    let endpoints = &aws.endpoints;
    for endpoint in [
        &endpoints.lambda,
        &endpoints.codedeploy,
        &endpoints.cloudwatch,
    ] {
        match endpoint {
            Some(url) if is_loopback(url) => {}
            Some(url) => {
                return Err(OpsError::NotLocal {
                    endpoint: url.clone(),
                })
            }
            None => {
                return Err(OpsError::NotLocal {
                    endpoint: "none: AWS".into(),
                })
            }
        }
    }
    Ok(())
}

pub async fn run(context: &Context, plan: &Plan) -> Result<(), OpsError> {
    check_local(&context.aws)?;
    let bin_dir = std::fs::canonicalize(&plan.bin_dir).map_err(|e| OpsError::RehearsalStep {
        step: "--bin-dir",
        detail: format!("{}: {e}", plan.bin_dir.display()),
    })?;
    let stack = &context.stack;
    let mut versions = HashMap::new();
    for area in names::AREAS.iter().map(|a| a.name).chain([names::MIGRATE]) {
        let name = names::function_name(stack, area);
        let current = lambda::live(&context.aws.lambda, &name).await?.version;
        let new = publish(&context.aws, &name, &bin_dir.join(area)).await?;
        emit(Event::new("published", area, &new));
        versions.insert(area, (current, new));
    }
    let (_, migrate_version) = &versions[names::MIGRATE];
    migrate(&context.aws, stack, migrate_version).await?;

    let mut watches = Vec::new();
    for area in names::AREAS {
        let (current, new) = &versions[area.name];
        if current == new {
            let mut event = Event::new("succeeded", area.name, new);
            event.weight = Some(1.0);
            event.reason = Some("unchanged: live is already on this build".into());
            emit(event);
            continue;
        }
        let id = create(&context.aws, stack, area, current, new, plan).await?;
        watches.push(Watch::new(area, id, new.clone()));
    }
    let budget = plan.minute * (names::type_minutes(&plan.kind) + 1) + SLACK;
    let deadline = Instant::now() + budget;
    let mut rolled_back = Vec::new();
    while !watches.is_empty() {
        tokio::time::sleep(poll_interval(plan.minute)).await;
        let mut still = Vec::new();
        for mut watch in watches {
            match watch.poll(&context.aws, stack).await? {
                Some(true) => {}
                Some(false) => rolled_back.push(names::function_name(stack, watch.area.name)),
                None if Instant::now() > deadline => {
                    return Err(OpsError::NotFinished {
                        function: names::function_name(stack, watch.area.name),
                        deployment: watch.id,
                        seconds: budget.as_secs(),
                    })
                }
                None => still.push(watch),
            }
        }
        watches = still;
    }
    if rolled_back.is_empty() {
        Ok(())
    } else {
        Err(OpsError::RolledBack {
            functions: rolled_back.join(", "),
        })
    }
}

/// `UpdateFunctionCode` with the binary's path (the runner takes code only from its
/// `--code-dir`s, never uploaded bytes), then `PublishVersion` of exactly that code.
async fn publish(aws: &Aws, name: &str, binary: &std::path::Path) -> Result<String, OpsError> {
    let updated = aws
        .lambda
        .update_function_code()
        .function_name(name)
        .s3_key(binary.to_string_lossy())
        .send()
        .await
        .map_err(|e| match e.as_service_error() {
            Some(service) if service.is_invalid_parameter_value_exception() => {
                OpsError::RehearsalStep {
                    step: "UpdateFunctionCode",
                    detail: format!(
                        "{name} from {}: {} (start the runner with --code-dir naming --bin-dir)",
                        binary.display(),
                        detail(&e)
                    ),
                }
            }
            _ => failure("Lambda", "UpdateFunctionCode", &e),
        })?;
    let published = aws
        .lambda
        .publish_version()
        .function_name(name)
        .set_code_sha256(updated.code_sha256().map(str::to_string))
        .description("redline-ops deploy --local")
        .send()
        .await
        .map_err(|e| failure("Lambda", "PublishVersion", &e))?;
    Ok(published.version().unwrap_or_default().to_string())
}

/// Runs the migrations with the new migrate build (a plain invoke migrates and answers its
/// report, or fails with the typed error), then points migrate's `live` at it as
/// CloudFormation would.
async fn migrate(aws: &Aws, stack: &str, version: &str) -> Result<(), OpsError> {
    let name = names::function_name(stack, names::MIGRATE);
    let answer = aws
        .lambda
        .invoke()
        .function_name(&name)
        .qualifier(version)
        .payload(Blob::new(b"{}".to_vec()))
        .send()
        .await
        .map_err(|e| failure("Lambda", "Invoke", &e))?;
    if let Some(kind) = answer.function_error() {
        let body = answer
            .payload()
            .map(|p| String::from_utf8_lossy(p.as_ref()).into_owned())
            .unwrap_or_default();
        let reason: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
        return Err(OpsError::RehearsalStep {
            step: "migrate",
            detail: format!(
                "{kind}: {}",
                reason["errorType"].as_str().unwrap_or("no error type")
            ),
        });
    }
    let live = lambda::live(&aws.lambda, &name).await?;
    if live.version != version {
        lambda::point(&aws.lambda, &name, &live, version, None).await?;
    }
    Ok(())
}

/// The AppSpec SAM writes for a function: its alias, both versions, the template's hooks.
pub fn appspec(stack: &str, area: Area, current: &str, target: &str) -> Value {
    json!({
        "version": 0.0,
        "Resources": [{ area.logical_id: {
            "Type": "AWS::Lambda::Function",
            "Properties": {
                "Name": names::function_name(stack, area.name),
                "Alias": names::ALIAS,
                "CurrentVersion": current,
                "TargetVersion": target,
            },
        }}],
        "Hooks": [
            {"BeforeAllowTraffic": names::pre_traffic_hook(stack)},
            {"AfterAllowTraffic": names::post_traffic_hook(stack)},
        ],
    })
}

async fn create(
    aws: &Aws,
    stack: &str,
    area: Area,
    current: &str,
    target: &str,
    plan: &Plan,
) -> Result<String, OpsError> {
    let content = appspec(stack, area, current, target).to_string();
    let minute_ms = plan.minute.as_millis().max(1).to_string();
    let created = aws
        .codedeploy
        .create_deployment()
        .application_name(names::application(stack))
        .deployment_group_name(names::deployment_group(stack, area))
        .deployment_config_name(names::deployment_config(&plan.kind))
        .description(format!("redline-ops deploy --local: {current} → {target}"))
        .revision(
            RevisionLocation::builder()
                .revision_type(RevisionLocationType::AppSpecContent)
                .app_spec_content(AppSpecContent::builder().content(content).build())
                .build(),
        )
        .customize()
        .mutate_request(move |request| {
            request
                .headers_mut()
                .insert(MINUTE_HEADER, minute_ms.clone());
        })
        .send()
        .await
        .map_err(|e| match e.code() {
            // The runner refuses a type it cannot play or an AppSpec that does not match.
            Some(code)
                if code.starts_with("Invalid") || code.ends_with("DoesNotExistException") =>
            {
                OpsError::RehearsalStep {
                    step: "CreateDeployment",
                    detail: detail(&e),
                }
            }
            _ => failure("CodeDeploy", "CreateDeployment", &e),
        })?;
    Ok(created.deployment_id().unwrap_or_default().to_string())
}

/// One deployment being watched, and what has been said about it so far.
struct Watch {
    area: Area,
    id: String,
    version: String,
    weight: f64,
    hooks: BTreeSet<(String, String)>,
    alarms: BTreeSet<String>,
}

impl Watch {
    fn new(area: Area, id: String, version: String) -> Watch {
        Watch {
            area,
            id,
            version,
            weight: 0.0,
            hooks: BTreeSet::new(),
            alarms: BTreeSet::new(),
        }
    }

    /// Looks once and emits what changed: `Some(true)` ended on the new version,
    /// `Some(false)` rolled back, `None` still in flight.
    async fn poll(&mut self, aws: &Aws, stack: &str) -> Result<Option<bool>, OpsError> {
        let (deployment, alarms) = tokio::join!(
            codedeploy::get(&aws.codedeploy, &self.id),
            alarms::rollback_alarms(&aws.cloudwatch, &aws.endpoints, stack, self.area.name)
        );
        let (Some(deployment), alarms) = (deployment?, alarms?) else {
            return Ok(None);
        };
        for alarm in alarms {
            if alarm.state == "ALARM" && self.alarms.insert(alarm.name.clone()) {
                let mut event = Event::new("alarm", self.area.name, &self.version);
                event.weight = Some(self.weight);
                event.alarm = Some(alarm.name);
                event.reason = alarm.reason;
                emit(event);
            }
        }
        self.hooks(&deployment);
        let ended = codedeploy::ended(&deployment.state);
        if !ended && deployment.target_weight != self.weight {
            self.weight = deployment.target_weight;
            let mut event = Event::new("shift", self.area.name, &self.version);
            event.weight = Some(self.weight);
            emit(event);
        }
        if !ended {
            return Ok(None);
        }
        if deployment.state == "Succeeded" {
            if self.weight < 1.0 {
                let mut event = Event::new("shift", self.area.name, &self.version);
                event.weight = Some(1.0);
                emit(event);
            }
            let mut event = Event::new("succeeded", self.area.name, &self.version);
            event.weight = Some(1.0);
            emit(event);
            return Ok(Some(true));
        }
        // An alarm can go to ALARM and stop the deployment between two looks; CodeDeploy names
        // it in the deployment's message, so it still gets its event, before the rollback.
        let message = deployment.message.as_deref().unwrap_or_default();
        for name in activated_alarms(message) {
            if self.alarms.insert(name.clone()) {
                let mut event = Event::new("alarm", self.area.name, &self.version);
                event.weight = Some(self.weight);
                event.alarm = Some(name);
                event.reason = Some("activated: CodeDeploy stopped the deployment".into());
                emit(event);
            }
        }
        let mut event = Event::new("rollback", self.area.name, &deployment.current_version);
        event.weight = Some(0.0);
        event.reason = deployment
            .message
            .clone()
            .or_else(|| Some(deployment.state.clone()));
        emit(event);
        Ok(Some(false))
    }

    /// A `hook` event for each hook that finished since the last look.
    fn hooks(&mut self, deployment: &Deployment) {
        for (name, status, diagnostics) in &deployment.lifecycle {
            let hook = matches!(name.as_str(), "BeforeAllowTraffic" | "AfterAllowTraffic");
            let finished = matches!(status.as_str(), "Succeeded" | "Failed");
            if hook && finished && self.hooks.insert((name.clone(), status.clone())) {
                let mut event = Event::new("hook", self.area.name, &self.version);
                event.weight = Some(self.weight);
                event.reason = Some(match diagnostics {
                    Some(message) => format!("{name} {status}: {message}"),
                    None => format!("{name} {status}"),
                });
                emit(event);
            }
        }
    }
}

/// The alarms CodeDeploy names in a deployment stopped by alarms (`… Activated alarms:
/// <name>, <name>`).
fn activated_alarms(message: &str) -> Vec<String> {
    let Some((_, names)) = message.split_once("Activated alarms:") else {
        return Vec::new();
    };
    names
        .split('<')
        .skip(1)
        .filter_map(|part| part.split_once('>'))
        .map(|(name, _)| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_alarms_codedeploy_names_are_read_from_its_message() {
        let message = "One or more alarms have been activated according to the Amazon CloudWatch \
            metrics you selected, and the affected deployments have been stopped. Activated \
            alarms: <redline-auth-rollback-server-error-rate>, <redline-auth-rollback-latency-p99>";
        assert_eq!(
            activated_alarms(message),
            [
                "redline-auth-rollback-server-error-rate",
                "redline-auth-rollback-latency-p99"
            ]
        );
        assert!(activated_alarms("The BeforeAllowTraffic hook reported Failed.").is_empty());
    }

    #[test]
    fn the_appspec_is_sams() {
        let auth = names::area("auth").unwrap();
        assert_eq!(
            appspec("redline-local", auth, "1", "2"),
            json!({"version": 0.0,
                "Resources": [{"AuthFunction": {"Type": "AWS::Lambda::Function", "Properties": {
                    "Name": "redline-local-auth", "Alias": "live",
                    "CurrentVersion": "1", "TargetVersion": "2"}}}],
                "Hooks": [
                    {"BeforeAllowTraffic": "CodeDeployHook_redline-local-pre-traffic"},
                    {"AfterAllowTraffic": "CodeDeployHook_redline-local-post-traffic"}]})
        );
    }

    #[test]
    fn polls_a_few_times_a_minute_within_bounds() {
        assert_eq!(
            poll_interval(Duration::from_secs(60)),
            Duration::from_secs(1)
        );
        assert_eq!(
            poll_interval(Duration::from_millis(600)),
            Duration::from_millis(200)
        );
        assert_eq!(
            poll_interval(Duration::from_millis(30)),
            Duration::from_millis(100)
        );
    }

    #[test]
    fn events_carry_every_field() {
        let mut event = Event::new("alarm", "auth", "3");
        event.alarm = Some("redline-local-auth-rollback-server-error-rate".into());
        event.weight = Some(0.1);
        assert_eq!(
            event.to_json("2026-11-25T00:00:00.000Z"),
            json!({"event": "alarm", "function": "auth", "version": "3", "weight": 0.1,
                "alarm": "redline-local-auth-rollback-server-error-rate", "reason": null,
                "at": "2026-11-25T00:00:00.000Z"})
        );
    }
}
