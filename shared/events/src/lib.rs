//! The Lambda events an HTTP request becomes, and the function's answer read back: one module of
//! event shapes for the local runner, the tests and the traffic hooks. It links JSON and the two
//! encodings only, so a Lambda function may link it too.
//!
//! Read in this order:
//! - [`request`]: what an event is made from: the client's [`Request`], the front end's
//!   [`Platform`] (ids, host, stage, clock) and the matched [`Route`];
//! - [`build`]: the event of each front end ([`Source`]): HTTP API (2.0), REST API (1.0),
//!   Function URL, ALB;
//! - [`response`]: the function's answer as the front end reads it.

pub mod build;
pub mod request;
pub mod response;

pub use build::{alb, function_url, http_api, rest_api};
pub use request::{request_time, BodyEncoding, Platform, Request, Route};
pub use response::{InvalidResponse, Response};

use serde_json::Value;

/// The front end that turns a request into an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// API Gateway HTTP API, payload format 2.0.
    HttpApiV2,
    /// API Gateway REST API, proxy integration, payload format 1.0.
    RestV1,
    /// An Application Load Balancer target group.
    Alb,
    /// A Lambda Function URL.
    FunctionUrl,
}

/// The event `source` makes of `request` (an ALB and a Function URL have no route).
pub fn event(
    source: Source,
    request: &Request<'_>,
    route: &Route<'_>,
    platform: &Platform,
) -> Value {
    match source {
        Source::HttpApiV2 => http_api(request, route, platform),
        Source::RestV1 => rest_api(request, route, platform),
        Source::Alb => alb(request, platform),
        Source::FunctionUrl => function_url(request, platform),
    }
}

/// The answer to `source` as the client gets it.
pub fn response(source: Source, payload: &[u8]) -> Result<Response, InvalidResponse> {
    match source {
        Source::HttpApiV2 | Source::FunctionUrl => Response::from_http_api(payload),
        Source::RestV1 | Source::Alb => Response::from_rest_api(payload),
    }
}
