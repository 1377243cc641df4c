//! What the template names, derived from the stack name: the API functions (areas) and their
//! logical ids, the `live` alias, the deployment groups SAM makes, the hooks, the rollback
//! alarms' prefix and CodeDeploy's deployment configuration names. One table, read by every
//! command.

/// The alias API Gateway invokes and CodeDeploy shifts (`AutoPublishAlias: live`).
pub const ALIAS: &str = "live";

/// An API function of the template: its area name (what `--function` takes, the suffix of its
/// function name and its binary's name) and its logical id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Area {
    pub name: &'static str,
    pub logical_id: &'static str,
}

/// The HTTP functions, each with a `DeploymentPreference`, in the template's order.
pub const AREAS: [Area; 4] = [
    Area {
        name: "auth",
        logical_id: "AuthFunction",
    },
    Area {
        name: "users",
        logical_id: "UsersFunction",
    },
    Area {
        name: "greeter",
        logical_id: "GreeterFunction",
    },
    Area {
        name: "health",
        logical_id: "HealthFunction",
    },
];

/// The migrations function (a custom resource in AWS; invoked directly by the rehearsal).
pub const MIGRATE: &str = "migrate";

/// The area names, for `--function`'s possible values.
pub fn area_names() -> Vec<&'static str> {
    AREAS.iter().map(|a| a.name).collect()
}

pub fn area(name: &str) -> Option<Area> {
    AREAS.iter().copied().find(|a| a.name == name)
}

/// `<stack>-<area>`, the template's `FunctionName`.
pub fn function_name(stack: &str, area: &str) -> String {
    format!("{stack}-{area}")
}

/// The rollback alarms of an area: `<stack>-<area>-rollback-<what>`.
pub fn rollback_alarm_prefix(stack: &str, area: &str) -> String {
    format!("{stack}-{area}-rollback-")
}

/// SAM's CodeDeploy application, as the runner names it (in AWS CloudFormation appends a suffix;
/// the lookups never rely on it: they match deployments by their target function).
pub fn application(stack: &str) -> String {
    format!("{stack}-ServerlessDeploymentApplication")
}

/// SAM's deployment group of a function, as the runner names it.
pub fn deployment_group(stack: &str, area: Area) -> String {
    format!("{stack}-{}DeploymentGroup", area.logical_id)
}

/// The traffic hooks' function names (`CodeDeployHook_` prefix: SAM's CodeDeploy role may
/// invoke no other function).
pub fn pre_traffic_hook(stack: &str) -> String {
    format!("CodeDeployHook_{stack}-pre-traffic")
}

pub fn post_traffic_hook(stack: &str) -> String {
    format!("CodeDeployHook_{stack}-post-traffic")
}

/// SAM's deployment types, as `--type` takes them.
pub const DEPLOYMENT_TYPES: [&str; 9] = [
    "AllAtOnce",
    "Canary10Percent5Minutes",
    "Canary10Percent10Minutes",
    "Canary10Percent15Minutes",
    "Canary10Percent30Minutes",
    "Linear10PercentEvery1Minute",
    "Linear10PercentEvery2Minutes",
    "Linear10PercentEvery3Minutes",
    "Linear10PercentEvery10Minutes",
];

const CONFIG_PREFIX: &str = "CodeDeployDefault.Lambda";

/// `CodeDeployDefault.Lambda<Type>`.
pub fn deployment_config(kind: &str) -> String {
    format!("{CONFIG_PREFIX}{kind}")
}

/// The SAM type of a deployment configuration name; a custom configuration keeps its name.
pub fn deployment_type(config_name: &str) -> &str {
    config_name
        .strip_prefix(CONFIG_PREFIX)
        .filter(|kind| DEPLOYMENT_TYPES.contains(kind))
        .unwrap_or(config_name)
}

