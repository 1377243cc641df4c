//! Environment variables, secrets in the environment, and the roles' managed policies.

use super::*;

#[test]
fn each_function_gets_exactly_the_variables_it_needs() {
    let template = template();
    let parameters = template["Parameters"]
        .as_mapping()
        .expect("template has Parameters");
    for id in FUNCTIONS.iter().copied() {
        let env = environment(&template, id);
        let actual: BTreeMap<&str, String> = env
            .iter()
            .map(|(name, value)| (name.as_str(), written(value)))
            .collect();
        assert_eq!(actual, expected_environment(id), "{id} environment");
        for (name, value) in &env {
            let mut refs = BTreeSet::new();
            referenced_names(value, &mut refs);
            for target in refs {
                assert!(
                    parameters.contains_key(target.as_str())
                        || secret_resources(&template).contains(&target),
                    "{id} {name} refers to {target}, neither a parameter nor a secret"
                );
            }
        }
    }
    assert_eq!(
        template["Parameters"]["Environment"]["Default"].as_str(),
        Some("prod")
    );
    assert_eq!(
        strings(&template["Parameters"]["Environment"]["AllowedValues"]),
        ["dev", "test", "prod"]
    );
}

#[test]
fn secrets_reach_only_their_functions() {
    let template = template();
    // Secret values live in Secrets Manager; the one secret parameter left is the Redis URL.
    assert_eq!(
        no_echo_parameters(&template),
        BTreeSet::from(["RedisUrl".to_string()]),
        "NoEcho parameters"
    );
    for old in [
        "DatabasePassword",
        "SigningKeys",
        "VerificationKeys",
        "DataKeys",
        "BlindIndexKey",
    ] {
        assert!(
            template["Parameters"].get(old).is_none(),
            "parameter {old} is back: its value belongs in a secret"
        );
    }
    let text = std::fs::read_to_string(root().join("template.yaml")).expect("template.yaml");
    assert!(
        !text.contains("{{resolve:"),
        "a dynamic reference puts a secret's value into a resource's properties"
    );
    let mut sensitive = no_echo_parameters(&template);
    sensitive.extend(secret_resources(&template));

    // Globals reach every function: no secret there.
    let mut global_refs = BTreeSet::new();
    referenced_names(&template["Globals"], &mut global_refs);
    let leaked: Vec<_> = global_refs.intersection(&sensitive).collect();
    assert!(leaked.is_empty(), "Globals carry secrets {leaked:?}");

    // The secrets each function reads come from the one table of which function needs what.
    let expected_secrets = |id: &str| -> BTreeSet<String> {
        Needs::of(id)
            .unwrap_or_else(|| panic!("unknown function {id}"))
            .secrets
            .iter()
            .map(|key| key.secret().to_string())
            .collect()
    };
    for id in FUNCTIONS.iter().copied() {
        assert_eq!(
            secret_references(&template, id),
            expected_secrets(id),
            "{id}: secrets its environment reads"
        );
        let mut refs = BTreeSet::new();
        referenced_names(&effective_properties(&template, id), &mut refs);
        referenced_names(&resources(&template)[id]["Metadata"], &mut refs);
        assert_eq!(
            refs.contains("SigningKeysSecret"),
            id == "AuthFunction",
            "{id}: the signing keys are auth's alone"
        );
        if id == "GreeterFunction" {
            let secret_refs: Vec<_> = refs.intersection(&sensitive).collect();
            assert!(
                secret_refs.is_empty(),
                "greeter reads secrets {secret_refs:?}"
            );
            let data_store: Vec<_> = environment(&template, id)
                .into_keys()
                .filter(|k| k.starts_with("DB_") || k.starts_with("REDIS") || k.contains("KEY"))
                .collect();
            assert!(data_store.is_empty(), "greeter has {data_store:?}");
        }
    }

    // Nothing but the functions, their roles and the rotation schedules names a secret; no
    // Output echoes a secret parameter (an Output of a secret's ARN is no secret).
    for (id, resource) in resources(&template) {
        let id = id.as_str().unwrap_or_default();
        let kind = resource_type(resource);
        if FUNCTIONS.contains(&id)
            || matches!(
                kind,
                "AWS::IAM::Role"
                    | "AWS::SecretsManager::RotationSchedule"
                    | "AWS::SecretsManager::Secret"
            )
        {
            continue;
        }
        let mut refs = BTreeSet::new();
        referenced_names(resource, &mut refs);
        let used: Vec<_> = refs.intersection(&sensitive).collect();
        assert!(used.is_empty(), "{id} uses secrets {used:?}");
    }
    let mut output_refs = BTreeSet::new();
    referenced_names(&template["Outputs"], &mut output_refs);
    assert!(
        output_refs.is_disjoint(&no_echo_parameters(&template)),
        "Outputs echo a secret"
    );
}

