//! Lambda's API on the invoke port, in its own protocol (REST-JSON, as botocore's `lambda`
//! model and the AWS SDKs speak it): `Invoke`, `PublishVersion`, `ListVersionsByFunction`,
//! `GetAlias`, `UpdateAlias` and `UpdateFunctionCode`. A function is named by its logical id,
//! its name or its ARN, each optionally `:qualifier`. [`error`] is the one place a refusal
//! becomes Lambda's error.

use crate::code::{CodeRefused, CodeStore};
use crate::functions::{Alias, AliasUpdate, Function, Functions, Reference, Refusal, VersionView};
use crate::http::{HttpRequest, HttpResponse};
use crate::pool::{Caller, Outcome};
use crate::trace::Trace;
use base64::Engine;
use bytes::Bytes;
use redline_events::request::header;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::sync::Arc;

const PREFIX: &str = "/2015-03-31/functions/";
/// Lambda's limit on the decoded client context.
const MAX_CLIENT_CONTEXT: usize = 3583;

/// The Lambda operations served, as botocore names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Invoke,
    PublishVersion,
    ListVersionsByFunction,
    GetAlias,
    UpdateAlias,
    UpdateFunctionCode,
}

impl Operation {
    /// Whether it changes anything or runs code: only loopback clients may call these.
    pub fn changes(self) -> bool {
        !matches!(
            self,
            Operation::ListVersionsByFunction | Operation::GetAlias
        )
    }
}

/// A request to Lambda's API: which operation, on which function (and alias).
#[derive(Debug, PartialEq, Eq)]
pub struct Call {
    pub operation: Operation,
    pub function: String,
    pub alias: Option<String>,
}

fn decode(segment: &str) -> String {
    percent_encoding::percent_decode_str(segment)
        .decode_utf8_lossy()
        .into_owned()
}

/// Which operation a method and path are, or `None` when they are not Lambda's.
pub fn route(method: &str, path: &str) -> Option<Call> {
    let rest = path.strip_prefix(PREFIX)?;
    let segments: Vec<&str> = rest.split('/').collect();
    let call = |operation, alias: Option<&str>| Call {
        operation,
        function: decode(segments[0]),
        alias: alias.map(decode),
    };
    Some(match (method, segments.as_slice()) {
        ("POST", [_, "invocations"]) => call(Operation::Invoke, None),
        ("POST", [_, "versions"]) => call(Operation::PublishVersion, None),
        ("GET", [_, "versions"]) => call(Operation::ListVersionsByFunction, None),
        ("GET", [_, "aliases", alias]) => call(Operation::GetAlias, Some(alias)),
        ("PUT", [_, "aliases", alias]) => call(Operation::UpdateAlias, Some(alias)),
        ("PUT", [_, "code"]) => call(Operation::UpdateFunctionCode, None),
        _ => return None,
    })
}

/// A Lambda error: its type (the `x-amzn-errortype` header), status and message.
pub struct LambdaError {
    pub kind: &'static str,
    pub status: u16,
    pub message: String,
}

impl LambdaError {
    pub fn invalid(message: impl Into<String>) -> Self {
        LambdaError {
            kind: "InvalidParameterValueException",
            status: 400,
            message: message.into(),
        }
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        LambdaError {
            kind: "ResourceNotFoundException",
            status: 404,
            message: message.into(),
        }
    }

    pub fn access_denied() -> Self {
        LambdaError {
            kind: "AccessDeniedException",
            status: 403,
            message: "The local runner answers calls that run or change code only from loopback addresses.".into(),
        }
    }
}

impl From<Refusal> for LambdaError {
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::NotFound(message) => LambdaError::not_found(message),
            Refusal::Invalid(message) => LambdaError::invalid(message),
            Refusal::Precondition(message) => LambdaError {
                kind: "PreconditionFailedException",
                status: 412,
                message,
            },
        }
    }
}