/// How many CodeDeploy minutes a type's schedule lasts (canary: the wait; linear: nine steps of
/// its interval), to bound how long a rehearsal may take.
pub fn type_minutes(kind: &str) -> u32 {
    let number = |s: &str| {
        s.chars()
            .filter(char::is_ascii_digit)
            .collect::<String>()
            .parse::<u32>()
            .unwrap_or(0)
    };
    if let Some(rest) = kind.strip_prefix("Canary10Percent") {
        number(rest)
    } else if let Some(rest) = kind.strip_prefix("Linear10PercentEvery") {
        9 * number(rest)
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_template() {
        let auth = area("auth").unwrap();
        assert_eq!(function_name("redline", "auth"), "redline-auth");
        assert_eq!(
            deployment_group("redline-local", auth),
            "redline-local-AuthFunctionDeploymentGroup"
        );
        assert_eq!(
            application("redline-local"),
            "redline-local-ServerlessDeploymentApplication"
        );
        assert_eq!(
            rollback_alarm_prefix("redline-local", "auth"),
            "redline-local-auth-rollback-"
        );
        assert_eq!(
            pre_traffic_hook("redline-local"),
            "CodeDeployHook_redline-local-pre-traffic"
        );
        assert_eq!(
            post_traffic_hook("redline"),
            "CodeDeployHook_redline-post-traffic"
        );
        assert!(area("migrate").is_none());
        assert_eq!(area_names(), ["auth", "users", "greeter", "health"]);
    }

    /// The resource's block in template.yaml: the lines after `  <LogicalId>:` up to the next
    /// resource (a line indented by two spaces exactly; comments do not end it).
    fn resource(template: &str, logical_id: &str) -> String {
        let header = format!("  {logical_id}:");
        let mut lines = template.lines().skip_while(|line| *line != header);
        assert!(
            lines.next().is_some(),
            "{logical_id} is not in template.yaml"
        );
        let next_resource = |line: &str| {
            line.starts_with("  ") && !line.starts_with("   ") && !line.starts_with("  #")
        };
        lines
            .take_while(|line| !next_resource(line))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Facts written once: this table is read against the template it names.
    #[test]
    fn the_table_agrees_with_the_template() {
        let template = include_str!("../../../template.yaml");
        for area in AREAS {
            let block = resource(template, area.logical_id);
            let expect = [
                format!("Binary: {}", area.name),
                format!("FunctionName: !Sub \"${{AWS::StackName}}-{}\"", area.name),
                format!("AutoPublishAlias: {ALIAS}"),
                "DeploymentPreference:".to_string(),
                "PreTraffic: !Ref PreTrafficHookFunction".to_string(),
                "PostTraffic: !Ref PostTrafficHookFunction".to_string(),
            ];
            for line in expect {
                assert!(block.contains(&line), "{}: no `{line}`", area.logical_id);
            }
            let alarm = format!(
                "AlarmName: !Sub \"{}",
                rollback_alarm_prefix("${AWS::StackName}", area.name)
            );
            assert!(template.contains(&alarm), "no {alarm}");
        }
        let migrate = resource(template, "MigrateFunction");
        assert!(migrate.contains(&format!("Binary: {MIGRATE}")));
        assert!(migrate.contains(&format!("\"${{AWS::StackName}}-{MIGRATE}\"")));
        let pre = resource(template, "PreTrafficHookFunction");
        assert!(pre.contains(&pre_traffic_hook("${AWS::StackName}")));
        let post = resource(template, "PostTrafficHookFunction");
        assert!(post.contains(&post_traffic_hook("${AWS::StackName}")));
        // The template's DeploymentType parameter allows exactly SAM's nine types.
        for kind in DEPLOYMENT_TYPES {
            assert!(template.contains(kind), "{kind}");
        }
    }

    #[test]
    fn deployment_types_round_trip_through_config_names() {
        for kind in DEPLOYMENT_TYPES {
            assert_eq!(deployment_type(&deployment_config(kind)), kind);
        }
        assert_eq!(
            deployment_type("CodeDeployDefault.LambdaCanary10Percent5Minutes"),
            "Canary10Percent5Minutes"
        );
        assert_eq!(deployment_type("MyOwnConfig"), "MyOwnConfig");
        assert_eq!(type_minutes("AllAtOnce"), 0);
        assert_eq!(type_minutes("Canary10Percent15Minutes"), 15);
        assert_eq!(type_minutes("Linear10PercentEvery2Minutes"), 18);
    }
}
