//! `template.yaml`: the SAM linters, then what they cannot see: runtime and build settings, the
//! contract's route table, CORS, which function gets which variable, the Secrets Manager secrets
//! (generated, read only by the functions that reference them, rotated by the rotation function),
//! IAM, the local env-vars files, and what SAM's translator actually makes of it. Needs the tools
//! of `scripts/install-tools.sh`; no network.

use redline_core::config::{layered, ConfigSource, Secret};
use redline_core::http::routes::{RouteId, ROUTES};
use redline_core::needs::{Needs, FUNCTIONS as NEEDS};
use redline_core::Area;
use redline_stores::migrator::Migrator;
use redline_template::{intrinsic, Resolver};
use redline_tests::areas;
use redline_tests::areas::load_resolved_from;
use redline_tests::servers::MotoServer;
use redline_tokens::KeySet;
use serde_yaml_ng::{Mapping, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Every function of the template, from the table of which function needs what.
static FUNCTIONS: std::sync::LazyLock<Vec<&'static str>> =
    std::sync::LazyLock::new(|| NEEDS.iter().map(|needs| needs.logical_id).collect());

/// The Secrets Manager secrets of the stack (logical ids).
const SECRETS: [&str; 7] = [
    "DatabaseSecret",
    "DatabaseAppSecret",
    "SigningKeysSecret",
    "VerificationKeysSecret",
    "DataKeysSecret",
    "BlindIndexKeySecret",
    "SmokeAccountSecret",
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

mod alarms;
mod cold_start;
mod deployment;
mod environment;
mod functions;
mod lint;
mod logging;
mod routes;
mod secrets;
mod translator;

// ---------------------------------------------------------------------------------------------
// The linters: cfn-lint and `sam validate --lint` accept the template.

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

// ---------------------------------------------------------------------------------------------
// Routes and CORS: exactly the contract's route table, nothing else exposed.

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

// ---------------------------------------------------------------------------------------------
// Environment variables, secrets in the environment, and the roles' managed policies.

/// A variable's value as written: a literal, `!Ref X`, `!Sub <text>` or `!If [C, a, b]` of those.
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
    } else if let Some(literal) = value.as_str() {
        literal.to_string()
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

/// What a statement allows, on what: `!Ref` targets, `!Sub <text>`, or the literal (`*`), as
/// the table of which function needs what writes resources.
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
        .map(
            |item| match (ref_target(item), sub_text(item), item.as_str()) {
                (Some(target), _, _) => target.to_string(),
                (None, Some(text), _) => format!("!Sub {text}"),
                (None, None, Some(literal)) => literal.to_string(),
                _ => panic!("{role_id}: resource {item:?} is neither !Ref, !Sub nor a literal"),
            },
        )
        .collect();
    (actions, resources)
}

// ---------------------------------------------------------------------------------------------
// What SAM's own translator makes of the template, offline.

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

/// The resources of a translated template of one type, by logical id.
fn of_type<'a>(cfn: &'a serde_json::Value, kind: &str) -> BTreeMap<&'a str, &'a serde_json::Value> {
    cfn["Resources"]
        .as_object()
        .expect("Resources")
        .iter()
        .filter(|(_, r)| r["Type"] == kind)
        .map(|(id, r)| (id.as_str(), r))
        .collect()
}

