//! The second factor: setup and disable need the password (a stolen access token alone can
//! neither turn TOTP on nor off), enabling hands out ten single-use recovery codes, and login
//! takes a recovery code in place of a TOTP code. Checks run bearer → body → lock → password →
//! code; wrong passwords and wrong codes count toward lockout.

use redline_tests::totp::code_now;
use redline_tests::{Api, TestEnv, TestRequest};
use serde_json::{json, Value};

const PASSWORD: &str = "passw0rd!";

fn setup(access: &str, body: Value) -> TestRequest {
    TestRequest::post("/api/v1/auth/totp/setup")
        .bearer(access)
        .json(body)
}

fn enable(access: &str, code: &str) -> TestRequest {
    TestRequest::post("/api/v1/auth/totp/enable")
        .bearer(access)
        .json(json!({ "code": code }))
}

fn disable(access: &str, password: &str, code: &str) -> TestRequest {
    TestRequest::post("/api/v1/auth/totp/disable")
        .bearer(access)
        .json(json!({ "password": password, "code": code }))
}

async fn failed_attempts(api: &Api, username: &str) -> Value {
    let path = format!("/api/v1/auth/lock-status/{username}");
    let response = api.send(TestRequest::get(&path)).await;
    response.expect(200, "");
    response.body["failed_attempts"].clone()
}

/// Signs `username` in, turns TOTP on; returns the access token, the base32 secret and the
/// recovery codes.
async fn with_totp(api: &Api, username: &str) -> (String, String, Vec<String>) {
    let (access, _) = api.signed_in(username).await;
    let response = api
        .send(setup(&access, json!({ "password": PASSWORD })))
        .await;
    response.expect(200, "");
    let secret = response.body["secret"].as_str().unwrap().to_string();
    let enabled = api.send(enable(&access, &code_now(&secret, 0))).await;
    enabled.expect(200, "");
    assert_eq!(enabled.body["enabled"], true);
    let codes = enabled.body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    (access, secret, codes)
}

fn login_body(username: &str, second_factor: (&str, &str)) -> Value {
    let (field, value) = second_factor;
    json!({ "username": username, "password": PASSWORD, field: value })
}

