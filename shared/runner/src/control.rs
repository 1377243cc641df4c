//! Port 3001, loopback only: `POST /2015-03-31/functions/{name}/invocations` for every function
//! of the template (as `sam local start-lambda`), and the runner's `/metrics`.

use crate::http::{HttpRequest, HttpResponse};
use crate::metrics::Metrics;
use crate::pool::{FunctionPool, Outcome};
use crate::trace::Trace;
use bytes::Bytes;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;

pub struct Control {
    /// By logical id and by function name.
    pools: HashMap<String, Arc<FunctionPool>>,
    metrics: Arc<Metrics>,
}

impl Control {
    pub fn new(pools: &HashMap<String, Arc<FunctionPool>>, metrics: Arc<Metrics>) -> Self {
        let mut by_name = HashMap::new();
        for pool in pools.values() {
            by_name.insert(pool.config.logical_id.clone(), pool.clone());
            by_name.insert(pool.config.name.clone(), pool.clone());
        }
        Control {
            pools: by_name,
            metrics,
        }
    }

    pub async fn handle(&self, request: HttpRequest) -> HttpResponse {
        if request.path == "/metrics" {
            return crate::scrape::metrics(&self.metrics, &request);
        }
        let name = request
            .path
            .strip_prefix("/2015-03-31/functions/")
            .and_then(|rest| rest.strip_suffix("/invocations"));
        let (Some(name), "POST") = (name, request.method.as_str()) else {
            return HttpResponse::json(404, r#"{"message":"Not Found"}"#);
        };
        let Some(pool) = self.pools.get(name).cloned() else {
            let mut response = HttpResponse::json(
                404,
                &json!({"Type": "User", "message": format!("Function not found: {name}")})
                    .to_string(),
            );
            response.headers.push((
                "x-amzn-errortype".into(),
                "ResourceNotFoundException".into(),
            ));
            return response;
        };
        let payload = if request.body.is_empty() {
            Bytes::from_static(b"{}")
        } else {
            request.body
        };
        let timeout = pool.config.timeout.as_secs_f64();
        // Lambda's Invoke continues the caller's trace when it sends one.
        let trace = Trace::continuing(redline_events::request::header(
            &request.headers,
            "x-amzn-trace-id",
        ));
        let outcome = pool.invoke(payload, &trace).await;
        invoke_response(outcome, timeout)
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
fn invoke_response(outcome: Outcome, timeout: f64) -> HttpResponse {
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
