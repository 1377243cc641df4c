//! A test-only HTTP function for the runner's rollback alarms: `GET /flaky/{status}` answers
//! that status and writes the EMF document redline's functions write (namespace `Redline`,
//! `[Service, Function]` and `[Service, Function, Version]`, `Requests`, `ServerErrors`,
//! `Latency`), its `Latency` the `latency` query parameter (milliseconds; default 3) so that a
//! test can put the p99 where it wants without waiting. `crash` aborts the process: a platform
//! error Lambda counts in `Errors`. No fault switch of this kind ships in a product binary.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

fn emf(request_id: &str, status: u16, latency_ms: f64) -> Value {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    json!({
        "_aws": {"Timestamp": now_ms, "CloudWatchMetrics": [{
            "Namespace": "Redline",
            "Dimensions": [["Service", "Function"], ["Service", "Function", "Version"]],
            "Metrics": [
                {"Name": "Requests", "Unit": "Count", "StorageResolution": 60},
                {"Name": "ServerErrors", "Unit": "Count", "StorageResolution": 60},
                {"Name": "Latency", "Unit": "Milliseconds", "StorageResolution": 60}
            ]
        }]},
        "Service": "redline",
        "Function": "flaky",
        "Version": std::env::var("AWS_LAMBDA_FUNCTION_VERSION").unwrap_or_default(),
        "Requests": 1,
        "ServerErrors": if status >= 500 { 1 } else { 0 },
        "Latency": latency_ms,
        "requestId": request_id,
        "status": status,
    })
}

async fn handle(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let action = event.payload["pathParameters"]["status"]
        .as_str()
        .unwrap_or("200")
        .to_string();
    if action == "crash" {
        std::process::abort();
    }
    let status: u16 = action.parse().unwrap_or(200);
    let latency_ms = event.payload["queryStringParameters"]["latency"]
        .as_str()
        .and_then(|l| l.parse().ok())
        .unwrap_or(3.0);
    println!("{}", emf(&event.context.request_id, status, latency_ms));
    Ok(json!({
        "statusCode": status,
        "headers": {"content-type": "application/json"},
        "body": json!({"status": status}).to_string(),
    }))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(handle)).await
}
