//! The resource model of an AWS SAM template: functions (with `Globals` applied), their HTTP
//! events as routes, the HTTP API's CORS configuration, the parameters and the conditions.

use crate::globals::Globals;
use crate::logging::LoggingSpec;
use serde_yaml_ng::Value;
use std::collections::BTreeMap;
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("template: {0}")]
    Invalid(String),
}

/// Which API Gateway payload a route produces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApiKind {
    /// `AWS::Serverless::HttpApi` (`HttpApi` events): payload format 2.0.
    Http,
    /// `AWS::Serverless::Api` (`Api` events): the REST proxy payload (1.0).
    Rest,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    pub kind: ApiKind,
    /// Upper-case method, or `ANY`.
    pub method: String,
    /// `/helloworld/{name}`, or `None` for the HTTP API's `$default` route.
    pub path: Option<String>,
    pub function: String,
}

#[derive(Debug, Clone)]
pub struct FunctionSpec {
    pub logical_id: String,
    /// Every property, `Globals` applied as SAM applies them, intrinsic functions unresolved.
    pub properties: Value,
    /// `FunctionName` when it resolves to a plain string, else the logical id.
    pub name: Value,
    pub binary: String,
    pub memory_mb: u64,
    pub timeout_s: u64,
    /// Template values, intrinsic functions unresolved.
    pub environment: BTreeMap<String, Value>,
    pub reserved_concurrency: Option<u64>,
}

