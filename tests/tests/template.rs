//! `template.yaml`: the SAM linters, then what they cannot see: runtime and build settings, the
//! contract's route table, CORS, which function gets which variable, the Secrets Manager secrets
//! (generated, read only by the functions that reference them, rotated by the rotation function),
//! IAM, the local env-vars files, and what SAM's translator actually makes of it. Needs the tools
//! of `scripts/install-tools.sh`; no network.

use redline_core::config::{layered, ConfigSource, Secret};
use redline_core::http::routes::ROUTES;
use redline_core::needs::{Needs, FUNCTIONS as NEEDS};
use redline_core::Area;
use redline_template::{intrinsic, Resolver};
use redline_stores::migrator::Migrator;
use redline_tests::areas;
use redline_tests::areas::load_resolved_from;
use redline_tokens::KeySet;
use serde_yaml_ng::{Mapping, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Every function of the template, from the table of which function needs what.
static FUNCTIONS: std::sync::LazyLock<Vec<&'static str>> =
    std::sync::LazyLock::new(|| NEEDS.iter().map(|needs| needs.logical_id).collect());

/// The Secrets Manager secrets of the stack (logical ids).
const SECRETS: [&str; 5] = [
    "DatabaseSecret",
    "SigningKeysSecret",
    "VerificationKeysSecret",
    "DataKeysSecret",
    "BlindIndexKeySecret",
];

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

/// `!GetAtt R.A` / `{"Fn::GetAtt": [R, A]}` as `R.A`.
fn get_att(value: &Value) -> Option<String> {
    match intrinsic(value)? {
        (name, Value::String(target)) if name == "Fn::GetAtt" => Some(target.clone()),
        (name, Value::Sequence(items)) if name == "Fn::GetAtt" => {
            let parts: Vec<&str> = items.iter().filter_map(Value::as_str).collect();
            Some(parts.join("."))
        }
        _ => None,
    }
}

/// `!If [Condition, a, b]`: the condition and both branches.
fn if_branches(value: &Value) -> Option<(&str, &Value, &Value)> {
    match intrinsic(value)? {
        (name, Value::Sequence(items)) if name == "Fn::If" && items.len() == 3 => {
            Some((items[0].as_str()?, &items[1], &items[2]))
        }
        _ => None,
    }
}

/// A string or a list of strings (an IAM `Action`, say) as a list.
fn one_or_many(value: &Value) -> Vec<String> {
    match value {
        Value::String(s) => vec![s.clone()],
        other => strings(other),
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

/// A function's properties with `Globals.Function` applied, by the template crate's rule (the
/// one SAM's translator is checked to apply, below).
fn effective_properties(template: &Value, logical_id: &str) -> Value {
    let resource = &resources(template)[logical_id];
    assert_eq!(
        resource_type(resource),
        "AWS::Serverless::Function",
        "{logical_id} is not a SAM function"
    );
    redline_template::effective_properties(template, logical_id)
        .unwrap_or_else(|e| panic!("{logical_id}: {e}"))
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
    for id in FUNCTIONS.iter().copied() {
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
            format!("{}function", binary.replace('-', "")),
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
        let binary = resources(&template)[id]["Metadata"]["BuildProperties"]["Binary"]
            .as_str()
            .unwrap_or_else(|| panic!("{id} names no binary"));
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
    for id in ["MigrateFunction", "RotateSecretFunction"] {
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

// ---------------------------------------------------------------------------------------------
// Environment variables, secrets and IAM.

/// A variable's value as written: `!Ref X`, `!Sub <text>` or `!If [C, a, b]` of those.
fn written(value: &Value) -> String {
    if let Some((condition, then, otherwise)) = if_branches(value) {
        format!(
            "!If [{condition}, {}, {}]",
            written(then),
            written(otherwise)
        )
    } else if let Some(target) = ref_target(value) {
        format!("!Ref {target}")
    } else if let Some(text) = sub_text(value) {
        format!("!Sub {text}")
    } else {
        format!("{value:?}")
    }
}

/// The variables each function gets, as written in the template: parameters by `!Ref`, secrets
/// by `secretsmanager:` references to the secret resources (resolved by the function at cold
/// start), never a secret's value.
fn expected_environment(id: &str) -> BTreeMap<&'static str, String> {
    Needs::of(id)
        .unwrap_or_else(|| panic!("unknown function {id}"))
        .environment()
        .into_iter()
        .collect()
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

fn secret_resources(template: &Value) -> BTreeSet<String> {
    resources(template)
        .iter()
        .filter(|(_, r)| resource_type(r) == "AWS::SecretsManager::Secret")
        .filter_map(|(id, _)| id.as_str().map(str::to_string))
        .collect()
}

/// The secret a parameter names by ARN (the operator's own, not the stack's), with the condition
/// under which the template uses it.
const OPERATOR_SECRETS: [(&str, &str); 1] = [("RedisUrlSecretArn", "HasRedisUrlSecret")];

/// The secrets a function's environment reads through `secretsmanager:${Secret}[#key]`: the
/// stack's secret resources, and an operator's secret by its ARN parameter (in an `!If` branch).
fn secret_references(template: &Value, id: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (name, value) in environment(template, id) {
        let (value, condition) = match if_branches(&value) {
            Some((condition, then, _)) => (then.clone(), Some(condition.to_string())),
            None => (value, None),
        };
        let Some(text) = sub_text(&value) else {
            continue;
        };
        let Some(rest) = text.strip_prefix("secretsmanager:") else {
            assert!(
                !text.contains("secretsmanager:"),
                "{id} {name}: a secret reference must start the value: {text}"
            );
            continue;
        };
        let target = rest
            .strip_prefix("${")
            .and_then(|r| r.split_once('}'))
            .map(|(target, _)| target)
            .unwrap_or_else(|| panic!("{id} {name}: {text} names no secret resource"));
        let operator_secret = OPERATOR_SECRETS
            .iter()
            .any(|(arn, when)| *arn == target && condition.as_deref() == Some(*when));
        assert!(
            secret_resources(template).contains(target) || operator_secret,
            "{id} {name}: {target} is not an AWS::SecretsManager::Secret of the template"
        );
        out.insert(target.to_string());
    }
    out
}

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
// Secrets: generated values, least-privilege reads, rotation.

fn role_of(template: &Value, id: &str) -> String {
    let arn = get_att(&effective_properties(template, id)["Role"])
        .unwrap_or_else(|| panic!("{id}: Role must be !GetAtt <its role>.Arn"));
    arn.strip_suffix(".Arn")
        .unwrap_or_else(|| panic!("{id}: Role is {arn}, not a role's Arn"))
        .to_string()
}

/// A role's inline policy statements; a statement inside `!If [C, statement, AWS::NoValue]`
/// comes with its condition.
fn role_statements(template: &Value, role_id: &str) -> Vec<(Option<String>, Value)> {
    let mut out = Vec::new();
    let policies = &resources(template)[role_id]["Properties"]["Policies"];
    for policy in policies.as_sequence().into_iter().flatten() {
        let document = &policy["PolicyDocument"];
        assert_eq!(
            document["Version"].as_str(),
            Some("2012-10-17"),
            "{role_id} policy version"
        );
        for statement in document["Statement"].as_sequence().into_iter().flatten() {
            match if_branches(statement) {
                Some((condition, then, otherwise)) => {
                    assert_eq!(
                        ref_target(otherwise),
                        Some("AWS::NoValue"),
                        "{role_id}: a conditional statement is there or not"
                    );
                    out.push((Some(condition.to_string()), then.clone()));
                }
                None => out.push((None, statement.clone())),
            }
        }
    }
    out
}

/// What a statement allows, on what: `!Ref` targets, or the literal (`*`).
fn grants(role_id: &str, statement: &Value) -> (BTreeSet<String>, BTreeSet<String>) {
    assert_eq!(
        statement["Effect"].as_str(),
        Some("Allow"),
        "{role_id}: {statement:?}"
    );
    assert!(
        statement.get("NotAction").is_none() && statement.get("NotResource").is_none(),
        "{role_id}: NotAction/NotResource grant everything else"
    );
    let actions: BTreeSet<String> = one_or_many(&statement["Action"]).into_iter().collect();
    assert!(!actions.is_empty(), "{role_id}: a statement with no Action");
    let resource = &statement["Resource"];
    let items: Vec<Value> = match resource {
        Value::Sequence(items) => items.clone(),
        other => vec![other.clone()],
    };
    let resources: BTreeSet<String> = items
        .iter()
        .map(|item| match (item.as_str(), ref_target(item)) {
            (Some(literal), _) => literal.to_string(),
            (None, Some(target)) => target.to_string(),
            _ => panic!("{role_id}: resource {item:?} is neither !Ref nor a literal"),
        })
        .collect();
    (actions, resources)
}

#[test]
fn every_secret_is_generated_and_none_is_written_in_the_template() {
    let template = template();
    let expected: BTreeSet<String> = SECRETS.iter().map(|s| s.to_string()).collect();
    assert_eq!(secret_resources(&template), expected, "the stack's secrets");

    // AWS's character classes for GenerateSecretString.
    const PUNCTUATION: &str = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
    let alphabet = |generate: &Value| -> BTreeSet<char> {
        let flag = |key: &str| generate[key].as_bool().unwrap_or(false);
        let mut chars: BTreeSet<char> = BTreeSet::new();
        if !flag("ExcludeNumbers") {
            chars.extend('0'..='9');
        }
        if !flag("ExcludeLowercase") {
            chars.extend('a'..='z');
        }
        if !flag("ExcludeUppercase") {
            chars.extend('A'..='Z');
        }
        if !flag("ExcludePunctuation") {
            chars.extend(PUNCTUATION.chars());
        }
        if flag("IncludeSpace") {
            chars.insert(' ');
        }
        for c in generate["ExcludeCharacters"]
            .as_str()
            .unwrap_or_default()
            .chars()
        {
            chars.remove(&c);
        }
        chars
    };
    let hex: BTreeSet<char> = ('0'..='9').chain('a'..='f').collect();
    // A template with its ${Parameter}s filled in must be a JSON object.
    let template_json = |id: &str, value: &Value| -> serde_json::Map<String, serde_json::Value> {
        let text = sub_text(value)
            .or_else(|| value.as_str())
            .unwrap_or_else(|| panic!("{id}: SecretStringTemplate is {value:?}"));
        let mut filled = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            filled.push_str(&rest[..start]);
            let (name, after) = rest[start + 2..].split_once('}').expect("closed ${");
            let parameter = &template["Parameters"][name];
            assert!(!parameter.is_null(), "{id}: ${{{name}}} is not a parameter");
            filled.push_str(if parameter["Type"].as_str() == Some("Number") {
                "5432"
            } else {
                "x"
            });
            rest = after;
        }
        filled.push_str(rest);
        serde_json::from_str(&filled)
            .unwrap_or_else(|e| panic!("{id}: SecretStringTemplate is not JSON ({e}): {filled}"))
    };

    for id in SECRETS {
        let resource = &resources(&template)[id];
        let props = &resource["Properties"];
        assert!(
            props.get("SecretString").is_none(),
            "{id}: a literal SecretString is a secret in the template"
        );
        let generate = &props["GenerateSecretString"];
        assert!(
            generate.is_mapping(),
            "{id}: the value must be generated (GenerateSecretString)"
        );
        let key = generate["GenerateStringKey"].as_str();
        let length = generate["PasswordLength"].as_u64();
        match id {
            "DatabaseSecret" => {
                assert_eq!(key, Some("password"), "{id} GenerateStringKey");
                assert_eq!(length, Some(32), "{id} PasswordLength");
                assert_eq!(
                    alphabet(generate),
                    ('0'..='9')
                        .chain('a'..='z')
                        .chain('A'..='Z')
                        .collect::<BTreeSet<_>>(),
                    "{id}: letters and digits (no punctuation to quote in a connection string)"
                );
                let (condition, with_master, without) =
                    if_branches(&generate["SecretStringTemplate"])
                        .expect("DatabaseSecret's template is !If [HasDatabaseMasterSecret, ...]");
                assert_eq!(condition, "HasDatabaseMasterSecret");
                let rds_shape = BTreeSet::from(["dbname", "engine", "host", "port", "username"]);
                let without = template_json(id, without);
                assert_eq!(
                    without.keys().map(String::as_str).collect::<BTreeSet<_>>(),
                    rds_shape,
                    "{id}: the RDS secret shape"
                );
                assert_eq!(without["engine"], "postgres");
                assert!(without["port"].is_number(), "{id}: port is a number");
                let with_master = template_json(id, with_master);
                let mut keys = rds_shape.clone();
                keys.insert("masterarn");
                assert_eq!(
                    with_master
                        .keys()
                        .map(String::as_str)
                        .collect::<BTreeSet<_>>(),
                    keys,
                    "{id}: the RDS shape plus masterarn"
                );
                let mut refs = BTreeSet::new();
                referenced_names(&generate["SecretStringTemplate"], &mut refs);
                assert_eq!(
                    refs,
                    [
                        "DatabaseHost",
                        "DatabaseMasterSecretArn",
                        "DatabaseName",
                        "DatabasePort",
                        "DatabaseUser"
                    ]
                    .map(String::from)
                    .into(),
                    "{id}: its template's parameters"
                );
                let mut condition_refs = BTreeSet::new();
                referenced_names(
                    &template["Conditions"]["HasDatabaseMasterSecret"],
                    &mut condition_refs,
                );
                assert_eq!(
                    condition_refs,
                    BTreeSet::from(["DatabaseMasterSecretArn".to_string()])
                );
                assert_eq!(
                    template["Parameters"]["DatabaseMasterSecretArn"]["Default"].as_str(),
                    Some(""),
                    "alternating users are optional"
                );
            }
            "SigningKeysSecret" | "VerificationKeysSecret" => {
                // A placeholder: the rotation function writes the real key sets.
                assert_eq!(key, Some("bootstrap"), "{id} GenerateStringKey");
                let shape = template_json(id, &generate["SecretStringTemplate"]);
                assert_eq!(
                    serde_json::Value::Object(shape),
                    serde_json::json!({"keys": []}),
                    "{id} template"
                );
            }
            "DataKeysSecret" => {
                assert_eq!(key, Some("1"), "{id}: version 1 is the generated key");
                assert_eq!(length, Some(64), "{id}: 64 hex characters, 256 bits");
                assert_eq!(alphabet(generate), hex, "{id}: hex only");
                let shape = template_json(id, &generate["SecretStringTemplate"]);
                assert_eq!(
                    serde_json::Value::Object(shape),
                    serde_json::json!({"current": 1}),
                    "{id} template"
                );
            }
            "BlindIndexKeySecret" => {
                assert!(
                    generate.get("SecretStringTemplate").is_none() && key.is_none(),
                    "{id} is a plain string"
                );
                assert_eq!(length, Some(64), "{id}: 64 hex characters, 256 bits");
                assert_eq!(alphabet(generate), hex, "{id}: hex only");
            }
            other => panic!("unknown secret {other}"),
        }
        // Losing these loses every sealed field or every lookup: the stack never deletes them.
        if matches!(id, "DataKeysSecret" | "BlindIndexKeySecret") {
            for policy in ["DeletionPolicy", "UpdateReplacePolicy"] {
                assert_eq!(resource[policy].as_str(), Some("Retain"), "{id} {policy}");
            }
        }
    }
}

#[test]
fn each_role_reads_exactly_the_secrets_its_function_references() {
    let template = template();
    for id in FUNCTIONS.iter().copied() {
        if id == "RotateSecretFunction" {
            continue; // its own test below
        }
        let role_id = role_of(&template, id);
        let referenced = secret_references(&template, id);
        let mut readable = BTreeSet::new();
        let mut batch = false;
        for (condition, statement) in role_statements(&template, &role_id) {
            let (actions, on) = grants(&role_id, &statement);
            if let Some(condition) = condition {
                // Only an operator's secret is granted conditionally: when its ARN is given.
                let (arn, _) = OPERATOR_SECRETS
                    .iter()
                    .find(|(_, when)| *when == condition)
                    .unwrap_or_else(|| panic!("{role_id}: a statement under {condition}"));
                assert_eq!(
                    (actions, on),
                    (
                        BTreeSet::from(["secretsmanager:GetSecretValue".to_string()]),
                        BTreeSet::from([arn.to_string()])
                    ),
                    "{role_id}: under {condition}, read {arn} alone"
                );
                readable.insert(arn.to_string());
                continue;
            }
            if actions.contains("secretsmanager:BatchGetSecretValue") {
                // AWS only grants it on "*"; it returns only the secrets GetSecretValue allows.
                assert_eq!(
                    actions.len(),
                    1,
                    "{role_id}: BatchGetSecretValue's statement is on *, keep it alone"
                );
                assert_eq!(on, BTreeSet::from(["*".to_string()]), "{role_id}");
                batch = true;
                continue;
            }
            assert_eq!(
                actions,
                BTreeSet::from(["secretsmanager:GetSecretValue".to_string()]),
                "{role_id}: functions only read secrets"
            );
            for target in &on {
                assert!(
                    secret_resources(&template).contains(target),
                    "{role_id}: GetSecretValue on {target}, not on one of the stack's secrets"
                );
            }
            readable.extend(on);
        }
        assert_eq!(
            readable, referenced,
            "{role_id}: GetSecretValue on exactly the secrets {id}'s environment references"
        );
        assert_eq!(
            batch,
            !referenced.is_empty(),
            "{role_id}: BatchGetSecretValue (the cold start's one call) iff it reads secrets"
        );
        if id == "GreeterFunction" {
            assert!(
                resources(&template)[role_id.as_str()]["Properties"]
                    .get("Policies")
                    .is_none(),
                "the greeter has no secret access"
            );
        }
    }
}

#[test]
fn the_rotation_function_writes_only_the_rotated_secrets() {
    let template = template();
    let role_id = role_of(&template, "RotateSecretFunction");
    let mut allowed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut conditional = Vec::new();
    for (condition, statement) in role_statements(&template, &role_id) {
        let (actions, on) = grants(&role_id, &statement);
        for action in &actions {
            assert!(
                action.starts_with("secretsmanager:") && !action.contains('*'),
                "{role_id}: {action}"
            );
        }
        assert!(!on.contains("*"), "{role_id}: {actions:?} on *");
        if let Some(condition) = condition {
            conditional.push((condition, actions, on));
            continue;
        }
        for target in on {
            allowed
                .entry(target)
                .or_default()
                .extend(actions.iter().cloned());
        }
    }
    // What it may do comes from the table of which function needs what.
    let table = Needs::of("RotateSecretFunction").unwrap().grants();
    let set =
        |items: &[&str]| -> BTreeSet<String> { items.iter().map(|s| s.to_string()).collect() };
    let mut expected: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut expected_conditional = Vec::new();
    for grant in &table {
        match grant.condition {
            Some(condition) => expected_conditional.push((
                condition.to_string(),
                set(grant.actions),
                set(&grant.resources),
            )),
            None => {
                for resource in grant.resources.iter() {
                    expected
                        .entry(resource.to_string())
                        .or_default()
                        .extend(set(grant.actions));
                }
            }
        }
    }
    assert_eq!(
        allowed, expected,
        "{role_id}: the rotated secrets and the public key set; never the data or index keys"
    );
    assert_eq!(
        conditional, expected_conditional,
        "{role_id}: the master secret, read only when alternating users are configured"
    );
    assert_eq!(
        secret_references(&template, "RotateSecretFunction"),
        BTreeSet::new()
    );
}

/// The env-vars files of the local runner (the shape of `sam local --env-vars`), merged in order:
/// function -> variable -> value (`None`: unset).
fn local_env_files(files: &[&str]) -> BTreeMap<String, BTreeMap<String, Option<String>>> {
    let mut merged: BTreeMap<String, BTreeMap<String, Option<String>>> = BTreeMap::new();
    for file in files {
        let text = std::fs::read_to_string(root().join(file)).expect(file);
        let sections: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        for (section, vars) in sections {
            let vars = vars.as_object().expect("sections are objects");
            for (name, value) in vars {
                merged
                    .entry(section.clone())
                    .or_default()
                    .insert(name.clone(), value.as_str().map(str::to_string));
            }
        }
    }
    merged
}

/// Locally no secret resource exists: every variable that refers to one is unset by the
/// env-vars files (the dev configuration's own secretsmanager: references, against
/// configs/secrets.dev.json or the compose stack's emulator, apply), or, for the rotation
/// function's target secret, given the local secret's id. Otherwise the runner would stop on the
/// unresolved !Ref (it resolves parameters, not resources).
#[test]
fn local_env_files_unset_every_variable_that_refers_to_a_secret() {
    let template = template();
    let secrets = secret_resources(&template);
    let local_secrets: serde_json::Map<String, serde_json::Value> = serde_json::from_str(
        &std::fs::read_to_string(root().join("configs/secrets.dev.json"))
            .expect("configs/secrets.dev.json"),
    )
    .expect("secrets.dev.json is a JSON object");
    for files in [
        vec!["configs/local-env.json"],
        vec!["configs/local-env.json", "configs/local-env.compose.json"],
    ] {
        let merged = local_env_files(&files);
        for id in FUNCTIONS.iter().copied() {
            for (name, value) in environment(&template, id) {
                let mut refs = BTreeSet::new();
                referenced_names(&value, &mut refs);
                if refs.is_disjoint(&secrets) {
                    continue;
                }
                let setting = merged
                    .get(id)
                    .and_then(|vars| vars.get(&name))
                    .or_else(|| merged.get("Parameters").and_then(|vars| vars.get(&name)))
                    .unwrap_or_else(|| {
                        panic!("{files:?}: {id} {name} refers to a secret and is not set")
                    });
                match (id, name.as_str()) {
                    ("RotateSecretFunction", "VERIFICATION_KEYS_SECRET") => {
                        let local = setting.as_deref().unwrap_or_default();
                        assert!(
                            local_secrets.contains_key(local),
                            "{files:?}: {id} {name} = {local:?}, not a secret of secrets.dev.json"
                        );
                    }
                    _ => assert_eq!(
                        setting, &None,
                        "{files:?}: {id} {name} must be null (unset), so the dev configuration's \
                         own value applies"
                    ),
                }
            }
        }
    }
}

/// `7d`, `24h` and the like from the configuration files, in seconds.
fn duration_seconds(text: &str) -> u64 {
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap());
    let number: u64 = number.parse().expect("a number");
    number
        * match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            other => panic!("unit {other}"),
        }
}

#[test]
fn rotation_schedules_invoke_the_rotation_function_with_secrets_managers_permission() {
    let template = template();
    let permissions: Vec<(&str, &Value)> = resources(&template)
        .iter()
        .filter(|(_, r)| resource_type(r) == "AWS::Lambda::Permission")
        .map(|(id, r)| (id.as_str().unwrap_or_default(), r))
        .collect();
    assert_eq!(permissions.len(), 1, "one Lambda permission");
    let (permission_id, permission) = permissions[0];
    let props = &permission["Properties"];
    assert_eq!(props["Action"].as_str(), Some("lambda:InvokeFunction"));
    assert_eq!(
        props["Principal"].as_str(),
        Some("secretsmanager.amazonaws.com")
    );
    assert_eq!(
        get_att(&props["FunctionName"]).as_deref(),
        Some("RotateSecretFunction.Arn")
    );
    assert_eq!(
        ref_target(&props["SourceAccount"]),
        Some("AWS::AccountId"),
        "only this account's secrets may invoke it"
    );

    let schedules: BTreeMap<String, &Value> = resources(&template)
        .values()
        .filter(|r| resource_type(r) == "AWS::SecretsManager::RotationSchedule")
        .map(|r| {
            let secret = ref_target(&r["Properties"]["SecretId"])
                .expect("SecretId is !Ref of a secret")
                .to_string();
            (secret, r)
        })
        .collect();
    assert_eq!(
        schedules.keys().map(String::as_str).collect::<Vec<_>>(),
        ["DatabaseSecret", "SigningKeysSecret"],
        "rotated secrets (data keys by hand, blind index never, the JWKS by the signing rotation)"
    );
    for (secret, schedule) in &schedules {
        let props = &schedule["Properties"];
        assert_eq!(
            get_att(&props["RotationLambdaARN"]).as_deref(),
            Some("RotateSecretFunction.Arn"),
            "{secret}: rotated by RotateSecretFunction"
        );
        assert!(
            props.get("HostedRotationLambda").is_none(),
            "{secret}: our function, not a hosted one"
        );
        assert!(
            one_or_many(&schedule["DependsOn"]).contains(&permission_id.to_string()),
            "{secret}: the schedule must wait for the permission (the first rotation invokes)"
        );
        let (immediately, days) = match secret.as_str() {
            // The first rotation makes the first real signing key.
            "SigningKeysSecret" => (true, "SigningKeyRotationDays"),
            // The database knows no password from the secret until the operator sets it, so
            // the schedule is created only once the operator enables it.
            _ => {
                assert_eq!(
                    schedule["Condition"].as_str(),
                    Some("RotateDatabase"),
                    "{secret}: off until the DatabaseRotation parameter enables it"
                );
                assert_eq!(
                    template["Parameters"]["DatabaseRotation"]["Default"].as_str(),
                    Some("disabled")
                );
                (false, "DatabaseRotationDays")
            }
        };
        assert_eq!(
            props["RotateImmediatelyOnUpdate"].as_bool(),
            Some(immediately),
            "{secret} RotateImmediatelyOnUpdate"
        );
        assert_eq!(
            ref_target(&props["RotationRules"]["AutomaticallyAfterDays"]),
            Some(days),
            "{secret} interval"
        );
        assert_eq!(
            template["Parameters"][days]["Default"].as_u64(),
            Some(30),
            "{days}"
        );
    }

    // A token stays verifiable while its key is in the set: the current key and the previous one,
    // kept one interval. The interval must outlast the longest token plus the secret cache.
    let config: Value = serde_yaml_ng::from_str(
        &std::fs::read_to_string(root().join("configs/config.yaml")).expect("config.yaml"),
    )
    .expect("config.yaml is YAML");
    let refresh_ttl = duration_seconds(
        config["auth"]["tokens"]["refresh_ttl"]
            .as_str()
            .expect("auth.tokens.refresh_ttl"),
    );
    let min_days = template["Parameters"]["SigningKeyRotationDays"]["MinValue"]
        .as_u64()
        .expect("SigningKeyRotationDays has a MinValue");
    assert_eq!(min_days, 8);
    assert!(
        min_days * 86_400 > refresh_ttl,
        "SigningKeyRotationDays may go below the refresh-token lifetime ({refresh_ttl} s)"
    );
}

// ---------------------------------------------------------------------------------------------
// What SAM makes of the template.

/// Translates the template with SAM's own translator (the code CloudFormation runs for the
/// transform) through `scripts/sam-transform.py`, and returns the CloudFormation JSON. Each local
/// `CodeUri` becomes an S3 URI first, as after `sam build` and `sam package`.
fn translate(parameters: &serde_json::Value) -> serde_json::Value {
    let output = run_offline(
        &tool("python"),
        &[
            "scripts/sam-transform.py",
            "template.yaml",
            &serde_json::to_string(parameters).expect("parameters"),
        ],
    );
    assert_success("SAM translation", &output);
    serde_json::from_slice(&output.stdout).expect("the translator prints JSON")
}

/// Parameters for the translation: those without a default. CloudFormation hands the transform
/// a CommaDelimitedList as a list.
fn translation_parameters() -> serde_json::Value {
    serde_json::json!({
        "AllowedOrigins": ["https://app.example.com", "https://admin.example.com"],
        "DatabaseHost": "db.internal",
        "RedisUrl": "rediss://cache.internal:6379",
    })
}

/// Properties SAM copies unchanged from an `AWS::Serverless::Function`, `Globals` merged in, onto
/// the `AWS::Lambda::Function` it generates (SAM's `_construct_lambda_function`). `Role` too,
/// when the function names one (else SAM generates `<Id>Role`).
const PASSED_THROUGH: [&str; 26] = [
    "Architectures",
    "CodeSigningConfigArn",
    "Description",
    "DurableConfig",
    "Environment",
    "EphemeralStorage",
    "FileSystemConfigs",
    "FunctionName",
    "FunctionScalingConfig",
    "Handler",
    "ImageConfig",
    "KmsKeyArn",
    "Layers",
    "LoggingConfig",
    "MemorySize",
    "PackageType",
    "PublishToLatestPublished",
    "RecursiveLoop",
    "ReservedConcurrentExecutions",
    "Role",
    "Runtime",
    "RuntimeManagementConfig",
    "SnapStart",
    "TenancyConfig",
    "Timeout",
    "VpcConfig",
];

/// Properties that do not reach the Lambda function as they are: they become other resources
/// (`AutoPublishAlias*`: a version and an alias; `Events`: routes and permissions; `Policies`:
/// a role) or are rewritten (`CodeUri`: `Code`, from the S3 URI `sam-transform.py` put in place
/// of the local path; `Tags`: a list with SAM's own tag; `Tracing`: `TracingConfig`;
/// `DeadLetterQueue`: `DeadLetterConfig`). The first is checked through the alias below.
const NOT_PASSED_THROUGH: [&str; 16] = [
    "AutoPublishAlias",
    "AutoPublishAliasAllProperties",
    "AutoPublishCodeSha256",
    "CodeUri",
    "DeadLetterQueue",
    "DeploymentPreference",
    "EventInvokeConfig",
    "Events",
    "FunctionUrlConfig",
    "ImageUri",
    "InlineCode",
    "Policies",
    "ProvisionedConcurrencyConfig",
    "SourceKMSKeyArn",
    "Tags",
    "Tracing",
];

/// What SAM adds to every Lambda function on its own.
const GENERATED: [&str; 4] = ["Code", "Tags", "TracingConfig", "DeadLetterConfig"];

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
        let alias_name = merged["AutoPublishAlias"]
            .as_str()
            .expect("AutoPublishAlias");
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

    // SAM generated no role and no policy of its own: only the template's roles exist.
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
    for id in FUNCTIONS.iter() {
        let alias = &resources[&format!("{id}Aliaslive")];
        assert_eq!(alias["Type"], "AWS::Lambda::Alias", "{id} alias");
        assert_eq!(alias["Properties"]["Name"], "live");
    }
}

// ---------------------------------------------------------------------------------------------
// The template's environment is enough for each function to start in prod.

/// Parameter values of a plausible prod stack (the secrets are resources now).
fn prod_parameters() -> HashMap<&'static str, String> {
    HashMap::from([
        ("DatabaseHost", "db.internal".to_string()),
        ("RedisUrl", "rediss://cache.internal:6379".to_string()),
    ])
}

/// A secret's ARN at deploy time (CloudFormation names an unnamed secret `<LogicalId>-<random>`).
fn secret_arn(name: &str) -> String {
    format!("arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}-Q3kM8sPzW1xV-AbCdEf")
}

/// The local runner's resolver, set up as CloudFormation deploys the template with these
/// parameters: each parameter's value (explicit, else its default; none without either) and
/// each secret resource's ARN as what `!Ref` of it gives.
fn deployed_resolver(template: &Value, params: &HashMap<&str, String>) -> Resolver {
    let mut parameters = BTreeMap::new();
    for (name, parameter) in template["Parameters"].as_mapping().into_iter().flatten() {
        let Some(name) = name.as_str() else { continue };
        let default = &parameter["Default"];
        let value = params.get(name).cloned().or_else(|| {
            default
                .as_str()
                .map(str::to_string)
                .or_else(|| default.as_u64().map(|n| n.to_string()))
        });
        parameters.insert(name.to_string(), value);
    }
    for secret in secret_resources(template) {
        parameters.insert(secret.clone(), Some(secret_arn(&secret)));
    }
    let conditions = template["Conditions"]
        .as_mapping()
        .into_iter()
        .flatten()
        .filter_map(|(name, condition)| Some((name.as_str()?.to_string(), condition.clone())))
        .collect();
    Resolver {
        parameters,
        conditions,
        region: "us-east-1".into(),
        account_id: "123456789012".into(),
        stack_name: "redline".into(),
    }
}

/// The environment Lambda would give the function: template variables with parameters
/// resolved (explicit values, else defaults) and secret resources as their ARNs, so that a
/// `secretsmanager:${Secret}#key` variable stays a reference (`secretsmanager:arn:...#key`) for
/// the function's configuration to resolve; plus a CA bundle path that exists on this machine
/// (Lambda's provided.al2023 has the default one).
fn resolved_environment(
    template: &Value,
    params: &HashMap<&str, String>,
    id: &str,
) -> HashMap<String, String> {
    let resolver = deployed_resolver(template, params);
    let mut vars: HashMap<String, String> = environment(template, id)
        .iter()
        .map(|(name, value)| {
            let resolved = resolver
                .resolve(value)
                .unwrap_or_else(|unresolved| panic!("{id} {name}: {unresolved}"));
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

/// What each secret resource holds once deployed and rotated once (the signing keys' first
/// rotation replaces the placeholder), in the shapes the template generates, keyed by the ARNs
/// `secret_arn` gives: a local secrets file standing in for Secrets Manager.
fn deployed_secrets_file(params: &HashMap<&str, String>) -> PathBuf {
    const SIGNING: &str = r#"{"keys":[{"kid":"2026-11-23-3f9a1c2b","alg":"EdDSA","private_key":"MC4CAQAwBQYDK2VwBCIEID7/AanzjXukYMV70BENchM3Vm/yR5XaBzNIYBdPZJOh"}]}"#;
    let public = KeySet::from_signing(&Secret::new(SIGNING))
        .unwrap()
        .jwks()
        .clone();
    let arn = secret_arn;
    let secrets = serde_json::json!({
        arn("DatabaseSecret"): {
            "engine": "postgres", "host": params["DatabaseHost"], "port": 5432,
            "dbname": "redline", "username": "redline", "password": "Zq8vR2mKx7LpT4nW9sBc3YhJ6dFg1aE5"
        },
        arn("SigningKeysSecret"): serde_json::from_str::<serde_json::Value>(SIGNING).unwrap(),
        arn("VerificationKeysSecret"): public,
        arn("DataKeysSecret"): {"current": 1, "1": "5f0e9d8c7b6a59483726150f4e3d2c1b0a99887766554433221100ffeeddccbb"},
        arn("BlindIndexKeySecret"): "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9a",
    });
    let mut secrets = secrets.as_object().cloned().unwrap();
    if let Some(redis) = params.get("RedisUrlSecretArn") {
        secrets.insert(
            redis.clone(),
            serde_json::json!({"url": "rediss://:Wm3kQ9xT2vLp8RzN5bYc@cache.internal:6379"}),
        );
    }
    // One file per call: tests run in parallel and their parameters differ.
    static FILES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let path = std::env::temp_dir().join(format!(
        "redline-deployed-secrets-{}-{}.json",
        std::process::id(),
        FILES.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::write(&path, serde_json::Value::Object(secrets).to_string()).unwrap();
    path
}

/// Cold-starts a function's state from its template environment, resolving its references.
fn starts(template: &Value, id: &str) -> Result<(), String> {
    starts_with(template, &prod_parameters(), id)
}

/// As [`starts`], deployed with these parameters.
fn starts_with(template: &Value, params: &HashMap<&str, String>, id: &str) -> Result<(), String> {
    let mut vars = resolved_environment(template, params, id);
    vars.insert(
        "REDLINE__SECRETS__LOCAL_FILE".into(),
        deployed_secrets_file(params).display().to_string(),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let area = match id {
        "AuthFunction" => Area::Auth,
        "UsersFunction" => Area::Users,
        "GreeterFunction" => Area::Greeter,
        "HealthFunction" => Area::Health,
        "MigrateFunction" => {
            let config = runtime
                .block_on(load_resolved_from(&ConfigSource::Embedded, &vars))
                .map_err(|e| format!("{id} config: {e}"))?;
            return Migrator::new(&config)
                .map(drop)
                .map_err(|e| format!("{id}: {e}"));
        }
        other => panic!("unknown function {other}"),
    };
    let layered =
        layered(&ConfigSource::Embedded, &vars).map_err(|e| format!("{id} config: {e}"))?;
    runtime
        .block_on(areas::open(layered, area))
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

#[test]
fn the_redis_url_comes_from_the_operators_secret_when_its_arn_is_given() {
    let template = template();
    let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/redis-auth-Xy12Ab";
    let mut params = prod_parameters();
    params.remove("RedisUrl");
    params.insert("RedisUrlSecretArn", arn.to_string());
    for id in ["AuthFunction", "UsersFunction", "HealthFunction"] {
        assert_eq!(
            resolved_environment(&template, &params, id)["REDIS_URL"],
            format!("secretsmanager:{arn}#url"),
            "{id}"
        );
        starts_with(&template, &params, id)
            .unwrap_or_else(|e| panic!("cold start would fail: {e}"));
    }
    // Without the ARN, the parameter as before.
    assert_eq!(
        resolved_environment(&template, &prod_parameters(), "AuthFunction")["REDIS_URL"],
        prod_parameters()["RedisUrl"]
    );
    // Deploying with neither is refused by a template rule, not at every cold start.
    let rule = &template["Rules"]["RedisLocation"]["Assertions"][0]["Assert"];
    for (url, secret, allowed) in [
        ("", "", false),
        ("rediss://c:6379", "", true),
        ("", arn, true),
    ] {
        let params = HashMap::from([
            ("RedisUrl", url.to_string()),
            ("RedisUrlSecretArn", secret.to_string()),
        ]);
        assert_eq!(
            deployed_resolver(&template, &params).holds(rule).unwrap(),
            allowed,
            "RedisUrl {url:?}, RedisUrlSecretArn {secret:?}"
        );
    }
}
