//! Real API Gateway (HTTP API, payload 2.0) events sent straight to one version or alias of a
//! function with Lambda's `Invoke`, signed for the smoke account in the client context.

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::Client;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use redline_core::http::request::SMOKE_CONTEXT_KEY;
use redline_crypto::smoke::SmokeAccount;
use redline_events::{http_api, BodyEncoding, Platform, Request, Route};
use serde_json::{json, Value};

/// One request of a smoke test.
pub struct Call<'a> {
    pub method: &'a str,
    /// The HTTP API route template (`/helloworld/{name}`).
    pub route: &'a str,
    /// The concrete path (`/helloworld/smoke`).
    pub path: &'a str,
    pub path_parameters: &'a [(String, String)],
    pub query: &'a str,
    pub bearer: Option<&'a str>,
    pub body: Option<Value>,
}

impl<'a> Call<'a> {
    pub fn get(path: &'a str) -> Self {
        Call {
            method: "GET",
            route: path,
            path,
            path_parameters: &[],
            query: "",
            bearer: None,
            body: None,
        }
    }

    pub fn post(path: &'a str, body: Value) -> Self {
        Call {
            method: "POST",
            body: Some(body),
            ..Call::get(path)
        }
    }
}

/// A function's answer: the HTTP status and the JSON body (null when none).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

pub struct Caller {
    pub lambda: Client,
    pub smoke: SmokeAccount,
}

impl Caller {
    /// Invokes `function` at `qualifier` with the event API Gateway would build for `call`.
    pub async fn call(
        &self,
        function: &str,
        qualifier: &str,
        call: &Call<'_>,
    ) -> Result<Answer, String> {
        let body = call.body.as_ref().map(|b| b.to_string().into_bytes());
        let mut headers = vec![("user-agent".to_string(), "redline-traffic-hook".to_string())];
        if body.is_some() {
            headers.push(("content-type".into(), "application/json".into()));
        }
        if let Some(token) = call.bearer {
            headers.push(("authorization".into(), format!("Bearer {token}")));
        }
        let now = redline_core::clock::now_secs();
        let request = Request {
            method: call.method,
            path: call.path,
            query: call.query,
            headers: &headers,
            body: body.as_deref(),
            body_encoding: BodyEncoding::Auto,
            source_ip: "127.0.0.1",
        };
        let key = format!("{} {}", call.method, call.route);
        let route = Route {
            key: &key,
            resource: None,
            path_parameters: call.path_parameters,
        };
        let platform = Platform {
            account_id: "000000000000".into(),
            api_id: "traffic-hook".into(),
            domain_name: "traffic-hook.invalid".into(),
            stage: "$default".into(),
            request_id: format!("hook-{now}"),
            time_epoch_ms: now * 1000,
            protocol: "https".into(),
            port: None,
            resource_id: None,
        };
        let event = http_api(&request, &route, &platform);
        let signature = self.smoke.sign(
            now,
            call.method,
            call.path,
            body.as_deref().unwrap_or_default(),
        );
        let context = json!({ "custom": { SMOKE_CONTEXT_KEY: signature } }).to_string();
        let output = self
            .lambda
            .invoke()
            .function_name(function)
            .qualifier(qualifier)
            .client_context(STANDARD.encode(context))
            .payload(Blob::new(event.to_string()))
            .send()
            .await
            .map_err(|e| {
                format!(
                    "Invoke {function}:{qualifier}: {}",
                    aws_sdk_lambda::error::DisplayErrorContext(e)
                )
            })?;
        let payload: Value = output
            .payload()
            .and_then(|p| serde_json::from_slice(p.as_ref()).ok())
            .unwrap_or(Value::Null);
        if let Some(kind) = output.function_error() {
            let error_type = payload["errorType"].as_str().unwrap_or("unknown");
            return Err(format!(
                "{function}:{qualifier} failed ({kind}, {error_type})"
            ));
        }
        answer(&payload).ok_or_else(|| format!("{function}:{qualifier} gave no HTTP response"))
    }
}

/// The status and JSON body of an HTTP API response (payload 2.0).
fn answer(payload: &Value) -> Option<Answer> {
    let status = u16::try_from(payload["statusCode"].as_u64()?).ok()?;
    let text = payload["body"].as_str().unwrap_or("");
    let bytes = if payload["isBase64Encoded"] == true {
        STANDARD.decode(text).ok()?
    } else {
        text.as_bytes().to_vec()
    };
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Some(Answer { status, body })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_are_read_plain_or_base64() {
        let plain = answer(&json!({"statusCode": 200, "body": "{\"a\":1}"})).unwrap();
        assert_eq!((plain.status, plain.body), (200, json!({"a": 1})));
        let encoded = answer(&json!({"statusCode": 401, "body": STANDARD.encode("{\"b\":2}"), "isBase64Encoded": true})).unwrap();
        assert_eq!((encoded.status, encoded.body), (401, json!({"b": 2})));
        assert!(answer(&json!({"errorType": "x"})).is_none());
    }
}
