//! A deliberately misbehaving Lambda function, for testing the local runner against the real
//! Runtime API client (`lambda_runtime`). The route's `{action}` (or the event's `action`) says
//! what to do: answer, sleep, crash, fail, return garbage, report its environment, print log
//! lines at every level with an EMF document (or a malformed one), use some memory, or tell
//! how it was invoked (`context`: its version, the invoked ARN and the client context, as the
//! Runtime API handed them over).

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::{json, Value};
use std::time::Duration;

fn action(event: &Value) -> String {
    event["pathParameters"]["action"]
        .as_str()
        .or_else(|| event["action"].as_str())
        .unwrap_or("ok")
        .to_string()
}

fn answer(body: Value) -> Value {
    json!({
        "statusCode": 200,
        "headers": {"content-type": "application/json"},
        "body": body.to_string(),
    })
}

async fn handle(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let pid = std::process::id();
    match action(&event.payload).as_str() {
        "slow" => {
            tokio::time::sleep(Duration::from_millis(800)).await;
            Ok(answer(json!({"pid": pid})))
        }
        "sleep" => {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok(answer(json!({"pid": pid})))
        }
        "crash" => std::process::abort(),
        "error" => Err("the function failed on purpose".into()),
        "garbage" => Ok(json!({"statusCode": "not a status"})),
        "emf" => {
            print_logs_and_metrics(&event);
            Ok(answer(json!({"pid": pid})))
        }
        "bad-emf" => {
            println!(r#"{{"_aws":{{"Timestamp":"soon","CloudWatchMetrics":[]}},"Requests":1}}"#);
            Ok(answer(json!({"pid": pid})))
        }
        "allocate" => {
            // 48 MiB, written so that it is resident.
            let block = std::hint::black_box(vec![1u8; 48 * 1024 * 1024]);
            Ok(answer(json!({"pid": pid, "allocated": block.len()})))
        }
        "env" => Ok(answer(json!({
            "pid": pid,
            "log_format": std::env::var("AWS_LAMBDA_LOG_FORMAT").ok(),
            "log_level": std::env::var("AWS_LAMBDA_LOG_LEVEL").ok(),
            "trace": event.context.xray_trace_id,
            "memory": std::env::var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE").ok(),
            "name": std::env::var("AWS_LAMBDA_FUNCTION_NAME").ok(),
            "greeting": std::env::var("GREETING").ok(),
            "home": std::env::var("HOME").ok(),
            "request_id": event.context.request_id,
            "deadline_in_ms": event.context.deadline as i64
                - std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_millis() as i64,
        }))),
        "context" => Ok(answer(json!({
            "pid": pid,
            "version": std::env::var("AWS_LAMBDA_FUNCTION_VERSION").ok(),
            "invoked_arn": event.context.invoked_function_arn,
            "client_context": event.context.client_context,
            "mark": mark(),
        }))),
        _ => Ok(answer(json!({"pid": pid, "event": event.payload}))),
    }
}

/// What follows the last `MISBEHAVE-MARK=` in the running executable: tests append one to a
/// copy of this binary to tell builds (and published versions) apart.
fn mark() -> Option<String> {
    let exe = std::fs::read("/proc/self/exe").ok()?;
    let needle = b"MISBEHAVE-MARK=";
    let at = exe.windows(needle.len()).rposition(|w| w == needle)?;
    let tail = &exe[at + needle.len()..];
    // The literal above is in the binary too; only a mark at the very end counts.
    (tail.len() < 64).then(|| String::from_utf8_lossy(tail).trim().to_string())
}

/// One line per log level (JSON, Lambda's fields), a plain text line, and one EMF document of
/// the shape redline's functions print: two metrics over three dimension sets.
fn print_logs_and_metrics(event: &LambdaEvent<Value>) {
    let request_id = &event.context.request_id;
    for level in ["TRACE", "DEBUG", "INFO", "WARN", "ERROR"] {
        println!(
            "{}",
            json!({"timestamp": "2026-01-01T00:00:00.000Z", "level": level,
                "message": format!("misbehave {level} line"), "requestId": request_id})
        );
    }
    println!("misbehave plain text line");
    let function = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_default();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    println!(
        "{}",
        json!({
            "_aws": {"Timestamp": now_ms, "CloudWatchMetrics": [{
                "Namespace": "Redline",
                "Dimensions": [["Service", "Function"], ["Service", "Function", "Version"], ["Service", "Function", "Route"]],
                "Metrics": [
                    {"Name": "Requests", "Unit": "Count", "StorageResolution": 60},
                    {"Name": "Latency", "Unit": "Milliseconds", "StorageResolution": 60}
                ]
            }]},
            "Service": "redline", "Function": function, "Version": "$LATEST",
            "Route": "/misbehave/{action}", "Requests": 1, "Latency": [4.0, 1500.0],
            "requestId": request_id
        })
    );
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    match std::env::var("MISBEHAVE_INIT").as_deref() {
        Ok("exit") => {
            eprintln!("misbehave: failing init on purpose");
            std::process::exit(3);
        }
        Ok("report") => {
            report_init_error()?;
            std::process::exit(1);
        }
        _ => {}
    }
    lambda_runtime::run(service_fn(handle)).await
}

/// Reports an init failure the way a runtime does: `POST /runtime/init/error`, then exit.
fn report_init_error() -> Result<(), Error> {
    use std::io::{Read, Write};
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API")?;
    let body = r#"{"errorType":"Misbehave.Init","errorMessage":"failing init on purpose"}"#;
    let mut stream = std::net::TcpStream::connect(api)?;
    write!(
        stream,
        "POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: runtime\r\n\
         Lambda-Runtime-Function-Error-Type: Misbehave.Init\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer)?;
    Ok(())
}
