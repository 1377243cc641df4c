//! The Lambda Runtime API one function instance talks to: `/next`, `/response`, `/error`,
//! `/init/error`, with the `Lambda-Runtime-*` headers. One listener per instance, so an
//! instance can only ever see its own invocations (one at a time, as in Lambda).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, Mutex};

/// One invocation handed to an instance.
pub struct Invocation {
    pub request_id: String,
    pub payload: Bytes,
    pub deadline_ms: u64,
    pub function_arn: String,
    pub trace_id: String,
    /// The client context's JSON (`Lambda-Runtime-Client-Context`), when the caller sent one.
    pub client_context: Option<String>,
    pub reply: oneshot::Sender<Reply>,
}

/// What the function posted back for an invocation.
#[derive(Debug)]
pub enum Reply {
    Success(Bytes),
    /// The body of `/error` (`errorType`, `errorMessage`).
    FunctionError(Bytes),
}

/// Signals from the instance's start: its first poll of `/next`, or its init error.
pub enum Started {
    Polling,
    InitError(Bytes),
}

struct State {
    queue: Mutex<mpsc::Receiver<Invocation>>,
    current: std::sync::Mutex<Option<(String, oneshot::Sender<Reply>)>>,
    started: std::sync::Mutex<Option<oneshot::Sender<Started>>>,
}

pub struct RuntimeApi {
    pub address: std::net::SocketAddr,
    pub invocations: mpsc::Sender<Invocation>,
    pub started: oneshot::Receiver<Started>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

const PREFIX: &str = "/2018-06-01/runtime";

impl RuntimeApi {
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let address = listener.local_addr()?;
        let (invocations, queue) = mpsc::channel(1);
        let (started_tx, started) = oneshot::channel();
        let state = Arc::new(State {
            queue: Mutex::new(queue),
            current: std::sync::Mutex::new(None),
            started: std::sync::Mutex::new(Some(started_tx)),
        });
        let server = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = state.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let state = state.clone();
                        async move { Ok::<_, Infallible>(handle(&state, request).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(RuntimeApi {
            address,
            invocations,
            started,
            server,
        })
    }
}

fn respond(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert("content-type", "application/json".parse().expect("static"));
    response
}

fn accepted() -> Response<Full<Bytes>> {
    respond(StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
}

fn signal_started(state: &State, signal: Started) {
    if let Some(sender) = state.started.lock().expect("not poisoned").take() {
        let _ = sender.send(signal);
    }
}

async fn handle(state: &State, request: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = request.uri().path().to_string();
    let method = request.method().clone();
    let Some(route) = path.strip_prefix(PREFIX) else {
        return respond(StatusCode::NOT_FOUND, r#"{"errorType":"NotFound"}"#);
    };
    match (method, route) {
        (Method::GET, "/invocation/next") => next(state).await,
        (Method::POST, "/init/error") => {
            let body = read(request).await;
            signal_started(state, Started::InitError(body));
            accepted()
        }
        (Method::POST, route) => {
            let Some(rest) = route.strip_prefix("/invocation/") else {
                return respond(StatusCode::NOT_FOUND, r#"{"errorType":"NotFound"}"#);
            };
            let (id, kind) = rest.split_once('/').unwrap_or((rest, ""));
            let id = id.to_string();
            let body = read(request).await;
            let reply = match kind {
                "response" => Reply::Success(body),
                "error" => Reply::FunctionError(body),
                _ => return respond(StatusCode::NOT_FOUND, r#"{"errorType":"NotFound"}"#),
            };
            let current = state.current.lock().expect("not poisoned").take();
            match current {
                Some((current_id, sender)) if current_id == id => {
                    let _ = sender.send(reply);
                    accepted()
                }
                other => {
                    *state.current.lock().expect("not poisoned") = other;
                    respond(
                        StatusCode::BAD_REQUEST,
                        r#"{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}"#,
                    )
                }
            }
        }
        _ => respond(
            StatusCode::METHOD_NOT_ALLOWED,
            r#"{"errorType":"MethodNotAllowed"}"#,
        ),
    }
}

async fn read(request: Request<Incoming>) -> Bytes {
    request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default()
}

/// Blocks until the runner hands this instance an invocation, as Lambda's `/next` does.
async fn next(state: &State) -> Response<Full<Bytes>> {
    signal_started(state, Started::Polling);
    let invocation = state.queue.lock().await.recv().await;
    let Some(invocation) = invocation else {
        // The runner is shutting this instance down.
        return respond(StatusCode::GONE, r#"{"errorType":"ShuttingDown"}"#);
    };
    *state.current.lock().expect("not poisoned") =
        Some((invocation.request_id.clone(), invocation.reply));
    let mut response = respond(StatusCode::OK, invocation.payload);
    let headers = response.headers_mut();
    let pairs = [
        ("lambda-runtime-aws-request-id", invocation.request_id),
        (
            "lambda-runtime-deadline-ms",
            invocation.deadline_ms.to_string(),
        ),
        (
            "lambda-runtime-invoked-function-arn",
            invocation.function_arn,
        ),
        ("lambda-runtime-trace-id", invocation.trace_id),
    ];
    let client_context = invocation
        .client_context
        .map(|context| ("lambda-runtime-client-context", context));
    for (name, value) in pairs.into_iter().chain(client_context) {
        if let Ok(value) = value.parse() {
            headers.insert(name, value);
        }
    }
    response
}
