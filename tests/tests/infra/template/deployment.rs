//! Deployment safety as SAM's translator hands it to CloudFormation (operations.md, "Deployment"):
//! the `DeploymentType` parameter offers SAM's nine types; each API function deploys through its
//! own CodeDeploy deployment group on that type, with its three rollback alarms and automatic
//! rollback, and its alias's update policy names both traffic hooks; nothing else gets a
//! deployment group; the hooks carry the names CodeDeploy's role may invoke and may do exactly
//! what they need; the migrations custom resource comes before every API function. What the
//! linters cannot see (an unknown type, a hook without the prefix) is checked by functions that
//! the last tests show failing.

use super::*;
use redline_core::needs::HOOK_PREFIX;
use serde_json::{json, Value as Json};

/// SAM's predefined `DeploymentPreference.Type`s: each is CodeDeploy's
/// `CodeDeployDefault.Lambda<Type>` configuration. Any other name is passed through as a custom
/// configuration that the stack does not define.
const SAM_TYPES: [&str; 9] = [
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

const DEFAULT_TYPE: &str = "Canary10Percent5Minutes";

/// The hooks by the lifecycle event the alias update policy runs them at.
const HOOK_EVENTS: [(&str, &str); 2] = [
    ("BeforeAllowTrafficHook", "PreTraffic"),
    ("AfterAllowTrafficHook", "PostTraffic"),
];

fn api_functions() -> Vec<&'static Needs> {
    NEEDS.iter().filter(|n| n.area.is_some()).collect()
}

/// The `DeploymentType` parameter: a string whose allowed values are exactly SAM's types, once
/// each, defaulting to a canary.
fn check_deployment_type_parameter(parameter: &Json) -> Result<(), String> {
    if parameter["Type"] != "String" {
        return Err(format!("Type is {}", parameter["Type"]));
    }
    let allowed: Vec<&str> = parameter["AllowedValues"]
        .as_array()
        .ok_or("no AllowedValues")?
        .iter()
        .map(|v| v.as_str().unwrap_or_default())
        .collect();
    let unique: BTreeSet<&str> = allowed.iter().copied().collect();
    if unique.len() != allowed.len() {
        return Err(format!("a type is listed twice: {allowed:?}"));
    }
    let sam: BTreeSet<&str> = SAM_TYPES.into_iter().collect();
    let unknown: Vec<&&str> = unique.difference(&sam).collect();
    let missing: Vec<&&str> = sam.difference(&unique).collect();
    if !unknown.is_empty() || !missing.is_empty() {
        return Err(format!("not SAM's types: {unknown:?}; missing {missing:?}"));
    }
    if parameter["Default"] != DEFAULT_TYPE {
        return Err(format!("Default is {}", parameter["Default"]));
    }
    Ok(())
}

/// A deployment group's `DeploymentConfigName` as SAM writes a predefined type:
/// `CodeDeployDefault.Lambda<Type>`, directly or as `!Sub [..${ConfigName}, {ConfigName: Type}]`.
/// Returns the type.
fn deployment_type(config_name: &Json) -> Result<String, String> {
    let name = match config_name {
        Json::String(name) => name.clone(),
        _ => {
            let sub = config_name["Fn::Sub"].as_array().ok_or("not a !Sub")?;
            let template = sub.first().and_then(Json::as_str).unwrap_or_default();
            let value = sub
                .get(1)
                .and_then(|v| v["ConfigName"].as_str())
                .ok_or("no ConfigName")?;
            template.replace("${ConfigName}", value)
        }
    };
    let kind = name
        .strip_prefix("CodeDeployDefault.Lambda")
        .ok_or_else(|| format!("{name} is no predefined Lambda configuration"))?;
    if !SAM_TYPES.contains(&kind) {
        return Err(format!("{kind} is not one of SAM's types"));
    }
    Ok(kind.to_string())
}

