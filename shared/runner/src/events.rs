//! An HTTP request turned into the event API Gateway would send for its route, and the
//! function's answer turned back into HTTP, for payload formats 2.0 (HTTP API) and 1.0 (REST).

use crate::ids;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use bytes::Bytes;
use serde_json::{json, Map, Value};

/// The parts of an incoming HTTP request an event is made from.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub method: String,
    /// The path as received (still percent-encoded).
    pub path: String,
    pub query: String,
    /// Lower-case names, in arrival order.
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
    pub source_ip: String,
}

/// The matched route: `GET /helloworld/{name}` or `$default`, with decoded path parameters.
pub struct RouteMatch<'a> {
    pub route_key: String,
    pub resource: Option<&'a str>,
    pub path_parameters: Vec<(String, String)>,
}

/// A function answer API Gateway would refuse (the client gets the platform's error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the function returned an invalid response")]
pub struct InvalidResponse;

/// An HTTP answer to send back to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Bytes,
}

impl HttpResponse {
    pub fn json(status: u16, body: &str) -> Self {
        HttpResponse {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body: Bytes::copy_from_slice(body.as_bytes()),
        }
    }
}

fn decode(text: &str) -> String {
    percent_encoding::percent_decode_str(text)
        .decode_utf8_lossy()
        .into_owned()
}

fn query_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(&k.replace('+', " ")), decode(&v.replace('+', " ")))
        })
        .collect()
}

fn is_text(content_type: Option<&str>) -> bool {
    let Some(media) = content_type.map(|c| {
        c.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    }) else {
        return true;
    };
    media.starts_with("text/")
        || media.ends_with("json")
        || media.ends_with("xml")
        || media.contains("javascript")
        || media == "application/x-www-form-urlencoded"
}

/// The body as the event carries it: text when it is UTF-8 text, base64 otherwise.
fn event_body(request: &HttpRequest) -> (Value, bool) {
    if request.body.is_empty() {
        return (Value::Null, false);
    }
    let content_type = header(&request.headers, "content-type");
    match std::str::from_utf8(&request.body) {
        Ok(text) if is_text(content_type) => (Value::String(text.to_string()), false),
        _ => (Value::String(STANDARD.encode(&request.body)), true),
    }
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn host(request: &HttpRequest) -> String {
    header(&request.headers, "host")
        .unwrap_or("localhost")
        .to_string()
}

/// Payload format 2.0, as an HTTP API builds it.
pub fn v2_event(request: &HttpRequest, route: &RouteMatch<'_>, local_port: u16) -> Value {
    let now = ids::now_ms();
    let mut headers = Map::new();
    let mut cookies = Vec::new();
    for (name, value) in &request.headers {
        if name == "cookie" {
            cookies.extend(
                value
                    .split(';')
                    .map(|c| Value::String(c.trim().to_string())),
            );
            continue;
        }
        let joined = match headers.get(name) {
            Some(Value::String(existing)) => format!("{existing},{value}"),
            _ => value.clone(),
        };
        headers.insert(name.clone(), Value::String(joined));
    }
    headers.insert("x-forwarded-for".into(), json!(request.source_ip));
    headers.insert("x-forwarded-port".into(), json!(local_port.to_string()));
    headers.insert("x-forwarded-proto".into(), json!("http"));
    let domain = host(request);
    let mut event = json!({
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": request.path,
        "rawQueryString": request.query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": domain,
            "domainPrefix": domain.split('.').next().unwrap_or("localhost"),
            "http": {
                "method": request.method,
                "path": request.path,
                "protocol": "HTTP/1.1",
                "sourceIp": request.source_ip,
                "userAgent": header(&request.headers, "user-agent").unwrap_or(""),
            },
            "requestId": ids::uuid(),
            "routeKey": route.route_key,
            "stage": "$default",
            "time": ids::request_time(now),
            "timeEpoch": now,
        },
        "isBase64Encoded": false,
    });
    if !cookies.is_empty() {
        event["cookies"] = Value::Array(cookies);
    }
    let pairs = query_pairs(&request.query);
    if !pairs.is_empty() {
        let mut query = Map::new();
        for (key, value) in pairs {
            let joined = match query.get(&key) {
                Some(Value::String(existing)) => format!("{existing},{value}"),
                _ => value,
            };
            query.insert(key, Value::String(joined));
        }
        event["queryStringParameters"] = Value::Object(query);
    }
    if !route.path_parameters.is_empty() {
        event["pathParameters"] = params(&route.path_parameters);
    }
    let (body, is_base64) = event_body(request);
    if !body.is_null() {
        event["body"] = body;
        event["isBase64Encoded"] = json!(is_base64);
    }
    event
}

