//! What SAM's own translator makes of the template, offline.

use super::*;

#[test]
fn each_functions_merged_properties_are_what_sams_translator_deploys() {
    let model = redline_template::Template::load(&root().join("template.yaml"))
        .expect("the template crate reads template.yaml");
    let cfn = translate(&translation_parameters());
    let resources = cfn["Resources"].as_object().expect("Resources");
    let mut differences = Vec::new();
    for id in FUNCTIONS.iter().copied() {
        let spec = model.function(id).expect("a function of the model");
        assert_eq!(
            spec.properties,
            effective_properties(&template(), id),
            "{id}: the model and these tests merge Globals by the same rule"
        );
        let merged = redline_template::json::to_json(&spec.properties);
        let merged = merged.as_object().expect("properties are a map");
        let lambda = &resources[id];
        assert_eq!(
            lambda["Type"], "AWS::Lambda::Function",
            "{id} after the transform"
        );
        let deployed = lambda["Properties"].as_object().expect("Lambda properties");

        for key in merged.keys() {
            assert!(
                PASSED_THROUGH.contains(&key.as_str())
                    || NOT_PASSED_THROUGH.contains(&key.as_str()),
                "{id}.{key}: classify it in PASSED_THROUGH or NOT_PASSED_THROUGH"
            );
        }
        for key in deployed.keys() {
            assert!(
                PASSED_THROUGH.contains(&key.as_str()) || GENERATED.contains(&key.as_str()),
                "{id}: SAM made a Lambda property {key} that this test does not know"
            );
        }
        for key in PASSED_THROUGH {
            let mut expected = merged.get(key).cloned();
            if key == "Role" && expected.is_none() {
                expected = Some(serde_json::json!({"Fn::GetAtt": [format!("{id}Role"), "Arn"]}));
            }
            let actual = deployed.get(key).cloned();
            if expected != actual {
                differences.push(format!(
                    "{id}.{key}:\n  template crate: {}\n  SAM:            {}",
                    expected.map_or("(absent)".into(), |v| v.to_string()),
                    actual.map_or("(absent)".into(), |v| v.to_string()),
                ));
            }
        }

        // AutoPublishAlias: the alias SAM makes for the function has the merged name.
        let Some(alias_name) = merged.get("AutoPublishAlias").and_then(|a| a.as_str()) else {
            continue;
        };
        let alias = &resources[&format!("{id}Alias{alias_name}")];
        assert_eq!(alias["Type"], "AWS::Lambda::Alias", "{id}'s alias");
        assert_eq!(alias["Properties"]["Name"], alias_name);
        assert_eq!(
            alias["Properties"]["FunctionName"],
            serde_json::json!({"Ref": id})
        );
    }
    assert!(
        differences.is_empty(),
        "the Globals merge differs from SAM's translator:\n{}",
        differences.join("\n")
    );
}

#[test]
fn sam_translation_keeps_cors_and_sends_every_route_to_the_live_alias() {
    let origins = ["https://app.example.com", "https://admin.example.com"];
    let cfn = translate(&translation_parameters());
    let resources = cfn["Resources"].as_object().expect("Resources");
    let body = &resources["HttpApi"]["Properties"]["Body"];

    // SAM folds the whole CorsConfiguration into the origins when it cannot resolve them.
    let cors = &body["x-amazon-apigateway-cors"];
    assert_eq!(cors["allowOrigins"], serde_json::json!(origins), "{cors}");
    assert_eq!(
        cors["allowMethods"],
        serde_json::json!(["GET", "POST", "DELETE", "OPTIONS"])
    );
    assert_eq!(
        cors["allowHeaders"],
        serde_json::json!(["Authorization", "Content-Type"])
    );
    assert_eq!(cors["maxAge"], 600);

    let integration_target = |path: &str, method: &str| -> String {
        let uri = &body["paths"][path][method]["x-amazon-apigateway-integration"]["uri"];
        let text = uri["Fn::Sub"].as_str().unwrap_or_default();
        text.split("/functions/${")
            .nth(1)
            .and_then(|rest| rest.split('}').next())
            .unwrap_or_else(|| panic!("{method} {path}: no Lambda integration in {uri}"))
            .to_string()
    };
    let paths = body["paths"].as_object().expect("paths");
    let mut seen = 0;
    for route in ROUTES {
        let target = integration_target(route.path, &route.method.to_ascii_lowercase());
        assert_eq!(
            target,
            format!("{}Aliaslive", logical_id_of(route.area)),
            "{} {} integration",
            route.method,
            route.path
        );
        seen += 1;
    }
    let default_path = ["/$default", "$default"]
        .into_iter()
        .find(|p| paths.contains_key(*p))
        .expect("the $default route");
    assert_eq!(
        integration_target(default_path, "x-amazon-apigateway-any-method"),
        "HealthFunctionAliaslive"
    );
    let operations: usize = paths
        .values()
        .map(|item| item.as_object().map_or(0, |ops| ops.len()))
        .sum();
    assert_eq!(operations, seen + 1, "no other operations in the API");

    // SAM generated no role and no policy of its own but CodeDeploy's (deployment.rs): only the
    // template's roles exist, the functions' and the one CloudWatch Logs uses for the optional
    // log pipeline (logging.rs).
    let roles: BTreeSet<&str> = resources
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::IAM::Role")
        .map(|(id, _)| id.as_str())
        .collect();
    let expected: BTreeSet<String> = FUNCTIONS
        .iter()
        .map(|f| format!("{f}Role"))
        .chain([
            "LogDeliveryRole".to_string(),
            "CodeDeployServiceRole".to_string(),
        ])
        .collect();
    assert_eq!(
        roles,
        expected.iter().map(String::as_str).collect(),
        "IAM roles after the transform"
    );
    assert!(
        !resources.values().any(|r| matches!(
            r["Type"].as_str(),
            Some("AWS::IAM::Policy" | "AWS::IAM::ManagedPolicy")
        )),
        "the transform added IAM policies"
    );
    // An alias exactly where the table says a function publishes one.
    let aliases: BTreeSet<&str> = resources
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Lambda::Alias")
        .map(|(id, _)| id.as_str())
        .collect();
    let expected: BTreeSet<String> = NEEDS
        .iter()
        .filter_map(|n| Some(format!("{}Alias{}", n.logical_id, n.alias?)))
        .collect();
    assert_eq!(
        aliases,
        expected.iter().map(String::as_str).collect(),
        "aliases after the transform"
    );
}