/// Functions outside the VPC: they reach no data store (the greeter nothing at all; the traffic
/// hooks only Lambda, CodeDeploy and Secrets Manager, by their public endpoints).
const OUTSIDE_VPC: [&str; 3] = [
    "GreeterFunction",
    "PreTrafficHookFunction",
    "PostTrafficHookFunction",
];

fn managed_policy(name: &str) -> String {
    format!("arn:${{AWS::Partition}}:iam::aws:policy/service-role/{name}")
}

#[test]
fn roles_grant_basic_execution_plus_vpc_access_only_in_a_vpc() {
    let template = template();
    let basic = managed_policy("AWSLambdaBasicExecutionRole");
    let vpc = managed_policy("AWSLambdaVPCAccessExecutionRole");
    let mut roles = BTreeSet::new();
    for id in FUNCTIONS.iter().copied() {
        let props = effective_properties(&template, id);
        assert!(props.get("Policies").is_none(), "{id} adds Policies");
        let role_id = match intrinsic(&props["Role"]) {
            Some((name, Value::String(target))) if name == "Fn::GetAtt" => {
                target.trim_end_matches(".Arn").to_string()
            }
            Some((name, Value::Sequence(items))) if name == "Fn::GetAtt" => {
                assert_eq!(items.get(1).and_then(Value::as_str), Some("Arn"));
                items[0].as_str().unwrap_or_default().to_string()
            }
            _ => panic!("{id}: Role must be !GetAtt <its role>.Arn"),
        };
        assert!(
            roles.insert(role_id.clone()),
            "{role_id} shared by two functions"
        );
        let role = &resources(&template)[role_id.as_str()];
        assert_eq!(resource_type(role), "AWS::IAM::Role", "{id}: {role_id}");
        let role_props = role["Properties"]
            .as_mapping()
            .expect("role has Properties");
        let keys: BTreeSet<&str> = role_props.keys().filter_map(Value::as_str).collect();
        // Inline policies carry the secret grants (checked below); the greeter has none.
        let mut expected_keys = BTreeSet::from(["AssumeRolePolicyDocument", "ManagedPolicyArns"]);
        if id != "GreeterFunction" {
            expected_keys.insert("Policies");
        }
        assert_eq!(
            keys, expected_keys,
            "{role_id}: no policies but the secret grants, no boundaries or paths"
        );
        let statements = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
            .as_sequence()
            .expect("trust statements");
        assert_eq!(statements.len(), 1, "{role_id} trust policy");
        assert_eq!(
            statements[0]["Principal"]["Service"].as_str(),
            Some("lambda.amazonaws.com")
        );
        assert_eq!(statements[0]["Action"].as_str(), Some("sts:AssumeRole"));

        let arns = role["Properties"]["ManagedPolicyArns"]
            .as_sequence()
            .expect("ManagedPolicyArns is a list");
        assert_eq!(sub_text(&arns[0]), Some(basic.as_str()), "{role_id}[0]");
        let in_vpc = !OUTSIDE_VPC.contains(&id);
        if in_vpc {
            assert_eq!(arns.len(), 2, "{role_id} policies");
            let (name, arguments) = intrinsic(&arns[1]).expect("VPC policy is conditional");
            assert_eq!(name, "Fn::If", "{role_id}[1]");
            let arguments = arguments.as_sequence().expect("!If takes a list");
            assert_eq!(arguments[0].as_str(), Some("InVpc"));
            assert_eq!(sub_text(&arguments[1]), Some(vpc.as_str()));
            assert_eq!(ref_target(&arguments[2]), Some("AWS::NoValue"));

            let (name, arguments) = intrinsic(&props["VpcConfig"])
                .unwrap_or_else(|| panic!("{id}: VpcConfig must be !If [InVpc, ...]"));
            assert_eq!(name, "Fn::If", "{id} VpcConfig");
            let arguments = arguments.as_sequence().expect("!If takes a list");
            assert_eq!(arguments[0].as_str(), Some("InVpc"));
            assert_eq!(ref_target(&arguments[1]["SubnetIds"]), Some("SubnetIds"));
            assert_eq!(
                ref_target(&arguments[1]["SecurityGroupIds"]),
                Some("SecurityGroupIds")
            );
            assert_eq!(ref_target(&arguments[2]), Some("AWS::NoValue"));
        } else {
            assert_eq!(arns.len(), 1, "{role_id}: no data store, no VPC policy");
            assert!(props.get("VpcConfig").is_none(), "{id} needs no VPC");
        }
    }
    let condition = &template["Conditions"]["InVpc"];
    let mut refs = BTreeSet::new();
    referenced_names(condition, &mut refs);
    assert_eq!(
        refs,
        BTreeSet::from(["SecurityGroupIds".to_string(), "SubnetIds".to_string()]),
        "InVpc depends on both lists"
    );
    for name in ["SubnetIds", "SecurityGroupIds"] {
        let parameter = &template["Parameters"][name];
        assert_eq!(parameter["Type"].as_str(), Some("CommaDelimitedList"));
        assert_eq!(
            parameter["Default"].as_str(),
            Some(""),
            "{name} is optional"
        );
    }
}
