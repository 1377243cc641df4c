//! Building responses: JSON bodies, the error envelope and the headers every answer carries.

use crate::error::ApiError;
use lambda_http::http::{HeaderName, HeaderValue, StatusCode};
use lambda_http::{Body, Response};
use serde::Serialize;
use serde_json::{json, Value};

/// A handler's successful answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
}

impl Reply {
    pub fn ok(body: impl Serialize) -> Self {
        Reply {
            status: 200,
            body: serde_json::to_value(body).unwrap_or(Value::Null),
        }
    }

    pub fn with_status(status: u16, body: impl Serialize) -> Self {
        Reply {
            status,
            body: serde_json::to_value(body).unwrap_or(Value::Null),
        }
    }
}

/// Headers added by the pipeline rather than by a handler (rate limits, `Allow`, ...).
pub type ExtraHeaders = Vec<(&'static str, String)>;

pub fn error_reply(error: &ApiError) -> (Reply, ExtraHeaders) {
    let envelope = error.envelope();
    let reply = Reply::with_status(
        envelope.status,
        json!({
            "code": envelope.status,
            "reason": envelope.reason,
            "message": envelope.message,
            "metadata": envelope.metadata,
        }),
    );
    (reply, envelope.headers)
}

/// Serialises the reply and adds the security headers, `X-Request-Id` and any extras.
pub fn finish(reply: Reply, extra: ExtraHeaders, request_id: &str, https: bool) -> Response<Body> {
    let body = serde_json::to_string(&reply.body).unwrap_or_else(|_| "{}".into());
    let mut response = Response::new(Body::Text(body));
    *response.status_mut() =
        StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = response.headers_mut();
    let fixed: [(&str, &str); 5] = [
        ("content-type", "application/json"),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-store"),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if https {
        headers.insert(
            "strict-transport-security",
            HeaderValue::from_static("max-age=63072000; includeSubDomains"),
        );
    }
    if let Ok(value) = HeaderValue::from_str(request_id) {
        headers.insert("x-request-id", value);
    }
    for (name, value) in extra {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(&value),
        ) {
            headers.insert(name, value);
        }
    }
    response
}
