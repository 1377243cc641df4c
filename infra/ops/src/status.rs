//! What `status` reports for each function, how drift is decided, and the two renderings (the
//! spec's JSON document and text). The lookups run concurrently: a command answers in well
//! under a second against the runner.

use crate::alarms::{self, Alarm};
use crate::aws::Aws;
use crate::codedeploy::{self, Deployment};
use crate::error::OpsError;
use crate::lambda::{self, round, Live};
use crate::names::{self, Area};
use serde_json::{json, Value};
use tokio::task::JoinSet;

#[derive(Debug, Clone, PartialEq)]
pub struct FunctionStatus {
    pub area: &'static str,
    pub name: String,
    pub live: Live,
    pub deployment: Option<Deployment>,
    pub alarms: Vec<Alarm>,
    /// The last successful deployment (looked up only when none is in flight).
    pub last: Option<Deployment>,
}

impl FunctionStatus {
    pub fn drift(&self) -> bool {
        drift(&self.live, self.deployment.is_some(), self.last.as_ref())
    }

    pub fn to_json(&self) -> Value {
        let deployment = self.deployment.as_ref().map(|d| {
            json!({
                "id": d.id,
                "type": d.kind,
                "state": d.state,
                "percentage": round(self.live.percentage_of(&d.target_version)),
            })
        });
        json!({
            "function": self.area,
            "name": self.name,
            "live": self.live.to_json(),
            "deployment": deployment,
            "alarms": self.alarms.iter().map(Alarm::to_json).collect::<Vec<_>>(),
            "drift": self.drift(),
        })
    }

    pub fn to_text(&self) -> String {
        let mut lines = vec![format!(
            "{} ({}): {}",
            self.area,
            self.name,
            self.live.describe()
        )];
        if let Some(d) = &self.deployment {
            lines.push(format!(
                "  deployment {} ({}) {}: {}% on version {} (from {})",
                d.id,
                d.kind,
                d.state,
                round(self.live.percentage_of(&d.target_version)),
                d.target_version,
                d.current_version
            ));
        }
        if self.alarms.is_empty() {
            lines.push("  rollback alarms: none found".into());
        } else {
            let states: Vec<String> = self
                .alarms
                .iter()
                .map(|a| format!("{} {}", a.name, a.state))
                .collect();
            lines.push(format!("  rollback alarms: {}", states.join(", ")));
        }
        if self.drift() {
            let last = self.last.as_ref().map_or(String::new(), |d| {
                format!(
                    " (deployment {} left it on version {})",
                    d.id, d.target_version
                )
            });
            lines.push(format!(
                "  drift: live is not where the last successful deployment left it{last}; the next CloudFormation deploy fails until it is"
            ));
        }
        lines.join("\n")
    }
}

/// Drift: with no deployment in flight, `live` carries weights (CloudFormation never leaves
/// any) or points elsewhere than the last successful deployment's target. With no deployment
/// recorded there is nothing to compare with: no drift.
pub fn drift(live: &Live, in_flight: bool, last: Option<&Deployment>) -> bool {
    if in_flight {
        return false;
    }
    live.additional.is_some() || last.is_some_and(|d| d.target_version != live.version)
}

/// The spec's `status` document.
pub fn document(stack: &str, functions: &[FunctionStatus]) -> Value {
    json!({
        "stack": stack,
        "functions": functions.iter().map(FunctionStatus::to_json).collect::<Vec<_>>(),
    })
}

pub fn text(stack: &str, functions: &[FunctionStatus]) -> String {
    let mut out = format!("stack {stack}\n");
    for function in functions {
        out.push_str(&function.to_text());
        out.push('\n');
    }
    out
}