/// The answer for an error: the type in `x-amzn-errortype` and the body the model gives it
/// (`ResourceNotFoundException` and `AccessDeniedException` spell their message `Message`).
pub fn error(error: LambdaError) -> HttpResponse {
    let key = match error.kind {
        "ResourceNotFoundException" | "AccessDeniedException" => "Message",
        _ => "message",
    };
    let body = json!({"Type": "User", key: error.message});
    let mut response = HttpResponse::json(error.status, &body.to_string());
    response
        .headers
        .push(("x-amzn-errortype".into(), error.kind.into()));
    response
        .headers
        .push(("x-amzn-requestid".into(), crate::ids::uuid()));
    response
}

fn ok(status: u16, body: Value) -> HttpResponse {
    let mut response = HttpResponse::json(status, &body.to_string());
    response
        .headers
        .push(("x-amzn-requestid".into(), crate::ids::uuid()));
    response
}

/// The query string's value for `name`, percent-decoded.
fn query(request: &HttpRequest, name: &str) -> Option<String> {
    request.query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(key) == name).then(|| decode(&value.replace('+', " ")))
    })
}

fn body(request: &HttpRequest) -> Result<Map<String, Value>, LambdaError> {
    if request.body.is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_slice(&request.body) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(LambdaError {
            kind: "InvalidRequestContentException",
            status: 400,
            message: "Could not parse request body into json".into(),
        }),
    }
}

fn string(body: &Map<String, Value>, key: &str) -> Option<String> {
    body.get(key).and_then(Value::as_str).map(str::to_string)
}

pub struct LambdaApi {
    pub functions: Arc<Functions>,
    pub store: Arc<CodeStore>,
}

impl LambdaApi {
    /// The function and the qualifier a call names; a qualifier is refused where the operation
    /// takes none.
    fn function(
        &self,
        call: &Call,
        qualifier: Option<String>,
    ) -> Result<(Arc<Function>, Option<String>), LambdaError> {
        let reference = Reference::parse(&call.function);
        let function = self.functions.get(&call.function).cloned().ok_or_else(|| {
            LambdaError::not_found(format!("Function not found: {}", call.function))
        })?;
        let qualifier = match (reference.qualifier, qualifier) {
            (Some(a), Some(b)) if a != b => {
                return Err(LambdaError::invalid(
                    "The derived qualifier from the function name does not match the specified qualifier.",
                ))
            }
            (Some(a), _) => Some(a.to_string()),
            (None, b) => b,
        };
        Ok((function, qualifier))
    }

    pub async fn serve(&self, call: Call, request: HttpRequest) -> HttpResponse {
        match self.answer(call, request).await {
            Ok(response) => response,
            Err(failure) => error(failure),
        }
    }

    async fn answer(&self, call: Call, request: HttpRequest) -> Result<HttpResponse, LambdaError> {
        let qualifier = match call.operation {
            Operation::Invoke => query(&request, "Qualifier"),
            _ => None,
        };
        let (function, qualifier) = self.function(&call, qualifier)?;
        if qualifier.is_some() && call.operation != Operation::Invoke {
            return Err(LambdaError::invalid(
                "This operation takes an unqualified function name.",
            ));
        }
        match call.operation {
            Operation::Invoke => invoke(&function, qualifier.as_deref(), request).await,
            Operation::PublishVersion => {
                let body = body(&request)?;
                let (description, sha) =
                    (string(&body, "Description"), string(&body, "CodeSha256"));
                let published = function.clone();
                let view = blocking(move || published.publish_now(description, sha)).await?;
                Ok(ok(201, configuration(&function, &view, false)))
            }
            Operation::ListVersionsByFunction => {
                let listed = function.clone();
                let views = blocking(move || Ok(listed.views())).await?;
                let start: usize = query(&request, "Marker")
                    .map(|m| {
                        m.parse()
                            .map_err(|_| LambdaError::invalid("Invalid Marker"))
                    })
                    .transpose()?
                    .unwrap_or(0);
                let max: usize = query(&request, "MaxItems")
                    .and_then(|m| m.parse().ok())
                    .unwrap_or(50)
                    .clamp(1, 10_000);
                let page: Vec<Value> = views
                    .iter()
                    .skip(start)
                    .take(max)
                    .map(|view| configuration(&function, view, true))
                    .collect();
                let mut answer = json!({"Versions": page});
                if start + max < views.len() {
                    answer["NextMarker"] = json!((start + max).to_string());
                }
                Ok(ok(200, answer))
            }
            Operation::GetAlias => {
                let alias = function.alias(call.alias.as_deref().unwrap_or_default())?;
                Ok(ok(200, alias_configuration(&function, &alias)))
            }
            Operation::UpdateAlias => {
                let update = alias_update(&body(&request)?)?;
                let alias =
                    function.update_alias(call.alias.as_deref().unwrap_or_default(), update)?;
                Ok(ok(200, alias_configuration(&function, &alias)))
            }
            Operation::UpdateFunctionCode => self.update_code(function, &body(&request)?).await,
        }
    }

