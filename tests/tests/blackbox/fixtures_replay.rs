//! The committed event fixtures (SAM CLI's own event builder and AWS-shaped payloads) replayed
//! through the functions that serve them.

use base64::Engine;
use redline_core::Area;
use redline_tests::harness::invoke_event;
use redline_tests::TestEnv;
use serde_json::{json, Value};

fn fixture(name: &str) -> Value {
    let path = format!("{}/fixtures/events/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn with_placeholder(event: Value, placeholder: &str, value: &str) -> Value {
    serde_json::from_str(&event.to_string().replace(placeholder, value)).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn sam_local_events_reach_the_auth_handlers() {
    let env = TestEnv::with(&[("AUTH__CAPTCHA__ENABLED", "false")]).await;
    let api = env.api();
    api.register("alice", "passw0rd1", "alice@example.com", None)
        .await;
    let auth = env.app(Area::Auth);

    let response = invoke_event(&auth, fixture("sam-local-v2-get-lock-status.json"), "sam-1").await;
    response.expect(200, "");
    assert_eq!(response.body["locked"], false);
    assert_eq!(response.header("x-request-id"), Some("sam-1"));

    // SAM's v1 event carries the stage in the path lambda_http builds; it is stripped.
    let response = invoke_event(&auth, fixture("sam-local-v1-post-login.json"), "sam-2").await;
    response.expect(400, "VALIDATION_ERROR");
    assert_eq!(response.body["metadata"]["field"], "username");

    let response = invoke_event(&auth, fixture("sam-local-v2-post-register.json"), "sam-3").await;
    response.expect(400, "VALIDATION_ERROR");
    assert_eq!(response.body["metadata"]["field"], "username");
    // Served over plain HTTP by sam local: no HSTS.
    assert!(response.header("strict-transport-security").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn aws_shaped_events_reach_their_functions() {
    let env = TestEnv::new().await;
    let api = env.api();
    let (access, refresh) = api.signed_in("alice").await;

    let users = env.app(Area::Users);
    let event = with_placeholder(fixture("apigw-v2-get-users-me.json"), "__TOKEN__", &access);
    let response = invoke_event(&users, event, "aws-1").await;
    response.expect(200, "");
    assert_eq!(response.body["username"], "alice");

    let health = env.app(Area::Health);
    for name in [
        "apigw-v2-stage-prefix.json",
        "apigw-v1-get-health-live.json",
    ] {
        let response = invoke_event(&health, fixture(name), "aws-2").await;
        response.expect(200, "");
        assert_eq!(response.body, json!({"status": "healthy"}), "{name}");
    }

    let greeter = env.app(Area::Greeter);
    let response = invoke_event(&greeter, fixture("alb-get-helloworld.json"), "aws-3").await;
    response.expect(200, "");
    assert_eq!(response.body, json!({"message": "Hello alice"}));
    // An ALB answer is an ALB response: it carries a status description.
    assert!(response.raw["statusDescription"]
        .as_str()
        .unwrap_or("")
        .starts_with("200"));

    let auth = env.app(Area::Auth);
    let mut event = fixture("function-url-post-refresh.json");
    let body = base64::engine::general_purpose::STANDARD
        .decode(event["body"].as_str().unwrap())
        .unwrap();
    let body = String::from_utf8(body)
        .unwrap()
        .replace("__REFRESH_TOKEN__", &refresh);
    event["body"] = json!(base64::engine::general_purpose::STANDARD.encode(body));
    let response = invoke_event(&auth, event, "aws-4").await;
    response.expect(200, "");
    assert!(response.body["access_token"].is_string());
}
