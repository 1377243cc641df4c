//! Functions: runtime, build, alias, sizing, logs.

use super::*;

#[test]
fn every_function_is_a_workspace_binary_on_provided_al2023() {
    let template = template();
    let declared: BTreeSet<String> = resources(&template)
        .iter()
        .filter(|(_, r)| resource_type(r) == "AWS::Serverless::Function")
        .map(|(id, _)| id.as_str().unwrap_or_default().to_string())
        .collect();
    let expected: BTreeSet<String> = FUNCTIONS.iter().map(|s| s.to_string()).collect();
    assert_eq!(declared, expected, "the template's functions");
    assert!(
        !resources(&template)
            .values()
            .any(|r| resource_type(r) == "AWS::Lambda::Function"),
        "plain AWS::Lambda::Function bypasses the alias and the build metadata"
    );

    let mut binaries = BTreeSet::new();
    for id in FUNCTIONS.iter().copied() {
        let needs = Needs::of(id).expect("a row of the table");
        let resource = &resources(&template)[id];
        let props = effective_properties(&template, id);
        assert_eq!(
            props["Runtime"].as_str(),
            Some("provided.al2023"),
            "{id} Runtime"
        );
        assert_eq!(props["Handler"].as_str(), Some("bootstrap"), "{id} Handler");
        assert_eq!(
            strings(&props["Architectures"]),
            ["x86_64"],
            "{id} Architectures"
        );
        assert_eq!(
            props["CodeUri"].as_str(),
            Some("."),
            "{id} CodeUri: the workspace"
        );
        // A version only where something names it (the alias CodeDeploy shifts, migrate's
        // version in its custom resource); the others are invoked unqualified.
        assert_eq!(
            props["AutoPublishAlias"].as_str(),
            needs.alias,
            "{id} AutoPublishAlias"
        );
        assert_eq!(
            props["AutoPublishAliasAllProperties"].as_bool(),
            needs.alias.map(|_| true),
            "{id}: a configuration change must publish a version, or the alias keeps the old one"
        );
        assert!(
            props.get("PackageType").is_none() || props["PackageType"].as_str() == Some("Zip"),
            "{id} is a zip function"
        );

        let metadata = &resource["Metadata"];
        assert_eq!(
            metadata["BuildMethod"].as_str(),
            Some("makefile"),
            "{id} BuildMethod"
        );
        let binary = metadata["BuildProperties"]["Binary"]
            .as_str()
            .unwrap_or_else(|| panic!("{id} has no Metadata.BuildProperties.Binary"));
        let manifest = root().join("functions").join(binary).join("Cargo.toml");
        let manifest_text = std::fs::read_to_string(&manifest).unwrap_or_else(|e| {
            panic!(
                "{id}: binary {binary} is not a workspace crate ({}: {e})",
                manifest.display()
            )
        });
        assert!(
            manifest_text.contains(&format!("name = \"{binary}\"")),
            "{id}: {} does not build a binary named {binary}",
            manifest.display()
        );
        assert!(
            root()
                .join("functions")
                .join(binary)
                .join("src/main.rs")
                .is_file(),
            "{id}: functions/{binary} has no src/main.rs"
        );
        // One binary may serve several functions (the two traffic hooks): the table says which.
        assert_eq!(
            binary, needs.binary,
            "{id} builds the binary of another function"
        );
        assert!(
            id.to_ascii_lowercase()
                .ends_with(&format!("{}function", binary.replace('-', ""))),
            "{id}: the logical id ends with its binary's name"
        );
        assert_eq!(
            sub_text(&props["FunctionName"]),
            Some(needs.function_name().as_str()),
            "{id} FunctionName"
        );
        binaries.insert(binary.to_string());
    }

    // A function crate without a template entry would never be deployed.
    let crates: BTreeSet<String> = std::fs::read_dir(root().join("functions"))
        .expect("functions/ exists")
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().join("Cargo.toml").is_file())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(binaries, crates, "functions/* crates and template binaries");
}

#[test]
fn memory_and_timeouts_are_explicit_and_fit_api_gateway() {
    let template = template();
    for id in FUNCTIONS.iter().copied() {
        let own = &resources(&template)[id]["Properties"];
        let memory = own["MemorySize"]
            .as_u64()
            .unwrap_or_else(|| panic!("{id} sets no MemorySize of its own"));
        let timeout = own["Timeout"]
            .as_u64()
            .unwrap_or_else(|| panic!("{id} sets no Timeout of its own"));
        let expected_memory = if id == "AuthFunction" { 1024 } else { 256 };
        assert_eq!(memory, expected_memory, "{id} MemorySize");
        match id {
            "MigrateFunction" => assert_eq!(timeout, 300, "{id} Timeout"),
            // Invoked by Secrets Manager, one rotation step per call.
            "RotateSecretFunction" => assert_eq!(timeout, 30, "{id} Timeout"),
            // Invoked by CodeDeploy: a handful of API invocations of at most 10 s each.
            "PreTrafficHookFunction" | "PostTrafficHookFunction" => {
                assert_eq!(timeout, 120, "{id} Timeout")
            }
            // HTTP API integrations give up at 30 s: the function must end first.
            _ => assert!((1..=29).contains(&timeout), "{id} Timeout {timeout} s"),
        }
    }
}

#[test]
fn each_function_logs_json_to_its_own_log_group_with_the_retention_parameter() {
    let template = template();
    assert_eq!(
        template["Parameters"]["LogRetentionDays"]["Default"].as_u64(),
        Some(30)
    );
    let mut groups = BTreeSet::new();
    for id in FUNCTIONS.iter().copied() {
        let props = effective_properties(&template, id);
        let logging = &props["LoggingConfig"];
        assert_eq!(
            logging["LogFormat"].as_str(),
            Some("JSON"),
            "{id} LogFormat"
        );
        let group_id = ref_target(&logging["LogGroup"])
            .unwrap_or_else(|| panic!("{id} LoggingConfig.LogGroup is not a !Ref"));
        let group = &resources(&template)[group_id];
        assert_eq!(
            resource_type(group),
            "AWS::Logs::LogGroup",
            "{id}: {group_id}"
        );
        assert_eq!(
            ref_target(&group["Properties"]["RetentionInDays"]),
            Some("LogRetentionDays"),
            "{group_id} RetentionInDays"
        );
        // Lambda's own name for a function's group, so the console's links find it.
        let function_name = Needs::of(id).expect("a row").function_name();
        assert_eq!(
            sub_text(&group["Properties"]["LogGroupName"]),
            Some(format!("/aws/lambda/{function_name}").as_str()),
            "{group_id} LogGroupName"
        );
        assert!(groups.insert(group_id.to_string()), "{group_id} shared");
    }
}
