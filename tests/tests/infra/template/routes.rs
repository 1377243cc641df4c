//! Routes and CORS: exactly the contract's route table, nothing else exposed.

use super::*;

#[test]
fn http_api_routes_are_exactly_the_contract_route_table() {
    let template = template();
    let routes = template_routes(&template);

    let mut actual: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut defaults = Vec::new();
    for (method, path, function) in &routes {
        match path {
            Some(path) => {
                let previous = actual.insert((method.clone(), path.clone()), function.clone());
                assert!(previous.is_none(), "{method} {path} is routed twice");
            }
            None => defaults.push(function.clone()),
        }
    }
    let expected: BTreeMap<(String, String), String> = ROUTES
        .iter()
        .map(|r| {
            (
                (r.method.to_string(), r.path.to_string()),
                logical_id_of(r.area),
            )
        })
        .collect();
    assert_eq!(ROUTES.len(), expected.len(), "ROUTES has duplicates");

    let missing: Vec<_> = expected
        .iter()
        .filter(|(k, v)| actual.get(*k) != Some(*v))
        .collect();
    let extra: Vec<_> = actual
        .iter()
        .filter(|(k, v)| expected.get(*k) != Some(*v))
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "template routes differ from ROUTES.\n  expected but not in the template: {missing:?}\n  \
         in the template but not expected: {extra:?}"
    );
    assert_eq!(
        defaults,
        ["HealthFunction"],
        "exactly one $default route, on HealthFunction"
    );
    for id in NEEDS
        .iter()
        .filter(|n| n.area.is_none())
        .map(|n| n.logical_id)
    {
        assert!(
            resources(&template)[id]["Properties"]
                .get("Events")
                .is_none(),
            "{id} has no events"
        );
    }
}

#[test]
fn nothing_else_exposes_a_function() {
    let template = template();
    let apis: Vec<&str> = resources(&template)
        .iter()
        .filter(|(_, r)| resource_type(r) == "AWS::Serverless::HttpApi")
        .filter_map(|(id, _)| id.as_str())
        .collect();
    assert_eq!(apis, ["HttpApi"], "one HTTP API, logical id HttpApi");
    for (id, resource) in resources(&template) {
        let kind = resource_type(resource);
        assert!(
            !matches!(
                kind,
                "AWS::Serverless::Api"
                    | "AWS::ApiGateway::RestApi"
                    | "AWS::ApiGatewayV2::Api"
                    | "AWS::ApiGatewayV2::Route"
                    | "AWS::ApiGatewayV2::Integration"
                    | "AWS::Lambda::Url"
                    | "AWS::ElasticLoadBalancingV2::TargetGroup"
            ),
            "{id:?} ({kind}) is a route outside the HTTP API's events"
        );
        // The one permission: Secrets Manager may invoke the rotation function, for this account.
        if kind == "AWS::Lambda::Permission" {
            let props = &resource["Properties"];
            assert_eq!(
                props["Principal"].as_str(),
                Some("secretsmanager.amazonaws.com"),
                "{id:?}: only Secrets Manager is granted an invocation"
            );
            assert_eq!(
                get_att(&props["FunctionName"]).as_deref(),
                Some("RotateSecretFunction.Arn"),
                "{id:?} FunctionName"
            );
        }
    }
    for id in FUNCTIONS.iter().copied() {
        assert!(
            effective_properties(&template, id)
                .get("FunctionUrlConfig")
                .is_none(),
            "{id} has a function URL"
        );
    }
    assert!(
        template["Globals"]["Function"].get("Events").is_none(),
        "routes belong to functions, not Globals"
    );
}

