//! Registration: field rules in order, uniqueness, normalisation, concurrency.

use redline_tests::{TestEnv, TestRequest, FIXED_CODE};
use serde_json::{json, Value};

async fn register(api: &redline_tests::Api, mut body: Value) -> redline_tests::TestResponse {
    body["captcha_id"] = json!(api.image_captcha().await);
    body["captcha_code"] = json!(FIXED_CODE);
    api.send(TestRequest::post("/api/v1/auth/register").json(body))
        .await
}

#[tokio::test(flavor = "multi_thread")]
async fn registers_and_answers_registered() {
    let env = TestEnv::new().await;
    let api = env.api();
    let response = register(
        &api,
        json!({"username": "alice", "password": "passw0rd1",
                                         "email": "alice@example.com", "phone": "+14155550123"}),
    )
    .await;
    response.expect(200, "");
    assert_eq!(response.body, json!({"message": "registered"}));
}

#[tokio::test(flavor = "multi_thread")]
async fn fields_are_checked_in_order() {
    let env = TestEnv::new().await;
    let api = env.api();
    let cases = [
        (json!({}), "username"),
        (
            json!({"username": "al", "password": "x", "email": "x"}),
            "username",
        ),
        (
            json!({"username": "9lives", "password": "passw0rd1", "email": "a@example.com"}),
            "username",
        ),
        (
            json!({"username": "alice", "password": "short1", "email": "bad"}),
            "password",
        ),
        (
            json!({"username": "alice", "password": "onlyletters", "email": "a@example.com"}),
            "password",
        ),
        (
            json!({"username": "alice1xx", "password": "ALICE1xx", "email": "a@example.com"}),
            "password",
        ),
        (
            json!({"username": "alice", "password": format!("a1{}", "x".repeat(127)), "email": "a@example.com"}),
            "password",
        ),
        (
            json!({"username": "alice", "password": "passw0rd1", "email": "not-an-email", "phone": "x"}),
            "email",
        ),
        (
            json!({"username": "alice", "password": "passw0rd1"}),
            "email",
        ),
        (
            json!({"username": "alice", "password": "passw0rd1", "email": "a@example.com", "phone": "12345"}),
            "phone",
        ),
    ];
    for (body, field) in cases {
        let response = register(&api, body.clone()).await;
        response.expect(400, "VALIDATION_ERROR");
        assert_eq!(response.body["metadata"]["field"], field, "{body}");
    }
    // A password equal to the username ignoring case.
    let response = register(
        &api,
        json!({"username": "Passw0rd1", "password": "passw0rd1", "email": "p@example.com"}),
    )
    .await;
    response.expect(400, "VALIDATION_ERROR");
    assert_eq!(response.body["metadata"]["field"], "password");
}

#[tokio::test(flavor = "multi_thread")]
async fn uniqueness_in_order_username_email_phone() {
    let env = TestEnv::new().await;
    let api = env.api();
    register(
        &api,
        json!({"username": "Alice", "password": "passw0rd1",
                          "email": "alice@example.com", "phone": "13800138000"}),
    )
    .await
    .expect(200, "");
    // Username is unique ignoring case, and checked first.
    register(
        &api,
        json!({"username": "ALICE", "password": "passw0rd1",
                          "email": "alice@example.com", "phone": "13800138000"}),
    )
    .await
    .expect(409, "USER_EXISTS");
    // E-mail is trimmed and lower-cased before the check.
    register(
        &api,
        json!({"username": "alice2", "password": "passw0rd1",
                          "email": "  ALICE@example.COM ", "phone": "13800138000"}),
    )
    .await
    .expect(409, "EMAIL_EXISTS");
    // A bare 11-digit number starting with 1 is the +86 number.
    register(
        &api,
        json!({"username": "alice3", "password": "passw0rd1",
                          "email": "alice3@example.com", "phone": "+8613800138000"}),
    )
    .await
    .expect(409, "PHONE_EXISTS");
    // No phone is not a collision with another account without one.
    register(
        &api,
        json!({"username": "bob", "password": "passw0rd1", "email": "bob@example.com"}),
    )
    .await
    .expect(200, "");
    register(&api, json!({"username": "carol", "password": "passw0rd1", "email": "carol@example.com", "phone": ""}))
        .await
        .expect(200, "");
}

