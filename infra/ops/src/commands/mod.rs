//! The commands that read or move `live`. Each function a command names gets its own outcome: a
//! refusal for one does not stop the others, an endpoint failure stops everything (exit 3).
//! [`Report`] is what they print, as text or as one JSON document.

pub mod promote;
pub mod rollback;
pub mod shift;
pub mod status;

use crate::aws::Aws;
use crate::codedeploy::Deployment;
use crate::error::OpsError;
use crate::lambda::Live;
use crate::names::{self, Area};
use serde_json::{json, Value};
use std::collections::HashMap;

pub struct Context {
    pub aws: Aws,
    pub stack: String,
}

impl Context {
    pub fn function_name(&self, area: Area) -> String {
        names::function_name(&self.stack, area.name)
    }
}

/// What a command did to one function.
#[derive(Debug, Clone, PartialEq)]
pub struct Done {
    /// `shifted`, `promoted`, `rolled-back` or `unchanged`.
    pub action: &'static str,
    pub live: Live,
    /// The deployment stopped, when one was.
    pub deployment: Option<String>,
    /// The drift warning, when the change moved live off CloudFormation's record.
    pub warning: Option<String>,
}

pub struct Outcome {
    pub area: &'static str,
    pub name: String,
    pub result: Result<Done, OpsError>,
}

pub struct Report {
    pub command: &'static str,
    pub stack: String,
    pub outcomes: Vec<Outcome>,
}

impl Report {
    /// 0 when every function was done, 1 when one was refused.
    pub fn exit_code(&self) -> u8 {
        self.outcomes
            .iter()
            .filter_map(|o| o.result.as_ref().err())
            .map(OpsError::exit_code)
            .max()
            .unwrap_or(0)
    }

    pub fn to_json(&self) -> Value {
        let functions: Vec<Value> = self
            .outcomes
            .iter()
            .map(|o| match &o.result {
                Ok(done) => json!({
                    "function": o.area, "name": o.name, "outcome": done.action,
                    "live": done.live.to_json(), "deployment": done.deployment,
                    "warning": done.warning, "reason": null, "message": null,
                }),
                Err(error) => json!({
                    "function": o.area, "name": o.name, "outcome": "refused",
                    "live": null, "deployment": null, "warning": null,
                    "reason": error.reason(), "message": error.to_string(),
                }),
            })
            .collect();
        json!({"stack": self.stack, "command": self.command, "functions": functions})
    }

    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for o in &self.outcomes {
            let line = match &o.result {
                Ok(done) => {
                    let stopped = done
                        .deployment
                        .as_ref()
                        .map_or(String::new(), |d| format!(" (deployment {d} stopped)"));
                    format!(
                        "{} ({}): {}{stopped}: {}\n",
                        o.area,
                        o.name,
                        done.action,
                        done.live.describe()
                    )
                }
                Err(error) => format!("{} ({}): refused: {error}\n", o.area, o.name),
            };
            out.push_str(&line);
        }
        out
    }

    /// The drift warnings, for stderr.
    pub fn warnings(&self) -> Vec<String> {
        self.outcomes
            .iter()
            .filter_map(|o| o.result.as_ref().ok()?.warning.clone())
            .collect()
    }
}

/// Runs `one` for each area in turn; an endpoint failure stops the command.
pub async fn each<F, Fut>(
    command: &'static str,
    context: &Context,
    areas: &[Area],
    mut one: F,
) -> Result<Report, OpsError>
where
    F: FnMut(Area, String) -> Fut,
    Fut: std::future::Future<Output = Result<Done, OpsError>>,
{
    let mut outcomes = Vec::new();
    for area in areas {
        let name = context.function_name(*area);
        let result = one(*area, name.clone()).await;
        if let Err(error) = &result {
            if error.aborts() {
                return Err(error.clone());
            }
        }
        outcomes.push(Outcome {
            area: area.name,
            name,
            result,
        });
    }
    Ok(Report {
        command,
        stack: context.stack.clone(),
        outcomes,
    })
}

/// The checks before a manual move of `live`: CodeDeploy must not be shifting it, and against
/// AWS it takes `--force` (and earns the drift warning).
pub fn may_move(
    context: &Context,
    function: &str,
    in_flight: &HashMap<String, Deployment>,
    force: bool,
) -> Result<Option<String>, OpsError> {
    if let Some(deployment) = in_flight.get(function) {
        return Err(OpsError::DeploymentInFlight {
            function: function.to_string(),
            deployment: deployment.id.clone(),
        });
    }
    if !context.aws.endpoints.against_aws() {
        return Ok(None);
    }
    if !force {
        return Err(OpsError::NeedsForce {
            function: function.to_string(),
        });
    }
    Ok(Some(drift_warning(function)))
}

pub fn drift_warning(function: &str) -> String {
    format!("warning: {function}:live is now off the version CloudFormation recorded; the next deploy of the stack fails until live is put back")
}

/// Refuses a version `function` has not published.
pub fn check_published(
    function: &str,
    version: &str,
    published: &[String],
) -> Result<(), OpsError> {
    if published.iter().any(|v| v == version) {
        return Ok(());
    }
    Err(OpsError::UnknownVersion {
        function: function.to_string(),
        version: version.to_string(),
        published: if published.is_empty() {
            "none".into()
        } else {
            published.join(", ")
        },
    })
}
