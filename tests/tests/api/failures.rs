//! Dependency failures against servers the tests own, stop and restart: answers are 503 with
//! no hang, no panic and no internal detail, and the next request after recovery succeeds.

use redline_tests::servers::{PgCluster, PgOptions, RedisOptions, RedisServer, TestDatabase};
use redline_tests::{Api, TestEnv, TestRequest, TestResponse, FIXED_CODE};
use serde_json::json;
use std::time::Duration;

/// Generous bound: a request that has not answered by then is hanging.
const HANG_GUARD: Duration = Duration::from_secs(15);

async fn send(api: &Api, request: TestRequest) -> TestResponse {
    let label = format!("{} {}", request.method, request.path);
    let started = std::time::Instant::now();
    let response = tokio::time::timeout(HANG_GUARD, api.send(request))
        .await
        .expect("the request hung");
    // Reported, not asserted: speed belongs to the benchmarks.
    eprintln!("{label}: {} in {:?}", response.status, started.elapsed());
    response
}

#[track_caller]
fn assert_unavailable(response: &TestResponse, what: &str) {
    assert_eq!(
        (response.status, response.reason()),
        (503, "SERVICE_UNAVAILABLE"),
        "{what}: {}",
        response.body
    );
    let message = response.body["message"].as_str().unwrap();
    for leak in ["127.0.0.1", "redis", "postgres", "Connection", "error"] {
        assert!(!message.contains(leak), "{what} leaks {leak}: {message}");
    }
}