#[test]
fn cors_is_the_contracts() {
    let template = template();
    let cors = &resources(&template)["HttpApi"]["Properties"]["CorsConfiguration"];
    assert_eq!(
        ref_target(&cors["AllowOrigins"]),
        Some("AllowedOrigins"),
        "AllowOrigins comes from the stack parameter"
    );
    assert_eq!(
        template["Parameters"]["AllowedOrigins"]["Type"].as_str(),
        Some("CommaDelimitedList")
    );
    let methods: BTreeSet<String> = strings(&cors["AllowMethods"]).into_iter().collect();
    let headers: BTreeSet<String> = strings(&cors["AllowHeaders"])
        .into_iter()
        .map(|h| h.to_ascii_lowercase())
        .collect();
    assert_eq!(
        methods,
        ["DELETE", "GET", "OPTIONS", "POST"]
            .map(String::from)
            .into(),
        "AllowMethods"
    );
    assert_eq!(
        headers,
        ["authorization", "content-type"].map(String::from).into(),
        "AllowHeaders"
    );
    assert_eq!(cors["MaxAge"].as_u64(), Some(600), "MaxAge");
    assert!(
        !cors["AllowCredentials"].as_bool().unwrap_or(false),
        "the contract uses bearer tokens, not credentials"
    );
    for route in ROUTES {
        assert!(
            methods.contains(route.method),
            "{} {} is not allowed by CORS",
            route.method,
            route.path
        );
    }
}

/// A parameter's default, as a number.
fn default_of(template: &Value, parameter: &str) -> f64 {
    let declared = &template["Parameters"][parameter];
    assert_eq!(declared["Type"].as_str(), Some("Number"), "{parameter}");
    declared["Default"]
        .as_f64()
        .unwrap_or_else(|| panic!("{parameter} has a numeric default"))
}

#[test]
fn throttling_is_parameterised_and_tighter_where_nothing_needs_volume() {
    let template = template();
    let stages = of_type(deployed(), "AWS::ApiGatewayV2::Stage");
    let [(_, stage)] = stages.into_iter().collect::<Vec<_>>()[..] else {
        panic!("one stage, the HTTP API's $default");
    };
    let by_parameters = |rate: &str, burst: &str| serde_json::json!({"ThrottlingRateLimit": {"Ref": rate}, "ThrottlingBurstLimit": {"Ref": burst}});
    assert_eq!(
        stage["Properties"]["DefaultRouteSettings"],
        by_parameters("ThrottlingRateLimit", "ThrottlingBurstLimit")
    );

    // The health probes, lock status and the catch-all, from the route table: exactly these.
    let mut tight: BTreeSet<String> = ROUTES
        .iter()
        .filter(|r| r.area == Area::Health || r.id == RouteId::LockStatus)
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    tight.insert("$default".into());
    let settings = stage["Properties"]["RouteSettings"]
        .as_object()
        .expect("RouteSettings");
    assert_eq!(settings.keys().cloned().collect::<BTreeSet<_>>(), tight);
    for (key, setting) in settings {
        assert_eq!(
            *setting,
            by_parameters("TightThrottlingRateLimit", "TightThrottlingBurstLimit"),
            "{key}"
        );
    }
    for kind in ["Rate", "Burst"] {
        let default = default_of(&template, &format!("Throttling{kind}Limit"));
        let tighter = default_of(&template, &format!("TightThrottling{kind}Limit"));
        assert!(
            tighter < default,
            "{kind}: {tighter} is not tighter than {default}"
        );
    }
}

#[test]
fn each_function_has_a_reserved_concurrency_parameter_unset_by_default() {
    let template = template();
    for id in FUNCTIONS.iter().copied() {
        let prefix = id.trim_end_matches("Function");
        let parameter = format!("{prefix}ReservedConcurrency");
        assert_eq!(default_of(&template, &parameter), -1.0, "{parameter}");
        let condition = format!("Reserve{prefix}Concurrency");
        let reserved = &of_type(deployed(), "AWS::Lambda::Function")[id]["Properties"]
            ["ReservedConcurrentExecutions"];
        assert_eq!(
            *reserved,
            serde_json::json!({"Fn::If": [condition, {"Ref": parameter}, {"Ref": "AWS::NoValue"}]}),
            "{id}"
        );
        assert_eq!(
            deployed()["Conditions"][condition.as_str()],
            serde_json::json!({"Fn::Not": [{"Fn::Equals": [{"Ref": parameter}, -1]}]}),
            "{condition}"
        );
    }
}
