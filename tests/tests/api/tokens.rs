//! Bearer checks, token claims, refresh rotation and reuse, logout, JWKS, key rotation.

use base64::Engine;
use redline_tests::{TestEnv, TestRequest};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;

fn part(token: &str, index: usize) -> Value {
    let segment = token.split('.').nth(index).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(segment)
            .unwrap(),
    )
    .unwrap()
}

fn refresh(token: &str) -> TestRequest {
    TestRequest::post("/api/v1/auth/refresh").json(json!({"refresh_token": token}))
}

fn me(token: &str) -> TestRequest {
    TestRequest::get("/api/v1/users/me").bearer(token)
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_carry_the_contract_claims() {
    let env = TestEnv::new().await;
    let api = env.api();
    let (access, refresh_token) = api.signed_in("alice").await;
    let header = part(&access, 0);
    assert_eq!(header["alg"], "EdDSA");
    assert_eq!(header["kid"], "test-2026-11");
    let claims = part(&access, 1);
    assert!(claims["sub"].is_string());
    assert_eq!(claims["username"], "alice");
    assert_eq!(claims["type"], "access");
    assert_eq!(claims["iss"], "redline");
    assert_eq!(claims["aud"], "redline-api");
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        900
    );
    assert_eq!(claims["jti"].as_str().unwrap().len(), 32);
    let refresh_claims = part(&refresh_token, 1);
    assert_eq!(refresh_claims["type"], "refresh");
    assert!(refresh_claims["fam"].is_string());
    assert_eq!(
        refresh_claims["exp"].as_u64().unwrap() - refresh_claims["iat"].as_u64().unwrap(),
        7 * 86400
    );
    // Two logins in the same second never produce the same token.
    let again = api.login("alice", "passw0rd!").await;
    assert_ne!(again.body["access_token"], json!(access));
}

#[tokio::test(flavor = "multi_thread")]
async fn bearer_checks_in_order() {
    let env = TestEnv::new().await;
    let api = env.api();
    let (access, refresh_token) = api.signed_in("bob").await;
    api.send(TestRequest::get("/api/v1/users/me"))
        .await
        .expect(401, "TOKEN_MISSING");
    api.send(
        TestRequest::get("/api/v1/users/me").header("authorization", &format!("Basic {access}")),
    )
    .await
    .expect(401, "INVALID_TOKEN_FORMAT");
    api.send(TestRequest::get("/api/v1/users/me").header("authorization", "Bearer "))
        .await
        .expect(401, "INVALID_TOKEN_FORMAT");
    api.send(TestRequest::get("/api/v1/users/me").header("authorization", "Bearer"))
        .await
        .expect(401, "INVALID_TOKEN_FORMAT");
    api.send(me("not-a-jwt")).await.expect(401, "TOKEN_INVALID");
    api.send(me(&refresh_token))
        .await
        .expect(401, "TOKEN_INVALID");
    // The scheme is case-insensitive.
    api.send(
        TestRequest::get("/api/v1/users/me").header("authorization", &format!("bEaReR {access}")),
    )
    .await
    .expect(200, "");
    // alg "none" with a known kid.
    let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(br#"{"alg":"none","kid":"test-2026-11","typ":"JWT"}"#);
    let payload = access.split('.').nth(1).unwrap();
    api.send(me(&format!("{header}.{payload}.")))
        .await
        .expect(401, "TOKEN_INVALID");
    // A tampered payload breaks the signature.
    let mut claims = part(&access, 1);
    claims["username"] = json!("mallory");
    let forged_payload =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims.to_string());
    let mut pieces: Vec<&str> = access.split('.').collect();
    pieces[1] = &forged_payload;
    api.send(me(&pieces.join(".")))
        .await
        .expect(401, "TOKEN_INVALID");
}