/// A hook's `FunctionName` (its `!Sub` text, or a plain name) starts with `CodeDeployHook_`.
fn check_hook_name(function_name: &Json) -> Result<(), String> {
    let name = function_name["Fn::Sub"]
        .as_str()
        .or_else(|| function_name.as_str())
        .ok_or_else(|| format!("FunctionName {function_name} is neither a name nor a !Sub"))?;
    if name.starts_with(HOOK_PREFIX) {
        Ok(())
    } else {
        Err(format!(
            "{name} does not start with {HOOK_PREFIX}: CodeDeploy's role may not invoke it"
        ))
    }
}

/// Each `(Hook, its function's logical id)` an alias's update policy names.
fn alias_hooks(alias: &Json) -> Vec<(&'static str, String)> {
    let update = &alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"];
    HOOK_EVENTS
        .iter()
        .filter_map(|(key, _)| Some((*key, update[key]["Ref"].as_str()?.to_string())))
        .collect()
}

#[test]
fn deployment_type_offers_exactly_sams_nine_types_and_defaults_to_a_canary() {
    let template = redline_template::json::to_json(&template());
    check_deployment_type_parameter(&template["Parameters"]["DeploymentType"])
        .unwrap_or_else(|e| panic!("DeploymentType: {e}"));
    // Each API function deploys on it; the preference sits on the function, not in Globals.
    for needs in api_functions() {
        let preference =
            &template["Resources"][needs.logical_id]["Properties"]["DeploymentPreference"];
        assert_eq!(
            preference["Type"],
            json!({"Ref": "DeploymentType"}),
            "{}",
            needs.logical_id
        );
    }
    let globals = &template["Globals"]["Function"];
    for key in ["DeploymentPreference", "AutoPublishAlias"] {
        assert!(
            globals.get(key).is_none(),
            "Globals.Function.{key} reaches every function"
        );
    }
}

#[test]
fn each_api_function_deploys_through_its_group_with_its_rollback_alarms_and_both_hooks() {
    let cfn = deployed();
    let groups = of_type(cfn, "AWS::CodeDeploy::DeploymentGroup");
    let applications = of_type(cfn, "AWS::CodeDeploy::Application");
    assert_eq!(
        applications.keys().copied().collect::<Vec<_>>(),
        ["ServerlessDeploymentApplication"]
    );
    assert_eq!(
        applications["ServerlessDeploymentApplication"]["Properties"]["ComputePlatform"],
        "Lambda"
    );
    // A group for each API function and nothing else: migrate, rotation and the hooks are not
    // deployed through CodeDeploy.
    let expected: BTreeSet<String> = api_functions()
        .iter()
        .map(|n| format!("{}DeploymentGroup", n.logical_id))
        .collect();
    assert_eq!(
        groups.keys().copied().collect::<BTreeSet<_>>(),
        expected.iter().map(String::as_str).collect(),
        "deployment groups"
    );

    for needs in api_functions() {
        let id = needs.logical_id;
        let group_id = format!("{id}DeploymentGroup");
        let group = &groups[group_id.as_str()]["Properties"];
        assert_eq!(
            group["ApplicationName"],
            json!({"Ref": "ServerlessDeploymentApplication"}),
            "{group_id}"
        );
        assert_eq!(
            deployment_type(&group["DeploymentConfigName"]).as_deref(),
            Ok(DEFAULT_TYPE),
            "{group_id}: the parameter's default"
        );
        assert_eq!(
            group["ServiceRoleArn"],
            json!({"Fn::GetAtt": ["CodeDeployServiceRole", "Arn"]}),
            "{group_id}"
        );

        // Its own three rollback alarms, watched.
        let prefix = id.trim_end_matches("Function");
        let rollback: BTreeSet<String> = of_type(cfn, "AWS::CloudWatch::Alarm")
            .into_keys()
            .filter(|alarm| alarm.starts_with(&format!("{prefix}Rollback")))
            .map(str::to_string)
            .collect();
        assert_eq!(rollback.len(), 3, "{id}: rollback alarms {rollback:?}");
        let alarms = &group["AlarmConfiguration"];
        assert_eq!(alarms["Enabled"], true, "{group_id}: alarms watched");
        let watched: BTreeSet<String> = alarms["Alarms"]
            .as_array()
            .expect("Alarms")
            .iter()
            .map(|a| a["Name"]["Ref"].as_str().unwrap_or_default().to_string())
            .collect();
        assert_eq!(watched, rollback, "{group_id}: its rollback alarms");

        // Back to the old version when a hook fails or an alarm fires.
        let rollback_config = &group["AutoRollbackConfiguration"];
        assert_eq!(rollback_config["Enabled"], true, "{group_id}");
        let events: Vec<&str> = rollback_config["Events"]
            .as_array()
            .expect("Events")
            .iter()
            .filter_map(Json::as_str)
            .collect();
        for event in ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_ALARM"] {
            assert!(events.contains(&event), "{group_id}: rolls back on {event}");
        }

        // The alias moves through that group, with both hooks.
        let alias_id = format!(
            "{id}Alias{}",
            needs.alias.expect("an API function has an alias")
        );
        let alias = &cfn["Resources"][alias_id.as_str()];
        let update = &alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"];
        assert_eq!(
            update["ApplicationName"],
            json!({"Ref": "ServerlessDeploymentApplication"}),
            "{alias_id}"
        );
        assert_eq!(
            update["DeploymentGroupName"],
            json!({"Ref": group_id}),
            "{alias_id}"
        );
        assert_eq!(
            alias_hooks(alias),
            [
                (
                    "BeforeAllowTrafficHook",
                    "PreTrafficHookFunction".to_string()
                ),
                (
                    "AfterAllowTrafficHook",
                    "PostTrafficHookFunction".to_string()
                )
            ],
            "{alias_id}: both hooks"
        );
    }
    // No other alias moves through CodeDeploy.
    for (id, alias) in of_type(cfn, "AWS::Lambda::Alias") {
        let api = api_functions()
            .iter()
            .any(|n| id.starts_with(&format!("{}Alias", n.logical_id)));
        assert_eq!(
            alias.get("UpdatePolicy").is_some(),
            api,
            "{id} UpdatePolicy"
        );
    }
}

