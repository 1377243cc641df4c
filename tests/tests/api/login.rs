//! Login: identifiers, uniform failures, lockout, lock status, bcrypt import, TOTP.

use redline_tests::{Api, TestEnv, TestRequest, FIXED_CODE};
use serde_json::json;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

async fn lock_status(api: &Api, identifier: &str) -> serde_json::Value {
    let path = format!(
        "/api/v1/auth/lock-status/{}",
        redline_tests::events::encode(identifier)
    );
    let response = api.send(TestRequest::get(&path)).await;
    response.expect(200, "");
    response.body
}

#[tokio::test(flavor = "multi_thread")]
async fn login_by_username_email_or_phone_returns_a_bearer_pair() {
    let env = TestEnv::new().await;
    let api = env.api();
    api.register(
        "Alice",
        "passw0rd1",
        "alice@example.com",
        Some("13800138000"),
    )
    .await;
    for identifier in [
        "alice",
        "ALICE",
        " Alice@Example.com ",
        "13800138000",
        "+8613800138000",
    ] {
        let response = api.login(identifier, "passw0rd1").await;
        response.expect(200, "");
        assert_eq!(response.body["token_type"], "Bearer");
        assert_eq!(response.body["expires_in"], 900);
        assert!(
            response.body["access_token"]
                .as_str()
                .unwrap()
                .split('.')
                .count()
                == 3
        );
        assert!(
            response.body["refresh_token"]
                .as_str()
                .unwrap()
                .split('.')
                .count()
                == 3
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn username_and_password_are_required_before_anything_else() {
    let env = TestEnv::new().await;
    let api = env.api();
    let response = api
        .send(TestRequest::post("/api/v1/auth/login").json(json!({"password": "x"})))
        .await;
    response.expect(400, "VALIDATION_ERROR");
    assert_eq!(response.body["metadata"]["field"], "username");
    let response = api
        .send(TestRequest::post("/api/v1/auth/login").json(json!({"username": "x"})))
        .await;
    response.expect(400, "VALIDATION_ERROR");
    assert_eq!(response.body["metadata"]["field"], "password");
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_user_and_wrong_password_get_the_same_answer() {
    let env = TestEnv::new().await;
    let api = env.api();
    api.register("bob", "passw0rd1", "bob@example.com", None)
        .await;
    let wrong = api.login("bob", "wrong-passw0rd").await;
    let unknown = api.login("nobody", "wrong-passw0rd").await;
    wrong.expect(401, "INVALID_CREDENTIALS");
    unknown.expect(401, "INVALID_CREDENTIALS");
    assert_eq!(wrong.body, unknown.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn failures_lock_the_account_across_all_its_identifiers() {
    let env = TestEnv::with(&[
        ("AUTH__LOCKOUT__MAX_ATTEMPTS", "3"),
        ("AUTH__LOCKOUT__DURATION", "30m"),
    ])
    .await;
    let api = env.api();
    api.register(
        "carol",
        "passw0rd1",
        "carol@example.com",
        Some("+14155550100"),
    )
    .await;
    api.login("carol", "bad")
        .await
        .expect(401, "INVALID_CREDENTIALS");
    api.login("carol@example.com", "bad")
        .await
        .expect(401, "INVALID_CREDENTIALS");
    let status = lock_status(&api, "+14155550100").await;
    assert_eq!(
        status,
        json!({"locked": false, "unlock_time": 0, "failed_attempts": 2, "max_attempts": 3})
    );
    // Read-only: asking again changes nothing.
    assert_eq!(lock_status(&api, "CAROL").await, status);
    // The attempt that reaches the limit still answers 401; the next one 403.
    api.login("+14155550100", "bad")
        .await
        .expect(401, "INVALID_CREDENTIALS");
    let before = now();
    let captcha_id = api.image_captcha().await;
    let locked = api
        .login_with(json!({"username": "carol", "password": "passw0rd1",
                           "captcha_id": captcha_id, "captcha_code": FIXED_CODE}))
        .await;
    locked.expect(403, "ACCOUNT_LOCKED");
    let unlock: u64 = locked.body["metadata"]["unlock_time"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        unlock >= before + 1790 && unlock <= before + 1810,
        "{unlock} vs {before}"
    );
    // The captcha of a locked attempt is not consumed.
    let verify = api
        .send(
            TestRequest::post("/api/v1/auth/captcha/verify")
                .json(json!({"captcha_id": captcha_id, "captcha_code": FIXED_CODE})),
        )
        .await;
    assert_eq!(verify.body, json!({"success": true}));
    let status = lock_status(&api, "carol@example.com").await;
    assert_eq!(status["locked"], true);
    assert_eq!(status["unlock_time"], unlock);
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_names_have_their_own_counter_and_lock() {
    let env = TestEnv::with(&[("AUTH__LOCKOUT__MAX_ATTEMPTS", "2")]).await;
    let api = env.api();
    assert_eq!(lock_status(&api, "ghost").await["failed_attempts"], 0);
    api.login("ghost", "x")
        .await
        .expect(401, "INVALID_CREDENTIALS");
    assert_eq!(lock_status(&api, "Ghost").await["failed_attempts"], 1);
    api.login("ghost", "x")
        .await
        .expect(401, "INVALID_CREDENTIALS");
    api.login("ghost", "x").await.expect(403, "ACCOUNT_LOCKED");
    assert_eq!(lock_status(&api, "ghost").await["locked"], true);
    assert_eq!(lock_status(&api, "ghost2").await["failed_attempts"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_lock_expires_and_counting_restarts_from_zero() {
    let env = TestEnv::with(&[
        ("AUTH__LOCKOUT__MAX_ATTEMPTS", "2"),
        ("AUTH__LOCKOUT__DURATION", "2s"),
    ])
    .await;
    let api = env.api();
    api.register("dave", "passw0rd1", "dave@example.com", None)
        .await;
    api.login("dave", "bad")
        .await
        .expect(401, "INVALID_CREDENTIALS");
    api.login("dave", "bad")
        .await
        .expect(401, "INVALID_CREDENTIALS");
    api.login("dave", "passw0rd1")
        .await
        .expect(403, "ACCOUNT_LOCKED");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let status = lock_status(&api, "dave").await;
    assert_eq!(
        status,
        json!({"locked": false, "unlock_time": 0, "failed_attempts": 0, "max_attempts": 2})
    );
    // One failure after expiry does not re-lock: the count restarted.
    api.login("dave", "bad")
        .await
        .expect(401, "INVALID_CREDENTIALS");
    api.login("dave", "passw0rd1").await.expect(200, "");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_window_is_fixed_from_the_first_failure_and_success_resets() {
    let env = TestEnv::with(&[
        ("AUTH__LOCKOUT__MAX_ATTEMPTS", "3"),
        ("AUTH__LOCKOUT__WINDOW", "2s"),
    ])
    .await;
    let api = env.api();
    api.register("erin", "passw0rd1", "erin@example.com", None)
        .await;
    api.login("erin", "bad")
        .await
        .expect(401, "INVALID_CREDENTIALS");
    api.login("erin", "bad")
        .await
        .expect(401, "INVALID_CREDENTIALS");
    tokio::time::sleep(Duration::from_millis(2300)).await;
    assert_eq!(lock_status(&api, "erin").await["failed_attempts"], 0);
    api.login("erin", "bad")
        .await
        .expect(401, "INVALID_CREDENTIALS");
    api.login("erin", "passw0rd1").await.expect(200, "");
    assert_eq!(lock_status(&api, "erin").await["failed_attempts"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn bcrypt_hashes_from_the_go_service_verify_and_are_rehashed() {
    let env = TestEnv::new().await;
    let api = env.api();
    api.register("frank", "passw0rd1", "frank@example.com", None)
        .await;
    let client = env.db.connect().await;
    // A Go-style $2a$ hash of "legacy-passw0rd" (cost 4).
    let legacy = bcrypt::hash("legacy-passw0rd", 4)
        .unwrap()
        .replacen("$2b$", "$2a$", 1);
    client
        .execute(
            "UPDATE users SET password_hash = $1 WHERE username = 'frank'",
            &[&legacy],
        )
        .await
        .unwrap();
    api.login("frank", "passw0rd1")
        .await
        .expect(401, "INVALID_CREDENTIALS");
    api.login("frank", "legacy-passw0rd").await.expect(200, "");
    let hash: String = client
        .query_one(
            "SELECT password_hash FROM users WHERE username = 'frank'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(hash.starts_with("$argon2id$"), "re-hashed: {hash}");
    api.login("frank", "legacy-passw0rd").await.expect(200, "");
}

#[tokio::test(flavor = "multi_thread")]
async fn totp_setup_enable_and_login_with_single_use_codes() {
    let env = TestEnv::new().await;
    let api = env.api();
    let (access, _) = api.signed_in("grace").await;
    let setup = api
        .send(
            TestRequest::post("/api/v1/auth/totp/setup")
                .bearer(&access)
                .json(json!({"password": "passw0rd!"})),
        )
        .await;
    setup.expect(200, "");
    let secret = setup.body["secret"].as_str().unwrap().to_string();
    let url = setup.body["otpauth_url"].as_str().unwrap();
    assert!(url.starts_with("otpauth://totp/"), "{url}");
    assert!(url.contains(&format!("secret={secret}")));

    let enable = |code: String| {
        TestRequest::post("/api/v1/auth/totp/enable")
            .bearer(&access)
            .json(json!({"code": code}))
    };
    api.send(enable("000000".into()))
        .await
        .expect(400, "TOTP_INVALID");
    let response = api
        .send(enable(redline_tests::totp::code_at(&secret, now())))
        .await;
    response.expect(200, "");
    assert_eq!(response.body["enabled"], true);
    assert_eq!(
        response.body["recovery_codes"].as_array().unwrap().len(),
        10
    );

    api.login("grace", "passw0rd!")
        .await
        .expect(400, "TOTP_REQUIRED");
    api.login_with(json!({"username": "grace", "password": "passw0rd!", "totp_code": "123456"}))
        .await
        .expect(401, "TOTP_INVALID");
    // The step used to enable is spent; the next step's code (within ±1) works once.
    let next = redline_tests::totp::code_at(&secret, now() + 30);
    api.login_with(json!({"username": "grace", "password": "passw0rd!", "totp_code": next}))
        .await
        .expect(200, "");
    api.login_with(json!({"username": "grace", "password": "passw0rd!", "totp_code": next}))
        .await
        .expect(401, "TOTP_INVALID");
    let me = api
        .send(TestRequest::get("/api/v1/users/me").bearer(&access))
        .await;
    assert_eq!(me.body["totp_enabled"], true);
    // TOTP_INVALID counts as a failure (the success in between reset the earlier one).
    assert_eq!(lock_status(&api, "grace").await["failed_attempts"], 1);
}
