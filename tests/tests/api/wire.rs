//! Wire conventions of the contract: routing, envelope, headers, content types, event sources.

use redline_tests::{Source, TestEnv, TestRequest};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn unknown_route_is_404_and_wrong_method_405_with_allow() {
    let env = TestEnv::new().await;
    let api = env.api();
    let response = api.send(TestRequest::get("/nope")).await;
    response.expect(404, "NOT_FOUND");
    assert_eq!(response.body["code"], 404);
    assert!(response.body["metadata"].is_object());
    assert!(response.body["message"].as_str().unwrap().len() > 5);

    let response = api.send(TestRequest::new("PUT", "/api/v1/users/me")).await;
    response.expect(405, "METHOD_NOT_ALLOWED");
    assert_eq!(response.header("allow"), Some("GET, DELETE"));
    let response = api.send(TestRequest::get("/api/v1/auth/login")).await;
    response.expect(405, "METHOD_NOT_ALLOWED");
    assert_eq!(response.header("allow"), Some("POST"));
}

#[tokio::test(flavor = "multi_thread")]
async fn every_answer_carries_security_headers_and_the_lambda_request_id() {
    let env = TestEnv::new().await;
    let api = env.api();
    for request in [
        TestRequest::get("/health/live"),
        TestRequest::get("/nope"),
        TestRequest::post("/api/v1/auth/login").json(json!({})),
    ] {
        let response = api.send(request).await;
        assert_eq!(response.header("content-type"), Some("application/json"));
        assert_eq!(response.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(response.header("x-frame-options"), Some("DENY"));
        assert_eq!(response.header("referrer-policy"), Some("no-referrer"));
        assert_eq!(response.header("cache-control"), Some("no-store"));
        // API Gateway forwards x-forwarded-proto: https, so HSTS applies.
        assert!(response.header("strict-transport-security").is_some());
        let id = response.header("x-request-id").unwrap();
        assert!(
            id.starts_with("8f2c1d9e-"),
            "the Lambda request id, not API Gateway's: {id}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn hsts_only_over_https() {
    let env = TestEnv::new().await;
    let app = env.app(redline_core::Area::Health);
    let mut event = TestRequest::get("/health/live").to_event("plain-http-1");
    event["headers"]["x-forwarded-proto"] = json!("http");
    let response = redline_tests::harness::invoke_event(&app, event, "plain-http-1").await;
    assert_eq!(response.status, 200);
    assert!(response.header("strict-transport-security").is_none());
    assert_eq!(response.header("x-request-id"), Some("plain-http-1"));
}

#[tokio::test(flavor = "multi_thread")]
async fn non_json_body_is_415_and_bad_json_is_codec() {
    let env = TestEnv::new().await;
    let api = env.api();
    let response = api
        .send(
            TestRequest::post("/api/v1/auth/captcha/verify")
                .header("content-type", "text/plain")
                .raw_body(b"captcha_id=x".to_vec()),
        )
        .await;
    response.expect(415, "UNSUPPORTED_MEDIA_TYPE");
    let response = api
        .send(
            TestRequest::post("/api/v1/auth/captcha/verify")
                .raw_body(b"{\"captcha_id\":\"x\"}".to_vec()),
        )
        .await;
    response.expect(415, "UNSUPPORTED_MEDIA_TYPE");
    let response = api
        .send(
            TestRequest::post("/api/v1/auth/captcha/verify")
                .header("content-type", "application/json; charset=utf-8")
                .raw_body(b"{not json".to_vec()),
        )
        .await;
    response.expect(400, "CODEC");
    let response = api
        .send(TestRequest::post("/api/v1/auth/captcha/verify").json(json!({"captcha_id": 5})))
        .await;
    response.expect(400, "CODEC");
    let response = api
        .send(TestRequest::post("/api/v1/auth/captcha/verify").json(json!(["array"])))
        .await;
    response.expect(400, "CODEC");
    // application/*+json is JSON too.
    let response = api
        .send(
            TestRequest::post("/api/v1/auth/captcha/verify")
                .header("content-type", "application/vnd.redline+json")
                .raw_body(b"{}".to_vec()),
        )
        .await;
    response.expect(400, "CAPTCHA_ID_REQUIRED");
}

#[tokio::test(flavor = "multi_thread")]
async fn empty_body_reads_as_empty_object_whatever_the_content_type() {
    let env = TestEnv::new().await;
    let api = env.api();
    let response = api
        .send(TestRequest::post("/api/v1/auth/captcha/verify").header("content-type", "text/plain"))
        .await;
    response.expect(400, "CAPTCHA_ID_REQUIRED");
    let response = api.send(TestRequest::post("/api/v1/auth/refresh")).await;
    response.expect(400, "REFRESH_TOKEN_REQUIRED");
}

#[tokio::test(flavor = "multi_thread")]
async fn camel_case_is_accepted_and_snake_case_wins() {
    let env = TestEnv::new().await;
    let api = env.api();
    let id = api.image_captcha().await;
    let response = api
        .send(
            TestRequest::post("/api/v1/auth/captcha/verify")
                .json(json!({"captchaId": id, "captchaCode": "wrong1"})),
        )
        .await;
    response.expect(200, "");
    assert_eq!(response.body, json!({"success": false}));
    let response = api
        .send(
            TestRequest::post("/api/v1/auth/captcha/verify").json(json!({
                "captchaId": "not-the-id", "captcha_id": id, "captcha_code": "t3st42"
            })),
        )
        .await;
    response.expect(200, "");
    assert_eq!(
        response.body,
        json!({"success": true}),
        "snake_case wins, code ignores case"
    );
    // Query parameters likewise.
    let response = api
        .send(TestRequest::get("/api/v1/auth/captcha").query("captchaType", "image"))
        .await;
    response.expect(200, "");
    let response = api
        .send(
            TestRequest::get("/api/v1/auth/captcha")
                .query("captchaType", "image")
                .query("captcha_type", "bogus"),
        )
        .await;
    response.expect(400, "VALIDATION_ERROR");
    assert_eq!(response.body["metadata"]["field"], "captcha_type");
}

#[tokio::test(flavor = "multi_thread")]
async fn every_event_source_reaches_the_same_handler() {
    let env = TestEnv::new().await;
    let api = env.api();
    for source in [
        Source::HttpApiV2,
        Source::RestV1,
        Source::Alb,
        Source::FunctionUrl,
    ] {
        let response = api
            .send(TestRequest::get("/helloworld/ada").source(source))
            .await;
        response.expect(200, "");
        assert_eq!(response.body, json!({"message": "Hello ada"}), "{source:?}");
        assert!(response.header("x-request-id").is_some(), "{source:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stage_prefix_is_stripped() {
    let env = TestEnv::new().await;
    let api = env.api();
    for source in [Source::HttpApiV2, Source::RestV1] {
        let response = api
            .send(
                TestRequest::get("/health/live")
                    .source(source)
                    .stage("prod"),
            )
            .await;
        response.expect(200, "");
        assert_eq!(response.body, json!({"status": "healthy"}), "{source:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn base64_bodies_are_decoded() {
    let env = TestEnv::new().await;
    let api = env.api();
    let response = api
        .send(
            TestRequest::post("/api/v1/auth/refresh")
                .json(json!({"refresh_token": "garbage"}))
                .base64()
                .source(Source::FunctionUrl),
        )
        .await;
    response.expect(401, "TOKEN_INVALID");
}