#[test]
fn the_deployment_type_parameter_is_the_type_of_every_group() {
    let mut parameters = translation_parameters();
    parameters["DeploymentType"] = json!("Linear10PercentEvery3Minutes");
    let cfn = translate(&parameters);
    for (id, group) in of_type(&cfn, "AWS::CodeDeploy::DeploymentGroup") {
        assert_eq!(
            deployment_type(&group["Properties"]["DeploymentConfigName"]).as_deref(),
            Ok("Linear10PercentEvery3Minutes"),
            "{id}"
        );
    }
}

#[test]
fn codedeploy_may_invoke_the_hooks_and_each_runs_its_own_phase() {
    let cfn = deployed();
    let resources = cfn["Resources"].as_object().expect("Resources");
    let mut hooks = BTreeSet::new();
    for alias in of_type(cfn, "AWS::Lambda::Alias").into_values() {
        for (event, hook) in alias_hooks(alias) {
            let function = &resources[&hook];
            assert_eq!(function["Type"], "AWS::Lambda::Function", "{hook}");
            check_hook_name(&function["Properties"]["FunctionName"])
                .unwrap_or_else(|e| panic!("{hook}: {e}"));
            let phase = HOOK_EVENTS.iter().find(|(key, _)| *key == event).unwrap().1;
            assert_eq!(
                function["Properties"]["Environment"]["Variables"]["REDLINE_HOOK_PHASE"], phase,
                "{hook} runs at {event}"
            );
            hooks.insert(hook);
        }
    }
    let table: BTreeSet<String> = NEEDS
        .iter()
        .filter(|n| n.hook.is_some())
        .map(|n| n.logical_id.to_string())
        .collect();
    assert_eq!(hooks, table, "the hooks the aliases name are the table's");

    // SAM's role for CodeDeploy: its managed policy invokes only CodeDeployHook_* functions.
    let role = &resources["CodeDeployServiceRole"]["Properties"];
    assert_eq!(
        role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"],
        json!(["codedeploy.amazonaws.com"])
    );
    assert_eq!(
        role["ManagedPolicyArns"],
        json!(["arn:aws:iam::aws:policy/service-role/AWSCodeDeployRoleForLambda"])
    );
}

