//! Fidelity: the same binaries answer the same events identically under the real AWS Lambda
//! Runtime Interface Emulator (shipped inside the aws-sam-cli wheel) and under redline-local.

use redline_tests::rie::Emulator;
use redline_tests::runner::{bin_dir, env_file, repo_root, workspace_bin, Runner};
use redline_tests::TestEnv;
use serde_json::{json, Value};
use std::path::PathBuf;

async fn invoke_runner(runner: &Runner, function: &str, event: &Value) -> Value {
    let url = runner.invoke_url(&format!("/2015-03-31/functions/{function}/invocations"));
    post_json(url, event).await
}

/// Both invoke APIs take the event as the body and answer the function's payload.
async fn post_json(url: String, event: &Value) -> Value {
    let response = reqwest::Client::new().post(url).json(event).send().await;
    let text = response.unwrap().text().await.unwrap();
    serde_json::from_str(&text).unwrap_or(Value::String(text))
}

/// Request ids differ by design, and a rate window's reset by the second: blank them.
fn normalised(mut answer: Value) -> Value {
    for (section, blank) in [
        ("headers", json!("<varies>")),
        ("multiValueHeaders", json!(["<varies>"])),
    ] {
        if let Some(headers) = answer.get_mut(section).and_then(Value::as_object_mut) {
            for name in ["x-request-id", "x-ratelimit-reset"] {
                if headers.contains_key(name) {
                    headers.insert(name.into(), blank.clone());
                }
            }
        }
    }
    answer
}

fn fixture(name: &str) -> Value {
    let path = repo_root().join("tests/fixtures/events").join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn greeter_and_misbehave_answer_alike_under_the_emulator_and_the_runner() {
    let misbehave = PathBuf::from(env!("CARGO_BIN_EXE_misbehave"));
    let bins = bin_dir(&[
        ("greeter", workspace_bin("greeter")),
        ("misbehave", misbehave.clone()),
    ]);
    let env = env_file(&json!({"MisbehaveFunction": {"NEEDS_FILE": "x"}}));
    let runner = Runner::start(
        &repo_root().join("tests/fixtures/runner/template.yaml"),
        &[env],
        &bins,
        &[],
    );

    let greeter = Emulator::start(
        &workspace_bin("greeter"),
        &[("REDLINE_ENV".into(), "test".into())],
    );
    let mut events = vec![
        fixture("alb-get-helloworld.json"),
        fixture("apigw-v2-stage-prefix.json"),
    ];
    let mut long = fixture("alb-get-helloworld.json");
    long["path"] = json!(format!("/helloworld/{}", "n".repeat(65)));
    events.push(long);
    for event in &events {
        let emulated = normalised(greeter.invoke(event).await);
        let local = normalised(invoke_runner(&runner, "GreeterFunction", event).await);
        assert_eq!(local, emulated, "greeter differs for {}", event["path"]);
        assert!(emulated["statusCode"].is_u64(), "{emulated}");
    }

    let emulator = Emulator::start(&misbehave, &[]);
    for action in ["ok", "error", "garbage"] {
        let event = json!({"action": action});
        let emulated = emulator.invoke(&event).await;
        let local = invoke_runner(&runner, "MisbehaveFunction", &event).await;
        if action == "ok" {
            // Only the process id differs.
            assert_eq!(local["statusCode"], emulated["statusCode"]);
            let (l, e): (Value, Value) = (
                serde_json::from_str(local["body"].as_str().unwrap()).unwrap(),
                serde_json::from_str(emulated["body"].as_str().unwrap()).unwrap(),
            );
            assert_eq!(l["event"], e["event"]);
        } else {
            assert_eq!(local, emulated, "{action}");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_sam_cli_event_replays_alike_through_the_auth_function() {
    let env = TestEnv::new().await;
    let config = env.config().unwrap();
    // Same database, separate key prefixes: each side gets its own rate windows.
    let vars = |side: &str| {
        vec![
            ("REDLINE_ENV".to_string(), "test".to_string()),
            (
                "REDLINE__DATABASE__DBNAME".to_string(),
                config.database.dbname.clone(),
            ),
            (
                "REDLINE__DATABASE__USER".to_string(),
                config.database.user.clone(),
            ),
            (
                "REDLINE__REDIS__KEY_PREFIX".to_string(),
                format!("{}{side}:", env.prefix),
            ),
            (
                "REDLINE__AUTH__CAPTCHA__FIXED_CODE".to_string(),
                "T3ST42".to_string(),
            ),
        ]
    };
    let mut overlay = serde_json::Map::new();
    for (k, v) in vars("local") {
        overlay.insert(k, json!(v));
    }
    let env_vars = env_file(&json!({"Parameters": overlay}));
    let bins = redline_tests::runner::target_dir().join("debug");
    let runner = Runner::start(
        &repo_root().join("template.yaml"),
        &[repo_root().join("configs/local-env.json"), env_vars],
        &bins,
        &[
            "--parameter-overrides",
            "AllowedOrigins=http://localhost:5173",
        ],
    );
    let emulator = Emulator::start(&workspace_bin("auth"), &vars("rie"));
    for name in [
        "sam-local-v2-get-lock-status.json",
        "sam-local-v1-post-login.json",
        "sam-local-v2-post-register.json",
    ] {
        let event = fixture(name);
        let emulated = normalised(emulator.invoke(&event).await);
        let local = normalised(invoke_runner(&runner, "AuthFunction", &event).await);
        assert_eq!(local, emulated, "{name}");
        assert!(emulated["statusCode"].is_u64(), "{name}: {emulated}");
    }
}
