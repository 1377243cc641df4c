//! `template.yaml`: the SAM linters, then what they cannot see: runtime and build settings, the
//! contract's route table, CORS, which function gets which variable, IAM, and what SAM's
//! translator actually makes of it. Needs the tools of `scripts/install-tools.sh`; no network.

use redline_core::config::{load_from, ConfigSource, Secret};
use redline_core::http::routes::{Area, ROUTES};
use redline_core::ops::migrate::Migrator;
use redline_core::state::AppState;
use redline_core::tokens::KeySet;
use serde_yaml_ng::{Mapping, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const FUNCTIONS: [&str; 5] = [
    "AuthFunction",
    "UsersFunction",
    "GreeterFunction",
    "HealthFunction",
    "MigrateFunction",
];

/// Key material that is valid in prod (not the shipped dev/test keys). Test data only.
const PROD_SIGNING: &str = r#"{"keys":[{"kid":"prod-2026-11","alg":"EdDSA","private_key":"MC4CAQAwBQYDK2VwBCIEID7/AanzjXukYMV70BENchM3Vm/yR5XaBzNIYBdPZJOh"}]}"#;
const PROD_DATA_KEYS: &str =
    r#"{"current":1,"keys":{"1":"R4esEQCfiO7VIIeq3MXkqgVZOFlN2T/VdzuOE6u6m7I="}}"#;
const PROD_INDEX_KEY: &str = "a+4FE+oVT1ZJrKIWHX9LIfb6zSLMJ3jmpVnhhWJ4R3Q=";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ is inside the workspace")
        .to_path_buf()
}

fn template() -> Value {
    let path = root().join("template.yaml");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_yaml_ng::from_str(&text).expect("template.yaml is YAML")
}

fn resources(template: &Value) -> &Mapping {
    template["Resources"]
        .as_mapping()
        .expect("template has Resources")
}

fn resource_type(resource: &Value) -> &str {
    resource["Type"].as_str().unwrap_or_default()
}

/// `!Ref X` / `{Ref: X}` and `!Sub ...` / `{"Fn::Sub": ...}`: the function name and argument.
fn intrinsic(value: &Value) -> Option<(String, &Value)> {
    match value {
        Value::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let name = if name == "Ref" {
                name.to_string()
            } else {
                format!("Fn::{name}")
            };
            Some((name, &tagged.value))
        }
        Value::Mapping(map) if map.len() == 1 => {
            let (key, argument) = map.iter().next()?;
            let key = key.as_str()?;
            (key == "Ref" || key.starts_with("Fn::")).then(|| (key.to_string(), argument))
        }
        _ => None,
    }
}

fn ref_target(value: &Value) -> Option<&str> {
    match intrinsic(value)? {
        (name, argument) if name == "Ref" => argument.as_str(),
        _ => None,
    }
}

fn sub_text(value: &Value) -> Option<&str> {
    match intrinsic(value)? {
        (name, argument) if name == "Fn::Sub" => argument.as_str(),
        _ => None,
    }
}

/// Every name a value refers to: `Ref` targets, `GetAtt` resources and `${Name}` in `Sub`.
fn referenced_names(value: &Value, out: &mut BTreeSet<String>) {
    if let Some((name, argument)) = intrinsic(value) {
        match name.as_str() {
            "Ref" => {
                out.extend(argument.as_str().map(str::to_string));
            }
            "Fn::GetAtt" => {
                let target = match argument {
                    Value::String(s) => s.split('.').next().map(str::to_string),
                    Value::Sequence(items) => {
                        items.first().and_then(Value::as_str).map(str::to_string)
                    }
                    _ => None,
                };
                out.extend(target);
            }
            "Fn::Sub" => {
                let text = match argument {
                    Value::Sequence(items) => items.first().and_then(Value::as_str),
                    other => other.as_str(),
                };
                for piece in text.unwrap_or_default().split("${").skip(1) {
                    let name = piece.split('}').next().unwrap_or_default();
                    out.insert(name.split('.').next().unwrap_or_default().to_string());
                }
            }
            _ => {}
        }
        referenced_names(argument, out);
        return;
    }
    match value {
        Value::Mapping(map) => map.values().for_each(|v| referenced_names(v, out)),
        Value::Sequence(items) => items.iter().for_each(|v| referenced_names(v, out)),
        Value::Tagged(tagged) => referenced_names(&tagged.value, out),
        _ => {}
    }
}

