//! Races, odd input and the defences the review asked for: atomic captcha checks, lockout under
//! concurrency, NUL and non-ASCII input, bodies on GET, REST stages, nulls, key rotation.

use base64::Engine;
use redline_tests::{Source, TestEnv, TestRequest, FIXED_CODE};
use serde_json::{json, Value};
use std::sync::Arc;

fn verify(id: &str, code: &str) -> TestRequest {
    TestRequest::post("/api/v1/auth/captcha/verify")
        .json(json!({"captcha_id": id, "captcha_code": code}))
}

async fn all<F: std::future::Future<Output = redline_tests::TestResponse> + Send + 'static>(
    futures: Vec<F>,
) -> Vec<redline_tests::TestResponse> {
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for handle in handles {
        out.push(handle.await.unwrap());
    }
    out
}

#[tokio::test(flavor = "multi_thread")]
async fn racing_guesses_never_exceed_max_guesses_and_one_right_answer_wins() {
    let env = TestEnv::with(&[("AUTH__CAPTCHA__MAX_GUESSES", "3")]).await;
    let api = Arc::new(env.api());
    let id = api.image_captcha().await;
    let wrong = all((0..12)
        .map(|_| {
            let (api, id) = (api.clone(), id.clone());
            async move { api.send(verify(&id, "WRONG9")).await }
        })
        .collect())
    .await;
    let counted = wrong
        .iter()
        .filter(|r| r.body == json!({"success": false}))
        .count();
    assert_eq!(counted, 3, "exactly max_guesses wrong guesses are answered");
    assert!(wrong
        .iter()
        .filter(|r| r.status == 400)
        .all(|r| r.reason() == "CAPTCHA_INVALID"));
    api.send(verify(&id, FIXED_CODE))
        .await
        .expect(400, "CAPTCHA_INVALID");

    let id = api.image_captcha().await;
    let right = all((0..8)
        .map(|_| {
            let (api, id) = (api.clone(), id.clone());
            async move { api.send(verify(&id, FIXED_CODE)).await }
        })
        .collect())
    .await;
    let passed = right
        .iter()
        .filter(|r| r.body == json!({"success": true}))
        .count();
    assert_eq!(passed, 1, "a captcha is consumed by exactly one use");
    let mut conn = env.redis().await;
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}captcha:*", env.prefix))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(keys.is_empty(), "no captcha key resurrected: {keys:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_burst_of_wrong_passwords_gets_exactly_max_attempts_checks() {
    let env = TestEnv::with(&[
        ("AUTH__LOCKOUT__MAX_ATTEMPTS", "3"),
        ("AUTH__CAPTCHA__ENABLED", "false"),
    ])
    .await;
    let api = Arc::new(env.api());
    api.register("target", "passw0rd1", "target@example.com", None)
        .await;
    let answers = all((0..12)
        .map(|_| {
            let api = api.clone();
            async move { api.login("target", "guess-1234").await }
        })
        .collect())
    .await;
    let checked = answers
        .iter()
        .filter(|r| r.reason() == "INVALID_CREDENTIALS")
        .count();
    let locked = answers
        .iter()
        .filter(|r| r.reason() == "ACCOUNT_LOCKED")
        .count();
    assert_eq!(
        (checked, locked),
        (3, 9),
        "{:?}",
        answers
            .iter()
            .map(|r| r.reason().to_string())
            .collect::<Vec<_>>()
    );
    // The right password does not get through the lock either.
    api.login("target", "passw0rd1")
        .await
        .expect(403, "ACCOUNT_LOCKED");
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_contracts_401s_count_as_failures() {
    let env = TestEnv::with(&[("AUTH__LOCKOUT__MAX_ATTEMPTS", "2")]).await;
    let api = env.api();
    api.register("counted", "passw0rd1", "counted@example.com", None)
        .await;
    // Captcha and validation failures do not count.
    api.login_with(
        json!({"username": "counted", "password": "x", "captcha_id": "nope", "captcha_code": "x"}),
    )
    .await
    .expect(400, "CAPTCHA_INVALID");
    api.send(TestRequest::post("/api/v1/auth/login").json(json!({"username": "counted"})))
        .await
        .expect(400, "VALIDATION_ERROR");
    let status = api
        .send(TestRequest::get("/api/v1/auth/lock-status/counted"))
        .await;
    assert_eq!(status.body["failed_attempts"], 0);
    // Right password but a missing TOTP code: not counted either (and the count survives).
    api.login("counted", "wrong-pass1")
        .await
        .expect(401, "INVALID_CREDENTIALS");
    let (access, _) = {
        let ok = api.login("counted", "passw0rd1").await;
        ok.expect(200, "");
        (ok.body["access_token"].as_str().unwrap().to_string(), ())
    };
    let setup = api
        .send(
            TestRequest::post("/api/v1/auth/totp/setup")
                .bearer(&access)
                .json(json!({"password": "passw0rd1"})),
        )
        .await;
    let secret = setup.body["secret"].as_str().unwrap().to_string();
    let code = redline_tests::totp::code_now(&secret, 0);
    api.send(
        TestRequest::post("/api/v1/auth/totp/enable")
            .bearer(&access)
            .json(json!({"code": code})),
    )
    .await
    .expect(200, "");
    api.login("counted", "wrong-pass1")
        .await
        .expect(401, "INVALID_CREDENTIALS");
    api.login("counted", "passw0rd1")
        .await
        .expect(400, "TOTP_REQUIRED");
    let status = api
        .send(TestRequest::get("/api/v1/auth/lock-status/counted"))
        .await;
    assert_eq!(status.body["failed_attempts"], 1, "{}", status.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn deleting_with_wrong_passwords_locks_like_login() {
    let env = TestEnv::with(&[("AUTH__LOCKOUT__MAX_ATTEMPTS", "2")]).await;
    let api = env.api();
    let (access, _) = api.signed_in("oracle").await;
    let delete = |password: &str| {
        TestRequest::delete("/api/v1/users/me")
            .bearer(&access)
            .json(json!({"password": password}))
    };
    api.send(delete("guess-0001"))
        .await
        .expect(401, "INVALID_CREDENTIALS");
    api.send(delete("guess-0002"))
        .await
        .expect(401, "INVALID_CREDENTIALS");
    api.send(delete("passw0rd!"))
        .await
        .expect(403, "ACCOUNT_LOCKED");
}

#[tokio::test(flavor = "multi_thread")]
async fn nul_and_non_ascii_input_get_client_answers() {
    let env = TestEnv::new().await;
    let api = env.api();
    api.login("a\u{0}b", "whatever1")
        .await
        .expect(401, "INVALID_CREDENTIALS");
    api.send(TestRequest::get("/api/v1/auth/lock-status/a%00b"))
        .await
        .expect(200, "");
    api.login("x\u{0}@example.com", "whatever1")
        .await
        .expect(401, "INVALID_CREDENTIALS");
    api.send(TestRequest::get("/api/v1/users/me").header("authorization", "Bearer é"))
        .await
        .expect(401, "INVALID_TOKEN_FORMAT");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_body_on_a_get_is_checked_too() {
    let env = TestEnv::new().await;
    let api = env.api();
    api.send(
        TestRequest::get("/health/live")
            .header("content-type", "text/plain")
            .raw_body(b"hi".to_vec()),
    )
    .await
    .expect(415, "UNSUPPORTED_MEDIA_TYPE");
    api.send(
        TestRequest::get("/health/live")
            .header("content-type", "application/json")
            .raw_body(b"{oops".to_vec()),
    )
    .await
    .expect(400, "CODEC");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rest_stage_named_like_a_route_segment_is_still_stripped() {
    let env = TestEnv::new().await;
    let api = env.api();
    for (stage, path) in [("health", "/health/live"), ("helloworld", "/helloworld/x")] {
        let response = api
            .send(TestRequest::get(path).source(Source::RestV1).stage(stage))
            .await;
        response.expect(200, "");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn null_fields_read_as_absent() {
    let env = TestEnv::new().await;
    let api = env.api();
    let id = api.image_captcha().await;
    api.send(TestRequest::post("/api/v1/auth/register").json(json!({
        "username": "nully", "password": "passw0rd1", "email": "nully@example.com", "phone": null,
        "captcha_id": id, "captcha_code": FIXED_CODE,
    })))
    .await
    .expect(200, "");
    api.login_with(json!({"username": "nully", "password": "passw0rd1", "totp_code": null}))
        .await
        .expect(200, "");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_family_past_session_max_is_expired() {
    let env = TestEnv::new().await;
    let api = env.api();
    let (_, refresh) = api.signed_in("old_session").await;
    let admin = env.db.connect().await;
    admin
        .execute(
            "UPDATE refresh_families SET expires_at = now() - interval '1 second'",
            &[],
        )
        .await
        .unwrap();
    api.send(TestRequest::post("/api/v1/auth/refresh").json(json!({"refresh_token": refresh})))
        .await
        .expect(401, "TOKEN_EXPIRED");
}

fn forge(token: &str, header: Value) -> String {
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let mut parts: Vec<String> = token.split('.').map(str::to_string).collect();
    parts[0] = engine.encode(header.to_string());
    parts.join(".")
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_kids_and_mismatched_algorithms_are_invalid() {
    let env = TestEnv::new().await;
    let api = env.api();
    let (access, _) = api.signed_in("kidtest").await;
    let me = |token: &str| TestRequest::get("/api/v1/users/me").bearer(token);
    for header in [
        json!({"alg": "EdDSA", "kid": "no-such-key", "typ": "JWT"}),
        json!({"alg": "ES256", "kid": "test-2026-11", "typ": "JWT"}),
        json!({"alg": "HS256", "kid": "test-2026-11", "typ": "JWT"}),
    ] {
        api.send(me(&forge(&access, header.clone())))
            .await
            .expect(401, "TOKEN_INVALID");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_login_rate_limit_answers_429() {
    let env = TestEnv::with(&[("RATE_LIMITS__LOGIN", "2")]).await;
    redline_tests::harness::wait_for_fresh_rate_window().await;
    let api = env.api();
    let login = || {
        TestRequest::post("/api/v1/auth/login")
            .json(json!({}))
            .from_ip("203.0.113.77")
    };
    api.send(login()).await.expect(400, "VALIDATION_ERROR");
    api.send(login()).await.expect(400, "VALIDATION_ERROR");
    let limited = api.send(login()).await;
    limited.expect(429, "RATE_LIMITED");
    assert!(limited.header("retry-after").is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_and_lock_status_have_their_own_limits_and_ipv6_counts_by_64() {
    let env = TestEnv::with(&[
        ("RATE_LIMITS__REFRESH", "2"),
        ("RATE_LIMITS__LOCK_STATUS", "2"),
    ])
    .await;
    redline_tests::harness::wait_for_fresh_rate_window().await;
    let api = env.api();
    let refresh = |ip: &str| {
        TestRequest::post("/api/v1/auth/refresh")
            .json(json!({}))
            .from_ip(ip)
    };
    // Three addresses of one /64 share a window; the next /64 has its own.
    api.send(refresh("2001:db8:7:7::1"))
        .await
        .expect(400, "REFRESH_TOKEN_REQUIRED");
    api.send(refresh("2001:db8:7:7:ffff:ffff:ffff:2"))
        .await
        .expect(400, "REFRESH_TOKEN_REQUIRED");
    let limited = api.send(refresh("2001:db8:7:7::3")).await;
    limited.expect(429, "RATE_LIMITED");
    assert!(limited.header("retry-after").is_some());
    api.send(refresh("2001:db8:7:8::1"))
        .await
        .expect(400, "REFRESH_TOKEN_REQUIRED");

    // An IPv4 client is the same client when it arrives IPv4-mapped.
    let status = |ip: &str| TestRequest::get("/api/v1/auth/lock-status/nobody").from_ip(ip);
    api.send(status("203.0.113.88")).await.expect(200, "");
    api.send(status("::ffff:203.0.113.88"))
        .await
        .expect(200, "");
    api.send(status("203.0.113.88"))
        .await
        .expect(429, "RATE_LIMITED");
    api.send(status("203.0.113.89")).await.expect(200, "");
}

#[tokio::test(flavor = "multi_thread")]
async fn personal_data_under_an_old_key_is_resealed_at_login() {
    let mut env = TestEnv::new().await;
    let old = r#"{"current":1,"keys":{"1":"NZz6Ol/B4Ietqo6TT0PdfH7kXY2SjvSoNQY4Emsig4o="}}"#;
    env.set("CRYPTO__DATA_KEYS", old);
    env.api()
        .register(
            "rotate",
            "passw0rd1",
            "rotate@example.com",
            Some("+14155550111"),
        )
        .await;
    let rotated = r#"{"current":2,"keys":{"1":"NZz6Ol/B4Ietqo6TT0PdfH7kXY2SjvSoNQY4Emsig4o=","2":"UT1eYph+o3hPEkBTRPMLNnnjxrkakrNeMTh8wMq8WjM="}}"#;
    env.set("CRYPTO__DATA_KEYS", rotated);
    let api = env.api();
    let login = api.login("rotate", "passw0rd1").await;
    login.expect(200, "");
    let admin = env.db.connect().await;
    let row = admin
        .query_one("SELECT email_cipher, phone_cipher FROM users", &[])
        .await
        .unwrap();
    for column in [0, 1] {
        let cipher: Vec<u8> = row.get(column);
        assert_eq!(
            &cipher[..4],
            &2u32.to_be_bytes(),
            "column {column} re-sealed under version 2"
        );
    }
    let me = api
        .send(
            TestRequest::get("/api/v1/users/me")
                .bearer(login.body["access_token"].as_str().unwrap()),
        )
        .await;
    assert_eq!(me.body["email"], "ro***@example.com");
}
