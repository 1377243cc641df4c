//! `/metrics`, read-only: the handler of the `--metrics-port` listener (which serves nothing
//! else) and of the same path on the invoke port. `GET` only; any other method is 405.

use crate::http::{HttpRequest, HttpResponse};
use crate::metrics::Metrics;
use bytes::Bytes;

/// The whole `--metrics-port` listener.
pub fn handle(metrics: &Metrics, request: &HttpRequest) -> HttpResponse {
    if request.path == "/metrics" {
        self::metrics(metrics, request)
    } else {
        HttpResponse::json(404, r#"{"message":"Not Found"}"#)
    }
}

/// `/metrics`: the Prometheus text for `GET`, 405 for anything else.
pub fn metrics(metrics: &Metrics, request: &HttpRequest) -> HttpResponse {
    if request.method != "GET" {
        let mut response = HttpResponse::json(405, r#"{"message":"Method Not Allowed"}"#);
        response.headers.push(("allow".into(), "GET".into()));
        return response;
    }
    HttpResponse {
        status: 200,
        headers: vec![("content-type".into(), "text/plain; version=0.0.4".into())],
        body: Bytes::from(metrics.render()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(method: &str, path: &str) -> HttpRequest {
        HttpRequest {
            method: method.into(),
            path: path.into(),
            query: String::new(),
            headers: Vec::new(),
            body: Bytes::new(),
            source_ip: "127.0.0.1".into(),
        }
    }

    #[test]
    fn serves_get_metrics_only() {
        let metrics = Metrics::default();
        metrics.function("F", 128);
        let ok = handle(&metrics, &request("GET", "/metrics"));
        assert_eq!(ok.status, 200);
        assert!(String::from_utf8_lossy(&ok.body).contains("redline_local_memory_size_bytes"));
        assert_eq!(handle(&metrics, &request("POST", "/metrics")).status, 405);
        assert_eq!(handle(&metrics, &request("DELETE", "/metrics")).status, 405);
        let invoke = "/2015-03-31/functions/F/invocations";
        assert_eq!(handle(&metrics, &request("POST", invoke)).status, 404);
        assert_eq!(handle(&metrics, &request("GET", "/")).status, 404);
    }
}