/// The template as SAM's translator hands it to CloudFormation with [`translation_parameters`],
/// translated once for the tests that only read it.
fn deployed() -> &'static serde_json::Value {
    static DEPLOYED: std::sync::LazyLock<serde_json::Value> =
        std::sync::LazyLock::new(|| translate(&translation_parameters()));
    &DEPLOYED
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
    // The template reader's parameters (with their defaults) and conditions, as the runner reads
    // them; then the deploy's values and each secret resource as its ARN.
    let model = redline_template::Template::load(&root().join("template.yaml"))
        .expect("template.yaml reads");
    let mut parameters = model.parameters;
    for (name, value) in params {
        parameters.insert(name.to_string(), Some(value.clone()));
    }
    for secret in secret_resources(template) {
        parameters.insert(secret.clone(), Some(secret_arn(&secret)));
    }
    Resolver {
        parameters,
        conditions: model.conditions,
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

/// The operator's own secret holding the Redis URL, as a stack's `RedisUrlSecretArn` names it.
const OPERATOR_REDIS_SECRET_ARN: &str =
    "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/redis-auth-Xy12Ab";

/// Secrets Manager for the cold starts: moto, holding what each secret resource holds once
/// deployed and rotated once (the signing keys' first rotation replaces the placeholder), in the
/// shapes the template generates, plus the operator's Redis secret. Each is named by the last
/// part of the ARN the deploy gives it (`secret_arn`), which is how Secrets Manager finds a
/// secret by an ARN. Prod refuses a local secrets file, so the functions reach it as in AWS:
/// through the SDK's standard variables, set once for this test process.
fn deployed_secrets() -> &'static MotoServer {
    static MOTO: std::sync::LazyLock<MotoServer> = std::sync::LazyLock::new(|| {
        let moto = MotoServer::for_this_process();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            for (arn, value) in deployed_secret_values() {
                let name = arn.rsplit(':').next().expect("an ARN");
                // A string secret is its text; a JSON secret its document.
                let text = value
                    .as_str()
                    .map_or_else(|| value.to_string(), str::to_string);
                moto.create_secret(name, &text).await;
            }
        });
        for (name, value) in moto.env() {
            std::env::set_var(name, value);
        }
        moto
    });
    &MOTO
}

fn deployed_secret_values() -> Vec<(String, serde_json::Value)> {
    const SIGNING: &str = r#"{"keys":[{"kid":"2026-11-23-3f9a1c2b","alg":"EdDSA","private_key":"MC4CAQAwBQYDK2VwBCIEID7/AanzjXukYMV70BENchM3Vm/yR5XaBzNIYBdPZJOh"}]}"#;
    let public = KeySet::from_signing(&Secret::new(SIGNING))
        .unwrap()
        .jwks()
        .clone();
    let host = &prod_parameters()["DatabaseHost"];
    vec![
        (
            secret_arn("DatabaseSecret"),
            serde_json::json!({
                "engine": "postgres", "host": host, "port": 5432,
                "dbname": "redline", "username": "redline", "password": "Zq8vR2mKx7LpT4nW9sBc3YhJ6dFg1aE5"
            }),
        ),
        (
            secret_arn("DatabaseAppSecret"),
            serde_json::json!({
                "engine": "postgres", "host": host, "port": 5432,
                "dbname": "redline", "username": "redline_app", "password": "Hn4cW8pLq2ZrX6vT9mBd3KfJ7sYg5aE1",
                "masterarn": secret_arn("DatabaseSecret")
            }),
        ),
        (
            secret_arn("SigningKeysSecret"),
            serde_json::from_str(SIGNING).unwrap(),
        ),
        (secret_arn("VerificationKeysSecret"), public),
        (
            secret_arn("DataKeysSecret"),
            serde_json::json!({"current": 1, "1": "5f0e9d8c7b6a59483726150f4e3d2c1b0a99887766554433221100ffeeddccbb"}),
        ),
        (
            secret_arn("BlindIndexKeySecret"),
            "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f9a".into(),
        ),
        (
            secret_arn("SmokeAccountSecret"),
            "Kq7Zt2Wn9Xb4Rm6Pv8Ls3Hd5Jf1Gc0YeAaBbCcDdEeFfGgHh".into(),
        ),
        (
            OPERATOR_REDIS_SECRET_ARN.to_string(),
            serde_json::json!({"url": "rediss://:Wm3kQ9xT2vLp8RzN5bYc@cache.internal:6379"}),
        ),
    ]
}

/// Cold-starts a function's state from its template environment, resolving its references.
fn starts(template: &Value, id: &str) -> Result<(), String> {
    starts_with(template, &prod_parameters(), id)
}

/// As [`starts`], deployed with these parameters.
fn starts_with(template: &Value, params: &HashMap<&str, String>, id: &str) -> Result<(), String> {
    deployed_secrets();
    let vars = resolved_environment(template, params, id);
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
