//! The template's application and groups and what deployments there were: `ListApplications`,
//! `ListDeploymentGroups`, `GetDeploymentGroup` and `ListDeployments`. All only read. A caller
//! that works against AWS too finds the groups by prefix through the two lists (CloudFormation
//! appends a random suffix to each name there; the runner does not). One page each: `nextToken`
//! is ignored and never answered.

use super::deployment::{Deployment, Status};
use super::{refuse, string, wire, CodeDeploy, DeployError};
use serde_json::{json, Map, Value};

impl CodeDeploy {
    /// `ListApplications`: the template's application, when it has a group.
    pub(super) fn list_applications(&self) -> Result<Value, DeployError> {
        let names: Vec<&str> = if self.groups.groups.is_empty() {
            Vec::new()
        } else {
            vec![self.groups.application.as_str()]
        };
        Ok(json!({"applications": names}))
    }

    /// `ListDeploymentGroups`: the template's groups, in its order.
    pub(super) fn list_groups(&self, input: &Map<String, Value>) -> Result<Value, DeployError> {
        let application = string(input, "applicationName").ok_or_else(|| {
            refuse(
                "ApplicationNameRequiredException",
                "The minimum number of required application names was not specified.",
            )
        })?;
        if application != self.groups.application || self.groups.groups.is_empty() {
            return Err(refuse(
                "ApplicationDoesNotExistException",
                format!("The application {application} does not exist."),
            ));
        }
        let names: Vec<&str> = self.groups.groups.iter().map(|g| g.name.as_str()).collect();
        Ok(json!({"applicationName": application, "deploymentGroups": names}))
    }

    /// `ListDeployments`: newest first, all of them, or an application's group's (both names or
    /// neither), optionally only some statuses or a creation time range.
    pub(super) fn list(&self, input: &Map<String, Value>) -> Result<Value, DeployError> {
        let application = string(input, "applicationName");
        let group = string(input, "deploymentGroupName");
        let all = self.all();
        match (&application, &group) {
            (None, Some(_)) => {
                return Err(refuse(
                    "ApplicationNameRequiredException",
                    "If deploymentGroupName is specified, applicationName must be too.",
                ))
            }
            (Some(_), None) => {
                return Err(refuse(
                    "DeploymentGroupNameRequiredException",
                    "If applicationName is specified, deploymentGroupName must be too.",
                ))
            }
            (Some(application), Some(group)) => {
                let known = |a: &str, g: Option<&str>| {
                    self.groups
                        .groups
                        .iter()
                        .any(|k| k.application == a && g.is_none_or(|g| k.name == g))
                        || all.iter().any(|d| {
                            d.application == a && g.is_none_or(|g| d.group.as_deref() == Some(g))
                        })
                };
                if !known(application, None) {
                    return Err(refuse(
                        "ApplicationDoesNotExistException",
                        format!("The application {application} does not exist."),
                    ));
                }
                if !known(application, Some(group)) {
                    return Err(refuse(
                        "DeploymentGroupDoesNotExistException",
                        format!("The deployment group {group} does not exist in {application}."),
                    ));
                }
            }
            (None, None) => {}
        }
        let statuses = match input.get("includeOnlyStatuses") {
            None | Some(Value::Null) => None,
            Some(Value::Array(names)) => Some(
                names
                    .iter()
                    .map(|name| {
                        let name = name.as_str().unwrap_or_default();
                        Status::from_name(name)
                            .map(Some)
                            .or_else(|| {
                                // Statuses of other compute platforms: valid, never a Lambda one's here.
                                matches!(name, "Queued" | "Baking" | "Ready").then_some(None)
                            })
                            .ok_or_else(|| {
                                refuse(
                                    "InvalidDeploymentStatusException",
                                    format!("{name} is not a deployment status."),
                                )
                            })
                    })
                    .collect::<Result<Vec<_>, _>>()?
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>(),
            ),
            Some(_) => {
                return Err(refuse(
                    "InvalidDeploymentStatusException",
                    "includeOnlyStatuses is a list of deployment statuses.",
                ))
            }
        };
        let range = input.get("createTimeRange");
        let bound = |key: &str| range.and_then(|r| r.get(key)).and_then(Value::as_f64);
        let (start, end) = (bound("start"), bound("end"));
        if let (Some(start), Some(end)) = (start, end) {
            if start > end {
                return Err(refuse(
                    "InvalidTimeRangeException",
                    "The time range's start is after its end.",
                ));
            }
        }
        let ids: Vec<&str> = all
            .iter()
            .rev()
            .filter(|d| application.as_deref().is_none_or(|a| d.application == a))
            .filter(|d| group.is_none() || d.group == group)
            .filter(|d| {
                statuses
                    .as_ref()
                    .is_none_or(|s| s.contains(&d.progress().status))
            })
            .filter(|d| start.is_none_or(|t| d.created >= t) && end.is_none_or(|t| d.created <= t))
            .map(|d| d.id.as_str())
            .collect();
        Ok(json!({"deployments": ids}))
    }

    /// `GetDeploymentGroup`: one of the template's groups.
    pub(super) fn get_group(&self, input: &Map<String, Value>) -> Result<Value, DeployError> {
        let application = string(input, "applicationName").ok_or_else(|| {
            refuse(
                "ApplicationNameRequiredException",
                "The minimum number of required application names was not specified.",
            )
        })?;
        let name = string(input, "deploymentGroupName").ok_or_else(|| {
            refuse(
                "DeploymentGroupNameRequiredException",
                "The deployment group name was not specified.",
            )
        })?;
        if application != self.groups.application {
            return Err(refuse(
                "ApplicationDoesNotExistException",
                format!("The application {application} does not exist."),
            ));
        }
        let group = self.groups.find(&application, &name).ok_or_else(|| {
            refuse(
                "DeploymentGroupDoesNotExistException",
                format!("The deployment group {name} does not exist in {application}."),
            )
        })?;
        let all = self.all();
        let mine: Vec<&Deployment> = all
            .iter()
            .rev()
            .filter(|d| d.application == application && d.group.as_deref() == Some(&name))
            .map(|d| d.as_ref())
            .collect();
        let account = &self.functions_account();
        Ok(json!({"deploymentGroupInfo": wire::group_info(group, &mine, account)}))
    }

    fn functions_account(&self) -> String {
        self.functions
            .all
            .first()
            .map(|f| f.template.account_id.clone())
            .unwrap_or_else(|| "123456789012".into())
    }
}