#[tokio::test(flavor = "multi_thread")]
async fn personal_data_is_stored_encrypted_and_indexed_by_keyed_hashes() {
    let env = TestEnv::new().await;
    let api = env.api();
    register(
        &api,
        json!({"username": "dora", "password": "passw0rd1",
                          "email": "dora@example.com", "phone": "+14155550199"}),
    )
    .await
    .expect(200, "");
    let client = env.db.connect().await;
    let row = client
        .query_one(
            "SELECT password_hash, email_cipher, email_index, phone_cipher FROM users",
            &[],
        )
        .await
        .unwrap();
    let hash: String = row.get(0);
    assert!(hash.starts_with("$argon2id$"));
    for column in [1usize, 2, 3] {
        let bytes: Vec<u8> = row.get(column);
        let text = String::from_utf8_lossy(&bytes);
        assert!(
            !text.contains("dora") && !text.contains("4155550199"),
            "column {column} leaks"
        );
    }
    let index: Vec<u8> = row.get(2);
    assert_eq!(index.len(), 32);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_registrations_of_one_name_have_exactly_one_winner() {
    let env = TestEnv::new().await;
    let api = std::sync::Arc::new(env.api());
    let mut tasks = Vec::new();
    for n in 0..8 {
        let api = api.clone();
        tasks.push(tokio::spawn(async move {
            register(
                &api,
                json!({"username": "racer", "password": "passw0rd1",
                                  "email": format!("racer{n}@example.com")}),
            )
            .await
        }));
    }
    let mut statuses = Vec::new();
    for task in tasks {
        let response = task.await.unwrap();
        if response.status == 409 {
            assert_eq!(response.reason(), "USER_EXISTS");
        }
        statuses.push(response.status);
    }
    statuses.sort();
    assert_eq!(statuses, vec![200, 409, 409, 409, 409, 409, 409, 409]);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_international_address_is_one_account_whatever_its_spelling() {
    let env = TestEnv::new().await;
    let api = env.api();
    api.register("bucher", "passw0rd1", "Jo@BÜCHER.de", None)
        .await;
    // The A-label, the decomposed (NFD) and the upper-cased spellings name the same account.
    for spelling in ["jo@xn--bcher-kva.de", "jo@bu\u{308}cher.de", "JO@bücher.DE"] {
        api.login(spelling, "passw0rd1").await.expect(200, "");
    }
    let taken = register(
        &api,
        json!({"username": "bucher2", "password": "passw0rd1", "email": "jo@xn--bcher-kva.de"}),
    )
    .await;
    taken.expect(409, "EMAIL_EXISTS");
    let (access, _) = {
        let response = api.login("bucher", "passw0rd1").await;
        (
            response.body["access_token"].as_str().unwrap().to_string(),
            (),
        )
    };
    let me = api
        .send(TestRequest::get("/api/v1/users/me").bearer(&access))
        .await;
    assert_eq!(me.body["email"], "jo***@bücher.de");
}

#[tokio::test(flavor = "multi_thread")]
async fn quoted_local_parts_and_domain_literals_are_refused() {
    let env = TestEnv::new().await;
    let api = env.api();
    for (i, email) in [
        "\"jo\"@example.com",
        "\"jo smith\"@example.com",
        "jo@[192.0.2.1]",
        "jo@[IPv6:2001:db8::1]",
    ]
    .into_iter()
    .enumerate()
    {
        let response = register(
            &api,
            json!({"username": format!("quoted{i}"), "password": "passw0rd1", "email": email}),
        )
        .await;
        response.expect(400, "VALIDATION_ERROR");
        assert_eq!(response.body["metadata"]["field"], "email", "{email}");
    }
}
