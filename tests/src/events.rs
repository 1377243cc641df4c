//! Test requests and answers over `redline-events`: a builder for one HTTP request, the event it
//! becomes from each front end (API Gateway HTTP API v2 and REST v1, an ALB, a Function URL, with
//! AWS's hosts and fixed ids), and the function's answer read back from the JSON the runtime
//! would post to `/response`.

use redline_events::{BodyEncoding, Platform, Request, Response, Route};
use serde_json::Value;
use std::collections::BTreeMap;

pub use redline_events::Source;

const API_DOMAIN: &str = "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com";

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
    /// The client context's smoke signature (only a direct `Invoke` can carry one).
    pub smoke_signature: Option<String>,
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
            smoke_signature: None,
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

    /// Signs the request as a traffic hook would, with the smoke account derived from
    /// `secret`, into the invocation's client context.
    pub fn smoke_signed(mut self, secret: &str) -> Self {
        let account = redline_crypto::smoke::SmokeAccount::derive(secret);
        let body = self.body.clone().unwrap_or_default();
        let now = redline_core::clock::now_secs();
        self.smoke_signature = Some(account.sign(now, &self.method, &self.path, &body));
        self
    }

    /// A client context signature as it is, however wrong.
    pub fn smoke_signature(mut self, signature: &str) -> Self {
        self.smoke_signature = Some(signature.to_string());
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

    /// The front end the event comes from, as AWS would report it (fixed ids and clock).
    fn platform(&self, request_id: &str) -> Platform {
        let (domain, account, default_stage) = match self.source {
            Source::HttpApiV2 => (API_DOMAIN, "123456789012", "$default"),
            Source::RestV1 => (API_DOMAIN, "123456789012", "prod"),
            Source::FunctionUrl => (
                "abcdefghij.lambda-url.us-east-1.on.aws",
                "anonymous",
                "$default",
            ),
            Source::Alb => (
                "redline-alb-123.us-east-1.elb.amazonaws.com",
                "123456789012",
                "$default",
            ),
        };
        let api_id = match self.source {
            Source::Alb => "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/redline/6d0ecf831eec9f09",
            _ => "a1b2c3d4e5",
        };
        Platform {
            account_id: account.into(),
            api_id: api_id.into(),
            domain_name: domain.into(),
            stage: self.stage.clone().unwrap_or_else(|| default_stage.into()),
            request_id: format!("apigw-{request_id}"),
            time_epoch_ms: 1_795_467_600_000,
            protocol: "https".into(),
            port: None,
            resource_id: (self.source == Source::RestV1).then(|| "abc123".into()),
        }
    }

    /// The event this request becomes in AWS (built by `redline-events`, as the runner's are).
    pub fn to_event(&self, request_id: &str) -> Value {
        let query = self.raw_query();
        let request = Request {
            method: &self.method,
            path: &self.path,
            query: &query,
            headers: &self.headers,
            body: self.body.as_deref(),
            body_encoding: if self.base64_body {
                BodyEncoding::Base64
            } else {
                BodyEncoding::Text
            },
            source_ip: &self.source_ip,
        };
        // A test names the concrete path; no route template, no path parameters.
        let key = format!("{} {}", self.method, self.path);
        let route = Route {
            key: &key,
            resource: None,
            path_parameters: &[],
        };
        redline_events::event(self.source, &request, &route, &self.platform(request_id))
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
    /// Reads the answer as API Gateway would (`redline-events`); one it would refuse reads as
    /// status 0 with no headers or body, for the assertion to show it whole.
    pub fn from_lambda_json(raw: Value) -> Self {
        let parsed = raw
            .as_object()
            .and_then(|payload| Response::structured(payload).ok());
        let Some(parsed) = parsed else {
            return TestResponse {
                status: 0,
                headers: BTreeMap::new(),
                body: Value::Null,
                raw,
            };
        };
        let mut headers = BTreeMap::new();
        for (name, value) in parsed.headers {
            headers.entry(name).or_insert(value);
        }
        let text = String::from_utf8(parsed.body).unwrap_or_default();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        TestResponse {
            status: parsed.status,
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