fn routes_needing_redis(access: &str, captcha_id: &str) -> Vec<(&'static str, TestRequest)> {
    vec![
        ("captcha", TestRequest::get("/api/v1/auth/captcha").query("captcha_type", "image")),
        ("verify", TestRequest::post("/api/v1/auth/captcha/verify")
            .json(json!({"captcha_id": captcha_id, "captcha_code": FIXED_CODE}))),
        ("register", TestRequest::post("/api/v1/auth/register").json(json!({
            "username": "newbie", "password": "passw0rd1", "email": "newbie@example.com",
            "captcha_id": captcha_id, "captcha_code": FIXED_CODE}))),
        ("login", TestRequest::post("/api/v1/auth/login").json(json!({
            "username": "alice", "password": "passw0rd!", "captcha_id": captcha_id, "captcha_code": FIXED_CODE}))),
        ("logout", TestRequest::post("/api/v1/auth/logout").bearer(access)),
        ("lock status", TestRequest::get("/api/v1/auth/lock-status/alice")),
        ("totp setup", TestRequest::post("/api/v1/auth/totp/setup").bearer(access).json(json!({"password": "passw0rd!"}))),
        ("totp enable", TestRequest::post("/api/v1/auth/totp/enable").bearer(access).json(json!({"code": "123456"}))),
        ("totp disable", TestRequest::post("/api/v1/auth/totp/disable").bearer(access).json(json!({"password": "passw0rd!", "code": "123456"}))),
        ("users me", TestRequest::get("/api/v1/users/me").bearer(access)),
        ("users delete", TestRequest::delete("/api/v1/users/me").bearer(access).json(json!({"password": "passw0rd!"}))),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_down_gives_503_where_needed_and_refresh_keeps_working() {
    let mut redis = RedisServer::start(RedisOptions::default());
    let mut env = TestEnv::new().await;
    env.set("REDIS__URL", &redis.url());
    env.set("REDIS__RESPONSE_TIMEOUT", "500ms");
    env.set("REDIS__CONNECT_TIMEOUT", "500ms");
    let api = env.api();
    let (access, refresh) = api.signed_in("alice").await;
    let captcha_id = api.image_captcha().await;

    redis.stop();
    for (what, request) in routes_needing_redis(&access, &captcha_id) {
        assert_unavailable(&send(&api, request).await, what);
    }
    let rotated = send(
        &api,
        TestRequest::post("/api/v1/auth/refresh").json(json!({"refresh_token": refresh})),
    )
    .await;
    rotated.expect(200, "");
    let ready = send(&api, TestRequest::get("/health/ready")).await;
    assert_eq!(ready.status, 503);
    assert_eq!(ready.body["status"], "unhealthy");
    assert_eq!(ready.body["checks"]["cache"]["status"], "unhealthy");
    assert_eq!(ready.body["checks"]["database"]["status"], "healthy");
    assert!(
        !ready.body.to_string().contains(&redis.port().to_string()),
        "no connection details"
    );
    assert_eq!(send(&api, TestRequest::get("/health")).await.status, 503);
    send(&api, TestRequest::get("/health/live"))
        .await
        .expect(200, "");

    // Back: the next request succeeds, with the same function instances.
    redis.start_again();
    send(
        &api,
        TestRequest::get("/api/v1/auth/captcha").query("captcha_type", "image"),
    )
    .await
    .expect(200, "");
    let access = rotated.body["access_token"].as_str().unwrap();
    send(&api, TestRequest::get("/api/v1/users/me").bearer(access))
        .await
        .expect(200, "");
    send(&api, TestRequest::get("/health/ready"))
        .await
        .expect(200, "");
}

#[tokio::test(flavor = "multi_thread")]
async fn redis_down_at_cold_start_is_a_503_not_an_init_failure() {
    let mut redis = RedisServer::start(RedisOptions::default());
    redis.stop();
    let mut env = TestEnv::new().await;
    env.set("REDIS__URL", &redis.url());
    env.set("REDIS__CONNECT_TIMEOUT", "300ms");
    let api = env.api();
    let request = || TestRequest::get("/api/v1/auth/captcha").query("captcha_type", "image");
    assert_unavailable(&send(&api, request()).await, "captcha at cold start");
    redis.start_again();
    send(&api, request()).await.expect(200, "");
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_down_gives_503_and_recovery_needs_no_restart() {
    let mut cluster = PgCluster::start(PgOptions::trust());
    let db =
        TestDatabase::create_at(cluster.host(), cluster.port(), cluster.superuser(), None).await;
    let env = TestEnv::on(db, &[("DATABASE__CONNECT_TIMEOUT", "1s")]).await;
    let api = env.api();
    let (access, refresh) = api.signed_in("bob").await;

    cluster.stop();
    let captcha_id = api.image_captcha().await;
    let requests = [
        (
            "register",
            TestRequest::post("/api/v1/auth/register").json(json!({
            "username": "carl", "password": "passw0rd1", "email": "carl@example.com",
            "captcha_id": captcha_id, "captcha_code": FIXED_CODE})),
        ),
        (
            "login",
            TestRequest::post("/api/v1/auth/login").json(json!({
            "username": "bob", "password": "passw0rd!", "captcha_id": api.image_captcha().await,
            "captcha_code": FIXED_CODE})),
        ),
        (
            "refresh",
            TestRequest::post("/api/v1/auth/refresh").json(json!({"refresh_token": refresh})),
        ),
        (
            "users me",
            TestRequest::get("/api/v1/users/me").bearer(&access),
        ),
        (
            "totp disable",
            TestRequest::post("/api/v1/auth/totp/disable")
                .bearer(&access)
                .json(json!({"password": "passw0rd!", "code": "abcd-efgh-jkmn-pqrs"})),
        ),
    ];
    for (what, request) in requests {
        assert_unavailable(&send(&api, request).await, what);
    }
    let ready = send(&api, TestRequest::get("/health/ready")).await;
    assert_eq!(ready.status, 503);
    assert_eq!(ready.body["checks"]["database"]["status"], "unhealthy");
    assert_eq!(ready.body["checks"]["cache"]["status"], "healthy");
    send(&api, TestRequest::get("/health/live"))
        .await
        .expect(200, "");

    cluster.start_again();
    send(&api, TestRequest::get("/api/v1/users/me").bearer(&access))
        .await
        .expect(200, "");
    send(
        &api,
        TestRequest::post("/api/v1/auth/refresh").json(json!({"refresh_token": refresh})),
    )
    .await
    .expect(200, "");
    api.login("bob", "passw0rd!").await.expect(200, "");
    drop(env);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dropped_database_connection_is_replaced_transparently() {
    let env = TestEnv::new().await;
    let api = env.api();
    let (access, _) = api.signed_in("dana").await;
    send(&api, TestRequest::get("/api/v1/users/me").bearer(&access))
        .await
        .expect(200, "");
    let admin = env.db.connect().await;
    let killed: i64 = admin
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(killed >= 1, "the pool held a connection");
    tokio::time::sleep(Duration::from_millis(100)).await;
    send(&api, TestRequest::get("/api/v1/users/me").bearer(&access))
        .await
        .expect(200, "");
}