/// SAM's `Globals` rule: maps merge key by key, lists concatenate, anything else the resource wins.
fn merge_globals(global: &Value, local: &Value) -> Value {
    match (global, local) {
        (Value::Mapping(g), Value::Mapping(l)) if intrinsic(local).is_none() => {
            let mut out = g.clone();
            for (key, value) in l {
                let merged = match g.get(key) {
                    Some(base) => merge_globals(base, value),
                    None => value.clone(),
                };
                out.insert(key.clone(), merged);
            }
            Value::Mapping(out)
        }
        (Value::Sequence(g), Value::Sequence(l)) => {
            Value::Sequence(g.iter().chain(l.iter()).cloned().collect())
        }
        _ => local.clone(),
    }
}

/// A function's properties with `Globals.Function` applied, as SAM deploys them.
fn effective_properties(template: &Value, logical_id: &str) -> Value {
    let resource = &resources(template)[logical_id];
    assert_eq!(
        resource_type(resource),
        "AWS::Serverless::Function",
        "{logical_id} is not a SAM function"
    );
    let globals = template["Globals"]["Function"].clone();
    let own = match &resource["Properties"] {
        Value::Null => Value::Mapping(Mapping::new()),
        other => other.clone(),
    };
    merge_globals(&globals, &own)
}

fn environment(template: &Value, logical_id: &str) -> BTreeMap<String, Value> {
    effective_properties(template, logical_id)["Environment"]["Variables"]
        .as_mapping()
        .map(|vars| {
            vars.iter()
                .map(|(k, v)| (k.as_str().unwrap_or_default().to_string(), v.clone()))
                .collect()
        })
        .unwrap_or_default()
}