impl FunctionSpec {
    /// The function's `LoggingConfig`, `Globals` applied, intrinsic functions unresolved.
    pub fn logging(&self) -> LoggingSpec {
        LoggingSpec::of(&self.properties)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CorsSpec {
    pub allow_origins: Value,
    pub allow_methods: Vec<String>,
    pub allow_headers: Vec<String>,
    pub expose_headers: Vec<String>,
    pub max_age: Option<u64>,
    pub allow_credentials: bool,
}

#[derive(Debug, Clone)]
pub struct Template {
    pub parameters: BTreeMap<String, Option<String>>,
    /// The `Conditions` section, by name, for `!If`.
    pub conditions: BTreeMap<String, Value>,
    pub functions: Vec<FunctionSpec>,
    pub routes: Vec<RouteSpec>,
    pub cors: Option<CorsSpec>,
}

impl Template {
    pub fn load(path: &Path) -> Result<Self, TemplateError> {
        let text = std::fs::read_to_string(path).map_err(|e| TemplateError::Read {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        Self::parse(&text)
    }

    pub fn parse(text: &str) -> Result<Self, TemplateError> {
        let root: Value = serde_yaml_ng::from_str(text)
            .map_err(|e| TemplateError::Invalid(format!("not YAML: {e}")))?;
        Self::from_document(&root)
    }

    /// The model of a template already read as YAML.
    pub fn from_document(root: &Value) -> Result<Self, TemplateError> {
        let globals = Globals::of(root)?;
        let resources = root
            .get("Resources")
            .and_then(Value::as_mapping)
            .ok_or_else(|| TemplateError::Invalid("no Resources".into()))?;

        let mut functions = Vec::new();
        let mut routes = Vec::new();
        let mut cors = None;
        for (id, resource) in resources {
            let id = id.as_str().unwrap_or_default().to_string();
            match resource.get("Type").and_then(Value::as_str) {
                Some("AWS::Serverless::Function") => {
                    let properties = globals.apply(&id, resource)?;
                    routes.extend(routes_of(&id, &properties));
                    functions.push(function_spec(&id, resource, properties)?);
                }
                Some("AWS::Serverless::HttpApi") => {
                    let properties = globals.apply(&id, resource)?;
                    if let Some(config) = properties.get("CorsConfiguration") {
                        cors = Some(cors_spec(config));
                    }
                }
                _ => {}
            }
        }
        let parameters = root
            .get("Parameters")
            .and_then(Value::as_mapping)
            .map(|params| {
                params
                    .iter()
                    .map(|(k, v)| {
                        let default = v.get("Default").and_then(scalar_string);
                        (k.as_str().unwrap_or_default().to_string(), default)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let conditions = root
            .get("Conditions")
            .and_then(Value::as_mapping)
            .map(|conditions| {
                conditions
                    .iter()
                    .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v.clone())))
                    .collect()
            })
            .unwrap_or_default();
        Ok(Template {
            parameters,
            conditions,
            functions,
            routes,
            cors,
        })
    }

    pub fn function(&self, logical_id: &str) -> Option<&FunctionSpec> {
        self.functions.iter().find(|f| f.logical_id == logical_id)
    }
}

/// A scalar as a string (numbers and booleans too).
pub fn scalar_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn number(properties: &Value, key: &str, default: u64) -> u64 {
    properties
        .get(key)
        .and_then(|v| {
            v.as_u64()
                .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
        })
        .unwrap_or(default)
}

fn function_spec(
    id: &str,
    resource: &Value,
    properties: Value,
) -> Result<FunctionSpec, TemplateError> {
    let binary = resource
        .get("Metadata")
        .and_then(|m| m.get("BuildProperties"))
        .and_then(|b| b.get("Binary"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| id.trim_end_matches("Function").to_ascii_lowercase());
    let environment = properties
        .get("Environment")
        .and_then(|e| e.get("Variables"))
        .and_then(Value::as_mapping)
        .map(|vars| {
            vars.iter()
                .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v.clone())))
                .collect()
        })
        .unwrap_or_default();
    Ok(FunctionSpec {
        logical_id: id.to_string(),
        name: properties
            .get("FunctionName")
            .cloned()
            .unwrap_or_else(|| Value::String(id.to_string())),
        binary,
        // Lambda's defaults when the template says nothing.
        memory_mb: number(&properties, "MemorySize", 128),
        timeout_s: number(&properties, "Timeout", 3),
        environment,
        reserved_concurrency: properties
            .get("ReservedConcurrentExecutions")
            .and_then(Value::as_u64),
        properties,
    })
}

fn routes_of(id: &str, properties: &Value) -> Vec<RouteSpec> {
    let Some(events) = properties.get("Events").and_then(Value::as_mapping) else {
        return Vec::new();
    };
    events
        .values()
        .filter_map(|event| {
            let kind = match event.get("Type").and_then(Value::as_str)? {
                "HttpApi" => ApiKind::Http,
                "Api" => ApiKind::Rest,
                _ => return None,
            };
            let props = event.get("Properties");
            let path = props
                .and_then(|p| p.get("Path"))
                .and_then(Value::as_str)
                .map(str::to_string)
                .filter(|p| p != "$default");
            let method = props
                .and_then(|p| p.get("Method"))
                .and_then(Value::as_str)
                .map(|m| m.to_ascii_uppercase())
                .unwrap_or_else(|| "ANY".into());
            Some(RouteSpec {
                kind,
                method: if method == "X-AMAZON-APIGATEWAY-ANY-METHOD" {
                    "ANY".into()
                } else {
                    method
                },
                path,
                function: id.to_string(),
            })
        })
        .collect()
}

fn strings(value: Option<&Value>) -> Vec<String> {
    value
        .and_then(Value::as_sequence)
        .map(|items| items.iter().filter_map(scalar_string).collect())
        .unwrap_or_default()
}

fn cors_spec(config: &Value) -> CorsSpec {
    CorsSpec {
        allow_origins: config.get("AllowOrigins").cloned().unwrap_or(Value::Null),
        allow_methods: strings(config.get("AllowMethods")),
        allow_headers: strings(config.get("AllowHeaders")),
        expose_headers: strings(config.get("ExposeHeaders")),
        max_age: config.get("MaxAge").and_then(Value::as_u64),
        allow_credentials: config
            .get("AllowCredentials")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r#"
Transform: AWS::Serverless-2016-10-31
Parameters:
  Origins: {Type: CommaDelimitedList, Default: "http://localhost:5173"}
  Secret: {Type: String, NoEcho: true}
Globals:
  Function:
    Timeout: 10
    LoggingConfig: {LogFormat: JSON}
    Environment:
      Variables: {REDLINE_ENV: prod, SHARED: "1"}
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      CorsConfiguration:
        AllowOrigins: !Ref Origins
        AllowMethods: [GET, POST]
        AllowHeaders: [Authorization]
        MaxAge: 600
  HelloFunction:
    Type: AWS::Serverless::Function
    Metadata: {BuildMethod: rust-cargolambda, BuildProperties: {Binary: greeter}}
    Properties:
      MemorySize: 256
      LoggingConfig: {LogGroup: hello}
      Environment:
        Variables: {OWN: !Ref Secret, REDLINE_ENV: dev}
      Events:
        Hello: {Type: HttpApi, Properties: {ApiId: !Ref Api, Method: get, Path: "/helloworld/{name}"}}
        Default: {Type: HttpApi, Properties: {ApiId: !Ref Api}}
        Rest: {Type: Api, Properties: {Method: post, Path: /v1/x}}
  Quiet:
    Type: AWS::Serverless::Function
    Properties: {}
"#;

    #[test]
    fn reads_functions_routes_cors_and_parameters() {
        let template = Template::parse(TEMPLATE).unwrap();
        let hello = template.function("HelloFunction").unwrap();
        assert_eq!(hello.binary, "greeter");
        assert_eq!((hello.memory_mb, hello.timeout_s), (256, 10));
        assert_eq!(
            hello.environment["REDLINE_ENV"],
            Value::String("dev".into())
        );
        assert_eq!(hello.environment["SHARED"], Value::String("1".into()));
        assert!(matches!(hello.environment["OWN"], Value::Tagged(_)));
        assert_eq!(
            hello.properties["LoggingConfig"],
            serde_yaml_ng::from_str::<Value>("{LogFormat: JSON, LogGroup: hello}").unwrap()
        );
        let quiet = template.function("Quiet").unwrap();
        assert_eq!(
            (quiet.binary.as_str(), quiet.memory_mb, quiet.timeout_s),
            ("quiet", 128, 10)
        );
        assert_eq!(template.routes.len(), 3);
        assert!(template.routes.contains(&RouteSpec {
            kind: ApiKind::Http,
            method: "GET".into(),
            path: Some("/helloworld/{name}".into()),
            function: "HelloFunction".into()
        }));
        assert!(template
            .routes
            .iter()
            .any(|r| r.path.is_none() && r.method == "ANY"));
        assert!(template.routes.iter().any(|r| r.kind == ApiKind::Rest));
        let cors = template.cors.unwrap();
        assert_eq!(cors.max_age, Some(600));
        assert_eq!(
            template.parameters["Origins"].as_deref(),
            Some("http://localhost:5173")
        );
        assert_eq!(template.parameters["Secret"], None);
    }
}
