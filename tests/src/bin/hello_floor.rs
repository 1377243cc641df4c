//! The floor for benchmarks: a bare `lambda_http` function answering a constant.

use lambda_http::{service_fn, Body, Error, Request, Response};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_http::run(service_fn(|_request: Request| async {
        let mut response = Response::new(Body::Text(r#"{"message":"hello"}"#.into()));
        response
            .headers_mut()
            .insert("content-type", "application/json".parse().expect("static"));
        Ok::<_, Error>(response)
    }))
    .await
}
