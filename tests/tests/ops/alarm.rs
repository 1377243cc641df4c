//! The rehearsal's alarm path on the real template: a build of auth that passes its smoke test
//! (captcha, login, refresh, logout) but answers 500 on `GET /.well-known/jwks.json` (the
//! test-only `broken_area`, so no fault switch ships) is deployed as a canary while a steady
//! load asks for the JWKS. Its server-error-rate rollback alarm goes to ALARM on the new
//! version's metrics, the runner rolls back, and `deploy --local` says so: an `alarm` event, then
//! `rollback`, exit 1, `live` on the old version. The load's failures are the canary's share only.
//!
//! Needs runner-traffic (canary types, the template's deployment groups with their alarms,
//! `x-redline-minute`) and runner-alarms (the evaluator behind `DescribeAlarms`).

use redline_tests::deploy::{SMOKE_SECRET, STACK};
use redline_tests::ops::{alias, run, Scratch};
use redline_tests::runner::{bin_dir, env_file, repo_root, stack_env_files, target_dir, Runner};
use redline_tests::TestEnv;
use serde_json::json;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

const BINARIES: [&str; 7] = [
    "auth",
    "users",
    "greeter",
    "health",
    "migrate",
    "rotate-secret",
    "traffic-hook",
];

#[tokio::test(flavor = "multi_thread")]
async fn a_build_answering_5xx_under_load_trips_its_alarm_and_rolls_back() {
    let env = TestEnv::new().await;
    let debug = target_dir().join("debug");
    let bins = Scratch(bin_dir(&BINARIES.map(|name| (name, debug.join(name)))));
    // The new build: auth is the broken one; the others are the very files the runner runs,
    // which it publishes as nothing new (no deployment for them).
    let code = Scratch::new("alarm-code");
    for name in ["users", "greeter", "health", "migrate"] {
        std::fs::copy(debug.join(name), code.0.join(name)).unwrap();
    }
    std::fs::copy(debug.join("broken_area"), code.0.join("auth")).unwrap();
    let code_dir = code.0.to_string_lossy().into_owned();
    let runner = Runner::start_with(
        &repo_root().join("template.yaml"),
        &|port| {
            let endpoint = format!("http://127.0.0.1:{port}");
            let mut files = stack_env_files(
                &env,
                json!({
                    "REDLINE__SMOKE__SECRET": SMOKE_SECRET,
                    "AWS_ENDPOINT_URL_LAMBDA": endpoint,
                    "AWS_ENDPOINT_URL_CODEDEPLOY": endpoint,
                    "AWS_ACCESS_KEY_ID": "local",
                    "AWS_SECRET_ACCESS_KEY": "local",
                }),
            );
            files.push(env_file(&json!({"AuthFunction": {
                "BROKEN_AREA": "auth", "BROKEN_ROUTE": "GET /.well-known/jwks.json"}})));
            files
        },
        &bins.0,
        &[
            "--parameter-overrides",
            "AllowedOrigins=http://localhost:5173",
            "--code-dir",
            &code_dir,
            "--hook-timeout",
            "60",
        ],
    );

    // A steady load on the JWKS through the HTTP API, as clients would keep asking.
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut load = Vec::new();
    for _ in 0..4 {
        let (stop, ok, failed) = (stop.clone(), ok.clone(), failed.clone());
        let url = runner.url("/.well-known/jwks.json");
        load.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            while !stop.load(Ordering::Relaxed) {
                match client.get(&url).send().await {
                    Ok(answer) if answer.status().is_success() => {
                        ok.fetch_add(1, Ordering::Relaxed)
                    }
                    _ => failed.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }

    let endpoint = runner.endpoint();
    let answer = tokio::task::spawn_blocking(move || {
        run(
            &endpoint,
            &[
                "deploy",
                "--local",
                "--stack",
                STACK,
                "--bin-dir",
                &code_dir,
                "--type",
                "Canary10Percent5Minutes",
                "--minute",
                "2s",
            ],
        )
    })
    .await
    .unwrap();
    stop.store(true, Ordering::Relaxed);
    for task in load {
        task.await.unwrap();
    }

    assert_eq!(answer.code, 1, "{answer:?}\n{}", runner.log_text());
    let events: Vec<_> = answer
        .lines()
        .into_iter()
        .filter(|e| e["function"] == "auth")
        .collect();
    let kinds: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    let alarm = kinds
        .iter()
        .position(|k| *k == "alarm")
        .expect("an alarm event");
    let rollback = kinds
        .iter()
        .position(|k| *k == "rollback")
        .expect("a rollback event");
    assert!(alarm < rollback, "{kinds:?}");
    assert_eq!(
        events[alarm]["alarm"],
        format!("{STACK}-auth-rollback-server-error-rate")
    );
    assert_eq!(events[rollback]["version"], "1");
    assert_eq!(
        alias(&runner.endpoint(), &format!("{STACK}-auth")).await,
        ("1".into(), vec![])
    );
    // Only the canary failed: the old version answered the other nine tenths.
    let (ok, failed) = (ok.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
    assert!(failed > 0 && ok > 5 * failed, "ok {ok}, failed {failed}");
}
