//! The runner's HTTP side: a request as a listener received it and an answer to send back, and
//! the two conversions to and from a function's event (`redline-events` builds and reads it).

use bytes::Bytes;
use redline_events::{BodyEncoding, InvalidResponse, Platform, Request, Response, Route, Source};
use redline_template::ApiKind;
use serde_json::Value;

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

impl From<Response> for HttpResponse {
    fn from(response: Response) -> Self {
        HttpResponse {
            status: response.status,
            headers: response.headers,
            body: Bytes::from(response.body),
        }
    }
}

fn source(kind: ApiKind) -> Source {
    match kind {
        ApiKind::Http => Source::HttpApiV2,
        ApiKind::Rest => Source::RestV1,
    }
}

/// The event the route's API makes of the request, served on `port` of this machine: plain
/// HTTP, the client's `Host` as the domain, stage `$default` (HTTP API) or `local` (REST API).
pub fn event(kind: ApiKind, request: &HttpRequest, route: &Route<'_>, port: u16) -> Value {
    let platform = Platform {
        account_id: "123456789012".into(),
        api_id: "local".into(),
        domain_name: redline_events::request::header(&request.headers, "host")
            .unwrap_or("localhost")
            .to_string(),
        stage: match kind {
            ApiKind::Http => "$default",
            ApiKind::Rest => "local",
        }
        .into(),
        request_id: crate::ids::uuid(),
        time_epoch_ms: crate::ids::now_ms(),
        protocol: "http".into(),
        port: Some(port),
        resource_id: None,
    };
    let request = Request {
        method: &request.method,
        path: &request.path,
        query: &request.query,
        headers: &request.headers,
        body: (!request.body.is_empty()).then_some(&request.body[..]),
        body_encoding: BodyEncoding::Auto,
        source_ip: &request.source_ip,
    };
    redline_events::event(source(kind), &request, route, &platform)
}

/// The function's answer as the route's API hands it to the client.
pub fn response(kind: ApiKind, payload: &[u8]) -> Result<HttpResponse, InvalidResponse> {
    redline_events::response(source(kind), payload).map(HttpResponse::from)
}