#[tokio::test(flavor = "multi_thread")]
async fn setup_needs_the_bearer_token_first_then_the_password() {
    let env = TestEnv::new().await;
    let api = env.api();
    // Bearer before body: no token is TOKEN_MISSING whatever the body says.
    api.send(TestRequest::post("/api/v1/auth/totp/setup").json(json!({})))
        .await
        .expect(401, "TOKEN_MISSING");
    api.send(TestRequest::post("/api/v1/auth/totp/disable").json(json!({})))
        .await
        .expect(401, "TOKEN_MISSING");
    api.send(TestRequest::post("/api/v1/auth/totp/enable").json(json!({"code": "1"})))
        .await
        .expect(401, "TOKEN_MISSING");

    let (access, _) = api.signed_in("grace").await;
    let empty = api.send(setup(&access, json!({}))).await;
    empty.expect(400, "VALIDATION_ERROR");
    assert_eq!(empty.body["metadata"]["field"], "password");
    assert_eq!(
        failed_attempts(&api, "grace").await,
        0,
        "validation is not counted"
    );
    api.send(setup(&access, json!({ "password": "not-the-password" })))
        .await
        .expect(401, "INVALID_CREDENTIALS");
    assert_eq!(failed_attempts(&api, "grace").await, 1);
    let me = api
        .send(TestRequest::get("/api/v1/users/me").bearer(&access))
        .await;
    assert_eq!(me.body["totp_enabled"], false);
    api.send(enable(&access, "123456"))
        .await
        .expect(400, "TOTP_INVALID");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_locked_account_is_refused_before_its_password_is_checked() {
    let env = TestEnv::with(&[("AUTH__LOCKOUT__MAX_ATTEMPTS", "2")]).await;
    let api = env.api();
    let (access, _) = api.signed_in("mallory").await;
    for _ in 0..2 {
        api.send(setup(&access, json!({ "password": "guess-1" })))
            .await
            .expect(401, "INVALID_CREDENTIALS");
    }
    let locked = api
        .send(setup(&access, json!({ "password": PASSWORD })))
        .await;
    locked.expect(403, "ACCOUNT_LOCKED");
    assert!(locked.body["metadata"]["unlock_time"].is_string());
    // The lock is the account's: login is refused as well.
    api.login("mallory", PASSWORD)
        .await
        .expect(403, "ACCOUNT_LOCKED");
}

#[tokio::test(flavor = "multi_thread")]
async fn enabling_hands_out_ten_single_use_recovery_codes_stored_hashed() {
    let env = TestEnv::new().await;
    let api = env.api();
    let (access, secret, codes) = with_totp(&api, "heidi").await;
    assert_eq!(codes.len(), 10);
    let distinct: std::collections::BTreeSet<_> = codes.iter().collect();
    assert_eq!(distinct.len(), 10);

    let client = env.db.connect().await;
    let stored: Vec<Vec<u8>> = client
        .query("SELECT code_hash FROM totp_recovery_codes", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert_eq!(stored.len(), 10);
    for code in &codes {
        let plain = code.replace('-', "");
        for digest in &stored {
            assert_eq!(digest.len(), 32, "a SHA-256 digest");
            assert!(!digest.windows(plain.len()).any(|w| w == plain.as_bytes()));
        }
    }

    // A recovery code logs in once, then is spent; another still works.
    api.login_with(login_body("heidi", ("recovery_code", &codes[0])))
        .await
        .expect(200, "");
    api.login_with(login_body("heidi", ("recovery_code", &codes[0])))
        .await
        .expect(401, "TOTP_INVALID");
    api.login_with(login_body(
        "heidi",
        ("recovery_code", "abcd-efgh-jkmn-pqrs"),
    ))
    .await
    .expect(401, "TOTP_INVALID");
    api.login_with(login_body(
        "heidi",
        ("recovery_code", &codes[1].to_uppercase()),
    ))
    .await
    .expect(200, "");
    assert_eq!(failed_attempts(&api, "heidi").await, 0, "a success resets");
    // The TOTP code still works beside them, and is not needed with a recovery code.
    api.login_with(login_body("heidi", ("totp_code", &code_now(&secret, 1))))
        .await
        .expect(200, "");
    api.login("heidi", PASSWORD)
        .await
        .expect(400, "TOTP_REQUIRED");
    let left: i64 = client
        .query_one("SELECT count(*) FROM totp_recovery_codes", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 8);
    drop(access);
}

#[tokio::test(flavor = "multi_thread")]
async fn replacing_an_enabled_factor_needs_the_password_and_a_current_code() {
    let env = TestEnv::new().await;
    let api = env.api();
    let (access, secret, _) = with_totp(&api, "secure").await;
    api.send(setup(&access, json!({ "password": PASSWORD })))
        .await
        .expect(400, "TOTP_REQUIRED");
    api.send(setup(
        &access,
        json!({ "password": PASSWORD, "code": "000000" }),
    ))
    .await
    .expect(401, "TOTP_INVALID");
    api.send(setup(
        &access,
        json!({ "password": "wrong-pass1", "code": code_now(&secret, 1) }),
    ))
    .await
    .expect(401, "INVALID_CREDENTIALS");
    assert_eq!(failed_attempts(&api, "secure").await, 2);
    api.send(setup(
        &access,
        json!({ "password": PASSWORD, "code": code_now(&secret, 1) }),
    ))
    .await
    .expect(200, "");
}

#[tokio::test(flavor = "multi_thread")]
async fn disabling_needs_the_password_and_a_code_each_counted() {
    let env = TestEnv::new().await;
    let api = env.api();
    let (plain, _) = api.signed_in("ivan").await;
    api.send(disable(&plain, PASSWORD, "123456"))
        .await
        .expect(400, "TOTP_NOT_ENABLED");

    let (access, secret, codes) = with_totp(&api, "judy").await;
    let no_code = api.send(disable(&access, PASSWORD, " ")).await;
    no_code.expect(400, "VALIDATION_ERROR");
    assert_eq!(no_code.body["metadata"]["field"], "code");
    let no_password = api.send(disable(&access, "", &codes[0])).await;
    no_password.expect(400, "VALIDATION_ERROR");
    assert_eq!(no_password.body["metadata"]["field"], "password");
    api.send(disable(&access, "wrong-pass1", &codes[0]))
        .await
        .expect(401, "INVALID_CREDENTIALS");
    api.send(disable(&access, PASSWORD, "000000"))
        .await
        .expect(401, "TOTP_INVALID");
    api.send(disable(&access, PASSWORD, "wxyz-wxyz-wxyz-wxyz"))
        .await
        .expect(401, "TOTP_INVALID");
    assert_eq!(failed_attempts(&api, "judy").await, 3);

    let off = api
        .send(disable(&access, PASSWORD, &code_now(&secret, 1)))
        .await;
    off.expect(200, "");
    assert_eq!(off.body, json!({ "enabled": false }));
    api.login("judy", PASSWORD).await.expect(200, "");
    // Its recovery codes went with it.
    api.login_with(login_body("judy", ("recovery_code", &codes[0])))
        .await
        .expect(200, "");
    let me = api
        .send(TestRequest::get("/api/v1/users/me").bearer(&access))
        .await;
    assert_eq!(me.body["totp_enabled"], false);
    api.send(disable(&access, PASSWORD, &codes[0]))
        .await
        .expect(400, "TOTP_NOT_ENABLED");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_recovery_code_disables_a_lost_authenticator_once() {
    let env = TestEnv::new().await;
    let api = env.api();
    let (access, _, codes) = with_totp(&api, "ken").await;
    api.send(disable(&access, PASSWORD, &codes[3]))
        .await
        .expect(200, "");
    // Enabling again issues a new set; the old codes are gone for good.
    let response = api
        .send(setup(&access, json!({ "password": PASSWORD })))
        .await;
    let secret = response.body["secret"].as_str().unwrap().to_string();
    let fresh = api.send(enable(&access, &code_now(&secret, 0))).await;
    fresh.expect(200, "");
    let new_codes: Vec<&str> = fresh.body["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(codes.iter().all(|old| !new_codes.contains(&old.as_str())));
    api.login_with(login_body("ken", ("recovery_code", &codes[4])))
        .await
        .expect(401, "TOTP_INVALID");
    api.login_with(login_body("ken", ("recovery_code", new_codes[0])))
        .await
        .expect(200, "");
}
