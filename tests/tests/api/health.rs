//! Health checks and the greeter.

use redline_tests::{TestEnv, TestRequest};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn live_checks_nothing() {
    let env = TestEnv::new().await;
    let response = env.api().send(TestRequest::get("/health/live")).await;
    response.expect(200, "");
    assert_eq!(response.body, json!({"status": "healthy"}));
}

#[tokio::test(flavor = "multi_thread")]
async fn ready_and_report_run_every_check() {
    let env = TestEnv::new().await;
    let api = env.api();
    for path in ["/health/ready", "/health"] {
        let response = api.send(TestRequest::get(path)).await;
        response.expect(200, "");
        let body = &response.body;
        assert_eq!(body["status"], "healthy", "{body}");
        assert!(body["timestamp"].as_str().unwrap().ends_with('Z'));
        assert!(body["duration_ms"].is_u64());
        assert!(body["version"].is_string());
        for (name, required) in [("database", true), ("cache", true), ("memory", false)] {
            let check = &body["checks"][name];
            assert_eq!(check["status"], "healthy", "{name}: {check}");
            assert_eq!(check["required"], required, "{name}");
            assert!(check["message"].is_string() && check["duration_ms"].is_u64());
        }
        assert!(body["checks"]["memory"]["details"]["used_mb"].is_u64());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn greeter_says_hello_up_to_64_characters() {
    let env = TestEnv::new().await;
    let api = env.api();
    let response = api
        .send(TestRequest::get("/helloworld/Ada%20Lovelace"))
        .await;
    response.expect(200, "");
    assert_eq!(response.body, json!({"message": "Hello Ada Lovelace"}));
    let name = "é".repeat(64);
    api.send(TestRequest::get(&format!(
        "/helloworld/{}",
        redline_tests::events::encode(&name)
    )))
    .await
    .expect(200, "");
    let response = api
        .send(TestRequest::get(&format!("/helloworld/{}", "n".repeat(65))))
        .await;
    response.expect(400, "VALIDATION_ERROR");
    assert_eq!(response.body["metadata"]["field"], "name");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_greeter_needs_no_database_or_cache() {
    let mut env = TestEnv::new().await;
    env.set("DATABASE__PORT", "1");
    env.set("REDIS__URL", "redis://127.0.0.1:1");
    let greeter = env.app(redline_core::Area::Greeter);
    let response = redline_tests::invoke(&greeter, &TestRequest::get("/helloworld/x")).await;
    response.expect(200, "");
}
