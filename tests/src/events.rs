//! Real Lambda HTTP event payloads, shaped exactly as API Gateway (HTTP API v2, REST v1), an
//! ALB and a Function URL deliver them, and the function's answer read back from the JSON the
//! runtime would post to `/response`.

use base64::Engine;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    HttpApiV2,
    RestV1,
    Alb,
    FunctionUrl,
}

/// One HTTP request, before it is turned into an event.
#[derive(Debug, Clone)]
pub struct TestRequest {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub body: Option<Vec<u8>>,
    pub source: Source,
    pub source_ip: String,
    pub stage: Option<String>,
    pub base64_body: bool,
}

impl TestRequest {
    pub fn new(method: &str, path: &str) -> Self {
        TestRequest {
            method: method.to_string(),
            path: path.to_string(),
            query: Vec::new(),
            headers: vec![("user-agent".into(), "redline-tests".into())],
            body: None,
            source: Source::HttpApiV2,
            source_ip: "198.51.100.7".into(),
            stage: None,
            base64_body: false,
        }
    }

    pub fn get(path: &str) -> Self {
        Self::new("GET", path)
    }

    pub fn post(path: &str) -> Self {
        Self::new("POST", path)
    }

    pub fn delete(path: &str) -> Self {
        Self::new("DELETE", path)
    }