fn logical_id_of(area: Area) -> String {
    let name = area.function_name();
    let mut chars = name.chars();
    let first = chars.next().expect("function names are not empty");
    format!("{}{}Function", first.to_ascii_uppercase(), chars.as_str())
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_sequence()
        .map(|items| {
            items
                .iter()
                .filter_map(|item| item.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// The linters.

fn tool(name: &str) -> PathBuf {
    let path = root().join(".local/venv/bin").join(name);
    assert!(
        path.is_file(),
        "{} is missing: run scripts/install-tools.sh once (it installs aws-sam-cli and cfn-lint \
         into .local/venv)",
        path.display()
    );
    path
}

/// Runs a tool offline: a dead proxy makes any network call fail at once rather than pass.
fn run_offline(program: &Path, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .current_dir(root())
        .env("SAM_CLI_TELEMETRY", "0")
        .env("AWS_DEFAULT_REGION", "us-east-1")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("HTTP_PROXY", "http://127.0.0.1:9")
        .env("HTTPS_PROXY", "http://127.0.0.1:9")
        .env("NO_PROXY", "")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()))
}

fn assert_success(what: &str, output: &Output) {
    assert!(
        output.status.success(),
        "{what} failed ({}):\n{}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn cfn_lint_accepts_the_template() {
    let output = run_offline(&tool("cfn-lint"), &["template.yaml"]);
    assert_success("cfn-lint template.yaml", &output);
}

#[test]
fn sam_validate_lint_accepts_the_template() {
    let output = run_offline(
        &tool("sam"),
        &["validate", "--lint", "--template", "template.yaml"],
    );
    assert_success("sam validate --lint", &output);
}

// ---------------------------------------------------------------------------------------------
// Functions: runtime, build, alias, sizing, logs.

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
    for id in FUNCTIONS {
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
        assert_eq!(
            props["AutoPublishAlias"].as_str(),
            Some("live"),
            "{id} AutoPublishAlias"
        );
        assert_eq!(
            props["AutoPublishAliasAllProperties"].as_bool(),
            Some(true),
            "{id}: a configuration change must publish a version, or the alias keeps the old one"
        );
        assert!(
            props.get("PackageType").is_none() || props["PackageType"].as_str() == Some("Zip"),
            "{id} is a zip function"
        );

        let metadata = &resource["Metadata"];
        assert_eq!(
            metadata["BuildMethod"].as_str(),
            Some("rust-cargolambda"),
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
        assert_eq!(
            id.to_ascii_lowercase(),
            format!("{binary}function"),
            "{id} builds the binary of another function"
        );
        assert_eq!(
            sub_text(&props["FunctionName"]),
            Some(format!("${{AWS::StackName}}-{binary}").as_str()),
            "{id} FunctionName"
        );
        assert!(
            binaries.insert(binary.to_string()),
            "binary {binary} built twice"
        );
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
    for id in FUNCTIONS {
        let own = &resources(&template)[id]["Properties"];
        let memory = own["MemorySize"]
            .as_u64()
            .unwrap_or_else(|| panic!("{id} sets no MemorySize of its own"));
        let timeout = own["Timeout"]
            .as_u64()
            .unwrap_or_else(|| panic!("{id} sets no Timeout of its own"));
        let expected_memory = if id == "AuthFunction" { 1024 } else { 256 };
        assert_eq!(memory, expected_memory, "{id} MemorySize");
        if id == "MigrateFunction" {
            assert_eq!(timeout, 300, "{id} Timeout");
        } else {
            // HTTP API integrations give up at 30 s: the function must end first.
            assert!((1..=29).contains(&timeout), "{id} Timeout {timeout} s");
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
    for id in FUNCTIONS {
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
        let binary = id.trim_end_matches("Function").to_ascii_lowercase();
        assert_eq!(
            sub_text(&group["Properties"]["LogGroupName"]),
            Some(format!("/aws/lambda/${{AWS::StackName}}-{binary}").as_str()),
            "{group_id} LogGroupName"
        );
        assert!(groups.insert(group_id.to_string()), "{group_id} shared");
    }
}

// ---------------------------------------------------------------------------------------------
// Routes and CORS.

/// `(method, path)` → function, from every event source anywhere in the template; `path` `None`
/// is the `$default` route.
fn template_routes(template: &Value) -> Vec<(String, Option<String>, String)> {
    let mut routes = Vec::new();
    for (id, resource) in resources(template) {
        let id = id.as_str().unwrap_or_default();
        let Some(events) = resource["Properties"]["Events"].as_mapping() else {
            continue;
        };
        for (name, event) in events {
            let name = name.as_str().unwrap_or_default();
            let kind = event["Type"].as_str().unwrap_or_default();
            assert_eq!(
                kind, "HttpApi",
                "{id}.{name}: only HTTP API events (a {kind} event would be another way in)"
            );
            let props = &event["Properties"];
            assert_eq!(
                ref_target(&props["ApiId"]),
                Some("HttpApi"),
                "{id}.{name}: ApiId must be !Ref HttpApi (else SAM creates an implicit API)"
            );
            let path = props["Path"].as_str().filter(|p| *p != "$default");
            let method = props["Method"]
                .as_str()
                .map(str::to_ascii_uppercase)
                .unwrap_or_else(|| "ANY".into());
            if path.is_none() {
                assert_eq!(method, "ANY", "{id}.{name}: $default takes every method");
            }
            routes.push((method, path.map(str::to_string), id.to_string()));
        }
    }
    routes
}

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
    assert!(
        resources(&template)["MigrateFunction"]["Properties"]
            .get("Events")
            .is_none(),
        "MigrateFunction has no events"
    );
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
                    | "AWS::Lambda::Permission"
                    | "AWS::ElasticLoadBalancingV2::TargetGroup"
            ),
            "{id:?} ({kind}) is a route outside the HTTP API's events"
        );
    }
    for id in FUNCTIONS {
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

// ---------------------------------------------------------------------------------------------
// Environment variables, secrets and IAM.

/// The variables each function gets, and the parameter each one carries.
fn expected_environment(id: &str) -> BTreeMap<&'static str, &'static str> {
    let database = [
        ("DB_HOST", "DatabaseHost"),
        ("DB_PORT", "DatabasePort"),
        ("DB_NAME", "DatabaseName"),
        ("DB_USER", "DatabaseUser"),
        ("DB_PASSWORD", "DatabasePassword"),
    ];
    let redis = [("REDIS_URL", "RedisUrl")];
    let personal_data = [
        ("REDLINE__CRYPTO__DATA_KEYS", "DataKeys"),
        ("REDLINE__CRYPTO__BLIND_INDEX_KEY", "BlindIndexKey"),
    ];
    let mut vars = BTreeMap::from([("REDLINE_ENV", "Environment")]);
    match id {
        "AuthFunction" => {
            vars.extend(database);
            vars.extend(redis);
            vars.extend(personal_data);
            vars.insert("REDLINE__AUTH__TOKENS__SIGNING_KEYS", "SigningKeys");
        }
        "UsersFunction" => {
            vars.extend(database);
            vars.extend(redis);
            vars.extend(personal_data);
            vars.insert(
                "REDLINE__AUTH__TOKENS__VERIFICATION_KEYS",
                "VerificationKeys",
            );
        }
        "HealthFunction" => {
            vars.extend(database);
            vars.extend(redis);
        }
        "MigrateFunction" => vars.extend(database),
        "GreeterFunction" => {}
        other => panic!("unknown function {other}"),
    }
    vars
}

fn no_echo_parameters(template: &Value) -> BTreeSet<String> {
    template["Parameters"]
        .as_mapping()
        .expect("template has Parameters")
        .iter()
        .filter(|(_, p)| p["NoEcho"].as_bool() == Some(true))
        .filter_map(|(name, _)| name.as_str().map(str::to_string))
        .collect()
}

#[test]
fn each_function_gets_exactly_the_variables_it_needs() {
    let template = template();
    for id in FUNCTIONS {
        let env = environment(&template, id);
        let actual: BTreeMap<&str, &str> = env
            .iter()
            .map(|(name, value)| {
                let parameter = ref_target(value)
                    .unwrap_or_else(|| panic!("{id} {name} is not a !Ref of a parameter"));
                (name.as_str(), parameter)
            })
            .collect();
        assert_eq!(actual, expected_environment(id), "{id} environment");
        for parameter in actual.values() {
            assert!(
                template["Parameters"].get(*parameter).is_some(),
                "{id} refers to unknown parameter {parameter}"
            );
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
fn secrets_are_no_echo_and_reach_only_their_functions() {
    let template = template();
    let secrets = no_echo_parameters(&template);
    let expected: BTreeSet<String> = [
        "DatabasePassword",
        "RedisUrl",
        "SigningKeys",
        "VerificationKeys",
        "DataKeys",
        "BlindIndexKey",
    ]
    .map(String::from)
    .into();
    assert_eq!(secrets, expected, "NoEcho parameters");

    // Globals reach every function: no secret there.
    let mut global_refs = BTreeSet::new();
    referenced_names(&template["Globals"], &mut global_refs);
    let leaked: Vec<_> = global_refs.intersection(&secrets).collect();
    assert!(leaked.is_empty(), "Globals carry secrets {leaked:?}");

    for id in FUNCTIONS {
        let env = environment(&template, id);
        let signs = env.contains_key("REDLINE__AUTH__TOKENS__SIGNING_KEYS");
        assert_eq!(
            signs,
            id == "AuthFunction",
            "{id}: signing keys are auth's alone"
        );
        let mut refs = BTreeSet::new();
        referenced_names(&effective_properties(&template, id), &mut refs);
        referenced_names(&resources(&template)[id]["Metadata"], &mut refs);
        assert_eq!(
            refs.contains("SigningKeys"),
            id == "AuthFunction",
            "{id}: SigningKeys parameter"
        );
        if id == "GreeterFunction" {
            let secret_refs: Vec<_> = refs.intersection(&secrets).collect();
            assert!(
                secret_refs.is_empty(),
                "greeter reads secrets {secret_refs:?}"
            );
            let data_store: Vec<_> = env
                .keys()
                .filter(|k| k.starts_with("DB_") || k.starts_with("REDIS") || k.contains("KEY"))
                .collect();
            assert!(data_store.is_empty(), "greeter has {data_store:?}");
        }
    }

    // Nothing outside the functions (an Output, a tag) may echo a secret.
    for (id, resource) in resources(&template) {
        let id = id.as_str().unwrap_or_default();
        if FUNCTIONS.contains(&id) {
            continue;
        }
        let mut refs = BTreeSet::new();
        referenced_names(resource, &mut refs);
        let used: Vec<_> = refs.intersection(&secrets).collect();
        assert!(used.is_empty(), "{id} uses secrets {used:?}");
    }
    let mut output_refs = BTreeSet::new();
    referenced_names(&template["Outputs"], &mut output_refs);
    assert!(output_refs.is_disjoint(&secrets), "Outputs echo a secret");
}

fn managed_policy(name: &str) -> String {
    format!("arn:${{AWS::Partition}}:iam::aws:policy/service-role/{name}")
}

#[test]
fn roles_grant_basic_execution_plus_vpc_access_only_in_a_vpc() {
    let template = template();
    let basic = managed_policy("AWSLambdaBasicExecutionRole");
    let vpc = managed_policy("AWSLambdaVPCAccessExecutionRole");
    let mut roles = BTreeSet::new();
    for id in FUNCTIONS {
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
        assert_eq!(
            keys,
            BTreeSet::from(["AssumeRolePolicyDocument", "ManagedPolicyArns"]),
            "{role_id}: no inline policies, boundaries or paths"
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
        let in_vpc = id != "GreeterFunction";
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
            assert_eq!(arns.len(), 1, "{role_id}: greeter reaches no data store");
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

// ---------------------------------------------------------------------------------------------
// What SAM makes of the template.

/// Translates the template with SAM's own translator (the code CloudFormation runs for the
/// transform) and returns the CloudFormation JSON. `CodeUri` becomes an S3 URI, as after
/// `sam build` and `sam package`.
fn translate(parameters: &serde_json::Value) -> serde_json::Value {
    const SCRIPT: &str = r#"
import json, sys
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

template = yaml_parse(open(sys.argv[1]).read())
template["Globals"]["Function"]["CodeUri"] = "s3://artefacts/redline.zip"
for resource in template["Resources"].values():
    if resource["Type"] == "AWS::Serverless::Function":
        resource.setdefault("Properties", {}).pop("CodeUri", None)

class NoManagedPolicyNames:
    def load(self):
        return {}

print(json.dumps(transform(template, json.loads(sys.argv[2]), NoManagedPolicyNames())))
"#;
    let output = run_offline(
        &tool("python"),
        &[
            "-c",
            SCRIPT,
            "template.yaml",
            &serde_json::to_string(parameters).expect("parameters"),
        ],
    );
    assert_success("SAM translation", &output);
    serde_json::from_slice(&output.stdout).expect("the translator prints JSON")
}

#[test]
fn sam_translation_keeps_cors_and_sends_every_route_to_the_live_alias() {
    let origins = ["https://app.example.com", "https://admin.example.com"];
    // CloudFormation hands the transform a CommaDelimitedList as a list.
    let cfn = translate(&serde_json::json!({
        "AllowedOrigins": origins,
        "DatabaseHost": "db.internal",
        "DatabasePassword": "x",
        "RedisUrl": "rediss://cache.internal:6379",
        "SigningKeys": "x",
        "VerificationKeys": "x",
        "DataKeys": "x",
        "BlindIndexKey": "x",
    }));
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

    // SAM generated no role and no policy of its own: only the template's five roles exist.
    let roles: BTreeSet<&str> = resources
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::IAM::Role")
        .map(|(id, _)| id.as_str())
        .collect();
    let expected: BTreeSet<String> = FUNCTIONS.iter().map(|f| format!("{f}Role")).collect();
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
    for id in FUNCTIONS {
        let alias = &resources[&format!("{id}Aliaslive")];
        assert_eq!(alias["Type"], "AWS::Lambda::Alias", "{id} alias");
        assert_eq!(alias["Properties"]["Name"], "live");
    }
}

// ---------------------------------------------------------------------------------------------
// The template's environment is enough for each function to start in prod.

/// Parameter values of a plausible prod stack (NoEcho ones included).
fn prod_parameters() -> HashMap<&'static str, String> {
    let signing = KeySet::from_signing(&Secret::new(PROD_SIGNING)).expect("prod signing keys");
    HashMap::from([
        ("DatabaseHost", "db.internal".to_string()),
        ("DatabasePassword", "pw".to_string()),
        ("RedisUrl", "rediss://cache.internal:6379".to_string()),
        ("SigningKeys", PROD_SIGNING.to_string()),
        ("VerificationKeys", signing.jwks().to_string()),
        ("DataKeys", PROD_DATA_KEYS.to_string()),
        ("BlindIndexKey", PROD_INDEX_KEY.to_string()),
    ])
}

/// The environment Lambda would give the function: template variables with parameters
/// resolved (explicit values, else defaults), plus a CA bundle path that exists on this machine
/// (Lambda's provided.al2023 has the default one).
fn resolved_environment(template: &Value, id: &str) -> HashMap<String, String> {
    let parameters = prod_parameters();
    let mut vars: HashMap<String, String> = environment(template, id)
        .iter()
        .map(|(name, value)| {
            let parameter = ref_target(value).expect("variables are !Ref of parameters");
            let resolved = parameters.get(parameter).cloned().or_else(|| {
                let default = &template["Parameters"][parameter]["Default"];
                default
                    .as_str()
                    .map(str::to_string)
                    .or_else(|| default.as_u64().map(|n| n.to_string()))
            });
            let resolved = resolved
                .unwrap_or_else(|| panic!("{id} {name}: parameter {parameter} has no value"));
            (name.clone(), resolved)
        })
        .collect();
    let ca = [
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/ssl/certs/ca-certificates.crt",
    ]
    .into_iter()
    .find(|p| Path::new(p).is_file())
    .expect("a system CA bundle");
    vars.insert("DB_CA_FILE".into(), ca.into());
    vars
}

fn starts(template: &Value, id: &str) -> Result<(), String> {
    let vars = resolved_environment(template, id);
    let config =
        load_from(&ConfigSource::Embedded, &vars).map_err(|e| format!("{id} config: {e}"))?;
    let area = match id {
        "AuthFunction" => Area::Auth,
        "UsersFunction" => Area::Users,
        "GreeterFunction" => Area::Greeter,
        "HealthFunction" => Area::Health,
        "MigrateFunction" => {
            return Migrator::new(&config)
                .map(drop)
                .map_err(|e| format!("{id}: {e}"));
        }
        other => panic!("unknown function {other}"),
    };
    AppState::build(config, area)
        .map(drop)
        .map_err(|e| format!("{id}: {e}"))
}

#[test]
fn data_store_functions_start_in_prod_with_only_their_template_environment() {
    let template = template();
    for id in ["AuthFunction", "UsersFunction", "HealthFunction"] {
        starts(&template, id).unwrap_or_else(|e| panic!("cold start would fail: {e}"));
    }
}

#[test]
fn greeter_and_migrate_start_in_prod_with_only_their_template_environment() {
    let template = template();
    let failures: Vec<String> = ["GreeterFunction", "MigrateFunction"]
        .into_iter()
        .filter_map(|id| starts(&template, id).err())
        .collect();
    assert!(failures.is_empty(), "cold start would fail: {failures:#?}");
}