/// Every lookup for `areas`: the aliases and alarms per function and the deployments in flight
/// at once, then the last successful deployments of the functions none is moving.
pub async fn gather(
    aws: &Aws,
    stack: &str,
    areas: &[Area],
) -> Result<Vec<FunctionStatus>, OpsError> {
    let mut per_function = JoinSet::new();
    for (index, area) in areas.iter().enumerate() {
        let (aws, stack, area) = (aws.clone(), stack.to_string(), *area);
        per_function.spawn(async move {
            let name = names::function_name(&stack, area.name);
            let (live, alarms) = tokio::join!(
                lambda::live(&aws.lambda, &name),
                alarms::rollback_alarms(&aws.cloudwatch, &aws.endpoints, &stack, area.name)
            );
            Ok::<_, OpsError>((index, area, name, live?, alarms?))
        });
    }
    let in_flight = codedeploy::in_flight(&aws.codedeploy, &aws.endpoints);
    let (mut in_flight, mut read) = tokio::join!(in_flight, async {
        let mut read = Vec::new();
        while let Some(done) = per_function.join_next().await {
            read.push(done.expect("a lookup task does not panic"));
        }
        read
    });
    read.sort_by_key(|r| r.as_ref().map(|(index, ..)| *index).unwrap_or(usize::MAX));
    let mut statuses = Vec::new();
    for result in read {
        let (_, area, name, live, alarms) = result?;
        let deployment = in_flight.as_mut().ok().and_then(|d| d.remove(&name));
        statuses.push(FunctionStatus {
            area: area.name,
            name,
            live,
            deployment,
            alarms,
            last: None,
        });
    }
    in_flight?;
    let idle: Vec<String> = statuses
        .iter()
        .filter(|s| s.deployment.is_none())
        .map(|s| s.name.clone())
        .collect();
    let mut last = codedeploy::last_succeeded(&aws.codedeploy, &aws.endpoints, &idle).await?;
    for status in &mut statuses {
        status.last = last.remove(&status.name);
    }
    Ok(statuses)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(id: &str, current: &str, target: &str) -> Deployment {
        Deployment {
            id: id.into(),
            kind: "Canary10Percent5Minutes".into(),
            state: "InProgress".into(),
            function: "redline-local-auth".into(),
            current_version: current.into(),
            target_version: target.into(),
            target_weight: 0.1,
            created: 0.0,
            message: None,
            lifecycle: vec![],
        }
    }

    fn live(version: &str, additional: Option<(&str, f64)>) -> Live {
        Live {
            version: version.into(),
            additional: additional.map(|(v, w)| (v.into(), w)),
            revision: None,
        }
    }

    #[test]
    fn drift_is_live_off_the_last_successful_deployment() {
        let last = deployment("d-1", "1", "2");
        assert!(!drift(&live("2", None), false, Some(&last)));
        assert!(drift(&live("1", None), false, Some(&last)));
        assert!(drift(&live("2", Some(("3", 0.2))), false, Some(&last)));
        assert!(drift(&live("2", Some(("3", 0.2))), false, None));
        assert!(!drift(&live("5", None), false, None));
        // CodeDeploy is moving it: not drift.
        assert!(!drift(&live("2", Some(("3", 0.1))), true, Some(&last)));
    }

    #[test]
    fn the_document_has_the_specs_shape() {
        let canary = FunctionStatus {
            area: "auth",
            name: "redline-local-auth".into(),
            live: live("2", Some(("3", 0.1))),
            deployment: Some(deployment("d-ABC", "2", "3")),
            alarms: vec![Alarm {
                name: "redline-local-auth-rollback-server-error-rate".into(),
                state: "OK".into(),
                reason: None,
            }],
            last: None,
        };
        let idle = FunctionStatus {
            area: "health",
            name: "redline-local-health".into(),
            live: live("4", None),
            deployment: None,
            alarms: vec![],
            last: Some(deployment("d-OLD", "3", "3")),
        };
        assert_eq!(
            document("redline-local", &[canary.clone(), idle.clone()]),
            json!({"stack": "redline-local", "functions": [
                {"function": "auth", "name": "redline-local-auth",
                 "live": {"version": "2", "additional_version": "3", "weight": 0.1},
                 "deployment": {"id": "d-ABC", "type": "Canary10Percent5Minutes", "state": "InProgress", "percentage": 10.0},
                 "alarms": [{"name": "redline-local-auth-rollback-server-error-rate", "state": "OK"}],
                 "drift": false},
                {"function": "health", "name": "redline-local-health",
                 "live": {"version": "4", "additional_version": null, "weight": null},
                 "deployment": null, "alarms": [], "drift": true},
            ]})
        );
        let text = text("redline-local", &[canary, idle]);
        assert!(
            text.contains("auth (redline-local-auth): live → 2, 10% → 3"),
            "{text}"
        );
        assert!(
            text.contains(
                "deployment d-ABC (Canary10Percent5Minutes) InProgress: 10% on version 3 (from 2)"
            ),
            "{text}"
        );
        assert!(text.contains("drift: live is not where the last successful deployment left it (deployment d-OLD left it on version 3)"), "{text}");
    }
}