    pub fn query(mut self, key: &str, value: &str) -> Self {
        self.query.push((key.into(), value.into()));
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    /// A JSON body with `Content-Type: application/json`.
    pub fn json(self, body: Value) -> Self {
        self.header("content-type", "application/json")
            .raw_body(body.to_string().into_bytes())
    }

    pub fn raw_body(mut self, body: Vec<u8>) -> Self {
        self.body = Some(body);
        self
    }

    pub fn source(mut self, source: Source) -> Self {
        self.source = source;
        self
    }

    pub fn from_ip(mut self, ip: &str) -> Self {
        self.source_ip = ip.into();
        self
    }

    pub fn stage(mut self, stage: &str) -> Self {
        self.stage = Some(stage.into());
        self
    }

    pub fn base64(mut self) -> Self {
        self.base64_body = true;
        self
    }

    fn raw_query(&self) -> String {
        self.query
            .iter()
            .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
            .collect::<Vec<_>>()
            .join("&")
    }

    fn body_fields(&self) -> (Value, bool) {
        match &self.body {
            None => (Value::Null, false),
            Some(bytes) if self.base64_body => (
                Value::String(base64::engine::general_purpose::STANDARD.encode(bytes)),
                true,
            ),
            Some(bytes) => (Value::String(String::from_utf8_lossy(bytes).into()), false),
        }
    }

    /// The event this request becomes in AWS.
    pub fn to_event(&self, request_id: &str) -> Value {
        match self.source {
            Source::HttpApiV2 | Source::FunctionUrl => self.v2_event(request_id),
            Source::RestV1 => self.v1_event(request_id),
            Source::Alb => self.alb_event(),
        }
    }

    fn v2_event(&self, request_id: &str) -> Value {
        let stage = self.stage.clone().unwrap_or_else(|| "$default".into());
        let raw_path = if stage == "$default" {
            self.path.clone()
        } else {
            format!("/{stage}{}", self.path)
        };
        let url = self.source == Source::FunctionUrl;
        let domain = if url {
            "abcdefghij.lambda-url.us-east-1.on.aws"
        } else {
            "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"
        };
        let mut headers = Map::new();
        let mut cookies = Vec::new();
        for (name, value) in &self.headers {
            if name == "cookie" {
                cookies.extend(value.split("; ").map(|c| Value::String(c.into())));
                continue;
            }
            let merged = match headers.get(name) {
                Some(Value::String(existing)) => format!("{existing},{value}"),
                _ => value.clone(),
            };
            headers.insert(name.clone(), Value::String(merged));
        }
        headers.insert("host".into(), Value::String(domain.into()));
        headers.insert("x-forwarded-proto".into(), Value::String("https".into()));
        headers.insert(
            "x-forwarded-for".into(),
            Value::String(self.source_ip.clone()),
        );
        let (body, is_base64) = self.body_fields();
        let route_key = if url {
            "$default".to_string()
        } else {
            format!("{} {}", self.method, self.path)
        };
        let mut event = json!({
            "version": "2.0",
            "routeKey": route_key,
            "rawPath": raw_path,
            "rawQueryString": self.raw_query(),
            "headers": headers,
            "requestContext": {
                "accountId": if url { "anonymous" } else { "123456789012" },
                "apiId": "a1b2c3d4e5",
                "domainName": domain,
                "domainPrefix": domain.split('.').next().unwrap(),
                "http": {
                    "method": self.method,
                    "path": raw_path,
                    "protocol": "HTTP/1.1",
                    "sourceIp": self.source_ip,
                    "userAgent": "redline-tests"
                },
                "requestId": format!("apigw-{request_id}"),
                "routeKey": route_key,
                "stage": stage,
                "time": "23/Nov/2026:21:00:00 +0000",
                "timeEpoch": 1_795_467_600_000u64
            },
            "isBase64Encoded": is_base64
        });
        if !cookies.is_empty() {
            event["cookies"] = Value::Array(cookies);
        }
        if !self.query.is_empty() {
            let mut params = Map::new();
            for (k, v) in &self.query {
                params.insert(k.clone(), Value::String(v.clone()));
            }
            event["queryStringParameters"] = Value::Object(params);
        }
        if !body.is_null() {
            event["body"] = body;
        }
        event
    }

    fn multi_headers(&self) -> (Map<String, Value>, Map<String, Value>) {
        let mut single = Map::new();
        let mut multi: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for (name, value) in &self.headers {
            single.insert(name.clone(), Value::String(value.clone()));
            multi
                .entry(name.clone())
                .or_default()
                .push(Value::String(value.clone()));
        }
        (
            single,
            multi
                .into_iter()
                .map(|(k, v)| (k, Value::Array(v)))
                .collect(),
        )
    }

    fn v1_event(&self, request_id: &str) -> Value {
        let stage = self.stage.clone().unwrap_or_else(|| "prod".into());
        let (mut headers, mut multi) = self.multi_headers();
        for (name, value) in [
            (
                "host",
                "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com".to_string(),
            ),
            ("x-forwarded-proto", "https".to_string()),
            ("x-forwarded-for", self.source_ip.clone()),
        ] {
            headers.insert(name.into(), Value::String(value.clone()));
            multi.insert(name.into(), json!([value]));
        }
        let (query, multi_query) = if self.query.is_empty() {
            (Value::Null, Value::Null)
        } else {
            let mut q = Map::new();
            let mut mq: BTreeMap<String, Vec<Value>> = BTreeMap::new();
            for (k, v) in &self.query {
                q.insert(k.clone(), Value::String(v.clone()));
                mq.entry(k.clone())
                    .or_default()
                    .push(Value::String(v.clone()));
            }
            (Value::Object(q), json!(mq))
        };
        let (body, is_base64) = self.body_fields();
        json!({
            "resource": self.path,
            "path": self.path,
            "httpMethod": self.method,
            "headers": headers,
            "multiValueHeaders": multi,
            "queryStringParameters": query,
            "multiValueQueryStringParameters": multi_query,
            "pathParameters": null,
            "stageVariables": null,
            "requestContext": {
                "accountId": "123456789012",
                "apiId": "a1b2c3d4e5",
                "domainName": "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com",
                "httpMethod": self.method,
                "identity": { "sourceIp": self.source_ip, "userAgent": "redline-tests" },
                "path": format!("/{stage}{}", self.path),
                "protocol": "HTTP/1.1",
                "requestId": format!("apigw-{request_id}"),
                "requestTimeEpoch": 1_795_467_600_000u64,
                "resourceId": "abc123",
                "resourcePath": self.path,
                "stage": stage
            },
            "body": body,
            "isBase64Encoded": is_base64
        })
    }

    fn alb_event(&self) -> Value {
        let (mut headers, _) = self.multi_headers();
        headers.insert(
            "host".into(),
            json!("redline-alb-123.us-east-1.elb.amazonaws.com"),
        );
        headers.insert("x-forwarded-proto".into(), json!("https"));
        // The ALB appends the peer it saw; a client may have sent its own entries before.
        let forwarded = match headers.get("x-forwarded-for") {
            Some(Value::String(existing)) => format!("{existing}, {}", self.source_ip),
            _ => self.source_ip.clone(),
        };
        headers.insert("x-forwarded-for".into(), Value::String(forwarded));
        let mut query = Map::new();
        for (k, v) in &self.query {
            query.insert(encode(k), Value::String(encode(v)));
        }
        let (body, is_base64) = self.body_fields();
        json!({
            "requestContext": { "elb": { "targetGroupArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/redline/6d0ecf831eec9f09" } },
            "httpMethod": self.method,
            "path": self.path,
            "queryStringParameters": query,
            "headers": headers,
            "body": if body.is_null() { json!("") } else { body },
            "isBase64Encoded": is_base64
        })
    }
}

pub fn encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// A function's answer, read from the JSON the runtime posts back.
#[derive(Debug, Clone)]
pub struct TestResponse {
    pub status: u16,
    pub headers: BTreeMap<String, String>,
    pub body: Value,
    pub raw: Value,
}

impl TestResponse {
    pub fn from_lambda_json(raw: Value) -> Self {
        let status = raw["statusCode"].as_u64().unwrap_or(0) as u16;
        let mut headers = BTreeMap::new();
        if let Some(map) = raw["headers"].as_object() {
            for (k, v) in map {
                headers.insert(k.to_ascii_lowercase(), v.as_str().unwrap_or("").to_string());
            }
        }
        if let Some(map) = raw["multiValueHeaders"].as_object() {
            for (k, v) in map {
                if let Some(first) = v.as_array().and_then(|a| a.first()) {
                    headers
                        .entry(k.to_ascii_lowercase())
                        .or_insert_with(|| first.as_str().unwrap_or("").to_string());
                }
            }
        }
        let text = match raw["body"].as_str() {
            Some(text) if raw["isBase64Encoded"].as_bool() == Some(true) => String::from_utf8(
                base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .unwrap_or_default(),
            )
            .unwrap_or_default(),
            Some(text) => text.to_string(),
            None => String::new(),
        };
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        TestResponse {
            status,
            headers,
            body,
            raw,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    pub fn reason(&self) -> &str {
        self.body["reason"].as_str().unwrap_or("")
    }

    /// Asserts status and (for errors) reason, printing the whole answer when they differ.
    #[track_caller]
    pub fn expect(&self, status: u16, reason: &str) -> &Self {
        assert_eq!(
            (self.status, self.reason()),
            (status, reason),
            "unexpected answer: {}",
            serde_json::to_string_pretty(&self.raw).unwrap_or_default()
        );
        self
    }
}