    /// `UpdateFunctionCode`: only `S3Key`, naming a file under a `--code-dir` (`S3Bucket` is not
    /// looked at). `ZipFile` and `ImageUri` are refused: the runner never runs bytes a request
    /// carried.
    async fn update_code(
        &self,
        function: Arc<Function>,
        body: &Map<String, Value>,
    ) -> Result<HttpResponse, LambdaError> {
        if body.contains_key("ZipFile") || body.contains_key("ImageUri") {
            return Err(LambdaError::invalid(
                "The local runner does not run uploaded code: give S3Key, a file under a --code-dir.",
            ));
        }
        let key = string(body, "S3Key")
            .ok_or_else(|| LambdaError::invalid("Please provide a source for function code."))?;
        let file = self
            .store
            .code_file(&key)
            .map_err(|refused: CodeRefused| LambdaError::invalid(refused.message()))?;
        if body.get("DryRun").and_then(Value::as_bool) == Some(true) {
            let viewed = function.clone();
            let view = blocking(move || viewed.view(crate::functions::LATEST)).await?;
            return Ok(ok(200, configuration(&function, &view, false)));
        }
        let publish = body.get("Publish").and_then(Value::as_bool) == Some(true);
        let (store, updated) = (self.store.clone(), function.clone());
        let view = blocking(move || {
            let snapshot = store.snapshot(&file).map_err(Refusal::Invalid)?;
            let latest = updated.update_code(snapshot)?;
            if publish {
                updated.publish_now(None, None)
            } else {
                Ok(latest)
            }
        })
        .await?;
        Ok(ok(200, configuration(&function, &view, false)))
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, Refusal> + Send + 'static,
) -> Result<T, LambdaError> {
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result.map_err(LambdaError::from),
        Err(_) => Err(LambdaError {
            kind: "ServiceException",
            status: 500,
            message: "The local runner failed.".into(),
        }),
    }
}

fn alias_update(body: &Map<String, Value>) -> Result<AliasUpdate, LambdaError> {
    let weights = match body.get("RoutingConfig") {
        None | Some(Value::Null) => None,
        Some(config) => {
            let mut weights = BTreeMap::new();
            if let Some(map) = config
                .get("AdditionalVersionWeights")
                .and_then(Value::as_object)
            {
                for (version, weight) in map {
                    let weight = weight.as_f64().ok_or_else(|| {
                        LambdaError::invalid(format!("Invalid weight for version {version}"))
                    })?;
                    weights.insert(version.clone(), weight);
                }
            }
            Some(weights)
        }
    };
    Ok(AliasUpdate {
        version: string(body, "FunctionVersion"),
        weights,
        description: string(body, "Description"),
        revision_id: string(body, "RevisionId"),
    })
}

/// `2026-11-25T20:01:02.345+0000`, Lambda's `LastModified`.
fn last_modified(epoch_ms: u64) -> String {
    let secs = epoch_ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (year, month, day) = redline_events::request::civil_from_days(days as i64);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}+0000",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        epoch_ms % 1000
    )
}

/// `FunctionConfiguration`. `$LATEST`'s ARN is unqualified except in a list of versions.
fn configuration(function: &Function, view: &VersionView, listed: bool) -> Value {
    let template = &function.template;
    let arn = if view.version == crate::functions::LATEST && !listed {
        function.arn()
    } else {
        format!("{}:{}", function.arn(), view.version)
    };
    json!({
        "FunctionName": function.name(),
        "FunctionArn": arn,
        "Runtime": "provided.al2023",
        "Role": format!("arn:aws:iam::{}:role/redline-local", template.account_id),
        "Handler": "bootstrap",
        "CodeSize": view.code_size,
        "Description": view.description,
        "Timeout": template.timeout.as_secs(),
        "MemorySize": template.memory_mb,
        "LastModified": last_modified(view.modified_ms),
        "CodeSha256": view.code_sha256,
        "Version": view.version,
        "RevisionId": view.revision_id,
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "PackageType": "Zip",
        "Architectures": ["x86_64"],
    })
}

