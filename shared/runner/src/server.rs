//! Serving a listener with an async handler over HTTP/1.1 (hyper).

use crate::http::{HttpRequest, HttpResponse};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::Response;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use tokio::net::TcpListener;

/// Requests larger than API Gateway's payload limit are refused before they reach a function.
const MAX_BODY: usize = 10 * 1024 * 1024;

pub async fn serve<H, F>(listener: TcpListener, handler: Arc<H>)
where
    H: Fn(HttpRequest) -> F + Send + Sync + 'static,
    F: Future<Output = HttpResponse> + Send + 'static,
{
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        let handler = handler.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(
                move |request: hyper::Request<hyper::body::Incoming>| {
                    let handler = handler.clone();
                    async move {
                        let (parts, body) = request.into_parts();
                        let body =
                            match http_body_util::Limited::new(body, MAX_BODY).collect().await {
                                Ok(collected) => collected.to_bytes(),
                                Err(_) => {
                                    return Ok::<_, Infallible>(into_hyper(HttpResponse::json(
                                        413,
                                        r#"{"message":"Request Entity Too Large"}"#,
                                    )))
                                }
                            };
                        let request = HttpRequest {
                            method: parts.method.as_str().to_string(),
                            path: parts.uri.path().to_string(),
                            query: parts.uri.query().unwrap_or("").to_string(),
                            headers: parts
                                .headers
                                .iter()
                                .filter_map(|(k, v)| {
                                    Some((k.as_str().to_string(), v.to_str().ok()?.to_string()))
                                })
                                .collect(),
                            body,
                            source_ip: peer.ip().to_string(),
                        };
                        Ok::<_, Infallible>(into_hyper(handler(request).await))
                    }
                },
            );
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn into_hyper(response: HttpResponse) -> Response<Full<Bytes>> {
    let mut out = Response::new(Full::new(response.body));
    *out.status_mut() =
        hyper::StatusCode::from_u16(response.status).unwrap_or(hyper::StatusCode::BAD_GATEWAY);
    for (name, value) in response.headers {
        if let (Ok(name), Ok(value)) = (
            hyper::header::HeaderName::from_bytes(name.as_bytes()),
            hyper::header::HeaderValue::from_str(&value),
        ) {
            out.headers_mut().append(name, value);
        }
    }
    out
}
