//! `users/me`: the masked profile, and account deletion.

use redline_tests::{TestEnv, TestRequest};
use serde_json::json;

fn me(token: &str) -> TestRequest {
    TestRequest::get("/api/v1/users/me").bearer(token)
}

fn delete(token: &str, password: &str) -> TestRequest {
    TestRequest::delete("/api/v1/users/me")
        .bearer(token)
        .json(json!({"password": password}))
}

#[tokio::test(flavor = "multi_thread")]
async fn me_shows_the_masked_profile() {
    let env = TestEnv::new().await;
    let api = env.api();
    api.register("John", "passw0rd1", "John@Example.com", Some("13812345678"))
        .await;
    let login = api.login("john", "passw0rd1").await;
    let access = login.body["access_token"].as_str().unwrap();
    let response = api.send(me(access)).await;
    response.expect(200, "");
    let body = &response.body;
    assert!(body["id"].is_u64());
    assert_eq!(body["username"], "John");
    assert_eq!(body["email"], "jo***@example.com");
    assert_eq!(body["phone"], "+86138****5678");
    assert_eq!(body["totp_enabled"], false);
    let created = body["created_at"].as_str().unwrap();
    assert!(
        created.ends_with('Z') && created.len() == 20,
        "RFC 3339 UTC: {created}"
    );
    assert_eq!(body.as_object().unwrap().len(), 6);
}

#[tokio::test(flavor = "multi_thread")]
async fn phone_is_null_when_none_and_one_letter_locals_keep_one() {
    let env = TestEnv::new().await;
    let api = env.api();
    api.register("kim", "passw0rd1", "k@example.org", None)
        .await;
    let login = api.login("kim", "passw0rd1").await;
    let response = api
        .send(me(login.body["access_token"].as_str().unwrap()))
        .await;
    assert_eq!(response.body["phone"], json!(null));
    assert_eq!(response.body["email"], "k***@example.org");
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_needs_the_password_then_everything_is_gone() {
    let env = TestEnv::new().await;
    let api = env.api();
    let (access, refresh) = api.signed_in("leo").await;
    let other_access = api.login("leo", "passw0rd!").await.body["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    api.send(delete(&access, "wrong-passw0rd"))
        .await
        .expect(401, "INVALID_CREDENTIALS");
    let response = api.send(delete(&access, "passw0rd!")).await;
    response.expect(200, "");
    assert_eq!(response.body, json!({"deleted": true}));
    for token in [&access, &other_access] {
        api.send(me(token)).await.expect(401, "TOKEN_INVALID");
        api.send(TestRequest::post("/api/v1/auth/logout").bearer(token))
            .await
            .expect(401, "TOKEN_INVALID");
    }
    api.send(TestRequest::post("/api/v1/auth/refresh").json(json!({"refresh_token": refresh})))
        .await
        .expect(401, "TOKEN_INVALID");
    api.login("leo", "passw0rd!")
        .await
        .expect(401, "INVALID_CREDENTIALS");
    // Its personal data is gone: the name and e-mail can be registered again.
    api.register("leo", "passw0rd2", "leo@example.com", None)
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_checks_json_before_the_token() {
    let env = TestEnv::new().await;
    let api = env.api();
    api.send(
        TestRequest::delete("/api/v1/users/me")
            .header("content-type", "application/json")
            .raw_body(b"{oops".to_vec()),
    )
    .await
    .expect(400, "CODEC");
    api.send(TestRequest::delete("/api/v1/users/me").json(json!({"password": "x"})))
        .await
        .expect(401, "TOKEN_MISSING");
    let (access, _) = api.signed_in("mia").await;
    let response = api
        .send(TestRequest::delete("/api/v1/users/me").bearer(&access))
        .await;
    response.expect(400, "VALIDATION_ERROR");
    assert_eq!(response.body["metadata"]["field"], "password");
}