#[test]
fn the_hooks_may_do_exactly_what_they_need() {
    let cfn = deployed();
    // Every (action, resource) pair, the resource in the translated template's JSON.
    let pairs = |role: &Json| -> BTreeSet<(String, String)> {
        let mut out = BTreeSet::new();
        for policy in role["Properties"]["Policies"].as_array().expect("Policies") {
            for statement in policy["PolicyDocument"]["Statement"].as_array().unwrap() {
                assert_eq!(statement["Effect"], "Allow", "{statement}");
                assert!(statement.get("Condition").is_none(), "{statement}");
                let many = |v: &Json| match v {
                    Json::Array(items) => items.clone(),
                    other => vec![other.clone()],
                };
                for action in many(&statement["Action"]) {
                    for resource in many(&statement["Resource"]) {
                        let action = action.as_str().expect("an action").to_string();
                        out.insert((action, resource.to_string()));
                    }
                }
            }
        }
        out
    };
    let mut expected = BTreeSet::new();
    let groups = json!({"Fn::Sub": "arn:${AWS::Partition}:codedeploy:${AWS::Region}:${AWS::AccountId}:deploymentgroup:${ServerlessDeploymentApplication}/*"});
    for action in ["GetDeployment", "PutLifecycleEventHookExecutionStatus"] {
        expected.insert((format!("codedeploy:{action}"), groups.to_string()));
    }
    // No resource type in IAM for these: "*" or nothing.
    for action in ["GetDeploymentTarget", "ListDeploymentTargets"] {
        expected.insert((format!("codedeploy:{action}"), json!("*").to_string()));
    }
    for area in redline_core::Area::ALL {
        let arn = json!({"Fn::Sub": format!("${{{}.Arn}}:*", logical_id_of(area))});
        expected.insert(("lambda:InvokeFunction".to_string(), arn.to_string()));
    }
    expected.insert((
        "secretsmanager:GetSecretValue".to_string(),
        json!({"Ref": "SmokeAccountSecret"}).to_string(),
    ));
    expected.insert((
        "secretsmanager:BatchGetSecretValue".to_string(),
        json!("*").to_string(),
    ));

    for hook in NEEDS.iter().filter(|n| n.hook.is_some()) {
        let role_id = format!("{}Role", hook.logical_id);
        let role = &cfn["Resources"][role_id.as_str()];
        assert_eq!(
            cfn["Resources"][hook.logical_id]["Properties"]["Role"],
            json!({"Fn::GetAtt": [role_id, "Arn"]})
        );
        assert_eq!(pairs(role), expected, "{role_id}: (action, resource) pairs");
        assert_eq!(
            role["Properties"]["ManagedPolicyArns"],
            json!([{"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"}]),
            "{role_id}: logs, nothing else"
        );
    }
}

#[test]
fn migrations_run_once_per_deploy_before_any_api_function_changes() {
    let cfn = deployed();
    let resources = cfn["Resources"].as_object().expect("Resources");
    let custom = &resources["MigrateOnDeploy"];
    assert_eq!(custom["Type"], "AWS::CloudFormation::CustomResource");
    let version = versions_of(cfn, "MigrateFunction");
    assert_eq!(
        custom["Properties"],
        json!({
            "ServiceToken": {"Fn::GetAtt": ["MigrateFunction", "Arn"]},
            "ServiceTimeout": 600,
            // A new migrate build is a new version: CloudFormation sends an Update, it runs again.
            "MigrateVersion": {"Ref": version},
        }),
        "MigrateOnDeploy"
    );
    // SAM puts DependsOn on the Lambda function; its version and alias follow it.
    for (id, function) in of_type(cfn, "AWS::Lambda::Function") {
        let depends: Vec<&str> = match &function["DependsOn"] {
            Json::String(one) => vec![one.as_str()],
            Json::Array(many) => many.iter().filter_map(Json::as_str).collect(),
            _ => vec![],
        };
        let api = api_functions().iter().any(|n| n.logical_id == id);
        assert_eq!(
            depends.contains(&"MigrateOnDeploy"),
            api,
            "{id}: DependsOn MigrateOnDeploy exactly for the API functions"
        );
    }
}

