//! What a handler needs from a Lambda HTTP event, whatever its source (v1, v2, ALB, URL).

use crate::error::ApiError;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// The parts of one request the pipeline and handlers read.
#[derive(Debug)]
pub struct Incoming {
    pub method: String,
    pub path: String,
    pub request_id: String,
    pub apigw_request_id: Option<String>,
    pub client_ip: String,
    pub https: bool,
    pub headers: lambda_http::http::HeaderMap,
    pub query: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// `arn:...:function:name:alias` of the invocation, when Lambda gave one.
    pub invoked_arn: Option<String>,
    /// A traffic hook's signature from the invocation's client context (`Invoke` only: API
    /// Gateway never sets one); see `redline_crypto::smoke`.
    pub smoke_signature: Option<String>,
    /// The X-Ray trace header Lambda gave this invocation (`Lambda-Runtime-Trace-Id`, which the
    /// runtime also puts in `_X_AMZN_TRACE_ID`).
    pub trace_header: Option<String>,
}

/// The client context's `custom` key a traffic hook's signature travels under.
pub const SMOKE_CONTEXT_KEY: &str = "redline-smoke";

impl Incoming {
    pub fn from_lambda(req: Request) -> Self {
        let context = req.lambda_context_ref().cloned();
        let request_context = req.request_context_ref().cloned();
        let (parts, body) = req.into_parts();
        let method = parts.method.as_str().to_string();
        let path = route_path(&parts, request_context.as_ref());
        let query = parts.uri.query().map(parse_query).unwrap_or_default();
        let client_ip = client_ip(request_context.as_ref(), &parts.headers);
        let https = parts
            .headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"));
        let body = match body {
            Body::Empty => Vec::new(),
            Body::Text(text) => text.into_bytes(),
            Body::Binary(bytes) => bytes,
            _ => Vec::new(),
        };
        Incoming {
            method,
            path,
            request_id: context
                .as_ref()
                .map(|c| c.request_id.clone())
                .unwrap_or_default(),
            apigw_request_id: apigw_request_id(request_context.as_ref()),
            client_ip,
            https,
            headers: parts.headers,
            query,
            body,
            smoke_signature: context
                .as_ref()
                .and_then(|c| c.client_context.as_ref())
                .and_then(|c| c.custom.get(SMOKE_CONTEXT_KEY).cloned()),
            trace_header: context
                .as_ref()
                .and_then(|c| c.xray_trace_id.clone())
                .or_else(|| std::env::var("_X_AMZN_TRACE_ID").ok())
                .filter(|t| !t.is_empty()),
            invoked_arn: context
                .map(|c| c.invoked_function_arn)
                .filter(|a| !a.is_empty()),
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// A query parameter by its snake_case name, or else its lowerCamelCase spelling.
    pub fn query_param(&self, snake: &str) -> Option<&str> {
        let camel = snake_to_camel(snake);
        let find = |name: &str| {
            self.query
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        find(snake).or_else(|| find(&camel))
    }

    /// Enforces the content type of a non-empty body (415).
    pub fn check_content_type(&self) -> Result<(), ApiError> {
        if self.body.is_empty() {
            return Ok(());
        }
        match self.header("content-type") {
            Some(value) if is_json_media_type(value) => Ok(()),
            _ => Err(ApiError::UnsupportedMediaType),
        }
    }

    /// The body as a JSON object (empty reads as `{}`), lowerCamelCase keys renamed to
    /// snake_case unless the snake_case spelling is also present.
    pub fn json_object(&self) -> Result<Map<String, Value>, ApiError> {
        if self.body.is_empty() {
            return Ok(Map::new());
        }
        match serde_json::from_slice::<Value>(&self.body) {
            Ok(Value::Object(map)) => Ok(normalise_keys(map)),
            _ => Err(ApiError::Codec),
        }
    }
}

/// Decodes a typed body from the normalised object; a field of the wrong type is `CODEC`, a
/// `null` field is read as absent.
pub fn decode<T: DeserializeOwned>(object: &Map<String, Value>) -> Result<T, ApiError> {
    let present: Map<String, Value> = object
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    serde_json::from_value(Value::Object(present)).map_err(|_| ApiError::Codec)
}

/// The path the routes see. REST (v1) events carry it without the stage (lambda_http keeps
/// that as the raw path); HTTP API (v2) paths start with a named stage, which is stripped.
fn route_path(
    parts: &lambda_http::http::request::Parts,
    context: Option<&RequestContext>,
) -> String {
    match context {
        Some(RequestContext::ApiGatewayV1(_)) => {
            let raw = parts.raw_http_path();
            if raw.is_empty() {
                strip_stage(parts.uri.path(), None)
            } else {
                raw.to_string()
            }
        }
        Some(RequestContext::ApiGatewayV2(c)) => strip_stage(parts.uri.path(), c.stage.as_deref()),
        _ => strip_stage(parts.uri.path(), None),
    }
}

/// API Gateway puts a non-default stage in front of the path; routes never include it.
fn strip_stage(path: &str, stage: Option<&str>) -> String {
    if let Some(stage) = stage.filter(|s| !s.is_empty() && *s != "$default") {
        let prefix = format!("/{stage}");
        if let Some(rest) = path.strip_prefix(&prefix) {
            if rest.is_empty() {
                return "/".into();
            }
            if rest.starts_with('/') {
                return rest.to_string();
            }
        }
    }
    if path.is_empty() {
        "/".into()
    } else {
        path.to_string()
    }
}

fn apigw_request_id(context: Option<&RequestContext>) -> Option<String> {
    match context? {
        RequestContext::ApiGatewayV1(c) => c.request_id.clone(),
        RequestContext::ApiGatewayV2(c) => c.request_id.clone(),
        _ => None,
    }
}

/// The request context's source IP; ALB has none, so the right-most `X-Forwarded-For` entry.
fn client_ip(context: Option<&RequestContext>, headers: &lambda_http::http::HeaderMap) -> String {
    let from_context = match context {
        Some(RequestContext::ApiGatewayV1(c)) => c.identity.source_ip.clone(),
        Some(RequestContext::ApiGatewayV2(c)) => Some(c.http.source_ip.clone()).flatten(),
        _ => None,
    };
    from_context
        .filter(|ip| !ip.is_empty())
        .or_else(|| {
            headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .map(str::trim)
                .rfind(|ip| !ip.is_empty())
                .map(str::to_string)
        })
        .unwrap_or_else(|| "unknown".into())
}

fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode_component(key), decode_component(value))
        })
        .collect()
}

