//! A Lambda AppSpec, as `CreateDeployment` carries it in `revision.appSpecContent.content`
//! (YAML or JSON): the one function resource (name, alias, current and target version) and the
//! traffic hooks.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppSpec {
    /// `Properties.Name`: the function's name or ARN.
    pub function: String,
    pub alias: String,
    pub current_version: String,
    pub target_version: String,
    /// `BeforeAllowTraffic`: the function CodeDeploy invokes before traffic moves.
    pub before_allow_traffic: Option<String>,
    /// `AfterAllowTraffic`: after it moved.
    pub after_allow_traffic: Option<String>,
}

/// A version written as a number or a string (`CurrentVersion: 1` in YAML is a number).
fn version(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

impl AppSpec {
    pub fn parse(content: &str) -> Result<AppSpec, String> {
        // JSON is YAML, so one parser reads both.
        let document: Value = serde_yaml_ng::from_str(content)
            .map_err(|e| format!("The AppSpec file is not valid YAML or JSON: {e}"))?;
        let resources = document["Resources"]
            .as_array()
            .filter(|r| r.len() == 1)
            .ok_or("The AppSpec file must list exactly one resource under Resources.")?;
        let (_, resource) = resources[0]
            .as_object()
            .and_then(|r| r.iter().next())
            .ok_or("The AppSpec resource must be a map of one named resource.")?;
        if let Some(kind) = resource["Type"].as_str() {
            if kind != "AWS::Lambda::Function" {
                return Err(format!(
                    "The AppSpec resource type {kind} is not AWS::Lambda::Function."
                ));
            }
        }
        let properties = &resource["Properties"];
        let field = |name: &str| {
            version(&properties[name])
                .filter(|v| !v.is_empty())
                .ok_or(format!("The AppSpec resource has no Properties.{name}."))
        };
        let mut spec = AppSpec {
            function: field("Name")?,
            alias: field("Alias")?,
            current_version: field("CurrentVersion")?,
            target_version: field("TargetVersion")?,
            before_allow_traffic: None,
            after_allow_traffic: None,
        };
        if let Some(hooks) = document.get("Hooks").filter(|h| !h.is_null()) {
            let hooks = hooks
                .as_array()
                .ok_or("Hooks must be a list of {Event: Function}.")?;
            for hook in hooks {
                let (event, function) = hook
                    .as_object()
                    .and_then(|h| h.iter().next())
                    .ok_or("Hooks must be a list of {Event: Function}.")?;
                let function = function
                    .as_str()
                    .ok_or(format!("The {event} hook names no function."))?
                    .to_string();
                match event.as_str() {
                    "BeforeAllowTraffic" => spec.before_allow_traffic = Some(function),
                    "AfterAllowTraffic" => spec.after_allow_traffic = Some(function),
                    other => return Err(format!("{other} is not a Lambda lifecycle hook.")),
                }
            }
        }
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_and_json_appspecs_read_alike() {
        let yaml = r#"
version: 0.0
Resources:
  - AuthFunction:
      Type: AWS::Lambda::Function
      Properties:
        Name: redline-local-auth
        Alias: live
        CurrentVersion: 1
        TargetVersion: "2"
Hooks:
  - BeforeAllowTraffic: CodeDeployHook_PreTraffic
  - AfterAllowTraffic: CodeDeployHook_PostTraffic
"#;
        let json = r#"{"version": 0.0, "Resources": [{"AuthFunction": {"Type": "AWS::Lambda::Function",
            "Properties": {"Name": "redline-local-auth", "Alias": "live", "CurrentVersion": "1", "TargetVersion": 2}}}],
            "Hooks": [{"BeforeAllowTraffic": "CodeDeployHook_PreTraffic"}, {"AfterAllowTraffic": "CodeDeployHook_PostTraffic"}]}"#;
        let expected = AppSpec {
            function: "redline-local-auth".into(),
            alias: "live".into(),
            current_version: "1".into(),
            target_version: "2".into(),
            before_allow_traffic: Some("CodeDeployHook_PreTraffic".into()),
            after_allow_traffic: Some("CodeDeployHook_PostTraffic".into()),
        };
        assert_eq!(AppSpec::parse(yaml), Ok(expected.clone()));
        assert_eq!(AppSpec::parse(json), Ok(expected));
    }

    #[test]
    fn a_broken_appspec_says_what_is_wrong() {
        for (content, says) in [
            ("Resources: []", "exactly one resource"),
            (
                "Resources: [{F: {Properties: {Name: f, Alias: live, CurrentVersion: 1}}}]",
                "TargetVersion",
            ),
            (
                "Resources: [{F: {Properties: {Name: f, Alias: live, CurrentVersion: 1, TargetVersion: 2}}}]\nHooks: [{BeforeInstall: x}]",
                "BeforeInstall",
            ),
            ("{", "not valid YAML"),
        ] {
            let error = AppSpec::parse(content).unwrap_err();
            assert!(error.contains(says), "{content}: {error}");
        }
    }
}