/// `AliasConfiguration`; `RoutingConfig` only when the alias has an extra version.
fn alias_configuration(function: &Function, alias: &Alias) -> Value {
    let mut body = json!({
        "AliasArn": format!("{}:{}", function.arn(), alias.name),
        "Name": alias.name,
        "FunctionVersion": alias.version,
        "Description": alias.description,
        "RevisionId": alias.revision_id,
    });
    if !alias.weights.is_empty() {
        body["RoutingConfig"] = json!({"AdditionalVersionWeights": alias.weights});
    }
    body
}

/// `X-Amz-Client-Context`: base64 of a JSON object, at most 3583 bytes decoded. The function
/// gets the JSON itself (`Lambda-Runtime-Client-Context`), as Lambda hands it on, re-written
/// on one line in ASCII so that it is a valid header value.
pub fn client_context(encoded: &str) -> Result<String, LambdaError> {
    let invalid = || LambdaError {
        kind: "InvalidRequestContentException",
        status: 400,
        message: "Client context must be a valid Base64-encoded JSON object.".into(),
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| invalid())?;
    if decoded.len() > MAX_CLIENT_CONTEXT {
        return Err(LambdaError {
            kind: "InvalidRequestContentException",
            status: 400,
            message: format!("Client context must be at most {MAX_CLIENT_CONTEXT} bytes."),
        });
    }
    let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(&decoded) else {
        return Err(invalid());
    };
    let text = Value::Object(object).to_string();
    let mut ascii = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_ascii() {
            ascii.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                ascii.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    Ok(ascii)
}

/// `Invoke`: `RequestResponse` (the default) waits for the answer; `Event` answers 202 at once
/// and runs the invocation in the background (no retries, unlike Lambda); `DryRun` answers 204.
async fn invoke(
    function: &Arc<Function>,
    qualifier: Option<&str>,
    request: HttpRequest,
) -> Result<HttpResponse, LambdaError> {
    let target = function.resolve(qualifier)?;
    let client_context = header(&request.headers, "x-amz-client-context")
        .map(client_context)
        .transpose()?;
    let invocation_type = header(&request.headers, "x-amz-invocation-type")
        .unwrap_or("RequestResponse")
        .to_string();
    let payload = if request.body.is_empty() {
        Bytes::from_static(b"{}")
    } else {
        request.body.clone()
    };
    // Lambda's Invoke continues the caller's trace when it sends one.
    let trace = Trace::continuing(header(&request.headers, "x-amzn-trace-id"));
    let request_id = crate::ids::uuid();
    let caller = Caller {
        invoked_arn: Some(target.invoked_arn.clone()),
        client_context,
        request_id: Some(request_id.clone()),
    };
    match invocation_type.as_str() {
        "RequestResponse" => {
            let timeout = target.pool.config.timeout.as_secs_f64();
            let outcome = target.pool.invoke(payload, &trace, caller).await;
            let mut response = invoke_response(outcome, timeout);
            response
                .headers
                .push(("x-amz-executed-version".into(), target.version));
            Ok(response)
        }
        "Event" => {
            let pool = target.pool.clone();
            tokio::spawn(async move { pool.invoke(payload, &trace, caller).await });
            Ok(HttpResponse {
                status: 202,
                headers: vec![("x-amzn-requestid".into(), request_id)],
                body: Bytes::new(),
            })
        }
        "DryRun" => Ok(HttpResponse {
            status: 204,
            headers: vec![("x-amzn-requestid".into(), request_id)],
            body: Bytes::new(),
        }),
        other => Err(LambdaError::invalid(format!(
            "1 validation error detected: Value '{other}' at 'invocationType' failed to satisfy constraint: Member must satisfy enum value set: [Event, RequestResponse, DryRun]"
        ))),
    }
}

fn function_error(request_id: &str, body: Bytes) -> HttpResponse {
    HttpResponse {
        status: 200,
        headers: vec![
            ("content-type".into(), "application/json".into()),
            ("x-amz-function-error".into(), "Unhandled".into()),
            ("x-amzn-requestid".into(), request_id.to_string()),
        ],
        body,
    }
}

/// What Lambda's Invoke API answers for each outcome.
pub fn invoke_response(outcome: Outcome, timeout: f64) -> HttpResponse {
    match outcome {
        Outcome::Success { body, request_id } => HttpResponse {
            status: 200,
            headers: vec![
                ("content-type".into(), "application/json".into()),
                ("x-amzn-requestid".into(), request_id),
            ],
            body,
        },
        Outcome::FunctionError { body, request_id } => function_error(&request_id, body),
        Outcome::Timeout { request_id } => {
            let body = json!({"errorType": "Sandbox.Timedout", "errorMessage": format!("RequestId: {request_id} Error: Task timed out after {timeout:.2} seconds")});
            function_error(&request_id, Bytes::from(body.to_string()))
        }
        Outcome::Crashed { request_id } => {
            let body = json!({"errorType": "Runtime.ExitError", "errorMessage": format!("RequestId: {request_id} Error: Runtime exited without providing a reason")});
            function_error(&request_id, Bytes::from(body.to_string()))
        }
        Outcome::InitFailed { request_id, reason } => {
            let body = json!({"errorType": "Runtime.InitError", "errorMessage": reason});
            function_error(&request_id, Bytes::from(body.to_string()))
        }
        Outcome::Throttled => {
            let mut response = HttpResponse::json(
                429,
                r#"{"Reason":"ReservedFunctionConcurrentInvocationLimitExceeded","message":"Rate Exceeded."}"#,
            );
            response
                .headers
                .push(("x-amzn-errortype".into(), "TooManyRequestsException".into()));
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_the_models_method_and_uri() {
        let call = route("POST", "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Af%3Alive/invocations").unwrap();
        assert_eq!(call.operation, Operation::Invoke);
        assert_eq!(
            call.function,
            "arn:aws:lambda:us-east-1:123456789012:function:f:live"
        );
        let alias = route("PUT", "/2015-03-31/functions/f/aliases/live").unwrap();
        assert_eq!(
            (alias.operation, alias.alias.as_deref()),
            (Operation::UpdateAlias, Some("live"))
        );
        assert_eq!(
            route("GET", "/2015-03-31/functions/f/versions").map(|c| c.operation),
            Some(Operation::ListVersionsByFunction)
        );
        assert!(route("DELETE", "/2015-03-31/functions/f/versions").is_none());
        assert!(route("POST", "/").is_none());
        assert!(!Operation::GetAlias.changes() && Operation::Invoke.changes());
    }

    #[test]
    fn client_context_is_base64_json_handed_on_as_ascii_json() {
        let encode = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
        assert_eq!(
            client_context(&encode(r#"{ "custom": {"who": "smoké"} }"#)).ok(),
            Some(r#"{"custom":{"who":"smok\u00e9"}}"#.to_string())
        );
        for bad in ["not base64!", &encode("[1]"), &encode("{")] {
            let refused = client_context(bad).err().map(|e| e.kind);
            assert_eq!(refused, Some("InvalidRequestContentException"), "{bad}");
        }
        let big = format!(r#"{{"custom":{{"x":"{}"}}}}"#, "a".repeat(3600));
        assert!(client_context(&encode(&big)).is_err());
    }

    #[test]
    fn errors_carry_the_type_header_and_the_models_message_member() {
        let response = error(LambdaError::not_found("Function not found: x"));
        assert_eq!(response.status, 404);
        assert!(response.headers.contains(&(
            "x-amzn-errortype".into(),
            "ResourceNotFoundException".into()
        )));
        let body: Value = serde_json::from_slice(&response.body).unwrap();
        assert_eq!(
            body,
            json!({"Type": "User", "Message": "Function not found: x"})
        );
        let body: Value = serde_json::from_slice(&error(LambdaError::invalid("bad")).body).unwrap();
        assert_eq!(body["message"], "bad");
        assert_eq!(
            last_modified(1_795_467_626_007),
            "2026-11-23T21:00:26.007+0000"
        );
    }
}
