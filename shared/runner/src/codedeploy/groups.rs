//! The deployment groups SAM makes from the template: one per function with a
//! `DeploymentPreference`, in one application per stack. Names are CloudFormation's without the
//! random suffix it appends: application `<stack>-ServerlessDeploymentApplication`, group
//! `<stack>-<LogicalId>DeploymentGroup`. A group carries what `GetDeploymentGroup` shows and a
//! deployment uses: the configuration (`CodeDeployDefault.Lambda<Type>`, the preference's `Type`
//! resolved with the runner's parameters) and the rollback alarms' names (each `!Ref` of an
//! `AWS::CloudWatch::Alarm` resolved to its `AlarmName`).

use super::schedule::DeploymentType;
use redline_template::{intrinsic, Resolver, Template};
use serde_yaml_ng::Value;

/// SAM's automatic rollback for a deployment preference: on failure, on an alarm, on a stop.
pub const AUTO_ROLLBACK_EVENTS: [&str; 3] = [
    "DEPLOYMENT_FAILURE",
    "DEPLOYMENT_STOP_ON_ALARM",
    "DEPLOYMENT_STOP_ON_REQUEST",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentGroup {
    pub application: String,
    pub name: String,
    /// `deploymentGroupId`: stable for the runner's life.
    pub id: String,
    /// The function's logical id (`AuthFunction`).
    pub function: String,
    /// `CodeDeployDefault.Lambda<Type>`.
    pub config_name: String,
    /// The rollback alarms' names, in the template's order.
    pub alarms: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct DeploymentGroups {
    pub application: String,
    pub groups: Vec<DeploymentGroup>,
}

pub fn application_name(stack: &str) -> String {
    format!("{stack}-ServerlessDeploymentApplication")
}

pub fn group_name(stack: &str, logical_id: &str) -> String {
    format!("{stack}-{logical_id}DeploymentGroup")
}

impl DeploymentGroups {
    /// The groups of a template (`root` is its YAML, `template` its model), resolved for the
    /// runner's stack and parameters. A type or an alarm that does not resolve stops the runner,
    /// as it would stop SAM's deploy.
    pub fn from_template(
        root: &Value,
        template: &Template,
        resolver: &Resolver,
    ) -> Result<DeploymentGroups, String> {
        let stack = &resolver.stack_name;
        let mut groups = Vec::new();
        for function in &template.functions {
            let Some(preference) = function.properties.get("DeploymentPreference") else {
                continue;
            };
            let at = |what: &str| format!("{}: DeploymentPreference.{what}", function.logical_id);
            if let Some(enabled) = preference.get("Enabled") {
                let enabled = resolver
                    .resolve(enabled)
                    .map_err(|e| at(&format!("Enabled ({e})")))?;
                if enabled.eq_ignore_ascii_case("false") {
                    continue;
                }
            }
            let kind = preference
                .get("Type")
                .ok_or_else(|| at("Type is missing"))
                .and_then(|t| resolver.resolve(t).map_err(|e| at(&format!("Type ({e})"))))?;
            let config_name = format!("CodeDeployDefault.Lambda{kind}");
            if DeploymentType::from_config_name(&config_name).is_none() {
                return Err(at(&format!("Type {kind} is not a Lambda deployment type")));
            }
            let alarms = preference
                .get("Alarms")
                .and_then(Value::as_sequence)
                .into_iter()
                .flatten()
                .map(|alarm| {
                    alarm_name(root, alarm, resolver).map_err(|e| at(&format!("Alarms ({e})")))
                })
                .collect::<Result<Vec<_>, _>>()?;
            groups.push(DeploymentGroup {
                application: application_name(stack),
                name: group_name(stack, &function.logical_id),
                id: crate::ids::uuid(),
                function: function.logical_id.clone(),
                config_name,
                alarms,
            });
        }
        Ok(DeploymentGroups {
            application: application_name(stack),
            groups,
        })
    }

    pub fn find(&self, application: &str, group: &str) -> Option<&DeploymentGroup> {
        self.groups
            .iter()
            .find(|g| g.application == application && g.name == group)
    }
}

/// An entry of `Alarms`: `!Ref` of an alarm resource is its `AlarmName` (CloudFormation's
/// `<stack>-<LogicalId>` stand-in when it has none); anything else resolves as a value.
fn alarm_name(root: &Value, alarm: &Value, resolver: &Resolver) -> Result<String, String> {
    if let Some((_, target)) = intrinsic(alarm).filter(|(name, _)| name == "Ref") {
        let logical_id = target.as_str().unwrap_or_default();
        let resource = root
            .get("Resources")
            .and_then(|r| r.get(logical_id))
            .filter(|r| r.get("Type").and_then(Value::as_str) == Some("AWS::CloudWatch::Alarm"));
        if let Some(resource) = resource {
            return match resource.get("Properties").and_then(|p| p.get("AlarmName")) {
                Some(name) => resolver.resolve(name).map_err(|e| e.to_string()),
                None => Ok(format!("{}-{logical_id}", resolver.stack_name)),
            };
        }
    }
    resolver.resolve(alarm).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r#"
Parameters:
  DeploymentType: {Type: String, Default: Canary10Percent5Minutes}
Resources:
  AuthFunction:
    Type: AWS::Serverless::Function
    Properties:
      AutoPublishAlias: live
      DeploymentPreference:
        Type: !Ref DeploymentType
        Alarms:
          - !Ref AuthRateAlarm
          - !Ref UnnamedAlarm
          - literal-alarm
  QuietFunction:
    Type: AWS::Serverless::Function
    Properties:
      AutoPublishAlias: live
  OffFunction:
    Type: AWS::Serverless::Function
    Properties:
      DeploymentPreference: {Type: AllAtOnce, Enabled: false}
  AuthRateAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      AlarmName: !Sub "${AWS::StackName}-auth-rollback-server-error-rate"
  UnnamedAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties: {}
"#;

    fn groups(overrides: &[(&str, &str)]) -> Result<DeploymentGroups, String> {
        let root: Value = serde_yaml_ng::from_str(TEMPLATE).unwrap();
        let template = Template::from_document(&root).unwrap();
        let mut parameters = template.parameters.clone();
        for (name, value) in overrides {
            parameters.insert(name.to_string(), Some(value.to_string()));
        }
        let resolver = Resolver {
            parameters,
            conditions: Default::default(),
            region: "us-east-1".into(),
            account_id: "123456789012".into(),
            stack_name: "redline-local".into(),
        };
        DeploymentGroups::from_template(&root, &template, &resolver)
    }

    #[test]
    fn one_group_per_function_with_a_preference_named_as_cloudformation_names_it() {
        let groups = groups(&[]).unwrap();
        assert_eq!(
            groups.application,
            "redline-local-ServerlessDeploymentApplication"
        );
        assert_eq!(groups.groups.len(), 1, "{groups:?}");
        let auth = groups
            .find(
                "redline-local-ServerlessDeploymentApplication",
                "redline-local-AuthFunctionDeploymentGroup",
            )
            .unwrap();
        assert_eq!(auth.function, "AuthFunction");
        assert_eq!(
            auth.config_name,
            "CodeDeployDefault.LambdaCanary10Percent5Minutes"
        );
        assert_eq!(
            auth.alarms,
            [
                "redline-local-auth-rollback-server-error-rate",
                "redline-local-UnnamedAlarm",
                "literal-alarm"
            ]
        );
        assert!(groups
            .find("redline-local", "redline-local-AuthFunctionDeploymentGroup")
            .is_none());
    }

    #[test]
    fn the_type_follows_the_parameters_and_an_unknown_one_is_refused() {
        let linear = groups(&[("DeploymentType", "Linear10PercentEvery2Minutes")]).unwrap();
        assert_eq!(
            linear.groups[0].config_name,
            "CodeDeployDefault.LambdaLinear10PercentEvery2Minutes"
        );
        let refused = groups(&[("DeploymentType", "Sometimes")]).unwrap_err();
        assert!(
            refused.contains("AuthFunction") && refused.contains("Sometimes"),
            "{refused}"
        );
    }
}