fn params(pairs: &[(String, String)]) -> Value {
    Value::Object(
        pairs
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

/// Payload format 1.0, as a REST API's proxy integration builds it (stage `local`).
pub fn v1_event(request: &HttpRequest, route: &RouteMatch<'_>) -> Value {
    let now = ids::now_ms();
    let mut headers = Map::new();
    let mut multi: Map<String, Value> = Map::new();
    for (name, value) in &request.headers {
        headers.insert(name.clone(), Value::String(value.clone()));
        match multi.get_mut(name) {
            Some(Value::Array(values)) => values.push(Value::String(value.clone())),
            _ => {
                multi.insert(name.clone(), json!([value]));
            }
        }
    }
    let pairs = query_pairs(&request.query);
    let (query, multi_query) = if pairs.is_empty() {
        (Value::Null, Value::Null)
    } else {
        let mut single = Map::new();
        let mut many: Map<String, Value> = Map::new();
        for (key, value) in pairs {
            single.insert(key.clone(), Value::String(value.clone()));
            match many.get_mut(&key) {
                Some(Value::Array(values)) => values.push(Value::String(value)),
                _ => {
                    many.insert(key, json!([value]));
                }
            }
        }
        (Value::Object(single), Value::Object(many))
    };
    let (body, is_base64) = event_body(request);
    let resource = route.resource.unwrap_or(&request.path);
    json!({
        "resource": resource,
        "path": decode(&request.path),
        "httpMethod": request.method,
        "headers": headers,
        "multiValueHeaders": multi,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": if route.path_parameters.is_empty() { Value::Null } else { params(&route.path_parameters) },
        "stageVariables": null,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": host(request),
            "httpMethod": request.method,
            "identity": { "sourceIp": request.source_ip, "userAgent": header(&request.headers, "user-agent") },
            "path": format!("/local{}", request.path),
            "protocol": "HTTP/1.1",
            "requestId": ids::uuid(),
            "requestTime": ids::request_time(now),
            "requestTimeEpoch": now,
            "resourcePath": resource,
            "stage": "local",
        },
        "body": body,
        "isBase64Encoded": is_base64,
    })
}

fn body_of(payload: &Map<String, Value>) -> Result<Bytes, InvalidResponse> {
    let text = match payload.get("body") {
        None | Some(Value::Null) => return Ok(Bytes::new()),
        Some(Value::String(text)) => text,
        Some(_) => return Err(InvalidResponse),
    };
    if payload.get("isBase64Encoded").and_then(Value::as_bool) == Some(true) {
        STANDARD
            .decode(text)
            .map(Bytes::from)
            .map_err(|_| InvalidResponse)
    } else {
        Ok(Bytes::copy_from_slice(text.as_bytes()))
    }
}

fn structured(payload: &Map<String, Value>) -> Result<HttpResponse, InvalidResponse> {
    let status = payload
        .get("statusCode")
        .and_then(Value::as_u64)
        .filter(|s| (100..=599).contains(s))
        .ok_or(InvalidResponse)? as u16;
    let mut headers = Vec::new();
    if let Some(map) = payload.get("headers").and_then(Value::as_object) {
        for (name, value) in map {
            headers.push((
                name.to_ascii_lowercase(),
                value.as_str().ok_or(InvalidResponse)?.to_string(),
            ));
        }
    }
    if let Some(map) = payload.get("multiValueHeaders").and_then(Value::as_object) {
        for (name, values) in map {
            let name = name.to_ascii_lowercase();
            if headers.iter().any(|(k, _)| *k == name) {
                continue;
            }
            for value in values.as_array().ok_or(InvalidResponse)? {
                headers.push((
                    name.clone(),
                    value.as_str().ok_or(InvalidResponse)?.to_string(),
                ));
            }
        }
    }
    if let Some(cookies) = payload.get("cookies").and_then(Value::as_array) {
        for cookie in cookies {
            headers.push((
                "set-cookie".into(),
                cookie.as_str().ok_or(InvalidResponse)?.to_string(),
            ));
        }
    }
    Ok(HttpResponse {
        status,
        headers,
        body: body_of(payload)?,
    })
}

/// Format 2.0: a structured answer, or any other JSON as a 200 body (as HTTP APIs do).
pub fn response_from_v2(payload: &[u8]) -> Result<HttpResponse, InvalidResponse> {
    let value: Value = serde_json::from_slice(payload).map_err(|_| InvalidResponse)?;
    match &value {
        Value::Object(map) if map.contains_key("statusCode") => structured(map),
        other => Ok(HttpResponse::json(200, &other.to_string())),
    }
}

/// Format 1.0: only a structured answer is valid.
pub fn response_from_v1(payload: &[u8]) -> Result<HttpResponse, InvalidResponse> {
    match serde_json::from_slice::<Value>(payload).map_err(|_| InvalidResponse)? {
        Value::Object(map) => structured(&map),
        _ => Err(InvalidResponse),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> HttpRequest {
        HttpRequest {
            method: "POST".into(),
            path: "/api/v1/auth/lock-status/a%40b.com".into(),
            query: "x=1&x=2&captchaType=sms".into(),
            headers: vec![
                ("host".into(), "localhost:3000".into()),
                ("content-type".into(), "application/json".into()),
                ("cookie".into(), "a=1; b=2".into()),
                ("accept".into(), "a".into()),
                ("accept".into(), "b".into()),
            ],
            body: Bytes::from_static(b"{\"k\":1}"),
            source_ip: "127.0.0.1".into(),
        }
    }

    fn route() -> RouteMatch<'static> {
        RouteMatch {
            route_key: "POST /api/v1/auth/lock-status/{identifier}".into(),
            resource: Some("/api/v1/auth/lock-status/{identifier}"),
            path_parameters: vec![("identifier".into(), "a@b.com".into())],
        }
    }

    #[test]
    fn v2_event_has_the_http_api_shape() {
        let event = v2_event(&request(), &route(), 3000);
        assert_eq!(event["version"], "2.0");
        assert_eq!(event["rawPath"], "/api/v1/auth/lock-status/a%40b.com");
        assert_eq!(event["cookies"], json!(["a=1", "b=2"]));
        assert!(event["headers"].get("cookie").is_none());
        assert_eq!(event["headers"]["accept"], "a,b");
        assert_eq!(event["queryStringParameters"]["x"], "1,2");
        assert_eq!(event["pathParameters"]["identifier"], "a@b.com");
        assert_eq!(event["body"], "{\"k\":1}");
        assert_eq!(event["isBase64Encoded"], false);
        assert_eq!(event["requestContext"]["http"]["sourceIp"], "127.0.0.1");
        assert_eq!(event["requestContext"]["stage"], "$default");
    }

    #[test]
    fn binary_bodies_are_base64() {
        let mut binary = request();
        binary.headers[1].1 = "application/octet-stream".into();
        binary.body = Bytes::from_static(&[0xff, 0x00]);
        let event = v2_event(&binary, &route(), 3000);
        assert_eq!(event["isBase64Encoded"], true);
        assert_eq!(event["body"], "/wA=");
    }

    #[test]
    fn v1_event_has_the_rest_shape() {
        let event = v1_event(&request(), &route());
        assert_eq!(event["httpMethod"], "POST");
        assert_eq!(event["path"], "/api/v1/auth/lock-status/a@b.com");
        assert_eq!(event["multiValueHeaders"]["accept"], json!(["a", "b"]));
        assert_eq!(
            event["multiValueQueryStringParameters"]["x"],
            json!(["1", "2"])
        );
        assert_eq!(event["requestContext"]["identity"]["sourceIp"], "127.0.0.1");
    }

    #[test]
    fn responses() {
        let ok = response_from_v2(br#"{"statusCode":201,"headers":{"X-A":"1"},"cookies":["c=1"],"body":"aGk=","isBase64Encoded":true}"#).unwrap();
        assert_eq!(ok.status, 201);
        assert_eq!(ok.body, Bytes::from_static(b"hi"));
        assert!(ok.headers.contains(&("x-a".into(), "1".into())));
        assert!(ok.headers.contains(&("set-cookie".into(), "c=1".into())));
        let bare = response_from_v2(br#"{"hello":"world"}"#).unwrap();
        assert_eq!(
            (bare.status, bare.body.as_ref()),
            (200, br#"{"hello":"world"}"#.as_ref())
        );
        assert!(response_from_v2(b"not json").is_err());
        assert!(response_from_v2(br#"{"statusCode":"x"}"#).is_err());
        assert!(response_from_v1(br#"{"hello":1}"#).is_err());
    }
}