/// The one `AWS::Lambda::Version` of a function (its logical id starts with the function's).
fn versions_of(cfn: &Json, function: &str) -> String {
    let versions: Vec<&str> = of_type(cfn, "AWS::Lambda::Version")
        .into_keys()
        .filter(|id| id.starts_with(&format!("{function}Version")))
        .collect();
    assert_eq!(versions.len(), 1, "{function}: versions {versions:?}");
    versions[0].to_string()
}

#[test]
fn each_version_publishes_its_own_function_and_its_alias_points_at_it() {
    let cfn = deployed();
    let versions = of_type(cfn, "AWS::Lambda::Version");
    let publishing: Vec<&Needs> = NEEDS.iter().filter(|n| n.alias.is_some()).collect();
    assert_eq!(versions.len(), publishing.len(), "one version per alias");
    for needs in publishing {
        let id = needs.logical_id;
        let version = versions_of(cfn, id);
        assert_eq!(
            versions[version.as_str()]["Properties"]["FunctionName"],
            json!({"Ref": id}),
            "{version} publishes {id}"
        );
        let alias = &cfn["Resources"][format!("{id}Alias{}", needs.alias.unwrap())]["Properties"];
        assert_eq!(alias["FunctionName"], json!({"Ref": id}));
        assert_eq!(
            alias["FunctionVersion"],
            json!({"Fn::GetAtt": [version, "Version"]}),
            "{id}'s alias"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The checks above fail on what the linters let through.

#[test]
fn the_type_check_refuses_an_unknown_type_that_sam_passes_through() {
    let mut parameters = translation_parameters();
    parameters["DeploymentType"] = json!("Canary10Percent6Minutes");
    let cfn = translate(&parameters);
    for (id, group) in of_type(&cfn, "AWS::CodeDeploy::DeploymentGroup") {
        let error = deployment_type(&group["Properties"]["DeploymentConfigName"])
            .expect_err("an unknown type is refused");
        assert!(error.contains("Canary10Percent6Minutes"), "{id}: {error}");
    }
    let typo = json!({"Fn::Sub": ["CodeDeployDefault.Lambda${ConfigName}", {"ConfigName": "Linear10PercentEvery5Minutes"}]});
    assert!(deployment_type(&typo).is_err());

    let parameter = |allowed: Json, default: &str| json!({"Type": "String", "AllowedValues": allowed, "Default": default});
    let sam = json!(SAM_TYPES);
    assert_eq!(
        check_deployment_type_parameter(&parameter(sam.clone(), DEFAULT_TYPE)),
        Ok(())
    );
    let mut unknown = SAM_TYPES.to_vec();
    unknown[3] = "Canary10Percent20Minutes";
    for (allowed, default) in [
        (json!(unknown), DEFAULT_TYPE),
        (json!(SAM_TYPES[..8]), DEFAULT_TYPE),
        (
            json!([SAM_TYPES.as_slice(), &["AllAtOnce"]].concat()),
            DEFAULT_TYPE,
        ),
        (sam, "AllAtOnce"),
    ] {
        assert!(
            check_deployment_type_parameter(&parameter(allowed.clone(), default)).is_err(),
            "{allowed} / {default} must be refused"
        );
    }
}

#[test]
fn the_hook_name_check_refuses_a_name_without_the_prefix() {
    assert_eq!(
        check_hook_name(&json!({"Fn::Sub": "CodeDeployHook_${AWS::StackName}-pre-traffic"})),
        Ok(())
    );
    for name in [
        json!({"Fn::Sub": "${AWS::StackName}-pre-traffic"}),
        json!({"Fn::Sub": "${AWS::StackName}-CodeDeployHook_pre-traffic"}),
        json!("codedeployhook_pre-traffic"),
        json!({"Ref": "AWS::StackName"}),
    ] {
        assert!(check_hook_name(&name).is_err(), "{name} must be refused");
    }
}