/// URL-decodes one query or path component (`+` is a space in a query).
pub fn decode_component(text: &str) -> String {
    let spaced = text.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}

fn is_json_media_type(value: &str) -> bool {
    let media = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    media == "application/json" || (media.starts_with("application/") && media.ends_with("+json"))
}

fn snake_to_camel(snake: &str) -> String {
    let mut out = String::with_capacity(snake.len());
    let mut upper = false;
    for c in snake.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

fn camel_to_snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// Renames lowerCamelCase keys to snake_case; a key already spelled snake_case wins.
fn normalise_keys(object: Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    let mut camel = Vec::new();
    for (key, value) in object {
        if key.chars().any(|c| c.is_ascii_uppercase()) {
            camel.push((camel_to_snake(&key), value));
        } else {
            out.insert(key, value);
        }
    }
    for (key, value) in camel {
        out.entry(key).or_insert(value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_prefix_is_stripped_only_when_it_is_a_whole_segment() {
        assert_eq!(
            strip_stage("/prod/health/live", Some("prod")),
            "/health/live"
        );
        assert_eq!(strip_stage("/prod", Some("prod")), "/");
        assert_eq!(strip_stage("/production/x", Some("prod")), "/production/x");
        assert_eq!(
            strip_stage("/health/live", Some("$default")),
            "/health/live"
        );
        assert_eq!(strip_stage("/health/live", None), "/health/live");
    }

    #[test]
    fn snake_case_wins_over_camel_case() {
        let object: Map<String, Value> =
            serde_json::from_str(r#"{"captchaId":"camel","captcha_id":"snake","captchaCode":"c"}"#)
                .unwrap();
        let normalised = normalise_keys(object);
        assert_eq!(normalised["captcha_id"], "snake");
        assert_eq!(normalised["captcha_code"], "c");
        assert!(!normalised.contains_key("captchaId"));
    }

    #[test]
    fn json_media_types() {
        assert!(is_json_media_type("application/json"));
        assert!(is_json_media_type("Application/JSON; charset=utf-8"));
        assert!(is_json_media_type("application/merge-patch+json"));
        assert!(!is_json_media_type("text/plain"));
        assert!(!is_json_media_type("application/x-www-form-urlencoded"));
    }

    #[test]
    fn query_components_are_decoded() {
        assert_eq!(
            parse_query("a=1&captchaType=sms&target=%2B8613800138000&q=a+b"),
            vec![
                ("a".into(), "1".into()),
                ("captchaType".into(), "sms".into()),
                ("target".into(), "+8613800138000".into()),
                ("q".into(), "a b".into())
            ]
        );
    }
}