#[tokio::test(flavor = "multi_thread")]
async fn foreign_keys_issuers_and_audiences_are_invalid() {
    let env = TestEnv::new().await;
    let api = env.api();
    api.signed_in("carol").await;
    // Same user id, but signed by the dev key (unknown kid here) ...
    let mut dev = TestEnv::new().await;
    dev.set("AUTH__TOKENS__SIGNING_KEYS", r#"{"keys":[{"kid":"test-2026-11","alg":"EdDSA","private_key":"MC4CAQAwBQYDK2VwBCIEIG7QIsfQR3YOnbQDmTqpTt/sizLchMJFCOe+rX8Wc2o9"}]}"#);
    let (forged, _) = dev.api().signed_in("carol").await;
    api.send(me(&forged)).await.expect(401, "TOKEN_INVALID");
    // ... or by our key for another issuer or audience.
    for (key, value) in [
        ("AUTH__TOKENS__ISSUER", "someone-else"),
        ("AUTH__TOKENS__AUDIENCE", "other-api"),
    ] {
        let mut other = TestEnv::new().await;
        other.set(key, value);
        let (token, _) = other.api().signed_in("carol").await;
        api.send(me(&token)).await.expect(401, "TOKEN_INVALID");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_access_tokens_say_so() {
    let env = TestEnv::with(&[("AUTH__TOKENS__ACCESS_TTL", "1s")]).await;
    let api = env.api();
    let (access, _) = api.signed_in("dave").await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    api.send(me(&access)).await.expect(401, "TOKEN_EXPIRED");
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_rotates_and_a_reused_token_revokes_the_family() {
    let env = TestEnv::new().await;
    let api = env.api();
    let (access, first) = api.signed_in("erin").await;
    let rotated = api.send(refresh(&first)).await;
    rotated.expect(200, "");
    assert_eq!(rotated.body["token_type"], "Bearer");
    let second = rotated.body["refresh_token"].as_str().unwrap().to_string();
    assert_eq!(part(&second, 1)["fam"], part(&first, 1)["fam"]);
    let third = api.send(refresh(&second)).await;
    third.expect(200, "");
    let third_token = third.body["refresh_token"].as_str().unwrap().to_string();
    // Replaying an old one: reuse, and the newest refresh token dies with the family.
    api.send(refresh(&first))
        .await
        .expect(401, "REFRESH_TOKEN_REUSED");
    api.send(refresh(&third_token))
        .await
        .expect(401, "TOKEN_INVALID");
    // Access tokens already issued stay valid until they expire.
    api.send(me(&access)).await.expect(200, "");
    api.send(me(third.body["access_token"].as_str().unwrap()))
        .await
        .expect(200, "");
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_input_checks() {
    let env = TestEnv::new().await;
    let api = env.api();
    let (access, _) = api.signed_in("frank").await;
    api.send(refresh(""))
        .await
        .expect(400, "REFRESH_TOKEN_REQUIRED");
    api.send(TestRequest::post("/api/v1/auth/refresh").json(json!({})))
        .await
        .expect(400, "REFRESH_TOKEN_REQUIRED");
    api.send(refresh("abc.def.ghi"))
        .await
        .expect(401, "TOKEN_INVALID");
    api.send(refresh(&access))
        .await
        .expect(401, "TOKEN_INVALID");
    api.send(TestRequest::post("/api/v1/auth/refresh").json(json!({"refreshToken": "x.y.z"})))
        .await
        .expect(401, "TOKEN_INVALID");
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_expiry_and_the_absolute_session_cap() {
    let env = TestEnv::with(&[
        ("AUTH__TOKENS__REFRESH_TTL", "3s"),
        ("AUTH__TOKENS__SESSION_MAX", "3s"),
    ])
    .await;
    let api = env.api();
    let (_, first) = api.signed_in("gina").await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let rotated = api.send(refresh(&first)).await;
    rotated.expect(200, "");
    let second = rotated.body["refresh_token"].as_str().unwrap().to_string();
    let claims = part(&second, 1);
    let lifetime = claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap();
    assert!(
        lifetime < 3,
        "capped by the family's session_max, got {lifetime}"
    );
    tokio::time::sleep(Duration::from_millis(2500)).await;
    api.send(refresh(&second))
        .await
        .expect(401, "TOKEN_EXPIRED");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_concurrent_refreshes_of_one_token_have_one_winner() {
    let env = TestEnv::new().await;
    let api = Arc::new(env.api());
    for round in 0..5 {
        let (_, token) = api.signed_in(&format!("racer{round}")).await;
        let (a, b) = tokio::join!(api.send(refresh(&token)), api.send(refresh(&token)));
        let mut answers = vec![
            (a.status, a.reason().to_string()),
            (b.status, b.reason().to_string()),
        ];
        answers.sort();
        assert_eq!(
            answers,
            vec![
                (200, String::new()),
                (401, "REFRESH_TOKEN_REUSED".to_string())
            ]
        );
    }
    let (_, token) = api.signed_in("crowd").await;
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let api = api.clone();
            let token = token.clone();
            tokio::spawn(async move { api.send(refresh(&token)).await })
        })
        .collect();
    let mut winners = 0;
    for task in tasks {
        let response = task.await.unwrap();
        match response.status {
            200 => winners += 1,
            401 => assert!(["REFRESH_TOKEN_REUSED", "TOKEN_INVALID"].contains(&response.reason())),
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(winners, 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn logout_revokes_the_access_token_everywhere_and_the_refresh_families() {
    let env = TestEnv::new().await;
    let api = env.api();
    let (access, refresh_token) = api.signed_in("hank").await;
    let second_login = api.login("hank", "passw0rd!").await;
    let other_refresh = second_login.body["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    let other_access = second_login.body["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    api.send(TestRequest::post("/api/v1/auth/logout"))
        .await
        .expect(401, "TOKEN_MISSING");
    let response = api
        .send(TestRequest::post("/api/v1/auth/logout").bearer(&access))
        .await;
    response.expect(200, "");
    assert_eq!(response.body, json!({"success": true}));
    // Another function (users) sees the revocation through shared storage.
    api.send(me(&access)).await.expect(401, "TOKEN_INVALID");
    api.send(TestRequest::post("/api/v1/auth/logout").bearer(&access))
        .await
        .expect(401, "TOKEN_INVALID");
    api.send(refresh(&refresh_token))
        .await
        .expect(401, "TOKEN_INVALID");
    api.send(refresh(&other_refresh))
        .await
        .expect(401, "TOKEN_INVALID");
    // Other access tokens live until they expire.
    api.send(me(&other_access)).await.expect(200, "");
    // A new login starts a new family.
    api.login("hank", "passw0rd!").await.expect(200, "");
}

#[tokio::test(flavor = "multi_thread")]
async fn jwks_serves_public_keys_only() {
    let env = TestEnv::new().await;
    let api = env.api();
    let response = api.send(TestRequest::get("/.well-known/jwks.json")).await;
    response.expect(200, "");
    let keys = response.body["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let key = &keys[0];
    assert_eq!(key["kid"], "test-2026-11");
    assert_eq!(key["kty"], "OKP");
    assert_eq!(key["alg"], "EdDSA");
    assert_eq!(key["use"], "sig");
    assert!(key.get("d").is_none() && key.get("k").is_none());
    // What the other functions are configured with is exactly this set.
    let config = env.config().unwrap();
    let configured: Value =
        serde_json::from_str(config.auth.tokens.verification_keys.as_deref().unwrap()).unwrap();
    assert_eq!(configured, response.body);
}

const OLD_KEY: &str = r#"{"kid":"old-2026-10","alg":"EdDSA","private_key":"MC4CAQAwBQYDK2VwBCIEIG7QIsfQR3YOnbQDmTqpTt/sizLchMJFCOe+rX8Wc2o9"}"#;
const NEW_KEY: &str = r#"{"kid":"new-2026-11","alg":"ES256","private_key":"MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgaKRcfe98W0tzVoOlvdeooX9MXhx+JzObiEXVrbPQtwShRANCAAQoskCrZUKfqv+q6u405Eg8pEqRtiJL+mtX6Ouyrwjl4nN58cO9vCRZg6rCyXYyNetRdAIULBnG5QkAkZYT727P"}"#;

#[tokio::test(flavor = "multi_thread")]
async fn tokens_signed_by_the_previous_key_verify_after_rotation() {
    let mut env = TestEnv::new().await;
    env.set(
        "AUTH__TOKENS__SIGNING_KEYS",
        &format!(r#"{{"keys":[{OLD_KEY}]}}"#),
    );
    let before = env.api();
    let (old_access, old_refresh) = before.signed_in("ivy").await;
    assert_eq!(part(&old_access, 0)["kid"], "old-2026-10");

    // Rotate: the new key signs, the old one still verifies. Other functions get both public keys.
    env.set(
        "AUTH__TOKENS__SIGNING_KEYS",
        &format!(r#"{{"keys":[{NEW_KEY},{OLD_KEY}]}}"#),
    );
    let auth = env.app(redline_core::Area::Auth);
    let jwks = redline_tests::invoke(&auth, &TestRequest::get("/.well-known/jwks.json")).await;
    assert_eq!(jwks.body["keys"].as_array().unwrap().len(), 2);
    env.set("AUTH__TOKENS__VERIFICATION_KEYS", &jwks.body.to_string());
    let after = env.api();
    after.send(me(&old_access)).await.expect(200, "");
    let rotated = after.send(refresh(&old_refresh)).await;
    rotated.expect(200, "");
    let new_access = rotated.body["access_token"].as_str().unwrap();
    assert_eq!(part(new_access, 0)["kid"], "new-2026-11");
    assert_eq!(part(new_access, 0)["alg"], "ES256");
    after.send(me(new_access)).await.expect(200, "");
    after
        .send(TestRequest::post("/api/v1/auth/logout").bearer(&old_access))
        .await
        .expect(200, "");
}
