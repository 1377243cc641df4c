//! The traffic hooks' smoke account: it skips the captcha and the rate limit only on an
//! invocation whose client context carries a valid signature from its secret. API Gateway never
//! sets a client context, so from the internet the account is an account like any other.

use redline_crypto::smoke::SmokeAccount;
use redline_tests::{Api, TestEnv, TestRequest};
use serde_json::json;

const SECRET: &str = "smoke-secret-for-the-api-tier";

fn smoke_env(env: &mut TestEnv) -> SmokeAccount {
    env.set("SMOKE__SECRET", SECRET);
    SmokeAccount::derive(SECRET)
}

fn register(account: &SmokeAccount) -> TestRequest {
    TestRequest::post("/api/v1/auth/register").json(json!({
        "username": account.username, "password": account.password,
        "email": format!("{}@smoke.example.com", account.username),
    }))
}

fn login(account: &SmokeAccount) -> TestRequest {
    TestRequest::post("/api/v1/auth/login")
        .json(json!({"username": account.username, "password": account.password}))
}

async fn registered(api: &Api, account: &SmokeAccount) {
    api.send(register(account).smoke_signed(SECRET))
        .await
        .expect(200, "");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signed_invocation_registers_and_logs_in_without_a_captcha() {
    let mut env = TestEnv::new().await;
    let account = smoke_env(&mut env);
    let api = env.api();
    registered(&api, &account).await;
    api.send(register(&account).smoke_signed(SECRET))
        .await
        .expect(409, "USER_EXISTS");
    let response = api.send(login(&account).smoke_signed(SECRET)).await;
    response.expect(200, "");
    assert!(response.body["access_token"].is_string());
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_valid_signature_the_smoke_account_needs_a_captcha() {
    let mut env = TestEnv::new().await;
    let account = smoke_env(&mut env);
    let api = env.api();
    registered(&api, &account).await;
    let other = SmokeAccount::derive("another secret");
    let elsewhere = other.sign(
        redline_core::clock::now_secs(),
        "POST",
        "/api/v1/auth/login",
        b"{}",
    );
    let stale = account.sign(
        redline_core::clock::now_secs() - 600,
        "POST",
        "/api/v1/auth/login",
        &serde_json::to_vec(&json!({"username": account.username, "password": account.password}))
            .unwrap(),
    );
    let refused = [
        ("as through API Gateway: no client context", login(&account)),
        (
            "signed with another secret",
            login(&account).smoke_signed("another secret"),
        ),
        (
            "a signature for another request",
            login(&account).smoke_signature(&elsewhere),
        ),
        ("an old signature", login(&account).smoke_signature(&stale)),
        ("garbage", login(&account).smoke_signature("1.00")),
    ];
    for (what, request) in refused {
        let response = api.send(request).await;
        assert_eq!(
            (response.status, response.body["reason"].as_str()),
            (400, Some("CAPTCHA_REQUIRED")),
            "{what}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_signature_lets_only_the_smoke_account_skip_the_captcha() {
    let mut env = TestEnv::new().await;
    smoke_env(&mut env);
    let api = env.api();
    api.register("ordinary", "passw0rd!", "ordinary@example.com", None)
        .await;
    let response = api
        .send(
            TestRequest::post("/api/v1/auth/login")
                .json(json!({"username": "ordinary", "password": "passw0rd!"}))
                .smoke_signed(SECRET),
        )
        .await;
    response.expect(400, "CAPTCHA_REQUIRED");
}

#[tokio::test(flavor = "multi_thread")]
async fn signed_invocations_are_not_rate_limited_and_others_still_are() {
    let mut env = TestEnv::new().await;
    let account = smoke_env(&mut env);
    env.set("RATE_LIMITS__LOGIN", "1");
    let api = env.api();
    registered(&api, &account).await;
    for _ in 0..3 {
        api.send(login(&account).smoke_signed(SECRET))
            .await
            .expect(200, "");
    }
    for expected in [400, 429] {
        let response = api.send(login(&account)).await;
        assert_eq!(response.status, expected, "{}", response.body);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn with_no_smoke_secret_a_signature_means_nothing() {
    let env = TestEnv::new().await;
    let account = SmokeAccount::derive(SECRET);
    let api = env.api();
    api.send(register(&account).smoke_signed(SECRET))
        .await
        .expect(400, "CAPTCHA_REQUIRED");
}
