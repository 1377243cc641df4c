//! Captcha issue, verification, expiry, destruction, binding and rate limits.

use base64::Engine;
use redline_tests::{Source, TestEnv, TestRequest, FIXED_CODE};
use serde_json::json;
use std::time::Duration;

fn verify(id: &str, code: &str) -> TestRequest {
    TestRequest::post("/api/v1/auth/captcha/verify")
        .json(json!({"captcha_id": id, "captcha_code": code}))
}

#[tokio::test(flavor = "multi_thread")]
async fn image_captcha_is_a_png_data_url_with_a_long_random_id() {
    let mut env = TestEnv::new().await;
    env.unset("AUTH__CAPTCHA__FIXED_CODE");
    let api = env.api();
    let response = api
        .send(TestRequest::get("/api/v1/auth/captcha").query("captcha_type", "image"))
        .await;
    response.expect(200, "");
    let id = response.body["captcha_id"].as_str().unwrap();
    assert!(id.len() >= 32, "at least 128 bits");
    let data = response.body["image_data"].as_str().unwrap();
    let png = base64::engine::general_purpose::STANDARD
        .decode(
            data.strip_prefix("data:image/png;base64,")
                .expect("a PNG data URL"),
        )
        .unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let other = api
        .send(TestRequest::get("/api/v1/auth/captcha").query("captcha_type", "image"))
        .await;
    assert_ne!(other.body["captcha_id"], response.body["captcha_id"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn captcha_type_is_required_and_checked() {
    let env = TestEnv::new().await;
    let api = env.api();
    for request in [
        TestRequest::get("/api/v1/auth/captcha"),
        TestRequest::get("/api/v1/auth/captcha").query("captcha_type", "voice"),
    ] {
        let response = api.send(request).await;
        response.expect(400, "VALIDATION_ERROR");
        assert_eq!(response.body["metadata"]["field"], "captcha_type");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sms_and_email_codes_go_to_the_outbox_bound_to_their_target() {
    let mut env = TestEnv::new().await;
    env.unset("AUTH__CAPTCHA__FIXED_CODE");
    let api = env.api();
    let response = api
        .send(
            TestRequest::get("/api/v1/auth/captcha")
                .query("captcha_type", "sms")
                .query("target", "+8613800138000"),
        )
        .await;
    response.expect(200, "");
    assert_eq!(response.body["image_data"], "");
    let sms_id = response.body["captcha_id"].as_str().unwrap().to_string();
    let response = api
        .send(
            TestRequest::get("/api/v1/auth/captcha")
                .query("captcha_type", "email")
                .query("target", "Bob@Example.com"),
        )
        .await;
    response.expect(200, "");
    let email_id = response.body["captcha_id"].as_str().unwrap().to_string();

    let outbox = env.outbox().await;
    assert_eq!(outbox.len(), 2);
    assert_eq!(outbox[0]["channel"], "sms");
    assert_eq!(outbox[0]["target"], "+8613800138000");
    assert_eq!(outbox[0]["captcha_id"], sms_id.as_str());
    let sms_code = outbox[0]["code"].as_str().unwrap().to_string();
    assert_eq!(sms_code.len(), 6);
    assert!(sms_code.bytes().all(|b| b.is_ascii_digit()));
    assert!(outbox[0]["at"].as_u64().is_some());
    assert_eq!(outbox[1]["channel"], "email");
    assert_eq!(outbox[1]["target"], "bob@example.com");
    let email_code = outbox[1]["code"].as_str().unwrap().to_string();

    // The email captcha registers bob@example.com and nobody else.
    let response = api
        .send(TestRequest::post("/api/v1/auth/register").json(json!({
            "username": "mallory", "password": "passw0rd1", "email": "mallory@example.com",
            "captcha_id": email_id, "captcha_code": email_code,
        })))
        .await;
    response.expect(400, "CAPTCHA_INVALID");
    let response = api
        .send(TestRequest::post("/api/v1/auth/register").json(json!({
            "username": "bob", "password": "passw0rd1", "email": "bob@example.com",
            "captcha_id": email_id, "captcha_code": email_code,
        })))
        .await;
    response.expect(200, "");
    // The sms captcha logs in by that phone only.
    let response = api
        .login_with(json!({"username": "bob", "password": "passw0rd1",
                           "captcha_id": sms_id, "captcha_code": sms_code}))
        .await;
    response.expect(400, "CAPTCHA_INVALID");
}

#[tokio::test(flavor = "multi_thread")]
async fn sms_and_email_need_a_valid_target() {
    let env = TestEnv::new().await;
    let api = env.api();
    for (kind, target) in [
        ("sms", ""),
        ("sms", "12345"),
        ("email", "nobody"),
        ("email", ""),
    ] {
        let mut request = TestRequest::get("/api/v1/auth/captcha").query("captcha_type", kind);
        if !target.is_empty() {
            request = request.query("target", target);
        }
        let response = api.send(request).await;
        response.expect(400, "VALIDATION_ERROR");
        assert_eq!(
            response.body["metadata"]["field"], "target",
            "{kind} {target}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_delivery_channel_sms_and_email_are_refused() {
    let env = TestEnv::with(&[("AUTH__CAPTCHA__DELIVERY", "disabled")]).await;
    let api = env.api();
    let response = api
        .send(
            TestRequest::get("/api/v1/auth/captcha")
                .query("captcha_type", "email")
                .query("target", "a@example.com"),
        )
        .await;
    response.expect(400, "VALIDATION_ERROR");
    assert_eq!(response.body["metadata"]["field"], "captcha_type");
    assert!(env.outbox().await.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_rules() {
    let env = TestEnv::new().await;
    let api = env.api();
    api.send(verify("", "x"))
        .await
        .expect(400, "CAPTCHA_ID_REQUIRED");
    api.send(verify("x", ""))
        .await
        .expect(400, "CAPTCHA_CODE_REQUIRED");
    api.send(verify("unknown-id", "123456"))
        .await
        .expect(400, "CAPTCHA_INVALID");

    let id = api.image_captcha().await;
    let response = api.send(verify(&id, "WRONG1")).await;
    response.expect(200, "");
    assert_eq!(response.body, json!({"success": false}));
    let response = api.send(verify(&id, &FIXED_CODE.to_lowercase())).await;
    assert_eq!(response.body, json!({"success": true}));
    // Consumed by its first successful use.
    api.send(verify(&id, FIXED_CODE))
        .await
        .expect(400, "CAPTCHA_INVALID");
}

#[tokio::test(flavor = "multi_thread")]
async fn too_many_wrong_guesses_destroy_the_captcha() {
    let env = TestEnv::with(&[("AUTH__CAPTCHA__MAX_GUESSES", "3")]).await;
    let api = env.api();
    let id = api.image_captcha().await;
    for _ in 0..3 {
        let response = api.send(verify(&id, "NOPE00")).await;
        assert_eq!(response.body, json!({"success": false}));
    }
    api.send(verify(&id, FIXED_CODE))
        .await
        .expect(400, "CAPTCHA_INVALID");
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_captchas_say_so_for_a_while_then_are_forgotten() {
    let env = TestEnv::with(&[
        ("AUTH__CAPTCHA__TTL", "1s"),
        ("AUTH__CAPTCHA__EXPIRED_RETENTION", "3s"),
    ])
    .await;
    let api = env.api();
    let id = api.image_captcha().await;
    let second = api.image_captcha().await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    api.send(verify(&id, FIXED_CODE))
        .await
        .expect(400, "CAPTCHA_EXPIRED");
    let response = api
        .login_with(json!({"username": "x", "password": "y", "captcha_id": second, "captcha_code": FIXED_CODE}))
        .await;
    response.expect(400, "CAPTCHA_EXPIRED");
    tokio::time::sleep(Duration::from_millis(3200)).await;
    api.send(verify(&id, FIXED_CODE))
        .await
        .expect(400, "CAPTCHA_INVALID");
}

#[tokio::test(flavor = "multi_thread")]
async fn register_and_login_require_and_consume_the_captcha() {
    let env = TestEnv::new().await;
    let api = env.api();
    let register = |body: serde_json::Value| TestRequest::post("/api/v1/auth/register").json(body);
    api.send(register(
        json!({"username": "alice", "password": "passw0rd1", "email": "a@example.com"}),
    ))
    .await
    .expect(400, "CAPTCHA_REQUIRED");
    let id = api.image_captcha().await;
    api.send(register(
        json!({"username": "alice", "password": "passw0rd1", "email": "a@example.com",
                             "captcha_id": id, "captcha_code": "WRONG1"}),
    ))
    .await
    .expect(400, "CAPTCHA_INVALID");
    // A right code passes and is consumed even though a later check (the password) fails.
    let id = api.image_captcha().await;
    api.send(register(
        json!({"username": "alice", "password": "short", "email": "a@example.com",
                             "captcha_id": id, "captcha_code": FIXED_CODE}),
    ))
    .await
    .expect(400, "VALIDATION_ERROR");
    api.send(register(
        json!({"username": "alice", "password": "passw0rd1", "email": "a@example.com",
                             "captcha_id": id, "captcha_code": FIXED_CODE}),
    ))
    .await
    .expect(400, "CAPTCHA_INVALID");

    api.send(
        TestRequest::post("/api/v1/auth/login").json(json!({"username": "alice", "password": "x"})),
    )
    .await
    .expect(400, "CAPTCHA_REQUIRED");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_disabled_captcha_is_not_asked_for() {
    let env = TestEnv::with(&[("AUTH__CAPTCHA__ENABLED", "false")]).await;
    let api = env.api();
    api.send(TestRequest::post("/api/v1/auth/register").json(json!({
        "username": "carol", "password": "passw0rd1", "email": "carol@example.com"
    })))
    .await
    .expect(200, "");
    api.send(
        TestRequest::post("/api/v1/auth/login")
            .json(json!({"username": "carol", "password": "passw0rd1"})),
    )
    .await
    .expect(200, "");
}

#[tokio::test(flavor = "multi_thread")]
async fn captcha_and_verify_share_a_per_ip_rate_window() {
    let env = TestEnv::with(&[("RATE_LIMITS__CAPTCHA", "3")]).await;
    redline_tests::harness::wait_for_fresh_rate_window().await;
    let api = env.api();
    let get = || {
        TestRequest::get("/api/v1/auth/captcha")
            .query("captcha_type", "image")
            .from_ip("203.0.113.5")
    };
    let first = api.send(get()).await;
    first.expect(200, "");
    assert_eq!(first.header("x-ratelimit-limit"), Some("3"));
    assert_eq!(first.header("x-ratelimit-remaining"), Some("2"));
    let reset: u64 = first.header("x-ratelimit-reset").unwrap().parse().unwrap();
    assert!((1..=60).contains(&reset));
    api.send(get()).await.expect(200, "");
    api.send(verify("x", "y").from_ip("203.0.113.5"))
        .await
        .expect(400, "CAPTCHA_INVALID");
    let limited = api.send(get()).await;
    limited.expect(429, "RATE_LIMITED");
    assert_eq!(limited.header("x-ratelimit-remaining"), Some("0"));
    let retry: u64 = limited.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    // Rate limit precedes content type and JSON.
    api.send(
        TestRequest::post("/api/v1/auth/captcha/verify")
            .from_ip("203.0.113.5")
            .header("content-type", "text/plain")
            .raw_body(b"x".to_vec()),
    )
    .await
    .expect(429, "RATE_LIMITED");
    // Another client is not affected, and neither is another group.
    api.send(get().from_ip("203.0.113.6")).await.expect(200, "");
    let login = api
        .send(
            TestRequest::post("/api/v1/auth/login")
                .from_ip("203.0.113.5")
                .json(json!({})),
        )
        .await;
    login.expect(400, "VALIDATION_ERROR");
    assert_eq!(login.header("x-ratelimit-limit"), Some("1000"));
}

#[tokio::test(flavor = "multi_thread")]
async fn behind_an_alb_the_client_is_the_rightmost_forwarded_address() {
    let env = TestEnv::with(&[("RATE_LIMITS__REGISTER", "1")]).await;
    redline_tests::harness::wait_for_fresh_rate_window().await;
    let api = env.api();
    let request = |spoofed: &str, peer: &str| {
        TestRequest::post("/api/v1/auth/register")
            .source(Source::Alb)
            .header("x-forwarded-for", spoofed)
            .from_ip(peer)
            .json(json!({}))
    };
    api.send(request("1.1.1.1", "198.51.100.20"))
        .await
        .expect(400, "CAPTCHA_REQUIRED");
    // A different spoofed left-most entry does not buy a new window.
    api.send(request("2.2.2.2", "198.51.100.20"))
        .await
        .expect(429, "RATE_LIMITED");
    api.send(request("2.2.2.2", "198.51.100.21"))
        .await
        .expect(400, "CAPTCHA_REQUIRED");
}
