//! Structured request logs in Lambda's JSON format, through the functions' own formatter, and
//! what they must never contain.

use redline_core::telemetry::{self, LogFormat};
use redline_tests::{TestEnv, TestRequest, FIXED_CODE};
use serde_json::{json, Value};
use std::io::Write;
use std::sync::{Arc, Mutex};
use tracing_subscriber::layer::SubscriberExt;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn request_logs_are_json_and_free_of_secrets_and_personal_data() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::filter::LevelFilter::TRACE)
        .with(telemetry::layer(move || writer.clone(), LogFormat::Json));
    let _guard = tracing::subscriber::set_default(subscriber);

    let mut env = TestEnv::new().await;
    env.unset("AUTH__CAPTCHA__FIXED_CODE");
    let api = env.api();
    let response = api
        .send(
            TestRequest::get("/api/v1/auth/captcha")
                .query("captcha_type", "email")
                .query("target", "secret.person@example.com"),
        )
        .await;
    let captcha_id = response.body["captcha_id"].as_str().unwrap().to_string();
    let code = env.outbox().await[0]["code"].as_str().unwrap().to_string();
    api.send(TestRequest::post("/api/v1/auth/register").json(json!({
        "username": "privateperson", "password": "Sup3r-secret-pw", "email": "secret.person@example.com",
        "phone": "+14155550177", "captcha_id": captcha_id, "captcha_code": code,
    })))
    .await
    .expect(200, "");
    let mut env_fixed = env;
    env_fixed.set("AUTH__CAPTCHA__FIXED_CODE", FIXED_CODE);
    let api = env_fixed.api();
    let login = api
        .login("secret.person@example.com", "Sup3r-secret-pw")
        .await;
    login.expect(200, "");
    let access = login.body["access_token"].as_str().unwrap().to_string();
    let refresh = login.body["refresh_token"].as_str().unwrap().to_string();
    api.send(TestRequest::get("/api/v1/users/me").bearer(&access))
        .await
        .expect(200, "");
    api.send(TestRequest::post("/api/v1/auth/refresh").json(json!({"refresh_token": refresh})))
        .await
        .expect(200, "");
    api.login("privateperson", "Wrong-secret-pw1")
        .await
        .expect(401, "INVALID_CREDENTIALS");

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("every line is JSON"))
        .collect();
    let requests: Vec<&Value> = lines.iter().filter(|l| l["message"] == "request").collect();
    assert!(requests.len() >= 8, "one line per request: {text}");
    for line in &requests {
        for key in [
            "timestamp",
            "level",
            "requestId",
            "apiRequestId",
            "coldStart",
            "function",
            "version",
            "route",
            "status",
            "latencyMs",
        ] {
            assert!(!line[key].is_null(), "{key} missing from {line}");
        }
    }
    let routes: Vec<&str> = requests
        .iter()
        .filter_map(|l| l["route"].as_str())
        .collect();
    assert!(routes.contains(&"/api/v1/auth/login") && routes.contains(&"/api/v1/users/me"));
    for secret in [
        "Sup3r-secret-pw",
        "Wrong-secret-pw1",
        "secret.person",
        "privateperson",
        "4155550177",
        access.as_str(),
        refresh.as_str(),
        captcha_id.as_str(),
    ] {
        assert!(!text.contains(secret), "logs contain {secret}");
    }
    // The 6-digit code as a token of its own (it may occur inside a longer number).
    let digit_runs: Vec<&str> = text
        .split(|c: char| !c.is_ascii_digit())
        .filter(|run| run.len() == code.len())
        .collect();
    assert!(
        !digit_runs.contains(&code.as_str()),
        "logs contain the captcha code"
    );
}
